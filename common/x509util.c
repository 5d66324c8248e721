/* x509util.c - strict parsing of CSRs and certificates (exactly one object,
 * no trailing bytes), fingerprints, serials and names. */
#include "common/common.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static int only_space(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

static size_t skip_space(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
		i++;
	return i;
}

/* PEM input starts (after white space) with "-----BEGIN "; OpenSSL's PEM
 * reader would skip arbitrary leading text, which we do not accept. */
/* RFC 7468 2: text before the encapsulation boundary is allowed (openssl
 * x509 -text, pkcs7 -print_certs "subject=" lines). Offset of the first line
 * that starts "-----BEGIN ", when everything before it is printable text;
 * else (DER, binary) len. */
static size_t pem_start(const uint8_t *data, size_t len)
{
	size_t i = skip_space(data, len), line = i;

	for (; i < len; i++) {
		if (i == line && len - i >= 11 && memcmp(data + i, "-----BEGIN ", 11) == 0)
			return i;
		if (data[i] == '\n')
			line = i + 1;
		else if (data[i] != '\r' && data[i] != '\t' && (data[i] < 0x20 || data[i] > 0x7e))
			return len;
	}
	return len;
}

static int is_pem(const uint8_t *data, size_t len)
{
	return pem_start(data, len) < len;
}

/* Bytes the PEM reader left unread in a memory BIO must be white space. */
static int bio_rest_is_space(BIO *b)
{
	char *rest = NULL;
	long n = BIO_get_mem_data(b, &rest);
	return n <= 0 || only_space((const uint8_t *)rest, (size_t)n);
}

/* Read the PEM block that starts the unread part of `b`. OpenSSL's PEM reader
 * skips text and blocks it does not want until it finds one it does; we do
 * not: after explanatory text the first BEGIN line must be "-----BEGIN <label>-----"
 * with one of `labels`, and the block may carry no headers (encryption). */
static sp_err pem_block(BIO *b, const char *const *labels, const char *what, unsigned char **der, long *der_len)
{
	char *rest = NULL, *name = NULL, *header = NULL;
	long n = BIO_get_mem_data(b, &rest);
	/* explanatory text before the first block is allowed (RFC 7468 2);
	 * PEM_read_bio skips it the same way, to the first BEGIN line */
	size_t i = n > 0 ? pem_start((const uint8_t *)rest, (size_t)n) : 0;
	const char *label = NULL;
	sp_err rc = SP_ERR_INPUT;

	*der = NULL;
	*der_len = 0;
	for (int k = 0; labels[k] && !label; k++) {
		char begin[96];
		size_t bl = (size_t)snprintf(begin, sizeof begin, "-----BEGIN %s-----", labels[k]);
		if ((size_t)n - i > bl && !memcmp(rest + i, begin, bl) && (rest[i + bl] == '\n' || rest[i + bl] == '\r'))
			label = labels[k];
	}
	if (!label)
		return sp_fail(SP_ERR_INPUT, "%s: expected a PEM '%s' block first", what, labels[0]);
	if (PEM_read_bio(b, &name, &header, der, der_len) != 1) {
		rc = sp_fail_ossl(SP_ERR_INPUT, "%s: malformed PEM block", what);
	} else if (strcmp(name, label) != 0) {
		rc = sp_fail(SP_ERR_INPUT, "%s: malformed PEM block", what);
	} else if (header && header[0]) {
		rc = sp_fail(SP_ERR_INPUT, "%s: PEM headers (encryption) are not allowed", what);
	} else {
		rc = SP_OK;
	}
	OPENSSL_free(name);
	OPENSSL_free(header);
	if (rc != SP_OK) {
		OPENSSL_free(*der);
		*der = NULL;
	}
	ERR_clear_error();
	return rc;
}

/* PEM input: the bytes of exactly one block of `labels`, nothing but white
 * space around it. DER input: returned as is. *own is what to free. */
static sp_err unwrap(const uint8_t **data, size_t *len, const char *const *labels, const char *what,
		     unsigned char **own)
{
	BIO *b;
	long der_len = 0;
	sp_err rc;

	*own = NULL;
	if (!is_pem(*data, *len))
		return SP_OK;
	if (!(b = BIO_new_mem_buf(*data, (int)*len)))
		return sp_fail_ossl(SP_ERR_NOMEM, "%s", what);
	rc = pem_block(b, labels, what, own, &der_len);
	if (rc == SP_OK && !bio_rest_is_space(b)) {
		OPENSSL_free(*own);
		*own = NULL;
		rc = sp_fail(SP_ERR_INPUT, "%s: trailing data after the PEM block", what);
	}
	BIO_free(b);
	if (rc == SP_OK) {
		*data = *own;
		*len = (size_t)der_len;
	}
	return rc;
}

static const char *const req_labels[] = {PEM_STRING_X509_REQ, PEM_STRING_X509_REQ_OLD, NULL};
static const char *const cert_labels[] = {PEM_STRING_X509, NULL};

sp_err sp_req_parse(const uint8_t *data, size_t len, X509_REQ **out)
{
	X509_REQ *req = NULL;
	unsigned char *own = NULL;
	const unsigned char *p;
	sp_err rc;

	*out = NULL;
	if (len == 0)
		return sp_fail(SP_ERR_INPUT, "CSR: empty input");
	if (len > SP_MAX_CSR_BYTES)
		return sp_fail(SP_ERR_INPUT, "CSR: larger than %d bytes", SP_MAX_CSR_BYTES);
	if ((rc = unwrap(&data, &len, req_labels, "CSR", &own)) != SP_OK)
		return rc;
	/* the decoder-less context: see common/req_key.c */
	p = data;
	req = (X509_REQ *)ASN1_item_d2i_ex(NULL, &p, (long)len, ASN1_ITEM_rptr(X509_REQ), sp_req_parse_libctx(), NULL);
	if (!req) {
		rc = sp_fail_ossl(SP_ERR_INPUT, own ? "CSR: the PEM block is not a valid certificate request"
						    : "CSR: neither PEM nor a valid DER certificate request");
	} else if ((size_t)(p - data) != len) {
		rc = sp_fail(SP_ERR_INPUT, "CSR: %zu trailing bytes after the DER request", len - (size_t)(p - data));
		X509_REQ_free(req);
		req = NULL;
	}
	OPENSSL_free(own);
	ERR_clear_error(); /* the skipped key decode leaves a note on the queue */
	*out = req;
	return req ? SP_OK : rc;
}

static sp_err cert_parse(const uint8_t *data, size_t len, int nokey, X509 **out)
{
	X509 *x = NULL;
	unsigned char *own = NULL;
	const unsigned char *p;
	sp_err rc;

	*out = NULL;
	if (len == 0)
		return sp_fail(SP_ERR_INPUT, "certificate: empty input");
	if (len > SP_MAX_CERT_BYTES)
		return sp_fail(SP_ERR_INPUT, "certificate: larger than %d bytes", SP_MAX_CERT_BYTES);
	if ((rc = unwrap(&data, &len, cert_labels, "certificate", &own)) != SP_OK)
		return rc;
	p = data;
	x = nokey ? (X509 *)ASN1_item_d2i_ex(NULL, &p, (long)len, ASN1_ITEM_rptr(X509), sp_req_parse_libctx(), NULL)
		  : d2i_X509(NULL, &p, (long)len);
	if (!x) {
		rc = sp_fail_ossl(SP_ERR_INPUT, own ? "certificate: the PEM block is not a valid certificate"
						    : "certificate: neither PEM nor valid DER");
	} else if ((size_t)(p - data) != len) {
		rc = sp_fail(SP_ERR_INPUT, "certificate: %zu trailing bytes after the DER", len - (size_t)(p - data));
		X509_free(x);
		x = NULL;
	}
	OPENSSL_free(own);
	ERR_clear_error();
	*out = x;
	return x ? SP_OK : rc;
}

sp_err sp_cert_parse(const uint8_t *data, size_t len, X509 **out)
{
	return cert_parse(data, len, 0, out);
}

sp_err sp_cert_parse_nokey(const uint8_t *data, size_t len, X509 **out)
{
	return cert_parse(data, len, 1, out);
}

sp_err sp_cert_parse_chain(const uint8_t *data, size_t len, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk = NULL;
	BIO *b = NULL;
	sp_err rc = SP_ERR_INPUT;

	*out = NULL;
	if (len > 16 * SP_MAX_CERT_BYTES)
		return sp_fail(SP_ERR_INPUT, "certificate chain: too large");
	if (!is_pem(data, len))
		return sp_fail(SP_ERR_INPUT, "certificate chain: expected PEM certificates");
	if (!(sk = sk_X509_new_null()) || !(b = BIO_new_mem_buf(data, (int)len))) {
		rc = sp_fail_ossl(SP_ERR_NOMEM, "certificate chain");
		goto out;
	}
	while (!bio_rest_is_space(b)) {
		unsigned char *der = NULL;
		const unsigned char *p;
		long der_len = 0;
		char what[64];
		X509 *x;
		snprintf(what, sizeof what, "certificate chain, certificate %d", sk_X509_num(sk) + 1);
		if ((rc = pem_block(b, cert_labels, what, &der, &der_len)) != SP_OK)
			goto out;
		p = der;
		x = d2i_X509(NULL, &p, der_len);
		if (!x || p != der + der_len) {
			X509_free(x);
			OPENSSL_free(der);
			rc = sp_fail_ossl(SP_ERR_INPUT, "%s: not a valid certificate", what);
			goto out;
		}
		OPENSSL_free(der);
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			rc = sp_fail_ossl(SP_ERR_NOMEM, "certificate chain");
			goto out;
		}
	}
	if (sk_X509_num(sk) == 0) {
		rc = sp_fail(SP_ERR_INPUT, "certificate chain: no certificate found");
		goto out;
	}
	*out = sk;
	sk = NULL;
	rc = SP_OK;
out:
	BIO_free(b);
	sk_X509_pop_free(sk, X509_free);
	return rc;
}

static sp_err cert_digest_hex(X509 *cert, const EVP_MD *md, char *out, size_t mdlen)
{
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!X509_digest(cert, md, buf, &n) || n != mdlen)
		return sp_fail_ossl(SP_ERR_CRYPTO, "certificate digest");
	sp_hex(buf, n, out, 0);
	return SP_OK;
}

sp_err sp_cert_sha256_hex(X509 *cert, char out[65])
{
	return cert_digest_hex(cert, EVP_sha256(), out, 32);
}

sp_err sp_cert_sha1_hex(X509 *cert, char out[41])
{
	/* SHA-1 only as an identifier administrators copy from Windows, never
	 * for signatures. */
	return cert_digest_hex(cert, EVP_sha1(), out, 20);
}

sp_err sp_serial_hex(const ASN1_INTEGER *serial, char *out, size_t outsz)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	char *hex;
	sp_err rc = SP_OK;
	if (!bn)
		return sp_fail_ossl(SP_ERR_INPUT, "serial number");
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (!hex)
		return sp_fail_ossl(SP_ERR_NOMEM, "serial number");
	if (hex[0] == '-' || strlen(hex) + 1 > outsz)
		rc = sp_fail(SP_ERR_INPUT, "serial number %s is negative or longer than 20 bytes", hex);
	else
		memcpy(out, hex, strlen(hex) + 1);
	OPENSSL_free(hex);
	return rc;
}

void sp_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;
	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
		memset(out, 0, 32);
}

char *sp_name_oneline(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *res = NULL;
	long n;
	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(b, &p);
		if (n >= 0 && (res = malloc((size_t)n + 1))) {
			if (n > 0) /* an empty BIO has no buffer: p is NULL */
				memcpy(res, p, (size_t)n);
			res[n] = '\0';
		}
	}
	BIO_free(b);
	return res;
}

sp_err sp_cert_to_pem(X509 *cert, char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	*pem = NULL;
	*len = 0;
	if (!b || !PEM_write_bio_X509(b, cert)) {
		BIO_free(b);
		return sp_fail_ossl(SP_ERR_CRYPTO, "PEM encoding");
	}
	n = BIO_get_mem_data(b, &p);
	if (n <= 0 || !(*pem = malloc((size_t)n + 1))) {
		BIO_free(b);
		return sp_fail(SP_ERR_NOMEM, "PEM encoding: out of memory");
	}
	memcpy(*pem, p, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	return SP_OK;
}
