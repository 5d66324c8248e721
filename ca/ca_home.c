/* ca_home.c - opening a CA home: store, certificate, chain, key, and the
 * per-process caches the issuance path uses. */
#include "ca/ca_int.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *join_url(const char *base, const char *dir, const char *slug, const char *ext)
{
	size_t n = strlen(base) + strlen(dir) + strlen(slug) + strlen(ext) + 4;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s/%s%s", base, dir, slug, ext);
	return s;
}

static char *join_file(const char *dir, const char *slug, const char *ext)
{
	size_t n = strlen(dir) + strlen(slug) + strlen(ext) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s/%s%s", dir, slug, ext);
	return s;
}

static sp_err load_cert_parts(sp_ca *ca)
{
	const unsigned char *p = ca->info.cert_der;
	sp_err rc;

	if (!(ca->cert = d2i_X509(NULL, &p, (long)ca->info.cert_der_len)))
		return sp_fail_ossl(SP_ERR_DB, "the CA certificate in the store is corrupt");
	if ((rc = sp_asn1_time_to_unix(X509_get0_notAfter(ca->cert), &ca->not_after)) != SP_OK)
		return rc;
	if (ca->info.chain_pem && ca->info.chain_pem[0]) {
		if ((rc = sp_cert_parse_chain((const uint8_t *)ca->info.chain_pem, strlen(ca->info.chain_pem),
					      &ca->chain)) != SP_OK)
			return rc;
	} else if (!(ca->chain = sk_X509_new_null())) {
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	ca->ext_bc = sp_ext_basic_constraints(0, -1);
	ca->ext_aki = sp_ext_aki_from_cert(ca->cert);
	ca->ext_cdp = sp_ext_cdp(ca->crl_url);
	ca->ext_aia = sp_ext_aia(ca->aia_url);
	if (ca->crl_policy.delta_enabled && !(ca->ext_freshest = sp_ext_freshest_crl(ca->delta_crl_url)))
		return sp_fail_ossl(SP_ERR_CRYPTO, "building the FreshestCRL extension");
	if (!ca->ext_bc || !ca->ext_aki || !ca->ext_cdp || !ca->ext_aia)
		return sp_fail_ossl(SP_ERR_CRYPTO, "building the CA's extensions (does the CA certificate have a "
						   "subject key identifier?)");
	return SP_OK;
}

sp_err sp_ca_open(const char *home, const sp_secret *pass, sp_ca **out)
{
	sp_ca *ca = NULL;
	char path[4096], slug[128];
	sp_err rc;

	*out = NULL;
	if (!(ca = calloc(1, sizeof *ca)) || !(ca->home = strdup(home))) {
		free(ca);
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	if ((rc = sp_path_join(path, sizeof path, home, SP_CA_DB)) != SP_OK)
		goto out;
	if (!sp_path_exists(path)) {
		rc = sp_fail(SP_ERR_NOTFOUND, "%s is not a sitepki CA home (no %s); run sitepki init", home, SP_CA_DB);
		goto out;
	}
	if ((rc = sp_store_open(path, 0, &ca->store)) != SP_OK)
		goto out;
	if ((rc = sp_store_ca_get(ca->store, &ca->info)) != SP_OK)
		goto out;
	sp_ca_slug(ca->info.name, slug, sizeof slug);
	ca->crl_url = join_url(ca->info.base_url, "crl", slug, ".crl");
	ca->aia_url = join_url(ca->info.base_url, "ca", slug, ".crt");
	ca->crl_file = join_file("crl", slug, ".crl");
	ca->aia_file = join_file("ca", slug, ".crt");
	ca->delta_crl_url = join_url(ca->info.base_url, "crl", slug, "-delta.crl");
	ca->delta_crl_file = join_file("crl", slug, "-delta.crl");
	if (!ca->crl_url || !ca->aia_url || !ca->crl_file || !ca->aia_file || !ca->delta_crl_url ||
	    !ca->delta_crl_file) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = sp_ca_policy_load(ca)) != SP_OK)
		goto out;
	if (ca->info.state == SP_CA_ACTIVE && (rc = load_cert_parts(ca)) != SP_OK)
		goto out;
	if (pass) {
		if (ca->info.state != SP_CA_ACTIVE) {
			rc = sp_fail(SP_ERR_USAGE, "CA %s is waiting for its certificate: run sitepki ca import-cert",
				     home);
			goto out;
		}
		if ((rc = sp_path_join(path, sizeof path, home, SP_CA_KEY)) != SP_OK ||
		    (rc = sp_ca_key_read(path, pass, &ca->key)) != SP_OK)
			goto out;
		if (X509_check_private_key(ca->cert, ca->key) != 1) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "%s does not match the CA certificate", path);
			goto out;
		}
	}
	*out = ca;
	ca = NULL;
	rc = SP_OK;
out:
	sp_ca_close(ca);
	return rc;
}

void sp_ca_close(sp_ca *ca)
{
	if (!ca)
		return;
	sp_store_close(ca->store);
	sp_ca_row_clear(&ca->info);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	sk_X509_pop_free(ca->chain, X509_free);
	X509_EXTENSION_free(ca->ext_bc);
	X509_EXTENSION_free(ca->ext_aki);
	X509_EXTENSION_free(ca->ext_cdp);
	X509_EXTENSION_free(ca->ext_aia);
	X509_EXTENSION_free(ca->ext_freshest);
	free(ca->delta_crl_url);
	free(ca->delta_crl_file);
	free(ca->crl_url);
	free(ca->aia_url);
	free(ca->crl_file);
	free(ca->aia_file);
	free(ca->home);
	free(ca);
}

sp_store *sp_ca_get0_store(sp_ca *ca) { return ca->store; }
X509 *sp_ca_get0_cert(sp_ca *ca) { return ca->cert; }
STACK_OF(X509) *sp_ca_get0_chain(sp_ca *ca) { return ca->chain; }
const sp_ca_row *sp_ca_get0_info(sp_ca *ca) { return &ca->info; }
const char *sp_ca_get0_home(sp_ca *ca) { return ca->home; }
int sp_ca_has_key(sp_ca *ca) { return ca->key != NULL; }
const char *sp_ca_crl_url(sp_ca *ca) { return ca->crl_url; }
const char *sp_ca_aia_url(sp_ca *ca) { return ca->aia_url; }
const char *sp_ca_crl_file(sp_ca *ca) { return ca->crl_file; }
const char *sp_ca_aia_file(sp_ca *ca) { return ca->aia_file; }

sp_err sp_ca_chain_pem(sp_ca *ca, X509 *leaf, int with_chain, char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	int ok;

	*pem = NULL;
	*len = 0;
	if (!b)
		return sp_fail_ossl(SP_ERR_NOMEM, "PEM");
	ok = PEM_write_bio_X509(b, leaf);
	if (ok && with_chain) {
		ok = PEM_write_bio_X509(b, ca->cert);
		for (int i = 0; ok && i < sk_X509_num(ca->chain); i++)
			ok = PEM_write_bio_X509(b, sk_X509_value(ca->chain, i));
	}
	n = BIO_get_mem_data(b, &p);
	if (!ok || n <= 0 || !(*pem = malloc((size_t)n + 1))) {
		BIO_free(b);
		return sp_fail_ossl(SP_ERR_CRYPTO, "PEM encoding of the chain");
	}
	memcpy(*pem, p, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	BIO_free(b);
	return SP_OK;
}
