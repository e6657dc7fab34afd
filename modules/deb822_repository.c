/*
 * deb822_repository.c - an APT source in deb822 form,
 * /etc/apt/sources.list.d/NAME.sources, written byte for byte as
 * ansible-core's deb822_repository writes it: the fields in the order of
 * the argument names, sorted (name is X-Repolib-Name, uris URIs, the
 * others Title-Cased with '-'), booleans yes/no, lists space-separated, a
 * value of several lines folded with four spaces and "." for an empty line.
 *
 * signed_by: a file on the node stays a path; a URL is fetched (from the
 * controller, by kplan's HTTP client) into /etc/apt/keyrings/NAME.asc (an
 * armored key) or NAME.gpg, mode 0644; anything else (an inline key,
 * fingerprints) is written into the file as it is. state absent removes
 * the .sources file and both keyring names. Nothing is written unless its
 * bytes differ; check mode says what would be.
 */
#include "modules/module.h"
#include "transport/http.h"
#include "transport/transport.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define KEYRINGS_DIR "/etc/apt/keyrings"

static const char *const states[] = {"present", "absent", NULL};
static const char *const exclusive[] = {"exclude|include", NULL};

/* In the order the fields are written: Ansible sorts the argument names. */
static const struct kp_argspec args[] = {
    {.name = "allow_downgrade_to_insecure",
     .type = KP_T_BOOL,
     .help = "Allow-Downgrade-To-Insecure"},
    {.name = "allow_insecure", .type = KP_T_BOOL, .help = "Allow-Insecure"},
    {.name = "allow_weak", .type = KP_T_BOOL, .help = "Allow-Weak"},
    {.name = "architectures", .type = KP_T_ANY, .help = "Architectures (a list)"},
    {.name = "by_hash", .type = KP_T_BOOL, .help = "By-Hash"},
    {.name = "check_date", .type = KP_T_BOOL, .help = "Check-Date"},
    {.name = "check_valid_until", .type = KP_T_BOOL, .help = "Check-Valid-Until"},
    {.name = "components", .type = KP_T_ANY, .help = "Components (a list)"},
    {.name = "date_max_future", .type = KP_T_INT, .help = "Date-Max-Future"},
    {.name = "enabled", .type = KP_T_BOOL, .help = "Enabled"},
    {.name = "exclude", .type = KP_T_ANY, .help = "Exclude (a list)"},
    {.name = "include", .type = KP_T_ANY, .help = "Include (a list)"},
    {.name = "inrelease_path", .type = KP_T_STR, .help = "Inrelease-Path"},
    {.name = "languages", .type = KP_T_ANY, .help = "Languages (a list)"},
    {.name = "name", .type = KP_T_STR, .required = true, .help = "the source's name and file"},
    {.name = "pdiffs", .type = KP_T_BOOL, .help = "PDiffs"},
    {.name = "signed_by", .type = KP_T_STR, .help = "a key file, a key URL, or the key itself"},
    {.name = "suites", .type = KP_T_ANY, .help = "Suites (a list)"},
    {.name = "targets", .type = KP_T_ANY, .help = "Targets (a list)"},
    {.name = "trusted", .type = KP_T_BOOL, .help = "Trusted"},
    {.name = "types", .type = KP_T_ANY, .def = "[deb]", .help = "Types: deb, deb-src"},
    {.name = "uris", .type = KP_T_ANY, .help = "URIs (a list)"},
    /* not fields */
    {.name = "install_python_debian",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "not needed: kplan writes the file itself"},
    {.name = "mode", .type = KP_T_STR, .def = "0644", .help = "the file's mode"},
    {.name = "state",
     .type = KP_T_STR,
     .def = "present",
     .choices = states,
     .help = "present or absent"},
    {0},
};

static bool is_field(const char *name)
{
	return strcmp(name, "install_python_debian") && strcmp(name, "mode") &&
	       strcmp(name, "state");
}

struct plan {
	struct kp_put_plan *key, *src;
	bool mkdir_keyrings;
	char *rm[3]; /* paths to remove (state absent) */
	size_t nrm;
};

static void plan_free(void *p)
{
	struct plan *pl = p;
	if (!pl)
		return;
	kp_put_plan_free(pl->key);
	kp_put_plan_free(pl->src);
	for (size_t i = 0; i < pl->nrm; i++)
		free(pl->rm[i]);
	free(pl);
}

/* Ansible's field name: X-Repolib-Name, URIs, else str.title() of a-b. */
static void field_name(const char *arg, struct kp_buf *out)
{
	if (!strcmp(arg, "name")) {
		kp_buf_addstr(out, "X-Repolib-Name");
		return;
	}
	if (!strcmp(arg, "uris")) {
		kp_buf_addstr(out, "URIs");
		return;
	}
	bool start = true;
	for (const char *c = arg; *c; c++) {
		char ch = *c == '_' ? '-' : *c;
		if (isalpha((unsigned char)ch)) {
			kp_buf_addch(out, start ? (char)toupper((unsigned char)ch)
						: (char)tolower((unsigned char)ch));
			start = false;
		} else {
			kp_buf_addch(out, ch);
			start = true;
		}
	}
}

/* A list argument as Ansible's type list takes it: a list, a string split
 * at commas, a number as its text; joined with spaces. */
static void list_text(const struct kp_value *v, struct kp_buf *out)
{
	if (v->type == KP_V_LIST) {
		for (size_t i = 0; i < kp_list_len(v); i++) {
			if (i)
				kp_buf_addch(out, ' ');
			kp_value_to_text(kp_list_at(v, i), false, out);
		}
		return;
	}
	struct kp_buf t = KP_BUF_INIT;
	kp_value_to_text(v, false, &t);
	for (size_t i = 0; i < t.len; i++)
		kp_buf_addch(out, t.buf[i] == ',' ? ' ' : t.buf[i]);
	kp_buf_release(&t);
}

/* "Field: value\n"; a value of several lines as Ansible folds it:
 * "Field:\n    line\n    .\n" (lines stripped, an empty one as "."). */
static void add_field(struct kp_buf *out, const char *arg, const char *value)
{
	field_name(arg, out);
	if (!strchr(value, '\n')) {
		kp_buf_addf(out, value[0] ? ": %s\n" : ":%s\n", value);
		return;
	}
	kp_buf_addch(out, ':');
	const char *s = value, *end = value + strlen(value);
	while (s < end && isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl ? nl : end, *a = s, *b = le;
		while (a < b && isspace((unsigned char)*a))
			a++;
		while (b > a && isspace((unsigned char)b[-1]))
			b--;
		kp_buf_addstr(out, "\n    ");
		if (a == b)
			kp_buf_addch(out, '.');
		else
			kp_buf_add(out, a, (size_t)(b - a));
		s = nl ? nl + 1 : end;
	}
	kp_buf_addch(out, '\n');
}

static bool has_scheme(const char *v)
{
	/* urlparse's scheme: a letter, then letters, digits, + - . up to ':' */
	if (!isalpha((unsigned char)v[0]))
		return false;
	const char *c = v + 1;
	while (isalnum((unsigned char)*c) || *c == '+' || *c == '-' || *c == '.')
		c++;
	return *c == ':';
}

static kp_rc stat_node(struct kp_modctx *ctx, const char *path, struct kp_stat *st,
		       struct kp_buf *err)
{
	memset(st, 0, sizeof(*st));
	return ctx->conn->ops->stat(ctx->conn, path, false, st, err);
}

static char *slug_of(struct kp_modctx *ctx, const char *name, struct kp_buf *err, kp_rc *rc)
{
	/* the older name: lower case, runs of '_' and blanks to '-', then only
	 * [a-z0-9-]; kept when that file exists */
	struct kp_buf legacy = KP_BUF_INIT, path = KP_BUF_INIT;
	bool dash = false;
	for (const char *c = name; *c; c++) {
		char ch = (char)tolower((unsigned char)*c);
		if (ch == '_' || isspace((unsigned char)ch)) {
			if (!dash)
				kp_buf_addch(&legacy, '-');
			dash = true;
			continue;
		}
		dash = false;
		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')
			kp_buf_addch(&legacy, ch);
	}
	kp_buf_addf(&path, "/etc/apt/sources.list.d/%s.sources", legacy.buf ? legacy.buf : "");
	struct kp_stat st;
	*rc = stat_node(ctx, path.buf, &st, err);
	char *slug;
	if (st.exists) {
		slug = kp_buf_detach(&legacy, NULL);
		if (!slug)
			slug = kp_xstrdup("");
	} else {
		slug = kp_xstrdup(name);
		for (char *c = slug; *c; c++)
			if (*c == ' ')
				*c = '-';
	}
	kp_buf_release(&legacy);
	kp_buf_release(&path);
	return slug;
}

/* signed_by: the value the file gets; a URL's key planned in pl->key. */
static kp_rc signed_by(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl, const char *v,
		       const char *slug, struct kp_buf *value, struct kp_buf *err)
{
	struct kp_stat st;
	kp_rc rc = stat_node(ctx, v, &st, err);
	if (rc)
		return rc;
	if ((st.exists && st.type == 'f') || !has_scheme(v)) {
		kp_buf_addstr(value, v); /* a file on the node, or the key itself */
		return KP_OK;
	}
	struct kp_http_req req = {.url = v,
				  .follow_redirects = true,
				  .validate_certs = true,
				  .timeout_ms = ctx->timeout_ms ? ctx->timeout_ms : 30000};
	struct kp_http_res r;
	struct kp_buf e = KP_BUF_INIT;
	kp_http_res_init(&r);
	kp_buf_addf(&res->cmds, "GET %s\n", v);
	if (kp_http_request(&req, &r, &e) || r.status >= 400) {
		if (!e.len)
			kp_buf_addf(&e, "HTTP Error %ld", r.status);
		kp_mod_failf(res, "Could not fetch signed_by key: %s", e.buf);
	} else if (!r.body.len) {
		kp_buf_addstr(value, v);
	} else {
		bool armored = memmem(r.body.buf, r.body.len,
				      "-----BEGIN PGP PUBLIC KEY BLOCK-----", 36) != NULL;
		struct kp_put_plan *p = pl->key = kp_put_plan_new();
		struct kp_buf d = KP_BUF_INIT;
		kp_buf_addf(&d, KEYRINGS_DIR "/%s.%s", slug, armored ? "asc" : "gpg");
		p->dest = kp_buf_detach(&d, NULL);
		p->len = r.body.len;
		p->data = kp_buf_detach(&r.body, NULL);
		p->want.mode = 0644;
		kp_buf_addstr(value, p->dest);
		struct kp_stat dst;
		if (!(rc = stat_node(ctx, KEYRINGS_DIR, &dst, err)))
			pl->mkdir_keyrings = !dst.exists;
	}
	kp_http_res_release(&r);
	kp_buf_release(&e);
	return rc;
}

static kp_rc probe_absent(struct kp_modctx *ctx, struct kp_result *res, struct plan *pl,
			  const char *slug, const char *dest, struct kp_buf *err)
{
	const char *const paths[] = {dest, KEYRINGS_DIR "/%s.asc", KEYRINGS_DIR "/%s.gpg"};
	struct kp_buf p = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < KP_ARRAY_LEN(paths) && !rc; i++) {
		struct kp_stat st;
		kp_buf_reset(&p);
		if (i)
			kp_buf_addf(&p, paths[i], slug);
		else
			kp_buf_addstr(&p, paths[i]);
		if (!(rc = stat_node(ctx, p.buf, &st, err)) && st.exists)
			pl->rm[pl->nrm++] = kp_xstrdup(p.buf);
	}
	kp_map_set_take(res->facts, "repo", kp_value_null());
	kp_map_set_take(res->facts, "dest", kp_value_str(dest));
	kp_map_set_take(res->facts, "key_filename", kp_value_str(p.buf));
	res->changed = pl->nrm > 0;
	kp_buf_reset(&res->msg);
	if (!pl->nrm)
		kp_buf_addf(&res->msg, "'%s' is absent", dest);
	for (size_t i = 0; i < pl->nrm; i++)
		kp_buf_addf(&res->msg, "%s'%s'", i ? ", " : "would remove ", pl->rm[i]);
	kp_buf_release(&p);
	return rc;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *name = kp_arg_str(ctx, "name");
	struct plan *pl = kp_xcalloc(1, sizeof(*pl));
	struct kp_buf text = KP_BUF_INIT, dest = KP_BUF_INIT, v = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	int mode;

	ctx->state = pl;
	ctx->free_state = plan_free;
	char *slug = slug_of(ctx, name, err, &rc);
	if (rc)
		goto out;
	kp_buf_addf(&dest, "/etc/apt/sources.list.d/%s.sources", slug);
	if (!strcmp(kp_arg_str(ctx, "state"), "absent")) {
		rc = probe_absent(ctx, res, pl, slug, dest.buf, err);
		goto out;
	}
	if (kp_mod_parse_mode(kp_arg_str(ctx, "mode"), &mode, err)) {
		kp_mod_failf(res, "%s", err->buf);
		kp_buf_reset(err);
		goto out;
	}
	for (const struct kp_argspec *a = args; a->name; a++) {
		const struct kp_value *val = kp_arg(ctx, a->name);
		if (!is_field(a->name) || !val || val->type == KP_V_NULL)
			continue;
		kp_buf_reset(&v);
		if (val->type == KP_V_BOOL)
			kp_buf_addstr(&v, val->u.b ? "yes" : "no");
		else if (a->type == KP_T_ANY)
			list_text(val, &v);
		else if (!strcmp(a->name, "signed_by")) {
			if ((rc = signed_by(ctx, res, pl, val->u.str.s, slug, &v, err)) ||
			    res->failed)
				goto out;
		} else
			kp_value_to_text(val, false, &v);
		add_field(&text, a->name, v.buf ? v.buf : "");
	}
	pl->src = kp_put_plan_new();
	pl->src->dest = kp_buf_detach(&dest, NULL);
	pl->src->len = text.len;
	pl->src->data = text.len ? kp_xstrndup(text.buf, text.len) : kp_xstrdup("");
	pl->src->want.mode = mode;
	kp_map_set_take(res->facts, "repo", kp_value_strn(text.buf ? text.buf : "", text.len));
	kp_map_set_take(res->facts, "key_filename",
			pl->key ? kp_value_str(pl->key->dest) : kp_value_null());
	bool key_changed = false;
	struct kp_buf key_msg = KP_BUF_INIT;
	if (pl->key) {
		if ((rc = kp_mod_put_probe(ctx, res, pl->key, err)) || res->failed) {
			kp_buf_release(&key_msg);
			goto out;
		}
		key_changed = res->changed;
		kp_buf_addstr(&key_msg, res->msg.buf);
	}
	if (!(rc = kp_mod_put_probe(ctx, res, pl->src, err)) && !res->failed) {
		res->changed |= key_changed;
		if (key_changed) {
			kp_buf_addf(&key_msg, "; %s", res->msg.buf);
			kp_buf_reset(&res->msg);
			kp_buf_addstr(&res->msg, key_msg.buf);
		}
		/* kp_mod_put_probe's own facts, Ansible's names */
		kp_map_del(res->facts, "checksum");
		kp_map_del(res->facts, "size");
	}
	kp_buf_release(&key_msg);
out:
	free(slug);
	kp_buf_release(&text);
	kp_buf_release(&dest);
	kp_buf_release(&v);
	return rc;
}

static kp_rc apply(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct plan *pl = ctx->state;
	struct kp_buf msg = KP_BUF_INIT, cmd = KP_BUF_INIT;
	bool ok = true;
	kp_rc rc = KP_OK;

	if (!pl)
		return kp_errorf(err, KP_ERR_INVALID, "apply without a probe");
	if (pl->nrm) {
		kp_buf_addstr(&cmd, "rm -f --");
		for (size_t i = 0; i < pl->nrm; i++) {
			kp_buf_addch(&cmd, ' ');
			kp_sh_quote(&cmd, pl->rm[i]);
		}
		if (!(rc = kp_mod_must(ctx, res, cmd.buf, NULL, &ok, err)) && ok) {
			kp_buf_reset(&res->msg);
			for (size_t i = 0; i < pl->nrm; i++)
				kp_buf_addf(&res->msg, "%s'%s'", i ? ", " : "removed ", pl->rm[i]);
		}
		goto out;
	}
	if (pl->mkdir_keyrings &&
	    ((rc = kp_mod_must(ctx, res, "mkdir -p -m 0755 " KEYRINGS_DIR, NULL, &ok, err)) || !ok))
		goto out;
	if (pl->key && (pl->key->write || pl->key->attrs)) {
		if ((rc = kp_mod_put_apply(ctx, res, pl->key, err)) || res->failed)
			goto out;
		kp_buf_addf(&msg, "%s", res->msg.buf);
	}
	if (pl->src && (pl->src->write || pl->src->attrs)) {
		if ((rc = kp_mod_put_apply(ctx, res, pl->src, err)) || res->failed)
			goto out;
		kp_buf_addf(&msg, "%s%s", msg.len ? "; " : "", res->msg.buf);
	}
	kp_buf_reset(&res->msg);
	kp_buf_addstr(&res->msg, msg.buf ? msg.buf : "");
out:
	kp_buf_release(&msg);
	kp_buf_release(&cmd);
	return rc;
}

const struct kp_module kp_mod_deb822_repository = {
    .name = "deb822-repository",
    .summary = "an APT source in deb822 form, as ansible-core's deb822_repository writes it",
    .args = args,
    .exclusive = exclusive,
    .probe = probe,
    .apply = apply,
};
