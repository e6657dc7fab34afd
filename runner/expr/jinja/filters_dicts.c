/*
 * filters_dicts.c - map filters as ansible-core 2.14 and Jinja define
 * them: dict2items, items2dict, combine (recursive, list_merge), dictsort.
 */
#include "expr/jinja/jlib.h"

#include <stdlib.h>
#include <string.h>

static const char *py_class(const struct kp_value *v)
{
	static const char *const names[] = {
	    [KP_V_NULL] = "<class 'NoneType'>", [KP_V_BOOL] = "<class 'bool'>",
	    [KP_V_INT] = "<class 'int'>",	[KP_V_FLOAT] = "<class 'float'>",
	    [KP_V_STR] = "<class 'str'>",	[KP_V_LIST] = "<class 'list'>",
	    [KP_V_MAP] = "<class 'dict'>",
	};
	return names[v->type];
}

/* dict2items(key_name='key', value_name='value') */
JF(dict2items)
{
	const char *kn, *vn;
	kp_rc rc = jl_str(cx, argv[0], "key_name", "key", &kn);
	if (!rc)
		rc = jl_str(cx, argv[1], "value_name", "value", &vn);
	if (rc)
		return rc;
	if (in->type != KP_V_MAP)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "dict2items requires a dictionary, got %s instead.",
				    py_class(in));
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < kp_map_len(in); i++) {
		struct kp_value *m = kp_value_map();
		kp_map_set_take(m, kn, kp_value_str(kp_map_key(in, i)));
		kp_map_set(m, vn, kp_map_val(in, i));
		kp_list_push_take(l, m);
	}
	*out = l;
	return KP_OK;
}

/* items2dict(key_name='key', value_name='value') */
JF(items2dict)
{
	const char *kn, *vn;
	kp_rc rc = jl_str(cx, argv[0], "key_name", "key", &kn);
	if (!rc)
		rc = jl_str(cx, argv[1], "value_name", "value", &vn);
	if (rc)
		return rc;
	if (in->type != KP_V_LIST)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "items2dict requires a list, got %s instead.", py_class(in));
	struct kp_value *m = kp_value_map();
	for (size_t i = 0; i < kp_list_len(in); i++) {
		const struct kp_value *it = kp_list_at(in, i), *k, *v;
		if (it->type != KP_V_MAP) {
			struct kp_buf b = KP_BUF_INIT;
			kp_jinja_str(in, &b);
			rc = kp_jinja_err(
			    cx, KP_ERR_RUNTIME,
			    "items2dict requires a list of dictionaries, got %s instead.", b.buf);
			kp_buf_release(&b);
			break;
		}
		if (!(k = kp_map_get(it, kn)) || !(v = kp_map_get(it, vn))) {
			rc = kp_jinja_err(
			    cx, KP_ERR_RUNTIME,
			    "items2dict requires each dictionary in the list to contain "
			    "the keys '%s' and '%s'",
			    kn, vn);
			break;
		}
		struct kp_value *ks = jl_strval(k);
		kp_map_set(m, ks->u.str.s, v);
		kp_value_unref(ks);
	}
	if (rc) {
		kp_value_unref(m);
		return rc;
	}
	*out = m;
	return KP_OK;
}

enum lmerge { LM_REPLACE, LM_KEEP, LM_APPEND, LM_PREPEND, LM_APPEND_RP, LM_PREPEND_RP };

static struct kp_value *concat(const struct kp_value *a, const struct kp_value *b,
			       const struct kp_value *skip_in)
{
	struct kp_value *r = kp_value_list();
	for (size_t i = 0; i < kp_list_len(a); i++)
		if (!skip_in || !jl_contains(skip_in, kp_list_at(a, i)))
			kp_list_push(r, kp_list_at(a, i));
	for (size_t i = 0; i < kp_list_len(b); i++)
		kp_list_push(r, kp_list_at(b, i));
	return r;
}

/* Ansible's merge_hash(x, y): y wins. */
static kp_rc merge_hash(struct kp_jctx *cx, const struct kp_value *x, const struct kp_value *y,
			bool recursive, enum lmerge lm, int depth, struct kp_value **out)
{
	if (x->type != KP_V_MAP || y->type != KP_V_MAP) {
		struct kp_buf a = KP_BUF_INIT, b = KP_BUF_INIT;
		kp_value_to_json(x, false, false, &a);
		kp_value_to_json(y, false, false, &b);
		kp_rc rc =
		    kp_jinja_err(cx, KP_ERR_RUNTIME,
				 "failed to combine variables, expected dicts but got a '%s' "
				 "and a '%s': %s %s",
				 kp_jinja_typename(x), kp_jinja_typename(y), a.buf, b.buf);
		kp_buf_release(&a);
		kp_buf_release(&b);
		return rc;
	}
	if (depth > 256)
		return kp_jinja_err(cx, KP_ERR_LIMIT, "maps nested too deep to combine");
	kp_rc rc = kp_jinja_charge(cx, kp_map_len(x) + kp_map_len(y));
	if (rc)
		return rc;
	struct kp_value *r = kp_value_map();
	kp_map_update(r, x);
	for (size_t i = 0; i < kp_map_len(y) && !rc; i++) {
		const char *k = kp_map_key(y, i);
		const struct kp_value *yv = kp_map_val(y, i), *xv = kp_map_get(x, k);
		if (!xv) {
			kp_map_set(r, k, yv);
		} else if (xv->type == KP_V_MAP && yv->type == KP_V_MAP) {
			if (recursive) {
				struct kp_value *m;
				if (!(rc = merge_hash(cx, xv, yv, recursive, lm, depth + 1, &m)))
					kp_map_set_take(r, k, m);
			} else {
				kp_map_set(r, k, yv);
			}
		} else if (xv->type == KP_V_LIST && yv->type == KP_V_LIST) {
			switch (lm) {
			case LM_REPLACE:
				kp_map_set(r, k, yv);
				break;
			case LM_KEEP:
				break;
			case LM_APPEND:
				kp_map_set_take(r, k, concat(xv, yv, NULL));
				break;
			case LM_PREPEND:
				kp_map_set_take(r, k, concat(yv, xv, NULL));
				break;
			case LM_APPEND_RP:
				kp_map_set_take(r, k, concat(xv, yv, yv));
				break;
			case LM_PREPEND_RP: {
				struct kp_value *none = kp_value_list(), *t = concat(xv, none, yv);
				kp_map_set_take(r, k, concat(yv, t, NULL));
				kp_value_unref(t);
				kp_value_unref(none);
				break;
			}
			}
		} else {
			kp_map_set(r, k, yv);
		}
	}
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}

/* combine(*dicts, recursive=False, list_merge='replace') */
JF(combine)
{
	const struct kp_value *more = argv[0];
	bool recursive = jl_bool(argv[1], false);
	const char *lms;
	kp_rc rc = jl_str(cx, argv[2], "list_merge", "replace", &lms);
	if (rc)
		return rc;
	static const char *const lmn[] = {"replace", "keep",	  "append",
					  "prepend", "append_rp", "prepend_rp"};
	int lm = -1;
	for (int i = 0; i < 6; i++)
		if (!strcmp(lms, lmn[i]))
			lm = i;
	if (lm < 0)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "merge_hash: 'list_merge' argument can only be equal to "
				    "'replace', 'keep', 'append', 'prepend', 'append_rp' or "
				    "'prepend_rp'");
	/* flatten(terms, levels=1) */
	struct kp_value *dicts = kp_value_list();
	const struct kp_value *terms[2] = {in, more};
	for (int t = 0; t < 2; t++) {
		const struct kp_value *v = terms[t];
		if (t == 1) {
			for (size_t i = 0; i < kp_list_len(v); i++) {
				const struct kp_value *e = kp_list_at(v, i);
				if (e->type == KP_V_LIST)
					for (size_t j = 0; j < kp_list_len(e); j++)
						kp_list_push(dicts, kp_list_at(e, j));
				else
					kp_list_push(dicts, e);
			}
		} else if (v->type == KP_V_LIST) {
			for (size_t j = 0; j < kp_list_len(v); j++)
				kp_list_push(dicts, kp_list_at(v, j));
		} else {
			kp_list_push(dicts, v);
		}
	}
	size_t n = kp_list_len(dicts);
	if (!n) {
		kp_value_unref(dicts);
		*out = kp_value_map();
		return KP_OK;
	}
	struct kp_value *acc = kp_value_ref(kp_list_at(dicts, n - 1));
	for (size_t i = n - 1; i-- > 0 && !rc;) {
		struct kp_value *m;
		if (!(rc = merge_hash(cx, kp_list_at(dicts, i), acc, recursive, (enum lmerge)lm, 0,
				      &m))) {
			kp_value_unref(acc);
			acc = m;
		}
	}
	kp_value_unref(dicts);
	if (rc) {
		kp_value_unref(acc);
		return rc;
	}
	*out = acc;
	return KP_OK;
}

/* dictsort(case_sensitive=False, by='key', reverse=False) */
JF(dictsort)
{
	const char *by;
	kp_rc rc = jl_str(cx, argv[1], "by", "key", &by);
	if (rc)
		return rc;
	if (strcmp(by, "key") && strcmp(by, "value"))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "You can only sort by either 'key' or 'value'");
	if (in->type != KP_V_MAP)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' object has no attribute 'items'",
				    kp_jinja_typename(in));
	bool cs = jl_bool(argv[0], false);
	size_t n = kp_map_len(in);
	struct kp_value *r = kp_value_list();
	struct kp_value **keys = kp_xcalloc(n + 1, sizeof *keys);
	for (size_t i = 0; i < n; i++) {
		struct kp_value *pair = kp_value_list();
		kp_list_push_take(pair, kp_value_str(kp_map_key(in, i)));
		kp_list_push(pair, kp_map_val(in, i));
		const struct kp_value *k = kp_list_at(pair, !strcmp(by, "key") ? 0 : 1);
		keys[i] = cs ? kp_value_ref(k) : jl_fold(k);
		kp_list_push_take(r, pair);
	}
	rc = jl_sort(cx, r->u.list.items, keys, n, jl_bool(argv[2], false));
	for (size_t i = 0; i < n; i++)
		kp_value_unref(keys[i]);
	free(keys);
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}

/* items: a map's [key, value] pairs; Undefined gives none */
JF(items)
{
	if (!in) {
		*out = kp_value_list();
		return KP_OK;
	}
	if (in->type != KP_V_MAP)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "Can only get item pairs from a mapping.");
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < kp_map_len(in); i++) {
		struct kp_value *pair = kp_value_list();
		kp_list_push_take(pair, kp_value_str(kp_map_key(in, i)));
		kp_list_push(pair, kp_map_val(in, i));
		kp_list_push_take(l, pair);
	}
	*out = l;
	return KP_OK;
}
