/*
 * http.c - one HTTP request on libcurl (see http.h).
 */
#include "transport/http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define BODY_MAX ((size_t)64 << 20)

struct sink {
	struct kp_buf *b;
	size_t max;
	bool over;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;
	if (s->b->len + len > s->max) {
		s->over = true;
		return 0;
	}
	kp_buf_add(s->b, p, len);
	return len;
}

/* Header lines of the last response only: a new status line resets. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct kp_buf *h = ud;
	size_t len = size * n;
	if (len >= 5 && !strncmp(p, "HTTP/", 5))
		kp_buf_reset(h);
	if (h->len < (1u << 20))
		kp_buf_add(h, p, len);
	return len;
}

void kp_http_res_init(struct kp_http_res *r)
{
	memset(r, 0, sizeof(*r));
	kp_buf_init(&r->body);
	kp_buf_init(&r->headers);
}

void kp_http_res_release(struct kp_http_res *r)
{
	kp_buf_release(&r->body);
	kp_buf_release(&r->headers);
	free(r->url);
	free(r->content_type);
	r->url = r->content_type = NULL;
}

kp_rc kp_http_request(const struct kp_http_req *req, struct kp_http_res *res, struct kp_buf *err)
{
	CURL *c = curl_easy_init();
	struct curl_slist *hl = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	struct sink sink = {&res->body, req->max_body ? req->max_body : BODY_MAX, false};
	const char *method = req->method ? req->method : "GET";
	kp_rc rc = KP_OK;

	if (!c)
		return kp_errorf(err, KP_ERR_NOMEM, "cannot start an HTTP request");
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "kplan/" KP_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &res->headers);
	if (req->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	bool safe = !strcasecmp(method, "GET") || !strcasecmp(method, "HEAD");
	if (req->all_redirects || (req->follow_redirects && safe)) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 50L);
	}
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, req->validate_certs ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, req->validate_certs ? 2L : 0L);
	if (req->ca_path)
		curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_path);
	if (req->client_cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, req->client_cert);
	if (req->client_key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, req->client_key);
	if (!strcasecmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcasecmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (req->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	if (req->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, req->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, req->password ? req->password : "");
		/* basic up front when forced; otherwise only once a 401 asks */
		curl_easy_setopt(c, CURLOPT_HTTPAUTH,
				 req->force_basic_auth ? CURLAUTH_BASIC : CURLAUTH_ANY);
	}
	for (const char *const *h = req->headers; h && *h; h++)
		hl = curl_slist_append(hl, *h);
	if (hl)
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

	int64_t start = kp_now_ms();
	CURLcode cc = curl_easy_perform(c);
	res->elapsed_ms = kp_now_ms() - start;
	if (sink.over) {
		res->over = true;
		rc = kp_errorf(err, KP_ERR_LIMIT, "the response from '%s' is larger than %zu bytes",
			       req->url, sink.max);
	} else if (cc != CURLE_OK) {
		rc = kp_errorf(err, KP_ERR_IO, "request to '%s' failed: %s", req->url,
			       *cerr ? cerr : curl_easy_strerror(cc));
	} else {
		char *eff = NULL, *ct = NULL;
		long redirects = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->status);
		curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
		curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
		curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
		res->url = kp_xstrdup(eff ? eff : req->url);
		res->content_type = ct ? kp_xstrdup(ct) : NULL;
		res->redirected = redirects > 0;
	}
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return rc;
}
