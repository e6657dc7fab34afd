/*
 * tests.c - the Jinja test library (placeholder: empty table until the
 * library lands; see jinja_fn.h).
 */
#include "expr/jinja/jinja_fn.h"

const struct kp_jtest kp_jinja_tests[] = {
	{NULL, NULL, 0, NULL},
};
