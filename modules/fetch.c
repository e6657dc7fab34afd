/*
 * fetch.c - copy a file from the node to the controller.
 *
 * Without `flat` the copy lands in dest/<host>/<src path>, so fetching the
 * same path from every host never overwrites one host's file with another's.
 * The controller file is written atomically (temporary file beside it,
 * fsync, rename) and only when its SHA-256 differs.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct kp_argspec args[] = {
    {.name = "src", .type = KP_T_PATH, .required = true, .help = "file on the node"},
    {.name = "dest",
     .type = KP_T_PATH,
     .required = true,
     .help = "directory (or with flat, file) on the controller"},
    {.name = "flat",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "store as dest itself instead of dest/<host>/<src>"},
    {0},
};

struct fetch {
	char *local;  /* controller path */
	int64_t size; /* of src on the node */
};

static void fetch_free(void *p)
{
	struct fetch *f = p;
	if (f) {
		free(f->local);
		free(f);
	}
}

static char *local_dest(const struct kp_modctx *ctx, const char *src)
{
	const char *dest = kp_arg_str(ctx, "dest");
	size_t dl = strlen(dest);
	struct kp_buf b = KP_BUF_INIT, base = KP_BUF_INIT;

	kp_buf_addstr(&b, dest);
	if (kp_arg_bool(ctx, "flat")) {
		if (dl && dest[dl - 1] == '/')
			kp_buf_addstr(&b, kp_mod_basename(src, &base));
	} else {
		while (b.len > 1 && b.buf[b.len - 1] == '/')
			kp_buf_setlen(&b, b.len - 1);
		kp_buf_addf(&b, "/%s%s%s", ctx->host ? ctx->host : "localhost",
			    src[0] == '/' ? "" : "/", src);
	}
	kp_buf_release(&base);
	char *rel = kp_buf_detach(&b, NULL);
	char *path = kp_mod_local_path(ctx, rel);
	free(rel);
	return path;
}

/* SHA-256 of a controller file; "" when it does not exist. */
static kp_rc local_sha(const char *path, char out[65], struct kp_buf *err)
{
	struct kp_buf data = KP_BUF_INIT;
	struct stat st;
	out[0] = '\0';
	if (stat(path, &st))
		return errno == ENOENT ? KP_OK
				       : kp_errorf(err, KP_ERR_IO, "cannot stat '%s': %s", path,
						   strerror(errno));
	if (S_ISDIR(st.st_mode))
		return kp_errorf(err, KP_ERR_INVALID, "'%s' is a directory on the controller",
				 path);
	kp_rc rc = kp_read_file(path, 0, &data, err);
	if (!rc)
		kp_sha256_hex(data.buf, data.len, out);
	kp_buf_release(&data);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *src = kp_arg_str(ctx, "src");
	struct kp_stat st;
	struct kp_buf e = KP_BUF_INIT, a = KP_BUF_INIT, b = KP_BUF_INIT;
	char have[65];
	kp_rc rc;

	rc = ctx->conn->ops->stat(ctx->conn, src, true, &st, err);
	if (rc)
		return rc;
	if (!st.exists)
		return kp_mod_failf(res, "file not found: '%s'", src);
	if (st.type == 'd')
		return kp_mod_failf(res, "'%s' is a directory (fetch copies single files)", src);
	struct fetch *f = kp_xcalloc(1, sizeof(*f));
	f->local = local_dest(ctx, src);
	f->size = st.size;
	ctx->state = f;
	ctx->free_state = fetch_free;
	if (local_sha(f->local, have, &e)) {
		kp_mod_failf(res, "%s", e.buf);
		kp_buf_release(&e);
		return KP_OK;
	}
	kp_map_set_take(res->facts, "dest", kp_value_str(f->local));
	kp_map_set_take(res->facts, "checksum", kp_value_str(st.sha256));
	kp_mod_short_sha(have, &a);
	kp_mod_short_sha(st.sha256, &b);
	kp_buf_reset(&res->msg);
	res->changed = !st.sha256[0] || strcmp(have, st.sha256) != 0;
	if (res->changed)
		kp_buf_addf(&res->msg, "would fetch '%s' to '%s' (sha256 %s -> %s)", src, f->local,
			    a.buf, b.buf);
	else
		kp_buf_addf(&res->msg, "'%s' is up to date (sha256 %s)", f->local, b.buf);
	kp_buf_release(&a);
	kp_buf_release(&b);
	return KP_OK;
}

/* mkdir -p on the controller. */
static kp_rc make_dirs(const char *file, struct kp_buf *err)
{
	char *p = kp_xstrdup(file);
	kp_rc rc = KP_OK;
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST) {
			rc = kp_errorf(err, KP_ERR_IO, "cannot create directory '%s': %s", p,
				       strerror(errno));
			break;
		}
		*s = '/';
	}
	free(p);
	return rc;
}

static kp_rc write_atomic(const char *path, const void *data, size_t len, struct kp_buf *err)
{
	struct kp_buf tmp = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	kp_buf_addf(&tmp, "%s.kplan-XXXXXX", path);
	int fd = mkstemp(tmp.buf);
	if (fd < 0) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		p += n;
		left -= (size_t)n;
	}
	if (left || fchmod(fd, 0644) || fsync(fd)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", tmp.buf, strerror(errno));
		close(fd);
		unlink(tmp.buf);
		goto out;
	}
	close(fd);
	if (rename(tmp.buf, path)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot rename '%s' to '%s': %s", tmp.buf, path,
			       strerror(errno));
		unlink(tmp.buf);
	}
out:
	kp_buf_release(&tmp);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct fetch *f = ctx->state;
	const char *src = kp_arg_str(ctx, "src");
	struct kp_buf data = KP_BUF_INIT, e = KP_BUF_INIT, s = KP_BUF_INIT;
	char sha[65];
	size_t max = (size_t)(f->size > 0 ? f->size : 0) + ((size_t)1 << 20);

	kp_buf_addstr(&res->cmds, "get ");
	kp_sh_quote(&res->cmds, src);
	kp_buf_addch(&res->cmds, '\n');
	kp_rc rc = ctx->conn->ops->get(ctx->conn, src, max, &data, err);
	if (rc) {
		kp_buf_release(&data);
		return rc;
	}
	kp_sha256_hex(data.buf, data.len, sha);
	if (make_dirs(f->local, &e) || write_atomic(f->local, data.buf, data.len, &e)) {
		kp_mod_failf(res, "%s", e.buf);
	} else {
		kp_mod_short_sha(sha, &s);
		kp_buf_reset(&res->msg);
		kp_buf_addf(&res->msg, "fetched '%s' to '%s' (sha256 %s)", src, f->local, s.buf);
		kp_map_set_take(res->facts, "checksum", kp_value_str(sha));
	}
	kp_buf_release(&data);
	kp_buf_release(&e);
	kp_buf_release(&s);
	return KP_OK;
}

const struct kp_module kp_mod_fetch = {
    .name = "fetch",
    .summary = "copy a file from the node to the controller",
    .args = args,
    .probe = probe,
    .apply = apply,
};
