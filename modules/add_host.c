/*
 * add_host.c - add a host (or groups and variables to one) to the run's
 * inventory for the plays that follow (Ansible's add_host). It runs once,
 * for the first host of the play, as Ansible's does. name "h:2222" sets
 * ansible_ssh_port; groups is a list or "a,b"; every other argument
 * (hostname's and groupname's spellings aside) is a host variable. The
 * engine applies the change when the play ends (KP_FLOW_INVENTORY).
 */
#include "modules/module.h"

#include <stdlib.h>
#include <string.h>

static const struct kp_argspec args[] = {
    {0},
};

bool kp_mod_in_group(const struct kp_modctx *ctx, const char *g, const char *host)
{
	const struct kp_value *groups = kp_mod_var(ctx, "groups"), *l;
	if (!groups || groups->type != KP_V_MAP || !(l = kp_map_get(groups, g)) ||
	    l->type != KP_V_LIST)
		return false;
	for (size_t i = 0; i < kp_list_len(l); i++)
		if (kp_list_at(l, i)->type == KP_V_STR && !strcmp(kp_list_at(l, i)->u.str.s, host))
			return true;
	return false;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const struct kp_value *a = ctx->args;
	const struct kp_value *nv = kp_map_get(a, "name");
	if (!nv)
		nv = kp_map_get(a, "hostname");
	if (!nv)
		nv = kp_map_get(a, "host");
	(void)err;
	if (!nv)
		return kp_mod_failf(res, "name, host or hostname needs to be provided");
	struct kp_buf name = KP_BUF_INIT;
	kp_value_to_text(nv, false, &name);
	struct kp_value *hv = kp_value_map(), *groups = kp_value_list();
	/* "host:port" (not an IPv6 address) */
	char *colon = strrchr(name.buf, ':');
	if (colon && colon == strchr(name.buf, ':') && colon[1] &&
	    strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
		kp_map_set_take(hv, "ansible_ssh_port", kp_value_int(atoll(colon + 1)));
		*colon = '\0';
		name.len = strlen(name.buf);
	}
	const struct kp_value *gv = kp_map_get(a, "groupname");
	if (!gv)
		gv = kp_map_get(a, "groups");
	if (!gv)
		gv = kp_map_get(a, "group");
	struct kp_buf t = KP_BUF_INIT;
	size_t ng = !gv ? 0 : gv->type == KP_V_LIST ? kp_list_len(gv) : 1;
	for (size_t i = 0; i < ng; i++) {
		kp_buf_reset(&t);
		kp_value_to_text(gv->type == KP_V_LIST ? kp_list_at(gv, i) : gv, false, &t);
		/* a list's entries as they are, a string's split at commas;
		 * each stripped, repeats dropped */
		for (char *g = t.buf ? t.buf : (char[]){0}, *next; g; g = next) {
			next = gv->type == KP_V_LIST ? NULL : strchr(g, ',');
			if (next)
				*next++ = '\0';
			char *e = g + strlen(g);
			while (*g == ' ')
				g++;
			while (e > g && e[-1] == ' ')
				*--e = '\0';
			bool dup = !*g && gv->type != KP_V_LIST;
			for (size_t k = 0; k < kp_list_len(groups) && !dup; k++)
				dup = !strcmp(kp_list_at(groups, k)->u.str.s, g);
			if (!dup)
				kp_list_push_take(groups, kp_value_str(g));
		}
	}
	kp_buf_release(&t);
	static const char *const special[] = {"name", "hostname", "groupname", "groups"};
	for (size_t i = 0; i < kp_map_len(a); i++) {
		bool sp = false;
		for (size_t k = 0; k < KP_ARRAY_LEN(special); k++)
			sp |= !strcmp(kp_map_key(a, i), special[k]);
		if (!sp)
			kp_map_set(hv, kp_map_key(a, i), kp_map_val(a, i));
	}
	/* changed: a new host, or a group it is not in yet (by the play's
	 * `groups`) */
	bool changed = !kp_mod_in_group(ctx, "all", name.buf);
	for (size_t k = 0; k < kp_list_len(groups); k++)
		changed |= !kp_mod_in_group(ctx, kp_list_at(groups, k)->u.str.s, name.buf);
	struct kp_value *ah = kp_value_map();
	kp_map_set_take(ah, "host_name", kp_value_str(name.buf));
	kp_map_set_take(ah, "groups", groups);
	kp_map_set_take(ah, "host_vars", hv);
	kp_map_set_take(res->facts, "add_host", ah);
	res->flow = KP_FLOW_INVENTORY;
	res->changed = changed;
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "%s host '%s' for the plays that follow",
		    changed ? "adding" : "keeping", name.buf);
	kp_buf_release(&name);
	return KP_OK;
}

const struct kp_module kp_mod_add_host = {
    .name = "add-host",
    .summary = "add a host to the inventory for the plays that follow (Ansible's add_host)",
    .args = args,
    .flags = KP_MOD_LOCAL | KP_MOD_ANY_ARGS | KP_MOD_ONCE,
    .probe = probe,
};
