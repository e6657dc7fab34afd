/*
 * task_int.h - what task.c (running one task on one host) and
 * task_outcome.c (what its result does) share: the outcome of one module
 * run or one loop, and the functions that turn it into a host's state.
 */
#ifndef KPLAN_ENGINE_TASK_INT_H
#define KPLAN_ENGINE_TASK_INT_H

#include "engine/engine_int.h"

struct outcome {
	enum kp_status status;
	bool changed, failed, skipped, unreachable;
	struct kp_value *value;	   /* registered form */
	struct kp_value *set_vars; /* set-fact */
	struct kp_buf msg;
	int attempts;
	/* delegate_facts: the host whose facts the task sets (NULL: its own) */
	struct kp_hoststate *facts_to;
};

void kp_outcome_release(struct outcome *o);
/* oc becomes a failure with Ansible's result and message msg. */
void kp_outcome_failed(struct outcome *oc, const char *msg);
/* oc becomes the skip result; why (the condition) goes on one line. */
void kp_outcome_skip(struct outcome *s, const char *why);
/* async: the job id on the result, Ansible's timeout message when the
 * module ran past async_s, and with poll 0 the job kept for async_status. */
void kp_outcome_async(struct kp_engine *e, struct kp_hoststate *hs, struct outcome *oc,
		      int64_t async_s, int64_t poll_s, bool timed_out, bool check,
		      const char *node_jid);
/* A new async job id for host hs, into jid (n bytes). */
void kp_outcome_jid(struct kp_engine *e, struct kp_hoststate *hs, char *jid, size_t n);
enum kp_status kp_outcome_status(const struct outcome *oc, bool ignore_errors,
				 bool ignore_unreachable);
/* What every outcome does to the host: register, set-fact, facts, notify,
 * counts, the journal record. */
void kp_outcome_apply(struct kp_engine *e, struct kp_hoststate *hs, const struct kp_task *t,
		      const struct kp_taskenv *env, enum kp_status st, struct outcome *oc,
		      bool no_log);
/* The result line of task t, filed by module and section. */
void kp_task_report(struct kp_engine *e, const struct kp_task *t, const struct kp_taskenv *env,
		    const char *title, const struct kp_taskresult *r);

/* modctx callbacks: a command on the first control plane (kubectl
 * fallback), and async_status's look-up in the host's job table. */
kp_rc kp_task_control_plane_exec(struct kp_modctx *ctx, const struct kp_exec_req *req,
				 struct kp_exec_res *r, struct kp_buf *err);
struct kp_value *kp_task_async_job(struct kp_modctx *ctx, const char *jid, bool cleanup);

#endif
