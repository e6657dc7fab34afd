/*
 * fuzz_hostpattern.c - host patterns: kp_pattern_check (no inventory) and
 * kp_pattern_select against a small fixed inventory (tests/data/inventory/
 * patterns.yml: nested groups, an empty group, an IPv6 host name), lenient
 * and strict (--limit). An @file term reads "limit.txt" in a scratch
 * directory the target runs in; other files are not for patterns to read.
 */
#include "fuzz.h"
#include "model/inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char inventory_yaml[] = "all:\n"
				     "  hosts:\n"
				     "    \"fe80::1\":\n"
				     "  children:\n"
				     "    web:\n"
				     "      hosts:\n"
				     "        web01:\n"
				     "        web02:\n"
				     "        web03:\n"
				     "    db:\n"
				     "      hosts:\n"
				     "        db02:\n"
				     "        db01:\n"
				     "    k8s-prod:\n"
				     "      hosts:\n"
				     "        bastion:\n"
				     "      children:\n"
				     "        web:\n"
				     "        db:\n"
				     "    empty:\n"
				     "      hosts: {}\n";

static struct kp_inventory inv;
static char dir[64];

static void cleanup(void)
{
	char p[96];
	snprintf(p, sizeof(p), "%s/limit.txt", dir);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct kp_doc *doc = NULL;
	struct kp_buf err = KP_BUF_INIT;
	char p[96];

	kp_log_level = -1;
	kp_inventory_init(&inv);
	if (kp_yaml_load_string("patterns.yml", inventory_yaml, sizeof(inventory_yaml) - 1, &doc,
				&err) ||
	    kp_inventory_load_yaml(&inv, doc, &err) || kp_inventory_finalize(&inv, &err)) {
		fprintf(stderr, "fuzz_hostpattern: %s\n", err.buf);
		abort();
	}
	kp_doc_free(doc);
	kp_buf_release(&err);
	strcpy(dir, "/tmp/kp-fuzz-pattern.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(p, sizeof(p), "%s/limit.txt", dir);
	FILE *f = fopen(p, "w");
	if (!f || fputs("web01\n# a comment\n  db*  \nk8s-prod[0]\n", f) < 0 || fclose(f))
		abort();
	if (chdir(dir))
		abort();
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_hostset set = {0};
	struct kp_buf warn = KP_BUF_INIT, err = KP_BUF_INIT;

	/* patterns are C strings; an '@' term may only read limit.txt here */
	if (memchr(data, '\0', size) || memchr(data, '/', size) || kp_fuzz_names_device(data, size))
		return -1;
	char *pattern = kp_fuzz_str(data, size);
	kp_pattern_check(pattern, &err);
	kp_buf_reset(&err);
	for (unsigned flags = 0; flags <= KP_PATTERN_STRICT; flags++) {
		if (!kp_pattern_select(&inv, pattern, flags, &set, &warn, &err)) {
			for (size_t i = 0; i < set.n; i++)
				if (set.idx[i] >= inv.nhosts)
					abort();
		} else if (set.n || !err.len) {
			abort(); /* an error leaves the set empty and says why */
		}
		kp_buf_reset(&warn);
		kp_buf_reset(&err);
	}
	kp_hostset_release(&set);
	kp_buf_release(&warn);
	kp_buf_release(&err);
	free(pattern);
	return 0;
}
