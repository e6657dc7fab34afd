/*
 * expr.h - expressions and templates: Jinja as ansible-core 2.14 uses it
 * (expr/jinja/), and the sandboxed Lua 5.4 state hooks run in.
 *
 * `when:`-style conditions are bare Jinja expressions; values are templated
 * with "{{ expr }}" and {% %} statements. Both are compiled when the plan
 * loads, so a syntax error is reported with its YAML position before
 * anything runs. Evaluation happens with a struct kp_lua: the per-thread
 * context (variable caches, and the Lua state hooks use), never shared
 * between threads. The variables an expression sees are those of a struct
 * kp_scope; an undefined variable is an error naming it, unless guarded
 * by `| default(d)` or `is defined`.
 *
 * Ownership: compiled templates/expressions copy their source and are freed
 * with their _free function; rendered values are new references.
 */
#ifndef KP_EXPR_H
#define KP_EXPR_H

#include "core/buf.h"
#include "core/value.h"
#include "core/ytree.h"

#define KP_UNKNOWN_TEXT "<known after probe>"
/* The value of `omit`: a module argument (or list item, or map value of a
 * tvalue) that renders to it is left out, as Ansible does. */
#define KP_OMIT_TEXT "__omit_place_holder__kplan"

/* The variables an expression sees, for one host at one point of a run.
 * Lookup order: `hostvars` (through the callback), then layers from the
 * last (highest precedence) to the first. */
#define KP_SCOPE_MAX 20
struct kp_scope {
	const struct kp_value *layers[KP_SCOPE_MAX]; /* maps, lowest precedence first */
	size_t nlayers;
	/* hostvars[NAME]: a new reference to that host's variables, or NULL
	 * when there is no such host. May be NULL (then hostvars is empty). */
	struct kp_value *(*hostvars)(void *ctx, const char *host);
	void *ctx;
	/* Names whose values exist only after the hosts were probed (registered
	 * results in an offline `kplan plan`): using one gives KP_ERR_UNKNOWN,
	 * or with `placeholder` the leaf renders as KP_UNKNOWN_TEXT. "*" among
	 * them: every name that is not defined is such a name (Jinja). */
	const char *const *unknown;
	size_t nunknown;
	bool placeholder;
	const char *base_dir; /* lookup_file() paths are relative to it (the plan's dir) */
	/* the directory of the file the template module renders: {% include %}
	 * looks there after the role and the plan's directory. May be NULL. */
	const char *template_dir;
	/* Where the value v found for variable `name` was written, when that
	 * is known (play vars): an error inside a templated value then points
	 * at the value, not at the expression that used it. May be NULL. */
	bool (*var_pos)(void *ctx, const char *name, const struct kp_value *v, struct kp_pos *out);
	/* A name no layer holds: a value made on first use (a host's facts,
	 * gathered when a template first names one), borrowed and kept by
	 * the caller's layers from then on; NULL when it is not such a name.
	 * May be NULL. */
	const struct kp_value *(*lazy)(void *lazy_ctx, const char *name, size_t len);
	void *lazy_ctx;
};

/* The value of variable `name` in s's layers, the highest precedence
 * first, else what s->lazy makes of it (hostvars and the unknown names are
 * not looked at); borrowed, or NULL. s may be NULL. The one lookup every reader of a scope uses. */
const struct kp_value *kp_scope_get(const struct kp_scope *s, const char *name);
const struct kp_value *kp_scope_getn(const struct kp_scope *s, const char *name, size_t len);

/* A compiled template: literal text and {{ }} expressions. */
struct kp_template;
kp_rc kp_template_compile(const char *src, size_t len, struct kp_pos pos, struct kp_template **out,
			  struct kp_buf *err);
void kp_template_free(struct kp_template *t);
bool kp_template_is_literal(const struct kp_template *t); /* no {{ }} at all */
const char *kp_template_source(const struct kp_template *t);
struct kp_pos kp_template_pos(const struct kp_template *t);

/* A template file (the template module): always renders to text, with
 * Jinja's trim_blocks / lstrip_blocks options (Ansible's template module:
 * trim_blocks on, lstrip_blocks off). */
kp_rc kp_template_compile_file(const char *src, size_t len, struct kp_pos pos, bool trim_blocks,
			       bool lstrip_blocks, struct kp_template **out, struct kp_buf *err);

/* A compiled bare expression (when, until, failed_when, changed_when). */
struct kp_expr;
kp_rc kp_expr_compile(const char *src, struct kp_pos pos, struct kp_expr **out, struct kp_buf *err);
void kp_expr_free(struct kp_expr *e);
const char *kp_expr_source(const struct kp_expr *e);

/* A sandboxed Lua state for one thread: base, string, table, math, utf8
 * and os.time/os.clock/os.date, the helper functions, an instruction limit
 * per evaluation and a memory cap. */
struct kp_lua;
struct kp_lua *kp_lua_new(void);
void kp_lua_free(struct kp_lua *L);
/* Limits per state: bytes of Lua memory (default 64 MiB) and instructions
 * per evaluation (default 10 million). 0 keeps the current value. */
#define KP_LUA_MEM_DEFAULT   ((size_t)64 << 20)
#define KP_LUA_STEPS_DEFAULT 10000000ull
void kp_lua_set_limits(struct kp_lua *L, size_t max_bytes, unsigned long long max_steps);

/* For code that runs its own Lua in the sandboxed state (hooks): the state,
 * and conversion between values and Lua (lists become sequences, maps
 * tables; an empty map stays a map when converted back). kp_lua_push_value
 * may raise a Lua memory error, so call it in protected mode. The state
 * must come from kp_lua_state(). kp_lua_to_value fails with KP_ERR_RUNTIME
 * for functions and userdata ("cannot use a function as a value") and
 * KP_ERR_LIMIT for tables nested deeper than 256 or with more than a
 * million elements in all. */
struct lua_State;
struct lua_State *kp_lua_state(struct kp_lua *L);
void kp_lua_push_value(struct lua_State *L, const struct kp_value *v);
kp_rc kp_lua_to_value(struct lua_State *L, int idx, struct kp_value **out, struct kp_buf *err);

/* Errors read "file:line:col: undefined variable 'x'" and similar (the
 * template's or expression's position); KP_ERR_UNDEFINED for undefined
 * variables, KP_ERR_UNKNOWN for values known only after probe,
 * KP_ERR_RUNTIME for a Lua error, KP_ERR_LIMIT for a runaway expression. */
kp_rc kp_template_render(struct kp_lua *L, const struct kp_template *t, const struct kp_scope *s,
			 struct kp_value **out, struct kp_buf *err);
kp_rc kp_expr_eval(struct kp_lua *L, const struct kp_expr *e, const struct kp_scope *s,
		   struct kp_value **out, struct kp_buf *err);
kp_rc kp_expr_test(struct kp_lua *L, const struct kp_expr *e, const struct kp_scope *s, bool *out,
		   struct kp_buf *err);

/* A lookup plugin run on terms already rendered, as a with_<name> loop
 * runs it: *out the list it gives. Errors read "file:line:col: lookup
 * 'name': ..." at pos. kp_lookup_exists: a lookup of that name (or
 * ansible.builtin.name) is built in. */
kp_rc kp_lookup_run(struct kp_lua *L, const char *name, const struct kp_value *terms,
		    const struct kp_scope *s, struct kp_pos pos, struct kp_value **out,
		    struct kp_buf *err);
bool kp_lookup_exists(const char *name);

/* A value tree whose string leaves may hold templates: module arguments,
 * loop lists, environment maps. */
enum kp_tvkind { KP_TV_LIT, KP_TV_TMPL, KP_TV_LIST, KP_TV_MAP };
struct kp_tvalue {
	enum kp_tvkind kind;
	struct kp_pos pos;
	struct kp_value *lit;	  /* LIT; also a LIST or MAP with no template
				   * below it: the whole value, ready to render */
	struct kp_template *tmpl; /* TMPL */
	struct kp_tvalue **items; /* LIST and MAP */
	char **keys;		  /* MAP */
	size_t n;
	bool secret; /* TMPL tagged !secret: the rendered value is marked secret */
};
kp_rc kp_tvalue_from_node(const struct kp_node *n, struct kp_tvalue **out, struct kp_buf *err);
struct kp_tvalue *kp_tvalue_from_value(const struct kp_value *v); /* all literal */
void kp_tvalue_free(struct kp_tvalue *tv);
bool kp_tvalue_is_literal(const struct kp_tvalue *tv);
const struct kp_tvalue *kp_tvalue_get(const struct kp_tvalue *map, const char *key);
kp_rc kp_tvalue_render(struct kp_lua *L, const struct kp_tvalue *tv, const struct kp_scope *s,
		       struct kp_value **out, struct kp_buf *err);

/* version_compare(a, op, b) as the Lua helper does (hooks): "1.13.3-00", "v1.13.3";
 * op is one of < <= > >= == != (also lt le gt ge eq ne). */
kp_rc kp_version_compare(const char *a, const char *op, const char *b, bool *out);

#endif
