/* fail.c - fail the host with a message. */
#include "modules/module.h"

static const struct kp_argspec args[] = {
    {.name = "msg",
     .type = KP_T_STR,
     .def = "Failed as requested from task",
     .help = "the failure message"},
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *msg = kp_arg_str(ctx, "msg");
	return kp_mod_failf(res, "%s", msg ? msg : "Failed as requested from task");
}

const struct kp_module kp_mod_fail = {
    .name = "fail",
    .summary = "fail with a message",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
    .probe = probe,
};
