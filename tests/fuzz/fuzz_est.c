/*
 * fuzz_est.c - libFuzzer target: one EST request (method, path, headers,
 * TLS client certificates, body) through sp_est_handle(), the whole request
 * path of `sitepki serve` below libmicrohttpd: routing, template labels,
 * content type, client certificate checks (block list, chain, store state),
 * HTTP Basic enrollment tokens, base64 and PKCS#10 decoding, proof of
 * possession, the approval decision, the pending queue, issuance and the
 * answers (certs-only PKCS#7, CsrAttrs, serverkeygen multipart).
 *
 * Input (test harness format, not HTTP; docs/fuzzing.md):
 *
 *   METHOD PATH
 *   Content-Type: ...            (optional; last one wins)
 *   Authorization: ...           (optional; last one wins)
 *   X-Peer: <hex DER> | @NAME@   (optional, up to 3: the TLS client chain, leaf first)
 *   X-Client: <address>          (optional; default 192.0.2.1)
 *   <empty line>
 *   body bytes (to the end of the input)
 *
 * Lines end in LF or CRLF; header names are case-insensitive; other
 * headers are ignored; a NUL byte ends the header lines (HTTP has none). Placeholders stand for what only exists in this
 * process (secrets and certificates are random per run):
 *   - in Authorization: @TOKEN@ (client-auth, token.fuzz.example),
 *     @OSDTOKEN@ (osd-media, osd.fuzz.example), @ISVTOKEN@ (isv-proxy,
 *     isv.fuzz.example + UPN isv@fuzz.example) become base64("ID:SECRET")
 *     of an unused token: one is made per template at start-up and
 *     replaced by a new one once spent, so that every input carrying the
 *     placeholder sees an unused token (a token is single-use and there is
 *     no API to re-arm one);
 *   - as an X-Peer value: @PEER@ (client-auth certificate of
 *     peer.fuzz.example), @AGENT@ (client-auth certificate of
 *     agent.fuzz.example, configured as an enrollment agent for web-server
 *     and mobile-device), @REVOKED@ (revoked), @BLOCKED@ (on the block
 *     list), @CA@ (the CA certificate itself).
 *
 * The CA (EC P-256, site code FZ1) is made once per process in a temporary
 * directory (TMPDIR, else /dev/shm, else /tmp) removed at exit. It is opened
 * twice, as the service runs: with its key for the issue function (the
 * signer's work, in-process: the request goes through the signer's wire
 * encoding and parser, then sp_template_cache_get + sp_req_parse +
 * sp_issue), and without it for sp_est_new. Issuance, queueing and audit
 * are real and committed, so the store grows during a run (on tmpfs when
 * /dev/shm is used); only inputs with a valid CSR signature can add
 * certificates or queued requests.
 *
 * The response is checked against the contract of est.h (abort on a
 * violation): a status in 200..599, an error status with a one-line
 * text/plain body, 405 with Allow, 202 with Retry-After, a base64 body that
 * decodes, NUL-terminated identity and serial, and an identity of printable
 * ASCII without spaces (FUZZ_EST_CHECK_IDENTITY=0 turns that one off).
 * FUZZ_EST_VERBOSE=1 prints each request's answer to stderr.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "enroll/est.h"
#include "enroll/serve_config.h"
#include "enroll/signer_int.h"
#include "enroll/token.h"
#include "revocation/revocation.h"
#include "templates/templates.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADER_BLOCK (16 * 1024) /* as the service's default max_header */
#define MAX_PEERS 3
#define DEFAULT_CLIENT "192.0.2.1"

typedef struct {
	const char *placeholder;
	const char *template_name;
	const char *dns;
	const char *upn;
	int64_t id;
	char *cred; /* base64("ID:SECRET"), NUL-terminated */
} token_slot;

typedef struct {
	const char *placeholder;
	const char *cn; /* NULL: the CA certificate */
	uint8_t *der;
	size_t len;
	char serial[41];
} peer_slot;

enum { PEER_PEER, PEER_AGENT, PEER_REVOKED, PEER_BLOCKED, PEER_CA, N_PEERS };
#define N_TOKENS 3

static struct {
	char dir[256];
	sp_ca *ca_key; /* with the key: the issue function (the signer's side) */
	sp_ca *ca_svc; /* without: the service's side */
	sp_template_cache *tc;
	sp_serve_config *cfg;
	sp_est *est;
	uint8_t *msg; /* the signer message buffer, SP_SIGNER_MAX_MSG bytes */
	sp_signer_msg *m;
	token_slot tok[N_TOKENS];
	peer_slot peer[N_PEERS];
	int verbose, check_identity;
} g = {
	.tok =
		{
			{"@TOKEN@", "client-auth", "token.fuzz.example", NULL, 0, NULL},
			{"@OSDTOKEN@", "osd-media", "osd.fuzz.example", NULL, 0, NULL},
			{"@ISVTOKEN@", "isv-proxy", "isv.fuzz.example", "isv@fuzz.example", 0, NULL},
		},
	.peer =
		{
			{"@PEER@", "peer.fuzz.example", NULL, 0, ""},
			{"@AGENT@", "agent.fuzz.example", NULL, 0, ""},
			{"@REVOKED@", "revoked.fuzz.example", NULL, 0, ""},
			{"@BLOCKED@", "blocked.fuzz.example", NULL, 0, ""},
			{"@CA@", NULL, NULL, 0, ""},
		},
};

/* The passphrase lives in static memory: it protects a throw-away key. */
static char pass_buf[] = "fuzz passphrase (throw-away CA)";

_Noreturn static void die(const char *what)
{
	fprintf(stderr, "fuzz_est: %s: %s\n", what, sp_last_error());
	abort();
}

_Noreturn static void violation(const char *what, const sp_est_response *rs)
{
	fprintf(stderr, "fuzz_est: response breaks the est.h contract: %s (status %d, %zu body bytes: %.*s)\n", what,
		rs->status, rs->body_len, rs->body ? (int)(rs->body_len > 300 ? 300 : rs->body_len) : 0,
		rs->body ? rs->body : "");
	abort();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void token_slot_clear(token_slot *t)
{
	if (t->cred) {
		OPENSSL_cleanse(t->cred, strlen(t->cred));
		free(t->cred);
	}
	t->cred = NULL;
	t->id = 0;
}

static void teardown(void)
{
	size_t i;

	sp_est_free(g.est);
	sp_serve_config_free(g.cfg);
	sp_template_cache_free(g.tc);
	sp_ca_close(g.ca_svc);
	sp_ca_close(g.ca_key);
	for (i = 0; i < N_TOKENS; i++)
		token_slot_clear(&g.tok[i]);
	for (i = 0; i < N_PEERS; i++) {
		free(g.peer[i].der);
		g.peer[i].der = NULL;
	}
	free(g.msg);
	free(g.m);
	if (g.dir[0])
		nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	g.est = NULL;
	g.cfg = NULL;
	g.tc = NULL;
	g.ca_svc = g.ca_key = NULL;
	g.msg = NULL;
	g.m = NULL;
	g.dir[0] = '\0';
}

/* ---------------------------------------------------- the issue function */

/* What sp_signer_issue + the signer child do, in-process: the parent's
 * argument checks, the ISSUE message built with the signer's writer and
 * read back with its parser (so the wire limits apply as in the service),
 * then serve_one's sequence, and an error carried as the ERROR message
 * would carry it (code, message cut at SP_SIGNER_MAX_ERRMSG). */
static sp_err issue_in_process(const char *template_name, const uint8_t *csr, size_t csr_len, const sp_issue_opts *o,
			       sp_issued *out)
{
	const char *dns[SP_SIGNER_MAX_DNS];
	const sp_template *t = NULL;
	sp_signer_wbuf w;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	sp_issue_opts io;
	size_t len = 0, i;
	sp_err rc;

	/* the parent (sp_signer_issue, build_issue) */
	if (!template_name || !csr || !o || !o->requester || !out)
		return sp_fail(SP_ERR_USAGE, "sp_signer_issue: handle, template, CSR, options with a requester "
					     "and outputs are required");
	if (csr_len == 0 || csr_len > SP_MAX_CSR_BYTES)
		return sp_fail(SP_ERR_INPUT, "CSR of %zu bytes (limit %d)", csr_len, SP_MAX_CSR_BYTES);
	if (o->n_dns > SP_SIGNER_MAX_DNS)
		return sp_fail(SP_ERR_INPUT, "%zu dNSNames, over the limit of %d", o->n_dns, SP_SIGNER_MAX_DNS);
	if (o->n_dns && !o->dns)
		return sp_fail(SP_ERR_USAGE, "sp_signer_issue: n_dns without dns");
	sp_signer_wbuf_init(&w, g.msg, SP_SIGNER_MAX_MSG, SP_SG_ISSUE);
	sp_signer_put_str(&w, SP_SGT_TEMPLATE, template_name);
	sp_signer_put_bytes(&w, SP_SGT_CSR, csr, csr_len);
	for (i = 0; i < o->n_dns; i++)
		sp_signer_put_str(&w, SP_SGT_DNS, o->dns[i] ? o->dns[i] : "");
	if (o->upn)
		sp_signer_put_str(&w, SP_SGT_UPN, o->upn);
	if (o->site_code)
		sp_signer_put_str(&w, SP_SGT_SITE, o->site_code);
	sp_signer_put_str(&w, SP_SGT_REQUESTER, o->requester);
	if ((rc = sp_signer_wbuf_finish(&w, &len)) != SP_OK)
		return rc;

	/* the signer (serve_one) */
	sp_clear_error();
	if ((rc = sp_signer_msg_parse(g.msg, len, g.m)) != SP_OK)
		goto out;
	if (g.m->type != SP_SG_ISSUE) {
		rc = sp_fail(SP_ERR_PROTOCOL, "signer: message type %u is not a request", g.m->type);
		goto out;
	}
	if ((rc = sp_template_cache_get(g.tc, g.m->template_name, &t)) != SP_OK)
		goto out;
	if ((rc = sp_req_parse(g.m->csr, g.m->csr_len, &req)) != SP_OK)
		goto out;
	for (i = 0; i < g.m->n_dns; i++)
		dns[i] = g.m->dns[i];
	memset(&io, 0, sizeof io);
	io.dns = g.m->n_dns ? dns : NULL;
	io.n_dns = g.m->n_dns;
	io.upn = *g.m->upn ? g.m->upn : NULL;
	io.site_code = *g.m->site ? g.m->site : NULL;
	io.requester = g.m->requester;
	if ((rc = sp_issue(g.ca_key, t, req, &io, &x)) != SP_OK)
		goto out;
	/* answer_one: the certificate, its serial, the certs-only PKCS#7 */
	rc = sp_issued_fill(out, x, NULL, 0);
out:
	X509_free(x);
	X509_REQ_free(req);
	if (rc != SP_OK) {
		/* build_error in the child, sp_fail in the parent */
		char msg[SP_SIGNER_MAX_ERRMSG + 1];
		snprintf(msg, sizeof msg, "%s", *sp_last_error() ? sp_last_error() : sp_err_name(rc));
		rc = sp_fail(rc, "%s", msg);
	}
	return rc;
}

/* sp_est_issue_fn */
static sp_err fuzz_issue(void *arg, const char *template_name, const uint8_t *csr, size_t csr_len,
			 const sp_issue_opts *o, sp_issued *out)
{
	(void)arg;
	if (out)
		memset(out, 0, sizeof *out);
	return issue_in_process(template_name, csr, csr_len, o, out);
}

/* ------------------------------------------------------------ start-up */

/* A client-auth certificate for cn (RSA-2048, CN and SAN dNSName = cn),
 * issued through the issue function as a service request would be. */
static void make_peer(peer_slot *p)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	X509_REQ *req = X509_REQ_new();
	X509_NAME *nm = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san = NULL;
	unsigned char *der = NULL;
	char sanv[300];
	sp_issue_opts o;
	X509 *x = NULL;
	int n;

	snprintf(sanv, sizeof sanv, "DNS:%s", p->cn);
	if (!k || !req || !nm || !exts ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)p->cn, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(req, nm) || !X509_REQ_set_pubkey(req, k) ||
	    !(san = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, sanv)) || !sk_X509_EXTENSION_push(exts, san) ||
	    !X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, k, EVP_sha256()) ||
	    (n = i2d_X509_REQ(req, &der)) <= 0)
		die("building a peer CSR");
	san = NULL;
	memset(&o, 0, sizeof o);
	o.requester = "fuzz:init";
	{
		sp_issued got;
		if (fuzz_issue(NULL, "client-auth", der, (size_t)n, &o, &got) != SP_OK)
			die(p->cn);
		p->der = got.cert; /* kept; the rest is not needed */
		p->len = got.cert_len;
		got.cert = NULL;
		sp_issued_clear(&got);
	}
	if (sp_cert_parse(p->der, p->len, &x) != SP_OK ||
	    sp_serial_hex(X509_get0_serialNumber(x), p->serial, sizeof p->serial) != SP_OK)
		die("reading a peer certificate");
	X509_free(x);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(nm);
	X509_REQ_free(req);
	EVP_PKEY_free(k);
}

/* A new unused token for slot t (the old one, if any, is forgotten). */
static void token_new(token_slot *t)
{
	sp_token_spec spec;
	const char *dns[1];
	char *secret = NULL, *plain;
	size_t plen, clen;
	int64_t id = 0;

	token_slot_clear(t);
	memset(&spec, 0, sizeof spec);
	dns[0] = t->dns;
	spec.template_name = t->template_name;
	spec.dns = dns;
	spec.n_dns = 1;
	spec.upn = t->upn;
	spec.ttl_seconds = SP_TOKEN_TTL_MAX;
	if (sp_token_create(sp_ca_get0_store(g.ca_key), &spec, "fuzz", &id, &secret) != SP_OK)
		die("sp_token_create");
	plen = strlen(secret) + 32;
	clen = 4 * ((plen + 2) / 3) + 1;
	if (!(plain = malloc(plen)) || !(t->cred = malloc(clen)))
		die("out of memory");
	plen = (size_t)snprintf(plain, plen, "%lld:%s", (long long)id, secret);
	EVP_EncodeBlock((unsigned char *)t->cred, (const unsigned char *)plain, (int)plen);
	t->id = id;
	OPENSSL_cleanse(plain, plen);
	free(plain);
	OPENSSL_cleanse(secret, strlen(secret));
	free(secret);
}

/* The agent: its certificate's template and subject as the store has them
 * (what est_peer_check compares), allowed two other templates. */
static void add_agent(void)
{
	static const char *const allow[] = {"web-server", "mobile-device"};
	sp_serve_agent *a;
	sp_cert_row row;
	size_t i;

	memset(&row, 0, sizeof row);
	if (sp_store_cert_get(sp_ca_get0_store(g.ca_key), g.peer[PEER_AGENT].serial, &row) != SP_OK)
		die("agent certificate row");
	if (!(g.cfg->agents = calloc(1, sizeof *g.cfg->agents)))
		die("out of memory");
	g.cfg->n_agents = 1;
	a = &g.cfg->agents[0];
	if (!(a->template_name = strdup(row.template_name)) || !(a->subject = strdup(row.subject)) ||
	    !(a->allow = calloc(2, sizeof *a->allow)))
		die("out of memory");
	for (i = 0; i < 2; i++) {
		if (!(a->allow[i] = strdup(allow[i])))
			die("out of memory");
		a->n_allow++;
	}
	sp_cert_row_clear(&row);
}

static const char *scratch_root(void)
{
	const char *tmp = getenv("TMPDIR");
	struct stat sb;

	if (tmp && *tmp)
		return tmp;
	/* tmpfs: the store commits every issued certificate and audit row */
	if (stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) && access("/dev/shm", W_OK | X_OK) == 0)
		return "/dev/shm";
	return "/tmp";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	sp_secret pass = {pass_buf, sizeof pass_buf - 1};
	sp_ca_init_opts o;
	sp_store *st;
	char home[300];
	const char *v;
	X509 *x = NULL;
	unsigned char *der = NULL;
	int n, reason = 0;
	size_t i;

	(void)argc;
	(void)argv;
	g.verbose = (v = getenv("FUZZ_EST_VERBOSE")) != NULL && *v && strcmp(v, "0") != 0;
	/* on unless FUZZ_EST_CHECK_IDENTITY=0 (the log-injection bug it found is fixed) */
	g.check_identity = !((v = getenv("FUZZ_EST_CHECK_IDENTITY")) != NULL && strcmp(v, "0") == 0);
	snprintf(g.dir, sizeof g.dir, "%s/sitepki-fuzz-est.XXXXXX", scratch_root());
	if (!mkdtemp(g.dir)) {
		g.dir[0] = '\0';
		perror("fuzz_est: mkdtemp");
		abort();
	}
	atexit(teardown);
	if (!(g.msg = malloc(SP_SIGNER_MAX_MSG)) || !(g.m = malloc(sizeof *g.m)))
		die("out of memory");
	snprintf(home, sizeof home, "%s/ca", g.dir);
	memset(&o, 0, sizeof o);
	o.name = "sitepki fuzz CA";
	o.site_code = "FZ1";
	o.key_alg = "ec-p256";
	o.days = 400;
	if (sp_ca_init(home, &o, &pass) != SP_OK)
		die("sp_ca_init");
	if (sp_ca_open(home, &pass, &g.ca_key) != SP_OK)
		die("sp_ca_open (with the key)");
	if (!(g.tc = sp_template_cache_new(sp_ca_get0_home(g.ca_key))))
		die("sp_template_cache_new");
	st = sp_ca_get0_store(g.ca_key);

	for (i = 0; i < N_PEERS; i++)
		if (g.peer[i].cn)
			make_peer(&g.peer[i]);
	if ((n = i2d_X509(sp_ca_get0_cert(g.ca_key), &der)) <= 0 || !(g.peer[PEER_CA].der = malloc((size_t)n)))
		die("the CA certificate");
	memcpy(g.peer[PEER_CA].der, der, (size_t)n);
	g.peer[PEER_CA].len = (size_t)n;
	OPENSSL_free(der);
	if (sp_reason_parse("keyCompromise", &reason) != SP_OK || sp_store_begin(st) != SP_OK ||
	    sp_revoke(g.ca_key, g.peer[PEER_REVOKED].serial, reason, (int64_t)time(NULL), "fuzz", NULL) != SP_OK ||
	    sp_store_commit(st) != SP_OK)
		die("revoking the @REVOKED@ certificate");
	if (sp_cert_parse(g.peer[PEER_BLOCKED].der, g.peer[PEER_BLOCKED].len, &x) != SP_OK ||
	    sp_store_begin(st) != SP_OK || sp_block_add_cert(g.ca_key, x, "fuzz", "fuzz") != SP_OK ||
	    sp_store_commit(st) != SP_OK)
		die("blocking the @BLOCKED@ certificate");
	X509_free(x);

	for (i = 0; i < N_TOKENS; i++)
		token_new(&g.tok[i]);

	if (sp_serve_config_defaults(&g.cfg) != SP_OK)
		die("sp_serve_config_defaults");
	add_agent();
	if (sp_ca_open(home, NULL, &g.ca_svc) != SP_OK)
		die("sp_ca_open (without the key)");
	if (sp_est_new(g.ca_svc, g.cfg, fuzz_issue, NULL, &g.est) != SP_OK)
		die("sp_est_new");
	return 0;
}

/* --------------------------------------------------------- per request */

/* A copy of s with every `ph` replaced by `val` (malloc'd). */
static char *replace_all(const char *s, const char *ph, const char *val)
{
	size_t lp = strlen(ph), lv = strlen(val), count = 0, len;
	const char *p;
	char *out, *w;

	for (p = s; (p = strstr(p, ph)) != NULL; p += lp)
		count++;
	len = strlen(s) + count * lv + 1; /* lv >= lp or not, this is enough */
	if (!(out = malloc(len)))
		die("out of memory");
	for (w = out; (p = strstr(s, ph)) != NULL; s = p + lp) {
		memcpy(w, s, (size_t)(p - s));
		w += p - s;
		memcpy(w, val, lv);
		w += lv;
	}
	strcpy(w, s);
	return out;
}

/* The Authorization value with the token placeholders filled in; a token
 * that was spent (or is still claimed) is replaced first. */
static char *authorization(const char *value)
{
	char *cur, *next;
	size_t i;

	if (!(cur = strdup(value)))
		die("out of memory");
	for (i = 0; i < N_TOKENS; i++) {
		token_slot *t = &g.tok[i];
		sp_token_row row;
		if (!strstr(cur, t->placeholder))
			continue;
		memset(&row, 0, sizeof row);
		if (sp_store_token_get(sp_ca_get0_store(g.ca_key), t->id, &row) != SP_OK)
			die("sp_store_token_get");
		if (row.state != SP_TOKEN_UNUSED)
			token_new(t);
		sp_token_row_clear(&row);
		next = replace_all(cur, t->placeholder, t->cred);
		free(cur);
		cur = next;
	}
	return cur;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* An X-Peer value: a placeholder, or hex digits (anything else skipped,
 * an odd last digit dropped). *owned is set when the bytes are malloc'd. */
static void peer_value(const char *v, const uint8_t **der, size_t *len, uint8_t **owned)
{
	size_t i, n = 0;
	int hi = -1;
	uint8_t *b;

	*owned = NULL;
	for (i = 0; i < N_PEERS; i++)
		if (!strcmp(v, g.peer[i].placeholder)) {
			*der = g.peer[i].der;
			*len = g.peer[i].len;
			return;
		}
	if (!(b = malloc(strlen(v) / 2 + 1)))
		die("out of memory");
	for (; *v; v++) {
		int d = hexval((unsigned char)*v);
		if (d < 0)
			continue;
		if (hi < 0) {
			hi = d;
		} else {
			b[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	*owned = b;
	*der = b;
	*len = n;
}

/* "Name: value" -> value if the line's name is `name` (case-insensitive). */
static const char *header_value(const char *line, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(line, name, n) != 0 || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}

static int printable_token(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

static void check_response(const sp_est_response *rs)
{
	if (rs->status < 200 || rs->status > 599)
		violation("status out of range", rs);
	if (rs->body_len && !rs->body)
		violation("body_len without a body", rs);
	if (!memchr(rs->identity, '\0', sizeof rs->identity) || !memchr(rs->serial, '\0', sizeof rs->serial))
		violation("identity or serial not NUL-terminated", rs);
	if (g.check_identity && !printable_token(rs->identity))
		violation("identity with spaces or control characters (it is logged unescaped)", rs);
	if (rs->status >= 400) {
		const char *nl;
		if (!rs->content_type || strncmp(rs->content_type, "text/plain", 10) != 0)
			violation("error without a text/plain body", rs);
		if (!rs->body || rs->body_len == 0 || rs->body[rs->body_len - 1] != '\n')
			violation("error body is not one line ending in LF", rs);
		nl = memchr(rs->body, '\n', rs->body_len);
		if (nl != rs->body + rs->body_len - 1)
			violation("error body has more than one line", rs);
		if (memchr(rs->body, '\0', rs->body_len))
			violation("error body contains a NUL", rs);
	}
	if (rs->status == 405 && !rs->allow)
		violation("405 without Allow", rs);
	if (rs->status == 202 && rs->retry_after == 0)
		violation("202 without Retry-After", rs);
	if (rs->status == 200 && rs->base64) {
		uint8_t *der = NULL;
		size_t len = 0;
		if (sp_est_b64_decode((const uint8_t *)rs->body, rs->body_len, &der, &len) != SP_OK || len == 0)
			violation("base64 body does not decode", rs);
		free(der);
	}
	if (rs->status == 200 && !rs->content_type)
		violation("200 without a Content-Type", rs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *peer_der[MAX_PEERS];
	size_t peer_len[MAX_PEERS];
	uint8_t *peer_owned[MAX_PEERS];
	const uint8_t *body = NULL;
	size_t hlen = 0, body_len = 0, i, n_peer = 0;
	char *hdr, *line, *next, *auth = NULL, *sp;
	sp_est_request rq;
	sp_est_response rs;
	int first = 1;

	/* the header block ends at the first empty line (LF LF or LF CR LF) */
	for (i = 0; i < size && !body; i++) {
		if (data[i] != '\n')
			continue;
		if (i + 1 < size && data[i + 1] == '\n')
			body = data + i + 2;
		else if (i + 2 < size && data[i + 1] == '\r' && data[i + 2] == '\n')
			body = data + i + 3;
		else
			continue;
		hlen = i + 1;
	}
	if (!body)
		hlen = size;
	else
		body_len = size - (size_t)(body - data);
	/* what the service refuses before the handler runs */
	if (hlen > MAX_HEADER_BLOCK || body_len > g.cfg->max_body)
		return 0;
	if (body_len == 0)
		body = NULL; /* as the HTTP layer hands over a request without a body */
	if (!(hdr = malloc(hlen + 1)))
		die("out of memory");
	memcpy(hdr, data, hlen);
	hdr[hlen] = '\0';

	memset(&rq, 0, sizeof rq);
	rq.method = "";
	rq.path = "";
	rq.client = DEFAULT_CLIENT;
	for (line = hdr; line; line = next) {
		const char *v;
		size_t l;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[l - 1] = '\0';
		if (first) {
			first = 0;
			rq.method = line;
			if ((sp = strchr(line, ' ')) != NULL) {
				*sp = '\0';
				rq.path = sp + 1;
			}
		} else if ((v = header_value(line, "Content-Type")) != NULL) {
			rq.content_type = v;
		} else if ((v = header_value(line, "Authorization")) != NULL) {
			free(auth);
			auth = authorization(v);
			rq.authorization = auth;
		} else if ((v = header_value(line, "X-Peer")) != NULL) {
			if (n_peer < MAX_PEERS) {
				peer_value(v, &peer_der[n_peer], &peer_len[n_peer], &peer_owned[n_peer]);
				n_peer++;
			}
		} else if ((v = header_value(line, "X-Client")) != NULL) {
			rq.client = v;
		}
	}
	rq.body = body;
	rq.body_len = body_len;
	rq.peer_der = n_peer ? peer_der : NULL;
	rq.peer_len = n_peer ? peer_len : NULL;
	rq.n_peer = n_peer;

	sp_est_handle(g.est, &rq, &rs);
	if (g.verbose) {
		/* the first line of an error or 202 text, none of a 200 body */
		const char *nl = rs.status >= 202 && rs.body ? memchr(rs.body, '\n', rs.body_len) : NULL;
		int shown = rs.status >= 202 && rs.body ? (int)(nl ? (size_t)(nl - rs.body) : rs.body_len) : 0;
		fprintf(stderr, "fuzz_est: %s %s -> %d %s [%s]%s%s %.*s\n", rq.method, rq.path, rs.status,
			rs.content_type ? rs.content_type : "-", rs.identity, *rs.serial ? " serial " : "", rs.serial,
			shown, rs.body ? rs.body : "");
	}
	check_response(&rs);
	sp_est_response_clear(&rs);

	for (i = 0; i < n_peer; i++)
		free(peer_owned[i]);
	if (auth) {
		OPENSSL_cleanse(auth, strlen(auth));
		free(auth);
	}
	free(hdr);
	return 0;
}
