/*
 * kubeadm_upgrade.c - upgrade the control plane or a node with kubeadm.
 *
 * The probe finds kubeadm's own version, the cluster's version and the
 * node's kubelet version, and refuses what kubeadm would refuse or get
 * wrong half-way (an old kubeadm, a skipped minor version, a downgrade, a
 * node before its control plane), each time saying what to do first.
 * The cluster version comes from `kubeadm upgrade plan` on the control
 * plane (whose table check mode reports anyway), and for a node from the
 * API: the controller's kubeconfig when there is one (--kubeconfig,
 * $KUBECONFIG, ~/.kube/config: kp_mod_kube_direct), else kubectl on the
 * first control-plane host, else kubectl with the node's own kubelet.conf.
 */
#include "kube/kubeapi.h"
#include "modules/module.h"
#include "modules/kube/kubeutil.h"
#include "transport/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* A word for a shell command line, quoted only when it needs it. */
static void add_word(struct kp_buf *b, const char *w)
{
	const char *argv[] = {w, NULL};
	kp_mod_join_words(argv, b);
}

#define DEFAULT_KUBECONFIG "/etc/kubernetes/admin.conf"
#define NODE_KUBECONFIG	   "/etc/kubernetes/kubelet.conf"

struct ver {
	int major, minor, patch;
};

/* "v1.13.3", "1.13.3-00", "Kubernetes v1.13.3" -> 1, 13, 3 */
static bool parse_ver(const char *s, struct ver *v)
{
	const char *p = s ? strpbrk(s, "0123456789") : NULL;
	return p && sscanf(p, "%d.%d.%d", &v->major, &v->minor, &v->patch) == 3;
}

static int ver_cmp(const struct ver *a, const struct ver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	return 0;
}

struct up {
	char action[8]; /* plan, apply, node */
	struct ver target, kubeadm, cluster, kubelet;
	char vt[32]; /* "v1.13.3" */
	char cluster_text[32], kubelet_text[32];
	bool have_kubelet;
	struct kp_value *components;
};

static void up_free(void *p)
{
	struct up *u = p;
	kp_value_unref(u->components);
	free(u);
}

/* A command whose output we need; false (task failed) when it did not work. */
static kp_rc need(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		  struct kp_exec_res *r, bool *ok, struct kp_buf *err)
{
	kp_exec_res_release(r);
	kp_exec_res_init(r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd, r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd, r);
	return rc;
}

/* The COMPONENT / CURRENT / AVAILABLE tables of `kubeadm upgrade plan`,
 * columns separated by two or more spaces. */
static struct kp_value *components(const char *out)
{
	struct kp_value *l = kp_value_list();
	bool in_table = false;
	for (const char *line = out; *line;) {
		size_t len = strcspn(line, "\n");
		const char *p = line;
		while (p < line + len && (*p == ' ' || *p == '\t'))
			p++;
		if (!strncmp(p, "COMPONENT", 9)) {
			in_table = true;
		} else if (p == line + len) {
			in_table = false;
		} else if (in_table) {
			char *cols[3] = {0};
			int n = 0;
			const char *c = p, *end = line + len;
			while (c < end && n < 3) {
				const char *e = c;
				while (e < end && !(e[0] == ' ' && e + 1 < end && e[1] == ' ') &&
				       *e != '\t')
					e++;
				cols[n++] = kp_xstrndup(c, (size_t)(e - c));
				while (e < end && (*e == ' ' || *e == '\t'))
					e++;
				c = e;
			}
			if (n == 3) {
				struct kp_value *m = kp_value_map();
				kp_map_set_take(m, "name", kp_value_str(cols[0]));
				kp_map_set_take(m, "current", kp_value_str(cols[1]));
				kp_map_set_take(m, "available", kp_value_str(cols[2]));
				kp_list_push_take(l, m);
			}
			for (int i = 0; i < n; i++)
				free(cols[i]);
		}
		line += len;
		if (*line)
			line++;
	}
	return l;
}

struct via {
	struct kp_modctx *ctx;
	struct kp_result *res;
	bool control_plane;
};

static kp_rc via_exec(void *arg, const struct kp_exec_req *req, struct kp_exec_res *r,
		      struct kp_buf *err)
{
	struct via *v = arg;
	if (v->control_plane) {
		kp_rc rc = v->ctx->control_plane_exec(v->ctx, req, r, err);
		return rc == KP_ERR_UNREACHABLE ? KP_ERR_IO : rc;
	}
	return kp_mod_exec(v->ctx, v->res, req, r, err);
}

/* The cluster's version through the API (see the top comment). */
static kp_rc api_version(struct kp_modctx *ctx, struct kp_result *res, char **out,
			 struct kp_buf *err)
{
	struct kp_kube *k = NULL;
	struct via v = {.ctx = ctx, .res = res};
	/* this module's `kubeconfig` argument names a file on the node: the
	 * controller's comes from --kubeconfig, $KUBECONFIG or ~/.kube/config */
	kp_rc rc = kp_mod_kube_direct(ctx, NULL, &k, err);
	if (rc == KP_ERR_NOTFOUND) {
		v.control_plane = ctx->control_plane_exec && kp_mod_first_control_plane(ctx);
		k = kp_kube_new_kubectl(via_exec, &v,
					v.control_plane ? DEFAULT_KUBECONFIG : NODE_KUBECONFIG);
		rc = KP_OK;
	}
	if (!rc)
		rc = kp_kube_version(k, out, err);
	kp_kube_free(k);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct up *u = kp_xcalloc(1, sizeof(*u));
	const char *action = kp_arg_str(ctx, "action");
	const char *kubeconfig = kp_arg_str(ctx, "kubeconfig");
	struct kp_exec_res r;
	struct kp_buf cmd = KP_BUF_INIT, e = KP_BUF_INIT;
	bool ok;
	kp_rc rc = KP_OK;

	ctx->state = u;
	ctx->free_state = up_free;
	u->components = kp_value_list();
	kp_exec_res_init(&r);
	if (!parse_ver(kp_arg_str(ctx, "version"), &u->target)) {
		kp_mod_failf(res, "version '%s' is not a Kubernetes version like v1.13.3",
			     kp_arg_str(ctx, "version"));
		goto out;
	}
	snprintf(u->vt, sizeof(u->vt), "v%d.%d.%d", u->target.major, u->target.minor,
		 u->target.patch);
	if (!strcmp(action, "auto")) {
		const char *cp = kp_mod_first_control_plane(ctx);
		if (!cp) {
			kp_mod_failf(res, "action auto needs the inventory group "
					  "'kube_control_plane' (or give action: apply or node)");
			goto out;
		}
		action = strcmp(cp, ctx->host) ? "node" : "apply";
	}
	snprintf(u->action, sizeof(u->action), "%s", action);

	if ((rc = need(ctx, res, "kubeadm version -o short", &r, &ok, err)) || !ok)
		goto out;
	if (!parse_ver(r.out.buf, &u->kubeadm)) {
		kp_mod_failf(res, "cannot read kubeadm's version from '%.*s'",
			     (int)strcspn(r.out.buf, "\n"), r.out.buf);
		goto out;
	}
	if (ver_cmp(&u->kubeadm, &u->target) < 0 && ctx->check_mode) {
		/* a check cannot tell whether an earlier task of the plan (apt-pin)
		 * installs the newer kubeadm: say so instead of failing */
		res->changed = true;
		kp_buf_reset(&res->msg);
		/* the target kubeadm picks the node syntax: before 1.15 it is
		 * `upgrade node config --kubelet-version` */
		if (!strcmp(u->action, "node"))
			kp_buf_addf(&res->msg, "would run: kubeadm upgrade node%s%s",
				    u->target.minor < 15 ? " config --kubelet-version " : "",
				    u->target.minor < 15 ? u->vt : "");
		else
			kp_buf_addf(&res->msg, "would run: kubeadm upgrade apply %s --yes", u->vt);
		kp_buf_addf(&res->msg,
			    " <unknown: depends on kubeadm %s being installed first; it is "
			    "v%d.%d.%d now>",
			    u->vt, u->kubeadm.major, u->kubeadm.minor, u->kubeadm.patch);
		goto out;
	}
	if (ver_cmp(&u->kubeadm, &u->target) < 0) {
		kp_mod_failf(res,
			     "kubeadm on '%s' is v%d.%d.%d, older than %s: install kubeadm %s "
			     "first (apt-pin)",
			     ctx->host, u->kubeadm.major, u->kubeadm.minor, u->kubeadm.patch, u->vt,
			     u->vt);
		goto out;
	}

	if (strcmp(u->action, "node")) {
		kp_buf_addf(&cmd, "kubeadm upgrade plan %s", u->vt);
		if (kubeconfig && strcmp(kubeconfig, DEFAULT_KUBECONFIG)) {
			kp_buf_addstr(&cmd, " --kubeconfig ");
			add_word(&cmd, kubeconfig);
		}
		if ((rc = need(ctx, res, cmd.buf, &r, &ok, err)) || !ok)
			goto out;
		kp_buf_reset(&res->out);
		kp_buf_add(&res->out, r.out.buf, r.out.len);
		kp_value_unref(u->components);
		u->components = components(r.out.buf);
		const char *cv = strstr(r.out.buf, "Cluster version:");
		if (!cv || !parse_ver(cv, &u->cluster)) {
			kp_mod_failf(res, "cannot find the cluster version in the output of '%s'",
				     cmd.buf);
			goto out;
		}
	} else {
		char *gv = NULL;
		if ((rc = api_version(ctx, res, &gv, &e)) || !parse_ver(gv, &u->cluster)) {
			kp_mod_failf(res, "cannot find the cluster's version: %s",
				     rc ? e.buf : "no version in /version");
			free(gv);
			rc = KP_OK;
			goto out;
		}
		free(gv);
		if ((rc = need(ctx, res, "kubelet --version", &r, &ok, err)) || !ok)
			goto out;
		u->have_kubelet = parse_ver(r.out.buf, &u->kubelet);
		snprintf(u->kubelet_text, sizeof(u->kubelet_text), "v%d.%d.%d", u->kubelet.major,
			 u->kubelet.minor, u->kubelet.patch);
	}
	snprintf(u->cluster_text, sizeof(u->cluster_text), "v%d.%d.%d", u->cluster.major,
		 u->cluster.minor, u->cluster.patch);

	struct kp_value *f = kp_value_map();
	kp_map_set_take(f, "cluster_version_before", kp_value_str(u->cluster_text));
	kp_map_set_take(f, "cluster_version_after", kp_value_str(u->cluster_text));
	kp_map_set(f, "components", u->components);
	kp_map_set_take(f, "action", kp_value_str(u->action));
	kp_value_unref(res->facts);
	res->facts = f;

	kp_buf_reset(&res->msg);
	if (!strcmp(u->action, "node")) {
		if (ver_cmp(&u->cluster, &u->target) < 0 && ctx->check_mode) {
			/* the control plane's own play upgrades it first in a run */
			res->changed = true;
			kp_buf_addstr(&res->msg, "would run: kubeadm upgrade node");
			if (u->kubeadm.major == 1 && u->kubeadm.minor < 15)
				kp_buf_addf(&res->msg, " config --kubelet-version %s", u->vt);
			kp_buf_addf(&res->msg,
				    " <unknown: depends on the control plane reaching %s first; it "
				    "is at %s now>",
				    u->vt, u->cluster_text);
			goto out;
		}
		if (ver_cmp(&u->cluster, &u->target) < 0) {
			kp_mod_failf(res,
				     "the control plane is at %s: upgrade it to %s first "
				     "(kubeadm-upgrade on the first kube_control_plane host)",
				     u->cluster_text, u->vt);
			goto out;
		}
		if (u->have_kubelet && ver_cmp(&u->kubelet, &u->target) > 0) {
			kp_mod_failf(res, "the kubelet on '%s' is at %s: %s would be a downgrade",
				     ctx->host, u->kubelet_text, u->vt);
			goto out;
		}
		if (u->have_kubelet && !ver_cmp(&u->kubelet, &u->target)) {
			kp_buf_addf(&res->msg, "the kubelet on '%s' is at %s already", ctx->host,
				    u->vt);
			goto out;
		}
		res->changed = true;
		kp_buf_addstr(&res->msg, "would run: kubeadm upgrade node");
		if (u->kubeadm.major == 1 && u->kubeadm.minor < 15)
			kp_buf_addf(&res->msg, " config --kubelet-version %s", u->vt);
		kp_buf_addf(&res->msg, " (kubelet %s -> %s)",
			    u->have_kubelet ? u->kubelet_text : "unknown", u->vt);
		goto out;
	}
	int c = ver_cmp(&u->cluster, &u->target);
	if (c > 0) {
		kp_mod_failf(res,
			     "the cluster is at %s: %s would be a downgrade, which kubeadm "
			     "cannot do",
			     u->cluster_text, u->vt);
		goto out;
	}
	if (c == 0) {
		kp_buf_addf(&res->msg, "the cluster is at %s already", u->vt);
		goto out;
	}
	if (u->cluster.major == u->target.major && u->target.minor > u->cluster.minor + 1 &&
	    !kp_arg_bool(ctx, "allow_minor_skip")) {
		kp_mod_failf(res,
			     "%s -> %s skips a minor version: upgrade to v%d.%d first (or set "
			     "allow_minor_skip: true)",
			     u->cluster_text, u->vt, u->cluster.major, u->cluster.minor + 1);
		goto out;
	}
	if (!strcmp(u->action, "plan")) {
		kp_buf_addf(&res->msg, "cluster %s -> %s: the plan is in stdout", u->cluster_text,
			    u->vt);
		goto out;
	}
	res->changed = true;
	kp_buf_addf(&res->msg, "would run: kubeadm upgrade apply %s --yes (cluster %s -> %s)",
		    u->vt, u->cluster_text, u->vt);
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&e);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct up *u = ctx->state;
	const char *kubeconfig = kp_arg_str(ctx, "kubeconfig");
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;

	if (!u)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (!strcmp(u->action, "node")) {
		if (u->kubeadm.major == 1 && u->kubeadm.minor < 15)
			kp_buf_addf(&cmd, "kubeadm upgrade node config --kubelet-version %s",
				    u->vt);
		else
			kp_buf_addstr(&cmd, "kubeadm upgrade node");
	} else {
		const struct kp_value *ign = kp_arg(ctx, "ignore_preflight_errors");
		kp_buf_addf(&cmd, "kubeadm upgrade apply %s --yes", u->vt);
		if (!kp_arg_bool(ctx, "etcd_upgrade"))
			kp_buf_addstr(&cmd, " --etcd-upgrade=false");
		if (!kp_arg_bool(ctx, "certificate_renewal"))
			kp_buf_addstr(&cmd, " --certificate-renewal=false");
		if (ign && ign->type == KP_V_LIST && kp_list_len(ign)) {
			struct kp_buf l = KP_BUF_INIT;
			for (size_t i = 0; i < kp_list_len(ign); i++) {
				if (i)
					kp_buf_addch(&l, ',');
				kp_value_to_text(kp_list_at(ign, i), false, &l);
			}
			kp_buf_addstr(&cmd, " --ignore-preflight-errors=");
			add_word(&cmd, l.buf);
			kp_buf_release(&l);
		}
	}
	if (kubeconfig && strcmp(kubeconfig, DEFAULT_KUBECONFIG)) {
		kp_buf_addstr(&cmd, " --kubeconfig ");
		add_word(&cmd, kubeconfig);
	}
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd.buf, &r, err);
	if (!rc) {
		res->has_rc = true;
		res->rc = r.rc;
		kp_buf_reset(&res->out);
		kp_buf_add(&res->out, r.out.buf, r.out.len);
		kp_buf_reset(&res->err);
		kp_buf_add(&res->err, r.err.buf, r.err.len);
		if (!kp_mod_cmd_failed(ctx, res, cmd.buf, &r)) {
			kp_buf_reset(&res->msg);
			if (!strcmp(u->action, "node")) {
				kp_buf_addf(&res->msg, "upgraded node '%s' to %s", ctx->host,
					    u->vt);
			} else {
				kp_buf_addf(&res->msg, "upgraded the cluster %s -> %s",
					    u->cluster_text, u->vt);
				kp_map_set_take(res->facts, "cluster_version_after",
						kp_value_str(u->vt));
			}
		} else {
			res->changed = true; /* a half-done upgrade changed something */
		}
	}
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

const struct kp_module kp_mod_kubeadm_upgrade = {
    .name = "kubeadm-upgrade",
    .summary = "upgrade the control plane or a node with kubeadm",
    .args = args,
    .probe = probe,
    .apply = apply,
};
