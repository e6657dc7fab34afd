/*
 * systemd.c - start, stop, restart, reload and enable services.
 *
 * The probe asks systemctl (is-active, is-enabled, show -p LoadState) and
 * plans the commands: daemon-reload first when asked, then mask/unmask,
 * enable/disable, then start/stop only when the unit is not already
 * there; restarted and reloaded always act. Apply runs exactly the
 * planned commands. As Ansible's systemd_service, every systemctl gets
 * --user or --global (scope), --no-block (no_block) and --force (force).
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

extern const struct kp_module kp_mod_service;

static const char *const states[] = {"started", "stopped", "restarted", "reloaded", NULL};
static const char *const scopes[] = {"system", "user", "global", NULL};

static const struct kp_argspec args[] = {
    {.name = "name", .type = KP_T_STR, .help = "the unit"},
    {.name = "state", .type = KP_T_STR, .choices = states, .help = "what the unit should be"},
    {.name = "enabled", .type = KP_T_BOOL, .help = "start the unit at boot"},
    {.name = "daemon_reload",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "run systemctl daemon-reload first"},
    {.name = "daemon-reload",
     .type = KP_T_BOOL,
     .alias_of = "daemon_reload",
     .help = "the same as daemon_reload"},
    {.name = "masked", .type = KP_T_BOOL, .help = "the unit masked (or unmasked)"},
    {.name = "no_block",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "systemctl --no-block: do not wait for the job"},
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "systemctl --force (enable over conflicting links)"},
    {.name = "scope",
     .type = KP_T_STR,
     .def = "system",
     .choices = scopes,
     .help = "system, user (--user) or global (--global)"},
    {0},
};

/* Ansible's service: on a systemd host its action plugin hands the task
 * to systemd without the arguments only init scripts use, and so does
 * kplan, which manages services with systemd alone. */
static const struct kp_argspec service_args[] = {
    /* not required: on systemd, Ansible's service takes systemd's
     * arguments (`daemon_reload: true` alone) */
    {.name = "name", .type = KP_T_STR, .help = "the service"},
    {.name = "state", .type = KP_T_STR, .choices = states, .help = "what the service should be"},
    {.name = "enabled", .type = KP_T_BOOL, .help = "start the service at boot"},
    {.name = "daemon_reload",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "run systemctl daemon-reload first"},
    {.name = "use",
     .type = KP_T_STR,
     .def = "auto",
     .help = "the service manager: auto or systemd"},
    {.name = "sleep", .type = KP_T_INT, .help = "ignored, as Ansible's service on systemd"},
    {.name = "pattern", .type = KP_T_STR, .help = "ignored, as Ansible's service on systemd"},
    {.name = "runlevel", .type = KP_T_STR, .help = "ignored, as Ansible's service on systemd"},
    {.name = "arguments", .type = KP_T_STR, .help = "ignored, as Ansible's service on systemd"},
    {.name = "args", .type = KP_T_STR, .help = "ignored, as Ansible's service on systemd"},
    {0},
};

#define MAX_STEPS 5

struct plan {
	char *cmd[MAX_STEPS];
	char *done[MAX_STEPS]; /* what each did, for the message */
	size_t n;
};

static void plan_free(void *p)
{
	struct plan *pl = p;
	if (!pl)
		return;
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->cmd[i]);
		free(pl->done[i]);
	}
	free(pl);
}

/* systemctl with the options every command gets (systemd's scope,
 * no_block, force; none for service) */
static void systemctl(const struct kp_modctx *ctx, struct kp_buf *b)
{
	const char *scope = ctx->module == &kp_mod_service ? NULL : kp_arg_str(ctx, "scope");
	kp_buf_addstr(b, "systemctl");
	if (scope && strcmp(scope, "system"))
		kp_buf_addf(b, " --%s", scope);
	if (ctx->module != &kp_mod_service && kp_arg_bool(ctx, "no_block"))
		kp_buf_addstr(b, " --no-block");
	if (ctx->module != &kp_mod_service && kp_arg_bool(ctx, "force"))
		kp_buf_addstr(b, " --force");
}

static void step(const struct kp_modctx *ctx, struct plan *pl, const char *verb, const char *name,
		 const char *done)
{
	struct kp_buf b = KP_BUF_INIT;
	systemctl(ctx, &b);
	kp_buf_addf(&b, " %s", verb);
	if (name) {
		kp_buf_addch(&b, ' ');
		kp_sh_quote(&b, name);
	}
	pl->cmd[pl->n] = kp_buf_detach(&b, NULL);
	pl->done[pl->n++] = kp_xstrdup(done);
}

/* Run a read-only systemctl query; trimmed stdout in out, exit status in *rc. */
static kp_rc query(struct kp_modctx *ctx, struct kp_result *res, const char *what, const char *name,
		   struct kp_buf *out, int *rc, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	systemctl(ctx, &cmd);
	kp_buf_addf(&cmd, " %s ", what);
	kp_sh_quote(&cmd, name);
	kp_exec_res_init(&r);
	kp_rc e = kp_mod_sh(ctx, res, cmd.buf, &r, err);
	if (!e && r.timed_out) {
		kp_mod_fail_timeout(ctx, NULL, res);
		*rc = -1;
	} else if (!e) {
		size_t n = r.out.len;
		while (n && (r.out.buf[n - 1] == '\n' || r.out.buf[n - 1] == ' '))
			n--;
		kp_buf_reset(out);
		kp_buf_add(out, r.out.buf,
			   strcspn(r.out.buf, "\n") < n ? strcspn(r.out.buf, "\n") : n);
		*rc = r.rc;
	}
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return e;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *name = kp_arg_str(ctx, "name"), *state = kp_arg_str(ctx, "state");
	const struct kp_value *en = kp_arg(ctx, "enabled");
	const struct kp_value *mask = ctx->module == &kp_mod_service ? NULL : kp_arg(ctx, "masked");
	struct kp_buf active = KP_BUF_INIT, enabled = KP_BUF_INIT, load = KP_BUF_INIT,
		      t = KP_BUF_INIT;
	struct plan *pl = kp_xcalloc(1, sizeof(*pl));
	int arc = 0, erc = 0, lrc = 0;
	bool is_enabled = false, running = false;
	kp_rc rc = KP_OK;

	ctx->state = pl;
	ctx->free_state = plan_free;
	if (ctx->module == &kp_mod_service) {
		const char *use = kp_arg_str(ctx, "use");
		if (use && strcmp(use, "auto") && strcmp(use, "systemd") &&
		    strcmp(use, "ansible.legacy.systemd") && strcmp(use, "ansible.builtin.systemd"))
			return kp_mod_failf(
			    res, "kplan manages services with systemd only, not '%s'", use);
	}
	if ((state || en || mask) && !name)
		return kp_mod_failf(res, "'name' is required with 'state', 'enabled' or 'masked'");
	if (!state && !en && !mask && !kp_arg_bool(ctx, "daemon_reload"))
		return kp_mod_failf(res, "nothing to do: give 'state', 'enabled', 'masked' or "
					 "'daemon_reload'");
	if (name) {
		if ((rc = query(ctx, res, "show -p LoadState", name, &load, &lrc, err)) ||
		    res->failed)
			goto out;
		/* (a unit may be masked before it is installed) */
		if (!strcmp(load.buf, "LoadState=not-found") &&
		    !kp_arg_bool(ctx, "daemon_reload") && !mask) {
			kp_mod_failf(res, "could not find the requested service '%s'", name);
			goto out;
		}
		if ((rc = query(ctx, res, "is-active", name, &active, &arc, err)) || res->failed ||
		    (rc = query(ctx, res, "is-enabled", name, &enabled, &erc, err)) || res->failed)
			goto out;
		/* is-active exits 0 for active, reloading, activating (and so on) */
		running = arc == 0;
		/* as Ansible: exit 0 (enabled, static, alias...) counts as enabled */
		is_enabled = erc == 0;
		kp_map_set_take(res->facts, "status",
				kp_value_str(active.len ? active.buf : "unknown"));
	}
	if (kp_arg_bool(ctx, "daemon_reload"))
		step(ctx, pl, "daemon-reload", NULL, "reloaded systemd");
	/* as Ansible: masked when is-enabled says so */
	if (mask && kp_value_truthy(mask) != (enabled.len && !strcmp(enabled.buf, "masked"))) {
		bool on = kp_value_truthy(mask);
		kp_buf_reset(&t);
		kp_buf_addf(&t, "%s '%s'", on ? "masked" : "unmasked", name);
		step(ctx, pl, on ? "mask" : "unmask", name, t.buf);
	}
	if (en && kp_value_truthy(en) != is_enabled) {
		bool on = kp_value_truthy(en);
		kp_buf_reset(&t);
		kp_buf_addf(&t, "%s '%s'", on ? "enabled" : "disabled", name);
		step(ctx, pl, on ? "enable" : "disable", name, t.buf);
		is_enabled = on;
	}
	if (state) {
		const char *verb = NULL;
		if (!strcmp(state, "started") && !running)
			verb = "start";
		else if (!strcmp(state, "stopped") && running)
			verb = "stop";
		else if (!strcmp(state, "restarted"))
			verb = "restart";
		else if (!strcmp(state, "reloaded"))
			verb = running ? "reload" : "start"; /* as Ansible: a stopped unit starts */
		if (verb) {
			kp_buf_reset(&t);
			kp_buf_addf(&t, "%s '%s' (was %s)",
				    !strcmp(verb, "stop")      ? "stopped"
				    : !strcmp(verb, "restart") ? "restarted"
				    : !strcmp(verb, "reload")  ? "reloaded"
							       : "started",
				    name, active.len ? active.buf : "unknown");
			step(ctx, pl, verb, name, t.buf);
		}
	}
	if (name)
		kp_map_set_take(res->facts, "enabled", kp_value_bool(is_enabled));
	res->changed = pl->n > 0;
	kp_buf_reset(&res->msg);
	if (!pl->n) {
		kp_buf_addf(&res->msg, "'%s' is %s%s", name, active.len ? active.buf : "unknown",
			    enabled.len ? ", " : "");
		kp_buf_addstr(&res->msg, enabled.buf);
	} else {
		kp_buf_addstr(&res->msg, "would run: ");
		for (size_t i = 0; i < pl->n; i++)
			kp_buf_addf(&res->msg, "%s%s", i ? "; " : "", pl->cmd[i]);
	}
out:
	kp_buf_release(&active);
	kp_buf_release(&enabled);
	kp_buf_release(&load);
	kp_buf_release(&t);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct plan *pl = ctx->state;
	struct kp_buf msg = KP_BUF_INIT;
	kp_rc rc = KP_OK;

	if (!pl)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	for (size_t i = 0; i < pl->n && !rc; i++) {
		struct kp_exec_res r;
		kp_exec_res_init(&r);
		rc = kp_mod_sh(ctx, res, pl->cmd[i], &r, err);
		if (!rc && kp_mod_cmd_failed(ctx, res, pl->cmd[i], &r)) {
			kp_buf_reset(&res->err);
			kp_buf_add(&res->err, r.err.buf, r.err.len);
			kp_exec_res_release(&r);
			goto out;
		}
		kp_exec_res_release(&r);
		kp_buf_addf(&msg, "%s%s", i ? ", " : "", pl->done[i]);
	}
	if (!rc) {
		kp_buf_reset(&res->msg);
		kp_buf_addstr(&res->msg, msg.buf);
	}
out:
	kp_buf_release(&msg);
	return rc;
}

const struct kp_module kp_mod_service = {
    .name = "service",
    .summary = "manage services (Ansible's service, through systemd)",
    .args = service_args,
    .probe = probe,
    .apply = apply,
};

const struct kp_module kp_mod_systemd = {
    .name = "systemd",
    .summary = "manage systemd services",
    .args = args,
    .probe = probe,
    .apply = apply,
};
