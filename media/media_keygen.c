/*
 * media_keygen.c - the key pair and the request of a CA-side ("server")
 * key generation: used by `sitepki media create` and by the EST service's
 * /serverkeygen (RFC 7030 4.4), from several threads at once.
 */
#include "media/media.h"

#include <openssl/err.h>
#include <openssl/x509.h>

/* The RSA size template `t` generates; 0 in keygen_bits can only come from
 * a template built in memory (the template rules require keyGenBits with
 * serverKeyGen) and means 2048. */
static int keygen_bits(const sp_template *t)
{
	return t->keygen_bits ? t->keygen_bits : 2048;
}

sp_err sp_media_template_check(const sp_template *t)
{
	int bits;

	if (!t)
		return sp_fail(SP_ERR_INPUT, "key generation: no template");
	if (!t->server_keygen)
		return sp_fail(SP_ERR_POLICY,
			       "template %s does not allow CA-side key generation (its enrollment element has no "
			       "serverKeyGen=\"true\")",
			       t->name);
	bits = keygen_bits(t);
	if (bits < SP_MEDIA_KEYGEN_MIN_BITS || bits > SP_MEDIA_KEYGEN_MAX_BITS)
		return sp_fail(SP_ERR_POLICY, "template %s asks for RSA-%d keys; sitepki generates RSA-%d to RSA-%d",
			       t->name, bits, SP_MEDIA_KEYGEN_MIN_BITS, SP_MEDIA_KEYGEN_MAX_BITS);
	return SP_OK;
}

sp_err sp_media_keygen(const sp_template *t, EVP_PKEY **out)
{
	sp_err rc;

	*out = NULL;
	if ((rc = sp_media_template_check(t)) != SP_OK)
		return rc;
	/* The default library context: the key is used right away to sign the
	 * request and later to build the PKCS#12, both in that context. */
	if (!(*out = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)keygen_bits(t))))
		return sp_fail_ossl(SP_ERR_CRYPTO, "generating an RSA-%d key for template %s", keygen_bits(t), t->name);
	return SP_OK;
}

sp_err sp_media_csr_from_request(EVP_PKEY *key, X509_REQ *client_req, X509_REQ **out)
{
	X509_REQ *r = NULL;
	const X509_NAME *subject;
	sp_err rc = SP_OK;

	*out = NULL;
	if (!key || !client_req)
		return sp_fail(SP_ERR_INPUT, "server-side request: no key or no client request");
	if (!(subject = X509_REQ_get_subject_name(client_req)))
		return sp_fail(SP_ERR_INPUT, "client request has no subject");
	if (!(r = X509_REQ_new()) || !X509_REQ_set_version(r, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(r, subject)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the server-side request");
		goto out;
	}
	/* The extension request attributes are copied as they are, byte for
	 * byte, rather than parsed and re-added: the issuance path reads them
	 * strictly (two extension requests, a malformed one, trailing bytes
	 * are refused, ca/issue_names.c), and a re-encoding here would hide
	 * from it exactly what it refuses. Other attributes (a challenge
	 * password) say something about the client's own key and stay out. */
	for (int i = 0; i < X509_REQ_get_attr_count(client_req); i++) {
		X509_ATTRIBUTE *a = X509_REQ_get_attr(client_req, i);
		int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a));
		if (nid != NID_ext_req && nid != NID_ms_ext_req)
			continue;
		if (!X509_REQ_add1_attr(r, a)) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "copying the client's extension request");
			goto out;
		}
	}
	/* Proof of possession of the CA-made key: the issuance path verifies
	 * every request's signature, this one included. */
	if (!X509_REQ_set_pubkey(r, key) || X509_REQ_sign(r, key, EVP_sha256()) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "signing the server-side request");
		goto out;
	}
	*out = r;
	r = NULL;
out:
	X509_REQ_free(r);
	return rc;
}
