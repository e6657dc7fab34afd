/*
 * cert_listing.c - what cert-copy finds on a node: find(1) over the listed
 * directories, every entry with its type, mode, owner, group and target,
 * every file with its SHA-256.
 *
 * The listing is the node's word, and the node may lie: a path that climbs
 * out ('..'), holds a NUL or is not under the directories asked for would
 * make the controller, which writes STORE/<host>/<path>, write where the
 * node likes. Such a listing fails the task.
 */
#include "modules/cert_copy/cert_copy_int.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

void kp_cc_listing_release(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].owner);
		free(l->e[i].group);
		free(l->e[i].path);
		free(l->e[i].link);
	}
	free(l->e);
	for (size_t i = 0; i < l->nmissing; i++)
		free(l->missing[i]);
	free(l->missing);
	memset(l, 0, sizeof(*l));
}

struct entry *kp_cc_find_entry(struct listing *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].path, path))
			return &l->e[i];
	return NULL;
}

void kp_cc_roots_release(struct roots *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void add_root(struct kp_buf *words, struct roots *roots, const char *p)
{
	struct kp_buf t = KP_BUF_INIT;
	kp_buf_addstr(&t, p);
	while (t.len > 1 && t.buf[t.len - 1] == '/')
		kp_buf_setlen(&t, t.len - 1);
	kp_buf_addch(words, ' ');
	kp_sh_quote(words, t.buf);
	KP_GROW(roots->v, roots->n + 1, roots->cap);
	roots->v[roots->n++] = kp_buf_detach(&t, NULL);
}

void kp_cc_paths_of(const struct kp_modctx *ctx, const cJSON *mpaths, struct kp_buf *words,
		    struct roots *roots)
{
	if (mpaths) {
		const cJSON *p;
		cJSON_ArrayForEach(p, mpaths) if (cJSON_IsString(p))
		    add_root(words, roots, p->valuestring);
		return;
	}
	const struct kp_value *v = kp_arg(ctx, "paths");
	for (size_t i = 0; v && v->type == KP_V_LIST && i < kp_list_len(v); i++) {
		const struct kp_value *p = kp_list_at(v, i);
		if (p->type == KP_V_STR)
			add_root(words, roots, p->u.str.s);
	}
}

bool kp_cc_under(const struct roots *roots, const char *path)
{
	for (size_t i = 0; i < roots->n; i++) {
		const char *r = roots->v[i];
		size_t n = strlen(r);
		if (!strcmp(r, "/") ? path[0] == '/'
				    : !strncmp(path, r, n) && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

static char *field(char **p)
{
	char *s = *p, *tab = strchr(s, '\t');
	if (tab) {
		*tab = '\0';
		*p = tab + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

/* A path the node listed, fit for the store; the task fails otherwise. */
static bool safe_path(struct kp_modctx *ctx, struct kp_result *res, const struct roots *roots,
		      const char *path)
{
	struct kp_buf e = KP_BUF_INIT, what = KP_BUF_INIT;
	kp_buf_addf(&what, "path from %s", ctx->host);
	bool ok = !kp_store_check(path, strlen(path), what.buf, &e);
	if (!ok)
		kp_mod_failf(res, "refusing the listing from %s: %s", ctx->host, e.buf);
	else if (!(ok = kp_cc_under(roots, path))) {
		kp_buf_reset(&e);
		for (size_t i = 0; i < roots->n; i++)
			kp_buf_addf(&e, "%s%s", i ? ", " : "", roots->v[i]);
		kp_mod_failf(res, "refusing the listing from %s: '%s' is not under %s", ctx->host,
			     path, e.buf);
	}
	kp_buf_release(&e);
	kp_buf_release(&what);
	return ok;
}

kp_rc kp_cc_list_node(struct kp_modctx *ctx, struct kp_result *res, const char *words,
		      const struct roots *roots, struct listing *l, bool *ok, struct kp_buf *err)
{
	struct kp_buf cmd = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_exec_res_init(&r);
	kp_buf_addf(&cmd,
		    "for p in%s; do if [ ! -e \"$p\" ]; then printf 'missing\\t%%s\\n' \"$p\"; "
		    "continue; fi; find \"$p\" -xdev \\( -type f -o -type d -o -type l \\) "
		    "-printf 'entry\\t%%y\\t%%m\\t%%u\\t%%g\\t%%s\\t%%p\\t%%l\\n'; "
		    "find \"$p\" -xdev -type f -exec sha256sum -- {} +; done",
		    words);
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = 120000};
	kp_rc rc = kp_mod_exec(ctx, res, &req, &r, err);
	*ok = !rc && !kp_mod_cmd_failed(ctx, res, cmd.buf, &r);
	if (!*ok)
		goto out;
	if (memchr(r.out.buf, '\0', r.out.len)) {
		/* C strings would cut the path at the NUL: a different file */
		kp_mod_failf(res, "refusing the listing from %s: it holds a NUL byte", ctx->host);
		*ok = false;
		goto out;
	}
	for (char *line = r.out.buf; *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *p = line;
		if (!strncmp(p, "missing\t", 8)) {
			KP_GROW(l->missing, l->nmissing + 1, l->capm);
			l->missing[l->nmissing++] = kp_xstrdup(p + 8);
		} else if (!strncmp(p, "entry\t", 6)) {
			p += 6;
			struct entry e = {0};
			e.type = *field(&p);
			e.mode = (unsigned)strtoul(field(&p), NULL, 8);
			e.owner = kp_xstrdup(field(&p));
			e.group = kp_xstrdup(field(&p));
			e.size = strtoll(field(&p), NULL, 10);
			e.path = kp_xstrdup(field(&p));
			e.link = kp_xstrdup(field(&p));
			if ((e.type == 'd' || e.type == 'f' || e.type == 'l') &&
			    !(*ok = safe_path(ctx, res, roots, e.path))) {
				free(e.owner), free(e.group), free(e.path), free(e.link);
				goto out;
			}
			if (e.type == 'd' || e.type == 'f' || e.type == 'l') {
				KP_GROW(l->e, l->n + 1, l->cap);
				l->e[l->n++] = e;
			} else {
				free(e.owner), free(e.group), free(e.path), free(e.link);
			}
		} else if (strlen(p) > 66 && p[64] == ' ') {
			/* sha256sum: "HEX  PATH" ("\HEX" for names it escaped) */
			struct entry *e = kp_cc_find_entry(l, p + 66);
			if (e)
				memcpy(e->sha, p, 64), e->sha[64] = '\0';
		}
		if (!nl)
			break;
		line = nl + 1;
	}
out:
	kp_exec_res_release(&r);
	kp_buf_release(&cmd);
	return rc;
}

bool kp_cc_attrs_differ(const struct entry *a, const struct entry *b)
{
	return (a->type != 'l' && a->mode != b->mode) || strcmp(a->owner, b->owner) ||
	       strcmp(a->group, b->group);
}

void kp_cc_add_named(struct kp_buf *b, size_t *count, const char *path)
{
	if (*count < MAX_NAMED)
		kp_buf_addf(b, "%s%s", *count ? ", " : "", path);
	else if (*count == MAX_NAMED)
		kp_buf_addstr(b, ", …");
	(*count)++;
}

kp_rc kp_cc_list(struct kp_modctx *ctx, struct kp_result *res, const cJSON *mpaths,
		 struct listing *l, struct kp_buf *words, bool *ok, struct kp_buf *err)
{
	struct roots roots = {0};
	kp_buf_reset(words);
	kp_cc_paths_of(ctx, mpaths, words, &roots);
	kp_rc rc = kp_cc_list_node(ctx, res, words->buf, &roots, l, ok, err);
	kp_cc_roots_release(&roots);
	return rc;
}
