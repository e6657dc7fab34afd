/*
 * jlib.c - argument helpers for the filter and test library: Python's
 * conversions, iteration, attribute paths, membership, uniqueness and a
 * stable sort, so that every function treats its input the same way.
 */
#include "expr/jinja/jlib.h"

#include "expr/jinja/jinja.h" /* kp_jv_undef: the engine's undefined values */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

kp_rc jl_int(struct kp_jctx *cx, const struct kp_value *v, const char *name, int64_t def,
	     int64_t *out)
{
	if (!v) {
		*out = def;
		return KP_OK;
	}
	if (v->type == KP_V_INT) {
		*out = v->u.i;
		return KP_OK;
	}
	if (v->type == KP_V_BOOL) {
		*out = v->u.b;
		return KP_OK;
	}
	if (v->type == KP_V_FLOAT && v->u.f == floor(v->u.f) && fabs(v->u.f) < 9e18) {
		*out = (int64_t)v->u.f;
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' must be an integer, not %s", name,
			    kp_jinja_typename(v));
}

bool jl_bool(const struct kp_value *v, bool def)
{
	return v ? kp_jinja_truthy(v) : def;
}

kp_rc jl_str(struct kp_jctx *cx, const struct kp_value *v, const char *name, const char *def,
	     const char **out)
{
	if (!v || v->type == KP_V_NULL) {
		*out = def;
		return KP_OK;
	}
	if (v->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' must be a string, not %s", name,
				    kp_jinja_typename(v));
	*out = v->u.str.s;
	return KP_OK;
}

struct kp_value *jl_strval(const struct kp_value *v)
{
	if (v->type == KP_V_STR)
		return kp_value_ref(v);
	struct kp_buf b = KP_BUF_INIT;
	kp_jinja_str(v, &b);
	size_t len;
	char *s = kp_buf_detach(&b, &len);
	return kp_value_str_take(s, len);
}

/* Length in bytes of the UTF-8 sequence starting with byte c. */
static size_t utf8_len(unsigned char c)
{
	return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

kp_rc jl_iter(struct kp_jctx *cx, const struct kp_value *v, struct kp_value **out)
{
	struct kp_value *l;
	switch (v->type) {
	case KP_V_LIST:
		*out = kp_value_ref(v);
		return KP_OK;
	case KP_V_STR: {
		kp_rc rc = kp_jinja_charge(cx, v->u.str.len);
		if (rc)
			return rc;
		l = kp_value_list();
		for (size_t i = 0; i < v->u.str.len;) {
			size_t n = utf8_len((unsigned char)v->u.str.s[i]);
			if (i + n > v->u.str.len)
				n = v->u.str.len - i;
			kp_list_push_take(l, kp_value_strn(v->u.str.s + i, n));
			i += n;
		}
		*out = l;
		return KP_OK;
	}
	case KP_V_MAP:
		l = kp_value_list();
		for (size_t i = 0; i < kp_map_len(v); i++)
			kp_list_push_take(l, kp_value_str(kp_map_key(v, i)));
		*out = l;
		return KP_OK;
	default:
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' object is not iterable",
				    kp_jinja_typename(v));
	}
}

const struct kp_value *jl_attr(const struct kp_value *v, const char *path)
{
	const char *p = path;
	while (v) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (v->type == KP_V_MAP) {
			v = kp_map_getn(v, p, n);
		} else if (v->type == KP_V_LIST && n && isdigit((unsigned char)*p)) {
			size_t i = strtoul(p, NULL, 10);
			v = i < kp_list_len(v) ? kp_list_at(v, i) : NULL;
		} else {
			return NULL;
		}
		if (!dot)
			return v;
		p = dot + 1;
	}
	return NULL;
}

struct kp_value *jl_fold(const struct kp_value *v)
{
	if (v->type != KP_V_STR)
		return kp_value_ref(v);
	char *s = kp_xstrndup(v->u.str.s, v->u.str.len);
	for (size_t i = 0; i < v->u.str.len; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	return kp_value_str_take(s, v->u.str.len);
}

bool jl_contains(const struct kp_value *c, const struct kp_value *item)
{
	if (c->type == KP_V_STR)
		return item->type == KP_V_STR &&
		       memmem(c->u.str.s, c->u.str.len, item->u.str.s, item->u.str.len) != NULL;
	if (c->type == KP_V_MAP)
		return item->type == KP_V_STR && kp_map_get(c, item->u.str.s) != NULL;
	if (c->type == KP_V_LIST)
		for (size_t i = 0; i < kp_list_len(c); i++)
			if (kp_jinja_equal(kp_list_at(c, i), item))
				return true;
	return false;
}

struct kp_value *jl_unique(const struct kp_value *list)
{
	struct kp_value *r = kp_value_list();
	for (size_t i = 0; i < kp_list_len(list); i++)
		if (!jl_contains(r, kp_list_at(list, i)))
			kp_list_push(r, kp_list_at(list, i));
	return r;
}

/* Merge sort (stable, as Python's sorted) of items[], keyed by keys[]. */
static kp_rc merge(struct kp_jctx *cx, struct kp_value **it, struct kp_value **k,
		   struct kp_value **tit, struct kp_value **tk, size_t n, bool reverse)
{
	if (n < 2)
		return KP_OK;
	size_t h = n / 2;
	kp_rc rc = merge(cx, it, k, tit, tk, h, reverse);
	if (!rc)
		rc = merge(cx, it + h, k + h, tit, tk, n - h, reverse);
	if (rc)
		return rc;
	size_t i = 0, j = h, o = 0;
	while (i < h && j < n) {
		int c;
		if ((rc = kp_jinja_compare(cx, k[j], k[i], &c)))
			return rc;
		/* take the right one first only when strictly before the left */
		bool right = reverse ? c > 0 : c < 0;
		if (right) {
			tit[o] = it[j];
			tk[o++] = k[j++];
		} else {
			tit[o] = it[i];
			tk[o++] = k[i++];
		}
	}
	while (i < h) {
		tit[o] = it[i];
		tk[o++] = k[i++];
	}
	while (j < n) {
		tit[o] = it[j];
		tk[o++] = k[j++];
	}
	memcpy(it, tit, n * sizeof *it);
	memcpy(k, tk, n * sizeof *k);
	return KP_OK;
}

kp_rc jl_sort(struct kp_jctx *cx, struct kp_value **items, struct kp_value **keys, size_t n,
	      bool reverse)
{
	kp_rc rc = kp_jinja_charge(cx, n);
	if (rc)
		return rc;
	struct kp_value **k = keys ? keys : items;
	struct kp_value **tit = kp_xmalloc((n + 1) * sizeof *tit);
	struct kp_value **tk = kp_xmalloc((n + 1) * sizeof *tk);
	if (keys)
		rc = merge(cx, items, k, tit, tk, n, reverse);
	else {
		struct kp_value **copy = kp_xmalloc((n + 1) * sizeof *copy);
		memcpy(copy, items, n * sizeof *copy);
		rc = merge(cx, items, copy, tit, tk, n, reverse);
		free(copy);
	}
	free(tit);
	free(tk);
	return rc;
}

struct kp_value *jl_undef(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return kp_jv_undef("%s", msg);
}
