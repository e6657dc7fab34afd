/*
 * cert_copy_int.h - what the cert-copy files share (cert_copy.c: the module,
 * backup and report; cert_listing.c: listing a node; cert_store.c: the
 * store and its manifest; cert_restore.c: restore and verify). Not for the
 * rest of kplan.
 *
 * Ownership: a struct state is the task's (ctx->state), freed with
 * kp_cc_state_free; listings own their entries' strings.
 */
#ifndef KP_CERT_COPY_INT_H
#define KP_CERT_COPY_INT_H

#include "modules/lib/store.h"
#include "modules/module.h"

#include <cjson/cJSON.h>

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

/* The directories a listing covers (trailing slashes dropped). */
struct roots {
	char **v;
	size_t n, cap;
};

struct state {
	char *root; /* the store (the `store` argument on the controller) */
	char *src;  /* whose backup: the store's subdirectory */
	char *dir;  /* root/src, for messages */
	struct listing node, manifest;
	cJSON *mj; /* the manifest */
	/* restore: what to do */
	struct entry **write, **attrs, **mkdir, **links;
	size_t nwrite, nattrs, nmkdir, nlinks;
};

/* cert_listing.c */
void kp_cc_listing_release(struct listing *l);
struct entry *kp_cc_find_entry(struct listing *l, const char *path);
void kp_cc_roots_release(struct roots *r);
/* The directories to list: the manifest's `paths` (mpaths) or the task's;
 * shell words for list_node in *words, the directories in *roots. */
void kp_cc_paths_of(const struct kp_modctx *ctx, const cJSON *mpaths, struct kp_buf *words,
		    struct roots *roots);
/* Whether path is one of roots or under one. */
bool kp_cc_under(const struct roots *roots, const char *path);
/* find(1) over the directories: entries with their attributes, files with
 * their SHA-256; paths that do not exist in l->missing. A listing with a
 * path that is not under the directories, climbs out ('..') or holds a NUL
 * fails the task (*ok false). */
kp_rc kp_cc_list_node(struct kp_modctx *ctx, struct kp_result *res, const char *words,
		      const struct roots *roots, struct listing *l, bool *ok, struct kp_buf *err);
/* kp_cc_paths_of then kp_cc_list_node; *words gets the directories as
 * shell words (for messages). */
kp_rc kp_cc_list(struct kp_modctx *ctx, struct kp_result *res, const cJSON *mpaths,
		 struct listing *l, struct kp_buf *words, bool *ok, struct kp_buf *err);
bool kp_cc_attrs_differ(const struct entry *a, const struct entry *b);
void kp_cc_add_named(struct kp_buf *b, size_t *count, const char *path);

/* cert_store.c */
/* The store's name for a node path: "<src>/<path>". */
void kp_cc_stored_rel(const struct state *s, const char *node_path, struct kp_buf *out);
/* Read <src>/manifest.json into s->mj and s->manifest; *found false when
 * there is none. Every entry must be under the manifest's paths. */
kp_rc kp_cc_read_manifest(struct state *s, bool *found, struct kp_buf *err);
/* The stored copy of a node file (no check against the manifest). */
kp_rc kp_cc_read_stored(const struct state *s, const char *node_path, struct kp_buf *data,
			struct kp_buf *err);
/* The stored copy of a manifest entry, checked against its SHA-256; why
 * says what is wrong otherwise. */
bool kp_cc_load_stored(struct state *s, const struct entry *m, struct kp_buf *data,
		       struct kp_buf *why);

/* cert_restore.c */
kp_rc kp_cc_restore_probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
kp_rc kp_cc_restore_apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);
kp_rc kp_cc_verify(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err);

#endif
