/*
 * test_crl.c - the CRL engine in-process: sp_crl_publish, sp_crl_check_cert,
 * sp_crl_latest and the CA's CRL policy.
 *
 * What is judged, against OpenSSL's own CRL parser and verifier (d2i_X509_CRL,
 * X509_CRL_verify, X509_CRL_get0_by_serial) and the openssl command line:
 *  - the CRL profile (v2, SHA-256, issuer, times, AKI, CRLNumber, critical IDP
 *    naming exactly the certificates' CDP URI, FreshestCRL, DeltaCRLIndicator,
 *    ExpiredCertsOnCRL), entries and reason codes, an empty CRL without a
 *    revokedCertificates field;
 *  - CRL numbers never going back, across full/delta and a restored store;
 *  - delta contents; expired certificates dropped or kept;
 *  - the published files and the stored DER are the same bytes;
 *  - sp_crl_check_cert's answers and refusals; policy validation.
 *
 * Cost: opening a CA with its key runs PBKDF2 (~0.5 s), so one EC CA is made
 * per process (and one RSA CA for the one test that owns it). A test that
 * needs another CRL policy sets it and reopens the CA (ca_with); tests only
 * look at their own certificates, so their order does not matter.
 */
#include "unit.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "revocation/crl_int.h" /* sp_crl_encode_time, held against OpenSSL below */
#include "revocation/revocation.h"

#define CA_NAME "sitepki CRL Test CA"
#define CA_SLUG "sitepki-crl-test-ca"
#define CA_BASE "http://pki.crl.example/pki"
#define ACTOR_CRL "test:crl"
#define CDP_URL CA_BASE "/crl/" CA_SLUG ".crl"
#define DELTA_URL CA_BASE "/crl/" CA_SLUG "-delta.crl"
#define HOUR ((int64_t)3600)
#define DAY ((int64_t)86400)

/* -------------------------------------------------------------- fixture */

static struct {
	int ready;
	char home[4200], rsa_home[4200];
	sp_secret pass;
	sp_ca *ca;
	EVP_PKEY *leaf_key;
	sp_template *tpl;
	int next_host;
} fx;

static void fixture_free(void)
{
	sp_ca_close(fx.ca);
	sp_secret_wipe(&fx.pass);
	EVP_PKEY_free(fx.leaf_key);
	sp_template_free(fx.tpl);
	memset(&fx, 0, sizeof fx);
}

static void secret_set(sp_secret *s, const char *v)
{
	s->len = strlen(v);
	s->buf = OPENSSL_secure_malloc(s->len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->buf);
	memcpy(s->buf, v, s->len + 1);
}

static void make_home(char *home, size_t homesz, const char *alg, const char *name)
{
	sp_ca_init_opts o;
	sp_err rc;
	snprintf(home, homesz, "%s/ca", sp_unit_tmpdir());
	memset(&o, 0, sizeof o);
	o.name = name;
	o.key_alg = alg;
	o.base_url = CA_BASE;
	rc = sp_ca_init(home, &o, &fx.pass);
	if (rc != SP_OK)
		printf("\n    sp_ca_init %s: %s", alg, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
}

static sp_ca *open_home(const char *home, int with_key)
{
	sp_ca *c = NULL;
	sp_err rc = sp_ca_open(home, with_key ? &fx.pass : NULL, &c);
	if (rc != SP_OK)
		printf("\n    sp_ca_open: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	return c;
}

static sp_ca *ca(void)
{
	if (fx.ready) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(fx.ca);
		return fx.ca;
	}
	atexit(fixture_free);
	fx.ready = 1;
	secret_set(&fx.pass, "crl unit test passphrase, not a real one");
	make_home(fx.home, sizeof fx.home, "ec-p256", CA_NAME);
	fx.ca = open_home(fx.home, 1);
	CU_ASSERT_FATAL((fx.leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	CU_ASSERT_EQUAL_FATAL(sp_template_find(NULL, "web-server", &fx.tpl), SP_OK);
	return fx.ca;
}

static int same_policy(const sp_crl_policy *a, const sp_crl_policy *b)
{
	return a->crl_days == b->crl_days && a->delta_enabled == b->delta_enabled &&
	       a->delta_hours == b->delta_hours && a->keep_expired == b->keep_expired;
}

/* The CA with this policy: stored, and the handle reopened when it was
 * opened under another one (a policy applies to handles opened after it). */
static sp_ca *ca_with(int days, int delta, int hours, int keep)
{
	sp_crl_policy p = {days, delta, hours, keep};
	sp_err rc;
	if (same_policy(sp_ca_get0_crl_policy(ca()), &p))
		return fx.ca;
	rc = sp_ca_set_crl_policy(fx.ca, &p, "test");
	if (rc != SP_OK)
		printf("\n    set policy: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	sp_ca_close(fx.ca);
	fx.ca = NULL;
	fx.ca = open_home(fx.home, 1);
	CU_ASSERT_FATAL(same_policy(sp_ca_get0_crl_policy(fx.ca), &p));
	return fx.ca;
}

static sp_ca *ca_default(void)
{
	return ca_with(7, 0, 24, 0);
}

static sp_ca *ca_delta(void)
{
	return ca_with(7, 1, 24, 0);
}

/* ---------------------------------------------------------- certificates */

static X509_REQ *make_csr(const char *host)
{
	X509_REQ *req = X509_REQ_new(), *parsed = NULL;
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	int len;
	CU_ASSERT_FATAL(req && name);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0));
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, name));
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, fx.leaf_key));
	CU_ASSERT_FATAL(X509_REQ_sign(req, fx.leaf_key, EVP_sha256()) > 0);
	CU_ASSERT_FATAL((len = i2d_X509_REQ(req, &der)) > 0);
	CU_ASSERT_EQUAL_FATAL(sp_req_parse(der, (size_t)len, &parsed), SP_OK);
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return parsed;
}

/* A web-server certificate from CA c; serial (41 bytes) out. */
static X509 *issue_on(sp_ca *c, char *serial)
{
	char host[64];
	const char *dns[1];
	sp_issue_opts o;
	X509_REQ *req;
	X509 *x = NULL;
	sp_err rc;

	(void)ca();
	snprintf(host, sizeof host, "host%d.crl.example", ++fx.next_host);
	dns[0] = host;
	req = make_csr(host);
	memset(&o, 0, sizeof o);
	o.dns = dns;
	o.n_dns = 1;
	o.requester = "test";
	rc = sp_issue(c, fx.tpl, req, &o, &x);
	if (rc != SP_OK)
		printf("\n    issue: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	X509_REQ_free(req);
	CU_ASSERT_EQUAL_FATAL(sp_serial_hex(X509_get0_serialNumber(x), serial, 41), SP_OK);
	return x;
}

static X509 *issue(char *serial)
{
	return issue_on(ca(), serial);
}

static void revoke_on(sp_ca *c, const char *serial, int reason, int64_t when)
{
	sp_store *st = sp_ca_get0_store(c);
	sp_err rc;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	rc = sp_store_cert_revoke(st, serial, reason, when);
	if (rc != SP_OK)
		printf("\n    revoke %s: %s", serial, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
}

static void revoke_cert(const char *serial, int reason, int64_t when)
{
	revoke_on(ca(), serial, reason, when);
}

static void release_cert(const char *serial, int64_t when)
{
	sp_store *st = sp_ca_get0_store(ca());
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_release(st, serial, when), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
}

/* Raw SQL on a CA's store, for what the API rightly does not offer. */
static void raw_sql(const char *home, const char *sql)
{
	char path[4300];
	sqlite3 *db = NULL;
	char *err = NULL;
	snprintf(path, sizeof path, "%s/%s", home, SP_CA_DB);
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		printf("\n    sql: %s", err ? err : "?");
	CU_ASSERT_PTR_NULL(err);
	sqlite3_free(err);
	sqlite3_close(db);
}

/* ------------------------------------------------------------------ CRLs */

static X509_CRL *decode_crl(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(crl);
	CU_ASSERT_FATAL(p == der + len);
	return crl;
}

static X509_CRL *stored_crl(sp_ca *c, int64_t number)
{
	sp_crl_row row;
	X509_CRL *crl;
	memset(&row, 0, sizeof row);
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_get(sp_ca_get0_store(c), number, &row), SP_OK);
	crl = decode_crl(row.der, row.der_len);
	sp_crl_row_clear(&row);
	return crl;
}

static int64_t int_ext(X509_CRL *crl, int nid, int *crit)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, nid, crit, NULL);
	int64_t v = -1;
	if (n)
		CU_ASSERT(ASN1_INTEGER_get_int64(&v, n));
	ASN1_INTEGER_free(n);
	return v;
}

static int64_t t2unix(const ASN1_TIME *t)
{
	int64_t v = 0;
	CU_ASSERT_FATAL(t != NULL);
	CU_ASSERT_EQUAL(sp_asn1_time_to_unix(t, &v), SP_OK);
	return v;
}

/* Publish, then hold the result against what the CRL itself says: the
 * signature verifies with the CA key, the info matches, the file is the
 * store's DER. */
static X509_CRL *publish_ok(sp_ca *c, int delta, int64_t now, sp_crl_info *info)
{
	sp_crl_info local;
	X509_CRL *crl;
	sp_err rc;
	int crit;

	if (!info)
		info = &local;
	rc = sp_crl_publish(c, delta, now, ACTOR_CRL, info);
	if (rc != SP_OK)
		printf("\n    publish: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	crl = stored_crl(c, info->number);
	CU_ASSERT_EQUAL(X509_CRL_verify(crl, X509_get0_pubkey(sp_ca_get0_cert(c))), 1);
	CU_ASSERT_EQUAL(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	CU_ASSERT_EQUAL(int_ext(crl, NID_crl_number, &crit), info->number);
	CU_ASSERT_EQUAL(crit, 0);
	CU_ASSERT_EQUAL(info->delta, delta);
	CU_ASSERT_EQUAL(t2unix(X509_CRL_get0_lastUpdate(crl)), now);
	CU_ASSERT_EQUAL(t2unix(X509_CRL_get0_nextUpdate(crl)), info->next_update);
	CU_ASSERT_EQUAL(info->this_update, now);
	CU_ASSERT_EQUAL(X509_CRL_get_REVOKED(crl) ? sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) : 0,
			(int)info->entries);
	return crl;
}

/* Entry for cert's serial: 0 absent, 1 present, 2 removeFromCRL (OpenSSL's
 * X509_CRL_get0_by_serial); *reason -1 when there is no reasonCode. */
static int entry_of(X509_CRL *crl, const char *serial_hex, int *reason, int64_t *when)
{
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai;
	X509_REVOKED *rev = NULL;
	int found, crit = 0;
	ASN1_ENUMERATED *e;

	*reason = -1;
	CU_ASSERT_FATAL(BN_hex2bn(&bn, serial_hex) > 0);
	CU_ASSERT_FATAL((ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL);
	found = X509_CRL_get0_by_serial(crl, &rev, ai);
	if (found && rev) {
		if ((e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL))) {
			*reason = (int)ASN1_ENUMERATED_get(e);
			CU_ASSERT_EQUAL(crit, 0); /* non-critical */
			ASN1_ENUMERATED_free(e);
		}
		if (when)
			*when = t2unix(X509_REVOKED_get0_revocationDate(rev));
	}
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return found;
}

static char *ia5_text(const ASN1_IA5STRING *s, char *buf, size_t n)
{
	snprintf(buf, n, "%.*s", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
	return buf;
}

/* The one URI of a distribution point name list, "" if it is not just that. */
static const char *dp_uri(const DIST_POINT_NAME *n, char *buf, size_t bufsz)
{
	const GENERAL_NAME *gn;
	buf[0] = '\0';
	if (!n || n->type != 0 || sk_GENERAL_NAME_num(n->name.fullname) != 1)
		return buf;
	gn = sk_GENERAL_NAME_value(n->name.fullname, 0);
	if (gn->type == GEN_URI)
		ia5_text(gn->d.uniformResourceIdentifier, buf, bufsz);
	return buf;
}

static const char *cdp_uri_of(X509 *x, int nid, char *buf, size_t bufsz)
{
	int crit = 0;
	CRL_DIST_POINTS *dps = X509_get_ext_d2i(x, nid, &crit, NULL);
	buf[0] = '\0';
	if (dps && sk_DIST_POINT_num(dps) == 1)
		dp_uri(sk_DIST_POINT_value(dps, 0)->distpoint, buf, bufsz);
	if (dps)
		CU_ASSERT_EQUAL(crit, 0);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	return buf;
}

static int msg_has(const char *needle)
{
	int ok = strstr(sp_last_error(), needle) != NULL;
	if (!ok)
		printf("\n    message '%s' lacks '%s'", sp_last_error(), needle);
	return ok;
}

static char *publish_file(sp_ca *c, const char *rel, const char *suffix, char *buf, size_t n)
{
	snprintf(buf, n, "%s/publish/%s%s", sp_ca_get0_home(c), rel, suffix);
	return buf;
}

static int64_t sidecar_value(sp_ca *c)
{
	char path[4400];
	uint8_t *d = NULL;
	size_t len = 0;
	int64_t v;
	publish_file(c, "crl/" CA_SLUG, ".number", path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(sp_file_read(path, 64, &d, &len), SP_OK);
	v = strtoll((char *)d, NULL, 10);
	free(d);
	return v;
}

/* ----------------------------------------------------------------- tests */

/* The entry date encoder (its own calendar arithmetic, for speed) writes
 * exactly what ASN1_TIME_set + i2d_ASN1_TIME write, UTCTime/GeneralizedTime
 * switch included, for edge dates and 200,000 pseudo-random ones. */
static void test_time_encoding(void)
{
	static const int64_t edges[] = {0, 1, 59, 60, 86399, 86400, 951782400 /* 2000-02-29 */, 951868800,
					 2524607999LL, 2524608000LL, -631152000LL /* 1950-01-01 */, -631152001LL,
					 -1, -86400, 4102444800LL /* 2100-03-01 is not 02-29 */, 4107542400LL,
					 253402300799LL /* 9999-12-31T23:59:59Z */};
	ASN1_TIME *t = ASN1_TIME_new();
	unsigned char mine[24], ref[32], *p;
	uint64_t x = 0x9E3779B97F4A7C15ull;
	int bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (int i = 0; i < 200000 + (int)(sizeof edges / sizeof edges[0]); i++) {
		int64_t v;
		int n, m;
		if (i < (int)(sizeof edges / sizeof edges[0])) {
			v = edges[i];
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			v = (int64_t)(x % 8000000000ull) - 2000000000; /* 1906 .. 2160 */
		}
		n = sp_crl_encode_time(v, mine);
		p = ref;
		m = ASN1_TIME_set(t, (time_t)v) ? i2d_ASN1_TIME(t, &p) : -1;
		if (n != m || memcmp(mine, ref, (size_t)m)) {
			if (bad++ < 5)
				printf("\n    time %lld: %d vs %d bytes", (long long)v, n, m);
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(sp_crl_encode_time(253402300800LL, mine), 0); /* year 10000 */
	ASN1_TIME_free(t);
}

/* The RSA CA is this test's alone: an empty CRL (no revokedCertificates
 * field at all), then one entry, signed with sha256WithRSAEncryption. */
static void test_rsa_empty_then_one(void)
{
	sp_ca *c;
	X509_CRL *crl;
	X509 *x;
	sp_crl_info info;
	unsigned char *der = NULL;
	const unsigned char *p;
	long plen;
	int len, reason, tag, xclass, n = 0;
	char serial[41];
	int64_t now = (int64_t)time(NULL);

	(void)ca();
	make_home(fx.rsa_home, sizeof fx.rsa_home, "rsa-2048", "sitepki CRL RSA CA");
	c = open_home(fx.rsa_home, 1);

	crl = publish_ok(c, 0, now, &info);
	CU_ASSERT_EQUAL(info.entries, 0);
	CU_ASSERT_PTR_NULL(X509_CRL_get_REVOKED(crl));
	CU_ASSERT_EQUAL(X509_CRL_get_signature_nid(crl), NID_sha256WithRSAEncryption);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(sp_ca_get0_cert(c))), 0);
	/* in the bytes: TBSCertList = version, signature, issuer, thisUpdate,
	 * nextUpdate, [0] crlExtensions - nothing between the last two */
	CU_ASSERT_FATAL((len = i2d_X509_CRL(crl, &der)) > 0);
	p = der;
	CU_ASSERT_FATAL(!(ASN1_get_object(&p, &plen, &tag, &xclass, len) & 0x80)); /* CertificateList */
	CU_ASSERT_FATAL(!(ASN1_get_object(&p, &plen, &tag, &xclass, len) & 0x80)); /* TBSCertList */
	{
		const unsigned char *end = p + plen;
		while (p < end) {
			CU_ASSERT_FATAL(!(ASN1_get_object(&p, &plen, &tag, &xclass, end - p) & 0x80));
			if (n == 4)
				CU_ASSERT_EQUAL(tag, V_ASN1_UTCTIME); /* nextUpdate */
			if (n == 5)
				CU_ASSERT(xclass == V_ASN1_CONTEXT_SPECIFIC && tag == 0);
			p += plen;
			n++;
		}
	}
	CU_ASSERT_EQUAL(n, 6);
	OPENSSL_free(der);
	X509_CRL_free(crl);

	x = issue_on(c, serial);
	revoke_on(c, serial, SP_REASON_SUPERSEDED, now - 60);
	crl = publish_ok(c, 0, now, &info);
	CU_ASSERT_EQUAL(info.entries, 1);
	CU_ASSERT_EQUAL(entry_of(crl, serial, &reason, NULL), 1);
	CU_ASSERT_EQUAL(reason, SP_REASON_SUPERSEDED);
	X509_CRL_free(crl);
	X509_free(x);
	sp_ca_close(c);
}

/* A delta before any full CRL is refused with a clear message. */
static void test_delta_needs_full(void)
{
	char home[4200];
	sp_crl_policy p = {7, 1, 24, 0};
	sp_crl_info info;
	sp_ca *c;

	(void)ca();
	make_home(home, sizeof home, "ec-p256", "sitepki CRL No Base CA");
	c = open_home(home, 0);
	CU_ASSERT_EQUAL_FATAL(sp_ca_set_crl_policy(c, &p, "test"), SP_OK);
	sp_ca_close(c);
	c = open_home(home, 1);
	sp_clear_error();
	CU_ASSERT_EQUAL(sp_crl_publish(c, 1, (int64_t)time(NULL), ACTOR_CRL, &info), SP_ERR_USAGE);
	CU_ASSERT(msg_has("no full CRL"));
	sp_ca_close(c);
}

static void test_entries_and_reasons(void)
{
	sp_ca *c = ca_default();
	char s_unspec[41], s_kc[41], s_hold[41], s_valid[41], s_priv[41];
	X509 *a = issue(s_unspec), *b = issue(s_kc), *h = issue(s_hold), *v = issue(s_valid), *pw = issue(s_priv);
	int64_t now = (int64_t)time(NULL), when = 0;
	X509_CRL *crl;
	int reason;

	revoke_cert(s_unspec, SP_REASON_UNSPECIFIED, now - 3 * HOUR);
	revoke_cert(s_kc, SP_REASON_KEY_COMPROMISE, now - 2 * HOUR);
	revoke_cert(s_hold, SP_REASON_CERTIFICATE_HOLD, now - HOUR);
	revoke_cert(s_priv, SP_REASON_PRIVILEGE_WITHDRAWN, now - 60);
	c = ca_default();
	crl = publish_ok(c, 0, now, NULL);

	CU_ASSERT_EQUAL(entry_of(crl, s_unspec, &reason, &when), 1);
	CU_ASSERT_EQUAL(reason, -1); /* unspecified: no reasonCode at all */
	CU_ASSERT_EQUAL(when, now - 3 * HOUR);
	CU_ASSERT_EQUAL(entry_of(crl, s_kc, &reason, &when), 1);
	CU_ASSERT_EQUAL(reason, SP_REASON_KEY_COMPROMISE);
	CU_ASSERT_EQUAL(when, now - 2 * HOUR);
	CU_ASSERT_EQUAL(entry_of(crl, s_hold, &reason, NULL), 1);
	CU_ASSERT_EQUAL(reason, SP_REASON_CERTIFICATE_HOLD);
	CU_ASSERT_EQUAL(entry_of(crl, s_priv, &reason, NULL), 1);
	CU_ASSERT_EQUAL(reason, SP_REASON_PRIVILEGE_WITHDRAWN);
	CU_ASSERT_EQUAL(entry_of(crl, s_valid, &reason, NULL), 0);
	/* entries carry nothing else */
	for (int i = 0; i < sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)); i++)
		CU_ASSERT(X509_REVOKED_get_ext_count(sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), i)) <= 1);
	X509_CRL_free(crl);
	X509_free(a);
	X509_free(b);
	X509_free(h);
	X509_free(v);
	X509_free(pw);
}

/* Serials of every shape (short, top bit set, 20 bytes), every reason and
 * dates past 2049 (GeneralizedTime), in a CRL long enough for multi-byte
 * lengths: 3000 rows written straight into the store. */
static void test_serial_shapes_and_size(void)
{
	static const struct {
		const char *serial;
		int reason;
		int64_t when;
	} odd[] = {
		{"01", 0, 1000000000},
		{"7F", 1, 1000000001},
		{"80", 2, 1000000002},
		{"0100", 3, 1700000000},
		{"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 4, 2524608000LL}, /* 20 bytes, top bit; year 2050 */
		{"7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 5, 2524607999LL}, /* 2049-12-31T23:59:59Z */
		{"8000000000000000000000000000000000000000", 6, 4102444800LL}, /* 2100 */
		{"C0FFEE", 9, 1700000000},
		{"ABCDEF0123", 10, 1700000000},
	};
	sp_ca *c = ca_default();
	int64_t now = (int64_t)time(NULL);
	char sql[1 << 16];
	size_t off = 0;
	X509_CRL *crl;
	sp_crl_info info;
	int reason;
	int64_t when;

	off += (size_t)snprintf(sql + off, sizeof sql - off, "BEGIN;");
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		off += (size_t)snprintf(sql + off, sizeof sql - off,
					"INSERT INTO certificate(serial, sha256, sha1, subject, sans, template, not_before,"
					" not_after, issued_at, status, revoked_at, revoke_reason, der)"
					" VALUES ('%s', printf('%%064x', %zu + 1000000), printf('%%040x', %zu + 1000000),"
					" 'CN=odd', '', 'web-server', 0, %lld, 0, %d, %lld, %d, x'00');",
					odd[i].serial, i, i, (long long)(now + 30 * DAY), odd[i].reason == 6 ? 2 : 1,
					(long long)odd[i].when, odd[i].reason);
	off += (size_t)snprintf(sql + off, sizeof sql - off,
				"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
				" INSERT INTO certificate(serial, sha256, sha1, subject, sans, template, not_before,"
				" not_after, issued_at, status, revoked_at, revoke_reason, der)"
				" SELECT printf('5A5A5A5A5A5A5A5A5A5A%%012X', i), printf('%%064x', i + 2000000),"
				" printf('%%040x', i + 2000000), 'CN=bulk', '', 'web-server', 0, %lld, 0, 1, %lld + i,"
				" i %% 2, x'00' FROM n; COMMIT;",
				(long long)(now + 30 * DAY), (long long)(now - 10 * DAY));
	CU_ASSERT_FATAL(off < sizeof sql);
	raw_sql(fx.home, sql);

	crl = publish_ok(c, 0, now, &info);
	CU_ASSERT(info.entries >= 3009);
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		CU_ASSERT_EQUAL(entry_of(crl, odd[i].serial, &reason, &when), 1);
		CU_ASSERT_EQUAL(reason, odd[i].reason ? odd[i].reason : -1);
		CU_ASSERT_EQUAL(when, odd[i].when);
	}
	CU_ASSERT_EQUAL(entry_of(crl, "5A5A5A5A5A5A5A5A5A5A000000000BB8", &reason, &when), 1); /* 3000 */
	CU_ASSERT_EQUAL(reason, -1);
	CU_ASSERT_EQUAL(when, now - 10 * DAY + 3000);
	CU_ASSERT_EQUAL(entry_of(crl, "5A5A5A5A5A5A5A5A5A5A000000000BB7", &reason, NULL), 1);
	CU_ASSERT_EQUAL(reason, SP_REASON_KEY_COMPROMISE);
	X509_CRL_free(crl);
}

/* Full and delta share one strictly increasing sequence; the sidecar
 * follows it. */
static void test_numbers_increase(void)
{
	sp_ca *c = ca_delta();
	sp_crl_info a, b, d, e;
	int64_t now = (int64_t)time(NULL);
	X509_CRL_free(publish_ok(c, 0, now, &a));
	CU_ASSERT_EQUAL(sidecar_value(c), a.number);
	X509_CRL_free(publish_ok(c, 1, now, &d));
	CU_ASSERT_EQUAL(sidecar_value(c), d.number);
	X509_CRL_free(publish_ok(c, 0, now, &b));
	X509_CRL_free(publish_ok(c, 1, now, &e));
	CU_ASSERT(a.number >= 1);
	CU_ASSERT_EQUAL(d.number, a.number + 1);
	CU_ASSERT_EQUAL(d.base_number, a.number);
	CU_ASSERT_EQUAL(b.number, d.number + 1);
	CU_ASSERT_EQUAL(e.number, b.number + 1);
	CU_ASSERT_EQUAL(e.base_number, b.number);
	CU_ASSERT_EQUAL(sidecar_value(c), e.number);
}

/* A store restored from an older backup must not reuse numbers: the
 * sidecar (or, without it, the published DER) wins when it is higher. */
static void test_number_survives_restore(void)
{
	sp_ca *c = ca_default();
	sp_crl_info a, b;
	char path[4400], der_path[4400], num[32];
	int64_t now = (int64_t)time(NULL);

	X509_CRL_free(publish_ok(c, 0, now, &a));
	/* "restore": the publish directory saw 100 more numbers than the store */
	publish_file(c, "crl/" CA_SLUG, ".number", path, sizeof path);
	snprintf(num, sizeof num, "%lld\n", (long long)(a.number + 100));
	CU_ASSERT_EQUAL_FATAL(sp_file_write_atomic(path, num, strlen(num), 0644, 0), SP_OK);
	X509_CRL_free(publish_ok(c, 0, now, &b));
	CU_ASSERT_EQUAL(b.number, a.number + 101);

	/* no sidecar: the number inside the published DER file counts. Make
	 * the file say more than the store by moving the store's view back:
	 * the DER of b stays, the sidecar goes, a new CRL follows b. */
	CU_ASSERT_EQUAL_FATAL(unlink(path), 0);
	publish_file(c, sp_ca_crl_file(c), "", der_path, sizeof der_path);
	CU_ASSERT_FATAL(sp_path_exists(der_path));
	raw_sql(fx.home, "DELETE FROM crl WHERE number = (SELECT max(number) FROM crl);");
	X509_CRL_free(publish_ok(c, 0, now, &a));
	CU_ASSERT_EQUAL(a.number, b.number + 1);
	CU_ASSERT_EQUAL(sidecar_value(c), a.number);

	/* a sidecar that is not a number stops publishing (never guess low) */
	CU_ASSERT_EQUAL_FATAL(sp_file_write_atomic(path, "12x\n", 4, 0644, 0), SP_OK);
	sp_clear_error();
	CU_ASSERT_EQUAL(sp_crl_publish(c, 0, now, ACTOR_CRL, &b), SP_ERR_INPUT);
	CU_ASSERT(msg_has(".number does not hold a CRL number"));
	snprintf(num, sizeof num, "%lld\n", (long long)a.number);
	CU_ASSERT_EQUAL_FATAL(sp_file_write_atomic(path, num, strlen(num), 0644, 0), SP_OK);
}

/* The profile: issuer, times, AKI, critical IDP = the certificates' CDP. */
static void test_profile(void)
{
	sp_ca *c = ca_default();
	char serial[41], uri[512];
	X509 *x = issue(serial);
	int64_t now = (int64_t)time(NULL);
	sp_crl_info info;
	X509_CRL *crl = publish_ok(c, 0, now, &info);
	AUTHORITY_KEYID *aki;
	ISSUING_DIST_POINT *idp;
	int crit = -5, i;

	CU_ASSERT_STRING_EQUAL(sp_ca_crl_url(c), CDP_URL);
	CU_ASSERT_STRING_EQUAL(cdp_uri_of(x, NID_crl_distribution_points, uri, sizeof uri), CDP_URL);
	CU_ASSERT_EQUAL(X509_CRL_get_signature_nid(crl), NID_ecdsa_with_SHA256);
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(sp_ca_get0_cert(c))), 0);
	CU_ASSERT_EQUAL(info.next_update - info.this_update, 7 * DAY);

	aki = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, &crit, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(aki);
	CU_ASSERT_EQUAL(crit, 0);
	CU_ASSERT_EQUAL(ASN1_OCTET_STRING_cmp(aki->keyid, X509_get0_subject_key_id(sp_ca_get0_cert(c))), 0);
	CU_ASSERT_PTR_NULL(aki->issuer);
	AUTHORITY_KEYID_free(aki);

	idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(idp);
	CU_ASSERT_EQUAL(crit, 1);
	CU_ASSERT_STRING_EQUAL(dp_uri(idp->distpoint, uri, sizeof uri), CDP_URL);
	CU_ASSERT(!idp->onlyuser && !idp->onlyCA && !idp->onlysomereasons && !idp->indirectCRL && !idp->onlyattr);
	ISSUING_DIST_POINT_free(idp);

	/* deltas off: neither FreshestCRL nor a delta indicator; nothing else */
	CU_ASSERT(X509_CRL_get_ext_by_NID(crl, NID_freshest_crl, -1) < 0);
	CU_ASSERT(X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) < 0);
	CU_ASSERT_EQUAL(X509_CRL_get_ext_count(crl), 3);
	for (i = 0; i < X509_CRL_get_ext_count(crl); i++)
		CU_ASSERT_EQUAL(X509_EXTENSION_get_critical(X509_CRL_get_ext(crl, i)),
				OBJ_obj2nid(X509_EXTENSION_get_object(X509_CRL_get_ext(crl, i))) ==
					NID_issuing_distribution_point);
	CU_ASSERT(X509_get_ext_by_NID(x, NID_freshest_crl, -1) < 0);
	X509_CRL_free(crl);
	X509_free(x);
}

/* Deltas on: full CRLs and new certificates point to the delta URL. */
static void test_freshest_crl(void)
{
	sp_ca *c = ca_delta();
	char serial[41], uri[512];
	X509 *x = issue(serial);
	X509_CRL *crl = publish_ok(c, 0, (int64_t)time(NULL), NULL);
	CRL_DIST_POINTS *dps;
	int crit = -5;

	CU_ASSERT_STRING_EQUAL(sp_ca_delta_crl_url(c), DELTA_URL);
	CU_ASSERT_STRING_EQUAL(sp_ca_delta_crl_file(c), "crl/" CA_SLUG "-delta.crl");
	CU_ASSERT_STRING_EQUAL(cdp_uri_of(x, NID_freshest_crl, uri, sizeof uri), DELTA_URL);
	CU_ASSERT_STRING_EQUAL(cdp_uri_of(x, NID_crl_distribution_points, uri, sizeof uri), CDP_URL);
	dps = X509_CRL_get_ext_d2i(crl, NID_freshest_crl, &crit, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dps);
	CU_ASSERT_EQUAL(crit, 0);
	CU_ASSERT_EQUAL_FATAL(sk_DIST_POINT_num(dps), 1);
	CU_ASSERT_STRING_EQUAL(dp_uri(sk_DIST_POINT_value(dps, 0)->distpoint, uri, sizeof uri), DELTA_URL);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	X509_CRL_free(crl);
	X509_free(x);
}

/* A delta lists what changed after its base, removeFromCRL for a lifted
 * hold, carries the base's number (critical) and the base's scope. */
static void test_delta_contents(void)
{
	sp_ca *c = ca_delta();
	char s_old[41], s_new[41], s_held[41], s_hold_new[41];
	X509 *x1 = issue(s_old), *x2 = issue(s_new), *x3 = issue(s_held), *x4 = issue(s_hold_new);
	int64_t now = (int64_t)time(NULL), when = 0;
	sp_crl_info base, dinfo;
	X509_CRL *full, *delta;
	int reason, crit = -5;

	revoke_cert(s_old, SP_REASON_KEY_COMPROMISE, now - 2 * HOUR);
	revoke_cert(s_held, SP_REASON_CERTIFICATE_HOLD, now - 2 * HOUR);
	full = publish_ok(c, 0, now, &base);
	CU_ASSERT_EQUAL(entry_of(full, s_held, &reason, NULL), 1);

	revoke_cert(s_new, SP_REASON_CA_COMPROMISE, now - HOUR);
	release_cert(s_held, now - 30 * 60);
	revoke_cert(s_hold_new, SP_REASON_CERTIFICATE_HOLD, now - 10 * 60);
	delta = publish_ok(c, 1, now, &dinfo);

	CU_ASSERT_EQUAL(dinfo.base_number, base.number);
	CU_ASSERT_EQUAL(int_ext(delta, NID_delta_crl, &crit), base.number);
	CU_ASSERT_EQUAL(crit, 1);
	CU_ASSERT_EQUAL(dinfo.next_update - dinfo.this_update, 24 * HOUR);
	CU_ASSERT(X509_CRL_get_ext_by_NID(delta, NID_freshest_crl, -1) < 0);
	{
		int i = X509_CRL_get_ext_by_NID(full, NID_issuing_distribution_point, -1);
		int j = X509_CRL_get_ext_by_NID(delta, NID_issuing_distribution_point, -1);
		CU_ASSERT_FATAL(i >= 0 && j >= 0);
		CU_ASSERT_EQUAL(ASN1_STRING_cmp(X509_EXTENSION_get_data(X509_CRL_get_ext(full, i)),
						X509_EXTENSION_get_data(X509_CRL_get_ext(delta, j))),
				0);
		CU_ASSERT(X509_EXTENSION_get_critical(X509_CRL_get_ext(delta, j)));
	}
	CU_ASSERT_EQUAL(dinfo.entries, 3);
	CU_ASSERT_EQUAL(entry_of(delta, s_old, &reason, NULL), 0); /* before the base */
	CU_ASSERT_EQUAL(entry_of(delta, s_new, &reason, &when), 1);
	CU_ASSERT_EQUAL(reason, SP_REASON_CA_COMPROMISE);
	CU_ASSERT_EQUAL(when, now - HOUR);
	CU_ASSERT_EQUAL(entry_of(delta, s_held, &reason, &when), 2); /* removeFromCRL */
	CU_ASSERT_EQUAL(reason, SP_REASON_REMOVE_FROM_CRL);
	CU_ASSERT_EQUAL(when, now - 30 * 60);
	CU_ASSERT_EQUAL(entry_of(delta, s_hold_new, &reason, NULL), 1);
	CU_ASSERT_EQUAL(reason, SP_REASON_CERTIFICATE_HOLD);

	/* sp_crl_latest: this full CRL and this delta */
	{
		X509_CRL *lf = NULL, *ld = NULL;
		CU_ASSERT_EQUAL_FATAL(sp_crl_latest(c, &lf, &ld), SP_OK);
		CU_ASSERT_EQUAL(int_ext(lf, NID_crl_number, &crit), base.number);
		CU_ASSERT_PTR_NOT_NULL_FATAL(ld);
		CU_ASSERT_EQUAL(int_ext(ld, NID_crl_number, &crit), dinfo.number);
		X509_CRL_free(lf);
		X509_CRL_free(ld);
	}
	X509_CRL_free(full);
	X509_CRL_free(delta);
	/* a newer full CRL: no delta is newer than it */
	X509_CRL_free(publish_ok(c, 0, now, &base));
	{
		X509_CRL *lf = NULL, *ld = NULL;
		CU_ASSERT_EQUAL_FATAL(sp_crl_latest(c, &lf, &ld), SP_OK);
		CU_ASSERT_EQUAL(int_ext(lf, NID_crl_number, &crit), base.number);
		CU_ASSERT_PTR_NULL(ld);
		X509_CRL_free(lf);
		X509_CRL_free(ld);
	}
	X509_free(x1);
	X509_free(x2);
	X509_free(x3);
	X509_free(x4);
}

/* Deltas off: a delta is a usage error. */
static void test_delta_refused_when_off(void)
{
	sp_ca *c = ca_default();
	sp_crl_info info;
	sp_clear_error();
	CU_ASSERT_EQUAL(sp_crl_publish(c, 1, (int64_t)time(NULL), ACTOR_CRL, &info), SP_ERR_USAGE);
	CU_ASSERT(msg_has("ca set --delta on"));
}

/* Expired certificates leave the CRL, unless the policy keeps them - then
 * with ExpiredCertsOnCRL = the CA's notBefore. */
static void test_expired(void)
{
	sp_ca *c = ca_default();
	char s_exp[41], s_live[41], sql[256];
	X509 *x1 = issue(s_exp), *x2 = issue(s_live);
	int64_t now = (int64_t)time(NULL);
	X509_CRL *crl;
	ASN1_OBJECT *obj = OBJ_txt2obj("2.5.29.60", 1);
	int reason, i;

	revoke_cert(s_exp, SP_REASON_SUPERSEDED, now - 20 * DAY);
	revoke_cert(s_live, SP_REASON_SUPERSEDED, now - 20 * DAY);
	snprintf(sql, sizeof sql, "UPDATE certificate SET not_after = %lld WHERE serial = '%s';",
		 (long long)(now - 10 * DAY), s_exp);
	raw_sql(fx.home, sql);

	crl = publish_ok(c, 0, now, NULL);
	CU_ASSERT_EQUAL(entry_of(crl, s_exp, &reason, NULL), 0);
	CU_ASSERT_EQUAL(entry_of(crl, s_live, &reason, NULL), 1);
	CU_ASSERT(X509_CRL_get_ext_by_OBJ(crl, obj, -1) < 0);
	X509_CRL_free(crl);

	/* RFC 5280 3.3: an already expired certificate revoked after the last
	 * CRL appears on the next CRL once, and leaves on the one after. */
	{
		char s_late[41];
		X509 *x3 = issue(s_late);
		snprintf(sql, sizeof sql, "UPDATE certificate SET not_after = %lld WHERE serial = '%s';",
			 (long long)(now - 10 * DAY), s_late);
		raw_sql(fx.home, sql);
		revoke_cert(s_late, SP_REASON_KEY_COMPROMISE, now + 1 * DAY);
		crl = publish_ok(c, 0, now + 2 * DAY, NULL);
		CU_ASSERT_EQUAL(entry_of(crl, s_late, &reason, NULL), 1);
		X509_CRL_free(crl);
		crl = publish_ok(c, 0, now + 3 * DAY, NULL);
		CU_ASSERT_EQUAL(entry_of(crl, s_late, &reason, NULL), 0);
		X509_CRL_free(crl);
		X509_free(x3);
	}

	c = ca_with(7, 0, 24, 1);
	crl = publish_ok(c, 0, now, NULL);
	CU_ASSERT_EQUAL(entry_of(crl, s_exp, &reason, NULL), 1);
	CU_ASSERT_EQUAL(entry_of(crl, s_live, &reason, NULL), 1);
	i = X509_CRL_get_ext_by_OBJ(crl, obj, -1);
	CU_ASSERT_FATAL(i >= 0);
	{
		X509_EXTENSION *e = X509_CRL_get_ext(crl, i);
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
		const unsigned char *p = ASN1_STRING_get0_data(v);
		ASN1_GENERALIZEDTIME *gt = d2i_ASN1_GENERALIZEDTIME(NULL, &p, ASN1_STRING_length(v));
		CU_ASSERT_EQUAL(X509_EXTENSION_get_critical(e), 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(gt);
		CU_ASSERT(p == ASN1_STRING_get0_data(v) + ASN1_STRING_length(v));
		CU_ASSERT_EQUAL(t2unix(gt), t2unix(X509_get0_notBefore(sp_ca_get0_cert(c))));
		ASN1_GENERALIZEDTIME_free(gt);
	}
	X509_CRL_free(crl);
	ASN1_OBJECT_free(obj);
	(void)ca_default();
	X509_free(x1);
	X509_free(x2);
}

static void check_status(X509_CRL *crl, X509_CRL *delta, X509 *issuer, X509 *x, int64_t at, int revoked,
			 int reason, int64_t number)
{
	sp_crl_status st;
	sp_err rc = sp_crl_check_cert(crl, delta, issuer, x, at, &st);
	if (rc != SP_OK)
		printf("\n    check: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_EQUAL(st.revoked, revoked);
	if (revoked)
		CU_ASSERT_EQUAL(st.reason, reason);
	CU_ASSERT_EQUAL(st.crl_number, number);
}

static void check_refused(X509_CRL *crl, X509_CRL *delta, X509 *issuer, X509 *x, int64_t at, sp_err want,
			  const char *needle)
{
	sp_crl_status st;
	sp_err rc;
	sp_clear_error();
	rc = sp_crl_check_cert(crl, delta, issuer, x, at, &st);
	if (rc != want)
		printf("\n    check: expected %s, got %s (%s)", sp_err_name(want), sp_err_name(rc), sp_last_error());
	CU_ASSERT_EQUAL(rc, want);
	if (needle)
		CU_ASSERT(msg_has(needle));
}

static void test_check_cert(void)
{
	sp_ca *c = ca_delta();
	char s_rev[41], s_ok[41], s_hold[41], s_late[41];
	X509 *xr = issue(s_rev), *xo = issue(s_ok), *xh = issue(s_hold), *xl = issue(s_late);
	X509 *issuer = sp_ca_get0_cert(c), *other;
	int64_t now = (int64_t)time(NULL);
	sp_crl_info bi, di;
	X509_CRL *full, *delta, *full2;

	revoke_cert(s_rev, SP_REASON_KEY_COMPROMISE, now - HOUR);
	revoke_cert(s_hold, SP_REASON_CERTIFICATE_HOLD, now - HOUR);
	full = publish_ok(c, 0, now, &bi);
	release_cert(s_hold, now - 60);
	revoke_cert(s_late, SP_REASON_AFFILIATION_CHANGED, now - 30);
	delta = publish_ok(c, 1, now, &di);

	check_status(full, NULL, issuer, xr, now, 1, SP_REASON_KEY_COMPROMISE, bi.number);
	check_status(full, NULL, issuer, xo, now, 0, 0, bi.number);
	check_status(full, NULL, issuer, xh, now, 1, SP_REASON_CERTIFICATE_HOLD, bi.number);
	check_status(full, NULL, issuer, xl, now, 0, 0, bi.number);
	/* with the delta: the hold is lifted, the late one revoked */
	check_status(full, delta, issuer, xh, now, 0, 0, di.number);
	check_status(full, delta, issuer, xl, now, 1, SP_REASON_AFFILIATION_CHANGED, di.number);
	check_status(full, delta, issuer, xr, now, 1, SP_REASON_KEY_COMPROMISE, bi.number);
	check_status(full, delta, issuer, xo, now, 0, 0, di.number);

	/* times: the delta expires first */
	check_refused(full, NULL, issuer, xr, now + 7 * DAY, SP_ERR_INPUT, "expired");
	check_refused(full, NULL, issuer, xr, now - 1, SP_ERR_INPUT, "not yet valid");
	check_refused(full, delta, issuer, xr, now + 24 * HOUR, SP_ERR_INPUT, "delta CRL");
	check_status(full, NULL, issuer, xr, now + 7 * DAY - 1, 1, SP_REASON_KEY_COMPROMISE, bi.number);

	/* a delta given as the base, a full CRL given as the delta */
	check_refused(delta, NULL, issuer, xr, now, SP_ERR_INPUT, "is a delta CRL");
	check_refused(full, full, issuer, xr, now, SP_ERR_INPUT, "no delta CRL indicator");
	/* a delta older than the full CRL given: RFC 5280 5.2.4 lets a delta
	 * go with any full CRL numbered at or above its base (PKITS 4.15.8
	 * covers that), but never with a newer full CRL than itself */
	full2 = publish_ok(c, 0, now, NULL);
	check_refused(full2, delta, issuer, xr, now, SP_ERR_INPUT, "not above its base");
	X509_CRL_free(full2);

	/* another CA of the same name (another key): the certificate does not
	 * verify with it, and its CRL does not verify with ours */
	{
		char home[4200];
		sp_ca *o;
		X509_CRL *ocrl;
		make_home(home, sizeof home, "ec-p256", CA_NAME);
		o = open_home(home, 1);
		CU_ASSERT_FATAL((other = X509_dup(sp_ca_get0_cert(o))) != NULL);
		ocrl = publish_ok(o, 0, now, NULL);
		sp_ca_close(o);
		check_refused(full, NULL, other, xr, now, SP_ERR_CRYPTO, "certificate's signature does not verify");
		check_refused(ocrl, NULL, issuer, xr, now, SP_ERR_CRYPTO, "CRL's signature does not verify");
		X509_CRL_free(ocrl);
		X509_free(other);
	}
	/* an issuer of another name */
	{
		char home[4200];
		sp_ca *o;
		make_home(home, sizeof home, "ec-p256", "sitepki Other CA");
		o = open_home(home, 0);
		check_refused(full, NULL, sp_ca_get0_cert(o), xr, now, SP_ERR_INPUT, "was issued by");
		sp_ca_close(o);
	}
	/* the CA certificate has no CDP: outside the IDP's scope */
	check_refused(full, NULL, issuer, issuer, now, SP_ERR_INPUT, "distribution point");
	X509_CRL_free(full);
	X509_CRL_free(delta);
	X509_free(xr);
	X509_free(xo);
	X509_free(xh);
	X509_free(xl);
}

/* The published files: DER == the store's DER, PEM of the same bytes, the
 * CA certificate at the AIA name, mode 0644. */
static void test_files(void)
{
	sp_ca *c = ca_delta();
	sp_crl_info info, dinfo;
	sp_crl_row row;
	char path[4400];
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat sb;
	int64_t now = (int64_t)time(NULL);

	X509_CRL_free(publish_ok(c, 0, now, &info));
	X509_CRL_free(publish_ok(c, 1, now, &dinfo));
	for (int delta = 0; delta < 2; delta++) {
		const char *rel = delta ? sp_ca_delta_crl_file(c) : sp_ca_crl_file(c);
		memset(&row, 0, sizeof row);
		CU_ASSERT_EQUAL_FATAL(
			sp_store_crl_get(sp_ca_get0_store(c), delta ? dinfo.number : info.number, &row), SP_OK);
		CU_ASSERT_EQUAL(row.delta, delta);
		CU_ASSERT_EQUAL(row.entries, delta ? dinfo.entries : info.entries);
		publish_file(c, rel, "", path, sizeof path);
		CU_ASSERT_EQUAL_FATAL(sp_file_read(path, 1 << 28, &data, &len), SP_OK);
		CU_ASSERT(len == row.der_len && !memcmp(data, row.der, len));
		free(data);
		CU_ASSERT_EQUAL(stat(path, &sb), 0);
		CU_ASSERT_EQUAL(sb.st_mode & 07777, 0644);
		publish_file(c, rel, ".pem", path, sizeof path);
		{
			FILE *f = fopen(path, "r");
			X509_CRL *pc;
			unsigned char *der = NULL;
			int n;
			CU_ASSERT_PTR_NOT_NULL_FATAL(f);
			pc = PEM_read_X509_CRL(f, NULL, NULL, NULL);
			fclose(f);
			CU_ASSERT_PTR_NOT_NULL_FATAL(pc);
			CU_ASSERT_FATAL((n = i2d_X509_CRL(pc, &der)) > 0);
			CU_ASSERT((size_t)n == row.der_len && !memcmp(der, row.der, row.der_len));
			OPENSSL_free(der);
			X509_CRL_free(pc);
		}
		sp_crl_row_clear(&row);
	}
	publish_file(c, sp_ca_aia_file(c), "", path, sizeof path);
	CU_ASSERT_STRING_EQUAL(sp_ca_aia_file(c), "ca/" CA_SLUG ".crt");
	CU_ASSERT_EQUAL_FATAL(sp_file_read(path, 1 << 20, &data, &len), SP_OK);
	CU_ASSERT(len == sp_ca_get0_info(c)->cert_der_len && !memcmp(data, sp_ca_get0_info(c)->cert_der, len));
	free(data);
	CU_ASSERT_EQUAL(sidecar_value(c), dinfo.number);
}

typedef struct {
	int found;
	int64_t number;
} audit_find;

static int audit_cb(const sp_audit_row *r, void *arg)
{
	audit_find *a = arg;
	char num[32];
	snprintf(num, sizeof num, "%lld", (long long)a->number);
	/* the row names who published (the caller's actor) */
	if (!strcmp(r->action, "crl-publish") && !strcmp(r->subject, num) && strstr(r->detail, "full entries=") &&
	    !strcmp(r->actor, ACTOR_CRL))
		a->found = 1;
	return 0;
}

/* A publication is audited under the caller's actor, and a CA without its
 * key cannot publish. */
static void test_audit_and_key(void)
{
	sp_ca *c = ca_default(), *nokey;
	sp_crl_info info;
	audit_find a = {0, 0};
	X509_CRL_free(publish_ok(c, 0, (int64_t)time(NULL), &info));
	a.number = info.number;
	CU_ASSERT_EQUAL(sp_store_audit_list(sp_ca_get0_store(c), 5, audit_cb, &a), SP_OK);
	CU_ASSERT(a.found);
	CU_ASSERT_EQUAL(sp_store_audit_verify(sp_ca_get0_store(c), NULL, NULL), SP_OK);

	nokey = open_home(fx.home, 0);
	sp_clear_error();
	CU_ASSERT_EQUAL(sp_crl_publish(nokey, 0, (int64_t)time(NULL), ACTOR_CRL, &info), SP_ERR_USAGE);
	CU_ASSERT(msg_has("passphrase"));
	CU_ASSERT_EQUAL(sp_crl_publish(c, 0, (int64_t)time(NULL), NULL, &info), SP_ERR_USAGE);
	CU_ASSERT(msg_has("actor"));
	sp_ca_close(nokey);
}

static void policy_refused(sp_ca *c, int days, int delta, int hours, int keep, const char *needle)
{
	sp_crl_policy p = {days, delta, hours, keep};
	sp_clear_error();
	CU_ASSERT_EQUAL(sp_ca_set_crl_policy(c, &p, "test"), SP_ERR_USAGE);
	CU_ASSERT(msg_has(needle));
}

static void test_policy(void)
{
	sp_ca *c = ca_default(), *o;
	const sp_crl_policy *d = sp_ca_get0_crl_policy(c);
	sp_crl_policy p = {30, 1, 12, 1};
	char *v = NULL;
	sp_store *st;

	CU_ASSERT(d->crl_days == 7 && d->delta_enabled == 0 && d->delta_hours == 24 && d->keep_expired == 0);
	policy_refused(c, 0, 0, 24, 0, "crl.days = 0");
	policy_refused(c, 366, 0, 24, 0, "crl.days = 366");
	policy_refused(c, 7, 2, 24, 0, "crl.delta = 2");
	policy_refused(c, 7, 1, 0, 0, "crl.delta_hours = 0");
	policy_refused(c, 7, 1, 169, 0, "crl.delta_hours = 169");
	policy_refused(c, 7, 0, 24, -1, "crl.keep_expired = -1");
	policy_refused(c, 1, 1, 24, 0, "must be shorter than the full CRL's lifetime");
	policy_refused(c, 2, 1, 48, 0, "crl.delta_hours = 48");

	/* valid: stored, audited, read by handles opened afterwards only */
	o = open_home(fx.home, 0);
	CU_ASSERT_EQUAL_FATAL(sp_ca_set_crl_policy(o, &p, "test"), SP_OK);
	sp_ca_close(o);
	CU_ASSERT_EQUAL(sp_ca_get0_crl_policy(c)->crl_days, 7);
	o = open_home(fx.home, 0);
	CU_ASSERT(same_policy(sp_ca_get0_crl_policy(o), &p));
	st = sp_ca_get0_store(o);
	CU_ASSERT_EQUAL(sp_store_setting_get(st, "crl.delta_hours", &v), SP_OK);
	CU_ASSERT_STRING_EQUAL(v ? v : "", "12");
	free(v);
	/* a damaged setting stops sp_ca_open with the key named */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_setting_set(st, "crl.days", "seven"), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	{
		sp_ca *bad = NULL;
		sp_clear_error();
		CU_ASSERT_EQUAL(sp_ca_open(fx.home, NULL, &bad), SP_ERR_DB);
		CU_ASSERT_PTR_NULL(bad);
		CU_ASSERT(msg_has("crl.days"));
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_setting_set(st, "crl.days", "400"), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	{
		sp_ca *bad = NULL;
		sp_clear_error();
		CU_ASSERT_EQUAL(sp_ca_open(fx.home, NULL, &bad), SP_ERR_DB);
		CU_ASSERT(msg_has("crl.days = 400"));
	}
	/* back to what the fixture's handle has (defaults) */
	p.crl_days = 7;
	p.delta_enabled = 0;
	p.delta_hours = 24;
	p.keep_expired = 0;
	CU_ASSERT_EQUAL_FATAL(sp_ca_set_crl_policy(o, &p, "test"), SP_OK);
	sp_ca_close(o);
	(void)ca_default();
}

/* ------------------------------------------------- openssl as the oracle */

#define OUT_MAX (8 << 20)

static int run(const char *cmd, char *out, size_t outsz)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int st;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	for (;;) {
		char sink[4096];
		size_t r = n + 1 < outsz ? fread(out + n, 1, outsz - 1 - n, p) : fread(sink, 1, sizeof sink, p);
		if (r == 0)
			break;
		if (n + 1 < outsz)
			n += r;
	}
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_pem(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT(PEM_write_X509(f, x));
	fclose(f);
}

static void test_openssl_cli(void)
{
	sp_ca *c = ca_delta();
	char s_rev[41], s_ok[41], s_late[41], dir[4200], ca_pem[4300], rev_pem[4300], ok_pem[4300], late_pem[4300];
	char full[4400], delta[4400], cmd[32768], *out = malloc(OUT_MAX);
	X509 *xr = issue(s_rev), *xo = issue(s_ok), *xl = issue(s_late);
	int64_t now = (int64_t)time(NULL);
	sp_crl_info info, dinfo;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	snprintf(dir, sizeof dir, "%s", sp_unit_tmpdir());
	snprintf(ca_pem, sizeof ca_pem, "%s/ca.pem", dir);
	snprintf(rev_pem, sizeof rev_pem, "%s/rev.pem", dir);
	snprintf(ok_pem, sizeof ok_pem, "%s/ok.pem", dir);
	snprintf(late_pem, sizeof late_pem, "%s/late.pem", dir);
	write_pem(ca_pem, sp_ca_get0_cert(c));
	write_pem(rev_pem, xr);
	write_pem(ok_pem, xo);
	write_pem(late_pem, xl);
	revoke_cert(s_rev, SP_REASON_KEY_COMPROMISE, now - HOUR);
	X509_CRL_free(publish_ok(c, 0, now, &info));
	revoke_cert(s_late, SP_REASON_SUPERSEDED, now - 60);
	X509_CRL_free(publish_ok(c, 1, now, &dinfo));
	publish_file(c, sp_ca_crl_file(c), "", full, sizeof full);
	publish_file(c, sp_ca_delta_crl_file(c), "", delta, sizeof delta);

	snprintf(cmd, sizeof cmd, "openssl crl -inform DER -in '%s' -text -noout 2>&1", full);
	rc = run(cmd, out, OUT_MAX);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Version 2 (0x1)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Signature Algorithm: ecdsa-with-SHA256"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X509v3 Issuing Distribution Point: critical"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "URI:" CDP_URL));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X509v3 Freshest CRL:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "URI:" DELTA_URL));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X509v3 Authority Key Identifier:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X509v3 CRL Number:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "Key Compromise"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, s_rev));
	snprintf(cmd, sizeof cmd, "openssl crl -inform DER -in '%s' -text -noout 2>&1", delta);
	CU_ASSERT_EQUAL(run(cmd, out, OUT_MAX), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "X509v3 Delta CRL Indicator: critical"));
	snprintf(cmd, sizeof cmd, "openssl crl -inform DER -in '%s' -noout -CAfile '%s' 2>&1", full, ca_pem);
	CU_ASSERT_EQUAL(run(cmd, out, OUT_MAX), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "verify OK"));

	/* openssl verify -crl_check with the PEM beside the DER */
	snprintf(cmd, sizeof cmd, "openssl verify -crl_check -CAfile '%s' -CRLfile '%s.pem' '%s' 2>&1", ca_pem, full,
		 rev_pem);
	CU_ASSERT_NOT_EQUAL(run(cmd, out, OUT_MAX), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "certificate revoked"));
	snprintf(cmd, sizeof cmd, "openssl verify -crl_check -CAfile '%s' -CRLfile '%s.pem' '%s' 2>&1", ca_pem, full,
		 ok_pem);
	rc = run(cmd, out, OUT_MAX);
	if (rc != 0)
		printf("\n    openssl verify: %s", out);
	CU_ASSERT_EQUAL(rc, 0);
	/* the base alone does not know the late revocation; with the delta it does */
	snprintf(cmd, sizeof cmd, "openssl verify -crl_check -CAfile '%s' -CRLfile '%s.pem' '%s' 2>&1", ca_pem, full,
		 late_pem);
	CU_ASSERT_EQUAL(run(cmd, out, OUT_MAX), 0);
	snprintf(cmd, sizeof cmd,
		 "openssl verify -crl_check -use_deltas -CAfile '%s' -CRLfile '%s.pem' -CRLfile '%s.pem' '%s' 2>&1",
		 ca_pem, full, delta, late_pem);
	CU_ASSERT_NOT_EQUAL(run(cmd, out, OUT_MAX), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "certificate revoked"));
	snprintf(cmd, sizeof cmd,
		 "openssl verify -crl_check -use_deltas -CAfile '%s' -CRLfile '%s.pem' -CRLfile '%s.pem' '%s' 2>&1",
		 ca_pem, full, delta, ok_pem);
	rc = run(cmd, out, OUT_MAX);
	if (rc != 0)
		printf("\n    openssl verify -use_deltas: %s", out);
	CU_ASSERT_EQUAL(rc, 0);
	free(out);
	X509_free(xr);
	X509_free(xo);
	X509_free(xl);
}

static const sp_unit_test crl_tests[] = {
	{"entry dates encode as ASN1_TIME_set does", test_time_encoding},
	{"RSA CA: empty CRL then one entry", test_rsa_empty_then_one},
	{"delta before any full CRL", test_delta_needs_full},
	{"entries and reason codes", test_entries_and_reasons},
	{"serial shapes, dates, 3000 entries", test_serial_shapes_and_size},
	{"numbers increase across full and delta", test_numbers_increase},
	{"number survives a restored store", test_number_survives_restore},
	{"profile: issuer, times, AKI, IDP = CDP", test_profile},
	{"FreshestCRL in CRLs and certificates", test_freshest_crl},
	{"delta contents", test_delta_contents},
	{"delta refused when off", test_delta_refused_when_off},
	{"expired certificates dropped or kept", test_expired},
	{"sp_crl_check_cert", test_check_cert},
	{"published files", test_files},
	{"audit and key", test_audit_and_key},
	{"policy validation", test_policy},
	{"openssl crl / verify as oracle", test_openssl_cli},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"crl", crl_tests},
	{NULL, NULL},
};
