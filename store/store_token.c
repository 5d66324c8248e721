/*
 * store_token.c - one-time enrollment tokens (schema v3).
 *
 * The store keeps only the SHA-256 of a token's secret (enroll/token.c
 * makes the secret and never hands it here). A token is spent in two steps
 * so that a request that fails after authentication does not burn it:
 * claim (UNUSED -> CLAIMED) when the request is accepted, then finish
 * (CLAIMED -> USED with the serial, or back to UNUSED). The claim is one
 * conditional UPDATE: of two requests racing with the same token, exactly
 * one changes the row, whatever the interleaving of the processes.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_COLS                                                                                \
	"id, secret_sha256, template, subject, dns, upn, created_by, created_at, expires_at, state," \
	" used_at, cert_serial"

#define SQL_TOKEN_INSERT                                                                           \
	"INSERT INTO token(secret_sha256, template, subject, dns, upn, created_by, created_at,"    \
	" expires_at, state, used_at, cert_serial) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, 0, '')"
#define SQL_TOKEN_GET "SELECT " TOKEN_COLS " FROM token WHERE id = ?1"
/* Everything the claim depends on is in its WHERE: the row is changed
 * only if it is still unused and unexpired at this very statement. */
#define SQL_TOKEN_CLAIM "UPDATE token SET state = 1 WHERE id = ?1 AND state = 0 AND expires_at > ?2"
#define SQL_TOKEN_FINISH "UPDATE token SET state = 2, used_at = ?2, cert_serial = ?3 WHERE id = ?1 AND state = 1"
#define SQL_TOKEN_RELEASE "UPDATE token SET state = 0 WHERE id = ?1 AND state = 1"
#define SQL_TOKEN_LIST "SELECT " TOKEN_COLS " FROM token ORDER BY id"

static sp_err fill_text(sp_store *st, sqlite3_stmt *s, int col, char **out, int copy)
{
	const unsigned char *v;

	if (copy)
		return sps_col_strdup(st, s, col, out);
	v = sqlite3_column_text(s, col);
	if (!v && sqlite3_column_type(s, col) != SQLITE_NULL && sqlite3_errcode(st->db) == SQLITE_NOMEM)
		return sp_fail(SP_ERR_NOMEM, "store: out of memory reading a column");
	/* Borrowed: the callback gets a const row and must not write. */
	*out = v ? (char *)v : (char *)"";
	return SP_OK;
}

/* Fill from TOKEN_COLS. copy = 1: owned strings (sp_token_row_clear);
 * copy = 0: pointers into SQLite's memory, valid until the next step. */
static sp_err token_fill(sp_store *st, sqlite3_stmt *s, sp_token_row *r, int copy)
{
	const unsigned char *h;
	sp_err err;

	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	h = sqlite3_column_text(s, 1);
	if (!h || sqlite3_column_bytes(s, 1) != 64)
		return sp_fail(SP_ERR_DB, "token %lld has a malformed secret_sha256 column", (long long)r->id);
	memcpy(r->secret_sha256, h, 65);
	if ((err = fill_text(st, s, 2, &r->template_name, copy)) || (err = fill_text(st, s, 3, &r->subject, copy)) ||
	    (err = fill_text(st, s, 4, &r->dns, copy)) || (err = fill_text(st, s, 5, &r->upn, copy)) ||
	    (err = fill_text(st, s, 6, &r->created_by, copy)) || (err = fill_text(st, s, 11, &r->cert_serial, copy)))
		goto out;
	r->created_at = sqlite3_column_int64(s, 7);
	r->expires_at = sqlite3_column_int64(s, 8);
	r->state = sqlite3_column_int(s, 9);
	r->used_at = sqlite3_column_int64(s, 10);
out:
	if (err && copy)
		sp_token_row_clear(r);
	return err;
}

sp_err sp_store_token_insert(sp_store *st, const sp_token_row *row, int64_t *id)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char hash[65];
	int rc;

	if (id)
		*id = 0;
	err = sps_need_txn(st, "token insert");
	if (err)
		goto out;
	if (!row || !row->template_name || !*row->template_name) {
		err = sp_fail(SP_ERR_INPUT, "token needs a template");
		goto out;
	}
	if (row->state != SP_TOKEN_UNUSED) {
		err = sp_fail(SP_ERR_INPUT, "a new token must be unused (state %d given)", row->state);
		goto out;
	}
	if (strnlen(row->secret_sha256, sizeof row->secret_sha256) == sizeof row->secret_sha256) {
		err = sp_fail(SP_ERR_INPUT, "token: secret hash field is not terminated");
		goto out;
	}
	/* the hash is compared as text later: store it in one canonical form */
	err = sp_hex_normalise(row->secret_sha256, hash, sizeof hash);
	if (err)
		goto out;
	if (strlen(hash) != 64) {
		err = sp_fail(SP_ERR_INPUT, "token: the secret hash is not a SHA-256 (64 hex digits)");
		goto out;
	}
	if (row->expires_at <= row->created_at) {
		err = sp_fail(SP_ERR_INPUT, "token would expire (%lld) before it is created (%lld)",
			      (long long)row->expires_at, (long long)row->created_at);
		goto out;
	}
	err = sps_stmt(st, SPS_TOKEN_INSERT, SQL_TOKEN_INSERT, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, hash);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, row->template_name);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 3, row->subject);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 4, row->dns);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 5, row->upn);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 6, row->created_by);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 7, row->created_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 8, row->expires_at);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "token insert");
		goto out;
	}
	if (id)
		*id = sqlite3_last_insert_rowid(st->db);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_token_get(sp_store *st, int64_t id, sp_token_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	err = sps_stmt(st, SPS_TOKEN_GET, SQL_TOKEN_GET, &s);
	if (err)
		goto out;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK) {
		err = sps_db_fail(st, "token look-up");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "no enrollment token %lld", (long long)id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "token look-up");
		goto out;
	}
	err = token_fill(st, s, out, 1);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_token_claim(sp_store *st, int64_t id, int64_t now)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_token_row row;
	int rc;

	memset(&row, 0, sizeof row);
	err = sps_need_txn(st, "token claim");
	if (err)
		goto out;
	err = sps_stmt(st, SPS_TOKEN_CLAIM, SQL_TOKEN_CLAIM, &s);
	if (err)
		goto out;
	rc = sqlite3_bind_int64(s, 1, id);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, now);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "token claim");
		goto out;
	}
	if (sqlite3_changes(st->db) == 1)
		goto out;
	/* Nothing changed: only now look at the row, to say why. Inside the
	 * caller's write transaction, so the answer is the state the UPDATE
	 * saw. */
	sps_stmt_done(s);
	s = NULL;
	err = sp_store_token_get(st, id, &row);
	if (err)
		goto out;
	if (row.state != SP_TOKEN_UNUSED)
		err = sp_fail(SP_ERR_EXISTS, "enrollment token %lld was already used", (long long)id);
	else
		err = sp_fail(SP_ERR_POLICY, "enrollment token %lld expired", (long long)id);
out:
	sps_stmt_done(s);
	sp_token_row_clear(&row);
	return err;
}

sp_err sp_store_token_finish(sp_store *st, int64_t id, const char *cert_serial, int64_t now)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_token_row row;
	int rc;

	memset(&row, 0, sizeof row);
	err = sps_need_txn(st, "token finish");
	if (err)
		goto out;
	if (cert_serial)
		err = sps_stmt(st, SPS_TOKEN_FINISH, SQL_TOKEN_FINISH, &s);
	else
		err = sps_stmt(st, SPS_TOKEN_RELEASE, SQL_TOKEN_RELEASE, &s);
	if (err)
		goto out;
	rc = sqlite3_bind_int64(s, 1, id);
	if (rc == SQLITE_OK && cert_serial)
		rc = sqlite3_bind_int64(s, 2, now);
	if (rc == SQLITE_OK && cert_serial)
		rc = sps_bind_text(s, 3, cert_serial);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "token finish");
		goto out;
	}
	if (sqlite3_changes(st->db) == 1)
		goto out;
	sps_stmt_done(s);
	s = NULL;
	err = sp_store_token_get(st, id, &row);
	if (err)
		goto out;
	err = sp_fail(SP_ERR_POLICY, "enrollment token %lld is not claimed (it is %s)", (long long)id,
		      row.state == SP_TOKEN_USED ? "used" : "unused");
out:
	sps_stmt_done(s);
	sp_token_row_clear(&row);
	return err;
}

sp_err sp_store_token_list(sp_store *st, sp_token_cb cb, void *arg)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_token_row row;
	int rc;

	if (!cb) {
		err = sp_fail(SP_ERR_INPUT, "token list: no callback");
		goto out;
	}
	/* Per call, not cached: the callback may re-enter the store. */
	if (sqlite3_prepare_v2(st->db, SQL_TOKEN_LIST, -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "token list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cbrc;
		err = token_fill(st, s, &row, 0);
		if (err)
			goto out;
		cbrc = cb(&row, arg);
		if (cbrc) {
			err = sps_cb_result(cbrc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "token list");
		goto out;
	}
out:
	(void)sqlite3_finalize(s); /* the walk's error is already reported */
	return err;
}

void sp_token_row_clear(sp_token_row *row)
{
	if (!row)
		return;
	free(row->template_name);
	free(row->subject);
	free(row->dns);
	free(row->upn);
	free(row->created_by);
	free(row->cert_serial);
	memset(row, 0, sizeof *row);
}
