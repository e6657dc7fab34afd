/*
 * methods.c - the Python methods playbooks call on values: str.split,
 * rsplit, strip, lstrip, rstrip, startswith, endswith, replace, lower,
 * upper, capitalize, splitlines, format, join, count, find; dict.keys,
 * values, items, get; list.index, count (loop.cycle and loop.changed: render.c).
 */
#include "expr/jinja/jinja.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kp_value *strv(const char *s, size_t n)
{
	return kp_value_strn(s, n);
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static kp_rc need_str(struct kp_jctx *cx, const char *m, const struct kp_value *v)
{
	if (v->type == KP_V_STR)
		return KP_OK;
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "%s() argument must be str, not %s", m,
			    kp_jinja_typename(v));
}

/* split/rsplit(sep=None, maxsplit=-1) */
static kp_rc m_split(struct kp_jctx *cx, const struct kp_value *self, bool right,
		     const struct kp_value *sepv, const struct kp_value *maxv,
		     struct kp_value **out)
{
	const char *s = self->u.str.s;
	size_t len = self->u.str.len;
	int64_t max = maxv && maxv->type == KP_V_INT ? maxv->u.i : -1;
	struct kp_value *l = kp_value_list();
	kp_rc rc = kp_jinja_charge(cx, len);
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	if (sepv && sepv->type != KP_V_NULL) {
		if ((rc = need_str(cx, "split", sepv))) {
			kp_value_unref(l);
			return rc;
		}
		const char *sep = sepv->u.str.s;
		size_t sl = sepv->u.str.len;
		if (!sl) {
			kp_value_unref(l);
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "empty separator");
		}
		if (!right) {
			size_t i = 0;
			const char *p;
			while ((max < 0 || (int64_t)kp_list_len(l) < max) &&
			       (p = memmem(s + i, len - i, sep, sl))) {
				kp_list_push_take(l, strv(s + i, (size_t)(p - s) - i));
				i = (size_t)(p - s) + sl;
			}
			kp_list_push_take(l, strv(s + i, len - i));
		} else {
			/* collect from the right, then reverse */
			size_t end = len;
			int64_t n = 0;
			struct kp_value *r = kp_value_list();
			while (max < 0 || n < max) {
				size_t k = end >= sl ? end - sl + 1 : 0;
				bool found = false;
				while (k-- > 0)
					if (!memcmp(s + k, sep, sl)) {
						found = true;
						break;
					}
				if (!found)
					break;
				kp_list_push_take(r, strv(s + k + sl, end - k - sl));
				end = k;
				n++;
			}
			kp_list_push_take(r, strv(s, end));
			for (size_t i = kp_list_len(r); i-- > 0;)
				kp_list_push(l, kp_list_at(r, i));
			kp_value_unref(r);
		}
		*out = l;
		return KP_OK;
	}
	/* whitespace runs */
	if (!right) {
		size_t i = 0;
		while (i < len) {
			while (i < len && is_ws(s[i]))
				i++;
			if (i >= len)
				break;
			if (max >= 0 && (int64_t)kp_list_len(l) >= max) {
				size_t e = len;
				while (e > i && is_ws(s[e - 1]))
					e--;
				kp_list_push_take(l, strv(s + i, e - i));
				break;
			}
			size_t j = i;
			while (j < len && !is_ws(s[j]))
				j++;
			kp_list_push_take(l, strv(s + i, j - i));
			i = j;
		}
	} else {
		struct kp_value *r = kp_value_list();
		size_t e = len;
		int64_t n = 0;
		while (e > 0) {
			while (e > 0 && is_ws(s[e - 1]))
				e--;
			if (!e)
				break;
			if (max >= 0 && n >= max) {
				size_t b = 0;
				while (b < e && is_ws(s[b]))
					b++;
				kp_list_push_take(r, strv(s + b, e - b));
				break;
			}
			size_t b = e;
			while (b > 0 && !is_ws(s[b - 1]))
				b--;
			kp_list_push_take(r, strv(s + b, e - b));
			e = b;
			n++;
		}
		for (size_t i = kp_list_len(r); i-- > 0;)
			kp_list_push(l, kp_list_at(r, i));
		kp_value_unref(r);
	}
	*out = l;
	return KP_OK;
}

static kp_rc m_strip(struct kp_jctx *cx, const struct kp_value *self, int which,
		     const struct kp_value *chars, struct kp_value **out)
{
	const char *s = self->u.str.s;
	size_t b = 0, e = self->u.str.len;
	const char *set = NULL;
	size_t nset = 0;
	if (chars && chars->type != KP_V_NULL) {
		kp_rc rc = need_str(cx, "strip", chars);
		if (rc)
			return rc;
		set = chars->u.str.s;
		nset = chars->u.str.len;
	}
#define STRIPPABLE(c) (set ? memchr(set, (c), nset) != NULL : is_ws(c))
	if (which != 2)
		while (b < e && STRIPPABLE(s[b]))
			b++;
	if (which != 1)
		while (e > b && STRIPPABLE(s[e - 1]))
			e--;
#undef STRIPPABLE
	*out = strv(s + b, e - b);
	return KP_OK;
}

static kp_rc m_affix(struct kp_jctx *cx, const struct kp_value *self, bool end,
		     const struct kp_value *arg, struct kp_value **out)
{
	const struct kp_value *const *cands = &arg;
	size_t n = 1;
	if (arg->type == KP_V_LIST) {
		cands = (const struct kp_value *const *)arg->u.list.items;
		n = arg->u.list.n;
	}
	bool r = false;
	for (size_t i = 0; i < n && !r; i++) {
		kp_rc rc = need_str(cx, end ? "endswith" : "startswith", cands[i]);
		if (rc)
			return rc;
		size_t pl = cands[i]->u.str.len;
		if (pl <= self->u.str.len)
			r = !memcmp(self->u.str.s + (end ? self->u.str.len - pl : 0),
				    cands[i]->u.str.s, pl);
	}
	*out = kp_value_bool(r);
	return KP_OK;
}

static kp_rc m_replace(struct kp_jctx *cx, const struct kp_value *self, const struct kp_value *from,
		       const struct kp_value *to, const struct kp_value *count,
		       struct kp_value **out)
{
	kp_rc rc = need_str(cx, "replace", from);
	if (!rc)
		rc = need_str(cx, "replace", to);
	if (rc)
		return rc;
	int64_t max = count && count->type == KP_V_INT ? count->u.i : -1;
	struct kp_buf b = KP_BUF_INIT;
	const char *s = self->u.str.s;
	size_t len = self->u.str.len, i = 0, fl = from->u.str.len;
	int64_t n = 0;
	while (i <= len) {
		const char *p = NULL;
		if (max < 0 || n < max)
			p = fl ? memmem(s + i, len - i, from->u.str.s, fl) : (s + i);
		if (!p) {
			kp_buf_add(&b, s + i, len - i);
			break;
		}
		kp_buf_add(&b, s + i, (size_t)(p - s) - i);
		kp_buf_add(&b, to->u.str.s, to->u.str.len);
		n++;
		if ((rc = kp_jinja_charge(cx, to->u.str.len + 1))) {
			kp_buf_release(&b);
			return rc;
		}
		if (!fl) {
			if ((size_t)(p - s) < len)
				kp_buf_addch(&b, *p);
			i = (size_t)(p - s) + 1;
		} else {
			i = (size_t)(p - s) + fl;
		}
	}
	size_t blen;
	char *str = kp_buf_detach(&b, &blen);
	*out = kp_value_str_take(str, blen);
	return KP_OK;
}

static size_t count_sub(const struct kp_value *self, const struct kp_value *sub)
{
	size_t n = 0, i = 0, sl = sub->u.str.len;
	if (!sl)
		return self->u.str.len + 1;
	const char *p;
	while ((p = memmem(self->u.str.s + i, self->u.str.len - i, sub->u.str.s, sl))) {
		n++;
		i = (size_t)(p - self->u.str.s) + sl;
	}
	return n;
}

/* "{} {0} {name}".format(...) without format specs beyond ":" passthrough */
static kp_rc m_format(struct kp_jctx *cx, const struct kp_value *self,
		      const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		      const struct kp_value *const *kwv, size_t nkw, struct kp_value **out)
{
	struct kp_buf b = KP_BUF_INIT;
	const char *s = self->u.str.s;
	size_t len = self->u.str.len, auto_i = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '{' && i + 1 < len && s[i + 1] == '{') {
			kp_buf_addch(&b, '{');
			i++;
			continue;
		}
		if (s[i] == '}' && i + 1 < len && s[i + 1] == '}') {
			kp_buf_addch(&b, '}');
			i++;
			continue;
		}
		if (s[i] != '{') {
			kp_buf_addch(&b, s[i]);
			continue;
		}
		const char *e = memchr(s + i, '}', len - i);
		if (!e) {
			kp_buf_release(&b);
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "single '{' encountered in format string");
		}
		size_t fl = (size_t)(e - s) - i - 1;
		char field[64];
		snprintf(field, sizeof(field), "%.*s", (int)(fl < 63 ? fl : 63), s + i + 1);
		char *colon = strchr(field, ':');
		if (colon)
			*colon = 0;
		const struct kp_value *v = NULL;
		if (!field[0]) {
			v = auto_i < npos ? pos[auto_i] : NULL;
			auto_i++;
		} else if (isdigit((unsigned char)field[0])) {
			size_t k = (size_t)atoi(field);
			v = k < npos ? pos[k] : NULL;
		} else {
			for (size_t k = 0; k < nkw && !v; k++)
				if (!strcmp(kwn[k], field))
					v = kwv[k];
		}
		if (!v) {
			kp_buf_release(&b);
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "format string field '{%s}' has no argument", field);
		}
		kp_jinja_str(v, &b);
		i = (size_t)(e - s);
	}
	size_t blen;
	char *str = kp_buf_detach(&b, &blen);
	*out = kp_value_str_take(str, blen);
	return KP_OK;
}

static kp_rc str_method(struct kp_jctx *cx, const struct kp_value *self, const char *m,
			const struct kp_value *const *pos, size_t npos, const char *const *kwn,
			const struct kp_value *const *kwv, size_t nkw, struct kp_value **out)
{
	const struct kp_value *a0 = npos > 0 ? pos[0] : NULL, *a1 = npos > 1 ? pos[1] : NULL;
	for (size_t i = 0; i < nkw; i++) {
		if (!strcmp(kwn[i], "sep") || !strcmp(kwn[i], "chars") || !strcmp(kwn[i], "prefix"))
			a0 = kwv[i];
		else if (!strcmp(kwn[i], "maxsplit") || !strcmp(kwn[i], "count"))
			a1 = kwv[i];
	}
	if (!strcmp(m, "split") || !strcmp(m, "rsplit"))
		return m_split(cx, self, m[0] == 'r', a0, a1, out);
	if (!strcmp(m, "strip"))
		return m_strip(cx, self, 0, a0, out);
	if (!strcmp(m, "lstrip"))
		return m_strip(cx, self, 1, a0, out);
	if (!strcmp(m, "rstrip"))
		return m_strip(cx, self, 2, a0, out);
	if ((!strcmp(m, "startswith") || !strcmp(m, "endswith")) && a0)
		return m_affix(cx, self, m[0] == 'e', a0, out);
	if (!strcmp(m, "replace") && npos >= 2)
		return m_replace(cx, self, pos[0], pos[1], npos > 2 ? pos[2] : NULL, out);
	if (!strcmp(m, "lower") || !strcmp(m, "upper") || !strcmp(m, "capitalize")) {
		struct kp_value *r = kp_value_strn(self->u.str.s, self->u.str.len);
		for (size_t i = 0; i < r->u.str.len; i++) {
			char *c = &r->u.str.s[i];
			if (m[0] == 'l' || (m[0] == 'c' && i))
				*c = (char)tolower((unsigned char)*c);
			else
				*c = (char)toupper((unsigned char)*c);
		}
		*out = r;
		return KP_OK;
	}
	if (!strcmp(m, "splitlines")) {
		struct kp_value *l = kp_value_list();
		const char *s = self->u.str.s;
		size_t len = self->u.str.len, i = 0;
		while (i < len) {
			size_t j = i;
			while (j < len && s[j] != '\n' && s[j] != '\r')
				j++;
			kp_list_push_take(l, strv(s + i, j - i));
			if (j < len && s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
				j++;
			i = j + 1;
		}
		*out = l;
		return KP_OK;
	}
	if (!strcmp(m, "format"))
		return m_format(cx, self, pos, npos, kwn, kwv, nkw, out);
	if (!strcmp(m, "join") && a0) {
		if (a0->type != KP_V_LIST)
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "can only join an iterable");
		struct kp_buf b = KP_BUF_INIT;
		for (size_t i = 0; i < a0->u.list.n; i++) {
			const struct kp_value *it = a0->u.list.items[i];
			if (it->type != KP_V_STR) {
				kp_buf_release(&b);
				return kp_jinja_err(cx, KP_ERR_RUNTIME,
						    "sequence item %zu: expected str instance, %s "
						    "found",
						    i, kp_jinja_typename(it));
			}
			if (i)
				kp_buf_add(&b, self->u.str.s, self->u.str.len);
			kp_buf_add(&b, it->u.str.s, it->u.str.len);
		}
		kp_rc rc = kp_jinja_charge(cx, b.len);
		if (rc) {
			kp_buf_release(&b);
			return rc;
		}
		size_t blen;
		char *str = kp_buf_detach(&b, &blen);
		*out = kp_value_str_take(str, blen);
		return KP_OK;
	}
	if ((!strcmp(m, "count") || !strcmp(m, "find")) && a0) {
		kp_rc rc = need_str(cx, m, a0);
		if (rc)
			return rc;
		if (m[0] == 'c') {
			*out = kp_value_int((int64_t)count_sub(self, a0));
		} else {
			const char *p = a0->u.str.len ? memmem(self->u.str.s, self->u.str.len,
							       a0->u.str.s, a0->u.str.len)
						      : self->u.str.s;
			*out = kp_value_int(p ? (int64_t)(p - self->u.str.s) : -1);
		}
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "'str object' has no attribute '%s'", m);
}

static kp_rc map_method(struct kp_jctx *cx, const struct kp_value *self, const char *m,
			const struct kp_value *const *pos, size_t npos, struct kp_value **out)
{
	if (!strcmp(m, "keys") || !strcmp(m, "values") || !strcmp(m, "items")) {
		struct kp_value *l = kp_value_list();
		for (size_t i = 0; i < self->u.map.n; i++) {
			if (m[0] == 'k') {
				kp_list_push_take(l, kp_value_str(self->u.map.keys[i]));
			} else if (m[0] == 'v') {
				kp_list_push(l, self->u.map.vals[i]);
			} else {
				struct kp_value *p = kp_value_list();
				p->tuple = 1;
				kp_list_push_take(p, kp_value_str(self->u.map.keys[i]));
				kp_list_push(p, self->u.map.vals[i]);
				kp_list_push_take(l, p);
			}
		}
		*out = l;
		return KP_OK;
	}
	if (!strcmp(m, "get") && npos >= 1) {
		const struct kp_value *v = NULL;
		if (pos[0]->type == KP_V_STR)
			v = kp_map_getn(self, pos[0]->u.str.s, pos[0]->u.str.len);
		*out = v ? kp_value_ref(v) : npos > 1 ? kp_value_ref(pos[1]) : kp_value_null();
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "'dict object' has no attribute '%s'", m);
}

static kp_rc list_method(struct kp_jctx *cx, const struct kp_value *self, const char *m,
			 const struct kp_value *const *pos, size_t npos, struct kp_value **out)
{
	if ((!strcmp(m, "index") || !strcmp(m, "count")) && npos >= 1) {
		int64_t n = 0;
		for (size_t i = 0; i < self->u.list.n; i++) {
			if (!kp_jinja_equal(self->u.list.items[i], pos[0]))
				continue;
			if (m[0] == 'i') {
				*out = kp_value_int((int64_t)i);
				return KP_OK;
			}
			n++;
		}
		if (m[0] == 'i') {
			struct kp_buf r = KP_BUF_INIT;
			kp_jinja_repr(pos[0], &r);
			kp_rc rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "%s is not in list", r.buf);
			kp_buf_release(&r);
			return rc;
		}
		*out = kp_value_int(n);
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "'list object' has no attribute '%s'", m);
}

kp_rc kp_jmethod_call(struct kp_jctx *cx, const struct kp_value *self, const char *name,
		      const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		      const struct kp_value *const *kwv, size_t nkw, struct kp_value **out)
{
	switch (self->type) {
	case KP_V_STR:
		return str_method(cx, self, name, pos, npos, kwn, kwv, nkw, out);
	case KP_V_MAP: {
		/* a key holding a value is not callable; methods come first */
		return map_method(cx, self, name, pos, npos, out);
	}
	case KP_V_LIST:
		return list_method(cx, self, name, pos, npos, out);
	default:
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s object' has no attribute '%s'",
				    kp_jinja_typename(self), name);
	}
}
