/*
 * task.c - one task on one host: when, loop, until/retries, the module's
 * probe and apply, failed_when/changed_when, ignore_errors, register,
 * set-fact, notify, and the result line.
 *
 * Invalid input that only shows at run time (an undefined variable in an
 * argument, a loop over a string) fails the task on that host with the
 * message and position; the run goes on as max_fail_percentage allows.
 */
#include "engine/engine_int.h"
#include "engine/hooks.h"

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

struct outcome {
	enum kp_status status;
	bool changed, failed, skipped, unreachable;
	struct kp_value *value;	   /* registered form */
	struct kp_value *set_vars; /* set-fact */
	struct kp_buf msg;
	int attempts;
};

static void outcome_release(struct outcome *o)
{
	kp_value_unref(o->value);
	kp_value_unref(o->set_vars);
	kp_buf_release(&o->msg);
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

static void finish_failed(struct outcome *oc, const char *msg)
{
	oc->failed = true;
	kp_buf_reset(&oc->msg);
	kp_buf_addstr(&oc->msg, msg);
	kp_value_unref(oc->value);
	oc->value = kp_value_map();
	kp_map_set_take(oc->value, "failed", kp_value_bool(true));
	kp_map_set_take(oc->value, "changed", kp_value_bool(false));
	kp_map_set_take(oc->value, "msg", kp_value_str(msg));
}

/* What ctx->control_plane_exec (and the lua module) reach: struct
 * kp_task_ectx in engine_int.h. */

/* Run a command on the first host of kube_control_plane (the kubectl
 * fallback of drain and kube-node). The host's connection is locked for
 * this one call; when it is the task's own target, the lock is already held. */
static kp_rc control_plane_exec(struct kp_modctx *ctx, const struct kp_exec_req *req,
				struct kp_exec_res *r, struct kp_buf *err)
{
	struct kp_task_ectx *c = ctx->engine_ctx;
	const struct kp_inventory *inv = &c->e->ld->inv;
	const struct kp_group *g = kp_inventory_group(inv, "kube_control_plane");
	size_t *hosts = NULL;
	size_t n = g ? kp_group_all_hosts(inv, g, &hosts) : 0;
	if (!n) {
		free(hosts);
		return kp_errorf(err, KP_ERR_NOTFOUND,
				 "no host in group 'kube_control_plane' to run kubectl on");
	}
	struct kp_hoststate *cp = &c->e->hosts[hosts[0]];
	free(hosts);
	return kp_host_exec(c->e, cp, cp == c->target, &c->become, req, r, "to run kubectl", err);
}

/* async_status's look-up (modctx.async_job): the host's job table. */
static struct kp_value *async_job(struct kp_modctx *ctx, const char *jid, bool cleanup)
{
	struct kp_task_ectx *c = ctx->engine_ctx;
	struct kp_hoststate *hs = c->hs;
	const struct kp_value *v = hs->async_jobs ? kp_map_get(hs->async_jobs, jid) : NULL;
	struct kp_value *r = v ? kp_value_ref(v) : NULL;
	if (r && cleanup)
		kp_map_del(hs->async_jobs, jid);
	return r;
}

/* async: the result gets a job id, and Ansible's message when the module
 * ran past `async` seconds. With poll: 0 the result is kept for
 * async_status and the task registers only the job: the module has
 * already run to its end (kplan runs it in the foreground), so
 * async_status finds it finished. */
static void async_outcome(struct kp_engine *e, struct kp_hoststate *hs, struct outcome *oc,
			  int64_t async_s, int64_t poll_s, bool timed_out, bool check)
{
	char jid[64];
	pthread_mutex_lock(&e->lock);
	unsigned seq = ++hs->async_seq;
	pthread_mutex_unlock(&e->lock);
	snprintf(jid, sizeof(jid), "j%u%09lld.%d", seq, (long long)(kp_now_ms() % 1000000000),
		 (int)getpid());
	struct kp_value *v = kp_value_copy(oc->value);
	v->unsafe = oc->value->unsafe;
	kp_value_unref(oc->value);
	oc->value = v;
	kp_map_set_take(v, "ansible_job_id", kp_value_str(jid));
	kp_map_set_take(v, "started", kp_value_int(1));
	kp_map_set_take(v, "finished", kp_value_int(timed_out ? 0 : 1));
	if (timed_out) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "async task did not complete within the requested time - %llds",
			 (long long)async_s);
		struct kp_value *ar = kp_value_map();
		kp_map_set_take(ar, "ansible_job_id", kp_value_str(jid));
		kp_map_set_take(ar, "started", kp_value_int(1));
		kp_map_set_take(ar, "finished", kp_value_int(0));
		kp_map_set_take(ar, "stdout", kp_value_str(""));
		kp_map_set_take(ar, "stderr", kp_value_str(""));
		kp_map_set_take(v, "async_result", ar);
		kp_map_del(v, "rc");
		kp_map_del(v, "stdout");
		kp_map_del(v, "stderr");
		kp_map_del(v, "stdout_lines");
		kp_map_del(v, "stderr_lines");
		kp_map_set_take(v, "msg", kp_value_str(msg));
		kp_map_set_take(v, "changed", kp_value_bool(false));
		kp_map_set_take(v, "failed", kp_value_bool(true));
		oc->changed = false;
		oc->failed = true;
		kp_buf_reset(&oc->msg);
		kp_buf_addstr(&oc->msg, msg);
	}
	if (poll_s || check)
		return;
	if (!hs->async_jobs)
		hs->async_jobs = kp_value_map();
	kp_map_set(hs->async_jobs, jid, v);
	struct kp_value *started = kp_value_map();
	started->unsafe = 1;
	kp_map_set_take(started, "ansible_job_id", kp_value_str(jid));
	kp_map_set_take(started, "started", kp_value_int(1));
	kp_map_set_take(started, "finished", kp_value_int(0));
	kp_map_set_take(started, "changed", kp_value_bool(true));
	kp_map_set_take(started, "failed", kp_value_bool(false));
	kp_value_unref(oc->value);
	oc->value = started;
	oc->changed = true;
	oc->failed = false;
	kp_buf_reset(&oc->msg);
}

/* The module once (probe, then apply), with until/retries around it. */
/* retries / delay written as templates: rendered for this host. A number,
 * or text holding one (what "{{ n }}" renders to); delay also takes a
 * duration like 5s. */
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

	/* delegate_to: another inventory host's connection, this host's variables */
	if (t->delegate_to) {
		struct kp_value *d = NULL;
		if (kp_template_render(L, t->delegate_to, scope, &d, &err)) {
			finish_failed(oc, err.buf);
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
			finish_failed(oc, err.buf);
			goto out;
		}
		kp_buf_release(&name);
		/* no such host but a name of the controller: Ansible's implicit
		 * localhost (engine_int.h), named as the task wrote it */
		target = h ? &e->hosts[h->index] : &e->local;
		*delegated = h ? h->name : implicit;
	}

	if (!t->module->probe) {
		kp_buf_addf(&err, "module '%s' is not available in this build yet",
			    t->module->name);
		finish_failed(oc, err.buf);
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
		finish_failed(oc, m.buf);
		kp_buf_release(&m);
		goto out;
	}
	if (render_env(&e->out, L, t, env, scope, &envmap, &err)) {
		finish_failed(oc, err.buf);
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
	if (locked &&
	    kp_become_resolve(L, scope, t->become != KP_UNSET ? t->become : env->become,
			      t->become_user ? t->become_user : env->become_user, &bec, &err)) {
		finish_failed(oc, err.buf);
		goto out;
	}
	/* counts written as templates, rendered before the connection is
	 * leased (a failure here holds no lease) */
	int64_t async_s = t->async_s, poll_s = t->poll_s;
	if ((t->async_t && render_count(L, t->async_t, scope, "async", false, &async_s, &err)) ||
	    (t->poll_t && render_count(L, t->poll_t, scope, "poll", false, &poll_s, &err))) {
		finish_failed(oc, err.buf);
		goto out;
	}
	int retries = t->until ? t->retries : 0;
	int64_t delay_ms = t->delay_ms, n;
	if (t->retries_t) {
		if (render_count(L, t->retries_t, scope, "retries", false, &n, &err)) {
			finish_failed(oc, err.buf);
			goto out;
		}
		retries = t->until ? (int)n : 0;
	}
	if (t->delay_t) {
		if (render_count(L, t->delay_t, scope, "delay", true, &delay_ms, &err)) {
			finish_failed(oc, err.buf);
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
				  : t->timeout_ms   ? t->timeout_ms
				  : env->timeout_ms ? env->timeout_ms
						    : e->o->timeout_ms,
		    .base_dir = e->ld->plan->dir,
		    .env = (const char *const *)envv,
		    .play_file = e->play->plan_file,
		    .task_file = t->pos.file,
		    .interrupts = e->o->interrupts,
		    .async_job = async_job,
		    .engine_ctx = &cpc,
		};
		if (t->module->flags & KP_MOD_KUBE) {
			ctx.kubeconfig = e->o->kubeconfig;
			ctx.control_plane_exec = control_plane_exec;
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
				finish_failed(oc, err.buf);
				break;
			}
			oc->failed = v;
			if (v && !oc->msg.len)
				kp_buf_addstr(&oc->msg, "failed_when condition held");
		}
		if (t->nchanged_when) {
			if (test_all(L, t->changed_when, t->nchanged_when, &rs, &v, &which, &err)) {
				kp_value_unref(reg);
				finish_failed(oc, err.buf);
				break;
			}
			oc->changed = v;
		}
		bool done = true;
		if (t->until) {
			if (kp_expr_test(L, t->until, &rs, &v, &err)) {
				kp_value_unref(reg);
				finish_failed(oc, err.buf);
				break;
			}
			done = v;
		}
		kp_value_unref(reg);
		if (done) {
			if (t->until)
				oc->failed = false;
			break;
		}
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
		async_outcome(e, hs, oc, async_s, poll_s, timed_out, check);
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

static enum kp_status status_of(const struct outcome *oc, bool ignore_errors,
				bool ignore_unreachable)
{
	if (oc->unreachable)
		return ignore_unreachable ? KP_ST_SKIPPED : KP_ST_UNREACHABLE;
	if (oc->failed)
		return ignore_errors ? KP_ST_IGNORED : KP_ST_FAILED;
	if (oc->skipped)
		return KP_ST_SKIPPED;
	return oc->changed ? KP_ST_CHANGED : KP_ST_OK;
}

static void count(struct kp_hoststate *hs, enum kp_status st)
{
	switch (st) {
	case KP_ST_OK:
		hs->counts.ok++;
		break;
	case KP_ST_CHANGED:
		hs->counts.ok++;
		hs->counts.changed++;
		break;
	case KP_ST_FAILED:
		hs->counts.failed++;
		break;
	case KP_ST_SKIPPED:
		hs->counts.skipped++;
		break;
	case KP_ST_UNREACHABLE:
		hs->counts.unreachable++;
		break;
	case KP_ST_IGNORED:
		hs->counts.ignored++;
		break;
	case KP_ST_RESCUED:
		hs->counts.rescued++;
		break;
	}
}

static void report(struct kp_engine *e, const struct kp_task *t, const struct kp_taskenv *env,
		   const char *title, const struct kp_taskresult *r)
{
	struct kp_taskresult full = *r; /* the report files rows by module and section */
	full.module = t->module ? t->module->name : NULL;
	full.section = env->section;
	kp_out_host_result(&e->out, title, &full);
}

/* What every outcome does to the host: register, set-fact, notify, state. */
static void apply_outcome(struct kp_engine *e, struct kp_hoststate *hs, const struct kp_task *t,
			  const struct kp_taskenv *env, enum kp_status st, struct outcome *oc,
			  bool no_log)
{
	if (e->journaling && !e->o->check) {
		kp_journal_result(&e->journal, env->task_id, kp_task_display_name(t),
				  hs->host->name, kp_status_name(st), oc->value, t->register_var,
				  no_log);
		struct kp_leftover left = {0};
		bool failed = st == KP_ST_FAILED || st == KP_ST_IGNORED;
		if (t->module && t->module->leftover && oc->value &&
		    (failed || st == KP_ST_OK || st == KP_ST_CHANGED))
			t->module->leftover(oc->value, failed, &left);
		if (left.node)
			kp_journal_cordon(&e->journal, hs->host->name, left.node, left.cordoned);
		kp_engine_journal_check(e);
	}
	if (no_log && oc->value) {
		/* The value stays usable in expressions (a no_log step that
		 * fetches a token feeds the next command), but wherever it is
		 * printed later (debug, JSON, journal, previews, failed_result
		 * in a rescue) it shows censored, as in Ansible. */
		struct kp_value *c = kp_value_nolog(oc->value);
		kp_value_unref(oc->value);
		oc->value = c;
	}
	if (t->register_var && oc->value) {
		if (!oc->value->unsafe) { /* a loop's results, a skip */
			struct kp_value *c =
			    oc->value->refs == 1 ? oc->value : kp_value_copy(oc->value);
			if (c != oc->value)
				kp_value_unref(oc->value);
			c->unsafe = 1;
			oc->value = c;
		}
		pthread_mutex_lock(&e->lock); /* hostvars[] of other hosts reads it */
		kp_map_set(hs->facts, t->register_var, oc->value);
		pthread_mutex_unlock(&e->lock);
	}
	if (oc->set_vars && (st == KP_ST_OK || st == KP_ST_CHANGED)) {
		pthread_mutex_lock(&e->lock);
		kp_map_update(hs->facts, oc->set_vars);
		pthread_mutex_unlock(&e->lock);
	}
	/* a module's facts (setup) become the host's, as Ansible's do */
	const struct kp_value *af = oc->value && oc->value->type == KP_V_MAP
					? kp_map_get(oc->value, "ansible_facts")
					: NULL;
	if (af && (st == KP_ST_OK || st == KP_ST_CHANGED))
		kp_facts_store(e, hs, af);
	if (st == KP_ST_CHANGED)
		for (size_t i = 0; i < t->nnotify; i++)
			if (!kp_strlist_has(&hs->notified, t->notify[i]))
				kp_strlist_push(&hs->notified, t->notify[i]);
	if (st == KP_ST_FAILED) {
		hs->failed = true;
		free(hs->last_failed_task);
		hs->last_failed_task = kp_xstrdup(kp_task_display_name(t));
		kp_value_unref(hs->last_failed_result);
		hs->last_failed_result = oc->value ? kp_value_ref(oc->value) : NULL;
	}
	if (st == KP_ST_UNREACHABLE)
		hs->unreachable = true;
	kp_value_unref(hs->last_value);
	hs->last_value = oc->value ? kp_value_ref(oc->value) : NULL;
	kp_value_unref(hs->last_set_vars);
	hs->last_set_vars = oc->set_vars ? kp_value_ref(oc->set_vars) : NULL;
	hs->last_changed = st == KP_ST_CHANGED;
	count(hs, st);
}

/* A task (or one item) whose `when` did not hold: Ansible's skip result,
 * and the condition on one line for the operator. */
static void skip_outcome(struct outcome *s, const char *why)
{
	s->skipped = true;
	s->value = kp_value_map();
	kp_map_set_take(s->value, "changed", kp_value_bool(false));
	kp_map_set_take(s->value, "skipped", kp_value_bool(true));
	kp_map_set_take(s->value, "skip_reason", kp_value_str("Conditional result was False"));
	kp_buf_addstr(&s->msg, "when: ");
	for (const char *w = why; *w; w++) {
		bool sp = *w == ' ' || *w == '\n' || *w == '\t';
		if (!sp)
			kp_buf_addch(&s->msg, *w);
		else if (s->msg.len && s->msg.buf[s->msg.len - 1] != ' ')
			kp_buf_addch(&s->msg, ' ');
	}
}

/* when: the enclosing blocks' conditions, then the task's own */
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
		finish_failed(&f, err.buf);
		enum kp_status st = status_of(&f, ignore_errors, ignore_unreachable);
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = st,
					  .msg = f.msg.buf,
					  .duration_ms = kp_now_ms() - t0};
		report(e, t, env, title.buf, &r);
		apply_outcome(e, hs, t, env, st, &f, no_log);
		outcome_release(&f);
		goto out;
	}
	if (!ok) {
		struct outcome s = {0};
		skip_outcome(&s, why);
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = KP_ST_SKIPPED,
					  .msg = s.msg.buf,
					  .duration_ms = kp_now_ms() - t0};
		report(e, t, env, title.buf, &r);
		apply_outcome(e, hs, t, env, KP_ST_SKIPPED, &s, no_log);
		outcome_release(&s);
		goto out;
	}

	if (!t->loop) {
		run_module(e, slot, hs, t, env, scope, &oc, &cmds, &out, &errt, &diff, &delegated);
		enum kp_status st = status_of(&oc, ignore_errors, ignore_unreachable);
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
		report(e, t, env, title.buf, &r);
		apply_outcome(e, hs, t, env, st, &oc, no_log);
		goto out;
	}

	/* loop: the module once per item; the registered value has `results` */
	if (!items_ok) {
		finish_failed(&oc, loop_err.buf);
		enum kp_status st = status_of(&oc, ignore_errors, ignore_unreachable);
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = st,
					  .msg = oc.msg.buf,
					  .duration_ms = kp_now_ms() - t0};
		report(e, t, env, title.buf, &r);
		apply_outcome(e, hs, t, env, st, &oc, no_log);
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
			finish_failed(&io, err.buf);
		} else if (!iok) {
			skip_outcome(&io, iwhy);
		} else {
			run_module(e, slot, hs, t, env, &is, &io, &cmds, &out, &errt, &diff,
				   &delegated);
		}
		enum kp_status st = status_of(&io, ignore_errors, ignore_unreachable);
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
		report(e, t, env, title.buf, &r);
		struct kp_value *rv = io.value ? kp_value_copy(io.value) : kp_value_map();
		kp_map_update(rv, layer); /* the item, its index, ansible_loop */
		kp_list_push_take(results, rv);
		any_changed |= io.changed;
		any_failed |= io.failed;
		any_unreachable |= io.unreachable;
		all_skipped &= io.skipped;
		if (io.set_vars) {
			if (!set_vars)
				set_vars = kp_value_map();
			kp_map_update(set_vars, io.set_vars);
		}
		kp_buf_release(&label);
		kp_value_unref(layer);
		outcome_release(&io);
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
		report(e, t, env, title.buf, &r);
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
	enum kp_status st = status_of(&oc, ignore_errors, ignore_unreachable);
	apply_outcome(e, hs, t, env, st, &oc, no_log);
out:
	outcome_release(&oc);
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
		report(e, t, env, kp_task_display_name(t), &r);
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
			finish_failed(&oc, m.buf);
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
		enum kp_status st = status_of(&oc, ignore, false);
		struct kp_taskresult r = {.host = hs->host->name, .status = st, .msg = oc.msg.buf};
		report(e, t, env, kp_task_display_name(t), &r);
		apply_outcome(e, hs, t, env, st, &oc, t->no_log || env->no_log);
		outcome_release(&oc);
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
