/* apt_pin.c - install an exact package version with apt and hold it. */
#include "module.h"

static const struct kp_argspec args[] = {
    {.name = "name", .type = KP_T_STR_OR_LIST, .required = true, .help = "package name(s)"},
    {.name = "version",
     .type = KP_T_STR,
     .required = true,
     .help = "1.13.3, 1.13.3-00 or v1.13.3; a short version resolves to the one candidate"},
    {.name = "hold", .type = KP_T_BOOL, .def = "true", .help = "apt-mark hold afterwards"},
    {.name = "update_cache",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "apt-get update when the cache is older than cache_valid_time"},
    {.name = "cache_valid_time",
     .type = KP_T_DURATION,
     .def = "1h",
     .help = "how old the apt cache may be"},
    {.name = "allow_downgrade",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "allow installing an older version"},
    {.name = "lock_timeout",
     .type = KP_T_DURATION,
     .def = "2m",
     .help = "wait this long for another apt/dpkg holding the lock"},
    {0},
};

const struct kp_module kp_mod_apt_pin = {
    .name = "apt-pin",
    .summary = "install an exact package version and hold it",
    .args = args,
};
