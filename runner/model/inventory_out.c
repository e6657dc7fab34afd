/*
 * inventory_out.c - what `kplan inventory` prints: --list (the JSON of
 * `ansible-inventory --list`), --graph and --host.
 *
 * ansible-inventory sorts every mapping's keys (json.dumps(sort_keys=True))
 * and so do these, so that the outputs can be compared with Ansible's line
 * by line; only the indentation differs (two spaces, not four). Lists keep
 * their order.
 */
#include <stdlib.h>
#include <string.h>

#include "model/inventory.h"

struct keyed {
	const char *key;
	size_t at;
};

static int key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* A copy with every mapping's keys sorted; a secret stays one value (it
 * prints as <hidden> whole). */
static struct kp_value *sorted(const struct kp_value *v)
{
	if (v->secret || (v->type != KP_V_MAP && v->type != KP_V_LIST))
		return kp_value_ref(v);
	if (v->type == KP_V_LIST) {
		struct kp_value *l = kp_value_list();
		for (size_t i = 0; i < kp_list_len(v); i++)
			kp_list_push_take(l, sorted(kp_list_at(v, i)));
		return l;
	}
	size_t n = kp_map_len(v);
	struct keyed *keys = kp_xmalloc((n ? n : 1) * sizeof(*keys));
	for (size_t i = 0; i < n; i++)
		keys[i] = (struct keyed){kp_map_key(v, i), i};
	qsort(keys, n, sizeof(*keys), key_cmp);
	struct kp_value *m = kp_value_map();
	for (size_t i = 0; i < n; i++)
		kp_map_set_take(m, keys[i].key, sorted(kp_map_val(v, keys[i].at)));
	free(keys);
	return m;
}

/* Ansible's format_group(): a group's direct hosts (not for all) and child
 * names, then each child not seen yet; empty groups are left out. */
static void list_group(const struct kp_inventory *inv, const struct kp_group *g, bool *seen,
		       struct kp_value *top)
{
	struct kp_value *e = kp_value_map();
	if (g->index != 0 && g->nhosts) {
		struct kp_value *hosts = kp_value_list();
		for (size_t i = 0; i < g->nhosts; i++)
			kp_list_push_take(hosts, kp_value_str(inv->hosts[g->hosts[i]]->name));
		kp_map_set_take(e, "hosts", hosts);
	}
	if (g->nchildren) {
		struct kp_value *ch = kp_value_list();
		for (size_t i = 0; i < g->nchildren; i++)
			kp_list_push_take(ch, kp_value_str(inv->groups[g->children[i]]->name));
		kp_map_set_take(e, "children", ch);
	}
	if (kp_map_len(e))
		kp_map_set_take(top, g->name, e);
	else
		kp_value_unref(e);
	for (size_t i = 0; i < g->nchildren; i++) {
		size_t c = g->children[i];
		if (!seen[c]) {
			seen[c] = true;
			list_group(inv, inv->groups[c], seen, top);
		}
	}
}

void kp_inventory_list_json(const struct kp_inventory *inv, struct kp_buf *out)
{
	struct kp_value *top = kp_value_map(), *meta = kp_value_map(), *hv = kp_value_map();
	for (size_t h = 0; h < inv->nhosts; h++) {
		const struct kp_host *host = inv->hosts[h];
		if (host->merged && kp_map_len(host->merged))
			kp_map_set(hv, host->name, host->merged);
	}
	kp_map_set_take(meta, "hostvars", hv);
	kp_map_set_take(top, "_meta", meta);
	if (inv->ngroups) {
		bool *seen = kp_xcalloc(inv->ngroups, sizeof(*seen));
		seen[0] = true;
		list_group(inv, inv->groups[0], seen, top);
		free(seen);
	}
	struct kp_value *s = sorted(top);
	kp_value_to_json(s, true, true, out);
	kp_buf_addch(out, '\n');
	kp_value_unref(s);
	kp_value_unref(top);
}

static void graph_line(struct kp_buf *out, int depth, const char *prefix, const char *name,
		       const char *suffix)
{
	for (int i = 0; i < depth; i++)
		kp_buf_addstr(out, "  |");
	kp_buf_addf(out, "%s%s%s%s\n", depth ? "--" : "", prefix, name, suffix);
}

static void graph_group(const struct kp_inventory *inv, const struct kp_group *g, int depth,
			struct kp_buf *out)
{
	graph_line(out, depth, "@", g->name, ":");
	for (size_t i = 0; i < g->nchildren; i++)
		graph_group(inv, inv->groups[g->children[i]], depth + 1, out);
	if (g->index != 0)
		for (size_t i = 0; i < g->nhosts; i++)
			graph_line(out, depth + 1, "", inv->hosts[g->hosts[i]]->name, "");
}

void kp_inventory_graph(const struct kp_inventory *inv, const char *group, struct kp_buf *out)
{
	const struct kp_group *g = kp_inventory_group(inv, group ? group : "all");
	if (g)
		graph_group(inv, g, 0, out);
}

kp_rc kp_inventory_host_json(const struct kp_inventory *inv, const char *name, struct kp_buf *out,
			     struct kp_buf *err)
{
	const struct kp_host *h = kp_inventory_host(inv, name);
	if (!h) {
		const char **names = kp_xmalloc((inv->nhosts ? inv->nhosts : 1) * sizeof(*names));
		for (size_t i = 0; i < inv->nhosts; i++)
			names[i] = inv->hosts[i]->name;
		const char *s = kp_suggest(name, names, inv->nhosts);
		kp_rc rc = s ? kp_errorf(err, KP_ERR_NOTFOUND,
					 "unknown host '%s' (did you mean '%s'?)", name, s)
			     : kp_errorf(err, KP_ERR_NOTFOUND, "unknown host '%s'", name);
		if (err)
			kp_buf_escape_newlines(err, 0); /* the name comes from the command line */
		free(names);
		return rc;
	}
	struct kp_value *s = h->merged ? sorted(h->merged) : kp_value_map();
	kp_value_to_json(s, true, true, out);
	kp_buf_addch(out, '\n');
	kp_value_unref(s);
	return KP_OK;
}
