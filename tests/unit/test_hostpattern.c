/* test_hostpattern.c - host patterns: every form, Ansible's order of
 * operations, selection order, warnings against --limit errors, and
 * malformed patterns. */
#include "unit.h"

#include <unistd.h>

#include "model/inventory.h"

static struct kp_inventory inv;

static int setup(void **state)
{
	struct kp_buf err = KP_BUF_INIT;
	kp_inventory_init(&inv);
	if (kp_inventory_load(&inv, KP_TEST_DATA "/inventory/patterns.yml", &err) ||
	    kp_inventory_finalize(&inv, &err)) {
		fprintf(stderr, "%s\n", err.buf);
		kp_buf_release(&err);
		return -1;
	}
	kp_buf_release(&err);
	return 0;
}

static int teardown(void **state)
{
	kp_inventory_release(&inv);
	return 0;
}

/* Hosts selected, space-separated, and the warnings. */
static void sel(const char *pattern, unsigned flags, const char *hosts, const char *warnings)
{
	struct kp_hostset hs = {0};
	struct kp_buf warn = KP_BUF_INIT, err = KP_BUF_INIT, got = KP_BUF_INIT;
	kp_rc rc = kp_pattern_select(&inv, pattern, flags, &hs, &warn, &err);
	if (rc)
		fail_msg("pattern '%s': %s", pattern, err.buf);
	for (size_t i = 0; i < hs.n; i++)
		kp_buf_addf(&got, "%s%s", i ? " " : "", inv.hosts[hs.idx[i]]->name);
	assert_string_equal(got.buf, hosts);
	assert_string_equal(warn.buf, warnings);
	kp_hostset_release(&hs);
	kp_buf_release(&warn);
	kp_buf_release(&err);
	kp_buf_release(&got);
}

#define ok(pattern, hosts) sel((pattern), 0, (hosts), "")

static void bad(const char *pattern, unsigned flags, kp_rc want, const char *msg)
{
	struct kp_hostset hs = {0};
	struct kp_buf warn = KP_BUF_INIT, err = KP_BUF_INIT;
	assert_int_equal(kp_pattern_select(&inv, pattern, flags, &hs, &warn, &err), want);
	assert_string_equal(err.buf, msg);
	assert_int_equal(hs.n, 0);
	kp_hostset_release(&hs);
	kp_buf_release(&warn);
	kp_buf_release(&err);
}

static void test_names(void **state)
{
	ok("all", "fe80::1 web01 web02 web03 db02 db01 bastion");
	ok("*", "fe80::1 web01 web02 web03 db02 db01 bastion");
	ok("web", "web01 web02 web03");
	ok("db", "db02 db01"); /* group order, not name order */
	/* a group's own hosts first, then its children's */
	ok("k8s-prod", "bastion web01 web02 web03 db02 db01");
	ok("web02", "web02");
	ok("fe80::1", "fe80::1"); /* a host name with colons is not split */
	ok("ungrouped", "fe80::1");
	ok("empty", ""); /* an existing empty group: no warning */
}

static void test_set_operations(void **state)
{
	ok("db:web", "db02 db01 web01 web02 web03");
	ok("web02,db01,web02", "web02 db01");
	ok(" web02 , db01 ", "web02 db01");
	ok("k8s-prod:!web", "bastion db02 db01");
	ok("k8s-prod:&web", "web01 web02 web03");
	/* unions first, then intersections, then exclusions, whatever the order */
	ok("!web02:&web:db:web", "web01 web03");
	ok("&web:k8s-prod:!web01", "web02 web03");
	/* only exclusions or intersections: applied to all */
	ok("!k8s-prod", "fe80::1");
	ok("&db", "db02 db01");
	ok("web:!web", "");
}

static void test_wildcards_and_regex(void **state)
{
	/* matches groups (web, then their hosts) and hosts */
	ok("web*", "web01 web02 web03");
	ok("*01", "web01 db01");
	ok("k8s-*", "bastion web01 web02 web03 db02 db01");
	ok("db0?:!db01", "db02");
	/* a glob class mid-pattern; at the very end "[..]" is a subscript */
	ok("web0[13]*", "web01 web03");
	sel("web0[13]", 0, "", "pattern 'web0[13]' matched no hosts\n");
	ok("~web0[12]", "web01 web02");
	ok("~(db|bas)", "db02 db01 bastion");
	/* anchored at the start like Python's re.match, not at the end */
	sel("~eb", 0, "", "pattern '~eb' matched no hosts\n");
	ok("~w.*3", "web03");
	ok("~db0[0-9]:&~.*2$", "db02");
}

static void test_subscripts(void **state)
{
	ok("web[0]", "web01");
	ok("web[-1]", "web03");
	ok("web[1:]", "web02 web03");
	ok("web[:1]", "web01 web02");
	ok("web[0:1]:db[0]", "web01 web02 db02");
	ok("k8s-prod[1:2]", "web01 web02");
	ok("web[1:99]", "web02 web03");
	ok("web[:]", "web01 web02 web03");
	ok("all:!web[0]", "fe80::1 web02 web03 db02 db01 bastion");
	sel("web[3]", 0, "", "pattern 'web[3]' matched no hosts\n");
	sel("web[-4]", 0, "", "pattern 'web[-4]' matched no hosts\n");
	sel("web[2:1]", 0, "", "pattern 'web[2:1]' matched no hosts\n");
	bad("web[3]", KP_PATTERN_STRICT, KP_ERR_NOTFOUND,
	    "pattern 'web[3]' in --limit matched no hosts");
}

static void test_unknown(void **state)
{
	sel("webz", 0, "", "pattern 'webz' matched no hosts\n");
	sel("web:nosuch:db01:~zz:x*", 0, "web01 web02 web03 db01",
	    "pattern 'nosuch' matched no hosts\n"
	    "pattern '~zz' matched no hosts\n"
	    "pattern 'x*' matched no hosts\n");
	sel("all:!nosuch", 0, "fe80::1 web01 web02 web03 db02 db01 bastion",
	    "pattern 'nosuch' matched no hosts\n");
	/* no warn buffer: fine */
	struct kp_hostset hs = {0};
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_pattern_select(&inv, "nosuch", 0, &hs, NULL, &err), KP_OK);
	assert_int_equal(hs.n, 0);
	kp_hostset_release(&hs);
	kp_buf_release(&err);

	bad("web:dbb", KP_PATTERN_STRICT, KP_ERR_NOTFOUND,
	    "unknown host or group 'dbb' in --limit (did you mean 'db'?)");
	bad("web02:!web044", KP_PATTERN_STRICT, KP_ERR_NOTFOUND,
	    "unknown host or group 'web044' in --limit (did you mean 'web01'?)");
	bad("zzzzzz", KP_PATTERN_STRICT, KP_ERR_NOTFOUND,
	    "unknown host or group 'zzzzzz' in --limit");
	bad("dbb[0]", KP_PATTERN_STRICT, KP_ERR_NOTFOUND,
	    "unknown host or group 'dbb' in --limit (did you mean 'db'?)");
	bad("nomatch*", KP_PATTERN_STRICT, KP_ERR_NOTFOUND,
	    "pattern 'nomatch*' in --limit matched no hosts");
	/* strict is about names: an existing empty group is fine */
	sel("empty:web01", KP_PATTERN_STRICT, "web01", "");
}

static void test_malformed(void **state)
{
	bad("web:&", 0, KP_ERR_PARSE,
	    "invalid host pattern 'web:&': '&' must be followed by a pattern");
	bad("web,!", 0, KP_ERR_PARSE,
	    "invalid host pattern 'web,!': '!' must be followed by a pattern");
	bad("grp[x]", 0, KP_ERR_PARSE,
	    "invalid host pattern 'grp[x]': '[x]' is not an index like [0] or a range like [1:3]");
	bad("web[1-2]", 0, KP_ERR_PARSE,
	    "invalid host pattern 'web[1-2]': '[1-2]' is not an index like [0] or a range like "
	    "[1:3]");
	bad("[0]", 0, KP_ERR_PARSE,
	    "invalid host pattern '[0]': '[0]' has no name before its subscript");
	/* in kplan's words, not libc's capitalised regerror() text */
	bad("~(unclosed", 0, KP_ERR_PARSE,
	    "invalid host pattern '~(unclosed': unmatched '(' in the regular expression");
	bad("~web[0", 0, KP_ERR_PARSE,
	    "invalid host pattern '~web[0': unmatched '[' in the regular expression");
	bad("", 0, KP_ERR_PARSE, "invalid host pattern '': the pattern is empty");
	bad(" , : ", 0, KP_ERR_PARSE, "invalid host pattern ' , : ': the pattern is empty");
	bad(NULL, 0, KP_ERR_PARSE, "invalid host pattern '': the pattern is empty");
}

static void test_file(void **state)
{
	char path[] = "/tmp/kp-limit-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char text[] = "# hosts to drain\n  db01  \n\nweb*:!web02\ndb01\r\n";
	assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
	close(fd);
	char pattern[64];
	snprintf(pattern, sizeof(pattern), "@%s", path);
	sel(pattern, KP_PATTERN_STRICT, "db01 web01 web03", "");
	snprintf(pattern, sizeof(pattern), "bastion:@%s:!db01", path);
	sel(pattern, 0, "bastion web01 web03", "");
	unlink(path);
	bad("@/nonexistent/limit.txt", KP_PATTERN_STRICT, KP_ERR_IO,
	    "cannot read '/nonexistent/limit.txt': No such file or directory");
}

static void check_ok(const char *pattern)
{
	struct kp_buf err = KP_BUF_INIT;
	if (kp_pattern_check(pattern, &err))
		fail_msg("pattern '%s': %s", pattern, err.buf);
	kp_buf_release(&err);
}

static void check_bad(const char *pattern, const char *msg)
{
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_pattern_check(pattern, &err), KP_ERR_PARSE);
	assert_string_equal(err.buf, msg);
	kp_buf_release(&err);
}

/* Syntax only, without an inventory: what `validate` without -i checks. */
static void test_check(void **state)
{
	check_ok("all");
	check_ok("web:&db:!web02");
	check_ok("web[0]:db[1:]:~(web|db)0[12]");
	check_ok("fe80::1");
	check_ok("@/nonexistent/limit.txt"); /* read when the play runs */
	check_bad("kube_node:!",
		  "invalid host pattern 'kube_node:!': '!' must be followed by a pattern");
	check_bad("web:&", "invalid host pattern 'web:&': '&' must be followed by a pattern");
	check_bad("kube_node[x]", "invalid host pattern 'kube_node[x]': '[x]' is not an index "
				  "like [0] or a range like [1:3]");
	check_bad("~(unclosed",
		  "invalid host pattern '~(unclosed': unmatched '(' in the regular expression");
	check_bad(" , ", "invalid host pattern ' , ': the pattern is empty");
	check_bad(NULL, "invalid host pattern '': the pattern is empty");
}

/* out is reused: its contents are replaced */
static void test_reuse(void **state)
{
	struct kp_hostset hs = {0};
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_pattern_select(&inv, "all", 0, &hs, NULL, &err), KP_OK);
	assert_int_equal(hs.n, 7);
	assert_int_equal(kp_pattern_select(&inv, "db", 0, &hs, NULL, &err), KP_OK);
	assert_int_equal(hs.n, 2);
	assert_string_equal(inv.hosts[hs.idx[0]]->name, "db02");
	assert_int_equal(kp_pattern_select(&inv, "web[", 0, &hs, NULL, &err), KP_OK);
	assert_int_equal(hs.n, 0);
	kp_hostset_release(&hs);
	kp_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_set_operations),
	    cmocka_unit_test(test_wildcards_and_regex),
	    cmocka_unit_test(test_subscripts),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_reuse),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
