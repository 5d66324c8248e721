/*
 * test_store_v3.c - store schemas v3 and v4: the SHA-256 of each request's
 * CSR and the look-up an EST retry makes with it, one-time enrollment tokens
 * (insert, claim, finish, list), the status epoch (v4), checkpoints run
 * beside the writer (sp_store_defer_checkpoints) and the migration of a v2
 * store.
 *
 * Every test makes its own store; none depends on another's leftovers or on
 * the order they run in. Expected hashes are computed here with OpenSSL's
 * SHA256(), not with the store's helper.
 */
#include "unit.h"

#include "store/store.h"

#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NOW ((int64_t)1700000000)
#define DAY ((int64_t)86400)

/* SHA-256 hex of a secret no test ever hands the store */
#define HASH_A "1111111111111111111111111111111111111111111111111111111111111111"
#define HASH_B "22222222222222222222222222222222222222222222222222222222222222bb"

/* ------------------------------------------------------------- helpers */

static void tmp_path(char *out, size_t outsz, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", sp_unit_tmpdir(), name);
	CU_ASSERT_FATAL(n > 0 && (size_t)n < outsz);
}

static sp_store *create_store(const char *path)
{
	sp_store *st = NULL;
	sp_err err = sp_store_open(path, 1, &st);
	if (err)
		fprintf(stderr, "create %s: %s\n", path, sp_last_error());
	CU_ASSERT_FATAL(err == SP_OK && st != NULL);
	return st;
}

static sp_store *open_store(const char *path)
{
	sp_store *st = NULL;
	sp_err err = sp_store_open(path, 0, &st);
	if (err)
		fprintf(stderr, "open %s: %s\n", path, sp_last_error());
	CU_ASSERT_FATAL(err == SP_OK && st != NULL);
	return st;
}

static sp_store *new_store(char *path, size_t pathsz)
{
	tmp_path(path, pathsz, "store.db");
	return create_store(path);
}

static int msg_has(const char *needle)
{
	if (strstr(sp_last_error(), needle))
		return 1;
	fprintf(stderr, "message '%s' lacks '%s'\n", sp_last_error(), needle);
	return 0;
}

static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "raw_exec: %s\n", sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc;
}

/* First column of the first row as text ("" for NULL or no row). */
static int raw_query(const char *path, const char *sql, char *out, size_t outsz)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	out[0] = '\0';
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			const unsigned char *v = sqlite3_column_text(s, 0);
			snprintf(out, outsz, "%s", v ? (const char *)v : "");
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
	}
	if (rc != SQLITE_OK)
		fprintf(stderr, "raw_query: %s\n", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

static int64_t raw_int(const char *path, const char *sql)
{
	char v[64];
	CU_ASSERT_EQUAL_FATAL(raw_query(path, sql, v, sizeof v), SQLITE_OK);
	return strtoll(v, NULL, 10);
}

static void sha256_hex(const uint8_t *d, size_t n, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	SHA256(d, n, md);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* A request row borrowing csr (at least one byte). */
static void request_row(sp_request_row *r, const char *tpl, const uint8_t *csr, size_t n, int status)
{
	memset(r, 0, sizeof *r);
	r->template_name = (char *)tpl;
	r->requester = (char *)"est:token:1";
	r->subject = (char *)"CN=pc1.corp.example";
	r->status = status;
	r->detail = (char *)"dns=pc1.corp.example";
	r->csr_der = (uint8_t *)csr;
	r->csr_der_len = n;
	r->created_at = NOW;
}

static int64_t insert_request(sp_store *st, const char *tpl, const uint8_t *csr, size_t n, int status)
{
	sp_request_row r;
	int64_t id = 0;
	request_row(&r, tpl, csr, n, status);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_insert(st, &r, &id), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_FATAL(id > 0);
	return id;
}

static void token_row(sp_token_row *t, const char *hash, const char *tpl, int64_t expires)
{
	memset(t, 0, sizeof *t);
	snprintf(t->secret_sha256, sizeof t->secret_sha256, "%s", hash);
	t->template_name = (char *)tpl;
	t->subject = (char *)"CN=pc1.corp.example,O=Contoso";
	t->dns = (char *)"pc1.corp.example,pc1";
	t->upn = (char *)"";
	t->created_by = (char *)"cli:unit";
	t->created_at = NOW;
	t->expires_at = expires;
	t->state = SP_TOKEN_UNUSED;
}

static int64_t insert_token(sp_store *st, const char *hash, const char *tpl, int64_t expires)
{
	sp_token_row t;
	int64_t id = 0;
	token_row(&t, hash, tpl, expires);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_token_insert(st, &t, &id), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_FATAL(id > 0);
	return id;
}

/* claim / finish in a transaction of their own, committed either way */
static sp_err claim(sp_store *st, int64_t id, int64_t now)
{
	sp_err err;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	err = sp_store_token_claim(st, id, now);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	return err;
}

static sp_err finish(sp_store *st, int64_t id, const char *serial, int64_t now)
{
	sp_err err;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	err = sp_store_token_finish(st, id, serial, now);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	return err;
}

static int token_state(sp_store *st, int64_t id)
{
	sp_token_row t;
	int s;
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, id, &t), SP_OK);
	s = t.state;
	sp_token_row_clear(&t);
	return s;
}

/* ------------------------------------------------------------- requests */

/* Overwrites arg (the expected hash) with "seen" when the row has it. */
static int list_sha_cb(const sp_request_row *r, void *arg)
{
	char *want = arg;
	if (!strcmp(r->csr_sha256, want))
		strcpy(want, "seen");
	return 0;
}

static void test_request_csr_sha256(void)
{
	char path[4096], want[65], sql[256];
	sp_store *st = new_store(path, sizeof path);
	const uint8_t csr[] = {0x30, 0x03, 0x02, 0x01, 0x07};
	sp_request_row r;
	int64_t id;

	sha256_hex(csr, sizeof csr, want);
	id = insert_request(st, "web-server", csr, sizeof csr, SP_REQ_PENDING);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st, id, &r), SP_OK);
	CU_ASSERT_STRING_EQUAL(r.csr_sha256, want);
	CU_ASSERT_EQUAL(r.status, SP_REQ_PENDING);
	CU_ASSERT_STRING_EQUAL(r.detail, "dns=pc1.corp.example");
	sp_request_row_clear(&r);
	/* what is on disk, read by another connection */
	snprintf(sql, sizeof sql, "SELECT csr_sha256 = '%s' FROM request WHERE id = %lld", want, (long long)id);
	CU_ASSERT_EQUAL(raw_int(path, sql), 1);

	/* list rows carry it too */
	CU_ASSERT_EQUAL(sp_store_request_list(st, -1, list_sha_cb, want), SP_OK);
	CU_ASSERT_STRING_EQUAL(want, "seen");
	sp_store_close(st);
}

static void test_request_find_csr(void)
{
	char path[4096], want[65], other[65], upper[80], colons[200];
	sp_store *st = new_store(path, sizeof path);
	const uint8_t csr[] = {0x30, 0x03, 0x02, 0x01, 0x07};
	const uint8_t csr2[] = {0x30, 0x03, 0x02, 0x01, 0x08};
	sp_request_row r;
	int64_t first, second, third, elsewhere;

	sha256_hex(csr, sizeof csr, want);
	sha256_hex(csr2, sizeof csr2, other);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "web-server", want, &r), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(r.id, 0);

	first = insert_request(st, "web-server", csr, sizeof csr, SP_REQ_REJECTED);
	elsewhere = insert_request(st, "client-auth", csr, sizeof csr, SP_REQ_PENDING);
	second = insert_request(st, "web-server", csr, sizeof csr, SP_REQ_PENDING);
	third = insert_request(st, "web-server", csr2, sizeof csr2, SP_REQ_PENDING);
	CU_ASSERT(first < elsewhere && elsewhere < second && second < third);

	/* the newest request of that template with that CSR */
	CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st, "web-server", want, &r), SP_OK);
	CU_ASSERT_EQUAL(r.id, second);
	CU_ASSERT_EQUAL(r.status, SP_REQ_PENDING);
	CU_ASSERT_STRING_EQUAL(r.template_name, "web-server");
	CU_ASSERT(r.csr_der_len == sizeof csr && memcmp(r.csr_der, csr, sizeof csr) == 0);
	sp_request_row_clear(&r);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st, "client-auth", want, &r), SP_OK);
	CU_ASSERT_EQUAL(r.id, elsewhere);
	sp_request_row_clear(&r);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st, "web-server", other, &r), SP_OK);
	CU_ASSERT_EQUAL(r.id, third);
	sp_request_row_clear(&r);

	/* the hash as a user types it: upper case, with colons */
	for (size_t i = 0; i < 64; i++)
		upper[i] = (char)(want[i] >= 'a' ? want[i] - 'a' + 'A' : want[i]);
	upper[64] = '\0';
	for (size_t i = 0, o = 0; i < 64; i += 2) {
		o += (size_t)snprintf(colons + o, sizeof colons - o, "%s%c%c", i ? ":" : "", upper[i], upper[i + 1]);
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st, "web-server", upper, &r), SP_OK);
	CU_ASSERT_EQUAL(r.id, second);
	sp_request_row_clear(&r);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st, "web-server", colons, &r), SP_OK);
	CU_ASSERT_EQUAL(r.id, second);
	sp_request_row_clear(&r);

	/* a template without that CSR, and bad hashes */
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "osd-media", want, &r), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("osd-media"));
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "web-server", HASH_A, &r), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "web-server", "", &r), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "web-server", "abc", &r), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "web-server", "zz", &r), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "", want, &r), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, NULL, want, &r), SP_ERR_INPUT);

	/* a row whose hash is '' (recorded before schema 3) is never found,
	 * not even by asking for '' */
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "UPDATE request SET csr_sha256 = '' WHERE template = 'client-auth'"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "client-auth", want, &r), SP_ERR_NOTFOUND);

	/* the state change an approval makes is seen by the look-up */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_request_set_status(st, second, SP_REQ_ISSUED, "0A0B", NULL), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st, "web-server", want, &r), SP_OK);
	CU_ASSERT_EQUAL(r.status, SP_REQ_ISSUED);
	CU_ASSERT_STRING_EQUAL(r.cert_serial, "0A0B");
	CU_ASSERT_STRING_EQUAL(r.detail, "dns=pc1.corp.example"); /* kept */
	sp_request_row_clear(&r);
	sp_store_close(st);
}

/* The look-up is on the EST retry path: it must go through the partial
 * index, never scan every request. The store names the index (INDEXED BY),
 * so without it the look-up fails to prepare instead of scanning: drop the
 * index behind the store's back and the look-up must fail, not answer. */
static void test_request_find_csr_uses_index(void)
{
	char path[4096], want[65];
	sp_store *st = new_store(path, sizeof path);
	const uint8_t csr[] = {0x30, 0x03, 0x02, 0x01, 0x07};
	sp_request_row r;

	sha256_hex(csr, sizeof csr, want);
	(void)insert_request(st, "web-server", csr, sizeof csr, SP_REQ_PENDING);
	sp_store_close(st);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "DROP INDEX request_csr"), SQLITE_OK);
	st = open_store(path);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "web-server", want, &r), SP_ERR_DB);
	CU_ASSERT(msg_has("request_csr"));
	sp_store_close(st);
}

/* Record a valid certificate row (a stand-in DER) in its own transaction. */
static void insert_cert(sp_store *st, const char *serial, const char *sha256, const char *sha1, const char *tpl)
{
	uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x01};
	sp_cert_row c;

	memset(&c, 0, sizeof c);
	snprintf(c.serial, sizeof c.serial, "%s", serial);
	snprintf(c.sha256, sizeof c.sha256, "%s", sha256);
	snprintf(c.sha1, sizeof c.sha1, "%.40s", sha1);
	c.subject = (char *)"CN=x.corp.example";
	c.sans = (char *)"";
	c.template_name = (char *)tpl;
	c.not_before = NOW;
	c.not_after = NOW + DAY;
	c.issued_at = NOW;
	c.revoke_reason = -1;
	c.der = der;
	c.der_len = sizeof der;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
}

static int count_req(const sp_request_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

/* The queue is listed through request_queue, which holds only pending and
 * approved requests: issued ones (one per certificate) are not in it, and a
 * plan without it fails instead of scanning them all. */
static void test_request_queue_index(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	const uint8_t a[] = {0x30, 0x03, 0x02, 0x01, 0x01}, b[] = {0x30, 0x03, 0x02, 0x01, 0x02},
		      c[] = {0x30, 0x03, 0x02, 0x01, 0x03}, d[] = {0x30, 0x03, 0x02, 0x01, 0x04};
	int n;

	(void)insert_request(st, "web-server", a, sizeof a, SP_REQ_PENDING);
	(void)insert_request(st, "web-server", b, sizeof b, SP_REQ_APPROVED);
	(void)insert_request(st, "web-server", c, sizeof c, SP_REQ_ISSUED);
	(void)insert_request(st, "web-server", d, sizeof d, SP_REQ_REJECTED);
	for (int status = SP_REQ_PENDING; status <= SP_REQ_ISSUED; status++) {
		n = 0;
		CU_ASSERT_EQUAL(sp_store_request_list(st, status, count_req, &n), SP_OK);
		CU_ASSERT_EQUAL(n, 1);
	}
	n = 0;
	CU_ASSERT_EQUAL(sp_store_request_list(st, -1, count_req, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 4);
	sp_store_close(st);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM request INDEXED BY request_queue"
				      " WHERE status IN (0, 1)"),
			2);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "DROP INDEX request_queue"), SQLITE_OK);
	st = open_store(path);
	n = 0;
	CU_ASSERT_EQUAL(sp_store_request_list(st, SP_REQ_PENDING, count_req, &n), SP_ERR_DB);
	CU_ASSERT(msg_has("request_queue"));
	n = 0; /* the rest needs no index */
	CU_ASSERT_EQUAL(sp_store_request_list(st, SP_REQ_ISSUED, count_req, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 1);
	sp_store_close(st);
}

static int count_cert(const sp_cert_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

/* Revoked and held certificates are listed through the partial index
 * certificate_revoked (the full status index is gone since v4), by name:
 * without it the list fails rather than scans every certificate. */
static void test_cert_list_revoked_index(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	static const char *const serials[] = {"0A01", "0A02", "0A03"};
	sp_cert_filter f;
	int n;

	for (int i = 0; i < 3; i++) {
		char sha256[65], sha1[41];
		snprintf(sha256, sizeof sha256, "%064d", i);
		snprintf(sha1, sizeof sha1, "%040d", i);
		insert_cert(st, serials[i], sha256, sha1, "web-server");
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, "0A01", SP_REASON_KEY_COMPROMISE, NOW), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, "0A02", SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	memset(&f, 0, sizeof f);
	f.now = NOW;
	f.status = "revoked";
	n = 0;
	CU_ASSERT_EQUAL(sp_store_cert_list(st, &f, count_cert, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 1);
	f.status = "hold";
	f.template_name = "web-server";
	n = 0;
	CU_ASSERT_EQUAL(sp_store_cert_list(st, &f, count_cert, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 1);
	f.status = "valid";
	n = 0;
	CU_ASSERT_EQUAL(sp_store_cert_list(st, &f, count_cert, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 1);
	sp_store_close(st);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "DROP INDEX certificate_revoked"), SQLITE_OK);
	st = open_store(path);
	f.status = "revoked";
	f.template_name = NULL;
	CU_ASSERT_EQUAL(sp_store_cert_list(st, &f, count_cert, &n), SP_ERR_DB);
	CU_ASSERT(msg_has("certificate_revoked"));
	sp_store_close(st);
}

/* --------------------------------------------------------------- tokens */

static void test_token_insert_get(void)
{
	char path[4096], hash_upper[80];
	sp_store *st = new_store(path, sizeof path);
	sp_token_row t, g;
	int64_t id = 0, id2;

	token_row(&t, HASH_A, "web-server", NOW + DAY);
	/* a write outside a transaction */
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, &id), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, &id), SP_OK);
	CU_ASSERT(id > 0);
	/* refused: not unused, no template, a hash that is not SHA-256, an
	 * expiry before creation */
	t.state = SP_TOKEN_USED;
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, NULL), SP_ERR_INPUT);
	t.state = SP_TOKEN_UNUSED;
	t.template_name = (char *)"";
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, NULL), SP_ERR_INPUT);
	t.template_name = (char *)"web-server";
	snprintf(t.secret_sha256, sizeof t.secret_sha256, "abcd");
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, NULL), SP_ERR_INPUT);
	snprintf(t.secret_sha256, sizeof t.secret_sha256, "%.63sx", HASH_A);
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, NULL), SP_ERR_INPUT);
	snprintf(t.secret_sha256, sizeof t.secret_sha256, "%s", HASH_A);
	t.expires_at = t.created_at;
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, NULL), SP_ERR_INPUT);
	/* an upper-case hash is stored in the canonical lower case */
	token_row(&t, HASH_B, "client-auth", NOW + 2 * DAY);
	for (size_t i = 0; i < 64; i++)
		hash_upper[i] = (char)(HASH_B[i] >= 'a' ? HASH_B[i] - 'a' + 'A' : HASH_B[i]);
	hash_upper[64] = '\0';
	memcpy(t.secret_sha256, hash_upper, 65);
	t.subject = NULL; /* optional strings as NULL are stored as "" */
	t.dns = NULL;
	t.upn = (char *)"alice@corp.example";
	CU_ASSERT_EQUAL(sp_store_token_insert(st, &t, &id2), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM token"), 2);

	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, id, &g), SP_OK);
	CU_ASSERT_EQUAL(g.id, id);
	CU_ASSERT_STRING_EQUAL(g.secret_sha256, HASH_A);
	CU_ASSERT_STRING_EQUAL(g.template_name, "web-server");
	CU_ASSERT_STRING_EQUAL(g.subject, "CN=pc1.corp.example,O=Contoso");
	CU_ASSERT_STRING_EQUAL(g.dns, "pc1.corp.example,pc1");
	CU_ASSERT_STRING_EQUAL(g.upn, "");
	CU_ASSERT_STRING_EQUAL(g.created_by, "cli:unit");
	CU_ASSERT_EQUAL(g.created_at, NOW);
	CU_ASSERT_EQUAL(g.expires_at, NOW + DAY);
	CU_ASSERT_EQUAL(g.state, SP_TOKEN_UNUSED);
	CU_ASSERT_EQUAL(g.used_at, 0);
	CU_ASSERT_STRING_EQUAL(g.cert_serial, "");
	sp_token_row_clear(&g);
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, id2, &g), SP_OK);
	CU_ASSERT_STRING_EQUAL(g.secret_sha256, HASH_B);
	CU_ASSERT_STRING_EQUAL(g.subject, "");
	CU_ASSERT_STRING_EQUAL(g.dns, "");
	CU_ASSERT_STRING_EQUAL(g.upn, "alice@corp.example");
	sp_token_row_clear(&g);
	CU_ASSERT_EQUAL(sp_store_token_get(st, id2 + 100, &g), SP_ERR_NOTFOUND);
	CU_ASSERT_PTR_NULL(g.template_name);
	sp_store_close(st);
}

static void test_token_claim(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	int64_t id = insert_token(st, HASH_A, "web-server", NOW + DAY);
	int64_t old = insert_token(st, HASH_B, "web-server", NOW + 10);

	/* outside a transaction */
	CU_ASSERT_EQUAL(sp_store_token_claim(st, id, NOW), SP_ERR_DB);
	CU_ASSERT_EQUAL(token_state(st, id), SP_TOKEN_UNUSED);

	CU_ASSERT_EQUAL(claim(st, id, NOW), SP_OK);
	CU_ASSERT_EQUAL(token_state(st, id), SP_TOKEN_CLAIMED);
	/* twice: the second claim loses */
	CU_ASSERT_EQUAL(claim(st, id, NOW), SP_ERR_EXISTS);
	CU_ASSERT(msg_has("already used"));
	CU_ASSERT_EQUAL(token_state(st, id), SP_TOKEN_CLAIMED);

	/* expired: at expires_at, not only after */
	CU_ASSERT_EQUAL(claim(st, old, NOW + 10), SP_ERR_POLICY);
	CU_ASSERT(msg_has("expired"));
	CU_ASSERT_EQUAL(claim(st, old, NOW + 11), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(token_state(st, old), SP_TOKEN_UNUSED);
	CU_ASSERT_EQUAL(claim(st, old, NOW + 9), SP_OK);

	/* unknown */
	CU_ASSERT_EQUAL(claim(st, old + 100, NOW), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(claim(st, 0, NOW), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(claim(st, -1, NOW), SP_ERR_NOTFOUND);

	/* a rolled-back claim leaves the token unused */
	{
		int64_t id3 = insert_token(st, HASH_A, "web-server", NOW + DAY);
		CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
		CU_ASSERT_EQUAL(sp_store_token_claim(st, id3, NOW), SP_OK);
		sp_store_rollback(st);
		CU_ASSERT_EQUAL(token_state(st, id3), SP_TOKEN_UNUSED);
	}
	sp_store_close(st);
}

/* Two connections (two service processes) claim the same token: one wins. */
static void test_token_claim_two_connections(void)
{
	char path[4096];
	sp_store *a = new_store(path, sizeof path), *b;
	int64_t id = insert_token(a, HASH_A, "web-server", NOW + DAY);
	sp_err ea, eb;

	b = open_store(path);
	ea = claim(a, id, NOW);
	eb = claim(b, id, NOW);
	CU_ASSERT_EQUAL(ea, SP_OK);
	CU_ASSERT_EQUAL(eb, SP_ERR_EXISTS);
	sp_store_close(b);
	sp_store_close(a);
}

static void test_token_finish(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	int64_t id = insert_token(st, HASH_A, "web-server", NOW + DAY);
	int64_t id2 = insert_token(st, HASH_B, "web-server", NOW + DAY);
	sp_token_row g;

	/* not claimed yet */
	CU_ASSERT_EQUAL(finish(st, id, "0A0B0C", NOW + 5), SP_ERR_POLICY);
	CU_ASSERT(msg_has("not claimed"));
	CU_ASSERT_EQUAL(finish(st, id, NULL, NOW + 5), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(finish(st, id2 + 100, NULL, NOW + 5), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_store_token_finish(st, id, NULL, NOW), SP_ERR_DB); /* no transaction */

	/* claimed -> unused again (the request failed): claimable again */
	CU_ASSERT_EQUAL(claim(st, id, NOW), SP_OK);
	CU_ASSERT_EQUAL(finish(st, id, NULL, NOW + 5), SP_OK);
	CU_ASSERT_EQUAL(token_state(st, id), SP_TOKEN_UNUSED);
	CU_ASSERT_EQUAL(claim(st, id, NOW + 6), SP_OK);

	/* claimed -> used with the serial */
	CU_ASSERT_EQUAL(finish(st, id, "5E3EA615BAC1F51C91EB6AB72A756CCB", NOW + 7), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, id, &g), SP_OK);
	CU_ASSERT_EQUAL(g.state, SP_TOKEN_USED);
	CU_ASSERT_EQUAL(g.used_at, NOW + 7);
	CU_ASSERT_STRING_EQUAL(g.cert_serial, "5E3EA615BAC1F51C91EB6AB72A756CCB");
	sp_token_row_clear(&g);
	/* used is final: no claim, no finish either way */
	CU_ASSERT_EQUAL(claim(st, id, NOW + 8), SP_ERR_EXISTS);
	CU_ASSERT_EQUAL(finish(st, id, NULL, NOW + 8), SP_ERR_POLICY);
	CU_ASSERT(msg_has("used"));
	CU_ASSERT_EQUAL(finish(st, id, "0A", NOW + 8), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(token_state(st, id), SP_TOKEN_USED);

	/* "" serial: used by a request that was queued (no certificate yet) */
	CU_ASSERT_EQUAL(claim(st, id2, NOW), SP_OK);
	CU_ASSERT_EQUAL(finish(st, id2, "", NOW + 9), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_token_get(st, id2, &g), SP_OK);
	CU_ASSERT_EQUAL(g.state, SP_TOKEN_USED);
	CU_ASSERT_STRING_EQUAL(g.cert_serial, "");
	sp_token_row_clear(&g);
	CU_ASSERT_EQUAL(claim(st, id2, NOW + 10), SP_ERR_EXISTS);
	sp_store_close(st);
}

typedef struct {
	int64_t id[8];
	int state[8];
	char tpl[8][32];
	int n, stop_with;
} token_seen;

static int token_cb(const sp_token_row *t, void *arg)
{
	token_seen *s = arg;
	if (s->n < 8) {
		s->id[s->n] = t->id;
		s->state[s->n] = t->state;
		snprintf(s->tpl[s->n], sizeof s->tpl[0], "%s", t->template_name);
	}
	s->n++;
	return s->stop_with;
}

static void test_token_list(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	token_seen seen;
	int64_t a, b, c;

	memset(&seen, 0, sizeof seen);
	CU_ASSERT_EQUAL(sp_store_token_list(st, token_cb, &seen), SP_OK);
	CU_ASSERT_EQUAL(seen.n, 0);
	CU_ASSERT_EQUAL(sp_store_token_list(st, NULL, &seen), SP_ERR_INPUT);

	a = insert_token(st, HASH_A, "web-server", NOW + DAY);
	b = insert_token(st, HASH_B, "client-auth", NOW + DAY);
	c = insert_token(st, HASH_A, "osd-media", NOW + DAY);
	CU_ASSERT_EQUAL(claim(st, b, NOW), SP_OK);
	CU_ASSERT_EQUAL(claim(st, c, NOW), SP_OK);
	CU_ASSERT_EQUAL(finish(st, c, "0A", NOW), SP_OK);

	memset(&seen, 0, sizeof seen);
	CU_ASSERT_EQUAL(sp_store_token_list(st, token_cb, &seen), SP_OK);
	CU_ASSERT_EQUAL_FATAL(seen.n, 3);
	CU_ASSERT(seen.id[0] == a && seen.id[1] == b && seen.id[2] == c);
	CU_ASSERT_STRING_EQUAL(seen.tpl[1], "client-auth");
	CU_ASSERT(seen.state[0] == SP_TOKEN_UNUSED && seen.state[1] == SP_TOKEN_CLAIMED && seen.state[2] == SP_TOKEN_USED);

	memset(&seen, 0, sizeof seen);
	seen.stop_with = SP_ERR_IO;
	CU_ASSERT_EQUAL(sp_store_token_list(st, token_cb, &seen), SP_ERR_IO);
	CU_ASSERT_EQUAL(seen.n, 1);
	sp_store_close(st);
}

/* ------------------------------------------------------------ migration */

/* A store written through the API, taken back to v2 by hand (the v3
 * objects dropped, the version set to 2), then opened by this code. */
static void test_migrate_v2_keeps_data(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	const uint8_t csr[] = {0x30, 0x03, 0x02, 0x01, 0x09};
	sp_cert_row c, g;
	sp_request_row r;
	sp_block_row b;
	char *v = NULL, want[65];
	uint8_t der[4] = {0x30, 0x02, 0x05, 0x00};
	int64_t req_id, new_id, rows = 0, bad = -1, tid;

	memset(&c, 0, sizeof c);
	snprintf(c.serial, sizeof c.serial, "0A0B0C");
	snprintf(c.sha256, sizeof c.sha256, "%s", HASH_A);
	snprintf(c.sha1, sizeof c.sha1, "%040d", 7);
	c.subject = (char *)"CN=pc1.corp.example";
	c.sans = (char *)"DNS:pc1.corp.example";
	c.template_name = (char *)"web-server";
	c.not_before = NOW;
	c.not_after = NOW + 365 * DAY;
	c.issued_at = NOW;
	c.revoke_reason = -1;
	c.der = der;
	c.der_len = sizeof der;
	memset(&b, 0, sizeof b);
	snprintf(b.sha256, sizeof b.sha256, "%s", HASH_B);
	b.reason = (char *)"lost";
	b.created_by = (char *)"cli:unit";
	b.created_at = NOW;
	req_id = insert_request(st, "web-server", csr, sizeof csr, SP_REQ_PENDING);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_add(st, &b), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_setting_set(st, "crl.days", "3"), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, "0A0B0C", SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_audit_append(st, "cli:unit", "issue", "0A0B0C", "x"), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	sp_store_close(st);

	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "BEGIN;"
					     /* v4 */
					     "DROP TRIGGER block_seq_insert; DROP TRIGGER block_seq_update;"
					     "DROP TRIGGER block_seq_delete; DELETE FROM meta WHERE key = 'block_seq';"
					     "DROP INDEX request_queue;"
					     "CREATE INDEX certificate_status ON certificate(status);"
					     "CREATE INDEX certificate_subject ON certificate(subject);"
					     "CREATE INDEX request_status ON request(status);"
					     /* v3 */
					     "DROP TABLE media; DROP TABLE token; DROP INDEX request_csr;"
					     "ALTER TABLE request DROP COLUMN csr_sha256;"
					     "UPDATE schema_version SET version = 2;"
					     "COMMIT;"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('token', 'media')"), 0);

	st = open_store(path);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT version FROM schema_version"), SP_STORE_SCHEMA_VERSION);
	/* v4: the block counter and its three triggers */
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'"
				      " AND name IN ('block_seq_insert', 'block_seq_update', 'block_seq_delete')"),
			3);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT value FROM meta WHERE key = 'block_seq'"), 0);
	/* v4: two indexes fewer on the issuance path, the queue's own */
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
				      " AND name IN ('certificate_status', 'certificate_subject', 'request_status')"),
			0);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'request_queue'"), 1);
	CU_ASSERT_EQUAL(sp_store_integrity_check(st), SP_OK);
	/* v1/v2 data as it was */
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, "0a0b0c", &g), SP_OK);
	CU_ASSERT_EQUAL(g.status, SP_CERT_HOLD);
	sp_cert_row_clear(&g);
	CU_ASSERT_EQUAL(sp_store_block_find(st, HASH_B, NULL, NULL), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_setting_get(st, "crl.days", &v), SP_OK);
	CU_ASSERT_STRING_EQUAL(v, "3");
	free(v);
	CU_ASSERT_EQUAL(sp_store_audit_verify(st, &rows, &bad), SP_OK);
	CU_ASSERT_EQUAL(rows, 1);
	/* the old request: intact, without a hash, so never found by one */
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st, req_id, &r), SP_OK);
	CU_ASSERT_STRING_EQUAL(r.csr_sha256, "");
	CU_ASSERT_EQUAL(r.status, SP_REQ_PENDING);
	CU_ASSERT(r.csr_der_len == sizeof csr && memcmp(r.csr_der, csr, sizeof csr) == 0);
	sp_request_row_clear(&r);
	sha256_hex(csr, sizeof csr, want);
	CU_ASSERT_EQUAL(sp_store_request_find_csr(st, "web-server", want, &r), SP_ERR_NOTFOUND);
	/* and v3 works on it: a new request with the same CSR is found, a
	 * token can be made and claimed */
	new_id = insert_request(st, "web-server", csr, sizeof csr, SP_REQ_PENDING);
	CU_ASSERT(new_id > req_id);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_find_csr(st, "web-server", want, &r), SP_OK);
	CU_ASSERT_EQUAL(r.id, new_id);
	sp_request_row_clear(&r);
	tid = insert_token(st, HASH_A, "web-server", NOW + DAY);
	CU_ASSERT_EQUAL(claim(st, tid, NOW), SP_OK);
	sp_store_close(st);
}

/* ------------------------------------------------- status epoch (v4) */

static int64_t epoch_of(sp_store *st)
{
	int64_t e = -1;
	CU_ASSERT_EQUAL(sp_store_status_epoch(st, &e), SP_OK);
	return e;
}

/* Moves on every revocation state change and block list change, also one
 * made by hand through sqlite3 (the triggers); stands still on issuance. */
static void test_status_epoch(void)
{
	char path[4200];
	sp_store *st = new_store(path, sizeof path);
	sp_block_row b;
	int64_t e0, e1, e2, e3, e4, e5, e6;

	e0 = epoch_of(st);
	CU_ASSERT_EQUAL(e0, 0);
	insert_cert(st, "0A0B0D", HASH_A, HASH_A, "client-auth");
	CU_ASSERT_EQUAL(epoch_of(st), e0); /* issuing changes no verdict */

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, "0A0B0D", SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	e1 = epoch_of(st);
	CU_ASSERT(e1 > e0);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_release(st, "0A0B0D", NOW), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	e2 = epoch_of(st);
	CU_ASSERT(e2 > e1);

	memset(&b, 0, sizeof b);
	snprintf(b.sha256, sizeof b.sha256, "%s", HASH_B);
	b.reason = (char *)"lost";
	b.created_by = (char *)"cli:unit";
	b.created_at = NOW;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_add(st, &b), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	e3 = epoch_of(st);
	CU_ASSERT(e3 > e2);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_remove(st, HASH_B), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	e4 = epoch_of(st);
	CU_ASSERT(e4 > e3);
	/* a rolled-back change leaves it where it was */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_add(st, &b), SP_OK);
	sp_store_rollback(st);
	CU_ASSERT_EQUAL(epoch_of(st), e4);
	sp_store_close(st);

	/* by hand, behind the store's back: the triggers still count it */
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "INSERT INTO block(sha1, reason, created_at)"
					     " VALUES ('" HASH_B "', 'x', 1)"),
			      SQLITE_OK);
	st = open_store(path);
	e5 = epoch_of(st);
	CU_ASSERT(e5 > e4);
	sp_store_close(st);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "UPDATE block SET reason = 'y'"), SQLITE_OK);
	st = open_store(path);
	e6 = epoch_of(st);
	CU_ASSERT(e6 > e5);
	sp_store_close(st);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "DELETE FROM block"), SQLITE_OK);
	st = open_store(path);
	CU_ASSERT(epoch_of(st) > e6);
	sp_store_close(st);

	/* a damaged counter is an error, never "unchanged" */
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "UPDATE meta SET value = 'x' WHERE key = 'block_seq'"), SQLITE_OK);
	st = open_store(path);
	{
		int64_t e = 7;
		CU_ASSERT_EQUAL(sp_store_status_epoch(st, &e), SP_ERR_DB);
		CU_ASSERT(msg_has("damaged"));
		CU_ASSERT_EQUAL(e, 0);
	}
	sp_store_close(st);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "DELETE FROM meta WHERE key = 'block_seq'"), SQLITE_OK);
	st = open_store(path);
	{
		int64_t e = 7;
		CU_ASSERT_EQUAL(sp_store_status_epoch(st, &e), SP_ERR_DB);
		CU_ASSERT(msg_has("missing"));
	}
	sp_store_close(st);
}

/* ------------------------------------------------ deferred checkpoints */

typedef struct {
	int calls, last, max;
	int answer; /* what wal_grew returns */
} wal_watch;

static int watch_wal(void *arg, int frames)
{
	wal_watch *w = arg;
	w->calls++;
	w->last = frames;
	if (frames > w->max)
		w->max = frames;
	return w->answer;
}

/* One committed write of about 2 KiB (a request row): a frame or more. */
static void one_write(sp_store *st, int i)
{
	uint8_t csr[2000];
	memset(csr, (int)(i & 0xff), sizeof csr);
	csr[0] = (uint8_t)(i >> 8);
	(void)insert_request(st, "web-server", csr, sizeof csr, SP_REQ_PENDING);
}

/* Deferred: the writer tells each commit's WAL length and never copies by
 * itself (SQLite alone would have started over near 1000 frames); another
 * connection's checkpoint copies everything; asked to (wal_grew returns 1)
 * the writer copies at once, and the WAL starts over at the next commit. */
static void test_checkpoint_deferred(void)
{
	char path[4200];
	sp_store *st = new_store(path, sizeof path), *ck = open_store(path);
	wal_watch w = {0, 0, 0, 0};
	int frames = -1, copied = -1, i;

	sp_store_defer_checkpoints(st, 100000, watch_wal, &w);
	for (i = 0; i < 1300; i++)
		one_write(st, i);
	CU_ASSERT_EQUAL(w.calls, 1300);
	CU_ASSERT(w.last >= 1300); /* nobody copied: it only grew */
	CU_ASSERT_EQUAL(w.last, w.max);

	CU_ASSERT_EQUAL(sp_store_checkpoint(ck, &frames, &copied), SP_OK);
	CU_ASSERT_EQUAL(frames, w.last);
	CU_ASSERT_EQUAL(copied, frames);
	/* fully copied: the next commit starts the WAL over */
	one_write(st, i++);
	CU_ASSERT(w.last > 0 && w.last < 10);

	/* the writer copies when told to */
	for (; i < 1400; i++)
		one_write(st, i);
	CU_ASSERT(w.last >= 90);
	w.answer = 1;
	one_write(st, i++);
	w.answer = 0;
	one_write(st, i++);
	CU_ASSERT(w.last > 0 && w.last < 10);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM request"), i);
	sp_store_close(ck);
	sp_store_close(st);
}

/* Nobody checkpoints: past `limit` frames the writer does, so the WAL stays
 * bounded; and wal_grew == NULL is SQLite's own auto-checkpoint again. */
static void test_checkpoint_limit(void)
{
	char path[4200];
	sp_store *st = new_store(path, sizeof path);
	wal_watch w = {0, 0, 0, 0};
	struct stat sb;
	char wal[4300];
	int i;

	sp_store_defer_checkpoints(st, 200, watch_wal, &w);
	for (i = 0; i < 1000; i++)
		one_write(st, i);
	CU_ASSERT(w.max < 200);
	CU_ASSERT(w.calls < 1000); /* the limit's commits copied instead */
	snprintf(wal, sizeof wal, "%s-wal", path);
	CU_ASSERT_EQUAL_FATAL(stat(wal, &sb), 0);
	CU_ASSERT(sb.st_size < 210 * 4200);

	sp_store_defer_checkpoints(st, 0, NULL, NULL);
	w.calls = 0;
	for (; i < 2500; i++)
		one_write(st, i);
	CU_ASSERT_EQUAL(w.calls, 0);
	CU_ASSERT_EQUAL_FATAL(stat(wal, &sb), 0);
	CU_ASSERT(sb.st_size < 1100 * 4200); /* SQLite's 1000 frames */
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM request"), i);
	sp_store_close(st);
}

/* --------------------------------------------------------------- suites */

static const sp_unit_test request_tests[] = {
	{"request insert stores the SHA-256 of the CSR", test_request_csr_sha256},
	{"find by CSR: newest wins, per template, normalised, '' never", test_request_find_csr},
	{"find by CSR uses the partial index request_csr", test_request_find_csr_uses_index},
	{"the queue is listed through the partial index request_queue", test_request_queue_index},
	{"revoked and held certificates are listed through certificate_revoked", test_cert_list_revoked_index},
	{NULL, NULL},
};

static const sp_unit_test token_tests[] = {
	{"token insert/get; malformed rows refused", test_token_insert_get},
	{"claim: once, not expired, not unknown", test_token_claim},
	{"claim from two connections: one wins", test_token_claim_two_connections},
	{"finish: serial -> used; NULL -> unused again", test_token_finish},
	{"list by id", test_token_list},
	{NULL, NULL},
};

static const sp_unit_test epoch_tests[] = {
	{"status epoch: revocation and block changes move it, issuing does not", test_status_epoch},
	{NULL, NULL},
};

static const sp_unit_test checkpoint_tests[] = {
	{"deferred: the writer only reports; another connection copies; told to, the writer copies",
	 test_checkpoint_deferred},
	{"deferred with nobody copying: bounded by the limit; NULL restores SQLite's own", test_checkpoint_limit},
	{NULL, NULL},
};

static const sp_unit_test migration_tests[] = {
	{"a v2 store migrates to v3 and v4 keeping its data", test_migrate_v2_keeps_data},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"store_v3.request", request_tests},
	{"store_v3.token", token_tests},
	{"store_v4.status_epoch", epoch_tests},
	{"store.checkpoints", checkpoint_tests},
	{"store_v3.migration", migration_tests},
	{NULL, NULL},
};
