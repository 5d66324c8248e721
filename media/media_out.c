/*
 * media_out.c - the output file of a media create or export, in two steps.
 *
 * sp_file_write_atomic (common/file.c) creates its temp file only when the
 * data is ready; here the data is a private key whose certificate must not
 * be issued unless the file can be written. So the temp file is created
 * first, in the target directory (an unwritable, missing or wrong path is
 * found before the CA does anything), and filled, synced and renamed into
 * place once the certificate is committed. Every failure removes the temp
 * file: there is never a partial PKCS#12 on disk.
 */
#include "media/media.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sp_media_out {
	char *path;
	char *tmp;
	int fd;
};

static void out_free(sp_media_out *o)
{
	if (!o)
		return;
	if (o->fd >= 0)
		close(o->fd);
	if (o->tmp)
		unlink(o->tmp);
	free(o->path);
	free(o->tmp);
	free(o);
}

/* An existing path is refused: a PKCS#12 may hold the only copy of a key
 * (created without --archive), so it is never overwritten. */
static sp_err check_free(const char *path)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return sp_fail(SP_ERR_IO, "%s is a directory: --out names the PKCS#12 file to create", path);
		return sp_fail(SP_ERR_EXISTS,
			       "%s exists: a PKCS#12 is never overwritten (it may hold the only copy of a key); "
			       "remove it or choose another name",
			       path);
	}
	if (errno != ENOENT)
		return sp_fail(SP_ERR_IO, "cannot use %s: %s", path, strerror(errno));
	return SP_OK;
}

sp_err sp_media_out_open(const char *path, sp_media_out **out)
{
	sp_media_out *o = NULL;
	size_t n;
	sp_err rc;

	*out = NULL;
	if (!path || !*path || !strcmp(path, "-"))
		return sp_fail(SP_ERR_USAGE, "a PKCS#12 is written to a file (--out FILE), never to standard output");
	if ((rc = check_free(path)) != SP_OK)
		return rc;
	n = strlen(path);
	if (n > 4000)
		return sp_fail(SP_ERR_INPUT, "path too long: %.80s...", path);
	if (!(o = calloc(1, sizeof *o)) || !(o->path = strdup(path)) || !(o->tmp = malloc(n + sizeof ".tmpXXXXXX"))) {
		out_free(o);
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	o->fd = -1;
	memcpy(o->tmp, path, n);
	memcpy(o->tmp + n, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
	/* mkstemp: O_EXCL, mode 0600 from the start; the fchmod makes that
	 * independent of the umask. */
	if ((o->fd = mkstemp(o->tmp)) < 0) {
		rc = sp_fail(SP_ERR_IO, "cannot create a file beside %s: %s", path, strerror(errno));
		free(o->tmp); /* nothing was created: nothing to unlink */
		o->tmp = NULL;
		out_free(o);
		return rc;
	}
	if (fchmod(o->fd, 0600) != 0) {
		rc = sp_fail(SP_ERR_IO, "cannot set the mode of a file beside %s: %s", path, strerror(errno));
		out_free(o);
		return rc;
	}
	*out = o;
	return SP_OK;
}

const char *sp_media_out_path(const sp_media_out *o)
{
	return o ? o->path : "";
}

void sp_media_out_abort(sp_media_out *o)
{
	out_free(o);
}

sp_err sp_media_out_commit(sp_media_out *o, const void *data, size_t len)
{
	sp_err rc;
	int fd;

	if (!o)
		return sp_fail(SP_ERR_INTERNAL, "no output file to write");
	if (sp_write_all(o->fd, data, len) != 0 || fsync(o->fd) != 0) {
		rc = sp_fail(SP_ERR_IO, "cannot write %s: %s", o->path, strerror(errno));
		goto out;
	}
	fd = o->fd;
	o->fd = -1;
	if (close(fd) != 0) {
		rc = sp_fail(SP_ERR_IO, "cannot write %s: %s", o->path, strerror(errno));
		goto out;
	}
	/* Someone may have created the path since open; rename would replace
	 * it silently. (A file made between this check and the rename is
	 * still replaced: the window is the length of two system calls.) */
	if ((rc = check_free(o->path)) != SP_OK)
		goto out;
	if (rename(o->tmp, o->path) != 0) {
		rc = sp_fail(SP_ERR_IO, "cannot rename into %s: %s", o->path, strerror(errno));
		goto out;
	}
	free(o->tmp);
	o->tmp = NULL;
	/* Not durable without the directory entry: report it and take the
	 * file back, so that an error always means "no file". */
	if (sp_fsync_parent(o->path) != 0) {
		rc = sp_fail(SP_ERR_IO, "cannot sync the directory of %s: %s (the file was removed again)", o->path,
			     strerror(errno));
		unlink(o->path);
		goto out;
	}
	rc = SP_OK;
out:
	out_free(o);
	return rc;
}
