/*
 * store_vfs.c - the store's SQLite VFS: the system's default VFS, except
 * that the writes SQLite makes to a WAL file are gathered and reach the
 * file as one write per commit.
 *
 * Why: SQLite appends each page of a commit to the WAL as two writes (the
 * 24-byte frame header, then the page), so a signer commit of two
 * certificates (about 20 pages) is about 40 pwrite() calls, each paying the
 * file system's per-call cost, before the one fdatasync() that makes them
 * durable. Gathered, they are one call.
 *
 * Why it is safe:
 *   - Only a WAL file is wrapped; the database, its -shm and everything
 *     else get the default VFS's file object as they are.
 *   - Pending bytes are written, in order, before the file is synced, read,
 *     sized, truncated, handed to a file control, or closed. So this
 *     connection always sees its own file exactly as it would unwrapped, and
 *     xSync still means "everything written so far is on disk".
 *   - Other connections only read frames that a commit has published in the
 *     WAL index, and SQLite publishes them after xSync (the store refuses to
 *     open unless synchronous=FULL, store_open.c), when they are written.
 *   - A write that fails later is reported by the call that flushed it
 *     (xSync for a commit), which fails the commit as the direct write would
 *     have; a crash loses only frames no commit had synced, which WAL
 *     recovery ignores anyway.
 *   - Writes that do not continue the pending run (SQLite overwriting a
 *     frame of the same transaction, the WAL header after a restart) flush
 *     the run first and start a new one: the order of writes is kept.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <string.h>

/* A run grows to this size at most, then is written; a commit larger than
 * that goes out in several writes (still a handful, not two per page). The
 * unix VFS writes at most 0x1ffff bytes per call (seekAndWriteFd masks the
 * length with it: a longer write would come out short), so a run stays
 * within that: 31 frames of 4 KiB pages. */
#define WAL_RUN_MAX 0x1ffff
#define WAL_RUN_FIRST (64 * 1024)

typedef struct {
	sqlite3_file base;   /* pMethods = &wal_methods */
	sqlite3_file *real;  /* the default VFS's file, right after this struct */
	unsigned char *run;  /* pending bytes, for offsets [at, at + len) */
	int cap, len;
	sqlite3_int64 at;
	sqlite3_int64 flushes; /* writes that reached the real file (tests) */
} wal_file;

/* The real file object follows wal_file, aligned for any type. */
#define WAL_REAL_OFFSET ((sizeof(wal_file) + 15) & ~(size_t)15)

static sqlite3_vfs *real_vfs;
static sqlite3_vfs store_vfs;
static sqlite3_io_methods wal_methods;
static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;
static int vfs_rc = SQLITE_ERROR;

static int wal_flush(wal_file *w)
{
	int rc;

	if (!w->len)
		return SQLITE_OK;
	rc = w->real->pMethods->xWrite(w->real, w->run, w->len, w->at);
	w->len = 0;
	w->flushes++;
	return rc;
}

static int wal_write(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off)
{
	wal_file *w = (wal_file *)f;
	int rc;

	if (w->len && off == w->at + w->len && amt <= WAL_RUN_MAX - w->len) {
		/* continues the pending run */
	} else {
		if ((rc = wal_flush(w)) != SQLITE_OK)
			return rc;
		if (amt > WAL_RUN_MAX)
			return w->real->pMethods->xWrite(w->real, data, amt, off);
		w->at = off;
	}
	if (w->len + amt > w->cap) {
		int cap = w->cap ? w->cap : WAL_RUN_FIRST;
		unsigned char *grown;

		while (cap < w->len + amt)
			cap *= 2;
		if (cap > WAL_RUN_MAX)
			cap = WAL_RUN_MAX;
		if (!(grown = sqlite3_realloc(w->run, cap))) {
			/* no memory for the run: write through, in order */
			if ((rc = wal_flush(w)) != SQLITE_OK)
				return rc;
			return w->real->pMethods->xWrite(w->real, data, amt, off);
		}
		w->run = grown;
		w->cap = cap;
	}
	memcpy(w->run + w->len, data, (size_t)amt);
	w->len += amt;
	return SQLITE_OK;
}

static int wal_close(sqlite3_file *f)
{
	wal_file *w = (wal_file *)f;
	int rc = wal_flush(w), rc2;

	sqlite3_free(w->run);
	w->run = NULL;
	w->cap = 0;
	rc2 = w->real->pMethods->xClose(w->real);
	return rc != SQLITE_OK ? rc : rc2;
}

/* Everything else: write what is pending, then the real call. */
#define FLUSH_OR_RETURN(w)                                                                                             \
	do {                                                                                                           \
		int frc_ = wal_flush(w);                                                                               \
		if (frc_ != SQLITE_OK)                                                                                 \
			return frc_;                                                                                   \
	} while (0)

static int wal_read(sqlite3_file *f, void *data, int amt, sqlite3_int64 off)
{
	wal_file *w = (wal_file *)f;
	FLUSH_OR_RETURN(w);
	return w->real->pMethods->xRead(w->real, data, amt, off);
}

static int wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	wal_file *w = (wal_file *)f;
	FLUSH_OR_RETURN(w);
	return w->real->pMethods->xTruncate(w->real, size);
}

static int wal_sync(sqlite3_file *f, int flags)
{
	wal_file *w = (wal_file *)f;
	FLUSH_OR_RETURN(w);
	return w->real->pMethods->xSync(w->real, flags);
}

static int wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	wal_file *w = (wal_file *)f;
	FLUSH_OR_RETURN(w);
	return w->real->pMethods->xFileSize(w->real, size);
}

static int wal_file_control(sqlite3_file *f, int op, void *arg)
{
	wal_file *w = (wal_file *)f;
	FLUSH_OR_RETURN(w);
	return w->real->pMethods->xFileControl(w->real, op, arg);
}

static int wal_lock(sqlite3_file *f, int level)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xLock(w->real, level);
}

static int wal_unlock(sqlite3_file *f, int level)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xUnlock(w->real, level);
}

static int wal_check_reserved(sqlite3_file *f, int *out)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xCheckReservedLock(w->real, out);
}

static int wal_sector_size(sqlite3_file *f)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xSectorSize(w->real);
}

static int wal_device_characteristics(sqlite3_file *f)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xDeviceCharacteristics(w->real);
}

/* A WAL file has no shared memory or memory map of its own in SQLite's
 * unix VFS; these forward for completeness (iVersion follows the real
 * methods, so SQLite calls them only if the real file has them). */
static int wal_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **out)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xShmMap(w->real, pg, pgsz, extend, out);
}

static int wal_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xShmLock(w->real, offset, n, flags);
}

static void wal_shm_barrier(sqlite3_file *f)
{
	wal_file *w = (wal_file *)f;
	w->real->pMethods->xShmBarrier(w->real);
}

static int wal_shm_unmap(sqlite3_file *f, int del)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xShmUnmap(w->real, del);
}

static int wal_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
	wal_file *w = (wal_file *)f;
	FLUSH_OR_RETURN(w);
	return w->real->pMethods->xFetch(w->real, off, amt, out);
}

static int wal_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	wal_file *w = (wal_file *)f;
	return w->real->pMethods->xUnfetch(w->real, off, p);
}

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	wal_file *w = (wal_file *)f;
	int rc;

	(void)vfs;
	if (!(flags & SQLITE_OPEN_WAL))
		/* not a WAL: the default VFS's file object, unchanged */
		return real_vfs->xOpen(real_vfs, name, f, flags, out_flags);
	memset(w, 0, sizeof *w);
	w->real = (sqlite3_file *)((char *)f + WAL_REAL_OFFSET);
	rc = real_vfs->xOpen(real_vfs, name, w->real, flags, out_flags);
	if (rc != SQLITE_OK || !w->real->pMethods) {
		w->base.pMethods = NULL; /* SQLite then does not call xClose */
		return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
	}
	/* the same version as the real methods, so that SQLite sees what the
	 * real file offers */
	w->base.pMethods = &wal_methods;
	return SQLITE_OK;
}

/* The rest of the VFS is the default one, called with its own object. */
static int vfs_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	(void)v;
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static int vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int vfs_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return real_vfs->xSleep(real_vfs, us);
}

static int vfs_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return real_vfs->xCurrentTime(real_vfs, out);
}

static int vfs_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return real_vfs->xGetLastError ? real_vfs->xGetLastError(real_vfs, n, out) : 0;
}

static void *vfs_dl_open(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return real_vfs->xDlOpen(real_vfs, name);
}

static void vfs_dl_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	real_vfs->xDlError(real_vfs, n, out);
}

static void (*vfs_dl_sym(sqlite3_vfs *v, void *lib, const char *sym))(void)
{
	(void)v;
	return real_vfs->xDlSym(real_vfs, lib, sym);
}

static void vfs_dl_close(sqlite3_vfs *v, void *lib)
{
	(void)v;
	real_vfs->xDlClose(real_vfs, lib);
}

static int vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void vfs_register(void)
{
	sqlite3_io_methods *m = &wal_methods;
	sqlite3_vfs *v = &store_vfs;

	if (!(real_vfs = sqlite3_vfs_find(NULL)))
		return;
	m->iVersion = 3;
	m->xClose = wal_close;
	m->xRead = wal_read;
	m->xWrite = wal_write;
	m->xTruncate = wal_truncate;
	m->xSync = wal_sync;
	m->xFileSize = wal_file_size;
	m->xLock = wal_lock;
	m->xUnlock = wal_unlock;
	m->xCheckReservedLock = wal_check_reserved;
	m->xFileControl = wal_file_control;
	m->xSectorSize = wal_sector_size;
	m->xDeviceCharacteristics = wal_device_characteristics;
	m->xShmMap = wal_shm_map;
	m->xShmLock = wal_shm_lock;
	m->xShmBarrier = wal_shm_barrier;
	m->xShmUnmap = wal_shm_unmap;
	m->xFetch = wal_fetch;
	m->xUnfetch = wal_unfetch;

	/* version 2: no xSetSystemCall and friends (test hooks of the unix VFS) */
	v->iVersion = 2;
	v->szOsFile = (int)WAL_REAL_OFFSET + real_vfs->szOsFile;
	v->mxPathname = real_vfs->mxPathname;
	v->zName = SPS_VFS_NAME;
	v->xOpen = vfs_open;
	v->xDelete = vfs_delete;
	v->xAccess = vfs_access;
	v->xFullPathname = vfs_full_pathname;
	v->xDlOpen = vfs_dl_open;
	v->xDlError = vfs_dl_error;
	v->xDlSym = vfs_dl_sym;
	v->xDlClose = vfs_dl_close;
	v->xRandomness = vfs_randomness;
	v->xSleep = vfs_sleep;
	v->xCurrentTime = vfs_current_time;
	v->xGetLastError = vfs_last_error;
	v->xCurrentTimeInt64 = vfs_current_time64;
	vfs_rc = sqlite3_vfs_register(v, 0);
}

const char *sps_vfs(void)
{
	pthread_once(&vfs_once, vfs_register);
	return vfs_rc == SQLITE_OK ? SPS_VFS_NAME : NULL;
}

sqlite3_int64 sps_vfs_wal_writes(sqlite3 *db)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK || !f ||
	    f->pMethods != &wal_methods)
		return -1;
	return ((wal_file *)f)->flushes;
}
