/* test_setup.c - facts from the gathering command's output, by Ansible's
 * rules (ansible-core 2.14's collectors), on outputs no test machine has:
 * two sockets with hyper-threading, a secondary address, a zone with
 * summer time, Ubuntu. */
#include "unit.h"
#include "modules/setup.h"

static struct kp_value *parse(const char *out, bool hw, bool net, const struct kp_value *filter)
{
	struct kp_facts_want w = {.hardware = hw, .network = net};
	return kp_facts_parse(out, strlen(out), &w, filter);
}

static const char *str(const struct kp_value *m, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	const struct kp_value *v = m;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		v = v && v->type == KP_V_MAP ? kp_map_get(v, k) : NULL;
	return v && v->type == KP_V_STR ? v->u.str.s : NULL;
}

static int64_t num(const struct kp_value *m, const char *key)
{
	const struct kp_value *v = kp_map_get(m, key);
	assert_non_null(v);
	assert_int_equal(v->type, KP_V_INT);
	return v->u.i;
}

static void test_cpus(void **state)
{
	(void)state;
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, "@@uname\nLinux\n6.1.0\n#1 SMP\nx86_64\nnode1.example.org\n@@cpuinfo\n");
	for (int i = 0; i < 8; i++)
		kp_buf_addf(&b,
			    "processor\t: %d\nvendor_id\t: GenuineIntel\nmodel name\t: Xeon\n"
			    "physical id\t: %d\nsiblings\t: 4\ncore id\t\t: %d\ncpu cores\t: 2\n\n",
			    i, i / 4, (i / 2) % 2);
	kp_buf_addstr(&b, "@@meminfo\nMemTotal:       8000000 kB\nMemFree:         100000 kB\n");
	struct kp_value *f = parse(b.buf, true, false, NULL);
	/* two sockets of two cores, two threads each */
	assert_int_equal(num(f, "ansible_processor_count"), 2);
	assert_int_equal(num(f, "ansible_processor_cores"), 2);
	assert_int_equal(num(f, "ansible_processor_threads_per_core"), 2);
	assert_int_equal(num(f, "ansible_processor_vcpus"), 8);
	assert_int_equal(num(f, "ansible_memtotal_mb"), 7812);
	assert_int_equal(num(f, "ansible_memfree_mb"), 97);
	assert_string_equal(str(f, "ansible_hostname"), "node1");
	assert_string_equal(str(f, "ansible_nodename"), "node1.example.org");
	/* no address for the name: the name itself, its domain after the dot */
	assert_string_equal(str(f, "ansible_fqdn"), "node1.example.org");
	assert_string_equal(str(f, "ansible_domain"), "example.org");
	kp_value_unref(f);
	kp_buf_release(&b);
}

static void test_network(void **state)
{
	(void)state;
	const char *out =
	    "@@route4\n8.8.8.8 via 10.0.0.1 dev ens3 src 10.0.0.5 uid 0\n"
	    "@@route6\n"
	    "@@if lo\naddress=00:00:00:00:00:00\nmtu=65536\noperstate=unknown\ntype=772\n"
	    "P 1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n"
	    "P     inet 127.0.0.1/8 scope host lo\n"
	    "P     inet6 ::1/128 scope host\n"
	    "@@if ens3\naddress=52:54:00:12:34:56\nmtu=1500\noperstate=up\ntype=1\nflags=0x1103\n"
	    "P 2: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n"
	    "P     inet 10.0.0.5/24 brd 10.0.0.255 scope global ens3\n"
	    "P     inet6 fe80::5054:ff:fe12:3456/64 scope link\n"
	    "S     inet 10.0.0.6/24 brd 10.0.0.255 scope global secondary ens3\n";
	struct kp_value *f = parse(out, false, true, NULL);
	const struct kp_value *d4 = kp_map_get(f, "ansible_default_ipv4");
	assert_string_equal(str(d4, "address"), "10.0.0.5");
	assert_string_equal(str(d4, "gateway"), "10.0.0.1");
	assert_string_equal(str(d4, "interface"), "ens3");
	assert_string_equal(str(d4, "alias"), "ens3");
	assert_string_equal(str(d4, "netmask"), "255.255.255.0");
	assert_string_equal(str(d4, "network"), "10.0.0.0");
	assert_string_equal(str(d4, "broadcast"), "10.0.0.255");
	assert_string_equal(str(d4, "prefix"), "24");
	assert_string_equal(str(d4, "macaddress"), "52:54:00:12:34:56");
	assert_string_equal(str(d4, "type"), "ether");
	assert_int_equal(num(d4, "mtu"), 1500);
	/* no IPv6 route: an empty dict */
	assert_int_equal(kp_map_len(kp_map_get(f, "ansible_default_ipv6")), 0);
	const struct kp_value *all4 = kp_map_get(f, "ansible_all_ipv4_addresses");
	assert_int_equal(kp_list_len(all4), 2); /* not 127.x */
	assert_string_equal(kp_list_at(all4, 0)->u.str.s, "10.0.0.5");
	assert_string_equal(kp_list_at(all4, 1)->u.str.s, "10.0.0.6");
	const struct kp_value *all6 = kp_map_get(f, "ansible_all_ipv6_addresses");
	assert_int_equal(kp_list_len(all6), 1); /* not ::1 */
	const struct kp_value *ens3 = kp_map_get(f, "ansible_ens3");
	assert_true(kp_map_get(ens3, "promisc")->u.b);
	assert_true(kp_map_get(ens3, "active")->u.b);
	const struct kp_value *sec = kp_map_get(ens3, "ipv4_secondaries");
	assert_int_equal(kp_list_len(sec), 1);
	assert_string_equal(str(kp_list_at(sec, 0), "address"), "10.0.0.6");
	const struct kp_value *lo = kp_map_get(f, "ansible_lo");
	assert_null(kp_map_get(lo, "macaddress")); /* all zeros: none */
	assert_string_equal(str(lo, "type"), "loopback");
	const struct kp_value *names = kp_map_get(f, "ansible_interfaces");
	assert_int_equal(kp_list_len(names), 2);
	assert_string_equal(kp_list_at(names, 0)->u.str.s, "ens3");
	kp_value_unref(f);
}

static void test_date_and_distribution(void **state)
{
	(void)state;
	const char *out = "@@date\n1700000000 123456789 +0100 CET\nCET\nCEST\n"
			  "@@os-release\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\n"
			  "VERSION=\"22.04.3 LTS (Jammy Jellyfish)\"\nID=ubuntu\n"
			  "VERSION_CODENAME=jammy\n"
			  "@@lsb-release\nDISTRIB_ID=Ubuntu\nDISTRIB_RELEASE=22.04\n"
			  "DISTRIB_CODENAME=jammy\nDISTRIB_DESCRIPTION=\"Ubuntu 22.04.3 LTS\"\n"
			  "@@pkg_mgr\napt\n@@service_mgr\ncomm=systemd\n";
	struct kp_value *f = parse(out, false, false, NULL);
	const struct kp_value *dt = kp_map_get(f, "ansible_date_time");
	/* 2023-11-14T22:13:20Z, 23:13:20 on the node */
	assert_string_equal(str(dt, "iso8601"), "2023-11-14T22:13:20Z");
	assert_string_equal(str(dt, "iso8601_micro"), "2023-11-14T22:13:20.123456Z");
	assert_string_equal(str(dt, "iso8601_basic"), "20231114T231320123456");
	assert_string_equal(str(dt, "hour"), "23");
	assert_string_equal(str(dt, "weekday"), "Tuesday");
	assert_string_equal(str(dt, "weekday_number"), "2");
	assert_string_equal(str(dt, "weeknumber"), "46");
	assert_string_equal(str(dt, "epoch"), "1700000000");
	assert_string_equal(str(dt, "tz"), "CET");
	assert_string_equal(str(dt, "tz_dst"), "CEST");
	assert_string_equal(str(dt, "tz_offset"), "+0100");
	assert_string_equal(str(f, "ansible_distribution"), "Ubuntu");
	assert_string_equal(str(f, "ansible_distribution_version"), "22.04");
	assert_string_equal(str(f, "ansible_distribution_major_version"), "22");
	assert_string_equal(str(f, "ansible_distribution_release"), "jammy");
	assert_string_equal(str(f, "ansible_os_family"), "Debian");
	assert_string_equal(str(f, "ansible_pkg_mgr"), "apt");
	assert_string_equal(str(f, "ansible_service_mgr"), "systemd");
	assert_string_equal(str(f, "ansible_lsb.major_release"), "22");
	assert_string_equal(str(f, "ansible_lsb.description"), "Ubuntu 22.04.3 LTS");
	kp_value_unref(f);
}

static void test_subset_and_filter(void **state)
{
	(void)state;
	struct kp_facts_want w;
	kp_facts_want_parse(NULL, &w);
	assert_true(w.hardware && w.network);
	struct kp_value *s = kp_value_str("!all");
	kp_facts_want_parse(s, &w);
	assert_false(w.hardware || w.network);
	kp_value_unref(s);
	s = kp_value_str("!hardware");
	kp_facts_want_parse(s, &w);
	assert_true(!w.hardware && w.network);
	kp_value_unref(s);
	s = kp_value_list();
	kp_list_push_take(s, kp_value_str("network"));
	kp_facts_want_parse(s, &w);
	assert_true(!w.hardware && w.network);
	kp_value_unref(s);

	struct kp_value *flt = kp_value_str("ansible_distribution*");
	struct kp_value *f =
	    parse("@@os-release\nID=debian\nVERSION_ID=\"12\"\n", false, false, flt);
	assert_string_equal(str(f, "ansible_distribution"), "Debian");
	assert_non_null(kp_map_get(f, "ansible_distribution_major_version"));
	assert_null(kp_map_get(f, "ansible_os_family"));
	kp_value_unref(f);
	kp_value_unref(flt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpus),
	    cmocka_unit_test(test_network),
	    cmocka_unit_test(test_date_and_distribution),
	    cmocka_unit_test(test_subset_and_filter),
	};
	return cmocka_run_group_tests_name("setup", tests, NULL, NULL);
}
