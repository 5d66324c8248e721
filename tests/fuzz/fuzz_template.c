/*
 * fuzz_template.c - libFuzzer target: template XML through
 * sp_template_parse() (libxml2 with DOCTYPE refusal, RELAX NG validation,
 * the mapping to sp_template and the semantic rules), origin "fuzz" so that
 * any template name is accepted. A template that parses also has its fixed
 * values expanded, as issuance would.
 *
 * The schema is read from $SITEPKI_DATA_DIR or the compile-time data
 * directory (the source tree's templates/), once per process.
 */
#include <stdint.h>
#include <stdlib.h>

#include "templates/templates.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_template *t = NULL;

	if (sp_template_parse((const char *)data, size, "fuzz", &t) != SP_OK)
		return 0;
	for (int i = 0; i < t->n_attrs; i++) {
		if (t->attrs[i].fixed) {
			free(sp_template_expand(t->attrs[i].fixed, "P01"));
			free(sp_template_expand(t->attrs[i].fixed, "x"));
		}
	}
	sp_template_free(t);
	return 0;
}
