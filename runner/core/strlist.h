/*
 * strlist.h - a growable list of strings the list owns: pushed strings are
 * copied, kp_strlist_release frees them all. A zeroed struct is empty.
 */
#ifndef KP_STRLIST_H
#define KP_STRLIST_H

#include <stdbool.h>
#include <stddef.h>

struct kp_strlist {
	char **v;
	size_t n, cap;
};
void kp_strlist_push(struct kp_strlist *l, const char *s);
/* Split "a,b, c" and push each part. */
void kp_strlist_push_csv(struct kp_strlist *l, const char *csv);
bool kp_strlist_has(const struct kp_strlist *l, const char *s);
void kp_strlist_release(struct kp_strlist *l);

#endif
