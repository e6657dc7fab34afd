/*
 * plan_util.c - what the plan loader needs around the YAML: paths relative
 * to the including file, the import chain (recursion is an error that shows
 * the whole chain), Lua syntax checks, nodes the loader makes itself, and
 * typed readers of play and task keys that all word their errors alike.
 */
#include "model/plan_load.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

char *kp_path_join(const char *dir, const char *path)
{
	struct kp_buf b = KP_BUF_INIT;
	if (path[0] == '/' || !dir || !*dir || !strcmp(dir, "."))
		return kp_xstrdup(path);
	kp_buf_addstr(&b, dir);
	if (b.buf[b.len - 1] != '/')
		kp_buf_addch(&b, '/');
	kp_buf_addstr(&b, path);
	return kp_buf_detach(&b, NULL);
}

char *kp_path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return kp_xstrdup(".");
	if (slash == path)
		return kp_xstrdup("/");
	return kp_xstrndup(path, (size_t)(slash - path));
}

void kp_loader_add_file(struct kp_loader *ld, const char *path)
{
	struct kp_plan *p = ld->plan;
	for (size_t i = 0; i < p->nfiles; i++)
		if (!strcmp(p->files[i], path))
			return;
	KP_GROW(p->files, p->nfiles + 1, p->capfiles);
	p->files[p->nfiles++] = kp_xstrdup(path);
}

/* kp_read_file names the resolved path; the user wrote `written`. */
static kp_rc read_error(struct kp_buf *tmp, const char *path, const char *written,
			const struct kp_node *at, kp_rc rc, struct kp_buf *err)
{
	struct kp_buf want = KP_BUF_INIT;
	const char *msg = tmp->buf;
	kp_buf_addf(&want, "cannot read '%s'", path);
	if (!strncmp(msg, want.buf, want.len)) {
		size_t skip = want.len;
		kp_buf_reset(&want);
		kp_buf_addf(&want, "cannot read '%s'%s", written, msg + skip);
		msg = want.buf;
	}
	if (at)
		kp_node_errorf(err, rc, at, "%s", msg);
	else
		kp_errorf(err, rc, "%s", msg);
	kp_buf_release(&want);
	return rc;
}

kp_rc kp_loader_yaml(struct kp_loader *ld, const char *path, const char *written,
		     const struct kp_node *at, struct kp_doc **out)
{
	struct kp_buf data = KP_BUF_INIT, tmp = KP_BUF_INIT;
	struct kp_plan *p = ld->plan;
	kp_rc rc = KP_OK;
	if (!at && ld->top_data) /* the top file, given as text */
		kp_buf_add(&data, ld->top_data, ld->top_len);
	else
		rc = kp_read_file(path, KP_YAML_MAX_FILE, &data, &tmp);
	if (rc) {
		read_error(&tmp, path, written, at, rc, ld->err);
		kp_buf_release(&tmp);
		kp_buf_release(&data);
		return rc;
	}
	rc = kp_yaml_load_string(path, data.buf, data.len, out, ld->err);
	kp_buf_release(&data);
	if (rc)
		return rc;
	KP_GROW(p->docs, p->ndocs + 1, p->capdocs);
	p->docs[p->ndocs++] = *out;
	kp_loader_add_file(ld, path);
	return KP_OK;
}

kp_rc kp_loader_lua_check(struct kp_loader *ld, const char *code, size_t len, const char *chunk,
			  const struct kp_node *at)
{
	kp_rc rc = KP_OK;
	if (!ld->L) {
		ld->L = luaL_newstate();
		if (!ld->L)
			return kp_errorf(ld->err, KP_ERR_NOMEM, "cannot create a Lua state");
	}
	/* text only: bytecode is never loaded */
	if (luaL_loadbufferx(ld->L, code, len, chunk, "t") != LUA_OK)
		rc = kp_node_errorf(ld->err, KP_ERR_PARSE, at, "%s", lua_tostring(ld->L, -1));
	lua_pop(ld->L, 1); /* the function or the message */
	return rc;
}

kp_rc kp_loader_lua_file(struct kp_loader *ld, const char *path, const char *written,
			 const struct kp_node *at, char **code)
{
	struct kp_buf data = KP_BUF_INIT, tmp = KP_BUF_INIT, chunk = KP_BUF_INIT;
	kp_rc rc = kp_read_file(path, 16u << 20, &data, &tmp);
	if (rc) {
		read_error(&tmp, path, written, at, rc, ld->err);
		kp_buf_release(&tmp);
		kp_buf_release(&data);
		return rc;
	}
	kp_buf_addf(&chunk, "@%s", path);
	rc = kp_loader_lua_check(ld, data.buf, data.len, chunk.buf, at);
	kp_buf_release(&chunk);
	if (rc) {
		kp_buf_release(&data);
		return rc;
	}
	kp_loader_add_file(ld, path);
	*code = kp_buf_detach(&data, NULL);
	return KP_OK;
}

kp_rc kp_loader_enter(struct kp_loader *ld, const char *path, const char *written, const char *what,
		      const struct kp_node *at)
{
	char *real = realpath(path, NULL);
	struct kp_buf tmp = KP_BUF_INIT;

	if (!real) {
		kp_buf_addf(&tmp, "cannot read '%s': %s", path, strerror(errno));
		read_error(&tmp, path, written, at, KP_ERR_IO, ld->err);
		kp_buf_release(&tmp);
		return KP_ERR_IO;
	}
	for (size_t i = 0; i < ld->depth; i++) {
		if (strcmp(ld->chain[i].real, real))
			continue;
		kp_buf_addf(&tmp, "recursive %s of '%s' (", what, written);
		for (size_t k = 0; k < ld->depth; k++)
			kp_buf_addf(&tmp, "%s -> ", ld->chain[k].shown);
		kp_buf_addf(&tmp, "%s)", path);
		kp_node_errorf(ld->err, KP_ERR_INVALID, at, "%s", tmp.buf);
		kp_buf_release(&tmp);
		free(real);
		return KP_ERR_INVALID;
	}
	if (ld->depth > KP_IMPORT_MAX_DEPTH) {
		free(real);
		return kp_node_errorf(ld->err, KP_ERR_LIMIT, at,
				      "imports nested deeper than %d levels", KP_IMPORT_MAX_DEPTH);
	}
	ld->chain[ld->depth].real = real;
	ld->chain[ld->depth++].shown = kp_xstrdup(path);
	return KP_OK;
}

bool kp_loader_loading(const struct kp_loader *ld, const char *path)
{
	char *real = realpath(path, NULL);
	bool found = false;
	for (size_t i = 0; real && i < ld->depth && !found; i++)
		found = !strcmp(ld->chain[i].real, real);
	free(real);
	return found;
}

void kp_loader_leave(struct kp_loader *ld)
{
	ld->depth--;
	free(ld->chain[ld->depth].real);
	free(ld->chain[ld->depth].shown);
}

/* ---- nodes the loader makes --------------------------------------------- */

static struct kp_node *synth_node(struct kp_loader *ld, const struct kp_node *at,
				  enum kp_ntype type)
{
	struct kp_doc *d = ld->synth;
	struct kp_node *n = kp_xcalloc(1, sizeof(*n));
	n->type = type;
	n->file = at->file; /* borrowed from a document the plan keeps */
	n->line = at->line;
	n->col = at->col;
	KP_GROW(d->all, d->nall + 1, d->capall);
	d->all[d->nall++] = n;
	return n;
}

struct kp_node *kp_synth_scalar(struct kp_loader *ld, const struct kp_node *at, const char *s,
				size_t len, bool quoted)
{
	struct kp_node *n = synth_node(ld, at, KP_N_SCALAR);
	n->str = kp_xstrndup(s, len);
	n->len = len;
	n->quoted = quoted;
	return n;
}

struct kp_node *kp_synth_map(struct kp_loader *ld, const struct kp_node *at)
{
	return synth_node(ld, at, KP_N_MAP);
}

/* Adds or replaces key (borrowed nodes: the map frees only its array). */
void kp_synth_map_add(struct kp_node *map, struct kp_node *key, struct kp_node *val)
{
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->items[2 * i]->str, key->str)) {
			map->items[2 * i + 1] = val;
			return;
		}
	map->items = kp_xrealloc(map->items, (2 * map->n + 2) * sizeof(*map->items));
	map->items[2 * map->n] = key;
	map->items[2 * map->n + 1] = val;
	map->n++;
}

/* ---- typed readers -------------------------------------------------------- */

kp_rc kp_get_str(const struct kp_node *n, const char *key, char **out, struct kp_buf *err)
{
	if (n->type != KP_N_SCALAR || kp_node_is_null(n))
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'%s' must be a string, not %s", key,
				      kp_node_describe(n));
	free(*out);
	*out = kp_xstrndup(n->str, n->len);
	return KP_OK;
}

kp_rc kp_get_bool(const struct kp_node *n, const char *key, bool *out, struct kp_buf *err)
{
	if (!kp_node_get_bool(n, out))
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'%s' must be true or false, not %s",
				      key, kp_node_describe(n));
	return KP_OK;
}

kp_rc kp_get_int(const struct kp_node *n, const char *key, int64_t min, int64_t max, int64_t *out,
		 struct kp_buf *err)
{
	int64_t v;
	char range[96];
	if (max >= INT32_MAX)
		snprintf(range, sizeof(range), "%s",
			 min == 0   ? "a non-negative integer"
			 : min == 1 ? "a positive integer"
				    : "an integer");
	else
		snprintf(range, sizeof(range), "an integer from %lld to %lld", (long long)min,
			 (long long)max);
	if (!kp_node_get_int(n, &v)) {
		if (n->type == KP_N_SCALAR && !kp_node_is_null(n))
			return kp_node_errorf(err, KP_ERR_INVALID, n, "'%s' must be %s (got '%s')",
					      key, range, n->str);
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'%s' must be %s, not %s", key, range,
				      kp_node_describe(n));
	}
	if (v < min || v > max)
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'%s' must be %s (got '%s')", key,
				      range, n->str);
	*out = v;
	return KP_OK;
}

kp_rc kp_get_duration(const struct kp_node *n, const char *key, int64_t *ms, struct kp_buf *err)
{
	if (n->type != KP_N_SCALAR || kp_node_is_null(n))
		return kp_node_errorf(err, KP_ERR_INVALID, n,
				      "'%s' must be a duration like 30s, 5m or 1h, not %s", key,
				      kp_node_describe(n));
	if (kp_parse_duration(n->str, ms))
		return kp_node_errorf(err, KP_ERR_INVALID, n,
				      "'%s' must be a duration like 30s, 5m or 1h (got '%s')", key,
				      n->str);
	return KP_OK;
}

kp_rc kp_get_choice(const struct kp_node *n, const char *key, const char *const *choices, int *out,
		    struct kp_buf *err)
{
	size_t nc = 0;
	struct kp_buf msg = KP_BUF_INIT;
	while (choices[nc])
		nc++;
	if (n->type != KP_N_SCALAR || kp_node_is_null(n))
		return kp_node_errorf(err, KP_ERR_INVALID, n, "'%s' must be a string, not %s", key,
				      kp_node_describe(n));
	for (size_t i = 0; i < nc; i++)
		if (!strcmp(n->str, choices[i])) {
			*out = (int)i;
			return KP_OK;
		}
	kp_buf_addf(&msg, "'%s' must be one of: ", key);
	for (size_t i = 0; i < nc; i++)
		kp_buf_addf(&msg, "%s%s", i ? ", " : "", choices[i]);
	kp_buf_addf(&msg, " (got '%s'", n->str);
	const char *s = kp_suggest(n->str, choices, nc);
	if (s)
		kp_buf_addf(&msg, "; did you mean '%s'?", s);
	kp_buf_addch(&msg, ')');
	kp_rc rc = kp_node_errorf(err, KP_ERR_INVALID, n, "%s", msg.buf);
	kp_buf_release(&msg);
	return rc;
}

void kp_strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

kp_rc kp_get_strlist(const struct kp_node *n, const char *key, char ***out, size_t *nout,
		     struct kp_pos **pos, struct kp_buf *err)
{
	const struct kp_node *const *items = (const struct kp_node *const *)&n;
	size_t count = 1;
	if (n->type == KP_N_MAP || kp_node_is_null(n))
		return kp_node_errorf(err, KP_ERR_INVALID, n,
				      "'%s' must be a string or a list of strings, not %s", key,
				      kp_node_describe(n));
	if (n->type == KP_N_SEQ) {
		items = (const struct kp_node *const *)n->items;
		count = n->n;
	}
	for (size_t i = 0; i < count; i++)
		if (items[i]->type != KP_N_SCALAR || kp_node_is_null(items[i]))
			return kp_node_errorf(err, KP_ERR_INVALID, items[i],
					      "'%s' must be a string or a list of strings, not a "
					      "list holding %s",
					      key, kp_node_describe(items[i]));
	kp_strv_free(*out, *nout);
	*out = kp_xcalloc(count, sizeof(**out));
	if (pos) {
		free(*pos);
		*pos = kp_xcalloc(count, sizeof(**pos));
	}
	for (size_t i = 0; i < count; i++) {
		(*out)[i] = kp_xstrndup(items[i]->str, items[i]->len);
		if (pos)
			(*pos)[i] = kp_node_pos(items[i]);
	}
	*nout = count;
	return KP_OK;
}

bool kp_valid_var_name(const char *s)
{
	static const char *const keywords[] = {
	    "and",	"break",  "do",	  "else", "elseif", "end",  "false", "for",
	    "function", "goto",	  "if",	  "in",	  "local",  "nil",  "not",   "or",
	    "repeat",	"return", "then", "true", "until",  "while"};
	if (!isalpha((unsigned char)*s) && *s != '_')
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return false;
	for (size_t i = 0; i < KP_ARRAY_LEN(keywords); i++)
		if (!strcmp(s, keywords[i]))
			return false;
	return true;
}

kp_rc kp_check_var_name(const struct kp_node *n, const char *name, struct kp_buf *err)
{
	if (kp_valid_var_name(name))
		return KP_OK;
	if (*name && (isalpha((unsigned char)*name) || *name == '_')) {
		const char *p = name;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (!*p)
			return kp_node_errorf(err, KP_ERR_INVALID, n,
					      "invalid variable name '%s' (a Lua keyword)", name);
	}
	return kp_node_errorf(err, KP_ERR_INVALID, n,
			      "invalid variable name '%s' (use letters, digits and underscores)",
			      name);
}

void kp_unknown_key(const struct kp_node *key, const char *where, const char *const *known,
		    size_t nknown, struct kp_buf *err)
{
	const char *s = kp_suggest(key->str, known, nknown);
	if (s)
		kp_node_errorf(err, KP_ERR_INVALID, key,
			       "unknown key '%s' in %s (did you mean '%s'?)", key->str, where, s);
	else
		kp_node_errorf(err, KP_ERR_INVALID, key, "unknown key '%s' in %s", key->str, where);
}
