/* cmd_serve.c - `sitepki serve`: the EST enrollment service (docs/serve.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "enroll/serve.h"
#include "enroll/serve_config.h"

static void help(FILE *f)
{
	fprintf(f, "usage: sitepki [--home DIR] serve [--config FILE] [--pass-file FILE | --pass-env VAR]\n"
		   "\n"
		   "Run the enrollment service: EST (RFC 7030) over HTTPS with the template as the\n"
		   "label (/.well-known/est/<template>/simpleenroll), and the CRLs and CA certificate\n"
		   "over plain HTTP at the URLs the certificates name. The CA key stays in a separate\n"
		   "signer process. Stops cleanly on SIGTERM or Ctrl-C. Configuration: docs/serve.md.\n"
		   "\n"
		   "  --config FILE     XML configuration (schema templates/serve.rng); defaults if absent\n"
		   "  --pass-file FILE  CA key passphrase from FILE (or $SITEPKI_PASS_FILE)\n"
		   "  --pass-env VAR    CA key passphrase from environment variable VAR\n");
}

int cmd_serve(const cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
		{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *config = NULL, *pass_file = NULL, *pass_env = NULL, *home = NULL;
	sp_serve_config *cfg = NULL;
	sp_secret pass = {0};
	int c;
	sp_err rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case CLI_OPT_PASS_FILE: pass_file = optarg; break;
		case CLI_OPT_PASS_ENV: pass_env = optarg; break;
		case 'h': help(stdout); return 0;
		default: return cli_usage("serve", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("serve", "unexpected argument %s", argv[optind]);
	if ((rc = cli_home(ctx, &home)) != SP_OK)
		return cli_fail(rc);
	rc = config ? sp_serve_config_load(config, &cfg) : sp_serve_config_defaults(&cfg);
	if (rc == SP_OK)
		rc = cli_passphrase(pass_file, pass_env, 0, &pass);
	if (rc == SP_OK)
		rc = sp_serve_run(home, cfg, &pass);
	sp_secret_wipe(&pass);
	sp_serve_config_free(cfg);
	return rc == SP_OK ? 0 : cli_fail(rc);
}
