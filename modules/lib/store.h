/*
 * store.h - backup stores on the controller (cert-copy, fetch, etcd-snapshot).
 *
 * A store is a directory the operator names (the root); everything under it
 * is named by a host or by a node: a host's name, the paths a node lists.
 * kplan runs as root on the controller, so a hostile node must not steer a
 * write outside the store: every such path is checked (kp_store_check: no
 * "..", no NUL, not empty) and every directory under the root is opened
 * with O_NOFOLLOW|O_DIRECTORY, one component at a time, from the root's
 * directory fd; files are opened with O_NOFOLLOW too. A symbolic link under
 * the root is an error that names it. The root itself is the operator's
 * choice and may be a link.
 *
 * `rel` paths are relative to the root ("node1/etc/kubernetes/pki/ca.key";
 * a leading '/', repeated '/' and "." components are ignored). Errors name
 * root/rel and go into err; nothing is written on failure.
 */
#ifndef KP_STORE_H
#define KP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "core/buf.h"

/* A path (len bytes: it may hold NUL) that came from a node or names a
 * host, fit to be used under a store: not empty, no NUL byte, no ".."
 * component. `what` names it in the message ("path from node1"). */
kp_rc kp_store_check(const char *path, size_t len, const char *what, struct kp_buf *err);

/* Open directory rel under root (rel "" or NULL: the root), creating the
 * missing ones (root included) with dirmode when `create`. *fd is the
 * directory, for the caller to close. KP_ERR_NOTFOUND when one is missing
 * and not `create`. */
kp_rc kp_store_opendir(const char *root, const char *rel, bool create, unsigned dirmode, int *fd,
		       struct kp_buf *err);

/* Write a file atomically: directories made with dirmode, a temporary
 * beside it (NAME.kplan-tmp, O_EXCL|O_NOFOLLOW), mode set, fsync'd and
 * renamed over NAME. */
kp_rc kp_store_write(const char *root, const char *rel, const void *data, size_t len, unsigned mode,
		     unsigned dirmode, struct kp_buf *err);

/* Read a regular file (at most max bytes; 0: no cap). KP_ERR_NOTFOUND when
 * it (or a directory on the way) does not exist. */
kp_rc kp_store_read(const char *root, const char *rel, size_t max, struct kp_buf *out,
		    struct kp_buf *err);

/* lstat of rel under root; *exists false when it (or a directory on the
 * way) does not exist. */
kp_rc kp_store_stat(const char *root, const char *rel, struct stat *st, bool *exists,
		    struct kp_buf *err);

/* Create (or truncate) a file for streaming into it: *fd is open for
 * writing, mode set. The caller closes it, then kp_store_rename()s it. */
kp_rc kp_store_create(const char *root, const char *rel, unsigned mode, unsigned dirmode, int *fd,
		      struct kp_buf *err);
/* Rename a file within one directory of the store (from and to share it). */
kp_rc kp_store_rename(const char *root, const char *from, const char *to, struct kp_buf *err);
/* Remove a file; a missing one is no error. */
void kp_store_unlink(const char *root, const char *rel);

/* Set every directory from the root's child down to rel (rel's own
 * directory components, not the root) to mode: a store that holds a
 * secret is not readable by others on the way to it. */
kp_rc kp_store_chmod_dirs(const char *root, const char *rel_dir, unsigned mode, struct kp_buf *err);

/* root + "/" + rel, as messages show it (caller frees). */
char *kp_store_path(const char *root, const char *rel);

#endif
