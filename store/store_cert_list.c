/*
 * store_cert_list.c - walking certificates by filter.
 *
 * The WHERE clause is assembled from fixed SQL fragments only; every value
 * from the filter is a bound parameter, so nothing a user typed (a subject
 * fragment, a template name) is ever parsed as SQL.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest statement the fragments below can add up to, with room to
 * spare; exceeding it is a programming error caught by sql_add. */
#define LIST_SQL_MAX 1024

typedef struct {
	char text[LIST_SQL_MAX];
	size_t len;
	int clauses;
} sql_buf;

static sp_err sql_add(sql_buf *b, const char *frag)
{
	size_t n = strlen(frag);
	if (b->len + n + 1 > sizeof b->text)
		return sp_fail(SP_ERR_INTERNAL, "certificate list: query too long");
	memcpy(b->text + b->len, frag, n + 1);
	b->len += n;
	return SP_OK;
}

/* Append "WHERE frag" or "AND frag". */
static sp_err sql_where(sql_buf *b, const char *frag)
{
	sp_err err = sql_add(b, b->clauses++ ? " AND " : " WHERE ");
	return err ? err : sql_add(b, frag);
}

/* '%' + s with \, % and _ escaped + '%', for LIKE ... ESCAPE '\': a
 * subject fragment such as "100%_off" matches itself, not a pattern. */
static sp_err like_pattern(const char *s, char **out)
{
	size_t n = strlen(s), o = 0;
	char *p;

	*out = NULL;
	if (n > (SIZE_MAX - 3) / 2)
		return sp_fail(SP_ERR_INPUT, "subject filter too long");
	p = malloc(2 * n + 3);
	if (!p)
		return sp_fail(SP_ERR_NOMEM, "store: out of memory");
	p[o++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '%' || s[i] == '_')
			p[o++] = '\\';
		p[o++] = s[i];
	}
	p[o++] = '%';
	p[o] = '\0';
	*out = p;
	return SP_OK;
}

/* Fixed parameter numbers, so a clause and its binding agree however many
 * clauses are present. A value is bound only when its clause is in the
 * query (binding past the highest number used is SQLITE_RANGE). */
enum { P_NOW = 1, P_TEMPLATE, P_EXPIRING, P_LIKE };

static sp_err build(const sp_cert_filter *f, sql_buf *b)
{
	sp_err err;

	err = sql_add(b, "SELECT " SPS_CERT_COLS);
	if (!err)
		err = sql_add(b, f->with_der ? ", der FROM certificate" : ", NULL FROM certificate");
	/* revoked and held certificates are few: the partial index, named so
	 * that a plan without it fails to prepare rather than scans */
	if (!err && f->status && (!strcmp(f->status, "revoked") || !strcmp(f->status, "hold")))
		err = sql_add(b, " INDEXED BY certificate_revoked");
	if (!err && f->template_name)
		err = sql_where(b, "template = ?2");
	if (!err && f->status) {
		if (strcmp(f->status, "valid") == 0)
			err = sql_where(b, "status = 0 AND not_after >= ?1");
		else if (strcmp(f->status, "expired") == 0)
			err = sql_where(b, "not_after < ?1");
		else if (strcmp(f->status, "revoked") == 0)
			err = sql_where(b, "status IN (1, 2) AND status = 1");
		else if (strcmp(f->status, "hold") == 0)
			err = sql_where(b, "status IN (1, 2) AND status = 2");
		else
			err = sp_fail(SP_ERR_INPUT, "unknown certificate status '%s' (valid, revoked, hold, expired)",
				      f->status);
	}
	if (!err && f->expiring_before)
		err = sql_where(b, "not_after >= ?1 AND not_after <= ?3");
	/* LIKE is case-insensitive for ASCII, and names are ASCII by policy. */
	if (!err && f->subject_like)
		/* also against the subject without RFC 2253 escapes, so that
		 * "Contoso, Ltd" finds O=Contoso\, Ltd */
		err = sql_where(b, "(subject LIKE ?4 ESCAPE '\\' OR replace(subject, '\\', '') LIKE ?4 ESCAPE '\\'"
				   " OR sans LIKE ?4 ESCAPE '\\')");
	if (!err)
		err = sql_add(b, " ORDER BY issued_at, serial");
	return err;
}

sp_err sp_store_cert_list(sp_store *st, const sp_cert_filter *f, sp_cert_cb cb, void *arg)
{
	static const sp_cert_filter none;
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	sql_buf b = {.len = 0};
	char *like = NULL;
	sp_cert_row row;
	int64_t now;
	int rc;

	if (!f)
		f = &none;
	/* A zeroed filter means "now" rather than the epoch: otherwise
	 * "valid" with a forgotten `now` would list every expired
	 * certificate as valid. */
	now = f->now ? f->now : (int64_t)time(NULL);
	err = build(f, &b);
	if (err)
		goto out;
	if (f->subject_like) {
		err = like_pattern(f->subject_like, &like);
		if (err)
			goto out;
	}
	/* Prepared per call, not cached: the callback may call back into the
	 * store, even list again, without disturbing this walk. */
	if (sqlite3_prepare_v2(st->db, b.text, (int)b.len, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "certificate list");
		goto out;
	}
	/* ?1 (now) is shared by several clauses; bind it if any used it. */
	rc = SQLITE_OK;
	if (sqlite3_bind_parameter_count(s) >= P_NOW)
		rc = sqlite3_bind_int64(s, P_NOW, now);
	if (rc == SQLITE_OK && f->template_name)
		rc = sps_bind_text(s, P_TEMPLATE, f->template_name);
	if (rc == SQLITE_OK && f->expiring_before)
		rc = sqlite3_bind_int64(s, P_EXPIRING, f->expiring_before);
	if (rc == SQLITE_OK && like)
		rc = sps_bind_text(s, P_LIKE, like);
	if (rc != SQLITE_OK) {
		err = sps_db_fail(st, "certificate list");
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int cbrc;
		err = sps_cert_fill(st, s, &row, 0);
		if (err)
			goto out;
		cbrc = cb(&row, arg);
		if (cbrc) {
			err = sps_cb_result(cbrc);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		err = sps_db_fail(st, "certificate list");
		goto out;
	}
out:
	/* The walk's error is already reported. */
	(void)sqlite3_finalize(s);
	free(like);
	return err;
}
