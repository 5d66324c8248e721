/*
 * test_common.c - common/: strict CSR and certificate parsing, bounded
 * reads, atomic writes with the right mode, permission checks, secrets,
 * hex, durations, serials and the one-line error channel.
 *
 * Objects to parse are made here with OpenSSL (an EC key, a self-signed
 * certificate and a CSR) once per process; every test copies what it needs
 * and works in its own temporary directory, so tests run in any order.
 */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include "common/common.h"

/* ------------------------------------------------------------- fixture */

typedef struct {
	unsigned char *data;
	size_t len;
} blob;

static struct {
	int ready;
	EVP_PKEY *key;
	X509 *cert, *cert2;
	blob req_pem, req_der, cert_pem, cert_der, cert2_pem;
} fx;

static void blob_free(blob *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static void fixture_free(void)
{
	EVP_PKEY_free(fx.key);
	X509_free(fx.cert);
	X509_free(fx.cert2);
	blob_free(&fx.req_pem);
	blob_free(&fx.req_der);
	blob_free(&fx.cert_pem);
	blob_free(&fx.cert_der);
	blob_free(&fx.cert2_pem);
	memset(&fx, 0, sizeof fx);
}

static blob bio_blob(BIO *b)
{
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	blob r = {NULL, 0};
	CU_ASSERT_FATAL(n > 0);
	r.data = malloc((size_t)n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.data);
	memcpy(r.data, p, (size_t)n);
	r.data[n] = 0;
	r.len = (size_t)n;
	return r;
}

static X509 *self_signed(EVP_PKEY *key, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	CU_ASSERT_FATAL(x && n);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
	CU_ASSERT_FATAL(X509_set_version(x, X509_VERSION_3));
	CU_ASSERT_FATAL(ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234));
	CU_ASSERT_FATAL(X509_set_subject_name(x, n) && X509_set_issuer_name(x, n));
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notBefore(x), 0) && X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	CU_ASSERT_FATAL(X509_set_pubkey(x, key));
	CU_ASSERT_FATAL(X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(n);
	return x;
}

static void fixture(void)
{
	X509_REQ *req;
	X509_NAME *n;
	BIO *b;
	unsigned char *der = NULL;
	int len;

	if (fx.ready)
		return;
	atexit(fixture_free);
	fx.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.key);

	req = X509_REQ_new();
	n = X509_NAME_new();
	CU_ASSERT_FATAL(req && n);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"host.example", -1,
						   -1, 0));
	CU_ASSERT_FATAL(X509_REQ_set_subject_name(req, n) && X509_REQ_set_pubkey(req, fx.key));
	CU_ASSERT_FATAL(X509_REQ_sign(req, fx.key, EVP_sha256()) > 0);
	CU_ASSERT_FATAL((b = BIO_new(BIO_s_mem())) && PEM_write_bio_X509_REQ(b, req));
	fx.req_pem = bio_blob(b);
	BIO_free(b);
	CU_ASSERT_FATAL((len = i2d_X509_REQ(req, &der)) > 0);
	fx.req_der.data = malloc((size_t)len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.req_der.data);
	memcpy(fx.req_der.data, der, (size_t)len);
	fx.req_der.len = (size_t)len;
	OPENSSL_free(der);
	der = NULL;
	X509_NAME_free(n);
	X509_REQ_free(req);

	fx.cert = self_signed(fx.key, "Test Root");
	fx.cert2 = self_signed(fx.key, "Second");
	CU_ASSERT_FATAL((b = BIO_new(BIO_s_mem())) && PEM_write_bio_X509(b, fx.cert));
	fx.cert_pem = bio_blob(b);
	BIO_free(b);
	CU_ASSERT_FATAL((b = BIO_new(BIO_s_mem())) && PEM_write_bio_X509(b, fx.cert2));
	fx.cert2_pem = bio_blob(b);
	BIO_free(b);
	CU_ASSERT_FATAL((len = i2d_X509(fx.cert, &der)) > 0);
	fx.cert_der.data = malloc((size_t)len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.cert_der.data);
	memcpy(fx.cert_der.data, der, (size_t)len);
	fx.cert_der.len = (size_t)len;
	OPENSSL_free(der);
	fx.ready = 1;
}

/* a + b (+ c) in a fresh buffer; caller frees */
static blob cat3(const void *a, size_t na, const void *b, size_t nb, const void *c, size_t nc)
{
	blob r;
	r.len = na + nb + nc;
	r.data = malloc(r.len + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.data);
	memcpy(r.data, a, na);
	if (nb)
		memcpy(r.data + na, b, nb);
	if (nc)
		memcpy(r.data + na + nb, c, nc);
	r.data[r.len] = 0;
	return r;
}

static int msg_has(const char *needle)
{
	if (strstr(sp_last_error(), needle))
		return 1;
	printf("\n    message '%s' lacks '%s'", sp_last_error(), needle);
	return 0;
}

/* ------------------------------------------------------------- parsing */

static void req_ok(const void *data, size_t len, const char *what)
{
	X509_REQ *r = NULL;
	sp_err rc = sp_req_parse(data, len, &r);
	if (rc != SP_OK)
		printf("\n    %s: %s", what, sp_last_error());
	CU_ASSERT_EQUAL(rc, SP_OK);
	CU_ASSERT_PTR_NOT_NULL(r);
	if (r) {
		/* sp_req_parse leaves the key undecoded (common/req_key.c) */
		EVP_PKEY *k = NULL;
		CU_ASSERT_EQUAL(sp_req_get1_pubkey(r, &k), SP_OK);
		CU_ASSERT(k && EVP_PKEY_eq(k, fx.key) == 1);
		EVP_PKEY_free(k);
	}
	X509_REQ_free(r);
}

static void req_bad(const void *data, size_t len, const char *needle, const char *what)
{
	X509_REQ *r = (X509_REQ *)&r; /* must be reset to NULL */
	sp_err rc = sp_req_parse(data, len, &r);
	if (rc != SP_ERR_INPUT)
		printf("\n    %s: expected refusal, got %s", what, sp_err_name(rc));
	CU_ASSERT_EQUAL(rc, SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(r);
	if (rc == SP_OK)
		X509_REQ_free(r);
	else
		CU_ASSERT(msg_has(needle));
	if (ERR_peek_error() != 0)
		printf("\n    %s: OpenSSL error queue not empty", what);
}

static void cert_ok(const void *data, size_t len, const char *what)
{
	X509 *x = NULL;
	sp_err rc = sp_cert_parse(data, len, &x);
	if (rc != SP_OK)
		printf("\n    %s: %s", what, sp_last_error());
	CU_ASSERT_EQUAL(rc, SP_OK);
	CU_ASSERT_PTR_NOT_NULL(x);
	if (x)
		CU_ASSERT_EQUAL(X509_cmp(x, fx.cert), 0);
	X509_free(x);
}

static void cert_bad(const void *data, size_t len, const char *needle, const char *what)
{
	X509 *x = (X509 *)&x;
	sp_err rc = sp_cert_parse(data, len, &x);
	if (rc != SP_ERR_INPUT)
		printf("\n    %s: expected refusal, got %s", what, sp_err_name(rc));
	CU_ASSERT_EQUAL(rc, SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(x);
	if (rc == SP_OK)
		X509_free(x);
	else
		CU_ASSERT(msg_has(needle));
}

static void test_req_parse_good(void)
{
	fixture();
	req_ok(fx.req_pem.data, fx.req_pem.len, "PEM");
	req_ok(fx.req_der.data, fx.req_der.len, "DER");
	{
		/* white space around a PEM block is not data */
		blob b = cat3(" \r\n\n", 4, fx.req_pem.data, fx.req_pem.len, "\r\n\n  \t", 6);
		req_ok(b.data, b.len, "PEM with white space");
		blob_free(&b);
	}
	{
		/* CRLF line ends (a CSR pasted on Windows) */
		blob b = {malloc(fx.req_pem.len * 2 + 1), 0};
		CU_ASSERT_PTR_NOT_NULL_FATAL(b.data);
		for (size_t i = 0; i < fx.req_pem.len; i++) {
			if (fx.req_pem.data[i] == '\n')
				b.data[b.len++] = '\r';
			b.data[b.len++] = fx.req_pem.data[i];
		}
		req_ok(b.data, b.len, "PEM with CRLF");
		blob_free(&b);
	}
	{
		/* PEM padded with white space up to exactly the limit */
		blob b = {malloc(SP_MAX_CSR_BYTES), SP_MAX_CSR_BYTES};
		CU_ASSERT_PTR_NOT_NULL_FATAL(b.data);
		memset(b.data, '\n', SP_MAX_CSR_BYTES);
		memcpy(b.data, fx.req_pem.data, fx.req_pem.len);
		req_ok(b.data, b.len, "PEM at the size limit");
		blob_free(&b);
	}
}

static void test_req_parse_bad(void)
{
	fixture();
	req_bad("", 0, "empty input", "empty");
	req_bad(fx.req_pem.data, 0, "empty input", "zero length");
	{
		blob b = cat3(fx.req_pem.data, fx.req_pem.len, "garbage\n", 8, NULL, 0);
		req_bad(b.data, b.len, "trailing data", "PEM + garbage");
		blob_free(&b);
	}
	{
		/* two CSRs: exactly one object is accepted */
		blob b = cat3(fx.req_pem.data, fx.req_pem.len, fx.req_pem.data, fx.req_pem.len, NULL, 0);
		req_bad(b.data, b.len, "trailing data", "PEM twice");
		blob_free(&b);
	}
	{
		blob b = cat3(fx.req_der.data, fx.req_der.len, "\0", 1, NULL, 0);
		req_bad(b.data, b.len, "1 trailing bytes", "DER + NUL");
		blob_free(&b);
	}
	{
		blob b = cat3(fx.req_der.data, fx.req_der.len, "x", 1, NULL, 0);
		req_bad(b.data, b.len, "1 trailing bytes", "DER + byte");
		blob_free(&b);
	}
	{
		/* RFC 7468 2: explanatory text before the block is allowed */
		blob b = cat3("Here is my request:\n", 20, fx.req_pem.data, fx.req_pem.len, NULL, 0);
		X509_REQ *r = NULL;
		CU_ASSERT_EQUAL(sp_req_parse(b.data, b.len, &r), SP_OK);
		CU_ASSERT_PTR_NOT_NULL(r);
		X509_REQ_free(r);
		blob_free(&b);
	}
	{
		blob b = cat3("\x01\x02 binary\n", 10, fx.req_pem.data, fx.req_pem.len, NULL, 0);
		req_bad(b.data, b.len, "neither PEM nor", "binary before PEM");
		blob_free(&b);
	}
	/* truncated DER and truncated PEM */
	req_bad(fx.req_der.data, fx.req_der.len - 1, "neither PEM nor", "DER - 1");
	req_bad(fx.req_pem.data, fx.req_pem.len / 2, "malformed PEM block", "PEM / 2");
	/* a certificate is not a CSR, in either encoding */
	req_bad(fx.cert_pem.data, fx.cert_pem.len, "expected a PEM 'CERTIFICATE REQUEST' block first",
		"cert PEM");
	{
		/* an encrypted-PEM style header */
		static const char begin[] = "-----BEGIN CERTIFICATE REQUEST-----\n";
		static const char hdr[] = "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n";
		blob b = cat3(begin, sizeof begin - 1, hdr, sizeof hdr - 1, fx.req_pem.data + sizeof begin - 1,
			      fx.req_pem.len - (sizeof begin - 1));
		req_bad(b.data, b.len, "PEM headers", "PEM with headers");
		blob_free(&b);
	}
	req_bad(fx.cert_der.data, fx.cert_der.len, "neither PEM nor", "cert DER");
	{
		/* over the limit, even though the CSR itself is small */
		blob b = {malloc(SP_MAX_CSR_BYTES + 1), SP_MAX_CSR_BYTES + 1};
		CU_ASSERT_PTR_NOT_NULL_FATAL(b.data);
		memset(b.data, '\n', b.len);
		memcpy(b.data, fx.req_pem.data, fx.req_pem.len);
		req_bad(b.data, b.len, "larger than 65536 bytes", "oversize");
		blob_free(&b);
	}
}

/* OpenSSL's PEM reader skips lines before a BEGIN line it likes and whole
 * PEM blocks of other types; sp_req_parse promises one object and no
 * leading text, so these must be refused too. */
static void test_req_parse_pem_skipping(void)
{
	fixture();
	{
		static const char pre[] = "-----BEGIN \nThis is not part of any CSR\n";
		blob b = cat3(pre, sizeof pre - 1, fx.req_pem.data, fx.req_pem.len, NULL, 0);
		req_bad(b.data, b.len, "CSR", "text after a bare BEGIN");
		blob_free(&b);
	}
	{
		blob b = cat3(fx.cert_pem.data, fx.cert_pem.len, fx.req_pem.data, fx.req_pem.len, NULL, 0);
		req_bad(b.data, b.len, "CSR", "certificate block, then the CSR");
		blob_free(&b);
	}
}

/* Same for certificates: one object, and nothing before it. */
static void test_cert_parse_pem_skipping(void)
{
	fixture();
	{
		blob b = cat3(fx.req_pem.data, fx.req_pem.len, fx.cert_pem.data, fx.cert_pem.len, NULL, 0);
		cert_bad(b.data, b.len, "certificate", "CSR block, then the certificate");
		blob_free(&b);
	}
	{
		static const char pre[] = "-----BEGIN \nnot a certificate\n";
		blob b = cat3(pre, sizeof pre - 1, fx.cert_pem.data, fx.cert_pem.len, NULL, 0);
		cert_bad(b.data, b.len, "certificate", "text after a bare BEGIN");
		blob_free(&b);
	}
}

static void test_cert_parse(void)
{
	fixture();
	cert_ok(fx.cert_pem.data, fx.cert_pem.len, "PEM");
	cert_ok(fx.cert_der.data, fx.cert_der.len, "DER");
	{
		blob b = cat3("\n\n", 2, fx.cert_pem.data, fx.cert_pem.len, "\n \n", 3);
		cert_ok(b.data, b.len, "PEM with white space");
		blob_free(&b);
	}
	cert_bad("", 0, "empty input", "empty");
	{
		blob b = cat3(fx.cert_pem.data, fx.cert_pem.len, "#", 1, NULL, 0);
		cert_bad(b.data, b.len, "trailing data", "PEM + garbage");
		blob_free(&b);
	}
	{
		blob b = cat3(fx.cert_pem.data, fx.cert_pem.len, fx.cert2_pem.data, fx.cert2_pem.len, NULL, 0);
		cert_bad(b.data, b.len, "trailing data", "two certificates");
		blob_free(&b);
	}
	{
		blob b = cat3(fx.cert_der.data, fx.cert_der.len, "\x30", 1, NULL, 0);
		cert_bad(b.data, b.len, "1 trailing bytes", "DER + byte");
		blob_free(&b);
	}
	{
		/* what `openssl pkcs7 -print_certs` writes: RFC 7468 allows it */
		blob b = cat3("subject=CN=x\n", 13, fx.cert_pem.data, fx.cert_pem.len, NULL, 0);
		X509 *x = NULL;
		CU_ASSERT_EQUAL(sp_cert_parse(b.data, b.len, &x), SP_OK);
		CU_ASSERT_PTR_NOT_NULL(x);
		X509_free(x);
		blob_free(&b);
	}
	{
		blob b = cat3("subject=\x80\n", 10, fx.cert_pem.data, fx.cert_pem.len, NULL, 0);
		cert_bad(b.data, b.len, "neither PEM nor valid DER", "binary before PEM");
		blob_free(&b);
	}
	cert_bad(fx.cert_der.data, fx.cert_der.len - 3, "neither PEM nor valid DER", "truncated DER");
	cert_bad(fx.req_pem.data, fx.req_pem.len, "expected a PEM 'CERTIFICATE' block first", "a CSR");
	{
		blob b = {malloc(SP_MAX_CERT_BYTES + 1), SP_MAX_CERT_BYTES + 1};
		CU_ASSERT_PTR_NOT_NULL_FATAL(b.data);
		memset(b.data, ' ', b.len);
		memcpy(b.data, fx.cert_pem.data, fx.cert_pem.len);
		cert_bad(b.data, b.len, "larger than 65536 bytes", "oversize");
		blob_free(&b);
	}
}

static void test_cert_parse_chain(void)
{
	STACK_OF(X509) *sk = NULL;
	fixture();
	{
		blob b = cat3(fx.cert_pem.data, fx.cert_pem.len, fx.cert2_pem.data, fx.cert2_pem.len, "\n", 1);
		CU_ASSERT_EQUAL(sp_cert_parse_chain(b.data, b.len, &sk), SP_OK);
		CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
		CU_ASSERT_EQUAL(sk_X509_num(sk), 2);
		if (sk_X509_num(sk) == 2) {
			/* in file order */
			CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(sk, 0), fx.cert), 0);
			CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(sk, 1), fx.cert2), 0);
		}
		sk_X509_pop_free(sk, X509_free);
		sk = NULL;
		blob_free(&b);
	}
	CU_ASSERT_EQUAL(sp_cert_parse_chain(fx.cert_pem.data, fx.cert_pem.len, &sk), SP_OK);
	CU_ASSERT_EQUAL(sk_X509_num(sk), 1);
	sk_X509_pop_free(sk, X509_free);
	sk = NULL;
	{
		blob b = cat3(fx.cert_pem.data, fx.cert_pem.len, "junk\n", 5, NULL, 0);
		CU_ASSERT_EQUAL(sp_cert_parse_chain(b.data, b.len, &sk), SP_ERR_INPUT);
		CU_ASSERT(msg_has("certificate 2: expected a PEM 'CERTIFICATE' block first"));
		CU_ASSERT_PTR_NULL(sk);
		blob_free(&b);
	}
	CU_ASSERT_EQUAL(sp_cert_parse_chain(fx.cert_der.data, fx.cert_der.len, &sk), SP_ERR_INPUT);
	CU_ASSERT(msg_has("expected PEM"));
	CU_ASSERT_EQUAL(sp_cert_parse_chain((const uint8_t *)"", 0, &sk), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_cert_parse_chain((const uint8_t *)"   \n", 4, &sk), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(sk);
	CU_ASSERT_EQUAL(ERR_peek_error(), 0);
}

/* --------------------------------------------------------------- files */

static char *path_in(const char *dir, const char *name)
{
	static char buf[4][4096];
	static int next;
	char *b = buf[next++ % 4];
	CU_ASSERT_FATAL(sp_path_join(b, sizeof buf[0], dir, name) == SP_OK);
	return b;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
	CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
	close(fd);
}

static void expect_content(const char *path, const char *want, size_t len)
{
	uint8_t *d = NULL;
	size_t n = 0;
	CU_ASSERT_EQUAL_FATAL(sp_file_read(path, 1 << 20, &d, &n), SP_OK);
	CU_ASSERT_EQUAL(n, len);
	CU_ASSERT(n == len && memcmp(d, want, len) == 0);
	free(d);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	CU_ASSERT_FATAL(stat(path, &st) == 0);
	return st.st_mode & 07777;
}

static void test_write_atomic_mode(void)
{
	const char *dir = sp_unit_tmpdir();
	const char *key = path_in(dir, "key.pem"), *pub = path_in(dir, "ca.pem");
	mode_t old = umask(077);

	CU_ASSERT_EQUAL(sp_file_write_atomic(key, "secret", 6, 0600, 1), SP_OK);
	/* the requested mode exactly, whatever the umask */
	CU_ASSERT_EQUAL(sp_file_write_atomic(pub, "public", 6, 0644, 0), SP_OK);
	umask(old);
	CU_ASSERT_EQUAL(mode_of(key), 0600);
	CU_ASSERT_EQUAL(mode_of(pub), 0644);
	expect_content(key, "secret", 6);
	expect_content(pub, "public", 6);
	/* replaces an existing file; the new mode wins */
	CU_ASSERT_EQUAL(sp_file_write_atomic(pub, "v2", 2, 0600, 1), SP_OK);
	expect_content(pub, "v2", 2);
	CU_ASSERT_EQUAL(mode_of(pub), 0600);
	/* an empty file is a file */
	CU_ASSERT_EQUAL(sp_file_write_atomic(path_in(dir, "empty"), "", 0, 0600, 0), SP_OK);
	expect_content(path_in(dir, "empty"), "", 0);
	/* no temporary files left behind */
	CU_ASSERT_EQUAL(count_entries(dir), 3);
}

static void test_write_atomic_failure(void)
{
	const char *dir = sp_unit_tmpdir();
	const char *blocker = path_in(dir, "not-a-dir");

	/* unwritable directory: as root, permission bits do not stop us, so
	 * use them only when not root; a path under a regular file fails the
	 * same way for everyone */
	if (geteuid() != 0) {
		const char *ro = path_in(dir, "ro");
		CU_ASSERT_FATAL(mkdir(ro, 0500) == 0);
		CU_ASSERT_EQUAL(sp_file_write_atomic(path_in(ro, "f"), "x", 1, 0600, 1), SP_ERR_IO);
		CU_ASSERT(msg_has("cannot create a file beside"));
		CU_ASSERT_EQUAL(count_entries(ro), 0);
		chmod(ro, 0700);
		rmdir(ro);
	}
	write_file(blocker, "b", 1, 0600);
	CU_ASSERT_EQUAL(sp_file_write_atomic(path_in(blocker, "f"), "x", 1, 0600, 1), SP_ERR_IO);
	CU_ASSERT_EQUAL(sp_file_write_atomic(path_in(dir, "missing/f"), "x", 1, 0600, 1), SP_ERR_IO);

	/* rename fails (the target is a non-empty directory): the temporary
	 * file is removed and the target untouched */
	{
		const char *target = path_in(dir, "target");
		CU_ASSERT_FATAL(mkdir(target, 0700) == 0);
		write_file(path_in(target, "inside"), "keep", 4, 0600);
		CU_ASSERT_EQUAL(sp_file_write_atomic(target, "data", 4, 0600, 1), SP_ERR_IO);
		CU_ASSERT(msg_has("cannot rename into"));
		CU_ASSERT_EQUAL(count_entries(dir), 2); /* blocker, target */
		CU_ASSERT_EQUAL(count_entries(target), 1);
	}
}

/* A write that fails half-way (file size limit, as a full disk would) must
 * leave the old file whole and no temporary file. */
static void test_write_atomic_no_partial_file(void)
{
	const char *dir = sp_unit_tmpdir();
	const char *path = path_in(dir, "crl.pem");
	struct rlimit old, lim;
	char big[8192];
	sp_err rc;
	void (*oldsig)(int);

	memset(big, 'A', sizeof big);
	write_file(path, "old content", 11, 0644);
	CU_ASSERT_FATAL(getrlimit(RLIMIT_FSIZE, &old) == 0);
	lim = old;
	lim.rlim_cur = 1000;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	CU_ASSERT_FATAL(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	rc = sp_file_write_atomic(path, big, sizeof big, 0644, 1);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, oldsig);
	CU_ASSERT_EQUAL(rc, SP_ERR_IO);
	CU_ASSERT(msg_has("cannot write"));
	expect_content(path, "old content", 11);
	CU_ASSERT_EQUAL(count_entries(dir), 1);
}

static void test_file_read_limit(void)
{
	const char *dir = sp_unit_tmpdir();
	char buf[5000];
	uint8_t *d = (uint8_t *)buf;
	size_t n = 99;

	memset(buf, 'x', sizeof buf);
	write_file(path_in(dir, "exact"), buf, 4097, 0600);
	write_file(path_in(dir, "empty"), buf, 0, 0600);

	/* exactly the limit (across the 4096 growth step) is fine */
	CU_ASSERT_EQUAL(sp_file_read(path_in(dir, "exact"), 4097, &d, &n), SP_OK);
	CU_ASSERT_EQUAL(n, 4097);
	CU_ASSERT_EQUAL(d[4097], 0); /* NUL-terminated */
	free(d);
	/* one byte over is refused, naming the path and the limit */
	d = (uint8_t *)buf;
	CU_ASSERT_EQUAL(sp_file_read(path_in(dir, "exact"), 4096, &d, &n), SP_ERR_INPUT);
	CU_ASSERT(msg_has("exact: larger than the limit of 4096 bytes"));
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(sp_file_read(path_in(dir, "exact"), 0, &d, &n), SP_ERR_INPUT);
	/* empty file: a valid empty buffer */
	CU_ASSERT_EQUAL(sp_file_read(path_in(dir, "empty"), 10, &d, &n), SP_OK);
	CU_ASSERT_PTR_NOT_NULL(d);
	CU_ASSERT_EQUAL(n, 0);
	if (d)
		CU_ASSERT_EQUAL(d[0], 0);
	free(d);
	/* an endless file stops at the limit instead of eating memory */
	CU_ASSERT_EQUAL(sp_file_read("/dev/zero", 100000, &d, &n), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(d);
	/* missing */
	CU_ASSERT_EQUAL(sp_file_read(path_in(dir, "missing"), 10, &d, &n), SP_ERR_IO);
	CU_ASSERT(msg_has("missing"));
}

static void test_check_private(void)
{
	const char *dir = sp_unit_tmpdir();
	static const struct {
		mode_t mode;
		int ok;
	} cases[] = {{0600, 1}, {0400, 1}, {0700, 1}, {0640, 0}, {0604, 0}, {0660, 0}, {0644, 0}, {0602, 0}};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char name[32], want[16];
		const char *p;
		snprintf(name, sizeof name, "f%04o", (unsigned)cases[i].mode);
		p = path_in(dir, name);
		write_file(p, "k", 1, cases[i].mode);
		if (cases[i].ok) {
			CU_ASSERT_EQUAL(sp_file_check_private(p), SP_OK);
		} else {
			CU_ASSERT_EQUAL(sp_file_check_private(p), SP_ERR_PERM);
			snprintf(want, sizeof want, "mode %04o", (unsigned)cases[i].mode);
			CU_ASSERT(msg_has(want));
			CU_ASSERT(msg_has(name));
		}
	}
	CU_ASSERT_EQUAL(sp_file_check_private(dir), SP_ERR_PERM);
	CU_ASSERT(msg_has("not a regular file"));
	CU_ASSERT_EQUAL(sp_file_check_private(path_in(dir, "missing")), SP_ERR_IO);
}

/* ------------------------------------------------------------- secrets */

static void secret_file_ok(const char *content, size_t len, const char *want)
{
	const char *p = path_in(sp_unit_tmpdir(), "pass");
	sp_secret s = {NULL, 0};
	write_file(p, content, len, 0600);
	CU_ASSERT_EQUAL_FATAL(sp_secret_from_file(p, &s), SP_OK);
	CU_ASSERT_EQUAL(s.len, strlen(want));
	CU_ASSERT_STRING_EQUAL(s.buf, want);
	sp_secret_wipe(&s);
	CU_ASSERT_PTR_NULL(s.buf);
	CU_ASSERT_EQUAL(s.len, 0);
}

static void test_secret_from_file(void)
{
	const char *dir = sp_unit_tmpdir();
	sp_secret s = {NULL, 0};
	char big[1100];

	secret_file_ok("hunter2\n", 8, "hunter2");
	secret_file_ok("hunter2\r\n", 9, "hunter2");
	secret_file_ok("hunter2", 7, "hunter2");
	secret_file_ok("first\nsecond\n", 13, "first");
	secret_file_ok("  spaces kept \n", 15, "  spaces kept ");

	write_file(path_in(dir, "empty"), "", 0, 0600);
	CU_ASSERT_EQUAL(sp_secret_from_file(path_in(dir, "empty"), &s), SP_ERR_INPUT);
	CU_ASSERT(msg_has("is empty"));
	write_file(path_in(dir, "nl"), "\nsecond\n", 8, 0600);
	CU_ASSERT_EQUAL(sp_secret_from_file(path_in(dir, "nl"), &s), SP_ERR_INPUT);
	CU_ASSERT(msg_has("is empty"));
	CU_ASSERT_PTR_NULL(s.buf);
	/* readable by others: refused before it is read */
	write_file(path_in(dir, "open"), "hunter2\n", 8, 0644);
	CU_ASSERT_EQUAL(sp_secret_from_file(path_in(dir, "open"), &s), SP_ERR_PERM);
	CU_ASSERT(msg_has("0644"));
	CU_ASSERT_PTR_NULL(s.buf);
	/* over-long */
	memset(big, 'p', sizeof big);
	write_file(path_in(dir, "big"), big, sizeof big, 0600);
	CU_ASSERT_EQUAL(sp_secret_from_file(path_in(dir, "big"), &s), SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(s.buf);
	CU_ASSERT_EQUAL(sp_secret_from_file(path_in(dir, "missing"), &s), SP_ERR_IO);
	/* wiping an empty or already wiped secret is harmless */
	sp_secret_wipe(&s);
	sp_secret_wipe(&s);
	sp_secret_wipe(NULL);
}

static void test_secret_from_env(void)
{
	const char *var = "SITEPKI_UNIT_TEST_SECRET";
	sp_secret s = {NULL, 0};

	CU_ASSERT_FATAL(setenv(var, "correct horse", 1) == 0);
	CU_ASSERT_EQUAL(sp_secret_from_env(var, &s), SP_OK);
	CU_ASSERT_EQUAL(s.len, 13);
	if (s.buf)
		CU_ASSERT_STRING_EQUAL(s.buf, "correct horse");
	sp_secret_wipe(&s);

	CU_ASSERT_FATAL(setenv(var, "", 1) == 0);
	CU_ASSERT_EQUAL(sp_secret_from_env(var, &s), SP_ERR_INPUT);
	CU_ASSERT(msg_has(var));
	CU_ASSERT_PTR_NULL(s.buf);

	CU_ASSERT_FATAL(unsetenv(var) == 0);
	CU_ASSERT_EQUAL(sp_secret_from_env(var, &s), SP_ERR_INPUT);
	CU_ASSERT(msg_has("is not set"));
	CU_ASSERT_PTR_NULL(s.buf);
}

/* ----------------------------------------------------- encodings, time */

static void test_hex_normalise(void)
{
	char out[65];
	CU_ASSERT_EQUAL(sp_hex_normalise("AB:cd:01", out, sizeof out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out, "abcd01");
	CU_ASSERT_EQUAL(sp_hex_normalise("4A 5B 6C", out, sizeof out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out, "4a5b6c");
	CU_ASSERT_EQUAL(sp_hex_normalise("deadBEEF", out, sizeof out), SP_OK);
	CU_ASSERT_STRING_EQUAL(out, "deadbeef");

	CU_ASSERT_EQUAL(sp_hex_normalise("xyz", out, sizeof out), SP_ERR_INPUT);
	CU_ASSERT(msg_has("'xyz' is not a hex"));
	CU_ASSERT_EQUAL(sp_hex_normalise("0x12", out, sizeof out), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_hex_normalise("12-34", out, sizeof out), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_hex_normalise("12\n", out, sizeof out), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_hex_normalise("\xc3\xa9", out, sizeof out), SP_ERR_INPUT);
	CU_ASSERT_EQUAL(sp_hex_normalise("", out, sizeof out), SP_ERR_INPUT);
	CU_ASSERT(msg_has("empty"));
	CU_ASSERT_EQUAL(sp_hex_normalise(" : : ", out, sizeof out), SP_ERR_INPUT);
	/* fits exactly / one too many */
	CU_ASSERT_EQUAL(sp_hex_normalise("abcd", out, 5), SP_OK);
	CU_ASSERT_STRING_EQUAL(out, "abcd");
	CU_ASSERT_EQUAL(sp_hex_normalise("abcde", out, 5), SP_ERR_INPUT);
	CU_ASSERT(msg_has("too long"));
}

static void test_hex(void)
{
	static const uint8_t b[] = {0xAB, 0x01, 0xFF};
	char out[7];
	sp_hex(b, 3, out, 0);
	CU_ASSERT_STRING_EQUAL(out, "ab01ff");
	sp_hex(b, 3, out, 1);
	CU_ASSERT_STRING_EQUAL(out, "AB01FF");
	sp_hex(b, 0, out, 1);
	CU_ASSERT_STRING_EQUAL(out, "");
}

static void test_duration_parse(void)
{
	int64_t s = -1;
	CU_ASSERT_EQUAL(sp_duration_parse("30d", &s), SP_OK);
	CU_ASSERT_EQUAL(s, 30 * 86400);
	CU_ASSERT_EQUAL(sp_duration_parse("12h", &s), SP_OK);
	CU_ASSERT_EQUAL(s, 12 * 3600);
	CU_ASSERT_EQUAL(sp_duration_parse("2y", &s), SP_OK);
	CU_ASSERT_EQUAL(s, 2 * 365 * 86400);
	CU_ASSERT_EQUAL(sp_duration_parse("90m", &s), SP_OK);
	CU_ASSERT_EQUAL(s, 90 * 60);
	CU_ASSERT_EQUAL(sp_duration_parse("3600s", &s), SP_OK);
	CU_ASSERT_EQUAL(s, 3600);

	static const char *const bad[] = {"30", "d", "-1d", "30x", "", "30dd", "30d ", "3.5d", "30D",
					  "99999999999999999999d", "9223372036854775807s", "106751991167301d"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s = 42;
		CU_ASSERT_EQUAL(sp_duration_parse(bad[i], &s), SP_ERR_USAGE);
		CU_ASSERT_EQUAL(s, 42); /* untouched on failure */
		CU_ASSERT(msg_has("is not a duration"));
	}
}

static void test_time_helpers(void)
{
	char iso[32];
	int64_t t = 0;
	ASN1_TIME *a = ASN1_TIME_new();

	sp_time_iso(0, iso, sizeof iso);
	CU_ASSERT_STRING_EQUAL(iso, "1970-01-01T00:00:00Z");
	sp_time_iso(1700000000, iso, sizeof iso);
	CU_ASSERT_STRING_EQUAL(iso, "2023-11-14T22:13:20Z");

	CU_ASSERT_FATAL(a != NULL);
	CU_ASSERT_FATAL(ASN1_TIME_set_string(a, "491231235959Z")); /* UTCTime, 2049 */
	CU_ASSERT_EQUAL(sp_asn1_time_to_unix(a, &t), SP_OK);
	CU_ASSERT_EQUAL(t, (int64_t)2524607999);
	CU_ASSERT_FATAL(ASN1_TIME_set_string(a, "20500101000000Z")); /* GeneralizedTime */
	CU_ASSERT_EQUAL(sp_asn1_time_to_unix(a, &t), SP_OK);
	CU_ASSERT_EQUAL(t, (int64_t)2524608000);
	CU_ASSERT_EQUAL(sp_asn1_time_to_unix(NULL, &t), SP_ERR_INPUT);
	ASN1_TIME_free(a);
}

static void serial_case(const uint8_t *bytes, size_t n, int negative, const char *want, size_t outsz)
{
	ASN1_INTEGER *ai = ASN1_INTEGER_new();
	char out[64];
	sp_err rc;
	CU_ASSERT_FATAL(ai && ASN1_STRING_set(ai, bytes, (int)n));
	if (negative)
		ai->type = V_ASN1_NEG_INTEGER;
	memset(out, '#', sizeof out);
	rc = sp_serial_hex(ai, out, outsz);
	if (want) {
		CU_ASSERT_EQUAL(rc, SP_OK);
		if (rc == SP_OK)
			CU_ASSERT_STRING_EQUAL(out, want);
	} else {
		CU_ASSERT_EQUAL(rc, SP_ERR_INPUT);
		CU_ASSERT(out[0] == '#'); /* nothing written */
	}
	ASN1_INTEGER_free(ai);
}

static void test_serial_hex(void)
{
	uint8_t b[21];
	for (size_t i = 0; i < sizeof b; i++)
		b[i] = (uint8_t)(0xA0 + i);
	serial_case((const uint8_t *)"\x01\x02", 2, 0, "0102", 41);
	serial_case((const uint8_t *)"\x4a\xbc", 2, 0, "4ABC", 41);
	/* a sitepki serial: 16 bytes, upper case, 32 digits */
	serial_case((const uint8_t *)"\x40\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\xff", 16, 0,
		    "400102030405060708090A0B0C0D0EFF", 41);
	/* RFC 5280 4.1.2.2: at most 20 octets */
	serial_case(b, 20, 0, "A0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3", 41);
	serial_case(b, 21, 0, NULL, 41);
	serial_case((const uint8_t *)"\x05", 1, 1, NULL, 41);
	serial_case((const uint8_t *)"\x4a\xbc", 2, 0, NULL, 4); /* no room */
}

static void test_cert_digests(void)
{
	char h256[65], h1[41], want[65];
	uint8_t md[32];
	fixture();
	CU_ASSERT_EQUAL(sp_cert_sha256_hex(fx.cert, h256), SP_OK);
	sp_sha256(fx.cert_der.data, fx.cert_der.len, md);
	sp_hex(md, 32, want, 0);
	CU_ASSERT_STRING_EQUAL(h256, want);
	CU_ASSERT_EQUAL(sp_cert_sha1_hex(fx.cert, h1), SP_OK);
	CU_ASSERT_EQUAL(strlen(h1), 40);
}

static void test_path_join(void)
{
	char out[8];
	CU_ASSERT_EQUAL(sp_path_join(out, sizeof out, "ab", "cd"), SP_OK);
	CU_ASSERT_STRING_EQUAL(out, "ab/cd");
	CU_ASSERT_EQUAL(sp_path_join(out, sizeof out, "abc", "defg"), SP_ERR_INPUT); /* 8 + NUL */
	CU_ASSERT(msg_has("path too long"));
}

/* ---------------------------------------------------------------- errors */

static void test_fail_one_line(void)
{
	CU_ASSERT_EQUAL(sp_fail(SP_ERR_POLICY, "a\nb\r\nc\td %s", "x\ny"), SP_ERR_POLICY);
	CU_ASSERT_STRING_EQUAL(sp_last_error(), "a b  c d x y");
	sp_clear_error();
	CU_ASSERT_STRING_EQUAL(sp_last_error(), "");
	{
		/* longer than the buffer: truncated, still terminated */
		char big[3000];
		memset(big, 'm', sizeof big - 1);
		big[sizeof big - 1] = 0;
		CU_ASSERT_EQUAL(sp_fail(SP_ERR_INPUT, "%s", big), SP_ERR_INPUT);
		CU_ASSERT(strlen(sp_last_error()) > 100 && strlen(sp_last_error()) < sizeof big - 1);
	}
}

static void test_fail_ossl(void)
{
	const unsigned char junk[] = {0x30, 0x03, 0x02, 0x01};
	const unsigned char *p = junk;
	X509 *x;

	/* put a real OpenSSL error on the queue */
	ERR_clear_error();
	x = d2i_X509(NULL, &p, sizeof junk);
	CU_ASSERT_PTR_NULL(x);
	CU_ASSERT_NOT_EQUAL_FATAL(ERR_peek_error(), 0);
	CU_ASSERT_EQUAL(sp_fail_ossl(SP_ERR_CRYPTO, "parsing %s", "thing"), SP_ERR_CRYPTO);
	CU_ASSERT(strncmp(sp_last_error(), "parsing thing: ", 15) == 0);
	CU_ASSERT(strlen(sp_last_error()) > 15);
	CU_ASSERT(strchr(sp_last_error(), '\n') == NULL);
	CU_ASSERT_EQUAL(ERR_peek_error(), 0); /* queue drained */

	/* nothing queued: the message alone */
	CU_ASSERT_EQUAL(sp_fail_ossl(SP_ERR_CRYPTO, "alone"), SP_ERR_CRYPTO);
	CU_ASSERT_STRING_EQUAL(sp_last_error(), "alone");
}

static void *other_thread(void *arg)
{
	(void)arg;
	(void)sp_fail(SP_ERR_IO, "from the other thread");
	return NULL;
}

static void test_error_per_thread(void)
{
	pthread_t th;
	(void)sp_fail(SP_ERR_POLICY, "mine");
	CU_ASSERT_FATAL(pthread_create(&th, NULL, other_thread, NULL) == 0);
	pthread_join(th, NULL);
	CU_ASSERT_STRING_EQUAL(sp_last_error(), "mine");
}

static void test_err_name(void)
{
	CU_ASSERT_STRING_EQUAL(sp_err_name(SP_OK), "ok");
	CU_ASSERT_STRING_EQUAL(sp_err_name(SP_ERR_POLICY), "policy");
	CU_ASSERT_STRING_EQUAL(sp_err_name(SP_ERR_DB), "store");
	CU_ASSERT_STRING_EQUAL(sp_err_name(SP_ERR_INPUT), "bad input");
	CU_ASSERT_STRING_EQUAL(sp_err_name((sp_err)999), "unknown error");
	/* exit codes are documented: never renumbered */
	CU_ASSERT_EQUAL(SP_ERR_USAGE, 2);
	CU_ASSERT_EQUAL(SP_ERR_POLICY, 6);
	CU_ASSERT_EQUAL(SP_ERR_AUTH, 14);
	/* every code has its own non-empty name */
	for (int a = 0; a <= SP_ERR_AUTH; a++) {
		CU_ASSERT(sp_err_name((sp_err)a)[0] != '\0');
		CU_ASSERT_STRING_NOT_EQUAL(sp_err_name((sp_err)a), "unknown error");
		for (int b = a + 1; b <= SP_ERR_AUTH; b++)
			CU_ASSERT_STRING_NOT_EQUAL(sp_err_name((sp_err)a), sp_err_name((sp_err)b));
	}
}

/* ----------------------------------------------------------------- table */

/* A DER CSR for key k, signed with it; NULL-free or the test stops. */
static uint8_t *csr_der_for(EVP_PKEY *k, size_t *len)
{
	X509_REQ *r = X509_REQ_new();
	uint8_t *der = NULL;
	int n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_FATAL(X509_REQ_set_pubkey(r, k) == 1);
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
						   (const unsigned char *)"key.example", -1, -1, 0) == 1);
	CU_ASSERT_FATAL(X509_REQ_sign(r, k, EVP_sha256()) > 0);
	n = i2d_X509_REQ(r, &der);
	CU_ASSERT_FATAL(n > 0);
	X509_REQ_free(r);
	*len = (size_t)n;
	return der;
}

/* sp_req_get1_pubkey: the same key as OpenSSL's own decoding for every key
 * kind, whichever way it takes (the named-curve EC path or the decoder),
 * and a point that is not on its curve is refused. */
static void test_req_pubkey_kinds(void)
{
	static const struct {
		const char *alg, *curve;
		int compressed;
	} kinds[] = {
		{"EC", "P-256", 0}, {"EC", "P-384", 0}, {"EC", "P-521", 0}, {"EC", "P-256", 1},
		{"EC", "secp256k1", 0}, {"RSA", NULL, 0},
	};

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		EVP_PKEY *k = kinds[i].curve ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", kinds[i].curve)
					     : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		EVP_PKEY *got = NULL;
		X509_REQ *r = NULL;
		uint8_t *der;
		size_t len;

		CU_ASSERT_PTR_NOT_NULL_FATAL(k);
		if (kinds[i].compressed)
			CU_ASSERT_FATAL(EVP_PKEY_set_utf8_string_param(k, "point-format", "compressed") == 1);
		der = csr_der_for(k, &len);
		CU_ASSERT_EQUAL_FATAL(sp_req_parse(der, len, &r), SP_OK);
		CU_ASSERT_EQUAL(sp_req_get1_pubkey(r, &got), SP_OK);
		if (!got || EVP_PKEY_eq(got, k) != 1)
			printf("\n    %s %s: not the CSR's key", kinds[i].alg, kinds[i].curve ? kinds[i].curve : "");
		CU_ASSERT(got && EVP_PKEY_eq(got, k) == 1);
		CU_ASSERT(got && EVP_PKEY_get_bits(got) == EVP_PKEY_get_bits(k));
		CU_ASSERT(got && X509_REQ_verify_ex(r, got, NULL, NULL) == 1);
		EVP_PKEY_free(got);
		got = NULL;
		X509_REQ_free(r);
		r = NULL;

		if (kinds[i].curve && !kinds[i].compressed) {
			/* flip a bit of the point's x: no longer on the curve */
			unsigned char pt[200];
			size_t pt_len = 0;
			uint8_t *at;
			CU_ASSERT_FATAL(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pt, sizeof pt, &pt_len) == 1);
			at = NULL;
			for (size_t o = 0; !at && o + pt_len <= len; o++)
				if (!memcmp(der + o, pt, pt_len))
					at = der + o;
			CU_ASSERT_PTR_NOT_NULL_FATAL(at);
			at[5] ^= 0x01;
			CU_ASSERT_EQUAL_FATAL(sp_req_parse(der, len, &r), SP_OK);
			CU_ASSERT_EQUAL(sp_req_get1_pubkey(r, &got), SP_ERR_INPUT);
			CU_ASSERT_PTR_NULL(got);
			CU_ASSERT(msg_has("public key"));
			EVP_PKEY_free(got);
			X509_REQ_free(r);
		}
		OPENSSL_free(der);
		EVP_PKEY_free(k);
	}
}

static const sp_unit_test parse_tests[] = {
	{"CSR: PEM, DER, white space, size limit", test_req_parse_good},
	{"CSR: trailing, leading, truncated, oversize refused", test_req_parse_bad},
	{"CSR: PEM reader must not skip text or other blocks", test_req_parse_pem_skipping},
	{"CSR public key: EC named curves (both point forms), other curves, RSA; off-curve point", test_req_pubkey_kinds},
	{"certificate: PEM/DER ok, bad input refused", test_cert_parse},
	{"certificate: PEM reader must not skip text or other blocks", test_cert_parse_pem_skipping},
	{"certificate chain", test_cert_parse_chain},
	{"digests", test_cert_digests},
	{NULL, NULL},
};

static const sp_unit_test file_tests[] = {
	{"atomic write: mode and content", test_write_atomic_mode},
	{"atomic write: failures leave nothing", test_write_atomic_failure},
	{"atomic write: no partial file", test_write_atomic_no_partial_file},
	{"bounded read", test_file_read_limit},
	{"private file check", test_check_private},
	{"path join", test_path_join},
	{NULL, NULL},
};

static const sp_unit_test secret_tests[] = {
	{"secret from file", test_secret_from_file},
	{"secret from env", test_secret_from_env},
	{NULL, NULL},
};

static const sp_unit_test encoding_tests[] = {
	{"hex normalise", test_hex_normalise},
	{"hex", test_hex},
	{"duration parse", test_duration_parse},
	{"time helpers", test_time_helpers},
	{"serial hex", test_serial_hex},
	{NULL, NULL},
};

static const sp_unit_test error_tests[] = {
	{"sp_fail is one line", test_fail_one_line},
	{"sp_fail_ossl drains the queue", test_fail_ossl},
	{"last error is per thread", test_error_per_thread},
	{"sp_err_name", test_err_name},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"common.parse", parse_tests},
	{"common.files", file_tests},
	{"common.secrets", secret_tests},
	{"common.encoding", encoding_tests},
	{"common.errors", error_tests},
	{NULL, NULL},
};
