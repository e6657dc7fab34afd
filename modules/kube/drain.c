/*
 * drain.c - cordon, drain and uncordon a Kubernetes node, with the
 * semantics of `kubectl drain`.
 *
 * The probe reads the node and its pods and decides, pod by pod, what a
 * drain would do (evict, delete, skip, or refuse); so check mode shows the
 * same decisions the run makes, and a refusal (pods with emptyDir data or
 * without a controller) happens before anything is cordoned or evicted.
 * Apply cordons, looks again (pods may have landed since the probe),
 * evicts with retries while PodDisruptionBudgets answer 429, and waits
 * for each pod to be gone or replaced.
 *
 * This file also holds what the Kubernetes modules share (kp_mod_kube_open,
 * kp_mod_node_name...): the API client a task uses, direct or kubectl.
 */
#include "kube/kubeapi.h"
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static const char *const states[] = {"drained", "cordoned", "uncordoned", NULL};
static const char *const apis[] = {"auto", "direct", "kubectl", NULL};

static const struct kp_argspec args[] = {
    {.name = "node",
     .type = KP_T_STR,
     .help = "node name (default: the host's node_name var, or its inventory name)"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "drained",
     .choices = states,
     .help = "what the node should be"},
    {.name = "ignore_daemonsets", .type = KP_T_BOOL, .def = "true", .help = "skip DaemonSet pods"},
    {.name = "delete_emptydir_data",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "evict pods with emptyDir volumes (their data is lost)"},
    {.name = "force", .type = KP_T_BOOL, .def = "false", .help = "evict pods without a controller"},
    {.name = "grace_period",
     .type = KP_T_DURATION,
     .help = "termination grace period (default: the pod's own)"},
    {.name = "timeout", .type = KP_T_DURATION, .def = "5m", .help = "give up after this long"},
    {.name = "pod_selector", .type = KP_T_STR, .help = "label selector of the pods to evict"},
    {.name = "disable_eviction",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "delete pods instead of evicting them (bypasses PodDisruptionBudgets)"},
    {.name = "uncordon_on_failure",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "uncordon again when draining fails"},
    {.name = "api",
     .type = KP_T_STR,
     .def = "auto",
     .choices = apis,
     .help = "direct: API from the controller; kubectl: on a control-plane host"},
    {.name = "kubeconfig", .type = KP_T_PATH, .help = "kubeconfig on the controller"},
    {0},
};

/* ---- shared by the Kubernetes modules ---------------------------------------- */

const struct kp_value *kp_mod_var(const struct kp_modctx *ctx, const char *name)
{
	const struct kp_scope *s = ctx->scope;
	for (size_t i = s ? s->nlayers : 0; i-- > 0;) {
		const struct kp_value *v = s->layers[i] ? kp_map_get(s->layers[i], name) : NULL;
		if (v)
			return v;
	}
	return NULL;
}

const char *kp_mod_node_name(const struct kp_modctx *ctx, const char *arg)
{
	const char *n = kp_arg_str(ctx, arg);
	const struct kp_value *v = kp_mod_var(ctx, "node_name");
	if (n && *n)
		return n;
	if (v && v->type == KP_V_STR && v->u.str.len)
		return v->u.str.s;
	return ctx->host;
}

const char *kp_mod_first_control_plane(const struct kp_modctx *ctx)
{
	const struct kp_value *g = kp_mod_var(ctx, "groups");
	const struct kp_value *l =
	    g && g->type == KP_V_MAP ? kp_map_get(g, "kube_control_plane") : NULL;
	if (!l || l->type != KP_V_LIST || !kp_list_len(l))
		return NULL;
	const struct kp_value *h = kp_list_at(l, 0);
	return h->type == KP_V_STR ? h->u.str.s : NULL;
}

/* What a kubectl client needs to run its commands through the engine. */
struct kubectl_via {
	struct kp_modctx *ctx;
	struct kp_result *res;
};

static kp_rc via_control_plane(void *arg, const struct kp_exec_req *req, struct kp_exec_res *r,
			       struct kp_buf *err)
{
	struct kubectl_via *v = arg;
	const char *cp = kp_mod_first_control_plane(v->ctx);
	kp_buf_addf(&v->res->cmds, "[%s] ", cp ? cp : "kube_control_plane");
	kp_mod_join_words(req->argv, &v->res->cmds);
	kp_buf_addch(&v->res->cmds, '\n');
	kp_rc rc = v->ctx->control_plane_exec(v->ctx, req, r, err);
	/* the control-plane host being unreachable is not this host's fault */
	return rc == KP_ERR_UNREACHABLE ? KP_ERR_IO : rc;
}

#define CP_KUBECONFIG "/etc/kubernetes/admin.conf"

kp_rc kp_mod_kubeconfig_find(const struct kp_modctx *ctx, const char *arg, const char *env,
			     const char *home, struct kp_buf *path, struct kp_buf *err)
{
	char *ap = arg && *arg ? kp_mod_local_path(ctx, arg) : NULL;
	const char *given = ap ? ap : ctx->kubeconfig && *ctx->kubeconfig ? ctx->kubeconfig : NULL;
	kp_rc rc = kp_kubeconfig_find(given, env, home, path, err);
	free(ap);
	return rc;
}

kp_rc kp_mod_kube_open(struct kp_modctx *ctx, struct kp_result *res, struct kp_kube **out,
		       struct kp_buf *err)
{
	const char *api = kp_arg_str(ctx, "api");
	struct kp_buf path = KP_BUF_INIT, e = KP_BUF_INIT;
	struct kp_kubeconfig *kc = NULL;

	*out = NULL;
	if (!api)
		api = "direct";
	if (strcmp(api, "kubectl")) {
		kp_rc rc = kp_mod_kubeconfig_find(ctx, kp_arg_str(ctx, "kubeconfig"),
						  getenv("KUBECONFIG"), getenv("HOME"), &path, &e);
		if (!rc)
			rc = kp_kubeconfig_load(path.buf, &kc, &e);
		if (!rc)
			rc = kp_kube_new(kc, out, &e);
		kp_kubeconfig_free(kc);
		/* only "no kubeconfig anywhere" falls back; a named one that
		 * does not work is an error (a given file is never NOTFOUND) */
		if (rc != KP_ERR_NOTFOUND || !strcmp(api, "direct")) {
			if (rc)
				kp_mod_failf(res, "%s", e.buf);
			goto out;
		}
		/* auto without a kubeconfig on the controller: kubectl */
	}
	if (!ctx->control_plane_exec) {
		if (!strcmp(api, "kubectl"))
			kp_mod_failf(res, "api: kubectl needs the connection to the first host of "
					  "kube_control_plane, which this run does not provide");
		else
			kp_mod_failf(res,
				     "%s, and api: kubectl is not available in this run "
				     "(give the kubeconfig argument or --kubeconfig, or set "
				     "$KUBECONFIG)",
				     e.buf);
		goto out;
	}
	if (!kp_mod_first_control_plane(ctx)) {
		kp_mod_failf(res, "api: kubectl runs kubectl on the first host of "
				  "kube_control_plane, but that group is empty or missing");
		goto out;
	}
	struct kubectl_via *v = kp_xcalloc(1, sizeof(*v));
	v->ctx = ctx;
	v->res = res;
	*out = kp_kube_new_kubectl(via_control_plane, v, CP_KUBECONFIG);
out:
	kp_buf_release(&path);
	kp_buf_release(&e);
	return KP_OK;
}

void kp_mod_kube_close(struct kp_kube *k)
{
	if (!k)
		return;
	void *arg = kp_kube_exec_arg(k);
	kp_kube_free(k);
	free(arg);
}

/* ---- pods -------------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jget(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

enum pod_action {
	P_EVICT, /* evict (or delete with disable_eviction) */
	P_SKIP,	 /* mirror or DaemonSet pod: left alone */
	P_BLOCK, /* refuses the drain (see the block_* flags) */
};

struct pod {
	char *ns, *name, *uid;
	enum pod_action action;
	const char *skip_why;			/* "mirror pod", "DaemonSet" */
	bool block_local, block_bare, block_ds; /* why it blocks */
	cJSON *labels;				/* owned copy, for matching budgets */
	char *pdb;				/* the budget blocking it, once looked up */
	bool done, gone;
};

struct drain {
	struct kp_kube *kube;
	const char *node;
	bool was_cordoned, cordoned_by_us;
	struct pod *pods;
	size_t npods, cap;
};

static void pods_clear(struct drain *d)
{
	for (size_t i = 0; i < d->npods; i++) {
		free(d->pods[i].ns);
		free(d->pods[i].name);
		free(d->pods[i].uid);
		free(d->pods[i].pdb);
		cJSON_Delete(d->pods[i].labels);
	}
	d->npods = 0;
}

static void drain_free(void *p)
{
	struct drain *d = p;
	pods_clear(d);
	free(d->pods);
	kp_mod_kube_close(d->kube);
	free(d);
}

/* The pod's controller (ownerReferences with controller: true), or NULL. */
static const cJSON *controller_of(const cJSON *md)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, jget(md, "ownerReferences"))
	{
		if (cJSON_IsTrue(jget(r, "controller")))
			return r;
	}
	return NULL;
}

static bool has_emptydir(const cJSON *spec)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, jget(spec, "volumes"))
	{
		if (jget(v, "emptyDir"))
			return true;
	}
	return false;
}

/* kubectl drain's filters, in its order: DaemonSet, mirror, local
 * storage, unreplicated. Finished pods never block. */
static void classify(const struct kp_modctx *ctx, const cJSON *item, struct pod *p)
{
	const cJSON *md = jget(item, "metadata"), *spec = jget(item, "spec");
	const char *phase = jstr(jget(item, "status"), "phase");
	bool finished = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));
	const cJSON *ctl = controller_of(md);
	const char *kind = ctl ? jstr(ctl, "kind") : NULL;

	p->action = P_EVICT;
	if (kind && !strcmp(kind, "DaemonSet")) {
		if (kp_arg_bool(ctx, "ignore_daemonsets")) {
			p->action = P_SKIP;
			p->skip_why = "DaemonSet";
		} else {
			p->action = P_BLOCK;
			p->block_ds = true;
		}
		return;
	}
	if (jstr(jget(md, "annotations"), "kubernetes.io/config.mirror")) {
		p->action = P_SKIP;
		p->skip_why = "mirror pod";
		return;
	}
	if (finished)
		return;
	if (has_emptydir(spec) && !kp_arg_bool(ctx, "delete_emptydir_data")) {
		p->action = P_BLOCK;
		p->block_local = true;
	}
	if (!ctl && !kp_arg_bool(ctx, "force")) {
		p->action = P_BLOCK;
		p->block_bare = true;
	}
}

static kp_rc list_pods(struct kp_modctx *ctx, struct drain *d, struct kp_buf *err)
{
	cJSON *list = NULL, *item;
	kp_rc rc = kp_kube_list_pods(d->kube, d->node, kp_arg_str(ctx, "pod_selector"), &list, err);
	if (rc)
		return rc;
	pods_clear(d);
	cJSON_ArrayForEach(item, jget(list, "items"))
	{
		const cJSON *md = jget(item, "metadata");
		const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
		if (!name)
			continue;
		KP_GROW(d->pods, d->npods + 1, d->cap);
		struct pod *p = &d->pods[d->npods++];
		memset(p, 0, sizeof(*p));
		p->ns = kp_xstrdup(ns ? ns : "default");
		p->name = kp_xstrdup(name);
		p->uid = kp_xstrdup(jstr(md, "uid") ? jstr(md, "uid") : "");
		p->labels = cJSON_Duplicate(jget(md, "labels"), true);
		classify(ctx, item, p);
	}
	cJSON_Delete(list);
	return KP_OK;
}

/* "ns/a, ns/b" of the pods that f selects, with a count. */
static size_t pod_names(const struct drain *d, bool (*f)(const struct pod *), bool why,
			struct kp_buf *out)
{
	size_t n = 0;
	for (size_t i = 0; i < d->npods; i++) {
		const struct pod *p = &d->pods[i];
		if (!f(p))
			continue;
		kp_buf_addf(out, "%s%s/%s", n++ ? ", " : "", p->ns, p->name);
		if (why && p->skip_why)
			kp_buf_addf(out, " (%s)", p->skip_why);
	}
	return n;
}

static bool is_evict(const struct pod *p)
{
	return p->action == P_EVICT;
}
static bool is_skip(const struct pod *p)
{
	return p->action == P_SKIP;
}
static bool is_local(const struct pod *p)
{
	return p->block_local;
}
static bool is_bare(const struct pod *p)
{
	return p->block_bare;
}
static bool is_ds(const struct pod *p)
{
	return p->block_ds;
}

/* The refusal, naming the pods; false when nothing blocks. */
static bool refusal(const struct drain *d, struct kp_buf *out)
{
	static const struct {
		bool (*f)(const struct pod *);
		const char *what;
	} kinds[] = {
	    {is_ds, "DaemonSet pods need ignore_daemonsets"},
	    {is_local, "pods with local storage (emptyDir) need delete_emptydir_data"},
	    {is_bare, "pods without a controller need force"},
	};
	size_t before = out->len;
	kp_buf_addf(out, "cannot drain node '%s': ", d->node);
	size_t head = out->len;
	for (size_t i = 0; i < KP_ARRAY_LEN(kinds); i++) {
		struct kp_buf names = KP_BUF_INIT;
		if (pod_names(d, kinds[i].f, false, &names))
			kp_buf_addf(out, "%s%s: %s", out->len > head ? "; " : "", kinds[i].what,
				    names.buf);
		kp_buf_release(&names);
	}
	if (out->len == head) {
		kp_buf_setlen(out, before);
		return false;
	}
	return true;
}

static struct kp_value *pod_list_value(const struct drain *d, bool (*f)(const struct pod *))
{
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; d && i < d->npods; i++) {
		if (!f(&d->pods[i]))
			continue;
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b, "%s/%s", d->pods[i].ns, d->pods[i].name);
		size_t len;
		char *s = kp_buf_detach(&b, &len);
		kp_list_push_take(l, kp_value_str_take(s, len));
	}
	return l;
}

static void set_facts(struct kp_modctx *ctx, struct kp_result *res, const struct drain *d,
		      bool pods)
{
	bool del = kp_arg_bool(ctx, "disable_eviction");
	struct kp_value *f = kp_value_map();
	kp_map_set_take(f, "evicted", pods && !del ? pod_list_value(d, is_evict) : kp_value_list());
	kp_map_set_take(f, "deleted", pods && del ? pod_list_value(d, is_evict) : kp_value_list());
	kp_map_set_take(f, "skipped", pods ? pod_list_value(d, is_skip) : kp_value_list());
	kp_map_set_take(f, "was_cordoned", kp_value_bool(d->was_cordoned));
	/* for the run journal: which node, and what the task asked of it */
	if (d->node)
		kp_map_set_take(f, "node", kp_value_str(d->node));
	kp_map_set_take(f, "state", kp_value_str(kp_arg_str(ctx, "state")));
	kp_map_set_take(f, "uncordon_on_failure",
			kp_value_bool(kp_arg_bool(ctx, "uncordon_on_failure")));
	kp_value_unref(res->facts);
	res->facts = f;
}

/* Check mode across tasks: a probe that says it would cordon the node (a
 * drain or a cordon) records that in the host variable kplan_check_cordoned
 * (node name -> true), so that an uncordon later in the same check predicts
 * the uncordon the run will do rather than "already uncordoned". Only check
 * mode sets it: in a run the node really is cordoned by then. */
#define CHECK_CORDONED "kplan_check_cordoned"

static bool check_cordoned(const struct kp_modctx *ctx, const char *node)
{
	const struct kp_value *m = ctx->check_mode ? kp_mod_var(ctx, CHECK_CORDONED) : NULL;
	const struct kp_value *v = m && m->type == KP_V_MAP ? kp_map_get(m, node) : NULL;
	return v && v->type == KP_V_BOOL && v->u.b;
}

static void check_note_cordon(struct kp_modctx *ctx, struct kp_result *res, const char *node,
			      bool cordoned)
{
	if (!ctx->check_mode)
		return;
	const struct kp_value *m = kp_mod_var(ctx, CHECK_CORDONED);
	struct kp_value *n = m && m->type == KP_V_MAP ? kp_value_copy(m) : kp_value_map();
	kp_map_set_take(n, node, kp_value_bool(cordoned));
	kp_value_unref(res->set_vars);
	res->set_vars = kp_value_map();
	kp_map_set_take(res->set_vars, CHECK_CORDONED, n);
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct drain *d = kp_xcalloc(1, sizeof(*d));
	const char *state = kp_arg_str(ctx, "state");
	struct kp_buf e = KP_BUF_INIT;
	cJSON *node = NULL;
	kp_rc rc = KP_OK;

	ctx->state = d;
	ctx->free_state = drain_free;
	d->node = kp_mod_node_name(ctx, "node");
	kp_mod_kube_open(ctx, res, &d->kube, err);
	if (!d->kube)
		return KP_OK;
	rc = kp_kube_get_node(d->kube, d->node, &node, &e);
	if (rc) {
		kp_mod_failf(res,
			     rc == KP_ERR_NOTFOUND ? "node '%s' not found (%s)" : "node '%s': %s",
			     d->node, e.buf);
		kp_buf_release(&e);
		return KP_OK;
	}
	d->was_cordoned = cJSON_IsTrue(jget(jget(node, "spec"), "unschedulable"));
	cJSON_Delete(node);
	kp_buf_reset(&res->msg);

	if (!strcmp(state, "cordoned") || !strcmp(state, "uncordoned")) {
		bool want = !strcmp(state, "cordoned");
		bool earlier = !want && !d->was_cordoned && check_cordoned(ctx, d->node);
		set_facts(ctx, res, d, false);
		res->changed = want != (d->was_cordoned || earlier);
		if (!res->changed)
			kp_buf_addf(&res->msg, "node '%s' is already %s", d->node, state);
		else
			kp_buf_addf(&res->msg, "would %s node '%s'%s", want ? "cordon" : "uncordon",
				    d->node,
				    earlier ? " (an earlier task of this check would cordon it)"
					    : "");
		if (res->changed)
			check_note_cordon(ctx, res, d->node, want);
		return KP_OK;
	}

	rc = list_pods(ctx, d, &e);
	if (rc) {
		kp_mod_failf(res, "cannot list the pods of node '%s': %s", d->node, e.buf);
		kp_buf_release(&e);
		return KP_OK;
	}
	set_facts(ctx, res, d, true);
	struct kp_buf why = KP_BUF_INIT;
	bool refused = refusal(d, &why);
	if (refused)
		kp_mod_failf(res, "%s", why.buf);
	kp_buf_release(&why);
	if (refused)
		return KP_OK;
	struct kp_buf ev = KP_BUF_INIT, sk = KP_BUF_INIT;
	size_t nev = pod_names(d, is_evict, false, &ev), nsk = pod_names(d, is_skip, true, &sk);
	res->changed = !d->was_cordoned || nev;
	if (!d->was_cordoned)
		check_note_cordon(ctx, res, d->node, true);
	if (!res->changed) {
		kp_buf_addf(&res->msg, "node '%s' is cordoned and has no pods to evict", d->node);
	} else {
		if (!d->was_cordoned)
			kp_buf_addf(&res->msg, "would cordon node '%s'%s", d->node,
				    nev ? " and" : "");
		else
			kp_buf_addf(&res->msg, "node '%s' is cordoned; would", d->node);
		if (nev)
			kp_buf_addf(&res->msg, " %s %zu pod%s: %s",
				    kp_arg_bool(ctx, "disable_eviction") ? "delete" : "evict", nev,
				    nev == 1 ? "" : "s", ev.buf);
	}
	if (nsk)
		kp_buf_addf(&res->msg, "; skip %zu: %s", nsk, sk.buf);
	kp_buf_release(&ev);
	kp_buf_release(&sk);
	return KP_OK;
}

/* ---- apply ------------------------------------------------------------------------- */

/* The budget that selects the pod: "ns/name", or NULL when none matches
 * (or they cannot be listed: the 429's own message then has to do). */
static char *find_pdb(struct drain *d, const struct pod *p)
{
	cJSON *list = NULL, *b;
	struct kp_buf e = KP_BUF_INIT;
	char *found = NULL;
	if (kp_kube_list_pdbs(d->kube, p->ns, &list, &e)) {
		kp_buf_release(&e);
		return NULL;
	}
	cJSON_ArrayForEach(b, jget(list, "items"))
	{
		const cJSON *sel = jget(jget(b, "spec"), "selector");
		const char *name = jstr(jget(b, "metadata"), "name");
		/* a budget without a selector selects nothing in v1beta1 and
		 * everything in v1; a missing one is rare enough to skip */
		if (!name || !sel || !kp_kube_selector_matches(sel, p->labels))
			continue;
		struct kp_buf n = KP_BUF_INIT;
		kp_buf_addf(&n, "%s/%s", p->ns, name);
		found = kp_buf_detach(&n, NULL);
		break;
	}
	cJSON_Delete(list);
	kp_buf_release(&e); /* may hold the policy/v1 404 before v1beta1 answered */
	return found;
}

/* Undo our cordon after a failure, as uncordon_on_failure says, and say so
 * at the end of the message. */
static void after_failure(struct kp_modctx *ctx, struct kp_result *res, struct drain *d)
{
	struct kp_buf e = KP_BUF_INIT;
	if (!d->cordoned_by_us)
		return;
	if (d->was_cordoned) {
		kp_buf_addf(&res->msg,
			    "; node '%s' stays cordoned: it was cordoned before the task", d->node);
	} else if (!kp_arg_bool(ctx, "uncordon_on_failure")) {
		kp_buf_addf(&res->msg, "; node '%s' left cordoned (uncordon_on_failure is false)",
			    d->node);
	} else if (kp_kube_set_unschedulable(d->kube, d->node, false, &e)) {
		kp_buf_addf(&res->msg, "; uncordoning node '%s' failed too: %s", d->node, e.buf);
	} else {
		kp_buf_addf(&res->msg, "; node '%s' uncordoned again", d->node);
	}
	kp_buf_release(&e);
}

/* One eviction (or deletion) try: 1 done, 0 blocked (retry), -1 failed
 * (message in why). */
static int evict_one(struct kp_modctx *ctx, struct drain *d, struct pod *p, int64_t grace_s,
		     struct kp_buf *why)
{
	long status = 0;
	cJSON *j = NULL;
	struct kp_buf e = KP_BUF_INIT;
	bool del = kp_arg_bool(ctx, "disable_eviction");
	kp_rc rc = del ? kp_kube_delete_pod(d->kube, p->ns, p->name, grace_s, &status, &j, &e)
		       : kp_kube_evict(d->kube, p->ns, p->name, grace_s, &status, &j, &e);
	int r = -1;
	kp_buf_reset(why);
	if (rc) {
		kp_buf_addf(why, "%s %s/%s: %s", del ? "deleting" : "evicting", p->ns, p->name,
			    e.buf);
	} else if ((status >= 200 && status < 300) || status == 404) {
		r = 1;
		p->gone = status == 404;
	} else if (status == 429 && !del) {
		if (!p->pdb)
			p->pdb = find_pdb(d, p);
		if (p->pdb)
			kp_buf_addf(why,
				    "%s/%s cannot be evicted: PodDisruptionBudget '%s' allows "
				    "no disruption now",
				    p->ns, p->name, p->pdb);
		else
			kp_buf_addf(why, "%s/%s cannot be evicted: %s", p->ns, p->name,
				    kp_kube_status_message(j));
		r = 0;
	} else {
		kp_buf_addf(why, "%s %s/%s answered %ld: %s", del ? "deleting" : "evicting", p->ns,
			    p->name, status, kp_kube_status_message(j));
	}
	cJSON_Delete(j);
	kp_buf_release(&e);
	return r;
}

/* Gone, or replaced by a pod of the same name with a new UID. */
static kp_rc pod_gone(struct drain *d, struct pod *p, bool *gone, struct kp_buf *err)
{
	cJSON *j = NULL;
	kp_rc rc = kp_kube_get_pod(d->kube, p->ns, p->name, &j, err);
	if (rc == KP_ERR_NOTFOUND) {
		*gone = true;
		return KP_OK;
	}
	if (rc)
		return rc;
	const char *uid = jstr(jget(j, "metadata"), "uid");
	*gone = uid && strcmp(uid, p->uid);
	cJSON_Delete(j);
	return KP_OK;
}

#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS	 5000
#define WAIT_POLL_MS	 1000

static kp_rc drain_pods(struct kp_modctx *ctx, struct kp_result *res, struct drain *d,
			int64_t deadline)
{
	int64_t grace_s = kp_arg(ctx, "grace_period") ? kp_arg_int(ctx, "grace_period") / 1000 : -1;
	int64_t backoff = BACKOFF_FIRST_MS;
	struct kp_buf why = KP_BUF_INIT, tmo = KP_BUF_INIT, e = KP_BUF_INIT, blocked = KP_BUF_INIT;
	kp_mod_duration_text(kp_arg_int(ctx, "timeout"), &tmo);

	/* every pending pod once per round: one freed budget may unblock
	 * another pod, and a blocked pod must not hold up the rest */
	for (;;) {
		size_t pending = 0;
		for (size_t i = 0; i < d->npods; i++) {
			struct pod *p = &d->pods[i];
			if (p->action != P_EVICT || p->done)
				continue;
			int r = evict_one(ctx, d, p, grace_s, &why);
			if (r < 0) {
				kp_mod_failf(res, "draining node '%s': %s", d->node, why.buf);
				goto out;
			}
			p->done = r == 1;
			pending += r == 0;
			/* the reason of the last blocked pod: a pod evicted after
			 * it in the same round must not blank the message */
			if (r == 0) {
				kp_buf_reset(&blocked);
				kp_buf_add(&blocked, why.buf, why.len);
			}
		}
		if (!pending)
			break;
		if (kp_now_ms() + backoff > deadline) {
			kp_mod_failf(res, "timed out after %s draining node '%s': %s", tmo.buf,
				     d->node, blocked.buf);
			goto out;
		}
		kp_sleep_ms(backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	for (;;) {
		struct kp_buf left = KP_BUF_INIT;
		for (size_t i = 0; i < d->npods; i++) {
			struct pod *p = &d->pods[i];
			if (p->action != P_EVICT || p->gone)
				continue;
			kp_rc rc = pod_gone(d, p, &p->gone, &e);
			if (rc) {
				kp_mod_failf(res, "waiting for %s/%s to leave node '%s': %s", p->ns,
					     p->name, d->node, e.buf);
				kp_buf_release(&left);
				goto out;
			}
			if (!p->gone)
				kp_buf_addf(&left, "%s%s/%s", left.len ? ", " : "", p->ns, p->name);
		}
		if (!left.len) {
			kp_buf_release(&left);
			break;
		}
		if (kp_now_ms() + WAIT_POLL_MS > deadline) {
			kp_mod_failf(res,
				     "timed out after %s waiting for pods to leave node '%s': %s",
				     tmo.buf, d->node, left.buf);
			kp_buf_release(&left);
			goto out;
		}
		kp_buf_release(&left);
		kp_sleep_ms(WAIT_POLL_MS);
	}
out:
	kp_buf_release(&why);
	kp_buf_release(&blocked);
	kp_buf_release(&tmo);
	kp_buf_release(&e);
	return KP_OK;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct drain *d = ctx->state;
	const char *state = kp_arg_str(ctx, "state");
	struct kp_buf e = KP_BUF_INIT;
	int64_t deadline = kp_now_ms() + kp_arg_int(ctx, "timeout");

	if (!d || !d->kube)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	bool want = strcmp(state, "uncordoned") != 0;
	kp_buf_reset(&res->msg);
	if (want != d->was_cordoned) {
		if (kp_kube_set_unschedulable(d->kube, d->node, want, &e)) {
			kp_mod_failf(res, "cannot %s node '%s': %s", want ? "cordon" : "uncordon",
				     d->node, e.buf);
			kp_buf_release(&e);
			return KP_OK;
		}
		d->cordoned_by_us = want;
	}
	if (strcmp(state, "drained")) {
		kp_buf_addf(&res->msg, "%s node '%s'", want ? "cordoned" : "uncordoned", d->node);
		return KP_OK;
	}
	/* pods scheduled between the probe and the cordon count too */
	if (list_pods(ctx, d, &e)) {
		kp_mod_failf(res, "cannot list the pods of node '%s': %s", d->node, e.buf);
		kp_buf_release(&e);
		after_failure(ctx, res, d);
		return KP_OK;
	}
	set_facts(ctx, res, d, true);
	struct kp_buf why = KP_BUF_INIT;
	if (refusal(d, &why)) {
		kp_mod_failf(res, "%s", why.buf);
		kp_buf_release(&why);
		after_failure(ctx, res, d);
		return KP_OK;
	}
	kp_buf_release(&why);
	drain_pods(ctx, res, d, deadline);
	if (res->failed) {
		after_failure(ctx, res, d);
		return KP_OK;
	}
	res->changed = true;
	struct kp_buf ev = KP_BUF_INIT;
	size_t n = pod_names(d, is_evict, false, &ev);
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "%s node '%s'",
		    d->cordoned_by_us ? "cordoned and drained" : "drained", d->node);
	if (n)
		kp_buf_addf(&res->msg, ": %s %zu pod%s (%s)",
			    kp_arg_bool(ctx, "disable_eviction") ? "deleted" : "evicted", n,
			    n == 1 ? "" : "s", ev.buf);
	kp_buf_release(&ev);
	return KP_OK;
}

/* The journal learns which nodes this run cordoned and uncordoned from
 * the result: a success leaves the node as asked; a failure leaves it
 * cordoned only when the task was told not to uncordon. */
static void leftover(const struct kp_value *result, bool failed, struct kp_leftover *out)
{
	const struct kp_value *node = result ? kp_map_get(result, "node") : NULL;
	const struct kp_value *state = result ? kp_map_get(result, "state") : NULL;
	out->node = NULL;
	if (!node || node->type != KP_V_STR || !state || state->type != KP_V_STR)
		return;
	bool uncordon = !strcmp(state->u.str.s, "uncordoned");
	if (!failed) {
		out->node = node->u.str.s;
		out->cordoned = !uncordon;
		return;
	}
	const struct kp_value *u = kp_map_get(result, "uncordon_on_failure");
	if (!uncordon && u && u->type == KP_V_BOOL && !u->u.b) {
		out->node = node->u.str.s;
		out->cordoned = true;
	}
}

const struct kp_module kp_mod_drain = {
    .name = "drain",
    .summary = "cordon, drain and uncordon a node",
    .args = args,
    .probe = probe,
    .apply = apply,
    .flags = KP_MOD_KUBE,
    .leftover = leftover,
};
