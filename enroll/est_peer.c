/*
 * est_peer.c - what a TLS client certificate proves to the EST handler.
 *
 * GnuTLS asks for a client certificate but does not judge it (the daemon
 * verifies nothing itself): every rule is applied here, with OpenSSL, in
 * this order so that the most specific refusal is the one reported and
 * audited:
 *   1. blocked (the block list also holds certificates this CA did not
 *      issue: a stolen boot-media certificate is refused whoever made it);
 *   2. chains to this CA, valid now, usable for clientAuth;
 *   3. recorded in the store and neither revoked nor on hold (the store is
 *      the live revocation state; a CRL could be a week old).
 * A certificate that passed is remembered (est_int.h): the chain is not
 * verified again, and 1 and 3 are skipped for as long as the store's status
 * epoch has not moved, which one small read per request tells.
 */
#include "enroll/est_int.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "revocation/revocation.h"

void est_peer_clear(est_peer *p)
{
	X509_free(p->cert);
	free(p->template_name);
	free(p->subject);
	memset(p, 0, sizeof *p);
}

static sp_err verify_chain(sp_est *e, X509 *leaf, STACK_OF(X509) *untrusted)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	sp_err rc = SP_OK;

	if (!ctx || !X509_STORE_CTX_init(ctx, e->trust, leaf, untrusted))
		rc = sp_fail_ossl(SP_ERR_NOMEM, "client certificate check");
	else if (!X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT))
		rc = sp_fail_ossl(SP_ERR_INTERNAL, "client certificate check");
	else if (X509_verify_cert(ctx) != 1)
		rc = sp_fail(SP_ERR_AUTH, "client certificate refused: %s",
			     X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	return rc;
}

void est_peer_cache_free(sp_est *e)
{
	size_t i;

	for (i = 0; i < EST_PEER_CACHE; i++) {
		X509_free(e->peers[i].cert);
		free(e->peers[i].template_name);
		free(e->peers[i].subject);
	}
	memset(e->peers, 0, sizeof e->peers);
}

static int entry_used(const est_peer_entry *x)
{
	return x->cert != NULL;
}

/* Copy a still-valid cached verification into p. 1 = hit; *epoch is the
 * status epoch it was judged at. */
static int cache_get(sp_est *e, const uint8_t md[32], int64_t now, est_peer *p, int64_t *epoch)
{
	int hit = 0;
	size_t i;

	pthread_mutex_lock(&e->peer_lock);
	for (i = 0; i < EST_PEER_CACHE && !hit; i++) {
		est_peer_entry *x = &e->peers[i];
		if (!entry_used(x) || memcmp(x->sha256, md, 32) != 0 || x->not_after <= now)
			continue;
		if (!(p->template_name = strdup(x->template_name)) || !(p->subject = strdup(x->subject)))
			break;
		X509_up_ref(x->cert);
		p->cert = x->cert;
		memcpy(p->serial, x->serial, sizeof p->serial);
		*epoch = x->epoch;
		x->last_used = ++e->peer_tick;
		hit = 1;
	}
	pthread_mutex_unlock(&e->peer_lock);
	if (!hit) {
		free(p->template_name);
		free(p->subject);
		p->template_name = p->subject = NULL;
	}
	return hit;
}

/* Remember a verification judged at status epoch `epoch` (the least
 * recently used slot makes room; an entry already there takes the epoch). */
static void cache_put(sp_est *e, const uint8_t md[32], const est_peer *p, int64_t epoch)
{
	est_peer_entry *slot = NULL;
	int64_t end = 0;
	char *tpl, *subj;
	size_t i;

	if (sp_asn1_time_to_unix(X509_get0_notAfter(p->cert), &end) != SP_OK)
		return;
	tpl = strdup(p->template_name);
	subj = strdup(p->subject);
	if (!tpl || !subj) {
		free(tpl);
		free(subj);
		return;
	}
	pthread_mutex_lock(&e->peer_lock);
	for (i = 0; i < EST_PEER_CACHE; i++) {
		est_peer_entry *x = &e->peers[i];
		if (entry_used(x) && !memcmp(x->sha256, md, 32)) {
			x->epoch = epoch;
			goto out;
		}
		if (!entry_used(x)) {
			if (!slot || entry_used(slot))
				slot = x; /* the first empty slot */
		} else if (!slot || (entry_used(slot) && x->last_used < slot->last_used)) {
			slot = x; /* else the least recently used */
		}
	}
	X509_free(slot->cert);
	free(slot->template_name);
	free(slot->subject);
	memcpy(slot->sha256, md, 32);
	X509_up_ref(p->cert);
	slot->cert = p->cert;
	memcpy(slot->serial, p->serial, sizeof slot->serial);
	slot->template_name = tpl;
	slot->subject = subj;
	tpl = subj = NULL;
	slot->not_after = end;
	slot->epoch = epoch;
	slot->last_used = ++e->peer_tick;
out:
	pthread_mutex_unlock(&e->peer_lock);
	free(tpl);
	free(subj);
}

/* "client certificate refused: <why the parse failed>". The reason is
 * copied first: sp_fail writes the buffer sp_last_error() returns. */
static sp_err refused_because(void)
{
	char why[512];

	snprintf(why, sizeof why, "%s", sp_last_error());
	return sp_fail(SP_ERR_AUTH, "client certificate refused: %s", why);
}

sp_err est_peer_check(sp_est *e, const sp_est_request *rq, est_peer *p)
{
	STACK_OF(X509) *rest = NULL;
	X509 *leaf = NULL;
	sp_cert_row row;
	uint8_t md[32];
	char sha256[65];
	int64_t now = (int64_t)time(NULL), epoch = -1, judged = -1;
	int cached;
	size_t i;
	sp_err rc;

	memset(p, 0, sizeof p[0]);
	memset(&row, 0, sizeof row);
	if (rq->n_peer == 0)
		return SP_OK;
	sp_sha256(rq->peer_der[0], rq->peer_len[0], md);
	sp_hex(md, 32, sha256, 0);
	/* Nothing changed since this certificate was judged: it stands. An
	 * unreadable epoch (-1) never matches, so the full check runs. */
	pthread_mutex_lock(&e->lock);
	if (sp_store_status_epoch(sp_ca_get0_store(e->ca), &epoch) != SP_OK)
		epoch = -1;
	pthread_mutex_unlock(&e->lock);
	cached = cache_get(e, md, now, p, &judged);
	if (cached && epoch >= 0 && judged == epoch)
		return SP_OK;
	/* 1. blocked? Needs only the DER's fingerprints: a key-less parse. */
	if (cached) {
		leaf = p->cert;
		X509_up_ref(leaf);
	} else {
		if ((rc = sp_cert_parse_nokey(rq->peer_der[0], rq->peer_len[0], &leaf)) != SP_OK) {
			rc = refused_because();
			goto out;
		}
		if (sp_serial_hex(X509_get0_serialNumber(leaf), p->serial, sizeof p->serial) != SP_OK)
			p->serial[0] = '\0';
	}
	pthread_mutex_lock(&e->lock);
	rc = sp_block_check_cert(sp_ca_get0_store(e->ca), leaf);
	pthread_mutex_unlock(&e->lock);
	if (rc != SP_OK)
		goto out;
	/* 2. chains to this CA for clientAuth, now (once per certificate) */
	if (!cached) {
		if ((rc = sp_cert_parse(rq->peer_der[0], rq->peer_len[0], &p->cert)) != SP_OK) {
			rc = refused_because();
			goto out;
		}
		if (!(rest = sk_X509_new_null())) {
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto out;
		}
		/* The intermediates the client sent are only candidates for
		 * path building; trust comes from e->trust alone. */
		for (i = 1; i < rq->n_peer && i < 8; i++) {
			X509 *x = NULL;
			if (sp_cert_parse(rq->peer_der[i], rq->peer_len[i], &x) != SP_OK)
				continue;
			if (!sk_X509_push(rest, x)) {
				X509_free(x);
				rc = sp_fail(SP_ERR_NOMEM, "out of memory");
				goto out;
			}
		}
		if ((rc = verify_chain(e, p->cert, rest)) != SP_OK)
			goto out;
	}
	/* 3. recorded here, and neither revoked nor on hold: every time */
	pthread_mutex_lock(&e->lock);
	rc = sp_store_cert_get(sp_ca_get0_store(e->ca), sha256, &row);
	pthread_mutex_unlock(&e->lock);
	if (rc == SP_ERR_NOTFOUND) {
		rc = sp_fail(SP_ERR_AUTH, "client certificate %s is not recorded by this CA", p->serial);
		goto out;
	}
	if (rc != SP_OK)
		goto out;
	if (row.status == SP_CERT_REVOKED || row.status == SP_CERT_HOLD) {
		rc = sp_fail(SP_ERR_AUTH, "client certificate %s is %s", p->serial,
			     row.status == SP_CERT_HOLD ? "on hold" : "revoked");
		goto out;
	}
	if (!cached && (!(p->template_name = strdup(row.template_name)) || !(p->subject = strdup(row.subject)))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	cache_put(e, md, p, epoch);
	rc = SP_OK;
out:
	X509_free(leaf);
	sp_cert_row_clear(&row);
	sk_X509_pop_free(rest, X509_free);
	if (rc != SP_OK) {
		/* keep the serial for the audit row, drop the rest */
		char serial[41];
		memcpy(serial, p->serial, sizeof serial);
		est_peer_clear(p);
		memcpy(p->serial, serial, sizeof serial);
	}
	return rc;
}

static int cmp_str(const char *const *a, const char *const *b)
{
	return strcmp(*a, *b);
}

static void free_str(char *s)
{
	free(s);
}

/* "DNS:a" / "UPN:b" for each name, sorted, joined by "\n"; NULL on error. */
static char *names_key(const GENERAL_NAMES *gens)
{
	STACK_OF(OPENSSL_STRING) *v = sk_OPENSSL_STRING_new(cmp_str);
	size_t total = 1;
	char *out = NULL;
	int i;

	if (!v)
		return NULL;
	for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s = NULL;
		const char *kind = NULL;
		char *item;

		if (g->type == GEN_DNS) {
			s = g->d.dNSName;
			kind = "DNS:";
		} else if (g->type == GEN_OTHERNAME &&
			   OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn &&
			   g->d.otherName->value->type == V_ASN1_UTF8STRING) {
			s = g->d.otherName->value->value.utf8string;
			kind = "UPN:";
		} else {
			kind = "OTHER:";
		}
		item = malloc(8 + (s ? (size_t)ASN1_STRING_length(s) : 0));
		if (!item)
			goto fail;
		strcpy(item, kind);
		if (s) {
			memcpy(item + strlen(kind), ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
			item[strlen(kind) + (size_t)ASN1_STRING_length(s)] = '\0';
		}
		if (!sk_OPENSSL_STRING_push(v, item)) {
			free(item);
			goto fail;
		}
		total += strlen(item) + 1;
	}
	sk_OPENSSL_STRING_sort(v);
	if (!(out = malloc(total)))
		goto fail;
	out[0] = '\0';
	for (i = 0; i < sk_OPENSSL_STRING_num(v); i++) {
		strcat(out, sk_OPENSSL_STRING_value(v, i));
		strcat(out, "\n");
	}
fail:
	sk_OPENSSL_STRING_pop_free(v, free_str);
	return out;
}

int est_same_names(X509_REQ *req, X509 *cert)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *req_san = NULL, *cert_san = NULL;
	char *a = NULL, *b = NULL;
	int same = 0;

	if (X509_NAME_cmp(X509_REQ_get_subject_name(req), X509_get_subject_name(cert)) != 0)
		goto out;
	req_san = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	cert_san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (!(a = names_key(req_san)) || !(b = names_key(cert_san)))
		goto out;
	same = strcmp(a, b) == 0;
out:
	free(a);
	free(b);
	GENERAL_NAMES_free(req_san);
	GENERAL_NAMES_free(cert_san);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return same;
}
