/*
 * serve_config.c - read the `sitepki serve` configuration (serve_config.h,
 * docs/serve.md "Configuration").
 *
 * The file may sit in a directory others can write to, and the service runs
 * with the CA's authority, so it is read like a template: through
 * sp_xml_read_validated() (no network, no entity expansion, no DTD, any
 * DOCTYPE refused, bounded size) against templates/serve.rng. The schema
 * fixes the shape; this file applies the ranges and the rules between
 * fields, and stays defensive (an unexpected node is an error) so that an
 * edited schema cannot make it read garbage. Every message is one line,
 * "ORIGIN:LINE: <element> attribute...: what", the line being the element's.
 */
#include "enroll/serve_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "ca/ca.h"
#include "templates/templates.h"

#define SERVE_NS "urn:sitepki:serve:1"
#define PATH_MAX_LEN 4096 /* resolved paths, as the rest of sitepki sizes them */

typedef struct {
	const char *origin;
	char dir[PATH_MAX_LEN]; /* absolute directory of origin, for relative paths */
	sp_serve_config *c;
} reader;

/* ------------------------------------------------------------- defaults */

sp_err sp_serve_config_defaults(sp_serve_config **out)
{
	sp_serve_config *c;
	sp_err err = SP_OK;

	*out = NULL;
	c = calloc(1, sizeof *c);
	if (!c || !(c->bind = strdup("127.0.0.1")) || !(c->server_names = strdup("localhost"))) {
		err = sp_fail(SP_ERR_NOMEM, "service configuration: out of memory");
		goto out;
	}
	c->https_port = 8443;
	c->http_port = 8080;
	c->max_body = 65536;
	c->max_header = 16384;
	c->max_connections = 256;
	c->max_per_ip = 32;
	c->timeout = 30;
	c->threads = 0;
	c->rate_per_minute = 600;
	c->rate_burst = 60;
	c->retry_after = 60;
	c->allow_anonymous = 1;
	*out = c;
	c = NULL;
out:
	sp_serve_config_free(c);
	return err;
}

static void agent_clear(sp_serve_agent *a)
{
	size_t i;

	free(a->template_name);
	free(a->subject);
	for (i = 0; i < a->n_allow; i++)
		free(a->allow[i]);
	free(a->allow);
	memset(a, 0, sizeof *a);
}

void sp_serve_config_free(sp_serve_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_agents; i++)
		agent_clear(&c->agents[i]);
	free(c->agents);
	free(c->bind);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->server_names);
	free(c->log_file);
	free(c);
}

/* -------------------------------------------------------------- helpers */

static sp_err SP_PRINTF(3, 4) bad(const reader *r, xmlNodePtr n, const char *fmt, ...)
{
	char what[1024];
	long line = n ? xmlGetLineNo(n) : -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (line > 0)
		return sp_fail(SP_ERR_INPUT, "%s:%ld: %s", r->origin, line, what);
	return sp_fail(SP_ERR_INPUT, "%s: %s", r->origin, what);
}

static sp_err nomem(const reader *r)
{
	return sp_fail(SP_ERR_NOMEM, "%s: out of memory", r->origin);
}

/* A value from the file, fit for a one-line message: printable ASCII kept,
 * anything else '?', cut to fit. */
static const char *shown(char *out, size_t outsz, const char *in)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < outsz; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[i] = '\0';
	if (in[i] && outsz > 4)
		memcpy(out + outsz - 4, "...", 4);
	return out;
}

static int is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* In place: token-typed attributes are whitespace-collapsed by the schema
 * validator, so " 30 " is valid and must read as 30. */
static char *trim(char *s)
{
	size_t n;

	while (is_xml_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_xml_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int in_ns(xmlNodePtr n)
{
	return n->ns && n->ns->href && xmlStrEqual(n->ns->href, BAD_CAST SERVE_NS);
}

/* Our own malloc'd copy of an attribute (NULL when absent), so that the
 * configuration never holds memory from libxml2's allocator. */
static sp_err attr_dup(const reader *r, xmlNodePtr n, const char *name, char **out)
{
	xmlChar *v;
	sp_err err = SP_OK;

	*out = NULL;
	v = xmlGetNoNsProp(n, BAD_CAST name);
	if (v && !(*out = strdup((const char *)v)))
		err = nomem(r);
	xmlFree(v);
	return err;
}

/* A whole number in lo..hi; *out is left alone when the attribute is
 * absent (the default stays). */
static sp_err attr_uint(const reader *r, xmlNodePtr n, const char *name, unsigned long lo, unsigned long hi,
			const char *unit, unsigned long *out, int *present)
{
	char *raw = NULL, *s, *end, show[32];
	unsigned long v;
	sp_err err;

	if (present)
		*present = 0;
	err = attr_dup(r, n, name, &raw);
	if (err != SP_OK || !raw)
		goto out;
	s = trim(raw);
	/* The schema allows nine digits only; checked again so that a looser
	 * schema cannot let a sign, a blank or an overflow through strtoul. */
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno == ERANGE || strlen(s) > 9) {
		err = bad(r, n, "<%s> %s=\"%s\" is not a whole number", (const char *)n->name, name,
			  shown(show, sizeof show, s));
		goto out;
	}
	if (v < lo || v > hi) {
		err = bad(r, n, "<%s> %s=\"%s\" is out of range: %lu..%lu %s", (const char *)n->name, name, s, lo,
			  hi, unit);
		goto out;
	}
	*out = v;
	if (present)
		*present = 1;
out:
	free(raw);
	return err;
}

/* xsd:boolean; *out is left alone when the attribute is absent. */
static sp_err attr_bool(const reader *r, xmlNodePtr n, const char *name, int *out)
{
	char *raw = NULL, *s, show[32];
	sp_err err;

	err = attr_dup(r, n, name, &raw);
	if (err != SP_OK || !raw)
		goto out;
	s = trim(raw);
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		*out = 1;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*out = 0;
	else
		err = bad(r, n, "<%s> %s=\"%s\" is not true or false", (const char *)n->name, name,
			  shown(show, sizeof show, s));
out:
	free(raw);
	return err;
}

/* The directory relative paths are taken against: that of origin, made
 * absolute now, because the service may later run with another working
 * directory (systemd starts it in /) and a path must mean what it meant to
 * whoever typed `sitepki serve --config FILE`. */
static sp_err origin_dir(const char *origin, char *out, size_t outsz)
{
	const char *slash = strrchr(origin, '/');
	char cwd[PATH_MAX_LEN];
	int n;

	if (origin[0] == '/') {
		/* "/serve.xml" lives in "/" */
		n = snprintf(out, outsz, "%.*s", slash == origin ? 1 : (int)(slash - origin), origin);
	} else {
		if (!getcwd(cwd, sizeof cwd))
			return sp_fail(SP_ERR_IO, "%s: cannot resolve relative paths: current directory: %s", origin,
				       strerror(errno));
		if (slash)
			n = snprintf(out, outsz, "%s%s%.*s", cwd, strcmp(cwd, "/") ? "/" : "", (int)(slash - origin),
				     origin);
		else
			n = snprintf(out, outsz, "%s", cwd);
	}
	if (n < 0 || (size_t)n >= outsz)
		return sp_fail(SP_ERR_INPUT, "%s: path too long", origin);
	return SP_OK;
}

/* A file name from the configuration, made absolute against the file's own
 * directory; *out is replaced only when the attribute is present. */
static sp_err attr_path(const reader *r, xmlNodePtr n, const char *name, char **out)
{
	char *raw = NULL, *full = NULL, show[64];
	size_t len;
	sp_err err;

	err = attr_dup(r, n, name, &raw);
	if (err != SP_OK || !raw)
		goto out;
	if (raw[0] == '/') {
		full = raw;
		raw = NULL;
	} else {
		len = strlen(r->dir) + 1 + strlen(raw) + 1;
		if (!(full = malloc(len))) {
			err = nomem(r);
			goto out;
		}
		snprintf(full, len, "%s%s%s", r->dir, strcmp(r->dir, "/") ? "/" : "", raw);
	}
	if (strlen(full) >= PATH_MAX_LEN) {
		err = bad(r, n, "<%s> %s=\"%s\": the resolved path is longer than %d characters",
			  (const char *)n->name, name, shown(show, sizeof show, raw ? raw : full), PATH_MAX_LEN - 1);
		goto out;
	}
	free(*out);
	*out = full;
	full = NULL;
out:
	free(full);
	free(raw);
	return err;
}

/* [a-z0-9][a-z0-9-]{0,62}: a template name is a file name and an EST label
 * (docs/templates.md). */
static int template_name_valid(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return i <= 63;
}

/* ------------------------------------------------------------- elements */

static sp_err read_listen(const reader *r, xmlNodePtr n)
{
	sp_serve_config *c = r->c;
	char *addr = NULL, *http = NULL, *s, show[64];
	unsigned char buf[sizeof(struct in6_addr)];
	unsigned long v;
	int present;
	sp_err err;

	if ((err = attr_dup(r, n, "address", &addr)) != SP_OK || (err = attr_dup(r, n, "http", &http)) != SP_OK)
		goto out;
	if (addr) {
		s = trim(addr);
		/* A literal only: resolving a name at start-up would make the
		 * listening address depend on DNS. */
		if (inet_pton(AF_INET, s, buf) != 1 && inet_pton(AF_INET6, s, buf) != 1) {
			err = bad(r, n,
				  "<listen> address=\"%s\" is not an IPv4 or IPv6 address (a literal such as "
				  "0.0.0.0 or ::, without brackets; host names are not resolved)",
				  shown(show, sizeof show, s));
			goto out;
		}
		free(c->bind);
		if (!(c->bind = strdup(s))) {
			err = nomem(r);
			goto out;
		}
	}
	if ((err = attr_uint(r, n, "https", 0, 65535, "(0 = any free port)", &v, &present)) != SP_OK)
		goto out;
	if (present)
		c->https_port = (int)v;
	if (http && !strcmp(trim(http), "off")) {
		c->http_port = -1;
	} else {
		if ((err = attr_uint(r, n, "http", 0, 65535, "(0 = any free port, off = none)", &v, &present)) !=
		    SP_OK)
			goto out;
		if (present)
			c->http_port = (int)v;
	}
	if (c->https_port != 0 && c->https_port == c->http_port) {
		err = bad(r, n, "<listen> https and http are both port %d: they need a port each", c->https_port);
		goto out;
	}
out:
	free(addr);
	free(http);
	return err;
}

/* Is `name` one of the comma-separated names in `list`? Without case, as
 * DNS compares names. */
static int list_has(const char *list, const char *name)
{
	size_t n = strlen(name), item;

	while (*list) {
		item = strcspn(list, ",");
		if (item == n && !strncasecmp(list, name, n))
			return 1;
		list += item;
		if (*list == ',')
			list++;
	}
	return 0;
}

/* serverNames: comma-separated, blanks around names allowed; stored as
 * "a,b" with each name checked like a dNSName in a certificate, because
 * that is where they go. */
static sp_err read_server_names(const reader *r, xmlNodePtr n, const char *raw)
{
	char *copy = NULL, *joined = NULL, *p, *next, *name, show[64];
	size_t used = 0, cap = strlen(raw) + 1;
	sp_err err = SP_OK;

	if (!(copy = strdup(raw)) || !(joined = malloc(cap))) {
		err = nomem(r);
		goto out;
	}
	joined[0] = '\0';
	for (p = copy; p; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		name = trim(p);
		if (!*name) {
			err = bad(r, n, "<tls> serverNames=\"%s\" has an empty name (names are separated by one ',')",
				  shown(show, sizeof show, raw));
			goto out;
		}
		if (sp_name_check_dns(name, "serverNames") != SP_OK) {
			err = bad(r, n, "<tls> %s", sp_last_error());
			goto out;
		}
		if (list_has(joined, name)) {
			err = bad(r, n, "<tls> serverNames names %s twice", name);
			goto out;
		}
		/* never truncates: the trimmed names and their commas are
		 * no longer than raw */
		used += (size_t)snprintf(joined + used, cap - used, "%s%s", used ? "," : "", name);
	}
	free(r->c->server_names);
	r->c->server_names = joined;
	joined = NULL;
out:
	free(copy);
	free(joined);
	return err;
}

static sp_err read_tls(const reader *r, xmlNodePtr n)
{
	sp_serve_config *c = r->c;
	char *names = NULL;
	sp_err err;

	if ((err = attr_path(r, n, "certificate", &c->tls_cert)) != SP_OK ||
	    (err = attr_path(r, n, "key", &c->tls_key)) != SP_OK ||
	    (err = attr_dup(r, n, "serverNames", &names)) != SP_OK)
		goto out;
	if (!!c->tls_cert != !!c->tls_key) {
		err = bad(r, n, "<tls> certificate and key go together: %s is missing",
			  c->tls_cert ? "key" : "certificate");
		goto out;
	}
	/* With a certificate of its own the service issues none, so names for
	 * it would be silently ignored: say so instead. */
	if (c->tls_cert && names) {
		err = bad(r, n, "<tls> serverNames is only for the self-issued certificate; "
				"with certificate and key it would be ignored");
		goto out;
	}
	if (names)
		err = read_server_names(r, n, names);
out:
	free(names);
	return err;
}

/* Ranges and why: docs/serve.md "Configuration". */
static sp_err read_limits(const reader *r, xmlNodePtr n)
{
	sp_serve_config *c = r->c;
	const struct {
		const char *name;
		unsigned long lo, hi;
		const char *unit;
		size_t *as_size; /* exactly one of these two */
		unsigned *as_uint;
	} attrs[] = {
		{"maxBody", 1024, 1048576, "bytes", &c->max_body, NULL},
		{"maxHeader", 4096, 262144, "bytes", &c->max_header, NULL},
		{"maxConnections", 1, 10000, "connections", NULL, &c->max_connections},
		{"maxPerClient", 1, 10000, "connections", NULL, &c->max_per_ip},
		{"timeout", 1, 3600, "seconds", NULL, &c->timeout},
		{"threads", 0, 64, "threads (0 = one per connection)", NULL, &c->threads},
		{"ratePerMinute", 0, 60000, "requests (0 = no limit)", NULL, &c->rate_per_minute},
		{"rateBurst", 1, 10000, "requests", NULL, &c->rate_burst},
	};
	unsigned long v;
	size_t i;
	int present;
	sp_err err = SP_OK;

	for (i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
		err = attr_uint(r, n, attrs[i].name, attrs[i].lo, attrs[i].hi, attrs[i].unit, &v, &present);
		if (err != SP_OK)
			goto out;
		if (!present)
			continue;
		if (attrs[i].as_size)
			*attrs[i].as_size = (size_t)v;
		else
			*attrs[i].as_uint = (unsigned)v;
	}
out:
	return err;
}

static sp_err read_pending(const reader *r, xmlNodePtr n)
{
	unsigned long v;
	int present;
	sp_err err;

	if ((err = attr_uint(r, n, "retryAfter", 1, 86400, "seconds", &v, &present)) != SP_OK)
		goto out;
	if (present)
		r->c->retry_after = (unsigned)v;
	err = attr_bool(r, n, "anonymous", &r->c->allow_anonymous);
out:
	return err;
}

static sp_err read_log(const reader *r, xmlNodePtr n)
{
	return attr_path(r, n, "file", &r->c->log_file);
}

/* The subject is compared byte for byte with sp_name_oneline() of the
 * agent's certificate (RFC 2253: most specific RDN first, "," between RDNs
 * with no blank, specials escaped with '\'). Forms that can never match are
 * refused here rather than failing every request later: OpenSSL's default
 * "CN = x, O = y", the slash form "/CN=x", unescaped blanks at the ends of
 * a value. Returns NULL when the shape is right, else why not. */
static const char *subject_shape(const char *s)
{
	const char *p = s, *type;
	int escaped;

	for (;;) {
		for (type = p; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			       *p == '.' || *p == '-';
		     p++)
			;
		if (p == type)
			return "each RDN must start with an attribute type such as CN or O";
		if (*p != '=')
			return "'=' must follow the attribute type directly";
		p++;
		if (*p == ' ')
			return "a value may not start with an unescaped blank";
		escaped = 0;
		while (*p && *p != ',' && *p != '+') {
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				return "control characters are not allowed";
			if (*p == '\\') {
				if (!p[1])
					return "it ends in a lone '\\'";
				p += 2;
				escaped = 1;
				continue;
			}
			escaped = 0;
			p++;
		}
		if (p[-1] == ' ' && !escaped)
			return "a value may not end in an unescaped blank (no blank after ',')";
		if (!*p)
			return NULL;
		p++;
	}
}

static sp_err read_agent(const reader *r, xmlNodePtr n)
{
	sp_serve_config *c = r->c;
	sp_serve_agent a, *grown;
	char *tpl = NULL, *allow = NULL, *name, *p, *tok, *save = NULL, **more, show[96];
	const char *why;
	size_t i;
	sp_err err;

	memset(&a, 0, sizeof a);
	if ((err = attr_dup(r, n, "template", &tpl)) != SP_OK ||
	    (err = attr_dup(r, n, "subject", &a.subject)) != SP_OK || (err = attr_dup(r, n, "allow", &allow)) != SP_OK)
		goto out;
	if (!tpl || !a.subject || !allow) { /* the schema requires all three */
		err = bad(r, n, "<agent> needs template, subject and allow");
		goto out;
	}
	name = trim(tpl);
	if (!template_name_valid(name)) {
		err = bad(r, n, "<agent> template=\"%s\" is not a template name ([a-z0-9][a-z0-9-]{0,62})",
			  shown(show, sizeof show, name));
		goto out;
	}
	if (!(a.template_name = strdup(name))) {
		err = nomem(r);
		goto out;
	}
	if ((why = subject_shape(a.subject)) != NULL) {
		err = bad(r, n,
			  "<agent> subject=\"%s\": %s; write it as sp_name_oneline prints it, "
			  "e.g. CN=sccm01.corp.example,O=Corp (openssl x509 -noout -subject -nameopt RFC2253)",
			  shown(show, sizeof show, a.subject), why);
		goto out;
	}
	for (i = 0; i < c->n_agents; i++) {
		if (!strcmp(c->agents[i].template_name, a.template_name) && !strcmp(c->agents[i].subject, a.subject)) {
			err = bad(r, n, "<agent> template %s with subject %s is configured twice",
				  a.template_name, shown(show, sizeof show, a.subject));
			goto out;
		}
	}
	/* An xsd list: names separated by XML white space. */
	for (p = allow; (tok = strtok_r(p, " \t\r\n", &save)) != NULL; p = NULL) {
		if (!template_name_valid(tok)) {
			err = bad(r, n, "<agent> allow: \"%s\" is not a template name ([a-z0-9][a-z0-9-]{0,62})",
				  shown(show, sizeof show, tok));
			goto out;
		}
		for (i = 0; i < a.n_allow; i++) {
			if (!strcmp(a.allow[i], tok)) {
				err = bad(r, n, "<agent> allow names %s twice", tok);
				goto out;
			}
		}
		if (!(more = realloc(a.allow, (a.n_allow + 1) * sizeof *more))) {
			err = nomem(r);
			goto out;
		}
		a.allow = more;
		if (!(a.allow[a.n_allow] = strdup(tok))) {
			err = nomem(r);
			goto out;
		}
		a.n_allow++;
	}
	if (a.n_allow == 0) {
		err = bad(r, n, "<agent> allow names no template");
		goto out;
	}
	if (!(grown = realloc(c->agents, (c->n_agents + 1) * sizeof *grown))) {
		err = nomem(r);
		goto out;
	}
	c->agents = grown;
	c->agents[c->n_agents++] = a;
	memset(&a, 0, sizeof a);
out:
	agent_clear(&a);
	free(tpl);
	free(allow);
	return err;
}

typedef struct {
	const char *name;
	sp_err (*read)(const reader *r, xmlNodePtr n);
	int repeats; /* may appear more than once */
} element_reader;

static const element_reader elements[] = {
	{"listen", read_listen, 0},   {"tls", read_tls, 0}, {"limits", read_limits, 0},
	{"pending", read_pending, 0}, {"log", read_log, 0}, {"agent", read_agent, 1},
};
#define N_ELEMENTS (sizeof elements / sizeof elements[0])

/* ----------------------------------------------------------------- API */

sp_err sp_serve_config_parse(const char *xml, size_t len, const char *origin, sp_serve_config **out)
{
	reader r;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, n, seen[N_ELEMENTS];
	size_t i;
	sp_err err;

	*out = NULL;
	memset(seen, 0, sizeof seen);
	memset(&r, 0, sizeof r);
	r.origin = origin;
	if ((err = origin_dir(origin, r.dir, sizeof r.dir)) != SP_OK)
		goto out;
	err = sp_xml_read_validated(xml, len, origin, SP_SERVE_SCHEMA, "service configuration",
				    SP_SERVE_CONFIG_MAX_BYTES, &doc);
	if (err != SP_OK)
		goto out;
	if ((err = sp_serve_config_defaults(&r.c)) != SP_OK)
		goto out;
	root = xmlDocGetRootElement(doc);
	if (!root || !in_ns(root) || !xmlStrEqual(root->name, BAD_CAST "serve")) {
		err = bad(&r, root, "the root element must be <serve xmlns=\"%s\">", SERVE_NS);
		goto out;
	}
	for (n = root->children; n; n = n->next) {
		if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE)
			continue;
		if (n->type == XML_TEXT_NODE && xmlIsBlankNode(n))
			continue;
		if (n->type != XML_ELEMENT_NODE || !in_ns(n)) {
			err = bad(&r, n->type == XML_ELEMENT_NODE ? n : root, "unexpected content in <serve>");
			goto out;
		}
		for (i = 0; i < N_ELEMENTS; i++)
			if (xmlStrEqual(n->name, BAD_CAST elements[i].name))
				break;
		if (i == N_ELEMENTS) {
			err = bad(&r, n, "unexpected element <%s>", (const char *)n->name);
			goto out;
		}
		/* The schema lets elements come in any order and so cannot
		 * count them (see serve.rng); a second one would silently
		 * override part of the first. */
		if (seen[i] && !elements[i].repeats) {
			err = bad(&r, n, "<%s> appears twice (first on line %ld); merge them", elements[i].name,
				  xmlGetLineNo(seen[i]));
			goto out;
		}
		seen[i] = n;
		if ((err = elements[i].read(&r, n)) != SP_OK)
			goto out;
	}
	*out = r.c;
	r.c = NULL;
out:
	sp_serve_config_free(r.c);
	xmlFreeDoc(doc);
	return err;
}

sp_err sp_serve_config_load(const char *path, sp_serve_config **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sp_err err;

	*out = NULL;
	err = sp_file_read(path, SP_SERVE_CONFIG_MAX_BYTES, &data, &len);
	if (err != SP_OK)
		goto out;
	err = sp_serve_config_parse((const char *)data, len, path, out);
out:
	free(data);
	return err;
}
