/*
 * async_job.c - a command run with `async` and `poll: 0` as a job on the
 * node, as Ansible's async_wrapper runs one: started detached (its own
 * session), its output and exit status written under ~/.kplan_async/JID
 * when it ends, killed with its process group when `async` seconds run
 * out; async_status reads those files.
 */
#include <stdlib.h>
#include <string.h>

#include "modules/module.h"
#include "transport/transport.h"

/* The job, run by `sh -c SCRIPT kplan-async J T CMD` in its own session:
 * CMD in the background, a watchdog that kills the session after T
 * seconds (leaving J.to), and J.rc written (through a rename) when CMD
 * ends. No single quote: it is quoted with them. */
static const char job_script[] =
    "J=$1; T=$2; "
    "sh -c \"$3\" >\"$J.out\" 2>\"$J.err\" </dev/null & c=$!; "
    "( i=0; while [ $i -lt \"$T\" ]; do sleep 1; kill -0 $c 2>/dev/null || exit 0; "
    "i=$((i+1)); done; : >\"$J.to\"; kill -KILL 0 ) & w=$!; "
    "wait $c; rc=$?; kill $w 2>/dev/null; "
    "[ -f \"$J.to\" ] || { echo $rc >\"$J.tmp\" && mv \"$J.tmp\" \"$J.rc\"; }";

static void job_path(const char *jid, struct kp_buf *cmd)
{
	kp_buf_addstr(cmd, "J=\"$HOME/.kplan_async/\"");
	kp_sh_quote(cmd, jid);
	kp_buf_addstr(cmd, "; ");
}

kp_rc kp_mod_async_start(struct kp_modctx *ctx, struct kp_result *res,
			 const struct kp_exec_req *req, struct kp_buf *err)
{
	struct kp_buf line = KP_BUF_INIT, cmd = KP_BUF_INIT;
	if (req->cmd)
		kp_buf_addstr(&line, req->cmd);
	else
		kp_mod_join_words(req->argv, &line);
	int64_t secs = ctx->timeout_ms > 0 ? (ctx->timeout_ms + 999) / 1000 : 1;
	job_path(ctx->async_jid, &cmd);
	kp_buf_addstr(&cmd,
		      "mkdir -p \"$HOME/.kplan_async\" && chmod 700 \"$HOME/.kplan_async\" && "
		      ": >\"$J.started\" && { if command -v setsid >/dev/null 2>&1; "
		      "then S=setsid; else S=; fi; $S sh -c ");
	kp_sh_quote(&cmd, job_script);
	kp_buf_addf(&cmd, " kplan-async \"$J\" %lld ", (long long)secs);
	kp_sh_quote(&cmd, line.buf);
	kp_buf_addstr(&cmd, " </dev/null >/dev/null 2>&1 & }");

	struct kp_exec_req q = {.cmd = cmd.buf, .env = req->env, .chdir = req->chdir};
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	if (req->chdir) {
		kp_buf_addstr(&res->cmds, "cd ");
		kp_sh_quote(&res->cmds, req->chdir);
		kp_buf_addstr(&res->cmds, " && ");
	}
	kp_buf_addf(&res->cmds, "%s &\n", line.buf);
	kp_rc rc = kp_mod_exec(ctx, NULL, &q, &r, err);
	if (!rc && r.rc != 0)
		kp_mod_failf(res, "could not start the async job: %s",
			     r.err.len ? r.err.buf : "non-zero return code");
	else if (!rc)
		res->changed = true;
	kp_exec_res_release(&r);
	kp_buf_release(&line);
	kp_buf_release(&cmd);
	return rc;
}

void kp_async_status_cmd(const char *jid, bool cleanup, struct kp_buf *cmd)
{
	job_path(jid, cmd);
	if (cleanup) {
		kp_buf_addstr(cmd, "if [ -f \"$J.started\" ]; then rm -f \"$J.started\" \"$J.out\" "
				   "\"$J.err\" \"$J.rc\" \"$J.to\" \"$J.tmp\"; echo erased; "
				   "else echo missing; fi");
		return;
	}
	kp_buf_addstr(cmd,
		      "if [ -f \"$J.rc\" ]; then echo \"done $(cat \"$J.rc\")\"; cat \"$J.out\"; "
		      "cat \"$J.err\" >&2; elif [ -f \"$J.to\" ]; then echo timeout; "
		      "elif [ -f \"$J.started\" ]; then echo running; else echo missing; fi");
}

struct kp_value *kp_async_status_value(const struct kp_exec_res *r)
{
	const char *out = r->out.buf ? r->out.buf : "";
	const char *nl = strchr(out, '\n');
	size_t n = nl ? (size_t)(nl - out) : strlen(out);
	struct kp_value *v = NULL;
	if (n >= 5 && !strncmp(out, "done ", 5)) {
		struct kp_result res;
		kp_result_init(&res);
		res.has_rc = true;
		res.rc = atoi(out + 5);
		res.changed = true;
		if (nl)
			kp_buf_addstr(&res.out, nl + 1);
		kp_buf_add(&res.err, r->err.buf, r->err.len);
		if (res.rc != 0) {
			res.failed = true;
			kp_buf_addstr(&res.msg, "non-zero return code");
		}
		v = kp_result_to_value(&res);
		kp_result_release(&res);
		kp_map_set_take(v, "started", kp_value_int(1));
		kp_map_set_take(v, "finished", kp_value_int(1));
	} else if (n == 7 && !strncmp(out, "timeout", 7)) {
		/* what Ansible's async_wrapper leaves for a job it killed */
		v = kp_value_map();
		kp_map_set_take(v, "finished", kp_value_int(1));
		kp_map_set_take(v, "changed", kp_value_bool(false));
		kp_map_set_take(v, "failed", kp_value_bool(true));
		kp_map_set_take(v, "msg", kp_value_str("Timeout exceeded"));
	} else if ((n == 7 && !strncmp(out, "running", 7)) ||
		   (n == 6 && !strncmp(out, "erased", 6))) {
		v = kp_value_map();
		kp_map_set_take(v, "started", kp_value_int(1));
		kp_map_set_take(v, "finished", kp_value_int(0));
		kp_map_set_take(v, "changed", kp_value_bool(false));
	}
	if (v)
		v->unsafe = 1; /* node data: never templated */
	return v;
}
