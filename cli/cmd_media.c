/*
 * cmd_media.c - `sitepki media create|export|list`: boot-media and PXE
 * certificates whose key the CA generates and hands out once as a
 * password-protected PKCS#12 (docs/media.md).
 *
 * The PKCS#12 password, like the CA passphrase, never comes from argv:
 * --password-file, --password-env, or a prompt (asked twice) on a terminal.
 * It is checked, and the output file's temp file created, before the CA
 * generates or issues anything (media/media.h has the order).
 */
#include "cli/cli.h"
#include "media/media.h"

#include <getopt.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLI_DNS 32
#define DEFAULT_TEMPLATE "osd-media"

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR media create --name NAME --out FILE.pfx [--template T] [--dns NAME]...\n"
		"                          [--password-file F | --password-env VAR] [--archive] [--legacy] [--iter N]\n"
		"                          [--pass-file F | --pass-env VAR]\n"
		"       sitepki --home DIR media export SERIAL --out FILE.pfx [--password-file F | --password-env VAR]\n"
		"                          [--legacy] [--iter N] [--pass-file F | --pass-env VAR]\n"
		"       sitepki --home DIR media list [--json]\n"
		"create: the CA generates the key pair (template " DEFAULT_TEMPLATE " by default: it must allow\n"
		"serverKeyGen), issues the certificate (CN = NAME) and writes key, certificate and the chain\n"
		"up to the root as a PKCS#12 (mode 0600, friendly name NAME; never overwrites a file).\n"
		"The serial is printed on standard output.\n"
		"  --password-file F | --password-env VAR   the PKCS#12 password (at least %d printable ASCII\n"
		"                     characters; on a terminal it is asked for twice when neither is given)\n"
		"  --archive          keep the key, encrypted to the CA certificate, so export can write it again\n"
		"  --legacy           3DES and SHA-1 instead of AES-256/PBKDF2-SHA256/SHA-256 (old WinPE clients)\n"
		"  --iter N           PBKDF2 and MAC iterations (default %d, at least %d)\n"
		"  --pass-file F | --pass-env VAR   the CA key passphrase (or $SITEPKI_PASS_FILE)\n"
		"export: a new PKCS#12 of an archived key (needs the CA key to decrypt it).\n"
		"list: every media certificate with its state (valid, expiring within 30 days, expired,\n"
		"blocked, hold, revoked), the number of exports and whether the key is archived.\n",
		SP_MEDIA_PASSWORD_MIN, SP_MEDIA_ITER_DEFAULT, SP_MEDIA_ITER_MIN);
}

/* The PKCS#12 password: file, environment or terminal; checked against the
 * password rules here so that a bad one stops the command before the CA
 * key is even decrypted. */
static sp_err media_password(const char *file, const char *env, sp_secret *out)
{
	sp_err rc;

	out->buf = NULL;
	out->len = 0;
	if (file && env)
		return sp_fail(SP_ERR_USAGE, "give either --password-file or --password-env, not both");
	if (file)
		rc = sp_secret_from_file(file, out);
	else if (env)
		rc = sp_secret_from_env(env, out);
	else if (isatty(STDIN_FILENO))
		rc = sp_secret_prompt("PKCS#12 password for the boot media: ", 1, out);
	else
		return sp_fail(SP_ERR_USAGE, "the PKCS#12 password is needed: --password-file FILE or --password-env VAR");
	if (rc == SP_OK && (rc = sp_media_password_check(out)) != SP_OK)
		sp_secret_wipe(out);
	return rc;
}

static int parse_iter(const char *cmd, const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v > INT_MAX)
		return cli_usage(cmd, "--iter takes a whole number, not '%s'", s);
	*out = (int)v;
	return 0;
}

static void report(const char *serial, const char *path, const sp_pkcs12_opts *p12)
{
	int iter = p12->iter ? p12->iter : SP_MEDIA_ITER_DEFAULT;
	if (p12->legacy)
		fprintf(stderr, "boot media %s written to %s: legacy PKCS#12 (3DES/SHA-1) for old WinPE clients, "
				"%d iterations; use the default form wherever the client can read it\n",
			serial, path, iter);
	else
		fprintf(stderr, "boot media %s written to %s: PKCS#12 with PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256, "
				"MAC SHA-256, %d iterations\n",
			serial, path, iter);
}

typedef struct {
	const char *out, *pw_file, *pw_env, *pass_file, *pass_env, *template_name, *name;
	const char *dns[MAX_CLI_DNS];
	size_t n_dns;
	int archive, legacy, iter;
} media_args;

enum { O_OUT = 1, O_PWFILE, O_PWENV, O_TPL, O_NAME, O_DNS, O_ARCHIVE, O_LEGACY, O_ITER };

/* Options of create (create = 1) and export. 0 or the usage exit code. */
static int parse(const char *cmd, int create, int argc, char **argv, media_args *a)
{
	static const struct option create_opts[] = {
		{"out", required_argument, NULL, O_OUT},
		{"password-file", required_argument, NULL, O_PWFILE},
		{"password-env", required_argument, NULL, O_PWENV},
		{"template", required_argument, NULL, O_TPL},
		{"name", required_argument, NULL, O_NAME},
		{"dns", required_argument, NULL, O_DNS},
		{"archive", no_argument, NULL, O_ARCHIVE},
		{"legacy", no_argument, NULL, O_LEGACY},
		{"iter", required_argument, NULL, O_ITER},
		{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
		{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
		{NULL, 0, NULL, 0},
	};
	static const struct option export_opts[] = {
		{"out", required_argument, NULL, O_OUT},
		{"password-file", required_argument, NULL, O_PWFILE},
		{"password-env", required_argument, NULL, O_PWENV},
		{"legacy", no_argument, NULL, O_LEGACY},
		{"iter", required_argument, NULL, O_ITER},
		{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
		{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
		{NULL, 0, NULL, 0},
	};
	int c, r;

	memset(a, 0, sizeof *a);
	a->template_name = DEFAULT_TEMPLATE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", create ? create_opts : export_opts, NULL)) != -1) {
		switch (c) {
		case O_OUT: a->out = optarg; break;
		case O_PWFILE: a->pw_file = optarg; break;
		case O_PWENV: a->pw_env = optarg; break;
		case O_TPL: a->template_name = optarg; break;
		case O_NAME: a->name = optarg; break;
		case O_DNS:
			if (a->n_dns >= MAX_CLI_DNS)
				return cli_usage(cmd, "at most %d --dns names", MAX_CLI_DNS);
			a->dns[a->n_dns++] = optarg;
			break;
		case O_ARCHIVE: a->archive = 1; break;
		case O_LEGACY: a->legacy = 1; break;
		case O_ITER:
			if ((r = parse_iter(cmd, optarg, &a->iter)) != 0)
				return r;
			break;
		case CLI_OPT_PASS_FILE: a->pass_file = optarg; break;
		case CLI_OPT_PASS_ENV: a->pass_env = optarg; break;
		default: return cli_usage(cmd, "unknown option");
		}
	}
	if (!a->out)
		return cli_usage(cmd, "--out FILE is required (the PKCS#12 is never written to standard output)");
	if (a->pw_file && a->pw_env)
		return cli_usage(cmd, "give either --password-file or --password-env, not both");
	if (a->pass_file && a->pass_env)
		return cli_usage(cmd, "give either --pass-file or --pass-env, not both");
	if (create && (!a->name || optind != argc))
		return cli_usage(cmd, optind != argc ? "unexpected argument" : "--name NAME is required");
	if (!create && optind + 1 != argc)
		return cli_usage(cmd, "expected one SERIAL");
	return 0;
}

static int create(const cli_ctx *ctx, int argc, char **argv)
{
	media_args a;
	sp_media_create_opts o;
	sp_template *t = NULL;
	sp_secret pw = {0};
	sp_ca *ca = NULL;
	sp_media_out *out = NULL;
	const char *home = NULL;
	char serial[41] = "";
	sp_err rc;
	int r;

	if ((r = parse("media create", 1, argc, argv, &a)) != 0)
		return r;
	/* cheapest refusals first: template, password, then the CA key
	 * (PBKDF2), then the output file; nothing is generated before all of
	 * them passed */
	if ((rc = cli_home(ctx, &home)) != SP_OK || (rc = sp_template_find(home, a.template_name, &t)) != SP_OK ||
	    (rc = sp_media_template_check(t)) != SP_OK || (rc = media_password(a.pw_file, a.pw_env, &pw)) != SP_OK)
		goto out;
	memset(&o, 0, sizeof o);
	o.name = a.name;
	o.dns = a.dns;
	o.n_dns = a.n_dns;
	o.archive = a.archive;
	o.actor = cli_actor();
	o.p12.password = &pw;
	o.p12.iter = a.iter;
	o.p12.legacy = a.legacy;
	if ((rc = sp_pkcs12_opts_check(&o.p12)) != SP_OK ||
	    (rc = cli_open_ca(ctx, 1, a.pass_file, a.pass_env, &ca)) != SP_OK ||
	    (rc = sp_media_out_open(a.out, &out)) != SP_OK)
		goto out;
	rc = sp_media_create(ca, t, &o, out, serial);
	out = NULL; /* consumed */
	if (rc == SP_OK) {
		printf("%s\n", serial);
		report(serial, a.out, &o.p12);
	}
out:
	sp_media_out_abort(out);
	sp_secret_wipe(&pw);
	sp_ca_close(ca);
	sp_template_free(t);
	return rc == SP_OK ? 0 : cli_fail(rc);
}

static int export(const cli_ctx *ctx, int argc, char **argv)
{
	media_args a;
	sp_pkcs12_opts p12;
	sp_secret pw = {0};
	sp_ca *ca = NULL;
	sp_media_out *out = NULL;
	sp_media_row m;
	sp_err rc;
	int r;

	memset(&m, 0, sizeof m);
	if ((r = parse("media export", 0, argc, argv, &a)) != 0)
		return r;
	if ((rc = media_password(a.pw_file, a.pw_env, &pw)) != SP_OK)
		goto out;
	p12.password = &pw;
	p12.iter = a.iter;
	p12.legacy = a.legacy;
	if ((rc = sp_pkcs12_opts_check(&p12)) != SP_OK ||
	    (rc = cli_open_ca(ctx, 1, a.pass_file, a.pass_env, &ca)) != SP_OK)
		goto out;
	/* the serial as stored, for the report line */
	if ((rc = sp_store_media_get(sp_ca_get0_store(ca), argv[optind], &m)) != SP_OK ||
	    (rc = sp_media_out_open(a.out, &out)) != SP_OK)
		goto out;
	rc = sp_media_export(ca, m.serial, &p12, cli_actor(), out);
	out = NULL; /* consumed */
	if (rc == SP_OK)
		report(m.serial, a.out, &p12);
out:
	sp_media_out_abort(out);
	sp_media_row_clear(&m);
	sp_secret_wipe(&pw);
	sp_ca_close(ca);
	return rc == SP_OK ? 0 : cli_fail(rc);
}

typedef struct {
	int json, n;
} list_state;

static int list_cb(const sp_media_info *i, void *arg)
{
	list_state *s = arg;
	char na[32], ca[32], ea[32];

	sp_time_iso(i->cert->not_after, na, sizeof na);
	sp_time_iso(i->media->created_at, ca, sizeof ca);
	sp_time_iso(i->media->exported_at, ea, sizeof ea);
	if (s->json) {
		printf("%s{\"serial\":\"%s\",\"name\":", s->n ? ",\n " : "[", i->media->serial);
		cli_json_str(stdout, i->media->name);
		printf(",\"state\":\"%s\",\"template\":", i->state);
		cli_json_str(stdout, i->cert->template_name);
		printf(",\"subject\":");
		cli_json_str(stdout, i->cert->subject);
		printf(",\"sans\":");
		cli_json_str(stdout, i->cert->sans);
		printf(",\"sha256\":\"%s\",\"not_after\":\"%s\",\"created_at\":\"%s\",\"exported_at\":", i->cert->sha256,
		       na, ca);
		if (i->media->exported_at)
			printf("\"%s\"", ea);
		else
			printf("null");
		printf(",\"export_count\":%lld,\"archived\":%s,\"legacy\":%s}", (long long)i->media->export_count,
		       i->media->archived_key ? "true" : "false", i->media->legacy ? "true" : "false");
	} else {
		if (s->n == 0)
			printf("%-32s %-8s %-20s %7s %-8s %s\n", "SERIAL", "STATE", "NOT AFTER", "EXPORTS", "ARCHIVED",
			       "NAME");
		printf("%-32s %-8s %-20s %7lld %-8s %s\n", i->media->serial, i->state, na,
		       (long long)i->media->export_count, i->media->archived_key ? "yes" : "no", i->media->name);
	}
	s->n++;
	return 0;
}

static int list(const cli_ctx *ctx, int argc, char **argv)
{
	list_state s = {0, 0};
	sp_ca *ca = NULL;
	sp_err rc;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json")))
		return cli_usage("media list", "unexpected argument '%s'", argv[argc - 1]);
	s.json = argc == 2;
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) == SP_OK)
		rc = sp_media_list(ca, 0, list_cb, &s);
	sp_ca_close(ca);
	if (rc != SP_OK)
		return cli_fail(rc);
	if (s.json)
		printf("%s]\n", s.n ? "" : "[");
	return 0;
}

int cmd_media(const cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if (!strcmp(argv[1], "create"))
		return create(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "export"))
		return export(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return list(ctx, argc - 1, argv + 1);
	return cli_usage("media", "unknown subcommand '%s'", argv[1]);
}
