/*
 * connect.c - a host's connection, from its variables: the transport
 * (kplan_connection, ansible_connection, the play's `connection`), address,
 * port, user and key, and for ssh the password, jump host, known_hosts file
 * and timeouts, with --known-hosts and --host-key-checking from the command
 * line. Opened on first use and kept for the whole run.
 */
#include "engine_int.h"
#include "sshconfig.h"

#include <stdlib.h>
#include <string.h>

/* kplan_NAME wins over ansible_NAME (inventory.md) */
static const struct kp_value *conn_var(const struct kp_hoststate *hs, const char *name)
{
	char k[96];
	/* a delegate_to target outside the batch has only its inventory vars */
	const struct kp_value *const *layers = (const struct kp_value *const *)&hs->host->merged;
	size_t n = 1;
	if (hs->hv_ready) {
		layers = hs->hv.scope.layers;
		n = hs->hv.scope.nlayers;
	}
	const char *prefixes[] = {"kplan_", "ansible_"};
	for (size_t p = 0; p < 2; p++) {
		snprintf(k, sizeof(k), "%s%s", prefixes[p], name);
		for (size_t i = n; i-- > 0;) {
			const struct kp_value *v = layers[i] ? kp_map_get(layers[i], k) : NULL;
			if (v)
				return v;
		}
	}
	return NULL;
}

static char *conn_str(const struct kp_hoststate *hs, const char *name)
{
	const struct kp_value *v = conn_var(hs, name);
	struct kp_buf b = KP_BUF_INIT;
	if (!v || v->type == KP_V_NULL)
		return NULL;
	kp_value_to_text(v, false, &b);
	return kp_buf_detach(&b, NULL);
}

/* Whole seconds from a variable ("30", "30s", "1m"); def when unset. */
static int64_t conn_seconds_ms(const struct kp_hoststate *hs, const char *name, int64_t def,
			       struct kp_buf *err)
{
	char *v = conn_str(hs, name);
	int64_t ms = def;
	if (v && *v && (kp_parse_duration(v, &ms) || ms < 0))
		kp_errorf(err, KP_ERR_UNREACHABLE,
			  "invalid value '%s' for 'kplan_%s': expected a duration", v, name);
	free(v);
	return ms;
}

/* What only ssh uses; errors go to err (the host is then unreachable). */
static void ssh_settings(struct kp_engine *e, struct kp_hoststate *hs, struct kp_conn *c,
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
		c->known_hosts = conn_str(hs, "known_hosts");
	c->password = conn_str(hs, "password");
	if (!c->password)
		c->password = conn_str(hs, "ssh_pass");
	c->proxy_jump = conn_str(hs, "ssh_proxy_jump");
	if (!c->proxy_jump) {
		char *args = conn_str(hs, "ssh_common_args");
		if (args)
			c->proxy_jump = kp_ssh_args_proxyjump(args);
		free(args);
	}
	c->ssh_config = conn_str(hs, "ssh_config");
	c->connect_timeout_ms = conn_seconds_ms(hs, "ssh_timeout", 10000, err);
	c->keepalive_s = (int)(conn_seconds_ms(hs, "ssh_keepalive", 30000, err) / 1000);
}

struct kp_conn *kp_host_conn(struct kp_engine *e, struct kp_hoststate *hs)
{
	if (hs->conn)
		return hs->conn;
	if (hs->conn_error)
		return NULL;
	char *type = conn_str(hs, "connection");
	if (!type && e->play && e->play->connection)
		type = kp_xstrdup(e->play->connection);
	if (!type)
		type = kp_xstrdup("ssh");
	struct kp_conn *c = kp_xcalloc(1, sizeof(*c));
	c->host = kp_xstrdup(hs->host->name);
	c->address = conn_str(hs, "host");
	if (!c->address)
		c->address = conn_str(hs, "ssh_host");
	if (!c->address)
		c->address = kp_xstrdup(hs->host->name);
	/* 0: not set, so ~/.ssh/config may say (ssh); 22 in the end */
	char *port = conn_str(hs, "port");
	c->port = port ? atoi(port) : 0;
	free(port);
	c->user = conn_str(hs, "user");
	c->key_file = conn_str(hs, "ssh_private_key_file");
	c->workdir = conn_str(hs, "workdir");
	c->interrupts = e->o->interrupts;
	struct kp_buf err = KP_BUF_INIT;
	if (!strcmp(type, "local")) {
		c->ops = &kp_transport_local;
	} else if (!strcmp(type, "ssh") || !strcmp(type, "paramiko") || !strcmp(type, "smart")) {
		c->ops = &kp_transport_ssh;
		ssh_settings(e, hs, c, &err);
	} else {
		kp_errorf(&err, KP_ERR_UNREACHABLE,
			  "connection '%s' is not available (use 'ssh' or 'local')", type);
	}
	free(type);
	if (!err.len && c->ops->open(c, &err) == KP_OK) {
		c->opened = true;
		hs->conn = c;
		kp_buf_release(&err);
		return c;
	}
	hs->conn_error = kp_buf_detach(&err, NULL);
	kp_conn_free(c); /* close copes with a connection never opened */
	return NULL;
}

void kp_host_conn_close(struct kp_hoststate *hs)
{
	if (hs->conn)
		kp_conn_free(hs->conn);
	hs->conn = NULL;
}
