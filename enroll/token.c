/*
 * token.c - one-time enrollment tokens: creation, the check an EST request
 * passes, and the hand-back or spend after the signer answered
 * (docs/enrollment.md).
 *
 * Only the SHA-256 of a secret is stored. A fast hash is enough: the secret
 * is 256 bits from the CSPRNG, so there is nothing to guess that a slow hash
 * would protect. What the check must not leak is timing: the digest of the
 * offered secret is computed and compared in constant time whether or not
 * the token id exists, and a token's state (used, expired, template, names)
 * is only told to a caller who holds its secret.
 */
#include "enroll/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ca/ca.h"

#define TOKEN_RAND_BYTES 32
#define MAX_UPN 255      /* the signer's limit on a request-context string */
#define MAX_SUBJECT 1024 /* of the one-line form */

/* Attribute types a subject may bind: the ones templates know. */
static const char *const subject_types[] = {"C", "ST", "L", "O", "OU", "CN", "DC", "serialNumber"};

/* ------------------------------------------------------------ subject */

static int hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* One RFC 2253 attribute value: "\\," style and "\\2C" style escapes. */
static sp_err unescape_value(const char *in, size_t len, char *out, size_t outsz, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '\\') {
			if (i + 1 >= len)
				return sp_fail(SP_ERR_INPUT, "subject: a '\\' ends a value");
			if (i + 2 < len && hex_digit(in[i + 1]) && hex_digit(in[i + 2])) {
				char hx[3] = {in[i + 1], in[i + 2], '\0'};
				c = (unsigned char)strtoul(hx, NULL, 16);
				i += 2;
			} else {
				c = (unsigned char)in[++i];
			}
		}
		if (o + 1 >= outsz)
			return sp_fail(SP_ERR_INPUT, "subject: a value is too long");
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*outlen = o;
	return SP_OK;
}

/* "CN=pc1.corp.example, O=Contoso" (RFC 2253: most specific first) into an
 * X509_NAME (least specific first, as a CSR carries it), so that its
 * one-line form is what sp_name_oneline() prints for a CSR with that
 * subject. One attribute per RDN; every value passes the single-byte rule. */
static sp_err parse_subject(const char *in, X509_NAME **out)
{
	X509_NAME *name = X509_NAME_new();
	char type[32], value[256];
	const char *p = in;
	sp_err rc = SP_OK;

	*out = NULL;
	if (!name)
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	while (rc == SP_OK) {
		const char *eq, *end, *vs, *ve;
		size_t tl, vlen = 0;
		int nid = NID_undef, esc = 0;

		while (*p == ' ')
			p++;
		if (!(eq = strchr(p, '='))) {
			rc = sp_fail(SP_ERR_INPUT, "subject '%s': expected TYPE=value[,TYPE=value]...", in);
			break;
		}
		/* the value ends at the first unescaped ',' */
		for (end = eq + 1; *end && (esc || *end != ','); end++) {
			if (!esc && *end == '+') {
				rc = sp_fail(SP_ERR_INPUT, "subject '%s': multi-valued RDNs ('+') are not supported", in);
				break;
			}
			esc = !esc && *end == '\\';
		}
		if (rc != SP_OK)
			break;
		tl = (size_t)(eq - p);
		while (tl > 0 && p[tl - 1] == ' ')
			tl--;
		if (tl == 0 || tl >= sizeof type) {
			rc = sp_fail(SP_ERR_INPUT, "subject '%s': missing or over-long attribute type", in);
			break;
		}
		memcpy(type, p, tl);
		type[tl] = '\0';
		for (size_t i = 0; i < sizeof subject_types / sizeof subject_types[0]; i++)
			if (!strcasecmp(type, subject_types[i]))
				nid = OBJ_sn2nid(subject_types[i]);
		if (nid == NID_undef) {
			rc = sp_fail(SP_ERR_INPUT, "subject attribute '%s' is not supported (C, ST, L, O, OU, CN, DC, serialNumber)",
				     type);
			break;
		}
		vs = eq + 1;
		while (*vs == ' ')
			vs++;
		ve = end;
		/* trailing blanks are dropped unless escaped ("\\ ") */
		while (ve > vs && ve[-1] == ' ' && !(ve - 1 > vs && ve[-2] == '\\'))
			ve--;
		if (ve == vs) {
			rc = sp_fail(SP_ERR_POLICY, "subject %s: empty value", OBJ_nid2sn(nid));
			break;
		}
		if ((rc = unescape_value(vs, (size_t)(ve - vs), value, sizeof value, &vlen)) != SP_OK)
			break;
		{
			/* the unescaped length: a "\\00" must meet the rule too */
			char field[48];
			snprintf(field, sizeof field, "subject %s", OBJ_nid2sn(nid));
			if ((rc = sp_name_check_ascii(value, vlen, field)) != SP_OK)
				break;
		}
		/* loc 0: each attribute goes in front of the ones before it */
		if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_ASC, (const unsigned char *)value, -1, 0, 0)) {
			rc = sp_fail_ossl(SP_ERR_INPUT, "subject %s '%s'", OBJ_nid2sn(nid), value);
			break;
		}
		if (!*end)
			break;
		p = end + 1;
	}
	if (rc == SP_OK)
		*out = name;
	else
		X509_NAME_free(name);
	return rc;
}

/* ------------------------------------------------------------- create */

static int valid_template_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* The bound dNSNames, checked and merged, as "a,b" (malloc'd). */
static sp_err join_dns(const sp_token_spec *spec, char **out)
{
	size_t cap = 1, n = 0;
	char *s;
	sp_err rc;

	*out = NULL;
	if (spec->n_dns > SP_TOKEN_MAX_DNS)
		return sp_fail(SP_ERR_POLICY, "a token binds at most %d DNS names", SP_TOKEN_MAX_DNS);
	for (size_t i = 0; i < spec->n_dns; i++) {
		if (!spec->dns[i])
			return sp_fail(SP_ERR_INPUT, "token DNS name %zu is missing", i + 1);
		if ((rc = sp_name_check_ascii(spec->dns[i], strlen(spec->dns[i]), "token DNS name")) != SP_OK ||
		    (rc = sp_name_check_dns(spec->dns[i], "token DNS name")) != SP_OK)
			return rc;
		cap += strlen(spec->dns[i]) + 1;
	}
	if (!(s = malloc(cap)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	s[0] = '\0';
	for (size_t i = 0; i < spec->n_dns; i++) {
		int dup = 0;
		for (size_t j = 0; j < i; j++)
			if (!strcasecmp(spec->dns[i], spec->dns[j]))
				dup = 1;
		if (dup)
			continue;
		n += (size_t)snprintf(s + n, cap - n, "%s%s", n ? "," : "", spec->dns[i]);
	}
	*out = s;
	return SP_OK;
}

/* 32 random bytes as base64url without padding (43 characters). */
static sp_err make_secret(char **out)
{
	unsigned char raw[TOKEN_RAND_BYTES];
	unsigned char b64[48];
	char *s;
	int n;

	*out = NULL;
	if (RAND_priv_bytes(raw, sizeof raw) != 1)
		return sp_fail_ossl(SP_ERR_CRYPTO, "no random bytes for the token");
	n = EVP_EncodeBlock(b64, raw, (int)sizeof raw);
	OPENSSL_cleanse(raw, sizeof raw);
	if (n != 44 || !(s = malloc(SP_TOKEN_SECRET_LEN + 1))) {
		OPENSSL_cleanse(b64, sizeof b64);
		return n != 44 ? sp_fail(SP_ERR_INTERNAL, "base64 of the token secret is %d characters", n)
			       : sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < SP_TOKEN_SECRET_LEN; i++)
		s[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : (char)b64[i];
	s[SP_TOKEN_SECRET_LEN] = '\0';
	OPENSSL_cleanse(b64, sizeof b64);
	*out = s;
	return SP_OK;
}

static void secret_hash_hex(const char *secret, char out[65])
{
	uint8_t md[32];
	sp_sha256(secret, strlen(secret), md);
	sp_hex(md, sizeof md, out, 0);
	OPENSSL_cleanse(md, sizeof md);
}

sp_err sp_token_create(sp_store *st, const sp_token_spec *spec, const char *actor, int64_t *id_out, char **secret_out)
{
	sp_token_row row;
	X509_NAME *name = NULL;
	char *subject = NULL, *dns = NULL, *secret = NULL, *detail = NULL, subj_audit[32], exp[32];
	int64_t id = 0;
	size_t dlen;
	int in_txn = 0;
	sp_err rc;

	memset(&row, 0, sizeof row);
	if (id_out)
		*id_out = 0;
	if (secret_out)
		*secret_out = NULL;
	if (!spec || !secret_out) {
		rc = sp_fail(SP_ERR_INTERNAL, "sp_token_create: missing argument");
		goto out;
	}
	if (!valid_template_name(spec->template_name)) {
		rc = sp_fail(SP_ERR_INPUT, "invalid template name \"%s\": expected [a-z0-9][a-z0-9-]*",
			     spec->template_name ? spec->template_name : "");
		goto out;
	}
	if (spec->ttl_seconds < SP_TOKEN_TTL_MIN || spec->ttl_seconds > SP_TOKEN_TTL_MAX) {
		rc = sp_fail(SP_ERR_INPUT, "token lifetime %lld s is outside %lld s .. 30 days", (long long)spec->ttl_seconds,
			     (long long)SP_TOKEN_TTL_MIN);
		goto out;
	}
	if ((!spec->subject || !*spec->subject) && spec->n_dns == 0 && (!spec->upn || !*spec->upn)) {
		rc = sp_fail(SP_ERR_USAGE, "a token must bind at least one name: a subject, a DNS name or a UPN");
		goto out;
	}
	if (spec->subject && *spec->subject) {
		if ((rc = parse_subject(spec->subject, &name)) != SP_OK)
			goto out;
		if (!(subject = sp_name_oneline(name))) {
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (strlen(subject) > MAX_SUBJECT) {
			rc = sp_fail(SP_ERR_INPUT, "token subject is longer than %d characters", MAX_SUBJECT);
			goto out;
		}
	}
	if ((rc = join_dns(spec, &dns)) != SP_OK)
		goto out;
	if (spec->upn && *spec->upn) {
		if ((rc = sp_name_check_ascii(spec->upn, strlen(spec->upn), "token UPN")) != SP_OK ||
		    (rc = sp_name_check_upn(spec->upn, "token UPN")) != SP_OK)
			goto out;
		if (strlen(spec->upn) > MAX_UPN) {
			rc = sp_fail(SP_ERR_POLICY, "token UPN is longer than %d characters", MAX_UPN);
			goto out;
		}
	}
	if ((rc = make_secret(&secret)) != SP_OK)
		goto out;
	secret_hash_hex(secret, row.secret_sha256);
	row.template_name = (char *)spec->template_name;
	row.subject = subject ? subject : (char *)"";
	row.dns = dns;
	row.upn = (char *)(spec->upn ? spec->upn : "");
	row.created_by = (char *)(actor ? actor : "");
	row.created_at = (int64_t)time(NULL);
	row.expires_at = row.created_at + spec->ttl_seconds;
	row.state = SP_TOKEN_UNUSED;

	sp_time_iso(row.expires_at, exp, sizeof exp);
	dlen = strlen(row.template_name) + strlen(row.subject) + strlen(row.dns) + strlen(row.upn) + 128;
	if (!(detail = malloc(dlen))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sp_store_begin(st)) != SP_OK)
		goto out;
	in_txn = 1;
	if ((rc = sp_store_token_insert(st, &row, &id)) != SP_OK)
		goto out;
	/* names and expiry, never the secret nor its hash */
	snprintf(detail, dlen, "template=%s subject=%s dns=%s upn=%s expires=%s", row.template_name, row.subject,
		 row.dns, row.upn, exp);
	snprintf(subj_audit, sizeof subj_audit, "token:%lld", (long long)id);
	if ((rc = sp_store_audit_append(st, actor ? actor : "", "token-create", subj_audit, detail)) != SP_OK)
		goto out;
	if ((rc = sp_store_commit(st)) != SP_OK)
		goto out;
	in_txn = 0;
	if (id_out)
		*id_out = id;
	*secret_out = secret;
	secret = NULL;
out:
	if (in_txn)
		sp_store_rollback(st);
	if (secret) {
		OPENSSL_cleanse(secret, SP_TOKEN_SECRET_LEN);
		free(secret);
	}
	OPENSSL_cleanse(row.secret_sha256, sizeof row.secret_sha256);
	X509_NAME_free(name);
	free(subject);
	free(dns);
	free(detail);
	return rc;
}

/* -------------------------------------------------------------- check */

/* A token id as the HTTP Basic user: decimal, no sign, no leading zero.
 * 0 when it is not one (treated as an unknown id). */
static int64_t parse_id(const char *user)
{
	int64_t v = 0;
	size_t n = user ? strlen(user) : 0;

	if (n == 0 || n > 18 || user[0] == '0')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (user[i] < '0' || user[i] > '9')
			return 0;
		v = v * 10 + (user[i] - '0');
	}
	return v;
}

/* Is `name` (len bytes, from the CSR) one of the comma-separated `list`,
 * ignoring case? */
static int in_list(const char *list, const char *name, size_t len)
{
	const char *p = list;

	if (!list || !*list || len == 0 || memchr(name, '\0', len))
		return 0;
	while (*p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == len && !strncasecmp(p, name, len))
			return 1;
		if (!c)
			break;
		p = c + 1;
	}
	return 0;
}

static int same_ci(const char *a, const char *name, size_t len)
{
	return a && *a && strlen(a) == len && !memchr(name, '\0', len) && !strncasecmp(a, name, len);
}

static sp_err not_for(const sp_token_row *t, const char *what, const unsigned char *v, int len)
{
	return sp_fail(SP_ERR_POLICY, "enrollment token %lld is not for %s%.*s", (long long)t->id, what,
		       len < 0 ? 0 : (len > 255 ? 255 : len), (const char *)v);
}

/* The CSR's names against the token's (see token.h for the rules). */
static sp_err check_names(const sp_token_row *t, X509_REQ *req)
{
	const X509_NAME *subj = X509_REQ_get_subject_name(req);
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	unsigned char *cn = NULL;
	int cn_len = -1;
	char *line = NULL;
	sp_err rc = SP_OK;

	if (!(line = sp_name_oneline(subj))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (*t->subject) {
		int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
		if (strcmp(line, t->subject) != 0) {
			rc = *line ? not_for(t, "", (const unsigned char *)line, (int)strlen(line))
				   : sp_fail(SP_ERR_POLICY, "enrollment token %lld is not for an empty subject", (long long)t->id);
			goto out;
		}
		/* the CN a SAN dNSName may repeat: the bound one, since the
		 * subjects are equal */
		if (i >= 0 &&
		    (cn_len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)))) < 0) {
			rc = sp_fail_ossl(SP_ERR_INPUT, "CSR subject CN: cannot decode");
			goto out;
		}
	} else {
		/* No subject bound: the CN, which relying parties read as the
		 * identity, must still be one of the bound names, or a token
		 * for pc1 would get a certificate named for any host. */
		for (int i = -1; (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;) {
			unsigned char *v = NULL;
			int n = ASN1_STRING_to_UTF8(&v, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
			if (n < 0) {
				rc = sp_fail_ossl(SP_ERR_INPUT, "CSR subject CN: cannot decode");
				goto out;
			}
			if (!in_list(t->dns, (const char *)v, (size_t)n) && !same_ci(t->upn, (const char *)v, (size_t)n))
				rc = not_for(t, "CN=", v, n);
			OPENSSL_free(v);
			if (rc != SP_OK)
				goto out;
		}
	}

	exts = X509_REQ_get_extensions(req);
	if (!exts && (X509_REQ_get_attr_by_NID(req, NID_ext_req, -1) >= 0 ||
		      X509_REQ_get_attr_by_NID(req, NID_ms_ext_req, -1) >= 0)) {
		rc = sp_fail_ossl(SP_ERR_INPUT, "CSR: malformed extension request");
		goto out;
	}
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name)
			continue;
		if (!(gens = X509V3_EXT_d2i(ext))) {
			rc = sp_fail_ossl(SP_ERR_INPUT, "CSR: malformed subjectAltName");
			goto out;
		}
		for (int j = 0; j < sk_GENERAL_NAME_num(gens); j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
			const ASN1_STRING *s = NULL;
			if (g->type == GEN_DNS) {
				s = g->d.dNSName;
				if (!in_list(t->dns, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s)) &&
				    !(cn && same_ci((const char *)cn, (const char *)ASN1_STRING_get0_data(s),
						    (size_t)ASN1_STRING_length(s)))) {
					rc = not_for(t, "", ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
					goto out;
				}
			} else if (g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn) {
				const ASN1_TYPE *v = g->d.otherName->value;
				/* a UPN of another string type never matches; the
				 * template check would refuse it anyway */
				if (!v || v->type != V_ASN1_UTF8STRING) {
					rc = sp_fail(SP_ERR_POLICY, "enrollment token %lld is not for a UPN that is not a UTF8String",
						     (long long)t->id);
					goto out;
				}
				s = v->value.utf8string;
				if (!same_ci(t->upn, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s))) {
					rc = not_for(t, "UPN ", ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
					goto out;
				}
			}
			/* other name types are the template's to refuse */
		}
		GENERAL_NAMES_free(gens);
		gens = NULL;
	}
out:
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	OPENSSL_free(cn);
	free(line);
	return rc;
}

/* The claim, in its own transaction, with the store's answers turned into
 * what the client is told. */
static sp_err claim(sp_store *st, int64_t id, int64_t now)
{
	sp_err rc = sp_store_begin(st);

	if (rc != SP_OK)
		return rc;
	if ((rc = sp_store_token_claim(st, id, now)) == SP_OK)
		rc = sp_store_commit(st);
	if (rc != SP_OK)
		sp_store_rollback(st);
	switch (rc) {
	case SP_ERR_EXISTS: /* a concurrent request claimed it first */
		return sp_fail(SP_ERR_AUTH, "enrollment token %lld was already used", (long long)id);
	case SP_ERR_POLICY:
		return sp_fail(SP_ERR_AUTH, "enrollment token %lld expired", (long long)id);
	case SP_ERR_NOTFOUND:
		return sp_fail(SP_ERR_AUTH, "wrong enrollment token");
	default:
		return rc;
	}
}

/* The token row for these credentials, whatever its state: SP_OK and *row
 * (clear it with sp_token_row_clear) when the id exists and the secret is
 * its; SP_ERR_AUTH "wrong enrollment token" otherwise, after the same work
 * (the digest is computed and compared in constant time either way). */
static sp_err token_authenticate(sp_store *st, const char *user, const char *pass, sp_token_row *row)
{
	/* compared against when the id is unknown: no SHA-256 output is
	 * known to equal this, and the work is the same as for a real row */
	static const char no_token[65] = "0000000000000000000000000000000000000000000000000000000000000000";
	char got[65];
	int64_t id = parse_id(user);
	int found = 0, match;
	sp_err rc;

	memset(row, 0, sizeof *row);
	if (id > 0) {
		rc = sp_store_token_get(st, id, row);
		if (rc == SP_OK)
			found = 1;
		else if (rc != SP_ERR_NOTFOUND)
			return rc;
	}
	secret_hash_hex(pass ? pass : "", got);
	match = CRYPTO_memcmp(got, found ? row->secret_sha256 : no_token, 64) == 0;
	OPENSSL_cleanse(got, sizeof got);
	if (!found || !match) {
		sp_token_row_clear(row);
		return sp_fail(SP_ERR_AUTH, "wrong enrollment token");
	}
	return SP_OK;
}

sp_err sp_token_authentic(sp_store *st, const char *user, const char *pass, int64_t *id)
{
	sp_token_row row;
	sp_err rc = token_authenticate(st, user, pass, &row);

	*id = rc == SP_OK ? row.id : 0;
	if (rc == SP_OK)
		sp_token_row_clear(&row);
	return rc;
}

sp_err sp_token_check(sp_store *st, const char *user, const char *pass, const char *template_name, X509_REQ *req,
		      int64_t now, sp_token_row *out)
{
	sp_token_row row;
	int64_t id;
	sp_err rc;

	memset(out, 0, sizeof *out);
	if ((rc = token_authenticate(st, user, pass, &row)) != SP_OK)
		return rc;
	id = row.id;
	if (row.state != SP_TOKEN_UNUSED) {
		rc = sp_fail(SP_ERR_AUTH, "enrollment token %lld was already used", (long long)id);
		goto out;
	}
	if (now >= row.expires_at) {
		rc = sp_fail(SP_ERR_AUTH, "enrollment token %lld expired", (long long)id);
		goto out;
	}
	if (!template_name || strcmp(row.template_name, template_name) != 0) {
		rc = sp_fail(SP_ERR_POLICY, "enrollment token %lld is for template %s", (long long)id, row.template_name);
		goto out;
	}
	if (!req) {
		rc = sp_fail(SP_ERR_INTERNAL, "sp_token_check: no CSR");
		goto out;
	}
	if ((rc = check_names(&row, req)) != SP_OK || (rc = claim(st, id, now)) != SP_OK)
		goto out;
	row.state = SP_TOKEN_CLAIMED;
	*out = row;
	memset(&row, 0, sizeof row);
out:
	sp_token_row_clear(&row);
	return rc;
}

/* ------------------------------------------------------------- finish */

sp_err sp_token_finish(sp_store *st, int64_t id, const char *serial, int64_t now)
{
	char actor[48], subject[32], detail[96];
	sp_err rc = sp_store_begin(st);

	if (rc != SP_OK)
		return rc;
	rc = sp_store_token_finish(st, id, serial, now);
	if (rc == SP_OK && serial) {
		snprintf(actor, sizeof actor, "est:token:%lld", (long long)id);
		snprintf(subject, sizeof subject, "token:%lld", (long long)id);
		if (*serial)
			snprintf(detail, sizeof detail, "serial=%.40s", serial);
		else
			snprintf(detail, sizeof detail, "request queued for approval");
		rc = sp_store_audit_append(st, actor, "token-use", subject, detail);
	}
	if (rc == SP_OK)
		rc = sp_store_commit(st);
	if (rc != SP_OK)
		sp_store_rollback(st);
	return rc;
}

sp_err sp_token_release(sp_store *st, int64_t id, const char *actor, int64_t now, sp_request_row *spent_on)
{
	char requester[48], subject[32], detail[160];
	sp_token_row row;
	sp_err rc;

	memset(&row, 0, sizeof row);
	memset(spent_on, 0, sizeof *spent_on);
	if ((rc = sp_store_begin(st)) != SP_OK)
		return rc;
	if ((rc = sp_store_token_get(st, id, &row)) != SP_OK)
		goto out;
	if (row.state != SP_TOKEN_CLAIMED) {
		rc = sp_fail(SP_ERR_POLICY, "enrollment token %lld is not claimed (it is %s): nothing to release",
			     (long long)id, row.state == SP_TOKEN_USED ? "used" : "unused");
		goto out;
	}
	snprintf(requester, sizeof requester, "est:token:%lld", (long long)id);
	snprintf(subject, sizeof subject, "token:%lld", (long long)id);
	rc = sp_store_request_find_requester(st, requester, row.created_at, spent_on);
	if (rc == SP_OK) {
		/* spent: the service recorded its request, then stopped */
		const char *serial = spent_on->status == SP_REQ_ISSUED ? spent_on->cert_serial : "";
		rc = sp_store_token_finish(st, id, serial, now);
		snprintf(detail, sizeof detail, "request=%lld %s%s%.40s (settled after the service stopped)",
			 (long long)spent_on->id, sp_request_status_name(spent_on->status), *serial ? " serial=" : "",
			 serial);
		if (rc == SP_OK)
			rc = sp_store_audit_append(st, actor, "token-use", subject, detail);
	} else if (rc == SP_ERR_NOTFOUND) {
		sp_clear_error();
		sp_request_row_clear(spent_on);
		rc = sp_store_token_finish(st, id, NULL, now);
		if (rc == SP_OK)
			rc = sp_store_audit_append(st, actor, "token-release", subject,
						   "claimed by a request that left no record: unused again");
	}
	if (rc == SP_OK)
		rc = sp_store_commit(st);
out:
	if (rc != SP_OK) {
		sp_store_rollback(st);
		sp_request_row_clear(spent_on);
	}
	sp_token_row_clear(&row);
	return rc;
}
