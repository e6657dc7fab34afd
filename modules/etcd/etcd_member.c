/*
 * etcd_member.c - list, add and remove etcd members, check their health.
 *
 * Everything goes through etcdctl on the node (the task's host, usually a
 * healthy member reached with delegate_to): `member list -w json` for the
 * members and their hex IDs, `endpoint health -w json` against every
 * started member's client URLs for the quorum arithmetic. `remove` takes a
 * name or a peer URL and refuses to lose quorum unless `force`; `add`
 * gives the new member's ETCD_INITIAL_CLUSTER and
 * ETCD_INITIAL_CLUSTER_STATE=existing as facts, also in check mode.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const actions[] = {"list", "add", "remove", "health", NULL};

static const struct kp_argspec args[] = {
    {.name = "action",
     .type = KP_T_STR,
     .required = true,
     .choices = actions,
     .help = "what to do"},
    {.name = "name", .type = KP_T_STR, .help = "member name, or peer URL for remove"},
    {.name = "peer_urls", .type = KP_T_STR_OR_LIST, .help = "peer URLs of a new member"},
    {.name = "endpoints",
     .type = KP_T_STR_OR_LIST,
     .def = "https://127.0.0.1:2379",
     .help = "etcd client URLs"},
    {.name = "cacert",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/ca.crt",
     .help = "etcd CA certificate on the node"},
    {.name = "cert",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
     .help = "etcd client certificate on the node"},
    {.name = "key",
     .type = KP_T_PATH,
     .def = "/etc/kubernetes/pki/etcd/healthcheck-client.key",
     .help = "etcd client key on the node"},
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "remove a member even when that loses quorum"},
    {0},
};

#define ETCDCTL_TIMEOUT_MS 30000

struct state {
	struct kp_etcd_member *m;
	size_t n;
	long target;	 /* remove: the member; -1 none */
	char *peer_urls; /* add: "a,b" */
};

static void state_free(void *arg)
{
	struct state *s = arg;
	kp_etcd_members_free(s->m, s->n);
	free(s->peer_urls);
	free(s);
}

/* Run `etcdctl … SUB`; false (task failed) unless it worked. */
static kp_rc etcdctl(struct kp_modctx *ctx, struct kp_result *res, const char *endpoints,
		     const char *sub, struct kp_exec_res *r, bool *ok, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	kp_etcdctl_cmd(ctx, endpoints, &cmd);
	kp_buf_addf(&cmd, " %s", sub);
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = ETCDCTL_TIMEOUT_MS};
	kp_exec_res_init(r);
	kp_rc rc = kp_mod_exec(ctx, res, &req, r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd.buf, r);
	kp_buf_release(&cmd);
	return rc;
}

static kp_rc list_members(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool *ok,
			  struct kp_buf *err)
{
	struct kp_exec_res r;
	struct kp_buf e = KP_BUF_INIT;
	kp_rc rc = etcdctl(ctx, res, NULL, "member list -w json", &r, ok, err);
	if (!rc && *ok && kp_etcd_parse_members(r.out.buf, &s->m, &s->n, NULL, &e)) {
		kp_mod_failf(res, "%s", e.buf);
		*ok = false;
	}
	kp_buf_release(&e);
	kp_exec_res_release(&r);
	return rc;
}

/* endpoint -> healthy, for every started member's client URLs */
static kp_rc health(struct kp_modctx *ctx, struct kp_result *res, struct state *s,
		    struct kp_value **out, bool *ok, struct kp_buf *err)
{
	struct kp_buf eps = KP_BUF_INIT, e = KP_BUF_INIT;
	struct kp_exec_res r;
	*out = kp_value_map();
	*ok = true;
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = 0; j < s->m[i].nclient; j++)
			kp_buf_addf(&eps, "%s%s", eps.len ? "," : "", s->m[i].client_urls[j]);
	if (!eps.len) {
		kp_buf_release(&eps);
		return KP_OK;
	}
	struct kp_buf cmd = KP_BUF_INIT;
	kp_etcdctl_cmd(ctx, eps.buf, &cmd);
	kp_buf_addstr(&cmd, " --dial-timeout=2s --command-timeout=5s endpoint health -w json");
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = ETCDCTL_TIMEOUT_MS};
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_exec(ctx, res, &req, &r, err);
	/* exit 1 when any endpoint is unhealthy: the JSON still says which */
	if (!rc) {
		struct kp_value *h = NULL;
		if (kp_etcd_parse_health(r.out.buf, &h, &e)) {
			if (!kp_mod_cmd_failed(ctx, res, cmd.buf, &r))
				kp_mod_failf(res, "%s", e.buf);
			*ok = false;
		} else {
			kp_value_unref(*out);
			*out = h;
		}
	}
	kp_buf_release(&cmd);
	kp_buf_release(&eps);
	kp_buf_release(&e);
	kp_exec_res_release(&r);
	return rc;
}

static bool member_healthy(const struct kp_etcd_member *m, const struct kp_value *h)
{
	for (size_t j = 0; j < m->nclient; j++) {
		const struct kp_value *v = kp_map_get(h, m->client_urls[j]);
		if (v && kp_value_truthy(v))
			return true;
	}
	return false;
}

static struct kp_value *str_list(char **v, size_t n)
{
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < n; i++)
		kp_list_push_take(l, kp_value_str(v[i]));
	return l;
}

static struct kp_value *members_value(const struct state *s, const struct kp_value *h)
{
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < s->n; i++) {
		struct kp_value *m = kp_value_map();
		char id[17];
		kp_etcd_member_id(&s->m[i], id);
		kp_map_set_take(m, "id", kp_value_str(id));
		kp_map_set_take(m, "name", kp_value_str(s->m[i].name));
		kp_map_set_take(m, "peer_urls", str_list(s->m[i].peer_urls, s->m[i].npeer));
		kp_map_set_take(m, "client_urls", str_list(s->m[i].client_urls, s->m[i].nclient));
		kp_map_set_take(m, "started", kp_value_bool(s->m[i].started));
		if (h)
			kp_map_set_take(m, "healthy", kp_value_bool(member_healthy(&s->m[i], h)));
		kp_list_push_take(l, m);
	}
	return l;
}

static void describe(const struct kp_etcd_member *m, struct kp_buf *out)
{
	char id[17];
	kp_etcd_member_id(m, id);
	kp_buf_addf(out, "'%s' (%s, %s)", *m->name ? m->name : "(not started)", id,
		    m->npeer ? m->peer_urls[0] : "no peer URL");
}

static void set_facts(struct kp_result *res, const struct state *s, const struct kp_value *h)
{
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "members", members_value(s, h));
}

/* ETCD_INITIAL_CLUSTER for a member `name` at `urls` joining s's members */
static void initial_cluster(const struct state *s, const char *name, const char *urls,
			    struct kp_buf *out)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct kp_etcd_member *m = &s->m[i];
		bool self = false;
		for (size_t j = 0; j < m->npeer; j++)
			self |= strstr(urls, m->peer_urls[j]) != NULL;
		if (self || !m->started)
			continue;
		for (size_t j = 0; j < m->npeer; j++)
			kp_buf_addf(out, "%s%s=%s", out->len ? "," : "", m->name, m->peer_urls[j]);
	}
	const char *u = urls;
	while (*u) {
		size_t l = strcspn(u, ",");
		kp_buf_addf(out, "%s%s=%.*s", out->len ? "," : "", name, (int)l, u);
		u += l;
		if (*u)
			u++;
	}
}

static void add_facts(struct kp_result *res, const struct state *s, const char *name)
{
	struct kp_buf ic = KP_BUF_INIT;
	initial_cluster(s, name, s->peer_urls, &ic);
	kp_map_set_take(res->facts, "ETCD_NAME", kp_value_str(name));
	kp_map_set_take(res->facts, "ETCD_INITIAL_CLUSTER", kp_value_str(ic.buf));
	kp_map_set_take(res->facts, "ETCD_INITIAL_CLUSTER_STATE", kp_value_str("existing"));
	kp_map_set_take(res->facts, "ETCD_INITIAL_ADVERTISE_PEER_URLS", kp_value_str(s->peer_urls));
	kp_buf_release(&ic);
}

/* Check mode across tasks (as drain does for cordons): a remove that a
 * check predicts is noted in the host variable kplan_check_removed_members
 * (name -> true), so that an add later in the same check predicts the add
 * the run will do instead of "already there". Only check mode sets it. */
#define CHECK_REMOVED "kplan_check_removed_members"

static bool check_removed(const struct kp_modctx *ctx, const char *name)
{
	const struct kp_value *m = ctx->check_mode && name ? kp_mod_var(ctx, CHECK_REMOVED) : NULL;
	const struct kp_value *v = m && m->type == KP_V_MAP ? kp_map_get(m, name) : NULL;
	return v && v->type == KP_V_BOOL && v->u.b;
}

static void check_note_removed(struct kp_modctx *ctx, struct kp_result *res, const char *name)
{
	if (!ctx->check_mode || !name)
		return;
	const struct kp_value *m = kp_mod_var(ctx, CHECK_REMOVED);
	struct kp_value *n = m && m->type == KP_V_MAP ? kp_value_copy(m) : kp_value_map();
	kp_map_set_take(n, name, kp_value_bool(true));
	kp_value_unref(res->set_vars);
	res->set_vars = kp_value_map();
	kp_map_set_take(res->set_vars, CHECK_REMOVED, n);
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *action = kp_arg_str(ctx, "action"), *name = kp_arg_str(ctx, "name");
	struct state *s = kp_xcalloc(1, sizeof(*s));
	struct kp_value *h = NULL;
	bool ok;
	kp_rc rc;

	s->target = -1;
	ctx->state = s;
	ctx->free_state = state_free;
	if ((!strcmp(action, "remove") || !strcmp(action, "add")) && (!name || !*name))
		return kp_mod_failf(res, "action=%s needs 'name'", action);
	rc = list_members(ctx, res, s, &ok, err);
	if (rc || !ok)
		return rc;

	if (!strcmp(action, "list")) {
		set_facts(res, s, NULL);
		kp_buf_addf(&res->msg, "%zu member%s:", s->n, s->n == 1 ? "" : "s");
		for (size_t i = 0; i < s->n; i++) {
			kp_buf_addstr(&res->msg, i ? ", " : " ");
			describe(&s->m[i], &res->msg);
		}
		return KP_OK;
	}

	if (!strcmp(action, "health")) {
		rc = health(ctx, res, s, &h, &ok, err);
		if (rc || !ok) {
			kp_value_unref(h);
			return rc;
		}
		set_facts(res, s, h);
		size_t good = 0;
		struct kp_buf bad = KP_BUF_INIT;
		for (size_t i = 0; i < s->n; i++) {
			if (member_healthy(&s->m[i], h)) {
				good++;
			} else {
				kp_buf_addstr(&bad, bad.len ? ", " : "");
				describe(&s->m[i], &bad);
			}
		}
		kp_map_set_take(res->facts, "healthy", kp_value_int((int64_t)good));
		kp_map_set_take(res->facts, "quorum", kp_value_int((int64_t)kp_etcd_quorum(s->n)));
		if (good == s->n)
			kp_buf_addf(&res->msg, "all %zu members healthy", s->n);
		else
			kp_mod_failf(res, "%zu of %zu members healthy (quorum %zu); unhealthy: %s",
				     good, s->n, kp_etcd_quorum(s->n), bad.buf);
		kp_buf_release(&bad);
		kp_value_unref(h);
		return KP_OK;
	}

	if (!strcmp(action, "remove")) {
		long i = kp_etcd_find_member(s->m, s->n, name);
		set_facts(res, s, NULL);
		if (i == -2)
			return kp_mod_failf(res, "'%s' names several members: give the hex ID",
					    name);
		if (i < 0) {
			kp_buf_addf(&res->msg, "no member '%s': nothing to remove", name);
			return KP_OK;
		}
		s->target = i;
		rc = health(ctx, res, s, &h, &ok, err);
		if (rc || !ok) {
			kp_value_unref(h);
			return rc;
		}
		size_t good = 0;
		for (size_t k = 0; k < s->n; k++)
			good += member_healthy(&s->m[k], h);
		struct kp_buf why = KP_BUF_INIT, who = KP_BUF_INIT;
		describe(&s->m[i], &who);
		char id[17];
		kp_etcd_member_id(&s->m[i], id);
		kp_map_set_take(res->facts, "id", kp_value_str(id));
		const char *no =
		    kp_etcd_remove_check(s->n, good, member_healthy(&s->m[i], h), &why);
		if (no && !kp_arg_bool(ctx, "force")) {
			kp_mod_failf(res,
				     "refusing to remove member %s: %s (force: true overrides)",
				     who.buf, no);
		} else {
			res->changed = true;
			kp_buf_addf(&res->msg, "%s member %s%s%s",
				    ctx->check_mode ? "would remove" : "removing", who.buf,
				    no ? " despite: " : "", no ? no : "");
			check_note_removed(ctx, res, s->m[i].name);
		}
		kp_buf_release(&why);
		kp_buf_release(&who);
		kp_value_unref(h);
		return KP_OK;
	}

	/* add */
	struct kp_buf urls = KP_BUF_INIT;
	const struct kp_value *pu = kp_arg(ctx, "peer_urls");
	if (pu && pu->type == KP_V_STR)
		kp_buf_addstr(&urls, pu->u.str.s);
	for (size_t i = 0; pu && pu->type == KP_V_LIST && i < kp_list_len(pu); i++)
		if (kp_list_at(pu, i)->type == KP_V_STR)
			kp_buf_addf(&urls, "%s%s", urls.len ? "," : "", kp_list_at(pu, i)->u.str.s);
	if (!urls.len) {
		kp_buf_release(&urls);
		return kp_mod_failf(res, "action=add needs 'peer_urls'");
	}
	s->peer_urls = kp_buf_detach(&urls, NULL);
	set_facts(res, s, NULL);
	long by_name = kp_etcd_find_member(s->m, s->n, name), by_url = -1;
	{
		char *first = kp_xstrndup(s->peer_urls, strcspn(s->peer_urls, ","));
		by_url = kp_etcd_find_member(s->m, s->n, first);
		free(first);
	}
	add_facts(res, s, name);
	/* in a check, a member an earlier task would remove is not there */
	if (by_url >= 0 && check_removed(ctx, s->m[by_url].name))
		by_url = -1;
	if (by_name >= 0 && check_removed(ctx, s->m[by_name].name))
		by_name = -1;
	if (by_url >= 0) {
		kp_buf_addf(&res->msg, "member with peer URL %s is already there: ", s->peer_urls);
		describe(&s->m[by_url], &res->msg);
		return KP_OK;
	}
	if (by_name >= 0) {
		struct kp_buf who = KP_BUF_INIT;
		describe(&s->m[by_name], &who);
		kp_mod_failf(
		    res, "a member named '%s' exists with other peer URLs: %s (remove it first)",
		    name, who.buf);
		kp_buf_release(&who);
		return KP_OK;
	}
	res->changed = true;
	kp_buf_addf(&res->msg,
		    "%s member '%s' (%s); it starts with ETCD_INITIAL_CLUSTER_STATE=existing",
		    ctx->check_mode ? "would add" : "adding", name, s->peer_urls);
	return KP_OK;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	const char *action = kp_arg_str(ctx, "action"), *name = kp_arg_str(ctx, "name");
	struct kp_buf sub = KP_BUF_INIT, who = KP_BUF_INIT;
	struct kp_exec_res r;
	bool ok;
	kp_rc rc;

	if (!s)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (!strcmp(action, "remove") && s->target >= 0) {
		char id[17];
		kp_etcd_member_id(&s->m[s->target], id);
		describe(&s->m[s->target], &who);
		kp_buf_addf(&sub, "member remove %s", id);
		rc = etcdctl(ctx, res, NULL, sub.buf, &r, &ok, err);
		if (!rc && ok) {
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "removed member %s", who.buf);
		}
	} else {
		kp_buf_addstr(&sub, "member add ");
		kp_sh_quote(&sub, name);
		kp_buf_addstr(&sub, " --peer-urls=");
		kp_sh_quote(&sub, s->peer_urls);
		rc = etcdctl(ctx, res, NULL, sub.buf, &r, &ok, err);
		if (!rc && ok) {
			/* the facts from the list after the change, as etcdctl orders them */
			struct state after = {.target = -1, .peer_urls = s->peer_urls};
			struct kp_buf e = KP_BUF_INIT;
			struct kp_exec_res r2;
			bool ok2;
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "added member '%s' (%s)", name, s->peer_urls);
			if (!etcdctl(ctx, res, NULL, "member list -w json", &r2, &ok2, err) &&
			    ok2 &&
			    !kp_etcd_parse_members(r2.out.buf, &after.m, &after.n, NULL, &e)) {
				set_facts(res, &after, NULL);
				add_facts(res, &after, name);
				long i = kp_etcd_find_member(after.m, after.n, name);
				(void)i;
			}
			kp_etcd_members_free(after.m, after.n);
			kp_exec_res_release(&r2);
			kp_buf_release(&e);
		}
	}
	kp_exec_res_release(&r);
	kp_buf_release(&sub);
	kp_buf_release(&who);
	return rc;
}

const struct kp_module kp_mod_etcd_member = {
    .name = "etcd-member",
    .summary = "list, add and remove etcd members",
    .args = args,
    .probe = probe,
    .apply = apply,
};
