/*
 * test_k8s_modules.c - drain, kube-node, apt-pin and kubeadm-upgrade.
 *
 * drain and kube-node talk to tests/data/kube/fake_apiserver.py over HTTPS
 * (certificates made by mkcerts.sh); apt-pin and kubeadm-upgrade run on a
 * fake transport that answers commands with canned output and records
 * them, so the exact commands planned can be asserted.
 */
#include "unit.h"
#include "expr/expr.h"
#include "kube/kubeapi.h"
#include "modules/kube/kubeadm_policy.h"
#include "modules/module.h"
#include "modules/kube/kubeutil.h"
#include "transport/transport.h"
#include "core/value.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define KUBE_DATA KP_TEST_DATA "/kube"

static char dir[64], kubeconfig[128], log_path[128];
static pid_t server;

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void start_server(const char *state_json)
{
	char st[128], portf[128];
	int port = 0;
	snprintf(st, sizeof(st), "%s/state.json", dir);
	snprintf(portf, sizeof(portf), "%s/port", dir);
	FILE *f = fopen(st, "w");
	fputs(state_json, f);
	fclose(f);
	unlink(portf);
	kp_kube_discovery_forget(); /* a new server may get an old one's port */
	unlink(log_path);
	server = fork();
	assert_true(server >= 0);
	if (server == 0) {
		execl("/usr/bin/python3", "python3", KUBE_DATA "/fake_apiserver.py", st, log_path,
		      portf, dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500 && !port; i++) {
		struct kp_buf b = KP_BUF_INIT;
		if (!kp_read_file(portf, 0, &b, NULL))
			port = atoi(b.buf);
		kp_buf_release(&b);
		if (!port)
			usleep(10000);
	}
	assert_true(port > 0);
	sh("cd %s && cat >kubeconfig <<EOF\n"
	   "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
	   "clusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:%d\n"
	   "    certificate-authority-data: $(cat ca.crt.b64)\n"
	   "contexts:\n- name: test\n  context: {cluster: test, user: admin}\n"
	   "users:\n- name: admin\n  user:\n"
	   "    client-certificate-data: $(cat client.crt.b64)\n"
	   "    client-key-data: $(cat client.key.b64)\nEOF",
	   dir, port);
}

static int teardown(void **state)
{
	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
		server = 0;
	}
	unsetenv("KUBECONFIG");
	return 0;
}

static int group_setup(void **state)
{
	strcpy(dir, "/tmp/kp-k8smod-XXXXXX");
	assert_non_null(mkdtemp(dir));
	sh("%s/mkcerts.sh %s", KUBE_DATA, dir);
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
	snprintf(log_path, sizeof(log_path), "%s/requests.log", dir);
	assert_int_equal(kp_kube_global_init(NULL), KP_OK);
	return 0;
}

static int group_teardown(void **state)
{
	sh("rm -rf %s", dir);
	kp_kube_global_release();
	return 0;
}

/* "METHOD PATH" of every request the server saw, one per line. */
static char *requests(void)
{
	struct kp_buf b = KP_BUF_INIT, out = KP_BUF_INIT;
	if (!kp_read_file(log_path, 0, &b, NULL)) {
		for (char *l = b.buf; *l;) {
			size_t n = strcspn(l, "\n");
			char *one = kp_xstrndup(l, n);
			cJSON *j = cJSON_Parse(one);
			kp_buf_addf(&out, "%s %s\n", cJSON_GetObjectItem(j, "method")->valuestring,
				    cJSON_GetObjectItem(j, "path")->valuestring);
			cJSON_Delete(j);
			free(one);
			l += n + (l[n] != 0);
		}
	}
	kp_buf_release(&b);
	return kp_buf_detach(&out, NULL);
}

static bool saw(const char *what)
{
	char *r = requests();
	bool yes = strstr(r, what) != NULL;
	free(r);
	return yes;
}

/* ---- a fake node: canned command output ----------------------------------------- */

struct canned {
	const char *prefix; /* the command starts with this */
	int rc;
	const char *out;
};

struct fake {
	struct kp_conn conn;
	const struct canned *table;
	struct kp_buf cmds;
};

static kp_rc fake_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		       struct kp_buf *err)
{
	struct fake *f = c->priv;
	struct kp_buf line = KP_BUF_INIT;
	if (req->cmd)
		kp_buf_addstr(&line, req->cmd);
	else
		kp_mod_join_words(req->argv, &line);
	kp_buf_addf(&f->cmds, "%s\n", line.buf);
	res->rc = 127;
	for (const struct canned *t = f->table; t && t->prefix; t++) {
		if (!strncmp(line.buf, t->prefix, strlen(t->prefix))) {
			res->rc = t->rc;
			kp_buf_addstr(&res->out, t->out);
			break;
		}
	}
	if (res->rc == 127)
		kp_buf_addf(&res->err, "not canned: %s", line.buf);
	kp_buf_release(&line);
	return KP_OK;
}

static const struct kp_transport_ops fake_ops = {.name = "fake", .exec = fake_exec};

/* ---- running a module ----------------------------------------------------------------- */

struct run {
	struct kp_result res;
	struct fake f;
	bool check;
	const char *host;
	const char *vars;	/* JSON map of host variables, or NULL */
	const char *kubeconfig; /* the run's --kubeconfig, or NULL */
};

static void run(struct run *r, const char *mod, const char *json_args)
{
	const struct kp_module *m = kp_module_find(mod);
	struct kp_value *raw = NULL, *args = NULL, *vars = NULL;
	struct kp_buf err = KP_BUF_INIT;
	struct kp_scope scope = {0};
	struct kp_lua *L = kp_lua_new();

	assert_non_null(m);
	r->f.conn.ops = &fake_ops;
	r->f.conn.priv = &r->f;
	assert_int_equal(kp_value_from_json(json_args, strlen(json_args), &raw, &err), KP_OK);
	if (kp_module_finish_args(m, raw, &args, &err))
		fail_msg("%s", err.buf);
	const char *vj = r->vars ? r->vars : "{}";
	assert_int_equal(kp_value_from_json(vj, strlen(vj), &vars, &err), KP_OK);
	scope.layers[0] = vars;
	scope.nlayers = 1;
	struct kp_modctx ctx = {
	    .module = m,
	    .host = r->host ? r->host : "w1",
	    .conn = &r->f.conn,
	    .args = args,
	    .scope = &scope,
	    .L = L,
	    .check_mode = r->check,
	    .timeout_ms = 10000,
	    .kubeconfig = r->kubeconfig,
	};
	kp_result_init(&r->res);
	kp_rc rc = m->probe(&ctx, &r->res, &err);
	if (!rc && r->res.changed && !r->res.failed && !r->check && m->apply)
		rc = m->apply(&ctx, &r->res, &err);
	if (rc)
		fail_msg("%s: %s", mod, err.buf);
	if (ctx.free_state)
		ctx.free_state(ctx.state);
	kp_value_unref(args);
	kp_value_unref(raw);
	kp_value_unref(vars);
	kp_lua_free(L);
	kp_buf_release(&err);
}

static void done(struct run *r)
{
	kp_result_release(&r->res);
	kp_buf_release(&r->f.cmds);
}

static char *fact_text(const struct run *r, const char *name)
{
	struct kp_buf b = KP_BUF_INIT;
	const struct kp_value *v = r->res.facts ? kp_map_get(r->res.facts, name) : NULL;
	if (v)
		kp_value_to_text(v, false, &b);
	return kp_buf_detach(&b, NULL);
}

static void assert_fact(const struct run *r, const char *name, const char *want)
{
	char *t = fact_text(r, name);
	assert_string_equal(t, want);
	free(t);
}

/* ---- drain ------------------------------------------------------------------------------ */

#define POD(ns, name, uid, extra)                                                                  \
	"{\"metadata\":{\"namespace\":\"" ns "\",\"name\":\"" name "\",\"uid\":\"" uid "\"" extra  \
	"},\"spec\":{\"nodeName\":\"w1\"},\"status\":{\"phase\":\"Running\"}}"
#define OWNER(kind)                                                                                \
	",\"ownerReferences\":[{\"kind\":\"" kind "\",\"name\":\"x\",\"controller\":true}]"

/* The seed's pods on one worker. */
static const char *PODS =
    "\"pods\":[" POD("default", "nginx-1", "u1", OWNER("ReplicaSet") ",\"labels\":{\"app\":\"nginx\"}") "," POD("kube-system", "coredns-1", "u2", OWNER("ReplicaSet") ",\"labels\":{\"k8s-app\":\"kube-dns\"}") "," POD(
	"kube-system", "kube-proxy-a", "u3",
	OWNER(
	    "DaemonSet")) "," POD("kube-system", "kube-apiserver-w1", "u4",
				  ",\"annotations\":{\"kubernetes.io/"
				  "config.mirror\":\"abc\"}") ","
							      "{\"metadata\":{"
							      "\"namespace\":\"kube-"
							      "system\",\"name\":\"metrics-"
							      "server-1\",\"uid\":"
							      "\"u5\"" OWNER(
								  "ReplicaSet") "},"
										"\"spec\":{"
										"\"nodeName"
										"\":\"w1\","
										"\"volumes"
										"\":[{"
										"\"name\":"
										"\"tmp\","
										"\"emptyDir"
										"\":{}}]}}"
										"," POD(
										    "de"
										    "fa"
										    "ul"
										    "t",
										    "no"
										    "-a"
										    "nn"
										    "ot"
										    "at"
										    "io"
										    "n",
										    "u"
										    "6",
										    "") "],"
											"\"pdbs\":["
											"{\"metadat"
											"a\":{"
											"\"namespac"
											"e\":"
											"\"kube-"
											"system\","
											"\"name\":"
											"\"coredns-"
											"pdb\"},"
											"\"spec\":{"
											"\"selector"
											"\":{"
											"\"matchLab"
											"els\":{"
											"\"k8s-"
											"app\":"
											"\"kube-"
											"dns\"}}}}"
											"]";

static void start_drain_server(bool cordoned, const char *extra)
{
	char st[8192];
	snprintf(st, sizeof(st),
		 "{\"nodes\":{\"w1\":{\"metadata\":{\"name\":\"w1\"},\"spec\":{%s},\"status\":{}}},"
		 "\"daemonsets\":[%s],%s%s}",
		 cordoned ? "\"unschedulable\":true" : "",
		 extra && strstr(extra, "\"ds_gone\"") ? "" : "\"kube-system/x\"", PODS,
		 extra ? extra : "");
	start_server(st);
}

static void drain_args(char *out, size_t n, const char *more)
{
	snprintf(out, n, "{\"kubeconfig\":\"%s\",\"timeout\":\"3s\"%s%s}", kubeconfig,
		 more ? "," : "", more ? more : "");
}

/* kubectl's filters, in its order, with its messages */
static void test_drain_refuses(void **state)
{
	struct run r = {0};
	char a[512];
	start_drain_server(false, NULL);
	drain_args(a, sizeof(a), NULL);
	run(&r, "drain", a);
	assert_true(r.res.failed);
	assert_string_equal(
	    r.res.msg.buf, "cannot drain node 'w1': cannot delete Pods with local storage (use "
			   "delete_emptydir_data: true to override): kube-system/metrics-server-1; "
			   "cannot delete Pods that declare no controller (use force: true to "
			   "override): default/no-annotation; node 'w1' left cordoned");
	/* cordoned first, as kubectl does; nothing evicted */
	assert_true(saw("PATCH"));
	assert_false(saw("POST"));
	done(&r);

	drain_args(a, sizeof(a), "\"ignore_daemonsets\":false,\"force\":true");
	run(&r, "drain", a);
	assert_string_equal(r.res.msg.buf,
			    "cannot drain node 'w1': cannot delete DaemonSet-managed Pods (use "
			    "ignore_daemonsets: true to ignore): kube-system/kube-proxy-a; cannot "
			    "delete Pods with local storage (use delete_emptydir_data: true to "
			    "override): kube-system/metrics-server-1; node 'w1' stays cordoned: it "
			    "was cordoned before the task");
	done(&r);
}

/* k8s_drain as Ansible's: cordoned, refused, uncordoned again */
static void test_k8s_drain_refusal_uncordons(void **state)
{
	struct run r = {0};
	char a[512];
	start_drain_server(false, NULL);
	snprintf(a, sizeof(a), "{\"name\":\"w1\",\"kubeconfig\":\"%s\"}", kubeconfig);
	run(&r, "k8s-drain", a);
	assert_true(r.res.failed);
	assert_non_null(strstr(r.res.msg.buf, "cannot drain node 'w1': cannot delete "));
	assert_non_null(
	    strstr(r.res.msg.buf, "; node 'w1' uncordoned again (uncordon_on_refusal)"));
	/* two patches of the node: the cordon and the uncordon */
	char *reqs = requests(), *at = reqs;
	int patches = 0;
	while ((at = strstr(at, "PATCH /api/v1/nodes/w1\n")) != NULL) {
		patches++;
		at++;
	}
	free(reqs);
	assert_int_equal(patches, 2);
	assert_false(saw("POST"));
	done(&r);
}

/* A DaemonSet pod whose DaemonSet is gone: refused (the API's words), and
 * removed with force, as kubectl does. */
static void test_drain_orphaned_daemonset_pod(void **state)
{
	struct run r = {.check = true};
	char a[512];
	start_drain_server(false, ",\"ds_gone\":true");
	drain_args(a, sizeof(a), "\"delete_emptydir_data\":true");
	run(&r, "drain", a);
	assert_true(r.res.failed);
	assert_string_equal(
	    r.res.msg.buf,
	    "cannot drain node 'w1': cannot delete daemonsets.apps \"x\" not found: "
	    "kube-system/kube-proxy-a; cannot delete Pods that declare no controller "
	    "(use force: true to override): default/no-annotation; node 'w1' would be left "
	    "cordoned");
	done(&r);
	drain_args(a, sizeof(a), "\"delete_emptydir_data\":true,\"force\":true");
	run(&r, "drain", a);
	assert_false(r.res.failed);
	assert_fact(&r, "evicted",
		    "[\"default/nginx-1\",\"kube-system/coredns-1\",\"kube-system/kube-proxy-a\","
		    "\"kube-system/metrics-server-1\",\"default/no-annotation\"]");
	assert_fact(&r, "skipped", "[\"kube-system/kube-apiserver-w1\"]");
	done(&r);
}

static void test_drain_check_mode(void **state)
{
	struct run r = {.check = true};
	char a[512];
	start_drain_server(false, NULL);
	drain_args(a, sizeof(a), "\"delete_emptydir_data\":true,\"force\":true");
	run(&r, "drain", a);
	assert_false(r.res.failed);
	assert_true(r.res.changed);
	assert_string_equal(
	    r.res.msg.buf,
	    "would cordon node 'w1' and evict 4 pods: default/nginx-1, "
	    "kube-system/coredns-1, kube-system/metrics-server-1, "
	    "default/no-annotation; skip 2: kube-system/kube-proxy-a, "
	    "kube-system/kube-apiserver-w1; warning: ignoring DaemonSet-managed Pods: "
	    "kube-system/kube-proxy-a; deleting Pods that declare no controller: "
	    "default/no-annotation");
	assert_fact(&r, "skipped",
		    "[\"kube-system/kube-proxy-a\",\"kube-system/kube-apiserver-w1\"]");
	assert_fact(&r, "was_cordoned", "false");
	assert_false(saw("PATCH"));
	assert_false(saw("POST"));
	done(&r);
}

static void test_drain_runs(void **state)
{
	struct run r = {0};
	char a[512];
	/* a 1.21 server (evictions in policy/v1beta1, found by discovery, never
	 * tried in v1); coredns is blocked by its budget once, then evicted 5 s
	 * later, as kubectl tries again */
	start_drain_server(false,
			   ",\"block\":{\"kube-system/coredns-1\":1},\"no_v1_eviction\":true");
	drain_args(a, sizeof(a),
		   "\"delete_emptydir_data\":true,\"force\":true,\"grace_period\":\"10s\","
		   "\"timeout\":\"20s\"");
	int64_t t0 = kp_now_ms();
	run(&r, "drain", a);
	assert_true(kp_now_ms() - t0 >= 5000);
	assert_false(r.res.failed);
	assert_true(r.res.changed);
	assert_string_equal(r.res.msg.buf,
			    "cordoned and drained node 'w1': evicted 4 pods (default/nginx-1, "
			    "kube-system/coredns-1, kube-system/metrics-server-1, "
			    "default/no-annotation)");
	assert_fact(
	    &r, "evicted",
	    "[\"default/nginx-1\",\"kube-system/coredns-1\",\"kube-system/metrics-server-1\","
	    "\"default/no-annotation\"]");
	assert_fact(&r, "deleted", "[]");
	assert_true(saw("PATCH /api/v1/nodes/w1\n"));
	assert_true(saw("GET /api/v1\n"));
	char *log = NULL;
	struct kp_buf b = KP_BUF_INIT;
	assert_int_equal(kp_read_file(log_path, 0, &b, NULL), KP_OK);
	log = b.buf;
	assert_non_null(strstr(log, "\\\"apiVersion\\\":\\\"policy/v1beta1\\\""));
	assert_null(strstr(log, "\\\"apiVersion\\\":\\\"policy/v1\\\""));
	kp_buf_release(&b);
	done(&r);

	/* again: cordoned, nothing left to evict */
	run(&r, "drain", a);
	assert_false(r.res.changed);
	assert_string_equal(r.res.msg.buf,
			    "node 'w1' is cordoned and has no pods to evict; skip 2: "
			    "kube-system/kube-proxy-a, kube-system/kube-apiserver-w1; warning: "
			    "ignoring DaemonSet-managed Pods: kube-system/kube-proxy-a");
	assert_fact(&r, "was_cordoned", "true");
	done(&r);

	run(&r, "drain", "{\"state\":\"uncordoned\",\"api\":\"direct\",\"kubeconfig\":\"x\"}");
	assert_string_equal(r.res.msg.buf, "cannot read kubeconfig 'x': No such file or directory");
	done(&r);
	drain_args(a, sizeof(a), "\"state\":\"uncordoned\"");
	run(&r, "drain", a);
	assert_string_equal(r.res.msg.buf, "uncordoned node 'w1'");
	done(&r);
	run(&r, "drain", a);
	assert_false(r.res.changed);
	assert_string_equal(r.res.msg.buf, "node 'w1' is already uncordoned");
	done(&r);
}

/* A server without the eviction subresource: the pods are deleted, as
 * kubectl does when discovery has no pods/eviction. */
static void test_drain_without_eviction(void **state)
{
	struct run r = {0};
	char a[512];
	start_drain_server(false, ",\"no_eviction\":true");
	drain_args(a, sizeof(a), "\"delete_emptydir_data\":true,\"force\":true");
	run(&r, "drain", a);
	assert_false(r.res.failed);
	assert_fact(&r, "evicted", "[]");
	assert_fact(
	    &r, "deleted",
	    "[\"default/nginx-1\",\"kube-system/coredns-1\",\"kube-system/metrics-server-1\","
	    "\"default/no-annotation\"]");
	assert_false(saw("/eviction"));
	assert_true(saw("DELETE /api/v1/namespaces/kube-system/pods/coredns-1\n"));
	done(&r);
}

/* A budget that never allows the eviction: the drain fails at the timeout,
 * after evicting the rest; the result says exactly which pods went
 * (changed: true), and the node stays cordoned as kubectl leaves it. Found
 * first by fuzzing (tests/data/fuzz-regressions/kube/drain-pdb-v1beta1-leak)
 * with budgets in policy/v1beta1. */
static void test_drain_pdb_v1beta1(void **state)
{
	struct run r = {0};
	char a[512];
	start_drain_server(false, ",\"block\":{\"kube-system/coredns-1\":-1},\"no_v1_pdb\":true");
	/* under valgrind 1 s may pass before the first refusal */
	drain_args(a, sizeof(a),
		   unit_valgrind()
		       ? "\"delete_emptydir_data\":true,\"force\":true,\"timeout\":\"15s\""
		       : "\"delete_emptydir_data\":true,\"force\":true,\"timeout\":\"1s\"");
	run(&r, "drain", a);
	assert_true(r.res.failed);
	assert_true(r.res.changed);
	assert_fact(&r, "evicted",
		    "[\"default/nginx-1\",\"kube-system/metrics-server-1\","
		    "\"default/no-annotation\"]");
	assert_non_null(strstr(r.res.msg.buf,
			       "draining node 'w1': error when evicting pods/\"coredns-1\" -n "
			       "\"kube-system\": global timeout reached: "));
	assert_non_null(strstr(
	    r.res.msg.buf, " (last answer: Cannot evict pod as it would violate the pod's "
			   "disruption budget.); evicted before that: default/nginx-1, "
			   "kube-system/metrics-server-1, default/no-annotation; node 'w1' left "
			   "cordoned"));
	/* the last request is not an uncordon */
	char *req = requests();
	const char *last = "PATCH /api/v1/nodes/w1\n";
	size_t l = strlen(req), ll = strlen(last);
	assert_true(l > ll);
	assert_string_not_equal(req + l - ll, last);
	free(req);
	done(&r);
}

/* The whole timeout: 429s are tried again every 5 s until it has passed
 * (not given up when the next wait would pass it); uncordon_on_failure. */
static void test_drain_pdb_timeout(void **state)
{
	struct run r = {0};
	char a[512];
	start_drain_server(false, ",\"block\":{\"kube-system/coredns-1\":-1}");
	drain_args(a, sizeof(a),
		   "\"delete_emptydir_data\":true,\"force\":true,\"timeout\":\"7s\","
		   "\"uncordon_on_failure\":true");
	int64_t t0 = kp_now_ms();
	run(&r, "drain", a);
	int64_t took = kp_now_ms() - t0;
	assert_true(took >= 7000);
	assert_true(r.res.failed);
	assert_string_equal(
	    r.res.msg.buf,
	    "draining node 'w1': error when evicting pods/\"coredns-1\" -n "
	    "\"kube-system\": global timeout reached: 7s (last answer: Cannot evict "
	    "pod as it would violate the pod's disruption budget.); evicted before "
	    "that: default/nginx-1, kube-system/metrics-server-1, "
	    "default/no-annotation; node 'w1' uncordoned again (uncordon_on_failure)");
	char *req = requests();
	/* two tries 5 s apart, then the uncordon is the last request */
	const char *ev = "POST /api/v1/namespaces/kube-system/pods/coredns-1/eviction\n";
	size_t n = 0;
	for (const char *p = req; (p = strstr(p, ev)); p++)
		n++;
	assert_int_equal(n, 2);
	const char *last = "PATCH /api/v1/nodes/w1\n";
	size_t l = strlen(req), ll = strlen(last);
	assert_true(l > ll && req[l - ll - 1] == '\n');
	assert_string_equal(req + l - ll, last);
	free(req);
	done(&r);
}

static void test_drain_delete(void **state)
{
	struct run r = {0};
	char a[512];
	start_drain_server(false, ",\"block\":{\"kube-system/coredns-1\":-1}");
	drain_args(a, sizeof(a),
		   "\"delete_emptydir_data\":true,\"force\":true,\"disable_eviction\":true,"
		   "\"pod_selector\":\"k8s-app=kube-dns\"");
	run(&r, "drain", a);
	assert_false(r.res.failed);
	assert_string_equal(
	    r.res.msg.buf, "cordoned and drained node 'w1': deleted 1 pod (kube-system/coredns-1)");
	assert_fact(&r, "deleted", "[\"kube-system/coredns-1\"]");
	assert_true(saw("DELETE /api/v1/namespaces/kube-system/pods/coredns-1\n"));
	assert_true(saw("labelSelector=k8s-app%3Dkube-dns"));
	done(&r);
}

static void test_kubectl_unavailable(void **state)
{
	struct run r = {0};
	run(&r, "drain", "{\"api\":\"kubectl\"}");
	assert_true(r.res.failed);
	assert_string_equal(r.res.msg.buf, "api: kubectl needs the connection to the first host of "
					   "kube_control_plane, which this run does not provide");
	done(&r);
}

/* One precedence for every Kubernetes module: the module's argument, the
 * run's --kubeconfig, $KUBECONFIG, ~/.kube/config. */
static void test_kubeconfig_precedence(void **state)
{
	char d[64], arg[128], cli[128], env[128], home[128], homecfg[160], want[160];
	struct kp_buf p = KP_BUF_INIT, e = KP_BUF_INIT;
	strcpy(d, "/tmp/kp-kcfind-XXXXXX");
	assert_non_null(mkdtemp(d));
	snprintf(arg, sizeof(arg), "%s/arg", d);
	snprintf(cli, sizeof(cli), "%s/cli", d);
	snprintf(env, sizeof(env), "%s/env", d);
	snprintf(home, sizeof(home), "%s/home", d);
	snprintf(homecfg, sizeof(homecfg), "%s/.kube/config", home);
	sh("cd %s && touch arg cli env && mkdir -p home/.kube && touch home/.kube/config", d);
	struct kp_modctx ctx = {.base_dir = d, .kubeconfig = cli};

	/* the argument first, relative to the plan's directory */
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, "arg", env, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, arg);
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, arg, env, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, arg);
	/* then --kubeconfig (as given: relative to the working directory) */
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, NULL, env, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, cli);
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, "", env, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, cli);
	/* then the first existing file of $KUBECONFIG */
	ctx.kubeconfig = NULL;
	snprintf(want, sizeof(want), "%s/none:%s", d, env);
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, NULL, want, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, env);
	ctx.kubeconfig = "";
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, NULL, env, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, env);
	/* then ~/.kube/config */
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, NULL, NULL, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, homecfg);
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, NULL, "/nonexistent/kc", home, &p, &e),
			 KP_OK);
	assert_string_equal(p.buf, homecfg);
	/* nothing: NOTFOUND, for the caller's control-plane fallback */
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, NULL, NULL, d, &p, &e), KP_ERR_NOTFOUND);
	/* a named file that is not there is an error naming it, never a fallback */
	ctx.kubeconfig = "/nonexistent/cli.kubeconfig";
	kp_buf_reset(&e);
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, NULL, env, home, &p, &e), KP_ERR_IO);
	assert_string_equal(e.buf, "cannot read kubeconfig '/nonexistent/cli.kubeconfig': No such "
				   "file or directory");
	/* ...unless the module's argument names one that is */
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, "arg", env, home, &p, &e), KP_OK);
	assert_string_equal(p.buf, arg);
	kp_buf_reset(&e);
	assert_int_equal(kp_mod_kubeconfig_find(&ctx, "missing", env, home, &p, &e), KP_ERR_IO);
	snprintf(want, sizeof(want),
		 "cannot read kubeconfig '%s/missing': No such file or directory", d);
	assert_string_equal(e.buf, want);

	sh("rm -rf %s", d);
	kp_buf_release(&p);
	kp_buf_release(&e);
}

/* drain and kube-node find the server through the run's --kubeconfig */
static void test_kube_modules_run_kubeconfig(void **state)
{
	struct run r = {.check = true, .kubeconfig = kubeconfig};
	start_drain_server(false, NULL);
	unsetenv("KUBECONFIG");
	run(&r, "drain", "{\"state\":\"cordoned\"}");
	assert_false(r.res.failed);
	assert_string_equal(r.res.msg.buf, "would cordon node 'w1'");
	assert_true(saw("GET /api/v1/nodes/w1\n"));
	done(&r);
	r.check = false;
	run(&r, "kube-node", "{\"state\":\"absent\"}");
	assert_false(r.res.failed);
	assert_true(saw("DELETE /api/v1/nodes/w1\n"));
	done(&r);
	/* a --kubeconfig that is not there: the task fails naming it */
	r.kubeconfig = "/nonexistent/kubeconfig";
	run(&r, "drain", "{\"state\":\"cordoned\"}");
	assert_true(r.res.failed);
	assert_string_equal(
	    r.res.msg.buf,
	    "cannot read kubeconfig '/nonexistent/kubeconfig': No such file or directory");
	done(&r);
}

/* ---- kube-node -------------------------------------------------------------------------- */

static void test_kube_node(void **state)
{
	struct run r = {0};
	char a[512];
	start_server("{\"nodes\":{\"w1\":{\"metadata\":{\"name\":\"w1\"},\"spec\":{},"
		     "\"status\":{\"nodeInfo\":{\"kubeletVersion\":\"v1.13.3\"},"
		     "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":"
		     "\"KubeletNotReady\",\"message\":\"PLEG is not healthy\"}]}}},"
		     "\"ready_after\":{\"w1\":2}}");
	r.check = true;
	snprintf(a, sizeof(a), "{\"kubeconfig\":\"%s\"}", kubeconfig);
	run(&r, "kube-node", a);
	assert_string_equal(r.res.msg.buf, "node 'w1' is Ready=False (KubeletNotReady: PLEG is not "
					   "healthy): would wait for it");
	assert_false(r.res.changed); /* waiting is not a change: the run reports ok */
	done(&r);
	r.check = false;
	snprintf(a, sizeof(a), "{\"kubeconfig\":\"%s\",\"version\":\"1.13.3\"}", kubeconfig);
	run(&r, "kube-node", a);
	assert_false(r.res.failed);
	assert_false(r.res.changed);
	assert_string_equal(r.res.msg.buf, "node 'w1' is Ready (kubelet v1.13.3)");
	done(&r);

	snprintf(a, sizeof(a), "{\"kubeconfig\":\"%s\",\"version\":\"v1.14.0\",\"timeout\":1}",
		 kubeconfig);
	run(&r, "kube-node", a);
	assert_true(r.res.failed);
	assert_string_equal(r.res.msg.buf,
			    "node 'w1' is not ready after 1s: Ready, but its kubelet "
			    "reports v1.13.3, not v1.14.0");
	done(&r);

	r.vars = "{\"node_name\":\"w1\"}";
	r.host = "worker-one";
	snprintf(a, sizeof(a), "{\"kubeconfig\":\"%s\",\"state\":\"absent\"}", kubeconfig);
	run(&r, "kube-node", a);
	assert_true(r.res.changed);
	assert_string_equal(r.res.msg.buf, "deleted node 'w1'");
	done(&r);
	run(&r, "kube-node", a);
	assert_false(r.res.changed);
	assert_string_equal(r.res.msg.buf, "node 'w1' is already absent");
	done(&r);
}

/* ---- apt-pin ------------------------------------------------------------------------------ */

static const char *MADISON =
    "   kubeadm |  1.13.3-00 | http://lab/ kubernetes-xenial/main amd64 Packages\n"
    "   kubeadm |  1.13.2-00 | http://lab/ kubernetes-xenial/main amd64 Packages\n"
    "   kubeadm |  1.13.0-00 | http://lab/ kubernetes-xenial/main amd64 Packages\n"
    "   kubeadm |  1.12.5-00 | http://lab/ kubernetes-xenial/main amd64 Packages\n";

static void test_apt_pin_upgrade(void **state)
{
	const struct canned t[] = {
	    {"stat -c %Y", 0, "1700000000\n1700000100\n"},
	    {"apt-mark showhold", 0, "kubeadm\nkubelet\n"},
	    {"dpkg-query -W -f '${Status}\\t${Version}' kubeadm", 0,
	     "install ok installed\t1.13.0-00"},
	    {"apt-cache madison kubeadm", 0, MADISON},
	    {"apt-mark", 0, ""},
	    {"DEBIAN_FRONTEND", 0, "Setting up kubeadm (1.13.3-00) ...\n"},
	    {NULL, 0, NULL},
	};
	struct run r = {.check = true, .f.table = t};
	run(&r, "apt-pin", "{\"name\":\"kubeadm\",\"version\":\"v1.13.3\"}");
	assert_true(r.res.changed);
	assert_string_equal(r.res.msg.buf, "kubeadm 1.13.0-00 (held) -> 1.13.3-00 (held)");
	assert_fact(&r, "before", "1.13.0-00");
	assert_fact(&r, "after", "1.13.3-00");
	assert_fact(&r, "held", "true");
	done(&r);

	r.check = false;
	run(&r, "apt-pin",
	    "{\"name\":\"kubeadm\",\"version\":\"1.13.3\",\"lock_timeout\":\"30s\"}");
	assert_false(r.res.failed);
	assert_string_equal(r.res.msg.buf, "kubeadm 1.13.0-00 (held) -> 1.13.3-00 (held)");
	assert_string_equal(
	    r.f.cmds.buf,
	    "stat -c %Y /var/lib/apt/lists/*_Packages* /var/cache/apt/pkgcache.bin 2>/dev/null | "
	    "sort -n | tail -n 1; date +%s\n"
	    "apt-mark showhold\n"
	    "dpkg-query -W -f '${Status}\\t${Version}' kubeadm\n"
	    "apt-cache madison kubeadm\n"
	    "apt-mark unhold kubeadm\n"
	    "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages -o "
	    "Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=30 kubeadm=1.13.3-00\n"
	    "apt-mark hold kubeadm\n");
	assert_string_equal(r.res.out.buf, "Setting up kubeadm (1.13.3-00) ...\n");
	done(&r);

	/* a downgrade needs allow_downgrade */
	run(&r, "apt-pin", "{\"name\":\"kubeadm\",\"version\":\"1.12.5\"}");
	assert_true(r.res.failed);
	assert_string_equal(r.res.msg.buf, "kubeadm: installing 1.12.5-00 would downgrade it from "
					   "1.13.0-00 (set allow_downgrade: true to allow that)");
	done(&r);
	run(&r, "apt-pin",
	    "{\"name\":\"kubeadm\",\"version\":\"1.12.5\",\"allow_downgrade\":true,"
	    "\"update_cache\":false}");
	assert_false(r.res.failed);
	assert_non_null(strstr(r.f.cmds.buf, " --allow-downgrades kubeadm=1.12.5-00\n"));
	assert_null(strstr(r.f.cmds.buf, "stat -c"));
	done(&r);
}

/* Found by fuzzing (tests/data/fuzz-regressions/kube/apt-pin-stat-overflow):
 * timestamps the node prints are not trusted to keep the age arithmetic in
 * range. */
static void test_apt_pin_stat_garbage(void **state)
{
	struct canned t[] = {
	    {"stat -c %Y", 0, "-9223372035154775707\n1\n"},
	    {"apt-mark showhold", 0, ""},
	    {"dpkg-query", 1, ""},
	    {"apt-cache madison k", 0, " k | 1-00 | http://lab/ x\n"},
	    {NULL, 0, NULL},
	};
	struct run r = {.check = true, .f.table = t};
	run(&r, "apt-pin", "{\"name\":\"k\",\"version\":\"1\"}");
	assert_false(r.res.failed);
	assert_string_equal(r.res.msg.buf,
			    "k (not installed) -> 1-00 (held) (no apt package lists yet: "
			    "the run runs apt-get update first)");
	done(&r);

	t[0].out = "1\n9223372036854775807\n";
	run(&r, "apt-pin", "{\"name\":\"k\",\"version\":\"1\"}");
	assert_false(r.res.failed);
	assert_non_null(strstr(r.res.msg.buf, "(apt package lists are 9223372036854775806s old"));
	done(&r);
}

static void test_apt_pin_resolution(void **state)
{
	const struct canned t[] = {
	    {"stat -c %Y", 0, "1700000000\n1700090000\n"},
	    {"apt-get -o DPkg::Lock::Timeout=120 update", 0, ""},
	    {"apt-mark showhold", 0, "kubelet\n"},
	    {"dpkg-query", 1, ""},
	    {"apt-cache madison kubeadm", 0, MADISON},
	    {"apt-cache madison kubelet", 0,
	     "   kubelet |  1.13.3-01 | http://lab/ x/main amd64 Packages\n"
	     "   kubelet |  1.13.3-00 | http://lab/ x/main amd64 Packages\n"},
	    {"apt-cache madison kubectl", 0, ""},
	    {"apt-mark", 0, ""},
	    {"DEBIAN_FRONTEND", 0, ""},
	    {NULL, 0, NULL},
	};
	struct run r = {.check = true, .f.table = t};
	run(&r, "apt-pin", "{\"name\":\"kubeadm\",\"version\":\"1.13.9\"}");
	assert_string_equal(r.res.msg.buf,
			    "kubeadm: no version matching '1.13.9' in the repository (it offers "
			    "1.13.3-00, 1.13.2-00, 1.13.0-00, 1.12.5-00)");
	/* a stale cache is not refreshed in check mode */
	assert_null(strstr(r.f.cmds.buf, "update"));
	done(&r);
	run(&r, "apt-pin", "{\"name\":[\"kubeadm\",\"kubelet\"],\"version\":\"1.13.3\"}");
	assert_string_equal(r.res.msg.buf, "kubelet: '1.13.3' matches several versions (1.13.3-01, "
					   "1.13.3-00): give the full version");
	done(&r);
	run(&r, "apt-pin", "{\"name\":\"kubectl\",\"version\":\"1.13.3\"}");
	assert_string_equal(r.res.msg.buf, "kubectl: the repository offers no version of it (is "
					   "its apt source configured?)");
	done(&r);
	/* not installed; the full version; one apt call for both */
	run(&r, "apt-pin", "{\"name\":[\"kubeadm\",\"kubelet\"],\"version\":\"1.13.3-00\"}");
	assert_string_equal(r.res.msg.buf,
			    "kubeadm (not installed) -> 1.13.3-00 (held), kubelet (not installed) "
			    "-> 1.13.3-00 (held) (apt package lists are 90000s old: the run runs "
			    "apt-get update first)");
	assert_fact(&r, "packages",
		    "{\"kubeadm\":{\"before\":null,\"after\":\"1.13.3-00\",\"held\":true},"
		    "\"kubelet\":{\"before\":null,\"after\":\"1.13.3-00\",\"held\":true}}");
	done(&r);
	r.check = false;
	run(&r, "apt-pin", "{\"name\":[\"kubeadm\",\"kubelet\"],\"version\":\"1.13.3-00\"}");
	assert_non_null(strstr(r.f.cmds.buf, "apt-get -o DPkg::Lock::Timeout=120 update\n"));
	assert_non_null(strstr(r.f.cmds.buf, "apt-mark unhold kubelet\n"));
	assert_non_null(strstr(r.f.cmds.buf, " kubeadm=1.13.3-00 kubelet=1.13.3-00\n"));
	assert_non_null(strstr(r.f.cmds.buf, "apt-mark hold kubeadm kubelet\n"));
	done(&r);
}

static void test_apt_pin_ok(void **state)
{
	const struct canned t[] = {
	    {"apt-mark showhold", 0, "kubeadm\n"},
	    {"dpkg-query", 0, "install ok installed\t1.13.3-00"},
	    {"apt-cache madison kubeadm", 0, MADISON},
	    {NULL, 0, NULL},
	};
	struct run r = {.f.table = t};
	run(&r, "apt-pin", "{\"name\":\"kubeadm\",\"version\":\"1.13.3\",\"update_cache\":false}");
	assert_false(r.res.changed);
	assert_false(r.res.failed);
	assert_string_equal(r.res.msg.buf, "kubeadm 1.13.3-00 (held): nothing to do");
	assert_null(strstr(r.f.cmds.buf, "apt-get"));
	done(&r);
}

/* ---- kubeadm-upgrade ---------------------------------------------------------------------- */

static const char *PLAN = "[upgrade/versions] Cluster version: v1.13.0\n"
			  "[upgrade/versions] kubeadm version: v1.13.3\n"
			  "\n"
			  "COMPONENT   CURRENT       AVAILABLE\n"
			  "Kubelet     3 x v1.13.0   v1.13.3\n"
			  "\n"
			  "COMPONENT            CURRENT   AVAILABLE\n"
			  "API Server           v1.13.0   v1.13.3\n"
			  "Etcd                 3.2.24    3.2.24\n"
			  "\n"
			  "You can now apply the upgrade by executing the following command:\n";

#define GROUPS "{\"groups\":{\"kube_control_plane\":[\"m1\",\"m2\"]}}"
/* every Node's kubelet, as `upgrade apply` reads them (kubectl on the node:
 * the unit tests have no control-plane connection) */
#define NODES_CMD "kubectl --kubeconfig /etc/kubernetes/kubelet.conf get --raw /api/v1/nodes"
#define NODE(n, v)                                                                                 \
	"{\"metadata\":{\"name\":\"" n "\"},\"status\":{\"nodeInfo\":{\"kubeletVersion\":\"" v     \
	"\"}}}"
#define NODES(...) "{\"kind\":\"NodeList\",\"items\":[" __VA_ARGS__ "]}"

static void test_kubeadm_control_plane(void **state)
{
	const struct canned t[] = {
	    {"kubeadm version -o short", 0, "v1.13.3\n"},
	    {"kubeadm upgrade plan", 0, PLAN},
	    {"kubeadm upgrade apply", 0, "[upgrade/successful] SUCCESS!\n"},
	    {NODES_CMD, 0, NODES(NODE("m1", "v1.13.0") "," NODE("w1", "v1.13.0"))},
	    {NULL, 0, NULL},
	};
	struct run r = {.check = true, .f.table = t, .host = "m1", .vars = GROUPS};
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_true(r.res.changed);
	assert_string_equal(r.res.msg.buf,
			    "would run: kubeadm upgrade apply v1.13.3 --yes (cluster "
			    "v1.13.0 -> v1.13.3)");
	assert_string_equal(r.res.out.buf, PLAN);
	assert_fact(&r, "components",
		    "[{\"name\":\"Kubelet\",\"current\":\"3 x v1.13.0\",\"available\":\"v1.13.3\"},"
		    "{\"name\":\"API Server\",\"current\":\"v1.13.0\",\"available\":\"v1.13.3\"},"
		    "{\"name\":\"Etcd\",\"current\":\"3.2.24\",\"available\":\"3.2.24\"}]");
	assert_fact(&r, "kubelet_versions", "[\"v1.13.0\",\"v1.13.0\"]");
	assert_null(strstr(r.f.cmds.buf, "upgrade apply"));
	done(&r);

	r.check = false;
	run(&r, "kubeadm-upgrade",
	    "{\"version\":\"v1.13.3\",\"etcd_upgrade\":false,\"ignore_preflight_errors\":"
	    "[\"CoreDNSUnsupportedPlugins\",\"Swap\"]}");
	assert_string_equal(r.res.msg.buf, "upgraded the cluster v1.13.0 -> v1.13.3");
	assert_non_null(strstr(r.f.cmds.buf,
			       "kubeadm upgrade apply v1.13.3 --yes --etcd-upgrade=false "
			       "--ignore-preflight-errors=CoreDNSUnsupportedPlugins,Swap\n"));
	assert_fact(&r, "cluster_version_before", "v1.13.0");
	assert_fact(&r, "cluster_version_after", "v1.13.3");
	done(&r);

	run(&r, "kubeadm-upgrade", "{\"version\":\"v1.15.0\"}");
	assert_string_equal(r.res.msg.buf,
			    "kubeadm v1.13.3 on 'm1' would refuse v1.15.0: Specified version to "
			    "upgrade to \"v1.15.0\" is too high; kubeadm can upgrade only 1 minor "
			    "version at a time; Specified version to upgrade to \"v1.15.0\" is at "
			    "least one minor release higher than the kubeadm minor release (15 > "
			    "13). Such an upgrade is not supported (kubeadm refuses this even with "
			    "--force)");
	done(&r);
	run(&r, "kubeadm-upgrade", "{\"version\":\"v1.12.5\"}");
	assert_string_equal(r.res.msg.buf, "the cluster is at v1.13.0: v1.12.5 would be a "
					   "downgrade, which kubeadm cannot do");
	done(&r);
	/* a patch above kubeadm's: only with force, which passes --force */
	run(&r, "kubeadm-upgrade", "{\"version\":\"v1.13.4\"}");
	assert_true(r.res.failed);
	assert_string_equal(
	    r.res.msg.buf, "kubeadm v1.13.3 on 'm1' would refuse v1.13.4: Specified version to "
			   "upgrade to \"v1.13.4\" is higher than the kubeadm version \"v1.13.3\". "
			   "Upgrade kubeadm first using the tool you used to install kubeadm "
			   "(kubeadm's --force passes this: set force: true)");
	done(&r);
	run(&r, "kubeadm-upgrade", "{\"version\":\"v1.13.4\",\"force\":true}");
	assert_false(r.res.failed);
	assert_non_null(strstr(r.f.cmds.buf, "kubeadm upgrade apply v1.13.4 --yes --force\n"));
	done(&r);
}

/* kubeadm newer than the target passed the old check and failed the run;
 * a kubelet elsewhere too old; a skipped minor */
static void test_kubeadm_policy_refusals(void **state)
{
	const struct canned t[] = {
	    {"kubeadm version -o short", 0, "v1.14.0\n"},
	    {"kubeadm upgrade plan", 0, PLAN},
	    {NODES_CMD, 0,
	     NODES(NODE("m1", "v1.13.0") "," NODE("w1", "v1.12.5") "," NODE("w2", "v1.12.5"))},
	    {NULL, 0, NULL},
	};
	struct run r = {.check = true, .f.table = t, .host = "m1", .vars = GROUPS};
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_true(r.res.failed);
	assert_string_equal(r.res.msg.buf,
			    "kubeadm v1.14.0 on 'm1' would refuse v1.13.3: Kubeadm version v1.14.0 "
			    "can only be used to upgrade to Kubernetes version 1.14 (kubeadm's "
			    "--force passes this: set force: true)");
	done(&r);
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.14.0\"}");
	assert_string_equal(r.res.msg.buf,
			    "kubeadm v1.14.0 on 'm1' would refuse v1.14.0: There are kubelets in "
			    "this cluster that are too old that have these versions [v1.12.5] "
			    "(kubeadm's --force passes this: set force: true)");
	done(&r);
	r.check = false;
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.14.0\"}");
	assert_true(r.res.failed);
	assert_null(strstr(r.f.cmds.buf, "upgrade apply"));
	done(&r);
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.15.1\",\"force\":true}");
	assert_true(r.res.failed);
	assert_non_null(strstr(r.res.msg.buf, "is too high; kubeadm can upgrade only 1 minor "
					      "version at a time"));
	assert_non_null(strstr(r.res.msg.buf, "(kubeadm refuses this even with --force)"));
	done(&r);
}

/* the other control planes: the era's commands */
static void test_kubeadm_other_control_plane(void **state)
{
	const struct canned t[] = {
	    {"kubeadm version -o short", 0, "v1.13.3\n"},
	    {"kubelet --version", 0, "Kubernetes v1.13.0\n"},
	    {"cd /etc/kubernetes/manifests", 0,
	     "k8s.gcr.io/kube-apiserver:v1.13.0\nk8s.gcr.io/kube-controller-manager:v1.13.0\n"
	     "k8s.gcr.io/kube-scheduler:v1.13.0\n"},
	    {"kubeadm upgrade node", 0, ""},
	    {NULL, 0, NULL},
	};
	struct run r = {.check = true, .f.table = t, .host = "m2", .vars = GROUPS};
	start_server("{\"version\":\"v1.13.3\"}");
	setenv("KUBECONFIG", kubeconfig, 1);
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_false(r.res.failed);
	assert_string_equal(r.res.msg.buf,
			    "would run: kubeadm upgrade node experimental-control-plane; kubeadm "
			    "upgrade node config --kubelet-version v1.13.3 (static pods v1.13.0 -> "
			    "v1.13.3, kubelet v1.13.0 -> v1.13.3)");
	assert_fact(&r, "action", "control-plane");
	done(&r);
	r.check = false;
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\",\"etcd_upgrade\":false}");
	assert_string_equal(r.res.msg.buf, "upgraded the control plane on 'm2' to v1.13.3");
	assert_non_null(strstr(
	    r.f.cmds.buf, "kubeadm upgrade node experimental-control-plane --etcd-upgrade=false\n"
			  "kubeadm upgrade node config --kubelet-version v1.13.3\n"));
	done(&r);
	unsetenv("KUBECONFIG");
}

/* the eras, and kubeadm's policy by itself */
static void test_kubeadm_eras(void **state)
{
	(void)state;
	assert_null(kp_kubeadm_era(10));
	assert_string_equal(kp_kubeadm_era(11)->others[0], "kubeadm upgrade apply %s --yes");
	assert_string_equal(kp_kubeadm_era(12)->others[0],
			    "kubeadm upgrade node experimental-control-plane");
	assert_string_equal(kp_kubeadm_era(14)->worker,
			    "kubeadm upgrade node config --kubelet-version %s");
	assert_string_equal(kp_kubeadm_era(15)->others[0], "kubeadm upgrade node");
	assert_null(kp_kubeadm_era(15)->others[1]);
	assert_string_equal(kp_kubeadm_era(31)->worker, "kubeadm upgrade node");

	struct kp_kver t, c, k;
	struct kp_buf m = KP_BUF_INIT, sk = KP_BUF_INIT;
	assert_true(kp_kver_parse("1.13.3-00", &t));
	assert_false(t.pre);
	assert_string_equal(t.text, "v1.13.3");
	assert_true(kp_kver_parse("v1.15.0-beta.1", &t));
	assert_true(t.pre);
	assert_string_equal(t.text, "v1.15.0-beta.1");
	/* a pre-release's skipped minor: --force passes it */
	assert_true(kp_kver_parse("v1.13.0", &c));
	assert_true(kp_kver_parse("v1.15.0", &k));
	kp_kubeadm_policy(&t, &c, &k, NULL, 0, &m, &sk);
	assert_string_equal(m.buf, "");
	assert_non_null(strstr(sk.buf, "is too high; kubeadm can upgrade only 1 minor version"));
	assert_non_null(strstr(sk.buf, "is an unstable version"));
	kp_buf_release(&m);
	kp_buf_release(&sk);
	/* a downgrade of two minors */
	assert_true(kp_kver_parse("v1.11.5", &t));
	assert_true(kp_kver_parse("v1.11.5", &k));
	kp_kubeadm_policy(&t, &c, &k, NULL, 0, &m, &sk);
	assert_string_equal(m.buf, "Specified version to downgrade to \"v1.11.5\" is too low; "
				   "kubeadm can downgrade only 1 minor version at a time\n");
	kp_buf_release(&m);
	kp_buf_release(&sk);
	/* old kubelets: unique and sorted */
	const char *kl[] = {"v1.12.5", "v1.11.0", "v1.13.0", "v1.12.5"};
	struct kp_buf old = KP_BUF_INIT;
	assert_true(kp_kver_parse("v1.14.0", &t));
	assert_true(kp_kubeadm_old_kubelets(&t, kl, 4, &old));
	assert_string_equal(old.buf, "[v1.11.0 v1.12.5]");
	kp_buf_release(&old);
}

static void test_kubeadm_node(void **state)
{
	const struct canned t[] = {
	    {"kubeadm version -o short", 0, "v1.13.3\n"},
	    {"kubelet --version", 0, "Kubernetes v1.13.0\n"},
	    {"kubeadm upgrade node", 0, ""},
	    {NULL, 0, NULL},
	};
	struct run r = {.check = true, .f.table = t, .host = "w1", .vars = GROUPS};
	start_server("{\"version\":\"v1.13.0\"}");
	setenv("KUBECONFIG", kubeconfig, 1);
	/* a check cannot know that the control plane's play runs first */
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_false(r.res.failed);
	assert_string_equal(r.res.msg.buf,
			    "would run: kubeadm upgrade node config --kubelet-version v1.13.3 "
			    "<unknown: depends on the control plane reaching v1.13.3 first; it is "
			    "at v1.13.0 now>");
	done(&r);
	/* a run refuses */
	r.check = false;
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_true(r.res.failed);
	assert_string_equal(r.res.msg.buf, "the control plane is at v1.13.0: upgrade it to v1.13.3 "
					   "first (kubeadm-upgrade on the first kube_control_plane "
					   "host)");
	done(&r);
	r.check = true;
	teardown(NULL);
	/* the same through the run's --kubeconfig, without $KUBECONFIG */
	start_server("{\"version\":\"v1.13.3\"}");
	r.kubeconfig = kubeconfig;
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_false(r.res.failed);
	assert_string_equal(r.res.msg.buf,
			    "would run: kubeadm upgrade node config --kubelet-version "
			    "v1.13.3 (kubelet v1.13.0 -> v1.13.3)");
	assert_true(saw("GET /version\n"));
	done(&r);
	r.kubeconfig = "/nonexistent/kubeconfig";
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_true(r.res.failed);
	assert_string_equal(r.res.msg.buf, "cannot find the cluster's version: cannot read "
					   "kubeconfig '/nonexistent/kubeconfig': No such file or "
					   "directory");
	done(&r);
	r.kubeconfig = NULL;
	setenv("KUBECONFIG", kubeconfig, 1);
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_string_equal(r.res.msg.buf,
			    "would run: kubeadm upgrade node config --kubelet-version "
			    "v1.13.3 (kubelet v1.13.0 -> v1.13.3)");
	done(&r);
	r.check = false;
	run(&r, "kubeadm-upgrade", "{\"version\":\"1.13.3\"}");
	assert_string_equal(r.res.msg.buf, "upgraded node 'w1' to v1.13.3");
	assert_non_null(
	    strstr(r.f.cmds.buf, "kubeadm upgrade node config --kubelet-version v1.13.3\n"));
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_drain_refuses, teardown),
	    cmocka_unit_test_teardown(test_k8s_drain_refusal_uncordons, teardown),
	    cmocka_unit_test_teardown(test_drain_check_mode, teardown),
	    cmocka_unit_test_teardown(test_drain_runs, teardown),
	    cmocka_unit_test_teardown(test_drain_pdb_timeout, teardown),
	    cmocka_unit_test_teardown(test_drain_pdb_v1beta1, teardown),
	    cmocka_unit_test_teardown(test_drain_orphaned_daemonset_pod, teardown),
	    cmocka_unit_test_teardown(test_drain_without_eviction, teardown),
	    cmocka_unit_test_teardown(test_drain_delete, teardown),
	    cmocka_unit_test(test_kubectl_unavailable),
	    cmocka_unit_test(test_kubeconfig_precedence),
	    cmocka_unit_test_teardown(test_kube_modules_run_kubeconfig, teardown),
	    cmocka_unit_test_teardown(test_kube_node, teardown),
	    cmocka_unit_test(test_apt_pin_upgrade),
	    cmocka_unit_test(test_apt_pin_resolution),
	    cmocka_unit_test(test_apt_pin_stat_garbage),
	    cmocka_unit_test(test_apt_pin_ok),
	    cmocka_unit_test(test_kubeadm_control_plane),
	    cmocka_unit_test(test_kubeadm_policy_refusals),
	    cmocka_unit_test_teardown(test_kubeadm_other_control_plane, teardown),
	    cmocka_unit_test(test_kubeadm_eras),
	    cmocka_unit_test_teardown(test_kubeadm_node, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
