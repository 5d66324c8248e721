/*
 * test_block.c - the block list in-process: sp_block_add_cert/_key,
 * sp_block_remove, sp_block_check_cert, sp_block_export and sp_block_verify.
 *
 * What is judged:
 *  - the cases native-mode sites block (native-mode-certificates.md, "Block
 *    vs. revoke", profiles rows 5 and 6): an OSD boot-media / PXE and an ISV
 *    proxy certificate of this CA, blocked by serial, are refused by the
 *    check and accepted again once unblocked;
 *  - a certificate of another CA is blocked by SHA-256, by the SHA-1
 *    thumbprint as Windows shows it (upper case, colons), or from the
 *    certificate itself, and the check matches it by either fingerprint;
 *  - duplicates, bad keys and bad reasons are refused and leave the block
 *    list and the audit log exactly as they were;
 *  - an export verifies and gives back exactly the stored entries; any
 *    tampering (a flipped byte, truncation, a byte appended, the same content
 *    signed by another CA or by a certificate this CA issued) is refused; the
 *    text is parsed strictly (tests/data/blocklist/{good,bad});
 *  - `openssl cms -verify` (an implementation nobody here wrote) accepts the
 *    genuine export with only the CA certificate and prints the text.
 *
 * Cost: one CA (EC P-256) is made and opened with its key once per process
 * (PBKDF2, ~0.5 s). Every test makes its own certificates and compares counts
 * before/after, so the order of the tests does not matter.
 */
#include "unit.h"

#include <dirent.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca_int.h"
#include "revocation/block_int.h"
#include "revocation/revocation.h"

#define ACTOR "unit:test"
#define CA_NAME "sitepki Block Test CA"

/* -------------------------------------------------------------- fixture */

static struct {
	int ready;
	char home[4200];
	sp_secret pass;
	sp_ca *ca;
	EVP_PKEY *leaf_key; /* RSA-2048: what osd-media and isv-proxy take */
	sp_template *osd, *isv;
	EVP_PKEY *ext_key;  /* another CA, made here with OpenSSL */
	X509 *ext_ca;
	long ext_serial;
	int cn_seq;
} fx;

static void fixture_free(void)
{
	sp_ca_close(fx.ca);
	sp_secret_wipe(&fx.pass);
	EVP_PKEY_free(fx.leaf_key);
	EVP_PKEY_free(fx.ext_key);
	X509_free(fx.ext_ca);
	sp_template_free(fx.osd);
	sp_template_free(fx.isv);
	memset(&fx, 0, sizeof fx);
}

static sp_ca *ca(void)
{
	sp_ca_init_opts o;
	sp_err rc;

	if (fx.ready) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(fx.ca); /* the first attempt failed */
		return fx.ca;
	}
	fx.ready = 1;
	atexit(fixture_free);
	fx.pass.len = strlen("unit test passphrase, not a real one");
	fx.pass.buf = OPENSSL_secure_malloc(fx.pass.len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.pass.buf);
	memcpy(fx.pass.buf, "unit test passphrase, not a real one", fx.pass.len + 1);

	snprintf(fx.home, sizeof fx.home, "%s/ca", sp_unit_tmpdir());
	memset(&o, 0, sizeof o);
	o.name = CA_NAME;
	o.org = "sitepki tests";
	o.site_code = "P01";
	o.key_alg = "ec-p256";
	o.days = 400;
	o.base_url = "http://pki.corp.example/pki";
	rc = sp_ca_init(fx.home, &o, &fx.pass);
	if (rc != SP_OK)
		printf("\n    sp_ca_init: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	rc = sp_ca_open(fx.home, &fx.pass, &fx.ca);
	if (rc != SP_OK)
		printf("\n    sp_ca_open: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_FATAL(sp_template_find(NULL, "osd-media", &fx.osd) == SP_OK);
	CU_ASSERT_FATAL(sp_template_find(NULL, "isv-proxy", &fx.isv) == SP_OK);
	CU_ASSERT_FATAL((fx.leaf_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)) != NULL);
	return fx.ca;
}

static sp_store *st(void)
{
	return sp_ca_get0_store(ca());
}

/* A certificate of this CA from a CSR built here, through sp_issue. */
static X509 *issue(const char *tname, const char *what)
{
	const sp_template *t;
	X509_REQ *req = X509_REQ_new(), *parsed = NULL;
	X509_NAME *name = X509_NAME_new();
	sp_issue_opts o;
	unsigned char *der = NULL;
	char cn[128];
	X509 *x = NULL;
	int len;
	sp_err rc;

	(void)ca();
	t = !strcmp(tname, "osd-media") ? fx.osd : fx.isv;
	snprintf(cn, sizeof cn, "%s %d.corp.example", what, ++fx.cn_seq);
	CU_ASSERT_FATAL(req && name);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, name));
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, fx.leaf_key));
	CU_ASSERT_FATAL(X509_REQ_sign(req, fx.leaf_key, EVP_sha256()) > 0);
	CU_ASSERT_FATAL((len = i2d_X509_REQ(req, &der)) > 0);
	CU_ASSERT_FATAL(sp_req_parse(der, (size_t)len, &parsed) == SP_OK);
	memset(&o, 0, sizeof o);
	o.requester = ACTOR;
	rc = sp_issue(ca(), t, parsed, &o, &x);
	if (rc != SP_OK)
		printf("\n    sp_issue %s: %s", t->name, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_REQ_free(req);
	X509_REQ_free(parsed);
	return x;
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

/* A certificate made with OpenSSL alone: self-signed CA when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *pub, EVP_PKEY *sign_key, X509 *issuer, const char *cn, long serial)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	CU_ASSERT_FATAL(x && n);
	CU_ASSERT_FATAL(X509_set_version(x, X509_VERSION_3));
	CU_ASSERT_FATAL(ASN1_INTEGER_set(X509_get_serialNumber(x), serial));
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Another Org", -1, -1, 0));
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
	CU_ASSERT_FATAL(X509_set_subject_name(x, n));
	CU_ASSERT_FATAL(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n));
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL);
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notAfter(x), 90L * 86400) != NULL);
	CU_ASSERT_FATAL(X509_set_pubkey(x, pub));
	if (!issuer) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
		add_ext(x, x, NID_subject_key_identifier, "hash");
	} else {
		add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
		add_ext(x, issuer, NID_ext_key_usage, "clientAuth");
	}
	CU_ASSERT_FATAL(X509_sign(x, sign_key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

/* The other CA: RSA, self-signed, unknown to this one. */
static void ext_ca(void)
{
	if (fx.ext_ca)
		return;
	(void)ca();
	CU_ASSERT_FATAL((fx.ext_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)) != NULL);
	fx.ext_ca = make_cert(fx.ext_key, fx.ext_key, NULL, "Another Org Root CA", 1);
}

/* A client certificate of the other CA (e.g. an ISV proxy enrolled there). */
static X509 *ext_cert(const char *what)
{
	EVP_PKEY *k;
	X509 *x;
	char cn[128];
	ext_ca();
	snprintf(cn, sizeof cn, "%s %d.other.example", what, ++fx.cn_seq);
	CU_ASSERT_FATAL((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) != NULL);
	x = make_cert(k, fx.ext_key, fx.ext_ca, cn, 0x1000 + ++fx.ext_serial);
	EVP_PKEY_free(k);
	return x;
}

static void fp256(X509 *x, char out[65])
{
	CU_ASSERT_FATAL(sp_cert_sha256_hex(x, out) == SP_OK);
}

static void fp1(X509 *x, char out[41])
{
	CU_ASSERT_FATAL(sp_cert_sha1_hex(x, out) == SP_OK);
}

static void serial(X509 *x, char out[41])
{
	CU_ASSERT_FATAL(sp_serial_hex(X509_get0_serialNumber(x), out, 41) == SP_OK);
}

/* "AB:CD:..." as copied from a Windows certificate dialog. */
static void windows_thumbprint(X509 *x, char out[60])
{
	char h[41];
	size_t o = 0;
	fp1(x, h);
	for (size_t i = 0; i < 40; i += 2) {
		if (i)
			out[o++] = ':';
		out[o++] = (char)(h[i] >= 'a' ? h[i] - 'a' + 'A' : h[i]);
		out[o++] = (char)(h[i + 1] >= 'a' ? h[i + 1] - 'a' + 'A' : h[i + 1]);
	}
	out[o] = '\0';
}

/* ------------------------------------------------- changes in a txn */

static sp_err in_txn_rc(sp_err rc)
{
	if (rc == SP_OK) {
		rc = sp_store_commit(st());
		if (rc != SP_OK)
			printf("\n    commit: %s", sp_last_error());
	} else {
		sp_store_rollback(st());
	}
	return rc;
}

static sp_err add_key(const char *key, const char *reason)
{
	CU_ASSERT_FATAL(sp_store_begin(st()) == SP_OK);
	return in_txn_rc(sp_block_add_key(ca(), key, reason, ACTOR));
}

static sp_err add_cert(X509 *x, const char *reason)
{
	CU_ASSERT_FATAL(sp_store_begin(st()) == SP_OK);
	return in_txn_rc(sp_block_add_cert(ca(), x, reason, ACTOR));
}

static sp_err unblock(const char *key)
{
	CU_ASSERT_FATAL(sp_store_begin(st()) == SP_OK);
	return in_txn_rc(sp_block_remove(ca(), key, ACTOR));
}

static void expect(sp_err got, sp_err want, const char *what)
{
	if (got != want)
		printf("\n    %s: expected %s, got %s (%s)", what, sp_err_name(want), sp_err_name(got), sp_last_error());
	CU_ASSERT_EQUAL(got, want);
}

/* ------------------------------------------------------------- counts */

static int count_cb(const sp_block_row *r, void *arg)
{
	(void)r;
	(*(int64_t *)arg)++;
	return 0;
}

static int audit_count_cb(const sp_audit_row *r, void *arg)
{
	(void)r;
	(*(int64_t *)arg)++;
	return 0;
}

typedef struct {
	int64_t blocks, audit;
} counts;

static counts snapshot(void)
{
	counts c = {0, 0};
	CU_ASSERT_FATAL(sp_store_block_list(st(), count_cb, &c.blocks) == SP_OK);
	CU_ASSERT_FATAL(sp_store_audit_list(st(), 0, audit_count_cb, &c.audit) == SP_OK);
	return c;
}

typedef struct {
	char action[32], subject[80], detail[400];
} audit_last;

static int audit_last_cb(const sp_audit_row *r, void *arg)
{
	audit_last *a = arg;
	snprintf(a->action, sizeof a->action, "%s", r->action);
	snprintf(a->subject, sizeof a->subject, "%s", r->subject ? r->subject : "");
	snprintf(a->detail, sizeof a->detail, "%s", r->detail ? r->detail : "");
	return 0;
}

/* The newest audit row must be `action` on `subject`. */
static void audit_is(const char *action, const char *subject, const char *detail_part)
{
	audit_last a;
	memset(&a, 0, sizeof a);
	CU_ASSERT_FATAL(sp_store_audit_list(st(), 1, audit_last_cb, &a) == SP_OK);
	CU_ASSERT_STRING_EQUAL(a.action, action);
	CU_ASSERT_STRING_EQUAL(a.subject, subject);
	if (detail_part && !strstr(a.detail, detail_part)) {
		printf("\n    audit detail '%s' lacks '%s'", a.detail, detail_part);
		CU_FAIL("audit detail");
	}
}

/* --------------------------------------------------------- the check */

static void assert_blocked(X509 *x, const char *reason)
{
	char h[65];
	sp_err rc;
	fp256(x, h);
	sp_clear_error();
	rc = sp_block_check_cert(st(), x);
	expect(rc, SP_ERR_BLOCKED, "check of a blocked certificate");
	/* "certificate <sha256> is blocked since <time>: <reason>" */
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), h));
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), " is blocked since "));
	if (reason && !strstr(sp_last_error(), reason)) {
		printf("\n    message '%s' lacks the reason '%s'", sp_last_error(), reason);
		CU_FAIL("reason in the message");
	}
}

static void assert_not_blocked(X509 *x)
{
	expect(sp_block_check_cert(st(), x), SP_OK, "check of a certificate that is not blocked");
}

static void row_of(const char *sha256, const char *sha1, sp_block_row *out)
{
	memset(out, 0, sizeof *out);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_find(st(), sha256, sha1, out), SP_OK);
}

/* ----------------------------------------------- certificates of this CA */

/* The two the guide names: a compromised OSD boot-media / PXE certificate
 * and an ISV proxy certificate, blocked by serial as `sitepki cert list`
 * shows it, refused by the check, then unblocked (by serial and by the
 * space-separated thumbprint) and accepted again. */
static void test_block_issued_by_serial(void)
{
	X509 *osd = issue("osd-media", "pxe-sp");
	X509 *isv = issue("isv-proxy", "isv-proxy");
	X509 *bystander = issue("osd-media", "boot-media");
	char s_osd[41], s_isv[41], h[65], t[41], spaced[64];
	counts before = snapshot(), after;
	sp_block_row r;
	char *subject;

	serial(osd, s_osd);
	serial(isv, s_isv);
	assert_not_blocked(osd);
	assert_not_blocked(isv);

	expect(add_key(s_osd, "PXE service point media left on a share"), SP_OK, "block osd-media by serial");
	fp256(osd, h);
	audit_is("block", h, "PXE service point media left on a share");
	/* lower case and colons are the same serial */
	{
		char lc[64];
		size_t o = 0;
		for (size_t i = 0; s_isv[i]; i++) {
			if (i && i % 2 == 0)
				lc[o++] = ':';
			lc[o++] = (char)(s_isv[i] >= 'A' && s_isv[i] <= 'F' ? s_isv[i] - 'A' + 'a' : s_isv[i]);
		}
		lc[o] = '\0';
		expect(add_key(lc, "ISV proxy key compromised"), SP_OK, "block isv-proxy by serial (lower case, colons)");
	}
	after = snapshot();
	CU_ASSERT_EQUAL(after.blocks, before.blocks + 2);
	CU_ASSERT_EQUAL(after.audit, before.audit + 2);

	assert_blocked(osd, "PXE service point media left on a share");
	assert_blocked(isv, "ISV proxy key compromised");
	assert_not_blocked(bystander);

	/* a certificate of this CA is recorded with everything known of it */
	fp1(osd, t);
	row_of(h, NULL, &r);
	CU_ASSERT_STRING_EQUAL(r.sha256, h);
	CU_ASSERT_STRING_EQUAL(r.sha1, t);
	CU_ASSERT_STRING_EQUAL(r.serial, s_osd);
	subject = sp_name_oneline(X509_get_subject_name(osd));
	CU_ASSERT_STRING_EQUAL(r.subject, subject);
	free(subject);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.issuer, CA_NAME));
	CU_ASSERT_STRING_EQUAL(r.reason, "PXE service point media left on a share");
	CU_ASSERT_STRING_EQUAL(r.created_by, ACTOR);
	CU_ASSERT_EQUAL(r.in_store, 1);
	CU_ASSERT(llabs(r.created_at - (int64_t)time(NULL)) < 120);
	sp_block_row_clear(&r);

	/* reversible: unblock by serial ... */
	expect(unblock(s_osd), SP_OK, "unblock osd-media by serial");
	audit_is("unblock", h, "PXE service point media left on a share");
	assert_not_blocked(osd);
	assert_blocked(isv, NULL);
	/* ... and by the thumbprint with spaces, as older Windows shows it */
	fp1(isv, t);
	for (size_t i = 0, o = 0; i < 40; i += 2) {
		spaced[o++] = t[i];
		spaced[o++] = t[i + 1];
		spaced[o++] = i + 2 < 40 ? ' ' : '\0';
	}
	expect(unblock(spaced), SP_OK, "unblock isv-proxy by spaced thumbprint");
	assert_not_blocked(isv);
	after = snapshot();
	CU_ASSERT_EQUAL(after.blocks, before.blocks);
	CU_ASSERT_EQUAL(after.audit, before.audit + 4);

	/* and blocked again after that: nothing of the first block is left */
	expect(add_key(s_osd, "media lost again"), SP_OK, "block again");
	assert_blocked(osd, "media lost again");
	expect(unblock(h), SP_OK, "unblock by SHA-256");
	assert_not_blocked(osd);

	X509_free(osd);
	X509_free(isv);
	X509_free(bystander);
}

/* ----------------------------------------- certificates of another CA */

static void test_block_external_sha256(void)
{
	X509 *x = ext_cert("isv-proxy"), *other = ext_cert("isv-proxy");
	char h[65], colons[100];
	sp_block_row r;
	counts before = snapshot(), after;
	size_t o = 0;

	fp256(x, h);
	/* upper case with colons, as `openssl x509 -fingerprint -sha256` prints it */
	for (size_t i = 0; i < 64; i += 2) {
		if (i)
			colons[o++] = ':';
		colons[o++] = (char)(h[i] >= 'a' ? h[i] - 'a' + 'A' : h[i]);
		colons[o++] = (char)(h[i + 1] >= 'a' ? h[i + 1] - 'a' + 'A' : h[i + 1]);
	}
	colons[o] = '\0';
	assert_not_blocked(x);
	expect(add_key(colons, "proxy of a partner, key leaked"), SP_OK, "block external by SHA-256");
	assert_blocked(x, "proxy of a partner, key leaked");
	assert_not_blocked(other);

	row_of(h, NULL, &r);
	CU_ASSERT_STRING_EQUAL(r.sha256, h);
	CU_ASSERT_STRING_EQUAL(r.sha1, ""); /* not known from a SHA-256 */
	CU_ASSERT_STRING_EQUAL(r.serial, "");
	CU_ASSERT_STRING_EQUAL(r.subject, "");
	CU_ASSERT_EQUAL(r.in_store, 0);
	sp_block_row_clear(&r);
	audit_is("block", h, "proxy of a partner, key leaked");
	after = snapshot();
	CU_ASSERT_EQUAL(after.blocks, before.blocks + 1);
	CU_ASSERT_EQUAL(after.audit, before.audit + 1);

	expect(unblock(colons), SP_OK, "unblock external by SHA-256");
	assert_not_blocked(x);
	audit_is("unblock", h, NULL);
	X509_free(x);
	X509_free(other);
}

static void test_block_external_sha1_thumbprint(void)
{
	X509 *x = ext_cert("osd-media");
	char win[60], t[41], h[65];
	sp_block_row r;

	windows_thumbprint(x, win);
	fp1(x, t);
	fp256(x, h);
	expect(add_key(win, "boot media of a contractor"), SP_OK, "block by Windows thumbprint");
	/* the row has only the SHA-1; the check computes both */
	row_of(NULL, t, &r);
	CU_ASSERT_STRING_EQUAL(r.sha256, "");
	CU_ASSERT_STRING_EQUAL(r.sha1, t);
	CU_ASSERT_EQUAL(r.in_store, 0);
	sp_block_row_clear(&r);
	audit_is("block", t, "boot media of a contractor");
	assert_blocked(x, "boot media of a contractor"); /* and the message names the SHA-256 */

	/* the same certificate by its SHA-256 or as a file: already blocked */
	expect(add_cert(x, "again"), SP_ERR_EXISTS, "block by certificate after by thumbprint");
	expect(unblock(h), SP_ERR_NOTFOUND, "unblock by a SHA-256 the row does not carry");
	expect(unblock(t), SP_OK, "unblock by thumbprint");
	assert_not_blocked(x);
	X509_free(x);
}

static void test_block_external_cert(void)
{
	X509 *x = ext_cert("pxe");
	char h[65], t[41], s[41], *subject, *issuer;
	sp_block_row r;

	fp256(x, h);
	fp1(x, t);
	serial(x, s);
	expect(add_cert(x, "PXE certificate of the old site"), SP_OK, "block external certificate");
	assert_blocked(x, "PXE certificate of the old site");
	row_of(h, t, &r);
	CU_ASSERT_STRING_EQUAL(r.sha256, h);
	CU_ASSERT_STRING_EQUAL(r.sha1, t);
	CU_ASSERT_STRING_EQUAL(r.serial, s);
	subject = sp_name_oneline(X509_get_subject_name(x));
	issuer = sp_name_oneline(X509_get_subject_name(fx.ext_ca));
	CU_ASSERT_STRING_EQUAL(r.subject, subject);
	CU_ASSERT_STRING_EQUAL(r.issuer, issuer);
	CU_ASSERT_EQUAL(r.in_store, 0);
	free(subject);
	free(issuer);
	sp_block_row_clear(&r);
	/* removable by either fingerprint */
	expect(unblock(t), SP_OK, "unblock by SHA-1");
	assert_not_blocked(x);
	X509_free(x);
}

/* A certificate of this CA given as a file: in_store is set. */
static void test_block_own_cert_as_file(void)
{
	X509 *x = issue("isv-proxy", "isv-file");
	char h[65], s[41];
	sp_block_row r;

	fp256(x, h);
	serial(x, s);
	expect(add_cert(x, "ISV proxy decommissioned"), SP_OK, "block own certificate from file");
	row_of(h, NULL, &r);
	CU_ASSERT_EQUAL(r.in_store, 1);
	CU_ASSERT_STRING_EQUAL(r.serial, s);
	sp_block_row_clear(&r);
	assert_blocked(x, "decommissioned");
	expect(unblock(s), SP_OK, "unblock by serial");
	assert_not_blocked(x);
	X509_free(x);
}

/* ---------------------------------------------------------- refusals */

static void test_block_duplicates(void)
{
	X509 *own = issue("osd-media", "dup");
	X509 *ext = ext_cert("dup");
	char s[41], h[65], t[41], eh[65], et[41], win[60];
	counts before, after;

	serial(own, s);
	fp256(own, h);
	fp1(own, t);
	fp256(ext, eh);
	fp1(ext, et);
	windows_thumbprint(ext, win);
	expect(add_key(s, "first"), SP_OK, "first block");
	expect(add_cert(ext, "first"), SP_OK, "first block of external");
	before = snapshot();

	sp_clear_error();
	expect(add_key(s, "second"), SP_ERR_EXISTS, "again by serial");
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "already blocked"));
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "first")); /* names the standing reason */
	expect(add_key(h, "second"), SP_ERR_EXISTS, "again by SHA-256");
	expect(add_key(t, "second"), SP_ERR_EXISTS, "again by SHA-1");
	expect(add_cert(own, "second"), SP_ERR_EXISTS, "again by certificate");
	expect(add_key(eh, "second"), SP_ERR_EXISTS, "external again by SHA-256");
	expect(add_key(win, "second"), SP_ERR_EXISTS, "external again by thumbprint");
	expect(add_cert(ext, "second"), SP_ERR_EXISTS, "external again by certificate");
	after = snapshot();
	CU_ASSERT_EQUAL(after.blocks, before.blocks);
	CU_ASSERT_EQUAL(after.audit, before.audit);

	expect(unblock(s), SP_OK, "unblock");
	expect(unblock(s), SP_ERR_NOTFOUND, "unblock twice");
	expect(unblock(eh), SP_OK, "unblock external");
	expect(unblock(et), SP_ERR_NOTFOUND, "unblock external twice");
	X509_free(own);
	X509_free(ext);
}

static void test_block_bad_input(void)
{
	X509 *x = issue("osd-media", "bad-input");
	X509 *ext = ext_cert("bad-input");
	char s[41], long_reason[300], ok256[65], own_ca[65], own_ca_serial[41];
	counts before = snapshot(), after;
	static const char *const bad_reasons[] = {
		"", "   ", "tab\there", "new\nline", "caf\xc3\xa9", "del\x7f", "bell\a",
	};
	static const struct {
		const char *key;
		sp_err want;
	} bad_keys[] = {
		{"", SP_ERR_INPUT},
		{"not hex", SP_ERR_INPUT},
		{"0x12AB", SP_ERR_INPUT},
		{"12-34", SP_ERR_INPUT},
		{"1234", SP_ERR_NOTFOUND},     /* no such serial, and not a fingerprint */
		{"ABCDEF0123456789ABCDEF0123456789ABCDEF0", SP_ERR_NOTFOUND}, /* 39 */
		{"ABCDEF0123456789ABCDEF0123456789ABCDEF012", SP_ERR_NOTFOUND}, /* 41 */
		{"abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678", SP_ERR_NOTFOUND}, /* 63 */
		{"abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567890", SP_ERR_INPUT}, /* 65 */
	};

	serial(x, s);
	fp256(ext, ok256);
	memset(long_reason, 'r', sizeof long_reason);
	long_reason[SP_BLOCK_MAX_REASON + 1] = '\0';

	for (size_t i = 0; i < sizeof bad_reasons / sizeof bad_reasons[0]; i++) {
		expect(add_key(s, bad_reasons[i]), SP_ERR_USAGE, "bad reason (key)");
		expect(add_cert(ext, bad_reasons[i]), SP_ERR_USAGE, "bad reason (cert)");
	}
	expect(add_key(s, NULL), SP_ERR_USAGE, "no reason");
	expect(add_key(s, long_reason), SP_ERR_USAGE, "257-character reason");
	expect(add_cert(ext, long_reason), SP_ERR_USAGE, "257-character reason (cert)");
	for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
		sp_clear_error();
		expect(add_key(bad_keys[i].key, "a fine reason"), bad_keys[i].want, bad_keys[i].key);
		if (bad_keys[i].want == SP_ERR_NOTFOUND)
			CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "give its SHA-256 fingerprint, SHA-1 thumbprint, or the certificate file"));
	}
	expect(add_key(NULL, "a fine reason"), SP_ERR_INPUT, "no key");
	/* no actor, no audit row, no block */
	CU_ASSERT_FATAL(sp_store_begin(st()) == SP_OK);
	expect(in_txn_rc(sp_block_add_key(ca(), s, "a fine reason", NULL)), SP_ERR_USAGE, "no actor");
	CU_ASSERT_FATAL(sp_store_begin(st()) == SP_OK);
	expect(in_txn_rc(sp_block_add_cert(ca(), NULL, "a fine reason", ACTOR)), SP_ERR_USAGE, "no certificate");
	/* the CA's own certificate, however named, is not blocked */
	fp256(ca()->cert, own_ca);
	serial(ca()->cert, own_ca_serial);
	expect(add_key(own_ca, "a fine reason"), SP_ERR_POLICY, "own CA certificate by SHA-256");
	expect(add_key(own_ca_serial, "a fine reason"), SP_ERR_POLICY, "own CA certificate by serial");
	expect(add_cert(ca()->cert, "a fine reason"), SP_ERR_POLICY, "own CA certificate as file");
	/* removing what is not blocked */
	expect(unblock(s), SP_ERR_NOTFOUND, "unblock not blocked (serial)");
	expect(unblock(ok256), SP_ERR_NOTFOUND, "unblock not blocked (sha256)");
	expect(unblock("zz"), SP_ERR_INPUT, "unblock garbage");

	after = snapshot();
	CU_ASSERT_EQUAL(after.blocks, before.blocks);
	CU_ASSERT_EQUAL(after.audit, before.audit);
	assert_not_blocked(x);
	assert_not_blocked(ext);

	/* the longest reason that is allowed */
	long_reason[SP_BLOCK_MAX_REASON] = '\0';
	expect(add_key(s, long_reason), SP_OK, "256-character reason");
	assert_blocked(x, long_reason);
	expect(unblock(s), SP_OK, "unblock");
	X509_free(x);
	X509_free(ext);
}

/* ------------------------------------------------------------- export */

typedef struct {
	sp_block_row rows[256];
	char *reasons[256];
	char serials[256][41];
	int n;
} row_set;

static int collect_cb(const sp_block_row *r, void *arg)
{
	row_set *s = arg;
	if (s->n >= 256)
		return 1;
	s->rows[s->n] = *r;
	snprintf(s->serials[s->n], 41, "%s", r->serial ? r->serial : "");
	s->reasons[s->n] = strdup(r->reason ? r->reason : "");
	s->rows[s->n].serial = s->serials[s->n];
	s->rows[s->n].reason = s->reasons[s->n];
	s->rows[s->n].subject = s->rows[s->n].issuer = s->rows[s->n].created_by = NULL;
	s->n++;
	return 0;
}

static void row_set_free(row_set *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->reasons[i]);
	s->n = 0;
}

static void export_ok(uint8_t **der, size_t *len, int64_t now)
{
	sp_err rc = sp_block_export(ca(), now, der, len);
	if (rc != SP_OK)
		printf("\n    export: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_FATAL(*der && *len > 0);
}

static void add_round_trip_entries(X509 **own, X509 **e1, X509 **e2)
{
	char s[41], win[60], h[65];
	*own = issue("osd-media", "export");
	*e1 = ext_cert("export-sha1");
	*e2 = ext_cert("export-sha256");
	serial(*own, s);
	windows_thumbprint(*e1, win);
	fp256(*e2, h);
	expect(add_key(s, "boot media lost: 100% sure, see ticket #42"), SP_OK, "export entry 1");
	expect(add_key(win, "contractor's PXE media"), SP_OK, "export entry 2");
	expect(add_key(h, "x"), SP_OK, "export entry 3");
}

static void remove_round_trip_entries(X509 *own, X509 *e1, X509 *e2)
{
	char k[65];
	serial(own, k);
	expect(unblock(k), SP_OK, "cleanup 1");
	fp1(e1, k);
	expect(unblock(k), SP_OK, "cleanup 2");
	fp256(e2, k);
	expect(unblock(k), SP_OK, "cleanup 3");
	X509_free(own);
	X509_free(e1);
	X509_free(e2);
}

static void test_export_round_trip(void)
{
	X509 *own, *e1, *e2;
	row_set stored, verified;
	uint8_t *der = NULL;
	size_t len = 0;
	int64_t now = (int64_t)time(NULL), gen = 0;
	sp_err rc;

	memset(&stored, 0, sizeof stored);
	memset(&verified, 0, sizeof verified);
	add_round_trip_entries(&own, &e1, &e2);
	CU_ASSERT_FATAL(sp_store_block_list(st(), collect_cb, &stored) == SP_OK);
	CU_ASSERT_FATAL(stored.n >= 3);
	export_ok(&der, &len, now);

	rc = sp_block_verify(ca()->cert, der, len, &gen, collect_cb, &verified);
	if (rc != SP_OK)
		printf("\n    verify: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_EQUAL(gen, now);
	CU_ASSERT_EQUAL_FATAL(verified.n, stored.n);
	for (int i = 0; i < stored.n; i++) {
		CU_ASSERT_STRING_EQUAL(verified.rows[i].sha256, stored.rows[i].sha256);
		CU_ASSERT_STRING_EQUAL(verified.rows[i].sha1, stored.rows[i].sha1);
		CU_ASSERT_STRING_EQUAL(verified.rows[i].serial, stored.rows[i].serial);
		CU_ASSERT_STRING_EQUAL(verified.rows[i].reason, stored.rows[i].reason);
		CU_ASSERT_EQUAL(verified.rows[i].created_at, stored.rows[i].created_at);
	}
	/* no callback: verification alone */
	CU_ASSERT_EQUAL(sp_block_verify(ca()->cert, der, len, NULL, NULL, NULL), SP_OK);

	OPENSSL_free(der);
	row_set_free(&stored);
	row_set_free(&verified);
	remove_round_trip_entries(own, e1, e2);
}

/* The text inside a CMS export (not verified: for the tests to reuse). */
static char *cms_text(const uint8_t *der, size_t len, size_t *n)
{
	const unsigned char *p = der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	ASN1_OCTET_STRING **c;
	char *t;
	CU_ASSERT_FATAL(cms != NULL);
	c = CMS_get0_content(cms);
	CU_ASSERT_FATAL(c && *c);
	*n = (size_t)ASN1_STRING_length(*c);
	CU_ASSERT_FATAL((t = malloc(*n + 1)) != NULL);
	memcpy(t, ASN1_STRING_get0_data(*c), *n);
	t[*n] = '\0';
	CMS_ContentInfo_free(cms);
	return t;
}

/* Sign `text` with any certificate and key, as an attacker could. */
static uint8_t *sign_with(X509 *cert, EVP_PKEY *key, const char *text, size_t n, size_t *len)
{
	BIO *in = BIO_new_mem_buf(text, (int)n);
	CMS_ContentInfo *cms;
	unsigned char *der = NULL;
	int l;
	CU_ASSERT_FATAL(in != NULL);
	CU_ASSERT_FATAL((cms = CMS_sign(cert, key, NULL, in, CMS_BINARY)) != NULL);
	CU_ASSERT_FATAL((l = i2d_CMS_ContentInfo(cms, &der)) > 0);
	*len = (size_t)l;
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return der;
}

/* Offset of needle in hay; 0 if absent (never at 0 in a DER file). */
static size_t find_bytes(const uint8_t *hay, size_t hn, const void *needle, size_t nn)
{
	for (size_t i = 0; nn <= hn && i <= hn - nn; i++)
		if (!memcmp(hay + i, needle, nn))
			return i;
	return 0;
}

static int calls_cb(const sp_block_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static void refused(const uint8_t *der, size_t len, X509 *trust, sp_err want, const char *what)
{
	int calls = 0;
	int64_t gen = -1;
	sp_err rc;
	sp_clear_error();
	rc = sp_block_verify(trust, der, len, &gen, calls_cb, &calls);
	expect(rc, want, what);
	CU_ASSERT_EQUAL(calls, 0);
	CU_ASSERT_EQUAL(gen, -1);
	/* one line, saying what is wrong */
	CU_ASSERT(sp_last_error()[0] != '\0');
	CU_ASSERT_PTR_NULL(strchr(sp_last_error(), '\n'));
}

static void test_export_tampered(void)
{
	X509 *own, *e1, *e2;
	uint8_t *der = NULL, *copy, *other = NULL;
	size_t len = 0, olen = 0, tn, i;
	char *text;
	X509 *leaf;

	add_round_trip_entries(&own, &e1, &e2);
	export_ok(&der, &len, (int64_t)time(NULL));
	CU_ASSERT_FATAL((copy = malloc(len + 1)) != NULL);
	text = cms_text(der, len, &tn);

	/* a byte of the content: the digest no longer matches */
	i = find_bytes(der, len, "count ", 6);
	CU_ASSERT_FATAL(i > 0 && i + 6 < len);
	memcpy(copy, der, len);
	copy[i + 6] ^= 0x01;
	refused(copy, len, ca()->cert, SP_ERR_CRYPTO, "flipped byte in the content");
	/* a byte in the middle of the file: the structure or the signature breaks */
	memcpy(copy, der, len);
	copy[len / 2] ^= 0x20;
	{
		int calls = 0;
		sp_err rc = sp_block_verify(ca()->cert, copy, len, NULL, calls_cb, &calls);
		if (rc != SP_ERR_CRYPTO && rc != SP_ERR_INPUT)
			printf("\n    middle flip: %s (%s)", sp_err_name(rc), sp_last_error());
		CU_ASSERT(rc == SP_ERR_CRYPTO || rc == SP_ERR_INPUT);
		CU_ASSERT_EQUAL(calls, 0);
	}
	/* every single byte, one at a time: never a different list accepted.
	 * CMS leaves two envelope bytes unsigned (the SignedData and
	 * SignerInfo version numbers): a flip there may pass, but only with the
	 * very same entries. Within the content and the signature value every
	 * flip is refused. */
	{
		row_set genuine, got;
		size_t content_at = find_bytes(der, len, text, tn);
		int accepted = 0;
		memset(&genuine, 0, sizeof genuine);
		CU_ASSERT_FATAL(content_at > 0);
		CU_ASSERT_FATAL(sp_block_verify(ca()->cert, der, len, NULL, collect_cb, &genuine) == SP_OK);
		for (i = 0; i < len; i++) {
			sp_err rc;
			memset(&got, 0, sizeof got);
			memcpy(copy, der, len);
			copy[i] ^= 0x01;
			rc = sp_block_verify(ca()->cert, copy, len, NULL, collect_cb, &got);
			if (rc == SP_OK) {
				int same = got.n == genuine.n;
				for (int k = 0; same && k < got.n; k++)
					same = !strcmp(got.rows[k].sha256, genuine.rows[k].sha256) &&
					       !strcmp(got.rows[k].sha1, genuine.rows[k].sha1) &&
					       !strcmp(got.rows[k].reason, genuine.rows[k].reason);
				accepted++;
				if (!same || (i >= content_at && i < content_at + tn) || i >= len - 8) {
					printf("\n    flipping byte %zu of %zu was accepted", i, len);
					CU_FAIL("tampered export accepted");
				}
			}
			row_set_free(&got);
		}
		if (accepted > 2) {
			printf("\n    %d single-byte flips accepted (unsigned envelope fields)", accepted);
			CU_FAIL("too many unsigned bytes");
		}
		row_set_free(&genuine);
	}
	/* the last byte (the signature value) */
	memcpy(copy, der, len);
	copy[len - 1] ^= 0x01;
	refused(copy, len, ca()->cert, SP_ERR_CRYPTO, "flipped last byte");
	/* truncated */
	refused(der, len - 1, ca()->cert, SP_ERR_INPUT, "truncated by one byte");
	refused(der, len / 2, ca()->cert, SP_ERR_INPUT, "truncated to half");
	refused(der, 1, ca()->cert, SP_ERR_INPUT, "one byte");
	refused(der, 0, ca()->cert, SP_ERR_INPUT, "empty");
	/* a byte appended */
	memcpy(copy, der, len);
	copy[len] = 0x00;
	refused(copy, len + 1, ca()->cert, SP_ERR_INPUT, "byte appended");

	/* the same content re-signed by another CA (its self-signed certificate
	 * embedded) */
	ext_ca();
	other = sign_with(fx.ext_ca, fx.ext_key, text, tn, &olen);
	refused(other, olen, ca()->cert, SP_ERR_CRYPTO, "re-signed by another CA");
	OPENSSL_free(other);
	/* ... and by a certificate this CA issued: it chains to the CA, but its
	 * holder is not the CA */
	leaf = issue("isv-proxy", "resign");
	other = sign_with(leaf, fx.leaf_key, text, tn, &olen);
	refused(other, olen, ca()->cert, SP_ERR_CRYPTO, "re-signed by a certificate of this CA");
	OPENSSL_free(other);
	X509_free(leaf);
	/* the genuine export against another CA's certificate */
	refused(der, len, fx.ext_ca, SP_ERR_CRYPTO, "verified against another CA");

	free(text);
	free(copy);
	OPENSSL_free(der);
	remove_round_trip_entries(own, e1, e2);
}

/* ------------------------------------------------- format, strictly */

/* Fixture text with @ISSUER@ / @ISSUER_UPPER@ replaced by this CA's SHA-256. */
static char *fixture(const char *path, size_t *n)
{
	uint8_t *raw = NULL;
	size_t rl = 0, o = 0;
	char h[65], H[65], *out;
	CU_ASSERT_FATAL(sp_file_read(path, 1 << 20, &raw, &rl) == SP_OK);
	fp256(ca()->cert, h);
	for (int i = 0; i < 65; i++)
		H[i] = (char)(h[i] >= 'a' && h[i] <= 'f' ? h[i] - 'a' + 'A' : h[i]);
	CU_ASSERT_FATAL((out = malloc(rl * 8 + 1)) != NULL);
	for (size_t i = 0; i < rl;) {
		if (rl - i >= 14 && !memcmp(raw + i, "@ISSUER_UPPER@", 14)) {
			memcpy(out + o, H, 64), o += 64, i += 14;
		} else if (rl - i >= 8 && !memcmp(raw + i, "@ISSUER@", 8)) {
			memcpy(out + o, h, 64), o += 64, i += 8;
		} else {
			out[o++] = (char)raw[i++];
		}
	}
	out[o] = '\0';
	*n = o;
	free(raw);
	return out;
}

static int count_lines_cb(const sp_block_row *r, void *arg)
{
	row_set *s = arg;
	return collect_cb(r, s);
}

static void test_export_format_fixtures(void)
{
	const char *dirs[2] = {"blocklist/good", "blocklist/bad"};
	int seen[2] = {0, 0};

	for (int d = 0; d < 2; d++) {
		char dir[4200];
		DIR *dh;
		struct dirent *e;
		snprintf(dir, sizeof dir, "%s", sp_unit_data(dirs[d]));
		CU_ASSERT_PTR_NOT_NULL_FATAL(dh = opendir(dir));
		while ((e = readdir(dh))) {
			char path[8400], *text;
			size_t n, slen = 0;
			uint8_t *signed_der = NULL;
			row_set rows;
			int64_t gen = -1;
			sp_err rc;
			if (!strstr(e->d_name, ".txt"))
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			text = fixture(path, &n);
			memset(&rows, 0, sizeof rows);
			/* signed by the real CA: only the format can be at fault */
			CU_ASSERT_FATAL(sp_block_sign_text(ca(), text, n, 1795000000, &signed_der, &slen) == SP_OK);
			sp_clear_error();
			rc = sp_block_verify(ca()->cert, signed_der, slen, &gen, count_lines_cb, &rows);
			if (d == 0) {
				if (rc != SP_OK)
					printf("\n    good/%s: %s", e->d_name, sp_last_error());
				CU_ASSERT_EQUAL(rc, SP_OK);
				CU_ASSERT_EQUAL(gen, 1795315896); /* 2026-11-22T02:51:36Z */
				if (!strcmp(e->d_name, "three.txt") && rows.n == 3) {
					CU_ASSERT_STRING_EQUAL(rows.rows[0].reason, "OSD boot media lost");
					CU_ASSERT_STRING_EQUAL(rows.rows[0].serial, "5A3C9E01");
					CU_ASSERT_STRING_EQUAL(rows.rows[1].reason, "ISV proxy key on a share, 100% exposed");
					CU_ASSERT_STRING_EQUAL(rows.rows[1].sha256, "");
					CU_ASSERT_STRING_EQUAL(rows.rows[1].serial, "");
					CU_ASSERT_STRING_EQUAL(rows.rows[2].sha1, "");
					CU_ASSERT_EQUAL(rows.rows[2].created_at, 1795305600); /* 2026-11-22T00:00:00Z */
				} else if (!strcmp(e->d_name, "three.txt")) {
					CU_FAIL("three.txt: not three entries");
				}
			} else {
				if (rc != SP_ERR_INPUT)
					printf("\n    bad/%s: expected bad input, got %s (%s)", e->d_name, sp_err_name(rc),
					       sp_last_error());
				CU_ASSERT_EQUAL(rc, SP_ERR_INPUT);
				CU_ASSERT_EQUAL(rows.n, 0); /* nothing handed out from a bad list */
				CU_ASSERT_EQUAL(gen, -1);
			}
			seen[d]++;
			row_set_free(&rows);
			OPENSSL_free(signed_der);
			free(text);
		}
		closedir(dh);
	}
	CU_ASSERT(seen[0] >= 3);
	CU_ASSERT(seen[1] >= 40);
}

/* The callback decides when to stop; its value comes back. */
static int stop_cb(const sp_block_row *r, void *arg)
{
	(void)r;
	return ++*(int *)arg == 2 ? (int)SP_ERR_POLICY : 0;
}

static void test_verify_callback_stop(void)
{
	char path[4200], *text;
	size_t n, slen = 0;
	uint8_t *der = NULL;
	int calls = 0;

	snprintf(path, sizeof path, "%s", sp_unit_data("blocklist/good/three.txt"));
	text = fixture(path, &n);
	CU_ASSERT_FATAL(sp_block_sign_text(ca(), text, n, 1795000000, &der, &slen) == SP_OK);
	CU_ASSERT_EQUAL(sp_block_verify(ca()->cert, der, slen, NULL, stop_cb, &calls), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(calls, 2);
	OPENSSL_free(der);
	free(text);
}

static void test_export_needs_key(void)
{
	sp_ca *ro = NULL;
	uint8_t *der = (uint8_t *)"x";
	size_t len = 1;
	(void)ca();
	CU_ASSERT_FATAL(sp_ca_open(fx.home, NULL, &ro) == SP_OK);
	expect(sp_block_export(ro, (int64_t)time(NULL), &der, &len), SP_ERR_USAGE, "export without the key");
	CU_ASSERT_PTR_NULL(der);
	CU_ASSERT_EQUAL(len, 0);
	/* the check needs no key and no transaction */
	{
		X509 *x = ext_cert("ro");
		CU_ASSERT_EQUAL(sp_block_check_cert(sp_ca_get0_store(ro), x), SP_OK);
		X509_free(x);
	}
	sp_ca_close(ro);
}

/* Run a shell command; its stdout and exit code. */
static int run(const char *cmd, char **out, size_t *n)
{
	FILE *p = popen(cmd, "r");
	size_t cap = 1 << 16, len = 0, r;
	char *buf = malloc(cap);
	int st;
	CU_ASSERT_FATAL(p && buf);
	while ((r = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += r;
		if (len + 1 >= cap) {
			cap *= 2;
			CU_ASSERT_FATAL((buf = realloc(buf, cap)) != NULL);
		}
	}
	buf[len] = '\0';
	st = pclose(p);
	*out = buf;
	*n = len;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* An intermediate CA under this one: its list verifies with only its own
 * certificate (not self-signed: a partial chain); a sibling's list does not,
 * although both chain to the same root, and the root's certificate does not
 * stand in for the intermediate's. */
static sp_ca *make_sub(const char *name, char *home, size_t homesz)
{
	sp_ca_init_opts o;
	sp_ca *sub = NULL;
	sp_err rc;
	(void)ca();
	snprintf(home, homesz, "%s/sub", sp_unit_tmpdir());
	memset(&o, 0, sizeof o);
	o.name = name;
	o.key_alg = "ec-p256";
	o.days = 300;
	o.parent_home = fx.home;
	o.parent_pass = &fx.pass;
	rc = sp_ca_init(home, &o, &fx.pass);
	if (rc == SP_OK)
		rc = sp_ca_open(home, &fx.pass, &sub);
	if (rc != SP_OK)
		printf("\n    intermediate %s: %s", name, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	return sub;
}

static void test_export_intermediate(void)
{
	char home_a[4200], home_b[4200], cmd[24000], *out;
	sp_ca *a = make_sub("sitepki Block Test Sub A", home_a, sizeof home_a);
	sp_ca *b = make_sub("sitepki Block Test Sub B", home_b, sizeof home_b);
	uint8_t *da = NULL, *db = NULL;
	size_t la = 0, lb = 0, on;
	int64_t gen = 0;
	int code;

	CU_ASSERT_FATAL(sp_block_export(a, 1795315896, &da, &la) == SP_OK);
	CU_ASSERT_FATAL(sp_block_export(b, 1795315896, &db, &lb) == SP_OK);
	expect(sp_block_verify(a->cert, da, la, &gen, NULL, NULL), SP_OK, "intermediate's own list");
	CU_ASSERT_EQUAL(gen, 1795315896);
	refused(db, lb, a->cert, SP_ERR_CRYPTO, "sibling intermediate's list");
	refused(da, la, ca()->cert, SP_ERR_CRYPTO, "intermediate's list against the root");

	/* openssl: the intermediate's certificate alone, as a partial chain */
	{
		char file[4300];
		snprintf(file, sizeof file, "%s/list.p7", home_a);
		CU_ASSERT_FATAL(sp_file_write_atomic(file, da, la, 0644, 0) == SP_OK);
		snprintf(cmd, sizeof cmd,
			 "openssl cms -verify -inform DER -binary -purpose any -partial_chain -nointern -certfile '%s/" SP_CA_CERT
			 "' -CAfile '%s/" SP_CA_CERT "' -in '%s' 2>/dev/null",
			 home_a, home_a, file);
		code = run(cmd, &out, &on);
		CU_ASSERT_EQUAL(code, 0);
		CU_ASSERT(strncmp(out, "sitepki-blocklist 1\n", 20) == 0);
		free(out);
		/* the sibling's certificate does not verify A's list */
		snprintf(cmd, sizeof cmd,
			 "openssl cms -verify -inform DER -binary -purpose any -partial_chain -nointern -certfile '%s/" SP_CA_CERT
			 "' -CAfile '%s/" SP_CA_CERT "' -in '%s' >/dev/null 2>&1",
			 home_b, home_b, file);
		code = run(cmd, &out, &on);
		CU_ASSERT_NOT_EQUAL(code, 0);
		free(out);
	}
	OPENSSL_free(da);
	OPENSSL_free(db);
	sp_ca_close(a);
	sp_ca_close(b);
}

/* ------------------------------------------------------- openssl cms */

/* The command docs/blocklist.md gives site systems, CA file substituted. */
#define OPENSSL_VERIFY                                                                                      \
	"openssl cms -verify -inform DER -binary -purpose any -partial_chain -nointern -certfile '%s' -CAfile '%s' " \
	"-in '%s'"

static void test_export_openssl_cms(void)
{
	X509 *own, *e1, *e2, *leaf;
	uint8_t *der = NULL, *forged;
	size_t len = 0, tn, on, flen = 0;
	char *text, *out, dir[4200], file[4300], bad[4300], forged_file[4300], cmd[20000], cafile[4300];
	int code;

	add_round_trip_entries(&own, &e1, &e2);
	export_ok(&der, &len, (int64_t)time(NULL));
	text = cms_text(der, len, &tn);
	snprintf(dir, sizeof dir, "%s", sp_unit_tmpdir());
	snprintf(file, sizeof file, "%s/blocklist.p7", dir);
	snprintf(bad, sizeof bad, "%s/tampered.p7", dir);
	snprintf(forged_file, sizeof forged_file, "%s/forged.p7", dir);
	snprintf(cafile, sizeof cafile, "%s/" SP_CA_CERT, fx.home);
	CU_ASSERT_FATAL(sp_file_write_atomic(file, der, len, 0644, 0) == SP_OK);
	der[len - 1] ^= 0x01;
	CU_ASSERT_FATAL(sp_file_write_atomic(bad, der, len, 0644, 0) == SP_OK);
	/* the same text signed by the key of a certificate this CA issued
	 * (say a compromised ISV proxy, digitalSignature) */
	leaf = issue("isv-proxy", "forger");
	forged = sign_with(leaf, fx.leaf_key, text, tn, &flen);
	CU_ASSERT_FATAL(sp_file_write_atomic(forged_file, forged, flen, 0644, 0) == SP_OK);

	/* the genuine list: verified, and the text is exactly what was signed */
	snprintf(cmd, sizeof cmd, OPENSSL_VERIFY " 2>/dev/null", cafile, cafile, file);
	code = run(cmd, &out, &on);
	if (code != 0)
		printf("\n    openssl cms -verify exited %d", code);
	CU_ASSERT_EQUAL(code, 0);
	CU_ASSERT_EQUAL(on, tn);
	CU_ASSERT(on == tn && memcmp(out, text, tn) == 0);
	CU_ASSERT(strncmp(out, "sitepki-blocklist 1\nissuer ", 27) == 0);
	free(out);

	/* a flipped signature byte */
	snprintf(cmd, sizeof cmd, OPENSSL_VERIFY " >/dev/null 2>&1", cafile, cafile, bad);
	code = run(cmd, &out, &on);
	CU_ASSERT_NOT_EQUAL(code, 0);
	free(out);

	/* the forgery: refused with -nointern -certfile ca.pem (the signer must
	 * be the CA certificate itself) ... */
	snprintf(cmd, sizeof cmd, OPENSSL_VERIFY " >/dev/null 2>&1", cafile, cafile, forged_file);
	code = run(cmd, &out, &on);
	CU_ASSERT_NOT_EQUAL(code, 0);
	free(out);
	/* ... which is why the documentation insists on them: with -CAfile
	 * alone OpenSSL accepts any signer that chains to the CA. */
	snprintf(cmd, sizeof cmd, "openssl cms -verify -inform DER -binary -purpose any -CAfile '%s' -in '%s' >/dev/null 2>&1",
		 cafile, forged_file);
	code = run(cmd, &out, &on);
	CU_ASSERT_EQUAL(code, 0);
	free(out);
	/* sitepki's own verifier refuses it too */
	refused(forged, flen, ca()->cert, SP_ERR_CRYPTO, "forged by a certificate of this CA");

	OPENSSL_free(forged);
	X509_free(leaf);
	free(text);
	OPENSSL_free(der);
	remove_round_trip_entries(own, e1, e2);
}

static const sp_unit_test block_tests[] = {
	{"issued: osd-media and isv-proxy by serial, unblock", test_block_issued_by_serial},
	{"issued: certificate given as a file", test_block_own_cert_as_file},
	{"external: by SHA-256", test_block_external_sha256},
	{"external: by Windows SHA-1 thumbprint", test_block_external_sha1_thumbprint},
	{"external: by certificate", test_block_external_cert},
	{"duplicates refused", test_block_duplicates},
	{"bad keys and reasons refused, nothing written", test_block_bad_input},
	{NULL, NULL},
};

static const sp_unit_test export_tests[] = {
	{"export -> verify round trip", test_export_round_trip},
	{"tampered exports refused", test_export_tampered},
	{"format fixtures (good/bad)", test_export_format_fixtures},
	{"callback stop", test_verify_callback_stop},
	{"export needs the key; check does not", test_export_needs_key},
	{"intermediate CA: own certificate only, not a sibling's", test_export_intermediate},
	{"openssl cms -verify accepts the export", test_export_openssl_cms},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"block", block_tests},
	{"block export", export_tests},
	{NULL, NULL},
};
