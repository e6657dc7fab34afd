/*
 * blocks.c - a batch's task lists: the sections (pre_tasks, tasks,
 * post_tasks), blocks with rescue and always, roles (blocks run with the
 * role's variables), include_tasks and include_role (when and loop per
 * host, then the included tasks on the hosts that included them), task
 * selection, handlers flushed at the end of each section, and the stops
 * (any_errors_fatal, max_fail_percentage) checked after each top-level
 * task. The order of
 * plays and batches and the strategies are engine.c's; one task on one
 * host is task.c's.
 */
#include "engine/engine_int.h"
#include "engine/hooks.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Journal names of tasks (p1.tasks.2.block.0): cut, never overflowing,
 * in the (absurd) case of nesting deeper than the buffer. */
static void set_id(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_id(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

bool kp_host_active(const struct kp_hoststate *hs)
{
	return !hs->failed && !hs->unreachable && !hs->hook_skipped && !hs->ended;
}

void kp_role_title(const struct kp_task *t, const struct kp_taskenv *env, struct kp_buf *title)
{
	const struct kp_roleuse *role = t->role ? t->role : env->role;
	if (!role)
		return;
	struct kp_buf full = KP_BUF_INIT;
	kp_buf_addf(&full, "%s : %s", role->role->name, title->buf ? title->buf : "");
	kp_buf_release(title);
	*title = full;
}

/* Task lists */

static void hostset_active(const struct kp_hostlist *in, struct kp_hostlist *out)
{
	out->h = kp_xcalloc(in->n ? in->n : 1, sizeof(*out->h));
	out->n = 0;
	for (size_t i = 0; i < in->n; i++)
		if (kp_host_active(in->h[i]))
			out->h[out->n++] = in->h[i];
}

static void env_push_task(struct kp_taskenv *dst, const struct kp_taskenv *src,
			  const struct kp_task *t)
{
	*dst = *src;
	memset(&dst->tags, 0, sizeof(dst->tags));
	if (t->include) {
		/* an include's keywords are its own; `apply` is what the
		 * included tasks get */
		t = t->apply;
		if (!t) {
			kp_tags_effective(&dst->tags, &src->tags, NULL, 0);
			return;
		}
	}
	kp_tags_effective(&dst->tags, &src->tags, t->tags, t->ntags);
	if (t->role && !t->module)
		dst->role = t->role;
	if (t->module)
		return;
	/* a block: what it sets applies to every task inside */
	if (t->nwhen && dst->nwhens < KP_ARRAY_LEN(dst->when)) {
		dst->when[dst->nwhens] = t->when;
		dst->nwhen[dst->nwhens++] = t->nwhen;
	}
	if (t->become != KP_UNSET || t->become_t) {
		dst->become = t->become;
		dst->become_t = t->become_t;
	}
	if (t->become_user)
		dst->become_user = t->become_user;
	if (t->environment && dst->nenvs < KP_ARRAY_LEN(dst->envs))
		dst->envs[dst->nenvs++] = t->environment;
	dst->no_log |= t->no_log;
	dst->ignore_errors |= t->ignore_errors;
	dst->ignore_unreachable |= t->ignore_unreachable;
	dst->run_once |= t->run_once;
	if (t->check_mode != KP_UNSET)
		dst->check_mode = t->check_mode;
	if (t->diff != KP_UNSET)
		dst->diff = t->diff;
	if (t->throttle && (!dst->throttle || t->throttle < dst->throttle))
		dst->throttle = t->throttle;
	if (t->timeout_ms)
		dst->timeout_ms = t->timeout_ms;
	if (t->delegate_to)
		dst->delegate_to = t->delegate_to;
	dst->local_connection |= t->local_connection;
}

static void run_list(struct kp_engine *e, int slot, struct kp_task *const *tasks, size_t n,
		     const struct kp_hostlist *hosts, const struct kp_taskenv *env, bool top);

/* Roles and includes: their variables on a host while their tasks run */

static void dyn_push(struct kp_hoststate *hs, const struct kp_value *const add[KP_DYN_COUNT],
		     struct kp_dyn_saved *sv)
{
	if (hs->hv_ready)
		kp_hostvars_push(&hs->hv, add, sv);
	else
		memset(sv, 0, sizeof(*sv));
}

static void dyn_pop(struct kp_hoststate *hs, const struct kp_dyn_saved *sv)
{
	if (hs->hv_ready)
		kp_hostvars_pop(&hs->hv, sv);
}

static struct kp_dyn_saved *hosts_push(const struct kp_task *t, const struct kp_hostlist *hosts)
{
	const struct kp_value *add[KP_DYN_COUNT];
	if (!kp_task_layers(t, add))
		return NULL;
	struct kp_dyn_saved *sv = kp_xcalloc(hosts->n ? hosts->n : 1, sizeof(*sv));
	for (size_t i = 0; i < hosts->n; i++)
		dyn_push(hosts->h[i], add, &sv[i]);
	return sv;
}

static void hosts_pop(struct kp_dyn_saved *sv, const struct kp_hostlist *hosts)
{
	if (!sv)
		return;
	for (size_t i = hosts->n; i-- > 0;)
		dyn_pop(hosts->h[i], &sv[i]);
	free(sv);
}

struct task_job {
	const struct kp_task *t;
	const struct kp_taskenv *env;
	struct kp_hostlist *hosts;
};

static void task_job_fn(struct kp_engine *e, int slot, size_t i, void *arg)
{
	struct task_job *j = arg;
	kp_task_exec(e, slot, j->hosts->h[i], j->t, j->env);
}

size_t kp_batch_failures(struct kp_engine *e)
{
	size_t f = 0;
	for (size_t i = 0; i < e->batch->n; i++) {
		struct kp_hoststate *hs = e->hosts[e->batch->hosts[i]];
		f += hs->failed || hs->unreachable;
	}
	return f;
}

int kp_max_fail(const struct kp_engine *e)
{
	if (e->play->max_fail_percentage >= 0)
		return e->play->max_fail_percentage;
	/* rolling upgrades: with serial, any failure stops later batches */
	return e->play->nserial || e->play->window ? 0 : 100;
}

/* After a top-level task: any_errors_fatal and max_fail_percentage. */
void kp_check_stops(struct kp_engine *e, const struct kp_hostlist *ran, const bool *was_active)
{
	bool newly_failed = false;
	for (size_t i = 0; i < ran->n; i++)
		if (was_active[i] && !kp_host_active(ran->h[i]) && !ran->h[i]->ended)
			newly_failed = true;
	pthread_mutex_lock(&e->lock);
	if (newly_failed && e->play->any_errors_fatal && !e->stop_run) {
		e->stop_run = true;
		free(e->stop_reason);
		e->stop_reason = kp_xstrdup("stopped: a host failed and the play has "
					    "any_errors_fatal");
	}
	if (!e->window && !e->stop_play &&
	    kp_fail_threshold_exceeded(kp_batch_failures(e), e->batch->n, kp_max_fail(e))) {
		/* later plays do not start either: the workers' play must not run
		 * after the control plane's failed */
		e->stop_play = true;
		e->stop_run = true;
		free(e->stop_reason);
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b,
			    "stopped: %zu of %zu hosts in the batch failed, more than "
			    "max_fail_percentage %d%%",
			    kp_batch_failures(e), e->batch->n, kp_max_fail(e));
		e->stop_reason = kp_buf_detach(&b, NULL);
	}
	pthread_mutex_unlock(&e->lock);
}

bool kp_engine_interrupted(const struct kp_engine *e)
{
	return e->o->interrupts && *e->o->interrupts > 0;
}

bool kp_engine_stopped(struct kp_engine *e)
{
	return e->stop_run || e->stop_play || kp_engine_interrupted(e);
}

static bool task_selected(struct kp_engine *e, const struct kp_task *t,
			  const struct kp_taskenv *env)
{
	return kp_taskselect_take(&e->select, t->name, &env->tags);
}

/* Ansible's ansible_play_hosts and ansible_play_batch leave out the hosts
 * that failed or could not be reached: renewed before each task of a
 * linear play, when no worker runs (a free or window play keeps the
 * play's hosts). */
static void active_play_hosts(struct kp_engine *e, const struct kp_hostlist *act)
{
	if (e->window || e->play->strategy == KP_STRATEGY_FREE || !e->batch)
		return;
	struct kp_value *all = kp_value_list(), *batch = kp_value_list();
	for (size_t i = 0; i < kp_list_len(e->pv.play_hosts); i++) {
		const char *name = kp_list_at(e->pv.play_hosts, i)->u.str.s;
		const struct kp_host *h = kp_inventory_host(&e->ld->inv, name);
		if (h && kp_host_active(e->hosts[h->index]))
			kp_list_push_take(all, kp_value_str(name));
	}
	for (size_t i = 0; i < e->batch->n; i++) {
		const struct kp_hoststate *hs = e->hosts[e->batch->hosts[i]];
		if (kp_host_active(hs))
			kp_list_push_take(batch, kp_value_str(hs->host->name));
	}
	all->unsafe = batch->unsafe = 1;
	for (size_t i = 0; i < act->n; i++) {
		kp_map_set(act->h[i]->hv.magic, "ansible_play_hosts", all);
		kp_map_set(act->h[i]->hv.magic, "ansible_play_batch", batch);
	}
	kp_value_unref(all);
	kp_value_unref(batch);
}

/* The meta actions Ansible's linear strategy runs once, for the first
 * host (its `when` too), that act on every host of the play. */
static bool meta_once(const struct kp_task *t)
{
	static const char *const once[] = {"end_play", "end_batch", "clear_facts",
					   "clear_host_errors", "refresh_inventory"};
	if (strcmp(t->module->name, "meta"))
		return false;
	const struct kp_tvalue *a = kp_tvalue_get(t->args, "_raw_params");
	for (size_t i = 0; a && a->lit && a->lit->type == KP_V_STR && i < KP_ARRAY_LEN(once); i++)
		if (!strcmp(a->lit->u.str.s, once[i]))
			return true;
	return false;
}

static void run_module_task(struct kp_engine *e, int slot, const struct kp_task *t,
			    const struct kp_hostlist *hosts, const struct kp_taskenv *env)
{
	struct kp_hostlist act;
	hostset_active(hosts, &act);
	if (!act.n) {
		free(act.h);
		return;
	}
	active_play_hosts(e, &act);
	struct kp_dyn_saved *sv = hosts_push(t, &act);
	struct kp_buf title = KP_BUF_INIT;
	struct kp_value *v = NULL;
	if (t->name_tmpl &&
	    !kp_template_render(e->L[slot], t->name_tmpl, &act.h[0]->hv.scope, &v, NULL)) {
		kp_value_to_text(v, true, &title);
		kp_value_unref(v);
	} else {
		kp_buf_addstr(&title, kp_task_display_name(t));
	}
	kp_role_title(t, env, &title);
	kp_out_task_start(&e->out, title.buf, t->module->name, env->section);
	kp_buf_release(&title);
	bool once = t->run_once || env->run_once;
	if (t->run_once_t && !once) {
		/* rendered once for the task, with its first host's variables */
		struct kp_value *ov = NULL;
		if (!kp_template_render(e->L[slot], t->run_once_t, &act.h[0]->hv.scope, &ov, NULL))
			once = kp_value_bool_word(ov);
		kp_value_unref(ov);
	}
	if (once || (t->module->flags & KP_MOD_ONCE) || meta_once(t)) {
		kp_task_exec(e, slot, act.h[0], t, env);
		/* a module that runs once (add_host) registers for its host
		 * only, as Ansible's */
		for (size_t i = 1; once && i < act.n; i++)
			kp_task_share_once(e, act.h[0], act.h[i], t);
	} else {
		struct task_job j = {.t = t, .env = env, .hosts = &act};
		int limit = e->o->forks;
		int throttle = t->throttle;
		if (t->throttle_t && act.n) {
			/* rendered once for the task, with its first host's variables */
			struct kp_value *tv = NULL;
			if (!kp_template_render(e->L[slot], t->throttle_t, &act.h[0]->hv.scope, &tv,
						NULL)) {
				long long n = tv->type == KP_V_INT ? (long long)tv->u.i
					      : tv->type == KP_V_STR
						  ? strtoll(tv->u.str.s, NULL, 10)
						  : 0;
				throttle = n > 0 && n < INT32_MAX ? (int)n : 0;
			}
			kp_value_unref(tv);
		}
		if (throttle && throttle < limit)
			limit = throttle;
		if (env->throttle && env->throttle < limit)
			limit = env->throttle;
		kp_parallel_for(e, slot, act.n, limit, task_job_fn, &j, NULL);
	}
	hosts_pop(sv, &act);
	free(act.h);
	kp_outcome_delegated_facts(e, false);
}

static void flush_handlers(struct kp_engine *e, int slot, const struct kp_hostlist *hosts,
			   const struct kp_taskenv *base);

/* What the task's hosts asked of the engine (meta), once it ran on all of
 * them. */
static void take_flows(struct kp_engine *e, int slot, const struct kp_hostlist *hosts,
		       const struct kp_taskenv *env)
{
	bool handler = env->section && !strcmp(env->section, "handlers");
	bool flush = false;
	for (size_t i = 0; i < hosts->n; i++) {
		struct kp_hoststate *hs = hosts->h[i];
		enum kp_flow f = hs->flow;
		hs->flow = KP_FLOW_NONE;
		if (f == KP_FLOW_FLUSH_HANDLERS)
			flush = true;
		else if (f == KP_FLOW_END_HOST)
			hs->ended = true;
		else if (f == KP_FLOW_RESET_CONNECTION)
			kp_host_conn_close(hs);
		else if (f == KP_FLOW_CLEAR_FACTS)
			for (size_t k = 0; k < e->batch->n; k++)
				kp_facts_clear(e, e->hosts[e->batch->hosts[k]]);
		else if (f == KP_FLOW_INVENTORY && hs->last_value) {
			struct kp_value *c = kp_value_map();
			kp_map_set_take(c, "host", kp_value_str(hs->host->name));
			kp_map_set(c, "result", hs->last_value);
			pthread_mutex_lock(&e->lock);
			kp_list_push_take(e->inv_changes, c);
			pthread_mutex_unlock(&e->lock);
		} else if (f == KP_FLOW_END_PLAY || f == KP_FLOW_END_BATCH ||
			   f == KP_FLOW_CLEAR_HOST_ERRORS) {
			pthread_mutex_lock(&e->lock);
			e->end_play |= f == KP_FLOW_END_PLAY;
			for (size_t k = 0; k < e->batch->n; k++) {
				struct kp_hoststate *b = e->hosts[e->batch->hosts[k]];
				if (f == KP_FLOW_CLEAR_HOST_ERRORS)
					b->errors_cleared |= b->failed;
				else if (!b->unreachable)
					b->ended = true;
			}
			pthread_mutex_unlock(&e->lock);
		}
	}
	/* add_host, group_by: in a linear play (no worker runs now) the
	 * inventory changes at once, as Ansible's: the play's later tasks see
	 * the new hosts and groups in groups and hostvars; else when the play
	 * ends */
	if (kp_list_len(e->inv_changes) && !e->window && e->play->strategy == KP_STRATEGY_LINEAR) {
		pthread_mutex_lock(&e->lock);
		kp_engine_inventory_changes(e);
		pthread_mutex_unlock(&e->lock);
	}
	/* a handler flushing handlers: Ansible refuses it, kplan ignores it */
	if (flush && !handler && !e->stop_run)
		flush_handlers(e, slot, hosts, env);
}

/* kplan.failed_task and kplan.failed_result, visible in rescue */
static void set_rescue_vars(struct kp_hoststate *hs)
{
	struct kp_value *copy = kp_value_copy(kp_map_get(hs->hv.magic, "kplan"));
	if (hs->last_failed_task)
		kp_map_set_take(copy, "failed_task", kp_value_str(hs->last_failed_task));
	if (hs->last_failed_result)
		kp_map_set(copy, "failed_result", hs->last_failed_result);
	kp_map_set_take(hs->hv.magic, "kplan", copy);
}

/* A role that runs once per host with the same parameters: whether it
 * ran on hs already; marks it as run. */
static bool role_ran(struct kp_hoststate *hs, const struct kp_roleuse *once)
{
	for (size_t i = 0; i < hs->nroles_ran; i++)
		if (hs->roles_ran[i] == once)
			return true;
	KP_GROW(hs->roles_ran, hs->nroles_ran + 1, hs->caproles_ran);
	hs->roles_ran[hs->nroles_ran++] = once;
	return false;
}

static void run_block(struct kp_engine *e, int slot, const struct kp_task *b,
		      const struct kp_hostlist *hosts, const struct kp_taskenv *env)
{
	struct kp_hostlist entered;
	hostset_active(hosts, &entered);
	if (b->role && b->role->once) {
		size_t k = 0;
		for (size_t i = 0; i < entered.n; i++)
			if (!role_ran(entered.h[i], b->role->once))
				entered.h[k++] = entered.h[i];
		entered.n = k;
	}
	if (!entered.n) {
		free(entered.h);
		return;
	}
	/* block, rescue and always children get their own journal names */
	struct kp_taskenv benv = *env, renv = *env, aenv = *env;
	set_id(benv.task_id, sizeof(benv.task_id), "%s.block", env->task_id);
	set_id(renv.task_id, sizeof(renv.task_id), "%s.rescue", env->task_id);
	set_id(aenv.task_id, sizeof(aenv.task_id), "%s.always", env->task_id);
	struct kp_dyn_saved *sv = hosts_push(b, &entered);
	run_list(e, slot, b->block, b->nblock, &entered, &benv, false);

	/* hosts whose block failed go to rescue; if it succeeds they are whole again */
	struct kp_hostlist failed = {kp_xcalloc(entered.n, sizeof(*failed.h)), 0};
	for (size_t i = 0; i < entered.n; i++)
		if (entered.h[i]->failed && !entered.h[i]->unreachable)
			failed.h[failed.n++] = entered.h[i];
	if (b->nrescue && failed.n) {
		for (size_t i = 0; i < failed.n; i++) {
			failed.h[i]->failed = false;
			set_rescue_vars(failed.h[i]);
		}
		run_list(e, slot, b->rescue, b->nrescue, &failed, &renv, false);
		for (size_t i = 0; i < failed.n; i++) {
			struct kp_hoststate *hs = failed.h[i];
			kp_map_set(hs->hv.magic, "kplan", e->bv.kplan);
			if (kp_host_active(hs)) {
				hs->counts.rescued++;
				/* the failure in the block no longer counts */
				if (hs->counts.failed)
					hs->counts.failed--;
			}
		}
	}
	if (b->nalways) {
		/* always runs for hosts that failed too, which stay failed */
		bool *was_failed = kp_xcalloc(entered.n, sizeof(bool));
		for (size_t i = 0; i < entered.n; i++) {
			was_failed[i] = entered.h[i]->failed;
			if (!entered.h[i]->unreachable)
				entered.h[i]->failed = false;
		}
		run_list(e, slot, b->always, b->nalways, &entered, &aenv, false);
		for (size_t i = 0; i < entered.n; i++)
			entered.h[i]->failed |= was_failed[i];
		free(was_failed);
	}
	hosts_pop(sv, &entered);
	if (b->role && b->role->public_after)
		for (size_t i = 0; i < entered.n; i++)
			if (entered.h[i]->hv_ready)
				kp_hostvars_publish(&entered.h[i]->hv, b->role);
	free(failed.h);
	free(entered.h);
}

/* include_tasks / include_role */

struct inc_run {
	struct kp_hoststate *hs;
	const struct kp_task *holder; /* whose block is included */
	size_t index;		      /* loop position */
	struct kp_value *params;      /* loop variable and the include's vars */
};

static void inc_result(struct kp_engine *e, const struct kp_task *t, const struct kp_taskenv *env,
		       const char *title, struct kp_hoststate *hs, enum kp_status st,
		       const char *msg)
{
	struct kp_taskresult r = {.host = hs->host->name,
				  .status = st,
				  .msg = msg,
				  .module =
				      t->include == KP_INC_ROLE ? "include_role" : "include_tasks",
				  .section = env->section,
				  .show_msg = true};
	kp_out_host_result(&e->out, title, &r);
	pthread_mutex_lock(&e->lock);
	if (st == KP_ST_FAILED) {
		hs->failed = true;
		hs->counts.failed++;
	} else if (st == KP_ST_SKIPPED) {
		hs->counts.skipped++;
	} else {
		hs->counts.ok++;
	}
	pthread_mutex_unlock(&e->lock);
}

/* The tasks include_file names for this host (loaded on first use). */
static const struct kp_task *inc_holder(struct kp_engine *e, int slot, const struct kp_task *t,
					const struct kp_scope *s, struct kp_buf *err)
{
	struct kp_value *v = NULL;
	const struct kp_task *found = NULL;
	if (kp_template_render(e->L[slot], t->include_file, s, &v, err))
		return NULL;
	if (v->type != KP_V_STR) {
		kp_errorf(err, KP_ERR_INVALID, "include_tasks file must be a string, not a %s",
			  kp_value_typename(v->type));
		kp_value_unref(v);
		return NULL;
	}
	struct kp_task *nt = NULL;
	struct kp_buf why = KP_BUF_INIT;
	pthread_mutex_lock(&e->lock);
	if (!kp_plan_load_include(e->ld->plan, t, v->u.str.s, &nt, &why))
		found = nt;
	pthread_mutex_unlock(&e->lock);
	const char *w = why.buf ? why.buf : "";
	if (!found && !strncmp(w, "cannot read", 11)) /* named where the include is */
		kp_errorf(err, KP_ERR_INVALID, "%s:%d:%d: %s", t->pos.file, t->pos.line, t->pos.col,
			  w);
	else if (!found) /* the file's own line says where */
		kp_errorf(err, KP_ERR_INVALID, "%s", w);
	kp_buf_release(&why);
	kp_value_unref(v);
	return found;
}

static void run_include(struct kp_engine *e, int slot, const struct kp_task *t,
			const struct kp_hostlist *hosts, const struct kp_taskenv *env,
			const struct kp_taskenv *sub)
{
	struct kp_hostlist act;
	hostset_active(hosts, &act);
	struct kp_strlist own = {0};
	kp_tags_effective(&own, &env->tags, t->tags, t->ntags);
	bool selected = kp_tags_selected(&own, e->select.only, e->select.skip);
	kp_strlist_release(&own);
	if (!act.n || !selected) {
		free(act.h);
		return;
	}
	struct kp_buf title = KP_BUF_INIT;
	kp_buf_addstr(&title, kp_task_display_name(t));
	kp_role_title(t, env, &title);
	kp_out_task_start(&e->out, title.buf,
			  t->include == KP_INC_ROLE ? "include_role" : "include_tasks",
			  env->section);

	struct inc_run *runs = NULL;
	size_t nruns = 0, cap = 0;
	struct kp_buf err = KP_BUF_INIT;
	for (size_t h = 0; h < act.n; h++) {
		struct kp_hoststate *hs = act.h[h];
		const struct kp_scope *s = &hs->hv.scope;
		struct kp_lua *L = e->L[slot];
		bool ok = true;
		kp_rc rc = KP_OK;
		kp_buf_reset(&err);
		for (size_t w = 0; w < env->nwhens && ok && !rc; w++)
			for (size_t k = 0; k < env->nwhen[w] && ok && !rc; k++)
				rc = kp_expr_test(L, env->when[w][k], s, &ok, &err);
		if (rc) {
			inc_result(e, t, env, title.buf, hs, KP_ST_FAILED, err.buf);
			continue;
		}
		if (!ok) {
			inc_result(e, t, env, title.buf, hs, KP_ST_SKIPPED, "when: false");
			continue;
		}
		struct kp_value *items = NULL;
		if (t->loop &&
		    (kp_tvalue_render(L, t->loop, s, &items, &err) || items->type != KP_V_LIST)) {
			if (!err.len)
				kp_buf_addf(&err, "loop must be a list, not a %s",
					    kp_value_typename(items->type));
			inc_result(e, t, env, title.buf, hs, KP_ST_FAILED, err.buf);
			kp_value_unref(items);
			continue;
		}
		size_t n = items ? kp_list_len(items) : 1;
		struct kp_buf msg = KP_BUF_INIT;
		bool failed = false;
		size_t included = 0;
		for (size_t i = 0; i < n && !failed; i++) {
			struct kp_value *params = kp_value_map();
			if (t->include_vars)
				kp_map_update(params, t->include_vars);
			if (items) {
				kp_map_set(params, t->loop_var, kp_list_at(items, i));
				if (t->index_var)
					kp_map_set_take(params, t->index_var,
							kp_value_int((int64_t)i));
			}
			/* `when` and the file name, per loop item, may use the loop
			 * variable and the include's vars */
			const struct kp_task *holder = t;
			struct kp_dyn_saved sv;
			const struct kp_value *add[KP_DYN_COUNT] = {NULL, NULL, params};
			dyn_push(hs, add, &sv);
			kp_buf_reset(&err);
			ok = true;
			for (size_t k = 0; k < t->nwhen && ok && !rc; k++)
				rc = kp_expr_test(L, t->when[k], s, &ok, &err);
			if (rc)
				holder = NULL;
			else if (ok && t->include_file)
				holder = inc_holder(e, slot, t, s, &err);
			dyn_pop(hs, &sv);
			if (!rc && !ok) {
				kp_value_unref(params);
				continue;
			}
			if (!holder) {
				inc_result(e, t, env, title.buf, hs, KP_ST_FAILED, err.buf);
				kp_value_unref(params);
				failed = true;
				break;
			}
			KP_GROW(runs, nruns + 1, cap);
			runs[nruns++] = (struct inc_run){hs, holder, i, params};
			included++;
			if (t->include == KP_INC_TASKS) {
				kp_buf_addf(&msg, "%sincluded: %s", msg.len ? "\n" : "",
					    holder->import_path ? holder->import_path : "");
				if (items) {
					kp_buf_addstr(&msg, " (item=");
					kp_value_to_text(kp_list_at(items, i), true, &msg);
					kp_buf_addch(&msg, ')');
				}
			}
		}
		if (!failed && !included)
			inc_result(e, t, env, title.buf, hs, KP_ST_SKIPPED, "when: false");
		else if (!failed)
			inc_result(e, t, env, title.buf, hs, KP_ST_OK, msg.len ? msg.buf : NULL);
		kp_buf_release(&msg);
		kp_value_unref(items);
	}
	kp_buf_release(&err);

	/* the included tasks, on the hosts that included the same file at the
	 * same loop position together, in the order they were included */
	bool *done = kp_xcalloc(nruns ? nruns : 1, sizeof(bool));
	struct kp_hostlist group = {kp_xcalloc(nruns ? nruns : 1, sizeof(*group.h)), 0};
	struct kp_dyn_saved *sv = kp_xcalloc(nruns ? nruns : 1, sizeof(*sv));
	for (size_t i = 0; i < nruns && !kp_engine_stopped(e); i++) {
		if (done[i])
			continue;
		group.n = 0;
		for (size_t j = i; j < nruns; j++) {
			if (done[j] || runs[j].holder != runs[i].holder ||
			    runs[j].index != runs[i].index)
				continue;
			done[j] = true;
			if (!kp_host_active(runs[j].hs))
				continue;
			const struct kp_value *add[KP_DYN_COUNT] = {NULL, NULL, runs[j].params};
			dyn_push(runs[j].hs, add, &sv[group.n]);
			group.h[group.n++] = runs[j].hs;
		}
		if (group.n)
			run_list(e, slot, runs[i].holder->block, runs[i].holder->nblock, &group,
				 sub, false);
		for (size_t k = group.n; k-- > 0;)
			dyn_pop(group.h[k], &sv[k]);
	}
	kp_buf_release(&title);
	for (size_t i = 0; i < nruns; i++)
		kp_value_unref(runs[i].params);
	free(sv);
	free(group.h);
	free(done);
	free(runs);
	free(act.h);
}

static void run_list(struct kp_engine *e, int slot, struct kp_task *const *tasks, size_t n,
		     const struct kp_hostlist *hosts, const struct kp_taskenv *env, bool top)
{
	for (size_t i = 0; i < n && !kp_engine_stopped(e); i++) {
		const struct kp_task *t = tasks[i];
		struct kp_taskenv sub;
		env_push_task(&sub, env, t);
		/* a stable name for the journal: the task's place in the plan */
		set_id(sub.task_id, sizeof(sub.task_id), "%s.%zu", env->task_id, i);
		bool *was = NULL;
		if (top) {
			was = kp_xcalloc(hosts->n ? hosts->n : 1, sizeof(bool));
			for (size_t k = 0; k < hosts->n; k++)
				was[k] = kp_host_active(hosts->h[k]);
		}
		if (t->include) {
			run_include(e, slot, t, hosts, env, &sub);
		} else if (!t->module) {
			run_block(e, slot, t, hosts, &sub);
		} else if (task_selected(e, t, &sub)) {
			run_module_task(e, slot, t, hosts, &sub);
			take_flows(e, slot, hosts, env);
		}
		if (top)
			kp_check_stops(e, hosts, was);
		free(was);
		kp_strlist_release(&sub.tags);
	}
}

/* Handlers: once per host, in the order they are defined, for the hosts
 * that notified them in the section that just ended. */
static bool notified(const struct kp_hoststate *hs, const struct kp_task *h)
{
	if (h->name && kp_strlist_has(&hs->notified, h->name))
		return true;
	for (size_t i = 0; i < h->nlisten; i++)
		if (kp_strlist_has(&hs->notified, h->listen[i]))
			return true;
	return false;
}

static void flush_handlers(struct kp_engine *e, int slot, const struct kp_hostlist *hosts,
			   const struct kp_taskenv *base)
{
	const struct kp_play *p = e->play;
	struct kp_taskenv env = *base;
	env.section = "handlers";
	for (size_t i = 0; i < p->nhandlers && !e->stop_run; i++) {
		const struct kp_task *h = p->handlers[i];
		set_id(env.task_id, sizeof(env.task_id), "%s.handlers", base->task_id);
		struct kp_hostlist sel = {kp_xcalloc(hosts->n ? hosts->n : 1, sizeof(*sel.h)), 0};
		for (size_t k = 0; k < hosts->n; k++)
			if (kp_host_active(hosts->h[k]) && notified(hosts->h[k], h))
				sel.h[sel.n++] = hosts->h[k];
		if (sel.n) {
			struct kp_taskenv sub;
			env_push_task(&sub, &env, h);
			set_id(sub.task_id, sizeof(sub.task_id), "%s.%zu", env.task_id, i);
			if (h->module) {
				run_module_task(e, slot, h, &sel, &sub);
				take_flows(e, slot, &sel, &sub);
			} else
				run_block(e, slot, h, &sel, &sub);
			kp_strlist_release(&sub.tags);
		}
		free(sel.h);
	}
	for (size_t k = 0; k < hosts->n; k++)
		kp_strlist_release(&hosts->h[k]->notified);
}

void kp_run_sections(struct kp_engine *e, int slot, const struct kp_hostlist *hosts,
		     const struct kp_taskenv *base)
{
	const struct kp_play *p = e->play;
	struct kp_task *const *lists[] = {p->pre_tasks, p->tasks, p->post_tasks};
	size_t counts[] = {p->npre_tasks, p->ntasks, p->npost_tasks};
	static const char *const names[] = {"pre_tasks", "tasks", "post_tasks"};
	for (size_t s = 0; s < 3 && !kp_engine_stopped(e); s++) {
		struct kp_taskenv env = *base;
		env.section = names[s];
		size_t pi = 0;
		while (pi < e->ld->plan->nplays && e->ld->plan->plays[pi] != p)
			pi++;
		set_id(env.task_id, sizeof(env.task_id), "p%zu.%s", pi + 1, names[s]);
		run_list(e, slot, lists[s], counts[s], hosts, &env, true);
		if (!e->stop_run)
			flush_handlers(e, slot, hosts, &env);
	}
}
