/*
 * inventory_yaml.c - Ansible's YAML inventory schema: a mapping of groups,
 * each with optional `hosts`, `children` (groups again, recursively) and
 * `vars`.
 *
 * Ansible only warns about a wrong shape or an unknown key and skips it; a
 * maintenance tool that silently drops a misspelt `hosts:` would run against
 * fewer nodes than the operator meant, so here both are errors.
 */
#include <stdlib.h>
#include <string.h>

#include "model/inventory.h"
#include "core/ytree.h"

static const char *const group_keys[] = {"hosts", "children", "vars"};

static kp_rc merge_vars(struct kp_value *dst, const struct kp_node *n, struct kp_buf *err)
{
	struct kp_value *v;
	kp_rc rc = kp_node_to_value(n, &v, err);
	if (rc)
		return rc;
	kp_map_update(dst, v);
	kp_value_unref(v);
	return KP_OK;
}

/* A name used as a key: a non-empty scalar. */
static kp_rc key_name(const struct kp_node *k, const char *what, struct kp_buf *err)
{
	if (k->type != KP_N_SCALAR)
		return kp_node_errorf(err, KP_ERR_INVALID, k, "%s name must be a string, not %s",
				      what, kp_node_describe(k));
	if (!k->len || memchr(k->str, '\0', k->len))
		return kp_node_errorf(err, KP_ERR_INVALID, k, "%s name must not be empty", what);
	return KP_OK;
}

static kp_rc load_hosts(struct kp_inventory *inv, size_t g, const struct kp_node *hosts,
			struct kp_buf *err)
{
	const char *gname = inv->groups[g]->name;
	for (size_t i = 0; i < kp_node_map_len(hosts); i++) {
		const struct kp_node *k = kp_node_map_key(hosts, i);
		const struct kp_node *v = kp_node_map_val(hosts, i);
		kp_rc rc = key_name(k, "host", err);
		if (rc)
			return rc;
		if (!kp_node_is_null(v) && v->type != KP_N_MAP)
			return kp_node_errorf(err, KP_ERR_INVALID, v,
					      "variables of host '%s' in group '%s' must be a "
					      "mapping, not %s",
					      k->str, gname, kp_node_describe(v));
		struct kp_value *vars = NULL, *names;
		if (v && v->type == KP_N_MAP && (rc = kp_node_to_value(v, &vars, err)))
			return rc;
		int port;
		char *pattern = kp_inventory_split_port(k->str, &port);
		struct kp_buf rerr = KP_BUF_INIT;
		rc = kp_expand_host_range(pattern, &names, &rerr);
		if (!rc && (rc = kp_inventory_room(inv, kp_list_len(names), pattern, &rerr)))
			kp_value_unref(names);
		free(pattern);
		if (rc) {
			kp_node_errorf(err, rc, k, "%s", rerr.buf);
			kp_buf_release(&rerr);
			kp_value_unref(vars);
			return rc;
		}
		for (size_t j = 0; j < kp_list_len(names); j++) {
			size_t h = kp_inventory_add_host(inv, kp_list_at(names, j)->u.str.s);
			kp_inventory_add_member(inv, g, h);
			if (port >= 0)
				kp_map_set_take(inv->hosts[h]->vars, "ansible_port",
						kp_value_int(port));
			kp_map_update(inv->hosts[h]->vars, vars);
		}
		kp_value_unref(names);
		kp_value_unref(vars);
	}
	return KP_OK;
}

static kp_rc load_group(struct kp_inventory *inv, const struct kp_node *key,
			const struct kp_node *body, size_t *out, struct kp_buf *err);

static kp_rc load_children(struct kp_inventory *inv, size_t g, const struct kp_node *children,
			   struct kp_buf *err)
{
	for (size_t i = 0; i < kp_node_map_len(children); i++) {
		const struct kp_node *k = kp_node_map_key(children, i);
		size_t c;
		kp_rc rc = load_group(inv, k, kp_node_map_val(children, i), &c, err);
		if (rc)
			return rc;
		struct kp_buf cerr = KP_BUF_INIT;
		struct kp_pos at = {k->file, k->line, k->col};
		if ((rc = kp_inventory_add_child_at(inv, g, c, &at, &cerr))) {
			kp_node_errorf(err, rc, k, "%s", cerr.buf);
			kp_buf_release(&cerr);
			return rc;
		}
	}
	return KP_OK;
}

/* `hosts: name` and `children: name` are accepted as Ansible does: a lone
 * string means a mapping of that one name to null. */
static kp_rc section(const struct kp_node *v, const char *key, const char *gname,
		     struct kp_node **pairs, struct kp_node *one, const struct kp_node **out,
		     struct kp_buf *err)
{
	*out = NULL;
	if (kp_node_is_null(v))
		return KP_OK;
	if (v->type == KP_N_MAP) {
		*out = v;
		return KP_OK;
	}
	if (v->type == KP_N_SCALAR && strcmp(key, "vars")) {
		/* a synthetic one-pair mapping pointing at the scalar */
		pairs[0] = (struct kp_node *)v;
		pairs[1] = NULL;
		*one = *v;
		one->type = KP_N_MAP;
		one->items = pairs;
		one->n = 1;
		*out = one;
		return KP_OK;
	}
	return kp_node_errorf(err, KP_ERR_INVALID, v,
			      "'%s' of group '%s' must be a mapping, not %s", key, gname,
			      kp_node_describe(v));
}

static kp_rc load_group(struct kp_inventory *inv, const struct kp_node *key,
			const struct kp_node *body, size_t *out, struct kp_buf *err)
{
	kp_rc rc = key_name(key, "group", err);
	if (rc)
		return rc;
	if (!kp_node_is_null(body) && body->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, body,
				      "group '%s' must be a mapping, not %s", key->str,
				      kp_node_describe(body));
	size_t g = kp_inventory_add_group(inv, key->str);
	*out = g;
	if (kp_node_is_null(body))
		return KP_OK;
	/* check every key before acting on any, so an unknown key is reported
	 * even when a valid one comes first */
	for (size_t i = 0; i < kp_node_map_len(body); i++) {
		const struct kp_node *k = kp_node_map_key(body, i);
		bool known = false;
		for (size_t j = 0; j < KP_ARRAY_LEN(group_keys); j++)
			known |= k->type == KP_N_SCALAR && !strcmp(k->str, group_keys[j]);
		if (known)
			continue;
		if (k->type != KP_N_SCALAR)
			return kp_node_errorf(err, KP_ERR_INVALID, k,
					      "unknown key in group '%s': a key must be hosts, "
					      "children or vars",
					      key->str);
		const char *s = kp_suggest(k->str, group_keys, KP_ARRAY_LEN(group_keys));
		if (s)
			return kp_node_errorf(err, KP_ERR_INVALID, k,
					      "unknown key '%s' in group '%s' (did you mean '%s'?)",
					      k->str, key->str, s);
		return kp_node_errorf(err, KP_ERR_INVALID, k,
				      "unknown key '%s' in group '%s' (a group has hosts, children "
				      "and vars)",
				      k->str, key->str);
	}
	for (size_t i = 0; i < kp_node_map_len(body); i++) {
		const char *k = kp_node_map_key(body, i)->str;
		const struct kp_node *v = kp_node_map_val(body, i), *m;
		struct kp_node *pairs[2], one;
		if ((rc = section(v, k, key->str, pairs, &one, &m, err)))
			return rc;
		if (!m)
			continue;
		if (!strcmp(k, "vars"))
			rc = merge_vars(inv->groups[g]->vars, m, err);
		else if (!strcmp(k, "hosts"))
			rc = load_hosts(inv, g, m, err);
		else
			rc = load_children(inv, g, m, err);
		if (rc)
			return rc;
	}
	return KP_OK;
}

kp_rc kp_inventory_load_yaml(struct kp_inventory *inv, const struct kp_doc *doc, struct kp_buf *err)
{
	const struct kp_node *root = doc->root;
	if (kp_node_is_null(root))
		return KP_OK; /* an empty inventory */
	if (root->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, root,
				      "an inventory must be a mapping of group names, not %s",
				      kp_node_describe(root));
	for (size_t i = 0; i < kp_node_map_len(root); i++) {
		size_t g;
		kp_rc rc =
		    load_group(inv, kp_node_map_key(root, i), kp_node_map_val(root, i), &g, err);
		if (rc)
			return rc;
	}
	return KP_OK;
}
