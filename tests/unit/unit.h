/*
 * unit.h - the tiny harness shared by the CUnit test programs.
 *
 * Each tests/unit/test_<module>.c defines `const sp_unit_suite sp_unit_suites[]`
 * terminated by {NULL}; unit_main.c registers and runs them and exits non-zero
 * on any failure. Helpers for temporary directories live here too.
 */
#ifndef SITEPKI_TEST_UNIT_H
#define SITEPKI_TEST_UNIT_H

#include <CUnit/CUnit.h>

typedef struct {
	const char *name;
	void (*fn)(void);
} sp_unit_test;

typedef struct {
	const char *name;
	const sp_unit_test *tests; /* terminated by {NULL, NULL} */
} sp_unit_suite;

extern const sp_unit_suite sp_unit_suites[]; /* terminated by {NULL, NULL} */

/* A fresh private temporary directory (mkdtemp under $TMPDIR or /tmp), removed
 * with everything in it when the program exits. Returns a static copy per call
 * (malloc'd, kept until exit). */
const char *sp_unit_tmpdir(void);

/* Path of a fixture under tests/data. Returns a static buffer per call. */
const char *sp_unit_data(const char *rel);

#endif
