/* fail.c - fail the host with a message. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "msg",
     .type = KP_T_STR,
     .def = "Failed as requested from task",
     .help = "the failure message"},
    {0},
};

const struct kp_module kp_mod_fail = {
    .name = "fail",
    .summary = "fail with a message",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
};
