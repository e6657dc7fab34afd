/* runlock.c - run locks: a Kubernetes Lease, or a lock directory on the
 * first control-plane host; see runlock.h. */
#include "engine/runlock.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/kubeapi.h"

#define LEASE_NS  "kube-system"
#define LOCK_ROOT "/var/lock"

void kp_runlock_holder(struct kp_buf *out)
{
	char host[256] = "controller";
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	const char *user = "unknown";
	gethostname(host, sizeof(host) - 1);
	if (!getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) && res)
		user = pw.pw_name;
	kp_buf_addf(out, "%s@%s:%d", user, host, (int)getpid());
}

/* Kubernetes MicroTime: 2026-11-21T01:50:00.000000Z */
static void microtime(char *buf, size_t n, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S.000000Z", &tm);
}

static time_t parse_time(const char *s)
{
	struct tm tm = {0};
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

/* The Lease's duration: KP_LEASE_SECONDS, or $KPLAN_LEASE_SECONDS (5 to
 * 86400) for tests and emergencies (a short one lets a crashed run's lock
 * go sooner; every controller that may race should use the same). */
static int lease_seconds(void)
{
	const char *v = getenv("KPLAN_LEASE_SECONDS");
	char *end = NULL;
	long n = v && *v ? strtol(v, &end, 10) : 0;
	if (!v || !*v || *end || n < 5 || n > 86400)
		return KP_LEASE_SECONDS;
	return (int)n;
}

static void lease_path(const struct kp_runlock *l, struct kp_buf *p)
{
	kp_buf_addf(p, "/apis/%s/namespaces/%s/leases/kplan-%s", l->lease_gv, LEASE_NS, l->name);
}

static cJSON *lease_body(const struct kp_runlock *l, const char *acquired, const char *rv)
{
	char now[40];
	microtime(now, sizeof(now), time(NULL));
	cJSON *b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "apiVersion", l->lease_gv);
	cJSON_AddStringToObject(b, "kind", "Lease");
	cJSON *md = cJSON_AddObjectToObject(b, "metadata");
	struct kp_buf name = KP_BUF_INIT;
	kp_buf_addf(&name, "kplan-%s", l->name);
	cJSON_AddStringToObject(md, "name", name.buf);
	kp_buf_release(&name);
	cJSON_AddStringToObject(md, "namespace", LEASE_NS);
	if (rv)
		cJSON_AddStringToObject(md, "resourceVersion", rv);
	cJSON *spec = cJSON_AddObjectToObject(b, "spec");
	cJSON_AddStringToObject(spec, "holderIdentity", l->holder);
	cJSON_AddNumberToObject(spec, "leaseDurationSeconds", lease_seconds());
	cJSON_AddStringToObject(spec, "acquireTime", acquired ? acquired : now);
	cJSON_AddStringToObject(spec, "renewTime", now);
	return b;
}

static const char *jstr(const cJSON *o, const char *path1, const char *path2)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, path1);
	if (path2)
		v = cJSON_GetObjectItemCaseSensitive(v, path2);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static kp_rc held_by(const struct kp_runlock *l, const cJSON *lease, struct kp_buf *err)
{
	const char *holder = jstr(lease, "spec", "holderIdentity");
	const char *since = jstr(lease, "spec", "acquireTime");
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(lease, "spec"), "leaseDurationSeconds");
	return kp_errorf(err, KP_ERR_LOCKED,
			 "run lock '%s' is held by %s since %s (Lease %s/kplan-%s; it expires %ds "
			 "after its holder stops renewing it)",
			 l->name, holder ? holder : "someone", since ? since : "an unknown time",
			 LEASE_NS, l->name, cJSON_IsNumber(dur) ? dur->valueint : lease_seconds());
}

/* One attempt: create the Lease, or take it over when it expired. */
static kp_rc lease_take(struct kp_runlock *l, struct kp_buf *err)
{
	struct kp_buf path = KP_BUF_INIT, coll = KP_BUF_INIT;
	cJSON *lease = NULL;
	long status = 0;
	kp_rc rc;

	lease_path(l, &path);
	rc = kp_kube_request(l->kube, "GET", path.buf, NULL, NULL, &status, &lease, err);
	if (rc)
		goto out;
	if (status == 404) {
		cJSON *b = lease_body(l, NULL, NULL);
		char *s = cJSON_PrintUnformatted(b);
		cJSON_Delete(b);
		kp_buf_addf(&coll, "/apis/%s/namespaces/%s/leases", l->lease_gv, LEASE_NS);
		cJSON_Delete(lease);
		lease = NULL;
		rc = kp_kube_request(l->kube, "POST", coll.buf, s, NULL, &status, &lease, err);
		cJSON_free(s);
		if (!rc && status == 409) {
			/* someone created it between our GET and POST */
			cJSON_Delete(lease);
			lease = NULL;
			rc = kp_kube_request(l->kube, "GET", path.buf, NULL, NULL, &status, &lease,
					     err);
			if (!rc)
				rc = held_by(l, lease, err);
		} else if (!rc && (status < 200 || status > 299)) {
			rc = kp_errorf(err, KP_ERR_IO, "cannot create Lease %s/kplan-%s: %ld %s",
				       LEASE_NS, l->name, status, kp_kube_status_message(lease));
		}
		goto out;
	}
	if (status < 200 || status > 299) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot read Lease %s/kplan-%s: %ld %s", LEASE_NS,
			       l->name, status, kp_kube_status_message(lease));
		goto out;
	}
	const char *holder = jstr(lease, "spec", "holderIdentity");
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(lease, "spec"), "leaseDurationSeconds");
	time_t renew = parse_time(jstr(lease, "spec", "renewTime"));
	int secs = cJSON_IsNumber(dur) ? dur->valueint : lease_seconds();
	bool mine = holder && !strcmp(holder, l->holder);
	if (holder && *holder && !mine && renew + secs > time(NULL)) {
		rc = held_by(l, lease, err);
		goto out;
	}
	/* expired (its holder died) or released: take it over */
	cJSON *b = lease_body(l, NULL, jstr(lease, "metadata", "resourceVersion"));
	char *s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	cJSON_Delete(lease);
	lease = NULL;
	rc = kp_kube_request(l->kube, "PUT", path.buf, s, NULL, &status, &lease, err);
	cJSON_free(s);
	if (!rc && status == 409) {
		cJSON_Delete(lease);
		lease = NULL;
		rc = kp_kube_request(l->kube, "GET", path.buf, NULL, NULL, &status, &lease, err);
		if (!rc)
			rc = held_by(l, lease, err);
	} else if (!rc && (status < 200 || status > 299)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot take over Lease %s/kplan-%s: %ld %s",
			       LEASE_NS, l->name, status, kp_kube_status_message(lease));
	}
out:
	cJSON_Delete(lease);
	kp_buf_release(&path);
	kp_buf_release(&coll);
	return rc;
}

static kp_rc lease_renew(struct kp_runlock *l, struct kp_buf *err)
{
	struct kp_buf path = KP_BUF_INIT;
	cJSON *lease = NULL;
	long status = 0;
	lease_path(l, &path);
	kp_rc rc = kp_kube_request(l->kube, "GET", path.buf, NULL, NULL, &status, &lease, err);
	if (!rc && status == 200) {
		const char *holder = jstr(lease, "spec", "holderIdentity");
		if (!holder || strcmp(holder, l->holder)) {
			rc = kp_errorf(err, KP_ERR_LOCKED, "the run lock '%s' was taken by %s",
				       l->name, holder ? holder : "someone else");
		} else {
			cJSON *b = lease_body(l, jstr(lease, "spec", "acquireTime"),
					      jstr(lease, "metadata", "resourceVersion"));
			char *s = cJSON_PrintUnformatted(b);
			cJSON_Delete(b);
			cJSON_Delete(lease);
			lease = NULL;
			rc = kp_kube_request(l->kube, "PUT", path.buf, s, NULL, &status, &lease,
					     err);
			cJSON_free(s);
		}
	}
	cJSON_Delete(lease);
	kp_buf_release(&path);
	return rc;
}

static void *renewer(void *arg)
{
	struct kp_runlock *l = arg;
	pthread_mutex_lock(&l->m);
	while (!l->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += lease_seconds() / 3;
		pthread_cond_timedwait(&l->cv, &l->m, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->m);
		struct kp_buf err = KP_BUF_INIT;
		kp_rc rc = lease_renew(l, &err);
		pthread_mutex_lock(&l->m);
		if (rc && !l->lost)
			l->lost = kp_buf_detach(&err, NULL);
		kp_buf_release(&err);
	}
	pthread_mutex_unlock(&l->m);
	return NULL;
}

/* The lock directory: mkdir is atomic on every filesystem */
static kp_rc dir_take(struct kp_runlock *l, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT, info = KP_BUF_INIT;
	struct kp_exec_res r;
	char now[40];
	kp_rc rc;

	microtime(now, sizeof(now), time(NULL));
	struct kp_buf d = KP_BUF_INIT;
	kp_buf_addf(&d, "%s/kplan-%s", LOCK_ROOT, l->name);
	l->dir = kp_buf_detach(&d, NULL);
	kp_buf_addf(&info, "%s since %s", l->holder, now);
	kp_buf_addstr(&cmd, "mkdir -p " LOCK_ROOT " && if mkdir ");
	kp_sh_quote(&cmd, l->dir);
	kp_buf_addstr(&cmd, " 2>/dev/null; then printf '%s\\n' ");
	kp_sh_quote(&cmd, info.buf);
	kp_buf_addstr(&cmd, " > ");
	kp_sh_quote(&cmd, l->dir);
	kp_buf_addstr(&cmd, "/holder; echo taken; else cat ");
	kp_sh_quote(&cmd, l->dir);
	kp_buf_addstr(&cmd, "/holder 2>/dev/null || echo 'someone (no holder file)'; fi");
	kp_exec_res_init(&r);
	rc = kp_conn_sh(l->conn, cmd.buf, 30000, &r, err);
	if (!rc && r.rc != 0)
		rc = kp_errorf(err, KP_ERR_IO, "cannot take the run lock '%s' on %s: %s", l->name,
			       l->conn->host, r.err.buf);
	if (!rc && strncmp(r.out.buf, "taken", 5)) {
		size_t n = strcspn(r.out.buf, "\n");
		rc = kp_errorf(err, KP_ERR_LOCKED,
			       "run lock '%s' is held by %.*s (lock directory %s on %s; remove it "
			       "if that run is gone)",
			       l->name, (int)n, r.out.buf, l->dir, l->conn->host);
	}
	if (rc) {
		free(l->dir);
		l->dir = NULL;
	}
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&info);
	return rc;
}

kp_rc kp_runlock_acquire(struct kp_runlock *l, const char *name, struct kp_kube *kube,
			 struct kp_conn *conn, struct kp_buf *err)
{
	struct kp_buf h = KP_BUF_INIT;
	kp_rc rc;

	memset(l, 0, sizeof(*l));
	l->name = kp_xstrdup(name);
	kp_runlock_holder(&h);
	l->holder = kp_buf_detach(&h, NULL);
	pthread_mutex_init(&l->m, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->kube = kube;
	l->conn = kube ? NULL : conn;
	if (kube) {
		/* the Lease of the version the server serves (discovery) */
		const struct kp_kube_api *api;
		rc = kp_kube_discover(kube, &api, err);
		if (!rc && !*api->lease)
			rc = kp_errorf(err, KP_ERR_NOTFOUND,
				       "run lock '%s': %s serves no Leases (coordination.k8s.io, "
				       "Kubernetes 1.12 and later)",
				       name, kp_kube_describe(kube));
		if (!rc) {
			snprintf(l->lease_gv, sizeof(l->lease_gv), "%s", api->lease);
			rc = lease_take(l, err);
		}
		if (!rc && !pthread_create(&l->renewer, NULL, renewer, l))
			l->renewing = true;
	} else if (conn) {
		rc = dir_take(l, err);
	} else {
		rc = kp_errorf(
		    err, KP_ERR_INVALID,
		    "run lock '%s': no Kubernetes API (no kubeconfig) and no control-plane "
		    "host to hold a lock directory",
		    name);
	}
	if (rc) {
		kp_runlock_release(l);
		return rc;
	}
	return KP_OK;
}

void kp_runlock_release(struct kp_runlock *l)
{
	if (l->renewing) {
		pthread_mutex_lock(&l->m);
		l->stop = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->m);
		pthread_join(l->renewer, NULL);
		l->renewing = false;
		/* delete the Lease only while it is still ours */
		struct kp_buf path = KP_BUF_INIT;
		cJSON *lease = NULL;
		long status = 0;
		lease_path(l, &path);
		if (!kp_kube_request(l->kube, "GET", path.buf, NULL, NULL, &status, &lease, NULL) &&
		    status == 200) {
			const char *holder = jstr(lease, "spec", "holderIdentity");
			bool mine = holder && !strcmp(holder, l->holder);
			cJSON_Delete(lease);
			lease = NULL;
			if (mine)
				kp_kube_request(l->kube, "DELETE", path.buf, NULL, NULL, &status,
						&lease, NULL);
		}
		cJSON_Delete(lease);
		kp_buf_release(&path);
	}
	if (l->dir && l->conn) {
		struct kp_buf cmd = KP_BUF_INIT;
		struct kp_exec_res r;
		kp_buf_addstr(&cmd, "rm -rf ");
		kp_sh_quote(&cmd, l->dir);
		kp_exec_res_init(&r);
		kp_conn_sh(l->conn, cmd.buf, 30000, &r, NULL);
		kp_exec_res_release(&r);
		kp_buf_release(&cmd);
	}
	if (l->kube)
		kp_kube_free(l->kube);
	free(l->name);
	free(l->holder);
	free(l->dir);
	free(l->lost);
	pthread_mutex_destroy(&l->m);
	pthread_cond_destroy(&l->cv);
	memset(l, 0, sizeof(*l));
}
