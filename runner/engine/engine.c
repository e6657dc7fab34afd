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

/* free and window: one host through the whole play */
struct host_job {
	struct kp_hostlist *hosts;
	const struct kp_taskenv *env;
};

static bool window_go(struct kp_engine *e, size_t next)
{
	if (e->stop_run || e->stop_play || e->stop_starting)
		return false;
	/* hosts started so far, failed or unreachable among them */
	size_t failed = 0;
	pthread_mutex_lock(&e->lock);
	if (e->wgate) {
		/* a disruption-aware window starts hosts out of play order */
		failed = kp_wgate_failed(e, &e->started_hosts);
	} else {
		for (size_t i = 0; i < e->started_hosts; i++) {
			struct kp_hoststate *hs = e->hosts[e->batch->hosts[i]];
			failed += hs->failed || hs->unreachable;
		}
	}
	bool over =
	    e->window && kp_fail_threshold_exceeded(failed, e->started_hosts, kp_max_fail(e));
	if (over) {
		e->stop_starting = true;
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b,
			    "stopped: %zu of %zu hosts started so far failed, more than "
			    "max_fail_percentage %d%%",
			    failed, e->started_hosts, kp_max_fail(e));
		free(e->stop_reason);
		e->stop_reason = kp_buf_detach(&b, NULL);
	}
	pthread_mutex_unlock(&e->lock);
	/* a disruption-aware window: until the cluster can take the host */
	if (over || (e->wgate && !kp_wgate_admit(e, next)))
		return false;
	pthread_mutex_lock(&e->lock);
	e->started_hosts++;
	pthread_mutex_unlock(&e->lock);
	return true;
}

static void host_job_fn(struct kp_engine *e, int slot, size_t i, void *arg)
{
	struct host_job *j = arg;
	if (e->wgate)
		i = kp_wgate_host(e, i); /* the host the window chose */
	struct kp_hoststate *hs = j->hosts->h[i];
	struct kp_hostlist one = {&j->hosts->h[i], 1};
	kp_out_host_start(&e->out, hs->host->name);
	/* hooks around the host, on its worker (hooks.c) */
	if (kp_hooks_run_host(e, slot, hs, KP_HOOK_BEFORE_HOST) == KP_HOOK_OK)
		kp_run_sections(e, slot, &one, j->env);
	if (!hs->hook_skipped)
		kp_hooks_run_host(e, slot, hs, KP_HOOK_AFTER_HOST);
	if (e->wgate)
		kp_wgate_done(e, i);
}

/* A disruption-aware window that cannot read the cluster stops the run
 * before any host starts. */
static void open_window_gate(struct kp_engine *e, const struct kp_hostlist *hosts)
{
	struct kp_buf err = KP_BUF_INIT;
	if (kp_wgate_open(e, hosts, &err)) {
		e->stop_run = true;
		free(e->stop_reason);
		e->stop_reason = kp_buf_detach(&err, NULL);
	}
	kp_buf_release(&err);
}

/* Linear strategy: before_host/after_host for every host of the batch, in
 * parallel on the workers. */
struct hook_job {
	struct kp_hostlist *hosts;
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
	struct kp_conn *c = n ? kp_host_conn(e, e->hosts[h[0]]) : NULL;
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

static struct kp_hoststate *hoststate_new(struct kp_engine *e, const struct kp_host *h)
{
	struct kp_hoststate *hs = kp_xcalloc(1, sizeof(*hs));
	hs->host = h;
	hs->facts = kp_value_map();
	hs->engine = e;
	hs->gathered = kp_value_map();
	hs->no_facts = kp_value_map();
	hs->counts.host = h->name;
	pthread_mutex_init(&hs->conn_lock, NULL);
	return hs;
}

static void hoststate_free(struct kp_hoststate *hs)
{
	kp_host_conn_close(hs);
	kp_value_unref(hs->facts);
	kp_value_unref(hs->gathered);
	kp_value_unref(hs->no_facts);
	kp_value_unref(hs->hv_snap);
	kp_value_unref(hs->rescue_kplan);
	kp_value_unref(hs->last_value);
	kp_value_unref(hs->last_set_vars);
	kp_value_unref(hs->last_failed_result);
	kp_value_unref(hs->async_jobs);
	free(hs->last_failed_task);
	free(hs->roles_ran);
	free(hs->conn_error);
	kp_strlist_release(&hs->notified);
	pthread_mutex_destroy(&hs->conn_lock);
	free(hs);
}

/* add_host and group_by: the inventory gets the hosts, groups and
 * variables, and the engine a state for every new host. Mid-play (after
 * a task of a linear play, when no worker runs) the scopes of the play's
 * hosts are given the new inventory's maps: `groups`, `group_names` and
 * their inventory variables. */
void kp_engine_inventory_changes(struct kp_engine *e)
{
	struct kp_inventory *inv = &e->ld->inv;
	size_t before = inv->nhosts;
	struct kp_buf err = KP_BUF_INIT;
	if (!kp_list_len(e->inv_changes))
		return;
	for (size_t i = 0; i < kp_list_len(e->inv_changes); i++) {
		const struct kp_value *c = kp_list_at(e->inv_changes, i);
		const struct kp_value *r = kp_map_get(c, "result"), *ah = kp_map_get(r, "add_host"),
				      *ag = kp_map_get(r, "add_group");
		if (ah && ah->type == KP_V_MAP) {
			const struct kp_value *name = kp_map_get(ah, "host_name"),
					      *groups = kp_map_get(ah, "groups"),
					      *vars = kp_map_get(ah, "host_vars");
			size_t h = kp_inventory_add_host(inv, name->u.str.s);
			if (vars && vars->type == KP_V_MAP)
				kp_map_update(inv->hosts[h]->vars, vars);
			for (size_t k = 0; groups && k < kp_list_len(groups); k++)
				kp_inventory_add_member(
				    inv,
				    kp_inventory_add_group(inv, kp_list_at(groups, k)->u.str.s), h);
		}
		if (ag && ag->type == KP_V_STR) {
			const struct kp_value *parents = kp_map_get(r, "parent_groups");
			size_t g = kp_inventory_add_group(inv, ag->u.str.s);
			for (size_t k = 0; parents && k < kp_list_len(parents); k++) {
				size_t p =
				    kp_inventory_add_group(inv, kp_list_at(parents, k)->u.str.s);
				if (p != g && kp_inventory_add_child(inv, p, g, &err))
					kp_buf_reset(
					    &err); /* 'all' as a child: Ansible skips it too */
			}
			const struct kp_host *h =
			    kp_inventory_host(inv, kp_map_get(c, "host")->u.str.s);
			if (h)
				kp_inventory_add_member(inv, g, h->index);
		}
	}
	kp_value_unref(e->inv_changes);
	e->inv_changes = kp_value_list();
	/* the refresh makes every host's merged variables anew: the scopes
	 * that hold the old maps are pointed at the new ones */
	struct kp_value **old = kp_xcalloc(before ? before : 1, sizeof(*old));
	for (size_t i = 0; i < before; i++)
		old[i] = kp_value_ref(inv->hosts[i]->merged);
	if (kp_inventory_refresh(inv, &err)) {
		e->stop_run = true;
	}
	for (size_t i = 0; i < before; i++) {
		struct kp_hoststate *hs = e->hosts[i];
		if (hs->hv_ready && inv->hosts[i]->merged) {
			for (size_t l = 0; l < hs->hv.scope.nlayers; l++)
				if (hs->hv.scope.layers[l] == old[i])
					hs->hv.scope.layers[l] = inv->hosts[i]->merged;
			kp_map_set(hs->hv.magic, "groups", inv->groups_var);
			kp_map_set(hs->hv.magic, "group_names", inv->hosts[i]->group_names);
		}
		kp_value_unref(old[i]);
	}
	free(old);
	kp_buf_release(&err);
	/* a state for every new host (the states of the others stay where
	 * they are: tasks and batches hold them) */
	if (inv->nhosts > before) {
		e->hosts = kp_xrealloc(e->hosts, inv->nhosts * sizeof(*e->hosts));
		for (size_t i = before; i < inv->nhosts; i++)
			e->hosts[i] = hoststate_new(e, inv->hosts[i]);
	}
}

/* Ansible's magic variables of the run's options, and other hosts' facts
 * for hostvars[]. */
static void run_magic(struct kp_engine *e)
{
	e->pv.facts_of = kp_facts_of;
	e->pv.facts_ctx = e;
	e->pv.local = &e->local_host;
	kp_playvars_options(&e->pv, &e->o->inventories, e->o->forks, e->o->limit, &e->o->tags,
			    &e->o->skip_tags);
}

struct gather_job {
	struct kp_hostlist *hosts;
	bool *failed;
	char **why;
	int64_t *ms;
};

static void gather_fn(struct kp_engine *e, int slot, size_t i, void *arg)
{
	struct gather_job *j = arg;
	struct kp_hoststate *hs = j->hosts->h[i];
	struct kp_buf err = KP_BUF_INIT;
	int64_t t0 = kp_now_ms();
	if (kp_facts_gather(e, hs, e->L[slot], &hs->hv.scope, &err)) {
		j->failed[i] = true;
		j->why[i] = kp_buf_detach(&err, NULL);
	}
	j->ms[i] = kp_now_ms() - t0;
	kp_buf_release(&err);
}

/* gather_facts: true: Ansible's "Gathering Facts" at the play's start, on
 * every host of the batch at once; a host that cannot be reached is
 * out of the play, one whose gathering fails has failed. */
static void gather_facts(struct kp_engine *e, struct kp_hostlist *hosts)
{
	struct gather_job j = {hosts, kp_xcalloc(hosts->n + 1, sizeof(bool)),
			       kp_xcalloc(hosts->n + 1, sizeof(char *)),
			       kp_xcalloc(hosts->n + 1, sizeof(int64_t))};
	kp_out_task_start(&e->out, "Gathering Facts", "setup", "tasks");
	kp_parallel_for(e, 0, hosts->n, e->o->forks, gather_fn, &j, NULL);
	for (size_t i = 0; i < hosts->n; i++) {
		struct kp_hoststate *hs = hosts->h[i];
		struct kp_taskresult r = {.host = hs->host->name,
					  .status = KP_ST_OK,
					  .module = "setup",
					  .section = "tasks",
					  .duration_ms = j.ms[i],
					  .msg = j.why[i]};
		if (j.failed[i]) {
			hs->gather_failed = true;
			r.status = hs->conn ? KP_ST_FAILED : KP_ST_UNREACHABLE;
			if (hs->conn) {
				hs->failed = true;
				hs->counts.failed++;
			} else {
				hs->unreachable = true;
				hs->counts.unreachable++;
			}
		} else {
			hs->counts.ok++;
		}
		kp_out_host_result(&e->out, "Gathering Facts", &r);
		free(j.why[i]);
	}
	free(j.failed);
	free(j.why);
	free(j.ms);
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
	e->end_play = false;
	if (kp_batches_compute(p, p->hosts, inv, e->o->limit, &bs, &warn, &err)) {
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
	run_magic(e);
	struct kp_taskenv base = {.become = p->become,
				  .become_user = p->become_user,
				  .check_mode = p->check_mode,
				  .diff = p->diff,
				  .throttle = p->throttle,
				  .run_once = p->run_once,
				  .ignore_errors = p->ignore_errors,
				  .ignore_unreachable = p->ignore_unreachable,
				  .no_log = p->no_log,
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
	for (size_t bi = 0; bi < bs.n && !kp_engine_stopped(e) && !e->end_play; bi++) {
		struct kp_batch *batch = &bs.b[bi];
		if (bi && p->pause_between_batches_ms > 0) {
			kp_out_note(&e->out, "pausing %lld s between batches",
				    (long long)(p->pause_between_batches_ms / 1000));
			kp_sleep_interruptible(p->pause_between_batches_ms, e->o->interrupts);
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

		struct kp_hostlist hosts = {kp_xcalloc(batch->n, sizeof(*hosts.h)), 0};
		for (size_t i = 0; i < batch->n; i++) {
			struct kp_hoststate *hs = e->hosts[batch->hosts[i]];
			struct kp_buf herr = KP_BUF_INIT;
			if (!kp_host_active(hs))
				continue;
			if (kp_hostvars_init(&hs->hv, e->L[0], &e->pv, &e->bv, hs->host, hs->facts,
					     hs->gathered, &herr)) {
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
			kp_facts_hook(hs);
			hosts.h[hosts.n++] = hs;
			kp_buf_release(&herr);
		}
		if (p->gather_facts == KP_YES)
			gather_facts(e, &hosts);
		if (e->window || p->strategy == KP_STRATEGY_FREE) {
			struct host_job j = {.hosts = &hosts, .env = &base};
			int limit = e->window ? bs.window : e->o->forks;
			if (e->window && p->wrule.aware) {
				struct kp_buf wd = KP_BUF_INIT;
				kp_window_describe(p, hosts.n, e->nslots, &wd);
				kp_out_note(&e->out, "%s%s", wd.buf,
					    e->o->check
						? " (a check changes nothing: it does not wait)"
						: "");
				kp_buf_release(&wd);
				if (!e->o->check)
					open_window_gate(e, &hosts);
			}
			if (!kp_engine_stopped(e))
				kp_parallel_for(e, 0, hosts.n, limit, host_job_fn, &j,
						e->window ? window_go : NULL);
			kp_wgate_close(e);
			if (!e->window)
				kp_check_stops(e, &(struct kp_hostlist){0}, NULL);
		} else {
			for (size_t i = 0; i < hosts.n; i++)
				kp_out_host_start(&e->out, hosts.h[i]->host->name);
			if (kp_hooks_any(p, KP_HOOK_BEFORE_HOST)) {
				struct hook_job hj = {.hosts = &hosts,
						      .point = KP_HOOK_BEFORE_HOST};
				bool *was = kp_xcalloc(hosts.n ? hosts.n : 1, sizeof(bool));
				for (size_t i = 0; i < hosts.n; i++)
					was[i] = kp_host_active(hosts.h[i]);
				kp_parallel_for(e, 0, hosts.n, e->o->forks, hook_job_fn, &hj, NULL);
				kp_check_stops(e, &hosts, was); /* hook failures count */
				free(was);
			}
			kp_run_sections(e, 0, &hosts, &base);
			if (kp_hooks_any(p, KP_HOOK_AFTER_HOST)) {
				struct hook_job hj = {.hosts = &hosts, .point = KP_HOOK_AFTER_HOST};
				kp_parallel_for(e, 0, hosts.n, e->o->forks, hook_job_fn, &hj, NULL);
			}
		}
		kp_out_batch_end(&e->out, bi + 1, kp_batch_failures(e), batch->n);
		kp_outcome_delegated_facts(e, true); /* free, window: kept until now */
		/* after_batch: a failure stops later batches */
		kp_hooks_run_play(e, KP_HOOK_AFTER_BATCH, bi + 1, bs.n);
		for (size_t i = 0; i < hosts.n; i++) {
			kp_hostvars_release(&hosts.h[i]->hv);
			hosts.h[i]->hv_ready = false;
			hosts.h[i]->hook_skipped = false; /* skipped for this batch only */
			hosts.h[i]->ended = false;
			/* as Ansible: a failed host stays out of this play, not
			 * out of the next ones */
			if (hosts.h[i]->errors_cleared)
				hosts.h[i]->failed = hosts.h[i]->errors_cleared = false;
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
	kp_engine_inventory_changes(e);
}

int kp_run(const struct kp_runconf *o, struct kp_loaded *ld, FILE *out)
{
	struct kp_engine e = {.o = o, .ld = ld};
	kp_taskselect_init(&e.select, o->start_at_task, &o->tags, &o->skip_tags);
	struct kp_inventory *inv = &ld->inv;
	int code;

	pthread_mutex_init(&e.lock, NULL);
	pthread_mutex_init(&e.conn_evict_lock, NULL);
	/* main decided colour from its terminal; `out` may be a redacting stream */
	kp_output_init(&e.out, out, o->format, o->verbose,
		       !o->no_color && (fileno(out) < 0 || isatty(fileno(out))), o->check);
	struct kp_report_scope scope = {.plan = ld->plan->path,
					.inventories = &o->inventories,
					.tags = &o->tags,
					.skip_tags = &o->skip_tags,
					.limit = o->limit,
					.extra = o->extra,
					.diff = o->diff,
					.no_fold = o->no_fold};
	kp_output_scope(&e.out, o->check, &scope); /* check --format json|markdown: a report */
	e.nslots = o->forks > 0 ? o->forks : 1;
	e.L = kp_xcalloc((size_t)e.nslots, sizeof(*e.L));
	for (int i = 0; i < e.nslots; i++)
		e.L[i] = kp_lua_new();
	kp_hooks_init(&e);
	e.inv_changes = kp_value_list();
	e.hosts = kp_xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof(*e.hosts));
	for (size_t i = 0; i < inv->nhosts; i++)
		e.hosts[i] = hoststate_new(&e, inv->hosts[i]);
	/* the implicit localhost: only its connection variable, local; its
	 * index is past the inventory's (it is never looked up by it) */
	e.local_host.name = kp_xstrdup("localhost");
	e.local_host.index = inv->nhosts;
	e.local_host.merged = kp_value_map();
	kp_map_set_take(e.local_host.merged, "ansible_connection", kp_value_str("local"));
	e.local_host.group_names = kp_value_list();
	e.local.host = &e.local_host;
	e.local.facts = kp_value_map();
	e.local.engine = &e;
	e.local.gathered = kp_value_map();
	e.local.no_facts = kp_value_map();
	e.local.counts.host = e.local_host.name;
	pthread_mutex_init(&e.local.conn_lock, NULL);

	int early = kp_journal_start_run(&e);
	if (early >= 0) {
		code = early;
		goto cleanup;
	}
	kp_out_run_start(&e.out, ld->plan->path, e.journaling ? e.journal.run_id : NULL, o->check);
	kp_engine_journal_check(&e);
	kp_conn_limit_init(&e, inv->nhosts);
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
		struct kp_hoststate *hs = e.hosts[i];
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
	if (kp_engine_interrupted(&e)) {
		code = KP_EXIT_INTERRUPTED;
		free(e.stop_reason);
		e.stop_reason = kp_xstrdup("interrupted: in-flight steps finished or were killed, "
					   "nothing new was started");
	} else if (e.locked) {
		code = KP_EXIT_LOCKED;
	}
	if (e.journaling) {
		kp_journal_end(&e.journal, code, e.stop_reason);
		if (e.journal_broken)
			kp_out_note(&e.out,
				    "the journal '%s' is incomplete: its last %zu records are "
				    "missing (from the failed write on); a resume would run again "
				    "every task whose result is not in it, and would not know of "
				    "nodes cordoned since",
				    e.journal.path, e.journal.lost);
		if (code != KP_EXIT_OK)
			kp_tell_how_to_resume(&e);
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

	for (size_t i = 0; i < inv->nhosts; i++)
		hoststate_free(e.hosts[i]);
	free(e.hosts);
	kp_value_unref(e.inv_changes);
	kp_host_conn_close(&e.local);
	kp_value_unref(e.local.facts);
	kp_value_unref(e.local.gathered);
	kp_value_unref(e.local.no_facts);
	kp_value_unref(e.local.hv_snap);
	free(e.local.conn_error);
	pthread_mutex_destroy(&e.local.conn_lock);
	pthread_mutex_destroy(&e.conn_evict_lock);
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
