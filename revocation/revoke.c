/* revoke.c - revoke and release, with an audit row each, inside the
 * caller's transaction (bulk revocation is one transaction). */
#include "revocation/revocation.h"

#include <stdio.h>
#include <string.h>

static sp_err lookup(sp_ca *ca, const char *key, sp_cert_row *row)
{
	sp_err rc = sp_store_cert_get(sp_ca_get0_store(ca), key, row);
	if (rc == SP_ERR_NOTFOUND)
		return sp_fail(SP_ERR_NOTFOUND, "no certificate of this CA has serial or fingerprint %s", key);
	return rc;
}

sp_err sp_revoke(sp_ca *ca, const char *key, int reason, int64_t when, const char *actor, char *serial_out)
{
	sp_cert_row row;
	char detail[128], at[32];
	sp_err rc;

	memset(&row, 0, sizeof row);
	if ((rc = lookup(ca, key, &row)) != SP_OK)
		return rc;
	if (serial_out)
		snprintf(serial_out, 41, "%s", row.serial);
	if (!strcmp(row.template_name, "ca")) {
		rc = sp_fail(SP_ERR_POLICY, "%s is this CA's own certificate; it is not revoked on its own CRL", row.serial);
		goto out;
	}
	if (row.status == SP_CERT_REVOKED || (row.status == SP_CERT_HOLD && reason == SP_REASON_CERTIFICATE_HOLD)) {
		sp_time_iso(row.revoked_at, at, sizeof at);
		rc = sp_fail(SP_ERR_EXISTS, "%s is already %s since %s (%s); nothing changed", row.serial,
			     row.status == SP_CERT_HOLD ? "on hold" : "revoked", at, sp_reason_name(row.revoke_reason));
		goto out;
	}
	if ((rc = sp_store_cert_revoke(sp_ca_get0_store(ca), row.serial, reason, when)) != SP_OK)
		goto out;
	sp_time_iso(when, at, sizeof at);
	snprintf(detail, sizeof detail, "reason=%s time=%s%s", sp_reason_name(reason), at,
		 row.status == SP_CERT_HOLD ? " (was on hold)" : "");
	rc = sp_store_audit_append(sp_ca_get0_store(ca), actor, reason == SP_REASON_CERTIFICATE_HOLD ? "hold" : "revoke",
				   row.serial, detail);
out:
	sp_cert_row_clear(&row);
	return rc;
}

sp_err sp_release(sp_ca *ca, const char *key, int64_t when, const char *actor, char *serial_out)
{
	sp_cert_row row;
	char at[32];
	sp_err rc;

	memset(&row, 0, sizeof row);
	if ((rc = lookup(ca, key, &row)) != SP_OK)
		return rc;
	if (serial_out)
		snprintf(serial_out, 41, "%s", row.serial);
	if (row.status != SP_CERT_HOLD) {
		rc = sp_fail(SP_ERR_POLICY, "%s is %s, not on hold: only a certificateHold can be released", row.serial,
			     row.status == SP_CERT_REVOKED ? "revoked (final)" : "not revoked");
		goto out;
	}
	if ((rc = sp_store_cert_release(sp_ca_get0_store(ca), row.serial, when)) != SP_OK)
		goto out;
	sp_time_iso(when, at, sizeof at);
	rc = sp_store_audit_append(sp_ca_get0_store(ca), actor, "release", row.serial, at);
out:
	sp_cert_row_clear(&row);
	return rc;
}
