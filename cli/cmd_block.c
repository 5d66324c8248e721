/* cmd_block.c - `sitepki block add|remove|list|check|export|verify`. */
#include "cli/cli.h"
#include "revocation/revocation.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR block add SERIAL|FINGERPRINT --reason TEXT\n"
		"       sitepki --home DIR block add --cert FILE --reason TEXT\n"
		"       sitepki --home DIR block remove SERIAL|FINGERPRINT\n"
		"       sitepki --home DIR block list [--json]\n"
		"       sitepki --home DIR block check CERT\n"
		"       sitepki --home DIR block export --out FILE [--pass-file F | --pass-env VAR]\n"
		"       sitepki --home DIR block verify FILE [--ca CERT]\n"
		"A block takes effect at once at the enrollment service, can be removed, and works for\n"
		"certificates this CA never issued: name them by SHA-256 fingerprint, by the SHA-1\n"
		"thumbprint Windows shows, or give the certificate file. It is not a revocation:\n"
		"relying parties learn of revocations only from the CRL (sitepki revoke).\n"
		"check exits 0 when CERT is not blocked and 13 when it is.\n"
		"export writes the list signed by the CA (CMS, docs/blocklist.md); verify checks one.\n");
}

static int list_cb(const sp_block_row *r, void *arg)
{
	int *state = arg; /* [0] json, [1] count */
	char t[32];
	sp_time_iso(r->created_at, t, sizeof t);
	if (state[0]) {
		printf("%s{\"sha256\":", state[1] ? ",\n " : "[");
		cli_json_str(stdout, r->sha256);
		printf(",\"sha1\":");
		cli_json_str(stdout, r->sha1);
		printf(",\"serial\":");
		cli_json_str(stdout, r->serial);
		printf(",\"subject\":");
		cli_json_str(stdout, r->subject);
		printf(",\"issuer\":");
		cli_json_str(stdout, r->issuer);
		printf(",\"reason\":");
		cli_json_str(stdout, r->reason);
		printf(",\"created_by\":");
		cli_json_str(stdout, r->created_by);
		printf(",\"created_at\":\"%s\",\"issued_here\":%s}", t, r->in_store ? "true" : "false");
	} else {
		printf("%-64s %s %s %s\n", r->sha256[0] ? r->sha256 : r->sha1, t,
		       r->subject && r->subject[0] ? r->subject : "(subject unknown)", r->reason ? r->reason : "");
	}
	state[1]++;
	return 0;
}

/* Run one change (add/remove) in its own transaction. */
static sp_err in_txn(sp_ca *ca, sp_err (*fn)(sp_ca *, const void *), const void *arg)
{
	sp_err rc = sp_store_begin(sp_ca_get0_store(ca));
	if (rc != SP_OK)
		return rc;
	if ((rc = fn(ca, arg)) == SP_OK)
		rc = sp_store_commit(sp_ca_get0_store(ca));
	if (rc != SP_OK)
		sp_store_rollback(sp_ca_get0_store(ca));
	return rc;
}

typedef struct {
	const char *key, *reason;
	X509 *cert;
} add_args;

static sp_err do_add(sp_ca *ca, const void *p)
{
	const add_args *a = p;
	return a->cert ? sp_block_add_cert(ca, a->cert, a->reason, cli_actor())
		       : sp_block_add_key(ca, a->key, a->reason, cli_actor());
}

static sp_err do_remove(sp_ca *ca, const void *p)
{
	return sp_block_remove(ca, p, cli_actor());
}

static int add(sp_ca *ca, int argc, char **argv)
{
	static const struct option opts[] = {
		{"reason", required_argument, NULL, 'r'},
		{"cert", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	add_args a = {NULL, NULL, NULL};
	const char *cert_path = NULL;
	sp_err rc;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': a.reason = optarg; break;
		case 'c': cert_path = optarg; break;
		default: return cli_usage("block add", "unknown option");
		}
	}
	if (!a.reason)
		return cli_usage("block add", "--reason is required");
	if (!!cert_path == (optind < argc) || argc - optind > 1)
		return cli_usage("block add", "give one SERIAL|FINGERPRINT or --cert FILE");
	if (cert_path && (rc = cli_read_cert(cert_path, &a.cert)) != SP_OK)
		return cli_fail(rc);
	a.key = cert_path ? NULL : argv[optind];
	rc = in_txn(ca, do_add, &a);
	X509_free(a.cert);
	if (rc != SP_OK)
		return cli_fail(rc);
	fprintf(stderr, "blocked %s; the enrollment service refuses it from now on\n", cert_path ? cert_path : a.key);
	return 0;
}

int cmd_block(const cli_ctx *ctx, int argc, char **argv)
{
	sp_ca *ca = NULL;
	sp_err rc = SP_OK;
	int ret = 0, want_key;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	want_key = !strcmp(argv[1], "export");
	if (strcmp(argv[1], "add") && strcmp(argv[1], "remove") && strcmp(argv[1], "list") && strcmp(argv[1], "check") &&
	    strcmp(argv[1], "export") && strcmp(argv[1], "verify"))
		return cli_usage("block", "unknown subcommand '%s'", argv[1]);
	if (want_key) {
		static const struct option opts[] = {
			{"out", required_argument, NULL, 'o'},
			{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
			{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
			{NULL, 0, NULL, 0},
		};
		const char *out = NULL, *pf = NULL, *pe = NULL;
		uint8_t *der = NULL;
		size_t len = 0;
		int c;
		optind = 1;
		while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
			switch (c) {
			case 'o': out = optarg; break;
			case CLI_OPT_PASS_FILE: pf = optarg; break;
			case CLI_OPT_PASS_ENV: pe = optarg; break;
			default: return cli_usage("block export", "unknown option");
			}
		}
		if (!out || optind != argc - 1)
			return cli_usage("block export", "--out FILE is required");
		if ((rc = cli_open_ca(ctx, 1, pf, pe, &ca)) == SP_OK &&
		    (rc = sp_block_export(ca, (int64_t)time(NULL), &der, &len)) == SP_OK)
			rc = cli_write_out(out, der, len, 0644);
		OPENSSL_free(der);
		sp_ca_close(ca);
		if (rc != SP_OK)
			return cli_fail(rc);
		fprintf(stderr, "signed block list written to %s\n", out);
		return 0;
	}
	if (!strcmp(argv[1], "verify")) {
		const char *file = NULL, *ca_path = NULL;
		X509 *cacert = NULL;
		uint8_t *data = NULL;
		size_t len = 0;
		int64_t gen = 0;
		int state[2] = {0, 0};
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--ca") && i + 1 < argc)
				ca_path = argv[++i];
			else if (argv[i][0] != '-' && !file)
				file = argv[i];
			else
				return cli_usage("block verify", "expected FILE [--ca CERT]");
		}
		if (!file)
			return cli_usage("block verify", "expected FILE [--ca CERT]");
		if (ca_path)
			rc = cli_read_cert(ca_path, &cacert);
		else if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) == SP_OK && !(cacert = X509_dup(sp_ca_get0_cert(ca))))
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		if (rc == SP_OK && (rc = sp_file_read(file, 64u * 1024 * 1024, &data, &len)) == SP_OK)
			rc = sp_block_verify(cacert, data, len, &gen, list_cb, state);
		free(data);
		X509_free(cacert);
		sp_ca_close(ca);
		if (rc != SP_OK)
			return cli_fail(rc);
		{
			char t[32];
			sp_time_iso(gen, t, sizeof t);
			fprintf(stderr, "block list verified: signed by the CA, generated %s, %d entries\n", t, state[1]);
		}
		return 0;
	}
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
		return cli_fail(rc);
	if (!strcmp(argv[1], "add")) {
		ret = add(ca, argc - 1, argv + 1);
	} else if (!strcmp(argv[1], "remove")) {
		if (argc != 3)
			ret = cli_usage("block remove", "expected one SERIAL or FINGERPRINT");
		else if ((rc = in_txn(ca, do_remove, argv[2])) != SP_OK)
			ret = cli_fail(rc);
		else
			fprintf(stderr, "unblocked %s\n", argv[2]);
	} else if (!strcmp(argv[1], "list")) {
		int state[2] = {argc == 3 && !strcmp(argv[2], "--json"), 0};
		if (argc > 3 || (argc == 3 && !state[0]))
			ret = cli_usage("block list", "unexpected argument");
		else if ((rc = sp_store_block_list(sp_ca_get0_store(ca), list_cb, state)) != SP_OK)
			ret = cli_fail(rc);
		else if (state[0])
			printf("%s]\n", state[1] ? "" : "[");
	} else { /* check */
		X509 *cert = NULL;
		if (argc != 3)
			ret = cli_usage("block check", "expected one CERT file");
		else if ((rc = cli_read_cert(argv[2], &cert)) != SP_OK)
			ret = cli_fail(rc);
		else if ((rc = sp_block_check_cert(sp_ca_get0_store(ca), cert)) == SP_ERR_BLOCKED) {
			printf("blocked: %s\n", sp_last_error());
			ret = SP_ERR_BLOCKED;
		} else if (rc != SP_OK) {
			ret = cli_fail(rc);
		} else {
			printf("not blocked\n");
		}
		X509_free(cert);
	}
	sp_ca_close(ca);
	return ret;
}
