/*
 * plan.c - loading a plan: the list of plays, import_plan and Ansible's
 * import_playbook, every play key, vars and vars_files, the
 * play's roles (role.c) before its tasks, and checking that every notify
 * names a handler; the task files include_tasks names with a template,
 * loaded when they run. Tasks are parsed in plan_task.c, `serial` in
 * plan_serial.c, hooks in plan_hooks.c; plan_free.c frees what they build.
 *
 * Everything is checked here, before any host is contacted: a plan that
 * loads is one that can run.
 */
#include "model/plan_load.h"

#include "model/inventory.h"
#include "model/walk.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <lua.h>

const char *const kp_hook_names[KP_HOOK_COUNT] = {
    "before_play", "before_batch", "before_host", "before_task", "after_task",
    "after_host",  "after_batch",  "after_play",  "on_failure",
};

static const char *const play_keys[] = {
    "name",
    "hosts",
    "serial",
    "window",
    "max_fail_percentage",
    "any_errors_fatal",
    "order",
    "strategy",
    "become",
    "become_user",
    "become_method",
    "remote_user",
    "connection",
    "environment",
    "vars",
    "vars_files",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "hooks",
    "tags",
    "confirm",
    "pause_between_batches",
    "run_lock",
    "hook_limits",
    "vars_prompt",
    "module_defaults",
    "collections",
    "check_mode",
    "diff",
    "throttle",
    "gather_facts",
    "gather_subset",
    "roles",
    "run_once",
    "ignore_errors",
    "ignore_unreachable",
    "no_log",
};

static const char *const order_names[] = {"inventory",	    "reverse_inventory", "sorted",
					  "reverse_sorted", "shuffle",		 NULL};
static const char *const strategy_names[] = {"linear", "free", NULL};
static const char *const connection_names[] = {"ssh", "local", NULL};
static const char *const become_methods[] = {"sudo", NULL};

/* ---- vars --------------------------------------------------------------- */

static bool in_keys(const char *s, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, v[i]))
			return true;
	return false;
}

static kp_rc check_var_keys(const struct kp_node *map, struct kp_buf *err)
{
	for (size_t i = 0; i < map->n; i++) {
		kp_rc rc = kp_check_var_name(map->items[2 * i], map->items[2 * i]->str, err);
		if (rc)
			return rc;
	}
	return KP_OK;
}

static kp_rc parse_vars(struct kp_play *p, const struct kp_node *n, struct kp_buf *err)
{
	kp_rc rc;
	if (kp_node_is_null(n))
		return KP_OK;
	if (n->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'vars' must be a mapping, not %s",
				      kp_node_describe(n));
	if ((rc = check_var_keys(n, err)))
		return rc;
	if ((rc = kp_node_to_value(n, &p->vars, err)))
		return rc;
	return kp_tvalue_from_node(n, &p->vars_t, err);
}

static kp_rc parse_vars_files(struct kp_loader *ld, struct kp_play *p, const char *dir,
			      const struct kp_node *n)
{
	kp_rc rc = kp_get_strlist(n, "vars_files", &p->vars_files, &p->nvars_files,
				  &p->vars_files_pos, ld->err);
	if (rc)
		return rc;
	p->vars_files_loaded = kp_xcalloc(p->nvars_files, sizeof(*p->vars_files_loaded));
	for (size_t i = 0; i < p->nvars_files; i++) {
		const struct kp_node *at = n->type == KP_N_SEQ ? n->items[i] : n;
		struct kp_doc *doc;
		if (strstr(p->vars_files[i], "{{")) {
			/* known only per host at run time; compile now for syntax */
			struct kp_template *t = NULL;
			rc = kp_template_compile(at->str, at->len, kp_node_pos(at), &t, ld->err);
			if (rc)
				return rc;
			kp_template_free(t);
			continue;
		}
		char *path = kp_path_join(dir, p->vars_files[i]);
		rc = kp_loader_yaml(ld, path, p->vars_files[i], at, &doc);
		free(path);
		if (rc)
			return rc;
		if (!doc->root || kp_node_is_null(doc->root)) {
			p->vars_files_loaded[i] = kp_value_map();
			continue;
		}
		if (doc->root->type != KP_N_MAP)
			return kp_node_errorf(ld->err, KP_ERR_INVALID, doc->root,
					      "a vars file must be a mapping of variables, not %s",
					      kp_node_describe(doc->root));
		if ((rc = check_var_keys(doc->root, ld->err)))
			return rc;
		if ((rc = kp_node_to_value(doc->root, &p->vars_files_loaded[i], ld->err)))
			return rc;
	}
	return KP_OK;
}

/* ---- notify ------------------------------------------------------------- */

struct handler_names {
	const char **names;
	size_t n, cap;
	struct kp_buf *err;
};

static int check_notify(struct kp_walk *w, const struct kp_task *t, const struct kp_strlist *tags)
{
	const struct handler_names *hn = w->ctx;
	for (size_t j = 0; j < t->nnotify; j++) {
		bool found = strstr(t->notify[j], "{{") != NULL;
		for (size_t k = 0; k < hn->n && !found; k++)
			found = !strcmp(hn->names[k], t->notify[j]);
		if (found)
			continue;
		struct kp_buf msg = KP_BUF_INIT;
		const char *s = kp_suggest(t->notify[j], hn->names, hn->n);
		kp_buf_addf(&msg, "%s:%d:%d: notify: no handler named '%s' in this play",
			    t->notify_pos[j].file, t->notify_pos[j].line, t->notify_pos[j].col,
			    t->notify[j]);
		if (s)
			kp_buf_addf(&msg, " (did you mean '%s'?)", s);
		kp_rc rc = kp_errorf(hn->err, KP_ERR_INVALID, "%s", msg.buf);
		kp_buf_release(&msg);
		return rc;
	}
	return KP_OK;
}

static int collect_handler(struct kp_walk *w, const struct kp_task *t,
			   const struct kp_strlist *tags)
{
	struct handler_names *hn = w->ctx;
	if (t->name) {
		KP_GROW(hn->names, hn->n + 1, hn->cap);
		hn->names[hn->n++] = t->name;
	}
	for (size_t j = 0; j < t->nlisten; j++) {
		KP_GROW(hn->names, hn->n + 1, hn->cap);
		hn->names[hn->n++] = t->listen[j];
	}
	return KP_OK;
}

static kp_rc check_play_notify(const struct kp_play *p, struct kp_buf *err)
{
	struct handler_names hn = {.err = err};
	struct kp_walk collect = {.task = collect_handler, .ctx = &hn};
	kp_walk_tasks(&collect, p->handlers, p->nhandlers, NULL);
	struct kp_walk check = {.task = check_notify, .ctx = &hn};
	kp_rc rc = kp_walk_play(&check, p, true);
	free(hn.names);
	return rc;
}

/* ---- plays -------------------------------------------------------------- */

/* A host pattern is text: `hosts: 42` or `hosts: true` is a slip, not a
 * host named "42" (kp_get_strlist takes any scalar). */
static kp_rc hosts_strings(const struct kp_node *n, struct kp_buf *err)
{
	const char *what = kp_node_describe(n);
	if (n->type == KP_N_SCALAR && strcmp(what, "a string") && !kp_node_is_null(n))
		return kp_node_errorf(err, KP_ERR_INVALID, n,
				      "'hosts' must be a string or a list of strings, not %s",
				      what);
	for (size_t i = 0; n->type == KP_N_SEQ && i < n->n; i++) {
		const struct kp_node *item = n->items[i];
		what = kp_node_describe(item);
		if (item->type == KP_N_SCALAR && strcmp(what, "a string") && !kp_node_is_null(item))
			return kp_node_errorf(err, KP_ERR_INVALID, item,
					      "'hosts' must be a string or a list of strings, not "
					      "a list holding %s",
					      what);
	}
	return KP_OK;
}

static kp_rc parse_hosts(struct kp_play *p, const struct kp_node *n, struct kp_buf *err)
{
	char **v = NULL;
	size_t nv = 0;
	struct kp_buf b = KP_BUF_INIT;
	kp_rc rc = kp_get_strlist(n, "hosts", &v, &nv, NULL, err);
	if (!rc)
		rc = hosts_strings(n, err);
	if (rc) {
		kp_strv_free(v, nv);
		return rc;
	}
	for (size_t i = 0; i < nv; i++) {
		if (i)
			kp_buf_addch(&b, ':');
		kp_buf_addstr(&b, v[i]);
	}
	kp_strv_free(v, nv);
	if (!b.len) {
		kp_buf_release(&b);
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'hosts' must not be empty");
	}
	/* a literal pattern is checked now, so that `validate` without an
	 * inventory catches it; one with {{ }} is compiled now and checked
	 * once rendered (kp_plan_render_hosts) */
	if (strstr(b.buf, "{{")) {
		if ((rc = kp_template_compile(b.buf, b.len, kp_node_pos(n), &p->hosts_t, err))) {
			kp_buf_release(&b);
			return rc;
		}
	} else {
		struct kp_buf why = KP_BUF_INIT;
		if ((rc = kp_pattern_check(b.buf, &why)))
			kp_node_errorf(err, rc, n, "%s", why.buf);
		kp_buf_release(&why);
		if (rc) {
			kp_buf_release(&b);
			return rc;
		}
	}
	p->hosts = kp_buf_detach(&b, NULL);
	p->hosts_pos = kp_node_pos(n);
	return KP_OK;
}

/* vars_prompt: a list of {name, prompt, default, private, confirm,
 * unsafe, encrypt, salt, salt_size}; the answers come when the plan loads
 * (load.c) */
static kp_rc parse_vars_prompt(struct kp_play *p, const struct kp_node *v, struct kp_buf *err)
{
	static const char *const keys[] = {"name",   "prompt",	"default", "private",  "confirm",
					   "unsafe", "encrypt", "salt",	   "salt_size"};
	static const char *const crypts[] = {"sha512_crypt", "sha256_crypt", "md5_crypt", "bcrypt",
					     NULL};
	if (kp_node_is_null(v))
		return KP_OK;
	if (v->type != KP_N_SEQ)
		return kp_node_errorf(err, KP_ERR_INVALID, v,
				      "'vars_prompt' must be a list of mappings with 'name', "
				      "not %s",
				      kp_node_describe(v));
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < v->n && !rc; i++) {
		const struct kp_node *e = v->items[i], *name = NULL;
		struct kp_value *m = kp_value_map();
		bool b;
		if (e->type != KP_N_MAP)
			rc = kp_node_errorf(err, KP_ERR_INVALID, e,
					    "a 'vars_prompt' entry must be a mapping, not %s",
					    kp_node_describe(e));
		for (size_t j = 0; !rc && j < e->n; j++) {
			const struct kp_node *k = e->items[2 * j], *x = e->items[2 * j + 1];
			char *s = NULL;
			if (!strcmp(k->str, "private") || !strcmp(k->str, "confirm") ||
			    !strcmp(k->str, "unsafe")) {
				if (!(rc = kp_get_bool(x, k->str, &b, err)))
					kp_map_set_take(m, k->str, kp_value_bool(b));
			} else if (!strcmp(k->str, "salt_size")) {
				int64_t n;
				if (!(rc = kp_get_int(x, k->str, 1, 256, &n, err)))
					kp_map_set_take(m, k->str, kp_value_int(n));
			} else if (!strcmp(k->str, "encrypt")) {
				int c;
				if (!(rc = kp_get_choice(x, k->str, crypts, &c, err)))
					kp_map_set_take(m, k->str, kp_value_str(crypts[c]));
			} else if (!strcmp(k->str, "name") || !strcmp(k->str, "prompt") ||
				   !strcmp(k->str, "default") || !strcmp(k->str, "salt")) {
				if (!(rc = kp_get_str(x, k->str, &s, err)))
					kp_map_set_take(m, k->str, kp_value_str(s));
				free(s);
				if (!rc && k->str[0] == 'n') {
					name = x;
					rc = kp_check_var_name(x, x->str, err);
				}
			} else {
				kp_unknown_key(k, "vars_prompt entry", keys, KP_ARRAY_LEN(keys),
					       err);
				rc = KP_ERR_INVALID;
			}
		}
		if (!rc && !name)
			rc = kp_node_errorf(err, KP_ERR_INVALID, e,
					    "a 'vars_prompt' entry has no 'name'");
		if (!rc) {
			struct kp_value *pos = kp_value_list();
			kp_list_push_take(pos, kp_value_str(e->file ? e->file : ""));
			kp_list_push_take(pos, kp_value_int(e->line));
			kp_list_push_take(pos, kp_value_int(e->col));
			kp_map_set_take(m, "pos", pos);
		}
		kp_list_push_take(l, m);
	}
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	p->vars_prompt = l;
	p->vars_prompt_pos = kp_node_pos(v);
	return KP_OK;
}

static kp_rc play_key(struct kp_loader *ld, struct kp_play *p, const char *dir,
		      const struct kp_node *k, const struct kp_node *v)
{
	struct kp_buf *err = ld->err;
	const char *key = k->str;
	int64_t i;
	int c;
	bool b;
	kp_rc rc = KP_OK;

	if (!strcmp(key, "name")) {
		rc = kp_get_str(v, key, &p->name, err);
	} else if (!strcmp(key, "hosts")) {
		if (!kp_node_is_null(v))
			rc = parse_hosts(p, v, err);
	} else if (!strcmp(key, "serial")) {
		if (kp_node_has_template(v)) {
			p->serial_pos = kp_node_pos(v);
			rc = kp_tvalue_from_node(v, &p->serial_tv, err);
		} else if (!kp_node_is_null(v)) {
			rc = kp_parse_serial(v, &p->serial, &p->nserial, err);
		}
	} else if (!strcmp(key, "window")) {
		rc = kp_parse_window(v, &p->window, &p->wrule, err);
	} else if (!strcmp(key, "max_fail_percentage")) {
		if (!(rc = kp_get_int(v, key, 0, 100, &i, err)))
			p->max_fail_percentage = (int)i;
	} else if (!strcmp(key, "any_errors_fatal")) {
		if (kp_node_has_template(v))
			rc = kp_tvalue_from_node(v, &p->any_errors_fatal_tv, err);
		else
			rc = kp_get_bool(v, key, &p->any_errors_fatal, err);
	} else if (!strcmp(key, "run_once")) {
		/* task keywords on the play: every task of it inherits them */
		rc = kp_get_bool(v, key, &p->run_once, err);
	} else if (!strcmp(key, "ignore_errors")) {
		rc = kp_get_bool(v, key, &p->ignore_errors, err);
	} else if (!strcmp(key, "ignore_unreachable")) {
		rc = kp_get_bool(v, key, &p->ignore_unreachable, err);
	} else if (!strcmp(key, "no_log")) {
		rc = kp_get_bool(v, key, &p->no_log, err);
	} else if (!strcmp(key, "order")) {
		if (!(rc = kp_get_choice(v, key, order_names, &c, err)))
			p->order = (enum kp_order)c;
	} else if (!strcmp(key, "strategy")) {
		if (!(rc = kp_get_choice(v, key, strategy_names, &c, err)))
			p->strategy = (enum kp_strategy)c;
	} else if (!strcmp(key, "become")) {
		if (!(rc = kp_get_bool(v, key, &b, err)))
			p->become = b ? KP_YES : KP_NO;
	} else if (!strcmp(key, "become_user")) {
		rc = kp_get_str(v, key, &p->become_user, err);
	} else if (!strcmp(key, "become_method")) {
		if (!(rc = kp_get_choice(v, key, become_methods, &c, err)))
			rc = kp_get_str(v, key, &p->become_method, err);
	} else if (!strcmp(key, "remote_user")) {
		rc = kp_get_str(v, key, &p->remote_user, err);
	} else if (!strcmp(key, "connection")) {
		if (!(rc = kp_get_choice(v, key, connection_names, &c, err)))
			rc = kp_get_str(v, key, &p->connection, err);
	} else if (!strcmp(key, "environment")) {
		/* a mapping, or a template that gives one ("{{ proxy_env }}") */
		if (v->type != KP_N_MAP && !(v->type == KP_N_SCALAR && kp_node_has_template(v)))
			rc = kp_node_errorf(err, KP_ERR_INVALID, v,
					    "'environment' must be a mapping, not %s",
					    kp_node_describe(v));
		else
			rc = kp_tvalue_from_node(v, &p->environment, err);
	} else if (!strcmp(key, "vars")) {
		rc = parse_vars(p, v, err);
	} else if (!strcmp(key, "vars_files")) {
		if (!kp_node_is_null(v))
			rc = parse_vars_files(ld, p, dir, v);
	} else if (!strcmp(key, "hooks")) {
		rc = kp_plan_parse_hooks(ld, p, dir, v);
	} else if (!strcmp(key, "tags")) {
		rc = kp_get_strlist(v, key, &p->tags, &p->ntags, NULL, err);
	} else if (!strcmp(key, "confirm")) {
		rc = kp_get_bool(v, key, &p->confirm, err);
	} else if (!strcmp(key, "pause_between_batches")) {
		rc = kp_get_duration(v, key, &p->pause_between_batches_ms, err);
	} else if (!strcmp(key, "run_lock")) {
		rc = kp_get_str(v, key, &p->run_lock, err);
	} else if (!strcmp(key, "hook_limits")) {
		rc = kp_plan_parse_hook_limits(p, v, err);
	} else if (!strcmp(key, "vars_prompt")) {
		rc = parse_vars_prompt(p, v, err);
	} else if (!strcmp(key, "module_defaults")) {
		rc = kp_check_module_defaults(ld, v, err);
	} else if (!strcmp(key, "collections")) {
		rc = kp_check_collections(v, err);
	} else if (!strcmp(key, "throttle")) {
		if (!(rc = kp_get_int(v, key, 1, INT32_MAX, &i, err)))
			p->throttle = (int)i;
	} else if (!strcmp(key, "check_mode") || !strcmp(key, "diff")) {
		if (!(rc = kp_get_bool(v, key, &b, err)))
			*(key[0] == 'c' ? &p->check_mode : &p->diff) = b ? KP_YES : KP_NO;
	} else if (!strcmp(key, "gather_facts")) {
		if (!(rc = kp_get_bool(v, key, &b, err)))
			p->gather_facts = b ? KP_YES : KP_NO;
	} else if (!strcmp(key, "gather_subset")) {
		rc = kp_get_strlist(v, key, &p->gather_subset, &p->ngather_subset, NULL, err);
	}
	/* task lists are parsed after all other keys, see parse_play */
	return rc;
}

/* *v = front + *v (front's tasks move) */
static void splice_front(struct kp_task ***v, size_t *n, struct kp_task **front, size_t nfront)
{
	if (!nfront)
		return;
	struct kp_task **all = kp_xcalloc(*n + nfront, sizeof(*all));
	memcpy(all, front, nfront * sizeof(*all));
	if (*n)
		memcpy(all + nfront, *v, *n * sizeof(*all));
	free(*v);
	*v = all;
	*n += nfront;
}

static kp_rc parse_play(struct kp_loader *ld, const struct kp_node *n, const char *file,
			struct kp_play **out)
{
	static const char *const lists[] = {"pre_tasks", "tasks", "post_tasks", "handlers"};
	struct kp_play *p;
	char *dir;
	kp_rc rc = KP_OK;

	if (n->type != KP_N_MAP)
		return kp_node_errorf(ld->err, KP_ERR_INVALID, n,
				      "a play must be a mapping, not %s", kp_node_describe(n));
	for (size_t i = 0; i < n->n; i++) {
		const struct kp_node *k = n->items[2 * i];
		size_t j;
		for (j = 0; j < KP_ARRAY_LEN(play_keys); j++)
			if (!strcmp(k->str, play_keys[j]))
				break;
		if (j == KP_ARRAY_LEN(play_keys)) {
			kp_unknown_key(k, "play", play_keys, KP_ARRAY_LEN(play_keys), ld->err);
			return KP_ERR_INVALID;
		}
	}
	p = kp_xcalloc(1, sizeof(*p));
	p->pos = kp_node_pos(n);
	p->max_fail_percentage = -1;
	p->become = KP_UNSET;
	p->check_mode = KP_UNSET;
	p->diff = KP_UNSET;
	p->gather_facts = KP_UNSET;
	p->plan_file = kp_xstrdup(file);
	dir = kp_path_dir(file);
	for (size_t i = 0; i < n->n && !rc; i++)
		rc = play_key(ld, p, dir, n->items[2 * i], n->items[2 * i + 1]);
	if (!rc && !p->hosts) {
		if (p->name)
			rc = kp_node_errorf(ld->err, KP_ERR_INVALID, n, "play '%s' has no 'hosts'",
					    p->name);
		else
			rc = kp_node_errorf(ld->err, KP_ERR_INVALID, n, "play has no 'hosts'");
	}
	if (!rc && p->nserial && kp_node_map_get(n, "window"))
		rc = kp_node_errorf(ld->err, KP_ERR_INVALID, kp_node_map_get(n, "window"),
				    "'window' and 'serial' cannot be used together");
	struct kp_task ***slot[] = {&p->pre_tasks, &p->tasks, &p->post_tasks, &p->handlers};
	size_t *nslot[] = {&p->npre_tasks, &p->ntasks, &p->npost_tasks, &p->nhandlers};
	struct kp_task **roles = NULL;
	size_t nroles = 0;
	const struct kp_node *rn = kp_node_map_get(n, "roles");
	ld->nseen = 0;
	if (!rc && rn && !kp_node_is_null(rn)) {
		struct kp_task_ctx ctx = {.ld = ld, .dir = dir, .play_dir = dir, .play = p};
		if (rn->type != KP_N_SEQ)
			rc = kp_node_errorf(ld->err, KP_ERR_INVALID, rn,
					    "'roles' must be a list of roles, not %s",
					    kp_node_describe(rn));
		roles = kp_xcalloc(rn->n + 1, sizeof(*roles));
		for (size_t i = 0; !rc && i < rn->n; i++) {
			struct kp_task *b = NULL;
			rc = kp_role_entry(&ctx, rn->items[i], &b);
			if (b)
				roles[nroles++] = b;
		}
	}
	for (size_t i = 0; i < KP_ARRAY_LEN(lists) && !rc; i++) {
		const struct kp_node *v = kp_node_map_get(n, lists[i]);
		struct kp_task_ctx ctx = {
		    .ld = ld, .dir = dir, .play_dir = dir, .handlers = i == 3, .play = p};
		const struct kp_node *md = kp_node_map_get(n, "module_defaults"),
				     *co = kp_node_map_get(n, "collections");
		if (md)
			ctx.mdefs[ctx.nmdefs++] = md;
		if (co)
			ctx.colls[ctx.ncolls++] = co;
		if (v)
			rc = kp_parse_tasks(&ctx, v, lists[i], slot[i], nslot[i]);
	}
	/* the roles run first in the tasks section; their handlers come
	 * before the play's own */
	splice_front(&p->tasks, &p->ntasks, roles, nroles);
	splice_front(&p->handlers, &p->nhandlers, ld->handlers, ld->nhandlers);
	free(roles);
	free(ld->handlers);
	ld->handlers = NULL;
	ld->nhandlers = 0;
	for (size_t i = 0; i < ld->nseen; i++)
		free(ld->seen[i].params);
	ld->nseen = 0;
	if (!rc)
		rc = check_play_notify(p, ld->err);
	free(dir);
	if (rc) {
		kp_play_free(p);
		return rc;
	}
	*out = p;
	return KP_OK;
}

static void add_play(struct kp_plan *plan, struct kp_play *p)
{
	plan->plays = kp_xrealloc(plan->plays, (plan->nplays + 1) * sizeof(*plan->plays));
	plan->plays[plan->nplays++] = p;
}

static kp_rc load_plan_file(struct kp_loader *ld, const char *path, const char *written,
			    const struct kp_node *at);

static kp_rc import_plan(struct kp_loader *ld, const struct kp_node *n, const char *file)
{
	const struct kp_node *v = kp_node_map_get(n, "import_plan");
	char *dir, *path;
	kp_rc rc;

	for (size_t i = 0; i < n->n; i++)
		if (strcmp(n->items[2 * i]->str, "import_plan"))
			return kp_node_errorf(ld->err, KP_ERR_INVALID, n->items[2 * i],
					      "unknown key '%s' next to 'import_plan'",
					      n->items[2 * i]->str);
	if (v->type != KP_N_SCALAR || kp_node_is_null(v))
		return kp_node_errorf(ld->err, KP_ERR_INVALID, v,
				      "'import_plan' must be a file name, not %s",
				      kp_node_describe(v));
	if (kp_node_has_template(v))
		return kp_node_errorf(
		    ld->err, KP_ERR_INVALID, v,
		    "'import_plan' is resolved when the plan loads and cannot hold "
		    "a template");
	dir = kp_path_dir(file);
	path = kp_path_join(dir, v->str);
	rc = load_plan_file(ld, path, v->str, v);
	free(path);
	free(dir);
	return rc;
}

/* Ansible's import_playbook: the plays of another file, with the entry's
 * `vars` over each play's own, its `tags` added to each play's, and its
 * `when` before the conditions of each play's top-level tasks. */
static const struct kp_node *playbook_key(const struct kp_node *n)
{
	for (size_t i = 0; i < n->n; i++)
		if (!strcmp(n->items[2 * i]->str, "import_playbook") ||
		    !strcmp(n->items[2 * i]->str, "ansible.builtin.import_playbook"))
			return n->items[2 * i];
	return NULL;
}

static kp_rc prepend_when(struct kp_task **tasks, size_t n, const struct kp_node *when,
			  struct kp_buf *err)
{
	size_t nw = when->type == KP_N_SEQ ? when->n : 1;
	for (size_t i = 0; i < n; i++) {
		struct kp_task *t = tasks[i];
		struct kp_expr **w = kp_xcalloc(nw + t->nwhen, sizeof(*w));
		kp_rc rc = KP_OK;
		for (size_t j = 0; j < nw && !rc; j++) {
			const struct kp_node *c = when->type == KP_N_SEQ ? when->items[j] : when;
			bool b;
			if (c->type != KP_N_SCALAR || kp_node_is_null(c))
				rc = kp_node_errorf(err, KP_ERR_INVALID, c,
						    "'when' must be an expression or a list of "
						    "expressions, not %s",
						    kp_node_describe(c));
			else if (kp_node_get_bool(c, &b))
				rc = kp_expr_compile(b ? "true" : "false", kp_node_pos(c), &w[j],
						     err);
			else
				rc = kp_expr_compile(c->str, kp_node_pos(c), &w[j], err);
		}
		if (rc) {
			for (size_t j = 0; j < nw; j++)
				kp_expr_free(w[j]);
			free(w);
			return rc;
		}
		if (t->nwhen)
			memcpy(w + nw, t->when, t->nwhen * sizeof(*w));
		free(t->when);
		t->when = w;
		t->nwhen += nw;
	}
	return KP_OK;
}

static kp_rc import_playbook(struct kp_loader *ld, const struct kp_node *n, const struct kp_node *k,
			     const char *file)
{
	static const char *const keys[] = {"name", "vars", "when", "tags"};
	const struct kp_node *v = kp_node_map_get(n, k->str);
	const struct kp_node *vars = kp_node_map_get(n, "vars"), *when = kp_node_map_get(n, "when"),
			     *tags = kp_node_map_get(n, "tags");
	struct kp_value *vv = NULL;
	char **tv = NULL;
	size_t ntv = 0;
	kp_rc rc = KP_OK;

	for (size_t i = 0; i < n->n; i++) {
		const struct kp_node *kk = n->items[2 * i];
		if (kk != k && !in_keys(kk->str, keys, KP_ARRAY_LEN(keys))) {
			kp_unknown_key(kk, k->str, keys, KP_ARRAY_LEN(keys), ld->err);
			return KP_ERR_INVALID;
		}
	}
	if (v->type != KP_N_SCALAR || kp_node_is_null(v))
		return kp_node_errorf(ld->err, KP_ERR_INVALID, v,
				      "'%s' must be a file name, not %s", k->str,
				      kp_node_describe(v));
	if (kp_node_has_template(v))
		return kp_node_errorf(ld->err, KP_ERR_INVALID, v,
				      "'%s' is resolved when the plan loads and cannot hold a "
				      "template",
				      k->str);
	if (vars && !kp_node_is_null(vars)) {
		if (vars->type != KP_N_MAP)
			return kp_node_errorf(ld->err, KP_ERR_INVALID, vars,
					      "'vars' must be a mapping, not %s",
					      kp_node_describe(vars));
		if ((rc = check_var_keys(vars, ld->err)) ||
		    (rc = kp_node_to_value(vars, &vv, ld->err)))
			return rc;
	}
	if (tags && (rc = kp_get_strlist(tags, "tags", &tv, &ntv, NULL, ld->err))) {
		kp_value_unref(vv);
		return rc;
	}
	size_t first = ld->plan->nplays;
	char *dir = kp_path_dir(file), *path = kp_path_join(dir, v->str);
	rc = load_plan_file(ld, path, v->str, v);
	free(path);
	free(dir);
	for (size_t i = first; !rc && i < ld->plan->nplays; i++) {
		struct kp_play *p = ld->plan->plays[i];
		if (vv) {
			struct kp_value *m = kp_value_map();
			if (p->vars)
				kp_map_update(m, p->vars);
			kp_map_update(m, vv);
			kp_value_unref(p->vars);
			p->vars = m;
			/* the play's compiled vars only locate errors; the import's
			 * values are compiled here for their syntax */
			struct kp_tvalue *t = NULL;
			rc = kp_tvalue_from_node(vars, &t, ld->err);
			kp_tvalue_free(t);
		}
		for (size_t j = 0; j < ntv; j++) {
			p->tags = kp_xrealloc(p->tags, (p->ntags + 1) * sizeof(*p->tags));
			p->tags[p->ntags++] = kp_xstrdup(tv[j]);
		}
		if (!rc && when && !kp_node_is_null(when) &&
		    !(rc = prepend_when(p->pre_tasks, p->npre_tasks, when, ld->err)) &&
		    !(rc = prepend_when(p->tasks, p->ntasks, when, ld->err)))
			rc = prepend_when(p->post_tasks, p->npost_tasks, when, ld->err);
	}
	kp_value_unref(vv);
	kp_strv_free(tv, ntv);
	return rc;
}

static kp_rc load_plan_file(struct kp_loader *ld, const char *path, const char *written,
			    const struct kp_node *at)
{
	struct kp_doc *doc;
	const struct kp_node *root;
	kp_rc rc;

	if (at && (rc = kp_loader_enter(ld, path, written, "import_plan", at)))
		return rc;
	rc = kp_loader_yaml(ld, path, written, at, &doc);
	if (!rc && !at) {
		/* the top file starts the chain; it was read, so it exists */
		char *real = realpath(path, NULL);
		ld->chain[ld->depth].real = real ? real : kp_xstrdup(path);
		ld->chain[ld->depth++].shown = kp_xstrdup(path);
	}
	if (rc) {
		if (at)
			kp_loader_leave(ld);
		return rc;
	}
	root = doc->root;
	if (!root || kp_node_is_null(root) || (root->type == KP_N_SEQ && !root->n))
		rc = kp_errorf(ld->err, KP_ERR_INVALID,
			       "%s:1:1: plan is empty: expected a list of plays", doc->file);
	else if (root->type != KP_N_SEQ)
		rc = kp_node_errorf(ld->err, KP_ERR_INVALID, root,
				    "a plan must be a list of plays, not %s",
				    kp_node_describe(root));
	for (size_t i = 0; !rc && i < root->n; i++) {
		const struct kp_node *n = root->items[i];
		struct kp_play *p = NULL;
		const struct kp_node *pk;
		if (n->type == KP_N_MAP && kp_node_map_get(n, "import_plan")) {
			rc = import_plan(ld, n, doc->file);
		} else if (n->type == KP_N_MAP && (pk = playbook_key(n))) {
			rc = import_playbook(ld, n, pk, doc->file);
		} else if (!(rc = parse_play(ld, n, doc->file, &p))) {
			add_play(ld->plan, p);
		}
	}
	kp_loader_leave(ld);
	return rc;
}

/* What a loader holds once it is done (the plan keeps what it loaded). */
static void loader_release(struct kp_loader *ld)
{
	while (ld->depth)
		kp_loader_leave(ld);
	for (size_t i = 0; i < ld->nhandlers; i++)
		kp_task_free(ld->handlers[i]);
	free(ld->handlers);
	for (size_t i = 0; i < ld->nseen; i++)
		free(ld->seen[i].params);
	free(ld->seen);
	if (ld->L)
		lua_close(ld->L);
}

static kp_rc plan_load(const char *path, const char *roles_path, const char *data, size_t len,
		       struct kp_plan **out, struct kp_buf *err)
{
	struct kp_loader ld = {.err = err, .top_data = data, .top_len = len};
	struct kp_plan *plan = kp_xcalloc(1, sizeof(*plan));
	kp_rc rc;

	plan->roles_path = roles_path ? kp_xstrdup(roles_path) : NULL;
	plan->path = kp_xstrdup(path);
	plan->dir = kp_path_dir(path);
	ld.plan = plan;
	ld.synth = kp_xcalloc(1, sizeof(*ld.synth));
	ld.synth->file = kp_xstrdup("<kplan>");
	KP_GROW(plan->docs, plan->ndocs + 1, plan->capdocs);
	plan->docs[plan->ndocs++] = ld.synth;

	rc = load_plan_file(&ld, path, path, NULL);
	loader_release(&ld);
	if (rc) {
		kp_plan_free(plan);
		return rc;
	}
	*out = plan;
	return KP_OK;
}

kp_rc kp_plan_load(const char *path, struct kp_plan **out, struct kp_buf *err)
{
	return plan_load(path, NULL, NULL, 0, out, err);
}

kp_rc kp_plan_load_roles(const char *path, const char *roles_path, struct kp_plan **out,
			 struct kp_buf *err)
{
	return plan_load(path, roles_path, NULL, 0, out, err);
}

kp_rc kp_plan_load_string(const char *path, const char *data, size_t len, struct kp_plan **out,
			  struct kp_buf *err)
{
	return plan_load(path, NULL, data, len, out, err);
}

kp_rc kp_plan_load_include(struct kp_plan *plan, const struct kp_task *inc, const char *file,
			   struct kp_task **out, struct kp_buf *err)
{
	struct kp_loader ld = {.err = err, .plan = plan, .synth = plan->docs[0]};
	struct kp_task_ctx ctx = {.ld = &ld, .dir = inc->include_dir, .play_dir = inc->include_dir};
	char *path = kp_path_join(inc->include_dir, file);
	for (size_t i = 0; i < plan->ndyn; i++)
		if (!strcmp(plan->dyn[i]->import_path, path)) {
			free(path);
			*out = plan->dyn[i];
			return KP_OK;
		}
	struct kp_task *t = kp_task_new(inc->pos);
	kp_rc rc = kp_load_task_file(&ctx, t, path, file, NULL, "include_tasks");
	loader_release(&ld);
	t->import_path = path;
	if (rc) {
		kp_task_free(t);
		return rc;
	}
	plan->dyn = kp_xrealloc(plan->dyn, (plan->ndyn + 1) * sizeof(*plan->dyn));
	plan->dyn[plan->ndyn++] = t;
	*out = t;
	return KP_OK;
}
