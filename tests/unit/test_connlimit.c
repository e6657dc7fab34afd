/* test_connlimit.c - how many connections a run keeps open: the budget an
 * open file limit allows, the soft limit raised to the hard one, and idle
 * connections closed past the budget, the one used longest ago first,
 * never one in use. */
#include "unit.h"

#include <sys/resource.h>

#include "engine/engine_int.h"
#include "model/load.h"

static void test_budget(void **state)
{
	/* a reserve of 32 and 4 a worker, the rest for connections */
	assert_int_equal(kp_conn_budget(1024, 10), 1024 - 32 - 40);
	assert_int_equal(kp_conn_budget(20000, 50), 20000 - 32 - 200);
	/* a limit under twice the reserve: half of it */
	assert_int_equal(kp_conn_budget(256, 50), 128);
	assert_int_equal(kp_conn_budget(1, 1), 1);
	assert_int_equal(kp_conn_budget(UINT64_MAX, 10), INT32_MAX);
}

static void test_soft_limit_raised(void **state)
{
	struct rlimit was, low, now;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	if (was.rlim_max != RLIM_INFINITY && was.rlim_max <= 64)
		skip();
	low = (struct rlimit){.rlim_cur = 64, .rlim_max = was.rlim_max};
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	uint64_t got = kp_nofile_raise();
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &now), 0);
	assert_true(now.rlim_cur > 64);
	assert_true(now.rlim_cur == was.rlim_max || was.rlim_max == RLIM_INFINITY);
	assert_int_equal(got, now.rlim_cur);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
}

#define NHOSTS 5

struct fake {
	struct kp_loaded ld;
	struct kp_engine e;
	struct kp_hoststate hs[NHOSTS];
	struct kp_hoststate *hp[NHOSTS]; /* the engine's table: a pointer per host */
};

/* NHOSTS hosts, each with an open (local) connection, used in order */
static void fake_init(struct fake *f, int budget)
{
	memset(f, 0, sizeof(*f));
	f->ld.inv.nhosts = NHOSTS;
	f->e.ld = &f->ld;
	for (int i = 0; i < NHOSTS; i++)
		f->hp[i] = &f->hs[i];
	f->e.hosts = f->hp;
	f->e.conn_budget = budget;
	pthread_mutex_init(&f->e.conn_evict_lock, NULL);
	for (int i = 0; i < NHOSTS; i++) {
		f->hs[i].engine = &f->e;
		pthread_mutex_init(&f->hs[i].conn_lock, NULL);
		f->hs[i].conn = kp_xcalloc(1, sizeof(struct kp_conn));
		f->hs[i].conn->ops = &kp_transport_local;
		f->e.open_conns++;
		kp_conn_used(&f->hs[i]);
	}
}

/* host i's connection opened after kp_conn_make_room counted it */
static void fake_open(struct fake *f, int i)
{
	f->hs[i].conn = kp_xcalloc(1, sizeof(struct kp_conn));
	f->hs[i].conn->ops = &kp_transport_local;
	kp_conn_used(&f->hs[i]);
}

static void fake_release(struct fake *f)
{
	for (int i = 0; i < NHOSTS; i++) {
		kp_host_conn_close(&f->hs[i]);
		pthread_mutex_destroy(&f->hs[i].conn_lock);
	}
	assert_int_equal(f->e.open_conns, 0);
	pthread_mutex_destroy(&f->e.conn_evict_lock);
}

static void test_oldest_idle_closed_first(void **state)
{
	struct fake f;
	fake_init(&f, 3);
	kp_conn_used(&f.hs[0]); /* host 0 used last now: host 1 is the oldest */
	/* host 4 needs a connection of its own again: 3 with it */
	kp_host_conn_close(&f.hs[4]);
	kp_conn_make_room(&f.e, &f.hs[4]);
	assert_int_equal(f.e.open_conns, 3);
	assert_null(f.hs[1].conn);
	assert_null(f.hs[2].conn);
	assert_non_null(f.hs[0].conn);
	assert_non_null(f.hs[3].conn);
	fake_open(&f, 4);
	fake_release(&f);
}

static void test_in_use_kept(void **state)
{
	struct fake f;
	fake_init(&f, 1);
	/* host 0, the oldest, is in use (its lock held) and host 4, whose
	 * connection was closed, needs one again */
	kp_host_conn_close(&f.hs[4]);
	pthread_mutex_lock(&f.hs[0].conn_lock);
	kp_conn_make_room(&f.e, &f.hs[4]);
	pthread_mutex_unlock(&f.hs[0].conn_lock);
	assert_non_null(f.hs[0].conn);
	assert_null(f.hs[1].conn);
	assert_null(f.hs[2].conn);
	assert_null(f.hs[3].conn);
	/* nothing else idle: the budget is exceeded rather than a task's
	 * connection taken away */
	assert_int_equal(f.e.open_conns, 2);
	fake_open(&f, 4);
	fake_release(&f);
}

static void test_under_budget_untouched(void **state)
{
	struct fake f;
	fake_init(&f, NHOSTS);
	kp_host_conn_close(&f.hs[0]);
	kp_conn_make_room(&f.e, &f.hs[0]);
	assert_int_equal(f.e.open_conns, NHOSTS);
	for (int i = 1; i < NHOSTS; i++)
		assert_non_null(f.hs[i].conn);
	fake_open(&f, 0);
	fake_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_soft_limit_raised),
	    cmocka_unit_test(test_oldest_idle_closed_first),
	    cmocka_unit_test(test_in_use_kept),
	    cmocka_unit_test(test_under_budget_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
