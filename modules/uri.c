/*
 * uri.c - Ansible's uri: an HTTP request, from the controller (libcurl,
 * through transport/http.c), with the result Ansible registers: status,
 * url, redirected, the response headers as lowercase keys (content_type,
 * content_length, ...), json when the response is JSON, content with
 * return_content, msg. A status outside status_code fails the task with
 * Ansible's message. GET and HEAD are read-only and run in check mode too;
 * other methods run only in a real run (the probe says what they would
 * send). `changed` is false, as in Ansible.
 */
#include "modules/module.h"
#include "transport/http.h"
#include "transport/transport.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const formats[] = {"raw", "json", "form-urlencoded", NULL};

static const struct kp_argspec args[] = {
    {.name = "url", .type = KP_T_STR, .required = true, .help = "http:// or https:// URL"},
    {.name = "method", .type = KP_T_STR, .def = "GET", .help = "GET, POST, PUT, ..."},
    {.name = "body", .type = KP_T_ANY, .help = "the request body"},
    {.name = "body_format",
     .type = KP_T_STR,
     .def = "raw",
     .choices = formats,
     .help = "json encodes a mapping or list (a string is sent as is)"},
    {.name = "headers", .type = KP_T_DICT, .help = "request headers"},
    {.name = "status_code",
     .type = KP_T_ANY,
     .def = "[200]",
     .help = "the statuses that succeed (an integer or a list)"},
    {.name = "return_content",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "register the body as `content`"},
    {.name = "validate_certs", .type = KP_T_BOOL, .def = "true", .help = "check TLS certificates"},
    {.name = "ca_path", .type = KP_T_PATH, .help = "CA bundle (controller path)"},
    {.name = "client_cert",
     .type = KP_T_PATH,
     .help = "client certificate, PEM, with the key too if client_key is not given "
	     "(controller path)"},
    {.name = "client_key",
     .type = KP_T_PATH,
     .help = "client certificate's key, PEM (controller path)"},
    {.name = "timeout", .type = KP_T_INT, .def = "30", .help = "seconds"},
    {.name = "url_username", .type = KP_T_STR, .help = "user for HTTP authentication"},
    {.name = "url_password", .type = KP_T_STR, .help = "password for HTTP authentication"},
    {.name = "user", .type = KP_T_STR, .help = "the same as url_username"},
    {.name = "password", .type = KP_T_STR, .help = "the same as url_password"},
    {.name = "force_basic_auth",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "send basic credentials without waiting for a 401"},
    {.name = "follow_redirects",
     .type = KP_T_STR,
     .def = "safe",
     .help = "safe (GET and HEAD), all, none"},
    {0},
};

/* status_code as a list of integers */
static bool status_ok(const struct kp_value *v, long status, struct kp_buf *text)
{
	bool ok = false;
	kp_buf_addch(text, '[');
	size_t n = v && v->type == KP_V_LIST ? kp_list_len(v) : 1;
	for (size_t i = 0; i < n; i++) {
		const struct kp_value *e = v && v->type == KP_V_LIST ? kp_list_at(v, i) : v;
		long code = !e ? 200 : e->type == KP_V_INT ? (long)e->u.i : atol(e->u.str.s);
		kp_buf_addf(text, "%s%ld", i ? ", " : "", code);
		ok = ok || code == status;
	}
	kp_buf_addch(text, ']');
	return ok;
}

/* Python's urllib.parse.quote_plus: letters, digits and _.-~ stay, a
 * space is '+', the rest %XX */
static void quote_plus(const char *s, size_t n, struct kp_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || strchr("_.-~", c))
			kp_buf_addch(out, (char)c);
		else if (c == ' ')
			kp_buf_addch(out, '+');
		else
			kp_buf_addf(out, "%%%02X", c);
	}
}

/* form-urlencoded from a mapping, as Ansible's urlencode writes it */
static void urlencode(const struct kp_value *m, struct kp_buf *out)
{
	for (size_t i = 0; i < kp_map_len(m); i++) {
		struct kp_buf v = KP_BUF_INIT;
		const char *k = kp_map_key(m, i);
		kp_value_to_text(kp_map_val(m, i), false, &v);
		if (i)
			kp_buf_addch(out, '&');
		quote_plus(k, strlen(k), out);
		kp_buf_addch(out, '=');
		quote_plus(v.buf, v.len, out);
		kp_buf_release(&v);
	}
}

/* JSON as Python's json.dumps writes it by default (", " and ": "
 * between items), so that a body reads the same as Ansible sends it */
static void py_json(const struct kp_value *v, struct kp_buf *out)
{
	if (v->type == KP_V_LIST) {
		kp_buf_addch(out, '[');
		for (size_t i = 0; i < kp_list_len(v); i++) {
			if (i)
				kp_buf_addstr(out, ", ");
			py_json(kp_list_at(v, i), out);
		}
		kp_buf_addch(out, ']');
	} else if (v->type == KP_V_MAP) {
		kp_buf_addch(out, '{');
		for (size_t i = 0; i < kp_map_len(v); i++) {
			struct kp_value *k = kp_value_str(kp_map_key(v, i));
			if (i)
				kp_buf_addstr(out, ", ");
			kp_value_to_json(k, false, false, out);
			kp_buf_addstr(out, ": ");
			py_json(kp_map_val(v, i), out);
			kp_value_unref(k);
		}
		kp_buf_addch(out, '}');
	} else {
		kp_value_to_json(v, false, false, out);
	}
}

/* Header lines into result keys: "Content-Type: x" -> content_type */
static void header_facts(const struct kp_buf *h, struct kp_value *facts)
{
	for (const char *l = h->buf; *l;) {
		size_t len = strcspn(l, "\r\n");
		const char *colon = memchr(l, ':', len);
		if (colon && strncmp(l, "HTTP/", 5)) {
			struct kp_buf k = KP_BUF_INIT;
			for (const char *p = l; p < colon; p++)
				kp_buf_addch(&k,
					     *p == '-' ? '_' : (char)tolower((unsigned char)*p));
			const char *v = colon + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t vl = (size_t)(l + len - v);
			while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			kp_map_set_take(facts, k.buf, kp_value_strn(v, vl));
			kp_buf_release(&k);
		}
		l += len;
		while (*l == '\r' || *l == '\n')
			l++;
	}
}

static bool is_json_type(const char *ct)
{
	if (!ct)
		return false;
	const char *slash = strchr(ct, '/');
	if (!slash)
		return false;
	size_t n = strcspn(slash + 1, "; ");
	const char *sub = slash + 1, *plus = memchr(sub, '+', n);
	if (plus) {
		n -= (size_t)(plus + 1 - sub);
		sub = plus + 1;
	}
	return (n == 4 && !strncasecmp(sub, "json", 4));
}

static kp_rc request(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *method = kp_arg_str(ctx, "method"), *fmt = kp_arg_str(ctx, "body_format");
	const char *follow = kp_arg_str(ctx, "follow_redirects");
	const struct kp_value *body = kp_arg(ctx, "body"), *hdrs = kp_arg(ctx, "headers");
	struct kp_buf b = KP_BUF_INIT, codes = KP_BUF_INIT, e = KP_BUF_INIT;
	char **hv = kp_xcalloc((hdrs ? kp_map_len(hdrs) : 0) + 2, sizeof(*hv));
	size_t nh = 0;
	bool has_ct = false;
	struct kp_http_res r;

	for (size_t i = 0; hdrs && i < kp_map_len(hdrs); i++) {
		struct kp_buf h = KP_BUF_INIT;
		kp_buf_addf(&h, "%s: ", kp_map_key(hdrs, i));
		kp_value_to_text(kp_map_val(hdrs, i), false, &h);
		has_ct = has_ct || !strcasecmp(kp_map_key(hdrs, i), "content-type");
		hv[nh++] = kp_buf_detach(&h, NULL);
	}
	if (body) {
		if (!strcmp(fmt, "json") && body->type != KP_V_STR)
			py_json(body, &b);
		else if (!strcmp(fmt, "form-urlencoded") && body->type == KP_V_MAP)
			urlencode(body, &b);
		else
			kp_value_to_text(body, false, &b);
		if (!has_ct && strcmp(fmt, "raw"))
			hv[nh++] =
			    kp_xstrdup(!strcmp(fmt, "json")
					   ? "Content-Type: application/json"
					   : "Content-Type: application/x-www-form-urlencoded");
	}
	const char *user = kp_arg_str(ctx, "url_username");
	const char *pw = kp_arg_str(ctx, "url_password");
	struct kp_http_req req = {
	    .url = kp_arg_str(ctx, "url"),
	    .method = method,
	    .body = body ? b.buf : NULL,
	    .body_len = b.len,
	    .headers = (const char *const *)hv,
	    .user = user ? user : kp_arg_str(ctx, "user"),
	    .password = pw ? pw : kp_arg_str(ctx, "password"),
	    .force_basic_auth = kp_arg_bool(ctx, "force_basic_auth"),
	    .follow_redirects = strcmp(follow, "none") && strcmp(follow, "no"),
	    .all_redirects = !strcmp(follow, "all") || !strcmp(follow, "yes"),
	    .validate_certs = kp_arg_bool(ctx, "validate_certs"),
	    .ca_path = kp_arg_str(ctx, "ca_path"),
	    .client_cert = kp_arg_str(ctx, "client_cert"),
	    .client_key = kp_arg_str(ctx, "client_key"),
	    .timeout_ms = kp_arg_int(ctx, "timeout") * 1000,
	};
	kp_http_res_init(&r);
	kp_buf_addf(&res->cmds, "%s %s\n", method, req.url);
	if (kp_http_request(&req, &r, &e)) {
		if (!r.status && !r.over) {
			/* no response (refused, TLS, timeout): Ansible's status -1 */
			status_ok(kp_arg(ctx, "status_code"), -1, &codes);
			if (!res->facts)
				res->facts = kp_value_map();
			kp_map_set_take(res->facts, "status", kp_value_int(-1));
			kp_map_set_take(res->facts, "url", kp_value_str(req.url));
			kp_map_set_take(res->facts, "elapsed", kp_value_int(r.elapsed_ms / 1000));
			const char *why = strstr(e.buf, "' failed: ");
			kp_mod_failf(res, "Status code was -1 and not %s: Connection failure: %s",
				     codes.buf, why ? why + strlen("' failed: ") : e.buf);
			kp_map_set_take(res->facts, "msg", kp_value_str(res->msg.buf));
		} else {
			kp_mod_failf(res, "%s", e.buf);
		}
		goto out;
	}
	if (!res->facts)
		res->facts = kp_value_map();
	header_facts(&r.headers, res->facts);
	kp_map_set_take(res->facts, "status", kp_value_int(r.status));
	kp_map_set_take(res->facts, "url", kp_value_str(r.url));
	kp_map_set_take(res->facts, "redirected", kp_value_bool(strcmp(r.url, req.url) != 0));
	kp_map_set_take(res->facts, "elapsed", kp_value_int(r.elapsed_ms / 1000));
	kp_map_set_take(res->facts, "cookies", kp_value_map());
	kp_map_set_take(res->facts, "cookies_string", kp_value_str(""));
	if (is_json_type(r.content_type)) {
		struct kp_value *js = NULL;
		struct kp_buf je = KP_BUF_INIT;
		if (!kp_value_from_json(r.body.buf, r.body.len, &js, &je))
			kp_map_set_take(res->facts, "json", js);
		kp_buf_release(&je);
	}
	bool ok = status_ok(kp_arg(ctx, "status_code"), r.status, &codes);
	if (kp_arg_bool(ctx, "return_content"))
		kp_map_set_take(res->facts, "content", kp_value_strn(r.body.buf, r.body.len));
	const struct kp_value *cl = kp_map_get(res->facts, "content_length");
	struct kp_buf okmsg = KP_BUF_INIT;
	if (cl)
		kp_buf_addf(&okmsg, "OK (%s bytes)", cl->u.str.s);
	else
		kp_buf_addstr(&okmsg, "OK (unknown bytes)");
	kp_buf_reset(&res->msg);
	res->changed = false;
	if (!ok) {
		/* Ansible: "Status code was 404 and not [200]: HTTP Error 404: Not Found" */
		const char *reason = strchr(r.headers.buf, ' ');
		reason = reason ? strchr(reason + 1, ' ') : NULL;
		size_t rl = reason ? strcspn(reason + 1, "\r\n") : 0;
		kp_mod_failf(res, "Status code was %ld and not %s: HTTP Error %ld: %.*s", r.status,
			     codes.buf, r.status, (int)rl, reason ? reason + 1 : "");
	} else {
		kp_buf_addstr(&res->msg, okmsg.buf);
	}
	kp_map_set_take(res->facts, "msg", kp_value_str(res->msg.buf));
	kp_buf_release(&okmsg);
out:
	kp_http_res_release(&r);
	for (size_t i = 0; i < nh; i++)
		free(hv[i]);
	free(hv);
	kp_buf_release(&b);
	kp_buf_release(&codes);
	kp_buf_release(&e);
	return KP_OK;
}

static bool read_only(const struct kp_modctx *ctx)
{
	const char *m = kp_arg_str(ctx, "method");
	return !strcasecmp(m, "GET") || !strcasecmp(m, "HEAD");
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *m = kp_arg_str(ctx, "method");
	for (const char *p = m; *p; p++)
		if (!isupper((unsigned char)*p))
			return kp_mod_failf(res, "Parameter 'method' needs to be a single word in "
						 "uppercase, like GET or POST.");
	if (read_only(ctx))
		return request(ctx, res, err);
	/* a changing request runs in apply only; it reports changed false */
	res->changed = true;
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "would send %s %s", m, kp_arg_str(ctx, "url"));
	return KP_OK;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	return request(ctx, res, err);
}

const struct kp_module kp_mod_uri = {
    .name = "uri",
    .summary = "an HTTP request from the controller (Ansible's uri)",
    .args = args,
    .flags = KP_MOD_LOCAL,
    .probe = probe,
    .apply = apply,
};
