/*
 * etcd_snapshot.c - save, verify, restore, list and prune etcd snapshots.
 * This file has the module, save, list and prune; finding, verifying and
 * restoring a snapshot are in etcd_restore.c, and etcd_snapshot_int.h is
 * what the two share.
 *
 * A snapshot is etcd's bbolt database followed by a 32-byte SHA-256 of it
 * (etcd appends it when it streams the snapshot); verify checks that trailer
 * with OpenSSL (etcdutil.c), because `etcdctl snapshot status` happily
 * reports on a truncated or corrupt file. Snapshots are named
 * snapshot-YYYYmmddTHHMMSSZ.db, on the node in remote_dir and on the
 * controller in dest/<host>/, so that name order is time order for list
 * and prune.
 *
 * save runs etcdctl on the node and fetches the file (both SHA-256s must
 * agree); method api streams /v3/maintenance/snapshot from the controller
 * through etcd's gRPC gateway (JSON chunks {"result":{"blob":BASE64}},
 * decoded with OpenSSL's EVP base64) with the node's client certificate.
 */
#include "modules/etcd/etcd_snapshot_int.h"
#include "modules/lib/store.h"
#include "kube/kubeapi.h"

#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char *const actions[] = {"save", "verify", "restore", "list", "prune", NULL};
static const char *const methods[] = {"etcdctl", "api", NULL};
static const char *const steps[] = {"all", "stop", "start", NULL};

static const struct kp_argspec args[] = {
    {.name = "action", .type = KP_T_STR, .def = "save", .choices = actions, .help = "what to do"},
    {.name = "dest",
     .type = KP_T_PATH,
     .def = "backups/etcd/",
     .help = "directory on the controller"},
    {.name = "remote_dir",
     .type = KP_T_PATH,
     .def = "/var/backups/kplan",
     .help = "directory on the node"},
    {.name = "fetch",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "copy the snapshot to the controller"},
    {.name = "keep", .type = KP_T_INT, .def = "5", .help = "snapshots kept by prune"},
    {.name = "endpoints",
     .type = KP_T_STR_OR_LIST,
     .def = "https://127.0.0.1:2379",
     .help = "etcd client URLs"},
    {.name = "cacert",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/ca.crt",
     .help = "etcd CA certificate on the node"},
    {.name = "cert",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
     .help = "etcd client certificate on the node"},
    {.name = "key",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/healthcheck-client.key",
     .help = "etcd client key on the node"},
    {.name = "method",
     .type = KP_T_STR,
     .def = "etcdctl",
     .choices = methods,
     .help = "etcdctl on the node, or the API from the controller"},
    {.name = "snapshot", .type = KP_T_PATH, .help = "snapshot file (verify, restore)"},
    {.name = "data_dir", .type = KP_T_PATH, .help = "new data directory (restore; must not exist)"},
    {.name = "name", .type = KP_T_STR, .help = "member name (restore)"},
    {.name = "initial_cluster", .type = KP_T_STR, .help = "initial cluster (restore)"},
    {.name = "initial_cluster_token", .type = KP_T_STR, .help = "initial cluster token (restore)"},
    {.name = "initial_advertise_peer_urls",
     .type = KP_T_STR,
     .help = "initial advertise peer URLs (restore)"},
    {.name = "step",
     .type = KP_T_STR,
     .def = "all",
     .choices = steps,
     .help = "restore: all (a single-member cluster), or a whole cluster from one "
	     "snapshot: stop on every member, then start on every member"},
    {.name = "timeout",
     .type = KP_T_INT,
     .def = "120",
     .help = "restore: seconds to wait for the member to be healthy"},
    {.name = "manifest",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/manifests/etcd.yaml",
     .help = "etcd static pod manifest"},
    {0},
};

static void cfg_release(struct etcd_cfg *c)
{
	free(c->path);
	free(c->text);
	free(c->data_dir);
	free(c->name);
	free(c->initial_cluster);
	free(c->token);
	free(c->peer_urls);
	free(c->stopped);
}

void kp_etcd_snap_free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static void state_free(void *arg)
{
	struct state *s = arg;
	free(s->snapshot);
	free(s->node_path);
	free(s->data_dir);
	free(s->tool);
	cfg_release(&s->cfg);
	kp_etcd_snap_free_list(s->prune_node, s->nprune_node);
	kp_etcd_snap_free_list(s->prune_local, s->nprune_local);
	free(s);
}

/* ---- small helpers ----------------------------------------------------------- */

/* UTC with milliseconds: two snapshots in one second get different names,
 * and name order stays time order */
void kp_etcd_snap_stamp(char out[32])
{
	struct timespec ts;
	struct tm tm;
	char s[24];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y%m%dT%H%M%S", &tm);
	snprintf(out, 32, "%.16s.%03dZ", s, (int)(ts.tv_nsec / 1000000) % 1000);
}

static bool snap_name(const char *n)
{
	size_t l = strlen(n);
	return !strncmp(n, "snapshot-", 9) && l > 12 && !strcmp(n + l - 3, ".db");
}

/* The snapshot names in a controller directory, sorted (oldest first). */
void kp_etcd_snap_local_snaps(const char *dir, char ***out, size_t *n)
{
	size_t cap = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	*out = NULL;
	*n = 0;
	while (d && (e = readdir(d))) {
		if (!snap_name(e->d_name))
			continue;
		KP_GROW(*out, *n + 1, cap);
		(*out)[(*n)++] = kp_xstrdup(e->d_name);
	}
	if (d)
		closedir(d);
	for (size_t i = 1; i < *n; i++)
		for (size_t j = i; j > 0 && strcmp((*out)[j - 1], (*out)[j]) > 0; j--) {
			char *t = (*out)[j];
			(*out)[j] = (*out)[j - 1];
			(*out)[j - 1] = t;
		}
}

static void split_lines(const char *text, char ***out, size_t *n)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	for (const char *l = text; *l;) {
		size_t len = strcspn(l, "\n");
		if (len) {
			KP_GROW(*out, *n + 1, cap);
			(*out)[(*n)++] = kp_xstrndup(l, len);
		}
		l += len;
		if (*l)
			l++;
	}
}

kp_rc kp_etcd_snap_sh(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		      int64_t timeout, struct kp_exec_res *r, bool *ok, struct kp_buf *err)
{
	struct kp_exec_req req = {.cmd = cmd, .timeout_ms = timeout};
	kp_exec_res_release(r);
	kp_exec_res_init(r);
	kp_rc rc = kp_mod_exec(ctx, res, &req, r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd, r);
	return rc;
}

/* `etcdutl` or `etcdctl snapshot status PATH -w json` on the node: revision and keys */
kp_rc kp_etcd_snap_node_status(struct kp_modctx *ctx, struct kp_result *res, const char *path,
			       int64_t *rev, int64_t *keys, bool *ok, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	/* etcdutl where the node has it (etcd >= 3.5; etcdctl's is deprecated
	 * there and gone in 3.6), else etcdctl: the same JSON */
	kp_buf_addstr(&cmd, "if command -v etcdutl >/dev/null 2>&1; then etcdutl snapshot status ");
	kp_sh_quote(&cmd, path);
	kp_buf_addstr(&cmd, " -w json; else ETCDCTL_API=3 etcdctl snapshot status ");
	kp_sh_quote(&cmd, path);
	kp_buf_addstr(&cmd, " -w json; fi");
	kp_rc rc = kp_etcd_snap_sh(ctx, res, cmd.buf, ETCDCTL_TIMEOUT_MS, &r, ok, err);
	if (!rc && *ok) {
		cJSON *j = cJSON_Parse(r.out.buf);
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(j, "revision");
		const cJSON *tk = cJSON_GetObjectItemCaseSensitive(j, "totalKey");
		if (cJSON_IsNumber(rv) && cJSON_IsNumber(tk)) {
			*rev = (int64_t)rv->valuedouble;
			*keys = (int64_t)tk->valuedouble;
		} else {
			kp_mod_failf(res, "cannot read the output of 'snapshot status' for '%s'",
				     path);
			*ok = false;
		}
		cJSON_Delete(j);
	}
	kp_buf_release(&cmd);
	kp_exec_res_release(&r);
	return rc;
}

void kp_etcd_snap_set_facts(struct kp_result *res, const char *path, const char *sha, int64_t size,
			    int64_t rev, int64_t keys)
{
	if (!res->facts)
		res->facts = kp_value_map();
	/* a controller path as an absolute one: it can be handed to a later
	 * task (verify, restore) whose relative paths resolve elsewhere */
	if (path[0] != '/') {
		char cwd[4096];
		struct kp_buf abs = KP_BUF_INIT;
		if (getcwd(cwd, sizeof(cwd)))
			kp_buf_addf(&abs, "%s/%s", cwd, path);
		else
			kp_buf_addstr(&abs, path);
		kp_map_set_take(res->facts, "path", kp_value_str(abs.buf));
		kp_buf_release(&abs);
	} else {
		kp_map_set_take(res->facts, "path", kp_value_str(path));
	}
	kp_map_set_take(res->facts, "sha256", kp_value_str(sha));
	kp_map_set_take(res->facts, "size", kp_value_int(size));
	kp_map_set_take(res->facts, "revision", rev >= 0 ? kp_value_int(rev) : kp_value_null());
	kp_map_set_take(res->facts, "total_keys", keys >= 0 ? kp_value_int(keys) : kp_value_null());
}

/* ---- save ---------------------------------------------------------------------- */

static kp_rc save_etcdctl(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *rd = kp_arg_str(ctx, "remote_dir");
	char ts[32];
	struct kp_buf remote = KP_BUF_INIT, cmd = KP_BUF_INIT, why = KP_BUF_INIT,
		      data = KP_BUF_INIT;
	struct kp_exec_res r;
	int64_t rev = -1, keys = -1, nsize = -1;
	char nsha[65] = "", lsha[65] = "";
	bool ok;
	kp_rc rc;

	kp_etcd_snap_stamp(ts);
	kp_buf_addf(&remote, "%s/snapshot-%s.db", rd, ts);
	kp_exec_res_init(&r);
	kp_buf_addstr(&cmd, "mkdir -p -m 0700 ");
	kp_sh_quote(&cmd, rd);
	kp_buf_addstr(&cmd, " && ");
	kp_etcdctl_cmd(ctx, NULL, &cmd);
	kp_buf_addstr(&cmd, " snapshot save ");
	kp_sh_quote(&cmd, remote.buf);
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, ETCDCTL_TIMEOUT_MS, &r, &ok, err);
	if (rc || !ok)
		goto out;
	rc = kp_etcd_snap_node_status(ctx, res, remote.buf, &rev, &keys, &ok, err);
	if (rc || !ok)
		goto out;
	kp_buf_reset(&cmd);
	kp_buf_addstr(&cmd, "stat -c %s ");
	kp_sh_quote(&cmd, remote.buf);
	kp_buf_addstr(&cmd, " && sha256sum ");
	kp_sh_quote(&cmd, remote.buf);
	rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 60000, &r, &ok, err);
	if (rc || !ok)
		goto out;
	if (sscanf(r.out.buf, "%" SCNd64 " %64s", &nsize, nsha) != 2) {
		kp_mod_failf(res, "cannot read the size and SHA-256 of '%s' on %s", remote.buf,
			     ctx->host);
		goto out;
	}
	res->changed = true;
	if (!kp_arg_bool(ctx, "fetch")) {
		kp_etcd_snap_set_facts(res, remote.buf, nsha, nsize, rev, keys);
		kp_buf_addf(&res->msg, "saved %s on %s (%" PRId64 " bytes, revision %" PRId64 ")",
			    remote.buf, ctx->host, nsize, rev);
		goto out;
	}
	rc = ctx->conn->ops->get(ctx->conn, remote.buf, SNAP_MAX, &data, err);
	if (rc)
		goto out;
	if (!kp_etcd_snapshot_check((unsigned char *)data.buf, data.len, lsha, &why)) {
		kp_mod_failf(res, "the snapshot saved on %s at %s fails verification: %s",
			     ctx->host, remote.buf, why.buf);
		goto out;
	}
	char *dir = kp_mod_store_dir(ctx, "dest", ctx->host);
	char *root = kp_mod_local_path(ctx, kp_arg_str(ctx, "dest"));
	struct kp_buf local = KP_BUF_INIT, rel = KP_BUF_INIT;
	kp_buf_addf(&local, "%s/snapshot-%s.db", dir, ts);
	kp_buf_addf(&rel, "%s/snapshot-%s.db", ctx->host, ts);
	free(dir);
	/* confined to the store: no link under it is followed */
	rc = kp_store_write(root, rel.buf, data.buf, data.len, 0600, 0700, err);
	free(root);
	kp_buf_release(&rel);
	if (!rc && strcmp(lsha, nsha))
		kp_mod_failf(res, "the copies differ: %s on %s has sha256 %s, %s has %s",
			     remote.buf, ctx->host, nsha, local.buf, lsha);
	else if (!rc) {
		struct kp_buf s = KP_BUF_INIT;
		kp_mod_short_sha(lsha, &s);
		kp_etcd_snap_set_facts(res, local.buf, lsha, (int64_t)data.len, rev, keys);
		kp_map_set_take(res->facts, "remote_path", kp_value_str(remote.buf));
		kp_buf_addf(&res->msg,
			    "saved %s (%zu bytes, revision %" PRId64 ", %" PRId64
			    " keys, sha256 %s) and fetched it to %s",
			    remote.buf, data.len, rev, keys, s.buf, local.buf);
		kp_buf_release(&s);
	}
	kp_buf_release(&local);
out:
	kp_exec_res_release(&r);
	kp_buf_release(&remote);
	kp_buf_release(&cmd);
	kp_buf_release(&why);
	kp_buf_release(&data);
	return rc;
}

/* The gateway's answer: newline-separated JSON objects, each a chunk. */
struct sink {
	FILE *f;
	struct kp_buf line;
	struct kp_buf why; /* the first problem; stops the transfer */
	size_t written;
};

static bool sink_line(struct sink *s, const char *l, size_t len)
{
	while (len && (l[len - 1] == '\r' || l[len - 1] == ' '))
		len--;
	if (!len)
		return true;
	cJSON *j = cJSON_ParseWithLength(l, len);
	const cJSON *result = cJSON_GetObjectItemCaseSensitive(j, "result");
	const cJSON *blob = cJSON_GetObjectItemCaseSensitive(result, "blob");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(j, "error");
	bool ok = false;
	if (error) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(error, "message");
		kp_buf_addf(&s->why, "etcd answered an error: %s",
			    cJSON_IsString(m) ? m->valuestring : "(no message)");
	} else if (cJSON_IsString(blob)) {
		size_t bl = strlen(blob->valuestring);
		unsigned char *out = kp_xmalloc(bl / 4 * 3 + 3);
		int n = 0, fin = 0;
		EVP_ENCODE_CTX *ec = EVP_ENCODE_CTX_new();
		EVP_DecodeInit(ec);
		if (EVP_DecodeUpdate(ec, out, &n, (const unsigned char *)blob->valuestring,
				     (int)bl) < 0 ||
		    EVP_DecodeFinal(ec, out + n, &fin) < 0) {
			kp_buf_addstr(&s->why,
				      "a chunk of the snapshot stream is not valid base64");
		} else if (fwrite(out, 1, (size_t)(n + fin), s->f) != (size_t)(n + fin)) {
			kp_buf_addf(&s->why, "cannot write the snapshot: %s", strerror(errno));
		} else {
			s->written += (size_t)(n + fin);
			ok = true;
		}
		EVP_ENCODE_CTX_free(ec);
		free(out);
	} else if (result) {
		ok = true; /* a chunk without data (the last "remaining_bytes": 0) */
	} else {
		kp_buf_addstr(&s->why,
			      "unexpected answer from etcd's gateway (not a snapshot chunk)");
	}
	cJSON_Delete(j);
	return ok;
}

static bool sink_data(void *arg, const char *data, size_t len)
{
	struct sink *s = arg;
	kp_buf_add(&s->line, data, len);
	size_t start = 0;
	for (size_t i = 0; i < s->line.len; i++) {
		if (s->line.buf[i] != '\n')
			continue;
		if (!sink_line(s, s->line.buf + start, i - start))
			return false;
		start = i + 1;
	}
	memmove(s->line.buf, s->line.buf + start, s->line.len - start);
	kp_buf_setlen(&s->line, s->line.len - start);
	return true;
}

static bool collect(void *arg, const char *data, size_t len)
{
	struct kp_buf *b = arg;
	if (b->len + len > (1u << 20))
		return false;
	kp_buf_add(b, data, len);
	return true;
}

/* The first endpoint, with a loopback host replaced by the node's address:
 * the controller is not the node. */
static void api_endpoint(const struct kp_modctx *ctx, struct kp_buf *out)
{
	struct kp_buf eps = KP_BUF_INIT;
	kp_etcd_endpoints(ctx, &eps);
	size_t l = strcspn(eps.buf, ",");
	eps.buf[l] = '\0';
	const char *hosts[] = {"127.0.0.1", "localhost", "[::1]"};
	const char *p = strstr(eps.buf, "://");
	p = p ? p + 3 : eps.buf;
	for (size_t i = 0; i < KP_ARRAY_LEN(hosts); i++) {
		size_t hl = strlen(hosts[i]);
		if (!strncmp(p, hosts[i], hl) && (p[hl] == ':' || p[hl] == '/' || !p[hl])) {
			kp_buf_add(out, eps.buf, (size_t)(p - eps.buf));
			kp_buf_addstr(out, ctx->conn->address ? ctx->conn->address : ctx->host);
			kp_buf_addstr(out, p + hl);
			kp_buf_release(&eps);
			return;
		}
	}
	kp_buf_addstr(out, eps.buf);
	while (out->len && out->buf[out->len - 1] == '/')
		kp_buf_setlen(out, out->len - 1);
	kp_buf_release(&eps);
}

static kp_rc save_api(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct kp_buf ca = KP_BUF_INIT, cert = KP_BUF_INIT, key = KP_BUF_INIT, ep = KP_BUF_INIT;
	struct kp_buf url = KP_BUF_INIT, local = KP_BUF_INIT, part = KP_BUF_INIT, why = KP_BUF_INIT;
	struct kp_buf e = KP_BUF_INIT, body = KP_BUF_INIT;
	struct sink s = {.line = KP_BUF_INIT, .why = KP_BUF_INIT};
	long status = 0;
	char ts[32], sha[65] = "";
	int64_t size = 0, rev = -1, keys = -1;
	bool good = false;
	kp_rc rc = KP_OK;
	const char *names[] = {"cacert", "cert", "key"};
	struct kp_buf *bufs[] = {&ca, &cert, &key};

	for (size_t i = 0; i < 3; i++) {
		const char *p = kp_arg_str(ctx, names[i]);
		if (p && ctx->conn->ops->get(ctx->conn, p, 1 << 20, bufs[i], &e)) {
			kp_mod_failf(res, "method=api: cannot read the %s '%s' on %s: %s", names[i],
				     p, ctx->host, e.buf);
			goto out;
		}
	}
	api_endpoint(ctx, &ep);
	kp_buf_addf(&url, "%s/v3/maintenance/snapshot", ep.buf);
	kp_etcd_snap_stamp(ts);
	char *dir = kp_mod_store_dir(ctx, "dest", ctx->host);
	char *root = kp_mod_local_path(ctx, kp_arg_str(ctx, "dest"));
	struct kp_buf rel = KP_BUF_INIT;
	int fd = -1;
	kp_buf_addf(&local, "%s/snapshot-%s.db", dir, ts);
	kp_buf_addf(&part, "%s.part", local.buf);
	kp_buf_addf(&rel, "%s/snapshot-%s.db.part", ctx->host, ts);
	free(dir);
	/* confined to the store: no link under it is followed */
	rc = kp_store_create(root, rel.buf, 0600, 0700, &fd, err);
	free(root);
	kp_buf_release(&rel);
	if (rc)
		goto out;
	s.f = fdopen(fd, "wb");
	if (!s.f) {
		close(fd);
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", part.buf, strerror(errno));
		goto out;
	}
	struct kp_https_tls tls = {.ca = ca.len ? ca.buf : NULL,
				   .ca_len = ca.len,
				   .cert = cert.len ? cert.buf : NULL,
				   .cert_len = cert.len,
				   .key = key.len ? key.buf : NULL,
				   .key_len = key.len};
	kp_buf_addf(&res->cmds, "POST %s {}\n", url.buf);
	rc = kp_https_stream(url.buf, "{}", &tls, 10000, 0, sink_data, &s, &status, &e);
	if (!rc && s.line.len && !s.why.len)
		sink_line(&s, s.line.buf, s.line.len);
	if (fclose(s.f) && !s.why.len)
		kp_buf_addf(&s.why, "cannot write '%s': %s", part.buf, strerror(errno));
	if (rc && s.why.len)
		rc = KP_OK; /* the sink stopped it: its reason is the one to give */
	if (rc) {
		kp_mod_failf(res, "method=api: %s", e.buf);
		rc = KP_OK;
		unlink(part.buf);
		goto out;
	}
	if (s.why.len || status != 200) {
		kp_mod_failf(res, "method=api: snapshot from %s failed: %s", url.buf,
			     s.why.len ? s.why.buf : "unexpected HTTP status");
		if (!s.why.len)
			kp_buf_addf(&res->msg, " %ld", status);
		unlink(part.buf);
		goto out;
	}
	rc = kp_etcd_snapshot_check_file(part.buf, &size, sha, &good, &why, err);
	if (rc || !good) {
		if (!rc)
			kp_mod_failf(res, "the snapshot streamed from %s fails verification: %s",
				     url.buf, why.buf);
		unlink(part.buf);
		goto out;
	}
	if (rename(part.buf, local.buf)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot rename '%s': %s", part.buf, strerror(errno));
		goto out;
	}
	/* revision and live key count as the server has them now */
	kp_buf_reset(&url);
	kp_buf_addf(&url, "%s/v3/kv/range", ep.buf);
	if (!kp_https_stream(url.buf,
			     "{\"key\":\"AA==\",\"range_end\":\"AA==\",\"count_only\":true}", &tls,
			     10000, 30000, collect, &body, &status, &e) &&
	    status == 200) {
		cJSON *j = cJSON_Parse(body.buf);
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "header");
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(h, "revision");
		const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(j, "count");
		/* the gateway prints int64 as strings */
		if (cJSON_IsString(rv))
			rev = strtoll(rv->valuestring, NULL, 10);
		keys = cJSON_IsString(cnt) ? strtoll(cnt->valuestring, NULL, 10) : 0;
		cJSON_Delete(j);
	}
	res->changed = true;
	kp_etcd_snap_set_facts(res, local.buf, sha, size, rev, keys);
	struct kp_buf sh = KP_BUF_INIT;
	kp_mod_short_sha(sha, &sh);
	kp_buf_addf(&res->msg, "streamed a snapshot from %s to %s (%" PRId64 " bytes, sha256 %s)",
		    ep.buf, local.buf, size, sh.buf);
	kp_buf_release(&sh);
out:
	OPENSSL_cleanse(key.buf, key.len);
	kp_buf_release(&ca);
	kp_buf_release(&cert);
	kp_buf_release(&key);
	kp_buf_release(&ep);
	kp_buf_release(&url);
	kp_buf_release(&local);
	kp_buf_release(&part);
	kp_buf_release(&why);
	kp_buf_release(&e);
	kp_buf_release(&body);
	kp_buf_release(&s.line);
	kp_buf_release(&s.why);
	return rc;
}

/* ---- list and prune ------------------------------------------------------------------ */

static kp_rc node_snaps(struct kp_modctx *ctx, struct kp_result *res, char ***names, size_t *n,
			bool *ok, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_buf_addstr(&cmd, "cd ");
	kp_sh_quote(&cmd, kp_arg_str(ctx, "remote_dir"));
	kp_buf_addstr(&cmd, " 2>/dev/null || exit 0; for f in snapshot-*.db; do "
			    "[ ! -f \"$f\" ] || echo \"$f\"; done | sort");
	kp_rc rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 30000, &r, ok, err);
	*names = NULL;
	*n = 0;
	if (!rc && *ok)
		split_lines(r.out.buf, names, n);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

static struct kp_value *names_value(char **l, size_t n)
{
	struct kp_value *v = kp_value_list();
	for (size_t i = 0; i < n; i++)
		kp_list_push_take(v, kp_value_str(l[i]));
	return v;
}

static kp_rc list_or_prune(struct kp_modctx *ctx, struct kp_result *res, bool prune,
			   struct kp_buf *err)
{
	struct state *s = ctx->state;
	char **nn, **ln;
	size_t nnode, nlocal;
	bool ok;
	char *dir = kp_mod_store_dir(ctx, "dest", ctx->host);
	kp_rc rc = node_snaps(ctx, res, &nn, &nnode, &ok, err);
	if (rc || !ok) {
		free(dir);
		return rc;
	}
	kp_etcd_snap_local_snaps(dir, &ln, &nlocal);
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "node", names_value(nn, nnode));
	kp_map_set_take(res->facts, "controller", names_value(ln, nlocal));
	if (!prune) {
		kp_buf_addf(&res->msg, "%zu snapshot%s in %s on %s, %zu in %s/ on the controller",
			    nnode, nnode == 1 ? "" : "s", kp_arg_str(ctx, "remote_dir"), ctx->host,
			    nlocal, dir);
		if (nnode)
			kp_buf_addf(&res->msg, "; newest on the node: %s", nn[nnode - 1]);
		kp_etcd_snap_free_list(nn, nnode);
		kp_etcd_snap_free_list(ln, nlocal);
		free(dir);
		return KP_OK;
	}
	int64_t keep = kp_arg_int(ctx, "keep");
	if (keep < 0)
		keep = 0;
	size_t dn = nnode > (size_t)keep ? nnode - (size_t)keep : 0;
	size_t dl = nlocal > (size_t)keep ? nlocal - (size_t)keep : 0;
	s->prune_node = kp_xcalloc(dn + 1, sizeof(char *));
	s->prune_local = kp_xcalloc(dl + 1, sizeof(char *));
	for (size_t i = 0; i < dn; i++) {
		struct kp_buf p = KP_BUF_INIT;
		kp_buf_addf(&p, "%s/%s", kp_arg_str(ctx, "remote_dir"), nn[i]);
		s->prune_node[s->nprune_node++] = kp_buf_detach(&p, NULL);
	}
	for (size_t i = 0; i < dl; i++) {
		struct kp_buf p = KP_BUF_INIT;
		kp_buf_addf(&p, "%s/%s", dir, ln[i]);
		s->prune_local[s->nprune_local++] = kp_buf_detach(&p, NULL);
	}
	kp_map_set_take(res->facts, "removed_node", names_value(s->prune_node, s->nprune_node));
	kp_map_set_take(res->facts, "removed_controller",
			names_value(s->prune_local, s->nprune_local));
	if (dn || dl) {
		res->changed = true;
		kp_buf_addf(&res->msg,
			    "%s %zu of %zu snapshots on %s and %zu of %zu on the controller "
			    "(keep %" PRId64 ")",
			    ctx->check_mode ? "would remove" : "removing", dn, nnode, ctx->host, dl,
			    nlocal, keep);
	} else {
		kp_buf_addf(&res->msg,
			    "%zu snapshots on %s, %zu on the controller: none beyond %" PRId64,
			    nnode, ctx->host, nlocal, keep);
	}
	kp_etcd_snap_free_list(nn, nnode);
	kp_etcd_snap_free_list(ln, nlocal);
	free(dir);
	return KP_OK;
}

static kp_rc prune_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	kp_rc rc = KP_OK;
	if (s->nprune_node) {
		struct kp_buf cmd = KP_BUF_INIT;
		struct kp_exec_res r;
		bool ok;
		kp_exec_res_init(&r);
		kp_buf_addstr(&cmd, "rm -f --");
		for (size_t i = 0; i < s->nprune_node; i++) {
			kp_buf_addch(&cmd, ' ');
			kp_sh_quote(&cmd, s->prune_node[i]);
		}
		rc = kp_etcd_snap_sh(ctx, res, cmd.buf, 60000, &r, &ok, err);
		kp_exec_res_release(&r);
		kp_buf_release(&cmd);
		if (rc || !ok)
			return rc;
	}
	for (size_t i = 0; i < s->nprune_local; i++)
		if (unlink(s->prune_local[i]) && errno != ENOENT)
			return kp_mod_failf(res, "cannot remove '%s': %s", s->prune_local[i],
					    strerror(errno));
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "removed %zu snapshots on %s and %zu on the controller",
		    s->nprune_node, ctx->host, s->nprune_local);
	return KP_OK;
}

/* ---- the module -------------------------------------------------------------------- */

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *action = kp_arg_str(ctx, "action");
	struct state *s = kp_xcalloc(1, sizeof(*s));
	ctx->state = s;
	ctx->free_state = state_free;

	if (!strcmp(action, "verify"))
		return kp_etcd_snap_verify(ctx, res, err);
	if (!strcmp(action, "restore"))
		return kp_etcd_snap_restore_probe(ctx, res, err);
	if (!strcmp(action, "list"))
		return list_or_prune(ctx, res, false, err);
	if (!strcmp(action, "prune"))
		return list_or_prune(ctx, res, true, err);
	/* save: always a change (a new snapshot) */
	res->changed = true;
	char *dir = kp_mod_store_dir(ctx, "dest", ctx->host);
	struct kp_buf eps = KP_BUF_INIT;
	kp_etcd_endpoints(ctx, &eps);
	if (!strcmp(kp_arg_str(ctx, "method"), "api"))
		kp_buf_addf(
		    &res->msg,
		    "would stream a snapshot from %s (etcd's gateway) to %s/snapshot-<time>.db",
		    eps.buf, dir);
	else if (kp_arg_bool(ctx, "fetch"))
		kp_buf_addf(
		    &res->msg,
		    "would save a snapshot of %s into %s/snapshot-<time>.db on %s and fetch "
		    "it to %s/",
		    eps.buf, kp_arg_str(ctx, "remote_dir"), ctx->host, dir);
	else
		kp_buf_addf(&res->msg,
			    "would save a snapshot of %s into %s/snapshot-<time>.db on %s", eps.buf,
			    kp_arg_str(ctx, "remote_dir"), ctx->host);
	kp_buf_release(&eps);
	free(dir);
	return KP_OK;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *action = kp_arg_str(ctx, "action");
	if (!ctx->state)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (!strcmp(action, "restore"))
		return kp_etcd_snap_restore_apply(ctx, res, err);
	if (!strcmp(action, "prune"))
		return prune_apply(ctx, res, err);
	if (!strcmp(action, "save")) {
		kp_buf_reset(&res->msg);
		res->changed = false;
		if (!strcmp(kp_arg_str(ctx, "method"), "api"))
			return save_api(ctx, res, err);
		return save_etcdctl(ctx, res, err);
	}
	return KP_OK;
}

const struct kp_module kp_mod_etcd_snapshot = {
    .name = "etcd-snapshot",
    .summary = "save, verify, restore and prune etcd snapshots",
    .args = args,
    .probe = probe,
    .apply = apply,
};
