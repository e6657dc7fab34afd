/* test_kubeadm_walk.c - kubeadm-upgrade's walk: the versions a Packages
 * index offers, and the steps from a cluster's version to a target. */
#include "unit.h"
#include "modules/kube/kubeadm_walk.h"

/* stanzas as pkgs.k8s.io's core:/stable:/v1.36/deb/Packages has them
 * (fields shortened), plus a kubeadm with no kubelet and a pre-release */
static const char packages36[] =
    "Package: cri-tools\nArchitecture: amd64\nVersion: 1.36.0-1.1\n"
    "Filename: amd64/cri-tools_1.36.0-1.1_amd64.deb\n\n"
    "Package: kubeadm\nArchitecture: amd64\nVersion: 1.36.4-1.1\n"
    "Depends: cri-tools (>= 1.30.0)\nFilename: amd64/kubeadm_1.36.4-1.1_amd64.deb\n\n"
    "Package: kubeadm\nArchitecture: amd64\nVersion: 1.36.5-1.1\n\n"
    "Package: kubeadm\nArchitecture: amd64\nVersion: 1.36.6-1.1\n\n"
    "Package: kubeadm\nVersion: 1.36.7~rc.0-1.1\n\n"
    "Package: kubectl\nVersion: 1.36.5-1.1\n\n"
    "Package: kubectl\nVersion: 1.36.4-1.1\n\n"
    "Package: kubectl\nVersion: 1.36.7~rc.0-1.1\n\n"
    "Package: kubelet\nVersion: 1.36.4-1.1\n\n"
    "Package: kubelet\nVersion: 1.36.5-1.1\n\n"
    "Package: kubelet\nVersion: 1.36.7~rc.0-1.1\n";

static void test_repo_versions(void **state)
{
	(void)state;
	struct kp_kver *v = NULL;
	size_t n = kp_upwalk_repo_versions(packages36, &v);
	/* 1.36.6 has no kubelet or kubectl; a pre-release is no step */
	assert_int_equal(n, 2);
	assert_string_equal(v[0].text, "v1.36.4");
	assert_string_equal(v[1].text, "v1.36.5");
	free(v);
	/* the stanzas without their empty lines (grep's output) */
	n = kp_upwalk_repo_versions("Package: kubeadm\nVersion: 1.37.1-1.1\nPackage: kubelet\n"
				    "Version: 1.37.1-1.1\nPackage: kubectl\nVersion: 1.37.1-1.1",
				    &v);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].text, "v1.37.1");
	free(v);
	n = kp_upwalk_repo_versions("", &v);
	assert_int_equal(n, 0);
	free(v);
}

/* repositories 1.MIN..1.MAX, each with patches 0..P (P from `newest`) */
struct fixture {
	struct kp_upwalk_repo repos[8];
	struct kp_kver vers[8][4];
	char urls[8][64];
};

static size_t repos(struct fixture *f, int min, const int *newest, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct kp_upwalk_repo *r = &f->repos[i];
		r->minor = min + (int)i;
		snprintf(f->urls[i], sizeof(f->urls[i]),
			 "https://pkgs.k8s.io/core:/stable:/v1.%d/deb/", r->minor);
		r->url = f->urls[i];
		r->versions = f->vers[i];
		r->n = newest[i] < 0 ? 0 : (size_t)newest[i] + 1;
		for (int p = 0; p <= newest[i] && p < 4; p++) {
			char s[16];
			snprintf(s, sizeof(s), "1.%d.%d", r->minor, p);
			kp_kver_parse(s, &f->vers[i][p]);
		}
	}
	return n;
}

static void node(struct kp_upwalk_node *nd, const char *name, const char *v, bool managed)
{
	nd->name = name;
	nd->managed = managed;
	kp_kver_parse(v, &nd->kubelet);
}

static void test_plan(void **state)
{
	(void)state;
	struct fixture f = {0};
	struct kp_kver c, t;
	struct kp_upwalk w;
	struct kp_buf why = KP_BUF_INIT, d = KP_BUF_INIT;
	struct kp_upwalk_node nodes[5];
	node(&nodes[0], "cp-1", "v1.35.3", true);
	node(&nodes[1], "cp-2", "v1.35.3", true);
	node(&nodes[2], "w-1", "v1.35.3", true);

	/* two minors: 1.36 at its newest patch, then the target */
	size_t nr = repos(&f, 35, (const int[]){3, 2, 1}, 3);
	kp_kver_parse("v1.35.3", &c);
	kp_kver_parse("1.37.1", &t);
	assert_true(kp_upwalk_plan(&c, &t, nodes, 3, f.repos, nr, "cp-1", 8, &w, &why));
	assert_int_equal(w.n, 2);
	kp_upwalk_describe(&c, &t, &w, "cp-1", &d);
	assert_string_equal(d.buf, "v1.35.3 -> v1.37.1 in 2 steps: 1) v1.36.2 (the newest patch of "
				   "its minor): cp-1 (upgrade apply), cp-2, w-1; 2) v1.37.1: cp-1 "
				   "(upgrade apply), cp-2, w-1");
	assert_string_equal(w.steps[1].from.text, "v1.36.2");
	assert_string_equal(w.steps[1].url, "https://pkgs.k8s.io/core:/stable:/v1.37/deb/");
	kp_upwalk_release(&w);
	kp_buf_reset(&d);

	/* more steps than the plan has slots */
	assert_false(kp_upwalk_plan(&c, &t, nodes, 3, f.repos, nr, "cp-1", 1, &w, &why));
	assert_string_equal(why.buf,
			    "the walk v1.35.3 -> v1.37.1 takes 2 steps, one per minor "
			    "version, and this plan has 1: walk to v1.36.2 first, then run "
			    "it again");
	kp_buf_reset(&why);

	/* a downgrade; a version the repository does not have */
	kp_kver_parse("1.35.1", &t);
	assert_false(kp_upwalk_plan(&c, &t, nodes, 3, f.repos, nr, "cp-1", 8, &w, &why));
	assert_string_equal(why.buf, "the control plane ('cp-1') is at v1.35.3: v1.35.1 would be a "
				     "downgrade, which kubeadm cannot do");
	kp_buf_reset(&why);
	kp_kver_parse("1.37.4", &t);
	assert_false(kp_upwalk_plan(&c, &t, nodes, 3, f.repos, nr, "cp-1", 8, &w, &why));
	assert_string_equal(why.buf,
			    "v1.37.4 is not in the repository "
			    "https://pkgs.k8s.io/core:/stable:/v1.37/deb/: it has v1.37.0, "
			    "v1.37.1");
	kp_buf_reset(&why);

	/* a minor in between with no packages */
	nr = repos(&f, 35, (const int[]){3, -1, 1}, 3);
	f.repos[1].why = "cannot be read (E: Failed to fetch)";
	kp_kver_parse("1.37.1", &t);
	assert_false(kp_upwalk_plan(&c, &t, nodes, 3, f.repos, nr, "cp-1", 8, &w, &why));
	assert_string_equal(why.buf,
			    "the walk v1.35.3 -> v1.37.1 goes through Kubernetes 1.36 "
			    "(kubeadm upgrades one minor version at a time), but the "
			    "repository https://pkgs.k8s.io/core:/stable:/v1.36/deb/ cannot "
			    "be read (E: Failed to fetch)");
	kp_buf_reset(&why);

	/* a step left half-done: its version finished first, on the nodes below it */
	nr = repos(&f, 35, (const int[]){3, 2, 1}, 3);
	kp_kver_parse("v1.36.2", &c);
	node(&nodes[0], "cp-1", "v1.36.2", true);
	assert_true(kp_upwalk_plan(&c, &t, nodes, 3, f.repos + 1, 2, "cp-1", 8, &w, &why));
	kp_upwalk_describe(&c, &t, &w, "cp-1", &d);
	assert_string_equal(d.buf,
			    "v1.36.2 -> v1.37.1 in 2 steps: 1) v1.36.2 (finishing the control "
			    "plane's version): cp-2, w-1; 2) v1.37.1: cp-1 (upgrade apply), "
			    "cp-2, w-1");
	kp_upwalk_release(&w);
	kp_buf_reset(&d);

	/* nothing to do */
	node(&nodes[1], "cp-2", "v1.37.1", true);
	node(&nodes[2], "w-1", "v1.37.1", true);
	node(&nodes[0], "cp-1", "v1.37.1", true);
	kp_kver_parse("v1.37.1", &c);
	assert_true(kp_upwalk_plan(&c, &t, nodes, 3, f.repos + 2, 1, "cp-1", 8, &w, &why));
	assert_int_equal(w.n, 0);
	kp_upwalk_describe(&c, &t, &w, "cp-1", &d);
	assert_string_equal(d.buf, "the cluster and every node are at v1.37.1 already");
	kp_buf_reset(&d);
	kp_buf_release(&d);
	kp_buf_release(&why);
}

/* The version-skew policy at every step, with the kubelets as the steps
 * before leave them: a Node outside the inventory keeps its kubelet. */
static void test_plan_skew(void **state)
{
	(void)state;
	struct fixture f = {0};
	struct kp_kver c, t;
	struct kp_upwalk w;
	struct kp_buf why = KP_BUF_INIT;
	struct kp_upwalk_node nodes[3];
	node(&nodes[0], "cp-1", "v1.35.3", true);
	node(&nodes[1], "edge-1", "v1.34.0", false);
	size_t nr = repos(&f, 35, (const int[]){3, 2, 1, 0}, 4);
	kp_kver_parse("v1.35.3", &c);
	kp_kver_parse("1.38.0", &t);
	assert_false(kp_upwalk_plan(&c, &t, nodes, 2, f.repos, nr, "cp-1", 8, &w, &why));
	assert_string_equal(
	    why.buf, "node 'edge-1' has kubelet v1.34.0, 4 minor versions older than v1.38.0: a "
		     "kubelet may be up to three minor versions older than the API server, never "
		     "newer (Kubernetes version-skew policy since 1.28); upgrade node 'edge-1' "
		     "first (it is in neither kube_control_plane nor kube_node: the walk leaves "
		     "it at v1.34.0) (step 3 of the walk, v1.37.1 -> v1.38.0)");
	kp_buf_reset(&why);
	/* the old era: two minors */
	nr = repos(&f, 11, (const int[]){3, 3, 3}, 3);
	kp_kver_parse("v1.11.3", &c);
	kp_kver_parse("1.13.3", &t);
	node(&nodes[0], "master", "v1.11.3", true);
	node(&nodes[1], "worker", "v1.8.2", true);
	assert_false(kp_upwalk_plan(&c, &t, nodes, 2, f.repos, nr, "master", 8, &w, &why));
	/* finishing 1.11.3 first, the worker passes: then 1.12 and 1.13 */
	kp_buf_reset(&why);
	node(&nodes[1], "worker", "v1.11.2", true);
	assert_true(kp_upwalk_plan(&c, &t, nodes, 2, f.repos, nr, "master", 8, &w, &why));
	assert_int_equal(w.n, 3);
	assert_string_equal(w.steps[0].version.text, "v1.11.3");
	assert_int_equal(w.steps[0].nnodes, 1);
	assert_string_equal(w.steps[1].version.text, "v1.12.3");
	kp_upwalk_release(&w);
	kp_buf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_repo_versions),
	    cmocka_unit_test(test_plan),
	    cmocka_unit_test(test_plan_skew),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
