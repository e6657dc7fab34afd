/*
 * local_files.c - the `local` transport's files: put, get and stat on this
 * machine. Without become they are system calls (a put writes a temporary
 * file beside the target and renames it); with become they go through
 * exec (sudo) and small shell scripts (transport.c), so they act with the
 * become user's rights.
 */
#include "transport/local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CHUNK 65536

/* ---- names and ids ---- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A user's (or a group's) id by name, or a number taken as the id. */
static kp_rc lookup_id(const char *name, bool group, unsigned *id, struct kp_buf *err)
{
	size_t size = 1024;
	kp_rc rc = KP_OK;
	for (;;) {
		struct passwd pw, *pr = NULL;
		struct group gr, *gres = NULL;
		char *b = kp_xmalloc(size);
		int e = group ? getgrnam_r(name, &gr, b, size, &gres)
			      : getpwnam_r(name, &pw, b, size, &pr);
		if (e == ERANGE && size < (1u << 20)) {
			free(b);
			size *= 2;
			continue;
		}
		if (pr)
			*id = pr->pw_uid;
		else if (gres)
			*id = gres->gr_gid;
		else if (all_digits(name))
			*id = (unsigned)strtoul(name, NULL, 10);
		else
			rc = kp_errorf(err, KP_ERR_NOTFOUND, "unknown %s '%s'",
				       group ? "group" : "user", name);
		free(b);
		return rc;
	}
}

static kp_rc lookup_uid(const char *name, uid_t *uid, struct kp_buf *err)
{
	unsigned id = 0;
	kp_rc rc = lookup_id(name, false, &id, err);
	if (!rc)
		*uid = (uid_t)id;
	return rc;
}

static kp_rc lookup_gid(const char *name, gid_t *gid, struct kp_buf *err)
{
	unsigned id = 0;
	kp_rc rc = lookup_id(name, true, &id, err);
	if (!rc)
		*gid = (gid_t)id;
	return rc;
}

static void uid_name(uid_t uid, char out[64])
{
	size_t size = 1024;
	for (;;) {
		struct passwd pw, *r = NULL;
		char *b = kp_xmalloc(size);
		int e = getpwuid_r(uid, &pw, b, size, &r);
		if (e == ERANGE && size < (1u << 20)) {
			free(b);
			size *= 2;
			continue;
		}
		if (r)
			snprintf(out, 64, "%s", r->pw_name);
		else
			snprintf(out, 64, "%lu", (unsigned long)uid);
		free(b);
		return;
	}
}

static void gid_name(gid_t gid, char out[64])
{
	size_t size = 1024;
	for (;;) {
		struct group gr, *r = NULL;
		char *b = kp_xmalloc(size);
		int e = getgrgid_r(gid, &gr, b, size, &r);
		if (e == ERANGE && size < (1u << 20)) {
			free(b);
			size *= 2;
			continue;
		}
		if (r)
			snprintf(out, 64, "%s", r->gr_name);
		else
			snprintf(out, 64, "%lu", (unsigned long)gid);
		free(b);
		return;
	}
}

/* ---- put ---- */

static kp_rc write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return KP_ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return KP_OK;
}

static kp_rc local_put_at(struct kp_conn *c, const char *path, const void *data, size_t len,
			  const struct kp_put_opts *o, struct kp_buf *err)
{
	struct kp_buf dir = KP_BUF_INIT, tmp = KP_BUF_INIT;
	struct stat old;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	const char *base;
	kp_rc rc;
	int fd;

	if ((rc = kp_put_check(path, o, err)))
		return rc;
	if (c->become.user)
		return kp_exec_put(c, path, data, len, o, err);
	if (o && o->owner && (rc = lookup_uid(o->owner, &uid, err)))
		return rc;
	if (o && o->group && (rc = lookup_gid(o->group, &gid, err)))
		return rc;

	bool have_old = stat(path, &old) == 0;
	bool explicit_owner = o && (o->owner || o->group);
	if (have_old && !(o && o->owner))
		uid = old.st_uid;
	if (have_old && !(o && o->group))
		gid = old.st_gid;
	mode_t mode = o && o->mode >= 0 ? (mode_t)o->mode : have_old ? old.st_mode & 07777 : 0644;

	kp_path_split(path, &dir, &base);
	kp_buf_addf(&tmp, "%s/.%.200s.kplan.XXXXXX", dir.buf, base);
	fd = mkostemp(tmp.buf, O_CLOEXEC);
	if (fd < 0) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	if (write_all(fd, data, len) || fsync(fd)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
		goto fail;
	}
	/* chown before chmod: chown clears set-id bits. Keeping an existing
	 * file's owner is best effort (we may not be allowed to give files away). */
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) && explicit_owner) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot change owner of '%s': %s", path,
			       strerror(errno));
		goto fail;
	}
	if (fchmod(fd, mode)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot change mode of '%s': %s", path,
			       strerror(errno));
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp.buf, path)) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
		goto fail;
	}
	/* Make the rename itself durable; failing here loses nothing written. */
	int dfd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	goto out;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp.buf);
out:
	kp_buf_release(&dir);
	kp_buf_release(&tmp);
	return rc;
}

/* ---- get ---- */

struct fd_src {
	int fd, eno;
};

static ssize_t fd_read(void *src, char *buf, size_t n)
{
	struct fd_src *f = src;
	ssize_t r;
	while ((r = read(f->fd, buf, n)) < 0 && errno == EINTR)
		;
	f->eno = errno;
	return r;
}

static kp_rc local_get_at(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
			  struct kp_buf *err)
{
	if (c->become.user)
		return kp_exec_get(c, path, max, out, err);
	struct fd_src f = {.fd = open(path, O_RDONLY | O_CLOEXEC)};
	if (f.fd < 0)
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
	bool read_failed;
	kp_rc rc = kp_read_whole(fd_read, &f, path, 0, max, out, &read_failed, err);
	if (read_failed)
		rc = kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(f.eno));
	close(f.fd);
	return rc;
}

/* ---- stat ---- */

/* Streaming SHA-256 of an open file; *eno is set when reading fails. */
static kp_rc hash_fd(int fd, char out[65], int *eno)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *chunk = kp_xmalloc(CHUNK);
	kp_rc rc = KP_OK;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = KP_ERR_NOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*eno = errno;
			rc = KP_ERR_IO;
			goto out;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, chunk, (size_t)n)) {
			rc = KP_ERR_NOMEM;
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
		rc = KP_ERR_NOMEM;
		goto out;
	}
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
out:
	EVP_MD_CTX_free(ctx);
	free(chunk);
	return rc;
}

static char type_of(mode_t m)
{
	return S_ISREG(m) ? 'f' : S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : 'o';
}

static kp_rc local_stat_at(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
			   struct kp_buf *err)
{
	struct stat sb;

	if (c->become.user)
		return kp_exec_stat(c, path, want_hash, st, err);
	if (lstat(path, &sb)) {
		if (errno == ENOENT || errno == ENOTDIR) {
			memset(st, 0, sizeof(*st));
			return KP_OK;
		}
		return kp_errorf(err, KP_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
	}
	memset(st, 0, sizeof(*st));
	st->exists = true;
	st->type = type_of(sb.st_mode);
	st->mode = sb.st_mode & 07777;
	uid_name(sb.st_uid, st->owner);
	gid_name(sb.st_gid, st->group);
	st->size = sb.st_size;
	st->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	if (S_ISLNK(sb.st_mode)) {
		ssize_t n = readlink(path, st->link_target, sizeof(st->link_target) - 1);
		st->link_target[n > 0 ? n : 0] = '\0';
	} else if (S_ISREG(sb.st_mode) && want_hash) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path,
					 strerror(errno));
		int e = 0;
		kp_rc rc = hash_fd(fd, st->sha256, &e);
		close(fd);
		if (rc == KP_ERR_IO)
			return kp_errorf(err, rc, "cannot read '%s': %s", path, strerror(e));
		if (rc)
			return kp_errorf(err, rc, "cannot hash '%s': %s", path, kp_strerror(rc));
	}
	return KP_OK;
}

/* Relative node paths mean the same to file operations as to commands:
 * relative to the host's working directory. */
static char *resolve(const struct kp_conn *c, const char *path)
{
	struct kp_buf b = KP_BUF_INIT;
	if (path[0] != '/' && c->workdir && *c->workdir)
		kp_buf_addf(&b, "%s/%s", c->workdir, path);
	else
		kp_buf_addstr(&b, path);
	return kp_buf_detach(&b, NULL);
}

kp_rc kp_local_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		   const struct kp_put_opts *o, struct kp_buf *err)
{
	char *p = resolve(c, path);
	kp_rc rc = local_put_at(c, p, data, len, o, err);
	free(p);
	return rc;
}

kp_rc kp_local_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		   struct kp_buf *err)
{
	char *p = resolve(c, path);
	kp_rc rc = local_get_at(c, p, max, out, err);
	free(p);
	return rc;
}

kp_rc kp_local_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		    struct kp_buf *err)
{
	char *p = resolve(c, path);
	kp_rc rc = local_stat_at(c, p, want_hash, st, err);
	free(p);
	return rc;
}
