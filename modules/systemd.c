/* systemd.c - start, stop, restart, reload and enable services. */
#include "module.h"

static const char *const states[] = {"started", "stopped", "restarted", "reloaded", NULL};

static const struct kp_argspec args[] = {
    {.name = "name", .type = KP_T_STR, .help = "the unit"},
    {.name = "state", .type = KP_T_STR, .choices = states, .help = "what the unit should be"},
    {.name = "enabled", .type = KP_T_BOOL, .help = "start the unit at boot"},
    {.name = "daemon_reload",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "run systemctl daemon-reload first"},
    {0},
};

const struct kp_module kp_mod_systemd = {
    .name = "systemd",
    .summary = "manage systemd services",
    .args = args,
};
