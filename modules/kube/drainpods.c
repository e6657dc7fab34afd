/*
 * drainpods.c - the pods of a drain (see drain.h): kubectl's filters, in
 * kubectl's order, and removing the pods they let go, as kubectl's
 * deleteOrEvictPods does (drain.go): every eviction at once (kubectl's
 * goroutine per pod: here each round sends the requests of every pod that
 * is due together, kp_kube_requests), a pod a budget
 * holds (429) tried again every 5 s, one in a namespace being deleted
 * (403 NamespaceTerminating) waited for once it is terminating, each
 * removed pod looked at every second until it is gone, replaced, or
 * terminating past skip_wait_for_delete_timeout; all within the deadline.
 * Evictions use the group/version discovery names; a server without the
 * subresource gets deletions, as from kubectl.
 */
#include "kube/kubeapi.h"
#include "modules/kube/drain.h"
#include "modules/kube/kubeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>

/* kubectl's words (filters.go), with kplan's argument names for its flags */
#define DAEMONSET_FATAL	  "DaemonSet-managed Pods (use ignore_daemonsets: true to ignore)"
#define DAEMONSET_WARNING "ignoring DaemonSet-managed Pods"
#define LOCAL_FATAL	  "Pods with local storage (use delete_emptydir_data: true to override)"
#define LOCAL_WARNING	  "deleting Pods with local storage"
#define UNMANAGED_FATAL                                                                            \
	"cannot delete Pods that declare no controller (use force: true to override)"
#define UNMANAGED_WARNING "deleting Pods that declare no controller"

static const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *jget(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

void kp_drain_pods_clear(struct drain *d)
{
	for (size_t i = 0; i < d->npods; i++) {
		free(d->pods[i].ns);
		free(d->pods[i].name);
		free(d->pods[i].uid);
		free(d->pods[i].message);
	}
	d->npods = 0;
}

void kp_drain_free(void *p)
{
	struct drain *d = p;
	kp_drain_pods_clear(d);
	free(d->pods);
	kp_mod_kube_close(d->kube);
	free(d);
}

/* metav1.GetControllerOf: the first ownerReference with controller: true */
static const cJSON *controller_of(const cJSON *md)
{
	const cJSON *r;
	cJSON_ArrayForEach(r, jget(md, "ownerReferences"))
	{
		if (cJSON_IsTrue(jget(r, "controller")))
			return r;
	}
	return NULL;
}

static bool has_emptydir(const cJSON *spec)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, jget(spec, "volumes"))
	{
		if (jget(v, "emptyDir"))
			return true;
	}
	return false;
}

/* RFC 3339 (the API's "2026-12-07T16:43:05Z") in milliseconds, 0 when absent */
static int64_t rfc3339_ms(const char *s)
{
	struct tm tm = {0};
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static int64_t realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* shouldSkipPod: terminating for longer than skip_wait_for_delete_timeout
 * (whole seconds, as kubectl counts them) */
static bool should_skip(const struct kp_modctx *ctx, int64_t deletion_ms)
{
	int64_t skip_s = kp_arg_int(ctx, "skip_wait_for_delete_timeout") / 1000;
	return skip_s > 0 && deletion_ms && (realtime_ms() - deletion_ms) / 1000 > skip_s;
}

static void verdict(struct pod *p, bool remove, enum verdict v, const char *msg)
{
	p->remove = remove;
	p->verdict = v;
	free(p->message);
	p->message = msg ? kp_xstrdup(msg) : NULL;
}

/* daemonSetFilter: a DaemonSet's pod (by the controller's kind, as kubectl
 * checks it), unless finished; its DaemonSet is looked up (apps/v1). */
static kp_rc daemonset_filter(const struct kp_modctx *ctx, struct drain *d, const cJSON *item,
			      struct pod *p, struct kp_buf *err)
{
	const cJSON *ctl = controller_of(jget(item, "metadata"));
	const char *kind = ctl ? jstr(ctl, "kind") : NULL,
		   *phase = jstr(jget(item, "status"), "phase");
	if (!kind || strcmp(kind, "DaemonSet")) {
		verdict(p, true, V_OKAY, NULL);
		return KP_OK;
	}
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"))) {
		verdict(p, true, V_OKAY, NULL);
		return KP_OK;
	}
	struct kp_buf path = KP_BUF_INIT;
	long status = 0;
	cJSON *ds = NULL;
	kp_buf_addf(&path, "/apis/apps/v1/namespaces/%s/daemonsets/%s", p->ns,
		    jstr(ctl, "name") ? jstr(ctl, "name") : "");
	kp_rc rc = kp_kube_request(d->kube, "GET", path.buf, NULL, NULL, &status, &ds, err);
	kp_buf_release(&path);
	if (rc)
		return rc;
	if (status < 200 || status > 299) {
		/* the API's own words: daemonsets.apps "x" not found */
		const char *m = kp_kube_status_message(ds);
		if (status == 404 && kp_arg_bool(ctx, "force"))
			verdict(p, true, V_WARNING, m);
		else
			verdict(p, false, V_ERROR, m);
	} else if (!kp_arg_bool(ctx, "ignore_daemonsets")) {
		verdict(p, false, V_ERROR, DAEMONSET_FATAL);
	} else {
		verdict(p, false, V_WARNING, DAEMONSET_WARNING);
	}
	cJSON_Delete(ds);
	return KP_OK;
}

/* kubectl's filters in kubectl's order; the first that keeps the pod ends
 * it (makeFilters, GetPodsForDeletion). */
static kp_rc classify(const struct kp_modctx *ctx, struct drain *d, const cJSON *item,
		      struct pod *p, struct kp_buf *err)
{
	const cJSON *md = jget(item, "metadata"), *spec = jget(item, "spec");
	const char *phase = jstr(jget(item, "status"), "phase");
	bool finished = phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed"));

	/* skipDeletedFilter */
	if (should_skip(ctx, p->deletion_ms)) {
		verdict(p, false, V_SKIP, NULL);
		return KP_OK;
	}
	kp_rc rc = daemonset_filter(ctx, d, item, p, err);
	if (rc || !p->remove)
		return rc;
	/* mirrorPodFilter */
	if (jget(jget(md, "annotations"), "kubernetes.io/config.mirror")) {
		verdict(p, false, V_SKIP, NULL);
		return KP_OK;
	}
	/* localStorageFilter */
	if (has_emptydir(spec) && !finished) {
		if (!kp_arg_bool(ctx, "delete_emptydir_data")) {
			verdict(p, false, V_ERROR, LOCAL_FATAL);
			return KP_OK;
		}
		verdict(p, true, V_WARNING, LOCAL_WARNING);
	} else {
		verdict(p, true, V_OKAY, NULL);
	}
	/* unreplicatedFilter */
	if (finished || controller_of(md))
		verdict(p, true, V_OKAY, NULL);
	else if (kp_arg_bool(ctx, "force"))
		verdict(p, true, V_WARNING, UNMANAGED_WARNING);
	else
		verdict(p, false, V_ERROR, UNMANAGED_FATAL);
	return KP_OK;
}

kp_rc kp_drain_list_pods(struct kp_modctx *ctx, struct drain *d, struct kp_buf *err)
{
	cJSON *list = NULL, *item;
	kp_rc rc = kp_kube_list_pods(d->kube, d->node, kp_arg_str(ctx, "pod_selector"), &list, err);
	if (rc)
		return rc;
	kp_drain_pods_clear(d);
	cJSON_ArrayForEach(item, jget(list, "items"))
	{
		const cJSON *md = jget(item, "metadata");
		const char *ns = jstr(md, "namespace"), *name = jstr(md, "name");
		if (!name)
			continue;
		KP_GROW(d->pods, d->npods + 1, d->cap);
		struct pod *p = &d->pods[d->npods++];
		memset(p, 0, sizeof(*p));
		p->ns = kp_xstrdup(ns ? ns : "default");
		p->name = kp_xstrdup(name);
		p->uid = kp_xstrdup(jstr(md, "uid") ? jstr(md, "uid") : "");
		p->deletion_ms = rfc3339_ms(jstr(md, "deletionTimestamp"));
		rc = classify(ctx, d, item, p, err);
		if (rc)
			break;
	}
	cJSON_Delete(list);
	return rc;
}

/* "MSG: ns/a, ns/b" for each distinct message of the given verdict, in the
 * order of their first pod, joined by "; " (PodDeleteList's errors() and
 * Warnings(); errors get kubectl's "cannot delete " prefix). */
size_t kp_drain_by_message(const struct drain *d, enum verdict v, struct kp_buf *out)
{
	size_t groups = 0;
	for (size_t i = 0; i < d->npods; i++) {
		const struct pod *p = &d->pods[i];
		if (p->verdict != v || !p->message)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = d->pods[j].verdict == v && d->pods[j].message &&
			       !strcmp(d->pods[j].message, p->message);
		if (seen)
			continue;
		kp_buf_addf(out, "%s%s%s: ", groups++ ? "; " : "",
			    v == V_ERROR && strncasecmp(p->message, "cannot delete", 13)
				? "cannot delete "
				: "",
			    p->message);
		const char *sep = "";
		for (size_t j = i; j < d->npods; j++) {
			const struct pod *q = &d->pods[j];
			if (q->verdict == v && q->message && !strcmp(q->message, p->message)) {
				kp_buf_addf(out, "%s%s/%s", sep, q->ns, q->name);
				sep = ", ";
			}
		}
	}
	return groups;
}

/* An error of one pod: kubectl collects them and reports them all. fmt
 * gets the pod's name and namespace, in that order. */
static void pod_failed(struct pod *p, struct kp_buf *errs, const char *fmt, const char *what)
{
	p->progress = G_FAILED;
	if (errs->len)
		kp_buf_addstr(errs, "; ");
	kp_buf_addf(errs, fmt, p->name, p->ns);
	kp_buf_addstr(errs, what);
}

/* Whether a Status's causes include `reason` (apierrors.HasStatusCause). */
static bool has_cause(const cJSON *j, const char *reason)
{
	const cJSON *c;
	cJSON_ArrayForEach(c, jget(jget(j, "details"), "causes"))
	{
		const char *r = jstr(c, "reason");
		if (r && !strcmp(r, reason))
			return true;
	}
	return false;
}

/* The Status message, with the first cause's message when there is one
 * (a budget's name and numbers). */
static void answer_text(const cJSON *j, long status, struct kp_buf *out)
{
	const cJSON *c = cJSON_GetArrayItem(jget(jget(j, "details"), "causes"), 0);
	const char *m = kp_kube_status_message(j), *cm = c ? jstr(c, "message") : NULL;
	kp_buf_reset(out);
	kp_buf_addf(out, "%s", *m ? m : "");
	if (!*m)
		kp_buf_addf(out, "the server answered %ld", status);
	if (cm && *cm)
		kp_buf_addf(out, " (%s)", cm);
}

/* One eviction try (evictPods' loop body). */
/* What a drain prints as it goes, kubectl's lines in kubectl's words: its
 * standard output (evicting, evicted, deleted, skipped) into the result's
 * stdout, its standard error (the retries) into stderr; -v shows them
 * live. */
static void say(struct kp_result *res, bool to_err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct kp_result *res, bool to_err, const char *fmt, ...)
{
	struct kp_buf line = KP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	kp_buf_vaddf(&line, fmt, ap);
	va_end(ap);
	kp_buf_addf(to_err ? &res->err : &res->out, "%s\n", line.buf);
	kp_log(KP_LOG_INFO, "%s", line.buf);
	kp_buf_release(&line);
}

/* A request's answer that is not 2xx, as an error of kp_kube_get_pod. */
static void answer_error(const struct kp_kube_req *r, struct kp_buf *out)
{
	const char *m = kp_kube_status_message(r->json);
	kp_buf_reset(out);
	kp_buf_addf(out, "'%s %s' answered %ld%s%s", r->method, r->path, r->status, *m ? ": " : "",
		    m);
}

/* What one eviction answered (evictPods' loop body after EvictPod). */
static void evict_done(struct kp_result *res, struct pod *p, const struct kp_kube_req *r,
		       int64_t now, bool *refresh, struct kp_buf *last, struct kp_buf *errs)
{
	struct kp_buf e = KP_BUF_INIT;
	if (r->rc) {
		pod_failed(p, errs, "error when evicting pods/\"%s\" -n \"%s\": ", r->err.buf);
	} else if (r->status >= 200 && r->status < 300) {
		p->evicted = true;
		p->progress = G_WAITING;
		p->next_ms = now;
	} else if (r->status == 404) {
		p->progress = G_DONE;
	} else if (r->status == 429) {
		answer_text(r->json, r->status, last);
		say(res, true,
		    "error when evicting pods/\"%s\" -n \"%s\" (will retry after 5s): %s", p->name,
		    p->ns, kp_kube_status_message(r->json));
		p->next_ms = now + RETRY_429_MS;
	} else if (r->status == 403 && has_cause(r->json, "NamespaceTerminating")) {
		answer_text(r->json, r->status, last);
		if (p->deletion_ms) { /* terminating already: wait for it */
			p->progress = G_WAITING;
			p->next_ms = now;
		} else { /* until the namespace controller deletes it */
			say(res, true, "error when evicting pod \"%s\" (will retry after 5s): %s",
			    p->name, kp_kube_status_message(r->json));
			*refresh = true;
			p->next_ms = now + RETRY_429_MS;
		}
	} else {
		answer_text(r->json, r->status, &e);
		pod_failed(p, errs, "error when evicting pods/\"%s\" -n \"%s\": ", e.buf);
	}
	kp_buf_release(&e);
}

/* What one look at an evicted or deleted pod found (waitForDelete). */
static void wait_done(struct kp_modctx *ctx, struct kp_result *res, struct pod *p,
		      const struct kp_kube_req *r, bool del, int64_t now, struct kp_buf *errs)
{
	struct kp_buf e = KP_BUF_INIT;
	bool ok = !r->rc && r->status >= 200 && r->status < 300;
	const char *uid = ok ? jstr(jget(r->json, "metadata"), "uid") : NULL;
	if ((!r->rc && r->status == 404) || (uid && strcmp(uid, p->uid))) {
		p->progress = G_DONE;
		say(res, false, "pod/%s %s", p->name, del ? "deleted" : "evicted");
	} else if (!ok) {
		if (r->rc)
			kp_buf_addstr(&e, r->err.buf);
		else
			answer_error(r, &e);
		pod_failed(
		    p, errs,
		    "error when waiting for pod \"%s\" in namespace \"%s\" to terminate: ", e.buf);
	} else {
		p->deletion_ms = rfc3339_ms(jstr(jget(r->json, "metadata"), "deletionTimestamp"));
		if (should_skip(ctx, p->deletion_ms)) {
			p->progress = G_DONE;
			say(res, false,
			    "pod \"%s\" has DeletionTimestamp older than %lld seconds, "
			    "skipping",
			    p->name,
			    (long long)(kp_arg_int(ctx, "skip_wait_for_delete_timeout") / 1000));
		} else {
			p->next_ms = now + WAIT_POLL_MS;
		}
	}
	kp_buf_release(&e);
}

/* The pods whose eviction found their namespace being deleted are looked
 * at again before their next try (kubectl's refreshPod), all at once. */
static void refresh_round(struct drain *d, bool *refresh, int64_t now)
{
	struct kp_kube_req *reqs = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*reqs));
	size_t *who = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*who)), n = 0;
	for (size_t i = 0; i < d->npods; i++) {
		struct pod *p = &d->pods[i];
		if (p->progress != G_PENDING || p->next_ms > now || !refresh[i])
			continue;
		refresh[i] = false;
		kp_kube_req_get_pod(&reqs[n], p->ns, p->name);
		who[n++] = i;
	}
	if (n)
		kp_kube_requests(d->kube, reqs, n);
	for (size_t j = 0; j < n; j++) {
		/* errors are ignored: the eviction sorts it out with the old pod */
		if (!reqs[j].rc && reqs[j].status >= 200 && reqs[j].status < 300)
			d->pods[who[j]].deletion_ms =
			    rfc3339_ms(jstr(jget(reqs[j].json, "metadata"), "deletionTimestamp"));
		kp_kube_req_release(&reqs[j]);
	}
	free(reqs);
	free(who);
}

/* One step of every pod that is due, the requests all at once (kubectl's
 * goroutine per pod): evictions of the pending, looks at the removed. */
static void step_round(struct kp_modctx *ctx, struct kp_result *res, struct drain *d,
		       int64_t grace_s, bool del, bool *refresh, struct kp_buf *last,
		       struct kp_buf *errs)
{
	struct kp_kube_req *reqs = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*reqs));
	size_t *who = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*who)), n = 0;
	int64_t now = kp_now_ms();
	struct kp_buf e = KP_BUF_INIT;
	for (size_t i = 0; i < d->npods; i++) {
		struct pod *p = &d->pods[i];
		if (p->next_ms > now)
			continue;
		if (p->progress == G_PENDING) {
			kp_buf_reset(&e);
			say(res, false, "evicting pod %s/%s", p->ns, p->name);
			if (kp_kube_req_evict(d->kube, &reqs[n], p->ns, p->name, grace_s, &e)) {
				kp_kube_req_release(&reqs[n]);
				pod_failed(p, errs,
					   "error when evicting pods/\"%s\" -n \"%s\": ", e.buf);
				continue;
			}
		} else if (p->progress == G_WAITING) {
			kp_kube_req_get_pod(&reqs[n], p->ns, p->name);
		} else {
			continue;
		}
		who[n++] = i;
	}
	if (n)
		kp_kube_requests(d->kube, reqs, n);
	now = kp_now_ms();
	for (size_t j = 0; j < n; j++) {
		size_t i = who[j];
		struct pod *p = &d->pods[i];
		if (p->progress == G_PENDING)
			evict_done(res, p, &reqs[j], now, &refresh[i], &last[i], errs);
		else
			wait_done(ctx, res, p, &reqs[j], del, now, errs);
		kp_kube_req_release(&reqs[j]);
	}
	kp_buf_release(&e);
	free(reqs);
	free(who);
}

/* Remove the pods the filters let go, all at once, within the deadline
 * (deleteOrEvictPods). Fails the task with every pod's error. */
void kp_drain_remove_pods(struct kp_modctx *ctx, struct kp_result *res, struct drain *d,
			  int64_t deadline)
{
	int64_t grace_s = kp_arg(ctx, "grace_period") ? kp_arg_int(ctx, "grace_period") / 1000 : -1;
	bool del = kp_arg_bool(ctx, "disable_eviction");
	struct kp_buf errs = KP_BUF_INIT, e = KP_BUF_INIT, tmo = KP_BUF_INIT;
	struct kp_buf *last = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*last));
	bool *refresh = kp_xcalloc(d->npods ? d->npods : 1, sizeof(*refresh));
	for (size_t i = 0; i < d->npods; i++)
		kp_buf_init(&last[i]);
	kp_mod_duration_text(kp_arg_int(ctx, "timeout"), &tmo);

	const struct kp_kube_api *api = NULL;
	if (!del && kp_kube_discover(d->kube, &api, &e)) {
		kp_mod_failf(res, "draining node '%s': %s", d->node, e.buf);
		goto out;
	}
	if (!del && !*api->eviction)
		del = true; /* no eviction on this server: kubectl deletes */
	for (size_t i = 0; i < d->npods; i++) {
		struct pod *p = &d->pods[i];
		p->progress = p->remove ? G_PENDING : G_NONE;
		p->next_ms = 0;
		if (!p->remove || !del)
			continue;
		/* deletePods: one after another, stopping at the first error */
		long status = 0;
		cJSON *j = NULL;
		kp_buf_reset(&e);
		kp_rc rc = kp_kube_delete_pod(d->kube, p->ns, p->name, grace_s, &status, &j, &e);
		if (!rc && status >= 200 && status < 300) {
			p->deleted = true;
			p->progress = G_WAITING;
		} else if (!rc && status == 404) {
			p->progress = G_DONE;
		} else {
			if (!rc)
				answer_text(j, status, &e);
			cJSON_Delete(j);
			pod_failed(p, &errs, "error when deleting pod \"%s\" in \"%s\": ", e.buf);
			goto report;
		}
		cJSON_Delete(j);
	}
	for (;;) {
		refresh_round(d, refresh, kp_now_ms());
		step_round(ctx, res, d, grace_s, del, refresh, last, &errs);
		int64_t now = kp_now_ms(), wake = now + WAIT_POLL_MS;
		size_t active = 0;
		for (size_t i = 0; i < d->npods; i++) {
			const struct pod *p = &d->pods[i];
			if (p->progress == G_PENDING || p->progress == G_WAITING) {
				active++;
				if (p->next_ms < wake)
					wake = p->next_ms;
			}
		}
		if (!active)
			break;
		if (now >= deadline) {
			for (size_t i = 0; i < d->npods; i++) {
				struct pod *p = &d->pods[i];
				kp_buf_reset(&e);
				kp_buf_addf(&e, "global timeout reached: %s", tmo.buf);
				if (last[i].len)
					kp_buf_addf(&e, " (last answer: %s)", last[i].buf);
				if (p->progress == G_PENDING)
					pod_failed(
					    p, &errs,
					    "error when evicting pods/\"%s\" -n \"%s\": ", e.buf);
				else if (p->progress == G_WAITING)
					pod_failed(p, &errs,
						   "error when waiting for pod \"%s\" in namespace "
						   "\"%s\" to terminate: ",
						   "context deadline exceeded");
			}
			break;
		}
		/* the second Ctrl-C stops a step in flight: the node stays
		 * cordoned, as after any failed drain */
		if (ctx->interrupts && *ctx->interrupts >= 2) {
			kp_buf_addstr(&errs, errs.len ? "; interrupted" : "interrupted");
			break;
		}
		int64_t until = wake < deadline ? wake : deadline;
		if (until > now)
			kp_sleep_ms(until - now < 200 ? until - now : 200);
	}
report:
	if (errs.len)
		kp_mod_failf(res, "draining node '%s': %s", d->node, errs.buf);
out:
	for (size_t i = 0; i < d->npods; i++)
		kp_buf_release(&last[i]);
	free(last);
	free(refresh);
	kp_buf_release(&errs);
	kp_buf_release(&e);
	kp_buf_release(&tmo);
}
