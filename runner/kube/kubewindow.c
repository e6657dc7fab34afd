/*
 * kubewindow.c - the disruption-aware window's admission decision
 * (kubewindow.h): a snapshot of nodes, pods and budgets, indexed once, and
 * the pure functions that decide on it.
 */
#include "kube/kubewindow.h"
#include "kube/kubeapi.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jobj(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* the status of condition `type` is "True" */
static bool condition_true(const cJSON *status, const char *type)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, jobj(status, "conditions"))
	{
		const char *t = jstr(c, "type"), *st = jstr(c, "status");
		if (t && !strcmp(t, type))
			return st && !strcmp(st, "True");
	}
	return false;
}

static const cJSON *items_of(const cJSON *list, const char *what, struct kp_buf *err)
{
	const cJSON *items = jobj(list, "items");
	if (!cJSON_IsArray(items) && !cJSON_IsNull(items)) {
		kp_errorf(err, KP_ERR_INVALID, "the %s list has no items array", what);
		return NULL;
	}
	return items;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct kp_kwin_node *)a)->name,
		      ((const struct kp_kwin_node *)b)->name);
}

/* the node's index, or SIZE_MAX */
static size_t node_index(const struct kp_kwin_snap *s, const char *name)
{
	struct kp_kwin_node key = {.name = name};
	const struct kp_kwin_node *n =
	    name && *name ? bsearch(&key, s->nodes, s->nnodes, sizeof(*s->nodes), cmp_node) : NULL;
	return n ? (size_t)(n - s->nodes) : SIZE_MAX;
}

/* a count or a percentage of total, rounded up (intstr's
 * GetScaledValueFromIntOrPercent with roundUp) */
static int scaled(const cJSON *v, int total)
{
	if (cJSON_IsNumber(v))
		return v->valueint;
	if (cJSON_IsString(v)) {
		char *end;
		long pct = strtol(v->valuestring, &end, 10);
		if (end != v->valuestring && *end == '%')
			return (int)((pct * total + 99) / 100);
		return (int)pct;
	}
	return 0;
}

/* a drain would evict it: not a DaemonSet's, not a mirror pod, not finished */
static bool evictable(const cJSON *pod)
{
	const cJSON *md = jobj(pod, "metadata"), *ref;
	const char *phase = jstr(jobj(pod, "status"), "phase");
	if (jobj(jobj(md, "annotations"), "kubernetes.io/config.mirror"))
		return false;
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	cJSON_ArrayForEach(ref, jobj(md, "ownerReferences"))
	{
		const char *kind = jstr(ref, "kind");
		if (cJSON_IsTrue(jobj(ref, "controller")) && kind && !strcmp(kind, "DaemonSet"))
			return false;
	}
	return true;
}

static void pdb_index(struct kp_kwin_snap *s, const cJSON *pdb, struct kp_kwin_pdb *b)
{
	const cJSON *md = jobj(pdb, "metadata"), *spec = jobj(pdb, "spec"),
		    *st = jobj(pdb, "status");
	const cJSON *sel = jobj(spec, "selector");
	b->ns = jstr(md, "namespace");
	b->name = jstr(md, "name");
	if (!b->ns)
		b->ns = "default";
	if (!b->name)
		b->name = "";
	b->pods = kp_xcalloc(s->npods ? s->npods : 1, sizeof(*b->pods));
	int expected = 0;
	for (size_t i = 0; sel && i < s->npods; i++) {
		struct kp_kwin_pod *p = &s->pods[i];
		if (strcmp(p->ns, b->ns) || !kp_kube_selector_matches(sel, p->labels))
			continue;
		b->pods[b->npods++] = i;
		expected += !p->terminating;
	}
	const cJSON *dh = jobj(st, "desiredHealthy"), *ep = jobj(st, "expectedPods");
	b->expected = expected;
	if (cJSON_IsNumber(dh) && cJSON_IsNumber(ep)) {
		/* the disruption controller's own counts */
		b->desired = dh->valueint;
		b->expected = ep->valueint;
		return;
	}
	if (jobj(spec, "minAvailable"))
		b->desired = scaled(jobj(spec, "minAvailable"), expected);
	else if (jobj(spec, "maxUnavailable"))
		b->desired = expected - scaled(jobj(spec, "maxUnavailable"), expected);
	else
		b->desired = expected;
	if (b->desired < 0)
		b->desired = 0;
}

kp_rc kp_kwin_snap_build(cJSON *nodes, cJSON *pods, cJSON *pdbs, struct kp_kwin_snap *s,
			 struct kp_buf *err)
{
	memset(s, 0, sizeof(*s));
	s->nodes_json = nodes;
	s->pods_json = pods;
	s->pdbs_json = pdbs;
	const cJSON *ni = items_of(nodes, "node", err), *pi = items_of(pods, "pod", err),
		    *bi = items_of(pdbs, "PodDisruptionBudget", err), *x;
	if ((!ni && nodes) || (!pi && pods) || (!bi && pdbs) || !nodes || !pods) {
		if (!err || !err->len)
			kp_errorf(err, KP_ERR_INVALID, "a window snapshot needs nodes and pods");
		kp_kwin_snap_release(s);
		return KP_ERR_INVALID;
	}
	s->nodes = kp_xcalloc((size_t)cJSON_GetArraySize(ni) + 1, sizeof(*s->nodes));
	cJSON_ArrayForEach(x, ni)
	{
		const char *name = jstr(jobj(x, "metadata"), "name");
		if (!name)
			continue;
		struct kp_kwin_node *n = &s->nodes[s->nnodes++];
		n->name = name;
		n->ready = condition_true(jobj(x, "status"), "Ready");
		n->unschedulable = cJSON_IsTrue(jobj(jobj(x, "spec"), "unschedulable"));
	}
	qsort(s->nodes, s->nnodes, sizeof(*s->nodes), cmp_node);
	s->pods = kp_xcalloc((size_t)cJSON_GetArraySize(pi) + 1, sizeof(*s->pods));
	cJSON_ArrayForEach(x, pi)
	{
		const cJSON *md = jobj(x, "metadata");
		struct kp_kwin_pod *p = &s->pods[s->npods];
		p->name = jstr(md, "name");
		if (!p->name)
			continue;
		p->ns = jstr(md, "namespace");
		if (!p->ns)
			p->ns = "default";
		p->node = jstr(jobj(x, "spec"), "nodeName");
		if (!p->node)
			p->node = "";
		p->labels = jobj(md, "labels");
		p->terminating = jobj(md, "deletionTimestamp") != NULL &&
				 !cJSON_IsNull(jobj(md, "deletionTimestamp"));
		p->healthy = !p->terminating && condition_true(jobj(x, "status"), "Ready");
		p->evictable = evictable(x);
		s->npods++;
	}
	s->pdbs = kp_xcalloc((size_t)(bi ? cJSON_GetArraySize(bi) : 0) + 1, sizeof(*s->pdbs));
	cJSON_ArrayForEach(x, bi) pdb_index(s, x, &s->pdbs[s->npdbs++]);
	return KP_OK;
}

void kp_kwin_snap_release(struct kp_kwin_snap *s)
{
	for (size_t i = 0; i < s->npdbs; i++)
		free(s->pdbs[i].pods);
	free(s->pdbs);
	free(s->pods);
	free(s->nodes);
	cJSON_Delete(s->nodes_json);
	cJSON_Delete(s->pods_json);
	cJSON_Delete(s->pdbs_json);
	memset(s, 0, sizeof(*s));
}

static kp_rc get_list(struct kp_kube *k, const char *path, cJSON **out, struct kp_buf *err)
{
	long status = 0;
	kp_rc rc = kp_kube_request(k, "GET", path, NULL, NULL, &status, out, err);
	if (rc)
		return rc;
	if (status / 100 != 2) {
		rc = kp_errorf(err, KP_ERR_IO, "'GET %s' answered %ld: %s", path, status,
			       kp_kube_status_message(*out));
		cJSON_Delete(*out);
		*out = NULL;
	}
	return rc;
}

kp_rc kp_kwin_snap_fetch(struct kp_kube *k, struct kp_kwin_snap *s, struct kp_buf *err)
{
	const struct kp_kube_api *api;
	cJSON *nodes = NULL, *pods = NULL, *pdbs = NULL;
	char path[128];
	kp_rc rc = kp_kube_discover(k, &api, err);
	if (!rc && !*api->pdb)
		rc = kp_errorf(err, KP_ERR_NOTFOUND,
			       "%s does not serve PodDisruptionBudgets (no policy group)",
			       kp_kube_describe(k));
	snprintf(path, sizeof(path), "/apis/%s/poddisruptionbudgets", rc ? "" : api->pdb);
	if (!rc)
		rc = get_list(k, "/api/v1/nodes", &nodes, err);
	if (!rc)
		rc = get_list(k, "/api/v1/pods", &pods, err);
	if (!rc)
		rc = get_list(k, path, &pdbs, err);
	if (rc) {
		cJSON_Delete(nodes);
		cJSON_Delete(pods);
		cJSON_Delete(pdbs);
		memset(s, 0, sizeof(*s));
		return rc;
	}
	return kp_kwin_snap_build(nodes, pods, pdbs, s, err);
}

void kp_kwin_weights(const struct kp_kwin_snap *s, const char *const *pending, size_t npending,
		     size_t *weights)
{
	size_t *at = kp_xcalloc(s->nnodes + 1, sizeof(size_t)); /* node -> pending index + 1 */
	bool *touched = kp_xcalloc(npending + 1, sizeof(bool));
	for (size_t i = 0; i < npending; i++) {
		size_t ni = node_index(s, pending[i]);
		weights[i] = 0;
		if (ni != SIZE_MAX)
			at[ni] = i + 1;
	}
	for (size_t bi = 0; bi < s->npdbs; bi++) {
		const struct kp_kwin_pdb *b = &s->pdbs[bi];
		size_t count = 0;
		memset(touched, 0, (npending + 1) * sizeof(bool));
		for (size_t k = 0; k < b->npods; k++) {
			const struct kp_kwin_pod *p = &s->pods[b->pods[k]];
			size_t ni = node_index(s, p->node);
			if (!p->evictable || p->terminating || ni == SIZE_MAX || !at[ni] ||
			    touched[at[ni] - 1])
				continue;
			touched[at[ni] - 1] = true;
			count++;
		}
		for (size_t i = 0; i < npending; i++)
			if (touched[i])
				weights[i] += count;
	}
	free(touched);
	free(at);
}

int kp_kwin_min_ready(const struct kp_kwin_rule *r, size_t nnodes)
{
	if (!r->min_ready_pct)
		return r->min_ready;
	return (int)(((uint64_t)r->min_ready * nnodes + 99) / 100);
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

/* why pdb b holds the candidate back */
static void budget_reason(const struct kp_kwin_snap *s, const struct kp_kwin_pdb *b,
			  const bool *out, int allows, struct kp_kwin_decision *d)
{
	size_t inflight = 0, unready = 0, present = 0;
	bool *named = kp_xcalloc(s->nnodes + 1, sizeof(bool));
	struct kp_buf where = KP_BUF_INIT, r = KP_BUF_INIT;
	for (size_t i = 0; i < b->npods; i++) {
		const struct kp_kwin_pod *p = &s->pods[b->pods[i]];
		size_t ni = node_index(s, p->node);
		present += !p->terminating;
		if (ni != SIZE_MAX && out[ni]) {
			inflight++;
			if (!named[ni])
				kp_buf_addf(&where, "%s%s", where.len ? ", " : "",
					    s->nodes[ni].name);
			named[ni] = true;
		} else if (!p->healthy) {
			unready++;
		}
	}
	/* pods its controller has yet to make (a replacement not created yet) */
	size_t missing = (size_t)b->expected > present ? (size_t)b->expected - present : 0;
	const char *sep = " (";
	kp_buf_addf(&r, "pdb %s/%s allows %d", b->ns, b->name, allows);
	if (inflight) {
		kp_buf_addf(&r, "%s%zu pod%s in flight on %s", sep, inflight, plural(inflight),
			    where.buf);
		sep = "; ";
	}
	if (unready) {
		kp_buf_addf(&r, "%s%zu pod%s not ready", sep, unready, plural(unready));
		sep = "; ";
	}
	if (missing) {
		kp_buf_addf(&r, "%s%zu of %d pods missing", sep, missing, b->expected);
		sep = "; ";
	}
	if (*sep == ';')
		kp_buf_addstr(&r, ")");
	snprintf(d->reason, sizeof(d->reason), "%s", r.buf);
	kp_buf_release(&r);
	kp_buf_release(&where);
	free(named);
}

void kp_kwin_decide(const struct kp_kwin_snap *s, const struct kp_kwin_rule *r,
		    const char *const *inflight, size_t ninflight, const char *candidate,
		    struct kp_kwin_decision *d)
{
	d->admit = true;
	d->reason[0] = 0;
	size_t cand = node_index(s, candidate);
	/* the nodes out: the play's in flight, and those the API shows
	 * cordoned or not Ready (the candidate itself apart) */
	bool *out = kp_xcalloc(s->nnodes + 1, sizeof(bool)),
	     *play = kp_xcalloc(s->nnodes + 1, sizeof(bool));
	for (size_t i = 0; i < ninflight; i++) {
		size_t ni = node_index(s, inflight[i]);
		if (ni != SIZE_MAX)
			out[ni] = play[ni] = true;
	}
	for (size_t i = 0; i < s->nnodes; i++)
		if (!s->nodes[i].ready || s->nodes[i].unschedulable)
			out[i] = true;
	if (cand != SIZE_MAX)
		out[cand] = false;
	if (r->budget && ninflight) {
		for (size_t bi = 0; bi < s->npdbs && d->admit; bi++) {
			const struct kp_kwin_pdb *b = &s->pdbs[bi];
			int taken = 0, left = 0, before = 0;
			for (size_t i = 0; i < b->npods; i++) {
				const struct kp_kwin_pod *p = &s->pods[b->pods[i]];
				size_t ni = node_index(s, p->node);
				bool on_cand = cand != SIZE_MAX && ni == cand;
				if (on_cand && p->evictable && p->healthy)
					taken++;
				if (p->healthy && (ni == SIZE_MAX || !out[ni])) {
					before++;
					left += !on_cand;
				}
			}
			if (!taken || left >= b->desired)
				continue;
			d->admit = false;
			budget_reason(s, b, out, before > b->desired ? before - b->desired : 0, d);
		}
	}
	if (d->admit && r->min_ready > 0) {
		size_t stay = 0;
		for (size_t i = 0; i < s->nnodes; i++)
			stay += s->nodes[i].ready && !s->nodes[i].unschedulable && !play[i] &&
				i != cand;
		int need = kp_kwin_min_ready(r, s->nnodes);
		if (stay < (size_t)need) {
			d->admit = false;
			if (r->min_ready_pct)
				snprintf(
				    d->reason, sizeof(d->reason),
				    "min_ready %d%% (%d of %zu nodes): %zu would stay schedulable",
				    r->min_ready, need, s->nnodes, stay);
			else
				snprintf(d->reason, sizeof(d->reason),
					 "min_ready %d: %zu of %zu nodes would stay schedulable",
					 need, stay, s->nnodes);
		}
	}
	free(out);
	free(play);
}
