/* load.c - everything a command works on, loaded and validated before
 * anything connects: the inventories (merged in order) and the plan, whose
 * templated `hosts:` are rendered here, so that plan, check, run and
 * --list-hosts all work on the same hosts. */
#include <string.h>

#include "cli.h"
#include "vars.h"

kp_rc kp_load_all(const struct kp_runopts *o, struct kp_loaded *ld, struct kp_buf *err)
{
	kp_rc rc;
	memset(ld, 0, sizeof(*ld));
	kp_inventory_init(&ld->inv);
	for (size_t i = 0; i < o->inventories.n; i++) {
		rc = kp_inventory_load(&ld->inv, o->inventories.v[i], err);
		if (rc)
			return rc;
	}
	rc = kp_inventory_finalize(&ld->inv, err);
	if (rc)
		return rc;
	if (!o->plan_path)
		return KP_OK;
	rc = kp_plan_load(o->plan_path, &ld->plan, err);
	/* hosts are resolved only against an inventory: `validate` without
	 * one checks the templates' syntax, as it does for tasks */
	if (!rc && o->inventories.n)
		rc = kp_plan_render_hosts(ld->plan, &ld->inv, o->extra, err);
	return rc;
}

void kp_loaded_release(struct kp_loaded *ld)
{
	kp_plan_free(ld->plan);
	kp_inventory_release(&ld->inv);
}
