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

#include "core/buf.h"
#include "expr/expr.h"
#include "core/value.h"
#include "core/ytree.h"

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
	/* what the loader checks beyond the type, when the value holds no
	 * template: Lua code (its syntax), or a Lua file relative to the
	 * play's plan file (that it reads and compiles) */
	enum { KP_CHECK_NONE, KP_CHECK_LUA_CODE, KP_CHECK_LUA_FILE } check;
	/* another spelling Ansible accepts (file's `dest` for `path`): given
	 * this name, the value is the named argument's */
	const char *alias_of;
};

/* Ansible's SELinux context arguments of the file modules. kplan's nodes
 * run without SELinux, where Ansible ignores them too: accepted, no effect. */
#define KP_ARGS_SELINUX                                                                            \
	{.name = "setype", .type = KP_T_STR, .help = "SELinux type (no effect)"},                  \
	    {.name = "seuser", .type = KP_T_STR, .help = "SELinux user (no effect)"},              \
	    {.name = "serole", .type = KP_T_STR, .help = "SELinux role (no effect)"},              \
	{                                                                                          \
		.name = "selevel", .type = KP_T_STR, .help = "SELinux level (no effect)"           \
	}

/* flags */
#define KP_MOD_ANY_ARGS (1u << 0) /* any key is an argument (set-fact) */
#define KP_MOD_READONLY (1u << 1) /* never changes anything (debug, assert) */
#define KP_MOD_LOCAL	(1u << 2) /* runs on the controller only */
/* What a module needs from the engine; the engine fills the matching
 * kp_modctx fields for these modules only. */
#define KP_MOD_KUBE	(1u << 3) /* a Kubernetes client: kubeconfig, control_plane_exec */
#define KP_MOD_HOOK_API (1u << 4) /* the kplan Lua API on real hosts: run_lua */
/* How the engine and previews treat the result and the arguments */
#define KP_MOD_SHOWS_MSG (1u << 5) /* msg is the point: printed even when ok (debug) */
#define KP_MOD_SETS_VARS (1u << 6) /* the arguments' keys are variables set (set-fact) */
/* ansible-core's, not kplan's (absent.c): the plan loads with a warning, a
 * host reaching the task fails; its arguments are neither checked nor kept */
#define KP_MOD_ABSENT (1u << 7)
/* sets variables whose names are known only when it runs (include_vars):
 * a preview takes any undefined name for one it may set ("*" among the
 * scope's unknown names) */
#define KP_MOD_SETS_SOME_VARS (1u << 8)
/* runs for the first host of the list only, as run_once (add_host) */
#define KP_MOD_ONCE (1u << 9)
/* async with poll: 0 starts it on the node and returns (modctx.async_jid) */
#define KP_MOD_ASYNC_BG (1u << 10)
/* asks the engine to change the run's flow (meta): what it asks is not in
 * the journal, so --resume runs it again instead of skipping it as done */
#define KP_MOD_FLOW (1u << 11)

struct kp_conn;
struct kp_exec_req;
struct kp_exec_res;

/* A Lua chunk for ctx->run_lua: the code, and the script's path (NULL for
 * inline code, which is then named by the task's position). */
struct kp_lua_chunk {
	const char *code;
	size_t len;
	const char *path;
	const struct kp_value *args; /* ctx.args of the step (a map), or NULL */
};
/* How a Lua step ended: it returned (*ret, or NULL), failed or skipped
 * itself (with msg). */
enum kp_step_outcome { KP_STEP_OK, KP_STEP_FAILED, KP_STEP_SKIPPED };

/* What a task leaves behind on the cluster, for the run journal (a resume
 * must know which nodes this run left cordoned). */
struct kp_leftover {
	const char *node; /* the Kubernetes node, or NULL: nothing left */
	bool cordoned;	  /* left cordoned (true) or uncordoned (false) */
};

/* What a task asks of the engine beyond its own result (meta): the engine
 * acts on it once the task ran on every host of its list. */
enum kp_flow {
	KP_FLOW_NONE,
	KP_FLOW_FLUSH_HANDLERS,	   /* run the handlers notified so far, now */
	KP_FLOW_END_HOST,	   /* this host leaves the play, not failed */
	KP_FLOW_END_BATCH,	   /* every host of the batch leaves it; the next batch runs */
	KP_FLOW_END_PLAY,	   /* every host leaves the play; no later batch of it runs */
	KP_FLOW_CLEAR_HOST_ERRORS, /* the play's failed hosts are back in it */
	KP_FLOW_RESET_CONNECTION,  /* close the host's connection; the next task opens one */
	/* add_host, group_by: the result's add_host {host_name, groups,
	 * host_vars} or add_group and parent_groups (Ansible's keys) change
	 * the inventory after the task (a linear play's later tasks see them)
	 * or once the play ends */
	KP_FLOW_INVENTORY,
	KP_FLOW_CLEAR_FACTS, /* the gathered facts of the batch's hosts are gone */
};

/* What one task did on one host. Owned by the engine; modules fill it. */
struct kp_result {
	bool changed, failed, skipped;
	bool unreachable; /* the connection broke: set by the engine */
	bool has_rc;
	int rc;
	struct kp_buf out;	   /* stdout of the module's main command */
	struct kp_buf err;	   /* stderr of the same */
	struct kp_buf msg;	   /* one line for the operator: what changed or why it failed */
	struct kp_buf diff;	   /* unified diff of what changed (shown with --diff) */
	struct kp_buf cmds;	   /* every command run, one per line (shown with -v) */
	struct kp_value *facts;	   /* module facts (map), registered with the result */
	struct kp_value *set_vars; /* set-fact: host variables to set (map), or NULL */
	enum kp_flow flow;	   /* meta: what the engine is asked to do */
	int64_t duration_ms;
	bool timed_out; /* a command ran past its timeout (kp_mod_fail_timeout) */
};
void kp_result_init(struct kp_result *r);
void kp_result_release(struct kp_result *r);
/* The registered form: rc, stdout, stderr, stdout_lines, stderr_lines,
 * changed, failed, skipped, msg, and every fact. */
struct kp_value *kp_result_to_value(const struct kp_result *r);

/* Everything a module sees for one task on one host. */
struct kp_modctx {
	const struct kp_module *module;
	const char *task_name;
	const char *host;	      /* inventory name of the host the task is for */
	struct kp_conn *conn;	      /* where to act: the host's, or delegate_to's */
	const struct kp_value *args;  /* checked, defaults filled (kp_module_finish_args) */
	const struct kp_scope *scope; /* the host's variables (template renders with them) */
	struct kp_lua *L;	      /* this thread's Lua state */
	bool check_mode;	      /* probe only; report what apply would do */
	bool diff;		      /* fill res->diff for files that change */
	int verbose;
	int64_t timeout_ms;	/* per command */
	const char *base_dir;	/* relative controller paths resolve here (the plan's dir) */
	const char *kubeconfig; /* the run's --kubeconfig (a controller path), or NULL */
	const char *const *env; /* "NAME=value" for every command (task environment), or NULL */
	void *state;		/* probe -> apply; freed with free_state */
	void (*free_state)(void *state);
	/* MAY be NULL (filled by the engine): run a command on the first host
	 * of the kube_control_plane group, for `api: kubectl` (drain,
	 * kube-node, kubeadm-upgrade). The engine opens that host's connection
	 * on first use and serialises its use with the host's own tasks (when
	 * that host is ctx->conn's, it runs on ctx->conn without locking
	 * again); become is the current task's. Contract as transport exec:
	 * KP_OK whenever the command ran; KP_ERR_NOTFOUND when there is no
	 * such group or host, KP_ERR_UNREACHABLE when it cannot be reached
	 * (the module fails the task; the host of the task is not marked
	 * unreachable). engine_ctx is for the engine's own use. */
	kp_rc (*control_plane_exec)(struct kp_modctx *ctx, const struct kp_exec_req *req,
				    struct kp_exec_res *r, struct kp_buf *err);
	/* The plan file that holds the task's play (or NULL): a custom
	 * step's script is relative to its directory. */
	const char *play_file;
	/* The file the task was written in (a plan or an imported task file):
	 * include_vars looks for its files next to it. */
	const char *task_file;
	/* Filled for KP_MOD_HOOK_API modules, NULL otherwise: run a Lua chunk
	 * in this thread's sandbox with the kplan API on real hosts, the play's
	 * hook limits and check mode; *ret is a new reference (or NULL). KP_OK
	 * whenever the chunk ran, whatever its outcome. */
	kp_rc (*run_lua)(struct kp_modctx *ctx, const struct kp_lua_chunk *chunk,
			 enum kp_step_outcome *outcome, struct kp_value **ret, struct kp_buf *msg);
	/* the run's Ctrl-C / SIGTERM count (or NULL): waits sleep with
	 * kp_sleep_interruptible on it */
	const volatile sig_atomic_t *interrupts;
	/* async_status: this host's async job `jid`, its registered result (a
	 * new reference), or NULL when there is no such job; cleanup forgets
	 * it. Filled by the engine. */
	struct kp_value *(*async_job)(struct kp_modctx *ctx, const char *jid, bool cleanup);
	/* async with poll: 0 on a command: start it on the node in the
	 * background as this job (kp_mod_async_start) and return, or NULL */
	const char *async_jid;
	void *engine_ctx; /* the engine's own, opaque to modules */
};

struct kp_module {
	const char *name;
	const char *summary;
	const struct kp_argspec *args; /* terminated by an entry with name == NULL */
	unsigned flags;
	const char *free_form;	      /* the argument a string form fills ("cmd"), or NULL */
	const char *const *one_of;    /* "a|b": exactly one of these is required */
	const char *const *exclusive; /* "a|b": at most one of these */
	/* MUST: read-only probe: find the current state; set res->changed when
	 * apply has something to do (in check mode: what would change, with the
	 * before -> after in res->msg). Runs no changing command. Returns an
	 * error only when the probe itself could not run. */
	kp_rc (*probe)(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
	/* MAY: apply what the probe found; called only when the probe set
	 * res->changed and not in check mode. NULL for read-only modules. */
	kp_rc (*apply)(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
	/* MAY: what a finished task (registered result, whether it failed)
	 * leaves behind on the cluster; NULL: nothing the journal records. */
	void (*leftover)(const struct kp_value *result, bool failed, struct kp_leftover *out);
	/* MAY: the offline preview's guess whether the task changes anything,
	 * from its rendered arguments; NULL: it does unless KP_MOD_READONLY. */
	bool (*pending)(const struct kp_value *args);
};

extern const struct kp_module *const kp_modules[];
extern const size_t kp_nmodules;

/* Other names a module answers to, as Ansible users write them
 * ("systemd_service", "kubernetes.core.k8s_drain"); registry.c, ended by
 * an entry with name == NULL. */
struct kp_module_alias {
	const char *name;
	const char *module; /* the registered name */
};
extern const struct kp_module_alias kp_module_aliases[];

/* By name; also accepts Ansible spellings: "set_fact" for "set-fact",
 * "ansible.builtin.copy" and "ansible.legacy.copy" for "copy", and the
 * aliases. A name of another collection ("community.general.x") is found
 * only when it is an alias. */
const struct kp_module *kp_module_find(const char *name);
/* The registered name closest to `name`, for "did you mean". */
const char *kp_module_suggest(const char *name);
/* A module ansible-core ships that kplan does not provide ("dnf",
 * "ansible.builtin.yum"): an entry flagged KP_MOD_ABSENT whose probe fails
 * the host; NULL for kplan's own modules and for any other name. */
const struct kp_module *kp_module_absent(const char *name);
/* Whether NAME is a module of a collection kplan provides nothing of
 * ("ansible.posix.sysctl"). */
bool kp_module_foreign(const char *name);
/* The collection's module a short name stands for in ansible-core 2.14
 * (`ini_file`: "community.general.ini_file"), or NULL (redirects.c). */
const char *kp_module_redirect(const char *name);
/* The error text for a name kp_module_find does not know: "unknown module
 * 'comand' (did you mean 'command'?)", or "module 'community.general.x'
 * belongs to collection 'community.general', which kplan does not
 * provide". */
void kp_module_unknown_text(const char *name, struct kp_buf *out);
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

/* Helpers for modules (modutil.c). */
/* Run a command on ctx->conn with the task's environment and timeout,
 * recording it in res->cmds. Exit status lands in r->rc. */
kp_rc kp_mod_exec(struct kp_modctx *ctx, struct kp_result *res, const struct kp_exec_req *req,
		  struct kp_exec_res *r, struct kp_buf *err);
kp_rc kp_mod_sh(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		struct kp_exec_res *r, struct kp_buf *err);
const char *kp_arg_str(const struct kp_modctx *ctx, const char *name); /* NULL if unset */
bool kp_arg_bool(const struct kp_modctx *ctx, const char *name);
int64_t kp_arg_int(const struct kp_modctx *ctx, const char *name); /* durations: ms */
const struct kp_value *kp_arg(const struct kp_modctx *ctx, const char *name);
/* A controller-side path: absolute, or relative to ctx->base_dir (malloc'd). */
char *kp_mod_local_path(const struct kp_modctx *ctx, const char *path);
/* Unified diff of two texts, labelled, into out (nothing when equal). */
void kp_unified_diff(const char *a, size_t alen, const char *b, size_t blen, const char *label_a,
		     const char *label_b, struct kp_buf *out);

/* More helpers shared by the general modules (modutil.c). */
struct kp_stat;
/* Fail the task (not the probe): res->failed, the message in res->msg,
 * res->changed cleared. Returns KP_OK so that `return kp_mod_failf(...)`
 * reads naturally: the module ran, the task failed. */
kp_rc kp_mod_failf(struct kp_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "command timed out after 5s (killed with its children)", using the
 * request's timeout or the task's. */
kp_rc kp_mod_fail_timeout(const struct kp_modctx *ctx, const struct kp_exec_req *req,
			  struct kp_result *res);
/* A helper command that must succeed: on timeout or non-zero exit, fail the
 * task naming the command and its first line of stderr; returns true then. */
/* A helper command that must work: run it (output into *r, released and
 * made anew first; r may be NULL when the output is not needed); *ok false
 * and the task failed, as kp_mod_cmd_failed words it, when it did not. */
kp_rc kp_mod_must(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		  struct kp_exec_res *r, bool *ok, struct kp_buf *err);
bool kp_mod_cmd_failed(const struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		       const struct kp_exec_res *r);
/* Backup stores on the controller (cert-copy, etcd-snapshot; confined
 * writes: modules/lib/store.h). */
/* The controller directory in argument `arg` (relative to ctx->base_dir,
 * trailing slashes dropped) with "/<host>" appended (malloc'd). */
char *kp_mod_store_dir(const struct kp_modctx *ctx, const char *arg, const char *host);
/* 300000 -> "300s", 1500 -> "1.5s", 250 -> "0.25s". */
void kp_mod_duration_text(int64_t ms, struct kp_buf *out);
/* "ab12cd34…": a SHA-256 shortened for messages; "none" for "". */
void kp_mod_short_sha(const char *hex, struct kp_buf *out);
/* The last path component ("" for "/"); trailing slashes are ignored. */
const char *kp_mod_basename(const char *path, struct kp_buf *tmp);
/* Split a command line into words as /bin/sh would, without expanding
 * anything: "a b" 'c' d\ e -> 3 words. *argv is NULL-terminated, freed with
 * kp_mod_free_words. */
kp_rc kp_mod_split_words(const char *cmd, char ***argv, struct kp_buf *err);
void kp_mod_free_words(char **argv);
/* A command line for messages and res->cmds: words quoted only when needed. */
void kp_mod_join_words(const char *const *argv, struct kp_buf *out);

/* Permissions and ownership (copy, template, file). */
struct kp_attrs {
	int mode;	   /* -1: leave alone */
	const char *owner; /* NULL: leave alone (borrowed from ctx->args) */
	const char *group;
};
/* "0644", "644", "0o644" (and an integer 644 as the YAML loader hands it
 * over, "644") -> 0644; symbolic modes and digits 8/9 are errors. */
kp_rc kp_mod_parse_mode(const char *s, int *mode, struct kp_buf *err);
/* mode, owner and group from ctx->args (a bad mode fails the task). */
kp_rc kp_mod_attrs_from_args(const struct kp_modctx *ctx, struct kp_result *res,
			     struct kp_attrs *a);
/* Whether st differs from want; the differences go to desc as
 * "mode 0600 -> 0644, owner root -> app" (appended after ", " if desc is
 * not empty). Mode is ignored for symbolic links. */
bool kp_mod_attrs_differ(const struct kp_stat *st, const struct kp_attrs *want,
			 struct kp_buf *desc);
/* chmod/chown path to want (only what st says differs; st NULL: all of
 * want). A failing command fails the task. */
kp_rc kp_mod_attrs_apply(struct kp_modctx *ctx, struct kp_result *res, const char *path,
			 const struct kp_stat *st, const struct kp_attrs *want, struct kp_buf *err);

/* Writing a whole file on the node when its content differs (copy,
 * template, lineinfile): set dest, data and the wishes, then probe; apply
 * writes only what the probe found. Owned by whoever made it; freed with
 * kp_put_plan_free (usable as ctx->free_state). */
struct kp_put_plan {
	char *dest; /* path on the node (malloc'd) */
	char *data; /* the new contents (malloc'd) */
	size_t len;
	struct kp_attrs want;
	bool backup;		 /* keep dest.<YYYYmmddHHMMSS>~ before overwriting */
	bool mkdir_parent;	 /* create dest's directory first (dest given as "dir/") */
	const char *validate;	 /* a command checking the new file ("%s": it), or NULL */
	bool validate_rc_in_msg; /* its failure as lineinfile words it, "rc:N error:..." */
	/* found by the probe */
	struct kp_stat *st; /* dest as it was (malloc'd) */
	bool write, attrs;  /* the content differs; only attributes differ */
	char new_sha[65];
	char *done_msg; /* res->msg once apply succeeded (malloc'd) */
};
struct kp_put_plan *kp_put_plan_new(void);
void kp_put_plan_free(void *plan);
/* Compare by SHA-256 (and attributes); set res->changed, res->msg
 * ("would write '/x' (sha256 ab12… -> cd34…)"), res->diff when ctx->diff,
 * and the facts dest, checksum and size. */
kp_rc kp_mod_put_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_put_plan *p,
		       struct kp_buf *err);
kp_rc kp_mod_put_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_put_plan *p,
		       struct kp_buf *err);
/* command and shell (command.c): the creates/removes guards ("skipped:
 * '/x' exists", changed = false) or "would run: WHAT"; and the run itself,
 * with chdir and stdin from the arguments (rc != 0 fails the task). */
kp_rc kp_mod_command_probe(struct kp_modctx *ctx, struct kp_result *res, const char *what,
			   struct kp_buf *err);
kp_rc kp_mod_run_command(struct kp_modctx *ctx, struct kp_result *res, struct kp_exec_req *req,
			 struct kp_buf *err);
/* async_jid set: the command starts on the node as a background job that
 * writes its output, exit status (or that `async` seconds ran out) under
 * ~/.kplan_async/JID, and the task goes on (Ansible's poll: 0). */
kp_rc kp_mod_async_start(struct kp_modctx *ctx, struct kp_result *res,
			 const struct kp_exec_req *req, struct kp_buf *err);
/* The command that reports job jid on the node (async_status): its first
 * line "done RC", "timeout", "running" or "missing", then the job's
 * stdout; its stderr the job's. With cleanup: the job's files removed. */
void kp_async_status_cmd(const char *jid, bool cleanup, struct kp_buf *cmd);
/* What async_status reports for that command's output: the job as
 * Ansible's async_status has it (started, finished, rc, stdout, ...), or
 * NULL when the node has no such job. */
struct kp_value *kp_async_status_value(const struct kp_exec_res *r);

/* copy and template (copy.c): probe putting `data` (taken over) at dest,
 * resolving a directory dest with the basename of src; apply writes it. */
kp_rc kp_mod_copy_probe(struct kp_modctx *ctx, struct kp_result *res, char *data, size_t len,
			const char *src, struct kp_buf *err);
kp_rc kp_mod_copy_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);

/* k8s-drain (k8s_drain.c): kubernetes.core.k8s_drain's arguments (checked,
 * defaults filled) as drain's, checked and filled in *out. An unknown
 * delete_options key is an error. */
extern const struct kp_module kp_mod_drain;
kp_rc kp_k8s_drain_map_args(const struct kp_value *in, struct kp_value **out, struct kp_buf *err);

/* A variable of the host (the scope's layers from the top, magic
 * variables included), or NULL (modutil.c). */
const struct kp_value *kp_mod_var(const struct kp_modctx *ctx, const char *name);
/* Whether `host` is in group `g` by the play's `groups` variable
 * (add_host.c, for add_host and group_by). */
bool kp_mod_in_group(const struct kp_modctx *ctx, const char *g, const char *host);
/* The Kubernetes modules' own helpers: modules/kube/kubeutil.h. */

/* etcd (etcdutil.c), for etcd-snapshot and etcd-member. */
/* The `endpoints` argument (a string or a list) as "a,b" into out. */
void kp_etcd_endpoints(const struct kp_modctx *ctx, struct kp_buf *out);
/* "ETCDCTL_API=3 etcdctl --endpoints=… --cacert=… --cert=… --key=…" from
 * the arguments (endpoints NULL: the `endpoints` argument), shell-quoted. */
void kp_etcdctl_cmd(const struct kp_modctx *ctx, const char *endpoints, struct kp_buf *out);
/* One member of `etcdctl member list -w json`. */
struct kp_etcd_member {
	uint64_t id;
	char *name; /* "" for a member added but not started yet */
	char **peer_urls, **client_urls;
	size_t npeer, nclient;
	bool started;
};
/* Parse the output (IDs exactly, as 64-bit numbers); *out freed with
 * kp_etcd_members_free. cluster_id may be NULL. */
kp_rc kp_etcd_parse_members(const char *json, struct kp_etcd_member **out, size_t *n,
			    uint64_t *cluster_id, struct kp_buf *err);
void kp_etcd_members_free(struct kp_etcd_member *m, size_t n);
/* The index of the member named `what` (or with that hex ID), or, when
 * `what` is a URL, with that peer URL; -1 when none, -2 when several. */
long kp_etcd_find_member(const struct kp_etcd_member *m, size_t n, const char *what);
/* The hex ID as etcdctl prints it ("8e9e05c52164694d"). */
void kp_etcd_member_id(const struct kp_etcd_member *m, char out[17]);
/* Members needed for quorum: n/2 + 1. */
size_t kp_etcd_quorum(size_t members);
/* Whether one member may be removed from `members` of which `healthy` are
 * healthy (removed_healthy: the one removed is among them): NULL when it
 * may, else why not (written into why, which is returned). */
const char *kp_etcd_remove_check(size_t members, size_t healthy, bool removed_healthy,
				 struct kp_buf *why);
/* `etcdctl endpoint health -w json` -> a map endpoint -> bool. */
kp_rc kp_etcd_parse_health(const char *json, struct kp_value **out, struct kp_buf *err);
/* A snapshot's own integrity: a bbolt file of whole 512-byte sectors
 * followed by etcd's 32-byte SHA-256 of it. sha_hex (may be NULL) gets the
 * SHA-256 of the whole file. false with the reason ("truncated: …",
 * "corrupt: …") in why. */
bool kp_etcd_snapshot_check(const unsigned char *data, size_t len, char sha_hex[65],
			    struct kp_buf *why);
/* The same for a controller file (mapped, not read into memory). An error
 * only when it cannot be read; *good says whether it checks out. */
kp_rc kp_etcd_snapshot_check_file(const char *path, int64_t *size, char sha_hex[65], bool *good,
				  struct kp_buf *why, struct kp_buf *err);

/* Certificates and keys (pki.c), parsed with OpenSSL; no key material
 * ever goes into a message. */
#define KP_PKI_CERT   (1u << 0)
#define KP_PKI_KEY    (1u << 1) /* a private key (or a kubeconfig embedding one) */
#define KP_PKI_PUBKEY (1u << 2)
/* What a file holds: KP_PKI_* bits from its PEM labels (0: none). */
unsigned kp_pki_classify(const char *data, size_t len);
struct kp_cert_info {
	char *subject, *issuer; /* RFC 2253: "CN=kube-apiserver" */
	char **sans;		/* "DNS:kubernetes", "IP:10.96.0.1" */
	size_t nsans;
	int64_t not_before, not_after; /* Unix time */
	bool ca;
};
/* The first certificate of a PEM (or DER) file; released with
 * kp_cert_info_release. */
kp_rc kp_pki_cert_info(const void *data, size_t len, struct kp_cert_info *ci, struct kp_buf *err);
void kp_cert_info_release(struct kp_cert_info *ci);
/* Whether the private key in `key` belongs to the certificate in `cert`
 * (X509_check_private_key), or to the public key in `pub`. An error when
 * either cannot be read (encrypted keys are never prompted for). */
kp_rc kp_pki_key_matches_cert(const void *cert, size_t clen, const void *key, size_t klen,
			      bool *match, struct kp_buf *err);
kp_rc kp_pki_key_matches_pub(const void *pub, size_t plen, const void *key, size_t klen,
			     bool *match, struct kp_buf *err);
/* Whole days from now to not_after, rounded down (negative: expired). */
int64_t kp_pki_days_left(int64_t not_after, int64_t now);
/* "2025-01-02T03:04:05Z" */
void kp_pki_time_text(int64_t t, struct kp_buf *out);

/* Diffs are not computed for texts larger than this (either side). */
#define KP_DIFF_MAX ((size_t)1 << 20)

#endif
