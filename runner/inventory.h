/*
 * inventory.h - which nodes exist, their groups and their variables.
 *
 * Reads Ansible's YAML and INI inventories and kubespray inventory
 * directories (hosts.yaml|hosts.yml|inventory.ini|hosts.ini beside
 * group_vars/ and host_vars/). Several files load into one inventory in
 * order; kp_inventory_finalize() then adds the implicit groups, kubespray's
 * canonical group names, group depths and every host's merged variables.
 *
 * Ownership: the inventory owns its hosts, groups and values; pointers into
 * it stay valid until kp_inventory_release(). After finalize the inventory
 * is read-only and may be shared between threads.
 */
#ifndef KP_INVENTORY_H
#define KP_INVENTORY_H

#include "buf.h"
#include "value.h"

struct kp_host {
	char *name;
	size_t index;              /* position in inventory order */
	struct kp_value *vars;     /* host variables from inventory files (map) */
	struct kp_value *file_vars;/* from host_vars/ (map) */
	size_t *groups;            /* groups the host is a direct member of */
	size_t ngroups, capgroups;
	struct kp_value *merged;   /* finalize: inventory-level variables by precedence */
	struct kp_value *group_names; /* finalize: Ansible's group_names (sorted list) */
};

struct kp_group {
	char *name;
	size_t index;
	size_t *hosts; /* direct members in order of appearance */
	size_t nhosts, caphosts;
	size_t *children;
	size_t nchildren, capchildren;
	size_t *parents;
	size_t nparents, capparents;
	struct kp_value *vars;      /* from inventory files (map) */
	struct kp_value *file_vars; /* from group_vars/ (map) */
	int depth;                  /* finalize: longest path from 'all' */
};

struct kp_inventory {
	struct kp_host **hosts;
	size_t nhosts, caphosts;
	struct kp_group **groups;
	size_t ngroups, capgroups;
	struct kp_value *host_index;  /* name -> int index */
	struct kp_value *group_index; /* name -> int index */
	struct kp_value *groups_var;  /* finalize: the `groups` magic variable */
	char **sources;               /* files and directories loaded */
	size_t nsources, capsources;
	bool finalized;
};

void kp_inventory_init(struct kp_inventory *inv);
void kp_inventory_release(struct kp_inventory *inv);

/* Load a file (YAML or INI, told apart by content) or a directory, merging
 * into inv. Errors read "file:line:col: what" where a file is involved. */
kp_rc kp_inventory_load(struct kp_inventory *inv, const char *path, struct kp_buf *err);
/* Implicit groups (all, ungrouped), kubespray canonical names, depths,
 * merged variables and group_names. Call once, after the last load. */
kp_rc kp_inventory_finalize(struct kp_inventory *inv, struct kp_buf *err);

struct kp_host *kp_inventory_host(const struct kp_inventory *inv, const char *name);
struct kp_group *kp_inventory_group(const struct kp_inventory *inv, const char *name);

/* A group's hosts including those of its descendants, in Ansible's order
 * (own hosts first, then each child's), without duplicates. *out is
 * malloc'd (caller frees) and holds host indices. */
size_t kp_group_all_hosts(const struct kp_inventory *inv, const struct kp_group *g, size_t **out);

/* Outputs of `kplan inventory`: --list JSON (ansible-inventory's shape),
 * --graph text, --host NAME JSON. Secrets print as <hidden>. */
void kp_inventory_list_json(const struct kp_inventory *inv, struct kp_buf *out);
void kp_inventory_graph(const struct kp_inventory *inv, const char *group, struct kp_buf *out);
kp_rc kp_inventory_host_json(const struct kp_inventory *inv, const char *name, struct kp_buf *out,
			     struct kp_buf *err);

/* Expand Ansible host ranges: "node[01:03]" -> node01 node02 node03,
 * "worker-[a:c]", strides "[1:9:2]", several ranges per name. Returns a
 * list value of strings. */
kp_rc kp_expand_host_range(const char *pattern, struct kp_value **out, struct kp_buf *err);

/* Host patterns (`hosts:` and --limit). The result holds host indices in
 * order of first selection, without duplicates. */
struct kp_hostset {
	size_t *idx;
	size_t n, cap;
};
void kp_hostset_release(struct kp_hostset *s);
#define KP_PATTERN_STRICT 1u /* an unknown host or group name is an error (--limit) */
/* Select hosts matching pattern. Names that match nothing are an error with
 * KP_PATTERN_STRICT, otherwise a warning line appended to warn (may be NULL). */
kp_rc kp_pattern_select(const struct kp_inventory *inv, const char *pattern, unsigned flags,
			struct kp_hostset *out, struct kp_buf *warn, struct kp_buf *err);

#endif
