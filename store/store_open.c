/*
 * store_open.c - open or create the store file, apply the connection
 * pragmas, close, and the integrity check.
 *
 * The file permissions matter as much as the contents: the store holds every
 * certificate and request, and the -wal file holds recent writes in clear, so
 * the database and its WAL/shm companions are owner-only from the moment they
 * exist.
 */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Two writers (the CLI and the service) share one store; a writer waits up to
 * this long for the other's transaction instead of failing "locked". */
#define SPS_BUSY_TIMEOUT_MS 10000

/* Files SQLite keeps beside the database. A stale -wal from some other
 * database would be replayed into a freshly created one, and all of them
 * carry store contents. */
static const char *const sidecar_suffix[] = {"-wal", "-shm", "-journal"};
#define N_SIDECARS (sizeof sidecar_suffix / sizeof sidecar_suffix[0])

static char *path_with_suffix(const char *path, const char *suffix)
{
	size_t a = strlen(path), b = strlen(suffix);
	char *p = malloc(a + b + 1);
	if (p) {
		memcpy(p, path, a);
		memcpy(p + a, suffix, b + 1);
	}
	return p;
}

/* action: 0 = refuse if any exists, 1 = make each owner-only, 2 = remove. */
static sp_err sidecars(const char *path, int action)
{
	sp_err err = SP_OK;
	char *side = NULL;
	struct stat sb;

	for (size_t i = 0; i < N_SIDECARS; i++) {
		free(side);
		side = path_with_suffix(path, sidecar_suffix[i]);
		if (!side) {
			err = sp_fail(SP_ERR_NOMEM, "store: out of memory");
			goto out;
		}
		if (action == 2) {
			if (unlink(side) != 0 && errno != ENOENT) {
				err = sp_fail(SP_ERR_IO, "cannot remove %s: %s", side, strerror(errno));
				goto out;
			}
			continue;
		}
		if (lstat(side, &sb) != 0) {
			if (errno == ENOENT)
				continue;
			err = sp_fail(SP_ERR_IO, "cannot stat %s: %s", side, strerror(errno));
			goto out;
		}
		if (action == 0) {
			err = sp_fail(SP_ERR_EXISTS,
				      "%s exists without its store (left from a deleted store?); "
				      "move it away before creating a new store",
				      side);
			goto out;
		}
		if (!S_ISREG(sb.st_mode)) {
			err = sp_fail(SP_ERR_PERM, "%s is not a regular file", side);
			goto out;
		}
		/* SQLite creates these with the database file's mode, but a file
		 * left by an older tool or a copy may not be; tighten, never
		 * loosen. */
		if ((sb.st_mode & (S_IRWXG | S_IRWXO)) && chmod(side, sb.st_mode & S_IRWXU) != 0) {
			err = sp_fail(SP_ERR_IO, "cannot chmod %s: %s", side, strerror(errno));
			goto out;
		}
	}
out:
	free(side);
	return err;
}

static sp_err create_file(const char *path)
{
	sp_err err = SP_OK;
	int fd;

	/* Checked first only for the clearer message; O_EXCL below is what
	 * makes the refusal race-free. */
	if (sp_path_exists(path)) {
		err = sp_fail(SP_ERR_EXISTS, "store %s already exists; refusing to overwrite it", path);
		goto out;
	}
	err = sidecars(path, 0);
	if (err)
		goto out;
	/* O_EXCL: never adopt an existing file (ours or anyone's); the mode is
	 * right from the first instant, not fixed up after SQLite made it. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, S_IRUSR | S_IWUSR);
	if (fd < 0) {
		if (errno == EEXIST)
			err = sp_fail(SP_ERR_EXISTS, "store %s already exists; refusing to overwrite it", path);
		else
			err = sp_fail(SP_ERR_IO, "cannot create store %s: %s", path, strerror(errno));
		goto out;
	}
	/* A restrictive umask (0277) would leave the file read-only for us;
	 * fchmod makes it exactly 0600 whatever the umask. */
	if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
		err = sp_fail(SP_ERR_IO, "cannot chmod %s: %s", path, strerror(errno));
		(void)close(fd);
		(void)unlink(path);
		goto out;
	}
	if (close(fd) != 0) {
		err = sp_fail(SP_ERR_IO, "cannot create store %s: %s", path, strerror(errno));
		(void)unlink(path);
		goto out;
	}
out:
	return err;
}

/* The store file itself must not be a symlink: whoever controls the link
 * would choose which file we trust (create gets the same from O_NOFOLLOW). */
static sp_err check_not_symlink(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return sp_fail(SP_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
	if (S_ISLNK(sb.st_mode))
		return sp_fail(SP_ERR_PERM, "store %s is a symbolic link; give the real path", path);
	return SP_OK;
}

/* Run a PRAGMA and copy the first column of its first row (what the
 * setting really became, which is not always what was asked for). */
static sp_err pragma_value(sp_store *st, const char *sql, char *out, size_t outsz)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	const unsigned char *v;

	out[0] = '\0';
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, sql);
		goto out;
	}
	if (sqlite3_step(s) != SQLITE_ROW) {
		err = sps_db_fail(st, sql);
		goto out;
	}
	v = sqlite3_column_text(s, 0);
	if (!v) {
		err = sp_fail(SP_ERR_DB, "%s: no value", sql);
		goto out;
	}
	if (snprintf(out, outsz, "%s", (const char *)v) >= (int)outsz) {
		err = sp_fail(SP_ERR_DB, "%s: unexpected value", sql);
		goto out;
	}
out:
	/* Finalizing returns the step error again; it is already reported. */
	(void)sqlite3_finalize(s);
	return err;
}

static sp_err pragma_expect(sp_store *st, const char *set_sql, const char *get_sql, const char *want,
			    const char *what)
{
	sp_err err = SP_OK;
	char got[32];

	if (set_sql) {
		err = sps_exec(st, set_sql, set_sql);
		if (err)
			goto out;
	}
	err = pragma_value(st, get_sql, got, sizeof got);
	if (err)
		goto out;
	if (strcmp(got, want) != 0) {
		err = sp_fail(SP_ERR_DB, "store %s: %s is '%s', need '%s'", st->path, what, got, want);
		goto out;
	}
out:
	return err;
}

static sp_err configure(sp_store *st)
{
	sp_err err = SP_OK;
	int on = 0;

	if (sqlite3_extended_result_codes(st->db, 1) != SQLITE_OK) {
		err = sps_db_fail(st, "extended result codes");
		goto out;
	}
	/* First, so that even the journal_mode switch below waits for a peer
	 * rather than failing. */
	if (sqlite3_busy_timeout(st->db, SPS_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		err = sps_db_fail(st, "busy timeout");
		goto out;
	}
	/* DEFENSIVE: no writable_schema or other ways for SQL to corrupt the
	 * file; TRUSTED_SCHEMA off: triggers and views in the file cannot call
	 * functions with side effects (the file is data, not code). */
	if (sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, &on) != SQLITE_OK || on != 1) {
		err = sps_db_fail(st, "defensive mode");
		goto out;
	}
	if (sqlite3_db_config(st->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &on) != SQLITE_OK || on != 0) {
		err = sps_db_fail(st, "trusted schema off");
		goto out;
	}
	/* WAL: readers (the service listing certificates) do not block the
	 * writer; it must really be on, a filesystem without shared memory
	 * support silently keeps the old mode. */
	err = pragma_expect(st, NULL, "PRAGMA journal_mode=WAL", "wal", "journal_mode");
	if (err)
		goto out;
	/* FULL: in WAL mode NORMAL may lose the last commits on power loss,
	 * and a certificate handed out must never be forgotten (2 = FULL). */
	err = pragma_expect(st, "PRAGMA synchronous=FULL", "PRAGMA synchronous", "2", "synchronous");
	if (err)
		goto out;
	err = pragma_expect(st, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1", "foreign_keys");
	if (err)
		goto out;
out:
	return err;
}

sp_err sp_store_open(const char *path, int create, sp_store **out)
{
	sp_err err = SP_OK;
	sp_store *st = NULL;
	int made = 0, rc, flags;

	*out = NULL;
	if (!path || !*path) {
		err = sp_fail(SP_ERR_USAGE, "store: no path given");
		goto out;
	}
	if (create) {
		err = create_file(path);
		if (err)
			goto out;
		made = 1;
	} else {
		if (!sp_path_exists(path)) {
			err = sp_fail(SP_ERR_NOTFOUND, "no store at %s", path);
			goto out;
		}
		err = check_not_symlink(path);
		if (err)
			goto out;
		err = sp_file_check_private(path);
		if (err)
			goto out;
	}

	st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(path))) {
		err = sp_fail(SP_ERR_NOMEM, "store: out of memory");
		goto out;
	}
	/* No SQLITE_OPEN_CREATE: the file exists by now (made above, 0600),
	 * and opening must never conjure an empty store at a mistyped path.
	 * NOMUTEX: one connection per thread. Not SQLITE_OPEN_NOFOLLOW: it
	 * refuses a symlink anywhere in the path (a CA home under a linked
	 * /srv); the last component is checked by hand instead. The store's VFS
 * gathers each commit's WAL writes into one (store_vfs.c). */
	flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
	flags |= SQLITE_OPEN_EXRESCODE;
#endif
	rc = sqlite3_open_v2(path, &st->db, flags, sps_vfs());
	if (rc != SQLITE_OK) {
		err = sp_fail(SP_ERR_DB, "cannot open store %s: %s", path,
			      st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		goto out;
	}
	err = configure(st);
	if (err)
		goto out;
	err = sps_txn_prepare(st);
	if (err)
		goto out;
	err = sps_schema_migrate(st, made);
	if (err)
		goto out;
	/* The WAL and shm files exist by now (journal_mode=WAL and the
	 * schema read made them). */
	err = sidecars(path, 1);
	if (err)
		goto out;

	*out = st;
	st = NULL;
out:
	sp_store_close(st);
	if (err && made) {
		/* Leave no half-made store behind to be refused as "exists" by
		 * the retry. The message of the original failure is kept. */
		(void)unlink(path);
		(void)sidecars(path, 2);
	}
	return err;
}

void sp_store_close(sp_store *st)
{
	if (!st)
		return;
	sps_stmt_cache_free(st);
	/* close_v2 always releases the handle; an open transaction is rolled
	 * back, which is what a caller who did not commit asked for. Its
	 * return value has no one to go to in a void close. */
	(void)sqlite3_close_v2(st->db);
	free(st->path);
	free(st);
}

sp_err sp_store_integrity_check(sp_store *st)
{
	sp_err err = SP_OK;
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int rc;

	if (sqlite3_prepare_v2(st->db, "PRAGMA integrity_check", -1, &s, NULL) != SQLITE_OK) {
		err = sps_db_fail(st, "integrity check");
		goto out;
	}
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		err = sps_db_fail(st, "integrity check");
		goto out;
	}
	v = sqlite3_column_text(s, 0);
	if (!v || strcmp((const char *)v, "ok") != 0) {
		err = sp_fail(SP_ERR_DB, "store %s failed its integrity check: %s", st->path,
			      v ? (const char *)v : "(no detail)");
		goto out;
	}
out:
	(void)sqlite3_finalize(s);
	return err;
}
