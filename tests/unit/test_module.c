/* test_module.c - the module registry and argument checking, at load time
 * (YAML nodes, positioned messages) and at run time (values, defaults). */
#include "unit.h"
#include "modules/module.h"

static void test_lookup(void **state)
{
	assert_int_equal(kp_nmodules, 39);
	for (size_t i = 0; i < kp_nmodules; i++) {
		const struct kp_module *m = kp_modules[i];
		assert_non_null(m->summary);
		assert_non_null(m->args);
		assert_ptr_equal(kp_module_find(m->name), m);
		if (i)
			assert_true(strcmp(kp_modules[i - 1]->name, m->name) < 0);
	}
	assert_null(kp_modules[kp_nmodules]);
	assert_string_equal(kp_module_find("set_fact")->name, "set-fact");
	assert_string_equal(kp_module_find("wait_for")->name, "wait-for");
	assert_string_equal(kp_module_find("apt_pin")->name, "apt-pin");
	assert_string_equal(kp_module_find("ansible.builtin.copy")->name, "copy");
	assert_string_equal(kp_module_find("ansible.legacy.shell")->name, "shell");
	assert_string_equal(kp_module_find("ansible.builtin.set_fact")->name, "set-fact");
	assert_null(kp_module_find("copyy"));
	assert_null(kp_module_find("ansible.builtin."));
	assert_null(kp_module_find("builtin.copy"));
	assert_string_equal(kp_module_suggest("apt_pinn"), "apt-pin");
	assert_string_equal(kp_module_suggest("kubeadm_upgrad"), "kubeadm-upgrade");
	assert_null(kp_module_suggest("frobnicate"));

	const struct kp_module *c = kp_module_find("command");
	assert_string_equal(c->free_form, "cmd");
	assert_string_equal(c->one_of[0], "cmd|argv");
	assert_true(kp_module_find("debug")->flags & KP_MOD_READONLY);
	assert_true(kp_module_find("set-fact")->flags & KP_MOD_ANY_ARGS);
	assert_false(kp_module_find("copy")->flags & KP_MOD_READONLY);
	assert_int_equal(kp_module_arg(kp_module_find("apt-pin"), "hold")->type, KP_T_BOOL);
	assert_null(kp_module_arg(c, "nope"));
	assert_string_equal(kp_argtype_name(KP_T_DURATION), "duration");
	assert_string_equal(kp_argtype_name(KP_T_STR_OR_LIST), "str or list");
}

/* Check `yaml` (the arguments of a task, as a mapping) for module `name`. */
static kp_rc check(const char *name, const char *yaml, struct kp_buf *err)
{
	struct kp_doc *d = NULL;
	kp_rc rc;
	assert_int_equal(kp_yaml_load_string("t.yml", yaml, strlen(yaml), &d, err), KP_OK);
	/* the document is `module: args`, as in a task */
	rc = kp_module_check_args(kp_module_find(name), kp_node_map_val(d->root, 0),
				  kp_node_map_key(d->root, 0), err);
	kp_doc_free(d);
	return rc;
}

static void expect_ok(const char *name, const char *yaml)
{
	struct kp_buf err = KP_BUF_INIT;
	if (check(name, yaml, &err))
		fail_msg("%s: %s", yaml, err.buf);
	kp_buf_release(&err);
}

static void expect_err(const char *name, const char *yaml, const char *msg)
{
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(check(name, yaml, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, msg);
	kp_buf_release(&err);
}

static void test_check_ok(void **state)
{
	expect_ok("copy", "copy: {src: a, dest: /tmp/a, mode: 0644, backup: true}");
	expect_ok("copy", "copy: {content: \"{{ x }}\", dest: \"{{ d }}\", backup: \"{{ b }}\"}");
	expect_ok("apt-pin", "apt-pin: {name: [kubeadm, kubelet], version: 1.13.3, "
			     "lock_timeout: 90, cache_valid_time: 2h}");
	expect_ok("drain", "drain: {timeout: \"{{ t }}\", state: \"{{ s }}\"}");
	expect_ok("drain", "drain:");
	expect_ok("etcd-snapshot", "etcd-snapshot: {keep: 7, endpoints: [https://a:2379]}");
	expect_ok("set-fact", "set-fact: {anything: 1, other: [x]}");
	expect_ok("debug", "debug: {msg: [a, b]}");
	expect_ok("command", "command: {argv: [ls, -l], chdir: /}");
	expect_ok("command", "command: {cmd: ls, argv: }"); /* null is not given */
	expect_ok("kubeadm-upgrade", "kubeadm-upgrade: {version: v1.13.3, action: node}");
	expect_ok("lua", "lua: {code: 'return 1', args: {a: 1}}");
}

static void test_check_errors(void **state)
{
	expect_err("copy", "copy: {src: a, dset: /tmp/a}",
		   "t.yml:1:16: unknown argument 'dset' for module 'copy' (did you mean 'dest'?)");
	expect_err("copy", "copy: {src: a, dest: /a, frobnicate: 1}",
		   "t.yml:1:26: unknown argument 'frobnicate' for module 'copy'");
	expect_err("apt-pin", "apt-pin: {name: kubeadm}",
		   "t.yml:1:1: module 'apt-pin' requires argument 'version'");
	expect_err("apt-pin", "apt-pin:", "t.yml:1:1: module 'apt-pin' requires argument 'name'");
	expect_err("apt-pin", "apt-pin: {name: kubeadm, version: ~}",
		   "t.yml:1:1: module 'apt-pin' requires argument 'version'");
	expect_err("command", "command: {chdir: /tmp}",
		   "t.yml:1:1: module 'command' needs one of 'cmd' or 'argv'");
	expect_err("command", "command: {cmd: ls, argv: [ls]}",
		   "t.yml:1:20: module 'command' takes 'cmd' or 'argv', not both");
	expect_err("debug", "debug: {msg: hi, var: x}",
		   "t.yml:1:18: module 'debug' takes 'msg' or 'var', not both");
	expect_err("wait-for", "wait-for: {port: 1, path: /x}",
		   "t.yml:1:21: module 'wait-for' takes only one of 'port', 'path' or 'cmd'");
	expect_err("copy", "copy: {src: a, dest: {a: 1}}",
		   "t.yml:1:22: argument 'dest' of module 'copy' must be a string, not a mapping");
	expect_err("copy", "copy: {src: a, dest: [a]}",
		   "t.yml:1:22: argument 'dest' of module 'copy' must be a string, not a list");
	expect_err(
	    "copy", "copy: {src: a, dest: /a, backup: 'yes'}",
	    "t.yml:1:34: argument 'backup' of module 'copy' must be a boolean, not a string");
	expect_err(
	    "copy", "copy: {src: a, dest: /a, backup: 1}",
	    "t.yml:1:34: argument 'backup' of module 'copy' must be a boolean, not a number");
	expect_err("etcd-snapshot", "etcd-snapshot: {keep: many}",
		   "t.yml:1:23: argument 'keep' of module 'etcd-snapshot' must be an integer, not "
		   "a string");
	expect_err("drain", "drain: {timeout: 5 minutes}",
		   "t.yml:1:18: argument 'timeout' of module 'drain' must be a duration like 30s, "
		   "5m or 1h (got '5 minutes')");
	expect_err("drain", "drain: {timeout: [1]}",
		   "t.yml:1:18: argument 'timeout' of module 'drain' must be a duration like 30s, "
		   "5m or 1h, not a list");
	expect_err("kubeadm-upgrade",
		   "kubeadm-upgrade: {version: v1, ignore_preflight_errors: all}",
		   "t.yml:1:57: argument 'ignore_preflight_errors' of module 'kubeadm-upgrade' "
		   "must be a list, not a string");
	expect_err("apt-pin", "apt-pin: {name: {a: 1}, version: 1}",
		   "t.yml:1:17: argument 'name' of module 'apt-pin' must be a string or a list of "
		   "strings, not a mapping");
	expect_err("apt-pin", "apt-pin: {name: [a, [b]], version: 1}",
		   "t.yml:1:21: argument 'name' of module 'apt-pin' must be a string or a list of "
		   "strings, not a list");
	expect_err("lua", "lua: {code: x, args: [1]}",
		   "t.yml:1:22: argument 'args' of module 'lua' must be a mapping, not a list");
	expect_err("file", "file: {path: /x, state: dir}",
		   "t.yml:1:25: argument 'state' of module 'file' must be one of: file, directory, "
		   "absent, link, hard, touch (got 'dir'; did you mean 'directory'?)");
	expect_err("drain", "drain: {state: drainedd}",
		   "t.yml:1:16: argument 'state' of module 'drain' must be one of: drained, "
		   "cordoned, uncordoned (got 'drainedd'; did you mean 'drained'?)");
	expect_err("drain", "drain: {api: rest}",
		   "t.yml:1:14: argument 'api' of module 'drain' must be one of: auto, direct, "
		   "kubectl (got 'rest')");
	expect_err("copy", "copy: [a, b]",
		   "t.yml:1:7: arguments of module 'copy' must be a mapping, not a list");
}

/* Run-time: args given as JSON, result compared as JSON. */
static void finish(const char *name, const char *json, const char *want, const char *want_err)
{
	struct kp_buf err = KP_BUF_INIT, out = KP_BUF_INIT;
	struct kp_value *args = NULL, *res = NULL;
	assert_int_equal(kp_value_from_json(json, strlen(json), &args, &err), KP_OK);
	kp_rc rc = kp_module_finish_args(kp_module_find(name), args, &res, &err);
	if (want_err) {
		assert_int_equal(rc, KP_ERR_INVALID);
		assert_string_equal(err.buf, want_err);
	} else {
		if (rc)
			fail_msg("%s", err.buf);
		kp_value_to_json(res, false, false, &out);
		assert_string_equal(out.buf, want);
		kp_value_unref(res);
	}
	kp_value_unref(args);
	kp_buf_release(&err);
	kp_buf_release(&out);
}

static void test_finish(void **state)
{
	finish("apt-pin", "{\"name\":\"kubeadm\",\"version\":\"1.13.3\"}",
	       "{\"name\":\"kubeadm\",\"version\":\"1.13.3\",\"hold\":true,\"update_cache\":true,"
	       "\"cache_valid_time\":3600000,\"allow_downgrade\":false,\"lock_timeout\":120000}",
	       NULL);
	/* conversions: "5" to 5, durations to ms, "yes" to true, scalars to text */
	finish("etcd-snapshot", "{\"keep\":\"7\",\"fetch\":\"no\",\"dest\":5}",
	       "{\"keep\":7,\"fetch\":false,\"dest\":\"5\",\"action\":\"save\",\"remote_dir\":"
	       "\"/var/backups/kplan\",\"endpoints\":\"https://127.0.0.1:2379\",\"cacert\":"
	       "\"/etc/kubernetes/pki/etcd/ca.crt\",\"cert\":"
	       "\"/etc/kubernetes/pki/etcd/healthcheck-client.crt\",\"key\":"
	       "\"/etc/kubernetes/pki/etcd/healthcheck-client.key\",\"method\":\"etcdctl\","
	       "\"step\":\"all\",\"timeout\":120,"
	       "\"manifest\":\"/etc/kubernetes/manifests/etcd.yaml\"}",
	       NULL);
	finish("drain", "{\"timeout\":\"1h30m\",\"grace_period\":30,\"node\":null}",
	       "{\"timeout\":5400000,\"grace_period\":30000,\"state\":\"drained\","
	       "\"ignore_daemonsets\":true,\"delete_emptydir_data\":false,\"force\":false,"
	       "\"skip_wait_for_delete_timeout\":0,\"disable_eviction\":false,"
	       "\"uncordon_on_failure\":false,\"uncordon_on_refusal\":false,\"api\":\"auto\"}",
	       NULL);
	finish(
	    "cert-copy", "{}",
	    "{\"action\":\"backup\",\"paths\":[\"/etc/kubernetes/pki\"],\"store\":\"backups/pki/\","
	    "\"warn_days\":30,\"force\":false,\"fail_under\":false}",
	    NULL);
	finish("apt-pin", "{\"name\":[\"a\",1],\"version\":1.5,\"hold\":\"{{ x }}\"}", NULL,
	       "argument 'hold' of module 'apt-pin' must be a boolean, not a string");
	finish("apt-pin", "{\"name\":[\"a\",1],\"version\":13}",
	       "{\"name\":[\"a\",\"1\"],\"version\":\"13\",\"hold\":true,\"update_cache\":true,"
	       "\"cache_valid_time\":3600000,\"allow_downgrade\":false,\"lock_timeout\":120000}",
	       NULL);
	finish("set-fact", "{\"a\":1}", "{\"a\":1}", NULL);
	finish("fail", "null", "{\"msg\":\"Failed as requested from task\"}", NULL);
	finish("copy", "{\"dset\":\"/a\"}", NULL,
	       "unknown argument 'dset' for module 'copy' (did you mean 'dest'?)");
	finish("copy", "{\"src\":\"a\"}", NULL, "module 'copy' requires argument 'dest'");
	finish("copy", "{\"dest\":\"/a\"}", NULL, "module 'copy' needs one of 'src' or 'content'");
	finish("debug", "{\"msg\":\"a\",\"var\":\"b\"}", NULL,
	       "module 'debug' takes 'msg' or 'var', not both");
	finish("etcd-snapshot", "{\"keep\":\"many\"}", NULL,
	       "argument 'keep' of module 'etcd-snapshot' must be an integer, not a string");
	finish("drain", "{\"timeout\":\"soon\"}", NULL,
	       "argument 'timeout' of module 'drain' must be a duration like 30s, 5m or 1h (got "
	       "'soon')");
	finish("drain", "{\"timeout\":[1]}", NULL,
	       "argument 'timeout' of module 'drain' must be a duration like 30s, 5m or 1h, not a "
	       "list");
	finish("file", "{\"path\":\"/x\",\"state\":\"dir\"}", NULL,
	       "argument 'state' of module 'file' must be one of: file, directory, absent, link, "
	       "hard, touch (got 'dir'; did you mean 'directory'?)");
	finish("copy", "{\"src\":\"a\",\"dest\":{\"x\":1}}", NULL,
	       "argument 'dest' of module 'copy' must be a string, not a mapping");
	finish("copy", "[1]", NULL, "arguments of module 'copy' must be a mapping, not a list");
}

static void test_every_default_parses(void **state)
{
	/* a default that does not fit its own type would fail every run */
	for (size_t i = 0; i < kp_nmodules; i++) {
		const struct kp_module *m = kp_modules[i];
		struct kp_buf err = KP_BUF_INIT;
		struct kp_value *args = kp_value_map(), *res = NULL;
		for (const struct kp_argspec *a = m->args; a->name; a++) {
			assert_non_null(a->help);
			if (a->required)
				kp_map_set_take(
				    args, a->name,
				    a->type == KP_T_LIST ? kp_value_list()
				    : a->type == KP_T_DICT
					? kp_value_map()
					: kp_value_str(a->choices ? a->choices[0] : "x"));
			if (a->def && a->choices) {
				bool found = false;
				for (const char *const *c = a->choices; *c; c++)
					found |= !strcmp(*c, a->def);
				assert_true(found);
			}
		}
		if (m->one_of) {
			/* give the first of each group */
			for (const char *const *g = m->one_of; *g; g++) {
				char first[64];
				size_t l = strcspn(*g, "|");
				memcpy(first, *g, l);
				first[l] = '\0';
				kp_map_set_take(args, first, kp_value_str("x"));
			}
		}
		if (kp_module_finish_args(m, args, &res, &err))
			fail_msg("%s: %s", m->name, err.buf);
		for (const struct kp_argspec *a = m->args; a->name; a++)
			if (a->def)
				assert_non_null(kp_map_get(res, a->name));
		kp_value_unref(res);
		kp_value_unref(args);
		kp_buf_release(&err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup),
	    cmocka_unit_test(test_check_ok),
	    cmocka_unit_test(test_check_errors),
	    cmocka_unit_test(test_finish),
	    cmocka_unit_test(test_every_default_parses),
	};
	return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
