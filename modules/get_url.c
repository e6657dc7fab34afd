/*
 * get_url.c - Ansible's get_url: download a URL (from the controller,
 * libcurl through transport/http.c) to a file on the node, written as copy
 * writes it (atomic, mode/owner/group, changed only when the content or
 * attributes differ). `checksum: sha256:HEX` (md5, sha1, sha224, sha384,
 * sha512 too) is checked on the download with OpenSSL, and an existing
 * dest with that checksum is left alone without downloading; without a
 * checksum, an existing dest file is left alone unless `force`.
 */
#include "modules/module.h"
#include "transport/http.h"
#include "transport/transport.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

static const struct kp_argspec args[] = {
    {.name = "url", .type = KP_T_STR, .required = true, .help = "http:// or https:// URL"},
    {.name = "dest",
     .type = KP_T_PATH,
     .required = true,
     .help = "file on the node (a directory: the URL's file name inside it)"},
    {.name = "checksum",
     .type = KP_T_STR,
     .help = "ALGORITHM:HEX, e.g. sha256:9f86d0..., checked before the file is written"},
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "download even when dest exists (without a checksum)"},
    {.name = "mode", .type = KP_T_STR, .help = "permissions, e.g. \"0644\""},
    {.name = "owner", .type = KP_T_STR, .help = "owner of the file"},
    {.name = "group", .type = KP_T_STR, .help = "group of the file"},
    {.name = "backup",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "keep the old file as dest.<timestamp>~"},
    {.name = "timeout", .type = KP_T_INT, .def = "10", .help = "seconds"},
    {.name = "headers", .type = KP_T_DICT, .help = "request headers"},
    {.name = "url_username", .type = KP_T_STR, .help = "user for HTTP authentication"},
    {.name = "url_password", .type = KP_T_STR, .help = "password for HTTP authentication"},
    {.name = "force_basic_auth",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "send basic credentials at once"},
    {.name = "validate_certs", .type = KP_T_BOOL, .def = "true", .help = "check TLS certificates"},
    {0},
};

/* hex digest of data with the named algorithm; false if it is unknown */
static bool digest(const char *alg, const void *data, size_t len, char *hex, size_t hexsz)
{
	const EVP_MD *md = EVP_get_digestbyname(alg);
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!md || !EVP_Digest(data, len, d, &n, md, NULL) || hexsz < 2 * n + 1)
		return false;
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return true;
}

static bool known_alg(const char *a)
{
	static const char *const algs[] = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512"};
	for (size_t i = 0; i < KP_ARRAY_LEN(algs); i++)
		if (!strcmp(a, algs[i]))
			return true;
	return false;
}

/* The node's checksum of path with alg ("" when it cannot be read). */
static kp_rc node_sum(struct kp_modctx *ctx, struct kp_result *res, const char *alg,
		      const char *path, struct kp_buf *out, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_buf_addf(&cmd, "%ssum -- ", alg);
	kp_sh_quote(&cmd, path);
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd.buf, &r, err);
	kp_buf_reset(out);
	if (!rc && r.rc == 0)
		kp_buf_add(out, r.out.buf, strcspn(r.out.buf, " \n"));
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *url = kp_arg_str(ctx, "url"), *dest = kp_arg_str(ctx, "dest");
	const char *ck = kp_arg_str(ctx, "checksum");
	char alg[16] = "", want[EVP_MAX_MD_SIZE * 2 + 1] = "", got[EVP_MAX_MD_SIZE * 2 + 1];
	const struct kp_value *hdrs = kp_arg(ctx, "headers");
	struct kp_buf e = KP_BUF_INIT, sum = KP_BUF_INIT;
	struct kp_stat st;
	struct kp_http_res r;
	kp_rc rc;

	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "url", kp_value_str(url));
	if (ck) {
		const char *colon = strchr(ck, ':');
		size_t al = colon ? (size_t)(colon - ck) : 0;
		if (!colon || al >= sizeof(alg) || strlen(colon + 1) >= sizeof(want))
			return kp_mod_failf(res, "The checksum parameter has to be in format "
						 "<algorithm>:<checksum>");
		memcpy(alg, ck, al);
		alg[al] = '\0';
		for (char *p = alg; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		snprintf(want, sizeof(want), "%s", colon + 1);
		for (char *p = want; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!known_alg(alg))
			return kp_mod_failf(res, "unsupported checksum algorithm '%s'", alg);
	}
	/* an existing file: left alone when its checksum matches, or when
	 * there is no checksum and no force */
	if ((rc = ctx->conn->ops->stat(ctx->conn, dest, false, &st, err)))
		return rc;
	if (st.exists && st.type != 'd') {
		bool keep = false;
		if (*want) {
			if ((rc = node_sum(ctx, res, alg, dest, &sum, err)))
				return rc;
			keep = !strcmp(sum.buf, want);
		} else {
			keep = !kp_arg_bool(ctx, "force");
		}
		kp_buf_release(&sum);
		if (keep) {
			res->changed = false;
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "file already exists");
			kp_map_set_take(res->facts, "dest", kp_value_str(dest));
			return KP_OK;
		}
	}
	char **hv = kp_xcalloc((hdrs ? kp_map_len(hdrs) : 0) + 1, sizeof(*hv));
	for (size_t i = 0; hdrs && i < kp_map_len(hdrs); i++) {
		struct kp_buf h = KP_BUF_INIT;
		kp_buf_addf(&h, "%s: ", kp_map_key(hdrs, i));
		kp_value_to_text(kp_map_val(hdrs, i), false, &h);
		hv[i] = kp_buf_detach(&h, NULL);
	}
	struct kp_http_req req = {
	    .url = url,
	    .headers = (const char *const *)hv,
	    .user = kp_arg_str(ctx, "url_username"),
	    .password = kp_arg_str(ctx, "url_password"),
	    .force_basic_auth = kp_arg_bool(ctx, "force_basic_auth"),
	    .follow_redirects = true,
	    .validate_certs = kp_arg_bool(ctx, "validate_certs"),
	    .timeout_ms = kp_arg_int(ctx, "timeout") * 1000,
	    .max_body = (size_t)512 << 20,
	};
	kp_http_res_init(&r);
	kp_buf_addf(&res->cmds, "GET %s\n", url);
	rc = kp_http_request(&req, &r, &e);
	for (size_t i = 0; hdrs && i < kp_map_len(hdrs); i++)
		free(hv[i]);
	free(hv);
	if (rc) {
		kp_mod_failf(res, "%s", e.buf);
		rc = KP_OK;
		goto out;
	}
	kp_map_set_take(res->facts, "status_code", kp_value_int(r.status));
	if (r.status != 200) {
		kp_mod_failf(res, "Request failed: HTTP status %ld", r.status);
		goto out;
	}
	if (*want) {
		digest(alg, r.body.buf, r.body.len, got, sizeof(got));
		if (strcmp(got, want)) {
			kp_mod_failf(res, "The checksum for %s did not match %s; it was %s.", dest,
				     want, got);
			goto out;
		}
	}
	digest("sha1", r.body.buf, r.body.len, got, sizeof(got));
	kp_map_set_take(res->facts, "checksum_src", kp_value_str(got));
	/* the file name for a directory dest: the URL's last component */
	struct kp_buf name = KP_BUF_INIT;
	const char *path = strstr(r.url, "://");
	path = path ? strchr(path + 3, '/') : NULL;
	kp_buf_add(&name, path ? path : "/", path ? strcspn(path, "?#") : 1);
	size_t len = r.body.len;
	rc = kp_mod_copy_probe(ctx, res, kp_buf_detach(&r.body, NULL), len, name.buf, err);
	kp_buf_release(&name);
out:
	kp_http_res_release(&r);
	kp_buf_release(&e);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	return kp_mod_copy_apply(ctx, res, err);
}

const struct kp_module kp_mod_get_url = {
    .name = "get-url",
    .summary = "download a URL to a file on the node, checksum checked (Ansible's get_url)",
    .args = args,
    .probe = probe,
    .apply = apply,
};
