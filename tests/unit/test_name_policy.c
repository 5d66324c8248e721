/*
 * test_name_policy.c - the single-byte name rule (ca/name_policy.c) against
 * hostile strings in every ASN.1 string type a subject or SAN value can
 * arrive in, and the DNS, UPN and site-code rules.
 *
 * Why every type: a value's ASN.1 type decides how its bytes are decoded
 * (BMPString is UCS-2, UniversalString UCS-4, UTF8String UTF-8, the rest one
 * byte a character). A checker that looks at the raw bytes only, or only at
 * the low byte of a wide character, lets a DBCS name through in one of them.
 * Each hostile character is therefore encoded the way that type carries it,
 * and the refusal message must name the field and the character.
 *
 * Pure functions, no fixtures: every test builds and frees its own strings.
 */
#include "unit.h"

#include <openssl/asn1.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca/ca.h"

#define FIELD "subject CN"

/* ------------------------------------------------------------- helpers */

typedef struct {
	int type;
	const char *name;
	int wide; /* bytes per character: 1, 2 (BMP) or 4 (Universal) */
	int utf8; /* characters above 0x7F are encoded as UTF-8 */
} str_type;

/* Every type sp_name_check_string accepts. A single-byte type carries a
 * character <= 0xFF as that raw byte (Latin-1, what a T61String really
 * holds) and anything higher as UTF-8 bytes (what mislabelled encoders
 * produce). */
static const str_type types[] = {
	{V_ASN1_UTF8STRING, "UTF8String", 1, 1},
	{V_ASN1_BMPSTRING, "BMPString", 2, 0},
	{V_ASN1_UNIVERSALSTRING, "UniversalString", 4, 0},
	{V_ASN1_T61STRING, "T61String", 1, 0},
	{V_ASN1_PRINTABLESTRING, "PrintableString", 1, 0},
	{V_ASN1_IA5STRING, "IA5String", 1, 0},
	{V_ASN1_VISIBLESTRING, "VisibleString", 1, 0},
	{V_ASN1_NUMERICSTRING, "NumericString", 1, 0},
};
#define N_TYPES (sizeof types / sizeof types[0])

static size_t put_utf8(unsigned long cp, unsigned char *o)
{
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Encode one character the way `st` carries it. */
static size_t put_char(const str_type *st, unsigned long cp, unsigned char *o)
{
	switch (st->wide) {
	case 2:
		o[0] = (unsigned char)(cp >> 8);
		o[1] = (unsigned char)cp;
		return 2;
	case 4:
		o[0] = (unsigned char)(cp >> 24);
		o[1] = (unsigned char)(cp >> 16);
		o[2] = (unsigned char)(cp >> 8);
		o[3] = (unsigned char)cp;
		return 4;
	default:
		if (cp < 0x80 || (!st->utf8 && cp <= 0xFF)) {
			o[0] = (unsigned char)cp;
			return 1;
		}
		return put_utf8(cp, o);
	}
}

static ASN1_STRING *raw_string(int type, const void *bytes, size_t len)
{
	ASN1_STRING *s = ASN1_STRING_type_new(type);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_FATAL(ASN1_STRING_set(s, bytes, (int)len) == 1);
	return s;
}

/* prefix + cp + suffix, each character encoded for `st`. */
static ASN1_STRING *make_string(const str_type *st, const char *prefix, unsigned long cp, const char *suffix)
{
	unsigned char buf[256];
	size_t n = 0;
	for (const char *p = prefix; *p; p++)
		n += put_char(st, (unsigned char)*p, buf + n);
	n += put_char(st, cp, buf + n);
	for (const char *p = suffix; *p; p++)
		n += put_char(st, (unsigned char)*p, buf + n);
	CU_ASSERT_FATAL(n < sizeof buf);
	return raw_string(st->type, buf, n);
}

static ASN1_STRING *make_ascii(const str_type *st, const char *text)
{
	unsigned char buf[256];
	size_t n = 0;
	for (const char *p = text; *p; p++)
		n += put_char(st, (unsigned char)*p, buf + n);
	return raw_string(st->type, buf, n);
}

static int msg_has(const char *needle, const char *ctx)
{
	if (strstr(sp_last_error(), needle))
		return 1;
	printf("\n    [%s] message '%s' lacks '%s'", ctx, sp_last_error(), needle);
	return 0;
}

/* The message is one printable line: it ends up in logs and terminals. */
static int msg_printable(void)
{
	for (const unsigned char *p = (const unsigned char *)sp_last_error(); *p; p++)
		if (*p < 0x20 || *p >= 0x7F) {
			printf("\n    message has byte 0x%02X: '%s'", *p, sp_last_error());
			return 0;
		}
	return 1;
}

/* Refused with SP_ERR_POLICY, the message naming the field and `needle`. */
static void expect_refused(const ASN1_STRING *s, const char *needle, const char *ctx)
{
	sp_clear_error();
	sp_err rc = sp_name_check_string(s, FIELD);
	if (rc != SP_ERR_POLICY)
		printf("\n    [%s] expected policy refusal, got %s", ctx, sp_err_name(rc));
	CU_ASSERT_EQUAL(rc, SP_ERR_POLICY);
	CU_ASSERT(msg_has(FIELD, ctx));
	CU_ASSERT(msg_has(needle, ctx));
	CU_ASSERT(msg_printable());
}

static void expect_accepted(const ASN1_STRING *s, const char *ctx)
{
	sp_err rc = sp_name_check_string(s, FIELD);
	if (rc != SP_OK)
		printf("\n    [%s] refused: %s", ctx, sp_last_error());
	CU_ASSERT_EQUAL(rc, SP_OK);
}

/* Every type: "ab" + cp + "cd" is refused and the message contains the
 * expected text (which carries the position, 3). */
static void refuse_char_everywhere(unsigned long cp, const char *needle)
{
	for (size_t i = 0; i < N_TYPES; i++) {
		char ctx[80];
		ASN1_STRING *s = make_string(&types[i], "ab", cp, "cd");
		snprintf(ctx, sizeof ctx, "%s U+%04lX", types[i].name, cp);
		expect_refused(s, needle, ctx);
		ASN1_STRING_free(s);
	}
}

/* ------------------------------------------------- sp_name_check_string */

static void test_ascii_accepted_every_type(void)
{
	for (size_t i = 0; i < N_TYPES; i++) {
		/* digits and a space: a valid value of every type, NumericString
		 * included; and a richer one for the rest */
		ASN1_STRING *a = make_ascii(&types[i], "0123 4567");
		ASN1_STRING *b = make_ascii(&types[i], "Host-01.corp.example (Site P01)");
		expect_accepted(a, types[i].name);
		expect_accepted(b, types[i].name);
		ASN1_STRING_free(a);
		ASN1_STRING_free(b);
	}
}

static void test_wide_pure_ascii_accepted(void)
{
	/* the wide types are fine as long as every character is ASCII:
	 * 00 41 ... and 00 00 00 41 ... */
	static const unsigned char bmp[] = {0, 'W', 0, 'e', 0, 'b', 0, ' ', 0, '~'};
	static const unsigned char uni[] = {0, 0, 0, 'W', 0, 0, 0, 'e', 0, 0, 0, 'b', 0, 0, 0, '~'};
	ASN1_STRING *b = raw_string(V_ASN1_BMPSTRING, bmp, sizeof bmp);
	ASN1_STRING *u = raw_string(V_ASN1_UNIVERSALSTRING, uni, sizeof uni);
	expect_accepted(b, "BMPString ascii");
	expect_accepted(u, "UniversalString ascii");
	ASN1_STRING_free(b);
	ASN1_STRING_free(u);
}

static void test_cjk_refused_every_type(void)
{
	/* U+4E2D (中): the DBCS name Configuration Manager cannot take */
	refuse_char_everywhere(0x4E2D, "character 3 is U+4E2D");
}

static void test_latin1_refused_every_type(void)
{
	/* é: UTF-8 C3 A9 in a UTF8String, raw E9 in the single-byte types */
	refuse_char_everywhere(0xE9, "character 3 is U+00E9");
}

static void test_fullwidth_refused_every_type(void)
{
	/* U+FF21 FULLWIDTH LATIN CAPITAL LETTER A: looks like 'A' */
	refuse_char_everywhere(0xFF21, "character 3 is U+FF21");
}

static void test_astral_refused_wide_types(void)
{
	/* a character outside the BMP in the types that can carry it */
	ASN1_STRING *u = make_string(&types[2], "ab", 0x1F600, "cd");
	ASN1_STRING *s = make_string(&types[0], "ab", 0x1F600, "cd");
	expect_refused(u, "U+1F600", "UniversalString astral");
	expect_refused(s, "U+1F600", "UTF8String astral");
	ASN1_STRING_free(u);
	ASN1_STRING_free(s);
}

static void test_wide_high_byte_refused(void)
{
	/* The low byte is ASCII but a higher byte is set: a checker that
	 * looks only at every second/fourth byte would accept these. */
	static const unsigned char bmp[] = {0, 'a', 0x41, 0x41, 0, 'b'};
	static const unsigned char uni1[] = {0, 0, 0, 'a', 0, 1, 0, 0x41};
	static const unsigned char uni2[] = {0x41, 0, 0, 0x41};
	static const unsigned char uni3[] = {0xFF, 0xFF, 0xFF, 0xFF};
	ASN1_STRING *a = raw_string(V_ASN1_BMPSTRING, bmp, sizeof bmp);
	ASN1_STRING *b = raw_string(V_ASN1_UNIVERSALSTRING, uni1, sizeof uni1);
	ASN1_STRING *c = raw_string(V_ASN1_UNIVERSALSTRING, uni2, sizeof uni2);
	ASN1_STRING *d = raw_string(V_ASN1_UNIVERSALSTRING, uni3, sizeof uni3);
	expect_refused(a, "character 2 is U+4141", "BMP 4141");
	expect_refused(b, "character 2 is U+10041", "Universal 10041");
	expect_refused(c, "U+41000041", "Universal 41000041");
	expect_refused(d, "U+FFFFFFFF", "Universal FFFFFFFF");
	ASN1_STRING_free(a);
	ASN1_STRING_free(b);
	ASN1_STRING_free(c);
	ASN1_STRING_free(d);
}

static void test_bmp_surrogates_refused(void)
{
	/* a UTF-16 surrogate pair in a BMPString (UCS-2 has none) */
	static const unsigned char bmp[] = {0, 'a', 0xD8, 0x3D, 0xDE, 0x00};
	ASN1_STRING *s = raw_string(V_ASN1_BMPSTRING, bmp, sizeof bmp);
	expect_refused(s, "character 2 is U+D83D", "BMP surrogate");
	ASN1_STRING_free(s);
}

static void test_dbcs_raw_bytes_refused(void)
{
	/* 中 as Shift-JIS (92 86) and as GBK (D6 D0): raw lead + trail bytes
	 * in a T61String, a UTF8String (invalid UTF-8 there) and the other
	 * single-byte types. The trail byte of Shift-JIS may even be ASCII
	 * (e.g. 83 5C "ソ"): the lead byte alone must stop it. */
	static const unsigned char sjis[] = {'a', 'b', 0x92, 0x86, 'c'};
	static const unsigned char gbk[] = {'a', 'b', 0xD6, 0xD0, 'c'};
	static const unsigned char sjis_5c[] = {'a', 'b', 0x83, 0x5C, 'c'};
	static const int single[] = {V_ASN1_T61STRING, V_ASN1_UTF8STRING, V_ASN1_IA5STRING, V_ASN1_PRINTABLESTRING,
				     V_ASN1_VISIBLESTRING, V_ASN1_NUMERICSTRING};
	for (size_t i = 0; i < sizeof single / sizeof single[0]; i++) {
		ASN1_STRING *a = raw_string(single[i], sjis, sizeof sjis);
		ASN1_STRING *b = raw_string(single[i], gbk, sizeof gbk);
		ASN1_STRING *c = raw_string(single[i], sjis_5c, sizeof sjis_5c);
		expect_refused(a, "character 3 is U+0092", ASN1_tag2str(single[i]));
		expect_refused(b, "character 3 is U+00D6", ASN1_tag2str(single[i]));
		expect_refused(c, "character 3 is U+0083", ASN1_tag2str(single[i]));
		ASN1_STRING_free(a);
		ASN1_STRING_free(b);
		ASN1_STRING_free(c);
	}
}

static void test_invalid_utf8_refused(void)
{
	/* overlong '/', overlong NUL, a lone continuation byte, a truncated
	 * sequence at the end, and a UTF-8-encoded surrogate */
	static const unsigned char overlong_slash[] = {'a', 0xC0, 0xAF};
	static const unsigned char overlong_nul[] = {'a', 0xC0, 0x80};
	static const unsigned char lone_cont[] = {'a', 0x80};
	static const unsigned char truncated[] = {'a', 0xE4, 0xB8};
	static const unsigned char surrogate[] = {'a', 0xED, 0xA0, 0x80};
	const struct {
		const unsigned char *b;
		size_t n;
	} cases[] = {{overlong_slash, sizeof overlong_slash},
		     {overlong_nul, sizeof overlong_nul},
		     {lone_cont, sizeof lone_cont},
		     {truncated, sizeof truncated},
		     {surrogate, sizeof surrogate}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ASN1_STRING *s = raw_string(V_ASN1_UTF8STRING, cases[i].b, cases[i].n);
		expect_refused(s, "character 2 is U+", "bad utf-8");
		ASN1_STRING_free(s);
	}
}

static void test_nul_refused_every_type(void)
{
	refuse_char_everywhere(0x00, "NUL character at position 3");
}

static void test_controls_refused_every_type(void)
{
	refuse_char_everywhere(0x09, "control character 0x09 at position 3"); /* TAB */
	refuse_char_everywhere(0x0A, "control character 0x0A at position 3"); /* LF */
	refuse_char_everywhere(0x0D, "control character 0x0D at position 3"); /* CR */
	refuse_char_everywhere(0x1B, "control character 0x1B at position 3"); /* ESC */
	refuse_char_everywhere(0x7F, "control character 0x7F at position 3"); /* DEL */
	/* C1 controls are not ASCII at all */
	refuse_char_everywhere(0x85, "character 3 is U+0085"); /* NEL */
	refuse_char_everywhere(0x9B, "character 3 is U+009B"); /* CSI */
}

static void test_bmp_odd_length_refused(void)
{
	static const unsigned char odd1[] = {0};
	static const unsigned char odd3[] = {0, 'a', 0};
	static const unsigned char odd5[] = {0, 'a', 0, 'b', 'c'};
	ASN1_STRING *a = raw_string(V_ASN1_BMPSTRING, odd1, sizeof odd1);
	ASN1_STRING *b = raw_string(V_ASN1_BMPSTRING, odd3, sizeof odd3);
	ASN1_STRING *c = raw_string(V_ASN1_BMPSTRING, odd5, sizeof odd5);
	expect_refused(a, "malformed BMPString", "bmp 1");
	expect_refused(b, "malformed BMPString", "bmp 3");
	expect_refused(c, "malformed BMPString", "bmp 5");
	ASN1_STRING_free(a);
	ASN1_STRING_free(b);
	ASN1_STRING_free(c);
}

static void test_universal_bad_length_refused(void)
{
	static const unsigned char bytes[] = {0, 0, 0, 'a', 0, 0, 0};
	for (size_t n = 1; n <= sizeof bytes; n++) {
		char ctx[40];
		ASN1_STRING *s;
		if (n % 4 == 0)
			continue;
		s = raw_string(V_ASN1_UNIVERSALSTRING, bytes, n);
		snprintf(ctx, sizeof ctx, "universal len %zu", n);
		expect_refused(s, "malformed UniversalString", ctx);
		ASN1_STRING_free(s);
	}
}

static void test_empty_refused_every_type(void)
{
	for (size_t i = 0; i < N_TYPES; i++) {
		ASN1_STRING *s = raw_string(types[i].type, "", 0);
		expect_refused(s, "empty value", types[i].name);
		ASN1_STRING_free(s);
	}
}

static void test_unsupported_type_refused(void)
{
	/* right bytes, wrong type: the rule is per type, and a type it cannot
	 * decode (or that is not a name at all) is refused, not guessed */
	static const int bad[] = {V_ASN1_OCTET_STRING, V_ASN1_GENERALSTRING, V_ASN1_VIDEOTEXSTRING,
				  V_ASN1_GRAPHICSTRING, V_ASN1_BIT_STRING, V_ASN1_UTCTIME,
				  V_ASN1_INTEGER};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ASN1_STRING *s = raw_string(bad[i], "host", 4);
		expect_refused(s, "is not allowed in names", ASN1_tag2str(bad[i]));
		ASN1_STRING_free(s);
	}
}

static void test_position_counts_characters(void)
{
	/* the position is in characters, not bytes, in the wide types */
	ASN1_STRING *b = make_string(&types[1], "abcdef", 0x4E2D, "");
	ASN1_STRING *u = make_string(&types[2], "abcdef", 0x4E2D, "");
	ASN1_STRING *s = make_string(&types[0], "abcdef", 0x4E2D, "");
	expect_refused(b, "character 7 is U+4E2D", "bmp position");
	expect_refused(u, "character 7 is U+4E2D", "universal position");
	expect_refused(s, "character 7 is U+4E2D", "utf8 position");
	ASN1_STRING_free(b);
	ASN1_STRING_free(u);
	ASN1_STRING_free(s);
}

/* -------------------------------------------------- sp_name_check_ascii */

static void test_ascii_bytes(void)
{
	CU_ASSERT_EQUAL(sp_name_check_ascii("plain text", 10, "f"), SP_OK);
	/* the length is authoritative: a NUL inside it is refused, not a
	 * terminator */
	CU_ASSERT_EQUAL(sp_name_check_ascii("ab\0cd", 5, "f"), SP_ERR_POLICY);
	CU_ASSERT(msg_has("NUL character at position 3", "ascii nul"));
	CU_ASSERT_EQUAL(sp_name_check_ascii("ab\xc3\xa9", 4, "CA name"), SP_ERR_POLICY);
	CU_ASSERT(msg_has("CA name: character 3 is U+00E9", "ascii utf8"));
	CU_ASSERT_EQUAL(sp_name_check_ascii("\xe4\xb8\xad", 3, "f"), SP_ERR_POLICY);
	CU_ASSERT(msg_has("character 1 is U+4E2D", "ascii cjk"));
	CU_ASSERT_EQUAL(sp_name_check_ascii("a\x7f", 2, "f"), SP_ERR_POLICY);
	CU_ASSERT(msg_has("0x7F", "ascii del"));
	/* zero length is not this function's business (callers check) */
	CU_ASSERT_EQUAL(sp_name_check_ascii("", 0, "f"), SP_OK);
}

/* ---------------------------------------------------- sp_name_check_dns */

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* labels of 63 characters joined by dots, cut to exactly `len`
 * characters, never ending in a dot */
static char *dns_of_len(size_t len)
{
	char *s = repeat('a', len);
	for (size_t i = 63; i < len; i += 64)
		s[i] = '.';
	CU_ASSERT_FATAL(s[len - 1] != '.');
	return s;
}

static void dns_ok(const char *name)
{
	sp_err rc = sp_name_check_dns(name, "--dns");
	if (rc != SP_OK)
		printf("\n    '%s' refused: %s", name, sp_last_error());
	CU_ASSERT_EQUAL(rc, SP_OK);
}

static void dns_bad(const char *name, const char *needle)
{
	sp_err rc = sp_name_check_dns(name, "--dns");
	if (rc != SP_ERR_POLICY)
		printf("\n    '%s' not refused (%s)", name, sp_err_name(rc));
	CU_ASSERT_EQUAL(rc, SP_ERR_POLICY);
	CU_ASSERT(msg_has("--dns", name));
	CU_ASSERT(msg_has(needle, name));
	CU_ASSERT(msg_printable());
}

static void test_dns_accepted(void)
{
	char *l63 = repeat('a', 63), name63[80], *n253 = dns_of_len(253);
	snprintf(name63, sizeof name63, "%s.example", l63);
	dns_ok("host.example");
	dns_ok("a-b.example");
	dns_ok("xn--bcher-kva.example"); /* bücher as an A-label */
	dns_ok("XN--BCHER-KVA.EXAMPLE"); /* the A-label prefix is case-insensitive */
	dns_ok("a.b");
	dns_ok("123.example"); /* RFC 1123 2.1: labels may start with a digit */
	dns_ok("localhost");   /* one label is a name (intranet short names) */
	dns_ok("Mixed-Case.Example");
	dns_ok(name63);
	CU_ASSERT_EQUAL(strlen(n253), 253);
	dns_ok(n253);
	free(l63);
	free(n253);
}

static void test_dns_refused(void)
{
	char *l64 = repeat('a', 64), name64[90], *n254 = dns_of_len(254), *huge = dns_of_len(5000);
	snprintf(name64, sizeof name64, "%s.example", l64);

	dns_bad("", "not a DNS name");
	dns_bad("-a.example", "may not start or end with '-'");
	dns_bad("a-.example", "may not start or end with '-'");
	dns_bad("a.-b", "may not start or end with '-'");
	dns_bad("a..b", "empty or over-long");
	dns_bad(".example", "empty or over-long");
	/* Trailing dot: the code treats the root label as an empty label, so
	 * an absolute name "host.example." is refused (a certificate's
	 * dNSName is written without it, RFC 5280 4.2.1.6 "preferred name
	 * syntax"). */
	dns_bad("host.example.", "empty or over-long");
	dns_bad(".", "empty or over-long");
	dns_bad(name64, "over-long (>63) label");
	CU_ASSERT_EQUAL(strlen(n254), 254);
	dns_bad(n254, "1 to 253 characters");
	/* (the message echoes the whole name and is cut at the buffer size
	 * before the reason: only the field is checked here) */
	dns_bad(huge, "--dns: '");
	dns_bad("under_score.example", "not an LDH host name");
	dns_bad("sp ace.example", "not an LDH host name");
	dns_bad("host.example/path", "not an LDH host name");
	dns_bad("user@host.example", "not an LDH host name");
	dns_bad("b\xc3\xbc"
		"cher.example",
		"character 2 is U+00FC");
	dns_bad("\xef\xbc\xa1.example", "U+FF21"); /* fullwidth A */
	dns_bad("host\texample", "control character 0x09");
	dns_bad("*.example", "wildcard");
	dns_bad("*", "wildcard");
	dns_bad("a.*.example", "not an LDH host name");
	dns_bad("ab--cd.example", "only for xn-- labels");
	dns_bad("host.ab--cd", "only for xn-- labels");
	free(l64);
	free(n254);
	free(huge);
}

/* ---------------------------------------------------- sp_name_check_upn */

static void upn_bad(const char *upn, const char *needle)
{
	sp_err rc = sp_name_check_upn(upn, "--upn");
	if (rc != SP_ERR_POLICY)
		printf("\n    '%s' not refused (%s)", upn, sp_err_name(rc));
	CU_ASSERT_EQUAL(rc, SP_ERR_POLICY);
	CU_ASSERT(msg_has("--upn", upn));
	CU_ASSERT(msg_has(needle, upn));
	CU_ASSERT(msg_printable());
}

static void test_upn(void)
{
	char *long_user = repeat('u', 250), long_upn[300];
	snprintf(long_upn, sizeof long_upn, "%s@corp.example", long_user);

	CU_ASSERT_EQUAL(sp_name_check_upn("user@corp.example", "--upn"), SP_OK);
	CU_ASSERT_EQUAL(sp_name_check_upn("first.last+tag@corp.example", "--upn"), SP_OK);
	CU_ASSERT_EQUAL(sp_name_check_upn("u@localhost", "--upn"), SP_OK);

	upn_bad("user", "not a user principal name");
	upn_bad("", "not a user principal name");
	upn_bad("@corp.example", "not a user principal name");
	upn_bad("us er@corp.example", "may not contain spaces or '@'");
	upn_bad("a@b@c.example", "may not contain spaces or '@'");
	upn_bad("us\xc3\xa9r@corp.example", "U+00E9");
	upn_bad("user@b\xc3\xbc"
		"cher.example",
		"U+00FC");
	upn_bad("us\ter@corp.example", "control character 0x09");
	/* the domain goes through the DNS rule, named as the UPN's domain */
	upn_bad("user@", "--upn domain");
	upn_bad("user@-corp.example", "--upn domain");
	upn_bad("user@under_score.example", "--upn domain");
	upn_bad(long_upn, "not a user principal name");
	free(long_user);
}

/* ---------------------------------------------- sp_name_check_site_code */

static void test_site_code(void)
{
	CU_ASSERT_EQUAL(sp_name_check_site_code("ABC"), SP_OK);
	CU_ASSERT_EQUAL(sp_name_check_site_code("P01"), SP_OK);
	CU_ASSERT_EQUAL(sp_name_check_site_code("007"), SP_OK);

	static const char *const bad[] = {"AB", "ABCD", "A-C", "", "A C", "AB\xc3", "\xc3\xa9X", "AB\n", "AB_",
					  ("A\x1b" "C")};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CU_ASSERT_EQUAL(sp_name_check_site_code(bad[i]), SP_ERR_POLICY);
		CU_ASSERT(msg_has("must be exactly three ASCII letters or digits", bad[i]));
	}
	CU_ASSERT_EQUAL(sp_name_check_site_code(NULL), SP_ERR_POLICY);
	CU_ASSERT(msg_has("site code ''", "NULL"));
}

static void test_site_code_message_printable(void)
{
	/* The refusal echoes the value; a value from the command line or a
	 * request must not carry terminal escapes into logs. */
	CU_ASSERT_EQUAL(sp_name_check_site_code("\x1b[2J"), SP_ERR_POLICY);
	CU_ASSERT(msg_printable());
	CU_ASSERT_EQUAL(sp_name_check_site_code("A\x1b" "C"), SP_ERR_POLICY);
	CU_ASSERT(msg_printable());
}

/* ----------------------------------------------------------------- table */

static const sp_unit_test string_tests[] = {
	{"ascii accepted in every type", test_ascii_accepted_every_type},
	{"BMP/Universal pure ASCII accepted", test_wide_pure_ascii_accepted},
	{"CJK U+4E2D refused in every type", test_cjk_refused_every_type},
	{"Latin-1 e-acute refused in every type", test_latin1_refused_every_type},
	{"fullwidth U+FF21 refused in every type", test_fullwidth_refused_every_type},
	{"astral character refused", test_astral_refused_wide_types},
	{"wide type with a high byte set refused", test_wide_high_byte_refused},
	{"BMPString surrogates refused", test_bmp_surrogates_refused},
	{"DBCS lead/trail raw bytes refused", test_dbcs_raw_bytes_refused},
	{"invalid UTF-8 refused", test_invalid_utf8_refused},
	{"NUL refused in every type", test_nul_refused_every_type},
	{"controls refused in every type", test_controls_refused_every_type},
	{"odd-length BMPString refused", test_bmp_odd_length_refused},
	{"UniversalString length %4 refused", test_universal_bad_length_refused},
	{"empty refused in every type", test_empty_refused_every_type},
	{"unsupported ASN.1 types refused", test_unsupported_type_refused},
	{"position counts characters", test_position_counts_characters},
	{"sp_name_check_ascii", test_ascii_bytes},
	{NULL, NULL},
};

static const sp_unit_test rule_tests[] = {
	{"DNS accepted", test_dns_accepted},
	{"DNS refused", test_dns_refused},
	{"UPN", test_upn},
	{"site code", test_site_code},
	{"site code refusal is printable", test_site_code_message_printable},
	{NULL, NULL},
};

const sp_unit_suite sp_unit_suites[] = {
	{"name_policy.string", string_tests},
	{"name_policy.rules", rule_tests},
	{NULL, NULL},
};
