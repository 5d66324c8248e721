/*
 * serve_config.c - read the `sitepki serve` configuration (serve_config.h).
 *
 * The schema (templates/serve.rng) decides the shape; this file applies the
 * ranges and the rules between fields, and names the line of the attribute
 * at fault in every message.
 */
#include "enroll/serve_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libxml/tree.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"
#include "templates/templates.h"

sp_err sp_serve_config_defaults(sp_serve_config **out)
{
	sp_serve_config *c = calloc(1, sizeof *c);

	*out = NULL;
	if (!c || !(c->bind = strdup("127.0.0.1")) || !(c->server_names = strdup("localhost"))) {
		sp_serve_config_free(c);
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	c->https_port = 8443;
	c->http_port = 8080;
	c->max_body = 64 * 1024;
	c->max_header = 16 * 1024;
	c->max_connections = 256;
	c->max_per_ip = 32;
	c->timeout = 30;
	c->threads = 0;
	c->rate_per_minute = 600;
	c->rate_burst = 60;
	c->retry_after = 60;
	c->allow_anonymous = 1;
	*out = c;
	return SP_OK;
}

void sp_serve_config_free(sp_serve_config *c)
{
	size_t i, j;

	if (!c)
		return;
	for (i = 0; i < c->n_agents; i++) {
		free(c->agents[i].template_name);
		free(c->agents[i].subject);
		for (j = 0; j < c->agents[i].n_allow; j++)
			free(c->agents[i].allow[j]);
		free(c->agents[i].allow);
	}
	free(c->agents);
	free(c->bind);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->server_names);
	free(c->log_file);
	free(c);
}

typedef struct {
	const char *origin;
	char dir[4096]; /* directory of origin, for relative paths */
} ctx;

static int is(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !xmlStrcmp(n->name, (const xmlChar *)name);
}

/* The attribute's value (malloc'd, xmlFree) or NULL when absent. */
static char *attr(xmlNodePtr n, const char *name)
{
	return (char *)xmlGetProp(n, (const xmlChar *)name);
}

static sp_err num(const ctx *x, xmlNodePtr n, const char *name, unsigned long long lo, unsigned long long hi,
		  unsigned long long *out, int *present)
{
	char *v = attr(n, name), *end;
	unsigned long long u;
	sp_err rc = SP_OK;

	*present = 0;
	if (!v)
		return SP_OK;
	errno = 0;
	u = strtoull(v, &end, 10);
	if (errno || end == v || *end || u < lo || u > hi)
		rc = sp_fail(SP_ERR_INPUT, "%s:%ld: %s=\"%.40s\" is out of range (%llu..%llu)", x->origin,
			     xmlGetLineNo(n), name, v, lo, hi);
	else {
		*out = u;
		*present = 1;
	}
	xmlFree(v);
	return rc;
}

#define NUM(field, name, lo, hi)                                                          \
	do {                                                                              \
		unsigned long long v_;                                                    \
		int p_;                                                                   \
		if ((rc = num(x, n, name, lo, hi, &v_, &p_)) != SP_OK)                    \
			return rc;                                                        \
		if (p_)                                                                   \
			field = (__typeof__(field))v_;                                    \
	} while (0)

/* A path from the file, made absolute against the file's directory. */
static sp_err path_attr(const ctx *x, xmlNodePtr n, const char *name, char **out)
{
	char *v = attr(n, name);
	size_t len;

	if (!v)
		return SP_OK;
	free(*out);
	len = strlen(v) + strlen(x->dir) + 2;
	if (!(*out = malloc(len))) {
		xmlFree(v);
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	if (v[0] == '/' || !x->dir[0])
		snprintf(*out, len, "%s", v);
	else
		snprintf(*out, len, "%s/%s", x->dir, v);
	xmlFree(v);
	return SP_OK;
}

static sp_err read_listen(const ctx *x, xmlNodePtr n, sp_serve_config *c)
{
	char *addr = attr(n, "address"), *http = attr(n, "http");
	unsigned char buf[sizeof(struct in6_addr)];
	sp_err rc = SP_OK;

	if (addr) {
		if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
			rc = sp_fail(SP_ERR_INPUT, "%s:%ld: listen address=\"%.64s\" is not an IPv4 or IPv6 address",
				     x->origin, xmlGetLineNo(n), addr);
		else {
			free(c->bind);
			if (!(c->bind = strdup(addr)))
				rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		}
	}
	if (rc == SP_OK && http && !strcmp(http, "off"))
		c->http_port = -1;
	else if (rc == SP_OK) {
		unsigned long long v;
		int p;
		if ((rc = num(x, n, "http", 0, 65535, &v, &p)) == SP_OK && p)
			c->http_port = (int)v;
	}
	if (rc == SP_OK) {
		unsigned long long v;
		int p;
		if ((rc = num(x, n, "https", 0, 65535, &v, &p)) == SP_OK && p)
			c->https_port = (int)v;
	}
	if (rc == SP_OK && c->https_port != 0 && c->https_port == c->http_port)
		rc = sp_fail(SP_ERR_INPUT, "%s:%ld: listen: https and http cannot share port %d", x->origin,
			     xmlGetLineNo(n), c->https_port);
	xmlFree(addr);
	xmlFree(http);
	return rc;
}

static sp_err read_tls(const ctx *x, xmlNodePtr n, sp_serve_config *c)
{
	char *names = attr(n, "serverNames");
	sp_err rc;

	if ((rc = path_attr(x, n, "certificate", &c->tls_cert)) != SP_OK ||
	    (rc = path_attr(x, n, "key", &c->tls_key)) != SP_OK)
		goto out;
	if (!!c->tls_cert != !!c->tls_key) {
		rc = sp_fail(SP_ERR_INPUT, "%s:%ld: tls: certificate and key go together", x->origin, xmlGetLineNo(n));
		goto out;
	}
	if (names) {
		char *copy = strdup(names), *p, *tok, *save = NULL;
		if (!copy) {
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (p = copy; rc == SP_OK && (tok = strtok_r(p, ",", &save)) != NULL; p = NULL)
			if (sp_name_check_dns(tok, "serverNames") != SP_OK)
				rc = sp_fail(SP_ERR_INPUT, "%s:%ld: tls serverNames: %s", x->origin, xmlGetLineNo(n),
					     sp_last_error());
		if (rc == SP_OK && !strchr(names, ',') && !*names)
			rc = sp_fail(SP_ERR_INPUT, "%s:%ld: tls serverNames is empty", x->origin, xmlGetLineNo(n));
		free(copy);
		if (rc == SP_OK) {
			free(c->server_names);
			if (!(c->server_names = strdup(names)))
				rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		}
	}
out:
	xmlFree(names);
	return rc;
}

static sp_err read_limits(const ctx *x, xmlNodePtr n, sp_serve_config *c)
{
	sp_err rc;

	NUM(c->max_body, "maxBody", 1024, 1048576);
	NUM(c->max_header, "maxHeader", 4096, 262144);
	NUM(c->max_connections, "maxConnections", 1, 10000);
	NUM(c->max_per_ip, "maxPerClient", 1, 10000);
	NUM(c->timeout, "timeout", 1, 3600);
	NUM(c->threads, "threads", 0, 64);
	NUM(c->rate_per_minute, "ratePerMinute", 0, 1000000);
	NUM(c->rate_burst, "rateBurst", 1, 100000);
	return SP_OK;
}

static sp_err read_pending(const ctx *x, xmlNodePtr n, sp_serve_config *c)
{
	char *anon = attr(n, "anonymous");
	sp_err rc;

	if (anon) {
		c->allow_anonymous = !strcmp(anon, "true") || !strcmp(anon, "1");
		xmlFree(anon);
	}
	NUM(c->retry_after, "retryAfter", 1, 86400);
	return SP_OK;
}

static sp_err read_agent(const ctx *x, xmlNodePtr n, sp_serve_config *c)
{
	char *tpl = attr(n, "template"), *subject = attr(n, "subject"), *allow = attr(n, "allow");
	sp_serve_agent *a, *grown;
	char *p, *tok, *save = NULL;
	sp_err rc = SP_OK;

	if (!tpl || !subject || !allow) { /* the schema requires them */
		rc = sp_fail(SP_ERR_INPUT, "%s:%ld: agent needs template, subject and allow", x->origin,
			     xmlGetLineNo(n));
		goto out;
	}
	if (!(grown = realloc(c->agents, (c->n_agents + 1) * sizeof *grown))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	c->agents = grown;
	a = &c->agents[c->n_agents++];
	memset(a, 0, sizeof *a);
	if (!(a->template_name = strdup(tpl)) || !(a->subject = strdup(subject))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (p = allow; (tok = strtok_r(p, " \t\r\n", &save)) != NULL; p = NULL) {
		char **more = realloc(a->allow, (a->n_allow + 1) * sizeof *more);
		if (!more || !(more[a->n_allow] = strdup(tok))) {
			if (more)
				a->allow = more;
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto out;
		}
		a->allow = more;
		a->n_allow++;
	}
out:
	xmlFree(tpl);
	xmlFree(subject);
	xmlFree(allow);
	return rc;
}

sp_err sp_serve_config_parse(const char *xml, size_t len, const char *origin, sp_serve_config **out)
{
	sp_serve_config *c = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr n;
	const char *slash;
	ctx x;
	sp_err rc;

	*out = NULL;
	memset(&x, 0, sizeof x);
	x.origin = origin;
	if ((slash = strrchr(origin, '/')) != NULL)
		snprintf(x.dir, sizeof x.dir, "%.*s", (int)(slash - origin), origin);
	if (slash == origin)
		snprintf(x.dir, sizeof x.dir, "/");
	if ((rc = sp_xml_read_validated(xml, len, origin, SP_SERVE_SCHEMA, "service configuration",
					SP_SERVE_CONFIG_MAX_BYTES, &doc)) != SP_OK ||
	    (rc = sp_serve_config_defaults(&c)) != SP_OK)
		goto out;
	for (n = xmlDocGetRootElement(doc)->children; n && rc == SP_OK; n = n->next) {
		if (is(n, "listen"))
			rc = read_listen(&x, n, c);
		else if (is(n, "tls"))
			rc = read_tls(&x, n, c);
		else if (is(n, "limits"))
			rc = read_limits(&x, n, c);
		else if (is(n, "pending"))
			rc = read_pending(&x, n, c);
		else if (is(n, "log"))
			rc = path_attr(&x, n, "file", &c->log_file);
		else if (is(n, "agent"))
			rc = read_agent(&x, n, c);
	}
	if (rc != SP_OK)
		goto out;
	*out = c;
	c = NULL;
out:
	sp_serve_config_free(c);
	xmlFreeDoc(doc);
	return rc;
}

sp_err sp_serve_config_load(const char *path, sp_serve_config **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sp_err rc;

	*out = NULL;
	if ((rc = sp_file_read(path, SP_SERVE_CONFIG_MAX_BYTES, &data, &len)) != SP_OK)
		return rc;
	rc = sp_serve_config_parse((const char *)data, len, path, out);
	free(data);
	return rc;
}
