/* etcd_member.c - list, add and remove etcd members, check their health. */
#include "module.h"

static const char *const actions[] = {"list", "add", "remove", "health", NULL};

static const struct kp_argspec args[] = {
    {.name = "action",
     .type = KP_T_STR,
     .required = true,
     .choices = actions,
     .help = "what to do"},
    {.name = "name", .type = KP_T_STR, .help = "member name, or peer URL for remove"},
    {.name = "peer_urls", .type = KP_T_STR_OR_LIST, .help = "peer URLs of a new member"},
    {.name = "endpoints",
     .type = KP_T_STR_OR_LIST,
     .def = "https://127.0.0.1:2379",
     .help = "etcd client URLs"},
    {.name = "cacert",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/ca.crt",
     .help = "etcd CA certificate on the node"},
    {.name = "cert",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
     .help = "etcd client certificate on the node"},
    {.name = "key",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/healthcheck-client.key",
     .help = "etcd client key on the node"},
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "remove a member even when that loses quorum"},
    {0},
};

const struct kp_module kp_mod_etcd_member = {
    .name = "etcd-member",
    .summary = "list, add and remove etcd members",
    .args = args,
};
