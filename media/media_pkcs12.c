/*
 * media_pkcs12.c - the password rules and the PKCS#12 a boot medium or a
 * PXE service point imports.
 *
 * Default form: key bag and certificate bag each encrypted with PBES2
 * (AES-256-CBC, PBKDF2-HMAC-SHA256), MAC HMAC-SHA256 over the PKCS#12 KDF,
 * SP_MEDIA_ITER_DEFAULT iterations for all three; what current Windows,
 * OpenSSL 3, NSS and GnuTLS read. Legacy form (--legacy): the 3DES
 * PKCS#12 PBE for both bags and a SHA-1 MAC, the most an old WinPE/XP
 * client understands. 3DES is in OpenSSL's default provider; only RC2,
 * which sitepki never writes, needs the legacy one.
 */
#include "media/media.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <string.h>

sp_err sp_media_password_check(const sp_secret *pw)
{
	if (!pw || !pw->buf || pw->len == 0)
		return sp_fail(SP_ERR_INPUT, "the PKCS#12 password is empty");
	if (pw->len < SP_MEDIA_PASSWORD_MIN)
		return sp_fail(SP_ERR_INPUT, "the PKCS#12 password is too short: %zu characters, at least %d are needed",
			       pw->len, SP_MEDIA_PASSWORD_MIN);
	/* PKCS#12 turns the password into a BMPString: implementations agree
	 * on how only for ASCII, and a boot client's keyboard layout may not
	 * type anything else. The position, never the character, is named. */
	for (size_t i = 0; i < pw->len; i++) {
		unsigned char c = (unsigned char)pw->buf[i];
		if (c < 0x20 || c > 0x7e)
			return sp_fail(SP_ERR_INPUT,
				       "the PKCS#12 password has a character that is not printable ASCII at position "
				       "%zu (only ASCII 0x20-0x7E: every PKCS#12 reader and boot keyboard agrees on those)",
				       i + 1);
	}
	if (strlen(pw->buf) != pw->len) /* a NUL would end the password early in PKCS12_create */
		return sp_fail(SP_ERR_INPUT, "the PKCS#12 password contains a NUL byte");
	return SP_OK;
}

sp_err sp_pkcs12_opts_check(const sp_pkcs12_opts *o)
{
	sp_err rc;

	if (!o)
		return sp_fail(SP_ERR_INPUT, "no PKCS#12 options");
	if ((rc = sp_media_password_check(o->password)) != SP_OK)
		return rc;
	if (o->iter != 0 && o->iter < SP_MEDIA_ITER_MIN)
		return sp_fail(SP_ERR_INPUT,
			       "iteration count %d is below the minimum of %d (the password is all that protects "
			       "the key; the default is %d)",
			       o->iter, SP_MEDIA_ITER_MIN, SP_MEDIA_ITER_DEFAULT);
	if (o->iter > SP_MEDIA_ITER_MAX)
		return sp_fail(SP_ERR_INPUT, "iteration count %d is above the maximum of %d (a boot client would take "
					     "minutes to open the file)",
			       o->iter, SP_MEDIA_ITER_MAX);
	if (o->legacy != 0 && o->legacy != 1)
		return sp_fail(SP_ERR_INPUT, "PKCS#12 legacy flag must be 0 or 1");
	return SP_OK;
}

sp_err sp_pkcs12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain, const char *name, const sp_pkcs12_opts *o,
		       uint8_t **der, size_t *len)
{
	PKCS12 *p12 = NULL;
	unsigned char *buf = NULL;
	int n, iter, nid;
	const EVP_MD *md;
	sp_err rc;

	*der = NULL;
	*len = 0;
	if (!key || !cert)
		return sp_fail(SP_ERR_INPUT, "PKCS#12: no key or no certificate");
	if ((rc = sp_pkcs12_opts_check(o)) != SP_OK)
		return rc;
	iter = o->iter ? o->iter : SP_MEDIA_ITER_DEFAULT;
	/* A cipher NID (not a PBE one) makes OpenSSL write PBES2 with
	 * PBKDF2, whose PRF is HMAC-SHA256 in OpenSSL 3. */
	nid = o->legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
	md = o->legacy ? EVP_sha1() : EVP_sha256();
	/* mac_iter -1: no MAC here, because PKCS12_create would make a SHA-1
	 * one; PKCS12_set_mac below adds the MAC with the digest we choose.
	 * PKCS12_create also checks that key and certificate belong together
	 * and gives both bags the certificate's SHA-1 as localKeyId. */
	p12 = PKCS12_create_ex(o->password->buf, name, key, cert, chain, nid, nid, iter, -1, 0, NULL, NULL);
	if (!p12) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the PKCS#12");
		goto out;
	}
	if (!PKCS12_set_mac(p12, o->password->buf, (int)o->password->len, NULL, 0, iter, md)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "adding the PKCS#12 MAC");
		goto out;
	}
	if ((n = i2d_PKCS12(p12, &buf)) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding the PKCS#12");
		goto out;
	}
	*der = buf;
	*len = (size_t)n;
	rc = SP_OK;
out:
	PKCS12_free(p12);
	return rc;
}
