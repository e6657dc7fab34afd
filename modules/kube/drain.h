/*
 * drain.h - the drain module's two halves: drain.c (the module: cordon,
 * probe, apply, the result) and drainpods.c (kubectl's filters over the
 * node's pods, and removing them: evictions, deletions, waiting).
 * Nothing else includes it.
 *
 * Ownership: struct drain owns its pods and its client (kp_drain_free).
 */
#ifndef KP_DRAIN_H
#define KP_DRAIN_H

#include "modules/module.h"

struct kp_kube;

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
	bool remove;	      /* Delete in kubectl's PodDeleteStatus */
	enum verdict verdict; /* of the last filter that ran */
	char *message;	      /* the verdict's message (warning or error) */
	int64_t deletion_ms;  /* metadata.deletionTimestamp, 0: none */
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

/* kubectl's drain messages and timings (filters.go, drain.go) */
#define RETRY_429_MS 5000 /* "will retry after 5s" */
#define WAIT_POLL_MS 1000 /* waitForDelete's interval */

void kp_drain_pods_clear(struct drain *d);
void kp_drain_free(void *p);
/* List the node's pods (pod_selector) and put each through the filters. */
kp_rc kp_drain_list_pods(struct kp_modctx *ctx, struct drain *d, struct kp_buf *err);
/* "MSG: ns/a, ns/b" per distinct message of the verdict, "; "-joined
 * (errors with kubectl's "cannot delete " prefix); the number of groups. */
size_t kp_drain_by_message(const struct drain *d, enum verdict v, struct kp_buf *out);
/* Remove the pods the filters let go, by `deadline` (kp_now_ms); fails the
 * task (res) with every pod's error. */
void kp_drain_remove_pods(struct kp_modctx *ctx, struct kp_result *res, struct drain *d,
			  int64_t deadline);

#endif
