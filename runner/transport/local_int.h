/*
 * local_int.h - what the files of the `local` transport share: local.c
 * (commands, the vtable) and local_files.c (files). Not for the rest of
 * kplan: they use transport.h.
 */
#ifndef KP_TRANSPORT_LOCAL_INT_H
#define KP_TRANSPORT_LOCAL_INT_H

#include "transport/transport.h"

/* The vtable's put, get and stat slots (local_files.c); relative paths are
 * relative to the host's working directory, as for commands. */
kp_rc kp_local_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		   const struct kp_put_opts *o, struct kp_buf *err);
kp_rc kp_local_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		   struct kp_buf *err);
kp_rc kp_local_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		    struct kp_buf *err);

#endif
