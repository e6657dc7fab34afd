/*
 * kubeapi.c - the Kubernetes API client: making one, and its requests,
 * direct (libcurl here) or through kubectl (kubectl.c), with the retry
 * rules; the calls built on it are in kubecalls.c; see kubeapi.h.
 *
 * The direct client resets its easy handle before each request and sets
 * every option again: a handle that served a PATCH must not leak its
 * method or body into the next GET, and reset keeps the connection cache,
 * so TLS sessions are still reused.
 */
#include "kube/kubeapi.h"
#include "core/redact.h"
#include "kube/kubeapi_int.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

kp_rc kp_kube_global_init(struct kp_buf *err)
{
	CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (c)
		return kp_errorf(err, KP_ERR_IO, "cannot initialise libcurl: %s",
				 curl_easy_strerror(c));
	return KP_OK;
}

void kp_kube_global_release(void)
{
	kp_kube_discovery_forget();
	curl_global_cleanup();
}

static char *dupn(const char *s, size_t n)
{
	if (!s)
		return NULL;
	char *p = kp_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

kp_rc kp_kube_new(const struct kp_kubeconfig *kc, struct kp_kube **out, struct kp_buf *err)
{
	struct kp_kube *k = kp_xcalloc(1, sizeof(*k));
	k->curl = curl_easy_init();
	if (!k->curl) {
		free(k);
		return kp_errorf(err, KP_ERR_NOMEM, "cannot create a libcurl handle");
	}
	k->server = kp_xstrdup(kc->server);
	for (size_t n = strlen(k->server); n && k->server[n - 1] == '/'; n--)
		k->server[n - 1] = '\0';
	k->ca = dupn(kc->ca, kc->ca_len);
	k->ca_len = kc->ca_len;
	k->cert = dupn(kc->cert, kc->cert_len);
	k->cert_len = kc->cert_len;
	k->key = dupn(kc->key, kc->key_len);
	k->key_len = kc->key_len;
	k->token = kc->token ? kp_xstrdup(kc->token) : NULL;
	k->insecure = kc->insecure;
	k->connect_ms = KP_KUBE_CONNECT_MS;
	k->total_ms = KP_KUBE_TOTAL_MS;
	k->attempts = KP_KUBE_ATTEMPTS;
	k->first_ms = KP_KUBE_BACKOFF_MS;
	snprintf(k->desc, sizeof(k->desc), "%s (kubeconfig '%s')", k->server, kc->path);
	k->disc_key = kp_xstrdup(k->desc);
	*out = k;
	return KP_OK;
}

struct kp_kube *kp_kube_new_kubectl(kp_kube_exec_fn fn, void *arg, const char *kubeconfig)
{
	struct kp_kube *k = kp_xcalloc(1, sizeof(*k));
	k->kubectl = true;
	k->fn = fn;
	k->fn_arg = arg;
	k->kubeconfig = kp_xstrdup(kubeconfig);
	k->connect_ms = KP_KUBE_CONNECT_MS;
	k->total_ms = KP_KUBE_TOTAL_MS;
	k->attempts = KP_KUBE_ATTEMPTS;
	k->first_ms = KP_KUBE_BACKOFF_MS;
	snprintf(k->desc, sizeof(k->desc), "kubectl --kubeconfig %s", kubeconfig);
	k->disc_key = kp_xstrdup(k->desc);
	return k;
}

void kp_kube_free(struct kp_kube *k)
{
	if (!k)
		return;
	if (k->curl)
		curl_easy_cleanup(k->curl);
	for (size_t i = 0; i < k->neasy; i++)
		curl_easy_cleanup(k->easy[i]);
	if (k->multi)
		curl_multi_cleanup(k->multi);
	free(k->disc_key);
	free(k->server);
	free(k->ca);
	free(k->cert);
	if (k->key) {
		memset(k->key, 0, k->key_len);
		free(k->key);
	}
	if (k->token) {
		memset(k->token, 0, strlen(k->token));
		free(k->token);
	}
	free(k->kubeconfig);
	free(k);
}

void *kp_kube_exec_arg(const struct kp_kube *k)
{
	return k->kubectl ? k->fn_arg : NULL;
}

void kp_kube_set_timeouts(struct kp_kube *k, int64_t connect_ms, int64_t total_ms)
{
	if (connect_ms)
		k->connect_ms = connect_ms;
	if (total_ms)
		k->total_ms = total_ms;
}

void kp_kube_set_retries(struct kp_kube *k, int attempts, int64_t first_backoff_ms)
{
	k->attempts = attempts < 1 ? 1 : attempts;
	k->first_ms = first_backoff_ms < 0 ? 0 : first_backoff_ms;
}

const char *kp_kube_describe(const struct kp_kube *k)
{
	return k->desc;
}

const char *kp_kube_status_message(const struct cJSON *json)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
	if (cJSON_IsString(m) && *m->valuestring)
		return m->valuestring;
	m = cJSON_GetObjectItemCaseSensitive(json, "reason");
	return cJSON_IsString(m) ? m->valuestring : "";
}

/* ---- direct ------------------------------------------------------------------ */

struct body {
	struct kp_buf b;
	bool too_big;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *r = arg;
	size_t len = size * n;
	if (r->b.len + len > KP_KUBE_MAX_RESPONSE) {
		r->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	kp_buf_add(&r->b, p, len);
	return len;
}

/*
 * -vvv: libcurl's verbose trace (connection, TLS, the request line and
 * headers sent, the status line and headers received) through kp_log,
 * which redacts the run's secrets and writes whole lines to stderr, each
 * naming the API server. Bodies (Secrets, tokens in answers) and TLS bytes
 * are never shown; the value of an Authorization (or cookie) header is
 * replaced by <hidden>, and the client's token anywhere else too.
 */
struct http_trace {
	const char *who;   /* the server */
	const char *token; /* or NULL */
};

static bool sensitive_header(const char *line, size_t n)
{
	static const char *const names[] = {
	    "authorization:", "proxy-authorization:", "cookie:", "set-cookie:"};
	for (size_t i = 0; i < KP_ARRAY_LEN(names); i++) {
		size_t l = strlen(names[i]);
		if (n >= l && !strncasecmp(line, names[i], l))
			return true;
	}
	return false;
}

static int http_trace_cb(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
	const struct http_trace *t = arg;
	const char *mark;
	(void)c;
	switch (type) {
	case CURLINFO_TEXT:
		mark = "*";
		break;
	case CURLINFO_HEADER_OUT:
		mark = ">";
		break;
	case CURLINFO_HEADER_IN:
		mark = "<";
		break;
	default:
		return 0; /* bodies and TLS data */
	}
	for (size_t at = 0; at < size;) {
		size_t end = at;
		while (end < size && data[end] != '\n')
			end++;
		size_t n = end - at;
		while (n && (data[at + n - 1] == '\r' || data[at + n - 1] == '\n'))
			n--;
		if (n) {
			struct kp_buf line = KP_BUF_INIT;
			if (sensitive_header(data + at, n)) {
				const char *colon = memchr(data + at, ':', n);
				kp_buf_add(&line, data + at, (size_t)(colon - (data + at)) + 1);
				kp_buf_addstr(&line, " <hidden>");
			} else {
				kp_buf_add(&line, data + at, n);
			}
			if (t->token && *t->token) {
				struct kp_redact r = {0};
				kp_redact_add(&r, t->token);
				kp_redact_apply(&r, &line);
				kp_redact_release(&r);
			}
			kp_log_raw(KP_LOG_TRACE, "http %s: %s %s", t->who, mark, line.buf);
			kp_buf_release(&line);
		}
		at = end + 1;
	}
	return 0;
}

static void http_trace_on(CURL *c, const struct http_trace *t)
{
	if (kp_log_level < KP_LOG_TRACE) {
		curl_easy_setopt(c, CURLOPT_VERBOSE, 0L);
		return;
	}
	curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, http_trace_cb);
	curl_easy_setopt(c, CURLOPT_DEBUGDATA, (void *)t);
	curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
}

static void set_blob(CURL *c, CURLoption opt, char *data, size_t len)
{
	struct curl_blob blob = {.data = data, .len = len, .flags = CURL_BLOB_COPY};
	curl_easy_setopt(c, opt, &blob);
}

/* A request that may be sent twice: see kp_kube_request. */
static bool idempotent(const char *method, const char *content_type)
{
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		return true;
	if (!strcmp(method, "PATCH"))
		return !content_type || strstr(content_type, "merge-patch") != NULL;
	return false;
}

/* What a failed request may have done, for kp_kube_request's retries. */
enum fate {
	F_SENT,	     /* it reached the server: it may have been carried out */
	F_NOT_SENT,  /* no byte of it was sent (connecting or the handshake
		      * failed): trying again cannot do anything twice */
	F_PERMANENT, /* trying again cannot help: the server's certificate does
		      * not verify, it refused ours (a TLS alert), no such host */
};

/* A curl error that no retry will cure. */
static bool permanent(CURLcode cc, const char *why)
{
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return true;
	default:
		/* "tlsv13 alert certificate required", "sslv3 alert bad
		 * certificate", "tlsv1 alert unknown ca": the server said no */
		return strstr(why, " alert ") != NULL;
	}
}

/* One direct request on an easy handle: what it needs until it is done. */
struct xfer {
	struct kp_buf url;
	struct curl_slist *h;
	struct body r;
	struct http_trace trace;
	char curl_err[CURL_ERROR_SIZE];
	CURLcode cc; /* when run on a multi handle */
};

/* Every option of the request on c (reset first), pointing into x. */
static void direct_setup(struct kp_kube *k, CURL *c, struct xfer *x, const char *method,
			 const char *path, const char *body, const char *content_type)
{
	struct kp_buf line = KP_BUF_INIT;
	memset(x, 0, sizeof(*x));
	kp_buf_init(&x->r.b);
	kp_buf_init(&x->url);
	curl_easy_reset(c);
	kp_buf_addf(&x->url, "%s%s", k->server, path);
	curl_easy_setopt(c, CURLOPT_URL, x->url.buf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for timeouts */
	x->trace = (struct http_trace){.who = k->server, .token = k->token};
	http_trace_on(c, &x->trace);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)k->connect_ms);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)k->total_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->r);
	curl_easy_setopt(c, CURLOPT_PRIVATE, (void *)x);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kplan/" KP_VERSION);
	if (k->insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		if (k->ca)
			set_blob(c, CURLOPT_CAINFO_BLOB, k->ca, k->ca_len);
	}
	if (k->cert) {
		set_blob(c, CURLOPT_SSLCERT_BLOB, k->cert, k->cert_len);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		set_blob(c, CURLOPT_SSLKEY_BLOB, k->key, k->key_len);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	x->h = curl_slist_append(x->h, "Accept: application/json");
	if (k->token) {
		kp_buf_addf(&line, "Authorization: Bearer %s", k->token);
		x->h = curl_slist_append(x->h, line.buf);
		memset(line.buf, 0, line.len);
		kp_buf_reset(&line);
	}
	if (body) {
		kp_buf_addf(&line, "Content-Type: %s",
			    content_type ? content_type : "application/json");
		x->h = curl_slist_append(x->h, line.buf);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->h);
	if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	/* libcurl sends a request again by itself when a reused connection
	 * closes before any byte of the answer: harmless for a GET, not for
	 * an Eviction; on a new connection it does not */
	if (!idempotent(method, content_type))
		curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
	kp_buf_release(&line);
}

/* The outcome of a request set up by direct_setup, performed with result
 * cc; frees what x holds. */
static kp_rc direct_finish(struct kp_kube *k, CURL *c, struct xfer *x, CURLcode cc,
			   const char *method, const char *path, long *status, struct kp_buf *resp,
			   enum fate *fate, struct kp_buf *err)
{
	kp_rc rc = KP_OK;
	long req_size = 0;
	curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &req_size);
	*fate = req_size > 0 ? F_SENT : F_NOT_SENT;
	if (cc) {
		const char *why = x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc);
		if (permanent(cc, why))
			*fate = F_PERMANENT;
		if (x->r.too_big)
			rc = kp_errorf(err, KP_ERR_LIMIT, "'%s %s': response larger than %zu bytes",
				       method, path, KP_KUBE_MAX_RESPONSE);
		else
			rc = kp_errorf(err,
				       cc == CURLE_OPERATION_TIMEDOUT ? KP_ERR_TIMEOUT : KP_ERR_IO,
				       "'%s %s' on %s: %s", method, path, k->server, why);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		kp_buf_reset(resp);
		kp_buf_add(resp, x->r.b.buf, x->r.b.len);
	}
	/* the handle keeps pointers to these until the next reset */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(x->h);
	x->h = NULL;
	kp_buf_release(&x->url);
	kp_buf_release(&x->r.b);
	return rc;
}

static kp_rc direct_request(struct kp_kube *k, const char *method, const char *path,
			    const char *body, const char *content_type, long *status,
			    struct kp_buf *resp, enum fate *fate, struct kp_buf *err)
{
	struct xfer x;
	direct_setup(k, k->curl, &x, method, path, body, content_type);
	CURLcode cc = curl_easy_perform(k->curl);
	return direct_finish(k, k->curl, &x, cc, method, path, status, resp, fate, err);
}

/* Retries. The API server may be restarting (an upgrade restarts it), behind
 * a load balancer that drops a connection, or overloaded; one failed request
 * must not fail a rollout. A request is tried up to k->attempts times, with
 * a backoff of first_ms, doubled each time (0.2, 0.4, 0.8, 1.6, 3.2 s), when
 *   - it never reached the server (nothing was sent: resolving, connecting,
 *     the TLS handshake failed): any method, POST too, nothing can happen
 *     twice (a request that is not idempotent goes on a new connection,
 *     so that libcurl does not resend it by itself either);
 *   - it was sent but no complete answer came back (connection reset or
 *     closed mid-response; not an overall timeout, which already waited
 *     total_ms), or the answer is a 500, 502, 503 or 504: only when doing it
 *     twice is the same as doing it once: GET and HEAD, and PATCH with a
 *     merge or strategic merge patch (it sets fields to given values: a
 *     cordon is). Not a JSON patch (an "add" to a list adds twice), not PUT
 *     (a resourceVersion precondition would turn our own first success into
 *     a 409 Conflict: the run lock renews on its own schedule anyway), not
 *     DELETE (a repeat answers 404 and the caller would misreport what it
 *     did), and not POST: an Eviction that the server carried out before the
 *     connection dropped cannot be told from one it did not, so the caller
 *     gets the error and fails clearly (the drain fails the node: it never
 *     reports pods evicted that it did not see go).
 * Never retried: what no retry cures (the server's certificate does not
 * verify, the server refused ours, the host name does not resolve, a
 * response over the size limit), and 429: it is an answer (a disruption
 * budget), the drain has its own backoff for it. The last error or answer
 * is returned. */
static void backoff_sleep(int64_t ms)
{
	/* a few short waits (10 ms, doubling, a handful of attempts): a signal
	 * may end one early, the next attempt comes all the same */
	int64_t end = kp_now_ms() + ms;
	for (int64_t left = ms; left > 0; left = end - kp_now_ms())
		kp_sleep_ms(left);
}

static kp_rc one_try(struct kp_kube *k, const char *method, const char *path, const char *body,
		     const char *content_type, long *status, struct kp_buf *resp, enum fate *fate,
		     struct kp_buf *err)
{
	*fate = F_SENT;
	return k->kubectl
		   ? kp_kube_kubectl_request(k, method, path, body, content_type, status, resp, err)
		   : direct_request(k, method, path, body, content_type, status, resp, fate, err);
}

/* The tries after the first, whose outcome is rc, fate, *status and e, as
 * long as the rules above want another; the last outcome is returned. */
static kp_rc go_on(struct kp_kube *k, const char *method, const char *path, const char *body,
		   const char *content_type, kp_rc rc, enum fate fate, long *status,
		   struct kp_buf *resp, struct kp_buf *e, int *attempt)
{
	bool again = idempotent(method, content_type);
	int64_t wait = k->first_ms;
	for (*attempt = 1;; ++*attempt) {
		bool retry;
		if (rc)
			retry = rc != KP_ERR_LIMIT && rc != KP_ERR_INVALID && fate != F_PERMANENT &&
				(fate == F_NOT_SENT || (again && rc != KP_ERR_TIMEOUT));
		else
			retry = again && (*status == 500 || *status == 502 || *status == 503 ||
					  *status == 504);
		if (!retry || *attempt >= k->attempts)
			return rc;
		if (rc)
			kp_warn("%s %s: %s; trying again in %lld ms (%d/%d)", method, path, e->buf,
				(long long)wait, *attempt + 1, k->attempts);
		else
			kp_warn("%s %s answered %ld; trying again in %lld ms (%d/%d)", method, path,
				*status, (long long)wait, *attempt + 1, k->attempts);
		backoff_sleep(wait);
		wait *= 2;
		kp_buf_reset(e);
		rc = one_try(k, method, path, body, content_type, status, resp, &fate, e);
	}
}

/* What the caller gets of the last try: the error, or the parsed body. */
static void conclude(kp_rc rc, int attempt, const struct kp_buf *resp, const struct kp_buf *e,
		     struct cJSON **json, struct kp_buf *err)
{
	if (rc && err) {
		kp_buf_reset(err);
		kp_buf_add(err, e->buf, e->len);
		if (attempt > 1)
			kp_buf_addf(err, " (tried %d times)", attempt);
	}
	if (!rc && json)
		*json = resp->len ? cJSON_ParseWithLength(resp->buf, resp->len) : NULL;
}

kp_rc kp_kube_request(struct kp_kube *k, const char *method, const char *path, const char *body,
		      const char *content_type, long *status, struct cJSON **json,
		      struct kp_buf *err)
{
	struct kp_buf resp = KP_BUF_INIT, e = KP_BUF_INIT;
	enum fate fate;
	int attempt;
	kp_rc rc = one_try(k, method, path, body, content_type, status, &resp, &fate, &e);
	rc = go_on(k, method, path, body, content_type, rc, fate, status, &resp, &e, &attempt);
	conclude(rc, attempt, &resp, &e, json, err);
	kp_buf_release(&resp);
	kp_buf_release(&e);
	return rc;
}

/* ---- several at once ------------------------------------------------------------ */

void kp_kube_req_release(struct kp_kube_req *r)
{
	free(r->path);
	free(r->body);
	cJSON_Delete(r->json);
	kp_buf_release(&r->err);
	memset(r, 0, sizeof(*r));
}

/* The first try of up to KP_KUBE_INFLIGHT requests together on the
 * client's multi handle, each on an easy handle of its own. */
static void multi_round(struct kp_kube *k, struct kp_kube_req *reqs, size_t n, struct kp_buf *resp,
			enum fate *fate, struct kp_buf *e)
{
	struct xfer *x = kp_xcalloc(n, sizeof(*x));
	for (size_t i = 0; i < n; i++) {
		direct_setup(k, k->easy[i], &x[i], reqs[i].method, reqs[i].path, reqs[i].body,
			     reqs[i].content_type);
		x[i].cc = CURLE_FAILED_INIT; /* until libcurl says how it ended */
		curl_multi_add_handle(k->multi, k->easy[i]);
	}
	int running = 1;
	while (running) {
		if (curl_multi_perform(k->multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(k->multi, NULL, 0, 200, NULL) != CURLM_OK)
			break;
	}
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(k->multi, &left))) {
		char *priv = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		((struct xfer *)(void *)priv)->cc = msg->data.result;
	}
	for (size_t i = 0; i < n; i++) {
		curl_multi_remove_handle(k->multi, k->easy[i]);
		reqs[i].rc =
		    direct_finish(k, k->easy[i], &x[i], x[i].cc, reqs[i].method, reqs[i].path,
				  &reqs[i].status, &resp[i], &fate[i], &e[i]);
	}
	free(x);
}

void kp_kube_requests(struct kp_kube *k, struct kp_kube_req *reqs, size_t n)
{
	struct kp_buf *resp = kp_xcalloc(n ? n : 1, sizeof(*resp)),
		      *e = kp_xcalloc(n ? n : 1, sizeof(*e));
	enum fate *fate = kp_xcalloc(n ? n : 1, sizeof(*fate));
	for (size_t i = 0; i < n; i++) {
		kp_buf_init(&resp[i]);
		kp_buf_init(&e[i]);
		kp_buf_init(&reqs[i].err);
		reqs[i].json = NULL;
	}
	bool together = !k->kubectl && n > 1;
	if (together && !k->multi) {
		k->multi = curl_multi_init();
		together = k->multi != NULL;
	}
	for (size_t i = 0; together && k->neasy < KP_KUBE_INFLIGHT && k->neasy < n; i++) {
		CURL *c = curl_easy_init();
		if (!c)
			break;
		k->easy[k->neasy++] = c;
	}
	together = together && k->neasy > 1;
	for (size_t at = 0; at < n;) {
		size_t m = together ? (n - at < k->neasy ? n - at : k->neasy) : 1;
		if (m > 1)
			multi_round(k, reqs + at, m, resp + at, fate + at, e + at);
		else
			reqs[at].rc = one_try(k, reqs[at].method, reqs[at].path, reqs[at].body,
					      reqs[at].content_type, &reqs[at].status, &resp[at],
					      &fate[at], &e[at]);
		at += m;
	}
	/* the tries after the first, one request at a time (rare: the server
	 * restarting, a dropped connection) */
	for (size_t i = 0; i < n; i++) {
		struct kp_kube_req *r = &reqs[i];
		int attempt;
		r->rc = go_on(k, r->method, r->path, r->body, r->content_type, r->rc, fate[i],
			      &r->status, &resp[i], &e[i], &attempt);
		conclude(r->rc, attempt, &resp[i], &e[i], &r->json, &r->err);
		kp_buf_release(&resp[i]);
		kp_buf_release(&e[i]);
	}
	free(resp);
	free(e);
	free(fate);
}

/* ---- streaming -------------------------------------------------------------- */

struct stream {
	kp_https_sink_fn fn;
	void *arg;
	bool aborted;
};

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
	struct stream *s = arg;
	if (!s->fn(s->arg, p, size * n)) {
		s->aborted = true;
		return 0;
	}
	return size * n;
}

kp_rc kp_https_stream(const char *url, const char *body, const struct kp_https_tls *tls,
		      int64_t connect_ms, int64_t total_ms, kp_https_sink_fn fn, void *arg,
		      long *status, struct kp_buf *err)
{
	CURL *c = curl_easy_init();
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct stream s = {.fn = fn, .arg = arg};
	kp_rc rc = KP_OK;

	if (!c)
		return kp_errorf(err, KP_ERR_NOMEM, "cannot start a libcurl handle");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	struct http_trace trace = {.who = url};
	http_trace_on(c, &trace);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_ms ? connect_ms : 10000));
	if (total_ms)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)total_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kplan/" KP_VERSION);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (tls && tls->ca)
		set_blob(c, CURLOPT_CAINFO_BLOB, (char *)tls->ca, tls->ca_len);
	if (tls && tls->cert) {
		set_blob(c, CURLOPT_SSLCERT_BLOB, (char *)tls->cert, tls->cert_len);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (tls && tls->key) {
		set_blob(c, CURLOPT_SSLKEY_BLOB, (char *)tls->key, tls->key_len);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	CURLcode cc = curl_easy_perform(c);
	if (cc && !s.aborted)
		rc = kp_errorf(err, cc == CURLE_OPERATION_TIMEDOUT ? KP_ERR_TIMEOUT : KP_ERR_IO,
			       "'%s %s': %s", body ? "POST" : "GET", url,
			       ebuf[0] ? ebuf : curl_easy_strerror(cc));
	else if (cc)
		rc = kp_errorf(err, KP_ERR_IO, "'%s %s': the transfer was stopped",
			       body ? "POST" : "GET", url);
	else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}
