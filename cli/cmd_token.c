/* cmd_token.c - `sitepki token create|list|release`: one-time enrollment tokens
 * (docs/enrollment.md). The credential is printed once, on stdout alone,
 * so that `ID:SECRET` can be piped or captured without parsing; the store
 * keeps only the SHA-256 of the secret and `token list` never shows it. */
#include "cli/cli.h"
#include "enroll/token.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR token create --template T [--subject \"CN=..,O=..\"] [--dns NAME]...\n"
		"                                       [--upn USER@DOMAIN] [--ttl 1h|30m|7d|SECONDS]\n"
		"       sitepki --home DIR token list [--json]\n"
		"       sitepki --home DIR token release ID\n"
		"create prints the credential ID:SECRET alone on standard output (use it as\n"
		"`curl -u ID:SECRET` or as the EST client's HTTP Basic user and password). It is\n"
		"shown once: only its SHA-256 is stored. The token is for one request to template T\n"
		"whose names are the ones bound here (at least one of --subject, --dns, --upn).\n"
		"--ttl: 60 seconds to 30 days, default 1h.\n"
		"release settles a token left `claimed` by a service that stopped in the middle of\n"
		"its request: used, if a request was recorded for it; else unused again. Run it only\n"
		"when no service is still working on that request.\n");
}

/* "3600", "90m", "1h", "7d" -> seconds. */
static sp_err parse_ttl(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	if (n > 0 && n <= 12 && strspn(s, "0123456789") == n) {
		*out = strtoll(s, NULL, 10);
		return SP_OK;
	}
	return sp_duration_parse(s, out);
}

/* The template must take from the request context what the token binds:
 * the service hands the bound DNS names and UPN to the issuer the way
 * `issue --dns/--upn` does, so a token whose names the template would
 * refuse could never be used. */
static sp_err template_takes(const sp_template *t, size_t n_dns, const char *upn)
{
	if (n_dns > 0 && !(t->san_dns.from & SP_FROM_CLI))
		return sp_fail(SP_ERR_POLICY, "template %s takes no DNS names from a token", t->name);
	if (n_dns > (size_t)t->san_dns.max)
		return sp_fail(SP_ERR_POLICY, "template %s allows at most %d DNS name(s), the token binds %zu", t->name,
			       t->san_dns.max, n_dns);
	if (upn && !(t->san_upn.from & SP_FROM_CLI))
		return sp_fail(SP_ERR_POLICY, "template %s takes no UPN from a token", t->name);
	return SP_OK;
}

static int create(sp_ca *ca, int argc, char **argv)
{
	enum { O_TPL = 1, O_SUBJ, O_DNS, O_UPN, O_TTL };
	static const struct option opts[] = {
		{"template", required_argument, NULL, O_TPL},
		{"subject", required_argument, NULL, O_SUBJ},
		{"dns", required_argument, NULL, O_DNS},
		{"upn", required_argument, NULL, O_UPN},
		{"ttl", required_argument, NULL, O_TTL},
		{NULL, 0, NULL, 0},
	};
	const char *dns[SP_TOKEN_MAX_DNS];
	sp_token_spec spec;
	sp_template *t = NULL;
	sp_token_row row;
	char *secret = NULL, exp[32];
	int64_t id = 0;
	sp_err rc;
	int c;

	memset(&spec, 0, sizeof spec);
	spec.dns = dns;
	spec.ttl_seconds = 3600;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_TPL: spec.template_name = optarg; break;
		case O_SUBJ: spec.subject = optarg; break;
		case O_DNS:
			if (spec.n_dns >= SP_TOKEN_MAX_DNS)
				return cli_usage("token create", "at most %d --dns names", SP_TOKEN_MAX_DNS);
			dns[spec.n_dns++] = optarg;
			break;
		case O_UPN: spec.upn = optarg; break;
		case O_TTL:
			if (parse_ttl(optarg, &spec.ttl_seconds) != SP_OK)
				return cli_usage("token create", "--ttl '%s' is not a duration (3600, 90m, 1h, 7d)", optarg);
			break;
		default: return cli_usage("token create", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("token create", "unexpected argument '%s'", argv[optind]);
	if (!spec.template_name)
		return cli_usage("token create", "--template is required");
	if ((!spec.subject || !*spec.subject) && spec.n_dns == 0 && (!spec.upn || !*spec.upn))
		return cli_usage("token create", "bind at least one name: --subject, --dns or --upn");
	if ((rc = sp_template_find(sp_ca_get0_home(ca), spec.template_name, &t)) != SP_OK ||
	    (rc = template_takes(t, spec.n_dns, spec.upn)) != SP_OK ||
	    (rc = sp_token_create(sp_ca_get0_store(ca), &spec, cli_actor(), &id, &secret)) != SP_OK) {
		sp_template_free(t);
		return cli_fail(rc);
	}
	sp_template_free(t);
	c = printf("%lld:%s\n", (long long)id, secret) < 0 || fflush(stdout) != 0;
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
	if (c) /* nobody has the secret: the token can only expire unused */
		return cli_fail(sp_fail(SP_ERR_IO, "cannot write the credential of enrollment token %lld to standard output",
					(long long)id));
	/* what was bound, as stored (the subject in its normalised form) */
	memset(&row, 0, sizeof row);
	if ((rc = sp_store_token_get(sp_ca_get0_store(ca), id, &row)) != SP_OK)
		return cli_fail(rc);
	sp_time_iso(row.expires_at, exp, sizeof exp);
	fprintf(stderr,
		"enrollment token %lld for template %s binds%s%s%s%s%s%s; expires %s; the credential above is shown "
		"once (only its hash is kept)\n",
		(long long)id, row.template_name, *row.subject ? " subject " : "", row.subject,
		*row.dns ? (*row.subject ? ", DNS " : " DNS ") : "", row.dns,
		*row.upn ? (*row.subject || *row.dns ? ", UPN " : " UPN ") : "", row.upn, exp);
	sp_token_row_clear(&row);
	return 0;
}

static const char *state_of(const sp_token_row *r, int64_t now)
{
	if (r->state == SP_TOKEN_USED)
		return "used";
	if (r->state == SP_TOKEN_CLAIMED)
		return "claimed";
	return now >= r->expires_at ? "expired" : "unused";
}

typedef struct {
	int json, n;
	int64_t now;
} list_state;

static void json_dns(const char *dns)
{
	const char *p = dns;
	printf("[");
	while (*p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		char buf[256];
		snprintf(buf, sizeof buf, "%.*s", (int)l, p);
		if (p != dns)
			printf(",");
		cli_json_str(stdout, buf);
		if (!c)
			break;
		p = c + 1;
	}
	printf("]");
}

static int list_cb(const sp_token_row *r, void *arg)
{
	list_state *s = arg;
	char ca[32], ea[32];

	sp_time_iso(r->created_at, ca, sizeof ca);
	sp_time_iso(r->expires_at, ea, sizeof ea);
	if (s->json) {
		printf("%s{\"id\":%lld,\"template\":", s->n ? ",\n " : "[", (long long)r->id);
		cli_json_str(stdout, r->template_name);
		printf(",\"subject\":");
		cli_json_str(stdout, r->subject);
		printf(",\"dns\":");
		json_dns(r->dns);
		printf(",\"upn\":");
		cli_json_str(stdout, r->upn);
		printf(",\"created\":\"%s\",\"expires\":\"%s\",\"state\":\"%s\",\"serial\":", ca, ea,
		       state_of(r, s->now));
		cli_json_str(stdout, r->cert_serial);
		printf(",\"created_by\":");
		cli_json_str(stdout, r->created_by);
		printf("}");
	} else {
		/* the subject last: it may hold spaces */
		printf("%-5lld %-20s %-7s %s %s %s%s%s%s%s%s%s\n", (long long)r->id, r->template_name,
		       state_of(r, s->now), ca, ea, *r->cert_serial ? r->cert_serial : "-", *r->dns ? " dns=" : "", r->dns,
		       *r->upn ? " upn=" : "", r->upn, *r->subject ? " subject=" : "", r->subject);
	}
	s->n++;
	return 0;
}

/* `token release ID` */
static int release(sp_ca *ca, int64_t id)
{
	sp_request_row spent;
	sp_err rc;

	if ((rc = sp_token_release(sp_ca_get0_store(ca), id, cli_actor(), (int64_t)time(NULL), &spent)) != SP_OK)
		return cli_fail(rc);
	if (spent.id == 0)
		printf("enrollment token %lld: unused again (no request was recorded for it)\n", (long long)id);
	else if (spent.status == SP_REQ_ISSUED)
		printf("enrollment token %lld: used (request %lld issued certificate %s before the service stopped)\n",
		       (long long)id, (long long)spent.id, spent.cert_serial);
	else
		printf("enrollment token %lld: used (it was spent on request %lld, now %s)\n", (long long)id,
		       (long long)spent.id, sp_request_status_name(spent.status));
	sp_request_row_clear(&spent);
	return 0;
}

int cmd_token(const cli_ctx *ctx, int argc, char **argv)
{
	sp_ca *ca = NULL;
	int64_t id = 0;
	sp_err rc;
	int ret;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if (strcmp(argv[1], "create") && strcmp(argv[1], "list") && strcmp(argv[1], "release"))
		return cli_usage("token", "unknown subcommand '%s'", argv[1]);
	if (!strcmp(argv[1], "list") && (argc > 3 || (argc == 3 && strcmp(argv[2], "--json"))))
		return cli_usage("token list", "unexpected argument '%s'", argv[2]);
	if (!strcmp(argv[1], "release") && (argc != 3 || !cli_parse_id(argv[2], &id)))
		return cli_usage("token release", "give one token id (a number, as `token list` shows)");
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
		return cli_fail(rc);
	if (!strcmp(argv[1], "create")) {
		ret = create(ca, argc - 1, argv + 1);
	} else if (!strcmp(argv[1], "release")) {
		ret = release(ca, id);
	} else {
		list_state s = {argc == 3, 0, (int64_t)time(NULL)};
		ret = 0;
		if ((rc = sp_store_token_list(sp_ca_get0_store(ca), list_cb, &s)) != SP_OK)
			ret = cli_fail(rc);
		else if (s.json)
			printf("%s]\n", s.n ? "" : "[");
	}
	sp_ca_close(ca);
	return ret;
}
