/*
 * walk.h - the one walk of a plan's task tree, in the order a run meets
 * the tasks: a block's own call, then its block, rescue and always parts.
 * Roles, imports and includes are blocks here (an include's tasks are
 * visited when they were read at load, its file name being literal).
 *
 * Everything that looks at a plan's tasks without running them walks
 * through here: the loader's checks (delegate_to, notify), the offline
 * preview, --list-tasks, --start-at-task checks. The engine runs blocks
 * with their control flow (a rescue only where the block failed), but
 * selects tasks with the same kp_taskselect and effective tags.
 */
#ifndef KP_WALK_H
#define KP_WALK_H

#include "model/plan.h"
#include "model/tags.h"

enum kp_walk_part { KP_PART_BLOCK, KP_PART_RESCUE, KP_PART_ALWAYS };

#define KP_WALK_SKIP 1 /* from w->task on a block: do not walk its parts */

struct kp_walk {
	/* MUST: every task in order, module tasks and blocks; tags are its
	 * effective tags. For a block, KP_WALK_SKIP skips its parts; any
	 * other non-zero value stops the walk and is returned. */
	int (*task)(struct kp_walk *w, const struct kp_task *t, const struct kp_strlist *tags);
	/* MAY: before each non-empty part of a block, and once after the
	 * block with `done` set */
	int (*part)(struct kp_walk *w, const struct kp_task *block, enum kp_walk_part part,
		    bool done);
	/* MAY: module tasks this selection does not take are passed over
	 * (blocks are always visited: their parts may hold selected tasks) */
	struct kp_taskselect *select;
	int depth;		       /* of the task being visited: 0 at the play's level */
	const struct kp_roleuse *role; /* the role whose tasks are visited, or NULL */
	void *ctx;
};

/* The tasks of a list (tags: what they inherit, or NULL). */
int kp_walk_tasks(struct kp_walk *w, struct kp_task *const *tasks, size_t n,
		  const struct kp_strlist *tags);
/* A play's pre_tasks, tasks and post_tasks (and its handlers when asked),
 * inheriting the play's tags. */
int kp_walk_play(struct kp_walk *w, const struct kp_play *p, bool handlers);
/* Every play of a plan. */
int kp_walk_plan(struct kp_walk *w, const struct kp_plan *plan, bool handlers);

#endif
