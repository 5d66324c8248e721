/* ca_int.h - private to ca/: the sp_ca struct and helpers shared by its files. */
#ifndef SITEPKI_CA_INT_H
#define SITEPKI_CA_INT_H

#include "ca/ca.h"

#include <openssl/x509v3.h>

struct sp_ca {
	char *home;
	sp_store *store;
	sp_ca_row info;
	X509 *cert;
	EVP_PKEY *key; /* NULL when opened without a passphrase */
	STACK_OF(X509) *chain;
	char *crl_url, *aia_url, *crl_file, *aia_file;
	/* Extensions every leaf carries, built once per process: the issuance
	 * hot path only copies them (see docs/issuance.md, "speed"). */
	X509_EXTENSION *ext_bc, *ext_aki, *ext_cdp, *ext_aia;
	X509_EXTENSION *ext_freshest; /* FreshestCRL -> delta URL; NULL unless deltas are on */
	int64_t not_after;
	sp_crl_policy crl_policy; /* loaded at open (ca_policy.c) */
	char *delta_crl_url, *delta_crl_file;
};

/* ca_key.c */
sp_err sp_ca_key_generate(const char *alg, EVP_PKEY **out);
sp_err sp_ca_key_write(const char *path, EVP_PKEY *key, const sp_secret *pass);
sp_err sp_ca_key_read(const char *path, const sp_secret *pass, EVP_PKEY **out);

/* ca_ext.c: extension builders shared by CA and leaf certificates. */
X509_EXTENSION *sp_ext_basic_constraints(int ca, int pathlen);
X509_EXTENSION *sp_ext_key_usage(unsigned ku_bits_openssl, int critical);
X509_EXTENSION *sp_ext_ski_from_pubkey(const X509_PUBKEY *pub);
X509_EXTENSION *sp_ext_aki_from_cert(X509 *issuer);
X509_EXTENSION *sp_ext_aki_from_ski_ext(X509_EXTENSION *ski_ext);
X509_EXTENSION *sp_ext_cdp(const char *url);
X509_EXTENSION *sp_ext_aia(const char *url);
sp_err sp_random_serial(ASN1_INTEGER **out);
/* Add a copy of ext (NULL = skip); 0 on failure. */
int sp_add_ext(X509 *x, X509_EXTENSION *ext);

/* ca_policy.c: read the "crl.*" settings into ca->crl_policy (defaults for
 * unset ones; SP_ERR_DB for a stored value out of range). */
sp_err sp_ca_policy_load(sp_ca *ca);
X509_EXTENSION *sp_ext_freshest_crl(const char *url);

/* issue_names.c: the subject and SAN of a new certificate, from the CSR and
 * the command line, exactly as the template allows. */
typedef struct {
	X509_NAME *subject;
	GENERAL_NAMES *san;  /* empty when the certificate has no SAN */
	char *sans_text;     /* "DNS:a, UPN:b" for the store */
	char *cli_text;      /* names that came from the command line, for the request record */
} sp_names;
sp_err sp_issue_names(const sp_template *t, X509_REQ *req, const sp_issue_opts *o, const char *ca_site_code,
		      sp_names *out);
void sp_names_clear(sp_names *n);

/* "My Site CA" -> "my-site-ca": file names under publish/. */
void sp_ca_slug(const char *name, char *out, size_t outsz);

#endif
