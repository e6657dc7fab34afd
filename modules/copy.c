/*
 * copy.c - put a controller file or inline content onto the node.
 *
 * The node's file is compared by SHA-256 first and written (atomically, by
 * the transport) only when it differs; differing mode or ownership alone is
 * fixed with chmod/chown without rewriting the content. template.c hands
 * its rendered text to kp_mod_copy_probe and shares everything else.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct kp_argspec args[] = {
    {.name = "src", .type = KP_T_PATH, .help = "file on the controller (relative to the plan)"},
    {.name = "content", .type = KP_T_STR, .help = "the file's contents, inline"},
    {.name = "remote_src",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "src is a file on the node, not on the controller"},
    {.name = "dest", .type = KP_T_PATH, .required = true, .help = "path on the node"},
    {.name = "mode", .type = KP_T_STR, .help = "permissions, e.g. \"0644\""},
    {.name = "owner", .type = KP_T_STR, .help = "owning user"},
    {.name = "group", .type = KP_T_STR, .help = "owning group"},
    {.name = "backup",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "keep a timestamped copy of the file it replaces"},
    {.name = "validate",
     .type = KP_T_STR,
     .help = "a command that checks the new file first, %s standing for it "
	     "(visudo -cf %s); the file is written only when it exits 0"},
    KP_ARGS_SELINUX,
    {0},
};

static const char *const one_of[] = {"src|content", NULL};

/* Files larger than this are not copied through memory. */
#define COPY_MAX ((size_t)512 << 20)

kp_rc kp_mod_copy_probe(struct kp_modctx *ctx, struct kp_result *res, char *data, size_t len,
			const char *src, struct kp_buf *err)
{
	struct kp_put_plan *p = kp_put_plan_new();
	const char *dest = kp_arg_str(ctx, "dest");
	size_t dl = strlen(dest);
	struct kp_stat st;
	kp_rc rc;

	p->data = data;
	p->len = len;
	p->backup = kp_arg_bool(ctx, "backup");
	p->validate = kp_arg_str(ctx, "validate");
	kp_mod_attrs_from_args(ctx, res, &p->want);
	if (res->failed)
		goto out;
	/* dest/ or an existing directory: the file goes inside, named as src */
	bool dir = dl > 1 && dest[dl - 1] == '/';
	if (!dir) {
		rc = ctx->conn->ops->stat(ctx->conn, dest, false, &st, err);
		if (rc) {
			kp_put_plan_free(p);
			return rc;
		}
		dir = st.exists && st.type == 'd';
	}
	if (dir) {
		struct kp_buf b = KP_BUF_INIT, base = KP_BUF_INIT;
		if (!src) {
			kp_mod_failf(res,
				     "dest '%s' is a directory: give the file's path with "
				     "'content'",
				     dest);
			goto out;
		}
		kp_buf_addstr(&b, dest);
		while (b.len > 1 && b.buf[b.len - 1] == '/')
			kp_buf_setlen(&b, b.len - 1);
		kp_buf_addf(&b, "/%s", kp_mod_basename(src, &base));
		kp_buf_release(&base);
		p->dest = kp_buf_detach(&b, NULL);
		p->mkdir_parent = dest[dl - 1] == '/';
	} else {
		p->dest = kp_xstrdup(dest);
	}
	rc = kp_mod_put_probe(ctx, res, p, err);
	if (rc) {
		kp_put_plan_free(p);
		return rc;
	}
out:
	ctx->state = p;
	ctx->free_state = kp_put_plan_free;
	return KP_OK;
}

kp_rc kp_mod_copy_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	if (!ctx->state)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	return kp_mod_put_apply(ctx, res, ctx->state, err);
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *src = kp_arg_str(ctx, "src"), *content = kp_arg_str(ctx, "content");
	struct kp_buf data = KP_BUF_INIT, e = KP_BUF_INIT;
	size_t len;

	if (src && kp_arg_bool(ctx, "remote_src")) {
		struct kp_stat st;
		kp_rc rc = ctx->conn->ops->stat(ctx->conn, src, false, &st, err);
		if (rc)
			return rc;
		if (!st.exists || st.type != 'f')
			return kp_mod_failf(res, "%s '%s' on the node",
					    st.exists ? "copying directories is not supported:"
						      : "no source file",
					    src);
		if ((rc = ctx->conn->ops->get(ctx->conn, src, COPY_MAX, &data, err)))
			return rc;
	} else if (src) {
		char *path = kp_mod_local_path(ctx, src);
		struct stat st;
		if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
			kp_mod_failf(res, "copying directories is not supported: '%s'", path);
			free(path);
			return KP_OK;
		}
		if (kp_read_file(path, COPY_MAX, &data, &e)) {
			kp_mod_failf(res, "%s", e.buf);
			kp_buf_release(&e);
			kp_buf_release(&data);
			free(path);
			return KP_OK;
		}
		free(path);
	} else {
		kp_buf_addstr(&data, content ? content : "");
	}
	char *d = kp_buf_detach(&data, &len);
	return kp_mod_copy_probe(ctx, res, d, len, src, err);
}

const struct kp_module kp_mod_copy = {
    .name = "copy",
    .summary = "copy a controller file or inline content to the node",
    .args = args,
    .one_of = one_of,
    .probe = probe,
    .apply = kp_mod_copy_apply,
};
