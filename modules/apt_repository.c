/*
 * apt_repository.c - a one-line APT source in /etc/apt/sources.list or
 * the .list files of /etc/apt/sources.list.d, as ansible-core's apt_repository keeps
 * them.
 *
 * Its model, kept here: every line of those files is parsed into (enabled,
 * source, comment), a source's blanks collapsed; `present` enables every
 * line holding the source (commented out or not), else appends it to
 * sources.list.d/FILENAME.list (FILENAME: the `filename` argument, or the
 * source's first address without options, scheme and user, its other
 * characters turned to '_'); `absent` deletes every enabled line holding
 * it. When the files' rendering changes, each file is written as Ansible
 * renders it ("# " before a disabled line, " # " before a comment) and a
 * file left without lines is deleted; then `apt-get update` (update_cache,
 * retried), and on its failure the files go back as they were. Not
 * supported: ppa: sources (kplan has no Launchpad client).
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SOURCES_LIST "/etc/apt/sources.list"
#define SOURCES_DIR  "/etc/apt/sources.list.d"

static const char *const states[] = {"present", "absent", NULL};

static const struct kp_argspec args[] = {
    {.name = "repo", .type = KP_T_STR, .required = true, .help = "the source line"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "present",
     .choices = states,
     .help = "present or absent"},
    {.name = "mode", .type = KP_T_STR, .help = "the mode of a file the source is added to"},
    {.name = "update_cache",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "apt-get update after a change"},
    {.name = "update_cache_retries",
     .type = KP_T_INT,
     .def = "5",
     .help = "tries of apt-get update"},
    {.name = "update_cache_retry_max_delay",
     .type = KP_T_INT,
     .def = "12",
     .help = "the longest wait between them, in seconds"},
    {.name = "filename",
     .type = KP_T_STR,
     .help = "the file's name in sources.list.d, without .list"},
    {.name = "install_python_apt", .type = KP_T_BOOL, .def = "true", .help = "not needed by kplan"},
    {.name = "validate_certs",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "not used (no PPA lookups)"},
    {.name = "codename", .type = KP_T_STR, .help = "not used (no PPA sources)"},
    {0},
};

struct line {
	bool valid, enabled;
	char *source, *comment;
};

struct file {
	char *path;
	struct kp_buf orig; /* the bytes on the node */
	bool existed, added;
	struct line *l;
	size_t n, cap;
};

struct plan {
	struct file *f;
	size_t n, cap;
	int mode; /* for the file a source was added to; -1: 0644 when new */
};

static void plan_free(void *p)
{
	struct plan *pl = p;
	if (!pl)
		return;
	for (size_t i = 0; i < pl->n; i++) {
		for (size_t k = 0; k < pl->f[i].n; k++) {
			free(pl->f[i].l[k].source);
			free(pl->f[i].l[k].comment);
		}
		free(pl->f[i].l);
		free(pl->f[i].path);
		kp_buf_release(&pl->f[i].orig);
	}
	free(pl->f);
	free(pl);
}

static char *trimmed(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return kp_xstrndup(s, n);
}

/* Ansible's SourcesList._parse of one line. */
static struct line parse_line(const char *s, size_t n)
{
	struct line l = {.enabled = true};
	char *t = trimmed(s, n), *p = t;
	if (*p == '#') {
		l.enabled = false;
		p++;
	}
	char *hash = strchr(p, '#');
	if (hash && hash > p) {
		l.comment = trimmed(hash + 1, strlen(hash + 1));
		*hash = '\0';
	}
	char *src = trimmed(p, strlen(p));
	/* a valid source: its words joined by one blank */
	struct kp_buf w = KP_BUF_INIT;
	char *save = NULL, *first = NULL;
	for (char *tok = strtok_r(src, " \t\r\n\v\f", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n\v\f", &save)) {
		if (!first)
			first = tok;
		kp_buf_addf(&w, "%s%s", w.len ? " " : "", tok);
	}
	if (first && (!strcmp(first, "deb") || !strcmp(first, "deb-src"))) {
		l.valid = true;
		l.source = kp_buf_detach(&w, NULL);
	} else {
		l.source = trimmed(p, strlen(p));
		kp_buf_release(&w);
	}
	if (!l.comment)
		l.comment = kp_xstrdup("");
	free(src);
	free(t);
	return l;
}

static void add_line(struct file *f, struct line l)
{
	KP_GROW(f->l, f->n + 1, f->cap);
	f->l[f->n++] = l;
}

/* Ansible's dump of a file. */
static void render(const struct file *f, struct kp_buf *out)
{
	for (size_t i = 0; i < f->n; i++) {
		kp_buf_addf(out, "%s%s", f->l[i].enabled ? "" : "# ", f->l[i].source);
		if (f->l[i].comment[0])
			kp_buf_addf(out, " # %s", f->l[i].comment);
		kp_buf_addch(out, '\n');
	}
}

/* The rendering of a file's text as it is on the node. */
static void render_text(const struct kp_buf *text, struct kp_buf *out)
{
	struct file was = {0};
	for (const char *ls = text->buf ? text->buf : "", *ce = ls + text->len; ls < ce;) {
		const char *nl = memchr(ls, '\n', (size_t)(ce - ls));
		add_line(&was, parse_line(ls, (size_t)((nl ? nl : ce) - ls)));
		ls = nl ? nl + 1 : ce;
	}
	render(&was, out);
	for (size_t k = 0; k < was.n; k++) {
		free(was.l[k].source);
		free(was.l[k].comment);
	}
	free(was.l);
}

static bool same_bytes(const struct file *f, const struct kp_buf *now)
{
	return f->existed && now->len == f->orig.len &&
	       (!now->len || !memcmp(now->buf, f->orig.buf, now->len));
}

/* sources.list.d/NAME.list for a new source (Ansible's _suggest_filename). */
static char *suggest_path(const char *source, const char *filename)
{
	struct kp_buf b = KP_BUF_INIT, name = KP_BUF_INIT;
	if (filename) {
		kp_buf_addstr(&name, filename);
	} else {
		/* drop [options] and scheme://, then the types; the first word left */
		struct kp_buf s = KP_BUF_INIT;
		for (const char *c = source; *c; c++) {
			const char *close = *c == '[' ? strchr(c + 1, ']') : NULL;
			if (close && close > c + 1) {
				c = close;
				continue;
			}
			kp_buf_addch(&s, *c);
		}
		struct kp_buf t = KP_BUF_INIT;
		for (const char *c = s.buf ? s.buf : ""; *c; c++) {
			const char *e = c;
			while (isalnum((unsigned char)*e) || *e == '_')
				e++;
			if (e > c && !strncmp(e, "://", 3)) {
				c = e + 2;
				continue;
			}
			kp_buf_addch(&t, *c);
		}
		char *save = NULL, *word = NULL;
		for (char *tok = strtok_r(t.buf ? t.buf : (char[]){0}, " \t\n", &save); tok;
		     tok = strtok_r(NULL, " \t\n", &save))
			if (strcmp(tok, "deb") && strcmp(tok, "deb-src")) {
				word = tok;
				break;
			}
		if (word && strchr(word, '@'))
			word = strchr(word, '@') + 1;
		/* other characters split words joined by '_' */
		bool gap = false;
		for (const char *c = word ? word : ""; *c; c++) {
			if (isalnum((unsigned char)*c) && (unsigned char)*c < 128) {
				if (gap && name.len)
					kp_buf_addch(&name, '_');
				kp_buf_addch(&name, *c);
				gap = false;
			} else {
				gap = true;
			}
		}
		kp_buf_release(&s);
		kp_buf_release(&t);
	}
	kp_buf_addstr(&name, ".list");
	if (strchr(name.buf, '/'))
		kp_buf_addstr(&b, name.buf);
	else
		kp_buf_addf(&b, SOURCES_DIR "/%s", name.buf);
	kp_buf_release(&name);
	return kp_buf_detach(&b, NULL);
}

/* Every sources file on the node into pl. */
static kp_rc read_files(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl, bool *ok,
			struct kp_buf *err)
{
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_rc rc =
	    kp_mod_must(ctx, res,
			"for f in " SOURCES_LIST " " SOURCES_DIR "/*.list; do "
			"[ -f \"$f\" ] && printf '\\001%s\\002' \"$f\" && cat \"$f\"; done; true",
			&r, ok, err);
	if (rc || !*ok) {
		kp_exec_res_release(&r);
		return rc;
	}
	const char *s = r.out.buf ? r.out.buf : "", *end = s + r.out.len;
	while (s < end && *s == '\001') {
		const char *pe = memchr(s, '\002', (size_t)(end - s));
		if (!pe)
			break;
		const char *next = memchr(pe + 1, '\001', (size_t)(end - pe - 1));
		const char *ce = next ? next : end;
		KP_GROW(pl->f, pl->n + 1, pl->cap);
		struct file *f = &pl->f[pl->n++];
		memset(f, 0, sizeof(*f));
		f->path = kp_xstrndup(s + 1, (size_t)(pe - s - 1));
		f->existed = true;
		kp_buf_add(&f->orig, pe + 1, (size_t)(ce - pe - 1));
		for (const char *ls = pe + 1; ls < ce;) {
			const char *nl = memchr(ls, '\n', (size_t)(ce - ls));
			const char *le = nl ? nl : ce;
			add_line(f, parse_line(ls, (size_t)(le - ls)));
			ls = nl ? nl + 1 : ce;
		}
		s = ce;
	}
	kp_exec_res_release(&r);
	return KP_OK;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *repo = kp_arg_str(ctx, "repo");
	bool present = !strcmp(kp_arg_str(ctx, "state"), "present"), ok = true;
	struct plan *pl = kp_xcalloc(1, sizeof(*pl));
	struct kp_buf what = KP_BUF_INIT;
	kp_rc rc = KP_OK;

	ctx->state = pl;
	ctx->free_state = plan_free;
	pl->mode = -1;
	kp_map_set_take(res->facts, "repo", kp_value_str(repo));
	kp_map_set_take(res->facts, "state", kp_value_str(kp_arg_str(ctx, "state")));
	if (!repo[0])
		return kp_mod_failf(res, "Please set argument 'repo' to a non-empty value");
	if (!strncmp(repo, "ppa:", 4))
		return kp_mod_failf(res, "kplan does not add ppa: sources; write the deb line "
					 "of the PPA instead");
	const char *mode = kp_arg_str(ctx, "mode");
	if (mode && kp_mod_parse_mode(mode, &pl->mode, err)) {
		kp_mod_failf(res, "%s", err->buf);
		kp_buf_reset(err);
		return KP_OK;
	}
	struct line want = parse_line(repo, strlen(repo));
	if (!want.valid || !want.enabled) {
		/* Ansible names the line as its parser left it */
		const char *p = repo;
		while (isspace((unsigned char)*p))
			p++;
		kp_mod_failf(res, "Invalid repository string: %s", *p == '#' ? p + 1 : p);
		goto out;
	}
	if ((rc = read_files(ctx, res, pl, &ok, err)) || !ok)
		goto out;

	bool found = false;
	for (size_t i = 0; i < pl->n; i++) {
		struct file *f = &pl->f[i];
		for (size_t k = 0; k < f->n; k++) {
			struct line *l = &f->l[k];
			if (!l->valid || strcmp(l->source, want.source))
				continue;
			if (present) {
				l->enabled = true;
				found = true;
			} else if (l->enabled) {
				free(l->source);
				free(l->comment);
				memmove(l, l + 1, (f->n - k - 1) * sizeof(*l));
				f->n--, k--;
			}
		}
	}
	if (present && !found) {
		char *path = suggest_path(want.source, kp_arg_str(ctx, "filename"));
		struct file *f = NULL;
		for (size_t i = 0; i < pl->n && !f; i++)
			if (!strcmp(pl->f[i].path, path))
				f = &pl->f[i];
		if (!f) {
			KP_GROW(pl->f, pl->n + 1, pl->cap);
			f = &pl->f[pl->n++];
			memset(f, 0, sizeof(*f));
			f->path = path;
		} else {
			free(path);
		}
		f->added = true;
		add_line(f, (struct line){.valid = true,
					  .enabled = true,
					  .source = kp_xstrdup(want.source),
					  .comment = kp_xstrdup("")});
	}
	/* changed: Ansible compares the renderings before and after (a file
	 * without lines renders as none) */
	for (size_t i = 0; i < pl->n; i++) {
		struct file *f = &pl->f[i];
		struct kp_buf now = KP_BUF_INIT, was = KP_BUF_INIT;
		render(f, &now);
		if (f->existed)
			render_text(&f->orig, &was);
		bool had = f->existed && was.len, has = f->n > 0;
		if (had != has ||
		    (has && (now.len != was.len || memcmp(now.buf, was.buf, now.len)))) {
			res->changed = true;
			kp_buf_addf(&what, "%s'%s'", what.len ? ", " : "", f->path);
		}
		if (ctx->diff && !same_bytes(f, &now)) {
			struct kp_buf la = KP_BUF_INIT, lb = KP_BUF_INIT;
			kp_buf_addf(&la, "before: %s", f->existed ? f->path : "/dev/null");
			kp_buf_addf(&lb, "after: %s", f->n ? f->path : "/dev/null");
			kp_unified_diff(f->orig.buf ? f->orig.buf : "", f->orig.len,
					now.buf ? now.buf : "", now.len, la.buf, lb.buf,
					&res->diff);
			kp_buf_release(&la);
			kp_buf_release(&lb);
		}
		kp_buf_release(&now);
		kp_buf_release(&was);
	}
	kp_buf_reset(&res->msg);
	if (res->changed)
		kp_buf_addf(&res->msg, "would %s '%s': %s", present ? "add" : "remove", want.source,
			    what.buf ? what.buf : "");
	else
		kp_buf_addf(&res->msg, "'%s' is %s", want.source, present ? "present" : "absent");
out:
	free(want.source);
	free(want.comment);
	kp_buf_release(&what);
	return rc;
}

/* Ansible's save: every file with lines written as rendered (here: only
 * those whose bytes differ), every file without lines deleted. restore:
 * the files as they were, the new ones deleted. */
static kp_rc write_files(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl,
			 bool restore, bool *ok, struct kp_buf *err)
{
	kp_rc rc = KP_OK;
	*ok = true;
	for (size_t i = 0; i < pl->n && !rc && *ok; i++) {
		struct file *f = &pl->f[i];
		struct kp_buf now = KP_BUF_INIT, cmd = KP_BUF_INIT;
		render(f, &now);
		const struct kp_buf *data = NULL;
		bool rm = false;
		if (!restore) {
			rm = !f->n && f->existed;
			data = f->n && !same_bytes(f, &now) ? &now : NULL;
		} else {
			rm = !f->existed;
			data = f->existed && (!f->n || !same_bytes(f, &now)) ? &f->orig : NULL;
		}
		if (rm) {
			kp_buf_addstr(&cmd, "rm -f -- ");
			kp_sh_quote(&cmd, f->path);
			rc = kp_mod_must(ctx, res, cmd.buf, NULL, ok, err);
		} else if (data) {
			struct kp_put_opts o = {.mode = f->added && !restore ? pl->mode : -1};
			kp_buf_addf(&res->cmds, "put %s\n", f->path);
			rc = ctx->conn->ops->put(ctx->conn, f->path, data->buf ? data->buf : "",
						 data->len, &o, err);
		}
		kp_buf_release(&now);
		kp_buf_release(&cmd);
	}
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct plan *pl = ctx->state;
	bool ok = true;
	kp_rc rc;

	if (!pl)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if ((rc = write_files(ctx, res, pl, false, &ok, err)) || !ok)
		return rc;
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "%s '%s'",
		    strcmp(kp_arg_str(ctx, "state"), "present") ? "removed" : "added",
		    kp_arg_str(ctx, "repo"));
	if (!kp_arg_bool(ctx, "update_cache"))
		return KP_OK;
	int64_t tries = kp_arg_int(ctx, "update_cache_retries"),
		max = kp_arg_int(ctx, "update_cache_retry_max_delay");
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	for (int64_t i = 0; i < (tries > 0 ? tries : 1); i++) {
		kp_exec_res_release(&r);
		kp_exec_res_init(&r);
		if ((rc = kp_mod_sh(ctx, res, "apt-get update -q", &r, err)))
			break;
		if (!r.timed_out && r.rc == 0)
			break;
		if (i + 1 >= tries) {
			struct kp_buf why = KP_BUF_INIT;
			const char *e = r.err.buf ? r.err.buf : "";
			kp_buf_add(&why, e, strcspn(e, "\n"));
			write_files(ctx, res, pl, true, &ok, err);
			kp_mod_failf(res, "Failed to update apt cache: %s",
				     why.len ? why.buf : "unknown reason");
			kp_buf_release(&why);
			break;
		}
		int64_t delay = (int64_t)1 << (i < 20 ? i : 20);
		kp_sleep_interruptible((delay > max ? max : delay) * 1000, ctx->interrupts);
	}
	kp_exec_res_release(&r);
	return rc;
}

const struct kp_module kp_mod_apt_repository = {
    .name = "apt-repository",
    .summary = "a one-line APT source, as ansible-core's apt_repository keeps it",
    .args = args,
    .probe = probe,
    .apply = apply,
};
