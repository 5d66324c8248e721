/*
 * store_media.c - boot-media / PXE certificates whose key the CA generated
 * (schema v3, table media; media/ is the only writer).
 *
 * A media row belongs to one certificate row (the foreign key is what
 * refuses a serial the store never issued: no SELECT first). archived_key
 * is NULL, never an empty blob, when the key was not kept, so "archived"
 * is a plain IS NOT NULL. exported_at is written only once an export file
 * is completely in place (media/media_create.c), which is why it is a
 * separate call from the insert.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MEDIA_COLS "serial, name, created_at, archived_key, exported_at, export_count, legacy"

#define SQL_MEDIA_INSERT "INSERT INTO media(" MEDIA_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
#define SQL_MEDIA_GET "SELECT " MEDIA_COLS " FROM media WHERE serial = ?1"
#define SQL_MEDIA_MARK                                                                         \
	"UPDATE media SET exported_at = ?2, export_count = export_count + 1, legacy = ?3" \
	" WHERE serial = ?1"
#define SQL_MEDIA_LIST "SELECT " MEDIA_COLS " FROM media ORDER BY created_at, serial"

/* A serial as a user may type it (colons, spaces, either case) in the
 * stored form: upper-case hex of 1..40 digits (as sp_serial_hex prints). */
static sp_err serial_norm(const char *in, char out[41])
{
	char norm[41];
	size_t n;
	sp_err err;

	out[0] = '\0';
	if (!in || !*in)
		return sp_fail(SP_ERR_INPUT, "no certificate serial given");
	err = sp_hex_normalise(in, norm, sizeof norm);
	if (err)
		return err;
	n = strlen(norm);
	if (n == 0)
		return sp_fail(SP_ERR_INPUT, "'%s' is not a certificate serial (1-40 hex digits)", in);
	for (size_t i = 0; i <= n; i++)
		out[i] = (norm[i] >= 'a' && norm[i] <= 'f') ? (char)(norm[i] - 'a' + 'A') : norm[i];
	return SP_OK;
}

sp_err sp_store_media_insert(sp_store *st, const sp_media_row *row)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char serial[41];
	int rc;

	err = sps_need_txn(st, "media insert");
	if (err)
		goto out;
	if (!row) {
		err = sp_fail(SP_ERR_INPUT, "media insert: no row");
		goto out;
	}
	if (strnlen(row->serial, sizeof row->serial) == sizeof row->serial) {
		err = sp_fail(SP_ERR_INPUT, "media row: serial field is not terminated");
		goto out;
	}
	if ((err = serial_norm(row->serial, serial)) != SP_OK)
		goto out;
	if (!row->name || !*row->name) {
		err = sp_fail(SP_ERR_INPUT, "media certificate %s needs a name", serial);
		goto out;
	}
	/* NULL means "not archived"; an empty blob would read as archived
	 * and decrypt to nothing. */
	if (!!row->archived_key != !!row->archived_key_len) {
		err = sp_fail(SP_ERR_INPUT, "media certificate %s: archived key pointer and length disagree", serial);
		goto out;
	}
	if (row->legacy != 0 && row->legacy != 1) {
		err = sp_fail(SP_ERR_INPUT, "media certificate %s: legacy must be 0 or 1, not %d", serial, row->legacy);
		goto out;
	}
	if (row->exported_at < 0 || row->export_count < 0 || (row->export_count == 0) != (row->exported_at == 0)) {
		err = sp_fail(SP_ERR_INPUT, "media certificate %s: export time %lld and count %lld disagree", serial,
			      (long long)row->exported_at, (long long)row->export_count);
		goto out;
	}
	err = sps_stmt(st, SPS_MEDIA_INSERT, SQL_MEDIA_INSERT, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, serial);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, row->name);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, row->created_at ? row->created_at : (int64_t)time(NULL));
	if (rc == SQLITE_OK && row->archived_key) /* unbound = NULL = not archived */
		rc = sps_bind_blob(s, 4, row->archived_key, row->archived_key_len);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 5, row->exported_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 6, row->export_count);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 7, row->legacy);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "media insert");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
		err = sp_fail(SP_ERR_NOTFOUND, "no certificate with serial %s for the media row", serial);
		goto out;
	}
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
		err = sp_fail(SP_ERR_EXISTS, "certificate %s is already recorded as boot media", serial);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "media insert");
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

/* Fill from MEDIA_COLS. copy = 1: owned name and key (sp_media_row_clear);
 * copy = 0: pointers into SQLite's memory, valid until the next step. */
static sp_err media_fill(sp_store *st, sqlite3_stmt *s, sp_media_row *r, int copy)
{
	const unsigned char *serial = sqlite3_column_text(s, 0);
	int n = sqlite3_column_bytes(s, 0);
	sp_err err = SP_OK;

	memset(r, 0, sizeof *r);
	if (!serial || n <= 0 || (size_t)n >= sizeof r->serial)
		return sp_fail(SP_ERR_DB, "a media row has a malformed serial column");
	memcpy(r->serial, serial, (size_t)n);
	r->serial[n] = '\0';
	r->created_at = sqlite3_column_int64(s, 2);
	r->exported_at = sqlite3_column_int64(s, 4);
	r->export_count = sqlite3_column_int64(s, 5);
	r->legacy = sqlite3_column_int(s, 6);
	if (copy) {
		if ((err = sps_col_strdup(st, s, 1, &r->name)) != SP_OK ||
		    (err = sps_col_blobdup(st, s, 3, &r->archived_key, &r->archived_key_len)) != SP_OK)
			sp_media_row_clear(r);
		return err;
	}
	{
		const unsigned char *name = sqlite3_column_text(s, 1);
		const void *key = sqlite3_column_blob(s, 3);
		int klen = sqlite3_column_bytes(s, 3);
		if ((!name || (!key && sqlite3_column_type(s, 3) != SQLITE_NULL)) &&
		    sqlite3_errcode(st->db) == SQLITE_NOMEM)
			return sp_fail(SP_ERR_NOMEM, "store: out of memory reading a column");
		/* Borrowed: the callback gets a const row and must not write. */
		r->name = name ? (char *)name : (char *)"";
		r->archived_key = key && klen > 0 ? (uint8_t *)key : NULL;
		r->archived_key_len = key && klen > 0 ? (size_t)klen : 0;
	}
	return SP_OK;
}

sp_err sp_store_media_get(sp_store *st, const char *serial, sp_media_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char norm[41];
	int rc;

	memset(out, 0, sizeof *out);
	if ((err = serial_norm(serial, norm)) != SP_OK)
		goto out;
	err = sps_stmt(st, SPS_MEDIA_GET, SQL_MEDIA_GET, &s);
	if (err)
		goto out;
	if (sps_bind_text(s, 1, norm) != SQLITE_OK) {
		err = sps_db_fail(st, "media look-up");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "%s is not a boot-media certificate (sitepki media list)", norm);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "media look-up");
		goto out;
	}
	err = media_fill(st, s, out, 1);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_media_mark_exported(sp_store *st, const char *serial, int64_t when, int legacy)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char norm[41];
	int rc;

	err = sps_need_txn(st, "media export record");
	if (err)
		goto out;
	if ((err = serial_norm(serial, norm)) != SP_OK)
		goto out;
	/* 0 is "never exported": an export at time 0 would read as none */
	if (when <= 0) {
		err = sp_fail(SP_ERR_INPUT, "media certificate %s: export time %lld is not a time", norm, (long long)when);
		goto out;
	}
	if (legacy != 0 && legacy != 1) {
		err = sp_fail(SP_ERR_INPUT, "media certificate %s: legacy must be 0 or 1, not %d", norm, legacy);
		goto out;
	}
	err = sps_stmt(st, SPS_MEDIA_MARK, SQL_MEDIA_MARK, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, norm);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, when);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 3, legacy);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "media export record");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		err = sp_fail(SP_ERR_NOTFOUND, "%s is not a boot-media certificate (sitepki media list)", norm);
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_media_list(sp_store *st, sp_media_cb cb, void *arg)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_media_row row;
	int rc;

	if (!cb) {
		err = sp_fail(SP_ERR_INPUT, "media list: no callback");
		goto out;
	}
	/* Per call, not cached: the callback re-enters the store (media list
	 * looks up each row's certificate and block state). */
	if (sqlite3_prepare_v2(st->db, SQL_MEDIA_LIST, -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "media list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cbrc;
		err = media_fill(st, s, &row, 0);
		if (err)
			goto out;
		cbrc = cb(&row, arg);
		if (cbrc) {
			err = sps_cb_result(cbrc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "media list");
		goto out;
	}
out:
	(void)sqlite3_finalize(s); /* the walk's error is already reported */
	return err;
}

void sp_media_row_clear(sp_media_row *row)
{
	if (!row)
		return;
	free(row->name);
	free(row->archived_key); /* ciphertext: nothing to wipe */
	memset(row, 0, sizeof *row);
}
