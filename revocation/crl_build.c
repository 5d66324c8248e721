/*
 * crl_build.c - X.509 v2 CRLs (RFC 5280 section 5), built streaming.
 *
 * A CRL of a million entries as an X509_CRL is a million X509_REVOKED
 * objects (over a gigabyte and seconds of allocation). Instead each entry is
 * DER-encoded as it comes out of the store walk, with OpenSSL's encoders
 * (i2d_ASN1_INTEGER, i2d_ASN1_TIME, a reasonCode extension encoded once per
 * reason by i2d_X509_EXTENSIONS, ASN1_put_object for the entry's SEQUENCE
 * header), and appended to one buffer. The buffer keeps a few bytes free in
 * front so that the SEQUENCE OF header (ASN1_put_object again) is written
 * in place, and the framed bytes become the revokedCertificates field of a
 * private TBSCertList template (an ASN1_SEQUENCE item: "a whole SEQUENCE
 * held as bytes"), which ASN1_item_sign_ex encodes and signs. Peak memory is
 * about twice the DER: the entry buffer plus one encoding of the whole.
 * No tag or length byte is written by hand here.
 */
#include "revocation/crl_int.h"
#include "ca/ca_int.h" /* the extension builders certificates use too */

#include <limits.h>
#include <openssl/asn1t.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* TBSCertList (RFC 5280 5.1.2), with revokedCertificates kept encoded. The
 * OPTIONAL fields are OPTIONAL here too so that any CRL decodes (only
 * sp_crl_der_number decodes, to read a published file's number). */
typedef struct {
	ASN1_INTEGER *version;     /* v2(1); OPTIONAL (absent in v1 CRLs) */
	X509_ALGOR *sig_alg;
	X509_NAME *issuer;
	ASN1_TIME *this_update;
	ASN1_TIME *next_update;    /* OPTIONAL in the syntax, always written */
	ASN1_STRING *revoked;      /* SEQUENCE OF, whole encoding; absent when empty */
	STACK_OF(X509_EXTENSION) *extensions; /* [0] EXPLICIT */
} SP_TBS_CRL;

ASN1_SEQUENCE(SP_TBS_CRL) = {
	ASN1_OPT(SP_TBS_CRL, version, ASN1_INTEGER),
	ASN1_SIMPLE(SP_TBS_CRL, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SP_TBS_CRL, issuer, X509_NAME),
	ASN1_SIMPLE(SP_TBS_CRL, this_update, ASN1_TIME),
	ASN1_OPT(SP_TBS_CRL, next_update, ASN1_TIME),
	/* ASN1_SEQUENCE: an ANY that only matches the SEQUENCE tag, so an
	 * absent list is not confused with the [0] extensions that follow */
	ASN1_OPT(SP_TBS_CRL, revoked, ASN1_SEQUENCE),
	ASN1_EXP_SEQUENCE_OF_OPT(SP_TBS_CRL, extensions, X509_EXTENSION, 0),
} static_ASN1_SEQUENCE_END(SP_TBS_CRL)

/* CertificateList (RFC 5280 5.1.1) */
typedef struct {
	SP_TBS_CRL *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
} SP_CRL;

ASN1_SEQUENCE(SP_CRL) = {
	ASN1_SIMPLE(SP_CRL, tbs, SP_TBS_CRL),
	ASN1_SIMPLE(SP_CRL, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(SP_CRL, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SP_CRL)

/* Room in front of the entries for the SEQUENCE OF header: tag + 0x84 +
 * four length octets at most (the buffer is bounded below 2 GiB). */
#define HDR_RESERVE 8
/* The largest CRL we build: ~30 million entries. ASN.1 lengths in OpenSSL
 * are ints, and a CRL this size is already useless to relying parties. */
#define MAX_ENTRY_BYTES ((size_t)1 << 30)
#define N_REASONS 11

struct sp_crl_builder {
	uint8_t *buf;
	size_t len, cap; /* len counts the HDR_RESERVE bytes */
	int64_t count;
	int64_t last_time;    /* revocation dates repeat (bulk revocation): */
	uint8_t time_der[24]; /* encoding of last_time */
	int time_len;
	uint8_t *reason_der[N_REASONS]; /* crlEntryExtensions per reason, made on first use */
	int reason_len[N_REASONS];
};

sp_err sp_crl_builder_new(sp_crl_builder **out)
{
	sp_crl_builder *b = calloc(1, sizeof *b);
	*out = NULL;
	if (!b)
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	b->len = HDR_RESERVE;
	b->time_len = 0;
	*out = b;
	return SP_OK;
}

void sp_crl_builder_free(sp_crl_builder *b)
{
	if (!b)
		return;
	for (int i = 0; i < N_REASONS; i++)
		OPENSSL_free(b->reason_der[i]);
	free(b->buf);
	free(b);
}

int64_t sp_crl_builder_count(const sp_crl_builder *b)
{
	return b->count;
}

static sp_err grow(sp_crl_builder *b, size_t need)
{
	size_t cap = b->cap ? b->cap : 64 * 1024;
	uint8_t *nb;
	if (need > MAX_ENTRY_BYTES - b->len)
		return sp_fail(SP_ERR_INPUT, "the CRL would hold more than %zu MiB of entries (%lld so far)",
			       MAX_ENTRY_BYTES >> 20, (long long)b->count);
	while (cap < b->len + need)
		cap *= 2;
	if (cap > MAX_ENTRY_BYTES)
		cap = MAX_ENTRY_BYTES;
	/* glibc moves large blocks with mremap: growing costs no copy, and
	 * untouched capacity costs no RSS */
	if (!(nb = realloc(b->buf, cap)))
		return sp_fail(SP_ERR_NOMEM, "out of memory for %zu bytes of CRL entries", cap);
	b->buf = nb;
	b->cap = cap;
	return SP_OK;
}

/* crlEntryExtensions holding one non-critical reasonCode (RFC 5280 5.3.1). */
static sp_err reason_ext(sp_crl_builder *b, int reason)
{
	ASN1_ENUMERATED *e = ASN1_ENUMERATED_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	sp_err rc = SP_OK;
	int n;

	if (!e || !ASN1_ENUMERATED_set(e, reason) ||
	    X509V3_add1_i2d(&exts, NID_crl_reason, e, 0, X509V3_ADD_APPEND) != 1 ||
	    (n = i2d_X509_EXTENSIONS(exts, &b->reason_der[reason])) <= 0)
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding the reasonCode %d extension", reason);
	else
		b->reason_len[reason] = n;
	ASN1_ENUMERATED_free(e);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

/* Days since 1970-01-01 -> proleptic Gregorian date (H. Hinnant's
 * civil_from_days): no gmtime_r, no locale, no lock. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static char *digits(char *p, int64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* ASN1_TIME_set costs ~0.8 us (gmtime, then formatting and allocating a
 * string): most of a million-entry CRL. Here the text is formatted directly
 * and OpenSSL's i2d_ASN1_TIME encodes it, from a stack ASN1_TIME. RFC 5280
 * 5.1.2.6 / 4.1.2.5: UTCTime YYMMDDHHMMSSZ for 1950..2049, GeneralizedTime
 * YYYYMMDDHHMMSSZ otherwise. */
int sp_crl_encode_time(int64_t t, unsigned char out[24])
{
	char text[16], *p = text;
	int64_t days = (t >= 0 ? t : t - 86399) / 86400, secs = t - days * 86400, y;
	int m, d, utc;
	ASN1_TIME at;
	unsigned char *o = out;

	civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return 0;
	utc = y >= 1950 && y <= 2049;
	p = digits(p, utc ? y % 100 : y, utc ? 2 : 4);
	p = digits(p, m, 2);
	p = digits(p, d, 2);
	p = digits(p, secs / 3600, 2);
	p = digits(p, secs / 60 % 60, 2);
	p = digits(p, secs % 60, 2);
	*p++ = 'Z';
	at.length = (int)(p - text);
	at.type = utc ? V_ASN1_UTCTIME : V_ASN1_GENERALIZEDTIME;
	at.data = (unsigned char *)text;
	at.flags = 0;
	return i2d_ASN1_TIME(&at, &o);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Serial magnitude bytes from the store's hex (RFC 5280 4.1.2.2: positive,
 * at most 20 octets), leading zero octets dropped as DER wants. */
static sp_err serial_bytes(const char *hex, uint8_t out[20], size_t *n)
{
	size_t hl = strlen(hex), nb = (hl + 1) / 2, i = 0, o = 0;
	if (hl == 0 || nb > 20)
		return sp_fail(SP_ERR_DB, "store: serial '%.48s' is not 1..20 bytes of hex", hex);
	if (hl % 2) {
		int v = hexval(hex[0]);
		if (v < 0)
			goto bad;
		out[o++] = (uint8_t)v;
		i = 1;
	}
	for (; i < hl; i += 2) {
		int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		out[o++] = (uint8_t)(hi << 4 | lo);
	}
	i = 0;
	while (i + 1 < o && out[i] == 0)
		i++;
	memmove(out, out + i, o - i);
	*n = o - i;
	return SP_OK;
bad:
	return sp_fail(SP_ERR_DB, "store: serial '%.48s' is not hexadecimal", hex);
}

sp_err sp_crl_builder_add(sp_crl_builder *b, const char *serial_hex, int64_t revoked_at, int reason,
			  int allow_remove)
{
	uint8_t sb[20], sder[24], *p;
	size_t sn = 0;
	int slen, content, total, elen = 0;
	ASN1_INTEGER serial; /* on the stack: no allocation per entry */
	sp_err rc;

	if (reason < 0 || reason >= N_REASONS || reason == 7 ||
	    (reason == SP_REASON_REMOVE_FROM_CRL && !allow_remove))
		return sp_fail(SP_ERR_DB, "store: serial %.48s has revocation reason %d, which cannot appear on this CRL",
			       serial_hex, reason);
	if ((rc = serial_bytes(serial_hex, sb, &sn)) != SP_OK)
		return rc;
	serial.length = (int)sn;
	serial.type = V_ASN1_INTEGER;
	serial.data = sb;
	serial.flags = 0;
	p = sder;
	slen = i2d_ASN1_INTEGER(&serial, &p);
	if (slen <= 0 || slen > (int)sizeof sder)
		return sp_fail_ossl(SP_ERR_CRYPTO, "encoding serial %.48s", serial_hex);

	if (b->time_len == 0 || revoked_at != b->last_time) {
		if ((b->time_len = sp_crl_encode_time(revoked_at, b->time_der)) <= 0) {
			b->time_len = 0;
			return sp_fail_ossl(SP_ERR_DB, "store: revocation date %lld of %.48s cannot be encoded",
					    (long long)revoked_at, serial_hex);
		}
		b->last_time = revoked_at;
	}
	/* RFC 5280 5.3.1: "the reason code unspecified (0) SHOULD be absent" */
	if (reason != SP_REASON_UNSPECIFIED) {
		if (!b->reason_der[reason] && (rc = reason_ext(b, reason)) != SP_OK)
			return rc;
		elen = b->reason_len[reason];
	}
	content = slen + b->time_len + elen;
	total = ASN1_object_size(1, content, V_ASN1_SEQUENCE);
	if (total <= 0)
		return sp_fail_ossl(SP_ERR_INTERNAL, "entry length");
	if (b->len + (size_t)total > b->cap && (rc = grow(b, (size_t)total)) != SP_OK)
		return rc;
	p = b->buf + b->len;
	ASN1_put_object(&p, 1, content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(p, sder, (size_t)slen);
	p += slen;
	memcpy(p, b->time_der, (size_t)b->time_len);
	p += b->time_len;
	if (elen) {
		memcpy(p, b->reason_der[reason], (size_t)elen);
		p += elen;
	}
	b->len = (size_t)(p - b->buf);
	b->count++;
	return SP_OK;
}

/* ---------------------------------------------------------- extensions */

static GENERAL_NAMES *uri_names(const char *url)
{
	GENERAL_NAMES *gns = GENERAL_NAMES_new();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	if (!gns || !gn || !s || !ASN1_STRING_set(s, url, (int)strlen(url)))
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_URI, s);
	s = NULL;
	if (!sk_GENERAL_NAME_push(gns, gn))
		goto fail;
	return gns;
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gns);
	return NULL;
}

static DIST_POINT_NAME *dp_name(const char *url)
{
	DIST_POINT_NAME *n = DIST_POINT_NAME_new();
	if (!n || !(n->name.fullname = uri_names(url))) {
		DIST_POINT_NAME_free(n);
		return NULL;
	}
	n->type = 0; /* fullName */
	return n;
}

/* RFC 5280 5.2.5: critical; the distributionPoint is the very URI the
 * certificates carry in their CDP, which is what makes a relying party
 * (OpenSSL, Windows CryptoAPI) accept this CRL's scope for them. */
static X509_EXTENSION *ext_idp(const char *url)
{
	ISSUING_DIST_POINT *idp = ISSUING_DIST_POINT_new();
	X509_EXTENSION *ext = NULL;
	if (idp && (idp->distpoint = dp_name(url)))
		ext = X509V3_EXT_i2d(NID_issuing_distribution_point, 1, idp);
	ISSUING_DIST_POINT_free(idp);
	return ext;
}


/* CRLNumber (5.2.3, non-critical) or DeltaCRLIndicator (5.2.4, critical). */
static X509_EXTENSION *ext_number(int nid, int critical, int64_t v)
{
	ASN1_INTEGER *n = ASN1_INTEGER_new();
	X509_EXTENSION *ext = NULL;
	if (n && ASN1_INTEGER_set_int64(n, v))
		ext = X509V3_EXT_i2d(nid, critical, n);
	ASN1_INTEGER_free(n);
	return ext;
}

/* ExpiredCertsOnCRL (X.509 2.5.29.60, GeneralizedTime, non-critical): the
 * CRL keeps revoked certificates that expired on or after this time. OpenSSL
 * has no NID for it: the value is encoded with i2d_ASN1_GENERALIZEDTIME and
 * wrapped with X509_EXTENSION_create_by_OBJ. */
static X509_EXTENSION *ext_expired_on_crl(int64_t from)
{
	ASN1_OBJECT *obj = OBJ_txt2obj("2.5.29.60", 1);
	ASN1_GENERALIZEDTIME *gt = ASN1_GENERALIZEDTIME_set(NULL, (time_t)from);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	unsigned char *der = NULL;
	int n;
	if (obj && gt && os && (n = i2d_ASN1_GENERALIZEDTIME(gt, &der)) > 0 && ASN1_OCTET_STRING_set(os, der, n))
		ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	OPENSSL_free(der);
	ASN1_OBJECT_free(obj);
	ASN1_GENERALIZEDTIME_free(gt);
	ASN1_OCTET_STRING_free(os);
	return ext;
}

static sp_err add_ext(STACK_OF(X509_EXTENSION) **sk, X509_EXTENSION *ext, const char *what)
{
	if (!ext)
		return sp_fail_ossl(SP_ERR_CRYPTO, "building the CRL's %s extension", what);
	if ((!*sk && !(*sk = sk_X509_EXTENSION_new_null())) || !sk_X509_EXTENSION_push(*sk, ext)) {
		X509_EXTENSION_free(ext);
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	return SP_OK;
}

/* Extensions in the order RFC 5280 section 5.2 lists them. */
static sp_err crl_extensions(const sp_crl_spec *s, STACK_OF(X509_EXTENSION) **sk)
{
	sp_err rc;
	if (!X509_get0_subject_key_id(s->ca_cert))
		return sp_fail(SP_ERR_CRYPTO, "the CA certificate has no subject key identifier for the CRL's AKI");
	if ((rc = add_ext(sk, sp_ext_aki_from_cert(s->ca_cert), "authority key identifier")) != SP_OK ||
	    (rc = add_ext(sk, ext_number(NID_crl_number, 0, s->number), "CRL number")) != SP_OK)
		return rc;
	if (s->base_number > 0 &&
	    (rc = add_ext(sk, ext_number(NID_delta_crl, 1, s->base_number), "delta CRL indicator")) != SP_OK)
		return rc;
	if ((rc = add_ext(sk, ext_idp(s->idp_url), "issuing distribution point")) != SP_OK)
		return rc;
	if (s->base_number == 0 && s->freshest_url &&
	    (rc = add_ext(sk, sp_ext_freshest_crl(s->freshest_url), "freshest CRL")) != SP_OK)
		return rc;
	if (s->expired_kept_from > 0 &&
	    (rc = add_ext(sk, ext_expired_on_crl(s->expired_kept_from), "expired certificates on CRL")) != SP_OK)
		return rc;
	return SP_OK;
}

/* -------------------------------------------------------------- finish */

sp_err sp_crl_builder_finish(sp_crl_builder *b, const sp_crl_spec *spec, uint8_t **der, size_t *len)
{
	SP_CRL *crl = NULL;
	SP_TBS_CRL *tbs;
	ASN1_STRING revoked; /* borrows the entry buffer; never freed by OpenSSL */
	unsigned char *out = NULL;
	int n;
	sp_err rc;

	*der = NULL;
	*len = 0;
	if (!(crl = (SP_CRL *)ASN1_item_new(ASN1_ITEM_rptr(SP_CRL)))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	tbs = crl->tbs;
	if (!(tbs->version = ASN1_INTEGER_new()) || !ASN1_INTEGER_set(tbs->version, 1) ||
	    !X509_NAME_set(&tbs->issuer, X509_get_subject_name(spec->ca_cert)) ||
	    !(tbs->this_update = ASN1_TIME_set(tbs->this_update, (time_t)spec->this_update)) ||
	    !(tbs->next_update = ASN1_TIME_set(NULL, (time_t)spec->next_update))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the CRL");
		goto out;
	}
	/* RFC 5280 5.1.2.6: when there are no revoked certificates the list
	 * is absent, not empty */
	if (b->count > 0) {
		int content = (int)(b->len - HDR_RESERVE);
		int total = ASN1_object_size(1, content, V_ASN1_SEQUENCE);
		int hl = total - content;
		unsigned char *p;
		if (total <= 0 || hl > HDR_RESERVE) {
			rc = sp_fail(SP_ERR_INTERNAL, "CRL entry list length");
			goto out;
		}
		p = b->buf + HDR_RESERVE - hl;
		ASN1_put_object(&p, 1, content, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
		revoked.length = total;
		revoked.type = V_ASN1_SEQUENCE;
		revoked.data = b->buf + HDR_RESERVE - hl;
		revoked.flags = 0;
		tbs->revoked = &revoked; /* taken out again before the free below */
	}
	if ((rc = crl_extensions(spec, &tbs->extensions)) != SP_OK)
		goto out;
	/* sets both AlgorithmIdentifiers (ecdsa-with-SHA256 without
	 * parameters, or sha256WithRSAEncryption with NULL), encodes the TBS
	 * and signs it */
	if (ASN1_item_sign_ex(ASN1_ITEM_rptr(SP_TBS_CRL), tbs->sig_alg, crl->sig_alg, crl->signature, tbs, NULL,
			      spec->key, EVP_sha256(), NULL, NULL) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "signing the CRL");
		goto out;
	}
	if ((n = ASN1_item_i2d((ASN1_VALUE *)crl, &out, ASN1_ITEM_rptr(SP_CRL))) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding the CRL");
		goto out;
	}
	*der = out;
	*len = (size_t)n;
	rc = SP_OK;
out:
	if (crl && crl->tbs)
		crl->tbs->revoked = NULL;
	ASN1_item_free((ASN1_VALUE *)crl, ASN1_ITEM_rptr(SP_CRL));
	free(b->buf);
	b->buf = NULL;
	b->len = HDR_RESERVE;
	b->cap = 0;
	return rc;
}

sp_err sp_crl_der_number(const uint8_t *der, size_t len, int64_t *number)
{
	const unsigned char *p = der;
	SP_CRL *crl = NULL;
	ASN1_INTEGER *n = NULL;
	sp_err rc = SP_ERR_INPUT;
	int i;

	if (len > LONG_MAX || !(crl = (SP_CRL *)ASN1_item_d2i(NULL, &p, (long)len, ASN1_ITEM_rptr(SP_CRL))) ||
	    p != der + len) {
		rc = sp_fail_ossl(SP_ERR_INPUT, "not a DER CRL (or bytes after it)");
		goto out;
	}
	if ((i = X509v3_get_ext_by_NID(crl->tbs->extensions, NID_crl_number, -1)) < 0 ||
	    !(n = X509V3_EXT_d2i(X509v3_get_ext(crl->tbs->extensions, i))) || !ASN1_INTEGER_get_int64(number, n) ||
	    *number < 0) {
		rc = sp_fail_ossl(SP_ERR_INPUT, "the CRL has no usable CRL number");
		goto out;
	}
	rc = SP_OK;
out:
	ASN1_INTEGER_free(n);
	ASN1_item_free((ASN1_VALUE *)crl, ASN1_ITEM_rptr(SP_CRL));
	return rc;
}
