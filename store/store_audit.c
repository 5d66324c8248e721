/*
 * store_audit.c - the hash-chained audit log.
 *
 * Row hash (lower-case hex) = SHA-256 over seven fields, each written as an
 * 8-byte big-endian length followed by its bytes:
 *   prev_hash (64 hex characters), id (decimal), time (decimal),
 *   actor, action, subject, detail (UTF-8 as stored).
 * Length prefixes make the encoding injective: moving text from one field
 * into the next changes the hash. The first row's prev_hash is 64 zeros.
 * meta holds the head (audit_head_id, audit_head_hash), written in the same
 * transaction as the row, so cutting rows off the end is detected too.
 * docs/store.md gives the same recipe for checking the chain with other
 * tools.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZERO_HASH "0000000000000000000000000000000000000000000000000000000000000000"

#define SQL_META_GET                                                       \
	"SELECT (SELECT value FROM meta WHERE key = 'audit_head_id'),"     \
	" (SELECT value FROM meta WHERE key = 'audit_head_hash')"
#define SQL_META_SET                                                                     \
	"INSERT INTO meta(key, value) VALUES ('audit_head_id', ?1), ('audit_head_hash', ?2)" \
	" ON CONFLICT(key) DO UPDATE SET value = excluded.value"
#define SQL_AUDIT_INSERT                                                                 \
	"INSERT INTO audit(id, time, actor, action, subject, detail, prev_hash, hash)"   \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
#define AUDIT_COLS "id, time, actor, action, subject, detail, prev_hash, hash"

typedef struct {
	const char *ptr;
	size_t len;
} field;

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

static sp_err audit_hash(const char *prev_hash, int64_t id, int64_t t, const char *actor, const char *action,
			 const char *subject, const char *detail, char out[65])
{
	sp_err err = SP_OK;
	char id_s[24], t_s[24];
	field f[7];
	size_t total = 0, o = 0;
	uint8_t *buf = NULL, digest[32];

	(void)snprintf(id_s, sizeof id_s, "%lld", (long long)id);
	(void)snprintf(t_s, sizeof t_s, "%lld", (long long)t);
	f[0] = (field){prev_hash, strlen(prev_hash)};
	f[1] = (field){id_s, strlen(id_s)};
	f[2] = (field){t_s, strlen(t_s)};
	f[3] = (field){actor, strlen(actor)};
	f[4] = (field){action, strlen(action)};
	f[5] = (field){subject, strlen(subject)};
	f[6] = (field){detail, strlen(detail)};
	for (size_t i = 0; i < 7; i++) {
		if (total > SIZE_MAX - 8 || f[i].len > SIZE_MAX - 8 - total) {
			err = sp_fail(SP_ERR_INPUT, "audit row too large");
			goto out;
		}
		total += 8 + f[i].len;
	}
	buf = malloc(total);
	if (!buf) {
		err = sp_fail(SP_ERR_NOMEM, "store: out of memory (%zu bytes)", total);
		goto out;
	}
	for (size_t i = 0; i < 7; i++) {
		put_be64(buf + o, (uint64_t)f[i].len);
		o += 8;
		memcpy(buf + o, f[i].ptr, f[i].len);
		o += f[i].len;
	}
	sp_sha256(buf, total, digest);
	sp_hex(digest, sizeof digest, out, 0);
out:
	free(buf);
	return err;
}

static int is_hash_hex(const char *s)
{
	if (!s || strlen(s) != 64)
		return 0;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static const char *col_text(sqlite3_stmt *s, int col)
{
	const unsigned char *v = sqlite3_column_text(s, col);
	return v ? (const char *)v : "";
}

/* The recorded head. A missing meta row reads as id 0 / "" and so fails
 * every comparison rather than looking like an empty log. */
static sp_err head_get(sp_store *st, int64_t *id, char hash[65])
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	const char *h;

	*id = 0;
	hash[0] = '\0';
	err = sps_stmt(st, SPS_META_GET, SQL_META_GET, &s);
	if (err)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW) {
		err = sps_db_fail(st, "read audit head");
		goto out;
	}
	*id = sqlite3_column_int64(s, 0);
	h = col_text(s, 1);
	if (strlen(h) < 65)
		memcpy(hash, h, strlen(h) + 1);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_audit_append(sp_store *st, const char *actor, const char *action, const char *subject,
			     const char *detail)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int64_t head_id, id, now;
	char head[65], hash[65];
	int rc;

	/* Outside a transaction the row and the head could be written
	 * separately, and the row could outlive the rollback of what it
	 * records. */
	err = sps_need_txn(st, "audit append");
	if (err)
		goto out;
	if (!actor || !*actor || !action || !*action) {
		err = sp_fail(SP_ERR_INPUT, "audit row needs an actor and an action");
		goto out;
	}
	if (!subject)
		subject = "";
	if (!detail)
		detail = "";
	err = head_get(st, &head_id, head);
	if (err)
		goto out;
	/* Refuse to extend a chain whose head is already damaged: the new row
	 * would hide where the damage began. */
	if (head_id < 0 || !is_hash_hex(head)) {
		err = sp_fail(SP_ERR_DB, "audit head is damaged; run audit verify");
		goto out;
	}
	/* The id is part of the hash, so it is chosen here rather than by
	 * AUTOINCREMENT after the fact. */
	id = head_id + 1;
	now = (int64_t)time(NULL);
	err = audit_hash(head, id, now, actor, action, subject, detail, hash);
	if (err)
		goto out;

	err = sps_stmt(st, SPS_AUDIT_INSERT, SQL_AUDIT_INSERT, &s);
	if (err)
		goto out;
	rc = sqlite3_bind_int64(s, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, now);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 3, actor);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 4, action);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 5, subject);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 6, detail);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 7, head);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 8, hash);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "audit append");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		err = sp_fail(SP_ERR_DB, "audit row %lld already exists beyond the recorded head; run audit verify",
			      (long long)id);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "audit append");
		goto out;
	}
	sps_stmt_done(s);

	err = sps_stmt(st, SPS_META_SET, SQL_META_SET, &s);
	if (err)
		goto out;
	rc = sqlite3_bind_int64(s, 1, id);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, hash);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "audit head update");
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

static sp_err verify_walk(sp_store *st, int64_t *rows, int64_t *bad_id)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char expect_prev[65] = ZERO_HASH, hash[65], head[65];
	int64_t last_id = 0, head_id;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " AUDIT_COLS " FROM audit ORDER BY id", -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "audit verify");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(s, 0);
		const char *prev = col_text(s, 6), *stored = col_text(s, 7);

		(*rows)++;
		/* Ids are handed out contiguously (head + 1), so a gap is rows
		 * removed; the prev_hash check below would catch it too, this
		 * only names it better. */
		if (id != last_id + 1) {
			*bad_id = id;
			err = sp_fail(SP_ERR_DB, "audit row %lld follows row %lld: rows missing or inserted", (long long)id,
				      (long long)last_id);
			goto out;
		}
		if (strcmp(prev, expect_prev) != 0) {
			*bad_id = id;
			err = sp_fail(SP_ERR_DB,
				      "audit row %lld: previous-row hash does not match row %lld (deleted, inserted or "
				      "reordered rows)",
				      (long long)id, (long long)last_id);
			goto out;
		}
		err = audit_hash(prev, id, sqlite3_column_int64(s, 1), col_text(s, 2), col_text(s, 3), col_text(s, 4),
				 col_text(s, 5), hash);
		if (err)
			goto out;
		if (strcmp(hash, stored) != 0) {
			*bad_id = id;
			err = sp_fail(SP_ERR_DB, "audit row %lld: contents do not match its hash (edited)", (long long)id);
			goto out;
		}
		memcpy(expect_prev, hash, sizeof hash);
		last_id = id;
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "audit verify");
		goto out;
	}
	/* Rows cut off the end leave a shorter chain that is internally
	 * consistent; only the head written with each row reveals it. */
	err = head_get(st, &head_id, head);
	if (err)
		goto out;
	if (head_id != last_id || strcmp(head, expect_prev) != 0) {
		*bad_id = 0;
		err = sp_fail(SP_ERR_DB,
			      "audit head records row %lld but the chain ends at row %lld%s: newest rows deleted or "
			      "head altered",
			      (long long)head_id, (long long)last_id, head_id == last_id ? " with another hash" : "");
		goto out;
	}
out:
	(void)sqlite3_finalize(s); /* the walk's error is already reported */
	return err;
}

sp_err sp_store_audit_verify(sp_store *st, int64_t *rows, int64_t *bad_id)
{
	sp_err err = SP_OK;
	int64_t rows_local = 0, bad_local = 0;
	int own_txn = 0;

	if (!rows)
		rows = &rows_local;
	if (!bad_id)
		bad_id = &bad_local;
	*rows = 0;
	*bad_id = 0;
	/* One read transaction so the rows and the head are one snapshot: a
	 * writer appending between the walk and the head read would otherwise
	 * look like tampering. */
	if (sqlite3_get_autocommit(st->db)) {
		err = sps_exec(st, "BEGIN", "audit verify");
		if (err)
			goto out;
		own_txn = 1;
	}
	err = verify_walk(st, rows, bad_id);
out:
	/* Read-only: ending it with a rollback loses nothing and cannot
	 * overwrite the verdict's message. */
	if (own_txn)
		sp_store_rollback(st);
	return err;
}

sp_err sp_store_audit_list(sp_store *st, int64_t limit, sp_audit_cb cb, void *arg)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_audit_row row;
	int rc;

	if (limit < 0) {
		err = sp_fail(SP_ERR_INPUT, "audit list: negative limit");
		goto out;
	}
	/* Per call: the callback may re-enter the store. LIMIT -1 is "all". */
	if (sqlite3_prepare_v2(st->db,
			       "SELECT id, time, actor, action, subject, detail, hash FROM"
			       " (SELECT * FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
			       -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(s, 1, limit ? limit : -1) != SQLITE_OK) {
		err = sps_db_fail(st, "audit list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cbrc;
		row.id = sqlite3_column_int64(s, 0);
		row.time = sqlite3_column_int64(s, 1);
		row.actor = col_text(s, 2);
		row.action = col_text(s, 3);
		row.subject = col_text(s, 4);
		row.detail = col_text(s, 5);
		row.hash = col_text(s, 6);
		cbrc = cb(&row, arg);
		if (cbrc) {
			err = sps_cb_result(cbrc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "audit list");
		goto out;
	}
out:
	(void)sqlite3_finalize(s); /* the walk's error is already reported */
	return err;
}
