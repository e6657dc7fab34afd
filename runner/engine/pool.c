/*
 * pool.c - the engine's worker pool: a parallel for over hosts (or hook
 * calls) on up to --forks threads, each with its own worker slot and so its
 * own Lua state.
 */
#include "engine/engine_int.h"

#include <stdlib.h>

/* Parallel for: fn(i) for i < n on up to `limit` threads, each with its own
 * worker slot (and so its own Lua state). */
struct pfor {
	struct kp_engine *e;
	void (*fn)(struct kp_engine *e, int slot, size_t i, void *arg);
	void *arg;
	size_t n, next;
	bool (*keep_going)(struct kp_engine *e, size_t i);
	pthread_mutex_t m;
};

struct pfor_worker {
	struct pfor *p;
	int slot;
};

static void *pfor_run(void *arg)
{
	struct pfor_worker *w = arg;
	struct pfor *p = w->p;
	for (;;) {
		pthread_mutex_lock(&p->m);
		size_t i = p->next;
		bool go = i < p->n && (!p->keep_going || p->keep_going(p->e, i));
		if (go)
			p->next++;
		pthread_mutex_unlock(&p->m);
		if (!go)
			break;
		p->fn(p->e, w->slot, i, p->arg);
	}
	return NULL;
}

void kp_parallel_for(struct kp_engine *e, int slot, size_t n, int limit,
		     void (*fn)(struct kp_engine *, int, size_t, void *), void *arg,
		     bool (*keep_going)(struct kp_engine *, size_t))
{
	struct pfor p = {.e = e, .fn = fn, .arg = arg, .n = n, .keep_going = keep_going};
	if (limit > e->nslots)
		limit = e->nslots;
	if ((size_t)limit > n)
		limit = (int)n;
	if (limit <= 1) {
		for (size_t i = 0; i < n && (!keep_going || keep_going(e, i)); i++)
			fn(e, slot, i, arg);
		return;
	}
	pthread_mutex_init(&p.m, NULL);
	pthread_t *t = kp_xcalloc((size_t)limit, sizeof(*t));
	struct pfor_worker *w = kp_xcalloc((size_t)limit, sizeof(*w));
	int started = 0;
	for (int i = 0; i < limit; i++) {
		w[i].p = &p;
		w[i].slot = i;
		if (pthread_create(&t[i], NULL, pfor_run, &w[i]))
			break;
		started++;
	}
	if (!started)
		pfor_run(&w[0]);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p.m);
	free(t);
	free(w);
}
