/* cmd_ca.c - `sitepki ca show|import-cert`. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
	fprintf(f, "usage: sitepki --home DIR ca show [--json]\n"
		   "       sitepki --home DIR ca import-cert --cert FILE --chain FILE\n"
		   "       sitepki --home DIR ca set [--crl-days N] [--delta on|off] [--delta-hours H]\n"
		   "                                 [--keep-expired on|off]\n"
		   "show: the CA's name, state, certificate, URLs and site code.\n"
		   "import-cert: finish `init --csr`: the certificate must carry this CA's key,\n"
		   "be a CA certificate, and verify through --chain (issuers up to the root, PEM).\n"
		   "set: the CRL policy: full CRL lifetime in days (default 7), delta CRLs (default off;\n"
		   "when on, new certificates and full CRLs point to the delta URL), delta lifetime in\n"
		   "hours (default 24), keep expired certificates on CRLs (default off).\n");
}

static int show(const cli_ctx *ctx, int json)
{
	sp_ca *ca = NULL;
	const sp_ca_row *info;
	char sha[65] = "", na[32] = "", nb[32] = "";
	char *subj = NULL;
	sp_err rc = cli_open_ca(ctx, 0, NULL, NULL, &ca);
	if (rc != SP_OK)
		return cli_fail(rc);
	info = sp_ca_get0_info(ca);
	if (sp_ca_get0_cert(ca)) {
		X509 *x = sp_ca_get0_cert(ca);
		int64_t t;
		if (sp_cert_sha256_hex(x, sha) != SP_OK)
			sha[0] = '\0';
		if (sp_asn1_time_to_unix(X509_get0_notBefore(x), &t) == SP_OK)
			sp_time_iso(t, nb, sizeof nb);
		if (sp_asn1_time_to_unix(X509_get0_notAfter(x), &t) == SP_OK)
			sp_time_iso(t, na, sizeof na);
		subj = sp_name_oneline(X509_get_subject_name(x));
	}
	if (json) {
		printf("{\"name\":");
		cli_json_str(stdout, info->name);
		printf(",\"state\":\"%s\",\"subject\":", info->state == SP_CA_ACTIVE ? "active" : "awaiting-certificate");
		cli_json_str(stdout, subj);
		printf(",\"key\":");
		cli_json_str(stdout, info->key_alg);
		printf(",\"site_code\":");
		cli_json_str(stdout, info->site_code);
		printf(",\"not_before\":\"%s\",\"not_after\":\"%s\",\"sha256\":\"%s\",\"crl_url\":", nb, na, sha);
		cli_json_str(stdout, sp_ca_crl_url(ca));
		printf(",\"aia_url\":");
		cli_json_str(stdout, sp_ca_aia_url(ca));
		printf(",\"intermediate\":%s}\n", sk_X509_num(sp_ca_get0_chain(ca)) > 0 ? "true" : "false");
	} else {
		printf("name:        %s\nstate:       %s\n", info->name,
		       info->state == SP_CA_ACTIVE ? "active" : "awaiting certificate (run ca import-cert)");
		if (subj)
			printf("subject:     %s\nvalid:       %s .. %s\nsha256:      %s\n", subj, nb, na, sha);
		printf("key:         %s\nsite code:   %s\nCRL URL:     %s\nCA cert URL: %s\nchain above: %d\n",
		       info->key_alg, info->site_code[0] ? info->site_code : "(none)", sp_ca_crl_url(ca),
		       sp_ca_aia_url(ca), sp_ca_get0_chain(ca) ? sk_X509_num(sp_ca_get0_chain(ca)) : 0);
		printf("CRL policy:  full every %d days; delta %s (%d hours, %s); expired certificates %s\n",
		       sp_ca_get0_crl_policy(ca)->crl_days, sp_ca_get0_crl_policy(ca)->delta_enabled ? "on" : "off",
		       sp_ca_get0_crl_policy(ca)->delta_hours, sp_ca_delta_crl_url(ca),
		       sp_ca_get0_crl_policy(ca)->keep_expired ? "kept" : "dropped");
	}
	free(subj);
	sp_ca_close(ca);
	return 0;
}

static int import_cert(const cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"cert", required_argument, NULL, 'c'},
		{"chain", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cert_path = NULL, *chain_path = NULL, *home = NULL;
	uint8_t *cert = NULL, *chain = NULL;
	size_t cert_len = 0, chain_len = 0;
	sp_err rc;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cert_path = optarg; break;
		case 'C': chain_path = optarg; break;
		case 'h': help(stdout); return 0;
		default: return cli_usage("ca import-cert", "unknown option");
		}
	}
	if (!cert_path || !chain_path)
		return cli_usage("ca import-cert", "--cert and --chain are required");
	if ((rc = cli_home(ctx, &home)) != SP_OK || (rc = sp_file_read(cert_path, SP_MAX_CERT_BYTES, &cert, &cert_len)) != SP_OK ||
	    (rc = sp_file_read(chain_path, 16 * SP_MAX_CERT_BYTES, &chain, &chain_len)) != SP_OK ||
	    (rc = sp_ca_import_cert(home, cert, cert_len, chain, chain_len)) != SP_OK) {
		free(cert);
		free(chain);
		return cli_fail(rc);
	}
	free(cert);
	free(chain);
	fprintf(stderr, "CA certificate imported; %s is active\n", home);
	return 0;
}

static int on_off(const char *v, int *out)
{
	if (!strcmp(v, "on"))
		*out = 1;
	else if (!strcmp(v, "off"))
		*out = 0;
	else
		return 0;
	return 1;
}

static int set(const cli_ctx *ctx, int argc, char **argv)
{
	enum { O_DAYS = 1, O_DELTA, O_HOURS, O_KEEP };
	static const struct option opts[] = {
		{"crl-days", required_argument, NULL, O_DAYS},
		{"delta", required_argument, NULL, O_DELTA},
		{"delta-hours", required_argument, NULL, O_HOURS},
		{"keep-expired", required_argument, NULL, O_KEEP},
		{NULL, 0, NULL, 0},
	};
	sp_crl_policy p;
	sp_ca *ca = NULL;
	sp_err rc;
	int c, any = 0;
	char *end;

	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
		return cli_fail(rc);
	p = *sp_ca_get0_crl_policy(ca);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		any = 1;
		switch (c) {
		case O_DAYS:
			p.crl_days = (int)strtol(optarg, &end, 10);
			if (*end || !*optarg)
				p.crl_days = -1;
			break;
		case O_HOURS:
			p.delta_hours = (int)strtol(optarg, &end, 10);
			if (*end || !*optarg)
				p.delta_hours = -1;
			break;
		case O_DELTA:
			if (!on_off(optarg, &p.delta_enabled)) {
				sp_ca_close(ca);
				return cli_usage("ca set", "--delta takes on or off");
			}
			break;
		case O_KEEP:
			if (!on_off(optarg, &p.keep_expired)) {
				sp_ca_close(ca);
				return cli_usage("ca set", "--keep-expired takes on or off");
			}
			break;
		default:
			sp_ca_close(ca);
			return cli_usage("ca set", "unknown option");
		}
	}
	if (!any || optind != argc) {
		sp_ca_close(ca);
		return cli_usage("ca set", "give at least one of --crl-days, --delta, --delta-hours, --keep-expired");
	}
	rc = sp_ca_set_crl_policy(ca, &p, cli_actor());
	sp_ca_close(ca);
	if (rc != SP_OK)
		return cli_fail(rc);
	fprintf(stderr, "CRL policy: full CRLs every %d days, delta CRLs %s (%d hours), expired certificates %s\n",
		p.crl_days, p.delta_enabled ? "on" : "off", p.delta_hours, p.keep_expired ? "kept" : "dropped");
	return 0;
}

int cmd_ca(const cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if (!strcmp(argv[1], "show")) {
		int json = argc == 3 && !strcmp(argv[2], "--json");
		if (argc > 3 || (argc == 3 && !json))
			return cli_usage("ca show", "unexpected argument");
		return show(ctx, json);
	}
	if (!strcmp(argv[1], "import-cert"))
		return import_cert(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "set"))
		return set(ctx, argc - 1, argv + 1);
	return cli_usage("ca", "unknown subcommand '%s'", argv[1]);
}
