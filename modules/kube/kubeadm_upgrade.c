/*
 * kubeadm_upgrade.c - upgrade the control plane or a node with kubeadm.
 *
 * Every host gets the command of its kubeadm's era (kubeadm_policy.c):
 * `kubeadm upgrade apply` on the first control plane; on the other
 * control planes `upgrade node experimental-control-plane` and `upgrade
 * node config --kubelet-version` (kubeadm 1.12 to 1.14), `upgrade node`
 * (1.15 on) or `upgrade apply` again (before 1.12); on workers `upgrade
 * node config --kubelet-version` (before 1.15) or `upgrade node`.
 *
 * `upgrade node` takes --etcd-upgrade and --certificate-renewal from
 * kubeadm 1.15 on, as `upgrade apply` does: both are passed through.
 *
 * Action `check` changes nothing and runs no kubeadm: it reads the
 * cluster's version and every Node's kubelet from the API and refuses a
 * path kubeadm or Kubernetes forbids (a skipped minor, a downgrade, a
 * kubelet that would fall outside the version-skew policy once the API
 * server is at the target, kubeadm_policy.c), naming the node, its version
 * and the rule: a play's first task, before anything on a node changes.
 * With `gate`, also a Node that is not Ready or is cordoned (a walk's step
 * starts only from a clean boundary). Action `walk` reads the same and
 * plans an upgrade over several minors (kubeadm_walk.c).
 *
 * The probe finds kubeadm's own version, the cluster's version and every
 * kubelet's (the Nodes' status.nodeInfo.kubeletVersion), and refuses what
 * kubeadm would refuse, in kubeadm's words (its EnforceVersionPolicies, in
 * check mode as in a run): a kubeadm too old or too new for the target, a
 * skipped minor or a downgrade of more than one minor (never forced for a
 * released version), a kubelet too old for the target; and what kubeadm
 * would get wrong half-way (a node before its control plane), each time
 * saying what to do first. The cluster version comes from `kubeadm upgrade
 * plan` on the first control plane (whose table check mode reports anyway)
 * and from the API elsewhere: the controller's kubeconfig when there is
 * one (--kubeconfig, $KUBECONFIG, ~/.kube/config: kp_mod_kube_direct),
 * else kubectl on the first control-plane host, else kubectl with the
 * node's own kubelet.conf.
 */
#include "kube/kubeapi.h"
#include "modules/module.h"
#include "modules/kube/kubeadm_policy.h"
#include "modules/kube/kubeadm_walk.h"
#include "modules/kube/kubeutil.h"
#include "transport/transport.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const actions[] = {"auto", "plan",  "apply", "control-plane",
				      "node", "check", "walk",	NULL};

static const struct kp_argspec args[] = {
    {.name = "version", .type = KP_T_STR, .required = true, .help = "v1.13.3 or 1.13.3"},
    {.name = "action",
     .type = KP_T_STR,
     .def = "auto",
     .choices = actions,
     .help = "auto: apply on the first control-plane host, control-plane on the other "
	     "kube_control_plane hosts, node elsewhere; check: only refuse a forbidden path; "
	     "walk: the steps to version, one minor at a time (kubeadm_walk.c)"},
    {.name = "gate",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "action check: also refuse a Node that is not Ready or is cordoned"},
    {.name = "apt_url",
     .type = KP_T_STR,
     .def = "https://pkgs.k8s.io",
     .help = "action walk: pkgs.k8s.io or a mirror (core:/stable:/v1.NN/deb/ per minor)"},
    {.name = "apt_repo",
     .type = KP_T_STR,
     .help = "action walk: one flat repository for every minor instead (its Packages' URL)"},
    {.name = "max_steps",
     .type = KP_T_INT,
     .def = "0",
     .help = "action walk: refuse a walk of more steps (0: any)"},
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
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "pass what kubeadm's --force passes (never a released version's skipped minor)"},
    {.name = "allow_minor_skip",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "the same as force (kubeadm refuses a released version's skipped minor anyway)"},
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

struct up {
	char action[16]; /* plan, apply, control-plane, node */
	struct kp_kver target, kubeadm, cluster, kubelet;
	const char *vt; /* "v1.13.3" (target.text) */
	bool have_kubelet;
	const struct kp_kubeadm_era *era;
	char **kubelets; /* every Node's kubeletVersion */
	char **nodes;	 /* and its name */
	char **unfit;	 /* and why it is not fit for a step: cordoned, not Ready (or NULL) */
	size_t nkubelets;
	struct kp_value *components;
};

static void up_free(void *p)
{
	struct up *u = p;
	kp_value_unref(u->components);
	for (size_t i = 0; i < u->nkubelets; i++) {
		free(u->kubelets[i]);
		free(u->nodes[i]);
		free(u->unfit[i]);
	}
	free(u->kubelets);
	free(u->nodes);
	free(u->unfit);
	free(u);
}

/* The COMPONENT tables of `kubeadm upgrade plan`: COMPONENT CURRENT
 * AVAILABLE (kubeadm before 1.31), or COMPONENT NODE CURRENT TARGET (1.31
 * on; NODE may be empty). kubeadm aligns them with a tabwriter: a cell is
 * what is under its header word. */
static struct kp_value *components(const char *out)
{
	static const char *const keys3[] = {"name", "current", "available"};
	static const char *const keys4[] = {"name", "node", "current", "available"};
	struct kp_value *l = kp_value_list();
	size_t off[5] = {0};
	int ncol = 0;
	for (const char *line = out; *line;) {
		size_t len = strcspn(line, "\n");
		const char *p = line;
		while (p < line + len && (*p == ' ' || *p == '\t'))
			p++;
		if (!strncmp(p, "COMPONENT", 9)) {
			/* the header: where each column starts */
			ncol = 0;
			for (size_t i = 0; i < len && ncol < 4;) {
				while (i < len && line[i] == ' ')
					i++;
				if (i < len)
					off[ncol++] = i;
				while (i < len && line[i] != ' ')
					i++;
			}
			off[ncol] = (size_t)-1;
			if (ncol != 3 && ncol != 4)
				ncol = 0;
		} else if (p == line + len) {
			ncol = 0;
		} else if (ncol) {
			struct kp_value *m = kp_value_map();
			for (int c = 0; c < ncol; c++) {
				size_t a = off[c] < len ? off[c] : len;
				size_t b = off[c + 1] < len ? off[c + 1] : len;
				while (a < b && line[a] == ' ')
					a++;
				while (b > a && line[b - 1] == ' ')
					b--;
				char *cell = kp_xstrndup(line + a, b - a);
				kp_map_set_take(m, ncol == 4 ? keys4[c] : keys3[c],
						kp_value_str(cell));
				free(cell);
			}
			kp_list_push_take(l, m);
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

/* The API client (see the top comment); freed with kp_kube_free. */
static kp_rc api_open(struct kp_modctx *ctx, struct via *v, struct kp_kube **k, struct kp_buf *err)
{
	/* this module's `kubeconfig` argument names a file on the node: the
	 * controller's comes from --kubeconfig, $KUBECONFIG or ~/.kube/config */
	kp_rc rc = kp_mod_kube_direct(ctx, NULL, k, err);
	if (rc == KP_ERR_NOTFOUND) {
		v->control_plane = ctx->control_plane_exec && kp_mod_first_control_plane(ctx);
		*k = kp_kube_new_kubectl(via_exec, v,
					 v->control_plane ? DEFAULT_KUBECONFIG : NODE_KUBECONFIG);
		rc = KP_OK;
	}
	return rc;
}

/* Every Node's kubelet version (kubeadm's KubeletVersions). */
static kp_rc api_kubelets(struct kp_kube *k, struct up *u, struct kp_buf *err)
{
	cJSON *list = NULL;
	long status = 0;
	kp_rc rc = kp_kube_request(k, "GET", "/api/v1/nodes", NULL, NULL, &status, &list, err);
	if (!rc && status != 200)
		rc = kp_errorf(err, KP_ERR_IO, "GET /api/v1/nodes: %ld %s", status,
			       kp_kube_status_message(list));
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items"), *n;
	if (!rc && cJSON_IsArray(items)) {
		u->kubelets = kp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(char *));
		u->nodes = kp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(char *));
		u->unfit = kp_xcalloc((size_t)cJSON_GetArraySize(items) + 1, sizeof(char *));
		cJSON_ArrayForEach(n, items)
		{
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(n, "status");
			const cJSON *ni = cJSON_GetObjectItemCaseSensitive(st, "nodeInfo");
			const cJSON *kv = cJSON_GetObjectItemCaseSensitive(ni, "kubeletVersion");
			const cJSON *md = cJSON_GetObjectItemCaseSensitive(n, "metadata");
			const cJSON *nm = cJSON_GetObjectItemCaseSensitive(md, "name");
			if (cJSON_IsString(kv) && *kv->valuestring) {
				u->nodes[u->nkubelets] =
				    kp_xstrdup(cJSON_IsString(nm) ? nm->valuestring : "?");
				u->unfit[u->nkubelets] = kp_upwalk_node_unfit(n);
				u->kubelets[u->nkubelets++] = kp_xstrdup(kv->valuestring);
			}
		}
	}
	cJSON_Delete(list);
	return rc;
}

/* The host is in the inventory group `g`. */
static bool in_group(const struct kp_modctx *ctx, const char *g)
{
	const struct kp_value *groups = kp_mod_var(ctx, "groups");
	const struct kp_value *l =
	    groups && groups->type == KP_V_MAP ? kp_map_get(groups, g) : NULL;
	for (size_t i = 0; l && l->type == KP_V_LIST && i < kp_list_len(l); i++) {
		const struct kp_value *h = kp_list_at(l, i);
		if (h->type == KP_V_STR && !strcmp(h->u.str.s, ctx->host))
			return true;
	}
	return false;
}

/* The commands the action runs in this era, "; "-separated into out. */
static void era_cmds(const struct up *u, const struct kp_kubeadm_era *e, struct kp_buf *out)
{
	const char *list[2] = {NULL, NULL};
	if (!strcmp(u->action, "node"))
		list[0] = e->worker;
	else if (!strcmp(u->action, "control-plane"))
		list[0] = e->others[0], list[1] = e->others[1];
	else
		list[0] = e->first;
	for (size_t i = 0; i < 2 && list[i]; i++) {
		if (i)
			kp_buf_addstr(out, "; ");
		kp_buf_addf(out, list[i], u->vt);
	}
}

/* kubeadm's refusals: false (the task failed, in kubeadm's words) when
 * kubeadm would refuse, or when only --force passes and force is not set. */
static bool policy_ok(struct kp_modctx *ctx, struct kp_result *res, struct up *u,
		      const struct kp_kver *cluster, bool with_kubelets)
{
	struct kp_buf m = KP_BUF_INIT, sk = KP_BUF_INIT;
	bool force = kp_arg_bool(ctx, "force") || kp_arg_bool(ctx, "allow_minor_skip");
	kp_kubeadm_policy(&u->target, cluster, &u->kubeadm,
			  with_kubelets ? (const char *const *)u->kubelets : NULL, u->nkubelets, &m,
			  &sk);
	bool ok = !m.len && (!sk.len || force);
	if (!ok) {
		/* kubeadm's lines, "; "-separated */
		struct kp_buf why = KP_BUF_INIT;
		const char *src = m.len ? m.buf : sk.buf;
		for (const char *l = src; *l;) {
			size_t len = strcspn(l, "\n");
			kp_buf_addf(&why, "%s%.*s", why.len ? "; " : "", (int)len, l);
			l += len;
			if (*l)
				l++;
		}
		kp_mod_failf(res, "kubeadm %s on '%s' would refuse %s: %s%s", u->kubeadm.text,
			     ctx->host, u->vt, why.buf,
			     m.len ? " (kubeadm refuses this even with --force)"
				   : " (kubeadm's --force passes this: set force: true)");
		kp_buf_release(&why);
	}
	kp_buf_release(&m);
	kp_buf_release(&sk);
	return ok;
}

/* The image tags of the control plane's static pod manifests: *all_at:
 * every one at the target; *from: one that is not (for the message). */
static kp_rc manifest_tags(struct kp_modctx *ctx, struct kp_result *res, struct up *u, bool *all_at,
			   char *from, size_t fromlen, bool *ok, struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	*all_at = true;
	snprintf(from, fromlen, "unknown");
	kp_rc rc = kp_mod_must(
	    ctx, res,
	    "cd /etc/kubernetes/manifests && sed -n 's/^ *image: *//p' kube-apiserver.yaml "
	    "kube-controller-manager.yaml kube-scheduler.yaml",
	    &r, ok, err);
	int n = 0;
	for (const char *l = r.out.buf; !rc && *ok && *l;) {
		size_t len = strcspn(l, "\n");
		const char *colon = memrchr(l, ':', len);
		struct kp_kver v;
		char tag[48];
		snprintf(tag, sizeof(tag), "%.*s", colon ? (int)(l + len - colon - 1) : 0,
			 colon ? colon + 1 : "");
		if (kp_kver_parse(tag, &v)) {
			n++;
			if (kp_kver_cmp(&v, &u->target)) {
				*all_at = false;
				snprintf(from, fromlen, "%s", v.text);
			}
		}
		l += len;
		if (*l)
			l++;
	}
	if (!rc && *ok && n < 3)
		*all_at = false;
	kp_exec_res_release(&r);
	return rc;
}

/* The path from the cluster's version to the target, by the rules of
 * kubeadm_policy.c: false (the task failed, naming the node, its version
 * and the rule) when it is forbidden. `cp` names the control plane. */
static bool path_ok(struct kp_result *res, const struct up *u, const char *cp)
{
	const struct kp_kver *c = &u->cluster, *t = &u->target;
	if (t->major != c->major || t->minor > c->minor + 1) {
		kp_mod_failf(res,
			     "the control plane ('%s') is at %s: %s would skip Kubernetes 1.%d; "
			     "kubeadm upgrades one minor version at a time: upgrade to 1.%d first",
			     cp, c->text, t->text, c->minor + 1, c->minor + 1);
		return false;
	}
	if (kp_kver_cmp(t, c) < 0) {
		kp_mod_failf(res,
			     "the control plane ('%s') is at %s: %s would be a downgrade, which "
			     "kubeadm cannot do",
			     cp, c->text, t->text);
		return false;
	}
	const struct kp_kubelet_skew *sk = kp_kubelet_skew(t->minor);
	for (size_t i = 0; i < u->nkubelets; i++) {
		struct kp_kver k;
		if (!kp_kver_parse(u->kubelets[i], &k))
			continue;
		if (kp_kver_cmp(&k, t) > 0) {
			kp_mod_failf(res,
				     "node '%s' has kubelet %s, newer than %s: %s; the upgrade "
				     "cannot go back",
				     u->nodes[i], k.text, t->text, sk->rule);
			return false;
		}
		if (t->minor - k.minor > sk->older) {
			kp_mod_failf(res,
				     "node '%s' has kubelet %s, %d minor versions older than %s: "
				     "%s; upgrade node '%s' first",
				     u->nodes[i], k.text, t->minor - k.minor, t->text, sk->rule,
				     u->nodes[i]);
			return false;
		}
	}
	return true;
}

/* With `gate`: every Node Ready and schedulable, or the task fails naming
 * the first that is not (a step of a walk starts from a clean boundary). */
static bool gate_ok(struct kp_modctx *ctx, struct kp_result *res, const struct up *u)
{
	for (size_t i = 0; kp_arg_bool(ctx, "gate") && i < u->nkubelets; i++)
		if (u->unfit[i]) {
			kp_mod_failf(
			    res,
			    "node '%s' %s: the next step of the upgrade starts only when "
			    "every node is Ready and schedulable (finish or uncordon it first)",
			    u->nodes[i], u->unfit[i]);
			return false;
		}
	return true;
}

/* Action check: the path's rules only (the top comment); action walk: the
 * steps (kubeadm_walk.c). */
static kp_rc check_path(struct kp_modctx *ctx, struct kp_result *res, struct up *u,
			struct kp_buf *err)
{
	struct via v = {.ctx = ctx, .res = res};
	struct kp_kube *k = NULL;
	struct kp_buf e = KP_BUF_INIT;
	char *gv = NULL;
	const char *cp = kp_mod_first_control_plane(ctx);
	kp_rc rc = api_open(ctx, &v, &k, &e);
	if (!rc)
		rc = kp_kube_version(k, &gv, &e);
	if (!rc && !kp_kver_parse(gv, &u->cluster))
		rc = kp_errorf(&e, KP_ERR_IO, "no version in /version");
	if (!rc)
		rc = api_kubelets(k, u, &e);
	if (rc) {
		kp_mod_failf(res, "cannot read the cluster's version and kubelets: %s", e.buf);
		rc = KP_OK;
	} else if (!strcmp(u->action, "walk")) {
		rc = kp_kubeadm_walk(ctx, res, &u->cluster, &u->target, u->nodes, u->kubelets,
				     u->nkubelets, err);
	} else if (gate_ok(ctx, res, u) && path_ok(res, u, cp ? cp : "kube_control_plane")) {
		struct kp_value *f = kp_value_map(), *kl = kp_value_map();
		for (size_t i = 0; i < u->nkubelets; i++)
			kp_map_set_take(kl, u->nodes[i], kp_value_str(u->kubelets[i]));
		kp_map_set_take(f, "cluster_version", kp_value_str(u->cluster.text));
		kp_map_set_take(f, "kubelet_versions", kl);
		kp_value_unref(res->facts);
		res->facts = f;
		kp_buf_reset(&res->msg);
		kp_buf_addf(&res->msg, "%s -> %s is allowed: %s", u->cluster.text, u->vt,
			    !kp_kver_cmp(&u->cluster, &u->target) ? "the control plane is there"
			    : u->cluster.minor == u->target.minor ? "a patch release"
								  : "one minor version");
	}
	free(gv);
	kp_kube_free(k);
	kp_buf_release(&e);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct up *u = kp_xcalloc(1, sizeof(*u));
	const char *action = kp_arg_str(ctx, "action");
	const char *kubeconfig = kp_arg_str(ctx, "kubeconfig");
	struct kp_exec_res r;
	struct kp_buf cmd = KP_BUF_INIT, e = KP_BUF_INIT, cmds = KP_BUF_INIT;
	struct kp_kube *k = NULL;
	struct via v = {.ctx = ctx, .res = res};
	bool ok;
	kp_rc rc = KP_OK;

	ctx->state = u;
	ctx->free_state = up_free;
	u->components = kp_value_list();
	kp_exec_res_init(&r);
	if (!kp_kver_parse(kp_arg_str(ctx, "version"), &u->target)) {
		kp_mod_failf(res, "version '%s' is not a Kubernetes version like v1.13.3",
			     kp_arg_str(ctx, "version"));
		goto out;
	}
	u->vt = u->target.text;
	if (!strcmp(action, "check") || !strcmp(action, "walk")) {
		snprintf(u->action, sizeof(u->action), "%s", action);
		rc = check_path(ctx, res, u, err);
		goto out;
	}
	if (!strcmp(action, "auto")) {
		const char *cp = kp_mod_first_control_plane(ctx);
		if (!cp) {
			kp_mod_failf(res,
				     "action auto needs the inventory group "
				     "'kube_control_plane' (or give action: apply, control-plane "
				     "or node)");
			goto out;
		}
		action = !strcmp(cp, ctx->host)		       ? "apply"
			 : in_group(ctx, "kube_control_plane") ? "control-plane"
							       : "node";
	}
	snprintf(u->action, sizeof(u->action), "%s", action);
	bool node = !strcmp(u->action, "node"), other_cp = !strcmp(u->action, "control-plane");

	if ((rc = kp_mod_must(ctx, res, "kubeadm version -o short", &r, &ok, err)) || !ok)
		goto out;
	if (!kp_kver_parse(r.out.buf, &u->kubeadm)) {
		kp_mod_failf(res, "cannot read kubeadm's version from '%.*s'",
			     (int)strcspn(r.out.buf, "\n"), r.out.buf);
		goto out;
	}
	bool early = kp_kver_cmp(&u->kubeadm, &u->target) < 0 && ctx->check_mode;
	/* the era of the kubeadm that runs the upgrade: in a check before
	 * apt-pin installed it, the target's */
	u->era = kp_kubeadm_era(early ? u->target.minor : u->kubeadm.minor);
	if (!u->era) {
		kp_mod_failf(res,
			     "kubeadm %s on '%s' is older than any kubeadm whose upgrade commands "
			     "kplan knows (1.11 on)",
			     u->kubeadm.text, ctx->host);
		goto out;
	}
	era_cmds(u, u->era, &cmds);
	/* a check cannot tell whether an earlier task of the plan (apt-pin)
	 * installs the target's kubeadm: it checks as if it had, and says so */
	struct kp_kver installed = u->kubeadm;
	if (early)
		u->kubeadm = u->target;

	/* the cluster's version, and every kubelet's */
	if (!node && !other_cp && !early) {
		kp_buf_addf(&cmd, "kubeadm upgrade plan %s", u->vt);
		if (kubeconfig && strcmp(kubeconfig, DEFAULT_KUBECONFIG)) {
			kp_buf_addstr(&cmd, " --kubeconfig ");
			add_word(&cmd, kubeconfig);
		}
		if ((rc = kp_mod_must(ctx, res, cmd.buf, &r, &ok, err)) || !ok)
			goto out;
		kp_buf_reset(&res->out);
		kp_buf_add(&res->out, r.out.buf, r.out.len);
		kp_value_unref(u->components);
		u->components = components(r.out.buf);
		const char *cv = strstr(r.out.buf, "Cluster version:");
		if (!cv || !kp_kver_parse(cv, &u->cluster)) {
			kp_mod_failf(res, "cannot find the cluster version in the output of '%s'",
				     cmd.buf);
			goto out;
		}
	}
	rc = api_open(ctx, &v, &k, &e);
	if (rc && !node && !other_cp && !early) {
		kp_mod_failf(res, "cannot read the kubelets' versions (the Nodes): %s", e.buf);
		rc = KP_OK;
		goto out;
	}
	if (rc || node || other_cp || early) {
		char *gv = NULL;
		if (!rc)
			rc = kp_kube_version(k, &gv, &e);
		if (!rc && !kp_kver_parse(gv, &u->cluster))
			rc = kp_errorf(&e, KP_ERR_IO, "no version in /version");
		free(gv);
		if (rc) {
			kp_mod_failf(res, "cannot find the cluster's version: %s", e.buf);
			rc = KP_OK;
			goto out;
		}
	}
	/* kubeadm checks every kubelet in `upgrade apply` (the node commands
	 * check nothing of the kind) */
	if (!node && !other_cp)
		rc = api_kubelets(k, u, &e);
	if (rc) {
		/* kubeadm: "Unable to fetch kubelet version" (skippable) */
		kp_mod_failf(res, "cannot read the kubelets' versions (the Nodes): %s", e.buf);
		rc = KP_OK;
		goto out;
	}
	if (node || other_cp) {
		if ((rc = kp_mod_must(ctx, res, "kubelet --version", &r, &ok, err)) || !ok)
			goto out;
		u->have_kubelet = kp_kver_parse(r.out.buf, &u->kubelet);
	}

	struct kp_value *f = kp_value_map();
	kp_map_set_take(f, "cluster_version_before", kp_value_str(u->cluster.text));
	kp_map_set_take(f, "cluster_version_after", kp_value_str(u->cluster.text));
	kp_map_set(f, "components", u->components);
	kp_map_set_take(f, "action", kp_value_str(u->action));
	struct kp_value *kl = kp_value_list();
	for (size_t i = 0; i < u->nkubelets; i++)
		kp_list_push_take(kl, kp_value_str(u->kubelets[i]));
	kp_map_set_take(f, "kubelet_versions", kl);
	kp_value_unref(res->facts);
	res->facts = f;
	kp_buf_reset(&res->msg);

	if (node || other_cp) {
		/* kubeadm's own version against the target (the cluster's minor
		 * and kubelet checks are the first control plane's) */
		if (!policy_ok(ctx, res, u, &u->target, false))
			goto out;
		if (early)
			goto early_msg;
		if (kp_kver_cmp(&u->cluster, &u->target) < 0 && ctx->check_mode) {
			/* the first control plane's own play upgrades it first in a run */
			res->changed = true;
			kp_buf_addf(
			    &res->msg,
			    "would run: %s <unknown: depends on the control plane reaching %s "
			    "first; it is at %s now>",
			    cmds.buf, u->vt, u->cluster.text);
			goto out;
		}
		if (kp_kver_cmp(&u->cluster, &u->target) < 0) {
			kp_mod_failf(res,
				     "the control plane is at %s: upgrade it to %s first "
				     "(kubeadm-upgrade on the first kube_control_plane host)",
				     u->cluster.text, u->vt);
			goto out;
		}
		if (u->have_kubelet && kp_kver_cmp(&u->kubelet, &u->target) > 0) {
			kp_mod_failf(res, "the kubelet on '%s' is at %s: %s would be a downgrade",
				     ctx->host, u->kubelet.text, u->vt);
			goto out;
		}
		bool pods_at = true;
		char from[48] = "";
		if (other_cp &&
		    ((rc = manifest_tags(ctx, res, u, &pods_at, from, sizeof(from), &ok, err)) ||
		     !ok))
			goto out;
		if (pods_at && u->have_kubelet && !kp_kver_cmp(&u->kubelet, &u->target)) {
			kp_buf_addf(&res->msg, "the %s on '%s' is at %s already",
				    other_cp ? "control plane" : "kubelet", ctx->host, u->vt);
			goto out;
		}
		res->changed = true;
		kp_buf_addf(&res->msg, "would run: %s (", cmds.buf);
		if (other_cp && !pods_at)
			kp_buf_addf(&res->msg, "static pods %s -> %s, ", from, u->vt);
		kp_buf_addf(&res->msg, "kubelet %s -> %s)",
			    u->have_kubelet ? u->kubelet.text : "unknown", u->vt);
		goto out;
	}
	int c = kp_kver_cmp(&u->cluster, &u->target);
	if (c > 0) {
		kp_mod_failf(res,
			     "the cluster is at %s: %s would be a downgrade, which kubeadm "
			     "cannot do",
			     u->cluster.text, u->vt);
		goto out;
	}
	if (c == 0) {
		kp_buf_addf(&res->msg, "the cluster is at %s already", u->vt);
		goto out;
	}
	if (!policy_ok(ctx, res, u, &u->cluster, true))
		goto out;
	if (!path_ok(res, u, ctx->host))
		goto out;
	if (!strcmp(u->action, "plan")) {
		kp_buf_addf(&res->msg, "cluster %s -> %s: the plan is in stdout", u->cluster.text,
			    u->vt);
		goto out;
	}
	if (early)
		goto early_msg;
	res->changed = true;
	kp_buf_addf(&res->msg, "would run: %s (cluster %s -> %s)", cmds.buf, u->cluster.text,
		    u->vt);
	goto out;
early_msg:
	res->changed = true;
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg,
		    "would run: %s <unknown: depends on kubeadm %s being installed first; it is %s "
		    "now>",
		    cmds.buf, u->vt, installed.text);
out:
	kp_kube_free(k);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&e);
	kp_buf_release(&cmds);
	return rc;
}

/* One kubeadm command; false when it failed (the task has failed). */
static kp_rc run_one(struct kp_modctx *ctx, struct kp_result *res, const char *cmd, bool *ok,
		     struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd, &r, err);
	*ok = false;
	if (!rc) {
		res->has_rc = true;
		res->rc = r.rc;
		kp_buf_add(&res->out, r.out.buf, r.out.len);
		kp_buf_add(&res->err, r.err.buf, r.err.len);
		*ok = !kp_mod_cmd_failed(ctx, res, cmd, &r);
	}
	kp_exec_res_release(&r);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct up *u = ctx->state;
	const char *kubeconfig = kp_arg_str(ctx, "kubeconfig");
	const char *list[2] = {NULL, NULL};
	bool ok = true;
	kp_rc rc = KP_OK;

	if (!u)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (!strcmp(u->action, "check") || !strcmp(u->action, "walk"))
		return KP_OK;
	if (!strcmp(u->action, "node"))
		list[0] = u->era->worker;
	else if (!strcmp(u->action, "control-plane"))
		list[0] = u->era->others[0], list[1] = u->era->others[1];
	else
		list[0] = u->era->first;
	kp_buf_reset(&res->out);
	kp_buf_reset(&res->err);
	for (size_t i = 0; i < 2 && list[i] && ok && !rc; i++) {
		struct kp_buf cmd = KP_BUF_INIT;
		kp_buf_addf(&cmd, list[i], u->vt);
		if (strstr(list[i], "upgrade apply")) {
			const struct kp_value *ign = kp_arg(ctx, "ignore_preflight_errors");
			if (kp_arg_bool(ctx, "force") || kp_arg_bool(ctx, "allow_minor_skip"))
				kp_buf_addstr(&cmd, " --force");
			if (!kp_arg_bool(ctx, "etcd_upgrade"))
				kp_buf_addstr(&cmd, " --etcd-upgrade=false");
			if (!kp_arg_bool(ctx, "certificate_renewal"))
				kp_buf_addstr(&cmd, " --certificate-renewal=false");
			if (ign && ign->type == KP_V_LIST && kp_list_len(ign)) {
				struct kp_buf l = KP_BUF_INIT;
				for (size_t j = 0; j < kp_list_len(ign); j++) {
					if (j)
						kp_buf_addch(&l, ',');
					kp_value_to_text(kp_list_at(ign, j), false, &l);
				}
				kp_buf_addstr(&cmd, " --ignore-preflight-errors=");
				add_word(&cmd, l.buf);
				kp_buf_release(&l);
			}
		} else if (strstr(list[i], "experimental-control-plane") &&
			   !kp_arg_bool(ctx, "etcd_upgrade")) {
			kp_buf_addstr(&cmd, " --etcd-upgrade=false");
		} else if (!strcmp(list[i], "kubeadm upgrade node") && u->era->node_flags) {
			if (!kp_arg_bool(ctx, "etcd_upgrade"))
				kp_buf_addstr(&cmd, " --etcd-upgrade=false");
			if (!kp_arg_bool(ctx, "certificate_renewal"))
				kp_buf_addstr(&cmd, " --certificate-renewal=false");
		}
		/* the node commands read the node's kubelet.conf unless told */
		if (kubeconfig && strcmp(kubeconfig, DEFAULT_KUBECONFIG) &&
		    (strstr(list[i], "upgrade apply") || strstr(list[i], "control-plane"))) {
			kp_buf_addstr(&cmd, " --kubeconfig ");
			add_word(&cmd, kubeconfig);
		}
		rc = run_one(ctx, res, cmd.buf, &ok, err);
		kp_buf_release(&cmd);
	}
	if (rc)
		return rc;
	if (!ok) {
		res->changed = true; /* a half-done upgrade changed something */
		return KP_OK;
	}
	kp_buf_reset(&res->msg);
	if (!strcmp(u->action, "node")) {
		kp_buf_addf(&res->msg, "upgraded node '%s' to %s", ctx->host, u->vt);
	} else if (!strcmp(u->action, "control-plane")) {
		kp_buf_addf(&res->msg, "upgraded the control plane on '%s' to %s", ctx->host,
			    u->vt);
	} else {
		kp_buf_addf(&res->msg, "upgraded the cluster %s -> %s", u->cluster.text, u->vt);
		kp_map_set_take(res->facts, "cluster_version_after", kp_value_str(u->vt));
	}
	return KP_OK;
}

const struct kp_module kp_mod_kubeadm_upgrade = {
    .name = "kubeadm-upgrade",
    .summary = "upgrade the control plane or a node with kubeadm",
    .args = args,
    .probe = probe,
    .apply = apply,
    .flags = KP_MOD_KUBE,
};
