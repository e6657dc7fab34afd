/*
 * ipaddr.c - the ipaddr family of ansible.utils (also reached as
 * ansible.netcommon.* and plain ipaddr): ipaddr(query) with the queries
 * playbooks use (address, net, network, netmask, prefix, size, broadcast,
 * host, cidr, wrap, the n-th address, validation), ipv4, ipv6, ipwrap.
 * An address or network is what Python's netaddr.IPNetwork makes of the
 * text; False and None come back where ansible.utils gives them.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/jinja/jlib.h"

struct ipnet {
	int version; /* 4 or 6 */
	unsigned char ip[16];
	int prefix;
	bool has_prefix; /* the text had "/n": a network, else an address */
};

static int width(const struct ipnet *n)
{
	return n->version == 4 ? 32 : 128;
}

static int nbytes(const struct ipnet *n)
{
	return n->version == 4 ? 4 : 16;
}

static bool parse_net(const char *s, struct ipnet *n)
{
	char buf[128];
	memset(n, 0, sizeof *n);
	if (strlen(s) >= sizeof buf)
		return false;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = 0;
	if (inet_pton(AF_INET, buf, n->ip) == 1)
		n->version = 4;
	else if (inet_pton(AF_INET6, buf, n->ip) == 1)
		n->version = 6;
	else
		return false;
	n->prefix = width(n);
	if (slash) {
		const char *p = slash + 1;
		unsigned char mask[16];
		n->has_prefix = true;
		if (*p && strspn(p, "0123456789") == strlen(p) && strlen(p) < 4) {
			n->prefix = atoi(p);
			if (n->prefix > width(n))
				return false;
		} else if (n->version == 4 && inet_pton(AF_INET, p, mask) == 1) {
			/* a netmask: contiguous ones */
			uint32_t m = (uint32_t)mask[0] << 24 | (uint32_t)mask[1] << 16 |
				     (uint32_t)mask[2] << 8 | mask[3];
			int ones = 0;
			while (ones < 32 && (m & (0x80000000u >> ones)))
				ones++;
			if (ones < 32 && (m << ones))
				return false;
			n->prefix = ones;
		} else {
			return false;
		}
	}
	return true;
}

static void fmt_ip(int version, const unsigned char *ip, struct kp_buf *b)
{
	char s[INET6_ADDRSTRLEN];
	inet_ntop(version == 4 ? AF_INET : AF_INET6, ip, s, sizeof s);
	kp_buf_addstr(b, s);
}

/* The network address (host bits cleared) or the last one (set). */
static void edge(const struct ipnet *n, bool last, unsigned char *out)
{
	for (int i = 0; i < nbytes(n); i++) {
		int bits = n->prefix - 8 * i;
		unsigned char m = bits >= 8   ? 0xff
				  : bits <= 0 ? 0
					      : (unsigned char)(0xff << (8 - bits));
		out[i] = last ? (unsigned char)(n->ip[i] | ~m) : (unsigned char)(n->ip[i] & m);
	}
}

static void netmask(const struct ipnet *n, unsigned char *out)
{
	for (int i = 0; i < nbytes(n); i++) {
		int bits = n->prefix - 8 * i;
		out[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : (unsigned char)(0xff << (8 - bits));
	}
}

static bool ip_is_network(const struct ipnet *n)
{
	unsigned char net[16];
	edge(n, false, net);
	return !memcmp(net, n->ip, (size_t)nbytes(n));
}

/* v.size, or -1 when it does not fit */
static int64_t size_of(const struct ipnet *n)
{
	int host = width(n) - n->prefix;
	return host >= 63 ? -1 : (int64_t)1 << host;
}

static struct kp_value *str_ip(int version, const unsigned char *ip, int prefix)
{
	struct kp_buf b = KP_BUF_INIT;
	fmt_ip(version, ip, &b);
	if (prefix >= 0)
		kp_buf_addf(&b, "/%d", prefix);
	size_t len;
	char *s = kp_buf_detach(&b, &len);
	return kp_value_str_take(s, len);
}

/* first + k (k >= 0) or last + k + 1 (k < 0); false when outside */
static bool nth(const struct ipnet *n, int64_t k, unsigned char *out)
{
	int64_t size = size_of(n);
	if (size >= 0 && (k >= size || -k > size))
		return false;
	edge(n, k < 0, out);
	int64_t add = k < 0 ? k + 1 : k;
	/* add a signed 64-bit offset to a big-endian number */
	int carry = 0;
	uint64_t mag = add < 0 ? (uint64_t)(-(add + 1)) + 1 : (uint64_t)add;
	for (int i = nbytes(n) - 1; i >= 0; i--) {
		int d = (int)(mag & 0xff);
		mag >>= 8;
		int v = add < 0 ? out[i] - d - carry : out[i] + d + carry;
		carry = add < 0 ? v < 0 : v > 0xff;
		out[i] = (unsigned char)(v & 0xff);
	}
	return true;
}

/* a + delta (big-endian, wrapping) */
static void add_delta(const unsigned char *a, int nb, int delta, unsigned char *out)
{
	int carry = delta;
	for (int i = nb - 1; i >= 0; i--) {
		int v = a[i] + carry;
		out[i] = (unsigned char)(v & 0xff);
		carry = v >> 8; /* arithmetic shift keeps the borrow */
	}
}

/* First and last usable address (Ansible's _first_last); false for a
 * single address. */
static bool first_last(const struct ipnet *n, unsigned char *first, unsigned char *last)
{
	int64_t size = size_of(n);
	if (size == 1)
		return false;
	edge(n, false, first);
	edge(n, true, last);
	if (size != 2) {
		add_delta(first, nbytes(n), 1, first);
		add_delta(last, nbytes(n), -1, last);
	}
	return true;
}

static struct kp_value *str_two(int version, const unsigned char *a, const char *sep,
				const unsigned char *b)
{
	struct kp_buf buf = KP_BUF_INIT;
	fmt_ip(version, a, &buf);
	kp_buf_addstr(&buf, sep);
	fmt_ip(version, b, &buf);
	struct kp_value *v = kp_value_str(buf.buf);
	kp_buf_release(&buf);
	return v;
}

static kp_rc ipaddr_one(struct kp_jctx *cx, const struct kp_value *value, const struct kp_value *q,
			int version, const char *alias, struct kp_value **out);

static kp_rc ipaddr_any(struct kp_jctx *cx, const struct kp_value *value, const struct kp_value *q,
			int version, const char *alias, struct kp_value **out)
{
	if (value->type != KP_V_LIST)
		return ipaddr_one(cx, value, q, version, alias, out);
	/* each element with the query as text; the falsy answers dropped */
	struct kp_value *qs = q ? jl_strval(q) : NULL;
	struct kp_value *r = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(value) && !rc; i++) {
		struct kp_value *a;
		if (!(rc = ipaddr_any(cx, kp_list_at(value, i), qs, version, alias, &a))) {
			if (kp_jinja_truthy(a))
				kp_list_push_take(r, a);
			else
				kp_value_unref(a);
		}
	}
	if (qs)
		kp_value_unref(qs);
	if (rc) {
		kp_value_unref(r);
		return rc;
	}
	*out = r;
	return KP_OK;
}

static kp_rc ipaddr_one(struct kp_jctx *cx, const struct kp_value *value, const struct kp_value *q,
			int version, const char *alias, struct kp_value **out)
{
	struct ipnet n;
	if (!kp_jinja_truthy(value) || (value->type == KP_V_BOOL)) {
		*out = kp_value_bool(false);
		return KP_OK;
	}
	struct kp_value *vs = jl_strval(value);
	bool ok;
	if (vs->u.str.len && strspn(vs->u.str.s, "0123456789") == vs->u.str.len) {
		/* a number is an address */
		unsigned long long x = strtoull(vs->u.str.s, NULL, 10);
		memset(&n, 0, sizeof n);
		n.version = version == 6 || x > 0xffffffffull ? 6 : 4;
		n.prefix = width(&n);
		for (int i = nbytes(&n) - 1; i >= 0; i--, x >>= 8)
			n.ip[i] = (unsigned char)(x & 0xff);
		ok = true;
	} else {
		ok = parse_net(vs->u.str.s, &n);
	}
	if (!ok || (version && n.version != version)) {
		kp_value_unref(vs);
		*out = kp_value_bool(false);
		return KP_OK;
	}
	bool network = n.has_prefix;
	int64_t size = size_of(&n);
	unsigned char a[16];
	const char *query = "";
	if (q && q->type == KP_V_STR)
		query = q->u.str.s;
	kp_rc rc = KP_OK;
	*out = NULL;
	if (q && (q->type == KP_V_INT || q->type == KP_V_FLOAT)) {
		int64_t k = q->type == KP_V_INT ? q->u.i : (int64_t)q->u.f;
		if (size == 1)
			*out = str_ip(n.version, n.ip, network ? n.prefix : -1);
		else if (nth(&n, k, a))
			*out = str_ip(n.version, a, n.prefix);
		else
			*out = kp_value_bool(false);
	} else if (!*query) {
		*out = str_ip(n.version, n.ip, network ? n.prefix : -1);
	} else if (!strcmp(query, "address") || !strcmp(query, "ip")) {
		unsigned char last[16];
		edge(&n, true, last);
		bool has_bcast = width(&n) - n.prefix > 1;
		if (size == 1 || !ip_is_network(&n) || !has_bcast || n.version == 6)
			*out = str_ip(n.version, n.ip, -1);
	} else if (!strcmp(query, "net")) {
		if (size != 1 && ip_is_network(&n))
			*out = str_ip(n.version, n.ip, n.prefix);
	} else if (!strcmp(query, "network") || !strcmp(query, "network_id")) {
		edge(&n, false, a);
		*out = str_ip(n.version, a, -1);
	} else if (!strcmp(query, "netmask")) {
		netmask(&n, a);
		*out = str_ip(n.version, a, -1);
	} else if (!strcmp(query, "prefix")) {
		*out = kp_value_int(n.prefix);
	} else if (!strcmp(query, "size")) {
		if (size < 0)
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "%s: network too large for 'size'",
					  alias);
		else
			*out = kp_value_int(size);
	} else if (!strcmp(query, "broadcast")) {
		if (size < 0 || size > 2) {
			edge(&n, true, a);
			*out = str_ip(n.version, a, -1);
		}
	} else if (!strcmp(query, "host")) {
		if (size == 1 || !ip_is_network(&n) || width(&n) - n.prefix <= 1)
			*out = str_ip(n.version, n.ip, n.prefix);
	} else if (!strcmp(query, "address/prefix") || !strcmp(query, "gateway") ||
		   !strcmp(query, "gw") || !strcmp(query, "host/prefix") ||
		   !strcmp(query, "hostnet") || !strcmp(query, "router")) {
		unsigned char last[16];
		edge(&n, true, last);
		bool edge_ip = ip_is_network(&n) || !memcmp(last, n.ip, (size_t)nbytes(&n));
		*out = (size < 0 || size > 2) && edge_ip ? kp_value_bool(false)
							 : str_ip(n.version, n.ip, n.prefix);
	} else if (!strcmp(query, "ip/prefix") || !strcmp(query, "ip_netmask")) {
		if (size == 2 || (size != 1 && !ip_is_network(&n))) {
			if (!strcmp(query, "ip/prefix")) {
				*out = str_ip(n.version, n.ip, n.prefix);
			} else {
				netmask(&n, a);
				*out = str_two(n.version, n.ip, " ", a);
			}
		}
	} else if (!strcmp(query, "hostmask") || !strcmp(query, "wildcard")) {
		netmask(&n, a);
		for (int i = 0; i < nbytes(&n); i++)
			a[i] = (unsigned char)~a[i];
		*out = str_ip(n.version, a, -1);
	} else if (!strcmp(query, "network_netmask") || !strcmp(query, "network_wildcard")) {
		unsigned char m[16];
		edge(&n, false, a);
		netmask(&n, m);
		if (!strcmp(query, "network_wildcard"))
			for (int i = 0; i < nbytes(&n); i++)
				m[i] = (unsigned char)~m[i];
		*out = str_two(n.version, a, " ", m);
	} else if (!strcmp(query, "type")) {
		*out = kp_value_str(size == 1 || !ip_is_network(&n) ? "address" : "network");
	} else if (!strcmp(query, "size_usable")) {
		if (size < 0)
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "%s: network too large for 'size_usable'", alias);
		else
			*out = kp_value_int(size == 1 ? 0 : size == 2 ? 2 : size - 2);
	} else if (!strcmp(query, "first_usable") || !strcmp(query, "last_usable") ||
		   !strcmp(query, "next_usable") || !strcmp(query, "previous_usable") ||
		   !strcmp(query, "range_usable")) {
		unsigned char first[16], last[16];
		if (!network) {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "Not a network address");
		} else if (first_last(&n, first, last)) {
			int nb = nbytes(&n);
			if (!strcmp(query, "first_usable")) {
				edge(&n, false, a);
				if (size != 2)
					add_delta(a, nb, 1, a);
				*out = str_ip(n.version, a, -1);
			} else if (!strcmp(query, "last_usable")) {
				*out = str_ip(n.version, last, -1);
			} else if (!strcmp(query, "range_usable")) {
				*out = str_two(n.version, first, "-", last);
			} else {
				add_delta(n.ip, nb, !strcmp(query, "next_usable") ? 1 : -1, a);
				if (memcmp(a, first, (size_t)nb) >= 0 &&
				    memcmp(a, last, (size_t)nb) <= 0)
					*out = str_ip(n.version, a, -1);
			}
		}
	} else if (!strcmp(query, "cidr") || !strcmp(query, "subnet") ||
		   !strcmp(query, "network/prefix")) {
		if (!strcmp(query, "cidr"))
			*out = str_ip(n.version, n.ip, n.prefix);
		else {
			edge(&n, false, a);
			*out = str_ip(n.version, a, n.prefix);
		}
	} else if (!strcmp(query, "version")) {
		*out = kp_value_int(n.version);
	} else if (!strcmp(query, "wrap")) {
		if (n.version == 6) {
			struct kp_buf b = KP_BUF_INIT;
			kp_buf_addch(&b, '[');
			fmt_ip(6, n.ip, &b);
			kp_buf_addch(&b, ']');
			if (network)
				kp_buf_addf(&b, "/%d", n.prefix);
			*out = kp_value_str(b.buf);
			kp_buf_release(&b);
		} else {
			*out = kp_value_ref(value);
		}
	} else if (!strcmp(query, "bool")) {
		*out = kp_value_bool(true);
	} else if (!strcmp(query, "ipv4") || !strcmp(query, "v4")) {
		*out = n.version == 4 ? kp_value_ref(value) : kp_value_bool(false);
	} else {
		struct ipnet qn;
		if (parse_net(query, &qn)) {
			/* cidr_lookup: the value when it lies in the query's network */
			unsigned char qa[16], qb[16], va[16], vb[16];
			edge(&qn, false, qa);
			edge(&qn, true, qb);
			edge(&n, false, va);
			edge(&n, true, vb);
			bool in = qn.version == n.version && n.prefix >= qn.prefix &&
				  memcmp(va, qa, (size_t)nbytes(&n)) >= 0 &&
				  memcmp(vb, qb, (size_t)nbytes(&n)) <= 0;
			*out = in ? kp_value_ref(value) : NULL;
		} else {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "%s: unknown filter type: %s", alias,
					  query);
		}
	}
	kp_value_unref(vs);
	if (!rc && !*out)
		*out = kp_value_null();
	return rc;
}

/* ipaddr(query='', version=False) */
JF(ipaddr)
{
	int64_t version = 0;
	kp_rc rc = KP_OK;
	if (argv[1] && argv[1]->type != KP_V_BOOL)
		rc = jl_int(cx, argv[1], "version", 0, &version);
	if (rc)
		return rc;
	return ipaddr_any(cx, in, argv[0], (int)version, "ipaddr", out);
}

/* ipv4(query='') and ipv6(query='') */
JF(ipv4)
{
	return ipaddr_any(cx, in, argv[0], 4, "ipv4", out);
}

JF(ipv6)
{
	return ipaddr_any(cx, in, argv[0], 6, "ipv6", out);
}

/* ipwrap(query=''): IPv6 addresses in brackets, anything else as is */
JF(ipwrap)
{
	if (in->type == KP_V_LIST) {
		struct kp_value *r = kp_value_list();
		for (size_t i = 0; i < kp_list_len(in); i++) {
			struct kp_value *a;
			kp_rc rc = jf_ipwrap(cx, kp_list_at(in, i), argv, &a);
			if (rc) {
				kp_value_unref(r);
				return rc;
			}
			kp_list_push_take(r, a);
		}
		*out = r;
		return KP_OK;
	}
	struct kp_value *v;
	if (ipaddr_one(cx, in, argv[0], 0, "ipwrap", &v)) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	if (kp_jinja_truthy(v)) {
		struct kp_value *w = kp_value_str("wrap"), *r;
		kp_rc rc = ipaddr_one(cx, v, w, 0, "ipwrap", &r);
		kp_value_unref(w);
		kp_value_unref(v);
		*out = rc ? kp_value_ref(in) : r;
		return KP_OK;
	}
	kp_value_unref(v);
	*out = kp_value_ref(in);
	return KP_OK;
}
