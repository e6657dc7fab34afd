/*
 * names.c - what kplan says about a filter, test or lookup name it does
 * not have: one of Ansible's that kplan refuses ("filter 'json_query' is
 * not supported by kplan"), or a typo, with the closest name kplan has
 * ("no filter named 'lowr' (did you mean 'lower'?)").
 */
#include <string.h>

#include "expr/jinja/jlib.h"

bool kp_jinja_unsupported_as(const char *kind, const char *name)
{
	size_t k = strlen(kind);
	for (const char *const *u = kp_jinja_unsupported; *u; u++)
		if (!strncmp(*u, kind, k) && (*u)[k] == ':' && !strcmp(*u + k + 1, name))
			return true;
	return false;
}

const char *kp_jinja_unsupported_kind(const char *name)
{
	static const char *const kinds[] = {"filter", "test", "lookup"};
	size_t n = strlen(name);
	for (const char *const *u = kp_jinja_unsupported; *u; u++) {
		const char *colon = strchr(*u, ':');
		if (strlen(colon + 1) == n && !memcmp(colon + 1, name, n)) {
			for (size_t k = 0; k < 3; k++)
				if (!strncmp(*u, kinds[k], (size_t)(colon - *u)))
					return kinds[k];
		}
	}
	return NULL;
}

/* Levenshtein distance, capped: names are short. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 64;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

static void consider(const char *cand, const char *name, const char **best, size_t *bestd)
{
	size_t d = distance(name, cand);
	if (d < *bestd) {
		*bestd = d;
		*best = cand;
	}
}

const char *kp_jinja_did_you_mean(const char *kind, const char *name, const char *const *extra)
{
	const char *best = NULL;
	/* at most two edits, and fewer than a third of the name */
	size_t n = strlen(name), bestd = n / 3 + 1 < 3 ? n / 3 + 1 : 3;
	if (!strcmp(kind, "filter"))
		for (const struct kp_jfilter *f = kp_jinja_filters; f->name; f++)
			consider(f->name, name, &best, &bestd);
	else if (!strcmp(kind, "test"))
		for (const struct kp_jtest *t = kp_jinja_tests; t->name; t++)
			consider(t->name, name, &best, &bestd);
	else
		for (const struct kp_jlookup *l = kp_jinja_lookups; l->name; l++)
			consider(l->name, name, &best, &bestd);
	for (; extra && *extra; extra++)
		consider(*extra, name, &best, &bestd);
	return best;
}

void kp_jinja_unknown_name(const char *kind, const char *name, const char *const *extra,
			   struct kp_buf *msg)
{
	if (kp_jinja_unsupported_as(kind, name)) {
		kp_buf_addf(msg, "%s '%s' is not supported by kplan", kind, name);
		return;
	}
	const char *s = kp_jinja_did_you_mean(kind, name, extra);
	if (!strcmp(kind, "lookup")) /* Ansible's words */
		kp_buf_addf(msg, "lookup plugin (%s) not found", name);
	else
		kp_buf_addf(msg, "no %s named '%s'", kind, name);
	if (s)
		kp_buf_addf(msg, " (did you mean '%s'?)", s);
}
