/* test_inventory.c - YAML, INI and directory inventories: the examples'
 * full --list output, precedence, INI typing, ranges, kubespray names,
 * merging several loads, error messages, and a 5,000-host inventory. */
#include "unit.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/inventory.h"

/* A scratch directory under /tmp, removed by cleanup(). */
static char tmpdir[64];

static void scratch(void)
{
	strcpy(tmpdir, "/tmp/kp-inv-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void cleanup(void)
{
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write text to tmpdir/name (creating directories on the way); returns the
 * path in a static buffer. */
static const char *put(const char *name, const char *text)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	for (char *p = path + strlen(tmpdir) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static char *slurp(const char *path)
{
	struct kp_buf b = KP_BUF_INIT, err = KP_BUF_INIT;
	assert_int_equal(kp_read_file(path, 0, &b, &err), KP_OK);
	kp_buf_release(&err);
	return kp_buf_detach(&b, NULL);
}

static void load_ok(struct kp_inventory *inv, const char *path)
{
	struct kp_buf err = KP_BUF_INIT;
	kp_rc rc = kp_inventory_load(inv, path, &err);
	if (rc)
		fail_msg("%s", err.buf);
	rc = kp_inventory_finalize(inv, &err);
	if (rc)
		fail_msg("%s", err.buf);
	kp_buf_release(&err);
}

static char *list_of(const char *path)
{
	struct kp_inventory inv;
	struct kp_buf out = KP_BUF_INIT;
	kp_inventory_init(&inv);
	load_ok(&inv, path);
	kp_inventory_list_json(&inv, &out);
	kp_inventory_release(&inv);
	return kp_buf_detach(&out, NULL);
}

/* A host's merged variables as compact JSON. */
static char *merged_of(const struct kp_inventory *inv, const char *host)
{
	struct kp_buf out = KP_BUF_INIT;
	const struct kp_host *h = kp_inventory_host(inv, host);
	assert_non_null(h);
	kp_value_to_json(h->merged, false, false, &out);
	return kp_buf_detach(&out, NULL);
}

static char *json(const struct kp_value *v)
{
	struct kp_buf out = KP_BUF_INIT;
	kp_value_to_json(v, false, false, &out);
	return kp_buf_detach(&out, NULL);
}

#define assert_merged(inv, host, expect)                                                           \
	do {                                                                                       \
		char *s_ = merged_of((inv), (host));                                               \
		assert_string_equal(s_, (expect));                                                 \
		free(s_);                                                                          \
	} while (0)

#define assert_json(v, expect)                                                                     \
	do {                                                                                       \
		char *s_ = json(v);                                                                \
		assert_string_equal(s_, (expect));                                                 \
		free(s_);                                                                          \
	} while (0)

/* The examples, whole: expected files checked by hand and against
 * ansible-inventory --list (same values and order; differences: two-space
 * indentation, secrets hidden, and for hosts.ini the kube_control_plane
 * group kplan adds for kube-master). */
static void check_list(const char *inv_path, const char *expected)
{
	char *got = list_of(inv_path);
	char *want = slurp(expected);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

static void test_example_yaml(void **state)
{
	check_list("inventory-examples/hosts.yml", KP_TEST_DATA "/inventory/hosts.yml.list.json");
}

static void test_example_ini(void **state)
{
	check_list("inventory-examples/hosts.ini", KP_TEST_DATA "/inventory/hosts.ini.list.json");
}

static void test_example_dir(void **state)
{
	check_list("inventory-examples/mycluster/", KP_TEST_DATA "/inventory/mycluster.list.json");
	check_list("inventory-examples/mycluster", KP_TEST_DATA "/inventory/mycluster.list.json");
	/* naming the file reads group_vars/ and host_vars/ beside it too */
	check_list("inventory-examples/mycluster/hosts.yaml",
		   KP_TEST_DATA "/inventory/mycluster.list.json");
}

static void test_graph_and_host(void **state)
{
	struct kp_inventory inv;
	struct kp_buf out = KP_BUF_INIT, err = KP_BUF_INIT;
	kp_inventory_init(&inv);
	load_ok(&inv, "inventory-examples/hosts.ini");
	kp_inventory_graph(&inv, NULL, &out);
	assert_string_equal(out.buf, "@all:\n"
				     "  |--@ungrouped:\n"
				     "  |--@etcd:\n"
				     "  |  |--k8s-master\n"
				     "  |--@k8s_cluster:\n"
				     "  |  |--@kube-master:\n"
				     "  |  |  |--k8s-master\n"
				     "  |  |--@kube_node:\n"
				     "  |  |  |--k8s-worker-1\n"
				     "  |  |  |--k8s-worker-2\n"
				     "  |--@kube_control_plane:\n"
				     "  |  |--@kube-master:\n"
				     "  |  |  |--k8s-master\n");
	kp_buf_reset(&out);
	kp_inventory_graph(&inv, "k8s_cluster", &out);
	assert_string_equal(out.buf, "@k8s_cluster:\n"
				     "  |--@kube-master:\n"
				     "  |  |--k8s-master\n"
				     "  |--@kube_node:\n"
				     "  |  |--k8s-worker-1\n"
				     "  |  |--k8s-worker-2\n");
	kp_buf_reset(&out);
	kp_inventory_graph(&inv, "nosuch", &out);
	assert_string_equal(out.buf, "");
	kp_inventory_release(&inv);

	kp_inventory_init(&inv);
	load_ok(&inv, "inventory-examples/mycluster/");
	assert_int_equal(kp_inventory_host_json(&inv, "k8s-master", &out, &err), KP_OK);
	char *want = slurp(KP_TEST_DATA "/inventory/mycluster.k8s-master.json");
	assert_string_equal(out.buf, want);
	free(want);
	assert_int_equal(kp_inventory_host_json(&inv, "k8s-mastr", &out, &err), KP_ERR_NOTFOUND);
	assert_string_equal(err.buf, "unknown host 'k8s-mastr' (did you mean 'k8s-master'?)");
	assert_int_equal(kp_inventory_host_json(&inv, "zzz", &out, &err), KP_ERR_NOTFOUND);
	assert_string_equal(err.buf, "unknown host 'zzz'");
	/* a name from the command line stays on one line */
	assert_int_equal(kp_inventory_host_json(&inv, "k8s-\nmaster", &out, &err), KP_ERR_NOTFOUND);
	assert_string_equal(err.buf, "unknown host 'k8s-\\nmaster' (did you mean 'k8s-master'?)");
	kp_inventory_release(&inv);
	kp_buf_release(&out);
	kp_buf_release(&err);
}

/* Magic-variable inputs: group_names, groups, depths. */
static void test_groups_and_names(void **state)
{
	struct kp_inventory inv;
	kp_inventory_init(&inv);
	load_ok(&inv, "inventory-examples/mycluster/");
	const struct kp_host *m = kp_inventory_host(&inv, "k8s-master");
	assert_json(m->group_names, "[\"etcd\",\"k8s_cluster\",\"kube_control_plane\"]");
	assert_json(kp_inventory_host(&inv, "k8s-worker-1")->group_names,
		    "[\"k8s_cluster\",\"kube_node\"]");
	assert_json(inv.groups_var,
		    "{\"all\":[\"k8s-master\",\"k8s-worker-1\",\"k8s-worker-2\"],"
		    "\"ungrouped\":[],"
		    "\"kube_control_plane\":[\"k8s-master\"],"
		    "\"kube_node\":[\"k8s-worker-1\",\"k8s-worker-2\"],"
		    "\"etcd\":[\"k8s-master\"],"
		    "\"k8s_cluster\":[\"k8s-master\",\"k8s-worker-1\",\"k8s-worker-2\"],"
		    "\"calico_rr\":[]}");
	assert_int_equal(kp_inventory_group(&inv, "all")->depth, 0);
	assert_int_equal(kp_inventory_group(&inv, "k8s_cluster")->depth, 1);
	/* a child of both all and k8s_cluster: the longest path counts */
	assert_int_equal(kp_inventory_group(&inv, "kube_node")->depth, 2);
	assert_int_equal(inv.nsources, 1);
	assert_string_equal(inv.sources[0], "inventory-examples/mycluster/");
	size_t *idx, n = kp_group_all_hosts(&inv, kp_inventory_group(&inv, "k8s_cluster"), &idx);
	assert_int_equal(n, 3);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[2], 2);
	free(idx);
	kp_inventory_release(&inv);

	/* an ungrouped host: Ansible's group_names is ["ungrouped"] */
	scratch();
	kp_inventory_init(&inv);
	load_ok(&inv, put("h.ini", "lonely\n[web]\nw1\n"));
	assert_json(kp_inventory_host(&inv, "lonely")->group_names, "[\"ungrouped\"]");
	assert_json(kp_inventory_host(&inv, "w1")->group_names, "[\"web\"]");
	assert_json(inv.groups_var, "{\"all\":[\"lonely\",\"w1\"],\"ungrouped\":[\"lonely\"],"
				    "\"web\":[\"w1\"]}");
	kp_inventory_release(&inv);
	cleanup();
}

static void test_precedence(void **state)
{
	struct kp_inventory inv;
	scratch();
	/* same depth: by name, later wins; deeper beats shallower whatever the
	 * names; groups the host is not in do not count */
	put("inv/hosts.yml", "all:\n"
			     "  vars: {x: all, y: all, z: all, w: all}\n"
			     "  children:\n"
			     "    zeta:\n"
			     "      vars: {x: zeta, y: zeta}\n"
			     "      children:\n"
			     "        alpha:\n"
			     "          vars: {x: alpha}\n"
			     "          hosts:\n"
			     "            h1: {w: host}\n"
			     "    beta:\n"
			     "      vars: {y: beta, z: beta}\n"
			     "      hosts: {h1: }\n"
			     "    gamma:\n"
			     "      vars: {z: gamma}\n"
			     "      hosts: {h2: }\n");
	put("inv/group_vars/all.yml", "w: gv-all\nv: gv-all\n");
	put("inv/group_vars/beta.yml", "v: gv-beta\n");
	put("inv/group_vars/nosuch.yml", "v: ignored\n");
	put("inv/group_vars/README", "not: [a, mapping\n"); /* never read: no such group */
	put("inv/host_vars/h1/b.yml", "u: second\n");
	put("inv/host_vars/h1/a.yml", "u: first\nt: first\n");
	put("inv/host_vars/h1.yml", "t: file\n");
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/inv", tmpdir);
	kp_inventory_init(&inv);
	load_ok(&inv, dir);
	/* x: alpha (depth 2) over zeta (1); y: zeta over beta (same depth 1,
	 * 'zeta' sorts later); z: gamma is not h1's group, beta wins;
	 * w: host vars over group_vars/all; v: group_vars/beta over all;
	 * h1/ files in name order, then h1.yml (Ansible's order) */
	assert_merged(
	    &inv, "h1",
	    "{\"x\":\"alpha\",\"y\":\"zeta\",\"z\":\"beta\",\"w\":\"host\",\"v\":\"gv-beta\","
	    "\"u\":\"second\",\"t\":\"file\"}");
	assert_merged(
	    &inv, "h2",
	    "{\"x\":\"all\",\"y\":\"all\",\"z\":\"gamma\",\"w\":\"gv-all\",\"v\":\"gv-all\"}");
	kp_inventory_release(&inv);
	cleanup();
}

static void test_ini_typing(void **state)
{
	struct kp_inventory inv;
	scratch();
	kp_inventory_init(&inv);
	load_ok(&inv, put("t.ini", "# typed like ast.literal_eval\n"
				   "h1 i=42 n=-7 hex=0x1f f=1.5 e=1e3 t=True t2=true fl=False "
				   "none=None oct=010 s=hello q=\"two words\" q42=\"42\" "
				   "sq='single' lit='\"inner\"' l=\"[1, 'a']\" d=\"{'k': 2}\" "
				   "esc=a\\ b ver=1.13.3 path=/usr/bin # a comment\n"
				   "h2:2222\n"
				   "[g:vars]\n"
				   "a = 5\n"
				   "b='quoted # not a comment'\n"
				   "c=plain text # comment\n"
				   "d=[1, 2]\n"
				   "e=\"x\"\n"
				   "t=true\n"
				   "[g]\n"
				   "h2\n"));
	assert_merged(
	    &inv, "h1",
	    /* as ansible-inventory --list has them (t0806 compares the two):
	     * true is a string, "42" is 42 once shlex has taken the quotes */
	    "{\"i\":42,\"n\":-7,\"hex\":31,\"f\":1.5,\"e\":1000.0,\"t\":true,\"t2\":\"true\","
	    "\"fl\":false,\"none\":null,\"oct\":\"010\",\"s\":\"hello\",\"q\":\"two words\","
	    "\"q42\":42,\"sq\":\"single\",\"lit\":\"inner\",\"l\":[1,\"a\"],"
	    "\"d\":{\"k\":2},\"esc\":\"a b\",\"ver\":\"1.13.3\",\"path\":\"/usr/bin\"}");
	assert_merged(&inv, "h2",
		      "{\"a\":5,\"b\":\"quoted # not a comment\",\"c\":\"plain text\",\"d\":[1,2],"
		      "\"e\":\"x\",\"t\":\"true\",\"ansible_port\":2222}");
	/* h1 is only in ungrouped; h2 left it for g */
	assert_json(inv.groups_var,
		    "{\"all\":[\"h1\",\"h2\"],\"ungrouped\":[\"h1\"],\"g\":[\"h2\"]}");
	kp_inventory_release(&inv);
	cleanup();
}

static void expand_ok(const char *pattern, const char *expect)
{
	struct kp_value *v;
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_expand_host_range(pattern, &v, &err), KP_OK);
	assert_json(v, expect);
	kp_value_unref(v);
	kp_buf_release(&err);
}

static void expand_err(const char *pattern, const char *msg)
{
	struct kp_value *v = NULL;
	struct kp_buf err = KP_BUF_INIT;
	assert_int_not_equal(kp_expand_host_range(pattern, &v, &err), KP_OK);
	assert_null(v);
	assert_string_equal(err.buf, msg);
	kp_buf_release(&err);
}

static void load_err(const char *name, const char *text, kp_rc want, const char *msg);

static void test_ranges(void **state)
{
	expand_ok("node[01:03]", "[\"node01\",\"node02\",\"node03\"]");
	expand_ok("node[8:11].lab", "[\"node8.lab\",\"node9.lab\",\"node10.lab\",\"node11.lab\"]");
	expand_ok("worker-[a:c]", "[\"worker-a\",\"worker-b\",\"worker-c\"]");
	expand_ok("n[1:9:3]", "[\"n1\",\"n4\",\"n7\"]");
	expand_ok("n[:2]", "[\"n0\",\"n1\",\"n2\"]");
	expand_ok("r[1:2]n[a:b]", "[\"r1na\",\"r1nb\",\"r2na\",\"r2nb\"]");
	expand_ok("plain", "[\"plain\"]");
	expand_ok("odd[1]", "[\"odd[1]\"]"); /* no ':' inside: part of the name */
	expand_err("n[1:]", "invalid host range 'n[1:]': the range has no end");
	expand_err("n[3:1]", "invalid host range 'n[3:1]': the range begins after its end");
	expand_err("n[01:100]", "invalid host range 'n[01:100]': begin and end of a zero-padded "
				"range need the same width");
	expand_err("n[1:5:0]", "invalid host range 'n[1:5:0]': the step must be a positive number");
	expand_err("n[1:x]", "invalid host range 'n[1:x]': a range is numbers like [01:20] or "
			     "single letters like [a:c]");
	expand_err("n[1:2:3:4]",
		   "invalid host range 'n[1:2:3:4]': a range is [begin:end] or [begin:end:step]");
	expand_err("n[0:999999999]", "invalid host range 'n[0:999999999]': more than 100000 hosts");
	/* ranges multiply: refused from the count, before any name is made */
	expand_err("a[0:3]b[0:103]c[0:3]d[0:103]",
		   "invalid host range 'a[0:3]b[0:103]c[0:3]d[0:103]': more than 100000 hosts");
	expand_err("n[0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9]"
		   "[0:9][0:9][0:9][0:9][0:9]",
		   "invalid host range 'n[0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9]"
		   "[0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9][0:9]': more than 100000 hosts");

	/* in inventories, with a port */
	struct kp_inventory inv;
	scratch();
	kp_inventory_init(&inv);
	load_ok(&inv, put("r.yml", "all:\n  hosts:\n    'web[1:2]:2200': {role: web}\n"));
	assert_int_equal(inv.nhosts, 2);
	assert_merged(&inv, "web2", "{\"ansible_port\":2200,\"role\":\"web\"}");
	kp_inventory_release(&inv);

	/* ranges on many lines add up: one inventory holds at most 100,000 */
	load_err("big.ini", "[a]\nn[0:59999]\n[b]\nm[0:59999]\n", KP_ERR_LIMIT,
		 "big.ini:4:1: host range 'm[0:59999]': the inventory would have more than "
		 "100000 hosts");
	load_err("big.yml", "all:\n  hosts:\n    'n[0:59999]':\n    'm[0:59999]':\n", KP_ERR_LIMIT,
		 "big.yml:4:5: host range 'm[0:59999]': the inventory would have more than "
		 "100000 hosts");
	cleanup();
}

static void test_kubespray_names(void **state)
{
	struct kp_inventory inv;
	scratch();
	kp_inventory_init(&inv);
	load_ok(&inv, put("k.ini", "[kube_master]\nm1\n[kube-node]\nn1\n[k8s-cluster:children]\n"
				   "kube_master\nkube-node\n"));
	assert_json(inv.groups_var,
		    "{\"all\":[\"m1\",\"n1\"],\"ungrouped\":[],\"kube_master\":[\"m1\"],"
		    "\"kube-node\":[\"n1\"],\"k8s-cluster\":[\"m1\",\"n1\"],"
		    "\"kube_control_plane\":[\"m1\"],\"kube_node\":[\"n1\"],"
		    "\"k8s_cluster\":[\"m1\",\"n1\"]}");
	kp_inventory_release(&inv);

	/* no k8s_cluster at all: made from control plane and nodes */
	kp_inventory_init(&inv);
	load_ok(&inv, put("k2.yml", "kube_control_plane:\n  hosts: {m1: }\n"
				    "kube_node:\n  hosts: {n1: , n2: }\n"));
	assert_json(kp_map_get(inv.groups_var, "k8s_cluster"), "[\"m1\",\"n1\",\"n2\"]");
	assert_json(kp_inventory_host(&inv, "n1")->group_names, "[\"k8s_cluster\",\"kube_node\"]");
	kp_inventory_release(&inv);
	cleanup();
}

static void test_multiple_loads(void **state)
{
	struct kp_inventory inv;
	struct kp_buf err = KP_BUF_INIT;
	scratch();
	kp_inventory_init(&inv);
	assert_int_equal(kp_inventory_load(&inv, "inventory-examples/hosts.yml", &err), KP_OK);
	assert_int_equal(kp_inventory_load(&inv,
					   put("more.ini", "[kube_node]\n"
							   "k8s-worker-3 ansible_host=127.0.1.4\n"
							   "k8s-worker-1 ip=10.0.0.2\n"
							   "[k8s_cluster:vars]\n"
							   "kube_version=\"1.14.0\"\n"),
					   &err),
			 KP_OK);
	assert_int_equal(kp_inventory_finalize(&inv, &err), KP_OK);
	/* calling again is harmless */
	assert_int_equal(kp_inventory_finalize(&inv, &err), KP_OK);
	assert_int_equal(inv.nhosts, 4);
	assert_int_equal(inv.nsources, 2);
	assert_json(kp_inventory_host(&inv, "k8s-worker-1")->vars,
		    "{\"ansible_host\":\"127.0.1.2\",\"ip\":\"10.0.0.2\"}");
	const struct kp_value *w3 = kp_inventory_host(&inv, "k8s-worker-3")->merged;
	assert_string_equal(kp_map_get(w3, "kube_version")->u.str.s, "1.14.0");
	assert_string_equal(kp_map_get(w3, "ansible_user")->u.str.s, "root");
	assert_json(kp_map_get(inv.groups_var, "kube_node"),
		    "[\"k8s-worker-1\",\"k8s-worker-2\",\"k8s-worker-3\"]");
	/* finalized: no more loads */
	assert_int_equal(kp_inventory_load(&inv, "inventory-examples/hosts.ini", &err),
			 KP_ERR_INVALID);
	assert_string_equal(err.buf, "cannot load 'inventory-examples/hosts.ini': the inventory "
				     "is already finalized");
	kp_inventory_release(&inv);
	kp_buf_release(&err);
	cleanup();
}

/* Load text as the file name and expect the error message (with the
 * scratch directory's path in front of the file name). */
static void load_err(const char *name, const char *text, kp_rc want, const char *msg)
{
	struct kp_inventory inv;
	struct kp_buf err = KP_BUF_INIT, expect = KP_BUF_INIT;
	const char *path = put(name, text);
	kp_inventory_init(&inv);
	kp_rc rc = kp_inventory_load(&inv, path, &err);
	if (!rc)
		rc = kp_inventory_finalize(&inv, &err);
	/* messages from finalize have no file */
	if (strchr(msg, ':') < strchr(msg, ' '))
		kp_buf_addf(&expect, "%s/", tmpdir);
	kp_buf_addstr(&expect, msg);
	assert_string_equal(err.buf, expect.buf);
	assert_int_equal(rc, want);
	kp_inventory_release(&inv);
	kp_buf_release(&err);
	kp_buf_release(&expect);
}

static void test_yaml_errors(void **state)
{
	scratch();
	load_err("a.yml", "all:\n  children:\n    kube_node:\n      hosts:\n        - node1\n",
		 KP_ERR_INVALID,
		 "a.yml:5:9: 'hosts' of group 'kube_node' must be a mapping, not a list");
	load_err("b.yml", "kube_node:\n  host:\n    node1:\n", KP_ERR_INVALID,
		 "b.yml:2:3: unknown key 'host' in group 'kube_node' (did you mean 'hosts'?)");
	load_err("c.yml", "kube_node:\n  hosts: {}\n  members: {}\n", KP_ERR_INVALID,
		 "c.yml:3:3: unknown key 'members' in group 'kube_node' (a group has hosts, "
		 "children and vars)");
	load_err("d.yml", "- all\n- web\n", KP_ERR_INVALID,
		 "d.yml:1:1: an inventory must be a mapping of group names, not a list");
	load_err("e.yml", "all: web\n", KP_ERR_INVALID,
		 "e.yml:1:6: group 'all' must be a mapping, not a string");
	load_err("f.yml", "web:\n  hosts:\n    w1: 10.0.0.1\n", KP_ERR_INVALID,
		 "f.yml:3:9: variables of host 'w1' in group 'web' must be a mapping, not a "
		 "string");
	load_err("g.yml", "web:\n  vars: [a]\n", KP_ERR_INVALID,
		 "g.yml:2:9: 'vars' of group 'web' must be a mapping, not a list");
	load_err("h.yml", "web:\n  children:\n    db:\n      children:\n        web:\n",
		 KP_ERR_INVALID,
		 "h.yml:5:9: groups are their own ancestors: 'web' -> 'db' -> 'web'");
	load_err("i.yml", "web:\n  children:\n    web:\n", KP_ERR_INVALID,
		 "i.yml:3:5: group 'web' cannot be its own child");
	load_err("j.yml", "web:\n  children:\n    all:\n", KP_ERR_INVALID,
		 "j.yml:3:5: group 'all' cannot be a child of 'web'");
	load_err("k.yml", "web:\n  hosts:\n    'n[3:1]':\n", KP_ERR_INVALID,
		 "k.yml:3:5: invalid host range 'n[3:1]': the range begins after its end");
	load_err("l.yml", "web:\n  hosts:\n    a: 1\n  hosts: {}\n", KP_ERR_PARSE,
		 "l.yml:4:3: duplicate key 'hosts' (first at line 2)");
	/* a YAML syntax error stays a YAML error */
	load_err("m.yml", "all:\n  hosts:\n    a: [\n", KP_ERR_PARSE,
		 "m.yml:4:1: did not find expected node content while parsing a flow node");
	cleanup();
}

static void test_ini_errors(void **state)
{
	struct kp_inventory inv;
	scratch();
	load_err("a.ini", "[web]\nw1\n[web:chilren]\nx\n", KP_ERR_PARSE,
		 "a.ini:3:6: unknown section type 'chilren' in '[web:chilren]' (did you mean "
		 "'children'?)");
	load_err("a2.ini", "[web:hosts]\nw1\n[web:kids]\nx\n", KP_ERR_PARSE,
		 "a2.ini:3:6: unknown section type 'kids' in '[web:kids]' (expected children or "
		 "vars)");
	load_err("b.ini", "[web]\nw1 ansible_host=1.2.3.4 oops\n", KP_ERR_PARSE,
		 "b.ini:2:25: expected key=value host variable, got 'oops'");
	load_err("c.ini", "[web]\n  w1 motd=\"unclosed\n", KP_ERR_PARSE,
		 "c.ini:2:11: unterminated quote in host line");
	load_err("d.ini", "[web]\nw1\n[all:children]\nweb\nwebz\n", KP_ERR_INVALID,
		 "d.ini:5:1: group 'webz' in [all:children] is not defined (did you mean 'web'?)");
	load_err("e.ini", "[web]\nw1\n[db:vars]\nx=1\n", KP_ERR_INVALID,
		 "e.ini:3:2: section [db:vars] is for group 'db', which is not defined");
	load_err("f.ini", "[web servers]\nw1\n", KP_ERR_PARSE,
		 "f.ini:1:1: invalid section header '[web servers]' (expected [group], "
		 "[group:children] or [group:vars], without spaces)");
	load_err("g.ini", "[web:vars]\njust-a-word\n[web]\n", KP_ERR_PARSE,
		 "g.ini:2:1: expected key=value in [web:vars], got 'just-a-word'");
	load_err("h.ini", "[web:children]\ndb x\n", KP_ERR_PARSE,
		 "h.ini:2:1: expected a group name in [web:children], got 'db x'");
	load_err("i.ini", "[web]\nn[3:1]\n", KP_ERR_INVALID,
		 "i.ini:2:1: invalid host range 'n[3:1]': the range begins after its end");
	load_err("j.ini", "[web:children]\nweb\n", KP_ERR_INVALID,
		 "j.ini:2:1: group 'web' cannot be its own child");
	/* a cycle is reported at the edge that closes it, declared late or not */
	load_err("k.ini", "[a:children]\nb\n[b:children]\nc\n\n[c:children]\na\n", KP_ERR_INVALID,
		 "k.ini:7:1: groups are their own ancestors: 'a' -> 'b' -> 'c' -> 'a'");
	load_err("k2.ini", "[b:children]\na\n[a:children]\nb\n", KP_ERR_INVALID,
		 "k2.ini:4:1: groups are their own ancestors: 'b' -> 'a' -> 'b'");
	/* the name says INI: a broken header is not taken for YAML */
	load_err("l.ini", "[kube_node\nw1 ansible_host=10.0.0.1\n", KP_ERR_PARSE,
		 "l.ini:1:1: invalid section header '[kube_node' (expected [group], "
		 "[group:children] or [group:vars], without spaces)");
	cleanup();

	/* a NUL byte: where it is, as the YAML reader says */
	struct kp_buf err = KP_BUF_INIT;
	kp_inventory_init(&inv);
	const char nul[] = "[web]\nw1 a=b\0c\n";
	assert_int_equal(kp_inventory_load_ini(&inv, "x.ini", nul, sizeof(nul) - 1, &err),
			 KP_ERR_PARSE);
	assert_string_equal(err.buf, "x.ini:2:7: NUL byte in file: this is not an inventory");
	kp_inventory_release(&inv);
	kp_buf_release(&err);

	/* declared later in the file is fine, as in Ansible */
	scratch();
	kp_inventory_init(&inv);
	load_ok(&inv, put("ok.ini", "[web:vars]\nx=1\n[all:children]\nweb\n[web]\nw1\n"));
	assert_merged(&inv, "w1", "{\"x\":1}");
	assert_json(kp_map_get(inv.groups_var, "all"), "[\"w1\"]");
	kp_inventory_release(&inv);
	cleanup();
}

static void test_dir_errors(void **state)
{
	struct kp_inventory inv;
	struct kp_buf err = KP_BUF_INIT, expect = KP_BUF_INIT;
	scratch();
	put("empty/.keep", "");
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/empty", tmpdir);
	kp_inventory_init(&inv);
	assert_int_equal(kp_inventory_load(&inv, dir, &err), KP_ERR_NOTFOUND);
	kp_buf_addf(&expect,
		    "no inventory file in '%s/empty/' (looked for hosts.yaml, hosts.yml, "
		    "inventory.ini, hosts.ini)",
		    tmpdir);
	assert_string_equal(err.buf, expect.buf);
	kp_inventory_release(&inv);

	kp_inventory_init(&inv);
	assert_int_equal(kp_inventory_load(&inv, "tests/data/inventory/nosuch.yml", &err),
			 KP_ERR_IO);
	assert_string_equal(
	    err.buf, "cannot read 'tests/data/inventory/nosuch.yml': No such file or directory");
	kp_inventory_release(&inv);

	put("v/hosts.ini", "[web]\nw1\n");
	put("v/group_vars/web/main.yml", "- not\n- a mapping\n");
	load_err("v/hosts.ini", "[web]\nw1\n", KP_ERR_INVALID,
		 "v/group_vars/web/main.yml:1:1: a variables file must be a mapping, not a list");
	put("v/group_vars/web/main.yml", "x: 1\n");
	put("v/host_vars/w1.yml", "x: [\n");
	load_err("v/hosts.ini", "[web]\nw1\n", KP_ERR_PARSE,
		 "v/host_vars/w1.yml:2:1: did not find expected node content while parsing a flow "
		 "node");
	kp_buf_release(&err);
	kp_buf_release(&expect);
	cleanup();
}

/* A YAML file and an INI file of 5,000 hosts in 50 groups. */
static void test_large(void **state)
{
	struct kp_inventory inv;
	struct kp_buf y = KP_BUF_INIT, ini = KP_BUF_INIT;
	scratch();
	kp_buf_addstr(&y, "all:\n  vars: {a: 1}\n  children:\n");
	for (int g = 0; g < 50; g++) {
		kp_buf_addf(&y, "    g%02d:\n      vars: {v: %d}\n      hosts:\n", g, g);
		kp_buf_addf(&ini, "[g%02d]\n", g);
		for (int h = 0; h < 100; h++) {
			kp_buf_addf(&y, "        host%05d: {ansible_host: 10.0.%d.%d}\n",
				    g * 100 + h, g, h);
			kp_buf_addf(&ini, "host%05d ansible_host=10.0.%d.%d\n", g * 100 + h, g, h);
		}
		kp_buf_addf(&ini, "[g%02d:vars]\nv=%d\n", g, g);
	}
	kp_buf_addstr(&y, "    k8s_cluster:\n      children:\n");
	kp_buf_addstr(&ini, "[k8s_cluster:children]\n");
	for (int g = 0; g < 50; g += 5) {
		kp_buf_addf(&y, "        g%02d:\n", g);
		kp_buf_addf(&ini, "g%02d\n", g);
	}
	char files[2][128];
	put("big.yml", y.buf);
	put("big.ini", ini.buf);
	snprintf(files[0], sizeof(files[0]), "%s/big.yml", tmpdir);
	snprintf(files[1], sizeof(files[1]), "%s/big.ini", tmpdir);
	for (int f = 0; f < 2; f++) {
		kp_inventory_init(&inv);
		load_ok(&inv, files[f]);
		assert_int_equal(inv.nhosts, 5000);
		assert_int_equal(inv.ngroups, 53);
		assert_merged(&inv, "host04999",
			      f ? "{\"v\":49,\"ansible_host\":\"10.0.49.99\"}"
				: "{\"a\":1,\"v\":49,\"ansible_host\":\"10.0.49.99\"}");
		assert_json(kp_inventory_host(&inv, "host00500")->group_names,
			    "[\"g05\",\"k8s_cluster\"]");
		assert_int_equal(kp_list_len(kp_map_get(inv.groups_var, "all")), 5000);
		assert_int_equal(kp_list_len(kp_map_get(inv.groups_var, "k8s_cluster")), 1000);
		struct kp_hostset hs = {0};
		struct kp_buf err = KP_BUF_INIT;
		assert_int_equal(
		    kp_pattern_select(&inv, "k8s_cluster:!g05:&host0*", 0, &hs, NULL, &err), KP_OK);
		assert_int_equal(hs.n, 900);
		kp_hostset_release(&hs);
		kp_buf_release(&err);
		kp_inventory_release(&inv);
	}
	kp_buf_release(&y);
	kp_buf_release(&ini);
	cleanup();
}

static void test_format_detection(void **state)
{
	struct kp_inventory inv;
	scratch();
	/* no sections, just host lines: INI */
	kp_inventory_init(&inv);
	load_ok(&inv, put("plain", "# hosts\nnode1 ansible_host=10.0.0.1\nnode2\n"));
	assert_json(kp_map_get(inv.groups_var, "ungrouped"), "[\"node1\",\"node2\"]");
	kp_inventory_release(&inv);
	/* a comment, then a section: INI, whatever the name says */
	kp_inventory_init(&inv);
	load_ok(&inv, put("inv.yml", "; kubespray\n\n[all]\nn1\n"));
	assert_int_equal(inv.nhosts, 1);
	kp_inventory_release(&inv);
	/* a byte order mark in front */
	kp_inventory_init(&inv);
	load_ok(&inv, put("bom.ini", "\xEF\xBB\xBF[web]\nw1\n"));
	assert_json(kp_map_get(inv.groups_var, "web"), "[\"w1\"]");
	kp_inventory_release(&inv);
	kp_inventory_init(&inv);
	load_ok(&inv, put("bom.yml", "\xEF\xBB\xBFweb:\n  hosts: {w1: }\n"));
	assert_json(kp_map_get(inv.groups_var, "web"), "[\"w1\"]");
	kp_inventory_release(&inv);
	/* YAML with a document marker, and an empty file */
	kp_inventory_init(&inv);
	load_ok(&inv, put("doc", "---\nweb:\n  hosts: w1\n"));
	assert_json(kp_map_get(inv.groups_var, "web"), "[\"w1\"]");
	kp_inventory_release(&inv);
	kp_inventory_init(&inv);
	load_ok(&inv, put("empty.yml", "# nothing yet\n"));
	assert_int_equal(inv.nhosts, 0);
	assert_int_equal(inv.ngroups, 2);
	kp_inventory_release(&inv);
	cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example_yaml),     cmocka_unit_test(test_example_ini),
	    cmocka_unit_test(test_example_dir),	     cmocka_unit_test(test_graph_and_host),
	    cmocka_unit_test(test_groups_and_names), cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_ini_typing),	     cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_kubespray_names),  cmocka_unit_test(test_multiple_loads),
	    cmocka_unit_test(test_yaml_errors),	     cmocka_unit_test(test_ini_errors),
	    cmocka_unit_test(test_dir_errors),	     cmocka_unit_test(test_large),
	    cmocka_unit_test(test_format_detection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
