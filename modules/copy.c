/* copy.c - put a controller file or inline content onto the node. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "src", .type = KP_T_PATH, .help = "file on the controller (relative to the plan)"},
    {.name = "content", .type = KP_T_STR, .help = "the file's contents, inline"},
    {.name = "dest", .type = KP_T_PATH, .required = true, .help = "path on the node"},
    {.name = "mode", .type = KP_T_STR, .help = "permissions, e.g. \"0644\""},
    {.name = "owner", .type = KP_T_STR, .help = "owning user"},
    {.name = "group", .type = KP_T_STR, .help = "owning group"},
    {.name = "backup",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "keep a timestamped copy of the file it replaces"},
    {0},
};

static const char *const one_of[] = {"src|content", NULL};

const struct kp_module kp_mod_copy = {
    .name = "copy",
    .summary = "copy a controller file or inline content to the node",
    .args = args,
    .one_of = one_of,
};
