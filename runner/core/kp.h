/*
 * kp.h - the one error type, allocation helpers and logging shared by all
 * of kplan.
 *
 * Functions return a kp_rc: KP_OK (0) on success, so `if (rc) return rc;`
 * propagates failures. Details go into a caller-supplied struct kp_buf
 * (see buf.h) which is left untouched on success.
 */
#ifndef KP_H
#define KP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KP_VERSION "0.1.0"

typedef enum {
	KP_OK = 0,
	KP_ERR_NOMEM,	    /* out of memory */
	KP_ERR_IO,	    /* a file could not be read or written */
	KP_ERR_PARSE,	    /* malformed YAML, INI, JSON or expression */
	KP_ERR_INVALID,	    /* well-formed input that breaks a rule */
	KP_ERR_UNDEFINED,   /* an expression used an undefined variable */
	KP_ERR_UNKNOWN,	    /* a value is known only after probing (offline plan) */
	KP_ERR_NOTFOUND,    /* a named thing does not exist */
	KP_ERR_LIMIT,	    /* a size, depth, time or instruction limit was hit */
	KP_ERR_RUNTIME,	    /* an expression or hook raised an error */
	KP_ERR_UNREACHABLE, /* the host cannot be reached, or the connection broke */
	KP_ERR_TIMEOUT,	    /* a command or wait ran out of time */
	KP_ERR_LOCKED,	    /* a run lock is held by someone else */
} kp_rc;

const char *kp_strerror(kp_rc rc);

/* Where something came from in a file (1-based); file is borrowed from
 * whoever loaded it (a struct kp_doc or the plan), NULL when not from a file. */
struct kp_pos {
	const char *file;
	int line, col;
};

/* Allocation: these never return NULL; running out of memory aborts. */
void *kp_xmalloc(size_t n);
void *kp_xcalloc(size_t n, size_t size);
void *kp_xrealloc(void *p, size_t n);
char *kp_xstrdup(const char *s);
char *kp_xstrndup(const char *s, size_t n);

/* Grow *arr (of element size `size`) so that it holds at least `need`. */
#define KP_GROW(arr, need, cap)                                                                    \
	do {                                                                                       \
		if ((size_t)(need) > (cap)) {                                                      \
			size_t kp_nc_ = (cap) ? (cap)*2 : 8;                                       \
			while (kp_nc_ < (size_t)(need))                                            \
				kp_nc_ *= 2;                                                       \
			(arr) = kp_xrealloc((arr), kp_nc_ * sizeof(*(arr)));                       \
			(cap) = kp_nc_;                                                            \
		}                                                                                  \
	} while (0)

#define KP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Logging: level-gated, evaluates nothing when the level is off. */
enum kp_loglevel { KP_LOG_ERROR, KP_LOG_WARN, KP_LOG_INFO, KP_LOG_DEBUG, KP_LOG_TRACE };
extern int kp_log_level; /* set once by main before any thread starts */
/* The run's known secrets (redact.h), or NULL: every log line passes them
 * on its way to stderr, as the run's output does on stdout. Set by main
 * (with kp_log_level) before any thread starts and cleared after they end. */
struct kp_redact;
extern const struct kp_redact *kp_log_redact;
/* One line "kplan: LEVEL: message" on stderr, written whole (threads do not
 * cut each other's lines) and redacted. */
void kp_log_raw(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define kp_log(level, ...)                                                                         \
	do {                                                                                       \
		if ((level) <= kp_log_level)                                                       \
			kp_log_raw((level), __VA_ARGS__);                                          \
	} while (0)
#define kp_warn(...) kp_log(KP_LOG_WARN, __VA_ARGS__)

/* Levenshtein-based suggestion: the candidate closest to `word`, or NULL
 * when none is close enough to be a plausible typo. */
const char *kp_suggest(const char *word, const char *const *candidates, size_t n);

/* Durations: "30", "30s", "5m", "1h", "1h30m", "250ms" into milliseconds. */
kp_rc kp_parse_duration(const char *s, int64_t *ms);

/* Whether a POSIX extended regex repeats so much that glibc would take
 * seconds to hours to compile it: nested repetitions multiply. Host
 * patterns and regex_search() refuse such a regex. */
bool kp_regex_too_repetitive(const char *re);

/* The monotonic clock in milliseconds: for timeouts and durations. */
int64_t kp_now_ms(void);
/* Sleep up to ms; a signal (Ctrl-C) ends it early, so callers loop on
 * their own deadline. */
void kp_sleep_ms(int64_t ms);
/* Sleep ms, waking at least every 100 ms to look at the run's Ctrl-C /
 * SIGTERM count (NULL: none): true when that ended the sleep early. Every
 * wait of a run (retries, pauses, polls) sleeps here, so Ctrl-C is never
 * held up by one. */
bool kp_sleep_interruptible(int64_t ms, const volatile sig_atomic_t *interrupts);

#endif
