/*
 * command.c - run a program on the node without a shell.
 *
 * The command line is split into words as /bin/sh would split it, but
 * nothing is expanded ($HOME, *, ; stay literal), which is what makes
 * `command` safe with values that come from variables. shell.c shares the
 * probe (creates/removes) and the run through kp_mod_run_command.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

static const struct kp_argspec args[] = {
    {.name = "cmd", .type = KP_T_STR, .help = "the command line, split into words without a shell"},
    {.name = "argv", .type = KP_T_LIST, .help = "the program and its arguments, one per element"},
    {.name = "chdir", .type = KP_T_PATH, .help = "directory to run in"},
    {.name = "creates", .type = KP_T_PATH, .help = "skip when this path exists"},
    {.name = "removes", .type = KP_T_PATH, .help = "run only when this path exists"},
    {.name = "stdin", .type = KP_T_STR, .help = "text fed to the command's standard input"},
    {0},
};

static const char *const one_of[] = {"cmd|argv", NULL};

/* creates/removes relative to chdir, as Ansible resolves them. */
static char *guard_path(const struct kp_modctx *ctx, const char *p)
{
	const char *dir = kp_arg_str(ctx, "chdir");
	struct kp_buf b = KP_BUF_INIT;
	if (p[0] == '/' || !dir)
		return kp_xstrdup(p);
	kp_buf_addf(&b, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", p);
	return kp_buf_detach(&b, NULL);
}

kp_rc kp_mod_command_probe(struct kp_modctx *ctx, struct kp_result *res, const char *what,
			   struct kp_buf *err)
{
	static const char *const guards[] = {"creates", "removes"};
	for (size_t i = 0; i < 2; i++) {
		const char *g = kp_arg_str(ctx, guards[i]);
		struct kp_stat st;
		if (!g)
			continue;
		char *path = guard_path(ctx, g);
		kp_rc rc = ctx->conn->ops->stat(ctx->conn, path, false, &st, err);
		if (!rc && st.exists == (i == 0)) {
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "skipped: '%s' %s", path,
				    i == 0 ? "exists" : "does not exist");
			res->changed = false;
			free(path);
			return KP_OK;
		}
		free(path);
		if (rc)
			return rc;
	}
	res->changed = true;
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "would run: %s", what);
	return KP_OK;
}

kp_rc kp_mod_run_command(struct kp_modctx *ctx, struct kp_result *res, struct kp_exec_req *req,
			 struct kp_buf *err)
{
	struct kp_exec_res r;
	const char *in = kp_arg_str(ctx, "stdin");
	kp_rc rc;

	req->chdir = kp_arg_str(ctx, "chdir");
	if (ctx->async_jid)
		return kp_mod_async_start(ctx, res, req, err);
	if (in) {
		req->stdin_data = in;
		req->stdin_len = strlen(in);
	}
	kp_exec_res_init(&r);
	rc = kp_mod_exec(ctx, res, req, &r, err);
	if (!rc) {
		res->has_rc = true;
		res->rc = r.rc;
		kp_buf_reset(&res->out);
		kp_buf_add(&res->out, r.out.buf, r.out.len);
		kp_buf_reset(&res->err);
		kp_buf_add(&res->err, r.err.buf, r.err.len);
		kp_buf_reset(&res->msg);
		if (r.timed_out) {
			kp_mod_fail_timeout(ctx, req, res);
			res->changed = true;
		} else if (r.rc != 0) {
			kp_mod_failf(res, "non-zero return code");
			res->changed = true;
		}
	}
	kp_exec_res_release(&r);
	return rc;
}

/* The words to run: argv as given, or cmd split without expansion. */
static kp_rc words(const struct kp_modctx *ctx, char ***out, struct kp_buf *err)
{
	const struct kp_value *l = kp_arg(ctx, "argv");
	if (!l)
		return kp_mod_split_words(kp_arg_str(ctx, "cmd"), out, err);
	if (!kp_list_len(l))
		return kp_errorf(err, KP_ERR_INVALID, "argument 'argv' is an empty list");
	char **argv = kp_xcalloc(kp_list_len(l) + 1, sizeof(*argv));
	for (size_t i = 0; i < kp_list_len(l); i++) {
		struct kp_buf b = KP_BUF_INIT;
		kp_value_to_text(kp_list_at(l, i), false, &b);
		argv[i] = kp_buf_detach(&b, NULL);
	}
	*out = argv;
	return KP_OK;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	char **argv;
	struct kp_buf e = KP_BUF_INIT, line = KP_BUF_INIT;
	if (words(ctx, &argv, &e)) {
		kp_mod_failf(res, "%s", e.buf);
		kp_buf_release(&e);
		return KP_OK;
	}
	kp_mod_join_words((const char *const *)argv, &line);
	kp_rc rc = kp_mod_command_probe(ctx, res, line.buf, err);
	kp_mod_free_words(argv);
	kp_buf_release(&line);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	char **argv;
	struct kp_buf e = KP_BUF_INIT;
	if (words(ctx, &argv, &e)) {
		kp_mod_failf(res, "%s", e.buf);
		kp_buf_release(&e);
		return KP_OK;
	}
	struct kp_exec_req req = {.argv = (const char *const *)argv};
	kp_rc rc = kp_mod_run_command(ctx, res, &req, err);
	kp_mod_free_words(argv);
	return rc;
}

const struct kp_module kp_mod_command = {
    .name = "command",
    .summary = "run a program without a shell",
    .args = args,
    .free_form = "cmd",
    .one_of = one_of,
    .probe = probe,
    .apply = apply,
    .flags = KP_MOD_ASYNC_BG,
};
