/*
 * kubeutil.h - helpers the Kubernetes modules share (kubeutil.c): the node
 * a task is about, the first control-plane host, the controller's
 * kubeconfig and the API client of a task.
 *
 * Ownership: strings returned are borrowed from ctx; a client from
 * kp_mod_kube_open is freed with kp_mod_kube_close.
 */
#ifndef KP_KUBEUTIL_H
#define KP_KUBEUTIL_H

#include "modules/module.h"

struct kp_kube;

/* The node name: the argument `arg` when set, else the host's node_name
 * variable, else its inventory name. Borrowed from ctx. */
const char *kp_mod_node_name(const struct kp_modctx *ctx, const char *arg);
/* groups['kube_control_plane'][1] (Lua's first), or NULL. */
const char *kp_mod_first_control_plane(const struct kp_modctx *ctx);
/* The controller kubeconfig a Kubernetes module uses, one precedence for
 * all of them: `arg` (the module's own `kubeconfig` argument, relative to
 * ctx->base_dir; NULL when unset or when the module's argument names a
 * file on the node), else the run's --kubeconfig (ctx->kubeconfig), else
 * the first existing file of $KUBECONFIG, else ~/.kube/config. env and home
 * are the values of $KUBECONFIG and $HOME (passed in: tests need no
 * setenv). The path goes into `path`. As kp_kubeconfig_find:
 * KP_ERR_NOTFOUND when there is none (the control-plane fallback is the
 * caller's), KP_ERR_IO naming the file when a given one cannot be read. */
kp_rc kp_mod_kubeconfig_find(const struct kp_modctx *ctx, const char *arg, const char *env,
			     const char *home, struct kp_buf *path, struct kp_buf *err);
/* A direct client with the kubeconfig kp_mod_kubeconfig_find's precedence
 * picks (through kp_kube_open): KP_ERR_NOTFOUND when there is none. */
kp_rc kp_mod_kube_direct(const struct kp_modctx *ctx, const char *arg, struct kp_kube **out,
			 struct kp_buf *err);
/* The API client for a task, from the `api` argument (auto | direct |
 * kubectl; "direct" when the module has none) and the `kubeconfig`
 * argument (a controller path): direct with the kubeconfig that
 * kp_mod_kubeconfig_find finds, or kubectl with /etc/kubernetes/admin.conf
 * through ctx->control_plane_exec. When neither works the task fails
 * (res->failed, saying why) and *out is NULL, with KP_OK. kubectl
 * commands are recorded in res->cmds. Freed with kp_mod_kube_close. */
kp_rc kp_mod_kube_open(struct kp_modctx *ctx, struct kp_result *res, struct kp_kube **out,
		       struct kp_buf *err);
void kp_mod_kube_close(struct kp_kube *k);

#endif
