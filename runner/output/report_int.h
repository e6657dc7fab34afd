/*
 * report_int.h - what the preview model (report.c) shares with its
 * renderings (report_md.c, report_json.c). Not for the rest of kplan.
 */
#ifndef KP_REPORT_INT_H
#define KP_REPORT_INT_H

#include "output/report.h"

/* Per host over the whole report, in order of first appearance. */
struct kp_hostsum {
	const char *host;
	size_t pending, unknown, blocking, rows;
	struct kp_strlist st; /* status names, in first-seen order */
	size_t stn[16];
	/* where the host is: its batches and its rows in each */
	const struct kp_report_batch **bat;
	const struct kp_report_host **ent;
	size_t nent, capent;
};
/* Whether two hosts are in the same batches with the same rows (each its
 * own name in its place): the summary folds them. */
bool kp_report_same_host(const struct kp_hostsum *a, const struct kp_hostsum *b);
/* The hosts' summaries (*out: kp_report_summary_free); their count. */
size_t kp_report_summarize(const struct kp_report *r, struct kp_hostsum **out);
void kp_report_summary_free(struct kp_hostsum *s, size_t n);
/* Whether a row's outcome is known only after a probe. */
bool kp_report_row_unknown(const struct kp_report_row *w);

#endif
