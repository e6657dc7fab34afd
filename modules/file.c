/* file.c - the state of a path on the node: file, directory, link, absent. */
#include "module.h"

static const char *const states[] = {"file", "directory", "absent", "link", "touch", NULL};

static const struct kp_argspec args[] = {
    {.name = "path", .type = KP_T_PATH, .required = true, .help = "path on the node"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "file",
     .choices = states,
     .help = "what the path should be"},
    {.name = "mode", .type = KP_T_STR, .help = "permissions, e.g. \"0755\""},
    {.name = "owner", .type = KP_T_STR, .help = "owning user"},
    {.name = "group", .type = KP_T_STR, .help = "owning group"},
    {.name = "src", .type = KP_T_PATH, .help = "link target (state: link)"},
    {0},
};

const struct kp_module kp_mod_file = {
    .name = "file",
    .summary = "ensure the state of a path: file, directory, link or absent",
    .args = args,
};
