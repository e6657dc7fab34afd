/*
 * pyval.c - Python's semantics for kplan values, as Jinja (so Ansible)
 * applies them: truthiness, ==, ordering, str() and repr(), and
 * ast.literal_eval for ansible-core's conversion of rendered text.
 */
#include "expr/jinja/jinja.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool kp_jinja_truthy(const struct kp_value *v)
{
	if (!v)
		return false;
	switch (v->type) {
	case KP_V_NULL:
		return false;
	case KP_V_BOOL:
		return v->u.b;
	case KP_V_INT:
		return v->u.i != 0;
	case KP_V_FLOAT:
		return v->u.f != 0.0;
	case KP_V_STR:
		return v->u.str.len != 0;
	case KP_V_LIST:
		return v->u.list.n != 0;
	default:
		return v->u.map.n != 0;
	}
}

static bool is_num(const struct kp_value *v)
{
	return v->type == KP_V_INT || v->type == KP_V_FLOAT || v->type == KP_V_BOOL;
}

static int64_t num_i(const struct kp_value *v)
{
	return v->type == KP_V_INT ? v->u.i : v->u.b;
}

kp_rc kp_jinja_float_int(struct kp_jctx *cx, double f, int64_t *out)
{
	if (!isfinite(f))
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "cannot convert float %s to integer",
				    isnan(f) ? "NaN" : "infinity");
	if (f >= 9223372036854775808.0 || f < -9223372036854775808.0)
		return kp_jinja_err(cx, KP_ERR_LIMIT, "integer result too large");
	*out = (int64_t)f;
	return KP_OK;
}

/* Two numbers compared as Python does, exactly: an int and a float are
 * not rounded to one double (2^53 + 1 > 2.0^53). -1, 0, 1, or 2 when a
 * NaN makes them unordered. */
static int num_cmp(const struct kp_value *a, const struct kp_value *b)
{
	if (a->type != KP_V_FLOAT && b->type != KP_V_FLOAT) {
		int64_t x = num_i(a), y = num_i(b);
		return x < y ? -1 : x > y;
	}
	if (a->type == KP_V_FLOAT && b->type == KP_V_FLOAT) {
		double x = a->u.f, y = b->u.f;
		return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2;
	}
	bool flip = a->type == KP_V_FLOAT;
	int64_t i = num_i(flip ? b : a);
	double f = flip ? a->u.f : b->u.f;
	int c;
	if (f != f)
		return 2;
	if (f >= 9223372036854775808.0)
		c = -1;
	else if (f < -9223372036854775808.0)
		c = 1;
	else {
		double t = trunc(f);
		int64_t fi = (int64_t)t;
		c = i < fi ? -1 : i > fi ? 1 : f > t ? -1 : f < t ? 1 : 0;
	}
	return flip && c != 2 ? -c : c;
}

bool kp_jinja_equal(const struct kp_value *a, const struct kp_value *b)
{
	if (is_num(a) && is_num(b))
		return num_cmp(a, b) == 0;
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case KP_V_NULL:
		return true;
	case KP_V_STR:
		return a->u.str.len == b->u.str.len &&
		       !memcmp(a->u.str.s, b->u.str.s, a->u.str.len);
	case KP_V_LIST:
		if (a->u.list.n != b->u.list.n)
			return false;
		for (size_t i = 0; i < a->u.list.n; i++)
			if (!kp_jinja_equal(a->u.list.items[i], b->u.list.items[i]))
				return false;
		return true;
	case KP_V_MAP:
		if (a->u.map.n != b->u.map.n)
			return false;
		for (size_t i = 0; i < a->u.map.n; i++) {
			const struct kp_value *o = kp_map_get(b, a->u.map.keys[i]);
			if (!o || !kp_jinja_equal(a->u.map.vals[i], o))
				return false;
		}
		return true;
	default:
		return false;
	}
}

const char *kp_jinja_typename(const struct kp_value *v)
{
	if (!v)
		return "AnsibleUndefined";
	switch (v->type) {
	case KP_V_NULL:
		return "NoneType";
	case KP_V_BOOL:
		return "bool";
	case KP_V_INT:
		return "int";
	case KP_V_FLOAT:
		return "float";
	case KP_V_STR:
		return "str";
	case KP_V_LIST:
		return v->tuple ? "tuple" : "list";
	default:
		return "dict";
	}
}

kp_rc kp_jinja_compare(struct kp_jctx *cx, const struct kp_value *a, const struct kp_value *b,
		       int *out)
{
	if (is_num(a) && is_num(b)) {
		int c = num_cmp(a, b);
		*out = c == 2 ? 0 : c; /* NaN: neither before nor after */
		return KP_OK;
	}
	if (a->type == KP_V_STR && b->type == KP_V_STR) {
		size_t n = a->u.str.len < b->u.str.len ? a->u.str.len : b->u.str.len;
		int c = memcmp(a->u.str.s, b->u.str.s, n); /* UTF-8 keeps code point order */
		*out = c ? (c < 0 ? -1 : 1)
			 : (a->u.str.len < b->u.str.len ? -1 : a->u.str.len > b->u.str.len);
		return KP_OK;
	}
	if (a->type == KP_V_LIST && b->type == KP_V_LIST) {
		for (size_t i = 0; i < a->u.list.n && i < b->u.list.n; i++) {
			if (kp_jinja_equal(a->u.list.items[i], b->u.list.items[i]))
				continue;
			return kp_jinja_compare(cx, a->u.list.items[i], b->u.list.items[i], out);
		}
		*out = a->u.list.n < b->u.list.n ? -1 : a->u.list.n > b->u.list.n;
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME,
			    "'<' not supported between instances of '%s' and '%s'",
			    kp_jinja_typename(a), kp_jinja_typename(b));
}

static void add_repr_str(struct kp_buf *out, const char *s, size_t len)
{
	char q = (memchr(s, '\'', len) && !memchr(s, '"', len)) ? '"' : '\'';
	kp_buf_addch(out, q);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\' || c == (unsigned char)q) {
			kp_buf_addch(out, '\\');
			kp_buf_addch(out, (char)c);
		} else if (c == '\n') {
			kp_buf_addstr(out, "\\n");
		} else if (c == '\r') {
			kp_buf_addstr(out, "\\r");
		} else if (c == '\t') {
			kp_buf_addstr(out, "\\t");
		} else if (c < 0x20 || c == 0x7f) {
			kp_buf_addf(out, "\\x%02x", c);
		} else {
			kp_buf_addch(out, (char)c);
		}
	}
	kp_buf_addch(out, q);
}

static void add_py(const struct kp_value *v, bool repr, struct kp_buf *out, int depth)
{
	if (depth > 500) {
		kp_buf_addstr(out, "...");
		return;
	}
	switch (v->type) {
	case KP_V_NULL:
		kp_buf_addstr(out, "None");
		break;
	case KP_V_BOOL:
		kp_buf_addstr(out, v->u.b ? "True" : "False");
		break;
	case KP_V_INT:
		kp_buf_addf(out, "%lld", (long long)v->u.i);
		break;
	case KP_V_FLOAT:
		kp_float_repr(v->u.f, out);
		break;
	case KP_V_STR:
		if (repr)
			add_repr_str(out, v->u.str.s, v->u.str.len);
		else
			kp_buf_add(out, v->u.str.s, v->u.str.len);
		break;
	case KP_V_LIST:
		kp_buf_addch(out, v->tuple ? '(' : '[');
		for (size_t i = 0; i < v->u.list.n; i++) {
			if (i)
				kp_buf_addstr(out, ", ");
			add_py(v->u.list.items[i], true, out, depth + 1);
		}
		if (v->tuple && v->u.list.n == 1)
			kp_buf_addch(out, ',');
		kp_buf_addch(out, v->tuple ? ')' : ']');
		break;
	default:
		kp_buf_addch(out, '{');
		for (size_t i = 0; i < v->u.map.n; i++) {
			if (i)
				kp_buf_addstr(out, ", ");
			add_repr_str(out, v->u.map.keys[i], strlen(v->u.map.keys[i]));
			kp_buf_addstr(out, ": ");
			add_py(v->u.map.vals[i], true, out, depth + 1);
		}
		kp_buf_addch(out, '}');
		break;
	}
}

void kp_jinja_str(const struct kp_value *v, struct kp_buf *out)
{
	add_py(v, false, out, 0);
}

void kp_jinja_repr(const struct kp_value *v, struct kp_buf *out)
{
	add_py(v, true, out, 0);
}

bool kp_jinja_is_omit(const struct kp_value *v)
{
	return v && v->type == KP_V_STR && !strcmp(v->u.str.s, KP_JINJA_OMIT);
}

struct kp_value *kp_jv_undef(const char *fmt, ...)
{
	struct kp_buf b = KP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	kp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	size_t len;
	char *s = kp_buf_detach(&b, &len);
	struct kp_value *v = kp_value_str_take(s, len);
	v->undef = 1;
	return v;
}

const struct kp_value *kp_jv_find_undef(const struct kp_value *v, int depth)
{
	if (kp_jv_is_undef(v))
		return v;
	if (depth > 200 || (v->type != KP_V_LIST && v->type != KP_V_MAP))
		return NULL;
	size_t n = v->type == KP_V_LIST ? v->u.list.n : v->u.map.n;
	for (size_t i = 0; i < n; i++) {
		const struct kp_value *u = kp_jv_find_undef(
		    v->type == KP_V_LIST ? v->u.list.items[i] : v->u.map.vals[i], depth + 1);
		if (u)
			return u;
	}
	return NULL;
}

struct kp_value *kp_jv_unknown(const char *name)
{
	struct kp_value *v = kp_jv_undef("'%s' is known only after the hosts are probed", name);
	v->secret = 1; /* marks "unknown" on an undefined value */
	return v;
}

kp_rc kp_jv_undef_error(struct kp_jctx *cx, const struct kp_value *u)
{
	return kp_jinja_err(cx, u->secret ? KP_ERR_UNKNOWN : KP_ERR_UNDEFINED, "%s", u->u.str.s);
}

/* ast.literal_eval over Python literals (with JSON's true/false/null, as
 * ansible-core maps them): strings, numbers, True/False/None, lists,
 * tuples, dicts with string keys. */
struct lit {
	const char *s;
	size_t i, len;
	int depth;
};

static void lit_ws(struct lit *l)
{
	while (l->i < l->len && strchr(" \t\n\r", l->s[l->i]))
		l->i++;
}

static struct kp_value *lit_value(struct lit *l);

static struct kp_value *lit_string(struct lit *l)
{
	char q = l->s[l->i++];
	struct kp_buf b = KP_BUF_INIT;
	while (l->i < l->len && l->s[l->i] != q) {
		char c = l->s[l->i++];
		if (c == '\n')
			goto fail;
		if (c != '\\') {
			kp_buf_addch(&b, c);
			continue;
		}
		if (l->i >= l->len)
			goto fail;
		c = l->s[l->i++];
		switch (c) {
		case 'n':
			kp_buf_addch(&b, '\n');
			break;
		case 't':
			kp_buf_addch(&b, '\t');
			break;
		case 'r':
			kp_buf_addch(&b, '\r');
			break;
		case '\\':
		case '\'':
		case '"':
			kp_buf_addch(&b, c);
			break;
		case 'x': {
			if (l->i + 2 > l->len || !isxdigit((unsigned char)l->s[l->i]) ||
			    !isxdigit((unsigned char)l->s[l->i + 1]))
				goto fail;
			char h[3] = {l->s[l->i], l->s[l->i + 1], 0};
			unsigned cp = (unsigned)strtoul(h, NULL, 16);
			l->i += 2;
			if (cp < 0x80) {
				kp_buf_addch(&b, (char)cp);
			} else {
				kp_buf_addch(&b, (char)(0xc0 | (cp >> 6)));
				kp_buf_addch(&b, (char)(0x80 | (cp & 0x3f)));
			}
			break;
		}
		default:
			kp_buf_addch(&b, '\\');
			kp_buf_addch(&b, c);
		}
	}
	if (l->i >= l->len)
		goto fail;
	l->i++;
	size_t n;
	char *s = kp_buf_detach(&b, &n);
	return kp_value_str_take(s, n);
fail:
	kp_buf_release(&b);
	return NULL;
}

static struct kp_value *lit_seq(struct lit *l, char close, bool dict)
{
	struct kp_value *v = dict ? kp_value_map() : kp_value_list();
	l->i++;
	for (;;) {
		lit_ws(l);
		if (l->i < l->len && l->s[l->i] == close) {
			l->i++;
			return v;
		}
		struct kp_value *k = lit_value(l);
		if (!k)
			goto fail;
		if (dict) {
			lit_ws(l);
			if (k->type != KP_V_STR || l->i >= l->len || l->s[l->i] != ':') {
				kp_value_unref(k);
				goto fail;
			}
			l->i++;
			struct kp_value *x = lit_value(l);
			if (!x) {
				kp_value_unref(k);
				goto fail;
			}
			kp_map_set_take(v, k->u.str.s, x);
			kp_value_unref(k);
		} else {
			kp_list_push_take(v, k);
		}
		lit_ws(l);
		if (l->i < l->len && l->s[l->i] == ',') {
			l->i++;
			continue;
		}
		if (l->i < l->len && l->s[l->i] == close) {
			l->i++;
			return v;
		}
		goto fail;
	}
fail:
	kp_value_unref(v);
	return NULL;
}

static bool word_at(struct lit *l, const char *w)
{
	size_t n = strlen(w);
	if (l->i + n > l->len || memcmp(l->s + l->i, w, n))
		return false;
	if (l->i + n < l->len && (isalnum((unsigned char)l->s[l->i + n]) || l->s[l->i + n] == '_'))
		return false;
	l->i += n;
	return true;
}

static struct kp_value *lit_value(struct lit *l)
{
	lit_ws(l);
	if (l->i >= l->len || ++l->depth > 100)
		return NULL;
	struct kp_value *v = NULL;
	char c = l->s[l->i];
	if (c == '\'' || c == '"') {
		v = lit_string(l);
		/* adjacent literals concatenate */
		while (v) {
			lit_ws(l);
			if (l->i >= l->len || (l->s[l->i] != '\'' && l->s[l->i] != '"'))
				break;
			struct kp_value *w = lit_string(l);
			if (!w) {
				kp_value_unref(v);
				v = NULL;
				break;
			}
			struct kp_buf b = KP_BUF_INIT;
			kp_buf_add(&b, v->u.str.s, v->u.str.len);
			kp_buf_add(&b, w->u.str.s, w->u.str.len);
			kp_value_unref(v);
			kp_value_unref(w);
			size_t n;
			char *s = kp_buf_detach(&b, &n);
			v = kp_value_str_take(s, n);
		}
	} else if (c == '[') {
		v = lit_seq(l, ']', false);
	} else if (c == '(') {
		v = lit_seq(l, ')', false);
	} else if (c == '{') {
		v = lit_seq(l, '}', true);
	} else if (word_at(l, "True") || word_at(l, "true")) {
		v = kp_value_bool(true);
	} else if (word_at(l, "False") || word_at(l, "false")) {
		v = kp_value_bool(false);
	} else if (word_at(l, "None") || word_at(l, "null")) {
		v = kp_value_null();
	} else if (c == '-' || c == '+' || isdigit((unsigned char)c) || c == '.') {
		const char *start = l->s + l->i;
		char *end;
		bool isfloat = false;
		size_t j = l->i + (c == '-' || c == '+');
		while (j < l->len && (isalnum((unsigned char)l->s[j]) || l->s[j] == '.' ||
				      ((l->s[j] == '-' || l->s[j] == '+') &&
				       (l->s[j - 1] == 'e' || l->s[j - 1] == 'E'))))
			isfloat |= strchr(".eE", l->s[j]) != NULL, j++;
		char tmp[64];
		if (j - l->i >= sizeof(tmp))
			return NULL;
		memcpy(tmp, start, j - l->i);
		tmp[j - l->i] = 0;
		if (isfloat) {
			double f = strtod(tmp, &end);
			if (*end)
				return NULL;
			v = kp_value_float(f);
		} else {
			long long x = strtoll(tmp, &end, 10);
			if (*end)
				return NULL;
			v = kp_value_int(x);
		}
		l->i = j;
	}
	l->depth--;
	return v;
}

struct kp_value *kp_jliteral_eval(const char *s, size_t len)
{
	struct lit l = {s, 0, len, 0};
	struct kp_value *v = lit_value(&l);
	if (!v)
		return NULL;
	lit_ws(&l);
	if (l.i != l.len) {
		kp_value_unref(v);
		return NULL;
	}
	return v;
}
