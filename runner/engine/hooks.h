/*
 * hooks.h - Lua hooks and custom steps (plan.md, "Lua hooks and custom
 * steps").
 *
 * Two layers:
 *   luaapi.c  runs one hook or step in a worker's sandboxed Lua state
 *             (kp_hook_call): the environment, the `kplan` API, the
 *             instruction and memory limits, error positions and
 *             tracebacks. What the API does to hosts goes through a
 *             struct kp_hook_ops, so tests can run hooks without an engine.
 *   hooks.c   the engine's side: the hook points of a run (plays,
 *             batches, hosts, tasks, failures), their context tables, what
 *             a failing or skipping hook does to the run, the ops on real
 *             hosts, and the `lua` module's step (kp_lua_step_run).
 *
 * API semantics (the decisions plan.md leaves open):
 *   - A hook gets its context as the chunk's first argument (`local ctx =
 *     ...`) and as the global `ctx`. Globals are fresh for every call: a
 *     hook keeps state between calls with kplan.set_var/get_var.
 *   - kplan.run(host, cmd [, {timeout=, become=, become_user=, stdin=}])
 *     -> rc, stdout, stderr; host nil means the hook's own host. It uses
 *     the host's connection, holding its lock for the one command. become
 *     defaults to the play's for hooks and the task's for steps.
 *   - kplan.set_var(host, name, value) sets a variable at the level of
 *     registered results and set-fact (nil removes it); kplan.get_var(host,
 *     name) reads a variable as a template would (nil when undefined). In a
 *     play or batch hook any host may be named. A host hook or step runs
 *     beside other hosts' threads, so there set_var is for its own host
 *     only and get_var of another host sees that host's inventory variables
 *     (as `hostvars` does in expressions).
 *   - kplan.fail(msg): the hook's host fails; in a play or batch hook the
 *     rollout stops (exit 4) with the message. kplan.skip(msg): before_task
 *     skips the task, before_host the host for this batch, before_batch the
 *     batch, before_play the play; elsewhere it just ends the hook. Both
 *     end the hook at once and cannot be caught with pcall.
 *   - Check mode: a hook or step runs only as far as it is read-only. Until
 *     it calls kplan.readonly() (at its top, by convention), the acting
 *     calls kplan.run, kplan.kube, kplan.set_var and kplan.sleep end it: a
 *     step is then reported skipped, a hook is left out (a note at -v).
 *     After kplan.readonly(), kplan.run is allowed (reading a node's state
 *     is the point; the author promises the commands only read) and
 *     kplan.kube only with GET, in check mode and in a normal run alike.
 *   - Limits per call (play key hook_limits): instructions (default 10
 *     million) and memory (default 64 MiB above what the state held when
 *     the call began). kplan.sleep is bounded by KP_HOOK_SLEEP_MAX_S.
 */
#ifndef KP_HOOKS_H
#define KP_HOOKS_H

#include <signal.h>

#include <stdint.h>

#include "core/buf.h"
#include "expr/expr.h"
#include "model/plan.h"
#include "core/value.h"

#define KP_HOOK_STEPS_DEFAULT 10000000ull
#define KP_HOOK_MEM_DEFAULT   ((size_t)64 << 20)
#define KP_HOOK_SLEEP_MAX_S   600

enum kp_hook_outcome {
	KP_HOOK_OK,	 /* ran to its end */
	KP_HOOK_FAILED,	 /* kplan.fail, a Lua error or a limit: msg says why */
	KP_HOOK_SKIPPED, /* kplan.skip: msg is its message */
	KP_HOOK_NOT_RUN, /* check mode, not read-only: msg says which call */
};

struct kp_exec_res;

/* kplan.run options; become -1: the default of whoever runs the hook. */
struct kp_hook_runopts {
	int64_t timeout_ms; /* 0: the run's --timeout */
	int become;
	const char *become_user;
	const char *stdin_data;
	size_t stdin_len;
};

/* What the kplan API does to the world. Every function returns an error
 * with a message in err (raised in Lua as "kplan.NAME: message"). */
struct kp_hook_ops {
	kp_rc (*run)(void *ctx, const char *host, const char *cmd, const struct kp_hook_runopts *o,
		     struct kp_exec_res *res, struct kp_buf *err);
	void (*log)(void *ctx, const char *msg);
	/* v NULL: remove the variable */
	kp_rc (*set_var)(void *ctx, const char *host, const char *name, const struct kp_value *v,
			 struct kp_buf *err);
	/* *out: a new reference, or NULL when undefined */
	kp_rc (*get_var)(void *ctx, struct kp_lua *L, const char *host, const char *name,
			 struct kp_value **out, struct kp_buf *err);
	/* *json: the decoded body (new reference) or NULL */
	kp_rc (*kube)(void *ctx, const char *method, const char *path, const char *body,
		      long *status, struct kp_value **json, struct kp_buf *err);
};

/* One call of a hook or step. Fill the inputs, kp_hook_call, read the
 * outputs, kp_hookcall_release. */
struct kp_hookcall {
	const char *code;
	size_t len;
	const char *chunkname;	     /* "@path" (a file) or "=[inline plan.yml:12]" */
	const struct kp_value *ctx;  /* the context (a map), or NULL for an empty one */
	const struct kp_scope *vars; /* ctx.vars, a read-only view; NULL: none */
	const char *host;	     /* the hook's own host, or NULL */
	bool check_mode;
	uint64_t max_instructions; /* 0: KP_HOOK_STEPS_DEFAULT */
	/* Ctrl-C and SIGTERM (main's count): the call stops at its next
	 * instructions, or out of kplan.sleep; NULL: none */
	const volatile sig_atomic_t *interrupts;
	size_t max_memory; /* 0: KP_HOOK_MEM_DEFAULT */
	const struct kp_hook_ops *ops;
	void *ops_ctx;
	/* outputs */
	enum kp_hook_outcome outcome;
	struct kp_buf msg;	 /* "file:line: text" for FAILED and NOT_RUN; skip message */
	struct kp_buf traceback; /* FAILED by a Lua error: Lua's traceback */
	struct kp_value *ret;	 /* the chunk's first return value (NULL: nothing) */
	bool readonly;		 /* kplan.readonly() was called */
};

/* Runs c in the state (never in another thread's); fills the outputs. */
void kp_hook_call(struct kp_lua *L, struct kp_hookcall *c);
void kp_hookcall_release(struct kp_hookcall *c);

/* "64 MiB", "1.5 GiB", "4096 bytes": for messages. */
void kp_hook_size_text(size_t n, struct kp_buf *out);

/* ---- the engine's hook points (hooks.c) --------------------------------- */

struct kp_engine;
struct kp_hoststate;
struct kp_taskenv;
struct kp_modctx;
struct kp_result;

/* Whether the play has any hook at this point (cheap; callers skip work). */
bool kp_hooks_any(const struct kp_play *p, enum kp_hook_point point);

/* before_play, after_play, before_batch, after_batch on the calling thread
 * (worker slot 0). batch_index is 1-based (0 for play points). Returns
 * KP_HOOK_OK to go on; FAILED has stopped the run (e->stop_run with the
 * reason); SKIPPED: the play or batch is to be left out (noted). */
enum kp_hook_outcome kp_hooks_run_play(struct kp_engine *e, enum kp_hook_point point,
				       size_t batch_index, size_t batch_count);

/* before_host and after_host for one host on a worker. A failure fails
 * the host (a result line, on_failure hooks); before_host's skip leaves
 * the host out of this batch (hs->hook_skipped). Returns the outcome. */
enum kp_hook_outcome kp_hooks_run_host(struct kp_engine *e, int slot, struct kp_hoststate *hs,
				       enum kp_hook_point point);

/* before_task and after_task (t: the task; result: after_task's
 * registered form). The caller turns before_task's FAILED/SKIPPED (msg)
 * into the task's result; after_task's failure fails the host here. */
enum kp_hook_outcome kp_hooks_run_task(struct kp_engine *e, int slot, struct kp_hoststate *hs,
				       const struct kp_task *t, const struct kp_taskenv *env,
				       enum kp_hook_point point, const struct kp_value *result,
				       struct kp_buf *msg);

/* on_failure for a host that just failed (t NULL: not in a task). */
void kp_hooks_on_failure(struct kp_engine *e, int slot, struct kp_hoststate *hs,
			 const struct kp_task *t, const struct kp_value *result);

/* Per-run state of the hooks (kplan.kube clients per slot); kp_run calls. */
void kp_hooks_init(struct kp_engine *e);
void kp_hooks_release(struct kp_engine *e);

/* ctx->run_lua for KP_MOD_HOOK_API modules (the `lua` step, modules/lua.c):
 * the step's chunk with the kplan API on real hosts. */
kp_rc kp_lua_step_run(struct kp_modctx *ctx, const struct kp_lua_chunk *ch,
		      enum kp_step_outcome *outcome, struct kp_value **ret, struct kp_buf *msg);

#endif
