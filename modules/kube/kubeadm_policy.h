/*
 * kubeadm_policy.h - what kubeadm-upgrade knows of kubeadm itself: its
 * version-skew policy (EnforceVersionPolicies, with kubeadm's own words)
 * and which upgrade command each kind of node gets in each kubeadm era.
 */
#ifndef KP_KUBEADM_POLICY_H
#define KP_KUBEADM_POLICY_H

#include "core/buf.h"
#include "core/kp.h"

#include <stdbool.h>
#include <stddef.h>

/* A Kubernetes version: "v1.13.3", "1.13.3", "Kubernetes v1.13.3",
 * "1.13.3-00" (a package revision, not a pre-release), "v1.15.0-beta.1"
 * (a pre-release). */
struct kp_kver {
	int major, minor, patch;
	bool pre;      /* alpha, beta, rc... */
	char text[40]; /* "v1.13.3" or "v1.15.0-beta.1" */
};
bool kp_kver_parse(const char *s, struct kp_kver *v);
int kp_kver_cmp(const struct kp_kver *a, const struct kp_kver *b);

/* kubeadm's EnforceVersionPolicies (cmd/kubeadm/app/phases/upgrade/
 * policy.go, the same from 1.13 to today) for an upgrade of a cluster at
 * `cluster` to `target` with kubeadm `kubeadm`, the cluster's kubelets at
 * the n versions `kubelets` (NULL: unknown). Each error kubeadm would
 * report goes into `mandatory` (not even --force passes) or `skippable`
 * (--force passes), one per line, in kubeadm's words. */
void kp_kubeadm_policy(const struct kp_kver *target, const struct kp_kver *cluster,
		       const struct kp_kver *kubeadm, const char *const *kubelets, size_t n,
		       struct kp_buf *mandatory, struct kp_buf *skippable);
/* The same, with kubeadm's kubelet skew (its era's) given. */
void kp_kubeadm_policy_skew(const struct kp_kver *target, const struct kp_kver *cluster,
			    const struct kp_kver *kubeadm, int kubelet_skew,
			    const char *const *kubelets, size_t n, struct kp_buf *mandatory,
			    struct kp_buf *skippable);

/* The kubelet versions (unique, sorted) that kubeadm finds too old for
 * `target` (more than `skew` minors behind: its era's kubelet_skew), as
 * "[v1.11.0 v1.12.3]" into out; false when there are none. */
bool kp_kubeadm_old_kubelets(const struct kp_kver *target, int skew, const char *const *kubelets,
			     size_t n, struct kp_buf *out);

/* Kubernetes' version-skew policy for the kubelet: from API server minor
 * `from_minor` on, a kubelet may be up to `older` minor versions older
 * than the API server (never newer). */
struct kp_kubelet_skew {
	int from_minor;
	int older;
	const char *rule; /* the policy in words, with its source */
};
const struct kp_kubelet_skew *kp_kubelet_skew(int apiserver_minor);

/* The upgrade commands of a kubeadm era (by the kubeadm minor version that
 * runs them). "%s" stands for the target version (v1.13.3). */
struct kp_kubeadm_era {
	int from_minor;	       /* this era starts with kubeadm 1.<from_minor> */
	const char *first;     /* the first control plane */
	const char *others[2]; /* every other control plane, in order */
	const char *worker;    /* a node without the control plane */
	const char *source;    /* where kubeadm says so */
	int kubelet_skew;      /* kubeadm's MaximumAllowedMinorVersionKubeletSkew */
	bool node_flags;       /* `upgrade node` takes --etcd-upgrade, --certificate-renewal */
};
/* The era of kubeadm 1.<minor>; NULL before the first one kplan knows. */
const struct kp_kubeadm_era *kp_kubeadm_era(int minor);

#endif
