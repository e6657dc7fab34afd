/*
 * debug.c - print a message or a variable.
 *
 * `var` takes a variable name or any expression, evaluated in the host's
 * scope; an undefined one prints as such instead of failing, as in Ansible,
 * because debug is what operators reach for when something is missing.
 */
#include "modules/module.h"

#include <string.h>

static const struct kp_argspec args[] = {
    {.name = "msg", .type = KP_T_ANY, .help = "what to print"},
    {.name = "var", .type = KP_T_STR, .help = "a variable (or expression) to print"},
    {.name = "verbosity",
     .type = KP_T_INT,
     .def = "0",
     .help = "print only at this -v level or above (skipped below it)"},
    {0},
};

static const char *const exclusive[] = {"msg|var", NULL};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const struct kp_value *msg = kp_arg(ctx, "msg");
	const char *var = kp_arg_str(ctx, "var");

	kp_buf_reset(&res->msg);
	if (ctx->verbose < kp_arg_int(ctx, "verbosity")) {
		/* as Ansible: skipped below the threshold */
		res->skipped = true;
		kp_map_set_take(res->facts, "skipped_reason",
				kp_value_str("Verbosity threshold not met."));
		kp_buf_addstr(&res->msg, "verbosity threshold not met");
		return KP_OK;
	}
	if (var) {
		struct kp_expr *e = NULL;
		struct kp_value *v = NULL;
		struct kp_buf ee = KP_BUF_INIT;
		struct kp_pos pos = {0};
		kp_rc rc = kp_expr_compile(var, pos, &e, &ee);
		if (!rc)
			rc = kp_expr_eval(ctx->L, e, ctx->scope, &v, &ee);
		if (rc == KP_ERR_UNDEFINED) {
			kp_buf_addf(&res->msg, "%s: not defined", var);
		} else if (rc) {
			kp_mod_failf(res, "%s", ee.buf);
		} else {
			kp_buf_addf(&res->msg, "%s: ", var);
			kp_value_to_text(v, true, &res->msg);
			kp_map_set(res->facts, var, v);
			kp_map_set(res->facts, "msg", v);
		}
		if (v)
			kp_value_unref(v);
		if (e)
			kp_expr_free(e);
		kp_buf_release(&ee);
		return KP_OK;
	}
	if (msg) {
		kp_value_to_text(msg, true, &res->msg);
		kp_map_set(res->facts, "msg", msg);
	} else {
		kp_buf_addstr(&res->msg, "Hello world!");
		kp_map_set_take(res->facts, "msg", kp_value_str("Hello world!"));
	}
	return KP_OK;
}

const struct kp_module kp_mod_debug = {
    .name = "debug",
    .summary = "print a message or a variable",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL | KP_MOD_SHOWS_MSG,
    .exclusive = exclusive,
    .probe = probe,
};
