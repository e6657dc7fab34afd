/*
 * luaapi.c - running one Lua hook or custom step: the sandboxed globals it
 * sees, the `kplan` API, the limits of one call, and how its end (a return,
 * kplan.fail/skip, a Lua error, a limit) becomes a kp_hook_outcome with a
 * message naming the file and line.
 *
 * The state is the worker's expression state (luastate.c), so the sandbox
 * is the same: base, string, table, math, utf8 and os.time/clock/date.
 * Hooks get their own globals table per call whose __index is a table of
 * builtins made once per state: the expression builtins (helpers and
 * read-only library proxies), `kplan`, a text-only `load`, `print` (as
 * kplan.log), and stand-ins for io, os.execute, require, dofile, loadfile,
 * package and debug that raise a clear error instead of "attempt to index
 * a nil value".
 *
 * Limits (as HAProxy does for its Lua): a count hook every HOOK_STEP
 * instructions, and the state's capped allocator with the cap raised to
 * what the state holds plus the call's budget. kplan.fail, kplan.skip and
 * a limit "stick": once raised, the count hook fires at every instruction
 * and raises again, so pcall cannot swallow them.
 *
 * Everything C-owned that the API hands to Lua is either held in the call
 * (struct call buffers) or held by the state (kp_lua_hold) until the call
 * ends, so a Lua error or memory error thrown while pushing leaks nothing.
 */
#include "engine/hooks.h"
#include "expr/luaint.h"
#include "transport/transport.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_STEP     1000		/* instructions between two calls of the count hook */
#define CHUNK_MAX     256		/* hook chunks cached per state before the cache is reset */
#define MSGH_HEADROOM ((size_t)4 << 20) /* memory the message handler may use */

/* Registry keys (their addresses only). */
static const char env_mt_key, chunks_key, cur_env_key, signal_key;

struct call {
	struct kp_lua *kl;
	struct kp_hookcall *c;
	uint64_t steps, max_steps;
	bool steps_hit, mem_hit;
	char where[LUA_IDSIZE + 24]; /* of the limit hit or signal */
	enum kp_hook_outcome signal; /* KP_HOOK_OK: none */
	struct kp_buf sigmsg;
	struct kp_buf err, tmp; /* scratch for API functions (freed with the call) */
	struct kp_exec_res res; /* kplan.run's output while it is pushed */
};

static struct call *call_of(lua_State *L)
{
	return kp_lua_of(L)->hook_data;
}

/* "file:line" of the first Lua function at or above `level`, or "" */
static void where_at(lua_State *L, int level, char *out, size_t size)
{
	lua_Debug ar;
	out[0] = '\0';
	for (; lua_getstack(L, level, &ar); level++) {
		if (!lua_getinfo(L, "Sl", &ar))
			break;
		if (ar.currentline > 0) {
			snprintf(out, size, "%s:%d", ar.short_src, ar.currentline);
			return;
		}
	}
}

/* Raise the call's signal (fail, skip, not run, limit): a light userdata
 * that the message handler lets through untouched. */
static int raise_signal(lua_State *L)
{
	lua_pushlightuserdata(L, (void *)&signal_key);
	return lua_error(L);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
	struct call *cl = call_of(L);
	(void)ar;
	if (cl->signal != KP_HOOK_OK || cl->steps_hit) {
		raise_signal(L);
		return;
	}
	cl->steps += HOOK_STEP;
	if (cl->steps <= cl->max_steps)
		return;
	cl->steps_hit = true;
	where_at(L, 0, cl->where, sizeof(cl->where));
	/* from now on at every instruction, so pcall loops cannot go on */
	lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
	raise_signal(L);
}

/* The allocator refused memory. Runs inside the allocator: it may read the
 * stack but must not allocate. Lua 5.4.5 and later move the stack to
 * offsets while they reallocate it, so only 5.4.4 and earlier look. */
static void mem_refused(struct kp_lua *kl)
{
	struct call *cl = kl->hook_data;
	if (!cl || cl->mem_hit)
		return;
	cl->mem_hit = true;
#if LUA_VERSION_RELEASE_NUM <= 50404
	where_at(kl->L, 0, cl->where, sizeof(cl->where));
#endif
}

/* Start a signal: the first one wins; the message is "where: text". */
static int signal_fmt(lua_State *L, enum kp_hook_outcome what, bool with_where, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));
static int signal_fmt(lua_State *L, enum kp_hook_outcome what, bool with_where, const char *fmt,
		      ...)
{
	struct call *cl = call_of(L);
	if (cl->signal == KP_HOOK_OK && !cl->steps_hit) {
		char w[sizeof(cl->where)];
		cl->signal = what;
		kp_buf_reset(&cl->sigmsg);
		where_at(L, 1, w, sizeof(w));
		if (with_where && w[0])
			kp_buf_addf(&cl->sigmsg, "%s: ", w);
		va_list ap;
		va_start(ap, fmt);
		kp_buf_vaddf(&cl->sigmsg, fmt, ap);
		va_end(ap);
		lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
	}
	return raise_signal(L);
}

/* In check mode, a call that acts ends a hook that did not declare itself
 * read-only. */
static void acting(lua_State *L, const char *fn)
{
	struct call *cl = call_of(L);
	if (cl->c->check_mode && !cl->c->readonly)
		signal_fmt(L, KP_HOOK_NOT_RUN, true,
			   "not run in check mode: it calls %s without declaring itself "
			   "read-only (kplan.readonly() at its top)",
			   fn);
}

/* Raise "kplan.NAME: message" from the call's err buffer (no C memory is
 * left to free: the buffer belongs to the call). */
static int api_error(lua_State *L, const char *fn)
{
	struct call *cl = call_of(L);
	return luaL_error(L, "%s: %s", fn, cl->err.buf ? cl->err.buf : "failed");
}

static const char *host_arg(lua_State *L, int idx, const char *fn)
{
	struct call *cl = call_of(L);
	const char *h = luaL_optstring(L, idx, cl->c->host);
	if (!h)
		luaL_error(L, "%s: no host given, and this hook runs for no host", fn);
	return h;
}

/* Push v, holding a reference until the call ends (the push may raise). */
static void push_held(lua_State *L, struct kp_value *v)
{
	kp_lua_hold(kp_lua_of(L), v);
	kp_lua_push_value(L, v);
}

/* ---- the kplan API ---------------------------------------------------- */

static int api_run(lua_State *L)
{
	struct call *cl = call_of(L);
	const char *host = host_arg(L, 1, "kplan.run");
	const char *cmd = luaL_checkstring(L, 2);
	struct kp_hook_runopts o = {.become = -1};
	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		if (lua_getfield(L, 3, "timeout") != LUA_TNIL) {
			lua_Number s = luaL_checknumber(L, -1);
			if (s <= 0)
				return luaL_error(L, "kplan.run: timeout must be positive seconds");
			o.timeout_ms = (int64_t)(s * 1000);
		}
		if (lua_getfield(L, 3, "become") != LUA_TNIL)
			o.become = lua_toboolean(L, -1);
		if (lua_getfield(L, 3, "become_user") != LUA_TNIL)
			o.become_user = luaL_checkstring(L, -1);
		if (lua_getfield(L, 3, "stdin") != LUA_TNIL)
			o.stdin_data = luaL_checklstring(L, -1, &o.stdin_len);
		/* stack: host cmd opts timeout become become_user stdin (kept alive) */
	}
	acting(L, "kplan.run");
	kp_exec_res_release(&cl->res);
	kp_exec_res_init(&cl->res);
	kp_buf_reset(&cl->err);
	if (cl->c->ops->run(cl->c->ops_ctx, host, cmd, &o, &cl->res, &cl->err))
		return api_error(L, "kplan.run");
	lua_pushinteger(L, cl->res.rc);
	lua_pushlstring(L, cl->res.out.buf ? cl->res.out.buf : "", cl->res.out.len);
	lua_pushlstring(L, cl->res.err.buf ? cl->res.err.buf : "", cl->res.err.len);
	return 3;
}

static int api_log(lua_State *L)
{
	struct call *cl = call_of(L);
	int n = lua_gettop(L);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addchar(&b, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	cl->c->ops->log(cl->c->ops_ctx, lua_tostring(L, -1));
	return 0;
}

static int api_fail(lua_State *L)
{
	const char *msg = lua_isnoneornil(L, 1) ? "failed" : luaL_tolstring(L, 1, NULL);
	return signal_fmt(L, KP_HOOK_FAILED, true, "%s", msg);
}

static int api_skip(lua_State *L)
{
	const char *msg = lua_isnoneornil(L, 1) ? "skipped by a hook" : luaL_tolstring(L, 1, NULL);
	return signal_fmt(L, KP_HOOK_SKIPPED, false, "%s", msg);
}

static int api_set_var(lua_State *L)
{
	struct call *cl = call_of(L);
	const char *host = host_arg(L, 1, "kplan.set_var");
	const char *name = luaL_checkstring(L, 2);
	struct kp_value *v = NULL;
	if (!kp_valid_var_name(name))
		return luaL_error(L, "kplan.set_var: invalid variable name '%s'", name);
	acting(L, "kplan.set_var");
	kp_buf_reset(&cl->err);
	if (!lua_isnoneornil(L, 3) && kp_lua_to_value(L, 3, &v, &cl->err))
		return api_error(L, "kplan.set_var");
	kp_rc rc = cl->c->ops->set_var(cl->c->ops_ctx, host, name, v, &cl->err);
	kp_value_unref(v);
	if (rc)
		return api_error(L, "kplan.set_var");
	return 0;
}

static int api_get_var(lua_State *L)
{
	struct call *cl = call_of(L);
	const char *host = host_arg(L, 1, "kplan.get_var");
	const char *name = luaL_checkstring(L, 2);
	struct kp_value *v = NULL;
	kp_buf_reset(&cl->err);
	if (cl->c->ops->get_var(cl->c->ops_ctx, cl->kl, host, name, &v, &cl->err))
		return api_error(L, "kplan.get_var");
	if (!v) {
		lua_pushnil(L);
		return 1;
	}
	push_held(L, v);
	return 1;
}

static int api_kube(lua_State *L)
{
	struct call *cl = call_of(L);
	const char *method = luaL_checkstring(L, 1);
	const char *path = luaL_checkstring(L, 2);
	const char *body = NULL;
	char m[16];
	size_t i;
	for (i = 0; method[i] && i < sizeof(m) - 1; i++)
		m[i] = (char)(method[i] >= 'a' && method[i] <= 'z' ? method[i] - 32 : method[i]);
	m[i] = '\0';
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	bool known = false;
	for (size_t k = 0; k < KP_ARRAY_LEN(methods); k++)
		known |= !strcmp(m, methods[k]);
	if (!known || method[i])
		return luaL_error(
		    L, "kplan.kube: unknown method '%s' (GET, POST, PUT, PATCH, DELETE)", method);
	if (path[0] != '/')
		return luaL_error(L, "kplan.kube: the path must start with '/' (got '%s')", path);
	acting(L, "kplan.kube");
	if (cl->c->readonly && strcmp(m, "GET"))
		return luaL_error(
		    L, "kplan.kube: %s is not allowed in a read-only hook or step (only GET)", m);
	if (lua_type(L, 3) == LUA_TSTRING) {
		body = lua_tostring(L, 3);
	} else if (!lua_isnoneornil(L, 3)) {
		struct kp_value *v = NULL;
		kp_buf_reset(&cl->err);
		if (kp_lua_to_value(L, 3, &v, &cl->err))
			return api_error(L, "kplan.kube");
		kp_buf_reset(&cl->tmp);
		kp_value_to_json(v, false, false, &cl->tmp);
		kp_value_unref(v);
		body = cl->tmp.buf;
	}
	long status = 0;
	struct kp_value *json = NULL;
	kp_buf_reset(&cl->err);
	if (cl->c->ops->kube(cl->c->ops_ctx, m, path, body, &status, &json, &cl->err))
		return api_error(L, "kplan.kube");
	lua_pushinteger(L, status);
	if (json)
		push_held(L, json);
	else
		lua_pushnil(L);
	return 2;
}

static int api_sleep(lua_State *L)
{
	lua_Number s = luaL_checknumber(L, 1);
	if (!(s >= 0 && s <= KP_HOOK_SLEEP_MAX_S))
		return luaL_error(L, "kplan.sleep: seconds must be from 0 to %d (got %f)",
				  KP_HOOK_SLEEP_MAX_S, (double)s);
	acting(L, "kplan.sleep");
	struct timespec ts = {(time_t)s, (long)((s - (lua_Number)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts))
		;
	return 0;
}

static int api_check_mode(lua_State *L)
{
	lua_pushboolean(L, call_of(L)->c->check_mode);
	return 1;
}

static int api_readonly(lua_State *L)
{
	call_of(L)->c->readonly = true;
	return 0;
}

static const luaL_Reg kplan_api[] = {
    {"run", api_run},
    {"log", api_log},
    {"fail", api_fail},
    {"skip", api_skip},
    {"set_var", api_set_var},
    {"get_var", api_get_var},
    {"kube", api_kube},
    {"sleep", api_sleep},
    {"check_mode", api_check_mode},
    {"readonly", api_readonly},
    {NULL, NULL},
};

/* ---- the sandbox's stand-ins ------------------------------------------ */

static int refuse(lua_State *L)
{
	return luaL_error(L, "%s is not available in kplan's Lua sandbox%s",
			  lua_tostring(L, lua_upvalueindex(1)),
			  lua_tostring(L, lua_upvalueindex(2)));
}

/* __index of a refused library: upvalue 1 its name, 2 what to say. */
static int refuse_index(lua_State *L)
{
	const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
	return luaL_error(L, "%s.%s is not available in kplan's Lua sandbox%s",
			  lua_tostring(L, lua_upvalueindex(1)), key,
			  lua_tostring(L, lua_upvalueindex(2)));
}

/* __index of `os`: upvalue 1 the table of allowed functions */
static int os_index(lua_State *L)
{
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	const char *key = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
	return luaL_error(L,
			  "os.%s is not available in kplan's Lua sandbox (only os.time, os.clock "
			  "and os.date; run commands on a host with kplan.run)",
			  key);
}

static int readonly_newindex(lua_State *L)
{
	return luaL_error(L, "cannot modify '%s'", lua_tostring(L, lua_upvalueindex(1)));
}

/* Wrap the table at the top in a read-only proxy named `name`; the proxy
 * replaces it. index: a C function to use as __index instead of the table
 * (it gets the table as upvalue 1). */
static void proxy(lua_State *L, const char *name, lua_CFunction index)
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

static void set_refused_lib(lua_State *L, int t, const char *name, const char *why)
{
	lua_newtable(L);
	lua_createtable(L, 0, 2);
	lua_pushstring(L, name);
	lua_pushstring(L, why);
	lua_pushcclosure(L, refuse_index, 2);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_setfield(L, t, name);
}

static void set_refused_fn(lua_State *L, int t, const char *name, const char *why)
{
	lua_pushstring(L, name);
	lua_pushstring(L, why);
	lua_pushcclosure(L, refuse, 2);
	lua_setfield(L, t, name);
}

/* load(chunk [, chunkname [, mode [, env]]]): Lua source text only; the
 * globals of the calling hook unless env is given. Bytecode is an error. */
static int hook_load(lua_State *L)
{
	size_t len;
	if (lua_type(L, 1) != LUA_TSTRING)
		return luaL_error(L, "load: only a string of Lua source can be loaded in kplan's "
				     "Lua sandbox");
	const char *s = lua_tolstring(L, 1, &len);
	if (len && s[0] == LUA_SIGNATURE[0])
		return luaL_error(L, "load: bytecode is not allowed in kplan's Lua sandbox (load "
				     "Lua source text)");
	const char *name = luaL_optstring(L, 2, s);
	if (luaL_loadbufferx(L, s, len, name, "t") != LUA_OK) {
		lua_pushnil(L);
		lua_insert(L, -2);
		return 2; /* nil, message: as load does */
	}
	if (!lua_isnoneornil(L, 4))
		lua_pushvalue(L, 4);
	else
		lua_rawgetp(L, LUA_REGISTRYINDEX, &cur_env_key);
	lua_setupvalue(L, -2, 1);
	return 1;
}

/* print(...) as kplan.log(...) */
static int hook_print(lua_State *L)
{
	return api_log(L);
}

/* Protected: the builtins of every hook, once per state (the metatable of
 * a hook's globals). */
static void make_env_mt(lua_State *L)
{
	static const char sandbox[] = " (hooks cannot reach the controller's files or "
				      "programs; use kplan.run on a host)";
	lua_newtable(L);
	int b = lua_gettop(L);
	kp_lua_push_builtins(L);
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		/* stack: b builtins key value */
		lua_pushvalue(L, -2);
		lua_insert(L, -2);
		lua_rawset(L, b);
	}
	lua_pop(L, 1);

	luaL_newlib(L, kplan_api);
	proxy(L, "kplan", NULL);
	lua_setfield(L, b, "kplan");

	lua_createtable(L, 0, 3);
	static const char *const os_allowed[] = {"time", "clock", "date"};
	lua_getglobal(L, "os"); /* the state's os: only these three */
	for (size_t i = 0; i < KP_ARRAY_LEN(os_allowed); i++) {
		lua_getfield(L, -1, os_allowed[i]);
		lua_setfield(L, -3, os_allowed[i]);
	}
	lua_pop(L, 1);
	proxy(L, "os", os_index);
	lua_setfield(L, b, "os");

	set_refused_lib(L, b, "io", sandbox);
	set_refused_lib(L, b, "package", " (hooks are single files)");
	set_refused_lib(L, b, "debug", "");
	set_refused_fn(L, b, "require", " (hooks are single files)");
	set_refused_fn(L, b, "dofile", sandbox);
	set_refused_fn(L, b, "loadfile", sandbox);
	set_refused_fn(L, b, "collectgarbage", "");
	lua_pushcfunction(L, hook_load);
	lua_setfield(L, b, "load");
	lua_pushcfunction(L, hook_print);
	lua_setfield(L, b, "print");

	lua_createtable(L, 0, 2);
	lua_pushvalue(L, b);
	lua_setfield(L, -2, "__index");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &env_mt_key);
	lua_pop(L, 1);
}

/* ---- ctx.vars --------------------------------------------------------- */

/* __index of ctx.vars: upvalue 1 the cache of converted values. */
static int vars_index(lua_State *L)
{
	struct call *cl = call_of(L);
	const struct kp_scope *s = cl ? cl->c->vars : NULL;
	if (!s || lua_type(L, 2) != LUA_TSTRING) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL)
		return 1;
	lua_pop(L, 1);
	size_t len;
	const char *name = lua_tolstring(L, 2, &len);
	const struct kp_value *v = NULL;
	for (size_t i = s->nlayers; i-- > 0 && !v;)
		if (s->layers[i])
			v = kp_map_getn(s->layers[i], name, len);
	if (!v) {
		lua_pushnil(L);
		return 1;
	}
	struct kp_value *r = NULL;
	kp_buf_reset(&cl->err);
	if (kp_var_resolve(cl->kl, name, v, s, &r, &cl->err))
		return luaL_error(L, "ctx.vars.%s: %s", name, cl->err.buf);
	if (r) {
		push_held(L, r);
	} else {
		kp_lua_push_value(L, v); /* v lives as long as the scope: the call */
	}
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, lua_upvalueindex(1)); /* convert each variable once per call */
	return 1;
}

static int vars_newindex(lua_State *L)
{
	return luaL_error(L, "ctx.vars is read-only (use kplan.set_var)");
}

static void push_vars(lua_State *L)
{
	lua_newtable(L);
	lua_createtable(L, 0, 3);
	lua_newtable(L);
	lua_pushcclosure(L, vars_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, vars_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
}

/* ---- one call --------------------------------------------------------- */

/* Protected: the chunk for c (cached per chunk name while the code is the
 * same), pushed. */
static void push_chunk(lua_State *L, struct kp_hookcall *c)
{
	struct kp_lua *kl = kp_lua_of(L);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &chunks_key) != LUA_TTABLE ||
	    kl->hook_chunks >= CHUNK_MAX) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_rawsetp(L, LUA_REGISTRYINDEX, &chunks_key);
		kl->hook_chunks = 0;
	}
	int cache = lua_gettop(L);
	if (lua_getfield(L, cache, c->chunkname) == LUA_TTABLE) {
		size_t len;
		lua_rawgeti(L, -1, 1);
		const char *s = lua_tolstring(L, -1, &len);
		if (s && len == c->len && !memcmp(s, c->code, len)) {
			lua_rawgeti(L, -2, 2);
			/* stack: cache entry code fn */
			lua_replace(L, cache);
			lua_settop(L, cache);
			return;
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (luaL_loadbufferx(L, c->code, c->len, c->chunkname, "t") != LUA_OK)
		lua_error(L); /* a syntax error (a step's script changed since the plan loaded) */
	lua_createtable(L, 2, 0);
	lua_pushlstring(L, c->code, c->len);
	lua_rawseti(L, -2, 1);
	lua_pushvalue(L, -2);
	lua_rawseti(L, -2, 2);
	lua_setfield(L, cache, c->chunkname);
	kl->hook_chunks++;
	lua_replace(L, cache);
	/* stack: fn */
}

/* Protected: run the chunk with fresh globals. Argument: the call. */
static int call_main(lua_State *L)
{
	struct call *cl = lua_touserdata(L, 1);
	struct kp_hookcall *c = cl->c;
	lua_settop(L, 0);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &env_mt_key) == LUA_TNIL)
		make_env_mt(L);
	lua_settop(L, 0);
	push_chunk(L, c);	  /* 1 */
	lua_createtable(L, 0, 4); /* 2: the globals */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &env_mt_key);
	lua_setmetatable(L, 2);
	if (c->ctx)
		kp_lua_push_value(L, c->ctx); /* 3: the context */
	else
		lua_newtable(L);
	if (c->vars) {
		push_vars(L);
		lua_setfield(L, 3, "vars");
	}
	lua_pushvalue(L, 3);
	lua_setfield(L, 2, "ctx");
	lua_pushvalue(L, 2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &cur_env_key); /* for load() */
	lua_pushvalue(L, 2);
	lua_setupvalue(L, 1, 1); /* the chunk's _ENV */
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 3);
	/* stack: chunk globals ctx chunk ctx */
	lua_call(L, 1, 1);
	return 1;
}

/* Protected: let go of the last call's globals (the cached chunk and the
 * registry would keep them, and whatever the hook built, alive). */
static int call_cleanup(lua_State *L)
{
	struct kp_hookcall *c = lua_touserdata(L, 1);
	lua_pushnil(L);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &cur_env_key);
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &chunks_key) == LUA_TTABLE &&
	    lua_getfield(L, -1, c->chunkname) == LUA_TTABLE &&
	    lua_rawgeti(L, -1, 2) == LUA_TFUNCTION) {
		lua_newtable(L);
		lua_setupvalue(L, -2, 1);
	}
	return 0;
}

/* The message handler: the error as one line starting with file:line, and
 * the traceback kept for -v. Signals pass untouched. */
static int msgh(lua_State *L)
{
	struct call *cl = call_of(L);
	if (lua_touserdata(L, 1) == &signal_key)
		return 1;
	cl->kl->mem_max += MSGH_HEADROOM; /* room to format the message */
	const char *msg;
	if (lua_type(L, 1) == LUA_TSTRING) {
		msg = lua_tostring(L, 1);
	} else if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
		msg = lua_tostring(L, -1);
	} else {
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	/* Lua puts "file:line: " first unless error() was given level 0 or a
	 * non-string: add where it was raised then. */
	char w[LUA_IDSIZE + 24];
	where_at(L, 1, w, sizeof(w));
	if (w[0] && strncmp(msg, w, strchr(w, ':') - w + 1) != 0)
		msg = lua_pushfstring(L, "%s: %s", w, msg);
	luaL_traceback(L, L, msg, 1);
	kp_buf_reset(&cl->c->traceback);
	kp_buf_addstr(&cl->c->traceback, lua_tostring(L, -1));
	lua_pushstring(L, msg);
	return 1;
}

void kp_hook_size_text(size_t n, struct kp_buf *out)
{
	if (n >= ((size_t)1 << 30) && !(n & ((1u << 30) - 1)))
		kp_buf_addf(out, "%zu GiB", n >> 30);
	else if (n >= ((size_t)1 << 20) && !(n & ((1u << 20) - 1)))
		kp_buf_addf(out, "%zu MiB", n >> 20);
	else if (n >= 1024 && !(n & 1023))
		kp_buf_addf(out, "%zu KiB", n >> 10);
	else
		kp_buf_addf(out, "%zu bytes", n);
}

/* The file of the chunk as Lua shows it (for messages without a line). */
static void chunk_short(const char *chunkname, struct kp_buf *out)
{
	kp_buf_addstr(out, chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname);
}

void kp_hook_call(struct kp_lua *kl, struct kp_hookcall *c)
{
	lua_State *L = kl->L;
	int top = lua_gettop(L);
	struct call cl = {.kl = kl, .c = c};
	static const struct kp_scope empty_scope;
	const struct kp_scope *outer_scope = kl->scope;
	size_t outer_max = kl->mem_max, held_from = kl->nheld;
	size_t budget = c->max_memory ? c->max_memory : KP_HOOK_MEM_DEFAULT;

	kp_buf_reset(&c->msg);
	kp_buf_reset(&c->traceback);
	kp_value_unref(c->ret);
	c->ret = NULL;
	c->readonly = false;
	c->outcome = KP_HOOK_OK;
	kp_buf_init(&cl.sigmsg);
	kp_buf_init(&cl.err);
	kp_buf_init(&cl.tmp);
	kp_exec_res_init(&cl.res);
	cl.max_steps = c->max_instructions ? c->max_instructions : KP_HOOK_STEPS_DEFAULT;

	/* The budget is on top of what the state holds (cached chunks,
	 * converted templates), so one hook's garbage is no other's limit. */
	lua_gc(L, LUA_GCCOLLECT);
	kl->mem_max = kl->mem + budget < kl->mem ? SIZE_MAX : kl->mem + budget;
	kl->hook_data = &cl;
	kl->mem_refused = mem_refused;
	/* Expressions evaluated by the API (get_var, ctx.vars) run nested
	 * under this scope, so they leave the count hook alone. */
	kl->scope = c->vars ? c->vars : &empty_scope;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_STEP);

	lua_pushcfunction(L, msgh);
	lua_pushcfunction(L, call_main);
	lua_pushlightuserdata(L, &cl);
	int status = lua_pcall(L, 1, 1, top + 1);
	/* stack: msgh result-or-error */

	lua_sethook(L, NULL, 0, 0);
	kl->mem_refused = NULL;
	kl->mem_max = outer_max + budget; /* room to clean up */
	if (status == LUA_OK) {
		if (!lua_isnil(L, -1)) {
			kp_buf_reset(&cl.err);
			if (kp_lua_to_value(L, -1, &c->ret, &cl.err)) {
				c->outcome = KP_HOOK_FAILED;
				kp_buf_addf(&c->msg, "%s: cannot use the value it returned: %s",
					    c->chunkname + 1, cl.err.buf);
			}
		}
	} else if (cl.steps_hit) {
		c->outcome = KP_HOOK_FAILED;
		if (cl.where[0])
			kp_buf_addf(&c->msg, "%s: ", cl.where);
		else {
			chunk_short(c->chunkname, &c->msg);
			kp_buf_addstr(&c->msg, ": ");
		}
		kp_buf_addf(&c->msg, "instruction limit exceeded (%llu instructions)",
			    (unsigned long long)cl.max_steps);
	} else if (cl.signal != KP_HOOK_OK) {
		c->outcome = cl.signal;
		kp_buf_add(&c->msg, cl.sigmsg.buf, cl.sigmsg.len);
	} else if (status == LUA_ERRMEM) {
		c->outcome = KP_HOOK_FAILED;
		if (cl.where[0])
			kp_buf_addf(&c->msg, "%s: ", cl.where);
		else {
			chunk_short(c->chunkname, &c->msg);
			kp_buf_addstr(&c->msg, ": ");
		}
		kp_buf_addstr(&c->msg, "memory limit exceeded (");
		kp_hook_size_text(budget, &c->msg);
		kp_buf_addstr(&c->msg, ")");
	} else {
		c->outcome = KP_HOOK_FAILED;
		const char *m = lua_tostring(L, -1);
		if (status == LUA_ERRERR)
			m = "error in the error handler";
		kp_buf_addstr(&c->msg, m ? m : "(error object is not a string)");
	}
	if (c->outcome == KP_HOOK_FAILED)
		kp_buf_escape_newlines(&c->msg, 0);
	lua_settop(L, top);
	lua_pushcfunction(L, call_cleanup);
	lua_pushlightuserdata(L, c);
	lua_pcall(L, 1, 0, 0);
	lua_settop(L, top);
	lua_gc(L, LUA_GCCOLLECT);

	for (size_t i = held_from; i < kl->nheld; i++)
		kp_value_unref(kl->held[i]);
	kl->nheld = held_from;
	kl->scope = outer_scope;
	kl->hook_data = NULL;
	kl->mem_max = outer_max;
	kp_buf_release(&cl.sigmsg);
	kp_buf_release(&cl.err);
	kp_buf_release(&cl.tmp);
	kp_exec_res_release(&cl.res);
}

void kp_hookcall_release(struct kp_hookcall *c)
{
	kp_buf_release(&c->msg);
	kp_buf_release(&c->traceback);
	kp_value_unref(c->ret);
	c->ret = NULL;
}
