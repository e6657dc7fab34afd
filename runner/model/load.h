/*
 * load.h - everything a command works on, loaded and validated before
 * anything connects: the inventories (merged in order) and the plan.
 *
 * Ownership: kp_load_all fills a caller's struct kp_loaded, which
 * kp_loaded_release frees (also after a failed load).
 */
#ifndef KP_LOAD_H
#define KP_LOAD_H

#include "core/strlist.h"
#include "core/value.h"
#include "model/inventory.h"
#include "model/plan.h"

/* What to load; borrowed, nothing here is freed by the loader. */
struct kp_loadopts {
	const char *plan_path;		      /* NULL: the inventories only */
	const struct kp_strlist *inventories; /* merged in order */
	const struct kp_value *extra;	      /* -e, a map (or NULL) */
	/* ansible.cfg, -u, --private-key, -K: host variables under every
	 * inventory value (a map, or NULL), and defaults for plays that do
	 * not say (NULL / 0: not set; become 1: yes, 2: no) */
	const struct kp_value *conn_defaults;
	const char *default_remote_user, *default_become_user;
	int default_become;
	const char *roles_path; /* ':'-separated, where roles are looked for, or NULL */
};

struct kp_loaded {
	struct kp_plan *plan;
	struct kp_inventory inv;
};

/* Load plan and inventories (and validate them); exit code 2 material on error. */
kp_rc kp_load_all(const struct kp_loadopts *o, struct kp_loaded *ld, struct kp_buf *err);
void kp_loaded_release(struct kp_loaded *ld);

#endif
