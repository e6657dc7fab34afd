/*
 * tests.c - the table of Jinja and Ansible tests (`x is name(args)`) and
 * their implementations, except the engine's defined/undefined and the
 * regex tests (regex.c). Semantics of Jinja 3.1 and ansible-core 2.14.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "expr/jinja/jinja.h" /* kp_jfilter_exists, kp_jtest_exists */
#include "expr/jinja/jlib.h"

static bool is_num(const struct kp_value *v)
{
	return v->type == KP_V_INT || v->type == KP_V_FLOAT || v->type == KP_V_BOOL;
}

#define SIMPLE(name, expr)                                                                         \
	static JT(name)                                                                            \
	{                                                                                          \
		(void)cx;                                                                          \
		(void)argv;                                                                        \
		*out = (expr);                                                                     \
		return KP_OK;                                                                      \
	}

SIMPLE(none, in->type == KP_V_NULL)
SIMPLE(string, in->type == KP_V_STR)
SIMPLE(number, is_num(in))
SIMPLE(integer, in->type == KP_V_INT)
SIMPLE(float, in->type == KP_V_FLOAT)
SIMPLE(boolean, in->type == KP_V_BOOL)
SIMPLE(mapping, in->type == KP_V_MAP)
SIMPLE(sequence, in->type == KP_V_STR || in->type == KP_V_LIST || in->type == KP_V_MAP)
SIMPLE(iterable, in->type == KP_V_STR || in->type == KP_V_LIST || in->type == KP_V_MAP)
SIMPLE(callable, false)
SIMPLE(is_true, in->type == KP_V_BOOL && in->u.b)
SIMPLE(is_false, in->type == KP_V_BOOL && !in->u.b)

/* filter / test: is there one of that name (engine's or the library's)? */
static JT(filter)
{
	*out = in->type == KP_V_STR && kp_jfilter_exists(in->u.str.s);
	return KP_OK;
}

static JT(test)
{
	*out = in->type == KP_V_STR && kp_jtest_exists(in->u.str.s);
	return KP_OK;
}

static JT(eq)
{
	*out = kp_jinja_equal(in, argv[0]);
	return KP_OK;
}

static JT(ne)
{
	*out = !kp_jinja_equal(in, argv[0]);
	return KP_OK;
}

static kp_rc order(struct kp_jctx *cx, const struct kp_value *a, const struct kp_value *b, int want,
		   bool or_equal, bool *out)
{
	int c;
	kp_rc rc = kp_jinja_compare(cx, a, b, &c);
	if (rc)
		return rc;
	*out = (c < 0 ? -1 : c > 0) == want || (or_equal && c == 0);
	return KP_OK;
}

static JT(lt)
{
	return order(cx, in, argv[0], -1, false, out);
}
static JT(le)
{
	return order(cx, in, argv[0], -1, true, out);
}
static JT(gt)
{
	return order(cx, in, argv[0], 1, false, out);
}
static JT(ge)
{
	return order(cx, in, argv[0], 1, true, out);
}

static kp_rc container(struct kp_jctx *cx, const struct kp_value *c)
{
	if (c->type == KP_V_STR || c->type == KP_V_LIST || c->type == KP_V_MAP)
		return KP_OK;
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "argument of type '%s' is not iterable",
			    kp_jinja_typename(c));
}

/* in(seq): value in seq */
static JT(in)
{
	kp_rc rc = container(cx, argv[0]);
	if (rc)
		return rc;
	if (argv[0]->type == KP_V_STR && in->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "'in <string>' requires string as left operand, not %s",
				    kp_jinja_typename(in));
	*out = jl_contains(argv[0], in);
	return KP_OK;
}

/* contains(value): seq contains value */
static JT(contains)
{
	kp_rc rc = container(cx, in);
	if (rc)
		return rc;
	*out = jl_contains(in, argv[0]);
	return KP_OK;
}

static kp_rc int_of(struct kp_jctx *cx, const struct kp_value *v, int64_t *out)
{
	if (v->type == KP_V_INT || v->type == KP_V_BOOL) {
		*out = v->type == KP_V_INT ? v->u.i : v->u.b;
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME,
			    "unsupported operand type(s) for %%: '%s' and 'int'",
			    kp_jinja_typename(v));
}

static JT(odd)
{
	int64_t i = 0;
	kp_rc rc = int_of(cx, in, &i);
	if (!rc)
		*out = i % 2 != 0;
	return rc;
}

static JT(even)
{
	int64_t i = 0;
	kp_rc rc = int_of(cx, in, &i);
	if (!rc)
		*out = i % 2 == 0;
	return rc;
}

static JT(divisibleby)
{
	const struct kp_value *d = argv[0];
	if (in->type == KP_V_FLOAT || d->type == KP_V_FLOAT) {
		/* Python's float modulo */
		if (!is_num(in) || !is_num(d))
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "unsupported operand type(s) for %%: '%s' and '%s'",
					    kp_jinja_typename(in), kp_jinja_typename(d));
		double x = in->type == KP_V_FLOAT ? in->u.f
			   : in->type == KP_V_INT ? (double)in->u.i
						  : in->u.b;
		double y = d->type == KP_V_FLOAT ? d->u.f
			   : d->type == KP_V_INT ? (double)d->u.i
						 : d->u.b;
		if (y == 0)
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "float modulo");
		*out = fmod(x, y) == 0;
		return KP_OK;
	}
	int64_t i = 0, n = 0;
	kp_rc rc = int_of(cx, in, &i);
	if (!rc)
		rc = int_of(cx, d, &n);
	if (rc)
		return rc;
	if (!n)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "integer modulo by zero");
	*out = i % n == 0;
	return KP_OK;
}

/* str.islower / str.isupper: some cased character, none of the other case */
static kp_rc cased(const struct kp_value *in, bool lower, bool *out)
{
	struct kp_value *s = jl_strval(in);
	bool any = false, bad = false;
	for (size_t i = 0; i < s->u.str.len; i++) {
		char c = s->u.str.s[i];
		if (c >= 'a' && c <= 'z')
			any |= lower, bad |= !lower;
		else if (c >= 'A' && c <= 'Z')
			any |= !lower, bad |= lower;
	}
	kp_value_unref(s);
	*out = any && !bad;
	return KP_OK;
}

static JT(lower)
{
	return cased(in, true, out);
}
static JT(upper)
{
	return cased(in, false, out);
}

static JT(sameas)
{
	const struct kp_value *o = argv[0];
	if (in == o)
		*out = true;
	else if (in->type != o->type)
		*out = false;
	else if (in->type == KP_V_NULL)
		*out = true;
	else if (in->type == KP_V_BOOL)
		*out = in->u.b == o->u.b;
	else if (in->type == KP_V_INT)
		*out =
		    in->u.i == o->u.i && in->u.i >= -5 && in->u.i <= 256; /* CPython's small ints */
	else
		*out = false;
	return KP_OK;
}

/* subset/superset: set(a) <= set(b) */
static kp_rc hashable_list(struct kp_jctx *cx, const struct kp_value *v, struct kp_value **out)
{
	kp_rc rc = jl_iter(cx, v, out);
	if (rc)
		return rc;
	for (size_t i = 0; i < kp_list_len(*out); i++) {
		const struct kp_value *e = kp_list_at(*out, i);
		if (e->type == KP_V_LIST || e->type == KP_V_MAP) {
			kp_value_unref(*out);
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "unhashable type: '%s'",
					    kp_jinja_typename(e));
		}
	}
	return KP_OK;
}

static kp_rc subset_of(struct kp_jctx *cx, const struct kp_value *a, const struct kp_value *b,
		       bool *out)
{
	struct kp_value *la, *lb;
	kp_rc rc = hashable_list(cx, a, &la);
	if (rc)
		return rc;
	if ((rc = hashable_list(cx, b, &lb))) {
		kp_value_unref(la);
		return rc;
	}
	*out = true;
	for (size_t i = 0; i < kp_list_len(la) && *out; i++)
		*out = jl_contains(lb, kp_list_at(la, i));
	kp_value_unref(la);
	kp_value_unref(lb);
	return KP_OK;
}

static JT(subset)
{
	return subset_of(cx, in, argv[0], out);
}
static JT(superset)
{
	return subset_of(cx, argv[0], in, out);
}

/* Task results */
static kp_rc result_key(struct kp_jctx *cx, const struct kp_value *in, const char *test,
			const char *key, bool def, bool *out)
{
	if (in->type != KP_V_MAP)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "The '%s' test expects a dictionary", test);
	const struct kp_value *v = kp_map_get(in, key);
	*out = v ? kp_jinja_truthy(v) : def;
	return KP_OK;
}

static JT(failed)
{
	return result_key(cx, in, "failed", "failed", false, out);
}
static JT(succeeded)
{
	kp_rc rc = result_key(cx, in, "failed", "failed", false, out);
	*out = !*out;
	return rc;
}
static JT(skipped)
{
	return result_key(cx, in, "skipped", "skipped", false, out);
}
static JT(unreachable)
{
	return result_key(cx, in, "unreachable", "unreachable", false, out);
}
static JT(reachable)
{
	kp_rc rc = result_key(cx, in, "unreachable", "unreachable", false, out);
	*out = !*out;
	return rc;
}
static JT(finished)
{
	if (in->type != KP_V_MAP)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "The 'finished' test expects a dictionary");
	const struct kp_value *v = kp_map_get(in, "finished");
	*out = !v || kp_jinja_equal(v, &(struct kp_value){.type = KP_V_INT, .u.i = 1});
	return KP_OK;
}

/* changed: the result's `changed`, or any of its loop results' */
static JT(changed)
{
	if (in->type != KP_V_MAP)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "The 'changed' test expects a dictionary");
	const struct kp_value *c = kp_map_get(in, "changed"), *r = kp_map_get(in, "results");
	if (c) {
		*out = kp_jinja_truthy(c);
		return KP_OK;
	}
	*out = false;
	if (r && r->type == KP_V_LIST && kp_list_len(r) && kp_list_at(r, 0)->type == KP_V_MAP)
		for (size_t i = 0; i < kp_list_len(r) && !*out; i++) {
			const struct kp_value *e = kp_list_at(r, i);
			const struct kp_value *ec =
			    e->type == KP_V_MAP ? kp_map_get(e, "changed") : NULL;
			*out = ec && kp_jinja_truthy(ec);
		}
	return KP_OK;
}

/* Ansible's boolean(): the words it knows, else the value's truthiness */
static bool as_boolean(const struct kp_value *v, bool *known)
{
	static const char *const yes[] = {"y", "yes", "on", "1", "true", "t"};
	static const char *const no[] = {"n", "no", "off", "0", "false", "f", ""};
	*known = true;
	if (v->type == KP_V_BOOL)
		return v->u.b;
	if (v->type == KP_V_INT || v->type == KP_V_FLOAT)
		return kp_jinja_truthy(v) && (v->type == KP_V_INT ? v->u.i == 1 : v->u.f == 1.0);
	if (v->type == KP_V_STR) {
		struct kp_value *f = jl_fold(v);
		bool r = false;
		*known = false;
		for (size_t i = 0; i < 6 && !*known; i++)
			if (!strcmp(f->u.str.s, yes[i]))
				*known = r = true;
		for (size_t i = 0; i < 7 && !*known; i++)
			if (!strcmp(f->u.str.s, no[i]))
				*known = true;
		kp_value_unref(f);
		return r;
	}
	*known = false;
	return false;
}

static JT(truthy)
{
	bool known = false, b = false;
	if (jl_bool(argv[0], false))
		b = as_boolean(in, &known);
	*out = known ? b : kp_jinja_truthy(in);
	return KP_OK;
}

static JT(falsy)
{
	kp_rc rc = jt_truthy(cx, in, argv, out);
	*out = !*out;
	return rc;
}

/* any/all over a list's truthiness */
static JT(any)
{
	struct kp_value *l;
	kp_rc rc = jl_iter(cx, in, &l);
	if (rc)
		return rc;
	*out = false;
	for (size_t i = 0; i < kp_list_len(l) && !*out; i++)
		*out = kp_jinja_truthy(kp_list_at(l, i));
	kp_value_unref(l);
	return KP_OK;
}

static JT(all)
{
	struct kp_value *l;
	kp_rc rc = jl_iter(cx, in, &l);
	if (rc)
		return rc;
	*out = true;
	for (size_t i = 0; i < kp_list_len(l) && *out; i++)
		*out = kp_jinja_truthy(kp_list_at(l, i));
	kp_value_unref(l);
	return KP_OK;
}

/* version(version, operator='eq', strict=None, version_type=None) */
static JT(version)
{
	const struct kp_value *type = argv[3];
	struct kp_value *st = NULL;
	if (argv[2] && argv[2]->type != KP_V_NULL) {
		if (type && type->type != KP_V_NULL)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "Cannot specify both 'strict' and 'version_type'");
		if (kp_jinja_truthy(argv[2]))
			type = st = kp_value_str("strict");
	}
	kp_rc rc = jl_version_test(cx, in, argv[0], argv[1], type, out);
	kp_value_unref(st);
	return rc;
}

/* Paths on the controller (relative to kplan's working directory, as
 * os.path does) */
static kp_rc path_test(struct kp_jctx *cx, const struct kp_value *in, int kind, bool *out)
{
	struct stat st;
	if (in->type != KP_V_STR)
		return kp_jinja_err(
		    cx, KP_ERR_RUNTIME,
		    "stat: path should be string, bytes, os.PathLike or integer, not %s",
		    kp_jinja_typename(in));
	const char *p = in->u.str.s;
	switch (kind) {
	case 0:
		*out = !stat(p, &st) && S_ISREG(st.st_mode);
		break;
	case 1:
		*out = !stat(p, &st) && S_ISDIR(st.st_mode);
		break;
	case 2:
		*out = !lstat(p, &st) && S_ISLNK(st.st_mode);
		break;
	case 3:
		*out = !stat(p, &st);
		break;
	default:
		*out = p[0] == '/';
	}
	return KP_OK;
}

static JT(file)
{
	return path_test(cx, in, 0, out);
}
static JT(directory)
{
	return path_test(cx, in, 1, out);
}
static JT(link)
{
	return path_test(cx, in, 2, out);
}
static JT(exists)
{
	return path_test(cx, in, 3, out);
}
static JT(link_exists)
{
	struct stat st;
	kp_rc rc = path_test(cx, in, 4, out);
	if (!rc)
		*out = !lstat(in->u.str.s, &st);
	return rc;
}
static JT(abs)
{
	return path_test(cx, in, 4, out);
}

#define VER "version,operator,strict,version_type"
const struct kp_jtest kp_jinja_tests[] = {
    {"none", NULL, 0, jt_none},
    {"string", NULL, 0, jt_string},
    {"number", NULL, 0, jt_number},
    {"integer", NULL, 0, jt_integer},
    {"float", NULL, 0, jt_float},
    {"boolean", NULL, 0, jt_boolean},
    {"mapping", NULL, 0, jt_mapping},
    {"sequence", NULL, 0, jt_sequence},
    {"iterable", NULL, 0, jt_iterable},
    {"callable", NULL, 0, jt_callable},
    {"true", NULL, 0, jt_is_true},
    {"false", NULL, 0, jt_is_false},
    {"filter", NULL, 0, jt_filter},
    {"test", NULL, 0, jt_test},
    {"equalto", "other", 0, jt_eq},
    {"eq", "other", 0, jt_eq},
    {"==", "other", 0, jt_eq},
    {"ne", "other", 0, jt_ne},
    {"!=", "other", 0, jt_ne},
    {"lt", "other", 0, jt_lt},
    {"<", "other", 0, jt_lt},
    {"lessthan", "other", 0, jt_lt},
    {"le", "other", 0, jt_le},
    {"<=", "other", 0, jt_le},
    {"gt", "other", 0, jt_gt},
    {">", "other", 0, jt_gt},
    {"greaterthan", "other", 0, jt_gt},
    {"ge", "other", 0, jt_ge},
    {">=", "other", 0, jt_ge},
    {"in", "seq", 0, jt_in},
    {"contains", "value", 0, jt_contains},
    {"odd", NULL, 0, jt_odd},
    {"even", NULL, 0, jt_even},
    {"divisibleby", "num", 0, jt_divisibleby},
    {"lower", NULL, 0, jt_lower},
    {"upper", NULL, 0, jt_upper},
    {"sameas", "other", 0, jt_sameas},
    {"match", "pattern,ignorecase,multiline", 0, jt_match},
    {"search", "pattern,ignorecase,multiline", 0, jt_search},
    {"regex", "pattern,ignorecase,multiline,match_type", 0, jt_regex},
    {"version", VER, 0, jt_version},
    {"version_compare", VER, 0, jt_version},
    {"subset", "b", 0, jt_subset},
    {"issubset", "b", 0, jt_subset},
    {"superset", "b", 0, jt_superset},
    {"issuperset", "b", 0, jt_superset},
    {"succeeded", NULL, 0, jt_succeeded},
    {"success", NULL, 0, jt_succeeded},
    {"successful", NULL, 0, jt_succeeded},
    {"failed", NULL, 0, jt_failed},
    {"failure", NULL, 0, jt_failed},
    {"changed", NULL, 0, jt_changed},
    {"change", NULL, 0, jt_changed},
    {"skipped", NULL, 0, jt_skipped},
    {"skip", NULL, 0, jt_skipped},
    {"finished", NULL, 0, jt_finished},
    {"unreachable", NULL, 0, jt_unreachable},
    {"reachable", NULL, 0, jt_reachable},
    {"truthy", "convert_bool", 0, jt_truthy},
    {"falsy", "convert_bool", 0, jt_falsy},
    {"any", NULL, 0, jt_any},
    {"all", NULL, 0, jt_all},
    {"file", NULL, 0, jt_file},
    {"is_file", NULL, 0, jt_file},
    {"directory", NULL, 0, jt_directory},
    {"is_dir", NULL, 0, jt_directory},
    {"link", NULL, 0, jt_link},
    {"is_link", NULL, 0, jt_link},
    {"exists", NULL, 0, jt_exists},
    {"link_exists", NULL, 0, jt_link_exists},
    {"abs", NULL, 0, jt_abs},
    {"is_abs", NULL, 0, jt_abs},
    {NULL, NULL, 0, NULL},
};
