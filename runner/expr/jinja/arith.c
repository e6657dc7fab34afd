/*
 * arith.c - Python's operators on kplan values: + - * / // % ** ~, the
 * comparisons and `in`, with Python's type rules and messages (int and
 * float promote, bool counts as int, str * int repeats, list + list
 * joins, '1' == 1 is False) and the evaluation budget for big results.
 */
#include "expr/jinja/jinja.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

static const char *opname(int op)
{
	switch (op) {
	case JOP_ADD:
		return "+";
	case JOP_SUB:
		return "-";
	case JOP_MUL:
		return "*";
	case JOP_DIV:
		return "/";
	case JOP_FLOORDIV:
		return "//";
	case JOP_MOD:
		return "%";
	case JOP_POW:
		return "** or pow()";
	default:
		return "?";
	}
}

static bool isnum(const struct kp_value *v)
{
	return v->type == KP_V_INT || v->type == KP_V_FLOAT || v->type == KP_V_BOOL;
}

static int64_t ival(const struct kp_value *v)
{
	return v->type == KP_V_INT ? v->u.i : v->u.b;
}

static double fval(const struct kp_value *v)
{
	return v->type == KP_V_FLOAT ? v->u.f : (double)ival(v);
}

static kp_rc unsupported(struct kp_jctx *cx, int op, const struct kp_value *a,
			 const struct kp_value *b)
{
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "unsupported operand type(s) for %s: '%s' and '%s'",
			    opname(op), kp_jinja_typename(a), kp_jinja_typename(b));
}

static kp_rc overflow(struct kp_jctx *cx)
{
	return kp_jinja_err(cx, KP_ERR_LIMIT, "integer result too large");
}

static kp_rc repeat(struct kp_jctx *cx, const struct kp_value *seq, int64_t n,
		    struct kp_value **out)
{
	if (n < 0)
		n = 0;
	/* a list's item costs what a pointer and its share of the value it
	 * names do, not one unit: a list of 16 M items is gigabytes once
	 * printed or registered */
	size_t unit = seq->type == KP_V_STR ? seq->u.str.len : seq->u.list.n * KP_JINJA_ITEM_UNITS;
	if (unit && (uint64_t)n > (uint64_t)KP_JINJA_BUDGET / unit + 1)
		return kp_jinja_charge(cx, (size_t)-1 / 2);
	kp_rc rc = kp_jinja_charge(cx, unit * (size_t)n);
	if (rc)
		return rc;
	if (!unit) /* '' * 10**15: nothing to repeat, however often */
		n = 0;
	if (seq->type == KP_V_STR) {
		struct kp_buf b = KP_BUF_INIT;
		for (int64_t i = 0; i < n; i++)
			kp_buf_add(&b, seq->u.str.s, seq->u.str.len);
		size_t len;
		char *s = kp_buf_detach(&b, &len);
		*out = kp_value_str_take(s, len);
		return KP_OK;
	}
	struct kp_value *l = kp_value_list();
	for (int64_t i = 0; i < n; i++)
		for (size_t k = 0; k < seq->u.list.n; k++)
			kp_list_push(l, seq->u.list.items[k]);
	*out = l;
	return KP_OK;
}

/* Python's str % args: %s %r %d %i %f %x %%, with an optional width. */
static kp_rc str_format(struct kp_jctx *cx, const struct kp_value *fmt, const struct kp_value *args,
			struct kp_value **out)
{
	struct kp_buf b = KP_BUF_INIT;
	size_t ai = 0, nargs = args->type == KP_V_LIST ? args->u.list.n : 1;
	const char *s = fmt->u.str.s;
	for (size_t i = 0; i < fmt->u.str.len; i++) {
		if (s[i] != '%') {
			kp_buf_addch(&b, s[i]);
			continue;
		}
		char spec[32] = "%";
		size_t n = 1;
		i++;
		while (i < fmt->u.str.len && strchr("-+ 0#.0123456789", s[i]) && n < 20)
			spec[n++] = s[i++];
		if (i >= fmt->u.str.len)
			goto bad;
		/* a width or precision is that much text: charged first
		 * ('%0751266563s' would otherwise pad for seconds) */
		size_t widest = 0;
		for (size_t k = 1; k < n; k++)
			if (isdigit((unsigned char)spec[k])) {
				size_t w = 0;
				while (k < n && isdigit((unsigned char)spec[k]) &&
				       w < KP_JINJA_BUDGET)
					w = w * 10 + (size_t)(spec[k++] - '0');
				if (w > widest)
					widest = w;
			}
		kp_rc wrc = kp_jinja_charge(cx, widest);
		if (wrc) {
			kp_buf_release(&b);
			return wrc;
		}
		char conv = s[i];
		if (conv == '%') {
			kp_buf_addch(&b, '%');
			continue;
		}
		if (ai >= nargs) {
			kp_buf_release(&b);
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "not enough arguments for format string");
		}
		const struct kp_value *a = args->type == KP_V_LIST ? args->u.list.items[ai] : args;
		ai++;
		if (conv == 's' || conv == 'r') {
			struct kp_buf t = KP_BUF_INIT;
			if (conv == 's')
				kp_jinja_str(a, &t);
			else
				kp_jinja_repr(a, &t);
			spec[n++] = 's';
			spec[n] = 0;
			kp_buf_addf(&b, spec, t.buf);
			kp_buf_release(&t);
		} else if (strchr("dixXo", conv) && isnum(a)) {
			spec[n++] = 'l', spec[n++] = 'l', spec[n++] = conv == 'i' ? 'd' : conv;
			spec[n] = 0;
			int64_t iv = a->type == KP_V_FLOAT ? 0 : ival(a);
			kp_rc rc;
			if (a->type == KP_V_FLOAT && (rc = kp_jinja_float_int(cx, a->u.f, &iv))) {
				kp_buf_release(&b);
				return rc;
			}
			kp_buf_addf(&b, spec, (long long)iv);
		} else if (strchr("feEgG", conv) && isnum(a)) {
			spec[n++] = conv;
			spec[n] = 0;
			kp_buf_addf(&b, spec, fval(a));
		} else {
			goto bad;
		}
	}
	if (ai < nargs && args->type == KP_V_LIST) {
		kp_buf_release(&b);
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "not all arguments converted during string formatting");
	}
	size_t len;
	char *str = kp_buf_detach(&b, &len);
	*out = kp_value_str_take(str, len);
	return KP_OK;
bad:
	kp_buf_release(&b);
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "unsupported format character in '%s'", s);
}

static kp_rc concat(struct kp_jctx *cx, const struct kp_value *a, const struct kp_value *b,
		    struct kp_value **out)
{
	struct kp_buf t = KP_BUF_INIT;
	kp_jinja_str(a, &t);
	kp_jinja_str(b, &t);
	kp_rc rc = kp_jinja_charge(cx, t.len);
	if (rc) {
		kp_buf_release(&t);
		return rc;
	}
	size_t len;
	char *s = kp_buf_detach(&t, &len);
	*out = kp_value_str_take(s, len);
	return KP_OK;
}

static kp_rc int_pow(struct kp_jctx *cx, int64_t x, int64_t y, struct kp_value **out)
{
	if (y < 0) {
		*out = kp_value_float(pow((double)x, (double)y));
		return KP_OK;
	}
	int64_t r = 1;
	while (y > 0) {
		if (y & 1 && __builtin_mul_overflow(r, x, &r))
			return overflow(cx);
		y >>= 1;
		if (y && __builtin_mul_overflow(x, x, &x))
			return overflow(cx);
	}
	*out = kp_value_int(r);
	return KP_OK;
}

kp_rc kp_jbinop(struct kp_jctx *cx, int op, const struct kp_value *a, const struct kp_value *b,
		struct kp_value **out)
{
	if (op == JOP_CONCAT)
		return concat(cx, a, b, out);
	if (isnum(a) && isnum(b)) {
		bool isint = a->type != KP_V_FLOAT && b->type != KP_V_FLOAT;
		/* a float's integer view is never read: isint says which view */
		int64_t x = isint ? ival(a) : 0, y = isint ? ival(b) : 0, r;
		double fx = fval(a), fy = fval(b);
		switch (op) {
		case JOP_ADD:
			if (isint) {
				if (__builtin_add_overflow(x, y, &r))
					return overflow(cx);
				*out = kp_value_int(r);
			} else {
				*out = kp_value_float(fx + fy);
			}
			return KP_OK;
		case JOP_SUB:
			if (isint) {
				if (__builtin_sub_overflow(x, y, &r))
					return overflow(cx);
				*out = kp_value_int(r);
			} else {
				*out = kp_value_float(fx - fy);
			}
			return KP_OK;
		case JOP_MUL:
			if (isint) {
				if (__builtin_mul_overflow(x, y, &r))
					return overflow(cx);
				*out = kp_value_int(r);
			} else {
				*out = kp_value_float(fx * fy);
			}
			return KP_OK;
		case JOP_DIV:
			if (fy == 0)
				return kp_jinja_err(cx, KP_ERR_RUNTIME, "division by zero");
			*out = kp_value_float(fx / fy);
			return KP_OK;
		case JOP_FLOORDIV:
		case JOP_MOD:
			if (isint ? y == 0 : fy == 0)
				return kp_jinja_err(cx, KP_ERR_RUNTIME,
						    op == JOP_MOD ? "integer modulo by zero"
								  : "integer division or modulo by "
								    "zero");
			if (isint) {
				if (x == INT64_MIN && y == -1)
					return overflow(cx);
				int64_t q = x / y, m = x % y;
				if (m && ((m < 0) != (y < 0)))
					q--, m += y;
				*out = kp_value_int(op == JOP_MOD ? m : q);
			} else {
				double q = floor(fx / fy), m = fmod(fx, fy);
				if (m && ((m < 0) != (fy < 0)))
					m += fy;
				*out = kp_value_float(op == JOP_MOD ? m : q);
			}
			return KP_OK;
		case JOP_POW:
			if (isint)
				return int_pow(cx, x, y, out);
			*out = kp_value_float(pow(fx, fy));
			return KP_OK;
		}
	}
	switch (op) {
	case JOP_ADD:
		if (a->type == KP_V_STR && b->type == KP_V_STR)
			return concat(cx, a, b, out);
		if (a->type == KP_V_LIST && b->type == KP_V_LIST) {
			kp_rc rc = kp_jinja_charge(cx, a->u.list.n + b->u.list.n);
			if (rc)
				return rc;
			struct kp_value *l = kp_value_list();
			for (size_t i = 0; i < a->u.list.n; i++)
				kp_list_push(l, a->u.list.items[i]);
			for (size_t i = 0; i < b->u.list.n; i++)
				kp_list_push(l, b->u.list.items[i]);
			*out = l;
			return KP_OK;
		}
		if (a->type == KP_V_STR)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "can only concatenate str (not \"%s\") to str",
					    kp_jinja_typename(b));
		if (a->type == KP_V_LIST)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "can only concatenate list (not \"%s\") to list",
					    kp_jinja_typename(b));
		break;
	case JOP_MUL:
		if ((a->type == KP_V_STR || a->type == KP_V_LIST) &&
		    (b->type == KP_V_INT || b->type == KP_V_BOOL))
			return repeat(cx, a, ival(b), out);
		if ((b->type == KP_V_STR || b->type == KP_V_LIST) &&
		    (a->type == KP_V_INT || a->type == KP_V_BOOL))
			return repeat(cx, b, ival(a), out);
		if (a->type == KP_V_STR || a->type == KP_V_LIST)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "can't multiply sequence by non-int of type '%s'",
					    kp_jinja_typename(b));
		break;
	case JOP_MOD:
		if (a->type == KP_V_STR)
			return str_format(cx, a, b, out);
		break;
	}
	return unsupported(cx, op, a, b);
}

static kp_rc contains(struct kp_jctx *cx, const struct kp_value *needle, const struct kp_value *hay,
		      bool *out)
{
	switch (hay->type) {
	case KP_V_STR:
		if (needle->type != KP_V_STR)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "'in <string>' requires string as left operand, not %s",
					    kp_jinja_typename(needle));
		*out = !needle->u.str.len ||
		       memmem(hay->u.str.s, hay->u.str.len, needle->u.str.s, needle->u.str.len);
		return KP_OK;
	case KP_V_LIST:
		*out = false;
		for (size_t i = 0; i < hay->u.list.n && !*out; i++)
			*out = kp_jinja_equal(needle, hay->u.list.items[i]);
		return KP_OK;
	case KP_V_MAP:
		if (needle->type == KP_V_LIST || needle->type == KP_V_MAP)
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "unhashable type: '%s'",
					    kp_jinja_typename(needle));
		if (needle->type == KP_V_STR) {
			*out = kp_map_getn(hay, needle->u.str.s, needle->u.str.len) != NULL;
		} else {
			*out = false;
		}
		return KP_OK;
	default:
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "argument of type '%s' is not iterable",
				    kp_jinja_typename(hay));
	}
}

kp_rc kp_jcmp_op(struct kp_jctx *cx, int op, const struct kp_value *a, const struct kp_value *b,
		 bool *out)
{
	int c;
	kp_rc rc;
	switch (op) {
	case JOP_EQ:
		*out = kp_jinja_equal(a, b);
		return KP_OK;
	case JOP_NE:
		*out = !kp_jinja_equal(a, b);
		return KP_OK;
	case JOP_IN:
		return contains(cx, a, b, out);
	case JOP_NOTIN:
		rc = contains(cx, a, b, out);
		*out = !*out;
		return rc;
	}
	rc = kp_jinja_compare(cx, a, b, &c);
	if (rc) {
		if (op != JOP_LT) {
			static const char *const names[] = {
			    [JOP_LE] = "<=", [JOP_GT] = ">", [JOP_GE] = ">="};
			kp_jinja_err(cx, KP_ERR_RUNTIME,
				     "'%s' not supported between instances of '%s' and '%s'",
				     names[op], kp_jinja_typename(a), kp_jinja_typename(b));
		}
		return rc;
	}
	*out = op == JOP_LT ? c < 0 : op == JOP_LE ? c <= 0 : op == JOP_GT ? c > 0 : c >= 0;
	return KP_OK;
}
