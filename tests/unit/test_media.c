/*
 * test_media.c - boot-media certificates in-process: the store's media
 * table (store/store_media.c), CA-side key generation and the server-side
 * request (the EST /serverkeygen building blocks), the PKCS#12 writer, the
 * two-step output file, create / export / list (media/).
 *
 * What is judged:
 *  - store: a media row needs a certificate row (foreign key), a second row
 *    for a serial is refused, the serial is found however it is typed,
 *    "not archived" is SQL NULL, exports are counted, refusals change
 *    nothing;
 *  - keygen: the size the template asks for, refusal of templates without
 *    serverKeyGen and of sizes sitepki does not make;
 *  - csr_from_request: subject and extension request copied byte for byte,
 *    the client's key and other attributes left out, signed by the new key,
 *    and issued by sp_issue with the client's names;
 *  - PKCS#12: read back with OpenSSL's PKCS12_parse (key, certificate,
 *    chain, friendly name), refused with a wrong password, and the
 *    algorithms and iteration counts decoded here from the ASN.1
 *    (PBES2/PBKDF2/HMAC-SHA256/AES-256-CBC, MAC SHA-256; legacy 3DES and
 *    SHA-1), never taken from the writer's own constants;
 *  - create/export: certificate, media row and audit rows recorded; a bad
 *    password, a template without serverKeyGen, an unusable output path
 *    change nothing; a write that fails after the commit leaves the media
 *    row unexported and no file; export works only for archived keys (RSA
 *    CA: OAEP; EC CA: ECDH) of usable certificates;
 *  - list: valid, expiring, expired, blocked, hold, revoked.
 *
 * Cost: two CAs (an EC P-256 root and an RSA-2048 intermediate under it)
 * are made and opened once per process; PKCS#12 files use 10,000
 * iterations except where the default itself is checked.
 */
#include "unit.h"

#include <dirent.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "media/media.h"

#define ACTOR "unit:media"
#define PASS_A "first password, 8+ chars"
#define PASS_B "the second password"
#define FAST_ITER 10000
#define DAY ((int64_t)86400)

/* -------------------------------------------------------------- fixture */

static struct {
	int ready;
	char root_home[4200], int_home[4200];
	sp_secret pass, pw_a, pw_b;
	sp_ca *root, *inter;
	sp_template *osd, *web;
	int seq;
} fx;

static void secret_set(sp_secret *s, const char *v)
{
	s->len = strlen(v);
	s->buf = OPENSSL_secure_malloc(s->len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->buf);
	memcpy(s->buf, v, s->len + 1);
}

static void fixture_free(void)
{
	sp_ca_close(fx.root);
	sp_ca_close(fx.inter);
	sp_secret_wipe(&fx.pass);
	sp_secret_wipe(&fx.pw_a);
	sp_secret_wipe(&fx.pw_b);
	sp_template_free(fx.osd);
	sp_template_free(fx.web);
	memset(&fx, 0, sizeof fx);
}

static void setup(void)
{
	sp_ca_init_opts o;
	sp_err rc;

	if (fx.ready) {
		CU_ASSERT_PTR_NOT_NULL_FATAL(fx.inter); /* the first attempt failed */
		return;
	}
	fx.ready = 1;
	atexit(fixture_free);
	secret_set(&fx.pass, "unit test passphrase, not a real one");
	secret_set(&fx.pw_a, PASS_A);
	secret_set(&fx.pw_b, PASS_B);

	snprintf(fx.root_home, sizeof fx.root_home, "%s/root", sp_unit_tmpdir());
	memset(&o, 0, sizeof o);
	o.name = "sitepki Media Test Root";
	o.site_code = "P01";
	o.key_alg = "ec-p256";
	o.days = 800;
	o.base_url = "http://pki.corp.example/pki";
	rc = sp_ca_init(fx.root_home, &o, &fx.pass);
	if (rc != SP_OK)
		printf("\n    sp_ca_init root: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);

	snprintf(fx.int_home, sizeof fx.int_home, "%s/int", sp_unit_tmpdir());
	memset(&o, 0, sizeof o);
	o.name = "sitepki Media Test Issuing CA";
	o.site_code = "P01";
	o.key_alg = "rsa-2048";
	o.days = 700;
	o.base_url = "http://pki.corp.example/pki";
	o.parent_home = fx.root_home;
	o.parent_pass = &fx.pass;
	rc = sp_ca_init(fx.int_home, &o, &fx.pass);
	if (rc != SP_OK)
		printf("\n    sp_ca_init intermediate: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);

	CU_ASSERT_EQUAL_FATAL(sp_ca_open(fx.root_home, &fx.pass, &fx.root), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_ca_open(fx.int_home, &fx.pass, &fx.inter), SP_OK);
	CU_ASSERT_FATAL(sp_template_find(NULL, "osd-media", &fx.osd) == SP_OK);
	CU_ASSERT_FATAL(sp_template_find(NULL, "web-server", &fx.web) == SP_OK);
}

static int msg_has(const char *needle)
{
	if (strstr(sp_last_error(), needle))
		return 1;
	printf("\n    message '%s' lacks '%s'", sp_last_error(), needle);
	return 0;
}

static int64_t cert_count(sp_ca *ca)
{
	int64_t n = -1;
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_count(sp_ca_get0_store(ca), &n), SP_OK);
	return n;
}

static int count_cb(const sp_media_row *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static int media_count(sp_ca *ca)
{
	int n = 0;
	CU_ASSERT_EQUAL_FATAL(sp_store_media_list(sp_ca_get0_store(ca), count_cb, &n), SP_OK);
	return n;
}

typedef struct {
	const char *subject;
	char actions[16][32];
	int n;
} audit_acc;

static int audit_cb(const sp_audit_row *r, void *arg)
{
	audit_acc *a = arg;
	if (strcmp(r->subject, a->subject) == 0 && a->n < 16) {
		snprintf(a->actions[a->n++], sizeof a->actions[0], "%s", r->action);
		/* the password never reaches the audit log */
		CU_ASSERT_PTR_NULL(strstr(r->detail, PASS_A));
		CU_ASSERT_PTR_NULL(strstr(r->detail, PASS_B));
	}
	return 0;
}

/* The audit actions recorded for `serial`, joined with spaces. */
static void audit_of(sp_ca *ca, const char *serial, char *out, size_t outsz)
{
	audit_acc a;
	memset(&a, 0, sizeof a);
	a.subject = serial;
	CU_ASSERT_EQUAL_FATAL(sp_store_audit_list(sp_ca_get0_store(ca), 0, audit_cb, &a), SP_OK);
	out[0] = '\0';
	for (int i = 0; i < a.n; i++)
		snprintf(out + strlen(out), outsz - strlen(out), "%s%s", i ? " " : "", a.actions[i]);
}

/* Files in `dir` whose name contains `part`. */
static int files_with(const char *dir, const char *part)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, part))
			n++;
	closedir(d);
	return n;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	uint8_t *d = NULL;
	CU_ASSERT_EQUAL_FATAL(sp_file_read(path, 1 << 20, &d, len), SP_OK);
	return d;
}

/* PKCS12_parse of a file; NULL members when it does not open. */
typedef struct {
	int ok;
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) *ca;
	PKCS12 *p12;
} parsed_p12;

static void p12_clear(parsed_p12 *p)
{
	EVP_PKEY_free(p->key);
	X509_free(p->cert);
	sk_X509_pop_free(p->ca, X509_free);
	PKCS12_free(p->p12);
	memset(p, 0, sizeof *p);
}

static parsed_p12 p12_open(const uint8_t *der, size_t len, const char *pw)
{
	parsed_p12 r;
	const unsigned char *p = der;
	memset(&r, 0, sizeof r);
	r.p12 = d2i_PKCS12(NULL, &p, (long)len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.p12);
	CU_ASSERT_EQUAL(p, der + len);
	r.ok = PKCS12_parse(r.p12, pw, &r.key, &r.cert, &r.ca) == 1;
	ERR_clear_error();
	return r;
}

/* The first SAN dNSName count of a certificate, and whether `dns` is one. */
static int has_dns(X509 *x, const char *dns)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int found = 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(g); i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
		if (n->type == GEN_DNS && (size_t)ASN1_STRING_length(n->d.dNSName) == strlen(dns) &&
		    !memcmp(ASN1_STRING_get0_data(n->d.dNSName), dns, strlen(dns)))
			found = 1;
	}
	GENERAL_NAMES_free(g);
	return found;
}

static void cn_of(X509 *x, char *out, size_t outsz)
{
	out[0] = '\0';
	X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, out, (int)outsz);
}

/* -------------------------------------------------------------- store */

static sp_store *store_with_cert(char *path, size_t pathsz, const char *serial)
{
	sp_store *st = NULL;
	sp_cert_row c;
	uint8_t der[3] = {0x30, 0x01, 0x00};

	snprintf(path, pathsz, "%s/store.db", sp_unit_tmpdir());
	CU_ASSERT_EQUAL_FATAL(sp_store_open(path, 1, &st), SP_OK);
	memset(&c, 0, sizeof c);
	snprintf(c.serial, sizeof c.serial, "%s", serial);
	memset(c.sha256, 'a', 64);
	memset(c.sha1, 'b', 40);
	c.subject = "CN=boot";
	c.sans = "";
	c.template_name = "osd-media";
	c.not_before = 1700000000;
	c.not_after = 1700000000 + 365 * DAY;
	c.issued_at = 1700000000;
	c.revoke_reason = -1;
	c.der = der;
	c.der_len = sizeof der;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c), SP_OK);
	snprintf(c.serial, sizeof c.serial, "%s", "0B0B");
	memset(c.sha256, 'c', 64);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_insert(st, &c), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	return st;
}

static int in_txn_insert(sp_store *st, const sp_media_row *r)
{
	sp_err rc;
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	rc = sp_store_media_insert(st, r);
	if (rc == SP_OK) {
		CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	} else {
		sp_store_rollback(st);
	}
	return rc;
}

typedef struct {
	char serials[4][41];
	int archived[4];
	int n, stop_after;
} walk_acc;

static int walk_cb(const sp_media_row *r, void *arg)
{
	walk_acc *w = arg;
	if (w->n < 4) {
		snprintf(w->serials[w->n], sizeof w->serials[0], "%s", r->serial);
		w->archived[w->n] = r->archived_key != NULL;
	}
	w->n++;
	return w->stop_after && w->n >= w->stop_after ? SP_ERR_EXISTS : 0;
}

static void test_store_media(void)
{
	char path[4300];
	sp_store *st = store_with_cert(path, sizeof path, "1A2B3C");
	sp_media_row r, g;
	uint8_t blob[5] = {1, 2, 3, 4, 5};
	walk_acc w;

	memset(&r, 0, sizeof r);
	snprintf(r.serial, sizeof r.serial, "1A2B3C");
	r.name = "PXE DP 1";
	r.created_at = 1700000100;
	/* every write needs a transaction */
	CU_ASSERT_EQUAL(sp_store_media_insert(st, &r), SP_ERR_DB);
	/* a serial the store never issued: the foreign key refuses it */
	snprintf(r.serial, sizeof r.serial, "DEAD");
	CU_ASSERT_EQUAL(in_txn_insert(st, &r), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("DEAD"));
	/* pointer without length (or the reverse) is refused */
	snprintf(r.serial, sizeof r.serial, "1a:2b:3c"); /* as a user types it */
	r.archived_key = blob;
	r.archived_key_len = 0;
	CU_ASSERT_EQUAL(in_txn_insert(st, &r), SP_ERR_INPUT);
	r.archived_key_len = sizeof blob;
	r.name = "";
	CU_ASSERT_EQUAL(in_txn_insert(st, &r), SP_ERR_INPUT);
	r.name = "PXE DP 1";
	CU_ASSERT_EQUAL(in_txn_insert(st, &r), SP_OK);
	CU_ASSERT_EQUAL(in_txn_insert(st, &r), SP_ERR_EXISTS);

	/* the second one without an archived key */
	memset(&r, 0, sizeof r);
	snprintf(r.serial, sizeof r.serial, "0B0B");
	r.name = "USB stick 7";
	r.created_at = 1700000050; /* older: listed first */
	CU_ASSERT_EQUAL(in_txn_insert(st, &r), SP_OK);

	CU_ASSERT_EQUAL(sp_store_media_get(st, "1a2b3c", &g), SP_OK);
	CU_ASSERT_STRING_EQUAL(g.serial, "1A2B3C");
	CU_ASSERT_STRING_EQUAL(g.name, "PXE DP 1");
	CU_ASSERT_EQUAL(g.created_at, 1700000100);
	CU_ASSERT_EQUAL_FATAL(g.archived_key_len, sizeof blob);
	CU_ASSERT_EQUAL(memcmp(g.archived_key, blob, sizeof blob), 0);
	CU_ASSERT_EQUAL(g.exported_at, 0);
	CU_ASSERT_EQUAL(g.export_count, 0);
	CU_ASSERT_EQUAL(g.legacy, 0);
	sp_media_row_clear(&g);
	CU_ASSERT_EQUAL(sp_store_media_get(st, "0B0B", &g), SP_OK);
	CU_ASSERT_PTR_NULL(g.archived_key);
	CU_ASSERT_EQUAL(g.archived_key_len, 0);
	sp_media_row_clear(&g);
	CU_ASSERT_EQUAL(sp_store_media_get(st, "ABCD", &g), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_store_media_get(st, "not hex", &g), SP_ERR_INPUT);

	/* exports */
	CU_ASSERT_EQUAL(sp_store_media_mark_exported(st, "1A2B3C", 1700000200, 0), SP_ERR_DB); /* no txn */
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_media_mark_exported(st, "1A2B3C", 1700000200, 0), SP_OK);
	CU_ASSERT_EQUAL(sp_store_media_mark_exported(st, "1a2b3c", 1700000300, 1), SP_OK);
	CU_ASSERT_EQUAL(sp_store_media_mark_exported(st, "ABCD", 1700000300, 0), SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_store_media_mark_exported(st, "0B0B", 0, 0), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_store_media_mark_exported(st, "0B0B", 1700000300, 2), SP_ERR_INPUT);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_EQUAL(sp_store_media_get(st, "1A2B3C", &g), SP_OK);
	CU_ASSERT_EQUAL(g.exported_at, 1700000300);
	CU_ASSERT_EQUAL(g.export_count, 2);
	CU_ASSERT_EQUAL(g.legacy, 1);
	sp_media_row_clear(&g);
	CU_ASSERT_EQUAL(sp_store_media_get(st, "0B0B", &g), SP_OK);
	CU_ASSERT_EQUAL(g.exported_at, 0); /* refusals changed nothing */
	CU_ASSERT_EQUAL(g.export_count, 0);
	sp_media_row_clear(&g);

	/* list: created_at order; a callback's sp_err comes back as it is */
	memset(&w, 0, sizeof w);
	CU_ASSERT_EQUAL(sp_store_media_list(st, walk_cb, &w), SP_OK);
	CU_ASSERT_EQUAL(w.n, 2);
	CU_ASSERT_STRING_EQUAL(w.serials[0], "0B0B");
	CU_ASSERT_STRING_EQUAL(w.serials[1], "1A2B3C");
	CU_ASSERT_EQUAL(w.archived[0], 0);
	CU_ASSERT_EQUAL(w.archived[1], 1);
	memset(&w, 0, sizeof w);
	w.stop_after = 1;
	CU_ASSERT_EQUAL(sp_store_media_list(st, walk_cb, &w), SP_ERR_EXISTS);
	CU_ASSERT_EQUAL(w.n, 1);
	sp_store_close(st);
}

/* ------------------------------------------------------------ keygen */

static void test_keygen(void)
{
	sp_template t;
	EVP_PKEY *k = NULL;

	setup();
	CU_ASSERT_EQUAL_FATAL(sp_media_keygen(fx.osd, &k), SP_OK);
	CU_ASSERT(EVP_PKEY_is_a(k, "RSA"));
	CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), 2048); /* osd-media.xml: keyGenBits="2048" */
	EVP_PKEY_free(k);

	/* the size comes from the template */
	t = *fx.osd;
	t.keygen_bits = 3072;
	CU_ASSERT_EQUAL_FATAL(sp_media_keygen(&t, &k), SP_OK);
	CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), 3072);
	EVP_PKEY_free(k);
	t.keygen_bits = 0; /* unset: 2048 */
	CU_ASSERT_EQUAL_FATAL(sp_media_keygen(&t, &k), SP_OK);
	CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), 2048);
	EVP_PKEY_free(k);

	t.keygen_bits = 1024;
	k = (EVP_PKEY *)1;
	CU_ASSERT_EQUAL(sp_media_keygen(&t, &k), SP_ERR_POLICY);
	CU_ASSERT_PTR_NULL(k);
	CU_ASSERT(msg_has("1024"));
	CU_ASSERT_EQUAL(sp_media_keygen(fx.web, &k), SP_ERR_POLICY);
	CU_ASSERT_PTR_NULL(k);
	CU_ASSERT(msg_has("web-server"));
	CU_ASSERT(msg_has("serverKeyGen"));
	CU_ASSERT_EQUAL(sp_media_template_check(fx.web), SP_ERR_POLICY);
	CU_ASSERT_EQUAL(sp_media_template_check(fx.osd), SP_OK);
}

/* -------------------------------------------------- csr_from_request */

/* The DER of every attribute of `req` with this NID, concatenated. */
static size_t attr_der(X509_REQ *req, int nid, unsigned char *out, size_t outsz)
{
	size_t used = 0;
	for (int i = 0; i < X509_REQ_get_attr_count(req); i++) {
		X509_ATTRIBUTE *a = X509_REQ_get_attr(req, i);
		unsigned char *d = NULL;
		int n;
		if (OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a)) != nid)
			continue;
		n = i2d_X509_ATTRIBUTE(a, &d);
		CU_ASSERT_FATAL(n > 0 && used + (size_t)n <= outsz);
		memcpy(out + used, d, (size_t)n);
		used += (size_t)n;
		OPENSSL_free(d);
	}
	return used;
}

static void test_csr_from_request(void)
{
	EVP_PKEY *client_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), *server_key = NULL, *pub = NULL;
	X509_REQ *req = X509_REQ_new(), *parsed = NULL, *out = NULL, *reparsed = NULL;
	X509_NAME *n = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	X509_EXTENSION *san, *ku;
	X509V3_CTX v3;
	unsigned char *der = NULL, *oder = NULL, a1[4096], a2[4096];
	size_t l1, l2;
	int len, olen;
	sp_issue_opts io;
	X509 *x = NULL;
	char cn[128];

	setup();
	CU_ASSERT_FATAL(client_key && req && n && exts);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Contoso", -1, -1, 0));
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"PXE DP Lyon", -1, -1, 0));
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, n));
	X509V3_set_ctx(&v3, NULL, NULL, req, NULL, 0);
	CU_ASSERT_FATAL((san = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
						   "DNS:pxe1.corp.example,DNS:pxe1.lyon.corp.example")) != NULL);
	CU_ASSERT_FATAL((ku = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,digitalSignature")) != NULL);
	CU_ASSERT_FATAL(sk_X509_EXTENSION_push(exts, san) && sk_X509_EXTENSION_push(exts, ku));
	CU_ASSERT_FATAL(X509_REQ_add_extensions(req, exts));
	CU_ASSERT_FATAL(X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword, MBSTRING_ASC,
						  (const unsigned char *)"otp-123", -1));
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, client_key));
	CU_ASSERT_FATAL(X509_REQ_sign(req, client_key, EVP_sha256()) > 0);
	/* parsed as the EST service parses a client's request */
	CU_ASSERT_FATAL((len = i2d_X509_REQ(req, &der)) > 0);
	CU_ASSERT_EQUAL_FATAL(sp_req_parse(der, (size_t)len, &parsed), SP_OK);

	CU_ASSERT_EQUAL_FATAL(sp_media_keygen(fx.osd, &server_key), SP_OK);
	CU_ASSERT_EQUAL(sp_media_csr_from_request(NULL, parsed, &out), SP_ERR_INPUT);
	CU_ASSERT_EQUAL_FATAL(sp_media_csr_from_request(server_key, parsed, &out), SP_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);

	/* what an outside parser sees in the encoding */
	CU_ASSERT_FATAL((olen = i2d_X509_REQ(out, &oder)) > 0);
	{
		const unsigned char *p = oder;
		CU_ASSERT_FATAL((reparsed = d2i_X509_REQ(NULL, &p, olen)) != NULL);
	}
	CU_ASSERT_EQUAL(X509_NAME_cmp(X509_REQ_get_subject_name(reparsed), n), 0);
	pub = X509_REQ_get_pubkey(reparsed);
	CU_ASSERT_FATAL(pub != NULL);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(pub, server_key), 1);
	CU_ASSERT_NOT_EQUAL(EVP_PKEY_eq(pub, client_key), 1);
	CU_ASSERT_EQUAL(X509_REQ_verify(reparsed, server_key), 1);
	CU_ASSERT_EQUAL(X509_REQ_get_version(reparsed), X509_REQ_VERSION_1);
	/* the extension request byte for byte; no challenge password */
	l1 = attr_der(req, NID_ext_req, a1, sizeof a1);
	l2 = attr_der(reparsed, NID_ext_req, a2, sizeof a2);
	CU_ASSERT(l1 > 0);
	CU_ASSERT_EQUAL(l1, l2);
	CU_ASSERT(l1 == l2 && memcmp(a1, a2, l1) == 0);
	CU_ASSERT_EQUAL(X509_REQ_get_attr_by_NID(reparsed, NID_pkcs9_challengePassword, -1), -1);
	CU_ASSERT_EQUAL(X509_REQ_get_attr_count(reparsed), 1);

	/* and the issuance path takes it: the client's names, the CA's key */
	memset(&io, 0, sizeof io);
	io.requester = ACTOR;
	CU_ASSERT_EQUAL_FATAL(sp_issue(fx.inter, fx.osd, out, &io, &x), SP_OK);
	CU_ASSERT(has_dns(x, "pxe1.corp.example"));
	CU_ASSERT(has_dns(x, "pxe1.lyon.corp.example"));
	cn_of(x, cn, sizeof cn);
	CU_ASSERT_STRING_EQUAL(cn, "PXE DP Lyon");
	CU_ASSERT_EQUAL(X509_check_private_key(x, server_key), 1);

	X509_free(x);
	EVP_PKEY_free(pub);
	X509_REQ_free(reparsed);
	OPENSSL_free(oder);
	X509_REQ_free(out);
	EVP_PKEY_free(server_key);
	X509_REQ_free(parsed);
	OPENSSL_free(der);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_NAME_free(n);
	X509_REQ_free(req);
	EVP_PKEY_free(client_key);
}

/* ------------------------------------------------------------ PKCS#12 */

typedef struct {
	int pbes2;               /* 1 PBES2, 0 a PKCS#12 PBE */
	int pbe_nid;             /* the PKCS#12 PBE when !pbes2 */
	int cipher_nid, prf_nid; /* PBES2 */
	long iter;
} pbe_info;

/* Decode an encryption AlgorithmIdentifier of a PKCS#12 bag by hand. */
static void pbe_of(const X509_ALGOR *alg, pbe_info *out)
{
	const ASN1_OBJECT *oid;
	int ptype;
	const void *pval;

	memset(out, 0, sizeof *out);
	X509_ALGOR_get0(&oid, &ptype, &pval, alg);
	CU_ASSERT_EQUAL_FATAL(ptype, V_ASN1_SEQUENCE);
	if (OBJ_obj2nid(oid) == NID_pbes2) {
		PBE2PARAM *p2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), (const ASN1_TYPE *)alg->parameter);
		PBKDF2PARAM *kdf;
		CU_ASSERT_PTR_NOT_NULL_FATAL(p2);
		out->pbes2 = 1;
		out->cipher_nid = OBJ_obj2nid(p2->encryption->algorithm);
		CU_ASSERT_EQUAL_FATAL(OBJ_obj2nid(p2->keyfunc->algorithm), NID_id_pbkdf2);
		kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), p2->keyfunc->parameter);
		CU_ASSERT_PTR_NOT_NULL_FATAL(kdf);
		out->iter = ASN1_INTEGER_get(kdf->iter);
		out->prf_nid = kdf->prf ? OBJ_obj2nid(kdf->prf->algorithm) : NID_hmacWithSHA1;
		PBKDF2PARAM_free(kdf);
		PBE2PARAM_free(p2);
	} else {
		PBEPARAM *p = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), (const ASN1_TYPE *)alg->parameter);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		out->pbe_nid = OBJ_obj2nid(oid);
		out->iter = ASN1_INTEGER_get(p->iter);
		PBEPARAM_free(p);
	}
}

typedef struct {
	pbe_info key, certs;
	int n_key_bags, n_enc_cert_sets, n_plain_sets;
	int mac_md_nid;
	long mac_iter;
} p12_info;

static void p12_inspect(PKCS12 *p12, const char *pw, p12_info *out)
{
	STACK_OF(PKCS7) *asafes = PKCS12_unpack_authsafes(p12);
	const ASN1_OBJECT *macoid = NULL;
	const X509_ALGOR *macalg = NULL;
	const ASN1_INTEGER *mac_iter = NULL;

	memset(out, 0, sizeof *out);
	CU_ASSERT_PTR_NOT_NULL_FATAL(asafes);
	for (int i = 0; i < sk_PKCS7_num(asafes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(asafes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int nid = OBJ_obj2nid(p7->type);
		if (nid == NID_pkcs7_encrypted) {
			pbe_of(p7->d.encrypted->enc_data->algorithm, &out->certs);
			out->n_enc_cert_sets++;
			bags = PKCS12_unpack_p7encdata(p7, pw, (int)strlen(pw));
		} else {
			CU_ASSERT_EQUAL(nid, NID_pkcs7_data);
			out->n_plain_sets++;
			bags = PKCS12_unpack_p7data(p7);
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(bags);
		for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
			PKCS12_SAFEBAG *b = sk_PKCS12_SAFEBAG_value(bags, j);
			if (PKCS12_SAFEBAG_get_nid(b) == NID_pkcs8ShroudedKeyBag) {
				const X509_ALGOR *alg;
				X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(b), &alg, NULL);
				pbe_of(alg, &out->key);
				out->n_key_bags++;
			}
			/* a plain (unencrypted) key bag would be a disaster */
			CU_ASSERT_NOT_EQUAL(PKCS12_SAFEBAG_get_nid(b), NID_keyBag);
			/* certificates only inside the encrypted set */
			if (PKCS12_SAFEBAG_get_nid(b) == NID_certBag)
				CU_ASSERT_EQUAL(nid, NID_pkcs7_encrypted);
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	}
	sk_PKCS7_pop_free(asafes, PKCS7_free);
	CU_ASSERT_FATAL(PKCS12_mac_present(p12));
	PKCS12_get0_mac(NULL, &macalg, NULL, &mac_iter, p12);
	X509_ALGOR_get0(&macoid, NULL, NULL, macalg);
	out->mac_md_nid = OBJ_obj2nid(macoid);
	out->mac_iter = mac_iter ? ASN1_INTEGER_get(mac_iter) : 1;
}

/* A media certificate issued here (CN `name`) with its key. */
static X509 *issue_with_key(sp_ca *ca, const char *name, EVP_PKEY **key)
{
	EVP_PKEY *k = NULL;
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	sp_issue_opts io;
	X509 *x = NULL;

	CU_ASSERT_EQUAL_FATAL(sp_media_keygen(fx.osd, &k), SP_OK);
	CU_ASSERT_FATAL(r && n);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0));
	CU_ASSERT_FATAL(X509_REQ_set_version(r, X509_REQ_VERSION_1));
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(r, n) && X509_REQ_set_pubkey(r, k));
	CU_ASSERT_FATAL(X509_REQ_sign(r, k, EVP_sha256()) > 0);
	memset(&io, 0, sizeof io);
	io.requester = ACTOR;
	if (sp_issue(ca, fx.osd, r, &io, &x) != SP_OK)
		printf("\n    sp_issue: %s", sp_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	X509_NAME_free(n);
	X509_REQ_free(r);
	*key = k;
	return x;
}

static void test_password_rules(void)
{
	sp_secret s = {0};
	sp_pkcs12_opts o;

	CU_ASSERT_EQUAL(sp_media_password_check(&s), SP_ERR_INPUT); /* empty */
	CU_ASSERT(msg_has("empty"));
	secret_set(&s, "1234567"); /* 7 characters */
	CU_ASSERT_EQUAL(sp_media_password_check(&s), SP_ERR_INPUT);
	CU_ASSERT(msg_has("too short"));
	CU_ASSERT_PTR_NULL(strstr(sp_last_error(), "1234567")); /* never the password itself */
	sp_secret_wipe(&s);
	secret_set(&s, "12345678");
	CU_ASSERT_EQUAL(sp_media_password_check(&s), SP_OK);
	sp_secret_wipe(&s);
	secret_set(&s, "caf\xc3\xa9-password");
	CU_ASSERT_EQUAL(sp_media_password_check(&s), SP_ERR_INPUT);
	CU_ASSERT(msg_has("position 4"));
	sp_secret_wipe(&s);
	secret_set(&s, "tab\tpassword");
	CU_ASSERT_EQUAL(sp_media_password_check(&s), SP_ERR_INPUT);
	sp_secret_wipe(&s);

	setup();
	memset(&o, 0, sizeof o);
	o.password = &fx.pw_a;
	CU_ASSERT_EQUAL(sp_pkcs12_opts_check(&o), SP_OK); /* 0 = the default */
	o.iter = 9999;
	CU_ASSERT_EQUAL(sp_pkcs12_opts_check(&o), SP_ERR_INPUT);
	CU_ASSERT(msg_has("10000"));
	o.iter = 10000;
	CU_ASSERT_EQUAL(sp_pkcs12_opts_check(&o), SP_OK);
	o.iter = 10000001;
	CU_ASSERT_EQUAL(sp_pkcs12_opts_check(&o), SP_ERR_INPUT);
}

static void test_pkcs12_round_trip(void)
{
	EVP_PKEY *key = NULL;
	X509 *leaf;
	STACK_OF(X509) *chain = sk_X509_new_null();
	sp_pkcs12_opts o;
	uint8_t *der = NULL;
	size_t len = 0;
	parsed_p12 p;
	p12_info info;
	int alen = 0;
	const unsigned char *alias;

	setup();
	leaf = issue_with_key(fx.inter, "p12 round trip", &key);
	CU_ASSERT_FATAL(chain && sk_X509_push(chain, sp_ca_get0_cert(fx.inter)));
	CU_ASSERT_FATAL(sk_X509_push(chain, sk_X509_value(sp_ca_get0_chain(fx.inter), 0)));

	/* the default: 600,000 iterations, PBES2 everywhere, MAC SHA-256 */
	memset(&o, 0, sizeof o);
	o.password = &fx.pw_a;
	CU_ASSERT_EQUAL_FATAL(sp_pkcs12_build(key, leaf, chain, "PXE DP 7", &o, &der, &len), SP_OK);
	p = p12_open(der, len, PASS_A);
	CU_ASSERT_FATAL(p.ok);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(p.key, key), 1);
	CU_ASSERT_EQUAL(X509_cmp(p.cert, leaf), 0);
	CU_ASSERT_EQUAL_FATAL(sk_X509_num(p.ca), 2);
	/* the chain up to the root, whatever order the parser returns */
	for (int i = 0; i < 2; i++) {
		X509 *c = sk_X509_value(p.ca, i);
		CU_ASSERT(X509_cmp(c, sp_ca_get0_cert(fx.inter)) == 0 ||
			  X509_cmp(c, sk_X509_value(sp_ca_get0_chain(fx.inter), 0)) == 0);
	}
	CU_ASSERT(X509_cmp(sk_X509_value(p.ca, 0), sk_X509_value(p.ca, 1)) != 0);
	alias = X509_alias_get0(p.cert, &alen);
	CU_ASSERT(alias && alen == 8 && !memcmp(alias, "PXE DP 7", 8));
	p12_inspect(p.p12, PASS_A, &info);
	CU_ASSERT_EQUAL(info.n_key_bags, 1);
	CU_ASSERT_EQUAL(info.n_enc_cert_sets, 1);
	CU_ASSERT(info.key.pbes2 && info.certs.pbes2);
	CU_ASSERT_EQUAL(info.key.cipher_nid, NID_aes_256_cbc);
	CU_ASSERT_EQUAL(info.certs.cipher_nid, NID_aes_256_cbc);
	CU_ASSERT_EQUAL(info.key.prf_nid, NID_hmacWithSHA256);
	CU_ASSERT_EQUAL(info.certs.prf_nid, NID_hmacWithSHA256);
	CU_ASSERT_EQUAL(info.key.iter, 600000);
	CU_ASSERT_EQUAL(info.certs.iter, 600000);
	CU_ASSERT_EQUAL(info.mac_md_nid, NID_sha256);
	CU_ASSERT_EQUAL(info.mac_iter, 600000);
	p12_clear(&p);

	/* a wrong password opens nothing; neither does an empty one */
	p = p12_open(der, len, PASS_B);
	CU_ASSERT_FALSE(p.ok);
	CU_ASSERT_EQUAL(PKCS12_verify_mac(p.p12, PASS_B, -1), 0);
	CU_ASSERT_EQUAL(PKCS12_verify_mac(p.p12, PASS_A, -1), 1);
	p12_clear(&p);
	p = p12_open(der, len, "");
	CU_ASSERT_FALSE(p.ok);
	p12_clear(&p);
	OPENSSL_free(der);

	/* a configured count reaches every place */
	o.iter = 12345;
	CU_ASSERT_EQUAL_FATAL(sp_pkcs12_build(key, leaf, chain, "x", &o, &der, &len), SP_OK);
	p = p12_open(der, len, PASS_A);
	CU_ASSERT_FATAL(p.ok);
	p12_inspect(p.p12, PASS_A, &info);
	CU_ASSERT_EQUAL(info.key.iter, 12345);
	CU_ASSERT_EQUAL(info.certs.iter, 12345);
	CU_ASSERT_EQUAL(info.mac_iter, 12345);
	p12_clear(&p);
	OPENSSL_free(der);

	/* legacy: the PKCS#12 3DES PBE for both sets, MAC SHA-1 */
	o.legacy = 1;
	o.iter = FAST_ITER;
	CU_ASSERT_EQUAL_FATAL(sp_pkcs12_build(key, leaf, chain, "legacy", &o, &der, &len), SP_OK);
	p = p12_open(der, len, PASS_A);
	CU_ASSERT_FATAL(p.ok);
	CU_ASSERT_EQUAL(EVP_PKEY_eq(p.key, key), 1);
	CU_ASSERT_EQUAL(sk_X509_num(p.ca), 2);
	p12_inspect(p.p12, PASS_A, &info);
	CU_ASSERT_FALSE(info.key.pbes2);
	CU_ASSERT_FALSE(info.certs.pbes2);
	CU_ASSERT_EQUAL(info.key.pbe_nid, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
	CU_ASSERT_EQUAL(info.certs.pbe_nid, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
	CU_ASSERT_EQUAL(info.key.iter, FAST_ITER);
	CU_ASSERT_EQUAL(info.mac_md_nid, NID_sha1);
	CU_ASSERT_EQUAL(info.mac_iter, FAST_ITER);
	p12_clear(&p);
	p = p12_open(der, len, PASS_B);
	CU_ASSERT_FALSE(p.ok);
	p12_clear(&p);
	OPENSSL_free(der);

	/* a key that is not the certificate's is refused */
	{
		EVP_PKEY *other = NULL;
		CU_ASSERT_EQUAL_FATAL(sp_media_keygen(fx.osd, &other), SP_OK);
		o.legacy = 0;
		CU_ASSERT_EQUAL(sp_pkcs12_build(other, leaf, chain, "x", &o, &der, &len), SP_ERR_CRYPTO);
		CU_ASSERT_PTR_NULL(der);
		EVP_PKEY_free(other);
	}
	sk_X509_free(chain);
	X509_free(leaf);
	EVP_PKEY_free(key);
}

/* ------------------------------------------------------- output file */

static void test_out_file(void)
{
	char dir[4300], path[4400];
	sp_media_out *o = NULL;
	struct stat sb;
	size_t len;
	uint8_t *d;

	snprintf(dir, sizeof dir, "%s/out", sp_unit_tmpdir());
	CU_ASSERT_EQUAL_FATAL(sp_dir_ensure(dir, 0700), SP_OK);

	snprintf(path, sizeof path, "%s/missing/x.pfx", dir);
	CU_ASSERT_EQUAL(sp_media_out_open(path, &o), SP_ERR_IO);
	CU_ASSERT_PTR_NULL(o);
	CU_ASSERT_EQUAL(sp_media_out_open(dir, &o), SP_ERR_IO); /* a directory */
	CU_ASSERT(msg_has("directory"));
	CU_ASSERT_EQUAL(sp_media_out_open("-", &o), SP_ERR_USAGE);

	/* open creates the temp file at once (0600); abort removes it */
	snprintf(path, sizeof path, "%s/a.pfx", dir);
	CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &o), SP_OK);
	CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 1);
	sp_media_out_abort(o);
	CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);
	CU_ASSERT_FALSE(sp_path_exists(path));

	/* commit: content, mode 0600 even under a permissive umask */
	{
		mode_t old = umask(0);
		CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &o), SP_OK);
		umask(old);
	}
	CU_ASSERT_EQUAL(sp_media_out_commit(o, "pkcs12 bytes", 12), SP_OK);
	CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	d = read_all(path, &len);
	CU_ASSERT(len == 12 && !memcmp(d, "pkcs12 bytes", 12));
	free(d);
	CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);

	/* an existing file is never overwritten */
	CU_ASSERT_EQUAL(sp_media_out_open(path, &o), SP_ERR_EXISTS);
	d = read_all(path, &len);
	CU_ASSERT(len == 12 && !memcmp(d, "pkcs12 bytes", 12));
	free(d);

	/* a path that appears between open and commit: refused, temp removed */
	snprintf(path, sizeof path, "%s/b.pfx", dir);
	CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &o), SP_OK);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	CU_ASSERT_NOT_EQUAL(sp_media_out_commit(o, "x", 1), SP_OK);
	CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);
	rmdir(path);
}

/* ------------------------------------------------------ create, export */

static sp_media_create_opts create_opts(const char *name, const sp_secret *pw, int archive)
{
	sp_media_create_opts o;
	memset(&o, 0, sizeof o);
	o.name = name;
	o.archive = archive;
	o.actor = ACTOR;
	o.p12.password = pw;
	o.p12.iter = FAST_ITER;
	return o;
}

/* A fresh output path in its own directory. */
static const char *out_path(char *buf, size_t sz, char *dir, size_t dsz)
{
	snprintf(dir, dsz, "%s", sp_unit_tmpdir());
	snprintf(buf, sz, "%s/media-%d.pfx", dir, ++fx.seq);
	return buf;
}

static void check_file(const char *path, const char *pw, sp_ca *ca, const char *serial, const char *name)
{
	size_t len = 0;
	uint8_t *d = read_all(path, &len);
	parsed_p12 p = p12_open(d, len, pw);
	char s[41], cn[128];
	struct stat sb;

	CU_ASSERT_FATAL(p.ok);
	CU_ASSERT_EQUAL(X509_check_private_key(p.cert, p.key), 1);
	CU_ASSERT_EQUAL(sp_serial_hex(X509_get0_serialNumber(p.cert), s, sizeof s), SP_OK);
	CU_ASSERT_STRING_EQUAL(s, serial);
	cn_of(p.cert, cn, sizeof cn);
	CU_ASSERT_STRING_EQUAL(cn, name);
	CU_ASSERT_EQUAL(sk_X509_num(p.ca), 1 + sk_X509_num(sp_ca_get0_chain(ca)));
	CU_ASSERT_EQUAL(EVP_PKEY_get_bits(p.key), 2048);
	CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	p12_clear(&p);
	free(d);
}

static void test_create(void)
{
	char dir[4300], path[4400], serial[41], acts[256];
	const char *dns[] = {"pxe2.corp.example"};
	sp_media_create_opts o = create_opts("PXE DP Paris", &fx.pw_a, 0);
	sp_media_out *out = NULL;
	int64_t certs;
	int media;
	sp_media_row m;
	sp_cert_row c;

	setup();
	o.dns = dns;
	o.n_dns = 1;
	certs = cert_count(fx.inter);
	media = media_count(fx.inter);
	out_path(path, sizeof path, dir, sizeof dir);
	CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &out), SP_OK);
	if (sp_media_create(fx.inter, fx.osd, &o, out, serial) != SP_OK)
		printf("\n    sp_media_create: %s", sp_last_error());
	CU_ASSERT_FATAL(serial[0] != '\0');
	CU_ASSERT_EQUAL(cert_count(fx.inter), certs + 1);
	CU_ASSERT_EQUAL(media_count(fx.inter), media + 1);
	check_file(path, PASS_A, fx.inter, serial, "PXE DP Paris");
	CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);

	CU_ASSERT_EQUAL_FATAL(sp_store_media_get(sp_ca_get0_store(fx.inter), serial, &m), SP_OK);
	CU_ASSERT_STRING_EQUAL(m.name, "PXE DP Paris");
	CU_ASSERT_PTR_NULL(m.archived_key); /* not asked to archive: not kept */
	CU_ASSERT_EQUAL(m.export_count, 1);
	CU_ASSERT(m.exported_at > 0 && llabs(m.exported_at - (int64_t)time(NULL)) < 120);
	CU_ASSERT_EQUAL(m.legacy, 0);
	sp_media_row_clear(&m);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(sp_ca_get0_store(fx.inter), serial, &c), SP_OK);
	CU_ASSERT_STRING_EQUAL(c.template_name, "osd-media");
	CU_ASSERT_PTR_NOT_NULL(strstr(c.sans, "pxe2.corp.example"));
	sp_cert_row_clear(&c);
	audit_of(fx.inter, serial, acts, sizeof acts);
	CU_ASSERT_STRING_EQUAL(acts, "issue media-create media-export");

	/* export of a key that was not kept */
	out_path(path, sizeof path, dir, sizeof dir);
	CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &out), SP_OK);
	CU_ASSERT_EQUAL(sp_media_export(fx.inter, serial, &o.p12, ACTOR, out), SP_ERR_NOTFOUND);
	CU_ASSERT(msg_has("--archive"));
	CU_ASSERT_FALSE(sp_path_exists(path));
	CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);
}

static void test_create_refusals(void)
{
	char dir[4300], path[4400], serial[41] = "x", bad_name[80];
	sp_media_create_opts o;
	sp_media_out *out = NULL;
	sp_secret short_pw = {0};
	int64_t certs;
	int media;

	setup();
	certs = cert_count(fx.root);
	media = media_count(fx.root);
	secret_set(&short_pw, "short");

	/* each refusal: nothing issued, nothing recorded, no file, no temp */
	for (int i = 0; i < 5; i++) {
		sp_err want = SP_ERR_INPUT;
		const sp_template *t = fx.osd;
		o = create_opts("refused media", &fx.pw_a, 1);
		switch (i) {
		case 0: o.p12.password = &short_pw; break;
		case 1: o.p12.iter = 100; break;
		case 2: t = fx.web; want = SP_ERR_POLICY; break;
		case 3:
			memset(bad_name, 'n', 65);
			bad_name[65] = '\0';
			o.name = bad_name;
			break;
		case 4: o.name = "caf\xc3\xa9"; want = SP_ERR_POLICY; break;
		}
		out_path(path, sizeof path, dir, sizeof dir);
		CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &out), SP_OK);
		sp_err rc = sp_media_create(fx.root, t, &o, out, serial);
		if (rc != want)
			printf("\n    case %d: %d %s", i, rc, sp_last_error());
		CU_ASSERT_EQUAL(rc, want);
		CU_ASSERT_STRING_EQUAL(serial, "");
		CU_ASSERT_FALSE(sp_path_exists(path));
		CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);
	}
	CU_ASSERT_EQUAL(cert_count(fx.root), certs);
	CU_ASSERT_EQUAL(media_count(fx.root), media);
	sp_secret_wipe(&short_pw);

	/* the write fails after the commit (the path became a directory):
	 * recorded, not exported, no file, and the message says so */
	o = create_opts("write fails", &fx.pw_a, 0);
	out_path(path, sizeof path, dir, sizeof dir);
	CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &out), SP_OK);
	CU_ASSERT_EQUAL_FATAL(mkdir(path, 0700), 0);
	CU_ASSERT_NOT_EQUAL(sp_media_create(fx.root, fx.osd, &o, out, serial), SP_OK);
	CU_ASSERT(msg_has("recorded"));
	CU_ASSERT(msg_has("no file was written"));
	CU_ASSERT_FATAL(serial[0] != '\0');
	CU_ASSERT(msg_has(serial));
	CU_ASSERT_EQUAL(cert_count(fx.root), certs + 1);
	CU_ASSERT_EQUAL(media_count(fx.root), media + 1);
	{
		sp_media_row m;
		char acts[256];
		CU_ASSERT_EQUAL_FATAL(sp_store_media_get(sp_ca_get0_store(fx.root), serial, &m), SP_OK);
		CU_ASSERT_EQUAL(m.exported_at, 0);
		CU_ASSERT_EQUAL(m.export_count, 0);
		sp_media_row_clear(&m);
		audit_of(fx.root, serial, acts, sizeof acts);
		CU_ASSERT_STRING_EQUAL(acts, "issue media-create");
	}
	CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);
	rmdir(path);
}

static void test_archive_export(void)
{
	sp_ca *cas[2];
	const char *labels[2] = {"RSA intermediate (OAEP)", "EC root (ECDH)"};

	setup();
	cas[0] = fx.inter;
	cas[1] = fx.root;
	for (int i = 0; i < 2; i++) {
		sp_ca *ca = cas[i];
		char dir[4300], path[4400], path2[4400], serial[41], acts[256];
		sp_media_create_opts o = create_opts("archived media", &fx.pw_a, 1);
		sp_pkcs12_opts eo;
		sp_media_out *out = NULL;
		sp_media_row m;
		CMS_ContentInfo *cms;
		const unsigned char *p;
		size_t l1, l2;
		uint8_t *d1, *d2;
		parsed_p12 p1, p2;

		printf("\n    %s", labels[i]);
		out_path(path, sizeof path, dir, sizeof dir);
		CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &out), SP_OK);
		CU_ASSERT_EQUAL_FATAL(sp_media_create(ca, fx.osd, &o, out, serial), SP_OK);

		/* the archive is EnvelopedData with one recipient */
		CU_ASSERT_EQUAL_FATAL(sp_store_media_get(sp_ca_get0_store(ca), serial, &m), SP_OK);
		CU_ASSERT_PTR_NOT_NULL_FATAL(m.archived_key);
		p = m.archived_key;
		cms = d2i_CMS_ContentInfo(NULL, &p, (long)m.archived_key_len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(cms);
		CU_ASSERT_EQUAL(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_enveloped);
		CU_ASSERT_EQUAL(sk_CMS_RecipientInfo_num(CMS_get0_RecipientInfos(cms)), 1);
		if (i == 0) {
			X509_ALGOR *alg = NULL;
			CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(CMS_get0_RecipientInfos(cms), 0);
			CU_ASSERT_EQUAL_FATAL(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_TRANS);
			CMS_RecipientInfo_ktri_get0_algs(ri, NULL, NULL, &alg);
			CU_ASSERT_EQUAL(OBJ_obj2nid(alg->algorithm), NID_rsaesOaep);
		} else {
			X509_ALGOR *alg = NULL;
			CMS_RecipientInfo *ri = sk_CMS_RecipientInfo_value(CMS_get0_RecipientInfos(cms), 0);
			CU_ASSERT_EQUAL_FATAL(CMS_RecipientInfo_type(ri), CMS_RECIPINFO_AGREE);
			CU_ASSERT_FATAL(CMS_RecipientInfo_kari_get0_alg(ri, &alg, NULL));
			CU_ASSERT_EQUAL(OBJ_obj2nid(alg->algorithm), NID_dhSinglePass_stdDH_sha256kdf_scheme);
		}
		CMS_ContentInfo_free(cms);
		sp_media_row_clear(&m);

		/* export under a new password, in the legacy form */
		memset(&eo, 0, sizeof eo);
		eo.password = &fx.pw_b;
		eo.iter = FAST_ITER;
		eo.legacy = 1;
		snprintf(path2, sizeof path2, "%s/again.pfx", dir);
		CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path2, &out), SP_OK);
		if (sp_media_export(ca, serial, &eo, ACTOR, out) != SP_OK)
			printf("\n    sp_media_export: %s", sp_last_error());
		check_file(path2, PASS_B, ca, serial, "archived media");
		d1 = read_all(path, &l1);
		d2 = read_all(path2, &l2);
		p1 = p12_open(d1, l1, PASS_A);
		p2 = p12_open(d2, l2, PASS_B);
		CU_ASSERT_FATAL(p1.ok && p2.ok);
		CU_ASSERT_EQUAL(EVP_PKEY_eq(p1.key, p2.key), 1); /* the same key came back */
		p12_clear(&p2);
		p2 = p12_open(d2, l2, PASS_A); /* the old password does not open the new file */
		CU_ASSERT_FALSE(p2.ok);
		p12_clear(&p1);
		p12_clear(&p2);
		free(d1);
		free(d2);
		CU_ASSERT_EQUAL_FATAL(sp_store_media_get(sp_ca_get0_store(ca), serial, &m), SP_OK);
		CU_ASSERT_EQUAL(m.export_count, 2);
		CU_ASSERT_EQUAL(m.legacy, 1);
		sp_media_row_clear(&m);
		audit_of(ca, serial, acts, sizeof acts);
		CU_ASSERT_STRING_EQUAL(acts, "issue media-create media-export media-export");

		/* the same file name again: never overwritten */
		CU_ASSERT_EQUAL(sp_media_out_open(path2, &out), SP_ERR_EXISTS);

		/* blocked, then revoked: not exported again */
		{
			sp_store *st = sp_ca_get0_store(ca);
			sp_cert_row c;
			sp_block_row b;
			CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, serial, &c), SP_OK);
			memset(&b, 0, sizeof b);
			memcpy(b.sha256, c.sha256, sizeof b.sha256);
			b.reason = "USB stick lost";
			b.created_by = ACTOR;
			b.created_at = (int64_t)time(NULL);
			CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
			CU_ASSERT_EQUAL_FATAL(sp_store_block_add(st, &b), SP_OK);
			CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
			snprintf(path2, sizeof path2, "%s/blocked.pfx", dir);
			CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path2, &out), SP_OK);
			CU_ASSERT_EQUAL(sp_media_export(ca, serial, &eo, ACTOR, out), SP_ERR_POLICY);
			CU_ASSERT(msg_has("blocked"));
			CU_ASSERT_FALSE(sp_path_exists(path2));
			CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
			CU_ASSERT_EQUAL_FATAL(sp_store_block_remove(st, c.sha256), SP_OK);
			CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, serial, SP_REASON_KEY_COMPROMISE, time(NULL)),
					      SP_OK);
			CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
			CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path2, &out), SP_OK);
			CU_ASSERT_EQUAL(sp_media_export(ca, serial, &eo, ACTOR, out), SP_ERR_POLICY);
			CU_ASSERT(msg_has("revoked"));
			CU_ASSERT_FALSE(sp_path_exists(path2));
			sp_cert_row_clear(&c);
		}
		CU_ASSERT_EQUAL(files_with(dir, ".tmp"), 0);
	}

	/* a serial that is no media certificate */
	{
		char dir[4300], path[4400];
		sp_pkcs12_opts eo;
		sp_media_out *out = NULL;
		memset(&eo, 0, sizeof eo);
		eo.password = &fx.pw_b;
		out_path(path, sizeof path, dir, sizeof dir);
		CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &out), SP_OK);
		CU_ASSERT_EQUAL(sp_media_export(fx.root, "0123456789ABCDEF", &eo, ACTOR, out), SP_ERR_NOTFOUND);
		CU_ASSERT_FALSE(sp_path_exists(path));
	}
}

/* ----------------------------------------------------------------- list */

typedef struct {
	const char *serial;
	char state[16];
	int seen;
	int64_t not_after;
} find_state;

static int state_cb(const sp_media_info *i, void *arg)
{
	find_state *f = arg;
	if (!strcmp(i->media->serial, f->serial)) {
		snprintf(f->state, sizeof f->state, "%s", i->state);
		f->not_after = i->cert->not_after;
		f->seen++;
	}
	return 0;
}

static const char *state_at(const char *serial, int64_t now, int64_t *not_after)
{
	static find_state f;
	memset(&f, 0, sizeof f);
	f.serial = serial;
	CU_ASSERT_EQUAL_FATAL(sp_media_list(fx.inter, now, state_cb, &f), SP_OK);
	CU_ASSERT_EQUAL(f.seen, 1);
	if (not_after)
		*not_after = f.not_after;
	return f.state;
}

static void test_list_states(void)
{
	char dir[4300], path[4400], serial[41];
	sp_media_create_opts o = create_opts("state media", &fx.pw_a, 0);
	sp_media_out *out = NULL;
	sp_store *st;
	sp_block_row b;
	sp_cert_row c;
	int64_t na = 0;

	setup();
	st = sp_ca_get0_store(fx.inter);
	out_path(path, sizeof path, dir, sizeof dir);
	CU_ASSERT_EQUAL_FATAL(sp_media_out_open(path, &out), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_media_create(fx.inter, fx.osd, &o, out, serial), SP_OK);
	CU_ASSERT_STRING_EQUAL(state_at(serial, 0, &na), "valid");
	CU_ASSERT_STRING_EQUAL(state_at(serial, na - 31 * DAY, NULL), "valid");
	CU_ASSERT_STRING_EQUAL(state_at(serial, na - 29 * DAY, NULL), "expiring");
	CU_ASSERT_STRING_EQUAL(state_at(serial, na + 1, NULL), "expired");

	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(st, serial, &c), SP_OK);
	memset(&b, 0, sizeof b);
	memcpy(b.sha1, c.sha1, sizeof b.sha1); /* blocked by thumbprint only */
	b.reason = "lost";
	b.created_at = (int64_t)time(NULL);
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_block_add(st, &b), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_STRING_EQUAL(state_at(serial, 0, NULL), "blocked");

	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, serial, SP_REASON_CERTIFICATE_HOLD, time(NULL)), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_STRING_EQUAL(state_at(serial, 0, NULL), "hold");
	CU_ASSERT_EQUAL_FATAL(sp_store_begin(st), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_revoke(st, serial, SP_REASON_KEY_COMPROMISE, time(NULL)), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_store_commit(st), SP_OK);
	CU_ASSERT_STRING_EQUAL(state_at(serial, 0, NULL), "revoked");
	sp_cert_row_clear(&c);
}

static const sp_unit_test store_tests[] = {
	{"media rows: insert, get, mark exported, list, refusals", test_store_media},
	{NULL, NULL},
};

static const sp_unit_test key_tests[] = {
	{"keygen: template size, refusals", test_keygen},
	{"csr_from_request: subject and extension request copied, new key, issuable", test_csr_from_request},
	{NULL, NULL},
};

static const sp_unit_test p12_tests[] = {
	{"password and iteration rules", test_password_rules},
	{"PKCS#12 round trip: PBES2/SHA-256 default, iterations, legacy, wrong password", test_pkcs12_round_trip},
	{"output file: temp first, 0600, never overwrites, no partial file", test_out_file},
	{NULL, NULL},
};

static const sp_unit_test create_tests[] = {
	{"create: issued, recorded, exported, audited; export without archive refused", test_create},
	{"create: refusals change nothing; a failed write leaves the row unexported", test_create_refusals},
	{"archive + export: RSA (OAEP) and EC (ECDH) CAs; blocked/revoked refused", test_archive_export},
	{"list: valid, expiring, expired, blocked, hold, revoked", test_list_states},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"media store", store_tests},
	{"media keys", key_tests},
	{"media pkcs12", p12_tests},
	{"media create/export/list", create_tests},
	{NULL, NULL},
};
