/*
 * role.c - Ansible's roles, read when the plan loads: `roles:` entries,
 * import_role and include_role (whose name is known now; include_role
 * runs when reached). A role is a directory found on the role search path
 * (roles/ beside the play's file, roles_path, the play's directory): its
 * tasks/ and handlers/ files become a block and play handlers that run
 * with the role's variables, its defaults/ and vars/ files are read once,
 * and meta/main.yml's `dependencies` come before its tasks, each role once
 * in a play unless it allows duplicates or is given other parameters.
 */
#include "model/plan_load.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* keys of a `roles:` entry that are not role parameters */
static const char *const entry_keys[] = {"role",   "name",	   "vars",	  "when",
					 "tags",   "become",	   "become_user", "environment",
					 "no_log", "ignore_errors"};

static bool is_dir(const char *p)
{
	struct stat st;
	return !stat(p, &st) && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
	struct stat st;
	return !stat(p, &st) && S_ISREG(st.st_mode);
}

/* Where role `name` lives, or NULL: the search Ansible makes. */
static char *role_dir(struct kp_loader *ld, const char *name, const char *play_dir)
{
	struct kp_buf b = KP_BUF_INIT;
	if (name[0] == '/')
		return is_dir(name) ? realpath(name, NULL) : NULL;
	kp_buf_addf(&b, "%s/roles/%s", play_dir, name);
	if (is_dir(b.buf))
		goto found;
	for (const char *p = ld->plan->roles_path; p && *p;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n) {
			/* a relative entry is relative to where kplan runs (ansible.cfg's
			 * own were made relative to it) */
			kp_buf_reset(&b);
			kp_buf_add(&b, p, n);
			kp_buf_addf(&b, "/%s", name);
			if (is_dir(b.buf))
				goto found;
		}
		p = e ? e + 1 : NULL;
	}
	kp_buf_reset(&b);
	kp_buf_addf(&b, "%s/%s", play_dir, name);
	if (is_dir(b.buf))
		goto found;
	kp_buf_release(&b);
	return NULL;
found:;
	char *real = realpath(b.buf, NULL);
	kp_buf_release(&b);
	return real;
}

/* dir/sub/NAME.yml, .yaml or NAME without suffix, or NULL */
static char *main_file(const char *dir, const char *sub, const char *name)
{
	static const char *const ext[] = {".yml", ".yaml", ""};
	struct kp_buf b = KP_BUF_INIT;
	for (size_t i = 0; i < KP_ARRAY_LEN(ext); i++) {
		kp_buf_reset(&b);
		kp_buf_addf(&b, "%s/%s/%s", dir, sub, name);
		size_t l = strlen(name);
		if (!(l > 4 && !strcmp(name + l - 4, ".yml")) &&
		    !(l > 5 && !strcmp(name + l - 5, ".yaml")))
			kp_buf_addstr(&b, ext[i]);
		if (is_file(b.buf))
			return kp_buf_detach(&b, NULL);
	}
	kp_buf_release(&b);
	return NULL;
}

/* A role's vars-like file (defaults/, vars/): a map, empty when absent. */
static kp_rc read_vars(struct kp_loader *ld, const char *dir, const char *sub, const char *name,
		       const struct kp_node *at, struct kp_value **out)
{
	char *path = main_file(dir, sub, name ? name : "main");
	struct kp_doc *doc;
	kp_rc rc;
	*out = NULL;
	if (!path) {
		if (name)
			return kp_node_errorf(ld->err, KP_ERR_INVALID, at,
					      "role '%s' has no %s file '%s'", dir, sub, name);
		*out = kp_value_map();
		return KP_OK;
	}
	rc = kp_loader_yaml(ld, path, path, at, &doc);
	free(path);
	if (rc)
		return rc;
	if (!doc->root || kp_node_is_null(doc->root)) {
		*out = kp_value_map();
		return KP_OK;
	}
	if (doc->root->type != KP_N_MAP)
		return kp_node_errorf(ld->err, KP_ERR_INVALID, doc->root,
				      "a vars file must be a mapping of variables, not %s",
				      kp_node_describe(doc->root));
	for (size_t i = 0; i < doc->root->n; i++)
		if ((rc = kp_check_var_name(doc->root->items[2 * i], doc->root->items[2 * i]->str,
					    ld->err)))
			return rc;
	return kp_node_to_value(doc->root, out, ld->err);
}

static kp_rc find_role(struct kp_loader *ld, const char *name, const char *play_dir,
		       const struct kp_node *at, struct kp_role **out)
{
	struct kp_plan *plan = ld->plan;
	char *dir = role_dir(ld, name, play_dir);
	kp_rc rc;
	if (!dir) {
		struct kp_buf where = KP_BUF_INIT;
		kp_buf_addf(&where, "%s/roles", play_dir);
		if (plan->roles_path)
			kp_buf_addf(&where, ", %s", plan->roles_path);
		kp_buf_addf(&where, ", %s", play_dir);
		rc = kp_node_errorf(ld->err, KP_ERR_INVALID, at,
				    "role '%s' not found (looked in %s)", name, where.buf);
		kp_buf_release(&where);
		return rc;
	}
	for (size_t i = 0; i < plan->nroles; i++)
		if (!strcmp(plan->roles[i]->path, dir)) {
			free(dir);
			*out = plan->roles[i];
			return KP_OK;
		}
	struct kp_role *r = kp_xcalloc(1, sizeof(*r));
	r->name = kp_xstrdup(name);
	r->path = dir;
	if ((rc = read_vars(ld, dir, "defaults", NULL, at, &r->defaults)) ||
	    (rc = read_vars(ld, dir, "vars", NULL, at, &r->vars))) {
		kp_value_unref(r->defaults);
		free(r->path);
		free(r->name);
		free(r);
		return rc;
	}
	plan->roles = kp_xrealloc(plan->roles, (plan->nroles + 1) * sizeof(*plan->roles));
	plan->roles[plan->nroles++] = r;
	*out = r;
	return KP_OK;
}

/* A task file of the role parsed with ctx (role set); tasks appended. */
static kp_rc role_tasks(struct kp_task_ctx *ctx, const char *path, const struct kp_node *at,
			const char *what, struct kp_task ***v, size_t *n)
{
	struct kp_loader *ld = ctx->ld;
	struct kp_doc *doc;
	kp_rc rc;
	if ((rc = kp_loader_enter(ld, path, path, what, at)))
		return rc;
	rc = kp_loader_yaml(ld, path, path, at, &doc);
	if (!rc && doc->root && !kp_node_is_null(doc->root)) {
		struct kp_task **got = NULL;
		size_t ngot = 0;
		struct kp_task_ctx sub = *ctx;
		char *dir = kp_path_dir(path);
		sub.dir = dir;
		rc = kp_parse_tasks(&sub, doc->root, what, &got, &ngot);
		free(dir);
		if (!rc) {
			*v = kp_xrealloc(*v, (*n + ngot + 1) * sizeof(**v));
			memcpy(*v + *n, got, ngot * sizeof(*got));
			*n += ngot;
		}
		free(got);
	}
	kp_loader_leave(ld);
	return rc;
}

/* The first use of the same role with the same parameters in this play,
 * or NULL (then u is recorded as the first). */
static const struct kp_roleuse *seen_before(struct kp_loader *ld, const struct kp_roleuse *u,
					    const char *params)
{
	for (size_t i = 0; i < ld->nseen; i++)
		if (ld->seen[i].use->role == u->role && !strcmp(ld->seen[i].params, params))
			return ld->seen[i].use;
	KP_GROW(ld->seen, ld->nseen + 1, ld->capseen);
	ld->seen[ld->nseen].use = u;
	ld->seen[ld->nseen++].params = kp_xstrdup(params);
	return NULL;
}

static kp_rc meta_deps(struct kp_task_ctx *ctx, const struct kp_role *r, const struct kp_node *at,
		       bool *allow_dup, struct kp_task ***v, size_t *n)
{
	struct kp_loader *ld = ctx->ld;
	char *path = main_file(r->path, "meta", "main");
	struct kp_doc *doc;
	kp_rc rc;
	if (!path)
		return KP_OK;
	rc = kp_loader_yaml(ld, path, path, at, &doc);
	free(path);
	if (rc || !doc->root || doc->root->type != KP_N_MAP)
		return rc;
	const struct kp_node *ad = kp_node_map_get(doc->root, "allow_duplicates");
	if (ad && (rc = kp_get_bool(ad, "allow_duplicates", allow_dup, ld->err)))
		return rc;
	const struct kp_node *deps = kp_node_map_get(doc->root, "dependencies");
	if (!deps || kp_node_is_null(deps))
		return KP_OK;
	if (deps->type != KP_N_SEQ)
		return kp_node_errorf(ld->err, KP_ERR_INVALID, deps,
				      "'dependencies' must be a list of roles, not %s",
				      kp_node_describe(deps));
	for (size_t i = 0; i < deps->n; i++) {
		struct kp_task *b = NULL;
		if ((rc = kp_role_entry(ctx, deps->items[i], &b)))
			return rc;
		*v = kp_xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = b;
	}
	return KP_OK;
}

static struct kp_roleuse *new_use(struct kp_loader *ld, const struct kp_role *r)
{
	struct kp_plan *plan = ld->plan;
	struct kp_roleuse *u = kp_xcalloc(1, sizeof(*u));
	u->role = r;
	u->params = kp_value_map();
	kp_map_set_take(u->params, "role_name", kp_value_str(r->name));
	kp_map_set_take(u->params, "role_path", kp_value_str(r->path));
	plan->roleuses =
	    kp_xrealloc(plan->roleuses, (plan->nroleuses + 1) * sizeof(*plan->roleuses));
	plan->roleuses[plan->nroleuses++] = u;
	return u;
}

/* Expose a role's defaults and vars to the whole play. */
static void play_exposes(struct kp_task_ctx *ctx, const struct kp_roleuse *u)
{
	struct kp_play *p = ctx->play;
	if (!p)
		return;
	if (!p->role_defaults) {
		p->role_defaults = kp_value_map();
		p->role_vars = kp_value_map();
		p->role_names = kp_value_list();
	}
	kp_map_update(p->role_defaults, u->defaults);
	kp_map_update(p->role_vars, u->vars);
	bool have = false;
	for (size_t i = 0; i < kp_list_len(p->role_names) && !have; i++)
		have = !strcmp(kp_list_at(p->role_names, i)->u.str.s, u->role->name);
	if (!have)
		kp_list_push_take(p->role_names, kp_value_str(u->role->name));
}

kp_rc kp_role_block(struct kp_task_ctx *ctx, const struct kp_node *at, const char *name,
		    const struct kp_role_opts *o, struct kp_task *t)
{
	struct kp_loader *ld = ctx->ld;
	struct kp_role *r = NULL;
	kp_rc rc;

	if (ld->depth + ld->role_depth >= KP_IMPORT_MAX_DEPTH)
		return kp_node_errorf(ld->err, KP_ERR_LIMIT, at,
				      "roles and imports nest more than %d deep",
				      KP_IMPORT_MAX_DEPTH);
	if ((rc = find_role(ld, name, ctx->play_dir, at, &r)))
		return rc;
	struct kp_roleuse *u = new_use(ld, r);
	if (o->params)
		kp_map_update(u->params, o->params);
	u->private_vars = o->private_vars;
	u->public_after = o->public_after;
	if (o->defaults_from)
		rc = read_vars(ld, r->path, "defaults", o->defaults_from, at, &u->defaults);
	else
		u->defaults = kp_value_ref(r->defaults);
	if (!rc && o->vars_from)
		rc = read_vars(ld, r->path, "vars", o->vars_from, at, &u->vars);
	else if (!rc)
		u->vars = kp_value_ref(r->vars);
	if (rc)
		return rc;
	if (o->entry_vars) {
		/* Ansible: a roles: entry's `vars:` under the role's vars/ */
		struct kp_value *m = kp_value_copy(o->entry_vars);
		kp_map_update(m, u->vars);
		kp_value_unref(u->vars);
		u->vars = m;
	}

	bool allow_dup = false;
	struct kp_task_ctx sub = *ctx;
	sub.role = u;
	if (o->check_dup) {
		/* a role runs once on a host in a play with the same parameters
		 * (its own meta may allow duplicates) */
		char *meta = main_file(r->path, "meta", "main");
		if (meta) {
			struct kp_doc *doc;
			const struct kp_node *ad;
			if (!(rc = kp_loader_yaml(ld, meta, meta, at, &doc)) && doc->root &&
			    doc->root->type == KP_N_MAP &&
			    (ad = kp_node_map_get(doc->root, "allow_duplicates")))
				rc = kp_get_bool(ad, "allow_duplicates", &allow_dup, ld->err);
			free(meta);
			if (rc)
				return rc;
		}
		if (!allow_dup) {
			struct kp_buf key = KP_BUF_INIT;
			kp_value_to_json(u->params, false, false, &key);
			if (o->entry_vars)
				kp_value_to_json(o->entry_vars, false, false, &key);
			if (o->dup_extra)
				kp_buf_addstr(&key, o->dup_extra);
			const struct kp_roleuse *first = seen_before(ld, u, key.buf);
			u->once = first ? first : u;
			kp_buf_release(&key);
		}
	}
	ld->role_depth++;
	rc = meta_deps(&sub, r, at, &allow_dup, &t->block, &t->nblock);
	ld->role_depth--;
	if (rc)
		return rc;
	if (!o->private_vars)
		play_exposes(ctx, u);
	char *tasks = main_file(r->path, "tasks", o->tasks_from ? o->tasks_from : "main");
	if (!tasks && o->tasks_from)
		return kp_node_errorf(ld->err, KP_ERR_INVALID, at,
				      "role '%s' has no tasks file '%s'", name, o->tasks_from);
	if (tasks) {
		rc = role_tasks(&sub, tasks, at, "role", &t->block, &t->nblock);
		free(tasks);
		if (rc)
			return rc;
	}
	/* a role's handlers once in a play, however often it runs */
	bool have = false;
	for (size_t i = 0; i < ld->nhandlers && !have; i++)
		have = ld->handlers[i]->role && ld->handlers[i]->role->role == r;
	char *handlers =
	    have ? NULL
		 : main_file(r->path, "handlers", o->handlers_from ? o->handlers_from : "main");
	if (!handlers && !have && o->handlers_from)
		return kp_node_errorf(ld->err, KP_ERR_INVALID, at,
				      "role '%s' has no handlers file '%s'", name,
				      o->handlers_from);
	if (handlers) {
		struct kp_task **hv = NULL;
		size_t nh = 0;
		struct kp_task_ctx hctx = sub;
		hctx.handlers = true;
		rc = role_tasks(&hctx, handlers, at, "role handlers", &hv, &nh);
		free(handlers);
		for (size_t i = 0; i < nh; i++)
			hv[i]->role = u;
		if (!rc) {
			ld->handlers = kp_xrealloc(ld->handlers, (ld->nhandlers + nh + 1) *
								     sizeof(*ld->handlers));
			memcpy(ld->handlers + ld->nhandlers, hv, nh * sizeof(*hv));
			ld->nhandlers += nh;
		} else {
			for (size_t i = 0; i < nh; i++)
				kp_task_free(hv[i]);
		}
		free(hv);
		if (rc)
			return rc;
	}
	if (!t->block)
		t->block = kp_xcalloc(1, sizeof(*t->block));
	t->role = u;
	return KP_OK;
}

/* One entry of `roles:` or of `dependencies:`: a name, or a mapping with
 * `role:` (or `name:`), keywords and role parameters. */
kp_rc kp_role_entry(struct kp_task_ctx *ctx, const struct kp_node *n, struct kp_task **out)
{
	struct kp_loader *ld = ctx->ld;
	const struct kp_node *namen = n;
	struct kp_role_opts o = {.check_dup = true};
	struct kp_value *params = NULL, *entry_vars = NULL;
	struct kp_buf extra = KP_BUF_INIT;
	struct kp_task *t;
	kp_rc rc = KP_OK;

	*out = NULL;
	if (n->type == KP_N_MAP) {
		namen = kp_node_map_get(n, "role");
		if (!namen)
			namen = kp_node_map_get(n, "name");
		if (!namen)
			return kp_node_errorf(ld->err, KP_ERR_INVALID, n,
					      "a role entry needs 'role' (or 'name')");
	}
	if (namen->type != KP_N_SCALAR || kp_node_is_null(namen))
		return kp_node_errorf(ld->err, KP_ERR_INVALID, namen,
				      "a role must be named by a string, not %s",
				      kp_node_describe(namen));
	if (kp_node_has_template(namen))
		return kp_node_errorf(
		    ld->err, KP_ERR_INVALID, namen,
		    "a role in 'roles:' is found when the plan loads and its name "
		    "cannot hold a template");
	t = kp_task_new(kp_node_pos(namen));
	t->pos = kp_node_pos(n);
	if (n->type == KP_N_MAP) {
		o.params = params = kp_value_map();
		for (size_t i = 0; i < n->n && !rc; i++) {
			const struct kp_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
			size_t j;
			for (j = 0; j < KP_ARRAY_LEN(entry_keys); j++)
				if (!strcmp(k->str, entry_keys[j]))
					break;
			if (!strcmp(k->str, "role") || !strcmp(k->str, "name"))
				continue;
			if (!strcmp(k->str, "vars")) {
				if (v->type != KP_N_MAP && !kp_node_is_null(v))
					rc = kp_node_errorf(ld->err, KP_ERR_INVALID, v,
							    "'vars' must be a mapping, not %s",
							    kp_node_describe(v));
				else if (!kp_node_is_null(v) && !entry_vars)
					rc = kp_node_to_value(v, &entry_vars, ld->err);
			} else if (j < KP_ARRAY_LEN(entry_keys)) {
				rc = kp_task_keyword(ctx, t, k, v);
			} else {
				/* a role parameter */
				struct kp_value *vv = NULL;
				if (!(rc = kp_check_var_name(k, k->str, ld->err)) &&
				    !(rc = kp_node_to_value(v, &vv, ld->err)))
					kp_map_set_take(params, k->str, vv);
			}
		}
	}
	/* when and tags make another use of the role, as in Ansible */
	for (size_t i = 0; !rc && n->type == KP_N_MAP && i < 2; i++) {
		const struct kp_node *x = kp_node_map_get(n, i ? "tags" : "when");
		struct kp_value *xv = NULL;
		if (x && !(rc = kp_node_to_value(x, &xv, ld->err))) {
			kp_buf_addstr(&extra, i ? " tags=" : " when=");
			kp_value_to_json(xv, false, false, &extra);
		}
		kp_value_unref(xv);
	}
	if (!rc && n->type == KP_N_MAP) {
		/* parameters and vars are rendered when used: compiled now for
		 * their syntax */
		struct kp_tvalue *tv = NULL;
		rc = kp_tvalue_from_node(n, &tv, ld->err);
		kp_tvalue_free(tv);
	}
	o.entry_vars = entry_vars;
	o.dup_extra = extra.buf;
	if (!rc)
		rc = kp_role_block(ctx, namen, namen->str, &o, t);
	kp_value_unref(params);
	kp_value_unref(entry_vars);
	kp_buf_release(&extra);
	if (rc || !t->role) {
		kp_task_free(t);
		return rc;
	}
	*out = t;
	return KP_OK;
}

/* A literal `src` of template/copy in a role: the role's templates/ or
 * files/ first, as Ansible looks (then the role's directory), then the
 * plan's directory as for any task. NULL: leave it as written. */
char *kp_role_src(const struct kp_roleuse *u, const char *module, const char *src)
{
	const char *sub = !strcmp(module, "template") ? "templates"
			  : !strcmp(module, "copy")   ? "files"
						      : NULL;
	struct kp_buf b = KP_BUF_INIT;
	if (!u || !sub || !src || src[0] == '/' || strstr(src, "{{"))
		return NULL;
	kp_buf_addf(&b, "%s/%s/%s", u->role->path, sub, src);
	if (access(b.buf, F_OK) == 0)
		return kp_buf_detach(&b, NULL);
	kp_buf_reset(&b);
	kp_buf_addf(&b, "%s/%s", u->role->path, src);
	if (access(b.buf, F_OK) == 0)
		return kp_buf_detach(&b, NULL);
	kp_buf_release(&b);
	return NULL;
}
