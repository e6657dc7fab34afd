/*
 * regex.c - Python's re as Ansible's regex filters and tests use it, on
 * PCRE2: regex_replace (re.sub with \1, \g<1>, \g<name> templates),
 * regex_search (with group arguments), regex_findall, regex_escape, and
 * the match/search/regex tests. PCRE2 speaks Python's dialect for what
 * playbooks write (\d, lookarounds, non-greedy, (?P<name>...)); a match
 * limit makes a pathological pattern an error instead of an hours-long
 * run.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "expr/jinja/jlib.h"

#define MATCH_LIMIT 10000000u
#define DEPTH_LIMIT 10000u

struct jl_re {
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mc;
	uint32_t ngroups;
};

/* Python's words for the mistakes people make most, so that messages
 * read as in Ansible; PCRE2's own for the rest. */
static const char *python_wording(int code, const char *pcre_msg)
{
	switch (code) {
	case PCRE2_ERROR_MISSING_CLOSING_PARENTHESIS:
		return "missing ), unterminated subpattern";
	case PCRE2_ERROR_MISSING_SQUARE_BRACKET:
		return "unterminated character set";
	case PCRE2_ERROR_QUANTIFIER_INVALID:
	case PCRE2_ERROR_QUANTIFIER_OUT_OF_ORDER:
		return "nothing to repeat";
	case PCRE2_ERROR_UNMATCHED_CLOSING_PARENTHESIS:
		return "unbalanced parenthesis";
	case PCRE2_ERROR_END_BACKSLASH:
		return "bad escape (end of pattern)";
	default:
		return pcre_msg;
	}
}

kp_rc jl_re_compile(struct kp_jctx *cx, const char *pattern, bool icase, bool multiline,
		    struct jl_re **out)
{
	/* Python's \Z is PCRE2's \z (the very end) */
	struct kp_buf p = KP_BUF_INIT;
	for (const char *s = pattern; *s; s++) {
		if (s[0] == '\\' && s[1]) {
			kp_buf_addch(&p, '\\');
			kp_buf_addch(&p, s[1] == 'Z' ? 'z' : s[1]);
			s++;
		} else {
			kp_buf_addch(&p, *s);
		}
	}
	uint32_t opts = PCRE2_UTF | PCRE2_UCP;
	if (icase)
		opts |= PCRE2_CASELESS;
	if (multiline)
		opts |= PCRE2_MULTILINE;
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)p.buf, p.len, opts, &errcode, &erroff, NULL);
	kp_buf_release(&p);
	if (!code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof msg);
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "invalid regular expression '%s': %s at position %zu", pattern,
				    python_wording(errcode, (const char *)msg), (size_t)erroff);
	}
	struct jl_re *re = kp_xcalloc(1, sizeof *re);
	re->code = code;
	re->md = pcre2_match_data_create_from_pattern(code, NULL);
	re->mc = pcre2_match_context_create(NULL);
	pcre2_set_match_limit(re->mc, MATCH_LIMIT);
	pcre2_set_depth_limit(re->mc, DEPTH_LIMIT);
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &re->ngroups);
	*out = re;
	return KP_OK;
}

void jl_re_free(struct jl_re *re)
{
	if (!re)
		return;
	pcre2_match_data_free(re->md);
	pcre2_match_context_free(re->mc);
	pcre2_code_free(re->code);
	free(re);
}

/* One match at or after `start`: 1 found, 0 not, or a negated kp_rc with
 * the error recorded (-KP_ERR_LIMIT when the match limit was hit). */
static int re_exec(struct kp_jctx *cx, struct jl_re *re, const char *s, size_t len, size_t start,
		   uint32_t flags)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, start, flags, re->md, re->mc);
	if (rc >= 0)
		return 1;
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT) {
		kp_jinja_err(cx, KP_ERR_LIMIT,
			     "regular expression gave up: it backtracks too much on this input");
		return -(int)KP_ERR_LIMIT;
	}
	PCRE2_UCHAR msg[256];
	pcre2_get_error_message(rc, msg, sizeof msg);
	kp_jinja_err(cx, KP_ERR_RUNTIME, "regular expression failed: %s", (char *)msg);
	return -(int)KP_ERR_RUNTIME;
}

int jl_re_find(struct kp_jctx *cx, struct jl_re *re, const char *s, size_t len, bool anchored)
{
	return re_exec(cx, re, s, len, 0, anchored ? PCRE2_ANCHORED : 0);
}

/* Group g of the last match: its bytes, or NULL when it did not take part. */
static const char *group(struct jl_re *re, const char *s, uint32_t g, size_t *n)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
	if (g > re->ngroups || ov[2 * g] == PCRE2_UNSET) {
		*n = 0;
		return NULL;
	}
	*n = ov[2 * g + 1] - ov[2 * g];
	return s + ov[2 * g];
}

static struct kp_value *group_val(struct jl_re *re, const char *s, uint32_t g)
{
	size_t n;
	const char *p = group(re, s, g, &n);
	return p ? kp_value_strn(p, n) : kp_value_null();
}

/* A group reference by number or name ("\g<name>"): its number, or -1. */
static int group_ref(struct jl_re *re, const char *name, size_t n)
{
	char buf[128];
	if (!n || n >= sizeof buf)
		return -1;
	memcpy(buf, name, n);
	buf[n] = 0;
	char *end;
	long g = strtol(buf, &end, 10);
	if (!*end && g >= 0)
		return g <= (long)re->ngroups ? (int)g : -1;
	int num = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)buf);
	return num > 0 ? num : -1;
}

/* Expand a Python replacement template for the last match. */
static kp_rc expand(struct kp_jctx *cx, struct jl_re *re, const char *s, const char *tmpl,
		    struct kp_buf *b)
{
	for (const char *t = tmpl; *t; t++) {
		if (*t != '\\') {
			kp_buf_addch(b, *t);
			continue;
		}
		t++;
		int g = -1;
		if (*t >= '0' && *t <= '9') {
			g = *t - '0';
			if (t[1] >= '0' && t[1] <= '9' && g * 10 + (t[1] - '0') <= (int)re->ngroups)
				g = g * 10 + (*++t - '0');
			if (g > (int)re->ngroups)
				return kp_jinja_err(cx, KP_ERR_RUNTIME,
						    "invalid group reference %d", g);
		} else if (*t == 'g' && t[1] == '<') {
			const char *e = strchr(t, '>');
			if (!e)
				return kp_jinja_err(cx, KP_ERR_RUNTIME,
						    "missing >, unterminated name");
			g = group_ref(re, t + 2, (size_t)(e - t - 2));
			if (g < 0)
				return kp_jinja_err(cx, KP_ERR_RUNTIME, "unknown group name '%.*s'",
						    (int)(e - t - 2), t + 2);
			t = e;
		}
		if (g >= 0) {
			size_t n;
			const char *p = group(re, s, (uint32_t)g, &n);
			if (p)
				kp_buf_add(b, p, n);
			continue;
		}
		switch (*t) {
		case 'n':
			kp_buf_addch(b, '\n');
			break;
		case 't':
			kp_buf_addch(b, '\t');
			break;
		case 'r':
			kp_buf_addch(b, '\r');
			break;
		case 'f':
			kp_buf_addch(b, '\f');
			break;
		case 'v':
			kp_buf_addch(b, '\v');
			break;
		case 'a':
			kp_buf_addch(b, '\a');
			break;
		case '\\':
			kp_buf_addch(b, '\\');
			break;
		case 0:
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "bad escape (end of pattern)");
		default:
			if ((*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z'))
				return kp_jinja_err(cx, KP_ERR_RUNTIME, "bad escape \\%c", *t);
			kp_buf_addch(b, '\\');
			kp_buf_addch(b, *t);
		}
	}
	return KP_OK;
}

/* Every match, as re.finditer: an empty match right after a match is
 * allowed, the same empty match twice is not. For each one, cb runs. */
typedef kp_rc (*each_fn)(struct kp_jctx *cx, struct jl_re *re, const char *s, size_t from,
			 void *arg);
static kp_rc each_match(struct kp_jctx *cx, struct jl_re *re, const char *s, size_t len, each_fn cb,
			void *arg, size_t *tail)
{
	size_t pos = 0, copied = 0;
	uint32_t flags = 0, checked = 0;
	for (;;) {
		kp_rc rc = kp_jinja_charge(cx, 1);
		if (rc)
			return rc;
		/* the subject's UTF-8 is checked by the first search only:
		 * checking it again at every match would make a long subject
		 * with many matches quadratic */
		int m = re_exec(cx, re, s, len, pos, flags | checked);
		checked = PCRE2_NO_UTF_CHECK;
		if (m < 0)
			return (kp_rc)-m;
		if (m == 0) {
			if (!flags || pos >= len)
				break;
			/* no non-empty match where the empty one was: go on
			 * searching from the next character */
			pos++;
			while (pos < len && ((unsigned char)s[pos] & 0xc0) == 0x80)
				pos++;
			flags = 0;
			continue;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
		size_t start = ov[0], end = ov[1];
		if ((rc = cb(cx, re, s, copied, arg)))
			return rc;
		copied = end;
		pos = end;
		/* after an empty match, only a non-empty one may start there */
		flags = start == end ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
	}
	*tail = copied;
	return KP_OK;
}

struct sub_state {
	struct kp_buf *b;
	const char *tmpl;
};

static kp_rc sub_cb(struct kp_jctx *cx, struct jl_re *re, const char *s, size_t from, void *arg)
{
	struct sub_state *st = arg;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
	kp_buf_add(st->b, s + from, ov[0] - from);
	return expand(cx, re, s, st->tmpl, st->b);
}

static kp_rc findall_cb(struct kp_jctx *cx, struct jl_re *re, const char *s, size_t from, void *arg)
{
	struct kp_value *l = arg;
	if (re->ngroups == 0) {
		kp_list_push_take(l, group_val(re, s, 0));
	} else if (re->ngroups == 1) {
		size_t n;
		const char *p = group(re, s, 1, &n);
		kp_list_push_take(l, kp_value_strn(p ? p : "", n));
	} else {
		struct kp_value *t = kp_value_list();
		for (uint32_t g = 1; g <= re->ngroups; g++) {
			size_t n;
			const char *p = group(re, s, g, &n);
			kp_list_push_take(t, kp_value_strn(p ? p : "", n));
		}
		kp_list_push_take(l, t);
	}
	return KP_OK;
}

static kp_rc compile_args(struct kp_jctx *cx, const struct kp_value *pat,
			  const struct kp_value *icase, const struct kp_value *ml,
			  struct jl_re **re)
{
	const char *p;
	kp_rc rc = jl_str(cx, pat, "pattern", "", &p);
	if (rc)
		return rc;
	return jl_re_compile(cx, p, jl_bool(icase, false), jl_bool(ml, false), re);
}

/* regex_replace(pattern='', replacement='', ignorecase=False, multiline=False) */
JF(regex_replace)
{
	const char *tmpl;
	struct jl_re *re;
	kp_rc rc = jl_str(cx, argv[1], "replacement", "", &tmpl);
	if (!rc)
		rc = compile_args(cx, argv[0], argv[2], argv[3], &re);
	if (rc)
		return rc;
	struct kp_value *s = jl_strval(in);
	struct kp_buf b = KP_BUF_INIT;
	struct sub_state st = {&b, tmpl};
	size_t tail = 0;
	rc = each_match(cx, re, s->u.str.s, s->u.str.len, sub_cb, &st, &tail);
	if (!rc) {
		kp_buf_add(&b, s->u.str.s + tail, s->u.str.len - tail);
		size_t len;
		char *r = kp_buf_detach(&b, &len);
		*out = kp_value_str_take(r, len);
	}
	kp_buf_release(&b);
	kp_value_unref(s);
	jl_re_free(re);
	return rc;
}

/* regex_findall(pattern, multiline=False, ignorecase=False) */
JF(regex_findall)
{
	struct jl_re *re;
	kp_rc rc = compile_args(cx, argv[0], argv[2], argv[1], &re);
	if (rc)
		return rc;
	struct kp_value *s = jl_strval(in), *l = kp_value_list();
	size_t tail;
	rc = each_match(cx, re, s->u.str.s, s->u.str.len, findall_cb, l, &tail);
	kp_value_unref(s);
	jl_re_free(re);
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}

/* regex_search(pattern, *groups, ignorecase=False, multiline=False):
 * the match, or with group arguments ('\\1', '\\g<name>') the list of
 * those groups; None when nothing matches. */
JF(regex_search)
{
	const struct kp_value *groups = argv[1];
	for (size_t i = 0; i < kp_list_len(groups); i++) {
		const struct kp_value *g = kp_list_at(groups, i);
		if (g->type != KP_V_STR || g->u.str.s[0] != '\\')
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "Unknown argument");
	}
	struct jl_re *re;
	kp_rc rc = compile_args(cx, argv[0], argv[2], argv[3], &re);
	if (rc)
		return rc;
	struct kp_value *s = jl_strval(in);
	int m = jl_re_find(cx, re, s->u.str.s, s->u.str.len, false);
	if (m < 0) {
		rc = (kp_rc)-m;
	} else if (m == 0) {
		*out = kp_value_null();
	} else if (!kp_list_len(groups)) {
		*out = group_val(re, s->u.str.s, 0);
	} else {
		struct kp_value *l = kp_value_list();
		for (size_t i = 0; i < kp_list_len(groups) && !rc; i++) {
			const char *g = kp_list_at(groups, i)->u.str.s;
			int n;
			if (g[1] == 'g' && g[2] == '<' && strchr(g, '>'))
				n = group_ref(re, g + 3, (size_t)(strchr(g, '>') - g - 3));
			else
				n = group_ref(re, g + 1, strspn(g + 1, "0123456789"));
			if (n < 0)
				rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "no such group '%s'", g);
			else
				kp_list_push_take(l, group_val(re, s->u.str.s, (uint32_t)n));
		}
		if (rc)
			kp_value_unref(l);
		else
			*out = l;
	}
	kp_value_unref(s);
	jl_re_free(re);
	return rc;
}

/* regex_escape(re_type='python'): re.escape */
JF(regex_escape)
{
	const char *type;
	kp_rc rc = jl_str(cx, argv[0], "re_type", "python", &type);
	if (rc)
		return rc;
	if (strcmp(type, "python") && strcmp(type, "posix_basic"))
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "Invalid regex type (%s)", type);
	const char *special =
	    !strcmp(type, "python") ? "()[]{}?*+-|^$\\.&~# \t\n\r\v\f" : "[]$^.*\\";
	struct kp_value *s = jl_strval(in);
	struct kp_buf b = KP_BUF_INIT;
	for (size_t i = 0; i < s->u.str.len; i++) {
		char c = s->u.str.s[i];
		if (c && strchr(special, c))
			kp_buf_addch(&b, '\\');
		kp_buf_addch(&b, c);
	}
	kp_value_unref(s);
	size_t len;
	char *r = kp_buf_detach(&b, &len);
	*out = kp_value_str_take(r, len);
	return KP_OK;
}

/* The tests: match (anchored at the start), search, regex(match_type=) */
static kp_rc re_test(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *pat,
		     const struct kp_value *icase, const struct kp_value *ml, bool anchored,
		     bool *out)
{
	struct jl_re *re;
	kp_rc rc = compile_args(cx, pat, icase, ml, &re);
	if (rc)
		return rc;
	struct kp_value *s = jl_strval(in);
	int m = jl_re_find(cx, re, s->u.str.s, s->u.str.len, anchored);
	kp_value_unref(s);
	jl_re_free(re);
	if (m < 0)
		return (kp_rc)-m;
	*out = m > 0;
	return KP_OK;
}

JT(match)
{
	return re_test(cx, in, argv[0], argv[1], argv[2], true, out);
}

JT(search)
{
	return re_test(cx, in, argv[0], argv[1], argv[2], false, out);
}

/* regex(pattern, ignorecase=False, multiline=False, match_type='search') */
JT(regex)
{
	const char *type;
	kp_rc rc = jl_str(cx, argv[3], "match_type", "search", &type);
	if (rc)
		return rc;
	if (strcmp(type, "search") && strcmp(type, "match") && strcmp(type, "fullmatch"))
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "unknown match_type '%s'", type);
	if (!strcmp(type, "fullmatch")) {
		const char *p;
		if ((rc = jl_str(cx, argv[0], "pattern", "", &p)))
			return rc;
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b, "(?:%s)\\z", p);
		struct kp_value *pv = kp_value_str(b.buf);
		kp_buf_release(&b);
		rc = re_test(cx, in, pv, argv[1], argv[2], true, out);
		kp_value_unref(pv);
		return rc;
	}
	return re_test(cx, in, argv[0], argv[1], argv[2], !strcmp(type, "match"), out);
}
