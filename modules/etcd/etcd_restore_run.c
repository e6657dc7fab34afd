/*
 * etcd_restore_run.c - what the etcd-snapshot module's restore does once
 * its probe (etcd_restore.c) found nothing to refuse, by etcd's
 * disaster-recovery procedure: every member of a cluster is restored from
 * the same snapshot, with its own --name and --initial-advertise-peer-urls
 * and the cluster's --initial-cluster and --initial-cluster-token, into a
 * new data directory; the members are all stopped before any of them is
 * restored and started.
 *
 * step all (a single-member cluster): upload, stop, restore, start, wait.
 * step stop (every member first): upload the snapshot and check it there,
 * stop etcd. step start (every member next): restore, point the
 * configuration at the new data directory, start etcd, wait until healthy.
 * A member that does not come back is reported with etcd's own log line,
 * and its configuration is put back on the previous data directory.
 */
#include "modules/etcd/etcd_snapshot_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void kp_etcd_restore_cmd(const char *tool, const char *snapshot, const char *data_dir,
			 const char *name, const char *initial_cluster, const char *token,
			 const char *peer_urls, struct kp_buf *out)
{
	if (tool && !strcmp(tool, "etcdutl"))
		kp_buf_addstr(out, "etcdutl snapshot restore ");
	else
		kp_buf_addstr(out, "ETCDCTL_API=3 etcdctl snapshot restore ");
	kp_sh_quote(out, snapshot);
	add_flag(out, "--data-dir", data_dir);
	add_flag(out, "--name", name);
	add_flag(out, "--initial-cluster", initial_cluster);
	add_flag(out, "--initial-cluster-token", token);
	add_flag(out, "--initial-advertise-peer-urls", peer_urls);
}

int kp_etcd_initial_cluster_size(const char *ic)
{
	int n = 0;
	for (const char *p = ic; p && *p;) {
		size_t len = strcspn(p, ",");
		if (memchr(p, '=', len))
			n++;
		p += len;
		if (*p)
			p++;
	}
	return n;
}

static bool has_any(const char *l, size_t len, const char *const *words)
{
	for (size_t i = 0; words[i]; i++) {
		size_t wl = strlen(words[i]);
		for (size_t j = 0; j + wl <= len; j++)
			if (!memcmp(l + j, words[i], wl))
				return true;
	}
	return false;
}

void kp_etcd_log_reason(const char *log, struct kp_buf *out)
{
	static const char *const fatal[] = {"panic:", " C | ", "\"level\":\"fatal\"",
					    "\"level\":\"panic\"", NULL};
	static const char *const error[] = {" E | ", "\"level\":\"error\"", NULL};
	const char *best[3] = {NULL}; /* fatal, error, any */
	size_t blen[3] = {0};
	for (const char *l = log ? log : ""; *l;) {
		size_t len = strcspn(l, "\n");
		while (len && (l[len - 1] == '\r' || l[len - 1] == ' '))
			len--;
		if (len) {
			int k = has_any(l, len, fatal) ? 0 : has_any(l, len, error) ? 1 : 2;
			for (int i = k; i < 3; i++)
				if (i == k || i == 2)
					best[i] = l, blen[i] = len;
		}
		l += strcspn(l, "\n");
		if (*l)
			l++;
	}
	for (int i = 0; i < 3; i++)
		if (best[i]) {
			kp_buf_add(out, best[i], blen[i]);
			return;
		}
}

/* ---- the steps ------------------------------------------------------------------------ */

/* The snapshot on the node (uploaded when it is not there), and its
 * revision and keys by etcdctl. */
static kp_rc upload(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool *ok,
		    struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT, data = KP_BUF_INIT;
	struct kp_exec_res r;
	bool there;
	kp_exec_res_init(&r);
	*ok = false;
	kp_rc rc = kp_etcd_snap_node_copy(ctx, s, &there, err);
	if (!rc && !there) {
		kp_buf_addstr(&cmd, "mkdir -p -m 0700 ");
		kp_sh_quote(&cmd, kp_arg_str(ctx, "remote_dir"));
		rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 30000, &r, ok, err);
		if (rc || !*ok)
			goto out;
		*ok = false;
		if ((rc = kp_read_file(s->snapshot, SNAP_MAX, &data, err)))
			goto out;
		struct kp_put_opts po = {.mode = 0600};
		rc = ctx->conn->ops->put(ctx->conn, s->node_path, data.buf, data.len, &po, err);
		kp_buf_addf(&res->cmds, "put %s (%zu bytes)\n", s->node_path, data.len);
		if (!rc)
			rc = kp_etcd_snap_node_copy(ctx, s, &there, err);
		if (!rc && !there) {
			kp_mod_failf(res, "the snapshot uploaded to %s on %s has another SHA-256",
				     s->node_path, ctx->host);
			goto out;
		}
	}
	if (!rc)
		rc = kp_etcd_snap_node_status(ctx, res, s->node_path, &s->rev, &s->keys, ok, err);
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&data);
	return rc;
}

static kp_rc stop_etcd(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool *ok,
		       struct kp_buf *err)
{
	struct etcd_cfg *c = &s->cfg;
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	if (c->manifest && !c->moved_out) {
		kp_buf_addstr(&cmd, "mv -f ");
		kp_sh_quote(&cmd, c->path);
		kp_buf_addch(&cmd, ' ');
		kp_sh_quote(&cmd, c->stopped);
		/* the kubelet stops the pod within its sync period */
		kp_buf_addstr(&cmd, " && i=0 && while pgrep -x etcd >/dev/null; do "
				    "i=$((i + 1)); [ $i -lt 240 ] || { echo 'etcd did not stop "
				    "within 120 s' >&2; exit 1; }; sleep 0.5; done");
	} else if (c->manifest) {
		kp_buf_addstr(&cmd, "! pgrep -x etcd >/dev/null || { echo 'etcd is running' >&2; "
				    "exit 1; }");
	} else {
		kp_buf_addstr(&cmd, "systemctl stop etcd");
	}
	kp_rc rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 150000, &r, ok, err);
	if (!rc && *ok && c->manifest)
		c->moved_out = true;
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

/* Write the configuration `text` in place and start etcd on it. */
static kp_rc start_etcd(struct kp_modctx *ctx, struct kp_result *res, struct state *s,
			const char *text, bool *ok, struct kp_buf *err)
{
	struct etcd_cfg *c = &s->cfg;
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	struct kp_put_opts po = {
	    .mode = (int)c->st.mode, .owner = c->st.owner, .group = c->st.group};
	*ok = false;
	kp_rc rc = ctx->conn->ops->put(ctx->conn, c->path, text, strlen(text), &po, err);
	kp_buf_addf(&res->cmds, "put %s\n", c->path);
	if (rc)
		goto out;
	if (c->manifest) {
		kp_buf_addstr(&cmd, "rm -f ");
		kp_sh_quote(&cmd, c->stopped);
	} else {
		kp_buf_addstr(&cmd, "systemctl start etcd");
	}
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 60000, &r, ok, err);
	if (!rc && *ok)
		c->moved_out = false;
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

/* The configuration back on the previous data directory, etcd started on
 * it; " (...)" for the message. */
static void put_back(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool restarting)
{
	struct kp_buf e = KP_BUF_INIT;
	struct kp_exec_res r;
	bool ok;
	kp_exec_res_init(&r);
	if (restarting && !s->cfg.manifest) {
		struct kp_exec_req req = {.cmd = "systemctl stop etcd", .timeout_ms = 60000};
		kp_mod_exec(ctx, res, &req, &r, &e);
	}
	bool failed = res->failed;
	struct kp_buf msg = KP_BUF_INIT;
	kp_buf_addstr(&msg, res->msg.buf);
	kp_rc rc = start_etcd(ctx, res, s, s->cfg.text, &ok, &e);
	res->failed = failed;
	kp_buf_reset(&res->msg);
	kp_buf_addstr(&res->msg, msg.buf);
	if (!rc && ok)
		kp_buf_addf(&res->msg, "; %s points at the previous data directory %s again",
			    s->cfg.path, s->cfg.data_dir);
	else
		kp_buf_addf(&res->msg, "; putting %s back on %s failed too: %s", s->cfg.path,
			    s->cfg.data_dir, rc ? e.buf : "see stderr");
	res->changed = true;
	kp_buf_release(&msg);
	kp_buf_release(&e);
	kp_exec_res_release(&r);
}

/* Wait until the member answers healthy (the `endpoints` argument); when it
 * does not, fail the task with etcd's own log line. since: the node's
 * clock when etcd was started. */
static kp_rc wait_healthy(struct kp_modctx *ctx, struct kp_result *res, struct state *s,
			  const char *since, bool *ok, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT, why = KP_BUF_INIT;
	struct kp_exec_res r;
	int64_t secs = 120;
	const struct kp_value *t = kp_arg(ctx, "timeout");
	if (t && t->type == KP_V_INT && t->u.i > 0)
		secs = t->u.i;
	kp_exec_res_init(&r);
	kp_buf_addf(&cmd, "i=0; while [ $i -lt %" PRId64 " ]; do ", secs * 2);
	kp_etcdctl_cmd(ctx, NULL, &cmd);
	kp_buf_addstr(&cmd, " --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null "
			    "2>&1 && exit 0; ");
	if (!s->cfg.manifest)
		kp_buf_addstr(&cmd, "case $(systemctl is-active etcd 2>/dev/null) in failed | "
				    "inactive) exit 3 ;; esac; ");
	kp_buf_addstr(&cmd, "i=$((i + 1)); sleep 0.5; done; exit 4");
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = (secs + 30) * 1000};
	kp_rc rc = kp_mod_exec(ctx, res, &req, &r, err);
	*ok = !rc && r.rc == 0;
	if (rc || *ok)
		goto out;
	/* etcd's own words */
	kp_buf_reset(&cmd);
	if (s->cfg.manifest) {
		kp_buf_addstr(&cmd, "f=$(ls -t $(find /var/log/pods /var/log/containers -path "
				    "'*etcd*' -name '*.log' 2>/dev/null) 2>/dev/null | head -n 1); "
				    "[ -z \"$f\" ] || tail -n 300 \"$f\"");
	} else {
		kp_buf_addf(&cmd,
			    "journalctl -u etcd --no-pager -o cat --since @%s 2>/dev/null | "
			    "tail -n 300",
			    since);
	}
	struct kp_exec_res lr;
	kp_exec_res_init(&lr);
	struct kp_exec_req lq = {.cmd = cmd.buf, .timeout_ms = 30000};
	kp_buf_addf(&res->cmds, "%s\n", cmd.buf);
	if (!ctx->conn->ops->exec(ctx->conn, &lq, &lr, err))
		kp_etcd_log_reason(lr.out.buf, &why);
	kp_exec_res_release(&lr);
	kp_mod_failf(res, "etcd on %s did not come back on the restored data in %s: %s%s",
		     ctx->host, s->data_dir,
		     r.rc == 3 ? "it exited" : "not healthy within the timeout", "");
	if (why.len)
		kp_buf_addf(&res->msg, " (etcd: %s)", why.buf);
	else
		kp_buf_addstr(&res->msg, " (etcd logged nothing)");
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&why);
	return rc;
}

/* The node's clock, for reading etcd's log from then on. */
static void node_now(struct kp_modctx *ctx, char out[32])
{
	struct kp_exec_res r;
	struct kp_buf e = KP_BUF_INIT;
	struct kp_exec_req req = {.cmd = "date +%s", .timeout_ms = 10000};
	kp_exec_res_init(&r);
	snprintf(out, 32, "0");
	if (!ctx->conn->ops->exec(ctx->conn, &req, &r, &e) && r.rc == 0)
		snprintf(out, 32, "%.*s", (int)strspn(r.out.buf, "0123456789"), r.out.buf);
	kp_exec_res_release(&r);
	kp_buf_release(&e);
}

/* Restore into the new data directory, start etcd on it, wait. */
static kp_rc restore_start(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool *ok,
			   struct kp_buf *err)
{
	struct etcd_cfg *c = &s->cfg;
	struct kp_buf cmd = KP_BUF_INIT, text = KP_BUF_INIT;
	struct kp_exec_res r;
	char since[32];
	kp_exec_res_init(&r);
	const char *name = kp_arg_str(ctx, "name");
	const char *ic = kp_arg_str(ctx, "initial_cluster");
	const char *tok = kp_arg_str(ctx, "initial_cluster_token");
	const char *pu = kp_arg_str(ctx, "initial_advertise_peer_urls");
	kp_etcd_restore_cmd(s->tool, s->node_path, s->data_dir, name ? name : c->name,
			    ic ? ic : c->initial_cluster, tok ? tok : c->token,
			    pu ? pu : c->peer_urls, &cmd);
	kp_rc rc = kp_etcd_snap_sh(ctx, res, cmd.buf, ETCDCTL_TIMEOUT_MS, &r, ok, err);
	if (rc || !*ok) {
		if (!rc)
			put_back(ctx, res, s, false);
		goto out;
	}
	kp_etcd_switch_data_dir(c, s->data_dir, &text);
	kp_buf_addf(&res->cmds, "# %s: data dir %s -> %s\n", c->path, c->data_dir, s->data_dir);
	node_now(ctx, since);
	rc = start_etcd(ctx, res, s, text.buf, ok, err);
	if (!rc && *ok)
		rc = wait_healthy(ctx, res, s, since, ok, err);
	if (!rc && !*ok)
		put_back(ctx, res, s, true);
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&text);
	return rc;
}

kp_rc kp_etcd_snap_restore_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	const char *step = kp_arg_str(ctx, "step");
	const char *shown = s->on_node ? s->node_path : s->snapshot;
	bool ok;
	kp_rc rc;

	s->rev = s->keys = -1;
	rc = upload(ctx, res, s, &ok, err);
	if (rc || !ok)
		return rc;
	kp_buf_reset(&res->msg);
	if (strcmp(step, "start")) {
		rc = stop_etcd(ctx, res, s, &ok, err);
		if (rc || !ok) {
			if (!rc)
				put_back(ctx, res, s, false);
			return rc;
		}
	}
	if (!strcmp(step, "stop")) {
		kp_etcd_snap_set_facts(res, s->node_path, s->sha, s->size, s->rev, s->keys);
		kp_buf_addf(&res->msg,
			    "stopped etcd on %s (member %s of %d) for the restore of '%s' "
			    "(revision %" PRId64 ", %" PRId64 " keys), which is at %s",
			    ctx->host, s->cfg.name ? s->cfg.name : ctx->host, s->members, shown,
			    s->rev, s->keys, s->node_path);
		return KP_OK;
	}
	rc = restore_start(ctx, res, s, &ok, err);
	if (rc || !ok)
		return rc;
	kp_etcd_snap_set_facts(res, s->node_path, s->sha, s->size, s->rev, s->keys);
	kp_map_set_take(res->facts, "data_dir", kp_value_str(s->data_dir));
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg,
		    "restored '%s' (revision %" PRId64 ", %" PRId64 " keys) into %s on %s; %s "
		    "points at it; etcd is healthy",
		    shown, s->rev, s->keys, s->data_dir, ctx->host, s->cfg.path);
	return KP_OK;
}
