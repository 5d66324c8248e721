/* ca_key.c - CA key pairs: generation and encrypted storage (PKCS#8 PBES2,
 * AES-256-CBC, PBKDF2-HMAC-SHA256), file mode 0600 from creation on. */
#include "ca/ca_int.h"

#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

sp_err sp_ca_key_generate(const char *alg, EVP_PKEY **out)
{
	EVP_PKEY *k = NULL;
	*out = NULL;
	if (!alg || !strcmp(alg, "ec-p256"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (!strcmp(alg, "ec-p384"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (!strcmp(alg, "rsa-2048"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (!strcmp(alg, "rsa-3072"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	else if (!strcmp(alg, "rsa-4096"))
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
	else
		return sp_fail(SP_ERR_USAGE, "unknown key algorithm '%s' (ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096)",
			       alg);
	if (!k)
		return sp_fail_ossl(SP_ERR_CRYPTO, "generating a %s key", alg ? alg : "ec-p256");
	*out = k;
	return SP_OK;
}

sp_err sp_ca_key_write(const char *path, EVP_PKEY *key, const sp_secret *pass)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	X509_SIG *enc = NULL;
	BIO *b = NULL;
	char *data = NULL;
	long len;
	sp_err rc = SP_ERR_CRYPTO;

	if (!pass || !pass->buf || pass->len == 0)
		return sp_fail(SP_ERR_INPUT, "a passphrase is required to protect the CA key");
	if (!(p8 = EVP_PKEY2PKCS8(key))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "CA key: PKCS#8 encoding");
		goto out;
	}
	/* pbe_nid -1 + a cipher selects PBES2; OpenSSL 3 uses PBKDF2 with
	 * HMAC-SHA256 as its PRF. Salt is random (NULL, 0 = default length). */
	enc = PKCS8_encrypt_ex(-1, EVP_aes_256_cbc(), pass->buf, (int)pass->len, NULL, 0, SP_CA_KEY_PBKDF2_ITER,
			       p8, NULL, NULL);
	if (!enc) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "CA key: encryption");
		goto out;
	}
	if (!(b = BIO_new(BIO_s_mem())) || !PEM_write_bio_PKCS8(b, enc)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "CA key: PEM encoding");
		goto out;
	}
	len = BIO_get_mem_data(b, &data);
	rc = sp_file_write_atomic(path, data, (size_t)len, 0600, 1);
out:
	BIO_free(b);
	X509_SIG_free(enc);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	const sp_secret *s = u;
	(void)rwflag;
	if (!s || !s->buf || s->len > (size_t)size)
		return -1;
	memcpy(buf, s->buf, s->len);
	return (int)s->len;
}

sp_err sp_ca_key_read(const char *path, const sp_secret *pass, EVP_PKEY **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	BIO *b = NULL;
	sp_err rc;

	*out = NULL;
	if ((rc = sp_file_check_private(path)) != SP_OK)
		return rc;
	if ((rc = sp_file_read(path, 64 * 1024, &data, &len)) != SP_OK)
		return rc;
	/* Only the encrypted form is accepted: an unencrypted key in a CA home
	 * is a mistake we should not quietly carry on with. */
	if (!strstr((const char *)data, "-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
		rc = sp_fail(SP_ERR_PERM, "%s is not an encrypted PKCS#8 key", path);
		goto out;
	}
	if (!(b = BIO_new_mem_buf(data, (int)len))) {
		rc = sp_fail_ossl(SP_ERR_NOMEM, "CA key");
		goto out;
	}
	*out = PEM_read_bio_PrivateKey(b, NULL, pass_cb, (void *)pass);
	if (!*out) {
		rc = sp_fail_ossl(SP_ERR_AUTH, "cannot decrypt the CA key %s (wrong passphrase?)", path);
		goto out;
	}
	rc = SP_OK;
out:
	BIO_free(b);
	OPENSSL_cleanse(data, len);
	free(data);
	return rc;
}
