/*
 * wait_for.c - wait until a port answers, a path exists or a command
 * succeeds on the node. Never changes anything, so all of it is the probe;
 * in check mode it looks once and reports.
 *
 * The port check runs on the node (a port open "from the node" is what a
 * plan means by 127.0.0.1:6443) with the first tool found, because a
 * minimal node has no single tool we can count on:
 *   1. bash + timeout(1): `timeout 1 bash -c 'exec 3<>/dev/tcp/H/P'` -
 *      bash's /dev/tcp needs no extra package, and timeout bounds a connect
 *      to a host that drops packets;
 *   2. bash alone: the same without timeout (our per-check exec timeout of
 *      5 s bounds it instead);
 *   3. nc -z -w 1 (netcat-openbsd and busybox both take these flags).
 * /bin/sh's own redirections cannot open TCP (dash has no /dev/tcp), so
 * none of them found is an error that names what to install, not a wait.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct kp_argspec args[] = {
    {.name = "port", .type = KP_T_INT, .help = "TCP port to connect to"},
    {.name = "host",
     .type = KP_T_STR,
     .def = "127.0.0.1",
     .help = "host for port, seen from the node"},
    {.name = "path", .type = KP_T_PATH, .help = "wait until this path exists on the node"},
    {.name = "cmd", .type = KP_T_STR, .help = "wait until this command exits 0"},
    {.name = "timeout", .type = KP_T_DURATION, .def = "5m", .help = "give up after this long"},
    {.name = "delay",
     .type = KP_T_DURATION,
     .def = "0",
     .help = "wait this long before the first try"},
    {0},
};

static const char *const exclusive[] = {"port|path|cmd", NULL};

#define POLL_MS	      1000
#define CHECK_TIMEOUT 5000 /* one port check; the snippet itself takes ~1 s */
#define NO_TOOL	      3	   /* the snippet's exit status when it has nothing to test with */

static const char port_snippet[] =
    "h=$1 p=$2\n"
    "if command -v bash >/dev/null 2>&1; then\n"
    "  if command -v timeout >/dev/null 2>&1; then\n"
    "    timeout 1 bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$h\" \"$p\" 2>/dev/null\n"
    "  else\n"
    "    bash -c 'exec 3<>\"/dev/tcp/$0/$1\"' \"$h\" \"$p\" 2>/dev/null\n"
    "  fi\n"
    "  exit $?\n"
    "fi\n"
    "if command -v nc >/dev/null 2>&1; then nc -z -w 1 \"$h\" \"$p\" 2>/dev/null; exit $?; fi\n"
    "exit 3\n";

static void what_text(const struct kp_modctx *ctx, struct kp_buf *out)
{
	if (kp_arg(ctx, "port"))
		kp_buf_addf(out, "port %lld on %s", (long long)kp_arg_int(ctx, "port"),
			    kp_arg_str(ctx, "host"));
	else if (kp_arg(ctx, "path"))
		kp_buf_addf(out, "path '%s'", kp_arg_str(ctx, "path"));
	else
		kp_buf_addf(out, "command '%s'", kp_arg_str(ctx, "cmd"));
}

/* One look: *ready, or res->failed when the check itself cannot work. */
static kp_rc check(struct kp_modctx *ctx, struct kp_result *res, bool *ready, struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_rc rc = KP_OK;

	*ready = false;
	if (kp_arg(ctx, "path")) {
		struct kp_stat st;
		rc = ctx->conn->ops->stat(ctx->conn, kp_arg_str(ctx, "path"), false, &st, err);
		*ready = !rc && st.exists;
		return rc;
	}
	kp_exec_res_init(&r);
	if (kp_arg(ctx, "port")) {
		struct kp_buf cmd = KP_BUF_INIT;
		char port[32];
		snprintf(port, sizeof(port), "%lld", (long long)kp_arg_int(ctx, "port"));
		kp_buf_addstr(&cmd, "sh -c ");
		kp_sh_quote(&cmd, port_snippet);
		kp_buf_addstr(&cmd, " sh ");
		kp_sh_quote(&cmd, kp_arg_str(ctx, "host"));
		kp_buf_addch(&cmd, ' ');
		kp_buf_addstr(&cmd, port);
		struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = CHECK_TIMEOUT};
		rc = kp_mod_exec(ctx, res, &req, &r, err);
		if (!rc && r.rc == NO_TOOL)
			kp_mod_failf(res,
				     "cannot check ports on the node: it has neither bash nor nc");
		*ready = !rc && !r.timed_out && r.rc == 0;
		kp_buf_release(&cmd);
	} else {
		rc = kp_mod_sh(ctx, res, kp_arg_str(ctx, "cmd"), &r, err);
		*ready = !rc && !r.timed_out && r.rc == 0;
	}
	kp_exec_res_release(&r);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct kp_buf what = KP_BUF_INIT, d = KP_BUF_INIT;
	int64_t timeout = kp_arg_int(ctx, "timeout"), start = kp_now_ms();
	bool ready = false;
	size_t cmds_len = 0;
	kp_rc rc = KP_OK;

	if (!kp_arg(ctx, "port") && !kp_arg(ctx, "path") && !kp_arg(ctx, "cmd"))
		return kp_mod_failf(res, "module 'wait-for' needs one of 'port', 'path' or 'cmd'");
	what_text(ctx, &what);
	res->changed = false;
	if (ctx->check_mode) {
		rc = check(ctx, res, &ready, err);
		if (!rc && !res->failed) {
			kp_buf_reset(&res->msg);
			if (ready) {
				kp_buf_addf(&res->msg, "ready: %s", what.buf);
			} else {
				kp_mod_duration_text(timeout, &d);
				kp_buf_addf(&res->msg, "would wait for %s (up to %s)", what.buf,
					    d.buf);
			}
		}
		goto out;
	}
	kp_sleep_ms(kp_arg_int(ctx, "delay"));
	for (int64_t next = kp_now_ms();; next += POLL_MS) {
		rc = check(ctx, res, &ready, err);
		if (rc || res->failed || ready)
			break;
		/* the same command each second: keep it once in the log */
		if (!cmds_len)
			cmds_len = res->cmds.len;
		else
			kp_buf_setlen(&res->cmds, cmds_len);
		if (kp_now_ms() - start >= timeout)
			break;
		kp_sleep_ms(next + POLL_MS - kp_now_ms());
	}
	if (rc || res->failed)
		goto out;
	int64_t elapsed = kp_now_ms() - start;
	kp_map_set_take(res->facts, "elapsed", kp_value_int(elapsed / 1000));
	kp_buf_reset(&res->msg);
	if (ready) {
		kp_mod_duration_text(elapsed / 1000 * 1000, &d);
		kp_buf_addf(&res->msg, "ready: %s (after %s)", what.buf, d.buf);
	} else {
		kp_mod_duration_text(timeout, &d);
		kp_mod_failf(res, "timed out after %s waiting for %s", d.buf, what.buf);
	}
out:
	kp_buf_release(&what);
	kp_buf_release(&d);
	return rc;
}

/* Waiting changes nothing, whatever the preview cannot know. */
static bool never_pending(const struct kp_value *a)
{
	return false;
}

const struct kp_module kp_mod_wait_for = {
    .name = "wait-for",
    .summary = "wait for a port, a path or a command",
    .args = args,
    .exclusive = exclusive,
    .probe = probe,
    .pending = never_pending,
};
