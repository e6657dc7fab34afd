/*
 * fuzz_inventory_yaml.c - Ansible YAML inventories: the YAML reader, the
 * inventory loader (host ranges, groups, children, variables), finalize
 * (cycles, depths, merged variables) and the three `kplan inventory`
 * outputs of what loaded.
 */
#include "fuzz.h"
#include "model/inventory.h"

#include <stdlib.h>

/* --list, --graph and --host of everything that loaded (a few hosts). */
static void outputs(const struct kp_inventory *inv)
{
	struct kp_buf out = KP_BUF_INIT, err = KP_BUF_INIT;
	kp_inventory_list_json(inv, &out);
	kp_buf_reset(&out);
	kp_inventory_graph(inv, "all", &out);
	for (size_t i = 0; i < inv->ngroups && i < 4; i++) {
		kp_buf_reset(&out);
		kp_inventory_graph(inv, inv->groups[i]->name, &out);
	}
	for (size_t i = 0; i < inv->nhosts && i < 4; i++) {
		kp_buf_reset(&out);
		kp_inventory_host_json(inv, inv->hosts[i]->name, &out, &err);
	}
	kp_buf_release(&out);
	kp_buf_release(&err);
}

/* kp_fuzz_many_hosts() on every scalar: a plain scalar may fold lines
 * (and an alias repeat a name), so the text's tokens do not tell. */
static bool many_hosts(const struct kp_doc *doc, size_t max)
{
	size_t total = 0;
	for (size_t i = 0; i < doc->nall && total <= max; i++) {
		const struct kp_node *n = doc->all[i];
		size_t count = 0;
		if (n->type != KP_N_SCALAR || !strchr(n->str, '[') || !strchr(n->str, ':'))
			continue;
		/* counted, not made: a big range costs nothing here */
		kp_rc rc = kp_host_range_count(n->str, &count, NULL);
		if (!rc)
			total += count;
		if (rc == KP_ERR_LIMIT) /* a shorter name ("n[..]:22") may fit */
			return true;
	}
	return total > max;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_inventory inv;
	struct kp_doc *doc = NULL;
	struct kp_buf err = KP_BUF_INIT;
	kp_rc rc;

	kp_log_level = -1;
	kp_inventory_init(&inv);
	rc = kp_yaml_load_string("hosts.yml", (const char *)data, size, &doc, &err);
	if (!rc && many_hosts(doc, KP_FUZZ_MAX_HOSTS)) {
		kp_doc_free(doc);
		kp_inventory_release(&inv);
		kp_buf_release(&err);
		return -1;
	}
	if (!rc)
		rc = kp_inventory_load_yaml(&inv, doc, &err);
	kp_doc_free(doc); /* the inventory keeps nothing of the document */
	if (!rc)
		rc = kp_inventory_finalize(&inv, &err);
	if (!rc)
		outputs(&inv);
	else if (!err.len)
		abort(); /* every failure says why */
	kp_inventory_release(&inv);
	kp_buf_release(&err);
	return 0;
}
