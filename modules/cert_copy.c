/* cert_copy.c - back up, restore, verify and report node certificates. */
#include "module.h"

static const char *const actions[] = {"backup", "restore", "verify", "report", NULL};

static const struct kp_argspec args[] = {
    {.name = "action", .type = KP_T_STR, .def = "backup", .choices = actions, .help = "what to do"},
    {.name = "paths",
     .type = KP_T_LIST,
     .def = "[/etc/kubernetes/pki]",
     .help = "directories on the node"},
    {.name = "store",
     .type = KP_T_PATH,
     .def = "backups/pki/",
     .help = "directory on the controller"},
    {.name = "from_host", .type = KP_T_STR, .help = "restore another host's backup"},
    {.name = "warn_days",
     .type = KP_T_INT,
     .def = "30",
     .help = "warn about certificates expiring within this many days"},
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "restore expired certificates or mismatched keys"},
    {.name = "fail_under",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "report: fail when a certificate expires within warn_days"},
    {0},
};

const struct kp_module kp_mod_cert_copy = {
    .name = "cert-copy",
    .summary = "back up and restore node certificates",
    .args = args,
};
