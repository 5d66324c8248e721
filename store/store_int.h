/*
 * store_int.h - private to the store/ sources: the connection struct, the
 * prepared-statement cache and the helpers every store file shares.
 *
 * Shared helpers use the sps_ prefix (store-private) so they cannot be taken
 * for the public sp_store_* API; everything else in store/ is static.
 */
#ifndef SITEPKI_STORE_INT_H
#define SITEPKI_STORE_INT_H

#include <sqlite3.h>

#include "store/store.h"

/* Statements prepared once per connection and kept: the ones on the
 * issuance path and the point look-ups. Walks (lists, verify) are prepared
 * per call so that a callback may re-enter the store without resetting the
 * statement its caller is stepping. */
typedef enum {
	SPS_BEGIN,
	SPS_COMMIT,
	SPS_ROLLBACK,
	SPS_CERT_INSERT,
	SPS_SERIAL_EXISTS,
	SPS_CERT_BY_SERIAL,
	SPS_CERT_BY_SHA256,
	SPS_CERT_BY_SHA1,
	SPS_CERT_COUNT,
	SPS_AUDIT_INSERT,
	SPS_META_GET,
	SPS_META_SET,
	SPS_REQUEST_INSERT,
	SPS_REQUEST_GET,
	SPS_REQUEST_SET_STATUS,
	SPS_CA_PUT,
	SPS_CA_GET,
	SPS_SETTING_GET,
	SPS_SETTING_SET,
	SPS_REV_SEQ_GET,
	SPS_REV_SEQ_BUMP,
	SPS_CERT_REVOKE,
	SPS_CERT_RELEASE,
	SPS_CERT_REV_STATE,
	SPS_CRL_INSERT,
	SPS_CRL_GET,
	/* the four crl_last variants, in the order store_crl.c indexes them */
	SPS_CRL_LAST_ANY,
	SPS_CRL_LAST_ANY_DER,
	SPS_CRL_LAST_KIND,
	SPS_CRL_LAST_KIND_DER,
	SPS_BLOCK_INSERT,
	SPS_BLOCK_FIND,
	SPS_BLOCK_REMOVE_SHA256,
	SPS_BLOCK_REMOVE_SHA1,
	/* schema v3 */
	SPS_REQUEST_FIND_CSR,
	SPS_TOKEN_INSERT,
	SPS_TOKEN_GET,
	SPS_TOKEN_CLAIM,
	SPS_TOKEN_FINISH,
	SPS_TOKEN_RELEASE,
	SPS_MEDIA_INSERT,
	SPS_MEDIA_GET,
	SPS_MEDIA_MARK,
	/* schema v4 */
	SPS_STATUS_EPOCH,
	SPS_STMT_COUNT
} sps_stmt_id;

struct sp_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[SPS_STMT_COUNT];
	/* sp_store_defer_checkpoints: whom to tell, and the WAL's bound */
	int (*wal_grew)(void *arg, int frames);
	void *wal_grew_arg;
	int wal_limit;
};

/* The cached statement `id`, prepared from `sql` on first use. The caller
 * must hand it back with sps_stmt_done() on every path. */
sp_err sps_stmt(sp_store *st, sps_stmt_id id, const char *sql, sqlite3_stmt **out) SP_WARN_UNUSED;

/* Reset and unbind a statement (cached or not) so it holds no lock and no
 * borrowed SQLITE_STATIC pointer. NULL is fine. */
void sps_stmt_done(sqlite3_stmt *s);

/* Finalize every cached statement (before close). */
void sps_stmt_cache_free(sp_store *st);

/* sp_fail(SP_ERR_DB, "<what>: <sqlite message>"). Call it before resetting
 * the statement that failed so the message is the statement's own. */
sp_err sps_db_fail(sp_store *st, const char *what);

/* The store's SQLite VFS (store_vfs.c): the default one, with the writes of
 * a WAL commit gathered into one. Registered on first use; NULL if that
 * failed (the store then opens with the default VFS). */
#define SPS_VFS_NAME "sitepki"
const char *sps_vfs(void);

/* Writes the WAL file of `db` has made to the real file so far, or -1 if
 * its WAL is not open through sps_vfs() (tests). */
sqlite3_int64 sps_vfs_wal_writes(sqlite3 *db);

/* Every write must run inside sp_store_begin()/commit so that a failure
 * half-way through an operation never leaves half of it on disk. */
sp_err sps_need_txn(sp_store *st, const char *what) SP_WARN_UNUSED;

/* Run SQL without result rows (one or more statements). */
sp_err sps_exec(sp_store *st, const char *sql, const char *what) SP_WARN_UNUSED;

/* Copy a text column into a malloc'd string ("" for NULL). */
sp_err sps_col_strdup(sp_store *st, sqlite3_stmt *s, int col, char **out) SP_WARN_UNUSED;

/* Copy a blob column into a malloc'd buffer (NULL, 0 for NULL or empty). */
sp_err sps_col_blobdup(sp_store *st, sqlite3_stmt *s, int col, uint8_t **out, size_t *len) SP_WARN_UNUSED;

/* Bind text/blob the caller lends us for the duration of the call
 * (SQLITE_STATIC: no copy; sps_stmt_done() unbinds before we return).
 * A NULL string binds as "" for optional fields. */
int sps_bind_text(sqlite3_stmt *s, int idx, const char *text);
int sps_bind_blob(sqlite3_stmt *s, int idx, const uint8_t *data, size_t len);

/* Turn a walk callback's non-zero return into the sp_err the API promises. */
sp_err sps_cb_result(int rc);

/* A non-negative counter kept as text in meta, parsed strictly: 1 and *out
 * set, or 0 for anything that is not all decimal digits (a damaged value
 * must never read as 0 or as "unchanged"). */
int sps_meta_counter(const unsigned char *text, int64_t *out);

/* Certificate columns in the order sps_cert_fill() reads them; the last one
 * is the DER, which a list may replace with NULL. */
#define SPS_CERT_COLS                                                                         \
	"serial, sha256, sha1, subject, sans, template, not_before, not_after, issued_at," \
	" status, revoked_at, revoke_reason"

/* Fill `row` from the current result row of a statement selecting
 * SPS_CERT_COLS followed by the DER (or NULL). copy = 1: the row owns
 * malloc'd copies (sp_cert_row_clear()); copy = 0: the strings and DER point
 * into SQLite's memory and are valid until the statement steps again. */
sp_err sps_cert_fill(sp_store *st, sqlite3_stmt *s, sp_cert_row *row, int copy) SP_WARN_UNUSED;

/* The revocation sequence number the next state change takes, as an SQL
 * scalar subquery (NULL when the meta row is missing, which the NOT NULL
 * on certificate.rev_seq then refuses). Used inside the UPDATE/INSERT that
 * changes the state, followed by sps_rev_seq_bump() in the same
 * transaction. */
#define SPS_NEXT_REV_SEQ "(SELECT CAST(value AS INTEGER) + 1 FROM meta WHERE key = 'revocation_seq')"

/* Advance meta 'revocation_seq' by one (store_revoke.c); call right after
 * the statement that used SPS_NEXT_REV_SEQ changed a row. */
sp_err sps_rev_seq_bump(sp_store *st) SP_WARN_UNUSED;

/* Prepare BEGIN/COMMIT/ROLLBACK at open (store_txn.c). */
sp_err sps_txn_prepare(sp_store *st) SP_WARN_UNUSED;

/* Applies pending migrations (store_schema.c); `fresh` = the file was just
 * created by this open. */
sp_err sps_schema_migrate(sp_store *st, int fresh) SP_WARN_UNUSED;

#endif
