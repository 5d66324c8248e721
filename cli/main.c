/* main.c - `sitepki [--home DIR] <command> [options]`: global options and
 * the command table. Exit codes are the sp_err values (docs/cli.md). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const cli_command commands[] = {
	{"init", cmd_init, "create a CA home: root, intermediate, or CSR for an external root"},
	{"ca", cmd_ca, "show the CA; import-cert to finish an external-root init"},
	{"template", cmd_template, "list, show or check certificate templates"},
	{"issue", cmd_issue, "issue certificates from PKCS#10 requests (one, or a batch)"},
	{"cert", cmd_cert, "list, show and export issued certificates"},
	{"revoke", cmd_revoke, "revoke certificates (one, or a list in one transaction)"},
	{"release", cmd_release, "lift a certificateHold"},
	{"crl", cmd_crl, "publish, show, check and schedule CRLs"},
	{"block", cmd_block, "block and unblock certificates (also ones this CA did not issue)"},
	{"media", cmd_media, "boot-media/PXE certificates: CA-made key, password-protected PKCS#12"},
	{"token", cmd_token, "create and list one-time enrollment tokens"},
	{"request", cmd_request, "list, show, approve and reject queued enrollment requests"},
	{"audit", cmd_audit, "verify or list the hash-chained audit log"},
	{"serve", cmd_serve, "run the EST enrollment service (HTTPS) and the CRL/AIA HTTP port"},
	{NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sitepki [--home DIR] <command> [options]\n\n"
		   "The CA home defaults to $SITEPKI_HOME. Commands:\n");
	for (const cli_command *c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\nEvery command takes --help. Exit status: 0 ok, 2 usage, 3 i/o, 4 crypto, 5 store,\n"
		   "6 policy, 7 bad input, 8 not found, 9 exists, 11 permission (docs/cli.md).\n");
}

int main(int argc, char **argv)
{
	cli_ctx ctx = {getenv("SITEPKI_HOME"), "sitepki"};
	int i = 1;

	if (ctx.home && !ctx.home[0])
		ctx.home = NULL;
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--home") && i + 1 < argc) {
			ctx.home = argv[i + 1];
			i += 2;
		} else if (!strncmp(argv[i], "--home=", 7)) {
			ctx.home = argv[i] + 7;
			i++;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("sitepki %s\n", SITEPKI_VERSION);
			return 0;
		} else {
			fprintf(stderr, "sitepki: unknown option %s\n", argv[i]);
			usage(stderr);
			return SP_ERR_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return SP_ERR_USAGE;
	}
	for (const cli_command *c = commands; c->name; c++)
		if (!strcmp(c->name, argv[i]))
			return c->run(&ctx, argc - i, argv + i);
	fprintf(stderr, "sitepki: unknown command '%s' (sitepki --help lists them)\n", argv[i]);
	return SP_ERR_USAGE;
}
