/* fail.c - fail the host with a message. */
#include "modules/module.h"

static const struct kp_argspec args[] = {
    {.name = "msg",
     .type = KP_T_ANY,
     .def = "Failed as requested from task",
     .help = "the failure message: a string, or any value (a list of lines), as Ansible's"},
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const struct kp_value *msg = kp_arg(ctx, "msg");
	if (!msg || msg->type == KP_V_STR)
		return kp_mod_failf(res, "%s",
				    msg ? msg->u.str.s : "Failed as requested from task");
	/* registered as it was given (msg: [a, b]); shown as JSON */
	struct kp_buf text = KP_BUF_INIT;
	kp_value_to_json(msg, true, false, &text);
	kp_rc rc = kp_mod_failf(res, "%s", text.buf);
	kp_buf_release(&text);
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set(res->facts, "msg", msg);
	return rc;
}

const struct kp_module kp_mod_fail = {
    .name = "fail",
    .summary = "fail with a message",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
    .probe = probe,
};
