/* ca_ext.c - X.509 extension builders (RFC 5280 4.2) and random serials,
 * built from OpenSSL's structures rather than config strings so that no
 * value (a URL, a name) can be read as configuration syntax. */
#include "ca/ca_int.h"

#include <openssl/rand.h>
#include <string.h>

int sp_add_ext(X509 *x, X509_EXTENSION *ext)
{
	return !ext || X509_add_ext(x, ext, -1);
}

X509_EXTENSION *sp_ext_basic_constraints(int ca, int pathlen)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	X509_EXTENSION *ext = NULL;
	if (!bc)
		return NULL;
	bc->ca = ca ? 0xFF : 0;
	if (ca && pathlen >= 0) {
		if (!(bc->pathlen = ASN1_INTEGER_new()) || !ASN1_INTEGER_set(bc->pathlen, pathlen))
			goto out;
	}
	/* critical: RFC 5280 4.2.1.9 requires it in CA certificates, and
	 * -x509_strict checks it */
	ext = X509V3_EXT_i2d(NID_basic_constraints, 1, bc);
out:
	BASIC_CONSTRAINTS_free(bc);
	return ext;
}

X509_EXTENSION *sp_ext_key_usage(unsigned bits, int critical)
{
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
	X509_EXTENSION *ext = NULL;
	if (!bs)
		return NULL;
	for (int i = 0; i < 9; i++)
		if ((bits & (1u << i)) && !ASN1_BIT_STRING_set_bit(bs, i, 1))
			goto out;
	ext = X509V3_EXT_i2d(NID_key_usage, critical, bs);
out:
	ASN1_BIT_STRING_free(bs);
	return ext;
}

/* RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING
 * value. SHA-1 here is an identifier, not a signature. */
X509_EXTENSION *sp_ext_ski_from_pubkey(const X509_PUBKEY *pub)
{
	const unsigned char *pk = NULL;
	int pklen = 0;
	unsigned char md[20];
	unsigned int mdlen = 0;
	ASN1_OCTET_STRING *os = NULL;
	X509_EXTENSION *ext = NULL;

	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, (X509_PUBKEY *)pub) ||
	    !EVP_Digest(pk, (size_t)pklen, md, &mdlen, EVP_sha1(), NULL))
		return NULL;
	if (!(os = ASN1_OCTET_STRING_new()) || !ASN1_OCTET_STRING_set(os, md, (int)mdlen))
		goto out;
	ext = X509V3_EXT_i2d(NID_subject_key_identifier, 0, os);
out:
	ASN1_OCTET_STRING_free(os);
	return ext;
}

static X509_EXTENSION *aki_from_keyid(const ASN1_OCTET_STRING *ski);

X509_EXTENSION *sp_ext_aki_from_cert(X509 *issuer)
{
	return aki_from_keyid(X509_get0_subject_key_id(issuer));
}

/* For a certificate still being built, whose extension cache OpenSSL may
 * have filled before the SKI was added: decode our own SKI extension. */
X509_EXTENSION *sp_ext_aki_from_ski_ext(X509_EXTENSION *ski_ext)
{
	ASN1_OCTET_STRING *ski = X509V3_EXT_d2i(ski_ext);
	X509_EXTENSION *ext = ski ? aki_from_keyid(ski) : NULL;
	ASN1_OCTET_STRING_free(ski);
	return ext;
}

static X509_EXTENSION *aki_from_keyid(const ASN1_OCTET_STRING *ski)
{
	AUTHORITY_KEYID *aki = NULL;
	X509_EXTENSION *ext = NULL;
	if (!ski || !(aki = AUTHORITY_KEYID_new()))
		return NULL;
	if ((aki->keyid = ASN1_OCTET_STRING_dup(ski)))
		ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, aki);
	AUTHORITY_KEYID_free(aki);
	return ext;
}

static GENERAL_NAME *uri_name(const char *url)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	if (!gn || !s || !ASN1_STRING_set(s, url, (int)strlen(url))) {
		GENERAL_NAME_free(gn);
		ASN1_IA5STRING_free(s);
		return NULL;
	}
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	return gn;
}

X509_EXTENSION *sp_ext_cdp(const char *url)
{
	STACK_OF(DIST_POINT) *cdp = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	GENERAL_NAME *gn = uri_name(url);
	X509_EXTENSION *ext = NULL;

	if (!cdp || !dp || !gn || !(dp->distpoint = DIST_POINT_NAME_new()))
		goto out;
	dp->distpoint->type = 0; /* fullName */
	if (!(dp->distpoint->name.fullname = GENERAL_NAMES_new()) ||
	    !sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn))
		goto out;
	gn = NULL;
	if (!sk_DIST_POINT_push(cdp, dp))
		goto out;
	dp = NULL;
	ext = X509V3_EXT_i2d(NID_crl_distribution_points, 0, cdp);
out:
	GENERAL_NAME_free(gn);
	DIST_POINT_free(dp);
	sk_DIST_POINT_pop_free(cdp, DIST_POINT_free);
	return ext;
}

X509_EXTENSION *sp_ext_aia(const char *url)
{
	AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
	ACCESS_DESCRIPTION *ad = ACCESS_DESCRIPTION_new();
	X509_EXTENSION *ext = NULL;

	if (!aia || !ad)
		goto out;
	ASN1_OBJECT_free(ad->method);
	ad->method = OBJ_nid2obj(NID_ad_ca_issuers);
	GENERAL_NAME_free(ad->location);
	if (!(ad->location = uri_name(url)) || !sk_ACCESS_DESCRIPTION_push(aia, ad))
		goto out;
	ad = NULL;
	ext = X509V3_EXT_i2d(NID_info_access, 0, aia);
out:
	ACCESS_DESCRIPTION_free(ad);
	sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	return ext;
}

/* RFC 5280 4.1.2.2 allows 20 octets; CA/B BR 7.1 asks for >= 64 bits of
 * CSPRNG output. We take 16 bytes, clear the top bit (positive) and set the
 * next one so the DER INTEGER is always exactly 16 bytes: 126 random bits. */
sp_err sp_random_serial(ASN1_INTEGER **out)
{
	unsigned char b[16];
	ASN1_INTEGER *ai;
	*out = NULL;
	if (RAND_bytes(b, sizeof b) != 1)
		return sp_fail_ossl(SP_ERR_CRYPTO, "random serial");
	b[0] = (unsigned char)((b[0] & 0x7F) | 0x40);
	if (!(ai = ASN1_INTEGER_new()) || !ASN1_STRING_set(ai, b, sizeof b)) {
		ASN1_INTEGER_free(ai);
		return sp_fail_ossl(SP_ERR_NOMEM, "random serial");
	}
	*out = ai;
	return SP_OK;
}

void sp_ca_slug(const char *name, char *out, size_t outsz)
{
	size_t o = 0;
	int dash = 0;
	for (const char *p = name; *p && o + 1 < outsz; p++) {
		char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			out[o++] = c;
			dash = 0;
		} else if (c >= 'A' && c <= 'Z') {
			out[o++] = (char)(c - 'A' + 'a');
			dash = 0;
		} else if (!dash && o > 0) {
			out[o++] = '-';
			dash = 1;
		}
	}
	while (o > 0 && out[o - 1] == '-')
		o--;
	if (o == 0 && outsz > 2) {
		out[o++] = 'c';
		out[o++] = 'a';
	}
	out[o] = '\0';
}
