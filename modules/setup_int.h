/*
 * setup_int.h - what the setup module's parts share: the sections of its
 * one command's output ("@@name" lines) and the text helpers every
 * collector uses; the hardware and network collectors (setup_hw.c).
 */
#ifndef KPLAN_MODULES_SETUP_INT_H
#define KPLAN_MODULES_SETUP_INT_H

#include "core/value.h"

#include <stdbool.h>
#include <stddef.h>

/* the body of one section of the command's output */
struct sect {
	const char *s;
	size_t n;
};

char *kp_facts_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The body of section `name` (the text after "\n@@name\n" up to the next
 * "\n@@"), or an empty one. */
struct sect kp_facts_section(const char *out, size_t len, const char *name);
/* Line i of a section (0-based), malloc'd without its newline; NULL past
 * the end. */
char *kp_facts_line_at(struct sect s, size_t i);
/* The next line of *s (not terminated), advancing *s; false at the end. */
bool kp_facts_next_line(struct sect *s, const char **line, size_t *n);
/* KEY=value of a shell-style file (os-release, lsb-release), quotes
 * removed; malloc'd or NULL. */
char *kp_facts_kv_get(struct sect s, const char *key);
/* s without leading and trailing blanks (in place). */
char *kp_facts_trim(char *s);
/* m[k] = v as a string ("" when v is NULL). */
void kp_facts_set_str(struct kp_value *m, const char *k, const char *v);
/* Whether the section has a line equal to word. */
bool kp_facts_has_line(struct sect s, const char *word);

/* setup_hw.c: the hardware and network collectors, into facts f. */
void kp_facts_memory(struct kp_value *f, const char *out, size_t len);
void kp_facts_cpu(struct kp_value *f, const char *out, size_t len);
void kp_facts_mount(struct kp_value *f, const char *out, size_t len);
void kp_facts_network(struct kp_value *f, const char *out, size_t len);

#endif
