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
#define SP_STORE_SCHEMA_VERSION 4

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

/* WAL checkpoints off the writer's path (the enrollment signer). By default
 * SQLite checkpoints inside the commit that crosses 1000 WAL frames, and
 * every request waiting on that writer waits for the copy and its fsync.
 * After this call st no longer checkpoints by itself: after each commit it
 * calls wal_grew(arg, frames) with the number of frames now in the WAL
 * (from inside the commit: it must only take note or signal), and the
 * caller has another connection run sp_store_checkpoint(). When wal_grew
 * returns 1, st checkpoints at once itself: the WAL starts over only after
 * a checkpoint that leaves nothing behind, which one running beside a busy
 * writer never does, so the caller has st copy the last few frames. Should
 * the WAL reach `limit` frames, st checkpoints after every commit again, so
 * it stays bounded whatever the caller does. wal_grew == NULL goes back to
 * SQLite's own checkpoints. */
void sp_store_defer_checkpoints(sp_store *st, int limit, int (*wal_grew)(void *arg, int frames), void *arg);
/* A PASSIVE checkpoint: copies what it can without waiting for anyone;
 * "busy" is not an error (the next one continues). *frames: the frames in
 * the WAL when it ended; *copied: how many of them are now in the database
 * (all, if nothing was in the way). */
sp_err sp_store_checkpoint(sp_store *st, int *frames, int *copied) SP_WARN_UNUSED;

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
 * SP_ERR_EXISTS (the UNIQUE constraints decide, not a prior SELECT). A row
 * inserted REVOKED or HOLD (an import) takes the next revocation sequence
 * number, like any other revocation state change (see below). */
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
	char csr_sha256[65]; /* lower-case hex of csr_der; filled by the store */
} sp_request_row;

void sp_request_row_clear(sp_request_row *row);
/* "pending", "approved", "rejected", "issued"; "unknown" for anything else. */
const char *sp_request_status_name(int status);
/* created_at 0 = now; updated_at 0 = created_at. */
sp_err sp_store_request_insert(sp_store *st, const sp_request_row *row, int64_t *id) SP_WARN_UNUSED;
sp_err sp_store_request_get(sp_store *st, int64_t id, sp_request_row *out) SP_WARN_UNUSED;
/* Set status (and serial when issued, detail when rejected). */
sp_err sp_store_request_set_status(sp_store *st, int64_t id, int status, const char *cert_serial,
				   const char *detail) SP_WARN_UNUSED;
/* Newest request (highest id) for template `template_name` whose CSR DER
 * has this SHA-256 (64 hex, any case): how an EST retry finds its pending
 * request. SP_ERR_NOTFOUND if none. (schema v3) */
sp_err sp_store_request_find_csr(sp_store *st, const char *template_name, const char *csr_sha256,
				 sp_request_row *out) SP_WARN_UNUSED;
/* Newest request made by `requester` (e.g. "est:token:7") with created_at
 * >= since. SP_ERR_NOTFOUND if none. Reads every request newer than the
 * match: meant for rare administrative look-ups. */
sp_err sp_store_request_find_requester(sp_store *st, const char *requester, int64_t since,
				       sp_request_row *out) SP_WARN_UNUSED;
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

/* ------------------------------------------------- settings (schema v2) */

/* Small per-CA settings (CRL policy and the like), as text. get: SP_ERR_NOTFOUND
 * when unset (*out untouched); else *out is malloc'd, caller frees. set:
 * inserts or replaces, inside a transaction; "" is a value, NULL is
 * SP_ERR_INPUT. */
sp_err sp_store_setting_get(sp_store *st, const char *key, char **out) SP_WARN_UNUSED;
sp_err sp_store_setting_set(sp_store *st, const char *key, const char *value) SP_WARN_UNUSED;

/* ------------------------------------------------ revocation (schema v2) */

/* RFC 5280 5.3.1 CRLReason values. */
enum {
	SP_REASON_UNSPECIFIED = 0,
	SP_REASON_KEY_COMPROMISE = 1,
	SP_REASON_CA_COMPROMISE = 2,
	SP_REASON_AFFILIATION_CHANGED = 3,
	SP_REASON_SUPERSEDED = 4,
	SP_REASON_CESSATION_OF_OPERATION = 5,
	SP_REASON_CERTIFICATE_HOLD = 6,
	SP_REASON_REMOVE_FROM_CRL = 8,
	SP_REASON_PRIVILEGE_WITHDRAWN = 9,
	SP_REASON_AA_COMPROMISE = 10
};

/* Every change of a certificate's revocation state (revoke, hold, release)
 * takes the next value of one store-wide counter, the revocation sequence,
 * so a delta CRL can ask for "everything changed after sequence N". The
 * counter is bumped in the transaction of the change: a rolled-back change
 * leaves no number used, and a refused one (SP_ERR_EXISTS, SP_ERR_NOTFOUND,
 * SP_ERR_POLICY) takes none. */

/* Revoke the certificate with this serial (upper-case hex): VALID -> REVOKED,
 * or -> HOLD when reason is certificateHold; HOLD -> REVOKED with a final
 * reason is allowed (revoked_at becomes `when`). Inside a transaction.
 * SP_ERR_NOTFOUND: no such serial. SP_ERR_EXISTS: already revoked (or
 * already on hold and reason is hold again): nothing changes.
 * SP_ERR_POLICY: reason is not one to revoke with (removeFromCRL, the unused
 * 7, or outside 0..10), checked before the serial. */
sp_err sp_store_cert_revoke(sp_store *st, const char *serial, int reason, int64_t when) SP_WARN_UNUSED;

/* HOLD -> VALID. SP_ERR_NOTFOUND: no such serial. SP_ERR_POLICY: not on hold
 * (a final revocation is never undone). Inside a transaction. Afterwards the
 * certificate reads as valid (revoked_at 0, revoke_reason -1); the release
 * time `when` is kept for the delta walk below. */
sp_err sp_store_cert_release(sp_store *st, const char *serial, int64_t when) SP_WARN_UNUSED;

typedef struct {
	const char *serial;  /* upper-case hex */
	int64_t revoked_at;  /* or, for a released entry, the release time */
	int reason;          /* SP_REASON_*; SP_REASON_REMOVE_FROM_CRL for a release */
	int64_t not_after;
	int64_t seq;         /* revocation sequence of the last change */
} sp_revoked_entry;

/* Walk revocation entries ordered by serial, streaming (a million rows must
 * not be held in memory):
 *  since_seq < 0: every certificate now REVOKED or HOLD (a full CRL);
 *  since_seq >= 0: every certificate whose revocation state changed after
 *    since_seq: REVOKED/HOLD ones as above, and ones released from hold
 *    since then with reason SP_REASON_REMOVE_FROM_CRL (a delta CRL).
 * Certificates with not_after < expired_before are left out (0 = keep all).
 * A certificate revoked before schema 2 has seq 0: in every full list, in
 * no delta. The entry is valid only during cb; a non-zero cb return stops
 * the walk and is returned as for sp_store_cert_list. */
typedef int (*sp_revoked_cb)(const sp_revoked_entry *e, void *arg);
sp_err sp_store_revoked_list(sp_store *st, int64_t since_seq, int64_t expired_before, sp_revoked_cb cb,
			     void *arg) SP_WARN_UNUSED;

/* The current revocation sequence (0 if nothing was ever revoked). A CRL
 * records the sequence it covers: read it and walk in one transaction (or
 * read it first), so no change can fall between the two. */
sp_err sp_store_revocation_seq(sp_store *st, int64_t *seq) SP_WARN_UNUSED;
/* A number that changes whenever any certificate's revocation state or the
 * block list changes, and never otherwise goes back (the sum of meta
 * 'revocation_seq' and 'block_seq'). The enrollment service re-judges a
 * client certificate only when it moved (enroll/est_peer.c). */
sp_err sp_store_status_epoch(sp_store *st, int64_t *epoch) SP_WARN_UNUSED;

/* ------------------------------------------------------ CRLs (schema v2) */

typedef struct {
	int64_t number;      /* CRLNumber; full and delta CRLs share one sequence */
	int delta;           /* 1 = delta CRL */
	int64_t base_number; /* delta: the full CRL it builds on; else 0 */
	int64_t this_update, next_update;
	int64_t seq;         /* revocation sequence the CRL covers */
	int64_t entries;
	uint8_t *der;
	size_t der_len;
} sp_crl_row;

void sp_crl_row_clear(sp_crl_row *row);
/* Record a published CRL; a number already present is SP_ERR_EXISTS.
 * Inside a transaction. SP_ERR_INPUT for a row no CRL can have: no DER,
 * delta not 0/1, a full CRL with a base_number, a delta whose base_number
 * is not below its own number, next_update not after this_update. */
sp_err sp_store_crl_insert(sp_store *st, const sp_crl_row *row) SP_WARN_UNUSED;
/* Newest CRL by number: kind -1 any, 0 full, 1 delta. with_der: also load
 * the DER (else der is NULL and the blob is not read). SP_ERR_NOTFOUND if
 * none. *out owns its DER: sp_crl_row_clear(). */
sp_err sp_store_crl_last(sp_store *st, int kind, int with_der, sp_crl_row *out) SP_WARN_UNUSED;
/* One CRL by number, with its DER. SP_ERR_NOTFOUND if none. */
sp_err sp_store_crl_get(sp_store *st, int64_t number, sp_crl_row *out) SP_WARN_UNUSED;

/* ------------------------------------------------ block list (schema v2) */

typedef struct {
	char sha256[65];   /* lower-case hex, "" if only the SHA-1 thumbprint is known */
	char sha1[41];     /* lower-case hex, "" if unknown */
	char *serial;      /* "" if unknown (certificate not seen) */
	char *subject;     /* "" if unknown */
	char *issuer;      /* "" if unknown */
	char *reason;
	char *created_by;
	int64_t created_at;
	int in_store;      /* the certificate is one this CA issued */
} sp_block_row;

void sp_block_row_clear(sp_block_row *row);
/* At least one of sha256/sha1 set (else SP_ERR_INPUT); both normalised
 * (case, colons). "" fields are stored as unknown (NULL). created_at is
 * stored as given. SP_ERR_EXISTS: already blocked (same sha256, or same
 * sha1). Inside a transaction. */
sp_err sp_store_block_add(sp_store *st, const sp_block_row *row) SP_WARN_UNUSED;
/* Remove by SHA-256 (64 hex) or SHA-1 (40 hex), normalised first.
 * SP_ERR_NOTFOUND if not blocked. Inside a transaction. */
sp_err sp_store_block_remove(sp_store *st, const char *key) SP_WARN_UNUSED;
/* Is a certificate with these fingerprints blocked? (either matches; NULL
 * or "" = not known, at least one needed). SP_OK and *out filled when
 * blocked (out may be NULL; release with sp_block_row_clear()),
 * SP_ERR_NOTFOUND when not. Indexed: this is on the enrollment service's
 * request path. */
sp_err sp_store_block_find(sp_store *st, const char *sha256, const char *sha1, sp_block_row *out) SP_WARN_UNUSED;
typedef int (*sp_block_cb)(const sp_block_row *row, void *arg);
/* Ordered by created_at, sha256 (entries without one first). The row
 * handed to cb points into SQLite's memory: valid only during cb. */
sp_err sp_store_block_list(sp_store *st, sp_block_cb cb, void *arg) SP_WARN_UNUSED;

/* ------------------------------------- enrollment tokens (schema v3) */

typedef enum {
	SP_TOKEN_UNUSED = 0,
	SP_TOKEN_CLAIMED = 1, /* a request holding it is in flight */
	SP_TOKEN_USED = 2
} sp_token_state;

typedef struct {
	int64_t id;
	char secret_sha256[65]; /* lower-case hex SHA-256 of the secret */
	char *template_name;
	char *subject;          /* bound subject, one-line RFC 2253, "" = none */
	char *dns;              /* bound dNSNames, comma-separated, "" = none */
	char *upn;              /* bound UPN, "" = none */
	char *created_by;
	int64_t created_at, expires_at;
	int state;              /* sp_token_state */
	int64_t used_at;        /* 0 until used */
	char *cert_serial;      /* "" until used */
} sp_token_row;

void sp_token_row_clear(sp_token_row *row);
/* Insert (state must be UNUSED); *id = the new token id. Inside a txn. */
sp_err sp_store_token_insert(sp_store *st, const sp_token_row *row, int64_t *id) SP_WARN_UNUSED;
/* SP_ERR_NOTFOUND if no such id. */
sp_err sp_store_token_get(sp_store *st, int64_t id, sp_token_row *out) SP_WARN_UNUSED;
/* UNUSED -> CLAIMED in one conditional UPDATE, only while now < expires_at.
 * SP_ERR_NOTFOUND: no such token; SP_ERR_EXISTS: already claimed or used;
 * SP_ERR_POLICY: expired. Inside a txn. */
sp_err sp_store_token_claim(sp_store *st, int64_t id, int64_t now) SP_WARN_UNUSED;
/* CLAIMED -> USED with the serial issued (used_at = now), or, with
 * cert_serial NULL, CLAIMED -> UNUSED (the request failed: the token may
 * be used again). SP_ERR_POLICY if it was not CLAIMED, SP_ERR_NOTFOUND if
 * there is no such token. Inside a txn. */
sp_err sp_store_token_finish(sp_store *st, int64_t id, const char *cert_serial, int64_t now) SP_WARN_UNUSED;
typedef int (*sp_token_cb)(const sp_token_row *row, void *arg);
/* Every token ordered by id; row valid only during cb. */
sp_err sp_store_token_list(sp_store *st, sp_token_cb cb, void *arg) SP_WARN_UNUSED;

/* ---------------------------------- boot-media certificates (schema v3) */

typedef struct {
	char serial[41];          /* upper-case hex, a certificate row's serial */
	char *name;               /* friendly name */
	int64_t created_at;
	uint8_t *archived_key;    /* CMS EnvelopedData (DER) to the CA certificate, NULL = not archived */
	size_t archived_key_len;
	int64_t exported_at;      /* last complete export, 0 = never */
	int64_t export_count;
	int legacy;               /* last export was the legacy 3DES/SHA-1 form */
} sp_media_row;

void sp_media_row_clear(sp_media_row *row);
/* Inside a txn; the certificate row must exist (SP_ERR_NOTFOUND), a serial
 * already present is SP_ERR_EXISTS. */
sp_err sp_store_media_insert(sp_store *st, const sp_media_row *row) SP_WARN_UNUSED;
sp_err sp_store_media_get(sp_store *st, const char *serial, sp_media_row *out) SP_WARN_UNUSED;
/* Record a complete export: exported_at = when, export_count + 1, legacy. */
sp_err sp_store_media_mark_exported(sp_store *st, const char *serial, int64_t when, int legacy) SP_WARN_UNUSED;
typedef int (*sp_media_cb)(const sp_media_row *row, void *arg);
/* Ordered by created_at, serial; row valid only during cb. */
sp_err sp_store_media_list(sp_store *st, sp_media_cb cb, void *arg) SP_WARN_UNUSED;

#endif
