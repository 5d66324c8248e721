/*
 * test_templates.c - unit tests of templates/: the nine shipped templates
 * carry the facts of native-mode-certificates.md, lookup and listing honour
 * a CA home, and bad or hostile files are refused with a one-line message
 * that names the file (and the line, for schema errors) without libxml2
 * writing anything to stderr.
 *
 * Every test builds what it needs (temporary homes, oversized files) and
 * restores any environment it changes, so tests run in any order.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "templates/templates.h"

#define OID_SERVER_AUTH "1.3.6.1.5.5.7.3.1"
#define OID_CLIENT_AUTH "1.3.6.1.5.5.7.3.2"
#define OID_DOC_SIGNING "1.3.6.1.4.1.311.10.3.12"
#define OID_AMT_SETUP "2.16.840.1.113741.1.2.3"
#define AMT_OU "Intel(R) Client Setup Certificate"
#define SSS_PREFIX "The site code of this site server signing certificate is "

static const char *const shipped[] = {
	"amt-8021x-client", "amt-provisioning", "amt-web-server", "client-auth", "isv-proxy",
	"mobile-device",    "osd-media",        "site-server-signing", "web-server",
};
#define N_SHIPPED (sizeof shipped / sizeof shipped[0])

/* ------------------------------------------------------------ helpers */

static sp_template *find_shipped(const char *name)
{
	sp_template *t = NULL;
	sp_err err = sp_template_find(NULL, name, &t);

	if (err != SP_OK)
		printf("\n  %s: %s\n", name, sp_last_error());
	CU_ASSERT_EQUAL_FATAL(err, SP_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	return t;
}

static int eku_index(const sp_template *t, const char *oid)
{
	for (int i = 0; i < t->n_eku; i++)
		if (strcmp(t->eku_oid[i], oid) == 0)
			return i;
	return -1;
}

static const sp_tpl_attr *attr(const sp_template *t, const char *type)
{
	for (int i = 0; i < t->n_attrs; i++)
		if (strcmp(t->attrs[i].type, type) == 0)
			return &t->attrs[i];
	return NULL;
}

/* Attribute present, optional, free text, not fixed. */
static int is_optional_text(const sp_template *t, const char *type)
{
	const sp_tpl_attr *a = attr(t, type);

	return a && !a->required && a->format == SP_FORMAT_TEXT && !a->fixed;
}

static int is_required(const sp_template *t, const char *type, int format)
{
	const sp_tpl_attr *a = attr(t, type);

	return a && a->required && a->format == format && !a->fixed;
}

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

/* Text of `src` with the first `from` replaced by `to`; caller frees. */
static char *replace_once(const char *src, const char *from, const char *to)
{
	const char *at = strstr(src, from);
	size_t n;
	char *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(at);
	n = strlen(src) - strlen(from) + strlen(to);
	out = malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	snprintf(out, n + 1, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
	return out;
}

static char *fixture_text(const char *rel)
{
	size_t len;
	char *s = read_all(sp_unit_data(rel), &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* The first line of /etc/passwd (or a stand-in if unreadable): no output
 * of the loader may ever contain it. */
static void passwd_marker(char *out, size_t outsz)
{
	size_t len;
	char *s = read_all("/etc/passwd", &len);

	snprintf(out, outsz, "%s", s && len ? s : "root:x:0:0:");
	out[strcspn(out, "\n")] = '\0';
	free(s);
}

static const char *capture_path(void)
{
	static char path[4096];

	if (!path[0])
		snprintf(path, sizeof path, "%s/stderr.txt", sp_unit_tmpdir());
	return path;
}

/* Run one load with stderr sent to a file. msg gets sp_last_error() on
 * failure; stderr_out gets whatever was written to stderr (must be ""). */
typedef enum { VIA_FILE, VIA_MEMORY } load_via;

static sp_err load_captured(const char *path, load_via via, sp_template **t, char *msg, size_t msgsz,
			    char *stderr_out, size_t stderr_sz, double *seconds)
{
	struct timespec a, b;
	int saved, fd;
	size_t len = 0;
	char *data = NULL, *cap;
	sp_err err;

	*t = NULL;
	msg[0] = '\0';
	if (via == VIA_MEMORY) {
		data = read_all(path, &len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(data);
	}
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(capture_path(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(saved >= 0 && fd >= 0);
	CU_ASSERT_FATAL(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);

	clock_gettime(CLOCK_MONOTONIC, &a);
	if (via == VIA_FILE)
		err = sp_template_load_file(path, t);
	else
		err = sp_template_parse(data, len, path, t);
	clock_gettime(CLOCK_MONOTONIC, &b);

	fflush(stderr);
	CU_ASSERT_FATAL(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	if (err != SP_OK)
		snprintf(msg, msgsz, "%s", sp_last_error());
	*seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	cap = read_all(capture_path(), &len);
	snprintf(stderr_out, stderr_sz, "%s", cap ? cap : "");
	free(cap);
	free(data);
	return err;
}

/* A bad fixture: refused as SP_ERR_INPUT, one line, naming the file; with
 * line > 0 the schema/parser form "FILE:LINE: ...", with line == 0 the
 * rule form "FILE: ...". */
static void expect_bad(const char *rel, int line, const char *phrase)
{
	const char *path = sp_unit_data(rel);
	const char *base = strrchr(path, '/') + 1;
	char msg[1024], errout[1024], want[512];
	sp_template *t;
	double secs;
	sp_err err;

	for (load_via via = VIA_FILE; via <= VIA_MEMORY; via++) {
		err = load_captured(path, via, &t, msg, sizeof msg, errout, sizeof errout, &secs);
		CU_ASSERT_EQUAL(err, SP_ERR_INPUT);
		CU_ASSERT_PTR_NULL(t);
		sp_template_free(t);
		CU_ASSERT_STRING_EQUAL(errout, "");
		CU_ASSERT_PTR_NULL(strchr(msg, '\n'));
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, base));
		if (line > 0)
			snprintf(want, sizeof want, "%s:%d: ", path, line);
		else
			snprintf(want, sizeof want, "%s: ", path);
		if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, phrase)) {
			printf("\n  %s: got \"%s\", want prefix \"%s\" and \"%s\"\n", rel, msg, want, phrase);
			CU_FAIL("error message");
		}
	}
}

/* A hostile fixture: refused fast, message says why, nothing leaked. */
static void expect_hostile(const char *rel, int line, const char *phrase)
{
	const char *path = sp_unit_data(rel);
	char msg[1024], errout[4096], want[512], marker[256];
	sp_template *t;
	double secs;
	sp_err err;

	passwd_marker(marker, sizeof marker);
	for (load_via via = VIA_FILE; via <= VIA_MEMORY; via++) {
		err = load_captured(path, via, &t, msg, sizeof msg, errout, sizeof errout, &secs);
		CU_ASSERT_EQUAL(err, SP_ERR_INPUT);
		CU_ASSERT_PTR_NULL(t);
		sp_template_free(t);
		CU_ASSERT_STRING_EQUAL(errout, "");
		CU_ASSERT_PTR_NULL(strstr(msg, marker));
		CU_ASSERT_PTR_NULL(strstr(msg, "root:x:"));
		/* Generous for sanitizer builds; an expansion would take
		 * minutes or exhaust memory. */
		CU_ASSERT(secs < 2.0);
		snprintf(want, sizeof want, "%s:%d: ", path, line);
		if (strncmp(msg, want, strlen(want)) != 0 || !strstr(msg, phrase)) {
			printf("\n  %s: got \"%s\", want prefix \"%s\" and \"%s\"\n", rel, msg, want, phrase);
			CU_FAIL("error message");
		}
	}
}

/* A fresh CA home with a templates/ folder. */
static const char *make_home(char *tpl_dir, size_t tpl_dir_sz)
{
	const char *home = sp_unit_tmpdir();

	snprintf(tpl_dir, tpl_dir_sz, "%s/templates", home);
	CU_ASSERT_EQUAL_FATAL(mkdir(tpl_dir, 0700), 0);
	return home;
}

/* Copy a shipped template into dir under `name`, changing its name and
 * validity so that the copy is recognisable. */
static void put_variant(const char *dir, const char *from_rel_shipped, const char *name, int days)
{
	char src[4096], dst[4096], days_attr[32];
	const char *ddir = getenv("SITEPKI_DATA_DIR");
	char *text, *t1, *t2, *old_name;
	size_t len;

	snprintf(src, sizeof src, "%s/%s.xml", ddir && *ddir ? ddir : SITEPKI_DATA_DIR, from_rel_shipped);
	text = read_all(src, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	len = strlen(from_rel_shipped) + 16;
	old_name = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(old_name);
	snprintf(old_name, len, "name=\"%s\"", from_rel_shipped);
	snprintf(dst, sizeof dst, "name=\"%s\"", name);
	t1 = replace_once(text, old_name, dst);
	snprintf(days_attr, sizeof days_attr, "days=\"%d\"", days);
	t2 = replace_once(t1, "days=\"365\"", days_attr);
	snprintf(dst, sizeof dst, "%s/%s.xml", dir, name);
	write_file(dst, t2, strlen(t2));
	free(text);
	free(old_name);
	free(t1);
	free(t2);
}

/* --------------------------------------------- shipped templates: facts */

/* Facts for every type: RSA >= 2048, SHA-256, ECDSA only on the web
 * server, a required CN, KU critical with digitalSignature. */
static void test_all_shipped_common(void)
{
	for (size_t i = 0; i < N_SHIPPED; i++) {
		sp_template *t = find_shipped(shipped[i]);

		CU_ASSERT_STRING_EQUAL(t->name, shipped[i]);
		CU_ASSERT_STRING_EQUAL(t->hash, "sha256");
		CU_ASSERT_TRUE(t->rsa_allowed);
		CU_ASSERT(t->rsa_min_bits >= 2048);
		CU_ASSERT(t->rsa_max_bits >= t->rsa_min_bits);
		if (strcmp(shipped[i], "web-server") != 0)
			CU_ASSERT_EQUAL(t->n_ec_curves, 0);
		CU_ASSERT_TRUE(t->key_usage & SP_KU_DIGITAL_SIGNATURE);
		CU_ASSERT_TRUE(t->key_usage_critical);
		CU_ASSERT(t->n_eku >= 1);
		CU_ASSERT_PTR_NOT_NULL(attr(t, "CN"));
		CU_ASSERT_TRUE(attr(t, "CN") && attr(t, "CN")->required);
		CU_ASSERT_PTR_NOT_NULL(t->description);
		CU_ASSERT_PTR_NOT_NULL(strstr(t->path, shipped[i]));
		CU_ASSERT(t->validity_days >= 1 && t->validity_days <= 730);
		/* Only the boot-media template lets the CA make the key. */
		CU_ASSERT_EQUAL(t->server_keygen, strcmp(shipped[i], "osd-media") == 0);
		sp_template_free(t);
	}
}

static void test_web_server(void)
{
	sp_template *t = find_shipped("web-server");

	CU_ASSERT_EQUAL(t->validity_days, 730);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 4096);
	CU_ASSERT_EQUAL_FATAL(t->n_ec_curves, 2);
	CU_ASSERT_STRING_EQUAL(t->ec_curves[0], "P-256");
	CU_ASSERT_STRING_EQUAL(t->ec_curves[1], "P-384");
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE | SP_KU_KEY_ENCIPHERMENT);
	/* RFC 5480 3: no keyEncipherment in an EC certificate. */
	CU_ASSERT_EQUAL(t->key_usage_rsa_only, SP_KU_KEY_ENCIPHERMENT);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_SERVER_AUTH), 0);
	CU_ASSERT_STRING_EQUAL(t->eku_name[0], "serverAuth");
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_DNS));
	CU_ASSERT_TRUE(is_optional_text(t, "O"));
	CU_ASSERT_TRUE(is_optional_text(t, "OU"));
	CU_ASSERT_TRUE(is_optional_text(t, "L"));
	CU_ASSERT_TRUE(is_optional_text(t, "ST"));
	CU_ASSERT_TRUE(is_optional_text(t, "C"));
	CU_ASSERT_EQUAL(t->n_attrs, 6);
	CU_ASSERT_EQUAL(t->san_dns.from, SP_FROM_CSR | SP_FROM_CLI);
	CU_ASSERT_EQUAL(t->san_dns.min, 1);
	CU_ASSERT_EQUAL(t->san_dns.max, 32);
	CU_ASSERT_EQUAL(t->san_upn.from, 0);
	CU_ASSERT_EQUAL(t->auto_approve, SP_APPROVE_TOKEN | SP_APPROVE_CLIENTCERT);
	CU_ASSERT_FALSE(t->needs_site_code);
	sp_template_free(t);
}

static void test_client_auth(void)
{
	sp_template *t = find_shipped("client-auth");

	CU_ASSERT_EQUAL(t->validity_days, 365);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 2048);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE | SP_KU_KEY_ENCIPHERMENT);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_CLIENT_AUTH), 0);
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_DNS));
	CU_ASSERT_TRUE(is_optional_text(t, "O") && is_optional_text(t, "OU") &&
		       is_optional_text(t, "L") && is_optional_text(t, "ST") && is_optional_text(t, "C"));
	CU_ASSERT_EQUAL(t->san_dns.from, SP_FROM_CSR | SP_FROM_CLI);
	CU_ASSERT_EQUAL(t->san_dns.min, 0);
	CU_ASSERT_EQUAL(t->san_dns.max, 8);
	CU_ASSERT_EQUAL(t->san_upn.from, 0);
	CU_ASSERT_EQUAL(t->auto_approve, SP_APPROVE_TOKEN | SP_APPROVE_CLIENTCERT);
	sp_template_free(t);
}

static void test_mobile_device(void)
{
	sp_template *t = find_shipped("mobile-device");

	CU_ASSERT_EQUAL(t->validity_days, 365);
	/* Devices cannot check CRLs: the description must say why it is short. */
	CU_ASSERT_PTR_NOT_NULL(strstr(t->description, "CRL"));
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 2048);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE | SP_KU_KEY_ENCIPHERMENT);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_CLIENT_AUTH), 0);
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_TEXT));
	CU_ASSERT_TRUE(is_optional_text(t, "O") && is_optional_text(t, "OU"));
	CU_ASSERT_EQUAL(t->n_attrs, 3);
	CU_ASSERT_EQUAL(t->san_upn.from, SP_FROM_CSR | SP_FROM_CLI);
	CU_ASSERT_EQUAL(t->san_upn.min, 0);
	CU_ASSERT_EQUAL(t->san_upn.max, 1);
	CU_ASSERT_EQUAL(t->san_dns.from, 0);
	CU_ASSERT_EQUAL(t->auto_approve, SP_APPROVE_TOKEN);
	sp_template_free(t);
}

static void test_site_server_signing(void)
{
	sp_template *t = find_shipped("site-server-signing");
	const sp_tpl_attr *cn;
	char *v;

	CU_ASSERT_EQUAL(t->validity_days, 365);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 2048);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE);
	CU_ASSERT_TRUE(t->key_usage_critical);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_DOC_SIGNING), 0);
	CU_ASSERT_EQUAL(eku_index(t, OID_SERVER_AUTH), -1);
	CU_ASSERT_EQUAL(eku_index(t, OID_CLIENT_AUTH), -1);
	CU_ASSERT_TRUE(t->needs_site_code);
	CU_ASSERT_EQUAL(t->n_attrs, 1);
	cn = attr(t, "CN");
	CU_ASSERT_PTR_NOT_NULL_FATAL(cn);
	CU_ASSERT_TRUE(cn->required);
	CU_ASSERT_STRING_EQUAL(cn->fixed, SSS_PREFIX "{siteCode}");
	/* No SAN at all. */
	CU_ASSERT_EQUAL(t->san_dns.from, 0);
	CU_ASSERT_EQUAL(t->san_upn.from, 0);
	/* Signs client policy: always an administrator's decision. */
	CU_ASSERT_EQUAL(t->auto_approve, 0);
	v = sp_template_expand(cn->fixed, "P01");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, SSS_PREFIX "P01");
	CU_ASSERT_EQUAL(strlen(v), 60); /* facts: 60 characters, CN limit 64 */
	free(v);
	sp_template_free(t);
}

static void test_osd_media(void)
{
	sp_template *t = find_shipped("osd-media");

	CU_ASSERT_EQUAL(t->validity_days, 365);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 2048);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE | SP_KU_KEY_ENCIPHERMENT);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_CLIENT_AUTH), 0);
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_TEXT));
	CU_ASSERT_TRUE(is_optional_text(t, "O") && is_optional_text(t, "OU"));
	CU_ASSERT_EQUAL(t->san_dns.from, SP_FROM_CSR | SP_FROM_CLI);
	CU_ASSERT_EQUAL(t->san_dns.min, 0);
	CU_ASSERT_EQUAL(t->san_dns.max, 4);
	CU_ASSERT_EQUAL(t->san_upn.from, 0);
	CU_ASSERT_TRUE(t->server_keygen);
	CU_ASSERT_EQUAL(t->keygen_bits, 2048);
	CU_ASSERT_EQUAL(t->auto_approve, SP_APPROVE_TOKEN); /* EST /serverkeygen with an admin's token */
	sp_template_free(t);
}

static void test_isv_proxy(void)
{
	sp_template *t = find_shipped("isv-proxy");

	CU_ASSERT_EQUAL(t->validity_days, 365);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 2048);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_CLIENT_AUTH), 0);
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_TEXT));
	CU_ASSERT_TRUE(is_optional_text(t, "O") && is_optional_text(t, "OU"));
	CU_ASSERT_EQUAL(t->san_dns.from, 0);
	CU_ASSERT_EQUAL(t->san_upn.from, 0);
	CU_ASSERT_EQUAL(t->auto_approve, 0);
	sp_template_free(t);
}

static void test_amt_provisioning(void)
{
	sp_template *t = find_shipped("amt-provisioning");
	int i;

	CU_ASSERT_EQUAL(t->validity_days, 365);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 4096);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE | SP_KU_KEY_ENCIPHERMENT);
	CU_ASSERT_EQUAL(t->n_eku, 2);
	CU_ASSERT(eku_index(t, OID_SERVER_AUTH) >= 0);
	i = eku_index(t, OID_AMT_SETUP);
	CU_ASSERT_FATAL(i >= 0);
	CU_ASSERT_STRING_EQUAL(t->eku_name[i], "amtProvisioning");
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_DNS));
	CU_ASSERT_TRUE(is_optional_text(t, "O"));
	CU_ASSERT_EQUAL(t->n_attrs, 2);
	CU_ASSERT_EQUAL(t->san_dns.from, SP_FROM_CSR | SP_FROM_CLI);
	CU_ASSERT_EQUAL(t->san_dns.min, 0);
	CU_ASSERT_EQUAL(t->san_dns.max, 4);
	CU_ASSERT_EQUAL(t->auto_approve, 0);
	/* ME 15/16: no SHA-1 anywhere in the chain (facts 7a) */
	CU_ASSERT_TRUE(t->issuer_no_sha1);
	CU_ASSERT_FALSE(t->issuer_rsa_only);
	sp_template_free(t);
}

static void test_amt_web_server(void)
{
	sp_template *t = find_shipped("amt-web-server");

	CU_ASSERT_EQUAL(t->validity_days, 365);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 2048);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE | SP_KU_KEY_ENCIPHERMENT);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_SERVER_AUTH), 0);
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_DNS));
	CU_ASSERT_EQUAL(t->n_attrs, 1);
	CU_ASSERT_EQUAL(t->san_dns.from, SP_FROM_CSR | SP_FROM_CLI);
	CU_ASSERT_EQUAL(t->san_dns.max, 4);
	/* The out of band service point needs auto-approval (facts 7b). */
	CU_ASSERT_EQUAL(t->auto_approve, SP_APPROVE_TOKEN | SP_APPROVE_CLIENTCERT);
	/* every CA key in the chain RSA <= 2048 (facts 7b) */
	CU_ASSERT_TRUE(t->issuer_rsa_only);
	CU_ASSERT_EQUAL(t->issuer_max_rsa_bits, 2048);
	sp_template_free(t);
}

static void test_amt_8021x_client(void)
{
	sp_template *t = find_shipped("amt-8021x-client");

	CU_ASSERT_EQUAL(t->validity_days, 365);
	CU_ASSERT_EQUAL(t->rsa_min_bits, 2048);
	CU_ASSERT_EQUAL(t->rsa_max_bits, 2048);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE | SP_KU_KEY_ENCIPHERMENT);
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_CLIENT_AUTH), 0);
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_DNS));
	/* "DNS cleared, UPN in SAN". */
	CU_ASSERT_EQUAL(t->san_dns.from, 0);
	CU_ASSERT_EQUAL(t->san_upn.from, SP_FROM_CSR | SP_FROM_CLI);
	CU_ASSERT_EQUAL(t->san_upn.min, 1);
	CU_ASSERT_EQUAL(t->san_upn.max, 1);
	CU_ASSERT_EQUAL(t->auto_approve, SP_APPROVE_TOKEN | SP_APPROVE_CLIENTCERT);
	sp_template_free(t);
}

static void test_amt_provisioning_ou_variant(void)
{
	sp_template *t = NULL;
	const sp_tpl_attr *ou;
	sp_err err = sp_template_load_file(sp_unit_data("good/amt-provisioning-ou.xml"), &t);

	CU_ASSERT_EQUAL_FATAL(err, SP_OK);
	CU_ASSERT_STRING_EQUAL(t->name, "amt-provisioning-ou");
	CU_ASSERT_EQUAL(t->n_eku, 1);
	CU_ASSERT_EQUAL(eku_index(t, OID_SERVER_AUTH), 0);
	CU_ASSERT_EQUAL(eku_index(t, OID_AMT_SETUP), -1);
	ou = attr(t, "OU");
	CU_ASSERT_PTR_NOT_NULL_FATAL(ou);
	CU_ASSERT_TRUE(ou->required);
	CU_ASSERT_STRING_EQUAL(ou->fixed, AMT_OU);
	CU_ASSERT_FALSE(t->needs_site_code);
	CU_ASSERT_TRUE(is_required(t, "CN", SP_FORMAT_DNS));
	sp_template_free(t);
}

static void test_minimal_good(void)
{
	sp_template *t = NULL;
	sp_err err = sp_template_load_file(sp_unit_data("good/minimal.xml"), &t);

	CU_ASSERT_EQUAL_FATAL(err, SP_OK);
	CU_ASSERT_STRING_EQUAL(t->name, "minimal");
	CU_ASSERT_PTR_NULL(t->description);
	CU_ASSERT_EQUAL(t->auto_approve, 0);
	CU_ASSERT_EQUAL(t->san_dns.from, 0);
	CU_ASSERT_EQUAL(t->san_upn.from, 0);
	CU_ASSERT_EQUAL(t->n_attrs, 1);
	CU_ASSERT_EQUAL(t->attrs[0].format, SP_FORMAT_TEXT);
	sp_template_free(t);
	sp_template_free(NULL); /* no-op */
}

/* ------------------------------------------------------ parse, expand */

static void test_parse_memory_any_name(void)
{
	char *xml = fixture_text("good/minimal.xml");
	sp_template *t = NULL;

	/* Origin not ending in .xml: the name is not tied to it. */
	CU_ASSERT_EQUAL(sp_template_parse(xml, strlen(xml), "EST request body", &t), SP_OK);
	CU_ASSERT_PTR_NOT_NULL(t);
	sp_template_free(t);
	t = NULL;
	CU_ASSERT_EQUAL(sp_template_parse(xml, strlen(xml), NULL, &t), SP_OK);
	sp_template_free(t);
	t = NULL;
	/* Ending in .xml: it is. */
	CU_ASSERT_EQUAL(sp_template_parse(xml, strlen(xml), "/x/other.xml", &t), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "does not match the file name"));
	CU_ASSERT_EQUAL(sp_template_parse(xml, strlen(xml), "/x/minimal.xml", &t), SP_OK);
	sp_template_free(t);
	t = NULL;
	CU_ASSERT_EQUAL(sp_template_parse(xml, strlen(xml), "minimal.xml", &t), SP_OK);
	sp_template_free(t);
	free(xml);
}

static void test_parse_whitespace_values(void)
{
	char *xml = fixture_text("good/minimal.xml");
	char *a = replace_once(xml, ">1.3.6.1.5.5.7.3.2<", ">\n      1.3.6.1.5.5.7.3.2\n    <");
	char *b = replace_once(a, "<usage>digitalSignature<", "<usage> digitalSignature <");
	char *c = replace_once(b, "days=\"365\"", "days=\" 365 \"");
	sp_template *t = NULL;

	/* Token types collapse white space in the schema; the loader agrees. */
	CU_ASSERT_EQUAL_FATAL(sp_template_parse(c, strlen(c), "mem", &t), SP_OK);
	CU_ASSERT_STRING_EQUAL(t->eku_oid[0], OID_CLIENT_AUTH);
	CU_ASSERT_EQUAL(t->key_usage, SP_KU_DIGITAL_SIGNATURE);
	CU_ASSERT_EQUAL(t->validity_days, 365);
	sp_template_free(t);
	free(xml);
	free(a);
	free(b);
	free(c);
}

/* Rules checked from memory, each a change to the minimal template. */
static void test_rules_in_memory(void)
{
	static const struct {
		const char *from, *to, *phrase;
	} cases[] = {
		{"minBits=\"2048\"", "minBits=\"2047\"", "below 2048"},
		{"maxBits=\"2048\"", "maxBits=\"32768\"", "above 16384"},
		{"days=\"365\"", "days=\"36501\"", ":4: "},
		{"<attribute type=\"CN\" required=\"true\"/>",
		 "<attribute type=\"CN\" required=\"true\" fixed=\" leading\"/>", "space"},
		{"<attribute type=\"CN\" required=\"true\"/>",
		 "<attribute type=\"CN\"/><attribute type=\"C\" fixed=\"Germany\"/>", "longer than 2"},
		{"<attribute type=\"CN\" required=\"true\"/>",
		 "<attribute type=\"CN\" fixed=\"ab}\"/>", "'}'"},
		{"<attribute type=\"CN\" required=\"true\"/>",
		 "<attribute type=\"CN\" fixed=\"{siteCode\"/>", "unknown {token}"},
		{"<attribute type=\"CN\" required=\"true\"/>",
		 "<attribute type=\"CN\" fixed=\"tab&#9;here\"/>", "printable ASCII"},
		{"<attribute type=\"CN\" required=\"true\"/>",
		 "<attribute type=\"CN\" fixed=\"" SSS_PREFIX "{siteCode} and more\"/>", "longer than 64"},
		{"<purpose name=\"clientAuth\">1.3.6.1.5.5.7.3.2</purpose>",
		 "<purpose name=\"a\">1.3.6.1.5.5.7.3.2</purpose><purpose name=\"b\">1.3.6.1.5.5.7.3.2</purpose>",
		 "listed twice"},
		{"1.3.6.1.5.5.7.3.2", "1.40.1", "not a valid dotted OID"},
		{"1.3.6.1.5.5.7.3.2", "3.1", ":13: "},
		{"</subject>", "</subject><enrollment keyGenBits=\"2048\"/>", "serverKeyGen is not true"},
		{"<rsa minBits=\"2048\" maxBits=\"2048\"/>\n  </keys>\n  <keyUsage critical=\"true\">\n    <usage>",
		 "<ec curve=\"P-256\"/>\n  </keys>\n  <keyUsage critical=\"true\">\n    <usage rsaOnly=\"true\">",
		 "every key usage is rsaOnly"},
		{"</subject>", "</subject><subjectAltName><dns from=\"csr csr\" min=\"0\" max=\"1\"/></subjectAltName>",
		 "listed twice"},
		{"</subject>", "</subject><subjectAltName><upn from=\"cli\" min=\"0\" max=\"65\"/></subjectAltName>",
		 ":17: "},
		{"</subject>", "</subject><enrollment autoApprove=\"token token\"/>", "listed twice"},
		{"name=\"minimal\"", "name=\"Minimal\"", ":3: "},
		{"name=\"minimal\"", "name=\"a/b\"", ":3: "},
		{"<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<?xml version=\"1.0\" encoding=\"UTF-8\"?><x:y/>",
		 "Namespace prefix x"},
	};
	char *xml = fixture_text("good/minimal.xml");

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sp_template *t = NULL;
		char *mod;
		sp_err err;

		mod = replace_once(xml, cases[i].from, cases[i].to);
		err = sp_template_parse(mod, strlen(mod), "mem", &t);
		if (err != SP_ERR_INPUT || t || !strstr(sp_last_error(), cases[i].phrase) ||
		    strncmp(sp_last_error(), "mem:", 4) != 0) {
			printf("\n  case %zu (%s): err %d, \"%s\"\n", i, cases[i].to, (int)err, sp_last_error());
			CU_FAIL("rule not enforced as expected");
		}
		sp_template_free(t);
		free(mod);
	}
	free(xml);
}

static void test_positive_variants(void)
{
	static const struct {
		const char *from, *to;
	} cases[] = {
		/* Under arc 2 the second arc may be anything (X.660). */
		{"1.3.6.1.5.5.7.3.2", "2.999.1"},
		{"1.3.6.1.5.5.7.3.2", "2.25.329800735698586629295641978511506172918"},
		{"<rsa minBits=\"2048\" maxBits=\"2048\"/>", "<rsa minBits=\"3072\" maxBits=\"16384\"/>"},
		{"<attribute type=\"CN\" required=\"true\"/>", "<attribute type=\"C\" fixed=\"DE\"/><attribute type=\"CN\"/>"},
		{"</subject>", "</subject><enrollment/>"},
		{"</subject>", "</subject><enrollment serverKeyGen=\"1\" keyGenBits=\"2048\"/>"},
		{"critical=\"true\"", "critical=\"0\""},
		{"<rsa minBits=\"2048\" maxBits=\"2048\"/>", "<ec curve=\"P-384\"/>"},
	};
	char *xml = fixture_text("good/minimal.xml");

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sp_template *t = NULL;
		char *mod = replace_once(xml, cases[i].from, cases[i].to);
		sp_err err = sp_template_parse(mod, strlen(mod), "mem", &t);

		if (err != SP_OK) {
			printf("\n  case %zu (%s): \"%s\"\n", i, cases[i].to, sp_last_error());
			CU_FAIL("valid variant refused");
		}
		sp_template_free(t);
		free(mod);
	}
	free(xml);
}

static void test_expand(void)
{
	char *v;

	v = sp_template_expand("SC={siteCode}, again {siteCode}.", "ABC");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "SC=ABC, again ABC.");
	free(v);
	v = sp_template_expand("no token", "ABC");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "no token");
	free(v);
	/* Without the token the site code is not looked at (callers expand
	 * every fixed value, with no site code when none is needed). */
	v = sp_template_expand(AMT_OU, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, AMT_OU);
	free(v);
	v = sp_template_expand(AMT_OU, "");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, AMT_OU);
	free(v);
	v = sp_template_expand("{siteCode}", "x9z");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(v, "x9z");
	free(v);

	/* Bad input: NULL, a token with a site code that is not three
	 * letters/digits, a fixed value a template could not hold. */
	CU_ASSERT_PTR_NULL(sp_template_expand(NULL, "ABC"));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteCode}", NULL));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteCode}", ""));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteCode}", "AB"));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteCode}", "ABCD"));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteCode}", "A/B"));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteCode}", "A{}"));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteCode}", "\xc3\xa9X"));
	CU_ASSERT_PTR_NULL(sp_template_expand("{siteName}", "ABC"));
	CU_ASSERT_PTR_NULL(sp_template_expand("caf\xc3\xa9 {siteCode}", "ABC"));
}

/* --------------------------------------------------- find, list, home */

static void test_data_dir_env(void)
{
	const char *old = getenv("SITEPKI_DATA_DIR");
	char *saved = old ? strdup(old) : NULL;

	CU_ASSERT_EQUAL(setenv("SITEPKI_DATA_DIR", "/some/where", 1), 0);
	CU_ASSERT_STRING_EQUAL(sp_template_data_dir(), "/some/where");
	CU_ASSERT_EQUAL(setenv("SITEPKI_DATA_DIR", "", 1), 0);
	CU_ASSERT_STRING_EQUAL(sp_template_data_dir(), SITEPKI_DATA_DIR);
	CU_ASSERT_EQUAL(unsetenv("SITEPKI_DATA_DIR"), 0);
	CU_ASSERT_STRING_EQUAL(sp_template_data_dir(), SITEPKI_DATA_DIR);
	if (saved)
		CU_ASSERT_EQUAL(setenv("SITEPKI_DATA_DIR", saved, 1), 0);
	free(saved);
}

static void test_find_refuses_bad_names(void)
{
	static const char *const names[] = {
		"../etc/passwd", "..", ".", "/etc/passwd", "web-server/../client-auth", "web-server.xml",
		"Web-Server", "web_server", "-web", "", "web server", "web-server\n", "web\xc3\xa9",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
	};
	char tpl_dir[4096];
	const char *home = make_home(tpl_dir, sizeof tpl_dir);

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		sp_template *t = (sp_template *)&t; /* must be reset to NULL */
		sp_err err = sp_template_find(home, names[i], &t);

		CU_ASSERT_EQUAL(err, SP_ERR_INPUT);
		CU_ASSERT_PTR_NULL(t);
		CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "invalid template name"));
		CU_ASSERT_PTR_NULL(strchr(sp_last_error(), '\n'));
	}
	{
		sp_template *t = NULL;

		CU_ASSERT_EQUAL(sp_template_find(NULL, NULL, &t), SP_ERR_INPUT);
		CU_ASSERT_PTR_NULL(t);
		/* 63 characters is the longest valid name: valid, just absent. */
		CU_ASSERT_EQUAL(sp_template_find(NULL,
						 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
						 &t),
				SP_ERR_NOTFOUND);
	}
}

static void test_find_not_found(void)
{
	char tpl_dir[4096];
	const char *home = make_home(tpl_dir, sizeof tpl_dir);
	sp_template *t = NULL;

	CU_ASSERT_EQUAL(sp_template_find(home, "no-such-template", &t), SP_ERR_NOTFOUND);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_STRING_EQUAL(sp_last_error(), "no template named no-such-template");
	CU_ASSERT_EQUAL(sp_template_find(NULL, "no-such-template", &t), SP_ERR_NOTFOUND);
	/* A home without a templates/ folder falls back to the shipped ones. */
	CU_ASSERT_EQUAL(sp_template_find(sp_unit_tmpdir(), "web-server", &t), SP_OK);
	sp_template_free(t);
}

static void test_home_overrides_and_adds(void)
{
	char tpl_dir[4096], path[4096];
	const char *home = make_home(tpl_dir, sizeof tpl_dir);
	sp_template *t = NULL;

	put_variant(tpl_dir, "client-auth", "client-auth", 90);
	put_variant(tpl_dir, "client-auth", "lab-client", 30);

	CU_ASSERT_EQUAL_FATAL(sp_template_find(home, "client-auth", &t), SP_OK);
	CU_ASSERT_EQUAL(t->validity_days, 90);
	CU_ASSERT_EQUAL(strncmp(t->path, tpl_dir, strlen(tpl_dir)), 0);
	sp_template_free(t);

	CU_ASSERT_EQUAL_FATAL(sp_template_find(home, "lab-client", &t), SP_OK);
	CU_ASSERT_EQUAL(t->validity_days, 30);
	sp_template_free(t);

	/* Not overridden: the shipped one. */
	CU_ASSERT_EQUAL_FATAL(sp_template_find(home, "web-server", &t), SP_OK);
	CU_ASSERT_EQUAL(t->validity_days, 730);
	CU_ASSERT_EQUAL(strncmp(t->path, tpl_dir, strlen(tpl_dir)) == 0, 0);
	sp_template_free(t);

	/* Without the home: the shipped one again. */
	CU_ASSERT_EQUAL_FATAL(sp_template_find(NULL, "client-auth", &t), SP_OK);
	CU_ASSERT_EQUAL(t->validity_days, 365);
	sp_template_free(t);

	/* A broken override is an error, never a silent fall-back. */
	path_in(path, tpl_dir, "osd-media.xml");
	write_file(path, "<template/>", 11);
	t = NULL;
	CU_ASSERT_EQUAL(sp_template_find(home, "osd-media", &t), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), path));

	/* Neither is a directory that happens to be called NAME.xml. */
	path_in(path, tpl_dir, "isv-proxy.xml");
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	CU_ASSERT_EQUAL(sp_template_find(home, "isv-proxy", &t), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(t);
}

typedef struct {
	int n;
	char names[32][80];
	char paths[32][4096];
	char errors[32][1024];
	int validity[32];
	int stop_after;
} list_seen;

static int record(const sp_template *t, const char *path, const char *error, void *arg)
{
	list_seen *s = arg;

	if (s->n < 32) {
		snprintf(s->names[s->n], sizeof s->names[0], "%s", t ? t->name : "");
		snprintf(s->paths[s->n], sizeof s->paths[0], "%s", path);
		snprintf(s->errors[s->n], sizeof s->errors[0], "%s", error ? error : "");
		s->validity[s->n] = t ? t->validity_days : -1;
		CU_ASSERT((t == NULL) != (error == NULL));
	}
	s->n++;
	return s->stop_after && s->n >= s->stop_after;
}

static void test_list_shipped(void)
{
	list_seen *s = calloc(1, sizeof *s);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(sp_template_list(NULL, record, s), SP_OK);
	CU_ASSERT_EQUAL_FATAL(s->n, (int)N_SHIPPED);
	for (size_t i = 0; i < N_SHIPPED; i++) {
		CU_ASSERT_STRING_EQUAL(s->names[i], shipped[i]); /* sorted */
		CU_ASSERT_STRING_EQUAL(s->errors[i], "");
	}
	free(s);
}

static void test_list_home(void)
{
	char tpl_dir[4096], path[4096], marker[256];
	const char *home = make_home(tpl_dir, sizeof tpl_dir);
	list_seen *s = calloc(1, sizeof *s);
	int i_broken = -1, i_client = -1, i_lab = -1, i_xxe = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	put_variant(tpl_dir, "client-auth", "client-auth", 90);
	put_variant(tpl_dir, "client-auth", "lab-client", 30);
	path_in(path, tpl_dir, "broken.xml");
	write_file(path, "not xml", 7);
	/* Ignored: hidden, not .xml. */
	path_in(path, tpl_dir, ".web-server.xml");
	write_file(path, "junk", 4);
	path_in(path, tpl_dir, "notes.txt");
	write_file(path, "junk", 4);
	/* A hostile file in the home is reported, not obeyed. */
	{
		size_t len;
		char *x = read_all(sp_unit_data("hostile/xxe-file.xml"), &len);

		CU_ASSERT_PTR_NOT_NULL_FATAL(x);
		path_in(path, tpl_dir, "xxe-file.xml");
		write_file(path, x, len);
		free(x);
	}

	CU_ASSERT_EQUAL(sp_template_list(home, record, s), SP_OK);
	CU_ASSERT_EQUAL_FATAL(s->n, (int)N_SHIPPED + 3);
	for (int i = 0; i < s->n; i++) {
		if (i > 0) {
			/* Sorted by file name; names of broken files are "". */
			const char *a = strrchr(s->paths[i - 1], '/'), *b = strrchr(s->paths[i], '/');
			CU_ASSERT(strcmp(a, b) < 0);
		}
		if (strstr(s->paths[i], "/broken.xml"))
			i_broken = i;
		if (strstr(s->paths[i], "/xxe-file.xml"))
			i_xxe = i;
		if (strcmp(s->names[i], "client-auth") == 0)
			i_client = i;
		if (strcmp(s->names[i], "lab-client") == 0)
			i_lab = i;
	}
	CU_ASSERT_FATAL(i_broken >= 0 && i_client >= 0 && i_lab >= 0 && i_xxe >= 0);
	/* Home shadows shipped, and only one client-auth is listed. */
	CU_ASSERT_EQUAL(s->validity[i_client], 90);
	CU_ASSERT_EQUAL(strncmp(s->paths[i_client], tpl_dir, strlen(tpl_dir)), 0);
	CU_ASSERT_EQUAL(s->validity[i_lab], 30);
	/* Broken files come through with their error; the walk went on. */
	CU_ASSERT_STRING_EQUAL(s->names[i_broken], "");
	CU_ASSERT_PTR_NOT_NULL(strstr(s->errors[i_broken], "broken.xml"));
	CU_ASSERT_PTR_NOT_NULL(strstr(s->errors[i_xxe], "DOCTYPE"));
	passwd_marker(marker, sizeof marker);
	CU_ASSERT_PTR_NULL(strstr(s->errors[i_xxe], marker));
	CU_ASSERT(i_broken < s->n - 1);
	free(s);
}

static void test_list_stops(void)
{
	list_seen *s = calloc(1, sizeof *s);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	s->stop_after = 2;
	CU_ASSERT_EQUAL(sp_template_list(NULL, record, s), SP_OK);
	CU_ASSERT_EQUAL(s->n, 2);
	free(s);
}

/* ------------------------------------------------------- bad fixtures */

#define BAD(fn, file, line, phrase)                  \
	static void fn(void)                         \
	{                                            \
		expect_bad("bad/" file, line, phrase); \
	}

/* Schema and well-formedness: "FILE:LINE: ..." */
BAD(test_bad_unknown_element, "unknown-element.xml", 5, "bogus")
BAD(test_bad_sha1_hash, "sha1-hash.xml", 5, "signature")
BAD(test_bad_oid, "bad-oid.xml", 13, "purpose")
BAD(test_bad_missing_keys, "missing-keys.xml", 6, "keyUsage")
BAD(test_bad_empty_keys, "empty-keys.xml", 6, "keys")
BAD(test_bad_validity_zero, "validity-zero.xml", 4, "positiveInteger")
BAD(test_bad_wrong_namespace, "wrong-namespace.xml", 3, "namespace")
BAD(test_bad_too_many_purposes, "too-many-purposes.xml", 21, "purpose")
BAD(test_bad_unknown_curve, "unknown-curve.xml", 8, "ec")
BAD(test_bad_not_well_formed, "not-well-formed.xml", 4, "mismatch")
/* Rules after validation: "FILE: what" */
BAD(test_bad_rsa_1024, "rsa-1024.xml", 0, "minBits 1024 is below 2048")
BAD(test_bad_rsa_min_above_max, "rsa-min-above-max.xml", 0, "minBits 4096 is above maxBits 2048")
BAD(test_bad_san_min_above_max, "san-min-above-max.xml", 0, "min 5 is above max 2")
BAD(test_bad_duplicate_attribute, "duplicate-attribute.xml", 0, "CN listed twice")
BAD(test_bad_duplicate_usage, "duplicate-usage.xml", 0, "digitalSignature listed twice")
BAD(test_bad_duplicate_curve, "duplicate-curve.xml", 0, "P-256 listed twice")
BAD(test_bad_unknown_token, "unknown-token.xml", 0, "unknown {token}")
BAD(test_bad_name_mismatch, "name-mismatch.xml", 0, "does not match the file name")
BAD(test_bad_non_ascii_fixed, "non-ascii-fixed.xml", 0, "printable ASCII")
BAD(test_bad_non_ascii_description, "non-ascii-description.xml", 0, "7-bit ASCII")
BAD(test_bad_fixed_dns, "fixed-dns.xml", 0, "cannot have format=\"dns\"")
BAD(test_bad_ec_key_encipherment, "ec-key-encipherment.xml", 0, "RFC 5480")
BAD(test_bad_keygen_outside, "keygen-outside-limits.xml", 0, "outside the rsa limits")
BAD(test_bad_empty_file, "empty.xml", 0, "empty")

static void test_bad_oversized(void)
{
	const size_t max = SP_TPL_MAX_FILE_BYTES;
	char *xml = fixture_text("good/minimal.xml");
	const char *dir = sp_unit_tmpdir();
	char path[4096];
	size_t len = strlen(xml);
	char *big = malloc(max + 2);
	sp_template *t = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	/* minimal.xml padded with a comment to exactly the limit: accepted. */
	memcpy(big, xml, len);
	memcpy(big + len, "<!--", 4);
	memset(big + len + 4, 'x', max - len - 7);
	memcpy(big + max - 3, "-->", 3);
	big[max] = '\0';
	path_in(path, dir, "minimal.xml");
	write_file(path, big, max);
	CU_ASSERT_EQUAL(sp_template_load_file(path, &t), SP_OK);
	sp_template_free(t);
	t = NULL;

	/* One byte more: refused, naming the file. */
	memcpy(big + max - 3, "x-->", 4);
	write_file(path, big, max + 1);
	CU_ASSERT_EQUAL(sp_template_load_file(path, &t), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), path));
	/* And from memory. */
	CU_ASSERT_EQUAL(sp_template_parse(big, max + 1, "big.xml", &t), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "big.xml"));
	free(big);
	free(xml);
}

static void test_bad_missing_file(void)
{
	sp_template *t = NULL;

	CU_ASSERT_NOT_EQUAL(sp_template_load_file(sp_unit_data("bad/no-such-file.xml"), &t), SP_OK);
	CU_ASSERT_PTR_NULL(t);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "no-such-file.xml"));
}

/* --------------------------------------------------- hostile fixtures */

#define HOSTILE(fn, file, line, phrase)                      \
	static void fn(void)                                 \
	{                                                    \
		expect_hostile("hostile/" file, line, phrase); \
	}

HOSTILE(test_hostile_xxe_file, "xxe-file.xml", 3, "DOCTYPE")
HOSTILE(test_hostile_xxe_attribute, "xxe-attribute.xml", 3, "DOCTYPE")
HOSTILE(test_hostile_xxe_network, "xxe-network.xml", 3, "DOCTYPE")
HOSTILE(test_hostile_billion_laughs, "billion-laughs.xml", 3, "DOCTYPE")
HOSTILE(test_hostile_external_dtd, "external-dtd.xml", 3, "DOCTYPE")
HOSTILE(test_hostile_external_dtd_public, "external-dtd-public.xml", 3, "DOCTYPE")
HOSTILE(test_hostile_parameter_entities, "parameter-entities.xml", 3, "DOCTYPE")
HOSTILE(test_hostile_empty_doctype, "empty-doctype.xml", 3, "DOCTYPE")
/* No DOCTYPE here: XInclude is simply never processed. */
HOSTILE(test_hostile_xinclude, "xinclude.xml", 4, "has child elements")

/* Valid templates after hostile ones: no libxml2 state was left behind. */
static void test_hostile_then_good(void)
{
	sp_template *t = NULL;
	char msg[1024], errout[1024];
	double secs;

	CU_ASSERT_EQUAL(load_captured(sp_unit_data("hostile/billion-laughs.xml"), VIA_FILE, &t, msg,
				      sizeof msg, errout, sizeof errout, &secs),
			SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_template_load_file(sp_unit_data("good/minimal.xml"), &t), SP_OK);
	sp_template_free(t);
}

/* ------------------------------------------------------------- suites */

static const sp_unit_test shipped_tests[] = {
	{"every shipped template: common facts", test_all_shipped_common},
	{"web-server", test_web_server},
	{"client-auth", test_client_auth},
	{"mobile-device", test_mobile_device},
	{"site-server-signing", test_site_server_signing},
	{"osd-media", test_osd_media},
	{"isv-proxy", test_isv_proxy},
	{"amt-provisioning", test_amt_provisioning},
	{"amt-web-server", test_amt_web_server},
	{"amt-8021x-client", test_amt_8021x_client},
	{"amt-provisioning OU variant fixture", test_amt_provisioning_ou_variant},
	{"minimal fixture", test_minimal_good},
	{NULL, NULL},
};

static const sp_unit_test parse_tests[] = {
	{"memory origin: name tied to file only for .xml", test_parse_memory_any_name},
	{"white space around token values", test_parse_whitespace_values},
	{"rules refused (in memory)", test_rules_in_memory},
	{"valid variants accepted", test_positive_variants},
	{"expand {siteCode}", test_expand},
	{NULL, NULL},
};

static const sp_unit_test find_tests[] = {
	{"data dir from environment", test_data_dir_env},
	{"find refuses path-like names", test_find_refuses_bad_names},
	{"find: not found", test_find_not_found},
	{"home overrides and adds", test_home_overrides_and_adds},
	{"list: the nine shipped, sorted", test_list_shipped},
	{"list: home shadows, errors reported", test_list_home},
	{"list: callback stops the walk", test_list_stops},
	{NULL, NULL},
};

static const sp_unit_test bad_tests[] = {
	{"unknown element", test_bad_unknown_element},
	{"sha1 hash", test_bad_sha1_hash},
	{"bad OID", test_bad_oid},
	{"missing keys", test_bad_missing_keys},
	{"empty keys", test_bad_empty_keys},
	{"validity 0", test_bad_validity_zero},
	{"wrong namespace", test_bad_wrong_namespace},
	{"nine purposes", test_bad_too_many_purposes},
	{"unknown curve", test_bad_unknown_curve},
	{"not well-formed", test_bad_not_well_formed},
	{"rsa 1024", test_bad_rsa_1024},
	{"rsa min above max", test_bad_rsa_min_above_max},
	{"SAN min above max", test_bad_san_min_above_max},
	{"duplicate attribute", test_bad_duplicate_attribute},
	{"duplicate usage", test_bad_duplicate_usage},
	{"duplicate curve", test_bad_duplicate_curve},
	{"unknown {token}", test_bad_unknown_token},
	{"name mismatch", test_bad_name_mismatch},
	{"non-ASCII fixed value", test_bad_non_ascii_fixed},
	{"non-ASCII description", test_bad_non_ascii_description},
	{"fixed with format dns", test_bad_fixed_dns},
	{"EC with keyEncipherment", test_bad_ec_key_encipherment},
	{"keyGenBits outside rsa limits", test_bad_keygen_outside},
	{"empty file", test_bad_empty_file},
	{"oversized file", test_bad_oversized},
	{"missing file", test_bad_missing_file},
	{NULL, NULL},
};

static const sp_unit_test hostile_tests[] = {
	{"XXE file entity", test_hostile_xxe_file},
	{"XXE via attribute", test_hostile_xxe_attribute},
	{"XXE network entity", test_hostile_xxe_network},
	{"billion laughs", test_hostile_billion_laughs},
	{"external DTD", test_hostile_external_dtd},
	{"external DTD (PUBLIC)", test_hostile_external_dtd_public},
	{"parameter entities", test_hostile_parameter_entities},
	{"empty DOCTYPE", test_hostile_empty_doctype},
	{"XInclude", test_hostile_xinclude},
	{"good after hostile", test_hostile_then_good},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"templates: shipped", shipped_tests},
	{"templates: parse", parse_tests},
	{"templates: find and list", find_tests},
	{"templates: bad", bad_tests},
	{"templates: hostile", hostile_tests},
	{NULL, NULL},
};
