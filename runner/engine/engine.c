/*
 * engine.c - plays, batches and strategies: the order in which tasks meet
 * hosts. What happens inside one task on one host is task.c's business.
 *
 * linear: every task runs on all of the batch's hosts (in parallel, up to
 * --forks) before the next starts, so a rolling upgrade stays in lockstep
 * and max_fail_percentage is checked after each task. free and window: each
 * host runs through the play on its own; window keeps at most N hosts in
 * flight and starts the next the moment one finishes.
 */
#include "engine/engine_int.h"
#include "kube/kubeapi.h"
#include "engine/runlock.h"
#include "engine/hooks.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool kp_fail_threshold_exceeded(size_t failed, size_t total, int max_fail_percentage)
{
	if (!total || !failed)
		return false;
	/* exceed, not reach: 1 of 4 failed with 25% goes on */
	return (uint64_t)failed * 100 > (uint64_t)max_fail_percentage * total;
}

/* Parallel for: fn(i) for i < n on up to `limit` threads, each with its own
 * worker slot (and so its own Lua state). */
struct pfor {
	struct kp_engine *e;
	void (*fn)(struct kp_engine *e, int slot, size_t i, void *arg);
	void *arg;
	size_t n, next;
	bool (*keep_going)(struct kp_engine *e);
	pthread_mutex_t m;
};

struct pfor_worker {
	struct pfor *p;
	int slot;
};

static void *pfor_run(void *arg)
{
	struct pfor_worker *w = arg;
	struct pfor *p = w->p;
	for (;;) {
		pthread_mutex_lock(&p->m);
		size_t i = p->next;
		bool go = i < p->n && (!p->keep_going || p->keep_going(p->e));
		if (go)
			p->next++;
		pthread_mutex_unlock(&p->m);
		if (!go)
			break;
		p->fn(p->e, w->slot, i, p->arg);
	}
	return NULL;
}

static void parallel_for(struct kp_engine *e, int slot, size_t n, int limit,
			 void (*fn)(struct kp_engine *, int, size_t, void *), void *arg,
			 bool (*keep_going)(struct kp_engine *))
{
	struct pfor p = {.e = e, .fn = fn, .arg = arg, .n = n, .keep_going = keep_going};
	if (limit > e->nslots)
		limit = e->nslots;
	if ((size_t)limit > n)
		limit = (int)n;
	if (limit <= 1) {
		for (size_t i = 0; i < n && (!keep_going || keep_going(e)); i++)
			fn(e, slot, i, arg);
		return;
	}
	pthread_mutex_init(&p.m, NULL);
	pthread_t *t = kp_xcalloc((size_t)limit, sizeof(*t));
	struct pfor_worker *w = kp_xcalloc((size_t)limit, sizeof(*w));
	int started = 0;
	for (int i = 0; i < limit; i++) {
		w[i].p = &p;
		w[i].slot = i;
		if (pthread_create(&t[i], NULL, pfor_run, &w[i]))
			break;
		started++;
	}
	if (!started)
		pfor_run(&w[0]);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p.m);
	free(t);
	free(w);
}

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

static bool active(const struct kp_hoststate *hs)
{
	return !hs->failed && !hs->unreachable && !hs->hook_skipped;
}

/* Task lists */

struct hostset {
	struct kp_hoststate **h;
	size_t n;
};

static void hostset_active(const struct hostset *in, struct hostset *out)
{
	out->h = kp_xcalloc(in->n ? in->n : 1, sizeof(*out->h));
	out->n = 0;
	for (size_t i = 0; i < in->n; i++)
		if (active(in->h[i]))
			out->h[out->n++] = in->h[i];
}

static void env_push_task(struct kp_taskenv *dst, const struct kp_taskenv *src,
			  const struct kp_task *t)
{
	*dst = *src;
	memset(&dst->tags, 0, sizeof(dst->tags));
	for (size_t i = 0; i < src->tags.n; i++)
		kp_strlist_push(&dst->tags, src->tags.v[i]);
	for (size_t i = 0; i < t->ntags; i++)
		if (!kp_strlist_has(&dst->tags, t->tags[i]))
			kp_strlist_push(&dst->tags, t->tags[i]);
	if (t->module)
		return;
	/* a block: what it sets applies to every task inside */
	if (t->nwhen && dst->nwhens < KP_ARRAY_LEN(dst->when)) {
		dst->when[dst->nwhens] = t->when;
		dst->nwhen[dst->nwhens++] = t->nwhen;
	}
	if (t->become != KP_UNSET)
		dst->become = t->become;
	if (t->become_user)
		dst->become_user = t->become_user;
	if (t->environment && dst->nenvs < KP_ARRAY_LEN(dst->envs))
		dst->envs[dst->nenvs++] = t->environment;
	dst->no_log |= t->no_log;
	dst->ignore_errors |= t->ignore_errors;
	dst->ignore_unreachable |= t->ignore_unreachable;
	if (t->check_mode != KP_UNSET)
		dst->check_mode = t->check_mode;
	if (t->timeout_ms)
		dst->timeout_ms = t->timeout_ms;
}

static void run_list(struct kp_engine *e, int slot, struct kp_task *const *tasks, size_t n,
		     const struct hostset *hosts, const struct kp_taskenv *env, bool top);

struct task_job {
	const struct kp_task *t;
	const struct kp_taskenv *env;
	struct hostset *hosts;
};

static void task_job_fn(struct kp_engine *e, int slot, size_t i, void *arg)
{
	struct task_job *j = arg;
	kp_task_exec(e, slot, j->hosts->h[i], j->t, j->env);
}

static size_t batch_failures(struct kp_engine *e)
{
	size_t f = 0;
	for (size_t i = 0; i < e->batch->n; i++) {
		struct kp_hoststate *hs = &e->hosts[e->batch->hosts[i]];
		f += hs->failed || hs->unreachable;
	}
	return f;
}

static int max_fail(const struct kp_engine *e)
{
	if (e->play->max_fail_percentage >= 0)
		return e->play->max_fail_percentage;
	/* rolling upgrades: with serial, any failure stops later batches */
	return e->play->nserial || e->play->window ? 0 : 100;
}

/* After a top-level task: any_errors_fatal and max_fail_percentage. */
static void check_stops(struct kp_engine *e, const struct hostset *ran, const bool *was_active)
{
	bool newly_failed = false;
	for (size_t i = 0; i < ran->n; i++)
		if (was_active[i] && !active(ran->h[i]))
			newly_failed = true;
	pthread_mutex_lock(&e->lock);
	if (newly_failed && e->play->any_errors_fatal && !e->stop_run) {
		e->stop_run = true;
		free(e->stop_reason);
		e->stop_reason = kp_xstrdup("stopped: a host failed and the play has "
					    "any_errors_fatal");
	}
	if (!e->window && !e->stop_play &&
	    kp_fail_threshold_exceeded(batch_failures(e), e->batch->n, max_fail(e))) {
		/* later plays do not start either: the workers' play must not run
		 * after the control plane's failed */
		e->stop_play = true;
		e->stop_run = true;
		free(e->stop_reason);
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b,
			    "stopped: %zu of %zu hosts in the batch failed, more than "
			    "max_fail_percentage %d%%",
			    batch_failures(e), e->batch->n, max_fail(e));
		e->stop_reason = kp_buf_detach(&b, NULL);
	}
	pthread_mutex_unlock(&e->lock);
}

static bool interrupted(const struct kp_engine *e)
{
	return e->o->interrupts && *e->o->interrupts > 0;
}

static bool stopped(struct kp_engine *e)
{
	return e->stop_run || e->stop_play || interrupted(e);
}

static bool task_selected(struct kp_engine *e, const struct kp_task *t,
			  const struct kp_taskenv *env)
{
	const struct kp_runopts *o = e->o;
	if (o->start_at_task && !e->start_reached) {
		if (!t->name || strcmp(t->name, o->start_at_task))
			return false;
		e->start_reached = true;
	}
	return kp_tags_selected(&env->tags, &o->tags, &o->skip_tags);
}

static void run_module_task(struct kp_engine *e, int slot, const struct kp_task *t,
			    const struct hostset *hosts, const struct kp_taskenv *env)
{
	struct hostset act;
	hostset_active(hosts, &act);
	if (!act.n) {
		free(act.h);
		return;
	}
	struct kp_buf title = KP_BUF_INIT;
	struct kp_value *v = NULL;
	if (t->name_tmpl &&
	    !kp_template_render(e->L[slot], t->name_tmpl, &act.h[0]->hv.scope, &v, NULL)) {
		kp_value_to_text(v, true, &title);
		kp_value_unref(v);
	} else {
		kp_buf_addstr(&title, kp_task_display_name(t));
	}
	kp_out_task_start(&e->out, title.buf, t->module->name, env->section);
	kp_buf_release(&title);
	if (t->run_once) {
		kp_task_exec(e, slot, act.h[0], t, env);
		for (size_t i = 1; i < act.n; i++)
			kp_task_share_once(e, act.h[0], act.h[i], t);
	} else {
		struct task_job j = {.t = t, .env = env, .hosts = &act};
		int limit = e->o->forks;
		if (t->throttle && t->throttle < limit)
			limit = t->throttle;
		parallel_for(e, slot, act.n, limit, task_job_fn, &j, NULL);
	}
	free(act.h);
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

static void run_block(struct kp_engine *e, int slot, const struct kp_task *b,
		      const struct hostset *hosts, const struct kp_taskenv *env)
{
	struct hostset entered;
	hostset_active(hosts, &entered);
	if (!entered.n) {
		free(entered.h);
		return;
	}
	/* block, rescue and always children get their own journal names */
	struct kp_taskenv benv = *env, renv = *env, aenv = *env;
	set_id(benv.task_id, sizeof(benv.task_id), "%s.block", env->task_id);
	set_id(renv.task_id, sizeof(renv.task_id), "%s.rescue", env->task_id);
	set_id(aenv.task_id, sizeof(aenv.task_id), "%s.always", env->task_id);
	run_list(e, slot, b->block, b->nblock, &entered, &benv, false);

	/* hosts whose block failed go to rescue; if it succeeds they are whole again */
	struct hostset failed = {kp_xcalloc(entered.n, sizeof(*failed.h)), 0};
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
			if (active(hs)) {
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
	free(failed.h);
	free(entered.h);
}

static void run_list(struct kp_engine *e, int slot, struct kp_task *const *tasks, size_t n,
		     const struct hostset *hosts, const struct kp_taskenv *env, bool top)
{
	for (size_t i = 0; i < n && !stopped(e); i++) {
		const struct kp_task *t = tasks[i];
		struct kp_taskenv sub;
		env_push_task(&sub, env, t);
		/* a stable name for the journal: the task's place in the plan */
		set_id(sub.task_id, sizeof(sub.task_id), "%s.%zu", env->task_id, i);
		bool *was = NULL;
		if (top) {
			was = kp_xcalloc(hosts->n ? hosts->n : 1, sizeof(bool));
			for (size_t k = 0; k < hosts->n; k++)
				was[k] = active(hosts->h[k]);
		}
		if (!t->module) {
			run_block(e, slot, t, hosts, &sub);
		} else if (task_selected(e, t, &sub)) {
			run_module_task(e, slot, t, hosts, &sub);
		}
		if (top)
			check_stops(e, hosts, was);
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

static void flush_handlers(struct kp_engine *e, int slot, const struct hostset *hosts,
			   const struct kp_taskenv *base)
{
	const struct kp_play *p = e->play;
	struct kp_taskenv env = *base;
	env.section = "handlers";
	for (size_t i = 0; i < p->nhandlers && !e->stop_run; i++) {
		const struct kp_task *h = p->handlers[i];
		set_id(env.task_id, sizeof(env.task_id), "%s.handlers", base->task_id);
		struct hostset sel = {kp_xcalloc(hosts->n ? hosts->n : 1, sizeof(*sel.h)), 0};
		for (size_t k = 0; k < hosts->n; k++)
			if (active(hosts->h[k]) && notified(hosts->h[k], h))
				sel.h[sel.n++] = hosts->h[k];
		if (sel.n) {
			struct kp_taskenv sub;
			env_push_task(&sub, &env, h);
			set_id(sub.task_id, sizeof(sub.task_id), "%s.%zu", env.task_id, i);
			if (h->module)
				run_module_task(e, slot, h, &sel, &sub);
			else
				run_block(e, slot, h, &sel, &sub);
			kp_strlist_release(&sub.tags);
		}
		free(sel.h);
	}
	for (size_t k = 0; k < hosts->n; k++)
		kp_strlist_release(&hosts->h[k]->notified);
}

static void run_sections(struct kp_engine *e, int slot, const struct hostset *hosts,
			 const struct kp_taskenv *base)
{
	const struct kp_play *p = e->play;
	struct kp_task *const *lists[] = {p->pre_tasks, p->tasks, p->post_tasks};
	size_t counts[] = {p->npre_tasks, p->ntasks, p->npost_tasks};
	static const char *const names[] = {"pre_tasks", "tasks", "post_tasks"};
	for (size_t s = 0; s < 3 && !stopped(e); s++) {
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

/* free and window: one host through the whole play */
struct host_job {
	struct hostset *hosts;
	const struct kp_taskenv *env;
};

static bool window_go(struct kp_engine *e)
{
	if (e->stop_run || e->stop_play || e->stop_starting)
		return false;
	/* hosts started so far, failed or unreachable among them */
	size_t failed = 0;
	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->started_hosts; i++) {
		struct kp_hoststate *hs = &e->hosts[e->batch->hosts[i]];
		failed += hs->failed || hs->unreachable;
	}
	bool over = e->window && kp_fail_threshold_exceeded(failed, e->started_hosts, max_fail(e));
	if (over) {
		e->stop_starting = true;
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b,
			    "stopped: %zu of %zu hosts started so far failed, more than "
			    "max_fail_percentage %d%%",
			    failed, e->started_hosts, max_fail(e));
		free(e->stop_reason);
		e->stop_reason = kp_buf_detach(&b, NULL);
	}
	if (!over)
		e->started_hosts++;
	pthread_mutex_unlock(&e->lock);
	return !over;
}

static void host_job_fn(struct kp_engine *e, int slot, size_t i, void *arg)
{
	struct host_job *j = arg;
	struct kp_hoststate *hs = j->hosts->h[i];
	struct hostset one = {&j->hosts->h[i], 1};
	kp_out_host_start(&e->out, hs->host->name);
	/* hooks around the host, on its worker (hooks.c) */
	if (kp_hooks_run_host(e, slot, hs, KP_HOOK_BEFORE_HOST) == KP_HOOK_OK)
		run_sections(e, slot, &one, j->env);
	if (!hs->hook_skipped)
		kp_hooks_run_host(e, slot, hs, KP_HOOK_AFTER_HOST);
}

/* Linear strategy: before_host/after_host for every host of the batch, in
 * parallel on the workers. */
struct hook_job {
	struct hostset *hosts;
	enum kp_hook_point point;
};

static void hook_job_fn(struct kp_engine *e, int slot, size_t i, void *arg)
{
	struct hook_job *j = arg;
	struct kp_hoststate *hs = j->hosts->h[i];
	if (j->point == KP_HOOK_AFTER_HOST && hs->hook_skipped)
		return;
	kp_hooks_run_host(e, slot, hs, j->point);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool confirm_batch(struct kp_engine *e, size_t bi, size_t nb)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (!tty) {
		free(e->stop_reason);
		e->stop_reason = kp_xstrdup("stopped: the play asks for confirmation before each "
					    "batch and there is no terminal (use --yes)");
		e->stop_run = true;
		return false;
	}
	fprintf(tty, "start batch %zu/%zu? [y/N] ", bi + 1, nb);
	fflush(tty);
	char line[64] = "";
	bool yes = fgets(line, sizeof(line), tty) && (line[0] == 'y' || line[0] == 'Y');
	fclose(tty);
	if (!yes) {
		free(e->stop_reason);
		e->stop_reason = kp_xstrdup("stopped: batch not confirmed");
		e->stop_run = true;
	}
	return yes;
}

/* The first host of kube_control_plane, whose connection can hold a lock
 * directory when the API cannot be reached. */
static struct kp_conn *control_plane_conn(struct kp_engine *e)
{
	const struct kp_inventory *inv = &e->ld->inv;
	const struct kp_group *g = kp_inventory_group(inv, "kube_control_plane");
	size_t *h = NULL;
	size_t n = g ? kp_group_all_hosts(inv, g, &h) : 0;
	struct kp_conn *c = n ? kp_host_conn(e, &e->hosts[h[0]]) : NULL;
	free(h);
	return c;
}

/* run_lock: a Lease through the API when a kubeconfig is found, else a
 * lock directory on the first control-plane host. true when taken; when
 * not, the run stops (exit 5 when someone else holds it). */
static bool take_run_lock(struct kp_engine *e, const struct kp_play *p, struct kp_runlock *l)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_kube *kube = NULL;
	kp_kube_open(e->o->kubeconfig, getenv("KUBECONFIG"), getenv("HOME"), &kube, NULL);
	struct kp_conn *conn = kube ? NULL : control_plane_conn(e);
	kp_rc rc = kp_runlock_acquire(l, p->run_lock, kube, conn, &err);
	if (!rc && l->kube)
		kp_out_note(&e->out, "run lock '%s' taken: Lease kube-system/kplan-%s", p->run_lock,
			    p->run_lock);
	else if (!rc)
		kp_out_note(&e->out, "run lock '%s' taken: lock directory %s on %s", p->run_lock,
			    l->dir, l->conn->host);
	else {
		pthread_mutex_lock(&e->lock);
		e->stop_run = true;
		e->locked = rc == KP_ERR_LOCKED;
		free(e->stop_reason);
		struct kp_buf m = KP_BUF_INIT;
		kp_buf_addf(&m, "stopped before play '%s': %s", p->name ? p->name : p->hosts,
			    err.buf);
		e->stop_reason = kp_buf_detach(&m, NULL);
		pthread_mutex_unlock(&e->lock);
	}
	kp_buf_release(&err);
	return !rc;
}

static void run_play(struct kp_engine *e, size_t pi)
{
	const struct kp_play *p = e->ld->plan->plays[pi];
	struct kp_batches bs;
	struct kp_buf warn = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_inventory *inv = &e->ld->inv;

	e->play = p;
	e->stop_play = false;
	e->stop_starting = false;
	if (kp_batches_compute(p, p->hosts, inv, e->o->limit, &bs, &warn, &err)) {
		kp_out_note(&e->out, "error: %s", err.buf);
		e->stop_run = true;
		kp_buf_release(&warn);
		kp_buf_release(&err);
		return;
	}
	if (warn.len)
		fprintf(stderr, "warning: %s", warn.buf);
	kp_buf_release(&warn);
	kp_buf_release(&err);
	kp_out_play_start(&e->out, p->name ? p->name : p->hosts, p->hosts, bs.nhosts, pi + 1,
			  e->ld->plan->nplays);
	/* a check changes nothing, so it asks nothing: it says the run will */
	if (p->confirm && e->o->check && bs.nhosts)
		kp_out_play_confirm(&e->out);
	if (!bs.nhosts) {
		kp_batches_release(&bs);
		return;
	}
	kp_playvars_init(&e->pv, e->ld->plan, p, inv, e->o->extra, bs.hosts, bs.nhosts, e->o->check,
			 e->o->diff, NULL);
	struct kp_taskenv base = {.become = p->become,
				  .become_user = p->become_user,
				  .check_mode = KP_UNSET,
				  .section = "tasks"};
	if (p->environment)
		base.envs[base.nenvs++] = p->environment;
	for (size_t i = 0; i < p->ntags; i++)
		kp_strlist_push(&base.tags, p->tags[i]);
	/* hooks (hooks.c): a failing before_play stops the run, a skip leaves
	 * the play out */
	enum kp_hook_outcome play_hook = kp_hooks_run_play(e, KP_HOOK_BEFORE_PLAY, 0, bs.n);
	if (play_hook != KP_HOOK_OK)
		bs.n = 0; /* no batch runs (bs.b is still released below) */

	struct kp_runlock lock;
	bool locked = false;
	if (p->run_lock && !e->o->check && take_run_lock(e, p, &lock))
		locked = true;
	for (size_t bi = 0; bi < bs.n && !stopped(e); bi++) {
		struct kp_batch *batch = &bs.b[bi];
		if (bi && p->pause_between_batches_ms > 0) {
			kp_out_note(&e->out, "pausing %lld s between batches",
				    (long long)(p->pause_between_batches_ms / 1000));
			usleep((useconds_t)(p->pause_between_batches_ms * 1000));
		}
		if (p->confirm && !e->o->yes && !e->o->check && !confirm_batch(e, bi, bs.n))
			break;
		e->batch = batch;
		e->window = bs.window > 0;
		e->started_hosts = 0;
		kp_batchvars_init(&e->bv, &e->pv, batch->hosts, batch->n, bi + 1, bs.n);
		/* before_batch: a failure stops the rollout before this batch
		 * (the reason goes to the recap), a skip leaves the batch out */
		enum kp_hook_outcome bh = kp_hooks_run_play(e, KP_HOOK_BEFORE_BATCH, bi + 1, bs.n);
		if (bh != KP_HOOK_OK) {
			kp_batchvars_release(&e->bv);
			if (bh == KP_HOOK_FAILED)
				break;
			continue;
		}
		const char **names = kp_xcalloc(batch->n, sizeof(*names));
		for (size_t i = 0; i < batch->n; i++)
			names[i] = inv->hosts[batch->hosts[i]]->name;
		kp_out_batch_start(&e->out, bi + 1, bs.n, names, batch->n, e->window);
		free(names);

		struct hostset hosts = {kp_xcalloc(batch->n, sizeof(*hosts.h)), 0};
		for (size_t i = 0; i < batch->n; i++) {
			struct kp_hoststate *hs = &e->hosts[batch->hosts[i]];
			struct kp_buf herr = KP_BUF_INIT;
			if (!active(hs))
				continue;
			if (kp_hostvars_init(&hs->hv, e->L[0], &e->pv, &e->bv, hs->host, hs->facts,
					     &herr)) {
				/* a vars_files entry for this host could not be loaded */
				struct kp_taskresult r = {.host = hs->host->name,
							  .status = KP_ST_FAILED,
							  .msg = herr.buf};
				kp_out_host_result(&e->out, "vars_files", &r);
				hs->failed = true;
				hs->counts.failed++;
				kp_buf_release(&herr);
				continue;
			}
			hs->hv_ready = true;
			hosts.h[hosts.n++] = hs;
			kp_buf_release(&herr);
		}
		if (e->window || p->strategy == KP_STRATEGY_FREE) {
			struct host_job j = {.hosts = &hosts, .env = &base};
			int limit = e->window ? bs.window : e->o->forks;
			parallel_for(e, 0, hosts.n, limit, host_job_fn, &j,
				     e->window ? window_go : NULL);
			if (!e->window)
				check_stops(e, &(struct hostset){0}, NULL);
		} else {
			for (size_t i = 0; i < hosts.n; i++)
				kp_out_host_start(&e->out, hosts.h[i]->host->name);
			if (kp_hooks_any(p, KP_HOOK_BEFORE_HOST)) {
				struct hook_job hj = {.hosts = &hosts,
						      .point = KP_HOOK_BEFORE_HOST};
				bool *was = kp_xcalloc(hosts.n ? hosts.n : 1, sizeof(bool));
				for (size_t i = 0; i < hosts.n; i++)
					was[i] = active(hosts.h[i]);
				parallel_for(e, 0, hosts.n, e->o->forks, hook_job_fn, &hj, NULL);
				check_stops(e, &hosts, was); /* hook failures count */
				free(was);
			}
			run_sections(e, 0, &hosts, &base);
			if (kp_hooks_any(p, KP_HOOK_AFTER_HOST)) {
				struct hook_job hj = {.hosts = &hosts, .point = KP_HOOK_AFTER_HOST};
				parallel_for(e, 0, hosts.n, e->o->forks, hook_job_fn, &hj, NULL);
			}
		}
		kp_out_batch_end(&e->out, bi + 1, batch_failures(e), batch->n);
		/* after_batch: a failure stops later batches */
		kp_hooks_run_play(e, KP_HOOK_AFTER_BATCH, bi + 1, bs.n);
		for (size_t i = 0; i < hosts.n; i++) {
			kp_hostvars_release(&hosts.h[i]->hv);
			hosts.h[i]->hv_ready = false;
			hosts.h[i]->hook_skipped = false; /* skipped for this batch only */
		}
		free(hosts.h);
		kp_batchvars_release(&e->bv);
	}
	if (play_hook == KP_HOOK_OK)
		kp_hooks_run_play(e, KP_HOOK_AFTER_PLAY, 0, bs.n);
	if (locked)
		kp_runlock_release(&lock);
	kp_strlist_release(&base.tags);
	kp_playvars_release(&e->pv);
	kp_batches_release(&bs);
}

/* The journal's directory: --journal, else .kplan/runs beside the plan. */
static void journal_dir(const struct kp_engine *e, struct kp_buf *out)
{
	if (e->o->journal)
		kp_buf_addstr(out, e->o->journal);
	else
		kp_buf_addf(out, "%s/.kplan/runs", e->ld->plan->dir);
}

/* What a resume must repeat so that the same tasks meet the same hosts. */
static struct kp_value *run_args(const struct kp_runopts *o)
{
	struct kp_value *a = kp_value_map();
	if (o->limit)
		kp_map_set_take(a, "limit", kp_value_str(o->limit));
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < o->extra_args.n; i++) {
		/* the journal is a file at rest: "x_password=VALUE" words are
		 * kept as "x_password=<hidden>" (@FILE and JSON forms as given) */
		struct kp_buf w = KP_BUF_INIT;
		const char *s = o->extra_args.v[i];
		char first = s[strspn(s, " \t")];
		if (first == '{' || first == '@') { /* JSON or a file: as given */
			kp_buf_addstr(&w, s);
			s += strlen(s);
		}
		while (*s) {
			size_t sp = strspn(s, " \t"), n = strcspn(s + sp, " \t");
			const char *eq = memchr(s + sp, '=', n);
			kp_buf_add(&w, s, sp);
			if (eq && eq - (s + sp) >= 9 && !strncmp(eq - 9, "_password", 9)) {
				kp_buf_add(&w, s + sp, (size_t)(eq + 1 - (s + sp)));
				kp_buf_addstr(&w, "<hidden>");
			} else {
				kp_buf_add(&w, s + sp, n);
			}
			s += sp + n;
		}
		kp_list_push_take(l, kp_value_str(w.len ? w.buf : ""));
		kp_buf_release(&w);
	}
	kp_map_set_take(a, "extra_vars", l);
	l = kp_value_list();
	for (size_t i = 0; i < o->tags.n; i++)
		kp_list_push_take(l, kp_value_str(o->tags.v[i]));
	kp_map_set_take(a, "tags", l);
	l = kp_value_list();
	for (size_t i = 0; i < o->skip_tags.n; i++)
		kp_list_push_take(l, kp_value_str(o->skip_tags.v[i]));
	kp_map_set_take(a, "skip_tags", l);
	return a;
}

/* Open the run's journal and, with --resume, read the run it continues.
 * Returns an exit code when the run must not start, else -1. */
static int start_journal(struct kp_engine *e)
{
	const struct kp_runopts *o = e->o;
	struct kp_buf dir = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_run_identity id = {.plan = e->ld->plan->path,
				     .inventories = (const char *const *)o->inventories.v,
				     .ninventories = o->inventories.n,
				     .command = "run"};
	int code = -1;

	if (o->check)
		return -1; /* a check changes nothing: nothing to resume */
	journal_dir(e, &dir);
	if (kp_files_sha256((const char *const *)e->ld->plan->files, e->ld->plan->nfiles,
			    id.plan_sha256, &err) ||
	    kp_files_sha256(id.inventories, id.ninventories, id.inventory_sha256, &err)) {
		kp_out_note(&e->out, "error: %s", err.buf);
		code = KP_EXIT_USAGE;
		goto out;
	}
	if (o->resume_given) {
		if (kp_resume_load(dir.buf, o->resume, &e->resume, &err)) {
			kp_out_note(&e->out, "error: --resume: %s", err.buf);
			code = KP_EXIT_USAGE;
			goto out;
		}
		e->resuming = true;
		const char *what = strcmp(e->resume.plan_sha256, id.plan_sha256) ? "plan"
				   : strcmp(e->resume.inventory_sha256, id.inventory_sha256)
				       ? "inventory"
				       : NULL;
		if (what && !o->force) {
			kp_out_note(&e->out,
				    "error: --resume: the %s changed since run %s: check the "
				    "difference, then resume with --force, or start a new run",
				    what, e->resume.run_id);
			code = KP_EXIT_USAGE;
			goto out;
		}
		/* registered values of the tasks that will be skipped */
		for (size_t i = 0; i < kp_map_len(e->resume.facts); i++) {
			const struct kp_host *h =
			    kp_inventory_host(&e->ld->inv, kp_map_key(e->resume.facts, i));
			if (h)
				kp_map_update(e->hosts[h->index].facts,
					      kp_map_val(e->resume.facts, i));
		}
	}
	id.args = run_args(o);
	kp_rc rc =
	    kp_journal_open(&e->journal, dir.buf, &id, e->resuming ? e->resume.run_id : NULL, &err);
	kp_value_unref((struct kp_value *)id.args);
	if (rc) {
		kp_out_note(&e->out, "error: %s", err.buf);
		code = KP_EXIT_USAGE;
		goto out;
	}
	e->journaling = true;
	e->journal.redact = o->redact;
	if (e->resuming)
		/* nodes the earlier run left cordoned are still this run's to uncordon */
		for (size_t i = 0; i < kp_map_len(e->resume.cordoned); i++)
			kp_journal_cordon(&e->journal, kp_map_val(e->resume.cordoned, i)->u.str.s,
					  kp_map_key(e->resume.cordoned, i), true);
out:
	kp_buf_release(&dir);
	kp_buf_release(&err);
	return code;
}

static void add_word(struct kp_buf *b, const char *w)
{
	kp_buf_addch(b, ' ');
	if (w[strcspn(w, " \t'\"$`\\;&|<>*?()[]{}!#~")])
		kp_sh_quote(b, w);
	else
		kp_buf_addstr(b, w);
}

/* On every exit but success: the nodes left cordoned and the exact command
 * that finishes the rollout. */
static void tell_how_to_resume(struct kp_engine *e)
{
	const struct kp_runopts *o = e->o;
	const struct kp_value *c = e->journal.cordoned;
	if (kp_map_len(c)) {
		struct kp_buf b = KP_BUF_INIT;
		for (size_t i = 0; i < kp_map_len(c); i++)
			kp_buf_addf(&b, "%s%s", i ? ", " : "", kp_map_key(c, i));
		kp_out_note(&e->out, "nodes left cordoned by this run: %s", b.buf);
		kp_buf_release(&b);
	} else {
		kp_out_note(&e->out, "no node was left cordoned by this run");
	}
	struct kp_buf cmd = KP_BUF_INIT;
	kp_buf_addstr(&cmd, "kplan run");
	add_word(&cmd, e->ld->plan->path);
	for (size_t i = 0; i < o->inventories.n; i++) {
		kp_buf_addstr(&cmd, " -i");
		add_word(&cmd, o->inventories.v[i]);
	}
	for (size_t i = 0; i < o->extra_args.n; i++) {
		kp_buf_addstr(&cmd, " -e");
		add_word(&cmd, o->extra_args.v[i]);
	}
	if (o->limit) {
		kp_buf_addstr(&cmd, " -l");
		add_word(&cmd, o->limit);
	}
	for (size_t i = 0; i < o->tags.n; i++) {
		kp_buf_addstr(&cmd, " -t");
		add_word(&cmd, o->tags.v[i]);
	}
	for (size_t i = 0; i < o->skip_tags.n; i++) {
		kp_buf_addstr(&cmd, " --skip-tags");
		add_word(&cmd, o->skip_tags.v[i]);
	}
	if (o->kubeconfig) {
		kp_buf_addstr(&cmd, " --kubeconfig");
		add_word(&cmd, o->kubeconfig);
	}
	if (o->known_hosts) {
		kp_buf_addstr(&cmd, " --known-hosts");
		add_word(&cmd, o->known_hosts);
	}
	if (o->journal) {
		kp_buf_addstr(&cmd, " --journal");
		add_word(&cmd, o->journal);
	}
	kp_buf_addf(&cmd, " --resume %s", e->journal.run_id);
	kp_out_note(&e->out, "to finish this rollout: %s", cmd.buf);
	kp_buf_release(&cmd);
}

int kp_run(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out)
{
	struct kp_engine e = {.o = o, .ld = ld};
	struct kp_inventory *inv = &ld->inv;
	int code;

	pthread_mutex_init(&e.lock, NULL);
	/* main decided colour from its terminal; `out` may be a redacting stream */
	kp_output_init(&e.out, out, o->format, o->verbose,
		       !o->no_color && (fileno(out) < 0 || isatty(fileno(out))), o->check);
	kp_output_scope(&e.out, o, ld->plan->path); /* check --format json|markdown: a report */
	e.nslots = o->forks > 0 ? o->forks : 1;
	e.L = kp_xcalloc((size_t)e.nslots, sizeof(*e.L));
	for (int i = 0; i < e.nslots; i++)
		e.L[i] = kp_lua_new();
	kp_hooks_init(&e);
	e.hosts = kp_xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof(*e.hosts));
	for (size_t i = 0; i < inv->nhosts; i++) {
		e.hosts[i].host = inv->hosts[i];
		e.hosts[i].facts = kp_value_map();
		e.hosts[i].counts.host = inv->hosts[i]->name;
		pthread_mutex_init(&e.hosts[i].conn_lock, NULL);
	}
	/* the implicit localhost: only its connection variable, local; its
	 * index is past the inventory's (it is never looked up by it) */
	e.local_host.name = kp_xstrdup("localhost");
	e.local_host.index = inv->nhosts;
	e.local_host.merged = kp_value_map();
	kp_map_set_take(e.local_host.merged, "ansible_connection", kp_value_str("local"));
	e.local_host.group_names = kp_value_list();
	e.local.host = &e.local_host;
	e.local.facts = kp_value_map();
	e.local.counts.host = e.local_host.name;
	pthread_mutex_init(&e.local.conn_lock, NULL);

	int64_t t0 = mono_ms();
	int early = start_journal(&e);
	if (early >= 0) {
		code = early;
		goto cleanup;
	}
	kp_out_run_start(&e.out, ld->plan->path, e.journaling ? e.journal.run_id : NULL, o->check);
	for (size_t pi = 0; pi < ld->plan->nplays && !e.stop_run; pi++) {
		run_play(&e, pi);
		if (e.stop_starting)
			e.stop_run = true;
	}

	/* recap: every host some play touched */
	struct kp_hostcounts *c = kp_xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof(*c));
	size_t nc = 0;
	bool any_failed = false, any_unreachable = false, any_changed = false;
	for (size_t i = 0; i < inv->nhosts; i++) {
		struct kp_hoststate *hs = &e.hosts[i];
		struct kp_hostcounts *h = &hs->counts;
		if (h->ok + h->changed + h->failed + h->skipped + h->unreachable + h->rescued +
		    h->ignored)
			c[nc++] = *h;
		any_failed |= hs->failed;
		any_changed |= h->changed > 0;
		any_unreachable |= hs->unreachable;
	}
	if (e.stop_reason && (e.stop_run || e.stop_play || e.stop_starting))
		code = KP_EXIT_STOPPED;
	else if (any_failed)
		code = KP_EXIT_FAILED;
	else if (any_unreachable)
		code = KP_EXIT_UNREACHABLE;
	else if (o->detailed_exitcode && any_changed)
		code = KP_EXIT_CHANGES; /* check: changes pending */
	else
		code = KP_EXIT_OK;
	(void)t0;
	if (interrupted(&e)) {
		code = KP_EXIT_INTERRUPTED;
		free(e.stop_reason);
		e.stop_reason = kp_xstrdup("interrupted: in-flight steps finished or were killed, "
					   "nothing new was started");
	} else if (e.locked) {
		code = KP_EXIT_LOCKED;
	}
	if (e.journaling) {
		kp_journal_end(&e.journal, code, e.stop_reason);
		if (code != KP_EXIT_OK)
			tell_how_to_resume(&e);
	}
	/* the recap closes the stream, right before run_end */
	kp_out_recap(&e.out, c, nc);
	free(c);
	kp_out_run_end(&e.out, code, e.stop_reason);
cleanup:
	if (e.journaling)
		kp_journal_close(&e.journal);
	if (e.resuming)
		kp_resume_release(&e.resume);

	for (size_t i = 0; i < inv->nhosts; i++) {
		kp_host_conn_close(&e.hosts[i]);
		kp_value_unref(e.hosts[i].facts);
		kp_value_unref(e.hosts[i].rescue_kplan);
		kp_value_unref(e.hosts[i].last_value);
		kp_value_unref(e.hosts[i].last_set_vars);
		kp_value_unref(e.hosts[i].last_failed_result);
		free(e.hosts[i].last_failed_task);
		free(e.hosts[i].conn_error);
		kp_strlist_release(&e.hosts[i].notified);
		pthread_mutex_destroy(&e.hosts[i].conn_lock);
	}
	free(e.hosts);
	kp_host_conn_close(&e.local);
	kp_value_unref(e.local.facts);
	free(e.local.conn_error);
	pthread_mutex_destroy(&e.local.conn_lock);
	kp_value_unref(e.local_host.merged);
	kp_value_unref(e.local_host.group_names);
	free(e.local_host.name);
	kp_hooks_release(&e);
	for (int i = 0; i < e.nslots; i++)
		kp_lua_free(e.L[i]);
	free(e.L);
	free(e.stop_reason);
	kp_output_release(&e.out);
	pthread_mutex_destroy(&e.lock);
	return code;
}
