/*
 * transport_sftp.c - the `ssh` transport's file side: put, get and stat
 * on a node through the session transport_ssh.c opened.
 *
 * Files go over SFTP (one subsystem channel per connection, opened lazily);
 * under become, or when the node has no SFTP server, through exec
 * (kp_exec_put/get/stat) so the become user's rights apply.
 *
 * Owner and group names become ids through the node's /etc/passwd and
 * /etc/group, read once per connection.
 */
#include "transport/ssh_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#define IDS_MAX (8u << 20) /* the most of /etc/passwd or /etc/group read */

static kp_rc need_sftp(struct kp_conn *c, struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	if (!sc || !sc->s)
		return kp_errorf(err, KP_ERR_UNREACHABLE, "not connected to '%s'", c->host);
	if (sc->sftp || sc->no_sftp)
		return KP_OK;
	sftp_session f = sftp_new(sc->s);
	if (f && sftp_init(f) == SSH_OK) {
		sc->sftp = f;
		return KP_OK;
	}
	if (f)
		sftp_free(f);
	if (!ssh_is_connected(sc->s))
		return kp_ssh_lost(c, err);
	/* No SFTP subsystem on the node: exec works everywhere. */
	kp_log(KP_LOG_DEBUG, "no SFTP on %s (%s): files go through commands", sc->who,
	       ssh_get_error(sc->s));
	sc->no_sftp = true;
	return KP_OK;
}

static bool use_exec(const struct kp_conn *c)
{
	const struct sshc *sc = c->priv;
	return c->become.user || sc->no_sftp;
}

/* The reason for a failed SFTP call, as strerror would put it. */
static kp_rc sftp_fail(struct kp_conn *c, struct kp_buf *err, const char *what, const char *path)
{
	struct sshc *sc = c->priv;
	const char *why;
	if (!ssh_is_connected(sc->s))
		return kp_ssh_lost(c, err);
	switch (sftp_get_error(sc->sftp)) {
	case SSH_FX_NO_SUCH_FILE:
	case SSH_FX_NO_SUCH_PATH:
		why = strerror(ENOENT);
		break;
	case SSH_FX_PERMISSION_DENIED:
		why = strerror(EACCES);
		break;
	case SSH_FX_FILE_ALREADY_EXISTS:
		why = strerror(EEXIST);
		break;
	case SSH_FX_WRITE_PROTECT:
		why = strerror(EROFS);
		break;
	case SSH_FX_OP_UNSUPPORTED:
		why = strerror(EOPNOTSUPP);
		break;
	case SSH_FX_FAILURE:
		why = "failure reported by the SFTP server";
		break;
	default:
		why = ssh_get_error(sc->s);
	}
	return kp_errorf(err, KP_ERR_IO, "cannot %s '%s': %s", what, path, why);
}

/* Relative paths are relative to the host's working directory when one is
 * set (as in local), else to the login directory (SFTP's and exec's). */
static char *resolve(const struct kp_conn *c, const char *path)
{
	struct kp_buf b = KP_BUF_INIT;
	if (path[0] != '/' && c->workdir && *c->workdir)
		kp_buf_addf(&b, "%s/%s", c->workdir, path);
	else
		kp_buf_addstr(&b, path);
	return kp_buf_detach(&b, NULL);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

void kp_ssh_idtab_release(struct idtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
	memset(t, 0, sizeof(*t));
}

/* Load name:x:id: lines of /etc/passwd or /etc/group over SFTP, once per
 * connection: cheaper than a command per lookup. Users only NSS knows
 * (LDAP) show as numbers, as local does for ids without a name. */
static void idtab_load(struct kp_conn *c, struct idtab *t, const char *file)
{
	struct sshc *sc = c->priv;
	t->loaded = true;
	sftp_file f = sftp_open(sc->sftp, file, O_RDONLY, 0);
	if (!f)
		return;
	struct kp_buf b = KP_BUF_INIT;
	char *chunk = kp_xmalloc(CHUNK);
	ssize_t n;
	while ((n = sftp_read(f, chunk, CHUNK)) > 0 && b.len < IDS_MAX)
		kp_buf_add(&b, chunk, (size_t)n);
	free(chunk);
	sftp_close(f);
	char *save = NULL;
	for (char *l = strtok_r(b.buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || c1 == l || c1 - l > 63)
			continue;
		KP_GROW(t->v, t->n + 1, t->cap);
		t->v[t->n].name = kp_xstrndup(l, (size_t)(c1 - l));
		t->v[t->n].id = (unsigned)strtoul(c2 + 1, NULL, 10);
		t->n++;
	}
	kp_buf_release(&b);
}

static void id_name(struct kp_conn *c, struct idtab *t, const char *file, unsigned id, char out[64])
{
	if (!t->loaded)
		idtab_load(c, t, file);
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].id == id) {
			snprintf(out, 64, "%s", t->v[i].name);
			return;
		}
	snprintf(out, 64, "%u", id);
}

/* A name's id: the node's files, else one `id -u` / `getent group` command
 * (NSS users), remembered for the connection. */
static kp_rc name_id(struct kp_conn *c, bool group, const char *name, unsigned *id,
		     struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	struct idtab *t = group ? &sc->groups : &sc->users;
	if (!t->loaded)
		idtab_load(c, t, group ? "/etc/group" : "/etc/passwd");
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].name, name)) {
			*id = t->v[i].id;
			return KP_OK;
		}
	if (all_digits(name)) {
		*id = (unsigned)strtoul(name, NULL, 10);
		return KP_OK;
	}
	const char *uargv[] = {"id", "-u", "--", name, NULL};
	const char *gargv[] = {"getent", "group", "--", name, NULL};
	struct kp_exec_req req = {.argv = group ? gargv : uargv, .timeout_ms = 60000};
	struct kp_exec_res res;
	kp_exec_res_init(&res);
	kp_rc rc = c->ops->exec(c, &req, &res, err);
	if (rc)
		goto out;
	const char *p = res.out.buf;
	if (group && res.rc == 0) { /* name:x:gid:members */
		p = strchr(p, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		p = p ? p + 1 : "";
	}
	if (res.rc != 0 || *p < '0' || *p > '9') {
		rc = kp_errorf(err, KP_ERR_NOTFOUND, "unknown %s '%s'", group ? "group" : "user",
			       name);
		goto out;
	}
	*id = (unsigned)strtoul(p, NULL, 10);
	KP_GROW(t->v, t->n + 1, t->cap);
	t->v[t->n].name = kp_xstrdup(name);
	t->v[t->n].id = *id;
	t->n++;
out:
	kp_exec_res_release(&res);
	return rc;
}

/* The last line of a command's stderr (or its status), for messages. */
static void why_failed(const struct kp_exec_res *r, struct kp_buf *out)
{
	size_t end = r->err.len;
	while (end && (r->err.buf[end - 1] == '\n' || r->err.buf[end - 1] == '\r'))
		end--;
	size_t start = end;
	while (start && r->err.buf[start - 1] != '\n')
		start--;
	if (start == end)
		kp_buf_addf(out, "exit status %d", r->rc);
	else
		kp_buf_add(out, r->err.buf + start, end - start);
}

/*
 * libssh 0.10 sends SFTP v3 renames, which OpenSSH's server refuses onto an
 * existing file, and it has no call for the posix-rename@openssh.com
 * extension. A new file is renamed over SFTP; an existing one is replaced
 * with `mv -f` (rename(2), atomic) on the node.
 */
static kp_rc replace_file(struct kp_conn *c, const char *tmp, const char *path, bool exists,
			  struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	if (!exists && sftp_rename(sc->sftp, tmp, path) == SSH_OK)
		return KP_OK;
	if (!ssh_is_connected(sc->s))
		return kp_ssh_lost(c, err);
	const char *argv[] = {"mv", "-f", "--", tmp, path, NULL};
	struct kp_exec_req req = {.argv = argv, .timeout_ms = 60000};
	struct kp_exec_res res;
	kp_exec_res_init(&res);
	kp_rc rc = c->ops->exec(c, &req, &res, err);
	if (!rc && res.rc != 0) {
		struct kp_buf why = KP_BUF_INIT;
		why_failed(&res, &why);
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, why.buf);
		kp_buf_release(&why);
	}
	kp_exec_res_release(&res);
	return rc;
}

static kp_rc sftp_put_at(struct kp_conn *c, const char *path, const void *data, size_t len,
			 const struct kp_put_opts *o, struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	struct kp_buf dir = KP_BUF_INIT, tmp = KP_BUF_INIT;
	unsigned uid = UINT_MAX, gid = UINT_MAX;
	sftp_file f = NULL;
	const char *base;
	kp_rc rc;

	if (o && o->owner && (rc = name_id(c, false, o->owner, &uid, err)))
		return rc;
	if (o && o->group && (rc = name_id(c, true, o->group, &gid, err)))
		return rc;
	sftp_attributes old = sftp_stat(sc->sftp, path);
	bool have_old = old != NULL;
	bool explicit_owner = o && (o->owner || o->group);
	unsigned mode = o && o->mode >= 0 ? (unsigned)o->mode
			: have_old	  ? old->permissions & 07777
					  : 0644;
	if (have_old && uid == UINT_MAX)
		uid = old->uid;
	if (have_old && gid == UINT_MAX)
		gid = old->gid;
	sftp_attributes_free(old);
	/* SFTP v3 sets owner and group together: fill the one not asked for. */
	bool chown_needed = uid != UINT_MAX || gid != UINT_MAX;

	kp_path_split(path, &dir, &base);
	for (int tries = 0; !f && tries < 5; tries++) {
		char r[13];
		if ((rc = kp_random_hex(r, 6, err)))
			goto out;
		kp_buf_reset(&tmp);
		kp_buf_addf(&tmp, "%s/.%.200s.kplan.%s", dir.buf, base, r);
		f = sftp_open(sc->sftp, tmp.buf, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (!f && sftp_get_error(sc->sftp) != SSH_FX_FILE_ALREADY_EXISTS &&
		    sftp_get_error(sc->sftp) != SSH_FX_FAILURE)
			break;
	}
	if (!f) {
		rc = sftp_fail(c, err, "write", path);
		goto out;
	}
	for (size_t off = 0; off < len;) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;
		ssize_t w = sftp_write(f, (const char *)data + off, n);
		if (w <= 0) {
			rc = sftp_fail(c, err, "write", path);
			goto fail;
		}
		off += (size_t)w;
	}
	if (sftp_extension_supported(sc->sftp, "fsync@openssh.com", "1") && sftp_fsync(f)) {
		rc = sftp_fail(c, err, "write", path);
		goto fail;
	}
	int closed = sftp_close(f);
	f = NULL;
	if (closed) {
		rc = sftp_fail(c, err, "write", path);
		goto fail;
	}
	if (chown_needed) {
		/* Keeping an existing file's owner is best effort, as in local. */
		if (uid == UINT_MAX || gid == UINT_MAX) {
			sftp_attributes a = sftp_stat(sc->sftp, tmp.buf);
			if (a && uid == UINT_MAX)
				uid = a->uid;
			if (a && gid == UINT_MAX)
				gid = a->gid;
			sftp_attributes_free(a);
		}
		if (sftp_chown(sc->sftp, tmp.buf, uid, gid) && explicit_owner) {
			rc = sftp_fail(c, err, "change owner of", path);
			goto fail;
		}
	}
	/* chmod after chown: chown clears set-id bits. */
	if (sftp_chmod(sc->sftp, tmp.buf, mode)) {
		rc = sftp_fail(c, err, "change mode of", path);
		goto fail;
	}
	if ((rc = replace_file(c, tmp.buf, path, have_old, err)))
		goto fail;
	goto out;
fail:
	if (f)
		sftp_close(f);
	if (ssh_is_connected(sc->s))
		sftp_unlink(sc->sftp, tmp.buf);
out:
	kp_buf_release(&dir);
	kp_buf_release(&tmp);
	return rc;
}

kp_rc kp_ssh_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		 const struct kp_put_opts *o, struct kp_buf *err)
{
	kp_rc rc;
	kp_ssh_trace_bind(c);
	if ((rc = kp_put_check(path, o, err)) || (rc = need_sftp(c, err)))
		return rc;
	char *p = resolve(c, path);
	if (use_exec(c))
		rc = kp_exec_put(c, p, data, len, o, err);
	else
		rc = sftp_put_at(c, p, data, len, o, err);
	free(p);
	return rc;
}

static ssize_t file_read(void *src, char *buf, size_t n)
{
	return sftp_read(src, buf, n);
}

static kp_rc sftp_get_at(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
			 struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	sftp_file f = sftp_open(sc->sftp, path, O_RDONLY, 0);

	if (!f)
		return sftp_fail(c, err, "read", path);
	sftp_attributes a = sftp_fstat(f);
	if (a && a->type == SSH_FILEXFER_TYPE_DIRECTORY) {
		sftp_attributes_free(a);
		sftp_close(f);
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(EISDIR));
	}
	size_t hint = a ? (size_t)a->size : 0;
	sftp_attributes_free(a);
	bool read_failed;
	kp_rc rc = kp_read_whole(file_read, f, path, hint, max, out, &read_failed, err);
	if (read_failed)
		rc = sftp_fail(c, err, "read", path);
	sftp_close(f);
	return rc;
}

kp_rc kp_ssh_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		 struct kp_buf *err)
{
	kp_rc rc;
	kp_ssh_trace_bind(c);
	if ((rc = need_sftp(c, err)))
		return rc;
	char *p = resolve(c, path);
	if (use_exec(c))
		rc = kp_exec_get(c, p, max, out, err);
	else
		rc = sftp_get_at(c, p, max, out, err);
	free(p);
	return rc;
}

/*
 * The hash is computed on the node by sha256sum: one short command, where
 * hashing here would pull the whole file over the network first (a 50 MB
 * file costs a command's latency instead of a transfer).
 */
static kp_rc remote_sha256(struct kp_conn *c, const char *path, char out[65], struct kp_buf *err)
{
	const char *argv[] = {"sha256sum", "--", path, NULL};
	struct kp_exec_req req = {.argv = argv};
	struct kp_exec_res res;
	kp_exec_res_init(&res);
	kp_rc rc = c->ops->exec(c, &req, &res, err);
	if (!rc &&
	    (res.rc != 0 || res.out.len < 64 || strspn(res.out.buf, "0123456789abcdef") < 64)) {
		struct kp_buf why = KP_BUF_INIT;
		why_failed(&res, &why);
		rc = kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, why.buf);
		kp_buf_release(&why);
	} else if (!rc) {
		memcpy(out, res.out.buf, 64);
		out[64] = '\0';
	}
	kp_exec_res_release(&res);
	return rc;
}

static kp_rc sftp_stat_at(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
			  struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	sftp_attributes a = sftp_lstat(sc->sftp, path);
	if (!a) {
		int e = sftp_get_error(sc->sftp);
		if (ssh_is_connected(sc->s) &&
		    (e == SSH_FX_NO_SUCH_FILE || e == SSH_FX_NO_SUCH_PATH)) {
			memset(st, 0, sizeof(*st));
			return KP_OK;
		}
		return sftp_fail(c, err, "stat", path);
	}
	memset(st, 0, sizeof(*st));
	st->exists = true;
	unsigned fmt = a->permissions & 0170000;
	st->type = fmt == 0100000 ? 'f' : fmt == 0040000 ? 'd' : fmt == 0120000 ? 'l' : 'o';
	st->mode = a->permissions & 07777;
	id_name(c, &sc->users, "/etc/passwd", a->uid, st->owner);
	id_name(c, &sc->groups, "/etc/group", a->gid, st->group);
	st->size = (int64_t)a->size;
	/* SFTP v3 carries whole seconds only. */
	st->mtime_ns =
	    (int64_t)(a->mtime64 ? a->mtime64 : a->mtime) * 1000000000 + a->mtime_nseconds;
	sftp_attributes_free(a);
	if (st->type == 'l') {
		char *t = sftp_readlink(sc->sftp, path);
		if (t)
			snprintf(st->link_target, sizeof(st->link_target), "%s", t);
		ssh_string_free_char(t);
	} else if (st->type == 'f' && want_hash) {
		return remote_sha256(c, path, st->sha256, err);
	}
	return KP_OK;
}

kp_rc kp_ssh_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		  struct kp_buf *err)
{
	kp_rc rc;
	kp_ssh_trace_bind(c);
	if ((rc = need_sftp(c, err)))
		return rc;
	char *p = resolve(c, path);
	if (use_exec(c))
		rc = kp_exec_stat(c, p, want_hash, st, err);
	else
		rc = sftp_stat_at(c, p, want_hash, st, err);
	free(p);
	return rc;
}
