/*
 * kube_node.c - wait for a Kubernetes node to be ready, or remove it.
 *
 * Waiting changes nothing, so `ready` does all its work in the probe: in
 * check mode it reports the node's state once, in a run it polls until the
 * node is Ready (and its kubelet at `version`) or the timeout passes, and
 * reports ok. `absent` deletes the Node object in apply (kubespray's
 * remove-node step); a node that is already gone is ok.
 */
#include "kube/kubeapi.h"
#include "modules/module.h"
#include "modules/kube/kubeutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

static const char *const states[] = {"ready", "absent", NULL};
static const char *const apis[] = {"auto", "direct", "kubectl", NULL};

static const struct kp_argspec args[] = {
    {.name = "name",
     .type = KP_T_STR,
     .help = "node name (default: the host's node_name var, or its inventory name)"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "ready",
     .choices = states,
     .help = "ready: wait for the Ready condition; absent: delete the Node object"},
    {.name = "version", .type = KP_T_STR, .help = "wait until the kubelet reports this version"},
    {.name = "timeout", .type = KP_T_DURATION, .def = "5m", .help = "give up after this long"},
    {.name = "api",
     .type = KP_T_STR,
     .def = "auto",
     .choices = apis,
     .help = "direct: API from the controller; kubectl: on a control-plane host"},
    {.name = "kubeconfig", .type = KP_T_PATH, .help = "kubeconfig on the controller"},
    {0},
};

#define POLL_MS 2000

struct state {
	struct kp_kube *kube;
	const char *node;
};

static void state_free(void *p)
{
	struct state *s = p;
	kp_mod_kube_close(s->kube);
	free(s);
}

/* "v1.13.3" and "1.13.3" are the same version; so is "1.13.3-00". */
static bool same_version(const char *a, const char *b)
{
	bool eq = false;
	return !kp_version_compare(a, "==", b, &eq) && eq;
}

/* Whether the node is where we want it; `why` says what it is not. */
static bool node_ready(const cJSON *node, const char *version, struct kp_buf *why,
		       struct kp_buf *kubelet)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(node, "status"), *c;
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(status, "nodeInfo");
	const cJSON *kv = cJSON_GetObjectItemCaseSensitive(info, "kubeletVersion");
	const char *ready = NULL, *reason = NULL, *message = NULL;

	kp_buf_reset(why);
	kp_buf_reset(kubelet);
	if (cJSON_IsString(kv))
		kp_buf_addstr(kubelet, kv->valuestring);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(status, "conditions"))
	{
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
		if (!cJSON_IsString(t) || strcmp(t->valuestring, "Ready"))
			continue;
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(c, "status");
		const cJSON *r = cJSON_GetObjectItemCaseSensitive(c, "reason");
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(c, "message");
		ready = cJSON_IsString(s) ? s->valuestring : NULL;
		reason = cJSON_IsString(r) ? r->valuestring : NULL;
		message = cJSON_IsString(m) ? m->valuestring : NULL;
	}
	if (!ready) {
		kp_buf_addstr(why, "no Ready condition yet");
		return false;
	}
	if (strcmp(ready, "True")) {
		kp_buf_addf(why, "Ready=%s", ready);
		if (reason || message)
			kp_buf_addf(why, " (%s%s%s)", reason ? reason : "",
				    reason && message ? ": " : "", message ? message : "");
		return false;
	}
	if (version && (!kubelet->len || !same_version(kubelet->buf, version))) {
		kp_buf_addf(why, "Ready, but its kubelet reports %s, not %s",
			    kubelet->len ? kubelet->buf : "no version", version);
		return false;
	}
	return true;
}

static kp_rc probe_ready(struct kp_modctx *ctx, struct kp_result *res, struct state *s)
{
	const char *version = kp_arg_str(ctx, "version");
	int64_t timeout = kp_arg_int(ctx, "timeout"), deadline = kp_now_ms() + timeout;
	struct kp_buf why = KP_BUF_INIT, kubelet = KP_BUF_INIT, e = KP_BUF_INIT;

	for (;;) {
		cJSON *node = NULL;
		kp_rc rc = kp_kube_get_node(s->kube, s->node, &node, &e);
		bool ok = false;
		if (rc == KP_ERR_NOTFOUND) {
			kp_buf_reset(&why);
			kp_buf_addstr(&why, "not registered");
		} else if (rc) {
			kp_mod_failf(res, "node '%s': %s", s->node, e.buf);
			break;
		} else {
			ok = node_ready(node, version, &why, &kubelet);
		}
		cJSON_Delete(node);
		if (ok) {
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "node '%s' is Ready (kubelet %s)", s->node,
				    kubelet.buf);
			break;
		}
		if (ctx->check_mode) {
			/* check mode does not wait; the run would, so this is
			 * what would happen, not a failure, and not a change
			 * either: a run that waited reports ok */
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "node '%s' is %s: would wait for it", s->node,
				    why.buf);
			break;
		}
		if (kp_now_ms() + POLL_MS > deadline) {
			struct kp_buf t = KP_BUF_INIT;
			kp_mod_duration_text(timeout, &t);
			kp_mod_failf(res, "node '%s' is not ready after %s: %s", s->node, t.buf,
				     why.buf);
			kp_buf_release(&t);
			break;
		}
		kp_sleep_interruptible(POLL_MS, ctx->interrupts);
	}
	struct kp_value *f = kp_value_map();
	kp_map_set_take(f, "node", kp_value_str(s->node));
	kp_map_set_take(f, "kubelet_version", kp_value_str(kubelet.buf));
	kp_value_unref(res->facts);
	res->facts = f;
	kp_buf_release(&why);
	kp_buf_release(&kubelet);
	kp_buf_release(&e);
	return KP_OK;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = kp_xcalloc(1, sizeof(*s));
	struct kp_buf e = KP_BUF_INIT;

	ctx->state = s;
	ctx->free_state = state_free;
	s->node = kp_mod_node_name(ctx, "name");
	kp_mod_kube_open(ctx, res, &s->kube, err);
	if (!s->kube)
		return KP_OK;
	if (!strcmp(kp_arg_str(ctx, "state"), "ready"))
		return probe_ready(ctx, res, s);

	cJSON *node = NULL;
	kp_rc rc = kp_kube_get_node(s->kube, s->node, &node, &e);
	cJSON_Delete(node);
	kp_buf_reset(&res->msg);
	if (rc == KP_ERR_NOTFOUND) {
		kp_buf_addf(&res->msg, "node '%s' is already absent", s->node);
	} else if (rc) {
		kp_mod_failf(res, "node '%s': %s", s->node, e.buf);
	} else {
		res->changed = true;
		kp_buf_addf(&res->msg, "would delete node '%s'", s->node);
	}
	kp_buf_release(&e);
	return KP_OK;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf e = KP_BUF_INIT;
	bool existed = false;

	if (!s || !s->kube)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (strcmp(kp_arg_str(ctx, "state"), "absent"))
		return KP_OK; /* ready: waited in the probe */
	kp_buf_reset(&res->msg);
	if (kp_kube_delete_node(s->kube, s->node, &existed, &e))
		kp_mod_failf(res, "cannot delete node '%s': %s", s->node, e.buf);
	else if (!existed)
		kp_buf_addf(&res->msg, "node '%s' was already gone", s->node);
	else
		kp_buf_addf(&res->msg, "deleted node '%s'", s->node);
	res->changed = !res->failed && existed;
	kp_buf_release(&e);
	return KP_OK;
}

/* Offline, `state: ready` (the default) only waits: it changes nothing. */
static bool pending(const struct kp_value *a)
{
	const struct kp_value *st = a && a->type == KP_V_MAP ? kp_map_get(a, "state") : NULL;
	return st && !(st->type == KP_V_STR && !strcmp(st->u.str.s, "ready"));
}

const struct kp_module kp_mod_kube_node = {
    .name = "kube-node",
    .summary = "wait for or remove a node object",
    .args = args,
    .probe = probe,
    .apply = apply,
    .flags = KP_MOD_KUBE,
    .pending = pending,
};
