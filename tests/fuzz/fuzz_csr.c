/*
 * fuzz_csr.c - libFuzzer target: a CSR as it arrives (PEM or DER) through
 * sp_req_parse() and, when it parses, the whole issuance path of a real CA
 * (proof of possession, key limits, names, build, lint, sign, record) inside
 * a store transaction that is always rolled back.
 *
 * A mutated CSR almost never keeps a valid signature, so each parsed CSR is
 * tried twice: as it is (the key and signature checks), and re-keyed and
 * re-signed with a fixed key (everything after proof of possession: the
 * name rules see the fuzzed subject and extensions).
 *
 * The CA (EC P-256) is made once per process in a temporary directory that
 * is removed at exit. Which templates are tried is picked from the first and
 * last input bytes (a DER CSR always starts with 0x30, so the first byte
 * alone would pin DER inputs to the same templates).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const template_names[] = {
	"web-server",    "client-auth",         "amt-provisioning", "amt-web-server", "amt-8021x-client",
	"mobile-device", "site-server-signing", "osd-media",        "isv-proxy",
};
#define N_TEMPLATES (sizeof template_names / sizeof template_names[0])

static struct {
	char dir[256];
	sp_ca *ca;
	sp_template *t[N_TEMPLATES];
	EVP_PKEY *resign_key;
} g;

/* The passphrase lives in static memory: it protects a throw-away key. */
static char pass_buf[] = "fuzz passphrase (throw-away CA)";

static void die(const char *what)
{
	fprintf(stderr, "fuzz_csr: %s: %s\n", what, sp_last_error());
	abort();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	for (size_t i = 0; i < N_TEMPLATES; i++)
		sp_template_free(g.t[i]);
	sp_ca_close(g.ca);
	EVP_PKEY_free(g.resign_key);
	if (g.dir[0])
		nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	memset(&g, 0, sizeof g);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	sp_secret pass = {pass_buf, sizeof pass_buf - 1};
	sp_ca_init_opts o;
	char home[300];
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	snprintf(g.dir, sizeof g.dir, "%s/sitepki-fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(g.dir)) {
		g.dir[0] = '\0';
		perror("fuzz_csr: mkdtemp");
		abort();
	}
	atexit(teardown);
	snprintf(home, sizeof home, "%s/ca", g.dir);
	memset(&o, 0, sizeof o);
	o.name = "sitepki fuzz CA";
	o.site_code = "FZ1";
	o.key_alg = "ec-p256";
	o.days = 400;
	if (sp_ca_init(home, &o, &pass) != SP_OK)
		die("sp_ca_init");
	if (sp_ca_open(home, &pass, &g.ca) != SP_OK)
		die("sp_ca_open");
	for (size_t i = 0; i < N_TEMPLATES; i++)
		if (sp_template_find(NULL, template_names[i], &g.t[i]) != SP_OK)
			die(template_names[i]);
	if (!(g.resign_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)))
		die("re-sign key");
	return 0;
}

/* Replace the CSR's key by ours and sign it, in the default library context
 * (a parsed CSR carries the decoder-less one, common/req_key.c). */
static int resign(X509_REQ *req)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && X509_REQ_set_pubkey(req, g.resign_key) &&
		 EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, g.resign_key, NULL) == 1 &&
		 X509_REQ_sign_ctx(req, md) > 0;
	EVP_MD_CTX_free(md);
	return ok;
}

/* with_cli_names: add the command-line names this template accepts (two
 * DNS names that merge into one, a UPN), as an administrator would. */
static void try_issue(X509_REQ *req, const sp_template *t, int with_cli_names)
{
	static const char *const dns[] = {"fuzz.example", "FUZZ.example"};
	sp_store *st = sp_ca_get0_store(g.ca);
	sp_issue_opts o;
	X509 *x = NULL;

	memset(&o, 0, sizeof o);
	o.requester = "fuzz";
	if (with_cli_names && (t->san_dns.from & SP_FROM_CLI)) {
		o.dns = dns;
		o.n_dns = 2;
	}
	if (with_cli_names && (t->san_upn.from & SP_FROM_CLI))
		o.upn = "fuzz@fuzz.example";
	if (sp_store_begin(st) != SP_OK)
		die("begin");
	/* refusals are the expected outcome; only crashes, leaks and UB count */
	(void)sp_issue_in_txn(g.ca, t, req, &o, &x);
	sp_store_rollback(st);
	X509_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_REQ *req = NULL;
	unsigned sel;

	if (sp_req_parse(data, size, &req) != SP_OK)
		return 0;
	sel = (unsigned)data[0] + (unsigned)data[size - 1];
	for (unsigned k = 0; k < 3; k++) {
		const sp_template *t = g.t[(sel + 3 * k) % N_TEMPLATES];
		try_issue(req, t, (int)((sel >> 4) & 1));
	}
	if (resign(req)) {
		for (unsigned k = 0; k < 3; k++) {
			const sp_template *t = g.t[(sel + 1 + 3 * k) % N_TEMPLATES];
			try_issue(req, t, (int)((sel >> 5) & 1));
		}
	}
	X509_REQ_free(req);
	return 0;
}
