/* buf.c - growable strings, see buf.h. */
#include "core/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char kp_buf_empty[1];

void kp_buf_init(struct kp_buf *b)
{
	b->buf = kp_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void kp_buf_release(struct kp_buf *b)
{
	if (b->alloc)
		free(b->buf);
	kp_buf_init(b);
}

void kp_buf_reset(struct kp_buf *b)
{
	kp_buf_setlen(b, 0);
}

char *kp_buf_detach(struct kp_buf *b, size_t *len)
{
	char *s;
	if (!b->alloc)
		kp_buf_grow(b, 0);
	s = b->buf;
	if (len)
		*len = b->len;
	kp_buf_init(b);
	return s;
}

void kp_buf_grow(struct kp_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->alloc)
		return;
	size_t n = b->alloc ? b->alloc : 64;
	while (n < need)
		n *= 2;
	if (b->alloc) {
		b->buf = kp_xrealloc(b->buf, n);
	} else {
		b->buf = kp_xmalloc(n);
		b->buf[0] = '\0';
	}
	b->alloc = n;
}

void kp_buf_setlen(struct kp_buf *b, size_t len)
{
	if (!b->alloc)
		return;
	b->len = len;
	b->buf[len] = '\0';
}

void kp_buf_add(struct kp_buf *b, const void *data, size_t len)
{
	kp_buf_grow(b, len);
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
}

void kp_buf_addstr(struct kp_buf *b, const char *s)
{
	kp_buf_add(b, s, strlen(s));
}

void kp_buf_addch(struct kp_buf *b, int c)
{
	kp_buf_grow(b, 1);
	b->buf[b->len++] = (char)c;
	b->buf[b->len] = '\0';
}

void kp_buf_vaddf(struct kp_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	int n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	kp_buf_grow(b, (size_t)n);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void kp_buf_addf(struct kp_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kp_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

void kp_buf_escape_newlines(struct kp_buf *b, size_t from)
{
	size_t extra = 0;
	if (from >= b->len)
		return;
	for (size_t i = from; i < b->len; i++)
		extra += b->buf[i] == '\n' || b->buf[i] == '\r';
	if (!extra)
		return;
	kp_buf_grow(b, extra);
	/* from the end backwards, so that each byte moves once */
	size_t src = b->len, dst = b->len + extra;
	b->buf[dst] = '\0';
	while (src > from) {
		char c = b->buf[--src];
		if (c == '\n' || c == '\r') {
			b->buf[--dst] = c == '\n' ? 'n' : 'r';
			b->buf[--dst] = '\\';
		} else {
			b->buf[--dst] = c;
		}
	}
	b->len += extra;
}

kp_rc kp_errorf(struct kp_buf *err, kp_rc rc, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return rc;
	kp_buf_reset(err);
	va_start(ap, fmt);
	kp_buf_vaddf(err, fmt, ap);
	va_end(ap);
	return rc;
}

kp_rc kp_read_file(const char *path, size_t max, struct kp_buf *out, struct kp_buf *err)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer, nor reading
	 * a terminal for a line. Regular files are read, and character
	 * devices (/dev/null; one that never ends stops at max); a FIFO, a
	 * socket or a directory is refused. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char chunk[65536];

	if (fd < 0)
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		close(fd);
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path,
				 S_ISDIR(st.st_mode) ? strerror(EISDIR) : "not a regular file");
	}
	kp_buf_reset(out);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(e));
		}
		if (!n)
			break;
		if (max && out->len + (size_t)n > max) {
			close(fd);
			return kp_errorf(err, KP_ERR_LIMIT,
					 "cannot read '%s': larger than %zu bytes", path, max);
		}
		kp_buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return KP_OK;
}

kp_rc kp_mkdirs(const char *path, unsigned mode, struct kp_buf *err)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, path);
	for (size_t i = 1; i <= b.len; i++) {
		if (b.buf[i] != '/' && b.buf[i] != '\0')
			continue;
		char c = b.buf[i];
		b.buf[i] = '\0';
		if (mkdir(b.buf, (mode_t)mode) && errno != EEXIST) {
			kp_rc rc = kp_errorf(err, KP_ERR_IO, "cannot create '%s': %s", b.buf,
					     strerror(errno));
			kp_buf_release(&b);
			return rc;
		}
		b.buf[i] = c;
	}
	kp_buf_release(&b);
	return KP_OK;
}

bool kp_buf_cut(struct kp_buf *b, const char *s)
{
	size_t n = strlen(s);
	char *at = memmem(b->buf, b->len, s, n);
	if (!at)
		return false;
	memmove(at, at + n, b->len - (size_t)(at - b->buf) - n);
	kp_buf_setlen(b, b->len - n);
	return true;
}
