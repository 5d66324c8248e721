/*
 * common.h - errors, files, secrets and thin OpenSSL helpers shared by every
 * sitepki module.
 *
 * Error model: functions return an sp_err; on failure they have also stored a
 * one-line detail message (naming the failing value) in a per-thread buffer
 * that sp_last_error() returns. SP_OK is 0. The numeric values double as the
 * CLI's exit codes (documented in docs/cli.md), so never renumber them.
 */
#ifndef SITEPKI_COMMON_H
#define SITEPKI_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/x509.h>

#define SP_WARN_UNUSED __attribute__((warn_unused_result))
#define SP_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* X-macro: symbol, exit code, short name. Grouped: usage, io, crypto, db,
 * policy, input, lookup, resource, protocol. */
#define SP_ERRORS(X)                                   \
	X(SP_OK, 0, "ok")                              \
	X(SP_ERR_INTERNAL, 1, "internal error")        \
	X(SP_ERR_USAGE, 2, "usage")                    \
	X(SP_ERR_IO, 3, "i/o")                         \
	X(SP_ERR_CRYPTO, 4, "crypto")                  \
	X(SP_ERR_DB, 5, "store")                       \
	X(SP_ERR_POLICY, 6, "policy")                  \
	X(SP_ERR_INPUT, 7, "bad input")                \
	X(SP_ERR_NOTFOUND, 8, "not found")             \
	X(SP_ERR_EXISTS, 9, "already exists")          \
	X(SP_ERR_NOMEM, 10, "out of memory")           \
	X(SP_ERR_PERM, 11, "permission")               \
	X(SP_ERR_PROTOCOL, 12, "protocol")             \
	X(SP_ERR_BLOCKED, 13, "blocked")               \
	X(SP_ERR_AUTH, 14, "authentication")

#define SP_ERR_ENUM_(sym, num, str) sym = num,
typedef enum { SP_ERRORS(SP_ERR_ENUM_) } sp_err;
#undef SP_ERR_ENUM_

/* Short, stable name of an error code ("policy", "store", ...). */
const char *sp_err_name(sp_err e);

/* Record a detail message for the current thread and return `code`, so that
 * callers can write `return sp_fail(SP_ERR_INPUT, "CSR: %s", why);`. */
sp_err sp_fail(sp_err code, const char *fmt, ...) SP_PRINTF(2, 3);

/* Same, appending the first reason on OpenSSL's error queue (if any) as
 * ": <reason>" and clearing the queue. */
sp_err sp_fail_ossl(sp_err code, const char *fmt, ...) SP_PRINTF(2, 3);

/* The detail message of the last failure on this thread ("" if none).
 * Borrowed; valid until the next sp_fail*() on this thread. */
const char *sp_last_error(void);
void sp_clear_error(void);

/* ---------------------------------------------------------------- files */

/* Read a whole file of at most `max` bytes. *data is NUL-terminated (not
 * counted in *len) and owned by the caller (free()). A larger file is
 * SP_ERR_INPUT naming the path and the limit. */
sp_err sp_file_read(const char *path, size_t max, uint8_t **data, size_t *len) SP_WARN_UNUSED;

/* Write a file atomically: temp file in the same directory, created with
 * `mode` from the start, written, fsync'd when `sync` is set, renamed over
 * `path`, directory fsync'd when `sync` is set. On any failure the temp file
 * is removed and `path` is untouched. */
sp_err sp_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
			    int sync) SP_WARN_UNUSED;

/* write(2) until all `len` bytes are written (EINTR retried): 0, or -1
 * with errno set. */
int sp_write_all(int fd, const void *data, size_t len) SP_WARN_UNUSED;

/* fsync the directory holding `path`, so that a file just created or
 * renamed there survives a crash: 0, or -1 with errno set. */
int sp_fsync_parent(const char *path) SP_WARN_UNUSED;

/* Refuse a key or store file that is not a regular file or that group or
 * others may read or write (SP_ERR_PERM naming the path and its mode). */
sp_err sp_file_check_private(const char *path) SP_WARN_UNUSED;

/* mkdir with `mode` if missing; an existing directory is fine. */
sp_err sp_dir_ensure(const char *path, mode_t mode) SP_WARN_UNUSED;

/* snprintf into out, SP_ERR_INPUT if the result would be truncated. */
sp_err sp_path_join(char *out, size_t outsz, const char *dir, const char *name) SP_WARN_UNUSED;

/* 1 if path exists (any type), else 0. */
int sp_path_exists(const char *path);

/* -------------------------------------------------------------- secrets */

/* A passphrase or password in locked-down memory; wipe with sp_secret_wipe. */
typedef struct {
	char *buf; /* NUL-terminated */
	size_t len;
} sp_secret;

/* Read a secret from a file (first line, trailing CR/LF removed; the file
 * must not be group/world readable) or from the named environment variable.
 * An empty secret is SP_ERR_INPUT. */
sp_err sp_secret_from_file(const char *path, sp_secret *out) SP_WARN_UNUSED;
sp_err sp_secret_from_env(const char *var, sp_secret *out) SP_WARN_UNUSED;
/* Prompt on the terminal (no echo); with `confirm` asks twice. */
sp_err sp_secret_prompt(const char *prompt, int confirm, sp_secret *out) SP_WARN_UNUSED;
/* OPENSSL_cleanse + free; safe on a zeroed or already wiped secret. */
void sp_secret_wipe(sp_secret *s);

/* ------------------------------------------------------ encodings, time */

/* Hex-encode n bytes into out (2n+1 bytes), lower or upper case. */
void sp_hex(const uint8_t *in, size_t n, char *out, int upper);

/* Normalise a user-typed hex string (serial, SHA-256 or SHA-1 thumbprint):
 * drops ':' and spaces, lower-cases. SP_ERR_INPUT if a non-hex character is
 * found or the result does not fit. */
sp_err sp_hex_normalise(const char *in, char *out, size_t outsz) SP_WARN_UNUSED;

/* Seconds since the epoch of an ASN1_TIME (UTCTime or GeneralizedTime). */
sp_err sp_asn1_time_to_unix(const ASN1_TIME *t, int64_t *out) SP_WARN_UNUSED;

/* "2026-11-22T02:51:36Z" into out (at least 21 bytes). */
void sp_time_iso(int64_t t, char *out, size_t outsz);

/* Parse "30d", "12h", "90m", "3600s" or "2y" into seconds. */
sp_err sp_duration_parse(const char *in, int64_t *seconds) SP_WARN_UNUSED;

/* ------------------------------------------------------- X.509 helpers */

/* Upper bounds on inputs we parse. */
#define SP_MAX_CSR_BYTES (64 * 1024)
#define SP_MAX_CERT_BYTES (64 * 1024)

/* Parse exactly one CSR / certificate from PEM or DER. PEM: white space
 * around one block of the right label, no headers; the first non-blank line
 * must be its BEGIN line. DER: not a byte after the object. Anything else is
 * SP_ERR_INPUT. */
sp_err sp_req_parse(const uint8_t *data, size_t len, X509_REQ **out) SP_WARN_UNUSED;
sp_err sp_cert_parse(const uint8_t *data, size_t len, X509 **out) SP_WARN_UNUSED;
/* The CSR's public key (caller frees). sp_req_parse() leaves the key
 * undecoded (see common/req_key.c), so use this, never X509_REQ_get0_pubkey(),
 * on a parsed CSR. SP_ERR_INPUT for a key no provider can decode. */
sp_err sp_req_get1_pubkey(X509_REQ *req, EVP_PKEY **out) SP_WARN_UNUSED;
/* sp_cert_parse without decoding the subject's public key (the decoder set
 * up costs more than the rest of the parse on OpenSSL 3.0; see
 * common/req_key.c): for certificates that are only re-encoded, shown or
 * looked up (serial, names, fingerprints). X509_get0_pubkey() is NULL on the
 * result: never verify with it or check a key against it. */
sp_err sp_cert_parse_nokey(const uint8_t *data, size_t len, X509 **out) SP_WARN_UNUSED;
/* The library context CSRs are parsed in (no decoders). Verify a parsed CSR
 * with X509_REQ_verify_ex(req, key, NULL, NULL), never with its own context. */
OSSL_LIB_CTX *sp_req_parse_libctx(void);

/* One or more PEM certificates (a chain file). */
sp_err sp_cert_parse_chain(const uint8_t *data, size_t len, STACK_OF(X509) **out) SP_WARN_UNUSED;

/* SHA-256 of a certificate's DER as 64 lower-case hex digits, and the SHA-1
 * thumbprint Windows shows as 40. */
sp_err sp_cert_sha256_hex(X509 *cert, char out[65]) SP_WARN_UNUSED;
sp_err sp_cert_sha1_hex(X509 *cert, char out[41]) SP_WARN_UNUSED;

/* Certificate serial as upper-case hex without leading "0x" (as `openssl x509
 * -serial` prints it). out needs 2*20+1 bytes. */
sp_err sp_serial_hex(const ASN1_INTEGER *serial, char *out, size_t outsz) SP_WARN_UNUSED;

/* SHA-256 of a buffer. */
void sp_sha256(const void *data, size_t len, uint8_t out[32]);

/* One-line RFC 2253 rendering of a name; caller frees. */
char *sp_name_oneline(const X509_NAME *name);

/* PEM-encode a certificate into a malloc'd buffer. */
sp_err sp_cert_to_pem(X509 *cert, char **pem, size_t *len) SP_WARN_UNUSED;

#endif
