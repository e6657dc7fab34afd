/* test_journal.c - the run journal: records on disk as they happen, and
 * what a resume reads back from them. */
#include "unit.h"

#include <sys/stat.h>
#include <unistd.h>

#include "output/journal.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/kplan-journal.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static struct kp_value *json(const char *s)
{
	struct kp_value *v = NULL;
	assert_int_equal(kp_value_from_json(s, strlen(s), &v, NULL), KP_OK);
	return v;
}

static void start(struct kp_journal *j, const char *resumed)
{
	struct kp_buf err = KP_BUF_INIT;
	const char *inv[] = {"hosts.yml"};
	struct kp_run_identity id = {
	    .plan = "site.yml", .inventories = inv, .ninventories = 1, .command = "run"};
	snprintf(id.plan_sha256, sizeof(id.plan_sha256), "%064d", 1);
	snprintf(id.inventory_sha256, sizeof(id.inventory_sha256), "%064d", 2);
	assert_int_equal(kp_journal_open(j, dir, &id, resumed, &err), KP_OK);
	kp_buf_release(&err);
}

static void test_files_sha256(void **state)
{
	char a[128], out[65], out2[65];
	struct kp_buf err = KP_BUF_INIT;
	snprintf(a, sizeof(a), "%s/a.yml", dir);
	FILE *f = fopen(a, "w");
	fputs("x: 1\n", f);
	fclose(f);
	const char *paths[] = {a};
	assert_int_equal(kp_files_sha256(paths, 1, out, &err), KP_OK);
	f = fopen(a, "w");
	fputs("x: 2\n", f);
	fclose(f);
	assert_int_equal(kp_files_sha256(paths, 1, out2, &err), KP_OK);
	assert_string_not_equal(out, out2); /* a changed file changes the digest */
	const char *missing[] = {"/nonexistent/plan.yml"};
	assert_int_equal(kp_files_sha256(missing, 1, out, &err), KP_ERR_IO);
	assert_string_equal(err.buf,
			    "cannot read '/nonexistent/plan.yml': No such file or directory");
	kp_buf_release(&err);
}

static void test_records_and_resume(void **state)
{
	struct kp_journal j;
	struct kp_resume r;
	struct kp_buf err = KP_BUF_INIT;
	start(&j, NULL);
	struct kp_value *reg = json("{\"stdout\":\"Kubernetes v1.13.0\",\"rc\":0}");
	kp_journal_result(&j, "p1.tasks.0", "read version", "m1", "ok", reg, "kv", false);
	kp_journal_result(&j, "p1.tasks.0", "read version", "w1", "ok", reg, "kv", false);
	kp_journal_result(&j, "p1.tasks.1", "secret", "m1", "changed", reg, "tok", true);
	kp_journal_result(&j, "p1.tasks.2", "drain", "w1", "failed", NULL, NULL, false);
	kp_journal_cordon(&j, "m1", "m1", true);
	kp_journal_cordon(&j, "m1", "m1", false);
	kp_journal_cordon(&j, "w1", "w1", true);
	/* the controller dies here: no run_end; a half-written last line */
	char path[256];
	snprintf(path, sizeof(path), "%s", j.path);
	char *id = kp_xstrdup(j.run_id);
	kp_journal_close(&j);
	FILE *f = fopen(path, "a");
	fputs("{\"type\":\"result\",\"task_id\":\"p1.ta", f);
	fclose(f);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(kp_resume_load(dir, NULL, &r, &err), KP_OK);
	assert_string_equal(r.run_id, id);
	assert_false(r.ended);
	assert_true(kp_resume_done(&r, "p1.tasks.0", "m1"));
	assert_true(kp_resume_done(&r, "p1.tasks.0", "w1"));
	/* a no_log registered value was never written: that task runs again */
	assert_false(kp_resume_done(&r, "p1.tasks.1", "m1"));
	assert_false(kp_resume_done(&r, "p1.tasks.2", "w1"));
	const struct kp_value *kv = kp_map_get(kp_map_get(r.facts, "w1"), "kv");
	assert_non_null(kv);
	assert_string_equal(kp_map_get(kv, "stdout")->u.str.s, "Kubernetes v1.13.0");
	assert_null(kp_map_get(kp_map_get(r.facts, "m1"), "tok"));
	assert_int_equal(kp_map_len(r.cordoned), 1);
	assert_string_equal(kp_map_key(r.cordoned, 0), "w1");
	kp_resume_release(&r);

	/* by id, and a missing one */
	assert_int_equal(kp_resume_load(dir, id, &r, &err), KP_OK);
	kp_resume_release(&r);
	assert_int_equal(kp_resume_load(dir, "19990101T000000Z-000000", &r, &err), KP_ERR_NOTFOUND);
	char want[256];
	snprintf(want, sizeof(want), "no run '19990101T000000Z-000000' in '%s'", dir);
	assert_string_equal(err.buf, want);
	kp_value_unref(reg);
	free(id);
	kp_buf_release(&err);
}

static void test_end_and_secrets(void **state)
{
	struct kp_journal j;
	struct kp_resume r;
	struct kp_buf err = KP_BUF_INIT, text = KP_BUF_INIT;
	start(&j, "20261121T000000Z-abcdef");
	struct kp_value *reg = json("{\"ansible_become_password\":\"hunter2\"}");
	kp_journal_result(&j, "p1.tasks.0", "t", "h", "ok", reg, "r", false);
	kp_journal_end(&j, 0, NULL);
	kp_read_file(j.path, 0, &text, &err);
	assert_null(strstr(text.buf, "hunter2")); /* secrets never reach the disk */
	assert_non_null(strstr(text.buf, "\"resumed_from\":\"20261121T000000Z-abcdef\""));
	kp_journal_close(&j);
	assert_int_equal(kp_resume_load(dir, NULL, &r, &err), KP_OK);
	assert_true(r.ended);
	assert_int_equal(r.exit_code, 0);
	kp_resume_release(&r);
	kp_value_unref(reg);
	kp_buf_release(&text);
	kp_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_files_sha256, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_records_and_resume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_end_and_secrets, setup, teardown),
	};
	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
