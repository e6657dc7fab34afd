/*
 * drainpods.c - the pods of a drain (see drain.h): kubectl's filters, in
 * kubectl's order, and removing the pods they let go, as kubectl's
 * deleteOrEvictPods does (drain.go): every eviction at once, a pod a budget
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
static void evict_try(struct kp_modctx *ctx, struct drain *d, struct pod *p, int64_t grace_s,
		      int64_t now, bool *refresh, struct kp_buf *last, struct kp_buf *errs)
{
	long status = 0;
	cJSON *j = NULL;
	struct kp_buf e = KP_BUF_INIT;
	if (*refresh) {
		/* errors are ignored: the eviction sorts it out with the old pod */
		if (!kp_kube_get_pod(d->kube, p->ns, p->name, &j, NULL))
			p->deletion_ms = rfc3339_ms(jstr(jget(j, "metadata"), "deletionTimestamp"));
		cJSON_Delete(j);
		j = NULL;
		*refresh = false;
	}
	kp_rc rc = kp_kube_evict(d->kube, p->ns, p->name, grace_s, &status, &j, &e);
	if (rc) {
		pod_failed(p, errs, "error when evicting pods/\"%s\" -n \"%s\": ", e.buf);
	} else if (status >= 200 && status < 300) {
		p->evicted = true;
		p->progress = G_WAITING;
		p->next_ms = now;
	} else if (status == 404) {
		p->progress = G_DONE;
	} else if (status == 429) {
		answer_text(j, status, last);
		p->next_ms = now + RETRY_429_MS;
	} else if (status == 403 && has_cause(j, "NamespaceTerminating")) {
		answer_text(j, status, last);
		if (p->deletion_ms) { /* terminating already: wait for it */
			p->progress = G_WAITING;
			p->next_ms = now;
		} else { /* until the namespace controller deletes it */
			*refresh = true;
			p->next_ms = now + RETRY_429_MS;
		}
	} else {
		answer_text(j, status, &e);
		pod_failed(p, errs, "error when evicting pods/\"%s\" -n \"%s\": ", e.buf);
	}
	cJSON_Delete(j);
	kp_buf_release(&e);
	(void)ctx;
}

/* One look at an evicted or deleted pod (waitForDelete). */
static void wait_try(struct kp_modctx *ctx, struct drain *d, struct pod *p, int64_t now,
		     struct kp_buf *errs)
{
	cJSON *j = NULL;
	struct kp_buf e = KP_BUF_INIT;
	kp_rc rc = kp_kube_get_pod(d->kube, p->ns, p->name, &j, &e);
	const char *uid = rc ? NULL : jstr(jget(j, "metadata"), "uid");
	if (rc == KP_ERR_NOTFOUND || (!rc && uid && strcmp(uid, p->uid))) {
		p->progress = G_DONE;
	} else if (rc) {
		pod_failed(
		    p, errs,
		    "error when waiting for pod \"%s\" in namespace \"%s\" to terminate: ", e.buf);
	} else {
		p->deletion_ms = rfc3339_ms(jstr(jget(j, "metadata"), "deletionTimestamp"));
		if (should_skip(ctx, p->deletion_ms))
			p->progress = G_DONE; /* "has DeletionTimestamp older than N seconds" */
		else
			p->next_ms = now + WAIT_POLL_MS;
	}
	cJSON_Delete(j);
	kp_buf_release(&e);
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
			/* deletePods stops at the first error */
			pod_failed(p, &errs, "error when deleting pod \"%s\" in \"%s\": ", e.buf);
			goto report;
		}
		cJSON_Delete(j);
	}
	for (;;) {
		int64_t now = kp_now_ms(), wake = now + WAIT_POLL_MS;
		size_t active = 0;
		for (size_t i = 0; i < d->npods; i++) {
			struct pod *p = &d->pods[i];
			if (p->progress == G_PENDING && p->next_ms <= now)
				evict_try(ctx, d, p, grace_s, now, &refresh[i], &last[i], &errs);
			else if (p->progress == G_WAITING && p->next_ms <= now)
				wait_try(ctx, d, p, now, &errs);
			if (p->progress == G_PENDING || p->progress == G_WAITING) {
				active++;
				if (p->next_ms < wake)
					wake = p->next_ms;
			}
		}
		if (!active)
			break;
		now = kp_now_ms();
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
