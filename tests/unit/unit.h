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

#include "buf.h"
#include "kp.h"

/* Directory of test data, relative to the repository root (tests run there). */
#define KP_TEST_DATA "tests/data"

#endif
