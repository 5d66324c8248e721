/* unit_main.c - runs the suites a test program declares (see unit.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "unit.h"

#include <CUnit/Basic.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TMPDIRS 64
static char *tmpdirs[MAX_TMPDIRS];
static int n_tmpdirs;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup_tmpdirs(void)
{
	for (int i = 0; i < n_tmpdirs; i++) {
		nftw(tmpdirs[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(tmpdirs[i]);
	}
}

const char *sp_unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	snprintf(tmpl, sizeof tmpl, "%s/sitepki-unit.XXXXXX", base && *base ? base : "/tmp");
	if (n_tmpdirs >= MAX_TMPDIRS || !mkdtemp(tmpl)) {
		fprintf(stderr, "unit: cannot make a temporary directory\n");
		exit(2);
	}
	tmpdirs[n_tmpdirs] = strdup(tmpl);
	return tmpdirs[n_tmpdirs++];
}

const char *sp_unit_data(const char *rel)
{
	static char buf[8][4096];
	static int next;
	char *b = buf[next++ % 8];
	snprintf(b, sizeof buf[0], "%s/%s", SITEPKI_TEST_DATA, rel);
	return b;
}

int main(void)
{
	atexit(cleanup_tmpdirs);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (const sp_unit_suite *s = sp_unit_suites; s->name; s++) {
		CU_pSuite suite = CU_add_suite(s->name, NULL, NULL);
		if (!suite)
			return 2;
		for (const sp_unit_test *t = s->tests; t->name; t++)
			if (!CU_add_test(suite, t->name, t->fn))
				return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	unsigned run = CU_get_number_of_tests_run();
	CU_cleanup_registry();
	if (run == 0) {
		fprintf(stderr, "unit: no test ran\n");
		return 1;
	}
	return failed ? 1 : 0;
}
