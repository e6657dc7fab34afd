/* test_vars.c - extra vars parsing and the precedence of a host's scope. */
#include "unit.h"

#include <unistd.h>

#include "expr.h"
#include "vars.h"

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
						  f.inv.hosts[f.hosts[i]], NULL, &err),
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
	       "\"true 1/1\"");

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
	assert_int_equal(
	    kp_hostvars_init(&f.hv[0], f.L, &f.pv, &f.bv, f.inv.hosts[f.hosts[0]], NULL, &err),
	    KP_OK);

	kp_buf_addf(&msg, "%s:3:10: undefined variable 'kube_version' (in the value of 'pkg')",
		    path);
	expect_render_error(&f, "{{ pkg }}", msg.buf);	      /* looked up in C */
	expect_render_error(&f, "{{ pkg .. '!' }}", msg.buf); /* through Lua */
	expect_render_error(&f, "{{ outer }}", msg.buf);      /* the innermost variable */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_extra_vars),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_play_var_positions),
	};
	return cmocka_run_group_tests_name("vars", tests, NULL, NULL);
}
