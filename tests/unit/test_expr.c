/* test_expr.c - Jinja templates and bare expressions as ansible-core 2.14
 * renders them (values checked against ansible-core), and the Lua state
 * hooks use. */
#include "unit.h"
#include "expr/expr.h"
#include "core/value.h"
#include "core/ytree.h"

#include <ctype.h>
#include <lua.h>
#include <math.h>

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

/* What a template renders to: text, except what reads back as a Python
 * list, dict or boolean; "{{ name }}" of a number keeps it. */
static void test_types(void **state)
{
	struct ctx *c = *state;
	struct kp_template *t;
	struct kp_value *v;

	assert_int_equal(kp_template_compile("{{ 1 + 2 }}", 11, POS, &t, &c->err), KP_OK);
	assert_false(kp_template_is_literal(t));
	assert_int_equal(kp_template_render(c->L, t, &c->s, &v, &c->err), KP_OK);
	assert_int_equal(v->type, KP_V_STR); /* ansible-core: '3', not 3 */
	assert_string_equal(v->u.str.s, "3");
	kp_value_unref(v);
	kp_template_free(t);

	expect(c, "{{ x }}", "1"); /* a number variable as is */
	expect(c, "{{ f }}", "1.5");
	expect(c, "{{ nothing }}", "null");
	expect(c, "{{ none }}", "\"\"");
	expect(c, "a{{ none }}b", "\"ab\"");
	expect(c, "v{{ 1 + 2 }}", "\"v3\"");
	expect(c, "  {{ 1 + 2 }}  ", "\"  3  \"");
	expect(c, "{{ 1 / 2 }}", "\"0.5\"");
	expect(c, "{{ 10 / 2 }}", "\"5.0\"");
	expect(c, "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** -1 }}", "\"3 -4 2 0.5\"");
	expect(c, "{{ [1, 2] }}", "[1,2]");
	expect(c, "{{ {'a': {'b': 1}} }}", "{\"a\":{\"b\":1}}");
	expect(c, "{{ true }}", "true");
	expect(c, "{{ 1 > 2 }}", "false");
	expect(c, "{{ 'True' }}", "true");
	expect(c, "{{ '[1, 2]' }}", "[1,2]");
	expect(c, "[{{ x }}, 2]", "[1,2]");
	expect(c, "{{ '{}' }}", "{}");
	expect(c, "{{ ' [1]' }}", "\" [1]\"");
	expect(c, "{{ '01' }}", "\"01\"");
	expect(c, "{{ '}}' }}", "\"}}\"");
	expect(c, "{{ \"q}}\" }}", "\"q}}\"");
	expect(c, "{{ x }} and {{ x + 1 }}", "\"1 and 2\"");
	expect(c, "list {{ [1, 'a', none, true] }}", "\"list [1, 'a', None, True]\"");
	expect(c, "{{ m.a }} {{ \"it's\" }}", "\"{'b': 5} it's\"");
	expect(c, "v{{ 2.0 }} {{ 1e16 }} {{ 0.0001 }} {{ 2 ** 0.5 }}",
	       "\"v2.0 1e+16 0.0001 1.4142135623730951\"");
	expect(c, "plain text", "\"plain text\"");
	expect(c, "{{ 'x' ~ 1 ~ true ~ none }}", "\"x1TrueNone\"");
	expect(c, "{{ '\\d' }}", "\"\\\\d\""); /* backslashes in {{ }} stay */

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
	expect(c, "{{ m.a.b }}", "\"5\"");
	expect(c, "{{ m.a.b + 1 }}", "\"6\"");
	expect(c, "{{ m.l }}", "[1,2]");
	expect(c, "{{ m.l[1] }} {{ m.l[-1] }} {{ m.l.0 }} {{ m['l'][0] }}", "\"2 2 1 1\"");
	expect(c, "{{ m.l[1:] }}", "[2]");
	expect(c, "{{ kube_version[::-1] }}", "\"3.31.1\"");
	expect(c, "{{ e }}", "{}");
	expect(c, "{{ groups['etcd'][0] }}", "\"n1\"");
	expect(c, "{{ groups.etcd }}", "[\"n1\",\"n2\"]");
	expect(c, "{{ hostvars['node1'].ip }}", "\"10.0.0.1\"");
	expect(c, "{{ hostvars.node1.ip }}", "\"10.0.0.1\"");
	expect(c, "{{ hostvars['node1'].labels }}", "{\"b\":1,\"a\":2}");
	expect(c, "{{ t and 'y' or 'n' }}", "\"y\"");
	expect(c, "{{ [] or 'e' }}", "\"e\"");
	expect(c, "{{ m.z if m.z > 0 else 0 }}", "\"1\"");
	expect(c, "{{ 'a' if no }}", "\"\"");
	/* methods playbooks use */
	expect(c, "{{ 'abc'.upper() }} {{ ' x '.strip() }}|{{ 'a-b-c'.rsplit('-', 1) }}",
	       "\"ABC x|['a-b', 'c']\"");
	expect(c, "{{ ' a b '.split() }}", "[\"a\",\"b\"]");
	expect(c, "{{ kubelet_version.stdout.split(' v')[1] }}", "\"1.13.1\"");
	expect(c,
	       "{{ 'abcabc'.count('b') }} {{ 'abc'.find('c') }} {{ 'abc'.startswith(('x', 'a')) }}",
	       "\"2 2 True\"");
	expect(c, "{{ '{} {}'.format(1, 'x') }} {{ '%05.1f|%s' % (3.14159, none) }}",
	       "\"1 x 003.1|None\"");
	expect(c, "{{ m.get('nope', 5) }} {{ m.l.index(2) }}", "\"5 1\"");
	expect(c, "{{ m.keys() }}", "[\"a\",\"empty\",\"l\",\"z\",\"y\"]");
	expect(c, "{{ ','.join(groups.etcd) }}", "\"n1,n2\"");
	/* globals */
	expect(c, "{{ range(2, 10, 3) }}", "[2,5,8]");
	expect(c, "{{ dict(a=1) }} {{ dict([['b', 2]]) }}", "\"{'a': 1} {'b': 2}\"");
	/* tuples print as Python prints them; a list holding them reads back */
	expect(c, "{{ (1, 'a') }} {{ (1,) }} {{ () }}", "\"(1, 'a') (1,) ()\"");
	expect(c, "{{ (1, 2) }}", "\"(1, 2)\"");
	expect(c, "{{ m.a.items() }}", "[[\"b\",5]]");
}

/* Bare conditions (when, until, ...): Python's truth */
static void test_conditions(void **state)
{
	struct ctx *c = *state;
	assert_true(truth(c, "x == 1"));
	assert_false(truth(c, "x == 2"));
	assert_true(truth(c, "x != 2"));
	assert_true(truth(c, "{{ x == 1 }}")); /* Ansible warns, but takes it */
	assert_true(truth(c, "t"));
	assert_false(truth(c, "no"));
	assert_false(truth(c, "nothing"));
	assert_false(truth(c, "0"));
	assert_false(truth(c, "''"));
	assert_false(truth(c, "[]"));
	assert_false(truth(c, "e"));
	assert_true(truth(c, "'0'"));
	assert_false(truth(c, "'1' == 1"));
	assert_true(truth(c, "1 == 1.0 and true == 1"));
	assert_true(truth(c, "1 < 2 < 3"));
	assert_true(truth(c, "[1, 2] < [1, 3]"));
	assert_true(truth(c, "foo is not defined"));
	assert_true(truth(c, "foo is undefined"));
	assert_true(truth(c, "x is defined"));
	assert_false(truth(c, "m.nope is defined"));
	assert_false(truth(c, "m.nope.deeper is defined"));
	assert_false(truth(c, "foo.bar['x'] is defined"));
	assert_true(truth(c, "m.a is defined"));
	assert_true(truth(c, "not x == 2"));

	struct kp_expr *e;
	struct kp_value *v;
	assert_int_equal(kp_expr_compile("x + 1", POS, &e, &c->err), KP_OK);
	assert_string_equal(kp_expr_source(e), "x + 1");
	assert_int_equal(kp_expr_eval(c->L, e, &c->s, &v, &c->err), KP_OK);
	assert_int_equal(v->type, KP_V_INT); /* an expression keeps its type */
	assert_int_equal(v->u.i, 2);
	kp_value_unref(v);
	kp_expr_free(e);
}

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
	assert_true(truth(c, "1 in [1, 2] and 3 not in (1, 2)"));
	expect(c, "{{ 'etcd' in group_names }}", "true");
}

/* Variables whose values are templates render where they are used;
 * node-supplied (unsafe) values never do. */
static void test_lazy_vars(void **state)
{
	struct ctx *c = *state;
	struct kp_value *lazy =
	    json("{\"a\":\"{{ b }}-x\",\"b\":\"{{ x + 41 }}\",\"l\":[\"{{ a }}\",2],"
		 "\"mm\":{\"k\":\"{{ kube_version }}\"},\"loop1\":\"{{ loop2 }}\","
		 "\"loop2\":\"{{ loop1 }}\",\"bad\":\"{{ nope }}\",\"n\":\"{{ x }}\"}");
	struct kp_value *reg = json("{\"stdout\":\"{{ 7 * 6 }}\",\"rc\":0}");
	reg->unsafe = 1;
	kp_map_set_take(lazy, "reg", reg);
	c->s.layers[c->s.nlayers++] = lazy;
	expect(c, "{{ a }}", "\"42-x\"");
	expect(c, "{{ b }}", "\"42\"");
	expect(c, "{{ n }}", "\"1\"");
	expect(c, "{{ n + 1 }}", "\"2\""); /* n renders to the number x */
	expect(c, "{{ l }}", "[\"42-x\",2]");
	expect(c, "{{ mm.k }}", "\"1.13.3\"");
	expect(c, "{{ mm }}", "{\"k\":\"1.13.3\"}");
	assert_true(truth(c, "a == '42-x'"));
	expect(c, "{{ reg.stdout }}", "\"{{ 7 * 6 }}\"");
	expect(c, "out: {{ reg.stdout }}", "\"out: {{ 7 * 6 }}\"");
	expect(c, "{{ reg }}", "{\"stdout\":\"{{ 7 * 6 }}\",\"rc\":0}");
	expect_err(c, "{{ loop1 }}", KP_ERR_INVALID,
		   "upgrade.yml:14:7: variable 'loop1' is defined in terms of itself ('loop1' -> "
		   "'loop2' -> 'loop1')");
	expect_err(c, "{{ 'v' ~ loop1 }}", KP_ERR_INVALID,
		   "upgrade.yml:14:7: variable 'loop1' is defined in terms of itself ('loop1' -> "
		   "'loop2' -> 'loop1')");
	expect_err(c, "{{ bad }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'nope' (in the value of 'bad')");
	expect_err(c, "{{ bad ~ 'x' }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'nope' (in the value of 'bad')");
	c->s.nlayers--;
	kp_value_unref(lazy);

	/* a rendered value holding template text is marked: not rendered again */
	struct kp_template *t;
	struct kp_value *v;
	const char *src = "{{ '{{ x }}' }}";
	assert_int_equal(kp_template_compile(src, strlen(src), POS, &t, &c->err), KP_OK);
	assert_int_equal(kp_template_render(c->L, t, &c->s, &v, &c->err), KP_OK);
	assert_string_equal(v->u.str.s, "{{ x }}");
	assert_true(v->unsafe);
	kp_value_unref(v);
	kp_template_free(t);
}

static void test_undefined(void **state)
{
	struct ctx *c = *state;
	bool b;
	expect_err(c, "{{ kube_versio }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'kube_versio'");
	expect_err(c, "v{{ foo ~ 'x' }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo + 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo.bar }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ -foo }}", KP_ERR_UNDEFINED, "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo < 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ m.nope }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: 'dict object' has no attribute 'nope'");
	expect_err(c, "{{ m.nope.deeper }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: 'dict object' has no attribute 'nope'");
	expect_err(c, "{{ m.a.nope + 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: 'dict object' has no attribute 'nope'");
	expect_err(c, "{{ m['a-b'] }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: 'dict object' has no attribute 'a-b'");
	expect_err(c, "{{ m.l[5] }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: list object has no element 5");
	expect_err(c, "{{ kube_version.nope }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: 'str object' has no attribute 'nope'");
	expect_err(c, "{{ hostvars['h9'].ip }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: \"hostvars['h9']\" is undefined");
	expect_err(c, "{{ foo and 1 }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ [foo] }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect_err(c, "{{ foo | mandatory }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: mandatory variable 'foo' not defined");

	assert_int_equal(test_expr(c, "not foo", &b), KP_ERR_UNDEFINED);
	assert_string_equal(c->err.buf, "upgrade.yml:14:7: undefined variable 'foo'");
	assert_int_equal(test_expr(c, "foo", &b), KP_ERR_UNDEFINED);
	assert_int_equal(test_expr(c, "foo == none", &b), KP_ERR_UNDEFINED);

	expect(c, "{{ foo | default(1) }}", "\"1\"");
	expect(c, "{{ foo | d('x') }}", "\"x\"");
	expect(c, "{{ nothing | default('d') }}", "\"\""); /* None is defined */
	expect(c, "{{ '' | default('d', true) }}", "\"d\"");
	expect(c, "{{ x | default(2) }}", "\"1\"");
	expect(c, "{{ m.nope | default('d') }}", "\"d\"");
	expect(c, "{{ foo.x.y | default('deep') }}", "\"deep\"");
	expect(c, "{{ foo is defined }}", "false");
	expect(c, "{{ foo is defined and foo }}", "false");
	expect(c, "{{ foo | default(bar | default(3)) }}", "\"3\"");
	expect(c, "{{ m | ansible.builtin.default(0) }}",
	       "{\"a\":{\"b\":5},\"empty\":{},\"l\":[1,2],\"z\":1,\"y\":2}");

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
	expect_err(c, "{{ pin | default(1) }}", KP_ERR_UNKNOWN,
		   "upgrade.yml:14:7: 'pin' is known only after the hosts are probed");
	assert_int_equal(test_expr(c, "pin.rc == 0", &b), KP_ERR_UNKNOWN);
	assert_int_equal(test_expr(c, "pin is defined", &b), KP_ERR_UNKNOWN);

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

/* Found by fuzzing (tests/data/fuzz-regressions/template/float-plus-int,
 * template/long-float-literal, plan/endif-quote-leak, template/list-repeat-memory,
 * template/empty-repeat-slow, template/format-width-slow): a float and an int in arithmetic read
 * the float's integer view (UBSan: an invalid bool); an end tag followed by text that does not lex
 * leaked the tag's name. Both run under `make asan`. */
static void test_fuzz_regressions(void **state)
{
	struct ctx *c = *state;
	expect(c, "{{ 1.13 + 10 }}", "\"11.129999999999999\""); /* as Python prints it */
	expect(c, "{{ 10 - 0.5 }}", "\"9.5\"");
	/* a list repeated into millions of items (list-repeat-memory): the
	 * evaluation limit, not gigabytes once it is printed */
	kp_rc rrc;
	char *big = render_rc(c, "{{ 4 * ['a', 'b'] * 3 ** 13 }}", &rrc);
	assert_null(big);
	assert_int_equal(rrc, KP_ERR_LIMIT);
	assert_non_null(strstr(c->err.buf, "exceeded the evaluation limit"));
	/* nothing repeated very often (empty-repeat-slow): nothing, at once */
	expect(c, "{{ '' * 2 * 22222222222221 }}", "\"\"");
	expect(c, "{{ [] * 22222222222221 }}", "[]");
	/* a format width of 751 M (format-width-slow): the limit, at once */
	big = render_rc(c, "{{ '%0751266563s' % 'x' }}", &rrc);
	assert_null(big);
	assert_int_equal(rrc, KP_ERR_LIMIT);
	expect(c, "{{ '%5s|%-3d|%.2f' % ('x', 7, 1.5) }}", "\"    x|7  |1.50\"");
	/* a number literal longer than any buffer (long-float-literal) */
	expect(
	    c,
	    "{{ 1 +666666666616666666666666666666666666666666666666666666666666666666666666666666"
	    "666666.2666 }}",
	    "\"6.666666666166667e+83\"");
	kp_rc rc;
	/* test-without-argument: a comparison test given nothing to compare */
	assert_null(render_rc(c, "{{ 1429 is le }}", &rc));
	assert_int_equal(rc, KP_ERR_RUNTIME);
	assert_non_null(strstr(c->err.buf, "test 'le' needs an argument"));
	/* map-key-with-nul: a key with a NUL inside matches no stored key */
	struct kp_value *m = kp_value_map();
	kp_map_set_take(m, "a", kp_value_int(1));
	assert_null(kp_map_getn(m, "a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0-b", 22));
	assert_non_null(kp_map_getn(m, "a", 1));
	kp_value_unref(m);
	char *got = render_rc(c, "{% if x %}yes{% endif'", &rc);
	assert_null(got);
	assert_int_equal(rc, KP_ERR_PARSE);
}

static void test_compile_errors(void **state)
{
	struct ctx *c = *state;
	struct kp_expr *e;
	/* Jinja's words, the line and column in the template, and a caret */
	expect_err(c, "{{ 1 + }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template '{{ 1 + }}': unexpected 'end of print "
		   "statement' (line 1, column 8)\n    {{ 1 + }}\n           ^");
	expect_err(c, "a\n  {{ x +* 2 }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template 'a {{ x +* 2 }}': unexpected '*' (line 2, "
		   "column 9)\n      {{ x +* 2 }}\n            ^");
	expect_err(c, "a {{ x", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template 'a {{ x': unexpected end of template, "
		   "expected 'end of print statement' (line 1, column 7)\n    a {{ x\n          ^");
	expect_err(
	    c, "{{ 'x }}", KP_ERR_PARSE,
	    "upgrade.yml:14:7: invalid template '{{ 'x }}': unexpected char \"'\" at 3 (line "
	    "1, column 4)\n    {{ 'x }}\n       ^");
	expect_err(c, "{% if x %}y", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template '{% if x %}y': Unexpected end of template. "
		   "Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The "
		   "innermost block that needs to be closed is 'if' (line 1, column 11)\n"
		   "    {% if x %}y\n              ^");
	/* the innermost block named after its token is gone (with-tag-after-free,
	 * found by fuzzing: a use after free under ASan) */
	expect_err(c, "{% with%}maA", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template '{% with%}maA': Unexpected end of template. "
		   "Jinja was looking for the following tags: 'endwith'. The innermost block that "
		   "needs to be closed is 'with' (line 1, column 10)\n    {% with%}maA\n"
		   "             ^");
	expect_err(c, "{% incl 'f' %}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template '{% incl 'f' %}': Encountered unknown tag "
		   "'incl' (line 1, column 4)\n    {% incl 'f' %}\n       ^");
	expect_err(
	    c, "{{ x | no_such_filter }}", KP_ERR_PARSE,
	    "upgrade.yml:14:7: invalid template '{{ x | no_such_filter }}': no filter named "
	    "'no_such_filter' (line 1, column 8)\n    {{ x | no_such_filter }}\n           ^");
	expect_err(c, "{{ x is no_such_test }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template '{{ x is no_such_test }}': no test named "
		   "'no_such_test' (line 1, column 9)\n    {{ x is no_such_test }}\n            ^");
	expect(c, "{{ 'a|b' }}", "\"a|b\"");
	expect_err(
	    c, "{{ foo bar }}", KP_ERR_PARSE,
	    "upgrade.yml:14:7: invalid template '{{ foo bar }}': expected token 'end of print "
	    "statement', got 'bar' (line 1, column 8)\n    {{ foo bar }}\n           ^");
	/* Lua habits get a hint */
	expect_err(c, "{{ a .. b }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template '{{ a .. b }}': expected name or number "
		   "(Jinja joins strings with ~, not ..) (line 1, column 7)\n    {{ a .. b }}\n"
		   "          ^");
	expect_err(c, "{{ default(x, 1) }}", KP_ERR_PARSE,
		   "upgrade.yml:14:7: invalid template '{{ default(x, 1) }}': no function named "
		   "'default' (write x | default(y) instead of default(x, y)) (line 1, column 11)\n"
		   "    {{ default(x, 1) }}\n              ^");
	assert_int_equal(kp_expr_compile("x ~= 1", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf, "upgrade.yml:14:7: invalid expression 'x ~= 1': unexpected "
					"'=' (Jinja writes != for 'not equal', not ~=) (line 1, "
					"column 4)\n    x ~= 1\n       ^");
	assert_int_equal(kp_expr_compile("#l > 1", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf, "upgrade.yml:14:7: invalid expression '#l > 1': unexpected "
					"char '#' at 0 (Jinja writes x | length, not #x) (line 1, "
					"column 1)\n    #l > 1\n    ^");
	assert_int_equal(kp_expr_compile("version_compare(a, '<', b)", POS, &e, &c->err),
			 KP_ERR_PARSE);
	assert_string_equal(
	    c->err.buf, "upgrade.yml:14:7: invalid expression 'version_compare(a, '<', b)': no "
			"function named 'version_compare' (write a is version(b, op) instead of "
			"version_compare(a, op, b)) (line 1, column 16)\n    version_compare(a, "
			"'<', b)\n                   ^");
	assert_int_equal(kp_expr_compile("x ==", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(c->err.buf, "upgrade.yml:14:7: invalid expression 'x ==': unexpected "
					"'end of statement block' (line "
					"1, column 5)\n    x ==\n        ^");
	/* on one line when it spans several */
	assert_int_equal(kp_expr_compile("a and\n  b ===\n  c", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(
	    c->err.buf,
	    "upgrade.yml:14:7: invalid expression 'a and b === c': unexpected '=' (line 2, "
	    "column 7)\n      b ===\n          ^");
	assert_int_equal(kp_expr_compile("1, 2", POS, &e, &c->err), KP_ERR_PARSE);
	assert_string_equal(
	    c->err.buf,
	    "upgrade.yml:14:7: invalid expression '1, 2': expected token 'end of statement "
	    "block', got ',' (line 1, column 2)\n    1, 2\n     ^");
	/* a lookup that does not exist fails when the plan loads, even where
	 * no host would reach it; a name computed at run time waits for it */
	struct kp_template *t = NULL;
	const char *lk = "{% if false %}{{ lookup('nosuch') }}{% endif %}";
	assert_int_equal(kp_template_compile(lk, strlen(lk), POS, &t, &c->err), KP_ERR_PARSE);
	assert_null(t);
	assert_string_equal(c->err.buf,
			    "upgrade.yml:14:7: invalid template '{% if false %}{{ "
			    "lookup('nosuch') }}{% endif %}': lookup plugin (nosuch) not "
			    "found (line 1, column 25)\n    {% if false %}{{ "
			    "lookup('nosuch') }}{% endif %}\n                            ^");
	assert_int_equal(kp_expr_compile("q('envv', 'HOME') | length > 0", POS, &e, &c->err),
			 KP_ERR_PARSE);
	assert_string_equal(c->err.buf,
			    "upgrade.yml:14:7: invalid expression 'q('envv', 'HOME') | "
			    "length > 0': lookup plugin (envv) not found (did you mean "
			    "'env'?) (line 1, column 3)\n    q('envv', 'HOME') | length > "
			    "0\n      ^");
	lk = "{{ lookup(kind, 'x') }}";
	assert_int_equal(kp_template_compile(lk, strlen(lk), POS, &t, &c->err), KP_OK);
	kp_template_free(t);
}

static void test_runtime_errors(void **state)
{
	struct ctx *c = *state;
	expect_err(c, "{{ x + {} }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{{ x + {} }}': unsupported operand "
		   "type(s) for +: 'int' and 'dict'");
	expect_err(c, "{{ 'a' + 1 }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{{ 'a' + 1 }}': can only concatenate "
		   "str (not \"int\") to str");
	expect_err(c, "{{ 'a' < 1 }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{{ 'a' < 1 }}': '<' not supported "
		   "between instances of 'str' and 'int'");
	expect_err(c, "{{ 1 in 5 }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{{ 1 in 5 }}': argument of type 'int' "
		   "is not iterable");
	expect_err(c, "{{ 5 / 0 }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{{ 5 / 0 }}': division by zero");
	expect_err(c, "{{ m.l.nope() }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{{ m.l.nope() }}': 'list object' has no "
		   "attribute 'nope'");
	expect_err(c, "{{ x() }}", KP_ERR_RUNTIME,
		   "upgrade.yml:14:7: error in expression '{{ x() }}': 'int' object is not "
		   "callable");
	expect_err(c, "{{ foo() }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
}

/* Nothing of Python or Lua is reachable from a template. */
static void test_sandbox(void **state)
{
	struct ctx *c = *state;
	expect_err(c, "{{ os.execute('id') }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'os'");
	expect_err(c, "{{ ''.__class__ }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: 'str object' has no attribute '__class__'");
	expect_err(c, "{{ m.__init__ }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: 'dict object' has no attribute '__init__'");
	expect(c, "{{ lipsum is defined }}", "false");
}

/* Runaway templates fail fast with the position, whatever they build. */
static void test_limits(void **state)
{
	struct ctx *c = *state;
	const char *const runaway[] = {
	    "{{ range(10**9) }}",
	    "{{ 'x' * 10**10 }}",
	    "{{ [1] * 10**9 }}",
	    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
	    ("{% set s = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' %}{% for i in range(1000000) %}{{ s }}"
	     "{% endfor %}"),
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(runaway); i++) {
		kp_rc rc;
		char *got = render_rc(c, runaway[i], &rc);
		assert_null(got);
		assert_int_equal(rc, KP_ERR_LIMIT);
		assert_true(strstr(c->err.buf, "upgrade.yml:14:7: error in expression") ==
			    c->err.buf);
		assert_non_null(strstr(c->err.buf, "exceeded the evaluation limit"));
	}
	expect_err(c, "{{ 9223372036854775807 + 1 }}", KP_ERR_LIMIT,
		   "upgrade.yml:14:7: error in expression '{{ 9223372036854775807 + 1 }}': integer "
		   "result too large");
	/* Python's ints are unbounded, kplan's 64-bit: every way past 2^63 is
	 * the same error, never a wrapped or rounded value */
	static const char *const too_large[] = {
	    "{{ 2 ** 63 }}",
	    "{{ -(-9223372036854775807 - 1) }}",
	    "{{ 4611686018427387904 * 2 }}",
	    "{{ '99999999999999999999' | int }}",
	    "{{ 1e30 | int }}",
	    "{{ '1e19' | int }}",
	    "{{ ((2 ** 62) | float * 2) | int }}",
	    "{{ 9223372036854775807 | float | int }}",
	    "{{ '%d' % 1e19 }}",
	    "{{ (-9223372036854775807 - 1) | abs }}",
	    "{{ [9223372036854775807, 1] | sum }}",
	    "{{ (-9223372036854775807 - 1) // -1 }}",
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(too_large); i++) {
		kp_rc rc;
		char *got = render_rc(c, too_large[i], &rc);
		if (got || rc != KP_ERR_LIMIT || !strstr(c->err.buf, ": integer result too large"))
			fail_msg("'%s' gave %s, rc %d: %s", too_large[i], got ? got : "nothing", rc,
				 c->err.buf);
	}
	expect(c, "{{ 9223372036854775806 + 1 }}", "\"9223372036854775807\"");
	/* deep nesting is refused when it is compiled */
	struct kp_buf deep = KP_BUF_INIT;
	kp_buf_addstr(&deep, "{{ ");
	for (int i = 0; i < 500; i++)
		kp_buf_addch(&deep, '[');
	for (int i = 0; i < 500; i++)
		kp_buf_addch(&deep, ']');
	kp_buf_addstr(&deep, " }}");
	kp_rc rc;
	assert_null(render_rc(c, deep.buf, &rc));
	assert_int_equal(rc, KP_ERR_PARSE);
	assert_non_null(strstr(c->err.buf, "expression nested too deeply"));
	kp_buf_release(&deep);
	/* still usable */
	expect(c, "{{ x + 1 }}", "\"2\"");
}

/* Statements, with Ansible's defaults for task values (no trim_blocks)
 * and for template files (trim_blocks). */
static void test_statements(void **state)
{
	struct ctx *c = *state;
	expect(c,
	       "{% for h in groups.etcd %}{{ loop.index }}:{{ h }}{% if not loop.last %},"
	       "{% endif %}{% endfor %}",
	       "\"1:n1,2:n2\"");
	expect(c, "{% for k, v in hostvars.node1.labels.items() %}{{ k }}={{ v }};{% endfor %}",
	       "\"b=1;a=2;\"");
	expect(c, "{% for x in [] %}a{% else %}empty{% endfor %}", "\"empty\"");
	expect(c, "{% for x in 'ab' %}{{ loop.revindex }}{{ loop.cycle('o', 'e') }}{% endfor %}",
	       "\"2o1e\"");
	expect(c, "{% for x in m.l if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}", "\"21\"");
	expect(c, "{% set a, b = 1, 2 %}{{ a + b }}", "\"3\"");
	expect(c, "{% set blk %}in {{ x }}{% endset %}[{{ blk }}]", "\"[in 1]\"");
	expect(c,
	       "{% set ns = namespace(n=0) %}{% for h in groups.etcd %}{% set ns.n = ns.n + 1 %}"
	       "{% endfor %}{{ ns.n }}",
	       "\"2\"");
	expect(c, "{% if false %}1{% elif x == 1 %}2{% else %}3{% endif %}", "\"2\"");
	expect(c, "{% raw %}{{ x }}{% endraw %}", "\"{{ x }}\"");
	expect(c,
	       "{% macro kv(k, v) %}{{ k }}={{ v }}{% endmacro %}{{ kv('a', x) }};{{ kv(v=2, "
	       "k='b') }}",
	       "\"a=1;b=2\"");
	expect(c, "{% filter replace('a', 'o') | upper %}a{{ x }}a{% endfilter %}!", "\"O1O!\"");
	expect_err(
	    c, "{% filter nope %}x{% endfilter %}", KP_ERR_PARSE,
	    "upgrade.yml:14:7: invalid template '{% filter nope %}x{% endfilter %}': no filter "
	    "named 'nope' (line 1, column 11)\n    {% filter nope %}x{% endfilter %}\n"
	    "              ^");
	expect(c, "a {# note #} b", "\"a  b\"");
	expect(c, "a  {{- x -}}  b", "\"a1b\"");
	/* Templar's trim_blocks: the line break after a block tag goes */
	expect(c, "a\n{% if true %}\nb\n{% endif %}\nc", "\"a\\nb\\nc\"");
	expect(c, "{% if true %}x{% endif %}\n\n", "\"x\\n\\n\"");
	expect(c, "{{ kube_version }}\n", "\"1.13.3\\n\"");
	expect(c, "{{ m.l }}\n", "[1,2]");
	expect(c, "{{ foo | default(bar) | default('last') }}", "\"last\"");
	expect(c, "a\n  {%- if true -%}\n  b\n{%- endif %}", "\"ab\"");

	struct kp_template *t;
	struct kp_value *v;
	const char *src = "a\n  {% if true %}\nb\n  {% endif %}\n{{ [1] }}\n";
	assert_int_equal(kp_template_compile_file(src, strlen(src), POS, true, false, &t, &c->err),
			 KP_OK);
	assert_int_equal(kp_template_render(c->L, t, &c->s, &v, &c->err), KP_OK);
	assert_string_equal(v->u.str.s, "a\n  b\n  [1]\n");
	kp_value_unref(v);
	kp_template_free(t);
	assert_int_equal(kp_template_compile_file(src, strlen(src), POS, true, true, &t, &c->err),
			 KP_OK);
	assert_int_equal(kp_template_render(c->L, t, &c->s, &v, &c->err), KP_OK);
	assert_string_equal(v->u.str.s, "a\nb\n[1]\n");
	kp_value_unref(v);
	kp_template_free(t);
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
			"gone: '{{ omit }}'\n"
			"some: [1, '{{ nope | default(omit) }}']\n"
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
	assert_string_equal(
	    out.buf,
	    "{\"name\":\"kubeadm\",\"version\":\"1.13.3-00\",\"count\":\"2\","
	    "\"some\":[1],\"list\":[\"a\",1,3],\"lit\":{\"k\":[1,2],\"n\":null,\"b\":true},"
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
			    "t.yml:2:5: invalid template '{{ 1 + }}': unexpected 'end of print "
			    "statement' (line 1, column 8)\n    {{ 1 + }}\n           ^");
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
}

static void test_nested(void **state)
{
	struct ctx *c = *state;
	const char *src = "{{ {'ip': x + 1, 'l': [nope | default('d')]} }}";
	assert_int_equal(kp_template_compile(src, strlen(src), POS, &c->nested, &c->err), KP_OK);
	expect(c, "{{ hostvars.nested.ip + x }}", "\"3\"");
	expect(c, "{{ hostvars.nested.l[0] ~ hostvars.nested.ip }}", "\"d2\"");
	expect_err(c, "{{ hostvars.nested.ip + foo }}", KP_ERR_UNDEFINED,
		   "upgrade.yml:14:7: undefined variable 'foo'");
	expect(c, "{{ x }}", "1");
	kp_template_free(c->nested);
	/* a nested evaluation has its own undefined values */
	src = "{{ {'n': (nope | default(1)) + x} }}";
	assert_int_equal(kp_template_compile(src, strlen(src), POS, &c->nested, &c->err), KP_OK);
	expect(c, "{{ hostvars.nested }}", "{\"n\":2}");
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
		snprintf(want, sizeof(want), "\"%d\"", i + 1);
		expect(c, src, want);
	}
}

/* JSON output keeps every number exactly: a float is the shortest text that
 * reads back as the same double (Python's repr, what ansible's json writes),
 * an integer every digit */
static void test_json_numbers(void **state)
{
	(void)state;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		double f;
		memcpy(&f, &x, sizeof(f));
		if (!isfinite(f))
			continue;
		struct kp_value *v = kp_value_float(f);
		struct kp_buf out = KP_BUF_INIT;
		kp_value_to_json(v, false, false, &out);
		char *end;
		assert_true(strtod(out.buf, &end) == f);
		assert_int_equal(*end, 0);
		/* one significant digit fewer no longer reads back */
		int digits = 0;
		bool lead = true;
		for (const char *p = out.buf; *p && *p != 'e'; p++) {
			lead = lead && (*p == '0' || *p == '.' || *p == '-');
			digits += !lead && isdigit((unsigned char)*p);
		}
		char shorter[64];
		if (digits > 1 && fabs(f) >= 1e-4 && fabs(f) < 1e15 && f != floor(f)) {
			snprintf(shorter, sizeof(shorter), "%.*e", digits - 2, f);
			assert_true(strtod(shorter, NULL) != f);
		}
		kp_buf_release(&out);
		kp_value_unref(v);
	}
	struct kp_value *v = kp_value_float(1796671613.2770798);
	struct kp_buf out = KP_BUF_INIT;
	kp_value_to_json(v, false, false, &out);
	assert_string_equal(out.buf, "1796671613.2770798");
	kp_value_unref(v);
	kp_buf_reset(&out);
	v = kp_value_int(9007199254740993LL);
	kp_value_to_json(v, false, false, &out);
	assert_string_equal(out.buf, "9007199254740993");
	kp_value_unref(v);
	kp_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_types, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fuzz_regressions, setup, teardown),
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
	    cmocka_unit_test_setup_teardown(test_statements, setup, teardown),
	    cmocka_unit_test(test_version_compare),
	    cmocka_unit_test(test_json_numbers),
	    cmocka_unit_test_setup_teardown(test_tvalue, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_conversion, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fast_path_speed, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
