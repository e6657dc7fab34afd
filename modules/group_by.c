/*
 * group_by.c - put the host in a group made from its variables, for the
 * plays that follow (Ansible's group_by): key is the group (blanks become
 * '-'), parents the groups it is a child of (all by default). The engine
 * applies the change when the play ends (KP_FLOW_INVENTORY).
 */
#include "modules/module.h"

#include <string.h>

static const struct kp_argspec args[] = {
    {.name = "key", .type = KP_T_STR, .required = true, .help = "the group"},
    {.name = "parents", .type = KP_T_STR_OR_LIST, .def = "all", .help = "its parent groups"},
    {0},
};

static struct kp_value *dashed(const char *s)
{
	struct kp_value *v = kp_value_str(s);
	for (char *c = v->u.str.s; *c; c++)
		if (*c == ' ')
			*c = '-';
	return v;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const struct kp_value *p = kp_arg(ctx, "parents");
	struct kp_value *key = dashed(kp_arg_str(ctx, "key")), *parents = kp_value_list();
	(void)err;
	for (size_t i = 0; p && i < (p->type == KP_V_LIST ? kp_list_len(p) : 1); i++) {
		const struct kp_value *e = p->type == KP_V_LIST ? kp_list_at(p, i) : p;
		struct kp_buf t = KP_BUF_INIT;
		kp_value_to_text(e, false, &t);
		kp_list_push_take(parents, dashed(t.buf ? t.buf : ""));
		kp_buf_release(&t);
	}
	res->changed = !kp_mod_in_group(ctx, key->u.str.s, ctx->host);
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "%s group '%s' for the plays that follow",
		    res->changed ? "joining" : "in", key->u.str.s);
	kp_map_set_take(res->facts, "add_group", key);
	kp_map_set_take(res->facts, "parent_groups", parents);
	res->flow = KP_FLOW_INVENTORY;
	return KP_OK;
}

const struct kp_module kp_mod_group_by = {
    .name = "group-by",
    .summary = "put the host in a group for the plays that follow (Ansible's group_by)",
    .args = args,
    .flags = KP_MOD_LOCAL,
    .probe = probe,
};
