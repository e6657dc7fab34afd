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
#include "engine/luaapi_int.h"
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
static const char chunks_key, signal_key;
const char kp_hookapi_env_mt_key, kp_hookapi_cur_env_key;

struct call *kp_hookapi_call_of(lua_State *L)
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
int kp_hookapi_raise(lua_State *L)
{
	lua_pushlightuserdata(L, (void *)&signal_key);
	return lua_error(L);
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* n more instructions of call cl; past its limit, or once it is signalled
 * or interrupted, the call is raised out of, and from then on the hook runs
 * at every instruction, so that pcall loops cannot go on. */
static void charge(lua_State *L, struct call *cl, uint64_t n)
{
	if (cl->signal != KP_HOOK_OK || cl->steps_hit || cl->interrupted) {
		kp_hookapi_raise(L);
		return;
	}
	if (cl->c->interrupts && *cl->c->interrupts > 0) {
		/* the operator wants out: no Lua code outlives Ctrl-C */
		cl->interrupted = true;
	} else {
		cl->steps += n;
		if (cl->steps <= cl->max_steps)
			return;
		cl->steps_hit = true;
	}
	where_at(L, 0, cl->where, sizeof(cl->where));
	lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
	kp_hookapi_raise(L);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	charge(L, kp_hookapi_call_of(L), HOOK_STEP);
}

void kp_hookapi_charge(lua_State *L, uint64_t n)
{
	struct kp_lua *kl = kp_lua_of(L);
	struct call *cl = kl->hook_data;
	if (!cl) {
		/* an expression: its own count (luastate.c) */
		kl->steps += n;
		if (kl->steps > kl->steps_max) {
			kl->limit_hit = true;
			luaL_error(L, "instruction limit exceeded");
		}
		return;
	}
	charge(L, cl, n);
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
int kp_hookapi_signal(lua_State *L, enum kp_hook_outcome what, bool with_where, const char *fmt,
		      ...)
{
	struct call *cl = kp_hookapi_call_of(L);
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
	return kp_hookapi_raise(L);
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
	if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kp_hookapi_env_mt_key) == LUA_TNIL)
		kp_hookapi_make_env_mt(L);
	lua_settop(L, 0);
	push_chunk(L, c);	  /* 1 */
	lua_createtable(L, 0, 4); /* 2: the globals */
	lua_rawgetp(L, LUA_REGISTRYINDEX, &kp_hookapi_env_mt_key);
	lua_setmetatable(L, 2);
	if (c->ctx)
		kp_lua_push_value(L, c->ctx); /* 3: the context */
	else
		lua_newtable(L);
	if (c->vars) {
		kp_hookapi_push_vars(L);
		lua_setfield(L, 3, "vars");
	}
	lua_pushvalue(L, 3);
	lua_setfield(L, 2, "ctx");
	lua_pushvalue(L, 2);
	lua_rawsetp(L, LUA_REGISTRYINDEX, &kp_hookapi_cur_env_key); /* for load() */
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
	lua_rawsetp(L, LUA_REGISTRYINDEX, &kp_hookapi_cur_env_key);
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
	struct call *cl = kp_hookapi_call_of(L);
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
	} else if (cl.interrupted) {
		c->outcome = KP_HOOK_FAILED;
		if (cl.where[0])
			kp_buf_addf(&c->msg, "%s: ", cl.where);
		else {
			chunk_short(c->chunkname, &c->msg);
			kp_buf_addstr(&c->msg, ": ");
		}
		kp_buf_addstr(&c->msg, "interrupted");
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
