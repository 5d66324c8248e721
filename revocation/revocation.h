/*
 * revocation.h - stopping certificates: revocation (RFC 5280 reasons, hold
 * and release), CRL generation and publication (full and delta), and the
 * block list (immediate, reversible, also for certificates this CA never
 * issued).
 *
 * Revocation is final (except certificateHold) and reaches every relying
 * party through the CRL; a block is local to this CA's site systems and is
 * enforced by the enrollment service through sp_block_check_cert().
 */
#ifndef SITEPKI_REVOCATION_H
#define SITEPKI_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"

/* ------------------------------------------------------------- reasons */

/* "keyCompromise" -> SP_REASON_KEY_COMPROMISE, ... (RFC 5280 names, case as
 * written there; the revocable ones only: not removeFromCRL, not
 * aACompromise). SP_ERR_USAGE naming the accepted names otherwise. */
sp_err sp_reason_parse(const char *name, int *reason) SP_WARN_UNUSED;
const char *sp_reason_name(int reason); /* "unknown" for other values */

/* ---------------------------------------------------------- revocation */

/* Revoke one certificate named by serial, SHA-256 or SHA-1 (as
 * sp_store_cert_get takes them), inside the caller's transaction, with an
 * audit row. serial_out (41 bytes, may be NULL) receives its serial.
 * SP_ERR_NOTFOUND: not a certificate of this CA. SP_ERR_EXISTS: already
 * revoked (nothing recorded; the message says when and why). SP_ERR_POLICY:
 * the CA's own certificate. */
sp_err sp_revoke(sp_ca *ca, const char *key, int reason, int64_t when, const char *actor,
		 char *serial_out) SP_WARN_UNUSED;

/* Lift a certificateHold (inside the caller's transaction, audited).
 * SP_ERR_POLICY when the certificate is not on hold. */
sp_err sp_release(sp_ca *ca, const char *key, int64_t when, const char *actor, char *serial_out) SP_WARN_UNUSED;

/* ---------------------------------------------------------------- CRLs */

typedef struct {
	int64_t number;
	int delta;
	int64_t base_number; /* delta only */
	int64_t this_update, next_update;
	int64_t entries;
} sp_crl_info;

/* Build, sign, record and publish a full CRL (delta = 0) or a delta CRL
 * (delta = 1; needs the policy's delta_enabled and a full CRL to build on).
 * The CRL number is one more than the highest of the store's last number and
 * the number last written to the publish directory (so it never goes back,
 * also after the store is restored from a backup). The CRL is recorded and
 * committed, then written atomically as DER at <home>/publish/<crl file> and
 * as PEM beside it (".pem"), and the CA certificate is (re)published as DER
 * at <home>/publish/<aia file>. Audited as `actor` (e.g. "cli:root", who ran
 * `crl publish` or `crl schedule`). Needs the CA key. */
sp_err sp_crl_publish(sp_ca *ca, int delta, int64_t now, const char *actor, sp_crl_info *out) SP_WARN_UNUSED;

/* The revocation state of `cert` according to `crl` at time `at`: the CRL
 * must be signed by `issuer`, name it as its issuer, be current at `at`
 * (thisUpdate <= at < nextUpdate; otherwise SP_ERR_INPUT "CRL expired/not
 * yet valid": an unusable CRL, kept apart from "revoked", which the CLI
 * reports with SP_ERR_POLICY), and `cert` must be issued by `issuer`. A delta CRL may be given
 * as `delta` (NULL if none): it must name crl's number as its base, and its
 * entries override the base's (removeFromCRL lifts a hold). */
typedef struct {
	int revoked;        /* 1: revoked or on hold */
	int reason;         /* SP_REASON_*, SP_REASON_UNSPECIFIED when the CRL gives none */
	int64_t revoked_at;
	int64_t crl_number; /* the (delta) CRL that decided */
	int64_t next_update;
} sp_crl_status;
sp_err sp_crl_check_cert(X509_CRL *crl, X509_CRL *delta, X509 *issuer, X509 *cert, int64_t at,
			 sp_crl_status *out) SP_WARN_UNUSED;

/* The newest full CRL and, if newer than it, the newest delta built on it,
 * from the store (caller frees; *delta may be NULL). SP_ERR_NOTFOUND if no
 * CRL was ever published. */
sp_err sp_crl_latest(sp_ca *ca, X509_CRL **full, X509_CRL **delta) SP_WARN_UNUSED;

/* ----------------------------------------------------------- block list */

/* Block a certificate: by a certificate (PEM/DER) that may come from any CA,
 * or by key: a serial of this CA, a SHA-256 fingerprint or a SHA-1 thumbprint
 * (of any certificate). Inside the caller's transaction, audited.
 * SP_ERR_EXISTS if already blocked. */
sp_err sp_block_add_cert(sp_ca *ca, X509 *cert, const char *reason, const char *actor) SP_WARN_UNUSED;
sp_err sp_block_add_key(sp_ca *ca, const char *key, const char *reason, const char *actor) SP_WARN_UNUSED;
/* Unblock by serial, SHA-256 or SHA-1 (audited). SP_ERR_NOTFOUND if not blocked. */
sp_err sp_block_remove(sp_ca *ca, const char *key, const char *actor) SP_WARN_UNUSED;

/* The check the enrollment service makes for every client certificate and
 * request: SP_OK if `cert` is not blocked, SP_ERR_BLOCKED (message naming
 * the fingerprint and the reason) if it is. Read-only; one indexed lookup. */
sp_err sp_block_check_cert(sp_store *st, X509 *cert) SP_WARN_UNUSED;

/* The block list as CMS SignedData (DER) signed by the CA, over the text
 * format documented in docs/blocklist.md. Needs the CA key. */
sp_err sp_block_export(sp_ca *ca, int64_t now, uint8_t **out, size_t *len) SP_WARN_UNUSED;

/* Verify an exported block list against `ca_cert` (signature, signer is the
 * CA, content well-formed) and hand each entry to cb. SP_ERR_CRYPTO /
 * SP_ERR_INPUT with a one-line reason when it does not verify. */
typedef int (*sp_block_entry_cb)(const sp_block_row *row, void *arg);
sp_err sp_block_verify(X509 *ca_cert, const uint8_t *data, size_t len, int64_t *generated_at,
		       sp_block_entry_cb cb, void *arg) SP_WARN_UNUSED;

#endif
