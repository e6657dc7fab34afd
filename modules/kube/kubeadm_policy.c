/*
 * kubeadm_policy.c - kubeadm's version-skew policy and its upgrade
 * commands by era (kubeadm_policy.h).
 */
#include "modules/kube/kubeadm_policy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the eras ------------------------------------------------------------------------ */

/*
 * Sources, kubernetes/kubernetes:
 * - before 1.12 a kubeadm HA cluster's other control planes were upgraded
 *   like the first, with `kubeadm upgrade apply` (kubeadm 1.11's HA upgrade
 *   guide); workers with `kubeadm upgrade node config --kubelet-version`
 *   (new in 1.11).
 * - CHANGELOG-1.12.md: "`kubeadm upgrade node experimental-control-plane`
 *   can now be used for upgrading secondary control plane instances"; the
 *   1.13 and 1.14 upgrade guides: "Upgrade additional control plane nodes:
 *   sudo kubeadm upgrade node experimental-control-plane". That command
 *   upgrades the static pods only (cmd/kubeadm/app/cmd/upgrade/node.go), so
 *   the kubelet configuration is downloaded as on a worker.
 * - CHANGELOG-1.15.md (#78408): "The `kubeadm upgrade node config` and
 *   `kubeadm upgrade node experimental-control-plane` commands are
 *   deprecated in favor of `kubeadm upgrade node`", which upgrades a
 *   control plane's static pods and any node's kubelet configuration,
 *   and takes --etcd-upgrade and --certificate-renewal as `upgrade apply`
 *   does (cmd/kubeadm/app/cmd/upgrade/node.go).
 * - CHANGELOG-1.28.md (KEP-3935): the kubelet may be three minor versions
 *   older than the API server; kubeadm's MaximumAllowedMinorVersionKubeletSkew
 *   (cmd/kubeadm/app/phases/upgrade/policy.go) follows, from 1 to 3.
 */
static const struct kp_kubeadm_era eras[] = {
    {11,
     "kubeadm upgrade apply %s --yes",
     {"kubeadm upgrade apply %s --yes", NULL},
     "kubeadm upgrade node config --kubelet-version %s",
     "kubeadm 1.11 HA upgrade guide",
     1,
     false},
    {12,
     "kubeadm upgrade apply %s --yes",
     {"kubeadm upgrade node experimental-control-plane",
      "kubeadm upgrade node config --kubelet-version %s"},
     "kubeadm upgrade node config --kubelet-version %s",
     "CHANGELOG-1.12.md",
     1,
     false},
    {15,
     "kubeadm upgrade apply %s --yes",
     {"kubeadm upgrade node", NULL},
     "kubeadm upgrade node",
     "CHANGELOG-1.15.md (#78408)",
     1,
     true},
    {28,
     "kubeadm upgrade apply %s --yes",
     {"kubeadm upgrade node", NULL},
     "kubeadm upgrade node",
     "CHANGELOG-1.28.md (KEP-3935)",
     3,
     true},
};

/*
 * Kubernetes' version-skew policy (kubernetes/website
 * content/en/releases/version-skew-policy.md): "kubelet must not be newer
 * than kube-apiserver, and may be up to two minor versions older" until
 * 1.27; "up to three minor versions older" since 1.28 (KEP-3935,
 * CHANGELOG-1.28.md).
 */
static const struct kp_kubelet_skew kubelet_skews[] = {
    {0, 2,
     "a kubelet may be up to two minor versions older than the API server, never newer "
     "(Kubernetes version-skew policy before 1.28)"},
    {28, 3,
     "a kubelet may be up to three minor versions older than the API server, never newer "
     "(Kubernetes version-skew policy since 1.28)"},
};

const struct kp_kubelet_skew *kp_kubelet_skew(int apiserver_minor)
{
	const struct kp_kubelet_skew *s = &kubelet_skews[0];
	for (size_t i = 0; i < KP_ARRAY_LEN(kubelet_skews); i++)
		if (apiserver_minor >= kubelet_skews[i].from_minor)
			s = &kubelet_skews[i];
	return s;
}

const struct kp_kubeadm_era *kp_kubeadm_era(int minor)
{
	const struct kp_kubeadm_era *e = NULL;
	for (size_t i = 0; i < KP_ARRAY_LEN(eras); i++)
		if (minor >= eras[i].from_minor)
			e = &eras[i];
	return e;
}

/* ---- versions ------------------------------------------------------------------------ */

bool kp_kver_parse(const char *s, struct kp_kver *v)
{
	const char *p = s ? strpbrk(s, "0123456789") : NULL;
	int n = 0;
	memset(v, 0, sizeof(*v));
	if (!p || sscanf(p, "%d.%d.%d%n", &v->major, &v->minor, &v->patch, &n) != 3)
		return false;
	p += n;
	/* "-00": a package revision; "-beta.1" (or Debian's "~rc.0"): a pre-release */
	size_t pl = 0;
	if ((*p == '-' || *p == '~') && !isdigit((unsigned char)p[1])) {
		v->pre = true;
		pl = strcspn(p, " \t\n+");
	}
	snprintf(v->text, sizeof(v->text), "v%d.%d.%d%.*s", v->major, v->minor, v->patch,
		 (int)(pl < 20 ? pl : 20), p);
	return true;
}

int kp_kver_cmp(const struct kp_kver *a, const struct kp_kver *b)
{
	if (a->major != b->major)
		return a->major < b->major ? -1 : 1;
	if (a->minor != b->minor)
		return a->minor < b->minor ? -1 : 1;
	if (a->patch != b->patch)
		return a->patch < b->patch ? -1 : 1;
	if (a->pre != b->pre)
		return a->pre ? -1 : 1; /* v1.15.0-beta.1 < v1.15.0 */
	return 0;
}

/* ---- the policy ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool kp_kubeadm_old_kubelets(const struct kp_kver *target, int skew, const char *const *kubelets,
			     size_t n, struct kp_buf *out)
{
	const char **old = kp_xcalloc(n + 1, sizeof(*old));
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		struct kp_kver k;
		if (!kp_kver_parse(kubelets[i], &k) || target->minor <= k.minor + skew)
			continue;
		bool seen = false;
		for (size_t j = 0; j < m && !seen; j++)
			seen = !strcmp(old[j], kubelets[i]);
		if (!seen)
			old[m++] = kubelets[i];
	}
	qsort(old, m, sizeof(*old), cmp_str);
	if (m) {
		kp_buf_addch(out, '[');
		for (size_t i = 0; i < m; i++)
			kp_buf_addf(out, "%s%s", i ? " " : "", old[i]);
		kp_buf_addch(out, ']');
	}
	free(old);
	return m > 0;
}

void kp_kubeadm_policy(const struct kp_kver *target, const struct kp_kver *cluster,
		       const struct kp_kver *kubeadm, const char *const *kubelets, size_t n,
		       struct kp_buf *mandatory, struct kp_buf *skippable)
{
	const struct kp_kubeadm_era *e = kp_kubeadm_era(kubeadm->minor);
	kp_kubeadm_policy_skew(target, cluster, kubeadm, e ? e->kubelet_skew : 1, kubelets, n,
			       mandatory, skippable);
}

void kp_kubeadm_policy_skew(const struct kp_kver *target, const struct kp_kver *cluster,
			    const struct kp_kver *kubeadm, int kubelet_skew,
			    const char *const *kubelets, size_t n, struct kp_buf *mandatory,
			    struct kp_buf *skippable)
{
	const char *t = target->text;
	/* a released version: fully enforced; a pre-release: --force passes */
	struct kp_buf *strict = target->pre ? skippable : mandatory;
	if (target->minor > cluster->minor + 1)
		kp_buf_addf(
		    strict,
		    "Specified version to upgrade to \"%s\" is too high; kubeadm can upgrade "
		    "only 1 minor version at a time\n",
		    t);
	if (target->minor < cluster->minor - 1)
		kp_buf_addf(strict,
			    "Specified version to downgrade to \"%s\" is too low; kubeadm can "
			    "downgrade only 1 minor version at a time\n",
			    t);
	if (kp_kver_cmp(kubeadm, target) < 0) {
		if (target->minor > kubeadm->minor)
			kp_buf_addf(
			    strict,
			    "Specified version to upgrade to \"%s\" is at least one minor "
			    "release higher than the kubeadm minor release (%d > %d). Such an "
			    "upgrade is not supported\n",
			    t, target->minor, kubeadm->minor);
		else
			kp_buf_addf(
			    skippable,
			    "Specified version to upgrade to \"%s\" is higher than the kubeadm "
			    "version \"%s\". Upgrade kubeadm first using the tool you used to "
			    "install kubeadm\n",
			    t, kubeadm->text);
	}
	if (kubeadm->major > target->major || kubeadm->minor > target->minor)
		kp_buf_addf(skippable,
			    "Kubeadm version %s can only be used to upgrade to Kubernetes version "
			    "%d.%d\n",
			    kubeadm->text, kubeadm->major, kubeadm->minor);
	if (target->pre)
		kp_buf_addf(
		    skippable,
		    "Specified version to upgrade to \"%s\" is an unstable version and such "
		    "upgrades weren't allowed via setting the --allow-*-upgrades flags\n",
		    t);
	struct kp_buf old = KP_BUF_INIT;
	if (kubelets && kp_kubeadm_old_kubelets(target, kubelet_skew, kubelets, n, &old))
		kp_buf_addf(skippable,
			    "There are kubelets in this cluster that are too old that have these "
			    "versions %s\n",
			    old.buf);
	kp_buf_release(&old);
}
