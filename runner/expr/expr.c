/*
 * expr.c - compiling "{{ }}" templates and bare expressions (Jinja, as
 * ansible-core 2.14 uses it) and rendering them.
 *
 * Compiling parses the text once into an AST (jinja/), so a syntax error
 * is reported with its YAML position when the plan loads. Rendering
 * follows ansible-core's Templar: a value that is exactly "{{ name }}"
 * with name a number, boolean or null variable gives that value; anything
 * else renders to text, and text that reads as a Python list, dict or
 * True/False is converted back (ast.literal_eval), so "{{ groups['all'] }}"
 * is a list and "{{ 1 + 1 }}" the string "2". Variables whose values hold
 * templates are rendered when used; results of rendering are marked
 * unsafe so they are never templated again.
 */
#include "expr/luaint.h"

#include "expr/jinja/jlib.h"
#include "expr/jinja/jinja.h"

#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct kp_template {
	char *src;
	size_t len;
	struct kp_pos pos;
	struct jtemplate *jt; /* NULL: literal */
	struct kp_value *lit; /* no template syntax at all: the text as a value */
	bool text_only;	      /* template files: always text */
	bool native_text;     /* {{ x | to_json }} and the like: no literal_eval */
};

struct kp_expr {
	char *src;
	struct kp_pos pos;
	struct jnode *n;
};

/* An expression as messages show it: on one line. */
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
	while (b.len && b.buf[b.len - 1] == ' ')
		kp_buf_setlen(&b, b.len - 1);
	return kp_buf_detach(&b, NULL);
}

/* Habits from Lua expressions, with what Jinja writes instead. */
static const char *lua_hint(const char *s, size_t len)
{
	bool in_str = false;
	char q = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str) {
			if (c == q)
				in_str = false;
			continue;
		}
		if (c == '\'' || c == '"') {
			in_str = true;
			q = c;
		} else if (c == '~' && i + 1 < len && s[i + 1] == '=') {
			return " (Jinja writes != for 'not equal', not ~=)";
		} else if (c == '.' && i + 1 < len && s[i + 1] == '.') {
			return " (Jinja joins strings with ~, not ..)";
		} else if (c == '#' && (i == 0 || !isalnum((unsigned char)s[i - 1]))) {
			return " (Jinja writes x | length, not #x)";
		} else if (c == '{' && i + 1 < len && isalpha((unsigned char)s[i + 1])) {
			/* {a, b} as a Lua table */
			size_t j = i + 1;
			while (j < len && (isalnum((unsigned char)s[j]) || s[j] == '_'))
				j++;
			if (j < len && (s[j] == ',' || s[j] == '='))
				return " (Jinja writes a list as [a, b] and a dict as {'k': v})";
		}
	}
	return "";
}

/* Calls of functions that are filters or tests in Jinja. */
static const char *call_hint(const char *name)
{
	static const struct {
		const char *name, *hint;
	} h[] = {
	    {"default", "write x | default(y) instead of default(x, y)"},
	    {"defined", "write x is defined instead of defined(x)"},
	    {"version_compare", "write a is version(b, op) instead of version_compare(a, op, b)"},
	    {"regex_search", "write s | regex_search(re) instead of regex_search(s, re)"},
	    {"regex_replace", "write s | regex_replace(re, r) instead of regex_replace(s, re, r)"},
	    {"join", "write list | join(sep) instead of join(list, sep)"},
	    {"contains", "write x in list instead of contains(list, x)"},
	    {"length", "write x | length instead of length(x)"},
	    {"tostring", "write x | string instead of tostring(x)"},
	    {"tonumber", "write x | int or x | float instead of tonumber(x)"},
	    {"to_json", "write x | to_json instead of to_json(x)"},
	    {"from_json", "write x | from_json instead of from_json(x)"},
	    {"lookup_file", "write lookup('file', path) instead of lookup_file(path)"},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(h); i++)
		if (!strcmp(h[i].name, name))
			return h[i].hint;
	return NULL;
}

/* After parsing: unknown filters, tests and functions are errors now,
 * not when a host reaches the task (Jinja refuses them at compile time). */
/* The engine's own filters and tests, which the library's tables do not
 * list: for "did you mean". */
static const char *const engine_filters[] = {"default", "d", "mandatory", "attr", NULL};
static const char *const engine_tests[] = {"defined", "undefined", NULL};

static kp_rc check_names(struct jnode *n, struct kp_buf *msg, size_t *at)
{
	if (!n)
		return KP_OK;
	if (n->kind == JN_FILTER)
		n->fn = kp_jfilter_find(n->name);
	else if (n->kind == JN_TEST)
		n->fn = kp_jtest_find(n->name);
	if (n->kind == JN_FILTER && !n->fn) {
		*at = (size_t)n->offset;
		kp_jinja_unknown_name("filter", n->name, engine_filters, msg);
		return KP_ERR_PARSE;
	}
	if (n->kind == JN_TEST && !n->fn) {
		*at = (size_t)n->offset;
		kp_jinja_unknown_name("test", n->name, engine_tests, msg);
		return KP_ERR_PARSE;
	}
	/* lookup('nosuch', ...) with the name written out: Ansible finds no
	 * plugin only when it runs; kplan says so before anything runs */
	if (n->kind == JN_CALL && n->kids[0]->kind == JN_NAME && n->nkids - 1 > n->nkw &&
	    n->kids[1]->kind == JN_CONST && n->kids[1]->val->type == KP_V_STR &&
	    (!strcmp(n->kids[0]->name, "lookup") || !strcmp(n->kids[0]->name, "query") ||
	     !strcmp(n->kids[0]->name, "q")) &&
	    !kp_jlookup_find(n->kids[1]->val->u.str.s)) {
		*at = (size_t)n->kids[1]->offset;
		kp_jinja_unknown_name("lookup", n->kids[1]->val->u.str.s, NULL, msg);
		return KP_ERR_PARSE;
	}
	/* a call of a Lua helper's name: say what Jinja writes (other names
	 * are Jinja's business when it runs: "'str' object is not callable") */
	if (n->kind == JN_CALL && n->kids[0]->kind == JN_NAME &&
	    !kp_jglobal_exists(n->kids[0]->name) && call_hint(n->kids[0]->name)) {
		*at = (size_t)n->offset;
		kp_buf_addf(msg, "no function named '%s' (%s)", n->kids[0]->name,
			    call_hint(n->kids[0]->name));
		return KP_ERR_PARSE;
	}
	for (size_t i = 0; i < n->nkids; i++)
		if (check_names(n->kids[i], msg, at))
			return KP_ERR_PARSE;
	return KP_OK;
}

static kp_rc check_body(const struct jbody *b, struct kp_buf *msg, size_t *at)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct jstmt *st = &b->s[i];
		if (check_names(st->expr, msg, at) || check_names(st->filter, msg, at))
			return KP_ERR_PARSE;
		for (size_t k = 0; st->defaults && k < st->ntargets; k++)
			if (check_names(st->defaults[k], msg, at))
				return KP_ERR_PARSE;
		for (size_t k = 0; k < st->nconds; k++)
			if (check_names(st->conds[k], msg, at) ||
			    check_body(&st->bodies[k], msg, at))
				return KP_ERR_PARSE;
		if ((st->body && check_body(st->body, msg, at)) ||
		    (st->else_body && check_body(st->else_body, msg, at)))
			return KP_ERR_PARSE;
	}
	return KP_OK;
}

/* Jinja's message, the line and column in the template it points at
 * (Jinja's line: a line break inside the template counts), and under the
 * message that line with a caret below the column. what NULL: a template
 * file, whose position moves to the line and column. */
static kp_rc syntax_error(struct kp_buf *err, struct kp_pos pos, const char *what, const char *src,
			  size_t len, const char *msg, size_t at)
{
	char *shown = one_line(src, len);
	if (at > len)
		at = len;
	size_t bol = at, eol = at;
	int line, col;
	kp_jsrc_linecol(src, len, at, &line, &col);
	while (bol && src[bol - 1] != '\n')
		bol--;
	while (eol < len && src[eol] != '\n' && src[eol] != '\r')
		eol++;
	const char *hint = strstr(msg, "(write") ? "" : lua_hint(src, len);
	int mlen = (int)strlen(msg);
	if (mlen && msg[mlen - 1] == '.') /* Jinja's sentences, kplan's style */
		mlen--;
	kp_rc rc;
	if (!what) {
		/* a template file: its own position is the file's */
		pos.col = line == 1 ? pos.col + col - 1 : col;
		pos.line += line - 1;
		rc = kp_pos_errorf(err, KP_ERR_PARSE, pos,
				   "invalid template: %.*s%s (line %d, column %d)", mlen, msg, hint,
				   line, col);
	} else {
		rc = kp_pos_errorf(err, KP_ERR_PARSE, pos,
				   "invalid %s '%s': %.*s%s (line %d, column %d)", what, shown,
				   mlen, msg, hint, line, col);
	}
	kp_buf_addf(err, "\n    %.*s\n    ", (int)(eol - bol), src + bol);
	for (size_t i = bol; i < at; i++)
		if (((unsigned char)src[i] & 0xc0) != 0x80)
			kp_buf_addch(err, src[i] == '\t' ? '\t' : ' ');
	kp_buf_addch(err, '^');
	free(shown);
	return rc;
}

static bool has_syntax(const char *s, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#'))
			return true;
	return false;
}

static const char *const string_filters[] = {"string",	     "to_json", "to_nice_json", "to_yaml",
					     "to_nice_yaml", "ppretty", "json"};

static kp_rc compile(const char *src, size_t len, struct kp_pos pos, bool file, bool trim,
		     bool lstrip, struct kp_template **out, struct kp_buf *err)
{
	struct kp_template *t = kp_xcalloc(1, sizeof(*t));
	t->src = kp_xstrndup(src, len);
	t->len = len;
	t->pos = pos;
	t->text_only = file;
	if (!has_syntax(src, len)) {
		t->lit = kp_value_strn(src, len);
		*out = t;
		return KP_OK;
	}
	struct jopts o = {.trim_blocks = trim, .lstrip_blocks = lstrip};
	struct kp_buf msg = KP_BUF_INIT;
	size_t at = 0;
	kp_rc rc = kp_jparse_template(src, len, &o, &t->jt, &msg, &at);
	if (!rc)
		rc = check_body(&t->jt->body, &msg, &at);
	if (rc) {
		/* a one-expression template reads better with just the expression */
		syntax_error(err, pos, file ? NULL : "template", src, len, msg.buf, at);
		kp_buf_release(&msg);
		kp_template_free(t);
		return rc;
	}
	kp_buf_release(&msg);
	if (t->jt->single && t->jt->single->kind == JN_FILTER)
		for (size_t i = 0; i < KP_ARRAY_LEN(string_filters); i++)
			if (!strcmp(t->jt->single->name, string_filters[i]) ||
			    (strlen(t->jt->single->name) > 16 &&
			     !strcmp(t->jt->single->name + 16, string_filters[i])))
				t->native_text = true;
	*out = t;
	return KP_OK;
}

kp_rc kp_template_compile(const char *src, size_t len, struct kp_pos pos, struct kp_template **out,
			  struct kp_buf *err)
{
	return compile(src, len, pos, false, true, false, out, err); /* Templar: trim_blocks */
}

kp_rc kp_template_compile_file(const char *src, size_t len, struct kp_pos pos, bool trim_blocks,
			       bool lstrip_blocks, struct kp_template **out, struct kp_buf *err)
{
	return compile(src, len, pos, true, trim_blocks, lstrip_blocks, out, err);
}

void kp_template_free(struct kp_template *t)
{
	if (!t)
		return;
	kp_jtemplate_free(t->jt);
	kp_value_unref(t->lit);
	free(t->src);
	free(t);
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

/* Variables whose values are templates */

static bool holds_template(const struct kp_value *v, int depth)
{
	if (depth > 64 || v->unsafe)
		return false;
	switch (v->type) {
	case KP_V_STR:
		return memmem(v->u.str.s, v->u.str.len, "{{", 2) ||
		       memmem(v->u.str.s, v->u.str.len, "{%", 2) ||
		       memmem(v->u.str.s, v->u.str.len, "{#", 2);
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

/* Rendering */

static void ctx_init(struct kp_jctx *cx, struct kp_lua *kl, const struct kp_scope *s,
		     struct kp_buf *msg)
{
	memset(cx, 0, sizeof(*cx));
	cx->kl = kl;
	cx->scope = s;
	cx->err = msg;
	cx->budget = KP_JINJA_BUDGET;
}

static void ctx_release(struct kp_jctx *cx)
{
	while (cx->nlocals)
		kp_value_unref(cx->lvals[--cx->nlocals]);
}

static kp_rc report(struct kp_jctx *cx, kp_rc rc, struct kp_pos pos, const char *src,
		    struct kp_buf *err)
{
	if (cx->var_rc) {
		kp_pos_errorf(err, rc, kp_var_error_pos(cx->kl, pos), "%s", cx->err->buf);
	} else if (rc == KP_ERR_UNDEFINED || rc == KP_ERR_UNKNOWN) {
		kp_pos_errorf(err, rc, pos, "%s", cx->err->buf);
	} else {
		char *shown = one_line(src, strlen(src));
		kp_pos_errorf(err, rc, pos, "error in expression '%s': %s", shown, cx->err->buf);
		free(shown);
	}
	return rc;
}

static bool looks_literal(const char *s, size_t len)
{
	return (len && (s[0] == '[' || s[0] == '{')) || (len == 4 && !memcmp(s, "True", 4)) ||
	       (len == 5 && !memcmp(s, "False", 5));
}

static bool holds_syntax(const struct kp_value *v, int depth)
{
	if (depth > 64)
		return false;
	switch (v->type) {
	case KP_V_STR:
		return has_syntax(v->u.str.s, v->u.str.len);
	case KP_V_LIST:
		for (size_t i = 0; i < v->u.list.n; i++)
			if (holds_syntax(v->u.list.items[i], depth + 1))
				return true;
		return false;
	case KP_V_MAP:
		for (size_t i = 0; i < v->u.map.n; i++)
			if (holds_syntax(v->u.map.vals[i], depth + 1))
				return true;
		return false;
	default:
		return false;
	}
}

/* The final value: flags from what the evaluation used; unsafe when it
 * holds template syntax, so that it is never templated again. */
static struct kp_value *finish(struct kp_value *v, bool secret, bool no_log)
{
	bool unsafe = !v->unsafe && holds_syntax(v, 0);
	if ((secret && !v->secret) || (no_log && !v->no_log) || unsafe) {
		struct kp_value *c = v->refs == 1 ? v : kp_value_copy(v);
		if (c != v)
			kp_value_unref(v);
		c->secret |= secret;
		c->no_log |= no_log;
		c->unsafe |= unsafe;
		v = c;
	}
	return v;
}

static struct kp_value *text_value(struct kp_buf *b)
{
	size_t len;
	char *s = kp_buf_detach(b, &len);
	return kp_value_str_take(s, len);
}

static size_t trailing_newlines(const char *s, size_t len)
{
	size_t n = 0;
	while (len && s[len - 1] == '\n') {
		n++;
		len -= len > 1 && s[len - 2] == '\r' ? 2 : 1;
	}
	return n;
}

/* ansible-core's preserve_trailing_newlines: the text ends with as many
 * line breaks as the template did (Jinja drops the last one). */
static struct kp_value *keep_newlines(const struct kp_template *t, struct kp_value *v)
{
	size_t want = trailing_newlines(t->src, t->len);
	size_t have = trailing_newlines(v->u.str.s, v->u.str.len);
	if (want <= have)
		return v;
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_add(&b, v->u.str.s, v->u.str.len);
	for (size_t i = have; i < want; i++)
		kp_buf_addch(&b, '\n');
	struct kp_value *r = text_value(&b);
	r->secret = v->secret;
	r->no_log = v->no_log;
	r->unsafe = v->unsafe;
	kp_value_unref(v);
	return r;
}

static kp_rc render_single(struct kp_jctx *cx, const struct kp_template *t, struct kp_value **out)
{
	struct kp_value *v = NULL;
	kp_rc rc = kp_jeval(cx, t->jt->single, &v);
	if (rc)
		return rc;
	const struct kp_value *inner = kp_jv_is_undef(v) ? NULL : kp_jv_find_undef(v, 0);
	if (inner) {
		rc = kp_jv_undef_error(cx, inner);
		kp_value_unref(v);
		return rc;
	}
	if (kp_jv_is_undef(v)) {
		if (v->no_log) { /* `x if c` without else */
			kp_value_unref(v);
			*out = kp_value_str("");
			return KP_OK;
		}
		rc = kp_jv_undef_error(cx, v);
		kp_value_unref(v);
		return rc;
	}
	switch (v->type) {
	case KP_V_NULL:
		kp_value_unref(v);
		*out = kp_value_str("");
		return KP_OK;
	case KP_V_INT:
	case KP_V_FLOAT: {
		struct kp_buf b = KP_BUF_INIT;
		kp_jinja_str(v, &b);
		struct kp_value *s = text_value(&b);
		s->secret = v->secret;
		s->no_log = v->no_log;
		kp_value_unref(v);
		*out = s;
		return KP_OK;
	}
	case KP_V_STR:
		if (!t->native_text && looks_literal(v->u.str.s, v->u.str.len)) {
			struct kp_value *lit = kp_jliteral_eval(v->u.str.s, v->u.str.len);
			if (lit) {
				lit->secret = v->secret;
				lit->no_log = v->no_log;
				lit->unsafe = v->unsafe;
				kp_value_unref(v);
				v = lit;
			}
		}
		*out = v;
		return KP_OK;
	case KP_V_LIST:
		if (v->tuple) { /* "(1, 2)" is not read back: text */
			struct kp_buf b = KP_BUF_INIT;
			kp_jinja_str(v, &b);
			kp_value_unref(v);
			*out = text_value(&b);
			return KP_OK;
		}
		*out = v;
		return KP_OK;
	default: /* bool, list, dict: what literal_eval(str(v)) gives back */
		*out = v;
		return KP_OK;
	}
}

static kp_rc render(struct kp_lua *L, const struct kp_template *t, const struct kp_scope *s,
		    struct kp_value **out, struct kp_buf *err)
{
	if (t->lit) {
		*out = kp_value_ref(t->lit);
		return KP_OK;
	}
	/* Templar's single-variable fast path: numbers, booleans, null */
	if (!t->text_only && t->jt->single_var) {
		const char *name = t->jt->single_var;
		const struct kp_value *v = NULL;
		bool unknown = false;
		for (size_t i = 0; i < s->nunknown; i++)
			unknown |= !strcmp(s->unknown[i], name);
		if (!unknown)
			v = kp_scope_get(s, name);
		if (v && (v->type == KP_V_NULL || v->type == KP_V_BOOL || v->type == KP_V_INT ||
			  v->type == KP_V_FLOAT)) {
			*out = kp_value_ref(v);
			return KP_OK;
		}
	}
	struct kp_buf msg = KP_BUF_INIT;
	struct kp_jctx cx;
	kp_rc rc;
	ctx_init(&cx, L, s, &msg);
	if (!t->text_only && t->jt->single) {
		rc = render_single(&cx, t, out);
	} else {
		struct kp_buf text = KP_BUF_INIT;
		rc = kp_jrender(&cx, &t->jt->body, &text);
		if (!rc && !t->text_only && looks_literal(text.buf, text.len)) {
			*out = kp_jliteral_eval(text.buf, text.len);
			if (!*out)
				*out = text_value(&text);
		} else if (!rc) {
			*out = text_value(&text);
		}
		kp_buf_release(&text);
	}
	if (!rc && (*out)->type == KP_V_STR)
		*out = keep_newlines(t, *out);
	if (rc)
		report(&cx, rc, t->pos, t->src, err);
	else
		*out = finish(*out, cx.secret, cx.no_log);
	ctx_release(&cx);
	kp_buf_release(&msg);
	return rc;
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

kp_rc kp_lookup_run(struct kp_lua *L, const char *name, const struct kp_value *terms,
		    const struct kp_scope *s, struct kp_pos pos, struct kp_value **out,
		    struct kp_buf *err)
{
	struct kp_buf msg = KP_BUF_INIT;
	struct kp_jctx cx;
	ctx_init(&cx, L, s, &msg);
	kp_rc rc = kp_jinja_lookup(&cx, name, terms, out);
	if (rc) {
		/* a with_ loop's message is the lookup's own, as in Ansible */
		char prefix[160];
		snprintf(prefix, sizeof(prefix), "lookup '%s': ", name);
		const char *m = msg.buf;
		if (!strncmp(m, prefix, strlen(prefix)))
			m += strlen(prefix);
		kp_pos_errorf(err, rc, pos, "%s", m);
	}
	ctx_release(&cx);
	kp_buf_release(&msg);
	return rc;
}

bool kp_lookup_exists(const char *name)
{
	return kp_jinja_lookup_exists(name);
}

/* Bare expressions */

kp_rc kp_expr_compile(const char *src, struct kp_pos pos, struct kp_expr **out, struct kp_buf *err)
{
	size_t len = strlen(src);
	const char *code = src;
	size_t clen = len;
	while (clen && isspace((unsigned char)*code))
		code++, clen--;
	while (clen && isspace((unsigned char)code[clen - 1]))
		clen--;
	/* `when: "{{ x }}"`: Ansible warns and takes the inside */
	if (clen >= 4 && !memcmp(code, "{{", 2) && !memcmp(code + clen - 2, "}}", 2) &&
	    !memmem(code + 2, clen - 4, "}}", 2) && !memmem(code + 2, clen - 4, "{{", 2)) {
		code += 2, clen -= 4;
		if (clen && code[0] == '-')
			code++, clen--;
		if (clen && code[clen - 1] == '-')
			clen--;
	}
	struct kp_buf msg = KP_BUF_INIT;
	size_t at = 0;
	struct jnode *n = NULL;
	kp_rc rc = kp_jparse_expr(code, clen, false, &n, &msg, &at);
	if (!rc)
		rc = check_names(n, &msg, &at);
	if (rc) {
		syntax_error(err, pos, "expression", code, clen, msg.buf, at);
		kp_buf_release(&msg);
		kp_jnode_free(n);
		return rc;
	}
	kp_buf_release(&msg);
	struct kp_expr *e = kp_xcalloc(1, sizeof(*e));
	e->src = kp_xstrdup(src);
	e->pos = pos;
	e->n = n;
	*out = e;
	return KP_OK;
}

void kp_expr_free(struct kp_expr *e)
{
	if (!e)
		return;
	kp_jnode_free(e->n);
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
	struct kp_buf msg = KP_BUF_INIT;
	struct kp_jctx cx;
	struct kp_value *v = NULL;
	ctx_init(&cx, L, s, &msg);
	kp_rc rc = kp_jeval(&cx, e->n, &v);
	if (!rc && kp_jv_is_undef(v))
		rc = v->no_log ? KP_OK : kp_jv_undef_error(&cx, v);
	if (!rc && kp_jv_is_undef(v)) {
		kp_value_unref(v);
		v = kp_value_null();
	}
	if (rc) {
		kp_value_unref(v);
		report(&cx, rc, e->pos, e->src, err);
	} else {
		*out = finish(v, cx.secret, cx.no_log);
	}
	ctx_release(&cx);
	kp_buf_release(&msg);
	return rc;
}

kp_rc kp_expr_test(struct kp_lua *L, const struct kp_expr *e, const struct kp_scope *s, bool *out,
		   struct kp_buf *err)
{
	struct kp_value *v = NULL;
	kp_rc rc = kp_expr_eval(L, e, s, &v, err);
	if (!rc)
		*out = kp_jinja_truthy(v);
	kp_value_unref(v);
	return rc;
}
