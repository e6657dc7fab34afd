/*
 * test_ansible_names.c - modules found by the names Ansible users write,
 * the messages for names kplan does not know, and kubernetes.core.k8s_drain's
 * arguments mapped onto drain's.
 */
#include "unit.h"
#include "modules/module.h"
#include "core/value.h"

static void test_find(void **state)
{
	static const char *const names[][2] = {
	    {"ansible.builtin.shell", "shell"},
	    {"ansible.builtin.command", "command"},
	    {"ansible.builtin.copy", "copy"},
	    {"set_fact", "set-fact"},
	    {"ansible.builtin.set_fact", "set-fact"},
	    {"wait_for", "wait-for"},
	    {"ansible.builtin.wait_for", "wait-for"},
	    {"systemd", "systemd"},
	    {"systemd_service", "systemd"},
	    {"service", "service"},
	    {"ansible.builtin.service", "service"},
	    {"ansible.builtin.stat", "stat"},
	    {"ansible.builtin.apt", "apt"},
	    {"ansible.builtin.dpkg_selections", "dpkg-selections"},
	    {"ansible.builtin.uri", "uri"},
	    {"ansible.builtin.get_url", "get-url"},
	    {"get_url", "get-url"},
	    {"ansible.builtin.unarchive", "unarchive"},
	    {"ansible.builtin.systemd_service", "systemd"},
	    {"ansible.legacy.systemd_service", "systemd"},
	    {"ansible.builtin.template", "template"},
	    {"ansible.builtin.file", "file"},
	    {"ansible.builtin.lineinfile", "lineinfile"},
	    {"ansible.builtin.fetch", "fetch"},
	    {"ansible.builtin.debug", "debug"},
	    {"ansible.builtin.fail", "fail"},
	    {"ansible.builtin.assert", "assert"},
	    {"ansible.builtin.pause", "pause"},
	    {"ansible.builtin.reboot", "reboot"},
	    {"kubernetes.core.k8s_drain", "k8s-drain"},
	    {"k8s_drain", "k8s-drain"},
	    {"apt-pin", "apt-pin"},
	    {"drain", "drain"},
	    {"include_vars", "include-vars"},
	    {"ansible.builtin.include_vars", "include-vars"},
	    {"ansible.builtin.meta", "meta"},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(names); i++) {
		const struct kp_module *m = kp_module_find(names[i][0]);
		if (!m)
			fail_msg("'%s' not found", names[i][0]);
		assert_string_equal(m->name, names[i][1]);
	}
	assert_null(kp_module_find("community.general.ufw"));
	assert_null(kp_module_find("kubernetes.core.k8s"));
	assert_null(kp_module_find("community.general.shell"));
	assert_null(kp_module_find("kubernetes.core.systemd_service"));
	/* every alias names a registered module */
	for (const struct kp_module_alias *a = kp_module_aliases; a->name; a++)
		assert_non_null(kp_module_find(a->module));
}

static void unknown(const char *name, const char *want)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_module_unknown_text(name, &b);
	assert_string_equal(b.buf, want);
	kp_buf_release(&b);
}

static void test_unknown(void **state)
{
	unknown("comand", "unknown module 'comand' (did you mean 'command'?)");
	unknown(
	    "ansible.builtin.comand",
	    "unknown module 'ansible.builtin.comand' (did you mean 'ansible.builtin.command'?)");
	unknown("ansible.legacy.lineinfil",
		"unknown module 'ansible.legacy.lineinfil' (did you mean "
		"'ansible.legacy.lineinfile'?)");
	unknown("systemd_servic",
		"unknown module 'systemd_servic' (did you mean 'systemd_service'?)");
	unknown("frobnicate_widgets", "unknown module 'frobnicate_widgets'");
	/* ansible-core's modules that kplan lacks load, and fail where they run */
	const char *const absent[] = {"dnf",
				      "ansible.builtin.yum",
				      "ansible.legacy.zypper_x",
				      "community.general.dnf",
				      "comand",
				      "copy"};
	for (size_t i = 0; i < KP_ARRAY_LEN(absent); i++) {
		const struct kp_module *m = kp_module_absent(absent[i]);
		if (i < 2 || i == 3) {
			/* a collection kplan has nothing of: the same, by its FQCN */
			assert_non_null(m);
			assert_true(m->flags & KP_MOD_ABSENT);
			assert_string_equal(m->name, i == 3 ? "community.general.dnf"
						     : i    ? "yum"
							    : "dnf");
		} else {
			assert_null(m);
		}
	}
	/* as many foreign modules as a plan names, each one entry for the run */
	for (int i = 0; i < 300; i++) {
		char name[64];
		snprintf(name, sizeof(name), "community.general.mod%d", i);
		const struct kp_module *m = kp_module_absent(name);
		assert_non_null(m);
		assert_string_equal(m->name, name);
		assert_ptr_equal(kp_module_absent(name), m);
	}
	/* a collection kplan has some of: a typo is likelier, a load error */
	assert_null(kp_module_absent("kubernetes.core.k8s_drian"));
	unknown("community.general.ufw", "module 'community.general.ufw' belongs to collection "
					 "'community.general', which kplan does not provide");
	unknown("kubernetes.core.k8s",
		"module 'kubernetes.core.k8s' belongs to collection 'kubernetes.core', which kplan "
		"does not provide (kplan has only 'kubernetes.core.k8s_drain')");
}

/* k8s_drain's arguments (JSON) checked, mapped, and drain's as JSON */
static void mapped(const char *in, const char *want)
{
	const struct kp_module *m = kp_module_find("kubernetes.core.k8s_drain");
	struct kp_value *raw = NULL, *args = NULL, *out = NULL;
	struct kp_buf err = KP_BUF_INIT, got = KP_BUF_INIT;
	assert_int_equal(kp_value_from_json(in, strlen(in), &raw, &err), KP_OK);
	if (kp_module_finish_args(m, raw, &args, &err))
		fail_msg("%s", err.buf);
	kp_rc rc = kp_k8s_drain_map_args(args, &out, &err);
	if (rc)
		kp_buf_addstr(&got, err.buf);
	else
		kp_value_to_json(out, false, false, &got);
	assert_string_equal(got.buf, want);
	kp_value_unref(raw);
	kp_value_unref(args);
	kp_value_unref(out);
	kp_buf_release(&err);
	kp_buf_release(&got);
}

static void test_k8s_drain_args(void **state)
{
	/* Ansible's defaults: DaemonSet pods are not skipped, no uncordon on failure
	 * but after a refusal (_revert_node_patch) */
	mapped("{\"name\":\"w1\"}",
	       "{\"node\":\"w1\",\"state\":\"drained\",\"ignore_daemonsets\":false,"
	       "\"uncordon_on_failure\":false,\"uncordon_on_refusal\":true,\"api\":\"auto\","
	       "\"delete_emptydir_data\":false,"
	       "\"force\":false,\"timeout\":300000,\"skip_wait_for_delete_timeout\":0,\"disable_"
	       "eviction\":false}");
	mapped("{\"name\":\"w2\",\"state\":\"cordon\"}",
	       "{\"node\":\"w2\",\"state\":\"cordoned\",\"ignore_daemonsets\":false,"
	       "\"uncordon_on_failure\":false,\"uncordon_on_refusal\":true,\"api\":\"auto\","
	       "\"delete_emptydir_data\":false,"
	       "\"force\":false,\"timeout\":300000,\"skip_wait_for_delete_timeout\":0,\"disable_"
	       "eviction\":false}");
	mapped("{\"name\":\"w1\",\"state\":\"uncordon\",\"kubeconfig\":\"/k\","
	       "\"pod_selectors\":[\"app=a\",\"tier!=db\"],"
	       "\"delete_options\":{\"force\":\"yes\",\"ignore_daemonsets\":true,"
	       "\"delete_emptydir_data\":true,\"terminate_grace_period\":30,\"wait_timeout\":120,"
	       "\"wait_sleep\":5,\"disable_eviction\":true}}",
	       "{\"node\":\"w1\",\"state\":\"uncordoned\",\"ignore_daemonsets\":true,"
	       "\"uncordon_on_failure\":false,\"uncordon_on_refusal\":true,\"force\":true,\"delete_"
	       "emptydir_data\":true,"
	       "\"grace_period\":30000,\"timeout\":120000,\"disable_eviction\":true,"
	       "\"pod_selector\":\"app=a,tier!=db\",\"kubeconfig\":\"/"
	       "k\",\"api\":\"auto\",\"skip_wait_for_delete_timeout\":0}");
	mapped("{\"name\":\"w1\",\"delete_options\":{\"ignore_daemonset\":true}}",
	       "unknown key 'ignore_daemonset' in 'delete_options' (did you mean "
	       "'ignore_daemonsets'?)");
	mapped("{\"name\":\"w1\",\"delete_options\":{\"force\":\"maybe\"}}",
	       "k8s_drain runs as 'drain': argument 'force' of module 'drain' must be a boolean, "
	       "not a string");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_k8s_drain_args),
	};
	return cmocka_run_group_tests_name("ansible_names", tests, NULL, NULL);
}
