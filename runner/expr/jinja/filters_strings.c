/*
 * filters_strings.c - string filters as Jinja 3.1 and Ansible define them:
 * lower, upper, capitalize, title, trim, replace, split, join, wordcount,
 * center, truncate, indent, format (Python's % operator), quote (shlex).
 * Lengths and positions count characters (UTF-8 code points); case
 * changes apply to ASCII letters.
 */
#include "expr/jinja/jlib.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct kp_value *take_buf(struct kp_buf *b)
{
	size_t len;
	char *s = kp_buf_detach(b, &len);
	return kp_value_str_take(s, len);
}

/* Bytes taken by the first n characters of s (len bytes). */
static size_t cp_off(const char *s, size_t len, size_t n)
{
	size_t i = 0;
	while (i < len && n) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		n--;
	}
	return i;
}

static size_t cp_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

enum casemode { C_LOWER, C_UPPER, C_CAPITALIZE, C_TITLE };

static kp_rc recase(const struct kp_value *in, enum casemode m, struct kp_value **out)
{
	struct kp_value *s = jl_strval(in);
	char *p = kp_xstrndup(s->u.str.s, s->u.str.len);
	bool start = true;
	for (size_t i = 0; i < s->u.str.len; i++) {
		unsigned char c = (unsigned char)p[i];
		switch (m) {
		case C_LOWER:
			p[i] = (char)tolower(c);
			break;
		case C_UPPER:
			p[i] = (char)toupper(c);
			break;
		case C_CAPITALIZE:
			p[i] = (char)(i == 0 ? toupper(c) : tolower(c));
			break;
		case C_TITLE:
			/* Jinja: words start after runs of '-', whitespace, ( { [ < */
			if (c == '-' || isspace(c) || (c && strchr("({[<", c))) {
				start = true;
				continue;
			}
			p[i] = (char)(start ? toupper(c) : tolower(c));
			start = false;
			break;
		}
	}
	*out = kp_value_str_take(p, s->u.str.len);
	kp_value_unref(s);
	return KP_OK;
}

JF(lower)
{
	return recase(in, C_LOWER, out);
}
JF(upper)
{
	return recase(in, C_UPPER, out);
}
JF(capitalize)
{
	return recase(in, C_CAPITALIZE, out);
}
JF(title)
{
	return recase(in, C_TITLE, out);
}

/* trim(chars=None): str.strip */
JF(trim)
{
	const char *chars;
	kp_rc rc = jl_str(cx, argv[0], "chars", " \t\n\r\v\f", &chars);
	if (rc)
		return rc;
	struct kp_value *s = jl_strval(in);
	const char *a = s->u.str.s, *b = a + s->u.str.len;
	while (a < b && strchr(chars, *a) && *a)
		a++;
	while (b > a && strchr(chars, b[-1]) && b[-1])
		b--;
	*out = kp_value_strn(a, (size_t)(b - a));
	kp_value_unref(s);
	return KP_OK;
}

/* replace(old, new, count=None): str.replace */
JF(replace)
{
	const char *old, *new;
	int64_t count;
	kp_rc rc = jl_str(cx, argv[0], "old", NULL, &old);
	if (!rc)
		rc = jl_str(cx, argv[1], "new", NULL, &new);
	if (!rc)
		rc = jl_int(cx, argv[2], "count", -1, &count);
	if (rc)
		return rc;
	if (!old || !new)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "replace() needs 'old' and 'new'");
	struct kp_value *s = jl_strval(in);
	struct kp_buf b = KP_BUF_INIT;
	size_t olen = strlen(old), nlen = strlen(new);
	const char *p = s->u.str.s, *end = p + s->u.str.len;
	if (!olen) {
		/* an empty `old` matches before every character and at the end */
		for (;;) {
			if (count < 0 || count-- > 0)
				kp_buf_add(&b, new, nlen);
			if (p >= end)
				break;
			size_t n = cp_off(p, (size_t)(end - p), 1);
			kp_buf_add(&b, p, n);
			p += n;
		}
	} else {
		while (p < end && count != 0) {
			const char *hit = memmem(p, (size_t)(end - p), old, olen);
			if (!hit)
				break;
			kp_buf_add(&b, p, (size_t)(hit - p));
			kp_buf_add(&b, new, nlen);
			p = hit + olen;
			if (count > 0)
				count--;
			if ((rc = kp_jinja_charge(cx, nlen + 1))) {
				kp_buf_release(&b);
				kp_value_unref(s);
				return rc;
			}
		}
		kp_buf_add(&b, p, (size_t)(end - p));
	}
	kp_value_unref(s);
	*out = take_buf(&b);
	return KP_OK;
}

/* split(sep=None, maxsplit=-1): str.split */
JF(split)
{
	const char *sep;
	int64_t max;
	kp_rc rc = jl_str(cx, argv[0], "sep", NULL, &sep);
	if (!rc)
		rc = jl_int(cx, argv[1], "maxsplit", -1, &max);
	if (rc)
		return rc;
	if (in->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "descriptor 'split' for 'str' objects doesn't apply to a '%s' "
				    "object",
				    kp_jinja_typename(in));
	if (sep && !*sep)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "empty separator");
	struct kp_value *l = kp_value_list();
	const char *p = in->u.str.s, *end = p + in->u.str.len;
	if (!sep) {
		for (;;) {
			while (p < end && isspace((unsigned char)*p))
				p++;
			if (p >= end)
				break;
			if (max == 0) {
				/* the rest as it is, trailing blanks included */
				kp_list_push_take(l, kp_value_strn(p, (size_t)(end - p)));
				break;
			}
			const char *w = p;
			while (p < end && !isspace((unsigned char)*p))
				p++;
			kp_list_push_take(l, kp_value_strn(w, (size_t)(p - w)));
			if (max > 0)
				max--;
		}
	} else {
		size_t slen = strlen(sep);
		for (;;) {
			const char *hit = max == 0 ? NULL : memmem(p, (size_t)(end - p), sep, slen);
			if (!hit) {
				kp_list_push_take(l, kp_value_strn(p, (size_t)(end - p)));
				break;
			}
			kp_list_push_take(l, kp_value_strn(p, (size_t)(hit - p)));
			p = hit + slen;
			if (max > 0)
				max--;
		}
	}
	*out = l;
	return kp_jinja_charge(cx, kp_list_len(l));
}

/* join(d='', attribute=None) */
JF(join)
{
	const char *d;
	const char *attr;
	kp_rc rc = jl_str(cx, argv[0], "d", "", &d);
	if (!rc)
		rc = jl_str(cx, argv[1], "attribute", NULL, &attr);
	if (rc)
		return rc;
	struct kp_value *items;
	if ((rc = jl_iter(cx, in, &items)))
		return rc;
	struct kp_buf b = KP_BUF_INIT;
	for (size_t i = 0; i < kp_list_len(items); i++) {
		const struct kp_value *it = kp_list_at(items, i);
		if (attr && !(it = jl_attr(it, attr))) {
			kp_buf_release(&b);
			kp_value_unref(items);
			return kp_jinja_err(cx, KP_ERR_UNDEFINED, "object has no attribute '%s'",
					    attr);
		}
		if (i)
			kp_buf_addstr(&b, d);
		kp_jinja_str(it, &b);
	}
	kp_value_unref(items);
	if ((rc = kp_jinja_charge(cx, b.len))) {
		kp_buf_release(&b);
		return rc;
	}
	*out = take_buf(&b);
	return KP_OK;
}

/* wordcount: runs of \w */
JF(wordcount)
{
	struct kp_value *s = jl_strval(in);
	int64_t n = 0;
	bool in_word = false;
	for (size_t i = 0; i < s->u.str.len; i++) {
		unsigned char c = (unsigned char)s->u.str.s[i];
		bool w = isalnum(c) || c == '_' || c >= 0x80;
		n += w && !in_word;
		in_word = w;
	}
	kp_value_unref(s);
	*out = kp_value_int(n);
	return KP_OK;
}

/* center(width=80): str.center */
JF(center)
{
	int64_t width;
	kp_rc rc = jl_int(cx, argv[0], "width", 80, &width);
	if (rc)
		return rc;
	struct kp_value *s = jl_strval(in);
	int64_t len = (int64_t)cp_len(s->u.str.s, s->u.str.len);
	if (width <= len) {
		*out = s;
		return KP_OK;
	}
	if ((rc = kp_jinja_charge(cx, (size_t)width))) {
		kp_value_unref(s);
		return rc;
	}
	int64_t marg = width - len, left = marg / 2 + (marg & width & 1);
	struct kp_buf b = KP_BUF_INIT;
	for (int64_t i = 0; i < left; i++)
		kp_buf_addch(&b, ' ');
	kp_buf_add(&b, s->u.str.s, s->u.str.len);
	for (int64_t i = 0; i < marg - left; i++)
		kp_buf_addch(&b, ' ');
	kp_value_unref(s);
	*out = take_buf(&b);
	return KP_OK;
}

/* truncate(length=255, killwords=False, end='...', leeway=5) */
JF(truncate)
{
	int64_t length, leeway;
	const char *end;
	kp_rc rc = jl_int(cx, argv[0], "length", 255, &length);
	if (!rc)
		rc = jl_str(cx, argv[2], "end", "...", &end);
	if (!rc)
		rc = jl_int(cx, argv[3], "leeway", 5, &leeway);
	if (rc)
		return rc;
	bool kill = jl_bool(argv[1], false);
	int64_t elen = (int64_t)cp_len(end, strlen(end));
	if (length < elen)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "expected length >= %lld, got %lld",
				    (long long)elen, (long long)length);
	if (leeway < 0)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "expected leeway >= 0, got %lld",
				    (long long)leeway);
	struct kp_value *s = jl_strval(in);
	size_t n = cp_len(s->u.str.s, s->u.str.len);
	if ((int64_t)n <= length + leeway) {
		*out = s;
		return KP_OK;
	}
	size_t cut = cp_off(s->u.str.s, s->u.str.len, (size_t)(length - elen));
	if (!kill) {
		/* rsplit(" ", 1)[0] */
		size_t i = cut;
		while (i > 0 && s->u.str.s[i - 1] != ' ')
			i--;
		if (i > 0)
			cut = i - 1;
	}
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_add(&b, s->u.str.s, cut);
	kp_buf_addstr(&b, end);
	kp_value_unref(s);
	*out = take_buf(&b);
	return KP_OK;
}

/* Python's str.splitlines() for \n, \r\n and \r. */
static struct kp_value *splitlines(const char *s, size_t len)
{
	struct kp_value *l = kp_value_list();
	size_t i = 0, start = 0;
	while (i < len) {
		if (s[i] == '\n' || s[i] == '\r') {
			kp_list_push_take(l, kp_value_strn(s + start, i - start));
			if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
				i++;
			start = ++i;
		} else {
			i++;
		}
	}
	if (start < len)
		kp_list_push_take(l, kp_value_strn(s + start, len - start));
	return l;
}

/* indent(width=4, first=False, blank=False); width may be a string */
JF(indent)
{
	struct kp_buf ind = KP_BUF_INIT;
	if (argv[0] && argv[0]->type == KP_V_STR) {
		kp_buf_addstr(&ind, argv[0]->u.str.s);
	} else {
		int64_t w;
		kp_rc rc = jl_int(cx, argv[0], "width", 4, &w);
		if (rc)
			return rc;
		for (int64_t i = 0; i < w && i < 4096; i++)
			kp_buf_addch(&ind, ' ');
	}
	bool first = jl_bool(argv[1], false), blank = jl_bool(argv[2], false);
	struct kp_value *s = jl_strval(in);
	struct kp_buf src = KP_BUF_INIT;
	kp_buf_add(&src, s->u.str.s, s->u.str.len);
	kp_buf_addch(&src, '\n');
	kp_value_unref(s);
	struct kp_value *lines = splitlines(src.buf, src.len);
	kp_buf_release(&src);
	struct kp_buf b = KP_BUF_INIT;
	if (first)
		kp_buf_add(&b, ind.buf, ind.len);
	for (size_t i = 0; i < kp_list_len(lines); i++) {
		const struct kp_value *ln = kp_list_at(lines, i);
		if (i) {
			kp_buf_addch(&b, '\n');
			if (blank || ln->u.str.len)
				kp_buf_add(&b, ind.buf, ind.len);
		}
		kp_buf_add(&b, ln->u.str.s, ln->u.str.len);
	}
	kp_value_unref(lines);
	kp_buf_release(&ind);
	kp_rc rc = kp_jinja_charge(cx, b.len);
	if (rc) {
		kp_buf_release(&b);
		return rc;
	}
	*out = take_buf(&b);
	return KP_OK;
}

/* One %-conversion of Python's printf-style formatting. */
static kp_rc format_one(struct kp_jctx *cx, const char *spec, size_t speclen, char conv,
			const struct kp_value *v, struct kp_buf *b)
{
	char fmt[64];
	if (speclen > 40)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "format specification too long");
	switch (conv) {
	case 's':
	case 'r': {
		struct kp_buf t = KP_BUF_INIT;
		if (conv == 's')
			kp_jinja_str(v, &t);
		else
			kp_jinja_repr(v, &t);
		snprintf(fmt, sizeof fmt, "%%%.*ss", (int)speclen, spec);
		kp_buf_addf(b, fmt, t.buf);
		kp_buf_release(&t);
		return KP_OK;
	}
	case 'd':
	case 'i':
	case 'x':
	case 'X':
	case 'o': {
		int64_t i;
		if (v->type == KP_V_FLOAT)
			i = (int64_t)v->u.f;
		else if (v->type == KP_V_INT || v->type == KP_V_BOOL)
			i = v->type == KP_V_INT ? v->u.i : v->u.b;
		else
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "%%%c format: a number is required, not %s", conv,
					    kp_jinja_typename(v));
		snprintf(fmt, sizeof fmt, "%%%.*sll%c", (int)speclen, spec,
			 conv == 'i' ? 'd' : conv);
		kp_buf_addf(b, fmt, (long long)i);
		return KP_OK;
	}
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G': {
		double d;
		if (v->type == KP_V_FLOAT)
			d = v->u.f;
		else if (v->type == KP_V_INT || v->type == KP_V_BOOL)
			d = v->type == KP_V_INT ? (double)v->u.i : v->u.b;
		else
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "must be real number, not %s",
					    kp_jinja_typename(v));
		snprintf(fmt, sizeof fmt, "%%%.*s%c", (int)speclen, spec, conv);
		kp_buf_addf(b, fmt, d);
		return KP_OK;
	}
	default:
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "unsupported format character '%c'", conv);
	}
}

/* Python's `fmt % args`: args is a list (positional) or a map (%(name)s). */
static kp_rc percent_format(struct kp_jctx *cx, const char *f, const struct kp_value *args,
			    struct kp_value **out)
{
	struct kp_buf b = KP_BUF_INIT;
	size_t next = 0;
	kp_rc rc = KP_OK;
	for (const char *p = f; *p && !rc; p++) {
		if (*p != '%') {
			kp_buf_addch(&b, *p);
			continue;
		}
		p++;
		if (*p == '%') {
			kp_buf_addch(&b, '%');
			continue;
		}
		const struct kp_value *v = NULL;
		if (*p == '(') {
			const char *e = strchr(p, ')');
			if (!e || args->type != KP_V_MAP) {
				rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "format requires a mapping");
				break;
			}
			v = kp_map_getn(args, p + 1, (size_t)(e - p - 1));
			if (!v) {
				rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "'%.*s'", (int)(e - p - 1),
						  p + 1);
				break;
			}
			p = e + 1;
		}
		const char *spec = p;
		while (*p && strchr("-+ #0123456789.", *p))
			p++;
		if (!*p) {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "incomplete format");
			break;
		}
		if (!v) {
			if (args->type != KP_V_LIST || next >= kp_list_len(args)) {
				rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
						  "not enough arguments for format string");
				break;
			}
			v = kp_list_at(args, next++);
		}
		rc = format_one(cx, spec, (size_t)(p - spec), *p, v, &b);
	}
	if (!rc && args->type == KP_V_LIST && next < kp_list_len(args))
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
				  "not all arguments converted during string formatting");
	if (rc) {
		kp_buf_release(&b);
		return rc;
	}
	*out = take_buf(&b);
	return KP_OK;
}

/* format(*args, **kwargs): value % args (or % kwargs) */
JF(format)
{
	if (in->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "format() needs a string, not %s",
				    kp_jinja_typename(in));
	const struct kp_value *args = argv[0], *kw = argv[1];
	if (kw && kp_map_len(kw) && kp_list_len(args))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "can't handle positional and keyword arguments at the same "
				    "time");
	return percent_format(cx, in->u.str.s, kw && kp_map_len(kw) ? kw : args, out);
}

/* quote: shlex.quote */
JF(quote)
{
	struct kp_value *s = jl_strval(in);
	const char *p = s->u.str.s;
	if (!s->u.str.len) {
		kp_value_unref(s);
		*out = kp_value_str("''");
		return KP_OK;
	}
	bool safe = true;
	for (size_t i = 0; i < s->u.str.len && safe; i++) {
		unsigned char c = (unsigned char)p[i];
		safe = isalnum(c) || strchr("@%+=:,./-_", c);
	}
	if (safe) {
		*out = s;
		return KP_OK;
	}
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addch(&b, '\'');
	for (size_t i = 0; i < s->u.str.len; i++) {
		if (p[i] == '\'')
			kp_buf_addstr(&b, "'\"'\"'");
		else
			kp_buf_addch(&b, p[i]);
	}
	kp_buf_addch(&b, '\'');
	kp_value_unref(s);
	*out = take_buf(&b);
	return KP_OK;
}
