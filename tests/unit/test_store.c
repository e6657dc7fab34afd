/* test_store.c - backup stores confined to their root (modules/lib/store.c):
 * node paths checked, no link under the root followed, modes as asked. */
#include "unit.h"
#include "modules/lib/store.h"

#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/kplan-store.XXXXXX");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void test_check(void **state)
{
	(void)state;
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_store_check("/etc/kubernetes/pki/ca.key", 26, "path", &err), KP_OK);
	assert_int_equal(kp_store_check("/etc/../root", 12, "path from n1", &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "path from n1 '/etc/../root' has a '..' component: refusing a "
				     "path that leaves the store");
	assert_int_equal(kp_store_check("..", 2, "host name", &err), KP_ERR_INVALID);
	assert_int_equal(kp_store_check("a\0/../x", 7, "path", &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "path 'a' holds a NUL byte");
	assert_int_equal(kp_store_check("", 0, "host name", &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "host name is empty");
	/* ".." inside a name is a name */
	assert_int_equal(kp_store_check("/a/b..c/..d", 11, "path", &err), KP_OK);
	kp_buf_release(&err);
}

static void test_write_read(void **state)
{
	(void)state;
	struct kp_buf err = KP_BUF_INIT, out = KP_BUF_INIT;
	struct stat st;
	char p[192];
	assert_int_equal(kp_store_write(root, "n1/etc/pki/ca.key", "KEY", 3, 0600, 0700, &err),
			 KP_OK);
	snprintf(p, sizeof(p), "%s/n1/etc/pki/ca.key", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(p, sizeof(p), "%s/n1/etc", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(kp_store_read(root, "/n1//etc/./pki/ca.key", 0, &out, &err), KP_OK);
	assert_int_equal(out.len, 3);
	assert_memory_equal(out.buf, "KEY", 3);
	assert_int_equal(kp_store_read(root, "n1/etc/pki/none", 0, &out, &err), KP_ERR_NOTFOUND);
	assert_int_equal(kp_store_read(root, "n2/x", 0, &out, &err), KP_ERR_NOTFOUND);
	assert_int_equal(kp_store_write(root, "n1/../../x", "x", 1, 0600, 0700, &err),
			 KP_ERR_INVALID);
	kp_buf_release(&err);
	kp_buf_release(&out);
}

/* A link anywhere under the root is refused, naming it; nothing is
 * written behind it, nothing there changes mode. */
static void test_links(void **state)
{
	(void)state;
	struct kp_buf err = KP_BUF_INIT, out = KP_BUF_INIT, want = KP_BUF_INIT;
	char elsewhere[192], link[192], p[256];
	struct stat st;
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", root);
	assert_int_equal(mkdir(elsewhere, 0755), 0);
	assert_int_equal(mkdir(strcat(strcpy(p, root), "/store"), 0700), 0);
	snprintf(link, sizeof(link), "%s/store/n1", root);
	assert_int_equal(symlink(elsewhere, link), 0);
	snprintf(p, sizeof(p), "%s/store", root);
	assert_int_equal(kp_store_write(p, "n1/ca.key", "K", 1, 0600, 0700, &err), KP_ERR_INVALID);
	kp_buf_addf(&want, "'%s' is a symbolic link: kplan never follows links inside a store",
		    link);
	assert_string_equal(err.buf, want.buf);
	assert_int_equal(stat(elsewhere, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(kp_store_chmod_dirs(p, "n1", 0700, &err), KP_ERR_INVALID);
	assert_int_equal(stat(elsewhere, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* a file that is a link is not read through */
	assert_int_equal(kp_store_write(p, "n2/real", "R", 1, 0600, 0700, &err), KP_OK);
	char flink[256];
	snprintf(flink, sizeof(flink), "%s/store/n2/file", root);
	assert_int_equal(symlink("/etc/hostname", flink), 0);
	assert_int_not_equal(kp_store_read(p, "n2/file", 0, &out, &err), KP_OK);
	/* writing over a link replaces the link, never its target */
	assert_int_equal(kp_store_write(p, "n2/file", "W", 1, 0600, 0700, &err), KP_OK);
	assert_int_equal(lstat(flink, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	kp_buf_release(&err);
	kp_buf_release(&out);
	kp_buf_release(&want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check),
	    cmocka_unit_test_setup_teardown(test_write_read, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_links, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
