/*
 * test_est_codec.c - the encodings of EST bodies (enroll/est_codec.c) and the
 * per-client rate limit of the service (enroll/ratelimit.c).
 *
 * What is judged:
 *  - sp_est_b64_encode / sp_est_b64_decode over random inputs of every
 *    length 0..300, with OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock (one
 *    call over the whole input, no line handling) as the oracle: the encoder
 *    is the oracle's text cut into 64-column lines, each ending in CRLF; the
 *    decoder takes that, the one-line form, LF-only lines and blanks
 *    anywhere, and refuses every byte outside the alphabet (NUL and 0x80
 *    included), a length that is not a multiple of 4, padding in the middle
 *    and empty input;
 *  - sp_est_certs_only: what d2i_PKCS7 reads back is a SignedData with no
 *    signers, id-data content without data, and exactly the certificates
 *    given, in order;
 *  - sp_ratelimit: per_minute 0 never limits; a burst is allowed then
 *    refused with a Retry-After of at least a second, until exactly
 *    60000/per_minute ms have passed; clients are independent; 10,000
 *    distinct clients (more than the fixed table holds) neither crash nor
 *    stop a known client from being limited; 4 threads at once on one
 *    client never get more than the bucket holds.
 *
 * Random data comes from a fixed seed (reproducible); no CA is needed.
 */
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enroll/est.h"
#include "enroll/ratelimit.h"

/* ------------------------------------------------------------ helpers */

static uint32_t rng_state = 0x5eed1234u;

static uint32_t rnd(void)
{
	/* xorshift32: reproducible, good enough for test data */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* The oracle: OpenSSL's one-shot encoder, no line breaks. */
static char *oracle_encode(const uint8_t *in, size_t len, size_t *out_len)
{
	char *s = malloc(4 * ((len + 2) / 3) + 1);
	int n;
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	n = EVP_EncodeBlock((unsigned char *)s, in, (int)len);
	CU_ASSERT_FATAL(n >= 0);
	*out_len = (size_t)n;
	return s;
}

/* The oracle's decoder on one-line input; padding bytes taken off. */
static uint8_t *oracle_decode(const char *s, size_t n, size_t *out_len)
{
	uint8_t *out = malloc(n / 4 * 3 + 1);
	int r;
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	CU_ASSERT_FATAL(r >= 0);
	*out_len = (size_t)r - (n >= 1 && s[n - 1] == '=') - (n >= 2 && s[n - 2] == '=');
	return out;
}

static int in_alphabet(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
	       c == '=';
}

/* Decode and compare with want; 1 if equal. */
static int decodes_to(const char *s, size_t n, const uint8_t *want, size_t want_len)
{
	uint8_t *out = (uint8_t *)"sentinel";
	size_t out_len = 99;
	sp_err rc = sp_est_b64_decode((const uint8_t *)s, n, &out, &out_len);
	int ok;

	if (rc != SP_OK) {
		printf("\n    decode of %zu bytes refused: %s", n, sp_last_error());
		CU_ASSERT_PTR_NULL(out);
		return 0;
	}
	ok = out_len == want_len && (want_len == 0 || memcmp(out, want, want_len) == 0);
	free(out);
	return ok;
}

static void refused(const char *s, size_t n, const char *why)
{
	uint8_t *out = (uint8_t *)"sentinel";
	size_t out_len = 99;
	sp_err rc = sp_est_b64_decode((const uint8_t *)s, n, &out, &out_len);

	if (rc != SP_ERR_INPUT)
		printf("\n    %s: want SP_ERR_INPUT, got %s", why, sp_err_name(rc));
	CU_ASSERT_EQUAL(rc, SP_ERR_INPUT);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(out_len, 0);
	if (rc == SP_OK)
		free(out);
	/* one line, naming the problem */
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "base64"));
	CU_ASSERT_PTR_NULL(strchr(sp_last_error(), '\n'));
}

/* ------------------------------------------------------------- base64 */

/* Encoder: the oracle's text in 64-column lines, each ending in CRLF. */
static void test_b64_encode_matches_oracle(void)
{
	uint8_t in[301];

	for (size_t len = 0; len <= 300; len++) {
		char *got = (char *)"sentinel", *want;
		size_t got_len = 99, want_len, pos = 0, line;
		int ok = 1;

		fill(in, len);
		CU_ASSERT_EQUAL_FATAL(sp_est_b64_encode(in, len, &got, &got_len), SP_OK);
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		CU_ASSERT_EQUAL(strlen(got), got_len); /* NUL-terminated, no NUL inside */
		want = oracle_encode(in, len, &want_len);
		/* walk the lines */
		for (line = 0; pos < want_len; line++) {
			size_t take = want_len - pos < 64 ? want_len - pos : 64;
			size_t at = pos + 2 * line; /* each earlier line added CRLF */
			if (at + take + 2 > got_len || memcmp(got + at, want + pos, take) != 0 ||
			    memcmp(got + at + take, "\r\n", 2) != 0) {
				ok = 0;
				break;
			}
			pos += take;
		}
		if (ok && got_len != want_len + 2 * line)
			ok = 0;
		if (!ok)
			printf("\n    length %zu: encoder output differs from EVP_EncodeBlock in 64-column CRLF lines",
			       len);
		CU_ASSERT(ok);
		if (len == 0)
			CU_ASSERT_EQUAL(got_len, 0);
		free(got);
		free(want);
	}
	/* the documented shape on a known value */
	{
		char *got = NULL;
		size_t n = 0;
		uint8_t zeros[49] = {0};
		CU_ASSERT_EQUAL_FATAL(sp_est_b64_encode(zeros, sizeof zeros, &got, &n), SP_OK);
		CU_ASSERT_STRING_EQUAL(got, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
					    "AA==\r\n");
		free(got);
		CU_ASSERT_EQUAL_FATAL(sp_est_b64_encode((const uint8_t *)"hello", 5, &got, &n), SP_OK);
		CU_ASSERT_STRING_EQUAL(got, "aGVsbG8=\r\n");
		CU_ASSERT_EQUAL(n, 10);
		free(got);
	}
}

/* Decoder: every form of the same data gives the bytes back, and agrees
 * with the oracle's decoder. */
static void test_b64_decode_round_trip(void)
{
	uint8_t in[301];

	for (size_t len = 1; len <= 300; len++) {
		char *enc = NULL, *one, *spaced;
		size_t enc_len = 0, one_len, o = 0, odec_len;
		uint8_t *odec;

		fill(in, len);
		/* our own encoding */
		CU_ASSERT_EQUAL_FATAL(sp_est_b64_encode(in, len, &enc, &enc_len), SP_OK);
		CU_ASSERT(decodes_to(enc, enc_len, in, len));
		/* the oracle's one line, and the oracle's decoder agrees */
		one = oracle_encode(in, len, &one_len);
		CU_ASSERT(decodes_to(one, one_len, in, len));
		odec = oracle_decode(one, one_len, &odec_len);
		CU_ASSERT_EQUAL(odec_len, len);
		CU_ASSERT_EQUAL(memcmp(odec, in, len), 0);
		/* LF-only lines of 76 (MIME), with blanks and tabs anywhere,
		 * and blank lines before and after */
		spaced = malloc(3 * one_len + 16);
		CU_ASSERT_PTR_NOT_NULL_FATAL(spaced);
		spaced[o++] = '\n';
		for (size_t i = 0; i < one_len; i++) {
			spaced[o++] = one[i];
			if ((i + 1) % 76 == 0)
				spaced[o++] = '\n';
			else if (rnd() % 7 == 0)
				spaced[o++] = (rnd() & 1) ? ' ' : '\t';
			else if (rnd() % 29 == 0)
				spaced[o++] = '\r';
		}
		memcpy(spaced + o, "\r\n \n", 4);
		o += 4;
		CU_ASSERT(decodes_to(spaced, o, in, len));
		free(spaced);
		free(odec);
		free(one);
		free(enc);
	}
	/* empty input has nothing to decode: EST bodies are never empty */
	refused("", 0, "empty");
	refused(" \r\n\t", 4, "blanks only");
}

static void test_b64_refusals(void)
{
	static const uint8_t data[] = "sitepki EST codec test data!";
	char *one, buf[128];
	size_t n;
	int refused_count = 0;

	one = oracle_encode(data, sizeof data - 1, &n);
	CU_ASSERT_FATAL(n + 2 < sizeof buf);
	/* every byte outside the alphabet and the four blanks, at the start,
	 * in the middle and at the end, in place of a character */
	for (int c = 0; c < 256; c++) {
		if (in_alphabet(c) || c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		for (int where = 0; where < 3; where++) {
			size_t at = where == 0 ? 0 : where == 1 ? n / 2 : n - 1;
			memcpy(buf, one, n);
			buf[at] = (char)c;
			refused(buf, n, "byte outside the alphabet");
			refused_count++;
		}
		/* and added, so that the count of base64 characters stays right */
		memcpy(buf, one, n);
		buf[n] = (char)c;
		refused(buf, n + 1, "byte outside the alphabet appended");
	}
	CU_ASSERT_EQUAL(refused_count, 3 * (256 - 65 - 4));
	/* NUL and 0x80 named in the message */
	memcpy(buf, one, n);
	buf[4] = '\0';
	refused(buf, n, "NUL");
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "0x00"));
	buf[4] = (char)0x80;
	refused(buf, n, "0x80");
	CU_ASSERT_PTR_NOT_NULL(strstr(sp_last_error(), "0x80"));
	/* base64url, '-' and '*' */
	refused("ab-d", 4, "'-'");
	refused("ab_d", 4, "'_'");
	refused("ab*d", 4, "'*'");
	/* a count of characters that is not a multiple of 4 */
	for (size_t cut = 1; cut <= 3; cut++)
		refused(one, n - cut, "truncated");
	refused("QQ=", 3, "short padding");
	refused("Q", 1, "one character");
	/* padding where it cannot be */
	refused("QQ==QQ==", 8, "padding in the middle");
	refused("Q===", 4, "three padding characters");
	refused("====", 4, "padding only");
	refused("QQ=A", 4, "data after padding");
	refused("=QQQ", 4, "padding first");
	free(one);
}

/* ---------------------------------------------------------- certs-only */

static X509 *self_signed(EVP_PKEY *k, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	CU_ASSERT_FATAL(x != NULL);
	CU_ASSERT_FATAL(X509_set_version(x, X509_VERSION_3));
	CU_ASSERT_FATAL(ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rnd() & 0xffffff) + 1));
	CU_ASSERT_FATAL(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0));
	CU_ASSERT_FATAL(X509_set_issuer_name(x, n));
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL);
	CU_ASSERT_FATAL(X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL);
	CU_ASSERT_FATAL(X509_set_pubkey(x, k));
	CU_ASSERT_FATAL(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

static void test_certs_only(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x[3];
	char cn[32];

	CU_ASSERT_PTR_NOT_NULL_FATAL(k);
	for (int i = 0; i < 3; i++) {
		snprintf(cn, sizeof cn, "certs-only %d", i);
		x[i] = self_signed(k, cn);
	}
	for (int n = 0; n <= 3; n++) {
		STACK_OF(X509) *sk = sk_X509_new_null();
		STACK_OF(X509) *got;
		uint8_t *der = NULL;
		size_t len = 0;
		const unsigned char *p;
		PKCS7 *p7;

		CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
		for (int i = 0; i < n; i++)
			CU_ASSERT_FATAL(sk_X509_push(sk, x[i]));
		CU_ASSERT_EQUAL_FATAL(sp_est_certs_only(sk, &der, &len), SP_OK);
		p = der;
		p7 = d2i_PKCS7(NULL, &p, (long)len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p7);
		CU_ASSERT_PTR_EQUAL(p, der + len);
		CU_ASSERT_EQUAL(OBJ_obj2nid(p7->type), NID_pkcs7_signed);
		CU_ASSERT_FATAL(PKCS7_type_is_signed(p7));
		CU_ASSERT_EQUAL(sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(p7)), 0);
		CU_ASSERT_EQUAL(sk_X509_ALGOR_num(p7->d.sign->md_algs), 0);
		/* encapsulated content: id-data with eContent absent (RFC 5272
		 * 4.1: "a SignedData with no EncapsulatedContentInfo and no
		 * SignerInfo"; RFC 8551 3.8 certs-only: no content; the comment
		 * in est_codec.c: "no signers, no content"; what `openssl
		 * crl2pkcs7 -nocrl` writes). PKCS7_content_new() alone would
		 * leave an empty OCTET STRING there ([0] { OCTET STRING "" }). */
		CU_ASSERT_EQUAL(OBJ_obj2nid(p7->d.sign->contents->type), NID_pkcs7_data);
		CU_ASSERT_PTR_NULL(p7->d.sign->contents->d.data);
		{
			/* and in the DER: the EncapsulatedContentInfo is exactly
			 * SEQUENCE { OID id-data } */
			static const uint8_t eci[] = {0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
						      0xf7, 0x0d, 0x01, 0x07, 0x01};
			int found = 0;
			for (size_t i = 0; i + sizeof eci <= len && !found; i++)
				found = !memcmp(der + i, eci, sizeof eci);
			CU_ASSERT_TRUE(found);
		}
		got = p7->d.sign->cert;
		CU_ASSERT_EQUAL(got ? sk_X509_num(got) : 0, n);
		for (int i = 0; got && i < n && i < sk_X509_num(got); i++)
			CU_ASSERT_EQUAL(X509_cmp(sk_X509_value(got, i), x[i]), 0);
		/* the encoding is DER: it re-encodes to the same bytes */
		{
			unsigned char *again = NULL;
			int m = i2d_PKCS7(p7, &again);
			CU_ASSERT_EQUAL(m, (int)len);
			if (m == (int)len)
				CU_ASSERT_EQUAL(memcmp(again, der, len), 0);
			OPENSSL_free(again);
		}
		PKCS7_free(p7);
		free(der);
		sk_X509_free(sk);
	}
	for (int i = 0; i < 3; i++)
		X509_free(x[i]);
	EVP_PKEY_free(k);
}

/* ---------------------------------------------------------- rate limit */

static int take(sp_ratelimit *r, const char *client, int64_t now, unsigned *retry)
{
	*retry = 12345;
	return sp_ratelimit_take(r, client, now, retry);
}

static void test_ratelimit_off(void)
{
	sp_ratelimit *r = sp_ratelimit_new(0, 3);
	unsigned retry;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	for (int i = 0; i < 10000; i++) {
		CU_ASSERT_EQUAL(take(r, "192.0.2.1", 1000, &retry), 1);
		CU_ASSERT_EQUAL(retry, 0);
	}
	CU_ASSERT_EQUAL(take(r, NULL, 1000, &retry), 1);
	sp_ratelimit_free(r);
	sp_ratelimit_free(NULL);
}

static void test_ratelimit_burst_and_refill(void)
{
	static const unsigned rates[] = {60, 120, 600, 6000, 60000};
	unsigned retry;

	for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
		unsigned per_minute = rates[k];
		int64_t t0 = 5000000, step = 60000 / per_minute;
		sp_ratelimit *r = sp_ratelimit_new(per_minute, 3);

		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		/* the burst */
		for (int i = 0; i < 3; i++) {
			CU_ASSERT_EQUAL(take(r, "192.0.2.10", t0, &retry), 1);
			CU_ASSERT_EQUAL(retry, 0);
		}
		/* then refused, with when to come back */
		CU_ASSERT_EQUAL(take(r, "192.0.2.10", t0, &retry), 0);
		CU_ASSERT(retry >= 1);
		CU_ASSERT(retry <= (unsigned)(step / 1000) + 1);
		CU_ASSERT_EQUAL(take(r, "192.0.2.10", t0, &retry), 0);
		/* not quite refilled */
		if (step > 1) {
			CU_ASSERT_EQUAL(take(r, "192.0.2.10", t0 + step - 1, &retry), 0);
			CU_ASSERT(retry >= 1);
		}
		/* one token after exactly 60000/per_minute ms, and only one */
		CU_ASSERT_EQUAL(take(r, "192.0.2.10", t0 + step, &retry), 1);
		CU_ASSERT_EQUAL(take(r, "192.0.2.10", t0 + step, &retry), 0);
		/* a long pause refills the bucket to the burst, not beyond */
		{
			int64_t t1 = t0 + step + 3600 * 1000;
			for (int i = 0; i < 3; i++)
				CU_ASSERT_EQUAL(take(r, "192.0.2.10", t1, &retry), 1);
			CU_ASSERT_EQUAL(take(r, "192.0.2.10", t1, &retry), 0);
		}
		/* a clock going backwards gives nothing */
		CU_ASSERT_EQUAL(take(r, "192.0.2.10", t0, &retry), 0);
		sp_ratelimit_free(r);
	}
	/* the Retry-After for a slow rate: 1 per minute, burst 1 */
	{
		sp_ratelimit *r = sp_ratelimit_new(1, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(r);
		CU_ASSERT_EQUAL(take(r, "2001:db8::1", 1000, &retry), 1);
		CU_ASSERT_EQUAL(take(r, "2001:db8::1", 1000, &retry), 0);
		CU_ASSERT(retry >= 60 && retry <= 61);
		CU_ASSERT_EQUAL(take(r, "2001:db8::1", 31000, &retry), 0);
		CU_ASSERT(retry >= 30 && retry <= 31);
		CU_ASSERT_EQUAL(take(r, "2001:db8::1", 61000, &retry), 1);
		sp_ratelimit_free(r);
	}
}

static void test_ratelimit_clients_independent(void)
{
	sp_ratelimit *r = sp_ratelimit_new(60, 2);
	unsigned retry;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	CU_ASSERT_EQUAL(take(r, "192.0.2.1", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "192.0.2.1", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "192.0.2.1", 1000, &retry), 0);
	/* another address has its own bucket, also one that differs in the
	 * last character or is a prefix */
	CU_ASSERT_EQUAL(take(r, "192.0.2.2", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "192.0.2.11", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "192.0.2.", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "2001:db8::1", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "192.0.2.2", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "192.0.2.2", 1000, &retry), 0);
	/* and the first is still limited */
	CU_ASSERT_EQUAL(take(r, "192.0.2.1", 1000, &retry), 0);
	/* the longest IPv6 literal (45 characters) and one that differs from
	 * it only in its last character */
	CU_ASSERT_EQUAL(take(r, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", 1000, &retry), 0);
	CU_ASSERT_EQUAL(take(r, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.254", 1000, &retry), 1);
	sp_ratelimit_free(r);
}

/* More clients than the fixed table holds: no crash, no growth, and a
 * client seen now is limited as before. */
static void test_ratelimit_many_clients(void)
{
	sp_ratelimit *r = sp_ratelimit_new(60, 3);
	unsigned retry;
	char client[64];
	int allowed = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	/* a known client uses its burst */
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(take(r, "198.51.100.1", 1000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "198.51.100.1", 1000, &retry), 0);
	/* 10,000 others, each once, then each again at once */
	for (int i = 0; i < 10000; i++) {
		snprintf(client, sizeof client, "2001:db8:%x::%x", i >> 8, i & 0xff);
		allowed += take(r, client, 2000 + i / 100, &retry);
	}
	CU_ASSERT_EQUAL(allowed, 10000); /* all new: full buckets */
	/* the known client: whether it was forgotten (a full bucket again) or
	 * not, it never gets more than the burst at one instant */
	allowed = 0;
	for (int i = 0; i < 10; i++)
		allowed += take(r, "198.51.100.1", 3000, &retry);
	CU_ASSERT(allowed <= 3);
	CU_ASSERT_EQUAL(take(r, "198.51.100.1", 3000, &retry), 0);
	CU_ASSERT(retry >= 1);
	/* and it gets one more after a second, as any client */
	CU_ASSERT_EQUAL(take(r, "198.51.100.1", 4000, &retry), 1);
	CU_ASSERT_EQUAL(take(r, "198.51.100.1", 4000, &retry), 0);
	/* a client that just came in (surely in the table) is limited too */
	snprintf(client, sizeof client, "2001:db8:%x::%x", 9999 >> 8, 9999 & 0xff);
	CU_ASSERT_EQUAL(take(r, client, 2100, &retry), 1);
	CU_ASSERT_EQUAL(take(r, client, 2100, &retry), 1);
	CU_ASSERT_EQUAL(take(r, client, 2100, &retry), 0);
	/* over-long client strings are cut, not overflowed */
	memset(client, 'x', sizeof client - 1);
	client[sizeof client - 1] = '\0';
	CU_ASSERT_EQUAL(take(r, client, 5000, &retry), 1);
	sp_ratelimit_free(r);
}

typedef struct {
	sp_ratelimit *r;
	int allowed;
} race_arg;

static void *race(void *p)
{
	race_arg *a = p;
	unsigned retry;
	for (int i = 0; i < 2000; i++)
		a->allowed += sp_ratelimit_take(a->r, "203.0.113.5", 7000, &retry);
	return NULL;
}

static void test_ratelimit_threads(void)
{
	sp_ratelimit *r = sp_ratelimit_new(600, 50);
	pthread_t th[4];
	race_arg args[4];
	int total = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	for (int i = 0; i < 4; i++) {
		args[i].r = r;
		args[i].allowed = 0;
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, race, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		CU_ASSERT_EQUAL(pthread_join(th[i], NULL), 0);
		total += args[i].allowed;
	}
	/* one instant: exactly the burst, however the threads interleave */
	CU_ASSERT_EQUAL(total, 50);
	sp_ratelimit_free(r);
}

/* ------------------------------------------------------------- suites */

static const sp_unit_test b64_tests[] = {
	{"encode: oracle text in 64-column CRLF lines", test_b64_encode_matches_oracle},
	{"decode: round trips in every form", test_b64_decode_round_trip},
	{"decode: refusals", test_b64_refusals},
	{NULL, NULL},
};

static const sp_unit_test p7_tests[] = {
	{"certs-only read back by d2i_PKCS7", test_certs_only},
	{NULL, NULL},
};

static const sp_unit_test rate_tests[] = {
	{"per_minute 0: no limit", test_ratelimit_off},
	{"burst, refusal, refill", test_ratelimit_burst_and_refill},
	{"clients are independent", test_ratelimit_clients_independent},
	{"10,000 clients in a fixed table", test_ratelimit_many_clients},
	{"threads share one bucket", test_ratelimit_threads},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"est codec: base64", b64_tests},
	{"est codec: certs-only PKCS#7", p7_tests},
	{"est: rate limit", rate_tests},
	{NULL, NULL},
};
