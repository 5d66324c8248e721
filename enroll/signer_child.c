/*
 * signer_child.c - the signer process: the only holder of the CA key.
 *
 * The split follows OpenBSD acme-client: the child opens what it needs (the
 * CA home and key), drops everything else it inherited, and from then on
 * only reads typed messages from one socket, treating the parent as hostile.
 *
 * Two threads, so that checking and signing the next requests overlaps the
 * durable commit of the previous ones (the fsync is the largest single cost
 * of an issuance, and most of it is waiting for the disk):
 *   - the reader (the main thread) takes each request off the socket,
 *     parses, checks and signs it (sp_issue_prepare touches no store) and
 *     queues it;
 *   - the committer records everything queued, up to SP_SIGNER_BATCH, in one
 *     transaction with one durable commit (group commit), then answers each
 *     request in the order it came.
 * Requests that arrive during a commit make up the next batch, so batches
 * grow with the load and no request ever waits for a timer. No answer
 * leaves before its commit. A third thread, with its own connection, copies
 * the WAL into the database (checkpoints) so that the committer never
 * stops for it. docs/signer.md.
 */
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

#define SP_SIGNER_FD 3 /* the child's end, after the fd clean-up */

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* Signals: SIGTERM only sets a flag and is blocked except while the reader
 * waits for a request (pselect), so a request taken off the socket is always
 * finished and answered; the committer thread inherits the blocked mask.
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

/* One request: parsed and prepared (checks, build, sign) by the reader,
 * recorded and answered by the committer. */
typedef struct item {
	uint8_t *msg; /* the request as received: m borrows its CSR */
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
	struct item *next;
} item;

typedef struct {
	sp_ca *ca;
	pthread_mutex_t lock;
	pthread_cond_t more; /* committer: something queued, or closing */
	pthread_cond_t room; /* reader: the queue is below SP_SIGNER_QUEUE */
	item *head, *tail;   /* prepared, not yet taken by the committer */
	size_t queued;
	int closing; /* the reader is done: commit what is queued, then end */
	int failed;  /* an answer could not be sent: the parent is gone */
	uint8_t *out; /* the committer's answer buffer */
} pipeline;

static void item_fail(item *it, sp_err rc)
{
	it->rc = rc == SP_OK ? SP_ERR_INTERNAL : rc;
	snprintf(it->err, sizeof it->err, "%s", *sp_last_error() ? sp_last_error() : sp_err_name(it->rc));
}

static void item_free(item *it)
{
	if (!it)
		return;
	X509_free(it->cert);
	sp_prepared_free(it->prep); /* before the request it borrows */
	X509_REQ_free(it->req);
	free(it->msg);
	free(it);
}

/* Parse and prepare one request (no store access). */
static void prepare_one(sp_ca *ca, sp_template_cache *tc, item *it, size_t len)
{
	sp_issue_opts *o = &it->o;
	sp_err rc;

	sp_clear_error();
	if ((rc = sp_signer_msg_parse(it->msg, len, &it->m)) != SP_OK)
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

/* ------------------------------------------------------------ committer */

/* Record every prepared item of the batch in one transaction with one
 * durable commit. A failure while recording fails the whole batch (nothing
 * of it is stored); checks that refused one request happened in
 * prepare_one and do not touch the others. */
static void record_batch(sp_ca *ca, item **batch, size_t n)
{
	sp_store *st = sp_ca_get0_store(ca);
	size_t i, live = 0;
	sp_err rc;

	for (i = 0; i < n; i++)
		live += batch[i]->rc == SP_OK;
	if (!live)
		return;
	sp_clear_error();
	if ((rc = sp_store_begin(st)) != SP_OK)
		goto fail;
	for (i = 0; i < n; i++)
		if (batch[i]->rc == SP_OK && (rc = sp_issue_record(ca, batch[i]->prep, &batch[i]->cert)) != SP_OK) {
			sp_store_rollback(st);
			goto fail;
		}
	if ((rc = sp_store_commit(st)) != SP_OK)
		goto fail;
	return;
fail:
	for (i = 0; i < n; i++)
		if (batch[i]->rc == SP_OK)
			item_fail(batch[i], rc);
}

/* The answer to one item: CERT (after the commit) or ERROR. A CERT carries
 * the certificate, its serial and the certs-only PKCS#7 the service answers
 * with: built here from the certificate object (~10 us, OpenSSL encodes the
 * certificate again), where the service would have to parse the DER first
 * (~15-20 us under load). */
static size_t answer_one(const item *it, uint8_t *out)
{
	sp_signer_wbuf w;
	size_t outlen = 0, n = 0;
	/* the bytes recorded in the store, encoded once by sp_issue_record */
	const unsigned char *der = sp_prepared_der(it->prep, &n);
	sp_issued x;
	sp_err rc = it->rc;

	if (rc == SP_OK) {
		memset(&x, 0, sizeof x);
		if (!der || !n || !it->cert)
			rc = sp_fail(SP_ERR_INTERNAL, "signer: no certificate recorded for the answer");
		else
			rc = sp_issued_fill(&x, it->cert, der, n);
		if (rc == SP_OK) {
			sp_signer_wbuf_init(&w, out, SP_SIGNER_MAX_MSG, SP_SG_CERT);
			sp_signer_put_bytes(&w, SP_SGT_CERT, x.cert, x.cert_len);
			sp_signer_put_bytes(&w, SP_SGT_PKCS7, x.p7, x.p7_len);
			sp_signer_put_str(&w, SP_SGT_SERIAL, x.serial);
			rc = sp_signer_wbuf_finish(&w, &outlen);
		}
		sp_issued_clear(&x);
		if (rc == SP_OK)
			return outlen;
		return sp_signer_build_error(out, rc);
	}
	sp_fail(rc, "%s", it->err);
	return sp_signer_build_error(out, rc);
}

static void *committer(void *arg)
{
	pipeline *pl = arg;
	item *batch[SP_SIGNER_BATCH];

	for (;;) {
		size_t n = 0, i;
		int failed;

		pthread_mutex_lock(&pl->lock);
		while (!pl->head && !pl->closing)
			pthread_cond_wait(&pl->more, &pl->lock);
		while (pl->head && n < SP_SIGNER_BATCH) {
			batch[n++] = pl->head;
			pl->head = pl->head->next;
		}
		if (!pl->head)
			pl->tail = NULL;
		pl->queued -= n;
		failed = pl->failed;
		pthread_cond_signal(&pl->room);
		pthread_mutex_unlock(&pl->lock);
		if (n == 0)
			break; /* closing, and nothing left */
		/* with nobody left to answer, nothing more is recorded */
		if (!failed)
			record_batch(pl->ca, batch, n);
		for (i = 0; i < n; i++) {
			size_t outlen = failed ? 0 : answer_one(batch[i], pl->out);
			if (!failed && (outlen == 0 || sp_signer_send(SP_SIGNER_FD, pl->out, outlen) != SP_OK)) {
				failed = 1;
				pthread_mutex_lock(&pl->lock);
				pl->failed = 1;
				pthread_cond_signal(&pl->room);
				pthread_mutex_unlock(&pl->lock);
				/* wakes the reader out of pselect: it sees end of input */
				(void)shutdown(SP_SIGNER_FD, SHUT_RD);
			}
			item_free(batch[i]);
		}
	}
	return NULL;
}

/* --------------------------------------------------------- checkpointer */

/* A checkpoint is due once this many frames were added to the WAL since
 * the last one ended (SQLite's own threshold). The checkpointer copies the
 * bulk; the few frames committed while it ran are then copied by the
 * committer itself right after a commit (fewer than SP_SIGNER_CKPT_TAIL,
 * else the checkpointer goes again), which leaves the WAL fully copied so
 * that the next transaction starts it over. Without that last step the WAL
 * would only grow under a steady load, and past SP_SIGNER_WAL_LIMIT frames
 * the store checkpoints in every commit. */
#define SP_SIGNER_CKPT_FRAMES 1000
#define SP_SIGNER_CKPT_TAIL 256
#define SP_SIGNER_WAL_LIMIT (16 * SP_SIGNER_CKPT_FRAMES)

typedef struct {
	sp_store *st; /* its own connection to the CA's store */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int due, stop;
	int ended;    /* a checkpoint ended and its tail is not copied yet */
	int done_at;  /* WAL frames when the last checkpoint ended */
	int copied;   /* of which it copied this many */
} checkpointer;

/* Called by the committer's commit (store.h): only takes note, signals,
 * or asks the committer to copy the tail. */
static int wal_grew(void *arg, int frames)
{
	checkpointer *ck = arg;
	int tail = 0;

	pthread_mutex_lock(&ck->lock);
	if (frames < ck->done_at) {
		/* the WAL started over */
		ck->done_at = ck->copied = 0;
		ck->ended = 0;
	}
	if (ck->ended && frames - ck->copied < SP_SIGNER_CKPT_TAIL) {
		ck->ended = 0;
		tail = 1;
	} else if (!ck->due && frames - ck->done_at >= SP_SIGNER_CKPT_FRAMES) {
		ck->due = 1;
		ck->ended = 0;
		pthread_cond_signal(&ck->cond);
	}
	pthread_mutex_unlock(&ck->lock);
	return tail;
}

static void *checkpoint_main(void *arg)
{
	checkpointer *ck = arg;

	pthread_mutex_lock(&ck->lock);
	while (!ck->stop) {
		int frames = 0, copied = 0;

		if (!ck->due) {
			pthread_cond_wait(&ck->cond, &ck->lock);
			continue;
		}
		pthread_mutex_unlock(&ck->lock);
		/* a failure is retried after the next SP_SIGNER_CKPT_FRAMES, and
		 * the store bounds the WAL by itself if none ever succeeds */
		if (sp_store_checkpoint(ck->st, &frames, &copied) != SP_OK)
			sp_clear_error();
		pthread_mutex_lock(&ck->lock);
		ck->due = 0;
		ck->ended = 1;
		ck->done_at = frames;
		ck->copied = copied;
	}
	pthread_mutex_unlock(&ck->lock);
	return NULL;
}

/* --------------------------------------------------------------- reader */

/* Queue a prepared item for the committer; waits while the queue is full.
 * 0, or -1 once the committer has failed (the item is freed). */
static int enqueue(pipeline *pl, item *it)
{
	pthread_mutex_lock(&pl->lock);
	while (pl->queued >= SP_SIGNER_QUEUE && !pl->failed)
		pthread_cond_wait(&pl->room, &pl->lock);
	if (pl->failed) {
		pthread_mutex_unlock(&pl->lock);
		item_free(it);
		return -1;
	}
	if (pl->tail)
		pl->tail->next = it;
	else
		pl->head = it;
	pl->tail = it;
	pl->queued++;
	pthread_cond_signal(&pl->more);
	pthread_mutex_unlock(&pl->lock);
	return 0;
}

/* Take requests off the socket until end of input or SIGTERM. Every request
 * already waiting is read without sleeping; each is prepared and queued at
 * once, so the committer can start on the first while the reader signs the
 * next. 0 on a clean end, 1 on a broken channel. */
static int read_requests(pipeline *pl, sp_template_cache *tc, const sigset_t *wait_mask, uint8_t *in)
{
	while (!got_term) {
		fd_set rd;

		FD_ZERO(&rd);
		FD_SET(SP_SIGNER_FD, &rd);
		/* SIGTERM is deliverable only inside pselect: no lost wake-up */
		if (pselect(SP_SIGNER_FD + 1, &rd, NULL, NULL, NULL, wait_mask) < 0) {
			if (errno == EINTR)
				continue; /* SIGTERM: the loop test ends it */
			return 1;
		}
		for (;;) {
			size_t len = 0;
			item *it;
			sp_err rc = sp_signer_recv(SP_SIGNER_FD, in, MSG_DONTWAIT, &len);

			if (rc == SP_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (rc == SP_ERR_IO)
				return 1;
			if (rc == SP_OK && len == 0)
				return 0; /* the parent closed its end */
			if (!(it = calloc(1, sizeof *it)) || (rc == SP_OK && !(it->msg = malloc(len)))) {
				item_free(it);
				return 1;
			}
			if (rc == SP_OK) {
				memcpy(it->msg, in, len);
				prepare_one(pl->ca, tc, it, len);
			} else {
				item_fail(it, rc); /* over-long: answered in its place */
			}
			if (enqueue(pl, it) != 0)
				return 1;
		}
	}
	return 0;
}

/* Start the checkpointer on its own connection and hand it the committer's
 * checkpoints. Without it (no second connection, no thread) the store
 * checkpoints as SQLite does by default: slower, still correct. */
static int checkpointer_start(checkpointer *ck, sp_ca *ca, const char *home, pthread_t *th)
{
	char path[4096];

	memset(ck, 0, sizeof *ck);
	pthread_mutex_init(&ck->lock, NULL);
	pthread_cond_init(&ck->cond, NULL);
	if (snprintf(path, sizeof path, "%s/%s", home, SP_CA_DB) >= (int)sizeof path ||
	    sp_store_open(path, 0, &ck->st) != SP_OK) {
		sp_clear_error();
		return 0;
	}
	if (pthread_create(th, NULL, checkpoint_main, ck) != 0) {
		sp_store_close(ck->st);
		ck->st = NULL;
		return 0;
	}
	sp_store_defer_checkpoints(sp_ca_get0_store(ca), SP_SIGNER_WAL_LIMIT, wal_grew, ck);
	return 1;
}

static void checkpointer_stop(checkpointer *ck, sp_ca *ca, pthread_t th, int started)
{
	if (started) {
		sp_store_defer_checkpoints(sp_ca_get0_store(ca), 0, NULL, NULL);
		pthread_mutex_lock(&ck->lock);
		ck->stop = 1;
		pthread_cond_signal(&ck->cond);
		pthread_mutex_unlock(&ck->lock);
		pthread_join(th, NULL);
		sp_store_close(ck->st);
	}
	pthread_cond_destroy(&ck->cond);
	pthread_mutex_destroy(&ck->lock);
}

/* Serve until end of input or SIGTERM, then let the committer answer what
 * was read. 0 on a clean end. */
static int serve(sp_ca *ca, const char *home, sp_template_cache *tc, const sigset_t *wait_mask, uint8_t *in,
		 uint8_t *out)
{
	pipeline pl;
	checkpointer ck;
	pthread_t th, ck_th;
	int status, ck_started;

	memset(&pl, 0, sizeof pl);
	pl.ca = ca;
	pl.out = out;
	/* default attributes: these cannot fail on Linux */
	pthread_mutex_init(&pl.lock, NULL);
	pthread_cond_init(&pl.more, NULL);
	pthread_cond_init(&pl.room, NULL);
	ck_started = checkpointer_start(&ck, ca, home, &ck_th);
	if (pthread_create(&th, NULL, committer, &pl) != 0) {
		status = 1;
		goto out;
	}
	status = read_requests(&pl, tc, wait_mask, in);
	pthread_mutex_lock(&pl.lock);
	pl.closing = 1;
	pthread_cond_signal(&pl.more);
	pthread_mutex_unlock(&pl.lock);
	pthread_join(th, NULL);
	if (pl.failed)
		status = 1;
out:
	checkpointer_stop(&ck, ca, ck_th, ck_started);
	pthread_cond_destroy(&pl.more);
	pthread_cond_destroy(&pl.room);
	pthread_mutex_destroy(&pl.lock);
	return status;
}

void sp_signer_child_main(int sock, const char *home, const sp_secret *pass)
{
	sigset_t wait_mask;
	sp_ca *ca = NULL;
	uint8_t *in = NULL, *out = NULL;
	size_t len;
	int status = 1;
	sp_err rc;

	child_signals(&wait_mask);
	/* no core file, no ptrace by other processes of the same user */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (child_fds(sock) < 0) {
		OPENSSL_cleanse(pass->buf, pass->len);
		_exit(1);
	}
	in = malloc(SP_SIGNER_MAX_MSG);
	out = malloc(SP_SIGNER_MAX_MSG);
	if (!in || !out) {
		OPENSSL_cleanse(pass->buf, pass->len);
		goto out;
	}
	sp_clear_error();
	rc = sp_ca_open(home, pass, &ca);
	OPENSSL_cleanse(pass->buf, pass->len);
	if (rc == SP_OK && !sp_ca_has_key(ca))
		rc = sp_fail(SP_ERR_INTERNAL, "signer: the CA at %s has no key loaded", home);
	if (rc != SP_OK) {
		/* best effort: without it the parent sees the socket close */
		len = sp_signer_build_error(out, rc);
		if (len && sp_signer_send(SP_SIGNER_FD, out, len) != SP_OK)
			status = 1;
		goto out;
	}
	{
		sp_signer_wbuf w;
		sp_signer_wbuf_init(&w, out, SP_SIGNER_MAX_MSG, SP_SG_READY);
		if (sp_signer_wbuf_finish(&w, &len) != SP_OK || sp_signer_send(SP_SIGNER_FD, out, len) != SP_OK)
			goto out;
	}
	{
		/* templates are loaded once for the signer's life */
		sp_template_cache *tc = sp_template_cache_new(home);
		if (tc)
			status = serve(ca, home, tc, &wait_mask, in, out);
		sp_template_cache_free(tc);
	}
out:
	sp_ca_close(ca);
	free(in);
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
