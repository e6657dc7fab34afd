/*
 * kubeadm_walk.c - kubeadm-upgrade's `action: walk`: the path from the
 * cluster's version to a target over several minor versions, computed
 * before anything changes (kubeadm_walk.h).
 *
 * kubeadm upgrades one minor version at a time ("Skipping MINOR versions
 * when upgrading is unsupported", kubeadm's upgrade guide), and the guide
 * upgrades to the latest patch of each minor, so a walk is one step per
 * minor: every minor between the cluster's and the target's at its newest
 * patch, then the target. Which patches there are comes from the
 * repositories the nodes install from: pkgs.k8s.io has one per minor
 * (core:/stable:/v1.NN/deb/), an older mirror one for all (`apt_repo`).
 * The host reads each one's Packages index with apt's own downloader
 * (apt-helper: the node's apt methods, proxies and CAs; file:, http:,
 * https:), so the walk is what the nodes will find. The index is not
 * verified here: apt verifies the repository's signature when the nodes
 * install from it.
 *
 * The walk is refused, before anything changes, for a downgrade, a target
 * the repository does not have, a minor in between with no packages, or a
 * kubelet that some step would leave outside the version-skew policy
 * (Nodes outside the inventory's kube_control_plane and kube_node keep
 * their kubelet through the whole walk). When some node's kubelet is
 * below the control plane's version (a step left half-done), the first
 * step finishes the control plane's version on those nodes.
 */
#include "modules/kube/kubeadm_walk.h"
#include "modules/kube/kubeutil.h"
#include "transport/transport.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kp_upwalk_release(struct kp_upwalk *w)
{
	for (size_t i = 0; i < w->n; i++) {
		for (size_t j = 0; j < w->steps[i].nnodes; j++)
			free(w->steps[i].nodes[j]);
		free(w->steps[i].nodes);
	}
	free(w->steps);
	w->steps = NULL;
	w->n = 0;
}

/* ---- the Packages index ------------------------------------------------------------- */

struct pkgver {
	struct kp_kver v;
	unsigned mask; /* 1 kubeadm, 2 kubelet, 4 kubectl */
};

static int cmp_kver(const void *a, const void *b)
{
	return kp_kver_cmp(a, b);
}

static void note(struct pkgver **l, size_t *n, const char *pkg, const char *ver)
{
	static const char *const names[] = {"kubeadm", "kubelet", "kubectl"};
	unsigned bit = 0;
	for (unsigned i = 0; i < 3; i++)
		if (!strcmp(pkg, names[i]))
			bit = 1u << i;
	struct kp_kver v;
	if (!bit || !kp_kver_parse(ver, &v) || v.pre)
		return;
	for (size_t i = 0; i < *n; i++)
		if (!kp_kver_cmp(&(*l)[i].v, &v)) {
			(*l)[i].mask |= bit;
			return;
		}
	*l = kp_xrealloc(*l, (*n + 1) * sizeof(**l));
	(*l)[*n].v = v;
	(*l)[(*n)++].mask = bit;
}

size_t kp_upwalk_repo_versions(const char *packages, struct kp_kver **out)
{
	struct pkgver *l = NULL;
	size_t n = 0, m = 0;
	char pkg[64] = "", ver[64] = "";
	/* a stanza ends at an empty line (or the end) */
	for (const char *line = packages;; line++) {
		size_t len = strcspn(line, "\n");
		if (!len) {
			if (*pkg && *ver)
				note(&l, &n, pkg, ver);
			*pkg = *ver = '\0';
		} else if (!strncmp(line, "Package:", 8)) {
			if (*pkg && *ver) /* stanzas without their empty lines */
				note(&l, &n, pkg, ver);
			*ver = '\0';
			snprintf(pkg, sizeof(pkg), "%.*s", (int)(len - 8), line + 8);
			memmove(pkg, pkg + strspn(pkg, " \t"),
				strlen(pkg + strspn(pkg, " \t")) + 1);
		} else if (!strncmp(line, "Version:", 8)) {
			snprintf(ver, sizeof(ver), "%.*s", (int)(len - 8), line + 8);
		}
		line += len;
		if (!*line)
			break;
	}
	if (*pkg && *ver)
		note(&l, &n, pkg, ver);
	*out = kp_xcalloc(n + 1, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		if (l[i].mask == 7)
			(*out)[m++] = l[i].v;
	free(l);
	qsort(*out, m, sizeof(**out), cmp_kver);
	return m;
}

/* ---- the plan ------------------------------------------------------------------------ */

static const struct kp_upwalk_repo *repo_of(const struct kp_upwalk_repo *r, size_t n, int minor)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].minor == minor)
			return &r[i];
	return NULL;
}

static bool repo_has(const struct kp_upwalk_repo *r, const struct kp_kver *v)
{
	for (size_t i = 0; r && i < r->n; i++)
		if (!kp_kver_cmp(&r->versions[i], v))
			return true;
	return false;
}

/* "has v1.37.0, v1.37.1" or why it has nothing */
static void repo_content(const struct kp_upwalk_repo *r, struct kp_buf *out)
{
	if (!r || !r->n) {
		kp_buf_addf(out, "%s",
			    r && r->why ? r->why
					: "has no kubeadm, kubelet and kubectl of one version");
		return;
	}
	kp_buf_addstr(out, "has");
	for (size_t i = 0; i < r->n; i++)
		kp_buf_addf(out, "%s %s", i ? "," : "", r->versions[i].text);
}

static void add_step(struct kp_upwalk *w, const struct kp_kver *v, const struct kp_upwalk_repo *r)
{
	w->steps = kp_xrealloc(w->steps, (w->n + 1) * sizeof(*w->steps));
	struct kp_upwalk_step *s = &w->steps[w->n++];
	memset(s, 0, sizeof(*s));
	s->version = *v;
	s->url = r ? r->url : "";
}

/* The version-skew policy for the kubelets before step `s` (at `at`). */
static bool skew_ok(const struct kp_upwalk *w, size_t s, const struct kp_upwalk_node *nodes,
		    const struct kp_kver *at, size_t nnodes, struct kp_buf *why)
{
	const struct kp_kver *t = &w->steps[s].version;
	const struct kp_kubelet_skew *sk = kp_kubelet_skew(t->minor);
	for (size_t i = 0; i < nnodes; i++) {
		const struct kp_kver *k = &at[i];
		if (!k->major)
			continue; /* no kubelet version reported */
		if (kp_kver_cmp(k, t) > 0) {
			kp_buf_addf(
			    why,
			    "node '%s' has kubelet %s, newer than %s: %s; the upgrade cannot "
			    "go back",
			    nodes[i].name, k->text, t->text, sk->rule);
			return false;
		}
		if (t->minor - k->minor > sk->older) {
			kp_buf_addf(
			    why,
			    "node '%s' has kubelet %s, %d minor versions older than %s: %s; "
			    "upgrade node '%s' first",
			    nodes[i].name, k->text, t->minor - k->minor, t->text, sk->rule,
			    nodes[i].name);
			if (!nodes[i].managed)
				kp_buf_addf(why,
					    " (it is in neither kube_control_plane nor kube_node: "
					    "the walk leaves it at %s)",
					    nodes[i].kubelet.text);
			if (s)
				kp_buf_addf(why, " (step %zu of the walk, %s -> %s)", s + 1,
					    w->steps[s].from.text, t->text);
			return false;
		}
	}
	return true;
}

bool kp_upwalk_plan(const struct kp_kver *cluster, const struct kp_kver *target,
		    const struct kp_upwalk_node *nodes, size_t nnodes,
		    const struct kp_upwalk_repo *repos, size_t nrepos, const char *first_cp,
		    size_t max_steps, struct kp_upwalk *w, struct kp_buf *why)
{
	memset(w, 0, sizeof(*w));
	if (target->pre) {
		kp_buf_addf(why, "%s is a pre-release: a walk goes through released versions",
			    target->text);
		return false;
	}
	if (target->major != cluster->major) {
		kp_buf_addf(why, "the control plane ('%s') is at %s: %s is another major version",
			    first_cp, cluster->text, target->text);
		return false;
	}
	if (kp_kver_cmp(target, cluster) < 0) {
		kp_buf_addf(why,
			    "the control plane ('%s') is at %s: %s would be a downgrade, which "
			    "kubeadm cannot do",
			    first_cp, cluster->text, target->text);
		return false;
	}
	const struct kp_upwalk_repo *tr = repo_of(repos, nrepos, target->minor);
	if (!repo_has(tr, target)) {
		kp_buf_addf(why, "%s is not in the repository %s: it ", target->text,
			    tr ? tr->url : "of its minor");
		repo_content(tr, why);
		return false;
	}
	bool lag = false;
	for (size_t i = 0; i < nnodes; i++)
		lag |= nodes[i].managed && nodes[i].kubelet.major &&
		       kp_kver_cmp(&nodes[i].kubelet, cluster) < 0;
	/* a step left half-done: finish the control plane's version first */
	if (lag && kp_kver_cmp(cluster, target)) {
		const struct kp_upwalk_repo *cr = repo_of(repos, nrepos, cluster->minor);
		if (!repo_has(cr, cluster)) {
			kp_buf_addf(why,
				    "some nodes' kubelets are below the control plane's %s, which "
				    "the walk would finish first, but the repository %s does not "
				    "have it: it ",
				    cluster->text, cr ? cr->url : "of its minor");
			repo_content(cr, why);
			return false;
		}
		add_step(w, cluster, cr);
		w->steps[w->n - 1].finish = true;
	}
	for (int m = cluster->minor + 1; m < target->minor; m++) {
		const struct kp_upwalk_repo *r = repo_of(repos, nrepos, m);
		if (!r || !r->n) {
			kp_buf_addf(
			    why,
			    "the walk %s -> %s goes through Kubernetes 1.%d (kubeadm upgrades "
			    "one minor version at a time), but the repository %s ",
			    cluster->text, target->text, m, r ? r->url : "of 1.x");
			repo_content(r, why);
			kp_upwalk_release(w);
			return false;
		}
		add_step(w, &r->versions[r->n - 1], r);
		w->steps[w->n - 1].newest = true;
	}
	if (kp_kver_cmp(target, cluster) > 0 || lag)
		add_step(w, target, tr);
	if (max_steps && w->n > max_steps) {
		kp_buf_addf(
		    why,
		    "the walk %s -> %s takes %zu steps, one per minor version, and this plan "
		    "has %zu: walk to %s first, then run it again",
		    cluster->text, target->text, w->n, max_steps,
		    w->steps[max_steps - 1].version.text);
		kp_upwalk_release(w);
		return false;
	}
	/* every step against the kubelets as the steps before leave them */
	struct kp_kver *at = kp_xcalloc(nnodes + 1, sizeof(*at));
	for (size_t i = 0; i < nnodes; i++)
		at[i] = nodes[i].kubelet;
	struct kp_kver from = *cluster;
	bool ok = true;
	for (size_t s = 0; s < w->n && ok; s++) {
		struct kp_upwalk_step *st = &w->steps[s];
		st->from = from;
		if (!(ok = skew_ok(w, s, nodes, at, nnodes, why)))
			break;
		st->nodes = kp_xcalloc(nnodes + 1, sizeof(char *));
		for (size_t i = 0; i < nnodes; i++)
			if (nodes[i].managed && kp_kver_cmp(&at[i], &st->version) < 0) {
				st->nodes[st->nnodes++] = kp_xstrdup(nodes[i].name);
				at[i] = st->version;
			}
		from = st->version;
	}
	free(at);
	if (!ok)
		kp_upwalk_release(w);
	return ok;
}

void kp_upwalk_describe(const struct kp_kver *cluster, const struct kp_kver *target,
			const struct kp_upwalk *w, const char *first_cp, struct kp_buf *out)
{
	if (!w->n) {
		kp_buf_addf(out, "the cluster and every node are at %s already", target->text);
		return;
	}
	kp_buf_addf(out, "%s -> %s in %zu step%s:", cluster->text, target->text, w->n,
		    w->n == 1 ? "" : "s");
	for (size_t s = 0; s < w->n; s++) {
		const struct kp_upwalk_step *st = &w->steps[s];
		kp_buf_addf(out, " %zu) %s%s:", s + 1, st->version.text,
			    st->finish	 ? " (finishing the control plane's version)"
			    : st->newest ? " (the newest patch of its minor)"
					 : "");
		for (size_t i = 0; i < st->nnodes; i++)
			kp_buf_addf(out, "%s %s%s", i ? "," : "", st->nodes[i],
				    first_cp && !strcmp(st->nodes[i], first_cp) &&
					    kp_kver_cmp(&st->from, &st->version)
					? " (upgrade apply)"
					: "");
		if (s + 1 < w->n)
			kp_buf_addch(out, ';');
	}
}

/* Why a Node is not fit to go on with (a walk's step boundary): cordoned
 * or not Ready, as kubectl shows it; NULL when it is. */
char *kp_upwalk_node_unfit(const cJSON *n)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(n, "spec");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(n, "status");
	const cJSON *conds = cJSON_GetObjectItemCaseSensitive(st, "conditions"), *c;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "unschedulable")))
		return kp_xstrdup("is cordoned (SchedulingDisabled)");
	cJSON_ArrayForEach(c, conds)
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "status");
		if (cJSON_IsString(t) && !strcmp(t->valuestring, "Ready"))
			return cJSON_IsString(v) && !strcmp(v->valuestring, "True")
				   ? NULL
				   : kp_xstrdup("is not Ready");
	}
	return kp_xstrdup("is not Ready (no Ready condition)");
}

/* ---- the module's action ------------------------------------------------------------ */

/* groups[g] */
static const struct kp_value *group(const struct kp_modctx *ctx, const char *g)
{
	const struct kp_value *groups = kp_mod_var(ctx, "groups");
	const struct kp_value *l =
	    groups && groups->type == KP_V_MAP ? kp_map_get(groups, g) : NULL;
	return l && l->type == KP_V_LIST ? l : NULL;
}

/* Read one repository's Packages index on the host with apt's downloader
 * (only the Package and Version lines come back). */
static kp_rc read_repo(struct kp_modctx *ctx, struct kp_result *res, struct kp_upwalk_repo *r,
		       struct kp_buf *why, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT, url = KP_BUF_INIT;
	struct kp_exec_res x;
	kp_exec_res_init(&x);
	kp_buf_addf(&url, "%sPackages", r->url);
	const char *u[] = {url.buf, NULL};
	kp_buf_addstr(&cmd, "t=$(mktemp) || exit 1; u=");
	kp_mod_join_words(u, &cmd);
	kp_buf_addstr(&cmd, "; if o=$(/usr/lib/apt/apt-helper download-file \"$u\" \"$t\" 2>&1); "
			    "then grep -E '^(Package|Version):|^$' \"$t\"; r=0; else "
			    "printf '%s\\n' \"$o\" | grep '^E:' | head -n 1 >&2; r=100; fi; "
			    "rm -f \"$t\"; exit $r");
	kp_rc rc = kp_mod_sh(ctx, res, cmd.buf, &x, err);
	if (!rc && x.rc == 0) {
		r->n = kp_upwalk_repo_versions(x.out.buf, &r->versions);
	} else if (!rc) {
		size_t n = strcspn(x.err.buf, "\n");
		kp_buf_addf(why, "cannot be read (%.*s)", (int)n,
			    n ? x.err.buf : "apt-helper failed");
		r->why = why->buf;
	}
	kp_exec_res_release(&x);
	kp_buf_release(&cmd);
	kp_buf_release(&url);
	return rc;
}

static struct kp_value *strs(char *const *l, size_t n)
{
	struct kp_value *v = kp_value_list();
	for (size_t i = 0; i < n; i++)
		kp_list_push_take(v, kp_value_str(l[i]));
	return v;
}

kp_rc kp_kubeadm_walk(struct kp_modctx *ctx, struct kp_result *res, const struct kp_kver *cluster,
		      const struct kp_kver *target, char *const *names, char *const *kubelets,
		      size_t n, struct kp_buf *err)
{
	const char *cp = kp_mod_first_control_plane(ctx);
	const char *apt_repo = kp_arg_str(ctx, "apt_repo");
	int64_t max_steps = kp_arg_int(ctx, "max_steps");
	struct kp_upwalk_node *nodes = kp_xcalloc(n + 64, sizeof(*nodes));
	size_t nn = 0, cap = n + 64;
	/* the managed nodes in the order the plan upgrades them */
	const struct kp_value *gs[] = {group(ctx, "kube_control_plane"), group(ctx, "kube_node")};
	for (size_t g = 0; g < 2; g++)
		for (size_t i = 0; gs[g] && i < kp_list_len(gs[g]); i++) {
			const struct kp_value *h = kp_list_at(gs[g], i);
			bool seen = false;
			for (size_t j = 0; h->type == KP_V_STR && j < nn && !seen; j++)
				seen = !strcmp(nodes[j].name, h->u.str.s);
			if (h->type != KP_V_STR || seen)
				continue;
			if (nn == cap)
				nodes = kp_xrealloc(nodes, (cap *= 2) * sizeof(*nodes));
			nodes[nn].name = h->u.str.s;
			nodes[nn].managed = true;
			for (size_t k = 0; k < n; k++)
				if (!strcmp(names[k], h->u.str.s))
					kp_kver_parse(kubelets[k], &nodes[nn].kubelet);
			nn++;
		}
	for (size_t k = 0; k < n; k++) {
		bool seen = false;
		for (size_t j = 0; j < nn && !seen; j++)
			seen = !strcmp(nodes[j].name, names[k]);
		if (seen)
			continue;
		if (nn == cap)
			nodes = kp_xrealloc(nodes, (cap *= 2) * sizeof(*nodes));
		nodes[nn].name = names[k];
		kp_kver_parse(kubelets[k], &nodes[nn++].kubelet);
	}

	/* the repositories of every minor from the cluster's to the target's */
	int lo = cluster->minor, hi = target->minor;
	size_t nr = hi >= lo && hi - lo < 40 ? (size_t)(hi - lo + 1) : 0;
	struct kp_upwalk_repo *repos = kp_xcalloc(nr + 1, sizeof(*repos));
	struct kp_buf *urls = kp_xcalloc(nr + 1, sizeof(*urls));
	struct kp_buf *whys = kp_xcalloc(nr + 1, sizeof(*whys));
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < nr && !rc; i++) {
		repos[i].minor = lo + (int)i;
		if (apt_repo) {
			kp_buf_addstr(&urls[i], apt_repo);
		} else {
			const char *base = kp_arg_str(ctx, "apt_url");
			size_t bl = strlen(base);
			while (bl && base[bl - 1] == '/')
				bl--;
			kp_buf_addf(&urls[i], "%.*s/core:/stable:/v%d.%d/deb/", (int)bl, base,
				    target->major, repos[i].minor);
		}
		if (urls[i].len && urls[i].buf[urls[i].len - 1] != '/')
			kp_buf_addch(&urls[i], '/');
		repos[i].url = urls[i].buf;
		if (i && apt_repo) { /* one repository for every minor */
			repos[i].versions = kp_xcalloc(repos[0].n + 1, sizeof(struct kp_kver));
			if (repos[0].n)
				memcpy(repos[i].versions, repos[0].versions,
				       repos[0].n * sizeof(struct kp_kver));
			repos[i].n = repos[0].n;
			repos[i].why = repos[0].why;
		} else {
			rc = read_repo(ctx, res, &repos[i], &whys[i], err);
		}
	}
	/* a repository shared by every minor holds every minor's versions */
	for (size_t i = 0; apt_repo && i < nr; i++) {
		size_t m = 0;
		for (size_t j = 0; j < repos[i].n; j++)
			if (repos[i].versions[j].minor == repos[i].minor)
				repos[i].versions[m++] = repos[i].versions[j];
		repos[i].n = m;
	}

	struct kp_upwalk w = {0};
	struct kp_buf why = KP_BUF_INIT, desc = KP_BUF_INIT;
	if (rc) {
		/* the host could not be reached: the error goes up */
	} else if (!nr && kp_kver_cmp(target, cluster) >= 0) {
		kp_mod_failf(res, "the walk %s -> %s is too long to plan", cluster->text,
			     target->text);
	} else if (!kp_upwalk_plan(cluster, target, nodes, nn, repos, nr,
				   cp ? cp : "kube_control_plane",
				   max_steps > 0 ? (size_t)max_steps : 0, &w, &why)) {
		kp_mod_failf(res, "%s", why.buf);
	} else {
		kp_upwalk_describe(cluster, target, &w, cp, &desc);
		struct kp_value *f = kp_value_map(), *steps = kp_value_list();
		for (size_t s = 0; s < w.n; s++) {
			const struct kp_upwalk_step *st = &w.steps[s];
			struct kp_value *m = kp_value_map();
			kp_map_set_take(m, "version", kp_value_str(st->version.text + 1));
			kp_map_set_take(m, "from", kp_value_str(st->from.text + 1));
			char minor[16];
			snprintf(minor, sizeof(minor), "%d.%d", st->version.major,
				 st->version.minor);
			kp_map_set_take(m, "minor", kp_value_str(minor));
			kp_map_set_take(m, "repository", kp_value_str(st->url));
			kp_map_set_take(m, "nodes", strs(st->nodes, st->nnodes));
			kp_map_set_take(m, "newest_patch", kp_value_bool(st->newest));
			kp_map_set_take(m, "finish", kp_value_bool(st->finish));
			kp_list_push_take(steps, m);
		}
		kp_map_set_take(f, "cluster_version", kp_value_str(cluster->text));
		kp_map_set_take(f, "target", kp_value_str(target->text));
		kp_map_set_take(f, "steps", steps);
		kp_map_set_take(f, "summary", kp_value_str(desc.buf));
		kp_value_unref(res->facts);
		res->facts = f;
		kp_buf_reset(&res->msg);
		kp_buf_addf(&res->msg, "walk %s", desc.buf);
	}
	kp_upwalk_release(&w);
	for (size_t i = 0; i < nr; i++) {
		free(repos[i].versions);
		kp_buf_release(&urls[i]);
		kp_buf_release(&whys[i]);
	}
	free(repos);
	free(urls);
	free(whys);
	free(nodes);
	kp_buf_release(&why);
	kp_buf_release(&desc);
	return rc;
}
