/*
 * etcdutil.c - what etcd-snapshot and etcd-member share: the etcdctl
 * command line from the task's endpoints and certificates, parsing
 * `etcdctl member list -w json` and `endpoint health -w json`, the quorum
 * arithmetic, and checking a snapshot's own SHA-256 trailer.
 *
 * etcd prints member IDs as JSON numbers up to 2^64, which a double cannot
 * hold: the IDs are read from the text itself, everything else with cJSON.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

/* ---- the command line ------------------------------------------------------ */

void kp_etcd_endpoints(const struct kp_modctx *ctx, struct kp_buf *out)
{
	const struct kp_value *v = kp_arg(ctx, "endpoints");
	if (!v)
		return;
	if (v->type == KP_V_STR) {
		kp_buf_addstr(out, v->u.str.s);
		return;
	}
	for (size_t i = 0; v->type == KP_V_LIST && i < kp_list_len(v); i++) {
		const struct kp_value *e = kp_list_at(v, i);
		if (e->type == KP_V_STR)
			kp_buf_addf(out, "%s%s", out->len ? "," : "", e->u.str.s);
	}
}

static void add_opt(struct kp_buf *out, const char *opt, const char *val)
{
	struct kp_buf w = KP_BUF_INIT;
	kp_buf_addf(&w, "%s=%s", opt, val);
	kp_buf_addch(out, ' ');
	kp_sh_quote(out, w.buf);
	kp_buf_release(&w);
}

void kp_etcdctl_cmd(const struct kp_modctx *ctx, const char *endpoints, struct kp_buf *out)
{
	struct kp_buf eps = KP_BUF_INIT;
	if (!endpoints) {
		kp_etcd_endpoints(ctx, &eps);
		endpoints = eps.buf;
	}
	kp_buf_addstr(out, "ETCDCTL_API=3 etcdctl");
	if (*endpoints)
		add_opt(out, "--endpoints", endpoints);
	const char *names[] = {"cacert", "cert", "key"};
	for (size_t i = 0; i < KP_ARRAY_LEN(names); i++) {
		const char *p = kp_arg_str(ctx, names[i]);
		struct kp_buf o = KP_BUF_INIT;
		kp_buf_addf(&o, "--%s", names[i]);
		if (p && *p)
			add_opt(out, o.buf, p);
		kp_buf_release(&o);
	}
	kp_buf_release(&eps);
}

/* ---- member list ------------------------------------------------------------- */

void kp_etcd_members_free(struct kp_etcd_member *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		for (size_t j = 0; j < m[i].npeer; j++)
			free(m[i].peer_urls[j]);
		for (size_t j = 0; j < m[i].nclient; j++)
			free(m[i].client_urls[j]);
		free(m[i].peer_urls);
		free(m[i].client_urls);
	}
	free(m);
}

static void str_array(const cJSON *a, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int len = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
	if (len <= 0)
		return;
	*out = kp_xcalloc((size_t)len, sizeof(char *));
	for (int i = 0; i < len; i++) {
		const cJSON *s = cJSON_GetArrayItem(a, i);
		if (cJSON_IsString(s))
			(*out)[(*n)++] = kp_xstrdup(s->valuestring);
	}
}

/* The next `"KEY":<digits>` after *p (not escaped inside a string). */
static bool next_u64(const char **p, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	for (const char *s = *p; (s = strstr(s, key)); s += kl) {
		if (s > *p && s[-1] == '\\')
			continue;
		const char *d = s + kl;
		while (*d == ' ')
			d++;
		if (*d < '0' || *d > '9')
			continue;
		errno = 0;
		char *end;
		unsigned long long x = strtoull(d, &end, 10);
		if (errno)
			return false;
		*v = x;
		*p = end;
		return true;
	}
	return false;
}

kp_rc kp_etcd_parse_members(const char *json, struct kp_etcd_member **out, size_t *n,
			    uint64_t *cluster_id, struct kp_buf *err)
{
	*out = NULL;
	*n = 0;
	cJSON *root = cJSON_Parse(json);
	const cJSON *ms = root ? cJSON_GetObjectItemCaseSensitive(root, "members") : NULL;
	if (!cJSON_IsArray(ms)) {
		cJSON_Delete(root);
		return kp_errorf(
		    err, KP_ERR_PARSE,
		    "cannot read 'etcdctl member list -w json' output: no members list");
	}
	const char *p = json;
	uint64_t cid = 0;
	const char *h = strstr(json, "\"cluster_id\":");
	if (h) {
		const char *q = h;
		next_u64(&q, "\"cluster_id\":", &cid);
	}
	if (cluster_id)
		*cluster_id = cid;
	p = strstr(json, "\"members\"");
	int len = cJSON_GetArraySize(ms);
	struct kp_etcd_member *m = kp_xcalloc(len > 0 ? (size_t)len : 1, sizeof(*m));
	for (int i = 0; i < len; i++) {
		const cJSON *it = cJSON_GetArrayItem(ms, i);
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
		if (!p || !next_u64(&p, "\"ID\":", &m[i].id)) {
			kp_etcd_members_free(m, (size_t)i);
			cJSON_Delete(root);
			return kp_errorf(
			    err, KP_ERR_PARSE,
			    "cannot read 'etcdctl member list -w json' output: member %d "
			    "has no ID",
			    i + 1);
		}
		m[i].name = kp_xstrdup(cJSON_IsString(name) ? name->valuestring : "");
		str_array(cJSON_GetObjectItemCaseSensitive(it, "peerURLs"), &m[i].peer_urls,
			  &m[i].npeer);
		str_array(cJSON_GetObjectItemCaseSensitive(it, "clientURLs"), &m[i].client_urls,
			  &m[i].nclient);
		/* a member added but never started has no name and no client URLs */
		m[i].started = *m[i].name != '\0';
	}
	cJSON_Delete(root);
	*out = m;
	*n = (size_t)len;
	return KP_OK;
}

static bool same_url(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	return la == lb && !strncmp(a, b, la);
}

long kp_etcd_find_member(const struct kp_etcd_member *m, size_t n, const char *what)
{
	long hit = -1;
	bool url = strstr(what, "://") != NULL;
	for (size_t i = 0; i < n; i++) {
		bool match = false;
		if (url) {
			for (size_t j = 0; j < m[i].npeer && !match; j++)
				match = same_url(m[i].peer_urls[j], what);
		} else {
			char hex[17];
			snprintf(hex, sizeof(hex), "%" PRIx64, m[i].id);
			match = (*m[i].name && !strcmp(m[i].name, what)) || !strcmp(hex, what);
		}
		if (match) {
			if (hit >= 0)
				return -2;
			hit = (long)i;
		}
	}
	return hit;
}

void kp_etcd_member_id(const struct kp_etcd_member *m, char out[17])
{
	snprintf(out, 17, "%" PRIx64, m->id);
}

/* ---- quorum ------------------------------------------------------------------- */

size_t kp_etcd_quorum(size_t members)
{
	return members / 2 + 1;
}

const char *kp_etcd_remove_check(size_t members, size_t healthy, bool removed_healthy,
				 struct kp_buf *why)
{
	if (!members)
		return NULL;
	if (healthy < kp_etcd_quorum(members)) {
		kp_buf_addf(why,
			    "the cluster has lost quorum already (%zu of %zu members healthy, %zu "
			    "needed): it cannot commit a member change",
			    healthy, members, kp_etcd_quorum(members));
		return why->buf;
	}
	size_t after = members - 1, left = healthy - (removed_healthy ? 1 : 0);
	if (after && left < kp_etcd_quorum(after)) {
		kp_buf_addf(why,
			    "removing it would lose quorum: %zu healthy of %zu members left, %zu "
			    "needed",
			    left, after, kp_etcd_quorum(after));
		return why->buf;
	}
	return NULL;
}

/* ---- endpoint health ---------------------------------------------------------- */

kp_rc kp_etcd_parse_health(const char *json, struct kp_value **out, struct kp_buf *err)
{
	/* etcdctl prints the JSON array on stdout (unhealthy ones with "error") */
	const char *start = strchr(json, '[');
	cJSON *root = start ? cJSON_Parse(start) : NULL;
	if (!cJSON_IsArray(root)) {
		cJSON_Delete(root);
		return kp_errorf(err, KP_ERR_PARSE,
				 "cannot read 'etcdctl endpoint health -w json' output");
	}
	struct kp_value *m = kp_value_map();
	const cJSON *it;
	cJSON_ArrayForEach(it, root)
	{
		const cJSON *ep = cJSON_GetObjectItemCaseSensitive(it, "endpoint");
		const cJSON *h = cJSON_GetObjectItemCaseSensitive(it, "health");
		if (cJSON_IsString(ep))
			kp_map_set_take(m, ep->valuestring, kp_value_bool(cJSON_IsTrue(h)));
	}
	cJSON_Delete(root);
	*out = m;
	return KP_OK;
}

/* ---- snapshot integrity --------------------------------------------------------- */

#define TRAILER	   32
#define BOLT_MAGIC 0xED0CDAEDu

bool kp_etcd_snapshot_check(const unsigned char *data, size_t len, char sha_hex[65],
			    struct kp_buf *why)
{
	if (sha_hex)
		kp_sha256_hex(data, len, sha_hex);
	if (len < 2 * 4096 + TRAILER) {
		kp_buf_addf(why,
			    "truncated or not an etcd snapshot: %zu bytes is smaller than "
			    "an empty database",
			    len);
		return false;
	}
	/* etcd: a snapshot is a bbolt file (a whole number of 512-byte sectors)
	 * followed by the SHA-256 of those bytes */
	if (len % 512 != TRAILER) {
		kp_buf_addf(why,
			    "truncated: its size (%zu bytes) is not a whole database plus etcd's "
			    "32-byte SHA-256 trailer",
			    len);
		return false;
	}
	uint32_t magic = (uint32_t)data[16] | (uint32_t)data[17] << 8 | (uint32_t)data[18] << 16 |
			 (uint32_t)data[19] << 24;
	if (magic != BOLT_MAGIC) {
		kp_buf_addstr(why, "not an etcd snapshot: no bbolt database header");
		return false;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, len - TRAILER, md, &mdlen, EVP_sha256(), NULL) || mdlen != TRAILER) {
		kp_buf_addstr(why, "cannot compute SHA-256 (OpenSSL)");
		return false;
	}
	if (CRYPTO_memcmp(md, data + len - TRAILER, TRAILER)) {
		kp_buf_addstr(why, "corrupt: its SHA-256 trailer does not match its contents");
		return false;
	}
	return true;
}

kp_rc kp_etcd_snapshot_check_file(const char *path, int64_t *size, char sha_hex[65], bool *good,
				  struct kp_buf *why, struct kp_buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return kp_errorf(err, e == ENOENT ? KP_ERR_NOTFOUND : KP_ERR_IO,
				 "cannot read '%s': %s", path, strerror(e));
	}
	*size = st.st_size;
	if (!st.st_size) {
		close(fd);
		kp_sha256_hex("", 0, sha_hex);
		kp_buf_addstr(why, "truncated: the file is empty");
		*good = false;
		return KP_OK;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
	*good = kp_etcd_snapshot_check(map, (size_t)st.st_size, sha_hex, why);
	munmap(map, (size_t)st.st_size);
	return KP_OK;
}
