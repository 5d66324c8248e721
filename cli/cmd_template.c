/* cmd_template.c - `sitepki template list|show|check`. */
#include "cli/cli.h"

#include <string.h>

static void help(FILE *f)
{
	fprintf(f, "usage: sitepki [--home DIR] template list\n"
		   "       sitepki [--home DIR] template show NAME\n"
		   "       sitepki template check FILE\n"
		   "Templates are the shipped ones plus <home>/templates/*.xml (a home file of the same\n"
		   "name overrides the shipped one). check validates a file against the schema and rules.\n");
}

static int list_cb(const sp_template *t, const char *path, const char *error, void *arg)
{
	int *bad = arg;
	if (!t) {
		fprintf(stderr, "sitepki: %s\n", error);
		(*bad)++;
		return 0;
	}
	printf("%-22s %5d days  %s\n", t->name, t->validity_days, t->description ? t->description : "");
	(void)path;
	return 0;
}

static void print_san(const char *what, const sp_tpl_san *s)
{
	if (!s->from) {
		printf("  SAN %-4s     not allowed\n", what);
		return;
	}
	printf("  SAN %-4s     %d..%d from %s%s%s\n", what, s->min, s->max, s->from & SP_FROM_CSR ? "csr" : "",
	       (s->from & SP_FROM_CSR) && (s->from & SP_FROM_CLI) ? " and " : "", s->from & SP_FROM_CLI ? "command line" : "");
}

static void show(const sp_template *t)
{
	static const char *ku[] = {"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
				   "keyAgreement"};
	printf("name:          %s\nfile:          %s\ndescription:   %s\nvalidity:      %d days\nsignature:     %s\n",
	       t->name, t->path ? t->path : "", t->description ? t->description : "", t->validity_days, t->hash);
	if (t->rsa_allowed)
		printf("keys:          RSA %d..%d bits\n", t->rsa_min_bits, t->rsa_max_bits);
	for (int i = 0; i < t->n_ec_curves; i++)
		printf("keys:          EC %s\n", t->ec_curves[i]);
	printf("key usage:    %s", t->key_usage_critical ? " (critical)" : "");
	for (int i = 0; i < 5; i++)
		if (t->key_usage & (1u << i))
			printf(" %s%s", ku[i], t->key_usage_rsa_only & (1u << i) ? "(RSA only)" : "");
	printf("\n");
	for (int i = 0; i < t->n_eku; i++)
		printf("EKU:           %s %s\n", t->eku_oid[i], t->eku_name[i] ? t->eku_name[i] : "");
	for (int i = 0; i < t->n_attrs; i++) {
		const sp_tpl_attr *a = &t->attrs[i];
		printf("subject %-5s  %s%s%s%s%s\n", a->type, a->required ? "required" : "optional",
		       a->format == SP_FORMAT_DNS ? ", host name" : "", a->fixed ? ", fixed: '" : "",
		       a->fixed ? a->fixed : "", a->fixed ? "'" : "");
	}
	print_san("DNS", &t->san_dns);
	print_san("UPN", &t->san_upn);
	printf("auto-approve:  %s%s%s\nserver keygen: %s\n", t->auto_approve & SP_APPROVE_TOKEN ? "token " : "",
	       t->auto_approve & SP_APPROVE_CLIENTCERT ? "client-certificate" : "", t->auto_approve ? "" : "never",
	       t->server_keygen ? "yes" : "no");
}

int cmd_template(const cli_ctx *ctx, int argc, char **argv)
{
	sp_template *t = NULL;
	sp_err rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if (!strcmp(argv[1], "list") && argc == 2) {
		int bad = 0;
		if ((rc = sp_template_list(ctx->home, list_cb, &bad)) != SP_OK)
			return cli_fail(rc);
		return bad ? SP_ERR_INPUT : 0;
	}
	if (!strcmp(argv[1], "show") && argc == 3) {
		if ((rc = sp_template_find(ctx->home, argv[2], &t)) != SP_OK)
			return cli_fail(rc);
		show(t);
		sp_template_free(t);
		return 0;
	}
	if (!strcmp(argv[1], "check") && argc == 3) {
		if ((rc = sp_template_load_file(argv[2], &t)) != SP_OK)
			return cli_fail(rc);
		printf("%s: ok (template %s)\n", argv[2], t->name);
		sp_template_free(t);
		return 0;
	}
	return cli_usage("template", "expected list, show NAME or check FILE");
}
