/*
 * template_find.c - where templates live: the shipped data directory, a CA
 * home's own templates/ folder (which wins), lookup by name and the sorted
 * listing.
 */
#include "templates/templates_int.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef SITEPKI_DATA_DIR
#define SITEPKI_DATA_DIR "/usr/share/sitepki/templates"
#endif

#define HOME_SUBDIR "templates"
#define PATH_BYTES 4096
/* Bound on one listing; a directory with more files is misconfigured, not
 * a template set. */
#define MAX_LISTED 1024

/* name is the file name without ".xml", kept whole even when too long to
 * be valid so that its error reaches the caller under its own name. */
typedef struct {
	char name[NAME_MAX + 1];
	char path[PATH_BYTES];
} listed;

typedef struct {
	listed *v;
	size_t n, cap;
} listing;

const char *sp_template_data_dir(void)
{
	const char *env = getenv("SITEPKI_DATA_DIR");

	return (env && *env) ? env : SITEPKI_DATA_DIR;
}

/* <dir>/<name>.xml */
static sp_err file_path(char *out, size_t outsz, const char *dir, const char *name)
{
	char file[SP_TPL_MAX_NAME + 5];

	snprintf(file, sizeof file, "%s.xml", name);
	return sp_path_join(out, outsz, dir, file);
}

/* A FIFO or device named NAME.xml would block or feed the parser forever. */
static sp_err check_regular(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return sp_fail(SP_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return sp_fail(SP_ERR_INPUT, "%s: not a regular file", path);
	return SP_OK;
}

static sp_err load_checked(const char *path, sp_template **out)
{
	sp_err err = check_regular(path);

	if (err == SP_OK)
		err = sp_template_load_file(path, out);
	return err;
}

sp_err sp_template_find(const char *home, const char *name, sp_template **out)
{
	char dir[PATH_BYTES], path[PATH_BYTES], shown[SP_TPL_MAX_NAME + 2];
	sp_err err;

	if (!out) {
		err = sp_fail(SP_ERR_INTERNAL, "sp_template_find: no output");
		goto out;
	}
	*out = NULL;
	/* Before any path is built: the name may come from an EST URL. */
	sp_template_safe_copy(shown, sizeof shown, name ? name : "");
	if (!name || !sp_template_name_valid(name)) {
		err = sp_fail(SP_ERR_INPUT, "invalid template name \"%s\": expected [a-z0-9][a-z0-9-]*, "
					    "at most %d characters",
			      shown, SP_TPL_MAX_NAME);
		goto out;
	}
	if (home && *home) {
		err = sp_path_join(dir, sizeof dir, home, HOME_SUBDIR);
		if (err != SP_OK)
			goto out;
		err = file_path(path, sizeof path, dir, name);
		if (err != SP_OK)
			goto out;
		/* Present but broken is an error, not a fall-back to the
		 * shipped one: the admin meant to override it. */
		if (sp_path_exists(path)) {
			err = load_checked(path, out);
			goto out;
		}
	}
	err = file_path(path, sizeof path, sp_template_data_dir(), name);
	if (err != SP_OK)
		goto out;
	if (!sp_path_exists(path)) {
		err = sp_fail(SP_ERR_NOTFOUND, "no template named %s", shown);
		goto out;
	}
	err = load_checked(path, out);
out:
	return err;
}

static int has_name(const listing *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return 1;
	return 0;
}

static sp_err add_entry(listing *l, const char *dir, const char *file, size_t namelen)
{
	listed *e;
	sp_err err = SP_OK;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		listed *v;

		if (cap > MAX_LISTED)
			cap = MAX_LISTED;
		if (l->n >= cap) {
			err = sp_fail(SP_ERR_INPUT, "%s: more than %d template files", dir, MAX_LISTED);
			goto out;
		}
		v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			err = sp_fail(SP_ERR_NOMEM, "%s: out of memory listing templates", dir);
			goto out;
		}
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	memcpy(e->name, file, namelen);
	e->name[namelen] = '\0';
	err = sp_path_join(e->path, sizeof e->path, dir, file);
	if (err == SP_OK)
		l->n++;
out:
	return err;
}

/* Add dir's NAME.xml files whose NAME is not listed yet (so the directory
 * read first shadows the later ones). */
static sp_err collect(listing *l, const char *dir, int missing_ok)
{
	DIR *d = NULL;
	struct dirent *de;
	sp_err err = SP_OK;

	d = opendir(dir);
	if (!d) {
		if (missing_ok && errno == ENOENT)
			goto out;
		err = sp_fail(SP_ERR_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		size_t len = strlen(de->d_name);
		char name[NAME_MAX + 1];

		/* Hidden files are editor backups and the like. */
		if (de->d_name[0] == '.' || len <= 4 || strcmp(de->d_name + len - 4, ".xml") != 0)
			continue;
		len -= 4;
		if (len > NAME_MAX)
			continue;
		memcpy(name, de->d_name, len);
		name[len] = '\0';
		if (has_name(l, name))
			continue;
		err = add_entry(l, dir, de->d_name, len);
		if (err != SP_OK)
			goto out;
	}
	if (errno != 0)
		err = sp_fail(SP_ERR_IO, "%s: %s", dir, strerror(errno));
out:
	if (d)
		closedir(d);
	return err;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const listed *)a)->name, ((const listed *)b)->name);
}

sp_err sp_template_list(const char *home, sp_template_cb cb, void *arg)
{
	listing l = {NULL, 0, 0};
	char dir[PATH_BYTES];
	size_t i;
	sp_err err;

	if (!cb) {
		err = sp_fail(SP_ERR_INTERNAL, "sp_template_list: no callback");
		goto out;
	}
	if (home && *home) {
		err = sp_path_join(dir, sizeof dir, home, HOME_SUBDIR);
		if (err != SP_OK)
			goto out;
		/* A home without a templates/ folder simply adds nothing. */
		err = collect(&l, dir, 1);
		if (err != SP_OK)
			goto out;
	}
	err = collect(&l, sp_template_data_dir(), 0);
	if (err != SP_OK)
		goto out;
	if (l.n > 1)
		qsort(l.v, l.n, sizeof *l.v, by_name);

	for (i = 0; i < l.n; i++) {
		sp_template *t = NULL;
		char why[1024];
		int stop;

		if (load_checked(l.v[i].path, &t) == SP_OK) {
			stop = cb(t, l.v[i].path, NULL, arg);
		} else {
			/* A copy: the callback may itself fail and overwrite
			 * the thread's last error. */
			snprintf(why, sizeof why, "%s", sp_last_error());
			stop = cb(NULL, l.v[i].path, why, arg);
		}
		sp_template_free(t);
		if (stop)
			break;
	}
	err = SP_OK;
out:
	free(l.v);
	return err;
}
