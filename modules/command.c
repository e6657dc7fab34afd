/* command.c - run a program on the node without a shell. */
#include "module.h"

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

const struct kp_module kp_mod_command = {
    .name = "command",
    .summary = "run a program without a shell",
    .args = args,
    .free_form = "cmd",
    .one_of = one_of,
};
