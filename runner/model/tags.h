/*
 * tags.h - task selection by --tags and --skip-tags, as Ansible does it:
 * `always` runs unless skipped by name, `never` only when asked for by name,
 * `all`, `tagged` and `untagged` are the special selectors.
 */
#ifndef KP_TAGS_H
#define KP_TAGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/strlist.h"

/* Whether a task whose effective tags are `tags` runs. */
bool kp_tags_selected(const struct kp_strlist *tags, const struct kp_strlist *only,
		      const struct kp_strlist *skip);

/* A task's effective tags: the inherited ones (play, role, enclosing
 * blocks), then its own that are not among them. */
void kp_tags_effective(struct kp_strlist *out, const struct kp_strlist *inherited, char *const *own,
		       size_t nown);

/* The one task selection of run, check, plan and --list-tasks: module
 * tasks before the first one named --start-at-task are passed over, then
 * --tags/--skip-tags decide on the task's effective tags. One per walk,
 * fed the module tasks in order. */
struct kp_taskselect {
	const char *start_at_task; /* or NULL */
	const struct kp_strlist *only, *skip;
	bool started; /* the start task was reached (true without one) */
};
void kp_taskselect_init(struct kp_taskselect *s, const char *start_at_task,
			const struct kp_strlist *only, const struct kp_strlist *skip);
bool kp_taskselect_take(struct kp_taskselect *s, const char *name, const struct kp_strlist *tags);

#endif
