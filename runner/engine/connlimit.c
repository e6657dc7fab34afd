/*
 * connlimit.c - how many connections a run keeps open at once. Each ssh
 * connection holds a socket for the whole run, so 1000 hosts need 1000
 * open files besides what the workers open for a moment (pipes, files
 * being copied, a jump host's socket). At the start of a run the soft
 * limit on open files is raised to the hard limit; what it allows, less a
 * reserve per worker, is the connection budget. Past the budget, opening a
 * connection first closes idle ones, the one used longest ago first, and
 * a later task on that host connects again. A connection in use is never
 * closed: with none idle, the new one opens anyway, inside the reserve.
 */
#include "engine/engine_int.h"

#include <sys/resource.h>

#define RESERVE_BASE	 32 /* stdio, the journal, output, Lua, libcurl */
#define RESERVE_PER_FORK 4  /* a command's pipes, a file copy, a jump socket */

int kp_conn_budget(uint64_t nofile, int forks)
{
	uint64_t reserve = RESERVE_BASE + RESERVE_PER_FORK * (uint64_t)(forks > 0 ? forks : 1);
	uint64_t budget = nofile > 2 * reserve ? nofile - reserve : nofile / 2;
	if (budget < 1)
		budget = 1;
	return budget > INT32_MAX ? INT32_MAX : (int)budget;
}

uint64_t kp_nofile_raise(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r))
		return 1024;
	if (r.rlim_cur != RLIM_INFINITY &&
	    (r.rlim_max == RLIM_INFINITY || r.rlim_cur < r.rlim_max)) {
		struct rlimit want = {.rlim_cur = r.rlim_max, .rlim_max = r.rlim_max};
		/* an unlimited hard limit may still be capped by fs.nr_open */
		if (want.rlim_cur == RLIM_INFINITY)
			want.rlim_cur = 1 << 20;
		if (!setrlimit(RLIMIT_NOFILE, &want))
			r.rlim_cur = want.rlim_cur;
	}
	return r.rlim_cur == RLIM_INFINITY ? UINT32_MAX : (uint64_t)r.rlim_cur;
}

void kp_conn_limit_init(struct kp_engine *e, size_t nhosts)
{
	uint64_t nofile = kp_nofile_raise();
	e->conn_budget = kp_conn_budget(nofile, e->nslots);
	if (nhosts > (size_t)e->conn_budget)
		kp_out_note(&e->out,
			    "open files limited to %llu: at most %d of the %zu hosts' connections "
			    "stay open; idle ones are closed and opened again when needed "
			    "(raise the hard limit, ulimit -Hn, to keep them all)",
			    (unsigned long long)nofile, e->conn_budget, nhosts);
}

void kp_conn_used(struct kp_hoststate *hs)
{
	struct kp_engine *e = hs->engine;
	if (e)
		__atomic_store_n(&hs->conn_used,
				 __atomic_add_fetch(&e->conn_clock, 1, __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
}

/* The idle connection used longest ago, other than self's, with its lock
 * held; NULL when none. */
static struct kp_hoststate *oldest_idle(struct kp_engine *e, const struct kp_hoststate *self)
{
	size_t n = e->ld->inv.nhosts;
	for (;;) {
		struct kp_hoststate *best = NULL;
		uint64_t best_used = UINT64_MAX;
		for (size_t i = 0; i < n; i++) {
			struct kp_hoststate *hs = e->hosts[i];
			uint64_t used = __atomic_load_n(&hs->conn_used, __ATOMIC_RELAXED);
			/* 0: no connection, or one found in use (below) */
			if (hs == self || !used || used >= best_used)
				continue;
			best = hs;
			best_used = used;
		}
		if (!best)
			return NULL;
		if (!pthread_mutex_trylock(&best->conn_lock)) {
			if (best->conn)
				return best;
			pthread_mutex_unlock(&best->conn_lock);
		}
		/* in use (or gone): no candidate again before its next use */
		__atomic_compare_exchange_n(&best->conn_used, &best_used, 0, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	}
}

void kp_conn_make_room(struct kp_engine *e, struct kp_hoststate *self)
{
	/* counted before it opens: workers opening at once cannot all see
	 * room for one more */
	int open = __atomic_add_fetch(&e->open_conns, 1, __ATOMIC_RELAXED);
	if (!e->conn_budget || open <= e->conn_budget)
		return;
	pthread_mutex_lock(&e->conn_evict_lock);
	while (__atomic_load_n(&e->open_conns, __ATOMIC_RELAXED) > e->conn_budget) {
		struct kp_hoststate *hs = oldest_idle(e, self);
		if (!hs)
			break; /* every other connection is in use */
		kp_host_conn_close(hs);
		pthread_mutex_unlock(&hs->conn_lock);
	}
	pthread_mutex_unlock(&e->conn_evict_lock);
}
