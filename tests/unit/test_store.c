/*
 * test_store.c - the SQLite store: file safety, pragmas, migrations, each
 * table's API, the audit chain against tampering through a raw connection,
 * and two writers on one file.
 */
#include "unit.h"

/* store_int.h (not just store.h): the per-connection pragmas can only be
 * read back through the store's own connection. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOW ((int64_t)1700000000)
#define DAY ((int64_t)86400)

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

static int msg_has(const char *needle)
{
	if (strstr(sp_last_error(), needle))
		return 1;
	fprintf(stderr, "message '%s' lacks '%s'\n", sp_last_error(), needle);
	return 0;
}

/* Run SQL on a connection of our own, as a tester (or an attacker) with
 * the file would. */
static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, 5000);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* First column of the first row as text, into out. */
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
		}
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return rc;
}

static int64_t conn_pragma_int(sp_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

/* A certificate row with distinct, well-formed identifiers for `n`. The DER
 * is not parsed by the store, so any bytes do. */
typedef struct {
	sp_cert_row row;
	uint8_t der[16];
} test_cert;

static void make_cert(test_cert *c, unsigned n, const char *tmpl, const char *subject, const char *sans,
		      int64_t not_after)
{
	memset(c, 0, sizeof *c);
	snprintf(c->row.serial, sizeof c->row.serial, "%032X", n + 0x1000u);
	snprintf(c->row.sha256, sizeof c->row.sha256, "%064x", n + 0xa000u);
	snprintf(c->row.sha1, sizeof c->row.sha1, "%040x", n + 0xb000u);
	c->row.subject = (char *)subject;
	c->row.sans = (char *)sans;
	c->row.template_name = (char *)tmpl;
	c->row.not_before = not_after - 365 * DAY;
	c->row.not_after = not_after;
	c->row.issued_at = NOW - 1000 + n;
	c->row.status = SP_CERT_VALID;
	c->row.revoked_at = 0;
	c->row.revoke_reason = -1;
	for (size_t i = 0; i < sizeof c->der; i++)
		c->der[i] = (uint8_t)(n + i);
	c->row.der = c->der;
	c->row.der_len = sizeof c->der;
}

static void insert_one(sp_store *st, const sp_cert_row *row)
{
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
}

static int64_t cert_count(sp_store *st)
{
	int64_t n = -1;
	CU_ASSERT_EQUAL(sp_store_cert_count(st, &n), SP_OK);
	return n;
}

/* ---------------------------------------------------------------- open */

static void test_create_refuses_existing(void)
{
	char path[4096], other[4096], buf[64];
	sp_store *again = NULL;
	int fd;

	tmp_path(path, sizeof path, "store.db");
	sp_store_close(create_store(path));
	CU_ASSERT_EQUAL(sp_store_open(path, 1, &again), SP_ERR_EXISTS);
	CU_ASSERT_PTR_NULL(again);
	CU_ASSERT(msg_has(path));
	/* The existing store is untouched and still opens. */
	sp_store_close(open_store(path));

	/* Nor is any other file adopted or truncated. */
	tmp_path(other, sizeof other, "notes.txt");
	fd = open(other, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "keep me", 7), 7);
	close(fd);
	CU_ASSERT_EQUAL(sp_store_open(other, 1, &again), SP_ERR_EXISTS);
	fd = open(other, O_RDONLY);
	CU_ASSERT_EQUAL(read(fd, buf, sizeof buf), 7);
	close(fd);
}

static void test_create_refuses_stale_wal(void)
{
	char path[4096], wal[4200];
	sp_store *st = NULL;
	int fd;

	tmp_path(path, sizeof path, "store.db");
	snprintf(wal, sizeof wal, "%s-wal", path);
	fd = open(wal, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(sp_store_open(path, 1, &st), SP_ERR_EXISTS);
	CU_ASSERT(msg_has("-wal"));
	CU_ASSERT_EQUAL(access(path, F_OK), -1); /* nothing half-made left */
}

static unsigned file_mode(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		return 0xffffu;
	return (unsigned)(sb.st_mode & 07777);
}

static void test_file_modes(void)
{
	char path[4096], side[4200];
	test_cert c;
	sp_store *st;
	mode_t old = umask(0); /* the most permissive umask there is */

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	make_cert(&c, 1, "web-server", "CN=a", "", NOW + DAY);
	insert_one(st, &c.row); /* makes sure WAL and shm are in use */
	CU_ASSERT_EQUAL(file_mode(path), 0600u);
	snprintf(side, sizeof side, "%s-wal", path);
	CU_ASSERT_EQUAL(file_mode(side), 0600u);
	snprintf(side, sizeof side, "%s-shm", path);
	CU_ASSERT_EQUAL(file_mode(side), 0600u);
	sp_store_close(st);

	/* A umask that takes our own write bit away must not leave an
	 * unwritable store either. (Directory made first: under this umask
	 * it would not be writable.) */
	tmp_path(path, sizeof path, "store2.db");
	umask(0277);
	st = create_store(path);
	CU_ASSERT_EQUAL(file_mode(path), 0600u);
	sp_store_close(st);
	umask(old);
}

static void test_open_refuses_loose_or_missing(void)
{
	char path[4096], junk[4096];
	sp_store *st = NULL;
	int fd;

	tmp_path(path, sizeof path, "store.db");
	sp_store_close(create_store(path));
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0644), 0);
	CU_ASSERT_EQUAL(sp_store_open(path, 0, &st), SP_ERR_PERM);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0600), 0);
	sp_store_close(open_store(path));

	tmp_path(junk, sizeof junk, "missing.db");
	CU_ASSERT_EQUAL(sp_store_open(junk, 0, &st), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(access(junk, F_OK), -1); /* opening never creates */

	/* An empty file (an interrupted create) and a file that is not a
	 * database are both refused, not turned into a store. */
	tmp_path(junk, sizeof junk, "empty.db");
	fd = open(junk, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	CU_ASSERT_EQUAL(sp_store_open(junk, 0, &st), SP_ERR_DB);
	CU_ASSERT(msg_has("not a sitepki store"));

	tmp_path(junk, sizeof junk, "text.db");
	fd = open(junk, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(write(fd, "this is not an SQLite database, just some text padding it out.\n", 63), 63);
	close(fd);
	CU_ASSERT_EQUAL(sp_store_open(junk, 0, &st), SP_ERR_DB);
	CU_ASSERT_PTR_NULL(st);
}

static void test_symlinks(void)
{
	char dir[4096], link[4200], path[4300], via[4300];
	sp_store *st = NULL;

	/* A linked directory on the way is fine (a CA home under /srv)... */
	snprintf(dir, sizeof dir, "%s", sp_unit_tmpdir());
	snprintf(link, sizeof link, "%s/home-link", dir);
	CU_ASSERT_EQUAL_FATAL(symlink(dir, link), 0);
	snprintf(path, sizeof path, "%s/store.db", link);
	sp_store_close(create_store(path));
	sp_store_close(open_store(path));

	/* ...but the store file itself is never reached through a link. */
	snprintf(path, sizeof path, "%s/store.db", dir);
	snprintf(via, sizeof via, "%s/alias.db", dir);
	CU_ASSERT_EQUAL_FATAL(symlink(path, via), 0);
	CU_ASSERT_EQUAL(sp_store_open(via, 0, &st), SP_ERR_PERM);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT_EQUAL(sp_store_open(via, 1, &st), SP_ERR_EXISTS);
	snprintf(via, sizeof via, "%s/dangling.db", dir);
	CU_ASSERT_EQUAL_FATAL(symlink("/nonexistent/sitepki.db", via), 0);
	CU_ASSERT_EQUAL(sp_store_open(via, 1, &st), SP_ERR_EXISTS);
	CU_ASSERT_PTR_NULL(st);
}

static void test_pragmas(void)
{
	char path[4096], v[64];
	sp_store *st;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	/* journal_mode=WAL is recorded in the file: another connection sees it. */
	CU_ASSERT_EQUAL(raw_query(path, "PRAGMA journal_mode", v, sizeof v), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(v, "wal");
	/* The others are per connection: ask the store's own. */
	CU_ASSERT_EQUAL(conn_pragma_int(st, "PRAGMA synchronous"), 2); /* FULL */
	CU_ASSERT_EQUAL(conn_pragma_int(st, "PRAGMA foreign_keys"), 1);
	CU_ASSERT_EQUAL(conn_pragma_int(st, "PRAGMA busy_timeout"), 10000);
	CU_ASSERT_EQUAL(sp_store_integrity_check(st), SP_OK);
	sp_store_close(st);

	st = open_store(path);
	CU_ASSERT_EQUAL(conn_pragma_int(st, "PRAGMA synchronous"), 2);
	CU_ASSERT_EQUAL(conn_pragma_int(st, "PRAGMA busy_timeout"), 10000);
	sp_store_close(st);
}

/* ---------------------------------------------------------- migrations */

static void test_fresh_store_version(void)
{
	char path[4096], v[64], want[16];

	tmp_path(path, sizeof path, "store.db");
	sp_store_close(create_store(path));
	snprintf(want, sizeof want, "%d", SP_STORE_SCHEMA_VERSION);
	CU_ASSERT_EQUAL(raw_query(path, "SELECT version FROM schema_version", v, sizeof v), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(v, want);
	CU_ASSERT_EQUAL(raw_query(path, "SELECT count(*) FROM schema_version", v, sizeof v), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(v, "1");
	/* Reopening an up-to-date store changes nothing. */
	sp_store_close(open_store(path));
	CU_ASSERT_EQUAL(raw_query(path, "SELECT version FROM schema_version", v, sizeof v), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(v, want);
}

static void test_future_version_refused(void)
{
	char path[4096], sql[128];
	sp_store *st = NULL;

	tmp_path(path, sizeof path, "store.db");
	sp_store_close(create_store(path));
	snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", SP_STORE_SCHEMA_VERSION + 1);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, sql), SQLITE_OK);
	CU_ASSERT_EQUAL(sp_store_open(path, 0, &st), SP_ERR_DB);
	CU_ASSERT_PTR_NULL(st);
	CU_ASSERT(msg_has("newer"));
}

/* ------------------------------------------------------------------ CA */

static void test_ca_roundtrip(void)
{
	char path[4096];
	sp_store *st;
	sp_ca_row in, out;
	uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x05};

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	memset(&out, 0, sizeof out);
	CU_ASSERT_EQUAL(sp_store_ca_get(st, &out), SP_ERR_NOTFOUND);

	memset(&in, 0, sizeof in);
	in.name = "Site CA";
	in.site_code = "ABC";
	in.base_url = "http://127.0.0.1:8080/pki";
	in.key_alg = "ec-p256";
	in.state = SP_CA_AWAITING_CERT;
	in.chain_pem = "";
	in.created_at = NOW;
	CU_ASSERT_EQUAL(sp_store_ca_put(st, &in), SP_ERR_DB); /* no transaction */
	CU_ASSERT(msg_has("outside a transaction"));
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_ca_put(st, &in), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	CU_ASSERT_EQUAL_FATAL(sp_store_ca_get(st, &out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out.name, "Site CA");
	CU_ASSERT_STRING_EQUAL(out.site_code, "ABC");
	CU_ASSERT_STRING_EQUAL(out.key_alg, "ec-p256");
	CU_ASSERT_EQUAL(out.state, SP_CA_AWAITING_CERT);
	CU_ASSERT_PTR_NULL(out.cert_der);
	CU_ASSERT_EQUAL(out.created_at, NOW);
	sp_ca_row_clear(&out);

	/* The external root signed: same row, now active with a certificate. */
	in.state = SP_CA_ACTIVE;
	in.cert_der = der;
	in.cert_der_len = sizeof der;
	in.chain_pem = "-----BEGIN CERTIFICATE-----\n...\n";
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_ca_put(st, &in), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	sp_store_close(st);

	st = open_store(path);
	CU_ASSERT_EQUAL_FATAL(sp_store_ca_get(st, &out), SP_OK);
	CU_ASSERT_EQUAL(out.state, SP_CA_ACTIVE);
	CU_ASSERT_EQUAL_FATAL(out.cert_der_len, sizeof der);
	CU_ASSERT_EQUAL(memcmp(out.cert_der, der, sizeof der), 0);
	CU_ASSERT_STRING_EQUAL(out.chain_pem, in.chain_pem);
	CU_ASSERT_STRING_EQUAL(out.base_url, in.base_url);
	sp_ca_row_clear(&out);
	sp_ca_row_clear(&out); /* clearing twice is harmless */
	sp_store_close(st);
}

/* --------------------------------------------------------- certificates */

static void test_cert_insert_get(void)
{
	char path[4096], key[128];
	sp_store *st;
	test_cert c;
	sp_cert_row got;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	make_cert(&c, 7, "web-server", "CN=www.example", "DNS:www.example", NOW + 90 * DAY);
	insert_one(st, &c.row);
	CU_ASSERT_EQUAL(cert_count(st), 1);
	CU_ASSERT_EQUAL(sp_store_serial_exists(st, c.row.serial), 1);
	CU_ASSERT_EQUAL(sp_store_serial_exists(st, "ABCDEF"), 0);

	/* By serial as stored. */
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, c.row.serial, &got), SP_OK);
	CU_ASSERT_STRING_EQUAL(got.serial, c.row.serial);
	CU_ASSERT_STRING_EQUAL(got.sha256, c.row.sha256);
	CU_ASSERT_STRING_EQUAL(got.sha1, c.row.sha1);
	CU_ASSERT_STRING_EQUAL(got.subject, "CN=www.example");
	CU_ASSERT_STRING_EQUAL(got.sans, "DNS:www.example");
	CU_ASSERT_STRING_EQUAL(got.template_name, "web-server");
	CU_ASSERT_EQUAL(got.not_after, NOW + 90 * DAY);
	CU_ASSERT_EQUAL(got.issued_at, c.row.issued_at);
	CU_ASSERT_EQUAL(got.status, SP_CERT_VALID);
	CU_ASSERT_EQUAL(got.revoked_at, 0);
	CU_ASSERT_EQUAL(got.revoke_reason, -1);
	CU_ASSERT_EQUAL_FATAL(got.der_len, sizeof c.der);
	CU_ASSERT_EQUAL(memcmp(got.der, c.der, sizeof c.der), 0);
	sp_cert_row_clear(&got);

	/* Serial typed lower-case with colons, as openssl prints fingerprints. */
	snprintf(key, sizeof key, "00:00:00:00:00:00:00:00:00:00:00:00:00:00:10:07");
	CU_ASSERT_EQUAL(sp_store_cert_get(st, key, &got), SP_OK);
	CU_ASSERT_STRING_EQUAL(got.serial, c.row.serial);
	sp_cert_row_clear(&got);

	/* SHA-256 upper-case with colons. */
	memset(key, 0, sizeof key);
	for (size_t i = 0, o = 0; i < 64; i += 2) {
		key[o++] = (char)(c.row.sha256[i] >= 'a' ? c.row.sha256[i] - 32 : c.row.sha256[i]);
		key[o++] = (char)(c.row.sha256[i + 1] >= 'a' ? c.row.sha256[i + 1] - 32 : c.row.sha256[i + 1]);
		if (i + 2 < 64)
			key[o++] = ':';
	}
	CU_ASSERT_EQUAL(sp_store_cert_get(st, key, &got), SP_OK);
	CU_ASSERT_STRING_EQUAL(got.serial, c.row.serial);
	sp_cert_row_clear(&got);

	/* SHA-1 thumbprint. */
	CU_ASSERT_EQUAL(sp_store_cert_get(st, c.row.sha1, &got), SP_OK);
	CU_ASSERT_STRING_EQUAL(got.serial, c.row.serial);
	sp_cert_row_clear(&got);

	/* Misses and nonsense. */
	CU_ASSERT_EQUAL(sp_store_cert_get(st, "DEAD", &got), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("DEAD"));
	CU_ASSERT_PTR_NULL(got.subject);
	CU_ASSERT_EQUAL(sp_store_cert_get(st, "not-hex", &got), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_cert_get(st, "", &got), SP_ERR_INPUT);
	sp_store_close(st);
}

static void test_cert_serial40_before_sha1(void)
{
	char path[4096];
	sp_store *st;
	test_cert a, b;
	sp_cert_row got;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	/* b's SHA-1 is, as digits, a's 40-digit serial: the serial wins. */
	make_cert(&a, 1, "web-server", "CN=a", "", NOW + DAY);
	memcpy(a.row.serial, "0123456789ABCDEF0123456789ABCDEF01234567", 41);
	make_cert(&b, 2, "web-server", "CN=b", "", NOW + DAY);
	memcpy(b.row.sha1, "0123456789abcdef0123456789abcdef01234567", 41);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &a.row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &b.row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, "0123456789abcdef0123456789abcdef01234567", &got), SP_OK);
	CU_ASSERT_STRING_EQUAL(got.subject, "CN=a");
	sp_cert_row_clear(&got);
	/* a's own thumbprint still finds a through the SHA-1 fallback. */
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, a.row.sha1, &got), SP_OK);
	CU_ASSERT_STRING_EQUAL(got.subject, "CN=a");
	sp_cert_row_clear(&got);
	sp_store_close(st);
}

static void test_cert_duplicate(void)
{
	char path[4096];
	sp_store *st;
	test_cert a, dup;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	make_cert(&a, 1, "web-server", "CN=a", "", NOW + DAY);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &a.row), SP_OK);

	make_cert(&dup, 2, "web-server", "CN=dup", "", NOW + DAY);
	memcpy(dup.row.serial, a.row.serial, sizeof a.row.serial);
	CU_ASSERT_EQUAL(sp_store_cert_insert(st, &dup.row), SP_ERR_EXISTS);
	CU_ASSERT(msg_has(a.row.serial));

	make_cert(&dup, 3, "web-server", "CN=dup", "", NOW + DAY);
	memcpy(dup.row.sha256, a.row.sha256, sizeof a.row.sha256);
	CU_ASSERT_EQUAL(sp_store_cert_insert(st, &dup.row), SP_ERR_EXISTS);
	CU_ASSERT(msg_has(a.row.sha256));

	/* A failed insert undoes only itself; the statement cache is usable
	 * and the transaction commits what succeeded. */
	make_cert(&dup, 4, "web-server", "CN=four", "", NOW + DAY);
	CU_ASSERT_EQUAL(sp_store_cert_insert(st, &dup.row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(cert_count(st), 2);
	CU_ASSERT_EQUAL(sp_store_serial_exists(st, a.row.serial), 1);

	/* Malformed identifiers never reach the table. */
	make_cert(&dup, 5, "web-server", "CN=five", "", NOW + DAY);
	dup.row.serial[0] = 'a'; /* lower-case serial */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_insert(st, &dup.row), SP_ERR_INPUT);
	make_cert(&dup, 6, "web-server", "CN=six", "", NOW + DAY);
	dup.row.sha256[10] = '\0';
	CU_ASSERT_EQUAL(sp_store_cert_insert(st, &dup.row), SP_ERR_INPUT);
	sp_store_rollback(st);
	CU_ASSERT_EQUAL(cert_count(st), 2);
	sp_store_close(st);
}

static void test_write_outside_transaction(void)
{
	char path[4096];
	sp_store *st;
	test_cert c;
	sp_request_row r;
	uint8_t csr[] = {0x30, 0x00};
	int64_t id = 0;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	make_cert(&c, 1, "web-server", "CN=a", "", NOW + DAY);
	CU_ASSERT_EQUAL(sp_store_cert_insert(st, &c.row), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));
	memset(&r, 0, sizeof r);
	r.template_name = "web-server";
	r.requester = "cli:root";
	r.csr_der = csr;
	r.csr_der_len = sizeof csr;
	CU_ASSERT_EQUAL(sp_store_request_insert(st, &r, &id), SP_ERR_DB);
	CU_ASSERT_EQUAL(sp_store_request_set_status(st, 1, SP_REQ_APPROVED, NULL, NULL), SP_ERR_DB);
	CU_ASSERT_EQUAL(sp_store_audit_append(st, "cli:root", "test", "", ""), SP_ERR_DB);
	CU_ASSERT(msg_has("audit append outside a transaction"));
	CU_ASSERT_EQUAL(sp_store_commit(st), SP_ERR_DB);
	CU_ASSERT_EQUAL(cert_count(st), 0);
	sp_store_close(st);
}

static void test_rollback(void)
{
	char path[4096];
	sp_store *st;
	test_cert c;
	int64_t rows = -1, bad = -1;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	sp_store_rollback(st); /* none open: harmless */
	make_cert(&c, 1, "web-server", "CN=a", "", NOW + DAY);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_begin(st), SP_ERR_DB); /* no nesting */
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c.row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_audit_append(st, "cli:root", "issue", c.row.serial, ""), SP_OK);
	sp_store_rollback(st);
	CU_ASSERT_EQUAL(cert_count(st), 0);
	CU_ASSERT_EQUAL(sp_store_serial_exists(st, c.row.serial), 0);
	/* The audit head went back with the row. */
	CU_ASSERT_EQUAL(sp_store_audit_verify(st, &rows, &bad), SP_OK);
	CU_ASSERT_EQUAL(rows, 0);
	sp_store_close(st);

	/* Closing with a transaction open is a rollback too. */
	st = open_store(path);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c.row), SP_OK);
	sp_store_close(st);
	st = open_store(path);
	CU_ASSERT_EQUAL(cert_count(st), 0);
	sp_store_close(st);
}

/* Collects the subjects a walk yields, in order. */
typedef struct {
	char subjects[16][64];
	int n;
	int der_seen;
	int stop_with;
} collect;

static int collect_cb(const sp_cert_row *row, void *arg)
{
	collect *c = arg;
	if (c->n < 16)
		snprintf(c->subjects[c->n++], sizeof c->subjects[0], "%s", row->subject);
	if (row->der && row->der_len > 0)
		c->der_seen++;
	return c->stop_with;
}

static int list_n(sp_store *st, const sp_cert_filter *f, collect *c)
{
	memset(c, 0, sizeof *c);
	CU_ASSERT_EQUAL(sp_store_cert_list(st, f, collect_cb, c), SP_OK);
	return c->n;
}

static void test_cert_list_filters(void)
{
	char path[4096];
	sp_store *st;
	test_cert c[6];
	collect got;
	sp_cert_filter f;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	make_cert(&c[0], 1, "web-server", "CN=alpha.example", "DNS:alpha.example", NOW + 100 * DAY);
	make_cert(&c[1], 2, "client-auth", "CN=100%_off", "", NOW + 10 * DAY);
	make_cert(&c[2], 3, "web-server", "CN=1000xoff", "", NOW - DAY);
	make_cert(&c[3], 4, "web-server", "CN=Beta.Example", "DNS:www.beta.example", NOW + 50 * DAY);
	c[3].row.status = SP_CERT_REVOKED;
	c[3].row.revoked_at = NOW - 10;
	c[3].row.revoke_reason = 1;
	make_cert(&c[4], 5, "client-auth", "CN=gamma", "UPN:g@example", NOW + 200 * DAY);
	c[4].row.status = SP_CERT_HOLD;
	c[4].row.revoked_at = NOW - 5;
	c[4].row.revoke_reason = 6;
	/* Issued first although inserted last: the walk orders by issued_at. */
	make_cert(&c[5], 6, "web-server", "CN=early", "", NOW + 300 * DAY);
	c[5].row.issued_at = NOW - 5000;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c[i].row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	/* Everything, in issue order; no DER unless asked for. */
	CU_ASSERT_EQUAL(list_n(st, NULL, &got), 6);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=early");
	CU_ASSERT_STRING_EQUAL(got.subjects[1], "CN=alpha.example");
	CU_ASSERT_STRING_EQUAL(got.subjects[5], "CN=gamma");
	CU_ASSERT_EQUAL(got.der_seen, 0);
	memset(&f, 0, sizeof f);
	f.now = NOW;
	f.with_der = 1;
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 6);
	CU_ASSERT_EQUAL(got.der_seen, 6);

	memset(&f, 0, sizeof f);
	f.now = NOW;
	f.template_name = "web-server";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 4);

	f.status = "valid"; /* web-server and valid: not the expired, not the revoked */
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 2);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=early");
	CU_ASSERT_STRING_EQUAL(got.subjects[1], "CN=alpha.example");

	memset(&f, 0, sizeof f);
	f.now = NOW;
	f.status = "valid";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 3);
	f.status = "expired";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=1000xoff");
	f.status = "revoked";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=Beta.Example");
	f.status = "hold";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=gamma");
	f.status = "bogus";
	CU_ASSERT_EQUAL(sp_store_cert_list(st, &f, collect_cb, &got), SP_ERR_INPUT);
	CU_ASSERT(msg_has("bogus"));

	/* Expiring within 60 days: not the one already expired. */
	memset(&f, 0, sizeof f);
	f.now = NOW;
	f.expiring_before = NOW + 60 * DAY;
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 2);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=100%_off");
	CU_ASSERT_STRING_EQUAL(got.subjects[1], "CN=Beta.Example");
	f.status = "valid";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);

	/* Substring of subject or SANs, any case; % and _ are literal. */
	memset(&f, 0, sizeof f);
	f.now = NOW;
	f.subject_like = "BETA";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	f.subject_like = "www.beta";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	f.subject_like = "upn:G@";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=gamma");
	f.subject_like = "100%_off";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	CU_ASSERT_STRING_EQUAL(got.subjects[0], "CN=100%_off");
	f.subject_like = "_";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	f.subject_like = "%";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 1);
	f.subject_like = "x' OR 1=1 --";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 0);
	f.subject_like = "example";
	f.template_name = "web-server";
	CU_ASSERT_EQUAL(list_n(st, &f, &got), 2);

	/* A callback stops the walk: its own sp_err comes back as is,
	 * anything else as SP_ERR_INTERNAL. */
	memset(&got, 0, sizeof got);
	got.stop_with = SP_ERR_POLICY;
	CU_ASSERT_EQUAL(sp_store_cert_list(st, NULL, collect_cb, &got), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(got.n, 1);
	memset(&got, 0, sizeof got);
	got.stop_with = 4242;
	CU_ASSERT_EQUAL(sp_store_cert_list(st, NULL, collect_cb, &got), SP_ERR_INTERNAL);
	sp_store_close(st);
}

static void test_cert_bulk_insert(void)
{
	enum { N = 5000 };
	char path[4096];
	sp_store *st;
	test_cert c;
	sp_cert_row got;
	int64_t n = 0;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	/* Correctness only: the speed is bench/'s business, not a test's. */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	for (unsigned i = 0; i < N; i++) {
		make_cert(&c, i, i % 2 ? "web-server" : "client-auth", "CN=bulk", "", NOW + DAY);
		if (sp_store_cert_insert(st, &c.row) != SP_OK) {
			CU_FAIL("bulk insert");
			break;
		}
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_count(st, &n), SP_OK);
	CU_ASSERT_EQUAL(n, N);
	make_cert(&c, N - 1, "web-server", "CN=bulk", "", NOW + DAY);
	CU_ASSERT_EQUAL(sp_store_cert_get(st, c.row.serial, &got), SP_OK);
	CU_ASSERT_STRING_EQUAL(got.sha256, c.row.sha256);
	sp_cert_row_clear(&got);
	make_cert(&c, N / 2, "web-server", "CN=bulk", "", NOW + DAY);
	CU_ASSERT_EQUAL(sp_store_serial_exists(st, c.row.serial), 1);
	CU_ASSERT_EQUAL(sp_store_integrity_check(st), SP_OK);
	sp_store_close(st);
}

/* ------------------------------------------------------------- requests */

static int count_req_cb(const sp_request_row *row, void *arg)
{
	int *n = arg;
	(void)row;
	(*n)++;
	return 0;
}

static void test_requests(void)
{
	char path[4096];
	sp_store *st;
	sp_request_row r, got;
	uint8_t csr[] = {0x30, 0x82, 0x01, 0x00, 0xaa};
	int64_t id1 = 0, id2 = 0;
	int n;

	tmp_path(path, sizeof path, "store.db");
	st = create_store(path);
	memset(&r, 0, sizeof r);
	r.template_name = "web-server";
	r.requester = "est:token:7";
	r.subject = "CN=host.example";
	r.status = SP_REQ_PENDING;
	r.detail = "dns=host.example";
	r.csr_der = csr;
	r.csr_der_len = sizeof csr;
	r.created_at = NOW;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_insert(st, &r, &id1), SP_OK);
	r.subject = "CN=other.example";
	r.detail = NULL;
	CU_ASSERT_EQUAL_FATAL(sp_store_request_insert(st, &r, &id2), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT(id1 > 0 && id2 > id1);

	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st, id1, &got), SP_OK);
	CU_ASSERT_EQUAL(got.id, id1);
	CU_ASSERT_STRING_EQUAL(got.template_name, "web-server");
	CU_ASSERT_STRING_EQUAL(got.requester, "est:token:7");
	CU_ASSERT_STRING_EQUAL(got.subject, "CN=host.example");
	CU_ASSERT_STRING_EQUAL(got.cert_serial, "");
	CU_ASSERT_STRING_EQUAL(got.detail, "dns=host.example");
	CU_ASSERT_EQUAL(got.status, SP_REQ_PENDING);
	CU_ASSERT_EQUAL(got.created_at, NOW);
	CU_ASSERT_EQUAL_FATAL(got.csr_der_len, sizeof csr);
	CU_ASSERT_EQUAL(memcmp(got.csr_der, csr, sizeof csr), 0);
	sp_request_row_clear(&got);

	n = 0;
	CU_ASSERT_EQUAL(sp_store_request_list(st, SP_REQ_PENDING, count_req_cb, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 2);

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	/* Approve keeps the detail; issue records the serial. */
	CU_ASSERT_EQUAL(sp_store_request_set_status(st, id1, SP_REQ_APPROVED, NULL, NULL), SP_OK);
	CU_ASSERT_EQUAL(sp_store_request_set_status(st, id1, SP_REQ_ISSUED, "0A1B", NULL), SP_OK);
	CU_ASSERT_EQUAL(sp_store_request_set_status(st, id2, SP_REQ_REJECTED, NULL, "name not allowed"), SP_OK);
	CU_ASSERT_EQUAL(sp_store_request_set_status(st, 9999, SP_REQ_APPROVED, NULL, NULL), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_store_request_set_status(st, id1, 17, NULL, NULL), SP_ERR_INPUT);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st, id1, &got), SP_OK);
	CU_ASSERT_EQUAL(got.status, SP_REQ_ISSUED);
	CU_ASSERT_STRING_EQUAL(got.cert_serial, "0A1B");
	CU_ASSERT_STRING_EQUAL(got.detail, "dns=host.example");
	CU_ASSERT(got.updated_at >= got.created_at);
	sp_request_row_clear(&got);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st, id2, &got), SP_OK);
	CU_ASSERT_EQUAL(got.status, SP_REQ_REJECTED);
	CU_ASSERT_STRING_EQUAL(got.detail, "name not allowed");
	sp_request_row_clear(&got);
	CU_ASSERT_EQUAL(sp_store_request_get(st, 9999, &got), SP_ERR_NOTFOUND);

	n = 0;
	CU_ASSERT_EQUAL(sp_store_request_list(st, SP_REQ_PENDING, count_req_cb, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 0);
	n = 0;
	CU_ASSERT_EQUAL(sp_store_request_list(st, SP_REQ_ISSUED, count_req_cb, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 1);
	n = 0;
	CU_ASSERT_EQUAL(sp_store_request_list(st, -1, count_req_cb, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 2);
	sp_store_close(st);
}

/* ---------------------------------------------------------------- audit */

/* A store with five audit rows, closed. */
static void audit_fixture(char *path, size_t pathsz)
{
	sp_store *st;
	char subject[32];

	tmp_path(path, pathsz, "store.db");
	st = create_store(path);
	for (int i = 1; i <= 5; i++) {
		snprintf(subject, sizeof subject, "serial-%d", i);
		CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
		CU_ASSERT_EQUAL_FATAL(sp_store_audit_append(st, "cli:root", "cert.issue", subject, "template=web-server"),
				      SP_OK);
		CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	}
	sp_store_close(st);
}

static sp_err verify_path(const char *path, int64_t *rows, int64_t *bad)
{
	sp_store *st = open_store(path);
	sp_err err = sp_store_audit_verify(st, rows, bad);
	sp_store_close(st);
	return err;
}

static int count_audit_cb(const sp_audit_row *row, void *arg)
{
	int64_t *ids = arg;
	ids[++ids[0]] = row->id;
	return 0;
}

static void put_field(uint8_t *buf, size_t *o, const char *s)
{
	uint64_t n = strlen(s);
	for (int i = 7; i >= 0; i--)
		buf[(*o)++] = (uint8_t)(n >> (8 * i));
	memcpy(buf + *o, s, n);
	*o += n;
}

static void test_audit_append_verify(void)
{
	char path[4096], stored[80], prev[80], t[32], expect[65], sql[128];
	sp_store *st;
	int64_t rows = 0, bad = -1, ids[8] = {0};
	uint8_t buf[512], digest[32];
	size_t o = 0;

	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL(verify_path(path, &rows, &bad), SP_OK);
	CU_ASSERT_EQUAL(rows, 5);
	CU_ASSERT_EQUAL(bad, 0);

	st = open_store(path);
	CU_ASSERT_EQUAL(sp_store_audit_list(st, 2, count_audit_cb, ids), SP_OK);
	CU_ASSERT_EQUAL(ids[0], 2);
	CU_ASSERT_EQUAL(ids[1], 4); /* newest two, oldest first */
	CU_ASSERT_EQUAL(ids[2], 5);
	memset(ids, 0, sizeof ids);
	CU_ASSERT_EQUAL(sp_store_audit_list(st, 0, count_audit_cb, ids), SP_OK);
	CU_ASSERT_EQUAL(ids[0], 5);
	/* Verifying inside a caller's transaction works too. */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_audit_append(st, "svc", "cert.revoke", "", ""), SP_OK);
	CU_ASSERT_EQUAL(sp_store_audit_verify(st, &rows, &bad), SP_OK);
	CU_ASSERT_EQUAL(rows, 6);
	sp_store_rollback(st);
	sp_store_close(st);

	/* The documented format, recomputed independently for row 2. */
	CU_ASSERT_EQUAL(raw_query(path, "SELECT hash FROM audit WHERE id = 2", stored, sizeof stored), SQLITE_OK);
	CU_ASSERT_EQUAL(raw_query(path, "SELECT hash FROM audit WHERE id = 1", prev, sizeof prev), SQLITE_OK);
	CU_ASSERT_EQUAL(raw_query(path, "SELECT time FROM audit WHERE id = 2", t, sizeof t), SQLITE_OK);
	put_field(buf, &o, prev);
	put_field(buf, &o, "2");
	put_field(buf, &o, t);
	put_field(buf, &o, "cli:root");
	put_field(buf, &o, "cert.issue");
	put_field(buf, &o, "serial-2");
	put_field(buf, &o, "template=web-server");
	sp_sha256(buf, o, digest);
	sp_hex(digest, sizeof digest, expect, 0);
	CU_ASSERT_STRING_EQUAL(stored, expect);
	CU_ASSERT_EQUAL(raw_query(path, "SELECT prev_hash FROM audit WHERE id = 1", prev, sizeof prev), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(prev, "0000000000000000000000000000000000000000000000000000000000000000");
	snprintf(sql, sizeof sql, "SELECT value FROM meta WHERE key = 'audit_head_id'");
	CU_ASSERT_EQUAL(raw_query(path, sql, t, sizeof t), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(t, "5");
}

static void test_audit_append_only_trigger(void)
{
	char path[4096];

	audit_fixture(path, sizeof path);
	CU_ASSERT_NOT_EQUAL(raw_exec(path, "UPDATE audit SET detail = 'x' WHERE id = 2"), SQLITE_OK);
	CU_ASSERT_NOT_EQUAL(raw_exec(path, "DELETE FROM audit WHERE id = 2"), SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, NULL, NULL), SP_OK);
}

#define DROP_TRIGGERS "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;"

static void test_audit_tamper_edit(void)
{
	char path[4096];
	int64_t rows = 0, bad = 0;

	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, DROP_TRIGGERS "UPDATE audit SET detail = 'template=ca' WHERE id = 3"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, &rows, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(bad, 3);
	CU_ASSERT(msg_has("row 3"));
}

static void test_audit_tamper_shift_boundary(void)
{
	char path[4096];
	int64_t bad = 0;

	/* Same concatenation, different split: "cert.issue"+"serial-2" ->
	 * "cert.issues"+"erial-2". Only length prefixes catch this. */
	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, DROP_TRIGGERS "UPDATE audit SET action = 'cert.issues',"
							   " subject = 'erial-2' WHERE id = 2"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, NULL, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(bad, 2);
}

static void test_audit_tamper_delete_middle(void)
{
	char path[4096];
	int64_t bad = 0;

	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, DROP_TRIGGERS "DELETE FROM audit WHERE id = 3"), SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, NULL, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(bad, 4);
	CU_ASSERT(msg_has("row 4"));

	/* Renumbering to close the gap does not help: row 4's predecessor
	 * hash still names the deleted row. */
	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, DROP_TRIGGERS "DELETE FROM audit WHERE id = 3;"
							   "UPDATE audit SET id = id - 1 WHERE id > 3;"
							   "UPDATE meta SET value = '4' WHERE key = 'audit_head_id'"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, NULL, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(bad, 3);
}

static void test_audit_tamper_delete_newest(void)
{
	char path[4096];
	int64_t rows = 0, bad = -1;
	sp_store *st;

	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, DROP_TRIGGERS "DELETE FROM audit WHERE id = 5"), SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, &rows, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(rows, 4);
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(msg_has("head"));

	/* Appending afterwards does not paper over the cut. */
	st = open_store(path);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_audit_append(st, "cli:root", "after", "", ""), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_audit_verify(st, &rows, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(bad, 6);
	sp_store_close(st);
}

static void test_audit_tamper_swap(void)
{
	char path[4096];
	int64_t bad = 0;

	/* Swap what two rows say, leaving their hashes in place. */
	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, DROP_TRIGGERS
					   "UPDATE audit SET subject = CASE id WHEN 2 THEN 'serial-4' ELSE 'serial-2' END"
					   " WHERE id IN (2, 4)"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, NULL, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(bad, 2);

	/* Swap whole rows, hashes and all (a reorder). */
	audit_fixture(path, sizeof path);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, DROP_TRIGGERS "UPDATE audit SET id = -2 WHERE id = 2;"
							   "UPDATE audit SET id = 2 WHERE id = 3;"
							   "UPDATE audit SET id = 3 WHERE id = -2;"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(verify_path(path, NULL, &bad), SP_ERR_DB);
	CU_ASSERT_EQUAL(bad, 2);
}

/* ---------------------------------------------------------- concurrency */

static void test_two_writers(void)
{
	char path[4096];
	int go[2], locked[2];
	pid_t pid;
	int status = -1;
	char byte;
	sp_store *st;
	sp_err err;
	test_cert a, b;

	tmp_path(path, sizeof path, "store.db");
	sp_store_close(create_store(path));
	make_cert(&a, 1, "web-server", "CN=from-child", "", NOW + DAY);
	make_cert(&b, 2, "web-server", "CN=from-parent", "", NOW + DAY);
	CU_ASSERT_FATAL(pipe(go) == 0 && pipe(locked) == 0);
	fflush(NULL);
	/* Fork before either side opens the store: an SQLite connection must
	 * never cross a fork. */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* The other process (think: the CLI while the service runs).
		 * _exit, not exit: the parent owns the temporary directories. */
		sp_store *cst = NULL;
		struct timespec hold = {0, 500 * 1000 * 1000};
		int rc = 1;
		close(go[1]);
		close(locked[0]);
		if (read(go[0], &byte, 1) == 1 && sp_store_open(path, 0, &cst) == SP_OK &&
		    sp_store_begin(cst) == SP_OK && sp_store_cert_insert(cst, &a.row) == SP_OK &&
		    write(locked[1], "x", 1) == 1) {
			nanosleep(&hold, NULL); /* hold the write lock a while */
			rc = sp_store_commit(cst) == SP_OK ? 0 : 1;
		}
		sp_store_close(cst);
		_exit(rc);
	}
	close(go[0]);
	close(locked[1]);
	/* Open first, so that the begin below is what meets the lock. */
	st = open_store(path);
	CU_ASSERT_EQUAL(write(go[1], "x", 1), 1);
	close(go[1]);
	CU_ASSERT_EQUAL(read(locked[0], &byte, 1), 1);
	close(locked[0]);
	/* The child holds the write lock now: this must wait for it
	 * (busy_timeout), not fail with "database is locked". */
	err = sp_store_begin(st);
	if (err)
		fprintf(stderr, "begin: %s\n", sp_last_error());
	CU_ASSERT_EQUAL(err, SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_insert(st, &b.row), SP_OK);
	CU_ASSERT_EQUAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(cert_count(st), 2);
	CU_ASSERT_EQUAL(sp_store_serial_exists(st, a.row.serial), 1);
	sp_store_close(st);
}

/* --------------------------------------------------------------- suites */

static const sp_unit_test open_tests[] = {
	{"create refuses an existing file", test_create_refuses_existing},
	{"create refuses a stale -wal", test_create_refuses_stale_wal},
	{"store, -wal and -shm are 0600 whatever the umask", test_file_modes},
	{"open refuses 0644, missing, empty and foreign files", test_open_refuses_loose_or_missing},
	{"store file may not be a symlink; linked directories are fine", test_symlinks},
	{"WAL, synchronous=FULL, foreign keys, busy timeout", test_pragmas},
	{NULL, NULL},
};

static const sp_unit_test schema_tests[] = {
	{"fresh store is at the current version", test_fresh_store_version},
	{"store from the future is refused", test_future_version_refused},
	{NULL, NULL},
};

static const sp_unit_test row_tests[] = {
	{"CA put/get round trip", test_ca_roundtrip},
	{"certificate insert and get by serial, sha256, sha1", test_cert_insert_get},
	{"40-digit key: serial before SHA-1", test_cert_serial40_before_sha1},
	{"duplicate serial or sha256 is SP_ERR_EXISTS", test_cert_duplicate},
	{"writes outside a transaction are refused", test_write_outside_transaction},
	{"rollback leaves nothing", test_rollback},
	{"list filters", test_cert_list_filters},
	{"5000 inserts in one transaction", test_cert_bulk_insert},
	{"requests insert/get/set_status/list", test_requests},
	{NULL, NULL},
};

static const sp_unit_test audit_tests[] = {
	{"append and verify; documented hash format", test_audit_append_verify},
	{"triggers refuse UPDATE and DELETE", test_audit_append_only_trigger},
	{"edited row is named", test_audit_tamper_edit},
	{"field boundary shift is caught", test_audit_tamper_shift_boundary},
	{"deleted middle row is caught", test_audit_tamper_delete_middle},
	{"deleted newest row is caught by the head", test_audit_tamper_delete_newest},
	{"swapped rows are caught", test_audit_tamper_swap},
	{NULL, NULL},
};

static const sp_unit_test concurrency_tests[] = {
	{"second writer waits, no 'database is locked'", test_two_writers},
	{NULL, NULL},
};

/* ------------------------------------------------------------------ vfs */

/* A certificate row whose DER is `len` bytes of `der`: rows that big make
 * a transaction of many WAL frames. */
static void make_sized_cert(test_cert *c, unsigned n, uint8_t *der, size_t len)
{
	make_cert(c, n, "web-server", "CN=vfs", "", NOW + DAY);
	for (size_t i = 0; i < len; i++)
		der[i] = (uint8_t)(n * 31u + i);
	c->row.der = der;
	c->row.der_len = len;
}

/* Insert certificates n0 .. n0+count-1 of `len` DER bytes each; the
 * caller holds the transaction. */
static void insert_sized(sp_store *st, unsigned n0, unsigned count, size_t len)
{
	uint8_t *der = malloc(len);
	test_cert c;

	CU_ASSERT_FATAL(der != NULL);
	for (unsigned i = n0; i < n0 + count; i++) {
		make_sized_cert(&c, i, der, len);
		if (sp_store_cert_insert(st, &c.row) != SP_OK) {
			CU_FAIL("insert");
			break;
		}
	}
	free(der);
}

/* Rows as seen by a connection of our own (the default VFS), or -1. */
static int64_t raw_cert_count(const char *path)
{
	char v[32];
	if (raw_query(path, "SELECT count(*) FROM certificate", v, sizeof v) != SQLITE_OK)
		return -1;
	return strtoll(v, NULL, 10);
}

static void test_vfs_one_write_per_commit(void)
{
	char path[4096];
	sp_store *st;
	sqlite3_int64 w0, w1;

	tmp_path(path, sizeof path, "vfs-one.db");
	st = create_store(path);
	w0 = sps_vfs_wal_writes(st->db);
	CU_ASSERT_FATAL(w0 >= 0); /* the WAL is open through the store's VFS */
	/* eight certificate-sized rows: about twenty pages, one commit */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	insert_sized(st, 1, 8, 700);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	w1 = sps_vfs_wal_writes(st->db);
	CU_ASSERT_EQUAL(w1 - w0, 1);
	/* and another process's connection reads them */
	CU_ASSERT_EQUAL(raw_cert_count(path), 8);
	sp_store_close(st);
}

/* A commit far larger than one run (the unix VFS writes at most 0x1ffff
 * bytes per call): several writes, all of them reaching the file. */
static void test_vfs_large_commit(void)
{
	char path[4096], v[64];
	sp_store *st;
	sqlite3_int64 w0, w1;

	tmp_path(path, sizeof path, "vfs-large.db");
	st = create_store(path);
	w0 = sps_vfs_wal_writes(st->db);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	insert_sized(st, 1, 300, 3000); /* ~1.2 MB of rows, ~330 frames */
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	w1 = sps_vfs_wal_writes(st->db);
	CU_ASSERT(w1 - w0 >= 10 && w1 - w0 <= 40);
	CU_ASSERT_EQUAL(raw_cert_count(path), 300);
	CU_ASSERT_EQUAL(raw_query(path, "PRAGMA integrity_check", v, sizeof v), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(v, "ok");
	sp_store_close(st);
}

/* A transaction bigger than the page cache spills frames into the WAL
 * before its commit and reads them back; rolled back, none of it shows,
 * and the next commit is whole. */
static void test_vfs_spill_rollback(void)
{
	char path[4096], v[64];
	sp_store *st;
	sp_cert_row got;
	test_cert c;
	uint8_t der[3000];

	tmp_path(path, sizeof path, "vfs-spill.db");
	st = create_store(path);
	CU_ASSERT_EQUAL_FATAL(sqlite3_exec(st->db, "PRAGMA cache_size = 10", NULL, NULL, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	insert_sized(st, 1, 200, sizeof der);
	/* an early row, long spilled, reads back exactly */
	make_sized_cert(&c, 3, der, sizeof der);
	memset(&got, 0, sizeof got);
	CU_ASSERT_EQUAL(sp_store_cert_get(st, c.row.serial, &got), SP_OK);
	CU_ASSERT(got.der_len == sizeof der && memcmp(got.der, der, sizeof der) == 0);
	sp_cert_row_clear(&got);
	sp_store_rollback(st);
	CU_ASSERT_EQUAL(raw_cert_count(path), 0);
	CU_ASSERT_EQUAL(cert_count(st), 0);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	insert_sized(st, 500, 50, sizeof der);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(raw_cert_count(path), 50);
	CU_ASSERT_EQUAL(raw_query(path, "PRAGMA integrity_check", v, sizeof v), SQLITE_OK);
	CU_ASSERT_STRING_EQUAL(v, "ok");
	sp_store_close(st);
}

static const sp_unit_test vfs_tests[] = {
	{"a commit reaches the WAL in one write", test_vfs_one_write_per_commit},
	{"a commit larger than one run: several writes, all there", test_vfs_large_commit},
	{"frames spilled before a rollback: read back, then gone", test_vfs_spill_rollback},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"store.open", open_tests},
	{"store.schema", schema_tests},
	{"store.rows", row_tests},
	{"store.audit", audit_tests},
	{"store.concurrency", concurrency_tests},
	{"store.vfs", vfs_tests},
	{NULL, NULL},
};
