/*
 * kubewindow.h - the disruption-aware window's admission decision: may the
 * next node be taken out now?
 *
 * A snapshot of the cluster (kp_kwin_snap_build: the NodeList, the PodList
 * of all namespaces and the PodDisruptionBudgetList of all namespaces, three
 * list requests per decision, kp_kwin_snap_fetch) is indexed once: each
 * budget gets the pods it selects, each node the pods a drain would evict
 * from it (not DaemonSet pods, not mirror pods, not finished ones).
 * kp_kwin_decide is then a pure function of the snapshot, the rule and the
 * nodes in flight:
 *
 *   budget  for every budget that selects a pod the candidate's drain would
 *           evict: the healthy pods left once the pods on the nodes in
 *           flight and on the candidate are gone must still be at least the
 *           budget's desiredHealthy (its status when the server gives one,
 *           else minAvailable, or expected - maxUnavailable, counts or
 *           percentages of the expected pods rounded up, as the disruption
 *           controller computes them). Nodes the API shows cordoned or not
 *           Ready count as in flight too: their pods are, or soon will be,
 *           disrupted; the window widens again as they come back Ready and
 *           uncordoned.
 *   min_ready  at least this many nodes (or this percentage of the
 *           cluster's nodes, rounded up) stay Ready and schedulable once
 *           the candidate is out too.
 *
 * With no node of the play in flight the budget never holds a node back:
 * the drain's evictions wait for the budgets themselves, as kubectl's do,
 * so a budget that one node's pods alone would break cannot stall the run.
 *
 * Ownership: a snapshot owns the JSON it was built from; release it with
 * kp_kwin_snap_release.
 */
#ifndef KP_KUBEWINDOW_H
#define KP_KUBEWINDOW_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct cJSON;
struct kp_kube;

struct kp_kwin_node {
	const char *name;
	bool ready, unschedulable;
};

struct kp_kwin_pod {
	const char *ns, *name, *node; /* node: "" when not bound */
	const struct cJSON *labels;
	bool healthy;	  /* Ready and not terminating */
	bool terminating; /* has a deletionTimestamp */
	bool evictable;	  /* a drain would evict it */
};

struct kp_kwin_pdb {
	const char *ns, *name;
	int desired;  /* desiredHealthy */
	int expected; /* expectedPods (or the pods it selects, when the status has none) */
	size_t *pods; /* the pods it selects (indices) */
	size_t npods;
};

struct kp_kwin_snap {
	struct cJSON *nodes_json, *pods_json, *pdbs_json; /* owned */
	struct kp_kwin_node *nodes;
	size_t nnodes;
	struct kp_kwin_pod *pods;
	size_t npods;
	struct kp_kwin_pdb *pdbs;
	size_t npdbs;
};

/* What the window's rule asks (model/plan.h's struct kp_window_rule). */
struct kp_kwin_rule {
	bool budget;
	int min_ready;
	bool min_ready_pct;
};

struct kp_kwin_decision {
	bool admit;
	/* why not, as the status line shows it after "waiting: " ("pdb
	 * web/web-pdb allows 0 (2 pods in flight on wk3, wk7)"); "" when
	 * admitted */
	char reason[512];
};

/* Index the three lists (taken over: they are freed with the snapshot,
 * also on error). An error names what is malformed. */
kp_rc kp_kwin_snap_build(struct cJSON *nodes, struct cJSON *pods, struct cJSON *pdbs,
			 struct kp_kwin_snap *s, struct kp_buf *err);
/* GET the three lists (PDBs from the policy version discovery names) and
 * build the snapshot. */
kp_rc kp_kwin_snap_fetch(struct kp_kube *k, struct kp_kwin_snap *s, struct kp_buf *err);
void kp_kwin_snap_release(struct kp_kwin_snap *s);

/* May `candidate` (a node name) start, with `inflight` (node names of the
 * play's hosts in flight) already out? */
void kp_kwin_decide(const struct kp_kwin_snap *s, const struct kp_kwin_rule *r,
		    const char *const *inflight, size_t ninflight, const char *candidate,
		    struct kp_kwin_decision *d);

/* The weight of each pending node (node names, the hosts not started yet):
 * for each budget with a pod on it that a drain would evict, how many of
 * the pending nodes hold such a pod of that budget, summed. A budget that
 * takes its nodes one at a time makes a chain of that length; the window
 * starts the heaviest node that may go first, so that the longest chains
 * start early. weights has npending slots. */
void kp_kwin_weights(const struct kp_kwin_snap *s, const char *const *pending, size_t npending,
		     size_t *weights);

/* The percentage form of min_ready as a node count: ceil(pct * n / 100). */
int kp_kwin_min_ready(const struct kp_kwin_rule *r, size_t nnodes);

#endif
