/*
 * ca.h - CA lifecycle, CA key handling, the name policy and issuance.
 *
 * A CA home is a directory (mode 0700) holding:
 *   sitepki.db   the store (0600)             ca-key.pem  encrypted PKCS#8 (0600)
 *   ca.pem       this CA's certificate        chain.pem   issuers above it ("" for a root)
 *   ca.csr       while waiting for an external root to sign
 *   templates/   site templates (override or add to the shipped ones)
 *   publish/     files served over HTTP (CRLs, CA certificate)
 *
 * Ownership: sp_ca owns the store, certificate, key and chain; the get0
 * accessors lend them for the life of the sp_ca.
 */
#ifndef SITEPKI_CA_H
#define SITEPKI_CA_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"
#include "store/store.h"
#include "templates/templates.h"

#define SP_CA_DB "sitepki.db"
#define SP_CA_KEY "ca-key.pem"
#define SP_CA_CERT "ca.pem"
#define SP_CA_CHAIN "chain.pem"
#define SP_CA_CSR "ca.csr"

/* PBKDF2-HMAC-SHA256 iterations protecting the CA key (PKCS#8 PBES2,
 * AES-256-CBC). Loading the key costs this many hash rounds once per process. */
#define SP_CA_KEY_PBKDF2_ITER 600000

typedef struct sp_ca sp_ca;

/* ------------------------------------------------------------ lifecycle */

typedef struct {
	const char *name;        /* CA common name (required) */
	const char *org;         /* optional O= */
	const char *site_code;   /* optional default site code (3 characters) */
	const char *key_alg;     /* "ec-p256" (default), "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096" */
	int days;                /* validity; 0 = 3650 (root) or 1825 (intermediate) */
	const char *base_url;    /* CDP/AIA base; NULL = "http://127.0.0.1:8080/pki" */
	const char *parent_home; /* intermediate: signed by this sitepki home */
	const sp_secret *parent_pass;
	const char *csr_out;     /* external root: write the CA's CSR here */
} sp_ca_init_opts;

/* Create a CA home: root (self-signed), intermediate (parent_home set) or
 * awaiting an external root (csr_out set). `home` must not exist or be an
 * empty directory; on failure nothing is left behind. */
sp_err sp_ca_init(const char *home, const sp_ca_init_opts *o, const sp_secret *pass) SP_WARN_UNUSED;

/* Finish a --csr init: `cert` (PEM/DER) must carry the CSR's public key, be
 * a CA certificate with keyCertSign, and chain through `chain` (PEM, the
 * issuers up to and including the root; may be NULL only for... never: an
 * external root always gives its own certificate). */
sp_err sp_ca_import_cert(const char *home, const uint8_t *cert, size_t cert_len, const uint8_t *chain,
			 size_t chain_len) SP_WARN_UNUSED;

/* Open a home. With pass == NULL the key is not loaded (read-only commands);
 * with a passphrase the key is decrypted and checked against the certificate. */
sp_err sp_ca_open(const char *home, const sp_secret *pass, sp_ca **out) SP_WARN_UNUSED;
void sp_ca_close(sp_ca *ca); /* NULL is fine */

sp_store *sp_ca_get0_store(sp_ca *ca);
X509 *sp_ca_get0_cert(sp_ca *ca);
STACK_OF(X509) *sp_ca_get0_chain(sp_ca *ca); /* issuers above this CA, may be empty */
const sp_ca_row *sp_ca_get0_info(sp_ca *ca);
const char *sp_ca_get0_home(sp_ca *ca);
int sp_ca_has_key(sp_ca *ca);

/* URLs issued certificates carry: CRL distribution point and AIA caIssuers,
 * and the file names (below <home>/publish) they map to. */
const char *sp_ca_crl_url(sp_ca *ca);
const char *sp_ca_aia_url(sp_ca *ca);
const char *sp_ca_crl_file(sp_ca *ca);  /* "crl/<slug>.crl" */
const char *sp_ca_aia_file(sp_ca *ca);  /* "ca/<slug>.crt" */

/* CRL policy of this CA (store settings "crl.*"; defaults in brackets). */
typedef struct {
	int crl_days;      /* full CRL nextUpdate - thisUpdate [7] */
	int delta_enabled; /* publish delta CRLs; issued certificates and full CRLs
			    * then carry FreshestCRL [0] */
	int delta_hours;   /* delta CRL nextUpdate - thisUpdate [24] */
	int keep_expired;  /* keep expired certificates on CRLs, with the
			    * ExpiredCertsOnCRL extension [0] */
} sp_crl_policy;

/* The policy as loaded at sp_ca_open. */
const sp_crl_policy *sp_ca_get0_crl_policy(sp_ca *ca);
/* Validate and store a new policy (own transaction, audited). Takes effect
 * for certificates and CRLs made by handles opened afterwards. */
sp_err sp_ca_set_crl_policy(sp_ca *ca, const sp_crl_policy *p, const char *actor) SP_WARN_UNUSED;

/* Delta CRL URL and file ("crl/<slug>-delta.crl"). */
const char *sp_ca_delta_crl_url(sp_ca *ca);
const char *sp_ca_delta_crl_file(sp_ca *ca);

/* ---------------------------------------------------------- name policy */

/* The single-byte rule for one value of any ASN.1 string type (UTF8String,
 * BMPString, UniversalString, T61String, PrintableString, IA5String,
 * VisibleString): every character must be 7-bit ASCII and not a control
 * character (NUL included). The message names `field` and the offending
 * character position. */
sp_err sp_name_check_string(const ASN1_STRING *s, const char *field) SP_WARN_UNUSED;

/* Same rule on a plain byte string. */
sp_err sp_name_check_ascii(const char *s, size_t len, const char *field) SP_WARN_UNUSED;

/* dNSName: LDH labels of 1..63, total <= 253, no leading/trailing hyphen,
 * at least... one label; IDNs only as A-labels ("xn--"). A leading "*." is
 * refused (no wildcard templates). */
sp_err sp_name_check_dns(const char *s, const char *field) SP_WARN_UNUSED;

/* UPN: local@domain, ASCII, domain passes the DNS rule. */
sp_err sp_name_check_upn(const char *s, const char *field) SP_WARN_UNUSED;

/* Site code: exactly three ASCII letters or digits. */
sp_err sp_name_check_site_code(const char *s) SP_WARN_UNUSED;

/* -------------------------------------------------------------- issuance */

typedef struct {
	const char *const *dns; /* dNSNames from the command line */
	size_t n_dns;
	const char *upn;        /* UPN from the command line */
	const char *site_code;  /* NULL = the CA's default */
	const char *requester;  /* recorded with the request, e.g. "cli:root" */
	int64_t request_id;     /* 0: record a new request row; > 0: the recorded request
				 * this issues (it must be PENDING or APPROVED, for the same
				 * template, else SP_ERR_POLICY); it becomes ISSUED with the
				 * serial in the same transaction */
} sp_issue_opts;

/* Issuance in two phases, so a batch can run the CPU work on several threads
 * while one thread records in order:
 *   sp_issue_prepare: checks, build, lint, sign. Touches no store; safe to
 *     call from several threads at once on the same sp_ca and template.
 *     Borrows `req` and the strings of `o`: they must outlive the result.
 *   sp_issue_record: records certificate, request and audit rows in the
 *     caller's open transaction (re-signing with a fresh serial on the rare
 *     serial collision) and hands the certificate over (*out, caller frees);
 *     it must not leave the process before the commit. For speed its public
 *     key is left undecoded: encode it (i2d, PEM) but do not use its key
 *     (X509_get0_pubkey is NULL); sp_issue and sp_issue_in_txn return fully
 *     decoded certificates. */
typedef struct sp_prepared sp_prepared;
sp_err sp_issue_prepare(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_issue_opts *o,
			sp_prepared **out) SP_WARN_UNUSED;
sp_err sp_issue_record(sp_ca *ca, sp_prepared *p, X509 **out) SP_WARN_UNUSED;
/* The DER of the certificate the last sp_issue_record recorded (the bytes
 * stored in its row; valid until sp_prepared_free), or NULL with *len 0
 * before that. Saves the caller encoding it a second time. */
const unsigned char *sp_prepared_der(const sp_prepared *p, size_t *len);
void sp_prepared_free(sp_prepared *p); /* NULL is fine */

/* Check a CSR against the template and the name policy, build, lint and sign
 * the certificate and record it (certificate, request and audit rows) inside
 * the caller's open store transaction. Nothing is written when a check
 * fails. *out (caller frees) is the signed certificate; it must not leave the
 * process before the transaction commits. */
sp_err sp_issue_in_txn(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_issue_opts *o,
		       X509 **out) SP_WARN_UNUSED;

/* sp_issue_in_txn in its own transaction: returns only after the durable
 * commit (or with nothing recorded). */
sp_err sp_issue(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_issue_opts *o, X509 **out) SP_WARN_UNUSED;

/* Record a rejected request is deliberately absent: a refused request leaves
 * the store unchanged (the CLI reports it on stderr). */

/* Leaf + this CA + issuers above, PEM, in a malloc'd buffer. */
sp_err sp_ca_chain_pem(sp_ca *ca, X509 *leaf, int with_chain, char **pem, size_t *len) SP_WARN_UNUSED;

#endif
