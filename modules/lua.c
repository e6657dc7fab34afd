/*
 * lua.c - a custom step written in Lua: `script` (a file, relative to the
 * plan file holding the play) or inline `code`, with `args` as ctx.args.
 * What the step returns is the task's result: changed, failed, skipped,
 * msg, and every other key as a fact of the registered result. The step
 * runs in the controller (it reaches hosts through kplan.run), so the task
 * takes no connection lock; see runner/hooks.h for the API and check mode.
 */
#include "engine/hooks.h"
#include "modules/module.h"

static const struct kp_argspec args[] = {
    {.name = "script", .type = KP_T_PATH, .help = "Lua file (relative to the plan)"},
    {.name = "code", .type = KP_T_STR, .help = "inline Lua code"},
    {.name = "args", .type = KP_T_DICT, .help = "values passed to the step"},
    {0},
};

static const char *const one_of[] = {"script|code", NULL};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	/* the whole step runs here: there is nothing to predict and apply
	 * apart (check mode is the step's own business: kplan.readonly) */
	return kp_lua_step_run(ctx, res, err);
}

const struct kp_module kp_mod_lua = {
    .name = "lua",
    .summary = "run a custom step written in Lua",
    .args = args,
    .flags = KP_MOD_LOCAL,
    .one_of = one_of,
    .probe = probe,
};
