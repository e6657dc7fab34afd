/* test_etcd.c - etcdutil.c: snapshot trailer checks (a real snapshot, cut
 * and corrupted), member list parsing with exact 64-bit IDs, finding a
 * member by name, hex ID or peer URL, health output and quorum arithmetic. */
#include "unit.h"
#include "modules/module.h"
#include "transport/transport.h"
#include "modules/etcd/etcd_snapshot_int.h"

static void load(const char *name, struct kp_buf *b)
{
	struct kp_buf path = KP_BUF_INIT, err = KP_BUF_INIT;
	kp_buf_addf(&path, "%s/etcd/%s", KP_TEST_DATA, name);
	assert_int_equal(kp_read_file(path.buf, 0, b, &err), KP_OK);
	kp_buf_release(&path);
	kp_buf_release(&err);
}

static void test_snapshot_good(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT, why = KP_BUF_INIT;
	char sha[65];
	load("snapshot.db", &b);
	assert_true(kp_etcd_snapshot_check((unsigned char *)b.buf, b.len, sha, &why));
	assert_string_equal(why.buf, "");
	char want[65];
	kp_sha256_hex(b.buf, b.len, want);
	assert_string_equal(sha, want);
	kp_buf_release(&b);
	kp_buf_release(&why);
}

static void test_snapshot_truncated(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT, why = KP_BUF_INIT;
	load("snapshot.db", &b);
	/* the last 100 bytes cut */
	assert_false(kp_etcd_snapshot_check((unsigned char *)b.buf, b.len - 100, NULL, &why));
	assert_non_null(strstr(why.buf, "truncated"));
	/* cut exactly at a sector, trailer gone: a whole number of sectors is
	 * still not a database plus a trailer */
	kp_buf_reset(&why);
	assert_false(kp_etcd_snapshot_check((unsigned char *)b.buf, b.len - 32, NULL, &why));
	assert_non_null(strstr(why.buf, "truncated"));
	/* cut by a whole 512-byte sector: the size looks right, the hash does not */
	kp_buf_reset(&why);
	memmove(b.buf + b.len - 512 - 32, b.buf + b.len - 32, 32);
	assert_false(kp_etcd_snapshot_check((unsigned char *)b.buf, b.len - 512, NULL, &why));
	assert_non_null(strstr(why.buf, "corrupt"));
	kp_buf_reset(&why);
	assert_false(kp_etcd_snapshot_check((unsigned char *)b.buf, 100, NULL, &why));
	assert_non_null(strstr(why.buf, "truncated"));
	kp_buf_release(&b);
	kp_buf_release(&why);
}

static void test_snapshot_corrupt(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT, why = KP_BUF_INIT;
	load("snapshot.db", &b);
	b.buf[9000] ^= 0x01; /* one flipped bit in the data */
	assert_false(kp_etcd_snapshot_check((unsigned char *)b.buf, b.len, NULL, &why));
	assert_string_equal(why.buf, "corrupt: its SHA-256 trailer does not match its contents");
	b.buf[9000] ^= 0x01;
	b.buf[b.len - 1] ^= 0x80; /* ... or in the trailer */
	kp_buf_reset(&why);
	assert_false(kp_etcd_snapshot_check((unsigned char *)b.buf, b.len, NULL, &why));
	assert_non_null(strstr(why.buf, "corrupt"));
	b.buf[b.len - 1] ^= 0x80;
	b.buf[16] = 0; /* not a bbolt file */
	kp_buf_reset(&why);
	assert_false(kp_etcd_snapshot_check((unsigned char *)b.buf, b.len, NULL, &why));
	assert_non_null(strstr(why.buf, "not an etcd snapshot"));
	kp_buf_release(&b);
	kp_buf_release(&why);
}

static void test_snapshot_file(void **st)
{
	(void)st;
	struct kp_buf why = KP_BUF_INIT, err = KP_BUF_INIT;
	char sha[65];
	int64_t size;
	bool good;
	assert_int_equal(kp_etcd_snapshot_check_file(KP_TEST_DATA "/etcd/snapshot.db", &size, sha,
						     &good, &why, &err),
			 KP_OK);
	assert_true(good);
	assert_int_equal(size, 20512);
	assert_int_equal(kp_etcd_snapshot_check_file(KP_TEST_DATA "/etcd/nope.db", &size, sha,
						     &good, &why, &err),
			 KP_ERR_NOTFOUND);
	assert_non_null(strstr(err.buf, "nope.db"));
	kp_buf_release(&why);
	kp_buf_release(&err);
}

static void test_members(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_etcd_member *m;
	size_t n;
	uint64_t cid;
	char id[17];
	load("member-list.json", &b);
	assert_int_equal(kp_etcd_parse_members(b.buf, &m, &n, &cid, &err), KP_OK);
	assert_int_equal(n, 3);
	assert_true(cid == 12325854915091825537ull);
	/* above 2^53: a double would have lost the last digits */
	assert_true(m[1].id == 10834591027842073771ull);
	kp_etcd_member_id(&m[0], id);
	assert_string_equal(id, "ad14fc1d0863316"); /* as etcdctl prints it */
	kp_etcd_member_id(&m[1], id);
	assert_string_equal(id, "965c3322bd2944ab");
	assert_string_equal(m[2].name, "k8s-master-2");
	assert_int_equal(m[2].npeer, 1);
	assert_string_equal(m[2].peer_urls[0], "https://127.102.130.2:2380");
	assert_string_equal(m[2].client_urls[0], "https://127.102.130.2:2379");
	assert_true(m[0].started);

	assert_int_equal(kp_etcd_find_member(m, n, "k8s-master-3"), 0);
	assert_int_equal(kp_etcd_find_member(m, n, "https://127.102.130.1:2380"), 1);
	assert_int_equal(kp_etcd_find_member(m, n, "https://127.102.130.1:2380/"), 1);
	assert_int_equal(kp_etcd_find_member(m, n, "a9daa4dbdb54484b"), 2);
	assert_int_equal(kp_etcd_find_member(m, n, "k8s-master-9"), -1);
	/* a client URL is not a peer URL */
	assert_int_equal(kp_etcd_find_member(m, n, "https://127.102.130.1:2379"), -1);
	kp_etcd_members_free(m, n);

	kp_buf_reset(&b);
	load("member-list-unstarted.json", &b);
	assert_int_equal(kp_etcd_parse_members(b.buf, &m, &n, NULL, &err), KP_OK);
	assert_int_equal(n, 3);
	assert_false(m[2].started);
	assert_string_equal(m[2].name, "");
	assert_true(m[2].id == UINT64_MAX);
	assert_int_equal(m[2].nclient, 0);
	assert_int_equal(kp_etcd_find_member(m, n, "https://127.102.130.3:2380"), 2);
	/* an unnamed member is not found by the empty name */
	assert_int_equal(kp_etcd_find_member(m, n, ""), -1);
	kp_etcd_members_free(m, n);

	assert_int_equal(kp_etcd_parse_members("{\"header\":{}}", &m, &n, NULL, &err),
			 KP_ERR_PARSE);
	assert_int_equal(
	    kp_etcd_parse_members("Error: context deadline exceeded", &m, &n, NULL, &err),
	    KP_ERR_PARSE);
	kp_buf_release(&b);
	kp_buf_release(&err);
}

static void test_health(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_value *h;
	load("health.json", &b);
	assert_int_equal(kp_etcd_parse_health(b.buf, &h, &err), KP_OK);
	assert_true(kp_value_truthy(kp_map_get(h, "https://127.102.130.1:2379")));
	assert_false(kp_value_truthy(kp_map_get(h, "https://127.102.130.3:2379")));
	kp_value_unref(h);
	assert_int_equal(kp_etcd_parse_health("no json here", &h, &err), KP_ERR_PARSE);
	kp_buf_release(&b);
	kp_buf_release(&err);
}

static void test_quorum(void **st)
{
	(void)st;
	struct kp_buf why = KP_BUF_INIT;
	assert_int_equal(kp_etcd_quorum(1), 1);
	assert_int_equal(kp_etcd_quorum(2), 2);
	assert_int_equal(kp_etcd_quorum(3), 2);
	assert_int_equal(kp_etcd_quorum(4), 3);
	assert_int_equal(kp_etcd_quorum(5), 3);
	/* 3 members, one dead: removing the dead one is fine */
	assert_null(kp_etcd_remove_check(3, 2, false, &why));
	/* ... removing a healthy one leaves 1 of 2: lost */
	assert_non_null(kp_etcd_remove_check(3, 2, true, &why));
	assert_non_null(strstr(why.buf, "would lose quorum"));
	/* all healthy: any one may go */
	kp_buf_reset(&why);
	assert_null(kp_etcd_remove_check(3, 3, true, &why));
	assert_null(kp_etcd_remove_check(5, 4, true, &why));
	assert_non_null(kp_etcd_remove_check(5, 3, true, &why));
	/* quorum already lost: no member change can be committed */
	kp_buf_reset(&why);
	assert_non_null(kp_etcd_remove_check(3, 1, false, &why));
	assert_non_null(strstr(why.buf, "lost quorum already"));
	/* the last member */
	assert_null(kp_etcd_remove_check(1, 1, true, &why));
	kp_buf_release(&why);
}

/* The restore command lines, word by word: etcd >= 3.5's `etcdutl snapshot
 * restore` and 3.4's `etcdctl snapshot restore` take the same flags
 * (op-guide/recovery.md: --name, --initial-cluster, --initial-cluster-token,
 * --initial-advertise-peer-urls, --data-dir), and neither gets
 * --skip-hash-check: both verify the snapshot's hash. etcdutl's own page
 * (etcd-io/etcd etcdutl/README.md, "SNAPSHOT RESTORE [options] <filename>")
 * lists data-dir, wal-dir, initial-cluster, initial-cluster-token,
 * initial-advertise-peer-urls, name, skip-hash-check ("Ignore snapshot
 * integrity hash value (required if copied from data directory)"),
 * bump-revision and mark-compacted, with the snapshot file first in its
 * example: `etcdutl snapshot restore snapshot.db --initial-cluster-token …`. */
static void test_restore_cmd(void **st)
{
	(void)st;
	const char *ic =
	    "m1=https://10.0.0.1:2380,m2=https://10.0.0.2:2380,m3=https://10.0.0.3:2380";
	const char *flags[] = {"--data-dir=/var/lib/etcd new", "--name=m2", NULL,
			       "--initial-cluster-token=tok",
			       "--initial-advertise-peer-urls=https://10.0.0.2:2380"};
	struct kp_buf icf = KP_BUF_INIT;
	kp_buf_addf(&icf, "--initial-cluster=%s", ic);
	flags[2] = icf.buf;
	const char *tools[] = {"etcdutl", "etcdctl"};
	for (size_t t = 0; t < 2; t++) {
		struct kp_buf cmd = KP_BUF_INIT, err = KP_BUF_INIT;
		char **argv = NULL;
		kp_etcd_restore_cmd(tools[t], "/var/backups/kplan/snap shot.db",
				    "/var/lib/etcd new", "m2", ic, "tok", "https://10.0.0.2:2380",
				    &cmd);
		assert_int_equal(kp_mod_split_words(cmd.buf, &argv, &err), KP_OK);
		size_t i = 0;
		if (t == 1)
			assert_string_equal(argv[i++], "ETCDCTL_API=3");
		assert_string_equal(argv[i++], tools[t]);
		assert_string_equal(argv[i++], "snapshot");
		assert_string_equal(argv[i++], "restore");
		assert_string_equal(argv[i++], "/var/backups/kplan/snap shot.db");
		for (size_t f = 0; f < KP_ARRAY_LEN(flags); f++)
			assert_string_equal(argv[i++], flags[f]);
		assert_null(argv[i]);
		assert_null(strstr(cmd.buf, "skip-hash-check"));
		kp_mod_free_words(argv);
		kp_buf_release(&cmd);
		kp_buf_release(&err);
	}
	/* unset values leave their flag out */
	struct kp_buf cmd = KP_BUF_INIT;
	kp_etcd_restore_cmd("etcdctl", "/s.db", "/d", NULL, "", NULL, NULL, &cmd);
	assert_null(strstr(cmd.buf, "--name"));
	assert_null(strstr(cmd.buf, "--initial"));
	kp_buf_release(&cmd);
	kp_buf_release(&icf);
}

static void test_initial_cluster_size(void **st)
{
	(void)st;
	assert_int_equal(kp_etcd_initial_cluster_size(NULL), 0);
	assert_int_equal(kp_etcd_initial_cluster_size(""), 0);
	assert_int_equal(kp_etcd_initial_cluster_size("m=https://a:2380"), 1);
	assert_int_equal(
	    kp_etcd_initial_cluster_size("a=https://a:2380,b=https://b:2380,c=https://c:2380"), 3);
	/* a member with two peer URLs is listed twice under one name */
	assert_int_equal(kp_etcd_initial_cluster_size("a=https://a:2380,a=https://a2:2380"), 2);
}

/* The line of etcd's log that says why it stopped. */
static void test_log_reason(void **st)
{
	(void)st;
	const char *info =
	    "2026-12-07 16:40:10.989505 I | embed: serving client requests on 127.0.0.1:2379";
	const char *err =
	    "2026-12-07 16:40:11.000000 E | rafthttp: failed to dial 4f907c1049b44906";
	const char *crit = "2026-12-07 16:40:12.000000 C | etcdmain: listen tcp 127.0.0.3:2380: "
			   "bind: address already in use";
	const char *pan = "panic: tocommit(10) is out of range [lastIndex(3)]. Was the raft log "
			  "corrupted, truncated, or lost?";
	const char *zap = "{\"level\":\"fatal\",\"msg\":\"discovery failed\"}";
	struct {
		const char *log[4];
		const char *want;
	} cases[] = {
	    {{info, crit, info, NULL}, crit},
	    {{info, err, info, NULL}, err},
	    {{err, pan, "goroutine 1 [running]:", NULL}, pan},
	    {{info, zap, info, NULL}, zap},
	    {{info, NULL}, info},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(cases); i++) {
		struct kp_buf log = KP_BUF_INIT, out = KP_BUF_INIT;
		for (size_t j = 0; cases[i].log[j]; j++)
			kp_buf_addf(&log, "%s\n\n", cases[i].log[j]);
		kp_etcd_log_reason(log.buf, &out);
		assert_string_equal(out.buf, cases[i].want);
		kp_buf_release(&log);
		kp_buf_release(&out);
	}
	struct kp_buf out = KP_BUF_INIT;
	kp_etcd_log_reason("", &out);
	assert_string_equal(out.buf, "");
	kp_buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_snapshot_good),
	    cmocka_unit_test(test_snapshot_truncated),
	    cmocka_unit_test(test_snapshot_corrupt),
	    cmocka_unit_test(test_snapshot_file),
	    cmocka_unit_test(test_members),
	    cmocka_unit_test(test_health),
	    cmocka_unit_test(test_quorum),
	    cmocka_unit_test(test_restore_cmd),
	    cmocka_unit_test(test_initial_cluster_size),
	    cmocka_unit_test(test_log_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
