/*
 * batch.h - which hosts a play runs on, in which order and in which batches.
 *
 * The play's host pattern, narrowed by --limit, ordered by `order`, cut into
 * rolling batches by `serial` (counts and percentages of the play's hosts,
 * the last step repeating, never below 1). With `window` there is one
 * sliding batch holding every host, at most `window` of them in flight.
 *
 * Ownership: struct kp_batches owns its arrays; kp_batches_release() frees
 * them. Host numbers are indices into the inventory.
 */
#ifndef KP_BATCH_H
#define KP_BATCH_H

#include "model/inventory.h"
#include "model/plan.h"

struct kp_batch {
	size_t *hosts;
	size_t n;
};

struct kp_batches {
	size_t *hosts; /* every host of the play, in order */
	size_t nhosts;
	struct kp_batch *b;
	size_t n;
	int window; /* >0: one sliding batch of that width */
};

/* limit may be NULL. Warnings (a pattern that matches nothing) are appended
 * to warn, one per line. */
kp_rc kp_batches_compute(const struct kp_play *play, const char *hosts_pattern,
			 const struct kp_inventory *inv, const char *limit, struct kp_batches *out,
			 struct kp_buf *warn, struct kp_buf *err);
void kp_batches_release(struct kp_batches *b);

/* The batch sizes serial gives for nhosts hosts (exposed for tests):
 * writes up to max sizes, returns how many batches there are. */
size_t kp_serial_sizes(const struct kp_serial_step *steps, size_t nsteps, size_t nhosts,
		       size_t *sizes, size_t max);

#endif
