/*
 * kubeutil.c - what the Kubernetes modules (drain, kube-node,
 * kubeadm-upgrade) share: the node a task is about, the first control-plane
 * host, and the API client a task uses, direct (the controller's
 * kubeconfig, found by kp_kube_open) or kubectl on the control plane.
 */
#include "modules/kube/kubeutil.h"
#include "kube/kubeapi.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

const char *kp_mod_node_name(const struct kp_modctx *ctx, const char *arg)
{
	const char *n = kp_arg_str(ctx, arg);
	const struct kp_value *v = kp_mod_var(ctx, "node_name");
	if (n && *n)
		return n;
	if (v && v->type == KP_V_STR && v->u.str.len)
		return v->u.str.s;
	return ctx->host;
}

const char *kp_mod_first_control_plane(const struct kp_modctx *ctx)
{
	const struct kp_value *g = kp_mod_var(ctx, "groups");
	const struct kp_value *l =
	    g && g->type == KP_V_MAP ? kp_map_get(g, "kube_control_plane") : NULL;
	if (!l || l->type != KP_V_LIST || !kp_list_len(l))
		return NULL;
	const struct kp_value *h = kp_list_at(l, 0);
	return h->type == KP_V_STR ? h->u.str.s : NULL;
}

/* What a kubectl client needs to run its commands through the engine. */
struct kubectl_via {
	struct kp_modctx *ctx;
	struct kp_result *res;
};

static kp_rc via_control_plane(void *arg, const struct kp_exec_req *req, struct kp_exec_res *r,
			       struct kp_buf *err)
{
	struct kubectl_via *v = arg;
	const char *cp = kp_mod_first_control_plane(v->ctx);
	kp_buf_addf(&v->res->cmds, "[%s] ", cp ? cp : "kube_control_plane");
	kp_mod_join_words(req->argv, &v->res->cmds);
	kp_buf_addch(&v->res->cmds, '\n');
	kp_rc rc = v->ctx->control_plane_exec(v->ctx, req, r, err);
	/* the control-plane host being unreachable is not this host's fault */
	return rc == KP_ERR_UNREACHABLE ? KP_ERR_IO : rc;
}

#define CP_KUBECONFIG "/etc/kubernetes/admin.conf"

static char *given_path(const struct kp_modctx *ctx, const char *arg)
{
	if (arg && *arg)
		return kp_mod_local_path(ctx, arg);
	return ctx->kubeconfig && *ctx->kubeconfig ? kp_xstrdup(ctx->kubeconfig) : NULL;
}

kp_rc kp_mod_kubeconfig_find(const struct kp_modctx *ctx, const char *arg, const char *env,
			     const char *home, struct kp_buf *path, struct kp_buf *err)
{
	char *given = given_path(ctx, arg);
	kp_rc rc = kp_kubeconfig_find(given, env, home, path, err);
	free(given);
	return rc;
}

kp_rc kp_mod_kube_direct(const struct kp_modctx *ctx, const char *arg, struct kp_kube **out,
			 struct kp_buf *err)
{
	char *given = given_path(ctx, arg);
	kp_rc rc = kp_kube_open(given, getenv("KUBECONFIG"), getenv("HOME"), out, err);
	free(given);
	return rc;
}

kp_rc kp_mod_kube_open(struct kp_modctx *ctx, struct kp_result *res, struct kp_kube **out,
		       struct kp_buf *err)
{
	const char *api = kp_arg_str(ctx, "api");
	struct kp_buf e = KP_BUF_INIT;

	*out = NULL;
	if (!api)
		api = "direct";
	if (strcmp(api, "kubectl")) {
		kp_rc rc = kp_mod_kube_direct(ctx, kp_arg_str(ctx, "kubeconfig"), out, &e);
		/* only "no kubeconfig anywhere" falls back; a named one that
		 * does not work is an error (a given file is never NOTFOUND) */
		if (rc != KP_ERR_NOTFOUND || !strcmp(api, "direct")) {
			if (rc)
				kp_mod_failf(res, "%s", e.buf);
			goto out;
		}
		/* auto without a kubeconfig on the controller: kubectl */
	}
	if (!ctx->control_plane_exec) {
		if (!strcmp(api, "kubectl"))
			kp_mod_failf(res, "api: kubectl needs the connection to the first host of "
					  "kube_control_plane, which this run does not provide");
		else
			kp_mod_failf(res,
				     "%s, and api: kubectl is not available in this run "
				     "(give the kubeconfig argument or --kubeconfig, or set "
				     "$KUBECONFIG)",
				     e.buf);
		goto out;
	}
	if (!kp_mod_first_control_plane(ctx)) {
		kp_mod_failf(res, "api: kubectl runs kubectl on the first host of "
				  "kube_control_plane, but that group is empty or missing");
		goto out;
	}
	struct kubectl_via *v = kp_xcalloc(1, sizeof(*v));
	v->ctx = ctx;
	v->res = res;
	*out = kp_kube_new_kubectl(via_control_plane, v, CP_KUBECONFIG);
	/* one discovery per run for every task that runs kubectl there */
	kp_buf_reset(&e);
	kp_buf_addf(&e, "kubectl --kubeconfig %s on %s", CP_KUBECONFIG,
		    kp_mod_first_control_plane(ctx));
	kp_kube_set_discovery_key(*out, e.buf);
out:
	kp_buf_release(&e);
	return KP_OK;
}

void kp_mod_kube_close(struct kp_kube *k)
{
	if (!k)
		return;
	void *arg = kp_kube_exec_arg(k);
	kp_kube_free(k);
	free(arg);
}
