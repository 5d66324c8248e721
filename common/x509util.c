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
static int is_pem(const uint8_t *data, size_t len)
{
	size_t i = skip_space(data, len);
	return len - i >= 11 && memcmp(data + i, "-----BEGIN ", 11) == 0;
}

/* Bytes the PEM reader left unread in a memory BIO must be white space. */
static int bio_rest_is_space(BIO *b)
{
	char *rest = NULL;
	long n = BIO_get_mem_data(b, &rest);
	return n <= 0 || only_space((const uint8_t *)rest, (size_t)n);
}

sp_err sp_req_parse(const uint8_t *data, size_t len, X509_REQ **out)
{
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	const unsigned char *p;
	long der_len = 0;
	int pem = 0;

	*out = NULL;
	if (len == 0)
		return sp_fail(SP_ERR_INPUT, "CSR: empty input");
	if (len > SP_MAX_CSR_BYTES)
		return sp_fail(SP_ERR_INPUT, "CSR: larger than %d bytes", SP_MAX_CSR_BYTES);
	if (is_pem(data, len)) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		char *name = NULL, *header = NULL;
		int ok;
		if (!b)
			return sp_fail_ossl(SP_ERR_NOMEM, "CSR");
		/* The first PEM block must be the request: PEM_bytes_read_bio()
		 * would skip blocks with other labels. */
		ok = PEM_read_bio(b, &name, &header, &der, &der_len) == 1;
		if (ok && strcmp(name, PEM_STRING_X509_REQ) != 0 && strcmp(name, PEM_STRING_X509_REQ_OLD) != 0) {
			sp_fail(SP_ERR_INPUT, "CSR: the PEM block is a '%.40s', not a CERTIFICATE REQUEST", name);
			ok = 0;
		} else if (ok && header && header[0]) {
			sp_fail(SP_ERR_INPUT, "CSR: PEM headers (encryption) are not allowed");
			ok = 0;
		} else if (ok && !bio_rest_is_space(b)) {
			sp_fail(SP_ERR_INPUT, "CSR: trailing data after the PEM block");
			ok = 0;
		} else if (!ok) {
			sp_fail_ossl(SP_ERR_INPUT, "CSR: not a valid PEM block");
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		BIO_free(b);
		if (!ok) {
			OPENSSL_free(der);
			ERR_clear_error();
			return SP_ERR_INPUT;
		}
		pem = 1;
		data = der;
		len = (size_t)der_len;
	}
	/* the decoder-less context: see common/req_key.c */
	p = data;
	req = (X509_REQ *)ASN1_item_d2i_ex(NULL, &p, (long)len, ASN1_ITEM_rptr(X509_REQ), sp_req_parse_libctx(), NULL);
	if (!req) {
		OPENSSL_free(der);
		return sp_fail_ossl(SP_ERR_INPUT, pem ? "CSR: the PEM block is not a valid certificate request"
						      : "CSR: neither PEM nor a valid DER certificate request");
	}
	if ((size_t)(p - data) != len) {
		size_t extra = len - (size_t)(p - data);
		X509_REQ_free(req);
		OPENSSL_free(der);
		ERR_clear_error();
		return sp_fail(SP_ERR_INPUT, "CSR: %zu trailing bytes after the DER request", extra);
	}
	OPENSSL_free(der);
	ERR_clear_error(); /* the skipped key decode leaves a note on the queue */
	*out = req;
	return SP_OK;
}

sp_err sp_cert_parse(const uint8_t *data, size_t len, X509 **out)
{
	X509 *x = NULL;
	*out = NULL;
	if (len == 0)
		return sp_fail(SP_ERR_INPUT, "certificate: empty input");
	if (len > SP_MAX_CERT_BYTES)
		return sp_fail(SP_ERR_INPUT, "certificate: larger than %d bytes", SP_MAX_CERT_BYTES);
	if (is_pem(data, len)) {
		BIO *b = BIO_new_mem_buf(data, (int)len);
		if (!b)
			return sp_fail_ossl(SP_ERR_NOMEM, "certificate");
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (x && !bio_rest_is_space(b)) {
			BIO_free(b);
			X509_free(x);
			return sp_fail(SP_ERR_INPUT, "certificate: trailing data after the PEM block");
		}
		BIO_free(b);
		if (!x)
			return sp_fail_ossl(SP_ERR_INPUT, "certificate: not a valid PEM certificate");
	} else {
		const unsigned char *p = data;
		x = d2i_X509(NULL, &p, (long)len);
		if (!x)
			return sp_fail_ossl(SP_ERR_INPUT, "certificate: neither PEM nor valid DER");
		if ((size_t)(p - data) != len) {
			X509_free(x);
			return sp_fail(SP_ERR_INPUT, "certificate: %zu trailing bytes after the DER",
				       len - (size_t)(p - data));
		}
	}
	*out = x;
	return SP_OK;
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
	for (;;) {
		X509 *x;
		if (bio_rest_is_space(b))
			break;
		x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (!x) {
			rc = sp_fail_ossl(SP_ERR_INPUT, "certificate chain: certificate %d is not valid PEM",
					  sk_X509_num(sk) + 1);
			goto out;
		}
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
