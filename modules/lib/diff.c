/*
 * diff.c - unified diffs of two texts, for --diff.
 *
 * Lines are compared with Myers' O(ND) algorithm in its linear-space form
 * (find the middle snake, recurse on both halves), after stripping the
 * common head and tail, so a one-line change in a large file costs next to
 * nothing and no input can make it allocate more than O(N) memory. The
 * output follows `diff -u`: three lines of context, hunks closer than six
 * lines merged, "\ No newline at end of file" where a text ends without one.
 */
#include "modules/module.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CONTEXT 3

struct line {
	const char *s;
	size_t len; /* including the newline, when there is one */
	uint64_t hash;
};

struct side {
	struct line *l;
	size_t n;
	bool *changed; /* per line: deleted (a) or inserted (b) */
};

struct differ {
	struct side a, b;
	long *v1, *v2; /* Myers' V arrays, sized for the whole input once */
};

static void split_lines(const char *s, size_t len, struct side *sd)
{
	size_t cap = 0;
	const char *p = s, *end = s + len;
	sd->l = NULL;
	sd->n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		uint64_t h = 1469598103934665603ull; /* FNV-1a */
		for (size_t i = 0; i < l; i++)
			h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
		KP_GROW(sd->l, sd->n + 1, cap);
		sd->l[sd->n++] = (struct line){p, l, h};
		p += l;
	}
	sd->changed = kp_xcalloc(sd->n + 1, sizeof(bool));
}

static bool eq(const struct differ *d, size_t i, size_t j)
{
	const struct line *x = &d->a.l[i], *y = &d->b.l[j];
	return x->hash == y->hash && x->len == y->len && !memcmp(x->s, y->s, x->len);
}

/* Find where an optimal path from (a0,b0) to (a1,b1) crosses its middle
 * (Myers 1986, section 4b; the bookkeeping follows diff-match-patch's
 * bisect). Returns false when the ranges share nothing. */
static bool middle_snake(struct differ *d, size_t a0, size_t a1, size_t b0, size_t b1, size_t *sx,
			 size_t *sy)
{
	long n = (long)(a1 - a0), m = (long)(b1 - b0);
	long max_d = (n + m + 1) / 2, off = max_d, vlen = 2 * max_d + 2;
	long delta = n - m;
	bool front = (delta & 1) != 0;
	long k1start = 0, k1end = 0, k2start = 0, k2end = 0;
	long *v1 = d->v1, *v2 = d->v2;

	for (long i = 0; i < vlen; i++)
		v1[i] = v2[i] = -1;
	v1[off + 1] = 0;
	v2[off + 1] = 0;
	for (long dd = 0; dd < max_d; dd++) {
		for (long k1 = -dd + k1start; k1 <= dd - k1end; k1 += 2) {
			long k1o = off + k1, x1, y1;
			if (k1 == -dd || (k1 != dd && v1[k1o - 1] < v1[k1o + 1]))
				x1 = v1[k1o + 1];
			else
				x1 = v1[k1o - 1] + 1;
			y1 = x1 - k1;
			while (x1 < n && y1 < m && eq(d, a0 + (size_t)x1, b0 + (size_t)y1))
				x1++, y1++;
			v1[k1o] = x1;
			if (x1 > n) {
				k1end += 2;
			} else if (y1 > m) {
				k1start += 2;
			} else if (front) {
				long k2o = off + delta - k1;
				if (k2o >= 0 && k2o < vlen && v2[k2o] != -1 && x1 >= n - v2[k2o]) {
					*sx = (size_t)x1, *sy = (size_t)y1;
					return true;
				}
			}
		}
		for (long k2 = -dd + k2start; k2 <= dd - k2end; k2 += 2) {
			long k2o = off + k2, x2, y2;
			if (k2 == -dd || (k2 != dd && v2[k2o - 1] < v2[k2o + 1]))
				x2 = v2[k2o + 1];
			else
				x2 = v2[k2o - 1] + 1;
			y2 = x2 - k2;
			while (x2 < n && y2 < m &&
			       eq(d, a0 + (size_t)(n - x2 - 1), b0 + (size_t)(m - y2 - 1)))
				x2++, y2++;
			v2[k2o] = x2;
			if (x2 > n) {
				k2end += 2;
			} else if (y2 > m) {
				k2start += 2;
			} else if (!front) {
				long k1o = off + delta - k2;
				if (k1o >= 0 && k1o < vlen && v1[k1o] != -1) {
					long x1 = v1[k1o], y1 = off + x1 - k1o;
					if (x1 >= n - x2) {
						*sx = (size_t)x1, *sy = (size_t)y1;
						return true;
					}
				}
			}
		}
	}
	return false;
}

static void compare(struct differ *d, size_t a0, size_t a1, size_t b0, size_t b1)
{
	size_t sx, sy;

	for (;;) {
		while (a0 < a1 && b0 < b1 && eq(d, a0, b0))
			a0++, b0++;
		while (a0 < a1 && b0 < b1 && eq(d, a1 - 1, b1 - 1))
			a1--, b1--;
		if (a0 == a1 || b0 == b1 || !middle_snake(d, a0, a1, b0, b1, &sx, &sy)) {
			for (size_t i = a0; i < a1; i++)
				d->a.changed[i] = true;
			for (size_t j = b0; j < b1; j++)
				d->b.changed[j] = true;
			return;
		}
		/* recurse on the first half, loop on the second */
		compare(d, a0, a0 + sx, b0, b0 + sy);
		a0 += sx;
		b0 += sy;
	}
}

/* One edit: ' ' both, '-' a only, '+' b only. */
struct edit {
	char op;
	size_t i, j; /* line in a (for ' ' and '-'), in b (for ' ' and '+') */
};

static void range(struct kp_buf *out, size_t start, size_t count)
{
	/* diff -u: an empty range names the line before it */
	if (count == 1)
		kp_buf_addf(out, "%zu", start + 1);
	else
		kp_buf_addf(out, "%zu,%zu", count ? start + 1 : start, count);
}

static void emit_line(struct kp_buf *out, char op, const struct line *l)
{
	kp_buf_addch(out, op);
	kp_buf_add(out, l->s, l->len);
	if (!l->len || l->s[l->len - 1] != '\n')
		kp_buf_addstr(out, "\n\\ No newline at end of file\n");
}

static void emit_hunk(struct kp_buf *out, const struct differ *d, const struct edit *e, size_t from,
		      size_t to)
{
	size_t na = 0, nb = 0, sa = SIZE_MAX, sb = SIZE_MAX;
	for (size_t k = from; k < to; k++) {
		if (e[k].op != '+') {
			na++;
			if (sa == SIZE_MAX)
				sa = e[k].i;
		}
		if (e[k].op != '-') {
			nb++;
			if (sb == SIZE_MAX)
				sb = e[k].j;
		}
	}
	/* an empty side starts where the edit sits */
	if (sa == SIZE_MAX)
		sa = e[from].i;
	if (sb == SIZE_MAX)
		sb = e[from].j;
	kp_buf_addstr(out, "@@ -");
	range(out, sa, na);
	kp_buf_addstr(out, " +");
	range(out, sb, nb);
	kp_buf_addstr(out, " @@\n");
	for (size_t k = from; k < to; k++)
		emit_line(out, e[k].op, e[k].op == '+' ? &d->b.l[e[k].j] : &d->a.l[e[k].i]);
}

static bool binary(const char *s, size_t len)
{
	return len && memchr(s, '\0', len) != NULL;
}

void kp_unified_diff(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
		     const char *label_b, struct kp_buf *out)
{
	struct differ d = {0};
	struct edit *e;
	size_t ne = 0, i = 0, j = 0;

	if (alen == blen && (!alen || !memcmp(a, b, alen)))
		return;
	if (binary(a, alen) || binary(b, blen)) {
		kp_buf_addf(out, "Binary files %s and %s differ\n", label_a, label_b);
		return;
	}
	if (alen > KP_DIFF_MAX || blen > KP_DIFF_MAX) {
		kp_buf_addstr(out, "(diff not shown: file larger than 1 MiB)\n");
		return;
	}
	split_lines(a, alen, &d.a);
	split_lines(b, blen, &d.b);
	size_t vlen = d.a.n + d.b.n + 4;
	d.v1 = kp_xmalloc(vlen * sizeof(long));
	d.v2 = kp_xmalloc(vlen * sizeof(long));
	compare(&d, 0, d.a.n, 0, d.b.n);

	e = kp_xmalloc((d.a.n + d.b.n + 1) * sizeof(*e));
	while (i < d.a.n || j < d.b.n) {
		if (i < d.a.n && d.a.changed[i])
			e[ne++] = (struct edit){'-', i++, j};
		else if (j < d.b.n && d.b.changed[j])
			e[ne++] = (struct edit){'+', i, j++};
		else
			e[ne++] = (struct edit){' ', i++, j++};
	}

	kp_buf_addf(out, "--- %s\n+++ %s\n", label_a, label_b);
	for (size_t k = 0; k < ne;) {
		while (k < ne && e[k].op == ' ')
			k++;
		if (k == ne)
			break;
		size_t from = k >= CONTEXT ? k - CONTEXT : 0, last = k;
		/* extend while the next change is within 2*CONTEXT equal lines */
		for (size_t q = k; q < ne; q++) {
			if (e[q].op != ' ')
				last = q;
			else if (q - last > 2 * CONTEXT)
				break;
		}
		size_t to = last + 1 + CONTEXT < ne ? last + 1 + CONTEXT : ne;
		emit_hunk(out, &d, e, from, to);
		k = to;
	}
	free(e);
	free(d.v1);
	free(d.v2);
	free(d.a.l);
	free(d.b.l);
	free(d.a.changed);
	free(d.b.changed);
}
