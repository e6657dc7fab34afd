/* kube_node.c - wait for a Kubernetes node to be ready, or remove it. */
#include "module.h"

static const char *const states[] = {"ready", "absent", NULL};
static const char *const apis[] = {"auto", "direct", "kubectl", NULL};

static const struct kp_argspec args[] = {
    {.name = "name",
     .type = KP_T_STR,
     .help = "node name (default: the host's node_name var, or its inventory name)"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "ready",
     .choices = states,
     .help = "ready: wait for the Ready condition; absent: delete the Node object"},
    {.name = "version", .type = KP_T_STR, .help = "wait until the kubelet reports this version"},
    {.name = "timeout", .type = KP_T_DURATION, .def = "5m", .help = "give up after this long"},
    {.name = "api",
     .type = KP_T_STR,
     .def = "auto",
     .choices = apis,
     .help = "direct: API from the controller; kubectl: on a control-plane host"},
    {.name = "kubeconfig", .type = KP_T_PATH, .help = "kubeconfig on the controller"},
    {0},
};

const struct kp_module kp_mod_kube_node = {
    .name = "kube-node",
    .summary = "wait for or remove a node object",
    .args = args,
};
