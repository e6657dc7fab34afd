/*
 * cert_copy.c - back up, restore, verify and report node certificates: the
 * module, backup and report (listing: cert_listing.c, the store and its
 * manifest: cert_store.c, restore and verify: cert_restore.c).
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
#include "modules/cert_copy/cert_copy_int.h"
#include "transport/transport.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

static void state_free(void *arg)
{
	struct state *s = arg;
	free(s->root);
	free(s->dir);
	free(s->src);
	kp_cc_listing_release(&s->node);
	kp_cc_listing_release(&s->manifest);
	cJSON_Delete(s->mj);
	free(s->write);
	free(s->attrs);
	free(s->mkdir);
	free(s->links);
	free(s);
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

	rc = kp_cc_list(ctx, res, NULL, &s->node, &paths, &ok, err);
	if (rc || !ok)
		goto out;
	if (!s->node.n) {
		kp_mod_failf(res, "nothing to back up on %s: none of%s exists", ctx->host,
			     paths.buf);
		goto out;
	}
	rc = kp_cc_read_manifest(s, &found, err);
	if (rc)
		goto out;
	for (size_t i = 0; i < s->node.n; i++) {
		struct entry *n = &s->node.e[i], *m = kp_cc_find_entry(&s->manifest, n->path);
		nfiles += n->type == 'f';
		bool differs = !m || m->type != n->type || kp_cc_attrs_differ(n, m) ||
			       (n->type == 'f' && strcmp(m->sha, n->sha)) ||
			       (n->type == 'l' && strcmp(m->link, n->link));
		if (!differs && n->type == 'f') {
			/* the stored copy itself */
			struct kp_buf data = KP_BUF_INIT, e = KP_BUF_INIT;
			char sha[65];
			if (kp_cc_read_stored(s, n->path, &data, &e))
				differs = true;
			else {
				kp_sha256_hex(data.buf, data.len, sha);
				differs = strcmp(sha, n->sha) != 0;
			}
			OPENSSL_cleanse(data.buf, data.len);
			kp_buf_release(&data);
			kp_buf_release(&e);
		}
		if (m)
			m->seen = true;
		if (differs)
			kp_cc_add_named(&what, &ndiff, n->path);
	}
	for (size_t i = 0; i < s->manifest.n; i++)
		if (!s->manifest.e[i].seen)
			kp_cc_add_named(&what, &ndiff, s->manifest.e[i].path);
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
	int dfd;
	kp_rc rc = kp_store_opendir(s->root, s->src, true, 0700, &dfd, err);
	if (rc)
		goto out;
	fchmod(dfd, 0700); /* private whatever made it: it holds keys */
	close(dfd);
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
		struct kp_buf rel = KP_BUF_INIT;
		kp_cc_stored_rel(s, n->path, &rel);
		rc = kp_store_write(s->root, rel.buf, data.buf, data.len,
				    (kind & KP_PKI_KEY) ? 0600 : 0644, 0700, err);
		kp_buf_release(&rel);
		OPENSSL_cleanse(data.buf, data.len);
		if (rc)
			goto out;
		nfiles++;
	}
	cJSON_AddItemToObject(mj, "entries", ents);
	ents = NULL;
	char *text = cJSON_Print(mj);
	struct kp_buf mp = KP_BUF_INIT, mrel = KP_BUF_INIT;
	kp_buf_addf(&mrel, "%s/manifest.json", s->src);
	kp_buf_addf(&mp, "%s/manifest.json", s->dir);
	rc = kp_store_write(s->root, mrel.buf, text, strlen(text), 0600, 0700, err);
	kp_buf_release(&mrel);
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

	rc = kp_cc_list(ctx, res, NULL, &s->node, &paths, &ok, err);
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
	s->root = kp_mod_local_path(ctx, kp_arg_str(ctx, "store"));
	s->dir = kp_store_path(s->root, s->src);
	if (strchr(s->src, '/') || kp_store_check(s->src, strlen(s->src), "host name", err))
		return strchr(s->src, '/') ? kp_errorf(err, KP_ERR_INVALID,
						       "host name '%s' holds a '/': it cannot "
						       "name a directory in the store",
						       s->src)
					   : KP_ERR_INVALID;
	if (!strcmp(action, "backup"))
		return backup_probe(ctx, res, err);
	if (!strcmp(action, "restore"))
		return kp_cc_restore_probe(ctx, res, err);
	if (!strcmp(action, "verify"))
		return kp_cc_verify(ctx, res, err);
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
		return kp_cc_restore_apply(ctx, res, err);
	return KP_OK;
}

const struct kp_module kp_mod_cert_copy = {
    .name = "cert-copy",
    .summary = "back up and restore node certificates",
    .args = args,
    .probe = probe,
    .apply = apply,
};
