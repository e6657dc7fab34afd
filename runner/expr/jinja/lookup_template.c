/*
 * lookup_template.c - the template lookup: a file from templates/ under
 * the plan's directory (or the directory itself) rendered with the
 * current variables, as ansible-core's Templar renders it (trim_blocks
 * on, trailing newlines kept, text that reads as a Python list, dict or
 * boolean turned into one). It renders with the engine's own parser and
 * renderer, so it lives beside the engine.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "expr/jinja/jinja.h"
#include "expr/jinja/jlib.h"

static kp_rc render_file(struct kp_jctx *cx, const char *term, struct kp_value **out)
{
	struct kp_buf path = KP_BUF_INIT, text = KP_BUF_INIT, err = KP_BUF_INIT, res = KP_BUF_INIT;
	struct stat st;
	kp_rc rc = KP_OK;
	if (term[0] == '/') {
		kp_buf_addstr(&path, term);
	} else {
		kp_buf_addf(&path, "%s/templates/%s", kp_jinja_base_dir(cx), term);
		if (stat(path.buf, &st) || !S_ISREG(st.st_mode)) {
			kp_buf_reset(&path);
			kp_buf_addf(&path, "%s/%s", kp_jinja_base_dir(cx), term);
		}
	}
	if (stat(path.buf, &st) || !S_ISREG(st.st_mode))
		rc = kp_jinja_err(cx, KP_ERR_IO,
				  "the template file %s could not be found for the lookup", term);
	else if (!(rc = kp_jinja_charge(cx, (size_t)st.st_size)) &&
		 kp_read_file(path.buf, 0, &text, &err))
		rc = kp_jinja_err(cx, KP_ERR_IO, "cannot read '%s': %s", term, err.buf);
	struct jtemplate *t = NULL;
	if (!rc) {
		struct jopts o = {.trim_blocks = true};
		size_t at = 0;
		kp_buf_reset(&err);
		if (kp_jparse_template(text.buf, text.len, &o, &t, &err, &at))
			rc = kp_jsyntax_error(cx, term, text.buf, text.len, at, err.buf);
	}
	if (!rc)
		rc = kp_jrender(cx, &t->body, &res);
	if (!rc) {
		/* Templar's preserve_trailing_newlines: Jinja drops the last
		 * newline; the newlines the file ends with are put back */
		size_t want = 0, have = 0;
		while (want < text.len && text.buf[text.len - 1 - want] == '\n')
			want++;
		while (have < res.len && res.buf[res.len - 1 - have] == '\n')
			have++;
		for (; have < want; have++)
			kp_buf_addch(&res, '\n');
		struct kp_value *v = NULL;
		if ((res.len && (res.buf[0] == '[' || res.buf[0] == '{')) ||
		    !strcmp(res.buf, "True") || !strcmp(res.buf, "False"))
			v = kp_jliteral_eval(res.buf, res.len);
		*out = v ? v : kp_value_strn(res.buf, res.len);
	}
	if (t)
		kp_jtemplate_free(t);
	kp_buf_release(&path);
	kp_buf_release(&text);
	kp_buf_release(&err);
	kp_buf_release(&res);
	return rc;
}

/* template(*terms) */
JL(template)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const struct kp_value *t = kp_list_at(terms, i);
		struct kp_value *v = NULL;
		if (t->type != KP_V_STR)
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "lookup 'template' takes strings, not %s",
					  kp_jinja_typename(t));
		else if (!(rc = render_file(cx, t->u.str.s, &v)))
			kp_list_push_take(l, v);
	}
	if (rc) {
		const char *e = NULL;
		if (!jl_str(cx, argv[1], "errors", "strict", &e) && rc != KP_ERR_UNDEFINED &&
		    rc != KP_ERR_LIMIT && (!strcmp(e, "ignore") || !strcmp(e, "warn"))) {
			kp_value_unref(l);
			*out = kp_value_list();
			return KP_OK;
		}
		kp_value_unref(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}
