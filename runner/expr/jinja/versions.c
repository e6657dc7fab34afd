/*
 * versions.c - Ansible's version test and version_compare filter:
 * LooseVersion (the default), StrictVersion and SemanticVersion, compared
 * exactly as ansible-core's vendored classes compare them (a loose
 * comparison that meets a number against a word fails, as in Python).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "expr/jinja/jlib.h"

/* A component of a parsed version: a number or a word. */
struct vpart {
	bool num;
	unsigned long long n;
	char s[64];
};

#define VMAX 64

/* LooseVersion: runs of digits, runs of lowercase letters, and any other
 * text between them; dots dropped. */
static size_t loose_parse(const char *v, struct vpart *p)
{
	size_t n = 0;
	const char *s = v;
	while (*s && n < VMAX) {
		const char *st = s;
		if (isdigit((unsigned char)*s)) {
			while (isdigit((unsigned char)*s))
				s++;
			p[n].num = true;
			p[n].n = strtoull(st, NULL, 10);
		} else if (*s >= 'a' && *s <= 'z') {
			while (*s >= 'a' && *s <= 'z')
				s++;
			p[n].num = false;
		} else if (*s == '.') {
			s++;
			continue;
		} else {
			while (*s && !isdigit((unsigned char)*s) && !(*s >= 'a' && *s <= 'z') &&
			       *s != '.')
				s++;
			p[n].num = false;
		}
		if (!p[n].num) {
			size_t l = (size_t)(s - st) < sizeof p[n].s - 1 ? (size_t)(s - st)
									: sizeof p[n].s - 1;
			memcpy(p[n].s, st, l);
			p[n].s[l] = 0;
		}
		n++;
	}
	return n;
}

static kp_rc loose_cmp(struct kp_jctx *cx, const char *a, const char *b, int *out)
{
	struct vpart x[VMAX], y[VMAX];
	size_t nx = loose_parse(a, x), ny = loose_parse(b, y);
	for (size_t i = 0; i < nx && i < ny; i++) {
		if (x[i].num != y[i].num)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "Version comparison failed: '<' not supported between "
					    "instances of '%s' and '%s'",
					    x[i].num ? "int" : "str", y[i].num ? "int" : "str");
		int c = x[i].num ? (x[i].n > y[i].n) - (x[i].n < y[i].n) : strcmp(x[i].s, y[i].s);
		if (c) {
			*out = c < 0 ? -1 : 1;
			return KP_OK;
		}
	}
	*out = (nx > ny) - (nx < ny);
	return KP_OK;
}

/* StrictVersion: N.N[.N][(a|b)N] */
static bool strict_parse(const char *s, unsigned long long v[3], char *pre, unsigned long long *pn)
{
	int i = 0;
	memset(v, 0, 3 * sizeof *v);
	*pre = 0;
	for (; i < 3; i++) {
		if (!isdigit((unsigned char)*s))
			return false;
		char *e;
		v[i] = strtoull(s, &e, 10);
		s = e;
		if (*s != '.')
			break;
		if (i == 2)
			return false;
		s++;
	}
	if (i < 1)
		return false;
	if (*s == 'a' || *s == 'b') {
		*pre = *s++;
		if (!isdigit((unsigned char)*s))
			return false;
		char *e;
		*pn = strtoull(s, &e, 10);
		s = e;
	}
	return !*s;
}

static kp_rc strict_cmp(struct kp_jctx *cx, const char *a, const char *b, int *out)
{
	unsigned long long x[3], y[3], xp = 0, yp = 0;
	char xa, ya;
	if (!strict_parse(a, x, &xa, &xp))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "Version comparison failed: invalid version number '%s'", a);
	if (!strict_parse(b, y, &ya, &yp))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "Version comparison failed: invalid version number '%s'", b);
	for (int i = 0; i < 3; i++)
		if (x[i] != y[i]) {
			*out = x[i] < y[i] ? -1 : 1;
			return KP_OK;
		}
	if (!xa || !ya)
		*out = !xa && !ya ? 0 : !xa ? 1 : -1;
	else if (xa != ya)
		*out = xa < ya ? -1 : 1;
	else
		*out = (xp > yp) - (xp < yp);
	return KP_OK;
}

/* SemanticVersion (semver 2.0): major.minor.patch[-pre][+build] */
struct semver {
	unsigned long long v[3];
	char pre[128];
};

static bool numeric_id(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static bool sem_parse(const char *s, struct semver *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 0; i < 3; i++) {
		if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1])))
			return false;
		char *e;
		o->v[i] = strtoull(s, &e, 10);
		s = e;
		if (i < 2 && *s++ != '.')
			return false;
	}
	if (*s == '-') {
		const char *st = ++s;
		while (*s && *s != '+') {
			const char *id = s;
			while (*s && *s != '.' && *s != '+') {
				if (!isalnum((unsigned char)*s) && *s != '-')
					return false;
				s++;
			}
			size_t n = (size_t)(s - id);
			if (!n || (numeric_id(id, n) && n > 1 && id[0] == '0'))
				return false;
			if (*s == '.')
				s++;
		}
		size_t n = (size_t)(s - st);
		if (!n || n >= sizeof o->pre)
			return false;
		memcpy(o->pre, st, n);
	}
	if (*s == '+') {
		s++;
		if (!*s)
			return false;
		for (; *s; s++)
			if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
				return false;
	}
	return !*s;
}

static int sem_pre_cmp(const char *a, const char *b)
{
	if (!*a || !*b)
		return !*a && !*b ? 0 : !*a ? 1 : -1;
	while (*a && *b) {
		size_t na = strcspn(a, "."), nb = strcspn(b, ".");
		bool da = numeric_id(a, na), db = numeric_id(b, nb);
		int c;
		if (da && db)
			c = na != nb ? (na < nb ? -1 : 1) : strncmp(a, b, na);
		else if (da != db)
			c = da ? -1 : 1;
		else {
			c = strncmp(a, b, na < nb ? na : nb);
			if (!c)
				c = (na > nb) - (na < nb);
		}
		if (c)
			return c < 0 ? -1 : 1;
		a += na + (a[na] == '.');
		b += nb + (b[nb] == '.');
	}
	return *a ? 1 : *b ? -1 : 0;
}

static kp_rc sem_cmp(struct kp_jctx *cx, const char *a, const char *b, int *out)
{
	struct semver x, y;
	if (!sem_parse(a, &x))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "Version comparison failed: invalid semantic version '%s'", a);
	if (!sem_parse(b, &y))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "Version comparison failed: invalid semantic version '%s'", b);
	for (int i = 0; i < 3; i++)
		if (x.v[i] != y.v[i]) {
			*out = x.v[i] < y.v[i] ? -1 : 1;
			return KP_OK;
		}
	*out = sem_pre_cmp(x.pre, y.pre);
	return KP_OK;
}

kp_rc jl_version_test(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *ref,
		      const struct kp_value *opv, const struct kp_value *typev, bool *out)
{
	static const char *const ops[][2] = {
	    {"==", "eq"}, {"=", "eq"},	{"eq", "eq"}, {"<", "lt"},  {"lt", "lt"},
	    {"<=", "le"}, {"le", "le"}, {">", "gt"},  {"gt", "gt"}, {">=", "ge"},
	    {"ge", "ge"}, {"!=", "ne"}, {"<>", "ne"}, {"ne", "ne"},
	};
	const char *op, *type;
	kp_rc rc = jl_str(cx, opv, "operator", "eq", &op);
	if (!rc)
		rc = jl_str(cx, typev && typev->type != KP_V_NULL ? typev : NULL, "version_type",
			    "loose", &type);
	if (rc)
		return rc;
	if (!kp_jinja_truthy(in))
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "Input version value cannot be empty");
	if (!ref || !kp_jinja_truthy(ref))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "Version parameter to compare against cannot be empty");
	const char *canon = NULL;
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		if (!strcmp(op, ops[i][0]))
			canon = ops[i][1];
	if (!canon)
		return kp_jinja_err(
		    cx, KP_ERR_RUNTIME,
		    "Invalid operator type (%s). Must be one of '==', '=', 'eq', "
		    "'<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'",
		    op);
	struct kp_value *a = jl_strval(in), *b = jl_strval(ref);
	int c = 0;
	if (!strcmp(type, "loose"))
		rc = loose_cmp(cx, a->u.str.s, b->u.str.s, &c);
	else if (!strcmp(type, "strict"))
		rc = strict_cmp(cx, a->u.str.s, b->u.str.s, &c);
	else if (!strcmp(type, "semver") || !strcmp(type, "semantic"))
		rc = sem_cmp(cx, a->u.str.s, b->u.str.s, &c);
	else if (!strcmp(type, "pep440"))
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
				  "version_type 'pep440' is not supported by kplan");
	else
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
				  "Invalid version type (%s). Must be one of 'loose', 'strict', "
				  "'semver', 'semantic', 'pep440'",
				  type);
	/* loose: equal lists are equal even where < would fail */
	if (rc && !strcmp(type, "loose") && !strcmp(a->u.str.s, b->u.str.s)) {
		rc = KP_OK;
		c = 0;
	}
	kp_value_unref(a);
	kp_value_unref(b);
	if (rc)
		return rc;
	if (!strcmp(canon, "eq"))
		*out = c == 0;
	else if (!strcmp(canon, "ne"))
		*out = c != 0;
	else if (!strcmp(canon, "lt"))
		*out = c < 0;
	else if (!strcmp(canon, "le"))
		*out = c <= 0;
	else if (!strcmp(canon, "gt"))
		*out = c > 0;
	else
		*out = c >= 0;
	return KP_OK;
}
