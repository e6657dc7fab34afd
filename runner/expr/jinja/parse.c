/*
 * parse.c - Jinja expressions into an AST, with Jinja's precedence:
 * conditional, or, and, not, comparisons (in, not in), + -, ~, * / // %,
 * **, unary - +, primaries with .attr [item] [a:b:c] (call), filters and
 * tests.
 */
#include "expr/jinja/jlex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NEST 100

static kp_rc parse_cond(struct jlex *lx, struct jnode **out);
static kp_rc parse_or(struct jlex *lx, struct jnode **out);
static kp_rc parse_unary(struct jlex *lx, bool with_filter, struct jnode **out);

/* Jinja's TokenStream.expect(): its two messages */
static kp_rc expected(struct jlex *lx, const char *what)
{
	if (lx->tok.kind == JT_EOF)
		return kp_jlex_error(lx, lx->tok.start,
				     "unexpected end of template, expected '%s'.", what);
	return kp_jlex_error(lx, lx->tok.start, "expected token '%s', got '%s'", what,
			     kp_jtok_describe(lx));
}

static kp_rc expect_op(struct jlex *lx, const char *op)
{
	if (!kp_jtok_op(lx, op))
		return expected(lx, op);
	return kp_jlex_next(lx);
}

kp_rc kp_jparse_expected(struct jlex *lx, const char *what)
{
	return expected(lx, what);
}

static kp_rc unexpected(struct jlex *lx)
{
	return kp_jlex_error(lx, lx->tok.start, "unexpected '%s'", kp_jtok_describe(lx));
}

/* A dotted name: "version", "ansible.builtin.to_json". */
static kp_rc dotted_name(struct jlex *lx, char **out)
{
	if (lx->tok.kind != JT_NAME)
		return expected(lx, "name");
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, lx->tok.name);
	kp_rc rc = kp_jlex_next(lx);
	while (!rc && kp_jtok_op(lx, ".")) {
		rc = kp_jlex_next(lx);
		if (rc)
			break;
		if (lx->tok.kind != JT_NAME) {
			rc = expected(lx, "name");
			break;
		}
		kp_buf_addf(&b, ".%s", lx->tok.name);
		rc = kp_jlex_next(lx);
	}
	if (rc) {
		kp_buf_release(&b);
		return rc;
	}
	*out = kp_buf_detach(&b, NULL);
	return KP_OK;
}

/* "(args)" after a call, filter or test: positional first, then name=v. */
static kp_rc parse_args(struct jlex *lx, struct jnode *n)
{
	kp_rc rc = expect_op(lx, "(");
	while (!rc && !kp_jtok_op(lx, ")")) {
		if (lx->tok.kind == JT_NAME && kp_jlex_peek_assign(lx)) {
			char *k = kp_xstrdup(lx->tok.name);
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = kp_jlex_next(lx); /* '=' */
			struct jnode *v = NULL;
			if (!rc)
				rc = kp_jparse_expression(lx, true, &v);
			if (rc) {
				free(k);
				return rc;
			}
			kp_jnode_add(n, v);
			n->kw = kp_xrealloc(n->kw, (n->nkw + 1) * sizeof(*n->kw));
			n->kw[n->nkw++] = k;
		} else {
			if (n->nkw)
				return kp_jlex_error(
				    lx, lx->tok.start,
				    "positional argument follows keyword argument");
			struct jnode *v = NULL;
			rc = kp_jparse_expression(lx, true, &v);
			if (rc)
				return rc;
			kp_jnode_add(n, v);
		}
		if (kp_jtok_op(lx, ","))
			rc = kp_jlex_next(lx);
		else if (!kp_jtok_op(lx, ")"))
			return expected(lx, ",");
	}
	return rc ? rc : expect_op(lx, ")");
}

kp_rc kp_jparse_call_args(struct jlex *lx, struct jnode *n)
{
	return parse_args(lx, n);
}

/* [a], [a:b], [a:b:c], [:] */
static kp_rc parse_subscript(struct jlex *lx, struct jnode *target, struct jnode **out)
{
	size_t at = lx->tok.start;
	kp_rc rc = kp_jlex_next(lx); /* '[' */
	struct jnode *parts[3] = {NULL, NULL, NULL};
	int np = 0;
	bool slice = false;
	while (!rc) {
		if (!kp_jtok_op(lx, ":") && !kp_jtok_op(lx, "]")) {
			rc = kp_jparse_expression(lx, true, &parts[np]);
			if (rc)
				break;
		}
		if (kp_jtok_op(lx, ":") && np < 2) {
			slice = true;
			np++;
			rc = kp_jlex_next(lx);
			continue;
		}
		rc = expect_op(lx, "]");
		break;
	}
	if (!rc && !slice && !parts[0])
		rc = kp_jlex_error(lx, at, "expected an index");
	if (rc) {
		for (int i = 0; i < 3; i++)
			kp_jnode_free(parts[i]);
		kp_jnode_free(target);
		return rc;
	}
	struct jnode *n = kp_jnode_new(slice ? JN_SLICE : JN_ITEM, at);
	kp_jnode_add(n, target);
	kp_jnode_add(n, parts[0]);
	if (slice) {
		kp_jnode_add(n, parts[1]);
		kp_jnode_add(n, parts[2]);
	}
	*out = n;
	return KP_OK;
}

static kp_rc parse_seq(struct jlex *lx, enum jn_kind kind, const char *close, struct jnode **out)
{
	struct jnode *n = kp_jnode_new(kind, lx->tok.start);
	kp_rc rc = kp_jlex_next(lx);
	while (!rc && !kp_jtok_op(lx, close)) {
		struct jnode *k = NULL;
		rc = kp_jparse_expression(lx, true, &k);
		if (rc)
			break;
		kp_jnode_add(n, k);
		if (kind == JN_DICT) {
			rc = expect_op(lx, ":");
			if (!rc)
				rc = kp_jparse_expression(lx, true, &k);
			if (rc)
				break;
			kp_jnode_add(n, k);
		}
		if (kp_jtok_op(lx, ","))
			rc = kp_jlex_next(lx);
		else if (!kp_jtok_op(lx, close))
			rc = expected(lx, ",");
	}
	if (!rc)
		rc = expect_op(lx, close);
	if (rc) {
		kp_jnode_free(n);
		return rc;
	}
	*out = n;
	return KP_OK;
}

static kp_rc parse_primary(struct jlex *lx, struct jnode **out)
{
	struct jtok *t = &lx->tok;
	struct jnode *n;
	if (t->kind == JT_NAME) {
		static const struct {
			const char *w;
			int v;
		} lits[] = {{"true", 1},  {"True", 1}, {"false", 0},
			    {"False", 0}, {"none", 2}, {"None", 2}};
		n = kp_jnode_new(JN_CONST, t->start);
		for (size_t i = 0; i < KP_ARRAY_LEN(lits); i++)
			if (!strcmp(t->name, lits[i].w))
				n->val =
				    lits[i].v == 2 ? kp_value_null() : kp_value_bool(lits[i].v);
		if (!n->val) {
			n->kind = JN_NAME;
			n->name = kp_xstrdup(t->name);
		}
		*out = n;
		return kp_jlex_next(lx);
	}
	if (t->kind == JT_STR) {
		n = kp_jnode_new(JN_CONST, t->start);
		struct kp_buf b = KP_BUF_INIT;
		while (lx->tok.kind == JT_STR) {
			kp_buf_add(&b, lx->tok.val->u.str.s, lx->tok.val->u.str.len);
			kp_rc rc = kp_jlex_next(lx);
			if (rc) {
				kp_buf_release(&b);
				kp_jnode_free(n);
				return rc;
			}
		}
		size_t len;
		char *s = kp_buf_detach(&b, &len);
		n->val = kp_value_str_take(s, len);
		*out = n;
		return KP_OK;
	}
	if (t->kind == JT_INT || t->kind == JT_FLOAT) {
		n = kp_jnode_new(JN_CONST, t->start);
		n->val = kp_value_ref(t->val);
		*out = n;
		return kp_jlex_next(lx);
	}
	if (kp_jtok_op(lx, "(")) {
		size_t at = t->start;
		kp_rc rc = kp_jlex_next(lx);
		if (rc)
			return rc;
		if (kp_jtok_op(lx, ")")) {
			*out = kp_jnode_new(JN_TUPLE, at);
			return kp_jlex_next(lx);
		}
		struct jnode *first = NULL;
		rc = kp_jparse_expression(lx, true, &first);
		if (rc)
			return rc;
		if (!kp_jtok_op(lx, ",")) {
			rc = expect_op(lx, ")");
			if (rc) {
				kp_jnode_free(first);
				return rc;
			}
			*out = first;
			return KP_OK;
		}
		n = kp_jnode_new(JN_TUPLE, at);
		kp_jnode_add(n, first);
		while (!rc && kp_jtok_op(lx, ",")) {
			rc = kp_jlex_next(lx);
			if (rc || kp_jtok_op(lx, ")"))
				break;
			struct jnode *k = NULL;
			rc = kp_jparse_expression(lx, true, &k);
			if (!rc)
				kp_jnode_add(n, k);
		}
		if (!rc)
			rc = expect_op(lx, ")");
		if (rc) {
			kp_jnode_free(n);
			return rc;
		}
		*out = n;
		return KP_OK;
	}
	if (kp_jtok_op(lx, "["))
		return parse_seq(lx, JN_LIST, "]", out);
	if (kp_jtok_op(lx, "{"))
		return parse_seq(lx, JN_DICT, "}", out);
	return unexpected(lx);
}

static kp_rc parse_postfix(struct jlex *lx, struct jnode **node)
{
	kp_rc rc = KP_OK;
	for (;;) {
		if (kp_jtok_op(lx, ".")) {
			size_t at = lx->tok.start;
			rc = kp_jlex_next(lx);
			if (rc)
				return rc;
			struct jnode *n;
			if (lx->tok.kind == JT_NAME) {
				n = kp_jnode_new(JN_ATTR, at);
				n->name = kp_xstrdup(lx->tok.name);
			} else if (lx->tok.kind == JT_INT) {
				n = kp_jnode_new(JN_ITEM, at);
				struct jnode *k = kp_jnode_new(JN_CONST, at);
				k->val = kp_value_ref(lx->tok.val);
				kp_jnode_add(n, *node);
				kp_jnode_add(n, k);
				*node = n;
				rc = kp_jlex_next(lx);
				if (rc)
					return rc;
				continue;
			} else {
				return kp_jlex_error(lx, lx->tok.start, "expected name or number");
			}
			kp_jnode_add(n, *node);
			*node = n;
			rc = kp_jlex_next(lx);
		} else if (kp_jtok_op(lx, "[")) {
			rc = parse_subscript(lx, *node, node);
			if (rc) {
				*node = NULL;
				return rc;
			}
		} else if (kp_jtok_op(lx, "(")) {
			struct jnode *n = kp_jnode_new(JN_CALL, lx->tok.start);
			kp_jnode_add(n, *node);
			*node = n;
			rc = parse_args(lx, n);
		} else {
			return KP_OK;
		}
		if (rc)
			return rc;
	}
}

static bool starts_arg(const struct jlex *lx)
{
	const struct jtok *t = &lx->tok;
	if (t->kind == JT_STR || t->kind == JT_INT || t->kind == JT_FLOAT)
		return true;
	if (t->kind == JT_OP)
		return !strcmp(t->op, "[") || !strcmp(t->op, "{");
	if (t->kind == JT_NAME)
		return strcmp(t->name, "else") && strcmp(t->name, "or") && strcmp(t->name, "and") &&
		       strcmp(t->name, "is") && strcmp(t->name, "if") && strcmp(t->name, "in") &&
		       strcmp(t->name, "not");
	return false;
}

static kp_rc parse_filter_expr(struct jlex *lx, struct jnode **node)
{
	kp_rc rc = KP_OK;
	for (;;) {
		if (kp_jtok_op(lx, "|")) {
			struct jnode *n = kp_jnode_new(JN_FILTER, lx->tok.start);
			kp_jnode_add(n, *node);
			*node = n;
			rc = kp_jlex_next(lx);
			if (!rc) {
				n->offset = (int)lx->tok.start;
				rc = dotted_name(lx, &n->name);
			}
			if (!rc && kp_jtok_op(lx, "("))
				rc = parse_args(lx, n);
		} else if (kp_jtok_name(lx, "is")) {
			struct jnode *n = kp_jnode_new(JN_TEST, lx->tok.start);
			kp_jnode_add(n, *node);
			*node = n;
			rc = kp_jlex_next(lx);
			if (!rc && kp_jtok_name(lx, "not")) {
				n->op = 1;
				rc = kp_jlex_next(lx);
			}
			if (!rc) {
				n->offset = (int)lx->tok.start;
				rc = dotted_name(lx, &n->name);
			}
			if (!rc && kp_jtok_op(lx, "(")) {
				rc = parse_args(lx, n);
			} else if (!rc && starts_arg(lx)) {
				struct jnode *a = NULL;
				rc = parse_primary(lx, &a);
				if (!rc)
					rc = parse_postfix(lx, &a);
				if (a)
					kp_jnode_add(n, a);
			}
		} else if (kp_jtok_op(lx, "(")) {
			struct jnode *n = kp_jnode_new(JN_CALL, lx->tok.start);
			kp_jnode_add(n, *node);
			*node = n;
			rc = parse_args(lx, n);
		} else {
			return KP_OK;
		}
		if (rc)
			return rc;
	}
}

static kp_rc parse_unary(struct jlex *lx, bool with_filter, struct jnode **out)
{
	kp_rc rc;
	struct jnode *n = NULL;
	if (++lx->nest > MAX_NEST) {
		return kp_jlex_error(lx, lx->tok.start, "expression nested too deeply");
	}
	if (kp_jtok_op(lx, "-") || kp_jtok_op(lx, "+")) {
		n = kp_jnode_new(kp_jtok_op(lx, "-") ? JN_NEG : JN_POS, lx->tok.start);
		rc = kp_jlex_next(lx);
		struct jnode *k = NULL;
		if (!rc)
			rc = parse_unary(lx, false, &k);
		if (k)
			kp_jnode_add(n, k);
	} else {
		rc = parse_primary(lx, &n);
	}
	if (!rc)
		rc = parse_postfix(lx, &n);
	if (!rc && with_filter)
		rc = parse_filter_expr(lx, &n);
	lx->nest--;
	if (rc) {
		kp_jnode_free(n);
		return rc;
	}
	*out = n;
	return KP_OK;
}

static struct jnode *binop(int op, size_t at, struct jnode *l, struct jnode *r)
{
	struct jnode *n = kp_jnode_new(JN_BIN, at);
	n->op = op;
	kp_jnode_add(n, l);
	kp_jnode_add(n, r);
	return n;
}

/* One binary level: operators ops[] (text) mapped to codes[]. */
typedef kp_rc (*level_fn)(struct jlex *lx, struct jnode **out);

static kp_rc parse_level(struct jlex *lx, level_fn next, const char *const *ops, const int *codes,
			 size_t nops, struct jnode **out)
{
	struct jnode *l = NULL;
	kp_rc rc = next(lx, &l);
	while (!rc) {
		size_t k;
		for (k = 0; k < nops; k++)
			if (kp_jtok_op(lx, ops[k]))
				break;
		if (k == nops)
			break;
		size_t at = lx->tok.start;
		struct jnode *r = NULL;
		rc = kp_jlex_next(lx);
		if (!rc)
			rc = next(lx, &r);
		if (!rc)
			l = binop(codes[k], at, l, r);
	}
	if (rc) {
		kp_jnode_free(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}

static kp_rc parse_unary_f(struct jlex *lx, struct jnode **out)
{
	return parse_unary(lx, true, out);
}

static kp_rc parse_pow(struct jlex *lx, struct jnode **out)
{
	static const char *const ops[] = {"**"};
	static const int codes[] = {JOP_POW};
	return parse_level(lx, parse_unary_f, ops, codes, 1, out);
}

static kp_rc parse_math2(struct jlex *lx, struct jnode **out)
{
	static const char *const ops[] = {"*", "/", "//", "%"};
	static const int codes[] = {JOP_MUL, JOP_DIV, JOP_FLOORDIV, JOP_MOD};
	return parse_level(lx, parse_pow, ops, codes, 4, out);
}

static kp_rc parse_concat(struct jlex *lx, struct jnode **out)
{
	static const char *const ops[] = {"~"};
	static const int codes[] = {JOP_CONCAT};
	return parse_level(lx, parse_math2, ops, codes, 1, out);
}

static kp_rc parse_math1(struct jlex *lx, struct jnode **out)
{
	static const char *const ops[] = {"+", "-"};
	static const int codes[] = {JOP_ADD, JOP_SUB};
	return parse_level(lx, parse_concat, ops, codes, 2, out);
}

static kp_rc parse_compare(struct jlex *lx, struct jnode **out)
{
	static const char *const ops[] = {"==", "!=", "<", "<=", ">", ">="};
	static const int codes[] = {JOP_EQ, JOP_NE, JOP_LT, JOP_LE, JOP_GT, JOP_GE};
	struct jnode *first = NULL, *n = NULL;
	size_t at = lx->tok.start;
	kp_rc rc = parse_math1(lx, &first);
	if (rc)
		return rc;
	for (;;) {
		int op = 0;
		for (size_t k = 0; k < KP_ARRAY_LEN(ops); k++)
			if (kp_jtok_op(lx, ops[k]))
				op = codes[k];
		if (!op && kp_jtok_name(lx, "in")) {
			op = JOP_IN;
		} else if (!op && kp_jtok_name(lx, "not")) {
			/* "not in"; a lone "not" here is not ours */
			size_t i = lx->i;
			while (i < lx->len &&
			       (lx->s[i] == ' ' || lx->s[i] == '\t' || lx->s[i] == '\n'))
				i++;
			if (i + 2 <= lx->len && !memcmp(lx->s + i, "in", 2) &&
			    (i + 2 == lx->len ||
			     !(lx->s[i + 2] == '_' || isalnum((unsigned char)lx->s[i + 2])))) {
				rc = kp_jlex_next(lx);
				if (rc)
					break;
				op = JOP_NOTIN;
			}
		}
		if (!op)
			break;
		rc = kp_jlex_next(lx);
		struct jnode *r = NULL;
		if (!rc)
			rc = parse_math1(lx, &r);
		if (rc)
			break;
		if (!n) {
			n = kp_jnode_new(JN_CMP, at);
			kp_jnode_add(n, first);
			first = NULL;
		}
		n->ops = kp_xrealloc(n->ops, n->nkids * sizeof(*n->ops));
		n->ops[n->nkids - 1] = op;
		kp_jnode_add(n, r);
	}
	if (rc) {
		kp_jnode_free(first);
		kp_jnode_free(n);
		return rc;
	}
	*out = n ? n : first;
	return KP_OK;
}

static kp_rc parse_not(struct jlex *lx, struct jnode **out)
{
	if (kp_jtok_name(lx, "not")) {
		struct jnode *n = kp_jnode_new(JN_NOT, lx->tok.start), *k = NULL;
		kp_rc rc = kp_jlex_next(lx);
		if (!rc && ++lx->nest > MAX_NEST)
			rc = kp_jlex_error(lx, lx->tok.start, "expression nested too deeply");
		if (!rc)
			rc = parse_not(lx, &k);
		lx->nest--;
		if (rc) {
			kp_jnode_free(n);
			return rc;
		}
		kp_jnode_add(n, k);
		*out = n;
		return KP_OK;
	}
	return parse_compare(lx, out);
}

static kp_rc parse_logic(struct jlex *lx, const char *word, enum jn_kind kind, level_fn next,
			 struct jnode **out)
{
	struct jnode *l = NULL;
	kp_rc rc = next(lx, &l);
	while (!rc && kp_jtok_name(lx, word)) {
		struct jnode *n = kp_jnode_new(kind, lx->tok.start), *r = NULL;
		rc = kp_jlex_next(lx);
		if (!rc)
			rc = next(lx, &r);
		kp_jnode_add(n, l);
		l = n;
		if (!rc)
			kp_jnode_add(n, r);
	}
	if (rc) {
		kp_jnode_free(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}

static kp_rc parse_and(struct jlex *lx, struct jnode **out)
{
	return parse_logic(lx, "and", JN_AND, parse_not, out);
}

static kp_rc parse_or(struct jlex *lx, struct jnode **out)
{
	return parse_logic(lx, "or", JN_OR, parse_and, out);
}

static kp_rc parse_cond(struct jlex *lx, struct jnode **out)
{
	struct jnode *x = NULL;
	kp_rc rc = parse_or(lx, &x);
	while (!rc && kp_jtok_name(lx, "if")) {
		struct jnode *n = kp_jnode_new(JN_COND, lx->tok.start), *c = NULL, *e = NULL;
		rc = kp_jlex_next(lx);
		if (!rc)
			rc = parse_or(lx, &c);
		if (!rc && kp_jtok_name(lx, "else")) {
			rc = kp_jlex_next(lx);
			if (!rc)
				rc = parse_cond(lx, &e);
		}
		kp_jnode_add(n, c);
		kp_jnode_add(n, x);
		kp_jnode_add(n, e);
		x = n;
	}
	if (rc) {
		kp_jnode_free(x);
		return rc;
	}
	*out = x;
	return KP_OK;
}

kp_rc kp_jparse_expression(struct jlex *lx, bool with_condexpr, struct jnode **out)
{
	if (++lx->nest > MAX_NEST) {
		lx->nest--;
		return kp_jlex_error(lx, lx->tok.start, "expression nested too deeply");
	}
	kp_rc rc = with_condexpr ? parse_cond(lx, out) : parse_or(lx, out);
	lx->nest--;
	return rc;
}

kp_rc kp_jparse_expr(const char *src, size_t len, bool raw_strings, struct jnode **out,
		     struct kp_buf *err, size_t *at)
{
	struct jlex lx = {
	    .s = src, .len = len, .raw_strings = raw_strings, .err = err, .at = at, .bare = true};
	struct jnode *n = NULL;
	kp_rc rc = kp_jlex_next(&lx);
	if (!rc && lx.tok.kind == JT_EOF)
		rc = kp_jlex_error(&lx, 0, "Expected an expression, got 'end of statement block'");
	if (!rc)
		rc = kp_jparse_expression(&lx, true, &n);
	/* Ansible evaluates "{% if EXPR %}": the expression ends the tag */
	if (!rc && lx.tok.kind != JT_EOF)
		rc = lx.tok.kind == JT_VEND ? kp_jlex_error(&lx, lx.tok.start, "unexpected '}'")
					    : expected(&lx, "end of statement block");
	kp_jtok_release(&lx.tok);
	if (rc) {
		kp_jnode_free(n);
		return rc;
	}
	*out = n;
	return KP_OK;
}
