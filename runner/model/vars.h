/*
 * vars.h - the variables a host sees during a play, by precedence.
 *
 * Lowest to highest: the defaults of the play's roles, the defaults of the
 * role being run, the host's inventory variables (already merged by the
 * inventory: all < parent groups < child groups < host < group_vars/ <
 * host_vars/), the host's gathered facts (ansible_*, ansible_facts), play
 * `vars`, `vars_files`, the vars of the play's roles, the vars of the role
 * being run, the `vars:` of the enclosing blocks and of the task (and of an
 * import), registered results and set-fact, the parameters of the role or
 * include being run (with role_name, role_path and loop variables of
 * includes), extra vars (-e). The magic variables (inventory_hostname,
 * inventory_hostname_short, group_names, groups, hostvars, play_hosts,
 * batch_hosts, kplan, and Ansible's ansible_play_hosts,
 * ansible_play_hosts_all, ansible_play_batch, playbook_dir,
 * ansible_check_mode, ansible_diff_mode, ansible_version and what the engine
 * adds: inventory_file, inventory_dir, ansible_forks, ansible_limit,
 * ansible_run_tags, ansible_skip_tags; it renews ansible_play_hosts and
 * ansible_play_batch without the hosts that failed before each task of a
 * linear play) sit above everything and cannot be overridden. hostvars[h]
 * is h's inventory variables, its gathered facts and, above them, h's own
 * magic variables: inventory_hostname, inventory_hostname_short,
 * group_names.
 *
 * Ownership: a kp_playvars is built once per play and shared read-only by
 * every host and thread; a kp_hostvars belongs to one host and one thread.
 */
#ifndef KP_VARS_H
#define KP_VARS_H

#include "core/strlist.h"
#include "expr/expr.h"
#include "model/inventory.h"
#include "model/plan.h"

struct kp_playvars {
	const struct kp_plan *plan;
	const struct kp_play *play;
	const struct kp_inventory *inv;
	const struct kp_value *extra; /* -e, a map */
	struct kp_value *play_hosts;  /* list of host names */
	struct kp_value *kplan;	      /* the `kplan` table without batch fields */
	/* Ansible's magic variables common to the play's hosts (a map): made
	 * by kp_playvars_init, completed by the engine with those of the
	 * run's options (inventory_file, ansible_forks, ansible_run_tags...) */
	struct kp_value *magic;
	/* hostvars[h]: h's gathered facts above its inventory variables (a
	 * new reference, or NULL when none were gathered). May be NULL. */
	struct kp_value *(*facts_of)(void *facts_ctx, const struct kp_host *h);
	void *facts_ctx;
	/* Ansible's implicit localhost (hostvars['localhost'] when the
	 * inventory has none), or NULL */
	const struct kp_host *local;
	const char *const *unknown; /* names known only after probe (offline plan) */
	size_t nunknown;
};

/* The layers the engine sets while a role or include runs (kp_hostvars_push) */
/* (KP_DYN_TASK: the `vars:` of the blocks and the task being run, and of
 * an import, above the role's vars and below registered results, as
 * Ansible ranks block and task vars) */
enum kp_dyn_layer { KP_DYN_DEFAULTS, KP_DYN_VARS, KP_DYN_PARAMS, KP_DYN_TASK, KP_DYN_COUNT };

struct kp_hostvars {
	const struct kp_host *host;
	size_t dyn_at[KP_DYN_COUNT];	    /* where each sits in scope.layers */
	struct kp_value *dyn[KP_DYN_COUNT]; /* what they hold (merged maps), or NULL */
	/* the defaults and vars of the roles include_role ran with public:
	 * true, for the rest of the play (over the play's roles') */
	struct kp_value *pub_defaults, *pub_vars;
	struct kp_value *empty;	     /* what they hold outside any role or include */
	struct kp_value *vars_files; /* this host's vars_files, merged (map) */
	struct kp_value *registered; /* registered results and facts (map) */
	struct kp_value *magic;	     /* magic variables (map) */
	struct kp_scope scope;
};

/* kplan_info: check_mode, diff, run_id (may be NULL for none), version. */
void kp_playvars_init(struct kp_playvars *pv, const struct kp_plan *plan,
		      const struct kp_play *play, const struct kp_inventory *inv,
		      const struct kp_value *extra, const size_t *hosts, size_t nhosts,
		      bool check_mode, bool diff, const char *run_id);
void kp_playvars_release(struct kp_playvars *pv);
/* Ansible's magic variables of the run's options, into pv->magic:
 * inventory_file and inventory_dir (the first inventory; none without
 * one), ansible_forks, ansible_limit (not set without a limit),
 * ansible_run_tags (["all"] without tags), ansible_skip_tags. */
void kp_playvars_options(struct kp_playvars *pv, const struct kp_strlist *inventories, int forks,
			 const char *limit, const struct kp_strlist *tags,
			 const struct kp_strlist *skip_tags);

/* What every host of one batch shares: batch_hosts and the kplan table
 * with batch_index (1-based) and batch_count. */
struct kp_batchvars {
	struct kp_value *batch_hosts;
	struct kp_value *play_batch; /* ansible_play_batch: the same names */
	struct kp_value *kplan;
};
void kp_batchvars_init(struct kp_batchvars *bv, const struct kp_playvars *pv, const size_t *batch,
		       size_t nbatch, size_t batch_index, size_t batch_count);
void kp_batchvars_release(struct kp_batchvars *bv);

/* Build a host's scope for one batch. Loads the play's templated
 * vars_files for this host. `registered` is the host's map of registered
 * results and set-fact, kept for the whole run (a reference is taken), or
 * NULL for a fresh one; `facts` the host's gathered facts (a map the
 * caller keeps and may fill later), or NULL. */
kp_rc kp_hostvars_init(struct kp_hostvars *hv, struct kp_lua *L, const struct kp_playvars *pv,
		       const struct kp_batchvars *bv, const struct kp_host *host,
		       struct kp_value *registered, const struct kp_value *facts,
		       struct kp_buf *err);
void kp_hostvars_release(struct kp_hostvars *hv);
/* Entering a role or include: `add` (each a map or NULL) goes over what
 * the layers hold; kp_hostvars_pop with the same `sv` restores them. */
struct kp_dyn_saved {
	struct kp_value *v[KP_DYN_COUNT];
};
void kp_hostvars_push(struct kp_hostvars *hv, const struct kp_value *const add[KP_DYN_COUNT],
		      struct kp_dyn_saved *sv);
void kp_hostvars_pop(struct kp_hostvars *hv, const struct kp_dyn_saved *sv);
/* An include_role with public: true ran: its role's defaults and vars
 * stay for this host's later tasks. */
void kp_hostvars_publish(struct kp_hostvars *hv, const struct kp_roleuse *u);
/* What task t brings when entered: its role's defaults, vars and
 * parameters, an import's `vars`. False when nothing. */
bool kp_task_layers(const struct kp_task *t, const struct kp_value *add[KP_DYN_COUNT]);

/* Render the `hosts:` of every play written with {{ }} (play->hosts_t),
 * once, before any host is known: with what exists then, as Ansible does:
 * the play's `vars`, its vars_files whose path is literal, the extra vars,
 * and, with an inventory (inv not NULL), `groups` and `hostvars`. The
 * rendering replaces play->hosts: a string, or a list of strings joined
 * with ':'. Errors name the file:line:col of `hosts:` and the play
 * ("undefined variable 'node' (in 'hosts' of play 'p')"), and a rendered
 * pattern is checked as a literal one is. */
kp_rc kp_plan_render_hosts(struct kp_plan *plan, const struct kp_inventory *inv,
			   const struct kp_value *extra, struct kp_buf *err);

/* Parse one -e argument: "k=v k2=v2" (values typed like YAML scalars),
 * "@file.yml" (YAML or JSON mapping), or an inline YAML/JSON mapping;
 * merges into *extra (a map). */
kp_rc kp_extra_vars_add(struct kp_value *extra, const char *arg, struct kp_buf *err);

#endif
