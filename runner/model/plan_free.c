/* plan_free.c - freeing a loaded plan, its plays and tasks (plan.h). */
#include "model/plan_load.h"

#include <stdlib.h>

static void free_exprs(struct kp_expr **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kp_expr_free(v[i]);
	free(v);
}

static void free_tasks(struct kp_task **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kp_task_free(v[i]);
	free(v);
}

void kp_task_free(struct kp_task *t)
{
	if (!t)
		return;
	free(t->name);
	kp_template_free(t->name_tmpl);
	kp_template_free(t->retries_t);
	kp_template_free(t->delay_t);
	kp_template_free(t->timeout_t);
	kp_template_free(t->ignore_errors_t);
	kp_template_free(t->throttle_t);
	kp_template_free(t->no_log_t);
	kp_template_free(t->run_once_t);
	kp_template_free(t->become_t);
	kp_tvalue_free(t->args);
	free_tasks(t->block, t->nblock);
	free_tasks(t->rescue, t->nrescue);
	free_tasks(t->always, t->nalways);
	free_exprs(t->when, t->nwhen);
	free(t->register_var);
	kp_tvalue_free(t->loop);
	free(t->loop_var);
	kp_template_free(t->loop_label);
	free(t->loop_with);
	kp_tvalue_free(t->module_defaults);
	kp_template_free(t->async_t);
	kp_template_free(t->poll_t);
	kp_expr_free(t->until);
	free_exprs(t->failed_when, t->nfailed_when);
	free_exprs(t->changed_when, t->nchanged_when);
	free(t->become_user);
	kp_template_free(t->delegate_to);
	kp_strv_free(t->notify, t->nnotify);
	free(t->notify_pos);
	kp_strv_free(t->listen, t->nlisten);
	kp_strv_free(t->tags, t->ntags);
	kp_tvalue_free(t->environment);
	free(t->index_var);
	free(t->import_path);
	kp_template_free(t->include_file);
	free(t->include_dir);
	kp_value_unref(t->include_vars);
	kp_task_free(t->apply);
	free(t);
}

void kp_play_free(struct kp_play *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->hosts);
	kp_template_free(p->hosts_t);
	free(p->serial);
	kp_tvalue_free(p->serial_tv);
	kp_tvalue_free(p->any_errors_fatal_tv);
	free(p->become_user);
	free(p->become_method);
	free(p->remote_user);
	free(p->connection);
	kp_tvalue_free(p->environment);
	kp_value_unref(p->vars_prompt);
	if (p->vars)
		kp_value_unref(p->vars);
	kp_tvalue_free(p->vars_t);
	for (size_t i = 0; i < p->nvars_files; i++)
		if (p->vars_files_loaded && p->vars_files_loaded[i])
			kp_value_unref(p->vars_files_loaded[i]);
	kp_strv_free(p->vars_files, p->nvars_files);
	free(p->vars_files_pos);
	free(p->vars_files_loaded);
	free_tasks(p->pre_tasks, p->npre_tasks);
	free_tasks(p->tasks, p->ntasks);
	free_tasks(p->post_tasks, p->npost_tasks);
	free_tasks(p->handlers, p->nhandlers);
	for (int h = 0; h < KP_HOOK_COUNT; h++) {
		for (size_t i = 0; i < p->nhooks[h]; i++) {
			free(p->hooks[h][i].path);
			free(p->hooks[h][i].code);
		}
		free(p->hooks[h]);
	}
	kp_strv_free(p->tags, p->ntags);
	kp_strv_free(p->gather_subset, p->ngather_subset);
	kp_value_unref(p->role_defaults);
	kp_value_unref(p->role_vars);
	kp_value_unref(p->role_names);
	free(p->run_lock);
	free(p->plan_file);
	free(p);
}

void kp_plan_free(struct kp_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->nplays; i++)
		kp_play_free(plan->plays[i]);
	free(plan->plays);
	for (size_t i = 0; i < plan->ndocs; i++)
		kp_doc_free(plan->docs[i]);
	free(plan->docs);
	kp_strv_free(plan->files, plan->nfiles);
	kp_strlist_release(&plan->warnings);
	for (size_t i = 0; i < plan->nroles; i++) {
		free(plan->roles[i]->name);
		free(plan->roles[i]->path);
		kp_value_unref(plan->roles[i]->defaults);
		kp_value_unref(plan->roles[i]->vars);
		free(plan->roles[i]);
	}
	free(plan->roles);
	for (size_t i = 0; i < plan->nroleuses; i++) {
		kp_value_unref(plan->roleuses[i]->defaults);
		kp_value_unref(plan->roleuses[i]->vars);
		kp_value_unref(plan->roleuses[i]->params);
		free(plan->roleuses[i]);
	}
	free(plan->roleuses);
	for (size_t i = 0; i < plan->ndyn; i++)
		kp_task_free(plan->dyn[i]);
	free(plan->dyn);
	free(plan->roles_path);
	free(plan->path);
	free(plan->dir);
	free(plan);
}

const char *kp_task_display_name(const struct kp_task *t)
{
	if (t->name)
		return t->name;
	if (t->module)
		return t->module->name;
	if (t->include)
		return t->include == KP_INC_ROLE ? "include_role" : "include_tasks";
	return "block";
}
