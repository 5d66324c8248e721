/* encoding.c - hex, times and durations. */
#include "common/common.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/asn1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void sp_hex(const uint8_t *in, size_t n, char *out, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

sp_err sp_hex_normalise(const char *in, char *out, size_t outsz)
{
	size_t o = 0;
	if (outsz == 0)
		return sp_fail(SP_ERR_INTERNAL, "hex: no room");
	for (const char *p = in; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == ':' || c == ' ')
			continue;
		if (!isxdigit(c))
			return sp_fail(SP_ERR_INPUT, "'%s' is not a hex serial or fingerprint", in);
		if (o + 1 >= outsz)
			return sp_fail(SP_ERR_INPUT, "'%s' is too long for a serial or fingerprint", in);
		out[o++] = (char)tolower(c);
	}
	out[o] = '\0';
	if (o == 0)
		return sp_fail(SP_ERR_INPUT, "empty serial or fingerprint");
	return SP_OK;
}

sp_err sp_asn1_time_to_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return sp_fail(SP_ERR_INPUT, "invalid ASN.1 time");
	*out = (int64_t)timegm(&tm);
	return SP_OK;
}

void sp_time_iso(int64_t t, char *out, size_t outsz)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outsz, "%lld", (long long)t);
}

sp_err sp_duration_parse(const char *in, int64_t *seconds)
{
	char *end = NULL;
	long long v;
	int64_t unit;

	errno = 0;
	v = strtoll(in, &end, 10);
	if (errno || end == in || v < 0)
		return sp_fail(SP_ERR_USAGE, "'%s' is not a duration (like 30d, 12h, 90m, 2y)", in);
	switch (*end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'y': unit = 365 * 86400; break;
	default:
		return sp_fail(SP_ERR_USAGE, "'%s' is not a duration (like 30d, 12h, 90m, 2y)", in);
	}
	if (end[1] != '\0' || v > INT64_MAX / unit / 2)
		return sp_fail(SP_ERR_USAGE, "'%s' is not a duration (like 30d, 12h, 90m, 2y)", in);
	*seconds = (int64_t)v * unit;
	return SP_OK;
}
