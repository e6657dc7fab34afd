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
};

/* What the task parser needs to know about where it is. */
struct kp_task_ctx {
	struct kp_loader *ld;
	const char *dir;      /* directory of the file being read (import_tasks) */
	const char *play_dir; /* directory of the play's plan file (lua scripts) */
	bool handlers;	      /* parsing a play's handlers: `listen` allowed */
	/* module_defaults and collections of the play and the enclosing
	 * blocks, outermost first */
	const struct kp_node *mdefs[16];
	size_t nmdefs;
	const struct kp_node *colls[16];
	size_t ncolls;
};

/* plan_task.c: check a module_defaults value (a mapping of module names to
 * argument mappings, or a list of them) and a collections list. */
kp_rc kp_check_module_defaults(const struct kp_node *v, struct kp_buf *err);
kp_rc kp_check_collections(const struct kp_node *v, struct kp_buf *err);

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

/* plan_task.c */
kp_rc kp_parse_tasks(struct kp_task_ctx *ctx, const struct kp_node *list, const char *key,
		     struct kp_task ***out, size_t *nout);

/* plan_free.c: a play and all it holds (a play not yet in a plan). */
void kp_play_free(struct kp_play *p);

#endif
