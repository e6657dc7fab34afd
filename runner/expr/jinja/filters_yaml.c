/*
 * filters_yaml.c - to_yaml, to_nice_yaml, from_yaml, from_yaml_all.
 *
 * ansible-core dumps with PyYAML's CSafeDumper, which is libyaml's
 * emitter: the same events given to the same emitter give the same bytes.
 * What PyYAML decides before the emitter is reproduced here: keys sorted,
 * a collection of plain scalars in flow style when default_flow_style is
 * None, floats as '.inf' or '1.0e+16', and a string quoted exactly when
 * YAML 1.1's resolver would read it back as something else ('yes', '1.0',
 * '' ...). Loading is kplan's YAML loader (libyaml), per document.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/ytree.h"
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

static bool resolves_to_other(const struct resolve *r, const char *s, size_t len)
{
	for (size_t i = 0; i < NRESOLVERS; i++)
		if (r->re[i] && pcre2_match(r->re[i], (PCRE2_SPTR)s, len, 0, 0, r->md, NULL) >= 0)
			return true;
	return false;
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

static kp_rc load_one(struct kp_jctx *cx, const char *s, size_t len, struct kp_value **out)
{
	struct kp_doc *doc = NULL;
	struct kp_buf err = KP_BUF_INIT;
	kp_rc rc = kp_yaml_load_string("<string>", s, len, &doc, &err);
	if (!rc)
		rc = kp_node_to_value(doc->root, out, &err);
	if (rc)
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "cannot read YAML: %s", err.buf);
	kp_doc_free(doc);
	kp_buf_release(&err);
	return rc;
}

/* from_yaml: text is parsed, anything else given back as is */
JF(from_yaml)
{
	if (in->type != KP_V_STR) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	kp_rc rc = kp_jinja_charge(cx, in->u.str.len);
	if (rc)
		return rc;
	return load_one(cx, in->u.str.s, in->u.str.len, out);
}

/* from_yaml_all: every document, found with libyaml's parser and each
 * loaded on its own */
JF(from_yaml_all)
{
	if (in->type != KP_V_STR) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	kp_rc rc = kp_jinja_charge(cx, in->u.str.len);
	if (rc)
		return rc;
	yaml_parser_t p;
	yaml_event_t ev;
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)in->u.str.s, in->u.str.len);
	struct kp_value *l = kp_value_list();
	size_t start = 0;
	int depth = 0;
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "cannot read YAML: %s at line %zu",
					  p.problem ? p.problem : "syntax error",
					  p.problem_mark.line + 1);
			break;
		}
		yaml_event_type_t t = ev.type;
		if (t == YAML_DOCUMENT_START_EVENT && depth++ == 0)
			start = ev.start_mark.index;
		if (t == YAML_DOCUMENT_END_EVENT && --depth == 0) {
			struct kp_value *v;
			size_t end = ev.end_mark.index;
			rc = load_one(cx, in->u.str.s + start, end - start, &v);
			if (!rc)
				kp_list_push_take(l, v);
		}
		yaml_event_delete(&ev);
		if (rc || t == YAML_STREAM_END_EVENT)
			break;
	}
	yaml_parser_delete(&p);
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}
