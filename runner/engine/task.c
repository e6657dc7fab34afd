/*
 * task.c - one task on one host: when, loop, until/retries, the module's
 * probe and apply, failed_when/changed_when, ignore_errors, and the
 * result line; what the outcome then does to the host (register,
 * set-fact, notify, async jobs) is task_outcome.c.
 *
 * Invalid input that only shows at run time (an undefined variable in an
 * argument, a loop over a string) fails the task on that host with the
 * message and position; the run goes on as max_fail_percentage allows.
 */
#include "engine/engine_int.h"
#include "engine/hooks.h"
#include "engine/task_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A scope with one more layer just under the magic variables (the loop
 * variable, the registered result for failed_when). */
static void scope_with(struct kp_scope *dst, const struct kp_scope *src,
		       const struct kp_value *layer)
{
	*dst = *src;
	if (!layer || dst->nlayers >= KP_SCOPE_MAX)
		return;
	dst->layers[dst->nlayers] = dst->layers[dst->nlayers - 1];
	dst->layers[dst->nlayers - 1] = layer;
	dst->nlayers++;
}

/* all of a when-style list must hold */
static kp_rc test_all(struct kp_lua *L, struct kp_expr *const *x, size_t n,
		      const struct kp_scope *s, bool *ok, const char **which, struct kp_buf *err)
{
	*ok = true;
	for (size_t i = 0; i < n; i++) {
		kp_rc rc = kp_expr_test(L, x[i], s, ok, err);
		if (rc)
			return rc;
		if (!*ok) {
			if (which)
				*which = kp_expr_source(x[i]);
			return KP_OK;
		}
	}
	return KP_OK;
}

/* Environment entries from the play, the blocks and the task, rendered. */
static kp_rc render_env(struct kp_output *out, struct kp_lua *L, const struct kp_task *t,
			const struct kp_taskenv *env, const struct kp_scope *s,
			struct kp_value **res, struct kp_buf *err)
{
	struct kp_value *m = kp_value_map();
	const struct kp_tvalue *lists[18];
	size_t n = 0;
	for (size_t i = 0; i < env->nenvs; i++)
		lists[n++] = env->envs[i];
	if (t->environment)
		lists[n++] = t->environment;
	for (size_t i = 0; i < n; i++) {
		struct kp_value *v;
		kp_rc rc = kp_tvalue_render(L, lists[i], s, &v, err);
		if (!rc && v->type != KP_V_MAP) {
			/* as ansible-core: a warning, and the value is left out */
			struct kp_buf txt = KP_BUF_INIT;
			kp_value_to_text(v, true, &txt);
			kp_out_note(out, "warning: could not parse environment value, skipping: %s",
				    txt.buf);
			kp_buf_release(&txt);
			kp_value_unref(v);
			continue;
		}
		if (rc) {
			kp_value_unref(m);
			return rc;
		}
		kp_map_update(m, v);
		kp_value_unref(v);
	}
	*res = m;
	return KP_OK;
}

static kp_rc render_count(struct kp_lua *L, const struct kp_template *tm, const struct kp_scope *s,
			  const char *key, bool duration, int64_t *out, struct kp_buf *err)
{
	struct kp_value *v = NULL;
	kp_rc rc = kp_template_render(L, tm, s, &v, err);
	if (rc)
		return rc;
	struct kp_buf text = KP_BUF_INIT;
	kp_value_to_text(v, false, &text);
	char *end = NULL;
	long long n = v->type == KP_V_INT ? (long long)v->u.i : strtoll(text.buf, &end, 10);
	bool ok = v->type == KP_V_INT || (end && end != text.buf && !*end);
	if (ok && n >= 0 && n <= INT32_MAX) {
		*out = duration ? n * 1000 : n;
	} else if (duration && v->type == KP_V_STR && !kp_parse_duration(text.buf, out)) {
		rc = KP_OK;
	} else {
		struct kp_pos p = kp_template_pos(tm);
		rc = kp_errorf(err, KP_ERR_INVALID, "%s:%d:%d: '%s' must render to %s, not '%s'",
			       p.file, p.line, p.col, key,
			       duration ? "a number of seconds or a duration like 5s"
					: "a non-negative integer",
			       text.buf);
	}
	kp_buf_release(&text);
	kp_value_unref(v);
	return rc;
}

static void run_module(struct kp_engine *e, int slot, struct kp_hoststate *hs,
		       const struct kp_task *t, const struct kp_taskenv *env,
		       const struct kp_scope *scope, struct outcome *oc, struct kp_buf *cmds,
		       struct kp_buf *out_text, struct kp_buf *err_text, struct kp_buf *diff,
		       const char **delegated)
{
	struct kp_lua *L = e->L[slot];
	struct kp_buf err = KP_BUF_INIT;
	struct kp_value *args = NULL, *finished = NULL, *envmap = NULL;
	struct kp_hoststate *target = hs;
	char **envv = NULL;
	struct kp_taskbecome bec = {0};

	/* delegate_to: another inventory host's connection, this host's
	 * variables; the task's own, else its block's */
	const struct kp_template *dt = t->delegate_to ? t->delegate_to : env->delegate_to;
	if (dt) {
		struct kp_value *d = NULL;
		if (kp_template_render(L, dt, scope, &d, &err)) {
			kp_outcome_failed(oc, err.buf);
			goto out;
		}
		struct kp_buf name = KP_BUF_INIT;
		kp_value_to_text(d, false, &name);
		kp_value_unref(d);
		const char *implicit;
		const struct kp_host *h = kp_delegate_host(&e->ld->inv, name.buf, &implicit);
		if (!h && !implicit) {
			kp_buf_reset(&err);
			kp_buf_addf(&err, "delegate_to: no host '%s' in the inventory", name.buf);
			kp_buf_release(&name);
			kp_outcome_failed(oc, err.buf);
			goto out;
		}
		kp_buf_release(&name);
		/* no such host but a name of the controller: Ansible's implicit
		 * localhost (engine_int.h), named as the task wrote it */
		target = h ? e->hosts[h->index] : &e->local;
		*delegated = h ? h->name : implicit;
		if (t->delegate_facts)
			oc->facts_to = target;
	}
	/* connection: local: the controller runs it, with this host's variables */
	if ((t->local_connection || env->local_connection) && target != &e->local) {
		target = &e->local;
		*delegated = "localhost";
	}

	if (!t->module->probe) {
		kp_buf_addf(&err, "module '%s' is not available in this build yet",
			    t->module->name);
		kp_outcome_failed(oc, err.buf);
		goto out;
	}
	if (kp_tvalue_render(L, t->args, scope, &args, &err) ||
	    kp_module_finish_args(t->module, args, &finished, &err)) {
		struct kp_buf m = KP_BUF_INIT;
		if (!strncmp(err.buf, t->module_pos.file ? t->module_pos.file : "\x01",
			     t->module_pos.file ? strlen(t->module_pos.file) : 1))
			kp_buf_addstr(&m, err.buf);
		else
			kp_buf_addf(&m, "%s:%d:%d: %s", t->module_pos.file, t->module_pos.line,
				    t->module_pos.col, err.buf);
		kp_outcome_failed(oc, m.buf);
		kp_buf_release(&m);
		goto out;
	}
	if (render_env(&e->out, L, t, env, scope, &envmap, &err)) {
		kp_outcome_failed(oc, err.buf);
		goto out;
	}
	envv = kp_xcalloc(kp_map_len(envmap) + 1, sizeof(char *));
	for (size_t i = 0; i < kp_map_len(envmap); i++) {
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b, "%s=", kp_map_key(envmap, i));
		kp_value_to_text(kp_map_val(envmap, i), false, &b);
		envv[i] = kp_buf_detach(&b, NULL);
	}

	bool check = e->o->check;
	enum kp_tristate cm = t->check_mode != KP_UNSET ? t->check_mode : env->check_mode;
	if (cm != KP_UNSET)
		check = cm == KP_YES;

	/* Controller-side modules use no connection and take no lock: a `lua`
	 * step's kplan.run locks the host it names for each command, so steps
	 * on several hosts naming each other cannot deadlock. */
	bool locked = !(t->module->flags & KP_MOD_LOCAL);
	/* who the task becomes: the host's become variables win over the
	 * task's and play's keywords, as in Ansible (connect.c) */
	enum kp_tristate kw_become = KP_UNSET;
	if (locked &&
	    (kp_task_become(L, scope, t, env, &kw_become, &err) ||
	     kp_become_resolve(L, scope, kw_become,
			       t->become_user ? t->become_user : env->become_user, &bec, &err))) {
		kp_outcome_failed(oc, err.buf);
		goto out;
	}
	/* counts written as templates, rendered before the connection is
	 * leased (a failure here holds no lease) */
	int64_t async_s = t->async_s, poll_s = t->poll_s, timeout_ms = t->timeout_ms;
	if ((t->async_t && render_count(L, t->async_t, scope, "async", false, &async_s, &err)) ||
	    (t->timeout_t &&
	     render_count(L, t->timeout_t, scope, "timeout", true, &timeout_ms, &err)) ||
	    (t->poll_t && render_count(L, t->poll_t, scope, "poll", false, &poll_s, &err))) {
		kp_outcome_failed(oc, err.buf);
		goto out;
	}
	int retries = t->until ? t->retries : 0;
	int64_t delay_ms = t->delay_ms, n;
	if (t->retries_t) {
		if (render_count(L, t->retries_t, scope, "retries", false, &n, &err)) {
			kp_outcome_failed(oc, err.buf);
			goto out;
		}
		retries = t->until ? (int)n : 0;
	}
	if (t->delay_t) {
		if (render_count(L, t->delay_t, scope, "delay", true, &delay_ms, &err)) {
			kp_outcome_failed(oc, err.buf);
			goto out;
		}
	}
	struct kp_conn *conn = NULL;
	struct kp_become become = {.user = bec.user, .password = bec.password};
	if (locked && !(conn = kp_host_lease(e, target, &become))) {
		oc->unreachable = true;
		kp_buf_reset(&oc->msg);
		kp_buf_addstr(&oc->msg, target->conn_error);
		goto out;
	}

	struct kp_task_ectx cpc = {.e = e,
				   .target = locked ? target : NULL,
				   .become = become,
				   .hs = hs,
				   .t = t,
				   .env = env,
				   .slot = slot};
	bool timed_out = false;
	/* poll: 0 on a command: a job on the node, the task goes on */
	char jid[64] = "";
	if (async_s > 0 && poll_s == 0 && !check && (t->module->flags & KP_MOD_ASYNC_BG))
		kp_outcome_jid(e, hs, jid, sizeof(jid));
	for (oc->attempts = 1;; oc->attempts++) {
		struct kp_result res;
		struct kp_modctx ctx = {
		    .module = t->module,
		    .task_name = kp_task_display_name(t),
		    .host = hs->host->name,
		    .conn = conn,
		    .args = finished,
		    .scope = scope,
		    .L = L,
		    .check_mode = check,
		    .diff = t->diff != KP_UNSET	    ? t->diff == KP_YES
			    : env->diff != KP_UNSET ? env->diff == KP_YES
						    : e->o->diff,
		    .verbose = e->o->verbose,
		    .timeout_ms = async_s	    ? async_s * 1000
				  : timeout_ms	    ? timeout_ms
				  : env->timeout_ms ? env->timeout_ms
						    : e->o->timeout_ms,
		    .base_dir = e->ld->plan->dir,
		    .env = (const char *const *)envv,
		    .play_file = e->play->plan_file,
		    .task_file = t->pos.file,
		    .interrupts = e->o->interrupts,
		    .async_job = kp_task_async_job,
		    .async_jid = jid[0] ? jid : NULL,
		    .engine_ctx = &cpc,
		};
		if (t->module->flags & KP_MOD_KUBE) {
			ctx.kubeconfig = e->o->kubeconfig;
			ctx.control_plane_exec = kp_task_control_plane_exec;
		}
		if (t->module->flags & KP_MOD_HOOK_API)
			ctx.run_lua = kp_lua_step_run;
		kp_result_init(&res);
		int64_t t0 = kp_now_ms();
		kp_buf_reset(&err);
		kp_rc rc = t->module->probe(&ctx, &res, &err);
		if (!rc && !res.failed)
			hs->flow = res.flow; /* meta: the engine acts on it (blocks.c) */
		if (!rc && res.changed && !res.failed && !check && t->module->apply)
			rc = t->module->apply(&ctx, &res, &err);
		if (ctx.state && ctx.free_state)
			ctx.free_state(ctx.state);
		res.duration_ms = kp_now_ms() - t0;
		if (rc == KP_ERR_UNREACHABLE) {
			oc->unreachable = true;
			kp_buf_reset(&oc->msg);
			kp_buf_addstr(&oc->msg, err.buf);
			kp_result_release(&res);
			break;
		}
		if (rc) {
			res.failed = true;
			kp_buf_reset(&res.msg);
			kp_buf_addstr(&res.msg, err.buf);
		}
		kp_value_unref(oc->value);
		oc->value = kp_result_to_value(&res);
		oc->value->unsafe = 1; /* node data: never templated again */
		oc->changed = res.changed;
		oc->failed = res.failed;
		oc->skipped = res.skipped;
		kp_buf_reset(&oc->msg);
		kp_buf_add(&oc->msg, res.msg.buf, res.msg.len);
		kp_value_unref(oc->set_vars);
		oc->set_vars = res.set_vars ? kp_value_ref(res.set_vars) : NULL;
		kp_buf_reset(out_text);
		kp_buf_add(out_text, res.out.buf, res.out.len);
		kp_buf_reset(err_text);
		kp_buf_add(err_text, res.err.buf, res.err.len);
		kp_buf_add(cmds, res.cmds.buf, res.cmds.len);
		kp_buf_reset(diff);
		kp_buf_add(diff, res.diff.buf, res.diff.len);
		timed_out = res.timed_out;
		kp_result_release(&res);

		/* failed_when / changed_when / until see the result under the
		 * register name */
		struct kp_value *reg = NULL;
		struct kp_scope rs;
		if (t->register_var) {
			reg = kp_value_map();
			kp_map_set(reg, t->register_var, oc->value);
		}
		scope_with(&rs, scope, reg);
		bool v;
		const char *which = NULL;
		if (t->nfailed_when) {
			if (test_all(L, t->failed_when, t->nfailed_when, &rs, &v, &which, &err)) {
				kp_value_unref(reg);
				kp_outcome_failed(oc, err.buf);
				break;
			}
			oc->failed = v;
			if (v && !oc->msg.len)
				kp_buf_addstr(&oc->msg, "failed_when condition held");
		}
		if (t->nchanged_when) {
			if (test_all(L, t->changed_when, t->nchanged_when, &rs, &v, &which, &err)) {
				kp_value_unref(reg);
				kp_outcome_failed(oc, err.buf);
				break;
			}
			oc->changed = v;
		}
		bool done = true;
		if (t->until) {
			if (kp_expr_test(L, t->until, &rs, &v, &err)) {
				kp_value_unref(reg);
				kp_outcome_failed(oc, err.buf);
				break;
			}
			done = v;
		}
		kp_value_unref(reg);
		if (done) /* the module's verdict stands, as in Ansible */
			break;
		if (oc->attempts > retries) {
			oc->failed = true;
			kp_buf_reset(&oc->msg);
			kp_buf_addf(&oc->msg, "'until' condition still false after %d attempts: %s",
				    oc->attempts, kp_expr_source(t->until));
			break;
		}
		if (delay_ms > 0 && !check)
			kp_sleep_interruptible(delay_ms, e->o->interrupts);
	}
	if (locked)
		kp_host_unlease(target, conn);
	/* the value carries the final verdict */
	if (oc->value && oc->value->refs == 1) {
		kp_map_set_take(oc->value, "changed", kp_value_bool(oc->changed));
		kp_map_set_take(oc->value, "failed", kp_value_bool(oc->failed));
		if (t->until)
			kp_map_set_take(oc->value, "attempts", kp_value_int(oc->attempts));
	}
	if (async_s && oc->value && !oc->unreachable)
		kp_outcome_async(e, hs, oc, async_s, poll_s, timed_out, check, jid[0] ? jid : NULL);
out:
	if (envv)
		for (char **p = envv; *p; p++)
			free(*p);
	free(envv);
	kp_become_release(&bec);
	kp_value_unref(envmap);
	kp_value_unref(args);
	kp_value_unref(finished);
	kp_buf_release(&err);
	if (!t->until)
		oc->attempts = 0;
}

static kp_rc test_when(struct kp_lua *L, const struct kp_task *t, const struct kp_taskenv *env,
		       const struct kp_scope *s, bool *ok, const char **why, struct kp_buf *err)
{
	kp_rc rc = KP_OK;
	*ok = true;
	for (size_t i = 0; i < env->nwhens && *ok && !rc; i++)
		rc = test_all(L, env->when[i], env->nwhen[i], s, ok, why, err);
	if (*ok && !rc)
		rc = test_all(L, t->when, t->nwhen, s, ok, why, err);
	return rc;
}

static void task_exec(struct kp_engine *e, int slot, struct kp_hoststate *hs,
		      const struct kp_task *t, const struct kp_taskenv *env)
{
	struct kp_lua *L = e->L[slot];
	const struct kp_scope *scope = &hs->hv.scope;
	struct outcome oc = {0};
	struct kp_buf err = KP_BUF_INIT, cmds = KP_BUF_INIT, out = KP_BUF_INIT, errt = KP_BUF_INIT,
		      diff = KP_BUF_INIT, title = KP_BUF_INIT;
	bool no_log = t->no_log || env->no_log;
	bool ignore_errors = t->ignore_errors || env->ignore_errors;
	bool ignore_unreachable = t->ignore_unreachable || env->ignore_unreachable;
	int64_t t0 = kp_now_ms();
	if (t->no_log_t && !no_log) {
		/* a template that fails to render hides the output all the same */
		struct kp_value *nv = NULL;
		no_log =
		    kp_template_render(L, t->no_log_t, scope, &nv, NULL) || kp_value_bool_word(nv);
		kp_value_unref(nv);
	}
	if (t->ignore_errors_t && !ignore_errors) {
		/* a template that fails to render ignores nothing */
		struct kp_value *iv = NULL;
		if (!kp_template_render(L, t->ignore_errors_t, scope, &iv, NULL))
			ignore_errors = kp_value_bool_word(iv);
		kp_value_unref(iv);
	}
	const char *delegated = NULL;
	const char *why = NULL;
	bool ok = true;
	kp_rc rc = KP_OK;

	struct kp_value *v = NULL;
	if (t->name_tmpl && !kp_template_render(L, t->name_tmpl, scope, &v, NULL)) {
		kp_value_to_text(v, true, &title);
		kp_value_unref(v);
	} else {
		kp_buf_addstr(&title, kp_task_display_name(t));
	}
	kp_role_title(t, env, &title);

	/* a loop's items come first: `when` is then tested per item, with the
	 * loop variable (as Ansible does); when they cannot be had, `when` is
	 * tested once and may skip the task before the loop's error counts */
	struct kp_value *items = NULL;
	struct kp_buf loop_err = KP_BUF_INIT;
	bool items_ok = t->loop && !kp_task_loop_items(L, t, scope, &items, &loop_err);
	if (!items_ok)
		rc = test_when(L, t, env, scope, &ok, &why, &err);
	if (rc) {
		struct outcome f = {0};
		kp_buf_addf(&err, " (task '%s')", title.buf);
		kp_outcome_failed(&f, err.buf);
		enum kp_status st = kp_outcome_status(&f, ignore_errors, ignore_unreachable);
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = st,
					  .msg = f.msg.buf,
					  .duration_ms = kp_now_ms() - t0};
		kp_task_report(e, t, env, title.buf, &r);
		kp_outcome_apply(e, hs, t, env, st, &f, no_log);
		kp_outcome_release(&f);
		goto out;
	}
	if (!ok) {
		struct outcome s = {0};
		kp_outcome_skip(&s, why);
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = KP_ST_SKIPPED,
					  .msg = s.msg.buf,
					  .duration_ms = kp_now_ms() - t0};
		kp_task_report(e, t, env, title.buf, &r);
		kp_outcome_apply(e, hs, t, env, KP_ST_SKIPPED, &s, no_log);
		kp_outcome_release(&s);
		goto out;
	}

	if (!t->loop) {
		run_module(e, slot, hs, t, env, scope, &oc, &cmds, &out, &errt, &diff, &delegated);
		enum kp_status st = kp_outcome_status(&oc, ignore_errors, ignore_unreachable);
		if (st == KP_ST_FAILED && !oc.msg.len)
			kp_buf_addstr(&oc.msg, "failed");
		struct kp_taskresult r = {.host = hs->host->name,
					  .delegated_to = delegated,
					  .status = st,
					  .duration_ms = kp_now_ms() - t0,
					  .msg = oc.msg.buf,
					  .result = oc.value,
					  .cmds = cmds.buf,
					  .out = out.buf,
					  .err = errt.buf,
					  .diff = diff.buf,
					  .attempts = oc.attempts,
					  .no_log = no_log,
					  .show_msg = (t->module->flags & KP_MOD_SHOWS_MSG) != 0};
		kp_task_report(e, t, env, title.buf, &r);
		kp_outcome_apply(e, hs, t, env, st, &oc, no_log);
		goto out;
	}

	/* loop: the module once per item; the registered value has `results` */
	if (!items_ok) {
		kp_outcome_failed(&oc, loop_err.buf);
		enum kp_status st = kp_outcome_status(&oc, ignore_errors, ignore_unreachable);
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = st,
					  .msg = oc.msg.buf,
					  .duration_ms = kp_now_ms() - t0};
		kp_task_report(e, t, env, title.buf, &r);
		kp_outcome_apply(e, hs, t, env, st, &oc, no_log);
		goto out;
	}
	struct kp_value *results = kp_value_list();
	bool any_changed = false, any_failed = false, any_unreachable = false, all_skipped = true;
	struct kp_value *set_vars = NULL;
	for (size_t i = 0; i < kp_list_len(items); i++) {
		struct outcome io = {0};
		const struct kp_value *item = kp_list_at(items, i);
		if (i && t->loop_pause_ms > 0)
			kp_sleep_interruptible(t->loop_pause_ms, e->o->interrupts);
		struct kp_value *layer = kp_loop_vars(t, items, i);
		struct kp_scope is;
		scope_with(&is, scope, layer);
		struct kp_buf label = KP_BUF_INIT;
		struct kp_value *lv = NULL;
		if (t->loop_label && !kp_template_render(L, t->loop_label, &is, &lv, NULL))
			kp_value_to_text(lv, true, &label);
		else
			kp_value_to_text(item, true, &label);
		kp_value_unref(lv);
		int64_t it0 = kp_now_ms();
		kp_buf_reset(&cmds);
		bool iok = true;
		const char *iwhy = NULL;
		kp_buf_reset(&err);
		if (test_when(L, t, env, &is, &iok, &iwhy, &err)) {
			kp_buf_addf(&err, " (task '%s')", title.buf);
			kp_outcome_failed(&io, err.buf);
		} else if (!iok) {
			kp_outcome_skip(&io, iwhy);
		} else {
			run_module(e, slot, hs, t, env, &is, &io, &cmds, &out, &errt, &diff,
				   &delegated);
		}
		enum kp_status st = kp_outcome_status(&io, ignore_errors, ignore_unreachable);
		struct kp_taskresult r = {.host = hs->host->name,
					  .delegated_to = delegated,
					  .status = st,
					  .duration_ms = kp_now_ms() - it0,
					  .msg = io.msg.buf,
					  .result = io.value,
					  .cmds = cmds.buf,
					  .out = out.buf,
					  .err = errt.buf,
					  .diff = diff.buf,
					  .item = label.buf,
					  .attempts = io.attempts,
					  .no_log = no_log,
					  .show_msg = (t->module->flags & KP_MOD_SHOWS_MSG) != 0};
		kp_task_report(e, t, env, title.buf, &r);
		struct kp_value *rv = io.value ? kp_value_copy(io.value) : kp_value_map();
		kp_map_update(rv, layer); /* the item, its index, ansible_loop */
		kp_list_push_take(results, rv);
		any_changed |= io.changed;
		any_failed |= io.failed;
		any_unreachable |= io.unreachable;
		all_skipped &= io.skipped;
		if (io.facts_to)
			oc.facts_to = io.facts_to;
		if (io.set_vars) {
			if (!set_vars)
				set_vars = kp_value_map();
			kp_map_update(set_vars, io.set_vars);
		}
		kp_buf_release(&label);
		kp_value_unref(layer);
		kp_outcome_release(&io);
		if (any_unreachable)
			break;
	}
	oc.value = kp_value_map();
	kp_map_set_take(oc.value, "changed", kp_value_bool(any_changed));
	if (!kp_list_len(items)) {
		/* nothing to loop over: the task is skipped, as in Ansible */
		kp_map_set_take(oc.value, "skipped", kp_value_bool(true));
		kp_map_set_take(oc.value, "skipped_reason", kp_value_str("No items in the list"));
		oc.skipped = true;
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = KP_ST_SKIPPED,
					  .msg = "No items in the list",
					  .duration_ms = kp_now_ms() - t0};
		kp_task_report(e, t, env, title.buf, &r);
	} else {
		kp_map_set_take(oc.value, "failed", kp_value_bool(any_failed));
		kp_map_set_take(oc.value, "skipped", kp_value_bool(all_skipped));
		kp_map_set_take(oc.value, "msg",
				kp_value_str(all_skipped  ? "All items skipped"
					     : any_failed ? "One or more items failed"
							  : "All items completed"));
		oc.skipped = all_skipped;
	}
	kp_map_set_take(oc.value, "results", results);
	oc.changed = any_changed;
	oc.failed = any_failed;
	oc.unreachable = any_unreachable;
	oc.set_vars = set_vars;
	kp_value_unref(items);
	enum kp_status st = kp_outcome_status(&oc, ignore_errors, ignore_unreachable);
	kp_outcome_apply(e, hs, t, env, st, &oc, no_log);
out:
	kp_outcome_release(&oc);
	kp_buf_release(&loop_err);
	kp_buf_release(&err);
	kp_buf_release(&cmds);
	kp_buf_release(&out);
	kp_buf_release(&errt);
	kp_buf_release(&diff);
	kp_buf_release(&title);
}

/* The task with its hooks (hooks.c): before_task may fail or skip it;
 * after_task sees its registered result; on_failure runs when the task (or
 * a hook around it) failed the host. */
void kp_task_exec(struct kp_engine *e, int slot, struct kp_hoststate *hs, const struct kp_task *t,
		  const struct kp_taskenv *env)
{
	const struct kp_play *p = e->play;
	if (e->resuming && !(t->module && (t->module->flags & KP_MOD_FLOW)) &&
	    kp_resume_done(&e->resume, env->task_id, hs->host->name)) {
		/* --resume: this host finished this task in the run being resumed;
		 * its registered value was restored when the run started */
		struct kp_buf m = KP_BUF_INIT;
		/* what a run_once task shares with the other hosts is what it
		 * registered (restored), not an earlier task's result */
		const struct kp_value *reg =
		    t->register_var ? kp_map_get(hs->facts, t->register_var) : NULL;
		kp_value_unref(hs->last_value);
		hs->last_value = reg ? kp_value_ref(reg) : NULL;
		kp_value_unref(hs->last_set_vars);
		hs->last_set_vars = NULL;
		kp_buf_addf(&m, "done in run %s", e->resume.run_id);
		struct kp_taskresult r = {
		    .host = hs->host->name, .status = KP_ST_SKIPPED, .msg = m.buf};
		kp_task_report(e, t, env, kp_task_display_name(t), &r);
		hs->counts.skipped++;
		kp_buf_release(&m);
		return;
	}
	if (!p->nhooks[KP_HOOK_BEFORE_TASK] && !p->nhooks[KP_HOOK_AFTER_TASK] &&
	    !p->nhooks[KP_HOOK_ON_FAILURE]) {
		task_exec(e, slot, hs, t, env);
		return;
	}
	bool was_failed = hs->failed;
	struct kp_buf msg = KP_BUF_INIT;
	enum kp_hook_outcome ho =
	    kp_hooks_run_task(e, slot, hs, t, env, KP_HOOK_BEFORE_TASK, NULL, &msg);
	if (ho == KP_HOOK_FAILED || ho == KP_HOOK_SKIPPED) {
		/* the task does not run on this host; its result says why */
		struct outcome oc = {0};
		if (ho == KP_HOOK_FAILED) {
			struct kp_buf m = KP_BUF_INIT;
			kp_buf_addf(&m, "before_task hook failed: %s", msg.buf);
			kp_outcome_failed(&oc, m.buf);
			kp_buf_release(&m);
		} else {
			oc.skipped = true;
			oc.value = kp_value_map();
			kp_map_set_take(oc.value, "changed", kp_value_bool(false));
			kp_map_set_take(oc.value, "skipped", kp_value_bool(true));
			kp_map_set_take(oc.value, "skip_reason", kp_value_str(msg.buf));
			kp_buf_addf(&oc.msg, "skipped by before_task hook: %s", msg.buf);
		}
		bool ignore = t->ignore_errors || env->ignore_errors;
		enum kp_status st = kp_outcome_status(&oc, ignore, false);
		struct kp_taskresult r = {.host = hs->host->name, .status = st, .msg = oc.msg.buf};
		kp_task_report(e, t, env, kp_task_display_name(t), &r);
		kp_outcome_apply(e, hs, t, env, st, &oc, t->no_log || env->no_log);
		kp_outcome_release(&oc);
	} else {
		task_exec(e, slot, hs, t, env);
		kp_hooks_run_task(e, slot, hs, t, env, KP_HOOK_AFTER_TASK, hs->last_value, NULL);
	}
	if (!was_failed && hs->failed && !hs->unreachable)
		kp_hooks_on_failure(e, slot, hs, t, hs->last_value);
	kp_buf_release(&msg);
}

void kp_task_share_once(struct kp_engine *e, struct kp_hoststate *from, struct kp_hoststate *to,
			const struct kp_task *t)
{
	pthread_mutex_lock(&e->lock); /* hostvars[] of other hosts reads it */
	if (t->register_var && from->last_value)
		kp_map_set(to->facts, t->register_var, from->last_value);
	if (from->last_set_vars)
		kp_map_update(to->facts, from->last_set_vars);
	to->facts_gen++;
	pthread_mutex_unlock(&e->lock);
	if (from->last_changed)
		for (size_t i = 0; i < t->nnotify; i++)
			if (!kp_strlist_has(&to->notified, t->notify[i]))
				kp_strlist_push(&to->notified, t->notify[i]);
	if (from->failed) {
		to->failed = true;
		to->counts.failed++;
	}
}
