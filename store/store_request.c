/*
 * store_request.c - certificate requests and their approval state.
 *
 * Schema v3 keeps the SHA-256 of each request's CSR DER (csr_sha256): an
 * EST client retrying a pending request (RFC 7030 4.2.3) sends the same CSR
 * again, and that hash is how its request is found.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REQUEST_COLS                                                                       \
	"id, template, requester, subject, status, cert_serial, detail, csr_der, created_at," \
	" updated_at, csr_sha256"

#define SQL_REQUEST_INSERT                                                                       \
	"INSERT INTO request(template, requester, subject, status, cert_serial, detail, csr_der," \
	" created_at, updated_at, csr_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
#define SQL_REQUEST_GET "SELECT " REQUEST_COLS " FROM request WHERE id = ?1"
/* NULL keeps the current serial / detail: set_status(approved) must not wipe
 * the names the requester gave. */
#define SQL_REQUEST_SET_STATUS                                                             \
	"UPDATE request SET status = ?1, cert_serial = coalesce(?2, cert_serial),"         \
	" detail = coalesce(?3, detail), updated_at = ?4 WHERE id = ?5"
/* The partial index request_csr holds only rows with a hash (migration 3);
 * SQLite uses it only for a query that repeats its WHERE term, so the term
 * is written out, and INDEXED BY makes a plan that cannot use the index a
 * prepare error rather than a scan of every request. Newest id first: a
 * CSR sent again after a rejection is a new request, and the newest
 * answer is the one that counts. */
#define SQL_REQUEST_FIND_CSR                                                       \
	"SELECT " REQUEST_COLS " FROM request INDEXED BY request_csr"             \
	" WHERE csr_sha256 <> '' AND csr_sha256 = ?1 AND template = ?2"           \
	" ORDER BY id DESC LIMIT 1"

/* No index serves this one: an index on requester would cost a page in
 * every issuance's commit for a look-up made only by `token release`, an
 * administrator's repair after a crash. The scan runs newest first and
 * stops at the first match; without one it reads every request. */
#define SQL_REQUEST_FIND_REQUESTER                                             \
	"SELECT " REQUEST_COLS " FROM request WHERE requester = ?1"          \
	" AND created_at >= ?2 ORDER BY id DESC LIMIT 1"

const char *sp_request_status_name(int status)
{
	static const char *const names[] = {"pending", "approved", "rejected", "issued"};
	return status >= SP_REQ_PENDING && status <= SP_REQ_ISSUED ? names[status] : "unknown";
}

static int status_ok(int status)
{
	return status == SP_REQ_PENDING || status == SP_REQ_APPROVED || status == SP_REQ_REJECTED ||
	       status == SP_REQ_ISSUED;
}

sp_err sp_store_request_insert(sp_store *st, const sp_request_row *row, int64_t *id)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;
	int64_t created;
	uint8_t md[32];
	char csr_sha256[65];

	if (id)
		*id = 0;
	err = sps_need_txn(st, "request insert");
	if (err)
		goto out;
	if (!row || !row->template_name || !*row->template_name || !row->requester || !*row->requester) {
		err = sp_fail(SP_ERR_INPUT, "request needs a template and a requester");
		goto out;
	}
	if (!status_ok(row->status)) {
		err = sp_fail(SP_ERR_INPUT, "request status %d is not known", row->status);
		goto out;
	}
	if (!row->csr_der || row->csr_der_len == 0) {
		err = sp_fail(SP_ERR_INPUT, "request has no CSR");
		goto out;
	}
	created = row->created_at ? row->created_at : (int64_t)time(NULL);
	/* computed here, never taken from the caller: the hash must be the
	 * hash of the DER stored beside it */
	sp_sha256(row->csr_der, row->csr_der_len, md);
	sp_hex(md, sizeof md, csr_sha256, 0);
	err = sps_stmt(st, SPS_REQUEST_INSERT, SQL_REQUEST_INSERT, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, row->template_name);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, row->requester);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 3, row->subject);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 4, row->status);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 5, row->cert_serial);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 6, row->detail);
	if (rc == SQLITE_OK)
		rc = sps_bind_blob(s, 7, row->csr_der, row->csr_der_len);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 8, created);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 9, row->updated_at ? row->updated_at : created);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 10, csr_sha256);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "request insert");
		goto out;
	}
	if (id)
		*id = sqlite3_last_insert_rowid(st->db);
out:
	sps_stmt_done(s);
	return err;
}

/* Fill an owned row from the current result row of REQUEST_COLS. */
static sp_err request_fill(sp_store *st, sqlite3_stmt *s, sp_request_row *r)
{
	const unsigned char *sha;
	sp_err err;

	memset(r, 0, sizeof *r);
	r->id = sqlite3_column_int64(s, 0);
	r->status = sqlite3_column_int(s, 4);
	r->created_at = sqlite3_column_int64(s, 8);
	r->updated_at = sqlite3_column_int64(s, 9);
	/* '' for rows recorded before schema 3 */
	sha = sqlite3_column_text(s, 10);
	if (sha && sqlite3_column_bytes(s, 10) >= (int)sizeof r->csr_sha256)
		return sp_fail(SP_ERR_DB, "request %lld has a malformed csr_sha256 column", (long long)r->id);
	if (sha)
		memcpy(r->csr_sha256, sha, (size_t)sqlite3_column_bytes(s, 10) + 1);
	if ((err = sps_col_strdup(st, s, 1, &r->template_name)) || (err = sps_col_strdup(st, s, 2, &r->requester)) ||
	    (err = sps_col_strdup(st, s, 3, &r->subject)) || (err = sps_col_strdup(st, s, 5, &r->cert_serial)) ||
	    (err = sps_col_strdup(st, s, 6, &r->detail)) ||
	    (err = sps_col_blobdup(st, s, 7, &r->csr_der, &r->csr_der_len)))
		sp_request_row_clear(r);
	return err;
}

sp_err sp_store_request_get(sp_store *st, int64_t id, sp_request_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	err = sps_stmt(st, SPS_REQUEST_GET, SQL_REQUEST_GET, &s);
	if (err)
		goto out;
	if (sqlite3_bind_int64(s, 1, id) != SQLITE_OK) {
		err = sps_db_fail(st, "request look-up");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "no request %lld", (long long)id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "request look-up");
		goto out;
	}
	err = request_fill(st, s, out);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_request_find_csr(sp_store *st, const char *template_name, const char *csr_sha256,
				 sp_request_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char norm[65];
	int rc;

	memset(out, 0, sizeof *out);
	if (!template_name || !*template_name || !csr_sha256) {
		err = sp_fail(SP_ERR_INPUT, "request look-up by CSR needs a template and a SHA-256");
		goto out;
	}
	err = sp_hex_normalise(csr_sha256, norm, sizeof norm);
	if (err)
		goto out;
	if (strlen(norm) != 64) {
		err = sp_fail(SP_ERR_INPUT, "'%s' is not a SHA-256 (64 hex digits)", csr_sha256);
		goto out;
	}
	err = sps_stmt(st, SPS_REQUEST_FIND_CSR, SQL_REQUEST_FIND_CSR, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, norm);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, template_name);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "request look-up by CSR");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "no request for template %s with CSR SHA-256 %s", template_name, norm);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "request look-up by CSR");
		goto out;
	}
	err = request_fill(st, s, out);
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_request_set_status(sp_store *st, int64_t id, int status, const char *cert_serial,
				   const char *detail)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	err = sps_need_txn(st, "request update");
	if (err)
		goto out;
	if (!status_ok(status)) {
		err = sp_fail(SP_ERR_INPUT, "request status %d is not known", status);
		goto out;
	}
	err = sps_stmt(st, SPS_REQUEST_SET_STATUS, SQL_REQUEST_SET_STATUS, &s);
	if (err)
		goto out;
	/* Unbound parameters are NULL: that is how "keep" reaches coalesce. */
	rc = sqlite3_bind_int(s, 1, status);
	if (rc == SQLITE_OK && cert_serial)
		rc = sps_bind_text(s, 2, cert_serial);
	if (rc == SQLITE_OK && detail)
		rc = sps_bind_text(s, 3, detail);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 5, id);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "request update");
		goto out;
	}
	if (sqlite3_changes(st->db) == 0) {
		err = sp_fail(SP_ERR_NOTFOUND, "no request %lld", (long long)id);
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_request_list(sp_store *st, int status, sp_request_cb cb, void *arg)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_request_row row;
	int rc;

	memset(&row, 0, sizeof row);
	/* Per call, not cached: the callback may re-enter the store (approve
	 * each pending request as it is listed). */
	/* The queue (pending, approved) through its partial index, named so
	 * that a plan without it fails to prepare rather than scans every
	 * request ever issued. */
	rc = sqlite3_prepare_v2(st->db,
				status < 0 ? "SELECT " REQUEST_COLS " FROM request ORDER BY id"
				: status == SP_REQ_PENDING || status == SP_REQ_APPROVED
					? "SELECT " REQUEST_COLS " FROM request INDEXED BY request_queue"
					  " WHERE status IN (0, 1) AND status = ?1 ORDER BY id"
					: "SELECT " REQUEST_COLS " FROM request WHERE status = ?1 ORDER BY id",
				-1, &s, NULL);
	if (rc != SQLITE_OK || (status >= 0 && sqlite3_bind_int(s, 1, status) != SQLITE_OK)) {
		err = sps_db_fail(st, "request list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cbrc;
		err = request_fill(st, s, &row);
		if (err)
			goto out;
		cbrc = cb(&row, arg);
		sp_request_row_clear(&row);
		if (cbrc) {
			err = sps_cb_result(cbrc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "request list");
		goto out;
	}
out:
	(void)sqlite3_finalize(s); /* the walk's error is already reported */
	return err;
}

void sp_request_row_clear(sp_request_row *row)
{
	if (!row)
		return;
	free(row->template_name);
	free(row->requester);
	free(row->subject);
	free(row->cert_serial);
	free(row->detail);
	free(row->csr_der);
	memset(row, 0, sizeof *row);
}

sp_err sp_store_request_find_requester(sp_store *st, const char *requester, int64_t since, sp_request_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	memset(out, 0, sizeof *out);
	if (!requester || !*requester) {
		err = sp_fail(SP_ERR_INPUT, "request look-up by requester needs a requester");
		goto out;
	}
	/* not cached: a rare administrator's look-up */
	if (sqlite3_prepare_v2(st->db, SQL_REQUEST_FIND_REQUESTER, -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "request look-up by requester");
		goto out;
	}
	rc = sps_bind_text(s, 1, requester);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, since);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "request look-up by requester");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "no request by %s", requester);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "request look-up by requester");
		goto out;
	}
	err = request_fill(st, s, out);
out:
	(void)sqlite3_finalize(s); /* errors were reported by the step */
	return err;
}
