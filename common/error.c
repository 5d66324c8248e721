/* error.c - the per-thread "last error" detail behind sp_fail(). */
#include "common/common.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *sp_err_name(sp_err e)
{
	switch (e) {
#define SP_ERR_CASE_(sym, num, str) \
	case sym:                   \
		return str;
		SP_ERRORS(SP_ERR_CASE_)
#undef SP_ERR_CASE_
	}
	return "unknown error";
}

/* Keep messages to one line of printable text: a newline from a library
 * message would break the one-line promise and log parsing, and a control
 * byte copied from hostile input (a CSR, a template, an argument) must not
 * reach a terminal. Such bytes become \xNN. */
static void sanitise(char *s, size_t cap)
{
	char out[sizeof last_error];
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < sizeof out; p++) {
		if (*p == '\n' || *p == '\r' || *p == '\t')
			out[o++] = ' ';
		else if (*p < 0x20 || *p >= 0x7F)
			o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02X", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
	snprintf(s, cap, "%s", out);
}

sp_err sp_fail(sp_err code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	sanitise(last_error, sizeof last_error);
	return code;
}

sp_err sp_fail_ossl(sp_err code, const char *fmt, ...)
{
	va_list ap;
	unsigned long e = ERR_peek_error();
	size_t used;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	used = strlen(last_error);
	if (e != 0 && used + 3 < sizeof last_error) {
		const char *reason = ERR_reason_error_string(e);
		if (reason)
			snprintf(last_error + used, sizeof last_error - used, ": %s", reason);
		else
			snprintf(last_error + used, sizeof last_error - used, ": error %lx", e);
	}
	ERR_clear_error();
	sanitise(last_error, sizeof last_error);
	return code;
}

const char *sp_last_error(void)
{
	return last_error;
}

void sp_clear_error(void)
{
	last_error[0] = '\0';
}
