/*
 * store_checkpoint.c - WAL checkpoints run by another connection, so that a
 * busy writer never stops to copy the WAL into the database (store.h).
 */
#include "store/store_int.h"

/* Installed with sqlite3_wal_hook, which replaces SQLite's own
 * auto-checkpoint hook on this connection. Runs after each commit. */
static int wal_hook(void *p, sqlite3 *db, const char *name, int frames)
{
	sp_store *st = p;

	/* past the limit nobody is keeping up: bound the WAL here, as SQLite
	 * would; otherwise the caller says */
	if (frames >= st->wal_limit || st->wal_grew(st->wal_grew_arg, frames))
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	return SQLITE_OK;
}

void sp_store_defer_checkpoints(sp_store *st, int limit, int (*wal_grew)(void *arg, int frames), void *arg)
{
	if (!wal_grew) {
		/* back to SQLite's own checkpoints (this also removes our hook) */
		(void)sqlite3_wal_autocheckpoint(st->db, 1000);
		st->wal_grew = NULL;
		return;
	}
	st->wal_grew = wal_grew;
	st->wal_grew_arg = arg;
	st->wal_limit = limit > 0 ? limit : 16000;
	sqlite3_wal_hook(st->db, wal_hook, st);
}

sp_err sp_store_checkpoint(sp_store *st, int *frames, int *copied)
{
	int log = 0, ckpt = 0;
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &ckpt);

	*frames = log > 0 ? log : 0;
	*copied = ckpt > 0 ? ckpt : 0;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		return sps_db_fail(st, "checkpoint");
	return SP_OK;
}
