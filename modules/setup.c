/*
 * setup.c - a host's facts, as Ansible's setup module names and types
 * them (ansible-core 2.14's collectors: platform, distribution, lsb, env,
 * user, date_time, pkg_mgr, service_mgr, hardware, network), from ONE
 * shell command: the script prints the raw material in sections
 * ("@@name" lines) and the parsing here follows each collector's rules,
 * so that a node needs no Python and a gather costs one round trip.
 *
 * The module returns them as Ansible's does, under `ansible_facts`; the
 * engine makes every fact a host variable (both ansible_NAME and
 * ansible_facts.NAME). Read-only.
 */
#include "modules/setup.h"
#include "modules/setup_int.h"
#include "modules/module.h"
#include "transport/transport.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>

char *kp_facts_strdupf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *s = kp_xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

void kp_facts_want_parse(const struct kp_value *subset, struct kp_facts_want *out)
{
	bool hw = false, net = false, no_hw = false, no_net = false, positive = false;
	size_t n = subset && subset->type == KP_V_LIST ? kp_list_len(subset) : 0;
	for (size_t i = 0; i < n || (subset && subset->type == KP_V_STR && i < 1); i++) {
		const struct kp_value *it =
		    subset->type == KP_V_LIST ? kp_list_at(subset, i) : subset;
		if (it->type != KP_V_STR)
			continue;
		/* "a,b" is a list too, as Ansible splits it */
		char *copy = kp_xstrdup(it->u.str.s), *save = NULL;
		for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
			while (isspace((unsigned char)*w))
				w++;
			bool neg = *w == '!';
			const char *name = w + neg;
			bool all = !strcmp(name, "all");
			if (!neg)
				positive = true;
			if (all || !strcmp(name, "hardware") || !strcmp(name, "devices") ||
			    !strcmp(name, "mounts"))
				*(neg ? &no_hw : &hw) = true;
			if (all || !strcmp(name, "network") || !strcmp(name, "interfaces"))
				*(neg ? &no_net : &net) = true;
		}
		free(copy);
	}
	if (!positive) /* only exclusions (or nothing): all but those */
		hw = net = true;
	out->hardware = hw && !no_hw;
	out->network = net && !no_net;
}

static const char script_min[] =
    "s() { printf '\\n@@%s\\n' \"$1\"; }\n"
    "s env; cat /proc/self/environ 2>/dev/null\n"
    "s user; printf '%s\\n' \"${LOGNAME:-${USER:-${LNAME:-${USERNAME:-$(id -un)}}}}\"\n"
    "LC_ALL=C; export LC_ALL\n"
    "s uname; uname -s; uname -r; uname -v; uname -m; uname -n\n"
    "s fqdn; a=$(getent ahosts \"$(uname -n)\" 2>/dev/null | awk 'NR == 1 {print $1}')\n"
    "[ -z \"$a\" ] || getent hosts \"$a\" 2>/dev/null | head -n 1\n"
    "s os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null\n"
    "s debian_version; cat /etc/debian_version 2>/dev/null\n"
    "s lsb_release; command -v lsb_release >/dev/null 2>&1 && lsb_release -a 2>/dev/null\n"
    "s lsb-release; cat /etc/lsb-release 2>/dev/null\n"
    "s machine-id; cat /etc/machine-id 2>/dev/null || cat /var/lib/dbus/machine-id 2>/dev/null\n"
    "s pkg_mgr; for p in /usr/bin/rpm-ostree:atomic_container /usr/bin/yum:yum /usr/bin/dnf:dnf "
    "/usr/bin/apt-get:apt /usr/bin/zypper:zypper /usr/sbin/urpmi:urpmi /usr/bin/pacman:pacman "
    "/bin/opkg:opkg /usr/pkg/bin/pkgin:pkgin /opt/local/bin/pkgin:pkgin "
    "/opt/tools/bin/pkgin:pkgin /opt/local/bin/port:macports /usr/local/bin/brew:homebrew "
    "/opt/homebrew/bin/brew:homebrew /sbin/apk:apk /usr/sbin/pkg:pkgng /usr/sbin/swlist:swdepot "
    "/usr/bin/emerge:portage /usr/sbin/pkgadd:svr4pkg /usr/bin/pkg:pkg5 "
    "/usr/bin/xbps-install:xbps /usr/local/sbin/pkg:pkgng /usr/bin/swupd:swupd "
    "/usr/sbin/sorcery:sorcery /usr/bin/installp:installp; do "
    "[ -e \"${p%%:*}\" ] && echo \"${p#*:}\"; done\n"
    "[ -e /run/ostree-booted ] && echo ostree-booted\n"
    "s service_mgr; if [ -r /proc/1/comm ]; then echo \"comm=$(cat /proc/1/comm)\"; "
    "else echo \"ps=$(ps -p 1 -o comm 2>/dev/null | tail -n 1)\"; fi\n"
    "[ -L /sbin/init ] && echo \"init=$(readlink /sbin/init)\"\n"
    "command -v systemctl >/dev/null 2>&1 && for d in /run/systemd/system/ /dev/.run/systemd/ "
    "/dev/.systemd/; do [ -e $d ] && echo systemd; done\n"
    "command -v initctl >/dev/null 2>&1 && [ -e /etc/init/ ] && echo upstart\n"
    "[ -e /sbin/openrc ] && echo openrc\n"
    "[ -e /etc/init.d/ ] && echo sysvinit\n"
    "s date; date '+%s %N %z %Z'; date -d 2000-01-01 +%Z 2>/dev/null; "
    "date -d 2000-07-01 +%Z 2>/dev/null\n";

static const char script_hw[] =
    "s meminfo; cat /proc/meminfo 2>/dev/null\n"
    "s cpuinfo; cat /proc/cpuinfo 2>/dev/null\n"
    "s xen; [ -e /proc/xen ] && echo xen; head -n 1 /sys/hypervisor/type 2>/dev/null\n"
    "s binds; findmnt -lnur 2>/dev/null | awk '$2 ~ /\\]$/ {print $1}'\n"
    "s uuids; lsblk -ln --paths --output NAME,UUID --exclude 2 2>/dev/null\n"
    "s mounts; while read -r dev mnt fs opts rest; do case \"$dev\" in /*|\\\\*|*:/*) ;; *) "
    "continue;; esac; [ \"$fs\" = none ] && continue; "
    "printf '%s %s %s %s ' \"$dev\" \"$mnt\" \"$fs\" \"$opts\"; "
    "stat -f -c '%S %s %b %a %c %d' \"$mnt\" 2>/dev/null || echo; done </proc/mounts\n";

static const char script_net[] =
    "s route4; ip -4 route get 8.8.8.8 2>/dev/null | head -n 1\n"
    "s route6; ip -6 route get 2404:6800:400a:800::1012 2>/dev/null | head -n 1\n"
    "for d in $(ls /sys/class/net 2>/dev/null); do p=/sys/class/net/$d\n"
    "[ -d $p ] || continue; s \"if $d\"\n"
    "[ -e $p/address ] && echo \"address=$(cat $p/address 2>/dev/null)\"\n"
    "for k in mtu operstate type flags speed; do [ -e $p/$k ] && v=$(cat $p/$k 2>/dev/null) "
    "&& echo \"$k=$v\"; done\n"
    "[ -e $p/device/driver/module ] && echo \"module=$(basename $(readlink -f "
    "$p/device/driver/module))\"\n"
    "[ -e $p/device ] && echo \"pciid=$(basename $(readlink $p/device))\"\n"
    "[ -e $p/bridge ] && echo bridge=1; [ -e $p/bonding ] && echo bonding=1\n"
    "ip addr show primary dev $d 2>/dev/null | sed 's/^/P /' || "
    "ip addr show dev $d 2>/dev/null | sed 's/^/P /'\n"
    "ip addr show secondary dev $d 2>/dev/null | sed 's/^/S /'\n"
    "done\n";

char *kp_facts_command(const struct kp_facts_want *w)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addstr(&b, script_min);
	if (w->hardware)
		kp_buf_addstr(&b, script_hw);
	if (w->network)
		kp_buf_addstr(&b, script_net);
	return kp_buf_detach(&b, NULL);
}

/* --- the output's sections --- */

/* The body of section `name` (the text after "\n@@name\n" up to the next
 * "\n@@"), or an empty one. */
struct sect kp_facts_section(const char *out, size_t len, const char *name)
{
	size_t nl = strlen(name);
	for (const char *p = out; p && p < out + len;) {
		const char *at = memmem(p, (size_t)(out + len - p), "\n@@", 3);
		if (!at)
			break;
		const char *nm = at + 3;
		if ((size_t)(out + len - nm) > nl && !memcmp(nm, name, nl) && nm[nl] == '\n') {
			const char *body = nm + nl + 1;
			const char *end = memmem(body, (size_t)(out + len - body), "\n@@", 3);
			/* the newline before the next marker belongs to the marker */
			return (struct sect){body, (size_t)((end ? end + 1 : out + len) - body)};
		}
		p = at + 1;
	}
	return (struct sect){"", 0};
}

/* Line i of a section (0-based), malloc'd without its newline; NULL past
 * the end. */
char *kp_facts_line_at(struct sect s, size_t i)
{
	const char *p = s.s, *end = s.s + s.n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (!i--)
			return kp_xstrndup(p, (size_t)(le - p));
		p = le + 1;
	}
	return NULL;
}

/* Iterate a section's lines: *line and *n for each, false at the end. */
bool kp_facts_next_line(struct sect *s, const char **line, size_t *n)
{
	if (!s->n)
		return false;
	const char *nl = memchr(s->s, '\n', s->n);
	size_t len = nl ? (size_t)(nl - s->s) : s->n;
	*line = s->s;
	*n = len;
	s->s += nl ? len + 1 : len;
	s->n -= nl ? len + 1 : len;
	return true;
}

/* KEY=value of a shell-style file (os-release, lsb-release), quotes
 * removed; malloc'd or NULL. */
char *kp_facts_kv_get(struct sect s, const char *key)
{
	const char *l;
	size_t n, kl = strlen(key);
	char *found = NULL;
	while (kp_facts_next_line(&s, &l, &n)) {
		if (n > kl && !memcmp(l, key, kl) && l[kl] == '=') {
			const char *v = l + kl + 1;
			size_t vn = n - kl - 1;
			if (vn >= 2 && (v[0] == '"' || v[0] == '\'') && v[vn - 1] == v[0]) {
				v++;
				vn -= 2;
			}
			free(found);
			found = kp_xstrndup(v, vn);
		}
	}
	return found;
}

char *kp_facts_trim(char *s)
{
	if (!s)
		return s;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
	size_t i = 0;
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
	return s;
}

void kp_facts_set_str(struct kp_value *m, const char *k, const char *v)
{
	kp_map_set_take(m, k, kp_value_str(v ? v : ""));
}

/* --- platform, distribution, lsb --- */

static void platform_facts(struct kp_value *f, const char *out, size_t len)
{
	struct sect u = kp_facts_section(out, len, "uname");
	char *sys = kp_facts_line_at(u, 0), *rel = kp_facts_line_at(u, 1),
	     *ver = kp_facts_line_at(u, 2), *mach = kp_facts_line_at(u, 3),
	     *node = kp_facts_line_at(u, 4);
	kp_facts_set_str(f, "ansible_system", sys);
	kp_facts_set_str(f, "ansible_kernel", rel);
	kp_facts_set_str(f, "ansible_kernel_version", ver);
	kp_facts_set_str(f, "ansible_machine", mach);
	kp_facts_set_str(f, "ansible_nodename", node);
	const char *n = node ? node : "";
	const char *dot = strchr(n, '.');
	kp_map_set_take(f, "ansible_hostname",
			dot ? kp_value_strn(n, (size_t)(dot - n)) : kp_value_str(n));
	/* Python's getfqdn: the first of the canonical name and aliases of the
	 * node's address that holds a dot, else the canonical name */
	char *hl = kp_facts_line_at(kp_facts_section(out, len, "fqdn"), 0);
	char *fqdn = NULL;
	if (hl) {
		char *save = NULL, *first = NULL;
		strtok_r(hl, " \t", &save); /* the address */
		for (char *w = strtok_r(NULL, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
			if (!first)
				first = w;
			if (strchr(w, '.')) {
				fqdn = kp_xstrdup(w);
				break;
			}
		}
		if (!fqdn && first)
			fqdn = kp_xstrdup(first);
	}
	if (!fqdn)
		fqdn = kp_xstrdup(n);
	kp_facts_set_str(f, "ansible_fqdn", fqdn);
	dot = strchr(fqdn, '.');
	kp_facts_set_str(f, "ansible_domain", dot ? dot + 1 : "");
	/* architecture: Ansible's, i386 for the 32-bit x86 names */
	const char *arch = mach ? mach : "";
	if (strlen(arch) == 4 && arch[0] == 'i' && !strcmp(arch + 2, "86"))
		arch = "i386";
	kp_facts_set_str(f, "ansible_architecture", arch);
	char *mid = kp_facts_trim(kp_facts_line_at(kp_facts_section(out, len, "machine-id"), 0));
	if (mid)
		kp_facts_set_str(f, "ansible_machine_id", mid);
	free(mid);
	free(hl);
	free(fqdn);
	free(sys);
	free(rel);
	free(ver);
	free(mach);
	free(node);
}

static const char *const os_family[][2] = {
    {"RedHat", "RedHat"},
    {"RHEL", "RedHat"},
    {"Fedora", "RedHat"},
    {"CentOS", "RedHat"},
    {"Scientific", "RedHat"},
    {"OracleLinux", "RedHat"},
    {"Amazon", "RedHat"},
    {"AlmaLinux", "RedHat"},
    {"Rocky", "RedHat"},
    {"EulerOS", "RedHat"},
    {"openEuler", "RedHat"},
    {"CloudLinux", "RedHat"},
    {"Debian", "Debian"},
    {"Ubuntu", "Debian"},
    {"Raspbian", "Debian"},
    {"Linux Mint", "Debian"},
    {"Pop!_OS", "Debian"},
    {"Devuan", "Debian"},
    {"Kali", "Debian"},
    {"Neon", "Debian"},
    {"SLES", "Suse"},
    {"SLED", "Suse"},
    {"openSUSE", "Suse"},
    {"openSUSE Leap", "Suse"},
    {"openSUSE Tumbleweed", "Suse"},
    {"SLES_SAP", "Suse"},
    {"Archlinux", "Archlinux"},
    {"Manjaro", "Archlinux"},
    {"Gentoo", "Gentoo"},
    {"Alpine", "Alpine"},
    {"Flatcar", "Flatcar"},
};

/* distro.id() as Ansible spells it: capitalised, with the names its
 * distribution files give for the common ones. */
static char *dist_name(const char *id)
{
	static const char *const names[][2] = {
	    {"rhel", "RedHat"},
	    {"centos", "CentOS"},
	    {"almalinux", "AlmaLinux"},
	    {"amzn", "Amazon"},
	    {"ol", "OracleLinux"},
	    {"opensuse-leap", "openSUSE Leap"},
	    {"sles", "SLES"},
	    {"arch", "Archlinux"},
	    {"linuxmint", "Linux Mint"},
	    {"pop", "Pop!_OS"},
	    {"flatcar", "Flatcar"},
	    {"opensuse-tumbleweed", "openSUSE Tumbleweed"},
	    {"openeuler", "openEuler"},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(names); i++)
		if (!strcmp(id, names[i][0]))
			return kp_xstrdup(names[i][1]);
	if (!*id)
		return kp_xstrdup("OtherLinux");
	char *s = kp_xstrdup(id);
	s[0] = (char)toupper((unsigned char)s[0]);
	for (size_t i = 1; s[i]; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	return s;
}

static void distribution_facts(struct kp_value *f, const char *out, size_t len)
{
	struct sect os = kp_facts_section(out, len, "os-release");
	char *id = kp_facts_kv_get(os, "ID"), *vid = kp_facts_kv_get(os, "VERSION_ID"),
	     *code = kp_facts_kv_get(os, "VERSION_CODENAME"),
	     *pretty = kp_facts_kv_get(os, "PRETTY_NAME"),
	     *version = kp_facts_kv_get(os, "VERSION");
	char *name = dist_name(id ? id : "");
	char *ver = kp_xstrdup(vid ? vid : "");
	char *release = code && *code ? kp_xstrdup(code) : NULL;
	if (!release && version) { /* "12 (bookworm)" */
		char *o = strchr(version, '('), *c = o ? strchr(o, ')') : NULL;
		if (o && c)
			release = kp_xstrndup(o + 1, (size_t)(c - o - 1));
	}
	if (!strcmp(name, "Debian")) {
		/* distro's best version: /etc/debian_version when it is numeric */
		char *dv = kp_facts_trim(
		    kp_facts_line_at(kp_facts_section(out, len, "debian_version"), 0));
		if (dv && isdigit((unsigned char)dv[0]) && strchr(dv, '.')) {
			free(ver);
			ver = kp_xstrdup(dv);
		}
		free(dv);
		if (pretty) { /* PRETTY_NAME=[^(]+ \(?([^)]+?)\) */
			char *o = strchr(pretty, '('), *c = o ? strchr(o, ')') : NULL;
			if (o && c && o > pretty && o[-1] == ' ') {
				free(release);
				release = kp_xstrndup(o + 1, (size_t)(c - o - 1));
			}
		}
	}
	kp_facts_set_str(f, "ansible_distribution", name);
	kp_facts_set_str(f, "ansible_distribution_version", ver);
	char *dot = strchr(ver, '.');
	kp_map_set_take(f, "ansible_distribution_major_version",
			*ver ? kp_value_strn(ver, dot ? (size_t)(dot - ver) : strlen(ver))
			     : kp_value_str("NA"));
	kp_facts_set_str(f, "ansible_distribution_release", release ? release : "NA");
	const char *fam = name;
	for (size_t i = 0; i < KP_ARRAY_LEN(os_family); i++)
		if (!strcmp(name, os_family[i][0]))
			fam = os_family[i][1];
	kp_facts_set_str(f, "ansible_os_family", fam);

	/* lsb: lsb_release -a, else /etc/lsb-release */
	struct kp_value *lsb = kp_value_map();
	struct sect lr = kp_facts_section(out, len, "lsb_release");
	const char *l;
	size_t n;
	static const char *const lsb_keys[][2] = {{"Distributor ID", "id"},
						  {"Release", "release"},
						  {"Description", "description"},
						  {"Codename", "codename"}};
	while (kp_facts_next_line(&lr, &l, &n)) {
		const char *colon = memchr(l, ':', n);
		if (!colon)
			continue;
		for (size_t i = 0; i < KP_ARRAY_LEN(lsb_keys); i++)
			if ((size_t)(colon - l) == strlen(lsb_keys[i][0]) &&
			    !memcmp(l, lsb_keys[i][0], (size_t)(colon - l))) {
				char *v = kp_facts_trim(
				    kp_xstrndup(colon + 1, (size_t)(l + n - colon - 1)));
				kp_map_set_take(lsb, lsb_keys[i][1], kp_value_str(v));
				free(v);
			}
	}
	if (!kp_map_len(lsb)) {
		static const char *const file_keys[][2] = {{"DISTRIB_ID", "id"},
							   {"DISTRIB_RELEASE", "release"},
							   {"DISTRIB_DESCRIPTION", "description"},
							   {"DISTRIB_CODENAME", "codename"}};
		struct sect lf = kp_facts_section(out, len, "lsb-release");
		for (size_t i = 0; i < KP_ARRAY_LEN(file_keys); i++) {
			char *v = kp_facts_kv_get(lf, file_keys[i][0]);
			if (v)
				kp_map_set_take(lsb, file_keys[i][1],
						kp_value_str(kp_facts_trim(v)));
			free(v);
		}
	}
	const struct kp_value *r = kp_map_get(lsb, "release");
	if (r && r->type == KP_V_STR) {
		const char *d = strchr(r->u.str.s, '.');
		kp_map_set_take(
		    lsb, "major_release",
		    kp_value_strn(r->u.str.s, d ? (size_t)(d - r->u.str.s) : r->u.str.len));
	}
	kp_map_set_take(f, "ansible_lsb", lsb);
	free(id);
	free(vid);
	free(code);
	free(pretty);
	free(version);
	free(name);
	free(ver);
	free(release);
}

/* --- env, user, date_time, pkg_mgr, service_mgr --- */

static void env_facts(struct kp_value *f, const char *out, size_t len)
{
	struct sect e = kp_facts_section(out, len, "env");
	struct kp_value *env = kp_value_map();
	const char *p = e.s, *end = e.s + (e.n ? e.n - 1 : 0); /* the newline s() adds */
	while (p < end) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		const char *ze = z ? z : end;
		const char *eq = memchr(p, '=', (size_t)(ze - p));
		if (eq) {
			char *k = kp_xstrndup(p, (size_t)(eq - p));
			kp_map_set_take(env, k, kp_value_strn(eq + 1, (size_t)(ze - eq - 1)));
			free(k);
		}
		p = ze + 1;
	}
	kp_map_set_take(f, "ansible_env", env);
	char *u = kp_facts_line_at(kp_facts_section(out, len, "user"), 0);
	kp_facts_set_str(f, "ansible_user_id", u);
	free(u);
}

static void date_facts(struct kp_value *f, const char *out, size_t len)
{
	struct sect d = kp_facts_section(out, len, "date");
	char *l = kp_facts_line_at(d, 0), *jan = kp_facts_trim(kp_facts_line_at(d, 1)),
	     *jul = kp_facts_trim(kp_facts_line_at(d, 2));
	long long epoch = 0;
	char ns[32] = "", off[16] = "+0000", tz[64] = "UTC";
	if (!l || sscanf(l, "%lld %31s %15s %63s", &epoch, ns, off, tz) < 3) {
		free(l);
		free(jan);
		free(jul);
		return;
	}
	int sign = off[0] == '-' ? -1 : 1;
	int hh = 0, mm = 0;
	sscanf(off + 1, "%2d%2d", &hh, &mm);
	time_t t = (time_t)epoch, lt = t + sign * (hh * 3600 + mm * 60);
	struct tm u, g;
	gmtime_r(&t, &u);
	gmtime_r(&lt, &g); /* the node's local time, from its offset */
	char us[7] = "000000";
	memcpy(us, ns, strlen(ns) >= 6 ? 6 : strlen(ns));
	struct kp_value *m = kp_value_map();
	char b[64], *tmp = NULL, *tmp2 = NULL;
#define DT(key, fmt, tm)                                                                           \
	do {                                                                                       \
		strftime(b, sizeof(b), fmt, tm);                                                   \
		kp_map_set_take(m, key, kp_value_str(b));                                          \
	} while (0)
	DT("year", "%Y", &g);
	DT("month", "%m", &g);
	DT("weekday", "%A", &g);
	DT("weekday_number", "%w", &g);
	DT("weeknumber", "%W", &g);
	DT("day", "%d", &g);
	DT("hour", "%H", &g);
	DT("minute", "%M", &g);
	DT("second", "%S", &g);
	snprintf(b, sizeof(b), "%lld", epoch);
	kp_map_set_take(m, "epoch", kp_value_str(b));
	kp_map_set_take(m, "epoch_int", kp_value_str(b));
	DT("date", "%Y-%m-%d", &g);
	DT("time", "%H:%M:%S", &g);
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &u);
	kp_map_set_take(m, "iso8601_micro", kp_value_str(tmp = kp_facts_strdupf("%s.%sZ", b, us)));
	DT("iso8601", "%Y-%m-%dT%H:%M:%SZ", &u);
	strftime(b, sizeof(b), "%Y%m%dT%H%M%S", &g);
	kp_map_set_take(m, "iso8601_basic", kp_value_str(tmp2 = kp_facts_strdupf("%s%s", b, us)));
	DT("iso8601_basic_short", "%Y%m%dT%H%M%S", &g);
#undef DT
	kp_map_set_take(m, "tz", kp_value_str(tz));
	/* time.tzname[1]: the zone's summer name when it has one */
	const char *dst = tz;
	if (jan && jul && *jan && *jul)
		dst = strcmp(jan, jul) ? (strcmp(jan, tz) ? jan : jul) : jan;
	kp_map_set_take(m, "tz_dst", kp_value_str(dst));
	kp_map_set_take(m, "tz_offset", kp_value_str(off));
	kp_map_set_take(f, "ansible_date_time", m);
	free(tmp);
	free(tmp2);
	free(l);
	free(jan);
	free(jul);
}

bool kp_facts_has_line(struct sect s, const char *word)
{
	const char *l;
	size_t n;
	while (kp_facts_next_line(&s, &l, &n))
		if (n == strlen(word) && !memcmp(l, word, n))
			return true;
	return false;
}

static void mgr_facts(struct kp_value *f, const char *out, size_t len)
{
	struct sect pm = kp_facts_section(out, len, "pkg_mgr");
	const char *l;
	size_t n;
	char *pkg = kp_xstrdup("unknown");
	for (struct sect s = pm; kp_facts_next_line(&s, &l, &n);)
		if (n && strncmp(l, "ostree-booted", n)) {
			free(pkg);
			pkg = kp_xstrndup(l, n);
		}
	const struct kp_value *fam = kp_map_get(f, "ansible_os_family");
	const struct kp_value *dist = kp_map_get(f, "ansible_distribution");
	const struct kp_value *major = kp_map_get(f, "ansible_distribution_major_version");
	if (fam && !strcmp(fam->u.str.s, "Debian")) {
		free(pkg);
		pkg = kp_xstrdup("apt");
	} else if (fam && !strcmp(fam->u.str.s, "RedHat")) {
		int v = major ? atoi(major->u.str.s) : 0;
		free(pkg);
		if (kp_facts_has_line(pm, "ostree-booted"))
			pkg = kp_xstrdup("atomic_container");
		else if (dist && !strcmp(dist->u.str.s, "Fedora"))
			pkg = kp_xstrdup(v < 23 && kp_facts_has_line(pm, "yum") ? "yum" : "dnf");
		else if (dist && !strcmp(dist->u.str.s, "Amazon"))
			pkg = kp_xstrdup(v < 2022 && kp_facts_has_line(pm, "yum") ? "yum" : "dnf");
		else
			pkg = kp_xstrdup(v < 8 ? "yum" : "dnf");
	}
	kp_map_set_take(f, "ansible_pkg_mgr", kp_value_str_take(pkg, strlen(pkg)));

	/* service_mgr: what PID 1 is, else what the system holds */
	struct sect sm = kp_facts_section(out, len, "service_mgr");
	char *p1 = NULL;
	for (struct sect s = sm; kp_facts_next_line(&s, &l, &n);) {
		if (n > 5 && !memcmp(l, "comm=", 5))
			p1 = kp_xstrndup(l + 5, n - 5);
		else if (n > 3 && !memcmp(l, "ps=", 3) && !p1)
			p1 = kp_xstrndup(l + 3, n - 3);
	}
	if (p1 &&
	    (!*kp_facts_trim(p1) || !strcmp(p1, "COMMAND") || isdigit((unsigned char)p1[0]))) {
		free(p1);
		p1 = NULL;
	}
	if (!p1)
		for (struct sect s = sm; kp_facts_next_line(&s, &l, &n);)
			if (n > 5 && !memcmp(l, "init=", 5))
				p1 = kp_xstrndup(l + 5, n - 5);
	if (p1) {
		char *base = strrchr(p1, '/');
		char *t = kp_facts_trim(kp_xstrdup(base ? base + 1 : p1));
		free(p1);
		p1 = t;
		size_t pl = strlen(p1);
		if (!strcmp(p1, "init") || (pl >= 2 && !strcmp(p1 + pl - 2, "sh"))) {
			free(p1);
			p1 = NULL;
		}
	}
	const char *name = NULL;
	static const char *const p1map[][2] = {{"procd", "openwrt_init"},
					       {"runit-init", "runit"},
					       {"svscan", "svc"},
					       {"openrc-init", "openrc"}};
	if (p1) {
		name = p1;
		for (size_t i = 0; i < KP_ARRAY_LEN(p1map); i++)
			if (!strcmp(p1, p1map[i][0]))
				name = p1map[i][1];
	} else if (kp_facts_has_line(sm, "systemd")) {
		name = "systemd";
	} else if (kp_facts_has_line(sm, "upstart")) {
		name = "upstart";
	} else if (kp_facts_has_line(sm, "openrc")) {
		name = "openrc";
	} else if (kp_facts_has_line(sm, "sysvinit")) {
		name = "sysvinit";
	}
	kp_facts_set_str(f, "ansible_service_mgr", name ? name : "service");
	free(p1);
}

/* --- hardware: memory, processors, mounts --- */

static bool filter_match(const struct kp_value *filter, const char *name)
{
	if (!filter || filter->type == KP_V_NULL)
		return true;
	if (filter->type == KP_V_STR)
		return !*filter->u.str.s || !fnmatch(filter->u.str.s, name, 0);
	if (filter->type != KP_V_LIST || !kp_list_len(filter))
		return true;
	for (size_t i = 0; i < kp_list_len(filter); i++) {
		const struct kp_value *p = kp_list_at(filter, i);
		if (p->type == KP_V_STR && !fnmatch(p->u.str.s, name, 0))
			return true;
	}
	return false;
}

struct kp_value *kp_facts_parse(const char *out, size_t len, const struct kp_facts_want *w,
				const struct kp_value *filter)
{
	struct kp_value *f = kp_value_map();
	/* sections start at "\n@@": a leading newline makes the first one too */
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addch(&b, '\n');
	kp_buf_add(&b, out, len);
	platform_facts(f, b.buf, b.len);
	distribution_facts(f, b.buf, b.len);
	env_facts(f, b.buf, b.len);
	date_facts(f, b.buf, b.len);
	mgr_facts(f, b.buf, b.len);
	if (w->hardware) {
		kp_facts_memory(f, b.buf, b.len);
		kp_facts_cpu(f, b.buf, b.len);
		kp_facts_mount(f, b.buf, b.len);
	}
	if (w->network)
		kp_facts_network(f, b.buf, b.len);
	kp_buf_release(&b);
	if (filter) {
		struct kp_value *kept = kp_value_map();
		for (size_t i = 0; i < kp_map_len(f); i++)
			if (filter_match(filter, kp_map_key(f, i)))
				kp_map_set(kept, kp_map_key(f, i), kp_map_val(f, i));
		kp_value_unref(f);
		f = kept;
	}
	return f;
}

const char *const kp_fact_names[] = {
    "ansible_facts",
    "ansible_all_ipv4_addresses",
    "ansible_all_ipv6_addresses",
    "ansible_architecture",
    "ansible_date_time",
    "ansible_default_ipv4",
    "ansible_default_ipv6",
    "ansible_distribution",
    "ansible_distribution_major_version",
    "ansible_distribution_release",
    "ansible_distribution_version",
    "ansible_domain",
    "ansible_env",
    "ansible_fqdn",
    "ansible_hostname",
    "ansible_interfaces",
    "ansible_kernel",
    "ansible_kernel_version",
    "ansible_lsb",
    "ansible_machine",
    "ansible_machine_id",
    "ansible_memfree_mb",
    "ansible_memtotal_mb",
    "ansible_mounts",
    "ansible_nodename",
    "ansible_os_family",
    "ansible_pkg_mgr",
    "ansible_processor",
    "ansible_processor_cores",
    "ansible_processor_count",
    "ansible_processor_threads_per_core",
    "ansible_processor_vcpus",
    "ansible_service_mgr",
    "ansible_swapfree_mb",
    "ansible_swaptotal_mb",
    "ansible_system",
    "ansible_user_id",
    NULL,
};

bool kp_fact_name(const char *name, size_t len)
{
	for (size_t i = 0; kp_fact_names[i]; i++)
		if (strlen(kp_fact_names[i]) == len && !memcmp(kp_fact_names[i], name, len))
			return true;
	return false;
}

/* --- the module --- */

static const struct kp_argspec args[] = {
    {.name = "gather_subset",
     .type = KP_T_STR_OR_LIST,
     .help = "all, min, hardware, network; '!' leaves one out (default all)"},
    {.name = "filter",
     .type = KP_T_STR_OR_LIST,
     .help = "shell patterns a fact's name must match to be returned"},
    {.name = "gather_timeout", .type = KP_T_INT, .help = "accepted for Ansible"},
    {.name = "fact_path", .type = KP_T_STR, .help = "accepted for Ansible; no local facts"},
    {0},
};

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct kp_facts_want w;
	kp_facts_want_parse(kp_arg(ctx, "gather_subset"), &w);
	char *cmd = kp_facts_command(&w);
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd, &r, err);
	free(cmd);
	if (rc) {
		kp_exec_res_release(&r);
		return rc;
	}
	if (r.timed_out) {
		kp_exec_res_release(&r);
		return kp_mod_failf(res, "gathering facts timed out");
	}
	struct kp_value *facts = kp_facts_parse(r.out.buf, r.out.len, &w, kp_arg(ctx, "filter"));
	kp_exec_res_release(&r);
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "ansible_facts", facts);
	res->changed = false;
	return KP_OK;
}

const struct kp_module kp_mod_setup = {
    .name = "setup",
    .summary = "gather the host's facts (Ansible's names: ansible_hostname, ...)",
    .args = args,
    .flags = KP_MOD_READONLY,
    .probe = probe,
};
