/* signer.c - the parent's handle to the signer process (signer.h); the
 * signer itself is signer_child.c.
 *
 * Requests are pipelined: a caller sends its request at once and waits for
 * its answer, while other callers send theirs; the signer answers in the
 * order requests came (docs/signer.md), so answers are matched to callers
 * first in, first out. Both sides parse every message with
 * sp_signer_msg_parse(). */
#include "enroll/signer_int.h"
#include "enroll/est.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SP_SIGNER_STOP_WAIT_MS 5000

/* A request waiting for its answer. */
typedef struct sg_wait {
	uint8_t *msg;   /* the request; then its answer (SP_SIGNER_MAX_MSG bytes) */
	size_t len;     /* request length; then answer length */
	sp_err rc;      /* transport result */
	char err[256];  /* its message: sp_last_error() is per thread */
	int done;
	pthread_cond_t cv; /* signalled when done, or when it may read */
	struct sg_wait *next;
} sg_wait;

struct sp_signer {
	int fd;
	pid_t pid;
	/* send_lock is held from queueing a request to the end of its send, so
	 * the queue is in the order the signer receives (and answers) them */
	pthread_mutex_t send_lock;
	pthread_mutex_t lock; /* everything below, and each waiter's cv */
	sg_wait *head, *tail; /* sent, answer not yet read; oldest first */
	int reading;          /* a caller is reading the next answer */
	int broken;           /* the channel failed: no further requests */
	uint8_t *buf;         /* the reader's receive buffer; start-up messages */
};

int sp_signer_test_fd(const sp_signer *s)
{
	return s->fd;
}

pid_t sp_signer_test_pid(const sp_signer *s)
{
	return s->pid;
}

/* ----------------------------------------------------------- the parent */

/* Reap the child: wait up to SP_SIGNER_STOP_WAIT_MS, then SIGKILL. */
static sp_err reap(pid_t pid)
{
	int st = 0, waited = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return sp_fail(SP_ERR_INTERNAL, "signer process %ld: waitpid: %s", (long)pid, strerror(errno));
		if (waited >= SP_SIGNER_STOP_WAIT_MS) {
			kill(pid, SIGKILL);
			while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
				;
			if (r != pid)
				return sp_fail(SP_ERR_INTERNAL, "signer process %ld: waitpid: %s", (long)pid,
					       strerror(errno));
			return sp_fail(SP_ERR_INTERNAL, "signer process %ld did not exit within %d ms; killed",
				       (long)pid, SP_SIGNER_STOP_WAIT_MS);
		}
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
		waited += 10;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return SP_OK;
	if (WIFEXITED(st))
		return sp_fail(SP_ERR_INTERNAL, "signer process %ld exited with status %d", (long)pid, WEXITSTATUS(st));
	return sp_fail(SP_ERR_INTERNAL, "signer process %ld died of signal %d", (long)pid,
		       WIFSIGNALED(st) ? WTERMSIG(st) : -1);
}

static void handle_free(sp_signer *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->send_lock);
	pthread_mutex_destroy(&s->lock);
	free(s->buf);
	free(s);
}

/* Wait for READY (or the child's ERROR) after the fork. */
static sp_err await_ready(sp_signer *s)
{
	sp_signer_msg *m = malloc(sizeof *m);
	size_t len = 0;
	sp_err rc;

	if (!m)
		return sp_fail(SP_ERR_NOMEM, "signer: out of memory");
	if ((rc = sp_signer_recv(s->fd, s->buf, 0, &len)) != SP_OK)
		goto out;
	if (len == 0) {
		rc = sp_fail(SP_ERR_IO, "signer process exited while starting");
		goto out;
	}
	if ((rc = sp_signer_msg_parse(s->buf, len, m)) != SP_OK)
		goto out;
	if (m->type == SP_SG_ERROR)
		rc = sp_fail((sp_err)m->err_code, "%s", m->err_msg);
	else if (m->type != SP_SG_READY)
		rc = sp_fail(SP_ERR_PROTOCOL, "signer: message type %u while starting", m->type);
out:
	free(m);
	return rc;
}

sp_err sp_signer_start(const char *home, const sp_secret *pass, sp_signer **out)
{
	sp_signer *s = NULL;
	int sv[2] = {-1, -1};
	sp_err rc;

	if (out)
		*out = NULL;
	if (!home || !pass || !pass->buf || !out) {
		rc = sp_fail(SP_ERR_USAGE, "sp_signer_start: home, passphrase and handle are required");
		goto out;
	}
	if (!(s = calloc(1, sizeof *s)) || !(s->buf = malloc(SP_SIGNER_MAX_MSG))) {
		rc = sp_fail(SP_ERR_NOMEM, "signer: out of memory");
		goto out;
	}
	s->fd = -1;
	s->pid = -1;
	if (pthread_mutex_init(&s->send_lock, NULL) != 0 || pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s->buf);
		free(s);
		s = NULL;
		rc = sp_fail(SP_ERR_INTERNAL, "signer: mutex");
		goto out;
	}
	/* CLOEXEC: a program the service might exec later must not inherit it */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = sp_fail(SP_ERR_IO, "signer: socketpair: %s", strerror(errno));
		goto out;
	}
	s->pid = fork();
	if (s->pid < 0) {
		rc = sp_fail(SP_ERR_IO, "signer: fork: %s", strerror(errno));
		goto out;
	}
	if (s->pid == 0) {
		/* nothing of the parent's handle stays reachable in the child */
		close(sv[0]);
		s->fd = -1;
		handle_free(s);
		sp_signer_child_main(sv[1], home, pass); /* does not return */
	}
	/* the parent: from here on only the child knows the passphrase */
	OPENSSL_cleanse(pass->buf, pass->len);
	close(sv[1]);
	sv[1] = -1;
	s->fd = sv[0];
	sv[0] = -1;
	if ((rc = await_ready(s)) != SP_OK) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", sp_last_error());
		close(s->fd);
		s->fd = -1;
		(void)reap(s->pid); /* the child exits on its own after an error */
		rc = sp_fail(rc, "%s", msg);
		goto out;
	}
	*out = s;
	s = NULL;
out:
	if (pass && pass->buf)
		OPENSSL_cleanse(pass->buf, pass->len);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	handle_free(s);
	return rc;
}

static sp_err build_issue(uint8_t *buf, const char *template_name, const uint8_t *csr, size_t csr_len,
			  const sp_issue_opts *o, size_t *len)
{
	sp_signer_wbuf w;

	if (o->n_dns > SP_SIGNER_MAX_DNS)
		return sp_fail(SP_ERR_INPUT, "%zu dNSNames, over the limit of %d", o->n_dns, SP_SIGNER_MAX_DNS);
	if (o->n_dns && !o->dns)
		return sp_fail(SP_ERR_USAGE, "sp_signer_issue: n_dns without dns");
	sp_signer_wbuf_init(&w, buf, SP_SIGNER_MAX_MSG, SP_SG_ISSUE);
	sp_signer_put_str(&w, SP_SGT_TEMPLATE, template_name);
	sp_signer_put_bytes(&w, SP_SGT_CSR, csr, csr_len);
	for (size_t i = 0; i < o->n_dns; i++)
		sp_signer_put_str(&w, SP_SGT_DNS, o->dns[i] ? o->dns[i] : "");
	if (o->upn)
		sp_signer_put_str(&w, SP_SGT_UPN, o->upn);
	if (o->site_code)
		sp_signer_put_str(&w, SP_SGT_SITE, o->site_code);
	sp_signer_put_str(&w, SP_SGT_REQUESTER, o->requester);
	return sp_signer_wbuf_finish(&w, len);
}

/* The channel failed: every caller still waiting gets `rc` and its message,
 * and no request is sent any more. Called with s->lock held. */
static void fail_waiting(sp_signer *s, sp_err rc)
{
	s->broken = 1;
	while (s->head) {
		sg_wait *w = s->head;
		s->head = w->next;
		w->rc = rc == SP_OK ? SP_ERR_IO : rc;
		snprintf(w->err, sizeof w->err, "%s", sp_last_error());
		w->done = 1;
		pthread_cond_signal(&w->cv);
	}
	s->tail = NULL;
}

/* Queue w and send it. The signer answers in the order it receives, so the
 * queue's order must be the order of the sends: both happen under
 * send_lock. */
static void send_request(sp_signer *s, sg_wait *w)
{
	sp_err rc;

	pthread_mutex_lock(&s->send_lock);
	pthread_mutex_lock(&s->lock);
	if (s->broken) {
		w->rc = sp_fail(SP_ERR_IO, "signer process %ld is gone", (long)s->pid);
		snprintf(w->err, sizeof w->err, "%s", sp_last_error());
		w->done = 1;
		pthread_mutex_unlock(&s->lock);
		pthread_mutex_unlock(&s->send_lock);
		return;
	}
	if (s->tail)
		s->tail->next = w;
	else
		s->head = w;
	s->tail = w;
	pthread_mutex_unlock(&s->lock);
	rc = sp_signer_send(s->fd, w->msg, w->len);
	if (rc != SP_OK) {
		pthread_mutex_lock(&s->lock);
		fail_waiting(s, rc);
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&s->send_lock);
}

/* Wait for w's answer. One waiting caller at a time reads the next answer
 * (without the lock) and hands it to the oldest request, waking only its
 * owner; the others sleep on their own condition. A reader whose answer
 * came hands the reading to the oldest caller still waiting. */
static void await_answer(sp_signer *s, sg_wait *w)
{
	pthread_mutex_lock(&s->lock);
	while (!w->done) {
		size_t len = 0;
		sp_err rc;

		if (s->reading) {
			pthread_cond_wait(&w->cv, &s->lock);
			continue;
		}
		s->reading = 1;
		pthread_mutex_unlock(&s->lock);
		rc = sp_signer_recv(s->fd, s->buf, 0, &len);
		if (rc == SP_OK && len == 0)
			rc = sp_fail(SP_ERR_IO, "signer process %ld closed the connection", (long)s->pid);
		pthread_mutex_lock(&s->lock);
		s->reading = 0;
		if (!s->head) {
			/* an answer nobody asked for (or none to read): broken */
			fail_waiting(s, rc == SP_OK ? sp_fail(SP_ERR_PROTOCOL, "signer: an answer to no request")
						    : rc);
		} else if (rc == SP_OK || rc == SP_ERR_PROTOCOL) {
			/* an over-long answer was dropped whole: still in step */
			sg_wait *h = s->head;
			if (!(s->head = h->next))
				s->tail = NULL;
			h->rc = rc;
			if (rc == SP_OK) {
				memcpy(h->msg, s->buf, len);
				h->len = len;
			} else {
				snprintf(h->err, sizeof h->err, "%s", sp_last_error());
			}
			h->done = 1;
			pthread_cond_signal(&h->cv);
		} else {
			fail_waiting(s, rc);
		}
	}
	if (!s->reading && s->head)
		pthread_cond_signal(&s->head->cv);
	pthread_mutex_unlock(&s->lock);
}

void sp_issued_clear(sp_issued *x)
{
	if (!x)
		return;
	free(x->cert);
	free(x->p7);
	memset(x, 0, sizeof *x);
}

sp_err sp_issued_fill(sp_issued *out, X509 *x, const uint8_t *der, size_t der_len)
{
	STACK_OF(X509) *sk = NULL;
	unsigned char *enc = NULL;
	int n = 0;
	sp_err rc;

	memset(out, 0, sizeof *out);
	if (!der && (n = i2d_X509(x, &enc)) > 0) {
		der = enc;
		der_len = (size_t)n;
	}
	if (!der || !der_len)
		rc = sp_fail_ossl(SP_ERR_CRYPTO, "encoding the certificate");
	else if (!(out->cert = malloc(der_len)) || !(sk = sk_X509_new_null()) || !sk_X509_push(sk, x))
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
	else if ((rc = sp_serial_hex(X509_get0_serialNumber(x), out->serial, sizeof out->serial)) == SP_OK)
		rc = sp_est_certs_only(sk, &out->p7, &out->p7_len);
	if (rc == SP_OK) {
		memcpy(out->cert, der, der_len);
		out->cert_len = der_len;
	} else {
		sp_issued_clear(out);
	}
	sk_X509_free(sk); /* x stays the caller's */
	OPENSSL_free(enc);
	return rc;
}

sp_err sp_signer_issue(sp_signer *s, const char *template_name, const uint8_t *csr_der, size_t csr_len,
		       const sp_issue_opts *o, sp_issued *out)
{
	sp_signer_msg *m = NULL;
	sg_wait w;
	sp_err rc;

	if (out)
		memset(out, 0, sizeof *out);
	if (!s || !template_name || !csr_der || !o || !o->requester || !out)
		return sp_fail(SP_ERR_USAGE, "sp_signer_issue: handle, template, CSR, options with a requester "
					     "and outputs are required");
	if (csr_len == 0 || csr_len > SP_MAX_CSR_BYTES)
		return sp_fail(SP_ERR_INPUT, "CSR of %zu bytes (limit %d)", csr_len, SP_MAX_CSR_BYTES);
	memset(&w, 0, sizeof w);
	pthread_cond_init(&w.cv, NULL); /* default attributes: cannot fail on Linux */
	if (!(m = malloc(sizeof *m)) || !(w.msg = malloc(SP_SIGNER_MAX_MSG))) {
		rc = sp_fail(SP_ERR_NOMEM, "signer: out of memory");
		goto out;
	}
	if ((rc = build_issue(w.msg, template_name, csr_der, csr_len, o, &w.len)) != SP_OK)
		goto out;

	send_request(s, &w);
	await_answer(s, &w);
	if (w.rc != SP_OK) {
		rc = sp_fail(w.rc, "%s", w.err);
		goto out;
	}
	if ((rc = sp_signer_msg_parse(w.msg, w.len, m)) != SP_OK)
		goto out;
	if (m->type == SP_SG_ERROR) {
		rc = sp_fail((sp_err)m->err_code, "%s", m->err_msg);
		goto out;
	}
	if (m->type != SP_SG_CERT) {
		rc = sp_fail(SP_ERR_PROTOCOL, "signer: answer of type %u", m->type);
		goto out;
	}
	if (!(out->cert = malloc(m->cert_len)) || !(out->p7 = malloc(m->p7_len))) {
		sp_issued_clear(out);
		rc = sp_fail(SP_ERR_NOMEM, "signer: out of memory");
		goto out;
	}
	memcpy(out->cert, m->cert, m->cert_len);
	out->cert_len = m->cert_len;
	memcpy(out->p7, m->p7, m->p7_len);
	out->p7_len = m->p7_len;
	memcpy(out->serial, m->serial, sizeof out->serial);
	rc = SP_OK;
out:
	pthread_cond_destroy(&w.cv);
	free(w.msg);
	free(m);
	return rc;
}

sp_err sp_signer_stop(sp_signer *s)
{
	sp_err rc;

	if (!s)
		return SP_OK;
	close(s->fd); /* the child sees EOF and exits */
	s->fd = -1;
	rc = reap(s->pid);
	handle_free(s);
	return rc;
}
