/* wait_for.c - wait until a port answers, a path exists or a command succeeds. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "port", .type = KP_T_INT, .help = "TCP port to connect to"},
    {.name = "host",
     .type = KP_T_STR,
     .def = "127.0.0.1",
     .help = "host for port, seen from the node"},
    {.name = "path", .type = KP_T_PATH, .help = "wait until this path exists on the node"},
    {.name = "cmd", .type = KP_T_STR, .help = "wait until this command exits 0"},
    {.name = "timeout", .type = KP_T_DURATION, .def = "5m", .help = "give up after this long"},
    {.name = "delay",
     .type = KP_T_DURATION,
     .def = "0",
     .help = "wait this long before the first try"},
    {0},
};

static const char *const exclusive[] = {"port|path|cmd", NULL};

const struct kp_module kp_mod_wait_for = {
    .name = "wait-for",
    .summary = "wait for a port, a path or a command",
    .args = args,
    .exclusive = exclusive,
};
