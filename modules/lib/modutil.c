/*
 * modutil.c - what the modules share: reading arguments, the backup stores
 * on the controller (cert-copy, etcd-snapshot), running commands with the
 * task's environment and timeout, messages, modes and ownership, and writing
 * a whole file only when its SHA-256 differs (copy, template, lineinfile).
 *
 * Everything here works on the per-call struct kp_modctx; nothing is kept
 * between calls, because modules run on many threads at once.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- arguments --------------------------------------------------------- */

const struct kp_value *kp_arg(const struct kp_modctx *ctx, const char *name)
{
	const struct kp_value *v = ctx->args ? kp_map_get(ctx->args, name) : NULL;
	return v && v->type != KP_V_NULL ? v : NULL;
}

const char *kp_arg_str(const struct kp_modctx *ctx, const char *name)
{
	const struct kp_value *v = kp_arg(ctx, name);
	return v && v->type == KP_V_STR ? v->u.str.s : NULL;
}

bool kp_arg_bool(const struct kp_modctx *ctx, const char *name)
{
	const struct kp_value *v = kp_arg(ctx, name);
	return v && kp_value_truthy(v);
}

int64_t kp_arg_int(const struct kp_modctx *ctx, const char *name)
{
	const struct kp_value *v = kp_arg(ctx, name);
	if (!v)
		return 0;
	if (v->type == KP_V_INT)
		return v->u.i;
	if (v->type == KP_V_FLOAT)
		return (int64_t)v->u.f;
	return 0;
}

char *kp_mod_local_path(const struct kp_modctx *ctx, const char *path)
{
	struct kp_buf b = KP_BUF_INIT;
	if (path[0] == '/' || !ctx->base_dir || !*ctx->base_dir)
		return kp_xstrdup(path);
	kp_buf_addstr(&b, ctx->base_dir);
	if (b.buf[b.len - 1] != '/')
		kp_buf_addch(&b, '/');
	kp_buf_addstr(&b, path);
	return kp_buf_detach(&b, NULL);
}

/* ---- backup stores on the controller ---------------------------------- */

char *kp_mod_store_dir(const struct kp_modctx *ctx, const char *arg, const char *host)
{
	char *d = kp_mod_local_path(ctx, kp_arg_str(ctx, arg));
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, d);
	while (b.len > 1 && b.buf[b.len - 1] == '/')
		kp_buf_setlen(&b, b.len - 1);
	kp_buf_addf(&b, "/%s", host);
	free(d);
	return kp_buf_detach(&b, NULL);
}

/* ---- commands ---------------------------------------------------------- */

static size_t env_name_len(const char *e)
{
	const char *eq = strchr(e, '=');
	return eq ? (size_t)(eq - e) : strlen(e);
}

static bool env_has(const char *const *env, const char *e)
{
	size_t n = env_name_len(e);
	for (; env && *env; env++)
		if (env_name_len(*env) == n && !strncmp(*env, e, n))
			return true;
	return false;
}

/* The task's environment, with the request's own entries winning. */
static const char **merge_env(const char *const *task, const char *const *req)
{
	size_t n = 0, k = 0;
	for (const char *const *e = task; e && *e; e++)
		n++;
	for (const char *const *e = req; e && *e; e++)
		n++;
	if (!n)
		return NULL;
	const char **out = kp_xcalloc(n + 1, sizeof(*out));
	for (const char *const *e = task; e && *e; e++)
		if (!env_has(req, *e))
			out[k++] = *e;
	for (const char *const *e = req; e && *e; e++)
		out[k++] = *e;
	out[k] = NULL;
	return out;
}

static bool plain_word(const char *w)
{
	if (!*w)
		return false;
	for (; *w; w++)
		if (!isalnum((unsigned char)*w) && !strchr("_@%+=:,./-", *w))
			return false;
	return true;
}

void kp_mod_join_words(const char *const *argv, struct kp_buf *out)
{
	for (size_t i = 0; argv && argv[i]; i++) {
		if (i)
			kp_buf_addch(out, ' ');
		if (plain_word(argv[i]))
			kp_buf_addstr(out, argv[i]);
		else
			kp_sh_quote(out, argv[i]);
	}
}

kp_rc kp_mod_exec(struct kp_modctx *ctx, struct kp_result *res, const struct kp_exec_req *req,
		  struct kp_exec_res *r, struct kp_buf *err)
{
	struct kp_exec_req q = *req;
	const char **env = merge_env(ctx->env, req->env);
	kp_rc rc;

	if (!q.timeout_ms)
		q.timeout_ms = ctx->timeout_ms;
	q.env = env;
	/* the command line only: stdin may carry secrets */
	if (res) {
		if (q.chdir) {
			kp_buf_addstr(&res->cmds, "cd ");
			kp_sh_quote(&res->cmds, q.chdir);
			kp_buf_addstr(&res->cmds, " && ");
		}
		if (q.cmd)
			kp_buf_addstr(&res->cmds, q.cmd);
		else
			kp_mod_join_words(q.argv, &res->cmds);
		kp_buf_addch(&res->cmds, '\n');
	}
	rc = ctx->conn->ops->exec(ctx->conn, &q, r, err);
	free(env);
	return rc;
}

kp_rc kp_mod_sh(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		struct kp_exec_res *r, struct kp_buf *err)
{
	struct kp_exec_req req = {.cmd = cmd};
	return kp_mod_exec(ctx, res, &req, r, err);
}

kp_rc kp_mod_failf(struct kp_result *res, const char *fmt, ...)
{
	va_list ap;
	kp_buf_reset(&res->msg);
	va_start(ap, fmt);
	kp_buf_vaddf(&res->msg, fmt, ap);
	va_end(ap);
	res->failed = true;
	res->changed = false;
	return KP_OK;
}

void kp_mod_duration_text(int64_t ms, struct kp_buf *out)
{
	if (ms % 1000 == 0) {
		kp_buf_addf(out, "%llds", (long long)(ms / 1000));
		return;
	}
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%.3f", (double)ms / 1000.0);
	size_t l = strlen(tmp);
	while (l && tmp[l - 1] == '0')
		tmp[--l] = '\0';
	kp_buf_addf(out, "%ss", tmp);
}

kp_rc kp_mod_fail_timeout(const struct kp_modctx *ctx, const struct kp_exec_req *req,
			  struct kp_result *res)
{
	struct kp_buf d = KP_BUF_INIT;
	kp_mod_duration_text(req && req->timeout_ms ? req->timeout_ms : ctx->timeout_ms, &d);
	kp_mod_failf(res, "command timed out after %s (killed with its children)", d.buf);
	res->timed_out = true;
	kp_buf_release(&d);
	return KP_OK;
}

/* The first non-empty line of a command's output, for one-line messages. */
static void first_line(const struct kp_buf *b, struct kp_buf *out)
{
	const char *p = b->buf;
	while (*p == '\n' || *p == '\r')
		p++;
	size_t n = strcspn(p, "\r\n");
	kp_buf_add(out, p, n);
}

bool kp_mod_cmd_failed(const struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		       const struct kp_exec_res *r)
{
	if (r->timed_out) {
		kp_mod_fail_timeout(ctx, NULL, res);
		return true;
	}
	if (r->rc == 0)
		return false;
	struct kp_buf line = KP_BUF_INIT;
	first_line(r->err.len ? &r->err : &r->out, &line);
	if (line.len)
		kp_mod_failf(res, "'%s' failed (rc %d): %s", cmd, r->rc, line.buf);
	else
		kp_mod_failf(res, "'%s' failed (rc %d)", cmd, r->rc);
	kp_buf_release(&line);
	return true;
}

void kp_mod_short_sha(const char *hex, struct kp_buf *out)
{
	if (!hex || !*hex)
		kp_buf_addstr(out, "none");
	else
		kp_buf_addf(out, "%.8s\xe2\x80\xa6", hex);
}

const char *kp_mod_basename(const char *path, struct kp_buf *tmp)
{
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/')
		len--;
	size_t start = len;
	while (start > 0 && path[start - 1] != '/')
		start--;
	kp_buf_reset(tmp);
	if (len == 1 && path[0] == '/')
		return tmp->buf;
	kp_buf_add(tmp, path + start, len - start);
	return tmp->buf;
}

/* ---- words ------------------------------------------------------------- */

void kp_mod_free_words(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

kp_rc kp_mod_split_words(const char *cmd, char ***out, struct kp_buf *err)
{
	char **argv = NULL;
	size_t n = 0, cap = 0;
	const char *p = cmd;
	struct kp_buf w = KP_BUF_INIT;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		kp_buf_reset(&w);
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			if (*p == '\'') {
				const char *q = strchr(p + 1, '\'');
				if (!q)
					goto unterminated;
				kp_buf_add(&w, p + 1, (size_t)(q - p - 1));
				p = q + 1;
			} else if (*p == '"') {
				/* as in sh: backslash escapes only \ " $ ` and newline */
				for (p++; *p != '"'; p++) {
					if (!*p)
						goto unterminated;
					if (*p == '\\' && p[1] && strchr("\\\"$`\n", p[1]))
						p++;
					kp_buf_addch(&w, *p);
				}
				p++;
			} else if (*p == '\\' && p[1]) {
				kp_buf_addch(&w, p[1]);
				p += 2;
			} else {
				kp_buf_addch(&w, *p++);
			}
		}
		KP_GROW(argv, n + 2, cap);
		argv[n++] = kp_xstrndup(w.buf, w.len);
		argv[n] = NULL;
	}
	kp_buf_release(&w);
	if (!n) {
		free(argv);
		return kp_errorf(err, KP_ERR_INVALID, "empty command");
	}
	*out = argv;
	return KP_OK;
unterminated:
	kp_buf_release(&w);
	if (argv)
		argv[n] = NULL;
	kp_mod_free_words(argv);
	return kp_errorf(err, KP_ERR_INVALID, "unterminated quote in command '%s'", cmd);
}

/* ---- modes and ownership ----------------------------------------------- */

kp_rc kp_mod_parse_mode(const char *s, int *mode, struct kp_buf *err)
{
	const char *p = s;
	int v = 0;

	if (!strncmp(p, "0o", 2) || !strncmp(p, "0O", 2))
		p += 2;
	if (!*p)
		return kp_errorf(err, KP_ERR_INVALID, "mode '%s' is not an octal mode like '0644'",
				 s);
	for (const char *q = p; *q; q++)
		if (strchr("ugoarwxXst+-=,", *q))
			return kp_errorf(err, KP_ERR_INVALID,
					 "symbolic mode '%s' is not supported (use an octal mode "
					 "like '0644')",
					 s);
	for (; *p; p++) {
		if (*p < '0' || *p > '7')
			return kp_errorf(err, KP_ERR_INVALID,
					 "mode '%s' is not octal (digits 0-7, like '0644')", s);
		v = v * 8 + (*p - '0');
		if (v > 07777)
			return kp_errorf(err, KP_ERR_INVALID,
					 "mode '%s' is out of range (at most 07777)", s);
	}
	*mode = v;
	return KP_OK;
}

kp_rc kp_mod_attrs_from_args(const struct kp_modctx *ctx, struct kp_result *res, struct kp_attrs *a)
{
	const char *m = kp_arg_str(ctx, "mode");
	struct kp_buf e = KP_BUF_INIT;

	a->mode = -1;
	a->owner = kp_arg_str(ctx, "owner");
	a->group = kp_arg_str(ctx, "group");
	if (m && kp_mod_parse_mode(m, &a->mode, &e))
		kp_mod_failf(res, "%s", e.buf);
	kp_buf_release(&e);
	return KP_OK;
}

static bool mode_differs(const struct kp_stat *st, const struct kp_attrs *w)
{
	return w->mode >= 0 && (!st || (st->type != 'l' && (int)(st->mode & 07777) != w->mode));
}

static bool owner_differs(const struct kp_stat *st, const char *want, bool group)
{
	return want && (!st || strcmp(group ? st->group : st->owner, want));
}

bool kp_mod_attrs_differ(const struct kp_stat *st, const struct kp_attrs *w, struct kp_buf *desc)
{
	bool any = false;
	if (mode_differs(st, w)) {
		kp_buf_addf(desc, "%smode %04o -> %04o", desc->len ? ", " : "", st->mode & 07777,
			    (unsigned)w->mode);
		any = true;
	}
	if (owner_differs(st, w->owner, false)) {
		kp_buf_addf(desc, "%sowner %s -> %s", desc->len ? ", " : "", st->owner, w->owner);
		any = true;
	}
	if (owner_differs(st, w->group, true)) {
		kp_buf_addf(desc, "%sgroup %s -> %s", desc->len ? ", " : "", st->group, w->group);
		any = true;
	}
	return any;
}

kp_rc kp_mod_must(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		  struct kp_exec_res *r, bool *ok, struct kp_buf *err)
{
	struct kp_exec_res own;
	if (!r) {
		r = &own;
	} else {
		kp_exec_res_release(r);
	}
	kp_exec_res_init(r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd, r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd, r);
	if (r == &own)
		kp_exec_res_release(&own);
	return rc;
}

kp_rc kp_mod_attrs_apply(struct kp_modctx *ctx, struct kp_result *res, const char *path,
			 const struct kp_stat *st, const struct kp_attrs *want, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	bool link = st && st->type == 'l', ok = true;
	bool own = owner_differs(st, want->owner, false),
	     grp = owner_differs(st, want->group, true);
	kp_rc rc = KP_OK;

	if (mode_differs(st, want) && !link) {
		kp_buf_addf(&cmd, "chmod %04o ", (unsigned)want->mode);
		kp_sh_quote(&cmd, path);
		rc = kp_mod_must(ctx, res, cmd.buf, NULL, &ok, err);
	}
	if (!rc && ok && (own || grp)) {
		kp_buf_reset(&cmd);
		kp_buf_addstr(&cmd, own ? "chown " : "chgrp ");
		if (link)
			kp_buf_addstr(&cmd, "-h ");
		if (own)
			kp_sh_quote(&cmd, want->owner);
		if (own && want->group)
			kp_buf_addch(&cmd, ':');
		if (want->group && (own || grp))
			kp_sh_quote(&cmd, want->group);
		kp_buf_addch(&cmd, ' ');
		kp_sh_quote(&cmd, path);
		rc = kp_mod_must(ctx, res, cmd.buf, NULL, &ok, err);
	}
	kp_buf_release(&cmd);
	return rc;
}

/* ---- whole files --------------------------------------------------------- */

struct kp_put_plan *kp_put_plan_new(void)
{
	struct kp_put_plan *p = kp_xcalloc(1, sizeof(*p));
	p->want.mode = -1;
	return p;
}

void kp_put_plan_free(void *plan)
{
	struct kp_put_plan *p = plan;
	if (!p)
		return;
	free(p->dest);
	free(p->data);
	free(p->st);
	free(p->done_msg);
	free(p);
}

/* get() for a file we know the size of: a little slack for a growing file. */
static kp_rc get_whole(struct kp_modctx *ctx, const char *path, int64_t size, struct kp_buf *out,
		       struct kp_buf *err)
{
	size_t max = (size_t)(size > 0 ? size : 0) + ((size_t)1 << 20);
	return ctx->conn->ops->get(ctx->conn, path, max, out, err);
}

static void put_diff(struct kp_modctx *ctx, struct kp_put_plan *p, const struct kp_buf *old,
		     struct kp_result *res)
{
	struct kp_buf la = KP_BUF_INIT, lb = KP_BUF_INIT;
	kp_buf_addf(&la, "before: %s", p->dest);
	kp_buf_addf(&lb, "after: %s", p->dest);
	if (p->st->exists && (size_t)p->st->size > KP_DIFF_MAX)
		kp_buf_addstr(&res->diff, "(diff not shown: file larger than 1 MiB)\n");
	else
		kp_unified_diff(old->buf, old->len, p->data, p->len, la.buf, lb.buf, &res->diff);
	kp_buf_release(&la);
	kp_buf_release(&lb);
}

kp_rc kp_mod_put_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_put_plan *p,
		       struct kp_buf *err)
{
	struct kp_buf old = KP_BUF_INIT, attrs = KP_BUF_INIT, would = KP_BUF_INIT,
		      done = KP_BUF_INIT, a = KP_BUF_INIT, b = KP_BUF_INIT;
	char old_sha[65] = "";
	bool have_old = false;
	kp_rc rc;

	if (!p->st)
		p->st = kp_xcalloc(1, sizeof(*p->st));
	rc = ctx->conn->ops->stat(ctx->conn, p->dest, true, p->st, err);
	if (rc)
		goto out;
	kp_sha256_hex(p->data, p->len, p->new_sha);
	if (p->st->exists) {
		if (p->st->type == 'd') {
			kp_mod_failf(res, "'%s' is a directory", p->dest);
			goto out;
		}
		if (p->st->type == 'f' && p->st->sha256[0]) {
			memcpy(old_sha, p->st->sha256, sizeof(old_sha));
		} else {
			/* a link, or a transport that did not hash: read it */
			rc = get_whole(ctx, p->dest, p->st->size, &old, err);
			if (rc)
				goto out;
			have_old = true;
			kp_sha256_hex(old.buf, old.len, old_sha);
		}
		p->write = strcmp(old_sha, p->new_sha) != 0;
		p->attrs = kp_mod_attrs_differ(p->st, &p->want, &attrs);
	} else {
		p->write = true;
	}
	res->changed = p->write || p->attrs;

	kp_mod_short_sha(old_sha, &a);
	kp_mod_short_sha(p->new_sha, &b);
	if (!p->st->exists) {
		kp_buf_addf(&would, "would create '%s' (sha256 %s)", p->dest, b.buf);
		kp_buf_addf(&done, "created '%s' (sha256 %s)", p->dest, b.buf);
		if (p->want.mode >= 0)
			kp_buf_addf(&attrs, "mode %04o", (unsigned)p->want.mode);
		if (p->want.owner)
			kp_buf_addf(&attrs, "%sowner %s", attrs.len ? ", " : "", p->want.owner);
		if (p->want.group)
			kp_buf_addf(&attrs, "%sgroup %s", attrs.len ? ", " : "", p->want.group);
	} else if (p->write) {
		kp_buf_addf(&would, "would write '%s' (sha256 %s -> %s)", p->dest, a.buf, b.buf);
		kp_buf_addf(&done, "wrote '%s' (sha256 %s -> %s)", p->dest, a.buf, b.buf);
	} else if (p->attrs) {
		kp_buf_addf(&would, "would change '%s'", p->dest);
		kp_buf_addf(&done, "changed '%s'", p->dest);
	} else {
		kp_buf_addf(&would, "'%s' is up to date (sha256 %s)", p->dest, b.buf);
	}
	if (attrs.len) {
		const char *sep = !p->st->exists ? ", " : p->write ? "; " : ": ";
		kp_buf_addf(&would, "%s%s", sep, attrs.buf);
		kp_buf_addf(&done, "%s%s", sep, attrs.buf);
	}
	kp_buf_reset(&res->msg);
	kp_buf_addstr(&res->msg, would.buf);
	free(p->done_msg);
	p->done_msg = kp_buf_detach(&done, NULL);

	if (ctx->diff && p->write) {
		if (p->st->exists && !have_old && (size_t)p->st->size <= KP_DIFF_MAX) {
			rc = get_whole(ctx, p->dest, p->st->size, &old, err);
			if (rc)
				goto out;
		}
		put_diff(ctx, p, &old, res);
	}
	kp_map_set_take(res->facts, "dest", kp_value_str(p->dest));
	kp_map_set_take(res->facts, "checksum", kp_value_str(p->new_sha));
	kp_map_set_take(res->facts, "size", kp_value_int((int64_t)p->len));
out:
	kp_buf_release(&old);
	kp_buf_release(&attrs);
	kp_buf_release(&would);
	kp_buf_release(&done);
	kp_buf_release(&a);
	kp_buf_release(&b);
	return rc;
}

static kp_rc backup(struct kp_modctx *ctx, struct kp_result *res, struct kp_put_plan *p, bool *ok,
		    struct kp_buf *err)
{
	struct kp_buf name = KP_BUF_INIT, cmd = KP_BUF_INIT;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	kp_buf_addf(&name, "%s.%s~", p->dest, stamp);
	kp_buf_addstr(&cmd, "cp -p -- ");
	kp_sh_quote(&cmd, p->dest);
	kp_buf_addch(&cmd, ' ');
	kp_sh_quote(&cmd, name.buf);
	kp_rc rc = kp_mod_must(ctx, res, cmd.buf, NULL, ok, err);
	if (!rc && *ok)
		kp_map_set_take(res->facts, "backup_file", kp_value_str(name.buf));
	kp_buf_release(&name);
	kp_buf_release(&cmd);
	return rc;
}

static kp_rc mkdir_parent(struct kp_modctx *ctx, struct kp_result *res, const char *path, bool *ok,
			  struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	const char *slash = strrchr(path, '/');
	*ok = true;
	if (!slash || slash == path)
		return KP_OK;
	kp_buf_addstr(&cmd, "mkdir -p -- ");
	char *dir = kp_xstrndup(path, (size_t)(slash - path));
	kp_sh_quote(&cmd, dir);
	free(dir);
	kp_rc rc = kp_mod_must(ctx, res, cmd.buf, NULL, ok, err);
	kp_buf_release(&cmd);
	return rc;
}

/* validate: the new contents go to a file beside dest (a random name, so
 * that the command sees the same directory and file system), the command runs
 * on it ("%s" its path), and only an exit 0 lets dest be written; the file
 * is removed either way. Ansible's messages. */
static kp_rc validate(struct kp_modctx *ctx, struct kp_result *res, struct kp_put_plan *p, bool *ok,
		      struct kp_buf *err)
{
	const char *at = strstr(p->validate, "%s");
	if (!at) {
		*ok = false;
		return kp_mod_failf(res, "validate must contain %%s: %s", p->validate);
	}
	struct kp_buf tmp = KP_BUF_INIT, cmd = KP_BUF_INIT, perr = KP_BUF_INIT;
	char tag[17];
	kp_rc rc = kp_random_hex(tag, 8, err);
	if (rc)
		return rc;
	/* a name of this run's own: two runs validating the same file at once
	 * each check their own contents */
	kp_buf_addf(&tmp, "%s.%s.kplan-validate", p->dest, tag);
	struct kp_put_opts o = {.mode = 0600};
	rc = ctx->conn->ops->put(ctx->conn, tmp.buf, p->data, p->len, &o, &perr);
	if (rc == KP_ERR_UNREACHABLE) {
		kp_errorf(err, rc, "%s", perr.buf);
	} else if (rc) {
		*ok = false;
		rc = kp_mod_failf(res, "%s", perr.buf);
	} else {
		/* the command as written, %s replaced (quoted) by the file */
		for (const char *s = p->validate; *s;) {
			const char *h = strstr(s, "%s");
			if (!h) {
				kp_buf_addstr(&cmd, s);
				break;
			}
			kp_buf_add(&cmd, s, (size_t)(h - s));
			kp_sh_quote(&cmd, tmp.buf);
			s = h + 2;
		}
		kp_buf_addstr(&cmd, "; rc=$?; rm -f ");
		kp_sh_quote(&cmd, tmp.buf);
		kp_buf_addstr(&cmd, "; exit $rc");
		struct kp_exec_res r;
		kp_exec_res_init(&r);
		if (!(rc = kp_mod_sh(ctx, res, cmd.buf, &r, err)) && r.rc != 0) {
			*ok = false;
			if (p->validate_rc_in_msg) {
				kp_mod_failf(res, "failed to validate: rc:%d error:%s", r.rc,
					     r.err.buf);
			} else {
				/* copy and template: exit_status, stdout, stderr */
				kp_mod_failf(res, "failed to validate");
				kp_buf_reset(&res->out);
				kp_buf_add(&res->out, r.out.buf, r.out.len);
				kp_buf_reset(&res->err);
				kp_buf_add(&res->err, r.err.buf, r.err.len);
				if (!res->facts)
					res->facts = kp_value_map();
				kp_map_set_take(res->facts, "exit_status", kp_value_int(r.rc));
			}
		}
		kp_exec_res_release(&r);
	}
	kp_buf_release(&tmp);
	kp_buf_release(&cmd);
	kp_buf_release(&perr);
	return rc;
}

kp_rc kp_mod_put_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_put_plan *p,
		       struct kp_buf *err)
{
	bool ok = true;
	kp_rc rc = KP_OK;

	if (p->write) {
		if (p->mkdir_parent && !p->st->exists)
			rc = mkdir_parent(ctx, res, p->dest, &ok, err);
		if (!rc && ok && p->validate)
			rc = validate(ctx, res, p, &ok, err);
		if (!rc && ok && p->backup && p->st->exists)
			rc = backup(ctx, res, p, &ok, err);
		if (rc || !ok)
			return rc;
		struct kp_put_opts o = {
		    .mode = p->want.mode, .owner = p->want.owner, .group = p->want.group};
		struct kp_buf perr = KP_BUF_INIT;
		kp_buf_addstr(&res->cmds, "put ");
		kp_sh_quote(&res->cmds, p->dest);
		kp_buf_addch(&res->cmds, '\n');
		rc = ctx->conn->ops->put(ctx->conn, p->dest, p->data, p->len, &o, &perr);
		if (rc == KP_ERR_UNREACHABLE) {
			kp_errorf(err, rc, "%s", perr.buf);
		} else if (rc) {
			/* permissions, a missing directory: the task fails, the host is fine */
			kp_mod_failf(res, "%s", perr.buf);
			rc = KP_OK;
			ok = false;
		}
		kp_buf_release(&perr);
	} else if (p->attrs) {
		rc = kp_mod_attrs_apply(ctx, res, p->dest, p->st, &p->want, err);
		ok = !res->failed;
	}
	if (!rc && ok && p->done_msg) {
		kp_buf_reset(&res->msg);
		kp_buf_addstr(&res->msg, p->done_msg);
	}
	return rc;
}

/* A variable of the host: the scope's layers from the top. */
const struct kp_value *kp_mod_var(const struct kp_modctx *ctx, const char *name)
{
	return kp_scope_get(ctx->scope, name);
}
