/* secret.c - passphrases and passwords: read from a file, the environment or
 * the terminal, never from argv, and wiped after use. */
#include "common/common.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define SP_MAX_SECRET 1024

static sp_err secret_set(const char *src, size_t n, const char *origin, sp_secret *out)
{
	out->buf = NULL;
	out->len = 0;
	if (n == 0)
		return sp_fail(SP_ERR_INPUT, "%s is empty", origin);
	if (n > SP_MAX_SECRET)
		return sp_fail(SP_ERR_INPUT, "%s is longer than %d bytes", origin, SP_MAX_SECRET);
	/* OPENSSL_secure_malloc falls back to plain malloc when the secure heap
	 * is not initialised; either way OPENSSL_cleanse wipes it on release. */
	out->buf = OPENSSL_secure_malloc(n + 1);
	if (!out->buf)
		return sp_fail(SP_ERR_NOMEM, "out of memory for a secret");
	memcpy(out->buf, src, n);
	out->buf[n] = '\0';
	out->len = n;
	return SP_OK;
}

sp_err sp_secret_from_file(const char *path, sp_secret *out)
{
	uint8_t *data = NULL;
	size_t len = 0, n = 0;
	sp_err rc;
	char origin[4200];

	out->buf = NULL;
	out->len = 0;
	if ((rc = sp_file_check_private(path)) != SP_OK)
		return rc;
	if ((rc = sp_file_read(path, SP_MAX_SECRET + 2, &data, &len)) != SP_OK)
		return rc;
	/* The secret is the first line; a trailing CR/LF is not part of it. */
	while (n < len && data[n] != '\n' && data[n] != '\r')
		n++;
	snprintf(origin, sizeof origin, "secret file %s", path);
	rc = secret_set((const char *)data, n, origin, out);
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}

sp_err sp_secret_from_env(const char *var, sp_secret *out)
{
	const char *v = getenv(var);
	char origin[300];
	out->buf = NULL;
	out->len = 0;
	if (!v)
		return sp_fail(SP_ERR_INPUT, "environment variable %s is not set", var);
	snprintf(origin, sizeof origin, "environment variable %s", var);
	return secret_set(v, strlen(v), origin, out);
}

sp_err sp_secret_prompt(const char *prompt, int confirm, sp_secret *out)
{
	char buf[SP_MAX_SECRET + 1];
	sp_err rc;
	out->buf = NULL;
	out->len = 0;
	if (EVP_read_pw_string(buf, sizeof buf, prompt, confirm) != 0) {
		OPENSSL_cleanse(buf, sizeof buf);
		return sp_fail(SP_ERR_INPUT, "no passphrase read from the terminal (or the two entries differ)");
	}
	rc = secret_set(buf, strlen(buf), "passphrase", out);
	OPENSSL_cleanse(buf, sizeof buf);
	return rc;
}

void sp_secret_wipe(sp_secret *s)
{
	if (!s || !s->buf)
		return;
	OPENSSL_cleanse(s->buf, s->len);
	OPENSSL_secure_free(s->buf);
	s->buf = NULL;
	s->len = 0;
}
