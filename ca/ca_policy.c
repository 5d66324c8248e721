/* ca_policy.c - the CA's CRL policy (store settings "crl.*"), loaded once
 * at sp_ca_open, and where delta CRLs live. docs/crl.md has the meaning of
 * each value. */
#include "ca/ca_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One row per setting: key, field, range, default. */
static const struct {
	const char *key;
	size_t off;
	int min, max, def;
	const char *unit;
} settings[] = {
	{"crl.days", offsetof(sp_crl_policy, crl_days), 1, 365, 7, "days"},
	{"crl.delta", offsetof(sp_crl_policy, delta_enabled), 0, 1, 0, "(0 = off, 1 = on)"},
	{"crl.delta_hours", offsetof(sp_crl_policy, delta_hours), 1, 168, 24, "hours"},
	{"crl.keep_expired", offsetof(sp_crl_policy, keep_expired), 0, 1, 0, "(0 = drop, 1 = keep)"},
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

static int *field(sp_crl_policy *p, size_t i)
{
	return (int *)((char *)p + settings[i].off);
}

static int field_get(const sp_crl_policy *p, size_t i)
{
	return *(const int *)((const char *)p + settings[i].off);
}

/* The ranges, and: a delta must expire before its base would have to be
 * replaced anyway, or deltas add nothing (only checked with deltas on, so
 * that --crl-days 1 alone is not refused for an unused delta_hours). */
static sp_err validate(const sp_crl_policy *p, sp_err code, const char *where)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		int v = field_get(p, i);
		if (v < settings[i].min || v > settings[i].max)
			return sp_fail(code, "%s%s = %d is out of range: %d..%d %s", where, settings[i].key, v,
				       settings[i].min, settings[i].max, settings[i].unit);
	}
	if (p->delta_enabled && p->delta_hours >= p->crl_days * 24)
		return sp_fail(code,
			       "%scrl.delta_hours = %d must be shorter than the full CRL's lifetime (crl.days = %d, "
			       "%d hours) for delta CRLs to be useful",
			       where, p->delta_hours, p->crl_days, p->crl_days * 24);
	return SP_OK;
}

static int parse_int(const char *s, int *out)
{
	long v = 0;
	if (!*s)
		return 0;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9' || v > 1000000)
			return 0;
		v = v * 10 + (*c - '0');
	}
	*out = (int)v;
	return 1;
}

sp_err sp_ca_policy_load(sp_ca *ca)
{
	sp_crl_policy p;
	sp_err rc;

	for (size_t i = 0; i < N_SETTINGS; i++) {
		char *v = NULL;
		*field(&p, i) = settings[i].def;
		rc = sp_store_setting_get(ca->store, settings[i].key, &v);
		if (rc == SP_ERR_NOTFOUND)
			continue;
		if (rc != SP_OK)
			return rc;
		if (!parse_int(v, field(&p, i))) {
			rc = sp_fail(SP_ERR_DB, "store setting %s = '%.40s' is not a number; set it again with sitepki ca set",
				     settings[i].key, v);
			free(v);
			return rc;
		}
		free(v);
	}
	/* only sp_ca_set_crl_policy writes these, after the same checks: a bad
	 * value here was written around it */
	if ((rc = validate(&p, SP_ERR_DB, "store setting ")) != SP_OK)
		return rc;
	ca->crl_policy = p;
	return SP_OK;
}

sp_err sp_ca_set_crl_policy(sp_ca *ca, const sp_crl_policy *p, const char *actor)
{
	char detail[256], val[16];
	size_t off = 0;
	sp_err rc;

	if ((rc = validate(p, SP_ERR_USAGE, "")) != SP_OK)
		return rc;
	if ((rc = sp_store_begin(ca->store)) != SP_OK)
		return rc;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		snprintf(val, sizeof val, "%d", field_get(p, i));
		if ((rc = sp_store_setting_set(ca->store, settings[i].key, val)) != SP_OK)
			goto fail;
		off += (size_t)snprintf(detail + off, sizeof detail - off, "%s%s=%s", i ? " " : "", settings[i].key, val);
	}
	if ((rc = sp_store_audit_append(ca->store, actor ? actor : "cli", "crl-policy", "", detail)) != SP_OK ||
	    (rc = sp_store_commit(ca->store)) != SP_OK)
		goto fail;
	return SP_OK;
fail:
	sp_store_rollback(ca->store);
	return rc;
}

/* RFC 5280 4.2.1.15: FreshestCRL has the syntax of CRLDistributionPoints,
 * so it is the CDP builder's value under the other OID. */
X509_EXTENSION *sp_ext_freshest_crl(const char *url)
{
	X509_EXTENSION *ext = sp_ext_cdp(url);
	if (ext && !X509_EXTENSION_set_object(ext, OBJ_nid2obj(NID_freshest_crl))) {
		X509_EXTENSION_free(ext);
		return NULL;
	}
	return ext;
}

const sp_crl_policy *sp_ca_get0_crl_policy(sp_ca *ca) { return &ca->crl_policy; }
const char *sp_ca_delta_crl_url(sp_ca *ca) { return ca->delta_crl_url; }
const char *sp_ca_delta_crl_file(sp_ca *ca) { return ca->delta_crl_file; }
