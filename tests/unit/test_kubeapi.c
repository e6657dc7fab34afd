/*
 * test_kubeapi.c - the Kubernetes API client: kubeconfig parsing (data and
 * file forms, tokens, errors naming the file) and requests against
 * tests/data/kube/fake_apiserver.py, a small HTTPS server that checks our
 * client certificate and logs every request for the test to read back.
 * The kubectl backend is tested with a fake command runner.
 */
#include "unit.h"
#include "kube/kubeapi.h"
#include "transport/transport.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KUBE_DATA KP_TEST_DATA "/kube"

struct fx {
	char dir[64];
	char kubeconfig[128], files_kubeconfig[128], log[128];
	pid_t server;
	int port;
};
static struct fx F; /* one set of certificates for the whole binary */

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

static int group_setup(void **state)
{
	struct kp_buf e = KP_BUF_INIT;
	strcpy(F.dir, "/tmp/kp-kube-XXXXXX");
	assert_non_null(mkdtemp(F.dir));
	sh("%s/mkcerts.sh %s", KUBE_DATA, F.dir);
	snprintf(F.log, sizeof(F.log), "%s/requests.log", F.dir);
	assert_int_equal(kp_kube_global_init(&e), KP_OK);
	return 0;
}

static int group_teardown(void **state)
{
	sh("rm -rf %s", F.dir);
	kp_kube_global_release();
	return 0;
}

/* Start the fake server with this state; write both kubeconfigs for it. */
static void start_server(const char *state_json)
{
	char st[128], portf[128];
	snprintf(st, sizeof(st), "%s/state.json", F.dir);
	snprintf(portf, sizeof(portf), "%s/port", F.dir);
	FILE *f = fopen(st, "w");
	fputs(state_json, f);
	fclose(f);
	unlink(portf);
	kp_kube_discovery_forget(); /* a new server may get an old one's port */
	unlink(F.log);
	F.server = fork();
	assert_true(F.server >= 0);
	if (F.server == 0) {
		execl("/usr/bin/python3", "python3", KUBE_DATA "/fake_apiserver.py", st, F.log,
		      portf, F.dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) {
		struct kp_buf b = KP_BUF_INIT;
		if (!kp_read_file(portf, 0, &b, NULL)) {
			F.port = atoi(b.buf);
			kp_buf_release(&b);
			break;
		}
		kp_buf_release(&b);
		usleep(10000);
	}
	assert_true(F.port > 0);
	snprintf(F.kubeconfig, sizeof(F.kubeconfig), "%s/kubeconfig", F.dir);
	sh("cd %s && cat >kubeconfig <<EOF\n"
	   "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
	   "clusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:%d\n"
	   "    certificate-authority-data: $(cat ca.crt.b64)\n"
	   "contexts:\n- name: test\n  context: {cluster: test, user: admin}\n"
	   "users:\n- name: admin\n  user:\n"
	   "    client-certificate-data: $(cat client.crt.b64)\n"
	   "    client-key-data: $(cat client.key.b64)\nEOF",
	   F.dir, F.port);
	snprintf(F.files_kubeconfig, sizeof(F.files_kubeconfig), "%s/files.yaml", F.dir);
	sh("cd %s && cat >files.yaml <<EOF\n"
	   "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
	   "clusters:\n- name: test\n  cluster:\n    server: https://localhost:%d\n"
	   "    certificate-authority: ca.crt\n"
	   "contexts:\n- name: test\n  context: {cluster: test, user: admin}\n"
	   "users:\n- name: admin\n  user:\n"
	   "    client-certificate: %s/client.crt\n    client-key: client.key\nEOF",
	   F.dir, F.port, F.dir);
}

static int teardown(void **state)
{
	if (F.server > 0) {
		kill(F.server, SIGTERM);
		waitpid(F.server, NULL, 0);
		F.server = 0;
	}
	return 0;
}

/* The request log, one JSON object per line, as a JSON array. */
static cJSON *requests(void)
{
	struct kp_buf b = KP_BUF_INIT, arr = KP_BUF_INIT;
	kp_buf_addch(&arr, '[');
	if (!kp_read_file(F.log, 0, &b, NULL)) {
		for (char *l = b.buf; *l;) {
			size_t n = strcspn(l, "\n");
			if (n)
				kp_buf_addf(&arr, "%s%.*s", arr.len > 1 ? "," : "", (int)n, l);
			l += n + (l[n] != 0);
		}
	}
	kp_buf_addch(&arr, ']');
	cJSON *j = cJSON_Parse(arr.buf);
	kp_buf_release(&b);
	kp_buf_release(&arr);
	assert_non_null(j);
	return j;
}

static const char *req_field(cJSON *reqs, int i, const char *k)
{
	cJSON *v = cJSON_GetObjectItem(cJSON_GetArrayItem(reqs, i), k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static struct kp_kube *client(const char *path)
{
	struct kp_kubeconfig *kc = NULL;
	struct kp_kube *k = NULL;
	struct kp_buf e = KP_BUF_INIT;
	if (kp_kubeconfig_load(path, &kc, &e) || kp_kube_new(kc, &k, &e))
		fail_msg("%s", e.buf);
	kp_kubeconfig_free(kc);
	kp_buf_release(&e);
	return k;
}

static const char *STATE =
    "{\"version\":\"v1.13.3\","
    "\"nodes\":{\"w1\":{\"metadata\":{\"name\":\"w1\"},\"spec\":{},"
    "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}},"
    "\"pods\":[{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-1\",\"uid\":\"u1\","
    "\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"w1\"}},"
    "{\"metadata\":{\"namespace\":\"default\",\"name\":\"db-1\",\"uid\":\"u2\","
    "\"labels\":{\"app\":\"db\"}},\"spec\":{\"nodeName\":\"w2\"}}],"
    "\"pdbs\":[{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-pdb\"},"
    "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}}}}],"
    "\"block\":{\"default/web-1\":1},\"no_v1_eviction\":true}";

/* ---- kubeconfig -------------------------------------------------------------- */

static void test_kubeconfig_data(void **state)
{
	struct kp_kubeconfig *kc = NULL;
	struct kp_buf e = KP_BUF_INIT;
	start_server("{}");
	assert_int_equal(kp_kubeconfig_load(F.kubeconfig, &kc, &e), KP_OK);
	assert_string_equal(kc->context, "test");
	assert_string_equal(kc->cluster, "test");
	assert_string_equal(kc->user, "admin");
	assert_non_null(strstr(kc->ca, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(kc->cert, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(kc->key, "PRIVATE KEY-----"));
	assert_int_equal(strlen(kc->ca), kc->ca_len);
	assert_false(kc->insecure);
	assert_null(kc->token);
	kp_kubeconfig_free(kc);
	/* the file form reads the same certificates, relative to the file */
	assert_int_equal(kp_kubeconfig_load(F.files_kubeconfig, &kc, &e), KP_OK);
	assert_non_null(strstr(kc->ca, "-----BEGIN CERTIFICATE-----"));
	assert_non_null(strstr(kc->key, "PRIVATE KEY-----"));
	kp_kubeconfig_free(kc);
	kp_buf_release(&e);
}

static void test_kubeconfig_token_file(void **state)
{
	struct kp_kubeconfig *kc = NULL;
	struct kp_buf e = KP_BUF_INIT;
	assert_int_equal(kp_kubeconfig_load(KUBE_DATA "/token-file.yaml", &kc, &e), KP_OK);
	assert_string_equal(kc->token, "abc123");
	assert_string_equal(kc->server, "https://127.0.0.1:6443/");
	assert_true(kc->insecure);
	assert_null(kc->cert);
	kp_kubeconfig_free(kc);
	kp_buf_release(&e);
}

static void expect_error(const char *file, kp_rc want, const char *msg)
{
	struct kp_kubeconfig *kc = NULL;
	struct kp_buf e = KP_BUF_INIT;
	assert_int_equal(kp_kubeconfig_load(file, &kc, &e), want);
	assert_null(kc);
	assert_string_equal(e.buf, msg);
	kp_buf_release(&e);
}

static void test_kubeconfig_errors(void **state)
{
	expect_error(KUBE_DATA "/no-context.yaml", KP_ERR_INVALID,
		     "tests/data/kube/no-context.yaml: no current-context");
	expect_error(KUBE_DATA "/missing-cluster.yaml", KP_ERR_INVALID,
		     "tests/data/kube/missing-cluster.yaml: no cluster named 'gone' in 'clusters'");
	expect_error(KUBE_DATA "/bad-base64.yaml", KP_ERR_PARSE,
		     "tests/data/kube/bad-base64.yaml:8:33: 'certificate-authority-data' is not "
		     "valid base64");
	expect_error(KUBE_DATA "/cert-no-key.yaml", KP_ERR_INVALID,
		     "tests/data/kube/cert-no-key.yaml:13:5: user 'admin' has a client "
		     "certificate but no client key");
	expect_error(KUBE_DATA "/bad-server.yaml", KP_ERR_INVALID,
		     "tests/data/kube/bad-server.yaml:6:21: server 'ftp://127.0.0.1:6443' of "
		     "cluster 'lab' is not an https:// URL");
	expect_error(KUBE_DATA "/nope.yaml", KP_ERR_IO,
		     "cannot read 'tests/data/kube/nope.yaml': No such file or directory");
}

static void test_kubeconfig_find(void **state)
{
	struct kp_buf p = KP_BUF_INIT, e = KP_BUF_INIT;
	assert_int_equal(kp_kubeconfig_find(KUBE_DATA "/token-file.yaml", NULL, NULL, &p, &e),
			 KP_OK);
	assert_string_equal(p.buf, KUBE_DATA "/token-file.yaml");
	assert_int_equal(kp_kubeconfig_find("/nonexistent/kc", NULL, NULL, &p, &e), KP_ERR_IO);
	assert_string_equal(e.buf,
			    "cannot read kubeconfig '/nonexistent/kc': No such file or directory");
	/* the first existing file of $KUBECONFIG wins over ~/.kube/config */
	assert_int_equal(kp_kubeconfig_find(NULL, "/nonexistent/a:" KUBE_DATA "/no-context.yaml",
					    "/nonexistent-home", &p, &e),
			 KP_OK);
	assert_string_equal(p.buf, KUBE_DATA "/no-context.yaml");
	assert_int_equal(kp_kubeconfig_find(NULL, "/nonexistent/a", "/nonexistent-home", &p, &e),
			 KP_ERR_NOTFOUND);
	assert_string_equal(e.buf, "no kubeconfig found (looked at $KUBECONFIG (/nonexistent/a) "
				   "and '/nonexistent-home/.kube/config')");
	kp_buf_release(&p);
	kp_buf_release(&e);
}

/* ---- requests ------------------------------------------------------------------ */

static void test_requests(void **state)
{
	struct kp_buf e = KP_BUF_INIT;
	cJSON *j = NULL;
	start_server(STATE);
	struct kp_kube *k = client(F.kubeconfig);

	char *v = NULL;
	assert_int_equal(kp_kube_version(k, &v, &e), KP_OK);
	assert_string_equal(v, "v1.13.3");
	free(v);

	assert_int_equal(kp_kube_get_node(k, "w1", &j, &e), KP_OK);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "name")->valuestring, "w1");
	cJSON_Delete(j);
	assert_int_equal(kp_kube_get_node(k, "nope", &j, &e), KP_ERR_NOTFOUND);
	assert_string_equal(e.buf,
			    "'GET /api/v1/nodes/nope' answered 404: nodes \"nope\" not found");

	assert_int_equal(kp_kube_list_pods(k, "w1", "app=web", &j, &e), KP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 1);
	cJSON_Delete(j);

	assert_int_equal(kp_kube_set_unschedulable(k, "w1", true, &e), KP_OK);
	assert_int_equal(kp_kube_get_node(k, "w1", &j, &e), KP_OK);
	assert_true(
	    cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "spec"), "unschedulable")));
	cJSON_Delete(j);

	/* a 1.21 server: discovery names policy/v1beta1 for pods/eviction (v1
	 * would be its 400); asked once, before the first eviction */
	long status = 0;
	assert_int_equal(kp_kube_evict(k, "default", "web-1", 30, &status, &j, &e), KP_OK);
	assert_int_equal(status, 429);
	assert_string_equal(kp_kube_status_message(j),
			    "Cannot evict pod as it would violate the pod's disruption budget.");
	cJSON_Delete(j);
	assert_int_equal(kp_kube_evict(k, "default", "web-1", -1, &status, NULL, &e), KP_OK);
	assert_int_equal(status, 201);
	assert_int_equal(kp_kube_evict(k, "default", "web-1", -1, &status, NULL, &e), KP_OK);
	assert_int_equal(status, 404);
	assert_int_equal(kp_kube_get_pod(k, "default", "web-1", &j, &e), KP_ERR_NOTFOUND);

	assert_int_equal(kp_kube_delete_pod(k, "default", "db-1", 5, &status, NULL, &e), KP_OK);
	assert_int_equal(status, 200);

	assert_int_equal(kp_kube_list_pdbs(k, "default", &j, &e), KP_OK);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 1);
	cJSON_Delete(j);

	bool existed = false;
	assert_int_equal(kp_kube_delete_node(k, "w1", &existed, &e), KP_OK);
	assert_true(existed);
	assert_int_equal(kp_kube_delete_node(k, "w1", &existed, &e), KP_OK);
	assert_false(existed);
	kp_kube_free(k);

	cJSON *r = requests();
	const char *want[][2] = {
	    {"GET", "/version"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/nope"},
	    {"GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dw1&labelSelector=app%3Dweb"},
	    {"PATCH", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1"},
	    {"GET", "/apis"},
	    {"POST", "/api/v1/namespaces/default/pods/web-1/eviction"},
	    {"POST", "/api/v1/namespaces/default/pods/web-1/eviction"},
	    {"POST", "/api/v1/namespaces/default/pods/web-1/eviction"},
	    {"GET", "/api/v1/namespaces/default/pods/web-1"},
	    {"DELETE", "/api/v1/namespaces/default/pods/db-1?gracePeriodSeconds=5"},
	    {"GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets"},
	    {"DELETE", "/api/v1/nodes/w1"},
	    {"DELETE", "/api/v1/nodes/w1"},
	};
	assert_int_equal(cJSON_GetArraySize(r), (int)KP_ARRAY_LEN(want));
	for (size_t i = 0; i < KP_ARRAY_LEN(want); i++) {
		assert_string_equal(req_field(r, (int)i, "method"), want[i][0]);
		assert_string_equal(req_field(r, (int)i, "path"), want[i][1]);
	}
	assert_string_equal(req_field(r, 4, "body"), "{\"spec\":{\"unschedulable\":true}}");
	assert_string_equal(req_field(r, 4, "ctype"), "application/merge-patch+json");
	assert_string_equal(req_field(r, 8, "body"),
			    "{\"apiVersion\":\"policy/v1beta1\",\"kind\":\"Eviction\",\"metadata\":"
			    "{\"name\":\"web-1\",\"namespace\":\"default\"},\"deleteOptions\":"
			    "{\"gracePeriodSeconds\":30}}");
	/* the client remembers: no second discovery */
	assert_non_null(strstr(req_field(r, 9, "body"), "\"policy/v1beta1\""));
	assert_non_null(strstr(req_field(r, 10, "body"), "\"policy/v1beta1\""));
	cJSON_Delete(r);
	kp_buf_release(&e);
}

/* Several requests at once (a drain's round): each gets what
 * kp_kube_request would give; discovery is asked once for the whole
 * process, shared by a second client of the same kubeconfig and server. */
static void test_requests_together(void **state)
{
	struct kp_buf e = KP_BUF_INIT;
	start_server(STATE);
	struct kp_kube *k = client(F.kubeconfig), *k2 = client(F.kubeconfig);
	struct kp_kube_req r[4];
	kp_kube_req_get_pod(&r[0], "default", "web-1");
	kp_kube_req_get_pod(&r[1], "default", "nope");
	assert_int_equal(kp_kube_req_evict(k, &r[2], "default", "web-1", -1, &e), KP_OK);
	assert_int_equal(kp_kube_req_evict(k, &r[3], "default", "db-1", 0, &e), KP_OK);
	kp_kube_requests(k, r, 4);
	assert_int_equal(r[0].rc, KP_OK);
	assert_int_equal(r[0].status, 200);
	assert_string_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(r[0].json, "metadata"), "uid")->valuestring,
	    "u1");
	assert_int_equal(r[1].rc, KP_OK);
	assert_int_equal(r[1].status, 404);
	assert_int_equal(r[2].status, 429);
	assert_string_equal(kp_kube_status_message(r[2].json),
			    "Cannot evict pod as it would violate the pod's disruption budget.");
	assert_int_equal(r[3].status, 201);
	for (size_t i = 0; i < KP_ARRAY_LEN(r); i++)
		kp_kube_req_release(&r[i]);

	const struct kp_kube_api *api = NULL;
	assert_int_equal(kp_kube_discover(k2, &api, &e), KP_OK);
	assert_string_equal(api->eviction, "policy/v1beta1");
	kp_kube_free(k);
	kp_kube_free(k2);

	cJSON *log = requests();
	int discoveries = 0, evictions = 0;
	for (int i = 0; i < cJSON_GetArraySize(log); i++) {
		discoveries += !strcmp(req_field(log, i, "path"), "/api/v1");
		evictions += strstr(req_field(log, i, "path"), "/eviction") != NULL;
	}
	assert_int_equal(discoveries, 1);
	assert_int_equal(evictions, 2);
	cJSON_Delete(log);
	kp_buf_release(&e);
}

/* A server with budgets only under policy/v1beta1 (before 1.21): discovery
 * says so, and the list comes from there without asking v1 first. */
static void test_pdbs_v1beta1(void **state)
{
	struct kp_kubeconfig *kc = NULL;
	struct kp_kube *k = NULL;
	struct kp_buf e = KP_BUF_INIT;
	cJSON *j = NULL;
	start_server("{\"pdbs\":[{\"metadata\":{\"namespace\":\"default\",\"name\":\"old-pdb\"},"
		     "\"spec\":{}}],\"no_v1_pdb\":true}");
	assert_int_equal(kp_kubeconfig_load(F.kubeconfig, &kc, &e), KP_OK);
	assert_int_equal(kp_kube_new(kc, &k, &e), KP_OK);
	kp_kubeconfig_free(kc);
	assert_int_equal(kp_kube_list_pdbs(k, "default", &j, &e), KP_OK);
	assert_string_equal(e.len ? e.buf : "", "");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "items")), 1);
	cJSON_Delete(j);
	/* remembered: no second discovery */
	assert_int_equal(kp_kube_list_pdbs(k, "default", &j, &e), KP_OK);
	cJSON_Delete(j);
	const struct kp_kube_api *api = NULL;
	assert_int_equal(kp_kube_discover(k, &api, &e), KP_OK);
	assert_string_equal(api->pdb, "policy/v1beta1");
	assert_string_equal(api->lease, "coordination.k8s.io/v1");
	assert_string_equal(api->eviction, "policy/v1");
	kp_kube_free(k);
	cJSON *r = requests();
	assert_int_equal(cJSON_GetArraySize(r), 4);
	assert_string_equal(req_field(r, 0, "path"), "/api/v1");
	assert_string_equal(req_field(r, 1, "path"), "/apis");
	assert_string_equal(req_field(r, 2, "path"),
			    "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets");
	assert_string_equal(req_field(r, 3, "path"),
			    "/apis/policy/v1beta1/namespaces/default/poddisruptionbudgets");
	cJSON_Delete(r);
	kp_buf_release(&e);
}

/* Retries: the fake server's "faults" answer 500/503, close the connection
 * without an answer, or send half an answer and close. GET and merge PATCH
 * are retried; a sent POST (Eviction) or DELETE is not: the eviction was
 * carried out although the answer was lost, so a retry would misreport. A
 * request that never reached a server is retried whatever its method. */
static void test_retries(void **state)
{
	struct kp_buf e = KP_BUF_INIT;
	cJSON *j = NULL;
	long status = 0;
	start_server("{\"nodes\":{\"w1\":{\"metadata\":{\"name\":\"w1\"},\"spec\":{},"
		     "\"status\":{}}},"
		     "\"pods\":[{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-1\","
		     "\"uid\":\"u1\"},\"spec\":{\"nodeName\":\"w1\"}},"
		     "{\"metadata\":{\"namespace\":\"default\",\"name\":\"db-1\",\"uid\":\"u2\"},"
		     "\"spec\":{\"nodeName\":\"w1\"}}],"
		     "\"faults\":[\"\",\"\",\"500\",\"drop\",\"close\",\"503\",\"\","
		     "\"drop\",\"\","
		     "\"drop\",\"\","
		     "\"500\","
		     "\"close\","
		     "\"500\",\"500\",\"500\"]}");
	struct kp_kube *k = client(F.kubeconfig);
	kp_kube_set_retries(k, 6, 10);
	/* discovery first (two GETs): the evictions below need it */
	const struct kp_kube_api *api = NULL;
	assert_int_equal(kp_kube_discover(k, &api, &e), KP_OK);

	/* GET: four failures of every kind, then the answer */
	assert_int_equal(kp_kube_get_node(k, "w1", &j, &e), KP_OK);
	cJSON_Delete(j);
	/* a merge PATCH (cordon) whose answer was cut off: sent again */
	assert_int_equal(kp_kube_set_unschedulable(k, "w1", true, &e), KP_OK);
	/* an Eviction whose answer was cut off: an error, not retried, and
	 * the pod was in fact evicted: only a later GET can tell */
	assert_int_equal(kp_kube_evict(k, "default", "web-1", -1, &status, NULL, &e), KP_ERR_IO);
	assert_non_null(strstr(e.buf, "'POST /api/v1/namespaces/default/pods/web-1/eviction'"));
	assert_null(strstr(e.buf, "tried"));
	assert_int_equal(kp_kube_get_pod(k, "default", "web-1", &j, &e), KP_ERR_NOTFOUND);
	/* a 500 to an Eviction is the answer */
	assert_int_equal(kp_kube_evict(k, "default", "db-1", -1, &status, NULL, &e), KP_OK);
	assert_int_equal(status, 500);
	/* DELETE without an answer: not retried */
	assert_int_equal(kp_kube_delete_pod(k, "default", "db-1", -1, &status, NULL, &e),
			 KP_ERR_IO);
	/* bounded: three tries, then the last answer */
	kp_kube_set_retries(k, 3, 10);
	assert_int_equal(kp_kube_get_node(k, "w1", &j, &e), KP_ERR_IO);
	assert_string_equal(e.buf, "'GET /api/v1/nodes/w1' answered 500: fault injected");

	cJSON *r = requests();
	const char *want[][2] = {
	    {"GET", "/api/v1"},
	    {"GET", "/apis"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"PATCH", "/api/v1/nodes/w1"},
	    {"PATCH", "/api/v1/nodes/w1"},
	    {"POST", "/api/v1/namespaces/default/pods/web-1/eviction"},
	    {"GET", "/api/v1/namespaces/default/pods/web-1"},
	    {"POST", "/api/v1/namespaces/default/pods/db-1/eviction"},
	    {"DELETE", "/api/v1/namespaces/default/pods/db-1"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/w1"},
	    {"GET", "/api/v1/nodes/w1"},
	};
	assert_int_equal(cJSON_GetArraySize(r), (int)KP_ARRAY_LEN(want));
	for (size_t i = 0; i < KP_ARRAY_LEN(want); i++) {
		assert_string_equal(req_field(r, (int)i, "method"), want[i][0]);
		assert_string_equal(req_field(r, (int)i, "path"), want[i][1]);
	}
	cJSON_Delete(r);

	/* nobody listens any more: nothing was sent, so even a POST is tried
	 * again, with a growing wait (10 + 20 ms), and the error says so */
	teardown(state);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(kp_kube_evict(k, "default", "db-1", -1, &status, NULL, &e), KP_ERR_IO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(e.buf, " (tried 3 times)"));
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 30);
	kp_kube_free(k);
	kp_buf_release(&e);
}

static void test_files_kubeconfig_and_tls(void **state)
{
	struct kp_buf e = KP_BUF_INIT;
	char *v = NULL;
	start_server(STATE);
	/* certificate and key from files; "localhost" matches the SAN */
	struct kp_kube *k = client(F.files_kubeconfig);
	assert_int_equal(kp_kube_version(k, &v, &e), KP_OK);
	assert_string_equal(v, "v1.13.3");
	free(v);
	kp_kube_free(k);

	/* no client certificate: the server refuses the handshake */
	sh("cd %s && sed '/client-/d; s/^  user:$/  user: {}/' kubeconfig >nocert.yaml", F.dir);
	char p[160];
	snprintf(p, sizeof(p), "%s/nocert.yaml", F.dir);
	k = client(p);
	/* the refusal may come as a broken connection before the TLS alert,
	 * which is retried: keep the test short */
	kp_kube_set_retries(k, 3, 10);
	assert_int_not_equal(kp_kube_version(k, &v, &e), KP_OK);
	assert_non_null(strstr(e.buf, "'GET /version' on https://127.0.0.1:"));
	kp_kube_free(k);

	/* a CA that did not sign the server: verification fails */
	sh("cd %s && sed 's/certificate-authority-data: .*/certificate-authority-data: '"
	   "$(cat client.crt.b64)/ kubeconfig >badca.yaml",
	   F.dir);
	snprintf(p, sizeof(p), "%s/badca.yaml", F.dir);
	k = client(p);
	assert_int_equal(kp_kube_version(k, &v, &e), KP_ERR_IO);
	assert_non_null(strstr(e.buf, "certificate"));
	kp_kube_free(k);
	kp_buf_release(&e);
}

/* ---- kubectl ------------------------------------------------------------------------ */

struct fake_kubectl {
	struct kp_buf argv;  /* every command, one per line */
	struct kp_buf stdin; /* what the last one got */
	int rc;
	const char *out, *err;
};

static kp_rc run_kubectl(void *arg, const struct kp_exec_req *req, struct kp_exec_res *res,
			 struct kp_buf *err)
{
	struct fake_kubectl *f = arg;
	for (size_t i = 0; req->argv[i]; i++)
		kp_buf_addf(&f->argv, "%s%s", i ? " " : "", req->argv[i]);
	kp_buf_addch(&f->argv, '\n');
	kp_buf_reset(&f->stdin);
	if (req->stdin_data)
		kp_buf_add(&f->stdin, req->stdin_data, req->stdin_len);
	res->rc = f->rc;
	kp_buf_addstr(&res->out, f->out);
	kp_buf_addstr(&res->err, f->err);
	return KP_OK;
}

static void test_kubectl_backend(void **state)
{
	struct fake_kubectl f = {.argv = KP_BUF_INIT, .stdin = KP_BUF_INIT};
	struct kp_buf e = KP_BUF_INIT;
	struct kp_kube *k = kp_kube_new_kubectl(run_kubectl, &f, "/etc/kubernetes/admin.conf");
	cJSON *j = NULL;
	long status = 0;

	f.out = "{\"metadata\":{\"name\":\"w1\"}}";
	f.err = "";
	assert_int_equal(kp_kube_get_node(k, "w1", &j, &e), KP_OK);
	cJSON_Delete(j);
	assert_int_equal(kp_kube_set_unschedulable(k, "w1", true, &e), KP_OK);

	f.rc = 1;
	f.out = "";
	f.err = "Error from server (NotFound): nodes \"x\" not found\n";
	assert_int_equal(kp_kube_get_node(k, "x", &j, &e), KP_ERR_NOTFOUND);
	assert_string_equal(e.buf, "'GET /api/v1/nodes/x' answered 404: nodes \"x\" not found");

	/* discovery, as kubectl get --raw answers it (one document for both
	 * /api/v1 and /apis here) */
	f.rc = 0;
	f.out = "{\"resources\":[{\"name\":\"pods/eviction\",\"group\":\"policy\","
		"\"version\":\"v1beta1\"}],\"groups\":[{\"name\":\"policy\","
		"\"preferredVersion\":{\"groupVersion\":\"policy/v1beta1\"}}]}";
	f.err = "";
	const struct kp_kube_api *api = NULL;
	assert_int_equal(kp_kube_discover(k, &api, &e), KP_OK);
	assert_string_equal(api->eviction, "policy/v1beta1");
	assert_string_equal(api->pdb, "policy/v1beta1");
	assert_string_equal(api->lease, "");
	f.rc = 1;
	f.out = "";
	f.err = "Error from server (TooManyRequests): Cannot evict pod as it would violate the "
		"pod's disruption budget.\n";
	assert_int_equal(kp_kube_evict(k, "kube-system", "coredns-1", -1, &status, &j, &e), KP_OK);
	assert_int_equal(status, 429);
	assert_string_equal(kp_kube_status_message(j),
			    "Cannot evict pod as it would violate the pod's disruption budget.");
	cJSON_Delete(j);
	assert_non_null(strstr(f.stdin.buf, "\"kind\":\"Eviction\""));
	assert_non_null(strstr(f.stdin.buf, "\"apiVersion\":\"policy/v1beta1\""));

	f.err = "error: unable to connect\n";
	assert_int_equal(kp_kube_delete_pod(k, "default", "p", 0, &status, NULL, &e), KP_ERR_IO);
	assert_string_equal(e.buf, "'kubectl --kubeconfig /etc/kubernetes/admin.conf delete --raw "
				   "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0' "
				   "failed (rc 1): error: unable to connect");

	assert_string_equal(
	    f.argv.buf,
	    "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /api/v1/nodes/w1\n"
	    "kubectl --kubeconfig /etc/kubernetes/admin.conf patch nodes w1 --type merge -p "
	    "{\"spec\":{\"unschedulable\":true}} -o json\n"
	    "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /api/v1/nodes/x\n"
	    "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /api/v1\n"
	    "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /apis\n"
	    "kubectl --kubeconfig /etc/kubernetes/admin.conf create --raw "
	    "/api/v1/namespaces/kube-system/pods/coredns-1/eviction -f -\n"
	    "kubectl --kubeconfig /etc/kubernetes/admin.conf delete --raw "
	    "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0\n");
	kp_kube_free(k);
	kp_buf_release(&f.argv);
	kp_buf_release(&f.stdin);
	kp_buf_release(&e);
}

static void test_selector(void **state)
{
	cJSON *labels = cJSON_Parse("{\"app\":\"web\",\"tier\":\"front\"}");
	const char *yes[] = {
	    "{}",
	    "{\"matchLabels\":{\"app\":\"web\"}}",
	    ("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"front\"]}]"
	     "}"),
	    "{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"DoesNotExist\"}]}",
	};
	const char *no[] = {
	    "{\"matchLabels\":{\"app\":\"db\"}}",
	    "{\"matchLabels\":{\"app\":\"web\",\"x\":\"y\"}}",
	    ("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\",\"values\":["
	     "\"front\"]"
	     "}]}"),
	    "{\"matchExpressions\":[{\"key\":\"x\",\"operator\":\"Exists\"}]}",
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(yes); i++) {
		cJSON *s = cJSON_Parse(yes[i]);
		assert_true(kp_kube_selector_matches(s, labels));
		cJSON_Delete(s);
	}
	for (size_t i = 0; i < KP_ARRAY_LEN(no); i++) {
		cJSON *s = cJSON_Parse(no[i]);
		assert_false(kp_kube_selector_matches(s, labels));
		cJSON_Delete(s);
	}
	cJSON_Delete(labels);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_kubeconfig_data, teardown),
	    cmocka_unit_test(test_kubeconfig_token_file),
	    cmocka_unit_test(test_kubeconfig_errors),
	    cmocka_unit_test(test_kubeconfig_find),
	    cmocka_unit_test_teardown(test_requests, teardown),
	    cmocka_unit_test_teardown(test_requests_together, teardown),
	    cmocka_unit_test_teardown(test_pdbs_v1beta1, teardown),
	    cmocka_unit_test_teardown(test_retries, teardown),
	    cmocka_unit_test_teardown(test_files_kubeconfig_and_tls, teardown),
	    cmocka_unit_test(test_kubectl_backend),
	    cmocka_unit_test(test_selector),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
