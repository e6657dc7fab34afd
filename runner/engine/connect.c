/*
 * connect.c - a host's connection, from its variables: the transport
 * (kplan_connection, ansible_connection, the play's `connection`), address,
 * port, user and key, and for ssh the password, jump host, known_hosts file
 * and timeouts, with --known-hosts and --host-key-checking from the command
 * line. Opened on first use and kept for the whole run, unless a later
 * play's `connection` or `remote_user` asks for another. Also who a task
 * becomes (kp_become_resolve). Connection variables are rendered like any
 * variable when they hold {{ }}.
 */
#include "engine/engine_int.h"
#include "transport/ssh_config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where a host's connection variables are read, and what renders them.
 * A value holding {{ }} is rendered in the host's scope when it is used,
 * as every variable is (`ansible_host: "{{ node_ip }}"`). */
struct connvars {
	const struct kp_scope *s;
	struct kp_buf *err; /* the first rendering error */
};

static bool holds_template(const struct kp_value *v)
{
	return v->type == KP_V_STR && (memmem(v->u.str.s, v->u.str.len, "{{", 2) ||
				       memmem(v->u.str.s, v->u.str.len, "{%", 2));
}

kp_rc kp_conn_var(struct kp_lua *L, const struct kp_scope *s, const char *name,
		  struct kp_value **out, struct kp_buf *err)
{
	char k[96];
	const struct kp_value *v = NULL;
	*out = NULL;
	/* kplan_NAME wins over ansible_NAME (inventory.md) */
	const char *prefixes[] = {"kplan_", "ansible_"};
	for (size_t p = 0; p < 2 && !v; p++) {
		snprintf(k, sizeof(k), "%s%s", prefixes[p], name);
		v = kp_scope_get(s, k);
	}
	if (!v)
		return KP_OK;
	if (!holds_template(v)) {
		*out = kp_value_ref(v);
		return KP_OK;
	}
	/* "{{ kplan_host }}" renders the variable as any use of it would:
	 * nested variables, cycles and errors naming the variable included */
	struct kp_buf src = KP_BUF_INIT;
	struct kp_template *t = NULL;
	struct kp_lua *own = L ? NULL : kp_lua_new();
	kp_buf_addf(&src, "{{ %s }}", k);
	kp_rc rc = kp_template_compile(src.buf, src.len, (struct kp_pos){0}, &t, err);
	if (!rc)
		rc = kp_template_render(L ? L : own, t, s, out, err);
	kp_template_free(t);
	kp_lua_free(own);
	kp_buf_release(&src);
	return rc;
}

static char *conn_str(struct connvars *cv, const char *name)
{
	struct kp_value *v = NULL;
	struct kp_buf b = KP_BUF_INIT, err = KP_BUF_INIT;
	if (cv->err->len)
		return NULL; /* the connection fails anyway */
	/* connections open on any thread: a state of its own when needed */
	if (kp_conn_var(NULL, cv->s, name, &v, &err)) {
		kp_errorf(cv->err, KP_ERR_UNREACHABLE, "%s", err.buf);
		kp_buf_release(&err);
		return NULL;
	}
	kp_buf_release(&err);
	if (!v || v->type == KP_V_NULL) {
		kp_value_unref(v);
		return NULL;
	}
	kp_value_to_text(v, false, &b);
	kp_value_unref(v);
	return kp_buf_detach(&b, NULL);
}

/* Whole seconds from a variable ("30", "30s", "1m"); def when unset. */
static int64_t conn_seconds_ms(struct connvars *cv, const char *name, int64_t def,
			       struct kp_buf *err)
{
	char *v = conn_str(cv, name);
	int64_t ms = def;
	if (v && *v && (kp_parse_duration(v, &ms) || ms < 0))
		kp_errorf(err, KP_ERR_UNREACHABLE,
			  "invalid value '%s' for 'kplan_%s': expected a duration", v, name);
	free(v);
	return ms;
}

/* An ssh -o option from ansible_ssh_common_args or ansible_ssh_extra_args
 * (kplan_ spellings too), or NULL. */
static char *ssh_arg_option(struct connvars *cv, const char *name)
{
	static const char *const vars[] = {"ssh_common_args", "ssh_extra_args"};
	char *out = NULL;
	for (size_t i = 0; i < 2 && !out; i++) {
		char *args = conn_str(cv, vars[i]);
		if (args)
			out = kp_ssh_args_option(args, name);
		free(args);
	}
	return out;
}

/* What only ssh uses; errors go to err (the host is then unreachable). */
static void ssh_settings(struct kp_engine *e, struct connvars *cv, struct kp_conn *c,
			 struct kp_buf *err)
{
	const char *mode = e->o ? e->o->host_key_checking : NULL;
	if (!mode || !strcmp(mode, "strict") || !strcmp(mode, "yes"))
		c->hostkey_mode = KP_HOSTKEY_STRICT;
	else if (!strcmp(mode, "accept-new"))
		c->hostkey_mode = KP_HOSTKEY_ACCEPT_NEW;
	else if (!strcmp(mode, "off") || !strcmp(mode, "no"))
		c->hostkey_mode = KP_HOSTKEY_OFF;
	else
		kp_errorf(err, KP_ERR_UNREACHABLE,
			  "invalid --host-key-checking '%s': expected strict, accept-new or off",
			  mode);
	/* --known-hosts, given for this run, wins over the inventory's
	 * kplan_known_hosts, which wins over ~/.ssh/known_hosts. */
	if (e->o && e->o->known_hosts)
		c->known_hosts = kp_xstrdup(e->o->known_hosts);
	else
		c->known_hosts = conn_str(cv, "known_hosts");
	c->password = conn_str(cv, "password");
	if (!c->password)
		c->password = conn_str(cv, "ssh_pass");
	c->proxy_jump = conn_str(cv, "ssh_proxy_jump");
	if (!c->proxy_jump) {
		char *args = conn_str(cv, "ssh_common_args");
		if (args)
			c->proxy_jump = kp_ssh_args_proxyjump(args);
		free(args);
	}
	c->ssh_config = conn_str(cv, "ssh_config");
	c->connect_timeout_ms = conn_seconds_ms(cv, "ssh_timeout", 10000, err);
	/* ServerAliveInterval: kplan_ssh_keepalive (a duration), else -o
	 * ServerAliveInterval= in ansible_ssh_common_args/_extra_args, else
	 * ~/.ssh/config's (ssh.c); 0 turns keepalives off. CountMax likewise. */
	int64_t ka = conn_seconds_ms(cv, "ssh_keepalive", -1, err);
	char *ai = ssh_arg_option(cv, "ServerAliveInterval");
	char *ac = ssh_arg_option(cv, "ServerAliveCountMax");
	if (ka < 0 && ai)
		ka = (int64_t)atoi(ai) * 1000;
	c->keepalive_s = ka < 0 ? 0 : ka < 1000 ? -1 : (int)(ka / 1000);
	c->keepalive_max = ac && atoi(ac) > 0 ? atoi(ac) : 0;
	free(ai);
	free(ac);
}

/* A boolean variable as Ansible reads one: true/false, yes/no, on/off,
 * 1/0 in any case. */
static kp_rc conn_bool(const struct kp_value *v, const char *name, bool *out, struct kp_buf *err)
{
	static const char *const yes[] = {"true", "yes", "on", "1", "y", NULL};
	static const char *const no[] = {"false", "no", "off", "0", "n", "", NULL};
	switch (v->type) {
	case KP_V_BOOL:
		*out = v->u.b;
		return KP_OK;
	case KP_V_INT:
		*out = v->u.i != 0;
		return KP_OK;
	case KP_V_STR:
		for (size_t i = 0; yes[i]; i++)
			if (!strcasecmp(v->u.str.s, yes[i]))
				return *out = true, KP_OK;
		for (size_t i = 0; no[i]; i++)
			if (!strcasecmp(v->u.str.s, no[i]))
				return *out = false, KP_OK;
		return kp_errorf(err, KP_ERR_INVALID,
				 "invalid value '%s' for '%s': expected true or false", v->u.str.s,
				 name);
	default:
		return kp_errorf(err, KP_ERR_INVALID,
				 "invalid value for '%s': expected a boolean, "
				 "not a %s",
				 name, kp_value_typename(v->type));
	}
}

static kp_rc become_kw(struct kp_lua *L, const struct kp_scope *s, enum kp_tristate kw,
		       const struct kp_template *tmpl, enum kp_tristate *out, struct kp_buf *err)
{
	struct kp_value *v = NULL;
	bool b = false;
	*out = kw;
	if (kw != KP_UNSET || !tmpl)
		return KP_OK;
	kp_rc rc = kp_template_render(L, tmpl, s, &v, err);
	if (!rc)
		rc = conn_bool(v, "become", &b, err);
	if (!rc)
		*out = b ? KP_YES : KP_NO;
	kp_value_unref(v);
	return rc;
}

kp_rc kp_task_become(struct kp_lua *L, const struct kp_scope *s, const struct kp_task *t,
		     const struct kp_taskenv *env, enum kp_tristate *out, struct kp_buf *err)
{
	kp_rc rc = become_kw(L, s, t->become, t->become_t, out, err);
	if (!rc && *out == KP_UNSET)
		rc = become_kw(L, s, env->become, env->become_t, out, err);
	return rc;
}

kp_rc kp_become_resolve(struct kp_lua *L, const struct kp_scope *s, enum kp_tristate kw_become,
			const char *kw_user, struct kp_taskbecome *out, struct kp_buf *err)
{
	struct kp_value *v = NULL;
	struct kp_buf text = KP_BUF_INIT;
	memset(out, 0, sizeof(*out));
	/* Ansible's precedence: variables override playbook keywords. The
	 * host's kplan_become/ansible_become and *_become_user (inventory,
	 * group_vars, play vars, -e) win over the task's and the play's
	 * `become` and `become_user`, as ansible_user wins over remote_user. */
	bool become = kw_become == KP_YES;
	kp_rc rc = kp_conn_var(L, s, "become", &v, err);
	if (!rc && v && v->type != KP_V_NULL)
		rc = conn_bool(v, "ansible_become", &become, err);
	kp_value_unref(v);
	v = NULL;
	if (rc || !become)
		return rc;
	if ((rc = kp_conn_var(L, s, "become_user", &v, err)))
		return rc;
	if (v && v->type != KP_V_NULL) {
		kp_value_to_text(v, false, &text);
		out->user = kp_buf_detach(&text, NULL);
	} else {
		out->user = kp_xstrdup(kw_user ? kw_user : "root");
	}
	kp_value_unref(v);
	v = NULL;
	/* ansible_become_password, or its older spelling ansible_become_pass */
	if ((rc = kp_conn_var(L, s, "become_password", &v, err)) ||
	    (!v && (rc = kp_conn_var(L, s, "become_pass", &v, err)))) {
		kp_become_release(out);
		return rc;
	}
	if (v && v->type == KP_V_STR)
		out->password = kp_xstrdup(v->u.str.s);
	kp_value_unref(v);
	return KP_OK;
}

void kp_become_release(struct kp_taskbecome *b)
{
	free(b->user);
	if (b->password)
		memset(b->password, 0, strlen(b->password));
	free(b->password);
	memset(b, 0, sizeof(*b));
}

/* Ansible: variables override playbook keywords, so the host's
 * ansible_connection and ansible_user win over the play's `connection`
 * and `remote_user`. */
static char *conn_type(struct kp_engine *e, struct connvars *cv)
{
	char *type = conn_str(cv, "connection");
	if (!type && e->play && e->play->connection)
		type = kp_xstrdup(e->play->connection);
	return type ? type : kp_xstrdup("ssh");
}

static char *conn_user(struct kp_engine *e, struct connvars *cv)
{
	char *user = conn_str(cv, "user");
	if (!user && e->play && e->play->remote_user)
		user = kp_xstrdup(e->play->remote_user);
	return user;
}

/* Whether the connection opened in an earlier play is still the one this
 * play asks for: its `connection` and `remote_user` may differ. */
static bool conn_fits(struct kp_engine *e, struct connvars *cv, const struct kp_conn *c)
{
	char *type = conn_type(e, cv), *user = conn_user(e, cv);
	bool fits = true;
	if (!cv->err->len) {
		if (!strcmp(type, "local"))
			fits = c->ops == &kp_transport_local;
		else
			fits = c->ops == &kp_transport_ssh &&
			       (user && c->user ? !strcmp(user, c->user) : !user && !c->user);
	}
	free(type);
	free(user);
	return fits;
}

struct kp_conn *kp_host_conn(struct kp_engine *e, struct kp_hoststate *hs)
{
	/* a delegate_to target outside the batch has only its inventory vars */
	struct kp_scope outside = {.layers = {hs->host->merged},
				   .nlayers = 1,
				   .base_dir = e->ld ? e->ld->plan->dir : NULL};
	struct kp_buf err = KP_BUF_INIT;
	struct connvars cv = {.s = hs->hv_ready ? &hs->hv.scope : &outside, .err = &err};
	if (hs->conn && hs->conn_play != e->play) {
		hs->conn_play = e->play;
		if (!conn_fits(e, &cv, hs->conn))
			kp_host_conn_close(hs);
		kp_buf_reset(&err);
	}
	if (hs->conn || hs->conn_error) {
		kp_buf_release(&err);
		return hs->conn;
	}
	char *type = conn_type(e, &cv);
	struct kp_conn *c = kp_xcalloc(1, sizeof(*c));
	c->host = kp_xstrdup(hs->host->name);
	c->address = conn_str(&cv, "host");
	if (!c->address)
		c->address = conn_str(&cv, "ssh_host");
	if (!c->address)
		c->address = kp_xstrdup(hs->host->name);
	/* 0: not set, so ~/.ssh/config may say (ssh); 22 in the end */
	char *port = conn_str(&cv, "port");
	c->port = port ? atoi(port) : 0;
	free(port);
	c->user = conn_user(e, &cv);
	c->key_file = conn_str(&cv, "ssh_private_key_file");
	c->workdir = conn_str(&cv, "workdir");
	c->interrupts = e->o->interrupts;
	if (err.len) {
		/* a connection variable could not be rendered */
	} else if (!strcmp(type, "local")) {
		c->ops = &kp_transport_local;
	} else if (!strcmp(type, "ssh") || !strcmp(type, "paramiko") || !strcmp(type, "smart")) {
		c->ops = &kp_transport_ssh;
		ssh_settings(e, &cv, c, &err);
	} else {
		kp_errorf(&err, KP_ERR_UNREACHABLE,
			  "connection '%s' is not available (use 'ssh' or 'local')", type);
	}
	free(type);
	bool counted = !err.len;
	if (counted)
		kp_conn_make_room(e, hs);
	if (!err.len && c->ops->open(c, &err) == KP_OK) {
		c->opened = true;
		hs->conn = c;
		hs->conn_play = e->play;
		kp_conn_used(hs);
		kp_buf_release(&err);
		return c;
	}
	if (counted)
		__atomic_sub_fetch(&e->open_conns, 1, __ATOMIC_RELAXED);
	hs->conn_error = kp_buf_detach(&err, NULL);
	kp_conn_free(c); /* close copes with a connection never opened */
	return NULL;
}

void kp_host_conn_close(struct kp_hoststate *hs)
{
	if (hs->conn) {
		kp_conn_free(hs->conn);
		if (hs->engine)
			__atomic_sub_fetch(&hs->engine->open_conns, 1, __ATOMIC_RELAXED);
	}
	hs->conn = NULL;
	__atomic_store_n(&hs->conn_used, 0, __ATOMIC_RELAXED);
}

/* the host whose connection this thread leases (one at a time) */
static __thread const struct kp_hoststate *leased_here;

bool kp_host_leased_here(const struct kp_hoststate *hs)
{
	return leased_here == hs;
}

bool kp_host_leased_other(const struct kp_hoststate *hs)
{
	return leased_here && leased_here != hs;
}

struct kp_conn *kp_host_lease(struct kp_engine *e, struct kp_hoststate *hs,
			      const struct kp_become *b)
{
	pthread_mutex_lock(&hs->conn_lock);
	struct kp_conn *c = kp_host_conn(e, hs);
	if (!c) {
		pthread_mutex_unlock(&hs->conn_lock);
		return NULL;
	}
	c->become = *b;
	kp_conn_used(hs);
	leased_here = hs;
	return c;
}

void kp_host_unlease(struct kp_hoststate *hs, struct kp_conn *c)
{
	if (c)
		c->become = (struct kp_become){0};
	if (leased_here == hs)
		leased_here = NULL;
	pthread_mutex_unlock(&hs->conn_lock);
}

kp_rc kp_host_exec(struct kp_engine *e, struct kp_hoststate *hs, bool held,
		   const struct kp_become *b, const struct kp_exec_req *req,
		   struct kp_exec_res *res, const char *why, struct kp_buf *err)
{
	if (!held)
		pthread_mutex_lock(&hs->conn_lock);
	struct kp_conn *c = kp_host_conn(e, hs);
	kp_rc rc;
	if (!c) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot reach '%s'%s%s: %s", hs->host->name,
			       why ? " " : "", why ? why : "",
			       hs->conn_error ? hs->conn_error : "unreachable");
	} else {
		struct kp_exec_req r = *req;
		r.become = b;
		kp_conn_used(hs);
		rc = c->ops->exec(c, &r, res, err);
	}
	if (!held)
		pthread_mutex_unlock(&hs->conn_lock);
	return rc;
}
