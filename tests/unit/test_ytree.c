/* test_ytree.c - the YAML node tree: positions, anchors, merges, errors. */
#include "unit.h"
#include "core/ytree.h"

static struct kp_doc *load(const char *text, struct kp_buf *err)
{
	struct kp_doc *d = NULL;
	kp_rc rc = kp_yaml_load_string("t.yml", text, strlen(text), &d, err);
	return rc ? NULL : d;
}

static char *json_of(const char *text)
{
	struct kp_buf err = KP_BUF_INIT, out = KP_BUF_INIT;
	struct kp_doc *d = load(text, &err);
	struct kp_value *v;
	assert_non_null(d);
	assert_int_equal(kp_node_to_value(d->root, &v, &err), KP_OK);
	kp_value_to_json(v, true, false, &out);
	kp_value_unref(v);
	kp_doc_free(d);
	kp_buf_release(&err);
	return kp_buf_detach(&out, NULL);
}

static void expect_error(const char *text, const char *msg)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_doc *d = load(text, &err);
	assert_null(d);
	assert_string_equal(err.buf, msg);
	kp_buf_release(&err);
}

static void test_positions(void **state)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_doc *d =
	    load("- name: x\n  hosts: all\n  tasks:\n    - debug: {msg: hi}\n", &err);
	assert_non_null(d);
	struct kp_node *play = d->root->items[0];
	assert_int_equal(play->line, 1);
	assert_int_equal(play->col, 3);
	struct kp_node *tasks = kp_node_map_get(play, "tasks");
	assert_int_equal(tasks->line, 4);
	assert_int_equal(tasks->col, 5);
	struct kp_node *dbg = kp_node_map_get(tasks->items[0], "debug");
	assert_int_equal(dbg->col, 14);
	assert_string_equal(dbg->file, "t.yml");
	kp_doc_free(d);
	kp_buf_release(&err);
}

static void test_types(void **state)
{
	char *s = json_of("[1, -2, 0x10, 0o17, 0644, 1.5, yes, No, 'yes', ~, null, '', 1.13.3]");
	assert_string_equal(
	    s, "[1,-2,16,15,\"0644\",1.5,true,false,\"yes\",null,null,\"\",\"1.13.3\"]");
	free(s);
}

static void test_anchors_and_merge(void **state)
{
	char *s = json_of("base: &b {x: 1, y: 2}\n"
			  "more: &m {z: 9}\n"
			  "m:\n  y: 3\n  <<: [*b, *m]\n"
			  "l: [*b]\n");
	assert_string_equal(s, "{\"base\":{\"x\":1,\"y\":2},\"more\":{\"z\":9},"
			       "\"m\":{\"y\":3,\"x\":1,\"z\":9},\"l\":[{\"x\":1,\"y\":2}]}");
	free(s);
}

static void test_secret(void **state)
{
	char *s = json_of("password: !secret hunter2\nother_password: x\n");
	assert_string_equal(s, "{\"password\":\"<hidden>\",\"other_password\":\"<hidden>\"}");
	free(s);
}

static void test_errors(void **state)
{
	expect_error("a: 1\nb: 2\na: 3\n", "t.yml:3:1: duplicate key 'a' (first at line 1)");
	expect_error("a:\n\t- b\n",
		     "t.yml:2:1: tab character where indentation is expected (YAML indents with "
		     "spaces only)");
	expect_error("- a\n---\n- b\n",
		     "t.yml:2:1: a second YAML document ('---'): only one document is allowed per "
		     "file");
	expect_error("a: *nope\n", "t.yml:1:4: alias '*nope' refers to no anchor");
	expect_error("a: &x [*x]\n", "t.yml:1:8: alias '*x' refers to a node that contains it "
				     "(recursive YAML is not supported)");
	expect_error("a: b: c\n", "t.yml:1:5: mapping values are not allowed in this context");
	expect_error(
	    "m:\n  <<: 5\n",
	    "t.yml:2:7: merge key '<<' needs a mapping or a list of mappings, not a number");
	expect_error("? [a]\n: 1\n", "t.yml:1:3: mapping keys must be plain values, not a list");
}

/* The line and column of the bad sequence, counting characters: the
 * "é" before it is two bytes but one column. */
static void test_invalid_utf8(void **state)
{
	expect_error("a: 1\nb: x\xff\n",
		     "t.yml:2:5: invalid leading UTF-8 octet (the file is not valid UTF-8 text)");
	expect_error("- name: p\n  tasks:\n    - name: caf\xe9 \xff\n",
		     "t.yml:3:16: invalid trailing UTF-8 octet (the file is not valid UTF-8 text)");
	expect_error("\xef\xbb\xbf\xc3\xa9: \xc3",
		     "t.yml:1:4: incomplete UTF-8 octet sequence (the file is not valid UTF-8 "
		     "text)");
}

/* A message quoting user text stays on one line. */
static void test_one_line_errors(void **state)
{
	expect_error("\"a\\nb\": 1\n\"a\\nb\": 2\n",
		     "t.yml:2:1: duplicate key 'a\\nb' (first at line 1)");
	struct kp_buf err = KP_BUF_INIT;
	kp_node_errorf(&err, KP_ERR_INVALID, NULL, "got '%s'", "x\r\ny");
	assert_string_equal(err.buf, "got 'x\\r\\ny'");
	kp_buf_release(&err);
}

static void test_depth_limit(void **state)
{
	size_t n = 10000;
	char *deep = malloc(2 * n + 1);
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	deep[2 * n] = '\0';
	expect_error(deep, "t.yml:1:257: nesting deeper than 256 levels");
	free(deep);
}

static void test_nul_and_empty(void **state)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_doc *d = NULL;
	assert_int_equal(kp_yaml_load_string("t.yml", "a: 1\nb\0c", 9, &d, &err), KP_ERR_PARSE);
	assert_string_equal(err.buf, "t.yml:2:2: NUL byte in file: this is not a YAML text file");
	d = load("# only a comment\n", &err);
	assert_non_null(d);
	assert_null(d->root);
	kp_doc_free(d);
	kp_buf_release(&err);
}

/* Aliases that repeat a node load, however many there are; aliases that
 * multiply the document stop at the alias that crosses the budget. */
static void test_alias_budget(void **state)
{
	(void)state;
	struct kp_buf text = KP_BUF_INIT, err = KP_BUF_INIT;
	/* 3000 hosts merging 20 defaults: about 130,000 nodes expanded */
	kp_buf_addstr(&text, "defaults: &d {");
	for (int i = 0; i < 20; i++)
		kp_buf_addf(&text, "%sk%d: v%d", i ? ", " : "", i, i);
	kp_buf_addstr(&text, "}\nhosts:\n");
	for (int i = 0; i < 3000; i++)
		kp_buf_addf(&text, "  h%d: {<<: *d, name: h%d}\n", i, i);
	struct kp_doc *d = load(text.buf, &err);
	assert_non_null(d);
	assert_int_equal(kp_node_map_get(d->root, "hosts")->n, 3000);
	kp_doc_free(d);

	/* ten lists of ten, six deep: a million nodes from 70 */
	kp_buf_reset(&text);
	kp_buf_addstr(&text, "l0: &l0 [a,a,a,a,a,a,a,a,a,a]\n");
	for (int i = 1; i < 7; i++) {
		kp_buf_addf(&text, "l%d: &l%d [", i, i);
		for (int k = 0; k < 10; k++)
			kp_buf_addf(&text, "%s*l%d", k ? "," : "", i - 1);
		kp_buf_addstr(&text, "]\n");
	}
	assert_null(load(text.buf, &err));
	assert_string_equal(err.buf, "t.yml:5:38: alias '*l3' expands the document past 100000 "
				     "nodes (21 written so far): aliases may repeat a node, not "
				     "multiply the document");
	kp_buf_release(&text);
	kp_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_positions),
	    cmocka_unit_test(test_types),
	    cmocka_unit_test(test_anchors_and_merge),
	    cmocka_unit_test(test_secret),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_one_line_errors),
	    cmocka_unit_test(test_depth_limit),
	    cmocka_unit_test(test_alias_budget),
	    cmocka_unit_test(test_nul_and_empty),
	};
	return cmocka_run_group_tests_name("ytree", tests, NULL, NULL);
}
