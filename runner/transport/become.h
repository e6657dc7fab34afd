/*
 * become.h - what every transport shares to run a command: become (sudo)
 * with its password exchange, the words of the command line, output kept
 * up to a cap, and the gate that feeds stdin.
 *
 * become is a field of the exec request (req->become) or, for the task
 * that holds the connection, of the connection (c->become); the request's
 * wins. Strings are borrowed: nothing here frees them.
 *
 * The password exchange: sudo runs with `-k -S -p PROMPT`, where PROMPT is
 * a per-command tag; the command is wrapped in `sh -c 'echo OK && exec
 * "$@"'`. The feed writes nothing until sudo shows its prompt on stderr
 * (then the password line may go), and the command's data only once the
 * wrapper printed OK on stdout, so the password can never reach the
 * command's stdin; a second prompt (a wrong password) shuts the feed.
 * Both tags are cut out of the output.
 */
#ifndef KP_BECOME_H
#define KP_BECOME_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct kp_become {
	const char *user;     /* NULL: no become */
	const char *password; /* NULL: sudo -n (NOPASSWD, or root) */
	const char *method;   /* NULL or "sudo": the one kplan speaks */
};

struct kp_exec_req;
struct kp_conn;

/* The become that applies to req on c (never NULL; ->user NULL: none). */
const struct kp_become *kp_exec_become(const struct kp_conn *c, const struct kp_exec_req *req);
/* KP_ERR_INVALID for a method other than sudo. */
kp_rc kp_become_check(const struct kp_become *b, struct kp_buf *err);

/* Per-command tags of a password exchange (random, so a command cannot
 * fake them). */
struct kp_become_tags {
	char prompt[48];  /* sudo -p: the prompt sudo writes to stderr */
	char ok[48];	  /* the line the wrapper writes once sudo let us in */
	char wrapper[80]; /* sh -c script: print ok, then exec the command */
};
kp_rc kp_become_tags_make(struct kp_become_tags *t, struct kp_buf *err);

/* The words of the command line, each handed to push in order: with
 * become, `sudo [-k -S -p PROMPT | -n] -u USER --`; with a password, the
 * wrapper (`/bin/sh -c WRAPPER sh`); with env entries, the reader of the
 * environment block (`/bin/sh -c READER sh`, see kp_env_block); then the
 * command (`/bin/sh -c CMD`, or argv). tags may be NULL when there is no
 * password.
 *
 * Environment values never appear on a command line, where any user of
 * the node can read them (ps): they travel on stdin, ahead of the data,
 * and the reader exports them before it execs the command. */
void kp_exec_words(const struct kp_become *b, const struct kp_become_tags *tags,
		   const char *const *env, const struct kp_exec_req *req,
		   void (*push)(void *ctx, const char *word), void *ctx);
/* The block the reader takes from stdin: each entry with backslashes and
 * newlines escaped (printf %b undoes it), one a line, then an empty line.
 * Empty when there are no entries. */
void kp_env_block(const char *const *env, struct kp_buf *out);

/* One output stream: at most cap bytes kept, the rest dropped (cut set). */
struct kp_capbuf {
	struct kp_buf *buf;
	size_t cap;
	bool cut;
};
void kp_capbuf_add(struct kp_capbuf *s, const char *p, size_t n);

/* What goes to the command's stdin: the password line, then the
 * environment block, then the data. */
struct kp_feed {
	const char *p[4];
	size_t len[4];
	int i;		    /* the segment being written */
	int limit;	    /* segments that may be written now */
	const char *prompt; /* sudo's prompt, or NULL: no gating */
	const char *ok;	    /* the wrapper's first line */
	int prompts;
};
void kp_feed_init(struct kp_feed *f, const struct kp_become *b, const struct kp_become_tags *tags,
		  const struct kp_buf *env_block, const char *data, size_t len);
/* Look for the tags in the output read so far (and cut them out). Returns
 * true when the feed was shut for good (a second prompt: a wrong password,
 * which sudo must fail on rather than retry). */
bool kp_feed_gate(struct kp_feed *f, struct kp_buf *out, struct kp_buf *err);
/* What may be written now: a pointer and a length (0: nothing now). */
size_t kp_feed_next(struct kp_feed *f, const char **p);
void kp_feed_advance(struct kp_feed *f, size_t n);
/* Everything was written (or the feed was shut): time to send EOF. */
bool kp_feed_done(struct kp_feed *f);
/* Nothing to feed at all: EOF at once. */
bool kp_feed_empty(const struct kp_feed *f);

#endif
