/*
 * fuzz_kube.c - what the Kubernetes and etcd modules make of the answers
 * they get: JSON from the API (through the kubectl client: pods, nodes,
 * evictions, budgets and their label selectors, /version, kubectl's
 * "Error from server" lines) and the output of the commands they run
 * (apt-cache madison, dpkg-query, kubeadm version and upgrade plan,
 * kubelet --version, etcdctl ... -w json).
 *
 * The input is a header line, then the answers, separated by "\n%%\n":
 *
 *   {"module":"drain","check":false,"host":"w1","vars":{},"args":{...}}
 *   0{"metadata":{"name":"w1"},"spec":{}}
 *   %%
 *   1Error from server (NotFound): nodes "w1" not found
 *
 * Every command run, on the host or on the first control-plane host, takes
 * the next answer: its first character is the exit status ('0'..'9'; 'T'
 * timed out; 'U' the host is unreachable), the rest is both its stdout and
 * its stderr (a `get` of a file reads it as the file's contents). Without
 * answers left a command is "not found" (127). The module is probed, and
 * applied when the probe says so outside check mode. Nothing reaches a
 * network: $HOME and $KUBECONFIG name no kubeconfig, the kubeconfig
 * argument is dropped, and timeouts are 0 (1 s for drain, whose 0 means no
 * limit, as kubectl's). Time does not pass here either: sleeping returns at
 * once and moves the monotonic clock on by what was slept, so
 * the API client's retries with backoff and the modules' polling cost
 * nothing (both are bounded by attempts and by
 * the timeouts).
 */
#include "expr/expr.h"
#include "fuzz.h"
#include "modules/module.h"
#include "transport/transport.h"
#include "core/value.h"

#include <stdlib.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const allowed[] = {"drain", "kube-node", "apt-pin", "kubeadm-upgrade",
				      "etcd-member"};

/* Sleeping costs nothing here, but the monotonic clock moves on by what
 * was slept, so waits that count time against a deadline end as fast. */
static int64_t slept_ns;

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	if (req)
		slept_ns += (int64_t)req->tv_sec * 1000000000 + req->tv_nsec;
	if (rem)
		memset(rem, 0, sizeof(*rem));
	return 0;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	long r = syscall(SYS_clock_gettime, id, ts);
	if (!r && id == CLOCK_MONOTONIC) {
		int64_t ns = (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec + slept_ns;
		ts->tv_sec = ns / 1000000000;
		ts->tv_nsec = ns % 1000000000;
	}
	return (int)r;
}

struct answers {
	const char *p, *end;
};

/* The next answer into r (or 127), and whether the host was reachable. */
static kp_rc next_answer(struct answers *a, struct kp_exec_res *r, struct kp_buf *err)
{
	static const char sep[] = "\n%%\n";
	if (a->p >= a->end) {
		r->rc = 127;
		kp_buf_addstr(&r->err, "sh: 1: command not found");
		return KP_OK;
	}
	const char *e = memmem(a->p, (size_t)(a->end - a->p), sep, sizeof(sep) - 1);
	const char *stop = e ? e : a->end;
	char c = *a->p;
	const char *text = a->p + 1;
	a->p = e ? e + sizeof(sep) - 1 : a->end;
	if (c == 'U')
		return kp_errorf(err, KP_ERR_UNREACHABLE, "connection closed by the fuzzer");
	r->timed_out = c == 'T';
	r->rc = c >= '0' && c <= '9' ? c - '0' : c == 'T' ? 137 : 1;
	if (text < stop) {
		kp_buf_add(&r->out, text, (size_t)(stop - text));
		kp_buf_add(&r->err, text, (size_t)(stop - text));
	}
	return KP_OK;
}

static kp_rc fake_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		       struct kp_buf *err)
{
	return next_answer(c->priv, res, err);
}

static kp_rc fake_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		      const struct kp_put_opts *o, struct kp_buf *err)
{
	return KP_OK;
}

static kp_rc fake_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		      struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_rc rc = next_answer(c->priv, &r, err);
	if (!rc && r.rc)
		rc = kp_errorf(err, KP_ERR_IO, "cannot read '%s'", path);
	else if (!rc && max && r.out.len > max)
		rc = kp_errorf(err, KP_ERR_LIMIT, "'%s' is too large", path);
	else if (!rc) {
		kp_buf_reset(out);
		kp_buf_add(out, r.out.buf, r.out.len);
	}
	kp_exec_res_release(&r);
	return rc;
}

static kp_rc fake_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		       struct kp_buf *err)
{
	memset(st, 0, sizeof(*st));
	return KP_OK;
}

static const struct kp_transport_ops fake_ops = {
    .name = "fake", .exec = fake_exec, .put = fake_put, .get = fake_get, .stat = fake_stat};

static kp_rc cp_exec(struct kp_modctx *ctx, const struct kp_exec_req *req, struct kp_exec_res *r,
		     struct kp_buf *err)
{
	return next_answer(ctx->conn->priv, r, err);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	kp_log_level = -1;
	setenv("HOME", "/nonexistent-kplan-fuzz", 1);
	unsetenv("KUBECONFIG");
	return 0;
}

/* The header's args with what would leave the machine or sleep taken out. */
static struct kp_value *tame_args(const struct kp_module *m, const struct kp_value *given)
{
	struct kp_value *a = kp_value_map();
	if (given && given->type == KP_V_MAP)
		kp_map_update(a, given);
	kp_map_del(a, "kubeconfig");
	/* drain's 0 is kubectl's "no limit": the shortest real limit instead
	 * (its polling costs no sleep here, only this second at most) */
	if (kp_module_arg(m, "timeout"))
		kp_map_set_take(a, "timeout", kp_value_str(strcmp(m->name, "drain") ? "0s" : "1s"));
	if (!strcmp(m->name, "kubeadm-upgrade"))
		kp_map_set_take(a, "kubeconfig", kp_value_str("/etc/kubernetes/admin.conf"));
	return a;
}

static void run(const struct kp_module *m, const struct kp_value *hdr, struct answers *ans)
{
	const struct kp_value *host = kp_map_get(hdr, "host"), *check = kp_map_get(hdr, "check");
	const struct kp_value *vars = kp_map_get(hdr, "vars");
	struct kp_value *raw = tame_args(m, kp_map_get(hdr, "args")), *args = NULL;
	struct kp_value *base = kp_value_map(), *layer = kp_value_map();
	struct kp_buf err = KP_BUF_INIT, out = KP_BUF_INIT;
	struct kp_lua *L = NULL;
	struct kp_result res;
	struct kp_conn conn = {.ops = &fake_ops, .host = "w1", .priv = ans};

	if (kp_module_finish_args(m, raw, &args, &err))
		goto out;
	/* the inventory's groups; the header's vars go on top */
	struct kp_value *groups = kp_value_map(), *cps = kp_value_list();
	kp_list_push_take(cps, kp_value_str("cp1"));
	kp_map_set_take(groups, "kube_control_plane", cps);
	kp_map_set_take(base, "groups", groups);
	if (vars && vars->type == KP_V_MAP)
		kp_map_update(layer, vars);
	struct kp_scope scope = {.layers = {base, layer}, .nlayers = 2};
	L = kp_lua_new();
	struct kp_modctx ctx = {
	    .module = m,
	    .task_name = "fuzz",
	    .host = host && host->type == KP_V_STR ? host->u.str.s : "w1",
	    .conn = &conn,
	    .args = args,
	    .scope = &scope,
	    .L = L,
	    .check_mode = check && check->type == KP_V_BOOL && check->u.b,
	    .timeout_ms = 1000,
	    .base_dir = "/nonexistent-kplan-fuzz",
	    .control_plane_exec = cp_exec,
	};
	kp_result_init(&res);
	kp_rc rc = m->probe(&ctx, &res, &err);
	if (!rc && res.changed && !res.failed && !ctx.check_mode && m->apply)
		rc = m->apply(&ctx, &res, &err);
	if (rc && !err.len)
		abort(); /* every failure says why */
	if (ctx.free_state)
		ctx.free_state(ctx.state);
	struct kp_value *v = kp_result_to_value(&res);
	kp_value_to_json(v, true, false, &out);
	kp_value_unref(v);
	kp_result_release(&res);
out:
	kp_lua_free(L);
	kp_value_unref(raw);
	kp_value_unref(args);
	kp_value_unref(base);
	kp_value_unref(layer);
	kp_buf_release(&err);
	kp_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nl = memchr(text, '\n', size);
	size_t hlen = nl ? (size_t)(nl - text) : size;
	struct kp_value *hdr = NULL;
	struct kp_buf err = KP_BUF_INIT;
	struct answers ans = {nl ? nl + 1 : text + size, text + size};

	if (!kp_value_from_json(text, hlen, &hdr, &err) && hdr->type == KP_V_MAP) {
		const struct kp_value *name = kp_map_get(hdr, "module");
		for (size_t i = 0; name && name->type == KP_V_STR && i < KP_ARRAY_LEN(allowed);
		     i++) {
			const struct kp_module *m = kp_module_find(allowed[i]);
			/* a module still being written may have no probe yet */
			if (m && m->probe && !strcmp(name->u.str.s, allowed[i]))
				run(m, hdr, &ans);
		}
	}
	kp_value_unref(hdr);
	kp_buf_release(&err);
	return 0;
}
