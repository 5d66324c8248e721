/*
 * crl_publish.c - sp_crl_publish and sp_crl_latest: number, build, sign,
 * record, then write the files the CDP/AIA URLs point to.
 *
 * Order (docs/crl.md):
 *   BEGIN IMMEDIATE (one publisher at a time, and one consistent snapshot
 *     of the revocation state and the CRL numbers)
 *   number = 1 + max(store's last, publish/crl/<slug>.number, the number in
 *     the published DER when that sidecar is missing)
 *   walk the revoked certificates from the store into the streaming builder,
 *     sign (crl_build.c)
 *   insert the CRL row + audit row, COMMIT (durable)
 *   write, each atomically (temp + fsync + rename): the number sidecar first
 *     (so it is never behind a published file), the DER, the PEM, the CA
 *     certificate.
 * A crash before COMMIT leaves nothing; after it, the files of the previous
 * CRL until the next publish, which takes a higher number.
 */
#include "revocation/crl_int.h"

#include "ca/ca_int.h" /* the CA key: ca.h lends no EVP_PKEY */

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PUBLISH_DIR "publish"
/* A published CRL we read back to learn its number. */
#define MAX_CRL_FILE ((size_t)1 << 30)

static sp_err publish_path(sp_ca *ca, const char *rel, const char *suffix, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "%s/%s/%s%s", sp_ca_get0_home(ca), PUBLISH_DIR, rel, suffix);
	if (n < 0 || (size_t)n >= outsz)
		return sp_fail(SP_ERR_INPUT, "path too long: %s/%s/%s%s", sp_ca_get0_home(ca), PUBLISH_DIR, rel, suffix);
	return SP_OK;
}

/* publish/crl/<slug>.number: the last CRL number written to the publish
 * directory, full or delta (they share one sequence). */
static sp_err sidecar_path(sp_ca *ca, char *out, size_t outsz)
{
	char rel[512];
	const char *f = sp_ca_crl_file(ca);
	size_t n = strlen(f);
	if (n < 4 || strcmp(f + n - 4, ".crl") || n - 4 >= sizeof rel)
		return sp_fail(SP_ERR_INTERNAL, "unexpected CRL file name %s", f);
	memcpy(rel, f, n - 4);
	rel[n - 4] = '\0';
	return publish_path(ca, rel, ".number", out, outsz);
}

static sp_err parse_number(const char *s, const char *path, int64_t *out)
{
	int64_t v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		goto bad;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (INT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (*p == '\n')
		p++;
	if (*p)
		goto bad;
	*out = v;
	return SP_OK;
bad:
	return sp_fail(SP_ERR_INPUT,
		       "%s does not hold a CRL number; it guards against reusing numbers: fix it (one decimal "
		       "number, at least the last published CRL's) or remove it",
		       path);
}

static sp_err number_in_file(const char *path, int64_t *out)
{
	uint8_t *data = NULL;
	size_t len = 0;
	sp_err rc;
	if ((rc = sp_file_read(path, MAX_CRL_FILE, &data, &len)) != SP_OK)
		return rc;
	rc = sp_crl_der_number(data, len, out);
	free(data);
	if (rc != SP_OK) {
		char why[256];
		snprintf(why, sizeof why, "%s", sp_last_error());
		return sp_fail(rc, "%s: %s; without the number sidecar this is the only record of the published CRL "
				   "number: remove it only if you know no higher number was ever published",
			       path, why);
	}
	return SP_OK;
}

/* The highest CRL number the publish directory shows, 0 if none. */
static sp_err published_number(sp_ca *ca, int64_t *out)
{
	char path[4200];
	uint8_t *data = NULL;
	size_t len = 0;
	const char *files[2];
	sp_err rc;

	*out = 0;
	if ((rc = sidecar_path(ca, path, sizeof path)) != SP_OK)
		return rc;
	if (sp_path_exists(path)) {
		if ((rc = sp_file_read(path, 64, &data, &len)) != SP_OK)
			return rc;
		rc = parse_number((const char *)data, path, out);
		free(data);
		return rc;
	}
	/* no sidecar (an older layout, or lost): the published files say */
	files[0] = sp_ca_crl_file(ca);
	files[1] = sp_ca_delta_crl_file(ca);
	for (int i = 0; i < 2; i++) {
		int64_t n = 0;
		if ((rc = publish_path(ca, files[i], "", path, sizeof path)) != SP_OK)
			return rc;
		if (!sp_path_exists(path))
			continue;
		if ((rc = number_in_file(path, &n)) != SP_OK)
			return rc;
		if (n > *out)
			*out = n;
	}
	return SP_OK;
}

typedef struct {
	sp_crl_builder *b;
	int delta;
	int64_t drop_before; /* 0 = keep every entry */
	sp_err rc;
} walk_ctx;

static int walk_cb(const sp_revoked_entry *e, void *arg)
{
	walk_ctx *w = arg;
	/* RFC 5280 3.3: an entry leaves the CRL only after it appeared on one
	 * regularly scheduled CRL issued after the certificate expired, i.e.
	 * it had expired and was revoked before the previous full CRL. */
	if (w->drop_before && e->not_after < w->drop_before && e->revoked_at <= w->drop_before)
		return 0;
	w->rc = sp_crl_builder_add(w->b, e->serial, e->revoked_at, e->reason, w->delta);
	return w->rc != SP_OK;
}

static sp_err ensure_dirs(sp_ca *ca)
{
	static const char *const dirs[] = {PUBLISH_DIR, PUBLISH_DIR "/crl", PUBLISH_DIR "/ca"};
	char path[4200];
	sp_err rc;
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
		if ((rc = sp_path_join(path, sizeof path, sp_ca_get0_home(ca), dirs[i])) != SP_OK ||
		    (rc = sp_dir_ensure(path, 0755)) != SP_OK)
			return rc;
	return SP_OK;
}

static sp_err write_pub(sp_ca *ca, const char *rel, const char *suffix, const void *data, size_t len)
{
	char path[4200];
	sp_err rc;
	if ((rc = publish_path(ca, rel, suffix, path, sizeof path)) != SP_OK)
		return rc;
	return sp_file_write_atomic(path, data, len, 0644, 1);
}

/* RFC 7468 PEM of the DER, encoded in one pass into a buffer of the exact
 * size (a memory BIO grows by copy-and-cleanse: 0.4 s for a 50 MB CRL).
 * EVP_EncodeUpdate/Final write the 64-character lines. */
static sp_err pem_encode(const uint8_t *der, size_t len, char **out, size_t *out_len)
{
	static const char head[] = "-----BEGIN " PEM_STRING_X509_CRL "-----\n";
	static const char tail[] = "-----END " PEM_STRING_X509_CRL "-----\n";
	size_t b64 = (len + 2) / 3 * 4, cap = sizeof head + b64 + b64 / 64 + 2 + sizeof tail;
	EVP_ENCODE_CTX *ctx = NULL;
	char *buf = NULL;
	size_t o;
	int n = 0, m = 0;
	sp_err rc = SP_OK;

	*out = NULL;
	*out_len = 0;
	if (len > INT32_MAX / 2)
		return sp_fail(SP_ERR_INPUT, "CRL too large for PEM (%zu bytes)", len);
	if (!(buf = malloc(cap)) || !(ctx = EVP_ENCODE_CTX_new())) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory for the PEM of the CRL (%zu bytes)", cap);
		goto out;
	}
	memcpy(buf, head, sizeof head - 1);
	o = sizeof head - 1;
	EVP_EncodeInit(ctx);
	if (!EVP_EncodeUpdate(ctx, (unsigned char *)buf + o, &n, der, (int)len)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "PEM encoding of the CRL");
		goto out;
	}
	o += (size_t)n;
	EVP_EncodeFinal(ctx, (unsigned char *)buf + o, &m);
	o += (size_t)m;
	if (o + sizeof tail - 1 > cap) { /* cannot happen: cap is the exact bound */
		rc = sp_fail(SP_ERR_INTERNAL, "PEM length");
		goto out;
	}
	memcpy(buf + o, tail, sizeof tail - 1);
	*out_len = o + sizeof tail - 1;
	*out = buf;
	buf = NULL;
out:
	EVP_ENCODE_CTX_free(ctx);
	free(buf);
	return rc;
}

static sp_err write_files(sp_ca *ca, int delta, int64_t number, const uint8_t *der, size_t len)
{
	const char *rel = delta ? sp_ca_delta_crl_file(ca) : sp_ca_crl_file(ca);
	const sp_ca_row *info = sp_ca_get0_info(ca);
	char path[4200], num[32], *pem = NULL;
	size_t pem_len = 0;
	sp_err rc;

	if ((rc = sidecar_path(ca, path, sizeof path)) != SP_OK)
		return rc;
	snprintf(num, sizeof num, "%lld\n", (long long)number);
	if ((rc = sp_file_write_atomic(path, num, strlen(num), 0644, 1)) != SP_OK ||
	    (rc = write_pub(ca, rel, "", der, len)) != SP_OK)
		return rc;
	if ((rc = pem_encode(der, len, &pem, &pem_len)) != SP_OK)
		return rc;
	rc = write_pub(ca, rel, ".pem", pem, pem_len);
	free(pem);
	if (rc != SP_OK)
		return rc;
	return write_pub(ca, sp_ca_aia_file(ca), "", info->cert_der, info->cert_der_len);
}

sp_err sp_crl_publish(sp_ca *ca, int delta, int64_t now, const char *actor, sp_crl_info *out)
{
	const sp_crl_policy *pol = sp_ca_get0_crl_policy(ca);
	sp_store *st = sp_ca_get0_store(ca);
	sp_crl_row last, base, row;
	sp_crl_builder *b = NULL;
	sp_crl_spec spec;
	walk_ctx w = {0};
	int64_t published = 0, seq = 0, ca_not_before = 0;
	uint8_t *der = NULL;
	size_t der_len = 0;
	char subject[32], detail[256], tu[32], nu[32];
	int in_txn = 0;
	sp_err rc;

	memset(&last, 0, sizeof last);
	memset(&base, 0, sizeof base);
	memset(&row, 0, sizeof row);
	memset(&spec, 0, sizeof spec);
	if (out)
		memset(out, 0, sizeof *out);
	delta = !!delta;
	if (!actor || !*actor)
		return sp_fail(SP_ERR_USAGE, "sp_crl_publish: an actor for the audit row is required");
	if (!sp_ca_has_key(ca) || !sp_ca_get0_cert(ca))
		return sp_fail(SP_ERR_USAGE, "the CA key is not loaded (a passphrase is needed to sign a CRL)");
	if (delta && !pol->delta_enabled)
		return sp_fail(SP_ERR_USAGE, "delta CRLs are off for this CA (sitepki ca set --delta on)");
	if ((rc = sp_asn1_time_to_unix(X509_get0_notBefore(sp_ca_get0_cert(ca)), &ca_not_before)) != SP_OK)
		return rc;

	/* before anything is recorded: a publish directory we cannot make is
	 * better found now than after the commit */
	if ((rc = ensure_dirs(ca)) != SP_OK)
		return rc;
	if ((rc = sp_store_begin(st)) != SP_OK)
		return rc;
	in_txn = 1;
	rc = sp_store_crl_last(st, -1, 0, &last);
	if (rc == SP_ERR_NOTFOUND)
		last.number = 0;
	else if (rc != SP_OK)
		goto out;
	if ((rc = published_number(ca, &published)) != SP_OK)
		goto out;
	if (delta) {
		rc = sp_store_crl_last(st, 0, 0, &base);
		if (rc == SP_ERR_NOTFOUND)
			rc = sp_fail(SP_ERR_USAGE, "no full CRL to build a delta CRL on: run sitepki crl publish first");
		if (rc != SP_OK)
			goto out;
	}
	/* read before the walk: within this transaction nothing can change in
	 * between, and seq is what the next delta asks "changes after" */
	if ((rc = sp_store_revocation_seq(st, &seq)) != SP_OK)
		goto out;

	spec.ca_cert = sp_ca_get0_cert(ca);
	spec.key = ca->key;
	spec.number = (last.number > published ? last.number : published) + 1;
	spec.this_update = now;
	spec.next_update = now + (delta ? (int64_t)pol->delta_hours * 3600 : (int64_t)pol->crl_days * 86400);
	spec.idp_url = sp_ca_crl_url(ca); /* a delta has its base's scope (RFC 5280 5.2.4) */
	spec.freshest_url = !delta && pol->delta_enabled ? sp_ca_delta_crl_url(ca) : NULL;
	spec.base_number = delta ? base.number : 0;
	/* the CA's notBefore: every revoked certificate that ever expired is
	 * kept (as AD CS does with CRLF_PUBLISH_EXPIRED_CERT_CRLS) */
	spec.expired_kept_from = pol->keep_expired ? ca_not_before : 0;

	if ((rc = sp_crl_builder_new(&b)) != SP_OK)
		goto out;
	w.b = b;
	w.delta = delta;
	w.rc = SP_OK;
	if (!pol->keep_expired) {
		/* the full CRL before this one (or the base of this delta) */
		sp_crl_row prev;
		memset(&prev, 0, sizeof prev);
		if (delta)
			w.drop_before = base.this_update;
		else if ((rc = sp_store_crl_last(st, 0, 0, &prev)) == SP_OK)
			w.drop_before = prev.this_update;
		else if (rc != SP_ERR_NOTFOUND)
			goto out;
		sp_crl_row_clear(&prev);
	}
	rc = sp_store_revoked_list(st, delta ? base.seq : -1, 0, walk_cb, &w);
	if (w.rc != SP_OK)
		rc = w.rc;
	if (rc != SP_OK)
		goto out;
	if ((rc = sp_crl_builder_finish(b, &spec, &der, &der_len)) != SP_OK)
		goto out;

	row.number = spec.number;
	row.delta = delta;
	row.base_number = spec.base_number;
	row.this_update = spec.this_update;
	row.next_update = spec.next_update;
	row.seq = seq;
	row.entries = sp_crl_builder_count(b);
	row.der = der;
	row.der_len = der_len;
	sp_time_iso(row.this_update, tu, sizeof tu);
	sp_time_iso(row.next_update, nu, sizeof nu);
	snprintf(subject, sizeof subject, "%lld", (long long)row.number);
	if (delta)
		snprintf(detail, sizeof detail, "delta base=%lld entries=%lld this_update=%s next_update=%s",
			 (long long)row.base_number, (long long)row.entries, tu, nu);
	else
		snprintf(detail, sizeof detail, "full entries=%lld this_update=%s next_update=%s", (long long)row.entries,
			 tu, nu);
	if ((rc = sp_store_crl_insert(st, &row)) != SP_OK ||
	    (rc = sp_store_audit_append(st, actor, delta ? "crl-publish-delta" : "crl-publish", subject, detail)) !=
		    SP_OK)
		goto out;
	rc = sp_store_commit(st);
	in_txn = 0;
	if (rc != SP_OK)
		goto out;
	sp_crl_builder_free(b);
	b = NULL;

	if (out) {
		out->number = row.number;
		out->delta = delta;
		out->base_number = row.base_number;
		out->this_update = row.this_update;
		out->next_update = row.next_update;
		out->entries = row.entries;
	}
	if ((rc = write_files(ca, delta, row.number, der, der_len)) != SP_OK) {
		char why[512];
		snprintf(why, sizeof why, "%s", sp_last_error());
		rc = sp_fail(rc, "CRL %lld is recorded but not (fully) published: %s; run sitepki crl publish again",
			     (long long)row.number, why);
	}
out:
	if (in_txn)
		sp_store_rollback(st);
	sp_crl_builder_free(b);
	OPENSSL_free(der);
	sp_crl_row_clear(&last);
	sp_crl_row_clear(&base);
	return rc;
}

static sp_err decode(const sp_crl_row *row, X509_CRL **out)
{
	const unsigned char *p = row->der;
	*out = d2i_X509_CRL(NULL, &p, (long)row->der_len);
	if (!*out || p != row->der + row->der_len) {
		X509_CRL_free(*out);
		*out = NULL;
		return sp_fail_ossl(SP_ERR_DB, "CRL %lld in the store does not decode", (long long)row->number);
	}
	return SP_OK;
}

sp_err sp_crl_latest(sp_ca *ca, X509_CRL **full, X509_CRL **delta)
{
	sp_store *st = sp_ca_get0_store(ca);
	sp_crl_row f, d;
	sp_err rc;

	*full = NULL;
	*delta = NULL;
	memset(&f, 0, sizeof f);
	memset(&d, 0, sizeof d);
	rc = sp_store_crl_last(st, 0, 1, &f);
	if (rc == SP_ERR_NOTFOUND)
		return sp_fail(SP_ERR_NOTFOUND, "no CRL published yet: sitepki crl publish");
	if (rc != SP_OK)
		return rc;
	if ((rc = decode(&f, full)) != SP_OK)
		goto out;
	rc = sp_store_crl_last(st, 1, 1, &d);
	if (rc == SP_ERR_NOTFOUND) {
		rc = SP_OK;
		goto out;
	}
	if (rc != SP_OK)
		goto out;
	if (d.base_number == f.number && d.number > f.number)
		rc = decode(&d, delta);
out:
	if (rc != SP_OK) {
		X509_CRL_free(*full);
		*full = NULL;
	}
	sp_crl_row_clear(&f);
	sp_crl_row_clear(&d);
	return rc;
}
