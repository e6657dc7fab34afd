/* test_batch.c - rolling batch sizes from `serial`. */
#include "unit.h"
#include "model/batch.h"

static void check(const struct kp_serial_step *steps, size_t nsteps, size_t nhosts,
		  const size_t *want, size_t nwant)
{
	size_t got[64];
	size_t n = kp_serial_sizes(steps, nsteps, nhosts, got, 64);
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]);
}

static void test_no_serial(void **state)
{
	size_t w[] = {7};
	check(NULL, 0, 7, w, 1);
	check(NULL, 0, 0, NULL, 0);
}

static void test_int(void **state)
{
	struct kp_serial_step s[] = {{false, 2}};
	size_t w[] = {2, 2, 2, 1};
	check(s, 1, 7, w, 4);
	struct kp_serial_step one[] = {{false, 1}};
	size_t w1[] = {1, 1, 1};
	check(one, 1, 3, w1, 3);
	struct kp_serial_step big[] = {{false, 50}};
	size_t wb[] = {3};
	check(big, 1, 3, wb, 1);
}

static void test_percent(void **state)
{
	/* 20% of 7 = 1.4 -> 1 */
	struct kp_serial_step s[] = {{true, 20}};
	size_t w[] = {1, 1, 1, 1, 1, 1, 1};
	check(s, 1, 7, w, 7);
	/* 30% of 10 = 3 */
	struct kp_serial_step t[] = {{true, 30}};
	size_t wt[] = {3, 3, 3, 1};
	check(t, 1, 10, wt, 4);
	/* 1% of 3 rounds down to 0: never below 1 */
	struct kp_serial_step u[] = {{true, 1}};
	size_t wu[] = {1, 1, 1};
	check(u, 1, 3, wu, 3);
	struct kp_serial_step all[] = {{true, 100}};
	size_t wa[] = {5};
	check(all, 1, 5, wa, 1);
}

static void test_list(void **state)
{
	/* [1, 2, "50%"] on 7 hosts: 1, 2, then 3 (50% of 7) repeating */
	struct kp_serial_step s[] = {{false, 1}, {false, 2}, {true, 50}};
	size_t w[] = {1, 2, 3, 1};
	check(s, 3, 7, w, 4);
	/* [1, 5, "20%"] on 20 hosts: 1, 5, then 4 repeating */
	struct kp_serial_step k[] = {{false, 1}, {false, 5}, {true, 20}};
	size_t wk[] = {1, 5, 4, 4, 4, 2};
	check(k, 3, 20, wk, 6);
	/* the list longer than the hosts */
	check(s, 3, 2, (size_t[]){1, 1}, 2);
}

/* A bad pattern is reported at the play's `hosts:` (a rendered template is
 * checked only here); a bad --limit has no position. */
static void test_pattern_errors(void **state)
{
	struct kp_inventory inv;
	struct kp_buf err = KP_BUF_INIT;
	struct kp_batches b;
	struct kp_play play = {.hosts_pos = {"plan.yml", 2, 10}};
	kp_inventory_init(&inv);
	assert_int_equal(kp_inventory_load(&inv, KP_TEST_DATA "/inventory/patterns.yml", &err),
			 KP_OK);
	assert_int_equal(kp_inventory_finalize(&inv, &err), KP_OK);
	assert_int_equal(kp_batches_compute(&play, "web:&", &inv, NULL, &b, NULL, &err),
			 KP_ERR_PARSE);
	assert_string_equal(err.buf, "plan.yml:2:10: invalid host pattern 'web:&': '&' must be "
				     "followed by a pattern");
	assert_int_equal(kp_batches_compute(&play, "all", &inv, "nosuch", &b, NULL, &err),
			 KP_ERR_NOTFOUND);
	assert_string_equal(err.buf, "unknown host or group 'nosuch' in --limit");
	assert_int_equal(kp_batches_compute(&play, "web", &inv, NULL, &b, NULL, &err), KP_OK);
	assert_int_equal(b.nhosts, 3);
	kp_batches_release(&b);
	kp_inventory_release(&inv);
	kp_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_serial),	   cmocka_unit_test(test_int),
	    cmocka_unit_test(test_percent),	   cmocka_unit_test(test_list),
	    cmocka_unit_test(test_pattern_errors),
	};
	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
