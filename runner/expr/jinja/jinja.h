/*
 * jinja.h - the Jinja engine inside kplan's expression layer: a parsed
 * template or expression (an AST built once when the plan loads) and its
 * evaluation against a scope. Not for the rest of kplan: use expr/expr.h.
 *
 * Undefined values: while an expression is evaluated, a name or attribute
 * that does not exist evaluates to an "undefined" value (a kp_value with
 * the `undef` mark whose string is the error message). Using it raises the
 * error; `is defined`, `default` and attribute lookups on it do not (as
 * Ansible's AnsibleUndefined). Undefined values never leave the engine.
 *
 * Integers are int64_t where Python's are unbounded: exact below 2^63; a
 * literal or a result beyond is an error ("integer result too large"),
 * never a wrapped or rounded value (a JSON number beyond reads as a float).
 */
#ifndef KP_JINJA_H
#define KP_JINJA_H

#include "core/buf.h"
#include "core/value.h"
#include "expr/expr.h"
#include "expr/jinja/jinja_fn.h"

enum jn_kind {
	JN_CONST,  /* val */
	JN_NAME,   /* name */
	JN_ATTR,   /* kids[0].name */
	JN_ITEM,   /* kids[0][kids[1]] */
	JN_SLICE,  /* kids[0][kids[1]:kids[2]:kids[3]], absent parts NULL */
	JN_LIST,   /* [kids...] */
	JN_TUPLE,  /* (kids...) */
	JN_DICT,   /* {kids[0]: kids[1], ...} */
	JN_BIN,	   /* kids[0] op kids[1] */
	JN_NEG,	   /* -kids[0] */
	JN_POS,	   /* +kids[0] */
	JN_NOT,	   /* not kids[0] */
	JN_AND,	   /* kids[0] and kids[1] */
	JN_OR,	   /* kids[0] or kids[1] */
	JN_CMP,	   /* kids[0] ops[0] kids[1] ops[1] kids[2] ... */
	JN_COND,   /* kids[1] if kids[0] else kids[2] (kids[2] may be NULL) */
	JN_FILTER, /* kids[0] | name(args) ; kids[0] NULL inside {% filter %} */
	JN_TEST,   /* kids[0] is [not] name(args) ; op = 1 when negated */
	JN_CALL,   /* kids[0](args) */
};

enum jn_op {
	JOP_ADD = 1,
	JOP_SUB,
	JOP_MUL,
	JOP_DIV,
	JOP_FLOORDIV,
	JOP_MOD,
	JOP_POW,
	JOP_CONCAT,
	JOP_EQ,
	JOP_NE,
	JOP_LT,
	JOP_LE,
	JOP_GT,
	JOP_GE,
	JOP_IN,
	JOP_NOTIN,
};

struct jnode {
	enum jn_kind kind;
	int op;	    /* JN_BIN: enum jn_op; JN_TEST: negated */
	int *ops;   /* JN_CMP: one per comparison */
	int offset; /* byte offset in the source, for messages */
	struct kp_value *val;
	char *name;
	struct jnode **kids;
	size_t nkids;
	/* calls, filters, tests: arguments are kids[1..], the last nkw of
	 * them keyword arguments named kw[] */
	char **kw;
	size_t nkw;
	const void *fn; /* filters/tests: resolved table entry (cache) */
};

/* Template statements */
enum js_kind {
	JS_TEXT,
	JS_OUT,
	JS_IF,
	JS_FOR,
	JS_SET,
	JS_SETBLOCK,
	JS_FILTER,
	JS_MACRO,
	JS_CALL,    /* {% call(params) macro(args) %}: expr the call, targets
		     * "caller" and its parameters, body what caller() renders */
	JS_INCLUDE, /* expr the name (or list of names) */
	JS_WITH	    /* targets the names, defaults their values, body */
};

struct jstmt {
	enum js_kind kind;
	int offset;
	char *text; /* TEXT */
	size_t len;
	struct jnode *expr; /* OUT, SET value, FOR iterable, FILTER and SETBLOCK:
			     * the filter chain (JN_FILTERs whose innermost
			     * input is a placeholder), NULL for a plain SETBLOCK */
	/* IF: conds[i] guards bodies[i]; an else body has cond NULL */
	struct jnode **conds;
	struct jbody *bodies;
	size_t nconds;
	/* FOR / SET targets (names) */
	char **targets;
	size_t ntargets;
	struct jnode *filter; /* FOR ... if filter */
	struct jbody *body, *else_body;
	/* MACRO, CALL: the default of parameter targets[i] (i >= 1), or NULL;
	 * WITH: the value of targets[i]; as many as targets */
	struct jnode **defaults;
	bool recursive;	     /* FOR ... recursive */
	bool ignore_missing; /* INCLUDE ... ignore missing */
	bool no_context;     /* INCLUDE ... without context */
};

struct jbody {
	struct jstmt *s;
	size_t n;
};

/* Parsing options */
struct jopts {
	bool trim_blocks, lstrip_blocks;
	bool expr_only; /* a bare expression, no template syntax */
};

struct jtemplate {
	struct jbody body;
	struct jnode *single; /* the template is exactly "{{ expr }}" */
	char *single_var;     /* ...and expr is a bare name (Ansible's fast path) */
	bool has_stmts;
};

/* Parse src into a template (or a bare expression when expr_only: then
 * the result is in *expr). Errors: KP_ERR_PARSE with "message" and the
 * byte offset it refers to in *at. */
kp_rc kp_jparse_template(const char *src, size_t len, const struct jopts *o, struct jtemplate **out,
			 struct kp_buf *err, size_t *at);
kp_rc kp_jparse_expr(const char *src, size_t len, bool raw_strings, struct jnode **out,
		     struct kp_buf *err, size_t *at);
void kp_jtemplate_free(struct jtemplate *t);
/* The line and column (characters, from 1) of byte offset at in src. */
void kp_jsrc_linecol(const char *src, size_t len, size_t at, int *line, int *col);
/* A syntax error in a template file read while rendering (include, the
 * template lookup): Jinja's message msg at offset at, recorded in cx. */
kp_rc kp_jsyntax_error(struct kp_jctx *cx, const char *name, const char *src, size_t len, size_t at,
		       const char *msg);
void kp_jnode_free(struct jnode *n);

/* Evaluation context (one evaluation). */
#define JCTX_LOCALS_MAX 64
struct kp_jctx {
	struct kp_lua *kl; /* per-thread state: variable caches */
	const struct kp_scope *scope;
	struct kp_buf *err; /* message without position */
	size_t budget;	    /* units left */
	int depth;	    /* recursion depth */
	int offset;	    /* offset of the node being evaluated (for messages) */
	/* loop and set variables, innermost last */
	const char *lnames[JCTX_LOCALS_MAX];
	struct kp_value *lvals[JCTX_LOCALS_MAX];
	/* {% macro %}s defined so far: name in targets[0], parameters after */
	const struct jstmt *macros[16];
	size_t nmacros;
	size_t nlocals;
	/* {% include ... without context %}: the locals below local_floor and
	 * the scope's variables are hidden */
	size_t local_floor;
	bool no_context;
	/* the for loops being rendered, innermost last: loop(x) of a
	 * recursive one renders its body again, loop.changed() remembers */
	struct jloop {
		const struct jstmt *st;
		int depth;		  /* loop.depth: 1, or one more than the loop that called */
		struct kp_value *changed; /* loop.changed()'s last arguments */
		size_t index0, length;
	} loops[32];
	size_t nloops;
	bool unsafe;	  /* an unsafe value took part */
	bool secret;	  /* a secret value was written into the text */
	bool no_log;	  /* a no_log value was written into the text */
	bool native_text; /* the last filter was a string-type filter */
	kp_rc var_rc;	  /* a variable's own rendering failed: its position */
	const void *hint; /* the next filter/test call's table entry, when known */
};

#define KP_JINJA_BUDGET	    ((size_t)16 << 20) /* units per evaluation */
#define KP_JINJA_MAX_DEPTH  200
#define KP_JINJA_ITEM_UNITS 16 /* what one list item made by repetition costs */

/* Evaluate one expression: *out is a new reference; may be undefined
 * (kp_jv_is_undef) when allow_undef. */
kp_rc kp_jeval(struct kp_jctx *cx, const struct jnode *n, struct kp_value **out);
/* Call a {% macro %} by name: *out its text; KP_ERR_NOTFOUND when there is
 * no macro of that name (nothing recorded). */
kp_rc kp_jmacro_call(struct kp_jctx *cx, const char *name, const struct kp_value *const *pos,
		     size_t npos, const char *const *kwn, const struct kp_value *const *kwv,
		     size_t nkw, struct kp_value **out);
/* loop(items) of the innermost recursive loop, loop.cycle(...) and
 * loop.changed(...): KP_ERR_NOTFOUND when name is none of them there
 * (nothing recorded). */
kp_rc kp_jloop_call(struct kp_jctx *cx, const char *name, const struct kp_value *const *pos,
		    size_t npos, struct kp_value **out);
/* Render a body into text. */
kp_rc kp_jrender(struct kp_jctx *cx, const struct jbody *b, struct kp_buf *out);

/* Operators (arith.c): *out a new reference. */
kp_rc kp_jbinop(struct kp_jctx *cx, int op, const struct kp_value *a, const struct kp_value *b,
		struct kp_value **out);
kp_rc kp_jcmp_op(struct kp_jctx *cx, int op, const struct kp_value *a, const struct kp_value *b,
		 bool *out);

/* Undefined values */
struct kp_value *kp_jv_undef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct kp_value *kp_jv_unknown(const char *name);
/* An undefined value somewhere inside v (a filter's list may hold one):
 * writing v out raises it. */
const struct kp_value *kp_jv_find_undef(const struct kp_value *v, int depth);
static inline bool kp_jv_is_undef(const struct kp_value *v)
{
	return v && v->undef;
}
/* The error for using an undefined value: KP_ERR_UNDEFINED or
 * KP_ERR_UNKNOWN, message recorded. */
kp_rc kp_jv_undef_error(struct kp_jctx *cx, const struct kp_value *u);

/* The scope's variable `name` (rendered when it holds a template): *out a
 * new reference, an undefined value when missing. */
kp_rc kp_jlookup_name(struct kp_jctx *cx, const char *name, struct kp_value **out);

/* Built-ins (builtins.c) */
kp_rc kp_jfilter_call(struct kp_jctx *cx, const char *name, const struct kp_value *in,
		      const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		      const struct kp_value *const *kwv, size_t nkw, struct kp_value **out);
kp_rc kp_jtest_call(struct kp_jctx *cx, const char *name, const struct kp_value *in,
		    const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		    const struct kp_value *const *kwv, size_t nkw, bool *out);
kp_rc kp_jglobal_call(struct kp_jctx *cx, const char *name, const struct kp_value *const *pos,
		      size_t npos, const char *const *kwn, const struct kp_value *const *kwv,
		      size_t nkw, struct kp_value **out);
bool kp_jglobal_exists(const char *name);
kp_rc kp_jmethod_call(struct kp_jctx *cx, const struct kp_value *self, const char *name,
		      const struct kp_value *const *pos, size_t npos, const char *const *kwn,
		      const struct kp_value *const *kwv, size_t nkw, struct kp_value **out);
bool kp_jfilter_exists(const char *name);
/* The table entry of a filter/test (cached in the AST at compile time). */
const void *kp_jfilter_find(const char *name);
const void *kp_jtest_find(const char *name);
bool kp_jtest_exists(const char *name);
/* The lookup plugin of that name (Ansible's qualified spellings too), or NULL. */
const struct kp_jlookup *kp_jlookup_find(const char *name);

/* The omit placeholder string */
#define KP_JINJA_OMIT KP_OMIT_TEXT

/* Python literal_eval of the rendered text, as ansible-core's concat does
 * for output starting with '{' or '[' or equal to True/False: *out NULL
 * when the text is not a Python literal. */
struct kp_value *kp_jliteral_eval(const char *s, size_t len);

#endif
