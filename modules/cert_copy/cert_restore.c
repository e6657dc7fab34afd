/*
 * cert_restore.c - cert-copy restore and verify: the backup in the store
 * back onto the node, then every SHA-256, mode and owner checked there.
 *
 * Before anything is written it refuses expired certificates and private
 * keys that do not match their certificate (or public key) unless `force`.
 * Files go through the transport's atomic put with the recorded mode and
 * owner; directories and links through one shell command per 32. Key
 * material goes from the store to the node through memory only: never into
 * a message, a fact, a diff or a command line.
 */
#include "modules/cert_copy/cert_copy_int.h"
#include "transport/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

static const struct entry *partner(struct state *s, const struct entry *key, const char *ext)
{
	struct kp_buf p = KP_BUF_INIT;
	const char *dot = strrchr(key->path, '.'), *slash = strrchr(key->path, '/');
	size_t stem =
	    dot && (!slash || dot > slash) ? (size_t)(dot - key->path) : strlen(key->path);
	kp_buf_add(&p, key->path, stem);
	kp_buf_addstr(&p, ext);
	const struct entry *e =
	    strcmp(p.buf, key->path) ? kp_cc_find_entry(&s->manifest, p.buf) : NULL;
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
		if (!kp_cc_load_stored(s, m, &data, fatal)) {
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
			if (c && (c == m || kp_cc_load_stored(s, c, &other, &w))) {
				const struct kp_buf *cb = c == m ? &data : &other;
				if (!kp_pki_key_matches_cert(cb->buf, cb->len, data.buf, data.len,
							     &match, &e) &&
				    !match)
					kp_buf_addf(why, "%s%s: private key does not match %s%s",
						    count++ ? "; " : "", m->path,
						    c == m ? "the certificate in the same file"
							   : "its certificate ",
						    c == m ? "" : c->path);
			} else if (pub && kp_cc_load_stored(s, pub, &other, &w)) {
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
	kp_rc rc = kp_cc_read_manifest(s, &found, err);
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
	kp_cc_listing_release(&s->node);
	kp_rc rc = kp_cc_list(ctx, res, cJSON_GetObjectItemCaseSensitive(s->mj, "paths"), &s->node,
			      &paths, ok, err);
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
		struct entry *m = &s->manifest.e[i], *n = kp_cc_find_entry(&s->node, m->path);
		if (m->type == 'd') {
			if (!n || n->type != 'd')
				s->mkdir[s->nmkdir++] = m;
			else if (kp_cc_attrs_differ(m, n))
				s->attrs[s->nattrs++] = m;
		} else if (m->type == 'l') {
			if (!n || n->type != 'l' || strcmp(n->link, m->link))
				s->links[s->nlinks++] = m;
		} else if (!n || n->type != 'f' || strcmp(n->sha, m->sha)) {
			s->write[s->nwrite++] = m;
		} else if (kp_cc_attrs_differ(m, n)) {
			s->attrs[s->nattrs++] = m;
		}
	}
	return KP_OK;
}

kp_rc kp_cc_restore_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
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
		kp_cc_add_named(&names, &count, s->write[i]->path);
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
		const struct entry *n = kp_cc_find_entry(&s->node, m->path);
		const char *what = NULL;
		if (!n)
			what = "missing";
		else if (n->type != m->type)
			what = "of another type";
		else if (m->type == 'f' && strcmp(n->sha, m->sha))
			what = "sha256 differs";
		else if (m->type == 'l' && strcmp(n->link, m->link))
			what = "link target differs";
		else if (kp_cc_attrs_differ(m, n))
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

kp_rc kp_cc_restore_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
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
		if (!kp_cc_load_stored(s, m, &data, &why)) {
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

/* ---- verify ------------------------------------------------------------------------------ */

kp_rc kp_cc_verify(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct state *s = ctx->state;
	struct kp_buf why = KP_BUF_INIT, paths = KP_BUF_INIT;
	bool ok;
	kp_rc rc = open_backup(ctx, res, s, &ok, err);
	if (rc || !ok)
		return rc;
	rc = kp_cc_list(ctx, res, cJSON_GetObjectItemCaseSensitive(s->mj, "paths"), &s->node,
			&paths, &ok, err);
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
