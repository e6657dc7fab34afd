/* hook-overhead.c - the cost of one hook invocation, without an engine:
 * kp_hook_call of a trivial hook (a file-like chunk reading ctx.host and
 * ctx.task.name, as a before_task hook would), with a before_task-sized
 * context table, in a loop on one Lua state. Driven by bench/hook-overhead.sh;
 * prints "µs per call" for the empty hook and the context-reading hook.
 *
 * usage: hook-overhead [N]   (default 200000 calls) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr/expr.h"
#include "engine/hooks.h"
#include "core/value.h"

static kp_rc f_run(void *ctx, const char *host, const char *cmd, const struct kp_hook_runopts *o,
		   struct kp_exec_res *res, struct kp_buf *err)
{
	return kp_errorf(err, KP_ERR_INVALID, "no hosts in the benchmark");
}
static void f_log(void *ctx, const char *msg)
{
}
static kp_rc f_set_var(void *ctx, const char *host, const char *name, const struct kp_value *v,
		       struct kp_buf *err)
{
	return KP_OK;
}
static kp_rc f_get_var(void *ctx, struct kp_lua *L, const char *host, const char *name,
		       struct kp_value **out, struct kp_buf *err)
{
	*out = NULL;
	return KP_OK;
}
static kp_rc f_kube(void *ctx, const char *method, const char *path, const char *body, long *status,
		    struct kp_value **json, struct kp_buf *err)
{
	return kp_errorf(err, KP_ERR_INVALID, "no API in the benchmark");
}
static const struct kp_hook_ops ops = {f_run, f_log, f_set_var, f_get_var, f_kube};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A context as the engine builds for before_task (hooks.c: base_ctx, task_value). */
static struct kp_value *task_ctx(void)
{
	static const char text[] =
	    "{\"point\":\"before_task\",\"play\":{\"name\":\"bench\",\"hosts\":\"nodes\","
	    "\"host_list\":[\"h1\",\"h2\",\"h3\"]},\"check_mode\":false,"
	    "\"batch\":{\"index\":1,\"count\":1,\"hosts\":[\"h1\",\"h2\",\"h3\"]},"
	    "\"host\":\"h1\",\"task\":{\"name\":\"t42\",\"module\":\"debug\","
	    "\"args\":{\"msg\":\"hello\"}}}";
	struct kp_value *v = NULL;
	struct kp_buf err = KP_BUF_INIT;
	if (kp_value_from_json(text, strlen(text), &v, &err)) {
		fprintf(stderr, "hook-overhead: %s\n", err.buf);
		exit(1);
	}
	kp_buf_release(&err);
	return v;
}

static double per_call(struct kp_lua *L, const struct kp_value *ctx, const char *code, long n)
{
	double best = 1e9;
	for (int round = 0; round < 5; round++) {
		double t0 = now();
		for (long i = 0; i < n; i++) {
			struct kp_hookcall c = {.code = code,
						.len = strlen(code),
						.chunkname = "@bench/hooks/trivial.lua",
						.ctx = ctx,
						.host = "h1",
						.ops = &ops};
			kp_hook_call(L, &c);
			if (c.outcome != KP_HOOK_OK) {
				fprintf(stderr, "hook-overhead: the hook failed: %s\n", c.msg.buf);
				exit(1);
			}
			kp_hookcall_release(&c);
		}
		double t = (now() - t0) / (double)n * 1e6;
		if (t < best)
			best = t;
	}
	return best;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	if (n <= 0)
		n = 200000;
	struct kp_lua *L = kp_lua_new();
	struct kp_value *ctx = task_ctx();
	double empty = per_call(L, ctx, "-- nothing\n", n);
	double reads = per_call(L, ctx,
				"if ctx.task.name == 'never' then kplan.log(ctx.host) end\n"
				"local n = #ctx.batch.hosts\n",
				n);
	printf("kp_hook_call, empty hook: %.2f us per call (best of 5 x %ld)\n", empty, n);
	printf("kp_hook_call, hook reading ctx.host/task/batch: %.2f us per call\n", reads);
	kp_value_unref(ctx);
	kp_lua_free(L);
	return 0;
}
