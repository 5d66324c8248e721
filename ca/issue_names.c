/*
 * issue_names.c - the names of a new certificate.
 *
 * The template decides, per name, whether it may come from the CSR, from the
 * command line, or is fixed; anything the template does not allow is refused
 * with a message naming it, never silently dropped or added. Every value
 * passes the single-byte rule (name_policy.c) before it is used, and DN
 * strings are re-encoded as PrintableString where possible, else as an
 * ASCII-only UTF8String.
 */
#include "ca/ca_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_NAMES 64

typedef struct {
	char *v[MAX_NAMES];
	int n;
} name_list;

static void list_clear(name_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

/* Same name twice (DNS names are case-insensitive) is one name. */
static sp_err list_add(name_list *l, const char *s, const char *what)
{
	for (int i = 0; i < l->n; i++)
		if (!strcasecmp(l->v[i], s))
			return SP_OK;
	if (l->n >= MAX_NAMES)
		return sp_fail(SP_ERR_POLICY, "more than %d %s names", MAX_NAMES, what);
	if (!(l->v[l->n] = strdup(s)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	l->n++;
	return SP_OK;
}

/* An ASN.1 string that passed the single-byte rule, as a C string. */
static char *ascii_of(const ASN1_STRING *s)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	char *r;
	if (n < 0)
		return NULL;
	r = malloc((size_t)n + 1);
	if (r) {
		memcpy(r, utf8, (size_t)n);
		r[n] = '\0';
	}
	OPENSSL_free(utf8);
	return r;
}

static int printable(const char *s)
{
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr(" '()+,-./:=?", c)))
			return 0;
	}
	return 1;
}

/* RFC 5280 appendix A.1 upper bounds (ub-common-name etc.); DC is a DNS
 * label. */
static size_t max_len(int nid)
{
	switch (nid) {
	case NID_localityName:
	case NID_stateOrProvinceName:
		return 128;
	case NID_domainComponent:
		return 63;
	default:
		return 64;
	}
}

static sp_err add_attr(X509_NAME *name, const char *type, const char *value)
{
	int nid = OBJ_sn2nid(type);
	size_t len = strlen(value);
	int enc;
	if (nid == NID_undef)
		return sp_fail(SP_ERR_INTERNAL, "unknown attribute type %s", type);
	if (len > max_len(nid))
		return sp_fail(SP_ERR_POLICY, "subject %s is %zu characters long; RFC 5280 allows at most %zu", type, len,
			       max_len(nid));
	if (nid == NID_countryName) {
		if (strlen(value) != 2 || !printable(value))
			return sp_fail(SP_ERR_POLICY, "subject C '%s' must be a two-letter country code", value);
		enc = V_ASN1_PRINTABLESTRING;
	} else if (nid == NID_domainComponent) {
		enc = V_ASN1_IA5STRING; /* RFC 4519 2.4 */
	} else {
		enc = printable(value) ? V_ASN1_PRINTABLESTRING : V_ASN1_UTF8STRING;
	}
	if (!X509_NAME_add_entry_by_NID(name, nid, enc, (const unsigned char *)value, (int)strlen(value), -1, 0))
		return sp_fail_ossl(SP_ERR_CRYPTO, "subject %s", type);
	return SP_OK;
}

static const sp_tpl_attr *find_attr(const sp_template *t, const char *type)
{
	for (int i = 0; i < t->n_attrs; i++)
		if (!strcmp(t->attrs[i].type, type))
			return &t->attrs[i];
	return NULL;
}

/* Collect the CSR's subject values per allowed attribute (index parallel
 * to t->attrs), refusing anything the template does not list. */
static sp_err read_csr_subject(const sp_template *t, X509_REQ *req, name_list vals[SP_TPL_MAX_ATTRS])
{
	const X509_NAME *in = X509_REQ_get_subject_name(req);
	int last_set = -1;
	char field[64];
	sp_err rc;

	for (int i = 0; i < X509_NAME_entry_count(in); i++) {
		const X509_NAME_ENTRY *e = X509_NAME_get_entry(in, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
		const char *sn = nid == NID_undef ? NULL : OBJ_nid2sn(nid);
		const sp_tpl_attr *a;
		char *v;
		int idx;

		if (X509_NAME_ENTRY_set(e) == last_set)
			return sp_fail(SP_ERR_POLICY, "CSR subject has a multi-valued RDN; use one attribute per RDN");
		last_set = X509_NAME_ENTRY_set(e);
		if (!sn || !(a = find_attr(t, sn))) {
			char oid[80];
			OBJ_obj2txt(oid, sizeof oid, X509_NAME_ENTRY_get_object(e), 0);
			return sp_fail(SP_ERR_POLICY, "subject attribute %s is not allowed by template %s", oid,
				       t->name);
		}
		snprintf(field, sizeof field, "subject %s", sn);
		if ((rc = sp_name_check_string(X509_NAME_ENTRY_get_data(e), field)) != SP_OK)
			return rc;
		idx = (int)(a - t->attrs);
		if (vals[idx].n > 0 && nid != NID_organizationalUnitName && nid != NID_domainComponent)
			return sp_fail(SP_ERR_POLICY, "CSR subject has more than one %s", sn);
		if (!(v = ascii_of(X509_NAME_ENTRY_get_data(e))))
			return sp_fail_ossl(SP_ERR_INPUT, "%s: cannot decode", field);
		rc = vals[idx].n < MAX_NAMES ? SP_OK : sp_fail(SP_ERR_POLICY, "too many %s values", sn);
		if (rc == SP_OK)
			vals[idx].v[vals[idx].n++] = v;
		else
			free(v);
		if (rc != SP_OK)
			return rc;
	}
	return SP_OK;
}

static sp_err build_subject(const sp_template *t, name_list vals[SP_TPL_MAX_ATTRS], const char *site_code,
			    X509_NAME *out)
{
	sp_err rc;
	for (int i = 0; i < t->n_attrs; i++) {
		const sp_tpl_attr *a = &t->attrs[i];
		char field[64];
		snprintf(field, sizeof field, "subject %s", a->type);
		if (a->fixed) {
			char *want = sp_template_expand(a->fixed, site_code);
			if (!want)
				return sp_fail(SP_ERR_NOMEM, "out of memory");
			for (int j = 0; j < vals[i].n; j++) {
				if (strcmp(vals[i].v[j], want) != 0) {
					rc = sp_fail(SP_ERR_POLICY, "%s '%s' does not match the value template %s requires: '%s'",
						     field, vals[i].v[j], t->name, want);
					free(want);
					return rc;
				}
			}
			rc = add_attr(out, a->type, want);
			free(want);
			if (rc != SP_OK)
				return rc;
			continue;
		}
		if (vals[i].n == 0 && a->required)
			return sp_fail(SP_ERR_POLICY, "template %s requires a subject %s in the CSR", t->name, a->type);
		for (int j = 0; j < vals[i].n; j++) {
			if (a->format == SP_FORMAT_DNS && (rc = sp_name_check_dns(vals[i].v[j], field)) != SP_OK)
				return rc;
			if ((rc = add_attr(out, a->type, vals[i].v[j])) != SP_OK)
				return rc;
		}
	}
	return SP_OK;
}

/* The CSR's requested extensions, strictly: X509_REQ_get_extensions() reads
 * only the first extension-request attribute and its first value and turns a
 * malformed one into "none", which would let names hide from the checks. So
 * every attribute is looked at: at most one extension request (PKCS#9 or the
 * Microsoft OID), single-valued, a well-formed SEQUENCE OF Extension with no
 * trailing bytes. */
static sp_err csr_extensions(X509_REQ *req, STACK_OF(X509_EXTENSION) **out)
{
	int found = 0;
	*out = NULL;
	for (int i = 0; i < X509_REQ_get_attr_count(req); i++) {
		X509_ATTRIBUTE *a = X509_REQ_get_attr(req, i);
		int nid = OBJ_obj2nid(X509_ATTRIBUTE_get0_object(a));
		ASN1_TYPE *v;
		const unsigned char *p;
		long len;
		if (nid != NID_ext_req && nid != NID_ms_ext_req)
			continue;
		if (found++) {
			sk_X509_EXTENSION_pop_free(*out, X509_EXTENSION_free);
			*out = NULL;
			return sp_fail(SP_ERR_POLICY, "CSR has more than one extension request attribute");
		}
		if (X509_ATTRIBUTE_count(a) != 1 || !(v = X509_ATTRIBUTE_get0_type(a, 0)) || v->type != V_ASN1_SEQUENCE)
			return sp_fail(SP_ERR_INPUT, "CSR: the extension request must hold exactly one SEQUENCE of extensions");
		p = v->value.sequence->data;
		len = v->value.sequence->length;
		*out = (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(NULL, &p, len, ASN1_ITEM_rptr(X509_EXTENSIONS));
		if (!*out || p != v->value.sequence->data + len) {
			sk_X509_EXTENSION_pop_free(*out, X509_EXTENSION_free);
			*out = NULL;
			return sp_fail_ossl(SP_ERR_INPUT, "CSR: malformed extension request");
		}
	}
	return SP_OK;
}

static sp_err read_csr_san(const sp_template *t, X509_REQ *req, name_list *dns, name_list *upn)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	int seen = 0;
	sp_err rc = csr_extensions(req, &exts);

	for (int i = 0; rc == SP_OK && i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		/* Only names are taken from a CSR: key usage, extended key usage
		 * and basic constraints always come from the template. */
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name)
			continue;
		if (seen++) {
			rc = sp_fail(SP_ERR_POLICY, "CSR has more than one subjectAltName extension");
			break;
		}
		if (!(gens = X509V3_EXT_d2i(ext))) {
			rc = sp_fail_ossl(SP_ERR_INPUT, "CSR: malformed subjectAltName");
			break;
		}
		for (int j = 0; rc == SP_OK && j < sk_GENERAL_NAME_num(gens); j++) {
			GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, j);
			char *v = NULL;
			if (g->type == GEN_DNS) {
				if (!(t->san_dns.from & SP_FROM_CSR)) {
					rc = sp_fail(SP_ERR_POLICY, "template %s does not accept DNS names in the CSR",
						     t->name);
				} else if ((rc = sp_name_check_string(g->d.dNSName, "SAN DNS name")) == SP_OK) {
					if (!(v = ascii_of(g->d.dNSName)))
						rc = sp_fail(SP_ERR_INPUT, "SAN DNS name: cannot decode");
					else if ((rc = sp_name_check_dns(v, "SAN DNS name")) == SP_OK)
						rc = list_add(dns, v, "DNS");
				}
			} else if (g->type == GEN_OTHERNAME &&
				   OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn) {
				ASN1_TYPE *val = g->d.otherName->value;
				if (!(t->san_upn.from & SP_FROM_CSR))
					rc = sp_fail(SP_ERR_POLICY, "template %s does not accept a UPN in the CSR",
						     t->name);
				else if (!val || val->type != V_ASN1_UTF8STRING)
					rc = sp_fail(SP_ERR_POLICY, "SAN UPN must be a UTF8String");
				else if ((rc = sp_name_check_string(val->value.utf8string, "SAN UPN")) == SP_OK) {
					if (!(v = ascii_of(val->value.utf8string)))
						rc = sp_fail(SP_ERR_INPUT, "SAN UPN: cannot decode");
					else if ((rc = sp_name_check_upn(v, "SAN UPN")) == SP_OK)
						rc = list_add(upn, v, "UPN");
				}
			} else {
				static const char *kinds[] = {"otherName", "email", "DNS",  "X400",
							      "directory", "EDI",   "URI",  "IP address",
							      "registered ID"};
				rc = sp_fail(SP_ERR_POLICY, "SAN %s names are not allowed by template %s",
					     g->type >= 0 && g->type <= 8 ? kinds[g->type] : "unknown", t->name);
			}
			free(v);
		}
		GENERAL_NAMES_free(gens);
		gens = NULL;
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

static sp_err read_cli_san(const sp_template *t, const sp_issue_opts *o, name_list *dns, name_list *upn,
			   name_list *cli)
{
	sp_err rc;
	for (size_t i = 0; i < o->n_dns; i++) {
		if (!(t->san_dns.from & SP_FROM_CLI))
			return sp_fail(SP_ERR_POLICY, "template %s does not accept DNS names from the command line",
				       t->name);
		if ((rc = sp_name_check_dns(o->dns[i], "--dns")) != SP_OK || (rc = list_add(dns, o->dns[i], "DNS")) != SP_OK ||
		    (rc = list_add(cli, o->dns[i], "command line")) != SP_OK)
			return rc;
	}
	if (o->upn) {
		if (!(t->san_upn.from & SP_FROM_CLI))
			return sp_fail(SP_ERR_POLICY, "template %s does not accept a UPN from the command line", t->name);
		if ((rc = sp_name_check_upn(o->upn, "--upn")) != SP_OK || (rc = list_add(upn, o->upn, "UPN")) != SP_OK ||
		    (rc = list_add(cli, o->upn, "command line")) != SP_OK)
			return rc;
	}
	return SP_OK;
}

static sp_err check_count(const sp_template *t, const sp_tpl_san *rule, int n, const char *what, const char *opt)
{
	if (rule->from == 0 && n > 0)
		return sp_fail(SP_ERR_POLICY, "template %s allows no %s names", t->name, what);
	if (n < rule->min)
		return sp_fail(SP_ERR_POLICY, "template %s needs at least %d %s name(s) (in the CSR or with %s)", t->name,
			       rule->min, what, opt);
	if (n > rule->max)
		return sp_fail(SP_ERR_POLICY, "template %s allows at most %d %s name(s), got %d", t->name, rule->max,
			       what, n);
	return SP_OK;
}

static sp_err push_name(GENERAL_NAMES *san, int type, const char *v)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = ASN1_STRING_type_new(type == GEN_DNS ? V_ASN1_IA5STRING : V_ASN1_UTF8STRING);
	if (!g || !s || !ASN1_STRING_set(s, v, (int)strlen(v)))
		goto fail;
	if (type == GEN_DNS) {
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
	} else {
		ASN1_TYPE *val = ASN1_TYPE_new();
		if (!val)
			goto fail;
		ASN1_TYPE_set(val, V_ASN1_UTF8STRING, s);
		if (!GENERAL_NAME_set0_othername(g, OBJ_nid2obj(NID_ms_upn), val)) {
			ASN1_TYPE_free(val);
			s = NULL;
			goto fail;
		}
	}
	s = NULL;
	if (!sk_GENERAL_NAME_push(san, g))
		goto fail;
	return SP_OK;
fail:
	ASN1_STRING_free(s);
	GENERAL_NAME_free(g);
	return sp_fail_ossl(SP_ERR_NOMEM, "building subjectAltName");
}

static char *join_names(const name_list *dns, const name_list *upn, int prefix)
{
	size_t n = 1;
	char *s;
	for (int i = 0; i < dns->n; i++)
		n += strlen(dns->v[i]) + 6;
	for (int i = 0; upn && i < upn->n; i++)
		n += strlen(upn->v[i]) + 6;
	if (!(s = malloc(n)))
		return NULL;
	s[0] = '\0';
	for (int i = 0; i < dns->n; i++) {
		if (s[0])
			strcat(s, ", ");
		if (prefix)
			strcat(s, "DNS:");
		strcat(s, dns->v[i]);
	}
	for (int i = 0; upn && i < upn->n; i++) {
		if (s[0])
			strcat(s, ", ");
		strcat(s, "UPN:");
		strcat(s, upn->v[i]);
	}
	return s;
}

sp_err sp_issue_names(const sp_template *t, X509_REQ *req, const sp_issue_opts *o, const char *ca_site_code,
		      sp_names *out)
{
	name_list vals[SP_TPL_MAX_ATTRS] = {{{0}, 0}};
	name_list dns = {{0}, 0}, upn = {{0}, 0}, cli = {{0}, 0};
	const char *site = o->site_code && o->site_code[0] ? o->site_code : ca_site_code;
	sp_err rc;

	memset(out, 0, sizeof *out);
	if (t->needs_site_code) {
		if (!site || !site[0]) {
			rc = sp_fail(SP_ERR_USAGE, "template %s needs a site code: give --site-code (or set one at init)",
				     t->name);
			goto out;
		}
		if ((rc = sp_name_check_site_code(site)) != SP_OK)
			goto out;
	}
	if (!(out->subject = X509_NAME_new()) || !(out->san = GENERAL_NAMES_new())) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = read_csr_subject(t, req, vals)) != SP_OK || (rc = build_subject(t, vals, site, out->subject)) != SP_OK ||
	    (rc = read_csr_san(t, req, &dns, &upn)) != SP_OK || (rc = read_cli_san(t, o, &dns, &upn, &cli)) != SP_OK ||
	    (rc = check_count(t, &t->san_dns, dns.n, "DNS", "--dns")) != SP_OK ||
	    (rc = check_count(t, &t->san_upn, upn.n, "UPN", "--upn")) != SP_OK)
		goto out;
	for (int i = 0; i < dns.n; i++)
		if ((rc = push_name(out->san, GEN_DNS, dns.v[i])) != SP_OK)
			goto out;
	for (int i = 0; i < upn.n; i++)
		if ((rc = push_name(out->san, GEN_OTHERNAME, upn.v[i])) != SP_OK)
			goto out;
	if (X509_NAME_entry_count(out->subject) == 0 && sk_GENERAL_NAME_num(out->san) == 0) {
		rc = sp_fail(SP_ERR_POLICY, "the certificate would have neither a subject nor a subjectAltName");
		goto out;
	}
	if (!(out->sans_text = join_names(&dns, &upn, 1)) || !(out->cli_text = join_names(&cli, NULL, 0))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = SP_OK;
out:
	for (int i = 0; i < SP_TPL_MAX_ATTRS; i++)
		list_clear(&vals[i]);
	list_clear(&dns);
	list_clear(&upn);
	list_clear(&cli);
	if (rc != SP_OK)
		sp_names_clear(out);
	return rc;
}

void sp_names_clear(sp_names *n)
{
	X509_NAME_free(n->subject);
	GENERAL_NAMES_free(n->san);
	free(n->sans_text);
	free(n->cli_text);
	memset(n, 0, sizeof *n);
}
