/*
 * req_key.c - parsing CSRs without OpenSSL 3.0's per-object decoder setup.
 *
 * d2i_X509_REQ() opportunistically decodes the public key, and in OpenSSL
 * 3.0 each such decode builds a fresh OSSL_DECODER_CTX: about 1.2 million
 * instructions and several global locks per CSR, more than verifying and
 * signing together, and it serialises threads. So CSRs are parsed in a
 * library context that holds only the "null" provider (the ASN.1 parse is
 * identical; the opportunistic decode finds no decoder and leaves the key
 * undecoded), and the SubjectPublicKeyInfo is then decoded with a decoder
 * context built once per thread and reused: the same provider decoders,
 * without the setup.
 *
 * EC keys on the named NIST curves take a shorter way still: building the
 * curve's group for every key (what the decoder does) costs more than
 * checking the signature with it. Each thread keeps a parameters-only key
 * per curve; a CSR's key is a duplicate of it given the CSR's point, which
 * EVP_PKEY_set1_encoded_public_key checks is on the curve, as the decoder
 * would.
 */
#include "common/common.h"

#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdlib.h>

static OSSL_LIB_CTX *parse_ctx;
static OSSL_PROVIDER *parse_null;
static pthread_once_t parse_once = PTHREAD_ONCE_INIT;

/* The named curves with a template key, by group name. */
static const struct {
	int nid;
	const char *group;
} ec_curves[] = {
	{NID_X9_62_prime256v1, "P-256"},
	{NID_secp384r1, "P-384"},
	{NID_secp521r1, "P-521"},
};
#define EC_CURVES (sizeof ec_curves / sizeof ec_curves[0])

typedef struct {
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *out; /* the decoder writes here: its address is fixed */
	EVP_PKEY *ec_tmpl[EC_CURVES]; /* parameters only; made on first use */
} thread_decoder;

static pthread_key_t decoder_key;
static pthread_once_t decoder_once = PTHREAD_ONCE_INIT;

static void decoder_free(void *p)
{
	thread_decoder *td = p;
	if (!td)
		return;
	OSSL_DECODER_CTX_free(td->dctx);
	EVP_PKEY_free(td->out);
	for (size_t i = 0; i < EC_CURVES; i++)
		EVP_PKEY_free(td->ec_tmpl[i]);
	free(td);
}

/* Thread destructors do not run for the main thread. */
static void cleanup_at_exit(void)
{
	decoder_free(pthread_getspecific(decoder_key));
	pthread_setspecific(decoder_key, NULL);
	OSSL_PROVIDER_unload(parse_null);
	OSSL_LIB_CTX_free(parse_ctx);
	parse_ctx = NULL;
}

static void decoder_key_init(void)
{
	if (pthread_key_create(&decoder_key, decoder_free) == 0)
		atexit(cleanup_at_exit);
}

static void parse_ctx_init(void)
{
	OSSL_LIB_CTX *c = OSSL_LIB_CTX_new();
	if (c && (parse_null = OSSL_PROVIDER_load(c, "null")))
		parse_ctx = c;
	else
		OSSL_LIB_CTX_free(c);
	pthread_once(&decoder_once, decoder_key_init);
}

OSSL_LIB_CTX *sp_req_parse_libctx(void)
{
	pthread_once(&parse_once, parse_ctx_init);
	return parse_ctx;
}

static thread_decoder *this_thread_decoder(void)
{
	thread_decoder *td;
	pthread_once(&decoder_once, decoder_key_init);
	if ((td = pthread_getspecific(decoder_key)))
		return td;
	if (!(td = calloc(1, sizeof *td)))
		return NULL;
	td->dctx = OSSL_DECODER_CTX_new_for_pkey(&td->out, "DER", "SubjectPublicKeyInfo", NULL,
						 EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	if (!td->dctx || pthread_setspecific(decoder_key, td) != 0) {
		decoder_free(td);
		return NULL;
	}
	return td;
}

/* The CSR's key if it is a named-curve EC key on one of ec_curves, built
 * from the thread's template; NULL otherwise (or on any failure: the
 * decoder then decides, with its own error). */
static EVP_PKEY *ec_named_key(thread_decoder *td, X509_PUBKEY *xpk)
{
	ASN1_OBJECT *alg_oid = NULL;
	const unsigned char *point = NULL;
	const void *pval = NULL;
	X509_ALGOR *alg = NULL;
	EVP_PKEY *k;
	int len = 0, ptype = 0, nid;
	size_t i;

	if (!X509_PUBKEY_get0_param(&alg_oid, &point, &len, &alg, xpk) || OBJ_obj2nid(alg_oid) != NID_X9_62_id_ecPublicKey)
		return NULL;
	X509_ALGOR_get0(NULL, &ptype, &pval, alg);
	if (ptype != V_ASN1_OBJECT || !pval || len <= 0)
		return NULL;
	nid = OBJ_obj2nid(pval);
	for (i = 0; i < EC_CURVES && ec_curves[i].nid != nid; i++)
		;
	if (i == EC_CURVES)
		return NULL;
	if (!td->ec_tmpl[i]) {
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		OSSL_PARAM p[2] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
								  (char *)ec_curves[i].group, 0),
				   OSSL_PARAM_construct_end()};
		if (!c || EVP_PKEY_fromdata_init(c) != 1 ||
		    EVP_PKEY_fromdata(c, &td->ec_tmpl[i], EVP_PKEY_KEY_PARAMETERS, p) != 1)
			td->ec_tmpl[i] = NULL;
		EVP_PKEY_CTX_free(c);
		if (!td->ec_tmpl[i]) {
			ERR_clear_error();
			return NULL;
		}
	}
	if (!(k = EVP_PKEY_dup(td->ec_tmpl[i])) || EVP_PKEY_set1_encoded_public_key(k, point, (size_t)len) != 1) {
		EVP_PKEY_free(k);
		ERR_clear_error();
		return NULL;
	}
	return k;
}

sp_err sp_req_get1_pubkey(X509_REQ *req, EVP_PKEY **out)
{
	EVP_PKEY *k = X509_REQ_get0_pubkey(req);
	thread_decoder *td;
	unsigned char *spki = NULL;
	const unsigned char *p;
	size_t left;
	int len;

	*out = NULL;
	ERR_clear_error(); /* get0 on an undecoded key leaves an error behind */
	if (k) {
		if (!EVP_PKEY_up_ref(k))
			return sp_fail_ossl(SP_ERR_CRYPTO, "CSR public key");
		*out = k;
		return SP_OK;
	}
	if (!(td = this_thread_decoder()))
		return sp_fail_ossl(SP_ERR_CRYPTO, "CSR public key: no decoder");
	if ((*out = ec_named_key(td, X509_REQ_get_X509_PUBKEY(req))))
		return SP_OK;
	if ((len = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(req), &spki)) <= 0)
		return sp_fail_ossl(SP_ERR_INPUT, "CSR: unreadable public key");
	p = spki;
	left = (size_t)len;
	EVP_PKEY_free(td->out);
	td->out = NULL;
	if (!OSSL_DECODER_from_data(td->dctx, &p, &left) || !td->out || left != 0) {
		OPENSSL_free(spki);
		EVP_PKEY_free(td->out);
		td->out = NULL;
		return sp_fail_ossl(SP_ERR_INPUT, "CSR: unsupported or malformed public key");
	}
	OPENSSL_free(spki);
	*out = td->out;
	td->out = NULL;
	return SP_OK;
}
