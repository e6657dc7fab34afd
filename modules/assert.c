/* assert.c - fail the host unless every expression holds. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "that",
     .type = KP_T_STR_OR_LIST,
     .required = true,
     .help = "expressions that must all be true"},
    {.name = "fail_msg", .type = KP_T_STR, .help = "message when one is false"},
    {.name = "success_msg", .type = KP_T_STR, .help = "message when all hold"},
    {0},
};

const struct kp_module kp_mod_assert = {
    .name = "assert",
    .summary = "check that expressions hold",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
};
