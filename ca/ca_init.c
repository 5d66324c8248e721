/*
 * ca_init.c - creating a CA home: a self-signed root, an intermediate signed
 * by another sitepki home, or a key + CSR for an external root followed by
 * sp_ca_import_cert(). A failed init leaves nothing behind.
 */
#include "ca/ca_int.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BASE_URL "http://127.0.0.1:8080/pki"

/* Files init may create, removed again when it fails. */
static const char *const home_files[] = {SP_CA_DB, SP_CA_DB "-wal", SP_CA_DB "-shm", SP_CA_KEY,
					 SP_CA_CERT, SP_CA_CHAIN, SP_CA_CSR, NULL};

static sp_err check_empty_home(const char *home, int *created)
{
	DIR *d;
	struct dirent *e;
	*created = 0;
	if (mkdir(home, 0700) == 0) {
		*created = 1;
		return SP_OK;
	}
	if (errno != EEXIST)
		return sp_fail(SP_ERR_IO, "cannot create %s: %s", home, strerror(errno));
	if (!(d = opendir(home)))
		return sp_fail(SP_ERR_IO, "%s exists and is not a readable directory", home);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			closedir(d);
			return sp_fail(SP_ERR_EXISTS, "%s is not empty; a CA home must be a new directory", home);
		}
	closedir(d);
	if (chmod(home, 0700) != 0)
		return sp_fail(SP_ERR_IO, "cannot chmod %s: %s", home, strerror(errno));
	return SP_OK;
}

static void remove_home(const char *home, int created)
{
	char path[4096];
	for (int i = 0; home_files[i]; i++)
		if (sp_path_join(path, sizeof path, home, home_files[i]) == SP_OK)
			unlink(path);
	if (created)
		rmdir(home);
}

/* Base URL of the CDP/AIA: plain http (clients and WinPE fetch CRLs over
 * HTTP, never HTTPS: the TLS check would need the CRL first), printable
 * ASCII without spaces, quotes or commas, no trailing slash. */
static sp_err check_base_url(const char *url)
{
	size_t n = strlen(url);
	if (strncmp(url, "http://", 7) != 0 || n < 8 || n > 200 || url[n - 1] == '/')
		return sp_fail(SP_ERR_USAGE, "--base-url '%s' must be an http:// URL without a trailing '/'", url);
	for (const char *p = url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7F || strchr("\"'<>\\,{}|^`", *p))
			return sp_fail(SP_ERR_USAGE, "--base-url '%s' contains a character not allowed in a URL", url);
	return SP_OK;
}

static sp_err make_name(const sp_ca_init_opts *o, X509_NAME **out)
{
	X509_NAME *n = X509_NAME_new();
	sp_err rc;
	*out = NULL;
	if (!n)
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	if ((rc = sp_name_check_ascii(o->name, strlen(o->name), "CA name")) != SP_OK ||
	    (o->org && (rc = sp_name_check_ascii(o->org, strlen(o->org), "CA organisation")) != SP_OK)) {
		X509_NAME_free(n);
		return rc;
	}
	if (strlen(o->name) > 64 || (o->org && strlen(o->org) > 64)) {
		X509_NAME_free(n);
		return sp_fail(SP_ERR_USAGE, "CA name and organisation are limited to 64 characters (RFC 5280 ub-common-name)");
	}
	if ((o->org && !X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_ASC,
						   (const unsigned char *)o->org, -1, -1, 0)) ||
	    !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_ASC, (const unsigned char *)o->name, -1, -1, 0)) {
		X509_NAME_free(n);
		return sp_fail_ossl(SP_ERR_CRYPTO, "CA name");
	}
	*out = n;
	return SP_OK;
}

/* Build a CA certificate for `key` named `subj`, signed by issuer_key
 * (issuer_cert NULL = self-signed root). */
static sp_err make_ca_cert(X509_NAME *subj, EVP_PKEY *key, int days, X509 *issuer_cert, EVP_PKEY *issuer_key,
			   const char *crl_url, const char *aia_url, X509 **out)
{
	X509 *x = X509_new();
	ASN1_INTEGER *serial = NULL;
	X509_EXTENSION *bc = NULL, *ku = NULL, *ski = NULL, *aki = NULL, *cdp = NULL, *aia = NULL;
	time_t now = time(NULL);
	int64_t na = (int64_t)now + (int64_t)days * 86400;
	sp_err rc;

	*out = NULL;
	if (!x)
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	if (issuer_cert) {
		int64_t ia;
		if ((rc = sp_asn1_time_to_unix(X509_get0_notAfter(issuer_cert), &ia)) != SP_OK)
			goto out;
		if (na > ia)
			na = ia;
	}
	if ((rc = sp_random_serial(&serial)) != SP_OK)
		goto out;
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) || !X509_set_subject_name(x, subj) ||
	    !X509_set_issuer_name(x, issuer_cert ? X509_get_subject_name(issuer_cert) : subj) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), now) || !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)na) ||
	    !X509_set_pubkey(x, key)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the CA certificate");
		goto out;
	}
	/* A root has no path length limit; an intermediate issues leaves only. */
	bc = sp_ext_basic_constraints(1, issuer_cert ? 0 : -1);
	ku = sp_ext_key_usage((1u << 5) | (1u << 6), 1); /* keyCertSign, cRLSign */
	ski = sp_ext_ski_from_pubkey(X509_get_X509_PUBKEY(x));
	if (!bc || !ku || !ski || !sp_add_ext(x, bc) || !sp_add_ext(x, ku) || !sp_add_ext(x, ski)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "CA certificate extensions");
		goto out;
	}
	if (issuer_cert) {
		aki = sp_ext_aki_from_cert(issuer_cert);
		cdp = sp_ext_cdp(crl_url);
		aia = sp_ext_aia(aia_url);
		if (!aki || !cdp || !aia || !sp_add_ext(x, aki) || !sp_add_ext(x, cdp) || !sp_add_ext(x, aia)) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "CA certificate extensions");
			goto out;
		}
	} else {
		/* self-signed: AKI = SKI (RFC 5280 4.2.1.1 allows omitting it,
		 * but some verifiers match issuers by it) */
		if (!(aki = sp_ext_aki_from_ski_ext(ski)) || !sp_add_ext(x, aki)) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "CA certificate extensions");
			goto out;
		}
	}
	if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "signing the CA certificate");
		goto out;
	}
	*out = x;
	x = NULL;
	rc = SP_OK;
out:
	X509_free(x);
	ASN1_INTEGER_free(serial);
	X509_EXTENSION_free(bc);
	X509_EXTENSION_free(ku);
	X509_EXTENSION_free(ski);
	X509_EXTENSION_free(aki);
	X509_EXTENSION_free(cdp);
	X509_EXTENSION_free(aia);
	return rc;
}

static sp_err cert_row_of(X509 *x, const char *template_name, sp_cert_row *row, unsigned char **der)
{
	int n;
	char *subj;
	sp_err rc;
	memset(row, 0, sizeof *row);
	*der = NULL;
	if ((n = i2d_X509(x, der)) <= 0)
		return sp_fail_ossl(SP_ERR_CRYPTO, "encoding a certificate");
	row->der = *der;
	row->der_len = (size_t)n;
	if ((rc = sp_serial_hex(X509_get0_serialNumber(x), row->serial, sizeof row->serial)) != SP_OK ||
	    (rc = sp_cert_sha256_hex(x, row->sha256)) != SP_OK || (rc = sp_cert_sha1_hex(x, row->sha1)) != SP_OK ||
	    (rc = sp_asn1_time_to_unix(X509_get0_notBefore(x), &row->not_before)) != SP_OK ||
	    (rc = sp_asn1_time_to_unix(X509_get0_notAfter(x), &row->not_after)) != SP_OK)
		return rc;
	if (!(subj = sp_name_oneline(X509_get_subject_name(x))))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	row->subject = subj;
	row->sans = "";
	row->template_name = (char *)template_name;
	row->issued_at = (int64_t)time(NULL);
	row->revoke_reason = -1;
	return SP_OK;
}

/* Record a certificate in `st` inside the caller's transaction. */
static sp_err record_cert(sp_store *st, X509 *x, const char *template_name, const char *action)
{
	sp_cert_row row;
	unsigned char *der = NULL;
	sp_err rc = cert_row_of(x, template_name, &row, &der);
	if (rc == SP_OK && (rc = sp_store_cert_insert(st, &row)) == SP_OK)
		rc = sp_store_audit_append(st, "cli", action, row.serial, row.subject);
	free(row.subject);
	OPENSSL_free(der);
	return rc;
}

static char *pem_of_chain(X509 *first, STACK_OF(X509) *rest)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL, *s = NULL;
	long n;
	int ok = b != NULL;
	if (ok && first)
		ok = PEM_write_bio_X509(b, first);
	for (int i = 0; ok && i < sk_X509_num(rest); i++)
		ok = PEM_write_bio_X509(b, sk_X509_value(rest, i));
	if (ok) {
		n = BIO_get_mem_data(b, &p);
		if ((s = malloc((size_t)(n > 0 ? n : 0) + 1))) {
			if (n > 0)
				memcpy(s, p, (size_t)n);
			s[n > 0 ? n : 0] = '\0';
		}
	}
	BIO_free(b);
	return s;
}

static sp_err write_pem_file(const char *home, const char *name, const char *pem)
{
	char path[4096];
	sp_err rc = sp_path_join(path, sizeof path, home, name);
	if (rc == SP_OK)
		rc = sp_file_write_atomic(path, pem, strlen(pem), 0644, 1);
	return rc;
}

sp_err sp_ca_init(const char *home, const sp_ca_init_opts *o, const sp_secret *pass)
{
	sp_store *st = NULL;
	sp_ca *parent = NULL;
	EVP_PKEY *key = NULL;
	X509_NAME *subj = NULL;
	X509 *cert = NULL;
	X509_REQ *req = NULL;
	sp_ca_row row;
	char path[4096], *chain_pem = NULL, *cert_pem = NULL;
	unsigned char *der = NULL;
	int created = 0, started = 0, der_len = 0;
	int days = o->days > 0 ? o->days : (o->parent_home ? 1825 : 3650);
	const char *base = o->base_url ? o->base_url : DEFAULT_BASE_URL;
	sp_err rc;

	memset(&row, 0, sizeof row);
	if (!o->name || !o->name[0])
		return sp_fail(SP_ERR_USAGE, "a CA name is required (--name)");
	if (o->parent_home && o->csr_out)
		return sp_fail(SP_ERR_USAGE, "--intermediate and --csr cannot be combined");
	if (days > 36500)
		return sp_fail(SP_ERR_USAGE, "--days %d is more than 100 years", days);
	if ((rc = check_base_url(base)) != SP_OK)
		return rc;
	if (o->site_code && o->site_code[0] && (rc = sp_name_check_site_code(o->site_code)) != SP_OK)
		return rc;
	if ((rc = make_name(o, &subj)) != SP_OK)
		return rc;
	/* Open the parent first: a wrong parent passphrase must fail before
	 * anything is created. */
	if (o->parent_home && (rc = sp_ca_open(o->parent_home, o->parent_pass, &parent)) != SP_OK)
		goto out;
	/* RFC 5280 4.2.1.9: a CA with pathLenConstraint 0 may issue only
	 * end-entity certificates; a sub-CA below it would never validate. */
	if (parent && X509_get_pathlen(parent->cert) == 0) {
		rc = sp_fail(SP_ERR_POLICY, "CA %s has path length 0: it may issue only end-entity certificates, not a "
					    "subordinate CA", o->parent_home);
		goto out;
	}
	if ((rc = sp_ca_key_generate(o->key_alg, &key)) != SP_OK)
		goto out;
	if ((rc = check_empty_home(home, &created)) != SP_OK)
		goto out;
	started = 1;
	if ((rc = sp_path_join(path, sizeof path, home, SP_CA_KEY)) != SP_OK || (rc = sp_ca_key_write(path, key, pass)) != SP_OK)
		goto out;
	if ((rc = sp_path_join(path, sizeof path, home, SP_CA_DB)) != SP_OK || (rc = sp_store_open(path, 1, &st)) != SP_OK)
		goto out;

	row.name = (char *)o->name;
	row.site_code = (char *)(o->site_code ? o->site_code : "");
	row.base_url = (char *)base;
	row.key_alg = (char *)(o->key_alg ? o->key_alg : "ec-p256");
	row.created_at = (int64_t)time(NULL);

	if (o->csr_out) {
		/* External root: the CSR asks for what the root should grant; it
		 * decides, and import-cert checks the result. */
		BIO *b = NULL;
		char *p = NULL;
		long n;
		if (!(req = X509_REQ_new()) || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
		    !X509_REQ_set_subject_name(req, subj) || !X509_REQ_set_pubkey(req, key) ||
		    X509_REQ_sign(req, key, EVP_sha256()) <= 0 || !(b = BIO_new(BIO_s_mem())) ||
		    !PEM_write_bio_X509_REQ(b, req)) {
			BIO_free(b);
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the CA's CSR");
			goto out;
		}
		n = BIO_get_mem_data(b, &p);
		rc = sp_path_join(path, sizeof path, home, SP_CA_CSR);
		if (rc == SP_OK)
			rc = sp_file_write_atomic(path, p, (size_t)n, 0644, 1);
		if (rc == SP_OK)
			rc = sp_file_write_atomic(o->csr_out, p, (size_t)n, 0644, 1);
		BIO_free(b);
		if (rc != SP_OK)
			goto out;
		row.state = SP_CA_AWAITING_CERT;
		row.chain_pem = "";
		if ((rc = sp_store_begin(st)) != SP_OK || (rc = sp_store_ca_put(st, &row)) != SP_OK ||
		    (rc = sp_store_audit_append(st, "cli", "init-csr", o->name, o->csr_out)) != SP_OK ||
		    (rc = sp_store_commit(st)) != SP_OK)
			goto out;
		rc = SP_OK;
		goto out;
	}

	if (parent) {
		if ((rc = make_ca_cert(subj, key, days, parent->cert, parent->key, parent->crl_url, parent->aia_url, &cert)) != SP_OK)
			goto out;
		/* the parent records what it signed, durably, before the child
		 * home is usable */
		if ((rc = sp_store_begin(parent->store)) != SP_OK)
			goto out;
		if ((rc = record_cert(parent->store, cert, "subordinate-ca", "issue-subordinate")) != SP_OK ||
		    (rc = sp_store_commit(parent->store)) != SP_OK) {
			sp_store_rollback(parent->store);
			goto out;
		}
		chain_pem = pem_of_chain(parent->cert, parent->chain);
	} else {
		if ((rc = make_ca_cert(subj, key, days, NULL, NULL, NULL, NULL, &cert)) != SP_OK)
			goto out;
		chain_pem = pem_of_chain(NULL, NULL);
	}
	if (!chain_pem || !(cert_pem = pem_of_chain(cert, NULL)) || (der_len = i2d_X509(cert, &der)) <= 0) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	row.state = SP_CA_ACTIVE;
	row.cert_der = der;
	row.cert_der_len = (size_t)der_len;
	row.chain_pem = chain_pem;
	if ((rc = sp_store_begin(st)) != SP_OK)
		goto out;
	if ((rc = sp_store_ca_put(st, &row)) != SP_OK || (rc = record_cert(st, cert, "ca", "init")) != SP_OK ||
	    (rc = sp_store_commit(st)) != SP_OK) {
		sp_store_rollback(st);
		goto out;
	}
	if ((rc = write_pem_file(home, SP_CA_CERT, cert_pem)) != SP_OK ||
	    (rc = write_pem_file(home, SP_CA_CHAIN, chain_pem)) != SP_OK)
		goto out;
	rc = SP_OK;
out:
	sp_store_close(st);
	if (rc != SP_OK && started)
		remove_home(home, created);
	sp_ca_close(parent);
	EVP_PKEY_free(key);
	X509_NAME_free(subj);
	X509_free(cert);
	X509_REQ_free(req);
	free(chain_pem);
	free(cert_pem);
	OPENSSL_free(der);
	return rc;
}

sp_err sp_ca_import_cert(const char *home, const uint8_t *cert_data, size_t cert_len, const uint8_t *chain_data,
			 size_t chain_len)
{
	sp_store *st = NULL;
	sp_ca_row row;
	X509 *cert = NULL;
	X509_REQ *req = NULL;
	EVP_PKEY *csr_key = NULL;
	STACK_OF(X509) *chain = NULL;
	X509_STORE *trust = NULL;
	X509_STORE_CTX *ctx = NULL;
	uint8_t *csr = NULL;
	size_t csr_len = 0;
	unsigned char *der = NULL;
	char path[4096], *chain_pem = NULL, *cert_pem = NULL;
	int der_len;
	sp_err rc;

	memset(&row, 0, sizeof row);
	if ((rc = sp_path_join(path, sizeof path, home, SP_CA_DB)) != SP_OK || (rc = sp_store_open(path, 0, &st)) != SP_OK)
		goto out;
	if ((rc = sp_store_ca_get(st, &row)) != SP_OK)
		goto out;
	if (row.state != SP_CA_AWAITING_CERT) {
		rc = sp_fail(SP_ERR_USAGE, "CA %s already has its certificate", home);
		goto out;
	}
	if ((rc = sp_cert_parse(cert_data, cert_len, &cert)) != SP_OK)
		goto out;
	if ((rc = sp_path_join(path, sizeof path, home, SP_CA_CSR)) != SP_OK ||
	    (rc = sp_file_read(path, SP_MAX_CSR_BYTES, &csr, &csr_len)) != SP_OK ||
	    (rc = sp_req_parse(csr, csr_len, &req)) != SP_OK)
		goto out;
	if ((rc = sp_req_get1_pubkey(req, &csr_key)) != SP_OK)
		goto out;
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), csr_key) != 1) {
		rc = sp_fail(SP_ERR_INPUT, "the certificate is not for this CA's key");
		goto out;
	}
	if (X509_check_ca(cert) != 1 || !(X509_get_key_usage(cert) & KU_KEY_CERT_SIGN) ||
	    !X509_get0_subject_key_id(cert)) {
		rc = sp_fail(SP_ERR_INPUT, "the certificate is not a CA certificate with keyCertSign, basicConstraints "
					   "CA:TRUE and a subject key identifier");
		goto out;
	}
	if (!chain_data || chain_len == 0) {
		rc = sp_fail(SP_ERR_USAGE, "the issuing chain (--chain) up to the root is required");
		goto out;
	}
	if ((rc = sp_cert_parse_chain(chain_data, chain_len, &chain)) != SP_OK)
		goto out;
	/* The last certificate of the chain is the trust anchor; the
	 * new certificate must verify up to it. */
	if (!(trust = X509_STORE_new()) || !X509_STORE_add_cert(trust, sk_X509_value(chain, sk_X509_num(chain) - 1)) ||
	    !(ctx = X509_STORE_CTX_new()) || !X509_STORE_CTX_init(ctx, trust, cert, chain)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "verifying the CA certificate");
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		rc = sp_fail(SP_ERR_INPUT, "the CA certificate does not verify against the chain: %s",
			     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (!(chain_pem = pem_of_chain(NULL, chain)) || !(cert_pem = pem_of_chain(cert, NULL)) ||
	    (der_len = i2d_X509(cert, &der)) <= 0) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	free(row.chain_pem);
	row.chain_pem = chain_pem;
	chain_pem = NULL;
	row.cert_der = der;
	row.cert_der_len = (size_t)der_len;
	der = NULL;
	row.state = SP_CA_ACTIVE;
	if ((rc = sp_store_begin(st)) != SP_OK)
		goto out;
	if ((rc = sp_store_ca_put(st, &row)) != SP_OK || (rc = record_cert(st, cert, "ca", "import-cert")) != SP_OK ||
	    (rc = sp_store_commit(st)) != SP_OK) {
		sp_store_rollback(st);
		goto out;
	}
	if ((rc = write_pem_file(home, SP_CA_CERT, cert_pem)) != SP_OK ||
	    (rc = write_pem_file(home, SP_CA_CHAIN, row.chain_pem)) != SP_OK)
		goto out;
	rc = SP_OK;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(trust);
	sk_X509_pop_free(chain, X509_free);
	X509_free(cert);
	X509_REQ_free(req);
	EVP_PKEY_free(csr_key);
	free(csr);
	free(chain_pem);
	free(cert_pem);
	OPENSSL_free(der);
	sp_ca_row_clear(&row);
	sp_store_close(st);
	return rc;
}
