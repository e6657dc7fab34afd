/*
 * kubeadm_walk.h - the path of a kubeadm upgrade over several minor
 * versions (kubeadm-upgrade's `action: walk`, kubeadm_walk.c): one minor
 * at a time, each minor passed through at its newest patch in the
 * repository, checked against the version-skew policy at every step.
 *
 * Ownership: a struct kp_upwalk owns its steps (kp_upwalk_release).
 */
#ifndef KP_KUBEADM_WALK_H
#define KP_KUBEADM_WALK_H

#include "core/buf.h"
#include "modules/kube/kubeadm_policy.h"
#include "modules/module.h"

/* A Node as the walk sees it: its kubelet, and whether the walk upgrades
 * it (an inventory host of the upgrade's groups) or leaves it as it is. */
struct kp_upwalk_node {
	const char *name;
	struct kp_kver kubelet;
	bool managed;
};

/* One minor's repository: the versions at which kubeadm, kubelet and
 * kubectl are all there, ascending (n == 0 and `why` set: unreadable). */
struct kp_upwalk_repo {
	int minor;
	const char *url;
	struct kp_kver *versions;
	size_t n;
	const char *why;
};

struct kp_upwalk_step {
	struct kp_kver version;
	struct kp_kver from; /* the cluster's version before the step */
	const char *url;     /* the repository it installs from */
	bool newest;	     /* an intermediate minor: its newest patch */
	bool finish;	     /* finishes the step the control plane is at */
	char **nodes;	     /* the managed nodes it upgrades, in order */
	size_t nnodes;
};

struct kp_upwalk {
	struct kp_upwalk_step *steps;
	size_t n;
};
void kp_upwalk_release(struct kp_upwalk *w);

/* The versions of a Packages index (Debian's control-file stanzas) at
 * which kubeadm, kubelet and kubectl all exist (the upstream version: the
 * part before the Debian revision), ascending, into *out (free()); their
 * number. Pre-releases are left out. */
size_t kp_upwalk_repo_versions(const char *packages, struct kp_kver **out);

/* The walk from `cluster` to `target`, over the nodes and the
 * repositories of every minor from the cluster's to the target's; false
 * with the refusal in `why` (naming the node, its version and the rule,
 * or the repository) when kubeadm or the version-skew policy forbids it.
 * `first_cp` names the control plane in messages; `max_steps` (0: any)
 * is how many steps the plan can take. */
bool kp_upwalk_plan(const struct kp_kver *cluster, const struct kp_kver *target,
		    const struct kp_upwalk_node *nodes, size_t nnodes,
		    const struct kp_upwalk_repo *repos, size_t nrepos, const char *first_cp,
		    size_t max_steps, struct kp_upwalk *w, struct kp_buf *why);

/* The walk as one line ("v1.35.9 -> v1.37.1 in 2 steps: 1) v1.36.5 …"). */
void kp_upwalk_describe(const struct kp_kver *cluster, const struct kp_kver *target,
			const struct kp_upwalk *w, const char *first_cp, struct kp_buf *out);

/* Why a Node (its API object) is not fit for a step to start: "is
 * cordoned (SchedulingDisabled)" or "is not Ready"; NULL when it is fit.
 * Freed with free(). */
struct cJSON;
char *kp_upwalk_node_unfit(const struct cJSON *n);

/* action: walk of kubeadm-upgrade, once the cluster's version and its
 * Nodes' kubelets are known (kubeadm_upgrade.c): reads each minor's
 * repository on the host, plans the walk, and gives it as the result's
 * facts (`steps`) or fails the task. */
kp_rc kp_kubeadm_walk(struct kp_modctx *ctx, struct kp_result *res, const struct kp_kver *cluster,
		      const struct kp_kver *target, char *const *names, char *const *kubelets,
		      size_t n, struct kp_buf *err);

#endif
