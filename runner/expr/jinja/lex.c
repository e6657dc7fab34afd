/*
 * lex.c - Jinja's tokens inside {{ }} and {% %}, and the AST's memory.
 *
 * Inside {{ }}, ansible-core doubles every backslash in string literals
 * before Jinja sees them (so playbooks write '\d' once): a backslash there
 * is a literal character and never ends or escapes anything. Inside {% %}
 * strings take Python's escapes.
 */
#include "expr/jinja/jlex.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

kp_rc kp_jlex_error(struct jlex *lx, size_t at, const char *fmt, ...)
{
	va_list ap;
	if (lx->failed)
		return KP_ERR_PARSE;
	lx->failed = true;
	kp_buf_reset(lx->err);
	va_start(ap, fmt);
	kp_buf_vaddf(lx->err, fmt, ap);
	va_end(ap);
	*lx->at = at;
	return KP_ERR_PARSE;
}

static bool name_start(char c)
{
	return c == '_' || isalpha((unsigned char)c);
}

static bool name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

static void add_utf8(struct kp_buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		kp_buf_addch(b, (char)cp);
	} else if (cp < 0x800) {
		kp_buf_addch(b, (char)(0xc0 | (cp >> 6)));
		kp_buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		kp_buf_addch(b, (char)(0xe0 | (cp >> 12)));
		kp_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		kp_buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		kp_buf_addch(b, (char)(0xf0 | (cp >> 18)));
		kp_buf_addch(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		kp_buf_addch(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		kp_buf_addch(b, (char)(0x80 | (cp & 0x3f)));
	}
}

static kp_rc lex_string(struct jlex *lx, struct jtok *t)
{
	const char *s = lx->s;
	char q = s[lx->i++];
	struct kp_buf b = KP_BUF_INIT;
	for (;;) {
		if (lx->i >= lx->len) {
			kp_buf_release(&b);
			/* Jinja's lexer finds no string there: the quote is a
			 * character it does not know */
			return kp_jlex_error(lx, t->start,
					     q == '\'' ? "unexpected char \"'\" at %zu"
						       : "unexpected char '\"' at %zu",
					     t->start);
		}
		char c = s[lx->i++];
		if (c == q)
			break;
		if (c != '\\' || lx->raw_strings) {
			kp_buf_addch(&b, c);
			continue;
		}
		if (lx->i >= lx->len)
			continue;
		c = s[lx->i++];
		switch (c) {
		case 'n':
			kp_buf_addch(&b, '\n');
			break;
		case 't':
			kp_buf_addch(&b, '\t');
			break;
		case 'r':
			kp_buf_addch(&b, '\r');
			break;
		case '0':
			kp_buf_addch(&b, '\0');
			break;
		case '\n':
			break;
		case '\\':
		case '\'':
		case '"':
			kp_buf_addch(&b, c);
			break;
		case 'x':
		case 'u':
		case 'U': {
			size_t n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
			char h[9] = {0};
			if (lx->i + n > lx->len)
				goto bad;
			for (size_t k = 0; k < n; k++) {
				if (!isxdigit((unsigned char)s[lx->i + k]))
					goto bad;
				h[k] = s[lx->i + k];
			}
			lx->i += n;
			add_utf8(&b, strtoul(h, NULL, 16));
			break;
		bad:
			kp_buf_release(&b);
			return kp_jlex_error(lx, t->start, "invalid \\%c escape in string", c);
		}
		default:
			kp_buf_addch(&b, '\\');
			kp_buf_addch(&b, c);
		}
	}
	t->kind = JT_STR;
	size_t n;
	char *str = kp_buf_detach(&b, &n);
	t->val = kp_value_str_take(str, n);
	return KP_OK;
}

/* A number literal: digits (with '_' separators, as Python allows),
 * 0x/0o/0b integers, decimals and exponents. The digits are gathered
 * whole, however many there are: a literal is never cut short. */
static kp_rc lex_number(struct jlex *lx, struct jtok *t)
{
	const char *s = lx->s;
	size_t i = lx->i;
	bool isfloat = false;
	struct kp_buf tmp = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	if (s[i] == '0' && i + 1 < lx->len && strchr("xXoObB", s[i + 1])) {
		int base = strchr("xX", s[i + 1]) ? 16 : strchr("oO", s[i + 1]) ? 8 : 2;
		i += 2;
		while (i < lx->len && (isxdigit((unsigned char)s[i]) || s[i] == '_')) {
			if (s[i] != '_')
				kp_buf_addch(&tmp, s[i]);
			i++;
		}
		char *end = NULL;
		errno = 0;
		long long v = tmp.len ? strtoll(tmp.buf, &end, base) : 0;
		if (!tmp.len || *end || errno) {
			rc = kp_jlex_error(lx, t->start, "invalid number literal");
		} else {
			lx->i = i;
			t->kind = JT_INT;
			t->val = kp_value_int(v);
		}
		kp_buf_release(&tmp);
		return rc;
	}
	while (i < lx->len && (isdigit((unsigned char)s[i]) || s[i] == '_')) {
		if (s[i] != '_')
			kp_buf_addch(&tmp, s[i]);
		i++;
	}
	if (i + 1 < lx->len && s[i] == '.' && isdigit((unsigned char)s[i + 1])) {
		isfloat = true;
		kp_buf_addch(&tmp, s[i++]);
		while (i < lx->len && (isdigit((unsigned char)s[i]) || s[i] == '_')) {
			if (s[i] != '_')
				kp_buf_addch(&tmp, s[i]);
			i++;
		}
	}
	if (i < lx->len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < lx->len && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j < lx->len && isdigit((unsigned char)s[j])) {
			isfloat = true;
			while (i < j)
				kp_buf_addch(&tmp, s[i++]);
			while (i < lx->len && isdigit((unsigned char)s[i]))
				kp_buf_addch(&tmp, s[i++]);
		}
	}
	lx->i = i;
	if (isfloat) {
		t->kind = JT_FLOAT;
		t->val = kp_value_float(strtod(tmp.buf, NULL));
	} else {
		errno = 0;
		long long v = strtoll(tmp.buf, NULL, 10);
		if (errno) {
			rc = kp_jlex_error(lx, t->start, "integer literal '%s' is too large",
					   tmp.buf);
		} else {
			t->kind = JT_INT;
			t->val = kp_value_int(v);
		}
	}
	kp_buf_release(&tmp);
	return rc;
}

void kp_jtok_release(struct jtok *t)
{
	kp_value_unref(t->val);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

kp_rc kp_jlex_next(struct jlex *lx)
{
	struct jtok *t = &lx->tok;
	const char *s = lx->s;
	kp_jtok_release(t);
	size_t end = lx->i;
	while (lx->i < lx->len && isspace((unsigned char)s[lx->i]))
		lx->i++;
	t->start = lx->i;
	if (lx->i >= lx->len) {
		/* Jinja's end of template has the line of the token before it */
		t->start = end;
		t->kind = JT_EOF;
		return KP_OK;
	}
	char c = s[lx->i];
	const char *rest = s + lx->i;
	size_t left = lx->len - lx->i;
	/* block ends, only outside brackets */
	if (!lx->depth) {
		bool minus = c == '-' && left >= 3;
		const char *e = rest + minus;
		if (left >= 2u + minus && e[0] == '}' && e[1] == '}') {
			t->kind = JT_VEND;
			t->strip = minus;
			lx->i += 2 + minus;
			return KP_OK;
		}
		if (left >= 2u + minus && e[0] == '%' && e[1] == '}') {
			t->kind = JT_BEND;
			t->strip = minus;
			lx->i += 2 + minus;
			return KP_OK;
		}
		if (c == '+' && left >= 3 && rest[1] == '%' && rest[2] == '}') {
			t->kind = JT_BEND;
			lx->i += 3;
			return KP_OK;
		}
	}
	if (name_start(c)) {
		size_t j = lx->i;
		while (j < lx->len && name_char(s[j]))
			j++;
		t->kind = JT_NAME;
		t->name = kp_xstrndup(s + lx->i, j - lx->i);
		lx->i = j;
		return KP_OK;
	}
	if (c == '\'' || c == '"')
		return lex_string(lx, t);
	if (isdigit((unsigned char)c))
		return lex_number(lx, t);
	static const char *const ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
					  "/",	"%",  "~",  "<",  ">",	"(",  ")", "[", "]",
					  "{",	"}",  ".",  ",",  ":",	"|",  "="};
	for (size_t k = 0; k < KP_ARRAY_LEN(ops); k++) {
		size_t n = strlen(ops[k]);
		if (left >= n && !memcmp(rest, ops[k], n)) {
			t->kind = JT_OP;
			memcpy(t->op, ops[k], n);
			t->op[n] = 0;
			lx->i += n;
			if (n == 1 && strchr("([{", c)) {
				if (lx->depth >= (int)sizeof(lx->open))
					return kp_jlex_error(lx, t->start,
							     "expression nested too deeply");
				lx->open[lx->depth++] = c;
			} else if (n == 1 && strchr(")]}", c)) {
				/* Jinja's lexer balances brackets itself */
				char want = 0;
				if (lx->depth > 0)
					want = lx->open[lx->depth - 1] == '('	? ')'
					       : lx->open[lx->depth - 1] == '[' ? ']'
										: '}';
				if (!want)
					return kp_jlex_error(lx, t->start, "unexpected '%c'", c);
				if (want != c)
					return kp_jlex_error(lx, t->start,
							     "unexpected '%c', expected '%c'", c,
							     want);
				lx->depth--;
			}
			return KP_OK;
		}
	}
	return kp_jlex_error(lx, t->start, "unexpected char '%c' at %zu", c, t->start);
}

void kp_jsrc_linecol(const char *src, size_t len, size_t at, int *line, int *col)
{
	size_t bol = at < len ? at : len;
	while (bol && src[bol - 1] != '\n')
		bol--;
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < bol; i++)
		*line += src[i] == '\n';
	for (size_t i = bol; i < at && i < len; i++)
		*col += ((unsigned char)src[i] & 0xc0) != 0x80; /* characters, not bytes */
}

kp_rc kp_jsyntax_error(struct kp_jctx *cx, const char *name, const char *src, size_t len, size_t at,
		       const char *msg)
{
	int line, col, mlen = (int)strlen(msg);
	kp_jsrc_linecol(src, len, at, &line, &col);
	if (mlen && msg[mlen - 1] == '.')
		mlen--;
	return kp_jinja_err(cx, KP_ERR_PARSE, "template '%s': %.*s (line %d, column %d)", name,
			    mlen, msg, line, col);
}

const char *kp_jtok_describe(const struct jlex *lx)
{
	switch (lx->tok.kind) {
	case JT_EOF:
		/* a bare expression is Ansible's "{% if EXPR %}" */
		return lx->bare ? "end of statement block" : "end of template";
	case JT_NAME:
		return lx->tok.name;
	case JT_INT:
		return "integer";
	case JT_FLOAT:
		return "float";
	case JT_STR:
		return "string";
	case JT_OP:
		return lx->tok.op;
	case JT_VEND:
		return "end of print statement";
	case JT_BEND:
		return "end of statement block";
	}
	return "?";
}

bool kp_jtok_op(const struct jlex *lx, const char *op)
{
	return lx->tok.kind == JT_OP && !strcmp(lx->tok.op, op);
}

bool kp_jtok_name(const struct jlex *lx, const char *name)
{
	return lx->tok.kind == JT_NAME && !strcmp(lx->tok.name, name);
}

/* Is the next non-blank character after the current token a single '='
 * (a keyword argument)? */
bool kp_jlex_peek_assign(const struct jlex *lx)
{
	size_t i = lx->i;
	while (i < lx->len && isspace((unsigned char)lx->s[i]))
		i++;
	return i < lx->len && lx->s[i] == '=' && !(i + 1 < lx->len && lx->s[i + 1] == '=');
}

/* AST memory */

struct jnode *kp_jnode_new(enum jn_kind kind, size_t offset)
{
	struct jnode *n = kp_xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->offset = (int)offset;
	return n;
}

void kp_jnode_add(struct jnode *n, struct jnode *kid)
{
	n->kids = kp_xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
	n->kids[n->nkids++] = kid;
}

void kp_jnode_free(struct jnode *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		kp_jnode_free(n->kids[i]);
	for (size_t i = 0; i < n->nkw; i++)
		free(n->kw[i]);
	free(n->kw);
	free(n->kids);
	free(n->ops);
	free(n->name);
	kp_value_unref(n->val);
	free(n);
}

static void body_release(struct jbody *b);

static void stmt_release(struct jstmt *s)
{
	free(s->text);
	kp_jnode_free(s->expr);
	kp_jnode_free(s->filter);
	for (size_t i = 0; i < s->nconds; i++) {
		kp_jnode_free(s->conds[i]);
		body_release(&s->bodies[i]);
	}
	free(s->conds);
	free(s->bodies);
	for (size_t i = 0; i < s->ntargets; i++) {
		if (s->defaults)
			kp_jnode_free(s->defaults[i]);
		free(s->targets[i]);
	}
	free(s->defaults);
	free(s->targets);
	if (s->body) {
		body_release(s->body);
		free(s->body);
	}
	if (s->else_body) {
		body_release(s->else_body);
		free(s->else_body);
	}
}

static void body_release(struct jbody *b)
{
	for (size_t i = 0; i < b->n; i++)
		stmt_release(&b->s[i]);
	free(b->s);
	b->s = NULL;
	b->n = 0;
}

void kp_jtemplate_free(struct jtemplate *t)
{
	if (!t)
		return;
	body_release(&t->body);
	free(t->single_var);
	free(t);
}
