/*
 * media.h - boot-media and PXE certificates (template osd-media): the key
 * pair is generated on the CA side, the certificate goes through the normal
 * issuance path, and key + certificate + chain leave the CA once as a
 * password-protected PKCS#12 file (docs/media.md).
 *
 * Order of a create, so that bad input changes nothing: the password and
 * options are checked and the output file's temp file is created in the
 * target directory (sp_media_out_open) before any key is generated or any
 * certificate issued. The certificate, its request, the media row and the
 * "media-create" audit row are committed in one transaction; then the
 * PKCS#12 is written and renamed into place; only then is the export
 * recorded (exported_at, "media-export" audit row). A write that fails after
 * the commit leaves the media row with exported_at = 0 and no file.
 *
 * The private key is kept only when asked (archive): as CMS EnvelopedData
 * (AES-256-CBC) to the CA certificate in media.archived_key, so that
 * sp_media_export can write it again under a new password with the CA key.
 *
 * Secrets: passwords arrive as sp_secret and are never copied into messages,
 * audit rows or the store.
 */
#ifndef SITEPKI_MEDIA_H
#define SITEPKI_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ca/ca.h"

/* PBKDF2-HMAC-SHA256 iterations of a PKCS#12 (also its MAC iterations):
 * the default, and the floor below which an export is refused. */
#define SP_MEDIA_ITER_DEFAULT 600000
#define SP_MEDIA_ITER_MIN 10000
/* A bound on how long one open of the file may take on a boot client. */
#define SP_MEDIA_ITER_MAX 10000000
/* Shortest PKCS#12 password accepted (characters). */
#define SP_MEDIA_PASSWORD_MIN 8
/* RSA sizes sitepki generates on the CA side (the template picks one). */
#define SP_MEDIA_KEYGEN_MIN_BITS 2048
#define SP_MEDIA_KEYGEN_MAX_BITS 8192
/* "expiring" in sp_media_list: not after within this many seconds. */
#define SP_MEDIA_EXPIRING_SECS (30 * 86400)

/* ------------------------------------------------- key and request (EST) */

/* SP_OK if template `t` allows CA-side key generation (serverKeyGen) of a
 * size sitepki makes, else SP_ERR_POLICY naming the template. */
sp_err sp_media_template_check(const sp_template *t) SP_WARN_UNUSED;
/* Generate the key pair a server-keygen template asks for (RSA t->keygen_bits). */
sp_err sp_media_keygen(const sp_template *t, EVP_PKEY **out) SP_WARN_UNUSED;
/* A PKCS#10 signed with `key` that carries the subject and the requested
 * extensions (SAN etc.) of `client_req` (the EST client's CSR, whose own key
 * is ignored, RFC 7030 4.4.1). The extension request attributes are copied
 * byte for byte, so the issuance path judges exactly what the client sent;
 * other attributes (challengePassword) are left out. `client_req` may be
 * one sp_req_parse made. */
sp_err sp_media_csr_from_request(EVP_PKEY *key, X509_REQ *client_req, X509_REQ **out) SP_WARN_UNUSED;

/* ---------------------------------------------------------------- PKCS#12 */

typedef struct {
	const sp_secret *password;
	int iter;   /* 0 = SP_MEDIA_ITER_DEFAULT */
	int legacy; /* pbeWithSHA1And3-KeyTripleDES-CBC for key and certificates,
		     * MAC SHA-1 (old WinPE clients); else PBES2 AES-256-CBC,
		     * PBKDF2-HMAC-SHA256, MAC SHA-256 */
} sp_pkcs12_opts;

/* The password rules: at least SP_MEDIA_PASSWORD_MIN characters, printable
 * ASCII only (what a boot client's keyboard can type, and the one range
 * every PKCS#12 implementation turns into the same BMPString). SP_ERR_INPUT
 * naming the rule, never the password. */
sp_err sp_media_password_check(const sp_secret *pw) SP_WARN_UNUSED;

/* The password rules plus the iteration bounds (SP_ERR_INPUT). */
sp_err sp_pkcs12_opts_check(const sp_pkcs12_opts *o) SP_WARN_UNUSED;

/* DER PKCS#12 holding `key`, `cert` (both with friendlyName `name` and the
 * same localKeyId) and `chain` (certificates above `cert`, may be NULL or
 * empty), encrypted and MACed as `o` says. *der is OPENSSL_malloc'd. */
sp_err sp_pkcs12_build(EVP_PKEY *key, X509 *cert, STACK_OF(X509) *chain, const char *name, const sp_pkcs12_opts *o,
		       uint8_t **der, size_t *len) SP_WARN_UNUSED;

/* ------------------------------------------------------------ output file */

/* The output file of a create or export, opened before anything is issued:
 * a temp file (mode 0600) beside `path` exists from open on, so an
 * unwritable directory is found before the CA does anything. `path` must
 * not exist yet (SP_ERR_EXISTS: a PKCS#12 holds a private key that may
 * exist nowhere else, so it is never overwritten). */
typedef struct sp_media_out sp_media_out;
sp_err sp_media_out_open(const char *path, sp_media_out **out) SP_WARN_UNUSED;
/* Write, fsync, rename into place (refusing a `path` that appeared since
 * open), fsync the directory, and free `o`. On failure the temp file is
 * removed (no partial file) and `o` is freed as well. */
sp_err sp_media_out_commit(sp_media_out *o, const void *data, size_t len) SP_WARN_UNUSED;
/* Remove the temp file and free. NULL is fine. */
void sp_media_out_abort(sp_media_out *o);
const char *sp_media_out_path(const sp_media_out *o);

/* ----------------------------------------------------------- key archive */

/* `key` as PKCS#8 inside CMS EnvelopedData (AES-256-CBC; RSA-OAEP-SHA256
 * for an RSA CA certificate, ECDH for an EC one) to `ca_cert`. *der is
 * OPENSSL_malloc'd. */
sp_err sp_media_archive_key(X509 *ca_cert, EVP_PKEY *key, uint8_t **der, size_t *len) SP_WARN_UNUSED;
/* The reverse, with the CA key (the CA must be open with its passphrase). */
sp_err sp_media_unarchive_key(sp_ca *ca, const uint8_t *der, size_t len, EVP_PKEY **out) SP_WARN_UNUSED;

/* --------------------------------------------------------- create, export */

typedef struct {
	const char *name;       /* friendly name and CN (the name rules apply) */
	const char *const *dns; /* dNSNames (the template takes them from the command line) */
	size_t n_dns;
	int archive;            /* keep the key (sp_media_archive_key) */
	const char *actor;      /* audit actor, e.g. "cli:root" */
	sp_pkcs12_opts p12;
} sp_media_create_opts;

/* Generate the key (sp_media_keygen; the template must allow serverKeyGen,
 * else SP_ERR_POLICY), issue through sp_issue_in_txn with the media row and
 * a "media-create" audit row in the same transaction, write the PKCS#12
 * (key, certificate, this CA and the issuers above it) through `out`, then
 * record the export ("media-export" audit row). `out` is consumed on every
 * path. serial (41 bytes, may be NULL) receives the serial once issued, also
 * when the write fails afterwards (the message then says the certificate is
 * recorded but not exported). */
sp_err sp_media_create(sp_ca *ca, const sp_template *t, const sp_media_create_opts *o, sp_media_out *out,
		       char *serial) SP_WARN_UNUSED;

/* Write an archived key again as a PKCS#12 under a new password. `serial`
 * as the user typed it (case, colons). SP_ERR_NOTFOUND: not a media
 * certificate, or one created without archive (its key was never kept).
 * SP_ERR_POLICY: the certificate is revoked, on hold, expired or blocked.
 * `out` is consumed on every path. */
sp_err sp_media_export(sp_ca *ca, const char *serial, const sp_pkcs12_opts *p12, const char *actor,
		       sp_media_out *out) SP_WARN_UNUSED;

/* ------------------------------------------------------------------ list */

typedef struct {
	const sp_media_row *media;
	const sp_cert_row *cert; /* without DER */
	const char *state;       /* "revoked", "hold", "blocked", "expired", "expiring", "valid"
				  * (the first that applies) */
} sp_media_info;
typedef int (*sp_media_info_cb)(const sp_media_info *info, void *arg);
/* Every media certificate with its certificate row and state at `now`
 * (0 = the current time), in sp_store_media_list order. The rows are valid
 * only during cb; a non-zero return stops the walk as for the store walks. */
sp_err sp_media_list(sp_ca *ca, int64_t now, sp_media_info_cb cb, void *arg) SP_WARN_UNUSED;

#endif
