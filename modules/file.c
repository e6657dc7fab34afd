/*
 * file.c - the state of a path on the node: file, directory, link, hard
 * link, touch, absent, with its mode, ownership and attributes (chattr).
 *
 * The probe decides one shell command (mkdir -p, rm -rf, ln -sfn, touch)
 * plus chmod/chown for what differs; apply runs exactly those, so check
 * mode and the real run cannot disagree. Without `state` an existing path
 * keeps its type and only its attributes are set, as in Ansible.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

static const char *const states[] = {"file", "directory", "absent", "link", "hard", "touch", NULL};

static const struct kp_argspec args[] = {
    {.name = "path", .type = KP_T_PATH, .required = true, .help = "path on the node"},
    {.name = "dest", .type = KP_T_PATH, .alias_of = "path", .help = "the same as path"},
    {.name = "name", .type = KP_T_PATH, .alias_of = "path", .help = "the same as path"},
    {.name = "state",
     .type = KP_T_STR,
     .choices = states,
     .help = "what the path should be (default: file, or what an existing path is)"},
    {.name = "mode", .type = KP_T_STR, .help = "permissions, e.g. \"0755\""},
    {.name = "owner", .type = KP_T_STR, .help = "owning user"},
    {.name = "group", .type = KP_T_STR, .help = "owning group"},
    {.name = "src", .type = KP_T_PATH, .help = "link target (state: link or hard)"},
    {.name = "attributes",
     .type = KP_T_STR,
     .help = "chattr flags: \"+i\" adds, \"-i\" removes, \"i\" sets exactly"},
    {.name = "recurse",
     .type = KP_T_BOOL,
     .help = "state: directory: set mode, owner and group on everything inside too"},
    {.name = "force",
     .type = KP_T_BOOL,
     .help = "state: link or hard replaces a file or a link that is there (not a "
	     "directory)"},
    KP_ARGS_SELINUX,
    {0},
};

struct plan {
	char *cmd;    /* the one changing command, or NULL */
	char *rcmd;   /* recurse: chmod -R / chown -R of what is inside, or NULL */
	char *acmd;   /* attributes: the chattr to run, or NULL */
	bool attrs;   /* then set mode/owner/group */
	bool created; /* attributes are set on a new path: all of them */
	struct kp_attrs want;
	struct kp_stat st;
	char *done_msg;
};

static void plan_free(void *p)
{
	struct plan *pl = p;
	if (pl) {
		free(pl->cmd);
		free(pl->rcmd);
		free(pl->acmd);
		free(pl->done_msg);
		free(pl);
	}
}

static const char *type_name(char t)
{
	switch (t) {
	case 'f':
		return "a file";
	case 'd':
		return "a directory";
	case 'l':
		return "a link";
	}
	return "a special file";
}

/* cmd = "VERB 'path'" (with a quoted extra word before the path for ln). */
static char *make_cmd(const char *verb, const char *extra, const char *path)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addf(&b, "%s ", verb);
	if (extra) {
		kp_sh_quote(&b, extra);
		kp_buf_addch(&b, ' ');
	}
	kp_sh_quote(&b, path);
	return kp_buf_detach(&b, NULL);
}

static void want_text(const struct kp_attrs *w, struct kp_buf *out)
{
	if (w->mode >= 0)
		kp_buf_addf(out, " mode %04o", (unsigned)w->mode);
	if (w->owner)
		kp_buf_addf(out, " owner %s", w->owner);
	if (w->group)
		kp_buf_addf(out, " group %s", w->group);
}

/* recurse: whether anything inside the directory has another mode, owner
 * or group than wanted (find, read-only); if so, the chmod -R / chown -R
 * that apply runs. Links keep their own mode, as chmod -R leaves them. */
static kp_rc recurse_plan(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl,
			  const char *path, struct kp_buf *would, struct kp_buf *done,
			  struct kp_buf *err)
{
	const struct kp_attrs *w = &pl->want;
	struct kp_buf q = KP_BUF_INIT, c = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_rc rc = KP_OK;
	if (w->mode < 0 && !w->owner && !w->group)
		return KP_OK;
	kp_buf_addstr(&q, "find ");
	kp_sh_quote(&q, path);
	kp_buf_addstr(&q, " -mindepth 1 \\(");
	const char *sep = "";
	if (w->owner) {
		kp_buf_addstr(&q, " ! -user ");
		kp_sh_quote(&q, w->owner);
		sep = " -o";
	}
	if (w->group) {
		kp_buf_addf(&q, "%s ! -group ", sep);
		kp_sh_quote(&q, w->group);
		sep = " -o";
	}
	if (w->mode >= 0)
		kp_buf_addf(&q, "%s \\( ! -type l ! -perm %04o \\)", sep, (unsigned)w->mode);
	kp_buf_addstr(&q, " \\) -print -quit");
	kp_exec_res_init(&r);
	rc = kp_mod_sh(ctx, NULL, q.buf, &r, err); /* a query: not among the changing commands */
	if (!rc && r.rc != 0)
		kp_mod_failf(res, "cannot read what is inside '%s': %s", path, r.err.buf);
	else if (!rc && r.out.len) {
		if (w->owner || w->group) {
			kp_buf_addstr(&c, "chown -R ");
			if (w->owner)
				kp_sh_quote(&c, w->owner);
			if (w->group) {
				kp_buf_addch(&c, ':');
				kp_sh_quote(&c, w->group);
			}
			kp_buf_addch(&c, ' ');
			kp_sh_quote(&c, path);
		}
		if (w->mode >= 0) {
			kp_buf_addf(&c, "%schmod -R %04o ", c.len ? " && " : "", (unsigned)w->mode);
			kp_sh_quote(&c, path);
		}
		pl->rcmd = kp_buf_detach(&c, NULL);
		kp_buf_addf(would, "%swould set what is inside '%s' (recurse)",
			    would->len ? "; " : "", path);
		kp_buf_addf(done, "%sset what is inside '%s' (recurse)", done->len ? "; " : "",
			    path);
	}
	kp_exec_res_release(&r);
	kp_buf_release(&q);
	kp_buf_release(&c);
	return rc;
}

/* A query on the node (not among the changing commands): its exit code. */
static kp_rc query(struct kp_modctx *ctx, const char *cmd, int *code, struct kp_buf *out,
		   struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, NULL, cmd, &r, err);
	*code = r.rc;
	if (out)
		kp_buf_addstr(out, r.out.buf ? r.out.buf : "");
	kp_exec_res_release(&r);
	return rc;
}

/* state: hard, as Ansible's: src must exist; a path that is already the
 * same file (test -ef) is left alone; another file or link there is
 * replaced only with force; a directory never. */
static kp_rc hard_plan(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl,
		       const char *path, const char *src, struct kp_buf *would, struct kp_buf *done,
		       struct kp_buf *err)
{
	const struct kp_stat *st = &pl->st;
	struct kp_stat sst;
	struct kp_buf q = KP_BUF_INIT;
	int code = 0;
	kp_rc rc;
	if (!src)
		return kp_mod_failf(res, "state 'hard' needs 'src' (the file to link)");
	if ((rc = ctx->conn->ops->stat(ctx->conn, src, false, &sst, err)))
		return rc;
	if (!sst.exists)
		return kp_mod_failf(res, "src '%s' does not exist", src);
	if (st->exists && st->type == 'd')
		return kp_mod_failf(res,
				    "'%s' exists and is a directory; not replacing it with a "
				    "hard link",
				    path);
	if (st->exists) {
		kp_buf_addstr(&q, "test ");
		kp_sh_quote(&q, path);
		kp_buf_addstr(&q, " -ef ");
		kp_sh_quote(&q, src);
		rc = query(ctx, q.buf, &code, NULL, err);
		kp_buf_release(&q);
		if (rc || code == 0)
			return rc;
		if (!kp_arg_bool(ctx, "force"))
			return kp_mod_failf(res, "Cannot link, %s exists at destination '%s'",
					    type_name(st->type) + 2, path);
	}
	pl->cmd = make_cmd("ln -f", src, path);
	pl->st = sst; /* the link is src's inode: its attributes are src's */
	kp_buf_addf(would, "would hard link '%s' to '%s'", path, src);
	kp_buf_addf(done, "hard linked '%s' to '%s'", path, src);
	return KP_OK;
}

/* attributes, as Ansible's: "+x" and "=x"/"x" run chattr when the flags
 * lsattr shows are not exactly x; "-x" always runs it. */
static kp_rc chattr_plan(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl,
			 const char *path, struct kp_buf *would, struct kp_buf *done,
			 struct kp_buf *err)
{
	const char *a = kp_arg_str(ctx, "attributes");
	char mod = '=';
	struct kp_buf q = KP_BUF_INIT, out = KP_BUF_INIT, flags = KP_BUF_INIT, c = KP_BUF_INIT;
	int code = 1;
	kp_rc rc = KP_OK;
	if (*a == '+' || *a == '-')
		mod = *a++;
	if (pl->st.exists) {
		kp_buf_addstr(&q, "lsattr -d ");
		kp_sh_quote(&q, path);
		rc = query(ctx, q.buf, &code, &out, err);
	}
	/* "--------------e------- path": the letters of the first word */
	for (size_t i = 0; !rc && code == 0 && i < out.len && out.buf[i] != ' '; i++)
		if (out.buf[i] != '-')
			kp_buf_addch(&flags, out.buf[i]);
	if (!rc && (mod == '-' || strcmp(flags.buf ? flags.buf : "", a))) {
		kp_buf_addf(&c, "chattr %c%s ", mod, a);
		kp_sh_quote(&c, path);
		pl->acmd = kp_buf_detach(&c, NULL);
		kp_buf_addf(would, "%swould set the attributes of '%s' (%c%s)",
			    would->len ? "; " : "", path, mod, a);
		kp_buf_addf(done, "%sset the attributes of '%s' (%c%s)", done->len ? "; " : "",
			    path, mod, a);
	}
	kp_buf_release(&q);
	kp_buf_release(&out);
	kp_buf_release(&flags);
	kp_buf_release(&c);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *path = kp_arg_str(ctx, "path"), *state = kp_arg_str(ctx, "state");
	const char *src = kp_arg_str(ctx, "src");
	struct plan *pl = kp_xcalloc(1, sizeof(*pl));
	struct kp_buf would = KP_BUF_INIT, done = KP_BUF_INIT, attrs = KP_BUF_INIT;
	kp_rc rc;

	ctx->state = pl;
	ctx->free_state = plan_free;
	kp_mod_attrs_from_args(ctx, res, &pl->want);
	if (res->failed)
		return KP_OK;
	rc = ctx->conn->ops->stat(ctx->conn, path, false, &pl->st, err);
	if (rc)
		return rc;
	const struct kp_stat *st = &pl->st;
	if (!state)
		state = st->exists && st->type == 'd' ? "directory" : "file";

	if (!strcmp(state, "absent")) {
		if (st->exists) {
			pl->cmd = make_cmd("rm -rf", NULL, path);
			kp_buf_addf(&would, "would remove %s '%s'", type_name(st->type) + 2, path);
			kp_buf_addf(&done, "removed %s '%s'", type_name(st->type) + 2, path);
		}
		goto plan_done; /* attributes of nothing */
	} else if (!strcmp(state, "directory")) {
		if (!st->exists) {
			pl->cmd = make_cmd("mkdir -p", NULL, path);
			pl->created = true;
			kp_buf_addf(&would, "would create directory '%s'", path);
			kp_buf_addf(&done, "created directory '%s'", path);
			want_text(&pl->want, &would);
			want_text(&pl->want, &done);
		} else if (st->type != 'd') {
			kp_mod_failf(res, "'%s' exists and is %s, not a directory", path,
				     type_name(st->type));
			goto out;
		}
	} else if (!strcmp(state, "link")) {
		if (!src) {
			kp_mod_failf(res, "state 'link' needs 'src' (the link target)");
			goto out;
		}
		bool force = kp_arg_bool(ctx, "force");
		if (st->exists && st->type != 'l' && (!force || st->type == 'd')) {
			kp_mod_failf(res, "'%s' exists and is %s; not replacing it with a link",
				     path, type_name(st->type));
			goto out;
		}
		pl->want.mode = -1; /* a link has no mode of its own */
		if (!st->exists || st->type != 'l' || strcmp(st->link_target, src)) {
			pl->cmd = make_cmd("ln -sfn", src, path);
			pl->created = !st->exists || st->type != 'l';
			if (pl->created) {
				/* what the new link will be: no owner known yet */
				pl->st.type = 'l';
				pl->st.owner[0] = pl->st.group[0] = '\0';
			}
			kp_buf_addf(&would, "would link '%s' -> '%s'", path, src);
			kp_buf_addf(&done, "linked '%s' -> '%s'", path, src);
			if (st->exists && st->type != 'l') {
				kp_buf_addf(&would, " (replacing %s)", type_name(st->type));
				kp_buf_addf(&done, " (replacing %s)", type_name(st->type));
			} else if (st->exists) {
				kp_buf_addf(&would, " (was '%s')", st->link_target);
				kp_buf_addf(&done, " (was '%s')", st->link_target);
			}
		}
	} else if (!strcmp(state, "hard")) {
		if ((rc = hard_plan(ctx, res, pl, path, src, &would, &done, err)) || res->failed)
			goto out;
	} else if (!strcmp(state, "touch")) {
		pl->cmd = make_cmd("touch", NULL, path);
		pl->created = !st->exists;
		kp_buf_addf(&would,
			    st->exists ? "would update the times of '%s'" : "would create '%s'",
			    path);
		kp_buf_addf(&done, st->exists ? "updated the times of '%s'" : "created '%s'", path);
		if (!st->exists) {
			want_text(&pl->want, &would);
			want_text(&pl->want, &done);
		}
	} else { /* file */
		if (!st->exists) {
			kp_mod_failf(res,
				     "file '%s' does not exist (use state: touch or directory to "
				     "create it)",
				     path);
			goto out;
		}
		if (kp_arg_str(ctx, "state") && st->type != 'f') {
			kp_mod_failf(res, "'%s' is %s, not a file", path, type_name(st->type));
			goto out;
		}
	}
	if (pl->created) {
		pl->attrs = pl->want.mode >= 0 || pl->want.owner || pl->want.group;
	} else if (kp_mod_attrs_differ(st, &pl->want, &attrs)) {
		pl->attrs = true;
		if (!would.len) {
			kp_buf_addf(&would, "would change '%s'", path);
			kp_buf_addf(&done, "changed '%s'", path);
		}
		kp_buf_addf(&would, ": %s", attrs.buf);
		kp_buf_addf(&done, ": %s", attrs.buf);
	}
	if (kp_arg_bool(ctx, "recurse") && st->exists &&
	    (rc = recurse_plan(ctx, res, pl, path, &would, &done, err)))
		goto out;
	if (kp_arg_str(ctx, "attributes") &&
	    (rc = chattr_plan(ctx, res, pl, path, &would, &done, err)))
		goto out;
plan_done:
	res->changed = pl->cmd || pl->attrs || pl->rcmd || pl->acmd;
	kp_buf_reset(&res->msg);
	if (res->changed)
		kp_buf_addstr(&res->msg, would.buf);
	else if (!strcmp(state, "absent"))
		kp_buf_addf(&res->msg, "'%s' is absent", path);
	else
		kp_buf_addf(&res->msg, "'%s' is %s as wanted", path, type_name(st->type));
	pl->done_msg = kp_buf_detach(&done, NULL);
	kp_map_set_take(res->facts, "path", kp_value_str(path));
	kp_map_set_take(res->facts, "state", kp_value_str(state));
out:
	kp_buf_release(&would);
	kp_buf_release(&done);
	kp_buf_release(&attrs);
	return KP_OK;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct plan *pl = ctx->state;
	const char *path = kp_arg_str(ctx, "path");
	struct kp_exec_res r;
	kp_rc rc = KP_OK;

	if (!pl)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (pl->cmd) {
		kp_exec_res_init(&r);
		rc = kp_mod_sh(ctx, res, pl->cmd, &r, err);
		bool failed = !rc && kp_mod_cmd_failed(ctx, res, pl->cmd, &r);
		kp_exec_res_release(&r);
		if (rc || failed)
			return rc;
	}
	if (pl->rcmd) {
		bool ok = true;
		rc = kp_mod_must(ctx, res, pl->rcmd, NULL, &ok, err);
		if (rc || !ok)
			return rc;
	}
	if (pl->attrs) {
		const struct kp_stat *st = pl->created ? NULL : &pl->st;
		if (pl->created && pl->st.type == 'l')
			st = &pl->st; /* chown -h: the new link, not its target */
		rc = kp_mod_attrs_apply(ctx, res, path, st, &pl->want, err);
		if (rc || res->failed)
			return rc;
	}
	if (pl->acmd) {
		bool ok = true;
		rc = kp_mod_must(ctx, res, pl->acmd, NULL, &ok, err);
		if (rc || !ok)
			return rc;
	}
	kp_buf_reset(&res->msg);
	kp_buf_addstr(&res->msg, pl->done_msg);
	return KP_OK;
}

const struct kp_module kp_mod_file = {
    .name = "file",
    .summary = "ensure the state of a path: file, directory, link, hard link or absent",
    .args = args,
    .probe = probe,
    .apply = apply,
};
