/*
 * kubeconfig.c - find and read a kubeconfig, see kubeapi.h.
 *
 * Only the current context is resolved: its cluster (server, CA, whether
 * to skip TLS verification) and its user (client certificate and key, or a
 * bearer token). Base64 data is decoded with OpenSSL, never by hand.
 * Errors point at the file, and at line:col when a YAML node is wrong.
 */
#include "kube/kubeapi.h"
#include "core/ytree.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

/* Certificates, keys and tokens are small; a cap keeps a wrong path from
 * reading a huge file into memory. */
#define KUBECONFIG_FILE_MAX ((size_t)1 << 20)

static bool file_exists(const char *p)
{
	struct stat st;
	return !stat(p, &st);
}

kp_rc kp_kubeconfig_find(const char *given, const char *env_kubeconfig, const char *home,
			 struct kp_buf *path, struct kp_buf *err)
{
	struct kp_buf looked = KP_BUF_INIT;

	kp_buf_reset(path);
	if (given && *given) {
		if (!file_exists(given))
			return kp_errorf(err, KP_ERR_IO, "cannot read kubeconfig '%s': %s", given,
					 strerror(errno));
		kp_buf_addstr(path, given);
		return KP_OK;
	}
	/* $KUBECONFIG is a list; kubectl merges them, we take the first that
	 * exists, which covers the usual single-file case */
	if (env_kubeconfig && *env_kubeconfig) {
		const char *p = env_kubeconfig;
		while (*p) {
			size_t n = strcspn(p, ":");
			if (n) {
				char *one = kp_xstrndup(p, n);
				if (file_exists(one)) {
					kp_buf_addstr(path, one);
					free(one);
					return KP_OK;
				}
				free(one);
			}
			p += n;
			if (*p == ':')
				p++;
		}
		kp_buf_addf(&looked, "$KUBECONFIG (%s)", env_kubeconfig);
	}
	if (home && *home) {
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b, "%s/.kube/config", home);
		if (file_exists(b.buf)) {
			kp_buf_addstr(path, b.buf);
			kp_buf_release(&b);
			kp_buf_release(&looked);
			return KP_OK;
		}
		kp_buf_addf(&looked, "%s'%s'", looked.len ? " and " : "", b.buf);
		kp_buf_release(&b);
	}
	kp_errorf(err, KP_ERR_NOTFOUND, "no kubeconfig found (looked at %s)",
		  looked.len ? looked.buf : "nothing: neither $KUBECONFIG nor $HOME is set");
	kp_buf_release(&looked);
	return KP_ERR_NOTFOUND;
}

void kp_kubeconfig_free(struct kp_kubeconfig *kc)
{
	if (!kc)
		return;
	free(kc->path);
	free(kc->context);
	free(kc->cluster);
	free(kc->user);
	free(kc->server);
	free(kc->ca);
	free(kc->cert);
	if (kc->key) {
		OPENSSL_cleanse(kc->key, kc->key_len);
		free(kc->key);
	}
	if (kc->token) {
		OPENSSL_cleanse(kc->token, strlen(kc->token));
		free(kc->token);
	}
	free(kc);
}

static const char *scalar(const struct kp_node *map, const char *key)
{
	const struct kp_node *v = map ? kp_node_map_get(map, key) : NULL;
	return v && v->type == KP_N_SCALAR && !kp_node_is_null(v) ? v->str : NULL;
}

/* The `what` entry named `name` of the list under `list_key` (clusters,
 * users, contexts): its inner mapping (entry[what]). */
static kp_rc find_named(const char *file, const struct kp_node *root, const char *list_key,
			const char *what, const char *name, const struct kp_node **out,
			struct kp_buf *err)
{
	const struct kp_node *l = kp_node_map_get(root, list_key);
	if (l && l->type != KP_N_SEQ)
		return kp_node_errorf(err, KP_ERR_PARSE, l, "'%s' must be a list, not %s", list_key,
				      kp_node_describe(l));
	for (size_t i = 0; l && i < l->n; i++) {
		const struct kp_node *e = l->items[i];
		const char *n = e->type == KP_N_MAP ? scalar(e, "name") : NULL;
		if (!n || strcmp(n, name))
			continue;
		const struct kp_node *inner = kp_node_map_get(e, what);
		if (!inner || inner->type != KP_N_MAP)
			return kp_node_errorf(err, KP_ERR_PARSE, e, "%s '%s' has no '%s' mapping",
					      what, name, what);
		*out = inner;
		return KP_OK;
	}
	return kp_errorf(err, KP_ERR_INVALID, "%s: no %s named '%s' in '%s'", file, what, name,
			 list_key);
}

/* base64 (whitespace allowed) -> bytes, with OpenSSL's decoder. */
static kp_rc b64_decode(const struct kp_node *n, const char *field, char **out, size_t *outlen,
			struct kp_buf *err)
{
	struct kp_buf clean = KP_BUF_INIT;
	for (size_t i = 0; i < n->len; i++)
		if (!isspace((unsigned char)n->str[i]))
			kp_buf_addch(&clean, n->str[i]);
	if (!clean.len || clean.len % 4) {
		kp_buf_release(&clean);
		return kp_node_errorf(err, KP_ERR_PARSE, n, "'%s' is not valid base64", field);
	}
	unsigned char *dec = kp_xmalloc(clean.len / 4 * 3 + 1);
	int len = EVP_DecodeBlock(dec, (const unsigned char *)clean.buf, (int)clean.len);
	if (len < 0) {
		free(dec);
		kp_buf_release(&clean);
		return kp_node_errorf(err, KP_ERR_PARSE, n, "'%s' is not valid base64", field);
	}
	/* EVP_DecodeBlock counts the padding as zero bytes */
	if (clean.buf[clean.len - 1] == '=')
		len--;
	if (clean.buf[clean.len - 2] == '=')
		len--;
	dec[len] = '\0';
	kp_buf_release(&clean);
	*out = (char *)dec;
	*outlen = (size_t)len;
	return KP_OK;
}

/* A path inside a kubeconfig, relative to the kubeconfig's directory. */
static char *relative_to(const char *kubeconfig, const char *p)
{
	const char *slash = strrchr(kubeconfig, '/');
	struct kp_buf b = KP_BUF_INIT;
	if (p[0] == '/' || !slash)
		return kp_xstrdup(p);
	kp_buf_add(&b, kubeconfig, (size_t)(slash - kubeconfig + 1));
	kp_buf_addstr(&b, p);
	return kp_buf_detach(&b, NULL);
}

/* `<field>-data` (base64) or `<field>` (a file): PEM into *out. */
static kp_rc data_or_file(const char *file, const struct kp_node *map, const char *data_key,
			  const char *file_key, const char *owner, char **out, size_t *outlen,
			  struct kp_buf *err)
{
	const struct kp_node *d = kp_node_map_get(map, data_key);
	if (d && !kp_node_is_null(d)) {
		if (d->type != KP_N_SCALAR)
			return kp_node_errorf(err, KP_ERR_PARSE, d, "'%s' of %s must be a string",
					      data_key, owner);
		return b64_decode(d, data_key, out, outlen, err);
	}
	const char *f = scalar(map, file_key);
	if (!f)
		return KP_OK;
	char *p = relative_to(file, f);
	struct kp_buf b = KP_BUF_INIT, e = KP_BUF_INIT;
	kp_rc rc = kp_read_file(p, KUBECONFIG_FILE_MAX, &b, &e);
	if (rc) {
		const struct kp_node *fn = kp_node_map_get(map, file_key);
		kp_node_errorf(err, rc, fn, "%s of %s: %s", file_key, owner, e.buf);
	} else {
		*outlen = b.len;
		*out = kp_buf_detach(&b, NULL);
	}
	free(p);
	kp_buf_release(&b);
	kp_buf_release(&e);
	return rc;
}

static kp_rc resolve(struct kp_kubeconfig *kc, const struct kp_node *root, struct kp_buf *err)
{
	const char *file = kc->path;
	const struct kp_node *ctx, *cluster, *user;
	struct kp_buf owner = KP_BUF_INIT;
	kp_rc rc;

	const char *cur = scalar(root, "current-context");
	if (!cur)
		return kp_errorf(err, KP_ERR_INVALID, "%s: no current-context", file);
	kc->context = kp_xstrdup(cur);
	if ((rc = find_named(file, root, "contexts", "context", cur, &ctx, err)))
		return rc;
	const char *cn = scalar(ctx, "cluster"), *un = scalar(ctx, "user");
	if (!cn)
		return kp_node_errorf(err, KP_ERR_INVALID, ctx, "context '%s' names no cluster",
				      cur);
	kc->cluster = kp_xstrdup(cn);
	if ((rc = find_named(file, root, "clusters", "cluster", cn, &cluster, err)))
		return rc;
	const char *server = scalar(cluster, "server");
	if (!server)
		return kp_node_errorf(err, KP_ERR_INVALID, cluster, "cluster '%s' has no server",
				      cn);
	if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
		return kp_node_errorf(err, KP_ERR_INVALID, kp_node_map_get(cluster, "server"),
				      "server '%s' of cluster '%s' is not an https:// URL", server,
				      cn);
	kc->server = kp_xstrdup(server);
	const struct kp_node *ins = kp_node_map_get(cluster, "insecure-skip-tls-verify");
	if (ins && !kp_node_get_bool(ins, &kc->insecure))
		return kp_node_errorf(err, KP_ERR_PARSE, ins,
				      "'insecure-skip-tls-verify' must be a boolean");
	kp_buf_addf(&owner, "cluster '%s'", cn);
	rc = data_or_file(file, cluster, "certificate-authority-data", "certificate-authority",
			  owner.buf, &kc->ca, &kc->ca_len, err);
	kp_buf_release(&owner);
	if (rc)
		return rc;
	if (!un)
		return KP_OK; /* anonymous: allowed, the server decides */
	kc->user = kp_xstrdup(un);
	if ((rc = find_named(file, root, "users", "user", un, &user, err)))
		return rc;
	kp_buf_addf(&owner, "user '%s'", un);
	rc = data_or_file(file, user, "client-certificate-data", "client-certificate", owner.buf,
			  &kc->cert, &kc->cert_len, err);
	if (!rc)
		rc = data_or_file(file, user, "client-key-data", "client-key", owner.buf, &kc->key,
				  &kc->key_len, err);
	if (!rc && !kc->cert != !kc->key)
		rc = kp_node_errorf(
		    err, KP_ERR_INVALID, user, "user '%s' has a client %s but no client %s", un,
		    kc->cert ? "certificate" : "key", kc->cert ? "key" : "certificate");
	if (!rc) {
		const char *tok = scalar(user, "token");
		if (tok) {
			kc->token = kp_xstrdup(tok);
		} else {
			size_t len;
			rc = data_or_file(file, user, "", "tokenFile", owner.buf, &kc->token, &len,
					  err);
			if (!rc && kc->token) /* the file usually ends in a newline */
				while (len && isspace((unsigned char)kc->token[len - 1]))
					kc->token[--len] = '\0';
		}
	}
	kp_buf_release(&owner);
	return rc;
}

/* Resolve the current context of a loaded kubeconfig; frees doc. */
static kp_rc kubeconfig_from_doc(const char *path, struct kp_doc *doc, struct kp_kubeconfig **out,
				 struct kp_buf *err)
{
	kp_rc rc;
	if (!doc->root || doc->root->type != KP_N_MAP) {
		kp_doc_free(doc);
		return kp_errorf(err, KP_ERR_PARSE, "%s: a kubeconfig must be a mapping", path);
	}
	struct kp_kubeconfig *kc = kp_xcalloc(1, sizeof(*kc));
	kc->path = kp_xstrdup(path);
	rc = resolve(kc, doc->root, err);
	kp_doc_free(doc);
	if (rc) {
		kp_kubeconfig_free(kc);
		return rc;
	}
	*out = kc;
	return KP_OK;
}

kp_rc kp_kubeconfig_load(const char *path, struct kp_kubeconfig **out, struct kp_buf *err)
{
	struct kp_doc *doc = NULL;
	kp_rc rc = kp_yaml_load_file(path, &doc, err);
	if (rc)
		return rc;
	return kubeconfig_from_doc(path, doc, out, err);
}

kp_rc kp_kubeconfig_load_string(const char *path, const char *data, size_t len,
				struct kp_kubeconfig **out, struct kp_buf *err)
{
	struct kp_doc *doc = NULL;
	kp_rc rc = kp_yaml_load_string(path, data, len, &doc, err);
	if (rc)
		return rc;
	return kubeconfig_from_doc(path, doc, out, err);
}

kp_rc kp_kube_open(const char *given, const char *env_kubeconfig, const char *home,
		   struct kp_kube **out, struct kp_buf *err)
{
	struct kp_buf path = KP_BUF_INIT;
	struct kp_kubeconfig *kc = NULL;
	*out = NULL;
	kp_rc rc = kp_kubeconfig_find(given, env_kubeconfig, home, &path, err);
	if (!rc)
		rc = kp_kubeconfig_load(path.buf, &kc, err);
	if (!rc)
		rc = kp_kube_new(kc, out, err);
	kp_kubeconfig_free(kc);
	kp_buf_release(&path);
	return rc;
}
