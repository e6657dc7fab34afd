/*
 * kubeapi_int.h - what the files of the Kubernetes API client share
 * (kubeapi.c, kubectl.c, kubecalls.c) and nothing else includes: the
 * client's structure and the kubectl backend's request function.
 */
#ifndef KP_KUBEAPI_INT_H
#define KP_KUBEAPI_INT_H

#include <curl/curl.h>

#include "kube/kubeapi.h"

struct kp_kube {
	bool kubectl;
	char desc[256];
	/* direct */
	CURL *curl;
	char *server; /* without a trailing slash */
	char *ca, *cert, *key, *token;
	size_t ca_len, cert_len, key_len;
	bool insecure;
	CURLM *multi; /* kp_kube_requests: made on first use */
	CURL *easy[KP_KUBE_INFLIGHT];
	size_t neasy;
	/* kubectl */
	kp_kube_exec_fn fn;
	void *fn_arg;
	char *kubeconfig;
	/* both */
	int64_t connect_ms, total_ms;
	int attempts;	  /* tries per request (KP_KUBE_ATTEMPTS) */
	int64_t first_ms; /* the first backoff, doubled per retry */
	/* discovery (kubecalls.c): asked once per run for each key (the
	 * kubeconfig and server, or where kubectl runs), kept here too */
	char *disc_key;
	struct kp_kube_api api;
	bool api_known;
};

/* One request as a kubectl command (kubectl.c): KP_OK when kubectl ran and
 * its answer was understood; the body of the answer goes to resp. */
kp_rc kp_kube_kubectl_request(struct kp_kube *k, const char *method, const char *path,
			      const char *body, const char *content_type, long *status,
			      struct kp_buf *resp, struct kp_buf *err);

#endif
