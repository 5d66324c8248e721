/*
 * store_epoch.c - one number for "has any revocation state or block
 * changed?", read by the enrollment service on every request instead of
 * looking its client certificate up in two tables.
 */
#include "store/store_int.h"

/* Both counters only grow (store_revoke.c bumps one, the triggers of
 * schema 4 the other), so their sum changes whenever either does. One
 * look-up per key: "key IN (...)" would build a temporary table for the
 * list on every call, and this runs on every request. */
#define SQL_STATUS_EPOCH                                                     \
	"SELECT value FROM meta WHERE key = 'revocation_seq'"                \
	" UNION ALL SELECT value FROM meta WHERE key = 'block_seq'"

sp_err sp_store_status_epoch(sp_store *st, int64_t *epoch)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int64_t sum = 0;
	int rows = 0, rc;

	*epoch = 0;
	err = sps_stmt(st, SPS_STATUS_EPOCH, SQL_STATUS_EPOCH, &s);
	if (err)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t n = 0;

		if (!sps_meta_counter(sqlite3_column_text(s, 0), &n)) {
			err = sp_fail(SP_ERR_DB, "store %s: a change counter in meta is damaged", st->path);
			goto out;
		}
		sum += n;
		rows++;
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "read change counters");
		goto out;
	}
	if (rows != 2) {
		err = sp_fail(SP_ERR_DB, "store %s: a change counter is missing from meta", st->path);
		goto out;
	}
	*epoch = sum;
out:
	sps_stmt_done(s);
	return err;
}
