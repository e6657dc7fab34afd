/*
 * jinja-eval.c - renders the Jinja corpus through kplan's expression API.
 *
 *     jinja-eval DATA_DIR TMP_DIR EXPECTED.json
 *
 * EXPECTED.json is what tests/jinja/oracle.py wrote: a list of cases, each
 * with its name, one of expr/template/file/when, vars and template_options.
 * Every case is rendered the way kplan renders the same text in a plan
 * (expr as the task argument "{{ expr }}", when as a `when:` condition,
 * file as the template module renders a file) and
 * the answers are printed as a JSON list of {"name", "value"} or {"name",
 * "error": "undefined"|"error", "message"}, for tests/jinja/compare.py to
 * hold against Ansible's. "@DATA@" and "@TMP@" in the case's text and
 * variables stand for DATA_DIR and TMP_DIR, as for the oracle.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/kp.h"
#include "core/value.h"
#include "expr/expr.h"

static const char *data_dir, *tmp_dir;

static struct kp_value *subst_str(const char *s)
{
	struct kp_buf b = KP_BUF_INIT;
	while (*s) {
		if (!strncmp(s, "@DATA@", 6)) {
			kp_buf_addstr(&b, data_dir);
			s += 6;
		} else if (!strncmp(s, "@TMP@", 5)) {
			kp_buf_addstr(&b, tmp_dir);
			s += 5;
		} else {
			kp_buf_addch(&b, *s++);
		}
	}
	size_t len;
	char *p = kp_buf_detach(&b, &len);
	return kp_value_str_take(p, len);
}

/* A copy of v with the placeholders replaced in every string. */
static struct kp_value *subst(const struct kp_value *v)
{
	struct kp_value *r;
	switch (v->type) {
	case KP_V_STR:
		return subst_str(v->u.str.s);
	case KP_V_LIST:
		r = kp_value_list();
		for (size_t i = 0; i < kp_list_len(v); i++)
			kp_list_push_take(r, subst(kp_list_at(v, i)));
		return r;
	case KP_V_MAP:
		r = kp_value_map();
		for (size_t i = 0; i < kp_map_len(v); i++)
			kp_map_set_take(r, kp_map_key(v, i), subst(kp_map_val(v, i)));
		return r;
	default:
		return kp_value_ref(v);
	}
}

/* hostvars[NAME] comes from the case's own `hostvars` variable. */
static struct kp_value *case_hostvars(void *ctx, const char *host)
{
	const struct kp_value *hv = kp_map_get(ctx, "hostvars");
	const struct kp_value *h = hv && hv->type == KP_V_MAP ? kp_map_get(hv, host) : NULL;
	return h ? kp_value_ref(h) : NULL;
}

/* The answer as JSON data. Floats stay floats ("2.0", not "2"), so that
 * the comparison can tell 2 from 2.0 as Python does. */
static cJSON *to_json(const struct kp_value *v)
{
	char num[64];
	cJSON *j;
	switch (v->type) {
	case KP_V_NULL:
		return cJSON_CreateNull();
	case KP_V_BOOL:
		return cJSON_CreateBool(v->u.b);
	case KP_V_INT:
		snprintf(num, sizeof num, "%lld", (long long)v->u.i);
		return cJSON_CreateRaw(num);
	case KP_V_FLOAT:
		if (v->u.f != v->u.f || v->u.f - v->u.f != 0) /* nan, inf: not JSON */
			return cJSON_CreateString(v->u.f != v->u.f ? "nan" : "inf");
		snprintf(num, sizeof num, "%.17g", v->u.f);
		if (!strpbrk(num, ".eE"))
			strcat(num, ".0");
		return cJSON_CreateRaw(num);
	case KP_V_STR:
		return cJSON_CreateString(v->u.str.s);
	case KP_V_LIST:
		j = cJSON_CreateArray();
		for (size_t i = 0; i < kp_list_len(v); i++)
			cJSON_AddItemToArray(j, to_json(kp_list_at(v, i)));
		return j;
	case KP_V_MAP:
		j = cJSON_CreateObject();
		for (size_t i = 0; i < kp_map_len(v); i++)
			cJSON_AddItemToObject(j, kp_map_key(v, i), to_json(kp_map_val(v, i)));
		return j;
	}
	return cJSON_CreateNull();
}

static const char *str_of(const struct kp_value *c, const char *key)
{
	const struct kp_value *v = kp_map_get(c, key);
	return v && v->type == KP_V_STR ? v->u.str.s : NULL;
}

/* Render one case; *out gets the value, or the error message in err. */
static kp_rc run_case(struct kp_lua *L, const struct kp_value *c, const struct kp_scope *s,
		      struct kp_value **out, struct kp_buf *err)
{
	struct kp_pos pos = {.file = "case", .line = 1, .col = 1};
	const char *text;
	kp_rc rc;

	if ((text = str_of(c, "when"))) {
		struct kp_value *t = subst_str(text);
		struct kp_expr *e = NULL;
		bool b = false;
		rc = kp_expr_compile(t->u.str.s, pos, &e, err);
		if (!rc)
			rc = kp_expr_test(L, e, s, &b, err);
		kp_expr_free(e);
		kp_value_unref(t);
		if (!rc)
			*out = kp_value_bool(b);
		return rc;
	}
	struct kp_buf src = KP_BUF_INIT;
	if ((text = str_of(c, "expr"))) {
		kp_buf_addf(&src, "{{ %s }}", text);
	} else if ((text = str_of(c, "template"))) {
		kp_buf_addstr(&src, text);
	} else if ((text = str_of(c, "file"))) {
		/* the template module: trim_blocks on, lstrip_blocks off unless
		 * the case's template_options say otherwise */
		const struct kp_value *o = kp_map_get(c, "template_options"), *v;
		bool trim = true, lstrip = false;
		if (o && (v = kp_map_get(o, "trim_blocks")) && v->type == KP_V_BOOL)
			trim = v->u.b;
		if (o && (v = kp_map_get(o, "lstrip_blocks")) && v->type == KP_V_BOOL)
			lstrip = v->u.b;
		struct kp_value *t = subst_str(text);
		struct kp_template *tp = NULL;
		kp_buf_release(&src);
		rc =
		    kp_template_compile_file(t->u.str.s, t->u.str.len, pos, trim, lstrip, &tp, err);
		if (!rc)
			rc = kp_template_render(L, tp, s, out, err);
		kp_template_free(tp);
		kp_value_unref(t);
		return rc;
	} else {
		kp_buf_release(&src);
		return kp_errorf(err, KP_ERR_INVALID,
				 "case has none of expr, template, file, when");
	}
	struct kp_value *t = subst_str(src.buf);
	kp_buf_release(&src);
	struct kp_template *tp = NULL;
	rc = kp_template_compile(t->u.str.s, t->u.str.len, pos, &tp, err);
	if (!rc)
		rc = kp_template_render(L, tp, s, out, err);
	kp_template_free(tp);
	kp_value_unref(t);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: jinja-eval DATA_DIR TMP_DIR EXPECTED.json\n");
		return 2;
	}
	data_dir = argv[1];
	tmp_dir = argv[2];
	struct kp_buf text = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_value *cases = NULL;
	if (kp_read_file(argv[3], 0, &text, &err) ||
	    kp_value_from_json(text.buf, text.len, &cases, &err)) {
		fprintf(stderr, "jinja-eval: %s\n", err.buf);
		return 2;
	}
	if (cases->type != KP_V_LIST) {
		fprintf(stderr, "jinja-eval: '%s' is not a list of cases\n", argv[3]);
		return 2;
	}
	struct kp_lua *L = kp_lua_new();
	cJSON *answers = cJSON_CreateArray();
	for (size_t i = 0; i < kp_list_len(cases); i++) {
		const struct kp_value *c = kp_list_at(cases, i);
		const struct kp_value *vars = kp_map_get(c, "vars");
		struct kp_value *layer = vars ? subst(vars) : kp_value_map();
		struct kp_scope s = {.nlayers = 1, .hostvars = case_hostvars, .ctx = layer};
		s.layers[0] = layer;
		s.base_dir = data_dir;
		struct kp_value *out = NULL;
		kp_buf_reset(&err);
		kp_rc rc = run_case(L, c, &s, &out, &err);
		cJSON *a = cJSON_CreateObject();
		cJSON_AddStringToObject(a, "name", str_of(c, "name") ? str_of(c, "name") : "");
		if (rc) {
			cJSON_AddStringToObject(a, "error",
						rc == KP_ERR_UNDEFINED ? "undefined" : "error");
			cJSON_AddStringToObject(a, "message", err.buf);
		} else {
			cJSON_AddItemToObject(a, "value", to_json(out));
		}
		cJSON_AddItemToArray(answers, a);
		kp_value_unref(out);
		kp_value_unref(layer);
	}
	char *printed = cJSON_PrintUnformatted(answers);
	fputs(printed, stdout);
	fputc('\n', stdout);
	free(printed);
	cJSON_Delete(answers);
	kp_lua_free(L);
	kp_value_unref(cases);
	kp_buf_release(&text);
	kp_buf_release(&err);
	return 0;
}
