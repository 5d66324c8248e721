/*
 * test_issue.c - the issuance path in-process: sp_ca_init / sp_ca_open /
 * sp_issue with CSRs built here with OpenSSL.
 *
 * What is judged:
 *  - every shipped template issues from a suitable CSR, and the certificate
 *    carries what the template promises (checked against values written in
 *    this file, not read back from the template struct), chains to the CA
 *    under OpenSSL's strict verifier, and is what the store recorded;
 *  - every name comes from where the template allows, and anything else is
 *    refused, never silently dropped;
 *  - a refusal leaves the certificate, request and audit tables exactly as
 *    they were, inside or outside a caller's transaction;
 *  - sp_ca_init refuses bad options and leaves nothing behind.
 *
 * Cost: opening a CA with its key runs PBKDF2 (600k rounds, ~0.5 s), so one
 * CA is made per process, lazily, by whichever test needs it first, and
 * closed at exit. Its validity (400 days) is above the 365-day templates
 * and below the 730-day web-server template, so both an unclipped and a
 * clipped notAfter are checked. Tests only ever add certificates and
 * compare counts before/after, so their order does not matter.
 */
#include "unit.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"

#define CA_DAYS 400
#define CA_SITE "P01"
#define CA_BASE "http://pki.corp.example/pki"
#define DAY ((int64_t)86400)

#define OID_SERVER_AUTH "1.3.6.1.5.5.7.3.1"
#define OID_CLIENT_AUTH "1.3.6.1.5.5.7.3.2"
#define OID_DOC_SIGNING "1.3.6.1.4.1.311.10.3.12"
#define OID_AMT_SETUP "2.16.840.1.113741.1.2.3"
#define SSS_CN "The site code of this site server signing certificate is "

/* OpenSSL's KU_* bits as X509_get_key_usage() reports them */
#define KU_DS KU_DIGITAL_SIGNATURE
#define KU_KE KU_KEY_ENCIPHERMENT

/* -------------------------------------------------------------- fixture */

typedef enum { K_RSA1024, K_RSA2048, K_RSA4096, K_EC256, K_EC384, K_EC521, K_ED25519, K_EC_EXPLICIT, K_N } key_kind;

#define N_TPL 16

static struct {
	int ready;
	char home[4200], rsa_home[4200];
	sp_secret pass;
	sp_ca *ca, *rsa_ca;
	EVP_PKEY *keys[K_N];
	struct {
		char *name;
		sp_template *t;
	} tpl[N_TPL];
	int n_tpl;
} fx;

static void fixture_free(void)
{
	sp_ca_close(fx.ca);
	sp_ca_close(fx.rsa_ca);
	sp_secret_wipe(&fx.pass);
	for (int i = 0; i < K_N; i++)
		EVP_PKEY_free(fx.keys[i]);
	for (int i = 0; i < fx.n_tpl; i++) {
		free(fx.tpl[i].name);
		sp_template_free(fx.tpl[i].t);
	}
	memset(&fx, 0, sizeof fx);
}

/* A passphrase in secure memory, as sp_secret_* would make it. */
static void secret_set(sp_secret *s, const char *v)
{
	s->len = strlen(v);
	s->buf = OPENSSL_secure_malloc(s->len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->buf);
	memcpy(s->buf, v, s->len + 1);
}

static sp_ca *make_ca(char *home, size_t homesz, const char *alg, const char *name)
{
	sp_ca_init_opts o;
	sp_ca *c = NULL;
	sp_err rc;

	snprintf(home, homesz, "%s/ca", sp_unit_tmpdir());
	memset(&o, 0, sizeof o);
	o.name = name;
	o.org = "sitepki tests";
	o.site_code = CA_SITE;
	o.key_alg = alg;
	o.days = CA_DAYS;
	o.base_url = CA_BASE;
	rc = sp_ca_init(home, &o, &fx.pass);
	if (rc != SP_OK)
		printf("\n    sp_ca_init %s: %s", alg, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	rc = sp_ca_open(home, &fx.pass, &c);
	if (rc != SP_OK)
		printf("\n    sp_ca_open %s: %s", alg, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	return c;
}

/* The CA most tests use: EC P-256. */
static sp_ca *ca(void)
{
	if (fx.ready) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(fx.ca); /* the first attempt failed */
		return fx.ca;
	}
	atexit(fixture_free);
	fx.ready = 1;
	secret_set(&fx.pass, "unit test passphrase, not a real one");
	fx.ca = make_ca(fx.home, sizeof fx.home, "ec-p256", "sitepki Unit Test CA");
	return fx.ca;
}

/* An RSA-2048 CA for the AMT templates, which limit the issuing chain;
 * made only when a test needs it. */
static sp_ca *rsa_ca(void)
{
	static int tried;
	(void)ca();
	if (!tried) {
		tried = 1;
		fx.rsa_ca = make_ca(fx.rsa_home, sizeof fx.rsa_home, "rsa-2048", "sitepki Unit Test RSA CA");
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.rsa_ca);
	return fx.rsa_ca;
}

static sp_store *store(void)
{
	return sp_ca_get0_store(ca());
}

static EVP_PKEY *gen_explicit_ec(void)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	char group[] = "P-256", enc[] = "explicit";
	OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
			       OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, enc, 0), OSSL_PARAM_END};
	CU_ASSERT_FATAL(c && EVP_PKEY_keygen_init(c) == 1 && EVP_PKEY_CTX_set_params(c, params) == 1 &&
			EVP_PKEY_generate(c, &k) == 1);
	EVP_PKEY_CTX_free(c);
	return k;
}

static EVP_PKEY *key(key_kind k)
{
	if (!fx.keys[k]) {
		if (!fx.ready)
			(void)ca(); /* registers the cleanup */
		switch (k) {
		case K_RSA1024: fx.keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024); break;
		case K_RSA2048: fx.keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
		case K_RSA4096: fx.keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096); break;
		case K_EC256: fx.keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
		case K_EC384: fx.keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
		case K_EC521: fx.keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"); break;
		case K_ED25519: fx.keys[k] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
		case K_EC_EXPLICIT: fx.keys[k] = gen_explicit_ec(); break;
		default: break;
		}
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.keys[k]);
	return fx.keys[k];
}

static const sp_template *tpl(const char *name)
{
	sp_template *t = NULL;
	sp_err rc;
	for (int i = 0; i < fx.n_tpl; i++)
		if (!strcmp(fx.tpl[i].name, name))
			return fx.tpl[i].t;
	if (!fx.ready)
		(void)ca();
	rc = sp_template_find(NULL, name, &t);
	if (rc != SP_OK)
		printf("\n    template %s: %s", name, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_FATAL(fx.n_tpl < N_TPL);
	fx.tpl[fx.n_tpl].name = strdup(name);
	fx.tpl[fx.n_tpl].t = t;
	fx.n_tpl++;
	return t;
}

/* --------------------------------------------------------- CSR builder */

typedef struct {
	const char *sn;  /* "CN", "O", "emailAddress", or a dotted OID */
	int type;        /* ASN.1 string type; 0 = UTF8String */
	const char *val; /* bytes */
	int len;         /* 0 = strlen(val) */
	int same_rdn;    /* add to the previous RDN (multi-valued) */
} subj_entry;

enum {
	EXTRA_NONE,
	EXTRA_SECOND_EXT_REQ,   /* + a Microsoft extension request carrying an e-mail SAN */
	EXTRA_EXT_REQ_2_VALUES, /* the extensionRequest SET holds a second value (e-mail SAN) */
	EXTRA_TWO_SAN,
	EXTRA_BAD_SAN,
	EXTRA_CA_EXTS,
	EXTRA_EXT_REQ_NOT_SEQ
};

typedef struct {
	key_kind key;
	subj_entry subj[10];       /* until sn == NULL */
	const char *dns[40];       /* SAN dNSName raw bytes, until NULL */
	const char *upn[4];        /* SAN otherName UPN */
	int upn_type;              /* 0 = UTF8String */
	const char *email[2];      /* SAN rfc822Name */
	const char *ip[2];         /* SAN iPAddress, dotted IPv4 */
	const char *uri[2];        /* SAN URI */
	int extra;                 /* EXTRA_* */
	int corrupt;               /* flip a bit of the signature */
	int ms_ext_req;            /* carry the extensions in Microsoft's attribute */
} csr_spec;

static GENERAL_NAME *gn_string(int gtype, int stype, const char *v)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = ASN1_STRING_type_new(stype);
	CU_ASSERT_FATAL(g && s && ASN1_STRING_set(s, v, (int)strlen(v)));
	GENERAL_NAME_set0_value(g, gtype, s);
	return g;
}

static GENERAL_NAME *gn_upn(const char *v, int type)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = ASN1_STRING_type_new(type ? type : V_ASN1_UTF8STRING);
	ASN1_TYPE *val = ASN1_TYPE_new();
	CU_ASSERT_FATAL(g && s && val && ASN1_STRING_set(s, v, (int)strlen(v)));
	ASN1_TYPE_set(val, type ? type : V_ASN1_UTF8STRING, s);
	CU_ASSERT_FATAL(GENERAL_NAME_set0_othername(g, OBJ_nid2obj(NID_ms_upn), val));
	return g;
}

static GENERAL_NAME *gn_ip(const char *dotted)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_OCTET_STRING *os = a2i_IPADDRESS(dotted);
	CU_ASSERT_FATAL(g && os);
	GENERAL_NAME_set0_value(g, GEN_IPADD, os);
	return g;
}

static void push_ext(STACK_OF(X509_EXTENSION) **exts, int nid, void *value)
{
	CU_ASSERT_FATAL(X509V3_add1_i2d(exts, nid, value, 0, X509V3_ADD_APPEND) == 1);
}

/* One extensionRequest attribute whose SET OF holds two values. */
static void add_ext_attr_2(X509_REQ *req, STACK_OF(X509_EXTENSION) *first, STACK_OF(X509_EXTENSION) *second)
{
	unsigned char *d1 = NULL, *d2 = NULL;
	int n1 = ASN1_item_i2d((const ASN1_VALUE *)first, &d1, ASN1_ITEM_rptr(X509_EXTENSIONS));
	int n2 = ASN1_item_i2d((const ASN1_VALUE *)second, &d2, ASN1_ITEM_rptr(X509_EXTENSIONS));
	X509_ATTRIBUTE *a;
	CU_ASSERT_FATAL(n1 > 0 && n2 > 0);
	a = X509_ATTRIBUTE_create_by_NID(NULL, NID_ext_req, V_ASN1_SEQUENCE, d1, n1);
	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_FATAL(X509_ATTRIBUTE_set1_data(a, V_ASN1_SEQUENCE, d2, n2));
	CU_ASSERT_FATAL(X509_ATTRIBUTE_count(a) == 2);
	CU_ASSERT_FATAL(X509_REQ_add1_attr(req, a));
	X509_ATTRIBUTE_free(a);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
}

static X509_REQ *csr_build(const csr_spec *s, unsigned char **der_out, int *der_len_out)
{
	X509_REQ *req = X509_REQ_new(), *parsed = NULL;
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	EVP_PKEY *k = key(s->key);
	unsigned char *der = NULL;
	int len;
	sp_err rc;

	CU_ASSERT_FATAL(req && name && gens);
	for (int i = 0; i < 10 && s->subj[i].sn; i++) {
		const subj_entry *e = &s->subj[i];
		int nid = OBJ_txt2nid(e->sn);
		if (nid == NID_undef) {
			ASN1_OBJECT *obj = OBJ_txt2obj(e->sn, 1);
			CU_ASSERT_FATAL(obj && X509_NAME_add_entry_by_OBJ(name, obj, e->type ? e->type : V_ASN1_UTF8STRING,
									  (const unsigned char *)e->val,
									  e->len ? e->len : (int)strlen(e->val), -1,
									  e->same_rdn ? -1 : 0));
			ASN1_OBJECT_free(obj);
			continue;
		}
		if (!X509_NAME_add_entry_by_NID(name, nid, e->type ? e->type : V_ASN1_UTF8STRING,
						(const unsigned char *)e->val, e->len ? e->len : (int)strlen(e->val), -1,
						e->same_rdn ? -1 : 0)) {
			printf("\n    cannot add subject %s (type %d): ", e->sn, e->type);
			ERR_print_errors_fp(stdout);
			CU_FAIL_FATAL("subject entry");
		}
	}
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, name));
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, k));

	for (int i = 0; i < 40 && s->dns[i]; i++)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, gn_string(GEN_DNS, V_ASN1_IA5STRING, s->dns[i])));
	for (int i = 0; i < 4 && s->upn[i]; i++)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, gn_upn(s->upn[i], s->upn_type)));
	for (int i = 0; i < 2 && s->email[i]; i++)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, gn_string(GEN_EMAIL, V_ASN1_IA5STRING, s->email[i])));
	for (int i = 0; i < 2 && s->ip[i]; i++)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, gn_ip(s->ip[i])));
	for (int i = 0; i < 2 && s->uri[i]; i++)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, gn_string(GEN_URI, V_ASN1_IA5STRING, s->uri[i])));
	if (sk_GENERAL_NAME_num(gens) > 0)
		push_ext(&exts, NID_subject_alt_name, gens);
	if (s->extra == EXTRA_TWO_SAN) {
		GENERAL_NAMES *g2 = GENERAL_NAMES_new();
		CU_ASSERT_FATAL(g2 && sk_GENERAL_NAME_push(g2, gn_string(GEN_DNS, V_ASN1_IA5STRING, "second.corp.example")));
		push_ext(&exts, NID_subject_alt_name, g2);
		GENERAL_NAMES_free(g2);
	}
	if (s->extra == EXTRA_BAD_SAN) {
		/* a subjectAltName whose value is not GeneralNames */
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
		X509_EXTENSION *ext;
		CU_ASSERT_FATAL(os && ASN1_OCTET_STRING_set(os, (const unsigned char *)"\x04\x03" "abc", 5));
		CU_ASSERT_FATAL((ext = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, os)) != NULL);
		if (!exts)
			CU_ASSERT_FATAL((exts = sk_X509_EXTENSION_new_null()) != NULL);
		CU_ASSERT_FATAL(sk_X509_EXTENSION_push(exts, ext));
		ASN1_OCTET_STRING_free(os);
	}
	if (s->extra == EXTRA_CA_EXTS) {
		/* what a hostile requester would like: CA:TRUE, keyCertSign,
		 * anyExtendedKeyUsage */
		BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
		ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
		EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
		CU_ASSERT_FATAL(bc && ku && eku);
		bc->ca = 0xFF;
		CU_ASSERT_FATAL(ASN1_BIT_STRING_set_bit(ku, 5, 1));
		CU_ASSERT_FATAL(sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_anyExtendedKeyUsage)));
		push_ext(&exts, NID_basic_constraints, bc);
		push_ext(&exts, NID_key_usage, ku);
		push_ext(&exts, NID_ext_key_usage, eku);
		BASIC_CONSTRAINTS_free(bc);
		ASN1_BIT_STRING_free(ku);
		sk_ASN1_OBJECT_free(eku);
	}
	if (s->extra == EXTRA_SECOND_EXT_REQ || s->extra == EXTRA_EXT_REQ_2_VALUES) {
		/* an e-mail name the template does not allow, where a reader of
		 * only the first extension request would not look */
		STACK_OF(X509_EXTENSION) *e2 = NULL;
		GENERAL_NAMES *g2 = GENERAL_NAMES_new();
		CU_ASSERT_FATAL(g2 && sk_GENERAL_NAME_push(g2, gn_string(GEN_EMAIL, V_ASN1_IA5STRING, "evil@corp.example")));
		push_ext(&e2, NID_subject_alt_name, g2);
		CU_ASSERT_FATAL(exts != NULL);
		if (s->extra == EXTRA_SECOND_EXT_REQ) {
			CU_ASSERT_FATAL(X509_REQ_add_extensions_nid(req, exts, NID_ext_req));
			CU_ASSERT_FATAL(X509_REQ_add_extensions_nid(req, e2, NID_ms_ext_req));
		} else {
			add_ext_attr_2(req, exts, e2);
		}
		GENERAL_NAMES_free(g2);
		sk_X509_EXTENSION_pop_free(e2, X509_EXTENSION_free);
	} else if (exts) {
		CU_ASSERT_FATAL(X509_REQ_add_extensions_nid(req, exts, s->ms_ext_req ? NID_ms_ext_req : NID_ext_req));
	}
	if (s->extra == EXTRA_EXT_REQ_NOT_SEQ) {
		/* an extensionRequest whose value is an INTEGER, not Extensions */
		CU_ASSERT_FATAL(X509_REQ_add1_attr_by_NID(req, NID_ext_req, V_ASN1_INTEGER, (const unsigned char *)"\x05", 1));
	}
	CU_ASSERT_FATAL(X509_REQ_sign(req, k, EVP_PKEY_is_a(k, "ED25519") ? NULL : EVP_sha256()) > 0);

	CU_ASSERT_FATAL((len = i2d_X509_REQ(req, &der)) > 0);
	if (s->corrupt)
		der[len - 1] ^= 0x01; /* last byte of the signature */
	/* what the CA sees is what it parses from the wire */
	rc = sp_req_parse(der, (size_t)len, &parsed);
	if (rc != SP_OK)
		printf("\n    sp_req_parse: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);

	if (der_out) {
		*der_out = der;
		*der_len_out = len;
	} else {
		OPENSSL_free(der);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return parsed;
}

static X509_REQ *csr(const csr_spec *s)
{
	return csr_build(s, NULL, NULL);
}

/* ------------------------------------------------------ store snapshots */

typedef struct {
	int64_t certs, audit, requests;
} counts;

static int count_cb_audit(const sp_audit_row *row, void *arg)
{
	(void)row;
	(*(int64_t *)arg)++;
	return 0;
}

static int count_cb_request(const sp_request_row *row, void *arg)
{
	(void)row;
	(*(int64_t *)arg)++;
	return 0;
}

static counts snapshot_of(sp_ca *ca_)
{
	sp_store *st = sp_ca_get0_store(ca_);
	counts c = {0, 0, 0};
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_count(st, &c.certs), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_audit_list(st, 0, count_cb_audit, &c.audit), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_list(st, -1, count_cb_request, &c.requests), SP_OK);
	return c;
}

static counts snapshot(void)
{
	return snapshot_of(ca());
}

static int same_counts(counts a, counts b, int64_t delta)
{
	if (b.certs == a.certs + delta && b.audit == a.audit + delta && b.requests == a.requests + delta)
		return 1;
	printf("\n    counts certs %lld->%lld audit %lld->%lld requests %lld->%lld (expected +%lld)", (long long)a.certs,
	       (long long)b.certs, (long long)a.audit, (long long)b.audit, (long long)a.requests,
	       (long long)b.requests, (long long)delta);
	return 0;
}

static int msg_has(const char *needle)
{
	if (strstr(sp_last_error(), needle))
		return 1;
	printf("\n    message '%s' lacks '%s'", sp_last_error(), needle);
	return 0;
}

/* ------------------------------------------------------------ issuance */

static sp_issue_opts opts0(void)
{
	sp_issue_opts o;
	memset(&o, 0, sizeof o);
	o.requester = "unit:test";
	return o;
}

static char *serial_of(X509 *x, char out[41])
{
	CU_ASSERT_EQUAL_FATAL(sp_serial_hex(X509_get0_serialNumber(x), out, 41), SP_OK);
	return out;
}

/* Issue and require success: +1 certificate, request and audit row, and the
 * stored DER is the returned certificate. */
static X509 *issue_ok_on(sp_ca *c, const char *tname, X509_REQ *req, const sp_issue_opts *o)
{
	counts before = snapshot_of(c), after;
	sp_cert_row row;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int der_len;
	char serial[41];
	sp_err rc = sp_issue(c, tpl(tname), req, o, &x);

	if (rc != SP_OK)
		printf("\n    %s: refused: %s", tname, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	after = snapshot_of(c);
	CU_ASSERT(same_counts(before, after, 1));

	memset(&row, 0, sizeof row);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(sp_ca_get0_store(c), serial_of(x, serial), &row), SP_OK);
	CU_ASSERT_FATAL((der_len = i2d_X509(x, &der)) > 0);
	CU_ASSERT_EQUAL(row.der_len, (size_t)der_len);
	CU_ASSERT(row.der_len == (size_t)der_len && memcmp(row.der, der, (size_t)der_len) == 0);
	CU_ASSERT_STRING_EQUAL(row.serial, serial);
	CU_ASSERT_STRING_EQUAL(row.template_name, tname);
	CU_ASSERT_EQUAL(row.status, SP_CERT_VALID);
	OPENSSL_free(der);
	sp_cert_row_clear(&row);
	return x;
}

static X509 *issue_ok(const char *tname, X509_REQ *req, const sp_issue_opts *o)
{
	return issue_ok_on(ca(), tname, req, o);
}

/* Issue and require a refusal with `want` and a message containing
 * `needle`; nothing may be recorded. */
static void issue_refused_on(sp_ca *c, const sp_template *t, X509_REQ *req, const sp_issue_opts *o, sp_err want,
			     const char *needle)
{
	counts before = snapshot_of(c), after;
	X509 *x = NULL;
	sp_err rc;

	sp_clear_error();
	rc = sp_issue(c, t, req, o, &x);
	if (rc != want)
		printf("\n    %s: expected %s, got %s (%s)", t->name, sp_err_name(want), sp_err_name(rc),
		       sp_last_error());
	CU_ASSERT_EQUAL(rc, want);
	CU_ASSERT_PTR_NULL(x);
	X509_free(x);
	if (rc != SP_OK && needle)
		CU_ASSERT(msg_has(needle));
	after = snapshot_of(c);
	CU_ASSERT(same_counts(before, after, 0));
}

static void issue_refused_t(const sp_template *t, X509_REQ *req, const sp_issue_opts *o, sp_err want,
			    const char *needle)
{
	issue_refused_on(ca(), t, req, o, want, needle);
}

static void issue_refused(const char *tname, X509_REQ *req, const sp_issue_opts *o, sp_err want, const char *needle)
{
	issue_refused_t(tpl(tname), req, o, want, needle);
}

/* ------------------------------------------------- certificate checks */

typedef struct {
	const char *subject[8][2]; /* issued subject, in order: {sn, value} */
	const char *san[40];       /* "DNS:x" / "UPN:y" in any order */
	const char *eku[4];        /* OIDs in order */
	unsigned ku;               /* OpenSSL KU_* bits */
	int days;                  /* template validity; clipped to the CA's */
	int purpose;               /* X509_PURPOSE_* for the verifier, 0 = none */
} expect;

static int64_t time_of(const ASN1_TIME *t)
{
	int64_t v = 0;
	CU_ASSERT_EQUAL_FATAL(sp_asn1_time_to_unix(t, &v), SP_OK);
	return v;
}

static char *san_text(const GENERAL_NAME *g)
{
	char *s = malloc(600);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	if (g->type == GEN_DNS)
		snprintf(s, 600, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
			 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
	else if (g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn &&
		 g->d.otherName->value->type == V_ASN1_UTF8STRING)
		snprintf(s, 600, "UPN:%.*s", ASN1_STRING_length(g->d.otherName->value->value.utf8string),
			 (const char *)ASN1_STRING_get0_data(g->d.otherName->value->value.utf8string));
	else
		snprintf(s, 600, "other:%d", g->type);
	return s;
}

static const char *uri_of(const GENERAL_NAMES *names)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_URI)
			return (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
	}
	return NULL;
}

/* Independent judge: OpenSSL's verifier, strict, with the CA as anchor. */
static int openssl_verifies_on(sp_ca *c, X509 *x, int purpose)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;
	CU_ASSERT_FATAL(st && ctx && X509_STORE_add_cert(st, sp_ca_get0_cert(c)));
	CU_ASSERT_FATAL(X509_STORE_CTX_init(ctx, st, x, NULL));
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_X509_STRICT);
	if (purpose)
		CU_ASSERT_FATAL(X509_STORE_CTX_set_purpose(ctx, purpose));
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		printf("\n    openssl verify: %s", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok;
}

static int openssl_verifies(X509 *x, int purpose)
{
	return openssl_verifies_on(ca(), x, purpose);
}

/* The certificate as a client receives it: DER, decoded afresh. */
static X509 *wire(X509 *x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	int len = i2d_X509(x, &der);
	X509 *w;
	CU_ASSERT_FATAL(len > 0);
	p = der;
	w = d2i_X509(NULL, &p, len);
	CU_ASSERT_FATAL(w != NULL && p == der + len);
	OPENSSL_free(der);
	return w;
}

/* Same SubjectPublicKeyInfo, byte for byte. */
static int same_spki(X509 *x, X509_REQ *req)
{
	unsigned char *a = NULL, *b = NULL;
	int na = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &a);
	int nb = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &b);
	int same = na > 0 && na == nb && memcmp(a, b, (size_t)na) == 0;
	OPENSSL_free(a);
	OPENSSL_free(b);
	return same;
}

static void check_cert_wire(sp_ca *c, X509 *x, X509_REQ *req, const expect *e);

/* Judge the certificate as a client receives it (re-decoded DER). */
static void check_cert_on(sp_ca *c, X509 *issued, X509_REQ *req, const expect *e)
{
	X509 *w = wire(issued);
	CU_ASSERT(same_spki(issued, req));
	check_cert_wire(c, w, req, e);
	X509_free(w);
}

static void check_cert(X509 *issued, X509_REQ *req, const expect *e)
{
	check_cert_on(ca(), issued, req, e);
}

static void check_cert_wire(sp_ca *c, X509 *x, X509_REQ *req, const expect *e)
{
	X509 *cacert = sp_ca_get0_cert(c);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	const X509_NAME *subj = X509_get_subject_name(x);
	int64_t nb, na, ca_na, want_na;
	int crit = -1, n_ext = 7, n;

	/* signed by the CA, v3, the requester's key */
	CU_ASSERT_EQUAL(X509_verify(x, X509_get0_pubkey(cacert)), 1);
	CU_ASSERT_EQUAL(X509_get_version(x), X509_VERSION_3);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(cacert)), 0);
	CU_ASSERT(same_spki(x, req));
	CU_ASSERT_PTR_NOT_NULL(X509_get0_pubkey(x));
	{
		/* a parsed CSR's key is decoded on demand (common/req_key.c) */
		EVP_PKEY *rk = NULL;
		CU_ASSERT_EQUAL(sp_req_get1_pubkey(req, &rk), SP_OK);
		CU_ASSERT(X509_get0_pubkey(x) && rk && EVP_PKEY_eq(X509_get0_pubkey(x), rk) == 1);
		EVP_PKEY_free(rk);
	}

	/* serial: positive, exactly 16 bytes, top bits 01 */
	CU_ASSERT_EQUAL(serial->type, V_ASN1_INTEGER);
	CU_ASSERT_EQUAL(ASN1_STRING_length(serial), 16);
	CU_ASSERT_EQUAL(ASN1_STRING_get0_data(serial)[0] & 0xC0, 0x40);

	/* validity: the template's, clipped to the CA's notAfter */
	nb = time_of(X509_get0_notBefore(x));
	na = time_of(X509_get0_notAfter(x));
	ca_na = time_of(X509_get0_notAfter(cacert));
	want_na = nb + e->days * DAY < ca_na ? nb + e->days * DAY : ca_na;
	CU_ASSERT_EQUAL(na, want_na);
	CU_ASSERT(na <= ca_na);
	CU_ASSERT(nb >= time_of(X509_get0_notBefore(cacert)));

	/* subject, in the template's order, re-encoded as PrintableString or
	 * ASCII UTF8String whatever the CSR used */
	n = 0;
	while (n < 8 && e->subject[n][0])
		n++;
	CU_ASSERT_EQUAL(X509_NAME_entry_count(subj), n);
	for (int i = 0; i < n && i < X509_NAME_entry_count(subj); i++) {
		const X509_NAME_ENTRY *ne = X509_NAME_get_entry(subj, i);
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(ne);
		CU_ASSERT_STRING_EQUAL(OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(ne))), e->subject[i][0]);
		CU_ASSERT_EQUAL((size_t)ASN1_STRING_length(v), strlen(e->subject[i][1]));
		CU_ASSERT(strncmp((const char *)ASN1_STRING_get0_data(v), e->subject[i][1], strlen(e->subject[i][1])) ==
			  0);
		CU_ASSERT(v->type == V_ASN1_PRINTABLESTRING || v->type == V_ASN1_UTF8STRING);
		CU_ASSERT_EQUAL(sp_name_check_string(v, "issued"), SP_OK);
	}

	/* basicConstraints CA:FALSE, critical */
	{
		BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
		CU_ASSERT_PTR_NOT_NULL(bc);
		if (bc)
			CU_ASSERT_EQUAL(bc->ca, 0);
		CU_ASSERT_EQUAL(crit, 1);
		BASIC_CONSTRAINTS_free(bc);
	}
	/* keyUsage exactly, critical (every shipped template says so) */
	{
		ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
		CU_ASSERT_PTR_NOT_NULL(ku);
		CU_ASSERT_EQUAL(crit, 1);
		CU_ASSERT_EQUAL(X509_get_key_usage(x), e->ku);
		ASN1_BIT_STRING_free(ku);
	}
	/* extendedKeyUsage exactly, in order */
	{
		EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
		int want = 0;
		while (want < 4 && e->eku[want])
			want++;
		CU_ASSERT_PTR_NOT_NULL_FATAL(eku);
		CU_ASSERT_EQUAL(sk_ASN1_OBJECT_num(eku), want);
		for (int i = 0; i < want && i < sk_ASN1_OBJECT_num(eku); i++) {
			char oid[80];
			OBJ_obj2txt(oid, sizeof oid, sk_ASN1_OBJECT_value(eku, i), 1);
			CU_ASSERT_STRING_EQUAL(oid, e->eku[i]);
		}
		sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	}
	/* subjectAltName: exactly the expected names, each once */
	{
		GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
		int want = 0;
		while (want < 40 && e->san[want])
			want++;
		if (want == 0) {
			CU_ASSERT_PTR_NULL(san);
			CU_ASSERT(X509_get_ext_by_NID(x, NID_subject_alt_name, -1) < 0);
		} else {
			n_ext++;
			CU_ASSERT_PTR_NOT_NULL_FATAL(san);
			CU_ASSERT_EQUAL(sk_GENERAL_NAME_num(san), want);
			CU_ASSERT_EQUAL(crit, X509_NAME_entry_count(subj) == 0);
			for (int i = 0; i < want; i++) {
				int found = 0;
				for (int j = 0; j < sk_GENERAL_NAME_num(san); j++) {
					char *s = san_text(sk_GENERAL_NAME_value(san, j));
					found += !strcmp(s, e->san[i]);
					free(s);
				}
				if (found != 1)
					printf("\n    SAN %s found %d times", e->san[i], found);
				CU_ASSERT_EQUAL(found, 1);
			}
		}
		GENERAL_NAMES_free(san);
	}
	/* SKI = SHA-1 of the key bits (RFC 5280 4.2.1.2 (1)); AKI = CA's SKI */
	{
		const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(x);
		const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
		const ASN1_OCTET_STRING *ca_ski = X509_get0_subject_key_id(cacert);
		const unsigned char *pk = NULL;
		int pklen = 0;
		unsigned char md[20];
		CU_ASSERT_PTR_NOT_NULL_FATAL(ski);
		CU_ASSERT_PTR_NOT_NULL_FATAL(aki);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ca_ski);
		CU_ASSERT_EQUAL(ASN1_OCTET_STRING_cmp(aki, ca_ski), 0);
		CU_ASSERT_FATAL(X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, X509_get_X509_PUBKEY(x)));
		CU_ASSERT_FATAL(EVP_Digest(pk, (size_t)pklen, md, NULL, EVP_sha1(), NULL));
		CU_ASSERT(ASN1_STRING_length(ski) == 20 && memcmp(ASN1_STRING_get0_data(ski), md, 20) == 0);
	}
	/* CDP and AIA caIssuers under the CA's base URL */
	{
		STACK_OF(DIST_POINT) *cdp = X509_get_ext_d2i(x, NID_crl_distribution_points, &crit, NULL);
		AUTHORITY_INFO_ACCESS *aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL);
		const char *url;
		CU_ASSERT_PTR_NOT_NULL_FATAL(cdp);
		CU_ASSERT_PTR_NOT_NULL_FATAL(aia);
		CU_ASSERT_EQUAL(sk_DIST_POINT_num(cdp), 1);
		url = uri_of(sk_DIST_POINT_value(cdp, 0)->distpoint->name.fullname);
		CU_ASSERT_PTR_NOT_NULL(url);
		if (url) {
			CU_ASSERT_STRING_EQUAL(url, sp_ca_crl_url(c));
			CU_ASSERT(strncmp(url, CA_BASE "/crl/", strlen(CA_BASE "/crl/")) == 0);
		}
		CU_ASSERT_EQUAL(sk_ACCESS_DESCRIPTION_num(aia), 1);
		{
			ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, 0);
			CU_ASSERT_EQUAL(OBJ_obj2nid(ad->method), NID_ad_ca_issuers);
			CU_ASSERT_EQUAL(ad->location->type, GEN_URI);
			if (ad->location->type == GEN_URI) {
				CU_ASSERT_STRING_EQUAL((const char *)ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier),
						       sp_ca_aia_url(c));
			}
		}
		sk_DIST_POINT_pop_free(cdp, DIST_POINT_free);
		AUTHORITY_INFO_ACCESS_free(aia);
	}
	/* nothing else: no extension from the CSR leaks through */
	CU_ASSERT_EQUAL(X509_get_ext_count(x), n_ext);

	CU_ASSERT(openssl_verifies_on(c, x, e->purpose));
}

/* ------------------------------------------------------------- templates */

static void test_web_server_ec(void)
{
	csr_spec s = {.key = K_EC256,
		      .subj = {{"CN", 0, "www.corp.example"}},
		      .dns = {"www.corp.example", "intranet.corp.example"}};
	expect e = {.subject = {{"CN", "www.corp.example"}},
		    .san = {"DNS:www.corp.example", "DNS:intranet.corp.example"},
		    .eku = {OID_SERVER_AUTH},
		    .ku = KU_DS, /* EC: no keyEncipherment (RFC 5480 3) */
		    .days = 730, /* clipped: the CA has 400 days */
		    .purpose = X509_PURPOSE_SSL_SERVER};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("web-server", req, &o);
	check_cert(x, req, &e);
	/* clipped to exactly the CA's notAfter */
	CU_ASSERT_EQUAL(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(sp_ca_get0_cert(ca()))), 0);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_web_server_rsa_and_p384(void)
{
	csr_spec s = {.key = K_RSA2048,
		      .subj = {{"C", V_ASN1_PRINTABLESTRING, "GB"},
			       {"O", 0, "Contoso"},
			       {"CN", 0, "www.corp.example"}},
		      .dns = {"www.corp.example"}};
	expect e = {.subject = {{"C", "GB"}, {"O", "Contoso"}, {"CN", "www.corp.example"}},
		    .san = {"DNS:www.corp.example"},
		    .eku = {OID_SERVER_AUTH},
		    .ku = KU_DS | KU_KE,
		    .days = 730,
		    .purpose = X509_PURPOSE_SSL_SERVER};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("web-server", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);

	s.key = K_EC384;
	e.ku = KU_DS;
	req = csr(&s);
	x = issue_ok("web-server", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_amt_provisioning(void)
{
	csr_spec s = {.key = K_RSA2048, .subj = {{"O", 0, "Contoso"}, {"CN", 0, "oob.corp.example"}}};
	expect e = {.subject = {{"O", "Contoso"}, {"CN", "oob.corp.example"}},
		    .eku = {OID_SERVER_AUTH, OID_AMT_SETUP},
		    .ku = KU_DS | KU_KE,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_SERVER};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("amt-provisioning", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_amt_web_server_cli_dns(void)
{
	const char *dns[] = {"amt01.corp.example"};
	csr_spec s = {.key = K_RSA2048, .subj = {{"CN", 0, "amt01.corp.example"}}};
	expect e = {.subject = {{"CN", "amt01.corp.example"}},
		    .san = {"DNS:amt01.corp.example"},
		    .eku = {OID_SERVER_AUTH},
		    .ku = KU_DS | KU_KE,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_SERVER};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x;
	o.dns = dns;
	o.n_dns = 1;
	/* AMT: every CA key in the chain RSA <= 2048 */
	x = issue_ok_on(rsa_ca(), "amt-web-server", req, &o);
	check_cert_on(rsa_ca(), x, req, &e);
	X509_free(x);
	/* the EC CA may not issue it, whatever the request */
	issue_refused("amt-web-server", req, &o, SP_ERR_POLICY,
		      "template amt-web-server needs an RSA key in every CA of the chain, and 'sitepki Unit Test CA' has a EC key");
	X509_REQ_free(req);
}

static void test_amt_8021x_client(void)
{
	csr_spec s = {.key = K_RSA2048, .subj = {{"CN", 0, "amt01.corp.example"}}, .upn = {"amt01@corp.example"}};
	expect e = {.subject = {{"CN", "amt01.corp.example"}},
		    .san = {"UPN:amt01@corp.example"},
		    .eku = {OID_CLIENT_AUTH},
		    .ku = KU_DS | KU_KE,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_CLIENT};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("amt-8021x-client", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_client_auth_order(void)
{
	/* the CSR lists its attributes in another order: the certificate has
	 * the template's order (C, ST, L, O, OU, CN) */
	csr_spec s = {.key = K_RSA2048,
		      .subj = {{"CN", 0, "pc01.corp.example"},
			       {"OU", 0, "Desktops"},
			       {"OU", 0, "IT"},
			       {"O", 0, "Contoso Ltd."},
			       {"L", 0, "London"},
			       {"ST", 0, "Greater London"},
			       {"C", V_ASN1_PRINTABLESTRING, "GB"}}};
	expect e = {.subject = {{"C", "GB"},
				{"ST", "Greater London"},
				{"L", "London"},
				{"O", "Contoso Ltd."},
				{"OU", "Desktops"},
				{"OU", "IT"},
				{"CN", "pc01.corp.example"}},
		    .eku = {OID_CLIENT_AUTH},
		    .ku = KU_DS | KU_KE,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_CLIENT};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("client-auth", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_isv_proxy(void)
{
	csr_spec s = {.key = K_RSA2048, .subj = {{"O", 0, "Contoso"}, {"CN", 0, "ISV Proxy 01"}}};
	expect e = {.subject = {{"O", "Contoso"}, {"CN", "ISV Proxy 01"}},
		    .eku = {OID_CLIENT_AUTH},
		    .ku = KU_DS,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_CLIENT};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("isv-proxy", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_mobile_device_cli_upn(void)
{
	csr_spec s = {.key = K_RSA2048, .subj = {{"CN", 0, "Jane Doe"}}};
	expect e = {.subject = {{"CN", "Jane Doe"}},
		    .san = {"UPN:jane.doe@corp.example"},
		    .eku = {OID_CLIENT_AUTH},
		    .ku = KU_DS | KU_KE,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_CLIENT};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x;
	o.upn = "jane.doe@corp.example";
	x = issue_ok("mobile-device", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_osd_media(void)
{
	const char *dns[] = {"pxe.corp.example"};
	csr_spec s = {.key = K_RSA2048, .subj = {{"O", 0, "Contoso"}, {"CN", 0, "OSD Media"}}};
	expect e = {.subject = {{"O", "Contoso"}, {"CN", "OSD Media"}},
		    .san = {"DNS:pxe.corp.example"},
		    .eku = {OID_CLIENT_AUTH},
		    .ku = KU_DS | KU_KE,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_CLIENT};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x;
	o.dns = dns;
	o.n_dns = 1;
	x = issue_ok("osd-media", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_site_server_signing(void)
{
	/* empty CSR subject: the CN is built from the CA's site code */
	csr_spec s = {.key = K_RSA2048};
	expect e = {.subject = {{"CN", SSS_CN CA_SITE}},
		    .eku = {OID_DOC_SIGNING},
		    .ku = KU_DS,
		    .days = 365};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("site-server-signing", req, &o);
	check_cert(x, req, &e);
	X509_free(x);

	/* --site-code wins over the CA's default */
	o.site_code = "XYZ";
	e.subject[0][1] = SSS_CN "XYZ";
	x = issue_ok("site-server-signing", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);

	/* a CSR CN equal to the built one is fine */
	{
		csr_spec s2 = {.key = K_RSA2048, .subj = {{"CN", 0, SSS_CN CA_SITE}}};
		sp_issue_opts o2 = opts0();
		req = csr(&s2);
		e.subject[0][1] = SSS_CN CA_SITE;
		x = issue_ok("site-server-signing", req, &o2);
		check_cert(x, req, &e);
		X509_free(x);
		X509_REQ_free(req);
	}
}

static void test_site_server_signing_refusals(void)
{
	sp_issue_opts o = opts0();
	{
		/* a CN carrying another site code */
		csr_spec s = {.key = K_RSA2048, .subj = {{"CN", 0, SSS_CN "ABC"}}};
		X509_REQ *req = csr(&s);
		issue_refused("site-server-signing", req, &o, SP_ERR_POLICY, "does not match");
		X509_REQ_free(req);
	}
	{
		/* any other CN */
		csr_spec s = {.key = K_RSA2048, .subj = {{"CN", 0, "siteserver.corp.example"}}};
		X509_REQ *req = csr(&s);
		issue_refused("site-server-signing", req, &o, SP_ERR_POLICY, "does not match");
		X509_REQ_free(req);
	}
	{
		/* an attribute the template does not list */
		csr_spec s = {.key = K_RSA2048, .subj = {{"O", 0, "Contoso"}}};
		X509_REQ *req = csr(&s);
		issue_refused("site-server-signing", req, &o, SP_ERR_POLICY, "not allowed by template site-server-signing");
		X509_REQ_free(req);
	}
	{
		/* a DNS name in the CSR: refused, not dropped */
		csr_spec s = {.key = K_RSA2048, .dns = {"siteserver.corp.example"}};
		X509_REQ *req = csr(&s);
		issue_refused("site-server-signing", req, &o, SP_ERR_POLICY, "does not accept DNS names in the CSR");
		X509_REQ_free(req);
	}
	{
		/* a UPN in the CSR */
		csr_spec s = {.key = K_RSA2048, .upn = {"svc@corp.example"}};
		X509_REQ *req = csr(&s);
		issue_refused("site-server-signing", req, &o, SP_ERR_POLICY, "does not accept a UPN in the CSR");
		X509_REQ_free(req);
	}
	{
		/* --dns and --upn where the template takes neither */
		const char *dns[] = {"siteserver.corp.example"};
		csr_spec s = {.key = K_RSA2048};
		X509_REQ *req = csr(&s);
		sp_issue_opts o2 = opts0();
		o2.dns = dns;
		o2.n_dns = 1;
		issue_refused("site-server-signing", req, &o2, SP_ERR_POLICY,
			      "does not accept DNS names from the command line");
		o2 = opts0();
		o2.upn = "svc@corp.example";
		issue_refused("site-server-signing", req, &o2, SP_ERR_POLICY, "does not accept a UPN from the command line");
		/* a malformed site code */
		o2 = opts0();
		o2.site_code = "AB";
		issue_refused("site-server-signing", req, &o2, SP_ERR_POLICY, "site code 'AB'");
		o2.site_code = "A-C";
		issue_refused("site-server-signing", req, &o2, SP_ERR_POLICY, "site code 'A-C'");
		o2.site_code = "P\xc3\xa9";
		issue_refused("site-server-signing", req, &o2, SP_ERR_POLICY, "site code");
		X509_REQ_free(req);
	}
}

/* --------------------------------------------------------------- names */

static void test_cli_dns_only_where_allowed(void)
{
	const char *dns[] = {"extra.corp.example"};
	csr_spec s = {.key = K_RSA2048, .subj = {{"CN", 0, "ISV Proxy 02"}}};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	o.dns = dns;
	o.n_dns = 1;
	issue_refused("isv-proxy", req, &o, SP_ERR_POLICY, "does not accept DNS names from the command line");
	issue_refused("mobile-device", req, &o, SP_ERR_POLICY, "does not accept DNS names from the command line");
	X509_REQ_free(req);

	/* and where allowed, it is added next to the CSR's */
	{
		csr_spec s2 = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
		expect e = {.subject = {{"CN", "www.corp.example"}},
			    .san = {"DNS:www.corp.example", "DNS:extra.corp.example"},
			    .eku = {OID_SERVER_AUTH},
			    .ku = KU_DS,
			    .days = 730,
			    .purpose = X509_PURPOSE_SSL_SERVER};
		X509 *x;
		req = csr(&s2);
		x = issue_ok("web-server", req, &o);
		check_cert(x, req, &e);
		X509_free(x);
		X509_REQ_free(req);
	}
	/* a bad --dns value is refused by the DNS rule */
	{
		const char *bad[] = {"bad_name.corp.example"};
		csr_spec s3 = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
		req = csr(&s3);
		o.dns = bad;
		issue_refused("web-server", req, &o, SP_ERR_POLICY, "--dns");
		X509_REQ_free(req);
	}
}

static void test_cli_upn_only_where_allowed(void)
{
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	o.upn = "user@corp.example";
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "does not accept a UPN from the command line");
	X509_REQ_free(req);
	{
		/* mobile-device takes at most one UPN: CSR + a different --upn */
		csr_spec s2 = {.key = K_RSA2048, .subj = {{"CN", 0, "Jane"}}, .upn = {"jane@corp.example"}};
		req = csr(&s2);
		issue_refused("mobile-device", req, &o, SP_ERR_POLICY, "at most 1 UPN");
		/* the same UPN twice is one name */
		o.upn = "JANE@corp.example";
		{
			expect e = {.subject = {{"CN", "Jane"}},
				    .san = {"UPN:jane@corp.example"},
				    .eku = {OID_CLIENT_AUTH},
				    .ku = KU_DS | KU_KE,
				    .days = 365,
				    .purpose = X509_PURPOSE_SSL_CLIENT};
			X509 *x = issue_ok("mobile-device", req, &o);
			check_cert(x, req, &e);
			X509_free(x);
		}
		/* a malformed --upn */
		o.upn = "jane";
		issue_refused("mobile-device", req, &o, SP_ERR_POLICY, "--upn");
		X509_REQ_free(req);
	}
}

/* Templates written here: a name source the shipped ones do not use. */
static sp_template *custom_template(const char *dns_from)
{
	char xml[2048];
	sp_template *t = NULL;
	sp_err rc;
	snprintf(xml, sizeof xml,
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		 "<template xmlns=\"urn:sitepki:template:1\" name=\"custom-%s\">\n"
		 "  <description>unit test</description>\n"
		 "  <validity days=\"30\"/>\n  <signature hash=\"sha256\"/>\n"
		 "  <keys><ec curve=\"P-256\"/></keys>\n"
		 "  <keyUsage critical=\"true\"><usage>digitalSignature</usage></keyUsage>\n"
		 "  <extendedKeyUsage><purpose name=\"serverAuth\">1.3.6.1.5.5.7.3.1</purpose></extendedKeyUsage>\n"
		 "  <subject><attribute type=\"CN\" format=\"dns\"/></subject>\n"
		 "  <subjectAltName><dns from=\"%s\" min=\"0\" max=\"4\"/></subjectAltName>\n"
		 "  <enrollment autoApprove=\"\"/>\n</template>\n",
		 dns_from, dns_from);
	rc = sp_template_parse(xml, strlen(xml), "unit", &t);
	if (rc != SP_OK)
		printf("\n    custom template: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	return t;
}

static void test_name_sources(void)
{
	sp_template *csr_only = custom_template("csr"), *cli_only = custom_template("cli");
	const char *dns[] = {"cli.corp.example"};
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "h.corp.example"}}, .dns = {"csr.corp.example"}};
	csr_spec bare = {.key = K_EC256, .subj = {{"CN", 0, "h.corp.example"}}};
	X509_REQ *with_dns = csr(&s), *without = csr(&bare);
	sp_issue_opts o = opts0(), cli = opts0();
	X509 *x = NULL;

	cli.dns = dns;
	cli.n_dns = 1;
	issue_refused_t(csr_only, without, &cli, SP_ERR_POLICY, "does not accept DNS names from the command line");
	issue_refused_t(cli_only, with_dns, &o, SP_ERR_POLICY, "does not accept DNS names in the CSR");
	/* each from its allowed source works */
	CU_ASSERT_EQUAL(sp_issue(ca(), csr_only, with_dns, &o, &x), SP_OK);
	X509_free(x);
	x = NULL;
	CU_ASSERT_EQUAL(sp_issue(ca(), cli_only, without, &cli, &x), SP_OK);
	if (x) {
		/* 30-day template under a 400-day CA: not clipped */
		CU_ASSERT_EQUAL(time_of(X509_get0_notAfter(x)) - time_of(X509_get0_notBefore(x)), 30 * DAY);
	}
	X509_free(x);
	sp_template_free(csr_only);
	sp_template_free(cli_only);
	X509_REQ_free(with_dns);
	X509_REQ_free(without);
}

static void test_duplicate_dns_merged(void)
{
	const char *dns[] = {"www.CORP.example", "other.corp.example", "OTHER.corp.EXAMPLE"};
	csr_spec s = {.key = K_EC256,
		      .subj = {{"CN", 0, "www.corp.example"}},
		      .dns = {"www.corp.example", "WWW.Corp.Example", "www.corp.example"}};
	expect e = {.subject = {{"CN", "www.corp.example"}},
		    .san = {"DNS:www.corp.example", "DNS:other.corp.example"},
		    .eku = {OID_SERVER_AUTH},
		    .ku = KU_DS,
		    .days = 730,
		    .purpose = X509_PURPOSE_SSL_SERVER};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x;
	sp_cert_row row;
	char serial[41];

	o.dns = dns;
	o.n_dns = 3;
	x = issue_ok("web-server", req, &o);
	check_cert(x, req, &e);
	memset(&row, 0, sizeof row);
	CU_ASSERT_EQUAL(sp_store_cert_get(store(), serial_of(x, serial), &row), SP_OK);
	if (row.sans)
		CU_ASSERT_STRING_EQUAL(row.sans, "DNS:www.corp.example, DNS:other.corp.example");
	sp_cert_row_clear(&row);
	X509_free(x);
	X509_REQ_free(req);
}

static void test_dns_count_limits(void)
{
	/* web-server: 1..32 DNS names after merging */
	static char names[33][40];
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}};
	sp_issue_opts o = opts0();
	X509_REQ *req;
	X509 *x;

	for (int i = 0; i < 33; i++) {
		snprintf(names[i], sizeof names[i], "host%02d.corp.example", i);
		s.dns[i] = names[i];
	}
	req = csr(&s);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "at most 32 DNS name(s), got 33");
	X509_REQ_free(req);

	s.dns[32] = "HOST00.corp.example"; /* a duplicate: 32 distinct names */
	req = csr(&s);
	x = issue_ok("web-server", req, &o);
	X509_free(x);
	X509_REQ_free(req);

	memset(s.dns, 0, sizeof s.dns);
	req = csr(&s);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "needs at least 1 DNS name(s)");
	X509_REQ_free(req);
	{
		csr_spec u = {.key = K_RSA2048, .subj = {{"CN", 0, "amt01.corp.example"}}};
		req = csr(&u);
		issue_refused("amt-8021x-client", req, &o, SP_ERR_POLICY, "needs at least 1 UPN name(s)");
		X509_REQ_free(req);
	}
}

static void test_san_types_refused(void)
{
	sp_issue_opts o = opts0();
	struct {
		csr_spec s;
		const char *needle;
	} cases[] = {
		{{.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"},
		  .email = {"admin@corp.example"}},
		 "SAN email names are not allowed by template web-server"},
		{{.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"},
		  .ip = {"10.0.0.1"}},
		 "SAN IP address names are not allowed"},
		{{.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"},
		  .uri = {"http://www.corp.example/"}},
		 "SAN URI names are not allowed"},
		{{.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"},
		  .upn = {"user@corp.example"}},
		 "does not accept a UPN in the CSR"},
		{{.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"},
		  .extra = EXTRA_TWO_SAN},
		 "more than one subjectAltName"},
		{{.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example", "*.corp.example"}},
		 "wildcard"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		X509_REQ *req = csr(&cases[i].s);
		issue_refused("web-server", req, &o, SP_ERR_POLICY, cases[i].needle);
		X509_REQ_free(req);
	}
	{
		csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .extra = EXTRA_BAD_SAN};
		X509_REQ *req = csr(&s);
		issue_refused("web-server", req, &o, SP_ERR_INPUT, "malformed subjectAltName");
		X509_REQ_free(req);
	}
	{
		/* a UPN must be a UTF8String */
		csr_spec s = {.key = K_RSA2048, .subj = {{"CN", 0, "Jane"}}, .upn = {"jane@corp.example"},
			      .upn_type = V_ASN1_IA5STRING};
		X509_REQ *req = csr(&s);
		issue_refused("mobile-device", req, &o, SP_ERR_POLICY, "SAN UPN must be a UTF8String");
		X509_REQ_free(req);
	}
}

static void test_subject_refusals(void)
{
	sp_issue_opts o = opts0();
	struct {
		const char *tname;
		csr_spec s;
		const char *needle;
	} cases[] = {
		{"web-server",
		 {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}, {"emailAddress", V_ASN1_IA5STRING, "a@corp.example"}},
		  .dns = {"www.corp.example"}},
		 "subject attribute emailAddress is not allowed by template web-server"},
		{"web-server",
		 {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}, {"1.2.3.4", 0, "x"}}, .dns = {"www.corp.example"}},
		 "subject attribute 1.2.3.4 is not allowed"},
		{"web-server",
		 {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}, {"serialNumber", V_ASN1_PRINTABLESTRING, "1"}},
		  .dns = {"www.corp.example"}},
		 "serialNumber is not allowed"},
		{"web-server",
		 {.key = K_EC256, .subj = {{"CN", 0, "a.corp.example"}, {"CN", 0, "b.corp.example"}}, .dns = {"a.corp.example"}},
		 "more than one CN"},
		{"web-server",
		 {.key = K_EC256, .subj = {{"O", 0, "Contoso"}, {"CN", 0, "a.corp.example", 0, 1}}, .dns = {"a.corp.example"}},
		 "multi-valued RDN"},
		{"web-server", {.key = K_EC256, .subj = {{"O", 0, "Contoso"}}, .dns = {"a.corp.example"}},
		 "requires a subject CN"},
		{"web-server",
		 {.key = K_EC256, .subj = {{"CN", 0, "not a host name"}}, .dns = {"a.corp.example"}},
		 "subject CN: 'not a host name' is not an LDH host name"},
		{"client-auth",
		 {.key = K_RSA2048, .subj = {{"C", V_ASN1_PRINTABLESTRING, "GBR"}, {"CN", 0, "pc.corp.example"}}},
		 "two-letter country code"},
		{"isv-proxy", {.key = K_RSA2048, .subj = {{"CN", 0, ""}}}, "subject CN: empty value"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		X509_REQ *req = csr(&cases[i].s);
		issue_refused(cases[i].tname, req, &o, SP_ERR_POLICY, cases[i].needle);
		X509_REQ_free(req);
	}
}

/* The single-byte rule at issuance, in every string type a CSR can use. */
static void test_non_ascii_names_refused(void)
{
	static const unsigned char bmp_cjk[] = {0, 'w', 0x4E, 0x2D, 0, 'x'};
	static const unsigned char uni_cjk[] = {0, 0, 0, 'w', 0, 0, 0x4E, 0x2D};
	static const unsigned char bmp_fw[] = {0xFF, 0x21, 0, 'b'};
	sp_issue_opts o = opts0();
	struct {
		csr_spec s;
		const char *needle;
	} cases[] = {
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_UTF8STRING, "Jos\xc3\xa9"}}}, "subject CN: character 4 is U+00E9"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_BMPSTRING, (const char *)bmp_cjk, sizeof bmp_cjk}}},
		 "subject CN: character 2 is U+4E2D"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_UNIVERSALSTRING, (const char *)uni_cjk, sizeof uni_cjk}}},
		 "subject CN: character 2 is U+4E2D"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_BMPSTRING, (const char *)bmp_fw, sizeof bmp_fw}}},
		 "character 1 is U+FF21"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_T61STRING, "Jos\xe9"}}}, "character 4 is U+00E9"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_T61STRING, "ab\x92\x86"}}}, "character 3 is U+0092"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_IA5STRING, "a\x1b[2Jb"}}}, "control character 0x1B"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_UTF8STRING, "ab\0cd", 5}}}, "NUL character at position 3"},
		{{.key = K_RSA2048, .subj = {{"O", V_ASN1_UTF8STRING, "Contoso\n"}, {"CN", 0, "x"}}},
		 "subject O: control character 0x0A"},
		{{.key = K_RSA2048, .subj = {{"CN", V_ASN1_BIT_STRING, "x"}}}, "is not allowed in names"},
		/* SAN values */
		{{.key = K_RSA2048, .subj = {{"CN", 0, "x"}}, .upn = {"jos\xc3\xa9@corp.example"}},
		 "SAN UPN: character 4 is U+00E9"},
		{{.key = K_RSA2048, .subj = {{"CN", 0, "x"}}, .upn = {"jo\0e@corp.example"}}, "SAN UPN"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		X509_REQ *req = csr(&cases[i].s);
		issue_refused("mobile-device", req, &o, SP_ERR_POLICY, cases[i].needle);
		X509_REQ_free(req);
	}
	{
		csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {("b\xc3\xbc" "cher.corp.example")}};
		X509_REQ *req = csr(&s);
		issue_refused("web-server", req, &o, SP_ERR_POLICY, "SAN DNS name: character 2 is U+00FC");
		X509_REQ_free(req);
	}
}

static void test_ascii_wide_strings_reencoded(void)
{
	/* pure ASCII in a BMPString / UniversalString / T61String is fine
	 * and comes out as PrintableString */
	static const unsigned char bmp[] = {0, 'J', 0, 'a', 0, 'n', 0, 'e'};
	static const unsigned char uni[] = {0, 0, 0, 'C', 0, 0, 0, 'o'};
	csr_spec s = {.key = K_RSA2048,
		      .subj = {{"O", V_ASN1_UNIVERSALSTRING, (const char *)uni, sizeof uni},
			       {"OU", V_ASN1_T61STRING, "Unit"},
			       {"CN", V_ASN1_BMPSTRING, (const char *)bmp, sizeof bmp}}};
	expect e = {.subject = {{"O", "Co"}, {"OU", "Unit"}, {"CN", "Jane"}},
		    .eku = {OID_CLIENT_AUTH},
		    .ku = KU_DS | KU_KE,
		    .days = 365,
		    .purpose = X509_PURPOSE_SSL_CLIENT};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("mobile-device", req, &o);
	const X509_NAME *n = X509_get_subject_name(x);
	check_cert(x, req, &e);
	for (int i = 0; i < X509_NAME_entry_count(n); i++)
		CU_ASSERT_EQUAL(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, i))->type, V_ASN1_PRINTABLESTRING);
	X509_free(x);
	X509_REQ_free(req);
}

/* Only names are taken from a CSR: what it asks for in basicConstraints,
 * keyUsage or extendedKeyUsage is ignored, the template decides. */
static void test_csr_extensions_ignored(void)
{
	csr_spec s = {.key = K_EC256,
		      .subj = {{"CN", 0, "www.corp.example"}},
		      .dns = {"www.corp.example"},
		      .extra = EXTRA_CA_EXTS};
	expect e = {.subject = {{"CN", "www.corp.example"}},
		    .san = {"DNS:www.corp.example"},
		    .eku = {OID_SERVER_AUTH},
		    .ku = KU_DS,
		    .days = 730,
		    .purpose = X509_PURPOSE_SSL_SERVER};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("web-server", req, &o);
	check_cert(x, req, &e);
	CU_ASSERT_EQUAL(X509_check_ca(x), 0);
	X509_free(x);
	X509_REQ_free(req);

	/* the same names in Microsoft's extension attribute are read too */
	s.extra = EXTRA_NONE;
	s.ms_ext_req = 1;
	req = csr(&s);
	x = issue_ok("web-server", req, &o);
	check_cert(x, req, &e);
	X509_free(x);
	X509_REQ_free(req);
}

/* A name the template does not allow must be refused, not dropped: also
 * when it hides in a second extensionRequest attribute, or the attribute
 * cannot be decoded at all. */
static void test_hidden_extension_requests_refused(void)
{
	sp_issue_opts o = opts0();
	{
		/* PKCS#9 extensionRequest with the DNS name, and Microsoft's
		 * extension request with an e-mail name */
		csr_spec s = {.key = K_EC256,
			      .subj = {{"CN", 0, "www.corp.example"}},
			      .dns = {"www.corp.example"},
			      .extra = EXTRA_SECOND_EXT_REQ};
		X509_REQ *req = csr(&s);
		CU_ASSERT_EQUAL(X509_REQ_get_attr_count(req), 2);
		issue_refused("web-server", req, &o, SP_ERR_POLICY, NULL);
		X509_REQ_free(req);
	}
	{
		/* one extensionRequest whose value set has a second member */
		csr_spec s = {.key = K_EC256,
			      .subj = {{"CN", 0, "www.corp.example"}},
			      .dns = {"www.corp.example"},
			      .extra = EXTRA_EXT_REQ_2_VALUES};
		X509_REQ *req = csr(&s);
		issue_refused("web-server", req, &o, SP_ERR_INPUT, "exactly one SEQUENCE");  /* PKCS#9: single-valued */
		X509_REQ_free(req);
	}
	{
		/* an extensionRequest that is not Extensions at all: the
		 * names come from --dns, but the request is malformed */
		csr_spec s = {.key = K_EC256,
			      .subj = {{"CN", 0, "www.corp.example"}},
			      .extra = EXTRA_EXT_REQ_NOT_SEQ};
		const char *dns[] = {"www.corp.example"};
		X509_REQ *req = csr(&s);
		o.dns = dns;
		o.n_dns = 1;
		issue_refused("web-server", req, &o, SP_ERR_INPUT, NULL);
		X509_REQ_free(req);
	}
}

/* The X509 sp_issue returns is used in-process before it is written out
 * (chains, PKCS#12 with a CA-generated key, EST responses): it must be a
 * complete object, not only correct once re-encoded. */
static void test_returned_cert_usable(void)
{
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = issue_ok("web-server", req, &o);

	CU_ASSERT_PTR_NOT_NULL(X509_get0_pubkey(x));
	CU_ASSERT_EQUAL(X509_check_private_key(x, key(K_EC256)), 1);
	CU_ASSERT(openssl_verifies(x, X509_PURPOSE_SSL_SERVER));
	ERR_clear_error();
	X509_free(x);
	X509_REQ_free(req);
}

/* ---------------------------------------------------------------- keys */

static void test_key_limits(void)
{
	sp_issue_opts o = opts0();
	csr_spec web = {.key = K_RSA1024, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
	csr_spec cli = {.key = K_RSA1024, .subj = {{"CN", 0, "pc.corp.example"}}};
	X509_REQ *req;
	X509 *x;

	req = csr(&web);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "RSA-1024 key is too small");
	X509_REQ_free(req);
	req = csr(&cli);
	issue_refused("client-auth", req, &o, SP_ERR_POLICY, "RSA-1024 key is too small");
	X509_REQ_free(req);

	/* RSA-4096: within web-server's and amt-provisioning's range, above
	 * client-auth's 2048 */
	web.key = K_RSA4096;
	req = csr(&web);
	x = issue_ok("web-server", req, &o);
	X509_free(x);
	X509_REQ_free(req);
	{
		csr_spec amt = {.key = K_RSA4096, .subj = {{"CN", 0, "oob.corp.example"}}};
		req = csr(&amt);
		x = issue_ok("amt-provisioning", req, &o);
		X509_free(x);
		X509_REQ_free(req);
	}
	cli.key = K_RSA4096;
	req = csr(&cli);
	issue_refused("client-auth", req, &o, SP_ERR_POLICY, "RSA-4096 key is larger than template client-auth allows");
	X509_REQ_free(req);

	/* EC where only RSA is allowed, a curve not offered, another type */
	cli.key = K_EC256;
	req = csr(&cli);
	issue_refused("client-auth", req, &o, SP_ERR_POLICY, "allows RSA keys only");
	X509_REQ_free(req);
	web.key = K_EC521;
	req = csr(&web);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "is not allowed by template web-server");
	X509_REQ_free(req);
	web.key = K_ED25519;
	req = csr(&web);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "key type ED25519 is not allowed");
	X509_REQ_free(req);
}

/* RFC 5480 2.1.1: specifiedCurve MUST NOT be used in PKIX. A P-256 key
 * with explicit parameters must not end up in a certificate (OpenSSL's
 * strict verifier refuses such a certificate). */
static void test_explicit_ec_params_refused(void)
{
	csr_spec s = {.key = K_EC_EXPLICIT, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	int ptype = -1;
	const void *pval = NULL;
	X509_ALGOR *alg = NULL;

	/* precondition: the CSR really carries explicit parameters */
	CU_ASSERT_FATAL(X509_PUBKEY_get0_param(NULL, NULL, NULL, &alg, X509_REQ_get_X509_PUBKEY(req)));
	X509_ALGOR_get0(NULL, &ptype, &pval, alg);
	CU_ASSERT_EQUAL_FATAL(ptype, V_ASN1_SEQUENCE);

	issue_refused("web-server", req, &o, SP_ERR_POLICY, "explicit");
	X509_REQ_free(req);
}

static void test_broken_signature_refused(void)
{
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}, .corrupt = 1};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "proof of possession");
	X509_REQ_free(req);
	s.key = K_RSA2048;
	req = csr(&s);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, "proof of possession");
	X509_REQ_free(req);
	CU_ASSERT_EQUAL(ERR_peek_error(), 0);
}

static void test_csr_version_refused(void)
{
	/* CertificationRequestInfo.version 1 (v2) does not exist (RFC 2986 4.1) */
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
	unsigned char *der = NULL;
	int len = 0;
	X509_REQ *req = csr_build(&s, &der, &len), *v2 = NULL;
	int patched = 0;
	sp_issue_opts o = opts0();

	/* SEQUENCE { SEQUENCE { INTEGER 0, ...: the first 02 01 00 */
	for (int i = 0; i + 2 < len && i < 12; i++)
		if (der[i] == 0x02 && der[i + 1] == 0x01 && der[i + 2] == 0x00) {
			der[i + 2] = 0x01;
			patched = 1;
			break;
		}
	CU_ASSERT_FATAL(patched);
	if (sp_req_parse(der, (size_t)len, &v2) == SP_OK) {
		issue_refused("web-server", v2, &o, SP_ERR_INPUT, "unsupported version");
		X509_REQ_free(v2);
	} /* else: refused at parse time, which is fine too */
	OPENSSL_free(der);
	X509_REQ_free(req);
}

/* ------------------------------------------------- store, transactions */

static void test_refused_in_txn_leaves_nothing(void)
{
	csr_spec good = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
	csr_spec bad = {.key = K_EC256,
			.subj = {{"CN", 0, "www.corp.example"}},
			.dns = {"www.corp.example"},
			.email = {"a@corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *g = csr(&good), *b = csr(&bad);
	X509 *x1 = NULL, *x2 = NULL;
	counts before = snapshot(), after;
	char serial[41];

	/* refusal alone inside a transaction */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	CU_ASSERT_EQUAL(sp_issue_in_txn(ca(), tpl("web-server"), b, &o, &x2), SP_ERR_POLICY);
	CU_ASSERT_PTR_NULL(x2);
	CU_ASSERT_EQUAL(sp_store_commit(store()), SP_OK);
	after = snapshot();
	CU_ASSERT(same_counts(before, after, 0));

	/* good, refused, good in one transaction: exactly the two good ones */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	CU_ASSERT_EQUAL(sp_issue_in_txn(ca(), tpl("web-server"), g, &o, &x1), SP_OK);
	CU_ASSERT_EQUAL(sp_issue_in_txn(ca(), tpl("web-server"), b, &o, &x2), SP_ERR_POLICY);
	CU_ASSERT_PTR_NULL(x2);
	X509_free(x2);
	x2 = NULL;
	CU_ASSERT_EQUAL(sp_issue_in_txn(ca(), tpl("web-server"), g, &o, &x2), SP_OK);
	CU_ASSERT_EQUAL(sp_store_commit(store()), SP_OK);
	after = snapshot();
	CU_ASSERT(same_counts(before, after, 2));
	if (x1)
		CU_ASSERT_EQUAL(sp_store_serial_exists(store(), serial_of(x1, serial)), 1);
	if (x2)
		CU_ASSERT_EQUAL(sp_store_serial_exists(store(), serial_of(x2, serial)), 1);
	X509_free(x1);
	X509_free(x2);

	/* issued then rolled back: gone */
	before = snapshot();
	x1 = NULL;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	CU_ASSERT_EQUAL(sp_issue_in_txn(ca(), tpl("web-server"), g, &o, &x1), SP_OK);
	sp_store_rollback(store());
	after = snapshot();
	CU_ASSERT(same_counts(before, after, 0));
	if (x1)
		CU_ASSERT_EQUAL(sp_store_serial_exists(store(), serial_of(x1, serial)), 0);
	X509_free(x1);
	X509_REQ_free(g);
	X509_REQ_free(b);
}

static int cmp_serial(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void test_200_serials_distinct(void)
{
	enum { N = 200 };
	static char serials[N][41];
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "bulk.corp.example"}}, .dns = {"bulk.corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	counts before = snapshot(), after;
	int issued = 0;

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	for (int i = 0; i < N; i++) {
		X509 *x = NULL;
		sp_err rc = sp_issue_in_txn(ca(), tpl("web-server"), req, &o, &x);
		if (rc != SP_OK) {
			printf("\n    #%d: %s", i, sp_last_error());
			break;
		}
		serial_of(x, serials[issued++]);
		X509_free(x);
	}
	CU_ASSERT_EQUAL(issued, N);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(store()), SP_OK);
	after = snapshot();
	CU_ASSERT(same_counts(before, after, issued));
	qsort(serials, (size_t)issued, sizeof serials[0], cmp_serial);
	for (int i = 1; i < issued; i++)
		CU_ASSERT_STRING_NOT_EQUAL(serials[i - 1], serials[i]);
	for (int i = 0; i < issued; i++) {
		CU_ASSERT_EQUAL(strlen(serials[i]), 32);
		CU_ASSERT_EQUAL(sp_store_serial_exists(store(), serials[i]), 1);
	}
	X509_REQ_free(req);
}

typedef struct {
	int64_t id;
	char action[32], subject[64], actor[64];
} last_audit;

static int last_audit_cb(const sp_audit_row *r, void *arg)
{
	last_audit *l = arg;
	l->id = r->id;
	snprintf(l->action, sizeof l->action, "%s", r->action ? r->action : "");
	snprintf(l->subject, sizeof l->subject, "%s", r->subject ? r->subject : "");
	snprintf(l->actor, sizeof l->actor, "%s", r->actor ? r->actor : "");
	return 0;
}

typedef struct {
	int64_t id;
	sp_request_row copy;
} last_request;

static int last_request_cb(const sp_request_row *r, void *arg)
{
	last_request *l = arg;
	if (r->id <= l->id)
		return 0;
	sp_request_row_clear(&l->copy);
	l->id = r->id;
	l->copy.status = r->status;
	l->copy.requester = strdup(r->requester ? r->requester : "");
	l->copy.cert_serial = strdup(r->cert_serial ? r->cert_serial : "");
	l->copy.detail = strdup(r->detail ? r->detail : "");
	l->copy.template_name = strdup(r->template_name ? r->template_name : "");
	l->copy.csr_der_len = r->csr_der_len;
	l->copy.csr_der = malloc(r->csr_der_len ? r->csr_der_len : 1);
	if (l->copy.csr_der && r->csr_der_len)
		memcpy(l->copy.csr_der, r->csr_der, r->csr_der_len);
	return 0;
}

static void test_records_and_audit(void)
{
	const char *dns[] = {"cli.corp.example"};
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "rec.corp.example"}}, .dns = {"rec.corp.example"}};
	sp_issue_opts o = opts0();
	unsigned char *der = NULL;
	int der_len = 0;
	X509_REQ *req = csr_build(&s, &der, &der_len);
	X509 *x;
	char serial[41];
	last_audit la;
	last_request lr;
	int64_t rows = -1, bad_id = -1;
	counts c;

	o.dns = dns;
	o.n_dns = 1;
	o.requester = "cli:unit-admin";
	x = issue_ok("web-server", req, &o);
	serial_of(x, serial);

	/* the audit chain verifies and its newest row is this issuance */
	CU_ASSERT_EQUAL(sp_store_audit_verify(store(), &rows, &bad_id), SP_OK);
	c = snapshot();
	CU_ASSERT_EQUAL(rows, c.audit);
	memset(&la, 0, sizeof la);
	CU_ASSERT_EQUAL(sp_store_audit_list(store(), 1, last_audit_cb, &la), SP_OK);
	CU_ASSERT_STRING_EQUAL(la.action, "issue");
	CU_ASSERT_STRING_EQUAL(la.subject, serial);
	CU_ASSERT_STRING_EQUAL(la.actor, "cli:unit-admin");

	/* the request row: issued, who, which CSR, which names came from
	 * the command line */
	memset(&lr, 0, sizeof lr);
	CU_ASSERT_EQUAL(sp_store_request_list(store(), -1, last_request_cb, &lr), SP_OK);
	CU_ASSERT_EQUAL(lr.copy.status, SP_REQ_ISSUED);
	if (lr.copy.requester) {
		CU_ASSERT_STRING_EQUAL(lr.copy.requester, "cli:unit-admin");
		CU_ASSERT_STRING_EQUAL(lr.copy.cert_serial, serial);
		CU_ASSERT_STRING_EQUAL(lr.copy.template_name, "web-server");
		CU_ASSERT_STRING_EQUAL(lr.copy.detail, "cli.corp.example");
		CU_ASSERT(lr.copy.csr_der_len == (size_t)der_len && memcmp(lr.copy.csr_der, der, (size_t)der_len) == 0);
	}
	sp_request_row_clear(&lr.copy);
	OPENSSL_free(der);
	X509_free(x);
	X509_REQ_free(req);
}

/* Insert a queued request for `der` (as the enrollment service does) and
 * return its id. */
static int64_t queue_request(const char *tname, const unsigned char *der, int der_len, int status)
{
	sp_request_row rq;
	int64_t id = 0;

	memset(&rq, 0, sizeof rq);
	rq.template_name = (char *)tname;
	rq.requester = (char *)"est:token:7";
	rq.subject = (char *)"CN=queued.corp.example";
	rq.status = status;
	rq.detail = (char *)"dns=queued.corp.example";
	rq.csr_der = (uint8_t *)der;
	rq.csr_der_len = (size_t)der_len;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_insert(store(), &rq, &id), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(store()), SP_OK);
	return id;
}

/* opts.request_id: the queued request row becomes ISSUED with the serial
 * (no second request row); anything but PENDING/APPROVED of the same
 * template is refused with nothing written. */
static void test_issue_queued_request(void)
{
	const char *dns[] = {"queued.corp.example"};
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "queued.corp.example"}}};
	sp_issue_opts o = opts0();
	unsigned char *der = NULL;
	int der_len = 0;
	X509_REQ *req = csr_build(&s, &der, &der_len);
	int64_t id, rej, appr, other, rows = -1, bad = -1;
	counts before, after;
	sp_request_row r;
	last_audit la;
	char serial[41], want[64];
	X509 *x = NULL;

	id = queue_request("web-server", der, der_len, SP_REQ_PENDING);
	o.dns = dns;
	o.n_dns = 1;
	o.requester = "est:token:7";
	o.request_id = id;
	before = snapshot();
	CU_ASSERT_EQUAL_FATAL(sp_issue(ca(), tpl("web-server"), req, &o, &x), SP_OK);
	after = snapshot();
	/* one certificate and one audit row; the request row was updated,
	 * not added */
	CU_ASSERT_EQUAL(after.certs, before.certs + 1);
	CU_ASSERT_EQUAL(after.audit, before.audit + 1);
	CU_ASSERT_EQUAL(after.requests, before.requests);
	serial_of(x, serial);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(store(), id, &r), SP_OK);
	CU_ASSERT_EQUAL(r.status, SP_REQ_ISSUED);
	CU_ASSERT_STRING_EQUAL(r.cert_serial, serial);
	CU_ASSERT_STRING_EQUAL(r.detail, "dns=queued.corp.example"); /* the names stay on record */
	CU_ASSERT_STRING_EQUAL(r.requester, "est:token:7");
	sp_request_row_clear(&r);
	memset(&la, 0, sizeof la);
	CU_ASSERT_EQUAL(sp_store_audit_list(store(), 1, last_audit_cb, &la), SP_OK);
	CU_ASSERT_STRING_EQUAL(la.action, "issue");
	CU_ASSERT_STRING_EQUAL(la.subject, serial);
	CU_ASSERT_STRING_EQUAL(la.actor, "est:token:7");
	CU_ASSERT_EQUAL(sp_store_audit_verify(store(), &rows, &bad), SP_OK);
	X509_free(x);
	x = NULL;

	/* issued already: a second issuance for it is refused */
	snprintf(want, sizeof want, "request %lld is issued", (long long)id);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, want);
	/* rejected */
	rej = queue_request("web-server", der, der_len, SP_REQ_REJECTED);
	o.request_id = rej;
	snprintf(want, sizeof want, "request %lld is rejected", (long long)rej);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, want);
	/* for another template */
	other = queue_request("client-auth", der, der_len, SP_REQ_PENDING);
	o.request_id = other;
	snprintf(want, sizeof want, "request %lld is for template client-auth", (long long)other);
	issue_refused("web-server", req, &o, SP_ERR_POLICY, want);
	/* unknown */
	o.request_id = other + 1000;
	issue_refused("web-server", req, &o, SP_ERR_NOTFOUND, "no request");
	/* the refused rows are as they were */
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(store(), rej, &r), SP_OK);
	CU_ASSERT_EQUAL(r.status, SP_REQ_REJECTED);
	CU_ASSERT_STRING_EQUAL(r.cert_serial, "");
	sp_request_row_clear(&r);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(store(), other, &r), SP_OK);
	CU_ASSERT_EQUAL(r.status, SP_REQ_PENDING);
	sp_request_row_clear(&r);

	/* APPROVED is issuable too */
	appr = queue_request("web-server", der, der_len, SP_REQ_APPROVED);
	o.request_id = appr;
	CU_ASSERT_EQUAL_FATAL(sp_issue(ca(), tpl("web-server"), req, &o, &x), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(store(), appr, &r), SP_OK);
	CU_ASSERT_EQUAL(r.status, SP_REQ_ISSUED);
	CU_ASSERT_STRING_EQUAL(r.cert_serial, serial_of(x, serial));
	sp_request_row_clear(&r);
	X509_free(x);
	OPENSSL_free(der);
	X509_REQ_free(req);
}

static void test_no_key_no_issuance(void)
{
	sp_ca *ro = NULL;
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "www.corp.example"}}, .dns = {"www.corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&s);
	X509 *x = NULL;
	counts before = snapshot(), after;

	/* a second handle on the same home, opened without the passphrase */
	CU_ASSERT_EQUAL_FATAL(sp_ca_open(fx.home, NULL, &ro), SP_OK);
	CU_ASSERT_EQUAL(sp_ca_has_key(ro), 0);
	CU_ASSERT_EQUAL(sp_issue(ro, tpl("web-server"), req, &o, &x), SP_ERR_USAGE);
	CU_ASSERT(msg_has("key is not loaded"));
	CU_ASSERT_PTR_NULL(x);
	sp_ca_close(ro);
	after = snapshot();
	CU_ASSERT(same_counts(before, after, 0));
	X509_REQ_free(req);
}

/* sp_issue_prepare touches no store: a prepared certificate that is never
 * recorded leaves nothing; a refusal gives no object. */
static void test_prepare_without_record(void)
{
	csr_spec good = {.key = K_EC256, .subj = {{"CN", 0, "prep.corp.example"}}, .dns = {"prep.corp.example"}};
	csr_spec bad = {.key = K_EC256, .subj = {{"CN", 0, "prep.corp.example"}}, .email = {"a@corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *g = csr(&good), *b = csr(&bad);
	sp_prepared *p = (sp_prepared *)&p;
	counts before = snapshot(), after;
	X509 *x = NULL;

	CU_ASSERT_EQUAL(sp_issue_prepare(ca(), tpl("web-server"), b, &o, &p), SP_ERR_POLICY);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(sp_issue_prepare(ca(), tpl("web-server"), g, &o, &p), SP_OK);
	CU_ASSERT_PTR_NOT_NULL(p);
	sp_prepared_free(p);
	sp_prepared_free(NULL);
	after = snapshot();
	CU_ASSERT(same_counts(before, after, 0));

	/* prepared, then recorded in a transaction that is rolled back */
	p = NULL;
	CU_ASSERT_EQUAL_FATAL(sp_issue_prepare(ca(), tpl("web-server"), g, &o, &p), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	CU_ASSERT_EQUAL(sp_issue_record(ca(), p, &x), SP_OK);
	sp_store_rollback(store());
	after = snapshot();
	CU_ASSERT(same_counts(before, after, 0));
	X509_free(x);
	sp_prepared_free(p);
	X509_REQ_free(g);
	X509_REQ_free(b);
}

/* sp_prepared_der: nothing before recording; after, exactly the DER of the
 * certificate handed over and of its store row (the signer answers with
 * these bytes instead of encoding again). */
static void test_prepared_der(void)
{
	csr_spec spec = {.key = K_EC256, .subj = {{"CN", 0, "der.corp.example"}}, .dns = {"der.corp.example"}};
	sp_issue_opts o = opts0();
	X509_REQ *req = csr(&spec);
	sp_prepared *p = NULL;
	X509 *x = NULL;
	sp_cert_row row;
	unsigned char *enc = NULL;
	const unsigned char *der;
	size_t n = 1;
	int enc_len;
	char serial[41];

	CU_ASSERT_PTR_NULL(sp_prepared_der(NULL, &n));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL_FATAL(sp_issue_prepare(ca(), tpl("web-server"), req, &o, &p), SP_OK);
	n = 1;
	CU_ASSERT_PTR_NULL(sp_prepared_der(p, &n));
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_issue_record(ca(), p, &x), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(store()), SP_OK);
	der = sp_prepared_der(p, &n);
	enc_len = i2d_X509(x, &enc);
	CU_ASSERT_FATAL(der != NULL && enc_len > 0);
	CU_ASSERT(n == (size_t)enc_len && memcmp(der, enc, n) == 0);
	memset(&row, 0, sizeof row);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(store(), serial_of(x, serial), &row), SP_OK);
	CU_ASSERT(row.der_len == n && memcmp(row.der, der, n) == 0);
	sp_cert_row_clear(&row);
	OPENSSL_free(enc);
	X509_free(x);
	sp_prepared_free(p);
	X509_REQ_free(req);
}

/* sp_issue_prepare is documented as safe on one sp_ca from several threads
 * (issue --batch): run it on 4 threads, record in order, all distinct. */
enum { PREP_THREADS = 4, PREP_EACH = 10 };

typedef struct {
	sp_ca *ca;
	const sp_template *t;
	X509_REQ *req;
	sp_prepared *p[PREP_EACH];
	int failed;
} prep_job;

static void *prep_worker(void *arg)
{
	prep_job *j = arg;
	sp_issue_opts o = opts0();
	for (int i = 0; i < PREP_EACH; i++)
		if (sp_issue_prepare(j->ca, j->t, j->req, &o, &j->p[i]) != SP_OK)
			j->failed++;
	return NULL;
}

static void test_prepare_threads(void)
{
	csr_spec s = {.key = K_EC256, .subj = {{"CN", 0, "thr.corp.example"}}, .dns = {"thr.corp.example"}};
	prep_job jobs[PREP_THREADS];
	pthread_t th[PREP_THREADS];
	static char serials[PREP_THREADS * PREP_EACH][41];
	counts before, after;
	int n = 0;

	before = snapshot();
	memset(jobs, 0, sizeof jobs);
	for (int i = 0; i < PREP_THREADS; i++) {
		jobs[i].ca = ca();
		jobs[i].t = tpl("web-server"); /* resolved here: the cache is not thread-safe */
		jobs[i].req = csr(&s);         /* one CSR per thread: prepare borrows it */
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, prep_worker, &jobs[i]) == 0);
	}
	for (int i = 0; i < PREP_THREADS; i++)
		pthread_join(th[i], NULL);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(store()), SP_OK);
	for (int i = 0; i < PREP_THREADS; i++) {
		CU_ASSERT_EQUAL(jobs[i].failed, 0);
		for (int k = 0; k < PREP_EACH; k++) {
			X509 *x = NULL;
			if (!jobs[i].p[k])
				continue;
			CU_ASSERT_EQUAL(sp_issue_record(ca(), jobs[i].p[k], &x), SP_OK);
			if (x)
				serial_of(x, serials[n++]);
			X509_free(x);
			sp_prepared_free(jobs[i].p[k]);
		}
	}
	CU_ASSERT_EQUAL(sp_store_commit(store()), SP_OK);
	CU_ASSERT_EQUAL(n, PREP_THREADS * PREP_EACH);
	after = snapshot();
	CU_ASSERT(same_counts(before, after, n));
	qsort(serials, (size_t)n, sizeof serials[0], cmp_serial);
	for (int i = 1; i < n; i++)
		CU_ASSERT_STRING_NOT_EQUAL(serials[i - 1], serials[i]);
	for (int i = 0; i < PREP_THREADS; i++)
		X509_REQ_free(jobs[i].req);
}

/* ------------------------------------------------------ sp_ca_init */

static int dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static sp_ca_init_opts init_opts(void)
{
	sp_ca_init_opts o;
	memset(&o, 0, sizeof o);
	o.name = "Refused CA";
	o.key_alg = "ec-p256";
	return o;
}

/* sp_ca_init must refuse and leave `home` absent. */
static void init_refused(const sp_ca_init_opts *o, const sp_secret *pass, sp_err want, const char *needle)
{
	char home[4200];
	sp_err rc;
	snprintf(home, sizeof home, "%s/home", sp_unit_tmpdir());
	rc = sp_ca_init(home, o, pass);
	if (rc != want)
		printf("\n    init: expected %s, got %s (%s)", sp_err_name(want), sp_err_name(rc), sp_last_error());
	CU_ASSERT_EQUAL(rc, want);
	if (needle && rc != SP_OK)
		CU_ASSERT(msg_has(needle));
	CU_ASSERT_EQUAL(sp_path_exists(home), 0);
}

static void test_init_non_empty_home(void)
{
	const char *home = sp_unit_tmpdir();
	char path[4200];
	int fd;
	struct stat before, after;
	sp_ca_init_opts o = init_opts();
	sp_secret pass = {NULL, 0};

	secret_set(&pass, "pw");
	CU_ASSERT_FATAL(chmod(home, 0750) == 0);
	snprintf(path, sizeof path, "%s/keep.txt", home);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, "precious", 8) == 8);
	close(fd);
	CU_ASSERT_FATAL(stat(home, &before) == 0);

	CU_ASSERT_EQUAL(sp_ca_init(home, &o, &pass), SP_ERR_EXISTS);
	CU_ASSERT(msg_has("is not empty"));
	CU_ASSERT_EQUAL(dir_entries(home), 1);
	CU_ASSERT_FATAL(stat(home, &after) == 0);
	CU_ASSERT_EQUAL(after.st_mode, before.st_mode);
	{
		uint8_t *d = NULL;
		size_t n = 0;
		CU_ASSERT_EQUAL(sp_file_read(path, 100, &d, &n), SP_OK);
		CU_ASSERT(n == 8 && memcmp(d, "precious", 8) == 0);
		free(d);
	}
	/* a regular file where the home should be */
	CU_ASSERT_NOT_EQUAL(sp_ca_init(path, &o, &pass), SP_OK);
	CU_ASSERT_EQUAL(dir_entries(home), 1);
	sp_secret_wipe(&pass);
}

static void test_init_bad_options(void)
{
	sp_secret pass = {NULL, 0};
	sp_ca_init_opts o;
	static const char *const bad_urls[] = {
		"https://pki.corp.example/pki", "http://pki.corp.example/pki/", "http://pki.corp.example/a,b",
		"http://pki.corp.example/a b",  "ftp://pki.corp.example",       "http://",
		"pki.corp.example/pki",         "http://pki.corp.example/\"x",  "http://p\xc3\xa9.example",
	};
	static const char *const bad_sites[] = {"AB", "ABCD", "A-C", "A C"};
	static const char *const bad_algs[] = {"rsa-1024", "dsa-2048", "ec-p521", "ed25519"};

	secret_set(&pass, "pw");
	for (size_t i = 0; i < sizeof bad_algs / sizeof bad_algs[0]; i++) {
		o = init_opts();
		o.key_alg = bad_algs[i];
		init_refused(&o, &pass, SP_ERR_USAGE, "unknown key algorithm");
	}
	for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
		o = init_opts();
		o.base_url = bad_urls[i];
		init_refused(&o, &pass, SP_ERR_USAGE, "--base-url");
	}
	for (size_t i = 0; i < sizeof bad_sites / sizeof bad_sites[0]; i++) {
		o = init_opts();
		o.site_code = bad_sites[i];
		init_refused(&o, &pass, SP_ERR_POLICY, "site code");
	}
	o = init_opts();
	o.name = NULL;
	init_refused(&o, &pass, SP_ERR_USAGE, "CA name is required");
	o.name = "";
	init_refused(&o, &pass, SP_ERR_USAGE, "CA name is required");
	o.name = "Caf\xc3\xa9 CA";
	init_refused(&o, &pass, SP_ERR_POLICY, "CA name: character 4 is U+00E9");
	o.name = "Root\nCA";
	init_refused(&o, &pass, SP_ERR_POLICY, "control character");
	o.name = "12345678901234567890123456789012345678901234567890123456789012345"; /* 65 */
	init_refused(&o, &pass, SP_ERR_USAGE, "64 characters");
	o = init_opts();
	o.org = "Soci\xc3\xa9t\xc3\xa9";
	init_refused(&o, &pass, SP_ERR_POLICY, "CA organisation");
	o = init_opts();
	o.days = 36501;
	init_refused(&o, &pass, SP_ERR_USAGE, "more than 100 years");
	o = init_opts();
	o.parent_home = "/nonexistent";
	o.csr_out = "/nonexistent/ca.csr";
	init_refused(&o, &pass, SP_ERR_USAGE, "cannot be combined");
	o = init_opts();
	o.parent_home = "/nonexistent/sitepki-parent";
	init_refused(&o, &pass, SP_ERR_NOTFOUND, "not a sitepki CA home");
	sp_secret_wipe(&pass);
}

/* A failure after the home was started removes what init created. */
static void test_init_failure_cleans_up(void)
{
	sp_secret empty = {NULL, 0};
	sp_ca_init_opts o = init_opts();
	const char *existing = sp_unit_tmpdir();

	/* no passphrase: refused when the key is written, after the home
	 * directory was made */
	init_refused(&o, &empty, SP_ERR_INPUT, "passphrase is required");
	init_refused(&o, NULL, SP_ERR_INPUT, "passphrase is required");
	/* a pre-existing empty directory stays, and stays empty */
	CU_ASSERT_EQUAL(sp_ca_init(existing, &o, &empty), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_path_exists(existing), 1);
	CU_ASSERT_EQUAL(dir_entries(existing), 0);
}

/* ----------------------------------------------------------------- table */

static const sp_unit_test template_tests[] = {
	{"web-server EC P-256 (no keyEncipherment, clipped)", test_web_server_ec},
	{"web-server RSA-2048 and EC P-384", test_web_server_rsa_and_p384},
	{"amt-provisioning", test_amt_provisioning},
	{"amt-web-server with --dns", test_amt_web_server_cli_dns},
	{"amt-8021x-client with a CSR UPN", test_amt_8021x_client},
	{"client-auth: template attribute order", test_client_auth_order},
	{"isv-proxy", test_isv_proxy},
	{"mobile-device with --upn", test_mobile_device_cli_upn},
	{"osd-media with --dns", test_osd_media},
	{"site-server-signing: CN from the site code", test_site_server_signing},
	{"site-server-signing refusals", test_site_server_signing_refusals},
	{NULL, NULL},
};

static const sp_unit_test name_tests[] = {
	{"--dns only where the template allows it", test_cli_dns_only_where_allowed},
	{"--upn only where the template allows it", test_cli_upn_only_where_allowed},
	{"csr-only and cli-only name sources", test_name_sources},
	{"duplicate DNS names merged case-insensitively", test_duplicate_dns_merged},
	{"DNS/UPN count limits", test_dns_count_limits},
	{"SAN types the template does not allow", test_san_types_refused},
	{"subject attributes the template does not allow", test_subject_refusals},
	{"non-ASCII names in every string type refused", test_non_ascii_names_refused},
	{"ASCII in wide string types re-encoded", test_ascii_wide_strings_reencoded},
	{"CSR key usage / CA requests ignored", test_csr_extensions_ignored},
	{"hidden extension requests refused", test_hidden_extension_requests_refused},
	{"returned X509 usable in-process", test_returned_cert_usable},
	{NULL, NULL},
};

static const sp_unit_test key_tests[] = {
	{"RSA-1024 / RSA-4096 / EC / Ed25519 limits", test_key_limits},
	{"explicit EC parameters refused", test_explicit_ec_params_refused},
	{"broken CSR signature refused", test_broken_signature_refused},
	{"CSR version 2 refused", test_csr_version_refused},
	{NULL, NULL},
};

static const sp_unit_test store_tests[] = {
	{"refusal inside a transaction leaves nothing", test_refused_in_txn_leaves_nothing},
	{"200 serials distinct", test_200_serials_distinct},
	{"request and audit rows, audit verify", test_records_and_audit},
	{"issue a queued request (request_id): updated, not added; refusals", test_issue_queued_request},
	{"no key, no issuance", test_no_key_no_issuance},
	{"prepare without record leaves nothing", test_prepare_without_record},
	{"the recorded DER is handed back once", test_prepared_der},
	{"prepare on 4 threads, record in order", test_prepare_threads},
	{NULL, NULL},
};

static const sp_unit_test init_tests[] = {
	{"non-empty home refused and untouched", test_init_non_empty_home},
	{"bad options refused, nothing created", test_init_bad_options},
	{"failure after start cleans up", test_init_failure_cleans_up},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"issue.templates", template_tests},
	{"issue.names", name_tests},
	{"issue.keys", key_tests},
	{"issue.store", store_tests},
	{"issue.init", init_tests},
	{NULL, NULL},
};
