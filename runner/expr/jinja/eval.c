/*
 * eval.c - evaluating a Jinja expression AST against a scope.
 *
 * Names resolve to loop/set locals first, then `omit` and `hostvars`, then
 * the scope's layers. A variable whose value holds a template is rendered
 * when used (as Ansible's AnsibleJ2Vars does), unless the value is marked
 * unsafe (node-supplied data). Attribute and item lookups follow Jinja:
 * `.x` tries the key then gives undefined; `[k]` likewise; undefined
 * propagates through lookups (`a.b.c is defined` is false when a is
 * undefined) and fails on any other use.
 */
#include "expr/luaint.h"

#include "expr/jinja/jinja.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

kp_rc kp_jinja_err(struct kp_jctx *cx, kp_rc rc, const char *fmt, ...)
{
	va_list ap;
	kp_buf_reset(cx->err);
	va_start(ap, fmt);
	kp_buf_vaddf(cx->err, fmt, ap);
	va_end(ap);
	return rc;
}

kp_rc kp_jinja_charge(struct kp_jctx *cx, size_t units)
{
	if (units > cx->budget) {
		cx->budget = 0;
		return kp_jinja_err(cx, KP_ERR_LIMIT,
				    "expression exceeded the evaluation limit (%zu units of work "
				    "or memory)",
				    (size_t)KP_JINJA_BUDGET);
	}
	cx->budget -= units;
	return KP_OK;
}

const char *kp_jinja_base_dir(const struct kp_jctx *cx)
{
	return cx->scope && cx->scope->base_dir ? cx->scope->base_dir : ".";
}

static bool is_unknown(const struct kp_scope *s, const char *name)
{
	for (size_t i = 0; i < s->nunknown; i++)
		if (!strcmp(s->unknown[i], name))
			return true;
	return false;
}

/* hostvars is looked up per host: a marker value that [] and . know. */
static struct kp_value *hostvars_marker(struct kp_jctx *cx)
{
	static struct kp_value marker = {.type = KP_V_MAP, .refs = 1 << 30};
	(void)cx;
	return kp_value_ref(&marker);
}

static bool is_hostvars(const struct kp_value *v)
{
	struct kp_value *m = hostvars_marker(NULL);
	bool is = v == m;
	kp_value_unref(m);
	return is;
}

kp_rc kp_jlookup_name(struct kp_jctx *cx, const char *name, struct kp_value **out)
{
	const struct kp_scope *s = cx->scope;
	for (size_t i = cx->nlocals; i-- > cx->local_floor;)
		if (!strcmp(cx->lnames[i], name)) {
			*out = kp_value_ref(cx->lvals[i]);
			return KP_OK;
		}
	if (cx->no_context) { /* {% include ... without context %} */
		*out = kp_jv_undef("'%s' is undefined", name);
		return KP_OK;
	}
	if (is_unknown(s, name)) {
		*out = kp_jv_unknown(name);
		return KP_OK;
	}
	const struct kp_value *v = kp_scope_get(s, name);
	if (!v) {
		if (!strcmp(name, "omit")) {
			*out = kp_value_str(KP_JINJA_OMIT);
			return KP_OK;
		}
		if (!strcmp(name, "hostvars")) {
			*out = hostvars_marker(cx);
			return KP_OK;
		}
		/* "*": a task sets variables known only when it runs */
		*out = is_unknown(s, "*") ? kp_jv_unknown(name)
					  : kp_jv_undef("undefined variable '%s'", name);
		return KP_OK;
	}
	if (v->unsafe) {
		*out = kp_value_ref(v);
		return KP_OK;
	}
	struct kp_value *r = NULL;
	struct kp_buf msg = KP_BUF_INIT;
	kp_rc rc = kp_var_resolve(cx->kl, name, v, s, &r, &msg);
	if (rc == KP_ERR_UNKNOWN) {
		kp_buf_release(&msg);
		*out = kp_jv_unknown(name);
		return KP_OK;
	}
	if (rc) {
		kp_jinja_err(cx, rc, "%s", msg.buf);
		kp_buf_release(&msg);
		cx->var_rc = rc;
		return rc;
	}
	kp_buf_release(&msg);
	*out = r ? r : kp_value_ref(v);
	return KP_OK;
}

kp_rc kp_jinja_var(struct kp_jctx *cx, const char *name, struct kp_value **out)
{
	struct kp_value *v = NULL;
	kp_rc rc = kp_jlookup_name(cx, name, &v);
	if (rc)
		return rc;
	if (kp_jv_is_undef(v)) {
		if (v->secret) {
			rc = kp_jv_undef_error(cx, v);
			kp_value_unref(v);
			return rc;
		}
		kp_value_unref(v);
		v = NULL;
	}
	if (v && is_hostvars(v)) {
		kp_value_unref(v);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'hostvars' cannot be used as a value");
	}
	*out = v;
	return KP_OK;
}

struct kp_value *kp_jinja_var_names(struct kp_jctx *cx)
{
	const struct kp_scope *s = cx->scope;
	struct kp_value *l = kp_value_list(), *seen = kp_value_map();
	for (size_t k = 0; s && k < s->nlayers; k++) {
		const struct kp_value *m = s->layers[k];
		for (size_t j = 0; m && m->type == KP_V_MAP && j < kp_map_len(m); j++)
			if (!kp_map_get(seen, kp_map_key(m, j))) {
				kp_map_set_take(seen, kp_map_key(m, j), kp_value_bool(true));
				kp_list_push_take(l, kp_value_str(kp_map_key(m, j)));
			}
	}
	kp_value_unref(seen);
	return l;
}

static const char *tname(const struct kp_value *v)
{
	switch (v->type) {
	case KP_V_MAP:
		return "dict object";
	case KP_V_LIST:
		return "list object";
	case KP_V_STR:
		return "str object";
	case KP_V_INT:
		return "int object";
	case KP_V_FLOAT:
		return "float object";
	case KP_V_BOOL:
		return "bool object";
	default:
		return "None";
	}
}

static kp_rc hostvars_get(struct kp_jctx *cx, const char *host, struct kp_value **out)
{
	const struct kp_scope *s = cx->scope;
	struct kp_value *h = s->hostvars ? s->hostvars(s->ctx, host) : NULL;
	/* a preview: what the plan registers or sets is known after probe on
	 * every host (h is made for this lookup: ours to add to) */
	for (size_t i = 0; h && h->type == KP_V_MAP && i < s->nunknown; i++)
		if (strcmp(s->unknown[i], "*") && !kp_map_get(h, s->unknown[i]))
			kp_map_set_take(h, s->unknown[i], kp_jv_unknown(s->unknown[i]));
	*out = h ? h : kp_jv_undef("\"hostvars['%s']\" is undefined", host);
	return KP_OK;
}

/* Length of the UTF-8 sequence starting with byte c. */
static size_t u8len(unsigned char c)
{
	return c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
}

/* The code points of a string, as byte offsets (n+1 of them). */
static size_t *u8index(const struct kp_value *s, size_t *n)
{
	size_t *ix = kp_xmalloc((s->u.str.len + 1) * sizeof(*ix)), k = 0;
	for (size_t i = 0; i < s->u.str.len; i += u8len((unsigned char)s->u.str.s[i]))
		ix[k++] = i;
	ix[k] = s->u.str.len;
	*n = k;
	return ix;
}

static kp_rc getitem(struct kp_jctx *cx, const struct kp_value *obj, const struct kp_value *key,
		     bool attr_syntax, struct kp_value **out)
{
	if (is_hostvars(obj)) {
		if (key->type != KP_V_STR)
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "hostvars keys are host names");
		return hostvars_get(cx, key->u.str.s, out);
	}
	if (obj->type == KP_V_MAP) {
		const struct kp_value *v = NULL;
		if (key->type == KP_V_STR) {
			v = kp_map_getn(obj, key->u.str.s, key->u.str.len);
		} else if (key->type == KP_V_INT) {
			char tmp[32];
			snprintf(tmp, sizeof(tmp), "%lld", (long long)key->u.i);
			v = kp_map_get(obj, tmp);
		}
		if (v) {
			*out = kp_value_ref(v);
			return KP_OK;
		}
	} else if ((obj->type == KP_V_LIST || obj->type == KP_V_STR) &&
		   (key->type == KP_V_INT || key->type == KP_V_BOOL)) {
		int64_t i = key->type == KP_V_INT ? key->u.i : key->u.b;
		if (obj->type == KP_V_LIST) {
			int64_t n = (int64_t)obj->u.list.n;
			if (i < 0)
				i += n;
			if (i >= 0 && i < n) {
				*out = kp_value_ref(obj->u.list.items[i]);
				return KP_OK;
			}
		} else {
			size_t n;
			size_t *ix = u8index(obj, &n);
			if (i < 0)
				i += (int64_t)n;
			if (i >= 0 && i < (int64_t)n) {
				*out = kp_value_strn(obj->u.str.s + ix[i], ix[i + 1] - ix[i]);
				free(ix);
				return KP_OK;
			}
			free(ix);
		}
		*out = kp_jv_undef("%s has no element %lld", tname(obj),
				   (long long)(key->type == KP_V_INT ? key->u.i : key->u.b));
		return KP_OK;
	}
	struct kp_buf k = KP_BUF_INIT;
	kp_jinja_str(key, &k);
	if (attr_syntax || key->type == KP_V_STR)
		*out = kp_jv_undef("'%s' has no attribute '%s'", tname(obj), k.buf);
	else
		*out = kp_jv_undef("%s has no element %s", tname(obj), k.buf);
	kp_buf_release(&k);
	return KP_OK;
}

static int64_t clampi(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static kp_rc slice(struct kp_jctx *cx, const struct kp_value *obj, const struct kp_value *const *p,
		   struct kp_value **out)
{
	int64_t idx[3] = {0, 0, 1};
	bool given[3];
	for (int k = 0; k < 3; k++) {
		given[k] = p[k] && p[k]->type != KP_V_NULL;
		if (!given[k])
			continue;
		if (p[k]->type != KP_V_INT && p[k]->type != KP_V_BOOL)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "slice indices must be integers or None");
		idx[k] = p[k]->type == KP_V_INT ? p[k]->u.i : p[k]->u.b;
	}
	if (!idx[2])
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "slice step cannot be zero");
	size_t *ix = NULL, n;
	if (obj->type == KP_V_LIST)
		n = obj->u.list.n;
	else if (obj->type == KP_V_STR)
		ix = u8index(obj, &n);
	else
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' object is not subscriptable",
				    kp_jinja_typename(obj));
	int64_t len = (int64_t)n, step = idx[2], start, stop;
	if (step > 0) {
		start = given[0]
			    ? (idx[0] < 0 ? clampi(idx[0] + len, 0, len) : clampi(idx[0], 0, len))
			    : 0;
		stop = given[1]
			   ? (idx[1] < 0 ? clampi(idx[1] + len, 0, len) : clampi(idx[1], 0, len))
			   : len;
	} else {
		start = given[0] ? (idx[0] < 0 ? clampi(idx[0] + len, -1, len - 1)
					       : clampi(idx[0], -1, len - 1))
				 : len - 1;
		stop = given[1] ? (idx[1] < 0 ? clampi(idx[1] + len, -1, len - 1)
					      : clampi(idx[1], -1, len - 1))
				: -1;
	}
	kp_rc rc = kp_jinja_charge(cx, (size_t)len);
	if (rc) {
		free(ix);
		return rc;
	}
	if (obj->type == KP_V_LIST) {
		struct kp_value *l = kp_value_list();
		for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
			kp_list_push(l, obj->u.list.items[i]);
		*out = l;
		return KP_OK;
	}
	struct kp_buf b = KP_BUF_INIT;
	for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
		kp_buf_add(&b, obj->u.str.s + ix[i], ix[i + 1] - ix[i]);
	free(ix);
	size_t blen;
	char *s = kp_buf_detach(&b, &blen);
	*out = kp_value_str_take(s, blen);
	return KP_OK;
}

/* Evaluate and refuse undefined. */
static kp_rc eval_defined(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out)
{
	kp_rc rc = kp_jeval(cx, n, out);
	if (rc)
		return rc;
	if (kp_jv_is_undef(*out)) {
		rc = kp_jv_undef_error(cx, *out);
		kp_value_unref(*out);
		*out = NULL;
		return rc;
	}
	if (is_hostvars(*out)) {
		kp_value_unref(*out);
		*out = NULL;
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'hostvars' cannot be used as a value");
	}
	return KP_OK;
}

/* Arguments of a call/filter/test: kids[first..] */
struct args {
	struct kp_value *v[64];
	size_t n, npos;
	const char *kwn[64];
};

static void args_release(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		kp_value_unref(a->v[i]);
	a->n = 0;
}

static kp_rc eval_args(struct kp_jctx *cx, const struct jnode *n, size_t first, struct args *a,
		       bool allow_undef)
{
	a->n = 0;
	if (n->nkids - first > KP_ARRAY_LEN(a->v))
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "too many arguments");
	a->npos = n->nkids - first - n->nkw;
	for (size_t i = first; i < n->nkids; i++) {
		kp_rc rc = allow_undef ? kp_jeval(cx, n->kids[i], &a->v[a->n])
				       : eval_defined(cx, n->kids[i], &a->v[a->n]);
		if (rc) {
			args_release(a);
			return rc;
		}
		size_t k = a->n - a->npos;
		a->kwn[a->n] = a->n >= a->npos ? n->kw[k] : NULL;
		a->n++;
	}
	return KP_OK;
}

static kp_rc eval_call(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out)
{
	const struct jnode *f = n->kids[0];
	struct args a;
	kp_rc rc;
	if (f->kind == JN_NAME && kp_jglobal_exists(f->name)) {
		/* a variable of that name wins, as in Jinja */
		struct kp_value *shadow = NULL;
		rc = kp_jlookup_name(cx, f->name, &shadow);
		if (rc)
			return rc;
		bool global = kp_jv_is_undef(shadow) && !shadow->secret;
		kp_value_unref(shadow);
		if (global) {
			if ((rc = eval_args(cx, n, 1, &a, false)))
				return rc;
			rc = kp_jglobal_call(cx, f->name, (const struct kp_value *const *)a.v,
					     a.npos, a.kwn + a.npos,
					     (const struct kp_value *const *)a.v + a.npos,
					     a.n - a.npos, out);
			args_release(&a);
			return rc;
		}
	}
	/* loop(x) in a recursive loop, loop.cycle(...), loop.changed(...) */
	if (cx->nloops && ((f->kind == JN_NAME && !strcmp(f->name, "loop")) ||
			   (f->kind == JN_ATTR && f->kids[0]->kind == JN_NAME &&
			    !strcmp(f->kids[0]->name, "loop") &&
			    (!strcmp(f->name, "cycle") || !strcmp(f->name, "changed"))))) {
		if ((rc = eval_args(cx, n, 1, &a, false)))
			return rc;
		rc = kp_jloop_call(cx, f->name, (const struct kp_value *const *)a.v, a.npos, out);
		args_release(&a);
		if (rc != KP_ERR_NOTFOUND)
			return rc;
	}
	if (f->kind == JN_ATTR) {
		struct kp_value *self;
		if ((rc = eval_defined(cx, f->kids[0], &self)))
			return rc;
		if ((rc = eval_args(cx, n, 1, &a, false))) {
			kp_value_unref(self);
			return rc;
		}
		rc = kp_jmethod_call(cx, self, f->name, (const struct kp_value *const *)a.v, a.npos,
				     a.kwn + a.npos, (const struct kp_value *const *)a.v + a.npos,
				     a.n - a.npos, out);
		kp_value_unref(self);
		args_release(&a);
		return rc;
	}
	if (f->kind == JN_NAME && cx->nmacros) {
		if ((rc = eval_args(cx, n, 1, &a, false)))
			return rc;
		rc = kp_jmacro_call(cx, f->name, (const struct kp_value *const *)a.v, a.npos,
				    a.kwn + a.npos, (const struct kp_value *const *)a.v + a.npos,
				    a.n - a.npos, out);
		args_release(&a);
		if (rc != KP_ERR_NOTFOUND)
			return rc;
	}
	struct kp_value *callee;
	if ((rc = eval_defined(cx, f, &callee)))
		return rc;
	rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' object is not callable",
			  kp_jinja_typename(callee));
	kp_value_unref(callee);
	return rc;
}

static kp_rc eval_filter(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out)
{
	struct kp_value *in = NULL;
	struct args a;
	kp_rc rc = kp_jeval(cx, n->kids[0], &in);
	if (rc)
		return rc;
	if (is_hostvars(in)) {
		kp_value_unref(in);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'hostvars' cannot be used as a value");
	}
	if ((rc = eval_args(cx, n, 1, &a, true))) {
		kp_value_unref(in);
		return rc;
	}
	cx->hint = n->fn;
	rc = kp_jfilter_call(cx, n->name, in, (const struct kp_value *const *)a.v, a.npos,
			     a.kwn + a.npos, (const struct kp_value *const *)a.v + a.npos,
			     a.n - a.npos, out);
	kp_value_unref(in);
	args_release(&a);
	return rc;
}

static kp_rc eval_test(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out)
{
	struct kp_value *in = NULL;
	struct args a;
	bool r;
	kp_rc rc = kp_jeval(cx, n->kids[0], &in);
	if (rc)
		return rc;
	if ((rc = eval_args(cx, n, 1, &a, true))) {
		kp_value_unref(in);
		return rc;
	}
	cx->hint = n->fn;
	rc = kp_jtest_call(cx, n->name, in, (const struct kp_value *const *)a.v, a.npos,
			   a.kwn + a.npos, (const struct kp_value *const *)a.v + a.npos,
			   a.n - a.npos, &r);
	kp_value_unref(in);
	args_release(&a);
	if (!rc)
		*out = kp_value_bool(n->op ? !r : r);
	return rc;
}

static kp_rc eval_seq(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out)
{
	struct kp_value *c = n->kind == JN_DICT ? kp_value_map() : kp_value_list();
	kp_rc rc = kp_jinja_charge(cx, n->nkids);
	for (size_t i = 0; i < n->nkids && !rc; i++) {
		struct kp_value *v;
		if ((rc = eval_defined(cx, n->kids[i], &v)))
			break;
		if (n->kind != JN_DICT) {
			kp_list_push_take(c, v);
			continue;
		}
		struct kp_value *x;
		if ((rc = eval_defined(cx, n->kids[++i], &x))) {
			kp_value_unref(v);
			break;
		}
		struct kp_buf k = KP_BUF_INIT;
		kp_jinja_str(v, &k);
		kp_map_set_take(c, k.buf, x);
		kp_buf_release(&k);
		kp_value_unref(v);
	}
	if (rc) {
		kp_value_unref(c);
		return rc;
	}
	c->tuple = n->kind == JN_TUPLE;
	*out = c;
	return KP_OK;
}

static kp_rc eval_node(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out)
{
	struct kp_value *a = NULL, *b = NULL;
	kp_rc rc = KP_OK;
	bool t;
	switch (n->kind) {
	case JN_CONST:
		*out = kp_value_ref(n->val);
		return KP_OK;
	case JN_NAME:
		return kp_jlookup_name(cx, n->name, out);
	case JN_ATTR:
	case JN_ITEM:
		if ((rc = kp_jeval(cx, n->kids[0], &a)))
			return rc;
		if (kp_jv_is_undef(a)) {
			*out = a; /* Ansible's undefined: lookups on it give itself */
			return KP_OK;
		}
		if (n->kind == JN_ATTR) {
			struct kp_value *key = kp_value_str(n->name);
			rc = getitem(cx, a, key, true, out);
			kp_value_unref(key);
		} else if (!(rc = eval_defined(cx, n->kids[1], &b))) {
			rc = getitem(cx, a, b, false, out);
		}
		break;
	case JN_SLICE: {
		struct kp_value *p[3] = {NULL, NULL, NULL};
		if ((rc = eval_defined(cx, n->kids[0], &a)))
			return rc;
		for (int k = 0; k < 3 && !rc; k++)
			if (n->kids[k + 1])
				rc = eval_defined(cx, n->kids[k + 1], &p[k]);
		if (!rc)
			rc = slice(cx, a, (const struct kp_value *const *)p, out);
		for (int k = 0; k < 3; k++)
			kp_value_unref(p[k]);
		break;
	}
	case JN_LIST:
	case JN_TUPLE:
	case JN_DICT:
		return eval_seq(cx, n, out);
	case JN_BIN:
		if ((rc = eval_defined(cx, n->kids[0], &a)) ||
		    (rc = eval_defined(cx, n->kids[1], &b)))
			break;
		rc = kp_jbinop(cx, n->op, a, b, out);
		break;
	case JN_NEG:
	case JN_POS:
		if ((rc = eval_defined(cx, n->kids[0], &a)))
			return rc;
		if (a->type == KP_V_INT || a->type == KP_V_BOOL) {
			int64_t i = a->type == KP_V_INT ? a->u.i : a->u.b;
			if (n->kind == JN_NEG && i == INT64_MIN)
				rc = kp_jinja_err(cx, KP_ERR_LIMIT, "integer result too large");
			else
				*out = kp_value_int(n->kind == JN_NEG ? -i : i);
		} else if (a->type == KP_V_FLOAT) {
			*out = kp_value_float(n->kind == JN_NEG ? -a->u.f : a->u.f);
		} else {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "bad operand type for unary %s: '%s'",
					  n->kind == JN_NEG ? "-" : "+", kp_jinja_typename(a));
		}
		break;
	case JN_NOT:
		if ((rc = eval_defined(cx, n->kids[0], &a)))
			return rc;
		*out = kp_value_bool(!kp_jinja_truthy(a));
		break;
	case JN_AND:
	case JN_OR:
		if ((rc = eval_defined(cx, n->kids[0], &a)))
			return rc;
		if (kp_jinja_truthy(a) == (n->kind == JN_OR)) {
			*out = a;
			return KP_OK;
		}
		kp_value_unref(a);
		return kp_jeval(cx, n->kids[1], out);
	case JN_CMP:
		if ((rc = eval_defined(cx, n->kids[0], &a)))
			return rc;
		t = true;
		for (size_t i = 1; i < n->nkids && t; i++) {
			if ((rc = eval_defined(cx, n->kids[i], &b)))
				break;
			rc = kp_jcmp_op(cx, n->ops[i - 1], a, b, &t);
			kp_value_unref(a);
			a = b;
			b = NULL;
			if (rc)
				break;
		}
		if (!rc)
			*out = kp_value_bool(t);
		break;
	case JN_COND:
		if ((rc = eval_defined(cx, n->kids[0], &a)))
			return rc;
		t = kp_jinja_truthy(a);
		kp_value_unref(a);
		if (t)
			return kp_jeval(cx, n->kids[1], out);
		if (n->kids[2])
			return kp_jeval(cx, n->kids[2], out);
		*out = kp_jv_undef("the inline if-expression on line %d evaluated to false and no "
				   "else section was defined",
				   1);
		(*out)->no_log = 1; /* renders as '' */
		return KP_OK;
	case JN_FILTER:
		return eval_filter(cx, n, out);
	case JN_TEST:
		return eval_test(cx, n, out);
	case JN_CALL:
		return eval_call(cx, n, out);
	}
	kp_value_unref(a);
	kp_value_unref(b);
	return rc;
}

kp_rc kp_jeval(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out)
{
	*out = NULL;
	if (++cx->depth > KP_JINJA_MAX_DEPTH) {
		cx->depth--;
		return kp_jinja_err(cx, KP_ERR_LIMIT, "expression nested too deeply");
	}
	kp_rc rc = kp_jinja_charge(cx, 1);
	int saved = cx->offset;
	cx->offset = n->offset;
	if (!rc)
		rc = eval_node(cx, n, out);
	if (!rc)
		cx->offset = saved;
	cx->depth--;
	if (rc && *out) {
		kp_value_unref(*out);
		*out = NULL;
	}
	return rc;
}
