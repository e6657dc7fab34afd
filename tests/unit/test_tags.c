/* test_tags.c - --tags / --skip-tags selection. */
#include "unit.h"
#include "model/tags.h"

static bool sel(const char *tags, const char *only, const char *skip)
{
	struct kp_strlist t = {0}, o = {0}, s = {0};
	kp_strlist_push_csv(&t, tags);
	kp_strlist_push_csv(&o, only);
	kp_strlist_push_csv(&s, skip);
	bool r = kp_tags_selected(&t, &o, &s);
	kp_strlist_release(&t);
	kp_strlist_release(&o);
	kp_strlist_release(&s);
	return r;
}

static void test_csv(void **state)
{
	struct kp_strlist l = {0};
	kp_strlist_push_csv(&l, " a, b ,,c ");
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "a");
	assert_string_equal(l.v[1], "b");
	assert_string_equal(l.v[2], "c");
	kp_strlist_release(&l);
}

static void test_selection(void **state)
{
	/* no selectors: everything but never */
	assert_true(sel("", "", ""));
	assert_true(sel("upgrade", "", ""));
	assert_false(sel("never", "", ""));
	assert_true(sel("never,always", "", ""));
	/* --tags */
	assert_true(sel("upgrade", "upgrade", ""));
	assert_false(sel("backup", "upgrade", ""));
	assert_false(sel("", "upgrade", ""));
	assert_true(sel("always", "upgrade", ""));
	assert_true(sel("never,debug", "debug", ""));
	assert_false(sel("never,debug", "all", ""));
	assert_true(sel("x", "tagged", ""));
	assert_false(sel("", "tagged", ""));
	assert_true(sel("", "untagged", ""));
	/* --skip-tags */
	assert_false(sel("upgrade", "", "upgrade"));
	assert_true(sel("backup", "", "upgrade"));
	assert_false(sel("always", "", "always"));
	assert_false(sel("upgrade,backup", "upgrade", "backup"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_csv),
	    cmocka_unit_test(test_selection),
	};
	return cmocka_run_group_tests_name("tags", tests, NULL, NULL);
}
