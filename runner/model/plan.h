/*
 * plan.h - the validated plan model.
 *
 * kp_plan_load() reads a plan and everything it imports (import_plan,
 * import_playbook, import_tasks, roles, import_role, the include_tasks and
 * include_role whose names are literal, literal vars_files, hook files),
 * checks every key, module argument and expression, and builds this model. A plan that loads is one
 * that can run: nothing later finds a syntax error.
 *
 * Ownership: the plan owns everything reachable from it, including the YAML
 * documents whose file names the kp_pos fields point at; kp_plan_free()
 * releases it all.
 */
#ifndef KP_PLAN_H
#define KP_PLAN_H

#include "core/buf.h"
#include "core/strlist.h"
#include "expr/expr.h"
#include "modules/module.h"
#include "core/value.h"
#include "core/ytree.h"

enum kp_tristate { KP_UNSET = -1, KP_NO = 0, KP_YES = 1 };

/* A role as read from its directory (Ansible's layout): its defaults/ and
 * vars/ main files. Its tasks and handlers are copied into each use. */
struct kp_role {
	char *name;			  /* as written in the play ("upgrade/pre-upgrade") */
	char *path;			  /* the role's directory, absolute */
	struct kp_value *defaults, *vars; /* maps, possibly empty */
};

/* One use of a role (an entry of `roles:`, an import_role or include_role):
 * what its tasks and handlers see above the play's variables. */
struct kp_roleuse {
	const struct kp_role *role;
	struct kp_value *defaults, *vars; /* this use's (defaults_from/vars_from) */
	/* role params and `vars:` of the entry, with role_name and role_path */
	struct kp_value *params;
	bool private_vars; /* include_role: only its own tasks see them... */
	bool public_after; /* ...unless `public: true`: then later tasks too, once it ran */
	/* roles: entries and dependencies run once on a host in a play with
	 * the same parameters (when and tags count): the first such use, or
	 * NULL when this use always runs (import_role, include_role, a role
	 * whose meta allows duplicates) */
	const struct kp_roleuse *once;
};

enum kp_include { KP_INC_NONE, KP_INC_TASKS, KP_INC_ROLE };

struct kp_task {
	char *name;		       /* as written (may hold {{ }}), or NULL */
	struct kp_template *name_tmpl; /* compiled name, or NULL */
	struct kp_pos pos;	       /* the task's mapping */
	/* a module task (module != NULL) or a block (block != NULL) */
	const struct kp_module *module;
	struct kp_pos module_pos;
	struct kp_tvalue *args; /* a map; free-form text is stored under module->free_form */
	struct kp_task **block, **rescue, **always;
	size_t nblock, nrescue, nalways;

	struct kp_expr **when; /* all must hold; a list `when:` is and-ed */
	size_t nwhen;
	char *register_var;
	struct kp_tvalue *loop;
	char *loop_var;			/* default "item" */
	struct kp_template *loop_label; /* loop_control.label, or NULL */
	char *loop_with;		/* with_<name>: the lookup's name; loop holds its terms */
	int64_t loop_pause_ms;		/* loop_control.pause: between items */
	bool loop_extended;		/* loop_control.extended: ansible_loop */
	bool loop_no_allitems;		/* loop_control.extended_allitems: false */
	struct kp_expr *until;
	int retries;	  /* default 3 when until is set */
	int64_t delay_ms; /* default 5000 */
	/* retries / delay written as "{{ }}": rendered per host when the task
	 * runs (then retries/delay_ms above are unused) */
	struct kp_template *retries_t, *delay_t, *timeout_t;
	/* ignore_errors and throttle written as "{{ }}": rendered when the task runs */
	struct kp_template *ignore_errors_t, *throttle_t, *no_log_t, *run_once_t;
	/* become written as "{{ }}": rendered per host when the task runs */
	struct kp_template *become_t;
	struct kp_expr **failed_when;
	size_t nfailed_when;
	struct kp_expr **changed_when;
	size_t nchanged_when;
	bool ignore_errors, ignore_unreachable;
	enum kp_tristate become;
	char *become_user;
	struct kp_template *delegate_to;
	/* delegate_facts: the facts the task sets (a module's ansible_facts,
	 * set_fact) go to the delegate_to host, not to the task's own */
	bool delegate_facts;
	bool local_connection; /* connection: local: the module runs on the controller */
	bool run_once;
	char **notify;
	size_t nnotify;
	char **listen; /* handlers only */
	size_t nlisten;
	char **tags; /* own tags; inherited ones are added by the scheduler */
	size_t ntags;
	bool no_log;
	int64_t timeout_ms; /* 0: the run's default */
	enum kp_tristate check_mode;
	struct kp_tvalue *environment;	      /* a map, or NULL */
	int throttle;			      /* 0: no limit */
	enum kp_tristate diff;		      /* diff: per task */
	int64_t async_s;		      /* async: seconds the module may run (0: not async) */
	int64_t poll_s;			      /* poll: seconds between checks; 0 fire and forget */
	struct kp_template *async_t, *poll_t; /* async / poll written as "{{ }}" */
	struct kp_tvalue *module_defaults;    /* module_defaults: a map, or NULL */

	/* added by the loader */
	char *index_var;	   /* loop_control.index_var, or NULL */
	struct kp_pos *notify_pos; /* where each notify entry was written */
	char *import_path;	   /* import_tasks file (resolved) this block came from, or NULL */

	/* roles and includes */
	/* a block holding a role's tasks, or a role's handler: it runs with the
	 * role's variables (borrowed from the plan) */
	const struct kp_roleuse *role;
	/* include_tasks / include_role: a dynamic block. `when` and `loop`
	 * belong to the include and are evaluated per host when it runs; the
	 * included tasks are `block` (loaded now when the file name is
	 * literal), or loaded when run from include_file (with {{ }}) */
	enum kp_include include;
	struct kp_template *include_file;
	char *include_dir; /* where a relative include_file is looked for */
	/* `vars:` of an include or import (a map whose values are templated
	 * when used), or NULL */
	struct kp_value *include_vars;
	struct kp_task *apply; /* `apply:` keywords, as a block without tasks, or NULL */
};

/* serial: a list of steps; each is a count or a percentage */
struct kp_serial_step {
	bool percent;
	int64_t n;
};

enum kp_order {
	KP_ORDER_INVENTORY,
	KP_ORDER_REVERSE_INVENTORY,
	KP_ORDER_SORTED,
	KP_ORDER_REVERSE_SORTED,
	KP_ORDER_SHUFFLE
};
enum kp_strategy { KP_STRATEGY_LINEAR, KP_STRATEGY_FREE };

enum kp_hook_point {
	KP_HOOK_BEFORE_PLAY,
	KP_HOOK_BEFORE_BATCH,
	KP_HOOK_BEFORE_HOST,
	KP_HOOK_BEFORE_TASK,
	KP_HOOK_AFTER_TASK,
	KP_HOOK_AFTER_HOST,
	KP_HOOK_AFTER_BATCH,
	KP_HOOK_AFTER_PLAY,
	KP_HOOK_ON_FAILURE,
	KP_HOOK_COUNT
};
extern const char *const kp_hook_names[KP_HOOK_COUNT];

struct kp_hook {
	char *path; /* the Lua file (resolved against the plan's file), or NULL */
	char *code; /* the file's contents, or the inline `lua:` code */
	struct kp_pos pos;
};

/* A disruption-aware window (`window: auto` or a mapping). */
struct kp_window_rule {
	bool aware;	    /* the window reads the cluster before each host */
	bool budget;	    /* budget: pdb */
	bool max_set;	    /* max written (else --forks caps it) */
	int min_ready;	    /* nodes that stay schedulable (0: no floor) */
	bool min_ready_pct; /* min_ready is a percentage of the cluster's nodes */
};

struct kp_play {
	char *name;
	struct kp_pos pos;
	/* host pattern; when written with {{ }}, hosts_t is its template and
	 * kp_plan_render_hosts (vars.h) replaces hosts with the rendering */
	char *hosts;
	struct kp_template *hosts_t;
	struct kp_pos hosts_pos;
	struct kp_serial_step *serial; /* NULL/0: one batch */
	size_t nserial;
	/* serial written with "{{ }}": rendered with hosts (kp_plan_render_hosts)
	 * from play vars, vars_files and extra vars */
	struct kp_tvalue *serial_tv;
	struct kp_pos serial_pos;
	int window; /* 0: not set; the cap on hosts in flight */
	/* window: auto or {max, budget, min_ready}: a host starts only when the
	 * cluster can take it (kube/kubewindow.h) */
	struct kp_window_rule wrule;
	int max_fail_percentage; /* -1: not set */
	bool any_errors_fatal;
	struct kp_tvalue *any_errors_fatal_tv; /* written as "{{ }}": set when hosts render */
	/* task keywords set on the play, inherited by its tasks */
	bool run_once, ignore_errors, ignore_unreachable, no_log;
	enum kp_order order;
	enum kp_strategy strategy;
	enum kp_tristate become;
	char *become_user, *become_method, *remote_user, *connection;
	struct kp_tvalue *environment;
	enum kp_tristate check_mode, diff;
	int throttle; /* hosts at once for every task; 0: no limit */
	/* vars_prompt: each entry a map (name, prompt, default, private,
	 * confirm, unsafe), answered when the plan loads (load.c) */
	struct kp_value *vars_prompt;
	struct kp_pos vars_prompt_pos;
	struct kp_value *vars;	  /* map (may hold unrendered "{{ }}" strings) */
	struct kp_tvalue *vars_t; /* the same, compiled */
	char **vars_files;	  /* paths as written (resolved against the plan's dir) */
	struct kp_pos *vars_files_pos;
	struct kp_value *
	    *vars_files_loaded; /* loaded at load time when the path is literal, else NULL */
	size_t nvars_files;
	struct kp_task **pre_tasks, **tasks, **post_tasks, **handlers;
	size_t npre_tasks, ntasks, npost_tasks, nhandlers;
	struct kp_hook *hooks[KP_HOOK_COUNT];
	size_t nhooks[KP_HOOK_COUNT];
	char **tags;
	size_t ntags;
	bool confirm;
	int64_t pause_between_batches_ms;
	char *run_lock;
	/* gather_facts: KP_YES gathers at the play's start, KP_NO never,
	 * KP_UNSET on the first use of a fact (engine/facts.c) */
	enum kp_tristate gather_facts;
	char **gather_subset; /* as written, NULL: Ansible's default "all" */
	size_t ngather_subset;
	char *plan_file; /* the file this play was written in */
	/* the defaults and vars of the play's roles (roles:, import_role and
	 * their dependencies), merged in the order they load: every task of
	 * the play sees them, as Ansible's private_role_vars = False */
	struct kp_value *role_defaults, *role_vars;
	struct kp_value *role_names; /* list of the roles' names */
	/* hook_limits: per call of a hook or `lua` step; 0 = the default
	 * (KP_HOOK_STEPS_DEFAULT, KP_HOOK_MEM_DEFAULT in hooks.h) */
	uint64_t hook_max_instructions;
	size_t hook_max_memory;
};

struct kp_plan {
	char *path;
	char *dir; /* directory of the top plan file */
	struct kp_play **plays;
	size_t nplays;
	struct kp_doc **docs; /* every YAML document loaded, kept for positions */
	size_t ndocs, capdocs;
	char **files; /* every file loaded (plans, task files, vars files, hooks) */
	size_t nfiles, capfiles;
	/* what loads but deserves a word ("file:line:col: module 'dnf' is
	 * ansible-core's, ..."), one line each, printed by the command */
	struct kp_strlist warnings;
	char *roles_path;	/* ':'-separated, from ansible.cfg / ANSIBLE_ROLES_PATH, or NULL */
	struct kp_role **roles; /* every role read, once each */
	size_t nroles;
	struct kp_roleuse **roleuses;
	size_t nroleuses;
	/* task files loaded while the plan runs (include_tasks with {{ }}),
	 * kept until the plan is freed */
	struct kp_task **dyn;
	size_t ndyn;
};

kp_rc kp_plan_load(const char *path, struct kp_plan **out, struct kp_buf *err);
/* The same with the top file's text given (tests, fuzzing): `path` names it
 * in messages, and what it imports is found relative to it. */
kp_rc kp_plan_load_string(const char *path, const char *data, size_t len, struct kp_plan **out,
			  struct kp_buf *err);
/* The same with a roles_path (':'-separated directories where roles are
 * looked for after roles/ beside the plan; NULL for none). */
kp_rc kp_plan_load_roles(const char *path, const char *roles_path, struct kp_plan **out,
			 struct kp_buf *err);
void kp_plan_free(struct kp_plan *plan);

/* The tasks of an include_tasks whose file name was a template, rendered
 * to `file` when it ran: loaded (relative to the include's directory),
 * validated and kept in the plan (the same file again gives the same
 * tasks). Not thread-safe: one caller at a time. */
kp_rc kp_plan_load_include(struct kp_plan *plan, const struct kp_task *inc, const char *file,
			   struct kp_task **out, struct kp_buf *err);

/* Free a task and everything it owns (blocks recursively). */
void kp_task_free(struct kp_task *t);

/* A Lua identifier that is not a Lua keyword: what `register`, `vars`,
 * `set-fact` and loop variables accept. */
bool kp_valid_var_name(const char *s);

/* The items of a task's loop (t->loop set): `loop:` rendered (a list, or
 * Ansible's "Invalid data passed to 'loop'" error), or a with_<name>
 * loop's terms rendered, listified and given to that lookup (loops.c). */
struct kp_scope;
kp_rc kp_task_loop_items(struct kp_lua *L, const struct kp_task *t, const struct kp_scope *scope,
			 struct kp_value **out, struct kp_buf *err);

/* The variables of item i of a loop (a new map): the loop variable,
 * ansible_loop_var, the index_var and ansible_index_var when set, and
 * ansible_loop when loop_control.extended (its allitems unless
 * extended_allitems is false). Each item's result carries them too. */
struct kp_value *kp_loop_vars(const struct kp_task *t, const struct kp_value *items, size_t i);

/* The display name of a task: its name, or the module name (or "block"). */
const char *kp_task_display_name(const struct kp_task *t);

/* Parse a `window` value: a count, auto, or {max, budget, min_ready}
 * (plan_window.c). *width gets the cap (INT32_MAX: none written). */
kp_rc kp_parse_window(const struct kp_node *n, int *width, struct kp_window_rule *r,
		      struct kp_buf *err);
/* How a disruption-aware window decides, for plan, check and run (one
 * sentence, no newline). */
void kp_window_describe(const struct kp_play *p, size_t nhosts, int forks, struct kp_buf *b);
/* Parse a `serial` value: an int, a percentage string, or a list of them.
 * Errors name the node. */
kp_rc kp_parse_serial(const struct kp_node *n, struct kp_serial_step **out, size_t *nout,
		      struct kp_buf *err);
/* The same from a rendered value (a templated serial); errors name pos. */
kp_rc kp_serial_from_value(const struct kp_value *v, struct kp_pos pos, struct kp_serial_step **out,
			   size_t *nout, struct kp_buf *err);

#endif
