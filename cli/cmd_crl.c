/* cmd_crl.c - `sitepki crl publish|show|check|schedule`. */
#include "cli/cli.h"
#include "revocation/revocation.h"

#include <getopt.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR crl publish [--delta] [--pass-file F | --pass-env VAR]\n"
		"       sitepki --home DIR crl show [--number N] [--der]\n"
		"       sitepki [--home DIR] crl check CERT [--crl FILE [--delta-crl FILE] --issuer FILE] [--at TIME]\n"
		"       sitepki --home DIR crl schedule [--once] [--pass-file F | --pass-env VAR]\n"
		"publish: sign a full (or delta) CRL, record it, write it to <home>/publish/ under the\n"
		"  names the CDP URLs point to (DER, and PEM beside it), and republish the CA certificate.\n"
		"show: the newest CRL (or number N) as text, or its DER with --der.\n"
		"check: is CERT revoked according to the newest CRL of this home (or the given files)?\n"
		"  Exit 0: not revoked; 6: revoked or on hold; other codes: the check itself failed.\n"
		"schedule: republish whenever half of a CRL's lifetime has passed (full and, when\n"
		"  enabled, delta); --once does one round for cron or a systemd timer (docs/crl.md).\n");
}

static int publish(sp_ca *ca, int delta)
{
	sp_crl_info info;
	char tu[32], nu[32];
	sp_err rc = sp_crl_publish(ca, delta, (int64_t)time(NULL), cli_actor(), &info);
	if (rc != SP_OK)
		return cli_fail(rc);
	sp_time_iso(info.this_update, tu, sizeof tu);
	sp_time_iso(info.next_update, nu, sizeof nu);
	fprintf(stderr, "published %s CRL number %lld with %lld entries (%s, next update %s) at %s/publish/%s\n",
		info.delta ? "delta" : "full", (long long)info.number, (long long)info.entries, tu, nu,
		sp_ca_get0_home(ca), info.delta ? sp_ca_delta_crl_file(ca) : sp_ca_crl_file(ca));
	return 0;
}

static sp_err read_crl(const char *path, X509_CRL **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	const unsigned char *p;
	sp_err rc = sp_file_read(path, 512u * 1024 * 1024, &data, &len);
	*out = NULL;
	if (rc != SP_OK)
		return rc;
	if (len > 11 && !memcmp(data, "-----BEGIN ", 11)) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		*out = b ? PEM_read_bio_X509_CRL(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	} else {
		p = data;
		*out = d2i_X509_CRL(NULL, &p, (long)len);
		if (*out && p != data + len) {
			X509_CRL_free(*out);
			*out = NULL;
		}
	}
	free(data);
	if (!*out)
		return sp_fail_ossl(SP_ERR_INPUT, "%s is not a CRL (PEM or DER, nothing after it)", path);
	return SP_OK;
}

static int check(const cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"crl", required_argument, NULL, 'c'},
		{"delta-crl", required_argument, NULL, 'd'},
		{"issuer", required_argument, NULL, 'i'},
		{"at", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	const char *crl_path = NULL, *delta_path = NULL, *issuer_path = NULL;
	int64_t at = (int64_t)time(NULL);
	X509_CRL *crl = NULL, *delta = NULL;
	X509 *cert = NULL, *issuer = NULL;
	sp_ca *ca = NULL;
	sp_crl_status st;
	int c, ret;
	sp_err rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': crl_path = optarg; break;
		case 'd': delta_path = optarg; break;
		case 'i': issuer_path = optarg; break;
		case 'a':
			if ((rc = cli_parse_time(optarg, &at)) != SP_OK)
				return cli_fail(rc);
			break;
		default: return cli_usage("crl check", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("crl check", "expected one CERT file");
	if (!!crl_path != !!issuer_path || (delta_path && !crl_path))
		return cli_usage("crl check", "--crl and --issuer go together (and --delta-crl needs them)");
	if ((rc = cli_read_cert(argv[optind], &cert)) != SP_OK)
		goto fail;
	if (crl_path) {
		if ((rc = read_crl(crl_path, &crl)) != SP_OK || (delta_path && (rc = read_crl(delta_path, &delta)) != SP_OK) ||
		    (rc = cli_read_cert(issuer_path, &issuer)) != SP_OK)
			goto fail;
	} else {
		if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK || (rc = sp_crl_latest(ca, &crl, &delta)) != SP_OK)
			goto fail;
		if (!(issuer = X509_dup(sp_ca_get0_cert(ca)))) {
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto fail;
		}
	}
	memset(&st, 0, sizeof st);
	if ((rc = sp_crl_check_cert(crl, delta, issuer, cert, at, &st)) != SP_OK)
		goto fail;
	if (st.revoked) {
		char t[32];
		sp_time_iso(st.revoked_at, t, sizeof t);
		printf("revoked: %s since %s (CRL number %lld)\n", sp_reason_name(st.reason), t, (long long)st.crl_number);
		ret = SP_ERR_POLICY;
	} else {
		printf("not revoked (CRL number %lld)\n", (long long)st.crl_number);
		ret = 0;
	}
	goto out;
fail:
	ret = cli_fail(rc);
out:
	X509_CRL_free(crl);
	X509_CRL_free(delta);
	X509_free(cert);
	X509_free(issuer);
	sp_ca_close(ca);
	return ret;
}

static int show(sp_ca *ca, int argc, char **argv)
{
	static const struct option opts[] = {
		{"number", required_argument, NULL, 'n'},
		{"der", no_argument, NULL, 'd'},
		{NULL, 0, NULL, 0},
	};
	long long number = -1;
	int der = 0, c, ret = 0;
	sp_crl_row row;
	X509_CRL *crl = NULL;
	const unsigned char *p;
	sp_err rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': {
			char *end;
			number = strtoll(optarg, &end, 10);
			if (*end || number < 1)
				return cli_usage("crl show", "--number must be a positive number");
			break;
		}
		case 'd': der = 1; break;
		default: return cli_usage("crl show", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("crl show", "unexpected argument '%s'", argv[optind]);
	memset(&row, 0, sizeof row);
	rc = number > 0 ? sp_store_crl_get(sp_ca_get0_store(ca), number, &row)
			: sp_store_crl_last(sp_ca_get0_store(ca), -1, 1, &row);
	if (rc == SP_ERR_NOTFOUND && number > 0)
		rc = sp_fail(SP_ERR_NOTFOUND, "no CRL number %lld", number);
	else if (rc == SP_ERR_NOTFOUND)
		rc = sp_fail(SP_ERR_NOTFOUND, "no CRL published yet: sitepki crl publish");
	if (rc != SP_OK)
		return cli_fail(rc);
	if (der) {
		rc = cli_write_out(NULL, row.der, row.der_len, 0644);
		ret = rc == SP_OK ? 0 : cli_fail(rc);
	} else {
		char tu[32], nu[32];
		BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
		sp_time_iso(row.this_update, tu, sizeof tu);
		sp_time_iso(row.next_update, nu, sizeof nu);
		printf("number:      %lld (%s)\nthis update: %s\nnext update: %s\nentries:     %lld\n",
		       (long long)row.number, row.delta ? "delta" : "full", tu, nu, (long long)row.entries);
		if (row.delta)
			printf("base:        %lld\n", (long long)row.base_number);
		p = row.der;
		if (b && (crl = d2i_X509_CRL(NULL, &p, (long)row.der_len)))
			X509_CRL_print_ex(b, crl, XN_FLAG_RFC2253);
		BIO_free(b);
		X509_CRL_free(crl);
	}
	sp_crl_row_clear(&row);
	return ret;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Republish when half of the CRL's lifetime has passed, so a relying party
 * that caches the CRL until nextUpdate always finds a fresher one. */
static int due(sp_ca *ca, int delta, int64_t now)
{
	sp_crl_row row;
	int d;
	memset(&row, 0, sizeof row);
	if (sp_store_crl_last(sp_ca_get0_store(ca), delta, 0, &row) != SP_OK)
		return 1;
	d = now >= row.this_update + (row.next_update - row.this_update) / 2;
	sp_crl_row_clear(&row);
	return d;
}

static int schedule(sp_ca *ca, int once)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	do {
		int64_t now = (int64_t)time(NULL);
		int ret;
		if (due(ca, 0, now) && (ret = publish(ca, 0)) != 0)
			return ret;
		if (sp_ca_get0_crl_policy(ca)->delta_enabled && due(ca, 1, (int64_t)time(NULL)) && (ret = publish(ca, 1)) != 0)
			return ret;
		for (int i = 0; !once && !stop && i < 60; i++)
			sleep(1);
	} while (!once && !stop);
	return 0;
}

int cmd_crl(const cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"delta", no_argument, NULL, 'd'},
		{"once", no_argument, NULL, 'o'},
		{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
		{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
		{NULL, 0, NULL, 0},
	};
	const char *pf = NULL, *pe = NULL;
	int delta = 0, once = 0, c, ret;
	sp_ca *ca = NULL;
	sp_err rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if (!strcmp(argv[1], "check"))
		return check(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "show")) {
		if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
			return cli_fail(rc);
		ret = show(ca, argc - 1, argv + 1);
		sp_ca_close(ca);
		return ret;
	}
	if (strcmp(argv[1], "publish") && strcmp(argv[1], "schedule"))
		return cli_usage("crl", "unknown subcommand '%s'", argv[1]);
	optind = 1;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd': delta = 1; break;
		case 'o': once = 1; break;
		case CLI_OPT_PASS_FILE: pf = optarg; break;
		case CLI_OPT_PASS_ENV: pe = optarg; break;
		default: return cli_usage("crl", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage("crl", "unexpected argument '%s'", argv[optind + 1]);
	if ((!strcmp(argv[1], "publish") && once) || (!strcmp(argv[1], "schedule") && delta))
		return cli_usage("crl", "--once goes with schedule, --delta with publish");
	if ((rc = cli_open_ca(ctx, 1, pf, pe, &ca)) != SP_OK)
		return cli_fail(rc);
	ret = !strcmp(argv[1], "publish") ? publish(ca, delta) : schedule(ca, once);
	sp_ca_close(ca);
	return ret;
}
