/*
 * ratelimit.h - per-client request rate limit of the enrollment service: a
 * token bucket per client address, in a fixed-size table (memory does not
 * grow with the number of clients: the least recently seen entry among a
 * few candidates is reused).
 */
#ifndef SITEPKI_ENROLL_RATELIMIT_H
#define SITEPKI_ENROLL_RATELIMIT_H

#include <stdint.h>

typedef struct sp_ratelimit sp_ratelimit;

/* per_minute == 0: no limit (sp_ratelimit_take always allows). NULL on
 * allocation failure. */
sp_ratelimit *sp_ratelimit_new(unsigned per_minute, unsigned burst);
void sp_ratelimit_free(sp_ratelimit *r);

/* Take one request for `client` at time now_ms (monotonic milliseconds).
 * 1 = allowed; 0 = over the limit, *retry_s = seconds until one is free.
 * Thread-safe. */
int sp_ratelimit_take(sp_ratelimit *r, const char *client, int64_t now_ms, unsigned *retry_s);

#endif
