/* registry.c - the one table of built-in modules, and the other names they
 * answer to. Adding a module means one file in modules/, one line here. */
#include "modules/module.h"

extern const struct kp_module kp_mod_add_host, kp_mod_apt, kp_mod_apt_pin, kp_mod_apt_repository,
    kp_mod_async_status, kp_mod_dpkg_selections, kp_mod_assert, kp_mod_cert_copy, kp_mod_command,
    kp_mod_copy, kp_mod_deb822_repository, kp_mod_debug, kp_mod_drain, kp_mod_etcd_member,
    kp_mod_etcd_snapshot, kp_mod_fail, kp_mod_fetch, kp_mod_file, kp_mod_get_url, kp_mod_group_by,
    kp_mod_include_vars, kp_mod_k8s_drain, kp_mod_kube_node, kp_mod_kubeadm_upgrade,
    kp_mod_lineinfile, kp_mod_lua, kp_mod_meta, kp_mod_pause, kp_mod_reboot, kp_mod_service,
    kp_mod_set_fact, kp_mod_setup, kp_mod_shell, kp_mod_stat, kp_mod_systemd, kp_mod_template,
    kp_mod_unarchive, kp_mod_uri, kp_mod_wait_for;

/* sorted by name, as `kplan modules` lists them */
const struct kp_module *const kp_modules[] = {
    &kp_mod_add_host,	   &kp_mod_apt,
    &kp_mod_apt_pin,	   &kp_mod_apt_repository,
    &kp_mod_assert,	   &kp_mod_async_status,
    &kp_mod_cert_copy,	   &kp_mod_command,
    &kp_mod_copy,	   &kp_mod_deb822_repository,
    &kp_mod_debug,	   &kp_mod_dpkg_selections,
    &kp_mod_drain,	   &kp_mod_etcd_member,
    &kp_mod_etcd_snapshot, &kp_mod_fail,
    &kp_mod_fetch,	   &kp_mod_file,
    &kp_mod_get_url,	   &kp_mod_group_by,
    &kp_mod_include_vars,  &kp_mod_k8s_drain,
    &kp_mod_kube_node,	   &kp_mod_kubeadm_upgrade,
    &kp_mod_lineinfile,	   &kp_mod_lua,
    &kp_mod_meta,	   &kp_mod_pause,
    &kp_mod_reboot,	   &kp_mod_service,
    &kp_mod_set_fact,	   &kp_mod_setup,
    &kp_mod_shell,	   &kp_mod_stat,
    &kp_mod_systemd,	   &kp_mod_template,
    &kp_mod_unarchive,	   &kp_mod_uri,
    &kp_mod_wait_for,	   NULL,
};

const size_t kp_nmodules = KP_ARRAY_LEN(kp_modules) - 1;

/* Every module also answers to ansible.builtin.<name> and
 * ansible.legacy.<name> (kp_module_find); these are the names that differ. */
const struct kp_module_alias kp_module_aliases[] = {
    {"systemd_service", "systemd"},
    {"kubernetes.core.k8s_drain", "k8s-drain"},
    {NULL, NULL},
};
