/*
 * textfold.h - a check's text, folded: the results of one task are kept
 * until the task is done on the batch, then hosts whose result lines are
 * the same once each host's own name is taken for a marker (as the
 * preview's folding does, report.h) print once, as
 *
 *   changed: [n0001 … n4999 (4,999 hosts)] would run: true
 *       n0001, n0002, ...
 *
 * with the first host's text, groups in the order of their first host in
 * the batch. A host alone in its group keeps its own line, duration and
 * all. Used with the output's lock held.
 */
#ifndef KP_OUTPUT_TEXTFOLD_H
#define KP_OUTPUT_TEXTFOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct kp_foldres;

struct kp_textfold {
	char **hosts; /* the batch's hosts, in order; hashed into slot */
	size_t nhosts, cap;
	size_t *slot; /* open addressing: index + 1, 0 empty */
	char *task;   /* the task the kept results belong to */
	struct kp_foldres *res;
	size_t n, capres;
};

/* A new batch: its hosts in order (the results' order in the text). */
void kp_textfold_batch(struct kp_textfold *f, const char *const *hosts, size_t n);
/* Keep host's result of task: line, its whole text; short, the same
 * without the duration; label_at, where "[host" starts in short (the host
 * name right after the bracket). A result of another task first prints
 * what is kept. */
void kp_textfold_add(struct kp_textfold *f, FILE *out, const char *task, const char *host,
		     const char *line, const char *short_text, size_t label_at);
/* Print what is kept, folded, and forget it. */
void kp_textfold_flush(struct kp_textfold *f, FILE *out);
void kp_textfold_release(struct kp_textfold *f);

#endif
