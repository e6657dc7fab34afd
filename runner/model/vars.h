/*
 * vars.h - the variables a host sees during a play, by precedence.
 *
 * Lowest to highest: the host's inventory variables (already merged by the
 * inventory: all < parent groups < child groups < host < group_vars/ <
 * host_vars/), the host's gathered facts (ansible_*, ansible_facts), play
 * `vars`, `vars_files`, registered results and set-fact, extra vars (-e).
 * The magic variables (inventory_hostname, inventory_hostname_short,
 * group_names, groups, hostvars, play_hosts, batch_hosts, kplan, and
 * Ansible's ansible_play_hosts, ansible_play_hosts_all, ansible_play_batch,
 * playbook_dir, ansible_check_mode, ansible_diff_mode, ansible_version and
 * what the engine adds: inventory_file, inventory_dir, ansible_forks,
 * ansible_limit, ansible_run_tags, ansible_skip_tags; it renews
 * ansible_play_hosts and ansible_play_batch without the hosts that failed
 * before each task of a linear play) sit above everything
 * and cannot be overridden. hostvars[h] is h's inventory variables, its
 * gathered facts and, above them, h's own magic variables:
 * inventory_hostname, inventory_hostname_short, group_names.
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
	const char *const *unknown; /* names known only after probe (offline plan) */
	size_t nunknown;
};

struct kp_hostvars {
	const struct kp_host *host;
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
