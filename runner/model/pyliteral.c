/*
 * pyliteral.c - Python literals as ansible's INI inventory reads values
 * (ast.literal_eval): numbers (underscores, 0x/0o/0b, floats), strings
 * (quotes, triple quotes, prefixes, escapes, implicit concatenation),
 * True/False/None, lists, tuples (as lists) and dicts, with unary signs on
 * numbers. Anything literal_eval refuses (sets, names, calls, complex
 * numbers) gives NULL: the text stays a string, as in Ansible.
 */
#include "model/inventory.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

struct lit {
	const char *p, *end;
	int depth;
};

static void skip_ws(struct lit *l)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t'))
		l->p++;
}

static bool at(struct lit *l, char c)
{
	skip_ws(l);
	return l->p < l->end && *l->p == c;
}

static struct kp_value *expr(struct lit *l);

/* digits of `base` with single underscores between them, into out */
static bool digits(struct lit *l, int base, struct kp_buf *out, bool lead_underscore)
{
	size_t n = 0;
	bool us = lead_underscore;
	while (l->p < l->end) {
		char c = *l->p;
		int v = isdigit((unsigned char)c)		  ? c - '0'
			: isalpha((unsigned char)c) && base == 16 ? tolower(c) - 'a' + 10
								  : -1;
		if (c == '_' && n && !us) {
			us = true;
			l->p++;
			continue;
		}
		if (v < 0 || v >= base || (c >= 'a' && base != 16) || (c >= 'A' && base != 16))
			break;
		us = false;
		kp_buf_addch(out, c);
		n++;
		l->p++;
	}
	return n > 0 && !us;
}

static struct kp_value *number(struct lit *l, bool neg)
{
	struct kp_buf b = KP_BUF_INIT;
	struct kp_value *v = NULL;
	const char *s = l->p;
	int base = 10;
	if (neg)
		kp_buf_addch(&b, '-');
	if (l->end - s > 2 && s[0] == '0' && strchr("xXoObB", s[1])) {
		base = strchr("xX", s[1]) ? 16 : strchr("oO", s[1]) ? 8 : 2;
		l->p += 2;
		if (!digits(l, base, &b, true))
			goto out;
	} else {
		bool intpart = l->p < l->end && isdigit((unsigned char)*l->p);
		bool is_float = false;
		if (intpart && !digits(l, 10, &b, false))
			goto out;
		if (l->p < l->end && *l->p == '.') {
			is_float = true;
			kp_buf_addch(&b, '.');
			l->p++;
			bool frac = l->p < l->end && isdigit((unsigned char)*l->p);
			if (frac && !digits(l, 10, &b, false))
				goto out;
			if (!intpart && !frac)
				goto out;
		} else if (!intpart) {
			goto out;
		}
		if (l->p < l->end && (*l->p == 'e' || *l->p == 'E')) {
			is_float = true;
			kp_buf_addch(&b, 'e');
			l->p++;
			if (l->p < l->end && (*l->p == '+' || *l->p == '-'))
				kp_buf_addch(&b, *l->p++);
			if (!digits(l, 10, &b, false))
				goto out;
		}
		if (l->p < l->end &&
		    (*l->p == 'j' || *l->p == 'J' || isalnum((unsigned char)*l->p)))
			goto out; /* complex, or a name */
		if (is_float) {
			char *end;
			v = kp_value_float(strtod(b.buf, &end));
			goto out;
		}
		/* a decimal with a leading zero: only zeros (Python refuses 010) */
		const char *d = b.buf + (neg ? 1 : 0);
		if (d[0] == '0' && strspn(d, "0") != strlen(d))
			goto out;
	}
	if (l->p < l->end && isalnum((unsigned char)*l->p))
		goto out;
	char *end;
	errno = 0;
	long long i = strtoll(b.buf, &end, base);
	if (!errno && !*end)
		v = kp_value_int(i);
out:
	kp_buf_release(&b);
	return v;
}

/* One string literal (after its prefix), appended to out. */
static bool string1(struct lit *l, bool raw, struct kp_buf *out)
{
	char q = *l->p;
	bool triple = l->end - l->p >= 3 && l->p[1] == q && l->p[2] == q;
	l->p += triple ? 3 : 1;
	while (l->p < l->end) {
		char c = *l->p;
		if (c == q && (!triple || (l->end - l->p >= 3 && l->p[1] == q && l->p[2] == q))) {
			l->p += triple ? 3 : 1;
			return true;
		}
		if (c == '\\' && l->p + 1 < l->end) {
			char e = l->p[1];
			l->p += 2;
			if (raw) {
				kp_buf_addch(out, '\\');
				kp_buf_addch(out, e);
				continue;
			}
			const char *map = "n\nt\tr\ra\ab\bf\fv\v\\\\''\"\"";
			const char *m = NULL;
			for (const char *k = map; *k; k += 2)
				if (*k == e) {
					m = k;
					break;
				}
			if (m) {
				kp_buf_addch(out, m[1]);
			} else if (e >= '0' && e <= '7') {
				int v = e - '0';
				for (int k = 0;
				     k < 2 && l->p < l->end && *l->p >= '0' && *l->p <= '7'; k++)
					v = v * 8 + (*l->p++ - '0');
				kp_buf_addch(out, (char)v);
			} else if (e == 'x' && l->end - l->p >= 2 &&
				   isxdigit((unsigned char)l->p[0]) &&
				   isxdigit((unsigned char)l->p[1])) {
				char hex[3] = {l->p[0], l->p[1], 0};
				kp_buf_addch(out, (char)strtol(hex, NULL, 16));
				l->p += 2;
			} else {
				kp_buf_addch(out, '\\');
				kp_buf_addch(out, e);
			}
			continue;
		}
		kp_buf_addch(out, c);
		l->p++;
	}
	return false;
}

/* A string prefix (r, u, b, rb, br in any case) before a quote, or none. */
static bool string_start(struct lit *l, bool *raw)
{
	const char *p = l->p;
	*raw = false;
	for (int k = 0; k < 2 && p < l->end && strchr("rRuUbB", *p); k++, p++)
		if (*p == 'r' || *p == 'R')
			*raw = true;
	if (p < l->end && (*p == '\'' || *p == '"')) {
		l->p = p;
		return true;
	}
	return false;
}

static struct kp_value *seq(struct lit *l, char close, bool *was_tuple)
{
	struct kp_value *list = kp_value_list();
	bool comma = false;
	l->p++;
	while (!at(l, close)) {
		struct kp_value *v = expr(l);
		if (!v)
			goto bad;
		kp_list_push_take(list, v);
		if (at(l, ',')) {
			l->p++;
			comma = true;
		} else if (!at(l, close)) {
			goto bad;
		}
	}
	l->p++;
	if (was_tuple)
		*was_tuple = comma || !kp_list_len(list);
	return list;
bad:
	kp_value_unref(list);
	return NULL;
}

static struct kp_value *dict(struct lit *l)
{
	struct kp_value *m = kp_value_map();
	l->p++;
	while (!at(l, '}')) {
		struct kp_value *k = expr(l), *v = NULL;
		struct kp_buf key = KP_BUF_INIT;
		if (!k || k->type == KP_V_LIST || k->type == KP_V_MAP || !at(l, ':')) {
			kp_value_unref(k);
			goto bad; /* unhashable, or a set */
		}
		l->p++;
		if (!(v = expr(l))) {
			kp_value_unref(k);
			goto bad;
		}
		/* JSON keys are strings: json.dumps writes True as "true" */
		kp_value_to_text(k, false, &key);
		kp_map_set_take(m, key.buf, v);
		kp_buf_release(&key);
		kp_value_unref(k);
		if (at(l, ','))
			l->p++;
		else if (!at(l, '}'))
			goto bad;
	}
	l->p++;
	return m;
bad:
	kp_value_unref(m);
	return NULL;
}

static struct kp_value *expr(struct lit *l)
{
	bool raw, neg = false;
	struct kp_value *v = NULL;
	if (++l->depth > MAX_DEPTH)
		return NULL;
	skip_ws(l);
	if (l->p >= l->end)
		goto out;
	if (*l->p == '+' || *l->p == '-') {
		/* unary signs apply to numbers only */
		while (l->p < l->end && (*l->p == '+' || *l->p == '-' || *l->p == ' ')) {
			if (*l->p == '-')
				neg = !neg;
			l->p++;
		}
		if (l->p < l->end && (isdigit((unsigned char)*l->p) || *l->p == '.'))
			v = number(l, neg);
		goto out;
	}
	if (isdigit((unsigned char)*l->p) ||
	    (*l->p == '.' && l->p + 1 < l->end && isdigit((unsigned char)l->p[1]))) {
		v = number(l, false);
	} else if (string_start(l, &raw)) {
		struct kp_buf b = KP_BUF_INIT;
		bool ok = true;
		/* 'a' 'b' is 'ab' */
		do {
			ok = string1(l, raw, &b);
			skip_ws(l);
		} while (ok && l->p < l->end && string_start(l, &raw));
		if (ok)
			v = kp_value_strn(b.buf, b.len);
		kp_buf_release(&b);
	} else if (*l->p == '[') {
		v = seq(l, ']', NULL);
	} else if (*l->p == '(') {
		bool tuple = false;
		struct kp_value *t = seq(l, ')', &tuple);
		if (t && !tuple && kp_list_len(t) == 1) {
			v = kp_value_ref(kp_list_at(t, 0)); /* (x) is x */
			kp_value_unref(t);
		} else {
			v = t;
		}
	} else if (*l->p == '{') {
		v = dict(l);
	} else {
		static const char *const names[] = {"True", "False", "None"};
		for (size_t i = 0; i < 3; i++) {
			size_t n = strlen(names[i]);
			if ((size_t)(l->end - l->p) >= n && !memcmp(l->p, names[i], n) &&
			    (l->p + n == l->end ||
			     !(isalnum((unsigned char)l->p[n]) || l->p[n] == '_'))) {
				l->p += n;
				v = i == 2 ? kp_value_null() : kp_value_bool(i == 0);
			}
		}
	}
out:
	l->depth--;
	return v;
}

struct kp_value *kp_python_literal(const char *s, size_t len)
{
	struct lit l = {s, s + len, 0};
	struct kp_value *v = expr(&l);
	if (!v)
		return NULL;
	/* a bare `1, 2` is a tuple */
	if (at(&l, ',')) {
		struct kp_value *t = kp_value_list();
		kp_list_push_take(t, v);
		while (at(&l, ',')) {
			l.p++;
			skip_ws(&l);
			if (l.p >= l.end)
				break;
			struct kp_value *n = expr(&l);
			if (!n) {
				kp_value_unref(t);
				return NULL;
			}
			kp_list_push_take(t, n);
		}
		v = t;
	}
	skip_ws(&l);
	if (l.p < l.end && *l.p != '#') {
		kp_value_unref(v);
		return NULL;
	}
	return v;
}
