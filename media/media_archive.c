/*
 * media_archive.c - keeping a media key (media create --archive) so that it
 * can be exported again under a new password.
 *
 * The key is stored as PKCS#8 inside CMS EnvelopedData (AES-256-CBC) with
 * the CA certificate as the one recipient: whoever reads the store learns
 * nothing without the CA key, and a re-export needs the CA passphrase like
 * any other use of the CA key. RSA CA keys get RSAES-OAEP (SHA-256), EC CA
 * keys ECDH key agreement with the X9.63 KDF over SHA-256; both are what
 * `openssl cms -decrypt` reads (docs/media.md shows how).
 */
#include "media/media.h"

#include "ca/ca_int.h" /* the CA key: ca.h lends no EVP_PKEY */

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

/* The maximum size of an archived key blob accepted back from the store. */
#define MAX_ARCHIVE_BYTES (64 * 1024)

sp_err sp_media_archive_key(X509 *ca_cert, EVP_PKEY *key, uint8_t **der, size_t *len)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	unsigned char *plain = NULL, *buf = NULL;
	int plain_len = 0, n;
	BIO *in = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_RecipientInfo *ri;
	EVP_PKEY_CTX *pctx;
	EVP_PKEY *ca_pub;
	int is_rsa;
	sp_err rc = SP_OK;

	*der = NULL;
	*len = 0;
	if (!ca_cert || !key || !(ca_pub = X509_get0_pubkey(ca_cert)))
		return sp_fail(SP_ERR_INPUT, "key archive: no key or no CA certificate");
	is_rsa = EVP_PKEY_is_a(ca_pub, "RSA");
	if (!(p8 = EVP_PKEY2PKCS8(key)) || (plain_len = i2d_PKCS8_PRIV_KEY_INFO(p8, &plain)) <= 0 ||
	    !(in = BIO_new_mem_buf(plain, plain_len))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "key archive: encoding the key");
		goto out;
	}
	/* PARTIAL: the recipient is added by hand so that its key transport
	 * can be set (OAEP); CMS_final then encrypts. */
	if (!(cms = CMS_encrypt(NULL, NULL, EVP_aes_256_cbc(), CMS_BINARY | CMS_PARTIAL)) ||
	    !(ri = CMS_add1_recipient_cert(cms, ca_cert, CMS_KEY_PARAM)) || !(pctx = CMS_RecipientInfo_get0_pkey_ctx(ri))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "key archive: CMS recipient (the CA certificate)");
		goto out;
	}
	/* OpenSSL's defaults would be RSA PKCS#1 v1.5 and an ECDH KDF over
	 * SHA-1 */
	if (is_rsa ? EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
			     EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
			     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0
		   : EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "key archive: key transport parameters");
		goto out;
	}
	if (!CMS_final(cms, in, NULL, CMS_BINARY) || (n = i2d_CMS_ContentInfo(cms, &buf)) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "key archive: encrypting the key to the CA certificate");
		goto out;
	}
	*der = buf;
	*len = (size_t)n;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	OPENSSL_clear_free(plain, plain_len > 0 ? (size_t)plain_len : 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return rc;
}

sp_err sp_media_unarchive_key(sp_ca *ca, const uint8_t *der, size_t len, EVP_PKEY **out)
{
	CMS_ContentInfo *cms = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	BIO *plain = NULL;
	const unsigned char *p = der;
	const unsigned char *kp;
	char *data = NULL;
	long dlen;
	sp_err rc = SP_OK;

	*out = NULL;
	if (!ca || !ca->key || !ca->cert)
		return sp_fail(SP_ERR_USAGE, "the CA key is not loaded (a passphrase is needed to decrypt an archived key)");
	if (!der || len == 0 || len > MAX_ARCHIVE_BYTES)
		return sp_fail(SP_ERR_DB, "archived key: %zu bytes is not an archive", len);
	if (!(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) || p != der + len) {
		rc = sp_fail_ossl(SP_ERR_DB, "archived key: not one CMS object");
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped) {
		rc = sp_fail(SP_ERR_DB, "archived key: not CMS EnvelopedData");
		goto out;
	}
	/* secure memory BIO: the plaintext key is wiped when it is freed */
	if (!(plain = BIO_new(BIO_s_secmem()))) {
		rc = sp_fail_ossl(SP_ERR_NOMEM, "archived key");
		goto out;
	}
	if (!CMS_decrypt(cms, ca->key, ca->cert, NULL, plain, CMS_BINARY)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "archived key: cannot decrypt it with this CA's key");
		goto out;
	}
	if ((dlen = BIO_get_mem_data(plain, &data)) <= 0) {
		rc = sp_fail(SP_ERR_CRYPTO, "archived key: decrypts to nothing");
		goto out;
	}
	kp = (const unsigned char *)data;
	if (!(p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &kp, dlen)) || kp != (const unsigned char *)data + dlen ||
	    !(*out = EVP_PKCS82PKEY(p8))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "archived key: the decrypted content is not a PKCS#8 key");
		goto out;
	}
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	BIO_free(plain);
	CMS_ContentInfo_free(cms);
	return rc;
}
