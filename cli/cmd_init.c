/* cmd_init.c - `sitepki init`: create a CA home. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR init --name NAME [options]\n"
		"Create a CA home: a self-signed root (default), an intermediate signed by another\n"
		"sitepki home, or a key and CSR for an external root (finish with `ca import-cert`).\n\n"
		"  --name NAME            CA common name (ASCII, <= 64 characters)\n"
		"  --org ORG              organisation (O=) of the CA\n"
		"  --site-code SC         default site code for site-server-signing (3 letters/digits)\n"
		"  --key ALG              ec-p256 (default), ec-p384, rsa-2048, rsa-3072, rsa-4096\n"
		"  --days N               validity (default 3650 root, 1825 intermediate)\n"
		"  --base-url URL         http base of the CRL and CA certificate URLs in issued\n"
		"                         certificates (default http://127.0.0.1:8080/pki)\n"
		"  --intermediate PARENT  sign the new CA with the sitepki home PARENT\n"
		"  --parent-pass-file F | --parent-pass-env VAR   the parent's key passphrase\n"
		"  --csr OUT              write a CSR for an external root instead of self-signing\n"
		"  --pass-file F | --pass-env VAR   passphrase protecting the new CA key\n"
		"                         (also $SITEPKI_PASS_FILE; prompted on a terminal)\n");
}

int cmd_init(const cli_ctx *ctx, int argc, char **argv)
{
	enum { O_NAME = 1, O_ORG, O_SITE, O_KEY, O_DAYS, O_BASE, O_INTER, O_PPF, O_PPE, O_CSR };
	static const struct option opts[] = {
		{"name", required_argument, NULL, O_NAME},
		{"org", required_argument, NULL, O_ORG},
		{"site-code", required_argument, NULL, O_SITE},
		{"key", required_argument, NULL, O_KEY},
		{"days", required_argument, NULL, O_DAYS},
		{"base-url", required_argument, NULL, O_BASE},
		{"intermediate", required_argument, NULL, O_INTER},
		{"parent-pass-file", required_argument, NULL, O_PPF},
		{"parent-pass-env", required_argument, NULL, O_PPE},
		{"csr", required_argument, NULL, O_CSR},
		{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
		{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	sp_ca_init_opts o;
	const char *pass_file = NULL, *pass_env = NULL, *ppf = NULL, *ppe = NULL, *home = NULL;
	sp_secret pass = {0}, ppass = {0};
	sp_err rc;
	int c;

	memset(&o, 0, sizeof o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_NAME: o.name = optarg; break;
		case O_ORG: o.org = optarg; break;
		case O_SITE: o.site_code = optarg; break;
		case O_KEY: o.key_alg = optarg; break;
		case O_DAYS: {
			char *end;
			long d = strtol(optarg, &end, 10);
			if (*end || d <= 0 || d > 36500)
				return cli_usage("init", "--days '%s' must be a number of days from 1 to 36500", optarg);
			o.days = (int)d;
			break;
		}
		case O_BASE: o.base_url = optarg; break;
		case O_INTER: o.parent_home = optarg; break;
		case O_PPF: ppf = optarg; break;
		case O_PPE: ppe = optarg; break;
		case O_CSR: o.csr_out = optarg; break;
		case CLI_OPT_PASS_FILE: pass_file = optarg; break;
		case CLI_OPT_PASS_ENV: pass_env = optarg; break;
		case 'h': help(stdout); return 0;
		default: return cli_usage("init", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("init", "unexpected argument '%s'", argv[optind]);
	if (!o.name)
		return cli_usage("init", "--name is required");
	if ((rc = cli_home(ctx, &home)) != SP_OK)
		return cli_fail(rc);
	if (o.parent_home) {
		if (!ppf && !ppe)
			return cli_usage("init", "--intermediate needs --parent-pass-file or --parent-pass-env");
		if ((rc = cli_passphrase(ppf, ppe, 0, &ppass)) != SP_OK)
			return cli_fail(rc);
		o.parent_pass = &ppass;
	}
	if ((rc = cli_passphrase(pass_file, pass_env, 1, &pass)) != SP_OK) {
		sp_secret_wipe(&ppass);
		return cli_fail(rc);
	}
	rc = sp_ca_init(home, &o, &pass);
	sp_secret_wipe(&pass);
	sp_secret_wipe(&ppass);
	if (rc != SP_OK)
		return cli_fail(rc);
	if (o.csr_out)
		fprintf(stderr, "CA key created in %s; CSR written to %s.\n"
				"Have the root sign it, then: sitepki --home %s ca import-cert --cert CERT --chain CHAIN\n",
			home, o.csr_out, home);
	else
		fprintf(stderr, "CA '%s' created in %s (certificate: %s/%s)\n", o.name, home, home, SP_CA_CERT);
	return 0;
}
