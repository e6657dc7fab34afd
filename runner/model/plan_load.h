/*
 * plan_load.h - private to the plan loader (plan.c, plan_util.c,
 * plan_task.c): the loading context and the typed key readers they share.
 * Nothing outside the loader includes this.
 */
#ifndef KP_PLAN_LOAD_H
#define KP_PLAN_LOAD_H

#include <string.h>

#include "model/plan.h"

#define KP_IMPORT_MAX_DEPTH 64
/* Tasks one plan may load, blocks and imports expanded: a file imported
 * twice by each of N files would otherwise give 2^N (the hosts have
 * their limit too, KP_MAX_INVENTORY_HOSTS). */
#define KP_MAX_PLAN_TASKS 100000

struct lua_State;

/* One file in the chain of imports being loaded, for recursion checks. */
struct kp_import_link {
	char *real;  /* realpath(), for identity */
	char *shown; /* the path as the user sees it in messages */
};

struct kp_loader {
	struct kp_plan *plan;
	struct kp_buf *err;
	struct kp_import_link chain[KP_IMPORT_MAX_DEPTH + 2];
	size_t depth;
	struct kp_doc *synth; /* nodes the loader makes (k=v and merged args) */
	struct lua_State *L;  /* for syntax checks, made on first use */
	/* kp_plan_load_string: the top file's text, read instead of the file */
	const char *top_data;
	size_t top_len;
	size_t ntasks;			 /* loaded so far, for KP_MAX_PLAN_TASKS */
	const struct kp_node *import_at; /* the import_tasks being loaded, or NULL */
	/* roles of the play being loaded: those already in it (a role runs
	 * once with the same parameters), their handlers (added before the
	 * play's own), and how deep dependencies nest */
	struct kp_seen_role {
		const struct kp_roleuse *use;
		char *params; /* JSON of its parameters, when and tags */
	} * seen;
	size_t nseen, capseen;
	struct kp_task **handlers;
	size_t nhandlers;
	size_t role_depth;
};

/* What the task parser needs to know about where it is. */
struct kp_task_ctx {
	struct kp_loader *ld;
	const char *dir;	       /* directory of the file being read (import_tasks) */
	const char *play_dir;	       /* directory of the play's plan file (lua scripts) */
	bool handlers;		       /* parsing a play's handlers: `listen` allowed */
	const struct kp_roleuse *role; /* inside a role: its use, else NULL */
	struct kp_play *play;	       /* the play being loaded (NULL: an include at run time) */
	/* module_defaults and collections of the play and the enclosing
	 * blocks, outermost first */
	const struct kp_node *mdefs[16];
	size_t nmdefs;
	const struct kp_node *colls[16];
	size_t ncolls;
};

/* How a role is used (role.c). */
struct kp_role_opts {
	const struct kp_value *params; /* role parameters and `vars:`, or NULL */
	const char *tasks_from, *vars_from, *defaults_from, *handlers_from;
	const struct kp_value *entry_vars; /* `vars:` of a roles: entry (under the role's vars) */
	bool private_vars;		   /* include_role: not exposed to the play when loaded */
	bool public_after;		   /* include_role with public: true */
	bool check_dup;			   /* `roles:` and dependencies: once per play */
	const char *dup_extra; /* when and tags of the entry, as JSON (part of its identity) */
};

/* plan_module.c: check a module_defaults value (a mapping of module names to
 * argument mappings, or a list of them) and a collections list. */
kp_rc kp_check_module_defaults(struct kp_loader *ld, const struct kp_node *v, struct kp_buf *err);
kp_rc kp_check_collections(const struct kp_node *v, struct kp_buf *err);
/* The module `name` as the play's and the task's (own_colls) collections
 * resolve it, or NULL. */
const struct kp_module *kp_plan_find_module(const struct kp_task_ctx *ctx,
					    const struct kp_node *own_colls, const char *name);
/* The module task's arguments (key: val of mapping `task`) into t->args,
 * with module_defaults applied and the argument spec checked. */
kp_rc kp_plan_parse_module(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *task,
			   const struct kp_node *key, const struct kp_node *val);

static inline struct kp_pos kp_node_pos(const struct kp_node *n)
{
	struct kp_pos p = {n->file, n->line, n->col};
	return p;
}

static inline bool kp_node_has_template(const struct kp_node *n)
{
	return n->type == KP_N_SCALAR && strstr(n->str, "{{") != NULL;
}

/* plan_util.c */
char *kp_path_join(const char *dir, const char *path);
char *kp_path_dir(const char *path);
/* Read a YAML file written as `written` (resolved to `path`) on behalf of the
 * node `at` (NULL: the top plan file): "cannot read 'x': ..." at `at`. The
 * document is kept in the plan. */
kp_rc kp_loader_yaml(struct kp_loader *ld, const char *path, const char *written,
		     const struct kp_node *at, struct kp_doc **out);
/* Read a Lua file and check its syntax; *code gets the text (caller frees). */
kp_rc kp_loader_lua_file(struct kp_loader *ld, const char *path, const char *written,
			 const struct kp_node *at, char **code);
kp_rc kp_loader_lua_check(struct kp_loader *ld, const char *code, size_t len, const char *chunk,
			  const struct kp_node *at);
/* Push `real`/`shown` on the import chain, or fail naming the cycle. */
kp_rc kp_loader_enter(struct kp_loader *ld, const char *path, const char *written, const char *what,
		      const struct kp_node *at);
void kp_loader_leave(struct kp_loader *ld);
/* Whether path is one of the files being loaded (an include of it would
 * recurse). */
bool kp_loader_loading(const struct kp_loader *ld, const char *path);
void kp_loader_add_file(struct kp_loader *ld, const char *path);

struct kp_node *kp_synth_scalar(struct kp_loader *ld, const struct kp_node *at, const char *s,
				size_t len, bool quoted);
struct kp_node *kp_synth_map(struct kp_loader *ld, const struct kp_node *at);
void kp_synth_map_add(struct kp_node *map, struct kp_node *key, struct kp_node *val);

/* Typed readers: each names the key in its message ("'retries' must be ..."). */
kp_rc kp_get_str(const struct kp_node *n, const char *key, char **out, struct kp_buf *err);
kp_rc kp_get_bool(const struct kp_node *n, const char *key, bool *out, struct kp_buf *err);
kp_rc kp_get_int(const struct kp_node *n, const char *key, int64_t min, int64_t max, int64_t *out,
		 struct kp_buf *err);
kp_rc kp_get_duration(const struct kp_node *n, const char *key, int64_t *ms, struct kp_buf *err);
kp_rc kp_get_choice(const struct kp_node *n, const char *key, const char *const *choices, int *out,
		    struct kp_buf *err);
/* A string or a list of strings; *pos (optional) gets each entry's position. */
kp_rc kp_get_strlist(const struct kp_node *n, const char *key, char ***out, size_t *nout,
		     struct kp_pos **pos, struct kp_buf *err);
kp_rc kp_check_var_name(const struct kp_node *n, const char *name, struct kp_buf *err);
void kp_unknown_key(const struct kp_node *key, const char *where, const char *const *known,
		    size_t nknown, struct kp_buf *err);
void kp_strv_free(char **v, size_t n);

/* plan_hooks.c: a play's `hooks:` (scripts from dir) and `hook_limits:`. */
kp_rc kp_plan_parse_hooks(struct kp_loader *ld, struct kp_play *p, const char *dir,
			  const struct kp_node *n);
kp_rc kp_plan_parse_hook_limits(struct kp_play *p, const struct kp_node *n, struct kp_buf *err);

/* plan_task.c */
kp_rc kp_parse_tasks(struct kp_task_ctx *ctx, const struct kp_node *list, const char *key,
		     struct kp_task ***out, size_t *nout);

/* A new task with the defaults parse_task gives. */
struct kp_task *kp_task_new(struct kp_pos pos);
/* Read task file `path` (written as `written`, named at node v, NULL at
 * run time) into t->block; `what` names the import in messages. */
kp_rc kp_load_task_file(struct kp_task_ctx *ctx, struct kp_task *t, const char *path,
			const char *written, const struct kp_node *v, const char *what);
/* One keyword of a task or block (when, tags, become, ...). */
kp_rc kp_task_keyword(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *k,
		      const struct kp_node *v);

/* role.c: t becomes the block of role `name` (its dependencies, then its
 * tasks), its handlers go to ctx->ld->handlers. */
kp_rc kp_role_block(struct kp_task_ctx *ctx, const struct kp_node *at, const char *name,
		    const struct kp_role_opts *o, struct kp_task *t);
/* An entry of `roles:` or meta `dependencies:` as a block. */
kp_rc kp_role_entry(struct kp_task_ctx *ctx, const struct kp_node *n, struct kp_task **out);
/* Where a literal template/copy `src` of a role's task is (malloc'd), or
 * NULL to keep it as written. */
char *kp_role_src(const struct kp_roleuse *u, const char *module, const char *src);

/* plan_free.c: a play and all it holds (a play not yet in a plan). */
void kp_play_free(struct kp_play *p);

#endif
