/* test_vars.c - extra vars parsing and the precedence of a host's scope. */
#include "unit.h"

#include <unistd.h>

#include "expr/expr.h"
#include "model/vars.h"

static char *json(const struct kp_value *v)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_value_to_json(v, false, false, &b);
	return kp_buf_detach(&b, NULL);
}

static void expect_extra(const char *arg, const char *want)
{
	struct kp_value *m = kp_value_map();
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_extra_vars_add(m, arg, &err), KP_OK);
	char *got = json(m);
	assert_string_equal(got, want);
	free(got);
	kp_value_unref(m);
	kp_buf_release(&err);
}

static void expect_extra_error(const char *arg, const char *msg)
{
	struct kp_value *m = kp_value_map();
	struct kp_buf err = KP_BUF_INIT;
	assert_int_not_equal(kp_extra_vars_add(m, arg, &err), KP_OK);
	assert_string_equal(err.buf, msg);
	kp_value_unref(m);
	kp_buf_release(&err);
}

static void test_extra_vars(void **state)
{
	expect_extra("kube_version=1.13.3", "{\"kube_version\":\"1.13.3\"}");
	expect_extra("n=3 f=1.5 b=true s=hello", "{\"n\":3,\"f\":1.5,\"b\":true,\"s\":\"hello\"}");
	expect_extra("msg='two words' q=\"a b\"", "{\"msg\":\"two words\",\"q\":\"a b\"}");
	expect_extra("url=http://x:80/a", "{\"url\":\"http://x:80/a\"}");
	expect_extra("empty=", "{\"empty\":\"\"}");
	expect_extra("{\"a\": [1, 2], \"b\": {\"c\": null}}", "{\"a\":[1,2],\"b\":{\"c\":null}}");
	expect_extra("@tests/data/vars/files.yml",
		     "{\"level\":\"vars_files\",\"from_files\":\"f\"}");
	expect_extra_error("1abc=2",
			   "invalid extra var '1abc=2': invalid variable name '1abc' (use "
			   "letters, digits and underscores)");
	expect_extra_error("=2", "invalid extra var '=2': expected key=value, @file.yml or a "
				 "YAML/JSON mapping");
	/* a word among several: which one, and the whole argument on one line */
	expect_extra_error("a\nb=1", "invalid extra var 'a' in 'a\\nb=1': expected key=value, "
				     "@file.yml or a YAML/JSON mapping");
	expect_extra_error("x=1 my-var=2",
			   "invalid extra var 'my-var=2' in 'x=1 my-var=2': invalid "
			   "variable name 'my-var' (use letters, digits and "
			   "underscores)");
	expect_extra_error("a='op\nen", "unterminated quote in extra vars 'a='op\\nen'");
	expect_extra_error("novalue", "invalid extra var 'novalue': expected key=value, @file.yml "
				      "or a YAML/JSON mapping");
	expect_extra_error("a='open", "unterminated quote in extra vars 'a='open'");
	expect_extra_error("@tests/data/vars/missing.yml",
			   "cannot read 'tests/data/vars/missing.yml': No such file or directory");
	expect_extra_error("[1, 2]", "-e:1:1: extra vars must be a mapping, not a list");
}

struct fixture {
	struct kp_inventory inv;
	struct kp_plan *plan;
	struct kp_value *extra;
	struct kp_lua *L;
	struct kp_playvars pv;
	struct kp_batchvars bv;
	struct kp_hostvars hv[2];
	size_t hosts[2];
};

static char *render(struct fixture *f, int h, const char *src)
{
	struct kp_template *t;
	struct kp_value *v;
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_template_compile(src, strlen(src), (struct kp_pos){0}, &t, &err),
			 KP_OK);
	kp_rc rc = kp_template_render(f->L, t, &f->hv[h].scope, &v, &err);
	if (rc)
		fail_msg("%s: %s", src, err.buf);
	char *s = json(v);
	kp_value_unref(v);
	kp_template_free(t);
	kp_buf_release(&err);
	return s;
}

#define EXPECT(f, h, src, want)                                                                    \
	do {                                                                                       \
		char *got_ = render(f, h, src);                                                    \
		assert_string_equal(got_, want);                                                   \
		free(got_);                                                                        \
	} while (0)

static void test_precedence(void **state)
{
	struct fixture f = {0};
	struct kp_buf err = KP_BUF_INIT;
	kp_inventory_init(&f.inv);
	assert_int_equal(kp_inventory_load(&f.inv, "tests/data/vars/hosts.ini", &err), KP_OK);
	assert_int_equal(kp_inventory_finalize(&f.inv, &err), KP_OK);
	assert_int_equal(kp_plan_load("tests/data/vars/play.yml", &f.plan, &err), KP_OK);
	f.extra = kp_value_map();
	f.L = kp_lua_new();
	f.hosts[0] = kp_inventory_host(&f.inv, "h1")->index;
	f.hosts[1] = kp_inventory_host(&f.inv, "h2")->index;
	kp_playvars_init(&f.pv, f.plan, f.plan->plays[0], &f.inv, f.extra, f.hosts, 2, true, false,
			 NULL);
	kp_batchvars_init(&f.bv, &f.pv, f.hosts, 2, 1, 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(kp_hostvars_init(&f.hv[i], f.L, &f.pv, &f.bv,
						  f.inv.hosts[f.hosts[i]], NULL, NULL, &err),
				 KP_OK);

	/* vars_files beat play vars, which beat inventory variables */
	EXPECT(&f, 0, "{{ level }}", "\"vars_files\"");
	/* the templated vars file of h2 comes last */
	EXPECT(&f, 1, "{{ level }}", "\"h2-file\"");
	EXPECT(&f, 0, "{{ per_host }}", "\"one\"");
	EXPECT(&f, 1, "{{ per_host }}", "\"two\"");
	EXPECT(&f, 0, "{{ from_inventory }} {{ from_play }} {{ from_files }}", "\"i p f\"");
	/* registered results sit above vars_files ... */
	kp_map_set_take(f.hv[0].registered, "level", kp_value_str("registered"));
	EXPECT(&f, 0, "{{ level }}", "\"registered\"");
	/* ... and extra vars above everything but the magic variables */
	kp_map_set_take(f.extra, "level", kp_value_str("extra"));
	kp_map_set_take(f.extra, "group_names", kp_value_str("spoofed"));
	EXPECT(&f, 0, "{{ level }}", "\"extra\"");
	EXPECT(&f, 0, "{{ inventory_hostname }}", "\"h1\"");
	EXPECT(&f, 0, "{{ group_names }}", "[\"g\"]");
	EXPECT(&f, 1, "{{ batch_hosts }}", "[\"h1\",\"h2\"]");
	EXPECT(&f, 1, "{{ play_hosts }}", "[\"h1\",\"h2\"]");
	EXPECT(&f, 1, "{{ groups.g }}", "[\"h1\",\"h2\"]");
	EXPECT(&f, 1, "{{ hostvars.h1.level }}", "\"inventory\"");
	EXPECT(&f, 1, "{{ kplan.check_mode }} {{ kplan.batch_index }}/{{ kplan.batch_count }}",
	       "\"True 1/1\"");

	for (int i = 0; i < 2; i++)
		kp_hostvars_release(&f.hv[i]);
	kp_batchvars_release(&f.bv);
	kp_playvars_release(&f.pv);
	kp_lua_free(f.L);
	kp_value_unref(f.extra);
	kp_plan_free(f.plan);
	kp_inventory_release(&f.inv);
	kp_buf_release(&err);
}

static void expect_render_error(struct fixture *f, const char *src, const char *msg)
{
	struct kp_template *t;
	struct kp_value *v = NULL;
	struct kp_buf err = KP_BUF_INIT;
	struct kp_pos use = {"use.yml", 9, 9};
	assert_int_equal(kp_template_compile(src, strlen(src), use, &t, &err), KP_OK);
	assert_int_not_equal(kp_template_render(f->L, t, &f->hv[0].scope, &v, &err), KP_OK);
	assert_string_equal(err.buf, msg);
	kp_template_free(t);
	kp_buf_release(&err);
}

/* An error inside a play var's templated value points at the value. */
static void test_play_var_positions(void **state)
{
	struct fixture f = {0};
	struct kp_buf err = KP_BUF_INIT, msg = KP_BUF_INIT;
	char path[] = "/tmp/kp-vars-XXXXXX";
	int fd = mkstemp(path);
	const char plan[] = "- hosts: all\n"
			    "  vars:\n"
			    "    pkg: \"kubeadm={{ kube_version }}\"\n"
			    "    outer: \"{{ pkg }}-x\"\n"
			    "  tasks: []\n";
	assert_true(fd >= 0);
	assert_int_equal(write(fd, plan, sizeof(plan) - 1), (ssize_t)(sizeof(plan) - 1));
	close(fd);
	kp_inventory_init(&f.inv);
	assert_int_equal(kp_inventory_load(&f.inv, "tests/data/vars/hosts.ini", &err), KP_OK);
	assert_int_equal(kp_inventory_finalize(&f.inv, &err), KP_OK);
	assert_int_equal(kp_plan_load(path, &f.plan, &err), KP_OK);
	f.extra = kp_value_map();
	f.L = kp_lua_new();
	f.hosts[0] = kp_inventory_host(&f.inv, "h1")->index;
	kp_playvars_init(&f.pv, f.plan, f.plan->plays[0], &f.inv, f.extra, f.hosts, 1, false, false,
			 NULL);
	kp_batchvars_init(&f.bv, &f.pv, f.hosts, 1, 1, 1);
	assert_int_equal(kp_hostvars_init(&f.hv[0], f.L, &f.pv, &f.bv, f.inv.hosts[f.hosts[0]],
					  NULL, NULL, &err),
			 KP_OK);

	kp_buf_addf(&msg, "%s:3:10: undefined variable 'kube_version' (in the value of 'pkg')",
		    path);
	expect_render_error(&f, "{{ pkg }}", msg.buf);	     /* looked up in C */
	expect_render_error(&f, "{{ pkg ~ '!' }}", msg.buf); /* an expression */
	expect_render_error(&f, "{{ outer }}", msg.buf);     /* the innermost variable */
	/* nothing left over for an error that has nothing to do with it */
	expect_render_error(&f, "{{ missing }}", "use.yml:9:9: undefined variable 'missing'");
	/* an extra var of the same name hides the play var: its own error */
	kp_map_set_take(f.extra, "pkg", kp_value_str("{{ nope }}"));
	expect_render_error(&f, "{{ pkg }}",
			    "use.yml:9:9: undefined variable 'nope' (in the value of 'pkg')");

	kp_hostvars_release(&f.hv[0]);
	kp_batchvars_release(&f.bv);
	kp_playvars_release(&f.pv);
	kp_lua_free(f.L);
	kp_value_unref(f.extra);
	kp_plan_free(f.plan);
	kp_inventory_release(&f.inv);
	kp_buf_release(&err);
	kp_buf_release(&msg);
	unlink(path);
}

static struct kp_value *jv(const char *text)
{
	struct kp_value *v = NULL;
	assert_int_equal(kp_value_from_json(text, strlen(text), &v, NULL), KP_OK);
	return v;
}

/* Load plan text from a temporary file; its name goes into path. */
static struct kp_plan *load_plan_text(const char *text, char *path)
{
	struct kp_plan *plan = NULL;
	struct kp_buf err = KP_BUF_INIT;
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	kp_rc rc = kp_plan_load(path, &plan, &err);
	unlink(path);
	if (rc)
		fail_msg("%s", err.buf);
	kp_buf_release(&err);
	return plan;
}

static void expect_hosts_error(struct kp_plan *plan, const struct kp_inventory *inv,
			       const struct kp_value *extra, kp_rc want, const char *path,
			       const char *msg)
{
	struct kp_buf err = KP_BUF_INIT, full = KP_BUF_INIT;
	kp_buf_addf(&full, "%s:%s", path, msg);
	kp_rc rc = kp_plan_render_hosts(plan, inv, extra, &err);
	if (rc != want)
		fail_msg("rc %d: %s", rc, err.buf);
	assert_string_equal(err.buf, full.buf);
	kp_buf_release(&err);
	kp_buf_release(&full);
}

/* hosts: "{{ }}" rendered before any host is known */
static void test_render_hosts(void **state)
{
	struct kp_inventory inv;
	struct kp_buf err = KP_BUF_INIT, text = KP_BUF_INIT;
	struct kp_value *extra = kp_value_map();
	char path[] = "/tmp/kp-hosts-XXXXXX.yml";
	char *files = realpath("tests/data/vars/files.yml", NULL);
	assert_non_null(files);
	kp_buf_addf(&text,
		    "- hosts: g\n  tasks: []\n"
		    "- hosts: \"{{ node }}\"\n  tasks: []\n"
		    "- hosts: \"{{ target }}:!h1\"\n"
		    "  vars: {target: \"{{ node }}:{{ from_files }}\"}\n"
		    "  vars_files: [\"%s\"]\n  tasks: []\n"
		    "- hosts: [\"{{ groups.g[1] }}\", \"{{ hostvars.h1.level }}\"]\n"
		    "  tasks: []\n"
		    "- hosts: \"{{ nodes }}\"\n  tasks: []\n",
		    files);
	struct kp_plan *plan = load_plan_text(text.buf, path);
	kp_inventory_init(&inv);
	assert_int_equal(kp_inventory_load(&inv, "tests/data/vars/hosts.ini", &err), KP_OK);
	assert_int_equal(kp_inventory_finalize(&inv, &err), KP_OK);

	/* undefined: the first play that needs it, named by its number */
	expect_hosts_error(plan, &inv, extra, KP_ERR_UNDEFINED, path,
			   "3:10: undefined variable 'node' (in 'hosts' of play #2)");

	kp_map_set_take(extra, "node", kp_value_str("h2"));
	kp_map_set_take(extra, "nodes", jv("[\"h1\", \"h2\"]"));
	assert_int_equal(kp_plan_render_hosts(plan, &inv, extra, &err), KP_OK);
	assert_string_equal(plan->plays[0]->hosts, "g"); /* literal: untouched */
	assert_null(plan->plays[0]->hosts_t);
	assert_string_equal(plan->plays[1]->hosts, "h2");
	/* play vars and literal vars_files */
	assert_string_equal(plan->plays[2]->hosts, "h2:f:!h1");
	/* groups and hostvars with an inventory */
	assert_string_equal(plan->plays[3]->hosts, "h2:inventory");
	assert_string_equal(plan->plays[4]->hosts, "h1:h2"); /* a list: joined */
	/* the template stays; extra vars beat play vars */
	assert_string_equal(kp_template_source(plan->plays[1]->hosts_t), "{{ node }}");
	kp_map_set_take(extra, "target", kp_value_str("h1"));
	assert_int_equal(kp_plan_render_hosts(plan, &inv, extra, &err), KP_OK);
	assert_string_equal(plan->plays[2]->hosts, "h1:!h1");

	/* without an inventory there are no groups */
	expect_hosts_error(plan, NULL, extra, KP_ERR_UNDEFINED, path,
			   "9:10: undefined variable 'groups' (in 'hosts' of play #4)");
	/* what is not a pattern */
	kp_map_set_take(extra, "nodes", jv("[\"h1\", 2]"));
	expect_hosts_error(plan, &inv, extra, KP_ERR_INVALID, path,
			   "11:10: 'hosts' must render to a host pattern (a string or a list of "
			   "strings), not a list holding something other than strings");
	kp_map_set_take(extra, "nodes", kp_value_str(""));
	expect_hosts_error(plan, &inv, extra, KP_ERR_INVALID, path,
			   "11:10: 'hosts' renders to nothing: '{{ nodes }}'");
	kp_map_set_take(extra, "nodes", kp_value_str("h1:&"));
	expect_hosts_error(plan, &inv, extra, KP_ERR_PARSE, path,
			   "11:10: invalid host pattern 'h1:&': '&' must be followed by a pattern");

	free(files);
	kp_plan_free(plan);
	kp_inventory_release(&inv);
	kp_value_unref(extra);
	kp_buf_release(&err);
	kp_buf_release(&text);
}

/* hostvars[h] holds h's magic variables (inventory_hostname,
 * inventory_hostname_short, group_names) over its inventory variables, as
 * Ansible's hostvars does; the current host has inventory_hostname_short
 * too. */
static void test_hostvars_magic(void **state)
{
	struct fixture f = {0};
	struct kp_buf err = KP_BUF_INIT;
	char path[] = "/tmp/kp-magic-XXXXXX.yml";
	const char ini[] = "[etcd]\n"
			   "node-1.example.com ip=10.0.0.1 inventory_hostname=spoofed\n"
			   "[kube_node]\n"
			   "node-1.example.com\n"
			   "h2\n";
	kp_inventory_init(&f.inv);
	assert_int_equal(kp_inventory_load_ini(&f.inv, "inv.ini", ini, sizeof(ini) - 1, &err),
			 KP_OK);
	assert_int_equal(kp_inventory_finalize(&f.inv, &err), KP_OK);
	f.plan = load_plan_text("- hosts: all\n  tasks: []\n", path);
	f.extra = kp_value_map();
	f.L = kp_lua_new();
	f.hosts[0] = kp_inventory_host(&f.inv, "node-1.example.com")->index;
	f.hosts[1] = kp_inventory_host(&f.inv, "h2")->index;
	kp_playvars_init(&f.pv, f.plan, f.plan->plays[0], &f.inv, f.extra, f.hosts, 2, false, false,
			 NULL);
	kp_batchvars_init(&f.bv, &f.pv, f.hosts, 2, 1, 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(kp_hostvars_init(&f.hv[i], f.L, &f.pv, &f.bv,
						  f.inv.hosts[f.hosts[i]], NULL, NULL, &err),
				 KP_OK);

	EXPECT(&f, 1, "{{ hostvars['node-1.example.com'].inventory_hostname }}",
	       "\"node-1.example.com\"");
	EXPECT(&f, 1, "{{ hostvars['node-1.example.com'].inventory_hostname_short }}",
	       "\"node-1\"");
	EXPECT(&f, 1, "{{ hostvars['node-1.example.com'].group_names }}",
	       "[\"etcd\",\"k8s_cluster\",\"kube_node\"]");
	EXPECT(&f, 1, "{{ hostvars['node-1.example.com'].ip }}", "\"10.0.0.1\"");
	EXPECT(&f, 0, "{{ hostvars.h2.inventory_hostname }}", "\"h2\"");
	EXPECT(&f, 0, "{{ hostvars.h2.inventory_hostname_short }}", "\"h2\"");
	EXPECT(&f, 0, "{{ hostvars.h2.group_names }}", "[\"k8s_cluster\",\"kube_node\"]");
	/* a host's own view agrees */
	EXPECT(&f, 0, "{{ inventory_hostname_short }}", "\"node-1\"");
	EXPECT(&f, 0, "{{ hostvars[inventory_hostname].inventory_hostname }}",
	       "\"node-1.example.com\"");
	/* the inventory itself is unchanged: --host shows no magic variables */
	assert_null(kp_map_get(kp_inventory_host(&f.inv, "h2")->merged, "inventory_hostname"));

	for (int i = 0; i < 2; i++)
		kp_hostvars_release(&f.hv[i]);
	kp_batchvars_release(&f.bv);
	kp_playvars_release(&f.pv);
	kp_lua_free(f.L);
	kp_value_unref(f.extra);
	kp_plan_free(f.plan);
	kp_inventory_release(&f.inv);
	kp_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_extra_vars),	       cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_play_var_positions), cmocka_unit_test(test_render_hosts),
	    cmocka_unit_test(test_hostvars_magic),
	};
	return cmocka_run_group_tests_name("vars", tests, NULL, NULL);
}
