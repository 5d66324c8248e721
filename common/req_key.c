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
 */
#include "common/common.h"

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdlib.h>

static OSSL_LIB_CTX *parse_ctx;
static OSSL_PROVIDER *parse_null;
static pthread_once_t parse_once = PTHREAD_ONCE_INIT;

typedef struct {
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *out; /* the decoder writes here: its address is fixed */
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
