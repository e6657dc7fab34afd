/*
 * lua.c - a custom step written in Lua: `script` (a file, relative to the
 * plan file holding the play) or inline `code`, with `args` as ctx.args.
 * What the step returns is the task's result: changed, failed, skipped,
 * msg, and every other key as a fact of the registered result. The step
 * runs in the controller (it reaches hosts through kplan.run), so the task
 * takes no connection lock. The module declares that it needs the hook API
 * (KP_MOD_HOOK_API); the engine hands it ctx->run_lua, which runs the chunk
 * in this thread's sandbox (see runner/engine/hooks.h for the API and
 * check mode).
 */
#include <stdlib.h>
#include <string.h>

#include "modules/module.h"

static const struct kp_argspec args[] = {
    {.name = "script",
     .type = KP_T_PATH,
     .help = "Lua file (relative to the plan)",
     .check = KP_CHECK_LUA_FILE},
    {.name = "code", .type = KP_T_STR, .help = "inline Lua code", .check = KP_CHECK_LUA_CODE},
    {.name = "args", .type = KP_T_DICT, .help = "values passed to the step"},
    {0},
};

static const char *const one_of[] = {"script|code", NULL};

/* The step's result from what it returned: a table of changed, failed,
 * skipped, msg and facts (every other key), or a string (msg), or nothing. */
static void step_result(const struct kp_value *ret, struct kp_result *res)
{
	if (!ret || ret->type == KP_V_NULL)
		return;
	if (ret->type == KP_V_STR) {
		kp_buf_addstr(&res->msg, ret->u.str.s);
		return;
	}
	if (ret->type == KP_V_LIST && !kp_list_len(ret))
		return; /* {}: an empty table */
	if (ret->type != KP_V_MAP) {
		kp_mod_failf(res, "a lua step returns a table (or nothing), not a %s",
			     kp_value_typename(ret->type));
		return;
	}
	for (size_t i = 0; i < kp_map_len(ret); i++) {
		const char *k = kp_map_key(ret, i);
		const struct kp_value *v = kp_map_val(ret, i);
		if (!strcmp(k, "changed"))
			res->changed = kp_value_truthy(v);
		else if (!strcmp(k, "failed"))
			res->failed = kp_value_truthy(v);
		else if (!strcmp(k, "skipped"))
			res->skipped = kp_value_truthy(v);
		else if (!strcmp(k, "msg"))
			kp_value_to_text(v, false, &res->msg);
		else
			kp_map_set(res->facts, k, v);
	}
	if (res->failed)
		res->changed = false;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	/* the whole step runs here: there is nothing to predict and apply
	 * apart (check mode is the step's own business: kplan.readonly) */
	if (!ctx->run_lua)
		return kp_errorf(err, KP_ERR_INVALID, "a lua step runs only in a plan run");
	const char *script = kp_arg_str(ctx, "script");
	const char *code = kp_arg_str(ctx, "code");
	struct kp_buf text = KP_BUF_INIT, tmp = KP_BUF_INIT, msg = KP_BUF_INIT;
	char *path = NULL;

	if (script) {
		/* as written in the plan, relative to the file holding the play */
		if (script[0] == '/') {
			path = kp_xstrdup(script);
		} else {
			const char *pf = ctx->play_file;
			const char *slash = pf ? strrchr(pf, '/') : NULL;
			kp_buf_addf(&tmp, "%.*s%s", slash ? (int)(slash - pf + 1) : 0, pf ? pf : "",
				    script);
			path = kp_buf_detach(&tmp, NULL);
		}
		if (kp_read_file(path, 16u << 20, &text, &tmp)) {
			kp_mod_failf(res, "cannot read the lua script '%s': %s", script, tmp.buf);
			goto out;
		}
	} else {
		kp_buf_addstr(&text, code ? code : "");
	}
	struct kp_lua_chunk ch = {.code = text.buf ? text.buf : "",
				  .len = text.len,
				  .path = path,
				  .args = kp_arg(ctx, "args")};
	enum kp_step_outcome outcome = KP_STEP_OK;
	struct kp_value *ret = NULL;
	ctx->run_lua(ctx, &ch, &outcome, &ret, &msg);
	switch (outcome) {
	case KP_STEP_OK:
		step_result(ret, res);
		break;
	case KP_STEP_FAILED:
		kp_mod_failf(res, "%s", msg.buf);
		break;
	case KP_STEP_SKIPPED:
		res->skipped = true;
		kp_buf_addstr(&res->msg, msg.buf);
		break;
	}
	kp_value_unref(ret);
out:
	free(path);
	kp_buf_release(&text);
	kp_buf_release(&tmp);
	kp_buf_release(&msg);
	return KP_OK;
}

const struct kp_module kp_mod_lua = {
    .name = "lua",
    .summary = "run a custom step written in Lua",
    .args = args,
    .flags = KP_MOD_LOCAL | KP_MOD_HOOK_API,
    .one_of = one_of,
    .probe = probe,
};
