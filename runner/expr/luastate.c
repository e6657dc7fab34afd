/*
 * luastate.c - the sandboxed Lua state and the evaluation of one expression.
 *
 * The sandbox follows Redis's scripting: an allow-list of libraries, no io,
 * package, debug or loading of code, and only os.time/clock/date; plus
 * HAProxy's instruction-count hook and a capped allocator, so a runaway
 * expression ends with an error instead of hanging or eating the host.
 *
 * Every evaluation runs its cached chunk with a fresh _ENV table whose
 * __index resolves, in order: helpers and libraries, hostvars, names known
 * only after probe, then the scope's layers (highest first). A name found
 * nowhere is an "undefined sentinel": a userdata whose every metamethod
 * raises "undefined variable 'x'". default() and defined() consume
 * sentinels; one left unconsumed when the chunk returns fails the
 * evaluation, which catches `not foo` and `when: foo`.
 */
#include "expr/luaint.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_STEP 1000 /* instructions between two calls of the count hook */
#define CACHE_MAX 4096 /* cached chunks per state before the cache is reset */

/* Registry keys (their addresses only). */
static const char undef_mt_key, pending_key, cache_key, srcs_key, env_mt_key, dead_env_key,
    builtins_key;

kp_rc kp_pos_errorf(struct kp_buf *err, kp_rc rc, struct kp_pos pos, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return rc;
	kp_buf_reset(err);
	if (pos.file)
		kp_buf_addf(err, "%s:%d:%d: ", pos.file, pos.line, pos.col);
	size_t from = err->len;
	va_start(ap, fmt);
	kp_buf_vaddf(err, fmt, ap);
	va_end(ap);
	/* the text of an expression or of a Lua error may hold line breaks */
	kp_buf_escape_newlines(err, from);
	return rc;
}

static void *lalloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	struct kp_lua *kl = ud;
	if (!ptr)
		osize = 0; /* osize is then the type of the new object */
	if (nsize == 0) {
		free(ptr);
		kl->mem -= osize;
		return NULL;
	}
	if (nsize > osize && kl->mem + (nsize - osize) > kl->mem_max) {
		if (kl->mem_refused)
			kl->mem_refused(kl); /* a hook notes where it was */
		return NULL; /* Lua collects garbage, retries, then raises a memory error */
	}
	void *np = realloc(ptr, nsize);
	if (np)
		kl->mem = kl->mem - osize + nsize;
	return np;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
	struct kp_lua *kl = kp_lua_of(L);
	kl->steps += HOOK_STEP;
	if (kl->steps > kl->steps_max) {
		kl->limit_hit = true;
		/* From now on fire at every instruction, so a pcall() loop in the
		 * expression cannot swallow the error and keep going. */
		lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
		luaL_error(L, "instruction limit exceeded");
	}
}

/* Undefined sentinels */

struct kp_undef *kp_lua_test_undef(lua_State *L, int idx)
{
	void *p = lua_touserdata(L, idx);
	if (!p || lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx))
		return NULL;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &undef_mt_key);
	bool is = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return is ? p : NULL;
}

void kp_lua_push_undef(lua_State *L, const char *name, size_t len, bool unknown)
{
	struct kp_lua *kl = kp_lua_of(L);
	struct kp_undef *u = lua_newuserdatauv(L, sizeof(*u) + len + 1, 0);
	u->consumed = false;
	u->unknown = unknown;
	memcpy(u->name, name, len);
	u->name[len] = '\0';
	lua_rawgetp(L, LUA_REGISTRYINDEX, &undef_mt_key);
	lua_setmetatable(L, -2);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &pending_key);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, ++kl->npending);
	lua_pop(L, 1);
	/* stack: sentinel */
}

void kp_lua_check_defined(lua_State *L, int idx)
{
	if (kp_lua_test_undef(L, idx)) {
		lua_pushvalue(L, idx);
		lua_error(L);
	}
}

/* Every metamethod of a sentinel: raise the sentinel (whichever operand it
 * is); the evaluation turns it into "undefined variable 'x'". */
static int undef_raise(lua_State *L)
{
	if (!kp_lua_test_undef(L, 1) && kp_lua_test_undef(L, 2))
		lua_pushvalue(L, 2);
	else
		lua_pushvalue(L, 1);
	return lua_error(L);
}

static void make_undef_mt(lua_State *L)
{
	static const char *const events[] = {
	    "__index", "__newindex", "__call", "__concat", "__add",	 "__sub",
	    "__mul",   "__div",	     "__mod",  "__pow",	   "__unm",	 "__idiv",
	    "__band",  "__bor",	     "__bxor", "__shl",	   "__shr",	 "__bnot",
	    "__len",   "__lt",	     "__le",   "__eq",	   "__tostring", "__close",
	};
	lua_createtable(L, 0, (int)KP_ARRAY_LEN(events) + 2);
	for (size_t i = 0; i < KP_ARRAY_LEN(events); i++) {
		lua_pushcfunction(L, undef_raise);
		lua_setfield(L, -2, events[i]);
	}
	lua_pushstring(L, "undefined");
	lua_setfield(L, -2, "__name");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &undef_mt_key);
}

/* Values held for the evaluation */

void kp_lua_hold(struct kp_lua *kl, struct kp_value *v)
{
	KP_GROW(kl->held, kl->nheld + 1, kl->capheld);
	kl->held[kl->nheld++] = v;
}

/* hostvars[host]: upvalue-free __index of the per-evaluation proxy. */
static int hostvars_index(lua_State *L)
{
	struct kp_lua *kl = kp_lua_of(L);
	const struct kp_scope *s = kl->scope;
	struct kp_value *v = NULL;
	const char *host = lua_tostring(L, 2);
	if (!host) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushfstring(L, "hostvars['%s']", host);
	/* stack: proxy host name */
	if (s && s->hostvars)
		v = s->hostvars(s->ctx, host);
	if (!v) {
		size_t len;
		const char *name = lua_tolstring(L, -1, &len);
		kp_lua_push_undef(L, name, len, false);
		return 1;
	}
	kp_lua_hold(kl, v);
	kp_lua_push_named(L, v, lua_tostring(L, -1));
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, 1); /* convert each host once per evaluation */
	return 1;
}

static void push_hostvars(lua_State *L)
{
	lua_newtable(L);
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, hostvars_index);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

static bool is_unknown(const struct kp_scope *s, const char *name)
{
	for (size_t i = 0; i < s->nunknown; i++)
		if (!strcmp(s->unknown[i], name))
			return true;
	return false;
}

/* __index of every evaluation's _ENV; upvalue 1 is the builtins table. */
static int env_index(lua_State *L)
{
	struct kp_lua *kl = kp_lua_of(L);
	const struct kp_scope *s = kl->scope;
	size_t len;

	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	if (!s || lua_type(L, 2) != LUA_TSTRING) {
		lua_pushnil(L);
		return 1;
	}
	const char *name = lua_tolstring(L, 2, &len);
	if (!strcmp(name, "hostvars")) {
		push_hostvars(L);
	} else if (is_unknown(s, name)) {
		kp_lua_push_undef(L, name, len, true);
		return 1;
	} else {
		const struct kp_value *v = kp_scope_getn(s, name, len);
		if (!v) {
			kp_lua_push_undef(L, name, len, false);
			return 1;
		}
		struct kp_value *r = NULL;
		kp_rc rc = kp_var_resolve(kl, name, v, s, &r, &kl->nested_msg);
		if (rc == KP_ERR_UNKNOWN) {
			kp_lua_push_undef(L, name, len, true);
			return 1;
		}
		if (rc) {
			/* run_error() reports it with the outer expression's position */
			kl->nested_rc = rc;
			lua_pushliteral(L, "variable rendering failed");
			return lua_error(L);
		}
		if (r) {
			kp_lua_hold(kl, r);
			v = r;
		}
		kp_lua_push_named(L, v, name);
		if (!lua_istable(L, -1))
			return 1;
	}
	/* Keep the converted table for the rest of this evaluation. */
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, 1);
	return 1;
}

/* The state */

static int readonly_newindex(lua_State *L)
{
	return luaL_error(L, "cannot modify '%s'", lua_tostring(L, lua_upvalueindex(1)));
}

void kp_lua_readonly_proxy(lua_State *L, const char *name, lua_CFunction index)
{
	lua_newtable(L);
	lua_createtable(L, 0, 3);
	lua_pushvalue(L, -3);
	if (index)
		lua_pushcclosure(L, index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushstring(L, name);
	lua_pushcclosure(L, readonly_newindex, 1);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_remove(L, -2);
	/* stack: proxy */
}

static const char *const base_allowed[] = {
    "assert",	"error",    "getmetatable", "ipairs", "next",	  "pairs",
    "pcall",	"rawequal", "rawget",	    "rawlen", "select",	  "setmetatable",
    "tonumber", "tostring", "type",	    "xpcall", "_VERSION",
};
static const char *const base_removed[] = {
    "dofile", "loadfile", "load", "require", "collectgarbage", "print", "warn",
};
static const char *const libs[] = {"string", "table", "math", "utf8", "os"};

bool kp_lua_is_reserved(const char *name)
{
	static const char *const helpers[] = {
	    "default",	   "defined",	 "version_compare", "in_group", "join",
	    "basename",	   "dirname",	 "regex_search",    "to_json",	"from_json",
	    "lookup_file", "lookup_env", "contains",	    "hostvars",
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(helpers); i++)
		if (!strcmp(name, helpers[i]))
			return true;
	for (size_t i = 0; i < KP_ARRAY_LEN(base_allowed); i++)
		if (!strcmp(name, base_allowed[i]))
			return true;
	for (size_t i = 0; i < KP_ARRAY_LEN(libs); i++)
		if (!strcmp(name, libs[i]))
			return true;
	return false;
}

/* xpcall(f, msgh, ...) with the handler run once the error has unwound,
 * as ordinary counted code. Lua runs a message handler where the error
 * was raised; when the count hook raised it, hooks are off there, and a
 * handler that loops would never be stopped. Limits and signals (a light
 * userdata) pass through untouched; memory errors skip the handler, as
 * in Lua. */
static int sandbox_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 1);
	for (int i = 3; i <= n; i++)
		lua_pushvalue(L, i);
	int status = lua_pcall(L, n > 2 ? n - 2 : 0, LUA_MULTRET, 0);
	/* stack: f msgh args... results-or-error */
	if (status == LUA_OK) {
		lua_pushboolean(L, 1);
		lua_rotate(L, n + 1, 1);
		return lua_gettop(L) - n;
	}
	if (kp_lua_of(L)->limit_hit || lua_type(L, -1) == LUA_TLIGHTUSERDATA)
		return lua_error(L);
	if (status != LUA_ERRMEM) {
		lua_pushvalue(L, 2);
		lua_insert(L, -2);
		lua_call(L, 1, 1); /* the handler, counted */
	}
	lua_pushboolean(L, 0);
	lua_insert(L, -2);
	return 2;
}

/* setmetatable without __gc: a finalizer runs when the collector gets to
 * it, after the hook or expression that made it has ended and outside
 * every limit (Lua runs finalizers with hooks off). */
static int sandbox_setmetatable(lua_State *L)
{
	if (lua_type(L, 2) == LUA_TTABLE) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: a __gc finalizer is not allowed "
					     "(finalizers run outside every limit)");
		lua_pop(L, 1);
	}
	lua_settop(L, 2);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, 2, 1);
	return 1;
}

static int setup(lua_State *L)
{
	luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
	luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
	luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
	luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
	luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
	lua_settop(L, 0);

	/* Even the real globals are sandboxed, for whoever runs code in them. */
	for (size_t i = 0; i < KP_ARRAY_LEN(base_removed); i++) {
		lua_pushnil(L);
		lua_setglobal(L, base_removed[i]);
	}
	lua_getglobal(L, "string");
	lua_pushnil(L);
	lua_setfield(L, -2, "dump"); /* bytecode is never loaded; no need to make it */
	lua_pop(L, 1);
	lua_pushcfunction(L, sandbox_xpcall);
	lua_setglobal(L, "xpcall");
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, sandbox_setmetatable, 1);
	lua_setglobal(L, "setmetatable");
	luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
	lua_createtable(L, 0, 3);
	static const char *const os_allowed[] = {"time", "clock", "date"};
	for (size_t i = 0; i < KP_ARRAY_LEN(os_allowed); i++) {
		lua_getfield(L, -2, os_allowed[i]);
		lua_setfield(L, -2, os_allowed[i]);
	}
	lua_setglobal(L, "os");
	lua_pop(L, 1);
	/* Protect the string metatable: getmetatable('').__index is `string`. */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);

	/* The builtins every _ENV sees first. */
	lua_newtable(L);
	int b = lua_gettop(L);
	for (size_t i = 0; i < KP_ARRAY_LEN(base_allowed); i++) {
		lua_getglobal(L, base_allowed[i]);
		lua_setfield(L, b, base_allowed[i]);
	}
	for (size_t i = 0; i < KP_ARRAY_LEN(libs); i++) {
		lua_getglobal(L, libs[i]);
		kp_lua_readonly_proxy(L, libs[i], NULL);
		lua_setfield(L, b, libs[i]);
	}
	kp_lua_open_helpers(L, b);
	lua_pushvalue(L, b);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &builtins_key); /* for hooks */

	lua_createtable(L, 0, 2); /* the _ENV metatable */
	lua_pushvalue(L, b);
	lua_pushcclosure(L, env_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &env_mt_key);

	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &dead_env_key);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &pending_key);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
	lua_newtable(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &srcs_key);
	make_undef_mt(L);
	kp_lua_conv_init(L);
	return 0;
}

struct kp_lua *kp_lua_new(void)
{
	struct kp_lua *kl = kp_xcalloc(1, sizeof(*kl));
	kl->mem_max = KP_LUA_MEM_DEFAULT;
	kl->steps_max = KP_LUA_STEPS_DEFAULT;
	kp_buf_init(&kl->scratch);
	kp_buf_init(&kl->scratch2);
	kl->L = lua_newstate(lalloc, kl);
	if (!kl->L) {
		fputs("kplan: out of memory\n", stderr);
		abort();
	}
	*(struct kp_lua **)lua_getextraspace(kl->L) = kl;
	lua_pushcfunction(kl->L, setup);
	if (lua_pcall(kl->L, 0, 0, 0)) {
		fprintf(stderr, "kplan: cannot set up Lua: %s\n", lua_tostring(kl->L, -1));
		abort();
	}
	return kl;
}

void kp_lua_free(struct kp_lua *kl)
{
	if (!kl)
		return;
	lua_close(kl->L);
	for (size_t i = 0; i < kl->nheld; i++)
		kp_value_unref(kl->held[i]);
	free(kl->held);
	kp_var_cache_free(kl);
	kp_buf_release(&kl->nested_msg);
	kp_buf_release(&kl->scratch);
	kp_buf_release(&kl->scratch2);
	free(kl);
}

void kp_lua_set_limits(struct kp_lua *kl, size_t max_bytes, unsigned long long max_steps)
{
	if (max_bytes)
		kl->mem_max = max_bytes;
	if (max_steps)
		kl->steps_max = max_steps;
}

void kp_lua_push_builtins(lua_State *L)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &builtins_key);
}

struct lua_State *kp_lua_state(struct kp_lua *kl)
{
	return kl->L;
}

/* Evaluation */

/* Protected: get (or load and cache) the part's chunk, give it a fresh
 * _ENV and call it. Arguments: kl, part (light userdata). */
static int run_chunk(lua_State *L)
{
	struct kp_lua *kl = lua_touserdata(L, 1);
	const struct kp_xpart *p = lua_touserdata(L, 2);
	bool hit = false;

	lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key); /* 3 */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &srcs_key);  /* 4 */
	if (kl->depth > 1) {
		/* Nested: the cached closure may be running in the outer
		 * evaluation, and its _ENV must stay the outer one. */
		if (luaL_loadbufferx(L, p->chunk, p->chunk_len, "=expr", "t"))
			return lua_error(L);
		hit = true;
	} else if (lua_rawgetp(L, 3, p) == LUA_TFUNCTION) {
		/* The address may belong to a freed template's part: check the text. */
		size_t len;
		lua_rawgetp(L, 4, p);
		const char *s = lua_tolstring(L, -1, &len);
		hit = s && len == p->chunk_len && !memcmp(s, p->chunk, len);
		lua_pop(L, 1);
	}
	if (!hit) {
		lua_pop(L, 1);
		if (kl->ncached >= CACHE_MAX) {
			lua_newtable(L);
			lua_replace(L, 3);
			lua_newtable(L);
			lua_replace(L, 4);
			lua_pushvalue(L, 3);
			lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
			lua_pushvalue(L, 4);
			lua_rawsetp(L, LUA_REGISTRYINDEX, &srcs_key);
			kl->ncached = 0;
		}
		if (luaL_loadbufferx(L, p->chunk, p->chunk_len, "=expr", "t"))
			return lua_error(L);
		lua_pushvalue(L, -1);
		lua_rawsetp(L, 3, p);
		lua_pushlstring(L, p->chunk, p->chunk_len);
		lua_rawsetp(L, 4, p);
		kl->ncached++;
	}
	/* stack: kl p cache srcs chunk */
	lua_createtable(L, 0, 4);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &env_mt_key);
	lua_setmetatable(L, -2);
	lua_setupvalue(L, -2, 1); /* chunk's _ENV = the new table */
	lua_call(L, 0, 1);
	return 1;
}

/* Let go of the last _ENV, so a cached chunk keeps no converted variables
 * alive. Allocates nothing: safe outside protected mode. */
static void reset_env(lua_State *L, const struct kp_xpart *p)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key);
	if (lua_rawgetp(L, -1, p) == LUA_TFUNCTION) {
		lua_rawgetp(L, LUA_REGISTRYINDEX, &dead_env_key);
		lua_setupvalue(L, -2, 1);
	}
	lua_pop(L, 2);
}

const char *kp_lua_strip_chunkname(const char *msg)
{
	if (strncmp(msg, "expr:", 5))
		return msg;
	const char *q = msg + 5;
	while (*q >= '0' && *q <= '9')
		q++;
	if (q > msg + 5 && q[0] == ':' && q[1] == ' ')
		return q + 2;
	return msg;
}

/* The first sentinel of this evaluation that is unknown, else the first
 * one not consumed; NULL when there is none. Leaves nothing on the stack
 * (the sentinel stays reachable from the pending table until cleared). */
static struct kp_undef *find_pending(lua_State *L, int from, int npending)
{
	struct kp_undef *unconsumed = NULL;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &pending_key);
	for (int i = from + 1; i <= npending; i++) {
		lua_rawgeti(L, -1, i);
		struct kp_undef *u = kp_lua_test_undef(L, -1);
		lua_pop(L, 1);
		if (u && u->unknown) {
			lua_pop(L, 1);
			return u;
		}
		if (u && !u->consumed && !unconsumed)
			unconsumed = u;
	}
	lua_pop(L, 1);
	return unconsumed;
}

static void clear_pending(lua_State *L, int from, int npending)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &pending_key);
	for (int i = from + 1; i <= npending; i++) {
		lua_pushnil(L);
		lua_rawseti(L, -2, i);
	}
	lua_pop(L, 1);
}

static kp_rc undef_error(struct kp_buf *err, struct kp_pos pos, const struct kp_undef *u)
{
	if (u->unknown)
		return kp_pos_errorf(err, KP_ERR_UNKNOWN, pos,
				     "'%s' is known only after the hosts are probed", u->name);
	return kp_pos_errorf(err, KP_ERR_UNDEFINED, pos, "undefined variable '%s'", u->name);
}

static kp_rc run_error(lua_State *L, int status, struct kp_lua *kl, int pending_from,
		       const struct kp_xpart *p, struct kp_pos pos, struct kp_buf *err)
{
	if (kl->nested_rc) {
		kp_rc rc = kl->nested_rc;
		kl->nested_rc = KP_OK;
		kp_pos_errorf(err, rc, kp_var_error_pos(kl, pos), "%s", kl->nested_msg.buf);
		return rc;
	}
	if (kl->limit_hit)
		return kp_pos_errorf(err, KP_ERR_LIMIT, pos,
				     "expression '%s' exceeded the instruction limit", p->shown);
	if (status == LUA_ERRMEM) {
		lua_gc(L, LUA_GCCOLLECT);
		return kp_pos_errorf(err, KP_ERR_LIMIT, pos,
				     "expression '%s' exceeded the memory limit", p->shown);
	}
	struct kp_undef *u = kp_lua_test_undef(L, -1);
	if (!u || !u->unknown) {
		struct kp_undef *pending = find_pending(L, pending_from, kl->npending);
		if (pending && (pending->unknown || !u))
			u = pending;
	}
	if (u)
		return undef_error(err, pos, u);
	switch (lua_type(L, -1)) {
	case LUA_TSTRING:
		return kp_pos_errorf(err, KP_ERR_RUNTIME, pos, "error in expression '%s': %s",
				     p->shown, kp_lua_strip_chunkname(lua_tostring(L, -1)));
	case LUA_TNUMBER:
		if (lua_isinteger(L, -1))
			return kp_pos_errorf(err, KP_ERR_RUNTIME, pos,
					     "error in expression '%s': %lld", p->shown,
					     (long long)lua_tointeger(L, -1));
		return kp_pos_errorf(err, KP_ERR_RUNTIME, pos, "error in expression '%s': %.14g",
				     p->shown, (double)lua_tonumber(L, -1));
	default:
		return kp_pos_errorf(err, KP_ERR_RUNTIME, pos,
				     "error in expression '%s': (error object is a %s value)",
				     p->shown, luaL_typename(L, -1));
	}
}

kp_rc kp_lua_eval(struct kp_lua *kl, const struct kp_xpart *p, struct kp_pos pos,
		  const struct kp_scope *s, struct kp_value **out, bool *truth, struct kp_buf *err)
{
	lua_State *L = kl->L;
	int top = lua_gettop(L);
	kp_rc rc = KP_OK;
	/* An evaluation may run inside another one (a hostvars callback that
	 * renders templates): it works on its own share of the pending
	 * sentinels and held values, and gives the outer scope back. The
	 * instruction count goes on: the limit is for the outermost one. */
	const struct kp_scope *outer = kl->scope;
	int pending_from = kl->npending;
	size_t held_from = kl->nheld;

	kl->scope = s;
	kl->depth++;
	if (!outer) {
		kl->steps = 0;
		kl->limit_hit = false;
		lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);
	}
	lua_pushcfunction(L, run_chunk);
	lua_pushlightuserdata(L, kl);
	lua_pushlightuserdata(L, (void *)p);
	int status = lua_pcall(L, 2, 1, 0);
	if (!outer)
		lua_sethook(L, NULL, 0, 0);
	if (kl->depth == 1)
		reset_env(L, p);
	kl->depth--;
	/* stack: result or error object */

	if (status != LUA_OK) {
		rc = run_error(L, status, kl, pending_from, p, pos, err);
	} else {
		struct kp_undef *u = find_pending(L, pending_from, kl->npending);
		if (u) {
			rc = undef_error(err, pos, u);
		} else if (truth) {
			*truth = lua_toboolean(L, -1);
		}
		if (!rc && out) {
			struct kp_buf msg = KP_BUF_INIT;
			rc = kp_lua_to_value(L, -1, out, &msg);
			if (rc == KP_ERR_UNDEFINED || rc == KP_ERR_UNKNOWN)
				kp_pos_errorf(err, rc, pos, "%s", msg.buf);
			else if (rc)
				kp_pos_errorf(err, rc, pos, "error in expression '%s': %s",
					      p->shown, msg.buf);
			kp_buf_release(&msg);
		}
	}
	clear_pending(L, pending_from, kl->npending);
	kl->npending = pending_from;
	for (size_t i = held_from; i < kl->nheld; i++)
		kp_value_unref(kl->held[i]);
	kl->nheld = held_from;
	kl->scope = outer;
	lua_settop(L, top);
	return rc;
}
