/*
 * template_cache.c - templates loaded once per process for the long-running
 * service (sp_template_cache in templates.h).
 *
 * A template is an XML parse plus a RELAX NG validation: far more work than
 * the rest of answering an EST request. The service and its signer ask for
 * the same few templates again and again, so each is loaded on first use and
 * kept; a name that is not found is not kept (random labels from the network
 * cannot grow the cache), and the number of entries is bounded.
 */
#include "templates/templates.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_MAX 128

struct sp_template_cache {
	pthread_mutex_t lock;
	char *home;
	sp_template *t[CACHE_MAX];
	size_t n;
};

sp_template_cache *sp_template_cache_new(const char *home)
{
	sp_template_cache *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	if (home && !(c->home = strdup(home))) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void sp_template_cache_free(sp_template_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		sp_template_free(c->t[i]);
	pthread_mutex_destroy(&c->lock);
	free(c->home);
	free(c);
}

sp_err sp_template_cache_get(sp_template_cache *c, const char *name, const sp_template **out)
{
	sp_template *t = NULL;
	size_t i;
	sp_err rc = SP_OK;

	*out = NULL;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++)
		if (!strcmp(c->t[i]->name, name)) {
			*out = c->t[i];
			goto out;
		}
	/* loaded under the lock: libxml2's schema cache is filled once, and
	 * two threads asking for the same new name load it once */
	if ((rc = sp_template_find(c->home, name, &t)) != SP_OK)
		goto out;
	if (c->n == CACHE_MAX) {
		sp_template_free(t);
		rc = sp_fail(SP_ERR_INTERNAL, "more than %d templates in use", CACHE_MAX);
		goto out;
	}
	c->t[c->n++] = t;
	*out = t;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}
