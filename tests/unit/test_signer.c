/* test_signer.c - enroll/signer: the wire format, and the signer process
 * issuing, refusing, surviving hostile messages, starting and stopping. */
#include "unit.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ca/ca.h"
#include "enroll/signer.h"
#include "enroll/signer_int.h"

#define PASS "signer unit test passphrase, not a real one"

static struct {
	int ready;
	char home[4200];
	EVP_PKEY *ec, *rsa;
} fx;

static void fixture_free(void)
{
	EVP_PKEY_free(fx.ec);
	EVP_PKEY_free(fx.rsa);
	memset(&fx, 0, sizeof fx);
}

/* A passphrase in secure memory, as sp_secret_* would make it. */
static void secret_set(sp_secret *s, const char *v)
{
	s->len = strlen(v);
	s->buf = OPENSSL_secure_malloc(s->len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s->buf);
	memcpy(s->buf, v, s->len + 1);
}

static const char *home(void)
{
	if (!fx.ready) {
		sp_ca_init_opts o;
		sp_secret pass;
		sp_err rc;

		fx.ready = 1;
		atexit(fixture_free);
		snprintf(fx.home, sizeof fx.home, "%s/ca", sp_unit_tmpdir());
		memset(&o, 0, sizeof o);
		o.name = "sitepki Signer Test CA";
		o.site_code = "LAB";
		o.days = 400;
		secret_set(&pass, PASS);
		rc = sp_ca_init(fx.home, &o, &pass);
		sp_secret_wipe(&pass);
		if (rc != SP_OK)
			printf("\n    sp_ca_init: %s", sp_last_error());
		CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
		fx.ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		fx.rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	}
	CU_ASSERT_FATAL(fx.ec && fx.rsa);
	return fx.home;
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Start a signer; the passphrase buffer handed over must come back wiped. */
static sp_signer *start(void)
{
	sp_secret pass;
	sp_signer *s = NULL;
	sp_err rc;
	const char *h = home();

	secret_set(&pass, PASS);
	rc = sp_signer_start(h, &pass, &s);
	if (rc != SP_OK)
		printf("\n    sp_signer_start: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT(all_zero(pass.buf, pass.len));
	sp_secret_wipe(&pass);
	return s;
}

static void stop(sp_signer *s)
{
	pid_t pid = sp_signer_test_pid(s);
	sp_err rc = sp_signer_stop(s);
	if (rc != SP_OK)
		printf("\n    sp_signer_stop: %s", sp_last_error());
	CU_ASSERT_EQUAL(rc, SP_OK);
	/* reaped: no longer our child */
	CU_ASSERT_EQUAL(waitpid(pid, NULL, WNOHANG), -1);
	CU_ASSERT_EQUAL(errno, ECHILD);
}

/* A CSR (DER, malloc'd) with subject CN=cn (UTF8String) and optional SAN
 * dNSNames. */
static uint8_t *csr(EVP_PKEY *k, const char *cn, const char *const *dns, size_t n_dns, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	uint8_t *out;
	int n;

	CU_ASSERT_FATAL(req && name);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_NID(name, NID_commonName, V_ASN1_UTF8STRING,
						   (const unsigned char *)cn, -1, -1, 0));
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, name));
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(req, k));
	if (n_dns) {
		GENERAL_NAMES *gens = GENERAL_NAMES_new();
		STACK_OF(X509_EXTENSION) *exts = NULL;
		for (size_t i = 0; i < n_dns; i++) {
			GENERAL_NAME *g = GENERAL_NAME_new();
			ASN1_IA5STRING *s = ASN1_IA5STRING_new();
			CU_ASSERT_FATAL(g && s && ASN1_STRING_set(s, dns[i], -1));
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
			CU_ASSERT_FATAL(sk_GENERAL_NAME_push(gens, g));
		}
		CU_ASSERT_FATAL(X509V3_add1_i2d(&exts, NID_subject_alt_name, gens, 0, X509V3_ADD_APPEND) == 1);
		CU_ASSERT_FATAL(X509_REQ_add_extensions(req, exts));
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		GENERAL_NAMES_free(gens);
	}
	CU_ASSERT_FATAL(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	n = i2d_X509_REQ(req, &der);
	CU_ASSERT_FATAL(n > 0);
	out = malloc((size_t)n);
	CU_ASSERT_FATAL(out != NULL);
	memcpy(out, der, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return out;
}

static sp_issue_opts opts(void)
{
	sp_issue_opts o;
	memset(&o, 0, sizeof o);
	o.requester = "test:signer";
	return o;
}

/* The certificate parses, verifies under the CA certificate and is in the
 * store with the template name; the serial and the certs-only PKCS#7 that
 * came with it are its own (read back by OpenSSL's own PKCS#7 parser). */
static void check_issued(const sp_issued *got, const char *tname, const char *cn)
{
	const uint8_t *der = got->cert, *pp = got->p7;
	size_t len = got->cert_len;
	X509 *x = NULL;
	PKCS7 *p7 = NULL;
	sp_ca *ca = NULL;
	sp_cert_row row;
	char serial[41], buf[256];

	CU_ASSERT_EQUAL_FATAL(sp_cert_parse(der, len, &x), SP_OK);
	CU_ASSERT_FATAL((p7 = d2i_PKCS7(NULL, &pp, (long)got->p7_len)) != NULL);
	CU_ASSERT(pp == got->p7 + got->p7_len);
	CU_ASSERT_FATAL(PKCS7_type_is_signed(p7));
	CU_ASSERT_EQUAL(sk_PKCS7_SIGNER_INFO_num(p7->d.sign->signer_info), 0);
	CU_ASSERT_EQUAL_FATAL(sk_X509_num(p7->d.sign->cert), 1);
	CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(p7->d.sign->cert, 0), x), 0);
	PKCS7_free(p7);
	CU_ASSERT_EQUAL_FATAL(sp_ca_open(home(), NULL, &ca), SP_OK);
	CU_ASSERT_EQUAL(X509_verify(x, X509_get0_pubkey(sp_ca_get0_cert(ca))), 1);
	CU_ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf) > 0);
	CU_ASSERT_STRING_EQUAL(buf, cn);
	CU_ASSERT_EQUAL(sp_serial_hex(X509_get0_serialNumber(x), serial, sizeof serial), SP_OK);
	CU_ASSERT_STRING_EQUAL(got->serial, serial);
	memset(&row, 0, sizeof row);
	CU_ASSERT_EQUAL_FATAL(sp_store_cert_get(sp_ca_get0_store(ca), serial, &row), SP_OK);
	CU_ASSERT_STRING_EQUAL(row.template_name, tname);
	CU_ASSERT(row.der_len == len && !memcmp(row.der, der, len));
	sp_cert_row_clear(&row);
	sp_ca_close(ca);
	X509_free(x);
}

/* Issue a web-server certificate through s and check it. */
static void issue_web(sp_signer *s, const char *cn)
{
	const char *dns[] = {cn, "intranet.corp.example"};
	sp_issue_opts o = opts();
	uint8_t *req;
	size_t req_len;
	sp_issued cert;
	sp_err rc;

	req = csr(fx.ec, cn, NULL, 0, &req_len);
	o.dns = dns; /* names from the request context, not the CSR */
	o.n_dns = 2;
	rc = sp_signer_issue(s, "web-server", req, req_len, &o, &cert);
	if (rc != SP_OK)
		printf("\n    sp_signer_issue: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	check_issued(&cert, "web-server", cn);
	sp_issued_clear(&cert);
	free(req);
}

/* ------------------------------------------------------------ protocol */

static size_t build_issue(uint8_t *buf, size_t cap)
{
	sp_signer_wbuf w;
	size_t len = 0;
	sp_signer_wbuf_init(&w, buf, cap, SP_SG_ISSUE);
	sp_signer_put_str(&w, SP_SGT_TEMPLATE, "web-server");
	sp_signer_put_bytes(&w, SP_SGT_CSR, "\x30\x03\x02\x01\x00", 5);
	sp_signer_put_str(&w, SP_SGT_DNS, "a.example");
	sp_signer_put_str(&w, SP_SGT_DNS, "b.example");
	sp_signer_put_str(&w, SP_SGT_UPN, "u@corp.example");
	sp_signer_put_str(&w, SP_SGT_SITE, "LAB");
	sp_signer_put_str(&w, SP_SGT_REQUESTER, "est:token:1");
	CU_ASSERT_EQUAL_FATAL(sp_signer_wbuf_finish(&w, &len), SP_OK);
	return len;
}

static void test_proto_round_trip(void)
{
	uint8_t buf[1024];
	sp_signer_msg *m = malloc(sizeof *m);
	size_t len = build_issue(buf, sizeof buf);
	sp_signer_wbuf w;

	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL_FATAL(sp_signer_msg_parse(buf, len, m), SP_OK);
	CU_ASSERT_EQUAL(m->type, SP_SG_ISSUE);
	CU_ASSERT_STRING_EQUAL(m->template_name, "web-server");
	CU_ASSERT(m->csr_len == 5 && m->csr == buf + SP_SIGNER_HDR_LEN + 6 + 10 + 6);
	CU_ASSERT_EQUAL(m->n_dns, 2);
	CU_ASSERT_STRING_EQUAL(m->dns[1], "b.example");
	CU_ASSERT_STRING_EQUAL(m->upn, "u@corp.example");
	CU_ASSERT_STRING_EQUAL(m->site, "LAB");
	CU_ASSERT_STRING_EQUAL(m->requester, "est:token:1");

	sp_signer_wbuf_init(&w, buf, sizeof buf, SP_SG_ERROR);
	sp_signer_put_u32(&w, SP_SGT_ERR_CODE, SP_ERR_POLICY);
	sp_signer_put_str(&w, SP_SGT_ERR_MSG, "CN: character 4 is not ASCII");
	CU_ASSERT_EQUAL_FATAL(sp_signer_wbuf_finish(&w, &len), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_signer_msg_parse(buf, len, m), SP_OK);
	CU_ASSERT_EQUAL(m->err_code, SP_ERR_POLICY);
	CU_ASSERT_STRING_EQUAL(m->err_msg, "CN: character 4 is not ASCII");

	sp_signer_wbuf_init(&w, buf, sizeof buf, SP_SG_READY);
	CU_ASSERT_EQUAL_FATAL(sp_signer_wbuf_finish(&w, &len), SP_OK);
	CU_ASSERT_EQUAL(len, SP_SIGNER_HDR_LEN);
	CU_ASSERT_EQUAL(sp_signer_msg_parse(buf, len, m), SP_OK);

	/* CERT: certificate, PKCS#7 and serial, all three required */
	sp_signer_wbuf_init(&w, buf, sizeof buf, SP_SG_CERT);
	sp_signer_put_bytes(&w, SP_SGT_CERT, "\x30\x00", 2);
	sp_signer_put_bytes(&w, SP_SGT_PKCS7, "\x30\x01\x00", 3);
	sp_signer_put_str(&w, SP_SGT_SERIAL, "0A1B");
	CU_ASSERT_EQUAL_FATAL(sp_signer_wbuf_finish(&w, &len), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_signer_msg_parse(buf, len, m), SP_OK);
	CU_ASSERT(m->cert_len == 2 && m->p7_len == 3 && !memcmp(m->p7, "\x30\x01\x00", 3));
	CU_ASSERT_STRING_EQUAL(m->serial, "0A1B");
	sp_signer_wbuf_init(&w, buf, sizeof buf, SP_SG_CERT);
	sp_signer_put_bytes(&w, SP_SGT_CERT, "\x30\x00", 2);
	sp_signer_put_str(&w, SP_SGT_SERIAL, "0A1B");
	CU_ASSERT_EQUAL_FATAL(sp_signer_wbuf_finish(&w, &len), SP_OK);
	CU_ASSERT_EQUAL(sp_signer_msg_parse(buf, len, m), SP_ERR_PROTOCOL);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "pkcs7"));
	{
		char serial[42];
		memset(serial, 'A', 41);
		serial[41] = '\0';
		sp_signer_wbuf_init(&w, buf, sizeof buf, SP_SG_CERT);
		sp_signer_put_str(&w, SP_SGT_SERIAL, serial); /* 41 digits: over the limit */
		CU_ASSERT_NOT_EQUAL(sp_signer_wbuf_finish(&w, &len), SP_OK);
	}
	free(m);
}

/* Append a raw field to a message being hand-built, fixing the header. */
static size_t raw_field(uint8_t *buf, size_t len, uint16_t tag, uint32_t flen, const void *p, size_t n)
{
	buf[len] = (uint8_t)(tag >> 8);
	buf[len + 1] = (uint8_t)tag;
	buf[len + 2] = (uint8_t)(flen >> 24);
	buf[len + 3] = (uint8_t)(flen >> 16);
	buf[len + 4] = (uint8_t)(flen >> 8);
	buf[len + 5] = (uint8_t)flen;
	memcpy(buf + len + 6, p, n);
	len += 6 + n;
	buf[8] = (uint8_t)(len >> 24);
	buf[9] = (uint8_t)(len >> 16);
	buf[10] = (uint8_t)(len >> 8);
	buf[11] = (uint8_t)len;
	return len;
}

static void refused(const uint8_t *buf, size_t len, const char *needle)
{
	sp_signer_msg *m = malloc(sizeof *m);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m);
	CU_ASSERT_EQUAL(sp_signer_msg_parse(buf, len, m), SP_ERR_PROTOCOL);
	if (!strstr(sp_last_error(), needle)) {
		printf("\n    wanted \"%s\" in \"%s\"", needle, sp_last_error());
		CU_FAIL("message");
	}
	CU_ASSERT_EQUAL(strchr(sp_last_error(), '\n'), NULL);
	free(m);
}

static void test_proto_refusals(void)
{
	uint8_t good[1024], b[1024];
	size_t glen = build_issue(good, sizeof good), len;
	char big[300];
	uint8_t code[4] = {0, 0, 0, 99};

	refused(good, 0, "shorter than its header");
	refused(good, 11, "shorter than its header");
	memcpy(b, good, glen);
	b[0] = 'X';
	refused(b, glen, "bad magic");
	memcpy(b, good, glen);
	b[4] = 2;
	refused(b, glen, "version 2");
	memcpy(b, good, glen);
	b[5] = 9;
	refused(b, glen, "unknown type 9");
	memcpy(b, good, glen);
	b[7] = 1;
	refused(b, glen, "reserved");
	refused(good, glen - 1, "header says");
	/* field header cut after 3 bytes */
	memcpy(b, good, SP_SIGNER_HDR_LEN);
	memset(b + SP_SIGNER_HDR_LEN, 0, 3);
	b[11] = SP_SIGNER_HDR_LEN + 3;
	refused(b, SP_SIGNER_HDR_LEN + 3, "truncated field header");
	/* a length past the end, and one near 4 GiB (no overflow) */
	memcpy(b, good, glen);
	len = raw_field(b, glen, SP_SGT_UPN, 10, "x", 1);
	refused(b, len, "runs past the end");
	len = raw_field(b, glen, SP_SGT_UPN, 0xffffffffu, "x", 1);
	refused(b, len, "runs past the end");
	memcpy(b, good, glen);
	len = raw_field(b, glen, 77, 1, "x", 1);
	refused(b, len, "unknown tag 77");
	len = raw_field(b, glen, 0, 1, "x", 1);
	refused(b, len, "unknown tag 0");
	/* a tag of another message type */
	len = raw_field(b, glen, SP_SGT_CERT, 1, "x", 1);
	refused(b, len, "unknown tag 7");
	len = raw_field(b, glen, SP_SGT_TEMPLATE, 3, "abc", 3);
	refused(b, len, "duplicate template");
	len = raw_field(b, glen, SP_SGT_UPN, 3, "a\0b", 3);
	refused(b, len, "duplicate upn");
	/* NUL inside a string, empty string, over-long string */
	memcpy(b, good, SP_SIGNER_HDR_LEN);
	len = raw_field(b, SP_SIGNER_HDR_LEN, SP_SGT_TEMPLATE, 3, "w\0s", 3);
	refused(b, len, "NUL byte inside template");
	len = raw_field(b, SP_SIGNER_HDR_LEN, SP_SGT_TEMPLATE, 0, "", 0);
	refused(b, len, "empty template");
	memset(big, 'a', sizeof big);
	len = raw_field(b, SP_SIGNER_HDR_LEN, SP_SGT_TEMPLATE, 256, big, 256);
	refused(b, len, "template of 256 bytes is over the 255-byte limit");
	len = raw_field(b, SP_SIGNER_HDR_LEN, SP_SGT_TEMPLATE, 255, big, 255);
	refused(b, len, "csr missing"); /* 255 is fine; then a required field lacks */
	/* 33 dNSNames */
	memcpy(b, good, glen);
	len = glen;
	for (int i = 0; i < 31; i++)
		len = raw_field(b, len, SP_SGT_DNS, 1, "d", 1);
	refused(b, len, "more than 32 dns fields");
	/* error message: u32 of the wrong size, unknown code, SP_OK */
	memcpy(b, good, SP_SIGNER_HDR_LEN);
	b[5] = SP_SG_ERROR;
	len = raw_field(b, SP_SIGNER_HDR_LEN, SP_SGT_ERR_MSG, 1, "m", 1);
	len = raw_field(b, len, SP_SGT_ERR_CODE, 3, code + 1, 3);
	refused(b, len, "error code has 3 bytes");
	len = raw_field(b, SP_SIGNER_HDR_LEN + 7, SP_SGT_ERR_CODE, 4, code, 4);
	refused(b, len, "unknown error code 99");
	memset(code, 0, sizeof code);
	len = raw_field(b, SP_SIGNER_HDR_LEN + 7, SP_SGT_ERR_CODE, 4, code, 4);
	refused(b, len, "unknown error code 0");
	/* a message over the limit */
	{
		uint8_t *huge = calloc(1, SP_SIGNER_MAX_MSG + 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
		memcpy(huge, good, glen);
		refused(huge, SP_SIGNER_MAX_MSG + 1, "over the 163840-byte limit");
		free(huge);
	}
}

static void test_proto_writer_limits(void)
{
	uint8_t buf[512];
	char big[300];
	sp_signer_wbuf w;
	size_t len = 1;

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	sp_signer_wbuf_init(&w, buf, sizeof buf, SP_SG_ISSUE);
	sp_signer_put_str(&w, SP_SGT_UPN, big);
	sp_signer_put_str(&w, SP_SGT_TEMPLATE, "web-server"); /* no effect: the first error sticks */
	CU_ASSERT_EQUAL(sp_signer_wbuf_finish(&w, &len), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "upn: 299 bytes, over the 255-byte limit"));
	/* the buffer is too small */
	sp_signer_wbuf_init(&w, buf, 20, SP_SG_ISSUE);
	sp_signer_put_str(&w, SP_SGT_TEMPLATE, "web-server");
	CU_ASSERT_EQUAL(sp_signer_wbuf_finish(&w, &len), SP_ERR_INPUT);
}

/* -------------------------------------------------------------- signer */

static void test_issue_web_and_client(void)
{
	sp_signer *s = start();
	sp_issue_opts o = opts();
	const char *dns[] = {"pc01.corp.example"};
	uint8_t *req;
	size_t req_len;
	sp_issued cert;
	sp_err rc;

	issue_web(s, "www.corp.example");

	/* client-auth: RSA 2048, dNSName in the CSR */
	req = csr(fx.rsa, "pc01.corp.example", dns, 1, &req_len);
	rc = sp_signer_issue(s, "client-auth", req, req_len, &o, &cert);
	if (rc != SP_OK)
		printf("\n    sp_signer_issue: %s", sp_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, SP_OK);
	check_issued(&cert, "client-auth", "pc01.corp.example");
	sp_issued_clear(&cert);
	free(req);
	stop(s);
}

static void test_refused_same_message(void)
{
	const char *cn = "caf\xc3\xa9.corp.example";
	const char *dns[] = {"cafe.corp.example"};
	sp_issue_opts o = opts();
	sp_secret pass;
	sp_ca *ca = NULL;
	sp_template *t = NULL;
	X509_REQ *r = NULL;
	X509 *x = NULL;
	uint8_t *req;
	size_t req_len;
	sp_issued cert;
	char want[1024];
	sp_signer *s;
	sp_err rc;

	(void)home();
	req = csr(fx.ec, cn, dns, 1, &req_len);
	/* what sp_issue says in-process */
	secret_set(&pass, PASS);
	CU_ASSERT_EQUAL_FATAL(sp_ca_open(home(), &pass, &ca), SP_OK);
	sp_secret_wipe(&pass);
	CU_ASSERT_EQUAL_FATAL(sp_template_find(home(), "web-server", &t), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_req_parse(req, req_len, &r), SP_OK);
	CU_ASSERT_EQUAL_FATAL(sp_issue(ca, t, r, &o, &x), SP_ERR_POLICY);
	snprintf(want, sizeof want, "%s", sp_last_error());
	CU_ASSERT(strlen(want) > 0 && !strchr(want, '\n'));
	sp_ca_close(ca);
	sp_template_free(t);
	X509_REQ_free(r);

	s = start();
	sp_clear_error();
	memset(&cert, 0x5a, sizeof cert); /* a failure must leave it empty */
	rc = sp_signer_issue(s, "web-server", req, req_len, &o, &cert);
	CU_ASSERT_EQUAL(rc, SP_ERR_POLICY);
	CU_ASSERT_STRING_EQUAL(sp_last_error(), want);
	CU_ASSERT(cert.cert == NULL && cert.cert_len == 0 && cert.p7 == NULL && cert.p7_len == 0 && !cert.serial[0]);
	/* an unknown template, a garbage CSR: the signer's codes */
	CU_ASSERT_EQUAL(sp_signer_issue(s, "no-such-template", req, req_len, &o, &cert),
			SP_ERR_NOTFOUND);
	CU_ASSERT_EQUAL(sp_signer_issue(s, "web-server", (const uint8_t *)"garbage", 7, &o, &cert),
			SP_ERR_INPUT);
	/* the parent's own limits: nothing sent */
	{
		char big[300];
		memset(big, 'u', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		o.upn = big;
		CU_ASSERT_EQUAL(sp_signer_issue(s, "web-server", req, req_len, &o, &cert), SP_ERR_INPUT);
		o.upn = NULL;
		o.n_dns = 33;
		o.dns = dns;
		CU_ASSERT_EQUAL(sp_signer_issue(s, "web-server", req, req_len, &o, &cert), SP_ERR_INPUT);
		o.n_dns = 0;
		o.dns = NULL;
		CU_ASSERT_EQUAL(sp_signer_issue(s, "web-server", req, SP_MAX_CSR_BYTES + 1, &o, &cert),
				SP_ERR_INPUT);
		o.requester = NULL;
		CU_ASSERT_EQUAL(sp_signer_issue(s, "web-server", req, req_len, &o, &cert), SP_ERR_USAGE);
	}
	/* still serving */
	issue_web(s, "after-refusal.corp.example");
	free(req);
	stop(s);
}

/* Send raw bytes on the parent's socket and read the answer (or none within
 * 30 s). Returns the answer's error code, 0 for no answer, -1 for an
 * answer that is not an ERROR, -2 when the kernel refused to send it. */
static int raw_exchange(sp_signer *s, const uint8_t *buf, size_t len)
{
	int fd = sp_signer_test_fd(s);
	uint8_t *in = malloc(SP_SIGNER_MAX_MSG);
	sp_signer_msg *m = malloc(sizeof *m);
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;
	int ret = -1;

	CU_ASSERT_FATAL(in && m);
	n = send(fd, buf, len, MSG_NOSIGNAL);
	if (n < 0 && errno == EMSGSIZE) {
		ret = -2; /* the kernel refused it: dropped before the signer */
		goto out;
	}
	CU_ASSERT_EQUAL_FATAL(n, (ssize_t)len);
	if (poll(&pfd, 1, 30000) != 1) {
		ret = 0;
		goto out;
	}
	n = recv(fd, in, SP_SIGNER_MAX_MSG, 0);
	CU_ASSERT_FATAL(n > 0);
	if (sp_signer_msg_parse(in, (size_t)n, m) == SP_OK && m->type == SP_SG_ERROR) {
		ret = (int)m->err_code;
		CU_ASSERT(strlen(m->err_msg) > 0);
	}
out:
	free(in);
	free(m);
	return ret;
}

static void test_malformed_messages(void)
{
	sp_signer *s = start();
	uint8_t good[1024], b[1024];
	size_t glen = build_issue(good, sizeof good), len;
	uint8_t *huge;
	int r;

	/* truncated header */
	CU_ASSERT_EQUAL(raw_exchange(s, good, 7), SP_ERR_PROTOCOL);
	/* wrong magic */
	memcpy(b, good, glen);
	b[1] ^= 0xff;
	CU_ASSERT_EQUAL(raw_exchange(s, b, glen), SP_ERR_PROTOCOL);
	/* a field length past the end */
	memcpy(b, good, glen);
	len = raw_field(b, glen, SP_SGT_UPN, 1000, "x", 1);
	CU_ASSERT_EQUAL(raw_exchange(s, b, len), SP_ERR_PROTOCOL);
	/* unknown tag */
	len = raw_field(b, glen, 4242, 1, "x", 1);
	CU_ASSERT_EQUAL(raw_exchange(s, b, len), SP_ERR_PROTOCOL);
	/* an answer type sent as a request */
	memcpy(b, good, SP_SIGNER_HDR_LEN);
	b[5] = SP_SG_READY;
	b[11] = SP_SIGNER_HDR_LEN;
	CU_ASSERT_EQUAL(raw_exchange(s, b, SP_SIGNER_HDR_LEN), SP_ERR_PROTOCOL);
	/* a well-formed request with a garbage CSR */
	CU_ASSERT_EQUAL(raw_exchange(s, good, glen), SP_ERR_INPUT);
	/* 200 KiB: answered as too long, or refused by the kernel */
	huge = calloc(1, 200 * 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
	memcpy(huge, good, glen);
	{
		int sz = 512 * 1024;
		(void)setsockopt(sp_signer_test_fd(s), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	}
	r = raw_exchange(s, huge, 200 * 1024);
	CU_ASSERT(r == SP_ERR_PROTOCOL || r == -2);
	free(huge);
	/* the child is alive and serving */
	CU_ASSERT_EQUAL(waitpid(sp_signer_test_pid(s), NULL, WNOHANG), 0);
	issue_web(s, "after-garbage.corp.example");
	stop(s);
}

static void test_passphrase_wiped(void)
{
	sp_secret pass;
	sp_signer *s = NULL;

	secret_set(&pass, PASS);
	CU_ASSERT_EQUAL_FATAL(sp_signer_start(home(), &pass, &s), SP_OK);
	CU_ASSERT(all_zero(pass.buf, pass.len));
	sp_secret_wipe(&pass);
	stop(s);
}

static void test_wrong_passphrase(void)
{
	sp_secret pass;
	sp_signer *s = (sp_signer *)&pass; /* must be set to NULL */
	int st;

	secret_set(&pass, "not the passphrase");
	CU_ASSERT_EQUAL(sp_signer_start(home(), &pass, &s), SP_ERR_AUTH);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "wrong passphrase"));
	CU_ASSERT_PTR_NULL(s);
	CU_ASSERT(all_zero(pass.buf, pass.len));
	sp_secret_wipe(&pass);
	/* no child left, not even a zombie */
	CU_ASSERT_EQUAL(waitpid(-1, &st, WNOHANG), -1);
	CU_ASSERT_EQUAL(errno, ECHILD);

	/* a home that does not exist */
	secret_set(&pass, PASS);
	CU_ASSERT_NOT_EQUAL(sp_signer_start("/nonexistent/sitepki", &pass, &s), SP_OK);
	CU_ASSERT_PTR_NULL(s);
	sp_secret_wipe(&pass);
	CU_ASSERT_EQUAL(waitpid(-1, &st, WNOHANG), -1);
	CU_ASSERT_EQUAL(sp_signer_stop(NULL), SP_OK);
}

static void test_sigterm_and_dead_signer(void)
{
	sp_signer *s = start();
	sp_issue_opts o = opts();
	uint8_t *req;
	size_t req_len;
	sp_issued cert;

	/* SIGTERM: the signer exits cleanly (status 0) */
	CU_ASSERT_EQUAL(kill(sp_signer_test_pid(s), SIGTERM), 0);
	req = csr(fx.ec, "late.corp.example", NULL, 0, &req_len);
	{
		/* wait until it is gone, so the request below meets a closed socket */
		struct pollfd pfd = {.fd = sp_signer_test_fd(s), .events = POLLIN};
		CU_ASSERT_EQUAL(poll(&pfd, 1, 10000), 1);
		CU_ASSERT(pfd.revents & POLLHUP);
	}
	CU_ASSERT_EQUAL(sp_signer_issue(s, "web-server", req, req_len, &o, &cert), SP_ERR_IO);
	CU_ASSERT_EQUAL(sp_signer_issue(s, "web-server", req, req_len, &o, &cert), SP_ERR_IO);
	stop(s);

	/* SIGKILL: reported by stop */
	s = start();
	CU_ASSERT_EQUAL(kill(sp_signer_test_pid(s), SIGKILL), 0);
	CU_ASSERT_EQUAL(sp_signer_stop(s), SP_ERR_INTERNAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "signal 9"));
	free(req);
}

/* ------------------------------------------- concurrency, group commit */

#define CONC_THREADS 8
#define CONC_EACH 6

typedef struct {
	sp_signer *s;
	uint8_t *req[CONC_EACH];
	size_t req_len[CONC_EACH];
	int bad[CONC_EACH];
	sp_err rc[CONC_EACH];
	char msg[CONC_EACH][200];
	char serial[CONC_EACH][41];
	char cn[CONC_EACH][64];     /* asked for */
	char got_cn[CONC_EACH][64]; /* in the certificate answered */
} conc_arg;

static void *conc_thread(void *p)
{
	conc_arg *a = p;
	const char *dns[] = {"conc.corp.example"};

	for (int i = 0; i < CONC_EACH; i++) {
		sp_issue_opts o = opts();
		sp_issued cert;
		X509 *x = NULL;

		o.dns = dns;
		o.n_dns = 1;
		a->rc[i] = sp_signer_issue(a->s, "web-server", a->req[i], a->req_len[i], &o, &cert);
		snprintf(a->msg[i], sizeof a->msg[i], "%s", sp_last_error());
		if (a->rc[i] == SP_OK && sp_cert_parse(cert.cert, cert.cert_len, &x) == SP_OK) {
			if (sp_serial_hex(X509_get0_serialNumber(x), a->serial[i], sizeof a->serial[i]) != SP_OK ||
			    strcmp(a->serial[i], cert.serial) != 0)
				a->serial[i][0] = '\0'; /* the answer's serial is the certificate's */
			if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, a->got_cn[i],
						      sizeof a->got_cn[i]) < 0)
				a->got_cn[i][0] = '\0';
		}
		X509_free(x);
		sp_issued_clear(&cert);
	}
	return NULL;
}

/* Eight threads share one handle; their requests reach the signer in
 * batches that are committed together. Every good request gets its own
 * certificate (the one it asked for: answers are matched first in, first
 * out), every bad one its own refusal, and a refusal in a batch does not
 * touch the others. */
static void test_concurrent_batches(void)
{
	sp_signer *s = start();
	conc_arg args[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	int64_t before = 0, after = 0, good = 0;
	sp_ca *ca = NULL;
	int t, i, j, k;

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL_FATAL(sp_ca_open(home(), NULL, &ca), SP_OK);
	CU_ASSERT_EQUAL(sp_store_cert_count(sp_ca_get0_store(ca), &before), SP_OK);
	for (t = 0; t < CONC_THREADS; t++) {
		memset(&args[t], 0, sizeof args[t]);
		args[t].s = s;
		for (i = 0; i < CONC_EACH; i++) {
			char cn[64];
			args[t].bad[i] = (t + i) % 3 == 0;
			/* a CN that is no host name: web-server refuses it */
			snprintf(cn, sizeof cn, args[t].bad[i] ? "not a host %d-%d" : "conc%d-%d.corp.example", t, i);
			snprintf(args[t].cn[i], sizeof args[t].cn[i], "%s", cn);
			args[t].req[i] = csr(fx.ec, cn, NULL, 0, &args[t].req_len[i]);
			good += !args[t].bad[i];
		}
	}
	for (t = 0; t < CONC_THREADS; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, conc_thread, &args[t]), 0);
	for (t = 0; t < CONC_THREADS; t++)
		pthread_join(th[t], NULL);
	for (t = 0; t < CONC_THREADS; t++)
		for (i = 0; i < CONC_EACH; i++) {
			if (args[t].bad[i]) {
				CU_ASSERT_EQUAL(args[t].rc[i], SP_ERR_POLICY);
				CU_ASSERT(strstr(args[t].msg[i], "not a host") != NULL || strstr(args[t].msg[i], "CN") != NULL);
			} else {
				if (args[t].rc[i] != SP_OK)
					printf("\n    thread %d request %d: %s", t, i, args[t].msg[i]);
				CU_ASSERT_EQUAL(args[t].rc[i], SP_OK);
				CU_ASSERT(args[t].serial[i][0] != '\0');
				CU_ASSERT_STRING_EQUAL(args[t].got_cn[i], args[t].cn[i]);
				/* no two answers carry the same certificate */
				for (j = 0; j <= t; j++)
					for (k = 0; k < (j == t ? i : CONC_EACH); k++)
						if (!args[j].bad[k] && args[t].serial[i][0])
							CU_ASSERT(strcmp(args[j].serial[k], args[t].serial[i]) != 0);
			}
			free(args[t].req[i]);
		}
	CU_ASSERT_EQUAL(sp_store_cert_count(sp_ca_get0_store(ca), &after), SP_OK);
	CU_ASSERT_EQUAL(after - before, good);
	sp_ca_close(ca);
	stop(s);
}

/* A steady load from several threads: the WAL is copied beside the
 * committer and still starts over, instead of growing until the store's
 * own limit (16,000 frames) takes over. */
#define LOAD_THREADS 4
#define LOAD_EACH 300

typedef struct {
	sp_signer *s;
	int t, ok;
	uint8_t *req[LOAD_EACH];
	size_t req_len[LOAD_EACH];
} load_arg;

static void *load_thread(void *p)
{
	load_arg *a = p;

	const char *dns[] = {"load.corp.example"};

	for (int i = 0; i < LOAD_EACH; i++) {
		sp_issue_opts o = opts();
		sp_issued cert;
		o.dns = dns;
		o.n_dns = 1;
		if (sp_signer_issue(a->s, "web-server", a->req[i], a->req_len[i], &o, &cert) == SP_OK)
			a->ok++;
		else if (i == 0)
			printf("\n    thread %d: %s", a->t, sp_last_error());
		sp_issued_clear(&cert);
	}
	return NULL;
}

static void test_wal_bounded_under_load(void)
{
	sp_signer *s = start();
	load_arg args[LOAD_THREADS];
	pthread_t th[LOAD_THREADS];
	char wal[4200];
	struct stat sb;
	int t, i;

	CU_ASSERT_FATAL(s != NULL);
	for (t = 0; t < LOAD_THREADS; t++) {
		memset(&args[t], 0, sizeof args[t]);
		args[t].s = s;
		args[t].t = t;
		for (i = 0; i < LOAD_EACH; i++) {
			char cn[64];
			snprintf(cn, sizeof cn, "load%d-%d.corp.example", t, i);
			args[t].req[i] = csr(fx.ec, cn, NULL, 0, &args[t].req_len[i]);
		}
	}
	for (t = 0; t < LOAD_THREADS; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, load_thread, &args[t]), 0);
	for (t = 0; t < LOAD_THREADS; t++) {
		pthread_join(th[t], NULL);
		CU_ASSERT_EQUAL(args[t].ok, LOAD_EACH);
		for (i = 0; i < LOAD_EACH; i++)
			free(args[t].req[i]);
	}
	/* 1,200 certificates wrote well over 10,000 frames in all */
	snprintf(wal, sizeof wal, "%s/%s-wal", home(), SP_CA_DB);
	CU_ASSERT_EQUAL_FATAL(stat(wal, &sb), 0);
	if (sb.st_size >= 4000 * 4120)
		printf("\n    WAL of %lld bytes after the load", (long long)sb.st_size);
	CU_ASSERT(sb.st_size < 4000 * 4120);
	stop(s);
}

static const sp_unit_test proto_tests[] = {
	{"round trip of every field", test_proto_round_trip},
	{"malformed messages refused", test_proto_refusals},
	{"writer applies the limits", test_proto_writer_limits},
	{NULL, NULL},
};

static const sp_unit_test signer_tests[] = {
	{"issues web-server and client-auth", test_issue_web_and_client},
	{"refusal carries the in-process message", test_refused_same_message},
	{"malformed messages answered, signer survives", test_malformed_messages},
	{"passphrase wiped in the parent", test_passphrase_wiped},
	{"wrong passphrase: SP_ERR_AUTH, no child", test_wrong_passphrase},
	{"SIGTERM, dead signer, SIGKILL", test_sigterm_and_dead_signer},
	{"8 threads, batches committed together, refusals kept apart", test_concurrent_batches},
	{"steady load: the WAL is copied beside the committer and starts over", test_wal_bounded_under_load},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"signer protocol", proto_tests},
	{"signer process", signer_tests},
	{NULL, NULL},
};
