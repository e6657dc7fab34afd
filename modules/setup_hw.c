/*
 * setup_hw.c - the hardware and network collectors of the setup module:
 * memory, processors, mounts, interfaces and default routes, parsed from
 * the sections of setup's one command by ansible-core 2.14's rules.
 */
#include "modules/module.h"
#include "modules/setup_int.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kp_facts_memory(struct kp_value *f, const char *out, size_t len)
{
	struct sect s = kp_facts_section(out, len, "meminfo");
	const char *l;
	size_t n;
	while (kp_facts_next_line(&s, &l, &n)) {
		long long kb;
		char key[32];
		if (sscanf(l, "%31[^:]: %lld", key, &kb) != 2)
			continue;
		if (!strcmp(key, "MemTotal") || !strcmp(key, "MemFree") ||
		    !strcmp(key, "SwapTotal") || !strcmp(key, "SwapFree")) {
			char name[64];
			snprintf(name, sizeof(name), "ansible_%s_mb", key);
			for (char *c = name; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			kp_map_set_take(f, name, kp_value_int(kb / 1024));
		}
	}
}

/* get_cpu_facts on x86 and the others (not s390x), as Ansible counts. */
void kp_facts_cpu(struct kp_value *f, const char *out, size_t len)
{
	struct sect s = kp_facts_section(out, len, "cpuinfo");
	struct sect x = kp_facts_section(out, len, "xen");
	bool xen = x.n > 0 && (kp_facts_has_line(x, "xen"));
	bool paravirt = false;
	int64_t i = 0, vendor = 0, model = 0, procs = 0;
	/* sockets and cores: insertion-ordered maps of (id, value) */
	char *sk[256], *ck[256];
	int64_t sv[256], cv[256];
	size_t ns = 0, nc = 0;
	char *physid = kp_xstrdup("0"), *coreid = kp_xstrdup("0");
	bool phys_is_int = true, core_is_int = true; /* Python's initial 0, not "0" */
	const char *l;
	size_t n;
	struct kp_value *proc = kp_value_list();
	while (kp_facts_next_line(&s, &l, &n)) {
		const char *colon = memchr(l, ':', n);
		char *key = kp_facts_trim(kp_xstrndup(l, colon ? (size_t)(colon - l) : n));
		char *val = colon
				? kp_facts_trim(kp_xstrndup(colon + 1, (size_t)(l + n - colon - 1)))
				: kp_xstrdup("");
		if (xen && !strcmp(key, "flags") && !strstr(val, "vme"))
			paravirt = true;
		if (!strcmp(key, "model name") || !strcmp(key, "Processor") ||
		    !strcmp(key, "vendor_id") || !strcmp(key, "cpu") || !strcmp(key, "Vendor") ||
		    !strcmp(key, "processor")) {
			kp_list_push_take(proc, kp_value_str(val));
			vendor += !strcmp(key, "vendor_id");
			model += !strcmp(key, "model name");
			procs += !strcmp(key, "processor");
			i++;
		} else if (!strcmp(key, "physical id")) {
			free(physid);
			physid = kp_xstrdup(val);
			phys_is_int = false;
			size_t j = 0;
			while (j < ns && strcmp(sk[j], val))
				j++;
			if (j == ns && ns < 256) {
				sk[ns] = kp_xstrdup(val);
				sv[ns++] = 1;
			}
		} else if (!strcmp(key, "core id")) {
			free(coreid);
			coreid = kp_xstrdup(val);
			core_is_int = false;
			size_t j = 0;
			while (j < ns && strcmp(sk[j], val))
				j++;
			if (j == ns) { /* Ansible looks for the core in sockets */
				size_t k = 0;
				while (k < nc && strcmp(ck[k], val))
					k++;
				if (k == nc && nc < 256) {
					ck[nc] = kp_xstrdup(val);
					nc++;
				}
				if (k < 256)
					cv[k] = 1;
			}
		} else if (!strcmp(key, "cpu cores") || !strcmp(key, "siblings")) {
			bool cores = !strcmp(key, "cpu cores");
			char **keys = cores ? sk : ck;
			int64_t *vals = cores ? sv : cv;
			size_t *cnt = cores ? &ns : &nc;
			/* an id never seen as a string is Python's int 0 */
			const char *id = cores ? (phys_is_int ? "\x01int0" : physid)
					       : (core_is_int ? "\x01int0" : coreid);
			size_t j = 0;
			while (j < *cnt && strcmp(keys[j], id))
				j++;
			if (j == *cnt && *cnt < 256)
				keys[(*cnt)++] = kp_xstrdup(id);
			if (j < 256)
				vals[j] = atoll(val);
		} else if (!strcmp(key, "# processors")) {
			kp_map_set_take(f, "ansible_processor_cores", kp_value_int(atoll(val)));
		} else if (!strcmp(key, "ncpus active")) {
			i = atoll(val);
		}
		free(key);
		free(val);
	}
	if (vendor > 0 && vendor == model)
		i = vendor;
	const struct kp_value *arch = kp_map_get(f, "ansible_architecture");
	if (arch && (!strncmp(arch->u.str.s, "armv", 4) || !strncmp(arch->u.str.s, "aarch", 5) ||
		     !strncmp(arch->u.str.s, "ppc", 3)))
		i = procs;
	kp_map_set_take(f, "ansible_processor", proc);
	if (paravirt) {
		kp_map_set_take(f, "ansible_processor_count", kp_value_int(i));
		kp_map_set_take(f, "ansible_processor_cores", kp_value_int(i));
		kp_map_set_take(f, "ansible_processor_threads_per_core", kp_value_int(1));
		kp_map_set_take(f, "ansible_processor_vcpus", kp_value_int(i));
	} else {
		int64_t count = ns ? (int64_t)ns : i;
		int64_t cores = ns && sv[0] ? sv[0] : 1;
		int64_t tpc = nc ? cv[0] / cores : 1 / cores;
		kp_map_set_take(f, "ansible_processor_count", kp_value_int(count));
		kp_map_set_take(f, "ansible_processor_cores", kp_value_int(cores));
		kp_map_set_take(f, "ansible_processor_threads_per_core", kp_value_int(tpc));
		kp_map_set_take(f, "ansible_processor_vcpus", kp_value_int(tpc * count * cores));
	}
	for (size_t j = 0; j < ns; j++)
		free(sk[j]);
	for (size_t j = 0; j < nc; j++)
		free(ck[j]);
	free(physid);
	free(coreid);
}

void kp_facts_mount(struct kp_value *f, const char *out, size_t len)
{
	struct sect binds = kp_facts_section(out, len, "binds"),
		    uu = kp_facts_section(out, len, "uuids");
	struct sect s = kp_facts_section(out, len, "mounts");
	struct kp_value *bymount = kp_value_map(); /* Ansible keys them by mount point */
	const char *l;
	size_t n;
	while (kp_facts_next_line(&s, &l, &n)) {
		char *line = kp_xstrndup(l, n), *save = NULL;
		char *dev = strtok_r(line, " ", &save), *mnt = strtok_r(NULL, " ", &save),
		     *fs = strtok_r(NULL, " ", &save), *opts = strtok_r(NULL, " ", &save);
		if (!opts) {
			free(line);
			continue;
		}
		struct kp_value *m = kp_value_map();
		kp_facts_set_str(m, "mount", mnt);
		kp_facts_set_str(m, "device", dev);
		kp_facts_set_str(m, "fstype", fs);
		if (kp_facts_has_line(binds, mnt) && !strstr(opts, "bind")) {
			char *o = kp_facts_strdupf("%s,bind", opts);
			kp_facts_set_str(m, "options", o);
			free(o);
		} else {
			kp_facts_set_str(m, "options", opts);
		}
		long long frsize, bsize, blocks, bavail, files, ffree;
		char *rest = strtok_r(NULL, "", &save);
		if (rest && sscanf(rest, "%lld %lld %lld %lld %lld %lld", &frsize, &bsize, &blocks,
				   &bavail, &files, &ffree) == 6) {
			kp_map_set_take(m, "size_total", kp_value_int(frsize * blocks));
			kp_map_set_take(m, "size_available", kp_value_int(frsize * bavail));
			kp_map_set_take(m, "block_size", kp_value_int(bsize));
			kp_map_set_take(m, "block_total", kp_value_int(blocks));
			kp_map_set_take(m, "block_available", kp_value_int(bavail));
			kp_map_set_take(m, "block_used", kp_value_int(blocks - bavail));
			kp_map_set_take(m, "inode_total", kp_value_int(files));
			kp_map_set_take(m, "inode_available", kp_value_int(ffree));
			kp_map_set_take(m, "inode_used", kp_value_int(files - ffree));
		}
		const char *uuid = "N/A";
		char *found = NULL;
		for (struct sect u = uu; kp_facts_next_line(&u, &l, &n);) {
			size_t dl = strlen(dev);
			if (n > dl + 1 && !memcmp(l, dev, dl) && l[dl] == ' ') {
				found = kp_facts_trim(kp_xstrndup(l + dl + 1, n - dl - 1));
				if (*found)
					uuid = found;
				break;
			}
		}
		kp_facts_set_str(m, "uuid", uuid);
		free(found);
		kp_map_set_take(bymount, mnt, m);
		free(line);
	}
	struct kp_value *list = kp_value_list();
	for (size_t i = 0; i < kp_map_len(bymount); i++)
		kp_list_push(list, kp_map_val(bymount, i));
	kp_value_unref(bymount);
	kp_map_set_take(f, "ansible_mounts", list);
}

/* --- network --- */

static const char *iface_type(const char *t)
{
	static const char *const types[][2] = {{"1", "ether"},
					       {"32", "infiniband"},
					       {"512", "ppp"},
					       {"772", "loopback"},
					       {"65534", "tunnel"}};
	for (size_t i = 0; i < KP_ARRAY_LEN(types); i++)
		if (!strcmp(t, types[i][0]))
			return types[i][1];
	return "unknown";
}

static struct kp_value *route(const char *out, size_t len, const char *sect, const char *dst)
{
	struct kp_value *d = kp_value_map();
	char *l = kp_facts_line_at(kp_facts_section(out, len, sect), 0);
	if (!l)
		return d;
	char *words[64], *save = NULL;
	size_t nw = 0;
	for (char *w = strtok_r(l, " \t", &save); w && nw < 64; w = strtok_r(NULL, " \t", &save))
		words[nw++] = w;
	if (nw && !strcmp(words[0], dst))
		for (size_t i = 0; i + 1 < nw; i++) {
			if (!strcmp(words[i], "dev"))
				kp_facts_set_str(d, "interface", words[i + 1]);
			else if (!strcmp(words[i], "src"))
				kp_facts_set_str(d, "address", words[i + 1]);
			else if (!strcmp(words[i], "via") && strcmp(words[i + 1], dst))
				kp_facts_set_str(d, "gateway", words[i + 1]);
		}
	free(l);
	return d;
}

static struct kp_value *ipv4_entry(const char *addr, const char *plen, const char *brd)
{
	unsigned a[4] = {0};
	sscanf(addr, "%u.%u.%u.%u", &a[0], &a[1], &a[2], &a[3]);
	uint32_t ab = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
	int p = atoi(plen);
	uint32_t mask = p <= 0 ? 0 : p >= 32 ? 0xffffffffu : ~((1u << (32 - p)) - 1);
	uint32_t net = ab & mask;
	char m[16], nw[16];
	snprintf(m, sizeof(m), "%u.%u.%u.%u", mask >> 24, (mask >> 16) & 255, (mask >> 8) & 255,
		 mask & 255);
	snprintf(nw, sizeof(nw), "%u.%u.%u.%u", net >> 24, (net >> 16) & 255, (net >> 8) & 255,
		 net & 255);
	struct kp_value *e = kp_value_map();
	kp_facts_set_str(e, "address", addr);
	kp_facts_set_str(e, "broadcast", brd);
	kp_facts_set_str(e, "netmask", m);
	kp_facts_set_str(e, "network", nw);
	kp_facts_set_str(e, "prefix", plen);
	return e;
}

/* ansible_facts: '-' and ':' in an interface's name become '_' */
static char *iface_var(const char *dev)
{
	char *s = kp_facts_strdupf("ansible_%s", dev);
	for (char *c = s; *c; c++)
		if (*c == '-' || *c == ':')
			*c = '_';
	return s;
}

static int by_str(const void *a, const void *b)
{
	return strcmp((*(struct kp_value *const *)a)->u.str.s,
		      (*(struct kp_value *const *)b)->u.str.s);
}

void kp_facts_network(struct kp_value *f, const char *out, size_t len)
{
	struct kp_value *v4 = route(out, len, "route4", "8.8.8.8");
	struct kp_value *v6 = route(out, len, "route6", "2404:6800:400a:800::1012");
	struct kp_value *all4 = kp_value_list(), *all6 = kp_value_list();
	struct kp_value *ifaces = kp_value_map();
	/* the default routes' source addresses (copies: v4 and v6 change) */
	const struct kp_value *d4 = kp_map_get(v4, "address"), *d6 = kp_map_get(v6, "address");
	char *a4 = d4 ? kp_xstrdup(d4->u.str.s) : NULL, *a6 = d6 ? kp_xstrdup(d6->u.str.s) : NULL;
	for (const char *p = out; (p = memmem(p, (size_t)(out + len - p), "\n@@if ", 6));) {
		const char *nm = p + 6, *nl = memchr(nm, '\n', (size_t)(out + len - nm));
		if (!nl)
			break;
		char *dev = kp_xstrndup(nm, (size_t)(nl - nm));
		char *name = kp_facts_strdupf("if %s", dev);
		struct sect s = kp_facts_section(out, len, name);
		free(name);
		struct kp_value *d = kp_value_map();
		kp_facts_set_str(d, "device", dev);
		char *mac = kp_facts_kv_get(s, "address"), *mtu = kp_facts_kv_get(s, "mtu"),
		     *oper = kp_facts_kv_get(s, "operstate"), *type = kp_facts_kv_get(s, "type"),
		     *flags = kp_facts_kv_get(s, "flags"), *speed = kp_facts_kv_get(s, "speed"),
		     *module = kp_facts_kv_get(s, "module"), *pciid = kp_facts_kv_get(s, "pciid"),
		     *bridge = kp_facts_kv_get(s, "bridge"),
		     *bonding = kp_facts_kv_get(s, "bonding");
		if (mac && *mac && strcmp(mac, "00:00:00:00:00:00"))
			kp_facts_set_str(d, "macaddress", mac);
		if (mtu)
			kp_map_set_take(d, "mtu", kp_value_int(atoll(mtu)));
		if (oper)
			kp_map_set_take(d, "active", kp_value_bool(strcmp(oper, "down") != 0));
		if (module)
			kp_facts_set_str(d, "module", module);
		if (type)
			kp_facts_set_str(d, "type", iface_type(type));
		if (bridge)
			kp_facts_set_str(d, "type", "bridge");
		if (bonding)
			kp_facts_set_str(d, "type", "bonding");
		if (pciid)
			kp_facts_set_str(d, "pciid", pciid);
		if (speed && *speed)
			kp_map_set_take(d, "speed", kp_value_int(atoll(speed)));
		if (flags)
			kp_map_set_take(d, "promisc",
					kp_value_bool((strtol(flags, NULL, 16) & 0x100) != 0));
		const struct kp_value *dtype = kp_map_get(d, "type");
		const char *l;
		size_t n;
		for (struct sect it = s; kp_facts_next_line(&it, &l, &n);) {
			if (n < 3 || (l[0] != 'P' && l[0] != 'S') || l[1] != ' ')
				continue;
			bool secondary = l[0] == 'S';
			char *line = kp_xstrndup(l + 2, n - 2), *save = NULL;
			char *w[32];
			size_t nw = 0;
			for (char *t = strtok_r(line, " \t", &save); t && nw < 32;
			     t = strtok_r(NULL, " \t", &save))
				w[nw++] = t;
			if (nw >= 2 && !strcmp(w[0], "inet")) {
				char *slash = strchr(w[1], '/');
				const char *plen = slash ? slash + 1 : "32";
				if (slash)
					*slash = 0;
				const char *brd =
				    slash && nw > 3 && !strcmp(w[2], "brd") ? w[3] : "";
				struct kp_value *e = ipv4_entry(w[1], plen, brd);
				const char *key = secondary || kp_map_get(d, "ipv4")
						      ? "ipv4_secondaries"
						      : "ipv4";
				if (!strcmp(key, "ipv4")) {
					kp_map_set(d, "ipv4", e);
				} else {
					const struct kp_value *sec = kp_map_get(d, key);
					struct kp_value *ns =
					    sec ? kp_value_copy(sec) : kp_value_list();
					kp_list_push(ns, e);
					kp_map_set_take(d, key, ns);
				}
				if (a4 && !strcmp(a4, w[1])) {
					kp_map_update(v4, e);
					kp_facts_set_str(v4, "macaddress", mac ? mac : "");
					if (mtu)
						kp_map_set_take(v4, "mtu",
								kp_value_int(atoll(mtu)));
					kp_facts_set_str(v4, "type",
							 dtype ? dtype->u.str.s : "unknown");
					kp_facts_set_str(v4, "alias", w[nw - 1]);
				}
				if (strncmp(w[1], "127.", 4))
					kp_list_push_take(all4, kp_value_str(w[1]));
				kp_value_unref(e);
			} else if (nw >= 4 && !strcmp(w[0], "inet6")) {
				char *addr = w[1], *plen, *scope;
				if (!strcmp(w[2], "peer") && nw >= 6) {
					char *sl = strchr(w[3], '/');
					plen = sl ? sl + 1 : "";
					scope = w[5];
				} else {
					char *sl = strchr(w[1], '/');
					if (sl)
						*sl = 0;
					plen = sl ? sl + 1 : "";
					scope = w[3];
				}
				struct kp_value *e = kp_value_map();
				kp_facts_set_str(e, "address", addr);
				kp_facts_set_str(e, "prefix", plen);
				kp_facts_set_str(e, "scope", scope);
				const struct kp_value *l6 = kp_map_get(d, "ipv6");
				struct kp_value *nl6 = l6 ? kp_value_copy(l6) : kp_value_list();
				kp_list_push_take(nl6, e);
				kp_map_set_take(d, "ipv6", nl6);
				if (a6 && !strcmp(a6, addr)) {
					kp_facts_set_str(v6, "prefix", plen);
					kp_facts_set_str(v6, "scope", scope);
					kp_facts_set_str(v6, "macaddress", mac ? mac : "");
					if (mtu)
						kp_map_set_take(v6, "mtu",
								kp_value_int(atoll(mtu)));
					kp_facts_set_str(v6, "type",
							 dtype ? dtype->u.str.s : "unknown");
				}
				if (strcmp(addr, "::1"))
					kp_list_push_take(all6, kp_value_str(addr));
			}
			free(line);
		}
		kp_map_set_take(ifaces, dev, d);
		free(dev);
		free(mac);
		free(mtu);
		free(oper);
		free(type);
		free(flags);
		free(speed);
		free(module);
		free(pciid);
		free(bridge);
		free(bonding);
		p = nl;
	}
	/* Ansible's order is a set's (it varies from run to run): sorted */
	struct kp_value *names = kp_value_list();
	for (size_t i = 0; i < kp_map_len(ifaces); i++) {
		const char *dev = kp_map_key(ifaces, i);
		char *under = kp_xstrdup(dev);
		for (char *c = under; *c; c++)
			if (*c == ':')
				*c = '_';
		kp_list_push_take(names, kp_value_str(under));
		char *var = iface_var(dev);
		kp_map_set(f, var, kp_map_val(ifaces, i));
		free(var);
		free(under);
	}
	qsort(names->u.list.items, kp_list_len(names), sizeof(*names->u.list.items), by_str);
	kp_map_set_take(f, "ansible_interfaces", names);
	kp_map_set_take(f, "ansible_all_ipv4_addresses", all4);
	kp_map_set_take(f, "ansible_all_ipv6_addresses", all6);
	kp_map_set_take(f, "ansible_default_ipv4", v4);
	kp_map_set_take(f, "ansible_default_ipv6", v6);
	kp_value_unref(ifaces);
	free(a4);
	free(a6);
}
