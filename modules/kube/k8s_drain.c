/*
 * k8s_drain.c - kubernetes.core.k8s_drain, as Ansible playbooks write it,
 * on kplan's own drain module.
 *
 * The arguments are mapped onto drain's (state drain -> drained, name ->
 * node, delete_options.* -> drain's flags) and drain's probe and apply run
 * with them. Ansible's defaults are kept where they differ from drain's:
 * DaemonSet pods are not skipped unless ignore_daemonsets is set, a
 * drain the filters refuse uncordons the node it cordoned, and a drain
 * that fails later does not uncordon it.
 */
#include "modules/module.h"

#include <stdlib.h>
#include <string.h>

static const char *const states[] = {"drain", "cordon", "uncordon", NULL};
static const char *const apis[] = {"auto", "direct", "kubectl", NULL};

static const struct kp_argspec args[] = {
    {.name = "name", .type = KP_T_STR, .required = true, .help = "the node"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "drain",
     .choices = states,
     .help = "drain, cordon or uncordon the node"},
    {.name = "delete_options",
     .type = KP_T_DICT,
     .help = "force, ignore_daemonsets, delete_emptydir_data, terminate_grace_period (s), "
	     "wait_timeout (s), wait_sleep (s, ignored: kplan polls on its own), "
	     "disable_eviction"},
    {.name = "pod_selectors", .type = KP_T_STR_OR_LIST, .help = "label selectors of the pods"},
    {.name = "kubeconfig", .type = KP_T_PATH, .help = "kubeconfig on the controller"},
    {.name = "api",
     .type = KP_T_STR,
     .def = "auto",
     .choices = apis,
     .help = "direct: API from the controller; kubectl: on a control-plane host"},
    {0},
};

/* delete_options key -> drain argument (NULL: accepted and ignored) */
static const struct {
	const char *opt, *arg;
} delete_options[] = {
    {"force", "force"},
    {"ignore_daemonsets", "ignore_daemonsets"},
    {"delete_emptydir_data", "delete_emptydir_data"},
    {"disable_eviction", "disable_eviction"},
    {"terminate_grace_period", "grace_period"},
    {"wait_timeout", "timeout"},
    {"wait_sleep", NULL},
};

kp_rc kp_k8s_drain_map_args(const struct kp_value *in, struct kp_value **out, struct kp_buf *err)
{
	struct kp_value *m = kp_value_map();
	const struct kp_value *v;
	kp_rc rc;

	if ((v = kp_map_get(in, "name")))
		kp_map_set(m, "node", v);
	v = kp_map_get(in, "state");
	const char *st = v && v->type == KP_V_STR ? v->u.str.s : "drain";
	kp_map_set_take(m, "state",
			kp_value_str(!strcmp(st, "cordon")     ? "cordoned"
				     : !strcmp(st, "uncordon") ? "uncordoned"
							       : "drained"));
	kp_map_set_take(m, "ignore_daemonsets", kp_value_bool(false));
	kp_map_set_take(m, "uncordon_on_failure", kp_value_bool(false));
	/* Ansible reverts its cordon when the filters refuse (_revert_node_patch) */
	kp_map_set_take(m, "uncordon_on_refusal", kp_value_bool(true));
	const struct kp_value *d = kp_map_get(in, "delete_options");
	for (size_t i = 0; d && d->type == KP_V_MAP && i < kp_map_len(d); i++) {
		const char *k = kp_map_key(d, i);
		size_t j;
		for (j = 0; j < KP_ARRAY_LEN(delete_options); j++)
			if (!strcmp(k, delete_options[j].opt))
				break;
		if (j == KP_ARRAY_LEN(delete_options)) {
			const char *names[KP_ARRAY_LEN(delete_options)];
			for (j = 0; j < KP_ARRAY_LEN(delete_options); j++)
				names[j] = delete_options[j].opt;
			const char *s = kp_suggest(k, names, KP_ARRAY_LEN(names));
			kp_value_unref(m);
			if (s)
				return kp_errorf(
				    err, KP_ERR_INVALID,
				    "unknown key '%s' in 'delete_options' (did you mean '%s'?)", k,
				    s);
			return kp_errorf(err, KP_ERR_INVALID,
					 "unknown key '%s' in 'delete_options'", k);
		}
		if (delete_options[j].arg)
			kp_map_set(m, delete_options[j].arg, kp_map_val(d, i));
	}
	if ((v = kp_map_get(in, "pod_selectors"))) {
		struct kp_buf b = KP_BUF_INIT;
		if (v->type == KP_V_LIST) {
			for (size_t i = 0; i < kp_list_len(v); i++) {
				if (i)
					kp_buf_addch(&b, ',');
				kp_value_to_text(kp_list_at(v, i), false, &b);
			}
		} else {
			kp_value_to_text(v, false, &b);
		}
		kp_map_set_take(m, "pod_selector", kp_value_str(b.buf));
		kp_buf_release(&b);
	}
	if ((v = kp_map_get(in, "kubeconfig")))
		kp_map_set(m, "kubeconfig", v);
	if ((v = kp_map_get(in, "api")))
		kp_map_set(m, "api", v);
	struct kp_buf e = KP_BUF_INIT;
	rc = kp_module_finish_args(&kp_mod_drain, m, out, &e);
	if (rc)
		kp_errorf(err, rc, "k8s_drain runs as 'drain': %s", e.buf);
	kp_buf_release(&e);
	kp_value_unref(m);
	return rc;
}

/* drain's own state, and the arguments it was probed with */
struct wrap {
	struct kp_value *args;
	void *state;
	void (*free_state)(void *state);
};

static void wrap_free(void *p)
{
	struct wrap *w = p;
	if (w->state && w->free_state)
		w->free_state(w->state);
	kp_value_unref(w->args);
	free(w);
}

/* Run drain's probe or apply with the mapped arguments. */
static kp_rc call_drain(struct kp_modctx *ctx, struct kp_result *res, bool apply,
			struct kp_buf *err)
{
	struct wrap *w = apply ? ctx->state : NULL;
	const struct kp_value *given = ctx->args;
	const struct kp_module *self = ctx->module;
	kp_rc rc;

	if (!w) {
		struct kp_buf e = KP_BUF_INIT;
		struct kp_value *mapped;
		if (kp_k8s_drain_map_args(ctx->args, &mapped, &e)) {
			kp_mod_failf(res, "%s", e.buf);
			kp_buf_release(&e);
			return KP_OK;
		}
		w = kp_xcalloc(1, sizeof(*w));
		w->args = mapped;
	}
	ctx->args = w->args;
	ctx->module = &kp_mod_drain;
	ctx->state = w->state;
	ctx->free_state = w->free_state;
	rc = apply ? kp_mod_drain.apply(ctx, res, err) : kp_mod_drain.probe(ctx, res, err);
	w->state = ctx->state;
	w->free_state = ctx->free_state;
	ctx->args = given;
	ctx->module = self;
	ctx->state = w;
	ctx->free_state = wrap_free;
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	return call_drain(ctx, res, false, err);
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	return call_drain(ctx, res, true, err);
}

const struct kp_module kp_mod_k8s_drain = {
    .name = "k8s-drain",
    .summary = "kubernetes.core.k8s_drain: drain, cordon or uncordon a node (on drain)",
    .args = args,
    .probe = probe,
    .apply = apply,
};
