/* ytree.c - libyaml events into a positioned node tree, see ytree.h. */
#include "core/ytree.h"
#include "core/vault.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct anchor {
	char *name;
	struct kp_node *node;
	bool done; /* false while the anchored container is still open */
};

struct frame {
	struct kp_node *node;
	size_t cap;
	struct anchor *anchor;
	bool merges; /* a `<<` key was seen */
};

struct builder {
	struct kp_doc *doc;
	struct anchor *anchors;
	size_t nanchors, capanchors;
	struct frame stack[KP_YAML_MAX_DEPTH + 1];
	size_t depth;
	struct kp_buf *err;
	size_t written;	 /* nodes the file spells out */
	size_t expanded; /* nodes with every alias expanded */
};

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static struct kp_node *new_node(struct builder *b, enum kp_ntype t, yaml_mark_t mark,
				const yaml_char_t *tag)
{
	struct kp_node *n = kp_xcalloc(1, sizeof(*n));
	n->type = t;
	n->file = b->doc->file;
	n->line = (int)mark.line + 1;
	n->col = (int)mark.column + 1;
	if (tag)
		n->tag = kp_xstrdup((const char *)tag);
	n->weight = 1;
	b->written++;
	b->expanded = add_sat(b->expanded, 1);
	KP_GROW(b->doc->all, b->doc->nall + 1, b->doc->capall);
	b->doc->all[b->doc->nall++] = n;
	return n;
}

static kp_rc errat(struct builder *b, const char *file, size_t line0, size_t col0, const char *fmt,
		   ...) __attribute__((format(printf, 5, 6)));
static kp_rc errat(struct builder *b, const char *file, size_t line0, size_t col0, const char *fmt,
		   ...)
{
	va_list ap;
	if (!b->err)
		return KP_ERR_PARSE;
	kp_buf_reset(b->err);
	kp_buf_addf(b->err, "%s:%zu:%zu: ", file, line0 + 1, col0 + 1);
	va_start(ap, fmt);
	kp_buf_vaddf(b->err, fmt, ap);
	va_end(ap);
	return KP_ERR_PARSE;
}

kp_rc kp_node_errorf(struct kp_buf *err, kp_rc rc, const struct kp_node *n, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return rc;
	kp_buf_reset(err);
	if (n)
		kp_buf_addf(err, "%s:%d:%d: ", n->file, n->line, n->col);
	size_t from = err->len;
	va_start(ap, fmt);
	kp_buf_vaddf(err, fmt, ap);
	va_end(ap);
	/* keys and values quoted in messages may hold line breaks */
	kp_buf_escape_newlines(err, from);
	return rc;
}

static kp_rc add_anchor(struct builder *b, const yaml_char_t *name, struct kp_node *n,
			struct anchor **out)
{
	/* a later anchor of the same name shadows the earlier one (YAML spec) */
	KP_GROW(b->anchors, b->nanchors + 1, b->capanchors);
	struct anchor *a = &b->anchors[b->nanchors++];
	a->name = kp_xstrdup((const char *)name);
	a->node = n;
	a->done = n->type == KP_N_SCALAR;
	n->anchored = true;
	if (out)
		*out = a;
	return KP_OK;
}

static bool is_merge_key(const struct kp_node *k)
{
	return k->type == KP_N_SCALAR && !k->quoted && k->len == 2 && !memcmp(k->str, "<<", 2);
}

static void push_item(struct frame *f, struct kp_node *item)
{
	KP_GROW(f->node->items, f->node->n + 1, f->cap);
	f->node->items[f->node->n++] = item;
}

/* Attach a finished node to the open container (or make it the root). */
static kp_rc attach(struct builder *b, struct kp_node *n)
{
	if (!b->depth) {
		b->doc->root = n;
		return KP_OK;
	}
	struct frame *f = &b->stack[b->depth - 1];
	push_item(f, n);
	if (f->node->type == KP_N_MAP && (f->node->n % 2) == 1) {
		/* just pushed a key */
		if (n->type != KP_N_SCALAR)
			return kp_node_errorf(b->err, KP_ERR_PARSE, n,
					      "mapping keys must be plain values, not %s",
					      kp_node_describe(n));
		if (is_merge_key(n))
			f->merges = true;
	}
	return KP_OK;
}

static int keycmp(const struct kp_node *a, const struct kp_node *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->str, b->str, n);
	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int keyptrcmp(const void *x, const void *y)
{
	const struct kp_node *a = *(struct kp_node *const *)x, *b = *(struct kp_node *const *)y;
	int c = keycmp(a, b);
	if (c)
		return c;
	/* keep file order so the second occurrence is reported */
	return a->line != b->line ? a->line - b->line : a->col - b->col;
}

static kp_rc check_duplicates(struct builder *b, struct kp_node *m)
{
	size_t n = m->n;
	if (n < 2)
		return KP_OK;
	struct kp_node **keys = kp_xmalloc(n * sizeof(*keys));
	for (size_t i = 0; i < n; i++)
		keys[i] = m->items[2 * i];
	qsort(keys, n, sizeof(*keys), keyptrcmp);
	for (size_t i = 1; i < n; i++) {
		if (!keycmp(keys[i - 1], keys[i]) && !is_merge_key(keys[i])) {
			kp_rc rc = kp_node_errorf(b->err, KP_ERR_PARSE, keys[i],
						  "duplicate key '%s' (first at line %d)",
						  keys[i]->str, keys[i - 1]->line);
			free(keys);
			return rc;
		}
	}
	free(keys);
	return KP_OK;
}

static bool pairs_have(struct kp_node *const *pairs, size_t npairs, const struct kp_node *key)
{
	for (size_t i = 0; i < npairs; i++)
		if (!keycmp(pairs[2 * i], key))
			return true;
	return false;
}

/* Resolve `<<` keys: merged pairs come after explicit ones and never
 * override them; earlier merge sources win over later ones. */
static kp_rc resolve_merges(struct builder *b, struct frame *f)
{
	struct kp_node *m = f->node;
	size_t npairs = m->n;
	struct kp_node **pairs = m->items;
	struct kp_node **sources = NULL;
	size_t nsrc = 0, capsrc = 0;
	struct kp_node **out = NULL;
	size_t nout = 0, capout = 0;

	for (size_t i = 0; i < npairs; i++) {
		struct kp_node *k = pairs[2 * i], *v = pairs[2 * i + 1];
		if (!is_merge_key(k)) {
			KP_GROW(out, nout + 2, capout);
			out[nout++] = k;
			out[nout++] = v;
			continue;
		}
		if (v->type == KP_N_MAP) {
			KP_GROW(sources, nsrc + 1, capsrc);
			sources[nsrc++] = v;
		} else if (v->type == KP_N_SEQ) {
			for (size_t j = 0; j < v->n; j++) {
				if (v->items[j]->type != KP_N_MAP) {
					free(sources);
					free(out);
					return kp_node_errorf(
					    b->err, KP_ERR_PARSE, v->items[j],
					    "merge key '<<' needs mappings, not %s",
					    kp_node_describe(v->items[j]));
				}
				KP_GROW(sources, nsrc + 1, capsrc);
				sources[nsrc++] = v->items[j];
			}
		} else {
			free(sources);
			free(out);
			return kp_node_errorf(b->err, KP_ERR_PARSE, v,
					      "merge key '<<' needs a mapping or a list of "
					      "mappings, not %s",
					      kp_node_describe(v));
		}
	}
	for (size_t s = 0; s < nsrc; s++) {
		struct kp_node *src = sources[s];
		for (size_t j = 0; j < src->n; j++) {
			struct kp_node *k = src->items[2 * j];
			if (pairs_have(out, nout / 2, k))
				continue;
			KP_GROW(out, nout + 2, capout);
			out[nout++] = k;
			out[nout++] = src->items[2 * j + 1];
		}
	}
	free(sources);
	free(m->items);
	m->items = out;
	m->n = nout / 2;
	return KP_OK;
}

static kp_rc parser_error(struct builder *b, yaml_parser_t *p)
{
	const char *file = b->doc->file;
	yaml_mark_t m = p->problem_mark;
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_READER_ERROR) {
		/* the reader has no line and column yet: problem_offset is the
		 * bad sequence's byte offset in the raw input; the text before
		 * it decoded fine, so columns count its characters */
		const unsigned char *raw = p->input.string.start;
		size_t len = (size_t)(p->input.string.end - p->input.string.start);
		size_t line = 0, col = 0, end = p->problem_offset < len ? p->problem_offset : len;
		/* a bad trailing octet is reported where it is: point at the
		 * sequence it should have continued */
		if (raw && !strcmp(problem, "invalid trailing UTF-8 octet")) {
			while (end && (raw[end - 1] & 0xC0) == 0x80)
				end--;
			if (end && raw[end - 1] >= 0xC0)
				end--;
		}
		size_t i = len >= 3 && !memcmp(raw, "\xEF\xBB\xBF", 3) ? 3 : 0; /* a BOM */
		for (; raw && i < end; i++) {
			if (raw[i] == '\n')
				line++, col = 0;
			else if ((raw[i] & 0xC0) != 0x80)
				col++;
		}
		return errat(b, file, line, col, "%s (the file is not valid UTF-8 text)", problem);
	}
	/* libyaml reports a tab in indentation as a generic token error */
	if (p->buffer.start && p->error == YAML_SCANNER_ERROR &&
	    !strcmp(problem, "found character that cannot start any token")) {
		/* the problem mark's index is into the decoded buffer: find the
		 * character by scanning the raw input line */
		const unsigned char *raw = p->input.string.start;
		size_t len = (size_t)(p->input.string.end - p->input.string.start);
		size_t line = 0, i = 0;
		while (i < len && line < m.line)
			if (raw[i++] == '\n')
				line++;
		if (i + m.column < len && raw[i + m.column] == '\t')
			return errat(b, file, m.line, m.column,
				     "tab character where indentation is expected (YAML "
				     "indents with spaces only)");
	}
	if (p->context)
		return errat(b, file, m.line, m.column, "%s %s", problem, p->context);
	return errat(b, file, m.line, m.column, "%s", problem);
}

static kp_rc build(struct builder *b, yaml_parser_t *p)
{
	yaml_event_t ev;
	int docs = 0;
	kp_rc rc = KP_OK;

	for (;;) {
		if (!yaml_parser_parse(p, &ev))
			return parser_error(b, p);
		yaml_event_type_t t = ev.type;
		yaml_mark_t mark = ev.start_mark;
		struct kp_node *n = NULL;

		switch (t) {
		case YAML_STREAM_END_EVENT:
			yaml_event_delete(&ev);
			return KP_OK;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				rc = errat(b, b->doc->file, mark.line, mark.column,
					   "a second YAML document ('---'): only one document is "
					   "allowed per file");
			break;
		case YAML_SCALAR_EVENT:
			n = new_node(b, KP_N_SCALAR, mark, ev.data.scalar.tag);
			n->str =
			    kp_xstrndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE &&
				    ev.data.scalar.style != YAML_ANY_SCALAR_STYLE;
			if (ev.data.scalar.anchor)
				add_anchor(b, ev.data.scalar.anchor, n, NULL);
			rc = attach(b, n);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			if (b->depth >= KP_YAML_MAX_DEPTH) {
				rc = errat(b, b->doc->file, mark.line, mark.column,
					   "nesting deeper than %d levels", KP_YAML_MAX_DEPTH);
				break;
			}
			bool seq = t == YAML_SEQUENCE_START_EVENT;
			n = new_node(b, seq ? KP_N_SEQ : KP_N_MAP, mark,
				     seq ? ev.data.sequence_start.tag : ev.data.mapping_start.tag);
			struct frame *f = &b->stack[b->depth];
			memset(f, 0, sizeof(*f));
			f->node = n;
			const yaml_char_t *anc =
			    seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor;
			if (anc)
				add_anchor(b, anc, n, &f->anchor);
			/* attach before descending so the order of items is kept */
			rc = attach(b, n);
			b->depth++;
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT: {
			struct frame *f = &b->stack[--b->depth];
			if (f->node->type == KP_N_MAP) {
				f->node->n /= 2; /* items count pairs from here on */
				if (f->merges)
					rc = resolve_merges(b, f);
				if (!rc)
					rc = check_duplicates(b, f->node);
			}
			/* what an alias of it adds (items, or key/value pairs) */
			size_t items = f->node->type == KP_N_MAP ? 2 * f->node->n : f->node->n;
			for (size_t i = 0; i < items; i++)
				f->node->weight =
				    add_sat(f->node->weight, f->node->items[i]->weight);
			if (f->anchor) {
				/* the anchor array may have moved: look it up again */
				for (size_t i = b->nanchors; i-- > 0;)
					if (b->anchors[i].node == f->node)
						b->anchors[i].done = true;
			}
			break;
		}
		case YAML_ALIAS_EVENT: {
			const char *name = (const char *)ev.data.alias.anchor;
			struct anchor *a = NULL;
			for (size_t i = b->nanchors; i-- > 0;)
				if (!strcmp(b->anchors[i].name, name)) {
					a = &b->anchors[i];
					break;
				}
			if (!a)
				rc = errat(b, b->doc->file, mark.line, mark.column,
					   "alias '*%s' refers to no anchor", name);
			else if (!a->done)
				rc = errat(b, b->doc->file, mark.line, mark.column,
					   "alias '*%s' refers to a node that contains it "
					   "(recursive YAML is not supported)",
					   name);
			else {
				size_t budget =
				    b->written > KP_YAML_ALIAS_MIN_NODES / KP_YAML_ALIAS_RATIO
					? b->written * KP_YAML_ALIAS_RATIO
					: KP_YAML_ALIAS_MIN_NODES;
				b->expanded = add_sat(b->expanded, a->node->weight);
				if (b->expanded > budget)
					rc = errat(
					    b, b->doc->file, mark.line, mark.column,
					    "alias '*%s' expands the document past %zu nodes "
					    "(%zu written so far): aliases may repeat a node, "
					    "not multiply the document",
					    name, budget, b->written);
				else
					rc = attach(b, a->node);
			}
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
	}
}

kp_rc kp_yaml_load_string(const char *name, const char *data, size_t len, struct kp_doc **out,
			  struct kp_buf *err)
{
	yaml_parser_t parser;
	struct builder *b;
	kp_rc rc;

	if (kp_vault_is_encrypted(data, len)) /* a whole vault-encrypted file */
		return kp_vault_load_string(name, data, len, out, err);
	b = kp_xcalloc(1, sizeof(*b));
	b->doc = kp_xcalloc(1, sizeof(*b->doc));
	b->doc->file = kp_xstrdup(name);
	b->err = err;
	if (!yaml_parser_initialize(&parser)) {
		kp_doc_free(b->doc);
		free(b);
		return kp_errorf(err, KP_ERR_NOMEM, "cannot initialise the YAML parser");
	}
	if (memchr(data, '\0', len)) {
		size_t off = (size_t)((const char *)memchr(data, '\0', len) - data);
		size_t line = 0, col = 0;
		for (size_t i = 0; i < off; i++) {
			if (data[i] == '\n')
				line++, col = 0;
			else
				col++;
		}
		rc = errat(b, b->doc->file, line, col,
			   "NUL byte in file: this is not a YAML text file");
	} else {
		yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
		rc = build(b, &parser);
	}
	/* unwinding after an error: frames hold only borrowed pointers */
	if (!rc && b->doc->root && b->depth)
		rc = kp_errorf(err, KP_ERR_PARSE, "%s: unterminated YAML", name);
	yaml_parser_delete(&parser);
	for (size_t i = 0; i < b->nanchors; i++)
		free(b->anchors[i].name);
	free(b->anchors);
	if (!rc) /* !vault values decrypted */
		rc = kp_vault_resolve(b->doc, err);
	if (rc) {
		/* maps still open count pairs*2 in n; kp_doc_free frees by node list */
		kp_doc_free(b->doc);
		free(b);
		return rc;
	}
	*out = b->doc;
	free(b);
	return KP_OK;
}

kp_rc kp_yaml_load_file(const char *path, struct kp_doc **out, struct kp_buf *err)
{
	struct kp_buf data = KP_BUF_INIT;
	kp_rc rc = kp_read_file(path, KP_YAML_MAX_FILE, &data, err);
	if (!rc)
		rc = kp_yaml_load_string(path, data.buf, data.len, out, err);
	kp_buf_release(&data);
	return rc;
}

void kp_doc_free(struct kp_doc *doc)
{
	if (!doc)
		return;
	for (size_t i = 0; i < doc->nall; i++) {
		struct kp_node *n = doc->all[i];
		free(n->tag);
		free(n->str);
		free(n->items);
		free(n);
	}
	free(doc->all);
	free(doc->file);
	free(doc);
}

struct kp_node *kp_node_map_get(const struct kp_node *m, const char *key)
{
	size_t kl = strlen(key);
	if (!m || m->type != KP_N_MAP)
		return NULL;
	for (size_t i = 0; i < m->n; i++) {
		struct kp_node *k = m->items[2 * i];
		if (k->len == kl && !memcmp(k->str, key, kl))
			return m->items[2 * i + 1];
	}
	return NULL;
}

static bool tagged_str(const struct kp_node *n)
{
	return n->tag && (!strcmp(n->tag, "tag:yaml.org,2002:str") || !strcmp(n->tag, "!secret") ||
			  !strcmp(n->tag, "!"));
}

bool kp_node_is_null(const struct kp_node *n)
{
	if (!n)
		return true;
	if (n->type != KP_N_SCALAR || n->quoted || tagged_str(n))
		return false;
	return !n->len || !strcmp(n->str, "~") || !strcmp(n->str, "null") ||
	       !strcmp(n->str, "Null") || !strcmp(n->str, "NULL");
}

static bool word_in(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

bool kp_node_get_bool(const struct kp_node *n, bool *out)
{
	static const char *const t[] = {"true", "True", "TRUE", "yes", "Yes",
					"YES",	"on",	"On",	"ON",  NULL};
	static const char *const f[] = {"false", "False", "FALSE", "no",  "No",
					"NO",	 "off",	  "Off",   "OFF", NULL};
	if (!n || n->type != KP_N_SCALAR || n->quoted || tagged_str(n))
		return false;
	if (word_in(n->str, t))
		return *out = true, true;
	if (word_in(n->str, f))
		return *out = false, true;
	return false;
}

static bool parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	char *end;
	if (*p == '+' || *p == '-')
		p++;
	if (!*p)
		return false;
	/* 0x.. and 0o..; a plain leading zero (0644) stays a string so that
	 * file modes keep their digits */
	int base = 10;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16;
	else if (p[0] == '0' && p[1] == 'o')
		base = 8;
	else if (p[0] == '0' && p[1])
		return false;
	for (const char *q = p + (base == 10 ? 0 : 2); *q; q++) {
		if (*q == '_')
			continue;
		if (base == 10 && !(*q >= '0' && *q <= '9'))
			return false;
	}
	char clean[64];
	size_t j = 0;
	for (const char *q = s; *q && j < sizeof(clean) - 1; q++)
		if (*q != '_')
			clean[j++] = *q;
	clean[j] = '\0';
	if (base == 8) {
		/* strtoll does not know "0o" */
		char *o = strstr(clean, "0o");
		memmove(o + 1, o + 2, strlen(o + 2) + 1);
	}
	errno = 0;
	long long v = strtoll(clean, &end, base == 8 ? 8 : base);
	if (errno || *end || end == clean)
		return false;
	*out = v;
	return true;
}

bool kp_node_get_int(const struct kp_node *n, int64_t *out)
{
	if (!n || n->type != KP_N_SCALAR || n->quoted || tagged_str(n))
		return false;
	return parse_int(n->str, out);
}

static bool parse_float(const char *s, double *out)
{
	static const char *const inf[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", NULL};
	static const char *const ninf[] = {"-.inf", "-.Inf", "-.INF", NULL};
	static const char *const nan_[] = {".nan", ".NaN", ".NAN", NULL};
	if (word_in(s, inf))
		return *out = INFINITY, true;
	if (word_in(s, ninf))
		return *out = -INFINITY, true;
	if (word_in(s, nan_))
		return *out = NAN, true;
	/* [-+]?(digits)?.digits([eE][-+]?digits)? or digits[eE]..: no hex floats */
	const char *p = s;
	bool digits = false, dot = false;
	if (*p == '+' || *p == '-')
		p++;
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits = true;
		else if (*p == '.' && !dot)
			dot = true;
		else if ((*p == 'e' || *p == 'E') && digits)
			break;
		else
			return false;
	}
	if (!digits || (!dot && !*p))
		return false;
	if (*p) {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!*p)
			return false;
		for (; *p; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	char *end;
	*out = strtod(s, &end);
	return !*end;
}

const char *kp_node_describe(const struct kp_node *n)
{
	bool b;
	int64_t i;
	double f;
	if (!n)
		return "nothing";
	if (n->type == KP_N_MAP)
		return "a mapping";
	if (n->type == KP_N_SEQ)
		return "a list";
	if (kp_node_is_null(n))
		return "null";
	if (kp_node_get_bool(n, &b))
		return "a boolean";
	if (kp_node_get_int(n, &i) || (!n->quoted && !tagged_str(n) && parse_float(n->str, &f)))
		return "a number";
	return "a string";
}

struct memo {
	const struct kp_node **nodes;
	struct kp_value **vals;
	size_t n, cap;
};

static kp_rc to_value(const struct kp_node *n, struct memo *memo, int depth, struct kp_value **out,
		      struct kp_buf *err)
{
	struct kp_value *v;
	bool b;
	int64_t i;
	double f;

	if (depth > KP_YAML_MAX_DEPTH)
		return kp_node_errorf(err, KP_ERR_LIMIT, n, "nesting too deep");
	/* shared (aliased) containers convert once; values are immutable */
	if (n->anchored)
		for (size_t k = 0; k < memo->n; k++)
			if (memo->nodes[k] == n) {
				*out = kp_value_ref(memo->vals[k]);
				return KP_OK;
			}
	switch (n->type) {
	case KP_N_SCALAR:
		if (kp_node_is_null(n))
			v = kp_value_null();
		else if (kp_node_get_bool(n, &b))
			v = kp_value_bool(b);
		else if (kp_node_get_int(n, &i))
			v = kp_value_int(i);
		else if (!n->quoted && !tagged_str(n) && parse_float(n->str, &f))
			v = kp_value_float(f);
		else
			v = kp_value_strn(n->str, n->len);
		break;
	case KP_N_SEQ:
		v = kp_value_list();
		for (size_t k = 0; k < n->n; k++) {
			struct kp_value *item;
			kp_rc rc = to_value(n->items[k], memo, depth + 1, &item, err);
			if (rc) {
				kp_value_unref(v);
				return rc;
			}
			kp_list_push_take(v, item);
		}
		break;
	default:
		v = kp_value_map();
		for (size_t k = 0; k < n->n; k++) {
			struct kp_value *item;
			kp_rc rc = to_value(n->items[2 * k + 1], memo, depth + 1, &item, err);
			if (rc) {
				kp_value_unref(v);
				return rc;
			}
			kp_map_set_take(v, n->items[2 * k]->str, item);
		}
		break;
	}
	if (n->secret || (n->tag && !strcmp(n->tag, "!secret")))
		v->secret = 1;
	if (n->anchored) {
		KP_GROW(memo->nodes, memo->n + 1, memo->cap);
		memo->vals = kp_xrealloc(memo->vals, memo->cap * sizeof(*memo->vals));
		memo->nodes[memo->n] = n;
		memo->vals[memo->n++] = v;
	}
	*out = v;
	return KP_OK;
}

kp_rc kp_node_to_value(const struct kp_node *n, struct kp_value **out, struct kp_buf *err)
{
	struct memo memo = {0};
	kp_rc rc;
	if (!n) {
		*out = kp_value_null();
		return KP_OK;
	}
	rc = to_value(n, &memo, 0, out, err);
	free(memo.nodes);
	free(memo.vals);
	return rc;
}
