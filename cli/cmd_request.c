/* cmd_request.c - `sitepki request list|show|approve|reject`: the queue of
 * requests the enrollment service could not approve by itself
 * (docs/enrollment.md). approve issues from the stored CSR with the names
 * the request recorded ("dns=a,b upn=u") and turns that same request row
 * ISSUED; reject records the reason the client is told on its next retry. */
#include "cli/cli.h"

#include <getopt.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_REASON 256
#define MAX_DETAIL_DNS 32

static void help(FILE *f)
{
	fprintf(f,
		"usage: sitepki --home DIR request list [--status pending|approved|rejected|issued|all] [--json]\n"
		"       sitepki --home DIR request show ID [--json]\n"
		"       sitepki --home DIR request approve ID [--pass-file F | --pass-env VAR]\n"
		"       sitepki --home DIR request reject ID --reason TEXT\n"
		"Requests the enrollment service queued for approval. list shows the pending ones\n"
		"by default. approve issues the certificate from the stored CSR (with the names the\n"
		"request carries) and prints its serial; the client fetches it on its next retry.\n"
		"reject refuses a pending request; the client is told the reason.\n");
}

/* ------------------------------------------------------- CSR decoding */

/* The CSR's subjectAltName as "DNS:a, UPN:u, email:e, IP:1.2.3.4, URI:..."
 * (malloc'd; "" when none). Decoded with OpenSSL only, for the operator's
 * eyes: the issuance path judges the names, this only shows them. */
static char *csr_sans(X509_REQ *req)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	BIO *b = BIO_new(BIO_s_mem());
	char *res = NULL, *p = NULL;
	int first = 1;
	long n;

	if (!b) {
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		return NULL;
	}
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		GENERAL_NAMES *gens;
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name)
			continue;
		if (!(gens = X509V3_EXT_d2i(ext))) {
			BIO_printf(b, "%s(malformed subjectAltName)", first ? "" : ", ");
			first = 0;
			continue;
		}
		for (int j = 0; j < sk_GENERAL_NAME_num(gens); j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
			BIO_printf(b, "%s", first ? "" : ", ");
			first = 0;
			if (g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn &&
			    g->d.otherName->value && g->d.otherName->value->type == V_ASN1_UTF8STRING) {
				const ASN1_STRING *s = g->d.otherName->value->value.utf8string;
				BIO_printf(b, "UPN:%.*s", ASN1_STRING_length(s), (const char *)ASN1_STRING_get0_data(s));
			} else {
				GENERAL_NAME_print(b, g);
			}
		}
		GENERAL_NAMES_free(gens);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	n = BIO_get_mem_data(b, &p);
	if (n >= 0 && (res = malloc((size_t)n + 1))) {
		if (n > 0) /* an empty BIO has no buffer: p is NULL */
			memcpy(res, p, (size_t)n);
		res[n] = '\0';
	}
	BIO_free(b);
	return res;
}

/* "EC P-256", "RSA-2048", or the key type. */
static void csr_key(X509_REQ *req, char *out, size_t outsz)
{
	EVP_PKEY *pk = NULL;
	char group[64] = "";

	if (sp_req_get1_pubkey(req, &pk) != SP_OK) {
		snprintf(out, outsz, "(not decodable)");
		sp_clear_error();
		return;
	}
	if (EVP_PKEY_is_a(pk, "RSA"))
		snprintf(out, outsz, "RSA-%d", EVP_PKEY_get_bits(pk));
	else if (EVP_PKEY_is_a(pk, "EC") && EVP_PKEY_get_group_name(pk, group, sizeof group, NULL))
		snprintf(out, outsz, "EC %s", group);
	else
		snprintf(out, outsz, "%s", EVP_PKEY_get0_type_name(pk));
	EVP_PKEY_free(pk);
}

/* ------------------------------------------------------------------ list */

typedef struct {
	int json, n;
} list_state;

static void json_row(const sp_request_row *r)
{
	char ca[32], ua[32];
	sp_time_iso(r->created_at, ca, sizeof ca);
	sp_time_iso(r->updated_at, ua, sizeof ua);
	printf("{\"id\":%lld,\"status\":\"%s\",\"template\":", (long long)r->id, sp_request_status_name(r->status));
	cli_json_str(stdout, r->template_name);
	printf(",\"requester\":");
	cli_json_str(stdout, r->requester);
	printf(",\"subject\":");
	cli_json_str(stdout, r->subject);
	printf(",\"detail\":");
	cli_json_str(stdout, r->detail);
	printf(",\"serial\":");
	cli_json_str(stdout, r->cert_serial);
	printf(",\"csr_sha256\":\"%s\",\"created\":\"%s\",\"updated\":\"%s\"", r->csr_sha256, ca, ua);
}

static int list_cb(const sp_request_row *r, void *arg)
{
	list_state *s = arg;
	if (s->json) {
		printf("%s", s->n ? ",\n " : "[");
		json_row(r);
		printf("}");
	} else {
		char ca[32];
		sp_time_iso(r->created_at, ca, sizeof ca);
		/* the subject last: it may hold spaces */
		printf("%-5lld %-8s %-20s %s %-32s %s %s\n", (long long)r->id, sp_request_status_name(r->status), r->template_name,
		       ca, *r->cert_serial ? r->cert_serial : "-", r->requester, r->subject);
	}
	s->n++;
	return 0;
}

static int list(sp_ca *ca, int argc, char **argv)
{
	enum { O_STATUS = 1, O_JSON };
	static const struct option opts[] = {
		{"status", required_argument, NULL, O_STATUS},
		{"json", no_argument, NULL, O_JSON},
		{NULL, 0, NULL, 0},
	};
	list_state s = {0, 0};
	int status = SP_REQ_PENDING, c;
	sp_err rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_STATUS:
			status = -2;
			for (int i = 0; i <= SP_REQ_ISSUED; i++)
				if (!strcmp(optarg, sp_request_status_name(i)))
					status = i;
			if (!strcmp(optarg, "all"))
				status = -1;
			if (status == -2)
				return cli_usage("request list", "--status must be pending, approved, rejected, issued or all");
			break;
		case O_JSON: s.json = 1; break;
		default: return cli_usage("request list", "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("request list", "unexpected argument '%s'", argv[optind]);
	if ((rc = sp_store_request_list(sp_ca_get0_store(ca), status, list_cb, &s)) != SP_OK)
		return cli_fail(rc);
	if (s.json)
		printf("%s]\n", s.n ? "" : "[");
	return 0;
}

/* ------------------------------------------------------------------ show */

static int show(sp_ca *ca, int64_t id, int json)
{
	sp_request_row r;
	X509_REQ *req = NULL;
	char *csubj = NULL, *sans = NULL, key[64] = "", sha[65];
	uint8_t md[32];
	sp_err rc;

	if ((rc = sp_store_request_get(sp_ca_get0_store(ca), id, &r)) != SP_OK)
		return cli_fail(rc);
	/* rows from before schema 3 carry no hash: show it anyway */
	sp_sha256(r.csr_der, r.csr_der_len, md);
	sp_hex(md, sizeof md, sha, 0);
	if ((rc = sp_req_parse(r.csr_der, r.csr_der_len, &req)) != SP_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", sp_last_error());
		sp_request_row_clear(&r);
		return cli_fail(sp_fail(SP_ERR_DB, "request %lld: the stored CSR does not parse: %s", (long long)id, msg));
	}
	if (!(csubj = sp_name_oneline(X509_REQ_get_subject_name(req))) || !(sans = csr_sans(req))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	csr_key(req, key, sizeof key);
	if (json) {
		json_row(&r);
		printf(",\"csr\":{\"subject\":");
		cli_json_str(stdout, csubj);
		printf(",\"sans\":");
		cli_json_str(stdout, sans);
		printf(",\"key\":");
		cli_json_str(stdout, key);
		printf(",\"sha256\":\"%s\"}}\n", sha);
	} else {
		char ca_[32], ua[32];
		sp_time_iso(r.created_at, ca_, sizeof ca_);
		sp_time_iso(r.updated_at, ua, sizeof ua);
		printf("request:     %lld\nstatus:      %s\ntemplate:    %s\nrequester:   %s\ncreated:     %s\n"
		       "updated:     %s\ndetail:      %s\nserial:      %s\n"
		       "CSR subject: %s\nCSR SANs:    %s\nCSR key:     %s\nCSR sha256:  %s\n",
		       (long long)r.id, sp_request_status_name(r.status), r.template_name, r.requester, ca_, ua,
		       *r.detail ? r.detail : "(none)", *r.cert_serial ? r.cert_serial : "(none)", *csubj ? csubj : "(empty)",
		       *sans ? sans : "(none)", key, sha);
	}
out:
	X509_REQ_free(req);
	free(csubj);
	free(sans);
	sp_request_row_clear(&r);
	return rc == SP_OK ? 0 : cli_fail(rc);
}

/* --------------------------------------------------------------- approve */

#define DETAIL_ERR "request %lld: detail is not \"dns=a,b upn=u\" (%s)"

/* The names a queued request carries (docs/enrollment.md): "" or
 * space-separated "dns=a,b" and "upn=u", each at most once. Split in
 * place in buf; dns[] and *upn point into it. */
static sp_err parse_detail(int64_t id, char *buf, const char **dns, size_t *n_dns, const char **upn)
{
	char *save = NULL, *f;

	*n_dns = 0;
	*upn = NULL;
	for (f = strtok_r(buf, " ", &save); f; f = strtok_r(NULL, " ", &save)) {
		if (!strncmp(f, "dns=", 4) && *n_dns == 0) {
			char *s2 = NULL, *d;
			for (d = strtok_r(f + 4, ",", &s2); d; d = strtok_r(NULL, ",", &s2)) {
				if (*n_dns == MAX_DETAIL_DNS)
					return sp_fail(SP_ERR_INPUT, "request %lld carries more than %d DNS names", (long long)id,
						       MAX_DETAIL_DNS);
				dns[(*n_dns)++] = d;
			}
			if (*n_dns == 0)
				return sp_fail(SP_ERR_INPUT, DETAIL_ERR, (long long)id, "empty dns=");
		} else if (!strncmp(f, "upn=", 4) && !*upn && f[4]) {
			*upn = f + 4;
		} else {
			return sp_fail(SP_ERR_INPUT, DETAIL_ERR, (long long)id, f);
		}
	}
	return SP_OK;
}

static int approve(const cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{"pass-file", required_argument, NULL, CLI_OPT_PASS_FILE},
		{"pass-env", required_argument, NULL, CLI_OPT_PASS_ENV},
		{NULL, 0, NULL, 0},
	};
	const char *pf = NULL, *pe = NULL, *dns[MAX_DETAIL_DNS];
	char *detail = NULL, serial[41] = "", audit[160], subj[40];
	sp_ca *ca = NULL;
	sp_template *t = NULL;
	sp_request_row r;
	sp_issue_opts o;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	int64_t id = 0;
	int c, in_txn = 0;
	sp_err rc;

	memset(&r, 0, sizeof r);
	memset(&o, 0, sizeof o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case CLI_OPT_PASS_FILE: pf = optarg; break;
		case CLI_OPT_PASS_ENV: pe = optarg; break;
		default: return cli_usage("request approve", "unknown option");
		}
	}
	if (optind + 1 != argc || !cli_parse_id(argv[optind], &id))
		return cli_usage("request approve", "expected one request ID (a number)");
	if ((rc = cli_open_ca(ctx, 1, pf, pe, &ca)) != SP_OK)
		goto out;
	if ((rc = sp_store_request_get(sp_ca_get0_store(ca), id, &r)) != SP_OK)
		goto out;
	/* said early, before the CSR is looked at; sp_issue checks again
	 * inside its transaction */
	if (r.status != SP_REQ_PENDING && r.status != SP_REQ_APPROVED) {
		rc = sp_fail(SP_ERR_POLICY, "request %lld is %s", (long long)id, sp_request_status_name(r.status));
		goto out;
	}
	if ((rc = sp_template_find(sp_ca_get0_home(ca), r.template_name, &t)) != SP_OK)
		goto out;
	if ((rc = sp_req_parse(r.csr_der, r.csr_der_len, &req)) != SP_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", sp_last_error());
		rc = sp_fail(rc, "request %lld: %s", (long long)id, msg);
		goto out;
	}
	if (!(detail = strdup(r.detail))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = parse_detail(id, detail, dns, &o.n_dns, &o.upn)) != SP_OK)
		goto out;
	o.dns = o.n_dns ? dns : NULL;
	o.requester = r.requester;
	o.request_id = id;
	/* the certificate, the request's new state and the approval are one
	 * transaction: never an issued certificate without its approval row */
	if ((rc = sp_store_begin(sp_ca_get0_store(ca))) != SP_OK)
		goto out;
	in_txn = 1;
	if ((rc = sp_issue_in_txn(ca, t, req, &o, &x)) != SP_OK ||
	    (rc = sp_serial_hex(X509_get0_serialNumber(x), serial, sizeof serial)) != SP_OK)
		goto out;
	snprintf(subj, sizeof subj, "request:%lld", (long long)id);
	snprintf(audit, sizeof audit, "serial=%s template=%.64s", serial, t->name);
	if ((rc = sp_store_audit_append(sp_ca_get0_store(ca), cli_actor(), "request-approve", subj, audit)) != SP_OK ||
	    (rc = sp_store_commit(sp_ca_get0_store(ca))) != SP_OK)
		goto out;
	in_txn = 0;
	printf("%s\n", serial);
	fprintf(stderr, "request %lld approved: issued %s serial %s; the client receives it on its next retry\n",
		(long long)id, t->name, serial);
out:
	if (in_txn)
		sp_store_rollback(sp_ca_get0_store(ca));
	X509_free(x);
	X509_REQ_free(req);
	sp_template_free(t);
	free(detail);
	sp_request_row_clear(&r);
	sp_ca_close(ca);
	return rc == SP_OK ? 0 : cli_fail(rc);
}

/* ---------------------------------------------------------------- reject */

/* Printable ASCII, not only spaces: the reason reaches audit rows,
 * terminals and the client's HTTP answer. */
static int reason_ok(const char *s, char *why, size_t whysz)
{
	size_t n = strlen(s);
	int printable = 0;

	if (n == 0 || n > MAX_REASON) {
		snprintf(why, whysz, "--reason must be 1 to %d characters", MAX_REASON);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e) {
			snprintf(why, whysz, "--reason: character %zu (0x%02x) is not printable ASCII", i + 1, c);
			return 0;
		}
		printable |= c != ' ';
	}
	if (!printable)
		snprintf(why, whysz, "--reason needs more than spaces");
	return printable;
}

static int reject(sp_ca *ca, int argc, char **argv)
{
	static const struct option opts[] = {
		{"reason", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	sp_store *st = sp_ca_get0_store(ca);
	const char *reason = NULL;
	char why[96], subj[40];
	sp_request_row r;
	int64_t id = 0;
	sp_err rc;
	int c;

	memset(&r, 0, sizeof r);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': reason = optarg; break;
		default: return cli_usage("request reject", "unknown option");
		}
	}
	if (optind + 1 != argc || !cli_parse_id(argv[optind], &id))
		return cli_usage("request reject", "expected one request ID (a number)");
	if (!reason)
		return cli_usage("request reject", "--reason is required");
	if (!reason_ok(reason, why, sizeof why))
		return cli_usage("request reject", "%s", why);
	if ((rc = sp_store_begin(st)) != SP_OK)
		return cli_fail(rc);
	/* read and changed in one write transaction: an approval cannot slip
	 * in between */
	if ((rc = sp_store_request_get(st, id, &r)) == SP_OK) {
		if (r.status != SP_REQ_PENDING)
			rc = sp_fail(SP_ERR_POLICY, "request %lld is %s; only a pending request can be rejected",
				     (long long)id, sp_request_status_name(r.status));
		else if ((rc = sp_store_request_set_status(st, id, SP_REQ_REJECTED, NULL, reason)) == SP_OK) {
			snprintf(subj, sizeof subj, "request:%lld", (long long)id);
			rc = sp_store_audit_append(st, cli_actor(), "request-reject", subj, reason);
		}
	}
	if (rc == SP_OK)
		rc = sp_store_commit(st);
	if (rc != SP_OK)
		sp_store_rollback(st);
	sp_request_row_clear(&r);
	if (rc != SP_OK)
		return cli_fail(rc);
	fprintf(stderr, "request %lld rejected; the client is told: %s\n", (long long)id, reason);
	return 0;
}

int cmd_request(const cli_ctx *ctx, int argc, char **argv)
{
	sp_ca *ca = NULL;
	sp_err rc;
	int ret;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		help(argc < 2 ? stderr : stdout);
		return argc < 2 ? SP_ERR_USAGE : 0;
	}
	if (strcmp(argv[1], "list") && strcmp(argv[1], "show") && strcmp(argv[1], "approve") && strcmp(argv[1], "reject"))
		return cli_usage("request", "unknown subcommand '%s'", argv[1]);
	if (!strcmp(argv[1], "approve"))
		return approve(ctx, argc - 1, argv + 1);
	if (!strcmp(argv[1], "show")) {
		/* "show ID --json" and "show --json ID" alike */
		int json = argc == 4 && (!strcmp(argv[3], "--json") || !strcmp(argv[2], "--json"));
		const char *key = argc == 4 && !strcmp(argv[2], "--json") ? argv[3] : argc >= 3 ? argv[2] : NULL;
		int64_t id = 0;
		if (!(argc == 3 || json) || !cli_parse_id(key, &id))
			return cli_usage("request show", "expected one request ID (a number) [--json]");
		if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
			return cli_fail(rc);
		ret = show(ca, id, json);
		sp_ca_close(ca);
		return ret;
	}
	if ((rc = cli_open_ca(ctx, 0, NULL, NULL, &ca)) != SP_OK)
		return cli_fail(rc);
	if (!strcmp(argv[1], "list"))
		ret = list(ca, argc - 1, argv + 1);
	else
		ret = reject(ca, argc - 1, argv + 1);
	sp_ca_close(ca);
	return ret;
}
