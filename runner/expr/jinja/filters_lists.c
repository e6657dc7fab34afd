/*
 * filters_lists.c - list filters as Jinja 3.1 and ansible-core 2.14 define
 * them: first, last, length, min, max, sum, unique (case-insensitive
 * unless asked) and the set operations (case-sensitive, first appearance
 * kept, as Ansible's), sort, reverse, flatten, zip, zip_longest, batch,
 * slice, product (random and shuffle: filters_random.c).
 */
#include "expr/jinja/jlib.h"

#include <stdlib.h>
#include <string.h>

JF(first)
{
	struct kp_value *l;
	kp_rc rc = jl_iter(cx, in, &l);
	if (rc)
		return rc;
	*out = kp_list_len(l) ? kp_value_ref(kp_list_at(l, 0))
			      : jl_undef("No first item, sequence was empty.");
	kp_value_unref(l);
	return KP_OK;
}

JF(last)
{
	struct kp_value *l;
	kp_rc rc = jl_iter(cx, in, &l);
	if (rc)
		return rc;
	size_t n = kp_list_len(l);
	*out =
	    n ? kp_value_ref(kp_list_at(l, n - 1)) : jl_undef("No last item, sequence was empty.");
	kp_value_unref(l);
	return KP_OK;
}

JF(length)
{
	switch (in->type) {
	case KP_V_STR: {
		int64_t n = 0;
		for (size_t i = 0; i < in->u.str.len; i++)
			n += ((unsigned char)in->u.str.s[i] & 0xc0) != 0x80;
		*out = kp_value_int(n);
		return KP_OK;
	}
	case KP_V_LIST:
		*out = kp_value_int((int64_t)kp_list_len(in));
		return KP_OK;
	case KP_V_MAP:
		*out = kp_value_int((int64_t)kp_map_len(in));
		return KP_OK;
	default:
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "object of type '%s' has no len()",
				    kp_jinja_typename(in));
	}
}

/* The key a sort or min/max compares: the attribute (when given), case
 * folded unless case_sensitive. NULL when the attribute is missing. */
static struct kp_value *sort_key(const struct kp_value *v, const char *attr, bool cs)
{
	if (attr) {
		if (!strchr(attr, ',')) {
			v = jl_attr(v, attr);
			if (!v)
				return NULL;
		} else {
			/* "a,b": a list of keys, compared in turn */
			struct kp_value *l = kp_value_list();
			char *copy = kp_xstrdup(attr), *save, *tok;
			for (tok = strtok_r(copy, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				const struct kp_value *k = jl_attr(v, tok);
				if (!k) {
					free(copy);
					kp_value_unref(l);
					return NULL;
				}
				kp_list_push_take(l, cs ? kp_value_ref(k) : jl_fold(k));
			}
			free(copy);
			return l;
		}
	}
	return cs ? kp_value_ref(v) : jl_fold(v);
}

static kp_rc keyed(struct kp_jctx *cx, const struct kp_value *in, const char *attr, bool cs,
		   struct kp_value **items, struct kp_value ***keys)
{
	kp_rc rc = jl_iter(cx, in, items);
	if (rc)
		return rc;
	size_t n = kp_list_len(*items);
	*keys = kp_xcalloc(n + 1, sizeof **keys);
	for (size_t i = 0; i < n; i++) {
		(*keys)[i] = sort_key(kp_list_at(*items, i), attr, cs);
		if (!(*keys)[i]) {
			for (size_t j = 0; j < i; j++)
				kp_value_unref((*keys)[j]);
			free(*keys);
			kp_value_unref(*items);
			return kp_jinja_err(cx, KP_ERR_UNDEFINED, "object has no attribute '%s'",
					    attr);
		}
	}
	return KP_OK;
}

static void free_keys(struct kp_value **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kp_value_unref(keys[i]);
	free(keys);
}

/* min/max(case_sensitive=False, attribute=None) */
static kp_rc minmax(struct kp_jctx *cx, const struct kp_value *in,
		    const struct kp_value *const *argv, bool want_max, struct kp_value **out)
{
	const char *attr;
	kp_rc rc = jl_str(cx, argv[1], "attribute", NULL, &attr);
	if (rc)
		return rc;
	struct kp_value *items, **keys;
	if ((rc = keyed(cx, in, attr, jl_bool(argv[0], false), &items, &keys)))
		return rc;
	size_t n = kp_list_len(items), best = 0;
	for (size_t i = 1; i < n && !rc; i++) {
		int c;
		rc = kp_jinja_compare(cx, keys[i], keys[best], &c);
		if (!rc && (want_max ? c > 0 : c < 0))
			best = i;
	}
	if (!rc)
		*out = n ? kp_value_ref(kp_list_at(items, best))
			 : jl_undef("No aggregated item, sequence was empty.");
	free_keys(keys, n);
	kp_value_unref(items);
	return rc;
}

JF(min)
{
	return minmax(cx, in, argv, false, out);
}

JF(max)
{
	return minmax(cx, in, argv, true, out);
}

/* a + b as Python adds numbers and lists */
static kp_rc py_add(struct kp_jctx *cx, const struct kp_value *a, const struct kp_value *b,
		    struct kp_value **out)
{
	bool an = a->type == KP_V_INT || a->type == KP_V_BOOL || a->type == KP_V_FLOAT;
	bool bn = b->type == KP_V_INT || b->type == KP_V_BOOL || b->type == KP_V_FLOAT;
	if (an && bn) {
		if (a->type == KP_V_FLOAT || b->type == KP_V_FLOAT) {
			double x = a->type == KP_V_FLOAT ? a->u.f
				   : a->type == KP_V_INT ? (double)a->u.i
							 : a->u.b;
			double y = b->type == KP_V_FLOAT ? b->u.f
				   : b->type == KP_V_INT ? (double)b->u.i
							 : b->u.b;
			*out = kp_value_float(x + y);
		} else {
			int64_t x = a->type == KP_V_INT ? a->u.i : a->u.b;
			int64_t y = b->type == KP_V_INT ? b->u.i : b->u.b;
			int64_t r;
			if (__builtin_add_overflow(x, y, &r))
				return kp_jinja_err(cx, KP_ERR_LIMIT, "integer result too large");
			*out = kp_value_int(r);
		}
		return KP_OK;
	}
	if (a->type == KP_V_LIST && b->type == KP_V_LIST) {
		kp_rc rc = kp_jinja_charge(cx, kp_list_len(a) + kp_list_len(b));
		if (rc)
			return rc;
		struct kp_value *l = kp_value_copy(a);
		for (size_t i = 0; i < kp_list_len(b); i++)
			kp_list_push(l, kp_list_at(b, i));
		*out = l;
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "unsupported operand type(s) for +: '%s' and '%s'",
			    kp_jinja_typename(a), kp_jinja_typename(b));
}

/* sum(attribute=None, start=0) */
JF(sum)
{
	const char *attr;
	kp_rc rc = jl_str(cx, argv[0], "attribute", NULL, &attr);
	if (rc)
		return rc;
	if (argv[1] && argv[1]->type == KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "sum() can't sum strings [use ''.join(seq) instead]");
	struct kp_value *items;
	if ((rc = jl_iter(cx, in, &items)))
		return rc;
	struct kp_value *acc = argv[1] ? kp_value_ref(argv[1]) : kp_value_int(0);
	for (size_t i = 0; i < kp_list_len(items) && !rc; i++) {
		const struct kp_value *v = kp_list_at(items, i);
		if (attr && !(v = jl_attr(v, attr))) {
			rc = kp_jinja_err(cx, KP_ERR_UNDEFINED, "object has no attribute '%s'",
					  attr);
			break;
		}
		struct kp_value *r = NULL;
		if (!(rc = py_add(cx, acc, v, &r))) {
			kp_value_unref(acc);
			acc = r;
		}
	}
	kp_value_unref(items);
	if (rc) {
		kp_value_unref(acc);
		return rc;
	}
	*out = acc;
	return KP_OK;
}

/* Jinja's unique(case_sensitive, attribute) over a list. */
static kp_rc uniq(struct kp_jctx *cx, const struct kp_value *l, bool cs, const char *attr,
		  struct kp_value **out)
{
	struct kp_value *items, **keys;
	kp_rc rc = keyed(cx, l, attr, cs, &items, &keys);
	if (rc)
		return rc;
	size_t n = kp_list_len(items);
	struct kp_value *r = kp_value_list(), *seen = kp_value_list();
	for (size_t i = 0; i < n; i++) {
		if (jl_contains(seen, keys[i]))
			continue;
		kp_list_push(seen, keys[i]);
		kp_list_push(r, kp_list_at(items, i));
	}
	free_keys(keys, n);
	kp_value_unref(items);
	kp_value_unref(seen);
	*out = r;
	return kp_jinja_charge(cx, n * (n < 4096 ? 1 : n / 4096));
}

JF(unique)
{
	const char *attr;
	kp_rc rc = jl_str(cx, argv[1], "attribute", NULL, &attr);
	if (rc)
		return rc;
	return uniq(cx, in, jl_bool(argv[0], false), attr, out);
}

static kp_rc two_lists(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *b,
		       struct kp_value **la, struct kp_value **lb)
{
	if (!b)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "a second list is required");
	kp_rc rc = jl_iter(cx, in, la);
	if (rc)
		return rc;
	if ((rc = jl_iter(cx, b, lb))) {
		kp_value_unref(*la);
		return rc;
	}
	return KP_OK;
}

enum setop { S_UNION, S_INTERSECT, S_DIFFERENCE, S_SYMDIFF };

static kp_rc setop(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *b,
		   enum setop op, struct kp_value **out)
{
	struct kp_value *la, *lb, *r = NULL;
	kp_rc rc = two_lists(cx, in, b, &la, &lb);
	if (rc)
		return rc;
	/* Ansible: unique(a + b), unique([x for x in a if x (not) in b]),
	 * both case-sensitive */
	if (op == S_UNION) {
		struct kp_value *all = kp_value_copy(la);
		for (size_t i = 0; i < kp_list_len(lb); i++)
			kp_list_push(all, kp_list_at(lb, i));
		rc = uniq(cx, all, true, NULL, &r);
		kp_value_unref(all);
	} else if (op == S_INTERSECT || op == S_DIFFERENCE) {
		struct kp_value *f = kp_value_list();
		for (size_t i = 0; i < kp_list_len(la); i++)
			if (jl_contains(lb, kp_list_at(la, i)) == (op == S_INTERSECT))
				kp_list_push(f, kp_list_at(la, i));
		rc = uniq(cx, f, true, NULL, &r);
		kp_value_unref(f);
	} else {
		struct kp_value *isect = NULL, *un = NULL;
		rc = setop(cx, la, lb, S_INTERSECT, &isect);
		if (!rc)
			rc = setop(cx, la, lb, S_UNION, &un);
		if (!rc) {
			r = kp_value_list();
			for (size_t i = 0; i < kp_list_len(un); i++)
				if (!jl_contains(isect, kp_list_at(un, i)))
					kp_list_push(r, kp_list_at(un, i));
		}
		kp_value_unref(isect);
		kp_value_unref(un);
	}
	kp_value_unref(la);
	kp_value_unref(lb);
	if (!rc)
		*out = r;
	return rc;
}

JF(union)
{
	return setop(cx, in, argv[0], S_UNION, out);
}
JF(intersect)
{
	return setop(cx, in, argv[0], S_INTERSECT, out);
}
JF(difference)
{
	return setop(cx, in, argv[0], S_DIFFERENCE, out);
}
JF(symmetric_difference)
{
	return setop(cx, in, argv[0], S_SYMDIFF, out);
}

/* sort(reverse=False, case_sensitive=False, attribute=None) */
JF(sort)
{
	const char *attr;
	kp_rc rc = jl_str(cx, argv[2], "attribute", NULL, &attr);
	if (rc)
		return rc;
	struct kp_value *items, **keys;
	if ((rc = keyed(cx, in, attr, jl_bool(argv[1], false), &items, &keys)))
		return rc;
	size_t n = kp_list_len(items);
	struct kp_value *r = kp_value_copy(items);
	kp_value_unref(items);
	rc = jl_sort(cx, r->u.list.items, keys, n, jl_bool(argv[0], false));
	free_keys(keys, n);
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}

JF(reverse)
{
	if (in->type == KP_V_STR) {
		/* reverse characters, not bytes */
		char *s = kp_xmalloc(in->u.str.len + 1);
		size_t o = in->u.str.len;
		for (size_t i = 0; i < in->u.str.len;) {
			size_t n = 1;
			while (i + n < in->u.str.len &&
			       ((unsigned char)in->u.str.s[i + n] & 0xc0) == 0x80)
				n++;
			o -= n;
			memcpy(s + o, in->u.str.s + i, n);
			i += n;
		}
		s[in->u.str.len] = 0;
		*out = kp_value_str_take(s, in->u.str.len);
		return KP_OK;
	}
	struct kp_value *l;
	kp_rc rc = jl_iter(cx, in, &l);
	if (rc)
		return rc;
	struct kp_value *r = kp_value_list();
	for (size_t i = kp_list_len(l); i-- > 0;)
		kp_list_push(r, kp_list_at(l, i));
	kp_value_unref(l);
	*out = r;
	return KP_OK;
}

static bool skip_null(const struct kp_value *v)
{
	return v->type == KP_V_NULL || (v->type == KP_V_STR && (!strcmp(v->u.str.s, "None") ||
								!strcmp(v->u.str.s, "null")));
}

static kp_rc flatten_into(struct kp_jctx *cx, const struct kp_value *l, int64_t levels,
			  bool skip_nulls, struct kp_value *r, int depth)
{
	if (depth > 256)
		return kp_jinja_err(cx, KP_ERR_LIMIT, "lists nested too deep to flatten");
	for (size_t i = 0; i < kp_list_len(l); i++) {
		const struct kp_value *e = kp_list_at(l, i);
		kp_rc rc = kp_jinja_charge(cx, 1);
		if (rc)
			return rc;
		if (skip_nulls && skip_null(e))
			continue;
		if (e->type == KP_V_LIST && levels != 0) {
			if ((rc = flatten_into(cx, e, levels < 0 ? -1 : levels - 1, skip_nulls, r,
					       depth + 1)))
				return rc;
		} else {
			kp_list_push(r, e);
		}
	}
	return KP_OK;
}

/* flatten(levels=None, skip_nulls=True) */
JF(flatten)
{
	int64_t levels;
	kp_rc rc = jl_int(cx, argv[0], "levels", -1, &levels);
	if (rc)
		return rc;
	if (argv[0] && argv[0]->type == KP_V_NULL)
		levels = -1;
	struct kp_value *l;
	if ((rc = jl_iter(cx, in, &l)))
		return rc;
	struct kp_value *r = kp_value_list();
	rc = flatten_into(cx, l, levels, jl_bool(argv[1], true), r, 0);
	kp_value_unref(l);
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}

/* zip(*others) and zip_longest(*others, fillvalue=None) */
static kp_rc zip(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *others,
		 bool longest, const struct kp_value *fill, struct kp_value **out)
{
	size_t n = 1 + kp_list_len(others);
	struct kp_value **ls = kp_xcalloc(n, sizeof *ls);
	kp_rc rc = jl_iter(cx, in, &ls[0]);
	for (size_t i = 1; i < n && !rc; i++)
		rc = jl_iter(cx, kp_list_at(others, i - 1), &ls[i]);
	size_t len = longest ? 0 : SIZE_MAX;
	for (size_t i = 0; i < n && !rc; i++) {
		size_t k = kp_list_len(ls[i]);
		len = longest ? (k > len ? k : len) : (k < len ? k : len);
	}
	if (!rc && !(rc = kp_jinja_charge(cx, len * n))) {
		struct kp_value *r = kp_value_list();
		for (size_t j = 0; j < len; j++) {
			struct kp_value *t = kp_value_list();
			for (size_t i = 0; i < n; i++) {
				if (j < kp_list_len(ls[i]))
					kp_list_push(t, kp_list_at(ls[i], j));
				else
					kp_list_push_take(t, fill ? kp_value_ref(fill)
								  : kp_value_null());
			}
			kp_list_push_take(r, t);
		}
		*out = r;
	}
	for (size_t i = 0; i < n; i++)
		if (ls[i])
			kp_value_unref(ls[i]);
	free(ls);
	return rc;
}

JF(zip)
{
	return zip(cx, in, argv[0], false, NULL, out);
}

JF(zip_longest)
{
	return zip(cx, in, argv[0], true, argv[1], out);
}

/* batch(linecount, fill_with=None) */
JF(batch)
{
	int64_t count;
	kp_rc rc = jl_int(cx, argv[0], "linecount", 0, &count);
	if (rc)
		return rc;
	if (count <= 0)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "linecount must be positive");
	struct kp_value *l;
	if ((rc = jl_iter(cx, in, &l)))
		return rc;
	const struct kp_value *fill = argv[1] && argv[1]->type != KP_V_NULL ? argv[1] : NULL;
	struct kp_value *r = kp_value_list(), *cur = NULL;
	for (size_t i = 0; i < kp_list_len(l); i++) {
		if (!cur)
			cur = kp_value_list();
		kp_list_push(cur, kp_list_at(l, i));
		if ((int64_t)kp_list_len(cur) == count) {
			kp_list_push_take(r, cur);
			cur = NULL;
		}
	}
	if (cur) {
		while (fill && (int64_t)kp_list_len(cur) < count)
			kp_list_push(cur, fill);
		kp_list_push_take(r, cur);
	}
	kp_value_unref(l);
	*out = r;
	return KP_OK;
}

/* slice(slices, fill_with=None) */
JF(slice)
{
	int64_t slices;
	kp_rc rc = jl_int(cx, argv[0], "slices", 0, &slices);
	if (rc)
		return rc;
	if (slices <= 0 || slices > 1000000)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "slices must be a positive number");
	struct kp_value *l;
	if ((rc = jl_iter(cx, in, &l)))
		return rc;
	const struct kp_value *fill = argv[1] && argv[1]->type != KP_V_NULL ? argv[1] : NULL;
	size_t len = kp_list_len(l), per = len / (size_t)slices, extra = len % (size_t)slices;
	size_t offset = 0;
	struct kp_value *r = kp_value_list();
	for (size_t s = 0; s < (size_t)slices; s++) {
		size_t start = offset + s * per;
		if (s < extra)
			offset++;
		size_t end = offset + (s + 1) * per;
		struct kp_value *t = kp_value_list();
		for (size_t i = start; i < end && i < len; i++)
			kp_list_push(t, kp_list_at(l, i));
		if (fill && s >= extra)
			kp_list_push(t, fill);
		kp_list_push_take(r, t);
	}
	kp_value_unref(l);
	*out = r;
	return KP_OK;
}

/* product(*others): itertools.product */
JF(product)
{
	const struct kp_value *others = argv[0];
	size_t n = 1 + kp_list_len(others);
	struct kp_value **ls = kp_xcalloc(n, sizeof *ls);
	kp_rc rc = jl_iter(cx, in, &ls[0]);
	size_t total = 1;
	for (size_t i = 1; i < n && !rc; i++)
		rc = jl_iter(cx, kp_list_at(others, i - 1), &ls[i]);
	for (size_t i = 0; i < n && !rc; i++) {
		total *= kp_list_len(ls[i]);
		if (total > 100000000)
			rc = kp_jinja_err(cx, KP_ERR_LIMIT, "product too large");
	}
	if (!rc)
		rc = kp_jinja_charge(cx, total * n);
	if (!rc) {
		struct kp_value *r = kp_value_list();
		size_t *idx = kp_xcalloc(n, sizeof *idx);
		for (size_t k = 0; k < total; k++) {
			struct kp_value *t = kp_value_list();
			for (size_t i = 0; i < n; i++)
				kp_list_push(t, kp_list_at(ls[i], idx[i]));
			kp_list_push_take(r, t);
			for (size_t i = n; i-- > 0;) {
				if (++idx[i] < kp_list_len(ls[i]))
					break;
				idx[i] = 0;
			}
		}
		free(idx);
		*out = r;
	}
	for (size_t i = 0; i < n; i++)
		if (ls[i])
			kp_value_unref(ls[i]);
	free(ls);
	return rc;
}
