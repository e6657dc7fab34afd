/*
 * tags.h - task selection by --tags and --skip-tags, as Ansible does it:
 * `always` runs unless skipped by name, `never` only when asked for by name,
 * `all`, `tagged` and `untagged` are the special selectors.
 */
#ifndef KP_TAGS_H
#define KP_TAGS_H

#include <stdbool.h>
#include <stddef.h>

struct kp_strlist {
	char **v;
	size_t n, cap;
};
void kp_strlist_push(struct kp_strlist *l, const char *s);
/* Split "a,b, c" and push each part. */
void kp_strlist_push_csv(struct kp_strlist *l, const char *csv);
bool kp_strlist_has(const struct kp_strlist *l, const char *s);
void kp_strlist_release(struct kp_strlist *l);

/* Whether a task whose effective tags are `tags` runs. */
bool kp_tags_selected(const struct kp_strlist *tags, const struct kp_strlist *only,
		      const struct kp_strlist *skip);

#endif
