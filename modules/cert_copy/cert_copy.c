/*
 * cert_copy.c - back up, restore, verify and report node certificates.
 *
 * The store on the controller holds one directory per host: the node's
 * files under their own absolute paths (store/<host>/etc/kubernetes/pki/…)
 * and manifest.json, which records for every entry its type, SHA-256, size,
 * mode, owner and group, and for certificates the subject, issuer, SANs and
 * not-after date (parsed with OpenSSL, pki.c). The store's directories are
 * 0700, private keys 0600.
 *
 * restore writes only the files that differ, through the transport's
 * atomic put with the recorded mode and owner, then lists the node again and
 * checks every SHA-256. Before anything is written it refuses expired
 * certificates and private keys that do not match their certificate (or
 * public key) unless `force`. Key material goes from the node to the store
 * and back through memory only: it is never put into a message, a fact, a
 * diff or a command line.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>

static const char *const actions[] = {"backup", "restore", "verify", "report", NULL};

static const struct kp_argspec args[] = {
    {.name = "action", .type = KP_T_STR, .def = "backup", .choices = actions, .help = "what to do"},
    {.name = "paths",
     .type = KP_T_LIST,
     .def = "[/etc/kubernetes/pki]",
     .help = "directories on the node"},
    {.name = "store",
     .type = KP_T_PATH,
     .def = "backups/pki/",
     .help = "directory on the controller"},
    {.name = "from_host", .type = KP_T_STR, .help = "restore another host's backup"},
    {.name = "warn_days",
     .type = KP_T_INT,
     .def = "30",
     .help = "warn about certificates expiring within this many days"},
    {.name = "force",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "restore expired certificates or mismatched keys"},
    {.name = "fail_under",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "report: fail when a certificate expires within warn_days"},
    {0},
};

#define FILE_MAX  ((size_t)16 << 20)
#define MAX_NAMED 12 /* files named in one message */

/* One entry of a node listing or of the manifest. */
struct entry {
	char type; /* 'f', 'd', 'l' */
	unsigned mode;
	char *owner, *group;
	int64_t size;
	char *path, *link;
	char sha[65];
	bool seen; /* matched while comparing */
};

struct listing {
	struct entry *e;
	size_t n, cap;
	char **missing; /* paths that do not exist on the node */
	size_t nmissing, capm;
};

static void listing_release(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].owner);
		free(l->e[i].group);
		free(l->e[i].path);
		free(l->e[i].link);
	}
	free(l->e);
	for (size_t i = 0; i < l->nmissing; i++)
		free(l->missing[i]);
	free(l->missing);
	memset(l, 0, sizeof(*l));
}

static struct entry *find_entry(struct listing *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].path, path))
			return &l->e[i];
	return NULL;
}

struct state {
	char *dir; /* store/<host or from_host> */
	char *src; /* whose backup */
	struct listing node, manifest;
	cJSON *mj; /* the manifest */
	/* restore: what to do */
	struct entry **write, **attrs, **mkdir, **links;
	size_t nwrite, nattrs, nmkdir, nlinks;
};

static void state_free(void *arg)
{
	struct state *s = arg;
	free(s->dir);
	free(s->src);
	listing_release(&s->node);
	listing_release(&s->manifest);
	cJSON_Delete(s->mj);
	free(s->write);
	free(s->attrs);
	free(s->mkdir);
	free(s->links);
	free(s);
}

/* ---- listing the node ------------------------------------------------------------ */

static void paths_of(const struct kp_modctx *ctx, const cJSON *mpaths, struct kp_buf *out)
{
	const struct kp_value *v = kp_arg(ctx, "paths");
	if (mpaths) {
		const cJSON *p;
		cJSON_ArrayForEach(p, mpaths) if (cJSON_IsString(p))
		{
			kp_buf_addch(out, ' ');
			kp_sh_quote(out, p->valuestring);
		}
		return;
	}
	for (size_t i = 0; v && v->type == KP_V_LIST && i < kp_list_len(v); i++) {
		const struct kp_value *p = kp_list_at(v, i);
		if (p->type != KP_V_STR)
			continue;
		struct kp_buf t = KP_BUF_INIT;
		kp_buf_addstr(&t, p->u.str.s);
		while (t.len > 1 && t.buf[t.len - 1] == '/')
			kp_buf_setlen(&t, t.len - 1);
		kp_buf_addch(out, ' ');
		kp_sh_quote(out, t.buf);
		kp_buf_release(&t);
	}
}

static char *field(char **p)
{
	char *s = *p, *tab = strchr(s, '\t');
	if (tab) {
		*tab = '\0';
		*p = tab + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

/* find(1) over the paths: entries with their attributes, files with their
 * SHA-256; paths that do not exist in l->missing */
static kp_rc list_node(struct kp_modctx *ctx, struct kp_result *res, const char *paths,
		       struct listing *l, bool *ok, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_buf_addf(&cmd,
		    "for p in%s; do if [ ! -e \"$p\" ]; then printf 'missing\\t%%s\\n' \"$p\"; "
		    "continue; fi; find \"$p\" -xdev \\( -type f -o -type d -o -type l \\) "
		    "-printf 'entry\\t%%y\\t%%m\\t%%u\\t%%g\\t%%s\\t%%p\\t%%l\\n'; "
		    "find \"$p\" -xdev -type f -exec sha256sum -- {} +; done",
		    paths);
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = 120000};
	kp_rc rc = kp_mod_exec(ctx, res, &req, &r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd.buf, &r);
	if (!*ok)
		goto out;
	for (char *line = r.out.buf; *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *p = line;
		if (!strncmp(p, "missing\t", 8)) {
			KP_GROW(l->missing, l->nmissing + 1, l->capm);
			l->missing[l->nmissing++] = kp_xstrdup(p + 8);
		} else if (!strncmp(p, "entry\t", 6)) {
			p += 6;
			struct entry e = {0};
			e.type = *field(&p);
			e.mode = (unsigned)strtoul(field(&p), NULL, 8);
			e.owner = kp_xstrdup(field(&p));
			e.group = kp_xstrdup(field(&p));
			e.size = strtoll(field(&p), NULL, 10);
			e.path = kp_xstrdup(field(&p));
			e.link = kp_xstrdup(field(&p));
			if (e.type == 'd' || e.type == 'f' || e.type == 'l') {
				KP_GROW(l->e, l->n + 1, l->cap);
				l->e[l->n++] = e;
			} else {
				free(e.owner), free(e.group), free(e.path), free(e.link);
			}
		} else if (strlen(p) > 66 && p[64] == ' ') {
			/* sha256sum: "HEX  PATH" ("\HEX" for names it escaped) */
			struct entry *e = find_entry(l, p + 66);
			if (e)
				memcpy(e->sha, p, 64), e->sha[64] = '\0';
		}
		if (!nl)
			break;
		line = nl + 1;
	}
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

/* ---- the store -------------------------------------------------------------------- */

static void stored_path(const struct state *s, const char *node_path, struct kp_buf *out)
{
	kp_buf_addf(out, "%s%s%s", s->dir, node_path[0] == '/' ? "" : "/", node_path);
}

/* Read store/<src>/manifest.json into s->mj and s->manifest. */
static kp_rc read_manifest(struct state *s, bool *found, struct kp_buf *err)
{
	struct kp_buf p = KP_BUF_INIT, text = KP_BUF_INIT, e = KP_BUF_INIT;
	kp_buf_addf(&p, "%s/manifest.json", s->dir);
	*found = false;
	kp_rc rc = kp_read_file(p.buf, 64 << 20, &text, &e);
	if (rc) {
		kp_buf_release(&p);
		kp_buf_release(&e);
		kp_buf_release(&text);
		return KP_OK;
	}
	s->mj = cJSON_Parse(text.buf);
	const cJSON *ents = cJSON_GetObjectItemCaseSensitive(s->mj, "entries");
	if (!cJSON_IsArray(ents)) {
		rc = kp_errorf(err, KP_ERR_PARSE, "'%s': not a cert-copy manifest", p.buf);
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
				       p.buf);
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
	*found = true;
out:
	kp_buf_release(&p);
	kp_buf_release(&text);
	kp_buf_release(&e);
	return rc;
}

static bool attrs_differ(const struct entry *a, const struct entry *b)
{
	return (a->type != 'l' && a->mode != b->mode) || strcmp(a->owner, b->owner) ||
	       strcmp(a->group, b->group);
}

static void add_named(struct kp_buf *b, size_t *count, const char *path)
{
	if (*count < MAX_NAMED)
		kp_buf_addf(b, "%s%s", *count ? ", " : "", path);
	else if (*count == MAX_NAMED)
		kp_buf_addstr(b, ", …");
	(*count)++;
}

/* ---- backup ---------------------------------------------------------------------- */

static const char *kind_name(unsigned k)
{
	if ((k & KP_PKI_CERT) && (k & KP_PKI_KEY))
		return "certificate+key";
	if (k & KP_PKI_CERT)
		return "certificate";
	if (k & KP_PKI_KEY)
		return "private key";
	if (k & KP_PKI_PUBKEY)
		return "public key";
	return "other";
}

static kp_rc backup_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf paths = KP_BUF_INIT, what = KP_BUF_INIT;
	bool ok, found;
	size_t nfiles = 0, ndiff = 0;
	kp_rc rc;

	paths_of(ctx, NULL, &paths);
	rc = list_node(ctx, res, paths.buf, &s->node, &ok, err);
	if (rc || !ok)
		goto out;
	if (!s->node.n) {
		kp_mod_failf(res, "nothing to back up on %s: none of%s exists", ctx->host,
			     paths.buf);
		goto out;
	}
	rc = read_manifest(s, &found, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < s->node.n; i++) {
		struct entry *n = &s->node.e[i], *m = find_entry(&s->manifest, n->path);
		nfiles += n->type == 'f';
		bool differs = !m || m->type != n->type || attrs_differ(n, m) ||
			       (n->type == 'f' && strcmp(m->sha, n->sha)) ||
			       (n->type == 'l' && strcmp(m->link, n->link));
		if (!differs && n->type == 'f') {
			/* the stored copy itself */
			struct kp_buf sp = KP_BUF_INIT, data = KP_BUF_INIT, e = KP_BUF_INIT;
			char sha[65];
			stored_path(s, n->path, &sp);
			if (kp_read_file(sp.buf, FILE_MAX, &data, &e))
				differs = true;
			else {
				kp_sha256_hex(data.buf, data.len, sha);
				differs = strcmp(sha, n->sha) != 0;
			}
			OPENSSL_cleanse(data.buf, data.len);
			kp_buf_release(&sp);
			kp_buf_release(&data);
			kp_buf_release(&e);
		}
		if (m)
			m->seen = true;
		if (differs)
			add_named(&what, &ndiff, n->path);
	}
	for (size_t i = 0; i < s->manifest.n; i++)
		if (!s->manifest.e[i].seen)
			add_named(&what, &ndiff, s->manifest.e[i].path);
	if (ndiff) {
		res->changed = true;
		kp_buf_addf(&res->msg, "%s %zu files from %s to %s (%zu entries differ: %s)",
			    ctx->check_mode ? "would back up" : "backing up", nfiles, ctx->host,
			    s->dir, ndiff, what.buf);
	} else {
		kp_buf_addf(&res->msg, "the backup in %s matches %s (%zu files)", s->dir, ctx->host,
			    nfiles);
	}
out:
	kp_buf_release(&paths);
	kp_buf_release(&what);
	return rc;
}

static void iso_now(struct kp_buf *out)
{
	kp_pki_time_text((int64_t)time(NULL), out);
}

static kp_rc backup_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	cJSON *mj = cJSON_CreateObject(), *ents = cJSON_CreateArray(), *paths = cJSON_CreateArray();
	struct kp_buf t = KP_BUF_INIT, data = KP_BUF_INIT;
	size_t nfiles = 0, ncerts = 0, nkeys = 0;
	kp_rc rc = kp_mkdirs(s->dir, 0700, err);
	if (rc)
		goto out;
	chmod(s->dir, 0700);
	cJSON_AddStringToObject(mj, "host", ctx->host);
	iso_now(&t);
	cJSON_AddStringToObject(mj, "created", t.buf);
	const struct kp_value *pv = kp_arg(ctx, "paths");
	for (size_t i = 0; pv && pv->type == KP_V_LIST && i < kp_list_len(pv); i++)
		if (kp_list_at(pv, i)->type == KP_V_STR)
			cJSON_AddItemToArray(paths, cJSON_CreateString(kp_list_at(pv, i)->u.str.s));
	cJSON_AddItemToObject(mj, "paths", paths);
	for (size_t i = 0; i < s->node.n; i++) {
		struct entry *n = &s->node.e[i];
		cJSON *o = cJSON_CreateObject();
		char mode[8];
		snprintf(mode, sizeof(mode), "%04o", n->mode & 07777);
		cJSON_AddStringToObject(o, "path", n->path);
		cJSON_AddStringToObject(o, "type",
					n->type == 'd'	 ? "directory"
					: n->type == 'l' ? "link"
							 : "file");
		cJSON_AddStringToObject(o, "mode", mode);
		cJSON_AddStringToObject(o, "owner", n->owner);
		cJSON_AddStringToObject(o, "group", n->group);
		if (n->type == 'l')
			cJSON_AddStringToObject(o, "target", n->link);
		cJSON_AddItemToArray(ents, o);
		if (n->type != 'f')
			continue;
		kp_buf_reset(&data);
		rc = ctx->conn->ops->get(ctx->conn, n->path, FILE_MAX, &data, err);
		if (rc)
			goto out;
		char sha[65];
		kp_sha256_hex(data.buf, data.len, sha);
		unsigned kind = kp_pki_classify(data.buf, data.len);
		cJSON_AddStringToObject(o, "sha256", sha);
		cJSON_AddNumberToObject(o, "size", (double)data.len);
		cJSON_AddStringToObject(o, "kind", kind_name(kind));
		if (kind & KP_PKI_CERT) {
			struct kp_cert_info ci;
			struct kp_buf e = KP_BUF_INIT;
			if (!kp_pki_cert_info(data.buf, data.len, &ci, &e)) {
				cJSON_AddStringToObject(o, "subject", ci.subject);
				cJSON_AddStringToObject(o, "issuer", ci.issuer);
				cJSON *sans = cJSON_CreateArray();
				for (size_t k = 0; k < ci.nsans; k++)
					cJSON_AddItemToArray(sans, cJSON_CreateString(ci.sans[k]));
				cJSON_AddItemToObject(o, "sans", sans);
				kp_buf_reset(&t);
				kp_pki_time_text(ci.not_after, &t);
				cJSON_AddStringToObject(o, "not_after", t.buf);
				cJSON_AddBoolToObject(o, "ca", ci.ca);
				ncerts++;
				kp_cert_info_release(&ci);
			}
			kp_buf_release(&e);
		}
		nkeys += (kind & KP_PKI_KEY) != 0;
		struct kp_buf sp = KP_BUF_INIT;
		stored_path(s, n->path, &sp);
		rc = kp_mod_store_write(sp.buf, data.buf, data.len,
					(kind & KP_PKI_KEY) ? 0600 : 0644, err);
		kp_buf_release(&sp);
		OPENSSL_cleanse(data.buf, data.len);
		if (rc)
			goto out;
		nfiles++;
	}
	cJSON_AddItemToObject(mj, "entries", ents);
	ents = NULL;
	char *text = cJSON_Print(mj);
	struct kp_buf mp = KP_BUF_INIT;
	kp_buf_addf(&mp, "%s/manifest.json", s->dir);
	rc = kp_mod_store_write(mp.buf, text, strlen(text), 0600, err);
	free(text);
	if (!rc) {
		if (!res->facts)
			res->facts = kp_value_map();
		kp_map_set_take(res->facts, "store", kp_value_str(s->dir));
		kp_map_set_take(res->facts, "manifest", kp_value_str(mp.buf));
		kp_map_set_take(res->facts, "files", kp_value_int((int64_t)nfiles));
		kp_map_set_take(res->facts, "certificates", kp_value_int((int64_t)ncerts));
		kp_map_set_take(res->facts, "keys", kp_value_int((int64_t)nkeys));
		kp_buf_reset(&res->msg);
		kp_buf_addf(&res->msg,
			    "backed up %zu files (%zu certificates, %zu keys) from %s to %s",
			    nfiles, ncerts, nkeys, ctx->host, s->dir);
	}
	kp_buf_release(&mp);
out:
	cJSON_Delete(ents);
	cJSON_Delete(mj);
	OPENSSL_cleanse(data.buf, data.len);
	kp_buf_release(&data);
	kp_buf_release(&t);
	return rc;
}

/* ---- restore --------------------------------------------------------------------------- */

/* The stored copy of a manifest entry, checked against its SHA-256. */
static bool load_stored(struct state *s, const struct entry *m, struct kp_buf *data,
			struct kp_buf *why)
{
	struct kp_buf sp = KP_BUF_INIT, e = KP_BUF_INIT;
	char sha[65];
	bool ok = false;
	stored_path(s, m->path, &sp);
	if (kp_read_file(sp.buf, FILE_MAX, data, &e)) {
		kp_buf_addf(why, "%s", e.buf);
	} else {
		kp_sha256_hex(data->buf, data->len, sha);
		if (strcmp(sha, m->sha))
			kp_buf_addf(why,
				    "'%s' in the store does not match its manifest (sha256 %.12s…, "
				    "recorded %.12s…)",
				    sp.buf, sha, m->sha);
		else
			ok = true;
	}
	kp_buf_release(&sp);
	kp_buf_release(&e);
	return ok;
}

static const struct entry *partner(struct state *s, const struct entry *key, const char *ext)
{
	struct kp_buf p = KP_BUF_INIT;
	const char *dot = strrchr(key->path, '.'), *slash = strrchr(key->path, '/');
	size_t stem =
	    dot && (!slash || dot > slash) ? (size_t)(dot - key->path) : strlen(key->path);
	kp_buf_add(&p, key->path, stem);
	kp_buf_addstr(&p, ext);
	const struct entry *e = strcmp(p.buf, key->path) ? find_entry(&s->manifest, p.buf) : NULL;
	kp_buf_release(&p);
	return e && e->type == 'f' ? e : NULL;
}

/* Expired certificates and keys that do not match their certificate, in
 * the backup; every problem named in why. */
static bool refusals(struct state *s, struct kp_buf *why, struct kp_buf *fatal)
{
	int64_t now = (int64_t)time(NULL);
	size_t count = 0;
	for (size_t i = 0; i < s->manifest.n; i++) {
		const struct entry *m = &s->manifest.e[i];
		struct kp_buf data = KP_BUF_INIT, e = KP_BUF_INIT;
		if (m->type != 'f')
			continue;
		if (!load_stored(s, m, &data, fatal)) {
			kp_buf_release(&data);
			return true;
		}
		unsigned kind = kp_pki_classify(data.buf, data.len);
		if (kind & KP_PKI_CERT) {
			struct kp_cert_info ci;
			if (!kp_pki_cert_info(data.buf, data.len, &ci, &e)) {
				if (ci.not_after < now) {
					struct kp_buf t = KP_BUF_INIT;
					kp_pki_time_text(ci.not_after, &t);
					kp_buf_addf(why, "%s%s: certificate expired on %s",
						    count++ ? "; " : "", m->path, t.buf);
					kp_buf_release(&t);
				}
				kp_cert_info_release(&ci);
			}
		}
		if ((kind & KP_PKI_KEY) && !memmem(data.buf, data.len, "client-key-data:", 16)) {
			const struct entry *c = (kind & KP_PKI_CERT) ? m : partner(s, m, ".crt");
			const struct entry *pub = c ? NULL : partner(s, m, ".pub");
			struct kp_buf other = KP_BUF_INIT, w = KP_BUF_INIT;
			bool match = true;
			if (c && (c == m || load_stored(s, c, &other, &w))) {
				const struct kp_buf *cb = c == m ? &data : &other;
				if (!kp_pki_key_matches_cert(cb->buf, cb->len, data.buf, data.len,
							     &match, &e) &&
				    !match)
					kp_buf_addf(why, "%s%s: private key does not match %s%s",
						    count++ ? "; " : "", m->path,
						    c == m ? "the certificate in the same file"
							   : "its certificate ",
						    c == m ? "" : c->path);
			} else if (pub && load_stored(s, pub, &other, &w)) {
				if (!kp_pki_key_matches_pub(other.buf, other.len, data.buf,
							    data.len, &match, &e) &&
				    !match)
					kp_buf_addf(why, "%s%s: private key does not match %s",
						    count++ ? "; " : "", m->path, pub->path);
			}
			OPENSSL_cleanse(other.buf, other.len);
			kp_buf_release(&other);
			kp_buf_release(&w);
		}
		OPENSSL_cleanse(data.buf, data.len);
		kp_buf_release(&data);
		kp_buf_release(&e);
	}
	return false;
}

static kp_rc open_backup(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool *ok,
			 struct kp_buf *err)
{
	bool found;
	*ok = false;
	kp_rc rc = read_manifest(s, &found, err);
	if (rc)
		return rc;
	if (!found)
		return kp_mod_failf(
		    res,
		    "no backup of %s in %s (no manifest.json): run cert-copy backup "
		    "first",
		    s->src, s->dir);
	*ok = true;
	return KP_OK;
}

static kp_rc plan_restore(struct kp_modctx *ctx, struct kp_result *res, struct state *s, bool *ok,
			  struct kp_buf *err)
{
	struct kp_buf paths = KP_BUF_INIT;
	paths_of(ctx, cJSON_GetObjectItemCaseSensitive(s->mj, "paths"), &paths);
	listing_release(&s->node);
	kp_rc rc = list_node(ctx, res, paths.buf, &s->node, ok, err);
	kp_buf_release(&paths);
	if (rc || !*ok)
		return rc;
	free(s->write), free(s->attrs), free(s->mkdir), free(s->links);
	s->write = kp_xcalloc(s->manifest.n + 1, sizeof(*s->write));
	s->attrs = kp_xcalloc(s->manifest.n + 1, sizeof(*s->attrs));
	s->mkdir = kp_xcalloc(s->manifest.n + 1, sizeof(*s->mkdir));
	s->links = kp_xcalloc(s->manifest.n + 1, sizeof(*s->links));
	s->nwrite = s->nattrs = s->nmkdir = s->nlinks = 0;
	for (size_t i = 0; i < s->manifest.n; i++) {
		struct entry *m = &s->manifest.e[i], *n = find_entry(&s->node, m->path);
		if (m->type == 'd') {
			if (!n || n->type != 'd')
				s->mkdir[s->nmkdir++] = m;
			else if (attrs_differ(m, n))
				s->attrs[s->nattrs++] = m;
		} else if (m->type == 'l') {
			if (!n || n->type != 'l' || strcmp(n->link, m->link))
				s->links[s->nlinks++] = m;
		} else if (!n || n->type != 'f' || strcmp(n->sha, m->sha)) {
			s->write[s->nwrite++] = m;
		} else if (attrs_differ(m, n)) {
			s->attrs[s->nattrs++] = m;
		}
	}
	return KP_OK;
}

static kp_rc restore_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf why = KP_BUF_INIT, fatal = KP_BUF_INIT, names = KP_BUF_INIT;
	bool ok;
	kp_rc rc = open_backup(ctx, res, s, &ok, err);
	if (rc || !ok)
		return rc;
	if (refusals(s, &why, &fatal)) {
		kp_mod_failf(res, "refusing to restore onto %s: %s", ctx->host, fatal.buf);
		goto out;
	}
	if (why.len && !kp_arg_bool(ctx, "force")) {
		kp_mod_failf(res,
			     "refusing to restore the backup of %s onto %s: %s (force: true "
			     "overrides)",
			     s->src, ctx->host, why.buf);
		goto out;
	}
	rc = plan_restore(ctx, res, s, &ok, err);
	if (rc || !ok)
		goto out;
	size_t count = 0, nfiles = 0;
	for (size_t i = 0; i < s->manifest.n; i++)
		nfiles += s->manifest.e[i].type == 'f';
	for (size_t i = 0; i < s->nwrite; i++)
		add_named(&names, &count, s->write[i]->path);
	size_t total = s->nwrite + s->nattrs + s->nmkdir + s->nlinks;
	if (!res->facts)
		res->facts = kp_value_map();
	struct kp_value *files = kp_value_list();
	for (size_t i = 0; i < s->nwrite; i++)
		kp_list_push_take(files, kp_value_str(s->write[i]->path));
	kp_map_set_take(res->facts, "files", files);
	kp_map_set_take(res->facts, "store", kp_value_str(s->dir));
	if (!total) {
		kp_buf_addf(&res->msg, "all %zu files on %s match the backup of %s", nfiles,
			    ctx->host, s->src);
		goto out;
	}
	res->changed = true;
	kp_buf_addf(&res->msg, "%s %zu of %zu files onto %s from %s",
		    ctx->check_mode ? "would restore" : "restoring", s->nwrite, nfiles, ctx->host,
		    s->dir);
	if (s->nwrite)
		kp_buf_addf(&res->msg, ": %s", names.buf);
	if (s->nmkdir || s->nattrs || s->nlinks)
		kp_buf_addf(&res->msg, " (and %zu directories, %zu modes/owners, %zu links)",
			    s->nmkdir, s->nattrs, s->nlinks);
	if (why.len)
		kp_buf_addf(&res->msg, "; forced despite: %s", why.buf);
out:
	kp_buf_release(&why);
	kp_buf_release(&fatal);
	kp_buf_release(&names);
	return rc;
}

static void owner_arg(const struct entry *m, struct kp_buf *cmd)
{
	struct kp_buf og = KP_BUF_INIT;
	kp_buf_addf(&og, "%s:%s", m->owner, m->group);
	kp_sh_quote(cmd, og.buf);
	kp_buf_release(&og);
}

/* Compare every manifest entry with the node; the differences named in
 * out. Returns how many differ. */
static size_t compare(struct state *s, struct kp_buf *out)
{
	size_t count = 0;
	for (size_t i = 0; i < s->manifest.n; i++) {
		const struct entry *m = &s->manifest.e[i];
		const struct entry *n = find_entry(&s->node, m->path);
		const char *what = NULL;
		if (!n)
			what = "missing";
		else if (n->type != m->type)
			what = "of another type";
		else if (m->type == 'f' && strcmp(n->sha, m->sha))
			what = "sha256 differs";
		else if (m->type == 'l' && strcmp(n->link, m->link))
			what = "link target differs";
		else if (attrs_differ(m, n))
			what = "mode or owner differs";
		if (!what)
			continue;
		if (count < MAX_NAMED)
			kp_buf_addf(out, "%s%s (%s)", count ? ", " : "", m->path, what);
		else if (count == MAX_NAMED)
			kp_buf_addstr(out, ", …");
		count++;
	}
	return count;
}

static kp_rc restore_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf cmd = KP_BUF_INIT, data = KP_BUF_INIT, why = KP_BUF_INIT;
	struct kp_exec_res r;
	bool ok;
	kp_rc rc = KP_OK;

	kp_exec_res_init(&r);
	/* directories (parents first: the manifest lists them in find's order) */
	for (size_t i = 0; i < s->nmkdir + s->nattrs + s->nlinks; i++) {
		const struct entry *m = i < s->nmkdir ? s->mkdir[i]
					: i < s->nmkdir + s->nattrs
					    ? s->attrs[i - s->nmkdir]
					    : s->links[i - s->nmkdir - s->nattrs];
		char mode[8];
		snprintf(mode, sizeof(mode), "%04o", m->mode & 07777);
		if (i && i % 32 == 0) {
			rc = kp_mod_sh(ctx, res, cmd.buf, &r, err);
			ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd.buf, &r);
			kp_exec_res_release(&r);
			kp_exec_res_init(&r);
			kp_buf_reset(&cmd);
			if (!ok)
				goto out;
		}
		kp_buf_addstr(&cmd, cmd.len ? " && " : "");
		if (i < s->nmkdir) {
			kp_buf_addf(&cmd, "install -d -m %s -o ", mode);
			kp_sh_quote(&cmd, m->owner);
			kp_buf_addstr(&cmd, " -g ");
			kp_sh_quote(&cmd, m->group);
			kp_buf_addch(&cmd, ' ');
			kp_sh_quote(&cmd, m->path);
		} else if (i < s->nmkdir + s->nattrs) {
			kp_buf_addf(&cmd, "chmod %s ", mode);
			kp_sh_quote(&cmd, m->path);
			kp_buf_addstr(&cmd, " && chown -h ");
			owner_arg(m, &cmd);
			kp_buf_addch(&cmd, ' ');
			kp_sh_quote(&cmd, m->path);
		} else {
			kp_buf_addstr(&cmd, "ln -sfn ");
			kp_sh_quote(&cmd, m->link);
			kp_buf_addch(&cmd, ' ');
			kp_sh_quote(&cmd, m->path);
			kp_buf_addstr(&cmd, " && chown -h ");
			owner_arg(m, &cmd);
			kp_buf_addch(&cmd, ' ');
			kp_sh_quote(&cmd, m->path);
		}
	}
	if (cmd.len) {
		rc = kp_mod_sh(ctx, res, cmd.buf, &r, err);
		ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd.buf, &r);
		if (!ok)
			goto out;
	}
	/* files: atomically, with their recorded mode and owner */
	for (size_t i = 0; i < s->nwrite; i++) {
		const struct entry *m = s->write[i];
		kp_buf_reset(&why);
		if (!load_stored(s, m, &data, &why)) {
			kp_mod_failf(res, "%s", why.buf);
			goto out;
		}
		struct kp_put_opts po = {
		    .mode = (int)(m->mode & 07777), .owner = m->owner, .group = m->group};
		rc = ctx->conn->ops->put(ctx->conn, m->path, data.buf, data.len, &po, err);
		OPENSSL_cleanse(data.buf, data.len);
		kp_buf_reset(&data);
		kp_buf_addf(&res->cmds, "put %s (mode %04o, %s:%s, sha256 %.12s…)\n", m->path,
			    m->mode & 07777, m->owner, m->group, m->sha);
		if (rc)
			goto out;
	}
	/* every SHA-256 (and mode, owner) checked on the node afterwards */
	rc = plan_restore(ctx, res, s, &ok, err);
	if (rc || !ok)
		goto out;
	kp_buf_reset(&why);
	size_t bad = compare(s, &why), nfiles = 0;
	for (size_t i = 0; i < s->manifest.n; i++)
		nfiles += s->manifest.e[i].type == 'f';
	kp_buf_reset(&res->msg);
	if (bad)
		kp_mod_failf(res, "after the restore %zu entries on %s differ from the backup: %s",
			     bad, ctx->host, why.buf);
	else
		kp_buf_addf(&res->msg,
			    "restored the backup of %s onto %s; all %zu files check out (sha256, "
			    "mode, owner)",
			    s->src, ctx->host, nfiles);
	res->changed = !bad;
out:
	OPENSSL_cleanse(data.buf, data.len);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&data);
	kp_buf_release(&why);
	return rc;
}

/* ---- verify, report ------------------------------------------------------------------- */

static kp_rc verify(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf why = KP_BUF_INIT, paths = KP_BUF_INIT;
	bool ok;
	kp_rc rc = open_backup(ctx, res, s, &ok, err);
	if (rc || !ok)
		return rc;
	paths_of(ctx, cJSON_GetObjectItemCaseSensitive(s->mj, "paths"), &paths);
	rc = list_node(ctx, res, paths.buf, &s->node, &ok, err);
	if (!rc && ok) {
		size_t bad = compare(s, &why);
		if (bad)
			kp_mod_failf(res,
				     "%zu of %zu entries on %s differ from the backup in %s: %s",
				     bad, s->manifest.n, ctx->host, s->dir, why.buf);
		else
			kp_buf_addf(&res->msg, "all %zu entries on %s match the backup in %s",
				    s->manifest.n, ctx->host, s->dir);
	}
	kp_buf_release(&why);
	kp_buf_release(&paths);
	return rc;
}

static bool cert_name(const char *p)
{
	const char *dot = strrchr(p, '.');
	return dot && (!strcmp(dot, ".crt") || !strcmp(dot, ".pem") || !strcmp(dot, ".cer") ||
		       !strcmp(dot, ".cert"));
}

static kp_rc report(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf paths = KP_BUF_INIT, data = KP_BUF_INIT, warn = KP_BUF_INIT, t = KP_BUF_INIT;
	int64_t warn_days = kp_arg_int(ctx, "warn_days"), now = (int64_t)time(NULL);
	size_t ncerts = 0, nwarn = 0;
	const char *soonest = NULL;
	int64_t soonest_days = 0;
	bool ok;
	kp_rc rc;

	paths_of(ctx, NULL, &paths);
	rc = list_node(ctx, res, paths.buf, &s->node, &ok, err);
	if (rc || !ok)
		goto out;
	struct kp_value *certs = kp_value_list();
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "certificates", certs);
	for (size_t i = 0; i < s->node.n; i++) {
		const struct entry *n = &s->node.e[i];
		if (n->type != 'f' || !cert_name(n->path))
			continue;
		kp_buf_reset(&data);
		rc = ctx->conn->ops->get(ctx->conn, n->path, FILE_MAX, &data, err);
		if (rc)
			goto out;
		struct kp_cert_info ci;
		struct kp_buf e = KP_BUF_INIT;
		bool is_cert = (kp_pki_classify(data.buf, data.len) & KP_PKI_CERT) &&
			       !kp_pki_cert_info(data.buf, data.len, &ci, &e);
		OPENSSL_cleanse(data.buf, data.len);
		kp_buf_release(&e);
		if (!is_cert)
			continue;
		int64_t days = kp_pki_days_left(ci.not_after, now);
		struct kp_value *c = kp_value_map();
		kp_buf_reset(&t);
		kp_pki_time_text(ci.not_after, &t);
		kp_map_set_take(c, "path", kp_value_str(n->path));
		kp_map_set_take(c, "subject", kp_value_str(ci.subject));
		kp_map_set_take(c, "issuer", kp_value_str(ci.issuer));
		kp_map_set_take(c, "not_after", kp_value_str(t.buf));
		kp_map_set_take(c, "days_left", kp_value_int(days));
		kp_list_push_take(certs, c);
		if (!soonest || days < soonest_days) {
			soonest = n->path;
			soonest_days = days;
		}
		if (days < warn_days) {
			if (nwarn < MAX_NAMED)
				kp_buf_addf(&warn, "%s%s (%" PRId64 " days)", nwarn ? ", " : "",
					    n->path, days);
			nwarn++;
		}
		ncerts++;
		kp_cert_info_release(&ci);
	}
	kp_map_set_take(res->facts, "expiring", kp_value_int((int64_t)nwarn));
	if (!ncerts) {
		kp_buf_addf(&res->msg, "no certificates under%s on %s", paths.buf, ctx->host);
	} else if (nwarn && kp_arg_bool(ctx, "fail_under")) {
		kp_mod_failf(res,
			     "%zu of %zu certificates on %s expire within %" PRId64 " days: %s",
			     nwarn, ncerts, ctx->host, warn_days, warn.buf);
	} else {
		kp_buf_addf(&res->msg,
			    "%zu certificates on %s; soonest to expire: %s in %" PRId64 " days",
			    ncerts, ctx->host, soonest, soonest_days);
		if (nwarn)
			kp_buf_addf(&res->msg, "; within %" PRId64 " days: %s", warn_days,
				    warn.buf);
	}
out:
	kp_buf_release(&paths);
	kp_buf_release(&data);
	kp_buf_release(&warn);
	kp_buf_release(&t);
	return rc;
}

/* ---- the module ------------------------------------------------------------------------ */

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *action = kp_arg_str(ctx, "action"), *from = kp_arg_str(ctx, "from_host");
	struct state *s = kp_xcalloc(1, sizeof(*s));
	ctx->state = s;
	ctx->free_state = state_free;
	s->src = kp_xstrdup(from && *from && strcmp(action, "backup") ? from : ctx->host);
	s->dir = kp_mod_store_dir(ctx, "store", s->src);
	if (!strcmp(action, "backup"))
		return backup_probe(ctx, res, err);
	if (!strcmp(action, "restore"))
		return restore_probe(ctx, res, err);
	if (!strcmp(action, "verify"))
		return verify(ctx, res, err);
	return report(ctx, res, err);
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *action = kp_arg_str(ctx, "action");
	if (!ctx->state)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (!strcmp(action, "backup"))
		return backup_apply(ctx, res, err);
	if (!strcmp(action, "restore"))
		return restore_apply(ctx, res, err);
	return KP_OK;
}

const struct kp_module kp_mod_cert_copy = {
    .name = "cert-copy",
    .summary = "back up and restore node certificates",
    .args = args,
    .probe = probe,
    .apply = apply,
};
