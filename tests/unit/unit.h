/* unit.h - what every cmocka unit test includes. */
#ifndef KP_UNIT_H
#define KP_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/kp.h"

/* Directory of test data, relative to the repository root (tests run there). */
#define KP_TEST_DATA "tests/data"

/* Under `make valgrind` (tests/run-valgrind.sh sets KPLAN_VALGRIND=1):
 * everything runs tens of times slower, and valgrind runs glibc's vfork-based
 * posix_spawn as a plain fork, so a failed exec shows only as exit 127.
 * Time limits and that one message are relaxed there, nothing else. */
static inline int unit_valgrind(void)
{
	const char *v = getenv("KPLAN_VALGRIND");
	return v && *v == '1';
}

#endif
