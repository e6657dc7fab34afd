/*
 * unarchive.c - Ansible's unarchive for tar archives (plain, gzip, bzip2,
 * xz, zstd: GNU tar on the node tells them apart): the archive from the
 * controller (copied to a temporary file on the node first), or already on
 * the node with remote_src. `changed` is exact: `tar --diff` against dest
 * says whether extracting would change anything, as Ansible asks it;
 * `creates` skips the task when the path exists. With mode, owner or
 * group, every member of the archive gets them after the extraction, and
 * the differences tar reports in what is set anyway do not count: a
 * member with other ones is a change (Ansible's set_fs_attributes on each
 * member).
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

static const struct kp_argspec args[] = {
    {.name = "src",
     .type = KP_T_PATH,
     .required = true,
     .help = "the archive: on the controller, or on the node with remote_src"},
    {.name = "dest",
     .type = KP_T_PATH,
     .required = true,
     .help = "an existing directory on the node"},
    {.name = "remote_src", .type = KP_T_BOOL, .def = "false", .help = "src is already on the node"},
    {.name = "creates", .type = KP_T_PATH, .help = "skip when this path exists on the node"},
    {.name = "extra_opts", .type = KP_T_LIST, .help = "more tar options for the extraction"},
    {.name = "mode", .type = KP_T_STR, .help = "permissions of every member, e.g. \"0755\""},
    {.name = "owner", .type = KP_T_STR, .help = "owning user of every member"},
    {.name = "group", .type = KP_T_STR, .help = "owning group of every member"},
    KP_ARGS_SELINUX,
    {0},
};

struct state {
	char *archive; /* on the node */
	bool temporary;
	struct kp_attrs want; /* of every member */
};

static void state_free(void *p)
{
	struct state *s = p;
	if (!s)
		return;
	free(s->archive);
	free(s);
}

/* Remove the uploaded copy (best effort). */
static void cleanup(struct kp_modctx *ctx, struct kp_result *res, struct state *s)
{
	struct kp_buf cmd = KP_BUF_INIT, e = KP_BUF_INIT;
	struct kp_exec_res r;
	if (!s || !s->temporary)
		return;
	kp_buf_addstr(&cmd, "rm -f -- ");
	kp_sh_quote(&cmd, s->archive);
	kp_exec_res_init(&r);
	kp_mod_sh(ctx, res, cmd.buf, &r, &e);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&e);
	s->temporary = false;
}

static void tar_cmd(const struct kp_modctx *ctx, const struct state *s, const char *op, bool extra,
		    struct kp_buf *cmd)
{
	const struct kp_value *x = kp_arg(ctx, "extra_opts");
	kp_buf_addstr(cmd, "tar -C ");
	kp_sh_quote(cmd, kp_arg_str(ctx, "dest"));
	kp_buf_addf(cmd, " %s -f ", op);
	kp_sh_quote(cmd, s->archive);
	for (size_t i = 0; extra && x && i < kp_list_len(x); i++) {
		struct kp_buf w = KP_BUF_INIT;
		kp_value_to_text(kp_list_at(x, i), false, &w);
		kp_buf_addch(cmd, ' ');
		kp_sh_quote(cmd, w.buf);
		kp_buf_release(&w);
	}
}

static bool has_attrs(const struct kp_attrs *w)
{
	return w->mode >= 0 || w->owner || w->group;
}

/* Whether tar --diff's report holds a difference that extracting and
 * setting the wanted attributes would change: "Mode differs" does not
 * count with mode, "Uid differs"/"Gid differs" not with owner/group. */
static bool diff_counts(const struct kp_attrs *w, const struct kp_exec_res *r)
{
	const char *bufs[] = {r->out.buf ? r->out.buf : "", r->err.buf ? r->err.buf : ""};
	if (!has_attrs(w))
		return true;
	for (size_t b = 0; b < 2; b++)
		for (const char *l = bufs[b]; *l;) {
			size_t n = strcspn(l, "\n");
			char *line = kp_xstrndup(l, n);
			bool skip = !n || (w->mode >= 0 && strstr(line, ": Mode differs")) ||
				    (w->owner && strstr(line, ": Uid differs")) ||
				    (w->group && strstr(line, ": Gid differs"));
			free(line);
			if (!skip)
				return true;
			l += n + (l[n] == '\n');
		}
	return false;
}

/* The shell loop over the archive's members, run in dest: `body` with the
 * member in "$m". */
static void members_cmd(const struct kp_modctx *ctx, const struct state *s, const char *body,
			struct kp_buf *cmd)
{
	kp_buf_addstr(cmd, "tar -tf ");
	kp_sh_quote(cmd, s->archive);
	kp_buf_addstr(cmd, " | { cd ");
	kp_sh_quote(cmd, kp_arg_str(ctx, "dest"));
	kp_buf_addf(cmd, " || exit 2; while IFS= read -r m; do %s; done; }", body);
}

/* find's test for a member that differs from the wanted attributes. */
static void find_test(const struct kp_attrs *w, struct kp_buf *b)
{
	const char *sep = "";
	kp_buf_addstr(b, "\\(");
	if (w->owner) {
		kp_buf_addstr(b, " ! -user ");
		kp_sh_quote(b, w->owner);
		sep = " -o";
	}
	if (w->group) {
		kp_buf_addf(b, "%s ! -group ", sep);
		kp_sh_quote(b, w->group);
		sep = " -o";
	}
	if (w->mode >= 0)
		kp_buf_addf(b, "%s \\( ! -type l ! -perm %04o \\)", sep, (unsigned)w->mode);
	kp_buf_addstr(b, " \\)");
}

/* Whether a member already extracted has other attributes than wanted. */
static kp_rc members_differ(struct kp_modctx *ctx, const struct state *s, bool *changed,
			    struct kp_buf *err)
{
	struct kp_buf body = KP_BUF_INIT, cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	if (!has_attrs(&s->want))
		return KP_OK;
	kp_buf_addstr(&body, "find \"./$m\" -maxdepth 0 ");
	find_test(&s->want, &body);
	kp_buf_addstr(&body, " -print 2>/dev/null");
	members_cmd(ctx, s, body.buf, &cmd);
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, NULL, cmd.buf, &r, err); /* a query */
	*changed = !rc && r.out.len > 0;
	kp_exec_res_release(&r);
	kp_buf_release(&body);
	kp_buf_release(&cmd);
	return rc;
}

/* chmod (not through links) and chown -h every member. */
static kp_rc members_set(struct kp_modctx *ctx, struct kp_result *res, const struct state *s,
			 struct kp_buf *err)
{
	const struct kp_attrs *w = &s->want;
	struct kp_buf body = KP_BUF_INIT, cmd = KP_BUF_INIT;
	bool ok = true;
	if (!has_attrs(w))
		return KP_OK;
	if (w->mode >= 0)
		kp_buf_addf(&body, "{ [ -L \"./$m\" ] || chmod %04o \"./$m\"; } || exit 1",
			    (unsigned)w->mode);
	if (w->owner || w->group) {
		kp_buf_addf(&body, "%schown -h ", body.len ? "; " : "");
		if (w->owner)
			kp_sh_quote(&body, w->owner);
		if (w->group) {
			kp_buf_addch(&body, ':');
			kp_sh_quote(&body, w->group);
		}
		kp_buf_addstr(&body, " \"./$m\" || exit 1");
	}
	members_cmd(ctx, s, body.buf, &cmd);
	kp_rc rc = kp_mod_must(ctx, res, cmd.buf, NULL, &ok, err);
	kp_buf_release(&body);
	kp_buf_release(&cmd);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *src = kp_arg_str(ctx, "src"), *dest = kp_arg_str(ctx, "dest");
	const char *creates = kp_arg_str(ctx, "creates");
	struct kp_stat st;
	struct state *s;
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_rc rc;

	if (creates) {
		if ((rc = ctx->conn->ops->stat(ctx->conn, creates, false, &st, err)))
			return rc;
		if (st.exists) {
			res->changed = false;
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "skipped, since %s exists", creates);
			return KP_OK;
		}
	}
	if ((rc = ctx->conn->ops->stat(ctx->conn, dest, false, &st, err)))
		return rc;
	if (!st.exists || st.type != 'd')
		return kp_mod_failf(res, "dest '%s' must be an existing dir", dest);
	s = kp_xcalloc(1, sizeof(*s));
	ctx->state = s;
	ctx->free_state = state_free;
	kp_mod_attrs_from_args(ctx, res, &s->want);
	if (res->failed)
		return KP_OK;
	if (kp_arg_bool(ctx, "remote_src")) {
		s->archive = kp_xstrdup(src);
	} else {
		char *path = kp_mod_local_path(ctx, src);
		struct kp_buf data = KP_BUF_INIT, e = KP_BUF_INIT;
		if (kp_read_file(path, (size_t)1 << 30, &data, &e)) {
			kp_mod_failf(res, "%s", e.buf);
			free(path);
			kp_buf_release(&e);
			return KP_OK;
		}
		free(path);
		kp_exec_res_init(&r);
		rc = kp_mod_sh(ctx, res, "mktemp \"${TMPDIR:-/tmp}/kplan-unarchive.XXXXXX\"", &r,
			       err);
		if (!rc && !kp_mod_cmd_failed(ctx, res, "mktemp", &r)) {
			struct kp_put_opts o = {.mode = 0600};
			s->archive = kp_xstrndup(r.out.buf, strcspn(r.out.buf, "\n"));
			s->temporary = true;
			rc =
			    ctx->conn->ops->put(ctx->conn, s->archive, data.buf, data.len, &o, err);
		}
		kp_exec_res_release(&r);
		kp_buf_release(&data);
		kp_buf_release(&e);
		if (rc || res->failed)
			return rc;
	}
	/* tar --diff: 0 the same, 1 something differs or is missing, 2 trouble */
	tar_cmd(ctx, s, "--diff", false, &cmd);
	kp_exec_res_init(&r);
	rc = kp_mod_sh(ctx, res, cmd.buf, &r, err);
	if (!rc) {
		if (r.rc == 0 || r.rc == 1) {
			res->changed = r.rc == 1 && diff_counts(&s->want, &r);
			if (!res->changed)
				rc = members_differ(ctx, s, &res->changed, err);
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg,
				    res->changed ? "would extract '%s' into '%s'"
						 : "'%s' is already extracted in '%s'",
				    src, dest);
		} else {
			kp_mod_failf(res, "cannot read '%s' as a tar archive: %.*s", src,
				     (int)strcspn(r.err.buf, "\n"), r.err.buf);
		}
	}
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	if (!res->changed || ctx->check_mode || res->failed)
		cleanup(ctx, res, s);
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "dest", kp_value_str(dest));
	kp_map_set_take(res->facts, "src", kp_value_str(src));
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	if (!s)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	tar_cmd(ctx, s, "-x", true, &cmd);
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd.buf, &r, err);
	if (!rc && !kp_mod_cmd_failed(ctx, res, cmd.buf, &r) &&
	    !(rc = members_set(ctx, res, s, err)) && !res->failed) {
		kp_buf_reset(&res->msg);
		kp_buf_addf(&res->msg, "extracted '%s' into '%s'", kp_arg_str(ctx, "src"),
			    kp_arg_str(ctx, "dest"));
	}
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	cleanup(ctx, res, s);
	return rc;
}

const struct kp_module kp_mod_unarchive = {
    .name = "unarchive",
    .summary = "extract a tar archive into a directory on the node (Ansible's unarchive)",
    .args = args,
    .probe = probe,
    .apply = apply,
};
