/* util.c - helpers shared by the commands. */
#define _XOPEN_SOURCE 700 /* strptime */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_fail(sp_err rc)
{
	const char *msg = sp_last_error();
	fprintf(stderr, "sitepki: %s\n", msg[0] ? msg : sp_err_name(rc));
	return (int)rc;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sitepki %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (sitepki %s --help)\n", cmd);
	return SP_ERR_USAGE;
}

sp_err cli_home(const cli_ctx *ctx, const char **home)
{
	if (!ctx->home)
		return sp_fail(SP_ERR_USAGE, "no CA home: give --home DIR or set SITEPKI_HOME");
	*home = ctx->home;
	return SP_OK;
}

sp_err cli_passphrase(const char *file, const char *env, int confirm, sp_secret *out)
{
	const char *dflt = getenv("SITEPKI_PASS_FILE");
	if (file && env)
		return sp_fail(SP_ERR_USAGE, "give either --pass-file or --pass-env, not both");
	if (file)
		return sp_secret_from_file(file, out);
	if (env)
		return sp_secret_from_env(env, out);
	if (dflt && dflt[0])
		return sp_secret_from_file(dflt, out);
	if (isatty(STDIN_FILENO))
		return sp_secret_prompt("CA key passphrase: ", confirm, out);
	return sp_fail(SP_ERR_USAGE, "the CA key passphrase is needed: --pass-file FILE or --pass-env VAR "
				     "(or $SITEPKI_PASS_FILE)");
}

sp_err cli_open_ca(const cli_ctx *ctx, int want_key, const char *pass_file, const char *pass_env, sp_ca **out)
{
	const char *home = NULL;
	sp_secret pass = {0};
	sp_err rc;

	*out = NULL;
	if ((rc = cli_home(ctx, &home)) != SP_OK)
		return rc;
	if (want_key && (rc = cli_passphrase(pass_file, pass_env, 0, &pass)) != SP_OK)
		return rc;
	rc = sp_ca_open(home, want_key ? &pass : NULL, out);
	sp_secret_wipe(&pass);
	return rc;
}

sp_err cli_write_out(const char *path, const void *data, size_t len, mode_t mode)
{
	if (!path || !strcmp(path, "-")) {
		if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
			return sp_fail(SP_ERR_IO, "cannot write to standard output");
		return SP_OK;
	}
	return sp_file_write_atomic(path, data, len, mode, 1);
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

const char *cli_actor(void)
{
	static char buf[96];
	const char *u = getenv("SUDO_USER");
	if (!u || !u[0])
		u = getenv("USER");
	snprintf(buf, sizeof buf, "cli:%s", u && u[0] ? u : "unknown");
	return buf;
}

int cli_parse_id(const char *s, int64_t *id)
{
	char *end = NULL;
	long long v;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
		return 0;
	v = strtoll(s, &end, 10);
	if (v <= 0)
		return 0;
	*id = (int64_t)v;
	return 1;
}

sp_err cli_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	char *end;
	long long v;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end && *end == '\0') {
		*out = (int64_t)timegm(&tm);
		return SP_OK;
	}
	v = strtoll(s, &end, 10);
	if (*s && *end == '\0' && v >= 0) {
		*out = (int64_t)v;
		return SP_OK;
	}
	return sp_fail(SP_ERR_USAGE, "'%s' is not a time (2026-11-20T10:00:00Z or seconds since 1970)", s);
}

sp_err cli_read_cert(const char *path, X509 **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sp_err rc = sp_file_read(path, SP_MAX_CERT_BYTES, &data, &len);
	if (rc == SP_OK && (rc = sp_cert_parse(data, len, out)) != SP_OK) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", sp_last_error());
		sp_fail(rc, "%s: %s", path, msg);
	}
	free(data);
	return rc;
}
