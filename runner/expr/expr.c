/*
 * expr.c - compiling "{{ expr }}" templates and bare expressions, and
 * rendering them.
 *
 * Compiling splits a template into text and expressions and loads each
 * expression once in a throwaway Lua state (text only, never bytecode), so
 * a syntax error is reported with its YAML position when the plan loads.
 * Rendering `{{ name }}` or `{{ a.b.c }}` looks the variable up in C: most
 * templates in a plan are just that, and it is far cheaper than running
 * Lua. Everything else goes to kp_lua_eval() (luastate.c).
 */
#include "expr/luaint.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#define JINJA_FILTER_HINT                                                                          \
	" (Jinja filters are not supported: write default(x, 'd') instead of x | default('d'))"
#define LIST_HINT " (Lua writes a list as {a, b}, not [a, b])"

struct tpart {
	bool is_expr;
	char *text; /* literal text */
	size_t len;
	struct kp_xpart x; /* is_expr */
};

struct kp_template {
	char *src;
	size_t len;
	struct kp_pos pos;
	struct tpart *parts;
	size_t nparts;
	bool single;	      /* exactly one {{ }} and only blanks around it */
	struct kp_value *lit; /* no {{ }} at all: the text as a value */
};

struct kp_expr {
	char *src;
	struct kp_pos pos;
	struct kp_xpart x;
};

/* Lexing just enough Lua to find where an expression ends */

/* At s[i], a Lua long bracket "[==[": its level, or -1. */
static int long_bracket(const char *s, size_t len, size_t i)
{
	size_t j = i + 1;
	if (s[i] != '[')
		return -1;
	while (j < len && s[j] == '=')
		j++;
	return j < len && s[j] == '[' ? (int)(j - i - 1) : -1;
}

/* When s[i] opens a string (quoted or long), the index just past it, or
 * len + 1 when it is not closed; i itself when no string starts there. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
	char q = s[i];
	if (q == '"' || q == '\'') {
		for (size_t j = i + 1; j < len; j++) {
			if (s[j] == '\\')
				j++;
			else if (s[j] == q)
				return j + 1;
			else if (s[j] == '\n')
				break;
		}
		return len + 1;
	}
	int level = long_bracket(s, len, i);
	if (level < 0)
		return i;
	for (size_t j = i + (size_t)level + 2; j < len; j++) {
		if (s[j] != ']')
			continue;
		size_t k = j + 1;
		while (k < len && s[k] == '=')
			k++;
		if (k < len && s[k] == ']' && (int)(k - j - 1) == level)
			return k + 1;
	}
	return len + 1;
}

static bool is_ident_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Copy Lua source, keeping a backslash that starts no Lua escape as a
 * backslash, as Python (so Jinja) does: regex_search(s, '\d+\.\d+') is
 * what people write, and Lua would reject '\d' and '\.'. Valid Lua keeps
 * its meaning: this only turns errors into what was meant. */
static void add_source(struct kp_buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			size_t e = i + 2 < len ? skip_string(s, len, i + 2) : i + 2;
			if (e == i + 2)
				while (e < len && s[e] != '\n')
					e++;
			e = e > len ? len : e;
			kp_buf_add(out, s + i, e - i);
			i = e;
			continue;
		}
		if (s[i] != '"' && s[i] != '\'') {
			size_t e = skip_string(s, len, i);
			e = e == i ? i + 1 : e > len ? len : e;
			kp_buf_add(out, s + i, e - i);
			i = e;
			continue;
		}
		char q = s[i];
		kp_buf_addch(out, q);
		for (i++; i < len; i++) {
			char c = s[i];
			if (c == '\\' && i + 1 < len) {
				if (!strchr("abfnrtvxzu0123456789\\\"'\n\r", s[i + 1]))
					kp_buf_addch(out, '\\'); /* a literal backslash */
				kp_buf_addch(out, c);
				kp_buf_addch(out, s[++i]);
				continue;
			}
			kp_buf_addch(out, c);
			if (c == q || c == '\n') {
				i++;
				break;
			}
		}
	}
}

/* Outside strings and comments, does the expression use '|' or the word
 * `in`? Both point at a Jinja habit. */
static void jinja_habits(const char *s, size_t len, bool *pipe, bool *in)
{
	*pipe = *in = false;
	for (size_t i = 0; i < len;) {
		size_t e = skip_string(s, len, i);
		if (e != i) {
			i = e;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (s[i] == '|') {
			*pipe = true;
			i++;
		} else if (is_ident_start(s[i])) {
			size_t j = i;
			while (j < len && is_ident_char(s[j]))
				j++;
			if (j - i == 2 && !memcmp(s + i, "in", 2))
				*in = true;
			i = j;
		} else {
			i++;
		}
	}
}

/* Find the next keyword `kw` at paren depth 0, outside strings, from i. */
static size_t find_word(const char *s, size_t len, size_t i, const char *kw)
{
	size_t kl = strlen(kw);
	int depth = 0;
	while (i < len) {
		size_t e = skip_string(s, len, i);
		if (e != i) {
			i = e;
		} else if (s[i] == '(' || s[i] == '[' || s[i] == '{') {
			depth++, i++;
		} else if (s[i] == ')' || s[i] == ']' || s[i] == '}') {
			depth--, i++;
		} else if (is_ident_start(s[i])) {
			size_t j = i;
			while (j < len && is_ident_char(s[j]))
				j++;
			if (!depth && j - i == kl && !memcmp(s + i, kw, kl) &&
			    (i == 0 || s[i - 1] != '.'))
				return i;
			i = j;
		} else {
			i++;
		}
	}
	return len;
}

static void trim(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s))
		(*s)++, (*len)--;
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

/* One `and`/`or`-separated clause: `x in y` -> contains(y, x), `x not in y`
 * -> not contains(y, x). */
static void rewrite_in_clause(const char *s, size_t len, struct kp_buf *out)
{
	size_t at = find_word(s, len, 0, "in");
	if (at == len) {
		kp_buf_add(out, s, len);
		return;
	}
	const char *l = s, *r = s + at + 2;
	size_t ll = at, rl = len - at - 2;
	const char *prefix = "";
	trim(&l, &ll);
	trim(&r, &rl);
	if (ll >= 4 && !memcmp(l, "not", 3) && isspace((unsigned char)l[3])) {
		prefix = "not ";
		l += 4, ll -= 4;
		trim(&l, &ll);
	}
	if (ll >= 4 && !memcmp(l + ll - 3, "not", 3) && isspace((unsigned char)l[ll - 4])) {
		prefix = *prefix ? "" : "not ";
		ll -= 3;
		trim(&l, &ll);
	}
	kp_buf_addf(out, " %scontains((%.*s), (%.*s)) ", prefix, (int)rl, r, (int)ll, l);
}

/* Jinja's membership test, as in `when: "'etcd' in group_names"`: not
 * Lua, but common enough in plans ported from Ansible to accept. */
static void rewrite_in(const char *s, size_t len, struct kp_buf *out)
{
	size_t i = 0;
	while (i < len) {
		size_t a = find_word(s, len, i, "and"), o = find_word(s, len, i, "or");
		size_t e = a < o ? a : o;
		rewrite_in_clause(s + i, e - i, out);
		if (e == len)
			break;
		kp_buf_addstr(out, e == a ? "and" : "or");
		i = e + (e == a ? 3 : 2);
	}
}

static bool is_keyword(const char *s, size_t len)
{
	static const char *const kw[] = {
	    "and",	"break",  "do",	  "else", "elseif", "end",   "false", "for",
	    "function", "goto",	  "if",	  "in",	  "local",  "nil",   "not",   "or",
	    "repeat",	"return", "then", "true", "until",  "while",
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(kw); i++)
		if (strlen(kw[i]) == len && !memcmp(kw[i], s, len))
			return true;
	return false;
}

/* "a.b.c" (identifiers, no keywords) into p->path; otherwise no path. */
static void split_path(struct kp_xpart *p)
{
	const char *s = p->src;
	size_t n = 0, i = 0, len = strlen(s);
	char **path = kp_xcalloc(len / 2 + 1, sizeof(*path));
	for (;;) {
		size_t j = i;
		if (j >= len || !is_ident_start(s[j]))
			goto no;
		while (j < len && is_ident_char(s[j]))
			j++;
		if (is_keyword(s + i, j - i))
			goto no;
		path[n++] = kp_xstrndup(s + i, j - i);
		if (j == len)
			break;
		if (s[j] != '.')
			goto no;
		i = j + 1;
	}
	if (kp_lua_is_reserved(path[0]))
		goto no;
	p->path = path;
	p->npath = n;
	return;
no:
	for (size_t k = 0; k < n; k++)
		free(path[k]);
	free(path);
}

/* An expression as messages show it: on one line, each line break with
 * the blanks around it as one space (a `when: |` block reads as if it
 * were written on one line). */
static char *one_line(const char *s, size_t len)
{
	struct kp_buf b = KP_BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\n' && s[i] != '\r') {
			kp_buf_addch(&b, s[i]);
			continue;
		}
		size_t n = b.len;
		while (n && (b.buf[n - 1] == ' ' || b.buf[n - 1] == '\t'))
			n--;
		kp_buf_setlen(&b, n);
		while (i + 1 < len && strchr(" \t\r\n", s[i + 1]))
			i++;
		kp_buf_addch(&b, ' ');
	}
	return kp_buf_detach(&b, NULL);
}

kp_rc kp_xpart_init(struct kp_xpart *p, const char *src, size_t len, struct kp_pos pos,
		    struct kp_buf *err)
{
	struct kp_buf chunk = KP_BUF_INIT;
	bool pipe, in;
	kp_rc rc = KP_OK;

	while (len && isspace((unsigned char)*src)) {
		src++;
		len--;
	}
	while (len && isspace((unsigned char)src[len - 1]))
		len--;
	memset(p, 0, sizeof(*p));
	p->src = kp_xstrndup(src, len);
	p->shown = one_line(src, len);
	jinja_habits(src, len, &pipe, &in);
	kp_buf_addstr(&chunk, "return (");
	size_t body = chunk.len;
	if (in) {
		struct kp_buf rw = KP_BUF_INIT;
		rewrite_in(src, len, &rw);
		add_source(&chunk, rw.buf, rw.len);
		kp_buf_release(&rw);
	} else {
		add_source(&chunk, src, len);
	}
	size_t body_end = chunk.len;
	kp_buf_addstr(&chunk, "\n)"); /* the newline ends a trailing -- comment */

	lua_State *L = luaL_newstate();
	if (!L)
		abort(); /* out of memory, as kp_xmalloc would */
	if (luaL_loadbufferx(L, chunk.buf, chunk.len, "=expr", "t")) {
		/* The message is about the wrapper: `a and` says "near ')'", a
		 * parenthesis the user never wrote. Lua's message for the bare
		 * expression names what was really written (<eof> there). The
		 * bare form can load when the wrapped one does not (`1, 2`): then
		 * the wrapper's message is the one that applies. */
		struct kp_buf bare = KP_BUF_INIT;
		kp_buf_addstr(&bare, "return ");
		kp_buf_add(&bare, chunk.buf + body, body_end - body);
		if (luaL_loadbufferx(L, bare.buf, bare.len, "=expr", "t"))
			lua_remove(L, -2); /* keep the bare expression's message */
		else
			lua_pop(L, 1); /* the function */
		kp_buf_release(&bare);
		const char *msg = lua_tostring(L, -1);
		rc = kp_pos_errorf(err, KP_ERR_PARSE, pos, "invalid expression '%s': %s%s",
				   p->shown, msg ? kp_lua_strip_chunkname(msg) : "syntax error",
				   pipe				      ? JINJA_FILTER_HINT
				   : (msg && strstr(msg, "near '['")) ? LIST_HINT
								      : "");
	} else if (pipe) {
		/* Valid Lua (bitwise or), but in a plan it is a Jinja filter that
		 * would fail at run time with a puzzling message. */
		rc = kp_pos_errorf(err, KP_ERR_PARSE, pos,
				   "invalid expression '%s': '|' is not allowed" JINJA_FILTER_HINT,
				   p->shown);
	}
	lua_close(L);
	if (rc) {
		kp_buf_release(&chunk);
		free(p->src);
		free(p->shown);
		p->src = p->shown = NULL;
		return rc;
	}
	p->chunk = kp_buf_detach(&chunk, &p->chunk_len);
	split_path(p);
	return KP_OK;
}

void kp_xpart_release(struct kp_xpart *p)
{
	free(p->src);
	free(p->shown);
	free(p->chunk);
	for (size_t i = 0; i < p->npath; i++)
		free(p->path[i]);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

/* Templates */

static void add_part(struct kp_template *t, size_t *cap, struct tpart part)
{
	KP_GROW(t->parts, t->nparts + 1, *cap);
	t->parts[t->nparts++] = part;
}

void kp_template_free(struct kp_template *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nparts; i++) {
		if (t->parts[i].is_expr)
			kp_xpart_release(&t->parts[i].x);
		free(t->parts[i].text);
	}
	free(t->parts);
	kp_value_unref(t->lit);
	free(t->src);
	free(t);
}

static bool blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

kp_rc kp_template_compile(const char *src, size_t len, struct kp_pos pos, struct kp_template **out,
			  struct kp_buf *err)
{
	struct kp_template *t = kp_xcalloc(1, sizeof(*t));
	size_t cap = 0, text = 0, i = 0, nexpr = 0;
	kp_rc rc;

	t->src = kp_xstrndup(src, len);
	t->len = len;
	t->pos = pos;
	while (i < len) {
		if (src[i] == '{' && i + 1 < len && src[i + 1] == '%') {
			rc = kp_pos_errorf(err, KP_ERR_PARSE, pos,
					   "'{%% %%}' statements are not supported: use a Lua "
					   "expression inside {{ }}");
			goto fail;
		}
		if (!(src[i] == '{' && i + 1 < len && src[i + 1] == '{')) {
			i++;
			continue;
		}
		/* Find the "}}" that closes it: not inside a string, and not the
		 * end of a table constructor such as {a={b=1}}. */
		size_t j = i + 2, end = 0;
		int depth = 0;
		while (j < len) {
			size_t e = skip_string(src, len, j);
			if (e > len)
				break;
			if (e != j) {
				j = e;
				continue;
			}
			if (src[j] == '{') {
				depth++;
			} else if (src[j] == '}') {
				if (depth == 0 && j + 1 < len && src[j + 1] == '}') {
					end = j;
					break;
				}
				if (depth > 0)
					depth--;
			}
			j++;
		}
		if (!end) {
			rc = kp_pos_errorf(err, KP_ERR_PARSE, pos, "unterminated '{{' in '%s'",
					   t->src);
			goto fail;
		}
		if (i > text)
			add_part(t, &cap,
				 (struct tpart){.text = kp_xstrndup(src + text, i - text),
						.len = i - text});
		struct tpart part = {.is_expr = true};
		rc = kp_xpart_init(&part.x, src + i + 2, end - (i + 2), pos, err);
		if (rc)
			goto fail;
		add_part(t, &cap, part);
		nexpr++;
		i = text = end + 2;
	}
	if (len > text)
		add_part(
		    t, &cap,
		    (struct tpart){.text = kp_xstrndup(src + text, len - text), .len = len - text});
	if (!nexpr) {
		t->lit = kp_value_strn(src, len);
	} else if (nexpr == 1) {
		t->single = true;
		for (size_t k = 0; k < t->nparts; k++)
			if (!t->parts[k].is_expr && !blank(t->parts[k].text, t->parts[k].len))
				t->single = false;
	}
	*out = t;
	return KP_OK;
fail:
	kp_template_free(t);
	return rc;
}

bool kp_template_is_literal(const struct kp_template *t)
{
	return t->lit != NULL;
}

const char *kp_template_source(const struct kp_template *t)
{
	return t->src;
}

struct kp_pos kp_template_pos(const struct kp_template *t)
{
	return t->pos;
}

/* Rendering */

/* `name` or `a.b.c` looked up in C: the value, or NULL to let Lua decide
 * (not found, unknown, not a map on the way: Lua gives the right error). */
static const struct kp_value *fast_lookup(const struct kp_xpart *p, const struct kp_scope *s)
{
	const struct kp_value *v = NULL;
	if (!p->npath)
		return NULL;
	for (size_t i = 0; i < s->nunknown; i++)
		if (!strcmp(s->unknown[i], p->path[0]))
			return NULL;
	for (size_t i = s->nlayers; i-- > 0 && !v;)
		if (s->layers[i])
			v = kp_map_get(s->layers[i], p->path[0]);
	for (size_t i = 1; v && i < p->npath; i++)
		v = v->type == KP_V_MAP ? kp_map_get(v, p->path[i]) : NULL;
	return v;
}

/* Variables whose values are templates */

static bool holds_template(const struct kp_value *v, int depth)
{
	if (depth > 64)
		return false;
	switch (v->type) {
	case KP_V_STR:
		return memmem(v->u.str.s, v->u.str.len, "{{", 2) ||
		       memmem(v->u.str.s, v->u.str.len, "{%", 2);
	case KP_V_LIST:
		for (size_t i = 0; i < v->u.list.n; i++)
			if (holds_template(v->u.list.items[i], depth + 1))
				return true;
		return false;
	case KP_V_MAP:
		for (size_t i = 0; i < v->u.map.n; i++)
			if (holds_template(v->u.map.vals[i], depth + 1))
				return true;
		return false;
	default:
		return false;
	}
}

/* The compiled template for a variable's text, compiled once per state. */
static kp_rc var_template(struct kp_lua *kl, const struct kp_value *str, struct kp_template **out,
			  struct kp_buf *err)
{
	if (!kl->var_tmpl_index)
		kl->var_tmpl_index = kp_value_map();
	const struct kp_value *idx = kp_map_get(kl->var_tmpl_index, str->u.str.s);
	if (idx) {
		*out = kl->var_tmpls[idx->u.i];
		return KP_OK;
	}
	kp_rc rc = kp_template_compile(str->u.str.s, str->u.str.len, (struct kp_pos){0}, out, err);
	if (rc)
		return rc;
	KP_GROW(kl->var_tmpls, kl->nvar_tmpls + 1, kl->capvar_tmpls);
	kl->var_tmpls[kl->nvar_tmpls] = *out;
	kp_map_set_take(kl->var_tmpl_index, str->u.str.s, kp_value_int((int64_t)kl->nvar_tmpls));
	kl->nvar_tmpls++;
	return KP_OK;
}

static kp_rc render_var_value(struct kp_lua *kl, const struct kp_value *v, const struct kp_scope *s,
			      struct kp_value **out, struct kp_buf *err)
{
	kp_rc rc = KP_OK;
	if (!holds_template(v, 0)) {
		*out = kp_value_ref(v);
		return KP_OK;
	}
	if (v->type == KP_V_STR) {
		struct kp_template *t;
		rc = var_template(kl, v, &t, err);
		if (!rc)
			rc = kp_template_render(kl, t, s, out, err);
		if (!rc && ((v->secret && !(*out)->secret) || (v->no_log && !(*out)->no_log))) {
			struct kp_value *c = kp_value_copy(*out);
			c->secret |= v->secret;
			c->no_log |= v->no_log;
			kp_value_unref(*out);
			*out = c;
		}
		return rc;
	}
	struct kp_value *c = v->type == KP_V_LIST ? kp_value_list() : kp_value_map();
	size_t n = v->type == KP_V_LIST ? v->u.list.n : v->u.map.n;
	for (size_t i = 0; i < n && !rc; i++) {
		struct kp_value *item;
		rc = render_var_value(kl,
				      v->type == KP_V_LIST ? v->u.list.items[i] : v->u.map.vals[i],
				      s, &item, err);
		if (rc)
			break;
		if (v->type == KP_V_LIST)
			kp_list_push_take(c, item);
		else
			kp_map_set_take(c, v->u.map.keys[i], item);
	}
	if (rc) {
		kp_value_unref(c);
		return rc;
	}
	c->secret = v->secret;
	c->no_log = v->no_log;
	*out = c;
	return KP_OK;
}

/* This variable's rendering failed and its message names it: report it
 * where the variable was written, when the scope knows. */
static void note_var_pos(struct kp_lua *kl, const char *name, const struct kp_value *v,
			 const struct kp_scope *s)
{
	struct kp_pos pos = {0};
	if (s->var_pos && !s->var_pos(s->ctx, name, v, &pos))
		pos = (struct kp_pos){0};
	kl->var_pos = pos;
}

struct kp_pos kp_var_error_pos(struct kp_lua *kl, struct kp_pos use_pos)
{
	if (kl->nresolving || !kl->var_pos.file)
		return use_pos;
	struct kp_pos pos = kl->var_pos;
	kl->var_pos = (struct kp_pos){0};
	return pos;
}

kp_rc kp_var_resolve(struct kp_lua *kl, const char *name, const struct kp_value *v,
		     const struct kp_scope *s, struct kp_value **out, struct kp_buf *err)
{
	*out = NULL;
	if (!holds_template(v, 0))
		return KP_OK;
	if (!kl->nresolving)
		kl->var_pos = (struct kp_pos){0}; /* nothing left from an earlier error */
	for (int i = 0; i < kl->nresolving; i++) {
		if (strcmp(kl->resolving[i], name))
			continue;
		struct kp_buf chain = KP_BUF_INIT;
		for (int j = i; j < kl->nresolving; j++)
			kp_buf_addf(&chain, "'%s' -> ", kl->resolving[j]);
		kp_buf_addf(&chain, "'%s'", name);
		kp_errorf(err, KP_ERR_INVALID, "variable '%s' is defined in terms of itself (%s)",
			  name, chain.buf);
		kp_buf_release(&chain);
		/* a cycle is no one variable's fault: reported where it is used */
		return KP_ERR_INVALID;
	}
	if (kl->nresolving >= KP_VAR_MAX_DEPTH)
		return kp_errorf(err, KP_ERR_LIMIT,
				 "variable '%s': variables refer to each other more than %d deep",
				 name, KP_VAR_MAX_DEPTH);
	kl->resolving[kl->nresolving++] = name;
	struct kp_buf inner = KP_BUF_INIT;
	kp_rc rc = render_var_value(kl, v, s, out, &inner);
	kl->nresolving--;
	if (rc == KP_ERR_UNKNOWN) {
		kp_errorf(err, rc, "%s", inner.buf);
	} else if (rc && (strstr(inner.buf, "(in the value of") ||
			  strstr(inner.buf, "in terms of itself"))) {
		/* the innermost variable is already named */
		kp_errorf(err, rc, "%s", inner.buf);
	} else if (rc) {
		/* the innermost variable named is the one to point at */
		kp_errorf(err, rc, "%s (in the value of '%s')", inner.buf, name);
		note_var_pos(kl, name, v, s);
	}
	kp_buf_release(&inner);
	return rc;
}

void kp_var_cache_free(struct kp_lua *kl)
{
	for (size_t i = 0; i < kl->nvar_tmpls; i++)
		kp_template_free(kl->var_tmpls[i]);
	free(kl->var_tmpls);
	kp_value_unref(kl->var_tmpl_index);
}

static kp_rc eval_part(struct kp_lua *L, const struct kp_xpart *p, struct kp_pos pos,
		       const struct kp_scope *s, struct kp_value **out, bool *truth,
		       struct kp_buf *err)
{
	const struct kp_value *v = fast_lookup(p, s);
	if (v && holds_template(v, 0)) {
		/* a.b.c: render the value found under its full path name */
		struct kp_buf name = KP_BUF_INIT, msg = KP_BUF_INIT;
		struct kp_value *r = NULL;
		for (size_t i = 0; i < p->npath; i++)
			kp_buf_addf(&name, "%s%s", i ? "." : "", p->path[i]);
		kp_rc rc = kp_var_resolve(L, name.buf, v, s, &r, &msg);
		if (rc)
			kp_pos_errorf(err, rc, kp_var_error_pos(L, pos), "%s", msg.buf);
		kp_buf_release(&name);
		kp_buf_release(&msg);
		if (rc)
			return rc;
		if (truth)
			*truth = kp_value_truthy(r);
		if (out)
			*out = r;
		else
			kp_value_unref(r);
		return KP_OK;
	}
	if (v) {
		if (truth)
			*truth = kp_value_truthy(v);
		if (out)
			*out = kp_value_ref(v);
		return KP_OK;
	}
	return kp_lua_eval(L, p, pos, s, out, truth, err);
}

static kp_rc render(struct kp_lua *L, const struct kp_template *t, const struct kp_scope *s,
		    struct kp_value **out, struct kp_buf *err)
{
	struct kp_buf text = KP_BUF_INIT;
	bool secret = false, no_log = false;

	if (t->lit) {
		*out = kp_value_ref(t->lit);
		return KP_OK;
	}
	for (size_t i = 0; i < t->nparts; i++) {
		const struct tpart *part = &t->parts[i];
		struct kp_value *v;
		if (!part->is_expr) {
			kp_buf_add(&text, part->text, part->len);
			continue;
		}
		kp_rc rc = eval_part(L, &part->x, t->pos, s, &v, NULL, err);
		if (rc) {
			kp_buf_release(&text);
			return rc;
		}
		if (t->single) {
			kp_buf_release(&text);
			*out = v;
			return KP_OK;
		}
		secret |= v->secret;
		no_log |= v->no_log; /* a string built from a no_log value prints hidden */
		kp_value_to_text(v, false, &text);
		kp_value_unref(v);
	}
	size_t len;
	char *str = kp_buf_detach(&text, &len);
	*out = kp_value_str_take(str, len);
	(*out)->secret = secret;
	(*out)->no_log = no_log;
	return KP_OK;
}

kp_rc kp_template_render(struct kp_lua *L, const struct kp_template *t, const struct kp_scope *s,
			 struct kp_value **out, struct kp_buf *err)
{
	kp_rc rc = render(L, t, s, out, err);
	if (rc == KP_ERR_UNKNOWN && s->placeholder) {
		*out = kp_value_str(KP_UNKNOWN_TEXT);
		return KP_OK;
	}
	return rc;
}

/* Bare expressions */

kp_rc kp_expr_compile(const char *src, struct kp_pos pos, struct kp_expr **out, struct kp_buf *err)
{
	struct kp_template *t = NULL;
	struct kp_buf ignored = KP_BUF_INIT;
	size_t len = strlen(src);
	const char *code = src;
	size_t clen = len;

	/* `when: "{{ x }}"` is an Ansible habit: take the inside. */
	if (kp_template_compile(src, len, pos, &t, &ignored) == KP_OK && t->single) {
		for (size_t i = 0; i < t->nparts; i++)
			if (t->parts[i].is_expr) {
				code = t->parts[i].x.src;
				clen = strlen(code);
			}
	}
	kp_buf_release(&ignored);
	struct kp_expr *e = kp_xcalloc(1, sizeof(*e));
	kp_rc rc = kp_xpart_init(&e->x, code, clen, pos, err);
	kp_template_free(t);
	if (rc) {
		free(e);
		return rc;
	}
	e->src = kp_xstrdup(src);
	e->pos = pos;
	*out = e;
	return KP_OK;
}

void kp_expr_free(struct kp_expr *e)
{
	if (!e)
		return;
	kp_xpart_release(&e->x);
	free(e->src);
	free(e);
}

const char *kp_expr_source(const struct kp_expr *e)
{
	return e->src;
}

kp_rc kp_expr_eval(struct kp_lua *L, const struct kp_expr *e, const struct kp_scope *s,
		   struct kp_value **out, struct kp_buf *err)
{
	return eval_part(L, &e->x, e->pos, s, out, NULL, err);
}

kp_rc kp_expr_test(struct kp_lua *L, const struct kp_expr *e, const struct kp_scope *s, bool *out,
		   struct kp_buf *err)
{
	return eval_part(L, &e->x, e->pos, s, NULL, out, err);
}
