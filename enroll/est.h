/*
 * est.h - EST (RFC 7030) request handling, without any HTTP or TLS code.
 *
 * The HTTP layer (enroll/http_server.c) collects one request - method,
 * path, the few headers EST needs, the body (already bounded) and the TLS
 * client certificate chain - and hands it to sp_est_handle(), which decides
 * the answer: authentication (TLS client certificate, one-time token over
 * HTTP Basic, or none), the approval decision of the template, the pending
 * queue, and the certificate from the issue function (the signer process
 * in the service, sp_issue in tests and the fuzzer).
 *
 * Keeping this layer free of libmicrohttpd is what lets the fuzzer drive
 * the whole request path (headers + body) in-process.
 *
 * Threads: one sp_est is shared by the service's worker threads. Store
 * access is serialised inside it; the issue function must be thread-safe
 * (sp_signer_issue is).
 */
#ifndef SITEPKI_ENROLL_EST_H
#define SITEPKI_ENROLL_EST_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/common.h"
#include "enroll/serve_config.h"
#include "enroll/signer.h"

/* Issue a certificate for csr (DER) from template_name with the request
 * context names of o (dns, upn, requester); *out (certificate, serial,
 * certs-only PKCS#7) on success. Same contract as sp_signer_issue(). */
typedef sp_err (*sp_est_issue_fn)(void *arg, const char *template_name, const uint8_t *csr, size_t csr_len,
				  const sp_issue_opts *o, sp_issued *out);

typedef struct sp_est sp_est;

typedef struct {
	const char *method;            /* "GET", "POST", ... */
	const char *path;              /* URL path without the query */
	const char *content_type;      /* Content-Type header or NULL */
	const char *authorization;     /* Authorization header or NULL */
	const uint8_t *body;           /* the request body (may be NULL when empty) */
	size_t body_len;
	const uint8_t *const *peer_der; /* TLS client certificate chain (DER), leaf first */
	const size_t *peer_len;
	size_t n_peer;
	const char *client;            /* client address, for the log and audit */
} sp_est_request;

typedef struct {
	int status;               /* HTTP status */
	const char *content_type; /* static string, NULL = none */
	char *body;               /* malloc'd, body_len bytes (may be NULL) */
	size_t body_len;
	int base64;               /* add "Content-Transfer-Encoding: base64" */
	unsigned retry_after;     /* > 0: add "Retry-After" */
	int www_authenticate;     /* add "WWW-Authenticate: Basic realm=..." */
	const char *allow;        /* 405: the Allow header value */
	char identity[96];        /* for the log: "anonymous", "token:3", "cert:<serial>" */
	char serial[41];          /* certificate issued or returned, "" if none */
} sp_est_response;

#define SP_EST_REALM "sitepki EST"

/* ca: opened without its key (the store, the CA certificate and chain are
 * read from it; the handle is used under the sp_est lock). cfg: borrowed,
 * must outlive the sp_est. */
sp_err sp_est_new(sp_ca *ca, const sp_serve_config *cfg, sp_est_issue_fn issue, void *issue_arg,
		  sp_est **out) SP_WARN_UNUSED;
void sp_est_free(sp_est *e); /* NULL is fine */

/* Answer one request. Never fails: every problem is an HTTP status with a
 * one-line text/plain body naming it. Release rs with sp_est_response_clear. */
void sp_est_handle(sp_est *e, const sp_est_request *rq, sp_est_response *rs);
void sp_est_response_clear(sp_est_response *rs);

/* The certs-only PKCS#7 (RFC 7030 4.1.3, 4.2.3), DER. */
sp_err sp_est_certs_only(STACK_OF(X509) *certs, uint8_t **der, size_t *len) SP_WARN_UNUSED;

/* Base64 of RFC 7030 bodies: decode accepts line-wrapped or one-line input
 * (whitespace anywhere, CR/LF line ends); encode wraps at 64 columns. The
 * output is malloc'd. */
sp_err sp_est_b64_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len) SP_WARN_UNUSED;
sp_err sp_est_b64_encode(const uint8_t *in, size_t len, char **out, size_t *out_len) SP_WARN_UNUSED;

#endif
