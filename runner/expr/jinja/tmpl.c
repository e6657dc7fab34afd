/*
 * tmpl.c - parsing a template: text, {{ expr }}, {% if/for/set/raw %} and
 * {# comments #}, with Jinja's whitespace control ({%- -%}, {{- -}}) and
 * the trim_blocks / lstrip_blocks options.
 */
#include "expr/jinja/jlex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct tp {
	struct jlex lx;
	const struct jopts *o;
	bool strip_next; /* the last tag ended with '-' */
	bool trim_nl;	 /* the last tag was a block or comment (trim_blocks) */
	bool has_stmts;
	int nest;
};

static void add_stmt(struct jbody *b, struct jstmt st)
{
	b->s = kp_xrealloc(b->s, (b->n + 1) * sizeof(*b->s));
	b->s[b->n++] = st;
}

static void add_text(struct jbody *b, const char *s, size_t len, size_t at)
{
	if (!len)
		return;
	add_stmt(b,
		 (struct jstmt){
		     .kind = JS_TEXT, .offset = (int)at, .text = kp_xstrndup(s, len), .len = len});
}

/* The current token must be "%}": remember its whitespace flags. */
static kp_rc end_block(struct tp *p)
{
	if (p->lx.tok.kind != JT_BEND) {
		if (p->lx.tok.kind == JT_VEND)
			return kp_jlex_error(&p->lx, p->lx.tok.start, "unexpected '}}'");
		if (p->lx.tok.kind == JT_EOF)
			return kp_jlex_error(&p->lx, p->lx.tok.start,
					     "unexpected end of template, expected '%%}'");
		return kp_jlex_error(&p->lx, p->lx.tok.start, "expected '%%}'");
	}
	p->strip_next = p->lx.tok.strip;
	p->trim_nl = p->o->trim_blocks;
	return KP_OK;
}

static kp_rc parse_body(struct tp *p, struct jbody *b, const char *const *ends, char **found);

static kp_rc parse_targets(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	bool paren = kp_jtok_op(lx, "(");
	kp_rc rc = paren ? kp_jlex_next(lx) : KP_OK;
	while (!rc) {
		if (lx->tok.kind != JT_NAME)
			return kp_jlex_error(lx, lx->tok.start, "expected a variable name");
		st->targets = kp_xrealloc(st->targets, (st->ntargets + 1) * sizeof(*st->targets));
		st->targets[st->ntargets++] = kp_xstrdup(lx->tok.name);
		rc = kp_jlex_next(lx);
		if (!rc && st->kind == JS_SET && kp_jtok_op(lx, ".")) {
			/* {% set ns.attr = v %}: "ns.attr" */
			if ((rc = kp_jlex_next(lx)))
				break;
			if (lx->tok.kind != JT_NAME)
				return kp_jlex_error(lx, lx->tok.start,
						     "expected a name after '.'");
			char *t = st->targets[st->ntargets - 1];
			size_t tl = strlen(t), nl = strlen(lx->tok.name);
			t = kp_xrealloc(t, tl + nl + 2);
			t[tl] = '.';
			memcpy(t + tl + 1, lx->tok.name, nl + 1);
			st->targets[st->ntargets - 1] = t;
			rc = kp_jlex_next(lx);
		}
		if (rc || !kp_jtok_op(lx, ","))
			break;
		rc = kp_jlex_next(lx);
	}
	if (!rc && paren) {
		if (!kp_jtok_op(lx, ")"))
			return kp_jlex_error(lx, lx->tok.start, "expected ')'");
		rc = kp_jlex_next(lx);
	}
	return rc;
}

/* "a, b" (a tuple without parentheses) or one expression */
static kp_rc parse_tuple_expr(struct jlex *lx, bool with_cond, struct jnode **out)
{
	struct jnode *first = NULL;
	kp_rc rc = kp_jparse_expression(lx, with_cond, &first);
	if (rc || !kp_jtok_op(lx, ",")) {
		*out = first;
		return rc;
	}
	struct jnode *t = kp_jnode_new(JN_TUPLE, (size_t)first->offset);
	kp_jnode_add(t, first);
	while (!rc && kp_jtok_op(lx, ",")) {
		rc = kp_jlex_next(lx);
		if (rc || lx->tok.kind == JT_BEND || lx->tok.kind == JT_VEND)
			break;
		struct jnode *k = NULL;
		rc = kp_jparse_expression(lx, with_cond, &k);
		if (!rc)
			kp_jnode_add(t, k);
	}
	*out = t;
	return rc;
}

static kp_rc parse_if(struct tp *p, struct jstmt *st)
{
	static const char *const ends[] = {"elif", "else", "endif", NULL};
	struct jlex *lx = &p->lx;
	bool is_else = false;
	for (;;) {
		struct jnode *c = NULL;
		kp_rc rc = is_else ? KP_OK : kp_jparse_expression(lx, true, &c);
		if (!rc)
			rc = end_block(p);
		st->conds = kp_xrealloc(st->conds, (st->nconds + 1) * sizeof(*st->conds));
		st->bodies = kp_xrealloc(st->bodies, (st->nconds + 1) * sizeof(*st->bodies));
		st->conds[st->nconds] = c;
		st->bodies[st->nconds] = (struct jbody){0};
		st->nconds++;
		if (rc)
			return rc;
		char *found = NULL;
		rc = parse_body(p, &st->bodies[st->nconds - 1],
				is_else ? (const char *const[]){"endif", NULL} : ends, &found);
		if (rc)
			return rc;
		bool endif = !strcmp(found, "endif");
		is_else = !strcmp(found, "else");
		free(found);
		if (endif)
			return end_block(p);
		if (is_else && (rc = end_block(p)))
			return rc;
	}
}

static kp_rc parse_for(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	kp_rc rc = parse_targets(p, st);
	if (rc)
		return rc;
	if (!kp_jtok_name(lx, "in"))
		return kp_jlex_error(lx, lx->tok.start, "expected 'in'");
	rc = kp_jlex_next(lx);
	if (!rc)
		rc = parse_tuple_expr(lx, false, &st->expr);
	if (!rc && kp_jtok_name(lx, "if")) {
		rc = kp_jlex_next(lx);
		if (!rc)
			rc = kp_jparse_expression(lx, true, &st->filter);
	}
	if (!rc && kp_jtok_name(lx, "recursive"))
		return kp_jlex_error(lx, lx->tok.start, "recursive loops are not supported");
	if (!rc)
		rc = end_block(p);
	if (rc)
		return rc;
	char *found = NULL;
	st->body = kp_xcalloc(1, sizeof(*st->body));
	rc = parse_body(p, st->body, (const char *const[]){"else", "endfor", NULL}, &found);
	if (rc)
		return rc;
	bool has_else = !strcmp(found, "else");
	free(found);
	if ((rc = end_block(p)) || !has_else)
		return rc;
	st->else_body = kp_xcalloc(1, sizeof(*st->else_body));
	rc = parse_body(p, st->else_body, (const char *const[]){"endfor", NULL}, &found);
	free(found);
	return rc ? rc : end_block(p);
}

static kp_rc parse_set(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	kp_rc rc = parse_targets(p, st);
	if (rc)
		return rc;
	if (lx->tok.kind == JT_BEND && st->ntargets == 1) {
		st->kind = JS_SETBLOCK;
		if ((rc = end_block(p)))
			return rc;
		char *found = NULL;
		st->body = kp_xcalloc(1, sizeof(*st->body));
		rc = parse_body(p, st->body, (const char *const[]){"endset", NULL}, &found);
		free(found);
		return rc ? rc : end_block(p);
	}
	if (!kp_jtok_op(lx, "="))
		return kp_jlex_error(lx, lx->tok.start, "expected '='");
	rc = kp_jlex_next(lx);
	if (!rc)
		rc = parse_tuple_expr(lx, true, &st->expr);
	return rc ? rc : end_block(p);
}

/* {% filter name(args) %}...{% endfilter %}: the body's text through the
 * filter (a chain `a | b` too). */
static kp_rc parse_filter_block(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	/* parse "x | name(args)" with a placeholder input, then drop it */
	struct jnode *in = kp_jnode_new(JN_CONST, lx->tok.start), *n = in;
	in->val = kp_value_null();
	kp_rc rc = KP_OK;
	bool first = true;
	while (!rc && (first || kp_jtok_op(lx, "|"))) {
		if (!first && (rc = kp_jlex_next(lx)))
			break;
		first = false;
		struct jnode *f = kp_jnode_new(JN_FILTER, lx->tok.start);
		kp_jnode_add(f, n);
		n = f;
		if (lx->tok.kind != JT_NAME) {
			rc = kp_jlex_error(lx, lx->tok.start, "expected a filter name");
			break;
		}
		f->name = kp_xstrdup(lx->tok.name);
		rc = kp_jlex_next(lx);
		if (!rc && kp_jtok_op(lx, "("))
			rc = kp_jparse_call_args(lx, f);
	}
	st->expr = n;
	if (!rc)
		rc = end_block(p);
	if (rc)
		return rc;
	char *found = NULL;
	st->body = kp_xcalloc(1, sizeof(*st->body));
	rc = parse_body(p, st->body, (const char *const[]){"endfilter", NULL}, &found);
	free(found);
	return rc ? rc : end_block(p);
}

/* {% macro name(a, b) %}...{% endmacro %}: name and parameters in targets */
static kp_rc parse_macro(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	kp_rc rc;
	if (lx->tok.kind != JT_NAME)
		return kp_jlex_error(lx, lx->tok.start, "expected a macro name");
	st->targets = kp_xcalloc(1, sizeof(*st->targets));
	st->targets[st->ntargets++] = kp_xstrdup(lx->tok.name);
	if ((rc = kp_jlex_next(lx)))
		return rc;
	if (!kp_jtok_op(lx, "("))
		return kp_jlex_error(lx, lx->tok.start, "expected '('");
	rc = kp_jlex_next(lx);
	while (!rc && !kp_jtok_op(lx, ")")) {
		if (lx->tok.kind != JT_NAME)
			return kp_jlex_error(lx, lx->tok.start, "expected a parameter name");
		st->targets = kp_xrealloc(st->targets, (st->ntargets + 1) * sizeof(*st->targets));
		st->targets[st->ntargets++] = kp_xstrdup(lx->tok.name);
		if ((rc = kp_jlex_next(lx)))
			return rc;
		if (kp_jtok_op(lx, "="))
			return kp_jlex_error(lx, lx->tok.start,
					     "macro parameters with defaults are not supported");
		if (kp_jtok_op(lx, ","))
			rc = kp_jlex_next(lx);
		else if (!kp_jtok_op(lx, ")"))
			return kp_jlex_error(lx, lx->tok.start, "expected ',' or ')'");
	}
	if (!rc)
		rc = kp_jlex_next(lx);
	if (!rc)
		rc = end_block(p);
	if (rc)
		return rc;
	char *found = NULL;
	st->body = kp_xcalloc(1, sizeof(*st->body));
	rc = parse_body(p, st->body, (const char *const[]){"endmacro", NULL}, &found);
	free(found);
	return rc ? rc : end_block(p);
}

/* {% raw %}: the text up to {% endraw %}, as is. */
static kp_rc parse_raw(struct tp *p, struct jbody *b)
{
	struct jlex *lx = &p->lx;
	kp_rc rc = end_block(p);
	if (rc)
		return rc;
	const char *s = lx->s;
	size_t start = lx->i;
	for (size_t k = start; k + 1 < lx->len; k++) {
		if (s[k] != '{' || s[k + 1] != '%')
			continue;
		size_t j = k + 2;
		bool minus = j < lx->len && s[j] == '-';
		j += minus || (j < lx->len && s[j] == '+');
		while (j < lx->len && isspace((unsigned char)s[j]))
			j++;
		if (j + 6 > lx->len || memcmp(s + j, "endraw", 6))
			continue;
		size_t tlen = k - start, tstart = start;
		if (p->strip_next)
			while (tlen && isspace((unsigned char)s[tstart]))
				tstart++, tlen--;
		else if (p->trim_nl && tlen && s[tstart] == '\n')
			tstart++, tlen--;
		if (minus)
			while (tlen && isspace((unsigned char)s[tstart + tlen - 1]))
				tlen--;
		add_text(b, s + tstart, tlen, tstart);
		lx->i = j + 6;
		lx->raw_strings = false;
		lx->depth = 0;
		if ((rc = kp_jlex_next(lx)))
			return rc;
		return end_block(p);
	}
	return kp_jlex_error(lx, start, "missing end of raw directive");
}

static kp_rc parse_body(struct tp *p, struct jbody *b, const char *const *ends, char **found)
{
	struct jlex *lx = &p->lx;
	const char *s = lx->s;
	kp_rc rc = KP_OK;
	if (++p->nest > 100)
		return kp_jlex_error(lx, lx->i, "blocks nested too deeply");
	for (;;) {
		size_t start = lx->i, k = start;
		while (k + 1 < lx->len && !(s[k] == '{' && strchr("{%#", s[k + 1])))
			k++;
		if (k + 1 >= lx->len)
			k = lx->len;
		size_t tstart = start, tlen = k - start;
		if (p->strip_next) {
			while (tlen && isspace((unsigned char)s[tstart]))
				tstart++, tlen--;
		} else if (p->trim_nl && tlen &&
			   (s[tstart] == '\n' ||
			    (s[tstart] == '\r' && tlen > 1 && s[tstart + 1] == '\n'))) {
			size_t n = s[tstart] == '\r' ? 2 : 1;
			tstart += n, tlen -= n;
		}
		p->strip_next = p->trim_nl = false;
		if (k >= lx->len) {
			add_text(b, s + tstart, tlen, tstart);
			lx->i = lx->len;
			if (ends) {
				rc = kp_jlex_error(
				    lx, lx->len, "unexpected end of template, expected '%s'",
				    ends[0][0] == 'e' && ends[1] ? ends[1] : ends[0]);
				for (size_t e = 0; ends[e]; e++)
					if (!strncmp(ends[e], "end", 3))
						rc = KP_ERR_PARSE, kp_buf_reset(lx->err),
						kp_buf_addf(lx->err,
							    "unexpected end of template, expected "
							    "'%s'",
							    ends[e]);
				p->nest--;
				return rc;
			}
			p->nest--;
			return KP_OK;
		}
		char c = s[k + 1];
		size_t j = k + 2;
		bool minus = j < lx->len && s[j] == '-';
		bool plus = j < lx->len && s[j] == '+';
		if (minus) {
			while (tlen && isspace((unsigned char)s[tstart + tlen - 1]))
				tlen--;
		} else if (c != '{' && p->o->lstrip_blocks && !plus) {
			size_t n = tlen;
			while (n && (s[tstart + n - 1] == ' ' || s[tstart + n - 1] == '\t'))
				n--;
			if (n == 0 ? tstart == 0 || s[tstart - 1] == '\n'
				   : s[tstart + n - 1] == '\n')
				tlen = n;
		}
		add_text(b, s + tstart, tlen, tstart);
		if (c == '#') {
			const char *e = NULL;
			for (size_t q = j; q + 1 < lx->len; q++)
				if (s[q] == '#' && s[q + 1] == '}') {
					e = s + q;
					break;
				}
			if (!e) {
				p->nest--;
				return kp_jlex_error(lx, k, "missing end of comment tag");
			}
			p->strip_next = e > s + j && e[-1] == '-';
			p->trim_nl = p->o->trim_blocks;
			lx->i = (size_t)(e - s) + 2;
			continue;
		}
		lx->i = j + (minus || plus);
		lx->depth = 0;
		lx->raw_strings = c == '{';
		if ((rc = kp_jlex_next(lx)))
			break;
		if (c == '{') {
			struct jstmt st = {.kind = JS_OUT, .offset = (int)k};
			if (lx->tok.kind == JT_VEND) {
				rc = kp_jlex_error(lx, lx->tok.start, "expected an expression");
				break;
			}
			rc = kp_jparse_expression(lx, true, &st.expr);
			if (!rc && lx->tok.kind != JT_VEND)
				rc = kp_jtok_op(lx, ",")
					 ? kp_jlex_error(lx, lx->tok.start,
							 "tuples in {{ }} are not supported")
				     : lx->tok.kind == JT_BEND
					 ? kp_jlex_error(lx, lx->tok.start, "unexpected '%%}'")
				     : lx->tok.kind == JT_EOF
					 ? kp_jlex_error(lx, k,
							 "unexpected end of template, "
							 "expected '}}'")
				     : lx->tok.kind == JT_OP
					 ? kp_jlex_error(lx, lx->tok.start,
							 "expected '}}', not '%s'", lx->tok.op)
					 : kp_jlex_error(lx, lx->tok.start, "expected '}}'");
			if (rc) {
				kp_jnode_free(st.expr);
				break;
			}
			p->strip_next = lx->tok.strip;
			add_stmt(b, st);
			continue;
		}
		/* a block tag */
		if (lx->tok.kind != JT_NAME) {
			rc = kp_jlex_error(lx, lx->tok.start, "expected a tag name after '{%%'");
			break;
		}
		p->has_stmts = true;
		const char *name = lx->tok.name;
		if (ends)
			for (size_t e = 0; ends[e]; e++)
				if (!strcmp(name, ends[e])) {
					/* the name lives in the token the lexer is
					 * about to release; the end tag is the
					 * caller's only when the text after it lexes */
					char *tag = kp_xstrdup(name);
					p->nest--;
					kp_rc nrc = kp_jlex_next(lx);
					if (nrc)
						free(tag);
					*found = nrc ? NULL : tag;
					return nrc;
				}
		struct jstmt st = {.offset = (int)k};
		if (!strcmp(name, "raw")) {
			if ((rc = kp_jlex_next(lx)) || (rc = parse_raw(p, b)))
				break;
			continue;
		}
		if (!strcmp(name, "if")) {
			st.kind = JS_IF;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_if(p, &st);
		} else if (!strcmp(name, "for")) {
			st.kind = JS_FOR;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_for(p, &st);
		} else if (!strcmp(name, "set")) {
			st.kind = JS_SET;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_set(p, &st);
		} else if (!strcmp(name, "macro")) {
			st.kind = JS_MACRO;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_macro(p, &st);
		} else if (!strcmp(name, "filter")) {
			st.kind = JS_FILTER;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_filter_block(p, &st);
		} else {
			static const char *const closers[] = {"endif", "endfor", "else",
							      "elif",  "endset", "endraw"};
			bool closer = false;
			for (size_t e = 0; e < KP_ARRAY_LEN(closers); e++)
				closer |= !strcmp(name, closers[e]);
			rc = closer ? kp_jlex_error(lx, lx->tok.start, "unexpected '%s'", name)
				    : kp_jlex_error(lx, lx->tok.start,
						    "encountered unknown tag '%s'", name);
		}
		add_stmt(b, st); /* freed with the body, even half built */
		if (rc)
			break;
	}
	p->nest--;
	return rc;
}

kp_rc kp_jparse_template(const char *src, size_t len, const struct jopts *o, struct jtemplate **out,
			 struct kp_buf *err, size_t *at)
{
	size_t slen = len;
	struct jtemplate *t = kp_xcalloc(1, sizeof(*t));
	/* Jinja's keep_trailing_newline=False: one final line break goes */
	if (len && src[len - 1] == '\n')
		len -= len > 1 && src[len - 2] == '\r' ? 2 : 1;
	struct tp p = {.lx = {.s = src, .len = len, .err = err, .at = at}, .o = o};
	kp_rc rc = parse_body(&p, &t->body, NULL, NULL);
	kp_jtok_release(&p.lx.tok);
	if (rc) {
		kp_jtemplate_free(t);
		return rc;
	}
	t->has_stmts = p.has_stmts;
	if (t->body.n == 1 && t->body.s[0].kind == JS_OUT) {
		t->single = t->body.s[0].expr;
		/* Ansible's SINGLE_VAR: "^{{\s*(\w*)\s*}}$" */
		if (t->single->kind == JN_NAME && len >= 4 && slen - len <= 1 &&
		    !memcmp(src, "{{", 2) && !memcmp(src + len - 2, "}}", 2) && src[2] != '-' &&
		    src[len - 3] != '-')
			t->single_var = kp_xstrdup(t->single->name);
	}
	*out = t;
	return KP_OK;
}
