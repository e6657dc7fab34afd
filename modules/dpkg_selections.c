/*
 * dpkg_selections.c - Ansible's dpkg_selections: a package's selection
 * state in dpkg (install, hold, deinstall, purge), as `apt-mark hold` and
 * `dpkg --set-selections` set it. The probe reads `dpkg --get-selections
 * NAME` ("not present" when dpkg knows no such package); apply feeds
 * "NAME SELECTION" to `dpkg --set-selections`.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

static const char *const selections[] = {"install", "hold", "deinstall", "purge", NULL};

static const struct kp_argspec args[] = {
    {.name = "name", .type = KP_T_STR, .required = true, .help = "the package"},
    {.name = "selection",
     .type = KP_T_STR,
     .required = true,
     .choices = selections,
     .help = "the selection state to set"},
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *name = kp_arg_str(ctx, "name"), *want = kp_arg_str(ctx, "selection");
	struct kp_buf cmd = KP_BUF_INIT, cur = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_rc rc;

	kp_buf_addstr(&cmd, "dpkg --get-selections ");
	kp_sh_quote(&cmd, name);
	kp_exec_res_init(&r);
	if ((rc = kp_mod_sh(ctx, res, cmd.buf, &r, err)))
		goto out;
	if (kp_mod_cmd_failed(ctx, res, cmd.buf, &r))
		goto out;
	/* "name<tabs>hold"; nothing (and a note on stderr) when unknown */
	const char *p = r.out.buf;
	p += strcspn(p, " \t\n");
	p += strspn(p, " \t");
	if (*p && !strstr(r.err.buf, "no packages found matching"))
		kp_buf_add(&cur, p, strcspn(p, " \t\n"));
	else
		kp_buf_addstr(&cur, "not present");
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "before", kp_value_str(cur.buf));
	kp_map_set_take(res->facts, "after", kp_value_str(want));
	res->changed = strcmp(cur.buf, want) != 0;
	kp_buf_reset(&res->msg);
	if (res->changed)
		kp_buf_addf(&res->msg, "%s: %s -> %s", name, cur.buf, want);
	else
		kp_buf_addf(&res->msg, "%s: %s", name, want);
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&cur);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct kp_buf in = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_buf_addf(&in, "%s %s\n", kp_arg_str(ctx, "name"), kp_arg_str(ctx, "selection"));
	struct kp_exec_req req = {
	    .cmd = "dpkg --set-selections", .stdin_data = in.buf, .stdin_len = in.len};
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_exec(ctx, res, &req, &r, err);
	if (!rc)
		kp_mod_cmd_failed(ctx, res, req.cmd, &r);
	kp_exec_res_release(&r);
	kp_buf_release(&in);
	return rc;
}

const struct kp_module kp_mod_dpkg_selections = {
    .name = "dpkg-selections",
    .summary = "set a package's dpkg selection (install, hold, deinstall, purge)",
    .args = args,
    .probe = probe,
    .apply = apply,
};
