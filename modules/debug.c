/* debug.c - print a message or a variable. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "msg", .type = KP_T_ANY, .help = "what to print"},
    {.name = "var", .type = KP_T_STR, .help = "a variable (or expression) to print"},
    {0},
};

static const char *const exclusive[] = {"msg|var", NULL};

const struct kp_module kp_mod_debug = {
    .name = "debug",
    .summary = "print a message or a variable",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
    .exclusive = exclusive,
};
