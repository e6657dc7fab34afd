/* test_diff.c - unified diffs, checked against diff -u where the answer is unambiguous. */
#include "unit.h"
#include "modules/module.h"

#include <unistd.h>

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite(s, 1, strlen(s), f);
	fclose(f);
}

/* Our diff of a and b, and /usr/bin/diff -u's, both without the two header
 * lines (diff's carry timestamps). */
static void against_diff_u(const char *a, const char *b)
{
	char dir[] = "/tmp/kp-diff-XXXXXX", pa[64], pb[64], cmd[256];
	struct kp_buf ours = KP_BUF_INIT, theirs = KP_BUF_INIT;
	char chunk[4096];
	size_t n;

	assert_non_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a", dir);
	snprintf(pb, sizeof(pb), "%s/b", dir);
	write_file(pa, a);
	write_file(pb, b);
	snprintf(cmd, sizeof(cmd), "/usr/bin/diff -u %s %s | tail -n +3; rm -rf %s", pa, pb, dir);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		kp_buf_add(&theirs, chunk, n);
	pclose(p);

	kp_unified_diff(a, strlen(a), b, strlen(b), "a", "b", &ours);
	assert_true(ours.len > 0);
	const char *body = strstr(ours.buf, "\n+++ b\n");
	assert_non_null(body);
	assert_string_equal(body + strlen("\n+++ b\n"), theirs.buf);
	kp_buf_release(&ours);
	kp_buf_release(&theirs);
}

static void test_headers_and_hunk(void **state)
{
	struct kp_buf out = KP_BUF_INIT;
	const char *a = "one\ntwo\nthree\n", *b = "one\n2\nthree\n";
	kp_unified_diff(a, strlen(a), b, strlen(b), "before: /etc/x", "after: /etc/x", &out);
	assert_string_equal(out.buf, "--- before: /etc/x\n"
				     "+++ after: /etc/x\n"
				     "@@ -1,3 +1,3 @@\n"
				     " one\n"
				     "-two\n"
				     "+2\n"
				     " three\n");
	kp_buf_release(&out);
}

static void test_equal_is_empty(void **state)
{
	struct kp_buf out = KP_BUF_INIT;
	kp_unified_diff("x\n", 2, "x\n", 2, "a", "b", &out);
	kp_unified_diff("", 0, "", 0, "a", "b", &out);
	assert_int_equal(out.len, 0);
	kp_buf_release(&out);
}

static void test_like_diff_u(void **state)
{
	/* one change in the middle of a long file: context 3 on each side */
	against_diff_u("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n");
	/* two changes 7 lines apart: two hunks; 6 apart: one */
	against_diff_u("a\n1\n2\n3\n4\n5\n6\n7\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\nB\n");
	against_diff_u("a\n1\n2\n3\n4\n5\n6\nb\n", "A\n1\n2\n3\n4\n5\n6\nB\n");
	/* insertions and deletions at both ends */
	against_diff_u("x\ny\n", "new\nx\ny\nend\n");
	against_diff_u("x\ny\nz\n", "y\n");
	/* from and to nothing */
	against_diff_u("", "a\nb\n");
	against_diff_u("a\nb\n", "");
	/* a last line without a newline, on either side or both */
	against_diff_u("a\nb", "a\nb\n");
	against_diff_u("a\nb\n", "a\nc");
	against_diff_u("a\nb", "a\nc");
	/* a block moved */
	against_diff_u("k1\nk2\nk3\nm1\nm2\nt\n", "m1\nm2\nk1\nk2\nk3\nt\n");
}

static void test_no_newline_marker(void **state)
{
	struct kp_buf out = KP_BUF_INIT;
	kp_unified_diff("a\nb", 3, "a\nb\n", 4, "a", "b", &out);
	assert_string_equal(out.buf, "--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n"
				     "\\ No newline at end of file\n+b\n");
	kp_buf_release(&out);
}

static void test_binary_and_large(void **state)
{
	struct kp_buf out = KP_BUF_INIT;
	kp_unified_diff("a\0b", 3, "a\0c", 3, "old", "new", &out);
	assert_string_equal(out.buf, "Binary files old and new differ\n");
	kp_buf_reset(&out);
	size_t big = KP_DIFF_MAX + 1;
	char *a = malloc(big);
	memset(a, 'x', big);
	kp_unified_diff(a, big, "x", 1, "a", "b", &out);
	assert_string_equal(out.buf, "(diff not shown: file larger than 1 MiB)\n");
	free(a);
	kp_buf_release(&out);
}

/* Many lines, few changes: fast and exact. */
static void test_large_few_changes(void **state)
{
	struct kp_buf a = KP_BUF_INIT, b = KP_BUF_INIT, out = KP_BUF_INIT;
	for (int i = 0; i < 20000; i++) {
		kp_buf_addf(&a, "line %d\n", i);
		kp_buf_addf(&b, i == 10000 ? "changed %d\n" : "line %d\n", i);
	}
	kp_unified_diff(a.buf, a.len, b.buf, b.len, "a", "b", &out);
	assert_string_equal(out.buf, "--- a\n+++ b\n@@ -9998,7 +9998,7 @@\n line 9997\n line 9998\n"
				     " line 9999\n-line 10000\n+changed 10000\n line 10001\n"
				     " line 10002\n line 10003\n");
	kp_buf_release(&a);
	kp_buf_release(&b);
	kp_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_headers_and_hunk), cmocka_unit_test(test_equal_is_empty),
	    cmocka_unit_test(test_like_diff_u),	     cmocka_unit_test(test_no_newline_marker),
	    cmocka_unit_test(test_binary_and_large), cmocka_unit_test(test_large_few_changes),
	};
	return cmocka_run_group_tests_name("diff", tests, NULL, NULL);
}
