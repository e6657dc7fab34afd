/*
 * fuzz_inventory_ini.c - Ansible INI inventories: sections, :children and
 * :vars, host ranges, key=value typing (kp_inventory_ini_value), then
 * finalize and the `kplan inventory` outputs of what loaded.
 */
#include "fuzz.h"
#include "model/inventory.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_inventory inv;
	struct kp_buf err = KP_BUF_INIT, out = KP_BUF_INIT;
	kp_rc rc;

	kp_log_level = -1;
	if (kp_fuzz_many_hosts(data, size, KP_FUZZ_MAX_HOSTS))
		return -1;
	kp_inventory_init(&inv);
	rc = kp_inventory_load_ini(&inv, "hosts.ini", (const char *)data, size, &err);
	if (!rc)
		rc = kp_inventory_finalize(&inv, &err);
	if (!rc) {
		kp_inventory_list_json(&inv, &out);
		kp_buf_reset(&out);
		kp_inventory_graph(&inv, "all", &out);
		for (size_t i = 0; i < inv.nhosts && i < 4; i++) {
			kp_buf_reset(&out);
			kp_inventory_host_json(&inv, inv.hosts[i]->name, &out, &err);
		}
	} else if (!err.len) {
		abort(); /* every failure says why */
	}
	/* the typing of one value on its own, as the whole input */
	kp_value_unref(kp_inventory_ini_value((const char *)data, size));
	kp_inventory_release(&inv);
	kp_buf_release(&err);
	kp_buf_release(&out);
	return 0;
}
