/*
 * test_serve_config.c - unit tests of enroll/serve_config: the configuration
 * of `sitepki serve`. The defaults, the shipped example (dist/serve.xml), a
 * file with every option changed, every range at and past both ends, what
 * the schema refuses (with FILE:LINE and nothing on stderr), hostile XML,
 * the rules between fields, relative paths, the size bound and enrollment
 * agents. xmllint judges the schema and the example independently.
 *
 * Tests that change the working directory put it back, so tests run in any
 * order.
 */
#include "unit.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "enroll/serve_config.h"
#include "templates/templates.h"

#define NS "urn:sitepki:serve:1"
/* A document whose body starts on line 2. */
#define DOC(body) "<serve xmlns=\"" NS "\">\n" body "</serve>\n"
/* Absolute, so that nothing depends on the working directory. */
#define ORIGIN "/etc/sitepki/serve.xml"

/* ------------------------------------------------------------ helpers */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
	CU_ASSERT_EQUAL(fclose(f), 0);
}

/* dir/file into out (4096 bytes); the tests' paths always fit. */
static void path_in(char *out, const char *dir, const char *file)
{
	int n = snprintf(out, 4096, "%s/%s", dir, file);

	CU_ASSERT_FATAL(n > 0 && n < 4096);
}

static const char *dist_example(void)
{
	return sp_unit_data("../../dist/serve.xml");
}

/* What the last parse left: the error message and anything written to
 * stderr (libxml2 must write nothing). */
static char last_msg[2048];
static char last_stderr[4096];

static const char *capture_path(void)
{
	static char path[4096];

	if (!path[0])
		path_in(path, sp_unit_tmpdir(), "stderr.txt");
	return path;
}

/* sp_serve_config_parse (path == NULL) or _load (path set) with stderr
 * sent to a file. */
static sp_err run_captured(const char *xml, size_t len, const char *origin, const char *path,
			   sp_serve_config **c)
{
	int saved, fd;
	size_t n;
	char *cap;
	sp_err err;

	*c = NULL;
	last_msg[0] = '\0';
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(capture_path(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
	CU_ASSERT_FATAL(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
	if (path)
		err = sp_serve_config_load(path, c);
	else
		err = sp_serve_config_parse(xml, len, origin, c);
	fflush(stderr);
	CU_ASSERT_FATAL(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	if (err != SP_OK)
		snprintf(last_msg, sizeof last_msg, "%s", sp_last_error());
	cap = read_all(capture_path(), &n);
	snprintf(last_stderr, sizeof last_stderr, "%s", cap ? cap : "");
	free(cap);
	return err;
}

static sp_err parse_doc(const char *xml, sp_serve_config **c)
{
	return run_captured(xml, strlen(xml), ORIGIN, NULL, c);
}

/* Must parse; the config is returned for checks (caller frees). */
static sp_serve_config *parse_ok(const char *xml)
{
	sp_serve_config *c = NULL;
	sp_err err = parse_doc(xml, &c);

	if (err != SP_OK)
		printf("\n  unexpected failure: %s\n", last_msg);
	CU_ASSERT_EQUAL_FATAL(err, SP_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_STRING_EQUAL(last_stderr, "");
	return c;
}

/* Must be refused as SP_ERR_INPUT with one line "ORIGIN:LINE: ..." that
 * contains every non-NULL `want`, and nothing on stderr. */
static void refused_at(const char *xml, int line, const char *want, const char *want2)
{
	sp_serve_config *c = NULL;
	char prefix[256];
	sp_err err = parse_doc(xml, &c);

	snprintf(prefix, sizeof prefix, "%s:%d: ", ORIGIN, line);
	if (getenv("SP_TEST_VERBOSE")) /* to read the messages */
		printf("\n  %s", last_msg);
	if (err != SP_ERR_INPUT || strncmp(last_msg, prefix, strlen(prefix)) != 0 ||
	    (want && !strstr(last_msg, want)) || (want2 && !strstr(last_msg, want2)))
		printf("\n  want %s...%s...%s, got %s: %s\n", prefix, want ? want : "", want2 ? want2 : "",
		       sp_err_name(err), last_msg);
	CU_ASSERT_EQUAL(err, SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(c);
	sp_serve_config_free(c);
	CU_ASSERT_EQUAL(strncmp(last_msg, prefix, strlen(prefix)), 0);
	if (want)
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, want));
	if (want2)
		CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, want2));
	CU_ASSERT_PTR_NULL(strchr(last_msg, '\n'));
	CU_ASSERT_STRING_EQUAL(last_stderr, "");
}

static void assert_defaults(const sp_serve_config *c)
{
	CU_ASSERT_STRING_EQUAL(c->bind, "127.0.0.1");
	CU_ASSERT_EQUAL(c->https_port, 8443);
	CU_ASSERT_EQUAL(c->http_port, 8080);
	CU_ASSERT_PTR_NULL(c->tls_cert);
	CU_ASSERT_PTR_NULL(c->tls_key);
	CU_ASSERT_STRING_EQUAL(c->server_names, "localhost");
	CU_ASSERT_EQUAL(c->max_body, 65536);
	CU_ASSERT_EQUAL(c->max_header, 16384);
	CU_ASSERT_EQUAL(c->max_connections, 256);
	CU_ASSERT_EQUAL(c->max_per_ip, 32);
	CU_ASSERT_EQUAL(c->timeout, 30);
	CU_ASSERT_EQUAL(c->threads, 0);
	CU_ASSERT_EQUAL(c->rate_per_minute, 600);
	CU_ASSERT_EQUAL(c->rate_burst, 60);
	CU_ASSERT_EQUAL(c->retry_after, 60);
	CU_ASSERT_EQUAL(c->allow_anonymous, 1);
	CU_ASSERT_PTR_NULL(c->log_file);
	CU_ASSERT_PTR_NULL(c->agents);
	CU_ASSERT_EQUAL(c->n_agents, 0);
}

/* ----------------------------------------------------- defaults, example */

static void test_defaults(void)
{
	sp_serve_config *c = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_serve_config_defaults(&c), SP_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	assert_defaults(c);
	sp_serve_config_free(c);
	sp_serve_config_free(NULL);
}

static void test_empty_document(void)
{
	sp_serve_config *c = parse_ok("<serve xmlns=\"" NS "\"/>");

	assert_defaults(c);
	sp_serve_config_free(c);
	/* Empty elements change nothing either. */
	c = parse_ok(DOC("<listen/><tls/><limits/><pending/>\n"));
	assert_defaults(c);
	sp_serve_config_free(c);
}

/* dist/serve.xml is documented as "every option at its default". */
static void test_dist_example(void)
{
	sp_serve_config *c = NULL;
	sp_err err = run_captured(NULL, 0, NULL, dist_example(), &c);

	if (err != SP_OK)
		printf("\n  %s\n", last_msg);
	CU_ASSERT_EQUAL_FATAL(err, SP_OK);
	assert_defaults(c);
	CU_ASSERT_STRING_EQUAL(last_stderr, "");
	sp_serve_config_free(c);
}

/* Every element and attribute of the schema is shown in the example and
 * has a row in docs/serve.md, so neither can fall behind the schema. */
static void test_example_and_docs_cover_schema(void)
{
	char path[4096], want[128];
	size_t len, n_attrs = 0, n_elems = 0;
	char *rng, *dist, *docs;
	const char *p;

	path_in(path, sp_template_data_dir(), SP_SERVE_SCHEMA);
	rng = read_all(path, &len);
	dist = read_all(dist_example(), &len);
	docs = read_all(sp_unit_data("../../docs/serve.md"), &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(rng);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dist);
	CU_ASSERT_PTR_NOT_NULL_FATAL(docs);
	for (p = rng; (p = strstr(p, "<attribute name=\"")) != NULL; p++) {
		int n = (int)strcspn(p + 17, "\"");
		snprintf(want, sizeof want, "%.*s=\"", n, p + 17);
		if (!strstr(dist, want))
			printf("\n  dist/serve.xml does not show %s\n", want);
		CU_ASSERT_PTR_NOT_NULL(strstr(dist, want));
		snprintf(want, sizeof want, "@%.*s`", n, p + 17);
		if (!strstr(docs, want))
			printf("\n  docs/serve.md has no row for %s\n", want);
		CU_ASSERT_PTR_NOT_NULL(strstr(docs, want));
		n_attrs++;
	}
	for (p = rng; (p = strstr(p, "<element name=\"")) != NULL; p++) {
		int n = (int)strcspn(p + 15, "\"");
		snprintf(want, sizeof want, "<%.*s", n, p + 15);
		CU_ASSERT_PTR_NOT_NULL(strstr(dist, want));
		snprintf(want, sizeof want, "`<%.*s>`", n, p + 15);
		if (!strstr(docs, want))
			printf("\n  docs/serve.md does not document %s\n", want);
		CU_ASSERT_PTR_NOT_NULL(strstr(docs, want));
		n_elems++;
	}
	CU_ASSERT_EQUAL(n_elems, 7);
	CU_ASSERT_EQUAL(n_attrs, 20);
	free(rng);
	free(dist);
	free(docs);
}

static const char full_example[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<serve xmlns=\"" NS "\">\n"
	"  <!-- any order -->\n"
	"  <agent template=\"client-auth\" subject=\"CN=sccm01.corp.example,O=Corp\"\n"
	"         allow=\"amt-web-server amt-8021x-client\"/>\n"
	"  <listen address=\"::1\" https=\"9443\" http=\"off\"/>\n"
	"  <tls certificate=\"tls/server.pem\" key=\"/etc/ssl/private/server-key.pem\"/>\n"
	"  <limits maxBody=\"131072\" maxHeader=\"32768\" maxConnections=\"512\" maxPerClient=\"8\"\n"
	"          timeout=\"15\" threads=\"4\" ratePerMinute=\"120\" rateBurst=\"10\"/>\n"
	"  <pending retryAfter=\"300\" anonymous=\"false\"/>\n"
	"  <log file=\"log/serve.log\"/>\n"
	"  <agent template=\"web-server\" subject=\"CN=sccm02.corp.example\" allow=\" isv-proxy \"/>\n"
	"</serve>\n";

/* Every option away from its default, read from a file. */
static void test_full_example(void)
{
	const char *tmp = sp_unit_tmpdir();
	char path[4096], want[4096];
	sp_serve_config *c = NULL;
	sp_err err;

	path_in(path, tmp, "serve.xml");
	write_file(path, full_example, sizeof full_example - 1);
	err = run_captured(NULL, 0, NULL, path, &c);
	if (err != SP_OK)
		printf("\n  %s\n", last_msg);
	CU_ASSERT_EQUAL_FATAL(err, SP_OK);
	CU_ASSERT_STRING_EQUAL(c->bind, "::1");
	CU_ASSERT_EQUAL(c->https_port, 9443);
	CU_ASSERT_EQUAL(c->http_port, -1);
	path_in(want, tmp, "tls/server.pem");
	CU_ASSERT_STRING_EQUAL(c->tls_cert, want);
	CU_ASSERT_STRING_EQUAL(c->tls_key, "/etc/ssl/private/server-key.pem");
	CU_ASSERT_STRING_EQUAL(c->server_names, "localhost");
	CU_ASSERT_EQUAL(c->max_body, 131072);
	CU_ASSERT_EQUAL(c->max_header, 32768);
	CU_ASSERT_EQUAL(c->max_connections, 512);
	CU_ASSERT_EQUAL(c->max_per_ip, 8);
	CU_ASSERT_EQUAL(c->timeout, 15);
	CU_ASSERT_EQUAL(c->threads, 4);
	CU_ASSERT_EQUAL(c->rate_per_minute, 120);
	CU_ASSERT_EQUAL(c->rate_burst, 10);
	CU_ASSERT_EQUAL(c->retry_after, 300);
	CU_ASSERT_EQUAL(c->allow_anonymous, 0);
	path_in(want, tmp, "log/serve.log");
	CU_ASSERT_STRING_EQUAL(c->log_file, want);
	CU_ASSERT_EQUAL_FATAL(c->n_agents, 2);
	CU_ASSERT_STRING_EQUAL(c->agents[0].template_name, "client-auth");
	CU_ASSERT_STRING_EQUAL(c->agents[0].subject, "CN=sccm01.corp.example,O=Corp");
	CU_ASSERT_EQUAL_FATAL(c->agents[0].n_allow, 2);
	CU_ASSERT_STRING_EQUAL(c->agents[0].allow[0], "amt-web-server");
	CU_ASSERT_STRING_EQUAL(c->agents[0].allow[1], "amt-8021x-client");
	CU_ASSERT_STRING_EQUAL(c->agents[1].template_name, "web-server");
	CU_ASSERT_EQUAL_FATAL(c->agents[1].n_allow, 1);
	CU_ASSERT_STRING_EQUAL(c->agents[1].allow[0], "isv-proxy");
	sp_serve_config_free(c);
}

/* ------------------------------------------------------------- ranges */

typedef struct {
	const char *element, *attr;
	unsigned long lo, hi;
} range_case;

static const range_case ranges[] = {
	{"listen", "https", 0, 65535},
	{"listen", "http", 0, 65535},
	{"limits", "maxBody", 1024, 1048576},
	{"limits", "maxHeader", 4096, 262144},
	{"limits", "maxConnections", 1, 10000},
	{"limits", "maxPerClient", 1, 10000},
	{"limits", "timeout", 1, 3600},
	{"limits", "threads", 0, 64},
	{"limits", "ratePerMinute", 0, 60000},
	{"limits", "rateBurst", 1, 10000},
	{"pending", "retryAfter", 1, 86400},
};

/* Where each attribute lands, so that a value read into the wrong field
 * shows. */
static unsigned long field_of(const sp_serve_config *c, const char *attr)
{
	if (!strcmp(attr, "https"))
		return (unsigned long)c->https_port;
	if (!strcmp(attr, "http"))
		return (unsigned long)c->http_port;
	if (!strcmp(attr, "maxBody"))
		return c->max_body;
	if (!strcmp(attr, "maxHeader"))
		return c->max_header;
	if (!strcmp(attr, "maxConnections"))
		return c->max_connections;
	if (!strcmp(attr, "maxPerClient"))
		return c->max_per_ip;
	if (!strcmp(attr, "timeout"))
		return c->timeout;
	if (!strcmp(attr, "threads"))
		return c->threads;
	if (!strcmp(attr, "ratePerMinute"))
		return c->rate_per_minute;
	if (!strcmp(attr, "rateBurst"))
		return c->rate_burst;
	if (!strcmp(attr, "retryAfter"))
		return c->retry_after;
	CU_FAIL_FATAL("unknown attribute in the range table");
	return 0;
}

static void range_doc(char *out, size_t outsz, const range_case *r, unsigned long v)
{
	/* The other port is moved away so that no value clashes with it. */
	const char *other = !strcmp(r->attr, "https")  ? " http=\"off\""
			    : !strcmp(r->attr, "http") ? " https=\"0\""
						       : "";

	snprintf(out, outsz, "<serve xmlns=\"%s\">\n<%s %s=\"%lu\"%s/>\n</serve>\n", NS, r->element, r->attr, v,
		 other);
}

static void test_ranges(void)
{
	char xml[512], value[64];
	sp_serve_config *c;
	size_t i;

	for (i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		const range_case *r = &ranges[i];
		/* both ends are allowed and land in their field */
		range_doc(xml, sizeof xml, r, r->lo);
		c = parse_ok(xml);
		CU_ASSERT_EQUAL(field_of(c, r->attr), r->lo);
		sp_serve_config_free(c);
		range_doc(xml, sizeof xml, r, r->hi);
		c = parse_ok(xml);
		CU_ASSERT_EQUAL(field_of(c, r->attr), r->hi);
		sp_serve_config_free(c);
		/* one past either end is refused, naming the attribute and value */
		range_doc(xml, sizeof xml, r, r->hi + 1);
		snprintf(value, sizeof value, "%s=\"%lu\"", r->attr, r->hi + 1);
		refused_at(xml, 2, value, "out of range");
		if (r->lo > 0) {
			range_doc(xml, sizeof xml, r, r->lo - 1);
			snprintf(value, sizeof value, "%s=\"%lu\"", r->attr, r->lo - 1);
			refused_at(xml, 2, value, "out of range");
		}
	}
	/* the largest number the schema lets through is still checked */
	refused_at(DOC("<limits timeout=\"999999999\"/>\n"), 2, "timeout=", "1..3600");
}

/* Token-typed values are whitespace-collapsed by the schema, so blanks
 * around a number or an address are allowed and must not change it. */
static void test_blanks_around_values(void)
{
	sp_serve_config *c = parse_ok(DOC("<listen address=\" ::1 \" https=\" 9443\" http=\" off \"/>\n"
					  "<limits timeout=\"\t15\n\"/>\n<pending anonymous=\" false \"/>\n"));

	CU_ASSERT_STRING_EQUAL(c->bind, "::1");
	CU_ASSERT_EQUAL(c->https_port, 9443);
	CU_ASSERT_EQUAL(c->http_port, -1);
	CU_ASSERT_EQUAL(c->timeout, 15);
	CU_ASSERT_EQUAL(c->allow_anonymous, 0);
	sp_serve_config_free(c);
}

/* ------------------------------------------------------------ schema */

static void test_unknown_element(void)
{
	refused_at(DOC("<listen/>\n<limits/>\n<bogus/>\n"), 4, "bogus", NULL);
	/* same name, other namespace */
	refused_at(DOC("<listen/>\n<x:limits xmlns:x=\"urn:example\"/>\n"), 3, "limits", NULL);
	/* text where only elements may be */
	refused_at(DOC("<listen/>\nhello\n"), 1, NULL, NULL);
}

static void test_unknown_attribute(void)
{
	refused_at(DOC("<listen/>\n<limits maxBodies=\"65536\"/>\n"), 3, "limits", NULL);
	refused_at(DOC("<listen port=\"1\"/>\n"), 2, "listen", NULL);
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a\" allow=\"x\" extra=\"1\"/>\n"), 2,
		   "agent", NULL);
}

static void test_schema_types(void)
{
	refused_at(DOC("<limits maxBody=\"64k\"/>\n"), 2, "limits", NULL);
	refused_at(DOC("<limits timeout=\"-1\"/>\n"), 2, "limits", NULL);
	refused_at(DOC("<listen http=\"none\"/>\n"), 2, "listen", NULL);
	refused_at(DOC("<pending anonymous=\"yes\"/>\n"), 2, "pending", NULL);
	/* an element once only */
	refused_at(DOC("<listen/>\n<listen/>\n"), 3, "listen", NULL);
	/* log needs its file */
	refused_at(DOC("<log/>\n"), 2, "log", NULL);
}

static void test_wrong_root(void)
{
	refused_at("<serve>\n</serve>\n", 1, "serve", NULL);
	refused_at("<serve xmlns=\"urn:sitepki:template:1\"/>\n", 1, NULL, NULL);
	refused_at("<config xmlns=\"" NS "\"/>\n", 1, "config", NULL);
}

/* ----------------------------------------------------------- hostile */

static void test_doctype_refused(void)
{
	/* an internal subset with an entity used in a value */
	refused_at("<?xml version=\"1.0\"?>\n<!DOCTYPE serve [<!ENTITY a \"127.0.0.1\">]>\n"
		   "<serve xmlns=\"" NS "\"><listen address=\"&a;\"/></serve>\n",
		   2, "DOCTYPE", "service configuration");
	/* XXE: an external entity */
	refused_at("<!DOCTYPE serve [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
		   "<serve xmlns=\"" NS "\"><log file=\"&x;\"/></serve>\n",
		   1, "DOCTYPE", NULL);
	/* an external DTD, even with nothing in it */
	refused_at("<!DOCTYPE serve SYSTEM \"http://127.0.0.1:9/x.dtd\">\n<serve xmlns=\"" NS "\"/>\n", 1,
		   "DOCTYPE", NULL);
	/* entity references with no DTD are not expanded: not well-formed */
	refused_at(DOC("<log file=\"&x;\"/>\n"), 2, NULL, NULL);
}

static void test_not_xml(void)
{
	sp_serve_config *c = NULL;

	CU_ASSERT_EQUAL(parse_doc("", &c), SP_ERR_INPUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, ORIGIN));
	refused_at(DOC("<listen>\n"), 3, NULL, NULL);
}

/* --------------------------------------------------------- semantics */

static void test_tls_pair(void)
{
	sp_serve_config *c;

	refused_at(DOC("\n<tls certificate=\"server.pem\"/>\n"), 3, "certificate and key", "key is missing");
	refused_at(DOC("<tls key=\"server-key.pem\"/>\n"), 2, "certificate and key", "certificate is missing");
	/* names would go unused with a certificate of one's own */
	refused_at(DOC("<tls certificate=\"a.pem\" key=\"b.pem\" serverNames=\"ca.corp.example\"/>\n"), 2,
		   "serverNames", NULL);
	c = parse_ok(DOC("<tls certificate=\"/srv/a.pem\" key=\"/srv/b.pem\"/>\n"));
	CU_ASSERT_STRING_EQUAL(c->tls_cert, "/srv/a.pem");
	CU_ASSERT_STRING_EQUAL(c->tls_key, "/srv/b.pem");
	sp_serve_config_free(c);
}

static void test_bind_address(void)
{
	static const char *const bad_addrs[] = {"localhost", "256.1.1.1", "[::1]", "1.2.3", "::1%lo", "1.2.3.4:80"};
	static const char *const good_addrs[] = {"0.0.0.0", "::", "::1", "10.1.2.3", "fe80::1", "::ffff:192.0.2.1"};
	char xml[256];
	sp_serve_config *c;
	size_t i;

	for (i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
		snprintf(xml, sizeof xml, "<serve xmlns=\"%s\">\n<listen address=\"%s\"/>\n</serve>\n", NS,
			 bad_addrs[i]);
		refused_at(xml, 2, "address=", "not an IPv4 or IPv6 address");
	}
	for (i = 0; i < sizeof good_addrs / sizeof good_addrs[0]; i++) {
		snprintf(xml, sizeof xml, "<serve xmlns=\"%s\">\n<listen address=\"%s\"/>\n</serve>\n", NS,
			 good_addrs[i]);
		c = parse_ok(xml);
		CU_ASSERT_STRING_EQUAL(c->bind, good_addrs[i]);
		sp_serve_config_free(c);
	}
}

static void test_ports(void)
{
	sp_serve_config *c = parse_ok(DOC("<listen https=\"0\" http=\"0\"/>\n"));

	/* two ephemeral ports are two different ports */
	CU_ASSERT_EQUAL(c->https_port, 0);
	CU_ASSERT_EQUAL(c->http_port, 0);
	sp_serve_config_free(c);
	c = parse_ok(DOC("<listen http=\"off\"/>\n"));
	CU_ASSERT_EQUAL(c->http_port, -1);
	CU_ASSERT_EQUAL(c->https_port, 8443);
	sp_serve_config_free(c);
	refused_at(DOC("<listen https=\"8080\"/>\n"), 2, "https and http", "8080");
	refused_at(DOC("<listen https=\"443\" http=\"443\"/>\n"), 2, "port 443", NULL);
}

static void test_server_names(void)
{
	sp_serve_config *c = parse_ok(DOC("<tls serverNames=\" localhost , ca.corp.example,CA2.corp.example\"/>\n"));

	CU_ASSERT_STRING_EQUAL(c->server_names, "localhost,ca.corp.example,CA2.corp.example");
	sp_serve_config_free(c);
	refused_at(DOC("<tls serverNames=\"bad_name.example\"/>\n"), 2, "serverNames", "bad_name.example");
	refused_at(DOC("<tls serverNames=\"*.corp.example\"/>\n"), 2, "serverNames", "wildcard");
	refused_at(DOC("<tls serverNames=\"a.example,,b.example\"/>\n"), 2, "serverNames", "empty name");
	refused_at(DOC("<tls serverNames=\"a.example,\"/>\n"), 2, "serverNames", "empty name");
	refused_at(DOC("<tls serverNames=\"a.example,A.EXAMPLE\"/>\n"), 2, "serverNames", "twice");
	refused_at(DOC("<tls serverNames=\"-a.example\"/>\n"), 2, "serverNames", NULL);
}

/* Relative names are taken from the configuration file's directory, made
 * absolute even when the file was named relative to the working directory. */
static void test_relative_paths(void)
{
	const char *tmp = sp_unit_tmpdir();
	static const char body[] = DOC("<tls certificate=\"tls/server.pem\" key=\"/srv/key.pem\"/>\n"
				       "<log file=\"../log/serve.log\"/>\n");
	char etc[4096], path[4096], want[4096], cwd[4096], saved[4096];
	sp_serve_config *c = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(saved, sizeof saved));
	path_in(etc, tmp, "etc");
	CU_ASSERT_EQUAL_FATAL(mkdir(etc, 0700), 0);
	path_in(path, etc, "serve.xml");
	write_file(path, body, sizeof body - 1);

	CU_ASSERT_EQUAL_FATAL(sp_serve_config_load(path, &c), SP_OK);
	path_in(want, etc, "tls/server.pem");
	CU_ASSERT_STRING_EQUAL(c->tls_cert, want);
	CU_ASSERT_STRING_EQUAL(c->tls_key, "/srv/key.pem");
	path_in(want, etc, "../log/serve.log");
	CU_ASSERT_STRING_EQUAL(c->log_file, want);
	sp_serve_config_free(c);
	c = NULL;

	/* "etc/serve.xml" from tmp */
	CU_ASSERT_EQUAL_FATAL(chdir(tmp), 0);
	CU_ASSERT_PTR_NOT_NULL(getcwd(cwd, sizeof cwd));
	CU_ASSERT_EQUAL(sp_serve_config_load("etc/serve.xml", &c), SP_OK);
	path_in(want, cwd, "etc/tls/server.pem");
	if (c)
		CU_ASSERT_STRING_EQUAL(c->tls_cert, want);
	sp_serve_config_free(c);
	c = NULL;

	/* "serve.xml" from its own directory */
	CU_ASSERT_EQUAL(chdir(etc), 0);
	CU_ASSERT_PTR_NOT_NULL(getcwd(cwd, sizeof cwd));
	CU_ASSERT_EQUAL(sp_serve_config_load("serve.xml", &c), SP_OK);
	path_in(want, cwd, "../log/serve.log");
	if (c) {
		CU_ASSERT_EQUAL(c->tls_cert[0], '/');
		CU_ASSERT_STRING_EQUAL(c->log_file, want);
	}
	sp_serve_config_free(c);
	CU_ASSERT_EQUAL_FATAL(chdir(saved), 0);

	c = parse_ok("<serve xmlns=\"" NS "\"><log file=\"serve.log\"/></serve>");
	CU_ASSERT_STRING_EQUAL(c->log_file, "/etc/sitepki/serve.log");
	sp_serve_config_free(c);
	c = NULL;
	/* a file in "/" */
	CU_ASSERT_EQUAL_FATAL(sp_serve_config_parse(body, sizeof body - 1, "/serve.xml", &c), SP_OK);
	CU_ASSERT_STRING_EQUAL(c->tls_cert, "/tls/server.pem");
	CU_ASSERT_STRING_EQUAL(c->log_file, "/../log/serve.log");
	sp_serve_config_free(c);
}

/* A document of `size` bytes: valid, padded with a comment. */
static char *padded_doc(size_t size)
{
	static const char head[] = "<serve xmlns=\"" NS "\"><!--", tail[] = "--></serve>\n";
	char *s = malloc(size + 1);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_FATAL(size > sizeof head + sizeof tail);
	memset(s, 'x', size);
	memcpy(s, head, sizeof head - 1);
	memcpy(s + size - (sizeof tail - 1), tail, sizeof tail - 1);
	s[size] = '\0';
	return s;
}

static void test_size_bound(void)
{
	const char *tmp = sp_unit_tmpdir();
	char path[4096];
	sp_serve_config *c = NULL;
	char *big = padded_doc(300 * 1024), *fits = padded_doc(SP_SERVE_CONFIG_MAX_BYTES);

	path_in(path, tmp, "big.xml");
	write_file(path, big, 300 * 1024);
	CU_ASSERT_EQUAL(run_captured(NULL, 0, NULL, path, &c), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, "262144"));
	/* the same bytes handed over in memory */
	CU_ASSERT_EQUAL(run_captured(big, 300 * 1024, ORIGIN, NULL, &c), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(last_msg, "262144"));
	/* exactly at the bound is fine */
	path_in(path, tmp, "fits.xml");
	write_file(path, fits, SP_SERVE_CONFIG_MAX_BYTES);
	CU_ASSERT_EQUAL(run_captured(NULL, 0, NULL, path, &c), SP_OK);
	if (c)
		assert_defaults(c);
	sp_serve_config_free(c);
	free(big);
	free(fits);
}

static void test_missing_file(void)
{
	sp_serve_config *c = NULL;
	char path[4096];

	path_in(path, sp_unit_tmpdir(), "absent.xml");
	CU_ASSERT_NOT_EQUAL(sp_serve_config_load(path, &c), SP_OK);
	CU_ASSERT_PTR_NULL(c);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), path));
}

/* ------------------------------------------------------------ agents */

static void test_agents(void)
{
	sp_serve_config *c = parse_ok(
		DOC("<agent template=\"client-auth\" subject=\"CN=sccm01.corp.example\"\n"
		    "       allow=\"amt-web-server\n  amt-8021x-client\tweb-server\"/>\n"
		    "<agent template=\"client-auth\" subject=\"CN=sccm02.corp.example,O=Corp\\, Inc.+OU=IT\" "
		    "allow=\"mobile-device\"/>\n"
		    "<agent template=\"isv-proxy\" subject=\"CN=sccm01.corp.example\" allow=\"amt-web-server\"/>\n"));

	CU_ASSERT_EQUAL_FATAL(c->n_agents, 3);
	CU_ASSERT_STRING_EQUAL(c->agents[0].template_name, "client-auth");
	CU_ASSERT_STRING_EQUAL(c->agents[0].subject, "CN=sccm01.corp.example");
	CU_ASSERT_EQUAL_FATAL(c->agents[0].n_allow, 3);
	CU_ASSERT_STRING_EQUAL(c->agents[0].allow[0], "amt-web-server");
	CU_ASSERT_STRING_EQUAL(c->agents[0].allow[1], "amt-8021x-client");
	CU_ASSERT_STRING_EQUAL(c->agents[0].allow[2], "web-server");
	CU_ASSERT_STRING_EQUAL(c->agents[1].subject, "CN=sccm02.corp.example,O=Corp\\, Inc.+OU=IT");
	CU_ASSERT_EQUAL_FATAL(c->agents[1].n_allow, 1);
	CU_ASSERT_STRING_EQUAL(c->agents[1].allow[0], "mobile-device");
	/* the same subject under another template is another agent */
	CU_ASSERT_STRING_EQUAL(c->agents[2].template_name, "isv-proxy");
	sp_serve_config_free(c);
}

static void test_agents_refused(void)
{
	/* schema: names, required attributes */
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a\" allow=\"Web-Server\"/>\n"), 2, "agent",
		   NULL);
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a\" allow=\"../etc\"/>\n"), 2, "agent", NULL);
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a\" allow=\"\"/>\n"), 2, "agent", NULL);
	refused_at(DOC("<agent template=\"Client\" subject=\"CN=a\" allow=\"x\"/>\n"), 2, "agent", NULL);
	refused_at(DOC("<agent template=\"client-auth\" allow=\"x\"/>\n"), 2, "agent", NULL);
	/* the rules */
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a\" allow=\"x y x\"/>\n"), 2, "allow",
		   "twice");
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a\" allow=\"x\"/>\n"
		       "<agent template=\"client-auth\" subject=\"CN=a\" allow=\"y\"/>\n"),
		   3, "configured twice", NULL);
	/* subjects that sp_name_oneline never prints */
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN = sccm01\" allow=\"x\"/>\n"), 2, "subject=",
		   "RFC2253");
	refused_at(DOC("<agent template=\"client-auth\" subject=\"/CN=sccm01\" allow=\"x\"/>\n"), 2, "subject=",
		   NULL);
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a, O=b\" allow=\"x\"/>\n"), 2, "subject=",
		   NULL);
	refused_at(DOC("<agent template=\"client-auth\" subject=\"CN=a \" allow=\"x\"/>\n"), 2, "subject=", NULL);
	refused_at(DOC("<agent template=\"client-auth\" subject=\"sccm01\" allow=\"x\"/>\n"), 2, "subject=", NULL);
}

/* ---------------------------------------------------------- xmllint */

static int sh(const char *cmd)
{
	int st = system(cmd);

	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* An independent RELAX NG validator agrees: the schema compiles, the
 * shipped example and the full example are valid, a broken one is not. */
static void test_xmllint(void)
{
	const char *tmp = sp_unit_tmpdir();
	char rng[4096], full[4096], broken[4096], out[4096], cmd[16384];
	static const char broken_doc[] = DOC("<limits maxBodies=\"1\"/>\n");

	if (sh("command -v xmllint >/dev/null 2>&1") != 0) {
		printf("\n  note: xmllint is not installed; the independent schema check is skipped\n");
		return;
	}
	path_in(rng, sp_template_data_dir(), SP_SERVE_SCHEMA);
	path_in(full, tmp, "full.xml");
	path_in(broken, tmp, "broken.xml");
	path_in(out, tmp, "xmllint.txt");
	write_file(full, full_example, sizeof full_example - 1);
	write_file(broken, broken_doc, sizeof broken_doc - 1);

	snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --relaxng '%s' '%s' '%s' >'%s' 2>&1", rng,
		 dist_example(), full, out);
	CU_ASSERT_EQUAL(sh(cmd), 0);
	snprintf(cmd, sizeof cmd, "xmllint --noout --nonet --relaxng '%s' '%s' >'%s' 2>&1", rng, broken, out);
	CU_ASSERT_NOT_EQUAL(sh(cmd), 0);
}

/* ------------------------------------------------------------ suites */

static const sp_unit_test basic_tests[] = {
	{"defaults", test_defaults},
	{"empty document gives the defaults", test_empty_document},
	{"dist/serve.xml is every default", test_dist_example},
	{"example and docs cover the schema", test_example_and_docs_cover_schema},
	{"full example", test_full_example},
	{"relative paths", test_relative_paths},
	{"agents", test_agents},
	{"blanks around values", test_blanks_around_values},
	{NULL, NULL},
};

static const sp_unit_test rule_tests[] = {
	{"ranges", test_ranges},
	{"tls certificate and key together", test_tls_pair},
	{"bind address", test_bind_address},
	{"ports", test_ports},
	{"server names", test_server_names},
	{"agents refused", test_agents_refused},
	{NULL, NULL},
};

static const sp_unit_test schema_tests[] = {
	{"unknown element", test_unknown_element},
	{"unknown attribute", test_unknown_attribute},
	{"schema types", test_schema_types},
	{"wrong root", test_wrong_root},
	{"DOCTYPE refused", test_doctype_refused},
	{"not XML", test_not_xml},
	{"size bound", test_size_bound},
	{"missing file", test_missing_file},
	{"xmllint agrees", test_xmllint},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"serve config: values", basic_tests},
	{"serve config: rules", rule_tests},
	{"serve config: schema and hostile input", schema_tests},
	{NULL, NULL},
};
