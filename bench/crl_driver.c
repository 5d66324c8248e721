/*
 * crl_driver.c - bench/crl.sh's in-process timer: sp_crl_publish alone,
 * without process start and the CA key unlock (PBKDF2, ~0.5 s) that
 * `sitepki crl publish` pays before it starts. Built by bench/crl.sh against
 * the Release libraries in build-bench/; not part of the product.
 *
 *   crl_driver HOME PASSFILE full|delta
 * prints:  open_s: <s>  publish_s: <s>  entries: <n>  number: <n>  bytes: <DER size>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca.h"
#include "revocation/revocation.h"

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	sp_secret pass = {0};
	sp_ca *ca = NULL;
	sp_crl_info info;
	sp_crl_row row;
	double t0, t1, t2;
	sp_err rc;

	if (argc != 4 || (strcmp(argv[3], "full") && strcmp(argv[3], "delta"))) {
		fprintf(stderr, "usage: crl_driver HOME PASSFILE full|delta\n");
		return 2;
	}
	if ((rc = sp_secret_from_file(argv[2], &pass)) != SP_OK)
		goto fail;
	t0 = mono();
	if ((rc = sp_ca_open(argv[1], &pass, &ca)) != SP_OK)
		goto fail;
	t1 = mono();
	if ((rc = sp_crl_publish(ca, !strcmp(argv[3], "delta"), (int64_t)time(NULL), "bench", &info)) != SP_OK)
		goto fail;
	t2 = mono();
	memset(&row, 0, sizeof row);
	if ((rc = sp_store_crl_get(sp_ca_get0_store(ca), info.number, &row)) != SP_OK)
		goto fail;
	printf("open_s: %.3f publish_s: %.3f entries: %lld number: %lld bytes: %zu\n", t1 - t0, t2 - t1,
	       (long long)info.entries, (long long)info.number, row.der_len);
	sp_crl_row_clear(&row);
	sp_ca_close(ca);
	sp_secret_wipe(&pass);
	return 0;
fail:
	fprintf(stderr, "crl_driver: %s\n", sp_last_error());
	sp_ca_close(ca);
	sp_secret_wipe(&pass);
	return (int)rc;
}
