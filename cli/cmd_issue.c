/*
 * cmd_issue.c - `sitepki issue`: one CSR, or a batch (a directory or a list
 * file of CSRs) in one process.
 *
 * Durability: a certificate leaves the process (stdout or a file) only after
 * the transaction that records it has committed. A batch commits every
 * --commit-every certificates (group commit) and then writes that chunk's
 * files; a crash at any point leaves only files whose certificates are in
 * the store.
 */
#define _GNU_SOURCE /* syncfs */
#include "cli/cli.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLI_DNS 32
#define MAX_BATCH (1000 * 1000)

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR issue --template T --csr FILE [options]\n"
		"       sitepki --home DIR issue --template T --batch DIR|LIST --out-dir DIR [options]\n"
		"Check a PKCS#10 request against the template and the single-byte name rule,\n"
		"sign it, record it durably, then write it out.\n\n"
		"  --template T       template name (sitepki template list)\n"
		"  --csr FILE         the request, PEM or DER\n"
		"  --dns NAME         add a dNSName (repeatable), if the template takes names from the command line\n"
		"  --upn USER@DOMAIN  add a UPN, if the template takes it from the command line\n"
		"  --site-code SC     site code for site-server-signing (default: the CA's)\n"
		"  --out FILE         write the certificate here (default: standard output)\n"
		"  --chain            append the CA certificate and the issuers above it\n"
		"  --der              write DER instead of PEM (not with --chain)\n"
		"  --batch DIR|LIST   every *.csr/*.pem/*.der file in DIR, or the paths listed in LIST\n"
		"  --out-dir DIR      batch: write <name>.pem for each request here\n"
		"  --commit-every N   batch: certificates per durable commit (default 1000)\n"
		"  --pass-file F | --pass-env VAR   the CA key passphrase (or $SITEPKI_PASS_FILE)\n");
}

typedef struct {
	const char *template_name, *csr, *batch, *out, *out_dir, *pass_file, *pass_env;
	int chain, der, commit_every;
	sp_issue_opts io;
	const char *dns[MAX_CLI_DNS];
} issue_args;

/* The caller names the file in its message (a batch prints "FILE: why"). */
static sp_err read_csr(const char *path, X509_REQ **req)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sp_err rc = sp_file_read(path, SP_MAX_CSR_BYTES, &data, &len);
	if (rc == SP_OK)
		rc = sp_req_parse(data, len, req);
	free(data);
	return rc;
}

static int issue_one(sp_ca *ca, const sp_template *t, issue_args *a)
{
	X509_REQ *req = NULL;
	X509 *x = NULL;
	char *pem = NULL, serial[41] = "";
	unsigned char *der = NULL;
	size_t len = 0;
	int der_len;
	sp_err rc;

	if ((rc = read_csr(a->csr, &req)) != SP_OK) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", sp_last_error());
		if (!strstr(msg, a->csr)) /* file errors name it already */
			sp_fail(rc, "%s: %s", a->csr, msg);
		goto out;
	}
	if ((rc = sp_issue(ca, t, req, &a->io, &x)) != SP_OK)
		goto out;
	/* recorded and committed: now it may leave the process */
	if ((rc = sp_serial_hex(X509_get0_serialNumber(x), serial, sizeof serial)) != SP_OK)
		goto out;
	if (a->der) {
		if ((der_len = i2d_X509(x, &der)) <= 0) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "DER encoding");
			goto out;
		}
		rc = cli_write_out(a->out, der, (size_t)der_len, 0644);
	} else if ((rc = sp_ca_chain_pem(ca, x, a->chain, &pem, &len)) == SP_OK) {
		rc = cli_write_out(a->out, pem, len, 0644);
	}
	if (rc == SP_OK)
		fprintf(stderr, "issued %s serial %s%s%s\n", t->name, serial, a->out ? " to " : "",
			a->out ? a->out : "");
out:
	X509_REQ_free(req);
	X509_free(x);
	free(pem);
	OPENSSL_free(der);
	return rc == SP_OK ? 0 : cli_fail(rc);
}

/* ------------------------------------------------------------- batch */

typedef struct {
	char **paths;
	size_t n, cap;
} path_list;

static void paths_free(path_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
}

static sp_err paths_add(path_list *l, const char *p)
{
	if (l->n >= MAX_BATCH)
		return sp_fail(SP_ERR_INPUT, "a batch holds at most %d requests", MAX_BATCH);
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 256;
		char **np = realloc(l->paths, ncap * sizeof *np);
		if (!np)
			return sp_fail(SP_ERR_NOMEM, "out of memory");
		l->paths = np;
		l->cap = ncap;
	}
	if (!(l->paths[l->n] = strdup(p)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	l->n++;
	return SP_OK;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && !strcmp(s + n - m, suf);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static sp_err batch_paths(const char *src, path_list *l)
{
	DIR *d = opendir(src);
	char path[4096];
	sp_err rc = SP_OK;

	if (d) {
		struct dirent *e;
		while (rc == SP_OK && (e = readdir(d)))
			if (has_suffix(e->d_name, ".csr") || has_suffix(e->d_name, ".pem") || has_suffix(e->d_name, ".der"))
				if ((rc = sp_path_join(path, sizeof path, src, e->d_name)) == SP_OK)
					rc = paths_add(l, path);
		closedir(d);
	} else {
		uint8_t *data = NULL;
		size_t len = 0;
		char *line, *save = NULL;
		if ((rc = sp_file_read(src, 64u * 1024 * 1024, &data, &len)) != SP_OK)
			return rc;
		for (line = strtok_r((char *)data, "\r\n", &save); rc == SP_OK && line; line = strtok_r(NULL, "\r\n", &save))
			if (line[0] && line[0] != '#')
				rc = paths_add(l, line);
		free(data);
	}
	if (rc == SP_OK && l->n == 0)
		rc = sp_fail(SP_ERR_INPUT, "%s: no requests (*.csr, *.pem, *.der) found", src);
	if (rc == SP_OK)
		qsort(l->paths, l->n, sizeof *l->paths, cmp_str);
	return rc;
}

static sp_err out_path(const char *out_dir, const char *csr_path, char *out, size_t outsz);

/* Two requests whose output files would have the same name ("a.csr" and
 * "a.der"): refuse the batch before issuing anything, rather than let one
 * certificate's file overwrite another's. */
static sp_err check_out_names(const char *out_dir, const path_list *l)
{
	char **names = calloc(l->n ? l->n : 1, sizeof *names);
	char path[4096];
	sp_err rc = SP_OK;
	if (!names)
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	for (size_t i = 0; rc == SP_OK && i < l->n; i++)
		if ((rc = out_path(out_dir, l->paths[i], path, sizeof path)) == SP_OK && !(names[i] = strdup(path)))
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
	if (rc == SP_OK) {
		qsort(names, l->n, sizeof *names, cmp_str);
		for (size_t i = 1; i < l->n; i++)
			if (!strcmp(names[i - 1], names[i])) {
				rc = sp_fail(SP_ERR_INPUT, "two requests in the batch would both be written to %s; rename one",
					     names[i]);
				break;
			}
	}
	for (size_t i = 0; i < l->n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* A batch killed mid-write leaves "<name>.pem.tmpXXXXXX" behind
 * (sp_file_write_atomic's temporary); the next batch into the same directory
 * removes them. Their certificates are in the store either way. */
static void remove_stale_temps(const char *out_dir)
{
	DIR *d = opendir(out_dir);
	struct dirent *e;
	char path[4096];
	if (!d)
		return;
	while ((e = readdir(d))) {
		const char *t = strstr(e->d_name, ".pem.tmp");
		if (t && strlen(t) == strlen(".pem.tmp") + 6 && sp_path_join(path, sizeof path, out_dir, e->d_name) == SP_OK &&
		    unlink(path) == 0)
			fprintf(stderr, "sitepki: removed %s, left by an interrupted batch\n", path);
	}
	closedir(d);
}

/* "dir/host1.csr" -> "<out_dir>/host1.pem" */
static sp_err out_path(const char *out_dir, const char *csr_path, char *out, size_t outsz)
{
	const char *base = strrchr(csr_path, '/');
	char stem[1024];
	char *dot;
	snprintf(stem, sizeof stem, "%s", base ? base + 1 : csr_path);
	if ((dot = strrchr(stem, '.')))
		*dot = '\0';
	if (snprintf(out, outsz, "%s/%s.pem", out_dir, stem) >= (int)outsz)
		return sp_fail(SP_ERR_INPUT, "output path too long for %s", csr_path);
	return SP_OK;
}

/*
 * The batch pipeline: worker threads read, parse, check and sign requests
 * (sp_issue_prepare: CPU only, no store), the main thread records them in
 * order, commits every --commit-every certificates and then writes that
 * chunk's files. Workers run at most `window` requests ahead of the main
 * thread, so memory stays flat whatever the batch size. Parsing a CSR in
 * OpenSSL 3.0 costs more than signing (its key decoder setup), which is why
 * the CPU phase is spread over the cores.
 */
typedef struct {
	int done;
	sp_err rc;
	char error[512];
	X509_REQ *req;
	sp_prepared *prep;
} slot;

typedef struct {
	sp_ca *ca;
	const sp_template *t;
	const issue_args *a;
	const path_list *l;
	slot *slots;
	size_t window, next, consumed;
	int stop;
	pthread_mutex_t mu;
	pthread_cond_t slot_done, slot_free;
} pipeline;

static void *worker(void *arg)
{
	pipeline *pl = arg;
	for (;;) {
		size_t i;
		slot *s;
		X509_REQ *req = NULL;
		sp_prepared *prep = NULL;
		sp_err rc;

		pthread_mutex_lock(&pl->mu);
		while (!pl->stop && pl->next < pl->l->n && pl->next >= pl->consumed + pl->window)
			pthread_cond_wait(&pl->slot_free, &pl->mu);
		if (pl->stop || pl->next >= pl->l->n) {
			pthread_mutex_unlock(&pl->mu);
			return NULL;
		}
		i = pl->next++;
		pthread_mutex_unlock(&pl->mu);

		rc = read_csr(pl->l->paths[i], &req);
		if (rc == SP_OK)
			rc = sp_issue_prepare(pl->ca, pl->t, req, &pl->a->io, &prep);

		pthread_mutex_lock(&pl->mu);
		s = &pl->slots[i % pl->window];
		s->rc = rc;
		s->req = req;
		s->prep = prep;
		if (rc != SP_OK)
			snprintf(s->error, sizeof s->error, "%s", sp_last_error());
		s->done = 1;
		pthread_cond_broadcast(&pl->slot_done);
		pthread_mutex_unlock(&pl->mu);
	}
}

typedef struct {
	X509 *cert;
	size_t src; /* index into the path list */
} pending;

static sp_err flush_chunk(sp_ca *ca, const issue_args *a, const path_list *l, pending *p, size_t n)
{
	sp_err rc = sp_store_commit(sp_ca_get0_store(ca));
	if (rc != SP_OK) {
		sp_store_rollback(sp_ca_get0_store(ca));
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		char path[4096], *pem = NULL;
		size_t len = 0;
		if ((rc = out_path(a->out_dir, l->paths[p[i].src], path, sizeof path)) != SP_OK ||
		    (rc = sp_ca_chain_pem(ca, p[i].cert, a->chain, &pem, &len)) != SP_OK)
			return rc;
		/* No fsync per file: the store already holds every certificate
		 * durably; one syncfs() at the end flushes the files. */
		rc = sp_file_write_atomic(path, pem, len, 0644, 0);
		free(pem);
		if (rc != SP_OK)
			return rc;
	}
	return SP_OK;
}

static void free_pending(pending *p, size_t *n)
{
	for (size_t j = 0; j < *n; j++)
		X509_free(p[j].cert);
	*n = 0;
}

static int worker_count(void)
{
	const char *env = getenv("SITEPKI_THREADS");
	long n = env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 16 ? 16 : (int)n;
}

static int issue_batch(sp_ca *ca, const sp_template *t, issue_args *a)
{
	path_list l = {0};
	pipeline pl;
	pthread_t threads[16];
	pending *chunk = NULL;
	size_t n_chunk = 0, issued = 0, refused = 0;
	struct timespec t0, t1;
	int n_threads = 0, in_txn = 0, ret = 0;
	sp_err rc;

	memset(&pl, 0, sizeof pl);
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.slot_done, NULL);
	pthread_cond_init(&pl.slot_free, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = sp_dir_ensure(a->out_dir, 0755)) != SP_OK || (rc = batch_paths(a->batch, &l)) != SP_OK ||
	    (rc = check_out_names(a->out_dir, &l)) != SP_OK) {
		ret = cli_fail(rc);
		goto out;
	}
	remove_stale_temps(a->out_dir);
	pl.ca = ca;
	pl.t = t;
	pl.a = a;
	pl.l = &l;
	pl.window = (size_t)a->commit_every * 2 < 256 ? 256 : (size_t)a->commit_every * 2;
	if (!(pl.slots = calloc(pl.window, sizeof *pl.slots)) || !(chunk = calloc((size_t)a->commit_every, sizeof *chunk))) {
		ret = cli_fail(sp_fail(SP_ERR_NOMEM, "out of memory"));
		goto out;
	}
	for (int i = worker_count(); n_threads < i; n_threads++)
		if (pthread_create(&threads[n_threads], NULL, worker, &pl) != 0)
			break;
	if (n_threads == 0) {
		ret = cli_fail(sp_fail(SP_ERR_INTERNAL, "cannot start a worker thread"));
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		slot s;
		X509 *x = NULL;

		pthread_mutex_lock(&pl.mu);
		while (!pl.slots[i % pl.window].done)
			pthread_cond_wait(&pl.slot_done, &pl.mu);
		s = pl.slots[i % pl.window];
		memset(&pl.slots[i % pl.window], 0, sizeof(slot));
		pl.consumed = i + 1;
		pthread_cond_broadcast(&pl.slot_free);
		pthread_mutex_unlock(&pl.mu);

		if (s.rc != SP_OK) {
			/* a refused request leaves nothing behind; go on */
			if (strstr(s.error, l.paths[i])) /* file errors name it already */
				fprintf(stderr, "sitepki: %s\n", s.error);
			else
				fprintf(stderr, "sitepki: %s: %s\n", l.paths[i], s.error);
			refused++;
			X509_REQ_free(s.req);
			continue;
		}
		if (!in_txn) {
			if ((rc = sp_store_begin(sp_ca_get0_store(ca))) != SP_OK) {
				sp_prepared_free(s.prep);
				X509_REQ_free(s.req);
				ret = cli_fail(rc);
				goto out;
			}
			in_txn = 1;
		}
		rc = sp_issue_record(ca, s.prep, &x);
		sp_prepared_free(s.prep);
		X509_REQ_free(s.req);
		if (rc != SP_OK) {
			/* the store itself failed: nothing of this chunk stands */
			ret = cli_fail(rc);
			goto out;
		}
		chunk[n_chunk].cert = x;
		chunk[n_chunk].src = i;
		n_chunk++;
		if (n_chunk == (size_t)a->commit_every) {
			in_txn = 0;
			issued += n_chunk;
			rc = flush_chunk(ca, a, &l, chunk, n_chunk);
			free_pending(chunk, &n_chunk);
			if (rc != SP_OK) {
				ret = cli_fail(rc);
				goto out;
			}
		}
	}
	if (in_txn) {
		in_txn = 0;
		issued += n_chunk;
		rc = flush_chunk(ca, a, &l, chunk, n_chunk);
		free_pending(chunk, &n_chunk);
		if (rc != SP_OK) {
			ret = cli_fail(rc);
			goto out;
		}
	}
	{
		int fd = open(a->out_dir, O_RDONLY | O_DIRECTORY);
		if (fd >= 0) {
			if (syncfs(fd) != 0)
				fprintf(stderr, "sitepki: warning: syncfs %s failed\n", a->out_dir);
			close(fd);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		fprintf(stderr, "batch: %zu issued, %zu refused, %.3f s (%.1f certificates/s, %d threads)\n", issued,
			refused, secs, secs > 0 ? (double)issued / secs : 0.0, n_threads);
	}
	ret = refused ? SP_ERR_POLICY : 0;
out:
	if (in_txn)
		sp_store_rollback(sp_ca_get0_store(ca));
	free_pending(chunk, &n_chunk);
	pthread_mutex_lock(&pl.mu);
	pl.stop = 1;
	pthread_cond_broadcast(&pl.slot_free);
	pthread_mutex_unlock(&pl.mu);
	for (int i = 0; i < n_threads; i++)
		pthread_join(threads[i], NULL);
	for (size_t i = 0; pl.slots && i < pl.window; i++) {
		sp_prepared_free(pl.slots[i].prep);
		X509_REQ_free(pl.slots[i].req);
	}
	free(pl.slots);
	free(chunk);
	paths_free(&l);
	pthread_cond_destroy(&pl.slot_done);
	pthread_cond_destroy(&pl.slot_free);
	pthread_mutex_destroy(&pl.mu);
	return ret;
}

int cmd_issue(const cli_ctx *ctx, int argc, char **argv)
{
	enum { O_TPL = 1, O_CSR, O_DNS, O_UPN, O_SITE, O_OUT, O_CHAIN, O_DER, O_BATCH, O_OUTDIR, O_EVERY };
	static const struct option opts[] = {
		{"template", required_argument, NULL, O_TPL},
		{"csr", required_argument, NULL, O_CSR},
		{"dns", required_argument, NULL, O_DNS},
		{"upn", required_argument, NULL, O_UPN},
		{"site-code", required_argument, NULL, O_SITE},
		{"out", required_argument, NULL, O_OUT},
		{"chain", no_argument, NULL, O_CHAIN},
		{"der", no_argument, NULL, O_DER},
		{"batch", required_argument, NULL, O_BATCH},
		{"out-dir", required_argument, NULL, O_OUTDIR},
		{"commit-every", required_argument, NULL, O_EVERY},
		{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
		{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	issue_args a;
	sp_template *t = NULL;
	sp_ca *ca = NULL;
	sp_err rc;
	int c, ret;

	memset(&a, 0, sizeof a);
	a.commit_every = 1000;
	a.io.dns = a.dns;
	a.io.requester = cli_actor();
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_TPL: a.template_name = optarg; break;
		case O_CSR: a.csr = optarg; break;
		case O_DNS:
			if (a.io.n_dns >= MAX_CLI_DNS)
				return cli_usage("issue", "at most %d --dns names", MAX_CLI_DNS);
			a.dns[a.io.n_dns++] = optarg;
			break;
		case O_UPN: a.io.upn = optarg; break;
		case O_SITE: a.io.site_code = optarg; break;
		case O_OUT: a.out = optarg; break;
		case O_CHAIN: a.chain = 1; break;
		case O_DER: a.der = 1; break;
		case O_BATCH: a.batch = optarg; break;
		case O_OUTDIR: a.out_dir = optarg; break;
		case O_EVERY: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000)
				return cli_usage("issue", "--commit-every must be 1 to 100000");
			a.commit_every = (int)v;
			break;
		}
		case CLI_OPT_PASS_FILE: a.pass_file = optarg; break;
		case CLI_OPT_PASS_ENV: a.pass_env = optarg; break;
		case 'h': help(stdout); return 0;
		default: return cli_usage("issue", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("issue", "unexpected argument '%s'", argv[optind]);
	if (!a.template_name)
		return cli_usage("issue", "--template is required");
	if (!!a.csr == !!a.batch)
		return cli_usage("issue", "give exactly one of --csr and --batch");
	if (a.batch && (!a.out_dir || a.out || a.der))
		return cli_usage("issue", "--batch needs --out-dir and takes neither --out nor --der");
	if (a.der && a.chain)
		return cli_usage("issue", "DER holds one certificate: use PEM with --chain");
	/* Template before key: a typo should not cost a passphrase prompt. */
	if ((rc = sp_template_find(ctx->home, a.template_name, &t)) != SP_OK)
		return cli_fail(rc);
	if ((rc = cli_open_ca(ctx, 1, a.pass_file, a.pass_env, &ca)) != SP_OK) {
		sp_template_free(t);
		return cli_fail(rc);
	}
	ret = a.batch ? issue_batch(ca, t, &a) : issue_one(ca, t, &a);
	sp_ca_close(ca);
	sp_template_free(t);
	return ret;
}
