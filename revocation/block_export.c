/* block_export.c - the signed block list that site systems fetch: a
 * line-based ASCII text (docs/blocklist.md, "Export format") carried as CMS
 * SignedData (RFC 5652) signed by the CA, and its strict verifier. */
#include "revocation/block_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "ca/ca_int.h"

/* 9999-12-31T23:59:59Z: the last time the 20-character form can write. */
#define MAX_TIME ((int64_t)253402300799)
/* An entry line is at least ~70 bytes, so a count above this cannot fit in
 * SP_BLOCK_MAX_EXPORT; refusing it early keeps the count arithmetic small. */
#define MAX_COUNT ((int64_t)SP_BLOCK_MAX_EXPORT / 32)

/* --------------------------------------------------------- text buffer */

typedef struct {
	char *p;
	size_t len, cap;
} textbuf;

static sp_err tb_add(textbuf *b, const char *s, size_t n)
{
	if (n > SP_BLOCK_MAX_EXPORT - b->len)
		return sp_fail(SP_ERR_INPUT, "block list: more than %u bytes; too large to export",
			       (unsigned)SP_BLOCK_MAX_EXPORT);
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *q;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(q = realloc(b->p, cap)))
			return sp_fail(SP_ERR_NOMEM, "out of memory");
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return SP_OK;
}

static sp_err tb_printf(textbuf *b, const char *fmt, ...) SP_PRINTF(2, 3);
static sp_err tb_printf(textbuf *b, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return sp_fail(SP_ERR_INTERNAL, "block list: line too long");
	return tb_add(b, line, (size_t)n);
}

/* ------------------------------------------------------------- fields */

static int is_hex(const char *s, size_t n, int upper)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (upper ? (c >= 'A' && c <= 'F') : (c >= 'a' && c <= 'f'))))
			return 0;
	}
	return 1;
}

static int fp_ok(const char *s, size_t n, size_t want)
{
	return n == want && is_hex(s, n, 0);
}

static int serial_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 40 && is_hex(s, n, 1);
}

/* "2026-11-22T02:51:36Z" exactly: the digits are checked here and the
 * calendar by writing the time back (timegm would move 02-30 to 03-02). */
static int iso_parse(const char *s, size_t n, int64_t *out)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
	char back[32];
	struct tm tm;
	time_t t;
	int v[6] = {0}, f = 0;

	if (n != sizeof pat - 1)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (pat[i] == 'd') {
			if (s[i] < '0' || s[i] > '9')
				return 0;
			v[f] = v[f] * 10 + (s[i] - '0');
		} else if (s[i] != pat[i]) {
			return 0;
		} else {
			f++;
		}
	}
	memset(&tm, 0, sizeof tm);
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	t = timegm(&tm);
	if ((int64_t)t < 0 || (int64_t)t > MAX_TIME)
		return 0;
	sp_time_iso((int64_t)t, back, sizeof back);
	if (strlen(back) != n || memcmp(back, s, n) != 0)
		return 0;
	*out = (int64_t)t;
	return 1;
}

/* Percent-encoding of a reason: every byte outside 0x21..0x7e, and '%'
 * itself, as "%XX" (upper-case hex), so the field has no space or control
 * character and one reason has exactly one encoding. */
static int needs_pct(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || c == '%';
}

static void pct_encode(const char *in, size_t n, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 <= outsz; i++) {
		unsigned char c = (unsigned char)in[i];
		if (needs_pct(c)) {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decode into out (SP_BLOCK_MAX_REASON + 1 bytes); 0 if the field is not
 * canonically encoded or decodes to more than the limit. */
static int pct_decode(const char *in, size_t n, char *out, size_t *outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];
		if (o >= SP_BLOCK_MAX_REASON)
			return 0;
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return 0;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0 || !needs_pct((unsigned char)(hi << 4 | lo)))
				return 0;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			if (needs_pct(c))
				return 0;
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return 1;
}

/* --------------------------------------------------------------- export */

typedef struct {
	textbuf *body;
	int64_t count;
	sp_err rc;
} export_state;

static int export_row(const sp_block_row *r, void *arg)
{
	export_state *s = arg;
	size_t n256 = strlen(r->sha256), n1 = strlen(r->sha1), ns = r->serial ? strlen(r->serial) : 0;
	const char *id = n256 ? r->sha256 : r->sha1;
	char at[32], reason[3 * SP_BLOCK_MAX_REASON + 1];

	/* Write only what sp_block_verify accepts, so every export verifies:
	 * a row that breaks the format stops the export rather than making a
	 * list site systems would refuse as a whole. */
	if ((n256 && !fp_ok(r->sha256, n256, 64)) || (n1 && !fp_ok(r->sha1, n1, 40)) || (!n256 && !n1) ||
	    (ns && !serial_ok(r->serial, ns)) || r->created_at < 0 || r->created_at > MAX_TIME) {
		s->rc = sp_fail(SP_ERR_DB, "block list row %s: malformed fingerprint, serial or time; not exported", id);
		return s->rc;
	}
	if (sp_block_reason_check(r->reason, r->reason ? strlen(r->reason) : 0, "block list reason") != SP_OK) {
		s->rc = sp_fail(SP_ERR_DB, "block list row %s: reason is not 1..%d printable ASCII characters; not exported",
				id, SP_BLOCK_MAX_REASON);
		return s->rc;
	}
	sp_time_iso(r->created_at, at, sizeof at);
	pct_encode(r->reason, strlen(r->reason), reason, sizeof reason);
	if ((s->rc = tb_printf(s->body, "block %s %s %s %s %s\n", n256 ? r->sha256 : "-", n1 ? r->sha1 : "-", at,
			       ns ? r->serial : "-", reason)) != SP_OK)
		return s->rc;
	s->count++;
	return 0;
}

sp_err sp_block_sign_text(sp_ca *ca, const char *text, size_t len, int64_t now, uint8_t **out, size_t *outlen)
{
	const unsigned int flags = CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	ASN1_TIME *t = NULL;
	BIO *in = NULL;
	unsigned char *der = NULL;
	int n;
	sp_err rc;

	*out = NULL;
	*outlen = 0;
	if (!ca->key || !ca->cert)
		return sp_fail(SP_ERR_USAGE, "the CA key is not loaded (a passphrase is needed to sign the block list)");
	if (len > SP_BLOCK_MAX_EXPORT)
		return sp_fail(SP_ERR_INPUT, "block list: more than %u bytes; too large to export",
			       (unsigned)SP_BLOCK_MAX_EXPORT);
	if (now < 0 || now > MAX_TIME)
		return sp_fail(SP_ERR_USAGE, "block list: signing time %lld out of range", (long long)now);
	if (!(in = BIO_new_mem_buf(text, (int)len))) {
		rc = sp_fail_ossl(SP_ERR_NOMEM, "block list");
		goto out;
	}
	/* CMS_PARTIAL: the signer is added by hand so that signingTime (RFC
	 * 5652 11.3) is `now`, not the clock CMS_final would read. No
	 * SMIMECapabilities: this is not mail. The CA certificate goes in
	 * (CMS_NOCERTS unset) so `openssl cms -verify` needs only the CA file. */
	if (!(cms = CMS_sign(NULL, NULL, NULL, NULL, flags)) ||
	    !(si = CMS_add1_signer(cms, ca->cert, ca->key, EVP_sha256(), flags & ~CMS_PARTIAL)) ||
	    !(t = ASN1_TIME_set(NULL, (time_t)now)) ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t, -1) != 1 ||
	    CMS_final(cms, in, NULL, flags & ~CMS_PARTIAL) != 1) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "block list: signing failed");
		goto out;
	}
	if ((n = i2d_CMS_ContentInfo(cms, &der)) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "block list: encoding failed");
		goto out;
	}
	if ((size_t)n > SP_BLOCK_MAX_EXPORT) {
		rc = sp_fail(SP_ERR_INPUT, "block list: %d bytes signed; more than the %u a verifier reads", n,
			     (unsigned)SP_BLOCK_MAX_EXPORT);
		goto out;
	}
	*out = der;
	*outlen = (size_t)n;
	der = NULL;
	rc = SP_OK;
out:
	OPENSSL_free(der);
	ASN1_TIME_free(t);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return rc;
}

sp_err sp_block_export(sp_ca *ca, int64_t now, uint8_t **out, size_t *len)
{
	textbuf head = {NULL, 0, 0}, body = {NULL, 0, 0};
	export_state s = {&body, 0, SP_OK};
	char issuer[65], gen[32];
	sp_err rc;

	*out = NULL;
	*len = 0;
	if (!ca->key || !ca->cert)
		return sp_fail(SP_ERR_USAGE, "the CA key is not loaded (a passphrase is needed to sign the block list)");
	if (now < 0 || now > MAX_TIME)
		return sp_fail(SP_ERR_USAGE, "block list: generation time %lld out of range", (long long)now);
	if ((rc = sp_cert_sha256_hex(ca->cert, issuer)) != SP_OK)
		goto out;
	/* One SELECT: a consistent snapshot, and the count is what was written. */
	rc = sp_store_block_list(sp_ca_get0_store(ca), export_row, &s);
	if (s.rc != SP_OK)
		rc = s.rc;
	if (rc != SP_OK)
		goto out;
	sp_time_iso(now, gen, sizeof gen);
	if ((rc = tb_printf(&head, "%s %d\nissuer %s\ngenerated %s\ncount %lld\n", SP_BLOCK_MAGIC, SP_BLOCK_VERSION,
			    issuer, gen, (long long)s.count)) != SP_OK ||
	    (body.len && (rc = tb_add(&head, body.p, body.len)) != SP_OK))
		goto out;
	rc = sp_block_sign_text(ca, head.p, head.len, now, out, len);
out:
	free(head.p);
	free(body.p);
	return rc;
}

/* ---------------------------------------------------------------- parse */

typedef struct {
	const char *p, *end;
	size_t lineno;
} cursor;

/* The next line without its "\n"; every byte printable ASCII (so no CR,
 * tab, NUL or UTF-8 beyond ASCII anywhere in the text). */
static sp_err next_line(cursor *c, const char **line, size_t *n)
{
	const char *nl;

	c->lineno++;
	if (c->p >= c->end)
		return sp_fail(SP_ERR_INPUT, "block list line %zu: missing (the list ends early)", c->lineno);
	nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
	if (!nl)
		return sp_fail(SP_ERR_INPUT, "block list line %zu: no line end (truncated?)", c->lineno);
	for (const char *q = c->p; q < nl; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			return sp_fail(SP_ERR_INPUT, "block list line %zu: byte 0x%02x at column %zu is not printable ASCII",
				       c->lineno, (unsigned char)*q, (size_t)(q - c->p) + 1);
	*line = c->p;
	*n = (size_t)(nl - c->p);
	c->p = nl + 1;
	return SP_OK;
}

/* Split at single spaces into exactly `want` non-empty fields. */
static int split(const char *line, size_t n, const char **f, size_t *fl, int want)
{
	int k = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && line[i] != ' ')
			continue;
		if (i == start || k == want)
			return 0;
		f[k] = line + start;
		fl[k] = i - start;
		k++;
		start = i + 1;
	}
	return k == want;
}

static int field_is(const char *f, size_t n, const char *lit)
{
	return n == strlen(lit) && !memcmp(f, lit, n);
}

/* "<keyword> <value>" with the keyword given; the value in *v. */
static sp_err header(cursor *c, const char *kw, const char **v, size_t *vn)
{
	const char *line, *f[2];
	size_t n, fl[2];
	sp_err rc;

	if ((rc = next_line(c, &line, &n)) != SP_OK)
		return rc;
	if (!split(line, n, f, fl, 2) || !field_is(f[0], fl[0], kw))
		return sp_fail(SP_ERR_INPUT, "block list line %zu: expected \"%s <value>\"", c->lineno, kw);
	*v = f[1];
	*vn = fl[1];
	return SP_OK;
}

static sp_err parse_entry(cursor *c, sp_block_row *row, char *reason)
{
	const char *line, *f[6];
	size_t n, fl[6], rl;
	sp_err rc;

	if ((rc = next_line(c, &line, &n)) != SP_OK)
		return rc;
	if (!split(line, n, f, fl, 6) || !field_is(f[0], fl[0], "block"))
		return sp_fail(SP_ERR_INPUT,
			       "block list line %zu: expected \"block SHA256|- SHA1|- CREATED SERIAL|- REASON\"", c->lineno);
	row->sha256[0] = row->sha1[0] = '\0';
	if (!field_is(f[1], fl[1], "-")) {
		if (!fp_ok(f[1], fl[1], 64))
			return sp_fail(SP_ERR_INPUT, "block list line %zu: SHA-256 is not 64 lower-case hex digits",
				       c->lineno);
		memcpy(row->sha256, f[1], 64);
		row->sha256[64] = '\0';
	}
	if (!field_is(f[2], fl[2], "-")) {
		if (!fp_ok(f[2], fl[2], 40))
			return sp_fail(SP_ERR_INPUT, "block list line %zu: SHA-1 is not 40 lower-case hex digits", c->lineno);
		memcpy(row->sha1, f[2], 40);
		row->sha1[40] = '\0';
	}
	if (!row->sha256[0] && !row->sha1[0])
		return sp_fail(SP_ERR_INPUT, "block list line %zu: neither a SHA-256 nor a SHA-1 fingerprint", c->lineno);
	if (!iso_parse(f[3], fl[3], &row->created_at))
		return sp_fail(SP_ERR_INPUT, "block list line %zu: time is not YYYY-MM-DDTHH:MM:SSZ", c->lineno);
	if (field_is(f[4], fl[4], "-")) {
		row->serial[0] = '\0';
	} else if (!serial_ok(f[4], fl[4])) {
		return sp_fail(SP_ERR_INPUT, "block list line %zu: serial is not 1..40 upper-case hex digits", c->lineno);
	} else {
		memcpy(row->serial, f[4], fl[4]);
		row->serial[fl[4]] = '\0';
	}
	if (!pct_decode(f[5], fl[5], reason, &rl))
		return sp_fail(SP_ERR_INPUT, "block list line %zu: reason is not percent-encoded as the format says",
			       c->lineno);
	if (sp_block_reason_check(reason, rl, "reason") != SP_OK) {
		char why[256];
		snprintf(why, sizeof why, "%s", sp_last_error()); /* sp_fail writes over it */
		return sp_fail(SP_ERR_INPUT, "block list line %zu: %s", c->lineno, why);
	}
	return SP_OK;
}

static sp_err parse(const char *text, size_t len, const char *issuer_sha256, int64_t *generated_at,
		    sp_block_entry_cb cb, void *arg)
{
	cursor c = {text, text + len, 0};
	const char *line = NULL, *v = NULL; /* set by next_line/header before use; gcc -O3 cannot tell */
	char serial[41], reason[SP_BLOCK_MAX_REASON + 1], empty[1] = "", num[24];
	size_t n = 0, vn = 0;
	int64_t count = 0, gen = 0;
	sp_block_row row;
	sp_err rc;

	/* line 1: magic and version */
	if ((rc = next_line(&c, &line, &n)) != SP_OK)
		return rc;
	if (n < sizeof SP_BLOCK_MAGIC || memcmp(line, SP_BLOCK_MAGIC " ", sizeof SP_BLOCK_MAGIC) != 0)
		return sp_fail(SP_ERR_INPUT, "block list line 1: not a sitepki block list");
	snprintf(num, sizeof num, "%d", SP_BLOCK_VERSION);
	if (!field_is(line + sizeof SP_BLOCK_MAGIC, n - sizeof SP_BLOCK_MAGIC, num))
		return sp_fail(SP_ERR_INPUT, "block list line 1: unsupported format version (this reader knows %d)",
			       SP_BLOCK_VERSION);
	/* line 2: the CA it is for */
	if ((rc = header(&c, "issuer", &v, &vn)) != SP_OK)
		return rc;
	if (!fp_ok(v, vn, 64))
		return sp_fail(SP_ERR_INPUT, "block list line 2: issuer is not a SHA-256 fingerprint");
	if (memcmp(v, issuer_sha256, 64) != 0)
		return sp_fail(SP_ERR_INPUT, "block list line 2: made for the CA certificate %.64s, not this one (%s)", v,
			       issuer_sha256);
	/* line 3: when */
	if ((rc = header(&c, "generated", &v, &vn)) != SP_OK)
		return rc;
	if (!iso_parse(v, vn, &gen))
		return sp_fail(SP_ERR_INPUT, "block list line 3: time is not YYYY-MM-DDTHH:MM:SSZ");
	/* line 4: how many entries follow */
	if ((rc = header(&c, "count", &v, &vn)) != SP_OK)
		return rc;
	if (vn > 9 || (vn > 1 && v[0] == '0'))
		return sp_fail(SP_ERR_INPUT, "block list line 4: count is not a decimal number");
	for (size_t i = 0; i < vn; i++) {
		if (v[i] < '0' || v[i] > '9')
			return sp_fail(SP_ERR_INPUT, "block list line 4: count is not a decimal number");
		count = count * 10 + (v[i] - '0');
	}
	if (count > MAX_COUNT)
		return sp_fail(SP_ERR_INPUT, "block list line 4: count %lld is more than a list can hold", (long long)count);

	memset(&row, 0, sizeof row);
	row.serial = serial;
	row.subject = row.issuer = row.created_by = empty;
	row.reason = reason;
	for (int64_t i = 0; i < count; i++) {
		if (c.p >= c.end)
			return sp_fail(SP_ERR_INPUT, "block list: count says %lld entries, the list has %lld", (long long)count,
				       (long long)i);
		if ((rc = parse_entry(&c, &row, reason)) != SP_OK)
			return rc;
		if (cb) {
			int r = cb(&row, arg);
			if (r > 0 && r <= (int)SP_ERR_AUTH)
				return (sp_err)r; /* the callback's own error, message set */
			if (r != 0)
				return sp_fail(SP_ERR_INTERNAL, "block list walk stopped by its callback (%d)", r);
		}
	}
	if (c.p != c.end)
		return sp_fail(SP_ERR_INPUT, "block list line %zu: more than the %lld entries the count says", c.lineno + 1,
			       (long long)count);
	if (generated_at)
		*generated_at = gen;
	return SP_OK;
}

sp_err sp_block_parse_text(const char *text, size_t len, const char *issuer_sha256, int64_t *generated_at,
			   sp_block_entry_cb cb, void *arg)
{
	sp_err rc;

	if (!text || !issuer_sha256 || strlen(issuer_sha256) != 64)
		return sp_fail(SP_ERR_USAGE, "block list: nothing to parse");
	if (!cb)
		return parse(text, len, issuer_sha256, generated_at, NULL, NULL);
	/* check everything first: a consumer must never act on half a list */
	if ((rc = parse(text, len, issuer_sha256, NULL, NULL, NULL)) != SP_OK)
		return rc;
	return parse(text, len, issuer_sha256, generated_at, cb, arg);
}

/* --------------------------------------------------------------- verify */

/* SHA-256, and a signature algorithm that names the CA key's type: OpenSSL
 * verifies with the key it has and does not read the signatureAlgorithm
 * field, so a wrong one would pass unless checked here. RSA (PKCS #1 v1.5)
 * is written as rsaEncryption in CMS (RFC 3370 3.2). */
static int algs_ok(CMS_SignerInfo *si, X509 *ca_cert)
{
	X509_ALGOR *dig = NULL, *sig = NULL;
	EVP_PKEY *pub = X509_get0_pubkey(ca_cert);
	int sig_nid, md = NID_undef, pk = NID_undef, key_nid;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, &sig);
	if (!dig || !sig || !pub || OBJ_obj2nid(dig->algorithm) != NID_sha256)
		return 0;
	sig_nid = OBJ_obj2nid(sig->algorithm);
	key_nid = EVP_PKEY_get_base_id(pub);
	if (sig_nid == key_nid && key_nid == EVP_PKEY_RSA)
		return 1;
	return OBJ_find_sigid_algs(sig_nid, &md, &pk) && md == NID_sha256 && pk == key_nid;
}

/* What sp_block_sign_text makes and nothing else: DER (the file must be the
 * re-encoding of what was parsed, so a list has one encoding), one signer
 * without unsigned attributes, no CRLs; after the signature,
 * check_signed_envelope adds the algorithms and the certificate carried.
 * What is then left that the signature does not cover (the SignedData and
 * SignerInfo version numbers) cannot change the content or who signed it. */
static sp_err check_envelope(CMS_ContentInfo *cms, const uint8_t *data, size_t len)
{
	STACK_OF(CMS_SignerInfo) *sinfos = CMS_get0_SignerInfos(cms);
	STACK_OF(X509_CRL) *crls = NULL;
	unsigned char *der = NULL;
	int n;
	sp_err rc = SP_OK;

	if ((n = i2d_CMS_ContentInfo(cms, &der)) <= 0 || (size_t)n != len || memcmp(der, data, len) != 0) {
		rc = sp_fail(SP_ERR_INPUT, "block list: not in DER (re-encoded or damaged)");
		goto out;
	}
	if (sk_CMS_SignerInfo_num(sinfos) != 1) {
		rc = sp_fail(SP_ERR_INPUT, "block list: %d signers; exactly one (the CA) expected",
			     sk_CMS_SignerInfo_num(sinfos));
		goto out;
	}
	if (CMS_unsigned_get_attr_count(sk_CMS_SignerInfo_value(sinfos, 0)) > 0) {
		rc = sp_fail(SP_ERR_INPUT, "block list: the signer carries unsigned attributes");
		goto out;
	}
	crls = CMS_get1_crls(cms);
	if (sk_X509_CRL_num(crls) > 0) {
		rc = sp_fail(SP_ERR_INPUT, "block list: carries CRLs");
		goto out;
	}
out:
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	OPENSSL_free(der);
	return rc;
}

/* After the signature: the algorithms named are the ones used, and the only
 * certificate carried is the CA's. */
static sp_err check_signed_envelope(CMS_ContentInfo *cms, X509 *ca_cert)
{
	STACK_OF(X509) *certs = NULL;
	sp_err rc = SP_OK;

	if (!algs_ok(sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0), ca_cert))
		return sp_fail(SP_ERR_INPUT, "block list: the signer does not name SHA-256 and the CA key's algorithm");
	certs = CMS_get1_certs(cms);
	if (sk_X509_num(certs) != 1)
		rc = sp_fail(SP_ERR_INPUT, "block list: carries %d certificates; exactly the CA certificate expected",
			     certs ? sk_X509_num(certs) : 0); /* sk_X509_num(NULL) is -1 */
	else if (X509_cmp(sk_X509_value(certs, 0), ca_cert) != 0)
		rc = sp_fail(SP_ERR_INPUT, "block list: the certificate it carries is not the CA certificate (altered?)");
	sk_X509_pop_free(certs, X509_free);
	return rc;
}

sp_err sp_block_verify(X509 *ca_cert, const uint8_t *data, size_t len, int64_t *generated_at, sp_block_entry_cb cb,
		       void *arg)
{
	const unsigned char *p = data;
	CMS_ContentInfo *cms = NULL;
	ASN1_OCTET_STRING **content;
	STACK_OF(X509) *certs = NULL, *signers = NULL;
	X509_STORE *trust = NULL;
	BIO *out = NULL;
	char issuer[65], *text = NULL;
	long tlen;
	sp_err rc;

	if (!ca_cert || !data)
		return sp_fail(SP_ERR_USAGE, "block list: no CA certificate or no data to verify");
	if (len == 0)
		return sp_fail(SP_ERR_INPUT, "block list: empty file");
	if (len > SP_BLOCK_MAX_EXPORT)
		return sp_fail(SP_ERR_INPUT, "block list: %zu bytes, more than the %u a block list may have", len,
			       (unsigned)SP_BLOCK_MAX_EXPORT);

	/* Structure first, with the length bound and nothing after it. */
	if (!(cms = d2i_CMS_ContentInfo(NULL, &p, (long)len))) {
		rc = sp_fail_ossl(SP_ERR_INPUT, "block list: not a DER CMS structure (truncated or damaged?)");
		goto out;
	}
	if (p != data + len) {
		rc = sp_fail(SP_ERR_INPUT, "block list: %zu bytes after the CMS structure", (size_t)(data + len - p));
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed ||
	    OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		rc = sp_fail(SP_ERR_INPUT, "block list: not CMS SignedData over data");
		goto out;
	}
	if (!(content = CMS_get0_content(cms)) || !*content) {
		rc = sp_fail(SP_ERR_INPUT, "block list: no content (a detached signature is not a block list)");
		goto out;
	}
	if ((rc = check_envelope(cms, data, len)) != SP_OK)
		goto out;

	/* The signer must be ca_cert itself: it is the only certificate the
	 * signer is looked for among (CMS_NOINTERN: not the ones the file
	 * carries) and the only trust anchor (PARTIAL_CHAIN: also when it is an
	 * intermediate). Purpose "any": the CA certificate has keyCertSign and
	 * cRLSign, not the digitalSignature an S/MIME signer would need. */
	if (!(trust = X509_STORE_new()) || X509_STORE_add_cert(trust, ca_cert) != 1 ||
	    X509_STORE_set_flags(trust, X509_V_FLAG_PARTIAL_CHAIN) != 1 ||
	    X509_STORE_set_purpose(trust, X509_PURPOSE_ANY) != 1 || !(certs = sk_X509_new_null()) ||
	    !sk_X509_push(certs, ca_cert) || !(out = BIO_new(BIO_s_mem()))) {
		rc = sp_fail_ossl(SP_ERR_NOMEM, "block list: out of memory");
		goto out;
	}
	if (CMS_verify(cms, certs, trust, NULL, out, CMS_BINARY | CMS_NOINTERN | CMS_NOCRL) != 1) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "block list: signature does not verify against the CA certificate");
		goto out;
	}
	signers = CMS_get0_signers(cms);
	if (sk_X509_num(signers) != 1 || X509_cmp(sk_X509_value(signers, 0), ca_cert) != 0) {
		rc = sp_fail(SP_ERR_CRYPTO, "block list: not signed by this CA");
		goto out;
	}
	if ((rc = check_signed_envelope(cms, ca_cert)) != SP_OK)
		goto out;

	/* Then the content, strictly. */
	if ((tlen = BIO_get_mem_data(out, &text)) < 0 || (tlen > 0 && !text)) {
		rc = sp_fail(SP_ERR_INTERNAL, "block list: content not readable");
		goto out;
	}
	if ((rc = sp_cert_sha256_hex(ca_cert, issuer)) != SP_OK)
		goto out;
	rc = sp_block_parse_text(text ? text : "", (size_t)tlen, issuer, generated_at, cb, arg);
out:
	sk_X509_free(signers);
	sk_X509_free(certs);
	X509_STORE_free(trust);
	BIO_free(out);
	CMS_ContentInfo_free(cms);
	ERR_clear_error();
	return rc;
}
