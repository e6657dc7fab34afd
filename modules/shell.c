/* shell.c - run a command line on the node through /bin/sh -c. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "cmd", .type = KP_T_STR, .required = true, .help = "the shell command line"},
    {.name = "chdir", .type = KP_T_PATH, .help = "directory to run in"},
    {.name = "creates", .type = KP_T_PATH, .help = "skip when this path exists"},
    {.name = "removes", .type = KP_T_PATH, .help = "run only when this path exists"},
    {.name = "executable", .type = KP_T_PATH, .def = "/bin/sh", .help = "the shell to use"},
    {.name = "stdin", .type = KP_T_STR, .help = "text fed to the command's standard input"},
    {0},
};

const struct kp_module kp_mod_shell = {
    .name = "shell",
    .summary = "run a command line through /bin/sh -c",
    .args = args,
    .free_form = "cmd",
};
