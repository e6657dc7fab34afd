/*
 * window.c - the disruption-aware window's gate (`window: auto`, or
 * {max, budget: pdb, min_ready}): before each host of the sliding window
 * starts, read the cluster (three list requests: nodes, pods, budgets) and
 * ask kp_kwin_decide (kube/kubewindow.h), for each host not started yet,
 * whether its node may go out with the nodes of the hosts in flight. Of
 * those that may, the one whose budgets still have the most nodes to take
 * starts (the longest chains first; play order among equals). A host that
 * must wait does not hold back the others: the order of starts is the
 * cluster's to decide.
 * While none may start the window waits, reads again every half second (at once
 * when a host finishes), and the status line says why the first of them
 * waits; each admission goes to the journal.
 */
#include "engine/engine_int.h"
#include "kube/kubeapi.h"
#include "kube/kubewindow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WGATE_POLL_MS 500 /* how often a waiting window reads the cluster again */

struct kp_wgate {
	struct kp_kube *kube;
	struct kp_kwin_rule rule;
	const struct kp_hostlist *hosts;
	char **nodes;	/* the node of each host (node_name, or its name) */
	bool *inflight; /* by host index */
	bool *started;
	size_t *order;		  /* the host the i-th start ran */
	int64_t *waited_since;	  /* when a host was first held back (0: never) */
	struct kp_strlist *waits; /* why, each reason once */
	size_t shown;		  /* the host the status line says waits, or SIZE_MAX */
	size_t n;
	pthread_mutex_t m;
	pthread_cond_t done; /* a host finished */
};

static void wgate_free(struct kp_wgate *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->nodes[i]);
	free(g->nodes);
	free(g->inflight);
	free(g->started);
	free(g->order);
	free(g->waited_since);
	for (size_t i = 0; i < g->n; i++)
		kp_strlist_release(&g->waits[i]);
	free(g->waits);
	kp_kube_free(g->kube);
	pthread_mutex_destroy(&g->m);
	pthread_cond_destroy(&g->done);
	free(g);
}

kp_rc kp_wgate_open(struct kp_engine *e, const struct kp_hostlist *hosts, struct kp_buf *err)
{
	const struct kp_window_rule *w = &e->play->wrule;
	struct kp_wgate *g = kp_xcalloc(1, sizeof(*g));
	struct kp_buf why = KP_BUF_INIT;
	pthread_mutex_init(&g->m, NULL);
	pthread_cond_init(&g->done, NULL);
	g->rule = (struct kp_kwin_rule){
	    .budget = w->budget, .min_ready = w->min_ready, .min_ready_pct = w->min_ready_pct};
	g->hosts = hosts;
	g->n = hosts->n;
	g->nodes = kp_xcalloc(g->n + 1, sizeof(*g->nodes));
	g->inflight = kp_xcalloc(g->n + 1, sizeof(bool));
	g->started = kp_xcalloc(g->n + 1, sizeof(bool));
	g->order = kp_xcalloc(g->n + 1, sizeof(size_t));
	g->waited_since = kp_xcalloc(g->n + 1, sizeof(int64_t));
	g->waits = kp_xcalloc(g->n + 1, sizeof(struct kp_strlist));
	g->shown = SIZE_MAX;
	for (size_t i = 0; i < g->n; i++) {
		const struct kp_value *v = kp_scope_get(&hosts->h[i]->hv.scope, "node_name");
		g->nodes[i] =
		    kp_xstrdup(v && v->type == KP_V_STR && v->u.str.len ? v->u.str.s
									: hosts->h[i]->host->name);
	}
	kp_rc rc =
	    kp_kube_open(e->o->kubeconfig, getenv("KUBECONFIG"), getenv("HOME"), &g->kube, &why);
	struct kp_kwin_snap s;
	if (!rc && !(rc = kp_kwin_snap_fetch(g->kube, &s, &why)))
		kp_kwin_snap_release(&s);
	if (rc) {
		kp_errorf(err, rc,
			  "play '%s': the window reads PodDisruptionBudgets, pods and nodes "
			  "through the Kubernetes API, and cannot: %s",
			  e->play->name ? e->play->name : e->play->hosts, why.buf ? why.buf : "");
		kp_buf_release(&why);
		wgate_free(g);
		return rc;
	}
	kp_buf_release(&why);
	e->wgate = g;
	return KP_OK;
}

void kp_wgate_close(struct kp_engine *e)
{
	if (e->wgate)
		wgate_free(e->wgate);
	e->wgate = NULL;
}

/* the nodes of the hosts in flight (borrowed from g), under g->m */
static size_t inflight_nodes(struct kp_wgate *g, const char **out)
{
	size_t n = 0;
	for (size_t i = 0; i < g->n; i++)
		if (g->inflight[i])
			out[n++] = g->nodes[i];
	return n;
}

/* the host to start now, or SIZE_MAX with the reason the first host not
 * started (in play order) waits for in d. Of the hosts that may go, the
 * heaviest (kp_kwin_weights: the longest chains of budgets first) starts,
 * play order among equals; each held-back host's reasons go to its waits. */
static size_t pick(struct kp_wgate *g, const char *const *flight, size_t nf,
		   struct kp_kwin_decision *d)
{
	struct kp_kwin_snap s;
	struct kp_buf err = KP_BUF_INIT;
	size_t np = 0, chosen = SIZE_MAX;
	int64_t now = kp_now_ms();
	size_t *pend = kp_xcalloc(g->n + 1, sizeof(size_t));
	for (size_t h = 0; h < g->n; h++)
		if (!g->started[h])
			pend[np++] = h;
	if (!np || kp_kwin_snap_fetch(g->kube, &s, &err)) {
		if (np)
			snprintf(d->reason, sizeof(d->reason), "the cluster could not be read: %s",
				 err.buf ? err.buf : "");
		kp_buf_release(&err);
		free(pend);
		return SIZE_MAX;
	}
	kp_buf_release(&err);
	const char **names = kp_xcalloc(np + 1, sizeof(*names));
	size_t *w = kp_xcalloc(np + 1, sizeof(size_t));
	for (size_t k = 0; k < np; k++)
		names[k] = g->nodes[pend[k]];
	kp_kwin_weights(&s, names, np, w);
	/* heaviest first, play order among equals (a stable insertion sort) */
	for (size_t k = 1; k < np; k++)
		for (size_t j = k; j > 0 && w[j] > w[j - 1]; j--) {
			size_t t = w[j];
			w[j] = w[j - 1];
			w[j - 1] = t;
			t = pend[j];
			pend[j] = pend[j - 1];
			pend[j - 1] = t;
		}
	size_t first = SIZE_MAX; /* in play order */
	for (size_t h = 0; h < g->n && first == SIZE_MAX; h++)
		if (!g->started[h])
			first = h;
	for (size_t k = 0; k < np && chosen == SIZE_MAX; k++) {
		struct kp_kwin_decision hd;
		size_t h = pend[k];
		kp_kwin_decide(&s, &g->rule, flight, nf, g->nodes[h], &hd);
		if (hd.admit) {
			chosen = h;
			break;
		}
		if (!g->waited_since[h])
			g->waited_since[h] = now;
		if (!kp_strlist_has(&g->waits[h], hd.reason) && g->waits[h].n < 16)
			kp_strlist_push(&g->waits[h], hd.reason);
		if (h == first)
			*d = hd;
	}
	kp_kwin_snap_release(&s);
	free(names);
	free(w);
	free(pend);
	return chosen;
}

bool kp_wgate_admit(struct kp_engine *e, size_t i)
{
	struct kp_wgate *g = e->wgate;
	const char **flight = kp_xcalloc(g->n + 1, sizeof(*flight));
	bool admit = false;
	while (!kp_engine_stopped(e) && !e->stop_starting) {
		struct kp_kwin_decision d = {.admit = false};
		pthread_mutex_lock(&g->m);
		size_t nf = inflight_nodes(g, flight);
		pthread_mutex_unlock(&g->m);
		size_t h = pick(g, flight, nf, &d);
		if (h != SIZE_MAX) {
			pthread_mutex_lock(&g->m);
			g->inflight[h] = g->started[h] = true;
			g->order[i] = h;
			pthread_mutex_unlock(&g->m);
			const char *host = g->hosts->h[h]->host->name;
			int64_t waited = g->waited_since[h] ? kp_now_ms() - g->waited_since[h] : 0;
			if (g->shown == h) {
				kp_out_window(&e->out, host, NULL, waited);
				g->shown = SIZE_MAX;
			}
			kp_journal_admission(&e->journal, host, g->nodes[h], flight, nf, waited,
					     &g->waits[h]);
			admit = true;
			break;
		}
		/* no host may start: say why the first one waits */
		for (size_t k = 0; k < g->n && d.reason[0]; k++)
			if (!g->started[k]) {
				kp_out_window(&e->out, g->hosts->h[k]->host->name, d.reason, 0);
				g->shown = k;
				break;
			}
		/* half a second, or until a host finishes */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)WGATE_POLL_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&g->m);
		pthread_cond_timedwait(&g->done, &g->m, &ts);
		pthread_mutex_unlock(&g->m);
	}
	if (!admit && g->shown != SIZE_MAX) /* the run stops: no admission */
		kp_out_window(&e->out, g->hosts->h[g->shown]->host->name, NULL, -1);
	free(flight);
	return admit;
}

size_t kp_wgate_host(struct kp_engine *e, size_t i)
{
	return e->wgate->order[i];
}

size_t kp_wgate_failed(struct kp_engine *e, size_t *started)
{
	struct kp_wgate *g = e->wgate;
	size_t failed = 0;
	*started = 0;
	for (size_t h = 0; h < g->n; h++) {
		const struct kp_hoststate *hs = g->hosts->h[h];
		if (!g->started[h])
			continue;
		(*started)++;
		failed += hs->failed || hs->unreachable;
	}
	return failed;
}

void kp_wgate_done(struct kp_engine *e, size_t i)
{
	struct kp_wgate *g = e->wgate;
	pthread_mutex_lock(&g->m);
	g->inflight[i] = false;
	pthread_cond_broadcast(&g->done);
	pthread_mutex_unlock(&g->m);
}
