/* util.c - error strings, allocation, logging, suggestions and durations. */
#include "core/kp.h"

#include "core/buf.h"
#include "core/redact.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/random.h>
#include <time.h>

int kp_log_level = KP_LOG_WARN;
const struct kp_redact *kp_log_redact;

const char *kp_strerror(kp_rc rc)
{
	switch (rc) {
	case KP_OK:
		return "success";
	case KP_ERR_NOMEM:
		return "out of memory";
	case KP_ERR_IO:
		return "input/output error";
	case KP_ERR_PARSE:
		return "parse error";
	case KP_ERR_INVALID:
		return "invalid input";
	case KP_ERR_UNDEFINED:
		return "undefined variable";
	case KP_ERR_UNKNOWN:
		return "value known only after probe";
	case KP_ERR_NOTFOUND:
		return "not found";
	case KP_ERR_LIMIT:
		return "limit exceeded";
	case KP_ERR_RUNTIME:
		return "runtime error";
	case KP_ERR_UNREACHABLE:
		return "host unreachable";
	case KP_ERR_TIMEOUT:
		return "timed out";
	case KP_ERR_LOCKED:
		return "locked";
	}
	return "unknown error";
}

static void oom(void)
{
	fputs("kplan: out of memory\n", stderr);
	abort();
}

void *kp_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *kp_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *kp_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *kp_xstrdup(const char *s)
{
	return kp_xstrndup(s, strlen(s));
}

char *kp_xstrndup(const char *s, size_t n)
{
	char *p = kp_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void kp_log_raw(int level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warning", "info", "debug", "trace"};
	va_list ap;
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addf(&b, "kplan: %s: ", names[level < 0 ? 0 : level > 4 ? 4 : level]);
	va_start(ap, fmt);
	kp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	/* one line: a library's message may end in (or hold) newlines */
	while (b.len && (b.buf[b.len - 1] == '\n' || b.buf[b.len - 1] == '\r'))
		kp_buf_setlen(&b, b.len - 1);
	for (size_t i = 0; i < b.len; i++)
		if (b.buf[i] == '\n' || b.buf[i] == '\r')
			b.buf[i] = ' ';
	kp_buf_addch(&b, '\n');
	kp_redact_apply(kp_log_redact, &b);
	fwrite(b.buf, 1, b.len, stderr);
	kp_buf_release(&b);
}

static size_t levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return (size_t)-1;
	size_t row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t cost =
			    tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1])
				? 0
				: 1;
			size_t best = prev + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

const char *kp_suggest(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1;
	size_t wl = strlen(word);
	for (size_t i = 0; i < n; i++) {
		size_t d = levenshtein(word, candidates[i]);
		if (d < bestd) {
			bestd = d;
			best = candidates[i];
		}
	}
	/* a typo: at most a third of the word, and at least one edit allowed */
	size_t limit = wl / 3 + 1;
	if (limit > 3)
		limit = 3;
	return bestd <= limit ? best : NULL;
}

kp_rc kp_parse_duration(const char *s, int64_t *ms)
{
	const char *p = s;
	int64_t total = 0;
	bool any = false;

	while (isspace((unsigned char)*p))
		p++;
	if (!*p)
		return KP_ERR_INVALID;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return KP_ERR_INVALID;
		int64_t n = 0;
		while (isdigit((unsigned char)*p)) {
			if (n > INT64_MAX / 10 - 10)
				return KP_ERR_INVALID;
			n = n * 10 + (*p++ - '0');
		}
		int64_t mult;
		if (!*p || isspace((unsigned char)*p))
			mult = 1000;
		else if (!strncmp(p, "ms", 2))
			mult = 1, p += 2;
		else if (*p == 's')
			mult = 1000, p++;
		else if (*p == 'm')
			mult = 60000, p++;
		else if (*p == 'h')
			mult = 3600000, p++;
		else if (*p == 'd')
			mult = 86400000, p++;
		else
			return KP_ERR_INVALID;
		if (n > INT64_MAX / mult)
			return KP_ERR_INVALID;
		total += n * mult;
		any = true;
		while (isspace((unsigned char)*p))
			p++;
	}
	if (!any)
		return KP_ERR_INVALID;
	*ms = total;
	return KP_OK;
}

int64_t kp_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool kp_sleep_interruptible(int64_t ms, const volatile sig_atomic_t *interrupts)
{
	int64_t end = kp_now_ms() + ms;
	for (;;) {
		if (interrupts && *interrupts > 0)
			return true;
		int64_t left = end - kp_now_ms();
		if (left <= 0)
			return false;
		kp_sleep_ms(left < 100 ? left : 100);
	}
}

void kp_sleep_ms(int64_t ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* glibc's regcomp copies a repeated part once per repetition, nested ones
 * multiplied: "a+++++++++++++++++++++++" or "((((a+)+)+)+)..." takes
 * seconds, then hours. Weigh every repetition as if all were nested (2 for
 * '*', '+', '?'; the count + 1 for '{m,n}') and refuse a regex whose
 * weights multiply past this; a host pattern or a plan needs a few at most. */
#define REGEX_MAX_REPEAT 256

bool kp_regex_too_repetitive(const char *t)
{
	unsigned long w = 1;
	for (const char *p = t; *p; p++) {
		unsigned long f = 1;
		if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '[') { /* a bracket expression: ']' first is literal */
			const char *q = p + 1 + (p[1] == '^');
			q += *q == ']';
			while (*q && *q != ']')
				q++;
			if (!*q)
				return false; /* regcomp says what is wrong */
			p = q;
		} else if (*p == '*' || *p == '+' || *p == '?') {
			f = 2;
		} else if (*p == '{') {
			char *end;
			unsigned long n = strtoul(p + 1, &end, 10);
			if (*end == ',')
				n = end[1] == '}' ? n + 1 : strtoul(end + 1, &end, 10);
			f = n > REGEX_MAX_REPEAT ? REGEX_MAX_REPEAT + 1 : n + 1;
		}
		w *= f;
		if (w > REGEX_MAX_REPEAT)
			return true;
	}
	return false;
}

kp_rc kp_random_hex(char *out, size_t nbytes, struct kp_buf *err)
{
	unsigned char r[32];
	if (nbytes > sizeof(r) || getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		return kp_errorf(err, KP_ERR_IO, "cannot get random bytes: %s", strerror(errno));
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return KP_OK;
}
