/*
 * luaapi_int.h - what luaapi.c (one call of a hook or step: its limits and
 * outcome) and luaapi_env.c (the globals and the `kplan` API it sees)
 * share; not for the rest of kplan (use hooks.h).
 */
#ifndef KP_LUAAPI_INT_H
#define KP_LUAAPI_INT_H

#include "engine/hooks.h"
#include "expr/luaint.h"
#include "transport/transport.h"

/* One call in progress (the state's hook_data). */
struct call {
	struct kp_lua *kl;
	struct kp_hookcall *c;
	uint64_t steps, max_steps;
	bool steps_hit, mem_hit;
	bool interrupted;	     /* Ctrl-C or SIGTERM came during the call */
	char where[LUA_IDSIZE + 24]; /* of the limit hit or signal */
	enum kp_hook_outcome signal; /* KP_HOOK_OK: none */
	struct kp_buf sigmsg;
	struct kp_buf err, tmp; /* scratch for API functions (freed with the call) */
	struct kp_exec_res res; /* kplan.run's output while it is pushed */
};

/* Registry keys (their addresses only): the globals' metatable, the
 * globals of the call running (for load). */
extern const char kp_hookapi_env_mt_key, kp_hookapi_cur_env_key;

struct call *kp_hookapi_call_of(lua_State *L);
/* Raise the call's signal (fail, skip, not run, limit, interrupt): a
 * light userdata the message handler lets through untouched. */
int kp_hookapi_raise(lua_State *L);
/* Start a signal: the first one wins; the message is "where: text". */
int kp_hookapi_signal(lua_State *L, enum kp_hook_outcome what, bool with_where, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));
/* Make the globals' metatable (registry kp_hookapi_env_mt_key). */
void kp_hookapi_make_env_mt(lua_State *L);
/* Charge n steps of work done in C (a pattern match) to the call's
 * instruction budget, or to the expression's outside a call; raises the
 * limit as the count hook does when it is spent. */
void kp_hookapi_charge(lua_State *L, uint64_t n);
/* Replace string.find, match, gmatch and gsub with counted ones
 * (luapattern.c). */
void kp_hookapi_patterns(lua_State *L);
/* Push ctx.vars: a read-only view of the call's scope. */
void kp_hookapi_push_vars(lua_State *L);

#endif
