/*
 * etcd_snapshot_int.h - what the two files of the `etcd-snapshot` module
 * share: etcd_snapshot.c (the module table, save, list and prune, and the
 * helpers below) and etcd_restore.c (finding, verifying and restoring a
 * snapshot). Not for the rest of kplan: they use kp_mod_etcd_snapshot.
 *
 * Ownership: a struct state is the task's ctx->state; it and what it holds
 * are freed by the module's free_state (etcd_snapshot.c).
 */
#ifndef KP_ETCD_SNAPSHOT_INT_H
#define KP_ETCD_SNAPSHOT_INT_H

#include "modules/module.h"
#include "transport/transport.h"

#define SNAP_MAX	   ((size_t)16 << 30)
#define ETCDCTL_TIMEOUT_MS 300000

/* How etcd runs on the node, and its settings. */
struct etcd_cfg {
	bool manifest;	/* static pod (else /etc/etcd.env and the etcd unit) */
	bool moved_out; /* the manifest is at `stopped` (step stop did it) */
	char *path;	/* the manifest or the env file */
	char *stopped;	/* where the manifest goes while etcd is stopped */
	char *text;
	char *data_dir, *name, *initial_cluster, *token, *peer_urls;
	struct kp_stat st;
};

struct state {
	char *snapshot; /* controller path, or NULL when on_node */
	char *node_path;
	bool on_node;
	char sha[65];
	int64_t size;
	char *data_dir;
	char *tool;	   /* "etcdutl" (etcd >= 3.5) or "etcdctl" */
	int members;	   /* in the configuration's initial cluster */
	int64_t rev, keys; /* of the snapshot (step stop's apply) */
	struct etcd_cfg cfg;
	char **prune_node, **prune_local; /* prune: what goes */
	size_t nprune_node, nprune_local;
};

/* ---- etcd_snapshot.c ---- */

/* Free the n strings of l, and l. */
void kp_etcd_snap_free_list(char **l, size_t n);
/* "YYYYmmddTHHMMSS.mmmZ" (UTC) for snapshot names. */
void kp_etcd_snap_stamp(char out[32]);
/* The snapshot names in a controller directory, sorted (oldest first);
 * freed with kp_etcd_snap_free_list. */
void kp_etcd_snap_local_snaps(const char *dir, char ***out, size_t *n);
/* Run cmd on the node (r released and reinitialised first); *ok: it ran
 * and exited 0, else the task has failed. */
kp_rc kp_etcd_snap_sh(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		      int64_t timeout, struct kp_exec_res *r, bool *ok, struct kp_buf *err);
/* `etcdctl snapshot status PATH -w json` on the node: revision and keys */
kp_rc kp_etcd_snap_node_status(struct kp_modctx *ctx, struct kp_result *res, const char *path,
			       int64_t *rev, int64_t *keys, bool *ok, struct kp_buf *err);
/* The facts path (absolute), sha256, size, revision and total_keys (-1:
 * null). */
void kp_etcd_snap_set_facts(struct kp_result *res, const char *path, const char *sha, int64_t size,
			    int64_t rev, int64_t keys);

/* ---- etcd_restore.c ---- */

kp_rc kp_etcd_snap_verify(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
kp_rc kp_etcd_snap_restore_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
kp_rc kp_etcd_snap_restore_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
/* The node copy of a controller snapshot: remote_dir/<name>, when it is
 * there with the same SHA-256 (*there). */
kp_rc kp_etcd_snap_node_copy(struct kp_modctx *ctx, struct state *s, bool *there,
			     struct kp_buf *err);

/* ---- etcd_restore_run.c ---- */

/* The restore command line: `etcdutl snapshot restore` (tool "etcdutl") or
 * `ETCDCTL_API=3 etcdctl snapshot restore`, with the same flags (etcd's
 * disaster-recovery procedure); both check the snapshot's hash. NULL or
 * empty values leave their flag out. */
void kp_etcd_restore_cmd(const char *tool, const char *snapshot, const char *data_dir,
			 const char *name, const char *initial_cluster, const char *token,
			 const char *peer_urls, struct kp_buf *out);
/* The line of an etcd log that says why it stopped: the last panic, fatal
 * or critical line (capnslog " C | ", zap "level":"fatal"/"panic"), else
 * the last error, else the last line. Into out, without the newline. */
void kp_etcd_log_reason(const char *log, struct kp_buf *out);
/* The number of members in an --initial-cluster value (0 for NULL). */
int kp_etcd_initial_cluster_size(const char *ic);
/* text with the data directory switched (etcd_restore.c) */
void kp_etcd_switch_data_dir(const struct etcd_cfg *c, const char *new_dir, struct kp_buf *out);

#endif
