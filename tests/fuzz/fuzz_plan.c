/*
 * fuzz_plan.c - the plan loader on arbitrary text (kp_plan_load_string).
 *
 * The plan "is" plan.yml in a scratch directory that also holds a task
 * file, a vars file, a plan to import and a Lua hook, so that import_tasks,
 * import_plan, vars_files and hooks written by the fuzzer resolve and their
 * checks run too (tests/fuzz/plan.dict names them).
 */
#include "fuzz.h"
#include "model/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64], plan_path[128];

static const struct {
	const char *name, *text;
} files[] = {
    {"tasks.yml", "- name: t\n  debug: {msg: \"{{ x }}\"}\n- command: echo hi\n"},
    {"vars.yml", "x: 1\ny: \"{{ x }}\"\n"},
    {"other.yml", "- hosts: all\n  tasks:\n    - debug: {msg: hi}\n"},
    {"hook.lua", "return kplan ~= nil\n"},
    {"script.lua", "return {changed = false}\n"},
};

static void cleanup(void)
{
	char p[192];
	for (size_t i = 0; i < KP_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i].name);
		unlink(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[192];
	kp_log_level = -1; /* warnings are not findings */
	strcpy(dir, "/tmp/kp-fuzz-plan.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	for (size_t i = 0; i < KP_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i].name);
		FILE *f = fopen(p, "w");
		if (!f || fputs(files[i].text, f) < 0 || fclose(f))
			abort();
	}
	snprintf(plan_path, sizeof(plan_path), "%s/plan.yml", dir);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_plan *plan = NULL;
	struct kp_buf err = KP_BUF_INIT;

	if (kp_fuzz_names_device(data, size))
		return -1;
	if (!kp_plan_load_string(plan_path, (const char *)data, size, &plan, &err))
		kp_plan_free(plan);
	else if (!err.len)
		abort(); /* every failure says why */
	kp_buf_release(&err);
	return 0;
}
