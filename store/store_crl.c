/*
 * store_crl.c - the CRLs this CA published, full and delta.
 *
 * Full and delta CRLs share one CRLNumber sequence (RFC 5280 5.2.3: the
 * number increases across both), so `number` is the primary key and a
 * reused number is refused by the key itself.
 */
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRL_COLS "number, delta, base_number, this_update, next_update, seq, entries"

#define SQL_CRL_INSERT "INSERT INTO crl(" CRL_COLS ", der) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
#define SQL_CRL_GET "SELECT " CRL_COLS ", der FROM crl WHERE number = ?1"

/* Without the DER the statement selects NULL in its place, so SQLite never
 * reads the blob (der is the last column of the row). Indexed by
 * 2 * (kind >= 0) + with_der, matching the order of the SPS_CRL_LAST_*
 * statement ids. */
static const char *const sql_crl_last[4] = {
	"SELECT " CRL_COLS ", NULL FROM crl ORDER BY number DESC LIMIT 1",
	"SELECT " CRL_COLS ", der FROM crl ORDER BY number DESC LIMIT 1",
	"SELECT " CRL_COLS ", NULL FROM crl WHERE delta = ?1 ORDER BY number DESC LIMIT 1",
	"SELECT " CRL_COLS ", der FROM crl WHERE delta = ?1 ORDER BY number DESC LIMIT 1",
};
_Static_assert(SPS_CRL_LAST_ANY_DER == SPS_CRL_LAST_ANY + 1 && SPS_CRL_LAST_KIND == SPS_CRL_LAST_ANY + 2 &&
		       SPS_CRL_LAST_KIND_DER == SPS_CRL_LAST_ANY + 3,
	       "sql_crl_last is indexed in the order of the SPS_CRL_LAST_* ids");

static sp_err check_row(const sp_crl_row *row)
{
	if (!row)
		return sp_fail(SP_ERR_INPUT, "CRL insert: no row");
	if (row->number < 0)
		return sp_fail(SP_ERR_INPUT, "CRL number %lld is negative", (long long)row->number);
	if (row->delta != 0 && row->delta != 1)
		return sp_fail(SP_ERR_INPUT, "CRL %lld: delta must be 0 or 1", (long long)row->number);
	/* RFC 5280 5.2.4: a delta names the complete CRL it builds on, which
	 * was issued before it and so has a lower number. */
	if (row->delta && (row->base_number < 0 || row->base_number >= row->number))
		return sp_fail(SP_ERR_INPUT, "delta CRL %lld: base CRL number %lld must be below it",
			       (long long)row->number, (long long)row->base_number);
	if (!row->delta && row->base_number != 0)
		return sp_fail(SP_ERR_INPUT, "full CRL %lld: base number must be 0", (long long)row->number);
	if (row->next_update <= row->this_update)
		return sp_fail(SP_ERR_INPUT, "CRL %lld: nextUpdate must be after thisUpdate", (long long)row->number);
	if (row->seq < 0 || row->entries < 0)
		return sp_fail(SP_ERR_INPUT, "CRL %lld: negative sequence or entry count", (long long)row->number);
	if (!row->der || row->der_len == 0)
		return sp_fail(SP_ERR_INPUT, "CRL %lld: no DER", (long long)row->number);
	return SP_OK;
}

sp_err sp_store_crl_insert(sp_store *st, const sp_crl_row *row)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	err = sps_need_txn(st, "CRL insert");
	if (err)
		goto out;
	err = check_row(row);
	if (err)
		goto out;
	err = sps_stmt(st, SPS_CRL_INSERT, SQL_CRL_INSERT, &s);
	if (err)
		goto out;
	rc = sqlite3_bind_int64(s, 1, row->number);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 2, row->delta);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 3, row->base_number);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 4, row->this_update);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 5, row->next_update);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 6, row->seq);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 7, row->entries);
	if (rc == SQLITE_OK)
		rc = sps_bind_blob(s, 8, row->der, row->der_len);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "CRL insert");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
		err = sp_fail(SP_ERR_EXISTS, "CRL number %lld is already recorded", (long long)row->number);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "CRL insert");
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

/* Fill an owned row from CRL_COLS + der (or NULL). */
static sp_err crl_fill(sp_store *st, sqlite3_stmt *s, sp_crl_row *r)
{
	memset(r, 0, sizeof *r);
	r->number = sqlite3_column_int64(s, 0);
	r->delta = sqlite3_column_int(s, 1);
	r->base_number = sqlite3_column_int64(s, 2);
	r->this_update = sqlite3_column_int64(s, 3);
	r->next_update = sqlite3_column_int64(s, 4);
	r->seq = sqlite3_column_int64(s, 5);
	r->entries = sqlite3_column_int64(s, 6);
	return sps_col_blobdup(st, s, 7, &r->der, &r->der_len);
}

/* Step a bound one-row CRL query; not_found names what was asked for. */
static sp_err crl_one(sp_store *st, sqlite3_stmt *s, sp_crl_row *out, const char *not_found)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE)
		return sp_fail(SP_ERR_NOTFOUND, "%s", not_found);
	if (rc != SQLITE_ROW)
		return sps_db_fail(st, "CRL look-up");
	return crl_fill(st, s, out);
}

sp_err sp_store_crl_last(sp_store *st, int kind, int with_der, sp_crl_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int idx;

	memset(out, 0, sizeof *out);
	if (kind < -1 || kind > 1) {
		err = sp_fail(SP_ERR_INPUT, "CRL kind %d is not known (-1 any, 0 full, 1 delta)", kind);
		goto out;
	}
	idx = 2 * (kind >= 0) + (with_der != 0);
	err = sps_stmt(st, (sps_stmt_id)(SPS_CRL_LAST_ANY + idx), sql_crl_last[idx], &s);
	if (err)
		goto out;
	if (kind >= 0 && sqlite3_bind_int(s, 1, kind) != SQLITE_OK) {
		err = sps_db_fail(st, "CRL look-up");
		goto out;
	}
	err = crl_one(st, s, out,
		      kind < 0 ? "no CRL has been published" : kind ? "no delta CRL has been published"
								    : "no full CRL has been published");
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_crl_get(sp_store *st, int64_t number, sp_crl_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char what[64];

	memset(out, 0, sizeof *out);
	err = sps_stmt(st, SPS_CRL_GET, SQL_CRL_GET, &s);
	if (err)
		goto out;
	if (sqlite3_bind_int64(s, 1, number) != SQLITE_OK) {
		err = sps_db_fail(st, "CRL look-up");
		goto out;
	}
	(void)snprintf(what, sizeof what, "no CRL number %lld", (long long)number);
	err = crl_one(st, s, out, what);
out:
	sps_stmt_done(s);
	return err;
}

void sp_crl_row_clear(sp_crl_row *row)
{
	if (!row)
		return;
	free(row->der);
	memset(row, 0, sizeof *row);
}
