/* test_report.c - the preview model: rows filed per batch and host whatever
 * the order they arrive in, pending counts, secrets, markdown escaping. */
#include "unit.h"

#include "output/report.h"
#include "core/value.h"

/* The renderings write to a stream: into a buffer here. */
static void render(struct kp_report *r, bool json, struct kp_buf *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	if (json)
		kp_report_json(r, f);
	else
		kp_report_markdown(r, f);
	fclose(f);
	kp_buf_add(out, text, len);
	free(text);
}

static void add(struct kp_report *r, const char *host, const char *task, const char *status,
		const char *outcome, bool pending)
{
	struct kp_report_row w = {.task = (char *)task,
				  .module = "apt-pin",
				  .status = (char *)status,
				  .outcome = (char *)outcome,
				  .pending = pending};
	kp_report_add(r, host, &w);
}

static void build(struct kp_report *r, bool reversed)
{
	static const char *const hosts[] = {"a", "b"};
	struct kp_value *extra = kp_value_map();
	kp_map_set_take(extra, "db_password", kp_value_str("hunter2"));
	kp_map_set_take(extra, "kube_version", kp_value_str("1.13.3"));
	kp_report_init(r, KP_REPORT_CHECK, "p.yml", NULL, NULL, NULL, NULL, extra, false);
	kp_value_unref(extra);
	kp_report_play(r, 1, 1, "up", "all", NULL, 2);
	kp_report_batch(r, 1, 1, false, hosts, 2);
	/* threads: b's results may come first; each host's own stay in order */
	if (reversed) {
		add(r, "b", "t1", "changed", "x 1 -> 2", true);
		add(r, "a", "t1", "ok", "", false);
		add(r, "b", "t2", "failed", "no <version> | here", false);
		add(r, "a", "t2", "changed", "y", true);
	} else {
		add(r, "a", "t1", "ok", "", false);
		add(r, "a", "t2", "changed", "y", true);
		add(r, "b", "t1", "changed", "x 1 -> 2", true);
		add(r, "b", "t2", "failed", "no <version> | here", false);
	}
}

static void test_order_independent(void **state)
{
	(void)state;
	struct kp_report r1, r2;
	struct kp_buf m1 = KP_BUF_INIT, m2 = KP_BUF_INIT, j1 = KP_BUF_INIT, j2 = KP_BUF_INIT;
	build(&r1, false);
	build(&r2, true);
	render(&r1, false, &m1);
	render(&r2, false, &m2);
	render(&r1, true, &j1);
	render(&r2, true, &j2);
	assert_string_equal(m1.buf, m2.buf);
	assert_string_equal(j1.buf, j2.buf);
	size_t hosts = 0;
	assert_int_equal(kp_report_pending(&r1, &hosts), 2);
	assert_int_equal(hosts, 2);
	kp_buf_release(&m1);
	kp_buf_release(&m2);
	kp_buf_release(&j1);
	kp_buf_release(&j2);
	kp_report_release(&r1);
	kp_report_release(&r2);
}

static void test_markdown(void **state)
{
	(void)state;
	struct kp_report r;
	struct kp_buf m = KP_BUF_INIT;
	build(&r, true);
	render(&r, false, &m);
	/* secrets hidden, sorted -e */
	assert_null(strstr(m.buf, "hunter2"));
	assert_non_null(strstr(m.buf, "`db_password=<hidden>`, `kube_version=1.13.3`"));
	/* blocking problems come before the summary and the plays */
	const char *blk = strstr(m.buf, "## Blocking problems");
	assert_non_null(blk);
	assert_true(blk < strstr(m.buf, "## Summary"));
	assert_non_null(strstr(blk, "- **b** (play 1, batch 1/1), t2 `apt-pin`: failed: no "
				    "&lt;version&gt; \\| here\n"));
	/* hosts in batch order, a before b */
	assert_true(strstr(m.buf, "#### a") < strstr(m.buf, "#### b"));
	assert_non_null(strstr(m.buf, "**2 changes pending on 2 hosts.**"));
	kp_buf_release(&m);
	kp_report_release(&r);
}

static void test_no_log_and_long(void **state)
{
	(void)state;
	struct kp_report r;
	struct kp_buf m = KP_BUF_INIT, j = KP_BUF_INIT;
	kp_report_init(&r, KP_REPORT_CHECK, "p.yml", NULL, NULL, NULL, NULL, NULL, true);
	struct kp_report_row w = {.task = "secret",
				  .module = "copy",
				  .status = "changed",
				  .outcome = "token=abc",
				  .diff = "-token=old\n+token=abc\n",
				  .pending = true,
				  .no_log = true};
	kp_report_add(&r, "h", &w);
	char longmsg[400];
	memset(longmsg, 'p', sizeof(longmsg) - 1);
	longmsg[sizeof(longmsg) - 1] = 0;
	memcpy(longmsg, "would evict 9 pods: ", 20);
	struct kp_report_row d = {.task = "Drain",
				  .module = "drain",
				  .status = "changed",
				  .outcome = longmsg,
				  .pending = true};
	kp_report_add(&r, "h", &d);
	render(&r, false, &m);
	render(&r, true, &j);
	assert_null(strstr(m.buf, "abc"));
	assert_null(strstr(j.buf, "abc"));
	assert_non_null(strstr(m.buf, "| would evict 9 pods … (in full below) |"));
	assert_non_null(
	    strstr(m.buf, "<details><summary>h #2 Drain: in full</summary>\n\n```text\n"));
	assert_non_null(strstr(j.buf, "\"format\": \"kplan-preview\""));
	kp_buf_release(&m);
	kp_buf_release(&j);
	kp_report_release(&r);
}

/* A host's own name is marked where it stands as a word, and given back
 * whole; hosts whose rows are equal after that fold, in first-host order. */
static void test_fold(void **state)
{
	(void)state;
	static const char *const hosts[] = {"n1", "n2", "n10", "n3"};
	struct kp_report r;
	kp_report_init(&r, KP_REPORT_PLAN, "p.yml", NULL, NULL, NULL, NULL, NULL, false);
	kp_report_play(&r, 1, 1, "up", "all", NULL, 4);
	kp_report_batch(&r, 1, 1, false, hosts, 4);
	struct kp_buf o = KP_BUF_INIT;
	for (size_t h = 0; h < 4; h++) {
		kp_buf_reset(&o);
		/* n3 differs: a literal \x01 in its text, kept as it is */
		kp_buf_addf(&o, "dest=/etc/%s.conf peer=n10 n1x%s", hosts[h],
			    h == 3 ? " \x01\x02" : "");
		struct kp_report_row w = {
		    .task = "t", .module = "copy", .status = "runs", .outcome = o.buf};
		kp_report_add(&r, hosts[h], &w);
	}
	const struct kp_report_batch *b = &r.plays[0].batches[0];
	for (size_t h = 0; h < 4; h++) {
		struct kp_report_xrow x;
		kp_report_expand(&b->hosts[h], b->hosts[h].rows[0], &x);
		kp_buf_reset(&o);
		kp_buf_addf(&o, "dest=/etc/%s.conf peer=n10 n1x%s", hosts[h],
			    h == 3 ? " \x01\x02" : "");
		assert_string_equal(x.w.outcome, o.buf);
		kp_report_xrow_release(&x);
	}
	struct kp_report_fold f;
	kp_report_fold_init(&f, b, true);
	/* n10's own name is in "peer=n10": it stands alone */
	assert_int_equal(f.ngroups, 3);
	assert_int_equal(f.first[1], 0);
	assert_int_equal(f.first[2], 2);
	assert_int_equal(f.first[3], 3);
	kp_buf_reset(&o);
	kp_report_fold_label(&f, b, 0, &o);
	assert_string_equal(o.buf, "n1 … n2 (2 hosts)");
	kp_report_fold_release(&f);
	kp_report_fold_init(&f, b, false);
	assert_int_equal(f.ngroups, 4);
	kp_report_fold_release(&f);
	kp_buf_reset(&o);
	kp_report_count(4900, &o);
	kp_report_count(123, &o);
	kp_report_count(1234567, &o);
	assert_string_equal(o.buf, "4,9001231,234,567");
	kp_buf_release(&o);
	kp_report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_order_independent),
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_markdown),
	    cmocka_unit_test(test_no_log_and_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
