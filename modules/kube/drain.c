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
 * refuses the drain, naming the pods, before anything is evicted; as
 * kubectl does, the node is cordoned first and left cordoned (check mode
 * says it would be; uncordon_on_refusal uncordons it again, as Ansible's
 * k8s_drain does).
 *
 * The probe decides (check mode shows the same decisions); apply cordons,
 * looks again (refusing now if a filter says so), and evicts every pod at
 * once, the requests of all the pods together (the group/version discovery
 * names; deletes when the server has no eviction or disable_eviction): a
 * pod a budget holds (429) is tried again every 5 s, one in a namespace
 * being deleted (403 NamespaceTerminating) is waited for once it is
 * terminating, and each evicted pod is watched (every second) until it is
 * gone, replaced, or terminating past skip_wait_for_delete_timeout; all of
 * it within `timeout` (0: no limit). On failure the node stays cordoned,
 * as kubectl leaves it, unless uncordon_on_failure; the result's evicted,
 * deleted and skipped say what really happened. The result's stdout and
 * stderr have kubectl's lines: node/N cordoned, WARNING: ..., evicting pod
 * NS/NAME, error when evicting ... (will retry after 5s): ..., pod/NAME
 * evicted, node/N drained.
 */
#include "kube/kubeapi.h"
#include "modules/kube/drain.h"
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
    {.name = "uncordon_on_refusal",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "uncordon the node again when kubectl's filters refuse its pods (kubectl leaves "
	     "it cordoned; Ansible's k8s_drain uncordons it)"},
    {.name = "api",
     .type = KP_T_STR,
     .def = "auto",
     .choices = apis,
     .help = "direct: API from the controller; kubectl: on a control-plane host"},
    {.name = "kubeconfig", .type = KP_T_PATH, .help = "kubeconfig on the controller"},
    {0},
};

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
			kp_buf_addf(out, "%s%s/%s", n++ ? ", " : "", d->pods[i].ns,
				    d->pods[i].name);
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
	bool refused = kp_drain_by_message(d, V_ERROR, &e) > 0;
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
	ctx->free_state = kp_drain_free;
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
	d->was_cordoned = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(node, "spec"), "unschedulable"));
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

	rc = kp_drain_list_pods(ctx, d, &e);
	if (rc) {
		kp_mod_failf(res, "cannot list the pods of node '%s': %s", d->node, e.buf);
		kp_buf_release(&e);
		return KP_OK;
	}
	set_facts(ctx, res, d, true, true);
	struct kp_buf why = KP_BUF_INIT;
	bool refused = refusal(d, &why);
	if (refused && !ctx->check_mode && !d->was_cordoned) {
		/* kubectl cordons, then refuses: apply does both */
		res->changed = true;
		kp_buf_addf(&res->msg, "would cordon node '%s', then refuse to drain it: %s",
			    d->node, why.buf);
	} else if (refused) {
		kp_mod_failf(res, "%s", why.buf);
		if (d->was_cordoned) {
			kp_buf_addf(&res->msg,
				    "; node '%s' stays cordoned: it was cordoned before the task",
				    d->node);
		} else if (!kp_arg_bool(ctx, "uncordon_on_refusal")) {
			kp_buf_addf(&res->msg, "; node '%s' would be left cordoned", d->node);
			check_note_cordon(ctx, res, d->node, true);
		} else {
			kp_buf_addf(&res->msg, "; node '%s' would be cordoned and uncordoned again",
				    d->node);
		}
	}
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
	if (kp_drain_by_message(d, V_WARNING, &warn))
		kp_buf_addf(&res->msg, "; warning: %s", warn.buf);
	kp_buf_release(&ev);
	kp_buf_release(&sk);
	kp_buf_release(&warn);
	return KP_OK;
}

/* ---- apply ------------------------------------------------------------------------- */

/* After a failure the node stays cordoned, as kubectl leaves it, unless
 * the argument `arg` says otherwise (uncordon_on_failure, or
 * uncordon_on_refusal after a refusal) and this task cordoned it; the
 * message says which, and the result's uncordoned_again. */
static void after_failure(struct kp_modctx *ctx, struct kp_result *res, struct drain *d,
			  const char *arg)
{
	struct kp_buf e = KP_BUF_INIT;
	if (!d->cordoned_by_us) {
		if (d->was_cordoned)
			kp_buf_addf(&res->msg,
				    "; node '%s' stays cordoned: it was cordoned before the task",
				    d->node);
		return;
	}
	if (!kp_arg_bool(ctx, arg)) {
		kp_buf_addf(&res->msg, "; node '%s' left cordoned", d->node);
	} else if (kp_kube_set_unschedulable(d->kube, d->node, false, &e)) {
		kp_buf_addf(&res->msg, "; uncordoning node '%s' failed too: %s", d->node, e.buf);
	} else {
		kp_buf_addf(&res->msg, "; node '%s' uncordoned again (%s)", d->node, arg);
		kp_buf_addf(&res->out, "node/%s uncordoned\n", d->node);
		if (res->facts && res->facts->type == KP_V_MAP)
			kp_map_set_take(res->facts, "uncordoned_again", kp_value_bool(true));
	}
	kp_buf_release(&e);
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
	kp_buf_addf(&res->out, "node/%s %s%s\n", d->node, want == d->was_cordoned ? "already " : "",
		    want ? "cordoned" : "uncordoned");
	if (strcmp(state, "drained")) {
		kp_buf_addf(&res->msg, "%s node '%s'", want ? "cordoned" : "uncordoned", d->node);
		return KP_OK;
	}
	/* pods scheduled between the probe and the cordon count too */
	kp_rc rc = kp_drain_list_pods(ctx, d, &e);
	set_facts(ctx, res, d, !rc, false);
	if (rc) {
		kp_mod_failf(res, "cannot list the pods of node '%s': %s", d->node, e.buf);
		kp_buf_release(&e);
		res->changed = d->cordoned_by_us;
		after_failure(ctx, res, d, "uncordon_on_failure");
		return KP_OK;
	}
	struct kp_buf why = KP_BUF_INIT;
	if (refusal(d, &why)) {
		kp_mod_failf(res, "%s", why.buf);
		kp_buf_release(&why);
		res->changed = d->cordoned_by_us;
		after_failure(ctx, res, d,
			      kp_arg_bool(ctx, "uncordon_on_failure") ? "uncordon_on_failure"
								      : "uncordon_on_refusal");
		return KP_OK;
	}
	kp_buf_release(&why);
	if (kp_drain_by_message(d, V_WARNING, &why))
		kp_buf_addf(&res->err, "WARNING: %s\n", why.buf);
	kp_buf_release(&why);
	kp_drain_remove_pods(ctx, res, d, deadline);
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
		after_failure(ctx, res, d, "uncordon_on_failure");
	} else {
		res->changed = true;
		kp_buf_addf(&res->out, "node/%s drained\n", d->node);
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
	const struct kp_value *again = kp_map_get(result, "uncordoned_again");
	if (again && again->type == KP_V_BOOL && again->u.b)
		return;
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
