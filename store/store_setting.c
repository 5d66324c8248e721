/*
 * store_setting.c - small per-CA settings (CRL policy and the like) as
 * key/value text.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

#define SQL_SETTING_GET "SELECT value FROM setting WHERE key = ?1"
#define SQL_SETTING_SET \
	"INSERT INTO setting(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value"

sp_err sp_store_setting_get(sp_store *st, const char *key, char **out)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	char *value = NULL;
	int rc;

	if (!key || !*key) {
		err = sp_fail(SP_ERR_INPUT, "setting: no key given");
		goto out;
	}
	if (!out) {
		err = sp_fail(SP_ERR_INPUT, "setting %s: nowhere to put the value", key);
		goto out;
	}
	err = sps_stmt(st, SPS_SETTING_GET, SQL_SETTING_GET, &s);
	if (err)
		goto out;
	if (sps_bind_text(s, 1, key) != SQLITE_OK) {
		err = sps_db_fail(st, "read setting");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		err = sp_fail(SP_ERR_NOTFOUND, "setting %s is not set", key);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "read setting");
		goto out;
	}
	err = sps_col_strdup(st, s, 0, &value);
	if (err)
		goto out;
	*out = value;
out:
	sps_stmt_done(s);
	return err;
}

sp_err sp_store_setting_set(sp_store *st, const char *key, const char *value)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	int rc;

	err = sps_need_txn(st, "setting update");
	if (err)
		goto out;
	if (!key || !*key) {
		err = sp_fail(SP_ERR_INPUT, "setting: no key given");
		goto out;
	}
	if (!value) {
		err = sp_fail(SP_ERR_INPUT, "setting %s: no value given", key);
		goto out;
	}
	err = sps_stmt(st, SPS_SETTING_SET, SQL_SETTING_SET, &s);
	if (err)
		goto out;
	rc = sps_bind_text(s, 1, key);
	if (rc == SQLITE_OK)
		rc = sps_bind_text(s, 2, value);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_DONE) {
		err = sps_db_fail(st, "setting update");
		goto out;
	}
out:
	sps_stmt_done(s);
	return err;
}
