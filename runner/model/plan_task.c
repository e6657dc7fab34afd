/*
 * plan_task.c - loading task lists: module tasks (with Ansible's string
 * forms of arguments), blocks with rescue/always, import_tasks and
 * import_role, which are resolved now and spliced in as blocks, and
 * include_tasks and include_role, blocks that run when reached (their
 * files are read now when named literally, else when they run). Every
 * expression is compiled here so that a syntax error is reported with its
 * YAML position. A task's module and its arguments are plan_module.c.
 */
#include "model/plan_load.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const task_keys[] = {
    "name",	    "when",	    "register",	      "loop",
    "loop_control", "until",	    "retries",	      "delay",
    "failed_when",  "changed_when", "ignore_errors",  "ignore_unreachable",
    "become",	    "become_user",  "delegate_to",    "run_once",
    "notify",	    "tags",	    "no_log",	      "timeout",
    "check_mode",   "environment",  "throttle",	      "args",
    "listen",	    "block",	    "rescue",	      "always",
    "diff",	    "async",	    "poll",	      "module_defaults",
    "collections",  "vars",	    "delegate_facts", "connection",
};

/* keys that make no sense on a block (they are about one module run) */
static const char *const not_on_block[] = {
    "loop",	    "loop_control", "register", "until", "retries", "delay",	      "failed_when",
    "changed_when", "listen",	    "args",	"async", "poll",    "delegate_facts",
};

/* what an import or include may carry (onto the imported tasks, or onto
 * the include itself), besides `vars` */
static const char *const import_keys[] = {
    "name", "when", "tags", "become", "become_user", "environment", "no_log", "ignore_errors",
};
static const char *const include_only_keys[] = {"loop", "loop_control"};

/* Ansible's include and import forms, with or without their
 * ansible.builtin. prefix; bare `include` is include_tasks */
enum incl_form { F_NONE, F_IMPORT_TASKS, F_INCLUDE_TASKS, F_IMPORT_ROLE, F_INCLUDE_ROLE };
static enum incl_form incl_form_of(const char *key)
{
	if (!strncmp(key, "ansible.builtin.", 16))
		key += 16;
	else if (!strncmp(key, "ansible.legacy.", 15))
		key += 15;
	if (!strcmp(key, "import_tasks"))
		return F_IMPORT_TASKS;
	if (!strcmp(key, "include_tasks") || !strcmp(key, "include"))
		return F_INCLUDE_TASKS;
	if (!strcmp(key, "import_role"))
		return F_IMPORT_ROLE;
	if (!strcmp(key, "include_role"))
		return F_INCLUDE_ROLE;
	return F_NONE;
}

static bool in_list(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, v[i]))
			return true;
	return false;
}

static const struct kp_node *key_of(const struct kp_node *map, const char *name)
{
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->items[2 * i]->str, name))
			return map->items[2 * i];
	return NULL;
}

/* ---- expressions -------------------------------------------------------- */

static kp_rc compile_cond(const struct kp_node *n, const char *key, struct kp_expr **out,
			  struct kp_buf *err)
{
	bool b;
	if (n->type != KP_N_SCALAR || kp_node_is_null(n))
		return kp_node_errorf(err, KP_ERR_INVALID, n,
				      "'%s' must be an expression or a list of expressions, not %s",
				      key, kp_node_describe(n));
	/* YAML's yes/no/on/off mean Lua's true/false */
	if (kp_node_get_bool(n, &b))
		return kp_expr_compile(b ? "true" : "false", kp_node_pos(n), out, err);
	return kp_expr_compile(n->str, kp_node_pos(n), out, err);
}

static kp_rc parse_conds(const struct kp_node *n, const char *key, struct kp_expr ***out,
			 size_t *nout, struct kp_buf *err)
{
	size_t count = n->type == KP_N_SEQ ? n->n : 1;
	kp_rc rc;
	if (kp_node_is_null(n))
		return KP_OK;
	*out = kp_xcalloc(count, sizeof(**out));
	for (size_t i = 0; i < count; i++) {
		rc = compile_cond(n->type == KP_N_SEQ ? n->items[i] : n, key, &(*out)[i], err);
		if (rc)
			return rc;
		(*nout)++;
	}
	return KP_OK;
}

static kp_rc compile_tmpl(const struct kp_node *n, const char *key, struct kp_template **out,
			  struct kp_buf *err)
{
	if (n->type != KP_N_SCALAR || kp_node_is_null(n))
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'%s' must be a string, not %s", key,
				      kp_node_describe(n));
	kp_template_free(*out);
	*out = NULL;
	return kp_template_compile(n->str, n->len, kp_node_pos(n), out, err);
}

static kp_rc task_key(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *k,
		      const struct kp_node *v);

/* The defaults a parsed task gets, then *out = t, or t freed on error. */
static kp_rc finish_task(struct kp_task *t, kp_rc rc, struct kp_task **out)
{
	if (t->retries < 0)
		t->retries = t->until ? 3 : 0;
	if (!t->loop_var)
		t->loop_var = kp_xstrdup("item");
	if (rc) {
		kp_task_free(t);
		return rc;
	}
	*out = t;
	return KP_OK;
}

/* ---- imports and includes ------------------------------------------------ */

/* Read task file `path` (written as `written`, at node v) into t->block. */
kp_rc kp_load_task_file(struct kp_task_ctx *ctx, struct kp_task *t, const char *path,
			const char *written, const struct kp_node *v, const char *what)
{
	struct kp_loader *ld = ctx->ld;
	struct kp_doc *doc;
	kp_rc rc;

	if ((rc = kp_loader_enter(ld, path, written, what, v)))
		return rc;
	const struct kp_node *outer = ld->import_at;
	ld->import_at = v;
	rc = kp_loader_yaml(ld, path, written, v, &doc);
	if (!rc && doc->root && !kp_node_is_null(doc->root)) {
		if (doc->root->type != KP_N_SEQ) {
			rc = kp_node_errorf(ld->err, KP_ERR_INVALID, doc->root,
					    "a task file must be a list of tasks, not %s",
					    kp_node_describe(doc->root));
		} else {
			struct kp_task_ctx sub = *ctx;
			char *dir = kp_path_dir(path);
			sub.dir = dir;
			rc = kp_parse_tasks(&sub, doc->root, what, &t->block, &t->nblock);
			free(dir);
		}
	}
	if (!rc && !t->block)
		t->block = kp_xcalloc(1, sizeof(*t->block));
	ld->import_at = outer;
	kp_loader_leave(ld);
	return rc;
}

/* A relative task file named by an import or include: beside the file
 * naming it, in the role's tasks/, in the play's directory, as Ansible
 * looks. The first when none exists (for the message). */
static char *task_file_path(const struct kp_task_ctx *ctx, const char *name)
{
	char *first = kp_path_join(ctx->dir, name);
	if (name[0] == '/' || access(first, F_OK) == 0)
		return first;
	char *alt[2] = {NULL, NULL};
	if (ctx->role) {
		char *tasks = kp_path_join(ctx->role->role->path, "tasks");
		alt[0] = kp_path_join(tasks, name);
		free(tasks);
	}
	if (ctx->play_dir)
		alt[1] = kp_path_join(ctx->play_dir, name);
	for (size_t i = 0; i < 2; i++)
		if (alt[i] && access(alt[i], F_OK) == 0) {
			free(first);
			free(alt[1 - i]);
			return alt[i];
		}
	free(alt[0]);
	free(alt[1]);
	return first;
}

static kp_rc parse_vars_key(struct kp_loader *ld, struct kp_task *t, const struct kp_node *v)
{
	kp_rc rc;
	if (kp_node_is_null(v))
		return KP_OK;
	if (v->type != KP_N_MAP)
		return kp_node_errorf(ld->err, KP_ERR_INVALID, v,
				      "'vars' must be a mapping, not %s", kp_node_describe(v));
	for (size_t i = 0; i < v->n; i++)
		if ((rc = kp_check_var_name(v->items[2 * i], v->items[2 * i]->str, ld->err)))
			return rc;
	if ((rc = kp_node_to_value(v, &t->include_vars, ld->err)))
		return rc;
	/* compiled now for the syntax; rendered when used */
	struct kp_tvalue *tv = NULL;
	rc = kp_tvalue_from_node(v, &tv, ld->err);
	kp_tvalue_free(tv);
	return rc;
}

/* `apply:` of an include: keywords for the included tasks, kept as a
 * block without tasks. */
static kp_rc parse_apply(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *v)
{
	kp_rc rc = KP_OK;
	if (v->type != KP_N_MAP)
		return kp_node_errorf(ctx->ld->err, KP_ERR_INVALID, v,
				      "'apply' must be a mapping of task keywords, not %s",
				      kp_node_describe(v));
	t->apply = kp_task_new(kp_node_pos(v));
	for (size_t i = 0; i < v->n && !rc; i++) {
		const struct kp_node *k = v->items[2 * i];
		if (!in_list(k->str, import_keys, KP_ARRAY_LEN(import_keys)) ||
		    !strcmp(k->str, "name"))
			return kp_node_errorf(ctx->ld->err, KP_ERR_INVALID, k,
					      "'%s' cannot be used in 'apply'", k->str);
		rc = task_key(ctx, t->apply, k, v->items[2 * i + 1]);
	}
	return rc;
}

static kp_rc parse_role_args(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *k,
			     const struct kp_node *v, bool include, struct kp_role_opts *o,
			     const struct kp_node **name)
{
	static const char *const keys[] = {
	    "name",   "tasks_from", "vars_from",	"defaults_from",     "handlers_from",
	    "public", "apply",	    "allow_duplicates", "rolespec_validate",
	};
	struct kp_buf *err = ctx->ld->err;
	kp_rc rc = KP_OK;
	*name = NULL;
	if (v->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, v,
				      "'%s' must be a mapping with 'name', not %s", k->str,
				      kp_node_describe(v));
	for (size_t i = 0; i < v->n && !rc; i++) {
		const struct kp_node *kk = v->items[2 * i], *vv = v->items[2 * i + 1];
		bool b;
		if (!strcmp(kk->str, "name")) {
			*name = vv;
		} else if (!strcmp(kk->str, "public")) {
			if (!(rc = kp_get_bool(vv, "public", &b, err)))
				o->public_after = include && b;
		} else if (!strcmp(kk->str, "apply")) {
			if (!include)
				return kp_node_errorf(err, KP_ERR_INVALID, kk,
						      "'apply' is for include_role, not %s",
						      k->str);
			rc = parse_apply(ctx, t, vv);
		} else if (!strcmp(kk->str, "allow_duplicates") ||
			   !strcmp(kk->str, "rolespec_validate")) {
			rc = kp_get_bool(vv, kk->str, &b, err);
		} else if (in_list(kk->str, keys, KP_ARRAY_LEN(keys))) {
			char *s = NULL;
			if (!(rc = kp_get_str(vv, kk->str, &s, err)) && strstr(s, "{{"))
				rc = kp_node_errorf(err, KP_ERR_INVALID, vv,
						    "'%s' is read when the plan loads and cannot "
						    "hold a template",
						    kk->str);
			const char **slot = !strcmp(kk->str, "tasks_from")	? &o->tasks_from
					    : !strcmp(kk->str, "vars_from")	? &o->vars_from
					    : !strcmp(kk->str, "defaults_from") ? &o->defaults_from
										: &o->handlers_from;
			*slot = vv->str;
			free(s);
		} else {
			kp_unknown_key(kk, k->str, keys, KP_ARRAY_LEN(keys), err);
			rc = KP_ERR_INVALID;
		}
	}
	if (!rc && (!*name || (*name)->type != KP_N_SCALAR || kp_node_is_null(*name)))
		return kp_node_errorf(err, KP_ERR_INVALID, *name ? *name : v,
				      "'%s' needs 'name', the role", k->str);
	if (!rc && kp_node_has_template(*name))
		return kp_node_errorf(err, KP_ERR_INVALID, *name,
				      "the role of '%s' is found when the plan loads and its name "
				      "cannot hold a template",
				      k->str);
	return rc;
}

/* include_tasks: FILE, or {file: FILE, apply: {...}} */
static kp_rc parse_include_tasks(struct kp_task_ctx *ctx, struct kp_task *t,
				 const struct kp_node *k, const struct kp_node *v)
{
	struct kp_buf *err = ctx->ld->err;
	const struct kp_node *file = v;
	kp_rc rc;
	if (v->type == KP_N_MAP) {
		file = NULL;
		for (size_t i = 0; i < v->n; i++) {
			const struct kp_node *kk = v->items[2 * i], *vv = v->items[2 * i + 1];
			if (!strcmp(kk->str, "file") || !strcmp(kk->str, "_raw_params")) {
				file = vv;
			} else if (!strcmp(kk->str, "apply")) {
				if ((rc = parse_apply(ctx, t, vv)))
					return rc;
			} else {
				static const char *const keys[] = {"file", "apply"};
				kp_unknown_key(kk, k->str, keys, 2, err);
				return KP_ERR_INVALID;
			}
		}
	}
	if (!file || file->type != KP_N_SCALAR || kp_node_is_null(file))
		return kp_node_errorf(err, KP_ERR_INVALID, file ? file : v,
				      "'%s' must be a file name, not %s", k->str,
				      kp_node_describe(file ? file : v));
	t->include_dir = kp_xstrdup(ctx->dir);
	if (kp_node_has_template(file))
		/* known only when it runs, per host */
		return kp_template_compile(file->str, file->len, kp_node_pos(file),
					   &t->include_file, err);
	char *path = task_file_path(ctx, file->str);
	if (access(path, F_OK) != 0) {
		/* include_tasks is dynamic: a file that is not there (a branch
		 * for another OS family, say) fails only a host that reaches it */
		struct kp_buf w = KP_BUF_INIT;
		kp_buf_addf(&w,
			    "%s:%d:%d: include_tasks '%s': cannot read '%s': a host that reaches "
			    "it fails",
			    file->file, file->line, file->col, file->str, path);
		kp_strlist_push(&ctx->ld->plan->warnings, w.buf);
		kp_buf_release(&w);
		free(path);
		return kp_template_compile(file->str, file->len, kp_node_pos(file),
					   &t->include_file, err);
	}
	if (kp_loader_loading(ctx->ld, path)) {
		/* a file that includes itself (a retry until a `when` stops
		 * it): include_tasks is dynamic, each level loads when a host
		 * reaches it */
		free(path);
		return kp_template_compile(file->str, file->len, kp_node_pos(file),
					   &t->include_file, err);
	}
	rc = kp_load_task_file(ctx, t, path, file->str, file, "include_tasks");
	t->import_path = path;
	return rc;
}

static kp_rc parse_incl(struct kp_task_ctx *ctx, const struct kp_node *n, const struct kp_node *k,
			enum incl_form form, struct kp_task **out)
{
	struct kp_loader *ld = ctx->ld;
	const struct kp_node *v = kp_node_map_get(n, k->str);
	bool include = form == F_INCLUDE_TASKS || form == F_INCLUDE_ROLE;
	struct kp_task *t = kp_task_new(kp_node_pos(n));
	kp_rc rc = KP_OK;

	t->pos = kp_node_pos(n);
	for (size_t i = 0; i < n->n && !rc; i++) {
		const struct kp_node *kk = n->items[2 * i], *vv = n->items[2 * i + 1];
		if (kk == k)
			continue;
		if (!strcmp(kk->str, "vars"))
			rc = parse_vars_key(ld, t, vv);
		else if (in_list(kk->str, import_keys, KP_ARRAY_LEN(import_keys)) ||
			 (include &&
			  (in_list(kk->str, include_only_keys, KP_ARRAY_LEN(include_only_keys)) ||
			   !strncmp(kk->str, "with_", 5))))
			rc = task_key(ctx, t, kk, vv);
		else
			rc = kp_node_errorf(ld->err, KP_ERR_INVALID, kk,
					    "'%s' cannot be used with '%s'", kk->str, k->str);
	}
	if (!rc && (v->type != KP_N_MAP && (v->type != KP_N_SCALAR || kp_node_is_null(v))))
		rc = kp_node_errorf(ld->err, KP_ERR_INVALID, v, "'%s' must be %s, not %s", k->str,
				    form == F_IMPORT_ROLE || form == F_INCLUDE_ROLE
					? "a mapping with 'name'"
					: "a file name",
				    kp_node_describe(v));
	if (!rc && form == F_IMPORT_TASKS) {
		if (v->type != KP_N_SCALAR)
			rc = kp_node_errorf(ld->err, KP_ERR_INVALID, v,
					    "'%s' must be a file name, not %s", k->str,
					    kp_node_describe(v));
		else if (kp_node_has_template(v))
			rc = kp_node_errorf(ld->err, KP_ERR_INVALID, v,
					    "'%s' is resolved when the plan loads and cannot "
					    "hold a template (include_tasks can)",
					    k->str);
		if (!rc) {
			char *path = task_file_path(ctx, v->str);
			rc = kp_load_task_file(ctx, t, path, v->str, v, "import_tasks");
			t->import_path = path;
		}
	} else if (!rc && form == F_INCLUDE_TASKS) {
		t->include = KP_INC_TASKS;
		rc = parse_include_tasks(ctx, t, k, v);
	} else if (!rc) {
		struct kp_role_opts o = {0};
		const struct kp_node *name = NULL;
		if (!(rc = parse_role_args(ctx, t, k, v, include, &o, &name))) {
			o.params = t->include_vars;
			if (!include) {
				/* import_role: this task is the role's block */
				rc = kp_role_block(ctx, name, name->str, &o, t);
			} else {
				struct kp_task *r = kp_task_new(kp_node_pos(name));
				t->include = KP_INC_ROLE;
				o.private_vars = true; /* public: exposed once it ran */
				rc = kp_role_block(ctx, name, name->str, &o, r);
				t->block = kp_xcalloc(1, sizeof(*t->block));
				t->block[0] = r;
				t->nblock = 1;
			}
			/* the role's use holds them now */
			kp_value_unref(t->include_vars);
			t->include_vars = NULL;
		}
	}
	return finish_task(t, rc, out);
}

/* ---- task keys ------------------------------------------------------------ */

static kp_rc parse_loop_control(struct kp_task *t, const struct kp_node *v, struct kp_buf *err)
{
	static const char *const keys[] = {"loop_var", "label",	   "index_var",
					   "pause",    "extended", "extended_allitems"};
	kp_rc rc = KP_OK;
	bool b;
	if (v->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, v,
				      "'loop_control' must be a mapping, not %s",
				      kp_node_describe(v));
	for (size_t i = 0; i < v->n && !rc; i++) {
		const struct kp_node *k = v->items[2 * i], *x = v->items[2 * i + 1];
		if (!strcmp(k->str, "loop_var")) {
			if (!(rc = kp_get_str(x, "loop_var", &t->loop_var, err)))
				rc = kp_check_var_name(x, t->loop_var, err);
		} else if (!strcmp(k->str, "index_var")) {
			if (!(rc = kp_get_str(x, "index_var", &t->index_var, err)))
				rc = kp_check_var_name(x, t->index_var, err);
		} else if (!strcmp(k->str, "label")) {
			rc = compile_tmpl(x, "label", &t->loop_label, err);
		} else if (!strcmp(k->str, "pause")) {
			/* seconds, as Ansible's float field takes them */
			char *end = NULL;
			double s = x->type == KP_N_SCALAR && !kp_node_is_null(x)
				       ? strtod(x->str, &end)
				       : -1;
			if (x->type == KP_N_SCALAR && !kp_node_is_null(x) &&
			    (end == x->str || *end || s < 0 || s > 86400))
				rc = kp_node_errorf(
				    err, KP_ERR_INVALID, x,
				    "'pause' must be a number of seconds (got '%s')", x->str);
			else if (!end)
				rc = kp_node_errorf(err, KP_ERR_INVALID, x,
						    "'pause' must be a number of seconds, not %s",
						    kp_node_describe(x));
			else
				t->loop_pause_ms = (int64_t)(s * 1000 + 0.5);
		} else if (!strcmp(k->str, "extended")) {
			rc = kp_get_bool(x, "extended", &t->loop_extended, err);
		} else if (!strcmp(k->str, "extended_allitems")) {
			if (!(rc = kp_get_bool(x, "extended_allitems", &b, err)))
				t->loop_no_allitems = !b;
		} else {
			kp_unknown_key(k, "loop_control", keys, KP_ARRAY_LEN(keys), err);
			rc = KP_ERR_INVALID;
		}
	}
	return rc;
}

static kp_rc task_key(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *k,
		      const struct kp_node *v)
{
	struct kp_buf *err = ctx->ld->err;
	const char *key = k->str;
	int64_t i;
	bool b;
	kp_rc rc = KP_OK;

	if (!strcmp(key, "name")) {
		if (!(rc = kp_get_str(v, key, &t->name, err)) && strstr(t->name, "{{"))
			rc =
			    kp_template_compile(v->str, v->len, kp_node_pos(v), &t->name_tmpl, err);
	} else if (!strcmp(key, "when")) {
		rc = parse_conds(v, key, &t->when, &t->nwhen, err);
	} else if (!strcmp(key, "failed_when")) {
		rc = parse_conds(v, key, &t->failed_when, &t->nfailed_when, err);
	} else if (!strcmp(key, "changed_when")) {
		rc = parse_conds(v, key, &t->changed_when, &t->nchanged_when, err);
	} else if (!strcmp(key, "until")) {
		rc = compile_cond(v, key, &t->until, err);
	} else if (!strcmp(key, "register")) {
		if (!(rc = kp_get_str(v, key, &t->register_var, err)))
			rc = kp_check_var_name(v, t->register_var, err);
	} else if (!strcmp(key, "loop")) {
		if (t->loop)
			rc = kp_node_errorf(err, KP_ERR_INVALID, k, "duplicate loop in task: %s",
					    t->loop_with);
		else if (v->type == KP_N_SEQ || kp_node_has_template(v))
			rc = kp_tvalue_from_node(v, &t->loop, err);
		else
			rc = kp_node_errorf(err, KP_ERR_INVALID, v,
					    "'loop' must be a list or a template like "
					    "\"{{ items }}\", not %s",
					    kp_node_describe(v));
	} else if (!strncmp(key, "with_", 5)) {
		if (t->loop)
			rc = kp_node_errorf(err, KP_ERR_INVALID, k, "duplicate loop in task: %s",
					    key + 5);
		else if (kp_node_is_null(v))
			rc = kp_node_errorf(err, KP_ERR_INVALID, k,
					    "you must specify a value when using %s", key);
		else if (!(rc = kp_tvalue_from_node(v, &t->loop, err)))
			t->loop_with = kp_xstrdup(key + 5);
	} else if (!strcmp(key, "diff")) {
		if (!(rc = kp_get_bool(v, key, &b, err)))
			t->diff = b ? KP_YES : KP_NO;
	} else if (!strcmp(key, "async")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->async_t, err);
		else
			rc = kp_get_int(v, key, 0, 86400 * 365, &t->async_s, err);
	} else if (!strcmp(key, "poll")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->poll_t, err);
		else
			rc = kp_get_int(v, key, 0, 86400, &t->poll_s, err);
	} else if (!strcmp(key, "module_defaults")) {
		rc = kp_check_module_defaults(ctx->ld, v, err);
	} else if (!strcmp(key, "collections")) {
		rc = kp_check_collections(v, err);
	} else if (!strcmp(key, "loop_control")) {
		rc = parse_loop_control(t, v, err);
	} else if (!strcmp(key, "retries")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->retries_t, err);
		else if (!(rc = kp_get_int(v, key, 0, INT32_MAX, &i, err)))
			t->retries = (int)i;
	} else if (!strcmp(key, "delay")) {
		char *end = NULL;
		double secs = v->type == KP_N_SCALAR && v->str ? strtod(v->str, &end) : -1;
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->delay_t, err);
		else if (end && end != v->str && !*end && secs >= 0 && secs < 1e9)
			t->delay_ms =
			    (int64_t)(secs * 1000 + 0.5); /* Ansible's: seconds, 0.5 too */
		else
			rc = kp_get_duration(v, key, &t->delay_ms, err);
	} else if (!strcmp(key, "timeout")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->timeout_t, err);
		else
			rc = kp_get_duration(v, key, &t->timeout_ms, err);
	} else if (!strcmp(key, "throttle")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->throttle_t, err);
		else if (!(rc = kp_get_int(v, key, 1, INT32_MAX, &i, err)))
			t->throttle = (int)i;
	} else if (!strcmp(key, "ignore_errors")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->ignore_errors_t, err);
		else
			rc = kp_get_bool(v, key, &t->ignore_errors, err);
	} else if (!strcmp(key, "ignore_unreachable")) {
		rc = kp_get_bool(v, key, &t->ignore_unreachable, err);
	} else if (!strcmp(key, "run_once")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->run_once_t, err);
		else
			rc = kp_get_bool(v, key, &t->run_once, err);
	} else if (!strcmp(key, "no_log")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->no_log_t, err);
		else
			rc = kp_get_bool(v, key, &t->no_log, err);
	} else if (!strcmp(key, "become")) {
		if (kp_node_has_template(v))
			rc = compile_tmpl(v, key, &t->become_t, err);
		else if (!(rc = kp_get_bool(v, key, &b, err)))
			t->become = b ? KP_YES : KP_NO;
	} else if (!strcmp(key, "check_mode")) {
		if (!(rc = kp_get_bool(v, key, &b, err)))
			t->check_mode = b ? KP_YES : KP_NO;
	} else if (!strcmp(key, "become_user")) {
		rc = kp_get_str(v, key, &t->become_user, err);
	} else if (!strcmp(key, "connection")) {
		static const char *const conns[] = {"ssh", "local", NULL};
		int c = 0;
		if (!(rc = kp_get_choice(v, key, conns, &c, err)))
			t->local_connection = c == 1;
	} else if (!strcmp(key, "delegate_to")) {
		rc = compile_tmpl(v, key, &t->delegate_to, err);
	} else if (!strcmp(key, "delegate_facts")) {
		rc = kp_get_bool(v, key, &t->delegate_facts, err);
	} else if (!strcmp(key, "vars")) {
		/* a task's or a block's own variables, for it alone */
		rc = parse_vars_key(ctx->ld, t, v);
	} else if (!strcmp(key, "environment")) {
		/* a mapping, or a template that gives one ("{{ proxy_env }}") */
		if (v->type != KP_N_MAP && !(v->type == KP_N_SCALAR && kp_node_has_template(v)))
			rc = kp_node_errorf(err, KP_ERR_INVALID, v,
					    "'environment' must be a mapping, not %s",
					    kp_node_describe(v));
		else
			rc = kp_tvalue_from_node(v, &t->environment, err);
	} else if (!strcmp(key, "notify")) {
		rc = kp_get_strlist(v, key, &t->notify, &t->nnotify, &t->notify_pos, err);
	} else if (!strcmp(key, "tags")) {
		rc = kp_get_strlist(v, key, &t->tags, &t->ntags, NULL, err);
	} else if (!strcmp(key, "listen")) {
		if (!ctx->handlers)
			rc = kp_node_errorf(err, KP_ERR_INVALID, k,
					    "'listen' is only allowed in handlers");
		else
			rc = kp_get_strlist(v, key, &t->listen, &t->nlisten, NULL, err);
	}
	/* module, args, block, rescue, always: see parse_task; imports and
	 * includes: parse_incl */
	return rc;
}

kp_rc kp_task_keyword(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *k,
		      const struct kp_node *v)
{
	return task_key(ctx, t, k, v);
}

struct kp_task *kp_task_new(struct kp_pos pos)
{
	struct kp_task *t = kp_xcalloc(1, sizeof(*t));
	t->pos = pos;
	t->become = KP_UNSET;
	t->check_mode = KP_UNSET;
	t->diff = KP_UNSET;
	t->poll_s = 10;
	t->delay_ms = 5000;
	t->retries = -1;
	return t;
}

/* An unknown key: a mistyped keyword, an argument written one level too
 * high, or (when the task has no module) a mistyped or unknown module. */
static kp_rc unknown_task_key(const struct kp_node *k, const struct kp_node *modkey,
			      const struct kp_module *m, bool has_action, struct kp_buf *err)
{
	const char *s = kp_suggest(k->str, task_keys, KP_ARRAY_LEN(task_keys));
	/* Ansible spellings kplan deliberately does not have */
	if (!strncmp(k->str, "with_", 5))
		return kp_node_errorf(err, KP_ERR_INVALID, k,
				      "unknown key '%s' in task: kplan has no lookup '%s' (use "
				      "'loop')",
				      k->str, k->str + 5);
	if (m && kp_module_arg(m, k->str))
		return kp_node_errorf(
		    err, KP_ERR_INVALID, k,
		    "unknown key '%s' in task ('%s' is an argument of module '%s': "
		    "indent it under '%s')",
		    k->str, k->str, m->name, modkey->str);
	if (has_action || (s && strlen(k->str) >= 5)) {
		kp_unknown_key(k, "task", task_keys, KP_ARRAY_LEN(task_keys), err);
		return KP_ERR_INVALID;
	}
	struct kp_buf msg = KP_BUF_INIT;
	kp_module_unknown_text(k->str, &msg);
	kp_rc rc = kp_node_errorf(err, KP_ERR_INVALID, k, "%s", msg.buf);
	kp_buf_release(&msg);
	return rc;
}

static kp_rc parse_block_part(struct kp_task_ctx *ctx, const struct kp_node *n, const char *key,
			      struct kp_task ***out, size_t *nout)
{
	const struct kp_node *v = kp_node_map_get(n, key);
	if (!v)
		return KP_OK;
	return kp_parse_tasks(ctx, v, key, out, nout);
}

static void inherit_notify(struct kp_task **v, size_t n, const struct kp_task *from);

static kp_rc parse_task(struct kp_task_ctx *ctx, const struct kp_node *n, struct kp_task **out)
{
	struct kp_buf *err = ctx->ld->err;
	const struct kp_node *modkey = NULL, *modval = NULL, *unknown = NULL;
	const struct kp_module *m = NULL;
	struct kp_task *t;
	kp_rc rc = KP_OK;

	if (n->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, n, "a task must be a mapping, not %s",
				      kp_node_describe(n));
	const struct kp_node *kincl = NULL;
	enum incl_form form = F_NONE;
	for (size_t i = 0; i < n->n; i++) {
		const struct kp_node *k = n->items[2 * i];
		enum incl_form f = incl_form_of(k->str);
		if (f != F_NONE) {
			if (kincl)
				return kp_node_errorf(err, KP_ERR_INVALID, k,
						      "'%s' cannot be used with '%s'", k->str,
						      kincl->str);
			kincl = k;
			form = f;
		}
	}
	for (size_t i = 0; i < n->n; i++) {
		const struct kp_node *k = n->items[2 * i];
		const struct kp_module *mm;
		if (k == kincl || in_list(k->str, task_keys, KP_ARRAY_LEN(task_keys)))
			continue;
		if (!strncmp(k->str, "with_", 5) && kp_lookup_exists(k->str + 5))
			continue;
		if ((mm = kp_plan_find_module(ctx, kp_node_map_get(n, "collections"), k->str)) ||
		    (mm = kp_module_absent(k->str))) {
			if (modkey)
				return kp_node_errorf(err, KP_ERR_INVALID, k,
						      "task names two modules, '%s' and '%s'",
						      modkey->str, k->str);
			modkey = k;
			modval = n->items[2 * i + 1];
			m = mm;
		} else if (!unknown) {
			unknown = k;
		}
	}
	const struct kp_node *kblock = key_of(n, "block"), *krescue = key_of(n, "rescue"),
			     *kalways = key_of(n, "always");
	bool is_block = kblock || krescue || kalways;
	if (kincl && (modkey || is_block))
		return kp_node_errorf(err, KP_ERR_INVALID,
				      modkey	? modkey
				      : kblock	? kblock
				      : krescue ? krescue
						: kalways,
				      "'%s' cannot be used with '%s'",
				      modkey	? modkey->str
				      : kblock	? "block"
				      : krescue ? "rescue"
						: "always",
				      kincl->str);
	if (kincl && form == F_INCLUDE_TASKS && !strcmp(kincl->str, "include")) {
		/* the legacy `include`, as ansible-core 2.14 decides: static (an
		 * import) when its file name is literal and it has no loop */
		const struct kp_node *v = kp_node_map_get(n, "include");
		if (v->type == KP_N_SCALAR && !kp_node_has_template(v) && !key_of(n, "loop"))
			form = F_IMPORT_TASKS;
	}
	if (kincl)
		return parse_incl(ctx, n, kincl, form, out);
	if (unknown)
		return unknown_task_key(unknown, modkey, m, modkey || is_block, err);
	if (is_block) {
		/* without 'block', 'rescue' on a module task is the slip, not the
		 * module */
		if (!kblock)
			return kp_node_errorf(err, KP_ERR_INVALID, krescue ? krescue : kalways,
					      "task has '%s' but no 'block'",
					      krescue ? "rescue" : "always");
		if (modkey)
			return kp_node_errorf(err, KP_ERR_INVALID, modkey,
					      "a block cannot also run module '%s'", modkey->str);
		for (size_t i = 0; i < KP_ARRAY_LEN(not_on_block); i++) {
			const struct kp_node *k = key_of(n, not_on_block[i]);
			if (k)
				return kp_node_errorf(err, KP_ERR_INVALID, k,
						      "'%s' cannot be used on a block", k->str);
		}
		for (size_t i = 0; i < n->n; i++)
			if (!strncmp(n->items[2 * i]->str, "with_", 5))
				return kp_node_errorf(err, KP_ERR_INVALID, n->items[2 * i],
						      "'%s' cannot be used on a block",
						      n->items[2 * i]->str);
	} else if (!modkey) {
		const struct kp_node *name = kp_node_map_get(n, "name");
		if (name && name->type == KP_N_SCALAR && !kp_node_is_null(name))
			return kp_node_errorf(err, KP_ERR_INVALID, n, "task '%s' has no module",
					      name->str);
		return kp_node_errorf(err, KP_ERR_INVALID, n, "task has no module");
	}

	t = kp_task_new(kp_node_pos(n));
	for (size_t i = 0; i < n->n && !rc; i++)
		rc = task_key(ctx, t, n->items[2 * i], n->items[2 * i + 1]);
	if (!rc) {
		if (is_block) {
			/* the block's module_defaults and collections reach its tasks */
			struct kp_task_ctx sub = *ctx;
			const struct kp_node *md = kp_node_map_get(n, "module_defaults"),
					     *co = kp_node_map_get(n, "collections");
			if (md && sub.nmdefs < KP_ARRAY_LEN(sub.mdefs))
				sub.mdefs[sub.nmdefs++] = md;
			if (co && sub.ncolls < KP_ARRAY_LEN(sub.colls))
				sub.colls[sub.ncolls++] = co;
			if (!(rc = parse_block_part(&sub, n, "block", &t->block, &t->nblock)) &&
			    !(rc = parse_block_part(&sub, n, "rescue", &t->rescue, &t->nrescue)))
				rc = parse_block_part(&sub, n, "always", &t->always, &t->nalways);
			if (!rc && t->nnotify) {
				inherit_notify(t->block, t->nblock, t);
				inherit_notify(t->rescue, t->nrescue, t);
				inherit_notify(t->always, t->nalways, t);
			}
		} else {
			t->module = m;
			rc = kp_plan_parse_module(ctx, t, n, modkey, modval);
		}
	}
	return finish_task(t, rc, out);
}

/* A block's notify reaches its tasks that name none of their own, as
 * Ansible's tasks inherit it. */
static void inherit_notify(struct kp_task **v, size_t n, const struct kp_task *from)
{
	for (size_t i = 0; i < n; i++) {
		struct kp_task *t = v[i];
		if (!t->nnotify) {
			t->notify = kp_xcalloc(from->nnotify, sizeof(*t->notify));
			t->notify_pos = kp_xcalloc(from->nnotify, sizeof(*t->notify_pos));
			for (size_t k = 0; k < from->nnotify; k++) {
				t->notify[k] = kp_xstrdup(from->notify[k]);
				t->notify_pos[k] = from->notify_pos[k];
			}
			t->nnotify = from->nnotify;
		}
		if (!t->module) {
			inherit_notify(t->block, t->nblock, t);
			inherit_notify(t->rescue, t->nrescue, t);
			inherit_notify(t->always, t->nalways, t);
		}
	}
}

kp_rc kp_parse_tasks(struct kp_task_ctx *ctx, const struct kp_node *list, const char *key,
		     struct kp_task ***out, size_t *nout)
{
	struct kp_task **v;
	kp_rc rc;

	if (kp_node_is_null(list))
		return KP_OK;
	if (list->type != KP_N_SEQ)
		return kp_node_errorf(ctx->ld->err, KP_ERR_INVALID, list,
				      "'%s' must be a list of tasks, not %s", key,
				      kp_node_describe(list));
	v = kp_xcalloc(list->n, sizeof(*v));
	for (size_t i = 0; i < list->n; i++) {
		if (++ctx->ld->ntasks > KP_MAX_PLAN_TASKS) {
			const struct kp_node *at = ctx->ld->import_at;
			rc = at ? kp_node_errorf(ctx->ld->err, KP_ERR_LIMIT, at,
						 "import_tasks '%s' takes the plan past %d tasks",
						 at->str, KP_MAX_PLAN_TASKS)
				: kp_node_errorf(ctx->ld->err, KP_ERR_LIMIT, list->items[i],
						 "the plan has more than %d tasks",
						 KP_MAX_PLAN_TASKS);
		} else {
			rc = parse_task(ctx, list->items[i], &v[i]);
		}
		if (rc) {
			for (size_t j = 0; j < i; j++)
				kp_task_free(v[j]);
			free(v);
			return rc;
		}
	}
	*out = v;
	*nout = list->n;
	return KP_OK;
}
