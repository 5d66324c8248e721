/*
 * serve.c - the enrollment service's process: signer, CA handle, server
 * certificate, listeners, signals (see serve.h).
 */
#include "enroll/serve.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca.h"
#include "enroll/est.h"
#include "enroll/http_server.h"
#include "enroll/signer.h"

#define SERVER_CERT "server.pem"
#define SERVER_KEY "server-key.pem"
#define SERVER_RENEW_DAYS 14 /* re-issue the self-issued certificate this close to its end */

typedef struct {
	sp_signer *signer;
	pthread_t main_thread;
	int dead; /* the signer is gone (atomic) */
} signer_link;

/* The issue function the EST handler calls: the signer process. When the
 * signer is gone the service cannot issue anything more: it says so once
 * and wakes the main thread, which shuts down (systemd restarts it). */
static sp_err issue_via_signer(void *arg, const char *template_name, const uint8_t *csr, size_t csr_len,
			       const sp_issue_opts *o, sp_issued *out)
{
	signer_link *l = arg;
	sp_err rc;

	if (__atomic_load_n(&l->dead, __ATOMIC_SEQ_CST))
		return sp_fail(SP_ERR_IO, "the signer process is gone; the service is shutting down");
	rc = sp_signer_issue(l->signer, template_name, csr, csr_len, o, out);
	if (rc == SP_ERR_IO && !__atomic_exchange_n(&l->dead, 1, __ATOMIC_SEQ_CST))
		pthread_kill(l->main_thread, SIGTERM);
	return rc;
}

/* ------------------------------------------------- server certificate */

/* An EC P-256 key and a CSR for the configured server names. */
static sp_err make_server_csr(const char *names, EVP_PKEY **key, uint8_t **der, size_t *der_len)
{
	X509_REQ *req = NULL;
	X509_NAME *subj = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext = NULL;
	GENERAL_NAMES *san = NULL;
	char *copy = NULL, *tok, *save = NULL, *p;
	unsigned char *buf = NULL;
	int n;
	sp_err rc;

	*key = NULL;
	*der = NULL;
	if (!(copy = strdup(names)) || !(san = GENERAL_NAMES_new()) || !(req = X509_REQ_new()) ||
	    !(subj = X509_NAME_new()) || !(exts = sk_X509_EXTENSION_new_null())) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (p = copy; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!g || !s || !ASN1_STRING_set(s, tok, -1)) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(s);
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (!sk_GENERAL_NAME_push(san, g)) {
			GENERAL_NAME_free(g);
			rc = sp_fail(SP_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (sk_GENERAL_NAME_num(san) == 1 &&
		    !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)tok, -1, -1, 0)) {
			rc = sp_fail_ossl(SP_ERR_INPUT, "server name %s", tok);
			goto out;
		}
	}
	if (sk_GENERAL_NAME_num(san) == 0) {
		rc = sp_fail(SP_ERR_INPUT, "no server name for the HTTPS certificate");
		goto out;
	}
	if (!(*key = EVP_EC_gen("P-256"))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "generating the server key");
		goto out;
	}
	if (!(ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, san)) || !sk_X509_EXTENSION_push(exts, ext)) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "server CSR extensions");
		goto out;
	}
	ext = NULL;
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_subject_name(req, subj) || !X509_REQ_set_pubkey(req, *key) ||
	    !X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, *key, EVP_sha256()) ||
	    (n = i2d_X509_REQ(req, &buf)) <= 0) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "building the server CSR");
		goto out;
	}
	if (!(*der = malloc((size_t)n))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*der, buf, (size_t)n);
	*der_len = (size_t)n;
	rc = SP_OK;
out:
	if (rc != SP_OK) {
		EVP_PKEY_free(*key);
		*key = NULL;
	}
	OPENSSL_free(buf);
	free(copy);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(san);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return rc;
}

/* PEM of cert (DER) followed by this CA and the issuers above it. */
static sp_err chain_pem(sp_ca *ca, const uint8_t *der, size_t len, char **pem, size_t *pem_len)
{
	X509 *x = NULL;
	sp_err rc;

	if ((rc = sp_cert_parse(der, len, &x)) != SP_OK)
		return rc;
	rc = sp_ca_chain_pem(ca, x, 1, pem, pem_len);
	X509_free(x);
	return rc;
}

static sp_err key_pem(EVP_PKEY *key, char **pem, size_t *len)
{
	BIO *b = BIO_new(BIO_s_secmem());
	BUF_MEM *m = NULL;
	sp_err rc = SP_OK;

	*pem = NULL;
	if (!b || !PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) || BIO_get_mem_ptr(b, &m) <= 0 ||
	    !(*pem = malloc(m->length + 1))) {
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding the server key");
	} else {
		memcpy(*pem, m->data, m->length);
		(*pem)[m->length] = '\0';
		*len = m->length;
	}
	BIO_free(b); /* secure memory BIO: cleared on free */
	return rc;
}

/* 1 if the file holds a certificate valid for at least SERVER_RENEW_DAYS. */
static int cert_fresh(const uint8_t *pem, size_t len)
{
	X509 *x = NULL;
	int64_t end = 0;
	int fresh;

	if (sp_cert_parse(pem, len, &x) != SP_OK)
		return 0;
	fresh = sp_asn1_time_to_unix(X509_get0_notAfter(x), &end) == SP_OK &&
		end > (int64_t)time(NULL) + SERVER_RENEW_DAYS * 86400;
	X509_free(x);
	return fresh;
}

/* The configured certificate and key, or the self-issued pair in
 * <home>/serve, issued (again) when missing or close to its end. */
static sp_err server_identity(const char *home, const sp_serve_config *cfg, sp_ca *ca, signer_link *l,
			      char **cert_pem, char **key_pem_out, FILE *log)
{
	char dir[4096], cpath[4096], kpath[4096];
	uint8_t *c = NULL, *k = NULL, *csr = NULL;
	size_t clen = 0, klen = 0, csr_len = 0, pem_len = 0, kpem_len = 0;
	sp_issued cert = {0};
	EVP_PKEY *key = NULL;
	char *pem = NULL, *kpem = NULL;
	sp_issue_opts o;
	sp_err rc;

	*cert_pem = *key_pem_out = NULL;
	if (cfg->tls_cert) {
		snprintf(cpath, sizeof cpath, "%s", cfg->tls_cert);
		snprintf(kpath, sizeof kpath, "%s", cfg->tls_key);
	} else {
		if ((rc = sp_path_join(dir, sizeof dir, home, SP_SERVE_DIR)) != SP_OK ||
		    (rc = sp_path_join(cpath, sizeof cpath, dir, SERVER_CERT)) != SP_OK ||
		    (rc = sp_path_join(kpath, sizeof kpath, dir, SERVER_KEY)) != SP_OK)
			return rc;
	}
	if (cfg->tls_cert || (sp_path_exists(cpath) && sp_path_exists(kpath))) {
		if ((rc = sp_file_check_private(kpath)) != SP_OK ||
		    (rc = sp_file_read(cpath, 1 << 20, &c, &clen)) != SP_OK ||
		    (rc = sp_file_read(kpath, 1 << 20, &k, &klen)) != SP_OK)
			goto out;
		if (cfg->tls_cert || cert_fresh(c, clen))
			goto found;
		OPENSSL_cleanse(k, klen);
		free(k);
		free(c);
		k = c = NULL;
	}
	/* first start (or renewal): a key here, the certificate from the signer */
	if ((rc = sp_dir_ensure(dir, 0700)) != SP_OK ||
	    (rc = make_server_csr(cfg->server_names, &key, &csr, &csr_len)) != SP_OK)
		goto out;
	memset(&o, 0, sizeof o);
	o.requester = "serve:self";
	if ((rc = sp_signer_issue(l->signer, "web-server", csr, csr_len, &o, &cert)) != SP_OK ||
	    (rc = chain_pem(ca, cert.cert, cert.cert_len, &pem, &pem_len)) != SP_OK ||
	    (rc = key_pem(key, &kpem, &kpem_len)) != SP_OK ||
	    (rc = sp_file_write_atomic(kpath, kpem, kpem_len, 0600, 1)) != SP_OK ||
	    (rc = sp_file_write_atomic(cpath, pem, pem_len, 0644, 1)) != SP_OK)
		goto out;
	fprintf(log, "sitepki serve: issued the HTTPS server certificate %s for %s\n", cpath, cfg->server_names);
	c = (uint8_t *)pem;
	clen = pem_len;
	k = (uint8_t *)kpem;
	klen = kpem_len;
	pem = kpem = NULL;
found:
	/* NUL-terminated copies: libmicrohttpd takes C strings */
	if (!(*cert_pem = malloc(clen + 1)) || !(*key_pem_out = malloc(klen + 1))) {
		free(*cert_pem);
		*cert_pem = NULL;
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	memcpy(*cert_pem, c, clen);
	(*cert_pem)[clen] = '\0';
	memcpy(*key_pem_out, k, klen);
	(*key_pem_out)[klen] = '\0';
	rc = SP_OK;
out:
	if (k)
		OPENSSL_cleanse(k, klen);
	if (kpem)
		OPENSSL_cleanse(kpem, kpem_len);
	free(k);
	free(kpem);
	free(c);
	free(pem);
	free(csr);
	sp_issued_clear(&cert);
	EVP_PKEY_free(key);
	return rc;
}

/* The path part of the CA's base URL ("http://host:port/pki" -> "/pki"). */
static const char *url_path(const char *url)
{
	const char *p = strstr(url, "://");
	const char *slash;

	if (!p)
		return "";
	slash = strchr(p + 3, '/');
	return slash ? slash : "";
}

/* ------------------------------------------------------------------ run */

sp_err sp_serve_run(const char *home, const sp_serve_config *cfg, const sp_secret *pass)
{
	signer_link link;
	sp_ca *ca = NULL;
	sp_est *est = NULL;
	sp_http *http = NULL;
	sp_http_opts ho;
	char *cert_pem = NULL, *key_pem = NULL, *trust = NULL, publish[4096], prefix[1024];
	size_t trust_len = 0;
	FILE *log = stderr;
	sigset_t stop;
	int sig = 0, https_port = -1, http_port = -1, i;
	sp_err rc, rc2;

	memset(&link, 0, sizeof link);
	link.main_thread = pthread_self();
	/* 1. the signer first: fork() must not copy a process with threads */
	if ((rc = sp_signer_start(home, pass, &link.signer)) != SP_OK)
		return rc;
	if ((rc = sp_ca_open(home, NULL, &ca)) != SP_OK)
		goto out;
	if (cfg->log_file && !(log = fopen(cfg->log_file, "ae"))) {
		log = stderr;
		rc = sp_fail(SP_ERR_IO, "log file %s: %s", cfg->log_file, strerror(errno));
		goto out;
	}
	if ((rc = server_identity(home, cfg, ca, &link, &cert_pem, &key_pem, log)) != SP_OK ||
	    (rc = sp_cert_to_pem(sp_ca_get0_cert(ca), &trust, &trust_len)) != SP_OK ||
	    (rc = sp_est_new(ca, cfg, issue_via_signer, &link, &est)) != SP_OK ||
	    (rc = sp_path_join(publish, sizeof publish, home, "publish")) != SP_OK)
		goto out;
	snprintf(prefix, sizeof prefix, "%s", url_path(sp_ca_get0_info(ca)->base_url));
	for (i = (int)strlen(prefix) - 1; i >= 0 && prefix[i] == '/'; i--)
		prefix[i] = '\0';

	/* 2. signals: every thread libmicrohttpd starts inherits this mask,
	 * so SIGTERM/SIGINT reach only sigwait() below */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&ho, 0, sizeof ho);
	ho.cfg = cfg;
	ho.est = est;
	ho.publish_dir = publish;
	ho.publish_prefix = prefix;
	ho.tls_cert_pem = cert_pem;
	ho.tls_key_pem = key_pem;
	ho.trust_pem = trust;
	ho.log = log;
	rc = sp_http_start(&ho, &http, &https_port, &http_port);
	OPENSSL_cleanse(key_pem, strlen(key_pem));
	if (rc != SP_OK)
		goto out;
	printf("sitepki serve: https=%s:%d http=%s:%d est=https://%s:%d/.well-known/est/\n", cfg->bind, https_port,
	       cfg->bind, http_port, cfg->bind, https_port);
	fflush(stdout);

	for (;;) {
		if (sigwait(&stop, &sig) != 0)
			continue;
		if (sig == SIGHUP) /* nothing to reload yet: logged, not fatal */
			continue;
		break;
	}
	fprintf(log, "sitepki serve: %s: finishing requests in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	fflush(log);
	sp_http_quiesce(http);
	for (i = 0; i < SP_SERVE_DRAIN_SECONDS * 50 && sp_http_active(http) > 0; i++)
		usleep(20000);
	if (__atomic_load_n(&link.dead, __ATOMIC_SEQ_CST))
		rc = sp_fail(SP_ERR_IO, "the signer process stopped; the service stopped with it");
out:
	sp_http_stop(http);
	sp_est_free(est);
	rc2 = sp_signer_stop(link.signer);
	if (rc == SP_OK && rc2 != SP_OK && !__atomic_load_n(&link.dead, __ATOMIC_SEQ_CST))
		rc = rc2;
	sp_ca_close(ca);
	if (key_pem)
		OPENSSL_cleanse(key_pem, strlen(key_pem));
	free(key_pem);
	free(cert_pem);
	free(trust);
	if (log != stderr) {
		fclose(log);
	}
	if (rc == SP_OK)
		fprintf(stderr, "sitepki serve: stopped cleanly\n");
	return rc;
}
