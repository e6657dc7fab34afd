/* async_status - the result of a task run with `async` and `poll: 0`,
 * looked up by its job id (the task's registered ansible_job_id), as
 * Ansible's async_status module reports it. */
#include <string.h>

#include "modules/module.h"

static const char *const modes[] = {"status", "cleanup", NULL};

static const struct kp_argspec args[] = {
    {.name = "jid", .type = KP_T_STR, .required = true, .help = "the job id to look up"},
    {.name = "mode",
     .type = KP_T_STR,
     .def = "status",
     .choices = modes,
     .help = "status: the job's result; cleanup: forget the job"},
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *jid = kp_arg_str(ctx, "jid"), *mode = kp_arg_str(ctx, "mode");
	bool cleanup = mode && !strcmp(mode, "cleanup");
	struct kp_value *job = ctx->async_job ? ctx->async_job(ctx, jid, cleanup) : NULL;
	kp_map_set_take(res->facts, "ansible_job_id", kp_value_str(jid));
	if (!job) {
		kp_map_set_take(res->facts, "started", kp_value_int(1));
		kp_map_set_take(res->facts, "finished", kp_value_int(1));
		return kp_mod_failf(res, "could not find job");
	}
	if (cleanup) {
		kp_map_set_take(res->facts, "erased", kp_value_str(jid));
		kp_value_unref(job);
		return KP_OK;
	}
	for (size_t i = 0; i < kp_map_len(job); i++) {
		const char *k = kp_map_key(job, i);
		const struct kp_value *v = kp_map_val(job, i);
		bool yes = v->type == KP_V_BOOL ? v->u.b : v->type == KP_V_INT && v->u.i;
		if (!strcmp(k, "changed"))
			res->changed = yes;
		else if (!strcmp(k, "failed"))
			res->failed = yes;
		else if (!strcmp(k, "msg") && v->type == KP_V_STR)
			kp_buf_addstr(&res->msg, v->u.str.s);
		else
			kp_map_set(res->facts, k, v);
	}
	kp_value_unref(job);
	return KP_OK;
}

const struct kp_module kp_mod_async_status = {
    .name = "async_status",
    .summary = "the result of an async task started with poll: 0",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
    .probe = probe,
};
