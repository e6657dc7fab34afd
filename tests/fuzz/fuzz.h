/*
 * fuzz.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * Each fuzz_<target>.c defines LLVMFuzzerTestOneInput and is linked with
 * -fsanitize=fuzzer against build-fuzz/libkplan.a (`make fuzz`). The
 * helpers here keep the inputs away from the machine: nothing may name a
 * device or kernel file (an @file host pattern, lookup_file(), an imported
 * task file), because reading /dev/tty or /dev/zero would hang or balloon a
 * run without saying anything about kplan.
 */
#ifndef KP_FUZZ_H
#define KP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/inventory.h"
#include "core/kp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Whether the input names a path under /dev, /proc or /sys: such inputs
 * are rejected (the target returns -1, so libFuzzer does not keep them). */
static inline bool kp_fuzz_names_device(const uint8_t *data, size_t size)
{
	static const char *const bad[] = {"/dev", "/proc", "/sys"};
	for (size_t i = 0; i < KP_ARRAY_LEN(bad); i++)
		if (memmem(data, size, bad[i], strlen(bad[i])))
			return true;
	return false;
}

/* Whether the host ranges in the input ("node[01:20]", several per name
 * multiply) make more than `max` names in all. The loaders allow 100,000
 * hosts by design; an inventory that big is slow to load and print under
 * the sanitizers, not wrong, so the inventory targets skip such inputs
 * instead of reporting them as timeouts. Tokens are cut at blanks only, so
 * a name is never undercounted (an INI host is one such token). */
#define KP_FUZZ_MAX_HOSTS 5000
static inline bool kp_fuzz_many_hosts(const uint8_t *data, size_t size, size_t max)
{
	size_t total = 0;
	for (size_t i = 0; i < size;) {
		size_t j = i;
		while (j < size && data[j] && !strchr(" \t\r\n", data[j]))
			j++;
		if (j > i && memchr(data + i, '[', j - i) && memchr(data + i, ':', j - i)) {
			size_t n = 0;
			char *tok = kp_xstrndup((const char *)data + i, j - i);
			kp_rc rc = kp_host_range_count(tok, &n, NULL);
			free(tok);
			/* counted, not made: a big range costs nothing here */
			if (!rc)
				total += n;
			if (rc == KP_ERR_LIMIT) /* a shorter name ("n[..]:22") may fit */
				return true;
			if (total > max)
				return true;
		}
		i = j + 1;
	}
	return false;
}

/* A NUL-terminated copy of the input (caller frees). */
static inline char *kp_fuzz_str(const uint8_t *data, size_t size)
{
	return kp_xstrndup((const char *)data, size);
}

#endif
