/*
 * buf.h - growable strings (git's strbuf).
 *
 * `buf` is never NULL and always NUL-terminated. The struct owns its memory:
 * kp_buf_release() frees it, kp_buf_detach() hands it to the caller, who then
 * frees it with free().
 */
#ifndef KP_BUF_H
#define KP_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/kp.h"

struct kp_buf {
	char *buf;
	size_t len;
	size_t alloc;
};

extern char kp_buf_empty[];
#define KP_BUF_INIT                                                                                \
	{                                                                                          \
		kp_buf_empty, 0, 0                                                                 \
	}

void kp_buf_init(struct kp_buf *b);
void kp_buf_release(struct kp_buf *b);
void kp_buf_reset(struct kp_buf *b);
char *kp_buf_detach(struct kp_buf *b, size_t *len);
void kp_buf_grow(struct kp_buf *b, size_t extra);
void kp_buf_add(struct kp_buf *b, const void *data, size_t len);
void kp_buf_addstr(struct kp_buf *b, const char *s);
void kp_buf_addch(struct kp_buf *b, int c);
void kp_buf_addf(struct kp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kp_buf_vaddf(struct kp_buf *b, const char *fmt, va_list ap);
void kp_buf_setlen(struct kp_buf *b, size_t len);
/* Remove the first occurrence of s from b; whether there was one. */
bool kp_buf_cut(struct kp_buf *b, const char *s);

/* From offset `from` on, write each line break as the two characters "\n"
 * (and a carriage return as "\r"): a message must stay on one line even
 * when the user's text it quotes holds one. */
void kp_buf_escape_newlines(struct kp_buf *b, size_t from);

/* Replace the contents with a formatted message and return `rc`: the usual
 * way to report an error: `return kp_errorf(err, KP_ERR_IO, "...")`. A NULL
 * err is allowed and ignored. */
kp_rc kp_errorf(struct kp_buf *err, kp_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* mkdir -p with the given mode for directories it creates (existing
 * ones are left as they are); errors name the directory. */
kp_rc kp_mkdirs(const char *path, unsigned mode, struct kp_buf *err);
/* nbytes (at most 32) random bytes as 2*nbytes hex digits and a NUL at out. */
kp_rc kp_random_hex(char *out, size_t nbytes, struct kp_buf *err);

/* Read a whole file; `max` caps its size (0: no cap). Without blocking:
 * a FIFO, a socket or a directory is refused ("not a regular file"). */
kp_rc kp_read_file(const char *path, size_t max, struct kp_buf *out, struct kp_buf *err);

#endif
