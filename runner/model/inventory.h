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

#include "core/buf.h"
#include "core/value.h"
#include "core/ytree.h"

struct kp_host {
	char *name;
	size_t index;		    /* position in inventory order */
	struct kp_value *vars;	    /* host variables from inventory files (map) */
	struct kp_value *file_vars; /* from host_vars/ (map) */
	size_t *groups;		    /* groups the host is a direct member of */
	size_t ngroups, capgroups;
	struct kp_value *merged;      /* finalize: inventory-level variables by precedence */
	struct kp_value *group_names; /* finalize: Ansible's group_names (sorted list) */
	/* Ansible's implicit localhost: added for a play that names it when
	 * the inventory has none; in no group, matched by its name only */
	bool implicit;
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
	struct kp_value *vars;	    /* from inventory files (map) */
	struct kp_value *file_vars; /* from group_vars/ (map) */
	int depth;		    /* finalize: longest path from 'all' */
	/* where each child was made one (parallel to children; file NULL for
	 * the implicit ones): a cycle is reported at the edge closing it */
	struct kp_pos *child_pos;
};

struct kp_inventory {
	struct kp_host **hosts;
	size_t nhosts, caphosts;
	struct kp_group **groups;
	size_t ngroups, capgroups;
	struct kp_value *host_index;  /* name -> int index */
	struct kp_value *group_index; /* name -> int index */
	struct kp_value *groups_var;  /* finalize: the `groups` magic variable */
	char **sources;		      /* files and directories loaded */
	size_t nsources, capsources;
	/* group_vars/ and host_vars/ files found by kp_inventory_load, keyed by
	 * group or host name (name -> list of paths, directories ending in '/');
	 * finalize reads those of the groups and hosts that exist by then, as
	 * Ansible's vars plugins do */
	struct kp_value *pending_group_vars;
	struct kp_value *pending_host_vars;
	bool finalized;
	/* file names that positions (child_pos) point at, owned here */
	char **pos_files;
	size_t npos_files, cappos_files;
};

void kp_inventory_init(struct kp_inventory *inv);
void kp_inventory_release(struct kp_inventory *inv);

/* Load a file (YAML or INI: a name ending in ".ini" is INI, otherwise the
 * content tells them apart) or a directory, merging
 * into inv. Errors read "file:line:col: what" where a file is involved. */
kp_rc kp_inventory_load(struct kp_inventory *inv, const char *path, struct kp_buf *err);
/* Implicit groups (all, ungrouped), kubespray canonical names, depths,
 * merged variables and group_names. Call once, after the last load.
 *
 * Variable precedence is Ansible's (checked against ansible-core 2.14),
 * top-level keys replacing: inventory-file group vars (all, then the host's
 * groups by depth, then name) < group_vars/ files (same order) < host vars
 * from inventory files < host_vars/ files. group_names is Ansible's: every
 * group holding the host directly or through a child, sorted, without
 * 'all' (an ungrouped host has ["ungrouped"]). */
kp_rc kp_inventory_finalize(struct kp_inventory *inv, struct kp_buf *err);
/* After hosts, groups, members or host variables were added to a
 * finalized inventory (add_host, group_by, between plays, with no other
 * thread reading it): the implicit groups, depths, merged variables,
 * group_names and `groups` made again. An error: a group became its own
 * ancestor. */
kp_rc kp_inventory_refresh(struct kp_inventory *inv, struct kp_buf *err);

struct kp_host *kp_inventory_host(const struct kp_inventory *inv, const char *name);
/* The host `delegate_to: name` runs on. An inventory host of that name;
 * else for Ansible's names of the controller (localhost, 127.0.0.1, ::1)
 * the inventory's host of one of those names, used as it is defined; else,
 * with none defined, Ansible's implicit localhost: NULL is returned and
 * *implicit gets the name (a static string). The implicit localhost is no
 * inventory host: in no group, not in `all`, matched by no pattern; the
 * engine runs it over the local connection (engine.c). NULL with *implicit
 * NULL: no such host. */
/* A play's hosts pattern names localhost (or 127.0.0.1, ::1) and the
 * inventory has no such host: Ansible's implicit localhost joins the
 * inventory, on the local connection. Call kp_inventory_refresh after. */
bool kp_inventory_implicit_localhost(struct kp_inventory *inv, const char *pattern);
const struct kp_host *kp_delegate_host(const struct kp_inventory *inv, const char *name,
				       const char **implicit);
struct kp_group *kp_inventory_group(const struct kp_inventory *inv, const char *name);

/* A group's hosts including those of its descendants, in Ansible's order
 * (own hosts first, then each child's), without duplicates. *out is
 * malloc'd (caller frees) and holds host indices. */
size_t kp_group_all_hosts(const struct kp_inventory *inv, const struct kp_group *g, size_t **out);

/* Outputs of `kplan inventory`: --list JSON (ansible-inventory's shape),
 * --graph text, --host NAME JSON. Secrets print as <hidden>. */
void kp_inventory_list_json(const struct kp_inventory *inv, struct kp_buf *out);
/* --graph prints nothing for an unknown group: check with kp_inventory_group(). */
void kp_inventory_graph(const struct kp_inventory *inv, const char *group, struct kp_buf *out);
kp_rc kp_inventory_host_json(const struct kp_inventory *inv, const char *name, struct kp_buf *out,
			     struct kp_buf *err);

/* Expand Ansible host ranges: "node[01:03]" -> node01 node02 node03,
 * "worker-[a:c]", strides "[1:9:2]", several ranges per name. Returns a
 * list value of strings. */
kp_rc kp_expand_host_range(const char *pattern, struct kp_value **out, struct kp_buf *err);
/* How many names the pattern stands for, without making them (more than
 * the range limit counts as just past it); errors as kp_expand_host_range. */
kp_rc kp_host_range_count(const char *pattern, size_t *n, struct kp_buf *err);

/* The most hosts one inventory holds, all files together: ranges in many
 * lines add up. kp_inventory_room is the error for going past it. */
#define KP_MAX_INVENTORY_HOSTS 100000
kp_rc kp_inventory_room(const struct kp_inventory *inv, size_t more, const char *pattern,
			struct kp_buf *err);

/* Host patterns (`hosts:` and --limit). The result holds host indices in
 * order of first selection, without duplicates. */
struct kp_hostset {
	size_t *idx;
	size_t n, cap;
};
void kp_hostset_release(struct kp_hostset *s);
#define KP_PATTERN_STRICT 1u /* an unknown host or group name is an error (--limit) */
/* Select hosts matching pattern. Names that match nothing are an error with
 * KP_PATTERN_STRICT, otherwise a warning line appended to warn (may be NULL).
 * out is zero-initialised (or reused: its contents are replaced); each
 * warning is one line ending in '\n'. On error out is empty. */
kp_rc kp_pattern_select(const struct kp_inventory *inv, const char *pattern, unsigned flags,
			struct kp_hostset *out, struct kp_buf *warn, struct kp_buf *err);
/* Check a pattern's syntax without an inventory (for `kplan validate`
 * without -i): dangling '&'/'!', bad subscripts, bad regexes, an empty
 * pattern. The messages are kp_pattern_select()'s; @file terms are not
 * read. A pattern holding "{{" must be rendered first. */
kp_rc kp_pattern_check(const char *pattern, struct kp_buf *err);

/*
 * For the loaders (inventory_yaml.c, inventory_ini.c, inventory_dir.c);
 * not for other callers.
 */
/* Find or create; returns the index. */
size_t kp_inventory_add_host(struct kp_inventory *inv, const char *name);
size_t kp_inventory_add_group(struct kp_inventory *inv, const char *name);
/* Make host h a direct member of group g (no-op when it already is). */
void kp_inventory_add_member(struct kp_inventory *inv, size_t g, size_t h);
/* Make group child a child of parent (no-op when it already is). Fails with
 * a message (without position) when that is not allowed: 'all' as a child,
 * or a group as its own child. */
kp_rc kp_inventory_add_child(struct kp_inventory *inv, size_t parent, size_t child,
			     struct kp_buf *err);
/* The same, remembering where the edge was written (pos may be NULL; its
 * file need not outlive the call). The first position of an edge stays. */
kp_rc kp_inventory_add_child_at(struct kp_inventory *inv, size_t parent, size_t child,
				const struct kp_pos *pos, struct kp_buf *err);
/* Split "name:port" (a port is digits after the only ':' outside brackets);
 * *port is -1 without one. Returns the name part, malloc'd. */
char *kp_inventory_split_port(const char *pattern, int *port);
/* Parsers: the text of one file, merged into inv. */
kp_rc kp_inventory_load_yaml(struct kp_inventory *inv, const struct kp_doc *doc,
			     struct kp_buf *err);
kp_rc kp_inventory_load_ini(struct kp_inventory *inv, const char *file, const char *text,
			    size_t len, struct kp_buf *err);
/* Note group_vars/ and host_vars/ in dir in the pending maps. */
kp_rc kp_inventory_load_vars_dirs(struct kp_inventory *inv, const char *dir, struct kp_buf *err);
/* Read the files of one pending list into the map `into`, in order. */
kp_rc kp_inventory_read_vars(const struct kp_value *paths, struct kp_value *into,
			     struct kp_buf *err);
/* Type an INI value as Ansible's ast.literal_eval would (see inventory_ini.c). */
struct kp_value *kp_inventory_ini_value(const char *s, size_t len);
/* The value of a Python literal as ast.literal_eval reads it (tuples as
 * lists), or NULL when it is not one (pyliteral.c). */
struct kp_value *kp_python_literal(const char *s, size_t len);

#endif
