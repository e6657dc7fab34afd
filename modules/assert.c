/*
 * assert.c - fail the host unless every expression holds.
 *
 * The expressions are bare Lua, compiled here at run time: they reach the
 * module as rendered strings, so the load-time compile of `when:` does not
 * cover them. The first false one stops the check and is named.
 */
#include "modules/module.h"

static const struct kp_argspec args[] = {
    {.name = "that",
     .type = KP_T_STR_OR_LIST,
     .required = true,
     .help = "expressions that must all be true"},
    {.name = "fail_msg", .type = KP_T_STR, .help = "message when one is false"},
    {.name = "msg", .type = KP_T_STR, .help = "the same as fail_msg (Ansible's alias)"},
    {.name = "success_msg", .type = KP_T_STR, .help = "message when all hold"},
    {.name = "quiet",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "print nothing when all hold (no success message)"},
    {0},
};

/* Test one expression: KP_OK with *ok, or res->failed with the error. */
static void test_one(struct kp_modctx *ctx, struct kp_result *res, const char *src, bool *ok)
{
	struct kp_expr *e = NULL;
	struct kp_buf ee = KP_BUF_INIT;
	struct kp_pos pos = {0};
	*ok = false;
	if (kp_expr_compile(src, pos, &e, &ee) || kp_expr_test(ctx->L, e, ctx->scope, ok, &ee))
		kp_mod_failf(res, "assertion '%s': %s", src, ee.buf);
	if (e)
		kp_expr_free(e);
	kp_buf_release(&ee);
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const struct kp_value *that = kp_arg(ctx, "that");
	size_t n = that->type == KP_V_LIST ? kp_list_len(that) : 1;

	for (size_t i = 0; i < n; i++) {
		const struct kp_value *v = that->type == KP_V_LIST ? kp_list_at(that, i) : that;
		const char *src = v->u.str.s;
		bool ok;
		test_one(ctx, res, src, &ok);
		if (res->failed)
			return KP_OK;
		if (!ok) {
			const char *fm = kp_arg_str(ctx, "fail_msg");
			if (!fm)
				fm = kp_arg_str(ctx, "msg");
			if (fm)
				kp_mod_failf(res, "%s", fm);
			else
				kp_mod_failf(res, "assertion failed: %s", src);
			kp_map_set_take(res->facts, "evaluated_to", kp_value_bool(false));
			kp_map_set_take(res->facts, "assertion", kp_value_str(src));
			return KP_OK;
		}
	}
	const char *sm = kp_arg_str(ctx, "success_msg");
	kp_buf_reset(&res->msg);
	if (!kp_arg_bool(ctx, "quiet"))
		kp_buf_addstr(&res->msg, sm ? sm : "all assertions passed");
	return KP_OK;
}

const struct kp_module kp_mod_assert = {
    .name = "assert",
    .summary = "check that expressions hold",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
    .probe = probe,
};
