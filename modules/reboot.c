/*
 * reboot.c - reboot the node and wait until it is back with a new boot id,
 * as ansible.builtin.reboot does.
 *
 * The probe reads the node's boot id (/proc/sys/kernel/random/boot_id) and
 * predicts the reboot; it refuses a connection that cannot reconnect (the
 * local transport: there is no node to come back). Apply waits
 * pre_reboot_delay, runs `shutdown -r now` (every Debian node has it:
 * systemd's, sysvinit's, the lab's) and takes the connection dropping under
 * it as expected. Then it reconnects through the transport, with a short
 * backoff, until the node answers, its boot id differs from the one before
 * and test_command succeeds, all within timeout. The same connection,
 * reopened, serves the play's following tasks.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct kp_argspec args[] = {
    {.name = "timeout",
     .type = KP_T_DURATION,
     .def = "10m",
     .help = "how long to wait for the node to come back"},
    {.name = "pre_reboot_delay",
     .type = KP_T_DURATION,
     .def = "0",
     .help = "wait this long before rebooting"},
    {.name = "post_reboot_delay",
     .type = KP_T_DURATION,
     .def = "0",
     .help = "wait this long after the node answers again"},
    {.name = "test_command",
     .type = KP_T_STR,
     .def = "whoami",
     .help = "command that must succeed once the node is back"},
    {.name = "reboot_timeout",
     .type = KP_T_INT,
     .help = "Ansible's name for timeout, in seconds (wins over timeout)"},
    {.name = "msg",
     .type = KP_T_STR,
     .def = "Reboot initiated by kplan",
     .help = "the message shutdown broadcasts"},
    {.name = "reboot_command",
     .type = KP_T_STR,
     .help = "the command that reboots (default: shutdown -r now MSG)"},
    {.name = "connect_timeout",
     .type = KP_T_INT,
     .help = "accepted for Ansible; each reconnect is bounded by the connection's own"},
    {.name = "boot_time_command",
     .type = KP_T_STR,
     .help = "accepted for Ansible; kplan always compares the kernel's boot id"},
    {.name = "search_paths",
     .type = KP_T_LIST,
     .help = "accepted for Ansible; the reboot command runs through the node's PATH"},
    {0},
};

#define REBOOT_CMD     "shutdown -r now"
#define REBOOT_CMD_TMO 30000 /* shutdown returns at once; the node goes down after */

/* reboot_timeout (seconds, Ansible's) when given, else timeout */
static int64_t wait_ms(const struct kp_modctx *ctx)
{
	if (kp_arg(ctx, "reboot_timeout"))
		return kp_arg_int(ctx, "reboot_timeout") * 1000;
	return kp_arg_int(ctx, "timeout");
}

/* reboot_command as given, else `shutdown -r now MSG` */
static void reboot_cmd(const struct kp_modctx *ctx, struct kp_buf *out)
{
	const char *c = kp_arg_str(ctx, "reboot_command");
	if (c) {
		kp_buf_addstr(out, c);
		return;
	}
	kp_buf_addstr(out, REBOOT_CMD " ");
	kp_sh_quote(out, kp_arg_str(ctx, "msg"));
}
#define STEP_TMO	10000 /* one connect, one boot id read */
#define BACKOFF_FIRST	250
#define BACKOFF_MAX	2000
#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"
#define BOOT_ID_CMD	"cat " BOOT_ID_PATH
#define MIN_CONNECT_TMO 1000

struct state {
	char *boot_id; /* before the reboot */
};

static void state_free(void *p)
{
	struct state *st = p;
	if (st)
		free(st->boot_id);
	free(st);
}

/* The first line of b, trimmed, into out. */
static void first_line(const struct kp_buf *b, struct kp_buf *out)
{
	size_t n = strcspn(b->buf, "\n");
	while (n && (b->buf[n - 1] == ' ' || b->buf[n - 1] == '\r' || b->buf[n - 1] == '\t'))
		n--;
	kp_buf_reset(out);
	kp_buf_add(out, b->buf, n);
}

/* Read the boot id into out: KP_OK with *ok when it was read, KP_OK with
 * !*ok and why in `why` when the command ran but said nothing usable; an
 * error from the transport when it could not run. */
static kp_rc read_boot_id(struct kp_modctx *ctx, struct kp_result *res, int64_t tmo,
			  struct kp_buf *out, bool *ok, struct kp_buf *why, struct kp_buf *err)
{
	struct kp_exec_req req = {.cmd = BOOT_ID_CMD, .timeout_ms = tmo};
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	*ok = false;
	kp_rc rc = kp_mod_exec(ctx, res, &req, &r, err);
	if (!rc) {
		first_line(&r.out, out);
		if (r.timed_out) {
			kp_buf_addstr(why, "reading the boot id timed out");
		} else if (r.rc != 0 || !out->len) {
			struct kp_buf line = KP_BUF_INIT;
			first_line(&r.err, &line);
			kp_buf_addf(why, "'%s' failed (rc %d)%s%s", BOOT_ID_CMD, r.rc,
				    line.len ? ": " : "", line.buf);
			kp_buf_release(&line);
		} else {
			*ok = true;
		}
	}
	kp_exec_res_release(&r);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct kp_buf id = KP_BUF_INIT, why = KP_BUF_INIT, d = KP_BUF_INIT;
	bool ok;
	kp_rc rc;

	if (!ctx->conn->ops->reconnect)
		return kp_mod_failf(
		    res,
		    "cannot reboot '%s' over the '%s' connection: a reboot needs an "
		    "ssh host to reconnect to",
		    ctx->host, ctx->conn->ops->name);
	rc = read_boot_id(ctx, res, STEP_TMO, &id, &ok, &why, err);
	if (rc)
		goto out;
	if (!ok) {
		kp_mod_failf(res, "cannot read the boot id of '%s': %s", ctx->host, why.buf);
		goto out;
	}
	struct state *st = kp_xcalloc(1, sizeof(*st));
	st->boot_id = kp_xstrdup(id.buf);
	ctx->state = st;
	ctx->free_state = state_free;
	kp_map_set_take(res->facts, "boot_id", kp_value_str(id.buf));
	res->changed = true;
	kp_mod_duration_text(wait_ms(ctx), &d);
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg,
		    "would reboot (boot id %s), then wait up to %s for a new boot id and '%s' "
		    "to succeed",
		    id.buf, d.buf, kp_arg_str(ctx, "test_command"));
out:
	kp_buf_release(&id);
	kp_buf_release(&why);
	kp_buf_release(&d);
	return rc;
}

/* One look at the node once it may be back: *done when it answers with a
 * new boot id (into id) and test_command succeeds; otherwise what was seen
 * goes to last and *connected says whether the session still works. */
static void look(struct kp_modctx *ctx, struct kp_result *res, const char *before, int64_t left,
		 bool *connected, bool *done, struct kp_buf *id, struct kp_buf *last)
{
	struct kp_buf e = KP_BUF_INIT, why = KP_BUF_INIT;
	int64_t tmo = left < STEP_TMO ? left : STEP_TMO;
	bool ok;

	*done = false;
	if (tmo < MIN_CONNECT_TMO)
		tmo = MIN_CONNECT_TMO;
	if (!*connected) {
		if (ctx->conn->ops->reconnect(ctx->conn, tmo, &e)) {
			kp_buf_reset(last);
			kp_buf_addf(last, "no answer (%s)", e.buf);
			goto out;
		}
		*connected = true;
	}
	if (read_boot_id(ctx, res, tmo, id, &ok, &why, &e)) {
		*connected = false;
		kp_buf_reset(last);
		kp_buf_addf(last, "no answer (%s)", e.buf);
		goto out;
	}
	if (!ok) {
		kp_buf_reset(last);
		kp_buf_addstr(last, why.buf);
		goto out;
	}
	if (!strcmp(id->buf, before)) {
		/* the old system, still going down: look again on a new session */
		*connected = false;
		kp_buf_reset(last);
		kp_buf_addf(last, "the same boot id %s (not rebooted yet)", before);
		goto out;
	}
	const char *test = kp_arg_str(ctx, "test_command");
	struct kp_exec_req req = {.cmd = test, .timeout_ms = left > 0 ? left : 1};
	if (ctx->timeout_ms && ctx->timeout_ms < req.timeout_ms)
		req.timeout_ms = ctx->timeout_ms;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_buf_reset(last);
	if (kp_mod_exec(ctx, res, &req, &r, &e)) {
		*connected = false;
		kp_buf_addf(last, "a new boot id %s, then no answer (%s)", id->buf, e.buf);
	} else if (r.timed_out) {
		kp_buf_addf(last, "a new boot id %s, but 'test_command' '%s' timed out", id->buf,
			    test);
	} else if (r.rc != 0) {
		struct kp_buf line = KP_BUF_INIT;
		first_line(&r.err, &line);
		kp_buf_addf(last, "a new boot id %s, but 'test_command' '%s' exited %d%s%s",
			    id->buf, test, r.rc, line.len ? ": " : " (no stderr)", line.buf);
		kp_buf_release(&line);
	} else {
		*done = true;
	}
	kp_exec_res_release(&r);
out:
	kp_buf_release(&e);
	kp_buf_release(&why);
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *st = ctx->state;
	struct kp_buf e = KP_BUF_INIT, id = KP_BUF_INIT, last = KP_BUF_INIT, d = KP_BUF_INIT;
	int64_t timeout = wait_ms(ctx), backoff = BACKOFF_FIRST;
	struct kp_buf cmd = KP_BUF_INIT;
	bool connected = false, done = false;
	struct kp_exec_res r;

	if (!st)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	kp_sleep_ms(kp_arg_int(ctx, "pre_reboot_delay"));
	int64_t start = kp_now_ms(), deadline = start + timeout;

	/* The command may return before the node goes down (systemd queues
	 * the reboot) or be cut off with its connection: both are a reboot
	 * under way. An exit status below 128 is the command refusing. */
	reboot_cmd(ctx, &cmd);
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = REBOOT_CMD_TMO};
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_exec(ctx, res, &req, &r, &e);
	if (!rc && !r.timed_out && r.rc > 0 && r.rc < 128) {
		struct kp_buf line = KP_BUF_INIT;
		first_line(r.err.len ? &r.err : &r.out, &line);
		kp_buf_reset(&res->err);
		kp_buf_add(&res->err, r.err.buf, r.err.len);
		kp_mod_failf(res, "cannot reboot '%s': '%s' failed (rc %d)%s%s", ctx->host, cmd.buf,
			     r.rc, line.len ? ": " : "", line.buf);
		kp_buf_release(&line);
		kp_exec_res_release(&r);
		goto out;
	}
	kp_exec_res_release(&r);

	kp_buf_addstr(&last, "no answer yet");
	size_t base = res->cmds.len;
	for (;;) {
		int64_t left = deadline - kp_now_ms();
		if (left <= 0)
			break;
		size_t round = res->cmds.len;
		look(ctx, res, st->boot_id, left, &connected, &done, &id, &last);
		/* the same few commands each round: keep each round's once */
		size_t n = res->cmds.len - round;
		if (n && round > base &&
		    memmem(res->cmds.buf + base, round - base, res->cmds.buf + round, n))
			kp_buf_setlen(&res->cmds, round);
		if (done)
			break;
		left = deadline - kp_now_ms();
		if (left <= 0)
			break;
		kp_sleep_ms(backoff < left ? backoff : left);
		backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
	}
	int64_t elapsed = kp_now_ms() - start;
	kp_map_set_take(res->facts, "elapsed", kp_value_int(elapsed / 1000));
	kp_map_set_take(res->facts, "rebooted", kp_value_bool(done));
	if (!done) {
		kp_mod_duration_text(timeout, &d);
		kp_mod_failf(res,
			     "timed out after %s waiting for '%s' to come back from the reboot: %s",
			     d.buf, ctx->host, last.buf);
		goto out;
	}
	kp_sleep_ms(kp_arg_int(ctx, "post_reboot_delay"));
	kp_map_set_take(res->facts, "boot_id", kp_value_str(id.buf));
	kp_map_set_take(res->facts, "boot_id_before", kp_value_str(st->boot_id));
	kp_mod_duration_text(elapsed / 100 * 100, &d);
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "rebooted in %s (boot id %s -> %s)", d.buf, st->boot_id, id.buf);
out:
	kp_buf_release(&e);
	kp_buf_release(&id);
	kp_buf_release(&last);
	kp_buf_release(&d);
	kp_buf_release(&cmd);
	return KP_OK;
}

const struct kp_module kp_mod_reboot = {
    .name = "reboot",
    .summary = "reboot the node and wait until it answers SSH again with a new boot id",
    .args = args,
    .probe = probe,
    .apply = apply,
};
