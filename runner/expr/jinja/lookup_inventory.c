/*
 * lookup_inventory.c - Ansible's inventory_hostnames lookup: the hosts a
 * host pattern selects, from the `groups` variable as ansible-core 2.14
 * builds its throwaway inventory (each group its listed hosts, the hosts
 * in the order `groups` lists them). The pattern is Ansible's: terms split
 * on commas (else colons), `&` intersects, `!` excludes, a term is a group
 * or host name with shell wildcards, `~regex`, and a subscript [i] or
 * [a:b] (inclusive) picks from what it matches.
 */
#include "expr/jinja/jlib.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

/* One term's names: groups it matches (their hosts), then, when no group
 * did or it is a wildcard or a regex, hosts by name. */
static kp_rc term_hosts(struct kp_jctx *cx, const struct kp_value *groups,
			const struct kp_value *all, const char *pat, struct kp_value *out)
{
	bool re_term = pat[0] == '~', matched_group = false;
	struct jl_re *re = NULL;
	kp_rc rc = KP_OK;
	if (re_term && (rc = jl_re_compile(cx, pat + 1, false, false, &re)))
		return rc;
	for (int pass = 0; pass < 2 && !rc; pass++) {
		if (pass == 1 && matched_group && !re_term && !strpbrk(pat, ".?*["))
			break;
		size_t n = pass == 0 ? kp_map_len(groups) : kp_list_len(all);
		for (size_t i = 0; i < n && !rc; i++) {
			const char *name =
			    pass == 0 ? kp_map_key(groups, i) : kp_list_at(all, i)->u.str.s;
			bool hit;
			if (re_term) {
				int f = jl_re_find(cx, re, name, strlen(name), false);
				if (f < 0)
					rc = (kp_rc)-f;
				hit = f > 0;
			} else {
				hit = fnmatch(pat, name, 0) == 0;
			}
			if (!hit || rc)
				continue;
			if (pass == 1) {
				kp_list_push(out, kp_list_at(all, i));
				continue;
			}
			matched_group = true;
			const struct kp_value *hs = kp_map_val(groups, i);
			for (size_t j = 0; hs->type == KP_V_LIST && j < kp_list_len(hs); j++)
				kp_list_push(out, kp_list_at(hs, j));
		}
	}
	jl_re_free(re);
	return rc;
}

static bool has_name(const struct kp_value *l, const char *name)
{
	for (size_t i = 0; i < kp_list_len(l); i++)
		if (!strcmp(kp_list_at(l, i)->u.str.s, name))
			return true;
	return false;
}

/* "name[i]", "name[a:b]", "name[a-b]", "name[a:]": the name, and the
 * range (end -1: to the last; single: one index). */
static bool subscript(char *pat, long *start, long *end, bool *single)
{
	size_t n = strlen(pat);
	char *open = strrchr(pat, '[');
	if (pat[0] == '~' || n < 3 || pat[n - 1] != ']' || !open || open == pat)
		return false;
	char *p = open + 1, *e;
	long a = strtol(p, &e, 10);
	if (e == p)
		return false;
	if (*e == ']') {
		*start = a, *single = true;
	} else if ((*e == ':' || *e == '-') && *p != '-') {
		char *q = e + 1;
		long b = strtol(q, &e, 10);
		if (*e != ']' || (e != q && *q == '-'))
			return false;
		*start = a, *end = e == q ? -1 : b, *single = false;
	} else {
		return false;
	}
	*open = '\0';
	return true;
}

static kp_rc pattern_hosts(struct kp_jctx *cx, const struct kp_value *groups,
			   const struct kp_value *all, char *term, struct kp_value *out)
{
	long start = 0, end = -1;
	bool single = false, sub = subscript(term, &start, &end, &single);
	struct kp_value *hs = kp_value_list();
	kp_rc rc;
	if (!sub && has_name(all, term)) /* a host's own name: the host */
		kp_list_push_take(hs, kp_value_str(term));
	else if ((rc = term_hosts(cx, groups, all, term, hs)))
		return kp_value_unref(hs), rc;
	long n = (long)kp_list_len(hs);
	for (long i = 0; i < n; i++) {
		bool take = !sub;
		if (sub && single)
			take = i == (start < 0 ? n + start : start);
		else if (sub)
			take = i >= start && i <= (end < 0 ? n - 1 : end);
		if (take)
			kp_list_push(out, kp_list_at(hs, i));
	}
	kp_value_unref(hs);
	return KP_OK;
}

/* The pattern's terms, as Ansible's split_host_pattern: a list's
 * strings; each split on commas, or, without one, into runs of what is
 * neither blank nor ':' (a [subscript] whole). */
static void split_terms(const struct kp_value *terms, struct kp_value *out)
{
	for (size_t i = 0; i < kp_list_len(terms); i++) {
		const struct kp_value *t = kp_list_at(terms, i);
		if (t->type == KP_V_LIST) {
			split_terms(t, out);
			continue;
		}
		if (t->type != KP_V_STR)
			continue;
		const char *s = t->u.str.s;
		bool commas = strchr(s, ',') != NULL;
		struct kp_buf w = KP_BUF_INIT;
		for (const char *c = s;; c++) {
			bool end =
			    !*c || (commas ? *c == ',' : *c == ':' || *c == ' ' || *c == '\t');
			if (!commas && *c == '[' && strchr(c, ']')) {
				const char *close = strchr(c, ']');
				kp_buf_add(&w, c, (size_t)(close - c + 1));
				c = close;
				continue;
			}
			if (!end) {
				kp_buf_addch(&w, *c);
				continue;
			}
			size_t a = 0, n = w.len;
			while (a < n && (w.buf[a] == ' ' || w.buf[a] == '\t'))
				a++;
			while (n > a && (w.buf[n - 1] == ' ' || w.buf[n - 1] == '\t'))
				n--;
			if (n > a)
				kp_list_push_take(out, kp_value_strn(w.buf + a, n - a));
			kp_buf_reset(&w);
			if (!*c)
				break;
		}
		kp_buf_release(&w);
	}
}

JL(inventory_hostnames)
{
	struct kp_value *groups = NULL, *terms = kp_value_list(), *hosts = kp_value_list();
	kp_rc rc = kp_jinja_var(cx, "groups", &groups);
	if (!rc && (!groups || groups->type != KP_V_MAP))
		rc = kp_jinja_err(cx, KP_ERR_UNDEFINED, "'groups' is undefined");
	const struct kp_value *all = rc ? NULL : kp_map_get(groups, "all");
	struct kp_value *none = kp_value_list();
	if (!all || all->type != KP_V_LIST)
		all = none;
	split_terms(argv[0], terms);
	/* plain terms first, then & and !, as Ansible orders them; only &
	 * and ! terms: from all */
	bool plain = false;
	for (size_t i = 0; i < kp_list_len(terms); i++)
		plain |= !strchr("&!", kp_list_at(terms, i)->u.str.s[0]);
	if (!plain)
		for (size_t i = 0; i < kp_list_len(all); i++)
			kp_list_push(hosts, kp_list_at(all, i));
	for (int kind = 0; kind < 3 && !rc; kind++)
		for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
			const char *t = kp_list_at(terms, i)->u.str.s;
			int k = t[0] == '&' ? 1 : t[0] == '!' ? 2 : 0;
			if (k != kind)
				continue;
			struct kp_value *m = kp_value_list(), *keep = kp_value_list();
			char *p = kp_xstrdup(t + (k != 0));
			rc = pattern_hosts(cx, groups, all, p, m);
			free(p);
			for (size_t j = 0; !rc && k == 0 && j < kp_list_len(m); j++)
				if (!has_name(hosts, kp_list_at(m, j)->u.str.s))
					kp_list_push(hosts, kp_list_at(m, j));
			for (size_t j = 0; !rc && k != 0 && j < kp_list_len(hosts); j++) {
				const struct kp_value *h = kp_list_at(hosts, j);
				if (has_name(m, h->u.str.s) == (k == 1))
					kp_list_push(keep, h);
			}
			if (k != 0 && !rc) {
				kp_value_unref(hosts);
				hosts = keep;
				keep = NULL;
			}
			kp_value_unref(keep);
			kp_value_unref(m);
		}
	kp_value_unref(none);
	kp_value_unref(groups);
	kp_value_unref(terms);
	if (rc) {
		kp_value_unref(hosts);
		return rc;
	}
	*out = hosts;
	return KP_OK;
}
