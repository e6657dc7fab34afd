/*
 * drain.c - cordon, drain and uncordon a Kubernetes node, exactly as
 * `kubectl drain` does (k8s.io/kubectl/pkg/drain: drain.go, filters.go,
 * cordon.go).
 *
 * The pods of the node go through kubectl's filters in kubectl's order,
 * stopping at the first that keeps a pod: skipDeleted (terminating for
 * longer than skip_wait_for_delete_timeout), daemonSet (a DaemonSet's pod:
 * skipped with ignore_daemonsets, else an error; a finished one is removed;
 * one whose DaemonSet is gone is an error, removed with force), mirror
 * (static pods: skipped), localStorage (emptyDir: an error unless
 * delete_emptydir_data; finished ones removed) and unreplicated (no
 * controller: an error unless force; finished ones removed). Any error
 * refuses the drain, naming the pods, before anything is evicted.
 *
 * The probe decides (check mode shows the same decisions); apply cordons,
 * looks again, and evicts every pod at once (the group/version discovery
 * names; deletes when the server has no eviction or disable_eviction): a
 * pod a budget holds (429) is tried again every 5 s, one in a namespace
 * being deleted (403 NamespaceTerminating) is waited for once it is
 * terminating, and each evicted pod is watched (every second) until it is
 * gone, replaced, or terminating past skip_wait_for_delete_timeout; all of
 * it within `timeout` (0: no limit). On failure the node stays cordoned,
 * as kubectl leaves it, unless uncordon_on_failure; the result's evicted,
 * deleted and skipped say what really happened.
 */
#include "kube/kubeapi.h"
#include "modules/kube/kubeutil.h"
#include "modules/module.h"
#include "transport/transport.h"

#include <stdio.h>
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
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "evict pods without a controller, or whose DaemonSet is gone"},
    {.name = "grace_period",
     .type = KP_T_DURATION,
     .help = "termination grace period (default: the pod's own)"},
    {.name = "timeout",
     .type = KP_T_DURATION,
     .def = "5m",
     .help = "give up after this long (0: never)"},
    {.name = "skip_wait_for_delete_timeout",
     .type = KP_T_DURATION,
     .def = "0",
     .help = "pods terminating for longer than this are not waited for (0: all are)"},
    {.name = "pod_selector", .type = KP_T_STR, .help = "label selector of the pods to evict"},
    {.name = "disable_eviction",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "delete pods instead of evicting them (bypasses PodDisruptionBudgets)"},
    {.name = "uncordon_on_failure",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "uncordon the node again when draining it fails (kubectl leaves it cordoned)"},
    {.name = "api",
     .type = KP_T_STR,
     .def = "auto",
     .choices = apis,
     .help = "direct: API from the controller; kubectl: on a control-plane host"},
    {.name = "kubeconfig", .type = KP_T_PATH, .help = "kubeconfig on the controller"},
    {0},
};

/* kubectl's words (filters.go), with kplan's argument names for its flags */
#define DAEMONSET_FATAL	  "DaemonSet-managed Pods (use ignore_daemonsets: true to ignore)"
#define DAEMONSET_WARNING "ignoring DaemonSet-managed Pods"
#define LOCAL_FATAL	  "Pods with local storage (use delete_emptydir_data: true to override)"
#define LOCAL_WARNING	  "deleting Pods with local storage"
#define UNMANAGED_FATAL	  "cannot delete Pods that declare no controller (use force: true to override)"
#define UNMANAGED_WARNING "deleting Pods that declare no controller"

#define RETRY_429_MS 5000 /* kubectl's "will retry after 5s" */
#define WAIT_POLL_MS 1000 /* waitForDelete's interval */

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jget(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A filter's verdict (PodDeleteStatus): remove the pod or not, and why. */
enum verdict { V_OKAY, V_SKIP, V_WARNING, V_ERROR };

enum progress {
	G_NONE,	   /* not to be removed */
	G_PENDING, /* to evict (or delete) at next_ms */
	G_WAITING, /* evicted or deleted: waiting for it to go */
	G_DONE,	   /* gone, replaced, or no longer waited for */
	G_FAILED,  /* its error is in the task's message */
};

struct pod {
	char *ns, *name, *uid;
	bool remove;		  /* Delete in kubectl's PodDeleteStatus */
	enum verdict verdict;	  /* of the last filter that ran */
	char *message;		  /* the verdict's message (warning or error) */
	int64_t deletion_ms;	  /* metadata.deletionTimestamp, 0: none */
	enum progress progress;
	int64_t next_ms;
	bool evicted, deleted; /* the API said 2xx to our eviction / deletion */
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
		free(d->pods[i].message);
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

/* metav1.GetControllerOf: the first ownerReference with controller: true */
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

/* RFC 3339 (the API's "2026-12-07T16:43:05Z") in milliseconds, 0 when absent */
static int64_t rfc3339_ms(const char *s)
{
	struct tm tm = {0};
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static int64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* shouldSkipPod: terminating for longer than skip_wait_for_delete_timeout
 * (whole seconds, as kubectl counts them) */
static bool should_skip(const struct kp_modctx *ctx, int64_t deletion_ms)
{
	int64_t skip_s = kp_arg_int(ctx, "skip_wait_for_delete_timeout") / 1000;
	return skip_s > 0 && deletion_ms && (realtime_ms() - deletion_ms) / 1000 > skip_s;
}

static void verdict(struct pod *p, bool remove, enum verdict v, const char *msg)
{
	p->remove = remove;
	p->verdict = v;
	free(p->message);
	p->message = msg ? kp_xstrdup(msg) : NULL;
}

/* daemonSetFilter: a DaemonSet's pod (by the controller's kind, as kubectl
 * checks it), unless finished; its DaemonSet is looked up (apps/v1). */
static kp_rc daemonset_filter(const struct kp_modctx *ctx, struct drain *d, const cJSON *item,
			      struct pod *p, struct kp_buf *err)
{
	const cJSON *ctl = controller_of(jget(item, "metadata"));
	const char *kind = ctl ? jstr(ctl, "kind") : NULL, *phase = jstr(jget(item, "status"), "phase");
	if (!kind || strcmp(kind, "DaemonSet")) {
		verdict(p, true, V_OKAY, NULL);
		return KP_OK;
	}
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
		verdict(p, true, V_OKAY, NULL);
		return KP_OK;
	}
	struct kp_buf path = KP_BUF_INIT;
	long status = 0;
	cJSON *ds = NULL;
	kp_buf_addf(&path, "/apis/apps/v1/namespaces/%s/daemonsets/%s", p->ns,
		    jstr(ctl, "name") ? jstr(ctl, "name") : "");
	kp_rc rc = kp_kube_request(d->kube, "GET", path.buf, NULL, NULL, &status, &ds, err);
	kp_buf_release(&path);
	if (rc)
		return rc;
	if (status < 200 || status > 299) {
		/* the API's own words: daemonsets.apps "x" not found */
		const char *m = kp_kube_status_message(ds);
		if (status == 404 && kp_arg_bool(ctx, "force"))
			verdict(p, true, V_WARNING, m);
		else
			verdict(p, false, V_ERROR, m);
	} else if (!kp_arg_bool(ctx, "ignore_daemonsets")) {
		verdict(p, false, V_ERROR, DAEMONSET_FATAL);
	} else {
		verdict(p, false, V_WARNING, DAEMONSET_WARNING);
	}
	cJSON_Delete(ds);
	return KP_OK;
}

/* kubectl's filters in kubectl's order; the first that keeps the pod ends
 * it (makeFilters, GetPodsForDeletion). */
static kp_rc classify(const struct kp_modctx *ctx, struct drain *d, const cJSON *item,
		      struct pod *p, struct kp_buf *err)
{
	const cJSON *md = jget(item, "metadata"), *spec = jget(item, "spec");
	const char *phase = jstr(jget(item, "status"), "phase");
	bool finished = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));

	/* skipDeletedFilter */
	if (should_skip(ctx, p->deletion_ms)) {
		verdict(p, false, V_SKIP, NULL);
		return KP_OK;
	}
	kp_rc rc = daemonset_filter(ctx, d, item, p, err);
	if (rc || !p->remove)
		return rc;
	/* mirrorPodFilter */
	if (jget(jget(md, "annotations"), "kubernetes.io/config.mirror")) {
		verdict(p, false, V_SKIP, NULL);
		return KP_OK;
	}
	/* localStorageFilter */
	if (has_emptydir(spec) && !finished) {
		if (!kp_arg_bool(ctx, "delete_emptydir_data")) {
			verdict(p, false, V_ERROR, LOCAL_FATAL);
			return KP_OK;
		}
		verdict(p, true, V_WARNING, LOCAL_WARNING);
	} else {
		verdict(p, true, V_OKAY, NULL);
	}
	/* unreplicatedFilter */
	if (finished || controller_of(md))
		verdict(p, true, V_OKAY, NULL);
	else if (kp_arg_bool(ctx, "force"))
		verdict(p, true, V_WARNING, UNMANAGED_WARNING);
	else
		verdict(p, false, V_ERROR, UNMANAGED_FATAL);
	return KP_OK;
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
		p->deletion_ms = rfc3339_ms(jstr(md, "deletionTimestamp"));
		rc = classify(ctx, d, item, p, err);
		if (rc)
			break;
	}
	cJSON_Delete(list);
	return rc;
}

/* "MSG: ns/a, ns/b" for each distinct message of the given verdict, in the
 * order of their first pod, joined by "; " (PodDeleteList's errors() and
 * Warnings(); errors get kubectl's "cannot delete " prefix). */
static size_t by_message(const struct drain *d, enum verdict v, struct kp_buf *out)
{
	size_t groups = 0;
	for (size_t i = 0; i < d->npods; i++) {
		const struct pod *p = &d->pods[i];
		if (p->verdict != v || !p->message)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = d->pods[j].verdict == v && d->pods[j].message &&
			       !strcmp(d->pods[j].message, p->message);
		if (seen)
			continue;
		kp_buf_addf(out, "%s%s%s: ", groups++ ? "; " : "",
			    v == V_ERROR && strncasecmp(p->message, "cannot delete", 13) ? "cannot delete "
											   : "",
			    p->message);
		const char *sep = "";
		for (size_t j = i; j < d->npods; j++) {
			const struct pod *q = &d->pods[j];
			if (q->verdict == v && q->message && !strcmp(q->message, p->message)) {
				kp_buf_addf(out, "%s%s/%s", sep, q->ns, q->name);
				sep = ", ";
			}
		}
	}
	return groups;
}

static bool is_removed(const struct pod *p)
{
	return p->remove;
}
static bool is_kept(const struct pod *p)
{
	return !p->remove && p->verdict != V_ERROR;
}
static bool was_evicted(const struct pod *p)
{
	return p->evicted;
}
static bool was_deleted(const struct pod *p)
{
	return p->deleted;
}

/* "ns/a, ns/b" of the pods that f selects, with a count. */
static size_t pod_names(const struct drain *d, bool (*f)(const struct pod *), struct kp_buf *out)
{
	size_t n = 0;
	for (size_t i = 0; i < d->npods; i++) {
		if (f(&d->pods[i]))
			kp_buf_addf(out, "%s%s/%s", n++ ? ", " : "", d->pods[i].ns, d->pods[i].name);
	}
	return n;
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

/* evicted and deleted: what the API answered 2xx to (in a probe: what the
 * drain would remove); skipped: the pods the filters keep */
static void set_facts(struct kp_modctx *ctx, struct kp_result *res, const struct drain *d,
		      bool pods, bool predicted)
{
	bool del = kp_arg_bool(ctx, "disable_eviction");
	struct kp_value *f = kp_value_map();
	if (predicted) {
		kp_map_set_take(f, "evicted",
				pods && !del ? pod_list_value(d, is_removed) : kp_value_list());
		kp_map_set_take(f, "deleted",
				pods && del ? pod_list_value(d, is_removed) : kp_value_list());
	} else {
		kp_map_set_take(f, "evicted", pod_list_value(d, was_evicted));
		kp_map_set_take(f, "deleted", pod_list_value(d, was_deleted));
	}
	kp_map_set_take(f, "skipped", pods ? pod_list_value(d, is_kept) : kp_value_list());
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

/* The refusal (kubectl's errors), false when nothing refuses. */
static bool refusal(const struct drain *d, struct kp_buf *out)
{
	struct kp_buf e = KP_BUF_INIT;
	bool refused = by_message(d, V_ERROR, &e) > 0;
	if (refused)
		kp_buf_addf(out, "cannot drain node '%s': %s", d->node, e.buf);
	kp_buf_release(&e);
	return refused;
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
		set_facts(ctx, res, d, false, true);
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
	set_facts(ctx, res, d, true, true);
	struct kp_buf why = KP_BUF_INIT;
	bool refused = refusal(d, &why);
	if (refused)
		kp_mod_failf(res, "%s", why.buf);
	kp_buf_release(&why);
	if (refused)
		return KP_OK;
	struct kp_buf ev = KP_BUF_INIT, sk = KP_BUF_INIT, warn = KP_BUF_INIT;
	size_t nev = pod_names(d, is_removed, &ev), nsk = pod_names(d, is_kept, &sk);
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
	if (by_message(d, V_WARNING, &warn))
		kp_buf_addf(&res->msg, "; warning: %s", warn.buf);
	kp_buf_release(&ev);
	kp_buf_release(&sk);
	kp_buf_release(&warn);
	return KP_OK;
}

/* ---- apply ------------------------------------------------------------------------- */

/* After a failure the node stays cordoned, as kubectl leaves it, unless
 * uncordon_on_failure and this task cordoned it; the message says which. */
static void after_failure(struct kp_modctx *ctx, struct kp_result *res, struct drain *d)
{
	struct kp_buf e = KP_BUF_INIT;
	if (!d->cordoned_by_us) {
		if (d->was_cordoned)
			kp_buf_addf(&res->msg,
				    "; node '%s' stays cordoned: it was cordoned before the task",
				    d->node);
		return;
	}
	if (!kp_arg_bool(ctx, "uncordon_on_failure"))
		kp_buf_addf(&res->msg, "; node '%s' left cordoned", d->node);
	else if (kp_kube_set_unschedulable(d->kube, d->node, false, &e))
		kp_buf_addf(&res->msg, "; uncordoning node '%s' failed too: %s", d->node, e.buf);
	else
		kp_buf_addf(&res->msg, "; node '%s' uncordoned again (uncordon_on_failure)",
			    d->node);
	kp_buf_release(&e);
}

/* An error of one pod: kubectl collects them and reports them all. */
static void pod_failed(struct pod *p, struct kp_buf *errs, const char *fmt, const char *what)
{
	p->progress = G_FAILED;
	if (errs->len)
		kp_buf_addstr(errs, "; ");
	kp_buf_addf(errs, fmt, p->name, p->ns);
	kp_buf_addstr(errs, what);
}

/* Whether a Status's causes include `reason` (apierrors.HasStatusCause). */
static bool has_cause(const cJSON *j, const char *reason)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, jget(jget(j, "details"), "causes"))
	{
		const char *r = jstr(c, "reason");
		if (r && !strcmp(r, reason))
			return true;
	}
	return false;
}

/* The Status message, with the first cause's message when there is one
 * (a budget's name and numbers). */
static void answer_text(const cJSON *j, long status, struct kp_buf *out)
{
	const cJSON *c = cJSON_GetArrayItem(jget(jget(j, "details"), "causes"), 0);
	const char *m = kp_kube_status_message(j), *cm = c ? jstr(c, "message") : NULL;
	kp_buf_reset(out);
	kp_buf_addf(out, "%s", *m ? m : "");
	if (!*m)
		kp_buf_addf(out, "the server answered %ld", status);
	if (cm && *cm)
		kp_buf_addf(out, " (%s)", cm);
}

/* One eviction try (evictPods' loop body). */
static void evict_try(struct kp_modctx *ctx, struct drain *d, struct pod *p, int64_t grace_s,
		      int64_t now, bool *refresh, struct kp_buf *last, struct kp_buf *errs)
{
	long status = 0;
	cJSON *j = NULL;
	struct kp_buf e = KP_BUF_INIT;
	if (*refresh) {
		/* errors are ignored: the eviction sorts it out with the old pod */
		if (!kp_kube_get_pod(d->kube, p->ns, p->name, &j, NULL))
			p->deletion_ms =
			    rfc3339_ms(jstr(jget(j, "metadata"), "deletionTimestamp"));
		cJSON_Delete(j);
		j = NULL;
		*refresh = false;
	}
	kp_rc rc = kp_kube_evict(d->kube, p->ns, p->name, grace_s, &status, &j, &e);
	if (rc) {
		pod_failed(p, errs, "error when evicting pods/\"%s\" -n \"%s\": ", e.buf);
	} else if (status >= 200 && status < 300) {
		p->evicted = true;
		p->progress = G_WAITING;
		p->next_ms = now;
	} else if (status == 404) {
		p->progress = G_DONE;
	} else if (status == 429) {
		answer_text(j, status, last);
		p->next_ms = now + RETRY_429_MS;
	} else if (status == 403 && has_cause(j, "NamespaceTerminating")) {
		answer_text(j, status, last);
		if (p->deletion_ms) { /* terminating already: wait for it */
			p->progress = G_WAITING;
			p->next_ms = now;
		} else { /* until the namespace controller deletes it */
			*refresh = true;
			p->next_ms = now + RETRY_429_MS;
		}
	} else {
		answer_text(j, status, &e);
		pod_failed(p, errs, "error when evicting pods/\"%s\" -n \"%s\": ", e.buf);
	}
	cJSON_Delete(j);
	kp_buf_release(&e);
	(void)ctx;
}

/* One look at an evicted or deleted pod (waitForDelete). */
static void wait_try(struct kp_modctx *ctx, struct drain *d, struct pod *p, int64_t now,
		     struct kp_buf *errs)
{
	cJSON *j = NULL;
	struct kp_buf e = KP_BUF_INIT;
	kp_rc rc = kp_kube_get_pod(d->kube, p->ns, p->name, &j, &e);
	const char *uid = rc ? NULL : jstr(jget(j, "metadata"), "uid");
	if (rc == KP_ERR_NOTFOUND || (!rc && uid && strcmp(uid, p->uid))) {
		p->progress = G_DONE;
	} else if (rc) {
		pod_failed(p, errs, "error when waiting for pod \"%s\" in \"%s\" terminating: ",
			   e.buf);
	} else {
		p->deletion_ms = rfc3339_ms(jstr(jget(j, "metadata"), "deletionTimestamp"));
		if (should_skip(ctx, p->deletion_ms))
			p->progress = G_DONE; /* "has DeletionTimestamp older than N seconds" */
		else
			p->next_ms = now + WAIT_POLL_MS;
	}
	cJSON_Delete(j);
	kp_buf_release(&e);
}

/* Remove the pods the filters let go, all at once, within the deadline
 * (deleteOrEvictPods). Fails the task with every pod's error. */
static void remove_pods(struct kp_modctx *ctx, struct kp_result *res, struct drain *d,
			int64_t deadline)
{
	int64_t grace_s = kp_arg(ctx, "grace_period") ? kp_arg_int(ctx, "grace_period") / 1000 : -1;
	bool del = kp_arg_bool(ctx, "disable_eviction");
	struct kp_buf errs = KP_BUF_INIT, e = KP_BUF_INIT, tmo = KP_BUF_INIT;
	struct kp_buf *last = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*last));
	bool *refresh = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*refresh));
	kp_mod_duration_text(kp_arg_int(ctx, "timeout"), &tmo);

	const struct kp_kube_api *api = NULL;
	if (!del && kp_kube_discover(d->kube, &api, &e)) {
		kp_mod_failf(res, "draining node '%s': %s", d->node, e.buf);
		goto out;
	}
	if (!del && !*api->eviction)
		del = true; /* no eviction on this server: kubectl deletes */
	for (size_t i = 0; i < d->npods; i++) {
		struct pod *p = &d->pods[i];
		p->progress = p->remove ? G_PENDING : G_NONE;
		p->next_ms = 0;
		if (!p->remove || !del)
			continue;
		long status = 0;
		cJSON *j = NULL;
		kp_buf_reset(&e);
		kp_rc rc = kp_kube_delete_pod(d->kube, p->ns, p->name, grace_s, &status, &j, &e);
		if (!rc && status >= 200 && status < 300) {
			p->deleted = true;
			p->progress = G_WAITING;
		} else if (!rc && status == 404) {
			p->progress = G_DONE;
		} else {
			if (!rc)
				answer_text(j, status, &e);
			cJSON_Delete(j);
			/* deletePods stops at the first error */
			pod_failed(p, &errs, "error when deleting pod \"%s\" in \"%s\": ", e.buf);
			goto report;
		}
		cJSON_Delete(j);
	}
	for (;;) {
		int64_t now = kp_now_ms(), wake = now + WAIT_POLL_MS;
		size_t active = 0;
		for (size_t i = 0; i < d->npods; i++) {
			struct pod *p = &d->pods[i];
			if (p->progress == G_PENDING && p->next_ms <= now)
				evict_try(ctx, d, p, grace_s, now, &refresh[i], &last[i], &errs);
			else if (p->progress == G_WAITING && p->next_ms <= now)
				wait_try(ctx, d, p, now, &errs);
			if (p->progress == G_PENDING || p->progress == G_WAITING) {
				active++;
				if (p->next_ms < wake)
					wake = p->next_ms;
			}
		}
		if (!active)
			break;
		now = kp_now_ms();
		if (now >= deadline) {
			for (size_t i = 0; i < d->npods; i++) {
				struct pod *p = &d->pods[i];
				kp_buf_reset(&e);
				kp_buf_addf(&e, "global timeout reached: %s", tmo.buf);
				if (last[i].len)
					kp_buf_addf(&e, " (last answer: %s)", last[i].buf);
				if (p->progress == G_PENDING)
					pod_failed(p, &errs,
						   "error when evicting pods/\"%s\" -n \"%s\": ",
						   e.buf);
				else if (p->progress == G_WAITING)
					pod_failed(
					    p, &errs,
					    "error when waiting for pod \"%s\" in \"%s\" terminating: ",
					    e.buf);
			}
			break;
		}
		int64_t until = wake < deadline ? wake : deadline;
		if (until > now)
			kp_sleep_ms(until - now);
	}
report:
	if (errs.len)
		kp_mod_failf(res, "draining node '%s': %s", d->node, errs.buf);
out:
	for (size_t i = 0; i < d->npods; i++)
		kp_buf_release(&last[i]);
	free(last);
	free(refresh);
	kp_buf_release(&errs);
	kp_buf_release(&e);
	kp_buf_release(&tmo);
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct drain *d = ctx->state;
	const char *state = kp_arg_str(ctx, "state");
	struct kp_buf e = KP_BUF_INIT;
	int64_t timeout = kp_arg_int(ctx, "timeout");
	int64_t deadline = timeout > 0 ? kp_now_ms() + timeout : INT64_MAX;

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
	kp_rc rc = list_pods(ctx, d, &e);
	set_facts(ctx, res, d, !rc, false);
	if (rc) {
		kp_mod_failf(res, "cannot list the pods of node '%s': %s", d->node, e.buf);
		kp_buf_release(&e);
		res->changed = d->cordoned_by_us;
		after_failure(ctx, res, d);
		return KP_OK;
	}
	struct kp_buf why = KP_BUF_INIT;
	if (refusal(d, &why)) {
		kp_mod_failf(res, "%s", why.buf);
		kp_buf_release(&why);
		res->changed = d->cordoned_by_us;
		after_failure(ctx, res, d);
		return KP_OK;
	}
	kp_buf_release(&why);
	remove_pods(ctx, res, d, deadline);
	set_facts(ctx, res, d, true, false);
	struct kp_buf ev = KP_BUF_INIT, dl = KP_BUF_INIT;
	size_t nev = pod_names(d, was_evicted, &ev), ndl = pod_names(d, was_deleted, &dl);
	if (res->failed) {
		/* what happened before the failure happened */
		res->changed = d->cordoned_by_us || nev || ndl;
		if (nev)
			kp_buf_addf(&res->msg, "; evicted before that: %s", ev.buf);
		if (ndl)
			kp_buf_addf(&res->msg, "; deleted before that: %s", dl.buf);
		after_failure(ctx, res, d);
	} else {
		res->changed = true;
		kp_buf_reset(&res->msg);
		kp_buf_addf(&res->msg, "%s node '%s'",
			    d->cordoned_by_us ? "cordoned and drained" : "drained", d->node);
		if (nev)
			kp_buf_addf(&res->msg, ": evicted %zu pod%s (%s)", nev, nev == 1 ? "" : "s",
				    ev.buf);
		if (ndl)
			kp_buf_addf(&res->msg, "%s deleted %zu pod%s (%s)", nev ? ";" : ":", ndl,
				    ndl == 1 ? "" : "s", dl.buf);
	}
	kp_buf_release(&ev);
	kp_buf_release(&dl);
	return KP_OK;
}

const struct kp_module kp_mod_drain = {
    .name = "drain",
    .summary = "cordon, drain and uncordon a node",
    .args = args,
    .probe = probe,
    .apply = apply,
};
