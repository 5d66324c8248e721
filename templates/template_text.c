/*
 * template_text.c - the small string rules of templates: what a template
 * name may be, what a fixed subject value may contain, and the {siteCode}
 * expansion.
 */
#include "templates/templates_int.h"

#include <stdlib.h>
#include <string.h>

/* ConfigMgr site codes are exactly three letters or digits; the site server
 * signing CN was sized for that (60 characters, under the 64 of
 * ub-common-name, RFC 5280 appendix A). */
#define SITE_CODE_LEN 3

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

int sp_template_name_valid(const char *name)
{
	size_t i;

	/* The name becomes a file name and an EST label (RFC 7030 3.2.2), so
	 * it must never carry '/', '.', or anything that needs quoting. */
	if (!name || !is_lower_alnum(name[0]))
		return 0;
	for (i = 1; name[i]; i++) {
		if (i >= SP_TPL_MAX_NAME)
			return 0;
		if (!is_lower_alnum(name[i]) && name[i] != '-')
			return 0;
	}
	return 1;
}

const char *sp_template_fixed_scan(const char *fixed, size_t *n_tokens, size_t *n_literal)
{
	const size_t toklen = strlen(SP_TPL_SITE_CODE_TOKEN);
	const char *p = fixed;

	*n_tokens = 0;
	*n_literal = 0;
	while (*p) {
		unsigned char c = (unsigned char)*p;

		/* DN strings must be single-byte so that they encode as
		 * PrintableString or ASCII-only UTF8String (facts: "ASCII only
		 * in names"); control characters break selection matching. */
		if (c < 0x20 || c > 0x7e)
			return "fixed value must be printable ASCII (0x20-0x7E)";
		if (c == '{') {
			if (strncmp(p, SP_TPL_SITE_CODE_TOKEN, toklen) != 0)
				return "fixed value has an unknown {token}; only {siteCode} is allowed";
			(*n_tokens)++;
			p += toklen;
			continue;
		}
		/* A lone '}' would make a later format change ambiguous. */
		if (c == '}')
			return "fixed value has a '}' outside {siteCode}";
		(*n_literal)++;
		p++;
	}
	return NULL;
}

void sp_template_safe_copy(char *out, size_t outsz, const char *in)
{
	size_t i = 0;

	if (outsz == 0)
		return;
	for (; in && *in && i + 1 < outsz; in++) {
		unsigned char c = (unsigned char)*in;

		out[i++] = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';
	}
	out[i] = '\0';
}

char *sp_template_expand(const char *fixed, const char *site_code)
{
	const size_t toklen = strlen(SP_TPL_SITE_CODE_TOKEN);
	size_t n_tokens, n_literal, i, outlen;
	char *out = NULL, *w;
	const char *p;

	if (!fixed)
		goto out;
	/* Same rules as at load time, so a value built by hand cannot smuggle
	 * in what a template file could not. */
	if (sp_template_fixed_scan(fixed, &n_tokens, &n_literal) != NULL)
		goto out;
	/* The site code matters only where it is used: callers expand every
	 * fixed value, with no site code when the template needs none. */
	if (n_tokens > 0) {
		if (!site_code || strlen(site_code) != SITE_CODE_LEN)
			goto out;
		for (i = 0; i < SITE_CODE_LEN; i++)
			if (!is_alnum(site_code[i]))
				goto out;
	}

	/* Both counts are bounded by strlen(fixed), so this cannot overflow. */
	outlen = n_literal + n_tokens * SITE_CODE_LEN;
	out = malloc(outlen + 1);
	if (!out)
		goto out;
	w = out;
	for (p = fixed; *p;) {
		if (*p == '{') {
			memcpy(w, site_code, SITE_CODE_LEN);
			w += SITE_CODE_LEN;
			p += toklen;
		} else {
			*w++ = *p++;
		}
	}
	*w = '\0';
out:
	return out;
}
