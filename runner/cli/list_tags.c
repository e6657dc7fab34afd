/*
 * list_tags.c - --list-hosts, --list-tasks and --list-tags, as
 * ansible-playbook prints them. --list-tags: for each play
 * its own tags, and the sorted set of the tags its tasks carry (the
 * play's included, blocks walked but not their rescue and always parts,
 * nor handlers: what ansible-playbook lists). An unnamed play shows its
 * hosts pattern as its name.
 */
#include "cli/cli.h"
#include "model/batch.h"
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

kp_rc kp_list_hosts(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out, struct kp_buf *err)
{
	fprintf(out, "plan: %s\n", ld->plan->path);
	for (size_t i = 0; i < ld->plan->nplays; i++) {
		const struct kp_play *p = ld->plan->plays[i];
		struct kp_batches bs;
		struct kp_buf warn = KP_BUF_INIT;
		kp_rc rc = kp_batches_compute(p, p->hosts, &ld->inv, o->limit, &bs, &warn, err);
		if (rc) {
			kp_buf_release(&warn);
			return rc;
		}
		if (warn.len)
			fprintf(stderr, "warning: %s", warn.buf);
		kp_buf_release(&warn);
		fprintf(out, "\n  play #%zu (%s): %s\n", i + 1, p->hosts,
			p->name ? p->name : p->hosts);
		fprintf(out, "    pattern: %s\n    hosts (%zu):\n", p->hosts, bs.nhosts);
		for (size_t h = 0; h < bs.nhosts; h++)
			fprintf(out, "      %s\n", ld->inv.hosts[bs.hosts[h]]->name);
		kp_batches_release(&bs);
	}
	return KP_OK;
}

static int list_task(struct kp_walk *w, const struct kp_task *t, const struct kp_strlist *tags)
{
	FILE *out = w->ctx;
	/* as Ansible lists them: an include as itself (what it includes is
	 * known when it runs), a role's tasks as "role : task" */
	if (!t->module && !t->include)
		return 0;
	if (t->include && w->select && !kp_tags_selected(tags, w->select->only, w->select->skip))
		return KP_WALK_SKIP;
	/* Ansible lists an unnamed task bare, and an include_role by its own
	 * name (IncludeRole.get_name) */
	bool prefix = w->role && t->name && t->include != KP_INC_ROLE;
	fprintf(out, "      %s%s%s\tTAGS: [", prefix ? w->role->role->name : "",
		prefix ? " : " : "", kp_task_display_name(t));
	/* sorted, as ansible-playbook prints them */
	const char **sorted = kp_xcalloc(tags->n + 1, sizeof(*sorted));
	for (size_t k = 0; k < tags->n; k++)
		sorted[k] = tags->v[k];
	if (tags->n)
		qsort(sorted, tags->n, sizeof(*sorted), cmp);
	for (size_t k = 0; k < tags->n; k++)
		fprintf(out, "%s%s", k ? ", " : "", sorted[k]);
	free(sorted);
	fprintf(out, "]\n");
	return t->include ? KP_WALK_SKIP : 0;
}

kp_rc kp_list_tasks(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out, struct kp_buf *err)
{
	struct kp_taskselect sel;
	kp_taskselect_init(&sel, o->start_at_task, &o->tags, &o->skip_tags);
	struct kp_walk w = {.task = list_task, .select = &sel, .ctx = out};
	fprintf(out, "plan: %s\n", ld->plan->path);
	for (size_t i = 0; i < ld->plan->nplays; i++) {
		const struct kp_play *p = ld->plan->plays[i];
		struct kp_strlist tags = {0};
		kp_tags_effective(&tags, NULL, p->tags, p->ntags);
		fprintf(out, "\n  play #%zu (%s): %s\tTAGS: [", i + 1, p->hosts,
			p->name ? p->name : p->hosts);
		for (size_t k = 0; k < tags.n; k++)
			fprintf(out, "%s%s", k ? ", " : "", tags.v[k]);
		fprintf(out, "]\n    tasks:\n");
		kp_walk_play(&w, p, false);
		kp_strlist_release(&tags);
	}
	if (!sel.started)
		return kp_errorf(err, KP_ERR_INVALID, "--start-at-task: no task named '%s'",
				 o->start_at_task);
	return KP_OK;
}
