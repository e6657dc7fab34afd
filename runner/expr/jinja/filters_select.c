/*
 * filters_select.c - Jinja's higher-order filters: map (a filter by name,
 * attribute=, and Ansible's extract), select, reject, selectattr,
 * rejectattr, groupby. Filters and tests named in the call are called
 * through the engine, so built-ins and library functions alike work.
 */
#include "expr/jinja/jlib.h"

#include <stdlib.h>
#include <string.h>

/* The item's attribute path as Jinja's attrgetter gives it: the value, or
 * an undefined naming the missing attribute. New reference. */
static struct kp_value *attr_of(const struct kp_value *item, const char *attr)
{
	const struct kp_value *v = jl_attr(item, attr);
	if (v)
		return kp_value_ref(v);
	const char *last = strrchr(attr, '.');
	return jl_undef("'%s object' has no attribute '%s'", kp_jinja_typename(item),
			last ? last + 1 : attr);
}

/* Positional arguments from a "*args" list, after the first `skip`. */
static const struct kp_value *const *rest(const struct kp_value *args, size_t skip, size_t *n)
{
	size_t len = kp_list_len(args);
	*n = len > skip ? len - skip : 0;
	return *n ? (const struct kp_value *const *)args->u.list.items + skip : NULL;
}

/* extract(container, morekeys=None): container[item][key]... */
JF(extract)
{
	const struct kp_value *c = argv[0], *more = argv[1];
	if (!c)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "extract needs a container");
	struct kp_buf key = KP_BUF_INIT;
	const struct kp_value *v = NULL;
	kp_jinja_str(in, &key);
	if (c->type == KP_V_MAP) {
		v = kp_map_get(c, key.buf);
	} else if (c->type == KP_V_LIST && in->type == KP_V_INT) {
		int64_t i = in->u.i < 0 ? in->u.i + (int64_t)kp_list_len(c) : in->u.i;
		v = i >= 0 && i < (int64_t)kp_list_len(c) ? kp_list_at(c, (size_t)i) : NULL;
	}
	if (!v) {
		/* Jinja's words for a missing item */
		*out = c->type == KP_V_LIST ? jl_undef("list object has no element %s", key.buf)
					    : jl_undef("'%s object' has no attribute '%s'",
						       kp_jinja_typename(c), key.buf);
		kp_buf_release(&key);
		return KP_OK;
	}
	kp_buf_release(&key);
	size_t nk = more ? (more->type == KP_V_LIST ? kp_list_len(more) : 1) : 0;
	for (size_t i = 0; i < nk && v; i++) {
		const struct kp_value *k = more->type == KP_V_LIST ? kp_list_at(more, i) : more;
		if (v->type == KP_V_MAP && k->type == KP_V_STR)
			v = kp_map_get(v, k->u.str.s);
		else if (v->type == KP_V_LIST && k->type == KP_V_INT)
			v = k->u.i >= 0 && k->u.i < (int64_t)kp_list_len(v)
				? kp_list_at(v, (size_t)k->u.i)
				: NULL;
		else
			v = NULL;
	}
	*out = v ? kp_value_ref(v) : jl_undef("'%s' has no such item", kp_jinja_typename(c));
	return KP_OK;
}

/* map('filter', *args, **kw) or map(attribute='a', default=d) */
JF(map)
{
	const struct kp_value *args = argv[0], *kw = argv[1];
	const struct kp_value *attr = kw ? kp_map_get(kw, "attribute") : NULL;
	struct kp_value *items;
	kp_rc rc = jl_iter(cx, in, &items);
	if (rc)
		return rc;
	struct kp_value *r = kp_value_list();
	if (!kp_list_len(args) && attr) {
		const struct kp_value *def = kp_map_get(kw, "default");
		struct kp_value *path = jl_strval(attr);
		for (size_t i = 0; i < kp_list_len(items); i++) {
			const struct kp_value *v = jl_attr(kp_list_at(items, i), path->u.str.s);
			if (v)
				kp_list_push(r, v);
			else if (def)
				kp_list_push(r, def);
			else
				kp_list_push_take(r, attr_of(kp_list_at(items, i), path->u.str.s));
		}
		kp_value_unref(path);
	} else if (!kp_list_len(args) || kp_list_at(args, 0)->type != KP_V_STR) {
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "map requires a filter argument");
	} else {
		const char *name = kp_list_at(args, 0)->u.str.s;
		size_t npos;
		const struct kp_value *const *pos = rest(args, 1, &npos);
		for (size_t i = 0; i < kp_list_len(items) && !rc; i++) {
			struct kp_value *v = NULL;
			if (!strcmp(name, "extract")) {
				/* called directly: an undefined result stays in the list */
				const struct kp_value *ea[2] = {npos > 0 ? pos[0] : NULL,
								npos > 1 ? pos[1] : NULL};
				rc = jf_extract(cx, kp_list_at(items, i), ea, &v);
			} else {
				rc = kp_jinja_call_filter(cx, name, kp_list_at(items, i), pos, npos,
							  kw, &v);
				if (!rc && !v)
					v = jl_undef("filter '%s' gave no value", name);
			}
			if (!rc)
				kp_list_push_take(r, v);
		}
	}
	kp_value_unref(items);
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}

/* select/reject(test=None, *args, **kw) and selectattr/rejectattr(attr,
 * test=None, *args, **kw). */
static kp_rc select_common(struct kp_jctx *cx, const struct kp_value *in,
			   const struct kp_value *args, const struct kp_value *kw, bool want,
			   bool by_attr, struct kp_value **out)
{
	size_t skip = 0;
	const char *attr = NULL, *test = NULL;
	if (by_attr) {
		if (!kp_list_len(args) || kp_list_at(args, 0)->type != KP_V_STR)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "missing parameter for attribute name");
		attr = kp_list_at(args, 0)->u.str.s;
		skip = 1;
	}
	if (kp_list_len(args) > skip) {
		if (kp_list_at(args, skip)->type != KP_V_STR)
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "the test name must be a string");
		test = kp_list_at(args, skip)->u.str.s;
		skip++;
	}
	size_t npos;
	const struct kp_value *const *pos = rest(args, skip, &npos);
	struct kp_value *items;
	kp_rc rc = jl_iter(cx, in, &items);
	if (rc)
		return rc;
	struct kp_value *r = kp_value_list();
	for (size_t i = 0; i < kp_list_len(items) && !rc; i++) {
		const struct kp_value *item = kp_list_at(items, i);
		struct kp_value *v = attr ? attr_of(item, attr) : kp_value_ref(item);
		bool ok;
		if (test)
			rc = kp_jinja_call_test(cx, test, v, pos, npos, kw, &ok);
		else if (kp_jinja_is_undef(v))
			rc = kp_jinja_call_test(cx, "truthy", v, NULL, 0, NULL, &ok);
		else
			ok = kp_jinja_truthy(v);
		kp_value_unref(v);
		if (!rc && ok == want)
			kp_list_push(r, item);
	}
	kp_value_unref(items);
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}

JF(select)
{
	return select_common(cx, in, argv[0], argv[1], true, false, out);
}
JF(reject)
{
	return select_common(cx, in, argv[0], argv[1], false, false, out);
}
JF(selectattr)
{
	return select_common(cx, in, argv[0], argv[1], true, true, out);
}
JF(rejectattr)
{
	return select_common(cx, in, argv[0], argv[1], false, true, out);
}

/* groupby(attribute, default=None, case_sensitive=False): [grouper, list]
 * pairs sorted by the grouper. */
JF(groupby)
{
	const char *attr;
	kp_rc rc = jl_str(cx, argv[0], "attribute", NULL, &attr);
	if (rc)
		return rc;
	if (!attr)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "groupby needs an attribute");
	bool cs = jl_bool(argv[2], false);
	struct kp_value *items;
	if ((rc = jl_iter(cx, in, &items)))
		return rc;
	size_t n = kp_list_len(items);
	struct kp_value **keys = kp_xcalloc(n + 1, sizeof *keys);
	struct kp_value **vals = kp_xcalloc(n + 1, sizeof *vals);
	for (size_t i = 0; i < n && !rc; i++) {
		const struct kp_value *k = jl_attr(kp_list_at(items, i), attr);
		if (!k)
			k = argv[1];
		if (!k) {
			rc = kp_jinja_err(cx, KP_ERR_UNDEFINED, "'%s object' has no attribute '%s'",
					  kp_jinja_typename(kp_list_at(items, i)), attr);
			break;
		}
		keys[i] = cs ? kp_value_ref(k) : jl_fold(k);
		vals[i] = kp_value_ref(kp_list_at(items, i));
	}
	if (!rc)
		rc = jl_sort(cx, vals, keys, n, false);
	struct kp_value *r = kp_value_list();
	for (size_t i = 0; i < n && !rc;) {
		size_t j = i;
		struct kp_value *grp = kp_value_list();
		while (j < n && kp_jinja_equal(keys[j], keys[i]))
			kp_list_push(grp, vals[j++]);
		struct kp_value *pair = kp_value_list();
		/* the grouper as the first item had it (Jinja keeps its case) */
		const struct kp_value *g = jl_attr(vals[i], attr);
		kp_list_push(pair, g ? g : keys[i]);
		kp_list_push_take(pair, grp);
		kp_list_push_take(r, pair);
		i = j;
	}
	for (size_t i = 0; i < n; i++) {
		if (keys[i])
			kp_value_unref(keys[i]);
		if (vals[i])
			kp_value_unref(vals[i]);
	}
	free(keys);
	free(vals);
	kp_value_unref(items);
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}
