/*
 * http.h - one HTTP request from the controller, on libcurl, for the
 * modules that fetch URLs (uri, get_url). curl_global_init is main's
 * (kp_kubeapi_global_init); each request has its own easy handle, so
 * threads may call this at once.
 *
 * Ownership: the request's strings are borrowed; the response owns its
 * buffers (kp_http_res_release).
 */
#ifndef KP_HTTP_H
#define KP_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

struct kp_http_req {
	const char *url;
	const char *method; /* NULL: GET */
	const char *body;   /* or NULL */
	size_t body_len;
	const char *const *headers; /* "Name: value", NULL-terminated, or NULL */
	const char *user, *password;
	bool force_basic_auth; /* send credentials before a 401 asks for them */
	bool follow_redirects; /* safe methods only, as Ansible's default "safe" */
	bool all_redirects;    /* follow whatever the method */
	bool validate_certs;
	const char *ca_path; /* or NULL: the system's */
	/* a client certificate (PEM, the key in it or in client_key), or NULL */
	const char *client_cert, *client_key;
	int64_t timeout_ms;
	size_t max_body; /* bytes kept; more is an error (0: 64 MiB) */
};

struct kp_http_res {
	long status; /* 0 when no response came */
	struct kp_buf body;
	struct kp_buf headers; /* the final response's header lines */
	char *url;	       /* the URL finally answered (after redirects), malloc'd */
	bool redirected;
	char *content_type; /* or NULL */
	int64_t elapsed_ms;
	bool over; /* the body was larger than max_body */
};

void kp_http_res_init(struct kp_http_res *r);
void kp_http_res_release(struct kp_http_res *r);
/* KP_OK when a response came (whatever its status); KP_ERR_IO with the
 * reason (connection refused, timeout, TLS) in err when none did. */
kp_rc kp_http_request(const struct kp_http_req *req, struct kp_http_res *res, struct kp_buf *err);

#endif
