/*
 * ratelimit.c - token buckets per client address (see ratelimit.h).
 */
#include "enroll/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 8192 /* power of two */
#define PROBE 8
#define KEY_MAX 48 /* an IPv6 literal is at most 45 characters */

typedef struct {
	char key[KEY_MAX];
	double tokens;
	int64_t last_ms;
} bucket;

struct sp_ratelimit {
	pthread_mutex_t lock;
	double per_ms, burst;
	bucket *slots;
};

sp_ratelimit *sp_ratelimit_new(unsigned per_minute, unsigned burst)
{
	sp_ratelimit *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->per_ms = per_minute / 60000.0;
	r->burst = burst ? burst : 1;
	if (per_minute && !(r->slots = calloc(SLOTS, sizeof *r->slots))) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void sp_ratelimit_free(sp_ratelimit *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->slots);
	free(r);
}

static uint32_t hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a: spreading, not security */

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

int sp_ratelimit_take(sp_ratelimit *r, const char *client, int64_t now_ms, unsigned *retry_s)
{
	char key[KEY_MAX];
	bucket *b = NULL, *oldest = NULL;
	uint32_t h;
	int i, ok;

	*retry_s = 0;
	if (!r->slots)
		return 1;
	strncpy(key, client ? client : "", sizeof key - 1);
	key[sizeof key - 1] = '\0';
	h = hash(key);
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < PROBE; i++) {
		bucket *c = &r->slots[(h + (uint32_t)i) & (SLOTS - 1)];
		if (!strcmp(c->key, key) && (c->key[0] || c->last_ms)) {
			b = c;
			break;
		}
		if (!oldest || c->last_ms < oldest->last_ms)
			oldest = c;
	}
	if (!b) {
		/* a new client, or one forgotten: it starts with a full bucket */
		b = oldest;
		memcpy(b->key, key, sizeof key);
		b->tokens = r->burst;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * r->per_ms;
		if (b->tokens > r->burst)
			b->tokens = r->burst;
		b->last_ms = now_ms;
	}
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	else
		*retry_s = (unsigned)((1.0 - b->tokens) / r->per_ms / 1000.0) + 1;
	pthread_mutex_unlock(&r->lock);
	return ok;
}
