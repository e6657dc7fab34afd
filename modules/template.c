/* template.c - render a controller file with {{ }} and put it onto the node. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "src",
     .type = KP_T_PATH,
     .required = true,
     .help = "template file on the controller (relative to the plan)"},
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

const struct kp_module kp_mod_template = {
    .name = "template",
    .summary = "render a template on the controller and copy it to the node",
    .args = args,
};
