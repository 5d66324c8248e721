/*
 * store.h - the durable record of a CA home (SQLite).
 *
 * The store knows nothing of X.509 policy: callers hand it already-extracted
 * fields plus the DER. Every write function must be called inside a
 * transaction opened with sp_store_begin(); sp_store_commit() returns only
 * once the commit is durable (WAL, synchronous=FULL). The SQL is private to
 * the store/ sources so a second backend can be put behind this API.
 *
 * Ownership: row structs filled by the store own their strings/buffers;
 * release them with the matching *_clear() function. Row structs passed *to*
 * the store are borrowed for the duration of the call.
 */
#ifndef SITEPKI_STORE_H
#define SITEPKI_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

typedef struct sp_store sp_store;

/* Current schema version; sp_store_open migrates older stores forward. */
#define SP_STORE_SCHEMA_VERSION 1

/* Open (create = 1: create a new store file with mode 0600; refuses an
 * existing file) or open an existing store (create = 0: the file must exist
 * and not be group/world readable). Applies pragmas (WAL, synchronous=FULL,
 * foreign_keys=ON, busy_timeout=10000) and runs pending migrations. */
sp_err sp_store_open(const char *path, int create, sp_store **out) SP_WARN_UNUSED;
void sp_store_close(sp_store *st); /* NULL is fine */

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Rollback is safe to call when no
 * transaction is open. A failed commit has already rolled back: nothing of
 * the transaction is recorded. */
sp_err sp_store_begin(sp_store *st) SP_WARN_UNUSED;
sp_err sp_store_commit(sp_store *st) SP_WARN_UNUSED;
void sp_store_rollback(sp_store *st);

/* PRAGMA integrity_check == "ok" -> SP_OK, else SP_ERR_DB with the first
 * problem reported. */
sp_err sp_store_integrity_check(sp_store *st) SP_WARN_UNUSED;

/* -------------------------------------------------------------------- CA */

typedef enum {
	SP_CA_AWAITING_CERT = 0, /* key + CSR made, external root has not signed yet */
	SP_CA_ACTIVE = 1
} sp_ca_state;

typedef struct {
	char *name;        /* CA common name */
	char *site_code;   /* default site code ("" if none) */
	char *base_url;    /* CDP/AIA base, e.g. http://127.0.0.1:8080/pki */
	char *key_alg;     /* "ec-p256", "rsa-3072", ... */
	int state;         /* sp_ca_state */
	uint8_t *cert_der; /* NULL while awaiting the certificate */
	size_t cert_der_len;
	char *chain_pem;   /* issuers above this CA, PEM, "" for a root */
	int64_t created_at;
} sp_ca_row;

/* Exactly one CA row per store. put = insert or replace. get: SP_ERR_NOTFOUND
 * if the store has no CA yet. */
sp_err sp_store_ca_put(sp_store *st, const sp_ca_row *ca) SP_WARN_UNUSED;
sp_err sp_store_ca_get(sp_store *st, sp_ca_row *out) SP_WARN_UNUSED;
void sp_ca_row_clear(sp_ca_row *ca);

/* ---------------------------------------------------------- certificates */

typedef enum {
	SP_CERT_VALID = 0,
	SP_CERT_REVOKED = 1,
	SP_CERT_HOLD = 2 /* revoked with reason certificateHold, may be released */
} sp_cert_status;

typedef struct {
	char serial[41];     /* upper-case hex, as sp_serial_hex() */
	char sha256[65];     /* lower-case hex of the DER */
	char sha1[41];       /* lower-case hex (Windows thumbprint) */
	char *subject;       /* one-line RFC 2253 */
	char *sans;          /* "DNS:a.example, UPN:u@example" or "" */
	char *template_name; /* template used; "ca" for CA certificates */
	int64_t not_before, not_after, issued_at;
	int status;          /* sp_cert_status */
	int64_t revoked_at;  /* 0 unless revoked */
	int revoke_reason;   /* RFC 5280 CRLReason, -1 unless revoked */
	uint8_t *der;
	size_t der_len;
} sp_cert_row;

void sp_cert_row_clear(sp_cert_row *row);

/* Insert an issued certificate. A serial or sha256 already present is
 * SP_ERR_EXISTS (the UNIQUE constraints decide, not a prior SELECT). */
sp_err sp_store_cert_insert(sp_store *st, const sp_cert_row *row) SP_WARN_UNUSED;

/* 1 if a certificate with this serial is recorded, 0 if not; <0 on error. */
int sp_store_serial_exists(sp_store *st, const char *serial_hex);

/* Look up by serial (upper-case hex) or by SHA-256 fingerprint (64 hex) or
 * SHA-1 thumbprint (40 hex); `key` is normalised (case, colons) first.
 * SP_ERR_NOTFOUND if none. */
sp_err sp_store_cert_get(sp_store *st, const char *key, sp_cert_row *out) SP_WARN_UNUSED;

typedef struct {
	const char *template_name; /* NULL = any */
	const char *status;        /* NULL, "valid", "revoked", "hold", "expired" */
	int64_t expiring_before;   /* 0 = any; else not_after <= this and not yet expired */
	const char *subject_like;  /* NULL or substring of subject or SANs (case-insensitive) */
	int64_t now;               /* reference time for "expired"/"valid"; 0 = the current time */
	int with_der;              /* fill row->der (else NULL) */
} sp_cert_filter;

/* The row handed to cb points into SQLite's memory: read it, do not keep it.
 * Calls cb once per matching certificate ordered by issued_at, serial; a
 * non-zero return from cb stops the walk and is returned as SP_ERR_INTERNAL
 * unless it is itself an sp_err value. The row is only valid during cb. */
typedef int (*sp_cert_cb)(const sp_cert_row *row, void *arg);
sp_err sp_store_cert_list(sp_store *st, const sp_cert_filter *f, sp_cert_cb cb, void *arg) SP_WARN_UNUSED;

/* Number of certificate rows (all statuses). */
sp_err sp_store_cert_count(sp_store *st, int64_t *count) SP_WARN_UNUSED;

/* -------------------------------------------------------------- requests */

typedef enum {
	SP_REQ_PENDING = 0,
	SP_REQ_APPROVED = 1,
	SP_REQ_REJECTED = 2,
	SP_REQ_ISSUED = 3
} sp_request_status;

typedef struct {
	int64_t id;
	char *template_name;
	char *requester;     /* "cli:<user>", "est:token:<id>", ... */
	char *subject;       /* as in the CSR */
	int status;          /* sp_request_status */
	char *cert_serial;   /* serial issued, "" until issued */
	char *detail;        /* names from the command line, reject reason, ... */
	uint8_t *csr_der;
	size_t csr_der_len;
	int64_t created_at, updated_at;
} sp_request_row;

void sp_request_row_clear(sp_request_row *row);
/* created_at 0 = now; updated_at 0 = created_at. */
sp_err sp_store_request_insert(sp_store *st, const sp_request_row *row, int64_t *id) SP_WARN_UNUSED;
sp_err sp_store_request_get(sp_store *st, int64_t id, sp_request_row *out) SP_WARN_UNUSED;
/* Set status (and serial when issued, detail when rejected). */
sp_err sp_store_request_set_status(sp_store *st, int64_t id, int status, const char *cert_serial,
				   const char *detail) SP_WARN_UNUSED;
typedef int (*sp_request_cb)(const sp_request_row *row, void *arg);
/* status < 0 = all. */
sp_err sp_store_request_list(sp_store *st, int status, sp_request_cb cb, void *arg) SP_WARN_UNUSED;

/* ----------------------------------------------------------------- audit */

/* Append one audit row. Each row stores hash = SHA-256(prev_hash | id | time
 * | actor | action | subject | detail) with unambiguous length-prefixed
 * fields; the head (last id and hash) is kept in a meta row written in the
 * same transaction so that deleting the newest rows is detected too. */
sp_err sp_store_audit_append(sp_store *st, const char *actor, const char *action,
			     const char *subject, const char *detail) SP_WARN_UNUSED;

/* Walk the chain. SP_OK if intact; SP_ERR_DB with a message naming the first
 * row that does not match (edited, deleted, inserted or reordered) and *bad_id
 * set to that row id (0 if the head/meta row is at fault). *rows = rows seen.
 * rows and bad_id may be NULL; works inside or outside a transaction. */
sp_err sp_store_audit_verify(sp_store *st, int64_t *rows, int64_t *bad_id) SP_WARN_UNUSED;

typedef struct {
	int64_t id, time;
	const char *actor, *action, *subject, *detail, *hash;
} sp_audit_row;
typedef int (*sp_audit_cb)(const sp_audit_row *row, void *arg);
/* Newest `limit` rows (0 = all), oldest first. */
sp_err sp_store_audit_list(sp_store *st, int64_t limit, sp_audit_cb cb, void *arg) SP_WARN_UNUSED;

#endif
