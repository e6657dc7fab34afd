/*
 * window.c - the disruption-aware window's gate (`window: auto`, or
 * {max, budget: pdb, min_ready}): before each host of the sliding window
 * starts, read the cluster (three list requests: nodes, pods, budgets) and
 * ask kp_kwin_decide (kube/kubewindow.h) whether the host's node may go out
 * with the nodes of the hosts in flight. While it may not, the window waits,
 * reads again every second (at once when a host finishes), and the status
 * line says why; each admission goes to the journal. The host order is the
 * play's: a host that must wait holds back those after it.
 */
#include "engine/engine_int.h"
#include "kube/kubeapi.h"
#include "kube/kubewindow.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WGATE_POLL_MS 1000

struct kp_wgate {
	struct kp_kube *kube;
	struct kp_kwin_rule rule;
	const struct kp_hostlist *hosts;
	char **nodes;	/* the node of each host (node_name, or its name) */
	bool *inflight; /* by host index */
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

bool kp_wgate_admit(struct kp_engine *e, size_t i)
{
	struct kp_wgate *g = e->wgate;
	const char *host = g->hosts->h[i]->host->name;
	const char **flight = kp_xcalloc(g->n + 1, sizeof(*flight));
	char *last = NULL;
	struct kp_strlist waits = {0}; /* the reasons it waited for, each once */
	int64_t t0 = kp_now_ms();
	bool admit = false;
	while (!kp_engine_stopped(e) && !e->stop_starting) {
		struct kp_kwin_decision d = {.admit = true};
		pthread_mutex_lock(&g->m);
		size_t nf = inflight_nodes(g, flight);
		pthread_mutex_unlock(&g->m);
		/* nothing out and no floor of ready nodes: no need to look */
		if (nf || g->rule.min_ready > 0) {
			struct kp_kwin_snap s;
			struct kp_buf err = KP_BUF_INIT;
			if (kp_kwin_snap_fetch(g->kube, &s, &err)) {
				d.admit = false;
				snprintf(d.reason, sizeof(d.reason),
					 "the cluster could not be read: %s",
					 err.buf ? err.buf : "");
			} else {
				kp_kwin_decide(&s, &g->rule, flight, nf, g->nodes[i], &d);
				kp_kwin_snap_release(&s);
			}
			kp_buf_release(&err);
		}
		if (d.admit) {
			pthread_mutex_lock(&g->m);
			g->inflight[i] = true;
			pthread_mutex_unlock(&g->m);
			int64_t waited = kp_now_ms() - t0;
			if (last)
				kp_out_window(&e->out, host, NULL, waited);
			kp_journal_admission(&e->journal, host, g->nodes[i], flight, nf, waited,
					     &waits);
			admit = true;
			break;
		}
		if (!last || strcmp(last, d.reason)) {
			free(last);
			last = kp_xstrdup(d.reason);
			kp_out_window(&e->out, host, d.reason, 0);
			if (!kp_strlist_has(&waits, d.reason) && waits.n < 16)
				kp_strlist_push(&waits, d.reason);
		}
		/* a second, or until a host finishes */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WGATE_POLL_MS / 1000;
		pthread_mutex_lock(&g->m);
		pthread_cond_timedwait(&g->done, &g->m, &ts);
		pthread_mutex_unlock(&g->m);
	}
	if (!admit && last)
		kp_out_window(&e->out, host, NULL, -1); /* the run stops: no admission */
	free(last);
	kp_strlist_release(&waits);
	free(flight);
	return admit;
}

void kp_wgate_done(struct kp_engine *e, size_t i)
{
	struct kp_wgate *g = e->wgate;
	pthread_mutex_lock(&g->m);
	g->inflight[i] = false;
	pthread_cond_broadcast(&g->done);
	pthread_mutex_unlock(&g->m);
}
