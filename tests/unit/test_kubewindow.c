/* test_kubewindow.c - the disruption-aware window's admission decision
 * (kube/kubewindow.h) over fixtures of nodes, pods and budgets. */
#include "unit.h"
#include "kube/kubewindow.h"

#include <cjson/cJSON.h>
#include <string.h>

/* ---- fixtures ------------------------------------------------------------- */

static cJSON *list(void)
{
	cJSON *l = cJSON_CreateObject();
	cJSON_AddArrayToObject(l, "items");
	return l;
}

static void add_node(cJSON *nodes, const char *name, bool ready, bool unschedulable)
{
	cJSON *n = cJSON_CreateObject();
	cJSON_AddStringToObject(cJSON_AddObjectToObject(n, "metadata"), "name", name);
	if (unschedulable)
		cJSON_AddBoolToObject(cJSON_AddObjectToObject(n, "spec"), "unschedulable", true);
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "Ready");
	cJSON_AddStringToObject(c, "status", ready ? "True" : "False");
	cJSON_AddItemToArray(
	    cJSON_AddArrayToObject(cJSON_AddObjectToObject(n, "status"), "conditions"), c);
	cJSON_AddItemToArray(cJSON_GetObjectItem(nodes, "items"), n);
}

enum pod_state { READY, UNREADY, TERMINATING };

/* owner: "ReplicaSet", "DaemonSet", "mirror" or NULL */
static void add_pod(cJSON *pods, const char *ns, const char *name, const char *app,
		    const char *node, enum pod_state st, const char *owner)
{
	cJSON *p = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(p, "metadata");
	cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "labels"), "app", app);
	if (st == TERMINATING)
		cJSON_AddStringToObject(md, "deletionTimestamp", "2026-01-01T00:00:00Z");
	if (owner && !strcmp(owner, "mirror")) {
		cJSON_AddStringToObject(cJSON_AddObjectToObject(md, "annotations"),
					"kubernetes.io/config.mirror", "abc");
	} else if (owner) {
		cJSON *ref = cJSON_CreateObject();
		cJSON_AddStringToObject(ref, "kind", owner);
		cJSON_AddStringToObject(ref, "name", app);
		cJSON_AddBoolToObject(ref, "controller", true);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(md, "ownerReferences"), ref);
	}
	if (node)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "spec"), "nodeName", node);
	cJSON *status = cJSON_AddObjectToObject(p, "status");
	cJSON_AddStringToObject(status, "phase", node ? "Running" : "Pending");
	cJSON *c = cJSON_CreateObject();
	cJSON_AddStringToObject(c, "type", "Ready");
	cJSON_AddStringToObject(c, "status", st == READY ? "True" : "False");
	cJSON_AddItemToArray(cJSON_AddArrayToObject(status, "conditions"), c);
	cJSON_AddItemToArray(cJSON_GetObjectItem(pods, "items"), p);
}

/* key "minAvailable" or "maxUnavailable"; pct: value is "N%" */
static cJSON *add_pdb(cJSON *pdbs, const char *ns, const char *name, const char *app,
		      const char *key, int value, bool pct)
{
	cJSON *b = cJSON_CreateObject(), *md = cJSON_AddObjectToObject(b, "metadata");
	cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddStringToObject(md, "name", name);
	cJSON *spec = cJSON_AddObjectToObject(b, "spec");
	if (pct) {
		char v[16];
		snprintf(v, sizeof(v), "%d%%", value);
		cJSON_AddStringToObject(spec, key, v);
	} else {
		cJSON_AddNumberToObject(spec, key, value);
	}
	cJSON_AddStringToObject(
	    cJSON_AddObjectToObject(cJSON_AddObjectToObject(spec, "selector"), "matchLabels"),
	    "app", app);
	cJSON_AddItemToArray(cJSON_GetObjectItem(pdbs, "items"), b);
	return b;
}

struct fx {
	cJSON *nodes, *pods, *pdbs;
	struct kp_kwin_snap s;
};

static void fx_init(struct fx *f, int nnodes)
{
	f->nodes = list();
	f->pods = list();
	f->pdbs = list();
	for (int i = 1; i <= nnodes; i++) {
		char n[16];
		snprintf(n, sizeof(n), "n%d", i);
		add_node(f->nodes, n, true, false);
	}
}

/* a Deployment's pods: app-1 on the first node given, ... */
static void spread(struct fx *f, const char *app, const char *const *nodes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "%s-%zu", app, i + 1);
		add_pod(f->pods, "default", name, app, nodes[i], READY, "ReplicaSet");
	}
}

static void fx_build(struct fx *f)
{
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_kwin_snap_build(f->nodes, f->pods, f->pdbs, &f->s, &err), KP_OK);
	kp_buf_release(&err);
}

static void decide(struct fx *f, const struct kp_kwin_rule *r, const char *const *inflight,
		   size_t n, const char *cand, bool admit, const char *reason)
{
	struct kp_kwin_decision d;
	kp_kwin_decide(&f->s, r, inflight, n, cand, &d);
	assert_int_equal(d.admit, admit);
	assert_string_equal(d.reason, reason);
}

static const struct kp_kwin_rule PDB = {.budget = true};

/* ---- tests ------------------------------------------------------------------ */

static void test_max_unavailable(void **state)
{
	struct fx f;
	fx_init(&f, 5);
	const char *on[] = {"n1", "n2", "n3", "n4"};
	spread(&f, "web", on, 4);
	add_pdb(f.pdbs, "default", "web-pdb", "web", "maxUnavailable", 1, false);
	fx_build(&f);
	const char *n1[] = {"n1"};
	/* n1's pod is still there, about to be evicted: n2's would be a second */
	decide(&f, &PDB, n1, 1, "n2", false,
	       "pdb default/web-pdb allows 0 (1 pod in flight on n1)");
	/* n5 has no pod of the budget */
	decide(&f, &PDB, n1, 1, "n5", true, "");
	/* nothing in flight: the drain's evictions wait for the budget */
	decide(&f, &PDB, NULL, 0, "n2", true, "");
	kp_kwin_snap_release(&f.s);
}

static void test_min_available_percent(void **state)
{
	struct fx f;
	fx_init(&f, 10);
	const char *on[] = {"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"};
	spread(&f, "api", on, 10);
	/* 80% of 10: 8 must stay healthy, two may go */
	add_pdb(f.pdbs, "default", "api", "api", "minAvailable", 80, true);
	fx_build(&f);
	const char *one[] = {"n1"}, *two[] = {"n1", "n2"};
	decide(&f, &PDB, one, 1, "n2", true, "");
	decide(&f, &PDB, two, 2, "n3", false,
	       "pdb default/api allows 0 (2 pods in flight on n1, n2)");
	kp_kwin_snap_release(&f.s);
	/* 80% of 4 is 3.2, rounded up: 4 must stay, none may go beyond the first */
	fx_init(&f, 4);
	spread(&f, "api", on, 4);
	add_pdb(f.pdbs, "default", "api", "api", "minAvailable", 80, true);
	fx_build(&f);
	const char *n4[] = {"n4"};
	decide(&f, &PDB, n4, 1, "n1", false, "pdb default/api allows 0 (1 pod in flight on n4)");
	kp_kwin_snap_release(&f.s);
}

static void test_already_disrupted(void **state)
{
	struct fx f;
	fx_init(&f, 5);
	const char *on[] = {"n2", "n3", "n4"};
	spread(&f, "web", on, 3);
	/* n1's pod was evicted: its replacement is not ready yet on n5 */
	add_pod(f.pods, "default", "web-new", "web", "n5", UNREADY, "ReplicaSet");
	add_pdb(f.pdbs, "default", "web", "web", "maxUnavailable", 1, false);
	/* the controller's own status: 4 expected, 3 must stay healthy */
	cJSON *b = cJSON_GetArrayItem(cJSON_GetObjectItem(f.pdbs, "items"), 0);
	cJSON *st = cJSON_AddObjectToObject(b, "status");
	cJSON_AddNumberToObject(st, "expectedPods", 4);
	cJSON_AddNumberToObject(st, "desiredHealthy", 3);
	fx_build(&f);
	const char *n1[] = {"n1"};
	decide(&f, &PDB, n1, 1, "n2", false, "pdb default/web allows 0 (1 pod not ready)");
	kp_kwin_snap_release(&f.s);
	/* once it is ready the next may go */
	fx_init(&f, 5);
	spread(&f, "web", on, 3);
	add_pod(f.pods, "default", "web-new", "web", "n5", READY, "ReplicaSet");
	add_pod(f.pods, "default", "web-old", "web", "n1", TERMINATING, "ReplicaSet");
	add_pdb(f.pdbs, "default", "web", "web", "maxUnavailable", 1, false);
	fx_build(&f);
	decide(&f, &PDB, n1, 1, "n2", true, "");
	kp_kwin_snap_release(&f.s);
	/* the evicted pod is gone and its replacement not made yet: the
	 * controller still expects 4 */
	fx_init(&f, 5);
	spread(&f, "web", on, 3);
	b = add_pdb(f.pdbs, "default", "web", "web", "maxUnavailable", 1, false);
	st = cJSON_AddObjectToObject(b, "status");
	cJSON_AddNumberToObject(st, "expectedPods", 4);
	cJSON_AddNumberToObject(st, "desiredHealthy", 3);
	fx_build(&f);
	decide(&f, &PDB, n1, 1, "n2", false, "pdb default/web allows 0 (1 of 4 pods missing)");
	kp_kwin_snap_release(&f.s);
}

static void test_cluster_nodes_out(void **state)
{
	struct fx f;
	fx_init(&f, 4);
	/* n3 is cordoned by someone else, n4 not Ready: their pods count as
	 * in flight */
	cJSON *items = cJSON_GetObjectItem(f.nodes, "items");
	cJSON_DeleteItemFromArray(items, 3);
	cJSON_DeleteItemFromArray(items, 2);
	add_node(f.nodes, "n3", true, true);
	add_node(f.nodes, "n4", false, false);
	const char *on[] = {"n2", "n3", "n4"};
	spread(&f, "db", on, 3);
	add_pdb(f.pdbs, "default", "db", "db", "minAvailable", 2, false);
	fx_build(&f);
	const char *n1[] = {"n1"};
	decide(&f, &PDB, n1, 1, "n2", false,
	       "pdb default/db allows 0 (2 pods in flight on n3, n4)");
	kp_kwin_snap_release(&f.s);
}

static void test_not_evicted(void **state)
{
	struct fx f;
	fx_init(&f, 3);
	/* DaemonSet and mirror pods stay on a drained node: no budget counts them gone */
	add_pod(f.pods, "kube-system", "proxy-a", "proxy", "n2", READY, "DaemonSet");
	add_pod(f.pods, "kube-system", "proxy-b", "proxy", "n1", READY, "DaemonSet");
	add_pod(f.pods, "kube-system", "etcd-n2", "etcd", "n2", READY, "mirror");
	add_pdb(f.pdbs, "kube-system", "proxy", "proxy", "maxUnavailable", 0, false);
	add_pdb(f.pdbs, "kube-system", "etcd", "etcd", "minAvailable", 1, false);
	/* a budget of another namespace selects nothing here */
	add_pod(f.pods, "default", "web-1", "web", "n2", READY, "ReplicaSet");
	add_pod(f.pods, "default", "web-2", "web", "n3", READY, "ReplicaSet");
	add_pdb(f.pdbs, "other", "web", "web", "minAvailable", 2, false);
	fx_build(&f);
	const char *n1[] = {"n1"};
	decide(&f, &PDB, n1, 1, "n2", true, "");
	kp_kwin_snap_release(&f.s);
}

static void test_min_ready(void **state)
{
	struct fx f;
	fx_init(&f, 5);
	fx_build(&f);
	const char *two[] = {"n1", "n2"};
	struct kp_kwin_rule pct = {.budget = true, .min_ready = 60, .min_ready_pct = true};
	decide(&f, &pct, two, 2, "n3", false,
	       "min_ready 60% (3 of 5 nodes): 2 would stay schedulable");
	struct kp_kwin_rule count = {.min_ready = 2};
	decide(&f, &count, two, 2, "n3", true, "");
	count.min_ready = 3;
	decide(&f, &count, two, 2, "n3", false, "min_ready 3: 2 of 5 nodes would stay schedulable");
	/* the floor holds even with nothing in flight */
	count.min_ready = 5;
	decide(&f, &count, NULL, 0, "n3", false,
	       "min_ready 5: 4 of 5 nodes would stay schedulable");
	assert_int_equal(kp_kwin_min_ready(&pct, 5), 3);
	pct.min_ready = 90;
	assert_int_equal(kp_kwin_min_ready(&pct, 33), 30); /* 29.7 rounded up */
	kp_kwin_snap_release(&f.s);
}

static void test_weights(void **state)
{
	struct fx f;
	fx_init(&f, 5);
	const char *web[] = {"n1", "n2", "n3", "n4"}, *db[] = {"n3", "n4"};
	spread(&f, "web", web, 4);
	spread(&f, "db", db, 2);
	add_pod(f.pods, "kube-system", "proxy-1", "web", "n5", READY, "DaemonSet");
	add_pdb(f.pdbs, "default", "web", "web", "maxUnavailable", 1, false);
	add_pdb(f.pdbs, "default", "db", "db", "maxUnavailable", 1, false);
	fx_build(&f);
	/* n1 already started: web has 3 nodes left, db 2; n3 and n4 carry both */
	const char *pending[] = {"n2", "n3", "n4", "n5", "gone"};
	size_t w[5];
	kp_kwin_weights(&f.s, pending, 5, w);
	assert_int_equal(w[0], 3);
	assert_int_equal(w[1], 5);
	assert_int_equal(w[2], 5);
	assert_int_equal(w[3], 0); /* no pod of a budget */
	assert_int_equal(w[4], 0);
	kp_kwin_snap_release(&f.s);
}

static void test_bad_lists(void **state)
{
	struct kp_kwin_snap s;
	struct kp_buf err = KP_BUF_INIT;
	cJSON *bad = cJSON_CreateObject();
	cJSON_AddStringToObject(bad, "items", "no");
	assert_int_equal(kp_kwin_snap_build(list(), bad, list(), &s, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "the pod list has no items array");
	kp_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_max_unavailable),   cmocka_unit_test(test_min_available_percent),
	    cmocka_unit_test(test_already_disrupted), cmocka_unit_test(test_cluster_nodes_out),
	    cmocka_unit_test(test_not_evicted),	      cmocka_unit_test(test_min_ready),
	    cmocka_unit_test(test_weights),	      cmocka_unit_test(test_bad_lists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
