/*
 * templates_int.h - what the files of templates/ share with each other and
 * nobody else. The public API is templates.h.
 */
#ifndef SITEPKI_TEMPLATES_INT_H
#define SITEPKI_TEMPLATES_INT_H

#include <stddef.h>

#include <libxml/tree.h>

#include "templates/templates.h"

/* The XML namespace every template element lives in. */
#define SP_TPL_NS "urn:sitepki:template:1"

/* The one token a fixed subject value may carry. */
#define SP_TPL_SITE_CODE_TOKEN "{siteCode}"

/* Longest template name (the schema and sp_template_name_valid agree). */
#define SP_TPL_MAX_NAME 63

/* ------------------------------------------------------ template_xml.c */

/* Parse `xml` without network, entity substitution or DTD loading, refuse a
 * DOCTYPE, and validate against template.rng (loaded once per process). On
 * success *out is the document (xmlFreeDoc it). Errors are one line:
 * SP_ERR_INPUT "ORIGIN:LINE: message" for the document, SP_ERR_IO or
 * SP_ERR_INTERNAL naming the schema file when the schema cannot be used. */
sp_err sp_template_xml_read(const char *xml, size_t len, const char *origin, xmlDocPtr *out) SP_WARN_UNUSED;

/* ---------------------------------------------------- template_rules.c */

/* The checks that come after schema validation: limits, cross-field rules,
 * duplicates, the name/file match. `t` is fully built. SP_ERR_INPUT
 * "ORIGIN: what" on the first broken rule. */
sp_err sp_template_check_rules(const sp_template *t, const char *origin) SP_WARN_UNUSED;

/* ----------------------------------------------------- template_text.c */

/* 1 if name is [a-z0-9][a-z0-9-]{0,62}, else 0. */
int sp_template_name_valid(const char *name);

/* Check a fixed subject value: printable ASCII (0x20-0x7E) and no brace
 * other than in "{siteCode}". Returns NULL when it is fine, else a static
 * one-line reason. *n_tokens gets the number of {siteCode} tokens and
 * *n_literal the number of other characters. */
const char *sp_template_fixed_scan(const char *fixed, size_t *n_tokens, size_t *n_literal);

/* Copy `in` for an error message: printable ASCII kept, anything else
 * (newlines, escapes, bytes >= 0x80) shown as '?', cut to fit `out`. */
void sp_template_safe_copy(char *out, size_t outsz, const char *in);

#endif
