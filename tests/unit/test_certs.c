/* test_certs.c - pki.c: what a file holds, certificate subject, issuer,
 * SANs and dates through OpenSSL, key/certificate matching, days left. The
 * fixtures in tests/data/pki were made with openssl (server.crt valid
 * 2024-01-01 .. 2124-01-01, expired.crt 2020-01-01 .. 2020-02-01). */
#include "unit.h"
#include "modules/module.h"

static void load(const char *name, struct kp_buf *b)
{
	struct kp_buf path = KP_BUF_INIT, err = KP_BUF_INIT;
	kp_buf_reset(b);
	kp_buf_addf(&path, "%s/pki/%s", KP_TEST_DATA, name);
	assert_int_equal(kp_read_file(path.buf, 0, b, &err), KP_OK);
	kp_buf_release(&path);
	kp_buf_release(&err);
}

static void test_classify(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT;
	load("server.crt", &b);
	assert_int_equal(kp_pki_classify(b.buf, b.len), KP_PKI_CERT);
	load("server.key", &b);
	assert_int_equal(kp_pki_classify(b.buf, b.len), KP_PKI_KEY);
	load("combined.pem", &b);
	assert_int_equal(kp_pki_classify(b.buf, b.len), KP_PKI_CERT | KP_PKI_KEY);
	load("server.pub", &b);
	assert_int_equal(kp_pki_classify(b.buf, b.len), KP_PKI_PUBKEY);
	const char *kc = "users:\n- name: a\n  user:\n    client-key-data: AAAA\n";
	assert_int_equal(kp_pki_classify(kc, strlen(kc)), KP_PKI_KEY);
	assert_int_equal(kp_pki_classify("hello", 5), 0);
	kp_buf_release(&b);
}

static void test_cert_info(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT, err = KP_BUF_INIT, t = KP_BUF_INIT;
	struct kp_cert_info ci;
	load("server.crt", &b);
	assert_int_equal(kp_pki_cert_info(b.buf, b.len, &ci, &err), KP_OK);
	assert_string_equal(ci.subject, "O=kplan,CN=kube-apiserver");
	assert_string_equal(ci.issuer, "CN=test-ca");
	assert_int_equal(ci.nsans, 4);
	assert_string_equal(ci.sans[0], "DNS:kubernetes");
	assert_string_equal(ci.sans[1], "DNS:k8s-master");
	assert_string_equal(ci.sans[2], "IP:10.96.0.1");
	assert_string_equal(ci.sans[3], "IP:127.0.0.1");
	kp_pki_time_text(ci.not_after, &t);
	assert_string_equal(t.buf, "2124-01-01T00:00:00Z");
	kp_buf_reset(&t);
	kp_pki_time_text(ci.not_before, &t);
	assert_string_equal(t.buf, "2024-01-01T00:00:00Z");
	assert_false(ci.ca);
	kp_cert_info_release(&ci);

	load("ca.crt", &b);
	assert_int_equal(kp_pki_cert_info(b.buf, b.len, &ci, &err), KP_OK);
	assert_true(ci.ca);
	assert_int_equal(ci.nsans, 0);
	kp_cert_info_release(&ci);

	/* the certificate of a combined file (kubelet-client-current.pem) */
	load("combined.pem", &b);
	assert_int_equal(kp_pki_cert_info(b.buf, b.len, &ci, &err), KP_OK);
	assert_string_equal(ci.subject, "O=kplan,CN=kube-apiserver");
	kp_cert_info_release(&ci);

	load("server.key", &b);
	assert_int_equal(kp_pki_cert_info(b.buf, b.len, &ci, &err), KP_ERR_PARSE);
	/* the message never quotes the file */
	assert_null(strstr(err.buf, "BEGIN"));
	kp_buf_release(&b);
	kp_buf_release(&err);
	kp_buf_release(&t);
}

static void test_expiry(void **st)
{
	(void)st;
	struct kp_buf b = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_cert_info ci;
	load("expired.crt", &b);
	assert_int_equal(kp_pki_cert_info(b.buf, b.len, &ci, &err), KP_OK);
	int64_t feb1 = 1580515200; /* 2020-02-01T00:00:00Z */
	assert_int_equal(ci.not_after, feb1);
	assert_int_equal(kp_pki_days_left(ci.not_after, feb1 - 10 * 86400), 10);
	assert_int_equal(kp_pki_days_left(ci.not_after, feb1 - 10 * 86400 + 1), 9);
	assert_int_equal(kp_pki_days_left(ci.not_after, feb1), 0);
	assert_int_equal(kp_pki_days_left(ci.not_after, feb1 + 1), -1);
	assert_int_equal(kp_pki_days_left(ci.not_after, feb1 + 86400), -1);
	assert_int_equal(kp_pki_days_left(ci.not_after, feb1 + 86401), -2);
	kp_cert_info_release(&ci);
	kp_buf_release(&b);
	kp_buf_release(&err);
}

static void test_key_match(void **st)
{
	(void)st;
	struct kp_buf c = KP_BUF_INIT, k = KP_BUF_INIT, err = KP_BUF_INIT;
	bool match;
	load("server.crt", &c);
	load("server.key", &k);
	assert_int_equal(kp_pki_key_matches_cert(c.buf, c.len, k.buf, k.len, &match, &err), KP_OK);
	assert_true(match);
	load("other.key", &k);
	assert_int_equal(kp_pki_key_matches_cert(c.buf, c.len, k.buf, k.len, &match, &err), KP_OK);
	assert_false(match);
	load("expired.key", &k);
	assert_int_equal(kp_pki_key_matches_cert(c.buf, c.len, k.buf, k.len, &match, &err), KP_OK);
	assert_false(match);
	/* a combined file holds both */
	load("combined.pem", &c);
	assert_int_equal(kp_pki_key_matches_cert(c.buf, c.len, c.buf, c.len, &match, &err), KP_OK);
	assert_true(match);
	/* sa.key / sa.pub */
	load("server.pub", &c);
	load("server.key", &k);
	assert_int_equal(kp_pki_key_matches_pub(c.buf, c.len, k.buf, k.len, &match, &err), KP_OK);
	assert_true(match);
	load("other.key", &k);
	assert_int_equal(kp_pki_key_matches_pub(c.buf, c.len, k.buf, k.len, &match, &err), KP_OK);
	assert_false(match);
	/* not a key: an error that quotes nothing of the file */
	load("server.crt", &c);
	assert_int_equal(kp_pki_key_matches_cert(c.buf, c.len, c.buf, c.len, &match, &err),
			 KP_ERR_PARSE);
	assert_null(strstr(err.buf, "BEGIN"));
	kp_buf_release(&c);
	kp_buf_release(&k);
	kp_buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_cert_info),
	    cmocka_unit_test(test_expiry),
	    cmocka_unit_test(test_key_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
