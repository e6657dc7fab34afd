/*
 * kubeapi.h - a small Kubernetes API client: kubeconfig files, HTTPS
 * requests with libcurl, JSON with cJSON, and the handful of calls the
 * maintenance modules need (nodes, pods, evictions, budgets, /version).
 *
 * A client talks to the API server in one of two ways:
 *   direct   libcurl from the controller, with the server, CA and client
 *            certificate or token of a kubeconfig (TLS verification on);
 *   kubectl  `kubectl --kubeconfig K get --raw PATH` and friends, run by a
 *            caller-supplied function (on the first control-plane host):
 *            for controllers that cannot reach the API server directly.
 * Both answer with an HTTP status and the parsed JSON body, so callers do
 * not care which one they have.
 *
 * Threads: kp_kube_global_init() once from main before any thread starts
 * (curl_global_init is not thread-safe); after that each thread makes its
 * own client. A client (one CURL easy handle, and the multi handle and
 * easy handles of kp_kube_requests) is never shared between threads; the
 * run's discoveries are (kp_kube_discover: under a lock).
 *
 * Ownership: kp_kubeconfig_free and kp_kube_free free everything they own;
 * a client copies what it needs from the kubeconfig. JSON handed out
 * (cJSON **) belongs to the caller: cJSON_Delete it.
 */
#ifndef KP_KUBEAPI_H
#define KP_KUBEAPI_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

struct cJSON;
struct kp_exec_req;
struct kp_exec_res;

#define KP_KUBE_MAX_RESPONSE ((size_t)64 << 20) /* bytes of one response body */
#define KP_KUBE_CONNECT_MS   10000
#define KP_KUBE_TOTAL_MS     60000
#define KP_KUBE_ATTEMPTS     6	 /* tries per request, see kp_kube_request */
#define KP_KUBE_BACKOFF_MS   200 /* the first retry's wait, doubled each time */

/* ---- kubeconfig ----------------------------------------------------------- */

/* What the current context of a kubeconfig says, data already decoded
 * (PEM text for the CA, certificate and key). NULL members are absent. */
struct kp_kubeconfig {
	char *path; /* the file it was read from */
	char *context, *cluster, *user;
	char *server;
	char *ca;
	size_t ca_len;
	bool insecure; /* insecure-skip-tls-verify */
	char *cert, *key;
	size_t cert_len, key_len;
	char *token;
};

/* Read and resolve a kubeconfig file. Errors name the file (and line:col
 * when a YAML node is at fault) and what is wrong. Relative certificate
 * and token file paths are relative to the kubeconfig's directory, as
 * kubectl reads them. */
kp_rc kp_kubeconfig_load(const char *path, struct kp_kubeconfig **out, struct kp_buf *err);
/* The same with the file's text given (tests, fuzzing); `path` names it in
 * messages and relative certificate and token files are found beside it. */
kp_rc kp_kubeconfig_load_string(const char *path, const char *data, size_t len,
				struct kp_kubeconfig **out, struct kp_buf *err);
void kp_kubeconfig_free(struct kp_kubeconfig *kc);
/* Which kubeconfig to use, as modules.md says: `given` (when not NULL),
 * else the first existing file of $KUBECONFIG (a colon-separated list),
 * else ~/.kube/config. The path goes into `path`. KP_ERR_NOTFOUND when
 * there is none (the message names where it looked); a `given` file that
 * does not exist is KP_ERR_IO. env_kubeconfig and home are the values of
 * $KUBECONFIG and $HOME (passed in so that tests need no setenv). */
kp_rc kp_kubeconfig_find(const char *given, const char *env_kubeconfig, const char *home,
			 struct kp_buf *path, struct kp_buf *err);

/* ---- the client ------------------------------------------------------------ */

struct kp_kube;

/* The one way kplan finds its kubeconfig and opens a direct client to it
 * (the engine's run lock, Lua hooks, the Kubernetes modules):
 * kp_kubeconfig_find(given, env_kubeconfig, home), then load it and make
 * the client. KP_ERR_NOTFOUND when there is no kubeconfig (the caller
 * decides on a fallback); any other error names the file and what is
 * wrong with it. */
kp_rc kp_kube_open(const char *given, const char *env_kubeconfig, const char *home,
		   struct kp_kube **out, struct kp_buf *err);

/* curl_global_init: call once from main before any thread starts;
 * kp_kube_global_release once at exit. */
kp_rc kp_kube_global_init(struct kp_buf *err);
void kp_kube_global_release(void);

/* A direct client for the kubeconfig's server. */
kp_rc kp_kube_new(const struct kp_kubeconfig *kc, struct kp_kube **out, struct kp_buf *err);

/* Runs one kubectl command (argv, NULL-terminated; stdin in req) for a
 * kubectl client, somewhere that has kubectl and the kubeconfig: KP_OK
 * whenever the command ran, whatever its exit status. */
typedef kp_rc (*kp_kube_exec_fn)(void *arg, const struct kp_exec_req *req, struct kp_exec_res *res,
				 struct kp_buf *err);
/* A kubectl client: every request becomes a kubectl command run by fn,
 * with `--kubeconfig kubeconfig`. GET -> get --raw, POST -> create --raw
 * -f -, DELETE -> delete --raw, PATCH -> kubectl patch (resource paths
 * only: /api/v1/nodes/N, /api[s]/.../namespaces/NS/TYPE/N). A failing
 * command is turned back into a status from kubectl's "Error from server
 * (Reason)" line and a Status JSON body. */
struct kp_kube *kp_kube_new_kubectl(kp_kube_exec_fn fn, void *arg, const char *kubeconfig);
void kp_kube_free(struct kp_kube *k);
/* The arg given to kp_kube_new_kubectl (NULL for a direct client), for a
 * caller that must free it after the client. */
void *kp_kube_exec_arg(const struct kp_kube *k);

/* Timeouts (milliseconds; 0 keeps the default). */
void kp_kube_set_timeouts(struct kp_kube *k, int64_t connect_ms, int64_t total_ms);
/* Retries of kp_kube_request: at most `attempts` tries (1: none), waiting
 * first_backoff_ms before the second, doubled each time (tests make it short). */
void kp_kube_set_retries(struct kp_kube *k, int attempts, int64_t first_backoff_ms);
/* "direct https://10.0.0.1:6443" or "kubectl on the control plane", for messages. */
const char *kp_kube_describe(const struct kp_kube *k);

/* One request. path starts with '/' (query included). body is JSON text
 * or NULL; content_type defaults to application/json. On KP_OK *status is
 * the HTTP status and *json the parsed body (NULL when empty or not JSON).
 * An error means no answer: the server could not be reached, TLS failed,
 * the response was too large or timed out. Connection failures and 5xx
 * answers are retried with backoff where that is safe: any request that
 * was never sent, and GET and merge PATCH requests whatever happened (the
 * rules are at kp_kube_request in kubeapi.c); not POST (an Eviction),
 * PUT, DELETE or a JSON patch once sent. */
kp_rc kp_kube_request(struct kp_kube *k, const char *method, const char *path, const char *body,
		      const char *content_type, long *status, struct cJSON **json,
		      struct kp_buf *err);

/* Several requests at once, as kubectl's goroutines make them (a drain's
 * evictions and the looks at the pods it waits for): a direct client sends
 * up to KP_KUBE_INFLIGHT of them together on a libcurl multi handle, each
 * on its own connection when it is not idempotent; a kubectl client one
 * after another. Each request is tried again by kp_kube_request's rules
 * (those tries one at a time) and ends as kp_kube_request would: rc, and
 * on KP_OK the status and the parsed body; err holds an error's text. */
#define KP_KUBE_INFLIGHT 32
struct kp_kube_req {
	const char *method, *content_type; /* static strings */
	char *path, *body;		   /* owned (body may be NULL) */
	kp_rc rc;
	long status;
	struct cJSON *json;
	struct kp_buf err;
};
void kp_kube_requests(struct kp_kube *k, struct kp_kube_req *reqs, size_t n);
/* Frees path, body, json and err, and zeroes r. */
void kp_kube_req_release(struct kp_kube_req *r);
/* The requests kp_kube_get_pod and kp_kube_evict make, for kp_kube_requests
 * (r zeroed or released first). Evict: KP_ERR_NOTFOUND when the server
 * has no eviction subresource (discovery). */
void kp_kube_req_get_pod(struct kp_kube_req *r, const char *ns, const char *name);
kp_rc kp_kube_req_evict(struct kp_kube *k, struct kp_kube_req *r, const char *ns, const char *name,
			int64_t grace_s, struct kp_buf *err);

/* "the server's message" of a Status body, or the reason, or "" */
const char *kp_kube_status_message(const struct cJSON *json);

/* ---- discovery -------------------------------------------------------------------
 * What the server serves, found out as kubectl does: the group/version of
 * the pods/eviction subresource (GET /api/v1: policy/v1beta1 before 1.22,
 * policy/v1 since), and the preferred version of the policy group (its
 * PodDisruptionBudgets: policy/v1 since 1.21) and of coordination.k8s.io
 * (Leases: v1beta1 in 1.12 and 1.13, v1 since 1.14). Asked once per run
 * for each server: the answer is kept for the whole process under the
 * client's discovery key (a direct client's: its kubeconfig file and
 * server; a kubectl client's: the kubectl command, or what
 * kp_kube_set_discovery_key says), so that every task and host of a run
 * shares one discovery; -vvv shows each asked and each reused. An empty
 * string: the server does not serve it. */
struct kp_kube_api {
	char eviction[64]; /* "policy/v1", "policy/v1beta1" */
	char pdb[64];	   /* "policy/v1", "policy/v1beta1" */
	char lease[64];	   /* "coordination.k8s.io/v1", "coordination.k8s.io/v1beta1" */
};
/* *api stays valid as long as the client. */
kp_rc kp_kube_discover(struct kp_kube *k, const struct kp_kube_api **api, struct kp_buf *err);
/* Which run-wide discovery a client shares (a kubectl client: the host
 * kubectl runs on and its kubeconfig). */
void kp_kube_set_discovery_key(struct kp_kube *k, const char *key);
/* Forget every kept discovery (tests that restart a server on one port). */
void kp_kube_discovery_forget(void);

/* ---- the calls the modules need ----------------------------------------------
 * These return KP_OK on a 2xx answer. KP_ERR_NOTFOUND on 404 where noted;
 * any other status is KP_ERR_IO with "'GET /path' answered 403: message". */

/* GET /api/v1/nodes/NAME; KP_ERR_NOTFOUND when there is no such node. */
kp_rc kp_kube_get_node(struct kp_kube *k, const char *name, struct cJSON **node,
		       struct kp_buf *err);
/* The PodList of pods on a node (fieldSelector spec.nodeName=NAME), with an
 * optional label selector. */
kp_rc kp_kube_list_pods(struct kp_kube *k, const char *node, const char *label_selector,
			struct cJSON **list, struct kp_buf *err);
/* GET one pod; KP_ERR_NOTFOUND when it is gone. */
kp_rc kp_kube_get_pod(struct kp_kube *k, const char *ns, const char *name, struct cJSON **pod,
		      struct kp_buf *err);
/* Merge-patch spec.unschedulable (cordon: true, uncordon: false). */
kp_rc kp_kube_set_unschedulable(struct kp_kube *k, const char *node, bool unschedulable,
				struct kp_buf *err);
/* POST an Eviction of the group/version discovery names for pods/eviction
 * (KP_ERR_NOTFOUND when the server has no such subresource: a caller may
 * delete instead, as kubectl does). grace_s < 0: the pod's own. The status
 * is returned, not judged: 201/200 evicted, 429 blocked by a budget, 404
 * the pod is gone. *json (may be NULL) gets the answer's body. */
kp_rc kp_kube_evict(struct kp_kube *k, const char *ns, const char *name, int64_t grace_s,
		    long *status, struct cJSON **json, struct kp_buf *err);
/* DELETE a pod (grace_s < 0: the pod's own); status returned as for evict. */
kp_rc kp_kube_delete_pod(struct kp_kube *k, const char *ns, const char *name, int64_t grace_s,
			 long *status, struct cJSON **json, struct kp_buf *err);
/* The PodDisruptionBudgetList of a namespace, from the policy group's
 * preferred version (discovery). */
kp_rc kp_kube_list_pdbs(struct kp_kube *k, const char *ns, struct cJSON **list, struct kp_buf *err);
/* DELETE /api/v1/nodes/NAME; *existed false when it was already gone. */
kp_rc kp_kube_delete_node(struct kp_kube *k, const char *name, bool *existed, struct kp_buf *err);
/* The server's gitVersion ("v1.13.3") from /version; the caller frees. */
kp_rc kp_kube_version(struct kp_kube *k, char **git_version, struct kp_buf *err);

/* Whether a label selector (LabelSelector JSON: matchLabels and
 * matchExpressions with In, NotIn, Exists, DoesNotExist) selects these
 * labels (a JSON object, or NULL for none). An empty selector selects
 * everything, as for PodDisruptionBudgets in policy/v1. */
bool kp_kube_selector_matches(const struct cJSON *selector, const struct cJSON *labels);

/* ---- a streaming HTTPS request (etcd's gateway) --------------------------------
 * POST (or GET when body is NULL) url with TLS verification against ca
 * (PEM; NULL: the system's) and the client certificate and key (PEM, in
 * memory, never logged); each piece of the response body goes to fn as it
 * arrives (fn returns false to abort). On KP_OK *status is the HTTP status.
 * total_ms 0: no overall limit (a large snapshot takes a while). */
typedef bool (*kp_https_sink_fn)(void *arg, const char *data, size_t len);
struct kp_https_tls {
	const char *ca, *cert, *key;
	size_t ca_len, cert_len, key_len;
};
kp_rc kp_https_stream(const char *url, const char *body, const struct kp_https_tls *tls,
		      int64_t connect_ms, int64_t total_ms, kp_https_sink_fn fn, void *arg,
		      long *status, struct kp_buf *err);

#endif
