/*
 * apt_pin.c - install an exact package version with apt and hold it.
 *
 * The probe reads what is installed and held (dpkg-query, apt-mark
 * showhold) and what the repository offers (apt-cache madison), resolves
 * a short version ("1.13.3") to the one candidate it names ("1.13.3-00"),
 * and plans only what is needed: unhold, one apt-get install for all the
 * names, hold again. Refreshing stale package lists (update_cache) is done
 * by the probe in a real run, because resolving the version needs fresh
 * lists and the lists are apt's cache, not state the plan manages; check
 * mode never refreshes them and says when they are stale.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct kp_argspec args[] = {
    {.name = "name", .type = KP_T_STR_OR_LIST, .required = true, .help = "package name(s)"},
    {.name = "version",
     .type = KP_T_STR,
     .required = true,
     .help = "1.13.3, 1.13.3-00 or v1.13.3; a short version resolves to the one candidate"},
    {.name = "hold", .type = KP_T_BOOL, .def = "true", .help = "apt-mark hold afterwards"},
    {.name = "update_cache",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "apt-get update when the cache is older than cache_valid_time"},
    {.name = "cache_valid_time",
     .type = KP_T_DURATION,
     .def = "1h",
     .help = "how old the apt cache may be"},
    {.name = "allow_downgrade",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "allow installing an older version"},
    {.name = "lock_timeout",
     .type = KP_T_DURATION,
     .def = "2m",
     .help = "wait this long for another apt/dpkg holding the lock"},
    {0},
};

/* A word for a shell command line, quoted only when it needs it. */
static void add_word(struct kp_buf *b, const char *w)
{
	const char *argv[] = {w, NULL};
	kp_mod_join_words(argv, b);
}

struct pkg {
	char *name;
	char *installed; /* NULL: not installed */
	bool held;
	char *target;
	bool install, unhold, hold;
};

struct plan {
	struct pkg *p;
	size_t n;
};

static void plan_free(void *arg)
{
	struct plan *pl = arg;
	for (size_t i = 0; i < pl->n; i++) {
		free(pl->p[i].name);
		free(pl->p[i].installed);
		free(pl->p[i].target);
	}
	free(pl->p);
	free(pl);
}

/* "1:1.13.3-00" -> "1.13.3-00": matching ignores the epoch. */
static const char *no_epoch(const char *v)
{
	const char *c = strchr(v, ':');
	return c ? c + 1 : v;
}

/* The versions `apt-cache madison` lists (second column), without repeats. */
static void madison_versions(const char *out, char ***vers, size_t *n)
{
	size_t cap = 0;
	*vers = NULL;
	*n = 0;
	for (const char *l = out; *l;) {
		size_t len = strcspn(l, "\n");
		const char *bar = memchr(l, '|', len);
		if (bar) {
			const char *v = bar + 1, *end = memchr(v, '|', len - (size_t)(v - l));
			if (end) {
				while (v < end && *v == ' ')
					v++;
				const char *e = end;
				while (e > v && e[-1] == ' ')
					e--;
				bool dup = false;
				for (size_t i = 0; i < *n; i++)
					dup |= strlen((*vers)[i]) == (size_t)(e - v) &&
					       !strncmp((*vers)[i], v, (size_t)(e - v));
				if (e > v && !dup) {
					KP_GROW(*vers, *n + 1, cap);
					(*vers)[(*n)++] = kp_xstrndup(v, (size_t)(e - v));
				}
			}
		}
		l += len;
		if (*l)
			l++;
	}
}

/* The candidate `want` names: itself when it has a Debian revision, else
 * the one "want-REV". Fails the task listing the offer otherwise. */
static bool resolve(struct kp_result *res, const char *name, const char *want,
		    const char *installed, char **vers, size_t n, char **out)
{
	bool exact = strchr(want, '-') != NULL;
	size_t wl = strlen(want), found = 0;
	struct kp_buf offer = KP_BUF_INIT, match = KP_BUF_INIT;
	const char *hit = NULL;

	for (size_t i = 0; i < n; i++) {
		const char *v = no_epoch(vers[i]);
		kp_buf_addf(&offer, "%s%s", i ? ", " : "", vers[i]);
		if (!strcmp(v, want) || (!exact && !strncmp(v, want, wl) && v[wl] == '-')) {
			kp_buf_addf(&match, "%s%s", found ? ", " : "", vers[i]);
			hit = vers[i];
			found++;
		}
	}
	if (found == 1) {
		*out = kp_xstrdup(hit);
	} else if (!found && installed && !strcmp(no_epoch(installed), want)) {
		/* installed already, even if the repository dropped it */
		*out = kp_xstrdup(installed);
		found = 1;
	} else if (!found && !n) {
		kp_mod_failf(res,
			     "%s: the repository offers no version of it (is its apt source "
			     "configured?)",
			     name);
	} else if (!found) {
		kp_mod_failf(res, "%s: no version matching '%s' in the repository (it offers %s)",
			     name, want, offer.buf);
	} else {
		kp_mod_failf(res, "%s: '%s' matches several versions (%s): give the full version",
			     name, want, match.buf);
	}
	kp_buf_release(&offer);
	kp_buf_release(&match);
	return found == 1;
}

/* Whether the newest package list is older than cache_valid_time (or
 * there is none); *age_s is -1 when there is none. */
static kp_rc cache_stale(struct kp_modctx *ctx, struct kp_result *res, bool *stale,
			 long long *age_s, struct kp_buf *err)
{
	struct kp_exec_res r;
	bool ok;
	long long newest = 0, now = 0;
	kp_exec_res_init(&r);
	kp_rc rc =
	    kp_mod_must(ctx, res,
			"stat -c %Y /var/lib/apt/lists/*_Packages* /var/cache/apt/pkgcache.bin "
			"2>/dev/null | sort -n | tail -n 1; date +%s",
			&r, &ok, err);
	*stale = true;
	*age_s = -1;
	if (!rc && ok) {
		/* one line (date) when no list exists, two otherwise */
		int k = sscanf(r.out.buf, "%lld %lld", &newest, &now);
		if (k == 2 && newest >= 0 && now >= 0) {
			/* no overflow whatever the node prints; lists from the
			 * future (clock skew) are fresh */
			*age_s = now > newest ? now - newest : 0;
			*stale = *age_s > kp_arg_int(ctx, "cache_valid_time") / 1000;
		}
	}
	kp_exec_res_release(&r);
	return rc;
}

static void describe(const struct pkg *p, bool after, struct kp_buf *out)
{
	if (!after && !p->installed) {
		kp_buf_addf(out, "%s (not installed)", p->name);
		return;
	}
	bool held = after ? p->hold || (p->held && !p->unhold) : p->held;
	kp_buf_addf(out, "%s%s%s", after ? "" : p->name, after ? "" : " ",
		    after ? p->target : p->installed);
	if (held)
		kp_buf_addstr(out, " (held)");
}

static void set_facts(struct kp_result *res, const struct plan *pl)
{
	struct kp_value *f = kp_value_map(), *pk = kp_value_map();
	for (size_t i = 0; i < pl->n; i++) {
		const struct pkg *p = &pl->p[i];
		struct kp_value *m = kp_value_map();
		kp_map_set_take(m, "before",
				p->installed ? kp_value_str(p->installed) : kp_value_null());
		kp_map_set_take(m, "after", kp_value_str(p->target));
		kp_map_set_take(m, "held", kp_value_bool(p->hold || (p->held && !p->unhold)));
		if (pl->n == 1)
			kp_map_update(f, m);
		kp_map_set_take(pk, p->name, m);
	}
	kp_map_set_take(f, "packages", pk);
	kp_value_unref(res->facts);
	res->facts = f;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const struct kp_value *names = kp_arg(ctx, "name");
	const char *want = kp_arg_str(ctx, "version");
	struct plan *pl = kp_xcalloc(1, sizeof(*pl));
	struct kp_exec_res r;
	struct kp_buf cmd = KP_BUF_INIT, note = KP_BUF_INIT, holds = KP_BUF_INIT;
	bool ok = true;
	kp_rc rc = KP_OK;

	ctx->state = pl;
	ctx->free_state = plan_free;
	kp_exec_res_init(&r);
	if (want[0] == 'v')
		want++;
	if (names->type == KP_V_STR) {
		pl->p = kp_xcalloc(1, sizeof(*pl->p));
		pl->p[pl->n++].name = kp_xstrdup(names->u.str.s);
	} else {
		pl->p = kp_xcalloc(kp_list_len(names) + 1, sizeof(*pl->p));
		for (size_t i = 0; i < kp_list_len(names); i++) {
			struct kp_buf b = KP_BUF_INIT;
			kp_value_to_text(kp_list_at(names, i), false, &b);
			pl->p[pl->n++].name = kp_buf_detach(&b, NULL);
		}
	}

	if (kp_arg_bool(ctx, "update_cache")) {
		bool stale;
		long long age;
		if ((rc = cache_stale(ctx, res, &stale, &age, err)) || res->failed)
			goto out;
		if (stale && ctx->check_mode) {
			if (age < 0)
				kp_buf_addstr(&note, " (no apt package lists yet: the run runs "
						     "apt-get update first)");
			else
				kp_buf_addf(&note,
					    " (apt package lists are %llds old: the run "
					    "runs apt-get update first)",
					    age);
		} else if (stale) {
			kp_buf_addf(&cmd, "apt-get -o DPkg::Lock::Timeout=%lld update",
				    (long long)(kp_arg_int(ctx, "lock_timeout") / 1000));
			if ((rc = kp_mod_must(ctx, res, cmd.buf, &r, &ok, err)) || !ok)
				goto out;
		}
	}
	if ((rc = kp_mod_must(ctx, res, "apt-mark showhold", &r, &ok, err)) || !ok)
		goto out;
	kp_buf_addf(&holds, "\n%s\n", r.out.buf);

	for (size_t i = 0; i < pl->n; i++) {
		struct pkg *p = &pl->p[i];
		struct kp_buf needle = KP_BUF_INIT;
		kp_buf_addf(&needle, "\n%s\n", p->name);
		p->held = strstr(holds.buf, needle.buf) != NULL;
		kp_buf_release(&needle);

		/* not installed: rc 1, or a status other than "... installed" */
		kp_buf_reset(&cmd);
		kp_buf_addstr(&cmd, "dpkg-query -W -f '${Status}\\t${Version}' ");
		add_word(&cmd, p->name);
		kp_exec_res_release(&r);
		kp_exec_res_init(&r);
		if ((rc = kp_mod_sh(ctx, res, cmd.buf, &r, err)))
			goto out;
		char *tab = strchr(r.out.buf, '\t');
		if (r.rc == 0 && tab && tab - r.out.buf >= 10 &&
		    !strncmp(tab - 10, " installed", 10))
			p->installed = kp_xstrndup(tab + 1, strcspn(tab + 1, "\r\n"));

		kp_buf_reset(&cmd);
		kp_buf_addstr(&cmd, "apt-cache madison ");
		add_word(&cmd, p->name);
		if ((rc = kp_mod_must(ctx, res, cmd.buf, &r, &ok, err)) || !ok)
			goto out;
		char **vers;
		size_t nv;
		madison_versions(r.out.buf, &vers, &nv);
		ok = resolve(res, p->name, want, p->installed, vers, nv, &p->target);
		for (size_t j = 0; j < nv; j++)
			free(vers[j]);
		free(vers);
		if (!ok)
			goto out;

		p->install = !p->installed || strcmp(p->installed, p->target);
		if (p->install && p->installed) {
			bool older = false;
			kp_version_compare(no_epoch(p->target), "<", no_epoch(p->installed),
					   &older);
			if (older && !kp_arg_bool(ctx, "allow_downgrade")) {
				kp_mod_failf(res,
					     "%s: installing %s would downgrade it from %s (set "
					     "allow_downgrade: true to allow that)",
					     p->name, p->target, p->installed);
				goto out;
			}
		}
		p->unhold = p->install && p->held;
		p->hold = kp_arg_bool(ctx, "hold") && (p->unhold || !p->held);
	}

	set_facts(res, pl);
	kp_buf_reset(&res->msg);
	size_t nchanged = 0;
	for (size_t i = 0; i < pl->n; i++) {
		struct pkg *p = &pl->p[i];
		if (!p->install && !p->hold)
			continue;
		kp_buf_addstr(&res->msg, nchanged++ ? ", " : "");
		describe(p, false, &res->msg);
		kp_buf_addstr(&res->msg, " -> ");
		describe(p, true, &res->msg);
	}
	res->changed = nchanged > 0;
	if (!nchanged) {
		for (size_t i = 0; i < pl->n; i++) {
			kp_buf_addstr(&res->msg, i ? ", " : "");
			describe(&pl->p[i], false, &res->msg);
		}
		kp_buf_addstr(&res->msg, ": nothing to do");
	}
	kp_buf_addstr(&res->msg, note.buf);
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&note);
	kp_buf_release(&holds);
	return rc;
}

/* "apt-mark hold a b" for the packages f selects; empty when none. */
static void mark_cmd(const struct plan *pl, const char *verb, bool (*f)(const struct pkg *),
		     struct kp_buf *out)
{
	kp_buf_reset(out);
	for (size_t i = 0; i < pl->n; i++) {
		if (!f(&pl->p[i]))
			continue;
		if (!out->len)
			kp_buf_addf(out, "apt-mark %s", verb);
		kp_buf_addch(out, ' ');
		add_word(out, pl->p[i].name);
	}
}

static bool wants_unhold(const struct pkg *p)
{
	return p->unhold;
}
static bool wants_hold(const struct pkg *p)
{
	return p->hold;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct plan *pl = ctx->state;
	struct kp_buf cmd = KP_BUF_INIT, msg = KP_BUF_INIT;
	struct kp_exec_res r;
	bool ok = true, any = false;
	kp_rc rc = KP_OK;

	if (!pl)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	kp_exec_res_init(&r);
	kp_buf_add(&msg, res->msg.buf, res->msg.len);

	mark_cmd(pl, "unhold", wants_unhold, &cmd);
	if (cmd.len && ((rc = kp_mod_must(ctx, res, cmd.buf, &r, &ok, err)) || !ok))
		goto out;

	kp_buf_reset(&cmd);
	kp_buf_addf(&cmd,
		    "DEBIAN_FRONTEND=noninteractive apt-get install -y "
		    "--allow-change-held-packages -o Dpkg::Options::=--force-confold "
		    "-o DPkg::Lock::Timeout=%lld%s",
		    (long long)(kp_arg_int(ctx, "lock_timeout") / 1000),
		    kp_arg_bool(ctx, "allow_downgrade") ? " --allow-downgrades" : "");
	for (size_t i = 0; i < pl->n; i++) {
		struct kp_buf w = KP_BUF_INIT;
		if (!pl->p[i].install)
			continue;
		any = true;
		kp_buf_addf(&w, "%s=%s", pl->p[i].name, pl->p[i].target);
		kp_buf_addch(&cmd, ' ');
		add_word(&cmd, w.buf);
		kp_buf_release(&w);
	}
	if (any) {
		if ((rc = kp_mod_must(ctx, res, cmd.buf, &r, &ok, err)))
			goto out;
		res->has_rc = true;
		res->rc = r.rc;
		kp_buf_reset(&res->out);
		kp_buf_add(&res->out, r.out.buf, r.out.len);
		kp_buf_reset(&res->err);
		kp_buf_add(&res->err, r.err.buf, r.err.len);
		if (!ok) {
			/* do not leave what we unheld unheld: a later
			 * unattended upgrade would move it */
			struct kp_exec_res r2;
			struct kp_buf c2 = KP_BUF_INIT;
			bool ok2;
			mark_cmd(pl, "hold", wants_unhold, &c2);
			if (c2.len) {
				kp_exec_res_init(&r2);
				struct kp_result scratch;
				kp_result_init(&scratch);
				if (!kp_mod_must(ctx, &scratch, c2.buf, &r2, &ok2, err) && ok2)
					kp_buf_addstr(&res->msg, "; held again");
				kp_buf_add(&res->cmds, scratch.cmds.buf, scratch.cmds.len);
				kp_result_release(&scratch);
				kp_exec_res_release(&r2);
			}
			kp_buf_release(&c2);
			goto out;
		}
	}
	mark_cmd(pl, "hold", wants_hold, &cmd);
	if (cmd.len && ((rc = kp_mod_must(ctx, res, cmd.buf, &r, &ok, err)) || !ok))
		goto out;
	kp_buf_reset(&res->msg);
	kp_buf_add(&res->msg, msg.buf, msg.len);
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	kp_buf_release(&msg);
	return rc;
}

const struct kp_module kp_mod_apt_pin = {
    .name = "apt-pin",
    .summary = "install an exact package version and hold it",
    .args = args,
    .probe = probe,
    .apply = apply,
};
