/*
 * http_server.h - the two listeners of `sitepki serve` (libmicrohttpd):
 *   - HTTPS over GnuTLS (TLS 1.2 and 1.3 only) for EST, asking for an
 *     optional client certificate; every request bounded (body, headers,
 *     connections, per-client connections, idle timeout, rate per client)
 *     and logged in one line;
 *   - plain HTTP for the CRL distribution point and AIA caIssuers URLs the
 *     certificates name (GET/HEAD of publish/crl/NAME.crl and publish/ca/NAME.crt
 *     only).
 */
#ifndef SITEPKI_ENROLL_HTTP_SERVER_H
#define SITEPKI_ENROLL_HTTP_SERVER_H

#include <stdio.h>

#include "enroll/est.h"
#include "enroll/serve_config.h"

typedef struct sp_http sp_http;

typedef struct {
	const sp_serve_config *cfg;
	sp_est *est;
	const char *publish_dir;    /* <home>/publish */
	const char *publish_prefix; /* URL path the CDP/AIA URLs start with, e.g. "/pki" ("" = root) */
	const char *tls_cert_pem;   /* server certificate + chain, PEM */
	const char *tls_key_pem;    /* its key, PEM */
	const char *trust_pem;      /* CA certificate(s) sent as acceptable client issuers */
	FILE *log;                  /* one line per request */
} sp_http_opts;

/* Bind and start both listeners (the HTTP one only when cfg->http_port >= 0);
 * the bound ports are returned (the configured ones, or the ephemeral ones
 * the kernel chose for port 0). Strings of o are copied where libmicrohttpd
 * needs them later. */
sp_err sp_http_start(const sp_http_opts *o, sp_http **out, int *https_port, int *http_port) SP_WARN_UNUSED;

/* Stop accepting new connections; requests in flight go on. */
void sp_http_quiesce(sp_http *h);
/* Requests begun and not yet answered on both listeners (idle keep-alive
 * connections are not counted). */
unsigned sp_http_active(sp_http *h);
/* Stop the listeners (closes what is left) and free. NULL is fine. */
void sp_http_stop(sp_http *h);

#endif
