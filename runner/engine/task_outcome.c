/*
 * task_outcome.c - what a task's result does: its status (ok, changed,
 * failed, ignored, skipped, unreachable) and the host's counts, register,
 * set-fact, facts, notify and the journal record; Ansible's skip and
 * failure results; async jobs (the job id, the timeout message, the job
 * table async_status reads); and the control-plane exec that drain's and
 * kube-node's kubectl fallback use.
 */
#include "engine/engine_int.h"
#include "engine/task_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kp_outcome_release(struct outcome *o)
{
	kp_value_unref(o->value);
	kp_value_unref(o->set_vars);
	kp_buf_release(&o->msg);
}

void kp_outcome_failed(struct outcome *oc, const char *msg)
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
kp_rc kp_task_control_plane_exec(struct kp_modctx *ctx, const struct kp_exec_req *req,
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
	struct kp_hoststate *cp = c->e->hosts[hosts[0]];
	free(hosts);
	return kp_host_exec(c->e, cp, cp == c->target, &c->become, req, r, "to run kubectl", err);
}

/* A job that runs on the node (kp_mod_async_start): what async_status
 * reports is read there, with the async_status task's own become (as
 * Ansible's looks in that user's async directory). */
static struct kp_value *node_job(struct kp_modctx *ctx, const char *jid, bool cleanup)
{
	struct kp_task_ectx *c = ctx->engine_ctx;
	struct kp_buf cmd = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_taskbecome tb = {0};
	struct kp_exec_res r;
	struct kp_value *v = NULL;
	kp_exec_res_init(&r);
	kp_async_status_cmd(jid, cleanup, &cmd);
	enum kp_tristate kw_become = KP_UNSET;
	kp_rc rc = kp_task_become(ctx->L, ctx->scope, c->t, c->env, &kw_become, &err);
	if (!rc)
		rc = kp_become_resolve(ctx->L, ctx->scope, kw_become,
				       c->t->become_user ? c->t->become_user : c->env->become_user,
				       &tb, &err);
	if (!rc) {
		struct kp_become b = {.user = tb.user, .password = tb.password};
		/* (with the task's environment: a HOME given there is the job's) */
		struct kp_exec_req req = {.cmd = cmd.buf, .env = ctx->env};
		rc = kp_host_exec(c->e, c->hs, false, &b, &req, &r, "for async_status", &err);
	}
	if (rc) {
		v = kp_value_map();
		kp_map_set_take(v, "failed", kp_value_bool(true));
		kp_map_set_take(v, "msg", kp_value_str(err.buf));
	} else {
		v = kp_async_status_value(&r);
	}
	kp_become_release(&tb);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&err);
	return v;
}

/* async_status's look-up (modctx.async_job): the host's job table. */
struct kp_value *kp_task_async_job(struct kp_modctx *ctx, const char *jid, bool cleanup)
{
	struct kp_task_ectx *c = ctx->engine_ctx;
	struct kp_hoststate *hs = c->hs;
	const struct kp_value *v = hs->async_jobs ? kp_map_get(hs->async_jobs, jid) : NULL;
	struct kp_value *r = NULL;
	if (v && kp_map_get(v, "_kplan_node_job"))
		r = node_job(ctx, jid, cleanup);
	else if (v)
		r = kp_value_ref(v);
	if (v && cleanup)
		kp_map_del(hs->async_jobs, jid);
	return r;
}

void kp_outcome_jid(struct kp_engine *e, struct kp_hoststate *hs, char *jid, size_t n)
{
	pthread_mutex_lock(&e->lock);
	unsigned seq = ++hs->async_seq;
	pthread_mutex_unlock(&e->lock);
	snprintf(jid, n, "j%u%09lld.%d", seq, (long long)(kp_now_ms() % 1000000000), (int)getpid());
}

/* async: the result gets a job id, and Ansible's message when the module
 * ran past `async` seconds. With poll: 0 the task registers only the job:
 * a command started on the node (node_jid) is looked for there by
 * async_status; any other module has already run to its end (in the
 * foreground) and its result is kept for async_status. */
void kp_outcome_async(struct kp_engine *e, struct kp_hoststate *hs, struct outcome *oc,
		      int64_t async_s, int64_t poll_s, bool timed_out, bool check,
		      const char *node_jid)
{
	char jid[64];
	if (node_jid && oc->failed)
		return; /* the job could not start: the task failed */
	if (node_jid)
		snprintf(jid, sizeof(jid), "%s", node_jid);
	else
		kp_outcome_jid(e, hs, jid, sizeof(jid));
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
	if (node_jid) {
		struct kp_value *mark = kp_value_map();
		kp_map_set_take(mark, "_kplan_node_job", kp_value_bool(true));
		kp_map_set_take(hs->async_jobs, jid, mark);
	} else {
		kp_map_set(hs->async_jobs, jid, v);
	}
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

enum kp_status kp_outcome_status(const struct outcome *oc, bool ignore_errors,
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

/* Ansible's recap: an ignored failure counts as ok and ignored, and as
 * changed when its result says changed (a command that ran and failed). */
static void count(struct kp_hoststate *hs, enum kp_status st, bool changed)
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
		hs->counts.ok++;
		hs->counts.ignored++;
		hs->counts.changed += changed;
		break;
	case KP_ST_RESCUED:
		hs->counts.rescued++;
		break;
	}
}

void kp_task_report(struct kp_engine *e, const struct kp_task *t, const struct kp_taskenv *env,
		    const char *title, const struct kp_taskresult *r)
{
	struct kp_taskresult full = *r; /* the report files rows by module and section */
	full.module = t->module ? t->module->name : NULL;
	full.section = env->section;
	kp_out_host_result(&e->out, title, &full);
}

/* What every outcome does to the host: register, set-fact, notify, state. */
void kp_outcome_apply(struct kp_engine *e, struct kp_hoststate *hs, const struct kp_task *t,
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
		hs->facts_gen++;
		pthread_mutex_unlock(&e->lock);
	}
	/* a module's facts (setup) become the host's, as Ansible's do */
	const struct kp_value *af = oc->value && oc->value->type == KP_V_MAP
					? kp_map_get(oc->value, "ansible_facts")
					: NULL;
	bool set = st == KP_ST_OK || st == KP_ST_CHANGED;
	bool elsewhere = oc->facts_to && oc->facts_to != hs;
	if (set && elsewhere && (oc->set_vars || af)) {
		/* delegate_facts: the delegated host's, once the task is done */
		pthread_mutex_lock(&e->lock);
		e->delegated_facts = kp_xrealloc(
		    e->delegated_facts, (e->ndelegated_facts + 1) * sizeof(*e->delegated_facts));
		e->delegated_facts[e->ndelegated_facts++] = (struct kp_delegated_fact){
		    .to = oc->facts_to,
		    .set_vars = oc->set_vars ? kp_value_ref(oc->set_vars) : NULL,
		    .facts = af ? kp_value_ref(af) : NULL};
		pthread_mutex_unlock(&e->lock);
	} else if (set) {
		if (oc->set_vars) {
			pthread_mutex_lock(&e->lock);
			kp_map_update(hs->facts, oc->set_vars);
			hs->facts_gen++;
			pthread_mutex_unlock(&e->lock);
		}
		if (af)
			kp_facts_store(e, hs, af);
	}
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
	/* (run_once shares what was set; delegated facts are not the host's) */
	hs->last_set_vars = oc->set_vars && !elsewhere ? kp_value_ref(oc->set_vars) : NULL;
	hs->last_changed = st == KP_ST_CHANGED;
	const struct kp_value *ch =
	    oc->value && oc->value->type == KP_V_MAP ? kp_map_get(oc->value, "changed") : NULL;
	/* Ansible's recap leaves out meta actions that ran or were skipped */
	bool meta = t->module && !strcmp(t->module->name, "meta");
	if (!meta || (st != KP_ST_OK && st != KP_ST_SKIPPED))
		count(hs, st, oc->changed || (ch && kp_value_truthy(ch)));
}

void kp_outcome_delegated_facts(struct kp_engine *e, bool batch_end)
{
	if (!batch_end && (e->window || e->play->strategy == KP_STRATEGY_FREE))
		return;
	pthread_mutex_lock(&e->lock);
	struct kp_delegated_fact *v = e->delegated_facts;
	size_t n = e->ndelegated_facts;
	e->delegated_facts = NULL;
	e->ndelegated_facts = 0;
	pthread_mutex_unlock(&e->lock);
	for (size_t i = 0; i < n; i++) {
		struct kp_delegated_fact *d = &v[i];
		if (d->set_vars) {
			pthread_mutex_lock(&e->lock);
			kp_map_update(d->to->facts, d->set_vars);
			d->to->facts_gen++;
			pthread_mutex_unlock(&e->lock);
		}
		if (d->facts)
			kp_facts_store(e, d->to, d->facts);
		kp_value_unref(d->set_vars);
		kp_value_unref(d->facts);
	}
	free(v);
}

/* A task (or one item) whose `when` did not hold: Ansible's skip result,
 * and the condition on one line for the operator. */
void kp_outcome_skip(struct outcome *s, const char *why)
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
