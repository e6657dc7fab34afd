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

/* The newest snapshot in dest/<host>/ on the controller; for a whole-cluster
 * restore (step stop or start) the newest of every play host's, so that
 * every member restores the same one. NULL: the task has failed. */
static char *newest_snapshot(struct kp_modctx *ctx, struct kp_result *res)
{
	const struct kp_value *hosts = kp_mod_var(ctx, "play_hosts");
	bool cluster = strcmp(kp_arg_str(ctx, "step"), "all") != 0;
	size_t nh = cluster && hosts && hosts->type == KP_V_LIST ? kp_list_len(hosts) : 0;
	char *best = NULL, *best_name = NULL, *first_dir = NULL;
	for (size_t i = 0; i < (nh ? nh : 1); i++) {
		const struct kp_value *h = nh ? kp_list_at(hosts, i) : NULL;
		const char *host = h && h->type == KP_V_STR ? h->u.str.s : ctx->host;
		char *dir = kp_mod_store_dir(ctx, "dest", host), **names;
		size_t n;
		kp_etcd_snap_local_snaps(dir, &names, &n);
		if (n && (!best_name || strcmp(names[n - 1], best_name) > 0)) {
			struct kp_buf p = KP_BUF_INIT;
			kp_buf_addf(&p, "%s/%s", dir, names[n - 1]);
			free(best);
			free(best_name);
			best = kp_buf_detach(&p, NULL);
			best_name = kp_xstrdup(names[n - 1]);
		}
		kp_etcd_snap_free_list(names, n);
		if (!first_dir)
			first_dir = dir;
		else
			free(dir);
	}
	if (!best)
		kp_mod_failf(res, "no snapshot in '%s/'%s on the controller: give 'snapshot'",
			     first_dir, nh > 1 ? " (nor any other member's)" : "");
	free(first_dir);
	free(best_name);
	return best;
}

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
		s->snapshot = newest_snapshot(ctx, res);
		if (!s->snapshot)
			return KP_OK;
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

kp_rc kp_etcd_snap_node_copy(struct kp_modctx *ctx, struct state *s, bool *there,
			     struct kp_buf *err)
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
	rc = kp_etcd_snap_node_copy(ctx, s, &there, err);
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

/* ---- restore: the configuration ------------------------------------------------------ */

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
void kp_etcd_switch_data_dir(const struct etcd_cfg *c, const char *new_dir, struct kp_buf *out)
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

/* out of the kubelet's manifest directory, beside it */
static char *stopped_path(const char *path)
{
	struct kp_buf out = KP_BUF_INIT;
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) : 0;
	const char *up = dl ? memrchr(path, '/', dl) : NULL;
	if (up && up > path)
		kp_buf_add(&out, path, (size_t)(up - path));
	else
		kp_buf_addstr(&out, "/tmp");
	kp_buf_addf(&out, "/%s.kplan-stopped", slash ? slash + 1 : path);
	return kp_buf_detach(&out, NULL);
}

/* How etcd runs: the static pod manifest (in place, or moved out by step
 * stop), else /etc/etcd.env; its settings. */
static kp_rc read_cfg(struct kp_modctx *ctx, struct kp_result *res, struct etcd_cfg *c, bool *ok,
		      struct kp_buf *err)
{
	const char *manifest = kp_arg_str(ctx, "manifest");
	struct kp_buf text = KP_BUF_INIT;
	const char *from;
	kp_rc rc;
	*ok = false;
	c->stopped = stopped_path(manifest);
	rc = ctx->conn->ops->stat(ctx->conn, manifest, false, &c->st, err);
	if (!rc && !c->st.exists) {
		rc = ctx->conn->ops->stat(ctx->conn, c->stopped, false, &c->st, err);
		c->moved_out = !rc && c->st.exists;
	}
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
	from = c->moved_out ? c->stopped : c->path;
	rc = ctx->conn->ops->get(ctx->conn, from, 1 << 20, &text, err);
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

/* ---- restore: the probe -------------------------------------------------------------- */

/* A multi-member cluster cannot take one member restored alone: the
 * restored member's raft log starts over, and the live leader's commit
 * index is past it (etcd panics: "tocommit(N) is out of range"). */
static bool refuse_members(struct kp_modctx *ctx, struct kp_result *res, struct state *s,
			   bool cluster)
{
	const char *ic = kp_arg_str(ctx, "initial_cluster");
	const struct kp_value *hosts = kp_mod_var(ctx, "play_hosts");
	size_t nh = hosts && hosts->type == KP_V_LIST ? kp_list_len(hosts) : 1;
	if (!ic)
		ic = s->cfg.initial_cluster;
	s->members = kp_etcd_initial_cluster_size(ic);
	if (!cluster && s->members > 1) {
		kp_mod_failf(res,
			     "refusing to restore %s alone: it is one of the %d members of an etcd "
			     "cluster (%s); a member restored from a snapshot into its live "
			     "cluster crashes (etcd panics: its leader's commit index is past the "
			     "restored log); restore every member from one snapshot instead "
			     "(step: stop, then step: start, on all members: "
			     "playbooks/restore-etcd.yml)",
			     ctx->host, s->members, ic);
		return true;
	}
	if (cluster && s->members > 0 && (size_t)s->members != nh) {
		kp_mod_failf(res,
			     "refusing to restore %zu of the %d members of the etcd cluster (%s): "
			     "every member is restored from the same snapshot at once (the play's "
			     "hosts must be all the members, in one batch)",
			     nh, s->members, ic);
		return true;
	}
	return false;
}

kp_rc kp_etcd_snap_restore_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	const char *step = kp_arg_str(ctx, "step");
	bool cluster = strcmp(step, "all") != 0;
	struct kp_exec_res r;
	struct kp_buf cmd = KP_BUF_INIT, rcmd = KP_BUF_INIT;
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
	if (rc || !ok || refuse_members(ctx, res, s, cluster))
		return rc;
	const char *dd = kp_arg_str(ctx, "data_dir");
	if (dd) {
		s->data_dir = kp_xstrdup(dd);
	} else {
		char ts[32];
		struct kp_buf b = KP_BUF_INIT;
		kp_etcd_snap_stamp(ts);
		/* beside the original directory, also when restoring again */
		const char *again = strstr(s->cfg.data_dir, "-restored-");
		kp_buf_addf(
		    &b, "%.*s-restored-%s",
		    (int)(again ? (size_t)(again - s->cfg.data_dir) : strlen(s->cfg.data_dir)),
		    s->cfg.data_dir, ts);
		s->data_dir = kp_buf_detach(&b, NULL);
	}
	/* the data directory must not exist at all: etcdctl and etcdutl refuse
	 * an existing one (empty or not), and that must show before etcd stops */
	kp_exec_res_init(&r);
	kp_buf_addstr(&cmd, "d=");
	kp_sh_quote(&cmd, s->data_dir);
	kp_buf_addstr(&cmd, "; if [ -e \"$d\" ] || [ -L \"$d\" ]; then echo exists; else echo new; "
			    "fi; if command -v etcdutl >/dev/null 2>&1; then echo etcdutl; else "
			    "echo etcdctl; fi");
	if (!s->cfg.manifest)
		kp_buf_addstr(&cmd, "; systemctl is-active etcd 2>/dev/null || :");
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 30000, &r, &ok, err);
	if (rc || !ok)
		goto out;
	const char *o = r.out.buf;
	s->tool = kp_xstrndup(o + strcspn(o, "\n") + 1, strcspn(o + strcspn(o, "\n") + 1, "\n"));
	bool running = s->cfg.manifest ? !s->cfg.moved_out : strstr(o, "\nactive") != NULL;
	if (!strncmp(o, "exists", 6)) {
		kp_mod_failf(res,
			     "refusing to restore into '%s' on %s: it exists (etcd restores only "
			     "into a new directory; give a new 'data_dir')",
			     s->data_dir, ctx->host);
		goto out;
	}
	if (!strcmp(step, "start") && running && !ctx->check_mode) {
		kp_mod_failf(res,
			     "etcd is running on %s: a whole-cluster restore stops every member "
			     "first (step: stop on all of them), then starts them (step: start)",
			     ctx->host);
		goto out;
	}
	bool there;
	if ((rc = kp_etcd_snap_node_copy(ctx, s, &there, err)))
		goto out;
	res->changed = true;
	const char *name = kp_arg_str(ctx, "name");
	const char *ic = kp_arg_str(ctx, "initial_cluster");
	const char *tok = kp_arg_str(ctx, "initial_cluster_token");
	const char *pu = kp_arg_str(ctx, "initial_advertise_peer_urls");
	kp_etcd_restore_cmd(s->tool, s->node_path, s->data_dir, name ? name : s->cfg.name,
			    ic ? ic : s->cfg.initial_cluster, tok ? tok : s->cfg.token,
			    pu ? pu : s->cfg.peer_urls, &rcmd);
	const char *shown = s->on_node ? s->node_path : s->snapshot;
	const char *how =
	    s->cfg.manifest ? "move the static pod manifest out" : "systemctl stop etcd";
	if (!strcmp(step, "stop"))
		kp_buf_addf(&res->msg,
			    "%s etcd on %s (%s; member %s of %d) to restore the cluster from '%s' "
			    "(sha256 %.12s…)",
			    ctx->check_mode ? "would stop" : "stopping", ctx->host, how,
			    s->cfg.name ? s->cfg.name : ctx->host, s->members, shown, s->sha);
	else
		kp_buf_addf(&res->msg,
			    "%s '%s' (sha256 %.12s…) into %s on %s: %s%s%s, %s data dir %s -> %s, "
			    "start etcd%s, wait until healthy",
			    ctx->check_mode ? "would restore" : "restoring", shown, s->sha,
			    s->data_dir, ctx->host, cluster ? "" : how, cluster ? "" : ", ",
			    rcmd.buf, s->cfg.path, s->cfg.data_dir, s->data_dir,
			    cluster ? " with the other members" : "");
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&rcmd);
	return rc;
}
