/*
 * template_parse.c - turn a validated template document into an
 * sp_template, and free it.
 *
 * The schema has already checked structure and syntax; this file maps names
 * to bits and numbers, and stays defensive (every unexpected node is an
 * error) so that an edited schema cannot make it read garbage. Policy rules
 * live in template_rules.c; the only checks here are those the mapping
 * itself would otherwise lose (a usage or source named twice collapses into
 * one bit).
 */
#include "templates/templates_int.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

typedef struct {
	const char *origin;
	sp_template *t;
} builder;

typedef struct {
	const char *name;
	unsigned bit;
} name_bit;

static const name_bit key_usages[] = {
	{"digitalSignature", SP_KU_DIGITAL_SIGNATURE},
	{"nonRepudiation", SP_KU_NON_REPUDIATION},
	{"keyEncipherment", SP_KU_KEY_ENCIPHERMENT},
	{"dataEncipherment", SP_KU_DATA_ENCIPHERMENT},
	{"keyAgreement", SP_KU_KEY_AGREEMENT},
	{NULL, 0},
};

static const name_bit san_sources[] = {
	{"csr", SP_FROM_CSR},
	{"cli", SP_FROM_CLI},
	{NULL, 0},
};

static const name_bit approvals[] = {
	{"token", SP_APPROVE_TOKEN},
	{"clientcert", SP_APPROVE_CLIENTCERT},
	{NULL, 0},
};

static const char *const hashes[] = {"sha256", "sha384", "sha512", NULL};
static const char *const curves[] = {"P-256", "P-384", NULL};

static sp_err SP_PRINTF(3, 4) bad(const builder *b, xmlNodePtr n, const char *fmt, ...)
{
	char what[512];
	long line = n ? xmlGetLineNo(n) : -1;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (line > 0)
		return sp_fail(SP_ERR_INPUT, "%s: %s (line %ld)", b->origin, what, line);
	return sp_fail(SP_ERR_INPUT, "%s: %s", b->origin, what);
}

static int is_xml_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* In place: schema token types collapse white space, so " 730 " is valid
 * and must read as 730. */
static char *trim(char *s)
{
	size_t n;

	while (is_xml_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_xml_space(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int is_tpl_element(xmlNodePtr n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       xmlStrEqual(n->ns->href, BAD_CAST SP_TPL_NS) && xmlStrEqual(n->name, BAD_CAST name);
}

/* Next child element, skipping comments, processing instructions and
 * blank text; anything else (text, CDATA, entity references) is an error
 * in element-only content. */
static sp_err next_element(const builder *b, xmlNodePtr parent, xmlNodePtr from, xmlNodePtr *out)
{
	xmlNodePtr n;
	sp_err err = SP_OK;

	*out = NULL;
	for (n = from; n; n = n->next) {
		if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE)
			continue;
		if (n->type == XML_TEXT_NODE && xmlIsBlankNode(n))
			continue;
		if (n->type != XML_ELEMENT_NODE) {
			err = bad(b, parent, "unexpected content in <%s>", (const char *)parent->name);
			goto out;
		}
		*out = n;
		break;
	}
out:
	return err;
}

/* Our own malloc'd copy of an attribute (NULL when absent), so that the
 * template never holds memory from libxml2's allocator. */
static sp_err attr_dup(const builder *b, xmlNodePtr n, const char *name, char **out)
{
	xmlChar *v = NULL;
	sp_err err = SP_OK;

	*out = NULL;
	v = xmlGetNoNsProp(n, BAD_CAST name);
	if (!v)
		goto out;
	*out = strdup((const char *)v);
	if (!*out)
		err = bad(b, n, "out of memory");
out:
	xmlFree(v);
	return err;
}

static sp_err text_dup(const builder *b, xmlNodePtr n, char **out)
{
	xmlChar *v = NULL;
	sp_err err = SP_OK;

	*out = NULL;
	v = xmlNodeGetContent(n);
	*out = strdup(v ? (const char *)v : "");
	if (!*out)
		err = bad(b, n, "out of memory");
	xmlFree(v);
	return err;
}

/* A non-negative decimal that fits an int; the allowed range is a rule. */
static sp_err attr_int(const builder *b, xmlNodePtr n, const char *name, int *out, int *present)
{
	char *raw = NULL, *s, *end;
	long v;
	sp_err err;

	*out = 0;
	if (present)
		*present = 0;
	err = attr_dup(b, n, name, &raw);
	if (err != SP_OK)
		goto out;
	if (!raw) {
		if (!present)
			err = bad(b, n, "<%s> needs %s", (const char *)n->name, name);
		goto out;
	}
	s = trim(raw);
	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno == ERANGE || v < 0 || v > INT_MAX) {
		err = bad(b, n, "<%s> %s: not a whole number in range", (const char *)n->name, name);
		goto out;
	}
	*out = (int)v;
	if (present)
		*present = 1;
out:
	free(raw);
	return err;
}

static sp_err attr_bool(const builder *b, xmlNodePtr n, const char *name, int dflt, int *out)
{
	char *raw = NULL, *s;
	sp_err err;

	*out = dflt;
	err = attr_dup(b, n, name, &raw);
	if (err != SP_OK || !raw)
		goto out;
	s = trim(raw);
	/* xsd:boolean lexical space. */
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = 1;
	else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = 0;
	else
		err = bad(b, n, "<%s> %s: not a boolean", (const char *)n->name, name);
out:
	free(raw);
	return err;
}

static const name_bit *find_bit(const name_bit *tab, const char *name)
{
	for (; tab->name; tab++)
		if (strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

static int in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

/* A space-separated list attribute ("csr cli") into bits. Absent = 0. */
static sp_err attr_bits(const builder *b, xmlNodePtr n, const char *name, const name_bit *tab,
			int *out)
{
	char *raw = NULL, *p;
	sp_err err = SP_OK;

	*out = 0;
	err = attr_dup(b, n, name, &raw);
	if (err != SP_OK || !raw)
		goto out;
	p = raw;
	for (;;) {
		const name_bit *nb;
		char *word;

		while (is_xml_space(*p))
			p++;
		if (*p == '\0')
			break;
		word = p;
		while (*p && !is_xml_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
		nb = find_bit(tab, word);
		if (!nb) {
			err = bad(b, n, "<%s> %s: unknown value", (const char *)n->name, name);
			goto out;
		}
		if (*out & (int)nb->bit) {
			err = bad(b, n, "<%s> %s: %s listed twice", (const char *)n->name, name, nb->name);
			goto out;
		}
		*out |= (int)nb->bit;
	}
out:
	free(raw);
	return err;
}

/* A fixed-set name (hash, curve) into a small char array. */
static sp_err attr_choice(const builder *b, xmlNodePtr n, const char *name, const char *const *allowed,
			  char *dst, size_t dstsz)
{
	char *raw = NULL, *s;
	sp_err err;

	err = attr_dup(b, n, name, &raw);
	if (err != SP_OK)
		goto out;
	s = raw ? trim(raw) : NULL;
	if (!s || !in_list(allowed, s) || strlen(s) >= dstsz) {
		err = bad(b, n, "<%s> %s: missing or not allowed", (const char *)n->name, name);
		goto out;
	}
	memcpy(dst, s, strlen(s) + 1);
out:
	free(raw);
	return err;
}

static sp_err read_description(builder *b, xmlNodePtr n)
{
	return text_dup(b, n, &b->t->description);
}

static sp_err read_validity(builder *b, xmlNodePtr n)
{
	return attr_int(b, n, "days", &b->t->validity_days, NULL);
}

static sp_err read_signature(builder *b, xmlNodePtr n)
{
	return attr_choice(b, n, "hash", hashes, b->t->hash, sizeof b->t->hash);
}

static sp_err read_keys(builder *b, xmlNodePtr n)
{
	sp_template *t = b->t;
	xmlNodePtr c;
	sp_err err;

	for (err = next_element(b, n, n->children, &c); err == SP_OK && c;
	     err = next_element(b, n, c->next, &c)) {
		if (is_tpl_element(c, "rsa")) {
			if (t->rsa_allowed) {
				err = bad(b, c, "<rsa> given twice");
				break;
			}
			t->rsa_allowed = 1;
			err = attr_int(b, c, "minBits", &t->rsa_min_bits, NULL);
			if (err == SP_OK)
				err = attr_int(b, c, "maxBits", &t->rsa_max_bits, NULL);
		} else if (is_tpl_element(c, "ec")) {
			if (t->n_ec_curves >= SP_TPL_MAX_CURVES) {
				err = bad(b, c, "more than %d <ec> elements", SP_TPL_MAX_CURVES);
				break;
			}
			err = attr_choice(b, c, "curve", curves, t->ec_curves[t->n_ec_curves],
					  sizeof t->ec_curves[0]);
			if (err == SP_OK)
				t->n_ec_curves++;
		} else {
			err = bad(b, c, "unexpected <%s> in <keys>", (const char *)c->name);
		}
		if (err != SP_OK)
			break;
	}
	return err;
}

static sp_err read_key_usage(builder *b, xmlNodePtr n)
{
	sp_template *t = b->t;
	xmlNodePtr c;
	char *text = NULL;
	sp_err err;

	/* RFC 5280 4.2.1.3: conforming CAs SHOULD mark keyUsage critical. */
	err = attr_bool(b, n, "critical", 1, &t->key_usage_critical);
	if (err != SP_OK)
		goto out;
	for (err = next_element(b, n, n->children, &c); err == SP_OK && c;
	     err = next_element(b, n, c->next, &c)) {
		const name_bit *nb;
		int rsa_only;

		if (!is_tpl_element(c, "usage")) {
			err = bad(b, c, "unexpected <%s> in <keyUsage>", (const char *)c->name);
			goto out;
		}
		err = text_dup(b, c, &text);
		if (err != SP_OK)
			goto out;
		nb = find_bit(key_usages, trim(text));
		if (!nb) {
			err = bad(b, c, "unknown key usage");
			goto out;
		}
		if (t->key_usage & nb->bit) {
			err = bad(b, c, "key usage %s listed twice", nb->name);
			goto out;
		}
		t->key_usage |= nb->bit;
		err = attr_bool(b, c, "rsaOnly", 0, &rsa_only);
		if (err != SP_OK)
			goto out;
		if (rsa_only)
			t->key_usage_rsa_only |= nb->bit;
		free(text);
		text = NULL;
	}
out:
	free(text);
	return err;
}

static sp_err read_eku(builder *b, xmlNodePtr n)
{
	sp_template *t = b->t;
	xmlNodePtr c;
	char *oid = NULL;
	sp_err err;

	for (err = next_element(b, n, n->children, &c); err == SP_OK && c;
	     err = next_element(b, n, c->next, &c)) {
		char *s;

		if (!is_tpl_element(c, "purpose")) {
			err = bad(b, c, "unexpected <%s> in <extendedKeyUsage>", (const char *)c->name);
			break;
		}
		if (t->n_eku >= SP_TPL_MAX_EKU) {
			err = bad(b, c, "more than %d purposes", SP_TPL_MAX_EKU);
			break;
		}
		err = text_dup(b, c, &oid);
		if (err != SP_OK)
			break;
		s = trim(oid);
		/* Shift the trimmed text to the start so the pointer we keep is
		 * the one malloc returned. */
		memmove(oid, s, strlen(s) + 1);
		err = attr_dup(b, c, "name", &t->eku_name[t->n_eku]);
		if (err != SP_OK)
			break;
		if (!t->eku_name[t->n_eku]) {
			err = bad(b, c, "<purpose> needs a name");
			break;
		}
		t->eku_oid[t->n_eku] = oid;
		oid = NULL;
		t->n_eku++;
	}
	/* A name read before a failure sits in t->eku_name[n_eku], which
	 * sp_template_free releases like every other slot. */
	free(oid);
	return err;
}

static sp_err read_attribute(builder *b, xmlNodePtr c, sp_tpl_attr *a)
{
	char *type = NULL, *format = NULL;
	sp_err err;

	err = attr_dup(b, c, "type", &type);
	if (err != SP_OK)
		goto out;
	if (!type || strlen(type) >= sizeof a->type) {
		err = bad(b, c, "<attribute> needs a known type");
		goto out;
	}
	memcpy(a->type, type, strlen(type) + 1);
	err = attr_bool(b, c, "required", 0, &a->required);
	if (err != SP_OK)
		goto out;
	err = attr_dup(b, c, "format", &format);
	if (err != SP_OK)
		goto out;
	if (!format || strcmp(trim(format), "text") == 0) {
		a->format = SP_FORMAT_TEXT;
	} else if (strcmp(trim(format), "dns") == 0) {
		a->format = SP_FORMAT_DNS;
	} else {
		err = bad(b, c, "<attribute> format: unknown value");
		goto out;
	}
	/* Not trimmed: a fixed value is compared byte for byte. */
	err = attr_dup(b, c, "fixed", &a->fixed);
	if (err != SP_OK)
		goto out;
	if (a->fixed && strstr(a->fixed, SP_TPL_SITE_CODE_TOKEN))
		b->t->needs_site_code = 1;
out:
	free(type);
	free(format);
	return err;
}

static sp_err read_subject(builder *b, xmlNodePtr n)
{
	sp_template *t = b->t;
	xmlNodePtr c;
	sp_err err;

	for (err = next_element(b, n, n->children, &c); err == SP_OK && c;
	     err = next_element(b, n, c->next, &c)) {
		if (!is_tpl_element(c, "attribute")) {
			err = bad(b, c, "unexpected <%s> in <subject>", (const char *)c->name);
			break;
		}
		if (t->n_attrs >= SP_TPL_MAX_ATTRS) {
			err = bad(b, c, "more than %d subject attributes", SP_TPL_MAX_ATTRS);
			break;
		}
		err = read_attribute(b, c, &t->attrs[t->n_attrs++]);
		if (err != SP_OK)
			break;
	}
	return err;
}

static sp_err read_san_rule(builder *b, xmlNodePtr c, sp_tpl_san *san)
{
	sp_err err;

	if (san->from) {
		err = bad(b, c, "<%s> given twice", (const char *)c->name);
		goto out;
	}
	err = attr_bits(b, c, "from", san_sources, &san->from);
	if (err != SP_OK)
		goto out;
	if (!san->from) {
		err = bad(b, c, "<%s> from: needs csr and/or cli", (const char *)c->name);
		goto out;
	}
	err = attr_int(b, c, "min", &san->min, NULL);
	if (err != SP_OK)
		goto out;
	err = attr_int(b, c, "max", &san->max, NULL);
out:
	return err;
}

static sp_err read_san(builder *b, xmlNodePtr n)
{
	xmlNodePtr c;
	sp_err err;

	for (err = next_element(b, n, n->children, &c); err == SP_OK && c;
	     err = next_element(b, n, c->next, &c)) {
		if (is_tpl_element(c, "dns"))
			err = read_san_rule(b, c, &b->t->san_dns);
		else if (is_tpl_element(c, "upn"))
			err = read_san_rule(b, c, &b->t->san_upn);
		else
			err = bad(b, c, "unexpected <%s> in <subjectAltName>", (const char *)c->name);
		if (err != SP_OK)
			break;
	}
	return err;
}

static sp_err read_issuer(builder *b, xmlNodePtr n)
{
	int present;
	sp_err err = attr_bool(b, n, "rsaOnly", 0, &b->t->issuer_rsa_only);
	if (err == SP_OK)
		err = attr_int(b, n, "maxRsaBits", &b->t->issuer_max_rsa_bits, &present);
	if (err == SP_OK)
		err = attr_bool(b, n, "noSha1", 0, &b->t->issuer_no_sha1);
	return err;
}

static sp_err read_enrollment(builder *b, xmlNodePtr n)
{
	sp_template *t = b->t;
	int present;
	sp_err err;

	/* Absent autoApprove = empty list: every request waits for approval. */
	err = attr_bits(b, n, "autoApprove", approvals, &t->auto_approve);
	if (err == SP_OK)
		err = attr_bool(b, n, "serverKeyGen", 0, &t->server_keygen);
	/* keygen_bits stays 0 when absent, which the rules read as "not set". */
	if (err == SP_OK)
		err = attr_int(b, n, "keyGenBits", &t->keygen_bits, &present);
	return err;
}

typedef struct {
	const char *name;
	sp_err (*read)(builder *b, xmlNodePtr n);
	int required;
} section;

/* Order is the schema's; here only presence and uniqueness matter. */
static const section sections[] = {
	{"description", read_description, 0},
	{"validity", read_validity, 1},
	{"signature", read_signature, 1},
	{"keys", read_keys, 1},
	{"issuer", read_issuer, 0},
	{"keyUsage", read_key_usage, 1},
	{"extendedKeyUsage", read_eku, 1},
	{"subject", read_subject, 1},
	{"subjectAltName", read_san, 0},
	{"enrollment", read_enrollment, 0},
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static sp_err build(builder *b, xmlDocPtr doc)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), c;
	int seen[N_SECTIONS] = {0};
	size_t i;
	sp_err err;

	if (!root || !is_tpl_element(root, "template")) {
		err = bad(b, root, "root element must be <template xmlns=\"%s\">", SP_TPL_NS);
		goto out;
	}
	err = attr_dup(b, root, "name", &b->t->name);
	if (err != SP_OK)
		goto out;
	if (!b->t->name) {
		err = bad(b, root, "<template> needs a name");
		goto out;
	}
	for (err = next_element(b, root, root->children, &c); err == SP_OK && c;
	     err = next_element(b, root, c->next, &c)) {
		for (i = 0; i < N_SECTIONS; i++)
			if (is_tpl_element(c, sections[i].name))
				break;
		if (i == N_SECTIONS) {
			err = bad(b, c, "unexpected <%s> in <template>", (const char *)c->name);
			goto out;
		}
		if (seen[i]) {
			err = bad(b, c, "<%s> given twice", sections[i].name);
			goto out;
		}
		seen[i] = 1;
		err = sections[i].read(b, c);
		if (err != SP_OK)
			goto out;
	}
	if (err != SP_OK)
		goto out;
	for (i = 0; i < N_SECTIONS; i++) {
		if (sections[i].required && !seen[i]) {
			err = bad(b, root, "<%s> is missing", sections[i].name);
			goto out;
		}
	}
out:
	return err;
}

sp_err sp_template_parse(const char *xml, size_t len, const char *origin, sp_template **out)
{
	xmlDocPtr doc = NULL;
	sp_template *t = NULL;
	builder b;
	sp_err err;

	if (!out) {
		err = sp_fail(SP_ERR_INTERNAL, "sp_template_parse: no output");
		goto out;
	}
	*out = NULL;
	if (!origin)
		origin = "(memory)";
	if (!xml) {
		err = sp_fail(SP_ERR_INPUT, "%s: no data", origin);
		goto out;
	}
	err = sp_template_xml_read(xml, len, origin, &doc);
	if (err != SP_OK)
		goto out;
	t = calloc(1, sizeof *t);
	if (!t) {
		err = sp_fail(SP_ERR_NOMEM, "%s: out of memory", origin);
		goto out;
	}
	t->path = strdup(origin);
	if (!t->path) {
		err = sp_fail(SP_ERR_NOMEM, "%s: out of memory", origin);
		goto out;
	}
	b.origin = origin;
	b.t = t;
	err = build(&b, doc);
	if (err != SP_OK)
		goto out;
	err = sp_template_check_rules(t, origin);
	if (err != SP_OK)
		goto out;
	*out = t;
	t = NULL;
out:
	sp_template_free(t);
	xmlFreeDoc(doc);
	return err;
}

sp_err sp_template_load_file(const char *path, sp_template **out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sp_err err;

	if (!out || !path) {
		err = sp_fail(SP_ERR_INTERNAL, "sp_template_load_file: no path or output");
		goto out;
	}
	*out = NULL;
	err = sp_file_read(path, SP_TPL_MAX_FILE_BYTES, &data, &len);
	if (err != SP_OK)
		goto out;
	err = sp_template_parse((const char *)data, len, path, out);
out:
	free(data);
	return err;
}

void sp_template_free(sp_template *t)
{
	int i;

	if (!t)
		return;
	free(t->name);
	free(t->description);
	free(t->path);
	for (i = 0; i < SP_TPL_MAX_EKU; i++) {
		free(t->eku_oid[i]);
		free(t->eku_name[i]);
	}
	for (i = 0; i < SP_TPL_MAX_ATTRS; i++)
		free(t->attrs[i].fixed);
	free(t);
}
