/* signer_io.c - moving one signer message over the socketpair, for both
 * processes (signer.c is the parent, signer_child.c the signer). */
#include "enroll/signer_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

sp_err sp_signer_send(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;
	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return sp_fail(SP_ERR_IO, "signer socket: send: %s", strerror(errno));
	if ((size_t)n != len)
		return sp_fail(SP_ERR_IO, "signer socket: short send (%zd of %zu bytes)", n, len);
	return SP_OK;
}

/* MSG_TRUNC makes a SEQPACKET recv return the packet's real length (Linux
 * >= 3.4), so an over-long one is seen as such and dropped whole: the
 * channel stays in step. */
sp_err sp_signer_recv(int fd, uint8_t *buf, int flags, size_t *len)
{
	ssize_t n;
	*len = 0;
	do
		n = recv(fd, buf, SP_SIGNER_MAX_MSG, flags | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		sp_err rc = sp_fail(SP_ERR_IO, "signer socket: recv: %s", strerror(e));
		errno = e; /* the caller tells EAGAIN from a broken socket */
		return rc;
	}
	if ((size_t)n > SP_SIGNER_MAX_MSG)
		return sp_fail(SP_ERR_PROTOCOL, "signer message of %zd bytes is over the %d-byte limit", n,
			       SP_SIGNER_MAX_MSG);
	*len = (size_t)n;
	return SP_OK;
}

size_t sp_signer_build_error(uint8_t *buf, sp_err code)
{
	sp_signer_wbuf w;
	char msg[SP_SIGNER_MAX_ERRMSG + 1];
	size_t len = 0;

	snprintf(msg, sizeof msg, "%s", *sp_last_error() ? sp_last_error() : sp_err_name(code));
	sp_signer_wbuf_init(&w, buf, SP_SIGNER_MAX_MSG, SP_SG_ERROR);
	sp_signer_put_u32(&w, SP_SGT_ERR_CODE, code == SP_OK ? SP_ERR_INTERNAL : code);
	sp_signer_put_str(&w, SP_SGT_ERR_MSG, msg);
	if (sp_signer_wbuf_finish(&w, &len) != SP_OK)
		return 0; /* cannot happen: both fields are within their limits */
	return len;
}
