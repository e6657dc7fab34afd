/* test_engine.c - the scheduler without any transport: plans made only of
 * controller-side modules (debug, fail, set-fact, assert, pause), checked
 * through the JSON event stream: batches, the sliding window, failure
 * thresholds, facts across plays. */
#include "unit.h"

#include <cjson/cJSON.h>

#include "engine/engine.h"

struct run {
	int code;
	cJSON **ev;
	size_t nev;
	char *text;
};

static void run_plan(const char *plan, struct run *r)
{
	struct kp_runconf o = {0};
	struct kp_loaded ld;
	struct kp_buf err = KP_BUF_INIT;
	size_t len = 0;

	memset(r, 0, sizeof(*r));
	o.plan_path = plan;
	o.extra = kp_value_map();
	o.forks = 10;
	o.format = KP_FMT_JSON;
	o.no_color = true;
	o.timeout_ms = 60000;
	kp_strlist_push(&o.inventories, "tests/data/sched/hosts.yml");
	struct kp_loadopts lo = {
	    .plan_path = plan, .inventories = &o.inventories, .extra = o.extra};
	if (kp_load_all(&lo, &ld, &err))
		fail_msg("%s", err.buf);
	FILE *f = open_memstream(&r->text, &len);
	r->code = kp_run(&o, &ld, f);
	fclose(f);
	for (char *line = strtok(r->text, "\n"); line; line = strtok(NULL, "\n")) {
		r->ev = realloc(r->ev, (r->nev + 1) * sizeof(*r->ev));
		r->ev[r->nev] = cJSON_Parse(line);
		assert_non_null(r->ev[r->nev]);
		r->nev++;
	}
	kp_loaded_release(&ld);
	kp_strlist_release(&o.inventories);
	kp_value_unref(o.extra);
	kp_buf_release(&err);
}

static void run_free(struct run *r)
{
	for (size_t i = 0; i < r->nev; i++)
		cJSON_Delete(r->ev[i]);
	free(r->ev);
	free(r->text);
}

static const char *str(const cJSON *ev, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(ev, key);
	return cJSON_IsString(j) ? j->valuestring : "";
}

static bool is(const cJSON *ev, const char *event)
{
	return !strcmp(str(ev, "event"), event);
}

/* "w1|w2 w3|..." from batch_start events */
static void batches(const struct run *r, struct kp_buf *out)
{
	for (size_t i = 0; i < r->nev; i++) {
		if (!is(r->ev[i], "batch_start"))
			continue;
		if (out->len)
			kp_buf_addch(out, '|');
		const cJSON *h;
		bool first = true;
		cJSON_ArrayForEach(h, cJSON_GetObjectItem(r->ev[i], "hosts"))
		{
			kp_buf_addf(out, "%s%s", first ? "" : " ", h->valuestring);
			first = false;
		}
	}
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "host=status ..." for one task, sorted: hosts of a batch finish in any order */
static void statuses(const struct run *r, const char *task, struct kp_buf *out)
{
	char **v = calloc(r->nev + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < r->nev; i++)
		if (is(r->ev[i], "host_result") && !strcmp(str(r->ev[i], "task"), task)) {
			struct kp_buf b = KP_BUF_INIT;
			kp_buf_addf(&b, "%s=%s", str(r->ev[i], "host"), str(r->ev[i], "status"));
			v[n++] = kp_buf_detach(&b, NULL);
		}
	qsort(v, n, sizeof(*v), cmpstr);
	for (size_t i = 0; i < n; i++) {
		kp_buf_addf(out, "%s%s", i ? " " : "", v[i]);
		free(v[i]);
	}
	free(v);
}

static void test_threshold_exceeded(void **state)
{
	assert_false(kp_fail_threshold_exceeded(0, 3, 0));
	assert_true(kp_fail_threshold_exceeded(1, 3, 0));
	assert_true(kp_fail_threshold_exceeded(1, 3, 33)); /* 33.3% > 33% */
	assert_false(kp_fail_threshold_exceeded(1, 3, 34));
	assert_false(kp_fail_threshold_exceeded(1, 4, 25)); /* must exceed, not reach */
	assert_true(kp_fail_threshold_exceeded(2, 4, 25));
	assert_false(kp_fail_threshold_exceeded(5, 5, 100));
	assert_false(kp_fail_threshold_exceeded(0, 0, 0));
}

static void test_serial_batches(void **state)
{
	struct run r;
	struct kp_buf b = KP_BUF_INIT, s = KP_BUF_INIT;
	run_plan("tests/data/sched/serial.yml", &r);
	assert_int_equal(r.code, KP_EXIT_OK);
	batches(&r, &b);
	assert_string_equal(b.buf, "w1|w2 w3|w4 w5 w6|w7");
	statuses(&r, "debug", &s);
	assert_string_equal(s.buf, "w1=ok w2=ok w3=ok w4=ok w5=ok w6=ok w7=ok");
	kp_buf_release(&b);
	kp_buf_release(&s);
	run_free(&r);
}

static void test_threshold_stops_later_batches(void **state)
{
	struct run r;
	struct kp_buf b = KP_BUF_INIT, s = KP_BUF_INIT;
	run_plan("tests/data/sched/threshold.yml", &r);
	assert_int_equal(r.code, KP_EXIT_STOPPED);
	batches(&r, &b);
	assert_string_equal(b.buf, "w1 w2 w3");
	/* checked after the task: the batch's other hosts do not go on */
	statuses(&r, "after", &s);
	assert_string_equal(s.buf, "");
	assert_string_equal(
	    str(r.ev[r.nev - 1], "reason"),
	    "stopped: 1 of 3 hosts in the batch failed, more than max_fail_percentage "
	    "33%");
	kp_buf_release(&b);
	kp_buf_release(&s);
	run_free(&r);

	run_plan("tests/data/sched/threshold-34.yml", &r);
	assert_int_equal(r.code, KP_EXIT_FAILED);
	batches(&r, &b);
	assert_string_equal(b.buf, "w1 w2 w3|w4 w5 w6|w7");
	statuses(&r, "after", &s);
	assert_string_equal(s.buf, "w1=ok w3=ok w4=ok w6=ok w7=ok");
	kp_buf_release(&b);
	kp_buf_release(&s);
	run_free(&r);
}

static void test_window_keeps_n_in_flight(void **state)
{
	struct run r;
	run_plan("tests/data/sched/window.yml", &r);
	assert_int_equal(r.code, KP_EXIT_OK);
	/* spans from each host's `begin` to its `end` result */
	double start[8] = {0}, end[8] = {0};
	for (size_t i = 0; i < r.nev; i++) {
		if (!is(r.ev[i], "host_result"))
			continue;
		int h = atoi(str(r.ev[i], "host") + 1);
		double ts = cJSON_GetObjectItem(r.ev[i], "ts")->valuedouble;
		double dur = cJSON_GetObjectItem(r.ev[i], "duration_ms")->valuedouble / 1000.0;
		/* ts and durations are whole milliseconds: allow for rounding */
		if (!strcmp(str(r.ev[i], "task"), "begin"))
			start[h] = ts - dur + 0.003;
		else if (!strcmp(str(r.ev[i], "task"), "end"))
			end[h] = ts;
	}
	int most = 0;
	for (int h = 1; h <= 7; h++) {
		assert_true(end[h] > start[h]);
		int inflight = 0;
		for (int k = 1; k <= 7; k++)
			if (start[k] <= start[h] && end[k] > start[h])
				inflight++;
		if (inflight > most)
			most = inflight;
	}
	assert_int_equal(most, 3);
	run_free(&r);
}

static void test_window_threshold(void **state)
{
	struct run r;
	struct kp_buf s = KP_BUF_INIT;
	run_plan("tests/data/sched/window-fail.yml", &r);
	assert_int_equal(r.code, KP_EXIT_STOPPED);
	/* both first hosts failed: no further host starts */
	statuses(&r, "work", &s);
	assert_string_equal(s.buf, "w1=failed w2=failed");
	kp_buf_release(&s);
	run_free(&r);
}

static void test_facts_across_plays(void **state)
{
	struct run r;
	struct kp_buf s = KP_BUF_INIT;
	run_plan("tests/data/sched/facts.yml", &r);
	assert_int_equal(r.code, KP_EXIT_OK);
	statuses(&r, "assert", &s);
	assert_string_equal(s.buf, "w1=ok w1=ok w2=ok w2=ok");
	kp_buf_release(&s);
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_threshold_exceeded),
	    cmocka_unit_test(test_serial_batches),
	    cmocka_unit_test(test_threshold_stops_later_batches),
	    cmocka_unit_test(test_window_keeps_n_in_flight),
	    cmocka_unit_test(test_window_threshold),
	    cmocka_unit_test(test_facts_across_plays),
	};
	return cmocka_run_group_tests_name("engine", tests, NULL, NULL);
}
