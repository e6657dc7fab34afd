/*
 * hostpattern.c - host patterns, for a play's `hosts:` and for --limit,
 * with Ansible's semantics.
 *
 * A pattern is terms separated by ',' or ':' (a ':' inside [...] belongs to
 * a subscript). A term is `all`/`*`, a group or host name, a glob (fnmatch),
 * `~regex` (POSIX extended, anchored at the start like Python's re.match),
 * either followed by `[i]` or `[a:b]`, or `@file` (a pattern per line).
 * A "[...]" at the very end is always a subscript, as in Ansible, so a glob
 * character class cannot end a pattern ("web0[13]*" or "~web0[13]" can). A
 * term prefixed with '&' intersects, one with '!' excludes. As in Ansible,
 * all unions apply first, then intersections, then exclusions, whatever the
 * order they are written in; with no union at all, `all` is implied.
 */
#include <fnmatch.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "model/inventory.h"

#define MAX_FILE_DEPTH 1 /* @file inside an @file is refused */

enum op { OP_UNION, OP_AND, OP_NOT };

struct term {
	enum op op;
	char *text; /* without the operator */
};

struct sel {
	const struct kp_inventory *inv;
	const char *whole; /* the pattern, for messages */
	unsigned flags;
	struct kp_buf *warn, *err;
};

/* A growable list of host indices. */
struct hl {
	size_t *v;
	size_t n, cap;
};

static void hl_push(struct hl *l, size_t h)
{
	KP_GROW(l->v, l->n + 1, l->cap);
	l->v[l->n++] = h;
}

static kp_rc invalid(struct sel *s, const char *fmt, const char *arg)
{
	struct kp_buf why = KP_BUF_INIT;
	kp_buf_addf(&why, fmt, arg);
	kp_errorf(s->err, KP_ERR_PARSE, "invalid host pattern '%s': %s", s->whole, why.buf);
	kp_buf_release(&why);
	return KP_ERR_PARSE;
}

/* A term that selected nothing: an error for --limit, else a warning. */
static kp_rc nothing(struct sel *s, const char *term, bool unknown_name)
{
	if (s->flags & KP_PATTERN_STRICT) {
		if (!unknown_name)
			return kp_errorf(s->err, KP_ERR_NOTFOUND,
					 "pattern '%s' in --limit matched no hosts", term);
		const struct kp_inventory *inv = s->inv;
		const char **names = kp_xmalloc((inv->ngroups + inv->nhosts + 1) * sizeof(*names));
		size_t n = 0;
		for (size_t i = 0; i < inv->ngroups; i++)
			names[n++] = inv->groups[i]->name;
		for (size_t i = 0; i < inv->nhosts; i++)
			names[n++] = inv->hosts[i]->name;
		const char *sug = kp_suggest(term, names, n);
		kp_rc rc = sug ? kp_errorf(s->err, KP_ERR_NOTFOUND,
					   "unknown host or group '%s' in --limit (did you mean "
					   "'%s'?)",
					   term, sug)
			       : kp_errorf(s->err, KP_ERR_NOTFOUND,
					   "unknown host or group '%s' in --limit", term);
		free(names);
		return rc;
	}
	if (s->warn)
		kp_buf_addf(s->warn, "pattern '%s' matched no hosts\n", term);
	return KP_OK;
}

static bool is_glob(const char *t)
{
	return strpbrk(t, "*?[") != NULL;
}

static void add_group_hosts(const struct kp_inventory *inv, const struct kp_group *g,
			    struct hl *out)
{
	size_t *idx, n = kp_group_all_hosts(inv, g, &idx);
	for (size_t i = 0; i < n; i++)
		hl_push(out, idx[i]);
	free(idx);
}

/* libc's regerror() texts are capitalised and vary between libcs: say
 * what is wrong in kplan's words instead. */
static const char *regex_problem(int e)
{
	switch (e) {
	case REG_EPAREN:
		return "unmatched '(' in the regular expression";
#ifdef REG_ERPAREN
	case REG_ERPAREN:
		return "unmatched ')' in the regular expression";
#endif
	case REG_EBRACK:
		return "unmatched '[' in the regular expression";
	case REG_EBRACE:
		return "unmatched '{' in the regular expression";
	case REG_BADBR:
		return "invalid repetition count in '{}' in the regular expression";
	case REG_BADRPT:
		return "'*', '+', '?' or '{' follows nothing in the regular expression";
	case REG_EESCAPE:
		return "trailing backslash in the regular expression";
	case REG_ECTYPE:
		return "unknown character class name in the regular expression";
	case REG_ECOLLATE:
		return "invalid collating element in the regular expression";
	case REG_ERANGE:
		return "invalid range end in the regular expression";
	case REG_ESUBREG:
		return "back reference to a group that does not exist in the regular expression";
	case REG_ESPACE:
		return "out of memory compiling the regular expression";
	default:
		return "invalid regular expression";
	}
}

/* Compile the regex of a `~regex` term (without the '~'). */
static kp_rc compile_regex(struct sel *s, const char *text, regex_t *re)
{
	if (kp_regex_too_repetitive(text))
		return invalid(s, "%s",
			       "too many or too large repetitions ('*', '+', '?', '{}') in the "
			       "regular expression");
	int e = regcomp(re, text, REG_EXTENDED);
	if (e)
		return invalid(s, "%s", regex_problem(e));
	return KP_OK;
}

/* Ansible's _enumerate_matches(): matching groups' hosts, then (for globs
 * and regexes, or when no group matched) matching hosts. *groups tells
 * whether some group matched (an empty group selects nothing silently). */
static kp_rc base_hosts(struct sel *s, const char *t, struct hl *out, bool *groups)
{
	const struct kp_inventory *inv = s->inv;
	*groups = false;
	if (t[0] == '~') {
		regex_t re;
		regmatch_t m;
		kp_rc rc = compile_regex(s, t + 1, &re);
		if (rc)
			return rc;
		for (size_t g = 0; g < inv->ngroups; g++)
			if (!regexec(&re, inv->groups[g]->name, 1, &m, 0) && m.rm_so == 0) {
				*groups = true;
				add_group_hosts(inv, inv->groups[g], out);
			}
		for (size_t h = 0; h < inv->nhosts; h++)
			if (!inv->hosts[h]->implicit &&
			    !regexec(&re, inv->hosts[h]->name, 1, &m, 0) && m.rm_so == 0)
				hl_push(out, h);
		regfree(&re);
		return KP_OK;
	}
	if (!strcmp(t, "*"))
		t = "all";
	if (is_glob(t)) {
		for (size_t g = 0; g < inv->ngroups; g++)
			if (!fnmatch(t, inv->groups[g]->name, 0)) {
				*groups = true;
				add_group_hosts(inv, inv->groups[g], out);
			}
		for (size_t h = 0; h < inv->nhosts; h++)
			if (!inv->hosts[h]->implicit && !fnmatch(t, inv->hosts[h]->name, 0))
				hl_push(out, h);
		return KP_OK;
	}
	const struct kp_group *g = kp_inventory_group(inv, t);
	if (g) {
		*groups = true;
		add_group_hosts(inv, g, out);
		return KP_OK;
	}
	const struct kp_host *h = kp_inventory_host(inv, t);
	if (h)
		hl_push(out, h->index);
	return KP_OK;
}

static bool parse_num(const char *s, size_t len, bool neg_ok, long *out)
{
	size_t i = 0;
	bool neg = false;
	if (neg_ok && len && s[0] == '-')
		neg = true, i++;
	if (i == len || len - i > 9)
		return false;
	long v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = neg ? -v : v;
	return true;
}

struct subscript {
	bool present, slice;
	long a, b; /* slice: b == -1 means to the end */
};

/* Split "name[...]" into name and subscript (not for regexes). */
static kp_rc split_subscript(struct sel *s, char *t, struct subscript *sub)
{
	size_t len = strlen(t);
	memset(sub, 0, sizeof(*sub));
	if (t[0] == '~' || !len || t[len - 1] != ']')
		return KP_OK;
	char *open = strrchr(t, '[');
	if (!open || open == t)
		return invalid(s, "'%s' has no name before its subscript", t);
	const char *in = open + 1;
	size_t il = (size_t)(t + len - 1 - in);
	const char *colon = memchr(in, ':', il);
	sub->present = true;
	if (!colon) {
		if (!parse_num(in, il, true, &sub->a))
			return invalid(s, "'[%s' is not an index like [0] or a range like [1:3]",
				       open + 1);
	} else {
		size_t al = (size_t)(colon - in), bl = il - al - 1;
		sub->slice = true;
		sub->a = 0;
		sub->b = -1;
		if ((al && !parse_num(in, al, false, &sub->a)) ||
		    (bl && !parse_num(colon + 1, bl, false, &sub->b)))
			return invalid(s, "'[%s' is not an index like [0] or a range like [1:3]",
				       open + 1);
	}
	*open = '\0';
	return KP_OK;
}

static kp_rc eval_pattern(struct sel *s, const char *pattern, int depth, struct hl *out);

/* One term's hosts into out (in selection order, duplicates possible). */
static kp_rc eval_term(struct sel *s, const char *text, int depth, struct hl *out)
{
	const struct kp_inventory *inv = s->inv;
	kp_rc rc;

	/* a plain host name wins, whatever characters it has (Ansible checks
	 * hosts first too) */
	const struct kp_host *host = kp_inventory_host(inv, text);
	if (host) {
		hl_push(out, host->index);
		return KP_OK;
	}
	if (text[0] == '@') {
		if (depth >= MAX_FILE_DEPTH)
			return invalid(s, "'%s': a pattern file cannot name another file", text);
		struct kp_buf data = KP_BUF_INIT;
		if ((rc = kp_read_file(text + 1, 1u << 20, &data, s->err))) {
			kp_buf_release(&data);
			return rc;
		}
		size_t before = out->n;
		char *save, *line = strtok_r(data.buf, "\n", &save);
		for (rc = KP_OK; line && !rc; line = strtok_r(NULL, "\n", &save)) {
			char *e = line + strlen(line);
			while (*line == ' ' || *line == '\t')
				line++;
			while (e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
				*--e = '\0';
			if (*line && *line != '#')
				rc = eval_pattern(s, line, depth + 1, out);
		}
		kp_buf_release(&data);
		if (!rc && out->n == before)
			rc = nothing(s, text, false);
		return rc;
	}

	char *t = kp_xstrdup(text);
	struct subscript sub;
	struct hl base = {0};
	bool groups = false;
	if ((rc = split_subscript(s, t, &sub)) || (rc = base_hosts(s, t, &base, &groups)))
		goto out;
	/* duplicates out, first kept: subscripts count distinct hosts */
	bool *seen = kp_xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof(*seen));
	size_t k = 0;
	for (size_t i = 0; i < base.n; i++)
		if (!seen[base.v[i]]) {
			seen[base.v[i]] = true;
			base.v[k++] = base.v[i];
		}
	base.n = k;
	free(seen);
	if (!base.n) {
		/* an existing but empty group is not worth a warning (Ansible) */
		bool name = t[0] != '~' && !is_glob(t);
		if (!groups)
			rc = nothing(s, name && (s->flags & KP_PATTERN_STRICT) ? t : text, name);
		goto out;
	}
	size_t from = 0, to = 0; /* inclusive */
	bool none = false;
	if (!sub.present) {
		to = base.n - 1;
	} else if (!sub.slice) {
		long i = sub.a < 0 ? (long)base.n + sub.a : sub.a;
		none = i < 0 || i >= (long)base.n;
		from = to = none ? 0 : (size_t)i;
	} else {
		long b = sub.b < 0 || sub.b >= (long)base.n ? (long)base.n - 1 : sub.b;
		none = sub.a >= (long)base.n || sub.a > b;
		from = (size_t)sub.a;
		to = (size_t)b;
	}
	if (none) {
		rc = nothing(s, text, false);
		goto out;
	}
	for (size_t i = from; i <= to; i++)
		hl_push(out, base.v[i]);
out:
	free(base.v);
	free(t);
	return rc;
}

/* Split at ',' and at ':' outside brackets; a piece that is exactly a host
 * name (an IPv6 address) is not split at ':'. */
static kp_rc split_terms(struct sel *s, const char *pattern, struct term **out, size_t *nout)
{
	struct term *v = NULL;
	size_t n = 0, cap = 0;
	const char *p = pattern;
	kp_rc rc = KP_OK;

	while (!rc) {
		const char *comma = strchr(p, ',');
		size_t plen = comma ? (size_t)(comma - p) : strlen(p);
		char *piece = kp_xstrndup(p, plen);
		char *q = piece;
		while (*q == ' ' || *q == '\t')
			q++;
		char *e = q + strlen(q);
		while (e > q && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		bool whole = s->inv && kp_inventory_host(s->inv, q) != NULL;
		while (*q) {
			const char *end = q;
			int depth = 0;
			if (!whole)
				for (; *end; end++) {
					if (*end == '[')
						depth++;
					else if (*end == ']' && depth)
						depth--;
					else if (*end == ':' && !depth)
						break;
				}
			else
				end = q + strlen(q);
			char *t = kp_xstrndup(q, (size_t)(end - q));
			char *ts = t, *te = t + strlen(t);
			while (*ts == ' ' || *ts == '\t')
				ts++;
			while (te > ts && (te[-1] == ' ' || te[-1] == '\t'))
				*--te = '\0';
			enum op op = OP_UNION;
			if (*ts == '&' || *ts == '!') {
				op = *ts == '&' ? OP_AND : OP_NOT;
				char opc = *ts++;
				while (*ts == ' ' || *ts == '\t')
					ts++;
				if (!*ts) {
					free(t);
					char o[2] = {opc, 0};
					rc = invalid(s, "'%s' must be followed by a pattern", o);
					break;
				}
			}
			if (*ts) {
				KP_GROW(v, n + 1, cap);
				v[n].op = op;
				v[n++].text = kp_xstrdup(ts);
			}
			free(t);
			q = (char *)(*end ? end + 1 : end);
		}
		free(piece);
		if (!comma)
			break;
		p = comma + 1;
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			free(v[i].text);
		free(v);
		return rc;
	}
	*out = v;
	*nout = n;
	return KP_OK;
}

static kp_rc eval_pattern(struct sel *s, const char *pattern, int depth, struct hl *out)
{
	const struct kp_inventory *inv = s->inv;
	struct term *terms;
	size_t nterms;
	kp_rc rc = split_terms(s, pattern, &terms, &nterms);
	if (rc)
		return rc;
	if (!nterms) {
		free(terms);
		return invalid(s, "%s", "the pattern is empty");
	}
	size_t nh = inv->nhosts ? inv->nhosts : 1;
	bool *in = kp_xcalloc(nh, sizeof(*in)), *that = kp_xcalloc(nh, sizeof(*that));
	struct hl res = {0}, tmp = {0};
	bool any_union = false;
	for (size_t i = 0; i < nterms; i++)
		any_union |= terms[i].op == OP_UNION;
	if (!any_union) {
		struct kp_group *all = inv->ngroups ? inv->groups[0] : NULL;
		if (all)
			add_group_hosts(inv, all, &tmp);
		for (size_t i = 0; i < tmp.n; i++)
			if (!in[tmp.v[i]]) {
				in[tmp.v[i]] = true;
				hl_push(&res, tmp.v[i]);
			}
	}
	for (int pass = OP_UNION; pass <= OP_NOT && !rc; pass++) {
		for (size_t i = 0; i < nterms && !rc; i++) {
			if ((int)terms[i].op != pass)
				continue;
			tmp.n = 0;
			if ((rc = eval_term(s, terms[i].text, depth, &tmp)))
				break;
			if (pass == OP_UNION) {
				for (size_t j = 0; j < tmp.n; j++)
					if (!in[tmp.v[j]]) {
						in[tmp.v[j]] = true;
						hl_push(&res, tmp.v[j]);
					}
				continue;
			}
			for (size_t j = 0; j < tmp.n; j++)
				that[tmp.v[j]] = true;
			size_t k = 0;
			for (size_t j = 0; j < res.n; j++) {
				size_t h = res.v[j];
				bool keep = pass == OP_AND ? that[h] : !that[h];
				if (keep)
					res.v[k++] = h;
				else
					in[h] = false;
			}
			res.n = k;
			for (size_t j = 0; j < tmp.n; j++)
				that[tmp.v[j]] = false;
		}
	}
	if (!rc)
		for (size_t i = 0; i < res.n; i++)
			hl_push(out, res.v[i]);
	free(res.v);
	free(tmp.v);
	free(in);
	free(that);
	for (size_t i = 0; i < nterms; i++)
		free(terms[i].text);
	free(terms);
	return rc;
}

void kp_hostset_release(struct kp_hostset *s)
{
	free(s->idx);
	memset(s, 0, sizeof(*s));
}

kp_rc kp_pattern_select(const struct kp_inventory *inv, const char *pattern, unsigned flags,
			struct kp_hostset *out, struct kp_buf *warn, struct kp_buf *err)
{
	struct sel s = {inv, pattern, flags, warn, err};
	struct hl res = {0};
	kp_rc rc =
	    pattern ? eval_pattern(&s, pattern, 0, &res)
		    : kp_errorf(err, KP_ERR_PARSE, "invalid host pattern '': the pattern is empty");
	out->n = 0;
	if (rc) {
		free(res.v);
		return rc;
	}
	/* an @file may repeat hosts across its lines: first one kept */
	bool *seen = kp_xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof(*seen));
	for (size_t i = 0; i < res.n; i++) {
		if (seen[res.v[i]])
			continue;
		seen[res.v[i]] = true;
		KP_GROW(out->idx, out->n + 1, out->cap);
		out->idx[out->n++] = res.v[i];
	}
	free(seen);
	free(res.v);
	return KP_OK;
}

kp_rc kp_pattern_check(const char *pattern, struct kp_buf *err)
{
	struct sel s = {NULL, pattern ? pattern : "", 0, NULL, err};
	struct term *terms;
	size_t nterms;
	kp_rc rc = split_terms(&s, s.whole, &terms, &nterms);
	if (rc)
		return rc;
	if (!nterms)
		rc = invalid(&s, "%s", "the pattern is empty");
	for (size_t i = 0; i < nterms; i++) {
		/* an @file is read when the play runs, relative to where it runs */
		if (!rc && terms[i].text[0] != '@') {
			struct subscript sub;
			rc = split_subscript(&s, terms[i].text, &sub);
			regex_t re;
			if (!rc && terms[i].text[0] == '~' &&
			    !(rc = compile_regex(&s, terms[i].text + 1, &re)))
				regfree(&re);
		}
		free(terms[i].text);
	}
	free(terms);
	return rc;
}
