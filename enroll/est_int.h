/*
 * est_int.h - private to enroll/est*.c: the shared handler state and the
 * helpers its files share (est_ prefix).
 */
#ifndef SITEPKI_ENROLL_EST_INT_H
#define SITEPKI_ENROLL_EST_INT_H

#include <pthread.h>

#include "enroll/est.h"

/* A client certificate whose chain was verified: verification (and the key
 * decode it needs) is done once per certificate, not once per request of a
 * keep-alive connection. Its block and revocation state were found clear at
 * status epoch `epoch` (sp_store_status_epoch); every request reads the
 * epoch, and any revocation or block change anywhere makes the next request
 * look the certificate up again. */
#define EST_PEER_CACHE 64
typedef struct {
	uint8_t sha256[32];   /* of the DER */
	X509 *cert;           /* NULL = empty slot */
	char serial[41];
	char *template_name, *subject;
	int64_t not_after;
	int64_t epoch;        /* -1: the state was checked without knowing the epoch */
	int64_t last_used;
} est_peer_entry;

struct sp_est {
	sp_ca *ca;                  /* opened without the key */
	const sp_serve_config *cfg; /* borrowed */
	sp_est_issue_fn issue;
	void *issue_arg;
	pthread_mutex_t lock;       /* the store connection is not shared by threads */
	X509_STORE *trust;          /* this CA (and the issuers above) for client certificates */
	sp_template_cache *templates; /* loaded once, shared by the threads */
	char *cacerts;              /* /cacerts answer: base64 of the certs-only PKCS#7 */
	pthread_mutex_t peer_lock;
	est_peer_entry peers[EST_PEER_CACHE];
	int64_t peer_tick;
	size_t cacerts_len;
};

/* What the TLS client certificate proves. */
typedef struct {
	X509 *cert;           /* NULL: no certificate was presented */
	char serial[41];      /* valid only when cert != NULL */
	char *template_name;  /* the template it was issued from (store row) */
	char *subject;        /* one-line subject */
} est_peer;

void est_peer_clear(est_peer *p);
void est_peer_cache_free(sp_est *e);

/* Check the TLS client certificate chain of rq (leaf first): not blocked
 * (any certificate, also one this CA did not issue), chains to this CA for
 * clientAuth at the current time, recorded in the store and not revoked or
 * on hold. SP_OK with p->cert NULL when none was presented; SP_OK with p
 * filled when it passes; else SP_ERR_BLOCKED or SP_ERR_AUTH with a one-line
 * reason (the service answers 403). Takes the store lock itself. */
sp_err est_peer_check(sp_est *e, const sp_est_request *rq, est_peer *p) SP_WARN_UNUSED;

/* 1 if the subject and the subjectAltName DNS/UPN names of req are exactly
 * those of cert (RFC 7030 4.2.2 re-enrollment), 0 if not. */
int est_same_names(X509_REQ *req, X509 *cert);

/* The /csrattrs answer for template t: CsrAttrs (RFC 7030 4.5.2), DER. */
sp_err est_csrattrs(const sp_template *t, uint8_t **der, size_t *len) SP_WARN_UNUSED;

#endif
