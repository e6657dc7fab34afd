/* test_plan.c - the plan loader: a full valid plan checked field by field,
 * and one fixture per error, each with its exact message. */
#include "unit.h"

#include <unistd.h>

#include "model/plan.h"

#define PLANS KP_TEST_DATA "/plans"
#define BAD   PLANS "/bad/"

static struct kp_plan *load_ok(const char *path)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_plan *p = NULL;
	kp_rc rc = kp_plan_load(path, &p, &err);
	if (rc)
		fail_msg("%s", err.buf);
	kp_buf_release(&err);
	return p;
}

static const char *lit_str(const struct kp_tvalue *tv)
{
	assert_non_null(tv);
	assert_int_equal(tv->kind, KP_TV_LIT);
	assert_int_equal(tv->lit->type, KP_V_STR);
	return tv->lit->u.str.s;
}

static const char *tmpl_src(const struct kp_tvalue *tv)
{
	assert_non_null(tv);
	assert_int_equal(tv->kind, KP_TV_TMPL);
	return kp_template_source(tv->tmpl);
}

static void test_valid_play1(void **state)
{
	struct kp_plan *plan = load_ok(PLANS "/valid/site.yml");
	assert_string_equal(plan->path, PLANS "/valid/site.yml");
	assert_string_equal(plan->dir, PLANS "/valid");
	assert_int_equal(plan->nplays, 2);

	const struct kp_play *p = plan->plays[0];
	assert_string_equal(p->name, "Upgrade control plane");
	assert_string_equal(p->pos.file, PLANS "/valid/site.yml");
	assert_int_equal(p->pos.line, 3);
	assert_int_equal(p->pos.col, 3);
	assert_string_equal(p->hosts, "kube_control_plane:etcd");
	assert_int_equal(p->hosts_pos.line, 4);
	assert_int_equal(p->nserial, 3);
	assert_false(p->serial[0].percent);
	assert_int_equal(p->serial[0].n, 1);
	assert_int_equal(p->serial[1].n, 2);
	assert_true(p->serial[2].percent);
	assert_int_equal(p->serial[2].n, 25);
	assert_int_equal(p->window, 0);
	assert_int_equal(p->max_fail_percentage, 0);
	assert_true(p->any_errors_fatal);
	assert_int_equal(p->order, KP_ORDER_SORTED);
	assert_int_equal(p->strategy, KP_STRATEGY_LINEAR);
	assert_int_equal(p->become, KP_YES);
	assert_string_equal(p->become_user, "root");
	assert_string_equal(p->become_method, "sudo");
	assert_string_equal(p->remote_user, "ubuntu");
	assert_string_equal(p->connection, "ssh");
	assert_string_equal(lit_str(kp_tvalue_get(p->environment, "LANG")), "C");

	/* vars: values and compiled form */
	assert_int_equal(p->vars->type, KP_V_MAP);
	assert_string_equal(kp_map_get(p->vars, "kube_version")->u.str.s, "1.13.3");
	assert_int_equal(kp_list_len(kp_map_get(p->vars, "packages")), 2);
	assert_int_equal(p->vars_t->kind, KP_TV_MAP);
	assert_int_equal(p->vars_t->n, 2);

	/* vars_files: the literal one is loaded, the templated one waits */
	assert_int_equal(p->nvars_files, 2);
	assert_string_equal(p->vars_files[0], "vars/versions.yml");
	assert_string_equal(p->vars_files[1], "vars/{{ env }}.yml");
	assert_int_equal(p->vars_files_pos[1].line, 19);
	assert_non_null(p->vars_files_loaded[0]);
	assert_null(p->vars_files_loaded[1]);
	assert_string_equal(kp_map_get(p->vars_files_loaded[0], "etcd_version")->u.str.s, "3.2.24");

	/* hooks: a file, and a list of inline code and a file */
	assert_int_equal(p->nhooks[KP_HOOK_BEFORE_BATCH], 1);
	assert_string_equal(p->hooks[KP_HOOK_BEFORE_BATCH][0].path, PLANS "/valid/hooks/check.lua");
	assert_non_null(strstr(p->hooks[KP_HOOK_BEFORE_BATCH][0].code, "local ok = true"));
	assert_int_equal(p->nhooks[KP_HOOK_ON_FAILURE], 2);
	assert_null(p->hooks[KP_HOOK_ON_FAILURE][0].path);
	assert_string_equal(p->hooks[KP_HOOK_ON_FAILURE][0].code, "kplan.log('failed')");
	assert_int_equal(p->hooks[KP_HOOK_ON_FAILURE][0].pos.line, 23);
	assert_string_equal(p->hooks[KP_HOOK_ON_FAILURE][1].path, PLANS "/valid/hooks/check.lua");
	assert_int_equal(p->nhooks[KP_HOOK_BEFORE_PLAY], 0);
	assert_string_equal(kp_hook_names[KP_HOOK_ON_FAILURE], "on_failure");

	assert_int_equal(p->ntags, 1);
	assert_string_equal(p->tags[0], "upgrade");
	assert_true(p->confirm);
	assert_int_equal(p->pause_between_batches_ms, 30000);
	assert_string_equal(p->run_lock, "cluster");
	assert_string_equal(p->plan_file, PLANS "/valid/site.yml");
	kp_plan_free(plan);
}

static void test_valid_tasks(void **state)
{
	struct kp_plan *plan = load_ok(PLANS "/valid/site.yml");
	const struct kp_play *p = plan->plays[0];
	const struct kp_task *t;

	/* pre_tasks */
	assert_int_equal(p->npre_tasks, 1);
	t = p->pre_tasks[0];
	assert_string_equal(t->module->name, "etcd-snapshot");
	assert_true(t->run_once);
	assert_string_equal(lit_str(kp_tvalue_get(t->args, "action")), "save");
	assert_int_equal(kp_tvalue_get(t->args, "keep")->lit->u.i, 3);

	assert_int_equal(p->ntasks, 7);
	/* 0: apt-pin with register, when, until, retries, delay, notify */
	t = p->tasks[0];
	assert_string_equal(t->name, "Pin kubeadm {{ kube_version }}");
	assert_non_null(t->name_tmpl);
	assert_string_equal(kp_task_display_name(t), "Pin kubeadm {{ kube_version }}");
	assert_string_equal(t->module->name, "apt-pin");
	assert_int_equal(t->module_pos.line, 35);
	assert_int_equal(t->module_pos.col, 7);
	assert_int_equal(t->pos.line, 34);
	assert_string_equal(lit_str(kp_tvalue_get(t->args, "name")), "kubeadm");
	assert_string_equal(tmpl_src(kp_tvalue_get(t->args, "version")), "{{ kube_version }}");
	assert_string_equal(t->register_var, "pin");
	assert_int_equal(t->nwhen, 1);
	assert_string_equal(kp_expr_source(t->when[0]), "'kube_control_plane' in group_names");
	assert_string_equal(kp_expr_source(t->until), "pin.rc == 0");
	assert_int_equal(t->retries, 2);
	assert_int_equal(t->delay_ms, 10000);
	assert_int_equal(t->nnotify, 1);
	assert_string_equal(t->notify[0], "restart kubelet");
	assert_int_equal(t->notify_pos[0].line, 43);
	assert_string_equal(t->loop_var, "item");
	assert_int_equal(t->become, KP_UNSET);
	assert_int_equal(t->check_mode, KP_UNSET);

	/* 1: block / rescue / always */
	t = p->tasks[1];
	assert_null(t->module);
	assert_string_equal(t->name, "Upgrade");
	assert_int_equal(t->nblock, 2);
	assert_int_equal(t->nrescue, 1);
	assert_int_equal(t->nalways, 1);
	assert_int_equal(t->nwhen, 2);
	assert_string_equal(kp_expr_source(t->when[0]), "true");
	assert_string_equal(kp_expr_source(t->when[1]), "x is defined");
	assert_string_equal(t->tags[0], "kubeadm");
	/* ansible.builtin. prefix and the free form */
	assert_string_equal(t->block[0]->module->name, "command");
	assert_string_equal(kp_task_display_name(t->block[0]), "command");
	assert_string_equal(lit_str(kp_tvalue_get(t->block[0]->args, "cmd")),
			    "kubeadm upgrade plan");
	assert_int_equal(t->block[0]->nchanged_when, 1);
	assert_string_equal(kp_expr_source(t->block[0]->changed_when[0]), "false");
	assert_string_equal(t->block[1]->module->name, "kubeadm-upgrade");
	/* key=value form, quotes removed */
	assert_string_equal(t->rescue[0]->module->name, "debug");
	assert_string_equal(tmpl_src(kp_tvalue_get(t->rescue[0]->args, "msg")),
			    "upgrade failed on {{ inventory_hostname }}");
	assert_string_equal(lit_str(kp_tvalue_get(t->always[0]->args, "cmd")), "echo done");

	/* 2: args merged, loop + loop_control, notify by listen */
	t = p->tasks[2];
	assert_string_equal(lit_str(kp_tvalue_get(t->args, "version")), "1.13.3");
	assert_string_equal(tmpl_src(kp_tvalue_get(t->args, "name")), "{{ pkg }}");
	assert_int_equal(kp_tvalue_get(t->args, "hold")->lit->type, KP_V_BOOL);
	assert_string_equal(tmpl_src(t->loop), "{{ packages }}");
	assert_string_equal(t->loop_var, "pkg");
	assert_string_equal(t->index_var, "idx");
	assert_string_equal(kp_template_source(t->loop_label), "{{ pkg }}");
	assert_string_equal(t->notify[0], "kubelet");

	/* 3: import_tasks spliced as a block, nested import relative to tasks/ */
	t = p->tasks[3];
	assert_null(t->module);
	assert_string_equal(t->import_path, PLANS "/valid/tasks/common.yml");
	assert_string_equal(kp_expr_source(t->when[0]), "do_common");
	assert_string_equal(t->tags[0], "common");
	assert_int_equal(t->nblock, 2);
	assert_int_equal(t->nrescue + t->nalways, 0);
	assert_string_equal(t->block[0]->name, "show the version");
	assert_string_equal(t->block[0]->pos.file, PLANS "/valid/tasks/common.yml");
	assert_int_equal(t->block[1]->nblock, 1);
	assert_string_equal(t->block[1]->block[0]->module->name, "wait-for");
	assert_int_equal(kp_tvalue_get(t->block[1]->block[0]->args, "port")->lit->u.i, 6443);

	/* 4: key=value for a module without a free form */
	t = p->tasks[4];
	assert_string_equal(t->module->name, "file");
	assert_string_equal(lit_str(kp_tvalue_get(t->args, "path")), "/etc/kplan");
	assert_string_equal(lit_str(kp_tvalue_get(t->args, "state")), "directory");
	assert_string_equal(lit_str(kp_tvalue_get(t->args, "mode")), "0755");

	/* 5: lua step with a script */
	t = p->tasks[5];
	assert_string_equal(t->module->name, "lua");
	assert_string_equal(lit_str(kp_tvalue_get(t->args, "script")), "steps/check.lua");

	/* 6: set_fact alias and the boolean/duration/int keys */
	t = p->tasks[6];
	assert_string_equal(t->module->name, "set-fact");
	assert_true(t->no_log);
	assert_int_equal(t->check_mode, KP_NO);
	assert_int_equal(t->throttle, 2);
	assert_int_equal(t->timeout_ms, 300000);
	assert_true(t->ignore_errors);
	assert_string_equal(kp_template_source(t->delegate_to), "{{ groups['etcd'][0] }}");
	assert_int_equal(t->retries, 0);
	assert_int_equal(t->delay_ms, 5000);

	/* handlers */
	assert_int_equal(p->nhandlers, 1);
	t = p->handlers[0];
	assert_string_equal(t->module->name, "systemd");
	assert_int_equal(t->nlisten, 1);
	assert_string_equal(t->listen[0], "kubelet");
	kp_plan_free(plan);
}

static bool has_file(const struct kp_plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->nfiles; i++)
		if (!strcmp(plan->files[i], path))
			return true;
	return false;
}

static void test_valid_import_plan(void **state)
{
	struct kp_plan *plan = load_ok(PLANS "/valid/site.yml");
	const struct kp_play *p = plan->plays[1];
	assert_null(p->name);
	assert_string_equal(p->hosts, "kube_node");
	assert_string_equal(p->plan_file, PLANS "/valid/more.yml");
	assert_int_equal(p->window, 2);
	assert_int_equal(p->nserial, 0);
	assert_int_equal(p->max_fail_percentage, -1);
	assert_int_equal(p->strategy, KP_STRATEGY_FREE);
	assert_int_equal(p->become, KP_UNSET);
	assert_null(p->vars);
	assert_int_equal(p->ntasks, 2);
	assert_string_equal(p->tasks[0]->module->name, "drain");
	assert_int_equal(p->tasks[1]->args->n, 1);
	assert_int_equal(kp_tvalue_get(p->tasks[1]->args, "argv")->kind, KP_TV_LIST);

	/* every file is recorded once */
	assert_true(has_file(plan, PLANS "/valid/site.yml"));
	assert_true(has_file(plan, PLANS "/valid/more.yml"));
	assert_true(has_file(plan, PLANS "/valid/tasks/common.yml"));
	assert_true(has_file(plan, PLANS "/valid/tasks/inner.yml"));
	assert_true(has_file(plan, PLANS "/valid/vars/versions.yml"));
	assert_true(has_file(plan, PLANS "/valid/hooks/check.lua"));
	assert_true(has_file(plan, PLANS "/valid/steps/check.lua"));
	assert_int_equal(plan->nfiles, 7);
	assert_true(plan->ndocs >= 5);
	kp_plan_free(plan);
}

static const struct {
	const char *file, *msg;
} bad[] = {
    {"unknown_play_key.yml", BAD "unknown_play_key.yml:3:3: unknown key 'serail' in play (did you "
				 "mean 'serial'?)"},
    {"unknown_task_key.yml",
     BAD "unknown_task_key.yml:4:7: unknown key 'whn' in task (did you mean 'when'?)"},
    {"unknown_module.yml",
     BAD "unknown_module.yml:4:7: unknown module 'apt_pinn' (did you mean 'apt-pin'?)"},
    {"two_modules.yml", BAD "two_modules.yml:4:7: task names two modules, 'copy' and 'file'"},
    {"missing_arg.yml", BAD "missing_arg.yml:3:7: module 'apt-pin' requires argument 'version'"},
    {"wrong_arg_type.yml", BAD "wrong_arg_type.yml:5:15: argument 'dest' of module 'copy' must "
			       "be a string, not a mapping"},
    {"bad_choice.yml",
     BAD "bad_choice.yml:3:39: argument 'state' of module 'file' must be one of: file, "
	 "directory, absent, link, hard, touch (got 'dir'; did you mean 'directory'?)"},
    {"bad_bool_arg.yml", BAD "bad_bool_arg.yml:3:48: argument 'backup' of module 'copy' must "
			     "be a boolean, not a string"},
    {"bad_duration.yml", BAD "bad_duration.yml:3:24: argument 'timeout' of module 'drain' must "
			     "be a duration like 30s, 5m or 1h (got '5x')"},
    {"one_of.yml", BAD "one_of.yml:3:7: module 'command' needs one of 'cmd' or 'argv'"},
    {"exclusive.yml", BAD "exclusive.yml:3:24: module 'debug' takes 'msg' or 'var', not both"},
    {"bad_kv.yml", BAD "bad_kv.yml:3:13: arguments of module 'file' must be a mapping or "
		       "key=value pairs (cannot read 'directory')"},
    {"serial_zero.yml", BAD "serial_zero.yml:2:11: serial must be a positive integer or a "
			    "percentage like \"25%\" (got '0')"},
    {"serial_abc.yml", BAD "serial_abc.yml:2:11: serial must be a positive integer or a "
			   "percentage like \"25%\" (got 'abc')"},
    {"serial_150.yml", BAD "serial_150.yml:2:15: serial must be a positive integer or a "
			   "percentage like \"25%\" (got '150%')"},
    {"serial_empty.yml", BAD "serial_empty.yml:2:11: serial must be a positive integer or a "
			     "percentage like \"25%\" (got an empty list)"},
    {"serial_map.yml", BAD "serial_map.yml:2:11: serial must be a positive integer or a "
			   "percentage like \"25%\" (got a mapping)"},
    {"window_serial.yml",
     BAD "window_serial.yml:3:11: 'window' and 'serial' cannot be used together"},
    {"max_fail.yml", BAD "max_fail.yml:2:24: 'max_fail_percentage' must be an integer from 0 "
			 "to 100 (got '150')"},
    {"bad_order.yml",
     BAD "bad_order.yml:2:10: 'order' must be one of: inventory, "
	 "reverse_inventory, sorted, reverse_sorted, shuffle (got 'sortd'; did you mean "
	 "'sorted'?)"},
    {"rec_tasks.yml",
     BAD "tasks/b.yml:2:17: recursive import_tasks of 'a.yml' (" BAD "rec_tasks.yml -> " BAD
	 "tasks/a.yml -> " BAD "tasks/b.yml -> " BAD "tasks/a.yml)"},
    {"rec_plan_a.yml", BAD "rec_plan_b.yml:1:16: recursive import_plan of 'rec_plan_a.yml' (" BAD
			   "rec_plan_a.yml -> " BAD "rec_plan_b.yml -> " BAD "rec_plan_a.yml)"},
    {"missing_import.yml",
     BAD "missing_import.yml:3:21: cannot read 'missing.yml': No such file or directory"},
    {"missing_import_plan.yml",
     BAD "missing_import_plan.yml:1:16: cannot read 'missing.yml': No such file or directory"},
    {"missing_script.yml",
     BAD "missing_script.yml:3:21: cannot read 'steps/none.lua': No such file or directory"},
    {"bad_hook_lua.yml",
     BAD "bad_hook_lua.yml:3:19: " BAD "hooks/bad.lua:3: syntax error near 'end'"},
    {"bad_inline_hook.yml",
     BAD "bad_inline_hook.yml:3:23: inline Lua:1: unexpected symbol near <eof>"},
    {"unknown_hook.yml",
     BAD "unknown_hook.yml:3:5: unknown hook point 'before_bach' (did you mean 'before_batch'?)"},
    {"notify_missing.yml", BAD "notify_missing.yml:4:15: notify: no handler named 'restart "
			       "kubelt' in this play (did you mean 'restart kubelet'?)"},
    {"bad_register.yml", BAD "bad_register.yml:4:17: invalid variable name 'kernel-version' "
			     "(use letters, digits and underscores)"},
    {"bad_var_name.yml", BAD "bad_var_name.yml:3:5: invalid variable name 'kube-version' (use "
			     "letters, digits and underscores)"},
    {"rescue_no_block.yml", BAD "rescue_no_block.yml:4:7: task has 'rescue' but no 'block'"},
    {"loop_on_block.yml", BAD "loop_on_block.yml:5:7: 'loop' cannot be used on a block"},
    {"listen_outside.yml", BAD "listen_outside.yml:4:7: 'listen' is only allowed in handlers"},
    {"no_module.yml", BAD "no_module.yml:3:7: task 'do nothing' has no module"},
    {"bad_delay.yml",
     BAD "bad_delay.yml:5:14: 'delay' must be a duration like 30s, 5m or 1h (got 'soon')"},
    {"empty.yml", BAD "empty.yml:1:1: plan is empty: expected a list of plays"},
    {"mapping.yml", BAD "mapping.yml:1:1: a plan must be a list of plays, not a mapping"},
    {"play_not_map.yml", BAD "play_not_map.yml:2:3: a play must be a mapping, not a string"},
    {"no_hosts.yml", BAD "no_hosts.yml:1:3: play 'x' has no 'hosts'"},
    {"tasks_not_list.yml",
     BAD "tasks_not_list.yml:3:5: 'tasks' must be a list of tasks, not a mapping"},
    {"vars_not_map.yml", BAD "vars_not_map.yml:2:9: 'vars' must be a mapping, not a list"},
    {"vars_file_list.yml",
     BAD "tasks/a.yml:1:1: a vars file must be a mapping of variables, not a list"},
};

static void test_invalid(void **state)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kp_buf err = KP_BUF_INIT, path = KP_BUF_INIT;
		struct kp_plan *p = NULL;
		kp_buf_addf(&path, BAD "%s", bad[i].file);
		kp_rc rc = kp_plan_load(path.buf, &p, &err);
		if (!rc)
			fail_msg("%s loaded", bad[i].file);
		assert_null(p);
		assert_string_equal(err.buf, bad[i].msg);
		kp_buf_release(&err);
		kp_buf_release(&path);
	}
}

static void test_bad_when(void **state)
{
	/* the wording after the position belongs to the expression compiler */
	struct kp_buf err = KP_BUF_INIT;
	struct kp_plan *p = NULL;
	assert_int_equal(kp_plan_load(BAD "bad_when.yml", &p, &err), KP_ERR_PARSE);
	assert_null(p);
	assert_string_equal(err.buf, BAD "bad_when.yml:4:13: invalid expression 'x ==': unexpected "
					 "'end of statement block' (line 1, column 5)\n    x ==\n"
					 "        ^");
	kp_buf_release(&err);
}

/* Load a plan written to a temporary file; the error (after the file's
 * name) into msg, "" when it loads. */
static void load_text(const char *yaml, struct kp_buf *msg)
{
	char path[] = "/tmp/kp-plan-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	struct kp_buf err = KP_BUF_INIT;
	struct kp_plan *p = NULL;
	kp_buf_reset(msg);
	if (kp_plan_load(path, &p, &err)) {
		assert_null(p);
		assert_true(!strncmp(err.buf, path, strlen(path)));
		kp_buf_addstr(msg, err.buf + strlen(path));
	}
	kp_plan_free(p);
	kp_buf_release(&err);
	unlink(path);
}

#define assert_load(yaml, want)                                                                    \
	do {                                                                                       \
		load_text((yaml), &msg);                                                           \
		assert_string_equal(msg.buf, (want));                                              \
	} while (0)

static void test_hosts(void **state)
{
	struct kp_buf msg = KP_BUF_INIT;
	assert_load("- hosts: 42\n  tasks: []\n",
		    ":1:10: 'hosts' must be a string or a list of strings, not a number");
	assert_load("- hosts: true\n  tasks: []\n",
		    ":1:10: 'hosts' must be a string or a list of strings, not a boolean");
	assert_load("- hosts: [web, 1.5]\n  tasks: []\n",
		    ":1:16: 'hosts' must be a string or a list of strings, not a list holding a "
		    "number");
	assert_load("- hosts: \"42\"\n  tasks: []\n", ""); /* quoted: a name */
	/* the pattern's syntax is checked without an inventory */
	assert_load("- hosts: kube_node:!\n  tasks: []\n",
		    ":1:10: invalid host pattern 'kube_node:!': '!' must be followed by a pattern");
	assert_load("- hosts: [web, \"&\"]\n  tasks: []\n",
		    ":1:10: invalid host pattern 'web:&': '&' must be followed by a pattern");
	assert_load("- hosts: \"~(x\"\n  tasks: []\n",
		    ":1:10: invalid host pattern '~(x': unmatched '(' in the regular expression");
	/* a template is checked once rendered */
	assert_load("- hosts: \"{{ target }}:!\"\n  tasks: []\n", "");
	kp_buf_release(&msg);
}

static void test_one_line_messages(void **state)
{
	struct kp_buf msg = KP_BUF_INIT;
	/* a multi-line expression reads as one line; the line with the error
	 * follows, a caret under the column */
	assert_load(
	    "- hosts: all\n  tasks:\n    - debug: {msg: hi}\n      when: |\n"
	    "        x == 1 and\n        y === 2\n",
	    ":4:13: invalid expression 'x == 1 and y === 2': unexpected '=' (line 2, column "
	    "5)\n    y === 2\n        ^");
	assert_load(
	    "- hosts: all\n  tasks:\n    - debug: {msg: hi}\n      until: r.rc == 0 and\n",
	    ":4:14: invalid expression 'r.rc == 0 and': unexpected 'end of statement block' "
	    "(line 1, column 14)\n    r.rc == 0 and\n                 ^");
	/* a bare tuple is not a condition */
	assert_load(
	    "- hosts: all\n  tasks:\n    - debug: {msg: hi}\n      when: 1, 2\n",
	    ":4:13: invalid expression '1, 2': expected token 'end of statement block', got "
	    "',' (line 1, column 2)\n    1, 2\n     ^");
	/* user text with a line break is escaped */
	assert_load("- hosts: all\n  \"ser\\nial\": 1\n",
		    ":2:3: unknown key 'ser\\nial' in play (did you mean 'serial'?)");
	assert_load("- hosts: all\n  tasks:\n    - \"com\\nmand\": /bin/true\n",
		    ":3:7: unknown module 'com\\nmand' (did you mean 'command'?)");
	kp_buf_release(&msg);
}

static void test_rescue_without_block(void **state)
{
	struct kp_buf msg = KP_BUF_INIT;
	/* the missing block is the slip, not the module */
	assert_load("- hosts: all\n  tasks:\n    - command: /bin/true\n      rescue: []\n",
		    ":4:7: task has 'rescue' but no 'block'");
	assert_load("- hosts: all\n  tasks:\n    - command: /bin/true\n      always: []\n",
		    ":4:7: task has 'always' but no 'block'");
	assert_load("- hosts: all\n  tasks:\n    - command: /bin/true\n      block: []\n",
		    ":3:7: a block cannot also run module 'command'");
	kp_buf_release(&msg);
}

static void test_missing_plan(void **state)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_plan *p = NULL;
	assert_int_equal(kp_plan_load(BAD "nope.yml", &p, &err), KP_ERR_IO);
	assert_string_equal(err.buf, "cannot read '" BAD "nope.yml': No such file or directory");
	kp_buf_release(&err);
}

static void test_parse_serial(void **state)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_doc *d = NULL;
	struct kp_serial_step *s = NULL;
	size_t n = 0;
	const char *y = "[3, \"10%\", '100%']";
	assert_int_equal(kp_yaml_load_string("s.yml", y, strlen(y), &d, &err), KP_OK);
	assert_int_equal(kp_parse_serial(d->root, &s, &n, &err), KP_OK);
	assert_int_equal(n, 3);
	assert_int_equal(s[0].n, 3);
	assert_false(s[0].percent);
	assert_int_equal(s[1].n, 10);
	assert_true(s[1].percent);
	assert_int_equal(s[2].n, 100);
	free(s);
	kp_doc_free(d);
	y = "[1, -2]";
	assert_int_equal(kp_yaml_load_string("s.yml", y, strlen(y), &d, &err), KP_OK);
	assert_int_equal(kp_parse_serial(d->root, &s, &n, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "s.yml:1:5: serial must be a positive integer or a percentage "
				     "like \"25%\" (got '-2')");
	kp_doc_free(d);
	kp_buf_release(&err);
}

static void test_var_names(void **state)
{
	assert_true(kp_valid_var_name("kube_version"));
	assert_true(kp_valid_var_name("_x1"));
	assert_false(kp_valid_var_name("kube-version"));
	assert_false(kp_valid_var_name("1x"));
	assert_false(kp_valid_var_name(""));
	assert_false(kp_valid_var_name("end"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_play1),
	    cmocka_unit_test(test_valid_tasks),
	    cmocka_unit_test(test_valid_import_plan),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_bad_when),
	    cmocka_unit_test(test_missing_plan),
	    cmocka_unit_test(test_parse_serial),
	    cmocka_unit_test(test_var_names),
	    cmocka_unit_test(test_hosts),
	    cmocka_unit_test(test_one_line_messages),
	    cmocka_unit_test(test_rescue_without_block),
	};
	return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
