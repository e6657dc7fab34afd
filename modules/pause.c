/* pause.c - wait a while, or until the operator presses enter. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "seconds", .type = KP_T_INT, .help = "how long to wait"},
    {.name = "minutes", .type = KP_T_INT, .help = "how long to wait, in minutes"},
    {.name = "prompt", .type = KP_T_STR, .help = "ask the operator and wait for enter"},
    {0},
};

static const char *const exclusive[] = {"seconds|minutes", NULL};

const struct kp_module kp_mod_pause = {
    .name = "pause",
    .summary = "wait or ask",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
    .exclusive = exclusive,
};
