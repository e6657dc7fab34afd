/*
 * output.h - what a run prints: text for people, JSON lines for machines.
 *
 * The engine reports events (run, play, batch, task start; one result per
 * host and task; batch end; recap; run end) and this file renders them in
 * the chosen format. Calls may come from several worker threads at once; a
 * mutex keeps lines whole. On a terminal (and without --no-color/NO_COLOR)
 * a live status line shows the batch, the hosts in flight and the elapsed
 * time; it is erased before every normal line.
 *
 * no_log results never reach this file with their values: the engine
 * replaces them first (kp_output_hide).
 *
 * A check's text folds: a task's results are printed when the task is done
 * on the batch, hosts with the same result once (textfold.h).
 *
 * Collector mode (check with --format json or markdown): nothing is printed
 * while the run goes on; events fill a struct kp_report (report.h) and
 * kp_out_run_end renders it as one deterministic document.
 */
#ifndef KP_OUTPUT_H
#define KP_OUTPUT_H

#include <pthread.h>
#include <stdio.h>

#include "core/buf.h"
#include "output/report.h"
#include "output/textfold.h"
#include "core/value.h"

enum kp_format { KP_FMT_TEXT, KP_FMT_JSON, KP_FMT_MARKDOWN };

enum kp_status {
	KP_ST_OK,
	KP_ST_CHANGED,
	KP_ST_FAILED,
	KP_ST_SKIPPED,
	KP_ST_UNREACHABLE,
	KP_ST_RESCUED,
	KP_ST_IGNORED
};
const char *kp_status_name(enum kp_status s);

struct kp_hostcounts {
	const char *host;
	int ok, changed, failed, skipped, unreachable, rescued, ignored;
};

struct kp_output {
	FILE *f;
	enum kp_format format;
	int verbose;
	bool color; /* colours and the live status line */
	bool check;
	pthread_mutex_t lock;
	/* live status */
	char status[512];
	bool status_shown;
	int64_t t0_ms;
	pthread_t ticker;
	bool ticker_running, stop_ticker;
	pthread_cond_t tick_cond;
	/* in-flight hosts for the status line */
	const char *inflight[64];
	int ninflight;
	char batch_label[128];
	char waiting[512];	  /* a window's "waiting: ..." for the status line, or "" */
	struct kp_report *report; /* collector mode: owned, NULL otherwise */
	/* a check's text: results kept per task and folded by host */
	bool folding;
	struct kp_textfold fold;
};

struct kp_taskresult {
	const char *host;
	const char *delegated_to; /* or NULL */
	enum kp_status status;
	int64_t duration_ms;
	const char *msg;
	const struct kp_value *result; /* the registered form, or NULL */
	const char *cmds;	       /* commands run, one per line (-v) */
	const char *out, *err;	       /* command output (-vv; stderr also on failure) */
	const char *diff;	       /* unified diff (--diff) */
	const char *item;	       /* loop label, or NULL */
	const char *module;	       /* the task's module, or NULL */
	const char *section;	       /* pre_tasks, tasks, post_tasks, handlers; or NULL */
	int attempts;		       /* until: attempts made (0: no until) */
	bool no_log;
	bool show_msg; /* print msg even when ok (debug) */
};

void kp_output_init(struct kp_output *o, FILE *f, int format, int verbose, bool color, bool check);
void kp_output_release(struct kp_output *o);
/* The run's scope, for the report's header (kp_report_init); with a check
 * and --format json or markdown this turns on collector mode. Call before
 * run_start. */
struct kp_report_scope {
	const char *plan;
	const struct kp_strlist *inventories, *tags, *skip_tags;
	const char *limit;
	const struct kp_value *extra;
	bool diff;
	bool no_fold; /* every host on its own (--no-fold): no folding of a
		       * check's text and markdown */
};
void kp_output_scope(struct kp_output *o, bool check, const struct kp_report_scope *sc);

void kp_out_run_start(struct kp_output *o, const char *plan, const char *run_id, bool check);
void kp_out_play_start(struct kp_output *o, const char *name, const char *pattern, size_t nhosts,
		       size_t index, size_t count);
/* The play just started asks before each batch when run (confirm: true);
 * said in a check, which never asks. */
void kp_out_play_confirm(struct kp_output *o);
void kp_out_batch_start(struct kp_output *o, size_t index, size_t count, const char *const *hosts,
			size_t nhosts, bool window);
void kp_out_task_start(struct kp_output *o, const char *name, const char *module,
		       const char *section);
void kp_out_host_start(struct kp_output *o, const char *host);
void kp_out_host_result(struct kp_output *o, const char *task, const struct kp_taskresult *r);
void kp_out_batch_end(struct kp_output *o, size_t index, size_t failed, size_t total);
/* A disruption-aware window waits before `host` (reason: "pdb NS/NAME
 * allows 0 (...)"), or admitted it (reason NULL). The status line shows
 * "waiting: host: reason" while it waits; a new reason is also printed as
 * a line (a JSON "window" event), an admission after a wait too
 * (waited_ms < 0 with reason NULL: the wait ends without one, silently). */
void kp_out_window(struct kp_output *o, const char *host, const char *reason, int64_t waited_ms);
void kp_out_note(struct kp_output *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kp_out_recap(struct kp_output *o, const struct kp_hostcounts *c, size_t n);
void kp_out_run_end(struct kp_output *o, int exit_code, const char *reason);

#endif
