/*
 * store_schema.c - the schema version and the forward-only migrations.
 *
 * migrations[i] takes a store from version i to i + 1 and runs in its own
 * transaction together with the version bump, so a crash mid-upgrade leaves
 * the store at the old version, intact. Migrations are never edited once
 * released: a change is a new entry at the end (and SP_STORE_SCHEMA_VERSION
 * in store.h goes up by one). A store newer than this code is refused rather
 * than written by code that does not know its rules.
 */
#include "store/store_int.h"

#include <string.h>

/* 1: everything the first release needs. Names of indexes carry the table
 * name so later migrations can add more without clashes. */
static const char migration_1[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version(version) VALUES (0);"

	/* One CA per store: the CHECK makes a second row impossible rather
	 * than merely unused. */
	"CREATE TABLE ca("
	" id INTEGER PRIMARY KEY CHECK (id = 1),"
	" name TEXT NOT NULL,"
	" site_code TEXT NOT NULL DEFAULT '',"
	" base_url TEXT NOT NULL DEFAULT '',"
	" key_alg TEXT NOT NULL,"
	" state INTEGER NOT NULL CHECK (state IN (0, 1)),"
	" cert_der BLOB,"
	" chain_pem TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL);"

	/* serial and sha256 UNIQUE: the constraint, not a prior SELECT, is
	 * what guarantees a serial is never issued twice, even with two
	 * writers. */
	"CREATE TABLE certificate("
	" id INTEGER PRIMARY KEY,"
	" serial TEXT NOT NULL UNIQUE,"
	" sha256 TEXT NOT NULL UNIQUE,"
	" sha1 TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" sans TEXT NOT NULL DEFAULT '',"
	" template TEXT NOT NULL,"
	" not_before INTEGER NOT NULL,"
	" not_after INTEGER NOT NULL,"
	" issued_at INTEGER NOT NULL,"
	" status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),"
	" revoked_at INTEGER,"
	" revoke_reason INTEGER,"
	" der BLOB NOT NULL);"
	/* The queries the CLI and service run: thumbprint look-up, by
	 * subject, by template, expiring soon, by status. */
	"CREATE INDEX certificate_sha1 ON certificate(sha1);"
	"CREATE INDEX certificate_subject ON certificate(subject);"
	"CREATE INDEX certificate_template ON certificate(template);"
	"CREATE INDEX certificate_not_after ON certificate(not_after);"
	"CREATE INDEX certificate_status ON certificate(status);"

	/* AUTOINCREMENT: a request id is never handed out twice, even after
	 * the newest request was deleted, so an id in an old log line or
	 * e-mail can never point at someone else's request. */
	"CREATE TABLE request("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" template TEXT NOT NULL,"
	" requester TEXT NOT NULL,"
	" subject TEXT NOT NULL DEFAULT '',"
	" status INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2, 3)),"
	" cert_serial TEXT NOT NULL DEFAULT '',"
	" detail TEXT NOT NULL DEFAULT '',"
	" csr_der BLOB NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL);"
	"CREATE INDEX request_status ON request(status);"

	/* Hash-chained (store_audit.c). The triggers stop accidents and
	 * casual edits through sqlite3; they are not the protection -
	 * anyone who can write the file can drop them - the chain is. */
	"CREATE TABLE audit("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" subject TEXT NOT NULL DEFAULT '',"
	" detail TEXT NOT NULL DEFAULT '',"
	" prev_hash TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;"

	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	"INSERT INTO meta(key, value) VALUES ('audit_head_id', '0'),"
	" ('audit_head_hash', "
	"'0000000000000000000000000000000000000000000000000000000000000000');";

/* 2: revocation state changes, CRLs, settings and the block list. */
static const char migration_2[] =
	"CREATE TABLE setting(key TEXT PRIMARY KEY, value TEXT NOT NULL);"

	/* rev_seq: the revocation sequence (meta 'revocation_seq') taken by
	 * the certificate's last revoke/hold/release; 0 = never changed
	 * (valid, or recorded already revoked before schema 2, which every
	 * full CRL lists anyway). released_at: set when a hold is lifted, so
	 * the delta walk can report removeFromCRL; cleared by a revoke. */
	"ALTER TABLE certificate ADD COLUMN rev_seq INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE certificate ADD COLUMN released_at INTEGER;"
	/* Both walk indexes are partial: a valid certificate (nearly every
	 * row, and every insert on the issuance path) is in neither, so
	 * issuing pays nothing for them and they stay as small as the
	 * revocation list. The full walk's index carries every column the
	 * walk reads, in serial order: a million entries stream from the
	 * index alone, without one table seek (a row holds its DER) and
	 * without a sort. SQLite uses a partial index only for a query that
	 * repeats its WHERE term: the walks (store_revoke.c) do, and name the
	 * index (INDEXED BY) so that a plan unable to use it fails to prepare
	 * rather than scanning the table. */
	"CREATE INDEX certificate_revoked ON certificate"
	"(serial, status, revoked_at, revoke_reason, not_after, rev_seq)"
	" WHERE status IN (1, 2);"
	/* "<> 0" rather than "> 0" (the same rows: rev_seq is never
	 * negative): the delta query must repeat the term, and a "> 0" there
	 * would be a second lower bound competing with "> since_seq" for the
	 * range scan; SQLite can pick either, and with "> 0" it walks the
	 * whole index. "<>" is no range bound, so "> since_seq" is used. */
	"CREATE INDEX certificate_rev_seq ON certificate(rev_seq) WHERE rev_seq <> 0;"
	/* The sequence lives beside the audit head and is bumped in the
	 * transaction of the change it numbers. */
	"INSERT INTO meta(key, value) VALUES ('revocation_seq', '0');"

	/* number: the CRLNumber, one sequence for full and delta CRLs (RFC
	 * 5280 5.2.3), so the primary key is what refuses a reuse. der last:
	 * a row read without it never touches the blob's pages. */
	"CREATE TABLE crl("
	" number INTEGER PRIMARY KEY CHECK (number >= 0),"
	" delta INTEGER NOT NULL CHECK (delta IN (0, 1)),"
	" base_number INTEGER NOT NULL,"
	" this_update INTEGER NOT NULL,"
	" next_update INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" entries INTEGER NOT NULL,"
	" der BLOB NOT NULL,"
	" CHECK (delta = 1 OR base_number = 0));"
	/* "newest full" / "newest delta": (delta, rowid) in one descent. */
	"CREATE INDEX crl_delta ON crl(delta);"

	/* A fingerprint unknown is NULL, not '': UNIQUE lets any number of
	 * NULLs through, so rows knowing only a SHA-1 do not collide on an
	 * empty SHA-256. The UNIQUE indexes are also the look-ups
	 * sp_store_block_find makes on the enrollment request path. */
	"CREATE TABLE block("
	" id INTEGER PRIMARY KEY,"
	" sha256 TEXT UNIQUE,"
	" sha1 TEXT UNIQUE,"
	" serial TEXT,"
	" subject TEXT,"
	" issuer TEXT,"
	" reason TEXT NOT NULL DEFAULT '',"
	" created_by TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" in_store INTEGER NOT NULL DEFAULT 0 CHECK (in_store IN (0, 1)),"
	" CHECK (sha256 IS NOT NULL OR sha1 IS NOT NULL));";

/* 3: the enrollment service (one-time tokens, pending-request look-up by
 * CSR) and CA-side boot-media keys. */
static const char migration_3[] =
	/* The retry of a pending EST request (RFC 7030 4.2.3) is the same
	 * CSR sent again: found by the SHA-256 of its DER. Rows from before
	 * schema 3 have '' and are never matched. */
	"ALTER TABLE request ADD COLUMN csr_sha256 TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX request_csr ON request(csr_sha256) WHERE csr_sha256 <> '';"

	/* One-time enrollment tokens. Only the SHA-256 of the secret is
	 * kept: the secret is 256 bits from the CSPRNG, so a fast hash is
	 * enough and a leaked store gives no usable token. state: 0 unused,
	 * 1 claimed by a request in flight, 2 used. */
	"CREATE TABLE token("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" secret_sha256 TEXT NOT NULL,"
	" template TEXT NOT NULL,"
	" subject TEXT NOT NULL DEFAULT '',"
	" dns TEXT NOT NULL DEFAULT '',"
	" upn TEXT NOT NULL DEFAULT '',"
	" created_by TEXT NOT NULL DEFAULT '',"
	" created_at INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),"
	" used_at INTEGER NOT NULL DEFAULT 0,"
	" cert_serial TEXT NOT NULL DEFAULT '');"

	/* Boot-media / PXE certificates whose key the CA generated.
	 * archived_key: the private key as CMS EnvelopedData to the CA
	 * certificate (NULL unless archived); exported_at: the last export
	 * that was written completely (0 = never). */
	"CREATE TABLE media("
	" serial TEXT PRIMARY KEY REFERENCES certificate(serial),"
	" name TEXT NOT NULL,"
	" created_at INTEGER NOT NULL,"
	" archived_key BLOB,"
	" exported_at INTEGER NOT NULL DEFAULT 0,"
	" export_count INTEGER NOT NULL DEFAULT 0,"
	" legacy INTEGER NOT NULL DEFAULT 0 CHECK (legacy IN (0, 1)));";

/* 4: the block list's change counter, and two indexes fewer on the
 * issuance path.
 * The enrollment service keeps its verdict on a client certificate until a
 * revocation state (meta 'revocation_seq', bumped by store_revoke.c) or the
 * block list changes (sp_store_status_epoch). Triggers bump 'block_seq' in
 * the transaction of every change to the block table, whoever makes it.
 * certificate_status held every certificate under one of three values,
 * nearly all 0: the revoked and held ones are found through the partial
 * certificate_revoked, valid ones by not_after. request_status held every
 * request, though only the queue (pending, approved) is ever looked up by
 * status. certificate_subject served no query: the subject filter is a
 * substring match (LIKE '%...%'), which no B-tree index can answer. Each
 * cost a page write in every issuance's commit. */
static const char migration_4[] =
	"INSERT INTO meta(key, value) VALUES ('block_seq', '0');"
	"CREATE TRIGGER block_seq_insert AFTER INSERT ON block"
	" BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'block_seq'; END;"
	"CREATE TRIGGER block_seq_update AFTER UPDATE ON block"
	" BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'block_seq'; END;"
	"CREATE TRIGGER block_seq_delete AFTER DELETE ON block"
	" BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'block_seq'; END;"
	"DROP INDEX certificate_status;"
	"DROP INDEX certificate_subject;"
	"DROP INDEX request_status;"
	/* partial: SQLite uses it only for a query that repeats the term
	 * (sp_store_request_list names it with INDEXED BY) */
	"CREATE INDEX request_queue ON request(status) WHERE status IN (0, 1);";

static const char *const migrations[] = {
	migration_1,
	migration_2,
	migration_3,
	migration_4,
};

_Static_assert(sizeof migrations / sizeof migrations[0] == SP_STORE_SCHEMA_VERSION,
	       "one migration per schema version: add the migration with the version bump");

/* The version recorded in the file; 0 when there is no schema at all. */
static sp_err read_version(sp_store *st, int64_t *version)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	*version = 0;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
			       " AND name = 'schema_version'",
			       -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "read schema");
		goto out;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		err = sps_db_fail(st, "read schema");
		goto out;
	}
	if (sqlite3_column_int(s, 0) == 0)
		goto out;
	(void)sqlite3_finalize(s); /* a finished SELECT: nothing to report */
	s = NULL;

	if (sqlite3_prepare_v2(st->db, "SELECT version FROM schema_version", -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "read schema version");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		err = rc == SQLITE_DONE ? sp_fail(SP_ERR_DB, "store %s: schema_version is empty", st->path)
					: sps_db_fail(st, "read schema version");
		goto out;
	}
	*version = sqlite3_column_int64(s, 0);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		err = rc == SQLITE_ROW ? sp_fail(SP_ERR_DB, "store %s: schema_version has several rows", st->path)
				       : sps_db_fail(st, "read schema version");
		goto out;
	}
	if (*version < 1) {
		err = sp_fail(SP_ERR_DB, "store %s: invalid schema version %lld", st->path, (long long)*version);
		goto out;
	}
out:
	(void)sqlite3_finalize(s);
	return err;
}

static sp_err check_not_newer(sp_store *st, int64_t version)
{
	if (version > SP_STORE_SCHEMA_VERSION)
		return sp_fail(SP_ERR_DB,
			       "store %s has schema version %lld, newer than this sitepki understands (%d); "
			       "use a newer sitepki",
			       st->path, (long long)version, SP_STORE_SCHEMA_VERSION);
	return SP_OK;
}

static sp_err set_version(sp_store *st, int64_t version)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, "UPDATE schema_version SET version = ?1", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, version) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "set schema version");
		goto out;
	}
	if (sqlite3_changes(st->db) != 1) {
		err = sp_fail(SP_ERR_DB, "store %s: schema_version row missing", st->path);
		goto out;
	}
out:
	(void)sqlite3_finalize(s);
	return err;
}

/* Apply migration `to` (1-based) in one transaction, unless a peer process
 * opening the same store did it while we waited for the write lock. */
static sp_err migrate_one(sp_store *st, int64_t to)
{
	sp_err err = SP_OK;
	int64_t now;
	char what[64];

	err = sp_store_begin(st);
	if (err)
		goto out;
	/* Re-read under the write lock: the version we saw before may be
	 * stale by now. */
	err = read_version(st, &now);
	if (err)
		goto out;
	err = check_not_newer(st, now);
	if (err)
		goto out;
	if (now >= to)
		goto commit;
	if (now != to - 1) {
		err = sp_fail(SP_ERR_INTERNAL, "store %s: migration to %lld from version %lld", st->path,
			      (long long)to, (long long)now);
		goto out;
	}
	(void)snprintf(what, sizeof what, "schema migration %lld", (long long)to);
	err = sps_exec(st, migrations[to - 1], what);
	if (err)
		goto out;
	err = set_version(st, to);
	if (err)
		goto out;
commit:
	err = sp_store_commit(st);
out:
	if (err)
		sp_store_rollback(st);
	return err;
}

sp_err sps_schema_migrate(sp_store *st, int fresh)
{
	sp_err err = SP_OK;
	int64_t version;

	err = read_version(st, &version);
	if (err)
		goto out;
	/* An existing file without our schema is someone else's database, or
	 * a store whose creation was interrupted; neither is silently turned
	 * into a store. */
	if (version == 0 && !fresh) {
		err = sp_fail(SP_ERR_DB,
			      "%s is not a sitepki store (no schema; if a create was interrupted, remove it "
			      "and create again)",
			      st->path);
		goto out;
	}
	err = check_not_newer(st, version);
	if (err)
		goto out;
	while (version < SP_STORE_SCHEMA_VERSION) {
		err = migrate_one(st, version + 1);
		if (err)
			goto out;
		version++;
	}
out:
	return err;
}
