/* kubeadm_upgrade.c - upgrade the control plane or a node with kubeadm. */
#include "module.h"

static const char *const actions[] = {"auto", "plan", "apply", "node", NULL};

static const struct kp_argspec args[] = {
    {.name = "version", .type = KP_T_STR, .required = true, .help = "v1.13.3 or 1.13.3"},
    {.name = "action",
     .type = KP_T_STR,
     .def = "auto",
     .choices = actions,
     .help = "auto: apply on the first control-plane host, node elsewhere"},
    {.name = "etcd_upgrade", .type = KP_T_BOOL, .def = "true", .help = "upgrade etcd too"},
    {.name = "certificate_renewal",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "renew certificates during the upgrade"},
    {.name = "ignore_preflight_errors", .type = KP_T_LIST, .help = "preflight checks to ignore"},
    {.name = "kubeconfig",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/admin.conf",
     .help = "kubeconfig on the node"},
    {.name = "allow_minor_skip",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "allow skipping a minor version"},
    {0},
};

const struct kp_module kp_mod_kubeadm_upgrade = {
    .name = "kubeadm-upgrade",
    .summary = "upgrade the control plane or a node with kubeadm",
    .args = args,
};
