/*
 * etcd_restore.c - the etcd-snapshot module's verify and restore (the
 * module itself, save, list and prune are in etcd_snapshot.c): finding a
 * snapshot (the newest in dest/<host>/, or the `snapshot` argument on the
 * controller or else on the node), checking it, and restoring it.
 *
 * restore finds how etcd runs (a static pod manifest, else /etc/etcd.env
 * and the etcd unit), stops it, restores into a new data directory, points
 * the configuration at it, starts it and waits until it is healthy.
 */
#include "modules/etcd/etcd_snapshot_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEALTHY_WAIT_S 120
#define ETCD_ENV       "/etc/etcd.env"

/* ---- finding and checking a snapshot ------------------------------------------------- */

/* Resolve the `snapshot` argument (default: the newest in dest/<host>/),
 * check its trailer; fails the task on a bad one. */
static kp_rc find_snapshot(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool *ok,
			   struct kp_buf *err)
{
	const char *arg = kp_arg_str(ctx, "snapshot");
	struct kp_buf why = KP_BUF_INIT, e = KP_BUF_INIT;
	bool good = false;
	kp_rc rc = KP_OK;
	*ok = false;
	if (!arg) {
		char *dir = kp_mod_store_dir(ctx, "dest", ctx->host), **names;
		size_t n;
		kp_etcd_snap_local_snaps(dir, &names, &n);
		if (!n) {
			kp_mod_failf(res, "no snapshot in '%s/' on the controller: give 'snapshot'",
				     dir);
			free(dir);
			return KP_OK;
		}
		struct kp_buf p = KP_BUF_INIT;
		kp_buf_addf(&p, "%s/%s", dir, names[n - 1]);
		s->snapshot = kp_buf_detach(&p, NULL);
		kp_etcd_snap_free_list(names, n);
		free(dir);
	} else {
		s->snapshot = kp_mod_local_path(ctx, arg);
	}
	rc = kp_etcd_snapshot_check_file(s->snapshot, &s->size, s->sha, &good, &why, &e);
	if (rc == KP_ERR_NOTFOUND && arg && arg[0] == '/') {
		/* not on the controller: the node's file */
		struct kp_buf data = KP_BUF_INIT;
		struct kp_stat st;
		rc = ctx->conn->ops->stat(ctx->conn, arg, false, &st, err);
		if (rc)
			goto out;
		if (!st.exists) {
			kp_mod_failf(res, "snapshot '%s' is neither on the controller nor on %s",
				     arg, ctx->host);
			goto out;
		}
		rc = ctx->conn->ops->get(ctx->conn, arg, SNAP_MAX, &data, err);
		if (rc)
			goto out;
		free(s->snapshot);
		s->snapshot = NULL;
		s->on_node = true;
		s->node_path = kp_xstrdup(arg);
		s->size = (int64_t)data.len;
		good = kp_etcd_snapshot_check((unsigned char *)data.buf, data.len, s->sha, &why);
		kp_buf_release(&data);
	} else if (rc) {
		kp_mod_failf(res, "%s", e.buf);
		rc = KP_OK;
		goto out;
	}
	if (!good)
		kp_mod_failf(res, "snapshot '%s' fails verification: %s",
			     s->on_node ? s->node_path : s->snapshot, why.buf);
	*ok = good;
out:
	kp_buf_release(&why);
	kp_buf_release(&e);
	return rc;
}

/* The node copy of a controller snapshot: remote_dir/<name>, when it is
 * there with the same SHA-256 (*there). */
static kp_rc node_copy(struct kp_modctx *ctx, struct state *s, bool *there, struct kp_buf *err)
{
	struct kp_buf tmp = KP_BUF_INIT, p = KP_BUF_INIT;
	struct kp_stat st;
	*there = false;
	if (s->on_node)
		return *there = true, KP_OK;
	kp_buf_addf(&p, "%s/%s", kp_arg_str(ctx, "remote_dir"), kp_mod_basename(s->snapshot, &tmp));
	free(s->node_path);
	s->node_path = kp_buf_detach(&p, NULL);
	kp_buf_release(&tmp);
	kp_rc rc = ctx->conn->ops->stat(ctx->conn, s->node_path, true, &st, err);
	if (!rc)
		*there = st.exists && !strcmp(st.sha256, s->sha);
	return rc;
}

kp_rc kp_etcd_snap_verify(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	int64_t rev = -1, keys = -1;
	bool ok, there;
	kp_rc rc = find_snapshot(ctx, res, s, &ok, err);
	if (rc || !ok)
		return rc;
	const char *shown = s->on_node ? s->node_path : s->snapshot;
	rc = node_copy(ctx, s, &there, err);
	if (rc)
		return rc;
	/* revision and keys by etcdctl, where the node has the file already */
	if (there) {
		rc = kp_etcd_snap_node_status(ctx, res, s->node_path, &rev, &keys, &ok, err);
		if (rc || !ok)
			return rc;
	}
	struct kp_buf sh = KP_BUF_INIT;
	kp_mod_short_sha(s->sha, &sh);
	kp_etcd_snap_set_facts(res, shown, s->sha, s->size, rev, keys);
	kp_buf_addf(&res->msg, "snapshot '%s' is good: %" PRId64 " bytes, sha256 %s", shown,
		    s->size, sh.buf);
	if (rev >= 0)
		kp_buf_addf(&res->msg, ", revision %" PRId64 ", %" PRId64 " keys", rev, keys);
	kp_buf_release(&sh);
	return KP_OK;
}

/* ---- restore --------------------------------------------------------------------------- */

/* The value of "- --KEY=" (manifest) or "KEY=" (env) lines; NULL when none. */
static char *setting(const char *text, const char *key, bool manifest)
{
	size_t kl = strlen(key);
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n");
		const char *p = l, *end = l + len;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (manifest && p + 2 < end && p[0] == '-' && p[1] == ' ')
			for (p += 2; p < end && *p == ' ';)
				p++;
		if ((size_t)(end - p) > kl && !strncmp(p, key, kl) && p[kl] == '=') {
			p += kl + 1;
			while (end > p && (end[-1] == ' ' || end[-1] == '\r'))
				end--;
			if (end - p >= 2 && (*p == '"' || *p == '\'') && end[-1] == *p)
				p++, end--;
			return kp_xstrndup(p, (size_t)(end - p));
		}
		l += len;
		if (*l)
			l++;
	}
	return NULL;
}

/* text with the data directory switched from old to new: the --data-dir
 * flag, the volume's mountPath and hostPath (manifest) or ETCD_DATA_DIR */
static void switch_data_dir(const struct etcd_cfg *c, const char *new_dir, struct kp_buf *out)
{
	const char *old = c->data_dir;
	bool seen = false;
	for (const char *l = c->text; *l;) {
		size_t len = strcspn(l, "\n");
		struct kp_buf line = KP_BUF_INIT;
		kp_buf_add(&line, l, len);
		const char *suffixes[] = {"--data-dir=", "mountPath: ", "path: "};
		bool done = false;
		if (c->manifest) {
			for (size_t i = 0; i < KP_ARRAY_LEN(suffixes) && !done; i++) {
				struct kp_buf want = KP_BUF_INIT;
				kp_buf_addf(&want, "%s%s", suffixes[i], old);
				if (line.len >= want.len &&
				    !strcmp(line.buf + line.len - want.len, want.buf)) {
					kp_buf_add(out, line.buf, line.len - strlen(old));
					kp_buf_addstr(out, new_dir);
					done = true;
				}
				kp_buf_release(&want);
			}
		} else if (!strncmp(line.buf, "ETCD_DATA_DIR=", 14)) {
			kp_buf_addf(out, "ETCD_DATA_DIR=%s", new_dir);
			done = seen = true;
		}
		if (!done)
			kp_buf_add(out, line.buf, line.len);
		kp_buf_release(&line);
		l += len;
		if (*l) {
			kp_buf_addch(out, '\n');
			l++;
		}
	}
	if (!c->manifest && !seen) {
		if (out->len && out->buf[out->len - 1] != '\n')
			kp_buf_addch(out, '\n');
		kp_buf_addf(out, "ETCD_DATA_DIR=%s\n", new_dir);
	}
}

static kp_rc read_cfg(struct kp_modctx *ctx, struct kp_result *res, struct etcd_cfg *c, bool *ok,
		      struct kp_buf *err)
{
	const char *manifest = kp_arg_str(ctx, "manifest");
	struct kp_buf text = KP_BUF_INIT;
	kp_rc rc;
	*ok = false;
	rc = ctx->conn->ops->stat(ctx->conn, manifest, false, &c->st, err);
	if (rc)
		return rc;
	c->manifest = c->st.exists;
	c->path = kp_xstrdup(c->manifest ? manifest : ETCD_ENV);
	if (!c->manifest) {
		rc = ctx->conn->ops->stat(ctx->conn, ETCD_ENV, false, &c->st, err);
		if (rc)
			return rc;
		if (!c->st.exists)
			return kp_mod_failf(
			    res,
			    "cannot tell how etcd runs on %s: no static pod manifest "
			    "'%s' and no %s",
			    ctx->host, manifest, ETCD_ENV);
	}
	rc = ctx->conn->ops->get(ctx->conn, c->path, 1 << 20, &text, err);
	if (rc)
		return rc;
	c->text = kp_buf_detach(&text, NULL);
	const char *keys[][2] = {
	    {"--data-dir", "ETCD_DATA_DIR"},
	    {"--name", "ETCD_NAME"},
	    {"--initial-cluster", "ETCD_INITIAL_CLUSTER"},
	    {"--initial-cluster-token", "ETCD_INITIAL_CLUSTER_TOKEN"},
	    {"--initial-advertise-peer-urls", "ETCD_INITIAL_ADVERTISE_PEER_URLS"}};
	char **dst[] = {&c->data_dir, &c->name, &c->initial_cluster, &c->token, &c->peer_urls};
	for (size_t i = 0; i < KP_ARRAY_LEN(dst); i++)
		*dst[i] = setting(c->text, keys[i][c->manifest ? 0 : 1], c->manifest);
	if (!c->data_dir)
		c->data_dir = kp_xstrdup("/var/lib/etcd"); /* etcd's default in kubeadm's layout */
	*ok = true;
	return KP_OK;
}

static void stopped_path(const struct etcd_cfg *c, struct kp_buf *out)
{
	/* out of the kubelet's manifest directory, beside it */
	const char *slash = strrchr(c->path, '/');
	size_t dl = slash ? (size_t)(slash - c->path) : 0;
	const char *up = dl ? memrchr(c->path, '/', dl) : NULL;
	if (up && up > c->path)
		kp_buf_add(out, c->path, (size_t)(up - c->path));
	else
		kp_buf_addstr(out, "/tmp");
	kp_buf_addf(out, "/%s.kplan-stopped", slash ? slash + 1 : c->path);
}

kp_rc kp_etcd_snap_restore_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_exec_res r;
	struct kp_buf cmd = KP_BUF_INIT, stopped = KP_BUF_INIT;
	bool ok;
	kp_rc rc = find_snapshot(ctx, res, s, &ok, err);
	if (rc || !ok) {
		if (!rc && res->failed && strstr(res->msg.buf, "fails verification")) {
			struct kp_buf m = KP_BUF_INIT;
			kp_buf_addf(&m, "refusing to restore: %s", res->msg.buf);
			kp_buf_reset(&res->msg);
			kp_buf_addstr(&res->msg, m.buf);
			kp_buf_release(&m);
		}
		return rc;
	}
	rc = read_cfg(ctx, res, &s->cfg, &ok, err);
	if (rc || !ok)
		return rc;
	const char *dd = kp_arg_str(ctx, "data_dir");
	if (dd) {
		s->data_dir = kp_xstrdup(dd);
	} else {
		char ts[32];
		struct kp_buf b = KP_BUF_INIT;
		kp_etcd_snap_stamp(ts);
		kp_buf_addf(&b, "%s-restored-%s", s->cfg.data_dir, ts);
		s->data_dir = kp_buf_detach(&b, NULL);
	}
	kp_exec_res_init(&r);
	kp_buf_addstr(&cmd, "d=");
	kp_sh_quote(&cmd, s->data_dir);
	kp_buf_addstr(&cmd, "; if [ -e \"$d\" ] && [ ! -d \"$d\" ]; then echo file; "
			    "elif [ -d \"$d\" ] && [ -n \"$(ls -A \"$d\")\" ]; then echo nonempty; "
			    "else echo ok; fi");
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 30000, &r, &ok, err);
	if (!rc && ok && strncmp(r.out.buf, "ok", 2)) {
		kp_mod_failf(
		    res, "refusing to restore into '%s' on %s: it %s (give a new 'data_dir')",
		    s->data_dir, ctx->host,
		    r.out.buf[0] == 'f' ? "is not a directory" : "exists and is not empty");
	} else if (!rc && ok) {
		res->changed = true;
		stopped_path(&s->cfg, &stopped);
		kp_buf_addf(&res->msg,
			    "%s '%s' (sha256 %.12s…) into %s on %s: %s, etcdctl snapshot restore, "
			    "%s data dir %s -> %s, start etcd, wait until healthy",
			    ctx->check_mode ? "would restore" : "restoring",
			    s->on_node ? s->node_path : s->snapshot, s->sha, s->data_dir, ctx->host,
			    s->cfg.manifest ? "move the static pod manifest out"
					    : "systemctl stop etcd",
			    s->cfg.path, s->cfg.data_dir, s->data_dir);
	}
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&stopped);
	return rc;
}

static void add_flag(struct kp_buf *cmd, const char *flag, const char *v)
{
	if (!v || !*v)
		return;
	struct kp_buf w = KP_BUF_INIT;
	kp_buf_addf(&w, "%s=%s", flag, v);
	kp_buf_addch(cmd, ' ');
	kp_sh_quote(cmd, w.buf);
	kp_buf_release(&w);
}

static kp_rc wait_healthy(struct kp_modctx *ctx, struct kp_result *res, bool *ok,
			  struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_buf_addf(&cmd, "i=0; while [ $i -lt %d ]; do ", HEALTHY_WAIT_S * 2);
	kp_etcdctl_cmd(ctx, NULL, &cmd);
	kp_buf_addstr(&cmd, " --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null "
			    "2>&1 && exit 0; i=$((i + 1)); sleep 0.5; done; ");
	kp_etcdctl_cmd(ctx, NULL, &cmd);
	kp_buf_addstr(&cmd, " endpoint health");
	kp_rc rc = kp_etcd_snap_sh(ctx, res, cmd.buf, (HEALTHY_WAIT_S + 30) * 1000, &r, ok, err);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

kp_rc kp_etcd_snap_restore_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct etcd_cfg *c = &s->cfg;
	struct kp_buf cmd = KP_BUF_INIT, stopped = KP_BUF_INIT, text = KP_BUF_INIT;
	struct kp_buf data = KP_BUF_INIT, e = KP_BUF_INIT;
	struct kp_exec_res r;
	int64_t rev = -1, keys = -1;
	bool ok, there, stopped_etcd = false;
	kp_rc rc;

	kp_exec_res_init(&r);
	/* 1. the snapshot on the node */
	rc = node_copy(ctx, s, &there, err);
	if (rc)
		goto out;
	if (!there) {
		kp_buf_addstr(&cmd, "mkdir -p -m 0700 ");
		kp_sh_quote(&cmd, kp_arg_str(ctx, "remote_dir"));
		rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 30000, &r, &ok, err);
		if (rc || !ok)
			goto out;
		rc = kp_read_file(s->snapshot, SNAP_MAX, &data, err);
		if (rc)
			goto out;
		struct kp_put_opts po = {.mode = 0600};
		rc = ctx->conn->ops->put(ctx->conn, s->node_path, data.buf, data.len, &po, err);
		kp_buf_addf(&res->cmds, "put %s (%zu bytes)\n", s->node_path, data.len);
		if (rc)
			goto out;
		rc = node_copy(ctx, s, &there, err);
		if (rc)
			goto out;
		if (!there) {
			kp_mod_failf(res, "the snapshot uploaded to %s on %s has another SHA-256",
				     s->node_path, ctx->host);
			goto out;
		}
	}
	rc = kp_etcd_snap_node_status(ctx, res, s->node_path, &rev, &keys, &ok, err);
	if (rc || !ok)
		goto out;

	/* 2. stop etcd */
	kp_buf_reset(&cmd);
	stopped_path(c, &stopped);
	if (c->manifest) {
		kp_buf_addstr(&cmd, "mv -f ");
		kp_sh_quote(&cmd, c->path);
		kp_buf_addch(&cmd, ' ');
		kp_sh_quote(&cmd, stopped.buf);
		/* the kubelet stops the pod within its sync period */
		kp_buf_addstr(&cmd, " && i=0 && while pgrep -x etcd >/dev/null; do "
				    "i=$((i + 1)); [ $i -lt 240 ] || { echo 'etcd did not stop "
				    "within 120 s' >&2; exit 1; }; sleep 0.5; done");
	} else {
		kp_buf_addstr(&cmd, "systemctl stop etcd");
	}
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 150000, &r, &ok, err);
	if (rc || !ok)
		goto put_back;
	stopped_etcd = true;

	/* 3. restore */
	kp_buf_reset(&cmd);
	kp_buf_addstr(&cmd, "ETCDCTL_API=3 etcdctl snapshot restore ");
	kp_sh_quote(&cmd, s->node_path);
	add_flag(&cmd, "--data-dir", s->data_dir);
	const char *name = kp_arg_str(ctx, "name");
	const char *ic = kp_arg_str(ctx, "initial_cluster");
	const char *tok = kp_arg_str(ctx, "initial_cluster_token");
	const char *pu = kp_arg_str(ctx, "initial_advertise_peer_urls");
	add_flag(&cmd, "--name", name ? name : c->name);
	add_flag(&cmd, "--initial-cluster", ic ? ic : c->initial_cluster);
	add_flag(&cmd, "--initial-cluster-token", tok ? tok : c->token);
	add_flag(&cmd, "--initial-advertise-peer-urls", pu ? pu : c->peer_urls);
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, ETCDCTL_TIMEOUT_MS, &r, &ok, err);
	if (rc || !ok)
		goto put_back;

	/* 4. point the configuration at the new data dir, 5. start etcd */
	switch_data_dir(c, s->data_dir, &text);
	struct kp_put_opts po = {
	    .mode = (int)c->st.mode, .owner = c->st.owner, .group = c->st.group};
	rc = ctx->conn->ops->put(ctx->conn, c->path, text.buf, text.len, &po, err);
	kp_buf_addf(&res->cmds, "put %s (data dir %s -> %s)\n", c->path, c->data_dir, s->data_dir);
	if (rc)
		goto put_back;
	kp_buf_reset(&cmd);
	if (c->manifest) {
		kp_buf_addstr(&cmd, "rm -f ");
		kp_sh_quote(&cmd, stopped.buf);
	} else {
		kp_buf_addstr(&cmd, "systemctl start etcd");
	}
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 60000, &r, &ok, err);
	if (rc || !ok)
		goto out;
	stopped_etcd = false;

	/* 6. healthy */
	rc = wait_healthy(ctx, res, &ok, err);
	if (rc || !ok) {
		if (!rc)
			kp_buf_addf(&res->msg, " (etcd restored into %s but not healthy)",
				    s->data_dir);
		goto out;
	}
	kp_etcd_snap_set_facts(res, s->node_path, s->sha, s->size, rev, keys);
	kp_map_set_take(res->facts, "data_dir", kp_value_str(s->data_dir));
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg,
		    "restored '%s' (revision %" PRId64 ", %" PRId64 " keys) into %s on %s; %s "
		    "points at it; etcd is healthy",
		    s->on_node ? s->node_path : s->snapshot, rev, keys, s->data_dir, ctx->host,
		    c->path);
	goto out;

put_back:
	/* leave etcd as it was: running on its old data */
	if (stopped_etcd || c->manifest) {
		struct kp_exec_res r2;
		struct kp_buf back = KP_BUF_INIT;
		kp_exec_res_init(&r2);
		if (c->manifest) {
			kp_buf_addstr(&back, "[ ! -e ");
			kp_sh_quote(&back, stopped.buf);
			kp_buf_addstr(&back, " ] || mv -f ");
			kp_sh_quote(&back, stopped.buf);
			kp_buf_addch(&back, ' ');
			kp_sh_quote(&back, c->path);
		} else {
			kp_buf_addstr(&back, "systemctl start etcd");
		}
		struct kp_exec_req req = {.cmd = back.buf, .timeout_ms = 60000};
		kp_mod_exec(ctx, res, &req, &r2, &e);
		kp_exec_res_release(&r2);
		kp_buf_release(&back);
		if (res->failed)
			kp_buf_addstr(&res->msg, " (etcd was put back on its old data)");
	}
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&stopped);
	kp_buf_release(&text);
	kp_buf_release(&data);
	kp_buf_release(&e);
	return rc;
}
