/*
 * ytree.h - YAML files as a tree of nodes that remember where they came from.
 *
 * Loaded with libyaml's event parser. Every node keeps its file, line and
 * column (1-based) so that any later error can point at the exact spot.
 * Anchors and aliases work (an alias is the anchored node itself, shared),
 * merge keys (`<<`) are resolved at load time, duplicate keys and
 * multi-document files are errors, and nesting is limited in depth. What
 * the document expands to, every alias replaced by its node, is limited
 * too (KP_YAML_ALIAS_RATIO): readers of the tree walk it expanded.
 *
 * Ownership: a struct kp_doc owns every node and string in it; nodes stay
 * valid until kp_doc_free(). The file name is shared by all of its nodes.
 */
#ifndef KP_YTREE_H
#define KP_YTREE_H

#include "core/buf.h"
#include "core/value.h"

#define KP_YAML_MAX_DEPTH 256
#define KP_YAML_MAX_FILE  (64u << 20) /* bytes */
/* Aliases may repeat a node, not multiply the document: fully expanded, a
 * document may hold KP_YAML_ALIAS_RATIO times the nodes written in it, or
 * KP_YAML_ALIAS_MIN_NODES, whichever is more (the "billion laughs" limit
 * of hardened YAML loaders). */
#define KP_YAML_ALIAS_RATIO	50
#define KP_YAML_ALIAS_MIN_NODES 100000

enum kp_ntype { KP_N_SCALAR, KP_N_SEQ, KP_N_MAP };

struct kp_node {
	enum kp_ntype type;
	const char *file;
	int line, col;
	char *tag; /* explicit tag ("!secret", "tag:yaml.org,2002:str") or NULL */
	char *str; /* scalar text (NUL-terminated, may contain NULs up to len) */
	size_t len;
	bool quoted;   /* scalar was single/double quoted or a block scalar */
	bool anchored; /* has an anchor: aliases may share it */
	bool secret;   /* decrypted from an Ansible Vault (vault_yaml.c): the value is secret */
	size_t weight; /* nodes in it, aliases expanded (itself included) */
	/* SEQ: items[0..n). MAP: keys in items[2i], values in items[2i+1], n pairs. */
	struct kp_node **items;
	size_t n;
};

struct kp_doc {
	char *file;
	struct kp_node *root; /* NULL for an empty document */
	struct kp_node **all; /* every node, for freeing */
	size_t nall, capall;
};

/* Load one YAML document. A file with no document gives root == NULL;
 * more than one document is an error. Errors read "file:line:col: what". */
kp_rc kp_yaml_load_file(const char *path, struct kp_doc **out, struct kp_buf *err);
kp_rc kp_yaml_load_string(const char *name, const char *data, size_t len, struct kp_doc **out,
			  struct kp_buf *err);
void kp_doc_free(struct kp_doc *doc);

static inline size_t kp_node_map_len(const struct kp_node *m)
{
	return m->n;
}
static inline struct kp_node *kp_node_map_key(const struct kp_node *m, size_t i)
{
	return m->items[2 * i];
}
static inline struct kp_node *kp_node_map_val(const struct kp_node *m, size_t i)
{
	return m->items[2 * i + 1];
}
/* Value for a scalar key, or NULL. */
struct kp_node *kp_node_map_get(const struct kp_node *map, const char *key);

/* A plain scalar spelling null: "", "~", "null", "Null", "NULL". */
bool kp_node_is_null(const struct kp_node *n);
/* "a mapping", "a list", "a string", "a number", "a boolean", "null" */
const char *kp_node_describe(const struct kp_node *n);
/* Scalar typed like YAML 1.1 booleans: true/false/yes/no/on/off (any case
 * form YAML allows). Returns false when the node is not a boolean. */
bool kp_node_get_bool(const struct kp_node *n, bool *out);
/* Plain decimal integer scalar. */
bool kp_node_get_int(const struct kp_node *n, int64_t *out);

/* Convert to a kp_value: plain scalars typed (null, bool, int, float),
 * quoted ones strings, `!secret` marks the value secret, aliases shared. */
kp_rc kp_node_to_value(const struct kp_node *n, struct kp_value **out, struct kp_buf *err);

/* "file:line:col: " + message, into err (replacing it); returns rc. */
kp_rc kp_node_errorf(struct kp_buf *err, kp_rc rc, const struct kp_node *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
