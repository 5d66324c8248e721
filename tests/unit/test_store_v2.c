/*
 * test_store_v2.c - store schema v2: settings, revocation state changes and
 * the revocation sequence, the full and delta walks, CRL rows, the block
 * list, and the migration of a v1 store.
 *
 * Every test makes its own store; none depends on another's leftovers or on
 * the order they run in. No timings are asserted (docs/store.md has the
 * measured figures).
 */
#include "unit.h"

#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* SQL on a connection of our own, as a tester with the file would. */
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

typedef struct {
	sp_cert_row row;
	uint8_t der[16];
} test_cert;

/* Serials are %032X of n + 0x1000, so serial order is n order. */
static void make_cert(test_cert *c, unsigned n, int64_t not_after)
{
	memset(c, 0, sizeof *c);
	snprintf(c->row.serial, sizeof c->row.serial, "%032X", n + 0x1000u);
	snprintf(c->row.sha256, sizeof c->row.sha256, "%064x", n + 0xa000u);
	snprintf(c->row.sha1, sizeof c->row.sha1, "%040x", n + 0xb000u);
	c->row.subject = (char *)"CN=test";
	c->row.sans = (char *)"";
	c->row.template_name = (char *)"web-server";
	c->row.not_before = not_after - 365 * DAY;
	c->row.not_after = not_after;
	c->row.issued_at = NOW - 1000 + n;
	c->row.status = SP_CERT_VALID;
	c->row.revoke_reason = -1;
	for (size_t i = 0; i < sizeof c->der; i++)
		c->der[i] = (uint8_t)(n + i);
	c->row.der = c->der;
	c->row.der_len = sizeof c->der;
}

static void serial_of(unsigned n, char out[41])
{
	snprintf(out, 41, "%032X", n + 0x1000u);
}

/* Insert certificates 1..n (valid, not expiring) in one transaction. */
static void insert_n(sp_store *st, unsigned n)
{
	test_cert c;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	for (unsigned i = 1; i <= n; i++) {
		make_cert(&c, i, NOW + 365 * DAY);
		CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c.row), SP_OK);
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
}

static int64_t seq_now(sp_store *st)
{
	int64_t seq = -1;
	CU_ASSERT_EQUAL(sp_store_revocation_seq(st, &seq), SP_OK);
	return seq;
}

/* Revoke/hold/release certificate n in a transaction of its own. */
static sp_err revoke_n(sp_store *st, unsigned n, int reason, int64_t when)
{
	char serial[41];
	sp_err err;
	serial_of(n, serial);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	err = sp_store_cert_revoke(st, serial, reason, when);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	return err;
}

static sp_err release_n(sp_store *st, unsigned n, int64_t when)
{
	char serial[41];
	sp_err err;
	serial_of(n, serial);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	err = sp_store_cert_release(st, serial, when);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	return err;
}

static void get_n(sp_store *st, unsigned n, sp_cert_row *out)
{
	char serial[41];
	serial_of(n, serial);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, serial, out), SP_OK);
}

/* What a revocation walk yields, in order. */
#define WALK_MAX 64
typedef struct {
	struct {
		char serial[41];
		int64_t revoked_at, not_after, seq;
		int reason;
	} e[WALK_MAX];
	int n;      /* entries seen (may exceed WALK_MAX) */
	int stop_at; /* return non-zero on this 1-based entry; 0 = never */
	int stop_with;
} walk;

static int walk_cb(const sp_revoked_entry *e, void *arg)
{
	walk *w = arg;
	if (w->n < WALK_MAX) {
		snprintf(w->e[w->n].serial, sizeof w->e[0].serial, "%s", e->serial);
		w->e[w->n].revoked_at = e->revoked_at;
		w->e[w->n].not_after = e->not_after;
		w->e[w->n].seq = e->seq;
		w->e[w->n].reason = e->reason;
	}
	w->n++;
	return w->stop_at && w->n == w->stop_at ? w->stop_with : 0;
}

static int walk_run(sp_store *st, int64_t since, int64_t expired_before, walk *w)
{
	memset(w, 0, sizeof *w);
	CU_ASSERT_EQUAL(sp_store_revoked_list(st, since, expired_before, walk_cb, w), SP_OK);
	return w->n;
}

/* Entry i is certificate n with this reason. */
static int walk_is(const walk *w, int i, unsigned n, int reason)
{
	char serial[41];
	serial_of(n, serial);
	if (i < w->n && i < WALK_MAX && strcmp(w->e[i].serial, serial) == 0 && w->e[i].reason == reason)
		return 1;
	fprintf(stderr, "walk entry %d: want cert %u reason %d, got %s reason %d\n", i, n, reason,
		i < w->n && i < WALK_MAX ? w->e[i].serial : "(none)", i < w->n && i < WALK_MAX ? w->e[i].reason : -99);
	return 0;
}

/* ------------------------------------------------------------ settings */

static void test_settings(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	char *v = (char *)"untouched";

	CU_ASSERT_EQUAL(sp_store_setting_get(st, "crl.validity", &v), SP_ERR_NOTFOUND);
	CU_ASSERT_STRING_EQUAL(v, "untouched");
	CU_ASSERT(msg_has("crl.validity"));

	CU_ASSERT_EQUAL(sp_store_setting_set(st, "crl.validity", "7d"), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_setting_set(st, "crl.validity", "7d"), SP_OK);
	CU_ASSERT_EQUAL(sp_store_setting_set(st, "crl.delta", ""), SP_OK); /* empty is a value */
	CU_ASSERT_EQUAL(sp_store_setting_set(st, "", "x"), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_setting_set(st, NULL, "x"), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_setting_set(st, "k", NULL), SP_ERR_INPUT);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	CU_ASSERT_EQUAL_FATAL(sp_store_setting_get(st, "crl.validity", &v), SP_OK);
	CU_ASSERT_STRING_EQUAL(v, "7d");
	free(v);
	CU_ASSERT_EQUAL_FATAL(sp_store_setting_get(st, "crl.delta", &v), SP_OK);
	CU_ASSERT_STRING_EQUAL(v, "");
	free(v);
	CU_ASSERT_EQUAL(sp_store_setting_get(st, "", &v), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_setting_get(st, "crl.validity", NULL), SP_ERR_INPUT);

	/* set replaces, and the value survives a reopen */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_setting_set(st, "crl.validity", "1d"), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	sp_store_close(st);
	st = open_store(path);
	CU_ASSERT_EQUAL_FATAL(sp_store_setting_get(st, "crl.validity", &v), SP_OK);
	CU_ASSERT_STRING_EQUAL(v, "1d");
	free(v);
	/* a rolled-back set leaves the old value */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_setting_set(st, "crl.validity", "2d"), SP_OK);
	sp_store_rollback(st);
	CU_ASSERT_EQUAL_FATAL(sp_store_setting_get(st, "crl.validity", &v), SP_OK);
	CU_ASSERT_STRING_EQUAL(v, "1d");
	free(v);
	sp_store_close(st);
}

/* ----------------------------------------------------------- revocation */

static void test_revoke_transitions(void)
{
	char path[4096], serial[41];
	sp_store *st = new_store(path, sizeof path);
	sp_cert_row r;

	insert_n(st, 4);

	/* VALID -> REVOKED */
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_KEY_COMPROMISE, NOW + 10), SP_OK);
	get_n(st, 1, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_REVOKED);
	CU_ASSERT_EQUAL(r.revoked_at, NOW + 10);
	CU_ASSERT_EQUAL(r.revoke_reason, SP_REASON_KEY_COMPROMISE);
	sp_cert_row_clear(&r);

	/* REVOKED is final: neither a second revocation nor a hold */
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_SUPERSEDED, NOW + 20), SP_ERR_EXISTS);
	CU_ASSERT(msg_has("already revoked"));
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_CERTIFICATE_HOLD, NOW + 20), SP_ERR_EXISTS);
	get_n(st, 1, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_REVOKED);
	CU_ASSERT_EQUAL(r.revoked_at, NOW + 10);
	CU_ASSERT_EQUAL(r.revoke_reason, SP_REASON_KEY_COMPROMISE);
	sp_cert_row_clear(&r);

	/* VALID -> HOLD; hold again refused; HOLD -> REVOKED with a final reason */
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_CERTIFICATE_HOLD, NOW + 30), SP_OK);
	get_n(st, 2, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_HOLD);
	CU_ASSERT_EQUAL(r.revoked_at, NOW + 30);
	CU_ASSERT_EQUAL(r.revoke_reason, SP_REASON_CERTIFICATE_HOLD);
	sp_cert_row_clear(&r);
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_CERTIFICATE_HOLD, NOW + 40), SP_ERR_EXISTS);
	CU_ASSERT(msg_has("on hold"));
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_CESSATION_OF_OPERATION, NOW + 50), SP_OK);
	get_n(st, 2, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_REVOKED);
	CU_ASSERT_EQUAL(r.revoked_at, NOW + 50);
	CU_ASSERT_EQUAL(r.revoke_reason, SP_REASON_CESSATION_OF_OPERATION);
	sp_cert_row_clear(&r);

	/* unknown serial, named */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_revoke(st, "0DEADBEEF0", SP_REASON_UNSPECIFIED, NOW), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("0DEADBEEF0"));
	CU_ASSERT_EQUAL(sp_store_cert_revoke(st, "", SP_REASON_UNSPECIFIED, NOW), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_cert_revoke(st, NULL, SP_REASON_UNSPECIFIED, NOW), SP_ERR_INPUT);

	/* reasons that are not revocations */
	serial_of(3, serial);
	{
		static const int bad[] = {SP_REASON_REMOVE_FROM_CRL, 7, -1, 11, 1000};
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			CU_ASSERT_EQUAL(sp_store_cert_revoke(st, serial, bad[i], NOW), SP_ERR_POLICY);
			/* the reason is refused before the serial is looked at */
			CU_ASSERT_EQUAL(sp_store_cert_revoke(st, "0DEADBEEF0", bad[i], NOW), SP_ERR_POLICY);
		}
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	get_n(st, 3, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_VALID);
	CU_ASSERT_EQUAL(r.revoke_reason, -1);
	sp_cert_row_clear(&r);

	/* every defined reason but 8 is accepted (0 and 10 at the edges) */
	CU_ASSERT_EQUAL(revoke_n(st, 3, SP_REASON_UNSPECIFIED, NOW), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 4, SP_REASON_AA_COMPROMISE, NOW), SP_OK);
	get_n(st, 3, &r);
	CU_ASSERT_EQUAL(r.revoke_reason, SP_REASON_UNSPECIFIED);
	CU_ASSERT_EQUAL(r.status, SP_CERT_REVOKED);
	sp_cert_row_clear(&r);
	sp_store_close(st);
}

static void test_release_transitions(void)
{
	char path[4096], serial[41];
	sp_store *st = new_store(path, sizeof path);
	sp_cert_row r;
	walk w;

	insert_n(st, 3);
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_KEY_COMPROMISE, NOW), SP_OK);

	/* HOLD -> VALID: reads as any valid certificate */
	CU_ASSERT_EQUAL(release_n(st, 1, NOW + 100), SP_OK);
	get_n(st, 1, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_VALID);
	CU_ASSERT_EQUAL(r.revoked_at, 0);
	CU_ASSERT_EQUAL(r.revoke_reason, -1);
	sp_cert_row_clear(&r);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT released_at FROM certificate WHERE serial = '00000000000000000000000000001001'"),
			NOW + 100);

	/* not on hold: valid, or revoked (final) */
	CU_ASSERT_EQUAL(release_n(st, 1, NOW + 200), SP_ERR_POLICY);
	CU_ASSERT(msg_has("not on hold"));
	CU_ASSERT_EQUAL(release_n(st, 3, NOW + 200), SP_ERR_POLICY);
	CU_ASSERT(msg_has("not on hold"));
	CU_ASSERT_EQUAL(release_n(st, 2, NOW + 200), SP_ERR_POLICY);
	CU_ASSERT(msg_has("not on hold; a revocation is final"));
	get_n(st, 2, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_REVOKED);
	sp_cert_row_clear(&r);

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_release(st, "0DEADBEEF0", NOW), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("0DEADBEEF0"));
	CU_ASSERT_EQUAL(sp_store_cert_release(st, NULL, NOW), SP_ERR_INPUT);
	sp_store_rollback(st);

	/* held again after a release: released_at is cleared, so the delta
	 * reports the hold, not the old release */
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_CERTIFICATE_HOLD, NOW + 300), SP_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM certificate WHERE released_at IS NOT NULL"), 0);
	serial_of(1, serial);
	CU_ASSERT_EQUAL(walk_run(st, 0, 0, &w), 2);
	CU_ASSERT(walk_is(&w, 0, 1, SP_REASON_CERTIFICATE_HOLD));
	CU_ASSERT_EQUAL(w.e[0].revoked_at, NOW + 300);
	CU_ASSERT(walk_is(&w, 1, 2, SP_REASON_KEY_COMPROMISE));
	sp_store_close(st);
}

static void test_write_outside_transaction(void)
{
	char path[4096], serial[41];
	sp_store *st = new_store(path, sizeof path);
	uint8_t der[] = {0x30, 0x00};
	sp_crl_row crl = {.number = 1, .this_update = NOW, .next_update = NOW + DAY, .der = der,
			  .der_len = sizeof der};
	sp_block_row b;

	insert_n(st, 1);
	serial_of(1, serial);
	memset(&b, 0, sizeof b);
	snprintf(b.sha256, sizeof b.sha256, "%064x", 1u);

	CU_ASSERT_EQUAL(sp_store_cert_revoke(st, serial, SP_REASON_CERTIFICATE_HOLD, NOW), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));
	CU_ASSERT_EQUAL(sp_store_cert_release(st, serial, NOW), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));
	CU_ASSERT_EQUAL(sp_store_setting_set(st, "k", "v"), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &crl), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));
	CU_ASSERT_EQUAL(sp_store_block_remove(st, b.sha256), SP_ERR_DB);
	CU_ASSERT(msg_has("outside a transaction"));

	/* nothing was written */
	CU_ASSERT_EQUAL(seq_now(st), 0);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM certificate WHERE status <> 0"), 0);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT (SELECT count(*) FROM crl) + (SELECT count(*) FROM block)"
				      " + (SELECT count(*) FROM setting)"),
			0);
	sp_store_close(st);
}

static void test_sequence(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	walk w;

	CU_ASSERT_EQUAL(seq_now(st), 0);
	insert_n(st, 5);
	CU_ASSERT_EQUAL(seq_now(st), 0); /* issuing valid certificates takes none */

	CU_ASSERT_EQUAL(revoke_n(st, 3, SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 1);
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_KEY_COMPROMISE, NOW), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 2);
	/* refused changes take no number */
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_KEY_COMPROMISE, NOW), SP_ERR_EXISTS);
	CU_ASSERT_EQUAL(release_n(st, 1, NOW), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_REMOVE_FROM_CRL, NOW), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(seq_now(st), 2);
	CU_ASSERT_EQUAL(release_n(st, 3, NOW), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 3);

	/* several changes in one transaction take consecutive numbers */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	{
		char s4[41], s5[41];
		serial_of(4, s4);
		serial_of(5, s5);
		CU_ASSERT_EQUAL(sp_store_cert_revoke(st, s4, SP_REASON_SUPERSEDED, NOW), SP_OK);
		CU_ASSERT_EQUAL(seq_now(st), 4);
		CU_ASSERT_EQUAL(sp_store_cert_revoke(st, s5, SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
		CU_ASSERT_EQUAL(seq_now(st), 5);
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	/* each entry carries the number of its last change */
	CU_ASSERT_EQUAL(walk_run(st, 0, 0, &w), 4);
	CU_ASSERT(walk_is(&w, 0, 1, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT_EQUAL(w.e[0].seq, 2);
	CU_ASSERT(walk_is(&w, 1, 3, SP_REASON_REMOVE_FROM_CRL));
	CU_ASSERT_EQUAL(w.e[1].seq, 3);
	CU_ASSERT_EQUAL(w.e[2].seq, 4);
	CU_ASSERT_EQUAL(w.e[3].seq, 5);

	/* survives close/reopen and keeps counting from there */
	sp_store_close(st);
	st = open_store(path);
	CU_ASSERT_EQUAL(seq_now(st), 5);
	CU_ASSERT_EQUAL(revoke_n(st, 5, SP_REASON_KEY_COMPROMISE, NOW), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 6);
	sp_store_close(st);

	/* a damaged counter is an error, not a silent 0 */
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "UPDATE meta SET value = 'x' WHERE key = 'revocation_seq'"), SQLITE_OK);
	st = open_store(path);
	{
		int64_t seq = -1;
		CU_ASSERT_EQUAL(sp_store_revocation_seq(st, &seq), SP_ERR_DB);
		CU_ASSERT(msg_has("damaged"));
	}
	sp_store_close(st);
	CU_ASSERT_EQUAL_FATAL(raw_exec(path, "DELETE FROM meta WHERE key = 'revocation_seq'"), SQLITE_OK);
	st = open_store(path);
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_KEY_COMPROMISE, NOW), SP_ERR_DB);
	CU_ASSERT(msg_has("revocation sequence"));
	sp_store_close(st);
}

static void test_full_walk(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	walk w;

	CU_ASSERT_EQUAL(walk_run(st, -1, 0, &w), 0);
	insert_n(st, 8);
	CU_ASSERT_EQUAL(walk_run(st, -1, 0, &w), 0);
	/* revoked out of serial order; 6 held then released; 4 held */
	CU_ASSERT_EQUAL(revoke_n(st, 7, SP_REASON_AFFILIATION_CHANGED, NOW + 7), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_KEY_COMPROMISE, NOW + 2), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 6, SP_REASON_CERTIFICATE_HOLD, NOW + 6), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 4, SP_REASON_CERTIFICATE_HOLD, NOW + 4), SP_OK);
	CU_ASSERT_EQUAL(release_n(st, 6, NOW + 60), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 5, SP_REASON_PRIVILEGE_WITHDRAWN, NOW + 5), SP_OK);

	CU_ASSERT_EQUAL_FATAL(walk_run(st, -1, 0, &w), 4);
	CU_ASSERT(walk_is(&w, 0, 2, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT(walk_is(&w, 1, 4, SP_REASON_CERTIFICATE_HOLD));
	CU_ASSERT(walk_is(&w, 2, 5, SP_REASON_PRIVILEGE_WITHDRAWN));
	CU_ASSERT(walk_is(&w, 3, 7, SP_REASON_AFFILIATION_CHANGED));
	CU_ASSERT_EQUAL(w.e[0].revoked_at, NOW + 2);
	CU_ASSERT_EQUAL(w.e[1].revoked_at, NOW + 4);
	CU_ASSERT_EQUAL(w.e[2].revoked_at, NOW + 5);
	CU_ASSERT_EQUAL(w.e[3].revoked_at, NOW + 7);
	CU_ASSERT_EQUAL(w.e[0].not_after, NOW + 365 * DAY);

	/* a full walk is also what any negative since_seq means */
	CU_ASSERT_EQUAL(walk_run(st, -42, 0, &w), 4);

	/* the callback stops the walk; its sp_err comes back */
	memset(&w, 0, sizeof w);
	w.stop_at = 2;
	w.stop_with = SP_ERR_IO;
	CU_ASSERT_EQUAL(sp_store_revoked_list(st, -1, 0, walk_cb, &w), SP_ERR_IO);
	CU_ASSERT_EQUAL(w.n, 2);
	memset(&w, 0, sizeof w);
	w.stop_at = 1;
	w.stop_with = 12345;
	CU_ASSERT_EQUAL(sp_store_revoked_list(st, -1, 0, walk_cb, &w), SP_ERR_INTERNAL);
	CU_ASSERT_EQUAL(w.n, 1);
	sp_store_close(st);
}

static void test_delta_walk(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	walk w;

	insert_n(st, 6);
	CU_ASSERT_EQUAL(walk_run(st, 0, 0, &w), 0);
	CU_ASSERT_EQUAL(revoke_n(st, 5, SP_REASON_KEY_COMPROMISE, NOW + 1), SP_OK);  /* seq 1 */
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_CERTIFICATE_HOLD, NOW + 2), SP_OK); /* seq 2 */
	CU_ASSERT_EQUAL(revoke_n(st, 3, SP_REASON_CERTIFICATE_HOLD, NOW + 3), SP_OK); /* seq 3 */
	CU_ASSERT_EQUAL(release_n(st, 3, NOW + 4), SP_OK);                           /* seq 4 */
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_SUPERSEDED, NOW + 5), SP_OK);       /* seq 5 */
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_KEY_COMPROMISE, NOW + 6), SP_OK);   /* seq 6: hold made final */
	CU_ASSERT_EQUAL(seq_now(st), 6);

	/* since 0: everything that ever changed, the release as removeFromCRL
	 * at its release time */
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 0, 0, &w), 4);
	CU_ASSERT(walk_is(&w, 0, 1, SP_REASON_SUPERSEDED));
	CU_ASSERT(walk_is(&w, 1, 2, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT(walk_is(&w, 2, 3, SP_REASON_REMOVE_FROM_CRL));
	CU_ASSERT_EQUAL(w.e[2].revoked_at, NOW + 4);
	CU_ASSERT_EQUAL(w.e[2].seq, 4);
	CU_ASSERT(walk_is(&w, 3, 5, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT_EQUAL(w.e[3].revoked_at, NOW + 1);

	/* since 3 (a full CRL listed 3 on hold): its release, and the later ones */
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 3, 0, &w), 3);
	CU_ASSERT(walk_is(&w, 0, 1, SP_REASON_SUPERSEDED));
	CU_ASSERT(walk_is(&w, 1, 2, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT(walk_is(&w, 2, 3, SP_REASON_REMOVE_FROM_CRL));

	/* since 4: the release is already in the base, not repeated */
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 4, 0, &w), 2);
	CU_ASSERT(walk_is(&w, 0, 1, SP_REASON_SUPERSEDED));
	CU_ASSERT(walk_is(&w, 1, 2, SP_REASON_KEY_COMPROMISE));

	/* since 5: only 2's final revocation */
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 5, 0, &w), 1);
	CU_ASSERT(walk_is(&w, 0, 2, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT_EQUAL(w.e[0].revoked_at, NOW + 6);
	CU_ASSERT_EQUAL(w.e[0].seq, 6);

	/* since the current sequence (or beyond): nothing */
	CU_ASSERT_EQUAL(walk_run(st, 6, 0, &w), 0);
	CU_ASSERT_EQUAL(walk_run(st, 1000, 0, &w), 0);

	/* the full list never shows the release */
	CU_ASSERT_EQUAL_FATAL(walk_run(st, -1, 0, &w), 3);
	CU_ASSERT(walk_is(&w, 0, 1, SP_REASON_SUPERSEDED));
	CU_ASSERT(walk_is(&w, 1, 2, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT(walk_is(&w, 2, 5, SP_REASON_KEY_COMPROMISE));
	sp_store_close(st);
}

static void test_expired_filter(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	test_cert c;
	walk w;

	/* certificate n expires at NOW + n days */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	for (unsigned i = 1; i <= 4; i++) {
		make_cert(&c, i, NOW + i * DAY);
		CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c.row), SP_OK);
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_KEY_COMPROMISE, NOW), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 2, SP_REASON_KEY_COMPROMISE, NOW), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 3, SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
	CU_ASSERT_EQUAL(release_n(st, 3, NOW), SP_OK);
	CU_ASSERT_EQUAL(revoke_n(st, 4, SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);

	CU_ASSERT_EQUAL(walk_run(st, -1, 0, &w), 3);
	/* not_after < expired_before is left out; equal is kept */
	CU_ASSERT_EQUAL_FATAL(walk_run(st, -1, NOW + 2 * DAY, &w), 2);
	CU_ASSERT(walk_is(&w, 0, 2, SP_REASON_KEY_COMPROMISE));
	CU_ASSERT(walk_is(&w, 1, 4, SP_REASON_CERTIFICATE_HOLD));
	CU_ASSERT_EQUAL_FATAL(walk_run(st, -1, NOW + 2 * DAY + 1, &w), 1);
	CU_ASSERT(walk_is(&w, 0, 4, SP_REASON_CERTIFICATE_HOLD));
	CU_ASSERT_EQUAL(walk_run(st, -1, NOW + 5 * DAY, &w), 0);

	/* the delta filters the same way, releases included */
	CU_ASSERT_EQUAL(walk_run(st, 0, 0, &w), 4);
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 0, NOW + 3 * DAY, &w), 2);
	CU_ASSERT(walk_is(&w, 0, 3, SP_REASON_REMOVE_FROM_CRL));
	CU_ASSERT(walk_is(&w, 1, 4, SP_REASON_CERTIFICATE_HOLD));
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 0, NOW + 3 * DAY + 1, &w), 1);
	CU_ASSERT(walk_is(&w, 0, 4, SP_REASON_CERTIFICATE_HOLD));
	sp_store_close(st);
}

static void test_bulk_revoke_rollback(void)
{
	enum { N = 1000 };
	char path[4096], serial[41];
	sp_store *st = new_store(path, sizeof path);
	walk w;

	insert_n(st, N);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	for (unsigned i = 1; i <= N; i++) {
		serial_of(i, serial);
		CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, serial,
							   i % 3 ? SP_REASON_KEY_COMPROMISE : SP_REASON_CERTIFICATE_HOLD,
							   NOW + i),
				      SP_OK);
	}
	CU_ASSERT_EQUAL(seq_now(st), N);
	CU_ASSERT_EQUAL(walk_run(st, -1, 0, &w), N);
	CU_ASSERT_EQUAL(walk_run(st, N / 2, 0, &w), N / 2);
	sp_store_rollback(st);

	CU_ASSERT_EQUAL(seq_now(st), 0);
	CU_ASSERT_EQUAL(walk_run(st, -1, 0, &w), 0);
	CU_ASSERT_EQUAL(walk_run(st, 0, 0, &w), 0);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM certificate WHERE status <> 0 OR rev_seq <> 0"
				      " OR revoked_at IS NOT NULL OR revoke_reason IS NOT NULL"),
			0);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM certificate"), N);
	CU_ASSERT_EQUAL(sp_store_integrity_check(st), SP_OK);
	sp_store_close(st);
}

/* A row recorded already revoked is a state change too: a delta made after
 * the last full CRL must list it. */
static void test_insert_revoked_takes_sequence(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	test_cert c;
	walk w;

	insert_n(st, 1);
	CU_ASSERT_EQUAL(revoke_n(st, 1, SP_REASON_KEY_COMPROMISE, NOW), SP_OK);
	make_cert(&c, 2, NOW + DAY);
	c.row.status = SP_CERT_REVOKED;
	c.row.revoked_at = NOW + 5;
	c.row.revoke_reason = SP_REASON_SUPERSEDED;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c.row), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 2);
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 1, 0, &w), 1);
	CU_ASSERT(walk_is(&w, 0, 2, SP_REASON_SUPERSEDED));
	CU_ASSERT_EQUAL(w.e[0].revoked_at, NOW + 5);
	CU_ASSERT_EQUAL(w.e[0].seq, 2);
	sp_store_close(st);
}

/* ---------------------------------------------------------------- CRLs */

static void test_crl_roundtrip(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	uint8_t der[300];
	sp_crl_row in, out;

	for (size_t i = 0; i < sizeof der; i++)
		der[i] = (uint8_t)(i * 7);
	memset(&in, 0, sizeof in);
	in.number = 7;
	in.delta = 1;
	in.base_number = 5;
	in.this_update = NOW;
	in.next_update = NOW + DAY;
	in.seq = 42;
	in.entries = 3;
	in.der = der;
	in.der_len = sizeof der;

	CU_ASSERT_EQUAL(sp_store_crl_get(st, 7, &out), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("7"));
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_insert(st, &in), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	sp_store_close(st);
	st = open_store(path);

	CU_ASSERT_EQUAL_FATAL(sp_store_crl_get(st, 7, &out), SP_OK);
	CU_ASSERT_EQUAL(out.number, 7);
	CU_ASSERT_EQUAL(out.delta, 1);
	CU_ASSERT_EQUAL(out.base_number, 5);
	CU_ASSERT_EQUAL(out.this_update, NOW);
	CU_ASSERT_EQUAL(out.next_update, NOW + DAY);
	CU_ASSERT_EQUAL(out.seq, 42);
	CU_ASSERT_EQUAL(out.entries, 3);
	CU_ASSERT_EQUAL_FATAL(out.der_len, sizeof der);
	CU_ASSERT(out.der && memcmp(out.der, der, sizeof der) == 0);
	sp_crl_row_clear(&out);
	CU_ASSERT_PTR_NULL(out.der);
	sp_crl_row_clear(NULL);

	/* the number is unique, across full and delta CRLs alike */
	in.delta = 0;
	in.base_number = 0;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &in), SP_ERR_EXISTS);
	CU_ASSERT(msg_has("7"));
	/* the failed insert undid only itself */
	in.number = 8;
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &in), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM crl"), 2);
	sp_store_close(st);
}

static void test_crl_bad_rows(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	uint8_t der[] = {0x30, 0x00};
	sp_crl_row ok = {.number = 3, .delta = 1, .base_number = 2, .this_update = NOW, .next_update = NOW + DAY,
			 .der = der, .der_len = sizeof der};
	sp_crl_row r;

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	r = ok;
	r.base_number = 3; /* a delta builds on an earlier CRL */
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &r), SP_ERR_INPUT);
	r = ok;
	r.delta = 0; /* a full CRL has no base */
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &r), SP_ERR_INPUT);
	r = ok;
	r.delta = 2;
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &r), SP_ERR_INPUT);
	r = ok;
	r.number = -1;
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &r), SP_ERR_INPUT);
	r = ok;
	r.next_update = r.this_update;
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &r), SP_ERR_INPUT);
	r = ok;
	r.der = NULL;
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &r), SP_ERR_INPUT);
	r = ok;
	r.der_len = 0;
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &r), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, NULL), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_crl_insert(st, &ok), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM crl"), 1);
	sp_store_close(st);
}

static void crl_put(sp_store *st, int64_t number, int delta, int64_t base, uint8_t tag)
{
	uint8_t der[4] = {0x30, 0x02, 0x05, tag};
	sp_crl_row r = {.number = number, .delta = delta, .base_number = base, .this_update = NOW + number,
			.next_update = NOW + number + DAY, .seq = number * 10, .entries = number,
			.der = der, .der_len = sizeof der};
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_insert(st, &r), SP_OK);
}

static void test_crl_last(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_crl_row out;

	for (int kind = -1; kind <= 1; kind++) {
		CU_ASSERT_EQUAL(sp_store_crl_last(st, kind, 0, &out), SP_ERR_NOTFOUND);
		CU_ASSERT_EQUAL(sp_store_crl_last(st, kind, 1, &out), SP_ERR_NOTFOUND);
	}
	CU_ASSERT_EQUAL(sp_store_crl_last(st, 2, 0, &out), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_crl_last(st, -2, 0, &out), SP_ERR_INPUT);

	/* inserted out of number order: "last" is by number, not by insertion */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	crl_put(st, 1, 0, 0, 0xa1);
	crl_put(st, 4, 0, 0, 0xa4);
	crl_put(st, 2, 1, 1, 0xd2);
	crl_put(st, 3, 1, 1, 0xd3);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	/* only full CRLs so far above the deltas */
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_last(st, -1, 1, &out), SP_OK);
	CU_ASSERT_EQUAL(out.number, 4);
	CU_ASSERT_EQUAL(out.delta, 0);
	CU_ASSERT_EQUAL_FATAL(out.der_len, 4);
	CU_ASSERT_EQUAL(out.der[3], 0xa4);
	sp_crl_row_clear(&out);
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_last(st, 1, 1, &out), SP_OK);
	CU_ASSERT_EQUAL(out.number, 3);
	CU_ASSERT_EQUAL(out.delta, 1);
	CU_ASSERT_EQUAL(out.base_number, 1);
	CU_ASSERT_EQUAL(out.seq, 30);
	CU_ASSERT_EQUAL(out.entries, 3);
	CU_ASSERT_EQUAL_FATAL(out.der_len, 4);
	CU_ASSERT_EQUAL(out.der[3], 0xd3);
	sp_crl_row_clear(&out);

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	crl_put(st, 5, 1, 4, 0xd5);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);

	/* with_der 0: every field but the DER */
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_last(st, -1, 0, &out), SP_OK);
	CU_ASSERT_EQUAL(out.number, 5);
	CU_ASSERT_EQUAL(out.delta, 1);
	CU_ASSERT_EQUAL(out.base_number, 4);
	CU_ASSERT_EQUAL(out.this_update, NOW + 5);
	CU_ASSERT_EQUAL(out.next_update, NOW + 5 + DAY);
	CU_ASSERT_EQUAL(out.seq, 50);
	CU_ASSERT_PTR_NULL(out.der);
	CU_ASSERT_EQUAL(out.der_len, 0);
	sp_crl_row_clear(&out);
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_last(st, 0, 0, &out), SP_OK);
	CU_ASSERT_EQUAL(out.number, 4);
	CU_ASSERT_PTR_NULL(out.der);
	sp_crl_row_clear(&out);
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_last(st, 0, 1, &out), SP_OK);
	CU_ASSERT_EQUAL(out.number, 4);
	CU_ASSERT_EQUAL_FATAL(out.der_len, 4);
	CU_ASSERT_EQUAL(out.der[3], 0xa4);
	sp_crl_row_clear(&out);
	CU_ASSERT_EQUAL_FATAL(sp_store_crl_last(st, 1, 0, &out), SP_OK);
	CU_ASSERT_EQUAL(out.number, 5);
	sp_crl_row_clear(&out);
	sp_store_close(st);
}

/* ----------------------------------------------------------- block list */

static void block_row(sp_block_row *b, const char *sha256, const char *sha1, const char *serial, int64_t created_at)
{
	memset(b, 0, sizeof b[0]);
	snprintf(b->sha256, sizeof b->sha256, "%s", sha256 ? sha256 : "");
	snprintf(b->sha1, sizeof b->sha1, "%s", sha1 ? sha1 : "");
	b->serial = (char *)serial;
	b->subject = (char *)"CN=blocked";
	b->issuer = (char *)"CN=Other CA";
	b->reason = (char *)"lost laptop";
	b->created_by = (char *)"cli:admin";
	b->created_at = created_at;
}

#define H256(c) c c c c c c c c c c c c c c c c /* 4 x 16 = 64 */
#define A256 H256("aaaa")
#define B256 H256("bbbb")
#define C256 H256("cccc")
#define H160(c) c c c c c c c c c c /* 4 x 10 = 40 */
#define A160 H160("1111")
#define B160 H160("2222")
#define C160 H160("3333")

static void block_add_ok(sp_store *st, const sp_block_row *b)
{
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_add(st, b), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
}

static void test_block_add_find(void)
{
	char path[4096], colons[200], upper[100];
	sp_store *st = new_store(path, sizeof path);
	sp_block_row b, out;

	CU_ASSERT_EQUAL(sp_store_block_find(st, A256, A160, &out), SP_ERR_NOTFOUND);

	block_row(&b, A256, A160, "1001", NOW);
	b.in_store = 1;
	block_add_ok(st, &b);

	/* by either fingerprint alone, or both */
	CU_ASSERT_EQUAL_FATAL(sp_store_block_find(st, A256, NULL, &out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out.sha256, A256);
	CU_ASSERT_STRING_EQUAL(out.sha1, A160);
	CU_ASSERT_STRING_EQUAL(out.serial, "1001");
	CU_ASSERT_STRING_EQUAL(out.subject, "CN=blocked");
	CU_ASSERT_STRING_EQUAL(out.issuer, "CN=Other CA");
	CU_ASSERT_STRING_EQUAL(out.reason, "lost laptop");
	CU_ASSERT_STRING_EQUAL(out.created_by, "cli:admin");
	CU_ASSERT_EQUAL(out.created_at, NOW);
	CU_ASSERT_EQUAL(out.in_store, 1);
	sp_block_row_clear(&out);
	CU_ASSERT_EQUAL(sp_store_block_find(st, "", A160, &out), SP_OK);
	sp_block_row_clear(&out);
	CU_ASSERT_EQUAL(sp_store_block_find(st, A256, A160, NULL), SP_OK);
	/* one known fingerprint matching is enough */
	CU_ASSERT_EQUAL(sp_store_block_find(st, B256, A160, NULL), SP_OK);
	CU_ASSERT_EQUAL(sp_store_block_find(st, A256, B160, NULL), SP_OK);
	CU_ASSERT_EQUAL(sp_store_block_find(st, B256, B160, NULL), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_store_block_find(st, NULL, B160, NULL), SP_ERR_NOTFOUND);

	/* keys are normalised: upper case, colon-separated */
	for (size_t i = 0, o = 0; i < 64; i++) {
		colons[o++] = (char)(A256[i] - 'a' + 'A');
		if (i % 2 && i < 63)
			colons[o++] = ':';
		colons[o] = '\0';
	}
	CU_ASSERT_EQUAL(sp_store_block_find(st, colons, NULL, NULL), SP_OK);
	snprintf(upper, sizeof upper, "%s", A160);
	CU_ASSERT_EQUAL(sp_store_block_find(st, NULL, upper, NULL), SP_OK);

	/* the two fingerprints hit two different entries: the SHA-256 one wins */
	block_row(&b, B256, B160, "1002", NOW + 1);
	block_add_ok(st, &b);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_find(st, A256, B160, &out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out.sha256, A256);
	sp_block_row_clear(&out);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_find(st, B256, A160, &out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out.sha256, B256);
	CU_ASSERT_STRING_EQUAL(out.serial, "1002");
	sp_block_row_clear(&out);
	sp_block_row_clear(NULL);

	/* malformed or missing keys */
	CU_ASSERT_EQUAL(sp_store_block_find(st, NULL, NULL, NULL), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_block_find(st, "", "", NULL), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_block_find(st, A160, NULL, NULL), SP_ERR_INPUT); /* 40 digits as SHA-256 */
	CU_ASSERT_EQUAL(sp_store_block_find(st, NULL, "xyz", NULL), SP_ERR_INPUT);
	sp_store_close(st);
}

static void test_block_unknown_fingerprints(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_block_row b, out;

	/* several entries knowing only a SHA-1, several only a SHA-256 */
	block_row(&b, NULL, A160, "", NOW);
	block_add_ok(st, &b);
	block_row(&b, NULL, B160, "", NOW);
	block_add_ok(st, &b);
	block_row(&b, A256, NULL, "", NOW);
	block_add_ok(st, &b);
	block_row(&b, B256, "", NULL, NOW);
	block_add_ok(st, &b);

	/* unknown is NULL in the row, not '' */
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM block WHERE sha256 IS NULL"), 2);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM block WHERE sha1 IS NULL"), 2);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM block WHERE serial IS NULL"), 4);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM block WHERE sha256 = '' OR sha1 = '' OR serial = ''"), 0);

	/* and reads back as "" */
	CU_ASSERT_EQUAL_FATAL(sp_store_block_find(st, NULL, B160, &out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out.sha256, "");
	CU_ASSERT_STRING_EQUAL(out.sha1, B160);
	CU_ASSERT_STRING_EQUAL(out.serial, "");
	CU_ASSERT_EQUAL(out.in_store, 0);
	sp_block_row_clear(&out);
	/* a look-up with an unknown SHA-256 does not match rows lacking one */
	CU_ASSERT_EQUAL(sp_store_block_find(st, C256, C160, NULL), SP_ERR_NOTFOUND);

	/* neither fingerprint: refused by the store (and by the CHECK) */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	block_row(&b, "", "", "1234", NOW);
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_block_add(st, NULL), SP_ERR_INPUT);
	block_row(&b, "abc", NULL, NULL, NOW);
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_INPUT);
	block_row(&b, NULL, A160, NULL, NOW);
	b.sha1[39] = 'g'; /* not hex */
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_INPUT);
	sp_store_rollback(st);
	CU_ASSERT_EQUAL(sp_store_block_remove(st, A256), SP_ERR_DB); /* outside a transaction */
	CU_ASSERT_EQUAL(raw_exec(path, "INSERT INTO block(sha256, sha1, created_at) VALUES (NULL, NULL, 0)"),
			SQLITE_CONSTRAINT);
	sp_store_close(st);
}

static void test_block_duplicates(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_block_row b;

	block_row(&b, A256, A160, "", NOW);
	block_add_ok(st, &b);
	block_row(&b, NULL, B160, "", NOW);
	block_add_ok(st, &b);

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	block_row(&b, A256, C160, "", NOW); /* same SHA-256 */
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_EXISTS);
	CU_ASSERT(msg_has(A256));
	block_row(&b, C256, A160, "", NOW); /* same SHA-1 */
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_EXISTS);
	CU_ASSERT(msg_has(A160));
	block_row(&b, NULL, B160, "", NOW); /* same SHA-1, no SHA-256 either time */
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_EXISTS);
	CU_ASSERT(msg_has(B160));
	block_row(&b, C256, B160, "", NOW); /* the SHA-256 is new, the SHA-1 is not */
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_ERR_EXISTS);
	/* the refusals undid only themselves: the transaction goes on */
	block_row(&b, C256, C160, "", NOW);
	CU_ASSERT_EQUAL(sp_store_block_add(st, &b), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM block"), 3);
	sp_store_close(st);
}

static void test_block_remove(void)
{
	char path[4096], upper[100];
	sp_store *st = new_store(path, sizeof path);
	sp_block_row b;

	block_row(&b, A256, A160, "", NOW);
	block_add_ok(st, &b);
	block_row(&b, B256, B160, "", NOW);
	block_add_ok(st, &b);
	block_row(&b, NULL, C160, "", NOW);
	block_add_ok(st, &b);

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	/* by SHA-256, given upper-case */
	for (size_t i = 0; i < 64; i++)
		upper[i] = (char)(A256[i] - 'a' + 'A');
	upper[64] = '\0';
	CU_ASSERT_EQUAL(sp_store_block_remove(st, upper), SP_OK);
	CU_ASSERT_EQUAL(sp_store_block_find(st, NULL, A160, NULL), SP_ERR_NOTFOUND); /* the whole entry went */
	CU_ASSERT_EQUAL(sp_store_block_remove(st, A256), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("not blocked"));
	CU_ASSERT_EQUAL(sp_store_block_remove(st, A160), SP_ERR_NOTFOUND);
	/* by SHA-1 */
	CU_ASSERT_EQUAL(sp_store_block_remove(st, B160), SP_OK);
	CU_ASSERT_EQUAL(sp_store_block_find(st, B256, NULL, NULL), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_store_block_remove(st, C160), SP_OK);
	/* neither length */
	CU_ASSERT_EQUAL(sp_store_block_remove(st, "1001"), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_block_remove(st, ""), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_block_remove(st, NULL), SP_ERR_INPUT);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM block"), 0);
	sp_store_close(st);
}

typedef struct {
	char sha256[8][65];
	char sha1[8][41];
	int64_t created_at[8];
	int n;
	int stop_with;
} block_seen;

static int block_cb(const sp_block_row *row, void *arg)
{
	block_seen *s = arg;
	if (s->n < 8) {
		snprintf(s->sha256[s->n], sizeof s->sha256[0], "%s", row->sha256);
		snprintf(s->sha1[s->n], sizeof s->sha1[0], "%s", row->sha1);
		s->created_at[s->n] = row->created_at;
	}
	s->n++;
	return s->stop_with;
}

static void test_block_list(void)
{
	char path[4096];
	sp_store *st = new_store(path, sizeof path);
	sp_block_row b;
	block_seen seen;

	memset(&seen, 0, sizeof seen);
	CU_ASSERT_EQUAL(sp_store_block_list(st, block_cb, &seen), SP_OK);
	CU_ASSERT_EQUAL(seen.n, 0);

	/* added in neither created_at nor sha256 order */
	block_row(&b, C256, NULL, "", NOW + 20);
	block_add_ok(st, &b);
	block_row(&b, B256, NULL, "", NOW + 10);
	block_add_ok(st, &b);
	block_row(&b, A256, NULL, "", NOW + 20);
	block_add_ok(st, &b);
	block_row(&b, NULL, A160, "", NOW + 30);
	block_add_ok(st, &b);

	memset(&seen, 0, sizeof seen);
	CU_ASSERT_EQUAL(sp_store_block_list(st, block_cb, &seen), SP_OK);
	CU_ASSERT_EQUAL_FATAL(seen.n, 4);
	CU_ASSERT_STRING_EQUAL(seen.sha256[0], B256);
	CU_ASSERT_STRING_EQUAL(seen.sha256[1], A256);
	CU_ASSERT_STRING_EQUAL(seen.sha256[2], C256);
	CU_ASSERT_STRING_EQUAL(seen.sha256[3], "");
	CU_ASSERT_STRING_EQUAL(seen.sha1[3], A160);
	CU_ASSERT_EQUAL(seen.created_at[0], NOW + 10);
	CU_ASSERT_EQUAL(seen.created_at[3], NOW + 30);

	memset(&seen, 0, sizeof seen);
	seen.stop_with = SP_ERR_IO;
	CU_ASSERT_EQUAL(sp_store_block_list(st, block_cb, &seen), SP_ERR_IO);
	CU_ASSERT_EQUAL(seen.n, 1);
	sp_store_close(st);
}

/* ------------------------------------------------------------ migration */

/* Tables, columns, indexes (with their SQL, partial WHERE included) and
 * triggers of a store, as one comparable string. */
#define SCHEMA_SQL                                                                                    \
	"SELECT group_concat(x, ';') FROM (SELECT m.type || ' ' || m.name || '('"                     \
	" || coalesce((SELECT group_concat(p.name || ' ' || p.type || ' ' || p.\"notnull\" || ' '"    \
	" || coalesce(p.dflt_value, '') || ' ' || p.pk, ',') FROM pragma_table_info(m.name) p), '')" \
	" || ')' || CASE WHEN m.type = 'table' THEN '' ELSE coalesce(m.sql, '') END AS x"            \
	" FROM sqlite_master m ORDER BY m.name)"

static void schema_of(const char *path, char *out, size_t outsz)
{
	CU_ASSERT_EQUAL_FATAL(raw_query(path, SCHEMA_SQL, out, outsz), SQLITE_OK);
	CU_ASSERT_FATAL(strlen(out) + 1 < outsz);
}

/* What a released v1 store looks like: migration 1 as shipped, frozen here
 * on purpose (a released migration never changes, so neither does this). */
static const char v1_schema[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version(version) VALUES (1);"
	"CREATE TABLE ca( id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL,"
	" site_code TEXT NOT NULL DEFAULT '', base_url TEXT NOT NULL DEFAULT '', key_alg TEXT NOT NULL,"
	" state INTEGER NOT NULL CHECK (state IN (0, 1)), cert_der BLOB, chain_pem TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL);"
	"CREATE TABLE certificate( id INTEGER PRIMARY KEY, serial TEXT NOT NULL UNIQUE,"
	" sha256 TEXT NOT NULL UNIQUE, sha1 TEXT NOT NULL, subject TEXT NOT NULL, sans TEXT NOT NULL DEFAULT '',"
	" template TEXT NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),"
	" revoked_at INTEGER, revoke_reason INTEGER, der BLOB NOT NULL);"
	"CREATE INDEX certificate_sha1 ON certificate(sha1);"
	"CREATE INDEX certificate_subject ON certificate(subject);"
	"CREATE INDEX certificate_template ON certificate(template);"
	"CREATE INDEX certificate_not_after ON certificate(not_after);"
	"CREATE INDEX certificate_status ON certificate(status);"
	"CREATE TABLE request( id INTEGER PRIMARY KEY AUTOINCREMENT, template TEXT NOT NULL,"
	" requester TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',"
	" status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2, 3)), cert_serial TEXT NOT NULL DEFAULT '',"
	" detail TEXT NOT NULL DEFAULT '', csr_der BLOB NOT NULL, created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE INDEX request_status ON request(status);"
	"CREATE TABLE audit( id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, actor TEXT NOT NULL,"
	" action TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '',"
	" prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT INTO meta(key, value) VALUES ('audit_head_id', '0'),"
	" ('audit_head_hash', '0000000000000000000000000000000000000000000000000000000000000000');"
	/* data as v1 could hold it: a valid, a revoked and a held certificate */
	"INSERT INTO certificate(serial, sha256, sha1, subject, template, not_before, not_after, issued_at,"
	" status, revoked_at, revoke_reason, der) VALUES"
	" ('0A', '" A256 "', '" A160 "', 'CN=a', 'web-server', 1, 2000000000, 1, 0, NULL, NULL, x'3000'),"
	" ('0B', '" B256 "', '" B160 "', 'CN=b', 'web-server', 1, 2000000000, 2, 1, 1700000000, 1, x'3000'),"
	" ('0C', '" C256 "', '" C160 "', 'CN=c', 'web-server', 1, 2000000000, 3, 2, 1700000001, 6, x'3000');";

static void test_migrate_v1_sql(void)
{
	char path[4096], fresh_path[4096], got[16384], want[16384];
	sqlite3 *db = NULL;
	sp_store *st;
	sp_cert_row r;
	walk w;

	tmp_path(path, sizeof path, "v1.db");
	CU_ASSERT_EQUAL_FATAL(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	CU_ASSERT_EQUAL_FATAL(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0600), 0);

	st = open_store(path);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT version FROM schema_version"), SP_STORE_SCHEMA_VERSION);
	CU_ASSERT_EQUAL(sp_store_integrity_check(st), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 0);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, "0B", &r), SP_OK);
	CU_ASSERT_EQUAL(r.status, SP_CERT_REVOKED);
	CU_ASSERT_EQUAL(r.revoked_at, 1700000000);
	CU_ASSERT_EQUAL(r.revoke_reason, 1);
	sp_cert_row_clear(&r);
	/* rows revoked under v1 are in every full CRL, and in no delta (they
	 * predate the sequence, so every base lists them) */
	CU_ASSERT_EQUAL_FATAL(walk_run(st, -1, 0, &w), 2);
	CU_ASSERT_STRING_EQUAL(w.e[0].serial, "0B");
	CU_ASSERT_EQUAL(w.e[0].reason, 1);
	CU_ASSERT_EQUAL(w.e[0].seq, 0);
	CU_ASSERT_STRING_EQUAL(w.e[1].serial, "0C");
	CU_ASSERT_EQUAL(w.e[1].reason, 6);
	CU_ASSERT_EQUAL(walk_run(st, 0, 0, &w), 0);
	/* the v1 hold can be released like any other */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_release(st, "0C", NOW), SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_revoke(st, "0A", SP_REASON_SUPERSEDED, NOW), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 2);
	CU_ASSERT_EQUAL_FATAL(walk_run(st, 0, 0, &w), 2);
	CU_ASSERT_STRING_EQUAL(w.e[0].serial, "0A");
	CU_ASSERT_STRING_EQUAL(w.e[1].serial, "0C");
	CU_ASSERT_EQUAL(w.e[1].reason, SP_REASON_REMOVE_FROM_CRL);
	sp_store_close(st);

	/* the migrated schema is exactly a fresh store's */
	tmp_path(fresh_path, sizeof fresh_path, "fresh.db");
	sp_store_close(create_store(fresh_path));
	schema_of(path, got, sizeof got);
	schema_of(fresh_path, want, sizeof want);
	CU_ASSERT_STRING_EQUAL(got, want);
}

/* A store written through the API, then taken back to v1 by hand (the v3
 * and v2 objects dropped, the version set to 1), then opened by this code,
 * which runs migrations 2 and 3 again. */
static void test_migrate_keeps_data(void)
{
	char path[4096], fresh_path[4096], got[16384], want[16384];
	sp_store *st = new_store(path, sizeof path);
	sp_ca_row ca, ca_out;
	sp_request_row req, req_out;
	sp_cert_row r;
	uint8_t csr[] = {0x30, 0x01, 0x00};
	int64_t req_id = 0, rows = 0, bad = -1, n = 0;
	test_cert c;

	memset(&ca, 0, sizeof ca);
	ca.name = (char *)"Site CA";
	ca.key_alg = (char *)"ec-p256";
	ca.state = SP_CA_ACTIVE;
	ca.created_at = NOW;
	memset(&req, 0, sizeof req);
	req.template_name = (char *)"web-server";
	req.requester = (char *)"cli:root";
	req.csr_der = csr;
	req.csr_der_len = sizeof csr;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_ca_put(st, &ca), SP_OK);
	for (unsigned i = 1; i <= 20; i++) {
		make_cert(&c, i, NOW + DAY);
		if (i == 7) {
			c.row.status = SP_CERT_REVOKED;
			c.row.revoked_at = NOW;
			c.row.revoke_reason = SP_REASON_KEY_COMPROMISE;
		}
		CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c.row), SP_OK);
		CU_ASSERT_EQUAL_FATAL(sp_store_audit_append(st, "cli:root", "issue", c.row.serial, ""), SP_OK);
	}
	CU_ASSERT_EQUAL_FATAL(sp_store_request_insert(st, &req, &req_id), SP_OK);
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
					     /* v2 */
					     "DROP TABLE setting; DROP TABLE crl; DROP TABLE block;"
					     "DROP INDEX certificate_revoked; DROP INDEX certificate_rev_seq;"
					     "ALTER TABLE certificate DROP COLUMN released_at;"
					     "ALTER TABLE certificate DROP COLUMN rev_seq;"
					     "DELETE FROM meta WHERE key = 'revocation_seq';"
					     "UPDATE schema_version SET version = 1;"
					     "COMMIT;"),
			      SQLITE_OK);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN ('crl', 'block', 'setting')"),
			0);

	st = open_store(path);
	CU_ASSERT_EQUAL(raw_int(path, "SELECT version FROM schema_version"), SP_STORE_SCHEMA_VERSION);
	CU_ASSERT_EQUAL(sp_store_cert_count(st, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 20);
	CU_ASSERT_EQUAL_FATAL(sp_store_ca_get(st, &ca_out), SP_OK);
	CU_ASSERT_STRING_EQUAL(ca_out.name, "Site CA");
	sp_ca_row_clear(&ca_out);
	CU_ASSERT_EQUAL_FATAL(sp_store_request_get(st, req_id, &req_out), SP_OK);
	CU_ASSERT_EQUAL(req_out.csr_der_len, sizeof csr);
	sp_request_row_clear(&req_out);
	CU_ASSERT_EQUAL(sp_store_audit_verify(st, &rows, &bad), SP_OK);
	CU_ASSERT_EQUAL(rows, 20);
	get_n(st, 7, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_REVOKED);
	CU_ASSERT_EQUAL(r.revoke_reason, SP_REASON_KEY_COMPROMISE);
	sp_cert_row_clear(&r);
	get_n(st, 8, &r);
	CU_ASSERT_EQUAL(r.status, SP_CERT_VALID);
	CU_ASSERT_EQUAL(r.der_len, sizeof c.der);
	sp_cert_row_clear(&r);
	CU_ASSERT_EQUAL(seq_now(st), 0);
	/* and v2 works on it */
	CU_ASSERT_EQUAL(revoke_n(st, 8, SP_REASON_CERTIFICATE_HOLD, NOW), SP_OK);
	CU_ASSERT_EQUAL(seq_now(st), 1);
	CU_ASSERT_EQUAL(sp_store_integrity_check(st), SP_OK);
	sp_store_close(st);

	tmp_path(fresh_path, sizeof fresh_path, "fresh.db");
	sp_store_close(create_store(fresh_path));
	schema_of(path, got, sizeof got);
	schema_of(fresh_path, want, sizeof want);
	CU_ASSERT_STRING_EQUAL(got, want);
}

/* --------------------------------------------------------------- suites */

static const sp_unit_test setting_tests[] = {
	{"get/set, unset is NOTFOUND, survives reopen", test_settings},
	{NULL, NULL},
};

static const sp_unit_test revocation_tests[] = {
	{"revoke: valid/hold/revoked transitions and refusals", test_revoke_transitions},
	{"release: hold -> valid; anything else refused", test_release_transitions},
	{"every v2 write refuses to run outside a transaction", test_write_outside_transaction},
	{"revocation sequence: strict, per change, survives reopen", test_sequence},
	{"full walk: revoked and held, by serial", test_full_walk},
	{"delta walk: changes after since_seq, releases as removeFromCRL", test_delta_walk},
	{"expired_before filter", test_expired_filter},
	{"1000 revocations rolled back leave nothing", test_bulk_revoke_rollback},
	{"a row inserted revoked takes a sequence number", test_insert_revoked_takes_sequence},
	{NULL, NULL},
};

static const sp_unit_test crl_tests[] = {
	{"CRL row round trip; number unique", test_crl_roundtrip},
	{"malformed CRL rows refused", test_crl_bad_rows},
	{"last CRL by kind, with and without DER", test_crl_last},
	{NULL, NULL},
};

static const sp_unit_test block_tests[] = {
	{"add and find by either fingerprint, normalised", test_block_add_find},
	{"unknown fingerprints are NULL; both unknown refused", test_block_unknown_fingerprints},
	{"duplicate SHA-256 or SHA-1 is SP_ERR_EXISTS", test_block_duplicates},
	{"remove by SHA-256 or SHA-1", test_block_remove},
	{"list by created_at, sha256", test_block_list},
	{NULL, NULL},
};

static const sp_unit_test migration_tests[] = {
	{"a v1 store (migration 1 as released) migrates to the fresh schema", test_migrate_v1_sql},
	{"migration keeps CA, certificates, requests and the audit chain", test_migrate_keeps_data},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"store_v2.settings", setting_tests},
	{"store_v2.revocation", revocation_tests},
	{"store_v2.crl", crl_tests},
	{"store_v2.block", block_tests},
	{"store_v2.migration", migration_tests},
	{NULL, NULL},
};
