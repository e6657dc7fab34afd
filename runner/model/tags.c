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

bool kp_tags_selected(const struct kp_strlist *tags, const struct kp_strlist *only,
		      const struct kp_strlist *skip)
{
	bool selected;
	if (only && only->n) {
		selected = any_in(tags, only) || kp_strlist_has(only, "all") ||
			   (kp_strlist_has(only, "tagged") && tags->n) ||
			   (kp_strlist_has(only, "untagged") && !tags->n) ||
			   kp_strlist_has(tags, "always");
		/* `all` does not include `never` unless named */
		if (kp_strlist_has(tags, "never") && !any_in(tags, only))
			selected = false;
		if (kp_strlist_has(tags, "always") && !kp_strlist_has(tags, "never"))
			selected = true;
	} else {
		selected = !kp_strlist_has(tags, "never") || kp_strlist_has(tags, "always");
	}
	if (selected && skip && skip->n) {
		if (any_in(tags, skip) || kp_strlist_has(skip, "all") ||
		    (kp_strlist_has(skip, "tagged") && tags->n) ||
		    (kp_strlist_has(skip, "untagged") && !tags->n))
			selected = false;
	}
	return selected;
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
