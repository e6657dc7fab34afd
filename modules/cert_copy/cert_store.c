/*
 * cert_store.c - cert-copy's side of the backup store: the stored copies
 * (STORE/<host>/<node path>) and manifest.json, all read and written
 * through modules/lib/store.c, so that no path a node reported and no link
 * placed in the store leads outside it.
 *
 * A manifest is checked before it is used: restore writes its paths on the
 * node, so each must be a clean path under the directories it records.
 */
#include "modules/cert_copy/cert_copy_int.h"
#include "transport/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kp_cc_stored_rel(const struct state *s, const char *node_path, struct kp_buf *out)
{
	kp_buf_addf(out, "%s%s%s", s->src, node_path[0] == '/' ? "" : "/", node_path);
}

/* Every manifest entry: a clean path under the manifest's directories. */
static kp_rc check_entries(const struct state *s, const char *shown, struct kp_buf *err)
{
	struct roots roots = {0};
	struct kp_buf words = KP_BUF_INIT, e = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	const cJSON *mpaths = cJSON_GetObjectItemCaseSensitive(s->mj, "paths");
	if (cJSON_IsArray(mpaths))
		kp_cc_paths_of(NULL, mpaths, &words, &roots);
	for (size_t i = 0; i < s->manifest.n && !rc; i++) {
		const char *p = s->manifest.e[i].path;
		if (kp_store_check(p, strlen(p), "entry", &e)) {
			rc = kp_errorf(err, KP_ERR_PARSE, "'%s': %s", shown, e.buf);
		} else if (!kp_cc_under(&roots, p)) {
			kp_buf_reset(&e);
			for (size_t k = 0; k < roots.n; k++)
				kp_buf_addf(&e, "%s%s", k ? ", " : "", roots.v[k]);
			rc = kp_errorf(err, KP_ERR_PARSE, "'%s': entry '%s' is not under %s", shown,
				       p, roots.n ? e.buf : "the manifest's paths");
		}
	}
	kp_cc_roots_release(&roots);
	kp_buf_release(&words);
	kp_buf_release(&e);
	return rc;
}

kp_rc kp_cc_read_manifest(struct state *s, bool *found, struct kp_buf *err)
{
	struct kp_buf rel = KP_BUF_INIT, text = KP_BUF_INIT, e = KP_BUF_INIT;
	kp_buf_addf(&rel, "%s/manifest.json", s->src);
	char *shown = kp_store_path(s->root, rel.buf);
	*found = false;
	kp_rc rc = kp_store_read(s->root, rel.buf, 64 << 20, &text, &e);
	if (rc == KP_ERR_NOTFOUND) {
		rc = KP_OK;
		goto out;
	}
	if (rc) {
		kp_errorf(err, rc, "%s", e.buf);
		goto out;
	}
	s->mj = cJSON_Parse(text.buf);
	const cJSON *ents = cJSON_GetObjectItemCaseSensitive(s->mj, "entries");
	if (!cJSON_IsArray(ents)) {
		rc = kp_errorf(err, KP_ERR_PARSE, "'%s': not a cert-copy manifest", shown);
		goto out;
	}
	const cJSON *it;
	cJSON_ArrayForEach(it, ents)
	{
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
		const cJSON *mode = cJSON_GetObjectItemCaseSensitive(it, "mode");
		const cJSON *owner = cJSON_GetObjectItemCaseSensitive(it, "owner");
		const cJSON *group = cJSON_GetObjectItemCaseSensitive(it, "group");
		const cJSON *size = cJSON_GetObjectItemCaseSensitive(it, "size");
		const cJSON *sha = cJSON_GetObjectItemCaseSensitive(it, "sha256");
		const cJSON *link = cJSON_GetObjectItemCaseSensitive(it, "target");
		if (!cJSON_IsString(path) || !cJSON_IsString(type) || !cJSON_IsString(mode)) {
			rc = kp_errorf(err, KP_ERR_PARSE, "'%s': an entry lacks path, type or mode",
				       shown);
			goto out;
		}
		struct entry en = {0};
		en.type = type->valuestring[0] == 'd'	? 'd'
			  : type->valuestring[0] == 'l' ? 'l'
							: 'f';
		en.mode = (unsigned)strtoul(mode->valuestring, NULL, 8);
		en.owner = kp_xstrdup(cJSON_IsString(owner) ? owner->valuestring : "root");
		en.group = kp_xstrdup(cJSON_IsString(group) ? group->valuestring : "root");
		en.size = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : 0;
		en.path = kp_xstrdup(path->valuestring);
		en.link = kp_xstrdup(cJSON_IsString(link) ? link->valuestring : "");
		snprintf(en.sha, sizeof(en.sha), "%s", cJSON_IsString(sha) ? sha->valuestring : "");
		KP_GROW(s->manifest.e, s->manifest.n + 1, s->manifest.cap);
		s->manifest.e[s->manifest.n++] = en;
	}
	if (!(rc = check_entries(s, shown, err)))
		*found = true;
out:
	free(shown);
	kp_buf_release(&rel);
	kp_buf_release(&text);
	kp_buf_release(&e);
	return rc;
}

kp_rc kp_cc_read_stored(const struct state *s, const char *node_path, struct kp_buf *data,
			struct kp_buf *err)
{
	struct kp_buf rel = KP_BUF_INIT;
	kp_cc_stored_rel(s, node_path, &rel);
	kp_rc rc = kp_store_read(s->root, rel.buf, FILE_MAX, data, err);
	kp_buf_release(&rel);
	return rc;
}

bool kp_cc_load_stored(struct state *s, const struct entry *m, struct kp_buf *data,
		       struct kp_buf *why)
{
	struct kp_buf e = KP_BUF_INIT;
	char sha[65];
	bool ok = false;
	if (kp_cc_read_stored(s, m->path, data, &e)) {
		kp_buf_addf(why, "%s", e.buf);
	} else {
		kp_sha256_hex(data->buf, data->len, sha);
		if (strcmp(sha, m->sha))
			kp_buf_addf(why,
				    "'%s%s' in the store does not match its manifest (sha256 "
				    "%.12s…, recorded %.12s…)",
				    s->dir, m->path, sha, m->sha);
		else
			ok = true;
	}
	kp_buf_release(&e);
	return ok;
}
