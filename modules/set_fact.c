/* set_fact.c - set host variables: every argument is a variable. */
#include "module.h"

static const struct kp_argspec args[] = {
    {0},
};

const struct kp_module kp_mod_set_fact = {
    .name = "set-fact",
    .summary = "set host variables",
    .args = args,
    .flags = KP_MOD_ANY_ARGS | KP_MOD_READONLY | KP_MOD_LOCAL,
};
