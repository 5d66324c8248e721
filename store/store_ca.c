/*
 * store_ca.c - the single CA row.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

/* The CHECK (id = 1) in the schema makes this the only row there can be;
 * put replaces it in place (state changes from awaiting to active when the
 * external root's certificate arrives). */
#define SQL_CA_PUT                                                                              \
	"INSERT INTO ca(id, name, site_code, base_url, key_alg, state, cert_der, chain_pem,"    \
	" created_at) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"                               \
	" ON CONFLICT(id) DO UPDATE SET name = excluded.name, site_code = excluded.site_code," \
	" base_url = excluded.base_url, key_alg = excluded.key_alg, state = excluded.state,"    \
	" cert_der = excluded.cert_der, chain_pem = excluded.chain_pem,"                        \
	" created_at = excluded.created_at"

#define SQL_CA_GET                                                                           \
	"SELECT name, site_code, base_url, key_alg, state, cert_der, chain_pem, created_at" \
	" FROM ca WHERE id = 1"

sp_err sp_store_ca_put(sp_store *st, const sp_ca_row *ca)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	err = sps_need_txn(st, "CA update");
	if (err)
		goto out;
	if (!ca || !ca->name || !*ca->name || !ca->key_alg || !*ca->key_alg) {
		err = sp_fail(SP_ERR_INPUT, "CA row needs a name and a key algorithm");
		goto out;
	}
	if (ca->state != SP_CA_AWAITING_CERT && ca->state != SP_CA_ACTIVE) {
		err = sp_fail(SP_ERR_INPUT, "CA state %d is not known", ca->state);
		goto out;
	}
	err = sps_stmt(st, SPS_CA_PUT, SQL_CA_PUT, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, ca->name);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, ca->site_code);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 3, ca->base_url);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 4, ca->key_alg);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(s, 5, ca->state);
	/* No certificate yet (awaiting the external root) is NULL, not an
	 * empty blob: "no certificate" is not "a zero-byte certificate". */
	if (rc == SQLITE_OK && ca->cert_der && ca->cert_der_len > 0)
		rc = sqlite3_bind_blob64(s, 6, ca->cert_der, ca->cert_der_len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 7, ca->chain_pem);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 8, ca->created_at);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "CA update");
		goto out;
	}
	if (sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "CA update");
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_ca_get(sp_store *st, sp_ca_row *out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sp_ca_row r;
	int rc;

	memset(&r, 0, sizeof r);
	memset(out, 0, sizeof *out);
	err = sps_stmt(st, SPS_CA_GET, SQL_CA_GET, &s);
	if (err)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "the store has no CA yet");
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "read CA");
		goto out;
	}
	if ((err = sps_col_strdup(st, s, 0, &r.name)) || (err = sps_col_strdup(st, s, 1, &r.site_code)) ||
	    (err = sps_col_strdup(st, s, 2, &r.base_url)) || (err = sps_col_strdup(st, s, 3, &r.key_alg)) ||
	    (err = sps_col_blobdup(st, s, 5, &r.cert_der, &r.cert_der_len)) ||
	    (err = sps_col_strdup(st, s, 6, &r.chain_pem)))
		goto out;
	r.state = sqlite3_column_int(s, 4);
	r.created_at = sqlite3_column_int64(s, 7);
	*out = r;
	memset(&r, 0, sizeof r);
out:
	sps_stmt_done(s);
	sp_ca_row_clear(&r);
	return err;
}

void sp_ca_row_clear(sp_ca_row *ca)
{
	if (!ca)
		return;
	free(ca->name);
	free(ca->site_code);
	free(ca->base_url);
	free(ca->key_alg);
	free(ca->cert_der);
	free(ca->chain_pem);
	memset(ca, 0, sizeof *ca);
}
