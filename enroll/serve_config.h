/*
 * serve_config.h - the configuration of `sitepki serve`: one XML file
 * validated by the RELAX NG schema serve.rng (beside template.rng in
 * sp_template_data_dir(), namespace urn:sitepki:serve:1) and read with the
 * same hardened reader as templates (no network, no entities, no DTD, any
 * DOCTYPE refused). Every element and attribute, its default, its range and
 * why are in docs/serve.md "Configuration"; dist/serve.xml is the example.
 *
 * The schema decides the shape; serve_config.c applies the ranges and the
 * rules between fields, so that each message names the attribute at fault.
 */
#ifndef SITEPKI_ENROLL_SERVE_CONFIG_H
#define SITEPKI_ENROLL_SERVE_CONFIG_H

#include <stddef.h>

#include "common/common.h"

#define SP_SERVE_CONFIG_MAX_BYTES (256 * 1024)
#define SP_SERVE_SCHEMA "serve.rng"

typedef struct {
	char *template_name;   /* certificate template the agent's own TLS client certificate was issued from, e.g. "client-auth" */
	char *subject;         /* the agent certificate's subject, one-line RFC 2253 as sp_name_oneline prints it, e.g. "CN=sccm01.corp.example" */
	char **allow;          /* templates it may request on behalf of others */
	size_t n_allow;
} sp_serve_agent;

typedef struct {
	char *bind;               /* listen address, default "127.0.0.1" (IPv4 or IPv6 literal) */
	int https_port;           /* default 8443; 0 = ephemeral (the bound port is printed) */
	int http_port;            /* plain-HTTP CRL/AIA port, default 8080; 0 = ephemeral; -1 = off */
	char *tls_cert, *tls_key; /* PEM files; NULL = self-issued into <home>/serve/ on first start */
	char *server_names;       /* dNSNames for the self-issued certificate, comma-separated; default "localhost" */
	size_t max_body;          /* default 65536, range 1024..1048576 */
	size_t max_header;        /* per-connection memory for headers (MHD_OPTION_CONNECTION_MEMORY_LIMIT), default 16384, range 4096..262144 */
	unsigned max_connections; /* default 256, 1..10000 */
	unsigned max_per_ip;      /* default 32, 1..10000 */
	unsigned timeout;         /* per-connection idle timeout seconds, default 30, 1..3600 */
	unsigned threads;         /* worker threads, 0 = number of CPUs, max 64 */
	unsigned rate_per_minute; /* per client address, 0 = off; default 600 */
	unsigned rate_burst;      /* default 60 */
	unsigned retry_after;     /* seconds in 202 Accepted, default 60, 1..86400 */
	int allow_anonymous;      /* queue requests that carry neither a client certificate nor a token; default 1 */
	char *log_file;           /* NULL = stderr */
	sp_serve_agent *agents;   /* enrollment agents (the site server) */
	size_t n_agents;
} sp_serve_config;

/* Defaults (what no file gives). */
sp_err sp_serve_config_defaults(sp_serve_config **out) SP_WARN_UNUSED;
/* Parse and validate (schema, then semantics: ranges, a bind address that
 * inet_pton accepts, tls_cert and tls_key both or neither, each allow entry a
 * valid template name [a-z0-9][a-z0-9-]*, server_names each a valid DNS name
 * by sp_name_check_dns). Errors SP_ERR_INPUT "ORIGIN:LINE: what". Relative
 * file paths in the config are resolved against the directory of the config
 * file (made absolute with the current directory when `origin` is relative,
 * so that they survive a later chdir). `origin` is the file's path. */
sp_err sp_serve_config_parse(const char *xml, size_t len, const char *origin, sp_serve_config **out) SP_WARN_UNUSED;
/* Read a file (bounded 256 KiB) and parse it. */
sp_err sp_serve_config_load(const char *path, sp_serve_config **out) SP_WARN_UNUSED;
void sp_serve_config_free(sp_serve_config *c); /* NULL is fine */

#endif
