/* lua.c - a custom step written in Lua. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "script", .type = KP_T_PATH, .help = "Lua file (relative to the plan)"},
    {.name = "code", .type = KP_T_STR, .help = "inline Lua code"},
    {.name = "args", .type = KP_T_DICT, .help = "values passed to the step"},
    {0},
};

static const char *const one_of[] = {"script|code", NULL};

const struct kp_module kp_mod_lua = {
    .name = "lua",
    .summary = "run a custom step written in Lua",
    .args = args,
    .one_of = one_of,
};
