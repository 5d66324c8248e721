/*
 * media_create.c - create a boot-media certificate, export it again, list
 * them (docs/media.md).
 *
 * The order is what makes failures safe (media.h): everything that can be
 * refused is checked, and the output's temp file exists, before a key is
 * generated; certificate, request, media row and audit row commit together;
 * the file is renamed into place after that commit, and the export is
 * recorded only once the file is there. So the store never claims an export
 * that did not happen, and no file ever holds a key whose certificate is
 * not recorded.
 */
#include "media/media.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* RFC 5280 ub-common-name: the name is also the certificate's CN. */
#define MAX_NAME 64

/* A user-given string (a path) for an audit row: printable ASCII only, so
 * that `audit list` cannot be made to drive a terminal. */
static void audit_text(const char *in, char *out, size_t outsz)
{
	size_t i = 0;
	for (; in && in[i] && i + 1 < outsz; i++)
		out[i] = (in[i] >= 0x20 && in[i] <= 0x7e) ? in[i] : '?';
	out[i] = '\0';
}

/* This CA's certificate and the issuers above it, borrowed (free with
 * sk_X509_free, not pop_free). */
static sp_err chain_of(sp_ca *ca, STACK_OF(X509) **out)
{
	STACK_OF(X509) *up = sp_ca_get0_chain(ca);
	STACK_OF(X509) *s = sk_X509_new_null();

	*out = NULL;
	if (!s || !sk_X509_push(s, sp_ca_get0_cert(ca))) {
		sk_X509_free(s);
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	}
	for (int i = 0; i < sk_X509_num(up); i++)
		if (!sk_X509_push(s, sk_X509_value(up, i))) {
			sk_X509_free(s);
			return sp_fail(SP_ERR_NOMEM, "out of memory");
		}
	*out = s;
	return SP_OK;
}

/* The request for a media certificate: CN = the name, signed with the key
 * just made. Names on the command line go through sp_issue_opts. */
static sp_err media_request(EVP_PKEY *key, const char *name, X509_REQ **out)
{
	X509_REQ *r = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	sp_err rc = SP_OK;

	*out = NULL;
	if (!r || !n || !X509_REQ_set_version(r, X509_REQ_VERSION_1) ||
	    !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0) ||
	    !X509_REQ_set_subject_name(r, n) || !X509_REQ_set_pubkey(r, key) ||
	    X509_REQ_sign(r, key, EVP_sha256()) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the request for media '%s'", name);
		X509_REQ_free(r);
		r = NULL;
	}
	X509_NAME_free(n);
	*out = r;
	return rc;
}

/* Build the PKCS#12, put it in place, record the export. `out` is consumed.
 * The caller has committed the certificate: when nothing could be written,
 * the message says what the store holds (`state`, e.g. "issued and recorded
 * as boot media"). */
static sp_err write_and_record(sp_ca *ca, EVP_PKEY *key, X509 *cert, const char *serial, const char *name,
			       const sp_pkcs12_opts *p12o, const char *actor, const char *state, sp_media_out *out)
{
	sp_store *st = sp_ca_get0_store(ca);
	STACK_OF(X509) *chain = NULL;
	uint8_t *der = NULL;
	size_t len = 0;
	char path[512], detail[768], why[1024];
	sp_err rc;

	audit_text(sp_media_out_path(out), path, sizeof path);
	if ((rc = chain_of(ca, &chain)) != SP_OK ||
	    (rc = sp_pkcs12_build(key, cert, chain, name, p12o, &der, &len)) != SP_OK) {
		sp_media_out_abort(out);
		goto not_written;
	}
	if ((rc = sp_media_out_commit(out, der, len)) != SP_OK)
		goto not_written;
	/* The file is in place: only now is the export true. */
	snprintf(detail, sizeof detail, "name=%s out=%s form=%s iter=%d", name, path, p12o->legacy ? "legacy" : "pbes2",
		 p12o->iter ? p12o->iter : SP_MEDIA_ITER_DEFAULT);
	if ((rc = sp_store_begin(st)) != SP_OK)
		goto not_recorded;
	if ((rc = sp_store_media_mark_exported(st, serial, (int64_t)time(NULL), p12o->legacy)) != SP_OK ||
	    (rc = sp_store_audit_append(st, actor, "media-export", serial, detail)) != SP_OK ||
	    (rc = sp_store_commit(st)) != SP_OK) {
		sp_store_rollback(st);
		goto not_recorded;
	}
	goto out;
not_recorded:
	snprintf(why, sizeof why, "%s", sp_last_error());
	rc = sp_fail(rc, "wrote %s for certificate %s, but recording the export failed: %s", path, serial, why);
	goto out;
not_written:
	snprintf(why, sizeof why, "%s", sp_last_error());
	rc = sp_fail(rc, "certificate %s is %s, but no file was written and no export recorded: %s", serial, state,
		     why);
out:
	OPENSSL_free(der);
	sk_X509_free(chain);
	return rc;
}

sp_err sp_media_create(sp_ca *ca, const sp_template *t, const sp_media_create_opts *o, sp_media_out *out,
		       char *serial)
{
	sp_store *st = sp_ca_get0_store(ca);
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	X509 *cert = NULL;
	uint8_t *arch = NULL;
	size_t arch_len = 0, name_len;
	sp_issue_opts io;
	sp_media_row row;
	char ser[41] = "", detail[512];
	const char *actor;
	sp_err rc;

	if (serial)
		serial[0] = '\0';
	if (!out) {
		rc = sp_fail(SP_ERR_INTERNAL, "media create: no output file");
		goto fail;
	}
	if (!o || !o->name || !*o->name) {
		rc = sp_fail(SP_ERR_INPUT, "a media certificate needs a name");
		goto fail;
	}
	actor = o->actor && *o->actor ? o->actor : "media";
	/* Everything that can be refused, before any key exists. */
	name_len = strlen(o->name);
	if (name_len > MAX_NAME) {
		rc = sp_fail(SP_ERR_INPUT, "media name is %zu characters long; at most %d (it is the certificate's CN)",
			     name_len, MAX_NAME);
		goto fail;
	}
	if ((rc = sp_name_check_ascii(o->name, name_len, "media name")) != SP_OK ||
	    (rc = sp_media_template_check(t)) != SP_OK || (rc = sp_pkcs12_opts_check(&o->p12)) != SP_OK)
		goto fail;
	if (!sp_ca_has_key(ca)) {
		rc = sp_fail(SP_ERR_USAGE, "the CA key is not loaded (a passphrase is needed to issue)");
		goto fail;
	}

	if ((rc = sp_media_keygen(t, &key)) != SP_OK || (rc = media_request(key, o->name, &req)) != SP_OK)
		goto fail;
	if (o->archive && (rc = sp_media_archive_key(sp_ca_get0_cert(ca), key, &arch, &arch_len)) != SP_OK)
		goto fail;

	/* certificate + request + "issue" audit row (sp_issue_in_txn), media
	 * row and "media-create" audit row: all or nothing */
	memset(&io, 0, sizeof io);
	io.dns = o->dns;
	io.n_dns = o->n_dns;
	io.requester = actor;
	if ((rc = sp_store_begin(st)) != SP_OK)
		goto fail;
	if ((rc = sp_issue_in_txn(ca, t, req, &io, &cert)) != SP_OK ||
	    (rc = sp_serial_hex(X509_get0_serialNumber(cert), ser, sizeof ser)) != SP_OK)
		goto rollback;
	memset(&row, 0, sizeof row);
	memcpy(row.serial, ser, sizeof ser);
	row.name = (char *)o->name;
	row.created_at = (int64_t)time(NULL);
	row.archived_key = arch;
	row.archived_key_len = arch_len;
	snprintf(detail, sizeof detail, "name=%s template=%s archived=%s", o->name, t->name, o->archive ? "yes" : "no");
	if ((rc = sp_store_media_insert(st, &row)) != SP_OK ||
	    (rc = sp_store_audit_append(st, actor, "media-create", ser, detail)) != SP_OK ||
	    (rc = sp_store_commit(st)) != SP_OK)
		goto rollback;
	if (serial)
		memcpy(serial, ser, sizeof ser);

	rc = write_and_record(ca, key, cert, ser, o->name, &o->p12, actor,
			      o->archive ? "issued and recorded as boot media (key archived: sitepki media export "
					   "writes it)"
					 : "issued and recorded as boot media (key not kept: revoke it and create "
					   "another)",
			      out);
	out = NULL; /* consumed */
	goto done;
rollback:
	sp_store_rollback(st);
fail:
	sp_media_out_abort(out);
done:
	OPENSSL_free(arch);
	X509_free(cert);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return rc;
}

/* Why a certificate must not be handed out again, or NULL. */
static const char *unusable(sp_store *st, const sp_cert_row *c, int64_t now, sp_err *rc)
{
	*rc = SP_OK;
	if (c->status == SP_CERT_REVOKED)
		return "revoked";
	if (c->status == SP_CERT_HOLD)
		return "on hold";
	/* the order media list uses for its state */
	*rc = sp_store_block_find(st, c->sha256, c->sha1, NULL);
	if (*rc == SP_OK)
		return "blocked";
	if (*rc != SP_ERR_NOTFOUND)
		return NULL;
	*rc = SP_OK;
	sp_clear_error(); /* "not blocked" is no error */
	if (c->not_after < now)
		return "expired";
	return NULL;
}

sp_err sp_media_export(sp_ca *ca, const char *serial, const sp_pkcs12_opts *p12, const char *actor,
		       sp_media_out *out)
{
	sp_store *st = sp_ca_get0_store(ca);
	sp_media_row m;
	sp_cert_row c;
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	const unsigned char *p;
	const char *why;
	sp_err rc;

	memset(&m, 0, sizeof m);
	memset(&c, 0, sizeof c);
	if (!out) {
		rc = sp_fail(SP_ERR_INTERNAL, "media export: no output file");
		goto fail;
	}
	if ((rc = sp_pkcs12_opts_check(p12)) != SP_OK)
		goto fail;
	if (!sp_ca_has_key(ca)) {
		rc = sp_fail(SP_ERR_USAGE, "the CA key is not loaded (a passphrase is needed to decrypt the archived key)");
		goto fail;
	}
	if ((rc = sp_store_media_get(st, serial, &m)) != SP_OK)
		goto fail;
	if (!m.archived_key) {
		rc = sp_fail(SP_ERR_NOTFOUND,
			     "boot-media certificate %s was created without --archive: its private key was never kept "
			     "and cannot be exported again (create a new one)",
			     m.serial);
		goto fail;
	}
	if ((rc = sp_store_cert_get(st, m.serial, &c)) != SP_OK)
		goto fail;
	if ((why = unusable(st, &c, (int64_t)time(NULL), &rc)) != NULL) {
		rc = sp_fail(SP_ERR_POLICY, "boot-media certificate %s is %s: it is not exported again", m.serial, why);
		goto fail;
	}
	if (rc != SP_OK)
		goto fail;
	p = c.der;
	if (!(cert = d2i_X509(NULL, &p, (long)c.der_len)) || p != c.der + c.der_len) {
		rc = sp_fail_ossl(SP_ERR_DB, "certificate %s in the store is corrupt", m.serial);
		goto fail;
	}
	if ((rc = sp_media_unarchive_key(ca, m.archived_key, m.archived_key_len, &key)) != SP_OK)
		goto fail;
	if (X509_check_private_key(cert, key) != 1) {
		rc = sp_fail_ossl(SP_ERR_DB, "the archived key of %s does not belong to its certificate", m.serial);
		goto fail;
	}
	rc = write_and_record(ca, key, cert, m.serial, m.name, p12, actor && *actor ? actor : "media",
			      "unchanged", out);
	out = NULL; /* consumed */
	goto done;
fail:
	sp_media_out_abort(out);
done:
	EVP_PKEY_free(key);
	X509_free(cert);
	sp_cert_row_clear(&c);
	sp_media_row_clear(&m);
	return rc;
}

/* ------------------------------------------------------------------ list */

typedef struct {
	sp_ca *ca;
	int64_t now;
	sp_media_info_cb cb;
	void *arg;
} list_ctx;

static int list_one(const sp_media_row *m, void *arg)
{
	list_ctx *lc = arg;
	sp_store *st = sp_ca_get0_store(lc->ca);
	sp_media_info info;
	sp_cert_row c;
	sp_err rc;
	int ret;

	if ((rc = sp_store_cert_get(st, m->serial, &c)) != SP_OK)
		return (int)rc;
	info.media = m;
	info.cert = &c;
	if (c.status == SP_CERT_REVOKED)
		info.state = "revoked";
	else if (c.status == SP_CERT_HOLD)
		info.state = "hold";
	else if ((rc = sp_store_block_find(st, c.sha256, c.sha1, NULL)) == SP_OK)
		info.state = "blocked";
	else if (rc != SP_ERR_NOTFOUND)
		goto out;
	else if (c.not_after < lc->now)
		info.state = "expired";
	else if (c.not_after - lc->now <= SP_MEDIA_EXPIRING_SECS)
		info.state = "expiring";
	else
		info.state = "valid";
	rc = SP_OK;
	sp_clear_error(); /* the block look-up's "not blocked" */
	/* the list has no use for the DER */
	free(c.der);
	c.der = NULL;
	c.der_len = 0;
	ret = lc->cb(&info, lc->arg);
	sp_cert_row_clear(&c);
	return ret;
out:
	sp_cert_row_clear(&c);
	return (int)rc;
}

sp_err sp_media_list(sp_ca *ca, int64_t now, sp_media_info_cb cb, void *arg)
{
	list_ctx lc = {ca, now ? now : (int64_t)time(NULL), cb, arg};
	if (!cb)
		return sp_fail(SP_ERR_INPUT, "media list: no callback");
	return sp_store_media_list(sp_ca_get0_store(ca), list_one, &lc);
}
