/*
 * token.h - one-time enrollment tokens (docs/enrollment.md).
 *
 * An administrator creates a token for one template and one set of names
 * (`sitepki token create`) and hands the credential "ID:SECRET" to the
 * device; the device sends it as HTTP Basic credentials with its EST
 * request. The secret is 256 bits from the CSPRNG; the store keeps only its
 * SHA-256, so a copy of the store yields no usable token.
 *
 * A token is spent in two steps so that a request that fails after it was
 * accepted does not burn it: sp_token_check() claims it, sp_token_finish()
 * marks it used (with the serial issued) or hands it back.
 *
 * Errors are one line and never contain the secret.
 */
#ifndef SITEPKI_ENROLL_TOKEN_H
#define SITEPKI_ENROLL_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/common.h"
#include "store/store.h"

/* 32 random bytes as base64url without padding. */
#define SP_TOKEN_SECRET_LEN 43
/* Lifetime bounds: long enough to walk to the device, short enough that a
 * forgotten token does not stay a standing credential. */
#define SP_TOKEN_TTL_MIN ((int64_t)60)
#define SP_TOKEN_TTL_MAX ((int64_t)30 * 86400)
/* Names bound to one token (the request context carries at most this many). */
#define SP_TOKEN_MAX_DNS 32

typedef struct {
	const char *template_name;
	const char *subject;    /* RFC 2253 string, most specific first ("CN=pc1.corp.example,O=Contoso"), or NULL */
	const char *const *dns; /* dNSNames, n_dns of them */
	size_t n_dns;
	const char *upn;        /* or NULL */
	int64_t ttl_seconds;    /* SP_TOKEN_TTL_MIN .. SP_TOKEN_TTL_MAX */
} sp_token_spec;

/* Create a token: 32 bytes from RAND_priv_bytes, secret = base64url
 * without padding (SP_TOKEN_SECRET_LEN characters). Binds the template and
 * the names: the subject as its one-line RFC 2253 form (sp_name_oneline of
 * the parsed string), the dNSNames (LDH, duplicates merged
 * case-insensitively) and the UPN; at least one name is required, and every
 * value passes the single-byte rule (SP_ERR_POLICY otherwise). Stores only
 * the SHA-256 hex of the secret, in its own transaction, audited
 * ("token-create": template, names, expiry; never the secret).
 * *secret_out: malloc'd, NUL-terminated; the caller wipes it
 * (OPENSSL_cleanse) and frees it. The template's existence is the caller's
 * to check (this layer has no CA home). */
sp_err sp_token_create(sp_store *st, const sp_token_spec *spec, const char *actor, int64_t *id_out,
		       char **secret_out) SP_WARN_UNUSED;

/* Check HTTP Basic credentials (user = decimal token id, pass = secret)
 * for an EST request for template `template_name` with CSR `req`:
 *  - unknown id or wrong secret: SP_ERR_AUTH "wrong enrollment token" (the
 *    digest is computed and compared in constant time whether or not the
 *    id exists);
 *  - used or claimed: SP_ERR_AUTH "enrollment token N was already used";
 *    expired (now >= expires_at): SP_ERR_AUTH "enrollment token N expired";
 *  - another template: SP_ERR_POLICY "enrollment token N is for template X";
 *  - names: the CSR subject must equal the bound subject (one-line forms);
 *    without a bound subject, every CN of the CSR must be a bound dNSName or
 *    the bound UPN; every SAN dNSName must be a bound dNSName or the bound
 *    subject's CN; a SAN UPN must be the bound UPN (DNS names and UPNs
 *    compare case-insensitively): else SP_ERR_POLICY "enrollment token N is
 *    not for <name>";
 *  - then claims it (own transaction) and fills *out with the row (state
 *    CLAIMED; release with sp_token_row_clear()). *out is zeroed on failure.
 * The state is only revealed to a caller holding the right secret. */
sp_err sp_token_check(sp_store *st, const char *user, const char *pass, const char *template_name, X509_REQ *req,
		      int64_t now, sp_token_row *out) SP_WARN_UNUSED;

/* Whether user:pass are a real token's credentials, whatever the token's
 * state (unused, claimed, used, expired): SP_OK and *id, or SP_ERR_AUTH
 * "wrong enrollment token" (*id 0), compared as sp_token_check does. For
 * the retry of a request the token was spent on (RFC 7030 4.2.3): the
 * retry carries the same credentials. Claims nothing. */
sp_err sp_token_authentic(sp_store *st, const char *user, const char *pass, int64_t *id) SP_WARN_UNUSED;

/* After the signer answered: serial != NULL -> USED with that serial ("" =
 * the request was queued, no certificate yet), audited "token-use"; NULL ->
 * back to UNUSED (the token may be used again). Own transaction. Not
 * SP_WARN_UNUSED: a caller handing a token back after its own failure may
 * have nothing better to do with an error than ignore it. */
sp_err sp_token_finish(sp_store *st, int64_t id, const char *serial, int64_t now);

/* Settle a token left CLAIMED by a service that stopped between the two
 * steps (`sitepki token release`). The request rows tell what happened: a
 * request recorded by "est:token:ID" since the token was created means the
 * token was spent on it, so it becomes USED (with the request's serial, or
 * "" if the request is still in the queue) and *spent_on is that request;
 * without one nothing was issued or queued for it, and it goes back to
 * UNUSED (spent_on->id == 0). One transaction, audited by `actor`
 * ("token-use" or "token-release"). Only for a token no running service is
 * still working on: a request in flight would issue after the release.
 * Errors: SP_ERR_NOTFOUND (no such token), SP_ERR_POLICY "enrollment token
 * N is not claimed (it is unused/used)". spent_on is always initialised;
 * release it with sp_request_row_clear(). */
sp_err sp_token_release(sp_store *st, int64_t id, const char *actor, int64_t now,
			sp_request_row *spent_on) SP_WARN_UNUSED;

#endif
