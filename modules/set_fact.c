/*
 * set_fact.c - set host variables: every argument is a variable.
 *
 * Ansible's `cacheable` is a flag, not a variable, and there is no fact
 * cache to honour it, so it is dropped rather than set as a variable.
 */
#include "modules/module.h"

static const struct kp_argspec args[] = {
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct kp_value *vars = ctx->args ? kp_value_copy(ctx->args) : kp_value_map();
	kp_map_del(vars, "cacheable");
	if (res->set_vars)
		kp_value_unref(res->set_vars);
	res->set_vars = vars;
	res->changed = false;
	return KP_OK;
}

const struct kp_module kp_mod_set_fact = {
    .name = "set-fact",
    .summary = "set host variables",
    .args = args,
    .flags = KP_MOD_ANY_ARGS | KP_MOD_READONLY | KP_MOD_LOCAL | KP_MOD_SETS_VARS,
    .probe = probe,
};
