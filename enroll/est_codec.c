/*
 * est_codec.c - the encodings EST bodies use: base64 (RFC 7030 4: "base64
 * encoding ... line breaks allowed"; RFC 8951 confirms bodies are base64
 * whatever Content-Transfer-Encoding says) and the certs-only PKCS#7.
 *
 * Base64 itself is OpenSSL's (EVP_DecodeUpdate / EVP_EncodeBlock); this file
 * only removes the line breaks first, so that one-line and wrapped bodies
 * are the same to the decoder, and refuses anything else that is not base64.
 */
#include "enroll/est.h"

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <stdlib.h>
#include <string.h>

sp_err sp_est_b64_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	EVP_ENCODE_CTX *ctx = NULL;
	char *clean = NULL;
	uint8_t *buf = NULL;
	size_t n = 0, i;
	int a = 0, b = 0;
	sp_err rc;

	*out = NULL;
	*out_len = 0;
	if (len > INT32_MAX / 2)
		return sp_fail(SP_ERR_INPUT, "body too large to decode");
	if (!(clean = malloc(len + 1)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	for (i = 0; i < len; i++) {
		uint8_t c = in[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		/* EVP_DecodeUpdate treats '-' as the end of the data and skips
		 * some other bytes: accept exactly the base64 alphabet. */
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
		      c == '/' || c == '=')) {
			rc = sp_fail(SP_ERR_INPUT, "body is not base64 (byte 0x%02x at offset %zu)", c, i);
			goto out;
		}
		clean[n++] = (char)c;
	}
	if (n == 0 || n % 4 != 0) {
		rc = sp_fail(SP_ERR_INPUT, "body is not base64 (%zu base64 characters, not a multiple of 4)", n);
		goto out;
	}
	if (!(buf = malloc(n / 4 * 3 + 1)) || !(ctx = EVP_ENCODE_CTX_new())) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	EVP_DecodeInit(ctx);
	if (EVP_DecodeUpdate(ctx, buf, &a, (unsigned char *)clean, (int)n) < 0 || EVP_DecodeFinal(ctx, buf + a, &b) < 0) {
		rc = sp_fail(SP_ERR_INPUT, "body is not base64 (bad padding)");
		goto out;
	}
	*out = buf;
	*out_len = (size_t)a + (size_t)b;
	buf = NULL;
	rc = SP_OK;
out:
	EVP_ENCODE_CTX_free(ctx);
	free(clean);
	free(buf);
	return rc;
}

sp_err sp_est_b64_encode(const uint8_t *in, size_t len, char **out, size_t *out_len)
{
	size_t lines, cap, pos = 0, off;
	char *s;

	*out = NULL;
	*out_len = 0;
	if (len > INT32_MAX / 2)
		return sp_fail(SP_ERR_INPUT, "too large to encode");
	/* 48 input bytes -> one 64-column line + CRLF. */
	lines = (len + 47) / 48;
	cap = lines * 66 + 1;
	if (!(s = malloc(cap)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	for (off = 0; off < len; off += 48) {
		size_t chunk = len - off < 48 ? len - off : 48;
		pos += (size_t)EVP_EncodeBlock((unsigned char *)s + pos, in + off, (int)chunk);
		s[pos++] = '\r';
		s[pos++] = '\n';
	}
	s[pos] = '\0';
	*out = s;
	*out_len = pos;
	return SP_OK;
}

sp_err sp_est_certs_only(STACK_OF(X509) *certs, uint8_t **der, size_t *len)
{
	PKCS7 *p7 = NULL;
	unsigned char *buf = NULL;
	int n, i;
	sp_err rc;

	*der = NULL;
	*len = 0;
	/* A degenerate SignedData: no signers, no content, the certificates
	 * only (RFC 7030 4.1.3; RFC 5652 5.2 with eContentType id-data). */
	if (!(p7 = PKCS7_new()) || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the certs-only PKCS#7");
		goto out;
	}
	/* eContent absent, not an empty OCTET STRING (RFC 5272 4.1; what
	 * `openssl crl2pkcs7 -nocrl` writes) */
	ASN1_OCTET_STRING_free(p7->d.sign->contents->d.data);
	p7->d.sign->contents->d.data = NULL;
	for (i = 0; i < sk_X509_num(certs); i++) {
		if (!PKCS7_add_certificate(p7, sk_X509_value(certs, i))) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the certs-only PKCS#7");
			goto out;
		}
	}
	if ((n = i2d_PKCS7(p7, &buf)) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding the certs-only PKCS#7");
		goto out;
	}
	if (!(*der = malloc((size_t)n))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*der, buf, (size_t)n);
	*len = (size_t)n;
	rc = SP_OK;
out:
	OPENSSL_free(buf);
	PKCS7_free(p7);
	return rc;
}
