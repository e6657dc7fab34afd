/*
 * hooks.c - the engine's side of Lua hooks and custom steps: the context
 * table of each hook point, what a failing or skipping hook does to the
 * run, the kplan API on real hosts (kp_hook_ops), and the `lua` module's
 * step. Running the Lua itself is luaapi.c's business; see hooks.h for
 * the semantics.
 *
 * Threads: play and batch hooks run on the engine's thread while no host
 * runs (worker slot 0); host, task and failure hooks and steps run on the
 * host's worker, in that worker's Lua state.
 */
#include "engine/hooks.h"

#include "engine/engine_int.h"
#include "kube/kubeapi.h"
#include "expr/luaint.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* What the ops of one hook call act for. */
struct hctx {
	struct kp_engine *e;
	int slot;
	struct kp_hoststate *self; /* the hook's host, or NULL */
	bool host_thread;	   /* beside other hosts' threads: see hooks.h */
	enum kp_tristate become;   /* kplan.run's default */
	const char *become_user;
};

bool kp_hooks_any(const struct kp_play *p, enum kp_hook_point point)
{
	return p && p->nhooks[point] > 0;
}

void kp_hooks_init(struct kp_engine *e)
{
	e->kube = kp_xcalloc((size_t)e->nslots, sizeof(*e->kube));
}

void kp_hooks_release(struct kp_engine *e)
{
	for (int i = 0; e->kube && i < e->nslots; i++)
		kp_kube_free(e->kube[i]);
	free(e->kube);
	e->kube = NULL;
}

/* ---- the ops ---------------------------------------------------------- */

static struct kp_hoststate *find_host(struct kp_engine *e, const char *name, struct kp_buf *err)
{
	const struct kp_host *h = kp_inventory_host(&e->ld->inv, name);
	if (!h) {
		kp_errorf(err, KP_ERR_NOTFOUND, "no host '%s' in the inventory", name);
		return NULL;
	}
	return e->hosts[h->index];
}

/* The variables of hs as far as they exist outside a batch. */
static void outside_scope(struct kp_engine *e, struct kp_hoststate *hs, struct kp_scope *s)
{
	memset(s, 0, sizeof(*s));
	s->layers[s->nlayers++] = hs->host->merged;
	s->layers[s->nlayers++] = hs->gathered;
	if (e->play && e->play->vars)
		s->layers[s->nlayers++] = e->play->vars;
	s->layers[s->nlayers++] = hs->facts;
	if (e->o->extra)
		s->layers[s->nlayers++] = e->o->extra;
	s->base_dir = e->ld->plan->dir;
}

/* The variables of hs that a hook call may read. */
static const struct kp_scope *vars_scope(struct hctx *h, struct kp_hoststate *hs,
					 struct kp_scope *tmp)
{
	if (h->host_thread && hs != h->self) {
		/* another thread may be changing that host's variables: only its
		 * inventory variables, which never change, as hostvars[] */
		memset(tmp, 0, sizeof(*tmp));
		tmp->layers[tmp->nlayers++] = hs->host->merged;
		tmp->base_dir = h->e->ld->plan->dir;
		return tmp;
	}
	if (hs->hv_ready)
		return &hs->hv.scope;
	outside_scope(h->e, hs, tmp);
	return tmp;
}

static kp_rc op_run(void *ctx, const char *host, const char *cmd, const struct kp_hook_runopts *o,
		    struct kp_exec_res *res, struct kp_buf *err)
{
	struct hctx *h = ctx;
	struct kp_engine *e = h->e;
	struct kp_hoststate *hs = find_host(e, host, err);
	if (!hs)
		return KP_ERR_NOTFOUND;
	/* the call's options are keywords as a task's are: the host's become
	 * variables win over them (kp_become_resolve) */
	struct kp_scope tmp;
	struct kp_taskbecome bec;
	enum kp_tristate kw = o->become >= 0 ? (o->become ? KP_YES : KP_NO) : h->become;
	pthread_mutex_lock(&hs->conn_lock); /* vars_scope reads the host's state */
	kp_rc rc = kp_become_resolve(NULL, vars_scope(h, hs, &tmp), kw,
				     o->become_user ? o->become_user : h->become_user, &bec, err);
	if (!rc) {
		struct kp_become b = {.user = bec.user, .password = bec.password};
		struct kp_exec_req req = {.cmd = cmd,
					  .timeout_ms =
					      o->timeout_ms ? o->timeout_ms : e->o->timeout_ms,
					  .stdin_data = o->stdin_data,
					  .stdin_len = o->stdin_len};
		rc = kp_host_exec(e, hs, true, &b, &req, res, NULL, err);
		kp_become_release(&bec);
	}
	pthread_mutex_unlock(&hs->conn_lock);
	return rc;
}

static void op_log(void *ctx, const char *msg)
{
	struct hctx *h = ctx;
	const char *p = msg;
	do {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		if (h->self)
			kp_out_note(&h->e->out, "hook: %s: %.*s", h->self->host->name, len, p);
		else
			kp_out_note(&h->e->out, "hook: %.*s", len, p);
		p = nl ? nl + 1 : NULL;
	} while (p && *p);
}

static kp_rc op_set_var(void *ctx, const char *host, const char *name, const struct kp_value *v,
			struct kp_buf *err)
{
	struct hctx *h = ctx;
	struct kp_hoststate *hs = find_host(h->e, host, err);
	if (!hs)
		return KP_ERR_NOTFOUND;
	if (h->host_thread && hs != h->self)
		return kp_errorf(
		    err, KP_ERR_INVALID,
		    "'%s' is not this hook's host ('%s'): a host hook or step sets only "
		    "its own host's variables (use a play or batch hook for others)",
		    host, h->self ? h->self->host->name : "none");
	/* the facts map is the host's registered layer (hv.registered): later
	 * tasks see the change at once */
	pthread_mutex_lock(&h->e->lock); /* hostvars[] of other hosts reads it */
	if (v)
		kp_map_set(hs->facts, name, v);
	else
		kp_map_del(hs->facts, name);
	hs->facts_gen++;
	pthread_mutex_unlock(&h->e->lock);
	return KP_OK;
}

static kp_rc op_get_var(void *ctx, struct kp_lua *L, const char *host, const char *name,
			struct kp_value **out, struct kp_buf *err)
{
	struct hctx *h = ctx;
	struct kp_hoststate *hs = find_host(h->e, host, err);
	struct kp_scope tmp;
	*out = NULL;
	if (!hs)
		return KP_ERR_NOTFOUND;
	const struct kp_scope *s = vars_scope(h, hs, &tmp);
	const struct kp_value *v = kp_scope_get(s, name);
	if (!v)
		return KP_OK;
	struct kp_value *r = NULL;
	kp_rc rc = kp_var_resolve(L, name, v, s, &r, err);
	if (rc)
		return rc;
	*out = r ? r : kp_value_ref(v);
	return KP_OK;
}

static kp_rc op_kube(void *ctx, const char *method, const char *path, const char *body,
		     long *status, struct kp_value **json, struct kp_buf *err)
{
	struct hctx *h = ctx;
	struct kp_engine *e = h->e;
	struct kp_kube **k = &e->kube[h->slot];
	kp_rc rc = KP_OK;
	*json = NULL;
	if (!*k) {
		/* --kubeconfig, else $KUBECONFIG, else ~/.kube/config */
		rc = kp_kube_open(e->o->kubeconfig, getenv("KUBECONFIG"), getenv("HOME"), k, err);
		if (rc)
			return rc;
	}
	struct cJSON *j = NULL;
	rc = kp_kube_request(*k, method, path, body, NULL, status, &j, err);
	if (rc || !j)
		return rc;
	char *text = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!text)
		return kp_errorf(err, KP_ERR_NOMEM, "out of memory");
	rc = kp_value_from_json(text, strlen(text), json, err);
	free(text);
	return rc;
}

static const struct kp_hook_ops engine_ops = {
    .run = op_run,
    .log = op_log,
    .set_var = op_set_var,
    .get_var = op_get_var,
    .kube = op_kube,
};

/* ---- context tables --------------------------------------------------- */

static struct kp_value *base_ctx(struct kp_engine *e, const char *point, bool with_batch)
{
	const struct kp_play *p = e->play;
	struct kp_value *c = kp_value_map();
	kp_map_set_take(c, "point", kp_value_str(point));
	struct kp_value *play = kp_value_map();
	kp_map_set_take(play, "name", kp_value_str(p->name ? p->name : p->hosts));
	kp_map_set_take(play, "hosts", kp_value_str(p->hosts));
	if (e->pv.play_hosts)
		kp_map_set(play, "host_list", e->pv.play_hosts);
	kp_map_set_take(c, "play", play);
	kp_map_set_take(c, "check_mode", kp_value_bool(e->o->check));
	if (with_batch && e->bv.kplan) {
		struct kp_value *b = kp_value_map();
		const struct kp_value *i = kp_map_get(e->bv.kplan, "batch_index");
		const struct kp_value *n = kp_map_get(e->bv.kplan, "batch_count");
		if (i)
			kp_map_set(b, "index", i);
		if (n)
			kp_map_set(b, "count", n);
		kp_map_set(b, "hosts", e->bv.batch_hosts);
		kp_map_set_take(c, "batch", b);
	}
	return c;
}

static struct kp_value *task_value(struct kp_engine *e, int slot, struct kp_hoststate *hs,
				   const struct kp_task *t, const struct kp_taskenv *env)
{
	struct kp_value *v = kp_value_map();
	kp_map_set_take(v, "name", kp_value_str(kp_task_display_name(t)));
	kp_map_set_take(v, "module", kp_value_str(t->module ? t->module->name : "block"));
	if (env && env->section)
		kp_map_set_take(v, "section", kp_value_str(env->section));
	bool no_log = t->no_log || t->no_log_t || (env && env->no_log);
	struct kp_value *args = NULL;
	if (t->args && !no_log && hs->hv_ready &&
	    !kp_tvalue_render(e->L[slot], t->args, &hs->hv.scope, &args, NULL))
		kp_map_set_take(v, "args",
				args); /* arguments that cannot render yet are left out */
	return v;
}

/* A registered result as a hook may see it (no_log: only the verdict). */
static struct kp_value *result_value(const struct kp_value *r, bool no_log)
{
	if (!r)
		return kp_value_map();
	if (!no_log)
		return kp_value_ref(r);
	struct kp_value *v = kp_value_map();
	static const char *const keep[] = {"changed", "failed", "skipped"};
	for (size_t i = 0; i < KP_ARRAY_LEN(keep); i++)
		if (kp_map_get(r, keep[i]))
			kp_map_set(v, keep[i], kp_map_get(r, keep[i]));
	kp_map_set_take(v, "msg", kp_value_str("<hidden by no_log>"));
	return v;
}

/* ctx.vars of a play or batch hook: play vars, extra vars and the magic
 * variables that exist without a host. */
struct play_scope {
	struct kp_scope s;
	struct kp_value *magic;
};

static void play_scope_init(struct kp_engine *e, bool with_batch, struct play_scope *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->magic = kp_value_map();
	if (e->pv.play_hosts)
		kp_map_set(ps->magic, "play_hosts", e->pv.play_hosts);
	kp_map_set(ps->magic, "groups", e->ld->inv.groups_var);
	if (with_batch && e->bv.batch_hosts)
		kp_map_set(ps->magic, "batch_hosts", e->bv.batch_hosts);
	const struct kp_value *kplan = with_batch && e->bv.kplan ? e->bv.kplan : e->pv.kplan;
	if (kplan)
		kp_map_set(ps->magic, "kplan", kplan);
	if (e->play->vars)
		ps->s.layers[ps->s.nlayers++] = e->play->vars;
	if (e->o->extra)
		ps->s.layers[ps->s.nlayers++] = e->o->extra;
	ps->s.layers[ps->s.nlayers++] = ps->magic;
	ps->s.base_dir = e->ld->plan->dir;
}

/* ---- running the hooks of a point ------------------------------------- */

static const char *base_name(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : path ? path : "?";
}

/* "@path" for a file, "=[inline plan.yml:12]" for inline Lua. */
static void chunk_name(const char *path, const struct kp_pos *pos, struct kp_buf *out)
{
	if (path)
		kp_buf_addf(out, "@%s", path);
	else
		kp_buf_addf(out, "=[inline %s:%d]", base_name(pos->file), pos->line);
}

static void note_traceback(struct kp_engine *e, const struct kp_buf *tb)
{
	if (e->o->verbose < 1 || !tb->len)
		return;
	const char *p = tb->buf;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		kp_out_note(&e->out, "  %.*s", len, p);
		p = nl ? nl + 1 : NULL;
	}
}

static enum kp_hook_outcome run_point(struct kp_engine *e, int slot, enum kp_hook_point point,
				      struct hctx *h, const struct kp_value *ctxv,
				      const struct kp_scope *vars, struct kp_buf *msg)
{
	const struct kp_play *p = e->play;
	enum kp_hook_outcome out = KP_HOOK_OK;
	for (size_t i = 0; i < p->nhooks[point] && out == KP_HOOK_OK; i++) {
		const struct kp_hook *hk = &p->hooks[point][i];
		struct kp_buf chunk = KP_BUF_INIT;
		chunk_name(hk->path, &hk->pos, &chunk);
		struct kp_hookcall c = {
		    .code = hk->code,
		    .len = strlen(hk->code),
		    .chunkname = chunk.buf,
		    .ctx = ctxv,
		    .vars = vars,
		    .host = h->self ? h->self->host->name : NULL,
		    .check_mode = e->o->check,
		    .max_instructions = p->hook_max_instructions,
		    .max_memory = p->hook_max_memory,
		    .interrupts = e->o->interrupts,
		    .ops = &engine_ops,
		    .ops_ctx = h,
		};
		kp_hook_call(e->L[slot], &c);
		switch (c.outcome) {
		case KP_HOOK_OK:
			break;
		case KP_HOOK_NOT_RUN:
			/* check mode: this hook is left out; the others still run */
			if (e->o->verbose)
				kp_out_note(&e->out, "hook: %s hook %s%s%s", kp_hook_names[point],
					    c.msg.buf, h->self ? " for " : "",
					    h->self ? h->self->host->name : "");
			break;
		case KP_HOOK_FAILED:
			note_traceback(e, &c.traceback);
			/* fall through */
		case KP_HOOK_SKIPPED:
			out = c.outcome;
			if (msg) {
				kp_buf_reset(msg);
				kp_buf_add(msg, c.msg.buf, c.msg.len);
			}
			break;
		}
		kp_hookcall_release(&c);
		kp_buf_release(&chunk);
	}
	return out;
}

enum kp_hook_outcome kp_hooks_run_play(struct kp_engine *e, enum kp_hook_point point,
				       size_t batch_index, size_t batch_count)
{
	if (!kp_hooks_any(e->play, point))
		return KP_HOOK_OK;
	bool batch = batch_index > 0;
	struct hctx h = {
	    .e = e, .slot = 0, .become = e->play->become, .become_user = e->play->become_user};
	struct kp_value *ctxv = base_ctx(e, kp_hook_names[point], batch);
	if (point == KP_HOOK_AFTER_BATCH && e->batch) {
		/* which hosts of the batch failed */
		struct kp_value *failed = kp_value_list();
		for (size_t i = 0; i < e->batch->n; i++) {
			struct kp_hoststate *hs = e->hosts[e->batch->hosts[i]];
			if (hs->failed || hs->unreachable)
				kp_list_push_take(failed, kp_value_str(hs->host->name));
		}
		kp_map_set_take((struct kp_value *)kp_map_get(ctxv, "batch"), "failed", failed);
	}
	struct play_scope ps;
	play_scope_init(e, batch, &ps);
	struct kp_buf msg = KP_BUF_INIT, where = KP_BUF_INIT;
	enum kp_hook_outcome out = run_point(e, 0, point, &h, ctxv, &ps.s, &msg);
	if (point == KP_HOOK_BEFORE_BATCH)
		kp_buf_addf(&where, " before batch %zu/%zu", batch_index, batch_count);
	else if (point == KP_HOOK_AFTER_BATCH)
		kp_buf_addf(&where, " after batch %zu/%zu", batch_index, batch_count);
	if (out == KP_HOOK_FAILED) {
		/* no later batch or play starts: as a max_fail_percentage stop */
		pthread_mutex_lock(&e->lock);
		e->stop_run = true;
		e->stop_play = true;
		free(e->stop_reason);
		struct kp_buf r = KP_BUF_INIT;
		kp_buf_addf(&r, "stopped: %s hook failed%s: %s", kp_hook_names[point],
			    where.len ? where.buf : "", msg.buf);
		e->stop_reason = kp_buf_detach(&r, NULL);
		pthread_mutex_unlock(&e->lock);
	} else if (out == KP_HOOK_SKIPPED) {
		if (point == KP_HOOK_BEFORE_BATCH)
			kp_out_note(&e->out,
				    "hook: batch %zu/%zu skipped by the before_batch hook: %s",
				    batch_index, batch_count, msg.buf);
		else if (point == KP_HOOK_BEFORE_PLAY)
			kp_out_note(&e->out, "hook: play skipped by the before_play hook: %s",
				    msg.buf);
		else
			out = KP_HOOK_OK; /* skip means nothing after the fact */
	}
	kp_buf_release(&msg);
	kp_buf_release(&where);
	kp_value_unref(ps.magic);
	kp_value_unref(ctxv);
	return out;
}

/* A hook failed the host: the result line, the count, on_failure. */
static void fail_host(struct kp_engine *e, int slot, struct kp_hoststate *hs,
		      enum kp_hook_point point, const char *msg, const struct kp_task *t)
{
	struct kp_buf title = KP_BUF_INIT, m = KP_BUF_INIT;
	kp_buf_addf(&title, "%s hook", kp_hook_names[point]);
	kp_buf_addf(&m, "%s hook failed: %s", kp_hook_names[point], msg);
	struct kp_taskresult r = {.host = hs->host->name, .status = KP_ST_FAILED, .msg = m.buf};
	kp_out_host_result(&e->out, title.buf, &r);
	bool was_failed = hs->failed;
	hs->failed = true;
	hs->counts.failed++;
	free(hs->last_failed_task);
	hs->last_failed_task = kp_buf_detach(&title, NULL);
	struct kp_value *res = kp_value_map();
	kp_map_set_take(res, "failed", kp_value_bool(true));
	kp_map_set_take(res, "changed", kp_value_bool(false));
	kp_map_set_take(res, "msg", kp_value_str(m.buf));
	kp_value_unref(hs->last_failed_result);
	hs->last_failed_result = res;
	/* after_task: task.c runs on_failure for the newly failed host */
	if (!was_failed && point != KP_HOOK_AFTER_TASK && point != KP_HOOK_ON_FAILURE)
		kp_hooks_on_failure(e, slot, hs, t, res);
	kp_buf_release(&m);
}

enum kp_hook_outcome kp_hooks_run_host(struct kp_engine *e, int slot, struct kp_hoststate *hs,
				       enum kp_hook_point point)
{
	if (!kp_hooks_any(e->play, point))
		return KP_HOOK_OK;
	struct hctx h = {.e = e,
			 .slot = slot,
			 .self = hs,
			 .host_thread = true,
			 .become = e->play->become,
			 .become_user = e->play->become_user};
	struct kp_value *ctxv = base_ctx(e, kp_hook_names[point], true);
	kp_map_set_take(ctxv, "host", kp_value_str(hs->host->name));
	if (point == KP_HOOK_AFTER_HOST) {
		kp_map_set_take(ctxv, "failed", kp_value_bool(hs->failed));
		kp_map_set_take(ctxv, "unreachable", kp_value_bool(hs->unreachable));
	}
	struct kp_buf msg = KP_BUF_INIT;
	enum kp_hook_outcome out =
	    run_point(e, slot, point, &h, ctxv, hs->hv_ready ? &hs->hv.scope : NULL, &msg);
	if (out == KP_HOOK_FAILED) {
		fail_host(e, slot, hs, point, msg.buf, NULL);
	} else if (out == KP_HOOK_SKIPPED && point == KP_HOOK_BEFORE_HOST) {
		struct kp_buf m = KP_BUF_INIT;
		kp_buf_addf(&m, "skipped by the before_host hook: %s", msg.buf);
		struct kp_taskresult r = {
		    .host = hs->host->name, .status = KP_ST_SKIPPED, .msg = m.buf};
		kp_out_host_result(&e->out, "before_host hook", &r);
		hs->counts.skipped++;
		hs->hook_skipped = true;
		kp_buf_release(&m);
	} else if (out == KP_HOOK_SKIPPED) {
		out = KP_HOOK_OK;
	}
	kp_buf_release(&msg);
	kp_value_unref(ctxv);
	return out;
}

enum kp_hook_outcome kp_hooks_run_task(struct kp_engine *e, int slot, struct kp_hoststate *hs,
				       const struct kp_task *t, const struct kp_taskenv *env,
				       enum kp_hook_point point, const struct kp_value *result,
				       struct kp_buf *msg)
{
	if (!kp_hooks_any(e->play, point))
		return KP_HOOK_OK;
	/* a become template that fails to render: the play's */
	enum kp_tristate become = KP_UNSET;
	struct kp_buf berr = KP_BUF_INIT;
	if (kp_task_become(e->L[slot], &hs->hv.scope, t, env, &become, &berr))
		become = e->play->become;
	kp_buf_release(&berr);
	struct hctx h = {.e = e,
			 .slot = slot,
			 .self = hs,
			 .host_thread = true,
			 .become = become,
			 .become_user = t->become_user ? t->become_user : env->become_user};
	struct kp_value *ctxv = base_ctx(e, kp_hook_names[point], true);
	kp_map_set_take(ctxv, "host", kp_value_str(hs->host->name));
	kp_map_set_take(ctxv, "task", task_value(e, slot, hs, t, env));
	if (point == KP_HOOK_AFTER_TASK)
		kp_map_set_take(ctxv, "result", result_value(result, t->no_log || env->no_log));
	struct kp_buf m = KP_BUF_INIT;
	enum kp_hook_outcome out =
	    run_point(e, slot, point, &h, ctxv, hs->hv_ready ? &hs->hv.scope : NULL, &m);
	if (point == KP_HOOK_AFTER_TASK) {
		if (out == KP_HOOK_FAILED)
			fail_host(e, slot, hs, point, m.buf, t);
		else
			out = KP_HOOK_OK;
	}
	if (msg) {
		kp_buf_reset(msg);
		kp_buf_add(msg, m.buf, m.len);
	}
	kp_buf_release(&m);
	kp_value_unref(ctxv);
	return out;
}

void kp_hooks_on_failure(struct kp_engine *e, int slot, struct kp_hoststate *hs,
			 const struct kp_task *t, const struct kp_value *result)
{
	if (!kp_hooks_any(e->play, KP_HOOK_ON_FAILURE))
		return;
	struct hctx h = {.e = e,
			 .slot = slot,
			 .self = hs,
			 .host_thread = true,
			 .become = e->play->become,
			 .become_user = e->play->become_user};
	struct kp_value *ctxv = base_ctx(e, "on_failure", true);
	kp_map_set_take(ctxv, "host", kp_value_str(hs->host->name));
	if (t)
		kp_map_set_take(ctxv, "task", task_value(e, slot, hs, t, NULL));
	if (result)
		kp_map_set_take(ctxv, "result",
				result_value(result, t && (t->no_log || t->no_log_t)));
	struct kp_buf msg = KP_BUF_INIT;
	if (run_point(e, slot, KP_HOOK_ON_FAILURE, &h, ctxv, hs->hv_ready ? &hs->hv.scope : NULL,
		      &msg) == KP_HOOK_FAILED)
		/* the host has failed already: say so, nothing more */
		kp_out_note(&e->out, "hook: on_failure hook failed for %s: %s", hs->host->name,
			    msg.buf);
	kp_buf_release(&msg);
	kp_value_unref(ctxv);
}

/* ---- the lua module's step ------------------------------------------- */

kp_rc kp_lua_step_run(struct kp_modctx *ctx, const struct kp_lua_chunk *ch,
		      enum kp_step_outcome *outcome, struct kp_value **ret, struct kp_buf *msg)
{
	struct kp_task_ectx *tc = ctx->engine_ctx;
	struct kp_engine *e = tc->e;
	const struct kp_play *p = e->play;
	const struct kp_task *t = tc->t;
	struct kp_buf chunk = KP_BUF_INIT;

	chunk_name(ch->path, &t->module_pos, &chunk);
	enum kp_tristate become = KP_UNSET;
	struct kp_buf berr = KP_BUF_INIT;
	if (kp_task_become(e->L[tc->slot], &tc->hs->hv.scope, t, tc->env, &become, &berr))
		become = p->become;
	kp_buf_release(&berr);
	struct hctx h = {.e = e,
			 .slot = tc->slot,
			 .self = tc->hs,
			 .host_thread = true,
			 .become = become,
			 .become_user = t->become_user ? t->become_user : tc->env->become_user};
	struct kp_value *ctxv = base_ctx(e, "lua", true);
	kp_map_set_take(ctxv, "host", kp_value_str(tc->hs->host->name));
	kp_map_set_take(ctxv, "task", task_value(e, tc->slot, tc->hs, t, tc->env));
	if (ch->args)
		kp_map_set(ctxv, "args", ch->args);
	else
		kp_map_set_take(ctxv, "args", kp_value_map());
	struct kp_hookcall c = {
	    .code = ch->code ? ch->code : "",
	    .len = ch->len,
	    .chunkname = chunk.buf,
	    .ctx = ctxv,
	    .vars = ctx->scope,
	    .host = tc->hs->host->name,
	    .check_mode = ctx->check_mode,
	    .max_instructions = p->hook_max_instructions,
	    .max_memory = p->hook_max_memory,
	    .interrupts = e->o->interrupts,
	    .ops = &engine_ops,
	    .ops_ctx = &h,
	};
	kp_hook_call(ctx->L, &c);
	*ret = NULL;
	switch (c.outcome) {
	case KP_HOOK_OK:
		*outcome = KP_STEP_OK;
		*ret = c.ret ? kp_value_ref(c.ret) : NULL;
		break;
	case KP_HOOK_FAILED:
		note_traceback(e, &c.traceback);
		*outcome = KP_STEP_FAILED;
		kp_buf_addstr(msg, c.msg.buf);
		break;
	case KP_HOOK_SKIPPED:
	case KP_HOOK_NOT_RUN:
		*outcome = KP_STEP_SKIPPED;
		kp_buf_addstr(msg, c.msg.buf);
		break;
	}
	kp_hookcall_release(&c);
	kp_value_unref(ctxv);
	kp_buf_release(&chunk);
	return KP_OK;
}
