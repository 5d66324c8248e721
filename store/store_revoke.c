/*
 * store_revoke.c - revocation state changes and the revocation walks.
 *
 * Every change of a certificate's revocation state (revoke, hold, release,
 * or a row recorded already revoked) takes the next value of the revocation
 * sequence, kept in meta 'revocation_seq' and bumped in the same
 * transaction. A full CRL records the sequence it covers; a delta CRL lists
 * the rows whose rev_seq is above it (docs/store.md).
 *
 * A change is one cached UPDATE guarded by the allowed "from" states plus
 * one cached UPDATE of meta: no SELECT first on the success path, so a bulk
 * revocation costs two B-tree descents per serial. Only when the guard
 * matches nothing does a SELECT find out why (no such serial, or a state
 * that does not allow the change).
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define SQL_REV_SEQ_GET "SELECT value FROM meta WHERE key = 'revocation_seq'"
#define SQL_REV_SEQ_BUMP \
	"UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revocation_seq'"

/* ?2 is the new status: 1 (revoked) or 2 (hold). From VALID either; from
 * HOLD only to a final revocation; REVOKED never changes again. */
#define SQL_CERT_REVOKE                                                                        \
	"UPDATE certificate SET status = ?2, revoked_at = ?3, revoke_reason = ?4,"             \
	" released_at = NULL, rev_seq = " SPS_NEXT_REV_SEQ                                     \
	" WHERE serial = ?1 AND (status = 0 OR (status = 2 AND ?2 = 1))"
/* A released certificate reads as valid again (revoked_at/reason NULL, as
 * for any valid row); released_at is what the delta walk reports. */
#define SQL_CERT_RELEASE                                                                       \
	"UPDATE certificate SET status = 0, revoked_at = NULL, revoke_reason = NULL,"          \
	" released_at = ?2, rev_seq = " SPS_NEXT_REV_SEQ " WHERE serial = ?1 AND status = 2"
#define SQL_CERT_REV_STATE "SELECT status, revoke_reason FROM certificate WHERE serial = ?1"

/* The walks name their partial index (store_schema.c, migration 2) and
 * repeat its WHERE term verbatim: SQLite uses a partial index only when the
 * query implies its WHERE, and INDEXED BY turns a plan that cannot use it
 * into a prepare error instead of a silent full-table scan. */
#define SQL_REVOKED_FULL                                                                       \
	"SELECT serial, revoked_at, revoke_reason, not_after, rev_seq"                         \
	" FROM certificate INDEXED BY certificate_revoked"                                     \
	" WHERE status IN (1, 2) AND not_after >= ?1 ORDER BY serial"
/* "rev_seq <> 0" is implied by "rev_seq > ?2" (?2 >= 0) but must be
 * written out for the partial index (see migration 2 for why it is "<>").
 * A released row is valid again (status 0) with released_at set; it is
 * reported as removeFromCRL at its release time. */
#define SQL_REVOKED_DELTA                                                                      \
	"SELECT serial,"                                                                       \
	" CASE WHEN status = 0 THEN released_at ELSE revoked_at END,"                          \
	" CASE WHEN status = 0 THEN 8 ELSE revoke_reason END,"                                 \
	" not_after, rev_seq"                                                                  \
	" FROM certificate INDEXED BY certificate_rev_seq"                                     \
	" WHERE rev_seq <> 0 AND rev_seq > ?2"                                                  \
	" AND (status IN (1, 2) OR released_at IS NOT NULL) AND not_after >= ?1"               \
	" ORDER BY serial"

_Static_assert(SP_REASON_REMOVE_FROM_CRL == 8, "SQL_REVOKED_DELTA reports removeFromCRL as 8");

sp_err sps_rev_seq_bump(sp_store *st)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;

	err = sps_stmt(st, SPS_REV_SEQ_BUMP, SQL_REV_SEQ_BUMP, &s);
	if (err)
		goto out;
	if (sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "revocation sequence update");
		goto out;
	}
	if (sqlite3_changes(st->db) != 1) {
		err = sp_fail(SP_ERR_DB, "store %s: the revocation sequence is missing from meta", st->path);
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_revocation_seq(sp_store *st, int64_t *seq)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	*seq = 0;
	err = sps_stmt(st, SPS_REV_SEQ_GET, SQL_REV_SEQ_GET, &s);
	if (err)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_DB, "store %s: the revocation sequence is missing from meta", st->path);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "read revocation sequence");
		goto out;
	}
	/* Read as text and parsed strictly: a damaged value must not read as
	 * 0, which would make every later delta CRL incomplete. */
	if (!sps_meta_counter(sqlite3_column_text(s, 0), seq)) {
		*seq = 0;
		err = sp_fail(SP_ERR_DB, "store %s: the revocation sequence in meta is damaged", st->path);
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

/* RFC 5280 5.3.1: 0-6 and 8-10 are defined, 7 is unused. removeFromCRL
 * (8) is not a revocation but how a delta CRL says a hold was lifted; the
 * store writes it itself (SQL_REVOKED_DELTA). */
static int reason_revocable(int reason)
{
	return reason >= SP_REASON_UNSPECIFIED && reason <= SP_REASON_AA_COMPROMISE && reason != 7 &&
	       reason != SP_REASON_REMOVE_FROM_CRL;
}

static sp_err check_serial(const char *serial)
{
	if (!serial || !*serial)
		return sp_fail(SP_ERR_INPUT, "no serial given");
	return SP_OK;
}

/* After a guarded UPDATE changed nothing: *status = the row's status, or
 * -1 when there is no such serial. */
static sp_err rev_state(sp_store *st, const char *serial, int *status, int *reason)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	*status = -1;
	*reason = -1;
	err = sps_stmt(st, SPS_CERT_REV_STATE, SQL_CERT_REV_STATE, &s);
	if (err)
		goto out;
	if (sps_bind_text(s, 1, serial) != SQLITE_OK) {
		err = sps_db_fail(st, "certificate look-up");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		goto out;
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "certificate look-up");
		goto out;
	}
	*status = sqlite3_column_int(s, 0);
	*reason = sqlite3_column_type(s, 1) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 1);
out:
	sps_stmt_done(s);
	return err;
}

/* Run a guarded state-change UPDATE already bound; *changed = rows hit. */
static sp_err step_change(sp_store *st, sqlite3_stmt *s, const char *what, int *changed)
{
	int rc = sqlite3_step(s);

	*changed = 0;
	if (rc == SQLITE_CONSTRAINT_NOTNULL)
		/* rev_seq = NULL: SPS_NEXT_REV_SEQ found no meta row. */
		return sp_fail(SP_ERR_DB, "store %s: the revocation sequence is missing from meta", st->path);
	if (rc != SQLITE_DONE)
		return sps_db_fail(st, what);
	*changed = sqlite3_changes(st->db);
	return SP_OK;
}

sp_err sp_store_cert_revoke(sp_store *st, const char *serial, int reason, int64_t when)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc, changed = 0, status, old_reason;

	err = sps_need_txn(st, "certificate revoke");
	if (err)
		goto out;
	err = check_serial(serial);
	if (err)
		goto out;
	if (!reason_revocable(reason)) {
		err = sp_fail(SP_ERR_POLICY, "certificate %s: %d is not a revocation reason (RFC 5280 5.3.1: 0-6, 9, 10)",
			      serial, reason);
		goto out;
	}
	err = sps_stmt(st, SPS_CERT_REVOKE, SQL_CERT_REVOKE, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, serial);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 2, reason == SP_REASON_CERTIFICATE_HOLD ? SP_CERT_HOLD : SP_CERT_REVOKED);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, when);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 4, reason);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "certificate revoke");
		goto out;
	}
	err = step_change(st, s, "certificate revoke", &changed);
	if (err)
		goto out;
	if (changed == 1) {
		err = sps_rev_seq_bump(st);
		goto out;
	}
	err = rev_state(st, serial, &status, &old_reason);
	if (err)
		goto out;
	if (status < 0)
		err = sp_fail(SP_ERR_NOTFOUND, "no certificate with serial %s", serial);
	else if (status == SP_CERT_REVOKED)
		err = sp_fail(SP_ERR_EXISTS, "certificate %s is already revoked (reason %d)", serial, old_reason);
	else if (status == SP_CERT_HOLD)
		err = sp_fail(SP_ERR_EXISTS, "certificate %s is already on hold", serial);
	else
		err = sp_fail(SP_ERR_INTERNAL, "certificate %s: revoke changed %d rows from status %d", serial, changed,
			      status);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_cert_release(sp_store *st, const char *serial, int64_t when)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc, changed = 0, status, old_reason;

	err = sps_need_txn(st, "certificate release");
	if (err)
		goto out;
	err = check_serial(serial);
	if (err)
		goto out;
	err = sps_stmt(st, SPS_CERT_RELEASE, SQL_CERT_RELEASE, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, serial);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, when);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "certificate release");
		goto out;
	}
	err = step_change(st, s, "certificate release", &changed);
	if (err)
		goto out;
	if (changed == 1) {
		err = sps_rev_seq_bump(st);
		goto out;
	}
	err = rev_state(st, serial, &status, &old_reason);
	if (err)
		goto out;
	if (status < 0)
		err = sp_fail(SP_ERR_NOTFOUND, "no certificate with serial %s", serial);
	else if (status == SP_CERT_REVOKED)
		err = sp_fail(SP_ERR_POLICY, "certificate %s is revoked, not on hold; a revocation is final", serial);
	else if (status == SP_CERT_VALID)
		err = sp_fail(SP_ERR_POLICY, "certificate %s is not on hold (it is valid)", serial);
	else
		err = sp_fail(SP_ERR_INTERNAL, "certificate %s: release changed %d rows from status %d", serial, changed,
			      status);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_revoked_list(sp_store *st, int64_t since_seq, int64_t expired_before, sp_revoked_cb cb, void *arg)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_revoked_entry e;
	int rc;

	if (!cb) {
		err = sp_fail(SP_ERR_INPUT, "revocation list: no callback");
		goto out;
	}
	/* Per call, not cached: the callback may re-enter the store. One
	 * statement streams the whole walk; nothing is collected. */
	if (sqlite3_prepare_v2(st->db, since_seq < 0 ? SQL_REVOKED_FULL : SQL_REVOKED_DELTA, -1, &s, NULL) !=
	    SQLITE_OK) {
		err = sps_db_fail(st, "revocation list");
		goto out;
	}
	/* 0 = keep all: every not_after is >= INT64_MIN. */
	rc = sqlite3_bind_int64(s, 1, expired_before ? expired_before : INT64_MIN);
	if (rc == SQLITE_OK && since_seq >= 0)
		rc = sqlite3_bind_int64(s, 2, since_seq);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "revocation list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cbrc;
		e.serial = (const char *)sqlite3_column_text(s, 0);
		if (!e.serial) {
			err = sqlite3_errcode(st->db) == SQLITE_NOMEM
				      ? sp_fail(SP_ERR_NOMEM, "store: out of memory reading a column")
				      : sp_fail(SP_ERR_DB, "revocation list: a certificate row has no serial");
			goto out;
		}
		e.revoked_at = sqlite3_column_int64(s, 1); /* NULL reads as 0 */
		/* No reason recorded is what a CRL entry without reasonCode
		 * says: unspecified (RFC 5280 5.3.1). */
		e.reason = sqlite3_column_type(s, 2) == SQLITE_NULL ? SP_REASON_UNSPECIFIED : sqlite3_column_int(s, 2);
		e.not_after = sqlite3_column_int64(s, 3);
		e.seq = sqlite3_column_int64(s, 4);
		cbrc = cb(&e, arg);
		if (cbrc) {
			err = sps_cb_result(cbrc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "revocation list");
		goto out;
	}
out:
	(void)sqlite3_finalize(s); /* the walk's error is already reported */
	return err;
}
