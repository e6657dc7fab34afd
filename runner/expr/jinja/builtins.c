/*
 * builtins.c - how filters, tests and lookups are found and called: the
 * engine's own (default/d, mandatory, attr; defined, undefined) and the
 * library's tables (jinja_fn.h), with arguments bound to the declared
 * parameters; and the globals range, dict, lookup, query/q and now.
 */
#include "expr/jinja/jinja.h"
#include "expr/jinja/jlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* "ansible.builtin.to_json" -> "to_json" */
static const char *short_name(const char *name)
{
	static const char *const prefixes[] = {"ansible.builtin.", "ansible.netcommon.",
					       "ansible.utils.", "community.general."};
	for (size_t i = 0; i < KP_ARRAY_LEN(prefixes); i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(name, prefixes[i], n))
			return name + n;
	}
	return name;
}

/* Engine filters */

static kp_rc f_default(struct kp_jctx *cx, const struct kp_value *in,
		       const struct kp_value *const *argv, struct kp_value **out)
{
	if (kp_jv_is_undef(in) && in->secret)
		return kp_jv_undef_error(cx, in); /* known only after probe */
	if (argv[1] && kp_jv_is_undef(argv[1]))
		return kp_jv_undef_error(cx, argv[1]);
	bool use =
	    kp_jv_is_undef(in) || (argv[1] && kp_jinja_truthy(argv[1]) && !kp_jinja_truthy(in));
	if (!use)
		*out = kp_value_ref(in);
	else
		*out = argv[0] ? kp_value_ref(argv[0]) : kp_value_str("");
	return KP_OK;
}

static kp_rc f_mandatory(struct kp_jctx *cx, const struct kp_value *in,
			 const struct kp_value *const *argv, struct kp_value **out)
{
	if (!kp_jv_is_undef(in)) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	if (in->secret)
		return kp_jv_undef_error(cx, in);
	if (argv[0] && argv[0]->type == KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_UNDEFINED, "%s", argv[0]->u.str.s);
	const char *q = strchr(in->u.str.s, '\'');
	if (q && !strncmp(in->u.str.s, "undefined variable ", 19))
		return kp_jinja_err(cx, KP_ERR_UNDEFINED, "mandatory variable %s not defined", q);
	return kp_jinja_err(cx, KP_ERR_UNDEFINED, "mandatory variable not defined: %s",
			    in->u.str.s);
}

static kp_rc f_attr(struct kp_jctx *cx, const struct kp_value *in,
		    const struct kp_value *const *argv, struct kp_value **out)
{
	if (!argv[0] || argv[0]->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "attr() needs an attribute name");
	const struct kp_value *v = in->type == KP_V_MAP ? kp_map_get(in, argv[0]->u.str.s) : NULL;
	*out =
	    v ? kp_value_ref(v)
	      : kp_jv_undef("'%s' has no attribute '%s'", kp_jinja_typename(in), argv[0]->u.str.s);
	return KP_OK;
}

static const struct kp_jfilter engine_filters[] = {
    {"default", "default_value,boolean", KP_JF_UNDEF | KP_JF_UNDEF_ARGS, f_default},
    {"d", "default_value,boolean", KP_JF_UNDEF | KP_JF_UNDEF_ARGS, f_default},
    {"mandatory", "msg", KP_JF_UNDEF, f_mandatory},
    {"attr", "name", 0, f_attr},
};

static kp_rc t_defined(struct kp_jctx *cx, const struct kp_value *in,
		       const struct kp_value *const *argv, bool *out)
{
	if (kp_jv_is_undef(in) && in->secret)
		return kp_jv_undef_error(cx, in);
	*out = !kp_jv_is_undef(in);
	return KP_OK;
}

static kp_rc t_undefined(struct kp_jctx *cx, const struct kp_value *in,
			 const struct kp_value *const *argv, bool *out)
{
	kp_rc rc = t_defined(cx, in, argv, out);
	*out = !*out;
	return rc;
}

static const struct kp_jtest engine_tests[] = {
    {"defined", NULL, KP_JF_UNDEF, t_defined},
    {"undefined", NULL, KP_JF_UNDEF, t_undefined},
};

static const struct kp_jfilter *find_filter_named(const char *name)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(engine_filters); i++)
		if (!strcmp(engine_filters[i].name, name))
			return &engine_filters[i];
	for (const struct kp_jfilter *f = kp_jinja_filters; f->name; f++)
		if (!strcmp(f->name, name))
			return f;
	return NULL;
}

/* The name as written first ("community.general.dict" may differ from
 * the builtin "dict"), then without its collection */
static const struct kp_jfilter *find_filter(const char *name)
{
	const struct kp_jfilter *f = find_filter_named(name);
	return f ? f : find_filter_named(short_name(name));
}

static const struct kp_jtest *find_test_named(const char *name)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(engine_tests); i++)
		if (!strcmp(engine_tests[i].name, name))
			return &engine_tests[i];
	for (const struct kp_jtest *t = kp_jinja_tests; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

static const struct kp_jtest *find_test(const char *name)
{
	const struct kp_jtest *t = find_test_named(name);
	return t ? t : find_test_named(short_name(name));
}

const void *kp_jfilter_find(const char *name)
{
	return find_filter(name);
}

const void *kp_jtest_find(const char *name)
{
	return find_test(name);
}

bool kp_jfilter_exists(const char *name)
{
	return find_filter(name) != NULL;
}

bool kp_jtest_exists(const char *name)
{
	return find_test(name) != NULL;
}

/* Binding arguments to "a,b,*rest,c,**kw" */
struct bound {
	const struct kp_value *argv[KP_JARGS_MAX];
	struct kp_value *owned[KP_JARGS_MAX];
	size_t nowned;
};

static void bound_release(struct bound *b)
{
	for (size_t i = 0; i < b->nowned; i++)
		kp_value_unref(b->owned[i]);
	b->nowned = 0;
}

static kp_rc bind(struct kp_jctx *cx, const char *what, const char *fname, const char *params,
		  const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		  const struct kp_value *const *kwv, size_t nkw, struct bound *b)
{
	char names[KP_JARGS_MAX][48];
	int kinds[KP_JARGS_MAX];
	size_t np = 0, p = 0;
	bool star = false;
	int dstar = -1;
	memset(b, 0, sizeof(*b));
	for (const char *s = params ? params : ""; *s && np < KP_JARGS_MAX;) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);
		int kind = len > 1 && s[0] == '*' ? (s[1] == '*' ? 2 : 1) : 0;
		size_t skip = (size_t)kind;
		snprintf(names[np], sizeof(names[np]), "%.*s", (int)(len - skip), s + skip);
		kinds[np++] = kind;
		s += len + (e != NULL);
	}
	for (size_t i = 0; i < np; i++) {
		if (kinds[i] == 0 && !star && p < npos) {
			b->argv[i] = pos[p++];
		} else if (kinds[i] == 1) {
			struct kp_value *l = kp_value_list();
			while (p < npos)
				kp_list_push(l, pos[p++]);
			b->argv[i] = b->owned[b->nowned++] = l;
			star = true;
		} else if (kinds[i] == 2) {
			struct kp_value *m = kp_value_map();
			b->argv[i] = b->owned[b->nowned++] = m;
			dstar = (int)i;
		}
	}
	if (p < npos) {
		bound_release(b);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "%s '%s': too many positional arguments",
				    what, fname);
	}
	for (size_t k = 0; k < nkw; k++) {
		size_t i;
		for (i = 0; i < np; i++)
			if (kinds[i] == 0 && !strcmp(names[i], kwn[k]))
				break;
		if (i < np) {
			if (b->argv[i]) {
				bound_release(b);
				return kp_jinja_err(
				    cx, KP_ERR_RUNTIME,
				    "%s '%s': got multiple values for argument '%s'", what, fname,
				    kwn[k]);
			}
			b->argv[i] = kwv[k];
		} else if (dstar >= 0) {
			kp_map_set(b->owned[b->nowned - 1], kwn[k], kwv[k]);
		} else {
			bound_release(b);
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "%s '%s': unexpected keyword argument '%s'", what,
					    fname, kwn[k]);
		}
	}
	return KP_OK;
}

static bool is_engine_filter(const struct kp_jfilter *f)
{
	return f >= engine_filters && f < engine_filters + KP_ARRAY_LEN(engine_filters);
}

bool kp_jinja_is_undef(const struct kp_value *v)
{
	return kp_jv_is_undef(v);
}

/* Undefined arguments fail unless the function takes them. */
static kp_rc undef_args(struct kp_jctx *cx, unsigned flags, const struct kp_value *const *pos,
			size_t npos, const struct kp_value *const *kwv, size_t nkw)
{
	if (flags & KP_JF_UNDEF_ARGS)
		return KP_OK;
	for (size_t i = 0; i < npos; i++)
		if (kp_jv_is_undef(pos[i]))
			return kp_jv_undef_error(cx, pos[i]);
	for (size_t i = 0; i < nkw; i++)
		if (kp_jv_is_undef(kwv[i]))
			return kp_jv_undef_error(cx, kwv[i]);
	return KP_OK;
}

/* "filter 'x': message" */
static kp_rc prefix_error(struct kp_jctx *cx, kp_rc rc, const char *what, const char *name)
{
	if (rc == KP_ERR_RUNTIME && strncmp(cx->err->buf, what, strlen(what))) {
		struct kp_buf m = KP_BUF_INIT;
		kp_buf_addf(&m, "%s '%s': %s", what, name, cx->err->buf);
		kp_buf_reset(cx->err);
		kp_buf_add(cx->err, m.buf, m.len);
		kp_buf_release(&m);
	}
	return rc;
}

kp_rc kp_jfilter_call(struct kp_jctx *cx, const char *name, const struct kp_value *in,
		      const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		      const struct kp_value *const *kwv, size_t nkw, struct kp_value **out)
{
	const struct kp_jfilter *f = cx->hint ? cx->hint : find_filter(name);
	struct bound b;
	cx->hint = NULL;
	if (!f)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "no filter named '%s'", name);
	if (kp_jv_is_undef(in) && !(f->flags & KP_JF_UNDEF))
		return kp_jv_undef_error(cx, in);
	kp_rc rc = undef_args(cx, f->flags, pos, npos, kwv, nkw);
	if (rc)
		return rc;
	rc = bind(cx, "filter", name, f->params, pos, npos, kwn, kwv, nkw, &b);
	if (rc)
		return rc;
	*out = NULL;
	rc = f->fn(cx, is_engine_filter(f) || !kp_jv_is_undef(in) ? in : NULL, b.argv, out);
	bound_release(&b);
	if (rc) {
		kp_value_unref(*out);
		*out = NULL;
		return prefix_error(cx, rc, "filter", name);
	}
	if (!*out)
		*out = kp_jv_undef("filter '%s' gave no value", name);
	return KP_OK;
}

kp_rc kp_jtest_call(struct kp_jctx *cx, const char *name, const struct kp_value *in,
		    const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		    const struct kp_value *const *kwv, size_t nkw, bool *out)
{
	const struct kp_jtest *t = cx->hint ? cx->hint : find_test(name);
	struct bound b;
	cx->hint = NULL;
	if (!t)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "no test named '%s'", name);
	if (kp_jv_is_undef(in) && !(t->flags & KP_JF_UNDEF))
		return kp_jv_undef_error(cx, in);
	if (kp_jv_is_undef(in) &&
	    !(t >= engine_tests && t < engine_tests + KP_ARRAY_LEN(engine_tests)))
		in = NULL;
	kp_rc rc = undef_args(cx, t->flags, pos, npos, kwv, nkw);
	if (rc)
		return rc;
	rc = bind(cx, "test", name, t->params, pos, npos, kwn, kwv, nkw, &b);
	if (rc)
		return rc;
	/* a test with parameters needs its first one (`x is le` is an error
	 * in Jinja too); truthy/falsy's convert_bool alone is optional */
	if (t->params && *t->params && strcmp(t->params, "convert_bool") && !b.argv[0]) {
		bound_release(&b);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "test '%s' needs an argument", name);
	}
	*out = false;
	rc = t->fn(cx, in, b.argv, out);
	bound_release(&b);
	return rc ? prefix_error(cx, rc, "test", name) : KP_OK;
}

/* The public call-by-name (jinja_fn.h): keywords from a map. */
static void kw_arrays(const struct kp_value *kw, const char **kwn, const struct kp_value **kwv,
		      size_t *nkw)
{
	*nkw = 0;
	if (!kw || kw->type != KP_V_MAP)
		return;
	for (size_t i = 0; i < kw->u.map.n && *nkw < KP_JARGS_MAX; i++) {
		kwn[*nkw] = kw->u.map.keys[i];
		kwv[(*nkw)++] = kw->u.map.vals[i];
	}
}

kp_rc kp_jinja_call_filter(struct kp_jctx *cx, const char *name, const struct kp_value *in,
			   const struct kp_value *const *pos, size_t npos,
			   const struct kp_value *kw, struct kp_value **out)
{
	const char *kwn[KP_JARGS_MAX];
	const struct kp_value *kwv[KP_JARGS_MAX];
	size_t nkw;
	struct kp_value *u = NULL;
	kw_arrays(kw, kwn, kwv, &nkw);
	if (!in)
		in = u = kp_jv_undef("undefined value given to filter '%s'", name);
	kp_rc rc = kp_jfilter_call(cx, name, in, pos, npos, kwn, kwv, nkw, out);
	kp_value_unref(u);
	if (!rc && kp_jv_is_undef(*out)) {
		kp_value_unref(*out);
		*out = NULL;
	}
	return rc;
}

kp_rc kp_jinja_call_test(struct kp_jctx *cx, const char *name, const struct kp_value *in,
			 const struct kp_value *const *pos, size_t npos, const struct kp_value *kw,
			 bool *out)
{
	const char *kwn[KP_JARGS_MAX];
	const struct kp_value *kwv[KP_JARGS_MAX];
	size_t nkw;
	struct kp_value *u = NULL;
	kw_arrays(kw, kwn, kwv, &nkw);
	if (!in)
		in = u = kp_jv_undef("undefined value given to test '%s'", name);
	kp_rc rc = kp_jtest_call(cx, name, in, pos, npos, kwn, kwv, nkw, out);
	kp_value_unref(u);
	return rc;
}

/* Globals */

static kp_rc g_range(struct kp_jctx *cx, const struct kp_value *const *pos, size_t npos,
		     struct kp_value **out)
{
	int64_t a[3] = {0, 0, 1};
	if (npos < 1 || npos > 3)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "range expected 1 to 3 arguments, got %zu",
				    npos);
	for (size_t i = 0; i < npos; i++) {
		if (pos[i]->type != KP_V_INT && pos[i]->type != KP_V_BOOL)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "'%s' object cannot be interpreted as an integer",
					    kp_jinja_typename(pos[i]));
		a[npos == 1 ? 1 : i] = pos[i]->type == KP_V_INT ? pos[i]->u.i : pos[i]->u.b;
	}
	if (!a[2])
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "range() arg 3 must not be zero");
	double count = a[2] > 0 ? ((double)a[1] - (double)a[0]) / (double)a[2]
				: ((double)a[0] - (double)a[1]) / (double)-a[2];
	if (count > 0) {
		kp_rc rc = kp_jinja_charge(cx, count > 1e15 ? (size_t)-1 / 2 : (size_t)count + 1);
		if (rc)
			return rc;
	}
	struct kp_value *l = kp_value_list();
	for (int64_t i = a[0]; a[2] > 0 ? i < a[1] : i > a[1]; i += a[2]) {
		kp_list_push_take(l, kp_value_int(i));
		if ((a[2] > 0 && i > INT64_MAX - a[2]) || (a[2] < 0 && i < INT64_MIN - a[2]))
			break;
	}
	*out = l;
	return KP_OK;
}

static kp_rc g_dict(struct kp_jctx *cx, const struct kp_value *const *pos, size_t npos,
		    const char *const *kwn, const struct kp_value *const *kwv, size_t nkw,
		    struct kp_value **out)
{
	struct kp_value *m = kp_value_map();
	if (npos > 1) {
		kp_value_unref(m);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "dict expected at most 1 argument, got %zu",
				    npos);
	}
	if (npos == 1 && pos[0]->type == KP_V_MAP) {
		kp_map_update(m, pos[0]);
	} else if (npos == 1 && pos[0]->type == KP_V_LIST) {
		for (size_t i = 0; i < pos[0]->u.list.n; i++) {
			const struct kp_value *p = pos[0]->u.list.items[i];
			if (p->type != KP_V_LIST || p->u.list.n != 2) {
				kp_value_unref(m);
				return kp_jinja_err(cx, KP_ERR_RUNTIME,
						    "dictionary update sequence element #%zu has "
						    "the wrong length",
						    i);
			}
			struct kp_buf k = KP_BUF_INIT;
			kp_jinja_str(p->u.list.items[0], &k);
			kp_map_set(m, k.buf, p->u.list.items[1]);
			kp_buf_release(&k);
		}
	} else if (npos == 1) {
		kp_value_unref(m);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' object is not iterable",
				    kp_jinja_typename(pos[0]));
	}
	for (size_t i = 0; i < nkw; i++)
		kp_map_set(m, kwn[i], kwv[i]);
	*out = m;
	return KP_OK;
}

const struct kp_jlookup *kp_jlookup_find(const char *name)
{
	name = short_name(name);
	for (const struct kp_jlookup *l = kp_jinja_lookups; l->name; l++)
		if (!strcmp(l->name, name))
			return l;
	return NULL;
}

static kp_rc g_lookup(struct kp_jctx *cx, bool query, const struct kp_value *const *pos,
		      size_t npos, const char *const *kwn, const struct kp_value *const *kwv,
		      size_t nkw, struct kp_value **out)
{
	if (!npos || pos[0]->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "%s() needs the lookup's name",
				    query ? "query" : "lookup");
	const char *name = short_name(pos[0]->u.str.s);
	const struct kp_jlookup *lk = kp_jlookup_find(name);
	if (!lk) {
		struct kp_buf m = KP_BUF_INIT;
		kp_jinja_unknown_name("lookup", name, NULL, &m);
		kp_rc rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "%s", m.buf);
		kp_buf_release(&m);
		return rc;
	}
	bool wantlist = query;
	const char *kn[KP_JARGS_MAX];
	const struct kp_value *kv[KP_JARGS_MAX];
	size_t n = 0;
	for (size_t i = 0; i < nkw && n < KP_JARGS_MAX; i++) {
		if (!strcmp(kwn[i], "wantlist")) {
			wantlist = kp_jinja_truthy(kwv[i]);
			continue;
		}
		kn[n] = kwn[i];
		kv[n++] = kwv[i];
	}
	struct bound b;
	kp_rc rc = bind(cx, "lookup", name, lk->params, pos + 1, npos - 1, kn, kv, n, &b);
	if (rc)
		return rc;
	struct kp_value *r = NULL;
	rc = lk->fn(cx, b.argv, &r);
	bound_release(&b);
	if (rc) {
		kp_value_unref(r);
		return prefix_error(cx, rc, "lookup", name);
	}
	if (!r || r->type != KP_V_LIST) {
		kp_value_unref(r);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "lookup '%s' did not return a list", name);
	}
	if (!wantlist) {
		bool strings = true;
		for (size_t i = 0; i < r->u.list.n; i++)
			strings &= r->u.list.items[i]->type == KP_V_STR;
		struct kp_value *j;
		if (strings) {
			struct kp_buf t = KP_BUF_INIT;
			for (size_t i = 0; i < r->u.list.n; i++) {
				if (i)
					kp_buf_addch(&t, ',');
				kp_buf_add(&t, r->u.list.items[i]->u.str.s,
					   r->u.list.items[i]->u.str.len);
			}
			size_t len;
			char *s = kp_buf_detach(&t, &len);
			j = kp_value_str_take(s, len);
		} else if (r->u.list.n == 1) {
			j = kp_value_copy(r->u.list.items[0]);
		} else {
			j = kp_value_ref(r);
		}
		kp_value_unref(r);
		r = j;
	}
	if (!r->unsafe && r->refs == 1)
		r->unsafe = 1;
	*out = r;
	return KP_OK;
}

static kp_rc g_now(struct kp_jctx *cx, const char *const *kwn, const struct kp_value *const *kwv,
		   size_t nkw, const struct kp_value *const *pos, size_t npos,
		   struct kp_value **out)
{
	bool utc = npos > 0 && kp_jinja_truthy(pos[0]);
	const char *fmt = npos > 1 && pos[1]->type == KP_V_STR ? pos[1]->u.str.s : NULL;
	for (size_t i = 0; i < nkw; i++) {
		if (!strcmp(kwn[i], "utc"))
			utc = kp_jinja_truthy(kwv[i]);
		else if (!strcmp(kwn[i], "fmt") && kwv[i]->type == KP_V_STR)
			fmt = kwv[i]->u.str.s;
		else
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "now(): unexpected keyword argument '%s'", kwn[i]);
	}
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	time_t t = tv.tv_sec;
	if (utc)
		gmtime_r(&t, &tm);
	else
		localtime_r(&t, &tm);
	char buf[256];
	if (fmt) {
		size_t n = strftime(buf, sizeof(buf), fmt, &tm);
		buf[n] = 0;
	} else {
		size_t n = strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(buf + n, sizeof(buf) - n, ".%06ld", (long)tv.tv_usec);
	}
	*out = kp_value_str(buf);
	return KP_OK;
}

/* A lookup by name with its terms as positional arguments and a list
 * wanted (what a with_<name> loop does). */
kp_rc kp_jinja_lookup(struct kp_jctx *cx, const char *name, const struct kp_value *terms,
		      struct kp_value **out)
{
	size_t n = kp_list_len(terms);
	const struct kp_value **pos = kp_xcalloc(n + 1, sizeof(*pos));
	struct kp_value *nv = kp_value_str(name);
	pos[0] = nv;
	for (size_t i = 0; i < n; i++)
		pos[i + 1] = kp_list_at(terms, i);
	kp_rc rc = g_lookup(cx, true, pos, n + 1, NULL, NULL, 0, out);
	kp_value_unref(nv);
	free(pos);
	return rc;
}

bool kp_jinja_lookup_exists(const char *name)
{
	for (const struct kp_jlookup *l = kp_jinja_lookups; l->name; l++)
		if (!strcmp(l->name, short_name(name)))
			return true;
	return false;
}

static const char *const global_names[] = {"range", "dict", "lookup",	"query",
					   "q",	    "now",  "namespace"};

bool kp_jglobal_exists(const char *name)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(global_names); i++)
		if (!strcmp(global_names[i], name))
			return true;
	return false;
}

kp_rc kp_jglobal_call(struct kp_jctx *cx, const char *name, const struct kp_value *const *pos,
		      size_t npos, const char *const *kwn, const struct kp_value *const *kwv,
		      size_t nkw, struct kp_value **out)
{
	if (!strcmp(name, "range")) {
		if (nkw)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "range() takes no keyword arguments");
		return g_range(cx, pos, npos, out);
	}
	if (!strcmp(name, "dict") || !strcmp(name, "namespace"))
		return g_dict(cx, pos, npos, kwn, kwv, nkw, out); /* {% set ns.x %} writes it */
	if (!strcmp(name, "lookup"))
		return g_lookup(cx, false, pos, npos, kwn, kwv, nkw, out);
	if (!strcmp(name, "query") || !strcmp(name, "q"))
		return g_lookup(cx, true, pos, npos, kwn, kwv, nkw, out);
	return g_now(cx, kwn, kwv, nkw, pos, npos, out);
}
