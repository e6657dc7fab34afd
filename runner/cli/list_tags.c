/*
 * list_tags.c - --list-tags, as ansible-playbook prints it: for each play
 * its own tags, and the sorted set of the tags its tasks carry (the
 * play's included, blocks walked but not their rescue and always parts,
 * nor handlers: what ansible-playbook lists). An unnamed play shows its
 * hosts pattern as its name.
 */
#include "cli/cli.h"
#include "model/walk.h"

#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_unique(struct kp_strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return;
	kp_strlist_push(l, s);
}

/* Every task's own tags; of a block, its block part only: not its rescue
 * and always parts, which ansible-playbook leaves out. */
static int tags_of(struct kp_walk *w, const struct kp_task *t, const struct kp_strlist *tags)
{
	struct kp_strlist *out = w->ctx;
	(void)tags;
	for (size_t k = 0; k < t->ntags; k++)
		add_unique(out, t->tags[k]);
	if (t->module)
		return 0;
	int rc = kp_walk_tasks(w, t->block, t->nblock, NULL);
	return rc ? rc : KP_WALK_SKIP;
}

static void print_list(FILE *out, const struct kp_strlist *l)
{
	fputc('[', out);
	for (size_t i = 0; i < l->n; i++)
		fprintf(out, "%s%s", i ? ", " : "", l->v[i]);
	fputc(']', out);
}

kp_rc kp_list_tags(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out, struct kp_buf *err)
{
	(void)err;
	fprintf(out, "\nplaybook: %s\n", o->plan_path);
	for (size_t i = 0; i < ld->plan->nplays; i++) {
		const struct kp_play *p = ld->plan->plays[i];
		struct kp_strlist play = {0}, tasks = {0};
		for (size_t k = 0; k < p->ntags; k++)
			add_unique(&play, p->tags[k]);
		for (size_t k = 0; k < play.n; k++)
			add_unique(&tasks, play.v[k]);
		struct kp_walk w = {.task = tags_of, .ctx = &tasks};
		kp_walk_play(&w, p, false);
		if (play.n) /* qsort takes no NULL array, even empty */
			qsort(play.v, play.n, sizeof(*play.v), cmp);
		if (tasks.n)
			qsort(tasks.v, tasks.n, sizeof(*tasks.v), cmp);
		fprintf(out, "\n  play #%zu (%s): %s\tTAGS: ", i + 1, p->hosts,
			p->name ? p->name : p->hosts);
		print_list(out, &play);
		fprintf(out, "\n      TASK TAGS: ");
		print_list(out, &tasks);
		fputc('\n', out);
		kp_strlist_release(&play);
		kp_strlist_release(&tasks);
	}
	return KP_OK;
}
