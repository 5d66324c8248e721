/* crl_int.h - private to the CRL engine (crl_build.c, crl_publish.c,
 * crl_check.c). */
#ifndef SITEPKI_CRL_INT_H
#define SITEPKI_CRL_INT_H

#include "revocation/revocation.h"

/* What one CRL is made of, apart from its entries (which come from the
 * store walk) and its signing key. Borrowed pointers. */
typedef struct {
	X509 *ca_cert;             /* issuer name and AKI keyid come from here */
	EVP_PKEY *key;
	int64_t number;
	int64_t this_update, next_update;
	const char *idp_url;       /* IssuingDistributionPoint fullName (= certificates' CDP) */
	const char *freshest_url;  /* full CRL: FreshestCRL URI, NULL = none */
	int64_t base_number;       /* > 0: a delta CRL on this base (DeltaCRLIndicator) */
	int64_t expired_kept_from; /* > 0: ExpiredCertsOnCRL with this time */
} sp_crl_spec;

/* Streaming builder: entries are DER-encoded one by one into one buffer,
 * then framed, wrapped in the TBSCertList and signed (crl_build.c). */
typedef struct sp_crl_builder sp_crl_builder;

sp_err sp_crl_builder_new(sp_crl_builder **out) SP_WARN_UNUSED;
void sp_crl_builder_free(sp_crl_builder *b); /* NULL is fine */

/* Append one revokedCertificates entry. serial: the store's upper-case hex
 * (positive, at most 20 bytes); reason SP_REASON_* (unspecified: no
 * reasonCode extension; removeFromCRL only when allow_remove). */
sp_err sp_crl_builder_add(sp_crl_builder *b, const char *serial_hex, int64_t revoked_at, int reason,
			  int allow_remove) SP_WARN_UNUSED;
int64_t sp_crl_builder_count(const sp_crl_builder *b);

/* Frame the entries, build the TBSCertList, sign with SHA-256 and return the
 * CertificateList DER (*der: OPENSSL_free). The entry buffer is released on
 * the way (the builder can only be finished once). */
sp_err sp_crl_builder_finish(sp_crl_builder *b, const sp_crl_spec *spec, uint8_t **der, size_t *len) SP_WARN_UNUSED;

/* DER of the Time (RFC 5280: UTCTime 1950..2049, else GeneralizedTime) for
 * t seconds since the epoch; returns its length (<= 17), 0 if the year is
 * outside 0..9999. Exposed for the unit test against ASN1_TIME_set. */
int sp_crl_encode_time(int64_t t, unsigned char out[24]);

/* The CRLNumber of an encoded CRL, without decoding its entries one by one
 * (a published file of a million entries is read in a few milliseconds).
 * SP_ERR_INPUT if it is not a CRL or has no CRLNumber. */
sp_err sp_crl_der_number(const uint8_t *der, size_t len, int64_t *number) SP_WARN_UNUSED;

#endif
