/*
 * signer_int.h - the signer's wire format (docs/signer.md), private to
 * enroll/ and its tests.
 *
 * One message = one SOCK_SEQPACKET packet (the kernel keeps the boundaries):
 *
 *   header (12 bytes, big-endian):
 *     u32 magic "SPSG" | u8 version (1) | u8 type | u16 reserved (0) | u32 total length
 *   then fields, each:  u16 tag | u32 length | length bytes
 *
 * sp_signer_msg_parse() is the one parser both processes use. Writing goes
 * through sp_signer_wbuf, which applies the same per-tag limits so a sender
 * cannot build what the receiver would refuse.
 */
#ifndef SITEPKI_ENROLL_SIGNER_INT_H
#define SITEPKI_ENROLL_SIGNER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "enroll/signer.h"

#define SP_SIGNER_MAGIC 0x53505347u /* "SPSG" */
#define SP_SIGNER_VERSION 1
#define SP_SIGNER_HDR_LEN 12
#define SP_SIGNER_FIELD_HDR_LEN 6
/* the largest message: a CERT answer, with the certificate and its PKCS#7 */
#define SP_SIGNER_MAX_MSG (160 * 1024)
#define SP_SIGNER_MAX_ERRMSG 1023 /* longer detail messages are cut by the sender */
#define SP_SIGNER_MAX_SERIAL 40   /* hex digits of a 20-octet serial (RFC 5280 4.1.2.2) */
/* a certs-only PKCS#7 around one certificate: the certificate and ~30 bytes */
#define SP_SIGNER_MAX_P7 (SP_MAX_CERT_BYTES + 256)
/* Requests the signer records in one transaction (group commit). */
#define SP_SIGNER_BATCH 16
/* Requests checked and signed but not yet committed, at most: past this the
 * signer stops reading and the parent's sends wait (back-pressure). */
#define SP_SIGNER_QUEUE (2 * SP_SIGNER_BATCH)

/* message types */
enum {
	SP_SG_READY = 1, /* signer -> parent: CA opened, serving; no fields */
	SP_SG_ISSUE = 2, /* parent -> signer */
	SP_SG_CERT = 3,  /* signer -> parent: the issued certificate */
	SP_SG_ERROR = 4, /* signer -> parent: refusal or failure */
	SP_SG_TYPE_MAX = 4
};

/* field tags */
enum {
	SP_SGT_TEMPLATE = 1,  /* ISSUE, required: template name */
	SP_SGT_CSR = 2,       /* ISSUE, required: PKCS#10 (DER or PEM) */
	SP_SGT_DNS = 3,       /* ISSUE, 0..32 times: dNSName from the context */
	SP_SGT_UPN = 4,       /* ISSUE, optional */
	SP_SGT_SITE = 5,      /* ISSUE, optional: site code */
	SP_SGT_REQUESTER = 6, /* ISSUE, required */
	SP_SGT_CERT = 7,      /* CERT, required: certificate DER */
	SP_SGT_ERR_CODE = 8,  /* ERROR, required: u32 sp_err, not SP_OK */
	SP_SGT_ERR_MSG = 9,   /* ERROR, required: one-line message */
	SP_SGT_PKCS7 = 10,    /* CERT, required: certs-only PKCS#7 (DER) of the certificate */
	SP_SGT_SERIAL = 11,   /* CERT, required: its serial, upper-case hex as in the store */
	SP_SGT_MAX = 11
};

/* A parsed message. Strings are copied and NUL-terminated; csr and cert
 * point into the buffer that was parsed (borrowed). */
typedef struct {
	uint8_t type;
	char template_name[SP_SIGNER_MAX_STR + 1];
	const uint8_t *csr;
	size_t csr_len;
	char dns[SP_SIGNER_MAX_DNS][SP_SIGNER_MAX_STR + 1];
	size_t n_dns;
	char upn[SP_SIGNER_MAX_STR + 1];   /* "" when absent */
	char site[SP_SIGNER_MAX_STR + 1];  /* "" when absent */
	char requester[SP_SIGNER_MAX_STR + 1];
	const uint8_t *cert;
	size_t cert_len;
	const uint8_t *p7;
	size_t p7_len;
	char serial[SP_SIGNER_MAX_SERIAL + 1];
	uint32_t err_code;
	char err_msg[SP_SIGNER_MAX_ERRMSG + 1];
} sp_signer_msg;

/* Parse one whole message. Refused (SP_ERR_PROTOCOL, one line naming the
 * offset or tag): shorter than the header or longer than SP_SIGNER_MAX_MSG,
 * wrong magic/version/reserved, unknown type, total length != len, a field
 * header or body past the end, a tag unknown or not allowed for the type, a
 * repeated tag (dNSName: more than 32), an empty or over-long value, a NUL
 * inside a string, a u32 whose length is not 4, an error code that is not a
 * known failure code, a required field missing. */
sp_err sp_signer_msg_parse(const uint8_t *buf, size_t len, sp_signer_msg *m) SP_WARN_UNUSED;

/* Message writer over a caller's buffer. The first failure sticks (its
 * message is set once) and later puts do nothing. */
typedef struct {
	uint8_t *buf;
	size_t cap, len;
	sp_err err;
} sp_signer_wbuf;

void sp_signer_wbuf_init(sp_signer_wbuf *w, uint8_t *buf, size_t cap, uint8_t type);
void sp_signer_put_bytes(sp_signer_wbuf *w, uint16_t tag, const void *p, size_t n);
void sp_signer_put_str(sp_signer_wbuf *w, uint16_t tag, const char *s);
void sp_signer_put_u32(sp_signer_wbuf *w, uint16_t tag, uint32_t v);
/* Write the total length into the header; *len is the message size. */
sp_err sp_signer_wbuf_finish(sp_signer_wbuf *w, size_t *len) SP_WARN_UNUSED;

/* Transport (signer_io.c). One message per packet; len 0 from recv is the
 * peer closing; an over-long packet is SP_ERR_PROTOCOL and dropped whole. */
sp_err sp_signer_send(int fd, const uint8_t *buf, size_t len) SP_WARN_UNUSED;
sp_err sp_signer_recv(int fd, uint8_t *buf, int flags, size_t *len) SP_WARN_UNUSED;
/* An ERROR message carrying `code` and the current detail message (or the
 * code's name); its length, 0 if it could not be built. */
size_t sp_signer_build_error(uint8_t *buf, sp_err code);

/* The signer process (signer_child.c), run in the child right after the
 * fork, with the child's end of the socketpair. Never returns. */
void sp_signer_child_main(int sock, const char *home, const sp_secret *pass) __attribute__((noreturn));

/* Test hooks: the parent's socket and the child's pid. */
int sp_signer_test_fd(const sp_signer *s);
pid_t sp_signer_test_pid(const sp_signer *s);

#endif
