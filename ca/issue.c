/*
 * issue.c - the issuance path (docs/issuance.md):
 *   CSR -> proof of possession -> key limits -> names (issue_names.c)
 *   -> build TBS -> lint -> sign -> record certificate + request + audit
 *   in the caller's transaction -> the caller commits, and only then does
 *   the certificate leave the process.
 */
#include "ca/ca_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *curve_label(const char *group)
{
	if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
		return "P-256";
	if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
		return "P-384";
	return group;
}

static sp_err check_key(const sp_template *t, X509_REQ *req, EVP_PKEY *pk, int *is_ec)
{
	*is_ec = 0;
	if (EVP_PKEY_is_a(pk, "RSA")) {
		int bits = EVP_PKEY_get_bits(pk);
		if (!t->rsa_allowed)
			return sp_fail(SP_ERR_POLICY, "template %s does not allow RSA keys", t->name);
		if (bits < t->rsa_min_bits)
			return sp_fail(SP_ERR_POLICY, "RSA-%d key is too small: template %s requires at least %d bits",
				       bits, t->name, t->rsa_min_bits);
		if (bits > t->rsa_max_bits)
			return sp_fail(SP_ERR_POLICY, "RSA-%d key is larger than template %s allows (at most %d bits)",
				       bits, t->name, t->rsa_max_bits);
		return SP_OK;
	}
	if (EVP_PKEY_is_a(pk, "EC")) {
		char group[64] = "";
		int ptype = V_ASN1_UNDEF;
		const void *pval = NULL;
		X509_ALGOR *alg = NULL;
		/* RFC 5480 2.1.1: namedCurve only. OpenSSL maps explicit P-256
		 * parameters back to "prime256v1", so look at the encoding. */
		if (X509_PUBKEY_get0_param(NULL, NULL, NULL, &alg, X509_REQ_get_X509_PUBKEY(req)))
			X509_ALGOR_get0(NULL, &ptype, &pval, alg);
		if (ptype != V_ASN1_OBJECT)
			return sp_fail(SP_ERR_POLICY, "EC key with explicit curve parameters is not allowed (RFC 5480: "
						      "named curves only)");
		const char *label;
		if (!EVP_PKEY_get_group_name(pk, group, sizeof group, NULL))
			return sp_fail(SP_ERR_POLICY, "EC key with explicit curve parameters is not allowed");
		label = curve_label(group);
		for (int i = 0; i < t->n_ec_curves; i++)
			if (!strcmp(t->ec_curves[i], label)) {
				*is_ec = 1;
				return SP_OK;
			}
		if (t->n_ec_curves == 0)
			return sp_fail(SP_ERR_POLICY, "template %s allows RSA keys only (EC %s key refused)", t->name,
				       label);
		return sp_fail(SP_ERR_POLICY, "EC curve %s is not allowed by template %s", label, t->name);
	}
	return sp_fail(SP_ERR_POLICY, "key type %s is not allowed by template %s", EVP_PKEY_get0_type_name(pk),
		       t->name);
}

/* Template limits on the issuing chain itself (AMT: RSA <= 2048 CA keys,
 * no SHA-1 signatures up to and including the root). */
static sp_err check_issuer_chain(sp_ca *ca, const sp_template *t)
{
	int n = sk_X509_num(ca->chain);
	if (!t->issuer_rsa_only && !t->issuer_max_rsa_bits && !t->issuer_no_sha1)
		return SP_OK;
	for (int i = -1; i < n; i++) {
		X509 *c = i < 0 ? ca->cert : sk_X509_value(ca->chain, i);
		EVP_PKEY *k = X509_get0_pubkey(c);
		char cn[128] = "?";
		int md = NID_undef;
		X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_commonName, cn, sizeof cn);
		if (!k)
			return sp_fail_ossl(SP_ERR_CRYPTO, "CA certificate '%s': unreadable key", cn);
		if (t->issuer_rsa_only && !EVP_PKEY_is_a(k, "RSA"))
			return sp_fail(SP_ERR_POLICY,
				       "template %s needs an RSA key in every CA of the chain, and '%s' has a %s key",
				       t->name, cn, EVP_PKEY_get0_type_name(k));
		if (t->issuer_max_rsa_bits && EVP_PKEY_is_a(k, "RSA") && EVP_PKEY_get_bits(k) > t->issuer_max_rsa_bits)
			return sp_fail(SP_ERR_POLICY,
				       "template %s allows CA keys of at most RSA-%d in the chain, and '%s' has RSA-%d",
				       t->name, t->issuer_max_rsa_bits, cn, EVP_PKEY_get_bits(k));
		if (t->issuer_no_sha1 && OBJ_find_sigid_algs(X509_get_signature_nid(c), &md, NULL) && md == NID_sha1)
			return sp_fail(SP_ERR_POLICY, "template %s allows no SHA-1 in the chain, and '%s' is signed with SHA-1",
				       t->name, cn);
	}
	return SP_OK;
}

/* Copy the CSR's SubjectPublicKeyInfo bytes into the certificate: the same
 * key, without X509_set_pubkey()'s re-encoding through OpenSSL 3's encoder
 * framework (~160 us a certificate, shared/bench/README.md). */
static int copy_spki(X509 *x, X509_REQ *req)
{
	X509_PUBKEY *rp = X509_REQ_get_X509_PUBKEY(req);
	ASN1_OBJECT *alg = NULL;
	const unsigned char *pk = NULL;
	int pklen = 0, ptype = 0;
	X509_ALGOR *pa = NULL;
	const void *pval = NULL;
	void *pcopy = NULL;
	unsigned char *kcopy;

	if (!X509_PUBKEY_get0_param(&alg, &pk, &pklen, &pa, rp))
		return 0;
	X509_ALGOR_get0(NULL, &ptype, &pval, pa);
	if (ptype == V_ASN1_OBJECT)
		pcopy = OBJ_dup(pval);
	else if (ptype == V_ASN1_SEQUENCE)
		pcopy = ASN1_STRING_dup(pval);
	else
		ptype = ptype == V_ASN1_NULL ? V_ASN1_NULL : V_ASN1_UNDEF;
	if (!(kcopy = OPENSSL_memdup(pk, (size_t)pklen)))
		return 0;
	if (!X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), OBJ_dup(alg), ptype, pcopy, kcopy, pklen)) {
		OPENSSL_free(kcopy);
		return 0;
	}
	return 1;
}

static X509_EXTENSION *ext_eku(const sp_template *t)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	X509_EXTENSION *ext = NULL;
	if (!eku)
		return NULL;
	for (int i = 0; i < t->n_eku; i++) {
		ASN1_OBJECT *o = OBJ_txt2obj(t->eku_oid[i], 1);
		if (!o || !sk_ASN1_OBJECT_push(eku, o)) {
			ASN1_OBJECT_free(o);
			goto out;
		}
	}
	ext = X509V3_EXT_i2d(NID_ext_key_usage, 0, eku);
out:
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return ext;
}

/* Our own checks on the finished TBS before the CA key touches it: a bug in
 * the builder must not become a signed certificate. */
static sp_err lint(sp_ca *ca, const sp_template *t, X509 *x)
{
	const X509_NAME *subj = X509_get_subject_name(x);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	int64_t nb, na;
	sp_err rc;

	for (int i = 0; i < X509_NAME_entry_count(subj); i++)
		if ((rc = sp_name_check_string(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)),
					       "lint: subject")) != SP_OK)
			return rc;
	if (ASN1_STRING_length(serial) != 16 || serial->type != V_ASN1_INTEGER)
		return sp_fail(SP_ERR_INTERNAL, "lint: serial is not a positive 16-byte integer");
	if ((rc = sp_asn1_time_to_unix(X509_get0_notBefore(x), &nb)) != SP_OK ||
	    (rc = sp_asn1_time_to_unix(X509_get0_notAfter(x), &na)) != SP_OK)
		return rc;
	if (nb >= na || na > ca->not_after)
		return sp_fail(SP_ERR_INTERNAL, "lint: validity is outside the CA's");
	if (X509_get_ext_by_NID(x, NID_ext_key_usage, -1) < 0 || X509_get_ext_by_NID(x, NID_key_usage, -1) < 0 ||
	    X509_get_ext_by_NID(x, NID_authority_key_identifier, -1) < 0)
		return sp_fail(SP_ERR_INTERNAL, "lint: a required extension is missing");
	(void)t;
	return SP_OK;
}

static sp_err build(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_names *names, int is_ec,
		    X509 **out)
{
	X509 *x = X509_new();
	ASN1_INTEGER *serial = NULL;
	X509_EXTENSION *ku = NULL, *eku = NULL, *san = NULL, *ski = NULL;
	int64_t now = (int64_t)time(NULL), not_after;
	sp_err rc;

	*out = NULL;
	if (!x)
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	if (now >= ca->not_after) {
		rc = sp_fail(SP_ERR_POLICY, "the CA certificate has expired");
		goto out;
	}
	/* validity clipped to the CA's: a leaf must not outlive its issuer */
	not_after = now + (int64_t)t->validity_days * 86400;
	if (not_after > ca->not_after)
		not_after = ca->not_after;
	if ((rc = sp_random_serial(&serial)) != SP_OK)
		goto out;
	if (!X509_set_version(x, X509_VERSION_3) || !X509_set_serialNumber(x, serial) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) || !X509_set_subject_name(x, names->subject) ||
	    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)now) || !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after) ||
	    !copy_spki(x, req)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the certificate");
		goto out;
	}
	ku = sp_ext_key_usage(t->key_usage & ~(is_ec ? t->key_usage_rsa_only : 0u), t->key_usage_critical);
	eku = ext_eku(t);
	ski = sp_ext_ski_from_pubkey(X509_get_X509_PUBKEY(x));
	/* RFC 5280 4.2.1.6: critical when the subject is empty */
	if (sk_GENERAL_NAME_num(names->san) > 0)
		san = X509V3_EXT_i2d(NID_subject_alt_name, X509_NAME_entry_count(names->subject) == 0, names->san);
	if (!ku || !eku || !ski || (sk_GENERAL_NAME_num(names->san) > 0 && !san) || !sp_add_ext(x, ca->ext_bc) ||
	    !sp_add_ext(x, ku) || !sp_add_ext(x, eku) || !sp_add_ext(x, san) || !sp_add_ext(x, ski) ||
	    !sp_add_ext(x, ca->ext_aki) || !sp_add_ext(x, ca->ext_cdp) || !sp_add_ext(x, ca->ext_freshest) ||
	    !sp_add_ext(x, ca->ext_aia)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the certificate's extensions");
		goto out;
	}
	if ((rc = lint(ca, t, x)) != SP_OK)
		goto out;
	if (X509_sign(x, ca->key, EVP_get_digestbyname(t->hash)) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "signing the certificate");
		goto out;
	}
	*out = x;
	x = NULL;
	rc = SP_OK;
out:
	X509_free(x);
	ASN1_INTEGER_free(serial);
	X509_EXTENSION_free(ku);
	X509_EXTENSION_free(eku);
	X509_EXTENSION_free(san);
	X509_EXTENSION_free(ski);
	return rc;
}

static sp_err record(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_issue_opts *o, const sp_names *names,
		     X509 *x, unsigned char **der_out, int *der_len_out)
{
	sp_cert_row row;
	sp_request_row rq;
	unsigned char *der = NULL, *csr = NULL, md[32];
	int der_len, csr_len;
	char *subject = NULL, detail[512];
	int64_t id = 0;
	sp_err rc;

	memset(&row, 0, sizeof row);
	memset(&rq, 0, sizeof rq);
	if ((der_len = i2d_X509(x, &der)) <= 0 || (csr_len = i2d_X509_REQ(req, &csr)) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding the certificate");
		goto out;
	}
	if ((rc = sp_serial_hex(X509_get0_serialNumber(x), row.serial, sizeof row.serial)) != SP_OK)
		goto out;
	sp_sha256(der, (size_t)der_len, md);
	sp_hex(md, 32, row.sha256, 0);
	{
		unsigned int n = 20;
		if (!EVP_Digest(der, (size_t)der_len, md, &n, EVP_sha1(), NULL)) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "thumbprint");
			goto out;
		}
		sp_hex(md, 20, row.sha1, 0);
	}
	if (!(subject = sp_name_oneline(X509_get_subject_name(x)))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	row.subject = subject;
	row.sans = names->sans_text;
	row.template_name = t->name;
	if ((rc = sp_asn1_time_to_unix(X509_get0_notBefore(x), &row.not_before)) != SP_OK ||
	    (rc = sp_asn1_time_to_unix(X509_get0_notAfter(x), &row.not_after)) != SP_OK)
		goto out;
	row.issued_at = (int64_t)time(NULL);
	row.status = SP_CERT_VALID;
	row.revoke_reason = -1;
	row.der = der;
	row.der_len = (size_t)der_len;
	if (o->request_id > 0) {
		/* An approved queued request: its row already holds the CSR,
		 * the requester and the names; it only changes state. Checked
		 * before anything is written and read under the caller's write
		 * transaction, so no one can reject or issue it in between. */
		sp_request_row pending;
		if ((rc = sp_store_request_get(ca->store, o->request_id, &pending)) != SP_OK)
			goto out;
		if (pending.status != SP_REQ_PENDING && pending.status != SP_REQ_APPROVED)
			rc = sp_fail(SP_ERR_POLICY, "request %lld is %s", (long long)o->request_id,
				     pending.status == SP_REQ_REJECTED || pending.status == SP_REQ_ISSUED
					     ? sp_request_status_name(pending.status)
					     : "in an unknown state");
		else if (strcmp(pending.template_name, t->name) != 0)
			rc = sp_fail(SP_ERR_POLICY, "request %lld is for template %s, not %s", (long long)o->request_id,
				     pending.template_name, t->name);
		sp_request_row_clear(&pending);
		if (rc != SP_OK)
			goto out;
	}
	if ((rc = sp_store_cert_insert(ca->store, &row)) != SP_OK)
		goto out;

	rq.requester = (char *)(o->requester ? o->requester : "cli");
	if (o->request_id > 0) {
		id = o->request_id;
		if ((rc = sp_store_request_set_status(ca->store, id, SP_REQ_ISSUED, row.serial, NULL)) != SP_OK)
			goto out;
	} else {
		rq.template_name = t->name;
		rq.subject = subject;
		rq.status = SP_REQ_ISSUED;
		rq.cert_serial = row.serial;
		rq.detail = names->cli_text;
		rq.csr_der = csr;
		rq.csr_der_len = (size_t)csr_len;
		rq.created_at = rq.updated_at = row.issued_at;
		if ((rc = sp_store_request_insert(ca->store, &rq, &id)) != SP_OK)
			goto out;
	}
	snprintf(detail, sizeof detail, "template=%s request=%lld subject=%.300s", t->name, (long long)id, subject);
	rc = sp_store_audit_append(ca->store, rq.requester, "issue", row.serial, detail);
	if (rc == SP_OK) {
		/* the caller answers with these bytes: no second encoding */
		*der_out = der;
		*der_len_out = der_len;
		der = NULL;
	}
out:
	OPENSSL_free(der);
	OPENSSL_free(csr);
	free(subject);
	return rc;
}

struct sp_prepared {
	const sp_template *t;
	X509_REQ *req;   /* borrowed */
	sp_issue_opts o; /* strings borrowed from the caller's opts */
	sp_names names;
	int is_ec;
	X509 *cert;
	unsigned char *der; /* of the certificate recorded, once recorded */
	int der_len;
};

void sp_prepared_free(sp_prepared *p)
{
	if (!p)
		return;
	X509_free(p->cert);
	OPENSSL_free(p->der);
	sp_names_clear(&p->names);
	free(p);
}

sp_err sp_issue_prepare(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_issue_opts *o, sp_prepared **out)
{
	sp_prepared *p;
	EVP_PKEY *pk = NULL;
	sp_err rc;

	*out = NULL;
	if (!(p = calloc(1, sizeof *p)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	p->t = t;
	p->req = req;
	p->o = *o;
	if (!ca->key || !ca->cert) {
		rc = sp_fail(SP_ERR_USAGE, "the CA key is not loaded (a passphrase is needed to issue)");
		goto out;
	}
	if ((rc = check_issuer_chain(ca, t)) != SP_OK)
		goto out;
	if (X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
		rc = sp_fail(SP_ERR_INPUT, "CSR: unsupported version %ld", X509_REQ_get_version(req) + 1);
		goto out;
	}
	if ((rc = sp_req_get1_pubkey(req, &pk)) != SP_OK)
		goto out;
	/* proof of possession (RFC 2986 4.2): the requester holds the key.
	 * The default library context verifies: a parsed CSR carries one
	 * without algorithms (common/req_key.c). */
	if (X509_REQ_verify_ex(req, pk, NULL, NULL) != 1) {
		rc = sp_fail_ossl(SP_ERR_POLICY, "CSR signature does not verify (proof of possession failed)");
		goto out;
	}
	if ((rc = check_key(t, req, pk, &p->is_ec)) != SP_OK ||
	    (rc = sp_issue_names(t, req, o, ca->info.site_code, &p->names)) != SP_OK ||
	    (rc = build(ca, t, req, &p->names, p->is_ec, &p->cert)) != SP_OK)
		goto out;
	*out = p;
	p = NULL;
out:
	EVP_PKEY_free(pk);
	sp_prepared_free(p);
	return rc;
}

sp_err sp_issue_record(sp_ca *ca, sp_prepared *p, X509 **out)
{
	sp_err rc = SP_ERR_INTERNAL;

	*out = NULL;
	if (p->der) {
		OPENSSL_free(p->der); /* recorded before, in a transaction rolled back */
		p->der = NULL;
	}
	/* A serial collision (2^-126 odds, or a bad RNG) is caught by the
	 * store's UNIQUE constraint; sign again with a fresh serial. */
	for (int attempt = 0; attempt < 3; attempt++) {
		if (!p->cert && (rc = build(ca, p->t, p->req, &p->names, p->is_ec, &p->cert)) != SP_OK)
			return rc;
		if ((rc = record(ca, p->t, p->req, &p->o, &p->names, p->cert, &p->der, &p->der_len)) != SP_ERR_EXISTS)
			break;
		X509_free(p->cert);
		p->cert = NULL;
	}
	if (rc == SP_OK) {
		*out = p->cert;
		p->cert = NULL;
	}
	return rc;
}

const unsigned char *sp_prepared_der(const sp_prepared *p, size_t *len)
{
	*len = p && p->der ? (size_t)p->der_len : 0;
	return p ? p->der : NULL;
}

/* The certificate built by build() carries the CSR's key bytes undecoded
 * (copy_spki); parse it once more so that callers get an object whose public
 * key OpenSSL can use (X509_get0_pubkey, X509_check_private_key). */
static sp_err redecode(X509 **x)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *full;
	int len = i2d_X509(*x, &der);
	if (len <= 0)
		return sp_fail_ossl(SP_ERR_CRYPTO, "encoding the certificate");
	p = der;
	full = d2i_X509(NULL, &p, len);
	OPENSSL_free(der);
	if (!full || !X509_get0_pubkey(full)) {
		X509_free(full);
		return sp_fail_ossl(SP_ERR_CRYPTO, "decoding the issued certificate");
	}
	X509_free(*x);
	*x = full;
	return SP_OK;
}

sp_err sp_issue_in_txn(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_issue_opts *o, X509 **out)
{
	sp_prepared *p = NULL;
	sp_err rc;

	*out = NULL;
	if ((rc = sp_issue_prepare(ca, t, req, o, &p)) == SP_OK && (rc = sp_issue_record(ca, p, out)) == SP_OK)
		rc = redecode(out);
	sp_prepared_free(p);
	return rc;
}

sp_err sp_issue(sp_ca *ca, const sp_template *t, X509_REQ *req, const sp_issue_opts *o, X509 **out)
{
	X509 *x = NULL;
	sp_err rc;

	*out = NULL;
	if ((rc = sp_store_begin(ca->store)) != SP_OK)
		return rc;
	if ((rc = sp_issue_in_txn(ca, t, req, o, &x)) != SP_OK) {
		sp_store_rollback(ca->store);
		return rc;
	}
	if ((rc = sp_store_commit(ca->store)) != SP_OK) {
		sp_store_rollback(ca->store);
		X509_free(x);
		return rc;
	}
	*out = x;
	return SP_OK;
}
