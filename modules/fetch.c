/*
 * fetch.c - copy a file from the node to the controller.
 *
 * Without `flat` the copy lands in dest/<host>/<src path>, so fetching the
 * same path from every host never overwrites one host's file with another's.
 * The controller file is written atomically (temporary file beside it,
 * fsync, rename) and only when its SHA-256 differs, through the store
 * helpers (modules/lib/store.c): no '..' in src, no link under dest is
 * followed. A secret stays one: the copy's mode is the source's, never
 * wider than 0644, and the directories to a copy of a file that not
 * everyone may read are 0700.
 */
#include "modules/lib/store.h"
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
    {.name = "validate_checksum",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "fail when the copy's SHA-256 is not the one the node had"},
    {0},
};

struct fetch {
	char *root;	  /* the controller directory the copy is confined to */
	char *rel;	  /* the copy, relative to root */
	char *local;	  /* root/rel, for messages and facts */
	int64_t size;	  /* of src on the node */
	unsigned mode;	  /* of the copy: the source's, never wider than 0644 */
	unsigned dirmode; /* of directories made for it */
	bool secret;	  /* the source is not readable by everyone */
	bool write;	  /* the content differs (or there is no copy) */
	char sha[65];	  /* of src on the node when probed ("" unknown) */
};

static void fetch_free(void *p)
{
	struct fetch *f = p;
	if (f) {
		free(f->root);
		free(f->rel);
		free(f->local);
		free(f);
	}
}

/* Where the copy goes: dest/<host>/<src> (or, with flat, dest itself or
 * dest/<basename of src>), split into the directory the operator named
 * and the part under it that the host and src name. */
static kp_rc local_dest(const struct kp_modctx *ctx, const char *src, struct fetch *f,
			struct kp_buf *err)
{
	const char *dest = kp_arg_str(ctx, "dest"), *host = ctx->host ? ctx->host : "localhost";
	size_t dl = strlen(dest);
	struct kp_buf base = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	char *path = kp_mod_local_path(ctx, dest);

	if (kp_arg_bool(ctx, "flat")) {
		if (dl && dest[dl - 1] == '/') {
			f->root = path;
			f->rel = kp_xstrdup(kp_mod_basename(src, &base));
		} else {
			char *slash = strrchr(path, '/');
			f->rel = kp_xstrdup(slash ? slash + 1 : path);
			f->root = slash == path ? kp_xstrdup("/")
				  : slash	? kp_xstrndup(path, (size_t)(slash - path))
						: kp_xstrdup(".");
			free(path);
		}
	} else {
		f->root = path;
		struct kp_buf r = KP_BUF_INIT;
		kp_buf_addf(&r, "%s%s%s", host, src[0] == '/' ? "" : "/", src);
		f->rel = kp_buf_detach(&r, NULL);
		if (strchr(host, '/'))
			rc = kp_errorf(err, KP_ERR_INVALID,
				       "host name '%s' holds a '/': it cannot name a directory",
				       host);
		else if (!(rc = kp_store_check(host, strlen(host), "host name", err)))
			rc = kp_store_check(src, strlen(src), "src", err);
	}
	if (!rc && !strcmp(f->rel, ".."))
		rc = kp_errorf(err, KP_ERR_INVALID, "'%s' names no file", dest);
	f->local = kp_store_path(f->root, f->rel);
	kp_buf_release(&base);
	return rc;
}

/* SHA-256 and mode of the copy; sha "" when there is none. */
static kp_rc local_sha(const struct fetch *f, char out[65], unsigned *mode, struct kp_buf *err)
{
	struct kp_buf data = KP_BUF_INIT;
	struct stat st;
	bool exists;
	out[0] = '\0';
	kp_rc rc = kp_store_stat(f->root, f->rel, &st, &exists, err);
	if (rc || !exists)
		return rc;
	if (S_ISDIR(st.st_mode))
		return kp_errorf(err, KP_ERR_INVALID, "'%s' is a directory on the controller",
				 f->local);
	*mode = st.st_mode & 07777;
	rc = kp_store_read(f->root, f->rel, 0, &data, err);
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
	unsigned have_mode = 0;
	kp_rc rc;

	rc = ctx->conn->ops->stat(ctx->conn, src, true, &st, err);
	if (rc)
		return rc;
	if (!st.exists)
		return kp_mod_failf(res, "file not found: '%s'", src);
	if (st.type == 'd')
		return kp_mod_failf(res, "'%s' is a directory (fetch copies single files)", src);
	struct fetch *f = kp_xcalloc(1, sizeof(*f));
	ctx->state = f;
	ctx->free_state = fetch_free;
	f->size = st.size;
	/* a secret stays one: never wider than the source, in private directories */
	f->mode = st.mode & 0644;
	f->secret = (st.mode & 0044) != 0044;
	f->dirmode = f->secret ? 0700 : 0755;
	if (local_dest(ctx, src, f, &e) || local_sha(f, have, &have_mode, &e)) {
		kp_mod_failf(res, "%s", e.buf);
		kp_buf_release(&e);
		return KP_OK;
	}
	kp_map_set_take(res->facts, "dest", kp_value_str(f->local));
	kp_map_set_take(res->facts, "checksum", kp_value_str(st.sha256));
	kp_mod_short_sha(have, &a);
	kp_mod_short_sha(st.sha256, &b);
	kp_buf_reset(&res->msg);
	snprintf(f->sha, sizeof(f->sha), "%s", st.sha256);
	f->write = !st.sha256[0] || strcmp(have, st.sha256) != 0;
	res->changed = f->write || have_mode != f->mode;
	if (f->write)
		kp_buf_addf(&res->msg, "would fetch '%s' to '%s' (sha256 %s -> %s)", src, f->local,
			    a.buf, b.buf);
	else if (res->changed)
		kp_buf_addf(&res->msg, "would change the mode of '%s' (%04o -> %04o)", f->local,
			    have_mode, f->mode);
	else
		kp_buf_addf(&res->msg, "'%s' is up to date (sha256 %s)", f->local, b.buf);
	kp_buf_release(&a);
	kp_buf_release(&b);
	kp_buf_release(&e); /* a missing store directory is said there, and is no error */
	return KP_OK;
}

/* The copy's directories: those under the root made private for a secret. */
static kp_rc tighten(const struct fetch *f, struct kp_buf *err)
{
	const char *slash = strrchr(f->rel, '/');
	if (!f->secret || !slash)
		return KP_OK;
	char *dir = kp_xstrndup(f->rel, (size_t)(slash - f->rel));
	kp_rc rc = kp_store_chmod_dirs(f->root, dir, 0700, err);
	free(dir);
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
	/* the file changed between the probe and the copy: Ansible's
	 * validate_checksum fails the task rather than keep a copy it did
	 * not mean */
	if (kp_arg_bool(ctx, "validate_checksum") && f->sha[0] && strcmp(f->sha, sha)) {
		kp_mod_failf(res, "checksum mismatch: '%s' changed while it was fetched", src);
	} else if (kp_store_write(f->root, f->rel, data.buf, data.len, f->mode, f->dirmode, &e) ||
		   tighten(f, &e)) {
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
