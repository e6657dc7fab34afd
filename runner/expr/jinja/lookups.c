/*
 * lookups.c - the Jinja lookup plugins (placeholder: empty table until the
 * library lands; see jinja_fn.h).
 */
#include "expr/jinja/jinja_fn.h"

const struct kp_jlookup kp_jinja_lookups[] = {
	{NULL, NULL, 0, NULL},
};
