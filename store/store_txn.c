/*
 * store_txn.c - transactions.
 *
 * Writes use BEGIN IMMEDIATE: the write lock is taken (waiting up to the
 * busy timeout for a peer) before anything is read, so two writers never
 * both read, then both try to upgrade and one gets SQLITE_BUSY half-way
 * through its work - the "database is locked" the CLI and the service must
 * never show.
 */
#include "store/store_int.h"

#define SQL_BEGIN "BEGIN IMMEDIATE"
#define SQL_COMMIT "COMMIT"
#define SQL_ROLLBACK "ROLLBACK"

/* Step a cached one-shot statement (BEGIN/COMMIT/ROLLBACK). */
static sp_err step_once(sp_store *st, sps_stmt_id id, const char *sql, const char *what)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;

	err = sps_stmt(st, id, sql, &s);
	if (err)
		goto out;
	if (sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, what);
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_begin(sp_store *st)
{
	/* SQLite has no nested BEGIN; saying so beats its "cannot start a
	 * transaction within a transaction". */
	if (!sqlite3_get_autocommit(st->db))
		return sp_fail(SP_ERR_DB, "store: a transaction is already open");
	return step_once(st, SPS_BEGIN, SQL_BEGIN, "begin transaction");
}

sp_err sp_store_commit(sp_store *st)
{
	sp_err err;

	if (sqlite3_get_autocommit(st->db))
		return sp_fail(SP_ERR_DB, "store: commit without a transaction");
	/* With synchronous=FULL the WAL is fsync'd before COMMIT returns, so
	 * SP_OK here means the rows survive a crash or power cut. */
	err = step_once(st, SPS_COMMIT, SQL_COMMIT, "commit");
	if (err && !sqlite3_get_autocommit(st->db)) {
		/* A failed COMMIT can leave the transaction open; close it so the
		 * connection is usable and the outcome is plain: nothing was
		 * recorded. */
		sp_store_rollback(st);
	}
	return err;
}

void sp_store_rollback(sp_store *st)
{
	sqlite3_stmt *s;

	if (!st || sqlite3_get_autocommit(st->db))
		return;
	/* No sp_fail() on this path (the statement was prepared at open, see
	 * sps_txn_prepare): rollback runs while the caller is unwinding from
	 * an error whose message must survive. */
	s = st->stmt[SPS_ROLLBACK];
	if (s) {
		/* Success or not, the outcome is judged by autocommit below. */
		(void)sqlite3_step(s);
		sps_stmt_done(s);
	}
	if (!sqlite3_get_autocommit(st->db)) {
		/* Last resort: a fresh statement. If that fails too SQLite
		 * rolls back when the connection closes; there is no one to
		 * tell from a void function. */
		(void)sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	}
}

sp_err sps_txn_prepare(sp_store *st)
{
	sp_err err;
	sqlite3_stmt *s = NULL;

	/* Prepared up front so that rollback, which must not fail or touch
	 * the error message, never has to prepare anything. */
	err = sps_stmt(st, SPS_BEGIN, SQL_BEGIN, &s);
	if (!err)
		err = sps_stmt(st, SPS_COMMIT, SQL_COMMIT, &s);
	if (!err)
		err = sps_stmt(st, SPS_ROLLBACK, SQL_ROLLBACK, &s);
	return err;
}
