/*
 * template_xml.c - the only place templates/ talks to libxml2's parser and
 * validator: safe parsing, DOCTYPE refusal, error capture and the cached
 * RELAX NG schema.
 *
 * Threat model: a template may come from a CA home that someone else can
 * write to, so the parser must not reach the file system or the network
 * (XXE, external DTD, parameter entities) nor expand entities (billion
 * laughs). Templates never need a DTD, so any DOCTYPE is refused as soon as
 * the parser sees it, before a single declaration in it is read.
 */
#include "templates/templates_int.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>

/* Deliberately without XML_PARSE_NOENT (substitutes entities),
 * XML_PARSE_DTDLOAD / DTDATTR / DTDVALID (read the DTD), XML_PARSE_XINCLUDE
 * and XML_PARSE_HUGE (lifts the parser's size limits). BIG_LINES keeps line
 * numbers right past 65535 in error messages. */
#define SP_TPL_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_BIG_LINES)
#define SP_TPL_XML_FORBIDDEN                                                                   \
	(XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR | XML_PARSE_DTDVALID |        \
	 XML_PARSE_XINCLUDE | XML_PARSE_HUGE)
_Static_assert((SP_TPL_XML_OPTIONS & SP_TPL_XML_FORBIDDEN) == 0,
	       "template parsing must not load DTDs, expand entities or lift limits");

#define SCHEMA_FILE "template.rng"

/* libxml2 2.12 made the structured error argument const. */
#if LIBXML_VERSION >= 21200
typedef const xmlError *sp_xml_error;
#else
typedef xmlErrorPtr sp_xml_error;
#endif

/* The first error libxml2 reports, already formatted; later ones are
 * usually consequences of the first and would only confuse. */
typedef struct {
	const char *origin;
	int have;
	char msg[768];
	int doctype;      /* the parser met a DOCTYPE */
	int doctype_line;
} sp_xml_errcap;

/* Global libxml2 hooks as they were before we replaced them. */
typedef struct {
	xmlStructuredErrorFunc serr;
	void *serr_ctx;
	xmlGenericErrorFunc gerr;
	void *gerr_ctx;
	xmlExternalEntityLoader loader;
} sp_xml_guard;

/* One compiled schema per file (templates, the service configuration). */
static struct {
	const char *file;
	xmlRelaxNGPtr schema;
} schema_cache[2];

/* The element a validation error is about, or NULL (parser errors carry
 * only a line). For "Element X failed to validate attributes" libxml2
 * passes the position it had reached inside X (its first child, once
 * NOBLANKS has dropped the white space), so the line would be the next
 * one: climb to the element the message names. */
static xmlNodePtr error_element(sp_xml_error err)
{
	xmlNodePtr node = err->node, up;
	int i;

	for (i = 0; node && node->type != XML_ELEMENT_NODE && i < 8; i++)
		node = node->parent;
	if (!node || node->type != XML_ELEMENT_NODE)
		return NULL;
	if (err->domain == XML_FROM_RELAXNGV && err->str1) {
		for (up = node, i = 0; up && up->type == XML_ELEMENT_NODE && i < 8; up = up->parent, i++) {
			if (xmlStrEqual(up->name, BAD_CAST err->str1)) {
				node = up;
				break;
			}
		}
	}
	return node;
}

static void capture_error(void *ctx, sp_xml_error err)
{
	sp_xml_errcap *cap = ctx;
	char raw[512], clean[512];
	xmlNodePtr node;
	size_t n;
	long line;

	if (!cap || !err || cap->have || err->level < XML_ERR_ERROR)
		return;
	/* libxml2 messages end in '\n'; keep the result on one line. */
	snprintf(raw, sizeof raw, "%s", err->message ? err->message : "unknown XML error");
	n = strlen(raw);
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
		raw[--n] = '\0';
	sp_template_safe_copy(clean, sizeof clean, raw);

	node = error_element(err);
	line = node ? xmlGetLineNo(node) : err->line;
	if (node && line > 0)
		snprintf(cap->msg, sizeof cap->msg, "%s:%ld: element %s: %s", cap->origin, line,
			 (const char *)node->name, clean);
	else if (line > 0)
		snprintf(cap->msg, sizeof cap->msg, "%s:%ld: %s", cap->origin, line, clean);
	else
		snprintf(cap->msg, sizeof cap->msg, "%s: %s", cap->origin, clean);
	cap->have = 1;
}

/* Whatever still goes through the generic channel must not reach stderr:
 * the structured handler has already recorded the error that matters. */
static void SP_PRINTF(2, 3) silent_error(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/* Belt and braces: with no DTD loading and DOCTYPE refused this is never
 * reached, but if it were, nothing is read from anywhere. */
static xmlParserInputPtr refuse_external_load(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)url;
	(void)id;
	(void)ctxt;
	return NULL;
}

/* SAX internalSubset: called on "<!DOCTYPE name ...", before the internal
 * subset or an external DTD is read. Stop right there. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id,
			   const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	sp_xml_errcap *cap = ctxt->_private;

	(void)name;
	(void)external_id;
	(void)system_id;
	/* Without our state (a libxml2 that resets _private) stopping is
	 * still right; the intSubset check after parsing names the reason. */
	if (cap) {
		cap->doctype = 1;
		cap->doctype_line = ctxt->input ? ctxt->input->line : 0;
	}
	xmlStopParser(ctxt);
}

static void guard_enter(sp_xml_guard *g, sp_xml_errcap *cap)
{
	g->serr = xmlStructuredError;
	g->serr_ctx = xmlStructuredErrorContext;
	g->gerr = xmlGenericError;
	g->gerr_ctx = xmlGenericErrorContext;
	g->loader = xmlGetExternalEntityLoader();
	xmlSetStructuredErrorFunc(cap, capture_error);
	xmlSetGenericErrorFunc(NULL, silent_error);
	xmlSetExternalEntityLoader(refuse_external_load);
}

static void guard_leave(const sp_xml_guard *g)
{
	xmlSetStructuredErrorFunc(g->serr_ctx, g->serr);
	xmlSetGenericErrorFunc(g->gerr_ctx, g->gerr);
	xmlSetExternalEntityLoader(g->loader);
}

/* Load and compile the schema once per process. A failure is not cached so
 * that a fixed installation works without a restart. */
static sp_err schema_get(const char *file, xmlRelaxNGPtr *out)
{
	size_t slot;
	char path[4096];
	uint8_t *data = NULL;
	size_t len = 0;
	sp_xml_errcap cap;
	sp_xml_guard g;
	int guarded = 0;
	xmlDocPtr doc = NULL;
	xmlRelaxNGParserCtxtPtr pctxt = NULL;
	sp_err err;

	*out = NULL;
	for (slot = 0; slot < sizeof schema_cache / sizeof schema_cache[0]; slot++)
		if (!schema_cache[slot].file || !strcmp(schema_cache[slot].file, file))
			break;
	if (slot == sizeof schema_cache / sizeof schema_cache[0]) {
		err = sp_fail(SP_ERR_INTERNAL, "%s: no room to cache another schema", file);
		goto out;
	}
	if (schema_cache[slot].schema) {
		*out = schema_cache[slot].schema;
		err = SP_OK;
		goto out;
	}
	err = sp_path_join(path, sizeof path, sp_template_data_dir(), file);
	if (err != SP_OK)
		goto out;
	err = sp_file_read(path, SP_TPL_MAX_FILE_BYTES, &data, &len);
	if (err != SP_OK)
		goto out;

	memset(&cap, 0, sizeof cap);
	cap.origin = path;
	guard_enter(&g, &cap);
	guarded = 1;
	doc = xmlReadMemory((const char *)data, (int)len, path, NULL, SP_TPL_XML_OPTIONS);
	if (!doc || doc->intSubset || doc->extSubset) {
		if (cap.have)
			err = sp_fail(SP_ERR_INTERNAL, "%s", cap.msg);
		else
			err = sp_fail(SP_ERR_INTERNAL, "%s: not a usable schema document", path);
		goto out;
	}
	/* NewDocParserCtxt copies the document, so ours is freed below. */
	pctxt = xmlRelaxNGNewDocParserCtxt(doc);
	if (!pctxt) {
		err = sp_fail(SP_ERR_NOMEM, "%s: cannot make a schema parser", path);
		goto out;
	}
	xmlRelaxNGSetParserStructuredErrors(pctxt, capture_error, &cap);
	schema_cache[slot].schema = xmlRelaxNGParse(pctxt);
	if (!schema_cache[slot].schema) {
		if (cap.have)
			err = sp_fail(SP_ERR_INTERNAL, "%s", cap.msg);
		else
			err = sp_fail(SP_ERR_INTERNAL, "%s: schema does not compile", path);
		goto out;
	}
	schema_cache[slot].file = file;
	*out = schema_cache[slot].schema;
	err = SP_OK;
out:
	if (guarded)
		guard_leave(&g);
	xmlRelaxNGFreeParserCtxt(pctxt);
	xmlFreeDoc(doc);
	free(data);
	return err;
}

static sp_err doctype_error(const char *origin, int line, const char *what)
{
	if (line > 0)
		return sp_fail(SP_ERR_INPUT, "%s:%d: DOCTYPE is not allowed in a %s "
					     "(DTDs, external entities and entity expansion are refused)",
			       origin, line, what);
	return sp_fail(SP_ERR_INPUT, "%s: DOCTYPE is not allowed in a %s "
				     "(DTDs, external entities and entity expansion are refused)",
		       origin, what);
}

sp_err sp_template_xml_read(const char *xml, size_t len, const char *origin, xmlDocPtr *out)
{
	return sp_xml_read_validated(xml, len, origin, SCHEMA_FILE, "template", SP_TPL_MAX_FILE_BYTES, out);
}

sp_err sp_xml_read_validated(const char *xml, size_t len, const char *origin, const char *schema_file,
			     const char *what, size_t max_bytes, xmlDocPtr *out)
{
	sp_xml_errcap cap;
	sp_xml_guard g;
	int guarded = 0;
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	xmlRelaxNGPtr schema = NULL;
	xmlRelaxNGValidCtxtPtr vctxt = NULL;
	sp_err err;
	int rc;

	*out = NULL;
	if (len == 0) {
		err = sp_fail(SP_ERR_INPUT, "%s: empty file", origin);
		goto out;
	}
	if (len > max_bytes || len > INT32_MAX) {
		err = sp_fail(SP_ERR_INPUT, "%s: %zu bytes, more than the %zu a %s may have", origin, len,
			      max_bytes, what);
		goto out;
	}
	/* Load the schema first: it has its own error capture. */
	err = schema_get(schema_file, &schema);
	if (err != SP_OK)
		goto out;

	memset(&cap, 0, sizeof cap);
	cap.origin = origin;
	guard_enter(&g, &cap);
	guarded = 1;

	ctxt = xmlNewParserCtxt();
	if (!ctxt || !ctxt->sax) {
		err = sp_fail(SP_ERR_NOMEM, "%s: cannot make an XML parser", origin);
		goto out;
	}
	ctxt->_private = &cap;
	ctxt->sax->internalSubset = refuse_doctype;
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, origin, NULL, SP_TPL_XML_OPTIONS);
	if (cap.doctype) {
		err = doctype_error(origin, cap.doctype_line, what);
		goto out;
	}
	/* The hook above should make this unreachable; checked anyway so that
	 * a libxml2 that skipped the callback still cannot slip a DTD past. */
	if (doc && (doc->intSubset || doc->extSubset)) {
		err = doctype_error(origin, 0, what);
		goto out;
	}
	/* A namespace error leaves a document behind but is still an error. */
	if (!doc || cap.have) {
		if (cap.have)
			err = sp_fail(SP_ERR_INPUT, "%s", cap.msg);
		else
			err = sp_fail(SP_ERR_INPUT, "%s: not well-formed XML", origin);
		goto out;
	}
	if (!xmlDocGetRootElement(doc)) {
		err = sp_fail(SP_ERR_INPUT, "%s: no root element", origin);
		goto out;
	}

	vctxt = xmlRelaxNGNewValidCtxt(schema);
	if (!vctxt) {
		err = sp_fail(SP_ERR_NOMEM, "%s: cannot make a schema validator", origin);
		goto out;
	}
	xmlRelaxNGSetValidStructuredErrors(vctxt, capture_error, &cap);
	rc = xmlRelaxNGValidateDoc(vctxt, doc);
	if (rc != 0) {
		if (cap.have)
			err = sp_fail(SP_ERR_INPUT, "%s", cap.msg);
		else if (rc > 0)
			err = sp_fail(SP_ERR_INPUT, "%s: does not match the %s schema", origin, what);
		else
			err = sp_fail(SP_ERR_INTERNAL, "%s: schema validation failed", origin);
		goto out;
	}
	*out = doc;
	doc = NULL;
	err = SP_OK;
out:
	if (guarded)
		guard_leave(&g);
	xmlRelaxNGFreeValidCtxt(vctxt);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return err;
}
