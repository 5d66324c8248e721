/*
 * crl_check.c - sp_crl_check_cert: the revocation state of one certificate
 * according to a CRL (and optionally a delta CRL on it), following the
 * checks of RFC 5280 section 6.3.3 that apply to a CRL from the
 * certificate's own issuer:
 *   (a) current at `at`: thisUpdate <= at < nextUpdate;
 *   (b) scope: the IssuingDistributionPoint, if any, names one of the
 *       certificate's CRL distribution points, and its only* flags fit;
 *   (c) a delta: same issuer and scope, DeltaCRLIndicator = the base's
 *       CRLNumber, its own number higher;
 *   (f)(g) the CRL issuer is the certificate's issuer and its signature
 *       verifies with the issuer's key;
 *   unrecognised critical CRL and entry extensions make the CRL unusable.
 * Error codes: SP_ERR_INPUT when a CRL is not current (as revocation.h
 * promises), SP_ERR_CRYPTO for a signature that does not verify,
 * SP_ERR_INPUT for a CRL or certificate that does not belong here.
 */
#include "revocation/crl_int.h"

#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *what; /* "CRL" or "delta CRL", for messages */
	int64_t number;   /* -1: no CRLNumber */
	int64_t this_update, next_update;
	int is_delta;
	int64_t base_number;
} crl_facts;

static char *name_text(const X509_NAME *n)
{
	return sp_name_oneline(n);
}

static sp_err read_int_ext(X509_CRL *crl, int nid, const char *what, const char *ext_name, int64_t *out)
{
	int crit = 0;
	ASN1_INTEGER *v = X509_CRL_get_ext_d2i(crl, nid, &crit, NULL);
	sp_err rc = SP_OK;
	*out = -1;
	if (!v) {
		if (crit == -1)
			return SP_OK; /* absent */
		return sp_fail_ossl(SP_ERR_INPUT, "%s: its %s extension is malformed or repeated", what, ext_name);
	}
	if (!ASN1_INTEGER_get_int64(out, v) || *out < 0)
		rc = sp_fail(SP_ERR_INPUT, "%s: its %s is negative or too large", what, ext_name);
	ASN1_INTEGER_free(v);
	return rc;
}

/* Signature, issuer name, critical extensions, times; facts out. */
static sp_err check_crl(X509_CRL *crl, const char *what, X509 *issuer, EVP_PKEY *ik, int64_t at, crl_facts *f)
{
	const ASN1_TIME *nu = X509_CRL_get0_nextUpdate(crl);
	char t1[32], t2[32];
	sp_err rc;

	memset(f, 0, sizeof *f);
	f->what = what;
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
		char *a = name_text(X509_CRL_get_issuer(crl)), *b = name_text(X509_get_subject_name(issuer));
		rc = sp_fail(SP_ERR_INPUT, "the %s was issued by '%s', not by '%s'", what, a ? a : "?", b ? b : "?");
		free(a);
		free(b);
		return rc;
	}
	/* RFC 5280 6.3.3(f): the key that signed the CRL must be allowed to
	 * (keyUsage, when present, includes cRLSign; PKITS 4.7.4, 4.7.5) */
	if (!(X509_get_key_usage(issuer) & KU_CRL_SIGN))
		return sp_fail(SP_ERR_INPUT, "the %s's issuer may not sign CRLs (its key usage lacks cRLSign)", what);
	if (X509_CRL_verify(crl, ik) != 1)
		return sp_fail_ossl(SP_ERR_CRYPTO, "the %s's signature does not verify with the issuer's key", what);
	for (int i = 0; i < X509_CRL_get_ext_count(crl); i++) {
		X509_EXTENSION *e = X509_CRL_get_ext(crl, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
		if (X509_EXTENSION_get_critical(e) && nid != NID_issuing_distribution_point && nid != NID_delta_crl) {
			char oid[80];
			OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(e), 0);
			return sp_fail(SP_ERR_INPUT, "the %s has a critical extension this check does not know (%s)", what,
				       oid);
		}
	}
	/* RFC 5280 5.3: an unknown critical entry extension anywhere makes the
	 * whole CRL unusable, not only for the certificate it names */
	for (int i = 0; i < sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)); i++) {
		X509_REVOKED *rev = sk_X509_REVOKED_value(X509_CRL_get_REVOKED(crl), i);
		for (int j = 0; j < X509_REVOKED_get_ext_count(rev); j++) {
			X509_EXTENSION *e = X509_REVOKED_get_ext(rev, j);
			int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
			if (X509_EXTENSION_get_critical(e) && nid != NID_crl_reason && nid != NID_invalidity_date)
				return sp_fail(SP_ERR_INPUT, "the %s has an entry with a critical extension this check does "
							     "not know; the CRL cannot be used (RFC 5280 5.3)",
					       what);
		}
	}
	if ((rc = read_int_ext(crl, NID_crl_number, what, "CRL number", &f->number)) != SP_OK ||
	    (rc = read_int_ext(crl, NID_delta_crl, what, "delta CRL indicator", &f->base_number)) != SP_OK)
		return rc;
	f->is_delta = f->base_number >= 0;
	if (!nu)
		return sp_fail(SP_ERR_INPUT, "the %s has no nextUpdate (RFC 5280 5.1.2.5 requires one)", what);
	if ((rc = sp_asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl), &f->this_update)) != SP_OK ||
	    (rc = sp_asn1_time_to_unix(nu, &f->next_update)) != SP_OK)
		return rc;
	sp_time_iso(at, t2, sizeof t2);
	if (at < f->this_update) {
		sp_time_iso(f->this_update, t1, sizeof t1);
		return sp_fail(SP_ERR_INPUT, "%s %lld is not yet valid: thisUpdate is %s, checked at %s", what,
			       (long long)f->number, t1, t2);
	}
	if (at >= f->next_update) {
		sp_time_iso(f->next_update, t1, sizeof t1);
		return sp_fail(SP_ERR_INPUT, "%s %lld expired: nextUpdate was %s, checked at %s", what,
			       (long long)f->number, t1, t2);
	}
	return SP_OK;
}

static int names_meet(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(a); i++)
		for (int j = 0; j < sk_GENERAL_NAME_num(b); j++)
			if (!GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i), sk_GENERAL_NAME_value(b, j)))
				return 1;
	return 0;
}

/* RFC 5280 6.3.3 (b)(2): does this CRL's scope cover `cert`? Only full
 * names are compared (what sitepki and nearly every CA write); an IDP with
 * a relative name, indirect CRLs or partial reason sets are refused rather
 * than half-understood. */
static sp_err check_scope(X509_CRL *crl, X509 *cert, const char *what)
{
	int crit = 0;
	ISSUING_DIST_POINT *idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
	CRL_DIST_POINTS *cdp = NULL;
	int is_ca = (X509_get_extension_flags(cert) & EXFLAG_CA) != 0, covered = 0;
	sp_err rc = SP_OK;

	if (!idp) {
		if (crit == -1)
			return SP_OK; /* no IDP: the CRL covers everything its issuer issued */
		return sp_fail_ossl(SP_ERR_INPUT, "the %s's issuing distribution point is malformed", what);
	}
	if (idp->indirectCRL || idp->onlysomereasons || idp->onlyattr) {
		rc = sp_fail(SP_ERR_INPUT, "the %s is indirect or partial (only some reasons / attribute certificates): "
					   "not supported",
			     what);
		goto out;
	}
	if ((idp->onlyuser && is_ca) || (idp->onlyCA && !is_ca)) {
		rc = sp_fail(SP_ERR_INPUT, "the %s covers only %s certificates", what, idp->onlyuser ? "end-entity" : "CA");
		goto out;
	}
	if (!idp->distpoint)
		goto out;
	if (idp->distpoint->type != 0) {
		rc = sp_fail(SP_ERR_INPUT, "the %s's issuing distribution point is a relative name: not supported", what);
		goto out;
	}
	cdp = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
	for (int i = 0; !covered && i < sk_DIST_POINT_num(cdp); i++) {
		DIST_POINT *dp = sk_DIST_POINT_value(cdp, i);
		if (dp->distpoint && dp->distpoint->type == 0 &&
		    names_meet(dp->distpoint->name.fullname, idp->distpoint->name.fullname))
			covered = 1;
	}
	if (!covered) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(idp->distpoint->name.fullname, 0);
		const ASN1_IA5STRING *uri = gn && gn->type == GEN_URI ? gn->d.uniformResourceIdentifier : NULL;
		rc = sp_fail(SP_ERR_INPUT,
			     "the %s's scope (issuing distribution point %.*s) is not one of the certificate's CRL "
			     "distribution points%s",
			     what, uri ? ASN1_STRING_length(uri) : 1, uri ? (const char *)ASN1_STRING_get0_data(uri) : "?",
			     cdp ? "" : " (it has none)");
	}
out:
	ISSUING_DIST_POINT_free(idp);
	sk_DIST_POINT_pop_free(cdp, DIST_POINT_free);
	return rc;
}

/* A delta CRL has its base's scope (RFC 5280 5.2.4): same IDP, byte for byte. */
static int same_idp(X509_CRL *a, X509_CRL *b)
{
	int ia = X509_CRL_get_ext_by_NID(a, NID_issuing_distribution_point, -1);
	int ib = X509_CRL_get_ext_by_NID(b, NID_issuing_distribution_point, -1);
	const ASN1_OCTET_STRING *da, *db;
	if (ia < 0 || ib < 0)
		return ia < 0 && ib < 0;
	da = X509_EXTENSION_get_data(X509_CRL_get_ext(a, ia));
	db = X509_EXTENSION_get_data(X509_CRL_get_ext(b, ib));
	return !ASN1_STRING_cmp(da, db);
}

/* Entry facts; an entry with a critical extension we do not know is refused. */
static sp_err entry_facts(X509_REVOKED *rev, const char *what, int *reason, int64_t *when)
{
	int crit = 0;
	ASN1_ENUMERATED *e;
	sp_err rc;

	for (int i = 0; i < X509_REVOKED_get_ext_count(rev); i++)
		if (X509_EXTENSION_get_critical(X509_REVOKED_get_ext(rev, i)))
			return sp_fail(SP_ERR_INPUT, "the %s's entry for this certificate has a critical extension", what);
	if ((rc = sp_asn1_time_to_unix(X509_REVOKED_get0_revocationDate(rev), when)) != SP_OK)
		return rc;
	e = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, &crit, NULL);
	if (!e) {
		if (crit != -1)
			return sp_fail_ossl(SP_ERR_INPUT, "the %s's entry for this certificate has a malformed reason code",
					    what);
		*reason = SP_REASON_UNSPECIFIED;
		return SP_OK;
	}
	*reason = (int)ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return SP_OK;
}

sp_err sp_crl_check_cert(X509_CRL *crl, X509_CRL *delta, X509 *issuer, X509 *cert, int64_t at, sp_crl_status *out)
{
	EVP_PKEY *ik;
	ASN1_INTEGER *serial;
	X509_REVOKED *rev = NULL;
	crl_facts bf, df;
	int found;
	sp_err rc;

	memset(out, 0, sizeof *out);
	if (!crl || !issuer || !cert)
		return sp_fail(SP_ERR_USAGE, "sp_crl_check_cert: a CRL, the issuer and the certificate are needed");
	if (!(ik = X509_get0_pubkey(issuer)))
		return sp_fail_ossl(SP_ERR_INPUT, "the issuer certificate's public key cannot be read");
	if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(issuer)) != 0) {
		char *a = name_text(X509_get_issuer_name(cert)), *b = name_text(X509_get_subject_name(issuer));
		rc = sp_fail(SP_ERR_INPUT, "the certificate was issued by '%s', not by '%s'", a ? a : "?", b ? b : "?");
		free(a);
		free(b);
		return rc;
	}
	if (X509_verify(cert, ik) != 1)
		return sp_fail_ossl(SP_ERR_CRYPTO, "the certificate's signature does not verify with the issuer's key");

	if ((rc = check_crl(crl, "CRL", issuer, ik, at, &bf)) != SP_OK)
		return rc;
	if (bf.is_delta)
		return sp_fail(SP_ERR_INPUT, "CRL %lld is a delta CRL (on base %lld): give the full CRL as the CRL and "
					     "this one as the delta",
			       (long long)bf.number, (long long)bf.base_number);
	if ((rc = check_scope(crl, cert, "CRL")) != SP_OK)
		return rc;
	if (delta) {
		if ((rc = check_crl(delta, "delta CRL", issuer, ik, at, &df)) != SP_OK)
			return rc;
		if (!df.is_delta)
			return sp_fail(SP_ERR_INPUT, "the delta CRL (number %lld) has no delta CRL indicator: it is a full CRL",
				       (long long)df.number);
		/* RFC 5280 5.2.4: any complete CRL numbered at or above the
		 * delta's BaseCRLNumber may be combined with it */
		if (bf.number < 0 || bf.number < df.base_number)
			return sp_fail(SP_ERR_INPUT, "the delta CRL builds on CRL %lld, newer than the CRL given (number %lld)",
				       (long long)df.base_number, (long long)bf.number);
		if (df.number <= bf.number)
			return sp_fail(SP_ERR_INPUT, "the delta CRL's number %lld is not above its base's (%lld)",
				       (long long)df.number, (long long)bf.number);
		if (!same_idp(crl, delta))
			return sp_fail(SP_ERR_INPUT, "the delta CRL's issuing distribution point differs from its base's");
	}

	/* the lookup functions take a non-const serial but do not change it */
	serial = (ASN1_INTEGER *)X509_get0_serialNumber(cert);
	out->crl_number = bf.number;
	out->next_update = bf.next_update;
	if (delta) {
		out->crl_number = df.number;
		if (df.next_update < out->next_update)
			out->next_update = df.next_update;
		/* 1: listed; 2: listed as removeFromCRL (a hold lifted) */
		found = X509_CRL_get0_by_serial(delta, &rev, serial);
		if (found == 2)
			return SP_OK;
		if (found == 1) {
			if ((rc = entry_facts(rev, "delta CRL", &out->reason, &out->revoked_at)) == SP_OK)
				out->revoked = 1;
			return rc;
		}
	}
	found = X509_CRL_get0_by_serial(crl, &rev, serial);
	if (found == 1) {
		out->crl_number = bf.number;
		if ((rc = entry_facts(rev, "CRL", &out->reason, &out->revoked_at)) == SP_OK)
			out->revoked = 1;
		return rc;
	}
	return SP_OK;
}
