/*
 * engine.h - `kplan run` and `kplan check`: execute a loaded plan.
 *
 * Plays run in order; each play's hosts in rolling batches (serial) or a
 * sliding window; within a batch, tasks run across hosts in lockstep
 * (strategy linear) or each host runs on its own (free). Up to --forks
 * hosts are worked on at once, each worker thread with its own Lua state.
 * Failed and unreachable hosts drop out of later tasks and batches.
 */
#ifndef KP_ENGINE_H
#define KP_ENGINE_H

#include <stdio.h>

#include "cli/cli.h"

/* Exit codes, cli.md */
enum {
	KP_EXIT_OK = 0,
	KP_EXIT_FAILED = 1,
	KP_EXIT_USAGE = 2,
	KP_EXIT_UNREACHABLE = 3,
	KP_EXIT_STOPPED = 4,
	KP_EXIT_LOCKED = 5,
	KP_EXIT_CHANGES = 10,
	KP_EXIT_INTERRUPTED = 130,
};

/* Runs the plan, printing to out; returns the exit code. Invalid input
 * found only now (an undefined variable in an argument, say) fails the
 * host's task, as a run cannot be undone half-way. */
int kp_run(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out);

/* Whether failed out of total exceeds max_fail_percentage (exposed for tests). */
bool kp_fail_threshold_exceeded(size_t failed, size_t total, int max_fail_percentage);

#endif
