/*
 * kubecalls.c - the calls the maintenance modules make (nodes, pods,
 * evictions, budgets, /version), API discovery, and label selectors; on
 * top of kp_kube_request; see kubeapi.h.
 */
#include "kube/kubeapi.h"
#include "kube/kubeapi_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* ---- calls ------------------------------------------------------------------------ */

static kp_rc status_error(const char *method, const char *path, long status, const cJSON *j,
			  struct kp_buf *err)
{
	const char *m = kp_kube_status_message(j);
	return kp_errorf(err, status == 404 ? KP_ERR_NOTFOUND : KP_ERR_IO,
			 "'%s %s' answered %ld%s%s", method, path, status, *m ? ": " : "", m);
}

/* A request whose answer must be 2xx; the JSON goes to *out (may be NULL). */
static kp_rc call(struct kp_kube *k, const char *method, const char *path, const char *body,
		  const char *ctype, cJSON **out, struct kp_buf *err)
{
	long status = 0;
	cJSON *j = NULL;
	kp_rc rc = kp_kube_request(k, method, path, body, ctype, &status, &j, err);
	if (rc)
		return rc;
	if (status < 200 || status > 299) {
		rc = status_error(method, path, status, j, err);
		cJSON_Delete(j);
		return rc;
	}
	if (out)
		*out = j;
	else
		cJSON_Delete(j);
	return KP_OK;
}

/* Percent-encode a query or path value (libcurl's encoder). */
static void add_escaped(struct kp_buf *b, const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	kp_buf_addstr(b, e ? e : "");
	curl_free(e);
}

kp_rc kp_kube_get_node(struct kp_kube *k, const char *name, cJSON **node, struct kp_buf *err)
{
	struct kp_buf p = KP_BUF_INIT;
	kp_buf_addstr(&p, "/api/v1/nodes/");
	add_escaped(&p, name);
	kp_rc rc = call(k, "GET", p.buf, NULL, NULL, node, err);
	kp_buf_release(&p);
	return rc;
}

kp_rc kp_kube_list_pods(struct kp_kube *k, const char *node, const char *label_selector,
			cJSON **list, struct kp_buf *err)
{
	struct kp_buf p = KP_BUF_INIT, f = KP_BUF_INIT;
	kp_buf_addf(&f, "spec.nodeName=%s", node);
	kp_buf_addstr(&p, "/api/v1/pods?fieldSelector=");
	add_escaped(&p, f.buf);
	if (label_selector && *label_selector) {
		kp_buf_addstr(&p, "&labelSelector=");
		add_escaped(&p, label_selector);
	}
	kp_rc rc = call(k, "GET", p.buf, NULL, NULL, list, err);
	kp_buf_release(&p);
	kp_buf_release(&f);
	return rc;
}

static void pod_path(struct kp_buf *p, const char *ns, const char *name)
{
	kp_buf_addstr(p, "/api/v1/namespaces/");
	add_escaped(p, ns);
	kp_buf_addstr(p, "/pods/");
	add_escaped(p, name);
}

kp_rc kp_kube_get_pod(struct kp_kube *k, const char *ns, const char *name, cJSON **pod,
		      struct kp_buf *err)
{
	struct kp_buf p = KP_BUF_INIT;
	pod_path(&p, ns, name);
	kp_rc rc = call(k, "GET", p.buf, NULL, NULL, pod, err);
	kp_buf_release(&p);
	return rc;
}

kp_rc kp_kube_set_unschedulable(struct kp_kube *k, const char *node, bool unschedulable,
				struct kp_buf *err)
{
	struct kp_buf p = KP_BUF_INIT;
	kp_buf_addstr(&p, "/api/v1/nodes/");
	add_escaped(&p, node);
	kp_rc rc = call(k, "PATCH", p.buf,
			unschedulable ? "{\"spec\":{\"unschedulable\":true}}"
				      : "{\"spec\":{\"unschedulable\":null}}",
			"application/merge-patch+json", NULL, err);
	kp_buf_release(&p);
	return rc;
}

/* ---- discovery ------------------------------------------------------------------- */

/* "group/version" of a group's preferredVersion in an APIGroupList */
static void preferred(const cJSON *groups, const char *group, char *out, size_t n)
{
	const cJSON *g;
	out[0] = '\0';
	cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(groups, "groups"))
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(g, "name");
		if (!cJSON_IsString(name) || strcmp(name->valuestring, group))
			continue;
		const cJSON *gv = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(g, "preferredVersion"), "groupVersion");
		if (cJSON_IsString(gv))
			snprintf(out, n, "%s", gv->valuestring);
		return;
	}
}

/* the group/version of pods/eviction in the APIResourceList of /api/v1, as
 * kubectl's CheckEvictionSupport reads it */
static void eviction_version(const cJSON *list, char *out, size_t n)
{
	const cJSON *r;
	out[0] = '\0';
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(list, "resources"))
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(r, "name");
		if (!cJSON_IsString(name) || strcmp(name->valuestring, "pods/eviction"))
			continue;
		const cJSON *g = cJSON_GetObjectItemCaseSensitive(r, "group");
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "version");
		if (cJSON_IsString(g) && cJSON_IsString(v))
			snprintf(out, n, "%s/%s", g->valuestring, v->valuestring);
		else /* no group/version given: the list's own (v1 of the core group) */
			snprintf(out, n, "v1");
		return;
	}
}

/* The run's discoveries: one per key, asked by the first client that
 * needs it while the others with its key wait (each entry's own lock), so
 * that a run asks each server once however many tasks and hosts it has. */
struct known_api {
	struct known_api *next;
	char *key;
	pthread_mutex_t lock; /* held while asking */
	bool known;
	struct kp_kube_api api;
};
static struct known_api *known_apis;
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;

static struct known_api *known_api_for(const char *key)
{
	pthread_mutex_lock(&known_lock);
	struct known_api *a = known_apis;
	while (a && strcmp(a->key, key))
		a = a->next;
	if (!a) {
		a = kp_xcalloc(1, sizeof(*a));
		a->key = kp_xstrdup(key);
		pthread_mutex_init(&a->lock, NULL);
		a->next = known_apis;
		known_apis = a;
	}
	pthread_mutex_unlock(&known_lock);
	return a;
}

void kp_kube_discovery_forget(void)
{
	pthread_mutex_lock(&known_lock);
	while (known_apis) {
		struct known_api *a = known_apis;
		known_apis = a->next;
		pthread_mutex_destroy(&a->lock);
		free(a->key);
		free(a);
	}
	pthread_mutex_unlock(&known_lock);
}

void kp_kube_set_discovery_key(struct kp_kube *k, const char *key)
{
	free(k->disc_key);
	k->disc_key = kp_xstrdup(key);
	k->api_known = false;
}

static kp_rc ask_api(struct kp_kube *k, struct kp_kube_api *api, struct kp_buf *err)
{
	cJSON *core = NULL, *groups = NULL;
	kp_rc rc = call(k, "GET", "/api/v1", NULL, NULL, &core, err);
	if (!rc)
		rc = call(k, "GET", "/apis", NULL, NULL, &groups, err);
	if (!rc) {
		eviction_version(core, api->eviction, sizeof(api->eviction));
		preferred(groups, "policy", api->pdb, sizeof(api->pdb));
		preferred(groups, "coordination.k8s.io", api->lease, sizeof(api->lease));
	}
	cJSON_Delete(core);
	cJSON_Delete(groups);
	return rc;
}

kp_rc kp_kube_discover(struct kp_kube *k, const struct kp_kube_api **api, struct kp_buf *err)
{
	if (!k->api_known) {
		struct known_api *a = known_api_for(k->disc_key);
		kp_rc rc = KP_OK;
		pthread_mutex_lock(&a->lock);
		if (a->known) {
			kp_log(
			    KP_LOG_TRACE,
			    "API discovery of %s: this run's (eviction %s, policy %s, leases %s)",
			    k->disc_key, *a->api.eviction ? a->api.eviction : "none",
			    *a->api.pdb ? a->api.pdb : "none",
			    *a->api.lease ? a->api.lease : "none");
		} else {
			rc = ask_api(k, &a->api, err);
			a->known = !rc;
			if (!rc)
				kp_log(KP_LOG_TRACE,
				       "API discovery of %s: asked once for this run (eviction %s, "
				       "policy %s, leases %s)",
				       k->disc_key, *a->api.eviction ? a->api.eviction : "none",
				       *a->api.pdb ? a->api.pdb : "none",
				       *a->api.lease ? a->api.lease : "none");
		}
		if (!rc)
			k->api = a->api;
		pthread_mutex_unlock(&a->lock);
		if (rc)
			return rc;
		k->api_known = true;
	}
	*api = &k->api;
	return KP_OK;
}

void kp_kube_req_get_pod(struct kp_kube_req *r, const char *ns, const char *name)
{
	struct kp_buf p = KP_BUF_INIT;
	pod_path(&p, ns, name);
	memset(r, 0, sizeof(*r));
	r->method = "GET";
	r->path = kp_buf_detach(&p, NULL);
	kp_buf_init(&r->err);
}

kp_rc kp_kube_req_evict(struct kp_kube *k, struct kp_kube_req *r, const char *ns, const char *name,
			int64_t grace_s, struct kp_buf *err)
{
	const struct kp_kube_api *api;
	memset(r, 0, sizeof(*r));
	kp_buf_init(&r->err);
	kp_rc rc = kp_kube_discover(k, &api, err);
	if (rc)
		return rc;
	if (!*api->eviction)
		return kp_errorf(err, KP_ERR_NOTFOUND,
				 "%s does not serve the pods/eviction subresource", k->desc);
	cJSON *ev = cJSON_CreateObject(), *md = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "apiVersion", api->eviction);
	cJSON_AddStringToObject(ev, "kind", "Eviction");
	cJSON_AddStringToObject(md, "name", name);
	cJSON_AddStringToObject(md, "namespace", ns);
	cJSON_AddItemToObject(ev, "metadata", md);
	if (grace_s >= 0) {
		cJSON *opts = cJSON_CreateObject();
		cJSON_AddNumberToObject(opts, "gracePeriodSeconds", (double)grace_s);
		cJSON_AddItemToObject(ev, "deleteOptions", opts);
	}
	char *body = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	r->body = kp_xstrdup(body);
	cJSON_free(body);
	struct kp_buf p = KP_BUF_INIT;
	pod_path(&p, ns, name);
	kp_buf_addstr(&p, "/eviction");
	r->method = "POST";
	r->path = kp_buf_detach(&p, NULL);
	return KP_OK;
}

kp_rc kp_kube_evict(struct kp_kube *k, const char *ns, const char *name, int64_t grace_s,
		    long *status, cJSON **json, struct kp_buf *err)
{
	struct kp_kube_req r;
	cJSON *j = NULL;
	kp_rc rc = kp_kube_req_evict(k, &r, ns, name, grace_s, err);
	if (!rc)
		rc = kp_kube_request(k, r.method, r.path, r.body, NULL, status, &j, err);
	kp_kube_req_release(&r);
	if (rc)
		return rc;
	if (json)
		*json = j;
	else
		cJSON_Delete(j);
	return KP_OK;
}

kp_rc kp_kube_delete_pod(struct kp_kube *k, const char *ns, const char *name, int64_t grace_s,
			 long *status, cJSON **json, struct kp_buf *err)
{
	struct kp_buf p = KP_BUF_INIT;
	cJSON *j = NULL;
	pod_path(&p, ns, name);
	if (grace_s >= 0)
		kp_buf_addf(&p, "?gracePeriodSeconds=%lld", (long long)grace_s);
	kp_rc rc = kp_kube_request(k, "DELETE", p.buf, NULL, NULL, status, &j, err);
	kp_buf_release(&p);
	if (!rc && json)
		*json = j;
	else
		cJSON_Delete(j);
	return rc;
}

kp_rc kp_kube_list_pdbs(struct kp_kube *k, const char *ns, cJSON **list, struct kp_buf *err)
{
	const struct kp_kube_api *api;
	kp_rc rc = kp_kube_discover(k, &api, err);
	if (rc)
		return rc;
	if (!*api->pdb)
		return kp_errorf(err, KP_ERR_NOTFOUND,
				 "%s does not serve PodDisruptionBudgets (no policy group)",
				 k->desc);
	struct kp_buf p = KP_BUF_INIT;
	kp_buf_addf(&p, "/apis/%s/namespaces/", api->pdb);
	add_escaped(&p, ns);
	kp_buf_addstr(&p, "/poddisruptionbudgets");
	rc = call(k, "GET", p.buf, NULL, NULL, list, err);
	kp_buf_release(&p);
	return rc;
}

kp_rc kp_kube_delete_node(struct kp_kube *k, const char *name, bool *existed, struct kp_buf *err)
{
	struct kp_buf p = KP_BUF_INIT;
	kp_buf_addstr(&p, "/api/v1/nodes/");
	add_escaped(&p, name);
	kp_rc rc = call(k, "DELETE", p.buf, NULL, NULL, NULL, err);
	kp_buf_release(&p);
	*existed = rc != KP_ERR_NOTFOUND;
	return rc == KP_ERR_NOTFOUND ? KP_OK : rc;
}

kp_rc kp_kube_version(struct kp_kube *k, char **git_version, struct kp_buf *err)
{
	cJSON *j = NULL;
	kp_rc rc = call(k, "GET", "/version", NULL, NULL, &j, err);
	if (rc)
		return rc;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "gitVersion");
	if (!cJSON_IsString(v))
		rc = kp_errorf(err, KP_ERR_PARSE, "'/version' of %s has no gitVersion", k->desc);
	else
		*git_version = kp_xstrdup(v->valuestring);
	cJSON_Delete(j);
	return rc;
}

/* ---- label selectors ----------------------------------------------------------------- */

static const char *label(const cJSON *labels, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool in_values(const cJSON *values, const char *v)
{
	const cJSON *x;
	cJSON_ArrayForEach(x, values)
	{
		if (cJSON_IsString(x) && v && !strcmp(x->valuestring, v))
			return true;
	}
	return false;
}

bool kp_kube_selector_matches(const cJSON *selector, const cJSON *labels)
{
	const cJSON *ml = cJSON_GetObjectItemCaseSensitive(selector, "matchLabels");
	const cJSON *me = cJSON_GetObjectItemCaseSensitive(selector, "matchExpressions");
	const cJSON *x;
	cJSON_ArrayForEach(x, ml)
	{
		const char *v = label(labels, x->string);
		if (!cJSON_IsString(x) || !v || strcmp(v, x->valuestring))
			return false;
	}
	cJSON_ArrayForEach(x, me)
	{
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(x, "key");
		const cJSON *op = cJSON_GetObjectItemCaseSensitive(x, "operator");
		const cJSON *vals = cJSON_GetObjectItemCaseSensitive(x, "values");
		if (!cJSON_IsString(k) || !cJSON_IsString(op))
			return false;
		const char *v = label(labels, k->valuestring);
		const char *o = op->valuestring;
		bool ok = !strcmp(o, "In")	       ? in_values(vals, v)
			  : !strcmp(o, "NotIn")	       ? !in_values(vals, v)
			  : !strcmp(o, "Exists")       ? v != NULL
			  : !strcmp(o, "DoesNotExist") ? v == NULL
						       : false;
		if (!ok)
			return false;
	}
	return true;
}
