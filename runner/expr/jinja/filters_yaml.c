/*
 * filters_yaml.c - to_yaml, to_nice_yaml, from_yaml, from_yaml_all.
 *
 * ansible-core dumps with PyYAML's CSafeDumper, which is libyaml's
 * emitter: the same events given to the same emitter give the same bytes.
 * What PyYAML decides before the emitter is reproduced here: keys sorted,
 * a collection of plain scalars in flow style when default_flow_style is
 * None, floats as '.inf' or '1.0e+16', and a string quoted exactly when
 * YAML 1.1's resolver would read it back as something else ('yes', '1.0',
 * '' ...). Loading is PyYAML's SafeLoader redone on libyaml's parser: the
 * same YAML 1.1 resolvers (so 1e3 and 0o7 are text, 0755 is 493, yes is
 * true), anchors, aliases and `<<` merges.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "expr/jinja/jlib.h"

/* PyYAML's implicit resolvers (YAML 1.1): a plain scalar matching one of
 * them is not a string. */
static const char *const resolvers[] = {
    "^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    "^(?:[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN))$",
    "^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$",
    "^(?:<<)$",
    "^(?:~|null|Null|NULL|)$",
    "^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?"
    "(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\\.[0-9]*)?"
    "(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$",
    "^(?:=)$",
};

#define NRESOLVERS (sizeof resolvers / sizeof *resolvers)

/* The resolvers, compiled once per dump. */
struct resolve {
	pcre2_code *re[NRESOLVERS];
	pcre2_match_data *md;
};

static void resolve_init(struct resolve *r)
{
	for (size_t i = 0; i < NRESOLVERS; i++) {
		int ec;
		PCRE2_SIZE eo;
		r->re[i] = pcre2_compile((PCRE2_SPTR)resolvers[i], PCRE2_ZERO_TERMINATED, 0, &ec,
					 &eo, NULL);
	}
	r->md = pcre2_match_data_create(4, NULL);
}

static void resolve_release(struct resolve *r)
{
	for (size_t i = 0; i < NRESOLVERS; i++)
		pcre2_code_free(r->re[i]);
	pcre2_match_data_free(r->md);
}

/* What a plain scalar is to YAML 1.1: an index into resolvers[], or -1
 * for a string. */
enum { R_BOOL, R_FLOAT, R_INT, R_MERGE, R_NULL, R_TIMESTAMP, R_VALUE };

static int resolve_plain(const struct resolve *r, const char *s, size_t len)
{
	for (size_t i = 0; i < NRESOLVERS; i++)
		if (r->re[i] && pcre2_match(r->re[i], (PCRE2_SPTR)s, len, 0, 0, r->md, NULL) >= 0)
			return (int)i;
	return -1;
}

static bool resolves_to_other(const struct resolve *r, const char *s, size_t len)
{
	return resolve_plain(r, s, len) >= 0;
}

struct yopt {
	int flow; /* -1: PyYAML's best style, 0: block, 1: flow */
	bool sort_keys;
	struct resolve res;
};

struct sink {
	struct kp_buf *b;
};

static int write_handler(void *data, unsigned char *buf, size_t size)
{
	struct sink *s = data;
	kp_buf_add(s->b, buf, size);
	return 1;
}

static int scalar(yaml_emitter_t *e, const char *tag, const char *s, size_t len, bool plain_ok)
{
	yaml_event_t ev;
	yaml_scalar_event_initialize(&ev, NULL, (yaml_char_t *)tag, (yaml_char_t *)s, (int)len,
				     plain_ok, 1, YAML_ANY_SCALAR_STYLE);
	return yaml_emitter_emit(e, &ev);
}

static bool is_plain_scalar(const struct kp_value *v)
{
	return v->type != KP_V_LIST && v->type != KP_V_MAP;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static kp_rc emit(struct kp_jctx *cx, yaml_emitter_t *e, const struct kp_value *v,
		  const struct yopt *o, int depth)
{
	kp_rc rc = kp_jinja_charge(cx, 1);
	char num[64];
	int ok = 1;
	if (rc)
		return rc;
	if (depth > 256)
		return kp_jinja_err(cx, KP_ERR_LIMIT, "value nested too deep for YAML");
	switch (v->type) {
	case KP_V_NULL:
		ok = scalar(e, YAML_NULL_TAG, "null", 4, true);
		break;
	case KP_V_BOOL:
		ok = scalar(e, YAML_BOOL_TAG, v->u.b ? "true" : "false", v->u.b ? 4 : 5, true);
		break;
	case KP_V_INT:
		snprintf(num, sizeof num, "%lld", (long long)v->u.i);
		ok = scalar(e, YAML_INT_TAG, num, strlen(num), true);
		break;
	case KP_V_FLOAT: {
		struct kp_buf b = KP_BUF_INIT;
		if (isnan(v->u.f))
			kp_buf_addstr(&b, ".nan");
		else if (isinf(v->u.f))
			kp_buf_addstr(&b, v->u.f > 0 ? ".inf" : "-.inf");
		else {
			kp_jinja_str(v, &b);
			for (size_t i = 0; i < b.len; i++)
				if (b.buf[i] == 'E')
					b.buf[i] = 'e';
			/* PyYAML: 1e+16 is written 1.0e+16 */
			char *x = strchr(b.buf, 'e');
			if (x && !memchr(b.buf, '.', (size_t)(x - b.buf))) {
				struct kp_buf t = KP_BUF_INIT;
				kp_buf_add(&t, b.buf, (size_t)(x - b.buf));
				kp_buf_addstr(&t, ".0");
				kp_buf_addstr(&t, x);
				kp_buf_release(&b);
				b = t;
			}
		}
		ok = scalar(e, YAML_FLOAT_TAG, b.buf, b.len, true);
		kp_buf_release(&b);
		break;
	}
	case KP_V_STR:
		if ((rc = kp_jinja_charge(cx, v->u.str.len)))
			return rc;
		ok = scalar(e, YAML_STR_TAG, v->u.str.s, v->u.str.len,
			    !resolves_to_other(&o->res, v->u.str.s, v->u.str.len));
		break;
	case KP_V_LIST: {
		bool flow = o->flow == 1;
		if (o->flow < 0) {
			flow = true;
			for (size_t i = 0; i < kp_list_len(v); i++)
				flow &= is_plain_scalar(kp_list_at(v, i));
		}
		yaml_event_t ev;
		yaml_sequence_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_SEQ_TAG, 1,
						     flow ? YAML_FLOW_SEQUENCE_STYLE
							  : YAML_BLOCK_SEQUENCE_STYLE);
		ok = yaml_emitter_emit(e, &ev);
		for (size_t i = 0; i < kp_list_len(v) && ok && !rc; i++)
			rc = emit(cx, e, kp_list_at(v, i), o, depth + 1);
		if (ok && !rc) {
			yaml_sequence_end_event_initialize(&ev);
			ok = yaml_emitter_emit(e, &ev);
		}
		break;
	}
	case KP_V_MAP: {
		size_t n = kp_map_len(v);
		bool flow = o->flow == 1;
		if (o->flow < 0) {
			flow = true;
			for (size_t i = 0; i < n; i++)
				flow &= is_plain_scalar(kp_map_val(v, i));
		}
		const char **keys = kp_xmalloc((n + 1) * sizeof *keys);
		for (size_t i = 0; i < n; i++)
			keys[i] = kp_map_key(v, i);
		if (o->sort_keys)
			qsort(keys, n, sizeof *keys, cmp_keys);
		yaml_event_t ev;
		yaml_mapping_start_event_initialize(&ev, NULL, (yaml_char_t *)YAML_MAP_TAG, 1,
						    flow ? YAML_FLOW_MAPPING_STYLE
							 : YAML_BLOCK_MAPPING_STYLE);
		ok = yaml_emitter_emit(e, &ev);
		for (size_t i = 0; i < n && ok && !rc; i++) {
			ok = scalar(e, YAML_STR_TAG, keys[i], strlen(keys[i]),
				    !resolves_to_other(&o->res, keys[i], strlen(keys[i])));
			if (ok)
				rc = emit(cx, e, kp_map_get(v, keys[i]), o, depth + 1);
		}
		free(keys);
		if (ok && !rc) {
			yaml_mapping_end_event_initialize(&ev);
			ok = yaml_emitter_emit(e, &ev);
		}
		break;
	}
	}
	if (!rc && !ok)
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "cannot write YAML: %s",
				  e->problem ? e->problem : "emitter error");
	return rc;
}

/* to_yaml / to_nice_yaml: kw may set indent, width, sort_keys,
 * default_flow_style, explicit_start, explicit_end. */
static kp_rc to_yaml(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *ind,
		     const struct kp_value *kw, bool nice, struct kp_value **out)
{
	struct yopt o = {.flow = nice ? 0 : -1, .sort_keys = true};
	int64_t indent = nice ? 4 : 2, width = 80;
	const struct kp_value *v;
	kp_rc rc = jl_int(cx, ind, "indent", indent, &indent);
	if (!rc && kw && (v = kp_map_get(kw, "width")))
		rc = jl_int(cx, v, "width", 80, &width);
	if (rc)
		return rc;
	if (kw && (v = kp_map_get(kw, "sort_keys")))
		o.sort_keys = kp_jinja_truthy(v);
	if (kw && (v = kp_map_get(kw, "default_flow_style")))
		o.flow = v->type == KP_V_NULL ? -1 : kp_jinja_truthy(v);
	bool xstart = kw && (v = kp_map_get(kw, "explicit_start")) && kp_jinja_truthy(v);
	bool xend = kw && (v = kp_map_get(kw, "explicit_end")) && kp_jinja_truthy(v);

	struct kp_buf b = KP_BUF_INIT;
	struct sink s = {&b};
	resolve_init(&o.res);
	yaml_emitter_t e;
	yaml_event_t ev;
	yaml_emitter_initialize(&e);
	yaml_emitter_set_output(&e, write_handler, &s);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_indent(&e, (int)indent);
	yaml_emitter_set_width(&e, width > INT32_MAX ? -1 : (int)width);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	int ok = yaml_emitter_emit(&e, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, !xstart);
	ok = ok && yaml_emitter_emit(&e, &ev);
	if (ok)
		rc = emit(cx, &e, in, &o, 0);
	if (ok && !rc) {
		yaml_document_end_event_initialize(&ev, !xend);
		ok = yaml_emitter_emit(&e, &ev);
		yaml_stream_end_event_initialize(&ev);
		ok = ok && yaml_emitter_emit(&e, &ev);
		ok = ok && yaml_emitter_flush(&e);
		if (!ok)
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "cannot write YAML: %s",
					  e.problem ? e.problem : "emitter error");
	} else if (!rc) {
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "cannot write YAML");
	}
	yaml_emitter_delete(&e);
	resolve_release(&o.res);
	if (!rc)
		rc = kp_jinja_charge(cx, b.len); /* the text costs its length too */
	if (rc) {
		kp_buf_release(&b);
		return rc;
	}
	size_t len;
	char *t = kp_buf_detach(&b, &len);
	*out = kp_value_str_take(t, len);
	return KP_OK;
}

/* to_yaml(**kw) */
JF(to_yaml)
{
	const struct kp_value *kw = argv[0];
	return to_yaml(cx, in, kw ? kp_map_get(kw, "indent") : NULL, kw, false, out);
}

/* to_nice_yaml(indent=4, **kw) */
JF(to_nice_yaml)
{
	return to_yaml(cx, in, argv[0], argv[1], true, out);
}

/* ---- loading: PyYAML's SafeLoader (YAML 1.1), as Ansible's from_yaml ---- */

struct loader {
	struct kp_jctx *cx;
	yaml_parser_t p;
	struct resolve res;
	struct kp_value *anchors; /* name -> value */
	int depth;
};

/* digits with '_' separators, in base; sexagesimal "a:b:c" when sexa */
static bool parse_num(const char *s, size_t n, int base, int64_t *out)
{
	uint64_t v = 0;
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		int c = s[i], d;
		if (c == '_')
			continue;
		d = c >= '0' && c <= '9'   ? c - '0'
		    : c >= 'a' && c <= 'f' ? c - 'a' + 10
		    : c >= 'A' && c <= 'F' ? c - 'A' + 10
					   : 99;
		if (d >= base || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return false;
		v = v * (uint64_t)base + (uint64_t)d;
		any = true;
	}
	if (!any || v > INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

/* PyYAML's construct_yaml_int and construct_yaml_float */
static struct kp_value *yaml_number(const char *s, size_t n, bool is_float)
{
	bool neg = n && s[0] == '-';
	if (n && (s[0] == '-' || s[0] == '+'))
		s++, n--;
	if (is_float) {
		char buf[256];
		size_t k = 0;
		if (n >= 4 && (!strncasecmp(s, ".inf", 4)))
			return kp_value_float(neg ? -INFINITY : INFINITY);
		if (n >= 4 && (!strncasecmp(s, ".nan", 4)))
			return kp_value_float(NAN);
		double sexa = 0, part;
		bool colon = memchr(s, ':', n) != NULL;
		for (size_t i = 0; i <= n && k < sizeof buf - 1; i++) {
			if (i < n && s[i] == '_')
				continue;
			if (colon && (i == n || s[i] == ':')) {
				buf[k] = 0;
				part = strtod(buf, NULL);
				sexa = sexa * 60 + part;
				k = 0;
				continue;
			}
			if (i < n)
				buf[k++] = s[i];
		}
		if (!colon) {
			buf[k] = 0;
			sexa = strtod(buf, NULL);
		}
		return kp_value_float(neg ? -sexa : sexa);
	}
	int64_t v = 0, part;
	if (n > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'x')) {
		if (!parse_num(s + 2, n - 2, s[1] == 'b' ? 2 : 16, &v))
			return NULL;
	} else if (memchr(s, ':', n)) {
		for (const char *p = s, *e = s + n; p < e;) {
			const char *c = memchr(p, ':', (size_t)(e - p));
			size_t len = c ? (size_t)(c - p) : (size_t)(e - p);
			if (!parse_num(p, len, 10, &part))
				return NULL;
			v = v * 60 + part;
			p += len + (c != NULL);
		}
	} else if (n > 1 && s[0] == '0') {
		if (!parse_num(s + 1, n - 1, 8, &v))
			return NULL;
	} else if (!parse_num(s, n, 10, &v)) {
		return NULL;
	}
	return kp_value_int(neg ? -v : v);
}

static struct kp_value *construct_scalar(struct loader *l, const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	int kind = -1;
	if (tag && strcmp(tag, "!")) {
		/* an explicit tag: the standard ones as named, any other is an
		 * error (from_yaml is PyYAML's safe loader, which knows no more) */
		if (!strcmp(tag, YAML_NULL_TAG))
			kind = R_NULL;
		else if (!strcmp(tag, YAML_BOOL_TAG))
			kind = R_BOOL;
		else if (!strcmp(tag, YAML_INT_TAG))
			kind = R_INT;
		else if (!strcmp(tag, YAML_FLOAT_TAG))
			kind = R_FLOAT;
		else if (strcmp(tag, YAML_STR_TAG))
			return NULL;
	} else if (ev->data.scalar.plain_implicit && !tag) {
		kind = resolve_plain(&l->res, s, n);
	}
	struct kp_value *v = NULL;
	switch (kind) {
	case R_NULL:
		return kp_value_null();
	case R_BOOL:
		/* yes, true, on in their spellings; no, false, off are false */
		return kp_value_bool(strchr("yYtT", s[0]) || (n == 2 && strchr("oO", s[0])));
	case R_INT:
	case R_FLOAT:
		v = yaml_number(s, n, kind == R_FLOAT);
		break;
	default:
		break;
	}
	return v ? v : kp_value_strn(s, n);
}

static kp_rc construct(struct loader *l, yaml_event_t *ev, struct kp_value **out);

static kp_rc next_event(struct loader *l, yaml_event_t *ev)
{
	if (yaml_parser_parse(&l->p, ev))
		return KP_OK;
	/* PyYAML's words: the context, then the problem */
	return kp_jinja_err(l->cx, KP_ERR_RUNTIME, "%s%s%s at line %zu, column %zu",
			    l->p.context ? l->p.context : "", l->p.context ? ": " : "",
			    l->p.problem ? l->p.problem : "invalid YAML",
			    l->p.problem_mark.line + 1, l->p.problem_mark.column + 1);
}

static void set_anchor(struct loader *l, const yaml_char_t *anchor, const struct kp_value *v)
{
	if (anchor)
		kp_map_set(l->anchors, (const char *)anchor, v);
}

/* PyYAML's flatten_mapping: the `<<` maps, a list of them taken from the
 * last to the first, go before the mapping's own keys; a later key
 * overrides an earlier one in place. */
static kp_rc merge_into(struct loader *l, struct kp_value *merged, const struct kp_value *src)
{
	if (src->type == KP_V_MAP) {
		for (size_t i = 0; i < kp_map_len(src); i++)
			kp_map_set(merged, kp_map_key(src, i), kp_map_val(src, i));
		return KP_OK;
	}
	if (src->type == KP_V_LIST) {
		for (size_t i = 0; i < kp_list_len(src); i++)
			if (kp_list_at(src, i)->type != KP_V_MAP)
				return kp_jinja_err(l->cx, KP_ERR_RUNTIME,
						    "expected a mapping for merging, but found %s",
						    kp_jinja_typename(kp_list_at(src, i)));
		for (size_t i = kp_list_len(src); i-- > 0;) {
			kp_rc rc = merge_into(l, merged, kp_list_at(src, i));
			if (rc)
				return rc;
		}
		return KP_OK;
	}
	return kp_jinja_err(l->cx, KP_ERR_RUNTIME,
			    "expected a mapping or list of mappings for merging, but found %s",
			    kp_jinja_typename(src));
}

/* The text a key gets: str() of the first key Python finds equal to it
 * (1, 1.0 and true are one key), so `true: b` after `1: a` sets "1". */
static struct kp_value *key_text(struct kp_value *seen, const struct kp_value *k)
{
	if (k->type != KP_V_STR)
		for (size_t i = 0; i < kp_list_len(seen); i++)
			if (kp_jinja_equal(kp_list_at(kp_list_at(seen, i), 0), k))
				return kp_value_ref(kp_list_at(kp_list_at(seen, i), 1));
	struct kp_value *t = jl_strval(k);
	if (k->type != KP_V_STR) {
		struct kp_value *pair = kp_value_list();
		kp_list_push(pair, k);
		kp_list_push(pair, t);
		kp_list_push_take(seen, pair);
	}
	return t;
}

static kp_rc construct(struct loader *l, yaml_event_t *ev, struct kp_value **out)
{
	kp_rc rc = kp_jinja_charge(l->cx, 1);
	if (rc)
		return rc;
	if (l->depth > 256)
		return kp_jinja_err(l->cx, KP_ERR_LIMIT, "YAML nested too deep");
	switch (ev->type) {
	case YAML_ALIAS_EVENT: {
		const struct kp_value *v =
		    kp_map_get(l->anchors, (const char *)ev->data.alias.anchor);
		if (!v)
			return kp_jinja_err(l->cx, KP_ERR_RUNTIME, "found undefined alias '%s'",
					    (const char *)ev->data.alias.anchor);
		*out = kp_value_ref(v);
		return KP_OK;
	}
	case YAML_SCALAR_EVENT:
		if (!(*out = construct_scalar(l, ev)))
			return kp_jinja_err(l->cx, KP_ERR_RUNTIME,
					    "could not determine a constructor for the tag '%s'",
					    (const char *)ev->data.scalar.tag);
		set_anchor(l, ev->data.scalar.anchor, *out);
		return KP_OK;
	case YAML_SEQUENCE_START_EVENT: {
		struct kp_value *list = kp_value_list();
		yaml_char_t *anchor = ev->data.sequence_start.anchor;
		l->depth++;
		for (;;) {
			yaml_event_t e;
			if ((rc = next_event(l, &e)))
				break;
			if (e.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&e);
				break;
			}
			struct kp_value *item = NULL;
			rc = construct(l, &e, &item);
			yaml_event_delete(&e);
			if (rc)
				break;
			kp_list_push_take(list, item);
		}
		l->depth--;
		if (rc) {
			kp_value_unref(list);
			return rc;
		}
		set_anchor(l, anchor, list);
		*out = list;
		return KP_OK;
	}
	case YAML_MAPPING_START_EVENT: {
		struct kp_value *own = kp_value_map(), *merged = kp_value_map();
		struct kp_value *seen = kp_value_list(); /* non-text keys and their text */
		yaml_char_t *anchor = ev->data.mapping_start.anchor;
		l->depth++;
		for (;;) {
			yaml_event_t ke, ve;
			struct kp_value *k = NULL, *v = NULL;
			if ((rc = next_event(l, &ke)))
				break;
			if (ke.type == YAML_MAPPING_END_EVENT) {
				yaml_event_delete(&ke);
				break;
			}
			bool is_merge =
			    ke.type == YAML_SCALAR_EVENT && ke.data.scalar.plain_implicit &&
			    ke.data.scalar.length == 2 && !memcmp(ke.data.scalar.value, "<<", 2);
			rc = construct(l, &ke, &k);
			yaml_event_delete(&ke);
			if (!rc && !(rc = next_event(l, &ve))) {
				rc = construct(l, &ve, &v);
				yaml_event_delete(&ve);
			}
			if (!rc && is_merge) {
				rc = merge_into(l, merged, v);
			} else if (!rc) {
				/* keys become text as Python's str() prints them */
				struct kp_value *ks = key_text(seen, k);
				kp_map_set(own, ks->u.str.s, v);
				kp_value_unref(ks);
			}
			if (k)
				kp_value_unref(k);
			if (v)
				kp_value_unref(v);
			if (rc)
				break;
		}
		l->depth--;
		kp_value_unref(seen);
		if (rc) {
			kp_value_unref(own);
			kp_value_unref(merged);
			return rc;
		}
		/* merged keys first, the mapping's own keys over them */
		kp_map_update(merged, own);
		kp_value_unref(own);
		set_anchor(l, anchor, merged);
		*out = merged;
		return KP_OK;
	}
	default:
		return kp_jinja_err(l->cx, KP_ERR_RUNTIME, "unexpected YAML event");
	}
}

/* Every document of text: *out a list of their values (an empty document
 * is None). */
static kp_rc load_all(struct kp_jctx *cx, const char *s, size_t len, struct kp_value **out)
{
	struct loader l = {.cx = cx};
	kp_rc rc = kp_jinja_charge(cx, len);
	if (rc)
		return rc;
	yaml_parser_initialize(&l.p);
	yaml_parser_set_input_string(&l.p, (const unsigned char *)s, len);
	resolve_init(&l.res);
	struct kp_value *docs = kp_value_list();
	for (;;) {
		yaml_event_t ev;
		if ((rc = next_event(&l, &ev)))
			break;
		yaml_event_type_t t = ev.type;
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
		if (t != YAML_DOCUMENT_START_EVENT)
			continue;
		l.anchors = kp_value_map();
		struct kp_value *v = NULL;
		if (!(rc = next_event(&l, &ev))) {
			if (ev.type == YAML_DOCUMENT_END_EVENT)
				v = kp_value_null();
			else
				rc = construct(&l, &ev, &v);
			yaml_event_delete(&ev);
		}
		kp_value_unref(l.anchors);
		if (rc)
			break;
		kp_list_push_take(docs, v);
	}
	resolve_release(&l.res);
	yaml_parser_delete(&l.p);
	if (rc) {
		kp_value_unref(docs);
		return rc;
	}
	*out = docs;
	return KP_OK;
}

/* from_yaml: text is parsed (one document), anything else given back
 * (undefined too: Ansible's filter returns what is not a string) */
JF(from_yaml)
{
	if (!in) {
		*out = NULL;
		return KP_OK;
	}
	if (in->type != KP_V_STR) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	struct kp_value *docs;
	kp_rc rc = load_all(cx, in->u.str.s, in->u.str.len, &docs);
	if (rc)
		return rc;
	size_t n = kp_list_len(docs);
	if (n > 1) {
		kp_value_unref(docs);
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "expected a single document in the stream but found another "
				    "document");
	}
	*out = n ? kp_value_ref(kp_list_at(docs, 0)) : kp_value_null();
	kp_value_unref(docs);
	return KP_OK;
}

/* from_yaml_all: the list of every document's value */
JF(from_yaml_all)
{
	if (!in) {
		*out = NULL;
		return KP_OK;
	}
	if (in->type != KP_V_STR) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	return load_all(cx, in->u.str.s, in->u.str.len, out);
}
