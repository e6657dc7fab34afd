/*
 * jlex.h - the lexer and AST helpers the parser uses (lex.c, parse.c).
 */
#ifndef KP_JLEX_H
#define KP_JLEX_H

#include <stdarg.h>

#include "expr/jinja/jinja.h"

enum jtok_kind { JT_EOF, JT_NAME, JT_INT, JT_FLOAT, JT_STR, JT_OP, JT_VEND, JT_BEND };

struct jtok {
	enum jtok_kind kind;
	size_t start;
	char op[4];
	char *name;
	struct kp_value *val;
	bool strip; /* "-}}" / "-%}" */
};

struct jlex {
	const char *s;
	size_t len, i;
	bool raw_strings; /* inside {{ }}: backslashes are literal */
	int depth;	  /* open brackets */
	char open[128];	  /* ...which ones, innermost last */
	bool bare;	  /* a bare expression: the end is Ansible's "%}" */
	int nest;	  /* parser recursion */
	struct jtok tok;
	struct kp_buf *err;
	size_t *at;
	bool failed;
};

kp_rc kp_jlex_error(struct jlex *lx, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
kp_rc kp_jlex_next(struct jlex *lx);
void kp_jtok_release(struct jtok *t);
/* The current token as Jinja's messages name it: "end of print
 * statement", "integer", the name or operator itself. */
const char *kp_jtok_describe(const struct jlex *lx);
bool kp_jtok_op(const struct jlex *lx, const char *op);
bool kp_jtok_name(const struct jlex *lx, const char *name);
bool kp_jlex_peek_assign(const struct jlex *lx);

struct jnode *kp_jnode_new(enum jn_kind kind, size_t offset);
void kp_jnode_add(struct jnode *n, struct jnode *kid);

/* parse.c: Jinja's "expected token 'what', got ..." at the current token */
kp_rc kp_jparse_expected(struct jlex *lx, const char *what);
/* parse.c: one expression at the lexer's current token */
kp_rc kp_jparse_expression(struct jlex *lx, bool with_condexpr, struct jnode **out);
/* "(a, k=v)" after a call or filter name: into n's kids and kw */
kp_rc kp_jparse_call_args(struct jlex *lx, struct jnode *n);

#endif
