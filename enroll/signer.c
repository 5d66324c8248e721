/* signer.c - the signer process and the parent's handle to it (signer.h).
 *
 * The split follows OpenBSD acme-client: the child opens what it needs (the
 * CA home and key), drops everything else it inherited, and from then on
 * only reads typed messages from one socket. Both sides parse every message
 * with sp_signer_msg_parse(); the child treats the parent as hostile. */
#include "enroll/signer_int.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SP_SIGNER_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SP_SIGNER_LSAN 1
#endif
#endif
#ifdef SP_SIGNER_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#define SP_SIGNER_FD 3            /* the child's end, after the fd clean-up */
#define SP_SIGNER_STOP_WAIT_MS 5000

/* A request waiting for its answer (parent side). */
typedef struct sg_wait {
	uint8_t *msg;   /* the request; then its answer (SP_SIGNER_MAX_MSG bytes) */
	size_t len;     /* request length; then answer length */
	sp_err rc;      /* transport result, set by whoever carried it */
	char err[256];  /* its message: sp_last_error() is per thread */
	int done;
	struct sg_wait *next;
} sg_wait;

struct sp_signer {
	int fd;
	pid_t pid;
	int broken; /* the channel failed: no further requests */
	pthread_mutex_t lock;
	pthread_cond_t cond;  /* a batch was carried */
	sg_wait *head, *tail; /* requests not yet sent */
	int carrying;         /* a thread is carrying a batch */
	uint8_t *buf; /* SP_SIGNER_MAX_MSG bytes (start-up messages) */
};

int sp_signer_test_fd(const sp_signer *s)
{
	return s->fd;
}

pid_t sp_signer_test_pid(const sp_signer *s)
{
	return s->pid;
}

/* ------------------------------------------------------------- messages */

static sp_err send_msg(int fd, const uint8_t *buf, size_t len)
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

/* Receive one packet into buf (SP_SIGNER_MAX_MSG bytes). MSG_TRUNC makes a
 * SEQPACKET recv return the packet's real length (Linux >= 3.4), so an
 * over-long one is seen as such and dropped whole. *len == 0 is the peer
 * closing. SP_ERR_PROTOCOL for an over-long packet (the channel stays in
 * step: the rest of that packet is discarded by the kernel). */
static sp_err recv_msg(int fd, uint8_t *buf, int flags, size_t *len)
{
	ssize_t n;
	*len = 0;
	do
		n = recv(fd, buf, SP_SIGNER_MAX_MSG, flags | MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		sp_err rc = sp_fail(SP_ERR_IO, "signer socket: recv: %s", strerror(e));
		errno = e; /* the child tells EAGAIN from a broken socket */
		return rc;
	}
	if ((size_t)n > SP_SIGNER_MAX_MSG)
		return sp_fail(SP_ERR_PROTOCOL, "signer message of %zd bytes is over the %d-byte limit", n,
			       SP_SIGNER_MAX_MSG);
	*len = (size_t)n;
	return SP_OK;
}

/* An ERROR message carrying `code` and the current detail message. */
static size_t build_error(uint8_t *buf, sp_err code)
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

/* ----------------------------------------------------------- the child */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* Signals: SIGTERM only sets a flag and is blocked except while waiting for
 * a request (pselect), so a request in progress is always finished and
 * answered. The parent's handlers and mask are not inherited in spirit:
 * SIGINT (a terminal's Ctrl-C reaches the whole process group) and SIGHUP
 * are ignored, SIGPIPE too (send uses MSG_NOSIGNAL anyway). */
static void child_signals(sigset_t *wait_mask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_SETMASK, &block, NULL);
	sigemptyset(wait_mask);
}

/* fd 3 = the socket; 0 and 1 = /dev/null; 2 kept (where a crash or a
 * sanitizer report goes) or /dev/null; everything else closed, so the child
 * holds no listening socket, no other signer's socket, no file of the
 * parent. The std fds stay open so that the store cannot land on fd 0-2. */
static int child_fds(int sock)
{
	int nul;

	if (sock != SP_SIGNER_FD && dup2(sock, SP_SIGNER_FD) < 0)
		return -1;
	closefrom(SP_SIGNER_FD + 1);
	nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0)
		return -1;
	if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0)
		return -1;
	if (fcntl(2, F_GETFD) < 0 && dup2(nul, 2) < 0)
		return -1;
	if (nul > 2)
		close(nul);
	return 0;
}

/* One request of a batch: parsed and prepared (checks, build, sign) before
 * the batch's transaction; recorded in it; answered after its commit. */
typedef struct {
	sp_signer_msg m;
	const sp_template *t;
	X509_REQ *req;
	sp_prepared *prep;
	X509 *cert;
	sp_err rc;
	char err[SP_SIGNER_MAX_ERRMSG + 1];
	/* the options prepare borrows until the item is recorded */
	const char *dns[SP_SIGNER_MAX_DNS];
	sp_issue_opts o;
} batch_item;

static void item_fail(batch_item *it, sp_err rc)
{
	it->rc = rc == SP_OK ? SP_ERR_INTERNAL : rc;
	snprintf(it->err, sizeof it->err, "%s", *sp_last_error() ? sp_last_error() : sp_err_name(it->rc));
}

static void item_clear(batch_item *it)
{
	X509_free(it->cert);
	sp_prepared_free(it->prep); /* before the request it borrows */
	X509_REQ_free(it->req);
	memset(it, 0, sizeof *it);
}

/* Parse and prepare one request (no store access). */
static void prepare_one(sp_ca *ca, sp_template_cache *tc, const uint8_t *buf, size_t len, batch_item *it)
{
	sp_issue_opts *o = &it->o;
	sp_err rc;

	sp_clear_error();
	if ((rc = sp_signer_msg_parse(buf, len, &it->m)) != SP_OK)
		goto fail;
	if (it->m.type != SP_SG_ISSUE) {
		rc = sp_fail(SP_ERR_PROTOCOL, "signer: message type %u is not a request", it->m.type);
		goto fail;
	}
	if ((rc = sp_template_cache_get(tc, it->m.template_name, &it->t)) != SP_OK ||
	    (rc = sp_req_parse(it->m.csr, it->m.csr_len, &it->req)) != SP_OK)
		goto fail;
	for (size_t i = 0; i < it->m.n_dns; i++)
		it->dns[i] = it->m.dns[i];
	memset(o, 0, sizeof *o);
	o->dns = it->m.n_dns ? it->dns : NULL;
	o->n_dns = it->m.n_dns;
	o->upn = *it->m.upn ? it->m.upn : NULL;
	o->site_code = *it->m.site ? it->m.site : NULL;
	o->requester = it->m.requester;
	if ((rc = sp_issue_prepare(ca, it->t, it->req, o, &it->prep)) != SP_OK)
		goto fail;
	it->rc = SP_OK;
	return;
fail:
	item_fail(it, rc);
}

/* Record every prepared item of the batch in one transaction with one
 * durable commit (group commit): the fsync is the largest single cost of an
 * issuance, and a batch pays it once. A failure while recording fails the
 * whole batch (nothing of it is stored); checks that refuse one request
 * happened in prepare_one and do not touch the others. */
static void record_batch(sp_ca *ca, batch_item *items, size_t n)
{
	sp_store *st = sp_ca_get0_store(ca);
	size_t i, live = 0;
	sp_err rc;

	for (i = 0; i < n; i++)
		live += items[i].rc == SP_OK;
	if (!live)
		return;
	sp_clear_error();
	if ((rc = sp_store_begin(st)) != SP_OK)
		goto fail;
	for (i = 0; i < n; i++)
		if (items[i].rc == SP_OK && (rc = sp_issue_record(ca, items[i].prep, &items[i].cert)) != SP_OK) {
			sp_store_rollback(st);
			goto fail;
		}
	if ((rc = sp_store_commit(st)) != SP_OK)
		goto fail;
	return;
fail:
	for (i = 0; i < n; i++)
		if (items[i].rc == SP_OK)
			item_fail(&items[i], rc);
}

/* The answer to one item: CERT (after the commit) or ERROR. */
static size_t answer_one(const batch_item *it, uint8_t *out)
{
	sp_signer_wbuf w;
	uint8_t *der = NULL;
	size_t outlen = 0;
	int n;
	sp_err rc = it->rc;

	if (rc == SP_OK) {
		if ((n = i2d_X509(it->cert, &der)) <= 0) {
			rc = sp_fail_ossl(SP_ERR_CRYPTO, "signer: encoding the certificate");
		} else {
			sp_signer_wbuf_init(&w, out, SP_SIGNER_MAX_MSG, SP_SG_CERT);
			sp_signer_put_bytes(&w, SP_SGT_CERT, der, (size_t)n);
			rc = sp_signer_wbuf_finish(&w, &outlen);
		}
		OPENSSL_free(der);
		if (rc == SP_OK)
			return outlen;
		return build_error(out, rc);
	}
	sp_fail(rc, "%s", it->err);
	return build_error(out, rc);
}

static int serve(sp_ca *ca, sp_template_cache *tc, const sigset_t *wait_mask, uint8_t **in, uint8_t *out,
		 batch_item *items)
{
	while (!got_term) {
		fd_set rd;
		size_t len[SP_SIGNER_BATCH], n = 0, i;
		int eof = 0;
		sp_err rc = SP_OK;

		FD_ZERO(&rd);
		FD_SET(SP_SIGNER_FD, &rd);
		/* SIGTERM is deliverable only inside pselect: no lost wake-up */
		if (pselect(SP_SIGNER_FD + 1, &rd, NULL, NULL, NULL, wait_mask) < 0) {
			if (errno == EINTR)
				continue; /* SIGTERM: the loop test ends it */
			return 1;
		}
		/* every request already waiting joins this batch */
		while (n < SP_SIGNER_BATCH) {
			rc = recv_msg(SP_SIGNER_FD, in[n], MSG_DONTWAIT, &len[n]);
			if (rc == SP_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (rc == SP_ERR_IO)
				return 1;
			if (rc == SP_OK && len[n] == 0) {
				eof = 1; /* the parent closed its end: answer what came first */
				break;
			}
			if (rc == SP_OK)
				prepare_one(ca, tc, in[n], len[n], &items[n]);
			else
				item_fail(&items[n], rc);
			n++;
		}
		record_batch(ca, items, n);
		for (i = 0; i < n; i++) {
			size_t outlen = answer_one(&items[i], out);
			item_clear(&items[i]);
			if (outlen == 0 || send_msg(SP_SIGNER_FD, out, outlen) != SP_OK) {
				while (++i < n)
					item_clear(&items[i]);
				return 1;
			}
		}
		if (eof)
			return 0;
	}
	return 0;
}

static void handle_free(sp_signer *s);

/* `parent` is the child's copy of the parent's new handle: released here,
 * so that nothing of the parent's stays reachable only from a dead frame. */
static void child_main(int sock, const char *home, const sp_secret *pass, sp_signer *parent)
	__attribute__((noreturn));
static void child_main(int sock, const char *home, const sp_secret *pass, sp_signer *parent)
{
	sigset_t wait_mask;
	sp_ca *ca = NULL;
	uint8_t *in[SP_SIGNER_BATCH] = {NULL}, *out = NULL;
	batch_item *items = NULL;
	int oom = 0;
	size_t len;
	int status = 1;
	sp_err rc;

	parent->fd = -1; /* not open here */
	handle_free(parent);
	child_signals(&wait_mask);
	/* no core file, no ptrace by other processes of the same user */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (child_fds(sock) < 0) {
		OPENSSL_cleanse(pass->buf, pass->len);
		_exit(1);
	}
	for (size_t i = 0; i < SP_SIGNER_BATCH; i++)
		if (!(in[i] = malloc(SP_SIGNER_MAX_MSG)))
			oom = 1;
	out = malloc(SP_SIGNER_MAX_MSG);
	items = calloc(SP_SIGNER_BATCH, sizeof *items);
	if (oom || !out || !items) {
		OPENSSL_cleanse(pass->buf, pass->len);
		goto out;
	}
	sp_clear_error();
	rc = sp_ca_open(home, pass, &ca);
	OPENSSL_cleanse(pass->buf, pass->len);
	if (rc == SP_OK && !sp_ca_has_key(ca))
		rc = sp_fail(SP_ERR_INTERNAL, "signer: the CA at %s has no key loaded", home);
	if (rc != SP_OK) {
		len = build_error(out, rc);
		if (len)
			(void)send_msg(SP_SIGNER_FD, out, len);
		goto out;
	}
	{
		sp_signer_wbuf w;
		sp_signer_wbuf_init(&w, out, SP_SIGNER_MAX_MSG, SP_SG_READY);
		if (sp_signer_wbuf_finish(&w, &len) != SP_OK || send_msg(SP_SIGNER_FD, out, len) != SP_OK)
			goto out;
	}
	{
		/* templates are loaded once for the signer's life */
		sp_template_cache *tc = sp_template_cache_new(home);
		if (tc)
			status = serve(ca, tc, &wait_mask, in, out, items);
		sp_template_cache_free(tc);
	}
out:
	sp_ca_close(ca);
	for (size_t i = 0; i < SP_SIGNER_BATCH; i++)
		free(in[i]);
	free(items);
	free(out);
	close(SP_SIGNER_FD);
#ifdef SP_SIGNER_LSAN
	/* _exit skips the atexit leak check; run it here (exit code 23 on a leak) */
	__lsan_do_leak_check();
#endif
	/* _exit, never exit: the parent's atexit handlers and stdio buffers are
	 * not ours to run or flush */
	_exit(status);
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
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
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
	if ((rc = recv_msg(s->fd, s->buf, 0, &len)) != SP_OK)
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
	if (pthread_mutex_init(&s->lock, NULL) != 0 || pthread_cond_init(&s->cond, NULL) != 0) {
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
		close(sv[0]);
		child_main(sv[1], home, pass, s); /* does not return */
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

/* Carry one batch (called with s->lock released): send every request, then
 * read the answers, which come back in the same order. Transport failures
 * mark the handle broken and fail what was not answered. */
static void carry(sp_signer *s, sg_wait **batch, size_t n, int broken)
{
	size_t sent = 0, got = 0, i;
	sp_err rc = SP_OK;

	if (broken)
		rc = sp_fail(SP_ERR_IO, "signer process %ld is gone", (long)s->pid);
	for (; rc == SP_OK && sent < n; sent++)
		rc = send_msg(s->fd, batch[sent]->msg, batch[sent]->len);
	for (; rc == SP_OK && got < sent; got++) {
		size_t len = 0;
		if ((rc = recv_msg(s->fd, batch[got]->msg, 0, &len)) != SP_OK)
			break;
		if (len == 0) {
			rc = sp_fail(SP_ERR_IO, "signer process %ld closed the connection", (long)s->pid);
			break;
		}
		batch[got]->len = len;
		batch[got]->rc = SP_OK;
	}
	for (i = got; i < n; i++) {
		batch[i]->rc = rc == SP_OK ? SP_ERR_IO : rc;
		snprintf(batch[i]->err, sizeof batch[i]->err, "%s", sp_last_error());
	}
}

sp_err sp_signer_issue(sp_signer *s, const char *template_name, const uint8_t *csr_der, size_t csr_len,
		       const sp_issue_opts *o, uint8_t **cert_der, size_t *cert_len)
{
	sp_signer_msg *m = NULL;
	sg_wait w;
	sp_err rc;

	if (cert_der)
		*cert_der = NULL;
	if (cert_len)
		*cert_len = 0;
	if (!s || !template_name || !csr_der || !o || !o->requester || !cert_der || !cert_len)
		return sp_fail(SP_ERR_USAGE, "sp_signer_issue: handle, template, CSR, options with a requester "
					     "and outputs are required");
	if (csr_len == 0 || csr_len > SP_MAX_CSR_BYTES)
		return sp_fail(SP_ERR_INPUT, "CSR of %zu bytes (limit %d)", csr_len, SP_MAX_CSR_BYTES);
	memset(&w, 0, sizeof w);
	if (!(m = malloc(sizeof *m)) || !(w.msg = malloc(SP_SIGNER_MAX_MSG))) {
		rc = sp_fail(SP_ERR_NOMEM, "signer: out of memory");
		goto out;
	}
	if ((rc = build_issue(w.msg, template_name, csr_der, csr_len, o, &w.len)) != SP_OK)
		goto out;

	/* Leader/follower: requests queue up; one thread at a time carries
	 * everything queued (up to SP_SIGNER_BATCH) to the signer, which
	 * commits them together; the others wait for their answers. */
	pthread_mutex_lock(&s->lock);
	if (s->tail)
		s->tail->next = &w;
	else
		s->head = &w;
	s->tail = &w;
	while (!w.done) {
		sg_wait *batch[SP_SIGNER_BATCH];
		size_t n = 0, i;
		int broken;

		if (s->carrying) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		s->carrying = 1;
		while (s->head && n < SP_SIGNER_BATCH) {
			batch[n++] = s->head;
			s->head = s->head->next;
		}
		if (!s->head)
			s->tail = NULL;
		broken = s->broken;
		pthread_mutex_unlock(&s->lock);
		carry(s, batch, n, broken);
		pthread_mutex_lock(&s->lock);
		for (i = 0; i < n; i++) {
			if (batch[i]->rc == SP_ERR_IO)
				s->broken = 1;
			batch[i]->done = 1;
		}
		s->carrying = 0;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);

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
	if (!(*cert_der = malloc(m->cert_len))) {
		rc = sp_fail(SP_ERR_NOMEM, "signer: out of memory");
		goto out;
	}
	memcpy(*cert_der, m->cert, m->cert_len);
	*cert_len = m->cert_len;
	rc = SP_OK;
out:
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
