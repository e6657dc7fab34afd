/*
 * kubectl.c - the kubectl backend of the Kubernetes API client: every
 * request becomes a kubectl command (get --raw, create --raw, delete --raw,
 * patch) run by the caller's function, and kubectl's answer is turned back
 * into an HTTP status and a JSON body; see kubeapi.h.
 */
#include "core/redact.h"
#include "kube/kubeapi.h"
#include "kube/kubeapi_int.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static const struct {
	const char *reason;
	long status;
} reasons[] = {
    {"BadRequest", 400},
    {"Unauthorized", 401},
    {"Forbidden", 403},
    {"NotFound", 404},
    {"MethodNotAllowed", 405},
    {"NotAcceptable", 406},
    {"AlreadyExists", 409},
    {"Conflict", 409},
    {"Gone", 410},
    {"Invalid", 422},
    {"TooManyRequests", 429},
    {"InternalError", 500},
    {"ServiceUnavailable", 503},
    {"Timeout", 504},
};

/* "Error from server (NotFound): nodes "x" not found" -> 404 and a Status body. */
static kp_rc kubectl_status(const char *cmd, const struct kp_exec_res *r, long *status,
			    struct kp_buf *resp, struct kp_buf *err)
{
	const char *s = strstr(r->err.buf, "Error from server (");
	if (s) {
		s += strlen("Error from server (");
		size_t n = strcspn(s, ")");
		for (size_t i = 0; i < KP_ARRAY_LEN(reasons); i++) {
			if (strlen(reasons[i].reason) != n || strncmp(s, reasons[i].reason, n))
				continue;
			const char *msg = s + n;
			if (!strncmp(msg, "): ", 3))
				msg += 3;
			size_t ml = strcspn(msg, "\r\n");
			char *m = kp_xstrndup(msg, ml);
			cJSON *j = cJSON_CreateObject();
			cJSON_AddStringToObject(j, "kind", "Status");
			cJSON_AddStringToObject(j, "status", "Failure");
			cJSON_AddStringToObject(j, "reason", reasons[i].reason);
			cJSON_AddStringToObject(j, "message", m);
			cJSON_AddNumberToObject(j, "code", (double)reasons[i].status);
			char *text = cJSON_PrintUnformatted(j);
			kp_buf_reset(resp);
			kp_buf_addstr(resp, text);
			cJSON_free(text);
			cJSON_Delete(j);
			free(m);
			*status = reasons[i].status;
			return KP_OK;
		}
	}
	const struct kp_buf *b = r->err.len ? &r->err : &r->out;
	return kp_errorf(err, KP_ERR_IO, "'%s' failed (rc %d): %.*s", cmd, r->rc,
			 (int)strcspn(b->buf, "\r\n"), b->buf);
}

/* /api/v1/nodes/N or /api[s]/.../namespaces/NS/TYPE/N -> TYPE, N, NS. */
static bool patch_target(const char *path, struct kp_buf *type, struct kp_buf *name,
			 struct kp_buf *ns)
{
	char *p = kp_xstrndup(path, strcspn(path, "?"));
	char *parts[16];
	size_t n = 0;
	for (char *save = NULL, *t = strtok_r(p, "/", &save); t && n < 16;
	     t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	bool ok = false;
	if (n >= 2 && (!strcmp(parts[0], "api") || !strcmp(parts[0], "apis"))) {
		size_t base = !strcmp(parts[0], "api") ? 2 : 3; /* api/v1, apis/g/v */
		if (n == base + 4 && !strcmp(parts[base], "namespaces")) {
			kp_buf_addstr(ns, parts[base + 1]);
			kp_buf_addstr(type, parts[base + 2]);
			kp_buf_addstr(name, parts[base + 3]);
			ok = true;
		} else if (n == base + 2) {
			kp_buf_addstr(type, parts[base]);
			kp_buf_addstr(name, parts[base + 1]);
			ok = true;
		}
		if (ok && base == 3) /* "deployments.apps" names the group */
			kp_buf_addf(type, ".%s", parts[1]);
	}
	free(p);
	return ok;
}

kp_rc kp_kube_kubectl_request(struct kp_kube *k, const char *method, const char *path,
			      const char *body, const char *content_type, long *status,
			      struct kp_buf *resp, struct kp_buf *err)
{
	const char *argv[16];
	size_t n = 0;
	struct kp_buf type = KP_BUF_INIT, name = KP_BUF_INIT, ns = KP_BUF_INIT, cmd = KP_BUF_INIT;
	kp_rc rc = KP_OK;

	argv[n++] = "kubectl";
	argv[n++] = "--kubeconfig";
	argv[n++] = k->kubeconfig;
	if (!strcmp(method, "GET")) {
		argv[n++] = "get";
		argv[n++] = "--raw";
		argv[n++] = path;
	} else if (!strcmp(method, "POST")) {
		argv[n++] = "create";
		argv[n++] = "--raw";
		argv[n++] = path;
		argv[n++] = "-f";
		argv[n++] = "-";
	} else if (!strcmp(method, "DELETE")) {
		argv[n++] = "delete";
		argv[n++] = "--raw";
		argv[n++] = path;
	} else if (!strcmp(method, "PATCH")) {
		if (!patch_target(path, &type, &name, &ns)) {
			rc = kp_errorf(err, KP_ERR_INVALID,
				       "cannot PATCH '%s' through kubectl: not a resource path",
				       path);
			goto out;
		}
		argv[n++] = "patch";
		argv[n++] = type.buf;
		argv[n++] = name.buf;
		if (ns.len) {
			argv[n++] = "-n";
			argv[n++] = ns.buf;
		}
		argv[n++] = "--type";
		argv[n++] = content_type && strstr(content_type, "strategic")	 ? "strategic"
			    : content_type && strstr(content_type, "json-patch") ? "json"
										 : "merge";
		argv[n++] = "-p";
		argv[n++] = body ? body : "{}";
		argv[n++] = "-o";
		argv[n++] = "json";
	} else {
		rc = kp_errorf(err, KP_ERR_INVALID, "method '%s' is not supported through kubectl",
			       method);
		goto out;
	}
	argv[n] = NULL;
	for (size_t i = 0; i < n; i++)
		kp_buf_addf(&cmd, "%s%s", i ? " " : "", argv[i]);
	struct kp_exec_req req = {.argv = argv, .timeout_ms = k->total_ms};
	if (body && !strcmp(method, "POST")) {
		req.stdin_data = body;
		req.stdin_len = strlen(body);
	}
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	rc = k->fn(k->fn_arg, &req, &r, err);
	if (!rc) {
		if (r.timed_out)
			rc = kp_errorf(err, KP_ERR_TIMEOUT, "'%s' timed out", cmd.buf);
		else if (r.rc == 0) {
			*status = !strcmp(method, "POST") ? 201 : 200;
			kp_buf_reset(resp);
			kp_buf_add(resp, r.out.buf, r.out.len);
		} else {
			rc = kubectl_status(cmd.buf, &r, status, resp, err);
		}
	}
	kp_exec_res_release(&r);
out:
	kp_buf_release(&type);
	kp_buf_release(&name);
	kp_buf_release(&ns);
	kp_buf_release(&cmd);
	return rc;
}
