/* reboot.c - reboot the node and wait until it is back with a new boot id. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "timeout",
     .type = KP_T_DURATION,
     .def = "10m",
     .help = "how long to wait for the node to come back"},
    {.name = "pre_reboot_delay",
     .type = KP_T_DURATION,
     .def = "0",
     .help = "wait this long before rebooting"},
    {.name = "post_reboot_delay",
     .type = KP_T_DURATION,
     .def = "0",
     .help = "wait this long after the node answers again"},
    {.name = "test_command",
     .type = KP_T_STR,
     .def = "whoami",
     .help = "command that must succeed once the node is back"},
    {0},
};

const struct kp_module kp_mod_reboot = {
    .name = "reboot",
    .summary = "reboot the node and wait until it answers SSH again with a new boot id",
    .args = args,
};
