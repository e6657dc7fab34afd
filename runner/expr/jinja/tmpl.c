/*
 * tmpl.c - parsing a template: text, {{ expr }}, {% if/for/set/macro/call/
 * filter/with/include/raw %} and {# comments #}, with Jinja's whitespace
 * control ({%- -%}, {{- -}}) and the trim_blocks / lstrip_blocks options.
 * A syntax error is Jinja's own message ("Encountered unknown tag 'x'.",
 * "expected token 'end of print statement', got 'y'") at the offset of
 * the token Jinja names, so that the line is Jinja's.
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
	/* Jinja's parser state for its messages: the tags being parsed and
	 * the end tags each open body waits for, innermost last */
	const char *tags[128];
	int ntags;
	const char *const *ends[128];
	int nends;
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
		/* Jinja's lexer sees "}}" inside a tag as an unbalanced '}' */
		if (p->lx.tok.kind == JT_VEND)
			return kp_jlex_error(&p->lx, p->lx.tok.start, "unexpected '}'");
		return kp_jparse_expected(&p->lx, "end of statement block");
	}
	p->strip_next = p->lx.tok.strip;
	p->trim_nl = p->o->trim_blocks;
	return KP_OK;
}

/* Jinja's message for an unknown tag (name) or the end of the template
 * (name NULL) inside the open blocks. */
static kp_rc fail_unknown_tag(struct tp *p, const char *name, size_t at)
{
	struct kp_buf m = KP_BUF_INIT;
	if (name)
		kp_buf_addf(&m, "Encountered unknown tag '%s'.", name);
	else
		kp_buf_addstr(&m, "Unexpected end of template.");
	if (p->nends) {
		bool expected = false;
		for (int k = 0; k < p->nends && name; k++)
			for (size_t e = 0; p->ends[k][e]; e++)
				expected |= !strcmp(p->ends[k][e], name);
		kp_buf_addstr(&m, expected ? " You probably made a nesting mistake. Jinja is "
					     "expecting this tag, but currently looking for "
					   : " Jinja was looking for the following tags: ");
		const char *const *top = p->ends[p->nends - 1];
		for (size_t e = 0; top[e]; e++)
			kp_buf_addf(&m, "%s'%s'", e ? " or " : "", top[e]);
		kp_buf_addch(&m, '.');
	}
	if (p->ntags)
		kp_buf_addf(&m, " The innermost block that needs to be closed is '%s'.",
			    p->tags[p->ntags - 1]);
	kp_rc rc = kp_jlex_error(&p->lx, at, "%s", m.buf);
	kp_buf_release(&m);
	return rc;
}

static kp_rc parse_body(struct tp *p, struct jbody *b, const char *const *ends, char **found);
static kp_rc parse_filter_chain(struct jlex *lx, struct jnode **out);

/* ", name" in a list of names (parameters, with's assignments): a new
 * slot in targets and defaults, after the first `first` ones. */
static kp_rc add_name(struct jlex *lx, struct jstmt *st, size_t first)
{
	kp_rc rc;
	if (st->ntargets > first &&
	    (rc = kp_jtok_op(lx, ",") ? kp_jlex_next(lx) : kp_jparse_expected(lx, ",")))
		return rc;
	if (lx->tok.kind != JT_NAME)
		return kp_jparse_expected(lx, "name");
	st->targets = kp_xrealloc(st->targets, (st->ntargets + 1) * sizeof(*st->targets));
	st->defaults = kp_xrealloc(st->defaults, (st->ntargets + 1) * sizeof(*st->defaults));
	st->defaults[st->ntargets] = NULL;
	st->targets[st->ntargets++] = kp_xstrdup(lx->tok.name);
	return KP_OK;
}

/* The body of a block statement up to its end tag (ends: Jinja's list of
 * what may end it, the only one here), and the "%}" after that. */
static kp_rc block_body(struct tp *p, struct jstmt *st, const char *const *ends)
{
	char *found = NULL;
	st->body = kp_xcalloc(1, sizeof(*st->body));
	kp_rc rc = parse_body(p, st->body, ends, &found);
	free(found);
	return rc ? rc : end_block(p);
}

static kp_rc parse_targets(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	bool paren = kp_jtok_op(lx, "(");
	kp_rc rc = paren ? kp_jlex_next(lx) : KP_OK;
	while (!rc) {
		if (lx->tok.kind != JT_NAME)
			return kp_jparse_expected(lx, "name");
		st->targets = kp_xrealloc(st->targets, (st->ntargets + 1) * sizeof(*st->targets));
		st->targets[st->ntargets++] = kp_xstrdup(lx->tok.name);
		rc = kp_jlex_next(lx);
		if (!rc && st->kind == JS_SET && kp_jtok_op(lx, ".")) {
			/* {% set ns.attr = v %}: "ns.attr" */
			if ((rc = kp_jlex_next(lx)))
				break;
			if (lx->tok.kind != JT_NAME)
				return kp_jparse_expected(lx, "name");
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
			return kp_jparse_expected(lx, ")");
		rc = kp_jlex_next(lx);
	}
	return rc;
}

/* Where Jinja parses a tuple (the value of {{ }}, set, if, for): nothing
 * there is its "Expected an expression" */
static kp_rc stmt_expression(struct jlex *lx, bool with_cond, struct jnode **out)
{
	if (lx->tok.kind == JT_VEND || lx->tok.kind == JT_BEND || kp_jtok_op(lx, ")"))
		return kp_jlex_error(lx, lx->tok.start, "Expected an expression, got '%s'",
				     kp_jtok_describe(lx));
	return kp_jparse_expression(lx, with_cond, out);
}

/* "a, b" (a tuple without parentheses) or one expression */
static kp_rc parse_tuple_expr(struct jlex *lx, bool with_cond, struct jnode **out)
{
	struct jnode *first = NULL;
	kp_rc rc = stmt_expression(lx, with_cond, &first);
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
	static const char *const else_ends[] = {"endif", NULL};
	struct jlex *lx = &p->lx;
	bool is_else = false;
	for (;;) {
		struct jnode *c = NULL;
		kp_rc rc = is_else ? KP_OK : stmt_expression(lx, true, &c);
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
		rc = parse_body(p, &st->bodies[st->nconds - 1], is_else ? else_ends : ends, &found);
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
	static const char *const ends[] = {"endfor", "else", NULL};
	static const char *const endfor[] = {"endfor", NULL};
	struct jlex *lx = &p->lx;
	kp_rc rc = parse_targets(p, st);
	if (rc)
		return rc;
	if (!kp_jtok_name(lx, "in"))
		return kp_jparse_expected(lx, "in");
	rc = kp_jlex_next(lx);
	if (!rc)
		rc = parse_tuple_expr(lx, false, &st->expr);
	if (!rc && kp_jtok_name(lx, "if")) {
		rc = kp_jlex_next(lx);
		if (!rc)
			rc = kp_jparse_expression(lx, true, &st->filter);
	}
	if (!rc && kp_jtok_name(lx, "recursive")) {
		st->recursive = true;
		rc = kp_jlex_next(lx);
	}
	if (!rc)
		rc = end_block(p);
	if (rc)
		return rc;
	char *found = NULL;
	st->body = kp_xcalloc(1, sizeof(*st->body));
	rc = parse_body(p, st->body, ends, &found);
	if (rc)
		return rc;
	bool has_else = !strcmp(found, "else");
	free(found);
	found = NULL;
	if ((rc = end_block(p)) || !has_else)
		return rc;
	st->else_body = kp_xcalloc(1, sizeof(*st->else_body));
	rc = parse_body(p, st->else_body, endfor, &found);
	free(found);
	return rc ? rc : end_block(p);
}

static kp_rc parse_set(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	kp_rc rc = parse_targets(p, st);
	if (rc)
		return rc;
	if ((lx->tok.kind == JT_BEND || kp_jtok_op(lx, "|")) && st->ntargets == 1) {
		/* {% set v %}...{% endset %}, or {% set v | filter %} */
		st->kind = JS_SETBLOCK;
		if (kp_jtok_op(lx, "|") &&
		    ((rc = kp_jlex_next(lx)) || (rc = parse_filter_chain(lx, &st->expr))))
			return rc;
		if ((rc = end_block(p)))
			return rc;
		char *found = NULL;
		st->body = kp_xcalloc(1, sizeof(*st->body));
		static const char *const endset[] = {"endset", NULL};
		rc = parse_body(p, st->body, endset, &found);
		free(found);
		return rc ? rc : end_block(p);
	}
	if (!kp_jtok_op(lx, "="))
		return kp_jparse_expected(lx, "end of statement block");
	rc = kp_jlex_next(lx);
	if (!rc)
		rc = parse_tuple_expr(lx, true, &st->expr);
	return rc ? rc : end_block(p);
}

/* "name(args) | name(args)...": a chain of filters whose innermost input
 * is a placeholder (the text of a block, put in when it renders). */
static kp_rc parse_filter_chain(struct jlex *lx, struct jnode **out)
{
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
			rc = kp_jparse_expected(lx, "name");
			break;
		}
		f->name = kp_xstrdup(lx->tok.name);
		rc = kp_jlex_next(lx);
		if (!rc && kp_jtok_op(lx, "("))
			rc = kp_jparse_call_args(lx, f);
	}
	*out = n;
	return rc;
}

/* {% filter name(args) %}...{% endfilter %}: the body's text through the
 * filter (a chain `a | b` too). */
static kp_rc parse_filter_block(struct tp *p, struct jstmt *st)
{
	kp_rc rc = parse_filter_chain(&p->lx, &st->expr);
	if (!rc)
		rc = end_block(p);
	if (rc)
		return rc;
	static const char *const endfilter[] = {"endfilter", NULL};
	return block_body(p, st, endfilter);
}

/* {% with a = 1, b = x %}...{% endwith %}: names in targets, values in
 * defaults */
static kp_rc parse_with(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	kp_rc rc = KP_OK;
	while (!rc && lx->tok.kind != JT_BEND) {
		if ((rc = add_name(lx, st, 0)) || (rc = kp_jlex_next(lx)))
			return rc;
		if (!kp_jtok_op(lx, "="))
			return kp_jparse_expected(lx, "=");
		if ((rc = kp_jlex_next(lx)))
			return rc;
		rc = kp_jparse_expression(lx, true, &st->defaults[st->ntargets - 1]);
	}
	if (rc || (rc = end_block(p)))
		return rc;
	static const char *const endwith[] = {"endwith", NULL};
	return block_body(p, st, endwith);
}

/* "(a, b=default)": parameters into targets after targets[0], their
 * defaults beside them. */
static kp_rc parse_params(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	if (!kp_jtok_op(lx, "("))
		return kp_jparse_expected(lx, "(");
	kp_rc rc = kp_jlex_next(lx);
	while (!rc && !kp_jtok_op(lx, ")")) {
		size_t at = lx->tok.start;
		if ((rc = add_name(lx, st, 1)))
			return rc;
		if ((rc = kp_jlex_next(lx)))
			return rc;
		if (kp_jtok_op(lx, "=")) {
			if ((rc = kp_jlex_next(lx)) ||
			    (rc = kp_jparse_expression(lx, true, &st->defaults[st->ntargets - 1])))
				return rc;
		} else if (st->ntargets > 2 && st->defaults[st->ntargets - 2]) {
			return kp_jlex_error(lx, at,
					     "non-default argument follows default argument");
		}
	}
	return rc ? rc : kp_jlex_next(lx);
}

/* {% macro name(a, b=1) %}...{% endmacro %}: name and parameters in targets */
static kp_rc parse_macro(struct tp *p, struct jstmt *st)
{
	static const char *const endmacro[] = {"endmacro", NULL};
	struct jlex *lx = &p->lx;
	kp_rc rc;
	if (lx->tok.kind != JT_NAME)
		return kp_jparse_expected(lx, "name");
	st->targets = kp_xcalloc(1, sizeof(*st->targets));
	st->defaults = kp_xcalloc(1, sizeof(*st->defaults));
	st->targets[st->ntargets++] = kp_xstrdup(lx->tok.name);
	if ((rc = kp_jlex_next(lx)) || (rc = parse_params(p, st)) || (rc = end_block(p)))
		return rc;
	return block_body(p, st, endmacro);
}

/* {% call(a) name(args) %}...{% endcall %}: the macro call in expr, the
 * body a macro named "caller" */
static kp_rc parse_call(struct tp *p, struct jstmt *st)
{
	static const char *const endcall[] = {"endcall", NULL};
	struct jlex *lx = &p->lx;
	st->targets = kp_xcalloc(1, sizeof(*st->targets));
	st->defaults = kp_xcalloc(1, sizeof(*st->defaults));
	st->targets[st->ntargets++] = kp_xstrdup("caller");
	kp_rc rc = kp_jtok_op(lx, "(") ? parse_params(p, st) : KP_OK;
	if (!rc)
		rc = kp_jparse_expression(lx, true, &st->expr);
	if (!rc && st->expr->kind != JN_CALL)
		rc = kp_jlex_error(lx, (size_t)st->expr->offset, "expected call");
	if (rc || (rc = end_block(p)))
		return rc;
	return block_body(p, st, endcall);
}

/* {% include name [ignore missing] [with context|without context] %} */
static kp_rc parse_include(struct tp *p, struct jstmt *st)
{
	struct jlex *lx = &p->lx;
	kp_rc rc = kp_jparse_expression(lx, true, &st->expr);
	if (!rc && kp_jtok_name(lx, "ignore")) {
		if ((rc = kp_jlex_next(lx)))
			return rc;
		if (!kp_jtok_name(lx, "missing"))
			return kp_jparse_expected(lx, "missing");
		st->ignore_missing = true;
		rc = kp_jlex_next(lx);
	}
	if (!rc && (kp_jtok_name(lx, "with") || kp_jtok_name(lx, "without"))) {
		st->no_context = kp_jtok_name(lx, "without");
		if ((rc = kp_jlex_next(lx)))
			return rc;
		if (!kp_jtok_name(lx, "context"))
			return kp_jparse_expected(lx, "context");
		rc = kp_jlex_next(lx);
	}
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
	return kp_jlex_error(lx, start, "Missing end of raw directive");
}

static kp_rc parse_body_in(struct tp *p, struct jbody *b, const char *const *ends, char **found)
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
			p->nest--;
			/* Jinja's line: where its last token starts, the text or
			 * the end of the last tag */
			return ends ? fail_unknown_tag(p, NULL,
						       tlen    ? tstart
						       : start ? start - 1
							       : 0)
				    : KP_OK;
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
				return kp_jlex_error(lx, k, "Missing end of comment tag");
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
				rc = kp_jlex_error(
				    lx, lx->tok.start,
				    "Expected an expression, got 'end of print statement'");
				break;
			}
			rc = kp_jparse_expression(lx, true, &st.expr);
			if (!rc && lx->tok.kind != JT_VEND)
				rc = kp_jtok_op(lx, ",")
					 ? kp_jlex_error(lx, lx->tok.start,
							 "tuples in {{ }} are not supported")
				     /* "%}" lexes as '%' and an unbalanced '}' in Jinja */
				     : lx->tok.kind == JT_BEND
					 ? kp_jlex_error(lx, lx->tok.start + 1, "unexpected '}'")
					 : kp_jparse_expected(lx, "end of print statement");
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
			rc = kp_jlex_error(lx, lx->tok.start, "tag name expected");
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
		if (p->ntags >= (int)KP_ARRAY_LEN(p->tags)) {
			rc = kp_jlex_error(lx, lx->tok.start, "blocks nested too deeply");
			break;
		}
		static const char *const known[] = {"if",   "for",    "set",  "macro",
						    "with", "filter", "call", "include"};
		p->tags[p->ntags] = name;
		for (size_t e = 0; e < KP_ARRAY_LEN(known); e++)
			if (!strcmp(name, known[e]))
				p->tags[p->ntags] = known[e]; /* outlives the token */
		p->ntags++;
		if (!strcmp(name, "raw")) {
			p->ntags--;
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
		} else if (!strcmp(name, "call")) {
			st.kind = JS_CALL;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_call(p, &st);
		} else if (!strcmp(name, "with")) {
			st.kind = JS_WITH;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_with(p, &st);
		} else if (!strcmp(name, "include")) {
			st.kind = JS_INCLUDE;
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_include(p, &st);
		} else {
			p->ntags--; /* not a tag: Jinja's message names the enclosing one */
			rc = fail_unknown_tag(p, name, lx->tok.start);
			p->ntags++;
		}
		p->ntags--;
		add_stmt(b, st); /* freed with the body, even half built */
		if (rc)
			break;
	}
	p->nest--;
	return rc;
}

static kp_rc parse_body(struct tp *p, struct jbody *b, const char *const *ends, char **found)
{
	if (ends && p->nends >= (int)KP_ARRAY_LEN(p->ends))
		return kp_jlex_error(&p->lx, p->lx.i, "blocks nested too deeply");
	if (ends)
		p->ends[p->nends++] = ends;
	kp_rc rc = parse_body_in(p, b, ends, found);
	if (ends)
		p->nends--;
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
