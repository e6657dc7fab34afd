/*
 * lineinfile.c - ensure a line is present in (or absent from) a node file.
 *
 * Ansible's algorithm, so that ported plays behave the same: with regexp
 * the last matching line is replaced; without it a line equal to `line`
 * counts as present; otherwise the line is inserted after the last line
 * matching insertafter (or before the last one matching insertbefore), at
 * the end when that matches nothing. One deliberate addition: with regexp,
 * a file that already holds `line` exactly is left alone even when the
 * regexp matches nothing, so a too-narrow regexp cannot add the line twice.
 * The file is rewritten (atomically, keeping its mode) only when its
 * content changes.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

static const char *const states[] = {"present", "absent", NULL};

static const struct kp_argspec args[] = {
    {.name = "path", .type = KP_T_PATH, .required = true, .help = "file on the node"},
    {.name = "dest", .type = KP_T_PATH, .alias_of = "path", .help = "the same as path"},
    {.name = "destfile", .type = KP_T_PATH, .alias_of = "path", .help = "the same as path"},
    {.name = "name", .type = KP_T_PATH, .alias_of = "path", .help = "the same as path"},
    {.name = "line", .type = KP_T_STR, .help = "the line to ensure"},
    {.name = "regexp", .type = KP_T_STR, .help = "replace the last line matching this"},
    {.name = "regex", .type = KP_T_STR, .alias_of = "regexp", .help = "the same as regexp"},
    {.name = "search_string",
     .type = KP_T_STR,
     .help = "replace the last line holding this text (literally)"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "present",
     .choices = states,
     .help = "whether the line should be there"},
    {.name = "insertafter",
     .type = KP_T_STR,
     .help = "insert after the last line matching this (or EOF)"},
    {.name = "insertbefore",
     .type = KP_T_STR,
     .help = "insert before the last line matching this (or BOF)"},
    {.name = "create",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "create the file when it does not exist"},
    {.name = "backup",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "keep a timestamped copy of the file it changes"},
    {.name = "validate",
     .type = KP_T_STR,
     .help = "a command that checks the new file first, %s standing for it "
	     "(visudo -cf %s); the file is written only when it exits 0"},
    {.name = "mode", .type = KP_T_STR, .help = "the file's permissions, e.g. \"0644\""},
    {.name = "owner", .type = KP_T_STR, .help = "owning user"},
    {.name = "group", .type = KP_T_STR, .help = "owning group"},
    KP_ARGS_SELINUX,
    {0},
};

static const char *const exclusive[] = {"insertafter|insertbefore", "regexp|search_string", NULL};

#define LINEINFILE_MAX ((size_t)64 << 20)

struct line {
	const char *s;
	size_t len; /* without the newline */
	bool nl;    /* ended with "\n" */
};

struct lines {
	struct line *l;
	size_t n, cap;
};

static void split(const char *s, size_t len, struct lines *ls)
{
	const char *p = s, *end = s + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		KP_GROW(ls->l, ls->n + 1, ls->cap);
		ls->l[ls->n++] = (struct line){p, l, nl != NULL};
		p += l + (nl != NULL);
	}
}

static void insert(struct lines *ls, size_t at, const char *s)
{
	KP_GROW(ls->l, ls->n + 1, ls->cap);
	memmove(ls->l + at + 1, ls->l + at, (ls->n - at) * sizeof(*ls->l));
	ls->l[at] = (struct line){s, strlen(s), true};
	ls->n++;
}

/* A line without its newline and a trailing "\r" (Ansible strips both). */
static bool same_line(const struct line *l, const char *want)
{
	size_t n = l->len, wl = strlen(want);
	if (n && l->s[n - 1] == '\r')
		n--;
	return n == wl && !memcmp(l->s, want, n);
}

static bool matches(const regex_t *re, const struct line *l)
{
	char *tmp = kp_xstrndup(l->s, l->len);
	bool m = regexec(re, tmp, 0, NULL, 0) == 0;
	free(tmp);
	return m;
}

static kp_rc compile(const char *pat, const char *name, regex_t *re, struct kp_result *res)
{
	int e = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);
	if (e) {
		char msg[256];
		regerror(e, re, msg, sizeof(msg));
		regfree(re);
		kp_mod_failf(res, "bad %s '%s': %s", name, pat, msg);
		return KP_ERR_INVALID;
	}
	return KP_OK;
}

/* Edit `ls`; *what says what happened ("" for nothing). */
static kp_rc edit(struct kp_modctx *ctx, struct kp_result *res, struct lines *ls,
		  struct kp_buf *would, struct kp_buf *done)
{
	const char *line = kp_arg_str(ctx, "line"), *rx = kp_arg_str(ctx, "regexp");
	const char *ss = kp_arg_str(ctx, "search_string");
	struct kp_buf lit = KP_BUF_INIT; /* search_string as a regular expression */
	if (ss && !rx) {
		for (const char *c = ss; *c; c++) {
			if (strchr(".[]{}()\\*+?^$|", *c))
				kp_buf_addch(&lit, '\\');
			kp_buf_addch(&lit, *c);
		}
		rx = lit.buf ? lit.buf : "";
	}
	const char *after = kp_arg_str(ctx, "insertafter"),
		   *before = kp_arg_str(ctx, "insertbefore");
	bool absent = !strcmp(kp_arg_str(ctx, "state"), "absent");
	const char *path = kp_arg_str(ctx, "path");
	regex_t re, ins;
	bool have_re = false, have_ins = false;
	kp_rc rc = KP_OK;

	if (rx) {
		if (compile(rx, "regexp", &re, res))
			goto out;
		have_re = true;
	}
	if (absent) {
		size_t k = 0, removed = 0;
		if (!rx && !line) {
			kp_mod_failf(res, "state 'absent' needs 'regexp' or 'line'");
			goto out;
		}
		for (size_t i = 0; i < ls->n; i++) {
			if (have_re ? matches(&re, &ls->l[i]) : same_line(&ls->l[i], line))
				removed++;
			else
				ls->l[k++] = ls->l[i];
		}
		ls->n = k;
		if (removed) {
			kp_buf_addf(would, "would remove %zu line%s from '%s'", removed,
				    removed == 1 ? "" : "s", path);
			kp_buf_addf(done, "removed %zu line%s from '%s'", removed,
				    removed == 1 ? "" : "s", path);
		}
		goto out;
	}
	if (!line) {
		kp_mod_failf(res, "state 'present' needs 'line'");
		goto out;
	}
	const char *ins_rx = after && strcmp(after, "EOF") && strcmp(after, "BOF") ? after
			     : before && strcmp(before, "BOF")			   ? before
										   : NULL;
	if (ins_rx) {
		if (compile(ins_rx, after ? "insertafter" : "insertbefore", &ins, res))
			goto out;
		have_ins = true;
	}
	long match = -1, at = -1;
	for (size_t i = 0; i < ls->n; i++) {
		if (have_re ? matches(&re, &ls->l[i]) : same_line(&ls->l[i], line))
			match = (long)i;
		else if (have_ins && matches(&ins, &ls->l[i]))
			at = after ? (long)i + 1 : (long)i;
	}
	if (match < 0 && have_re)
		for (size_t i = 0; i < ls->n; i++)
			if (same_line(&ls->l[i], line))
				goto out; /* present already, the regexp just missed it */
	if (match >= 0) {
		struct line *l = &ls->l[match];
		if (l->len == strlen(line) && !memcmp(l->s, line, l->len) && l->nl)
			goto out;
		*l = (struct line){line, strlen(line), true};
		kp_buf_addf(would, "would replace line %ld in '%s'", match + 1, path);
		kp_buf_addf(done, "replaced line %ld in '%s'", match + 1, path);
		goto out;
	}
	if ((after && !strcmp(after, "BOF")) || (before && !strcmp(before, "BOF")))
		at = 0;
	else if (at < 0 || (after && !strcmp(after, "EOF")))
		at = (long)ls->n;
	/* a last line without a newline gets one before the new line */
	if (at == (long)ls->n && ls->n)
		ls->l[ls->n - 1].nl = true;
	insert(ls, (size_t)at, line);
	kp_buf_addf(would, "would add a line to '%s' (line %ld)", path, at + 1);
	kp_buf_addf(done, "added a line to '%s' (line %ld)", path, at + 1);
out:
	kp_buf_release(&lit);
	if (have_re)
		regfree(&re);
	if (have_ins)
		regfree(&ins);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *path = kp_arg_str(ctx, "path");
	bool absent = !strcmp(kp_arg_str(ctx, "state"), "absent");
	struct kp_stat st;
	struct kp_buf old = KP_BUF_INIT, neu = KP_BUF_INIT, would = KP_BUF_INIT, done = KP_BUF_INIT;
	struct lines ls = {0};
	kp_rc rc;

	rc = ctx->conn->ops->stat(ctx->conn, path, false, &st, err);
	if (rc)
		return rc;
	if (st.exists && st.type == 'd')
		return kp_mod_failf(res, "'%s' is a directory", path);
	if (!st.exists) {
		if (absent) {
			kp_buf_reset(&res->msg);
			kp_buf_addf(&res->msg, "'%s' does not exist", path);
			return KP_OK;
		}
		if (!kp_arg_bool(ctx, "create"))
			return kp_mod_failf(res,
					    "file '%s' does not exist (use create: true to create "
					    "it)",
					    path);
	} else {
		rc = ctx->conn->ops->get(ctx->conn, path, LINEINFILE_MAX, &old, err);
		if (rc)
			return rc;
	}
	split(old.buf, old.len, &ls);
	rc = edit(ctx, res, &ls, &would, &done);
	if (rc || res->failed)
		goto out;
	for (size_t i = 0; i < ls.n; i++) {
		kp_buf_add(&neu, ls.l[i].s, ls.l[i].len);
		if (ls.l[i].nl)
			kp_buf_addch(&neu, '\n');
	}
	bool attrs =
	    kp_arg_str(ctx, "mode") || kp_arg_str(ctx, "owner") || kp_arg_str(ctx, "group");
	if (!would.len && st.exists && (!attrs || absent)) {
		kp_buf_reset(&res->msg);
		kp_buf_addf(&res->msg, "'%s' already has what is wanted", path);
		goto out;
	}
	if (!would.len && !st.exists) /* create: with nothing to add (cannot happen for present) */
		goto out;
	struct kp_put_plan *p = kp_put_plan_new();
	ctx->state = p;
	ctx->free_state = kp_put_plan_free;
	kp_mod_attrs_from_args(ctx, res, &p->want);
	if (res->failed)
		goto out;
	p->dest = kp_xstrdup(path);
	p->data = kp_buf_detach(&neu, &p->len);
	p->backup = kp_arg_bool(ctx, "backup");
	p->validate = kp_arg_str(ctx, "validate");
	p->validate_rc_in_msg = true;
	rc = kp_mod_put_probe(ctx, res, p, err);
	if (rc || res->failed || !would.len)
		goto out; /* only attributes differ: the plan's message says which */
	/* the plan's own message speaks of hashes; this one says what changed */
	kp_buf_reset(&res->msg);
	kp_buf_addstr(&res->msg, would.buf);
	free(p->done_msg);
	p->done_msg = kp_buf_detach(&done, NULL);
out:
	free(ls.l);
	kp_buf_release(&old);
	kp_buf_release(&neu);
	kp_buf_release(&would);
	kp_buf_release(&done);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	if (!ctx->state)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	return kp_mod_put_apply(ctx, res, ctx->state, err);
}

const struct kp_module kp_mod_lineinfile = {
    .name = "lineinfile",
    .summary = "ensure a line in a file",
    .args = args,
    .exclusive = exclusive,
    .probe = probe,
    .apply = apply,
};
