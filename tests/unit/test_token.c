/*
 * test_token.c - one-time enrollment tokens (enroll/token.c): creation,
 * the check an EST request passes (credentials, state, template, names),
 * the claim and the spend or hand-back.
 *
 * CSRs are built here with OpenSSL and parsed with sp_req_parse, as the
 * service receives them. Expected hashes come from OpenSSL's SHA256(), and
 * "only the hash is stored" is judged on the bytes of the store's files.
 */
#include "unit.h"

#include "enroll/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOUR ((int64_t)3600)

/* ------------------------------------------------------------- helpers */

static EVP_PKEY *key(void)
{
	static EVP_PKEY *k;
	if (!k) {
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	}
	return k;
}

static void free_key(void)
{
	EVP_PKEY_free(key());
}

static sp_store *new_store(char *path, size_t pathsz)
{
	static int n;
	sp_store *st = NULL;
	int w = snprintf(path, pathsz, "%s/token%d.db", sp_unit_tmpdir(), n++);
	CU_ASSERT_FATAL(w > 0 && (size_t)w < pathsz);
	CU_ASSERT_EQUAL_FATAL(sp_store_open(path, 1, &st), SP_OK);
	return st;
}

static int msg_has(const char *needle)
{
	if (strstr(sp_last_error(), needle))
		return 1;
	fprintf(stderr, "message '%s' lacks '%s'\n", sp_last_error(), needle);
	return 0;
}

typedef struct {
	const char *subj[6][2]; /* {sn, value} in X.509 order (least specific first), until sn == NULL */
	const char *dns[6];
	const char *upn[2];
} csr_spec;

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

/* Build, sign, encode and parse back (sp_req_parse) a CSR. */
static X509_REQ *csr(const csr_spec *c)
{
	X509_REQ *req = X509_REQ_new(), *parsed = NULL;
	X509_NAME *name = X509_NAME_new();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	unsigned char *der = NULL;
	int len;

	CU_ASSERT_FATAL(req && name && gens);
	for (int i = 0; i < 6 && c->subj[i][0]; i++)
		CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(name, c->subj[i][0], MBSTRING_UTF8,
							   (const unsigned char *)c->subj[i][1], -1, -1, 0));
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, name));
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, key()));
	for (int i = 0; i < 6 && c->dns[i]; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		CU_ASSERT_FATAL(g && s && ASN1_STRING_set(s, c->dns[i], (int)strlen(c->dns[i])));
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, g));
	}
	for (int i = 0; i < 2 && c->upn[i]; i++)
		CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, gn_upn(c->upn[i])));
	if (sk_GENERAL_NAME_num(gens) > 0) {
		CU_ASSERT_FATAL(X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND) == 1);
		CU_ASSERT_FATAL(X509_REQ_add_extensions(req, exts));
	}
	CU_ASSERT_FATAL(X509_REQ_sign(req, key(), EVP_sha256()) > 0);
	CU_ASSERT_FATAL((len = i2d_X509_REQ(req, &der)) > 0);
	CU_ASSERT_EQUAL_FATAL(sp_req_parse(der, (size_t)len, &parsed), SP_OK);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return parsed;
}

/* The CSR that matches the standard token below. */
static const csr_spec PC1 = {
	.subj = {{"O", "Contoso"}, {"CN", "pc1.corp.example"}},
	.dns = {"pc1.corp.example", "www.corp.example"},
};

static const char *const PC1_DNS[] = {"pc1.corp.example", "PC1.corp.example", "www.corp.example"};

static sp_token_spec pc1_spec(void)
{
	sp_token_spec s;
	memset(&s, 0, sizeof s);
	s.template_name = "web-server";
	s.subject = "CN=pc1.corp.example, O=Contoso";
	s.dns = PC1_DNS;
	s.n_dns = 3;
	s.ttl_seconds = HOUR;
	return s;
}

typedef struct {
	int64_t id;
	char user[32];
	char *secret;
	int64_t expires_at;
} token;

static void token_make(sp_store *st, const sp_token_spec *spec, token *t)
{
	sp_token_row row;
	sp_err rc;

	memset(t, 0, sizeof *t);
	rc = sp_token_create(st, spec, "cli:unit", &t->id, &t->secret);
	if (rc != SP_OK)
		fprintf(stderr, "sp_token_create: %s\n", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_FATAL(t->id > 0 && t->secret != NULL);
	snprintf(t->user, sizeof t->user, "%lld", (long long)t->id);
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, t->id, &row), SP_OK);
	t->expires_at = row.expires_at;
	sp_token_row_clear(&row);
}

static void token_free(token *t)
{
	if (t->secret) {
		OPENSSL_cleanse(t->secret, strlen(t->secret));
		free(t->secret);
	}
	t->secret = NULL;
}

static int state_of(sp_store *st, int64_t id)
{
	sp_token_row row;
	int s;
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, id, &row), SP_OK);
	s = row.state;
	sp_token_row_clear(&row);
	return s;
}

/* sp_token_check expecting a refusal: the code, a message containing
 * `needle` and never the secret, *out zeroed, the token's state unchanged. */
static void check_refused(sp_store *st, const token *t, const char *user, const char *pass, const char *tpl,
			  X509_REQ *req, int64_t now, sp_err want, const char *needle)
{
	sp_token_row out;
	int before = state_of(st, t->id);
	sp_err rc;

	memset(&out, 0x5a, sizeof out);
	sp_clear_error();
	rc = sp_token_check(st, user, pass, tpl, req, now, &out);
	if (rc != want)
		fprintf(stderr, "sp_token_check: expected %s, got %s (%s)\n", sp_err_name(want), sp_err_name(rc),
			sp_last_error());
	CU_ASSERT_EQUAL(rc, want);
	CU_ASSERT(msg_has(needle));
	CU_ASSERT_PTR_NULL(strstr(sp_last_error(), t->secret));
	CU_ASSERT_PTR_NULL(strchr(sp_last_error(), '\n'));
	CU_ASSERT_EQUAL(out.id, 0);
	CU_ASSERT_PTR_NULL(out.template_name);
	CU_ASSERT_EQUAL(state_of(st, t->id), before);
	if (rc == SP_OK)
		sp_token_row_clear(&out);
}

static void check_ok(sp_store *st, const token *t, const char *tpl, X509_REQ *req, int64_t now)
{
	sp_token_row out;
	sp_err rc = sp_token_check(st, t->user, t->secret, tpl, req, now, &out);
	if (rc != SP_OK)
		fprintf(stderr, "sp_token_check: %s\n", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_EQUAL(out.id, t->id);
	CU_ASSERT_EQUAL(out.state, SP_TOKEN_CLAIMED);
	sp_token_row_clear(&out);
	CU_ASSERT_EQUAL(state_of(st, t->id), SP_TOKEN_CLAIMED);
}

/* Does `needle` occur anywhere in the bytes of file `path`? (-1 if the
 * file cannot be read.) */
static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	size_t n = strlen(needle), len = 0, cap = 0;
	char *buf = NULL;
	int found = 0;

	if (!f)
		return -1;
	for (;;) {
		if (len == cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);
			CU_ASSERT_PTR_NOT_NULL_FATAL(nb);
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);
	for (size_t i = 0; !found && len >= n && i <= len - n; i++)
		found = memcmp(buf + i, needle, n) == 0;
	free(buf);
	return found;
}

/* -------------------------------------------------------------- tests */

static void test_create_and_check(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	X509_REQ *req = csr(&PC1);
	sp_token_row row, out;
	token t;
	int64_t before = (int64_t)time(NULL);

	token_make(st, &spec, &t);
	/* what is bound: the subject in its one-line form, the DNS names
	 * checked and merged case-insensitively */
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, t.id, &row), SP_OK);
	CU_ASSERT_STRING_EQUAL(row.template_name, "web-server");
	CU_ASSERT_STRING_EQUAL(row.subject, "CN=pc1.corp.example,O=Contoso");
	CU_ASSERT_STRING_EQUAL(row.dns, "pc1.corp.example,www.corp.example");
	CU_ASSERT_STRING_EQUAL(row.upn, "");
	CU_ASSERT_STRING_EQUAL(row.created_by, "cli:unit");
	CU_ASSERT_EQUAL(row.state, SP_TOKEN_UNUSED);
	CU_ASSERT(row.created_at >= before && row.created_at <= before + 5);
	CU_ASSERT_EQUAL(row.expires_at, row.created_at + HOUR);
	sp_token_row_clear(&row);

	/* the right secret: OK, the row with its names, claimed */
	CU_ASSERT_EQUAL_FATAL(sp_token_check(st, t.user, t.secret, "web-server", req, (int64_t)time(NULL), &out), SP_OK);
	CU_ASSERT_EQUAL(out.id, t.id);
	CU_ASSERT_STRING_EQUAL(out.template_name, "web-server");
	CU_ASSERT_STRING_EQUAL(out.subject, "CN=pc1.corp.example,O=Contoso");
	CU_ASSERT_STRING_EQUAL(out.dns, "pc1.corp.example,www.corp.example");
	CU_ASSERT_STRING_EQUAL(out.upn, "");
	CU_ASSERT_EQUAL(out.state, SP_TOKEN_CLAIMED);
	sp_token_row_clear(&out);
	CU_ASSERT_EQUAL(state_of(st, t.id), SP_TOKEN_CLAIMED);

	/* the signer answered: used, with the serial, audited */
	CU_ASSERT_EQUAL(sp_token_finish(st, t.id, "5E3EA615BAC1F51C91EB6AB72A756CCB", (int64_t)time(NULL)), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, t.id, &row), SP_OK);
	CU_ASSERT_EQUAL(row.state, SP_TOKEN_USED);
	CU_ASSERT_STRING_EQUAL(row.cert_serial, "5E3EA615BAC1F51C91EB6AB72A756CCB");
	CU_ASSERT(row.used_at >= before);
	sp_token_row_clear(&row);
	{
		int64_t rows = 0, bad = -1;
		CU_ASSERT_EQUAL(sp_store_audit_verify(st, &rows, &bad), SP_OK);
		CU_ASSERT_EQUAL(rows, 2); /* token-create, token-use */
	}
	X509_REQ_free(req);
	token_free(&t);
	sp_store_close(st);
}

static int audit_cb(const sp_audit_row *a, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);
	snprintf(out + n, 4096 - n, "%s|%s|%s|%s\n", a->actor, a->action, a->subject, a->detail);
	return 0;
}

static void test_audit_rows(void)
{
	char path[4096], log[4096] = "", want[128];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	X509_REQ *req = csr(&PC1);
	token t;

	token_make(st, &spec, &t);
	check_ok(st, &t, "web-server", req, (int64_t)time(NULL));
	CU_ASSERT_EQUAL(sp_token_finish(st, t.id, "0A0B", (int64_t)time(NULL)), SP_OK);
	CU_ASSERT_EQUAL(sp_store_audit_list(st, 0, audit_cb, log), SP_OK);
	snprintf(want, sizeof want, "cli:unit|token-create|token:%lld|template=web-server subject=CN=pc1.corp.example,O=Contoso",
		 (long long)t.id);
	CU_ASSERT_PTR_NOT_NULL(strstr(log, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "dns=pc1.corp.example,www.corp.example"));
	CU_ASSERT_PTR_NOT_NULL(strstr(log, "expires="));
	snprintf(want, sizeof want, "est:token:%lld|token-use|token:%lld|serial=0A0B", (long long)t.id, (long long)t.id);
	CU_ASSERT_PTR_NOT_NULL(strstr(log, want));
	CU_ASSERT_PTR_NULL(strstr(log, t.secret));
	if (!strstr(log, want))
		fprintf(stderr, "audit: %s\n", log);
	X509_REQ_free(req);
	token_free(&t);
	sp_store_close(st);
}

static void test_wrong_credentials(void)
{
	char path[4096], bad[64], other[32];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	X509_REQ *req = csr(&PC1);
	int64_t now = (int64_t)time(NULL);
	token t, t2;

	token_make(st, &spec, &t);
	token_make(st, &spec, &t2);
	/* one character off, a prefix, the secret plus one, another token's */
	snprintf(bad, sizeof bad, "%s", t.secret);
	bad[10] = bad[10] == 'A' ? 'B' : 'A';
	check_refused(st, &t, t.user, bad, "web-server", req, now, SP_ERR_AUTH, "wrong enrollment token");
	snprintf(bad, sizeof bad, "%.42s", t.secret);
	check_refused(st, &t, t.user, bad, "web-server", req, now, SP_ERR_AUTH, "wrong enrollment token");
	snprintf(bad, sizeof bad, "%sA", t.secret);
	check_refused(st, &t, t.user, bad, "web-server", req, now, SP_ERR_AUTH, "wrong enrollment token");
	check_refused(st, &t, t.user, t2.secret, "web-server", req, now, SP_ERR_AUTH, "wrong enrollment token");
	check_refused(st, &t, t.user, "", "web-server", req, now, SP_ERR_AUTH, "wrong enrollment token");
	check_refused(st, &t, t.user, NULL, "web-server", req, now, SP_ERR_AUTH, "wrong enrollment token");
	/* the secret's SHA-256 (what a stolen store holds) is not the secret */
	{
		sp_token_row row;
		CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, t.id, &row), SP_OK);
		check_refused(st, &t, t.user, row.secret_sha256, "web-server", req, now, SP_ERR_AUTH,
			      "wrong enrollment token");
		sp_token_row_clear(&row);
	}
	/* unknown ids, and users that are no id: the same answer */
	snprintf(other, sizeof other, "%lld", (long long)(t2.id + 100));
	check_refused(st, &t, other, t.secret, "web-server", req, now, SP_ERR_AUTH, "wrong enrollment token");
	{
		static const char *const users[] = {"", "0", "-1", "+1", "01", " 1", "1 ", "abc", "1x",
						    "99999999999999999999999", NULL};
		for (int i = 0; i < 10; i++)
			check_refused(st, &t, users[i], t.secret, "web-server", req, now, SP_ERR_AUTH,
				      "wrong enrollment token");
	}
	/* and nothing was claimed by any of it */
	CU_ASSERT_EQUAL(state_of(st, t.id), SP_TOKEN_UNUSED);
	CU_ASSERT_EQUAL(state_of(st, t2.id), SP_TOKEN_UNUSED);
	check_ok(st, &t, "web-server", req, now);
	X509_REQ_free(req);
	token_free(&t);
	token_free(&t2);
	sp_store_close(st);
}

static void test_single_use(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	X509_REQ *req = csr(&PC1);
	int64_t now = (int64_t)time(NULL);
	char msg[64];
	token t;

	token_make(st, &spec, &t);
	snprintf(msg, sizeof msg, "enrollment token %lld was already used", (long long)t.id);
	check_ok(st, &t, "web-server", req, now);
	/* claimed by a request in flight: a second request is refused */
	check_refused(st, &t, t.user, t.secret, "web-server", req, now, SP_ERR_AUTH, msg);
	/* the request failed: handed back, usable again */
	CU_ASSERT_EQUAL(sp_token_finish(st, t.id, NULL, now), SP_OK);
	CU_ASSERT_EQUAL(state_of(st, t.id), SP_TOKEN_UNUSED);
	check_ok(st, &t, "web-server", req, now);
	/* spent: refused for good */
	CU_ASSERT_EQUAL(sp_token_finish(st, t.id, "0A0B", now), SP_OK);
	check_refused(st, &t, t.user, t.secret, "web-server", req, now, SP_ERR_AUTH, msg);
	CU_ASSERT_EQUAL(sp_token_finish(st, t.id, NULL, now), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(state_of(st, t.id), SP_TOKEN_USED);
	/* a request queued for approval spends it too ("" serial) */
	{
		token q;
		token_make(st, &spec, &q);
		check_ok(st, &q, "web-server", req, now);
		CU_ASSERT_EQUAL(sp_token_finish(st, q.id, "", now), SP_OK);
		CU_ASSERT_EQUAL(state_of(st, q.id), SP_TOKEN_USED);
		snprintf(msg, sizeof msg, "enrollment token %lld was already used", (long long)q.id);
		check_refused(st, &q, q.user, q.secret, "web-server", req, now, SP_ERR_AUTH, msg);
		token_free(&q);
	}
	X509_REQ_free(req);
	token_free(&t);
	sp_store_close(st);
}

static void test_expired(void)
{
	char path[4096], msg[64];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	X509_REQ *req = csr(&PC1);
	token t;

	spec.ttl_seconds = 60;
	token_make(st, &spec, &t);
	snprintf(msg, sizeof msg, "enrollment token %lld expired", (long long)t.id);
	check_refused(st, &t, t.user, t.secret, "web-server", req, t.expires_at, SP_ERR_AUTH, msg);
	check_refused(st, &t, t.user, t.secret, "web-server", req, t.expires_at + 86400, SP_ERR_AUTH, msg);
	/* a wrong secret is told it is wrong, not that the token expired */
	check_refused(st, &t, t.user, "x", "web-server", req, t.expires_at, SP_ERR_AUTH, "wrong enrollment token");
	check_ok(st, &t, "web-server", req, t.expires_at - 1);
	X509_REQ_free(req);
	token_free(&t);
	sp_store_close(st);
}

static void test_other_template(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	X509_REQ *req = csr(&PC1);
	int64_t now = (int64_t)time(NULL);
	char msg[80];
	token t;

	token_make(st, &spec, &t);
	snprintf(msg, sizeof msg, "enrollment token %lld is for template web-server", (long long)t.id);
	check_refused(st, &t, t.user, t.secret, "client-auth", req, now, SP_ERR_POLICY, msg);
	check_refused(st, &t, t.user, t.secret, "web-server-2", req, now, SP_ERR_POLICY, msg);
	check_refused(st, &t, t.user, t.secret, "", req, now, SP_ERR_POLICY, msg);
	check_ok(st, &t, "web-server", req, now);
	X509_REQ_free(req);
	token_free(&t);
	sp_store_close(st);
}

static void test_names(void)
{
	char path[4096], msg[128];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	int64_t now = (int64_t)time(NULL);
	token t;

	token_make(st, &spec, &t);
	/* a DNS name not bound */
	{
		csr_spec c = PC1;
		X509_REQ *req;
		c.dns[2] = "evil.corp.example";
		req = csr(&c);
		snprintf(msg, sizeof msg, "enrollment token %lld is not for evil.corp.example", (long long)t.id);
		check_refused(st, &t, t.user, t.secret, "web-server", req, now, SP_ERR_POLICY, msg);
		X509_REQ_free(req);
	}
	/* the subject differs: another CN, another O, an extra OU, another
	 * order, none at all */
	{
		static const csr_spec bad[] = {
			{.subj = {{"O", "Contoso"}, {"CN", "pc2.corp.example"}}, .dns = {"pc1.corp.example"}},
			{.subj = {{"O", "Fabrikam"}, {"CN", "pc1.corp.example"}}, .dns = {"pc1.corp.example"}},
			{.subj = {{"O", "Contoso"}, {"OU", "IT"}, {"CN", "pc1.corp.example"}}, .dns = {"pc1.corp.example"}},
			{.subj = {{"CN", "pc1.corp.example"}, {"O", "Contoso"}}, .dns = {"pc1.corp.example"}},
			{.subj = {{"CN", "pc1.corp.example"}}, .dns = {"pc1.corp.example"}},
			{.dns = {"pc1.corp.example"}},
		};
		snprintf(msg, sizeof msg, "enrollment token %lld is not for", (long long)t.id);
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			X509_REQ *req = csr(&bad[i]);
			check_refused(st, &t, t.user, t.secret, "web-server", req, now, SP_ERR_POLICY, msg);
			X509_REQ_free(req);
		}
	}
	/* a UPN when none is bound */
	{
		csr_spec c = PC1;
		X509_REQ *req;
		c.upn[0] = "alice@corp.example";
		req = csr(&c);
		snprintf(msg, sizeof msg, "enrollment token %lld is not for UPN alice@corp.example", (long long)t.id);
		check_refused(st, &t, t.user, t.secret, "web-server", req, now, SP_ERR_POLICY, msg);
		X509_REQ_free(req);
	}
	/* fewer names than bound is fine (the service adds the bound ones),
	 * and DNS names compare without case */
	{
		csr_spec c = {.subj = {{"O", "Contoso"}, {"CN", "pc1.corp.example"}}, .dns = {"WWW.Corp.Example"}};
		X509_REQ *req = csr(&c);
		check_ok(st, &t, "web-server", req, now);
		X509_REQ_free(req);
	}
	token_free(&t);
	sp_store_close(st);
}

/* No subject bound: the CSR's CN must still be one of the bound names. */
static void test_names_without_subject(void)
{
	char path[4096], msg[128];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec;
	int64_t now = (int64_t)time(NULL);
	static const char *const dns[] = {"pc7.corp.example"};
	token t, u;

	memset(&spec, 0, sizeof spec);
	spec.template_name = "client-auth";
	spec.dns = dns;
	spec.n_dns = 1;
	spec.ttl_seconds = HOUR;
	token_make(st, &spec, &t);
	{
		csr_spec c = {.subj = {{"CN", "dc01.corp.example"}}, .dns = {"pc7.corp.example"}};
		X509_REQ *req = csr(&c);
		snprintf(msg, sizeof msg, "enrollment token %lld is not for CN=dc01.corp.example", (long long)t.id);
		check_refused(st, &t, t.user, t.secret, "client-auth", req, now, SP_ERR_POLICY, msg);
		X509_REQ_free(req);
	}
	{
		csr_spec c = {.subj = {{"O", "Contoso"}, {"CN", "PC7.corp.example"}}};
		X509_REQ *req = csr(&c);
		check_ok(st, &t, "client-auth", req, now);
		X509_REQ_free(req);
	}
	/* a UPN-only token: the UPN must match (case-insensitively), and a
	 * CN may be that UPN */
	memset(&spec, 0, sizeof spec);
	spec.template_name = "mobile-device";
	spec.upn = "alice@corp.example";
	spec.ttl_seconds = HOUR;
	token_make(st, &spec, &u);
	{
		csr_spec c = {.subj = {{"CN", "alice@corp.example"}}, .upn = {"bob@corp.example"}};
		X509_REQ *req = csr(&c);
		snprintf(msg, sizeof msg, "enrollment token %lld is not for UPN bob@corp.example", (long long)u.id);
		check_refused(st, &u, u.user, u.secret, "mobile-device", req, now, SP_ERR_POLICY, msg);
		X509_REQ_free(req);
	}
	{
		csr_spec c = {.subj = {{"CN", "alice@corp.example"}}, .dns = {"alice.corp.example"}};
		X509_REQ *req = csr(&c);
		snprintf(msg, sizeof msg, "enrollment token %lld is not for alice.corp.example", (long long)u.id);
		check_refused(st, &u, u.user, u.secret, "mobile-device", req, now, SP_ERR_POLICY, msg);
		X509_REQ_free(req);
	}
	{
		csr_spec c = {.subj = {{"CN", "alice@corp.example"}}, .upn = {"Alice@Corp.Example"}};
		X509_REQ *req = csr(&c);
		check_ok(st, &u, "mobile-device", req, now);
		X509_REQ_free(req);
	}
	token_free(&t);
	token_free(&u);
	sp_store_close(st);
}

static void test_secret_format_and_storage(void)
{
	char path[4096], wal[4200], hash[65], sql[512];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec = pc1_spec();
	unsigned char md[SHA256_DIGEST_LENGTH];
	sp_token_row row;
	token t, t2;

	token_make(st, &spec, &t);
	token_make(st, &spec, &t2);
	/* 43 characters of base64url: 256 bits, no padding */
	CU_ASSERT_EQUAL(strlen(t.secret), SP_TOKEN_SECRET_LEN);
	CU_ASSERT_EQUAL(strlen(t.secret), 43);
	CU_ASSERT_EQUAL(strspn(t.secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	CU_ASSERT_STRING_NOT_EQUAL(t.secret, t2.secret);
	{
		/* 43 base64url characters carry 258 bits: the last one holds 4
		 * bits and 2 zero bits, as an encoding of 32 bytes must */
		const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
		CU_ASSERT_EQUAL((strchr(alpha, t.secret[42]) - alpha) & 3, 0);
	}
	/* the store holds the SHA-256 of the secret ... */
	SHA256((const unsigned char *)t.secret, strlen(t.secret), md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(hash + 2 * i, 3, "%02x", md[i]);
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, t.id, &row), SP_OK);
	CU_ASSERT_STRING_EQUAL(row.secret_sha256, hash);
	sp_token_row_clear(&row);
	sp_store_close(st);

	/* ... and the secret nowhere: not in a column (read with sqlite3)
	 * nor in any byte of the database or its WAL */
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *s = NULL;
		snprintf(sql, sizeof sql,
			 "SELECT (SELECT count(*) FROM token WHERE instr(secret_sha256 || template || subject || dns || upn"
			 " || created_by || cert_serial, ?1) > 0) + (SELECT count(*) FROM audit WHERE instr(actor || action"
			 " || subject || detail, ?1) > 0)");
		CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
		CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
		CU_ASSERT_EQUAL_FATAL(sqlite3_bind_text(s, 1, t.secret, -1, SQLITE_STATIC), SQLITE_OK);
		CU_ASSERT_EQUAL_FATAL(sqlite3_step(s), SQLITE_ROW);
		CU_ASSERT_EQUAL(sqlite3_column_int(s, 0), 0);
		sqlite3_finalize(s);
		/* the probe finds what is there: the hash is in a column */
		CU_ASSERT_EQUAL_FATAL(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
		CU_ASSERT_EQUAL_FATAL(sqlite3_bind_text(s, 1, hash, -1, SQLITE_STATIC), SQLITE_OK);
		CU_ASSERT_EQUAL_FATAL(sqlite3_step(s), SQLITE_ROW);
		CU_ASSERT_EQUAL(sqlite3_column_int(s, 0), 1);
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	snprintf(wal, sizeof wal, "%s-wal", path);
	CU_ASSERT_EQUAL(file_has(path, t.secret), 0);
	CU_ASSERT_EQUAL(file_has(path, t2.secret), 0);
	CU_ASSERT_NOT_EQUAL(file_has(wal, t.secret), 1); /* 0, or -1 once checkpointed away */
	/* the scan sees what is in the file (the hash of a secret is) */
	CU_ASSERT(file_has(path, hash) == 1 || file_has(wal, hash) == 1);
	token_free(&t);
	token_free(&t2);
}

static void test_create_refusals(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_token_spec spec;
	int64_t id = 42;
	char *secret = (char *)"untouched";
	static const char *const dbcs[] = {"\xe6\x97\xa5\xe6\x9c\xac.corp.example"};
	static const char *const wild[] = {"*.corp.example"};
	static const char *const under[] = {"pc_1.corp.example"};
	const char *many[SP_TOKEN_MAX_DNS + 1];
	struct {
		sp_token_spec s;
		sp_err want;
		const char *needle;
	} cases[16];
	int n = 0;

	for (int i = 0; i <= SP_TOKEN_MAX_DNS; i++)
		many[i] = "pc1.corp.example";
	memset(cases, 0, sizeof cases);
#define CASE(want_, needle_) (cases[n].s = pc1_spec(), cases[n].want = (want_), cases[n].needle = (needle_), &cases[n++].s)
	CASE(SP_ERR_USAGE, "at least one name")->n_dns = 0, cases[n - 1].s.subject = NULL;
	CASE(SP_ERR_INPUT, "lifetime")->ttl_seconds = 59;
	CASE(SP_ERR_INPUT, "lifetime")->ttl_seconds = 30 * 86400 + 1;
	CASE(SP_ERR_INPUT, "lifetime")->ttl_seconds = -3600;
	CASE(SP_ERR_INPUT, "template")->template_name = "Web Server";
	CASE(SP_ERR_INPUT, "template")->template_name = "";
	CASE(SP_ERR_POLICY, "token DNS name")->dns = dbcs, cases[n - 1].s.n_dns = 1;
	CASE(SP_ERR_POLICY, "wildcard")->dns = wild, cases[n - 1].s.n_dns = 1;
	CASE(SP_ERR_POLICY, "token DNS name")->dns = under, cases[n - 1].s.n_dns = 1;
	CASE(SP_ERR_POLICY, "at most")->dns = many, cases[n - 1].s.n_dns = SP_TOKEN_MAX_DNS + 1;
	CASE(SP_ERR_POLICY, "subject CN")->subject = "CN=\xe6\x97\xa5\xe6\x9c\xac";
	CASE(SP_ERR_INPUT, "multi-valued")->subject = "CN=a+O=b";
	CASE(SP_ERR_INPUT, "not supported")->subject = "XX=a";
	CASE(SP_ERR_INPUT, "TYPE=value")->subject = "pc1.corp.example";
	CASE(SP_ERR_POLICY, "token UPN")->upn = "not-a-upn";
	CASE(SP_ERR_POLICY, "subject CN")->subject = "CN=a\\00b";
#undef CASE
	for (int i = 0; i < n; i++) {
		sp_err rc = sp_token_create(st, &cases[i].s, "cli:unit", &id, &secret);
		if (rc != cases[i].want)
			fprintf(stderr, "case %d: expected %s, got %s (%s)\n", i, sp_err_name(cases[i].want),
				sp_err_name(rc), sp_last_error());
		CU_ASSERT_EQUAL(rc, cases[i].want);
		CU_ASSERT(msg_has(cases[i].needle));
		CU_ASSERT_EQUAL(id, 0);
		CU_ASSERT_PTR_NULL(secret);
		secret = (char *)"untouched";
		id = 42;
	}
	/* nothing was stored or audited */
	{
		int64_t rows = -1;
		CU_ASSERT_EQUAL(sp_store_audit_verify(st, &rows, NULL), SP_OK);
		CU_ASSERT_EQUAL(rows, 0);
	}
	/* the edges are accepted; the subject in RFC 2253 order, escapes too */
	memset(&spec, 0, sizeof spec);
	spec.template_name = "osd-media";
	spec.subject = "CN=OSD Boot Media,OU=OSD,O=Contoso\\, Ltd";
	spec.ttl_seconds = 60;
	{
		token t;
		sp_token_row row;
		csr_spec c = {.subj = {{"O", "Contoso, Ltd"}, {"OU", "OSD"}, {"CN", "OSD Boot Media"}}};
		X509_REQ *req;
		token_make(st, &spec, &t);
		CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, t.id, &row), SP_OK);
		CU_ASSERT_STRING_EQUAL(row.subject, "CN=OSD Boot Media,OU=OSD,O=Contoso\\, Ltd");
		sp_token_row_clear(&row);
		req = csr(&c);
		check_ok(st, &t, "osd-media", req, (int64_t)time(NULL));
		X509_REQ_free(req);
		token_free(&t);
	}
	spec.ttl_seconds = 30 * 86400;
	{
		token t;
		token_make(st, &spec, &t);
		token_free(&t);
	}
	sp_store_close(st);
}

/* --------------------------------------------------------------- suites */

static const sp_unit_test tests[] = {
	{"create, then check with the right secret: bound names, claimed, used", test_create_and_check},
	{"audit rows: token-create and token-use, never the secret", test_audit_rows},
	{"wrong secret, unknown id, non-numeric user: AUTH, nothing claimed", test_wrong_credentials},
	{"single use: claimed or used is AUTH; finish(NULL) hands it back", test_single_use},
	{"expired at expires_at (now parameter)", test_expired},
	{"other template: POLICY", test_other_template},
	{"names: unbound DNS, other subject, unbound UPN refused", test_names},
	{"no subject bound: CN and UPN still bound", test_names_without_subject},
	{"secret: 43 chars base64url; only its SHA-256 in the store", test_secret_format_and_storage},
	{"create refusals; edges accepted", test_create_refusals},
	{NULL, NULL},
};

static void register_cleanup(void)
{
	static int done;
	if (!done) {
		done = 1;
		atexit(free_key);
	}
}

static void test_setup(void)
{
	register_cleanup();
	(void)key();
}

static const sp_unit_test setup_tests[] = {
	{"key", test_setup},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"token.setup", setup_tests},
	{"token", tests},
	{NULL, NULL},
};
