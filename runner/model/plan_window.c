/*
 * plan_window.c - a play's `window`: a count (at most N hosts in flight),
 * `auto`, or a mapping {max: N, budget: pdb|none, min_ready: N|"N%"}. auto
 * and budget: pdb make the window disruption-aware: a host starts only when
 * evicting its pods leaves every PodDisruptionBudget satisfied and enough
 * nodes stay schedulable (kube/kubewindow.h decides, the engine asks).
 */
#include "model/plan_load.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const window_keys[] = {"max", "budget", "min_ready"};

static kp_rc window_shape(const struct kp_node *n, struct kp_buf *err)
{
	return kp_node_errorf(err, KP_ERR_INVALID, n,
			      "'window' must be a positive integer, 'auto', or a mapping like "
			      "{max: 10, budget: pdb, min_ready: \"90%%\"} (got %s%s%s)",
			      n->type == KP_N_SCALAR ? "'" : "",
			      n->type == KP_N_SCALAR ? n->str : kp_node_describe(n),
			      n->type == KP_N_SCALAR ? "'" : "");
}

static kp_rc min_ready(const struct kp_node *v, struct kp_window_rule *r, struct kp_buf *err)
{
	if (v->type == KP_N_SCALAR && !kp_node_is_null(v)) {
		char *end;
		long long n = strtoll(v->str, &end, 10);
		bool digits = end != v->str && v->str[0] >= '0' && v->str[0] <= '9';
		if (digits && end[0] == '%' && !end[1] && n >= 0 && n <= 100) {
			r->min_ready = (int)n;
			r->min_ready_pct = true;
			return KP_OK;
		}
		if (digits && !*end && n >= 0 && n <= INT32_MAX) {
			r->min_ready = (int)n;
			return KP_OK;
		}
	}
	return kp_node_errorf(err, KP_ERR_INVALID, v,
			      "'min_ready' must be a count of nodes or a percentage like \"90%%\" "
			      "(got %s%s%s)",
			      v->type == KP_N_SCALAR ? "'" : "",
			      v->type == KP_N_SCALAR ? v->str : kp_node_describe(v),
			      v->type == KP_N_SCALAR ? "'" : "");
}

kp_rc kp_parse_window(const struct kp_node *n, int *width, struct kp_window_rule *r,
		      struct kp_buf *err)
{
	int64_t i;
	memset(r, 0, sizeof(*r));
	if (n->type == KP_N_SCALAR && !n->quoted && !strcmp(n->str, "auto")) {
		r->aware = r->budget = true;
		*width = INT32_MAX;
		return KP_OK;
	}
	if (n->type == KP_N_SCALAR) {
		if (!kp_node_get_int(n, &i) || i < 1 || i > INT32_MAX)
			return window_shape(n, err);
		*width = (int)i;
		return KP_OK;
	}
	if (n->type != KP_N_MAP)
		return window_shape(n, err);
	bool budget_set = false;
	*width = INT32_MAX;
	for (size_t k = 0; k < n->n; k++) {
		const struct kp_node *key = n->items[2 * k], *v = n->items[2 * k + 1];
		kp_rc rc = KP_OK;
		if (!strcmp(key->str, "max")) {
			if (!(rc = kp_get_int(v, "max", 1, INT32_MAX, &i, err))) {
				*width = (int)i;
				r->max_set = true;
			}
		} else if (!strcmp(key->str, "budget")) {
			if (v->type != KP_N_SCALAR ||
			    (strcmp(v->str, "pdb") && strcmp(v->str, "none")))
				rc = kp_node_errorf(err, KP_ERR_INVALID, v,
						    "'budget' must be 'pdb' (PodDisruptionBudgets) "
						    "or 'none' (got %s%s%s)",
						    v->type == KP_N_SCALAR ? "'" : "",
						    v->type == KP_N_SCALAR ? v->str
									   : kp_node_describe(v),
						    v->type == KP_N_SCALAR ? "'" : "");
			else
				r->budget = !strcmp(v->str, "pdb");
			budget_set = true;
		} else if (!strcmp(key->str, "min_ready")) {
			rc = min_ready(v, r, err);
		} else {
			kp_unknown_key(key, "window", window_keys, KP_ARRAY_LEN(window_keys), err);
			rc = KP_ERR_INVALID;
		}
		if (rc)
			return rc;
	}
	if (!budget_set)
		r->budget = true; /* a mapping is the disruption-aware window */
	r->aware = r->budget || r->min_ready > 0;
	if (!r->aware && !r->max_set)
		return kp_node_errorf(err, KP_ERR_INVALID, n,
				      "'window' with budget: none and no min_ready needs 'max' "
				      "(or write window: N)");
	return KP_OK;
}

void kp_window_describe(const struct kp_play *p, size_t nhosts, int forks, struct kp_buf *b)
{
	const struct kp_window_rule *r = &p->wrule;
	int cap = p->window < forks ? p->window : forks;
	kp_buf_addf(b,
		    "disruption-aware window over %zu hosts: of the hosts that may go, the one "
		    "whose budgets have the most nodes left starts first (play order among "
		    "equals)",
		    nhosts);
	if (r->budget)
		kp_buf_addstr(b,
			      "; a host may go when evicting its pods leaves every "
			      "PodDisruptionBudget satisfied, "
			      "counting the pods on the nodes in flight and on nodes cordoned or "
			      "not Ready");
	if (r->min_ready > 0)
		kp_buf_addf(b, "%s at least %d%s of the cluster's nodes stay Ready and schedulable",
			    r->budget ? ", and" : "; a host may go when", r->min_ready,
			    r->min_ready_pct ? "%" : "");
	kp_buf_addf(b,
		    "; at most %d at once (%s). The cluster is read before each start, so the "
		    "order of starts and which hosts overlap are decided during the run, not now",
		    cap, p->window < forks ? "max" : "--forks");
}
