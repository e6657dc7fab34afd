/*
 * connect.c - a host's connection, from its variables: the transport
 * (kplan_connection, ansible_connection, the play's `connection`), address,
 * port, user and key. Opened on first use and kept for the whole run.
 */
#include "engine_int.h"

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
	char *port = conn_str(hs, "port");
	c->port = port ? atoi(port) : 22;
	free(port);
	c->user = conn_str(hs, "user");
	c->key_file = conn_str(hs, "ssh_private_key_file");
	c->workdir = conn_str(hs, "workdir");
	struct kp_buf err = KP_BUF_INIT;
	if (!strcmp(type, "local")) {
		c->ops = &kp_transport_local;
	} else {
		kp_errorf(&err, KP_ERR_UNREACHABLE,
			  "connection '%s' is not available in this build (only 'local' is)", type);
	}
	free(type);
	if (!err.len && c->ops->open(c, &err) == KP_OK) {
		c->opened = true;
		hs->conn = c;
		kp_buf_release(&err);
		return c;
	}
	hs->conn_error = kp_buf_detach(&err, NULL);
	c->ops = NULL;
	kp_conn_free(c);
	return NULL;
}

void kp_host_conn_close(struct kp_hoststate *hs)
{
	if (hs->conn)
		kp_conn_free(hs->conn);
	hs->conn = NULL;
}
