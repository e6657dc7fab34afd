/*
 * shell.c - run a command line on the node through /bin/sh -c (or another
 * `executable`). Guards and the run itself are command.c's.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <string.h>

static const struct kp_argspec args[] = {
    {.name = "cmd", .type = KP_T_STR, .required = true, .help = "the shell command line"},
    {.name = "chdir", .type = KP_T_PATH, .help = "directory to run in"},
    {.name = "creates", .type = KP_T_PATH, .help = "skip when this path exists"},
    {.name = "removes", .type = KP_T_PATH, .help = "run only when this path exists"},
    {.name = "executable", .type = KP_T_PATH, .def = "/bin/sh", .help = "the shell to use"},
    {.name = "stdin", .type = KP_T_STR, .help = "text fed to the command's standard input"},
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	return kp_mod_command_probe(ctx, res, kp_arg_str(ctx, "cmd"), err);
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *cmd = kp_arg_str(ctx, "cmd"), *sh = kp_arg_str(ctx, "executable");
	const char *argv[] = {sh, "-c", cmd, NULL};
	struct kp_exec_req req = {0};

	/* the transport's own /bin/sh -c keeps the recorded command readable */
	if (!sh || !strcmp(sh, "/bin/sh"))
		req.cmd = cmd;
	else
		req.argv = argv;
	return kp_mod_run_command(ctx, res, &req, err);
}

const struct kp_module kp_mod_shell = {
    .name = "shell",
    .summary = "run a command line through /bin/sh -c",
    .args = args,
    .free_form = "cmd",
    .probe = probe,
    .apply = apply,
    .flags = KP_MOD_ASYNC_BG,
};
