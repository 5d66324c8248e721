/* file.c - bounded reads, atomic writes and permission checks. */
#include "common/common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

sp_err sp_file_read(const char *path, size_t max, uint8_t **data, size_t *len)
{
	sp_err rc = SP_ERR_IO;
	uint8_t *buf = NULL;
	size_t used = 0, cap = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return sp_fail(SP_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	for (;;) {
		ssize_t n;
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			uint8_t *nb;
			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap <= used) {
				rc = sp_fail(SP_ERR_INPUT, "%s: larger than the limit of %zu bytes", path, max);
				goto out;
			}
			nb = realloc(buf, ncap + 1);
			if (!nb) {
				rc = sp_fail(SP_ERR_NOMEM, "reading %s: out of memory", path);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = sp_fail(SP_ERR_IO, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			rc = sp_fail(SP_ERR_INPUT, "%s: larger than the limit of %zu bytes", path, max);
			goto out;
		}
	}
	if (!buf && !(buf = malloc(1))) {
		rc = sp_fail(SP_ERR_NOMEM, "reading %s: out of memory", path);
		goto out;
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	buf = NULL;
	rc = SP_OK;
out:
	free(buf);
	close(fd);
	return rc;
}

int sp_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int sp_fsync_parent(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;
	if (!copy)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

sp_err sp_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode, int sync)
{
	char tmp[4096];
	int fd = -1;
	sp_err rc = SP_ERR_IO;

	if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp)
		return sp_fail(SP_ERR_INPUT, "path too long: %s", path);
	/* mkstemp creates 0600; fchmod sets the final mode before any byte is
	 * written, so a key never exists with a wider mode. */
	fd = mkstemp(tmp);
	if (fd < 0)
		return sp_fail(SP_ERR_IO, "cannot create a file beside %s: %s", path, strerror(errno));
	if (fchmod(fd, mode) != 0 || sp_write_all(fd, data, len) != 0 || (sync && fsync(fd) != 0)) {
		rc = sp_fail(SP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = sp_fail(SP_ERR_IO, "cannot write %s: %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = sp_fail(SP_ERR_IO, "cannot rename into %s: %s", path, strerror(errno));
		goto fail;
	}
	if (sync && sp_fsync_parent(path) != 0)
		return sp_fail(SP_ERR_IO, "cannot sync the directory of %s: %s", path, strerror(errno));
	return SP_OK;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

sp_err sp_file_check_private(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return sp_fail(SP_ERR_IO, "cannot stat %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sp_fail(SP_ERR_PERM, "%s is not a regular file", path);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return sp_fail(SP_ERR_PERM, "%s has mode %04o: group/others must have no access (chmod 600)",
			       path, (unsigned)(st.st_mode & 07777));
	return SP_OK;
}

sp_err sp_dir_ensure(const char *path, mode_t mode)
{
	struct stat st;
	if (mkdir(path, mode) == 0)
		return SP_OK;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return SP_OK;
	return sp_fail(SP_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
}

sp_err sp_path_join(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= outsz)
		return sp_fail(SP_ERR_INPUT, "path too long: %s/%s", dir, name);
	return SP_OK;
}

int sp_path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}
