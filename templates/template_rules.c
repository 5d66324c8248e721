/*
 * template_rules.c - the policy a template must meet once it has passed the
 * schema: key sizes, counts, duplicates, single-byte text, the {siteCode}
 * token and the name/file match. Every rule a template file is held to
 * beyond syntax is in this file.
 *
 * Rules work on the built sp_template, so they also guard templates built
 * by other means (tests, a future import), and some repeat a bound the
 * schema already has so that an edited schema cannot loosen them.
 */
#include "templates/templates_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* RFC 5280 section 4 and facts "RSA >= 2048 everywhere"; above 16384 RSA
 * is a denial of service on every relying party, not security. */
#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 16384
#define VALIDITY_MAX_DAYS 36500
#define SAN_MAX_VALUES 64
#define OID_MAX_LEN 128

/* Upper bounds of RFC 5280 appendix A (ub-*), checked on the value after
 * {siteCode} expansion; DC is one DNS label (RFC 4519 2.4, RFC 1035). */
static const struct {
	const char *type;
	size_t max_len;
} attr_types[] = {
	{"CN", 64}, {"O", 64}, {"OU", 64}, {"L", 128}, {"ST", 128},
	{"C", 2},   {"DC", 63}, {"serialNumber", 64},
};
#define N_ATTR_TYPES (sizeof attr_types / sizeof attr_types[0])

/* The expanded site code is three characters (see template_text.c). */
#define SITE_CODE_LEN 3

static sp_err SP_PRINTF(2, 3) broken(const char *origin, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return sp_fail(SP_ERR_INPUT, "%s: %s", origin, what);
}

/* 7-bit ASCII text; tab and line breaks are allowed where `multiline`. */
static int is_ascii_text(const char *s, int multiline)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c <= 0x7e)
			continue;
		if (multiline && (c == '\t' || c == '\n' || c == '\r'))
			continue;
		return 0;
	}
	return 1;
}

static sp_err check_name(const sp_template *t, const char *origin)
{
	const char *base;
	size_t olen, blen;
	char shown[SP_TPL_MAX_NAME + 2];
	sp_err err = SP_OK;

	sp_template_safe_copy(shown, sizeof shown, t->name ? t->name : "");
	if (!t->name || !sp_template_name_valid(t->name)) {
		err = broken(origin, "template name \"%s\" must match [a-z0-9][a-z0-9-]{0,62}", shown);
		goto out;
	}
	/* A template is found by file name but issued under its own name; the
	 * two must not disagree or an admin edits one file and gets another. */
	olen = strlen(origin);
	if (olen < 4 || strcmp(origin + olen - 4, ".xml") != 0)
		goto out;
	base = strrchr(origin, '/');
	base = base ? base + 1 : origin;
	blen = strlen(base) - 4;
	if (strlen(t->name) != blen || strncmp(t->name, base, blen) != 0)
		err = broken(origin, "template name \"%s\" does not match the file name", shown);
out:
	return err;
}

static sp_err check_general(const sp_template *t, const char *origin)
{
	sp_err err = SP_OK;

	if (t->description && !is_ascii_text(t->description, 1))
		err = broken(origin, "description must be 7-bit ASCII text");
	else if (t->validity_days < 1 || t->validity_days > VALIDITY_MAX_DAYS)
		err = broken(origin, "validity days %d is outside 1..%d", t->validity_days,
			     VALIDITY_MAX_DAYS);
	else if (strcmp(t->hash, "sha256") != 0 && strcmp(t->hash, "sha384") != 0 &&
		 strcmp(t->hash, "sha512") != 0)
		err = broken(origin, "signature hash must be sha256, sha384 or sha512");
	return err;
}

static sp_err check_keys(const sp_template *t, const char *origin)
{
	int i, j;
	sp_err err = SP_OK;

	if (!t->rsa_allowed && t->n_ec_curves == 0) {
		err = broken(origin, "<keys> allows no key type");
		goto out;
	}
	if (t->rsa_allowed) {
		if (t->rsa_min_bits < RSA_MIN_BITS) {
			err = broken(origin, "rsa minBits %d is below %d", t->rsa_min_bits, RSA_MIN_BITS);
			goto out;
		}
		if (t->rsa_max_bits > RSA_MAX_BITS) {
			err = broken(origin, "rsa maxBits %d is above %d", t->rsa_max_bits, RSA_MAX_BITS);
			goto out;
		}
		if (t->rsa_min_bits > t->rsa_max_bits) {
			err = broken(origin, "rsa minBits %d is above maxBits %d", t->rsa_min_bits,
				     t->rsa_max_bits);
			goto out;
		}
	}
	if (t->n_ec_curves < 0 || t->n_ec_curves > SP_TPL_MAX_CURVES) {
		err = broken(origin, "too many EC curves");
		goto out;
	}
	for (i = 0; i < t->n_ec_curves; i++) {
		if (strcmp(t->ec_curves[i], "P-256") != 0 && strcmp(t->ec_curves[i], "P-384") != 0) {
			err = broken(origin, "ec curve must be P-256 or P-384");
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(t->ec_curves[i], t->ec_curves[j]) == 0) {
				err = broken(origin, "ec curve %s listed twice", t->ec_curves[i]);
				goto out;
			}
		}
	}
out:
	return err;
}

static sp_err check_key_usage(const sp_template *t, const char *origin)
{
	const unsigned all = SP_KU_DIGITAL_SIGNATURE | SP_KU_NON_REPUDIATION | SP_KU_KEY_ENCIPHERMENT |
			     SP_KU_DATA_ENCIPHERMENT | SP_KU_KEY_AGREEMENT;
	unsigned ec_usage = t->key_usage & ~t->key_usage_rsa_only;
	sp_err err = SP_OK;

	if (t->key_usage == 0 || (t->key_usage & ~all) != 0)
		err = broken(origin, "keyUsage must name at least one known usage");
	else if ((t->key_usage_rsa_only & ~t->key_usage) != 0)
		err = broken(origin, "rsaOnly marks a usage that is not listed");
	/* RFC 5480 section 3: an EC subject key must not carry
	 * keyEncipherment or dataEncipherment. */
	else if (t->n_ec_curves > 0 &&
		 (ec_usage & (SP_KU_KEY_ENCIPHERMENT | SP_KU_DATA_ENCIPHERMENT)) != 0)
		err = broken(origin, "keyEncipherment/dataEncipherment must be rsaOnly=\"true\" when EC keys "
				     "are allowed (RFC 5480 section 3)");
	else if (t->n_ec_curves > 0 && ec_usage == 0)
		err = broken(origin, "EC keys are allowed but every key usage is rsaOnly");
	return err;
}

/* Dotted decimal, at least two arcs, first arc 0-2, second arc below 40
 * under arcs 0 and 1 (X.660), no leading zeros. */
static int oid_valid(const char *oid)
{
	size_t len = strlen(oid);
	int arc = 0;
	long first = -1, value = 0;
	const char *p = oid;

	if (len == 0 || len > OID_MAX_LEN)
		return 0;
	for (;;) {
		const char *start = p;

		if (*p < '0' || *p > '9')
			return 0;
		if (*p == '0' && p[1] >= '0' && p[1] <= '9')
			return 0;
		value = 0;
		while (*p >= '0' && *p <= '9') {
			/* Only the first two arcs need a value; later arcs may
			 * be long (2.25.<uuid>), so stop counting early. */
			if (p - start < 9)
				value = value * 10 + (*p - '0');
			p++;
		}
		if (arc == 0) {
			if (value > 2)
				return 0;
			first = value;
		} else if (arc == 1 && first < 2 && (p - start > 2 || value > 39)) {
			return 0;
		}
		arc++;
		if (*p == '\0')
			break;
		if (*p != '.')
			return 0;
		p++;
	}
	return arc >= 2;
}

static sp_err check_eku(const sp_template *t, const char *origin)
{
	int i, j;
	sp_err err = SP_OK;

	if (t->n_eku < 1 || t->n_eku > SP_TPL_MAX_EKU) {
		err = broken(origin, "extendedKeyUsage needs 1..%d purposes", SP_TPL_MAX_EKU);
		goto out;
	}
	for (i = 0; i < t->n_eku; i++) {
		char shown[OID_MAX_LEN + 1];

		if (!t->eku_oid[i] || !t->eku_name[i]) {
			err = broken(origin, "purpose %d has no OID or name", i + 1);
			goto out;
		}
		sp_template_safe_copy(shown, sizeof shown, t->eku_oid[i]);
		if (!oid_valid(t->eku_oid[i])) {
			err = broken(origin, "purpose OID \"%s\" is not a valid dotted OID", shown);
			goto out;
		}
		if (t->eku_name[i][0] == '\0' || !is_ascii_text(t->eku_name[i], 0)) {
			err = broken(origin, "purpose %s needs a 7-bit ASCII name", shown);
			goto out;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(t->eku_oid[i], t->eku_oid[j]) == 0) {
				err = broken(origin, "purpose OID %s listed twice", shown);
				goto out;
			}
			if (strcmp(t->eku_name[i], t->eku_name[j]) == 0) {
				err = broken(origin, "purpose name for %s used twice", shown);
				goto out;
			}
		}
	}
out:
	return err;
}

static sp_err check_fixed(const sp_tpl_attr *a, size_t max_len, const char *origin)
{
	size_t n_tokens, n_literal, len = strlen(a->fixed);
	const char *why;
	sp_err err = SP_OK;

	why = sp_template_fixed_scan(a->fixed, &n_tokens, &n_literal);
	if (why) {
		err = broken(origin, "subject %s: %s", a->type, why);
		goto out;
	}
	/* Windows strips spaces from attribute values when it matches
	 * certificates (facts: Selection), so edge spaces never match. */
	if (len == 0 || a->fixed[0] == ' ' || a->fixed[len - 1] == ' ') {
		err = broken(origin, "subject %s: fixed value must not be empty or start/end with a space",
			     a->type);
		goto out;
	}
	if (a->format == SP_FORMAT_DNS) {
		err = broken(origin, "subject %s: a fixed value cannot have format=\"dns\"", a->type);
		goto out;
	}
	if (n_literal + n_tokens * SITE_CODE_LEN > max_len) {
		err = broken(origin, "subject %s: fixed value longer than %zu characters", a->type,
			     max_len);
		goto out;
	}
	/* ISO 3166 alpha-2, as PrintableString requires for C. */
	if (strcmp(a->type, "C") == 0 &&
	    !(a->fixed[0] >= 'A' && a->fixed[0] <= 'Z' && a->fixed[1] >= 'A' && a->fixed[1] <= 'Z')) {
		err = broken(origin, "subject C: fixed value must be two upper-case letters");
		goto out;
	}
out:
	return err;
}

static sp_err check_subject(const sp_template *t, const char *origin)
{
	int i, j;
	size_t k;
	sp_err err = SP_OK;

	if (t->n_attrs < 1 || t->n_attrs > SP_TPL_MAX_ATTRS) {
		err = broken(origin, "subject needs 1..%d attributes", SP_TPL_MAX_ATTRS);
		goto out;
	}
	for (i = 0; i < t->n_attrs; i++) {
		const sp_tpl_attr *a = &t->attrs[i];

		for (k = 0; k < N_ATTR_TYPES; k++)
			if (strcmp(a->type, attr_types[k].type) == 0)
				break;
		if (k == N_ATTR_TYPES) {
			err = broken(origin, "subject attribute type is not one of CN O OU L ST C DC "
					     "serialNumber");
			goto out;
		}
		/* One rule per type: two rules for the same type could not
		 * say which CSR value each applies to. */
		for (j = 0; j < i; j++) {
			if (strcmp(a->type, t->attrs[j].type) == 0) {
				err = broken(origin, "subject attribute %s listed twice", a->type);
				goto out;
			}
		}
		if (a->format != SP_FORMAT_TEXT && a->format != SP_FORMAT_DNS) {
			err = broken(origin, "subject %s: unknown format", a->type);
			goto out;
		}
		if (a->fixed) {
			err = check_fixed(a, attr_types[k].max_len, origin);
			if (err != SP_OK)
				goto out;
		}
	}
out:
	return err;
}

static sp_err check_san_rule(const sp_tpl_san *s, const char *what, const char *origin)
{
	sp_err err = SP_OK;

	if (s->from == 0) {
		if (s->min != 0 || s->max != 0)
			err = broken(origin, "subjectAltName %s: limits given but no source", what);
	} else if ((s->from & ~(SP_FROM_CSR | SP_FROM_CLI)) != 0) {
		err = broken(origin, "subjectAltName %s: unknown source", what);
	} else if (s->max < 1 || s->max > SAN_MAX_VALUES) {
		err = broken(origin, "subjectAltName %s: max %d is outside 1..%d", what, s->max,
			     SAN_MAX_VALUES);
	} else if (s->min < 0 || s->min > s->max) {
		err = broken(origin, "subjectAltName %s: min %d is above max %d", what, s->min, s->max);
	}
	return err;
}

static sp_err check_enrollment(const sp_template *t, const char *origin)
{
	sp_err err = SP_OK;

	if ((t->auto_approve & ~(SP_APPROVE_TOKEN | SP_APPROVE_CLIENTCERT)) != 0) {
		err = broken(origin, "enrollment autoApprove: unknown method");
	} else if (!t->server_keygen) {
		if (t->keygen_bits != 0)
			err = broken(origin, "enrollment keyGenBits is set but serverKeyGen is not true");
	} else if (!t->rsa_allowed) {
		/* CA-side keys are exported as PKCS#12 for boot media, whose
		 * clients are RSA-only (facts, cryptography table). */
		err = broken(origin, "enrollment serverKeyGen needs <rsa> in <keys>");
	} else if (t->keygen_bits < t->rsa_min_bits || t->keygen_bits > t->rsa_max_bits) {
		err = broken(origin, "enrollment keyGenBits %d is outside the rsa limits %d..%d",
			     t->keygen_bits, t->rsa_min_bits, t->rsa_max_bits);
	}
	return err;
}

sp_err sp_template_check_rules(const sp_template *t, const char *origin)
{
	sp_err err;

	err = check_name(t, origin);
	if (err == SP_OK)
		err = check_general(t, origin);
	if (err == SP_OK)
		err = check_keys(t, origin);
	if (err == SP_OK)
		err = check_key_usage(t, origin);
	if (err == SP_OK)
		err = check_eku(t, origin);
	if (err == SP_OK)
		err = check_subject(t, origin);
	if (err == SP_OK)
		err = check_san_rule(&t->san_dns, "dns", origin);
	if (err == SP_OK)
		err = check_san_rule(&t->san_upn, "upn", origin);
	if (err == SP_OK)
		err = check_enrollment(t, origin);
	return err;
}
