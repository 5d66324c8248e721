/*
 * est_csrattrs.c - the /csrattrs answer (RFC 7030 4.5): what a client should
 * put in its CSR for a template, so that a standard EST client builds an
 * acceptable request without reading our template files.
 *
 *   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 *
 * For a template we list: the signature algorithm(s) its hash asks for,
 * rsaEncryption when RSA keys are allowed, an id-ecPublicKey attribute with
 * the allowed curves when EC keys are, and an extensionRequest attribute
 * naming subjectAltName when the template takes names from the CSR. Each
 * element is encoded by OpenSSL (i2d_ASN1_OBJECT, i2d_X509_ATTRIBUTE); only
 * the outer SEQUENCE header is put around them here, with ASN1_put_object.
 */
#include "enroll/est_int.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	unsigned char *buf;
	size_t len, cap;
} dbuf;

static int dbuf_add(dbuf *d, const unsigned char *p, int n)
{
	if (n <= 0)
		return 0;
	if (d->len + (size_t)n > d->cap) {
		size_t cap = (d->len + (size_t)n) * 2;
		unsigned char *b = realloc(d->buf, cap);
		if (!b)
			return 0;
		d->buf = b;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, p, (size_t)n);
	d->len += (size_t)n;
	return 1;
}

static int add_oid(dbuf *d, int nid)
{
	const ASN1_OBJECT *o = OBJ_nid2obj(nid);
	unsigned char *der = NULL;
	int n, ok;

	if (!o || (n = i2d_ASN1_OBJECT(o, &der)) <= 0)
		return 0;
	ok = dbuf_add(d, der, n);
	OPENSSL_free(der);
	return ok;
}

/* Attribute { type, SET OF OBJECT IDENTIFIER values } */
static int add_attr(dbuf *d, int type_nid, const int *value_nids, int n_values)
{
	X509_ATTRIBUTE *a = X509_ATTRIBUTE_new();
	unsigned char *der = NULL;
	int i, n, ok = 0;

	if (!a || !X509_ATTRIBUTE_set1_object(a, OBJ_nid2obj(type_nid)))
		goto out;
	for (i = 0; i < n_values; i++)
		if (!X509_ATTRIBUTE_set1_data(a, V_ASN1_OBJECT, OBJ_nid2obj(value_nids[i]), -1))
			goto out;
	if ((n = i2d_X509_ATTRIBUTE(a, &der)) <= 0)
		goto out;
	ok = dbuf_add(d, der, n);
out:
	OPENSSL_free(der);
	X509_ATTRIBUTE_free(a);
	return ok;
}

static int sig_nid(const char *hash, int rsa)
{
	if (!strcmp(hash, "sha384"))
		return rsa ? NID_sha384WithRSAEncryption : NID_ecdsa_with_SHA384;
	if (!strcmp(hash, "sha512"))
		return rsa ? NID_sha512WithRSAEncryption : NID_ecdsa_with_SHA512;
	return rsa ? NID_sha256WithRSAEncryption : NID_ecdsa_with_SHA256;
}

sp_err est_csrattrs(const sp_template *t, uint8_t **der, size_t *len)
{
	dbuf d = {0};
	int curves[SP_TPL_MAX_CURVES], n_curves = 0, i, total, ok = 1;
	unsigned char *out = NULL, *p;
	sp_err rc;

	*der = NULL;
	*len = 0;
	if (t->rsa_allowed)
		ok = ok && add_oid(&d, sig_nid(t->hash, 1)) && add_oid(&d, NID_rsaEncryption);
	for (i = 0; i < t->n_ec_curves; i++)
		curves[n_curves++] = !strcmp(t->ec_curves[i], "P-384") ? NID_secp384r1 : NID_X9_62_prime256v1;
	if (n_curves)
		ok = ok && add_oid(&d, sig_nid(t->hash, 0)) && add_attr(&d, NID_X9_62_id_ecPublicKey, curves, n_curves);
	if ((t->san_dns.from | t->san_upn.from) & SP_FROM_CSR) {
		int san = NID_subject_alt_name;
		ok = ok && add_attr(&d, NID_ext_req, &san, 1);
	}
	if (!ok) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding csrattrs for template %s", t->name);
		goto out;
	}
	total = ASN1_object_size(1, (int)d.len, V_ASN1_SEQUENCE);
	if (total <= 0 || !(out = malloc((size_t)total))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	p = out;
	ASN1_put_object(&p, 1, (int)d.len, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	if (d.len)
		memcpy(p, d.buf, d.len);
	*der = out;
	*len = (size_t)total;
	out = NULL;
	rc = SP_OK;
out:
	free(out);
	free(d.buf);
	return rc;
}
