/* drain.c - cordon, drain and uncordon a Kubernetes node. */
#include "module.h"

static const char *const states[] = {"drained", "cordoned", "uncordoned", NULL};
static const char *const apis[] = {"auto", "direct", "kubectl", NULL};

static const struct kp_argspec args[] = {
    {.name = "node",
     .type = KP_T_STR,
     .help = "node name (default: the host's node_name var, or its inventory name)"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "drained",
     .choices = states,
     .help = "what the node should be"},
    {.name = "ignore_daemonsets", .type = KP_T_BOOL, .def = "true", .help = "skip DaemonSet pods"},
    {.name = "delete_emptydir_data",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "evict pods with emptyDir volumes (their data is lost)"},
    {.name = "force", .type = KP_T_BOOL, .def = "false", .help = "evict pods without a controller"},
    {.name = "grace_period",
     .type = KP_T_DURATION,
     .help = "termination grace period (default: the pod's own)"},
    {.name = "timeout", .type = KP_T_DURATION, .def = "5m", .help = "give up after this long"},
    {.name = "pod_selector", .type = KP_T_STR, .help = "label selector of the pods to evict"},
    {.name = "disable_eviction",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "delete pods instead of evicting them (bypasses PodDisruptionBudgets)"},
    {.name = "uncordon_on_failure",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "uncordon again when draining fails"},
    {.name = "api",
     .type = KP_T_STR,
     .def = "auto",
     .choices = apis,
     .help = "direct: API from the controller; kubectl: on a control-plane host"},
    {.name = "kubeconfig", .type = KP_T_PATH, .help = "kubeconfig on the controller"},
    {0},
};

const struct kp_module kp_mod_drain = {
    .name = "drain",
    .summary = "cordon, drain and uncordon a node",
    .args = args,
};
