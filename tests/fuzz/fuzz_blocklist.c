/*
 * fuzz_blocklist.c - libFuzzer target: a signed block-list export as it
 * arrives at a site system (`sitepki block verify FILE`), and the text
 * format inside it (docs/blocklist.md, "Export format").
 *
 * Each input goes three ways:
 *
 *  1. As an export file (DER CMS SignedData) through sp_block_verify()
 *     against two fixed CA certificates (EC P-256 and RSA-2048, below). The
 *     seed corpus holds genuine exports of those two CAs and the same text
 *     in envelopes sp_block_verify must refuse (detached, SHA-1, no signed
 *     attributes, SMIMECapabilities, an extra certificate, no certificate,
 *     signed by a leaf), all made with the real CA keys - so mutations of
 *     the parts a signature does not cover (versions, certificate set,
 *     unsigned fields, lengths) reach every check after CMS_verify.
 *
 *  2. As export text through the private parser sp_block_parse_text()
 *     (revocation/block_int.h), with "@ISSUER@" / "@ISSUER_UPPER@" in the
 *     input replaced by the fingerprint of this process's own CA (as the
 *     fixtures in tests/data/blocklist/ are written), so the issuer rule
 *     passes and the rest of the grammar is what is fuzzed.
 *
 *  3. The same text signed by this process's own CA (sp_block_sign_text,
 *     made once per process by sp_ca_init in a mkdtemp directory, removed at
 *     exit) and verified with sp_block_verify(). A differential check: the
 *     verifier must accept exactly what the parser accepts, with the same
 *     entries and the same generated time; any difference aborts.
 *
 * Only crashes, leaks, UB and the differential abort count; refusals are
 * the expected outcome. The signing step costs ~0.2 ms, so it runs for
 * inputs up to 64 KiB only, and for one in eight of the texts the parser
 * refuses (all the ones it accepts).
 *
 * Seeds (tests/fuzz/corpus/blocklist/): export-*.p7 (genuine, made with
 * `sitepki block export` from two throw-away homes whose CA certificates are
 * embedded below; the keys were discarded), envelope-*.p7 (the 3-entry text
 * re-signed with `openssl cms -sign` and the same CA keys), text-*.txt (that
 * text with @ISSUER@), good-*.txt / bad-*.txt (tests/data/blocklist/). The
 * embedded certificates are valid until 2036-11-19; CMS_verify checks that,
 * so after that date the export seeds stop verifying (regenerate them).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <openssl/x509.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ca/ca.h"
#include "revocation/block_int.h"
#include "revocation/revocation.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The CA certificates of the two homes that made the export seeds. */
static const char seed_ca_ec[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBvTCCAWOgAwIBAgIQSydVums3GfrI5rGIXsAJZjAKBggqhkjOPQQDAjAuMSww\n"
	"KgYDVQQDDCNzaXRlcGtpIGJsb2NrbGlzdCBmdXp6IHNlZWQgQ0EgKGVjKTAeFw0y\n"
	"NjExMjIwNDM0MTJaFw0zNjExMTkwNDM0MTJaMC4xLDAqBgNVBAMMI3NpdGVwa2kg\n"
	"YmxvY2tsaXN0IGZ1enogc2VlZCBDQSAoZWMpMFkwEwYHKoZIzj0CAQYIKoZIzj0D\n"
	"AQcDQgAE42tCGvhfC5n3fcmNdAr8vAwVn5G7LgJQllV5GquCkFHCv56tEwTVMrHs\n"
	"8squ3tWAiXtEWdgO62aHj9DEhvNbT6NjMGEwDwYDVR0TAQH/BAUwAwEB/zAOBgNV\n"
	"HQ8BAf8EBAMCAQYwHQYDVR0OBBYEFEAF92+cVti1+0+0DJc/Ki5xk/jmMB8GA1Ud\n"
	"IwQYMBaAFEAF92+cVti1+0+0DJc/Ki5xk/jmMAoGCCqGSM49BAMCA0gAMEUCIQDE\n"
	"cKIgfgokbTupORun+G+Z6UNYU+r1yGJawU0Af2pdawIgT93t8UI7NVXGjmLfeP6x\n"
	"2QA64lYHaC92YU/tyL2UQSM=\n"
	"-----END CERTIFICATE-----\n";
static const char seed_ca_rsa[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIDSzCCAjOgAwIBAgIQTUmOUG1oHiU8nCLDRoHGIjANBgkqhkiG9w0BAQsFADAv\n"
	"MS0wKwYDVQQDDCRzaXRlcGtpIGJsb2NrbGlzdCBmdXp6IHNlZWQgQ0EgKHJzYSkw\n"
	"HhcNMjYxMTIyMDQzNDE2WhcNMzYxMTE5MDQzNDE2WjAvMS0wKwYDVQQDDCRzaXRl\n"
	"cGtpIGJsb2NrbGlzdCBmdXp6IHNlZWQgQ0EgKHJzYSkwggEiMA0GCSqGSIb3DQEB\n"
	"AQUAA4IBDwAwggEKAoIBAQDUmsmURsIfkgeHX05SGWiAgZ93IUgLa99WU1hF+xcs\n"
	"vyrIKe4Geu3VI5UXOuqqcGCWUYzY4NHbRGURI2q1LZ9/pfVKYFK+TJoBnPw0cCW/\n"
	"2uFq1peVn1IKD/vSt3/xnNvBMFUggZeMt8bjS0+4e27IQXwswr/WJTA5ZccCyNll\n"
	"oruO92baBsG239oALD+D2ZMIqcyI+xxQmeKRj4/OfkKhkqptFWh8qPt6+ubBmekI\n"
	"Ny85e1jtHLkrT/2ZmrCKtmy9FivtVYLRDDE8aNildbNIZbAUoaaRaVxmaW1kaoxv\n"
	"D4KRDEh3UlnM8eeDF6c43aUaiujOQv1wHVZf4qeZoRVBAgMBAAGjYzBhMA8GA1Ud\n"
	"EwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBSw633x/rfwToKr\n"
	"6fXCQ27XNwKD8DAfBgNVHSMEGDAWgBSw633x/rfwToKr6fXCQ27XNwKD8DANBgkq\n"
	"hkiG9w0BAQsFAAOCAQEAMFHysyHK3T+wDU5Hx09sz+pEztcagPl3trVJUr5HDQx7\n"
	"VkZxzitfbUE9nJL69k7SjFAb5j+W8g/wRqK1tHe1QkLuzNY6UvGUPb2/+qpj+hOC\n"
	"A5M90Ggc3DXszWh04ktgi8jovG9dfXyu/E8cJWjS6OkjPa1NcZK8XTnNc8MI2iyE\n"
	"8+VFvllALy2om67DPflgXspyfMs5TC87yxfOexHWE0gCgGtiyP/hNdugU+l39DTx\n"
	"Dnv779ydDd61HpyFikE+q4jUEaVvwLnyVo/fs7yJdtMx5hzS9ZSMmjGpe9ez19/F\n"
	"MfcREEVI0BFF67pADNvzJYLU/lKiwhNa0UnUiQ/fCA==\n"
	"-----END CERTIFICATE-----\n";

#define SIGN_MAX (64u * 1024)
#define NOW ((int64_t)1795320000) /* 2026-11-22, within the seed CAs' validity */

static struct {
	char dir[256];
	sp_ca *ca;          /* this process's CA (has its key) */
	X509 *seed[2];      /* the seed CAs (certificates only) */
	char fp[65], fp_upper[65];
} g;

/* The passphrase lives in static memory: it protects a throw-away key. */
static char pass_buf[] = "fuzz passphrase (throw-away CA)";

static void die(const char *what)
{
	fprintf(stderr, "fuzz_blocklist: %s: %s\n", what, sp_last_error());
	abort();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	sp_ca_close(g.ca);
	X509_free(g.seed[0]);
	X509_free(g.seed[1]);
	if (g.dir[0])
		nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	memset(&g, 0, sizeof g);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	sp_secret pass = {pass_buf, sizeof pass_buf - 1};
	sp_ca_init_opts o;
	char home[300];
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	if (sp_cert_parse((const uint8_t *)seed_ca_ec, sizeof seed_ca_ec - 1, &g.seed[0]) != SP_OK ||
	    sp_cert_parse((const uint8_t *)seed_ca_rsa, sizeof seed_ca_rsa - 1, &g.seed[1]) != SP_OK)
		die("seed CA certificates");
	snprintf(g.dir, sizeof g.dir, "%s/sitepki-fuzz-block.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(g.dir)) {
		g.dir[0] = '\0';
		perror("fuzz_blocklist: mkdtemp");
		abort();
	}
	atexit(teardown);
	snprintf(home, sizeof home, "%s/ca", g.dir);
	memset(&o, 0, sizeof o);
	o.name = "sitepki block list fuzz CA";
	o.key_alg = "ec-p256";
	o.days = 400;
	if (sp_ca_init(home, &o, &pass) != SP_OK)
		die("sp_ca_init");
	if (sp_ca_open(home, &pass, &g.ca) != SP_OK)
		die("sp_ca_open");
	if (sp_cert_sha256_hex(sp_ca_get0_cert(g.ca), g.fp) != SP_OK)
		die("fingerprint");
	for (int i = 0; i < 65; i++)
		g.fp_upper[i] = (char)(g.fp[i] >= 'a' && g.fp[i] <= 'f' ? g.fp[i] - 32 : g.fp[i]);
	return 0;
}

/* What the callback saw, to compare the parser with the verifier. */
typedef struct {
	size_t n;
	uint64_t digest; /* FNV-1a over every field handed over */
} seen;

static void mix(uint64_t *h, const char *s)
{
	for (; s && *s; s++)
		*h = (*h ^ (unsigned char)*s) * 1099511628211u;
	*h = (*h ^ 0xff) * 1099511628211u;
}

static int entry_cb(const sp_block_row *r, void *arg)
{
	seen *s = arg;
	char t[32];
	s->n++;
	if (!s->digest)
		s->digest = 14695981039346656037u;
	mix(&s->digest, r->sha256);
	mix(&s->digest, r->sha1);
	mix(&s->digest, r->serial);
	mix(&s->digest, r->reason);
	snprintf(t, sizeof t, "%lld", (long long)r->created_at);
	mix(&s->digest, t);
	return 0;
}

/* data with @ISSUER@ / @ISSUER_UPPER@ replaced, in a malloc'd buffer of
 * exactly *outlen bytes and no terminator, so that ASan catches a parser
 * reading one byte past the length it was given. */
static char *substitute(const uint8_t *data, size_t size, size_t *outlen)
{
	static const char k1[] = "@ISSUER@", k2[] = "@ISSUER_UPPER@";
	size_t cap = size + 1, n = 0;
	char *out;
	for (size_t i = 0; i + sizeof k1 - 1 <= size; i++)
		if (!memcmp(data + i, k1, sizeof k1 - 1) || (i + sizeof k2 - 1 <= size && !memcmp(data + i, k2, sizeof k2 - 1)))
			cap += 64;
	if (!(out = malloc(cap)))
		abort();
	for (size_t i = 0; i < size;) {
		if (i + sizeof k2 - 1 <= size && !memcmp(data + i, k2, sizeof k2 - 1)) {
			memcpy(out + n, g.fp_upper, 64);
			n += 64;
			i += sizeof k2 - 1;
		} else if (i + sizeof k1 - 1 <= size && !memcmp(data + i, k1, sizeof k1 - 1)) {
			memcpy(out + n, g.fp, 64);
			n += 64;
			i += sizeof k1 - 1;
		} else {
			out[n++] = (char)data[i++];
		}
	}
	if (n < cap) {
		char *exact = malloc(n ? n : 1);
		if (!exact)
			abort();
		memcpy(exact, out, n);
		free(out);
		out = exact;
	}
	*outlen = n;
	return out;
}

static uint32_t fnv(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	seen a = {0, 0}, b = {0, 0};
	int64_t gen_a = -1, gen_b = -1, gen = 0;
	uint8_t *signed_der = NULL;
	size_t tlen = 0, slen = 0;
	char *text;
	sp_err ra, rb;

	/* 1. the bytes as an export file, against both seed CAs */
	for (int i = 0; i < 2; i++) {
		seen s = {0, 0};
		(void)sp_block_verify(g.seed[i], data, size, &gen, entry_cb, &s);
	}

	/* 2. the bytes as export text, for this process's CA */
	text = substitute(data, size, &tlen);
	ra = sp_block_parse_text(text, tlen, g.fp, &gen_a, entry_cb, &a);
	if (ra != SP_OK && a.n != 0) {
		/* block_int.h: the whole text is checked before cb sees an entry */
		fprintf(stderr, "fuzz_blocklist: parse refused the text (%d) after %zu entries reached the callback\n",
			(int)ra, a.n);
		abort();
	}

	/* 3. the same text signed by that CA must verify exactly as it parses:
	 * always when the parser accepted it, for one input in eight (picked
	 * by the input's own bytes, so a run reproduces) when it refused */
	if (tlen <= SIGN_MAX && (ra == SP_OK || (fnv(data, size) & 7) == 0)) {
		if (sp_block_sign_text(g.ca, text, tlen, NOW, &signed_der, &slen) != SP_OK)
			die("sp_block_sign_text");
		rb = sp_block_verify(sp_ca_get0_cert(g.ca), signed_der, slen, &gen_b, entry_cb, &b);
		if (rb != SP_OK && b.n != 0) {
			fprintf(stderr, "fuzz_blocklist: verify refused (%d) after %zu entries reached the callback\n",
				(int)rb, b.n);
			abort();
		}
		if ((ra == SP_OK) != (rb == SP_OK) || (ra == SP_OK && (a.n != b.n || a.digest != b.digest || gen_a != gen_b))) {
			fprintf(stderr,
				"fuzz_blocklist: parser and verifier disagree: parse %d (%zu entries, generated %lld), "
				"verify of the signed text %d (%zu entries, generated %lld): %s\n",
				(int)ra, a.n, (long long)gen_a, (int)rb, b.n, (long long)gen_b, sp_last_error());
			abort();
		}
		OPENSSL_free(signed_der);
	}
	free(text);
	return 0;
}
