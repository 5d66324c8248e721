/*
 * signer_driver.c - bench/est.sh's in-process timer for the signer's own work
 * at one client: each CSR is parsed, prepared (checks, build, sign), recorded
 * and committed in its own transaction, as the enrollment signer does when
 * requests come one at a time, but with no network, no service and no IPC.
 * Built by bench/est.sh against the Release libraries in build-bench/; not
 * part of the product. It writes into HOME's store: give it a copy.
 *
 *   signer_driver HOME PASSFILE TEMPLATE CSR_DIR N
 *     CSR_DIR/1.csr .. CSR_DIR/N.csr (PEM or DER)
 * prints:  prepare_us: <us> record_us: <us> commit_us: <us> cpu_us: <us>
 *   per certificate: sp_req_parse + sp_issue_prepare; sp_issue_record (the
 *   certificate, request and audit rows); sp_store_commit (durable; SQLite's
 *   own checkpoints included, where the signer runs them on a thread beside);
 *   the process's CPU time.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ca/ca.h"
#include "common/common.h"
#include "store/store.h"
#include "templates/templates.h"

#define MAX_CSR 16384

static double mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static double cpu_us(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)(r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e6 + (double)(r.ru_utime.tv_usec + r.ru_stime.tv_usec);
}

/* Read CSR_DIR/<i>.csr into buf; its length, or 0 on any failure. */
static size_t read_csr(const char *dir, long i, uint8_t *buf)
{
	char path[4096];
	FILE *f;
	size_t n;

	if (snprintf(path, sizeof path, "%s/%ld.csr", dir, i) >= (int)sizeof path || !(f = fopen(path, "rb")))
		return 0;
	n = fread(buf, 1, MAX_CSR, f);
	if (ferror(f) || !feof(f))
		n = 0; /* unreadable or longer than MAX_CSR */
	fclose(f);
	return n;
}

int main(int argc, char **argv)
{
	sp_secret pass = {0};
	sp_ca *ca = NULL;
	sp_template_cache *tc = NULL;
	const sp_template *t;
	sp_store *st;
	uint8_t **csr = NULL;
	size_t *len = NULL;
	double prep = 0, rec = 0, com = 0, c0;
	long n, i;
	sp_err rc = SP_ERR_INPUT;

	if (argc != 6 || (n = strtol(argv[5], NULL, 10)) < 1) {
		fprintf(stderr, "usage: signer_driver HOME PASSFILE TEMPLATE CSR_DIR N\n");
		return 2;
	}
	if (!(csr = calloc((size_t)n, sizeof *csr)) || !(len = calloc((size_t)n, sizeof *len))) {
		fprintf(stderr, "signer_driver: out of memory\n");
		return 1;
	}
	/* every CSR in memory first: the timing is not the file system's */
	for (i = 0; i < n; i++)
		if (!(csr[i] = malloc(MAX_CSR)) || !(len[i] = read_csr(argv[4], i + 1, csr[i]))) {
			fprintf(stderr, "signer_driver: cannot read %s/%ld.csr\n", argv[4], i + 1);
			goto out;
		}
	if ((rc = sp_secret_from_file(argv[2], &pass)) != SP_OK || (rc = sp_ca_open(argv[1], &pass, &ca)) != SP_OK)
		goto fail;
	sp_secret_wipe(&pass);
	if (!(tc = sp_template_cache_new(argv[1]))) {
		fprintf(stderr, "signer_driver: out of memory\n");
		rc = SP_ERR_NOMEM;
		goto out;
	}
	if ((rc = sp_template_cache_get(tc, argv[3], &t)) != SP_OK)
		goto fail;
	st = sp_ca_get0_store(ca);
	c0 = cpu_us();
	for (i = 0; i < n; i++) {
		X509_REQ *req = NULL;
		sp_prepared *p = NULL;
		X509 *x = NULL;
		sp_issue_opts o;
		double a, b, c, d;

		memset(&o, 0, sizeof o);
		o.requester = "bench";
		a = mono_us();
		if ((rc = sp_req_parse(csr[i], len[i], &req)) != SP_OK || (rc = sp_issue_prepare(ca, t, req, &o, &p)) != SP_OK) {
			X509_REQ_free(req);
			goto fail;
		}
		b = mono_us();
		if ((rc = sp_store_begin(st)) == SP_OK && (rc = sp_issue_record(ca, p, &x)) != SP_OK)
			sp_store_rollback(st);
		c = mono_us();
		if (rc == SP_OK)
			rc = sp_store_commit(st);
		d = mono_us();
		X509_free(x);
		sp_prepared_free(p);
		X509_REQ_free(req);
		if (rc != SP_OK)
			goto fail;
		prep += b - a;
		rec += c - b;
		com += d - c;
	}
	printf("prepare_us: %.1f record_us: %.1f commit_us: %.1f cpu_us: %.1f\n", prep / n, rec / n, com / n,
	       (cpu_us() - c0) / n);
	rc = SP_OK;
	goto out;
fail:
	fprintf(stderr, "signer_driver: %s\n", sp_last_error());
out:
	sp_template_cache_free(tc);
	sp_ca_close(ca);
	sp_secret_wipe(&pass);
	for (i = 0; csr && i < n; i++)
		free(csr[i]);
	free(csr);
	free(len);
	return rc == SP_OK ? 0 : 1;
}
