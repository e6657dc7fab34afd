/*
 * jinja_fn.h - the contract between the Jinja engine and its function
 * library: filters (`x | f(a, k=v)`), tests (`x is t(a)`) and lookups
 * (`lookup('name', ...)`, `query('name', ...)`).
 *
 * The engine (lexer, parser, evaluator) lives in the other jinja/ files; the library
 * lives in filters*.c, tests.c, lookups.c and exports the three tables
 * below. The engine finds a function by name, binds the call's positional
 * and keyword arguments to the function's declared parameters, and calls
 * it. Semantics follow ansible-core 2.14.
 *
 * Values are plain `struct kp_value` (core/value.h): null is Python's None,
 * bool, int (int64), float, str (UTF-8), list (also tuples), map (dict,
 * insertion ordered, string keys; other key types are converted to their
 * str() form).
 *
 * Undefined: a variable that does not exist is "undefined". It reaches a
 * function only as a NULL `in` pointer, and only when the table entry sets
 * KP_JF_UNDEF (otherwise the engine reports "'name' is undefined" before
 * the call). Arguments are undefined only with KP_JF_UNDEF_ARGS (below);
 * otherwise an undefined argument is an error raised by the engine. A function may return undefined
 * by setting *out = NULL with KP_OK (e.g. `first` of an empty list is Undefined).
 *
 * Errors: a function returns a kp_rc (KP_OK on success) and describes the
 * error with kp_jinja_err(cx, rc, fmt, ...): lowercase, no final period,
 * the subject quoted, no position (the engine prefixes file:line:col and
 * the filter name). KP_ERR_RUNTIME for bad input, KP_ERR_LIMIT for the
 * evaluation budget (kp_jinja_charge), KP_ERR_IO for files a lookup reads.
 *
 * Ownership: `in` and argv values are borrowed (valid during the call);
 * *out is a new reference handed to the engine. Never mutate borrowed
 * values: copy first (kp_value_copy) or build new ones.
 *
 * Threads: a function may run on several threads at once, each with its
 * own kp_jctx; no static mutable state.
 */
#ifndef KP_JINJA_FN_H
#define KP_JINJA_FN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/value.h"

/* One evaluation's context (opaque): the variables, the base directory,
 * the budget, the error message. */
struct kp_jctx;

/* Largest number of declared parameters per function. */
#define KP_JARGS_MAX 16

/* Parameters: `params` is a comma-separated list of names, in positional
 * order, e.g. "sep,case_sensitive". A call `x | f(a, case_sensitive=true)`
 * fills argv[0] = a, argv[1] = true; a parameter not given is NULL in
 * argv (the function applies its default). Special forms:
 *   "*name"  collects the remaining positional arguments as a list (never
 *            NULL, possibly empty); it must come after the plain names
 *            that may be given positionally; names after it are keyword-only.
 *   "**name" collects the remaining keyword arguments as a map (never NULL).
 * Without "*"/"**", extra positional arguments are "too many arguments"
 * and unknown keywords "unexpected keyword argument 'k'" (engine errors).
 * `params` NULL or "" means no parameters. */

/* Flags */
#define KP_JF_UNDEF 0x1 /* `in` may be undefined (NULL); else the engine raises */
/* Arguments may be undefined: an undefined argument then arrives as a
 * value for which kp_jinja_is_undef() is true (never use it otherwise; to
 * pass it on as the result, return a new reference to it: the result is
 * then undefined). Without the flag the engine raises before the call. For
 * `ternary` and the like, where Jinja only fails when the value is used. */
#define KP_JF_UNDEF_ARGS 0x2

/* A filter: `in | name(args)`. *out is the result. */
typedef kp_rc (*kp_jfilter_fn)(struct kp_jctx *cx, const struct kp_value *in,
			       const struct kp_value *const *argv, struct kp_value **out);
struct kp_jfilter {
	const char *name;
	const char *params;
	unsigned flags;
	kp_jfilter_fn fn;
};

/* A test: `in is name(args)`. *out is the verdict (`is not` negates it in
 * the engine). */
typedef kp_rc (*kp_jtest_fn)(struct kp_jctx *cx, const struct kp_value *in,
			     const struct kp_value *const *argv, bool *out);
struct kp_jtest {
	const char *name;
	const char *params;
	unsigned flags;
	kp_jtest_fn fn;
};

/* A lookup plugin: `lookup('name', term..., k=v)` and `query('name', ...)`.
 * Declare the terms as "*terms" (first parameter). *out must be a list
 * (Ansible's lookup run() result). The engine handles `wantlist=` and the
 * lookup()/query() difference (lookup joins string results with ",", a
 * one-item list gives that item) and marks the result unsafe (never
 * templated again); `errors=` is the plugin's to declare if it supports it. */
typedef kp_rc (*kp_jlookup_fn)(struct kp_jctx *cx, const struct kp_value *const *argv,
			       struct kp_value **out);
struct kp_jlookup {
	const char *name;
	const char *params;
	unsigned flags; /* none defined yet: 0 */
	kp_jlookup_fn fn;
};

/* The library's tables, each ending with an entry whose name is NULL.
 * Names may appear once; the engine consults its own built-ins first (see
 * below), so the library must not define those. Ansible's fully qualified
 * spellings ("ansible.builtin.to_json", "ansible.utils.ipaddr") are mapped
 * by the engine: it strips "ansible.builtin.", "ansible.netcommon.",
 * "ansible.utils." and "community.general." before looking up. */
extern const struct kp_jfilter kp_jinja_filters[];
extern const struct kp_jtest kp_jinja_tests[];
extern const struct kp_jlookup kp_jinja_lookups[];

/*
 * Built into the engine (need undefined, the scope or the syntax), NOT in
 * the library tables:
 *   filters: default / d (with boolean=), mandatory (with msg=),
 *            attr (Jinja's attribute lookup with undefined result)
 *   tests:   defined, undefined
 *   globals: range, dict, lookup, query / q, now, omit (the placeholder),
 *            lipsum is not provided
 *   methods: str.split/rsplit/strip/lstrip/rstrip/startswith/endswith/
 *            replace/lower/upper/splitlines/format/join/count/find,
 *            dict.keys/values/items/get, list.index/count
 * Everything else (to_json, from_yaml, regex_*, map, select, version,
 * succeeded, ipaddr, ...) is the library's.
 */

/* ---- Services the engine gives the library ---- */

/* Record the error message (printf-style) and return rc, for
 * `return kp_jinja_err(cx, KP_ERR_RUNTIME, "...")`. */
kp_rc kp_jinja_err(struct kp_jctx *cx, kp_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Charge `units` against the evaluation's budget before building something
 * big: a string of n bytes costs n, a list/map of n items costs n. Returns
 * KP_ERR_LIMIT with the error recorded once the budget is spent; callers
 * return that rc. Loops over input should charge their iterations too. */
kp_rc kp_jinja_charge(struct kp_jctx *cx, size_t units);

/* A variable of the current scope, rendered when its value is a template
 * (as Ansible's `vars` lookup sees it). *out is a new reference, or NULL
 * with KP_OK when the name is undefined. */
kp_rc kp_jinja_var(struct kp_jctx *cx, const char *name, struct kp_value **out);
/* The names of the scope's variables, each once (a new list of strings). */
struct kp_value *kp_jinja_var_names(struct kp_jctx *cx);

/* The directory relative file lookups start from (the plan's directory);
 * never NULL ("." when unknown). */
const char *kp_jinja_base_dir(const struct kp_jctx *cx);

/* Run a lookup by name on terms (a list) as query() does: *out a list.
 * kp_jinja_lookup_exists: whether the name (or ansible.builtin.name) is one. */
kp_rc kp_jinja_lookup(struct kp_jctx *cx, const char *name, const struct kp_value *terms,
		      struct kp_value **out);
bool kp_jinja_lookup_exists(const char *name);

/* Call a filter or test by name, as `map('lower')` or `select('version',
 * '1.2', '>=')` do: pos/npos are positional arguments, kw a map of keyword
 * arguments or NULL. Built-ins and library functions alike. `in` NULL is
 * undefined. Unknown names: KP_ERR_RUNTIME "no filter named 'x'" /
 * "no test named 'x'". */
kp_rc kp_jinja_call_filter(struct kp_jctx *cx, const char *name, const struct kp_value *in,
			   const struct kp_value *const *pos, size_t npos,
			   const struct kp_value *kw, struct kp_value **out);
kp_rc kp_jinja_call_test(struct kp_jctx *cx, const char *name, const struct kp_value *in,
			 const struct kp_value *const *pos, size_t npos, const struct kp_value *kw,
			 bool *out);

/* Python semantics, shared so every function agrees with the engine. */
/* Python's int(f): *out exact; at or beyond 2^63 kplan's limit, the error
 * "integer result too large" (never a wrapped value). */
kp_rc kp_jinja_float_int(struct kp_jctx *cx, double f, int64_t *out);
bool kp_jinja_truthy(const struct kp_value *v); /* None, False, 0, 0.0, '', [], {} are false */
bool kp_jinja_equal(const struct kp_value *a, const struct kp_value *b); /* Python == */
/* Python ordering (<): numbers with numbers (bool counts as int), str with
 * str (by code point), lists element-wise; anything else is the error
 * "'<' not supported between instances of 'str' and 'int'". *out is <0, 0
 * or >0. */
kp_rc kp_jinja_compare(struct kp_jctx *cx, const struct kp_value *a, const struct kp_value *b,
		       int *out);
/* str(v) as Python prints it: True, None, 1.0, ['a', 1], {'k': None}. */
void kp_jinja_str(const struct kp_value *v, struct kp_buf *out);
/* repr(v): strings quoted as Python quotes them ('a', "it's"). */
void kp_jinja_repr(const struct kp_value *v, struct kp_buf *out);
/* Python's type name for messages: "str", "int", "float", "bool",
 * "NoneType", "list", "dict". */
const char *kp_jinja_typename(const struct kp_value *v);
/* Is v an undefined argument (only with KP_JF_UNDEF_ARGS)? */
bool kp_jinja_is_undef(const struct kp_value *v);
/* Is v Ansible's omit placeholder (the `omit` variable's value)? */
bool kp_jinja_is_omit(const struct kp_value *v);

#endif
