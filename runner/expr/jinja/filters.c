/*
 * filters.c - the Jinja filter library (placeholder: empty table until the
 * library lands; see jinja_fn.h).
 */
#include "expr/jinja/jinja_fn.h"

const struct kp_jfilter kp_jinja_filters[] = {
	{NULL, NULL, 0, NULL},
};
