/*
 * meta.c - Ansible's meta actions: what the engine itself is asked to do
 * (flush_handlers, end_host, end_batch, end_play, clear_host_errors,
 * reset_connection). The module only names the action in res->flow with
 * Ansible's message; the engine acts once the task ran on every host of
 * its list (blocks.c). clear_facts forgets the hosts' gathered facts
 * (set_fact stays, as in Ansible); refresh_inventory re-reads nothing
 * (the inventory is read once, before anything connects): it is accepted,
 * and says so. As Ansible's linear strategy, end_play, end_batch,
 * clear_facts, clear_host_errors and refresh_inventory run once, for the
 * first host (their `when` too), and act on every host (blocks.c).
 */
#include "modules/module.h"

#include <string.h>

static const char *const actions[] = {
    "noop",	"flush_handlers", "refresh_inventory", "clear_facts",	   "clear_host_errors",
    "end_play", "end_host",	  "end_batch",	       "reset_connection", NULL,
};

static const struct kp_argspec args[] = {
    {.name = "_raw_params",
     .type = KP_T_STR,
     .required = true,
     .choices = actions,
     .help = "the action"},
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *a = kp_arg_str(ctx, "_raw_params");
	(void)err;
	res->changed = false;
	kp_buf_reset(&res->msg);
	if (!strcmp(a, "flush_handlers")) {
		res->flow = KP_FLOW_FLUSH_HANDLERS;
		kp_buf_addf(&res->msg, "triggered running handlers for %s", ctx->host);
	} else if (!strcmp(a, "end_host")) {
		res->flow = KP_FLOW_END_HOST;
		kp_buf_addf(&res->msg, "ending play for %s", ctx->host);
	} else if (!strcmp(a, "end_batch")) {
		res->flow = KP_FLOW_END_BATCH;
		kp_buf_addstr(&res->msg, "ending batch");
	} else if (!strcmp(a, "end_play")) {
		res->flow = KP_FLOW_END_PLAY;
		kp_buf_addstr(&res->msg, "ending play");
	} else if (!strcmp(a, "clear_host_errors")) {
		res->flow = KP_FLOW_CLEAR_HOST_ERRORS;
		kp_buf_addstr(&res->msg, "cleared host errors");
	} else if (!strcmp(a, "reset_connection")) {
		res->flow = KP_FLOW_RESET_CONNECTION;
		kp_buf_addstr(&res->msg, "reset connection");
	} else if (!strcmp(a, "clear_facts")) {
		res->flow = KP_FLOW_CLEAR_FACTS;
		kp_buf_addstr(&res->msg, "facts cleared");
	} else if (!strcmp(a, "refresh_inventory")) {
		kp_buf_addstr(&res->msg, "inventory not refreshed: kplan reads it once, before "
					 "the run");
	} else {
		kp_buf_addstr(&res->msg, "noop");
	}
	return KP_OK;
}

const struct kp_module kp_mod_meta = {
    .name = "meta",
    .summary = "ask the engine: flush_handlers, end_host, end_batch, end_play, "
	       "clear_host_errors, reset_connection (Ansible's meta)",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL | KP_MOD_FLOW,
    .free_form = "_raw_params",
    .probe = probe,
};
