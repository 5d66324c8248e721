/*
 * store_cert.c - recording issued certificates and finding one again.
 *
 * sp_store_cert_insert is on the issuance hot path: one cached statement,
 * borrowed (SQLITE_STATIC) bindings, and no SELECT first - the UNIQUE
 * constraints on serial and sha256 answer "already there?" in the same
 * B-tree descent that inserts.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* A row recorded already revoked or on hold (an import) is a revocation
 * state change like any other: it takes the next revocation sequence, so
 * a delta CRL made after the last full one lists it. A valid row takes 0
 * and never reads meta, which keeps the issuance path as it was. */
#define SQL_CERT_INSERT                                                                     \
	"INSERT INTO certificate(" SPS_CERT_COLS ", der, rev_seq)"                          \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,"                  \
	" CASE WHEN ?10 = 0 THEN 0 ELSE " SPS_NEXT_REV_SEQ " END)"

#define SQL_SERIAL_EXISTS "SELECT 1 FROM certificate WHERE serial = ?1"
#define SQL_CERT_BY(col) "SELECT " SPS_CERT_COLS ", der FROM certificate WHERE " col " = ?1"
/* sha1 is not unique (a collision is not impossible, only expensive); the
 * oldest match is the deterministic answer. */
#define SQL_CERT_BY_SHA1 SQL_CERT_BY("sha1") " ORDER BY id LIMIT 1"
#define SQL_CERT_COUNT "SELECT count(*) FROM certificate"

/* Hex of exactly `want` digits (or 1..max when want == 0) in one case only:
 * lookups compare text, so a lower-case serial stored once would never be
 * found again. */
static int hex_ok(const char *s, size_t cap, size_t want, int upper)
{
	size_t n = strnlen(s, cap);
	if (n == cap || n == 0 || (want && n != want))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int ok = (c >= '0' && c <= '9') || (upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f'));
		if (!ok)
			return 0;
	}
	return 1;
}

static sp_err check_row(const sp_cert_row *row)
{
	if (!hex_ok(row->serial, sizeof row->serial, 0, 1))
		return sp_fail(SP_ERR_INPUT, "certificate serial must be 1-40 upper-case hex digits");
	if (!hex_ok(row->sha256, sizeof row->sha256, 64, 0))
		return sp_fail(SP_ERR_INPUT, "certificate %s: sha256 must be 64 lower-case hex digits", row->serial);
	if (!hex_ok(row->sha1, sizeof row->sha1, 40, 0))
		return sp_fail(SP_ERR_INPUT, "certificate %s: sha1 must be 40 lower-case hex digits", row->serial);
	if (!row->subject || !row->template_name || !*row->template_name)
		return sp_fail(SP_ERR_INPUT, "certificate %s: subject and template are required", row->serial);
	if (row->status != SP_CERT_VALID && row->status != SP_CERT_REVOKED && row->status != SP_CERT_HOLD)
		return sp_fail(SP_ERR_INPUT, "certificate %s: status %d is not known", row->serial, row->status);
	if (!row->der || row->der_len == 0)
		return sp_fail(SP_ERR_INPUT, "certificate %s: no DER", row->serial);
	return SP_OK;
}

static int bind_row(sqlite3_stmt *s, const sp_cert_row *row)
{
	int rc = sps_bind_text(s, 1, row->serial);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, row->sha256);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 3, row->sha1);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 4, row->subject);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 5, row->sans);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 6, row->template_name);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 7, row->not_before);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 8, row->not_after);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 9, row->issued_at);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 10, row->status);
	/* Revocation columns stay NULL for a valid certificate, so "not
	 * revoked" cannot be mistaken for "revoked at the epoch, reason 0". */
	if (rc == SQLITE_OK && row->status != SP_CERT_VALID) {
		rc = sqlite3_bind_int64(s, 11, row->revoked_at);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int(s, 12, row->revoke_reason);
	}
	if (rc == SQLITE_OK)
		rc = sps_bind_blob(s, 13, row->der, row->der_len);
	return rc;
}

sp_err sp_store_cert_insert(sp_store *st, const sp_cert_row *row)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	err = sps_need_txn(st, "certificate insert");
	if (err)
		goto out;
	err = check_row(row);
	if (err)
		goto out;
	err = sps_stmt(st, SPS_CERT_INSERT, SQL_CERT_INSERT, &s);
	if (err)
		goto out;
	if (bind_row(s, row) != SQLITE_OK) {
		err = sps_db_fail(st, "certificate insert");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		/* The message is SQLite's "UNIQUE constraint failed:
		 * certificate.<column>"; name the value the caller gave. */
		if (strstr(sqlite3_errmsg(st->db), "certificate.sha256"))
			err = sp_fail(SP_ERR_EXISTS, "a certificate with SHA-256 %s is already recorded", row->sha256);
		else
			err = sp_fail(SP_ERR_EXISTS, "a certificate with serial %s is already recorded", row->serial);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "certificate insert");
		goto out;
	}
	if (row->status != SP_CERT_VALID)
		err = sps_rev_seq_bump(st);
out:
	sps_stmt_done(s);
	return err;
}

int sp_store_serial_exists(sp_store *st, const char *serial_hex)
{
	sp_err err;
	sqlite3_stmt *s = NULL;
	int rc, result = -1;

	if (!serial_hex) {
		(void)sp_fail(SP_ERR_INPUT, "no serial given");
		goto out;
	}
	err = sps_stmt(st, SPS_SERIAL_EXISTS, SQL_SERIAL_EXISTS, &s);
	if (err)
		goto out;
	if (sps_bind_text(s, 1, serial_hex) != SQLITE_OK) {
		(void)sps_db_fail(st, "serial look-up");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		(void)sps_db_fail(st, "serial look-up");
		goto out;
	}
	result = rc == SQLITE_ROW;
out:
	sps_stmt_done(s);
	return result;
}

/* Copy a text column into a fixed hex field, refusing what cannot be ours. */
static sp_err fill_hex(sqlite3_stmt *s, int col, char *out, size_t outsz)
{
	const unsigned char *v = sqlite3_column_text(s, col);
	int n = sqlite3_column_bytes(s, col);
	if (!v || n < 0 || (size_t)n >= outsz)
		return sp_fail(SP_ERR_DB, "certificate row has a malformed %s column",
			       sqlite3_column_name(s, col) ? sqlite3_column_name(s, col) : "hex");
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
	if (!v && sqlite3_errcode(st->db) == SQLITE_NOMEM)
		return sp_fail(SP_ERR_NOMEM, "store: out of memory reading a column");
	/* Borrowed: the callback gets a const row and must not write. */
	*out = v ? (char *)v : (char *)"";
	return SP_OK;
}

sp_err sps_cert_fill(sp_store *st, sqlite3_stmt *s, sp_cert_row *row, int copy)
{
	sp_err err = SP_OK;

	memset(row, 0, sizeof *row);
	if ((err = fill_hex(s, 0, row->serial, sizeof row->serial)) ||
	    (err = fill_hex(s, 1, row->sha256, sizeof row->sha256)) ||
	    (err = fill_hex(s, 2, row->sha1, sizeof row->sha1)) ||
	    (err = fill_text(st, s, 3, &row->subject, copy)) || (err = fill_text(st, s, 4, &row->sans, copy)) ||
	    (err = fill_text(st, s, 5, &row->template_name, copy)))
		goto out;
	row->not_before = sqlite3_column_int64(s, 6);
	row->not_after = sqlite3_column_int64(s, 7);
	row->issued_at = sqlite3_column_int64(s, 8);
	row->status = sqlite3_column_int(s, 9);
	row->revoked_at = sqlite3_column_type(s, 10) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 10);
	row->revoke_reason = sqlite3_column_type(s, 11) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 11);
	if (copy) {
		err = sps_col_blobdup(st, s, 12, &row->der, &row->der_len);
		if (err)
			goto out;
	} else if (sqlite3_column_type(s, 12) != SQLITE_NULL) {
		row->der = (uint8_t *)sqlite3_column_blob(s, 12);
		row->der_len = (size_t)sqlite3_column_bytes(s, 12);
		if (!row->der && row->der_len == 0 && sqlite3_errcode(st->db) == SQLITE_NOMEM) {
			err = sp_fail(SP_ERR_NOMEM, "store: out of memory reading a column");
			goto out;
		}
	}
out:
	if (err && copy)
		sp_cert_row_clear(row);
	return err;
}

/* One cached look-up; *found = 0 with SP_OK when there is no such row. */
static sp_err lookup(sp_store *st, sps_stmt_id id, const char *sql, const char *key, sp_cert_row *out,
		     int *found)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	*found = 0;
	err = sps_stmt(st, id, sql, &s);
	if (err)
		goto out;
	if (sps_bind_text(s, 1, key) != SQLITE_OK) {
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
	err = sps_cert_fill(st, s, out, 1);
	if (err)
		goto out;
	*found = 1;
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_cert_get(sp_store *st, const char *key, sp_cert_row *out)
{
	sp_err err = SP_OK;
	char norm[65], upper[65];
	size_t len;
	int found = 0;

	memset(out, 0, sizeof *out);
	if (!key) {
		err = sp_fail(SP_ERR_INPUT, "no serial or fingerprint given");
		goto out;
	}
	/* 64 hex digits is the longest key there is (a SHA-256); anything
	 * longer is refused by the normaliser as not fitting. */
	err = sp_hex_normalise(key, norm, sizeof norm);
	if (err)
		goto out;
	len = strlen(norm);
	if (len == 64) {
		/* Serials are at most 20 octets (RFC 5280 4.1.2.2), so 64
		 * digits can only be a SHA-256 fingerprint. */
		err = lookup(st, SPS_CERT_BY_SHA256, SQL_CERT_BY("sha256"), norm, out, &found);
		goto check;
	}
	/* Serials are stored upper-case (as sp_serial_hex prints them). */
	for (size_t i = 0; i <= len; i++)
		upper[i] = (norm[i] >= 'a' && norm[i] <= 'f') ? (char)(norm[i] - 'a' + 'A') : norm[i];
	err = lookup(st, SPS_CERT_BY_SERIAL, SQL_CERT_BY("serial"), upper, out, &found);
	if (err || found)
		goto check;
	/* 40 digits is both the longest serial and a SHA-1 thumbprint (what
	 * Windows shows); the serial was tried first. */
	if (len == 40)
		err = lookup(st, SPS_CERT_BY_SHA1, SQL_CERT_BY_SHA1, norm, out, &found);
check:
	if (!err && !found)
		err = sp_fail(SP_ERR_NOTFOUND, "no certificate with serial or fingerprint %s", key);
out:
	return err;
}

sp_err sp_store_cert_count(sp_store *st, int64_t *count)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;

	*count = 0;
	err = sps_stmt(st, SPS_CERT_COUNT, SQL_CERT_COUNT, &s);
	if (err)
		goto out;
	if (sqlite3_step(s) != SQLITE_ROW) {
		err = sps_db_fail(st, "certificate count");
		goto out;
	}
	*count = sqlite3_column_int64(s, 0);
out:
	sps_stmt_done(s);
	return err;
}

void sp_cert_row_clear(sp_cert_row *row)
{
	if (!row)
		return;
	free(row->subject);
	free(row->sans);
	free(row->template_name);
	free(row->der);
	memset(row, 0, sizeof *row);
}
