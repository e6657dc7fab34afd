/*
 * test_jinja_filters.c - what the Jinja corpus (tests/jinja, held against
 * ansible-core) cannot reach in the filter, test and lookup library: the
 * guards (a regex that would backtrack for hours, the evaluation budget,
 * nesting limits), the files the password lookup leaves behind, the
 * working directory of pipe, randomness, and the consistency of the
 * tables (every name once, the refused names not among them).
 */
#include "unit.h"

#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/value.h"
#include "expr/expr.h"
#include "expr/jinja/jlib.h"

struct ctx {
	struct kp_lua *L;
	struct kp_value *vars;
	struct kp_scope s;
	struct kp_buf err;
	char dir[64]; /* a private directory: base_dir and password files */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct kp_buf err = KP_BUF_INIT;
	snprintf(c->dir, sizeof c->dir, "/tmp/kplan-jf-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	c->L = kp_lua_new();
	const char *json = "{\"nums\":[1,2,3,4,5,6,7,8,9,10],\"s\":\"text\"}";
	assert_int_equal(kp_value_from_json(json, strlen(json), &c->vars, &err), KP_OK);
	kp_buf_release(&err);
	c->s.layers[0] = c->vars;
	c->s.nlayers = 1;
	c->s.base_dir = c->dir;
	kp_buf_init(&c->err);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
	kp_lua_free(c->L);
	kp_value_unref(c->vars);
	kp_buf_release(&c->err);
	free(c);
	return 0;
}

/* Render "{{ expr }}": the value (caller unrefs), or NULL with *rc set and
 * the message in c->err. */
static struct kp_value *eval(struct ctx *c, const char *expr, kp_rc *rc)
{
	struct kp_buf src = KP_BUF_INIT;
	struct kp_template *t = NULL;
	struct kp_value *v = NULL;
	struct kp_pos pos = {"test.yml", 1, 1};
	kp_buf_addf(&src, "{{ %s }}", expr);
	kp_buf_reset(&c->err);
	*rc = kp_template_compile(src.buf, src.len, pos, &t, &c->err);
	if (!*rc)
		*rc = kp_template_render(c->L, t, &c->s, &v, &c->err);
	kp_template_free(t);
	kp_buf_release(&src);
	return *rc ? NULL : v;
}

static struct kp_value *eval_ok(struct ctx *c, const char *expr)
{
	kp_rc rc;
	struct kp_value *v = eval(c, expr, &rc);
	if (!v)
		fail_msg("'%s' failed: %s", expr, c->err.buf);
	return v;
}

static void eval_fails(struct ctx *c, const char *expr, kp_rc want, const char *msg)
{
	kp_rc rc;
	struct kp_value *v = eval(c, expr, &rc);
	if (v)
		fail_msg("'%s' should fail", expr);
	if (rc != want)
		fail_msg("'%s': rc %d (%s), want %d", expr, rc, c->err.buf, want);
	if (!strstr(c->err.buf, msg))
		fail_msg("'%s': message '%s' lacks '%s'", expr, c->err.buf, msg);
}

/* A pattern with nested quantifiers against a string it almost matches
 * would backtrack for hours; PCRE2's match limit stops it. */
static void test_regex_guard(void **state)
{
	struct ctx *c = *state;
	time_t t0 = time(NULL);
	eval_fails(c, "('a' * 40 + '!') | regex_search('^(a|aa)+$')", KP_ERR_LIMIT,
		   "backtracks too much");
	eval_fails(c, "('a' * 40 + '!') is match('(a|a?)+$')", KP_ERR_LIMIT, "backtracks too much");
	assert_true(time(NULL) - t0 < (unit_valgrind() ? 120 : 20));
	/* many matches in a long subject stay linear: 50,000 matches in
	 * 1.2 MB (quadratic, this took minutes) */
	t0 = time(NULL);
	struct kp_value *n = eval_ok(
	    c, "[('key x=1 more text here\n' * 50000) | regex_findall('x=(\\d+)') | length]");
	assert_int_equal(kp_list_at(n, 0)->u.i, 50000);
	kp_value_unref(n);
	assert_true(time(NULL) - t0 < (unit_valgrind() ? 120 : 10));
	/* the same pattern on a string it matches quickly is fine */
	struct kp_value *v = eval_ok(c, "'aaaa' | regex_search('^(a|aa)+$')");
	assert_string_equal(v->u.str.s, "aaaa");
	kp_value_unref(v);
}

/* Big results are charged against the evaluation budget. */
static void test_budget(void **state)
{
	struct ctx *c = *state;
	eval_fails(c, "'x' | center(1000000000)", KP_ERR_LIMIT, "");
	eval_fails(c, "range(3000) | product(range(3000), range(3000)) | list", KP_ERR_LIMIT, "");
}

/* A value nested deeper than the dumpers go is an error, not a crash. */
static void test_nesting_limit(void **state)
{
	struct ctx *c = *state;
	struct kp_value *deep = kp_value_list(), *cur = deep;
	for (int i = 0; i < 400; i++) {
		struct kp_value *n = kp_value_list();
		kp_list_push_take(cur, n);
		cur = n;
	}
	struct kp_value *layer = kp_value_map();
	kp_map_set_take(layer, "deep", deep);
	c->s.layers[1] = layer;
	c->s.nlayers = 2;
	eval_fails(c, "deep | to_json", KP_ERR_LIMIT, "too deep");
	eval_fails(c, "deep | to_yaml", KP_ERR_LIMIT, "too deep");
	eval_fails(c, "deep | flatten", KP_ERR_LIMIT, "too deep");
	eval_fails(c, "('[' * 400 + ']' * 400) | from_yaml", KP_ERR_LIMIT, "too deep");
	c->s.nlayers = 1;
	kp_value_unref(layer);
}

/* YAML aliases share values: an alias bomb loads at once, and expanding
 * it (to_json) is stopped by the evaluation budget. */
static void test_yaml_alias_bomb(void **state)
{
	struct ctx *c = *state;
	const char *bomb = "'a: &a [x, x, x, x, x, x, x, x, x, x]\n"
			   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			   "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
			   "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
			   "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
			   "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n'";
	struct kp_buf e = KP_BUF_INIT;
	kp_buf_addf(&e, "[(%s | from_yaml).g | length]", bomb);
	struct kp_value *v = eval_ok(c, e.buf);
	assert_int_equal(kp_list_at(v, 0)->u.i, 10);
	kp_value_unref(v);
	kp_buf_reset(&e);
	kp_buf_addf(&e, "(%s | from_yaml) | to_json", bomb);
	eval_fails(c, e.buf, KP_ERR_LIMIT, "");
	kp_buf_release(&e);
}

/* The password lookup writes a new password to a 0600 file (parent
 * directories 0700) and reads the same one back afterwards. */
static void test_password_file(void **state)
{
	struct ctx *c = *state;
	struct stat st;
	char path[256], dir[128];
	snprintf(dir, sizeof dir, "%s/creds/sub", c->dir);
	snprintf(path, sizeof path, "%s/pw", dir);

	struct kp_value *a =
	    eval_ok(c, "lookup('password', 'creds/sub/pw length=16 chars=digits')");
	assert_int_equal(a->type, KP_V_STR);
	assert_int_equal(a->u.str.len, 16);
	assert_int_equal(strspn(a->u.str.s, "0123456789"), 16);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	struct kp_buf text = KP_BUF_INIT, err = KP_BUF_INIT;
	assert_int_equal(kp_read_file(path, 0, &text, &err), KP_OK);
	assert_int_equal(text.len, 17);
	assert_memory_equal(text.buf, a->u.str.s, 16);
	assert_int_equal(text.buf[16], '\n');

	/* read back, whatever length is asked now */
	struct kp_value *b = eval_ok(c, "lookup('password', 'creds/sub/pw length=4')");
	assert_string_equal(a->u.str.s, b->u.str.s);
	kp_value_unref(b);

	/* a stored salt is not part of the password */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("s3cret salt=abcdefgh\n", f);
	fclose(f);
	b = eval_ok(c, "lookup('password', 'creds/sub/pw')");
	assert_string_equal(b->u.str.s, "s3cret");
	kp_value_unref(b);

	/* the default length and characters */
	b = eval_ok(c, "lookup('password', 'other')");
	assert_int_equal(b->u.str.len, 20);
	const char *dflt = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:-_";
	assert_int_equal(strspn(b->u.str.s, dflt), 20);
	kp_value_unref(b);

	/* /dev/null: a new password each time, nothing written */
	b = eval_ok(c, "lookup('password', '/dev/null length=30')");
	assert_int_equal(b->u.str.len, 30);
	kp_value_unref(b);

	eval_fails(c, "lookup('password', 'x encrypt=sha512_crypt')", KP_ERR_RUNTIME,
		   "not supported by kplan");
	eval_fails(c, "lookup('password', 'x colour=red')", KP_ERR_RUNTIME, "colour");
	kp_buf_release(&text);
	kp_buf_release(&err);
	kp_value_unref(a);
}

/* pipe runs in the plan's directory; errors='ignore' swallows failures of
 * the plugin but not undefined variables. */
static void test_pipe_and_errors(void **state)
{
	struct ctx *c = *state;
	char real[PATH_MAX];
	assert_non_null(realpath(c->dir, real));
	struct kp_value *v = eval_ok(c, "lookup('pipe', 'pwd -P')");
	assert_string_equal(v->u.str.s, real);
	kp_value_unref(v);

	v = eval_ok(c, "query('pipe', 'exit 4', errors='ignore')");
	assert_int_equal(v->type, KP_V_LIST);
	assert_int_equal(kp_list_len(v), 0);
	kp_value_unref(v);
	eval_fails(c, "lookup('pipe', 'exit 4')", KP_ERR_RUNTIME, "returned 4");
	/* a directory is not a file */
	eval_fails(c, "lookup('file', '/')", KP_ERR_IO, "could not locate file");
	eval_fails(c, "lookup('vars', 'nope', errors='ignore')", KP_ERR_UNDEFINED, "nope");
}

/* random stays in its range and reaches all of it; shuffle permutes. */
static void test_randomness(void **state)
{
	struct ctx *c = *state;
	bool seen[10] = {0};
	for (int i = 0; i < 400; i++) {
		/* in a list, so that the number stays a number */
		struct kp_value *v = eval_ok(c, "[nums | random, 20 | random(start=10, step=5)]");
		const struct kp_value *a = kp_list_at(v, 0), *b = kp_list_at(v, 1);
		assert_int_equal(a->type, KP_V_INT);
		assert_in_range(a->u.i, 1, 10);
		seen[a->u.i - 1] = true;
		assert_true(b->u.i == 10 || b->u.i == 15);
		kp_value_unref(v);
	}
	for (int i = 0; i < 10; i++)
		assert_true(seen[i]);
	struct kp_value *v = eval_ok(c, "nums | shuffle | sort == nums");
	assert_int_equal(v->type, KP_V_BOOL);
	assert_true(v->u.b);
	kp_value_unref(v);
	eval_fails(c, "[] | random", KP_ERR_RUNTIME, "empty sequence");
	eval_fails(c, "0 | random", KP_ERR_RUNTIME, "empty range");
}

/* kplan strings cannot hold NUL bytes: base64 that decodes to them is
 * refused rather than cut short. */
static void test_b64_nul(void **state)
{
	struct ctx *c = *state;
	eval_fails(c, "'YQBi' | b64decode", KP_ERR_RUNTIME, "not text");
}

/* Is "kind:name" one the library provides? */
static bool in_tables(const char *entry)
{
	const char *name = strchr(entry, ':') + 1;
	if (!strncmp(entry, "filter:", 7)) {
		for (const struct kp_jfilter *f = kp_jinja_filters; f->name; f++)
			if (!strcmp(f->name, name))
				return true;
	} else if (!strncmp(entry, "test:", 5)) {
		for (const struct kp_jtest *t = kp_jinja_tests; t->name; t++)
			if (!strcmp(t->name, name))
				return true;
	} else {
		for (const struct kp_jlookup *l = kp_jinja_lookups; l->name; l++)
			if (!strcmp(l->name, name))
				return true;
	}
	return false;
}

/* Every name once per table; parameter lists without blanks; the refused
 * names are none of the provided ones and each has its kind. */
static void test_tables(void **state)
{
	(void)state;
	for (const struct kp_jfilter *f = kp_jinja_filters; f->name; f++) {
		for (const struct kp_jfilter *g = f + 1; g->name; g++)
			if (!strcmp(f->name, g->name))
				fail_msg("filter '%s' twice", f->name);
		assert_null(f->params ? strchr(f->params, ' ') : NULL);
		assert_non_null(f->fn);
	}
	for (const struct kp_jtest *t = kp_jinja_tests; t->name; t++) {
		for (const struct kp_jtest *u = t + 1; u->name; u++)
			if (!strcmp(t->name, u->name))
				fail_msg("test '%s' twice", t->name);
		assert_non_null(t->fn);
	}
	for (const struct kp_jlookup *l = kp_jinja_lookups; l->name; l++) {
		assert_non_null(l->params);
		assert_int_equal(strncmp(l->params, "*terms", 6), 0);
	}
	for (const char *const *u = kp_jinja_unsupported; *u; u++) {
		if (in_tables(*u))
			fail_msg("'%s' is refused and provided", *u);
		assert_non_null(kp_jinja_unsupported_kind(strchr(*u, ':') + 1));
	}
	assert_string_equal(kp_jinja_unsupported_kind("json_query"), "filter");
	assert_string_equal(kp_jinja_unsupported_kind("csvfile"), "lookup");
	assert_string_equal(kp_jinja_unsupported_kind("vault_encrypted"), "test");
	assert_null(kp_jinja_unsupported_kind("to_json"));
	assert_null(kp_jinja_unsupported_kind("json"));
	/* by kind: csvfile is a refused lookup, not a refused filter; dict is
	 * a filter and (with_dict's) a lookup kplan has */
	assert_true(kp_jinja_unsupported_as("lookup", "csvfile"));
	assert_false(kp_jinja_unsupported_as("filter", "csvfile"));
	assert_false(kp_jinja_unsupported_as("lookup", "dict"));
	assert_true(kp_jinja_unsupported_as("filter", "json_query"));
}

/* What kplan says about names it does not have. */
static void test_unknown_names(void **state)
{
	(void)state;
	struct kp_buf m = KP_BUF_INIT;
	kp_jinja_unknown_name("filter", "json_query", NULL, &m);
	assert_string_equal(m.buf, "filter 'json_query' is not supported by kplan");
	kp_buf_reset(&m);
	kp_jinja_unknown_name("filter", "lowr", NULL, &m);
	assert_string_equal(m.buf, "no filter named 'lowr' (did you mean 'lower'?)");
	kp_buf_reset(&m);
	kp_jinja_unknown_name("lookup", "csvfile", NULL, &m);
	assert_string_equal(m.buf, "lookup 'csvfile' is not supported by kplan");
	kp_buf_reset(&m);
	kp_jinja_unknown_name("test", "sucess", NULL, &m);
	assert_string_equal(m.buf, "no test named 'sucess' (did you mean 'success'?)");
	kp_buf_reset(&m);
	/* the engine's own names count too */
	const char *const engine[] = {"default", "mandatory", NULL};
	kp_jinja_unknown_name("filter", "defualt", engine, &m);
	assert_string_equal(m.buf, "no filter named 'defualt' (did you mean 'default'?)");
	kp_buf_reset(&m);
	/* nothing close */
	kp_jinja_unknown_name("filter", "frobnicate", engine, &m);
	assert_string_equal(m.buf, "no filter named 'frobnicate'");
	assert_null(kp_jinja_did_you_mean("filter", "x", NULL));
	kp_buf_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_regex_guard, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nesting_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_yaml_alias_bomb, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_password_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pipe_and_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_randomness, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_b64_nul, setup, teardown),
	    cmocka_unit_test(test_tables),
	    cmocka_unit_test(test_unknown_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
