/*
 * module.h - the contract every built-in module follows, and the registry.
 *
 * Each module is one modules/<name>.c exporting one `const struct kp_module`
 * with designated initializers; modules/registry.c lists them all. A module
 * declares its arguments (name, type, required, default, allowed values)
 * and the loader checks every task against that spec at load time, so the
 * module's own code only ever sees well-formed arguments.
 *
 * A module has two phases: probe (read-only: find the current state, report
 * what would change) and apply (make the changes the probe found needed).
 */
#ifndef KP_MODULE_H
#define KP_MODULE_H

#include "buf.h"
#include "expr.h"
#include "value.h"
#include "ytree.h"

enum kp_argtype {
	KP_T_STR,
	KP_T_INT,
	KP_T_BOOL,
	KP_T_LIST,
	KP_T_DICT,
	KP_T_DURATION, /* 30, "30s", "5m", "1h" */
	KP_T_PATH,
	KP_T_STR_OR_LIST, /* a string, or a list of strings */
	KP_T_ANY,
};

struct kp_argspec {
	const char *name;
	enum kp_argtype type;
	bool required;
	const char *def;	    /* default in YAML spelling, or NULL */
	const char *const *choices; /* NULL-terminated allowed values, or NULL */
	const char *help;
};

/* flags */
#define KP_MOD_ANY_ARGS (1u << 0) /* any key is an argument (set-fact) */
#define KP_MOD_READONLY (1u << 1) /* never changes anything (debug, assert) */
#define KP_MOD_LOCAL	(1u << 2) /* runs on the controller only */

struct kp_modctx; /* the per-host execution context (execution engine) */
struct kp_result; /* a task result */

struct kp_module {
	const char *name;
	const char *summary;
	const struct kp_argspec *args; /* terminated by an entry with name == NULL */
	unsigned flags;
	const char *free_form;	      /* the argument a string form fills ("cmd"), or NULL */
	const char *const *one_of;    /* "a|b": exactly one of these is required */
	const char *const *exclusive; /* "a|b": at most one of these */
	/* MUST: read-only probe. MAY be NULL only until the module is implemented. */
	kp_rc (*probe)(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
	/* MAY: apply; NULL for read-only modules. */
	kp_rc (*apply)(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
};

extern const struct kp_module *const kp_modules[];
extern const size_t kp_nmodules;

/* By name; also accepts Ansible spellings: "set_fact" for "set-fact",
 * "ansible.builtin.copy" for "copy". */
const struct kp_module *kp_module_find(const char *name);
/* The registered name closest to `name`, for "did you mean". */
const char *kp_module_suggest(const char *name);
const struct kp_argspec *kp_module_arg(const struct kp_module *m, const char *name);

/* Load-time check of a task's arguments (a mapping node, or NULL for none):
 * unknown names (with a suggestion), missing required ones, one_of and
 * exclusive groups, and the type and allowed values of every argument that
 * holds no template. Errors name file:line:col. */
kp_rc kp_module_check_args(const struct kp_module *m, const struct kp_node *args,
			   const struct kp_node *task, struct kp_buf *err);
/* Run-time check after templating: types (converting "5" to 5 where an int
 * is wanted, durations to milliseconds) and defaults filled in. Returns a
 * new map in *out. */
kp_rc kp_module_finish_args(const struct kp_module *m, const struct kp_value *args,
			    struct kp_value **out, struct kp_buf *err);
const char *kp_argtype_name(enum kp_argtype t);

#endif
