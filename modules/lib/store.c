/* store.c - backup stores on the controller, confined to their root: see store.h. */
#include "modules/lib/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COMPONENTS 256

kp_rc kp_store_check(const char *path, size_t len, const char *what, struct kp_buf *err)
{
	if (!path || !len)
		return kp_errorf(err, KP_ERR_INVALID, "%s is empty", what);
	if (memchr(path, '\0', len))
		return kp_errorf(err, KP_ERR_INVALID, "%s '%s' holds a NUL byte", what, path);
	for (size_t i = 0; i < len;) {
		size_t n = 0;
		while (i + n < len && path[i + n] != '/')
			n++;
		if (n == 2 && path[i] == '.' && path[i + 1] == '.')
			return kp_errorf(err, KP_ERR_INVALID,
					 "%s '%.*s' has a '..' component: refusing a path that "
					 "leaves the store",
					 what, (int)len, path);
		i += n + 1;
	}
	return KP_OK;
}

char *kp_store_path(const char *root, const char *rel)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, root);
	while (b.len > 1 && b.buf[b.len - 1] == '/')
		kp_buf_setlen(&b, b.len - 1);
	while (rel && *rel == '/')
		rel++;
	if (rel && *rel)
		kp_buf_addf(&b, "/%s", rel);
	return kp_buf_detach(&b, NULL);
}

/* rel's components, "" and "." dropped, in one malloc'd copy. */
struct comps {
	char *copy;
	char *v[MAX_COMPONENTS];
	size_t n;
};

static kp_rc split(const char *root, const char *rel, struct comps *c, struct kp_buf *err)
{
	memset(c, 0, sizeof(*c));
	c->copy = kp_xstrdup(rel ? rel : "");
	for (char *save = NULL, *t = strtok_r(c->copy, "/", &save); t;
	     t = strtok_r(NULL, "/", &save)) {
		if (!strcmp(t, "."))
			continue;
		if (!strcmp(t, "..") || c->n == MAX_COMPONENTS) {
			char *p = kp_store_path(root, rel);
			kp_errorf(err, KP_ERR_INVALID,
				  !strcmp(t, "..") ? "'%s' has a '..' component: refusing a path "
						     "that leaves the store"
						   : "'%s' is nested too deep",
				  p);
			free(p);
			free(c->copy);
			return KP_ERR_INVALID;
		}
		c->v[c->n++] = t;
	}
	return KP_OK;
}

/* root + the first k components, for messages */
static char *shown(const char *root, const struct comps *c, size_t k)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, root);
	while (b.len > 1 && b.buf[b.len - 1] == '/')
		kp_buf_setlen(&b, b.len - 1);
	for (size_t i = 0; i < k; i++)
		kp_buf_addf(&b, "/%s", c->v[i]);
	return kp_buf_detach(&b, NULL);
}

static kp_rc open_error(const char *root, const struct comps *c, size_t k, int dfd, int e,
			struct kp_buf *err)
{
	char *p = shown(root, c, k);
	struct stat st;
	kp_rc rc;
	if ((e == ELOOP || e == ENOTDIR) && k &&
	    !fstatat(dfd, c->v[k - 1], &st, AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode))
		rc = kp_errorf(err, KP_ERR_INVALID,
			       "'%s' is a symbolic link: kplan never follows links inside a store",
			       p);
	else if (e == ENOENT)
		rc = kp_errorf(err, KP_ERR_NOTFOUND, "cannot open '%s': %s", p, strerror(e));
	else
		rc = kp_errorf(err, KP_ERR_IO, "cannot open '%s': %s", p, strerror(e));
	free(p);
	return rc;
}

/* Open the root, then the first k components as directories. */
static kp_rc walk(const char *root, const struct comps *c, size_t k, bool create, unsigned dirmode,
		  int *out, struct kp_buf *err)
{
	kp_rc rc;
	if (create && (rc = kp_mkdirs(root, dirmode, err)))
		return rc;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kp_errorf(err, errno == ENOENT ? KP_ERR_NOTFOUND : KP_ERR_IO,
				 "cannot open '%s': %s", root, strerror(errno));
	for (size_t i = 0; i < k; i++) {
		int next = openat(fd, c->v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, c->v[i], (mode_t)dirmode) && errno != EEXIST) {
				rc = open_error(root, c, i + 1, fd, errno, err);
				close(fd);
				return rc;
			}
			next = openat(fd, c->v[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			rc = open_error(root, c, i + 1, fd, errno, err);
			close(fd);
			return rc;
		}
		close(fd);
		fd = next;
	}
	*out = fd;
	return KP_OK;
}

kp_rc kp_store_opendir(const char *root, const char *rel, bool create, unsigned dirmode, int *fd,
		       struct kp_buf *err)
{
	struct comps c;
	kp_rc rc = split(root, rel, &c, err);
	if (!rc)
		rc = walk(root, &c, c.n, create, dirmode, fd, err);
	free(c.copy);
	return rc;
}

/* The directory holding rel's last component, opened; *base points into c. */
static kp_rc open_parent(const char *root, const char *rel, bool create, unsigned dirmode,
			 struct comps *c, int *dfd, struct kp_buf *err)
{
	kp_rc rc = split(root, rel, c, err);
	if (rc)
		return rc;
	if (!c->n) {
		free(c->copy);
		return kp_errorf(err, KP_ERR_INVALID, "'%s' names no file in the store", root);
	}
	rc = walk(root, c, c->n - 1, create, dirmode, dfd, err);
	if (rc)
		free(c->copy);
	return rc;
}

static kp_rc io_error(const char *what, const char *root, const char *rel, int e,
		      struct kp_buf *err)
{
	char *p = kp_store_path(root, rel);
	kp_rc rc = kp_errorf(err, KP_ERR_IO, "cannot %s '%s': %s", what, p, strerror(e));
	free(p);
	return rc;
}

static bool write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

kp_rc kp_store_write(const char *root, const char *rel, const void *data, size_t len, unsigned mode,
		     unsigned dirmode, struct kp_buf *err)
{
	struct comps c;
	int dfd;
	kp_rc rc = open_parent(root, rel, true, dirmode, &c, &dfd, err);
	if (rc)
		return rc;
	const char *base = c.v[c.n - 1];
	struct kp_buf tmp = KP_BUF_INIT;
	kp_buf_addf(&tmp, "%s.kplan-tmp", base);
	unlinkat(dfd, tmp.buf, 0);
	int fd = openat(dfd, tmp.buf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			(mode_t)mode);
	if (fd < 0) {
		rc = io_error("write", root, rel, errno, err);
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) || !write_all(fd, data, len) || fsync(fd)) {
		rc = io_error("write", root, rel, errno, err);
		close(fd);
		unlinkat(dfd, tmp.buf, 0);
		goto out;
	}
	if (close(fd)) {
		rc = io_error("write", root, rel, errno, err);
		unlinkat(dfd, tmp.buf, 0);
		goto out;
	}
	if (renameat(dfd, tmp.buf, dfd, base)) {
		rc = io_error("write", root, rel, errno, err);
		unlinkat(dfd, tmp.buf, 0);
	}
out:
	kp_buf_release(&tmp);
	close(dfd);
	free(c.copy);
	return rc;
}

kp_rc kp_store_read(const char *root, const char *rel, size_t max, struct kp_buf *out,
		    struct kp_buf *err)
{
	struct comps c;
	int dfd;
	kp_rc rc = open_parent(root, rel, false, 0, &c, &dfd, err);
	if (rc)
		return rc;
	int fd = openat(dfd, c.v[c.n - 1], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	if (fd < 0) {
		rc = open_error(root, &c, c.n, dfd, errno, err);
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		char *p = kp_store_path(root, rel);
		rc = kp_errorf(err, KP_ERR_IO, "cannot read '%s': not a regular file", p);
		free(p);
		goto out;
	}
	kp_buf_reset(out);
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = io_error("read", root, rel, errno, err);
			break;
		}
		if (!n)
			break;
		if (max && out->len + (size_t)n > max) {
			char *p = kp_store_path(root, rel);
			rc = kp_errorf(err, KP_ERR_LIMIT, "cannot read '%s': larger than %zu bytes",
				       p, max);
			free(p);
			break;
		}
		kp_buf_add(out, chunk, (size_t)n);
	}
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	free(c.copy);
	return rc;
}

kp_rc kp_store_stat(const char *root, const char *rel, struct stat *st, bool *exists,
		    struct kp_buf *err)
{
	struct comps c;
	int dfd;
	*exists = false;
	kp_rc rc = open_parent(root, rel, false, 0, &c, &dfd, err);
	if (rc == KP_ERR_NOTFOUND) {
		kp_buf_reset(err); /* no directory, no file: not an error */
		return KP_OK;
	}
	if (rc)
		return rc;
	if (!fstatat(dfd, c.v[c.n - 1], st, AT_SYMLINK_NOFOLLOW))
		*exists = true;
	else if (errno != ENOENT)
		rc = io_error("stat", root, rel, errno, err);
	close(dfd);
	free(c.copy);
	return rc;
}

kp_rc kp_store_create(const char *root, const char *rel, unsigned mode, unsigned dirmode, int *fd,
		      struct kp_buf *err)
{
	struct comps c;
	int dfd;
	kp_rc rc = open_parent(root, rel, true, dirmode, &c, &dfd, err);
	if (rc)
		return rc;
	*fd = openat(dfd, c.v[c.n - 1], O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		     (mode_t)mode);
	if (*fd < 0)
		rc = open_error(root, &c, c.n, dfd, errno, err);
	else if (fchmod(*fd, (mode_t)mode)) {
		rc = io_error("write", root, rel, errno, err);
		close(*fd);
		*fd = -1;
	}
	close(dfd);
	free(c.copy);
	return rc;
}

kp_rc kp_store_rename(const char *root, const char *from, const char *to, struct kp_buf *err)
{
	struct comps c;
	int dfd;
	kp_rc rc = open_parent(root, from, false, 0, &c, &dfd, err);
	if (rc)
		return rc;
	const char *slash = strrchr(to, '/');
	if (renameat(dfd, c.v[c.n - 1], dfd, slash ? slash + 1 : to))
		rc = io_error("rename", root, from, errno, err);
	close(dfd);
	free(c.copy);
	return rc;
}

void kp_store_unlink(const char *root, const char *rel)
{
	struct comps c;
	int dfd;
	if (open_parent(root, rel, false, 0, &c, &dfd, NULL))
		return;
	unlinkat(dfd, c.v[c.n - 1], 0);
	close(dfd);
	free(c.copy);
}

kp_rc kp_store_chmod_dirs(const char *root, const char *rel_dir, unsigned mode, struct kp_buf *err)
{
	struct comps c;
	kp_rc rc = split(root, rel_dir, &c, err);
	if (rc)
		return rc;
	for (size_t k = 1; !rc && k <= c.n; k++) {
		int fd;
		if (!(rc = walk(root, &c, k, false, 0, &fd, err))) {
			if (fchmod(fd, (mode_t)mode))
				rc = io_error("chmod", root, rel_dir, errno, err);
			close(fd);
		}
	}
	free(c.copy);
	return rc;
}
