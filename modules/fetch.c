/* fetch.c - copy a file from the node to the controller. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "src", .type = KP_T_PATH, .required = true, .help = "file on the node"},
    {.name = "dest",
     .type = KP_T_PATH,
     .required = true,
     .help = "directory (or with flat, file) on the controller"},
    {.name = "flat",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "store as dest itself instead of dest/<host>/<src>"},
    {0},
};

const struct kp_module kp_mod_fetch = {
    .name = "fetch",
    .summary = "copy a file from the node to the controller",
    .args = args,
};
