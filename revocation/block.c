/* block.c - the block list: add, remove and check.
 *
 * A block is this CA's local refusal of a certificate at its own site
 * systems (the enrollment service asks sp_block_check_cert for every client
 * certificate and request). Unlike a revocation it is immediate, reversible,
 * reaches no other relying party, and works for certificates this CA never
 * issued: those are known only by fingerprint. See docs/blocklist.md. */
#include "revocation/block_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ca/ca_int.h"

#define FP_HINT "give its SHA-256 fingerprint, SHA-1 thumbprint, or the certificate file"

sp_err sp_block_reason_check(const char *reason, size_t len, const char *field)
{
	int printable = 0;

	if (!reason || len == 0)
		return sp_fail(SP_ERR_USAGE, "%s: a block needs a reason", field);
	if (len > SP_BLOCK_MAX_REASON)
		return sp_fail(SP_ERR_USAGE, "%s: longer than %d characters (%zu)", field, SP_BLOCK_MAX_REASON, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)reason[i];
		/* single-byte printable ASCII only: the reason ends up in audit
		 * rows, error messages and terminals */
		if (c < 0x20 || c > 0x7e)
			return sp_fail(SP_ERR_USAGE, "%s: character %zu (0x%02x) is not printable ASCII", field, i + 1, c);
		if (c != ' ')
			printable = 1;
	}
	if (!printable)
		return sp_fail(SP_ERR_USAGE, "%s: a block needs a reason, not only spaces", field);
	return SP_OK;
}

/* The store takes "" for an unknown fingerprint in a row; in a lookup an
 * unknown one is NULL, so that "" never matches the rows that lack it. */
static const char *fp_arg(const char *fp)
{
	return fp[0] ? fp : NULL;
}

static const char *row_id(const sp_block_row *r)
{
	return r->sha256[0] ? r->sha256 : r->sha1;
}

static sp_err check_actor(const char *actor)
{
	if (!actor || !*actor)
		return sp_fail(SP_ERR_USAGE, "block: no actor given for the audit log");
	return SP_OK;
}

/* Is a certificate with these fingerprints blocked? 1 with *out filled,
 * 0 if not, an error otherwise. */
static sp_err find(sp_store *st, const char *sha256, const char *sha1, sp_block_row *out, int *found)
{
	sp_err rc;

	*found = 0;
	if (!sha256 && !sha1)
		return SP_OK;
	rc = sp_store_block_find(st, sha256, sha1, out);
	if (rc == SP_ERR_NOTFOUND) {
		sp_clear_error();
		return SP_OK;
	}
	if (rc == SP_OK)
		*found = 1;
	return rc;
}

/* Record `row` (fingerprints and what is known of the certificate), unless
 * either fingerprint is blocked already, and audit it. */
static sp_err block_insert(sp_ca *ca, sp_block_row *row, const char *reason, const char *actor)
{
	sp_store *st = sp_ca_get0_store(ca);
	sp_block_row old;
	char at[32];
	int found = 0;
	sp_err rc;

	memset(&old, 0, sizeof old);
	if ((rc = find(st, fp_arg(row->sha256), fp_arg(row->sha1), &old, &found)) != SP_OK)
		goto out;
	if (found) {
		sp_time_iso(old.created_at, at, sizeof at);
		rc = sp_fail(SP_ERR_EXISTS, "certificate %s is already blocked since %s by %s: %s; nothing changed",
			     row_id(row), at, old.created_by ? old.created_by : "?", old.reason ? old.reason : "");
		goto out;
	}
	row->reason = (char *)reason; /* borrowed for the call */
	row->created_by = (char *)actor;
	row->created_at = (int64_t)time(NULL);
	if ((rc = sp_store_block_add(st, row)) != SP_OK)
		goto out;
	rc = sp_store_audit_append(st, actor, "block", row_id(row), reason);
out:
	sp_block_row_clear(&old);
	return rc;
}

static sp_err refuse_own_cert(sp_ca *ca, const char *sha256)
{
	char own[65];
	sp_err rc;

	if (!ca->cert)
		return SP_OK;
	if ((rc = sp_cert_sha256_hex(ca->cert, own)) != SP_OK)
		return rc;
	if (!strcmp(own, sha256))
		return sp_fail(SP_ERR_POLICY, "%s is this CA's own certificate; it cannot be blocked", sha256);
	return SP_OK;
}

/* Block a parsed certificate; in_store < 0: find out from the store. */
static sp_err block_cert(sp_ca *ca, X509 *cert, int in_store, const char *reason, const char *actor)
{
	sp_block_row row;
	sp_cert_row cr;
	char serial[41] = "", *subject = NULL, *issuer = NULL;
	sp_err rc;

	memset(&row, 0, sizeof row);
	memset(&cr, 0, sizeof cr);
	if ((rc = sp_cert_sha256_hex(cert, row.sha256)) != SP_OK || (rc = sp_cert_sha1_hex(cert, row.sha1)) != SP_OK)
		goto out;
	if ((rc = refuse_own_cert(ca, row.sha256)) != SP_OK)
		goto out;
	/* A foreign CA's serial may break RFC 5280's limits (negative, over 20
	 * octets); such a certificate is still blocked, by fingerprint only. */
	if (sp_serial_hex(X509_get0_serialNumber(cert), serial, sizeof serial) != SP_OK) {
		serial[0] = '\0';
		sp_clear_error();
	}
	subject = sp_name_oneline(X509_get_subject_name(cert));
	issuer = sp_name_oneline(X509_get_issuer_name(cert));
	if (!subject || !issuer) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (in_store < 0) {
		rc = sp_store_cert_get(sp_ca_get0_store(ca), row.sha256, &cr);
		if (rc != SP_OK && rc != SP_ERR_NOTFOUND)
			goto out;
		in_store = rc == SP_OK;
		if (rc == SP_ERR_NOTFOUND)
			sp_clear_error();
	}
	row.serial = serial;
	row.subject = subject;
	row.issuer = issuer;
	row.in_store = in_store;
	rc = block_insert(ca, &row, reason, actor);
out:
	sp_cert_row_clear(&cr);
	free(subject);
	free(issuer);
	return rc;
}

sp_err sp_block_add_cert(sp_ca *ca, X509 *cert, const char *reason, const char *actor)
{
	sp_err rc;

	if (!cert)
		return sp_fail(SP_ERR_USAGE, "block: no certificate given");
	if ((rc = sp_block_reason_check(reason, reason ? strlen(reason) : 0, "block reason")) != SP_OK ||
	    (rc = check_actor(actor)) != SP_OK)
		return rc;
	return block_cert(ca, cert, -1, reason, actor);
}

sp_err sp_block_add_key(sp_ca *ca, const char *key, const char *reason, const char *actor)
{
	sp_store *st = sp_ca_get0_store(ca);
	sp_cert_row cr;
	sp_block_row row;
	X509 *cert = NULL;
	char norm[65];
	size_t n;
	sp_err rc;

	memset(&cr, 0, sizeof cr);
	memset(&row, 0, sizeof row);
	if ((rc = sp_block_reason_check(reason, reason ? strlen(reason) : 0, "block reason")) != SP_OK ||
	    (rc = check_actor(actor)) != SP_OK)
		return rc;
	if (!key || sp_hex_normalise(key, norm, sizeof norm) != SP_OK)
		return sp_fail(SP_ERR_INPUT, "'%s' is not a serial, fingerprint or thumbprint (hex digits, ':' and spaces); " FP_HINT,
			       key ? key : "");
	n = strlen(norm);

	/* A certificate of this CA (by serial, SHA-256 or SHA-1): block it with
	 * everything the store knows, taken from its DER. */
	rc = sp_store_cert_get(st, norm, &cr);
	if (rc == SP_OK) {
		const unsigned char *p = cr.der;
		if (!cr.der || cr.der_len == 0 || cr.der_len > SP_MAX_CERT_BYTES ||
		    !(cert = d2i_X509(NULL, &p, (long)cr.der_len)) || p != cr.der + cr.der_len) {
			rc = sp_fail_ossl(SP_ERR_DB, "certificate %s: the stored DER does not parse", cr.serial);
			goto out;
		}
		rc = block_cert(ca, cert, 1, reason, actor);
		goto out;
	}
	if (rc != SP_ERR_NOTFOUND)
		goto out;
	sp_clear_error();

	/* Any other certificate is known only by the fingerprint given. */
	row.serial = row.subject = row.issuer = (char *)"";
	if (n == 64) {
		memcpy(row.sha256, norm, 65);
	} else if (n == 40) {
		memcpy(row.sha1, norm, 41);
	} else {
		rc = sp_fail(SP_ERR_NOTFOUND, "%s is not a certificate of this CA; " FP_HINT, key);
		goto out;
	}
	if (row.sha256[0] && (rc = refuse_own_cert(ca, row.sha256)) != SP_OK)
		goto out;
	rc = block_insert(ca, &row, reason, actor);
out:
	X509_free(cert);
	sp_cert_row_clear(&cr);
	return rc;
}

sp_err sp_block_remove(sp_ca *ca, const char *key, const char *actor)
{
	sp_store *st = sp_ca_get0_store(ca);
	sp_block_row old;
	sp_cert_row cr;
	char norm[65], at[32], detail[SP_BLOCK_MAX_REASON + 160], id[65];
	size_t n;
	int found = 0;
	sp_err rc;

	memset(&old, 0, sizeof old);
	memset(&cr, 0, sizeof cr);
	if ((rc = check_actor(actor)) != SP_OK)
		return rc;
	if (!key || sp_hex_normalise(key, norm, sizeof norm) != SP_OK)
		return sp_fail(SP_ERR_INPUT, "'%s' is not a serial, SHA-256 fingerprint or SHA-1 thumbprint", key ? key : "");
	n = strlen(norm);

	/* The fingerprint a block was made with ... */
	if ((rc = find(st, n == 64 ? norm : NULL, n == 40 ? norm : NULL, &old, &found)) != SP_OK)
		goto out;
	/* ... or a certificate of this CA named by serial (or by the other
	 * fingerprint than the one its block row carries). */
	if (!found) {
		rc = sp_store_cert_get(st, norm, &cr);
		if (rc == SP_ERR_NOTFOUND) {
			sp_clear_error();
			rc = SP_OK;
		} else if (rc != SP_OK) {
			goto out;
		} else if ((rc = find(st, cr.sha256, cr.sha1, &old, &found)) != SP_OK) {
			goto out;
		}
	}
	if (!found) {
		rc = sp_fail(SP_ERR_NOTFOUND, "%s is not blocked", key);
		goto out;
	}
	/* the row is removed by the key it is stored under */
	snprintf(id, sizeof id, "%s", row_id(&old));
	if ((rc = sp_store_block_remove(st, id)) != SP_OK)
		goto out;
	sp_time_iso(old.created_at, at, sizeof at);
	snprintf(detail, sizeof detail, "blocked since %s by %s: %s", at, old.created_by ? old.created_by : "?",
		 old.reason ? old.reason : "");
	rc = sp_store_audit_append(st, actor, "unblock", id, detail);
out:
	sp_block_row_clear(&old);
	sp_cert_row_clear(&cr);
	return rc;
}

sp_err sp_block_check_cert(sp_store *st, X509 *cert)
{
	sp_block_row row;
	char sha256[65], sha1[41], at[32];
	int found = 0;
	sp_err rc;

	if (!cert)
		return sp_fail(SP_ERR_USAGE, "block check: no certificate given");
	memset(&row, 0, sizeof row);
	/* Both: a block made from a Windows thumbprint carries only the SHA-1. */
	if ((rc = sp_cert_sha256_hex(cert, sha256)) != SP_OK || (rc = sp_cert_sha1_hex(cert, sha1)) != SP_OK)
		return rc;
	if ((rc = find(st, sha256, sha1, &row, &found)) != SP_OK)
		goto out;
	if (found) {
		sp_time_iso(row.created_at, at, sizeof at);
		rc = sp_fail(SP_ERR_BLOCKED, "certificate %s is blocked since %s: %s", sha256, at,
			     row.reason ? row.reason : "");
	}
out:
	sp_block_row_clear(&row);
	return rc;
}
