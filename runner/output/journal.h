/*
 * journal.h - the run journal: what a run did, record by record, so that a
 * failed or interrupted rollout can be finished with `kplan run --resume`
 * and nobody has to guess which nodes it left cordoned.
 *
 * One JSON object per line in DIR/RUN_ID.jsonl, each flushed and fsynced
 * as soon as it is written: a controller that dies loses at most the
 * record it was writing. Records: run_start (plan and inventory SHA-256,
 * arguments, start time to the nanosecond, pid), result (one per host x
 * task: status and the registered value, unless no_log; a resume copies
 * the results it carries over from the run it resumes, marked
 * carried_from, so a resume of a resume skips them too), cordon (a node
 * the run cordoned or uncordoned), run_end (exit code and reason).
 *
 * A run holds a write lock (fcntl) on its journal until it ends, and a
 * resume holds one on the journal it resumes: a second resume of the same
 * run, or a resume of a run still going, is refused with the holder's pid.
 * The first write that fails (a full disk) is kept: kp_journal_failed.
 *
 * Ownership: struct kp_journal owns its file and strings; a kp_journal is
 * shared by the run's worker threads (writes are serialised inside).
 */
#ifndef KP_JOURNAL_H
#define KP_JOURNAL_H

#include <pthread.h>
#include <stdio.h>

#include "core/buf.h"
#include "core/strlist.h"
#include "core/value.h"

struct kp_redact;

struct kp_journal {
	FILE *f;
	char *path;
	char *run_id;
	pthread_mutex_t lock;
	struct kp_value *cordoned;	/* node -> host that cordoned it, still cordoned */
	const struct kp_redact *redact; /* secrets hidden in every record (or NULL) */
	int write_errno;		/* of the first write that failed; 0: none */
	size_t lost;			/* records not written since */
};

/* What a run is checked against on resume. */
struct kp_run_identity {
	const char *plan;	   /* the plan's path as given */
	char plan_sha256[65];	   /* of every file the plan loaded, in order */
	char inventory_sha256[65]; /* of every inventory file, in order */
	const char *const *inventories;
	size_t ninventories;
	const char *command;	     /* run | check */
	const struct kp_value *args; /* what else a resume must repeat (limit, tags, extra vars) */
};

/* SHA-256 over files in order (file name and contents); directories are
 * walked in sorted order. */
kp_rc kp_files_sha256(const char *const *paths, size_t n, char out[65], struct kp_buf *err);

/* Start a new journal in dir (created 0700 if missing). */
kp_rc kp_journal_open(struct kp_journal *j, const char *dir, const struct kp_run_identity *id,
		      const char *resumed_from, struct kp_buf *err);
void kp_journal_result(struct kp_journal *j, const char *task_id, const char *task_name,
		       const char *host, const char *status, const struct kp_value *registered,
		       const char *register_var, bool no_log);
void kp_journal_cordon(struct kp_journal *j, const char *host, const char *node, bool cordoned);
/* A disruption-aware window admitted host (its node) with inflight (the
 * nodes of hosts in flight) out, after waiting waited_ms for the reasons
 * waits (in the order they came; none: it did not wait). */
void kp_journal_admission(struct kp_journal *j, const char *host, const char *node,
			  const char *const *inflight, size_t ninflight, int64_t waited_ms,
			  const struct kp_strlist *waits);
void kp_journal_end(struct kp_journal *j, int exit_code, const char *reason);
void kp_journal_close(struct kp_journal *j);
/* Whether a write failed; msg (optional) gets "cannot write journal 'P':
 * strerror" of the first failure. Records after it are not written. */
bool kp_journal_failed(struct kp_journal *j, struct kp_buf *msg);

/* A previous run read back for --resume. */
struct kp_resume {
	char *run_id;
	char *path;
	char plan_sha256[65], inventory_sha256[65];
	char *command;
	struct kp_value *args;
	struct kp_value *done;	   /* "task_id\x1fhost" -> its result record: succeeded, skip */
	struct kp_value *facts;	   /* host -> map of registered values to restore */
	struct kp_value *cordoned; /* node -> host, cordoned at its end */
	bool ended;
	int exit_code;
	int lock_fd; /* the journal, write-locked until kp_resume_release; -1: none */
};

/* Read RUN_ID (or the run that started last in dir when run_id is NULL)
 * and lock its journal: KP_ERR_LOCKED, naming the pid, when another kplan
 * holds it (the run itself, still going, or another resume of it). */
kp_rc kp_resume_load(const char *dir, const char *run_id, struct kp_resume *r, struct kp_buf *err);
/* Copy the results r carries (its done pairs) into the new journal j, so
 * that a resume of j skips them too. */
void kp_journal_carry(struct kp_journal *j, const struct kp_resume *r);
/* The arguments a resume must repeat (limit, extra_vars, tags, skip_tags)
 * that differ from the run's, named in which ("limit, tags"); false when
 * none do. */
bool kp_resume_args_differ(const struct kp_resume *r, const struct kp_value *args,
			   struct kp_buf *which);
void kp_resume_release(struct kp_resume *r);
bool kp_resume_done(const struct kp_resume *r, const char *task_id, const char *host);

/* `kplan runs`: a table of runs in dir, or one run's records summarised. */
kp_rc kp_runs_list(const char *dir, FILE *out, struct kp_buf *err);
kp_rc kp_runs_show(const char *dir, const char *run_id, FILE *out, struct kp_buf *err);

#endif
