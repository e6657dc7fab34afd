/* test_expr.c - templates, bare expressions, the Lua sandbox and helpers. */
#include "unit.h"
#include "expr/expr.h"
#include "core/value.h"
#include "core/ytree.h"

#include <lua.h>

struct ctx {
	struct kp_lua *L;
	struct kp_value *layers[4];
	struct kp_value *hosts;
	struct kp_template *nested; /* rendered by hostvars['nested'] */
	struct kp_scope s;
	struct kp_buf err;
};

static struct kp_value *json(const char *text)
{
	struct kp_value *v = NULL;
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_value_from_json(text, strlen(text), &v, &err), KP_OK);
	kp_buf_release(&err);
	return v;
}

static struct kp_value *hostvars_cb(void *ctx, const char *host)
{
	struct ctx *c = ctx;
	const struct kp_value *v = kp_map_get(c->hosts, host);
	struct kp_value *r = NULL;
	struct kp_buf err = KP_BUF_INIT;
	if (!strcmp(host, "nested") && c->nested) {
		/* an evaluation inside an evaluation, on the same state */
		if (kp_template_render(c->L, c->nested, &c->s, &r, &err))
			r = NULL;
		kp_buf_release(&err);
		return r;
	}
	return v ? kp_value_ref(v) : NULL;
}

static const char *const unknown_names[] = {"pin"};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	c->L = kp_lua_new();
	c->layers[0] =
	    json("{\"kube_version\":\"1.13.3\",\"x\":1,\"shared\":\"low\","
		 "\"group_names\":[\"kube_control_plane\",\"etcd\"],"
		 "\"groups\":{\"etcd\":[\"n1\",\"n2\"]},\"f\":1.5,\"t\":true,\"no\":false,"
		 "\"nothing\":null,\"kubelet_version\":{\"stdout\":\"Kubernetes v1.13.1\"}}");
	c->layers[1] = json("{\"shared\":\"mid\",\"only1\":\"one\"}");
	c->layers[2] = json("{\"shared\":\"high\",\"m\":{\"a\":{\"b\":5},\"empty\":{},"
			    "\"l\":[1,2],\"z\":1,\"y\":2}}");
	c->layers[3] = json("{\"e\":{}}");
	c->hosts = json("{\"node1\":{\"ip\":\"10.0.0.1\",\"labels\":{\"b\":1,\"a\":2}}}");
	for (int i = 0; i < 4; i++)
		c->s.layers[i] = c->layers[i];
	c->s.nlayers = 4;
	c->s.hostvars = hostvars_cb;
	c->s.ctx = c;
	c->s.base_dir = "tests/unit";
	kp_buf_init(&c->err);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	kp_lua_free(c->L);
	for (int i = 0; i < 4; i++)
		kp_value_unref(c->layers[i]);
	kp_value_unref(c->hosts);
	kp_buf_release(&c->err);
	free(c);
	return 0;
}

static const struct kp_pos POS = {"upgrade.yml", 14, 7};

/* Render src and return the result as compact JSON (caller frees), or NULL
 * with the rc in *rc and the message in c->err. */
static char *render_rc(struct ctx *c, const char *src, kp_rc *rc)
{
	struct kp_template *t = NULL;
	struct kp_value *v = NULL;
	struct kp_buf out = KP_BUF_INIT;
	kp_buf_reset(&c->err);
	*rc = kp_template_compile(src, strlen(src), POS, &t, &c->err);
	if (*rc)
		return NULL;
	*rc = kp_template_render(c->L, t, &c->s, &v, &c->err);
	kp_template_free(t);
	if (*rc)
		return NULL;
	kp_value_to_json(v, false, false, &out);
	kp_value_unref(v);
	return kp_buf_detach(&out, NULL);
}

static void expect(struct ctx *c, const char *src, const char *want)
{
	kp_rc rc;
	char *got = render_rc(c, src, &rc);
	if (!got)
		fail_msg("'%s' failed: %s", src, c->err.buf);
	if (strcmp(got, want))
		fail_msg("'%s' gave %s, want %s", src, got, want);
	free(got);
}

static void expect_err(struct ctx *c, const char *src, kp_rc want_rc, const char *msg)
{
	kp_rc rc;
	char *got = render_rc(c, src, &rc);
	if (got)
		fail_msg("'%s' gave %s, want an error", src, got);
	assert_string_equal(c->err.buf, msg);
	assert_int_equal(rc, want_rc);
}

static kp_rc test_expr(struct ctx *c, const char *src, bool *out)
{
	struct kp_expr *e = NULL;
	kp_buf_reset(&c->err);
	kp_rc rc = kp_expr_compile(src, POS, &e, &c->err);
	if (rc)
		return rc;
	rc = kp_expr_test(c->L, e, &c->s, out, &c->err);
	kp_expr_free(e);
	return rc;
}

static bool truth(struct ctx *c, const char *src)
{
	bool b = false;
	kp_rc rc = test_expr(c, src, &b);
	if (rc)
		fail_msg("'%s' failed: %s", src, c->err.buf);
	return b;
}

static void test_types(void **state)
{
	struct ctx *c = *state;
	struct kp_template *t;
	struct kp_value *v;

	assert_int_equal(kp_template_compile("{{ 1 + 2 }}", 11, POS, &t, &c->err), KP_OK);
	assert_false(kp_template_is_literal(t));
	assert_int_equal(kp_template_render(c->L, t, &c->s, &v, &c->err), KP_OK);
	assert_int_equal(v->type, KP_V_INT);
	assert_int_equal(v->u.i, 3);
	kp_value_unref(v);
	kp_template_free(t);

	expect(c, "v{{ 1 + 2 }}", "\"v3\"");
	expect(c, "  {{ 1 + 2 }}  ", "3");
	expect(c, "{{ 1 / 2 }}", "0.5");
	expect(c, "{{ {1,2} }}", "[1,2]");
	expect(c, "{{ {a=1} }}", "{\"a\":1}");
	expect(c, "{{ {a={b=1}} }}", "{\"a\":{\"b\":1}}");
	expect(c, "{{ true }}", "true");
	expect(c, "{{ 1 > 2 }}", "false");
	expect(c, "{{ nil }}", "null");
	expect(c, "a{{ nil }}b", "\"ab\"");
	expect(c, "{{ '}}' }}", "\"}}\"");
	expect(c, "{{ [[a}}b]] }}", "\"a}}b\"");
	expect(c, "{{ [==[x]]y]==] }}", "\"x]]y\"");
	expect(c, "{{ \"q\\\"}}\" }}", "\"q\\\"}}\"");
	expect(c, "{{ x }} and {{ x + 1 }}", "\"1 and 2\"");
	expect(c, "list {{ {1,2} }}", "\"list [1,2]\"");
	expect(c, "v{{ 2.0 }}", "\"v2.0\"");
	expect(c, "plain text", "\"plain text\"");
	expect(c, "{{ 1 -- comment }}", "1");

	assert_int_equal(kp_template_compile("no braces", 9, POS, &t, &c->err), KP_OK);
	assert_true(kp_template_is_literal(t));
	assert_string_equal(kp_template_source(t), "no braces");
	assert_int_equal(kp_template_pos(t).line, 14);
	kp_template_free(t);
}

static void test_variables(void **state)
{
	struct ctx *c = *state;
	expect(c, "{{ kube_version }}", "\"1.13.3\"");
	expect(c, "v{{ kube_version }}-00", "\"v1.13.3-00\"");
	expect(c, "{{ shared }}", "\"high\"");
	expect(c, "{{ only1 }}", "\"one\"");
	expect(c, "{{ m.a.b }}", "5");
	expect(c, "{{ m.a.b + 1 }}", "6");
	expect(c, "{{ m.l }}", "[1,2]");
	expect(c, "{{ m.l[2] }}", "2");
	expect(c, "{{ #m.l }}", "2");
	expect(c, "{{ e }}", "{}");
	expect(c, "{{ m.empty }}", "{}");
	expect(c, "{{ default(m, 0) }}",
	       "{\"a\":{\"b\":5},\"empty\":{},\"l\":[1,2],\"z\":1,\"y\":2}");
	expect(c, "{{ default(e, 0) }}", "{}");
	expect(c, "{{ groups['etcd'][1] }}", "\"n1\"");
	expect(c, "{{ groups.etcd }}", "[\"n1\",\"n2\"]");
	expect(c, "{{ hostvars['node1'].ip }}", "\"10.0.0.1\"");
	expect(c, "{{ hostvars.node1.ip }}", "\"10.0.0.1\"");
	expect(c, "{{ hostvars['node1'].labels }}", "{\"b\":1,\"a\":2}");
	expect(c, "{{ f }}", "1.5");
	expect(c, "{{ t and 'y' or 'n' }}", "\"y\"");
	expect(c, "{{ nothing }}", "null");
	/* writes stay in this evaluation */
	expect(c, "{{ (function() kube_version = 'w'; return kube_version end)() }}", "\"w\"");
	expect(c, "{{ kube_version }}", "\"1.13.3\"");
	expect(c, "{{ (function() m.z = 9; return m.z end)() }}", "9");
	expect(c, "{{ m.z }}", "1");
	expect(c, "{{ string.upper(kube_version) }}", "\"1.13.3\"");
	expect(c, "{{ ('abc'):upper() }}", "\"ABC\"");
	expect(c, "{{ #kube_version }}", "6");
	expect(c, "{{ table.concat(groups.etcd, ',') }}", "\"n1,n2\"");
	expect(c, "{{ math.max(1, 5) }}", "5");
	expect(c, "{{ type(os.time()) }}", "\"number\"");
	expect(c, "{{ utf8.char(72) }}", "\"H\"");
}

static void test_conditions(void **state)
{
	struct ctx *c = *state;
	assert_true(truth(c, "x == 1"));
	/* as written in playbooks/upgrade-1.13.yml */
	assert_true(truth(c, "version_compare(regex_search(kubelet_version.stdout, "
			     "'[0-9]+\\.[0-9]+\\.[0-9]+'), '<', kube_version)"));
	assert_false(truth(c, "x == 2"));
	assert_true(truth(c, "{{ x == 1 }}"));
	assert_true(truth(c, "t"));
	assert_false(truth(c, "no"));
	assert_false(truth(c, "nothing"));
	assert_true(truth(c, "0")); /* Lua: only nil and false are false */
	assert_true(truth(c, "''"));
	assert_true(truth(c, "not defined(foo)"));
	assert_true(truth(c, "defined(x)"));
	assert_false(truth(c, "defined(m.nope)"));
	assert_true(truth(c, "defined(m.a)"));
	assert_true(truth(c, "in_group('etcd')"));
	assert_false(truth(c, "in_group('nope')"));
	assert_true(truth(c, "contains(group_names, 'etcd')"));
	assert_true(truth(c, "contains(m, 'a')"));
	assert_true(truth(c, "contains('hello', 'ell')"));
	assert_false(truth(c, "contains(group_names, 'x')"));

	struct kp_expr *e;
	struct kp_value *v;
	assert_int_equal(kp_expr_compile("x + 1", POS, &e, &c->err), KP_OK);
	assert_string_equal(kp_expr_source(e), "x + 1");
	assert_int_equal(kp_expr_eval(c->L, e, &c->s, &v, &c->err), KP_OK);
	assert_int_equal(v->type, KP_V_INT);
	assert_int_equal(v->u.i, 2);
	kp_value_unref(v);
	kp_expr_free(e);
}

/* Jinja's `x in y` (plan.md's own example) reads as contains(y, x). */
static void test_jinja_in(void **state)
{
	struct ctx *c = *state;
	assert_true(truth(c, "'kube_control_plane' in group_names"));
	assert_false(truth(c, "'kube_node' in group_names"));
	assert_true(truth(c, "'kube_node' not in group_names"));
	assert_false(truth(c, "not 'etcd' in group_names"));
	assert_true(truth(c, "'etcd' in group_names and x == 1"));
	assert_true(truth(c, "'nope' in group_names or 'n2' in groups['etcd']"));
	assert_true(truth(c, "'ell' in 'hello'"));
	assert_true(truth(c, "'a' in m"));
	assert_true(truth(c, "1 in {1, 2}"));
	expect(c, "{{ 'etcd' in group_names }}", "true");
	/* a word that merely contains `in` is untouched */
	assert_true(truth(c, "in_group('etcd')"));
}

/* Variables whose values are templates render where they are used. */
static void test_lazy_vars(void **state)
{
	struct ctx *c = *state;
	struct kp_value *lazy =
	    json("{\"a\":\"{{ b }}-x\",\"b\":\"{{ x + 41 }}\",\"l\":[\"{{ a }}\",2],"
		 "\"mm\":{\"k\":\"{{ kube_version }}\"},\"loop1\":\"{{ loop2 }}\","
		 "\"loop2\":\"{{ loop1 }}\",\"bad\":\"{{ nope }}\"}");
	c->s.layers[c->s.nlayers++] = lazy;
	expect(c, "{{ a }}", "\"42-x\"");
	expect(c, "{{ b }}", "42");
	expect(c, "{{ b + 1 }}", "43");
	expect(c, "{{ l }}", "[\"42-x\",2]");
	expect(c, "{{ mm.k }}", "\"1.13.3\"");
	expect(c, "{{ mm }}", "{\"k\":\"1.13.3\"}");
	assert_true(truth(c, "a == '42-x'"));
	expect_err(c, "{{ loop1 }}", KP_ERR_INVALID,
		   "upgrade.yml:14:7: variable 'loop1' is defined in terms of itself ('loop1' -> "
		   "'loop2' -> 'loop1')");
	expect_err(c, "{{ 'v' .. loop1 }}", KP_ERR_INVALID,
		   "upgrade.yml:14:7: variable 'loop1' is defined in terms of itself ('loop1' -> "
		   "'loop2' -> 'loop1')");
	expect_err(c, "{{ bad }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'nope' (in the value of 'bad')");
	expect_err(c, "{{ bad .. 'x' }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'nope' (in the value of 'bad')");
	c->s.nlayers--;
	kp_value_unref(lazy);
}

static void test_undefined(void **state)
{
	struct ctx *c = *state;
	bool b;
	expect_err(c, "{{ kube_versio }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'kube_versio'");
	expect_err(c, "v{{ foo .. 'x' }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo + 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo.bar }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo() }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ #foo }}", KP_ERR_UNDEFINED, "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo < 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ tostring(foo) }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ m.nope }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'm.nope'");
	expect_err(c, "{{ m.a.nope + 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'm.a.nope'");
	expect_err(c, "{{ m['a-b'] }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'm['a-b']'");
	expect_err(c, "{{ hostvars['h9'].ip }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'hostvars['h9']'");
	expect_err(c, "{{ hostvars.node1.nope }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'hostvars['node1'].nope'");
	expect_err(c, "{{ foo and 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ pcall(function() return foo + 1 end) }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");

	assert_int_equal(test_expr(c, "not foo", &b), KP_ERR_UNDEFINED);
	assert_string_equal(c->err.buf, "upgrade.yml:14:7: undefined variable 'foo'");
	assert_int_equal(test_expr(c, "foo", &b), KP_ERR_UNDEFINED);
	assert_int_equal(test_expr(c, "foo == nil", &b), KP_ERR_UNDEFINED);

	expect(c, "{{ default(foo, 1) }}", "1");
	expect(c, "{{ default(nothing, 'd') }}", "\"d\"");
	expect(c, "{{ default(x, 2) }}", "1");
	expect(c, "{{ default(x, foo) }}", "1"); /* an unused undefined default */
	expect(c, "{{ default(m.nope, 'd') }}", "\"d\"");
	expect(c, "{{ default(hostvars['h9'], {}).ip }}", "null");
	expect(c, "{{ defined(foo) }}", "false");
	expect(c, "{{ defined(foo) and foo }}", "false");
	expect(c, "{{ default(default(foo, bar), 3) }}", "3");

	/* no file: no position prefix */
	struct kp_template *t;
	struct kp_value *v;
	struct kp_pos nopos = {NULL, 0, 0};
	assert_int_equal(kp_template_compile("{{ foo }}", 9, nopos, &t, &c->err), KP_OK);
	assert_int_equal(kp_template_render(c->L, t, &c->s, &v, &c->err), KP_ERR_UNDEFINED);
	assert_string_equal(c->err.buf, "undefined variable 'foo'");
	kp_template_free(t);
}

static void test_unknown(void **state)
{
	struct ctx *c = *state;
	bool b;
	c->s.unknown = unknown_names;
	c->s.nunknown = 1;
	expect_err(c, "{{ pin.rc }}", KP_ERR_UNKNOWN,
		   "upgrade.yml:14:7: 'pin' is known only after the hosts are probed");
	expect_err(c, "{{ pin }}", KP_ERR_UNKNOWN,
		   "upgrade.yml:14:7: 'pin' is known only after the hosts are probed");
	expect_err(c, "{{ default(pin, 1) }}", KP_ERR_UNKNOWN,
		   "upgrade.yml:14:7: 'pin' is known only after the hosts are probed");
	expect_err(c, "{{ type(pin) }}", KP_ERR_UNKNOWN,
		   "upgrade.yml:14:7: 'pin' is known only after the hosts are probed");
	assert_int_equal(test_expr(c, "pin.rc == 0", &b), KP_ERR_UNKNOWN);
	assert_int_equal(test_expr(c, "defined(pin)", &b), KP_ERR_UNKNOWN);

	c->s.placeholder = true;
	expect(c, "{{ pin.rc }}", "\"" KP_UNKNOWN_TEXT "\"");
	expect(c, "rc={{ pin.rc }}", "\"" KP_UNKNOWN_TEXT "\"");
	expect(c, "{{ x }}", "1");
	assert_int_equal(test_expr(c, "pin.rc == 0", &b), KP_ERR_UNKNOWN);

	/* in a value tree, only the leaf is a placeholder */
	struct kp_doc *d;
	struct kp_tvalue *tv;
	struct kp_value *v;
	struct kp_buf out = KP_BUF_INIT;
	const char *y = "{a: '{{ pin.stdout }}', b: '{{ x }}'}";
	assert_int_equal(kp_yaml_load_string("t.yml", y, strlen(y), &d, &c->err), KP_OK);
	assert_int_equal(kp_tvalue_from_node(d->root, &tv, &c->err), KP_OK);
	assert_int_equal(kp_tvalue_render(c->L, tv, &c->s, &v, &c->err), KP_OK);
	kp_value_to_json(v, false, false, &out);
	assert_string_equal(out.buf, "{\"a\":\"<known after probe>\",\"b\":1}");
	kp_buf_release(&out);
	kp_value_unref(v);
	kp_tvalue_free(tv);
	kp_doc_free(d);
	c->s.placeholder = false;
	c->s.unknown = NULL;
	c->s.nunknown = 0;
}

static void test_compile_errors(void **state)
{
	struct ctx *c = *state;
	struct kp_expr *e;
	expect_err(c, "{{ 1 + }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid expression '1 +': unexpected symbol near <eof>");
	expect_err(c, "a {{ x", KP_ERR_PARSE, "upgrade.yml:14:7: unterminated '{{' in 'a {{ x'");
	expect_err(c, "{{ 'x }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: unterminated '{{' in '{{ 'x }}'");
	expect_err(c, "{% if x %}y{% endif %}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: '{% %}' statements are not supported: use a Lua expression "
		   "inside {{ }}");
	expect_err(c, "{{ x | default('d') }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid expression 'x | default('d')': '|' is not allowed "
		   "(Jinja filters are not supported: write default(x, 'd') instead of x | "
		   "default('d'))");
	expect_err(c, "{{ items | map(attribute='name') }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid expression 'items | map(attribute='name')': ')' "
		   "expected near '=' (Jinja filters are not supported: write default(x, 'd') "
		   "instead of x | default('d'))");
	expect(c, "{{ 'a|b' }}", "\"a|b\"");
	expect_err(c, "{{ foo bar }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid expression 'foo bar': <eof> expected near 'bar'");

	/* Jinja's membership test is accepted (see test_jinja_in); Python's
	 * list literal is not Lua */
	assert_int_equal(kp_expr_compile("x in ['a', 'b']", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf,
			    "upgrade.yml:14:7: invalid expression 'x in ['a', 'b']': unexpected "
			    "symbol near '[' (Lua writes a list as {a, b}, not [a, b])");
	assert_int_equal(kp_expr_compile("x ==", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(
	    c->err.buf,
	    "upgrade.yml:14:7: invalid expression 'x ==': unexpected symbol near <eof>");
	/* Lua's message for the expression as written, not for the wrapper it
	 * is compiled in; on one line when it spans several */
	assert_int_equal(kp_expr_compile("a and\n  b ===\n  c", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf, "upgrade.yml:14:7: invalid expression 'a and b === c': "
					"unexpected symbol near '='");
	assert_int_equal(kp_expr_compile("x -- why\n or", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf, "upgrade.yml:14:7: invalid expression 'x -- why or': "
					"unexpected symbol near <eof>");
	/* valid as a bare `return 1, 2`, not as one value */
	assert_int_equal(kp_expr_compile("1, 2", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf,
			    "upgrade.yml:14:7: invalid expression '1, 2': ')' expected near ','");
	/* bytecode is never loaded */
	assert_int_equal(kp_expr_compile("\x1bLua", POS, &e, &c->err), KP_ERR_PARSE);
}

static void test_runtime_errors(void **state)
{
	struct ctx *c = *state;
	expect_err(c, "{{ x + {} }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'x + {}': attempt to perform arithmetic "
		   "on a table value");
	expect_err(c, "{{ error('boom') }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'error('boom')': boom");
	expect_err(c, "{{ error({}) }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'error({})': (error object is a table "
		   "value)");
	expect_err(c, "{{ print }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'print'");
	expect_err(c, "{{ function() end }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'function() end': cannot use a function "
		   "as a value");
	expect_err(c, "{{ {f=type} }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{f=type}': cannot use a function as a "
		   "value");
	expect_err(
	    c, "{{ (function() local t = {} t[1] = t return t end)() }}", KP_ERR_LIMIT,
	    "upgrade.yml:14:7: error in expression '(function() local t = {} t[1] = t return "
	    "t end)()': value nested more than 256 levels deep (a table containing "
	    "itself?)");
	expect(c, "{{ string.x }}", "null");
	expect_err(c, "{{ (function() string.x = 1 end)() }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '(function() string.x = 1 end)()': "
		   "cannot modify 'string'");
}

static void test_sandbox(void **state)
{
	struct ctx *c = *state;
	const char *gone[] = {"io",    "require",	 "dofile",    "loadfile", "load", "package",
			      "debug", "collectgarbage", "coroutine", "rawset",	  "_G"};
	char buf[128];
	for (size_t i = 0; i < KP_ARRAY_LEN(gone); i++) {
		snprintf(buf, sizeof(buf), "{{ default(%s, 'none') }}", gone[i]);
		expect(c, buf, "\"none\"");
		snprintf(buf, sizeof(buf), "{{ %s('x') }}", gone[i]);
		kp_rc rc;
		char *got = render_rc(c, buf, &rc);
		assert_null(got);
		assert_int_equal(rc, KP_ERR_UNDEFINED);
	}
	expect(c, "{{ os.execute }}", "null");
	expect(c, "{{ os.getenv }}", "null");
	expect(c, "{{ string.dump }}", "null");
	expect_err(c, "{{ os.execute('true') }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'os.execute('true')': attempt to call a "
		   "nil value (field 'execute')");
	expect(c, "{{ os.time() > 0 }}", "true");
	expect(c, "{{ type(os.clock()) }}", "\"number\"");
	expect(c, "{{ os.date('!%Y', 0) }}", "\"1970\"");
	expect(c, "{{ getmetatable('') }}", "false");
	expect_err(c, "{{ (function() os.x = 1 end)() }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '(function() os.x = 1 end)()': cannot "
		   "modify 'os'");
}

static void test_limits(void **state)
{
	struct ctx *c = *state;
	expect_err(c, "{{ (function() while true do end end)() }}", KP_ERR_LIMIT,
		   "upgrade.yml:14:7: expression '(function() while true do end end)()' exceeded "
		   "the instruction limit");
	expect_err(c,
		   "{{ (function() while true do pcall(function() while true do end end) end "
		   "end)() }}",
		   KP_ERR_LIMIT,
		   "upgrade.yml:14:7: expression '(function() while true do pcall(function() while "
		   "true do end end) end end)()' exceeded the instruction limit");
	expect_err(c, "{{ string.rep('x', 1e9) }}", KP_ERR_LIMIT,
		   "upgrade.yml:14:7: expression 'string.rep('x', 1e9)' exceeded the memory limit");
	expect_err(
	    c,
	    "{{ (function() local t = {} for i = 1, 1e8 do t[i] = 'abcdefgh' .. i end end)() "
	    "}}",
	    KP_ERR_LIMIT,
	    "upgrade.yml:14:7: expression '(function() local t = {} for i = 1, 1e8 do t[i] = "
	    "'abcdefgh' .. i end end)()' exceeded the memory limit");
	/* the state is still usable */
	expect(c, "{{ x + 1 }}", "2");
	kp_lua_set_limits(c->L, 0, 1000);
	expect_err(
	    c, "{{ (function() local n = 0 for i = 1, 100000 do n = n + i end return n end)() }}",
	    KP_ERR_LIMIT,
	    "upgrade.yml:14:7: expression '(function() local n = 0 for i = 1, 100000 do n = n "
	    "+ i end return n end)()' exceeded the instruction limit");
	kp_lua_set_limits(c->L, 0, KP_LUA_STEPS_DEFAULT);
	expect(c,
	       "{{ (function() local n = 0 for i = 1, 100000 do n = n + i end return n end)() }}",
	       "5000050000");
}

static void test_helpers(void **state)
{
	struct ctx *c = *state;
	expect(c, "{{ join(groups.etcd, ', ') }}", "\"n1, n2\"");
	expect(c, "{{ join({1, 'a', true}) }}", "\"1atrue\"");
	expect(c, "{{ join({}, ',') }}", "\"\"");
	expect_err(c, "{{ join({{}}, ',') }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'join({{}}, ',')': join: item 1 is a "
		   "table");
	expect(c, "{{ basename('/etc/kubernetes/admin.conf') }}", "\"admin.conf\"");
	expect(c, "{{ basename('admin.conf') }}", "\"admin.conf\"");
	expect(c, "{{ basename('/a/b/') }}", "\"\"");
	expect(c, "{{ dirname('/etc/kubernetes/admin.conf') }}", "\"/etc/kubernetes\"");
	expect(c, "{{ dirname('/admin.conf') }}", "\"/\"");
	expect(c, "{{ dirname('admin.conf') }}", "\"\"");
	expect(c, "{{ dirname('a//b') }}", "\"a\"");
	expect(c, "{{ regex_search('kubelet v1.13.3 (linux)', 'v[0-9]+\\\\.[0-9]+') }}",
	       "\"v1.13\"");
	expect(c, "{{ regex_search('kubelet v1.13.3', '[0-9]+\\.[0-9]+\\.[0-9]+') }}",
	       "\"1.13.3\"");
	/* unknown escapes keep their backslash, as in Jinja; real ones work */
	expect(c, "{{ '\\d\\.' .. \"\\s\" }}", "\"\\\\d\\\\.\\\\s\"");
	expect(c, "{{ 'a\\tb\\\\' }}", "\"a\\tb\\\\\"");
	assert_true(truth(c, "[[\\d]] == '\\\\d' -- it's \\q"));
	assert_true(truth(c, "'\\d' == '\\\\d' --[[ it's ]]"));
	expect(c, "{{ regex_search('abc', '^x') }}", "null");
	expect(c, "{{ regex_search('a+b', 'a[+]b') }}", "\"a+b\"");
	expect_err(c, "{{ regex_search('abc', '(') }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'regex_search('abc', '(')': "
		   "regex_search: invalid pattern '(': Unmatched ( or \\(");
	/* nested repetitions that glibc would take hours over: refused */
	expect_err(c, "{{ regex_search('aaaa', '((((((((a+)+)+)+)+)+)+)+)+') }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression "
		   "'regex_search('aaaa', '((((((((a+)+)+)+)+)+)+)+)+')': regex_search: invalid "
		   "pattern '((((((((a+)+)+)+)+)+)+)+)+': too many or too large repetitions ('*', "
		   "'+', '?', '{}')");
	expect(c, "{{ regex_search('v1.13.3', '[0-9]+[.][0-9]+[.][0-9]+') }}", "\"1.13.3\"");
	expect(c, "{{ to_json({a=1, b={1,2}, c='x'}) }}",
	       "\"{\\\"a\\\":1,\\\"b\\\":[1,2],\\\"c\\\":\\\"x\\\"}\"");
	expect(c, "{{ to_json(m) }}",
	       "\"{\\\"a\\\":{\\\"b\\\":5},\\\"empty\\\":{},\\\"l\\\":[1,2],\\\"z\\\":1,\\\"y\\\":"
	       "2}\"");
	expect(c, "{{ to_json(e) }}", "\"{}\"");
	expect(c, "{{ to_json({}) }}", "\"[]\"");
	expect(c, "{{ from_json('{\"z\":1,\"a\":[null,true]}') }}", "{\"z\":1,\"a\":[null,true]}");
	expect(c, "{{ {1, nil, 3} }}", "[1,null,3]");
	expect(c, "{{ {[10] = 1} }}", "{\"10\":1}");
	expect(c, "{{ from_json('{\"k\":{\"x\":1}}').k.x }}", "1");
	expect(c, "{{ from_json('[]') }}", "[]");
	kp_rc rc;
	char *got = render_rc(c, "{{ from_json('{bad') }}", &rc);
	assert_null(got);
	assert_int_equal(rc, KP_ERR_RUNTIME);
	assert_non_null(strstr(c->err.buf, "error in expression 'from_json('{bad')': from_json: "));
	expect(c, "{{ lookup_file('unit.h'):sub(1, 9) }}", "\"/* unit.h\"");
	expect_err(c, "{{ lookup_file('nope.txt') }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'lookup_file('nope.txt')': lookup_file: "
		   "cannot read 'tests/unit/nope.txt': No such file or directory");
	expect(c, "{{ #lookup_file('/dev/null') }}", "0");
	setenv("KP_TEST_ENV", "val", 1);
	expect(c, "{{ lookup_env('KP_TEST_ENV') }}", "\"val\"");
	expect(c, "{{ lookup_env('KP_TEST_ENV_UNSET_X') }}", "null");
	expect(c, "{{ version_compare(kube_version, '>=', '1.13.0') }}", "true");
	expect(c, "{{ version_compare('1.12.5-00', 'lt', '1.13.0-00') }}", "true");
	expect_err(
	    c, "{{ version_compare('1', '=>', '2') }}", KP_ERR_RUNTIME,
	    "upgrade.yml:14:7: error in expression 'version_compare('1', '=>', '2')': "
	    "version_compare: invalid operator '=>' (use <, <=, >, >=, ==, != or lt, le, gt, "
	    "ge, eq, ne)");
	expect_err(c, "{{ version_compare('latest', '<', '2') }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression 'version_compare('latest', '<', '2')': "
		   "version_compare: invalid version 'latest'");
	expect_err(c, "{{ version_compare(nover, '<', '2') }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'nover'");
}

static void test_version_compare(void **state)
{
	static const struct {
		const char *a, *op, *b;
		bool want;
	} cases[] = {
	    {"1.13.3-00", "==", "1.13.3", true},
	    {"1.13.3-00", ">=", "1.13.3", true},
	    {"1.13.3-01", ">", "1.13.3", true},
	    {"v1.13.3", "==", "1.13.3", true},
	    {"1.13.10", ">", "1.13.9", true},
	    {"1.12.5-00", "<", "1.13.0-00", true},
	    {"1.14.0-rc.1", "<", "1.14.0", true},
	    {"1.14.0-rc.1", "<", "1.14.0-rc.2", true},
	    {"1.14.0-alpha.1", "<", "1.14.0-beta.0", true},
	    {"1.14.0-rc.1", ">", "1.13.9", true},
	    {"1.13.3", "!=", "1.13.4", true},
	    {"1.13.3", "ne", "1.13.3", false},
	    {"1.13", "<", "1.13.0", true},
	    {"1.29.1-1.1", ">", "1.29.1-1", true},
	    {"1:1.0", ">", "2.0", true},
	    {"1.13.3", "le", "1.13.3", true},
	    {"1.13.3", "gt", "1.13.3", false},
	    {"1.13.3", "eq", "v1.13.3", true},
	    {"1.13.3", "lt", "1.13.03", false},
	    {"2.0~rc1", "<", "2.0", true},
	};
	bool out;
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		assert_int_equal(kp_version_compare(cases[i].a, cases[i].op, cases[i].b, &out),
				 KP_OK);
		if (out != cases[i].want)
			fail_msg("%s %s %s: got %d", cases[i].a, cases[i].op, cases[i].b, out);
	}
	assert_int_equal(kp_version_compare("1", "=>", "2", &out), KP_ERR_INVALID);
	assert_int_equal(kp_version_compare("", "<", "2", &out), KP_ERR_INVALID);
	assert_int_equal(kp_version_compare("x1", "<", "2", &out), KP_ERR_INVALID);
}

static void test_tvalue(void **state)
{
	struct ctx *c = *state;
	struct kp_doc *d;
	struct kp_tvalue *tv;
	struct kp_value *v;
	struct kp_buf out = KP_BUF_INIT;
	const char *y = "name: kubeadm\n"
			"version: \"{{ kube_version }}-00\"\n"
			"count: '{{ x + 1 }}'\n"
			"list: [a, '{{ x }}', 3]\n"
			"lit: {k: [1, 2], n: null, b: yes}\n"
			"pw: !secret '{{ kube_version }}'\n";
	assert_int_equal(kp_yaml_load_string("t.yml", y, strlen(y), &d, &c->err), KP_OK);
	assert_int_equal(kp_tvalue_from_node(d->root, &tv, &c->err), KP_OK);
	assert_false(kp_tvalue_is_literal(tv));
	assert_true(kp_tvalue_is_literal(kp_tvalue_get(tv, "lit")));
	assert_true(kp_tvalue_is_literal(kp_tvalue_get(tv, "name")));
	assert_false(kp_tvalue_is_literal(kp_tvalue_get(tv, "list")));
	assert_null(kp_tvalue_get(tv, "nope"));
	const struct kp_tvalue *ver = kp_tvalue_get(tv, "version");
	assert_int_equal(ver->kind, KP_TV_TMPL);
	assert_int_equal(ver->pos.line, 2);
	assert_int_equal(ver->pos.col, 10);
	assert_int_equal(kp_tvalue_render(c->L, tv, &c->s, &v, &c->err), KP_OK);
	kp_value_to_json(v, true, false, &out);
	assert_string_equal(out.buf,
			    "{\"name\":\"kubeadm\",\"version\":\"1.13.3-00\",\"count\":2,"
			    "\"list\":[\"a\",1,3],\"lit\":{\"k\":[1,2],\"n\":null,\"b\":true},"
			    "\"pw\":\"<hidden>\"}");
	kp_buf_release(&out);
	kp_value_unref(v);
	kp_tvalue_free(tv);
	kp_doc_free(d);

	/* errors carry the scalar's position */
	y = "a:\n  - '{{ 1 + }}'\n";
	assert_int_equal(kp_yaml_load_string("t.yml", y, strlen(y), &d, &c->err), KP_OK);
	assert_int_equal(kp_tvalue_from_node(d->root, &tv, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf,
			    "t.yml:2:5: invalid expression '1 +': unexpected symbol near <eof>");
	kp_doc_free(d);
	y = "a: '{% if %}'\n";
	assert_int_equal(kp_yaml_load_string("t.yml", y, strlen(y), &d, &c->err), KP_OK);
	assert_int_equal(kp_tvalue_from_node(d->root, &tv, &c->err), KP_ERR_PARSE);
	kp_doc_free(d);
	y = "a: '{{ nope }}'\n";
	assert_int_equal(kp_yaml_load_string("t.yml", y, strlen(y), &d, &c->err), KP_OK);
	assert_int_equal(kp_tvalue_from_node(d->root, &tv, &c->err), KP_OK);
	assert_int_equal(kp_tvalue_render(c->L, tv, &c->s, &v, &c->err), KP_ERR_UNDEFINED);
	assert_string_equal(c->err.buf, "t.yml:1:4: undefined variable 'nope'");
	kp_tvalue_free(tv);
	kp_doc_free(d);

	struct kp_value *src = json("{\"a\":[1,{\"b\":2}]}");
	tv = kp_tvalue_from_value(src);
	assert_true(kp_tvalue_is_literal(tv));
	assert_int_equal(kp_tvalue_get(tv, "a")->kind, KP_TV_LIST);
	assert_int_equal(kp_tvalue_render(c->L, tv, &c->s, &v, &c->err), KP_OK);
	assert_true(v == src);
	kp_value_unref(v);
	kp_tvalue_free(tv);
	kp_value_unref(src);
}

static void test_conversion(void **state)
{
	struct ctx *c = *state;
	lua_State *L = kp_lua_state(c->L);
	const char *cases[] = {
	    "null",
	    "true",
	    "1",
	    "-7",
	    "1.5",
	    "\"s\"",
	    "[]",
	    "{}",
	    "[1,[2,[]],{}]",
	    "{\"b\":1,\"a\":{\"z\":[],\"y\":{}}}",
	    "[null]",
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		struct kp_value *v = json(cases[i]), *back;
		struct kp_buf out = KP_BUF_INIT;
		kp_lua_push_value(L, v);
		assert_int_equal(kp_lua_to_value(L, -1, &back, &c->err), KP_OK);
		lua_pop(L, 1);
		kp_value_to_json(back, false, false, &out);
		if (!strcmp(cases[i], "[null]"))
			assert_string_equal(out.buf, "[]"); /* Lua cannot hold a nil item */
		else if (!strcmp(cases[i], "{\"b\":1,\"a\":{\"z\":[],\"y\":{}}}"))
			assert_string_equal(out.buf, "{\"a\":{\"y\":{},\"z\":[]},\"b\":1}");
		else
			assert_string_equal(out.buf, cases[i]);
		kp_buf_release(&out);
		kp_value_unref(v);
		kp_value_unref(back);
	}
	struct kp_value *v;
	lua_newtable(L);
	lua_pushinteger(L, 1);
	lua_setfield(L, -2, "k");
	lua_pushboolean(L, 1);
	lua_rawseti(L, -2, 5);
	assert_int_equal(kp_lua_to_value(L, -1, &v, &c->err), KP_OK);
	lua_pop(L, 1);
	struct kp_buf out = KP_BUF_INIT;
	kp_value_to_json(v, false, false, &out);
	assert_string_equal(out.buf, "{\"5\":true,\"k\":1}");
	kp_buf_release(&out);
	kp_value_unref(v);
	/* a map keeps its order when it comes back unchanged through Lua */
	expect(c, "{{ hostvars.node1.labels }}", "{\"b\":1,\"a\":2}");
	expect(c, "{{ (function() local l = hostvars.node1.labels; l.c = 3; return l end)() }}",
	       "{\"b\":1,\"a\":2,\"c\":3}");
}

static void test_nested(void **state)
{
	struct ctx *c = *state;
	const char *src = "{{ {ip = x + 1, l = {default(nope, 'd')}} }}";
	assert_int_equal(kp_template_compile(src, strlen(src), POS, &c->nested, &c->err), KP_OK);
	expect(c, "{{ hostvars.nested.ip + x }}", "3");
	expect(c, "{{ hostvars.nested.l[1] .. hostvars.nested.ip }}", "\"d2\"");
	expect_err(c, "{{ hostvars.nested.ip + foo }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect(c, "{{ x }}", "1");
	kp_template_free(c->nested);
	/* the nested evaluation consumes its own sentinel */
	src = "{{ default(nope, 1) + x }}";
	assert_int_equal(kp_template_compile(src, strlen(src), POS, &c->nested, &c->err), KP_OK);
	expect(c, "{{ hostvars.nested }}", "2");
	kp_template_free(c->nested);
	c->nested = NULL;
}

static void test_fast_path_speed(void **state)
{
	/* Not timed: just many renders of a simple template, which must all
	 * agree with the slow path. */
	struct ctx *c = *state;
	struct kp_template *t;
	struct kp_value *v;
	assert_int_equal(kp_template_compile("{{ kube_version }}", 18, POS, &t, &c->err), KP_OK);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(kp_template_render(c->L, t, &c->s, &v, &c->err), KP_OK);
		assert_true(v == kp_map_get(c->layers[0], "kube_version"));
		kp_value_unref(v);
	}
	kp_template_free(t);
	/* the same template text compiled again and again uses the cache safely */
	for (int i = 0; i < 50; i++) {
		char src[64];
		snprintf(src, sizeof(src), "{{ x + %d }}", i);
		char want[16];
		snprintf(want, sizeof(want), "%d", i + 1);
		expect(c, src, want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_variables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conditions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_undefined, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_jinja_in, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lazy_vars, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_compile_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_runtime_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sandbox, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
	    cmocka_unit_test(test_version_compare),
	    cmocka_unit_test_setup_teardown(test_tvalue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conversion, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fast_path_speed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
