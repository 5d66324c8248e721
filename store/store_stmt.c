/*
 * store_stmt.c - the per-connection prepared-statement cache and the small
 * helpers every store file shares (error text, transaction guard, column
 * copies, bindings).
 */
#include "store/store_int.h"

#include <errno.h>

#include <stdlib.h>
#include <string.h>

sp_err sps_db_fail(sp_store *st, const char *what)
{
	return sp_fail(SP_ERR_DB, "%s: %s", what, sqlite3_errmsg(st->db));
}

sp_err sps_stmt(sp_store *st, sps_stmt_id id, const char *sql, sqlite3_stmt **out)
{
	sp_err err = SP_OK;
	int rc;

	*out = NULL;
	if (!st->stmt[id]) {
		/* PERSISTENT: these live as long as the connection, so SQLite
		 * should not take them from its short-lived lookaside pool. */
		rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			err = sps_db_fail(st, "prepare");
			st->stmt[id] = NULL;
			goto out;
		}
	}
	*out = st->stmt[id];
out:
	return err;
}

void sps_stmt_done(sqlite3_stmt *s)
{
	if (!s)
		return;
	/* reset() repeats the error of the last step(), which the caller has
	 * already reported; what matters here is that the statement lets go of
	 * its read lock and of any SQLITE_STATIC pointer we lent it.
	 * clear_bindings() always returns SQLITE_OK. */
	(void)sqlite3_reset(s);
	(void)sqlite3_clear_bindings(s);
}

void sps_stmt_cache_free(sp_store *st)
{
	for (int i = 0; i < SPS_STMT_COUNT; i++) {
		/* finalize() returns the last step's error again; nothing to do
		 * with it while closing. */
		(void)sqlite3_finalize(st->stmt[i]);
		st->stmt[i] = NULL;
	}
}

sp_err sps_need_txn(sp_store *st, const char *what)
{
	if (sqlite3_get_autocommit(st->db))
		return sp_fail(SP_ERR_DB, "%s outside a transaction", what);
	return SP_OK;
}

sp_err sps_exec(sp_store *st, const char *sql, const char *what)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sps_db_fail(st, what);
	return SP_OK;
}

sp_err sps_col_strdup(sp_store *st, sqlite3_stmt *s, int col, char **out)
{
	const unsigned char *text;
	int n;
	char *copy;

	*out = NULL;
	text = sqlite3_column_text(s, col);
	if (!text) {
		/* NULL is either an SQL NULL or an out-of-memory conversion. */
		if (sqlite3_errcode(st->db) == SQLITE_NOMEM)
			return sp_fail(SP_ERR_NOMEM, "store: out of memory reading a column");
		text = (const unsigned char *)"";
	}
	n = sqlite3_column_bytes(s, col);
	copy = malloc((size_t)n + 1);
	if (!copy)
		return sp_fail(SP_ERR_NOMEM, "store: out of memory (%d bytes)", n);
	memcpy(copy, text, (size_t)n);
	copy[n] = '\0';
	*out = copy;
	return SP_OK;
}

sp_err sps_col_blobdup(sp_store *st, sqlite3_stmt *s, int col, uint8_t **out, size_t *len)
{
	const void *data;
	int n;

	*out = NULL;
	*len = 0;
	data = sqlite3_column_blob(s, col);
	n = sqlite3_column_bytes(s, col);
	if (!data || n <= 0) {
		if (sqlite3_column_type(s, col) != SQLITE_NULL && sqlite3_errcode(st->db) == SQLITE_NOMEM)
			return sp_fail(SP_ERR_NOMEM, "store: out of memory reading a column");
		return SP_OK;
	}
	*out = malloc((size_t)n);
	if (!*out)
		return sp_fail(SP_ERR_NOMEM, "store: out of memory (%d bytes)", n);
	memcpy(*out, data, (size_t)n);
	*len = (size_t)n;
	return SP_OK;
}

int sps_bind_text(sqlite3_stmt *s, int idx, const char *text)
{
	return sqlite3_bind_text64(s, idx, text ? text : "", text ? strlen(text) : 0, SQLITE_STATIC,
				   SQLITE_UTF8);
}

int sps_bind_blob(sqlite3_stmt *s, int idx, const uint8_t *data, size_t len)
{
	/* A zero-length blob must still be a blob, not NULL: bind_blob with a
	 * NULL pointer would store NULL and trip NOT NULL columns. */
	if (!data || len == 0)
		return sqlite3_bind_zeroblob(s, idx, 0);
	return sqlite3_bind_blob64(s, idx, data, len, SQLITE_STATIC);
}

/* Generated from the error X-macro so a code added to common.h is known
 * here without anyone remembering this file. */
static int is_sp_err(int rc)
{
	switch (rc) {
#define SPS_ERR_CASE_(sym, num, str) case num:
		SP_ERRORS(SPS_ERR_CASE_)
#undef SPS_ERR_CASE_
		return 1;
	default:
		return 0;
	}
}

int sps_meta_counter(const unsigned char *text, int64_t *out)
{
	char *end = NULL;
	long long n;

	if (!text || *text < '0' || *text > '9')
		return 0;
	errno = 0;
	n = strtoll((const char *)text, &end, 10);
	if (errno || !end || *end)
		return 0;
	*out = (int64_t)n;
	return 1;
}

sp_err sps_cb_result(int rc)
{
	/* The callback may hand back one of our error codes (having set the
	 * detail message itself); anything else is just "stopped". */
	if (rc != SP_OK && is_sp_err(rc))
		return (sp_err)rc;
	return sp_fail(SP_ERR_INTERNAL, "store walk stopped by its callback (%d)", rc);
}
