/* test_etcd.c - etcdutil.c: snapshot trailer checks (a real snapshot, cut
 * and corrupted), member list parsing with exact 64-bit IDs, finding a
 * member by name, hex ID or peer URL, health output and quorum arithmetic. */
#include "unit.h"
#include "modules/module.h"
#include "transport/transport.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_snapshot_good),    cmocka_unit_test(test_snapshot_truncated),
	    cmocka_unit_test(test_snapshot_corrupt), cmocka_unit_test(test_snapshot_file),
	    cmocka_unit_test(test_members),	     cmocka_unit_test(test_health),
	    cmocka_unit_test(test_quorum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
