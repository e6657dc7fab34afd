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

#include <signal.h>
#include <stdio.h>

#include "core/redact.h"
#include "core/strlist.h"
#include "model/load.h"
#include "output/output.h"

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

/* What a run or check is asked to do. Everything is borrowed from the
 * caller and must outlive kp_run. */
struct kp_runconf {
	const char *plan_path;
	struct kp_strlist inventories; /* as given, for the journal and the report */
	struct kp_value *extra;	       /* map of -e */
	struct kp_strlist extra_args;  /* the -e arguments as given */
	const char *limit;
	struct kp_strlist tags, skip_tags;
	const char *start_at_task;
	bool check, diff, detailed_exitcode, yes, no_color;
	bool no_fold; /* check --format markdown: every host listed */
	enum kp_format format;
	int forks, verbose;
	const char *known_hosts, *host_key_checking, *kubeconfig;
	const char *journal, *resume; /* --journal DIR, --resume RUN_ID */
	bool resume_given;
	bool force; /* resume although the plan or inventory changed */
	int64_t timeout_ms;
	/* secret values to hide in everything printed and journaled (or NULL) */
	const struct kp_redact *redact;
	/* Ctrl-C / SIGTERM count, kept by main's signal handler (or NULL) */
	const volatile sig_atomic_t *interrupts;
};

/* Runs the plan, printing to out; returns the exit code. Invalid input
 * found only now (an undefined variable in an argument, say) fails the
 * host's task, as a run cannot be undone half-way. */
int kp_run(const struct kp_runconf *o, struct kp_loaded *ld, FILE *out);

/* Whether failed out of total exceeds max_fail_percentage (exposed for tests). */
bool kp_fail_threshold_exceeded(size_t failed, size_t total, int max_fail_percentage);

#endif
