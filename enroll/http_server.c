/*
 * http_server.c - libmicrohttpd listeners of `sitepki serve` (see
 * http_server.h): bounds, client certificates, the per-request log line,
 * and the plain-HTTP CRL/AIA files. What a request means is est.c's job.
 */
#include "enroll/http_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "enroll/ratelimit.h"

#define MAX_PEER_CERTS 8
#define LOG_PATH_MAX 160

struct sp_http {
	struct MHD_Daemon *https, *http;
	const sp_serve_config *cfg;
	sp_est *est;
	char *cert, *key, *trust; /* libmicrohttpd keeps pointers to these */
	char *publish_dir, *publish_prefix;
	sp_ratelimit *rl;
	FILE *log;
	pthread_mutex_t log_lock;
	int inflight; /* requests begun and not yet completed (atomic) */
};

typedef struct {
	int64_t start_us;
	uint8_t *body;
	size_t len;
	int too_large;
	int answered; /* a response was queued before the body was read */
} req_state;

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void client_addr(struct MHD_Connection *c, char *out, size_t outsz)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, outsz, "-");
	if (!sa)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)outsz);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)outsz);
}

/* Printable, bounded copy for the log (a path is attacker-chosen); a space
 * is kept only where it cannot split a field (space_ok). */
static void log_safe(const char *in, char *out, size_t outsz, int space_ok)
{
	size_t o = 0;

	for (; in && *in && o + 5 < outsz; in++) {
		unsigned char ch = (unsigned char)*in;
		if (ch < (space_ok ? 0x20 : 0x21) || ch > 0x7e || ch == '\\')
			o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	out[o] = '\0';
}

/* One line per request: time, client, method, path, status, identity,
 * serial, duration. Never a header value or a body. */
static void log_request(sp_http *h, const char *client, const char *method, const char *url, int status,
			const char *identity, const char *serial, int64_t start_us)
{
	char when[32], path[LOG_PATH_MAX * 4 + 8], meth[40], who[96 * 4 + 8], ser[48 * 4];
	time_t now = time(NULL);
	struct tm tm;

	if (!h->log)
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	log_safe(url, path, sizeof path, 0);
	log_safe(method, meth, sizeof meth, 0);
	/* the identity can carry a client-chosen token user name */
	log_safe(identity && *identity ? identity : "-", who, sizeof who, 0);
	log_safe(serial && *serial ? serial : "-", ser, sizeof ser, 0);
	pthread_mutex_lock(&h->log_lock);
	fprintf(h->log, "%s %s %s %s %d %s %s %.1fms\n", when, client, meth, path, status, who, ser,
		(double)(mono_us() - start_us) / 1000.0);
	fflush(h->log);
	pthread_mutex_unlock(&h->log_lock);
}

/* libmicrohttpd's error log: its own printf-style format and arguments. */
__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	sp_http *h = cls;
	char msg[512], safe[sizeof msg * 4];

	if (!h->log)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	log_safe(msg, safe, sizeof safe, 1);
	pthread_mutex_lock(&h->log_lock);
	fprintf(h->log, "libmicrohttpd: %s\n", safe);
	fflush(h->log);
	pthread_mutex_unlock(&h->log_lock);
}

static enum MHD_Result queue_text(struct MHD_Connection *c, unsigned status, const char *text,
				  unsigned retry_after)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;
	char ra[16];

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=us-ascii");
	if (retry_after) {
		snprintf(ra, sizeof ra, "%u", retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	sp_http *h = cls;
	req_state *st = *con_cls;

	(void)c;
	(void)toe;
	if (st) {
		__atomic_sub_fetch(&h->inflight, 1, __ATOMIC_SEQ_CST);
		free(st->body);
		free(st);
		*con_cls = NULL;
	}
}

/* The first call of a request: its state, counted in flight until
 * on_completed. NULL when out of memory (the connection is dropped). */
static req_state *req_begin(sp_http *h, void **con_cls)
{
	req_state *st = calloc(1, sizeof *st);

	if (!st)
		return NULL;
	st->start_us = mono_us();
	*con_cls = st;
	__atomic_add_fetch(&h->inflight, 1, __ATOMIC_SEQ_CST);
	return st;
}

/* First call of a request: rate limit and the declared body size, both
 * answered before any body is read. Returns 1 when already answered. */
static int early_checks(sp_http *h, struct MHD_Connection *c, const char *method, const char *url, req_state *st,
			const char *client, enum MHD_Result *ret)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned retry = 0;

	if (!sp_ratelimit_take(h->rl, client, mono_us() / 1000, &retry)) {
		*ret = queue_text(c, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests from this client\n", retry);
		log_request(h, client, method, url, 429, "", "", st->start_us);
		return 1;
	}
	if (cl) {
		char *end;
		unsigned long long n;
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno || end == cl || *end || n > h->cfg->max_body) {
			*ret = queue_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n", 0);
			log_request(h, client, method, url, 413, "", "", st->start_us);
			return 1;
		}
	}
	return 0;
}

static enum MHD_Result answer_est(sp_http *h, struct MHD_Connection *c, const char *url, const char *method,
				  req_state *st, const char *client)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const uint8_t *peer_der[MAX_PEER_CERTS];
	size_t peer_len[MAX_PEER_CERTS];
	unsigned n_peer = 0, i;
	sp_est_request rq;
	sp_est_response rs;
	struct MHD_Response *r;
	enum MHD_Result ret;

	memset(&rq, 0, sizeof rq);
	if (ci && ci->tls_session) {
		const gnutls_datum_t *peers = gnutls_certificate_get_peers(ci->tls_session, &n_peer);
		if (!peers)
			n_peer = 0;
		if (n_peer > MAX_PEER_CERTS)
			n_peer = MAX_PEER_CERTS;
		for (i = 0; i < n_peer; i++) {
			peer_der[i] = peers[i].data;
			peer_len[i] = peers[i].size;
		}
	}
	rq.method = method;
	rq.path = url;
	rq.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	rq.authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	rq.body = st->body;
	rq.body_len = st->len;
	rq.peer_der = peer_der;
	rq.peer_len = peer_len;
	rq.n_peer = n_peer;
	rq.client = client;
	sp_est_handle(h->est, &rq, &rs);

	r = MHD_create_response_from_buffer(rs.body_len, rs.body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		sp_est_response_clear(&rs);
		return MHD_NO;
	}
	rs.body = NULL; /* libmicrohttpd frees it with the response */
	if (rs.content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs.content_type);
	if (rs.base64)
		MHD_add_response_header(r, "Content-Transfer-Encoding", "base64");
	if (rs.retry_after) {
		char ra[16];
		snprintf(ra, sizeof ra, "%u", rs.retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (rs.www_authenticate)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"" SP_EST_REALM "\"");
	if (rs.allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rs.allow);
	ret = MHD_queue_response(c, (unsigned)rs.status, r);
	MHD_destroy_response(r);
	log_request(h, client, method, url, rs.status, rs.identity, rs.serial, st->start_us);
	sp_est_response_clear(&rs);
	return ret;
}

static enum MHD_Result on_est(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	sp_http *h = cls;
	req_state *st = *con_cls;
	char client[INET6_ADDRSTRLEN + 1];
	enum MHD_Result ret = MHD_YES;

	(void)version;
	client_addr(c, client, sizeof client);
	if (!st) {
		if (!(st = req_begin(h, con_cls)))
			return MHD_NO;
		if (early_checks(h, c, method, url, st, client, &ret))
			st->answered = 1;
		return ret;
	}
	if (*upload_size) {
		/* a body the early checks already refused, or one over the
		 * limit without a Content-Length (chunked): read and drop */
		if (!st->answered && !st->too_large) {
			if (st->len + *upload_size > h->cfg->max_body) {
				st->too_large = 1;
				free(st->body);
				st->body = NULL;
				st->len = 0;
			} else {
				uint8_t *b = realloc(st->body, st->len + *upload_size);
				if (!b)
					return MHD_NO;
				memcpy(b + st->len, upload, *upload_size);
				st->body = b;
				st->len += *upload_size;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (st->answered)
		return MHD_YES;
	st->answered = 1;
	if (st->too_large) {
		log_request(h, client, method, url, 413, "", "", st->start_us);
		return queue_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n", 0);
	}
	return answer_est(h, c, url, method, st, client);
}

/* ------------------------------------------------ plain HTTP: CRL and AIA */

/* "crl/<name>.crl" or "ca/<name>.crt" with name in [a-z0-9-]: the only
 * files the URLs in our certificates name; nothing else under publish/ and
 * no path tricks can be asked for. Returns the content type or NULL. */
static const char *publish_type(const char *rel)
{
	const char *name, *dot;
	size_t n;

	if (!strncmp(rel, "crl/", 4))
		name = rel + 4;
	else if (!strncmp(rel, "ca/", 3))
		name = rel + 3;
	else
		return NULL;
	if (!(dot = strrchr(name, '.')) || dot == name)
		return NULL;
	for (n = 0; name + n < dot; n++)
		if (!(islower((unsigned char)name[n]) || isdigit((unsigned char)name[n]) || name[n] == '-'))
			return NULL;
	if (rel[0] == 'c' && rel[1] == 'r' && !strcmp(dot, ".crl"))
		return "application/pkix-crl";
	if (rel[0] == 'c' && rel[1] == 'a' && !strcmp(dot, ".crt"))
		return "application/pkix-cert";
	return NULL;
}

static enum MHD_Result on_publish(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	sp_http *h = cls;
	req_state *st = *con_cls;
	char client[INET6_ADDRSTRLEN + 1], path[4096];
	size_t plen = strlen(h->publish_prefix);
	const char *type = NULL, *rel;
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct stat sb;
	int fd = -1;

	(void)version;
	(void)upload;
	client_addr(c, client, sizeof client);
	if (!st)
		return req_begin(h, con_cls) ? MHD_YES : MHD_NO;
	if (*upload_size) {
		*upload_size = 0; /* GET and HEAD have no body: drop it */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		log_request(h, client, method, url, 405, "", "", st->start_us);
		return queue_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", 0);
	}
	if (strncmp(url, h->publish_prefix, plen) == 0 && url[plen] == '/') {
		rel = url + plen + 1;
		if ((type = publish_type(rel)) != NULL &&
		    snprintf(path, sizeof path, "%s/%s", h->publish_dir, rel) < (int)sizeof path)
			fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		if (fd >= 0)
			close(fd);
		log_request(h, client, method, url, 404, "", "", st->start_us);
		return queue_text(c, MHD_HTTP_NOT_FOUND, "not found\n", 0);
	}
	/* the file as it is now: a CRL republished later is a new file
	 * renamed into place, so this descriptor stays consistent */
	if (!(r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd))) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	log_request(h, client, method, url, 200, "", "", st->start_us);
	return ret;
}

/* ------------------------------------------------------------ lifetime */

static int bind_addr(const char *addr, int port, struct sockaddr_storage *ss, int *v6)
{
	memset(ss, 0, sizeof *ss);
	*v6 = 0;
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		return 1;
	}
	if (inet_pton(AF_INET6, addr, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*v6 = 1;
		return 1;
	}
	return 0;
}

static int bound_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	return di ? di->port : -1;
}

sp_err sp_http_start(const sp_http_opts *o, sp_http **out, int *https_port, int *http_port)
{
	const sp_serve_config *cfg = o->cfg;
	struct sockaddr_storage ss;
	/* 0 (the default): a thread per connection. A request waits while it
	 * is signed and committed (a disk flush in the signer); in a pool,
	 * every other connection served by the same worker waits with it, and
	 * which connections share a worker is chance. With a thread each, only
	 * the request itself waits, and the signer commits the ones in flight
	 * together (docs/serve.md). N: a pool of N workers instead. */
	unsigned threads = cfg->threads;
	/* the pool size only when there is a pool: MHD warns about it otherwise */
	struct MHD_OptionItem pool[] = {
		{threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, (intptr_t)threads, NULL},
		{MHD_OPTION_END, 0, NULL},
	};
	unsigned flags;
	sp_http *h;
	int v6;
	sp_err rc;

	*out = NULL;
	*https_port = *http_port = -1;
	if (!(h = calloc(1, sizeof *h)))
		return sp_fail(SP_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&h->log_lock, NULL);
	h->cfg = cfg;
	h->est = o->est;
	h->log = o->log;
	if (!(h->cert = strdup(o->tls_cert_pem)) || !(h->key = strdup(o->tls_key_pem)) ||
	    !(h->trust = strdup(o->trust_pem)) || !(h->publish_dir = strdup(o->publish_dir)) ||
	    !(h->publish_prefix = strdup(o->publish_prefix)) ||
	    !(h->rl = sp_ratelimit_new(cfg->rate_per_minute, cfg->rate_burst))) {
		rc = sp_fail(SP_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!bind_addr(cfg->bind, cfg->https_port, &ss, &v6)) {
		rc = sp_fail(SP_ERR_INPUT, "listen address %s is not an IP address", cfg->bind);
		goto out;
	}
	flags = MHD_USE_TLS | MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG |
		(threads == 0 ? MHD_USE_THREAD_PER_CONNECTION : 0) | (v6 ? MHD_USE_IPv6 : 0);
	h->https = MHD_start_daemon(
		flags, 0, NULL, NULL, on_est, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_HTTPS_MEM_CERT, h->cert, MHD_OPTION_HTTPS_MEM_KEY, h->key,
		/* asks for a client certificate (optional) naming this CA */
		MHD_OPTION_HTTPS_MEM_TRUST, h->trust,
		MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2",
		MHD_OPTION_ARRAY, pool, MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_END);
	if (!h->https) {
		rc = sp_fail(SP_ERR_IO, "cannot start the HTTPS listener on %s port %d (in use, or the TLS "
					"certificate/key is unusable)",
			     cfg->bind, cfg->https_port);
		goto out;
	}
	*https_port = bound_port(h->https);
	if (cfg->http_port >= 0) {
		(void)bind_addr(cfg->bind, cfg->http_port, &ss, &v6);
		h->http = MHD_start_daemon(
			MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0), 0,
			NULL, NULL, on_publish, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h, MHD_OPTION_SOCK_ADDR,
			(struct sockaddr *)&ss,
			MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			cfg->max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, cfg->timeout,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header, MHD_OPTION_NOTIFY_COMPLETED,
			on_completed, h, MHD_OPTION_END);
		if (!h->http) {
			rc = sp_fail(SP_ERR_IO, "cannot start the HTTP (CRL/AIA) listener on %s port %d", cfg->bind,
				     cfg->http_port);
			goto out;
		}
		*http_port = bound_port(h->http);
	}
	*out = h;
	h = NULL;
	rc = SP_OK;
out:
	sp_http_stop(h);
	return rc;
}

void sp_http_quiesce(sp_http *h)
{
	MHD_socket s;

	if (h && h->https && (s = MHD_quiesce_daemon(h->https)) != MHD_INVALID_SOCKET)
		close(s);
	if (h && h->http && (s = MHD_quiesce_daemon(h->http)) != MHD_INVALID_SOCKET)
		close(s);
}

unsigned sp_http_active(sp_http *h)
{
	int n = h ? __atomic_load_n(&h->inflight, __ATOMIC_SEQ_CST) : 0;
	return n > 0 ? (unsigned)n : 0;
}

void sp_http_stop(sp_http *h)
{
	if (!h)
		return;
	if (h->https)
		MHD_stop_daemon(h->https);
	if (h->http)
		MHD_stop_daemon(h->http);
	sp_ratelimit_free(h->rl);
	if (h->key) {
		OPENSSL_cleanse(h->key, strlen(h->key));
		free(h->key);
	}
	free(h->cert);
	free(h->trust);
	free(h->publish_dir);
	free(h->publish_prefix);
	pthread_mutex_destroy(&h->log_lock);
	free(h);
}
