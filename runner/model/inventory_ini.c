/*
 * inventory_ini.c - Ansible's INI inventory: [group], [group:children] and
 * [group:vars] sections, host lines "name key=value ...", `#`/`;` comments,
 * hosts before any section in 'ungrouped'.
 *
 * Values are typed as Ansible types them (ast.literal_eval): integers,
 * floats, True/False, None, quoted strings, [lists] and {dicts}; anything
 * else stays a string. Two deliberate differences, for expressions that are
 * Lua: lowercase true/false are booleans too (in Ansible they stay the
 * strings "true"/"false", and a string is truthy in Lua), and a host-line
 * value written in shell quotes is a string unless it holds a list, dict or
 * string literal (Ansible's shlex strips the quotes first, so x="42" would
 * become the number 42 there; x="[1, 2]" is a list in both).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/inventory.h"
#include "core/ytree.h"

enum state { S_HOSTS, S_CHILDREN, S_VARS };
static const char *const state_names[] = {"hosts", "children", "vars"};

struct pending {
	char *group;  /* a group named before it was declared */
	char *parent; /* NULL for a [group:vars] section */
	int line, col;
};

struct ini {
	struct kp_inventory *inv;
	const char *file;
	struct kp_buf *err;
	int line;
	struct pending *pend;
	size_t npend, cappend;
};

static kp_rc ini_error(struct ini *p, int col, kp_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static kp_rc ini_error(struct ini *p, int col, kp_rc rc, const char *fmt, ...)
{
	va_list ap;
	if (!p->err)
		return rc;
	kp_buf_reset(p->err);
	kp_buf_addf(p->err, "%s:%d:%d: ", p->file, p->line, col);
	va_start(ap, fmt);
	kp_buf_vaddf(p->err, fmt, ap);
	va_end(ap);
	return rc;
}

struct kp_value *kp_inventory_ini_value(const char *s, size_t len)
{
	/* as Ansible's INI plugin: ast.literal_eval, else the text itself */
	struct kp_value *v = kp_python_literal(s, len);
	return v ? v : kp_value_strn(s, len);
}

/* Host lines: shell-like words (shlex with comments) */

struct word {
	struct kp_buf text;
	int col;     /* 1-based column where the word starts */
	int eq;	     /* offset of the first unquoted '=' in text, -1 if none */
	bool quoted; /* some of the text after '=' was quoted */
};

static kp_rc split_words(struct ini *p, const char *line, size_t len, int col0, struct word **out,
			 size_t *nout)
{
	struct word *w = NULL;
	size_t n = 0, cap = 0, i = 0;
	while (i < len) {
		while (i < len && isspace((unsigned char)line[i]))
			i++;
		if (i >= len || line[i] == '#')
			break;
		KP_GROW(w, n + 1, cap);
		struct word *cur = &w[n++];
		kp_buf_init(&cur->text);
		cur->col = col0 + (int)i;
		cur->eq = -1;
		cur->quoted = false;
		while (i < len && !isspace((unsigned char)line[i]) && line[i] != '#') {
			char c = line[i];
			if (c == '\'' || c == '"') {
				size_t start = i++;
				if (cur->eq >= 0)
					cur->quoted = true;
				while (i < len && line[i] != c) {
					/* in double quotes a backslash escapes \ " $ ` only */
					if (c == '"' && line[i] == '\\' && i + 1 < len &&
					    strchr("\\\"$`", line[i + 1]))
						i++;
					kp_buf_addch(&cur->text, line[i++]);
				}
				if (i >= len) {
					for (size_t k = 0; k < n; k++)
						kp_buf_release(&w[k].text);
					free(w);
					return ini_error(p, col0 + (int)start, KP_ERR_PARSE,
							 "unterminated quote in host line");
				}
				i++;
				continue;
			}
			if (c == '\\' && i + 1 < len)
				c = line[++i];
			else if (c == '=' && cur->eq < 0)
				cur->eq = (int)cur->text.len;
			kp_buf_addch(&cur->text, c);
			i++;
		}
	}
	*out = w;
	*nout = n;
	return KP_OK;
}

static void free_words(struct word *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kp_buf_release(&w[i].text);
	free(w);
}

static kp_rc host_line(struct ini *p, size_t g, const char *line, size_t len, int col)
{
	struct word *w = NULL;
	size_t n = 0;
	kp_rc rc = split_words(p, line, len, col, &w, &n);
	if (rc)
		return rc;
	if (!n)
		return KP_OK;
	struct kp_value *vars = kp_value_map();
	for (size_t i = 1; i < n; i++) {
		if (w[i].eq <= 0) {
			rc = ini_error(p, w[i].col, KP_ERR_PARSE,
				       "expected key=value host variable, got '%s'", w[i].text.buf);
			goto out;
		}
		const char *val = w[i].text.buf + w[i].eq + 1;
		size_t vlen = w[i].text.len - (size_t)w[i].eq - 1;
		w[i].text.buf[w[i].eq] = '\0';
		/* the words as shlex leaves them, typed as literal_eval types them:
		 * a="True" is True, as ansible-inventory has it */
		kp_map_set_take(vars, w[i].text.buf, kp_inventory_ini_value(val, vlen));
	}
	int port;
	char *pattern = kp_inventory_split_port(w[0].text.buf, &port);
	struct kp_value *names;
	struct kp_buf rerr = KP_BUF_INIT;
	rc = kp_expand_host_range(pattern, &names, &rerr);
	if (!rc && (rc = kp_inventory_room(p->inv, kp_list_len(names), pattern, &rerr)))
		kp_value_unref(names);
	free(pattern);
	if (rc) {
		ini_error(p, w[0].col, rc, "%s", rerr.buf);
		kp_buf_release(&rerr);
		goto out;
	}
	for (size_t j = 0; j < kp_list_len(names); j++) {
		size_t h = kp_inventory_add_host(p->inv, kp_list_at(names, j)->u.str.s);
		kp_inventory_add_member(p->inv, g, h);
		if (port >= 0)
			kp_map_set_take(p->inv->hosts[h]->vars, "ansible_port", kp_value_int(port));
		kp_map_update(p->inv->hosts[h]->vars, vars);
	}
	kp_value_unref(names);
out:
	kp_value_unref(vars);
	free_words(w, n);
	return rc;
}

/* "key = value  # comment" in [group:vars] */
static kp_rc vars_line(struct ini *p, size_t g, const char *line, size_t len, int col)
{
	const char *eq = memchr(line, '=', len);
	const char *ks = line, *ke = eq ? eq : line + len;
	while (ke > ks && isspace((unsigned char)ke[-1]))
		ke--;
	if (!eq || ke == ks)
		return ini_error(p, col, KP_ERR_PARSE,
				 "expected key=value in [%s:vars], got '%.*s'",
				 p->inv->groups[g]->name, (int)len, line);
	const char *vs = eq + 1, *ve = line + len;
	while (vs < ve && isspace((unsigned char)*vs))
		vs++;
	/* a '#' after whitespace, outside quotes, starts a comment (Python's
	 * literal_eval ignores it too) */
	char q = 0;
	for (const char *c = vs; c < ve; c++) {
		if (q) {
			if (*c == '\\')
				c++;
			else if (*c == q)
				q = 0;
		} else if (*c == '\'' || *c == '"') {
			q = *c;
		} else if (*c == '#' && (c == vs || isspace((unsigned char)c[-1]))) {
			ve = c;
			break;
		}
	}
	while (ve > vs && isspace((unsigned char)ve[-1]))
		ve--;
	char *key = kp_xstrndup(ks, (size_t)(ke - ks));
	kp_map_set_take(p->inv->groups[g]->vars, key,
			kp_inventory_ini_value(vs, (size_t)(ve - vs)));
	free(key);
	return KP_OK;
}

/* A group name token: no whitespace, ':' or ']' (Ansible's rule). */
static size_t name_len(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && !isspace((unsigned char)s[i]) && s[i] != ':' && s[i] != ']')
		i++;
	return i;
}

static bool only_comment(const char *s, size_t len)
{
	size_t i = 0;
	while (i < len && isspace((unsigned char)s[i]))
		i++;
	return i == len || s[i] == '#' || s[i] == ';';
}

static void add_pending(struct ini *p, const char *group, size_t glen, const char *parent, int col)
{
	KP_GROW(p->pend, p->npend + 1, p->cappend);
	struct pending *d = &p->pend[p->npend++];
	d->group = kp_xstrndup(group, glen);
	d->parent = parent ? kp_xstrdup(parent) : NULL;
	d->line = p->line;
	d->col = col;
}

static kp_rc section_header(struct ini *p, const char *s, size_t len, int col, size_t *g,
			    enum state *st)
{
	size_t nl = name_len(s + 1, len - 1);
	const char *type = NULL;
	size_t tl = 0, i = 1 + nl;
	if (i < len && s[i] == ':') {
		type = s + i + 1;
		while (i + 1 + tl < len && (isalnum((unsigned char)type[tl]) || type[tl] == '_'))
			tl++;
		i += 1 + tl;
	}
	if (!nl || i >= len || s[i] != ']' || !only_comment(s + i + 1, len - i - 1))
		return ini_error(
		    p, col, KP_ERR_PARSE,
		    "invalid section header '%.*s' (expected [group], [group:children] "
		    "or [group:vars], without spaces)",
		    (int)len, s);
	*st = S_HOSTS;
	if (type) {
		size_t k;
		for (k = 0; k < KP_ARRAY_LEN(state_names); k++)
			if (strlen(state_names[k]) == tl && !memcmp(type, state_names[k], tl))
				break;
		if (k == KP_ARRAY_LEN(state_names)) {
			char *t = kp_xstrndup(type, tl);
			const char *sug = kp_suggest(t, state_names, KP_ARRAY_LEN(state_names));
			int tcol = col + (int)(type - s);
			kp_rc rc = sug ? ini_error(p, tcol, KP_ERR_PARSE,
						   "unknown section type '%s' in '%.*s' (did you "
						   "mean '%s'?)",
						   t, (int)(i + 1), s, sug)
				       : ini_error(p, tcol, KP_ERR_PARSE,
						   "unknown section type '%s' in '%.*s' (expected "
						   "children or vars)",
						   t, (int)(i + 1), s);
			free(t);
			return rc;
		}
		*st = (enum state)k;
	}
	char *name = kp_xstrndup(s + 1, nl);
	bool existed = kp_inventory_group(p->inv, name) != NULL;
	*g = kp_inventory_add_group(p->inv, name);
	/* [group:vars] alone does not declare a group: Ansible wants it
	 * declared somewhere in the file (or an earlier one) */
	if (!existed && *st == S_VARS)
		add_pending(p, name, nl, NULL, col + 1);
	if (*st != S_VARS) {
		/* declared now: settle what waited for it */
		for (size_t k = 0; k < p->npend; k++) {
			struct pending *d = &p->pend[k];
			if (strcmp(d->group, name))
				continue;
			if (d->parent) {
				size_t parent = kp_inventory_add_group(p->inv, d->parent);
				struct kp_buf cerr = KP_BUF_INIT;
				struct kp_pos at = {p->file, d->line, d->col};
				kp_rc rc =
				    kp_inventory_add_child_at(p->inv, parent, *g, &at, &cerr);
				if (rc) {
					int line = p->line;
					p->line = d->line;
					ini_error(p, d->col, rc, "%s", cerr.buf);
					p->line = line;
					kp_buf_release(&cerr);
					free(name);
					return rc;
				}
			}
			free(d->group);
			free(d->parent);
			/* keep declaration order: the first one is reported */
			memmove(&p->pend[k], &p->pend[k + 1],
				(p->npend - k - 1) * sizeof(*p->pend));
			p->npend--;
			k--;
		}
	}
	free(name);
	return KP_OK;
}

static kp_rc child_line(struct ini *p, size_t g, const char *s, size_t len, int col)
{
	size_t nl = name_len(s, len);
	if (!nl || !only_comment(s + nl, len - nl) ||
	    (nl < len && s[nl] != ' ' && s[nl] != '\t' && s[nl] != '#' && s[nl] != ';'))
		return ini_error(p, col, KP_ERR_PARSE,
				 "expected a group name in [%s:children], got '%.*s'",
				 p->inv->groups[g]->name, (int)len, s);
	char *name = kp_xstrndup(s, nl);
	struct kp_group *c = kp_inventory_group(p->inv, name);
	kp_rc rc = KP_OK;
	if (!c) {
		add_pending(p, s, nl, p->inv->groups[g]->name, col);
	} else {
		struct kp_buf cerr = KP_BUF_INIT;
		struct kp_pos at = {p->file, p->line, col};
		if ((rc = kp_inventory_add_child_at(p->inv, g, c->index, &at, &cerr)))
			ini_error(p, col, rc, "%s", cerr.buf);
		kp_buf_release(&cerr);
	}
	free(name);
	return rc;
}

static kp_rc report_pending(struct ini *p)
{
	struct pending *d = &p->pend[0];
	p->line = d->line;
	if (!d->parent)
		return ini_error(p, d->col, KP_ERR_INVALID,
				 "section [%s:vars] is for group '%s', which is not defined",
				 d->group, d->group);
	/* suggest among the groups this file did declare */
	const char **names = kp_xmalloc(p->inv->ngroups * sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; i < p->inv->ngroups; i++) {
		bool undeclared = false;
		for (size_t k = 0; k < p->npend; k++)
			undeclared |= !strcmp(p->pend[k].group, p->inv->groups[i]->name);
		if (!undeclared)
			names[n++] = p->inv->groups[i]->name;
	}
	const char *s = kp_suggest(d->group, names, n);
	kp_rc rc = s ? ini_error(p, d->col, KP_ERR_INVALID,
				 "group '%s' in [%s:children] is not defined (did you mean '%s'?)",
				 d->group, d->parent, s)
		     : ini_error(p, d->col, KP_ERR_INVALID,
				 "group '%s' in [%s:children] is not defined", d->group, d->parent);
	free(names);
	return rc;
}

/* The first byte sequence that is not UTF-8, as libyaml's reader finds
 * it (the same problems, so an INI inventory is refused as a YAML one is);
 * NULL when the text is valid. *at: where the sequence starts. */
static const char *utf8_problem(const unsigned char *s, size_t len, size_t *at)
{
	for (size_t i = 0; i < len;) {
		unsigned c = s[i];
		size_t w = !(c & 0x80)		? 1
			   : (c & 0xE0) == 0xC0 ? 2
			   : (c & 0xF0) == 0xE0 ? 3
			   : (c & 0xF8) == 0xF0 ? 4
						: 0;
		unsigned v = w == 1 ? c : w == 2 ? c & 0x1F : w == 3 ? c & 0x0F : c & 0x07;
		*at = i;
		if (!w)
			return "invalid leading UTF-8 octet";
		if (w > len - i)
			return "incomplete UTF-8 octet sequence";
		for (size_t k = 1; k < w; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return "invalid trailing UTF-8 octet";
			v = (v << 6) | (s[i + k] & 0x3F);
		}
		if (!(w == 1 || (w == 2 && v >= 0x80) || (w == 3 && v >= 0x800) ||
		      (w == 4 && v >= 0x10000)))
			return "invalid length of a UTF-8 sequence";
		if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF)
			return "invalid Unicode character";
		i += w;
	}
	return NULL;
}

kp_rc kp_inventory_load_ini(struct kp_inventory *inv, const char *file, const char *text,
			    size_t len, struct kp_buf *err)
{
	struct ini p = {.inv = inv, .file = file, .err = err};
	const char *pos = text, *end = text + len;
	size_t g = kp_inventory_add_group(inv, "ungrouped");
	enum state st = S_HOSTS;
	kp_rc rc = KP_OK;

	const char *nul = memchr(text, '\0', len);
	if (nul) {
		/* line and column as the YAML reader gives them */
		int line = 1, col = 1;
		for (const char *q = text; q < nul; q++)
			if (*q == '\n')
				line++, col = 1;
			else
				col++;
		return kp_errorf(err, KP_ERR_PARSE,
				 "%s:%d:%d: NUL byte in file: this is not an inventory", file, line,
				 col);
	}
	/* names and values go out as JSON and into commands: text only */
	size_t bad;
	const char *problem = utf8_problem((const unsigned char *)text, len, &bad);
	if (problem) {
		int line = 1, col = 1;
		for (size_t i = 0; i < bad; i++)
			if (text[i] == '\n')
				line++, col = 1;
			else if ((text[i] & 0xC0) != 0x80)
				col++;
		return kp_errorf(err, KP_ERR_PARSE,
				 "%s:%d:%d: %s (the file is not valid UTF-8 text)", file, line, col,
				 problem);
	}
	while (pos < end && !rc) {
		const char *eol = memchr(pos, '\n', (size_t)(end - pos));
		if (!eol)
			eol = end;
		const char *s = pos, *e = eol;
		pos = eol + 1;
		p.line++;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		if (s == e || *s == '#' || *s == ';')
			continue;
		const char *bol = s;
		while (bol > text && bol[-1] != '\n')
			bol--;
		int col = (int)(s - bol) + 1; /* of the first non-blank character */
		size_t n = (size_t)(e - s);
		if (*s == '[') {
			rc = section_header(&p, s, n, col, &g, &st);
			continue;
		}
		switch (st) {
		case S_HOSTS:
			rc = host_line(&p, g, s, n, col);
			break;
		case S_VARS:
			rc = vars_line(&p, g, s, n, col);
			break;
		case S_CHILDREN:
			rc = child_line(&p, g, s, n, col);
			break;
		}
	}
	if (!rc && p.npend)
		rc = report_pending(&p);
	for (size_t i = 0; i < p.npend; i++) {
		free(p.pend[i].group);
		free(p.pend[i].parent);
	}
	free(p.pend);
	return rc;
}
