/*
 * redact.h - secrets never reach the screen, a log or the journal.
 *
 * kplan knows which values are secret: variables whose names say so
 * (kp_secret_name, value.h) and values tagged !secret (or vaulted),
 * wherever they are defined (inventory, vars,
 * vars_files, -e). A template can copy such a value into a command line,
 * a message or a file's content, where the value has lost its tag; so
 * before anything is printed or journaled, every known secret string is
 * replaced by <hidden>. A redacting stream does it for all of a run's
 * output at one place.
 *
 * Ownership: struct kp_redact owns its strings; the stream borrows it,
 * so the redactor must outlive the stream.
 */
#ifndef KP_REDACT_H
#define KP_REDACT_H

#include <stdio.h>

#include "core/buf.h"
#include "core/value.h"

#define KP_REDACT_MIN 4 /* shorter values would hide ordinary words */

struct kp_redact {
	char **s;
	size_t n, cap;
};

void kp_redact_add(struct kp_redact *r, const char *secret);
/* Every secret of a variables map: secret names (kp_secret_name), values tagged !secret
 * (nested maps and lists included). */
void kp_redact_collect(struct kp_redact *r, const struct kp_value *vars);
/* Replace every secret (and its JSON-escaped form) in b by <hidden>. */
void kp_redact_apply(const struct kp_redact *r, struct kp_buf *b);
/* A stream writing to `under` through the redactor, line by line (a line
 * is cut at \n or \r); closing it flushes and leaves `under` open. */
FILE *kp_redact_stream(const struct kp_redact *r, FILE *under);
void kp_redact_release(struct kp_redact *r);

#endif
