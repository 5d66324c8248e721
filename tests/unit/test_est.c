/*
 * test_est.c - the EST request handler (enroll/est*.c) driven in-process
 * through sp_est_handle(), without HTTP or TLS: routing, content type,
 * base64 bodies, proof of possession, the anonymous queue and its retries,
 * one-time tokens, TLS client certificates (re-enrollment, revoked, held,
 * blocked, foreign, garbage), enrollment agents, serverkeygen and the
 * answers when the issue function fails.
 *
 * The fixture is set up as `sitepki serve` runs: one CA home made with
 * sp_ca_init (EC P-256) in a temporary directory, opened twice - WITH the
 * passphrase for the issue function (what the signer process does:
 * sp_template_find + sp_req_parse + sp_issue, returning the DER; calls are
 * counted) and WITHOUT it for sp_est_new. The configuration comes from
 * sp_serve_config_defaults (retry_after set to 123 so that a Retry-After
 * equal to it can only come from the configuration).
 *
 * What is judged, for every request: the status, the content type, the
 * body (certs-only PKCS#7 decoded with OpenSSL's own base64 and
 * d2i_PKCS7; CsrAttrs with d2i_ASN1_SEQUENCE_ANY; multipart parts by their
 * boundary; PKCS#8 with d2i_AutoPrivateKey), and that the store (certificate
 * and request rows, the issue function's call count) is unchanged where a
 * request is refused. Every test makes its own CSRs and certificates and
 * compares counts before/after, so the order of the tests does not matter.
 *
 * Cost: one CA (PBKDF2 twice, ~1 s), three RSA-2048 keys made once.
 */
#define _GNU_SOURCE /* memmem */
#include "unit.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <time.h>

#include "ca/ca.h"
#include "ca/ca_int.h" /* the CA key, to sign certificates the store does not know */
#include "enroll/est.h"
#include "enroll/serve_config.h"
#include "enroll/token.h"
#include "revocation/revocation.h"
#include "templates/templates.h"

#define PASS "unit test passphrase for the EST tests"
#define CA_NAME "sitepki EST Test CA"
#define ACTOR "cli:unit"
#define CLIENT "198.51.100.7"
#define RETRY_AFTER 123u
#define WK "/.well-known/est/"
#define CT_P7 "application/pkcs7-mime; smime-type=certs-only"

/* ------------------------------------------------------------- fixture */

static struct {
	int ready;
	char home[4200];
	sp_ca *ca_key; /* with the key: the issue function's side */
	sp_ca *ca_svc; /* without: the service's side */
	sp_serve_config *cfg;
	sp_est *est;
	EVP_PKEY *rsa[3]; /* RSA-2048: what client-auth, osd-media and amt take */
	EVP_PKEY *ec;     /* P-256 */
	int issue_calls;
	sp_err fail_rc; /* SP_OK: the issue function issues; else it fails so */
	const char *fail_msg;
	int seq;
} fx;

static void fixture_free(void)
{
	sp_est_free(fx.est);
	sp_serve_config_free(fx.cfg);
	sp_ca_close(fx.ca_svc);
	sp_ca_close(fx.ca_key);
	for (int i = 0; i < 3; i++)
		EVP_PKEY_free(fx.rsa[i]);
	EVP_PKEY_free(fx.ec);
	memset(&fx, 0, sizeof fx);
}

/* The signer's work, in-process (same contract as sp_signer_issue). */
static sp_err issue_fn(void *arg, const char *template_name, const uint8_t *csr, size_t csr_len,
		       const sp_issue_opts *o, sp_issued *out)
{
	sp_template *t = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	sp_err rc;

	CU_ASSERT_PTR_EQUAL(arg, &fx);
	memset(out, 0, sizeof *out);
	fx.issue_calls++;
	if (fx.fail_rc != SP_OK)
		return sp_fail(fx.fail_rc, "%s", fx.fail_msg);
	if ((rc = sp_template_find(sp_ca_get0_home(fx.ca_key), template_name, &t)) != SP_OK ||
	    (rc = sp_req_parse(csr, csr_len, &req)) != SP_OK || (rc = sp_issue(fx.ca_key, t, req, o, &x)) != SP_OK)
		goto out;
	rc = sp_issued_fill(out, x, NULL, 0);
out:
	X509_free(x);
	X509_REQ_free(req);
	sp_template_free(t);
	return rc;
}

static void setup(void)
{
	sp_ca_init_opts o;
	sp_secret pass;
	sp_err rc;

	if (fx.ready) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(fx.est); /* the first attempt failed */
		return;
	}
	fx.ready = 1;
	atexit(fixture_free);
	pass.len = strlen(PASS);
	pass.buf = OPENSSL_secure_malloc(pass.len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pass.buf);
	memcpy(pass.buf, PASS, pass.len + 1);

	snprintf(fx.home, sizeof fx.home, "%s/ca", sp_unit_tmpdir());
	memset(&o, 0, sizeof o);
	o.name = CA_NAME;
	o.org = "sitepki tests";
	o.site_code = "E01";
	o.key_alg = "ec-p256";
	o.days = 400;
	o.base_url = "http://pki.corp.example/pki";
	rc = sp_ca_init(fx.home, &o, &pass);
	if (rc != SP_OK)
		printf("\n    sp_ca_init: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	rc = sp_ca_open(fx.home, &pass, &fx.ca_key);
	sp_secret_wipe(&pass);
	if (rc != SP_OK)
		printf("\n    sp_ca_open (key): %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	rc = sp_ca_open(fx.home, NULL, &fx.ca_svc);
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_FATAL(!sp_ca_has_key(fx.ca_svc));

	CU_ASSERT_EQUAL_FATAL(sp_serve_config_defaults(&fx.cfg), SP_OK);
	fx.cfg->retry_after = RETRY_AFTER;
	for (int i = 0; i < 3; i++)
		CU_ASSERT_FATAL((fx.rsa[i] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)) != NULL);
	CU_ASSERT_FATAL((fx.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);

	rc = sp_est_new(fx.ca_svc, fx.cfg, issue_fn, &fx, &fx.est);
	if (rc != SP_OK)
		printf("\n    sp_est_new: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
}

static EVP_PKEY *rsa(int i)
{
	setup();
	return fx.rsa[i];
}

static EVP_PKEY *ec(void)
{
	setup();
	return fx.ec;
}

static sp_store *st(void)
{
	setup();
	return sp_ca_get0_store(fx.ca_key);
}

/* A fresh DNS name: every test makes its own CSRs. */
static const char *fresh(const char *what)
{
	static char buf[8][128];
	static int next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof buf[0], "%s%d.corp.example", what, ++fx.seq);
	return b;
}

/* ------------------------------------------------------------- counts */

typedef struct {
	int64_t certs, requests, audit;
	int issue_calls;
} counts;

static int count_req_cb(const sp_request_row *r, void *arg)
{
	(void)r;
	(*(int64_t *)arg)++;
	return 0;
}

static int count_audit_cb(const sp_audit_row *r, void *arg)
{
	(void)r;
	(*(int64_t *)arg)++;
	return 0;
}

static counts snapshot(void)
{
	counts c;
	memset(&c, 0, sizeof c);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_count(st(), &c.certs), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_list(st(), -1, count_req_cb, &c.requests), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_audit_list(st(), 0, count_audit_cb, &c.audit), SP_OK);
	c.issue_calls = fx.issue_calls;
	return c;
}

/* No certificate, no request row and no issue call since `before`. */
static void unchanged(counts before, const char *what)
{
	counts now = snapshot();
	if (now.certs != before.certs || now.requests != before.requests || now.issue_calls != before.issue_calls)
		printf("\n    %s: store changed: certs %lld -> %lld, requests %lld -> %lld, issue calls %d -> %d", what,
		       (long long)before.certs, (long long)now.certs, (long long)before.requests,
		       (long long)now.requests, before.issue_calls, now.issue_calls);
	CU_ASSERT_EQUAL(now.certs, before.certs);
	CU_ASSERT_EQUAL(now.requests, before.requests);
	CU_ASSERT_EQUAL(now.issue_calls, before.issue_calls);
}

typedef struct {
	char actor[64], action[64], subject[80], detail[600];
} audit_last;

static int audit_last_cb(const sp_audit_row *r, void *arg)
{
	audit_last *a = arg;
	snprintf(a->actor, sizeof a->actor, "%s", r->actor ? r->actor : "");
	snprintf(a->action, sizeof a->action, "%s", r->action ? r->action : "");
	snprintf(a->subject, sizeof a->subject, "%s", r->subject ? r->subject : "");
	snprintf(a->detail, sizeof a->detail, "%s", r->detail ? r->detail : "");
	return 0;
}

static audit_last newest_audit(void)
{
	audit_last a;
	memset(&a, 0, sizeof a);
	CU_ASSERT_EQUAL_FATAL(sp_store_audit_list(st(), 1, audit_last_cb, &a), SP_OK);
	return a;
}

/* ----------------------------------------------------------- base64 */

enum { B64_WRAP_CRLF, B64_ONE_LINE, B64_SPACES, B64_WRAP_LF };

/* The body a client sends, made with OpenSSL's encoder and reflowed here. */
static char *b64(const uint8_t *der, size_t len, int style)
{
	size_t n = 4 * ((len + 2) / 3), o = 0;
	char *one = malloc(n + 1), *out = malloc(3 * n + 16);

	CU_ASSERT_FATAL(one && out);
	CU_ASSERT_EQUAL_FATAL((size_t)EVP_EncodeBlock((unsigned char *)one, der, (int)len), n);
	for (size_t i = 0; i < n; i++) {
		out[o++] = one[i];
		if (style == B64_WRAP_CRLF && (i + 1) % 64 == 0) {
			out[o++] = '\r';
			out[o++] = '\n';
		} else if (style == B64_WRAP_LF && (i + 1) % 76 == 0) {
			out[o++] = '\n';
		} else if (style == B64_SPACES && (i + 1) % 7 == 0) {
			out[o++] = ' ';
			if ((i + 1) % 21 == 0)
				out[o++] = '\t';
		}
	}
	if (style != B64_ONE_LINE) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	out[o] = '\0';
	free(one);
	return out;
}

/* Decode a body with OpenSSL (blanks and line breaks removed first). */
static uint8_t *unb64(const char *s, size_t n, size_t *out_len)
{
	char *clean = malloc(n + 1);
	uint8_t *out;
	size_t m = 0, pad;
	int r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(clean);
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\r' && s[i] != '\n' && s[i] != ' ' && s[i] != '\t')
			clean[m++] = s[i];
	CU_ASSERT_FATAL(m > 0 && m % 4 == 0);
	out = malloc(m / 4 * 3 + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	r = EVP_DecodeBlock(out, (unsigned char *)clean, (int)m);
	CU_ASSERT_FATAL(r >= 0);
	pad = (clean[m - 1] == '=') + (clean[m - 2] == '=');
	*out_len = (size_t)r - pad;
	free(clean);
	return out;
}

/* -------------------------------------------------------------- CSRs */

static GENERAL_NAME *gn_dns(const char *v)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	CU_ASSERT_FATAL(g && s && ASN1_STRING_set(s, v, (int)strlen(v)));
	GENERAL_NAME_set0_value(g, GEN_DNS, s);
	return g;
}

static GENERAL_NAME *gn_upn(const char *v)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
	ASN1_TYPE *val = ASN1_TYPE_new();
	CU_ASSERT_FATAL(g && s && val && ASN1_STRING_set(s, v, (int)strlen(v)));
	ASN1_TYPE_set(val, V_ASN1_UTF8STRING, s);
	CU_ASSERT_FATAL(GENERAL_NAME_set0_othername(g, OBJ_nid2obj(NID_ms_upn), val));
	return g;
}

/* DER of a CSR for `name` with the subjectAltName `san` (may be NULL),
 * signed by key. */
static uint8_t *csr_of(const X509_NAME *name, const GENERAL_NAMES *san, EVP_PKEY *key, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	unsigned char *der = NULL;
	uint8_t *out;
	int n;

	CU_ASSERT_FATAL(req != NULL);
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, name));
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, key));
	if (san && sk_GENERAL_NAME_num(san) > 0) {
		CU_ASSERT_FATAL(X509V3_add1_i2d(&exts, NID_subject_alt_name, (void *)san, 0, X509V3_ADD_APPEND) == 1);
		CU_ASSERT_FATAL(X509_REQ_add_extensions(req, exts));
	}
	CU_ASSERT_FATAL(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	CU_ASSERT_FATAL((n = i2d_X509_REQ(req, &der)) > 0);
	CU_ASSERT_FATAL((out = malloc((size_t)n)) != NULL);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return out;
}

/* CN=cn, and optionally SAN dNSName dns and UPN upn. */
static uint8_t *csr(const char *cn, const char *dns, const char *upn, EVP_PKEY *key, size_t *len)
{
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *san = GENERAL_NAMES_new();
	uint8_t *der;

	CU_ASSERT_FATAL(name && san);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
	if (dns)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(san, gn_dns(dns)));
	if (upn)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(san, gn_upn(upn)));
	der = csr_of(name, san, key, len);
	GENERAL_NAMES_free(san);
	X509_NAME_free(name);
	return der;
}

/* ---------------------------------------------------------- requests */

typedef struct {
	const char *method, *path, *ct, *auth;
	const char *body;   /* NUL-terminated; NULL = no body */
	const uint8_t *peer; /* TLS client certificate (DER) or NULL */
	size_t peer_len;
} call;

static void est(const call *c, sp_est_response *rs)
{
	sp_est_request rq;
	const uint8_t *peers[1];
	size_t lens[1];

	setup();
	memset(&rq, 0, sizeof rq);
	rq.method = c->method;
	rq.path = c->path;
	rq.content_type = c->ct;
	rq.authorization = c->auth;
	rq.body = (const uint8_t *)c->body;
	rq.body_len = c->body ? strlen(c->body) : 0;
	rq.client = CLIENT;
	if (c->peer) {
		peers[0] = c->peer;
		lens[0] = c->peer_len;
		rq.peer_der = peers;
		rq.peer_len = lens;
		rq.n_peer = 1;
	}
	sp_est_handle(fx.est, &rq, rs);
}

static void get(const char *path, sp_est_response *rs)
{
	call c = {"GET", path, NULL, NULL, NULL, NULL, 0};
	est(&c, rs);
}

/* POST a CSR (line-wrapped base64, application/pkcs10). */
static void post_csr(const char *label, const char *op, const uint8_t *der, size_t len, const char *auth,
		     const uint8_t *peer, size_t peer_len, sp_est_response *rs)
{
	char path[256], *body = b64(der, len, B64_WRAP_CRLF);
	call c = {"POST", path, "application/pkcs10", auth, body, peer, peer_len};

	snprintf(path, sizeof path, WK "%s/%s", label, op);
	est(&c, rs);
	free(body);
}

/* --------------------------------------------------------- responses */

static int body_has(const sp_est_response *rs, const char *needle)
{
	return rs->body && memmem(rs->body, rs->body_len, needle, strlen(needle)) != NULL;
}

static void show(const sp_est_response *rs, const char *what)
{
	printf("\n    %s: status %d, %s: %.*s", what, rs->status, rs->content_type ? rs->content_type : "(no type)",
	       rs->body ? (int)(rs->body_len > 400 ? 400 : rs->body_len) : 0, rs->body ? rs->body : "");
}

static void want_status(const sp_est_response *rs, int status, const char *what)
{
	if (rs->status != status) {
		printf("\n    %s: want %d", what, status);
		show(rs, "got");
	}
	CU_ASSERT_EQUAL(rs->status, status);
}

/* An error answer: the status, a one-line text/plain body holding needle. */
static void want_text(const sp_est_response *rs, int status, const char *needle, const char *what)
{
	want_status(rs, status, what);
	CU_ASSERT_PTR_NOT_NULL(rs->content_type);
	if (rs->content_type)
		CU_ASSERT_EQUAL(strncmp(rs->content_type, "text/plain", 10), 0);
	CU_ASSERT_FALSE(rs->base64);
	CU_ASSERT_FATAL(rs->body != NULL && rs->body_len > 0);
	/* one line, ending in LF */
	CU_ASSERT_EQUAL(rs->body[rs->body_len - 1], '\n');
	CU_ASSERT_PTR_EQUAL(memchr(rs->body, '\n', rs->body_len), rs->body + rs->body_len - 1);
	if (needle && !body_has(rs, needle)) {
		printf("\n    %s: body lacks \"%s\"", what, needle);
		show(rs, "got");
		CU_FAIL("body text");
	}
	CU_ASSERT_EQUAL(rs->serial[0], '\0');
}

/* The certificates of a base64 certs-only PKCS#7 body. */
static STACK_OF(X509) *p7_certs(const char *b, size_t n)
{
	size_t len;
	uint8_t *der = unb64(b, n, &len);
	const unsigned char *p = der;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
	STACK_OF(X509) *certs;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p7);
	CU_ASSERT_PTR_EQUAL(p, der + len); /* nothing after it */
	CU_ASSERT_FATAL(PKCS7_type_is_signed(p7));
	CU_ASSERT_EQUAL(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p7->d.sign->cert);
	certs = X509_chain_up_ref(p7->d.sign->cert);
	CU_ASSERT_PTR_NOT_NULL_FATAL(certs);
	PKCS7_free(p7);
	free(der);
	return certs;
}

/* 200 with one certificate (certs-only PKCS#7); the response's serial is
 * that certificate's. Returned fully decoded (caller frees). */
static X509 *want_cert(const sp_est_response *rs, const char *what)
{
	STACK_OF(X509) *certs;
	X509 *x;
	char serial[41];

	want_status(rs, 200, what);
	CU_ASSERT_FATAL(rs->status == 200);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rs->content_type);
	CU_ASSERT_STRING_EQUAL(rs->content_type, CT_P7);
	CU_ASSERT_TRUE(rs->base64);
	certs = p7_certs(rs->body, rs->body_len);
	CU_ASSERT_EQUAL_FATAL(sk_X509_num(certs), 1);
	x = sk_X509_shift(certs);
	sk_X509_pop_free(certs, X509_free);
	CU_ASSERT_EQUAL_FATAL(sp_serial_hex(X509_get0_serialNumber(x), serial, sizeof serial), SP_OK);
	CU_ASSERT_STRING_EQUAL(rs->serial, serial);
	/* issued by this CA */
	CU_ASSERT_EQUAL(X509_check_issued(sp_ca_get0_cert(fx.ca_key), x), X509_V_OK);
	return x;
}

/* "request N is waiting ...": 202 with Retry-After from the configuration;
 * returns N. */
static long long want_queued(const sp_est_response *rs, const char *what)
{
	long long id = -1;

	want_status(rs, 202, what);
	CU_ASSERT_EQUAL(rs->retry_after, RETRY_AFTER);
	CU_ASSERT_FATAL(rs->body != NULL);
	CU_ASSERT_EQUAL(sscanf(rs->body, "request %lld is waiting", &id), 1);
	CU_ASSERT(id > 0);
	CU_ASSERT_EQUAL(rs->serial[0], '\0');
	return id;
}

static char *cn_of(X509 *x)
{
	static char cn[256];
	cn[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
	return cn;
}

/* 1 if x carries dNSName (or UPN, upn = 1) v in its subjectAltName. */
static int has_san(X509 *x, const char *v, int upn)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int found = 0;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = NULL;
		if (!upn && g->type == GEN_DNS)
			s = g->d.dNSName;
		else if (upn && g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn &&
			 g->d.otherName->value->type == V_ASN1_UTF8STRING)
			s = g->d.otherName->value->value.utf8string;
		if (s && (size_t)ASN1_STRING_length(s) == strlen(v) && !memcmp(ASN1_STRING_get0_data(s), v, strlen(v)))
			found = 1;
	}
	GENERAL_NAMES_free(gens);
	return found;
}

/* --------------------------------------------------- issued certificates */

/* A certificate of this CA from template tname for CN=cn (and dNSName cn),
 * issued directly (not through EST). */
static X509 *issue_cert(const char *tname, const char *cn, EVP_PKEY *key, uint8_t **der, size_t *der_len)
{
	sp_template *t = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	sp_issue_opts o;
	size_t len;
	uint8_t *c = csr(cn, cn, NULL, key, &len);
	unsigned char *d = NULL;
	int n;
	sp_err rc;

	CU_ASSERT_EQUAL_FATAL(sp_template_find(NULL, tname, &t), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_req_parse(c, len, &req), SP_OK);
	memset(&o, 0, sizeof o);
	o.requester = ACTOR;
	rc = sp_issue(fx.ca_key, t, req, &o, &x);
	if (rc != SP_OK)
		printf("\n    sp_issue %s: %s", tname, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_FATAL((n = i2d_X509(x, &d)) > 0);
	CU_ASSERT_FATAL((*der = malloc((size_t)n)) != NULL);
	memcpy(*der, d, (size_t)n);
	*der_len = (size_t)n;
	OPENSSL_free(d);
	X509_REQ_free(req);
	sp_template_free(t);
	free(c);
	return x;
}

/* A CSR for exactly the subject and subjectAltName of x (re-enrollment). */
static X509 *issue_client_auth(const char *cn, EVP_PKEY *key, uint8_t **der, size_t *der_len)
{
	return issue_cert("client-auth", cn, key, der, der_len);
}

static uint8_t *csr_same_names(X509 *x, EVP_PKEY *key, size_t *len)
{
	GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	uint8_t *der = csr_of(X509_get_subject_name(x), san, key, len);
	GENERAL_NAMES_free(san);
	return der;
}

static void serial_of(X509 *x, char out[41])
{
	CU_ASSERT_EQUAL_FATAL(sp_serial_hex(X509_get0_serialNumber(x), out, 41), SP_OK);
}

/* What `sitepki request approve ID` does to a queued request: issue its
 * CSR from template tname, recorded against request id. */
static X509 *approve(const char *tname, const uint8_t *der, size_t len, long long id)
{
	sp_template *tp = NULL;
	X509_REQ *req = NULL;
	X509 *issued = NULL;
	sp_issue_opts o;

	CU_ASSERT_EQUAL_FATAL(sp_template_find(NULL, tname, &tp), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_req_parse(der, len, &req), SP_OK);
	memset(&o, 0, sizeof o);
	o.requester = ACTOR;
	o.request_id = id;
	CU_ASSERT_EQUAL_FATAL(sp_issue(fx.ca_key, tp, req, &o, &issued), SP_OK);
	X509_REQ_free(req);
	sp_template_free(tp);
	return issued;
}

/* ------------------------------------------------------------ tokens */

typedef struct {
	int64_t id;
	char *secret;
	char auth[256]; /* "Basic " base64(id:secret) */
} token;

static void token_new(token *t, const char *template_name, const char *dns)
{
	sp_token_spec spec;
	const char *names[1] = {dns};
	char cred[128];
	sp_err rc;

	memset(t, 0, sizeof *t);
	memset(&spec, 0, sizeof spec);
	spec.template_name = template_name;
	spec.dns = names;
	spec.n_dns = 1;
	spec.ttl_seconds = 3600;
	rc = sp_token_create(st(), &spec, ACTOR, &t->id, &t->secret);
	if (rc != SP_OK)
		printf("\n    sp_token_create: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	snprintf(cred, sizeof cred, "%lld:%s", (long long)t->id, t->secret);
	memcpy(t->auth, "Basic ", 6);
	CU_ASSERT_FATAL(EVP_EncodeBlock((unsigned char *)t->auth + 6, (const unsigned char *)cred,
					(int)strlen(cred)) > 0);
	OPENSSL_cleanse(cred, sizeof cred);
}

static void token_free(token *t)
{
	if (t->secret) {
		OPENSSL_cleanse(t->secret, strlen(t->secret));
		free(t->secret);
	}
	memset(t, 0, sizeof *t);
}

static int token_state(const token *t, char *serial, size_t serialsz)
{
	sp_token_row row;
	int s;
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st(), t->id, &row), SP_OK);
	s = row.state;
	if (serial)
		snprintf(serial, serialsz, "%s", row.cert_serial ? row.cert_serial : "");
	sp_token_row_clear(&row);
	return s;
}

/* "Basic " + base64 of arbitrary credentials. */
static void basic(char *out, size_t outsz, const char *cred)
{
	CU_ASSERT_FATAL(outsz > 6 + 4 * (strlen(cred) + 2) / 3 + 1);
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)cred, (int)strlen(cred));
}

/* "Basic" credentials with t's id and a secret that is not its */
static void wrong_secret(const token *t, char *out, size_t outsz)
{
	char cred[128];

	snprintf(cred, sizeof cred, "%lld:%s", (long long)t->id, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	basic(out, outsz, cred);
}

/* =============================================================== routing */

static void check_cacerts(const sp_est_response *rs, const char *what)
{
	STACK_OF(X509) *certs;

	want_status(rs, 200, what);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rs->content_type);
	CU_ASSERT_STRING_EQUAL(rs->content_type, "application/pkcs7-mime");
	CU_ASSERT_TRUE(rs->base64);
	CU_ASSERT_EQUAL_FATAL(rs->status, 200);
	certs = p7_certs(rs->body, rs->body_len);
	/* a root: this CA only */
	CU_ASSERT_EQUAL(sk_X509_num(certs), 1);
	if (sk_X509_num(certs) >= 1)
		CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(certs, 0), sp_ca_get0_cert(fx.ca_key)), 0);
	sk_X509_pop_free(certs, X509_free);
}

static void test_cacerts(void)
{
	sp_est_response rs;
	counts before = snapshot();

	get(WK "cacerts", &rs);
	check_cacerts(&rs, "cacerts without label");
	sp_est_response_clear(&rs);
	get(WK "client-auth/cacerts", &rs);
	check_cacerts(&rs, "cacerts with label");
	sp_est_response_clear(&rs);
	{
		call c = {"HEAD", WK "cacerts", NULL, NULL, NULL, NULL, 0};
		est(&c, &rs);
		want_status(&rs, 200, "HEAD cacerts");
		sp_est_response_clear(&rs);
	}
	/* a label must still name a template */
	get(WK "no-such-template/cacerts", &rs);
	want_text(&rs, 404, "unknown template label", "cacerts, unknown label");
	sp_est_response_clear(&rs);
	unchanged(before, "cacerts");
}

/* The CsrAttrs of template `label`: the OIDs listed bare and the attributes
 * (type -> values). */
typedef struct {
	int oids[8], n_oids;
	int attr_type[4], attr_values[4][4], n_attr_values[4], n_attrs;
} csrattrs;

static void get_csrattrs(const char *label, csrattrs *out)
{
	char path[128];
	sp_est_response rs;
	uint8_t *der;
	size_t len;
	const unsigned char *p;
	STACK_OF(ASN1_TYPE) *seq;

	memset(out, 0, sizeof *out);
	snprintf(path, sizeof path, WK "%s/csrattrs", label);
	get(path, &rs);
	want_status(&rs, 200, path);
	CU_ASSERT_FATAL(rs.status == 200);
	CU_ASSERT_STRING_EQUAL(rs.content_type, "application/csrattrs");
	CU_ASSERT_TRUE(rs.base64);
	der = unb64(rs.body, rs.body_len, &len);
	p = der;
	seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(seq);
	CU_ASSERT_PTR_EQUAL(p, der + len);
	for (int i = 0; i < sk_ASN1_TYPE_num(seq); i++) {
		ASN1_TYPE *a = sk_ASN1_TYPE_value(seq, i);
		if (a->type == V_ASN1_OBJECT) {
			CU_ASSERT_FATAL(out->n_oids < 8);
			out->oids[out->n_oids++] = OBJ_obj2nid(a->value.object);
		} else {
			/* Attribute ::= SEQUENCE { type, SET OF values } */
			const unsigned char *q;
			X509_ATTRIBUTE *attr;
			int k;
			CU_ASSERT_EQUAL_FATAL(a->type, V_ASN1_SEQUENCE);
			CU_ASSERT_FATAL(out->n_attrs < 4);
			q = ASN1_STRING_get0_data(a->value.sequence);
			attr = d2i_X509_ATTRIBUTE(NULL, &q, ASN1_STRING_length(a->value.sequence));
			CU_ASSERT_PTR_NOT_NULL_FATAL(attr);
			k = out->n_attrs++;
			out->attr_type[k] = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(attr));
			for (int j = 0; j < X509_ATTRIBUTE_count(attr) && j < 4; j++) {
				ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(attr, j);
				CU_ASSERT_EQUAL(v->type, V_ASN1_OBJECT);
				if (v->type == V_ASN1_OBJECT)
					out->attr_values[k][out->n_attr_values[k]++] = OBJ_obj2nid(v->value.object);
			}
			X509_ATTRIBUTE_free(attr);
		}
	}
	/* and the OIDs by their DER bytes, independent of the ASN.1 decoder */
	{
		static const unsigned char ext_req[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
		static const unsigned char san[] = {0x06, 0x03, 0x55, 0x1d, 0x11};
		int want = !strcmp(label, "client-auth") || !strcmp(label, "web-server") || !strcmp(label, "osd-media");
		CU_ASSERT_EQUAL(memmem(der, len, ext_req, sizeof ext_req) != NULL, want);
		CU_ASSERT_EQUAL(memmem(der, len, san, sizeof san) != NULL, want);
	}
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	free(der);
	sp_est_response_clear(&rs);
}

static int has_nid(const int *v, int n, int nid)
{
	for (int i = 0; i < n; i++)
		if (v[i] == nid)
			return 1;
	return 0;
}

static void test_csrattrs(void)
{
	csrattrs a;
	sp_est_response rs;
	counts before = snapshot();

	/* client-auth: RSA 2048 only, SHA-256, names from the CSR */
	get_csrattrs("client-auth", &a);
	CU_ASSERT_EQUAL(a.n_oids, 2);
	CU_ASSERT(has_nid(a.oids, a.n_oids, NID_sha256WithRSAEncryption));
	CU_ASSERT(has_nid(a.oids, a.n_oids, NID_rsaEncryption));
	CU_ASSERT_EQUAL_FATAL(a.n_attrs, 1);
	CU_ASSERT_EQUAL(a.attr_type[0], NID_ext_req);
	CU_ASSERT_EQUAL(a.n_attr_values[0], 1);
	CU_ASSERT_EQUAL(a.attr_values[0][0], NID_subject_alt_name);

	/* web-server: RSA and EC P-256 / P-384 */
	get_csrattrs("web-server", &a);
	CU_ASSERT_EQUAL(a.n_oids, 3);
	CU_ASSERT(has_nid(a.oids, a.n_oids, NID_sha256WithRSAEncryption));
	CU_ASSERT(has_nid(a.oids, a.n_oids, NID_rsaEncryption));
	CU_ASSERT(has_nid(a.oids, a.n_oids, NID_ecdsa_with_SHA256));
	CU_ASSERT_EQUAL_FATAL(a.n_attrs, 2);
	for (int i = 0; i < a.n_attrs; i++) {
		if (a.attr_type[i] == NID_X9_62_id_ecPublicKey) {
			CU_ASSERT_EQUAL(a.n_attr_values[i], 2);
			CU_ASSERT(has_nid(a.attr_values[i], a.n_attr_values[i], NID_X9_62_prime256v1));
			CU_ASSERT(has_nid(a.attr_values[i], a.n_attr_values[i], NID_secp384r1));
		} else {
			CU_ASSERT_EQUAL(a.attr_type[i], NID_ext_req);
		}
	}

	/* without a label: no attributes to ask for */
	get(WK "csrattrs", &rs);
	want_status(&rs, 204, "csrattrs without label");
	CU_ASSERT_EQUAL(rs.body_len, 0);
	CU_ASSERT_EQUAL(rs.serial[0], '\0');
	sp_est_response_clear(&rs);
	get(WK "no-such-template/csrattrs", &rs);
	want_text(&rs, 404, NULL, "csrattrs, unknown label");
	sp_est_response_clear(&rs);
	unchanged(before, "csrattrs");
}

static void test_routing_refusals(void)
{
	char long_label[128];
	const char *const not_found[] = {
		WK "foo",                              /* unknown operation */
		WK "CACERTS",                          /* operations are lower case */
		WK "cacerts/",                         /* "cacerts" taken as a label, no operation */
		WK "client-auth/simpleenroll/extra",   /* nothing after the operation */
		WK "client-auth/",                     /* no operation */
		WK "no-such-template/simpleenroll",    /* unknown label */
		WK "Client-Auth/simpleenroll",         /* upper case */
		WK "client_auth/simpleenroll",         /* '_' */
		WK "../simpleenroll",                  /* dots */
		WK "-client/simpleenroll",             /* must start with a letter or digit */
		WK "client auth/simpleenroll",         /* blank */
		WK "client-auth%2fx/simpleenroll",     /* '%' */
		WK "/cacerts",                         /* empty label */
		long_label, /* 65 characters */
		WK "simpleenroll",                     /* enrollment needs a label */
		"/.well-known/est",                    /* outside /.well-known/est/ */
		"/.well-known/estx/cacerts",
		"/est/cacerts",
		"/cacerts",
		"",
		"/.WELL-KNOWN/EST/cacerts",
	};
	sp_est_response rs;
	counts before;
	size_t len;
	uint8_t *der;
	char *body;

	setup();
	before = snapshot();
	der = csr(fresh("route"), NULL, NULL, rsa(0), &len);
	body = b64(der, len, B64_WRAP_CRLF);
	memcpy(long_label, WK, strlen(WK));
	memset(long_label + strlen(WK), 'a', 65);
	strcpy(long_label + strlen(WK) + 65, "/cacerts");
	for (size_t i = 0; i < sizeof not_found / sizeof not_found[0]; i++) {
		/* POST (with a valid CSR), and GET unless the path names an
		 * enrollment operation (then the method is checked first: 405) */
		call g = {"GET", not_found[i], NULL, NULL, NULL, NULL, 0};
		call p = {"POST", not_found[i], "application/pkcs10", NULL, body, NULL, 0};
		size_t n = strlen(not_found[i]);
		if (n < 13 || strcmp(not_found[i] + n - 13, "/simpleenroll") != 0) {
			est(&g, &rs);
			want_text(&rs, 404, NULL, not_found[i]);
			sp_est_response_clear(&rs);
		}
		est(&p, &rs);
		want_text(&rs, 404, NULL, not_found[i]);
		sp_est_response_clear(&rs);
	}
	{
		call c = {"GET", NULL, NULL, NULL, NULL, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 404, NULL, "no path");
		sp_est_response_clear(&rs);
	}

	/* 405 with Allow */
	{
		call c = {"GET", WK "client-auth/simpleenroll", NULL, NULL, NULL, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 405, NULL, "GET simpleenroll");
		CU_ASSERT_PTR_NOT_NULL(rs.allow);
		if (rs.allow)
			CU_ASSERT_STRING_EQUAL(rs.allow, "POST");
		sp_est_response_clear(&rs);
	}
	{
		call c = {"GET", WK "client-auth/simplereenroll", NULL, NULL, NULL, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 405, NULL, "GET simplereenroll");
		CU_ASSERT(rs.allow && !strcmp(rs.allow, "POST"));
		sp_est_response_clear(&rs);
	}
	{
		call c = {"PUT", WK "osd-media/serverkeygen", "application/pkcs10", NULL, body, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 405, NULL, "PUT serverkeygen");
		CU_ASSERT(rs.allow && !strcmp(rs.allow, "POST"));
		sp_est_response_clear(&rs);
	}
	{
		call c = {"POST", WK "cacerts", "application/pkcs10", NULL, body, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 405, NULL, "POST cacerts");
		CU_ASSERT_PTR_NOT_NULL(rs.allow);
		if (rs.allow)
			CU_ASSERT_PTR_NULL(strstr(rs.allow, "POST"));
		if (rs.allow)
			CU_ASSERT_PTR_NOT_NULL(strstr(rs.allow, "GET"));
		sp_est_response_clear(&rs);
	}
	{
		call c = {"POST", WK "client-auth/csrattrs", NULL, NULL, NULL, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 405, NULL, "POST csrattrs");
		CU_ASSERT(rs.allow && strstr(rs.allow, "GET"));
		sp_est_response_clear(&rs);
	}
	{
		call c = {"DELETE", WK "cacerts", NULL, NULL, NULL, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 405, NULL, "DELETE cacerts");
		sp_est_response_clear(&rs);
	}
	unchanged(before, "routing refusals");
	free(body);
	free(der);
}

/* ======================================================== content type */

static void test_content_type(void)
{
	static const char *const refused[] = {NULL, "text/plain", "application/pkcs7-mime", "application/pkcs10x",
					      "application/pkcs", "", "application/x-pkcs10"};
	static const char *const accepted[] = {"application/pkcs10", "application/pkcs10; charset=x",
					       "APPLICATION/PKCS10", "Application/Pkcs10;foo=bar", " application/pkcs10"};
	size_t len;
	uint8_t *der = csr(fresh("ctype"), NULL, NULL, rsa(0), &len);
	char *body = b64(der, len, B64_WRAP_CRLF);
	sp_est_response rs;
	counts before = snapshot();
	long long id = -1;

	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		call c = {"POST", WK "client-auth/simpleenroll", refused[i], NULL, body, NULL, 0};
		est(&c, &rs);
		want_text(&rs, 415, "application/pkcs10", refused[i] ? refused[i] : "(no Content-Type)");
		sp_est_response_clear(&rs);
	}
	unchanged(before, "415");
	for (size_t i = 0; i < sizeof accepted / sizeof accepted[0]; i++) {
		call c = {"POST", WK "client-auth/simpleenroll", accepted[i], NULL, body, NULL, 0};
		long long got;
		est(&c, &rs);
		got = want_queued(&rs, accepted[i]);
		if (i == 0)
			id = got;
		else
			CU_ASSERT_EQUAL(got, id); /* the same CSR: the same request */
		sp_est_response_clear(&rs);
	}
	{
		counts after = snapshot();
		CU_ASSERT_EQUAL(after.requests, before.requests + 1);
		CU_ASSERT_EQUAL(after.certs, before.certs);
	}
	free(body);
	free(der);
}

/* ============================================================== base64 */

static void test_base64_forms(void)
{
	static const int styles[] = {B64_WRAP_CRLF, B64_ONE_LINE, B64_SPACES, B64_WRAP_LF};
	size_t len;
	uint8_t *der = csr(fresh("b64"), NULL, NULL, rsa(1), &len);
	counts before = snapshot();
	sp_est_response rs;
	long long id = -1;

	for (size_t i = 0; i < sizeof styles / sizeof styles[0]; i++) {
		char *body = b64(der, len, styles[i]);
		call c = {"POST", WK "client-auth/simpleenroll", "application/pkcs10", NULL, body, NULL, 0};
		long long got;
		est(&c, &rs);
		got = want_queued(&rs, "base64 form");
		if (i == 0)
			id = got;
		else
			CU_ASSERT_EQUAL(got, id);
		sp_est_response_clear(&rs);
		free(body);
	}
	/* one request for the four encodings of one CSR, holding its DER */
	{
		sp_request_row row;
		counts after = snapshot();
		CU_ASSERT_EQUAL(after.requests, before.requests + 1);
		CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st(), id, &row), SP_OK);
		CU_ASSERT_EQUAL(row.csr_der_len, len);
		if (row.csr_der_len == len)
			CU_ASSERT_EQUAL(memcmp(row.csr_der, der, len), 0);
		CU_ASSERT_EQUAL(row.status, SP_REQ_PENDING);
		CU_ASSERT_STRING_EQUAL(row.template_name, "client-auth");
		CU_ASSERT_STRING_EQUAL(row.requester, "est:anonymous:" CLIENT);
		sp_request_row_clear(&row);
	}
	free(der);
}

static void post_body(const char *body, size_t body_len, sp_est_response *rs)
{
	sp_est_request rq;

	memset(&rq, 0, sizeof rq);
	rq.method = "POST";
	rq.path = WK "client-auth/simpleenroll";
	rq.content_type = "application/pkcs10";
	rq.body = (const uint8_t *)body;
	rq.body_len = body_len;
	rq.client = CLIENT;
	sp_est_handle(fx.est, &rq, rs);
}

static void test_base64_refused(void)
{
	size_t len, n;
	uint8_t *der = csr(fresh("b64bad"), NULL, NULL, rsa(1), &len);
	char *good = b64(der, len, B64_ONE_LINE), *bad;
	counts before = snapshot();
	sp_est_response rs;
	static const char refused_bytes[] = {'-', '*', '_', '.', '"', '\0', (char)0x80, (char)0xff, '\v', '\f', ':'};

	n = strlen(good);
	bad = malloc(n + 8);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
	/* a byte outside the alphabet, in place of a character (length kept) */
	for (size_t i = 0; i < sizeof refused_bytes; i++) {
		memcpy(bad, good, n + 1);
		bad[n / 2] = refused_bytes[i];
		post_body(bad, n, &rs);
		want_text(&rs, 400, "not base64", "byte outside the alphabet");
		sp_est_response_clear(&rs);
	}
	/* base64url instead of base64 */
	memcpy(bad, good, n + 1);
	for (size_t i = 0; i < n; i++)
		bad[i] = bad[i] == '+' ? '-' : bad[i] == '/' ? '_' : bad[i];
	if (strchr(bad, '-') || strchr(bad, '_')) {
		post_body(bad, n, &rs);
		want_text(&rs, 400, "not base64", "base64url");
		sp_est_response_clear(&rs);
	}
	/* a length that is not a multiple of 4 */
	for (size_t cut = 1; cut <= 3; cut++) {
		post_body(good, n - cut, &rs);
		want_text(&rs, 400, "not base64", "truncated");
		sp_est_response_clear(&rs);
	}
	memcpy(bad, good, n);
	bad[n] = 'A';
	post_body(bad, n + 1, &rs);
	want_text(&rs, 400, "multiple of 4", "one character too many");
	sp_est_response_clear(&rs);
	/* empty, and blanks only */
	post_body(NULL, 0, &rs);
	want_text(&rs, 400, NULL, "no body");
	sp_est_response_clear(&rs);
	post_body("", 0, &rs);
	want_text(&rs, 400, NULL, "empty body");
	sp_est_response_clear(&rs);
	post_body(" \r\n\t\r\n", 6, &rs);
	want_text(&rs, 400, NULL, "blank body");
	sp_est_response_clear(&rs);
	/* the DER itself, not base64 */
	post_body((const char *)der, len, &rs);
	want_text(&rs, 400, NULL, "raw DER");
	sp_est_response_clear(&rs);
	/* valid base64 of something that is not a CSR */
	post_body("aGVsbG8gd29ybGQh", 16, &rs);
	want_text(&rs, 400, NULL, "not a CSR");
	sp_est_response_clear(&rs);
	/* a CSR with a byte after it */
	{
		uint8_t *longer = malloc(len + 1);
		char *body;
		CU_ASSERT_PTR_NOT_NULL_FATAL(longer);
		memcpy(longer, der, len);
		longer[len] = 0;
		body = b64(longer, len + 1, B64_WRAP_CRLF);
		post_body(body, strlen(body), &rs);
		want_text(&rs, 400, NULL, "trailing byte");
		sp_est_response_clear(&rs);
		free(body);
		free(longer);
	}
	unchanged(before, "base64 refusals");
	free(bad);
	free(good);
	free(der);
}

/* A CSR whose signature does not verify: refused before anything is
 * queued or a token spent. */
static void test_proof_of_possession(void)
{
	size_t len;
	const char *cn = fresh("pop");
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len);
	char *body;
	counts before = snapshot();
	sp_est_response rs;
	token t;

	der[len - 1] ^= 0x01; /* the last byte of the signature */
	body = b64(der, len, B64_WRAP_CRLF);
	post_body(body, strlen(body), &rs);
	want_text(&rs, 400, "proof of possession", "broken signature, anonymous");
	sp_est_response_clear(&rs);
	/* with a token: refused, and the token is not spent */
	token_new(&t, "client-auth", cn);
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 400, "proof of possession", "broken signature, token");
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	unchanged(before, "proof of possession");
	token_free(&t);
	free(body);
	free(der);

	/* A client certificate that may renew at once: the service leaves the
	 * check to the issuer (the signer, in sitepki serve), which refuses it;
	 * nothing is recorded. */
	{
		uint8_t *peer, *d2;
		size_t peer_len, l2;
		X509 *pc = issue_client_auth(fresh("pop2"), rsa(1), &peer, &peer_len);

		d2 = csr_same_names(pc, rsa(1), &l2);
		d2[l2 - 1] ^= 0x01;
		before = snapshot();
		post_csr("client-auth", "simplereenroll", d2, l2, NULL, peer, peer_len, &rs);
		want_text(&rs, 400, "proof of possession", "broken signature, client certificate");
		sp_est_response_clear(&rs);
		CU_ASSERT_EQUAL(snapshot().certs, before.certs);
		CU_ASSERT_EQUAL(snapshot().requests, before.requests);
		X509_free(pc);
		free(peer);
		free(d2);
	}
}

/* =================================================== anonymous, queue */

static void test_anonymous_queue_and_approve(void)
{
	size_t len;
	const char *cn = fresh("anon");
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len);
	counts before = snapshot(), after;
	sp_est_response rs;
	sp_request_row row;
	audit_last a;
	long long id, again;
	char want_detail[128], serial[41];
	X509 *issued = NULL, *got;

	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	id = want_queued(&rs, "anonymous");
	CU_ASSERT_STRING_EQUAL(rs.identity, "anonymous");
	sp_est_response_clear(&rs);
	after = snapshot();
	CU_ASSERT_EQUAL(after.requests, before.requests + 1);
	CU_ASSERT_EQUAL(after.certs, before.certs);
	CU_ASSERT_EQUAL(after.issue_calls, before.issue_calls);
	CU_ASSERT_EQUAL(after.audit, before.audit + 1);
	a = newest_audit();
	CU_ASSERT_STRING_EQUAL(a.action, "request-queued");
	CU_ASSERT_STRING_EQUAL(a.actor, "est:anonymous:" CLIENT);
	snprintf(want_detail, sizeof want_detail, "request=%lld", id);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, want_detail));
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st(), id, &row), SP_OK);
	CU_ASSERT_EQUAL(row.status, SP_REQ_PENDING);
	sp_request_row_clear(&row);

	/* the retry (RFC 7030 4.2.3): the same request, nothing new */
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	again = want_queued(&rs, "anonymous retry");
	CU_ASSERT_EQUAL(again, id);
	sp_est_response_clear(&rs);
	{
		counts c = snapshot();
		CU_ASSERT_EQUAL(c.requests, after.requests);
		CU_ASSERT_EQUAL(c.certs, after.certs);
		CU_ASSERT_EQUAL(c.audit, after.audit);
		CU_ASSERT_EQUAL(c.issue_calls, after.issue_calls);
	}
	/* the same CSR for another template is another request */
	{
		uint8_t *web;
		size_t wlen;
		web = csr(cn, cn, NULL, rsa(0), &wlen);
		post_csr("web-server", "simpleenroll", web, wlen, NULL, NULL, 0, &rs);
		CU_ASSERT_NOT_EQUAL(want_queued(&rs, "same CSR, other template"), id);
		sp_est_response_clear(&rs);
		free(web);
	}

	/* approved by an administrator (what `sitepki request approve` does) */
	issued = approve("client-auth", der, len, id);
	serial_of(issued, serial);
	after = snapshot();
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	got = want_cert(&rs, "retry after approval");
	CU_ASSERT_EQUAL(X509_cmp(got, issued), 0);
	CU_ASSERT_STRING_EQUAL(rs.serial, serial);
	sp_est_response_clear(&rs);
	X509_free(got);
	/* and again: the same certificate, nothing issued */
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	got = want_cert(&rs, "second retry after approval");
	CU_ASSERT_EQUAL(X509_cmp(got, issued), 0);
	sp_est_response_clear(&rs);
	X509_free(got);
	unchanged(after, "retries after approval");

	/* once revoked, the retry is refused */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_revoke(fx.ca_key, serial, SP_REASON_SUPERSEDED, (int64_t)time(NULL), ACTOR, NULL),
			      SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 403, "revoked", "retry after revocation");
	sp_est_response_clear(&rs);
	unchanged(after, "retry after revocation");
	X509_free(issued);
	free(der);
}

static void test_rejected(void)
{
	size_t len;
	const char *cn = fresh("rejected");
	uint8_t *der = csr(cn, cn, NULL, rsa(2), &len);
	sp_est_response rs;
	long long id;
	counts before;

	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	id = want_queued(&rs, "to be rejected");
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_set_status(st(), id, SP_REQ_REJECTED, NULL, "not a company device"),
			      SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	before = snapshot();
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 403, "not a company device", "retry after rejection");
	{
		char want[64];
		snprintf(want, sizeof want, "request %lld was rejected", id);
		CU_ASSERT(body_has(&rs, want));
	}
	sp_est_response_clear(&rs);
	/* rejected stays rejected: no new request for the same CSR */
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 403, "not a company device", "second retry after rejection");
	sp_est_response_clear(&rs);
	unchanged(before, "rejected");
	free(der);
}

static void test_anonymous_refused(void)
{
	size_t len;
	const char *cn = fresh("noanon");
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len);
	counts before = snapshot();
	sp_est_response rs;

	fx.cfg->allow_anonymous = 0;
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 401, "authentication required", "anonymous refused");
	CU_ASSERT_TRUE(rs.www_authenticate);
	CU_ASSERT_EQUAL(rs.retry_after, 0);
	sp_est_response_clear(&rs);
	/* cacerts and csrattrs need no authentication */
	get(WK "cacerts", &rs);
	want_status(&rs, 200, "cacerts without anonymous");
	sp_est_response_clear(&rs);
	get(WK "client-auth/csrattrs", &rs);
	want_status(&rs, 200, "csrattrs without anonymous");
	sp_est_response_clear(&rs);
	fx.cfg->allow_anonymous = 1;
	unchanged(before, "anonymous refused");
	/* and the setting is read per request */
	post_csr("client-auth", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	(void)want_queued(&rs, "anonymous allowed again");
	sp_est_response_clear(&rs);
	free(der);
}

/* ============================================================== tokens */

static void test_token_issues(void)
{
	const char *cn = fresh("tok");
	size_t len, len2;
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len), *der2;
	counts before = snapshot(), after;
	sp_est_response rs;
	char want_id[32], serial[41], token_serial[41];
	X509 *x, *again;
	token t;

	token_new(&t, "client-auth", cn);
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	x = want_cert(&rs, "token");
	snprintf(want_id, sizeof want_id, "token:%lld", (long long)t.id);
	CU_ASSERT_STRING_EQUAL(rs.identity, want_id);
	CU_ASSERT_STRING_EQUAL(cn_of(x), cn);
	CU_ASSERT(has_san(x, cn, 0));
	serial_of(x, serial);
	sp_est_response_clear(&rs);
	after = snapshot();
	CU_ASSERT_EQUAL(after.certs, before.certs + 1);
	CU_ASSERT_EQUAL(after.issue_calls, before.issue_calls + 1);
	/* spent, with the serial */
	CU_ASSERT_EQUAL(token_state(&t, token_serial, sizeof token_serial), SP_TOKEN_USED);
	CU_ASSERT_STRING_EQUAL(token_serial, serial);
	/* the certificate's row names the token as requester */
	{
		sp_request_row row;
		memset(&row, 0, sizeof row);
		{
			unsigned char md[32];
			char hex[65];
			EVP_Digest(der, len, md, NULL, EVP_sha256(), NULL);
			sp_hex(md, 32, hex, 0);
			CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st(), "client-auth", hex, &row), SP_OK);
		}
		CU_ASSERT_EQUAL(row.status, SP_REQ_ISSUED);
		CU_ASSERT_STRING_EQUAL(row.cert_serial, serial);
		snprintf(want_id, sizeof want_id, "est:token:%lld", (long long)t.id);
		CU_ASSERT_STRING_EQUAL(row.requester, want_id);
		sp_request_row_clear(&row);
	}

	/* the retry of the same CSR with the spent token (the answer was
	 * lost): the same certificate, nothing issued */
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	again = want_cert(&rs, "retry with the spent token");
	CU_ASSERT_EQUAL(X509_cmp(again, x), 0);
	sp_est_response_clear(&rs);
	X509_free(again);
	unchanged(after, "retry with the spent token");
	/* the same CSR with a wrong secret for that token: 401, not the
	 * certificate */
	{
		char auth[512];
		wrong_secret(&t, auth, sizeof auth);
		post_csr("client-auth", "simpleenroll", der, len, auth, NULL, 0, &rs);
		want_text(&rs, 401, "wrong enrollment token", "issued CSR, wrong secret");
		CU_ASSERT_TRUE(rs.www_authenticate);
		sp_est_response_clear(&rs);
		unchanged(after, "issued CSR, wrong secret");
		CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-token");
	}

	/* the spent token with a new CSR: 401 */
	der2 = csr(cn, cn, NULL, rsa(1), &len2);
	post_csr("client-auth", "simpleenroll", der2, len2, t.auth, NULL, 0, &rs);
	want_text(&rs, 401, "already used", "token reused");
	CU_ASSERT_TRUE(rs.www_authenticate);
	sp_est_response_clear(&rs);
	unchanged(after, "token reused");
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-token");

	X509_free(x);
	token_free(&t);
	free(der);
	free(der2);
}

static void test_token_bad_credentials(void)
{
	const char *cn = fresh("tokbad");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, rsa(1), &len);
	counts before = snapshot();
	sp_est_response rs;
	char auth[512], cred[256], huge[2048];
	token t;
	const char *cases[8];
	size_t n = 0;

	token_new(&t, "client-auth", cn);
	cases[n++] = "Bearer x";
	cases[n++] = "Basic !!!not-base64!!!";
	cases[n++] = "Basic QQ"; /* not a multiple of 4 */
	cases[n++] = "Basic ";
	cases[n++] = "Digest username=\"1\"";
	for (size_t i = 0; i < n; i++) {
		post_csr("client-auth", "simpleenroll", der, len, cases[i], NULL, 0, &rs);
		want_text(&rs, 401, NULL, cases[i]);
		CU_ASSERT_TRUE(rs.www_authenticate);
		sp_est_response_clear(&rs);
	}
	/* credentials without ':' */
	snprintf(cred, sizeof cred, "%lld%s", (long long)t.id, t.secret);
	basic(auth, sizeof auth, cred);
	post_csr("client-auth", "simpleenroll", der, len, auth, NULL, 0, &rs);
	want_text(&rs, 401, "user:password", "no colon");
	CU_ASSERT_TRUE(rs.www_authenticate);
	sp_est_response_clear(&rs);
	/* a NUL inside the credentials */
	{
		char raw[256];
		int k = snprintf(raw, sizeof raw, "%lld:%s", (long long)t.id, t.secret);
		char *colon = strchr(raw, ':');
		memmove(colon + 2, colon + 1, (size_t)k - (size_t)(colon - raw));
		colon[1] = '\0';
		memcpy(auth, "Basic ", 6);
		EVP_EncodeBlock((unsigned char *)auth + 6, (unsigned char *)raw, k + 1);
		post_csr("client-auth", "simpleenroll", der, len, auth, NULL, 0, &rs);
		want_text(&rs, 401, NULL, "NUL in the credentials");
		sp_est_response_clear(&rs);
	}
	/* the wrong secret, an unknown id */
	wrong_secret(&t, auth, sizeof auth);
	post_csr("client-auth", "simpleenroll", der, len, auth, NULL, 0, &rs);
	want_text(&rs, 401, "wrong enrollment token", "wrong secret");
	CU_ASSERT_TRUE(rs.www_authenticate);
	sp_est_response_clear(&rs);
	snprintf(cred, sizeof cred, "%lld:%s", (long long)t.id + 1000, t.secret);
	basic(auth, sizeof auth, cred);
	post_csr("client-auth", "simpleenroll", der, len, auth, NULL, 0, &rs);
	want_text(&rs, 401, "wrong enrollment token", "unknown id");
	sp_est_response_clear(&rs);
	/* an over-long header */
	memcpy(huge, "Basic ", 6);
	memset(huge + 6, 'A', sizeof huge - 7);
	huge[sizeof huge - 1] = '\0';
	post_csr("client-auth", "simpleenroll", der, len, huge, NULL, 0, &rs);
	want_text(&rs, 401, NULL, "over-long Authorization");
	sp_est_response_clear(&rs);
	/* every refusal is audited, none spent the token, nothing queued */
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-token");
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	unchanged(before, "bad credentials");
	/* the right credentials still work; "basic" in any case */
	memcpy(t.auth, "bAsIc", 5);
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	X509_free(want_cert(&rs, "right credentials after the refusals"));
	sp_est_response_clear(&rs);
	token_free(&t);
	free(der);
}

static void test_token_other_template_and_names(void)
{
	const char *cn = fresh("tokother");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, rsa(2), &len), *other;
	counts before = snapshot();
	sp_est_response rs;
	token t;

	token_new(&t, "client-auth", cn);
	/* web-server takes RSA too: only the template is wrong */
	post_csr("web-server", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 403, "client-auth", "token for another template");
	CU_ASSERT_FALSE(rs.www_authenticate);
	sp_est_response_clear(&rs);
	/* names the token is not for */
	{
		const char *cn2 = fresh("notbound");
		other = csr(cn2, cn2, NULL, rsa(2), &len);
		post_csr("client-auth", "simpleenroll", other, len, t.auth, NULL, 0, &rs);
		want_text(&rs, 403, "is not for", "token for other names");
		sp_est_response_clear(&rs);
		free(other);
	}
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	unchanged(before, "token for another template");
	token_free(&t);
	free(der);
}

static void test_token_expired(void)
{
	const char *cn = fresh("tokexp");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len);
	counts before;
	sp_est_response rs;
	sqlite3 *db = NULL;
	char path[4300], sql[160];
	token t;

	token_new(&t, "client-auth", cn);
	/* expired a second ago: there is no API to age a token */
	snprintf(path, sizeof path, "%s/%s", fx.home, SP_CA_DB);
	snprintf(sql, sizeof sql, "UPDATE token SET expires_at = %lld WHERE id = %lld", (long long)time(NULL) - 1,
		 (long long)t.id);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL(sqlite3_changes(db), 1);
	sqlite3_close(db);
	before = snapshot();
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 401, "expired", "expired token");
	CU_ASSERT_TRUE(rs.www_authenticate);
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	unchanged(before, "expired token");
	token_free(&t);
	free(der);
}

/* A template that needs approval (isv-proxy: autoApprove ""): a valid token
 * queues the request and is spent on it; the retry after approval, with the
 * same (now spent) token, gets the certificate. */
static void test_token_queued_then_approved(void)
{
	const char *cn = fresh("isv");
	size_t len;
	uint8_t *der = csr(cn, NULL, NULL, rsa(1), &len);
	counts before = snapshot(), after;
	sp_est_response rs;
	char token_serial[41], serial[41], want[64];
	long long id;
	X509 *issued = NULL, *got;
	token t;

	token_new(&t, "isv-proxy", cn);
	post_csr("isv-proxy", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	id = want_queued(&rs, "token on isv-proxy");
	snprintf(want, sizeof want, "token:%lld", (long long)t.id);
	CU_ASSERT_STRING_EQUAL(rs.identity, want);
	sp_est_response_clear(&rs);
	after = snapshot();
	CU_ASSERT_EQUAL(after.requests, before.requests + 1);
	CU_ASSERT_EQUAL(after.issue_calls, before.issue_calls);
	CU_ASSERT_EQUAL(token_state(&t, token_serial, sizeof token_serial), SP_TOKEN_USED);
	CU_ASSERT_STRING_EQUAL(token_serial, "");
	{
		sp_request_row row;
		CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st(), id, &row), SP_OK);
		snprintf(want, sizeof want, "est:token:%lld", (long long)t.id);
		CU_ASSERT_STRING_EQUAL(row.requester, want);
		CU_ASSERT_PTR_NOT_NULL(strstr(row.detail, cn)); /* the token's names travel with it */
		sp_request_row_clear(&row);
	}
	/* the retry while pending */
	post_csr("isv-proxy", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	CU_ASSERT_EQUAL(want_queued(&rs, "token retry while pending"), id);
	sp_est_response_clear(&rs);
	unchanged(after, "token retry while pending");
	/* approved */
	issued = approve("isv-proxy", der, len, id);
	serial_of(issued, serial);
	after = snapshot();
	/* the retry must carry the token the request was made with: a wrong
	 * secret, or another token (spent on its own request), is refused as
	 * for any other CSR, and nothing of the certificate is answered */
	{
		char auth[512];
		const char *cn2 = fresh("isv");
		size_t len2;
		uint8_t *der2 = csr(cn2, NULL, NULL, rsa(2), &len2);
		token t2;

		wrong_secret(&t, auth, sizeof auth);
		post_csr("isv-proxy", "simpleenroll", der, len, auth, NULL, 0, &rs);
		want_text(&rs, 401, "wrong enrollment token", "retry after approval, wrong secret");
		sp_est_response_clear(&rs);
		token_new(&t2, "isv-proxy", cn2);
		post_csr("isv-proxy", "simpleenroll", der2, len2, t2.auth, NULL, 0, &rs);
		(void)want_queued(&rs, "the second token's own request");
		sp_est_response_clear(&rs);
		after = snapshot();
		post_csr("isv-proxy", "simpleenroll", der, len, t2.auth, NULL, 0, &rs);
		want_text(&rs, 401, "already used", "retry after approval with another spent token");
		sp_est_response_clear(&rs);
		unchanged(after, "retries with the wrong credentials");
		token_free(&t2);
		free(der2);
	}
	post_csr("isv-proxy", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	got = want_cert(&rs, "token retry after approval");
	CU_ASSERT_EQUAL(X509_cmp(got, issued), 0);
	CU_ASSERT_STRING_EQUAL(rs.serial, serial);
	sp_est_response_clear(&rs);
	unchanged(after, "token retry after approval");
	X509_free(got);
	X509_free(issued);
	token_free(&t);
	free(der);
}

/* est.h: the identity is "for the log" ("anonymous", "token:3",
 * "cert:<serial>"); the service writes it into its access log as it is,
 * one line per request, fields separated by blanks. */
static int log_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static void test_identity_is_log_safe(void)
{
	const char *cn = fresh("toklog");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, rsa(1), &len);
	static const char *const users[] = {
		"1\n2030-01-01T00:00:00Z 10.9.9.9 POST /x 200 cert:AA",
		"1 200 cert:FORGED",
		"\x1b[2J1",
	};
	sp_est_response rs;
	char auth[512], cred[256];

	for (size_t i = 0; i < sizeof users / sizeof users[0]; i++) {
		snprintf(cred, sizeof cred, "%s:secret", users[i]);
		basic(auth, sizeof auth, cred);
		post_csr("client-auth", "simpleenroll", der, len, auth, NULL, 0, &rs);
		want_text(&rs, 401, NULL, "user name with control characters");
		/* Regression: at commit 55066ec the identity was "token?:<user
		 * as sent>" (up to 40 bytes of it), so a Basic user name with a
		 * line break or blanks forged access-log lines and fields
		 * (http_server.c escaped the method and path, not the identity).
		 * Fixed in the working tree while these tests were written. */
		if (!log_safe(rs.identity)) {
			printf("\n    identity \"");
			for (const char *q = rs.identity; *q; q++)
				printf((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f ? "\\x%02x" : "%c",
				       (unsigned char)*q);
			printf("\" is not log-safe");
		}
		CU_ASSERT_TRUE(log_safe(rs.identity));
		sp_est_response_clear(&rs);
	}
	free(der);
}

/* The template refuses the CSR (EC key on client-auth, RSA 2048 only):
 * 400, and the token is handed back. */
static void test_token_refused_csr_not_spent(void)
{
	const char *cn = fresh("tokec");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, ec(), &len);
	counts before = snapshot(), after;
	sp_est_response rs;
	token t;
	X509 *x;

	token_new(&t, "client-auth", cn);
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 400, NULL, "EC key on client-auth");
	sp_est_response_clear(&rs);
	after = snapshot();
	CU_ASSERT_EQUAL(after.certs, before.certs);
	CU_ASSERT_EQUAL(after.requests, before.requests);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	free(der);
	/* the token still works */
	der = csr(cn, cn, NULL, rsa(0), &len);
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	x = want_cert(&rs, "the token after a refused CSR");
	CU_ASSERT_STRING_EQUAL(cn_of(x), cn);
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_USED);
	X509_free(x);
	token_free(&t);
	free(der);
}

/* ==================================================== issue failures */

static void test_issue_fails(void)
{
	const char *cn = fresh("failing");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, rsa(1), &len);
	counts before = snapshot(), after;
	sp_est_response rs;
	token t;
	X509 *x;

	token_new(&t, "client-auth", cn);
	/* the signer is gone */
	fx.fail_rc = SP_ERR_IO;
	fx.fail_msg = "signer: connection closed";
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 503, "signer: connection closed", "issue fails with SP_ERR_IO");
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	/* the signer refuses: its message reaches the client */
	fx.fail_rc = SP_ERR_POLICY;
	fx.fail_msg = "CN: character 4 is not ASCII";
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 400, "CN: character 4 is not ASCII", "issue fails with SP_ERR_POLICY");
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	fx.fail_rc = SP_OK;
	fx.fail_msg = NULL;
	after = snapshot();
	CU_ASSERT_EQUAL(after.issue_calls, before.issue_calls + 2);
	CU_ASSERT_EQUAL(after.certs, before.certs);
	CU_ASSERT_EQUAL(after.requests, before.requests);
	/* and once the signer is back, the same token and CSR succeed */
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	x = want_cert(&rs, "after the failures");
	sp_est_response_clear(&rs);
	X509_free(x);
	token_free(&t);
	free(der);
}

/* ================================================ client certificates */

static void test_reenroll_own_names(void)
{
	const char *cn = fresh("peer");
	uint8_t *peer, *der;
	size_t peer_len, len;
	X509 *pc = issue_client_auth(cn, rsa(0), &peer, &peer_len), *x;
	counts before = snapshot();
	sp_est_response rs;
	char serial[41], want_id[64];

	serial_of(pc, serial);
	snprintf(want_id, sizeof want_id, "cert:%s", serial);
	/* a new key, the same names */
	der = csr_same_names(pc, rsa(1), &len);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	x = want_cert(&rs, "simplereenroll of its own names");
	CU_ASSERT_STRING_EQUAL(rs.identity, want_id);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(pc)), 0);
	CU_ASSERT(has_san(x, cn, 0));
	CU_ASSERT_STRING_NOT_EQUAL(rs.serial, serial);
	{
		EVP_PKEY *pub = X509_get0_pubkey(x);
		CU_ASSERT(pub && EVP_PKEY_eq(pub, rsa(1)) == 1);
	}
	sp_est_response_clear(&rs);
	X509_free(x);
	/* simpleenroll with the certificate works as well (a second time
	 * through the verification cache) */
	post_csr("client-auth", "simpleenroll", der, len, NULL, peer, peer_len, &rs);
	x = want_cert(&rs, "simpleenroll of its own names");
	CU_ASSERT_STRING_EQUAL(rs.identity, want_id);
	sp_est_response_clear(&rs);
	X509_free(x);
	{
		counts after = snapshot();
		CU_ASSERT_EQUAL(after.certs, before.certs + 2);
		CU_ASSERT_EQUAL(after.issue_calls, before.issue_calls + 2);
	}
	X509_free(pc);
	free(peer);
	free(der);
}

static void test_reenroll_other_names(void)
{
	const char *cn = fresh("peerx");
	uint8_t *peer, *der;
	size_t peer_len, len;
	X509 *pc = issue_client_auth(cn, rsa(0), &peer, &peer_len);
	counts before = snapshot();
	sp_est_response rs;
	const char *other = fresh("someoneelse");

	/* another CN */
	der = csr(other, other, NULL, rsa(0), &len);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "subject and names", "simplereenroll of other names");
	sp_est_response_clear(&rs);
	free(der);
	/* its CN, but one more dNSName */
	{
		X509_NAME *name = X509_NAME_new();
		GENERAL_NAMES *san = GENERAL_NAMES_new();
		CU_ASSERT_FATAL(name && san);
		CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(san, gn_dns(cn)));
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(san, gn_dns(other)));
		der = csr_of(name, san, rsa(0), &len);
		GENERAL_NAMES_free(san);
		X509_NAME_free(name);
	}
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "subject and names", "simplereenroll with an extra name");
	sp_est_response_clear(&rs);
	free(der);
	/* its names, another template */
	der = csr_same_names(pc, rsa(0), &len);
	post_csr("web-server", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, NULL, "simplereenroll for another template");
	sp_est_response_clear(&rs);
	free(der);
	unchanged(before, "simplereenroll of other names");
	X509_free(pc);
	free(peer);
}

/* Revoked, on hold, released: the store decides on every request, also for
 * a certificate whose chain was verified (and cached) before. */
static void test_peer_revoked_and_held(void)
{
	const char *cn = fresh("peerrev");
	uint8_t *peer, *der;
	size_t peer_len, len;
	X509 *pc = issue_client_auth(cn, rsa(2), &peer, &peer_len), *x;
	sp_est_response rs;
	char serial[41];
	counts before;
	audit_last a;

	serial_of(pc, serial);
	der = csr_same_names(pc, rsa(2), &len);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	X509_free(want_cert(&rs, "before the hold"));
	sp_est_response_clear(&rs);

	/* on hold */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(
		sp_revoke(fx.ca_key, serial, SP_REASON_CERTIFICATE_HOLD, (int64_t)time(NULL), ACTOR, NULL), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	before = snapshot();
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "on hold", "peer on hold");
	sp_est_response_clear(&rs);
	a = newest_audit();
	CU_ASSERT_STRING_EQUAL(a.action, "est-refused-cert");
	CU_ASSERT_STRING_EQUAL(a.subject, serial);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, CLIENT));
	/* the token or anonymous path is no way around it */
	post_csr("client-auth", "simpleenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "on hold", "peer on hold, simpleenroll");
	sp_est_response_clear(&rs);
	unchanged(before, "peer on hold");

	/* released */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_release(fx.ca_key, serial, (int64_t)time(NULL), ACTOR, NULL), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	x = want_cert(&rs, "after the release");
	sp_est_response_clear(&rs);
	X509_free(x);

	/* revoked for good (through the store API this time) */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st(), serial, SP_REASON_KEY_COMPROMISE, (int64_t)time(NULL)),
			      SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	before = snapshot();
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "revoked", "revoked peer");
	sp_est_response_clear(&rs);
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-cert");
	unchanged(before, "revoked peer");
	X509_free(pc);
	free(peer);
	free(der);
}

/* A certificate accepted (and remembered) a moment ago is refused on its
 * next request once blocked, and accepted again once unblocked: the handler
 * keeps a verdict only while the store's status epoch stands still. The
 * block is written through the CLI's connection, not the handler's. */
static void test_peer_blocked_after_use(void)
{
	const char *cn = fresh("peerblk2");
	uint8_t *peer, *der;
	size_t peer_len, len;
	X509 *pc = issue_client_auth(cn, rsa(1), &peer, &peer_len);
	sp_est_response rs;
	char sha256[65];
	counts before;

	CU_ASSERT_EQUAL_FATAL(sp_cert_sha256_hex(pc, sha256), SP_OK);
	der = csr_same_names(pc, rsa(1), &len);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	X509_free(want_cert(&rs, "before the block"));
	sp_est_response_clear(&rs);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	X509_free(want_cert(&rs, "before the block, remembered"));
	sp_est_response_clear(&rs);

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_block_add_cert(fx.ca_key, pc, "stolen", ACTOR), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	before = snapshot();
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "blocked", "blocked after use");
	sp_est_response_clear(&rs);
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-blocked");
	unchanged(before, "blocked after use");

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_block_remove(fx.ca_key, sha256, ACTOR), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	X509_free(want_cert(&rs, "after the unblock"));
	sp_est_response_clear(&rs);
	X509_free(pc);
	free(peer);
	free(der);
}

static void test_peer_blocked(void)
{
	const char *cn = fresh("peerblk");
	uint8_t *peer, *der;
	size_t peer_len, len;
	X509 *pc = issue_client_auth(cn, rsa(1), &peer, &peer_len);
	sp_est_response rs;
	char serial[41];
	counts before;
	audit_last a;
	token t;

	serial_of(pc, serial);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_block_add_cert(fx.ca_key, pc, "laptop stolen", ACTOR), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	before = snapshot();
	der = csr_same_names(pc, rsa(1), &len);
	post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "blocked", "blocked peer");
	CU_ASSERT(body_has(&rs, "laptop stolen"));
	sp_est_response_clear(&rs);
	a = newest_audit();
	CU_ASSERT_STRING_EQUAL(a.action, "est-refused-blocked");
	CU_ASSERT_STRING_EQUAL(a.actor, "est");
	CU_ASSERT_STRING_EQUAL(a.subject, serial);
	CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, CLIENT));
	{
		counts c = snapshot();
		CU_ASSERT_EQUAL(c.audit, before.audit + 1);
	}
	/* a valid token beside the blocked certificate does not help */
	token_new(&t, "client-auth", cn);
	before = snapshot();
	post_csr("client-auth", "simpleenroll", der, len, t.auth, peer, peer_len, &rs);
	want_text(&rs, 403, "blocked", "blocked peer with a token");
	sp_est_response_clear(&rs);
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-blocked");
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	unchanged(before, "blocked peer");
	token_free(&t);
	X509_free(pc);
	free(peer);
	free(der);
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	CU_ASSERT_FATAL((e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) != NULL);
	CU_ASSERT_FATAL(X509_add_ext(x, e, -1));
	X509_EXTENSION_free(e);
}

/* A certificate made with OpenSSL alone: a CA when issuer is NULL (self-
 * signed, with subject `ca_name`), else a client-auth leaf for cn. */
static X509 *make_cert_valid(EVP_PKEY *pub, EVP_PKEY *sign_key, X509 *issuer, const X509_NAME *ca_name,
			     const char *cn, long from_s, long to_s)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	CU_ASSERT_FATAL(x && n);
	CU_ASSERT_FATAL(X509_set_version(x, X509_VERSION_3));
	CU_ASSERT_FATAL(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x4242 + fx.seq++));
	if (issuer) {
		CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
		CU_ASSERT_FATAL(X509_set_subject_name(x, n));
		CU_ASSERT_FATAL(X509_set_issuer_name(x, X509_get_subject_name(issuer)));
	} else {
		CU_ASSERT_FATAL(X509_set_subject_name(x, ca_name));
		CU_ASSERT_FATAL(X509_set_issuer_name(x, ca_name));
	}
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notBefore(x), from_s) != NULL);
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notAfter(x), to_s) != NULL);
	CU_ASSERT_FATAL(X509_set_pubkey(x, pub));
	if (!issuer) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
		add_ext(x, x, NID_subject_key_identifier, "hash");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature,keyEncipherment");
		add_ext(x, issuer, NID_ext_key_usage, "clientAuth");
		{
			char san[160];
			snprintf(san, sizeof san, "DNS:%s", cn);
			add_ext(x, issuer, NID_subject_alt_name, san);
		}
	}
	CU_ASSERT_FATAL(X509_sign(x, sign_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static X509 *make_cert(EVP_PKEY *pub, EVP_PKEY *sign_key, X509 *issuer, const X509_NAME *ca_name, const char *cn)
{
	return make_cert_valid(pub, sign_key, issuer, ca_name, cn, -3600, 90L * 86400);
}

static uint8_t *der_of(X509 *x, size_t *len)
{
	unsigned char *d = NULL;
	uint8_t *out = NULL;
	int n = i2d_X509(x, &d);
	CU_ASSERT_FATAL(n > 0 && (out = malloc((size_t)n)) != NULL);
	memcpy(out, d, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(d);
	return out;
}

/* Certificates this CA did not issue: from another CA, from one that
 * copies this CA's name, the CA certificate itself, and garbage. */
static void test_peer_not_ours(void)
{
	EVP_PKEY *other_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_NAME *other_name = X509_NAME_new();
	X509 *other_ca, *twin_ca, *leaf, *twin_leaf;
	uint8_t *leaf_der, *twin_der, *ca_der, *der, *chain_der[2];
	size_t leaf_len, twin_len, ca_len, len, chain_len[2];
	const char *cn = fresh("foreign");
	sp_est_response rs;
	counts before;

	CU_ASSERT_FATAL(other_key && leaf_key && other_name);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(other_name, "CN", MBSTRING_ASC,
						   (const unsigned char *)"Another Org Root CA", -1, -1, 0));
	other_ca = make_cert(other_key, other_key, NULL, other_name, NULL);
	leaf = make_cert(leaf_key, other_key, other_ca, NULL, cn);
	/* a CA with this CA's exact subject, but another key */
	twin_ca = make_cert(other_key, other_key, NULL, X509_get_subject_name(sp_ca_get0_cert(fx.ca_key)), NULL);
	twin_leaf = make_cert(leaf_key, other_key, twin_ca, NULL, cn);
	leaf_der = der_of(leaf, &leaf_len);
	twin_der = der_of(twin_leaf, &twin_len);
	ca_der = der_of(sp_ca_get0_cert(fx.ca_key), &ca_len);
	der = csr(cn, cn, NULL, rsa(0), &len);
	before = snapshot();

	post_csr("client-auth", "simpleenroll", der, len, NULL, leaf_der, leaf_len, &rs);
	want_text(&rs, 403, "client certificate", "certificate of another CA");
	sp_est_response_clear(&rs);
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-cert");
	post_csr("client-auth", "simplereenroll", der, len, NULL, twin_der, twin_len, &rs);
	want_text(&rs, 403, "client certificate", "certificate of a CA with this CA's name");
	sp_est_response_clear(&rs);
	/* with its own CA sent along as an intermediate: still not trusted */
	{
		sp_est_request rq;
		const uint8_t *peers[2];
		char *body = b64(der, len, B64_WRAP_CRLF);
		chain_der[0] = leaf_der;
		chain_len[0] = leaf_len;
		chain_der[1] = der_of(other_ca, &chain_len[1]);
		peers[0] = chain_der[0];
		peers[1] = chain_der[1];
		memset(&rq, 0, sizeof rq);
		rq.method = "POST";
		rq.path = WK "client-auth/simpleenroll";
		rq.content_type = "application/pkcs10";
		rq.body = (const uint8_t *)body;
		rq.body_len = strlen(body);
		rq.peer_der = peers;
		rq.peer_len = chain_len;
		rq.n_peer = 2;
		rq.client = CLIENT;
		sp_est_handle(fx.est, &rq, &rs);
		want_text(&rs, 403, "client certificate", "foreign leaf with its CA");
		sp_est_response_clear(&rs);
		free(chain_der[1]);
		free(body);
	}
	/* the CA certificate itself is no client certificate */
	post_csr("client-auth", "simpleenroll", der, len, NULL, ca_der, ca_len, &rs);
	want_status(&rs, 403, "the CA certificate as client certificate");
	sp_est_response_clear(&rs);
	/* garbage, empty, truncated */
	post_csr("client-auth", "simpleenroll", der, len, NULL, (const uint8_t *)"not a certificate", 17, &rs);
	want_text(&rs, 403, "client certificate", "garbage peer");
	sp_est_response_clear(&rs);
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-cert");
	post_csr("client-auth", "simpleenroll", der, len, NULL, (const uint8_t *)"", 0, &rs);
	want_text(&rs, 403, NULL, "empty peer");
	sp_est_response_clear(&rs);
	post_csr("client-auth", "simpleenroll", der, len, NULL, leaf_der, leaf_len / 2, &rs);
	want_text(&rs, 403, NULL, "truncated peer");
	sp_est_response_clear(&rs);
	unchanged(before, "certificates not ours");

	X509_free(other_ca);
	X509_free(twin_ca);
	X509_free(leaf);
	X509_free(twin_leaf);
	X509_NAME_free(other_name);
	EVP_PKEY_free(other_key);
	EVP_PKEY_free(leaf_key);
	free(leaf_der);
	free(twin_der);
	free(ca_der);
	free(der);
}

/* Record a certificate made here in the store, as sp_issue would have. */
static void record(X509 *x, const char *template_name)
{
	sp_cert_row row;
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d);

	CU_ASSERT_FATAL(n > 0);
	memset(&row, 0, sizeof row);
	serial_of(x, row.serial);
	CU_ASSERT_EQUAL_FATAL(sp_cert_sha256_hex(x, row.sha256), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_cert_sha1_hex(x, row.sha1), SP_OK);
	row.subject = sp_name_oneline(X509_get_subject_name(x));
	CU_ASSERT_PTR_NOT_NULL_FATAL(row.subject);
	row.sans = "";
	row.template_name = (char *)template_name;
	CU_ASSERT_EQUAL_FATAL(sp_asn1_time_to_unix(X509_get0_notBefore(x), &row.not_before), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_asn1_time_to_unix(X509_get0_notAfter(x), &row.not_after), SP_OK);
	row.issued_at = (int64_t)time(NULL);
	row.status = SP_CERT_VALID;
	row.revoke_reason = -1;
	row.der = d;
	row.der_len = (size_t)n;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st(), &row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	free(row.subject);
	OPENSSL_free(d);
}

/* Signed by this CA's key but expired, not yet valid, or not recorded: the
 * chain is judged at the current time and the store must know it. A valid,
 * recorded one made the same way passes, so each refusal is for its one
 * reason. */
static void test_peer_expired_unrecorded(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *ca = sp_ca_get0_cert(fx.ca_key);
	struct {
		const char *what, *want;
		long from, to;
		int recorded, status;
	} cases[] = {
		{"valid and recorded (the control)", NULL, -3600, 30L * 86400, 1, 200},
		{"not recorded", "not recorded", -3600, 30L * 86400, 0, 403},
		{"expired", "expired", -100L * 86400, -86400, 1, 403},
		{"not yet valid", "not yet valid", 86400, 30L * 86400, 1, 403},
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.ca_key->key);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *cn = fresh("handmade");
		X509 *x = make_cert_valid(k, fx.ca_key->key, ca, NULL, cn, cases[i].from, cases[i].to);
		uint8_t *peer, *der;
		size_t peer_len, len;
		sp_est_response rs;
		counts before;

		if (cases[i].recorded)
			record(x, "client-auth");
		peer = der_of(x, &peer_len);
		der = csr_same_names(x, rsa(0), &len);
		before = snapshot();
		post_csr("client-auth", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
		if (cases[i].status == 200) {
			X509_free(want_cert(&rs, cases[i].what));
		} else {
			want_text(&rs, cases[i].status, cases[i].want, cases[i].what);
			CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-cert");
			unchanged(before, cases[i].what);
		}
		sp_est_response_clear(&rs);
		X509_free(x);
		free(peer);
		free(der);
	}
	EVP_PKEY_free(k);
}

/* A certificate of this CA that is not for clientAuth (web-server:
 * serverAuth only) is no client certificate, even for its own names. */
static void test_peer_wrong_purpose(void)
{
	const char *cn = fresh("www");
	uint8_t *peer, *der;
	size_t peer_len, len;
	X509 *web = issue_cert("web-server", cn, ec(), &peer, &peer_len);
	counts before = snapshot();
	sp_est_response rs;

	der = csr_same_names(web, ec(), &len);
	post_csr("web-server", "simplereenroll", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "purpose", "web-server certificate as client certificate");
	sp_est_response_clear(&rs);
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-cert");
	unchanged(before, "web-server certificate as client certificate");
	X509_free(web);
	free(peer);
	free(der);
}

/* docs (est.c): a blocked certificate is refused "with 403 and an audit
 * row, whatever else the request carries". */
static void test_blocked_whatever_the_request(void)
{
	const char *cn = fresh("blkany");
	uint8_t *peer, *der;
	size_t peer_len, len;
	X509 *pc = issue_client_auth(cn, rsa(2), &peer, &peer_len);
	char serial[41], *body;
	counts before;
	sp_est_response rs;
	audit_last a;

	serial_of(pc, serial);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_block_add_cert(fx.ca_key, pc, "media lost", ACTOR), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	der = csr_same_names(pc, rsa(2), &len);
	body = b64(der, len, B64_WRAP_CRLF);

	/* a body that is not base64 */
	before = snapshot();
	{
		call c = {"POST", WK "client-auth/simplereenroll", "application/pkcs10", NULL, "*** not base64 ***",
			  peer, peer_len};
		est(&c, &rs);
		want_text(&rs, 403, "blocked", "blocked peer, garbage body");
		sp_est_response_clear(&rs);
		a = newest_audit();
		CU_ASSERT_STRING_EQUAL(a.action, "est-refused-blocked");
		CU_ASSERT_STRING_EQUAL(a.subject, serial);
		CU_ASSERT_EQUAL(snapshot().audit, before.audit + 1);
	}
	/* a wrong Content-Type (415) or a template without serverKeyGen (400)
	 * must not hide a blocked certificate: 403 and an audit row first */
	before = snapshot();
	{
		call c = {"POST", WK "client-auth/simplereenroll", "text/plain", NULL, body, peer, peer_len};
		est(&c, &rs);
		want_text(&rs, 403, "blocked", "blocked peer, wrong Content-Type");
		sp_est_response_clear(&rs);
		CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-blocked");
		CU_ASSERT_EQUAL(snapshot().audit, before.audit + 1);
	}
	before = snapshot();
	post_csr("client-auth", "serverkeygen", der, len, NULL, peer, peer_len, &rs);
	want_text(&rs, 403, "blocked", "blocked peer, serverkeygen on a template without it");
	sp_est_response_clear(&rs);
	CU_ASSERT_STRING_EQUAL(newest_audit().action, "est-refused-blocked");
	CU_ASSERT_EQUAL(snapshot().audit, before.audit + 1);
	unchanged(before, "blocked peer, whatever the request");
	X509_free(pc);
	free(body);
	free(peer);
	free(der);
}

static void test_reenroll_without_peer(void)
{
	const char *cn = fresh("nopeer");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len);
	counts before = snapshot();
	sp_est_response rs;
	token t;

	post_csr("client-auth", "simplereenroll", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 401, "simplereenroll", "simplereenroll without a certificate");
	sp_est_response_clear(&rs);
	/* a token is no certificate being renewed */
	token_new(&t, "client-auth", cn);
	post_csr("client-auth", "simplereenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 401, "simplereenroll", "simplereenroll with a token");
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	unchanged(before, "simplereenroll without a certificate");
	token_free(&t);
	free(der);
}

/* ============================================================= agents */

static void test_agent(void)
{
	const char *acn = fresh("sccm"), *ncn = fresh("notagent"), *dev = fresh("amt");
	uint8_t *agent_der, *plain_der, *der;
	size_t agent_len, plain_len, len;
	X509 *agent = issue_client_auth(acn, rsa(0), &agent_der, &agent_len);
	X509 *plain = issue_client_auth(ncn, rsa(1), &plain_der, &plain_len), *x;
	sp_serve_agent *grown;
	sp_est_response rs;
	char upn[160], serial[41], want_id[64];
	counts before;
	long long queued_id;
	size_t n0 = fx.cfg->n_agents;

	/* the configured agent, as serve_config.c would fill it */
	grown = realloc(fx.cfg->agents, (n0 + 1) * sizeof *grown);
	CU_ASSERT_PTR_NOT_NULL_FATAL(grown);
	fx.cfg->agents = grown;
	memset(&grown[n0], 0, sizeof grown[n0]);
	grown[n0].template_name = strdup("client-auth");
	grown[n0].subject = sp_name_oneline(X509_get_subject_name(agent));
	grown[n0].allow = calloc(1, sizeof(char *));
	CU_ASSERT_FATAL(grown[n0].template_name && grown[n0].subject && grown[n0].allow);
	grown[n0].allow[0] = strdup("amt-8021x-client");
	CU_ASSERT_PTR_NOT_NULL_FATAL(grown[n0].allow[0]);
	grown[n0].n_allow = 1;
	fx.cfg->n_agents = n0 + 1;

	/* a device CSR: CN the AMT FQDN, SAN exactly one UPN */
	snprintf(upn, sizeof upn, "%.*s@corp.example", (int)strcspn(dev, "."), dev);
	der = csr(dev, NULL, upn, rsa(2), &len);
	serial_of(agent, serial);
	snprintf(want_id, sizeof want_id, "cert:%s", serial);
	post_csr("amt-8021x-client", "simpleenroll", der, len, NULL, agent_der, agent_len, &rs);
	x = want_cert(&rs, "agent for amt-8021x-client");
	CU_ASSERT_STRING_EQUAL(rs.identity, want_id);
	CU_ASSERT_STRING_EQUAL(cn_of(x), dev);
	CU_ASSERT(has_san(x, upn, 1));
	sp_est_response_clear(&rs);
	X509_free(x);

	/* not an agent (a valid client-auth certificate of this CA): queued */
	free(der);
	{
		const char *dev2 = fresh("amt");
		snprintf(upn, sizeof upn, "%.*s@corp.example", (int)strcspn(dev2, "."), dev2);
		der = csr(dev2, NULL, upn, rsa(2), &len);
	}
	before = snapshot();
	post_csr("amt-8021x-client", "simpleenroll", der, len, NULL, plain_der, plain_len, &rs);
	queued_id = want_queued(&rs, "non-agent for amt-8021x-client");
	sp_est_response_clear(&rs);
	{
		counts c = snapshot();
		CU_ASSERT_EQUAL(c.requests, before.requests + 1);
		CU_ASSERT_EQUAL(c.certs, before.certs);
		CU_ASSERT_EQUAL(c.issue_calls, before.issue_calls);
	}
	/* approved: the retry by the same client certificate gets it; another
	 * client certificate of this CA sending the same CSR gets a 403 */
	{
		const char *ocn = fresh("other");
		uint8_t *other_der;
		size_t other_len;
		X509 *other = issue_client_auth(ocn, rsa(0), &other_der, &other_len);
		X509 *issued = approve("amt-8021x-client", der, len, queued_id), *got;

		before = snapshot();
		post_csr("amt-8021x-client", "simpleenroll", der, len, NULL, plain_der, plain_len, &rs);
		got = want_cert(&rs, "retry by the requester after approval");
		CU_ASSERT_EQUAL(X509_cmp(got, issued), 0);
		X509_free(got);
		sp_est_response_clear(&rs);
		post_csr("amt-8021x-client", "simpleenroll", der, len, NULL, other_der, other_len, &rs);
		want_text(&rs, 403, "issued to another requester", "retry by another client certificate");
		sp_est_response_clear(&rs);
		unchanged(before, "retries after approval");
		X509_free(issued);
		X509_free(other);
		free(other_der);
	}
	/* the agent, for a template it is not allowed: queued too */
	{
		const char *web = fresh("agentweb");
		uint8_t *w;
		size_t wlen;
		w = csr(web, web, NULL, rsa(2), &wlen);
		before = snapshot();
		post_csr("web-server", "simpleenroll", w, wlen, NULL, agent_der, agent_len, &rs);
		(void)want_queued(&rs, "agent for a template it is not allowed");
		sp_est_response_clear(&rs);
		CU_ASSERT_EQUAL(snapshot().issue_calls, before.issue_calls);
		free(w);
	}
	/* bytes that are no CSR, under a client certificate: the agent's go to
	 * the issuer, which parses them; the others are parsed by the service
	 * (proof of possession before queueing, names of a renewal). Each is
	 * a 400 naming the CSR, and nothing is recorded. */
	{
		static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
		before = snapshot();
		post_csr("amt-8021x-client", "simpleenroll", junk, sizeof junk, NULL, agent_der, agent_len, &rs);
		want_text(&rs, 400, "CSR", "no CSR, agent");
		sp_est_response_clear(&rs);
		post_csr("amt-8021x-client", "simpleenroll", junk, sizeof junk, NULL, plain_der, plain_len, &rs);
		want_text(&rs, 400, "CSR", "no CSR, client certificate to be queued");
		sp_est_response_clear(&rs);
		post_csr("client-auth", "simplereenroll", junk, sizeof junk, NULL, plain_der, plain_len, &rs);
		want_text(&rs, 400, "CSR", "no CSR, renewal");
		sp_est_response_clear(&rs);
		CU_ASSERT_EQUAL(snapshot().certs, before.certs);
		CU_ASSERT_EQUAL(snapshot().requests, before.requests);
	}
	X509_free(agent);
	X509_free(plain);
	free(agent_der);
	free(plain_der);
	free(der);
}

/* ======================================================= serverkeygen */

/* The parts of a multipart/mixed body: (content type, content) pairs. */
typedef struct {
	char type[128];
	const char *data;
	size_t len;
} part;

static int multipart(const sp_est_response *rs, part *parts, int max)
{
	const char *b = strstr(rs->content_type, "boundary=");
	char delim[128];
	const char *p, *end = rs->body + rs->body_len;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	snprintf(delim, sizeof delim, "--%s", b + 9);
	p = memmem(rs->body, rs->body_len, delim, strlen(delim));
	CU_ASSERT_PTR_EQUAL_FATAL(p, rs->body); /* no preamble */
	for (;;) {
		const char *hdr_end, *next, *ct;
		p += strlen(delim);
		if (p + 2 <= end && !memcmp(p, "--", 2))
			break; /* the close delimiter */
		CU_ASSERT_FATAL(p + 2 <= end && !memcmp(p, "\r\n", 2));
		p += 2;
		hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		CU_ASSERT_PTR_NOT_NULL_FATAL(hdr_end);
		next = memmem(hdr_end, (size_t)(end - hdr_end), delim, strlen(delim));
		CU_ASSERT_PTR_NOT_NULL_FATAL(next);
		CU_ASSERT_FATAL(n < max);
		memset(&parts[n], 0, sizeof parts[n]);
		ct = memmem(p, (size_t)(hdr_end - p), "Content-Type: ", 14);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ct);
		snprintf(parts[n].type, sizeof parts[n].type, "%.*s", (int)strcspn(ct + 14, "\r"), ct + 14);
		parts[n].data = hdr_end + 4;
		parts[n].len = (size_t)(next - parts[n].data);
		n++;
		p = next;
	}
	return n;
}

static void test_serverkeygen(void)
{
	const char *cn = fresh("osd");
	size_t len, klen;
	uint8_t *der = csr(cn, NULL, NULL, ec(), &len), *kder;
	counts before = snapshot(), after;
	sp_est_response rs;
	part parts[4];
	STACK_OF(X509) *certs;
	EVP_PKEY *key;
	const unsigned char *p;
	X509 *x;
	token t;
	int n;

	token_new(&t, "osd-media", cn);
	post_csr("osd-media", "serverkeygen", der, len, t.auth, NULL, 0, &rs);
	want_status(&rs, 200, "serverkeygen with a token");
	CU_ASSERT_FATAL(rs.status == 200);
	CU_ASSERT_EQUAL(strncmp(rs.content_type, "multipart/mixed", 15), 0);
	CU_ASSERT_FALSE(rs.base64);
	n = multipart(&rs, parts, 4);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(parts[0].type, "application/pkcs8");
	CU_ASSERT_EQUAL(strncmp(parts[1].type, "application/pkcs7-mime", 22), 0);
	/* the key */
	kder = unb64(parts[0].data, parts[0].len, &klen);
	p = kder;
	key = d2i_AutoPrivateKey(NULL, &p, (long)klen);
	CU_ASSERT_PTR_NOT_NULL_FATAL(key);
	CU_ASSERT_PTR_EQUAL(p, kder + klen);
	CU_ASSERT_EQUAL(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
	CU_ASSERT_EQUAL(EVP_PKEY_get_bits(key), 2048);
	/* the certificate, for that key (not the CSR's) */
	certs = p7_certs(parts[1].data, parts[1].len);
	CU_ASSERT_EQUAL_FATAL(sk_X509_num(certs), 1);
	x = sk_X509_value(certs, 0);
	CU_ASSERT_EQUAL(X509_check_private_key(x, key), 1);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(X509_get0_pubkey(x), key), 1);
	CU_ASSERT_NOT_EQUAL(EVP_PKEY_eq(X509_get0_pubkey(x), ec()), 1);
	CU_ASSERT_STRING_EQUAL(cn_of(x), cn);
	CU_ASSERT(has_san(x, cn, 0));
	CU_ASSERT_EQUAL(X509_check_issued(sp_ca_get0_cert(fx.ca_key), x), X509_V_OK);
	{
		char serial[41];
		serial_of(x, serial);
		CU_ASSERT_STRING_EQUAL(rs.serial, serial);
	}
	sp_est_response_clear(&rs);
	after = snapshot();
	CU_ASSERT_EQUAL(after.certs, before.certs + 1);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_USED);

	sk_X509_pop_free(certs, X509_free);
	EVP_PKEY_free(key);
	OPENSSL_clear_free(kder, klen);
	token_free(&t);
	free(der);
}

static void test_serverkeygen_refused(void)
{
	const char *cn = fresh("osdno");
	size_t len;
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len);
	counts before = snapshot();
	sp_est_response rs;
	token t;

	/* a template without serverKeyGen */
	token_new(&t, "client-auth", cn);
	post_csr("client-auth", "serverkeygen", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 400, "server-side key generation", "serverkeygen on client-auth");
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	/* anonymous: a generated key is never queued */
	post_csr("osd-media", "serverkeygen", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 403, "never queued", "anonymous serverkeygen on osd-media");
	sp_est_response_clear(&rs);
	/* and it stays so on a retry */
	post_csr("osd-media", "serverkeygen", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 403, NULL, "anonymous serverkeygen retry");
	sp_est_response_clear(&rs);
	unchanged(before, "serverkeygen refused");
	token_free(&t);
	free(der);
}

/* A CSR already waiting in the queue (sent to simpleenroll) and then sent
 * to serverkeygen: the generated key is never queued, so serverkeygen is
 * not answered from the queue. */
static void test_serverkeygen_not_from_queue(void)
{
	const char *cn = fresh("osdq");
	size_t len;
	uint8_t *der = csr(cn, NULL, NULL, rsa(2), &len);
	sp_est_response rs;
	counts before;
	token t;

	post_csr("osd-media", "simpleenroll", der, len, NULL, NULL, 0, &rs);
	(void)want_queued(&rs, "osd-media simpleenroll, anonymous");
	sp_est_response_clear(&rs);
	before = snapshot();
	/* serverkeygen has no queue: a CSR queued by simpleenroll must not
	 * turn it into "202 waiting for approval" */
	post_csr("osd-media", "serverkeygen", der, len, NULL, NULL, 0, &rs);
	want_text(&rs, 403, "never queued", "anonymous serverkeygen of a queued CSR");
	CU_ASSERT_EQUAL(rs.retry_after, 0);
	sp_est_response_clear(&rs);
	token_new(&t, "osd-media", cn);
	post_csr("osd-media", "serverkeygen", der, len, t.auth, NULL, 0, &rs);
	want_status(&rs, 200, "serverkeygen with a token, of a queued CSR");
	if (rs.status == 200)
		CU_ASSERT_EQUAL(strncmp(rs.content_type, "multipart/mixed", 15), 0);
	sp_est_response_clear(&rs);
	/* the issuance itself records its request (the CSR the CA made); the
	 * anonymous refusal added none */
	CU_ASSERT_EQUAL(snapshot().requests, before.requests + 1);
	token_free(&t);
	free(der);
}

/* ------------------------------------------------------------- suites */

static const sp_unit_test routing_tests[] = {
	{"cacerts with and without label", test_cacerts},
	{"csrattrs with and without label", test_csrattrs},
	{"404 and 405", test_routing_refusals},
	{NULL, NULL},
};

static const sp_unit_test body_tests[] = {
	{"content type", test_content_type},
	{"base64 forms accepted", test_base64_forms},
	{"base64 refused", test_base64_refused},
	{"proof of possession", test_proof_of_possession},
	{NULL, NULL},
};

static const sp_unit_test queue_tests[] = {
	{"anonymous: queued, retried, approved", test_anonymous_queue_and_approve},
	{"rejected request: 403 with the reason", test_rejected},
	{"anonymous refused by the configuration", test_anonymous_refused},
	{NULL, NULL},
};

/* Claim token t for the CSR der as sp_token_check does when a request
 * arrives: what a service that then stopped leaves behind. */
static void claim(const token *t, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)len);
	sp_token_row claimed;
	char user[24];

	CU_ASSERT_FATAL(req != NULL);
	snprintf(user, sizeof user, "%lld", (long long)t->id);
	CU_ASSERT_EQUAL_FATAL(sp_token_check(st(), user, t->secret, "client-auth", req, time(NULL), &claimed), SP_OK);
	sp_token_row_clear(&claimed);
	X509_REQ_free(req);
	CU_ASSERT_EQUAL(token_state(t, NULL, 0), SP_TOKEN_CLAIMED);
}

/* A token left claimed by a service that stopped between the claim and its
 * answer (sitepki token release). */
static void test_token_release(void)
{
	const char *cn = fresh("rel"), *cn2 = fresh("rel2"), *cn3 = fresh("rel3");
	size_t len, len2, len3;
	uint8_t *der = csr(cn, cn, NULL, rsa(0), &len), *der2 = csr(cn2, cn2, NULL, rsa(1), &len2),
		*der3 = csr(cn3, cn3, NULL, rsa(2), &len3);
	const unsigned char *p = der2;
	X509_REQ *req2 = d2i_X509_REQ(NULL, &p, (long)len2);
	sp_template *tpl = NULL;
	sp_request_row spent, q;
	sp_issue_opts o;
	sp_est_response rs;
	audit_last a;
	token t, t2, t3;
	char requester[48], serial[41], got[41];
	int64_t qid = 0;
	X509 *x = NULL;
	counts before;

	CU_ASSERT_FATAL(req2 != NULL);
	token_new(&t, "client-auth", cn);

	/* not claimed, or no such token: refused, nothing changes */
	before = snapshot();
	CU_ASSERT_EQUAL(sp_token_release(st(), t.id, ACTOR, time(NULL), &spent), SP_ERR_POLICY);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "not claimed"));
	CU_ASSERT_EQUAL(spent.id, 0);
	CU_ASSERT_EQUAL(sp_token_release(st(), t.id + 1000, ACTOR, time(NULL), &spent), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	unchanged(before, "release of a token that is not claimed");

	/* claimed, and the service stopped before anything was recorded */
	claim(&t, der, len);
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	want_text(&rs, 401, "already used", "claimed token");
	sp_est_response_clear(&rs);
	CU_ASSERT_EQUAL(sp_token_release(st(), t.id, ACTOR, time(NULL), &spent), SP_OK);
	CU_ASSERT_EQUAL(spent.id, 0);
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_UNUSED);
	a = newest_audit();
	CU_ASSERT_STRING_EQUAL(a.action, "token-release");
	CU_ASSERT_STRING_EQUAL(a.actor, ACTOR);
	/* the device's retry with the credential it has now succeeds */
	post_csr("client-auth", "simpleenroll", der, len, t.auth, NULL, 0, &rs);
	x = want_cert(&rs, "token after release");
	sp_est_response_clear(&rs);
	X509_free(x);
	x = NULL;
	CU_ASSERT_EQUAL(token_state(&t, NULL, 0), SP_TOKEN_USED);

	/* claimed, and its certificate committed before the service stopped:
	 * the token was spent on it */
	token_new(&t2, "client-auth", cn2);
	claim(&t2, der2, len2);
	CU_ASSERT_EQUAL_FATAL(sp_template_find(sp_ca_get0_home(fx.ca_key), "client-auth", &tpl), SP_OK);
	memset(&o, 0, sizeof o);
	snprintf(requester, sizeof requester, "est:token:%lld", (long long)t2.id);
	o.requester = requester;
	CU_ASSERT_EQUAL_FATAL(sp_issue(fx.ca_key, tpl, req2, &o, &x), SP_OK);
	serial_of(x, serial);
	CU_ASSERT_EQUAL(sp_token_release(st(), t2.id, ACTOR, time(NULL), &spent), SP_OK);
	CU_ASSERT(spent.id > 0);
	CU_ASSERT_EQUAL(spent.status, SP_REQ_ISSUED);
	CU_ASSERT_FATAL(spent.cert_serial != NULL);
	CU_ASSERT_STRING_EQUAL(spent.cert_serial, serial);
	CU_ASSERT_EQUAL(token_state(&t2, got, sizeof got), SP_TOKEN_USED);
	CU_ASSERT_STRING_EQUAL(got, serial);
	a = newest_audit();
	CU_ASSERT_STRING_EQUAL(a.action, "token-use");
	CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, serial));
	sp_request_row_clear(&spent);
	/* and it is not released twice */
	CU_ASSERT_EQUAL(sp_token_release(st(), t2.id, ACTOR, time(NULL), &spent), SP_ERR_POLICY);

	/* claimed, and its request queued for approval before the service
	 * stopped: spent on the queued request, no serial yet */
	token_new(&t3, "client-auth", cn3);
	claim(&t3, der3, len3);
	memset(&q, 0, sizeof q);
	snprintf(requester, sizeof requester, "est:token:%lld", (long long)t3.id);
	q.template_name = "client-auth";
	q.requester = requester;
	q.subject = "";
	q.status = SP_REQ_PENDING;
	q.cert_serial = "";
	q.detail = "";
	q.csr_der = der3;
	q.csr_der_len = len3;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st()), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_insert(st(), &q, &qid), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st()), SP_OK);
	CU_ASSERT_EQUAL(sp_token_release(st(), t3.id, ACTOR, time(NULL), &spent), SP_OK);
	CU_ASSERT_EQUAL(spent.id, qid);
	CU_ASSERT_EQUAL(spent.status, SP_REQ_PENDING);
	CU_ASSERT_EQUAL(token_state(&t3, got, sizeof got), SP_TOKEN_USED);
	CU_ASSERT_STRING_EQUAL(got, "");
	a = newest_audit();
	CU_ASSERT_STRING_EQUAL(a.action, "token-use");
	CU_ASSERT_PTR_NOT_NULL(strstr(a.detail, "pending"));
	sp_request_row_clear(&spent);

	X509_free(x);
	sp_template_free(tpl);
	X509_REQ_free(req2);
	token_free(&t);
	token_free(&t2);
	token_free(&t3);
	free(der);
	free(der2);
	free(der3);
}

static const sp_unit_test token_tests[] = {
	{"token issues once", test_token_issues},
	{"bad credentials: 401", test_token_bad_credentials},
	{"token for another template or names: 403", test_token_other_template_and_names},
	{"CSR refused by the template: token not spent", test_token_refused_csr_not_spent},
	{"issue function fails: 503 / 400", test_issue_fails},
	{"expired token: 401", test_token_expired},
	{"token on a template that needs approval", test_token_queued_then_approved},
	{"identity is safe to log", test_identity_is_log_safe},
	{"token left claimed: release", test_token_release},
	{NULL, NULL},
};

static const sp_unit_test peer_tests[] = {
	{"simplereenroll of its own names", test_reenroll_own_names},
	{"simplereenroll of other names: 403", test_reenroll_other_names},
	{"revoked and held: 403", test_peer_revoked_and_held},
	{"blocked: 403 and audited", test_peer_blocked},
	{"blocked after use (a remembered verdict), then unblocked", test_peer_blocked_after_use},
	{"not from this CA: 403", test_peer_not_ours},
	{"expired, not yet valid, not recorded: 403", test_peer_expired_unrecorded},
	{"not for clientAuth: 403", test_peer_wrong_purpose},
	{"blocked: 403 whatever the request carries", test_blocked_whatever_the_request},
	{"simplereenroll without a certificate: 401", test_reenroll_without_peer},
	{"enrollment agent", test_agent},
	{NULL, NULL},
};

static const sp_unit_test keygen_tests[] = {
	{"serverkeygen with a token", test_serverkeygen},
	{"serverkeygen refused", test_serverkeygen_refused},
	{"serverkeygen is not answered from the queue", test_serverkeygen_not_from_queue},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"est: routing", routing_tests},
	{"est: request body", body_tests},
	{"est: pending queue", queue_tests},
	{"est: tokens", token_tests},
	{"est: client certificates", peer_tests},
	{"est: serverkeygen", keygen_tests},
	{NULL, NULL},
};
