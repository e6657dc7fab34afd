/*
 * engine_int.h - what engine.c (plays, batches, strategies), task.c (one
 * task on one host) and connect.c (a host's connection) share. Not for the
 * rest of kplan: they use engine.h.
 */
#ifndef KP_ENGINE_INT_H
#define KP_ENGINE_INT_H

#include <pthread.h>

#include "model/batch.h"
#include "output/journal.h"
#include "engine/engine.h"
#include "expr/expr.h"
#include "modules/module.h"
#include "output/output.h"
#include "model/tags.h"
#include "transport/transport.h"
#include "model/vars.h"

struct kp_hoststate {
	const struct kp_host *host;
	struct kp_conn *conn;	   /* NULL until first used */
	char *conn_error;	   /* why the connection could not be opened */
	pthread_mutex_t conn_lock; /* a connection serves one task at a time (delegate_to) */
	struct kp_value *facts;	   /* registered results and set-fact, for the whole run */
	/* facts.c: the gathered facts (a scope layer, for the whole run) */
	struct kp_engine *engine;
	struct kp_value *gathered;
	struct kp_value *no_facts; /* ansible_facts before any gather: {} */
	bool gathered_done, gather_failed;
	/* facts_gen counts the changes of facts and gathered (under e->lock);
	 * hv_snap is what hostvars[] of this host last gave other hosts, kept
	 * while facts_gen is hv_gen (facts.c kp_facts_of) */
	unsigned facts_gen, hv_gen;
	struct kp_value *hv_snap;
	bool failed, unreachable; /* out of the play's later tasks and batches */
	bool hook_skipped;	  /* kplan.skip in before_host: out of this batch (hooks.c) */
	bool ended;		  /* meta end_host, end_batch, end_play: out of this batch */
	bool errors_cleared;	  /* meta clear_host_errors: back in the next play */
	enum kp_flow flow;	  /* what its last task asked of the engine (meta), blocks.c */
	/* the play whose connection and remote_user conn was checked for */
	const struct kp_play *conn_play;
	uint64_t conn_used; /* connlimit.c: when conn was last leased; 0: none */
	struct kp_hostcounts counts;
	/* the current play and batch */
	struct kp_hostvars hv;
	bool hv_ready;
	struct kp_strlist notified;    /* handlers notified in the current section */
	struct kp_value *rescue_kplan; /* the kplan table with failed_task/failed_result */
	/* the last task's outcome, for run_once sharing and rescue */
	struct kp_value *last_value; /* registered form */
	struct kp_value *last_set_vars;
	bool last_changed;
	char *last_failed_task;
	struct kp_value *last_failed_result;
	/* the role uses (kp_roleuse.once) that ran on this host */
	const struct kp_roleuse **roles_ran;
	size_t nroles_ran, caproles_ran;
	/* async tasks with poll: 0, by job id: their registered results, for
	 * async_status (a map, or NULL) */
	struct kp_value *async_jobs;
	unsigned async_seq;
};

/* What a task inherits from the blocks around it. */
struct kp_taskenv {
	struct kp_expr *const *when[16]; /* when lists of enclosing blocks */
	size_t nwhen[16];
	size_t nwhens;
	struct kp_strlist tags;
	enum kp_tristate become;
	const struct kp_template *become_t; /* a block's become as "{{ }}" */
	const char *become_user;
	const struct kp_tvalue *envs[16]; /* environment maps, outermost first */
	size_t nenvs;
	bool no_log, ignore_errors, ignore_unreachable, run_once;
	enum kp_tristate check_mode, diff;
	int throttle; /* a block's throttle: 0 none */
	/* a block's delegate_to and connection: local, for its tasks */
	const struct kp_template *delegate_to;
	bool local_connection;
	int64_t timeout_ms;
	const char *section;	       /* pre_tasks, tasks, post_tasks, handlers */
	const struct kp_roleuse *role; /* the role whose tasks these are, or NULL */
	char task_id[128];	       /* where the task sits in the plan: p1.tasks.2.block.0 */
};

struct kp_engine {
	const struct kp_runconf *o;
	struct kp_loaded *ld;
	struct kp_output out;
	struct kp_hoststate *
	    *hosts; /* by inventory index (each allocated: add_host may add some mid-play) */
	/* Ansible's implicit localhost, what `delegate_to: localhost` (or
	 * 127.0.0.1, ::1) runs on when the inventory defines no such host
	 * (kp_delegate_host): the controller over the local connection. It is
	 * no inventory host: in no group, no play, no recap; the task keeps
	 * the current host's variables, as any delegated task does. */
	struct kp_host local_host;
	struct kp_hoststate local;
	struct kp_lua **L; /* one per worker slot */
	int nslots;
	pthread_mutex_t lock;
	/* the current play */
	const struct kp_play *play;
	struct kp_playvars pv;
	struct kp_batchvars bv;
	const struct kp_batch *batch;
	bool window;
	size_t started_hosts;	/* window: hosts started so far */
	struct kp_wgate *wgate; /* a disruption-aware window's gate (window.c), or NULL */
	/* stops */
	bool stop_run;	    /* any_errors_fatal */
	bool stop_play;	    /* max_fail_percentage exceeded */
	bool stop_starting; /* window: no new host starts; those in flight finish */
	bool end_play;	    /* meta end_play: no later batch of the play runs */
	/* add_host and group_by results ({host, result}), applied to the
	 * inventory after the task (linear) or when the play ends (engine.c) */
	struct kp_value *inv_changes;
	/* delegate_facts: facts for other hosts, applied after the task
	 * (kp_outcome_delegated_facts) */
	struct kp_delegated_fact {
		struct kp_hoststate *to;
		struct kp_value *set_vars, *facts;
	} * delegated_facts;
	size_t ndelegated_facts;
	char *stop_reason;
	struct kp_taskselect select; /* --start-at-task, --tags, --skip-tags */
	bool journal_broken;	     /* a journal write failed: reported, nothing new starts */
	struct kp_kube **kube; /* kplan.kube's client per worker slot, NULL until used (hooks.c) */
	/* run journal (run only) and what a --resume continues */
	struct kp_journal journal;
	bool journaling;
	struct kp_resume resume;
	bool resuming;
	bool locked; /* a run lock was held by someone else: exit 5 */
	/* connlimit.c: connections open now, how many may stay open, the
	 * clock that stamps their use, and one closer at a time */
	int open_conns, conn_budget;
	uint64_t conn_clock;
	pthread_mutex_t conn_evict_lock;
};

/* What a module's ctx->engine_ctx points at (task.c): the engine, the
 * task's host and task, and the connection the task holds (for
 * control_plane_exec), so that the `lua` module can reach the kplan API
 * (hooks.c). */
struct kp_task_ectx {
	struct kp_engine *e;
	struct kp_hoststate *target; /* whose conn_lock the task holds (NULL: none) */
	struct kp_become become;     /* the task's (borrowed) */
	struct kp_hoststate *hs;     /* the task's own host */
	const struct kp_task *t;
	const struct kp_taskenv *env;
	int slot;
};

/* A set of hosts a task list runs on (borrowed pointers). */
struct kp_hostlist {
	struct kp_hoststate **h;
	size_t n;
};

/* pool.c: fn(i) for i < n on up to `limit` worker threads (each its own
 * slot), while keep_going(e, i) (NULL: always) says i may start; it is
 * called under the loop's lock, so one call at a time, in order of i. */
void kp_parallel_for(struct kp_engine *e, int slot, size_t n, int limit,
		     void (*fn)(struct kp_engine *, int, size_t, void *), void *arg,
		     bool (*keep_going)(struct kp_engine *, size_t));

/* blocks.c: a batch's sections on hosts, and the stops between tasks. */
/* A task's title inside a role: "role : title", as Ansible writes it. */
void kp_role_title(const struct kp_task *t, const struct kp_taskenv *env, struct kp_buf *title);
void kp_run_sections(struct kp_engine *e, int slot, const struct kp_hostlist *hosts,
		     const struct kp_taskenv *base);
/* not failed, unreachable, skipped or ended */
bool kp_host_active(const struct kp_hoststate *hs);
size_t kp_batch_failures(struct kp_engine *e);
int kp_max_fail(const struct kp_engine *e); /* the play's max_fail_percentage, or its default */
/* After a top-level task: any_errors_fatal and max_fail_percentage. */
void kp_check_stops(struct kp_engine *e, const struct kp_hostlist *ran, const bool *was_active);
bool kp_engine_interrupted(const struct kp_engine *e); /* Ctrl-C or SIGTERM */
bool kp_engine_stopped(struct kp_engine *e);	       /* a stop or an interrupt */

/* window.c: a disruption-aware window's gate. open reads the cluster once
 * (an error says why the window cannot work); admit blocks until some host
 * of the window's hosts may start as the i-th (false: the run stops first),
 * and host(i) says which one that is; done says host h finished; failed
 * counts the hosts started so far (in *started) that failed. */
struct kp_wgate;
kp_rc kp_wgate_open(struct kp_engine *e, const struct kp_hostlist *hosts, struct kp_buf *err);
bool kp_wgate_admit(struct kp_engine *e, size_t i);
size_t kp_wgate_host(struct kp_engine *e, size_t i);
void kp_wgate_done(struct kp_engine *e, size_t h);
size_t kp_wgate_failed(struct kp_engine *e, size_t *started);
void kp_wgate_close(struct kp_engine *e);

/* runjournal.c: open the run's journal (or the resumed one); the exit code
 * to stop with on failure, 0 when journaling goes on. And the note that
 * tells how to finish a run that stopped. */
int kp_journal_start_run(struct kp_engine *e);
void kp_tell_how_to_resume(struct kp_engine *e);

/* task.c: run one module task on one host (when, loop, until, register,
 * failed_when/changed_when, notify, output). */
/* After writing to the journal: its first failed write is reported at
 * once and stops the run from starting anything new (engine.c). */
void kp_engine_journal_check(struct kp_engine *e);
void kp_task_exec(struct kp_engine *e, int slot, struct kp_hoststate *hs, const struct kp_task *t,
		  const struct kp_taskenv *env);
/* Copy a run_once result from the host that ran it to another. */
/* The facts that delegate_facts tasks set for other hosts, applied once
 * the task ran on all its hosts of a linear play (no host's thread reads
 * its scope then); with strategy free or a window, where hosts run on,
 * when the batch ends (batch_end). */
void kp_outcome_delegated_facts(struct kp_engine *e, bool batch_end);
/* add_host and group_by results (e->inv_changes) into the inventory, a
 * state for each new host, the live scopes given the new maps (engine.c) */
void kp_engine_inventory_changes(struct kp_engine *e);
void kp_task_share_once(struct kp_engine *e, struct kp_hoststate *from, struct kp_hoststate *to,
			const struct kp_task *t);

/* connect.c: the host's connection, opened on first use; NULL with the
 * reason in hs->conn_error when unreachable. */
struct kp_conn *kp_host_conn(struct kp_engine *e, struct kp_hoststate *hs);
void kp_host_conn_close(struct kp_hoststate *hs);
/* connlimit.c: the connection budget for an open file limit of nofile
 * with forks workers; the soft limit raised to the hard one (the limit
 * now in force); the budget set for a run of nhosts hosts (a note when
 * they cannot all stay connected); a lease's stamp on hs's connection;
 * room for self's connection, about to open and counted as open from
 * here (uncount it when the open fails), closing idle ones past the
 * budget. */
int kp_conn_budget(uint64_t nofile, int forks);
uint64_t kp_nofile_raise(void);
void kp_conn_limit_init(struct kp_engine *e, size_t nhosts);
void kp_conn_used(struct kp_hoststate *hs);
void kp_conn_make_room(struct kp_engine *e, struct kp_hoststate *self);
/* A task's lease of its host's connection: the connection's lock, the
 * connection (opened on first use) and the task's become on it for every
 * operation the module makes. NULL when the host is unreachable (the lock
 * is then released and hs->conn_error says why). kp_host_unlease clears
 * the become and releases the lock. */
struct kp_conn *kp_host_lease(struct kp_engine *e, struct kp_hoststate *hs,
			      const struct kp_become *b);
void kp_host_unlease(struct kp_hoststate *hs, struct kp_conn *c);
/* The one path of commands the engine itself runs on a host (kubectl for
 * a module, a hook's kplan.run): the connection's lock (unless the caller
 * holds it: held), the connection, req run as b. KP_ERR_UNREACHABLE
 * "cannot reach 'HOST'[ WHY]: REASON" when the host cannot be reached. */
kp_rc kp_host_exec(struct kp_engine *e, struct kp_hoststate *hs, bool held,
		   const struct kp_become *b, const struct kp_exec_req *req,
		   struct kp_exec_res *res, const char *why, struct kp_buf *err);

/* Whether this thread holds hs's connection (a task's lease): a fact
 * gathered while it does runs on it without locking again. */
bool kp_host_leased_here(const struct kp_hoststate *hs);
/* Whether this thread holds another host's connection (a delegated task). */
bool kp_host_leased_other(const struct kp_hoststate *hs);

/* facts.c: gather hs's facts now (one command, the play's become and
 * gather_subset) into hs->gathered; store a module's ansible_facts there;
 * hook the first use of a fact into hs's scope (kp_scope.lazy); and
 * hostvars[h]'s facts (kp_playvars.facts_of, ctx the engine). */
kp_rc kp_facts_gather(struct kp_engine *e, struct kp_hoststate *hs, struct kp_lua *L,
		      const struct kp_scope *s, struct kp_buf *err);
void kp_facts_store(struct kp_engine *e, struct kp_hoststate *hs, const struct kp_value *facts);
/* meta clear_facts: hs's gathered facts are gone (ansible_facts is {}) */
void kp_facts_clear(struct kp_engine *e, struct kp_hoststate *hs);
void kp_facts_hook(struct kp_hoststate *hs);
struct kp_value *kp_facts_of(void *ctx, const struct kp_host *h);

/* Connection variable NAME of scope s: kplan_NAME, else ansible_NAME,
 * rendered in s when it holds {{ }} (L: the caller's Lua state, or NULL
 * for one made for the occasion). *out: a new reference, NULL when unset. */
kp_rc kp_conn_var(struct kp_lua *L, const struct kp_scope *s, const char *name,
		  struct kp_value **out, struct kp_buf *err);

/* Who a task (or a hook's kplan.run) becomes on a host: user NULL for no
 * become. kw_become and kw_user are the keywords' choice (task over
 * play); the host's become variables in s win over them. The strings
 * belong to the struct: kp_become_release. */
struct kp_taskbecome {
	char *user;
	char *password;
};
/* The task's become keyword: its own, else its blocks' and play's; one
 * written as "{{ }}" rendered in the host's scope (KP_UNSET: none). */
kp_rc kp_task_become(struct kp_lua *L, const struct kp_scope *s, const struct kp_task *t,
		     const struct kp_taskenv *env, enum kp_tristate *out, struct kp_buf *err);
kp_rc kp_become_resolve(struct kp_lua *L, const struct kp_scope *s, enum kp_tristate kw_become,
			const char *kw_user, struct kp_taskbecome *out, struct kp_buf *err);
void kp_become_release(struct kp_taskbecome *b);

#endif
