/* walk.c - the one walk of a plan's task tree, see walk.h. */
#include "model/walk.h"

static int walk_part(struct kp_walk *w, const struct kp_task *b, enum kp_walk_part part,
		     struct kp_task *const *tasks, size_t n, const struct kp_strlist *tags)
{
	int rc = 0;
	if (!n)
		return 0;
	if (w->part && (rc = w->part(w, b, part, false)))
		return rc;
	w->depth++;
	rc = kp_walk_tasks(w, tasks, n, tags);
	w->depth--;
	return rc;
}

int kp_walk_tasks(struct kp_walk *w, struct kp_task *const *tasks, size_t n,
		  const struct kp_strlist *tags)
{
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct kp_task *t = tasks[i];
		struct kp_strlist mine = {0};
		kp_tags_effective(&mine, tags, t->tags, t->ntags);
		if (t->module) {
			if (!w->select || kp_taskselect_take(w->select, t->name, &mine))
				rc = w->task(w, t, &mine);
		} else {
			rc = w->task(w, t, &mine);
			const struct kp_roleuse *outer = w->role;
			if (t->role)
				w->role = t->role;
			if (rc == KP_WALK_SKIP) {
				rc = 0;
			} else if (!rc) {
				rc = walk_part(w, t, KP_PART_BLOCK, t->block, t->nblock, &mine);
				if (!rc)
					rc = walk_part(w, t, KP_PART_RESCUE, t->rescue, t->nrescue,
						       &mine);
				if (!rc)
					rc = walk_part(w, t, KP_PART_ALWAYS, t->always, t->nalways,
						       &mine);
				if (!rc && w->part)
					rc = w->part(w, t, KP_PART_BLOCK, true);
			}
			w->role = outer;
		}
		kp_strlist_release(&mine);
	}
	return rc;
}

int kp_walk_play(struct kp_walk *w, const struct kp_play *p, bool handlers)
{
	struct kp_strlist tags = {0};
	kp_tags_effective(&tags, NULL, p->tags, p->ntags);
	int rc = kp_walk_tasks(w, p->pre_tasks, p->npre_tasks, &tags);
	if (!rc)
		rc = kp_walk_tasks(w, p->tasks, p->ntasks, &tags);
	if (!rc)
		rc = kp_walk_tasks(w, p->post_tasks, p->npost_tasks, &tags);
	if (!rc && handlers)
		rc = kp_walk_tasks(w, p->handlers, p->nhandlers, &tags);
	kp_strlist_release(&tags);
	return rc;
}

int kp_walk_plan(struct kp_walk *w, const struct kp_plan *plan, bool handlers)
{
	int rc = 0;
	for (size_t i = 0; i < plan->nplays && !rc; i++)
		rc = kp_walk_play(w, plan->plays[i], handlers);
	return rc;
}
