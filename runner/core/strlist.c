/* strlist.c - lists of owned strings, see strlist.h. */
#include "core/strlist.h"

#include <stdlib.h>
#include <string.h>

#include "core/kp.h"

void kp_strlist_push(struct kp_strlist *l, const char *s)
{
	KP_GROW(l->v, l->n + 1, l->cap);
	l->v[l->n++] = kp_xstrdup(s);
}

void kp_strlist_push_csv(struct kp_strlist *l, const char *csv)
{
	const char *p = csv;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n) {
			char *s = kp_xstrndup(p, n);
			kp_strlist_push(l, s);
			free(s);
		}
		if (!e)
			break;
		p = e + 1;
	}
}

bool kp_strlist_has(const struct kp_strlist *l, const char *s)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

void kp_strlist_release(struct kp_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
