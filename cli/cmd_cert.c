/* cmd_cert.c - `sitepki cert list|show|export`: the inventory. */
#include "cli/cli.h"

#include <getopt.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR cert list [--template T] [--status valid|revoked|hold|expired]\n"
		"                                    [--expiring 30d] [--subject TEXT] [--json]\n"
		"       sitepki --home DIR cert show SERIAL|FINGERPRINT [--json]\n"
		"       sitepki --home DIR cert export SERIAL|FINGERPRINT [--chain] [--der] [--out FILE]\n"
		"A certificate is named by its serial (hex), its SHA-256 fingerprint or its SHA-1\n"
		"thumbprint (colons and case do not matter).\n");
}

static const char *status_of(const sp_cert_row *r, int64_t now)
{
	if (r->status == SP_CERT_REVOKED)
		return "revoked";
	if (r->status == SP_CERT_HOLD)
		return "hold";
	return r->not_after < now ? "expired" : "valid";
}

typedef struct {
	int json, n;
	int64_t now;
} list_state;

static void json_row(const sp_cert_row *r, int64_t now)
{
	char nb[32], na[32], ia[32];
	sp_time_iso(r->not_before, nb, sizeof nb);
	sp_time_iso(r->not_after, na, sizeof na);
	sp_time_iso(r->issued_at, ia, sizeof ia);
	printf("{\"serial\":\"%s\",\"sha256\":\"%s\",\"sha1\":\"%s\",\"status\":\"%s\",\"template\":", r->serial,
	       r->sha256, r->sha1, status_of(r, now));
	cli_json_str(stdout, r->template_name);
	printf(",\"subject\":");
	cli_json_str(stdout, r->subject);
	printf(",\"sans\":");
	cli_json_str(stdout, r->sans);
	printf(",\"not_before\":\"%s\",\"not_after\":\"%s\",\"issued_at\":\"%s\"", nb, na, ia);
	if (r->status != SP_CERT_VALID) {
		char ra[32];
		sp_time_iso(r->revoked_at, ra, sizeof ra);
		printf(",\"revoked_at\":\"%s\",\"revoke_reason\":%d", ra, r->revoke_reason);
	}
	printf("}");
}

static int list_cb(const sp_cert_row *r, void *arg)
{
	list_state *s = arg;
	if (s->json) {
		printf("%s", s->n ? ",\n " : "[");
		json_row(r, s->now);
	} else {
		char na[32];
		sp_time_iso(r->not_after, na, sizeof na);
		printf("%-32s %-8s %s %-20s %s\n", r->serial, status_of(r, s->now), na, r->template_name, r->subject);
	}
	s->n++;
	return 0;
}

static int list(sp_ca *ca, int argc, char **argv)
{
	enum { O_TPL = 1, O_STATUS, O_EXP, O_SUBJ, O_JSON };
	static const struct option opts[] = {
		{"template", required_argument, NULL, O_TPL},
		{"status", required_argument, NULL, O_STATUS},
		{"expiring", required_argument, NULL, O_EXP},
		{"subject", required_argument, NULL, O_SUBJ},
		{"json", no_argument, NULL, O_JSON},
		{NULL, 0, NULL, 0},
	};
	sp_cert_filter f;
	list_state s = {0, 0, (int64_t)time(NULL)};
	sp_err rc;
	int c;

	memset(&f, 0, sizeof f);
	f.now = s.now;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_TPL: f.template_name = optarg; break;
		case O_STATUS:
			if (strcmp(optarg, "valid") && strcmp(optarg, "revoked") && strcmp(optarg, "hold") &&
			    strcmp(optarg, "expired"))
				return cli_usage("cert list", "--status must be valid, revoked, hold or expired");
			f.status = optarg;
			break;
		case O_EXP: {
			int64_t secs;
			if ((rc = sp_duration_parse(optarg, &secs)) != SP_OK)
				return cli_fail(rc);
			f.expiring_before = s.now + secs;
			break;
		}
		case O_SUBJ: f.subject_like = optarg; break;
		case O_JSON: s.json = 1; break;
		default: return cli_usage("cert list", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("cert list", "unexpected argument '%s'", argv[optind]);
	if ((rc = sp_store_cert_list(sp_ca_get0_store(ca), &f, list_cb, &s)) != SP_OK)
		return cli_fail(rc);
	if (s.json)
		printf("%s]\n", s.n ? "" : "[");
	return 0;
}

static int show(sp_ca *ca, const char *key, int json)
{
	sp_cert_row r;
	X509 *x = NULL;
	int64_t now = (int64_t)time(NULL);
	sp_err rc;

	memset(&r, 0, sizeof r);
	if ((rc = sp_store_cert_get(sp_ca_get0_store(ca), key, &r)) != SP_OK)
		return cli_fail(rc);
	if (json) {
		json_row(&r, now);
		printf("\n");
	} else {
		char nb[32], na[32], ia[32];
		sp_time_iso(r.not_before, nb, sizeof nb);
		sp_time_iso(r.not_after, na, sizeof na);
		sp_time_iso(r.issued_at, ia, sizeof ia);
		printf("serial:      %s\nstatus:      %s\ntemplate:    %s\nsubject:     %s\nSANs:        %s\n"
		       "valid:       %s .. %s\nissued:      %s\nsha256:      %s\nsha1:        %s\n",
		       r.serial, status_of(&r, now), r.template_name, r.subject, r.sans[0] ? r.sans : "(none)", nb, na,
		       ia, r.sha256, r.sha1);
		if (r.status != SP_CERT_VALID) {
			char ra[32];
			sp_time_iso(r.revoked_at, ra, sizeof ra);
			printf("revoked:     %s (reason %d)\n", ra, r.revoke_reason);
		}
		const unsigned char *p = r.der;
		if ((x = d2i_X509(NULL, &p, (long)r.der_len))) {
			BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
			if (b) {
				X509_print_ex(b, x, XN_FLAG_RFC2253, X509_FLAG_NO_PUBKEY | X509_FLAG_NO_SIGDUMP);
				BIO_free(b);
			}
			X509_free(x);
		}
	}
	sp_cert_row_clear(&r);
	return 0;
}

static int export(sp_ca *ca, int argc, char **argv)
{
	static const struct option opts[] = {
		{"chain", no_argument, NULL, 'c'},
		{"der", no_argument, NULL, 'd'},
		{"out", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	int chain = 0, der = 0, c;
	const char *out = NULL;
	sp_cert_row r;
	X509 *x = NULL;
	char *pem = NULL;
	size_t len = 0;
	sp_err rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': chain = 1; break;
		case 'd': der = 1; break;
		case 'o': out = optarg; break;
		default: return cli_usage("cert export", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage("cert export", "expected one SERIAL or FINGERPRINT");
	if (chain && der)
		return cli_usage("cert export", "DER holds one certificate: use PEM with --chain");
	memset(&r, 0, sizeof r);
	if ((rc = sp_store_cert_get(sp_ca_get0_store(ca), argv[optind], &r)) != SP_OK)
		return cli_fail(rc);
	if (der) {
		rc = cli_write_out(out, r.der, r.der_len, 0644);
	} else {
		const unsigned char *p = r.der;
		if (!(x = d2i_X509(NULL, &p, (long)r.der_len)))
			rc = sp_fail_ossl(SP_ERR_DB, "certificate %s in the store is corrupt", r.serial);
		else if ((rc = sp_ca_chain_pem(ca, x, chain, &pem, &len)) == SP_OK)
			rc = cli_write_out(out, pem, len, 0644);
	}
	X509_free(x);
	free(pem);
	sp_cert_row_clear(&r);
	return rc == SP_OK ? 0 : cli_fail(rc);
}

int cmd_cert(const cli_ctx *ctx, int argc, char **argv)
{
	sp_ca *ca = NULL;
	sp_err rc;
	int ret;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if (strcmp(argv[1], "list") && strcmp(argv[1], "show") && strcmp(argv[1], "export"))
		return cli_usage("cert", "unknown subcommand '%s'", argv[1]);
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
		return cli_fail(rc);
	if (!strcmp(argv[1], "list")) {
		ret = list(ca, argc - 1, argv + 1);
	} else if (!strcmp(argv[1], "show")) {
		/* "show KEY --json" and "show --json KEY" alike */
		int json = argc == 4 && (!strcmp(argv[3], "--json") || !strcmp(argv[2], "--json"));
		const char *key = argc == 4 && !strcmp(argv[2], "--json") ? argv[3] : argv[2];
		ret = (argc == 3 || json) ? show(ca, key, json) : cli_usage("cert show", "expected SERIAL [--json]");
	} else {
		ret = export(ca, argc - 1, argv + 1);
	}
	sp_ca_close(ca);
	return ret;
}
