/*
 * luaapi_env.c - what a Lua hook or step sees: the `kplan` API (run, log,
 * fail, skip, set_var, get_var, kube, sleep, check_mode, readonly), the
 * sandbox's stand-ins for what it lacks (io, os.execute, require, ...),
 * a text-only load, print, and ctx.vars. The call itself, its limits and
 * its outcome are luaapi.c's.
 */
#include "engine/hooks.h"
#include "engine/luaapi_int.h"
#include "transport/transport.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* In check mode, a call that acts ends a hook that did not declare itself
 * read-only. */
static void acting(lua_State *L, const char *fn)
{
	struct call *cl = kp_hookapi_call_of(L);
	if (cl->c->check_mode && !cl->c->readonly)
		kp_hookapi_signal(L, KP_HOOK_NOT_RUN, true,
				  "not run in check mode: it calls %s without declaring itself "
				  "read-only (kplan.readonly() at its top)",
				  fn);
}

/* Raise "kplan.NAME: message" from the call's err buffer (no C memory is
 * left to free: the buffer belongs to the call). */
static int api_error(lua_State *L, const char *fn)
{
	struct call *cl = kp_hookapi_call_of(L);
	return luaL_error(L, "%s: %s", fn, cl->err.buf ? cl->err.buf : "failed");
}

static const char *host_arg(lua_State *L, int idx, const char *fn)
{
	struct call *cl = kp_hookapi_call_of(L);
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
	struct call *cl = kp_hookapi_call_of(L);
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
	struct call *cl = kp_hookapi_call_of(L);
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
	return kp_hookapi_signal(L, KP_HOOK_FAILED, true, "%s", msg);
}

static int api_skip(lua_State *L)
{
	const char *msg = lua_isnoneornil(L, 1) ? "skipped by a hook" : luaL_tolstring(L, 1, NULL);
	return kp_hookapi_signal(L, KP_HOOK_SKIPPED, false, "%s", msg);
}

static int api_set_var(lua_State *L)
{
	struct call *cl = kp_hookapi_call_of(L);
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
	struct call *cl = kp_hookapi_call_of(L);
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
	struct call *cl = kp_hookapi_call_of(L);
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
	const volatile sig_atomic_t *stop = kp_hookapi_call_of(L)->c->interrupts;
	/* the first Ctrl-C or SIGTERM ends the sleep, whichever thread it
	 * reached */
	if (kp_sleep_interruptible((int64_t)(s * 1000), stop))
		return kp_hookapi_signal(L, KP_HOOK_FAILED, true, "interrupted");
	return 0;
}

static int api_check_mode(lua_State *L)
{
	lua_pushboolean(L, kp_hookapi_call_of(L)->c->check_mode);
	return 1;
}

static int api_readonly(lua_State *L)
{
	kp_hookapi_call_of(L)->c->readonly = true;
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
		lua_rawgetp(L, LUA_REGISTRYINDEX, &kp_hookapi_cur_env_key);
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
void kp_hookapi_make_env_mt(lua_State *L)
{
	kp_hookapi_patterns(L); /* counted, before any hook runs */
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
	kp_lua_readonly_proxy(L, "kplan", NULL);
	lua_setfield(L, b, "kplan");

	lua_createtable(L, 0, 3);
	static const char *const os_allowed[] = {"time", "clock", "date"};
	lua_getglobal(L, "os"); /* the state's os: only these three */
	for (size_t i = 0; i < KP_ARRAY_LEN(os_allowed); i++) {
		lua_getfield(L, -1, os_allowed[i]);
		lua_setfield(L, -3, os_allowed[i]);
	}
	lua_pop(L, 1);
	kp_lua_readonly_proxy(L, "os", os_index);
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
	lua_rawsetp(L, LUA_REGISTRYINDEX, &kp_hookapi_env_mt_key);
	lua_pop(L, 1);
}

/* ---- ctx.vars --------------------------------------------------------- */

/* __index of ctx.vars: upvalue 1 the cache of converted values. */
static int vars_index(lua_State *L)
{
	struct call *cl = kp_hookapi_call_of(L);
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
	const struct kp_value *v = kp_scope_getn(s, name, len);
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

void kp_hookapi_push_vars(lua_State *L)
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
