/*
 * signer.h - the enrollment module's key holder: a separate signer process.
 *
 * enroll/ is the enrollment service (EST over HTTPS, RFC 7030; client
 * authentication; the approval queue; CRL/AIA distribution). Its design keeps
 * the CA private key out of the process that parses network input, the way
 * OpenBSD's acme-client splits its work: sp_signer_start() forks a signer
 * process that opens the CA home with the passphrase and then only answers
 * typed issue requests over a socketpair(AF_UNIX, SOCK_SEQPACKET). A bug in
 * TLS, HTTP, base64 or PKCS#10 handling in the parent can ask for
 * certificates (which are checked against the template and the name policy,
 * recorded and audited like any other) but cannot read the key.
 *
 * The wire format (docs/signer.md) is parsed by one strict function shared by
 * both processes (enroll/signer_proto.c); every length is checked, and the
 * signer answers a malformed message with an error and keeps serving.
 *
 * Process rules: start the signer before the service creates any thread
 * (fork() copies only the calling thread, so a lock another thread holds
 * would stay held in the child). The handle may then be shared by threads:
 * requests are serialised on it, and the signer handles one at a time.
 */
#ifndef SITEPKI_ENROLL_SIGNER_H
#define SITEPKI_ENROLL_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "ca/ca.h"
#include "common/common.h"

/* Limits of one issue request (each also enforced by the signer). */
#define SP_SIGNER_MAX_STR 255 /* template name, each dNSName, UPN, site code, requester */
#define SP_SIGNER_MAX_DNS 32  /* dNSNames from the request context */
/* the CSR is bounded by SP_MAX_CSR_BYTES, the certificate by SP_MAX_CERT_BYTES */

typedef struct sp_signer sp_signer; /* the parent's handle */

/* Fork a signer process. The child moves its end of the socketpair to fd 3,
 * points fds 0 and 1 (and 2 if it was closed) at /dev/null, closes every
 * other fd, makes itself non-dumpable, opens the CA home `home` with `pass`,
 * wipes the passphrase and reports ready; it then serves requests until the
 * parent closes its end or it receives SIGTERM (a request in progress is
 * finished and answered first). It ignores SIGPIPE, SIGINT and SIGHUP: the
 * parent decides when it stops.
 *
 * The bytes of pass->buf are wiped in the parent before this returns, on
 * success and on failure; the caller still owns the sp_secret and releases
 * it with sp_secret_wipe() as usual.
 *
 * Errors: the CA's own (SP_ERR_AUTH for a wrong passphrase, SP_ERR_NOTFOUND /
 * SP_ERR_PERM / SP_ERR_DB for a bad home, ...) with its one-line message;
 * SP_ERR_IO when the socketpair or fork fails or the child dies while
 * starting. On failure the child has been reaped and *out is NULL. On
 * success *out belongs to the caller: release it with sp_signer_stop(). */
sp_err sp_signer_start(const char *home, const sp_secret *pass, sp_signer **out) SP_WARN_UNUSED;

/* What an issuance hands back: the certificate (DER), its serial (upper-case
 * hex, as the store keys it) and the certs-only PKCS#7 holding it (an EST
 * answer before its base64). The signer, which has the certificate as an
 * object, builds all three, so the service answers without parsing it. */
typedef struct {
	uint8_t *cert; /* malloc'd */
	size_t cert_len;
	uint8_t *p7; /* malloc'd */
	size_t p7_len;
	char serial[41];
} sp_issued;

/* Free and empty. NULL is fine. */
void sp_issued_clear(sp_issued *x);

/* Fill *out from the certificate x: its DER (a copy of der when the caller
 * has it, else encoded), its serial and the certs-only PKCS#7 around it.
 * On failure *out is empty. */
sp_err sp_issued_fill(sp_issued *out, X509 *x, const uint8_t *der, size_t der_len) SP_WARN_UNUSED;

/* Ask the signer to issue a certificate from the template `template_name`
 * for the CSR `csr_der` (PEM is accepted too: the signer uses sp_req_parse).
 * From `o` it takes dns[]/n_dns, upn and site_code (names the request
 * context supplies, as the CLI's --dns/--upn/--site) and requester (required:
 * recorded with the request, e.g. "est:token:3" or "est:cert:<serial>").
 * The signer runs sp_template_find + sp_req_parse + sp_issue, so the
 * certificate is recorded and committed before the answer arrives.
 *
 * On success *out holds the certificate (DER), its serial and the
 * certs-only PKCS#7 around it (see sp_issued); release it with
 * sp_issued_clear. On failure *out is empty and:
 *   - the signer's refusal comes back as the signer's code and its one-line
 *     message (SP_ERR_POLICY, SP_ERR_INPUT, SP_ERR_NOTFOUND, ...), exactly as
 *     sp_issue would have reported it in-process;
 *   - SP_ERR_USAGE / SP_ERR_INPUT for arguments over the limits above (no
 *     message is sent);
 *   - SP_ERR_IO when the signer is gone (the handle is then unusable: stop
 *     it and start another);
 *   - SP_ERR_PROTOCOL for a malformed answer. */
sp_err sp_signer_issue(sp_signer *s, const char *template_name, const uint8_t *csr_der, size_t csr_len,
		       const sp_issue_opts *o, sp_issued *out) SP_WARN_UNUSED;

/* Close the socket, wait for the child to exit (SIGKILL after 5 s), free
 * the handle. SP_OK when the child exited with status 0; SP_ERR_INTERNAL
 * naming the exit status or signal otherwise (a crash, a sanitizer report,
 * the kill). NULL is fine (SP_OK). */
sp_err sp_signer_stop(sp_signer *s);

#endif
