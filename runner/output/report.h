/*
 * report.h - a preview (`kplan plan`, `kplan check`) as data, rendered as a
 * review document: markdown for people, one JSON document for machines
 * (format "kplan-preview", version 1: tests/schema/preview.schema.json).
 *
 * A check's results arrive from worker threads in any order; the report
 * files each under its batch and host (one host's results come in task
 * order) and renders plays, batches, hosts and tasks in plan order, with
 * no times and no run ids, so the same inputs and cluster state give the
 * same bytes.
 *
 * The report copies every string it is given and owns all of its memory:
 * kp_report_release() frees it. It does no locking: the output layer that
 * feeds it holds its own mutex.
 *
 * Thousands of hosts mostly plan the same tasks, differing only in their
 * names: a row is stored with its host's own name (at word boundaries)
 * replaced by a marker, and rows and strings are interned, so equal rows
 * are stored once and a host holds pointers to them. Two hosts of a batch
 * whose row lists are equal so are identical except for their names: the
 * renderings fold them (struct kp_report_fold) unless --no-fold.
 * kp_report_expand() gives a row back as its host sees it.
 */
#ifndef KP_REPORT_H
#define KP_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/buf.h"
#include "model/tags.h"

struct kp_value;
struct kp_report_batch;

enum kp_report_mode { KP_REPORT_PLAN, KP_REPORT_CHECK };

/* One task on one host (one loop item). */
struct kp_report_row {
	char *task, *module, *section;
	/* check: ok, changed, failed, skipped, unreachable, ignored, rescued;
	 * plan: runs, conditional (a when only a probe can decide), skipped,
	 * shared (run_once: the first host's result), unknown-loop */
	char *status;
	char *outcome;	    /* check: the module's before -> after; plan: the templated args */
	char *detail;	    /* plan: the when that skips or is unknown; NULL otherwise */
	char *item;	    /* loop label, or NULL */
	char *delegated_to; /* or NULL */
	char *diff;	    /* unified diff (--diff), or NULL */
	bool pending;	    /* counts as a change (--detailed-exitcode) */
	bool no_log;	    /* outcome and diff withheld */
};

struct kp_report_host {
	const char *name;		   /* interned */
	const struct kp_report_row **rows; /* interned, with the host's name marked */
	size_t n, cap;
};

/* One row as its host sees it (kp_report_expand); release with
 * kp_report_xrow_release. */
struct kp_report_xrow {
	struct kp_report_row w;
	char *own[6]; /* the expanded strings w points to, or NULL */
};
void kp_report_expand(const struct kp_report_host *h, const struct kp_report_row *in,
		      struct kp_report_xrow *x);
void kp_report_xrow_release(struct kp_report_xrow *x);

/* Hosts of a batch folded: those whose rows are equal (the same tasks with
 * the same outcomes, each host's own name in its place) form a group,
 * named by its first host. Groups come in order of their first host. */
struct kp_report_fold {
	size_t *first;	     /* per host: the first host of its group */
	size_t *last, *size; /* per first host: its group's last host, its size */
	size_t ngroups;
};
/* fold false: every host a group of its own. */
void kp_report_fold_init(struct kp_report_fold *f, const struct kp_report_batch *b, bool fold);
void kp_report_fold_release(struct kp_report_fold *f);
/* "n1" for a group of one, "n1 … n9 (9 hosts)" for more. */
void kp_report_fold_label(const struct kp_report_fold *f, const struct kp_report_batch *b,
			  size_t first, struct kp_buf *out);
/* The tasks a host's rows are for (a loop's items are one task). */
size_t kp_report_task_count(const struct kp_report_host *h);
/* n with a comma every three digits: 4,900. */
void kp_report_count(size_t n, struct kp_buf *out);
/* s (not NULL) with host's name, where it stands as a word, replaced by a
 * marker (and literal markers escaped): equal for two hosts whose texts
 * differ only by their names. malloc'd. */
char *kp_report_marked(const char *host, const char *s);

struct kp_report_batch {
	size_t index, count;
	bool window;
	struct kp_report_host *hosts;
	size_t n, cap;
	size_t hint; /* where batch_host looks first: rows come in host order */
};

struct kp_report_play {
	size_t index, count;
	char *name, *pattern;
	char *settings; /* serial, max_fail_percentage...; NULL when not known */
	bool confirm;	/* confirm: true: the run asks before each batch, a preview never */
	size_t nhosts;
	struct kp_report_batch *batches;
	size_t n, cap;
	struct kp_strlist handlers; /* "name (module)" */
};

struct kp_report_pool;

struct kp_report {
	enum kp_report_mode mode;
	bool fold; /* markdown folds hosts (not --no-fold); JSON lists every host */
	struct kp_report_pool *pool; /* interned strings and rows */
	char *plan;
	struct kp_strlist inventories;
	char *limit;
	struct kp_strlist tags, skip_tags;
	struct kp_strlist extra_keys, extra_vals; /* rendered, secrets as <hidden> */
	bool diff;
	struct kp_report_play *plays;
	size_t n, cap;
	char *stopped; /* why the run stopped before the end, or NULL */
};

/* The scope: plan path, inventories, limit, tags and -e (secrets hidden:
 * `!secret` values and every *_password key). extra may be NULL. */
void kp_report_init(struct kp_report *r, enum kp_report_mode mode, const char *plan,
		    const struct kp_strlist *inventories, const char *limit,
		    const struct kp_strlist *tags, const struct kp_strlist *skip_tags,
		    const struct kp_value *extra, bool diff);
void kp_report_release(struct kp_report *r);

/* Start a play, then its batches; rows go to the last batch started. */
void kp_report_play(struct kp_report *r, size_t index, size_t count, const char *name,
		    const char *pattern, const char *settings, size_t nhosts);
void kp_report_play_handler(struct kp_report *r, const char *text);
/* The last play asks for confirmation before each batch when run. */
void kp_report_play_confirm(struct kp_report *r);
/* What the text of a check or a plan says of such a play. */
#define KP_CONFIRM_NOTE "confirm: the run asks before each batch; this preview does not ask"
void kp_report_batch(struct kp_report *r, size_t index, size_t count, bool window,
		     const char *const *hosts, size_t nhosts);
/* Copies row (borrowed strings, NULLs allowed) under host in the current
 * batch; a host the batch did not list is appended. */
void kp_report_add(struct kp_report *r, const char *host, const struct kp_report_row *row);
void kp_report_stopped(struct kp_report *r, const char *reason);

/* Rows that count as pending changes, and the hosts they are on. */
size_t kp_report_pending(const struct kp_report *r, size_t *nhosts);
/* Rows that block the change: failed and unreachable. */
bool kp_report_row_blocking(const struct kp_report_row *row);

/* Written as they are rendered, a host or a row at a time. */
void kp_report_markdown(const struct kp_report *r, FILE *out);
void kp_report_json(const struct kp_report *r, FILE *out);

#endif
