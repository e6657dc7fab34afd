/*
 * test_reboot.c - the reboot module against a scripted node: a fake
 * transport whose `shutdown -r` takes the node down, whose reconnect is
 * refused while it is down, and whose boot id changes when it comes back
 * (optionally after answering a few times with the old one, as a real node
 * does before it goes down).
 */
#include "unit.h"
#include "modules/module.h"
#include "transport/transport.h"
#include "core/value.h"

struct node {
	char boot_id[40], next_id[40];
	bool connected, rebooting;
	int down_for;	 /* reconnects refused after the shutdown */
	int old_id_for;	 /* boot id reads answering the old id after that */
	int shutdown_rc; /* -1: the connection is cut under the command */
	int reconnects, shutdowns;
	struct kp_buf log; /* every command run */
};

static kp_rc node_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		       struct kp_buf *err)
{
	struct node *n = c->priv;
	if (!n->connected)
		return kp_errorf(err, KP_ERR_UNREACHABLE, "not connected to 'node1'");
	kp_buf_addf(&n->log, "%s\n", req->cmd);
	kp_buf_reset(&res->out);
	kp_buf_reset(&res->err);
	res->rc = 0;
	res->timed_out = false;
	if (!strcmp(req->cmd, "cat /proc/sys/kernel/random/boot_id")) {
		if (n->rebooting && n->old_id_for > 0) {
			n->old_id_for--;
			kp_buf_addf(&res->out, "%s\n", n->boot_id);
			return KP_OK;
		}
		if (n->rebooting) {
			strcpy(n->boot_id, n->next_id);
			n->rebooting = false;
		}
		kp_buf_addf(&res->out, "%s\n", n->boot_id);
	} else if (!strncmp(req->cmd, "shutdown -r now", 15)) {
		n->shutdowns++;
		if (n->shutdown_rc > 0) {
			res->rc = n->shutdown_rc;
			kp_buf_addstr(&res->err, "System has not been booted with systemd as init "
						 "system (PID 1). Can't operate.\n");
			return KP_OK;
		}
		n->rebooting = true;
		if (n->shutdown_rc < 0) {
			n->connected = false;
			return kp_errorf(err, KP_ERR_UNREACHABLE, "connection to node1 lost");
		}
	} else if (!strcmp(req->cmd, "whoami")) {
		kp_buf_addstr(&res->out, "root\n");
	} else if (!strcmp(req->cmd, "/bin/false")) {
		res->rc = 1;
		kp_buf_addstr(&res->err, "nope\n");
	} else {
		res->rc = 127;
	}
	return KP_OK;
}

static kp_rc node_reconnect(struct kp_conn *c, int64_t timeout_ms, struct kp_buf *err)
{
	struct node *n = c->priv;
	n->reconnects++;
	n->connected = false;
	if (n->rebooting && n->old_id_for <= 0 && n->down_for > 0) {
		n->down_for--;
		return kp_errorf(err, KP_ERR_UNREACHABLE,
				 "cannot connect to 127.0.0.1:22: Connection refused");
	}
	n->connected = true;
	return KP_OK;
}

static const struct kp_transport_ops node_ops = {
    .name = "ssh",
    .exec = node_exec,
    .reconnect = node_reconnect,
};

static const struct kp_transport_ops local_ops = {
    .name = "local",
    .exec = node_exec,
};

struct t {
	struct node n;
	struct kp_conn conn;
	struct kp_buf err;
	bool check;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	strcpy(t->n.boot_id, "11111111-aaaa-4aaa-8aaa-111111111111");
	strcpy(t->n.next_id, "22222222-bbbb-4bbb-8bbb-222222222222");
	t->n.connected = true;
	t->n.shutdown_rc = -1;
	kp_buf_init(&t->n.log);
	kp_buf_init(&t->err);
	t->conn.ops = &node_ops;
	t->conn.priv = &t->n;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	kp_buf_release(&t->n.log);
	kp_buf_release(&t->err);
	free(t);
	return 0;
}

/* Probe, then apply when the probe found a change (not in check mode). */
static void run(struct t *t, const char *json_args, struct kp_result *res)
{
	const struct kp_module *m = kp_module_find("reboot");
	struct kp_value *raw = NULL, *args = NULL;
	assert_non_null(m);
	assert_int_equal(kp_value_from_json(json_args, strlen(json_args), &raw, &t->err), KP_OK);
	if (kp_module_finish_args(m, raw, &args, &t->err))
		fail_msg("%s", t->err.buf);
	struct kp_modctx ctx = {
	    .module = m,
	    .host = "node1",
	    .conn = &t->conn,
	    .args = args,
	    .check_mode = t->check,
	    .timeout_ms = 10000,
	};
	kp_result_init(res);
	kp_rc rc = m->probe(&ctx, res, &t->err);
	if (!rc && res->changed && !res->failed && !t->check)
		rc = m->apply(&ctx, res, &t->err);
	if (rc)
		fail_msg("reboot: %s", t->err.buf);
	if (ctx.free_state)
		ctx.free_state(ctx.state);
	kp_value_unref(args);
	kp_value_unref(raw);
}

static const char *fact_str(const struct kp_result *r, const char *key)
{
	const struct kp_value *v = kp_map_get(r->facts, key);
	assert_non_null(v);
	assert_int_equal(v->type, KP_V_STR);
	return v->u.str.s;
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void test_reboot_cut_then_back(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->n.down_for = 2;
	run(t, "{}", &r);
	assert_false(r.failed);
	assert_true(r.changed);
	assert_non_null(strstr(r.msg.buf, "(boot id 11111111-aaaa-4aaa-8aaa-111111111111 -> "
					  "22222222-bbbb-4bbb-8bbb-222222222222)"));
	assert_string_equal(fact_str(&r, "boot_id"), "22222222-bbbb-4bbb-8bbb-222222222222");
	assert_string_equal(fact_str(&r, "boot_id_before"), "11111111-aaaa-4aaa-8aaa-111111111111");
	assert_true(kp_value_truthy(kp_map_get(r.facts, "rebooted")));
	assert_int_equal(kp_map_get(r.facts, "elapsed")->type, KP_V_INT);
	assert_int_equal(t->n.shutdowns, 1);
	assert_int_equal(t->n.reconnects, 3); /* refused twice, then back */
	assert_true(t->n.connected);	      /* usable by the next task */
	assert_int_equal(count(t->n.log.buf, "whoami"), 1);
	assert_int_equal(count(r.cmds.buf, "shutdown -r now"), 1);
	kp_result_release(&r);
}

static void test_reboot_old_id_first(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->n.shutdown_rc = 0; /* returns before the node goes down */
	t->n.old_id_for = 2;
	run(t, "{}", &r);
	assert_false(r.failed);
	assert_string_equal(fact_str(&r, "boot_id"), "22222222-bbbb-4bbb-8bbb-222222222222");
	/* the same old id twice: each time a new session to look again */
	assert_int_equal(t->n.reconnects, 3);
	assert_int_equal(count(t->n.log.buf, "whoami"), 1);
	kp_result_release(&r);
}

static void test_reboot_check_mode(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->check = true;
	run(t, "{\"timeout\": \"5m\"}", &r);
	assert_false(r.failed);
	assert_true(r.changed);
	assert_string_equal(
	    r.msg.buf, "would reboot (boot id 11111111-aaaa-4aaa-8aaa-111111111111), then wait "
		       "up to 300s for a new boot id and 'whoami' to succeed");
	assert_int_equal(t->n.shutdowns, 0);
	assert_int_equal(t->n.reconnects, 0);
	kp_result_release(&r);
}

static void test_reboot_command_refused(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->n.shutdown_rc = 1;
	run(t, "{}", &r);
	assert_true(r.failed);
	assert_false(r.changed);
	assert_string_equal(r.msg.buf, "cannot reboot 'node1': 'shutdown -r now 'Reboot initiated "
				       "by kplan'' failed (rc 1): System has not been booted with "
				       "systemd as init system (PID 1). Can't operate.");
	assert_int_equal(t->n.reconnects, 0);
	kp_result_release(&r);
}

/* Ansible's arguments: reboot_command runs instead of shutdown (and is
 * named when it refuses), reboot_timeout (seconds) wins over timeout */
static void test_reboot_ansible_args(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->check = true;
	run(t, "{\"timeout\": \"5m\", \"reboot_timeout\": 90, \"msg\": \"patching\"}", &r);
	assert_string_equal(
	    r.msg.buf, "would reboot (boot id 11111111-aaaa-4aaa-8aaa-111111111111), then wait "
		       "up to 90s for a new boot id and 'whoami' to succeed");
	kp_result_release(&r);
	t->check = false;
	t->n.shutdown_rc = 1;
	run(t, "{\"reboot_command\": \"shutdown -r now --no-wall\"}", &r);
	assert_true(r.failed);
	assert_int_equal(t->n.shutdowns, 1);
	assert_string_equal(r.msg.buf, "cannot reboot 'node1': 'shutdown -r now --no-wall' failed "
				       "(rc 1): System has not been booted with systemd as init "
				       "system (PID 1). Can't operate.");
	kp_result_release(&r);
}

static void test_reboot_test_command_fails(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	run(t, "{\"test_command\": \"/bin/false\", \"timeout\": \"1s\"}", &r);
	assert_true(r.failed);
	assert_string_equal(r.msg.buf,
			    "timed out after 1s waiting for 'node1' to come back from the "
			    "reboot: a new boot id 22222222-bbbb-4bbb-8bbb-222222222222, "
			    "but 'test_command' '/bin/false' exited 1: nope");
	assert_false(kp_value_truthy(kp_map_get(r.facts, "rebooted")));
	assert_true(count(t->n.log.buf, "/bin/false") >= 2); /* tried again */
	/* the log of commands keeps the repeated round once */
	assert_int_equal(count(r.cmds.buf, "/bin/false"), 1);
	kp_result_release(&r);
}

static void test_reboot_never_back(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->n.down_for = 1000;
	run(t, "{\"timeout\": 1}", &r);
	assert_true(r.failed);
	assert_string_equal(r.msg.buf,
			    "timed out after 1s waiting for 'node1' to come back from the "
			    "reboot: no answer (cannot connect to 127.0.0.1:22: "
			    "Connection refused)");
	kp_result_release(&r);
}

static void test_reboot_still_old(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->n.shutdown_rc = 0;
	t->n.old_id_for = 1000;
	run(t, "{\"timeout\": \"1s\"}", &r);
	assert_true(r.failed);
	assert_string_equal(r.msg.buf,
			    "timed out after 1s waiting for 'node1' to come back from the "
			    "reboot: the same boot id 11111111-aaaa-4aaa-8aaa-111111111111 "
			    "(not rebooted yet)");
	kp_result_release(&r);
}

static void test_reboot_needs_reconnect(void **state)
{
	struct t *t = *state;
	struct kp_result r;
	t->conn.ops = &local_ops;
	run(t, "{}", &r);
	assert_true(r.failed);
	assert_string_equal(r.msg.buf,
			    "cannot reboot 'node1' over the 'local' connection: a reboot "
			    "needs an ssh host to reconnect to");
	assert_int_equal(t->n.shutdowns, 0);
	t->check = true;
	kp_result_release(&r);
	run(t, "{}", &r);
	assert_true(r.failed);
	kp_result_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reboot_cut_then_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_old_id_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_check_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_command_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_ansible_args, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_test_command_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_never_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_still_old, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reboot_needs_reconnect, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
