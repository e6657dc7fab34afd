/*
 * filters_types.c - conversions and numbers as Ansible's and Jinja's
 * filters do them: bool, int (with base), float, string, list, dict, abs,
 * round, ternary, type_debug.
 */
#include "expr/jinja/jlib.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Ansible's to_bool: None stays None; 'yes', 'on', '1', 'true' (any
 * case) and 1 are true, everything else false. */
JF(bool)
{
	switch (in->type) {
	case KP_V_NULL:
	case KP_V_BOOL:
		*out = kp_value_ref(in);
		return KP_OK;
	case KP_V_INT:
		*out = kp_value_bool(in->u.i == 1);
		return KP_OK;
	case KP_V_FLOAT:
		*out = kp_value_bool(in->u.f == 1.0);
		return KP_OK;
	case KP_V_STR: {
		const char *s = in->u.str.s;
		*out = kp_value_bool(!strcasecmp(s, "yes") || !strcasecmp(s, "on") ||
				     !strcmp(s, "1") || !strcasecmp(s, "true"));
		return KP_OK;
	}
	default:
		*out = kp_value_bool(false);
		return KP_OK;
	}
}

/* Python's int(text, base): surrounding whitespace, a sign, underscores
 * between digits, and the 0x/0o/0b prefix matching the base (any of them
 * with base 0). */
static bool parse_int(const char *s, int base, int64_t *out)
{
	while (isspace((unsigned char)*s))
		s++;
	bool neg = false;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && s[1]) {
		int c = tolower((unsigned char)s[1]);
		int pb = c == 'x' ? 16 : c == 'o' ? 8 : c == 'b' ? 2 : 0;
		if (pb && (base == 0 || base == pb)) {
			base = pb;
			s += 2;
			if (*s == '_')
				s++;
		}
	}
	if (base == 0)
		base = 10;
	if (base < 2 || base > 36)
		return false;
	uint64_t v = 0;
	bool digits = false, prev_us = false;
	for (; *s && !isspace((unsigned char)*s); s++) {
		if (*s == '_') {
			if (!digits || prev_us)
				return false;
			prev_us = true;
			continue;
		}
		int c = tolower((unsigned char)*s);
		int d = isdigit(c) ? c - '0' : isalpha(c) ? c - 'a' + 10 : 99;
		if (d >= base)
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
		digits = true;
		prev_us = false;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s || !digits || prev_us || v > (uint64_t)INT64_MAX + neg)
		return false;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* Python's float(text): whitespace, inf, nan, exponents, underscores. */
static bool parse_float(const char *s, double *out)
{
	char buf[512];
	size_t n = 0;
	for (; *s && n + 1 < sizeof buf; s++)
		if (*s != '_')
			buf[n++] = *s;
	buf[n] = 0;
	if (*s)
		return false;
	char *end;
	errno = 0;
	const char *p = buf;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p || !strncasecmp(p, "0x", 2) ||
	    (*p == '-' || *p == '+' ? !strncasecmp(p + 1, "0x", 2) : 0))
		return false;
	double d = strtod(p, &end);
	while (isspace((unsigned char)*end))
		end++;
	if (*end || end == p)
		return false;
	*out = d;
	return true;
}

/* Jinja's int(value, default=0, base=10). */
JF(int)
{
	int64_t def, base, i;
	kp_rc rc = jl_int(cx, argv[1], "base", 10, &base);
	if (rc)
		return rc;
	switch (in->type) {
	case KP_V_INT:
		*out = kp_value_ref(in);
		return KP_OK;
	case KP_V_BOOL:
		*out = kp_value_int(in->u.b);
		return KP_OK;
	case KP_V_FLOAT:
		if ((rc = kp_jinja_float_int(cx, in->u.f, &i)))
			return rc;
		*out = kp_value_int(i);
		return KP_OK;
	case KP_V_STR: {
		double d;
		if (parse_int(in->u.str.s, (int)base, &i)) {
			*out = kp_value_int(i);
			return KP_OK;
		}
		/* int(float(text)): "1e3", and digits beyond 2^63 (an error) */
		if (parse_float(in->u.str.s, &d) && isfinite(d)) {
			if ((rc = kp_jinja_float_int(cx, d, &i)))
				return rc;
			*out = kp_value_int(i);
			return KP_OK;
		}
		break;
	}
	default:
		break;
	}
	if (argv[0]) {
		*out = kp_value_ref(argv[0]);
		return KP_OK;
	}
	if ((rc = jl_int(cx, argv[0], "default", 0, &def)))
		return rc;
	*out = kp_value_int(def);
	return KP_OK;
}

/* Jinja's float(value, default=0.0). */
JF(float)
{
	double d;
	switch (in->type) {
	case KP_V_INT:
		*out = kp_value_float((double)in->u.i);
		return KP_OK;
	case KP_V_BOOL:
		*out = kp_value_float(in->u.b);
		return KP_OK;
	case KP_V_FLOAT:
		*out = kp_value_ref(in);
		return KP_OK;
	case KP_V_STR:
		if (parse_float(in->u.str.s, &d)) {
			*out = kp_value_float(d);
			return KP_OK;
		}
		break;
	default:
		break;
	}
	*out = argv[0] ? kp_value_ref(argv[0]) : kp_value_float(0.0);
	return KP_OK;
}

JF(string)
{
	*out = jl_strval(in);
	return KP_OK;
}

JF(list)
{
	struct kp_value *l;
	kp_rc rc = jl_iter(cx, in, &l);
	if (rc)
		return rc;
	if (in->type == KP_V_LIST) {
		*out = kp_value_copy(l);
		(*out)->tuple = 0; /* list((1, 2)) is a list */
		kp_value_unref(l);
	} else {
		*out = l;
	}
	return KP_OK;
}

/* dict(pairs): a list of [key, value] pairs, or a map as is. */
JF(dict)
{
	if (in->type == KP_V_MAP) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	if (in->type != KP_V_LIST)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' object is not iterable",
				    kp_jinja_typename(in));
	struct kp_value *m = kp_value_map();
	for (size_t i = 0; i < kp_list_len(in); i++) {
		const struct kp_value *p = kp_list_at(in, i);
		if (p->type != KP_V_LIST || kp_list_len(p) != 2) {
			kp_value_unref(m);
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "dictionary update sequence element #%zu has the wrong "
					    "length or is not a pair",
					    i);
		}
		struct kp_value *k = jl_strval(kp_list_at(p, 0));
		kp_map_set(m, k->u.str.s, kp_list_at(p, 1));
		kp_value_unref(k);
	}
	*out = m;
	return KP_OK;
}

JF(abs)
{
	switch (in->type) {
	case KP_V_INT:
		if (in->u.i == INT64_MIN)
			return kp_jinja_err(cx, KP_ERR_LIMIT, "integer result too large");
		*out = kp_value_int(in->u.i < 0 ? -in->u.i : in->u.i);
		return KP_OK;
	case KP_V_BOOL:
		*out = kp_value_int(in->u.b);
		return KP_OK;
	case KP_V_FLOAT:
		*out = kp_value_float(fabs(in->u.f));
		return KP_OK;
	default:
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "bad operand type for abs(): '%s'",
				    kp_jinja_typename(in));
	}
}

/* Python's round(x, n): correctly rounded from the double's exact value,
 * ties to even, which is what printf does for n >= 0. */
static double py_round(double x, int64_t n)
{
	if (!isfinite(x))
		return x;
	if (n >= 0) {
		if (n > 300)
			return x;
		char buf[400];
		snprintf(buf, sizeof buf, "%.*f", (int)n, x);
		return strtod(buf, NULL);
	}
	double p = pow(10.0, (double)-n);
	return nearbyint(x / p) * p;
}

/* Jinja's round(value, precision=0, method='common'|'ceil'|'floor'). */
JF(round)
{
	int64_t prec;
	const char *method;
	kp_rc rc = jl_int(cx, argv[0], "precision", 0, &prec);
	if (!rc)
		rc = jl_str(cx, argv[1], "method", "common", &method);
	if (rc)
		return rc;
	if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "method must be 'common', 'ceil' or 'floor'");
	if (in->type != KP_V_INT && in->type != KP_V_FLOAT && in->type != KP_V_BOOL)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "type %s doesn't define __round__ method",
				    kp_jinja_typename(in));
	double x = in->type == KP_V_FLOAT ? in->u.f
		   : in->type == KP_V_INT ? (double)in->u.i
					  : in->u.b;
	if (!strcmp(method, "common")) {
		if (in->type != KP_V_FLOAT) {
			*out = kp_value_int(in->type == KP_V_INT ? in->u.i : in->u.b);
			return KP_OK;
		}
		*out = kp_value_float(py_round(x, prec));
		return KP_OK;
	}
	double p = pow(10.0, (double)prec);
	double r = !strcmp(method, "ceil") ? ceil(x * p) : floor(x * p);
	*out = kp_value_float(r / p);
	return KP_OK;
}

/* ternary(true_val, false_val, none_val=None) */
JF(ternary)
{
	const struct kp_value *t = argv[0], *f = argv[1], *nv = argv[2];
	if (in->type == KP_V_NULL && nv && nv->type != KP_V_NULL)
		*out = kp_value_ref(nv);
	else if (kp_jinja_truthy(in))
		*out = t ? kp_value_ref(t) : kp_value_null();
	else
		*out = f ? kp_value_ref(f) : kp_value_null();
	return KP_OK;
}

JF(type_debug)
{
	*out = kp_value_str(kp_jinja_typename(in));
	return KP_OK;
}
