/*
 * inventory_final.c - kp_inventory_finalize(): kubespray's canonical group
 * names, the implicit groups, cycles and depths, group_vars/host_vars, and
 * every host's merged variables, group_names and the `groups` variable.
 *
 * Hosts in the same set of groups share one merged map and one group_names
 * list (values are read-only once shared): a 5,000-host inventory has a few
 * dozen distinct sets, so merging costs per set, not per host.
 */
#include <stdlib.h>
#include <string.h>

#include "model/inventory.h"

/* legacy name -> canonical name, as kubespray's dynamic_groups role maps
 * them (kube-master, kube-node, calico-rr, no-floating; kube_master and
 * k8s-cluster from older releases); the canonical group gets the legacy
 * one as a child, which gives it the same hosts as group_by does */
static const char *const aliases[][2] = {
    {"kube-master", "kube_control_plane"},
    {"kube_master", "kube_control_plane"},
    {"kube-node", "kube_node"},
    {"calico-rr", "calico_rr"},
    {"no-floating", "no_floating"},
    {"k8s-cluster", "k8s_cluster"},
};

static kp_rc kubespray_names(struct kp_inventory *inv, struct kp_buf *err)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(aliases); i++) {
		struct kp_group *old = kp_inventory_group(inv, aliases[i][0]);
		if (!old)
			continue;
		size_t canon = kp_inventory_add_group(inv, aliases[i][1]);
		kp_rc rc = kp_inventory_add_child(inv, canon, old->index, err);
		if (rc)
			return rc;
	}
	if (kp_inventory_group(inv, "k8s_cluster"))
		return KP_OK;
	/* k8s_cluster: kube_control_plane, kube_node and calico_rr (in the order
	 * of kubespray's sample inventory) */
	static const char *const members[] = {"kube_control_plane", "kube_node", "calico_rr"};
	size_t k8s = 0;
	bool made = false;
	for (size_t i = 0; i < KP_ARRAY_LEN(members); i++) {
		struct kp_group *g = kp_inventory_group(inv, members[i]);
		if (!g)
			continue;
		if (!made)
			k8s = kp_inventory_add_group(inv, "k8s_cluster");
		made = true;
		kp_inventory_add_child(inv, k8s, g->index, NULL);
	}
	return KP_OK;
}

/* Every group without a parent becomes a child of all; a host in no group
 * but all goes to ungrouped, and one that is somewhere else leaves it. */
static void implicit_groups(struct kp_inventory *inv)
{
	struct kp_group *all = inv->groups[0], *ung = inv->groups[1];
	for (size_t g = 2; g < inv->ngroups; g++)
		if (!inv->groups[g]->nparents)
			kp_inventory_add_child(inv, all->index, g, NULL);
	for (size_t h = 0; h < inv->nhosts; h++) {
		struct kp_host *host = inv->hosts[h];
		bool elsewhere = false, in_ung = false;
		if (host->implicit)
			continue;
		for (size_t i = 0; i < host->ngroups; i++) {
			if (host->groups[i] == ung->index)
				in_ung = true;
			else if (host->groups[i] != all->index)
				elsewhere = true;
		}
		if (!elsewhere && !in_ung)
			kp_inventory_add_member(inv, ung->index, h);
		if (elsewhere && in_ung) {
			size_t k = 0;
			for (size_t i = 0; i < host->ngroups; i++)
				if (host->groups[i] != ung->index)
					host->groups[k++] = host->groups[i];
			host->ngroups = k;
			k = 0;
			for (size_t i = 0; i < ung->nhosts; i++)
				if (ung->hosts[i] != h)
					ung->hosts[k++] = ung->hosts[i];
			ung->nhosts = k;
		}
	}
}

/* Longest path from all (Kahn's algorithm); what is left over is a cycle. */
static kp_rc depths(struct kp_inventory *inv, struct kp_buf *err)
{
	size_t n = inv->ngroups, qh = 0, qt = 0;
	size_t *indeg = kp_xcalloc(n, sizeof(*indeg)), *queue = kp_xmalloc(n * sizeof(*queue));
	for (size_t g = 0; g < n; g++) {
		inv->groups[g]->depth = 0;
		indeg[g] = inv->groups[g]->nparents;
		if (!indeg[g])
			queue[qt++] = g;
	}
	while (qh < qt) {
		struct kp_group *g = inv->groups[queue[qh++]];
		for (size_t i = 0; i < g->nchildren; i++) {
			struct kp_group *c = inv->groups[g->children[i]];
			if (c->depth < g->depth + 1)
				c->depth = g->depth + 1;
			if (!--indeg[c->index])
				queue[qt++] = c->index;
		}
	}
	kp_rc rc = KP_OK;
	if (qt < n) {
		/* walk up unfinished parents from an unfinished group until a
		 * group repeats: that stretch is a cycle */
		size_t *path = kp_xmalloc((n + 1) * sizeof(*path)), len = 0, start = 0;
		bool *on = kp_xcalloc(n, sizeof(*on));
		size_t g = 0;
		while (!indeg[g])
			g++;
		while (!on[g]) {
			on[g] = true;
			path[len++] = g;
			struct kp_group *grp = inv->groups[g];
			for (size_t i = 0; i < grp->nparents; i++)
				if (indeg[grp->parents[i]]) {
					g = grp->parents[i];
					break;
				}
		}
		while (path[start] != g)
			start++;
		/* path runs child -> parent; print parent -> child */
		struct kp_buf msg = KP_BUF_INIT;
		/* at the last edge printed, which closes the cycle, when the
		 * file says where it was written */
		const struct kp_group *last = inv->groups[len - start > 1 ? path[start + 1] : g];
		for (size_t i = 0; i < last->nchildren; i++)
			if (last->children[i] == g && last->child_pos[i].file)
				kp_buf_addf(&msg, "%s:%d:%d: ", last->child_pos[i].file,
					    last->child_pos[i].line, last->child_pos[i].col);
		kp_buf_addstr(&msg, "groups are their own ancestors: ");
		kp_buf_addf(&msg, "'%s'", inv->groups[g]->name);
		for (size_t i = len; i-- > start;)
			kp_buf_addf(&msg, " -> '%s'", inv->groups[path[i]]->name);
		rc = kp_errorf(err, KP_ERR_INVALID, "%s", msg.buf);
		kp_buf_release(&msg);
		free(path);
		free(on);
	}
	free(indeg);
	free(queue);
	return rc;
}

static kp_rc file_vars(struct kp_inventory *inv, struct kp_buf *err)
{
	const struct kp_value *pg = inv->pending_group_vars, *ph = inv->pending_host_vars;
	for (size_t i = 0; i < kp_map_len(pg); i++) {
		struct kp_group *g = kp_inventory_group(inv, kp_map_key(pg, i));
		kp_rc rc = g ? kp_inventory_read_vars(kp_map_val(pg, i), g->file_vars, err) : KP_OK;
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < kp_map_len(ph); i++) {
		struct kp_host *h = kp_inventory_host(inv, kp_map_key(ph, i));
		kp_rc rc = h ? kp_inventory_read_vars(kp_map_val(ph, i), h->file_vars, err) : KP_OK;
		if (rc)
			return rc;
	}
	return KP_OK;
}

struct ctx {
	struct kp_inventory *inv;
	size_t *rank;	/* group index -> position in (depth, name) order */
	size_t *order;	/* position -> group index */
	unsigned *mark; /* group index -> stamp of the last host that reached it */
	size_t *stack;
};

static int by_depth_name(const void *a, const void *b)
{
	const struct kp_group *x = *(struct kp_group *const *)a, *y = *(struct kp_group *const *)b;
	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int rank_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return (x > y) - (x < y);
}

/* The groups holding host h, directly or through children, as ranks in
 * (depth, name) order; returns how many. */
static size_t host_groups(struct ctx *c, size_t h, unsigned stamp, size_t *out)
{
	struct kp_inventory *inv = c->inv;
	struct kp_host *host = inv->hosts[h];
	size_t n = 0, sp = 0;
	c->mark[0] = stamp; /* every host is in all */
	out[n++] = c->rank[0];
	for (size_t i = 0; i < host->ngroups; i++)
		c->stack[sp++] = host->groups[i];
	while (sp) {
		size_t g = c->stack[--sp];
		if (c->mark[g] == stamp)
			continue;
		c->mark[g] = stamp;
		out[n++] = c->rank[g];
		const struct kp_group *grp = inv->groups[g];
		for (size_t i = 0; i < grp->nparents; i++)
			if (c->mark[grp->parents[i]] != stamp)
				c->stack[sp++] = grp->parents[i];
	}
	qsort(out, n, sizeof(*out), rank_cmp);
	return n;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void merge_hosts(struct kp_inventory *inv, struct ctx *c)
{
	size_t n = inv->ngroups;
	size_t *ranks = kp_xmalloc(n * sizeof(*ranks));
	const char **names = kp_xmalloc(n * sizeof(*names));
	struct kp_value *cache = kp_value_map(); /* signature -> [merged, group_names] */
	struct kp_buf sig = KP_BUF_INIT;

	for (size_t h = 0; h < inv->nhosts; h++) {
		struct kp_host *host = inv->hosts[h];
		size_t k = host_groups(c, h, (unsigned)h + 1, ranks);
		kp_buf_reset(&sig);
		for (size_t i = 0; i < k; i++)
			kp_buf_addf(&sig, "%zu,", ranks[i]);
		const struct kp_value *hit = kp_map_get(cache, sig.buf);
		if (!hit) {
			struct kp_value *m = kp_value_map(), *gn = kp_value_list(), *pair;
			for (size_t i = 0; i < k; i++)
				kp_map_update(m, inv->groups[c->order[ranks[i]]]->vars);
			for (size_t i = 0; i < k; i++)
				kp_map_update(m, inv->groups[c->order[ranks[i]]]->file_vars);
			size_t nn = 0;
			for (size_t i = 0; i < k; i++)
				if (c->order[ranks[i]] != 0)
					names[nn++] = inv->groups[c->order[ranks[i]]]->name;
			qsort(names, nn, sizeof(*names), name_cmp);
			for (size_t i = 0; i < nn; i++)
				kp_list_push_take(gn, kp_value_str(names[i]));
			pair = kp_value_list();
			kp_list_push_take(pair, m);
			kp_list_push_take(pair, gn);
			kp_map_set_take(cache, sig.buf, pair);
			hit = pair;
		}
		const struct kp_value *base = kp_list_at(hit, 0);
		if (kp_map_len(host->vars) || kp_map_len(host->file_vars)) {
			host->merged = kp_value_map();
			kp_map_update(host->merged, base);
			kp_map_update(host->merged, host->vars);
			kp_map_update(host->merged, host->file_vars);
		} else {
			host->merged = kp_value_ref(base);
		}
		host->group_names = kp_value_ref(kp_list_at(hit, 1));
		host->group_names->unsafe = 1;
	}
	kp_buf_release(&sig);
	kp_value_unref(cache);
	free(ranks);
	free(names);
}

static void groups_var(struct kp_inventory *inv)
{
	/* one string per host, shared by every list it is in */
	struct kp_value **hn = kp_xmalloc((inv->nhosts ? inv->nhosts : 1) * sizeof(*hn));
	for (size_t h = 0; h < inv->nhosts; h++)
		hn[h] = kp_value_str(inv->hosts[h]->name);
	inv->groups_var = kp_value_map();
	for (size_t g = 0; g < inv->ngroups; g++) {
		size_t *idx, n = kp_group_all_hosts(inv, inv->groups[g], &idx);
		struct kp_value *l = kp_value_list();
		for (size_t i = 0; i < n; i++)
			kp_list_push(l, hn[idx[i]]);
		free(idx);
		kp_map_set_take(inv->groups_var, inv->groups[g]->name, l);
	}
	for (size_t h = 0; h < inv->nhosts; h++)
		kp_value_unref(hn[h]);
	free(hn);
	inv->groups_var->unsafe = 1; /* magic: never templated (nor scanned for templates) */
}

/* Every host's merged variables and group_names, and `groups`. */
static void derive(struct kp_inventory *inv)
{
	size_t n = inv->ngroups;
	struct ctx c = {.inv = inv};
	c.order = kp_xmalloc(n * sizeof(*c.order));
	c.rank = kp_xmalloc(n * sizeof(*c.rank));
	c.mark = kp_xcalloc(n, sizeof(*c.mark));
	/* a group is pushed once per child edge reaching it at most */
	size_t edges = 0, most = 0;
	for (size_t g = 0; g < n; g++)
		edges += inv->groups[g]->nparents;
	for (size_t h = 0; h < inv->nhosts; h++)
		if (inv->hosts[h]->ngroups > most)
			most = inv->hosts[h]->ngroups;
	c.stack = kp_xmalloc((edges + most + 1) * sizeof(*c.stack));
	struct kp_group **sorted = kp_xmalloc(n * sizeof(*sorted));
	memcpy(sorted, inv->groups, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), by_depth_name);
	for (size_t i = 0; i < n; i++) {
		c.order[i] = sorted[i]->index;
		c.rank[sorted[i]->index] = i;
	}
	free(sorted);
	merge_hosts(inv, &c);
	free(c.order);
	free(c.rank);
	free(c.mark);
	free(c.stack);
	groups_var(inv);
}

kp_rc kp_inventory_finalize(struct kp_inventory *inv, struct kp_buf *err)
{
	if (inv->finalized)
		return KP_OK;
	/* group_vars/ and host_vars/ first: the groups kubespray's names add
	 * get no variables of their own, as in ansible-inventory's view */
	kp_rc rc = file_vars(inv, err);
	if (rc)
		return rc;
	/* the inventory's own top-level groups stay children of all when
	 * kubespray's names give them a parent (group_by adds hosts, it does
	 * not move groups); then the groups those names made join all */
	implicit_groups(inv);
	if ((rc = kubespray_names(inv, err)))
		return rc;
	implicit_groups(inv);
	if ((rc = depths(inv, err)))
		return rc;

	derive(inv);
	inv->finalized = true;
	return KP_OK;
}

kp_rc kp_inventory_refresh(struct kp_inventory *inv, struct kp_buf *err)
{
	implicit_groups(inv);
	kp_rc rc = depths(inv, err);
	if (rc)
		return rc;
	for (size_t h = 0; h < inv->nhosts; h++) {
		kp_value_unref(inv->hosts[h]->merged);
		kp_value_unref(inv->hosts[h]->group_names);
		inv->hosts[h]->merged = inv->hosts[h]->group_names = NULL;
	}
	kp_value_unref(inv->groups_var);
	inv->groups_var = NULL;
	derive(inv);
	return KP_OK;
}
