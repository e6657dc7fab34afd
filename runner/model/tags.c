/* tags.c - --tags / --skip-tags selection, see tags.h. */
#include "model/tags.h"

#include <stdlib.h>
#include <string.h>

#include "core/kp.h"

static bool any_in(const struct kp_strlist *tags, const struct kp_strlist *set)
{
	for (size_t i = 0; i < tags->n; i++)
		if (kp_strlist_has(set, tags->v[i]))
			return true;
	return false;
}

/* Ansible's Taggable.evaluate_tags: a task with no tags counts as tagged
 * `untagged`; no --tags means --tags all; `always` runs unless skipped by
 * name, `never` only when named. */
bool kp_tags_selected(const struct kp_strlist *tags, const struct kp_strlist *only,
		      const struct kp_strlist *skip)
{
	static char untagged_s[] = "untagged";
	static char *untagged_v[] = {untagged_s};
	const struct kp_strlist untagged = {.v = untagged_v, .n = 1};
	bool tagged = tags->n > 0;
	if (!tagged)
		tags = &untagged;
	bool always = kp_strlist_has(tags, "always"), never = kp_strlist_has(tags, "never");
	bool run = true;
	if (only && only->n)
		run = always || (kp_strlist_has(only, "all") && !never) || any_in(tags, only) ||
		      (kp_strlist_has(only, "tagged") && tagged && !never);
	else
		run = always || !never;
	if (run && skip && skip->n) {
		if (kp_strlist_has(skip, "all"))
			run = always && !kp_strlist_has(skip, "always");
		else if (any_in(tags, skip) || (kp_strlist_has(skip, "tagged") && tagged))
			run = false;
	}
	return run;
}

void kp_tags_effective(struct kp_strlist *out, const struct kp_strlist *inherited, char *const *own,
		       size_t nown)
{
	for (size_t i = 0; inherited && i < inherited->n; i++)
		kp_strlist_push(out, inherited->v[i]);
	for (size_t i = 0; i < nown; i++)
		if (!kp_strlist_has(out, own[i]))
			kp_strlist_push(out, own[i]);
}

void kp_taskselect_init(struct kp_taskselect *s, const char *start_at_task,
			const struct kp_strlist *only, const struct kp_strlist *skip)
{
	s->start_at_task = start_at_task;
	s->only = only;
	s->skip = skip;
	s->started = !start_at_task;
}

bool kp_taskselect_take(struct kp_taskselect *s, const char *name, const struct kp_strlist *tags)
{
	if (!s->started) {
		if (!name || strcmp(name, s->start_at_task))
			return false;
		s->started = true;
	}
	return kp_tags_selected(tags, s->only, s->skip);
}
