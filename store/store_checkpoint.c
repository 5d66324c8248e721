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

	if (frames >= 16 * st->ckpt_frames)
		/* nobody is keeping up: bound the WAL here, as SQLite would */
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	else if (frames >= st->ckpt_frames)
		st->ckpt_due(st->ckpt_arg);
	return SQLITE_OK;
}

void sp_store_defer_checkpoints(sp_store *st, int frames, void (*due)(void *arg), void *arg)
{
	if (!due) {
		/* back to SQLite's own checkpoints (this also removes our hook) */
		(void)sqlite3_wal_autocheckpoint(st->db, 1000);
		st->ckpt_due = NULL;
		return;
	}
	st->ckpt_due = due;
	st->ckpt_arg = arg;
	st->ckpt_frames = frames > 0 ? frames : 1000;
	sqlite3_wal_hook(st->db, wal_hook, st);
}

sp_err sp_store_checkpoint(sp_store *st)
{
	int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);

	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		return sps_db_fail(st, "checkpoint");
	return SP_OK;
}
