/*
 * runlock.h - `run_lock: NAME`: two operators never run maintenance on the
 * same cluster at once.
 *
 * With the Kubernetes API reachable the lock is a Lease `kplan-NAME` in
 * kube-system (coordination.k8s.io/v1, or v1beta1 on 1.12 and 1.13 servers:
 * whichever discovery names): holder user@controller:pid, renewed by a thread while the
 * run lives, so it expires on its own when the controller dies. Without
 * the API it is a directory created atomically (mkdir) on the first
 * control-plane host, which has no expiry: the message says how to remove
 * a stale one. A lock held by someone else is KP_ERR_LOCKED with the
 * holder and since when.
 *
 * Ownership: struct kp_runlock owns its client, strings and thread.
 */
#ifndef KP_RUNLOCK_H
#define KP_RUNLOCK_H

#include <pthread.h>

#include "core/buf.h"
#include "transport/transport.h"

/* the Lease's duration; $KPLAN_LEASE_SECONDS overrides it, for tests and
 * emergencies (runlock.c) */
#define KP_LEASE_SECONDS 60

struct kp_kube;

struct kp_runlock {
	char *name;
	char *holder;
	struct kp_kube *kube; /* the Lease, or NULL */
	struct kp_conn *conn; /* the lock directory's host, or NULL (borrowed) */
	char lease_gv[64];    /* the Lease's group/version, from discovery */
	char *dir;
	pthread_t renewer;
	bool renewing;
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool stop;
	char *lost; /* why renewing failed, when it did */
};

/* "user@controller:pid" */
void kp_runlock_holder(struct kp_buf *out);

/* Take the lock through the API (kube != NULL; the lock takes ownership of
 * the client) or, with kube NULL, as a directory on conn. */
kp_rc kp_runlock_acquire(struct kp_runlock *l, const char *name, struct kp_kube *kube,
			 struct kp_conn *conn, struct kp_buf *err);
void kp_runlock_release(struct kp_runlock *l);

#endif
