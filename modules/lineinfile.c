/* lineinfile.c - ensure a line is present in (or absent from) a node file. */
#include "module.h"

static const char *const states[] = {"present", "absent", NULL};

static const struct kp_argspec args[] = {
    {.name = "path", .type = KP_T_PATH, .required = true, .help = "file on the node"},
    {.name = "line", .type = KP_T_STR, .help = "the line to ensure"},
    {.name = "regexp", .type = KP_T_STR, .help = "replace the last line matching this"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "present",
     .choices = states,
     .help = "whether the line should be there"},
    {.name = "insertafter",
     .type = KP_T_STR,
     .help = "insert after the last line matching this (or EOF)"},
    {.name = "create",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "create the file when it does not exist"},
    {0},
};

const struct kp_module kp_mod_lineinfile = {
    .name = "lineinfile",
    .summary = "ensure a line in a file",
    .args = args,
};
