/*
 * name_policy.c - the single-byte name rule.
 *
 * Configuration Manager does not support subject or SAN values with
 * multi-byte (DBCS) characters, and enterprise CAs cannot issue them (IA5
 * limit), so every character of every subject attribute and SAN value must be
 * 7-bit ASCII. A string's ASN.1 type decides how it is decoded: BMPString is
 * UCS-2 (2 bytes a character), UniversalString UCS-4, UTF8String UTF-8; the
 * rest are single-byte types whose bytes must be <= 0x7F. NUL and other
 * control characters are refused too: they truncate names in C and in
 * Windows' certificate UI.
 */
#include "ca/ca.h"

#include <ctype.h>
#include <openssl/asn1.h>
#include <string.h>

static sp_err bad_char(const char *field, size_t pos, unsigned long cp)
{
	if (cp == 0)
		return sp_fail(SP_ERR_POLICY, "%s: NUL character at position %zu is not allowed", field, pos + 1);
	if (cp < 0x20 || cp == 0x7F)
		return sp_fail(SP_ERR_POLICY, "%s: control character 0x%02lX at position %zu is not allowed",
			       field, cp, pos + 1);
	return sp_fail(SP_ERR_POLICY,
		       "%s: character %zu is U+%04lX; only single-byte (ASCII) characters are allowed, "
		       "multi-byte/DBCS names are refused",
		       field, pos + 1, cp);
}

static int cp_ok(unsigned long cp)
{
	return cp >= 0x20 && cp < 0x7F;
}

sp_err sp_name_check_ascii(const char *s, size_t len, const char *field)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!cp_ok(c)) {
			/* Decode a UTF-8 sequence for a message that names the
			 * character the administrator typed. */
			unsigned long cp = c;
			if (c >= 0x80 && UTF8_getc((const unsigned char *)s + i, (int)(len - i), &cp) < 0)
				cp = c;
			return bad_char(field, i, cp);
		}
	}
	return SP_OK;
}

sp_err sp_name_check_string(const ASN1_STRING *s, const char *field)
{
	const unsigned char *d = ASN1_STRING_get0_data(s);
	size_t len = (size_t)ASN1_STRING_length(s);
	int type = ASN1_STRING_type(s);

	if (len == 0)
		return sp_fail(SP_ERR_POLICY, "%s: empty value", field);
	switch (type) {
	case V_ASN1_BMPSTRING:
		if (len % 2)
			return sp_fail(SP_ERR_POLICY, "%s: malformed BMPString (odd length)", field);
		for (size_t i = 0; i < len; i += 2) {
			unsigned long cp = ((unsigned long)d[i] << 8) | d[i + 1];
			if (!cp_ok(cp))
				return bad_char(field, i / 2, cp);
		}
		return SP_OK;
	case V_ASN1_UNIVERSALSTRING:
		if (len % 4)
			return sp_fail(SP_ERR_POLICY, "%s: malformed UniversalString (length not a multiple of 4)",
				       field);
		for (size_t i = 0; i < len; i += 4) {
			unsigned long cp = ((unsigned long)d[i] << 24) | ((unsigned long)d[i + 1] << 16) |
					   ((unsigned long)d[i + 2] << 8) | d[i + 3];
			if (!cp_ok(cp))
				return bad_char(field, i / 4, cp);
		}
		return SP_OK;
	case V_ASN1_UTF8STRING:
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_T61STRING:
	case V_ASN1_IA5STRING:
	case V_ASN1_VISIBLESTRING:
	case V_ASN1_NUMERICSTRING:
		return sp_name_check_ascii((const char *)d, len, field);
	default:
		return sp_fail(SP_ERR_POLICY, "%s: ASN.1 string type %s is not allowed in names", field,
			       ASN1_tag2str(type));
	}
}

static int ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

sp_err sp_name_check_dns(const char *s, const char *field)
{
	size_t len = strlen(s), label = 0;
	sp_err rc;

	if ((rc = sp_name_check_ascii(s, len, field)) != SP_OK)
		return rc;
	if (len == 0 || len > 253)
		return sp_fail(SP_ERR_POLICY, "%s: '%s' is not a DNS name (1 to 253 characters)", field, s);
	if (s[0] == '*')
		return sp_fail(SP_ERR_POLICY, "%s: wildcard '%s' is not allowed", field, s);
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63)
				return sp_fail(SP_ERR_POLICY, "%s: '%s' has an empty or over-long (>63) label",
					       field, s);
			if (s[i - 1] == '-' || s[i - label] == '-')
				return sp_fail(SP_ERR_POLICY, "%s: '%s': a label may not start or end with '-'",
					       field, s);
			/* "ab--" in positions 3-4 is reserved for A-labels (RFC 5891 4.2.3.1) */
			if (label >= 4 && s[i - label + 2] == '-' && s[i - label + 3] == '-' &&
			    strncasecmp(s + i - label, "xn", 2) != 0)
				return sp_fail(SP_ERR_POLICY, "%s: '%s': '--' in positions 3-4 is only for xn-- labels",
					       field, s);
			label = 0;
			continue;
		}
		if (!ldh(c))
			return sp_fail(SP_ERR_POLICY,
				       "%s: '%s' is not an LDH host name (letters, digits, '-' and '.' only; "
				       "internationalized names as xn-- A-labels)",
				       field, s);
		label++;
	}
	return SP_OK;
}

sp_err sp_name_check_upn(const char *s, const char *field)
{
	const char *at = strrchr(s, '@');
	size_t len = strlen(s);
	sp_err rc;
	char dfield[128];

	if ((rc = sp_name_check_ascii(s, len, field)) != SP_OK)
		return rc;
	if (!at || at == s || len > 256)
		return sp_fail(SP_ERR_POLICY, "%s: '%s' is not a user principal name (user@domain)", field, s);
	for (const char *p = s; p < at; p++)
		if (*p == ' ' || *p == '@')
			return sp_fail(SP_ERR_POLICY, "%s: '%s': the user part may not contain spaces or '@'", field,
				       s);
	snprintf(dfield, sizeof dfield, "%s domain", field);
	return sp_name_check_dns(at + 1, dfield);
}

sp_err sp_name_check_site_code(const char *s)
{
	if (!s || strlen(s) != 3 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[1]) ||
	    !isalnum((unsigned char)s[2]))
		return sp_fail(SP_ERR_POLICY, "site code '%s' must be exactly three ASCII letters or digits",
			       s ? s : "");
	return SP_OK;
}
