/*
 * store_block.c - the block list: certificates (of this CA or any other)
 * that the site's own systems refuse at once, without waiting for a CRL.
 *
 * An entry is known by its SHA-256 fingerprint, its SHA-1 thumbprint (what
 * Windows shows), or both. An unknown fingerprint is stored as NULL, never
 * '', so the UNIQUE constraints admit any number of entries that lack one
 * and still refuse a second entry with the same known value.
 * sp_store_block_find is on the enrollment service's request path: one
 * statement probing the two UNIQUE indexes (SQLite's multi-index OR).
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_COLS "sha256, sha1, serial, subject, issuer, reason, created_by, created_at, in_store"

#define SQL_BLOCK_INSERT "INSERT INTO block(" BLOCK_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
/* An unbound fingerprint is NULL and matches nothing. Should the two
 * fingerprints hit two different entries, the SHA-256 one is the answer. */
#define SQL_BLOCK_FIND                                                                         \
	"SELECT " BLOCK_COLS " FROM block WHERE sha256 = ?1 OR sha1 = ?2"                      \
	" ORDER BY sha256 IS ?1 DESC, id LIMIT 1"
#define SQL_BLOCK_REMOVE_SHA256 "DELETE FROM block WHERE sha256 = ?1"
#define SQL_BLOCK_REMOVE_SHA1 "DELETE FROM block WHERE sha1 = ?1"
#define SQL_BLOCK_LIST "SELECT " BLOCK_COLS " FROM block ORDER BY created_at, sha256, id"

#define SHA256_HEX 64
#define SHA1_HEX 40

/* Normalise an optional fingerprint (colons, spaces, case) into out: ""
 * when in is NULL or empty (unknown), else exactly `want` hex digits.
 * in_cap bounds the read for fixed-size fields (0 = a C string). */
static sp_err fp_norm(const char *in, size_t in_cap, size_t want, char *out, size_t outsz)
{
	sp_err err;

	out[0] = '\0';
	if (!in || !*in)
		return SP_OK;
	if (in_cap && strnlen(in, in_cap) == in_cap)
		return sp_fail(SP_ERR_INPUT, "block entry: fingerprint field is not terminated");
	err = sp_hex_normalise(in, out, outsz);
	if (err)
		return err;
	if (strlen(out) != want) {
		err = sp_fail(SP_ERR_INPUT, "'%s' is not a %s (%zu hex digits)", in,
			      want == SHA256_HEX ? "SHA-256 fingerprint" : "SHA-1 thumbprint", want);
		out[0] = '\0';
		return err;
	}
	return SP_OK;
}

/* Bind text, or leave the parameter NULL (unknown) when empty. */
static int bind_opt(sqlite3_stmt *s, int idx, const char *text)
{
	if (!text || !*text)
		return SQLITE_OK;
	return sps_bind_text(s, idx, text);
}

sp_err sp_store_block_add(sp_store *st, const sp_block_row *row)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char sha256[SHA256_HEX + 1], sha1[SHA1_HEX + 1];
	int rc;

	err = sps_need_txn(st, "block add");
	if (err)
		goto out;
	if (!row) {
		err = sp_fail(SP_ERR_INPUT, "block add: no entry");
		goto out;
	}
	if ((err = fp_norm(row->sha256, sizeof row->sha256, SHA256_HEX, sha256, sizeof sha256)) ||
	    (err = fp_norm(row->sha1, sizeof row->sha1, SHA1_HEX, sha1, sizeof sha1)))
		goto out;
	if (!*sha256 && !*sha1) {
		err = sp_fail(SP_ERR_INPUT, "block entry needs a SHA-256 fingerprint or a SHA-1 thumbprint");
		goto out;
	}
	err = sps_stmt(st, SPS_BLOCK_INSERT, SQL_BLOCK_INSERT, &s);
	if (err)
		goto out;
	rc = bind_opt(s, 1, sha256);
	if (rc == SQLITE_OK)
		rc = bind_opt(s, 2, sha1);
	if (rc == SQLITE_OK)
		rc = bind_opt(s, 3, row->serial);
	if (rc == SQLITE_OK)
		rc = bind_opt(s, 4, row->subject);
	if (rc == SQLITE_OK)
		rc = bind_opt(s, 5, row->issuer);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 6, row->reason);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 7, row->created_by);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 8, row->created_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 9, row->in_store != 0);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "block add");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		/* SQLite names the column: "UNIQUE constraint failed: block.sha1". */
		if (strstr(sqlite3_errmsg(st->db), "block.sha1"))
			err = sp_fail(SP_ERR_EXISTS, "SHA-1 thumbprint %s is already blocked", sha1);
		else
			err = sp_fail(SP_ERR_EXISTS, "SHA-256 fingerprint %s is already blocked", sha256);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "block add");
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_block_remove(sp_store *st, const char *key)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char norm[SHA256_HEX + 1];
	size_t len;

	err = sps_need_txn(st, "block remove");
	if (err)
		goto out;
	if (!key || !*key) {
		err = sp_fail(SP_ERR_INPUT, "block remove: no fingerprint given");
		goto out;
	}
	err = sp_hex_normalise(key, norm, sizeof norm);
	if (err)
		goto out;
	len = strlen(norm);
	if (len == SHA256_HEX)
		err = sps_stmt(st, SPS_BLOCK_REMOVE_SHA256, SQL_BLOCK_REMOVE_SHA256, &s);
	else if (len == SHA1_HEX)
		err = sps_stmt(st, SPS_BLOCK_REMOVE_SHA1, SQL_BLOCK_REMOVE_SHA1, &s);
	else
		err = sp_fail(SP_ERR_INPUT,
			      "'%s' is neither a SHA-256 fingerprint (64 hex digits) nor a SHA-1 thumbprint (40)", key);
	if (err)
		goto out;
	if (sps_bind_text(s, 1, norm) != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "block remove");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		err = sp_fail(SP_ERR_NOTFOUND, "%s is not blocked", norm);
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

/* Copy a fingerprint column (NULL = unknown = "") into a fixed field. */
static sp_err fill_fp(sqlite3_stmt *s, int col, char *out, size_t outsz)
{
	const unsigned char *v = sqlite3_column_text(s, col);
	int n = sqlite3_column_bytes(s, col);

	out[0] = '\0';
	if (!v)
		return SP_OK;
	if (n < 0 || (size_t)n >= outsz)
		return sp_fail(SP_ERR_DB, "block entry has a malformed %s column", col == 0 ? "sha256" : "sha1");
	memcpy(out, v, (size_t)n);
	out[n] = '\0';
	return SP_OK;
}

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

/* Fill from BLOCK_COLS. copy = 1: owned strings (sp_block_row_clear);
 * copy = 0: pointers into SQLite's memory, valid until the next step. */
static sp_err block_fill(sp_store *st, sqlite3_stmt *s, sp_block_row *r, int copy)
{
	sp_err err;

	memset(r, 0, sizeof *r);
	if ((err = fill_fp(s, 0, r->sha256, sizeof r->sha256)) || (err = fill_fp(s, 1, r->sha1, sizeof r->sha1)) ||
	    (err = fill_text(st, s, 2, &r->serial, copy)) || (err = fill_text(st, s, 3, &r->subject, copy)) ||
	    (err = fill_text(st, s, 4, &r->issuer, copy)) || (err = fill_text(st, s, 5, &r->reason, copy)) ||
	    (err = fill_text(st, s, 6, &r->created_by, copy)))
		goto out;
	r->created_at = sqlite3_column_int64(s, 7);
	r->in_store = sqlite3_column_int(s, 8);
out:
	if (err && copy)
		sp_block_row_clear(r);
	return err;
}

sp_err sp_store_block_find(sp_store *st, const char *sha256, const char *sha1, sp_block_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char n256[SHA256_HEX + 1], n1[SHA1_HEX + 1];
	int rc;

	if (out)
		memset(out, 0, sizeof *out);
	if ((err = fp_norm(sha256, 0, SHA256_HEX, n256, sizeof n256)) ||
	    (err = fp_norm(sha1, 0, SHA1_HEX, n1, sizeof n1)))
		goto out;
	if (!*n256 && !*n1) {
		err = sp_fail(SP_ERR_INPUT, "block look-up needs a SHA-256 fingerprint or a SHA-1 thumbprint");
		goto out;
	}
	err = sps_stmt(st, SPS_BLOCK_FIND, SQL_BLOCK_FIND, &s);
	if (err)
		goto out;
	rc = bind_opt(s, 1, n256);
	if (rc == SQLITE_OK)
		rc = bind_opt(s, 2, n1);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "block look-up");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "%s%s%s is not blocked", n256, *n256 && *n1 ? " / " : "", n1);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "block look-up");
		goto out;
	}
	if (out)
		err = block_fill(st, s, out, 1);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_block_list(sp_store *st, sp_block_cb cb, void *arg)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_block_row row;
	int rc;

	if (!cb) {
		err = sp_fail(SP_ERR_INPUT, "block list: no callback");
		goto out;
	}
	/* Per call, not cached: the callback may re-enter the store. */
	if (sqlite3_prepare_v2(st->db, SQL_BLOCK_LIST, -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "block list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cbrc;
		err = block_fill(st, s, &row, 0);
		if (err)
			goto out;
		cbrc = cb(&row, arg);
		if (cbrc) {
			err = sps_cb_result(cbrc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "block list");
		goto out;
	}
out:
	(void)sqlite3_finalize(s); /* the walk's error is already reported */
	return err;
}

void sp_block_row_clear(sp_block_row *row)
{
	if (!row)
		return;
	free(row->serial);
	free(row->subject);
	free(row->issuer);
	free(row->reason);
	free(row->created_by);
	memset(row, 0, sizeof *row);
}
