/*
 * version.c - version_compare(): Kubernetes and Debian package versions.
 *
 * A version is [v][epoch:]upstream[-prerelease][-revision]. The revision
 * (Debian's "-00", "-1.1") is a last '-' part starting with a digit; a
 * prerelease ("-rc.1", "-alpha.0") is a '-' part starting with anything
 * else. Parts compare like dpkg does (runs of digits numerically, the rest
 * character by character, '~' before everything); a version without a
 * prerelease sorts after the same version with one (semver: 1.14.0-rc.1 <
 * 1.14.0), and a missing revision compares like dpkg's empty one, so
 * "1.13.3-00" equals "1.13.3" and "1.13.3-1" is after it.
 */
#include "expr/luaint.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct ver {
	unsigned long long epoch;
	char up[128], pre[64], rev[64];
	bool has_pre;
};

static void copy(char *dst, size_t cap, const char *s, size_t len)
{
	if (len >= cap)
		len = cap - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static bool parse(const char *s, struct ver *v)
{
	memset(v, 0, sizeof(*v));
	while (isspace((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	if ((s[0] == 'v' || s[0] == 'V') && isdigit((unsigned char)s[1])) {
		s++;
		len--;
	}
	const char *colon = memchr(s, ':', len);
	if (colon && colon > s) {
		const char *q = s;
		while (q < colon && isdigit((unsigned char)*q))
			q++;
		if (q == colon) {
			v->epoch = strtoull(s, NULL, 10);
			len -= (size_t)(colon + 1 - s);
			s = colon + 1;
		}
	}
	if (!len || !isdigit((unsigned char)s[0]) || len >= sizeof(v->up))
		return false;
	const char *dash = NULL;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '-')
			dash = s + i;
	if (dash && isdigit((unsigned char)dash[1])) {
		copy(v->rev, sizeof(v->rev), dash + 1, len - (size_t)(dash + 1 - s));
		len = (size_t)(dash - s);
	}
	dash = memchr(s, '-', len);
	if (dash) {
		v->has_pre = true;
		copy(v->pre, sizeof(v->pre), dash + 1, len - (size_t)(dash + 1 - s));
		len = (size_t)(dash - s);
	}
	copy(v->up, sizeof(v->up), s, len);
	return true;
}

static int order(int c)
{
	if (isdigit(c))
		return 0;
	if (isalpha(c))
		return c;
	if (c == '~')
		return -1;
	return c ? c + 256 : 0;
}

/* dpkg's verrevcmp */
static int verrevcmp(const char *a, const char *b)
{
	while (*a || *b) {
		int first_diff = 0;
		while ((*a && !isdigit((unsigned char)*a)) || (*b && !isdigit((unsigned char)*b))) {
			int ac = order((unsigned char)*a), bc = order((unsigned char)*b);
			if (ac != bc)
				return ac - bc;
			a++;
			b++;
		}
		while (*a == '0')
			a++;
		while (*b == '0')
			b++;
		while (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
			if (!first_diff)
				first_diff = *a - *b;
			a++;
			b++;
		}
		if (isdigit((unsigned char)*a))
			return 1;
		if (isdigit((unsigned char)*b))
			return -1;
		if (first_diff)
			return first_diff;
	}
	return 0;
}

kp_rc kp_version_cmp(const char *a, const char *b, int *res)
{
	struct ver x, y;
	int c;
	if (!parse(a, &x) || !parse(b, &y))
		return KP_ERR_INVALID;
	if (x.epoch != y.epoch)
		c = x.epoch < y.epoch ? -1 : 1;
	else if ((c = verrevcmp(x.up, y.up)))
		;
	else if (x.has_pre != y.has_pre)
		c = x.has_pre ? -1 : 1;
	else if ((c = verrevcmp(x.pre, y.pre)))
		;
	else
		c = verrevcmp(x.rev, y.rev);
	*res = c < 0 ? -1 : c > 0;
	return KP_OK;
}

bool kp_version_op_ok(const char *op)
{
	static const char *const ops[] = {"<",	"<=", ">",  ">=", "==", "!=", "lt",
					  "le", "gt", "ge", "eq", "ne", "=",  "~="};
	for (size_t i = 0; i < KP_ARRAY_LEN(ops); i++)
		if (!strcmp(op, ops[i]))
			return true;
	return false;
}

kp_rc kp_version_compare(const char *a, const char *op, const char *b, bool *out)
{
	int c;
	kp_rc rc;
	if (!kp_version_op_ok(op))
		return KP_ERR_INVALID;
	if ((rc = kp_version_cmp(a, b, &c)))
		return rc;
	if (!strcmp(op, "<") || !strcmp(op, "lt"))
		*out = c < 0;
	else if (!strcmp(op, "<=") || !strcmp(op, "le"))
		*out = c <= 0;
	else if (!strcmp(op, ">") || !strcmp(op, "gt"))
		*out = c > 0;
	else if (!strcmp(op, ">=") || !strcmp(op, "ge"))
		*out = c >= 0;
	else if (!strcmp(op, "!=") || !strcmp(op, "ne") || !strcmp(op, "~="))
		*out = c != 0;
	else
		*out = c == 0;
	return KP_OK;
}
