/*
 * luaint.h - what expr.c, luastate.c, luaconv.c and luahelp.c share; not for the
 * rest of kplan (use expr.h).
 *
 * An expression part is the text between {{ }} (or a whole bare expression),
 * compiled to the chunk "return (<expr>\n)". Each kp_lua caches the loaded
 * chunk under the part's address, so a template rendered many times is
 * loaded once per state.
 */
#ifndef KP_LUAINT_H
#define KP_LUAINT_H

#include <lua.h>

#include "expr/expr.h"

struct kp_xpart {
	char *src;   /* the expression as written, trimmed */
	char *shown; /* src on one line: for messages */
	char *chunk; /* "return (src\n)" */
	size_t chunk_len;
	/* When src is an identifier path "a.b.c": its names, so a render can
	 * look the value up in C without running Lua. */
	char **path;
	size_t npath;
};

#define KP_VAR_MAX_DEPTH 32

struct kp_lua {
	lua_State *L;
	size_t mem, mem_max;
	unsigned long long steps, steps_max;
	bool limit_hit;
	const struct kp_scope *scope; /* during an evaluation, else NULL */
	int depth;		      /* evaluations running (one inside another) */
	int npending;		      /* sentinels created by this evaluation */
	int ncached;		      /* chunks in the cache */
	/* Values that must live until the evaluation ends (hostvars, from_json
	 * results); unreferenced then. */
	struct kp_value **held;
	size_t nheld, capheld;
	struct kp_buf scratch, scratch2; /* helpers' C-side buffers, reset per use */
	/* Variables whose values hold templates (expr.c, kp_var_resolve). */
	struct kp_value *var_tmpl_index; /* source text -> index into var_tmpls */
	struct kp_template **var_tmpls;
	size_t nvar_tmpls, capvar_tmpls;
	const char *resolving[KP_VAR_MAX_DEPTH]; /* names being rendered, outermost first */
	int nresolving;
	kp_rc nested_rc; /* a variable's rendering failed inside env_index */
	struct kp_buf nested_msg;
	/* Where the variable whose rendering failed was written (file NULL:
	 * not known): the outermost expression reports the error there. */
	struct kp_pos var_pos;
	/* Hooks (luaapi.c): called by the allocator when it refuses memory
	 * (once per refusal; must not allocate Lua memory), and its data. */
	void (*mem_refused)(struct kp_lua *kl);
	void *hook_data;
	int hook_chunks; /* hook chunks cached in this state */
};

/* The table of builtins every expression sees first (libraries as
 * read-only proxies, helpers): pushed onto the stack, for hooks to copy. */
void kp_lua_push_builtins(lua_State *L);
/* Replace the table at the top by a read-only proxy of it named `name`, so
 * that `string.x = 1` cannot leak from one evaluation into the next.
 * index: a C function to use as __index instead of the table (it gets the
 * table as upvalue 1), or NULL. */
void kp_lua_readonly_proxy(lua_State *L, const char *name, lua_CFunction index);

/* Render a variable's value when it holds "{{ }}" (Ansible templates
 * variables when they are used, so `a: "{{ b }}-x"` sees b). *out is a new
 * reference, or NULL when v holds no template. A variable whose value
 * refers back to itself is an error. */
kp_rc kp_var_resolve(struct kp_lua *kl, const char *name, const struct kp_value *v,
		     const struct kp_scope *s, struct kp_value **out, struct kp_buf *err);
void kp_var_cache_free(struct kp_lua *kl);
/* The position to report a failed variable rendering at: the variable's
 * own (then forgotten) when known and no variable is being rendered any
 * more, else use_pos. */
struct kp_pos kp_var_error_pos(struct kp_lua *kl, struct kp_pos use_pos);

/* The kp_lua that owns a state (kept in the state's extra space). */
static inline struct kp_lua *kp_lua_of(lua_State *L)
{
	return *(struct kp_lua **)lua_getextraspace(L);
}

#define KP_LUA_MAX_DEPTH 256
#define KP_LUA_MAX_ITEMS 1000000

/* "file:line:col: " (when pos.file) + message, into err; returns rc. */
kp_rc kp_pos_errorf(struct kp_buf *err, kp_rc rc, struct kp_pos pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Compile text to a part (syntax checked in a throwaway state). */
kp_rc kp_xpart_init(struct kp_xpart *p, const char *src, size_t len, struct kp_pos pos,
		    struct kp_buf *err);
void kp_xpart_release(struct kp_xpart *p);

/* Evaluate a part: the value into *out (when out), its truth into *truth
 * (when truth). Errors are prefixed with pos. */
kp_rc kp_lua_eval(struct kp_lua *kl, const struct kp_xpart *p, struct kp_pos pos,
		  const struct kp_scope *s, struct kp_value **out, bool *truth, struct kp_buf *err);

/* Names the environment resolves before any variable (helpers, libraries,
 * hostvars): a variable of that name is never reached by a lookup. */
bool kp_lua_is_reserved(const char *name);

/* Undefined sentinels (luastate.c). */
struct kp_undef {
	bool consumed;
	bool unknown; /* in scope->unknown: known only after probe */
	char name[];
};
#define KP_UNDEF_MT "kplan.undefined"
struct kp_undef *kp_lua_test_undef(lua_State *L, int idx);
void kp_lua_push_undef(lua_State *L, const char *name, size_t len, bool unknown);
/* Raise the sentinel at idx as the error when it is one (helpers do this
 * with arguments they need to use). */
void kp_lua_check_defined(lua_State *L, int idx);

/* Conversion (luaconv.c), during an evaluation only (v must outlive it):
 * push with a name for undefined map keys (NULL: missing keys are nil). */
void kp_lua_push_named(lua_State *L, const struct kp_value *v, const char *name);
void kp_lua_conv_init(lua_State *L);

/* Helpers (luahelp.c): set them into the table at idx. */
void kp_lua_open_helpers(lua_State *L, int idx);
void kp_lua_hold(struct kp_lua *kl, struct kp_value *v);

/* Skip the "expr:N: " that Lua puts before messages about the chunk. */
const char *kp_lua_strip_chunkname(const char *msg);

/* version.c: -1, 0 or 1 into *res; KP_ERR_INVALID for a non-version. */
kp_rc kp_version_cmp(const char *a, const char *b, int *res);
bool kp_version_op_ok(const char *op);

#endif
