/*
 * apt.c - Ansible's apt module: install, upgrade and remove Debian
 * packages with apt-get, update the package lists, upgrade the system.
 *
 * The steps follow Ansible's: the package lists first (update_cache,
 * cache_valid_time), then exactly one of upgrade, deb, or the named
 * packages by state (autoremove with them; autoclean/autoremove alone when
 * there are none). The probe asks `apt-get -s` (simulation: read-only, no
 * lock) what each apt-get command would do and reports its Inst/Remv lines;
 * apply runs the same commands with dpkg's lock waited for
 * (DPkg::Lock::Timeout) and decides `changed` by comparing every package's
 * version and status before and after, never from apt's wording. As in
 * Ansible (and apt-pin), a stale cache is updated by the probe of a real
 * run, so that the plan is made on fresh lists.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const states[] = {"present", "absent", "latest", "fixed", NULL};
static const char *const exclusive[] = {"name|pkg|package", NULL};

static const struct kp_argspec args[] = {
    {.name = "name",
     .type = KP_T_STR_OR_LIST,
     .help = "packages, with an optional =VERSION pin (also: pkg, package)"},
    {.name = "pkg", .type = KP_T_STR_OR_LIST, .help = "the same as name"},
    {.name = "package", .type = KP_T_STR_OR_LIST, .help = "the same as name"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "present",
     .choices = states,
     .help = "present (any version), latest, absent, fixed (apt-get --fix-broken)"},
    {.name = "update_cache", .type = KP_T_BOOL, .def = "false", .help = "apt-get update first"},
    {.name = "cache_valid_time",
     .type = KP_T_INT,
     .def = "0",
     .help = "seconds the package lists stay fresh (update only when older)"},
    {.name = "upgrade",
     .type = KP_T_ANY,
     .def = "no",
     .help = "no, yes or safe (apt-get upgrade --with-new-pkgs), full or dist "
	     "(apt-get dist-upgrade)"},
    {.name = "autoremove",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "remove packages no longer needed"},
    {.name = "autoclean", .type = KP_T_BOOL, .def = "false", .help = "apt-get autoclean"},
    {.name = "purge", .type = KP_T_BOOL, .def = "false", .help = "remove configuration too"},
    {.name = "allow_downgrade",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "allow a pin to an older version"},
    {.name = "allow_downgrades", .type = KP_T_BOOL, .help = "the same as allow_downgrade"},
    {.name = "allow_change_held_packages",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "let held packages change"},
    {.name = "install_recommends",
     .type = KP_T_BOOL,
     .help = "install recommended packages (default: apt's setting)"},
    {.name = "default_release", .type = KP_T_STR, .help = "apt-get -t RELEASE"},
    {.name = "deb", .type = KP_T_PATH, .help = "a .deb file on the node to install"},
    {.name = "only_upgrade",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "only upgrade installed packages"},
    {.name = "force", .type = KP_T_BOOL, .def = "false", .help = "apt-get --force-yes"},
    {.name = "dpkg_options",
     .type = KP_T_STR,
     .def = "force-confdef,force-confold",
     .help = "dpkg options, comma-separated"},
    {.name = "lock_timeout",
     .type = KP_T_INT,
     .def = "60",
     .help = "seconds to wait for another apt/dpkg holding the lock"},
    {0},
};

struct plan {
	char **cmds; /* apt-get commands, each with SIM where -s goes */
	size_t n;
	bool cache_updated;
	long long cache_time;
	bool autoclean; /* a step is autoclean: "Del" lines are changes */
};

static void plan_free(void *p)
{
	struct plan *pl = p;
	if (!pl)
		return;
	for (size_t i = 0; i < pl->n; i++)
		free(pl->cmds[i]);
	free(pl->cmds);
	free(pl);
}

static void add_cmd(struct plan *pl, struct kp_buf *cmd)
{
	pl->cmds = kp_xrealloc(pl->cmds, (pl->n + 1) * sizeof(*pl->cmds));
	pl->cmds[pl->n++] = kp_buf_detach(cmd, NULL);
}

static void add_word(struct kp_buf *b, const char *w)
{
	kp_buf_addch(b, ' ');
	kp_sh_quote(b, w);
}

/* The package list, from name, pkg or package (a string or a list). */
static size_t names(const struct kp_modctx *ctx, const char ***out)
{
	const struct kp_value *v = kp_arg(ctx, "name");
	if (!v)
		v = kp_arg(ctx, "pkg");
	if (!v)
		v = kp_arg(ctx, "package");
	*out = NULL;
	if (!v)
		return 0;
	if (v->type == KP_V_STR) {
		*out = kp_xcalloc(1, sizeof(**out));
		(*out)[0] = v->u.str.s;
		return 1;
	}
	size_t n = kp_list_len(v);
	*out = kp_xcalloc(n ? n : 1, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		const struct kp_value *e = kp_list_at(v, i);
		(*out)[i] = e->type == KP_V_STR ? e->u.str.s : "";
	}
	return n;
}

/* upgrade: no | yes | safe | full | dist; YAML booleans as Ansible takes them */
static const char *upgrade_mode(const struct kp_modctx *ctx)
{
	const struct kp_value *v = kp_arg(ctx, "upgrade");
	if (!v || v->type == KP_V_NULL)
		return "no";
	if (v->type == KP_V_BOOL)
		return v->u.b ? "yes" : "no";
	if (v->type != KP_V_STR)
		return NULL;
	static const char *const modes[] = {"no", "yes", "safe", "full", "dist"};
	for (size_t i = 0; i < KP_ARRAY_LEN(modes); i++)
		if (!strcmp(v->u.str.s, modes[i]))
			return modes[i];
	if (!strcmp(v->u.str.s, "true"))
		return "yes";
	if (!strcmp(v->u.str.s, "false"))
		return "no";
	return NULL;
}

/* Where " -s" goes in a planned command: it comes before any word from
 * the arguments, so the first occurrence is the one. */
#define SIM "@SIM@"

static void expand(const char *tmpl, bool sim, struct kp_buf *out)
{
	const char *at = strstr(tmpl, SIM);
	kp_buf_reset(out);
	kp_buf_add(out, tmpl, (size_t)(at - tmpl));
	if (sim)
		kp_buf_addstr(out, " -s");
	kp_buf_addstr(out, at + strlen(SIM));
}

/* "DEBIAN_FRONTEND=noninteractive apt-get -y -q SIM -o ... OP" */
static void base_cmd(const struct kp_modctx *ctx, const char *op, struct kp_buf *b)
{
	const struct kp_value *rec = kp_arg(ctx, "install_recommends");
	const char *rel = kp_arg_str(ctx, "default_release"),
		   *opts = kp_arg_str(ctx, "dpkg_options");
	kp_buf_addf(
	    b, "DEBIAN_FRONTEND=noninteractive apt-get -y -q" SIM " -o DPkg::Lock::Timeout=%lld",
	    (long long)kp_arg_int(ctx, "lock_timeout"));
	while (opts && *opts) {
		size_t len = strcspn(opts, ",");
		struct kp_buf o = KP_BUF_INIT;
		if (len) {
			kp_buf_addf(&o, "Dpkg::Options::=--%.*s", (int)len, opts);
			kp_buf_addstr(b, " -o");
			add_word(b, o.buf);
		}
		kp_buf_release(&o);
		opts += len + (opts[len] == ',');
	}
	if (kp_arg_bool(ctx, "allow_downgrade") || kp_arg_bool(ctx, "allow_downgrades"))
		kp_buf_addstr(b, " --allow-downgrades");
	if (kp_arg_bool(ctx, "allow_change_held_packages"))
		kp_buf_addstr(b, " --allow-change-held-packages");
	if (kp_arg_bool(ctx, "force"))
		kp_buf_addstr(b, " --force-yes");
	if (rec && rec->type == KP_V_BOOL)
		kp_buf_addf(b, " -o APT::Install-Recommends=%s", rec->u.b ? "yes" : "no");
	if (rel) {
		kp_buf_addstr(b, " -t");
		add_word(b, rel);
	}
	kp_buf_addf(b, " %s", op);
}

/* Run a helper command that must succeed; false (the task failed) if not. */
static kp_rc must(struct kp_modctx *ctx, struct kp_result *res, const char *cmd,
		  struct kp_exec_res *r, bool *ok, struct kp_buf *err)
{
	kp_exec_res_release(r);
	kp_exec_res_init(r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd, r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd, r);
	return rc;
}

/* Ansible's cache time: update-success-stamp's mtime, else the lists'. */
static kp_rc cache_time(struct kp_modctx *ctx, struct kp_result *res, long long *t, long long *now,
			bool *ok, struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_rc rc = must(ctx, res,
			"{ stat -c %Y /var/lib/apt/periodic/update-success-stamp 2>/dev/null || "
			"stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0; }; date +%s",
			&r, ok, err);
	if (!rc && *ok && sscanf(r.out.buf, "%lld %lld", t, now) != 2)
		*ok = !kp_mod_failf(res, "cannot read the age of the apt package lists");
	kp_exec_res_release(&r);
	return rc;
}

/* dpkg's status of one package: "ii 1.2-3", or "" when unknown */
static kp_rc pkg_status(struct kp_modctx *ctx, struct kp_result *res, const char *name,
			struct kp_buf *out, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_buf_addstr(&cmd, "dpkg-query -W -f '${db:Status-Abbrev}${Version}' --");
	add_word(&cmd, name);
	kp_exec_res_init(&r);
	kp_rc rc = kp_mod_sh(ctx, res, cmd.buf, &r, err);
	kp_buf_reset(out);
	if (!rc && r.rc == 0)
		kp_buf_add(out, r.out.buf, r.out.len);
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

/* The packages of the task that need the step: present/fixed skip those
 * installed at the wanted version; absent keeps those installed (or with
 * their configuration left, when purging). Words go into cmd. */
static kp_rc package_words(struct kp_modctx *ctx, struct kp_result *res, const char **pk, size_t n,
			   const char *state, struct kp_buf *cmd, size_t *count, struct kp_buf *err)
{
	struct kp_buf st = KP_BUF_INIT, name = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	bool purge = kp_arg_bool(ctx, "purge");
	*count = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const char *eq = strchr(pk[i], '=');
		kp_buf_reset(&name);
		kp_buf_add(&name, pk[i], eq ? (size_t)(eq - pk[i]) : strlen(pk[i]));
		if (!strcmp(state, "latest")) {
			add_word(cmd, pk[i]);
			(*count)++;
			continue;
		}
		if ((rc = pkg_status(ctx, res, name.buf, &st, err)))
			break;
		/* "ii 1.0-1": want, status, error flag, then the version */
		bool installed = st.len >= 3 && st.buf[1] == 'i';
		bool conffiles = st.len >= 3 && st.buf[1] == 'c';
		const char *ver = st.len >= 3 ? st.buf + 3 : "";
		if (!strcmp(state, "absent")) {
			if (installed || (purge && conffiles)) {
				add_word(cmd, name.buf);
				(*count)++;
			}
		} else if (!installed || (eq && fnmatch(eq + 1, ver, 0))) {
			add_word(cmd, pk[i]);
			(*count)++;
		}
	}
	kp_buf_release(&st);
	kp_buf_release(&name);
	return rc;
}

/* The apt-get commands of the task, after the package lists. */
static kp_rc make_plan(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl,
		       struct kp_buf *err)
{
	const char **pk = NULL;
	size_t n = names(ctx, &pk), count = 0;
	const char *up = upgrade_mode(ctx), *state = kp_arg_str(ctx, "state");
	const char *deb = kp_arg_str(ctx, "deb");
	struct kp_buf cmd = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	bool all = false;

	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(pk[i], '=');
		if (!strcmp(pk[i], "*"))
			all = true;
		else if (!*pk[i] || (eq && strchr(eq + 1, '=')))
			goto bad_spec;
	}
	if (!strcmp(up, "no") && all && !strcmp(state, "latest")) {
		if (n > 1) {
			kp_mod_failf(res, "unable to install additional packages when upgrading "
					  "all installed packages");
			goto out;
		}
		up = "yes";
		n = 0;
	}
	if (strcmp(up, "no")) {
		bool dist = !strcmp(up, "full") || !strcmp(up, "dist");
		base_cmd(ctx, dist ? "dist-upgrade" : "upgrade --with-new-pkgs", &cmd);
		if (kp_arg_bool(ctx, "autoremove"))
			kp_buf_addstr(&cmd, " --auto-remove");
		add_cmd(pl, &cmd);
		goto out;
	}
	if (deb) {
		if (strcmp(state, "present")) {
			kp_mod_failf(res, "deb only supports state=present");
			goto out;
		}
		base_cmd(ctx, "install", &cmd);
		struct kp_buf p = KP_BUF_INIT;
		kp_buf_addf(&p, "%s%s", deb[0] == '/' || deb[0] == '.' ? "" : "./", deb);
		add_word(&cmd, p.buf);
		kp_buf_release(&p);
		add_cmd(pl, &cmd);
		goto out;
	}
	if (!n) {
		if (kp_arg_bool(ctx, "autoclean")) {
			base_cmd(ctx, "autoclean", &cmd);
			add_cmd(pl, &cmd);
			pl->autoclean = true;
		}
		if (kp_arg_bool(ctx, "autoremove")) {
			base_cmd(ctx,
				 kp_arg_bool(ctx, "purge") ? "autoremove --purge" : "autoremove",
				 &cmd);
			add_cmd(pl, &cmd);
		}
		goto out;
	}
	const char *op = !strcmp(state, "absent")
			     ? (kp_arg_bool(ctx, "purge") ? "remove --purge" : "remove")
			 : !strcmp(state, "fixed") ? "install --fix-broken"
						   : "install";
	base_cmd(ctx, op, &cmd);
	if (kp_arg_bool(ctx, "only_upgrade") && strcmp(state, "absent"))
		kp_buf_addstr(&cmd, " --only-upgrade");
	if (kp_arg_bool(ctx, "autoremove"))
		kp_buf_addstr(&cmd, " --auto-remove");
	kp_buf_addstr(&cmd, " --");
	if ((rc = package_words(ctx, res, pk, n, state, &cmd, &count, err)))
		goto out;
	if (count)
		add_cmd(pl, &cmd);
	goto out;
bad_spec:
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(pk[i], '=');
		if (!*pk[i] || (eq && strchr(eq + 1, '='))) {
			kp_mod_failf(res, "invalid package spec: %s", pk[i]);
			break;
		}
	}
out:
	kp_buf_release(&cmd);
	free(pk);
	return rc;
}

/* The first "E: ..." line of apt's stderr, else its first line. */
static void apt_error(const struct kp_buf *e, struct kp_buf *out)
{
	const char *p = strstr(e->buf, "E: ");
	if (p && (p == e->buf || p[-1] == '\n'))
		p += 3;
	else
		p = e->buf;
	while (*p == '\n')
		p++;
	kp_buf_add(out, p, strcspn(p, "\n"));
}

/* Inst/Remv/Purg/Del lines of a simulation, as "a 1.0 -> 1.1, b (new) 2.0,
 * c removed"; the count of them. */
static size_t sim_changes(const char *out, bool dels, struct kp_buf *desc)
{
	size_t n = 0;
	for (const char *l = out; *l;) {
		size_t len = strcspn(l, "\n");
		char name[256] = "", old[128] = "", new[128] = "";
		const char *what = NULL;
		if (!strncmp(l, "Inst ", 5)) {
			if (sscanf(l + 5, "%255s [%127[^]]] (%127s", name, old, new) == 3)
				what = "upgrade";
			else if (sscanf(l + 5, "%255s (%127s", name, new) == 2)
				what = "install";
		} else if (!strncmp(l, "Remv ", 5) || !strncmp(l, "Purg ", 5)) {
			if (sscanf(l + 5, "%255s", name) == 1)
				what = "remove";
		} else if (dels && !strncmp(l, "Del ", 4)) {
			if (sscanf(l + 4, "%255s %127s", name, new) >= 1)
				what = "clean";
		}
		if (what) {
			if (n++)
				kp_buf_addstr(desc, ", ");
			if (!strcmp(what, "upgrade"))
				kp_buf_addf(desc, "%s %s -> %s", name, old, new);
			else if (!strcmp(what, "install"))
				kp_buf_addf(desc, "%s (new) %s", name, new);
			else if (!strcmp(what, "remove"))
				kp_buf_addf(desc, "%s removed", name);
			else
				kp_buf_addf(desc, "%s %s cleaned from the cache", name, new);
		}
		l += len + (l[len] == '\n');
	}
	return n;
}

static void set_facts(struct kp_result *res, const struct plan *pl)
{
	if (!res->facts)
		res->facts = kp_value_map();
	kp_map_set_take(res->facts, "cache_updated", kp_value_bool(pl->cache_updated));
	kp_map_set_take(res->facts, "cache_update_time", kp_value_int(pl->cache_time));
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct plan *pl = kp_xcalloc(1, sizeof(*pl));
	struct kp_exec_res r;
	struct kp_buf desc = KP_BUF_INIT, cmd = KP_BUF_INIT;
	const char **pk = NULL;
	size_t npk = names(ctx, &pk);
	const char *up = upgrade_mode(ctx);
	long long t = 0, now = 0, valid = kp_arg_int(ctx, "cache_valid_time");
	bool ok = true, stale = false;
	kp_rc rc;

	free(pk);
	ctx->state = pl;
	ctx->free_state = plan_free;
	kp_exec_res_init(&r);
	if (!up) {
		kp_mod_failf(res, "argument 'upgrade' of module 'apt' must be one of: no, yes, "
				  "safe, full, dist");
		rc = KP_OK;
		goto out;
	}
	if (!npk && !strcmp(up, "no") && !kp_arg_str(ctx, "deb") &&
	    !kp_arg_bool(ctx, "autoremove") && !kp_arg_bool(ctx, "update_cache")) {
		kp_mod_failf(res, "one of the following is required: autoremove, deb, name, "
				  "update_cache, upgrade");
		rc = KP_OK;
		goto out;
	}
	if ((rc = cache_time(ctx, res, &t, &now, &ok, err)) || !ok)
		goto out;
	pl->cache_time = t;
	if (kp_arg_bool(ctx, "update_cache") || valid > 0)
		stale = t + valid < now;
	if (stale && ctx->check_mode) {
		pl->cache_updated = true;
	} else if (stale) {
		kp_buf_addf(&cmd, "apt-get update -q -o DPkg::Lock::Timeout=%lld",
			    (long long)kp_arg_int(ctx, "lock_timeout"));
		if ((rc = must(ctx, res, cmd.buf, &r, &ok, err)) || !ok)
			goto out;
		long long t2;
		if ((rc = cache_time(ctx, res, &t2, &now, &ok, err)) || !ok)
			goto out;
		pl->cache_updated = t2 != t;
		pl->cache_time = t2;
	}
	if (!npk && !strcmp(up, "no") && !kp_arg_str(ctx, "deb") &&
	    !kp_arg_bool(ctx, "autoremove")) {
		/* only the package lists: changed when they were updated */
		res->changed = pl->cache_updated;
		kp_buf_reset(&res->msg);
		kp_buf_addstr(&res->msg, !pl->cache_updated ? "apt package lists are fresh"
					 : ctx->check_mode  ? "would update the apt package lists"
							    : "updated the apt package lists");
		set_facts(res, pl); /* apply has nothing left to do */
		goto out;
	}
	if ((rc = make_plan(ctx, res, pl, err)) || res->failed)
		goto out;
	size_t changes = 0;
	for (size_t i = 0; i < pl->n; i++) {
		expand(pl->cmds[i], true, &cmd);
		kp_exec_res_release(&r);
		kp_exec_res_init(&r);
		if ((rc = kp_mod_sh(ctx, res, cmd.buf, &r, err)))
			goto out;
		if (r.rc != 0) {
			struct kp_buf e = KP_BUF_INIT;
			apt_error(&r.err, &e);
			kp_mod_failf(res, "%s", e.buf);
			kp_buf_release(&e);
			goto out;
		}
		if (changes)
			kp_buf_addstr(&desc, ", ");
		changes += sim_changes(r.out.buf, pl->autoclean, &desc);
	}
	set_facts(res, pl);
	kp_buf_reset(&res->msg);
	res->changed = changes > 0;
	if (changes)
		kp_buf_addf(&res->msg, "would change: %s", desc.buf);
	else
		kp_buf_addstr(&res->msg, "nothing to change");
out:
	kp_exec_res_release(&r);
	kp_buf_release(&desc);
	kp_buf_release(&cmd);
	return rc;
}

/* Every package dpkg knows: "name version status" lines, sorted. */
static kp_rc snapshot(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *out, bool *ok,
		      struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_rc rc = must(ctx, res,
			"dpkg-query -W -f '${binary:Package} ${Version} ${db:Status-Abbrev}\\n' "
			"| sort",
			&r, ok, err);
	kp_buf_reset(out);
	if (!rc && *ok)
		kp_buf_add(out, r.out.buf, r.out.len);
	kp_exec_res_release(&r);
	return rc;
}

/* The value of "name version status" line l (up to the newline) */
static bool line_fields(const char *l, char *name, char *ver, char *st)
{
	return sscanf(l, "%255s %127s %7s", name, ver, st) == 3;
}

/* What changed between two snapshots, in words. */
static void snapshot_diff(const char *a, const char *b, struct kp_buf *out)
{
	size_t n = 0;
	/* each package installed after: compare with before */
	for (const char *l = b; *l;) {
		size_t len = strcspn(l, "\n");
		char name[256], ver[128], st[8];
		if (line_fields(l, name, ver, st) && st[1] == 'i') {
			char pat[300], oname[256], over[128], ost[8];
			snprintf(pat, sizeof(pat), "\n%s ", name);
			const char *o = !strncmp(a, pat + 1, strlen(pat + 1)) ? a : strstr(a, pat);
			if (o && *o == '\n')
				o++;
			bool was = o && line_fields(o, oname, over, ost) && ost[1] == 'i';
			if (!was)
				kp_buf_addf(out, "%s%s (new) %s", n++ ? ", " : "", name, ver);
			else if (strcmp(over, ver))
				kp_buf_addf(out, "%s%s %s -> %s", n++ ? ", " : "", name, over, ver);
		}
		l += len + (l[len] == '\n');
	}
	for (const char *l = a; *l;) {
		size_t len = strcspn(l, "\n");
		char name[256], ver[128], st[8];
		if (line_fields(l, name, ver, st) && st[1] == 'i') {
			char pat[300], nname[256], nver[128], nst[8];
			snprintf(pat, sizeof(pat), "\n%s ", name);
			const char *o = !strncmp(b, pat + 1, strlen(pat + 1)) ? b : strstr(b, pat);
			if (o && *o == '\n')
				o++;
			if (!(o && line_fields(o, nname, nver, nst) && nst[1] == 'i'))
				kp_buf_addf(out, "%s%s removed", n++ ? ", " : "", name);
		}
		l += len + (l[len] == '\n');
	}
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct plan *pl = ctx->state;
	struct kp_buf before = KP_BUF_INIT, after = KP_BUF_INIT, cmd = KP_BUF_INIT;
	struct kp_buf desc = KP_BUF_INIT;
	struct kp_exec_res r;
	bool ok = true, cleaned = false;
	kp_rc rc;

	if (!pl)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (!pl->n) /* only the package lists, updated by the probe */
		return KP_OK;
	kp_exec_res_init(&r);
	if ((rc = snapshot(ctx, res, &before, &ok, err)) || !ok)
		goto out;
	for (size_t i = 0; i < pl->n; i++) {
		expand(pl->cmds[i], false, &cmd);
		kp_exec_res_release(&r);
		kp_exec_res_init(&r);
		if ((rc = kp_mod_sh(ctx, res, cmd.buf, &r, err)))
			goto out;
		kp_buf_reset(&res->out);
		kp_buf_add(&res->out, r.out.buf, r.out.len);
		kp_buf_reset(&res->err);
		kp_buf_add(&res->err, r.err.buf, r.err.len);
		res->has_rc = true;
		res->rc = r.rc;
		if (r.timed_out) {
			kp_mod_fail_timeout(ctx, NULL, res);
			goto out;
		}
		if (r.rc != 0) {
			struct kp_buf e = KP_BUF_INIT;
			apt_error(&r.err, &e);
			kp_mod_failf(res, "'%s' failed: %s", cmd.buf, e.buf);
			kp_buf_release(&e);
			res->changed = true; /* something may have changed */
			goto out;
		}
		if (pl->autoclean && sim_changes(r.out.buf, true, &desc))
			cleaned = true;
	}
	if ((rc = snapshot(ctx, res, &after, &ok, err)) || !ok)
		goto out;
	kp_buf_reset(&desc);
	snapshot_diff(before.buf, after.buf, &desc);
	res->changed = strcmp(before.buf, after.buf) != 0 || cleaned;
	kp_buf_reset(&res->msg);
	if (desc.len)
		kp_buf_addf(&res->msg, "changed: %s", desc.buf);
	else
		kp_buf_addstr(&res->msg,
			      res->changed ? "package states changed" : "nothing changed");
out:
	kp_exec_res_release(&r);
	kp_buf_release(&before);
	kp_buf_release(&after);
	kp_buf_release(&cmd);
	kp_buf_release(&desc);
	return rc;
}

const struct kp_module kp_mod_apt = {
    .name = "apt",
    .summary = "install, upgrade and remove packages with apt-get (Ansible's apt)",
    .args = args,
    .exclusive = exclusive,
    .free_form = "name",
    .probe = probe,
    .apply = apply,
};
