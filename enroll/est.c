/*
 * est.c - one EST request in, one HTTP answer out (RFC 7030 with the
 * template name as the label).
 *
 *   GET  /.well-known/est[/<template>]/cacerts
 *   GET  /.well-known/est/<template>/csrattrs
 *   POST /.well-known/est/<template>/simpleenroll
 *   POST /.well-known/est/<template>/simplereenroll
 *   POST /.well-known/est/<template>/serverkeygen
 *
 * The approval decision (docs/serve.md "Who gets a certificate"):
 *   - a presented TLS client certificate that is blocked, revoked, on hold,
 *     expired or not from this CA: 403 and an audit row, whatever else the
 *     request carries;
 *   - a valid client certificate re-enrolling its own names for the
 *     template it was issued from, or an enrollment agent (configured)
 *     asking for a template it is allowed: issued at once when the template
 *     auto-approves "clientcert", else queued;
 *   - a one-time token (HTTP Basic): wrong, used or expired -> 401, for
 *     other names or another template -> 403; valid -> issued at once when
 *     the template auto-approves "token", else queued;
 *   - anything else is queued (202 + Retry-After), unless the configuration
 *     refuses anonymous requests (401 + WWW-Authenticate). simplereenroll
 *     always needs the certificate being renewed (401 without one).
 * A queued request is found again by its CSR (SHA-256 of the DER) when the
 * client retries (RFC 7030 4.2.3): 202 while pending, the certificate once
 * approved, 403 once rejected.
 */
#include "enroll/est_int.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "enroll/signer.h"
#include "enroll/token.h"
#include "media/media.h"

#define EST_PREFIX "/.well-known/est/"
#define CT_PKCS7 "application/pkcs7-mime; smime-type=certs-only"
#define CT_PKCS7_CACERTS "application/pkcs7-mime"
#define CT_CSRATTRS "application/csrattrs"
#define CT_TEXT "text/plain; charset=us-ascii"
#define MULTIPART_BOUNDARY "sitepki-est-boundary-7d1f"
#define CT_MULTIPART "multipart/mixed; boundary=" MULTIPART_BOUNDARY
#define MAX_AUTH_HEADER 1024

typedef enum { OP_CACERTS, OP_CSRATTRS, OP_SIMPLEENROLL, OP_SIMPLEREENROLL, OP_SERVERKEYGEN } est_op;

static const struct {
	const char *name;
	est_op op;
	int post;
} ops[] = {
	{"cacerts", OP_CACERTS, 0},
	{"csrattrs", OP_CSRATTRS, 0},
	{"simpleenroll", OP_SIMPLEENROLL, 1},
	{"simplereenroll", OP_SIMPLEREENROLL, 1},
	{"serverkeygen", OP_SERVERKEYGEN, 1},
};

/* ------------------------------------------------------------ answers */

static void set_text(sp_est_response *rs, int status, const char *msg)
{
	size_t n = strlen(msg);

	free(rs->body);
	rs->status = status;
	rs->content_type = CT_TEXT;
	rs->base64 = 0;
	rs->body = malloc(n + 2);
	rs->body_len = 0;
	if (rs->body) {
		memcpy(rs->body, msg, n);
		rs->body[n] = '\n';
		rs->body[n + 1] = '\0';
		rs->body_len = n + 1;
	}
}

static void set_textf(sp_est_response *rs, int status, const char *fmt, ...) SP_PRINTF(3, 4);
static void set_textf(sp_est_response *rs, int status, const char *fmt, ...)
{
	char msg[1200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	set_text(rs, status, msg);
}

/* The status an sp_err from checking or issuing becomes. */
static int status_of(sp_err rc)
{
	switch (rc) {
	case SP_ERR_POLICY:
	case SP_ERR_INPUT:
	case SP_ERR_USAGE:
		return 400;
	case SP_ERR_AUTH:
		return 401;
	case SP_ERR_BLOCKED:
	case SP_ERR_PERM:
		return 403;
	case SP_ERR_NOTFOUND:
		return 404;
	case SP_ERR_EXISTS:
		return 409;
	case SP_ERR_IO:
		return 503;
	default:
		return 500;
	}
}

static void fail_with(sp_est_response *rs, sp_err rc)
{
	set_text(rs, status_of(rc), sp_last_error());
}

static sp_err set_b64(sp_est_response *rs, const char *ct, const uint8_t *der, size_t len)
{
	char *b64 = NULL;
	size_t n = 0;
	sp_err rc = sp_est_b64_encode(der, len, &b64, &n);

	if (rc != SP_OK)
		return rc;
	free(rs->body);
	rs->status = 200;
	rs->content_type = ct;
	rs->body = b64;
	rs->body_len = n;
	rs->base64 = 1;
	return SP_OK;
}

static sp_err answer_cert(sp_est_response *rs, const uint8_t *cert_der, size_t cert_len)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	X509 *x = NULL;
	uint8_t *p7 = NULL;
	size_t p7_len = 0;
	sp_err rc;

	if (!sk) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* only re-encoded into the PKCS#7: the key is not decoded */
	if ((rc = sp_cert_parse_nokey(cert_der, cert_len, &x)) != SP_OK)
		goto out;
	if ((rc = sp_serial_hex(X509_get0_serialNumber(x), rs->serial, sizeof rs->serial)) != SP_OK)
		goto out;
	if (!sk_X509_push(sk, x)) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	x = NULL;
	if ((rc = sp_est_certs_only(sk, &p7, &p7_len)) != SP_OK)
		goto out;
	rc = set_b64(rs, CT_PKCS7, p7, p7_len);
out:
	free(p7);
	X509_free(x);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

/* A certificate just issued: the PKCS#7 and serial came with it. */
static sp_err answer_issued(sp_est_response *rs, const sp_issued *x)
{
	memcpy(rs->serial, x->serial, sizeof rs->serial);
	return set_b64(rs, CT_PKCS7, x->p7, x->p7_len);
}

/* --------------------------------------------------------------- audit */

static void audit(sp_est *e, const char *actor, const char *action, const char *subject, const char *detail)
{
	sp_store *st = sp_ca_get0_store(e->ca);

	/* Best effort on the refusal path: the refusal is answered whether or
	 * not the row can be written, and a failure is in the service log. */
	pthread_mutex_lock(&e->lock);
	if (sp_store_begin(st) == SP_OK) {
		if (sp_store_audit_append(st, actor, action, subject, detail) != SP_OK ||
		    sp_store_commit(st) != SP_OK)
			sp_store_rollback(st);
	}
	pthread_mutex_unlock(&e->lock);
}

/* ------------------------------------------------------------- routing */

static int label_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return 0;
	return 1;
}

/* "application/pkcs10" with optional parameters, any case. */
static int is_pkcs10(const char *ct)
{
	size_t n = strlen("application/pkcs10");

	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	return strncasecmp(ct, "application/pkcs10", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* --------------------------------------------------------- enrollment */

typedef struct {
	const sp_template *t;   /* borrowed from the sp_est template cache */
	X509_REQ *req;
	uint8_t *csr;          /* DER as received (decoded from base64) */
	size_t csr_len;
	char csr_sha256[65];
	est_peer peer;
	int have_token;
	sp_token_row token;
	char requester[128];
	const char *const *dns; /* request-context names (from the token) */
	size_t n_dns;
	char *dns_buf;
	const char *dns_v[SP_SIGNER_MAX_DNS];
	const char *upn;
	char prior[41];         /* serial of the certificate already issued for this CSR */
	char prior_requester[128]; /* and who asked for it ("est:token:3", "est:cert:<serial>") */
	int have_prior;
} enroll_ctx;

static void enroll_ctx_clear(enroll_ctx *c)
{
	X509_REQ_free(c->req);
	free(c->csr);
	est_peer_clear(&c->peer);
	if (c->have_token)
		sp_token_row_clear(&c->token);
	free(c->dns_buf);
	memset(c, 0, sizeof *c);
}

/* Split the token's bound "a,b" dNSNames into the request context. */
static sp_err token_names(enroll_ctx *c)
{
	char *p, *save = NULL, *tok;

	if (c->token.dns && *c->token.dns) {
		if (!(c->dns_buf = strdup(c->token.dns)))
			return sp_fail(SP_ERR_NOMEM, "out of memory");
		for (p = c->dns_buf; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
			if (c->n_dns == SP_SIGNER_MAX_DNS)
				return sp_fail(SP_ERR_INPUT, "token %lld binds too many names", (long long)c->token.id);
			c->dns_v[c->n_dns++] = tok;
		}
		c->dns = c->dns_v;
	}
	if (c->token.upn && *c->token.upn)
		c->upn = c->token.upn;
	return SP_OK;
}

/* Basic credentials -> user and password (NUL-terminated, in buf). */
static sp_err parse_basic(const char *hdr, char **buf, size_t *buf_len, char **user, char **pass)
{
	uint8_t *dec = NULL;
	size_t n = 0;
	char *colon;
	sp_err rc;

	*buf = NULL;
	if (strlen(hdr) > MAX_AUTH_HEADER)
		return sp_fail(SP_ERR_AUTH, "Authorization header too long");
	if (strncasecmp(hdr, "Basic ", 6) != 0)
		return sp_fail(SP_ERR_AUTH, "only HTTP Basic authorization (an enrollment token) is accepted");
	if ((rc = sp_est_b64_decode((const uint8_t *)hdr + 6, strlen(hdr + 6), &dec, &n)) != SP_OK)
		return sp_fail(SP_ERR_AUTH, "Authorization: Basic credentials are not base64");
	if (!(*buf = malloc(n + 1))) {
		OPENSSL_cleanse(dec, n);
		free(dec);
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	memcpy(*buf, dec, n);
	(*buf)[n] = '\0';
	*buf_len = n;
	OPENSSL_cleanse(dec, n);
	free(dec);
	if (strlen(*buf) != n || !(colon = strchr(*buf, ':'))) {
		OPENSSL_cleanse(*buf, n);
		free(*buf);
		*buf = NULL;
		return sp_fail(SP_ERR_AUTH, "Authorization: Basic credentials are not user:password");
	}
	*colon = '\0';
	*user = *buf;
	*pass = colon + 1;
	return SP_OK;
}

static void wipe_free(char *s, size_t n)
{
	if (s) {
		OPENSSL_cleanse(s, n);
		free(s);
	}
}

/* Is the peer an enrollment agent allowed template t? */
static int agent_allows(const sp_est *e, const est_peer *p, const char *tname)
{
	size_t i, j;

	for (i = 0; i < e->cfg->n_agents; i++) {
		const sp_serve_agent *a = &e->cfg->agents[i];
		if (strcmp(a->template_name, p->template_name) != 0 || strcmp(a->subject, p->subject) != 0)
			continue;
		for (j = 0; j < a->n_allow; j++)
			if (!strcmp(a->allow[j], tname))
				return 1;
	}
	return 0;
}

/* Issue through the issue function and answer with the certificate (or,
 * for serverkeygen, the key and the certificate). */
static void issue_now(sp_est *e, enroll_ctx *c, const uint8_t *csr, size_t csr_len, EVP_PKEY *server_key,
		      sp_est_response *rs)
{
	sp_issue_opts o;
	sp_issued cert = {0};
	sp_err rc;

	memset(&o, 0, sizeof o);
	o.dns = c->dns;
	o.n_dns = c->n_dns;
	o.upn = c->upn;
	o.requester = c->requester;
	rc = e->issue(e->issue_arg, c->t->name, csr, csr_len, &o, &cert);
	if (c->have_token) {
		pthread_mutex_lock(&e->lock);
		/* a failed issue hands the token back: it was not spent */
		/* an error here still answers the committed certificate */
		(void)sp_token_finish(sp_ca_get0_store(e->ca), c->token.id, rc == SP_OK ? cert.serial : NULL,
				      time(NULL));
		pthread_mutex_unlock(&e->lock);
	}
	if (rc != SP_OK) {
		fail_with(rs, rc);
		goto out;
	}
	if (!server_key) {
		if ((rc = answer_issued(rs, &cert)) != SP_OK)
			fail_with(rs, rc);
		goto out;
	}
	{
		/* RFC 7030 4.4.2: multipart/mixed, the private key as PKCS#8
		 * (application/pkcs8) then the certificate (certs-only). */
		sp_est_response part;
		unsigned char *p8 = NULL;
		char *k64 = NULL, *body = NULL;
		size_t k64_len = 0, n;
		int p8_len;

		memset(&part, 0, sizeof part);
		if ((rc = answer_issued(&part, &cert)) != SP_OK) {
			fail_with(rs, rc);
			goto out;
		}
		memcpy(rs->serial, part.serial, sizeof rs->serial);
		if ((p8_len = i2d_PrivateKey(server_key, &p8)) <= 0 ||
		    sp_est_b64_encode(p8, (size_t)p8_len, &k64, &k64_len) != SP_OK) {
			set_text(rs, 500, "encoding the generated key failed");
			if (p8)
				OPENSSL_clear_free(p8, (size_t)p8_len);
			sp_est_response_clear(&part);
			goto out;
		}
		OPENSSL_clear_free(p8, (size_t)p8_len);
		n = k64_len + part.body_len + 512;
		if ((body = malloc(n)) != NULL) {
			int w = snprintf(body, n,
					 "--" MULTIPART_BOUNDARY "\r\nContent-Type: application/pkcs8\r\n"
					 "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n"
					 "--" MULTIPART_BOUNDARY "\r\nContent-Type: " CT_PKCS7 "\r\n"
					 "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--" MULTIPART_BOUNDARY "--\r\n",
					 k64, part.body);
			free(rs->body);
			rs->status = 200;
			rs->content_type = CT_MULTIPART;
			rs->body = body;
			rs->body_len = (size_t)w;
			rs->base64 = 0;
		} else {
			set_text(rs, 500, "out of memory");
		}
		OPENSSL_cleanse(k64, k64_len);
		free(k64);
		sp_est_response_clear(&part);
	}
out:
	sp_issued_clear(&cert);
}

/* A CSR already seen for this template (RFC 7030 4.2.3: the client's retry
 * is the same request again). A request still in the queue is answered
 * here: 202 while pending, 403 once rejected; returns 1. A request already
 * issued is remembered by its serial in c->prior (returns 0; the
 * certificate is read only if it is the answer): a client that may have a
 * certificate at once gets a new one (a renewal may well repeat its CSR),
 * any other client - the retry after approval, whose token was spent on
 * the queued request - gets the certificate issued for it. */
static int answer_from_queue(sp_est *e, enroll_ctx *c, sp_est_response *rs)
{
	sp_store *st = sp_ca_get0_store(e->ca);
	sp_request_row row;
	int answered = 1;
	sp_err rc;

	memset(&row, 0, sizeof row);
	pthread_mutex_lock(&e->lock);
	rc = sp_store_request_find_csr(st, c->t->name, c->csr_sha256, &row);
	if (rc == SP_OK && row.status == SP_REQ_ISSUED && *row.cert_serial) {
		snprintf(c->prior, sizeof c->prior, "%s", row.cert_serial);
		snprintf(c->prior_requester, sizeof c->prior_requester, "%s", row.requester);
		c->have_prior = 1;
	}
	pthread_mutex_unlock(&e->lock);
	if ((rc == SP_ERR_NOTFOUND && row.id == 0) || c->have_prior) {
		answered = 0;
	} else if (rc != SP_OK) {
		fail_with(rs, rc);
	} else if (row.status == SP_REQ_PENDING || row.status == SP_REQ_APPROVED) {
		set_textf(rs, 202, "request %lld is waiting for approval; retry later", (long long)row.id);
		rs->retry_after = e->cfg->retry_after;
	} else if (row.status == SP_REQ_REJECTED) {
		set_textf(rs, 403, "request %lld was rejected: %.300s", (long long)row.id, row.detail);
	} else {
		answered = 0;
	}
	sp_request_row_clear(&row);
	return answered;
}

/* Whether user:pass are the credentials of the token the already issued
 * request for this CSR was made with (e->lock held): a retry carries the
 * same credentials as the request (RFC 7030 4.2.3), so a wrong secret or
 * another token gets the refusal it would get for any other CSR. */
static int token_spent_on_prior(sp_est *e, enroll_ctx *c, const char *user, const char *pass)
{
	char want[48];
	int64_t id = 0;

	if (sp_token_authentic(sp_ca_get0_store(e->ca), user, pass, &id) != SP_OK) {
		sp_clear_error();
		return 0;
	}
	snprintf(want, sizeof want, "est:token:%lld", (long long)id);
	return strcmp(c->prior_requester, want) == 0;
}

/* The certificate already issued for this CSR (see answer_from_queue). */
static void answer_prior(sp_est *e, enroll_ctx *c, sp_est_response *rs)
{
	sp_cert_row prior;
	sp_err rc;

	memset(&prior, 0, sizeof prior);
	pthread_mutex_lock(&e->lock);
	rc = sp_store_cert_get(sp_ca_get0_store(e->ca), c->prior, &prior);
	pthread_mutex_unlock(&e->lock);
	if (rc != SP_OK)
		fail_with(rs, rc);
	else if (prior.status != SP_CERT_VALID)
		set_textf(rs, 403, "certificate %s issued for this request is revoked", prior.serial);
	else if ((rc = answer_cert(rs, prior.der, prior.der_len)) != SP_OK)
		fail_with(rs, rc);
	sp_cert_row_clear(&prior);
}

/* Queue a new request: 202 + Retry-After. */
static void queue_new(sp_est *e, enroll_ctx *c, sp_est_response *rs)
{
	sp_store *st = sp_ca_get0_store(e->ca);
	char *subject = sp_name_oneline(X509_REQ_get_subject_name(c->req));
	const char *dns = c->n_dns ? c->token.dns : "";
	size_t dlen = strlen(dns) + (c->upn ? strlen(c->upn) : 0) + 16;
	char *detail = malloc(dlen), adetail[400];
	sp_request_row rq;
	int64_t id = 0;
	sp_err rc;

	memset(&rq, 0, sizeof rq);
	/* names the authentication added travel with the request, so that
	 * "request approve" issues what the token allowed (docs/enrollment.md) */
	if (detail)
		snprintf(detail, dlen, "%s%s%s%s", c->n_dns ? "dns=" : "", dns,
			 c->upn ? (c->n_dns ? " upn=" : "upn=") : "", c->upn ? c->upn : "");
	rq.template_name = c->t->name;
	rq.requester = c->requester;
	rq.subject = subject ? subject : "";
	rq.status = SP_REQ_PENDING;
	rq.cert_serial = "";
	rq.detail = detail;
	rq.csr_der = c->csr;
	rq.csr_der_len = c->csr_len;
	pthread_mutex_lock(&e->lock);
	rc = subject && detail ? sp_store_begin(st) : sp_fail(SP_ERR_NOMEM, "out of memory");
	if (rc == SP_OK)
		rc = sp_store_request_insert(st, &rq, &id);
	if (rc == SP_OK) {
		snprintf(adetail, sizeof adetail, "template=%s request=%lld subject=%.300s", c->t->name,
			 (long long)id, rq.subject);
		rc = sp_store_audit_append(st, c->requester, "request-queued", "", adetail);
	}
	if (rc == SP_OK)
		rc = sp_store_commit(st);
	if (rc != SP_OK)
		sp_store_rollback(st);
	/* the token was spent on this request; a failed queue hands it back */
	if (c->have_token)
		(void)sp_token_finish(st, c->token.id, rc == SP_OK ? "" : NULL, time(NULL));
	pthread_mutex_unlock(&e->lock);
	free(subject);
	free(detail);
	if (rc != SP_OK) {
		fail_with(rs, rc);
		return;
	}
	set_textf(rs, 202, "request %lld is waiting for approval; retry later", (long long)id);
	rs->retry_after = e->cfg->retry_after;
}

/* The CSR parsed, the first time the service needs it: 0 (and the answer
 * set) if it is no CSR. */
static int csr_parsed(enroll_ctx *c, sp_est_response *rs)
{
	sp_err rc;

	if (!c->req && (rc = sp_req_parse(c->csr, c->csr_len, &c->req)) != SP_OK) {
		fail_with(rs, rc);
		return 0;
	}
	return 1;
}

/* Proof of possession (RFC 2986 4.2), checked here before the service acts
 * on a CSR itself: before a token is claimed, a request queued or a key
 * generated. A CSR that goes straight to the signer is not checked here:
 * the signer checks every CSR it signs and trusts nothing the service says,
 * so a second check here would only cost time (docs/serve.md). A CSR found
 * in the queue by its hash was checked when it was queued or issued. */
static int pop_ok(enroll_ctx *c, sp_est_response *rs)
{
	EVP_PKEY *pub = NULL;
	int ok;
	sp_err rc;

	if (!csr_parsed(c, rs))
		return 0;
	if ((rc = sp_req_get1_pubkey(c->req, &pub)) != SP_OK) {
		fail_with(rs, rc);
		return 0;
	}
	if (!(ok = X509_REQ_verify_ex(c->req, pub, NULL, NULL) == 1))
		set_text(rs, 400, "CSR signature does not verify (no proof of possession)");
	EVP_PKEY_free(pub);
	return ok;
}

static void enroll(sp_est *e, const sp_est_request *rq, est_op op, sp_est_response *rs, enroll_ctx *c)
{
	EVP_PKEY *server_key = NULL;
	X509_REQ *server_req = NULL;
	uint8_t md[32];
	int auto_ok = 0;
	sp_err rc;

	/* 1. the client certificate, judged before anything else: a blocked
	 * or revoked one is refused and audited whatever the request is */
	if ((rc = est_peer_check(e, rq, &c->peer)) != SP_OK) {
		char detail[600];
		snprintf(detail, sizeof detail, "client=%.64s %.500s", rq->client ? rq->client : "",
			 sp_last_error());
		set_text(rs, 403, sp_last_error());
		audit(e, "est", rc == SP_ERR_BLOCKED ? "est-refused-blocked" : "est-refused-cert", c->peer.serial,
		      detail);
		return;
	}
	if (!is_pkcs10(rq->content_type)) {
		set_textf(rs, 415, "Content-Type must be application/pkcs10, not %.100s",
			  rq->content_type ? rq->content_type : "(none)");
		return;
	}
	if (op == OP_SERVERKEYGEN && !c->t->server_keygen) {
		set_textf(rs, 400, "template %s does not allow server-side key generation", c->t->name);
		return;
	}
	/* 2. the CSR. Under a client certificate it is parsed only when the
	 * service decides something from it (renewal of the client's own names,
	 * proof of possession before queueing): an agent's request goes
	 * straight to the signer, which parses and checks every CSR it signs
	 * and answers one that is no CSR with the same 400. Without one it is
	 * checked first, so that no CSR is a 400 before any credential. */
	if ((rc = sp_est_b64_decode(rq->body, rq->body_len, &c->csr, &c->csr_len)) != SP_OK) {
		fail_with(rs, rc);
		return;
	}
	if (!c->peer.cert && !csr_parsed(c, rs))
		return;
	sp_sha256(c->csr, c->csr_len, md);
	sp_hex(md, 32, c->csr_sha256, 0);
	/* serverkeygen never queues, so it has no queue to answer from */
	if (op != OP_SERVERKEYGEN && answer_from_queue(e, c, rs)) {
		if (c->peer.cert)
			snprintf(rs->identity, sizeof rs->identity, "cert:%s", c->peer.serial);
		return;
	}

	/* 3. who is asking */
	if (c->peer.cert) {
		snprintf(rs->identity, sizeof rs->identity, "cert:%s", c->peer.serial);
		snprintf(c->requester, sizeof c->requester, "est:cert:%s", c->peer.serial);
		int own = 0;
		if (!strcmp(c->peer.template_name, c->t->name)) {
			if (!csr_parsed(c, rs))
				return;
			own = est_same_names(c->req, c->peer.cert);
		}
		/* re-enrollment renews the client's own certificate only; an
		 * agent asks for others with simpleenroll */
		if (own || (op != OP_SIMPLEREENROLL && agent_allows(e, &c->peer, c->t->name)))
			auto_ok = (c->t->auto_approve & SP_APPROVE_CLIENTCERT) != 0;
		else if (op == OP_SIMPLEREENROLL) {
			set_textf(rs, 403,
				  "simplereenroll: the CSR must carry the subject and names of client certificate %s "
				  "and ask for its template %s",
				  c->peer.serial, c->peer.template_name);
			return;
		}
	} else if (op == OP_SIMPLEREENROLL) {
		set_text(rs, 401, "simplereenroll needs the certificate being renewed as the TLS client certificate");
		return;
	} else if (rq->authorization) {
		char *buf = NULL, *user = NULL, *pass = NULL;
		size_t buf_len = 0;
		int own_retry = 0;
		if (!pop_ok(c, rs))
			return; /* nothing claimed yet */
		if ((rc = parse_basic(rq->authorization, &buf, &buf_len, &user, &pass)) == SP_OK) {
			pthread_mutex_lock(&e->lock);
			rc = sp_token_check(sp_ca_get0_store(e->ca), user, pass, c->t->name, c->req, time(NULL),
					    &c->token);
			if (rc != SP_OK && c->have_prior) {
				char why[512];
				snprintf(why, sizeof why, "%s", sp_last_error());
				own_retry = token_spent_on_prior(e, c, user, pass);
				if (!own_retry) /* the refusal names what sp_token_check found */
					(void)sp_fail(rc, "%s", why);
			}
			pthread_mutex_unlock(&e->lock);
			if (rc == SP_OK)
				c->have_token = 1;
			else if (user[strspn(user, "0123456789")] == '\0' && strlen(user) <= 19)
				snprintf(rs->identity, sizeof rs->identity, "token?:%s", user);
			else /* not a token id: nothing of it reaches the log */
				snprintf(rs->identity, sizeof rs->identity, "token?");
		}
		wipe_free(buf, buf_len);
		if (own_retry) {
			/* the retry after approval (or of a lost answer): the token
			 * was spent on this very request */
			answer_prior(e, c, rs);
			return;
		}
		if (rc != SP_OK) {
			char detail[600];
			snprintf(detail, sizeof detail, "client=%.64s template=%s %.400s",
				 rq->client ? rq->client : "", c->t->name, sp_last_error());
			if (rc == SP_ERR_AUTH) {
				set_text(rs, 401, sp_last_error());
				rs->www_authenticate = 1;
			} else {
				set_text(rs, 403, sp_last_error());
			}
			audit(e, "est", "est-refused-token", "", detail);
			return;
		}
		snprintf(rs->identity, sizeof rs->identity, "token:%lld", (long long)c->token.id);
		snprintf(c->requester, sizeof c->requester, "est:token:%lld", (long long)c->token.id);
		if ((rc = token_names(c)) != SP_OK) {
			fail_with(rs, rc);
			goto give_back;
		}
		auto_ok = (c->t->auto_approve & SP_APPROVE_TOKEN) != 0;
	} else {
		if (!e->cfg->allow_anonymous) {
			set_text(rs, 401, "authentication required: a client certificate or an enrollment token");
			rs->www_authenticate = 1;
			return;
		}
		snprintf(c->requester, sizeof c->requester, "est:anonymous:%.64s", rq->client ? rq->client : "");
	}

	/* 4. issue now, or queue */
	if (!c->have_token && (!auto_ok || op == OP_SERVERKEYGEN) && !pop_ok(c, rs))
		goto give_back; /* the token path checked it above */
	if (!auto_ok && c->have_prior && op != OP_SERVERKEYGEN) {
		/* the certificate goes back to whoever asked for it; without
		 * credentials (anonymous) the CSR is all there is to go by */
		if ((c->peer.cert || c->have_token) && strcmp(c->prior_requester, c->requester) != 0)
			/* who that was is not this client's business */
			set_text(rs, 403, "the certificate for this CSR was issued to another requester");
		else
			answer_prior(e, c, rs);
		goto give_back;
	}
	if (!auto_ok) {
		if (op == OP_SERVERKEYGEN) {
			set_textf(rs, 403,
				  "serverkeygen for template %s needs a client that is approved at once "
				  "(the generated key is never queued)",
				  c->t->name);
			goto give_back;
		}
		queue_new(e, c, rs);
		return;
	}
	if (op != OP_SERVERKEYGEN) {
		issue_now(e, c, c->csr, c->csr_len, NULL, rs);
		return;
	}
	{
		unsigned char *der = NULL;
		int n;
		if ((rc = sp_media_keygen(c->t, &server_key)) != SP_OK ||
		    (rc = sp_media_csr_from_request(server_key, c->req, &server_req)) != SP_OK) {
			fail_with(rs, rc);
			goto give_back;
		}
		if ((n = i2d_X509_REQ(server_req, &der)) <= 0) {
			set_text(rs, 500, "encoding the server-side CSR failed");
			goto give_back;
		}
		issue_now(e, c, der, (size_t)n, server_key, rs);
		OPENSSL_free(der);
		goto out;
	}
give_back:
	if (c->have_token) {
		pthread_mutex_lock(&e->lock);
		(void)sp_token_finish(sp_ca_get0_store(e->ca), c->token.id, NULL, time(NULL));
		pthread_mutex_unlock(&e->lock);
	}
out:
	X509_REQ_free(server_req);
	EVP_PKEY_free(server_key);
}

void sp_est_handle(sp_est *e, const sp_est_request *rq, sp_est_response *rs)
{
	const char *rest, *slash;
	char label[65] = "";
	size_t i, n;
	est_op op = OP_CACERTS;
	int found = 0, post = 0;
	enroll_ctx c;
	sp_err rc;

	memset(rs, 0, sizeof *rs);
	memset(&c, 0, sizeof c);
	snprintf(rs->identity, sizeof rs->identity, "anonymous");
	sp_clear_error();
	if (!rq->path || strncmp(rq->path, EST_PREFIX, strlen(EST_PREFIX)) != 0) {
		set_text(rs, 404, "not an EST path: use /.well-known/est/[<template>/]<operation>");
		return;
	}
	rest = rq->path + strlen(EST_PREFIX);
	if ((slash = strchr(rest, '/')) != NULL) {
		n = (size_t)(slash - rest);
		if (!label_ok(rest, n)) {
			set_text(rs, 404, "unknown template label");
			return;
		}
		memcpy(label, rest, n);
		label[n] = '\0';
		rest = slash + 1;
	}
	for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
		if (!strcmp(rest, ops[i].name)) {
			op = ops[i].op;
			post = ops[i].post;
			found = 1;
		}
	if (!found) {
		set_text(rs, 404, "unknown EST operation");
		return;
	}
	if (strcmp(rq->method, post ? "POST" : "GET") != 0 && (post || strcmp(rq->method, "HEAD") != 0)) {
		set_textf(rs, 405, "%s takes %s", rest, post ? "POST" : "GET");
		rs->allow = post ? "POST" : "GET, HEAD";
		return;
	}
	if (*label) {
		rc = sp_template_cache_get(e->templates, label, &c.t);
		if (rc != SP_OK) {
			set_textf(rs, rc == SP_ERR_NOTFOUND || rc == SP_ERR_INPUT ? 404 : 500, "unknown template label %s",
				  label);
			return;
		}
	} else if (op != OP_CACERTS && op != OP_CSRATTRS) {
		set_textf(rs, 404, "%s needs a template label: /.well-known/est/<template>/%s", rest, rest);
		return;
	}
	switch (op) {
	case OP_CACERTS:
		rs->status = 200;
		rs->content_type = CT_PKCS7_CACERTS;
		rs->base64 = 1;
		if ((rs->body = malloc(e->cacerts_len)) != NULL) {
			memcpy(rs->body, e->cacerts, e->cacerts_len);
			rs->body_len = e->cacerts_len;
		} else {
			set_text(rs, 500, "out of memory");
		}
		break;
	case OP_CSRATTRS: {
		uint8_t *der = NULL;
		size_t len = 0;
		if (!c.t) {
			rs->status = 204; /* RFC 7030 4.5.2: no attributes to ask for */
			break;
		}
		if ((rc = est_csrattrs(c.t, &der, &len)) != SP_OK || (rc = set_b64(rs, CT_CSRATTRS, der, len)) != SP_OK)
			fail_with(rs, rc);
		free(der);
		break;
	}
	default:
		enroll(e, rq, op, rs, &c);
		break;
	}
	enroll_ctx_clear(&c);
}

void sp_est_response_clear(sp_est_response *rs)
{
	if (rs) {
		free(rs->body);
		memset(rs, 0, sizeof *rs);
	}
}

/* ------------------------------------------------------------ lifetime */

sp_err sp_est_new(sp_ca *ca, const sp_serve_config *cfg, sp_est_issue_fn issue, void *issue_arg, sp_est **out)
{
	STACK_OF(X509) *certs = NULL;
	STACK_OF(X509) *chain = sp_ca_get0_chain(ca);
	uint8_t *p7 = NULL;
	size_t p7_len = 0;
	sp_est *e;
	int i;
	sp_err rc;

	*out = NULL;
	if (!(e = calloc(1, sizeof *e)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	e->ca = ca;
	e->cfg = cfg;
	e->issue = issue;
	e->issue_arg = issue_arg;
	if (pthread_mutex_init(&e->lock, NULL) != 0 || pthread_mutex_init(&e->peer_lock, NULL) != 0) {
		free(e);
		return sp_fail(SP_ERR_INTERNAL, "mutex");
	}
	if (!(e->trust = X509_STORE_new()) || !(certs = sk_X509_new_null()) ||
	    !(e->templates = sp_template_cache_new(sp_ca_get0_home(ca)))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	/* This CA is the trust anchor for client certificates even when it is
	 * an intermediate: a certificate from a sibling CA under the same root
	 * must not pass. */
	X509_STORE_set_flags(e->trust, X509_V_FLAG_PARTIAL_CHAIN);
	if (!X509_STORE_add_cert(e->trust, sp_ca_get0_cert(ca)) || !sk_X509_push(certs, sp_ca_get0_cert(ca))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "client certificate trust store");
		goto out;
	}
	for (i = 0; chain && i < sk_X509_num(chain); i++)
		if (!sk_X509_push(certs, sk_X509_value(chain, i))) {
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto out;
		}
	/* /cacerts: this CA and the issuers above it (RFC 7030 4.1.3) */
	if ((rc = sp_est_certs_only(certs, &p7, &p7_len)) != SP_OK ||
	    (rc = sp_est_b64_encode(p7, p7_len, &e->cacerts, &e->cacerts_len)) != SP_OK)
		goto out;
	/* one template loaded now, from this thread: libxml2's parser and the
	 * schema are initialised before the worker threads exist */
	{
		const sp_template *t;
		if (sp_template_cache_get(e->templates, "web-server", &t) != SP_OK)
			sp_clear_error();
	}
	*out = e;
	e = NULL;
	rc = SP_OK;
out:
	free(p7);
	sk_X509_free(certs);
	sp_est_free(e);
	return rc;
}

void sp_est_free(sp_est *e)
{
	if (!e)
		return;
	X509_STORE_free(e->trust);
	est_peer_cache_free(e);
	pthread_mutex_destroy(&e->peer_lock);
	sp_template_cache_free(e->templates);
	free(e->cacerts);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
