/*
 * etcd_snapshot.c - save, verify, restore, list and prune etcd snapshots.
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
 * restore finds how etcd runs (a static pod manifest, else /etc/etcd.env
 * and the etcd unit), stops it, restores into a new data directory, points
 * the configuration at it, starts it and waits until it is healthy.
 */
#include "module.h"
#include "transport.h"
#include "kubeapi.h"

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
    {.name = "manifest",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/manifests/etcd.yaml",
     .help = "etcd static pod manifest"},
    {0},
};

#define SNAP_MAX	   ((size_t)16 << 30)
#define ETCDCTL_TIMEOUT_MS 300000
#define HEALTHY_WAIT_S	   120
#define ETCD_ENV	   "/etc/etcd.env"

/* How etcd runs on the node, and its settings. */
struct etcd_cfg {
	bool manifest; /* static pod (else /etc/etcd.env and the etcd unit) */
	char *path;    /* the manifest or the env file */
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
	struct etcd_cfg cfg;
	char **prune_node, **prune_local; /* prune: what goes */
	size_t nprune_node, nprune_local;
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
}

static void free_list(char **l, size_t n)
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
	cfg_release(&s->cfg);
	free_list(s->prune_node, s->nprune_node);
	free_list(s->prune_local, s->nprune_local);
	free(s);
}

/* ---- small helpers ----------------------------------------------------------- */

/* UTC with milliseconds: two snapshots in one second get different names,
 * and name order stays time order */
static void stamp(char out[32])
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

/* dest/<host> on the controller (malloc'd) */
static char *local_dir(const struct kp_modctx *ctx)
{
	char *d = kp_mod_local_path(ctx, kp_arg_str(ctx, "dest"));
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, d);
	while (b.len > 1 && b.buf[b.len - 1] == '/')
		kp_buf_setlen(&b, b.len - 1);
	kp_buf_addf(&b, "/%s", ctx->host);
	free(d);
	return kp_buf_detach(&b, NULL);
}

/* The snapshot names in a controller directory, sorted (oldest first). */
static void local_snaps(const char *dir, char ***out, size_t *n)
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

static kp_rc sh(struct kp_modctx *ctx, struct kp_result *res, const char *cmd, int64_t timeout,
		struct kp_exec_res *r, bool *ok, struct kp_buf *err)
{
	struct kp_exec_req req = {.cmd = cmd, .timeout_ms = timeout};
	kp_exec_res_release(r);
	kp_exec_res_init(r);
	kp_rc rc = kp_mod_exec(ctx, res, &req, r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd, r);
	return rc;
}

/* `etcdctl snapshot status PATH -w json` on the node: revision and keys */
static kp_rc node_status(struct kp_modctx *ctx, struct kp_result *res, const char *path,
			 int64_t *rev, int64_t *keys, bool *ok, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_buf_addstr(&cmd, "ETCDCTL_API=3 etcdctl snapshot status ");
	kp_sh_quote(&cmd, path);
	kp_buf_addstr(&cmd, " -w json");
	kp_rc rc = sh(ctx, res, cmd.buf, ETCDCTL_TIMEOUT_MS, &r, ok, err);
	if (!rc && *ok) {
		cJSON *j = cJSON_Parse(r.out.buf);
		const cJSON *rv = cJSON_GetObjectItemCaseSensitive(j, "revision");
		const cJSON *tk = cJSON_GetObjectItemCaseSensitive(j, "totalKey");
		if (cJSON_IsNumber(rv) && cJSON_IsNumber(tk)) {
			*rev = (int64_t)rv->valuedouble;
			*keys = (int64_t)tk->valuedouble;
		} else {
			kp_mod_failf(res, "cannot read 'etcdctl snapshot status' output for '%s'",
				     path);
			*ok = false;
		}
		cJSON_Delete(j);
	}
	kp_buf_release(&cmd);
	kp_exec_res_release(&r);
	return rc;
}

static void set_facts(struct kp_result *res, const char *path, const char *sha, int64_t size,
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

/* Write data to path on the controller atomically, mode 0600. */
static kp_rc write_local(const char *path, const void *data, size_t len, struct kp_buf *err)
{
	struct kp_buf tmp = KP_BUF_INIT;
	kp_buf_addf(&tmp, "%s.part", path);
	FILE *f = fopen(tmp.buf, "wbx");
	if (!f && errno == EEXIST && !unlink(tmp.buf))
		f = fopen(tmp.buf, "wbx");
	kp_rc rc = KP_OK;
	if (!f) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", tmp.buf, strerror(errno));
	} else {
		fchmod(fileno(f), 0600);
		if (fwrite(data, 1, len, f) != len || fflush(f) || fsync(fileno(f)))
			rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", tmp.buf,
				       strerror(errno));
		if (fclose(f) && !rc)
			rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", tmp.buf,
				       strerror(errno));
		if (!rc && rename(tmp.buf, path))
			rc = kp_errorf(err, KP_ERR_IO, "cannot rename '%s': %s", tmp.buf,
				       strerror(errno));
		if (rc)
			unlink(tmp.buf);
	}
	kp_buf_release(&tmp);
	return rc;
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

	stamp(ts);
	kp_buf_addf(&remote, "%s/snapshot-%s.db", rd, ts);
	kp_exec_res_init(&r);
	kp_buf_addstr(&cmd, "mkdir -p -m 0700 ");
	kp_sh_quote(&cmd, rd);
	kp_buf_addstr(&cmd, " && ");
	kp_etcdctl_cmd(ctx, NULL, &cmd);
	kp_buf_addstr(&cmd, " snapshot save ");
	kp_sh_quote(&cmd, remote.buf);
	rc = sh(ctx, res, cmd.buf, ETCDCTL_TIMEOUT_MS, &r, &ok, err);
	if (rc || !ok)
		goto out;
	rc = node_status(ctx, res, remote.buf, &rev, &keys, &ok, err);
	if (rc || !ok)
		goto out;
	kp_buf_reset(&cmd);
	kp_buf_addstr(&cmd, "stat -c %s ");
	kp_sh_quote(&cmd, remote.buf);
	kp_buf_addstr(&cmd, " && sha256sum ");
	kp_sh_quote(&cmd, remote.buf);
	rc = sh(ctx, res, cmd.buf, 60000, &r, &ok, err);
	if (rc || !ok)
		goto out;
	if (sscanf(r.out.buf, "%" SCNd64 " %64s", &nsize, nsha) != 2) {
		kp_mod_failf(res, "cannot read the size and SHA-256 of '%s' on %s", remote.buf,
			     ctx->host);
		goto out;
	}
	res->changed = true;
	if (!kp_arg_bool(ctx, "fetch")) {
		set_facts(res, remote.buf, nsha, nsize, rev, keys);
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
	char *dir = local_dir(ctx);
	struct kp_buf local = KP_BUF_INIT;
	kp_buf_addf(&local, "%s/snapshot-%s.db", dir, ts);
	free(dir);
	char *d = kp_xstrndup(local.buf, (size_t)(strrchr(local.buf, '/') - local.buf));
	rc = kp_mkdirs(d, 0700, err);
	free(d);
	if (!rc)
		rc = write_local(local.buf, data.buf, data.len, err);
	if (!rc && strcmp(lsha, nsha))
		kp_mod_failf(res, "the copies differ: %s on %s has sha256 %s, %s has %s",
			     remote.buf, ctx->host, nsha, local.buf, lsha);
	else if (!rc) {
		struct kp_buf s = KP_BUF_INIT;
		kp_mod_short_sha(lsha, &s);
		set_facts(res, local.buf, lsha, (int64_t)data.len, rev, keys);
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
	stamp(ts);
	char *dir = local_dir(ctx);
	rc = kp_mkdirs(dir, 0700, err);
	kp_buf_addf(&local, "%s/snapshot-%s.db", dir, ts);
	kp_buf_addf(&part, "%s.part", local.buf);
	free(dir);
	if (rc)
		goto out;
	s.f = fopen(part.buf, "wb");
	if (!s.f) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", part.buf, strerror(errno));
		goto out;
	}
	fchmod(fileno(s.f), 0600);
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
	set_facts(res, local.buf, sha, size, rev, keys);
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
		char *dir = local_dir(ctx), **names;
		size_t n;
		local_snaps(dir, &names, &n);
		if (!n) {
			kp_mod_failf(res, "no snapshot in '%s/' on the controller: give 'snapshot'",
				     dir);
			free(dir);
			return KP_OK;
		}
		struct kp_buf p = KP_BUF_INIT;
		kp_buf_addf(&p, "%s/%s", dir, names[n - 1]);
		s->snapshot = kp_buf_detach(&p, NULL);
		free_list(names, n);
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

static kp_rc verify(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
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
		rc = node_status(ctx, res, s->node_path, &rev, &keys, &ok, err);
		if (rc || !ok)
			return rc;
	}
	struct kp_buf sh = KP_BUF_INIT;
	kp_mod_short_sha(s->sha, &sh);
	set_facts(res, shown, s->sha, s->size, rev, keys);
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

static kp_rc restore_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
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
		stamp(ts);
		kp_buf_addf(&b, "%s-restored-%s", s->cfg.data_dir, ts);
		s->data_dir = kp_buf_detach(&b, NULL);
	}
	kp_exec_res_init(&r);
	kp_buf_addstr(&cmd, "d=");
	kp_sh_quote(&cmd, s->data_dir);
	kp_buf_addstr(&cmd, "; if [ -e \"$d\" ] && [ ! -d \"$d\" ]; then echo file; "
			    "elif [ -d \"$d\" ] && [ -n \"$(ls -A \"$d\")\" ]; then echo nonempty; "
			    "else echo ok; fi");
	rc = sh(ctx, res, cmd.buf, 30000, &r, &ok, err);
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
	kp_rc rc = sh(ctx, res, cmd.buf, (HEALTHY_WAIT_S + 30) * 1000, &r, ok, err);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

static kp_rc restore_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
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
		rc = sh(ctx, res, cmd.buf, 30000, &r, &ok, err);
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
	rc = node_status(ctx, res, s->node_path, &rev, &keys, &ok, err);
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
	rc = sh(ctx, res, cmd.buf, 150000, &r, &ok, err);
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
	rc = sh(ctx, res, cmd.buf, ETCDCTL_TIMEOUT_MS, &r, &ok, err);
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
	rc = sh(ctx, res, cmd.buf, 60000, &r, &ok, err);
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
	set_facts(res, s->node_path, s->sha, s->size, rev, keys);
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
	kp_rc rc = sh(ctx, res, cmd.buf, 30000, &r, ok, err);
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
	char *dir = local_dir(ctx);
	kp_rc rc = node_snaps(ctx, res, &nn, &nnode, &ok, err);
	if (rc || !ok) {
		free(dir);
		return rc;
	}
	local_snaps(dir, &ln, &nlocal);
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
		free_list(nn, nnode);
		free_list(ln, nlocal);
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
	free_list(nn, nnode);
	free_list(ln, nlocal);
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
		rc = sh(ctx, res, cmd.buf, 60000, &r, &ok, err);
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
		return verify(ctx, res, err);
	if (!strcmp(action, "restore"))
		return restore_probe(ctx, res, err);
	if (!strcmp(action, "list"))
		return list_or_prune(ctx, res, false, err);
	if (!strcmp(action, "prune"))
		return list_or_prune(ctx, res, true, err);
	/* save: always a change (a new snapshot) */
	res->changed = true;
	char *dir = local_dir(ctx);
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
		return restore_apply(ctx, res, err);
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
