/*
 * render.c - running a template's statements: text, {{ }} output (None
 * prints as nothing, as Ansible's finalize does), if/elif/else, for loops
 * with Jinja's `loop` variable (cycle, changed, depth), tuple unpacking and
 * recursive loops, set and set blocks, filter blocks, with, macros with
 * defaults, call blocks, and include.
 */
#include "expr/jinja/jinja.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "expr/jinja/jlib.h"

static kp_rc push_local(struct kp_jctx *cx, const char *name, struct kp_value *v)
{
	if (cx->nlocals >= JCTX_LOCALS_MAX) {
		kp_value_unref(v);
		return kp_jinja_err(cx, KP_ERR_LIMIT, "too many nested loop or set variables");
	}
	cx->lnames[cx->nlocals] = name;
	cx->lvals[cx->nlocals++] = v;
	return KP_OK;
}

static void pop_locals(struct kp_jctx *cx, size_t to)
{
	while (cx->nlocals > to)
		kp_value_unref(cx->lvals[--cx->nlocals]);
}

/* {{ v }}: text as Jinja writes it */
static kp_rc output(struct kp_jctx *cx, const struct kp_value *v, struct kp_buf *out)
{
	if (kp_jv_is_undef(v)) {
		if (v->no_log) /* `x if c` without else: renders as nothing */
			return KP_OK;
		return kp_jv_undef_error(cx, v);
	}
	if (v->type == KP_V_NULL)
		return KP_OK;
	const struct kp_value *u = kp_jv_find_undef(v, 0);
	if (u)
		return kp_jv_undef_error(cx, u);
	/* text made from a secret or no_log value prints hidden */
	cx->unsafe |= v->unsafe;
	cx->secret |= v->secret;
	cx->no_log |= v->no_log;
	size_t before = out->len;
	kp_jinja_str(v, out);
	return kp_jinja_charge(cx, out->len - before);
}

/* What a body rendered into b, as a string value: *out a new reference
 * when rc is KP_OK; b is released either way. */
static kp_rc text_value(kp_rc rc, struct kp_buf *b, struct kp_value **out)
{
	if (rc) {
		kp_buf_release(b);
		return rc;
	}
	size_t len;
	char *s = kp_buf_detach(b, &len);
	*out = kp_value_str_take(s, len);
	return KP_OK;
}

/* Assign an item to the loop targets: one name, or unpack a pair. */
static kp_rc assign(struct kp_jctx *cx, char *const *targets, size_t n, const struct kp_value *item)
{
	if (n == 1)
		return push_local(cx, targets[0], kp_value_ref(item));
	if (item->type != KP_V_LIST || item->u.list.n != n)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "cannot unpack %s into %zu names",
				    kp_jinja_typename(item), n);
	for (size_t i = 0; i < n; i++) {
		kp_rc rc = push_local(cx, targets[i], kp_value_ref(item->u.list.items[i]));
		if (rc)
			return rc;
	}
	return KP_OK;
}

static struct kp_value *loop_var(size_t i, size_t n, const struct kp_value *items, int depth)
{
	struct kp_value *l = kp_value_map();
	kp_map_set_take(l, "index", kp_value_int((int64_t)i + 1));
	kp_map_set_take(l, "index0", kp_value_int((int64_t)i));
	kp_map_set_take(l, "revindex", kp_value_int((int64_t)(n - i)));
	kp_map_set_take(l, "revindex0", kp_value_int((int64_t)(n - i - 1)));
	kp_map_set_take(l, "first", kp_value_bool(i == 0));
	kp_map_set_take(l, "last", kp_value_bool(i + 1 == n));
	kp_map_set_take(l, "length", kp_value_int((int64_t)n));
	kp_map_set_take(l, "depth", kp_value_int(depth));
	kp_map_set_take(l, "depth0", kp_value_int(depth - 1));
	if (i > 0)
		kp_map_set(l, "previtem", items->u.list.items[i - 1]);
	if (i + 1 < n)
		kp_map_set(l, "nextitem", items->u.list.items[i + 1]);
	return l;
}

/* What a for loop iterates: *out a new list (a dict's keys, a string's
 * characters); seq is consumed. */
static kp_rc loop_items(struct kp_jctx *cx, struct kp_value *seq, struct kp_value **out)
{
	struct kp_value *items = NULL;
	kp_rc rc = KP_OK;
	if (kp_jv_is_undef(seq)) {
		rc = kp_jv_undef_error(cx, seq);
		kp_value_unref(seq);
		return rc;
	}
	switch (seq->type) {
	case KP_V_LIST:
		items = kp_value_ref(seq);
		break;
	case KP_V_MAP:
		items = kp_value_list();
		for (size_t i = 0; i < seq->u.map.n; i++)
			kp_list_push_take(items, kp_value_str(seq->u.map.keys[i]));
		break;
	case KP_V_STR:
		items = kp_value_list();
		for (size_t i = 0; i < seq->u.str.len;) {
			unsigned char c = (unsigned char)seq->u.str.s[i];
			size_t l = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			if (i + l > seq->u.str.len)
				l = seq->u.str.len - i;
			kp_list_push_take(items, kp_value_strn(seq->u.str.s + i, l));
			i += l;
		}
		break;
	default:
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "'%s' object is not iterable",
				  kp_jinja_typename(seq));
	}
	kp_value_unref(seq);
	*out = items;
	return rc;
}

/* The loop over seq (consumed) at the given depth: recursive loops come
 * back here through loop(x). */
static kp_rc loop_over(struct kp_jctx *cx, const struct jstmt *st, struct kp_value *seq, int depth,
		       struct kp_buf *out)
{
	struct kp_value *items = NULL;
	kp_rc rc = loop_items(cx, seq, &items);
	if (rc)
		return rc;
	size_t base = cx->nlocals;
	/* the `if` filter applies before loop.* counts */
	if (st->filter) {
		struct kp_value *kept = kp_value_list();
		for (size_t i = 0; i < items->u.list.n && !rc; i++) {
			struct kp_value *c = NULL;
			rc = assign(cx, st->targets, st->ntargets, items->u.list.items[i]);
			if (!rc)
				rc = kp_jeval(cx, st->filter, &c);
			if (!rc && kp_jv_is_undef(c))
				rc = kp_jv_undef_error(cx, c);
			if (!rc && kp_jinja_truthy(c))
				kp_list_push(kept, items->u.list.items[i]);
			kp_value_unref(c);
			pop_locals(cx, base);
		}
		kp_value_unref(items);
		items = kept;
		if (rc) {
			kp_value_unref(items);
			return rc;
		}
	}
	if (cx->nloops >= KP_ARRAY_LEN(cx->loops)) {
		kp_value_unref(items);
		return kp_jinja_err(cx, KP_ERR_LIMIT, "loops nested too deeply");
	}
	struct jloop *fr = &cx->loops[cx->nloops++];
	*fr = (struct jloop){.st = st, .depth = depth};
	size_t n = items->u.list.n;
	fr->length = n;
	for (size_t i = 0; i < n && !rc; i++) {
		fr->index0 = i;
		rc = kp_jinja_charge(cx, 16); /* the loop variable: a map of 11 */
		if (!rc)
			rc = push_local(cx, "loop", loop_var(i, n, items, depth));
		if (!rc)
			rc = assign(cx, st->targets, st->ntargets, items->u.list.items[i]);
		if (!rc)
			rc = kp_jrender(cx, st->body, out);
		pop_locals(cx, base);
	}
	kp_value_unref(fr->changed);
	cx->nloops--;
	if (!rc && !n && st->else_body)
		rc = kp_jrender(cx, st->else_body, out);
	kp_value_unref(items);
	return rc;
}

static kp_rc run_for(struct kp_jctx *cx, const struct jstmt *st, struct kp_buf *out)
{
	struct kp_value *seq = NULL;
	kp_rc rc = kp_jeval(cx, st->expr, &seq);
	return rc ? rc : loop_over(cx, st, seq, 1, out);
}

kp_rc kp_jloop_call(struct kp_jctx *cx, const char *name, const struct kp_value *const *pos,
		    size_t npos, struct kp_value **out)
{
	if (!cx->nloops)
		return KP_ERR_NOTFOUND;
	struct jloop *fr = &cx->loops[cx->nloops - 1];
	if (!strcmp(name, "loop")) {
		if (!fr->st->recursive)
			return KP_ERR_NOTFOUND;
		if (npos != 1)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "loop() takes exactly one argument (%zu given)", npos);
		struct kp_buf b = KP_BUF_INIT;
		return text_value(loop_over(cx, fr->st, kp_value_ref(pos[0]), fr->depth + 1, &b),
				  &b, out);
	}
	if (!strcmp(name, "cycle")) {
		if (!npos)
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "no items for cycling given");
		*out = kp_value_ref(pos[fr->index0 % npos]);
		return KP_OK;
	}
	if (!strcmp(name, "changed")) {
		struct kp_value *now = kp_value_list();
		for (size_t i = 0; i < npos; i++)
			kp_list_push(now, pos[i]);
		bool changed = !fr->changed || !kp_value_equal(fr->changed, now);
		kp_value_unref(fr->changed);
		fr->changed = now;
		*out = kp_value_bool(changed);
		return KP_OK;
	}
	return KP_ERR_NOTFOUND;
}

/* text (consumed) through a block's filter chain: *out a new reference.
 * The text replaces the placeholder input while the chain is evaluated
 * (the AST is shared between threads: the text goes in through a local
 * variable, not into the tree). */
static kp_rc filter_text(struct kp_jctx *cx, const struct jnode *chain_top, struct kp_value *text,
			 struct kp_value **out)
{
	kp_rc rc = KP_OK;
	struct kp_value *v = NULL;
	size_t base = cx->nlocals;
	const struct jnode *chain[32];
	size_t n = 0;
	for (const struct jnode *f = chain_top; f->kind == JN_FILTER && n < 32; f = f->kids[0])
		chain[n++] = f;
	/* innermost first: each filter's input is the previous result */
	struct kp_value *cur = text;
	for (size_t i = n; i-- > 0;) {
		rc = push_local(cx, " filter-input", kp_value_ref(cur));
		if (rc)
			break;
		struct jnode in = {.kind = JN_NAME, .name = (char *)" filter-input"};
		struct jnode f = *chain[i];
		struct jnode *kids[64];
		if (f.nkids > KP_ARRAY_LEN(kids)) {
			pop_locals(cx, base);
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "too many filter arguments");
			break;
		}
		memcpy(kids, f.kids, f.nkids * sizeof(*kids));
		kids[0] = &in;
		f.kids = kids;
		rc = kp_jeval(cx, &f, &v);
		pop_locals(cx, base);
		kp_value_unref(cur);
		cur = v;
		v = NULL;
		if (rc)
			break;
		if (kp_jv_is_undef(cur)) {
			rc = kp_jv_undef_error(cx, cur);
			break;
		}
	}
	if (rc) {
		kp_value_unref(cur);
		return rc;
	}
	*out = cur;
	return KP_OK;
}

/* The text a block renders: *out a new string */
static kp_rc render_text(struct kp_jctx *cx, const struct jbody *body, struct kp_value **out)
{
	struct kp_buf b = KP_BUF_INIT;
	return text_value(kp_jrender(cx, body, &b), &b, out);
}

/* {% set %} stays in effect to the end of the enclosing block. */
static kp_rc run_set(struct kp_jctx *cx, const struct jstmt *st, struct kp_buf *out)
{
	struct kp_value *v = NULL;
	kp_rc rc;
	if (st->kind == JS_SETBLOCK) {
		struct kp_value *text = NULL;
		rc = render_text(cx, st->body, &text);
		if (!rc && st->expr) /* {% set v | filter %} */
			rc = filter_text(cx, st->expr, text, &v);
		else
			v = text;
		return rc ? rc : push_local(cx, st->targets[0], v);
	}
	rc = kp_jeval(cx, st->expr, &v);
	if (rc)
		return rc;
	const char *dot = st->ntargets == 1 ? strchr(st->targets[0], '.') : NULL;
	if (dot) {
		/* a namespace() set earlier in this template: written in place,
		 * so a loop's body changes what follows the loop */
		size_t nl = (size_t)(dot - st->targets[0]);
		for (size_t i = cx->nlocals; i-- > 0;) {
			if (strlen(cx->lnames[i]) != nl ||
			    memcmp(cx->lnames[i], st->targets[0], nl))
				continue;
			if (cx->lvals[i]->type != KP_V_MAP)
				break;
			if (cx->lvals[i]->refs > 1) {
				struct kp_value *c = kp_value_copy(cx->lvals[i]);
				kp_value_unref(cx->lvals[i]);
				cx->lvals[i] = c;
			}
			if (kp_jv_is_undef(v)) {
				rc = kp_jv_undef_error(cx, v);
				kp_value_unref(v);
				return rc;
			}
			kp_map_set_take(cx->lvals[i], dot + 1, v);
			return KP_OK;
		}
		kp_value_unref(v);
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "cannot assign attribute on '%.*s': not a namespace()", (int)nl,
				    st->targets[0]);
	}
	if (kp_jv_is_undef(v) && st->ntargets > 1) {
		rc = kp_jv_undef_error(cx, v);
		kp_value_unref(v);
		return rc;
	}
	rc = assign(cx, st->targets, st->ntargets, v);
	kp_value_unref(v);
	return rc;
}

/* {% filter %}: the body's text through the filter chain */
static kp_rc run_filter_block(struct kp_jctx *cx, const struct jstmt *st, struct kp_buf *out)
{
	struct kp_value *text = NULL, *v = NULL;
	kp_rc rc = render_text(cx, st->body, &text);
	if (!rc)
		rc = filter_text(cx, st->expr, text, &v);
	if (!rc)
		rc = output(cx, v, out);
	kp_value_unref(v);
	return rc;
}

/* {% with a = x %}: the values, all evaluated first, hold in the body */
static kp_rc run_with(struct kp_jctx *cx, const struct jstmt *st, struct kp_buf *out)
{
	size_t base = cx->nlocals;
	struct kp_value *vals[JCTX_LOCALS_MAX] = {0};
	kp_rc rc = st->ntargets > JCTX_LOCALS_MAX
		       ? kp_jinja_err(cx, KP_ERR_LIMIT, "too many names in with")
		       : KP_OK;
	for (size_t i = 0; i < st->ntargets && !rc; i++)
		rc = kp_jeval(cx, st->defaults[i], &vals[i]);
	for (size_t i = 0; i < st->ntargets && i < JCTX_LOCALS_MAX; i++) {
		if (!rc && vals[i])
			rc = push_local(cx, st->targets[i], vals[i]);
		else
			kp_value_unref(vals[i]);
	}
	if (!rc)
		rc = kp_jrender(cx, st->body, out);
	pop_locals(cx, base);
	return rc;
}

kp_rc kp_jmacro_call(struct kp_jctx *cx, const char *name, const struct kp_value *const *pos,
		     size_t npos, const char *const *kwn, const struct kp_value *const *kwv,
		     size_t nkw, struct kp_value **out)
{
	const struct jstmt *m = NULL;
	for (size_t i = cx->nmacros; i-- > 0 && !m;)
		if (!strcmp(cx->macros[i]->targets[0], name))
			m = cx->macros[i];
	if (!m)
		return KP_ERR_NOTFOUND;
	size_t np = m->ntargets - 1, base = cx->nlocals;
	if (npos > np)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "macro '%s' takes not more than %zu argument(s)", name, np);
	for (size_t k = 0; k < nkw; k++) {
		bool known = false;
		for (size_t i = 0; i < np && !known; i++)
			known = !strcmp(kwn[k], m->targets[i + 1]);
		if (!known)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "macro '%s' takes no keyword argument '%s'", name,
					    kwn[k]);
	}
	kp_rc rc = KP_OK;
	/* defaults are evaluated when called, seeing the parameters before */
	for (size_t i = 0; i < np && !rc; i++) {
		const char *pn = m->targets[i + 1];
		const struct kp_value *v = i < npos ? pos[i] : NULL;
		for (size_t k = 0; k < nkw && !v; k++)
			if (!strcmp(kwn[k], pn))
				v = kwv[k];
		struct kp_value *d = NULL;
		if (!v && m->defaults && m->defaults[i + 1])
			rc = kp_jeval(cx, m->defaults[i + 1], &d);
		if (!rc)
			rc = push_local(cx, pn,
					v   ? kp_value_ref(v)
					: d ? d
					    : kp_jv_undef("parameter '%s' was not provided", pn));
	}
	struct kp_buf text = KP_BUF_INIT;
	if (!rc)
		rc = kp_jrender(cx, m->body, &text);
	pop_locals(cx, base);
	return text_value(rc, &text, out);
}

/* {% call m(args) %}body{% endcall %}: m runs with caller() the body */
static kp_rc run_call(struct kp_jctx *cx, const struct jstmt *st, struct kp_buf *out)
{
	if (cx->nmacros >= KP_ARRAY_LEN(cx->macros))
		return kp_jinja_err(cx, KP_ERR_LIMIT, "too many macros");
	size_t saved = cx->nmacros;
	cx->macros[cx->nmacros++] = st;
	struct kp_value *v = NULL;
	kp_rc rc = kp_jeval(cx, st->expr, &v);
	cx->nmacros = saved;
	if (!rc)
		rc = output(cx, v, out);
	kp_value_unref(v);
	return rc;
}

/* Where {% include name %} finds name: in a task's argument the plan's
 * directory (Templar's loader); in the template module Ansible's search
 * path, each directory's templates/ folder before it: the role
 * (role_path), the plan's directory, the template file's own directory.
 * *out a new string, NULL when none. */
static char *find_include(struct kp_jctx *cx, const char *name)
{
	struct stat sb;
	if (name[0] == '/')
		return stat(name, &sb) || !S_ISREG(sb.st_mode) ? NULL : kp_xstrdup(name);
	const char *tdir = cx->scope ? cx->scope->template_dir : NULL;
	const struct kp_value *role = tdir ? kp_scope_get(cx->scope, "role_path") : NULL;
	const char *dirs[3] = {role && role->type == KP_V_STR ? role->u.str.s : NULL,
			       kp_jinja_base_dir(cx), tdir};
	struct kp_buf path = KP_BUF_INIT;
	for (size_t d = 0; d < KP_ARRAY_LEN(dirs); d++)
		for (int sub = tdir ? 1 : 0; dirs[d] && sub >= 0; sub--) {
			kp_buf_reset(&path);
			kp_buf_addf(&path, "%s/%s%s", dirs[d], sub ? "templates/" : "", name);
			if (!stat(path.buf, &sb) && S_ISREG(sb.st_mode))
				return kp_buf_detach(&path, NULL);
		}
	kp_buf_release(&path);
	return NULL;
}

static kp_rc include_one(struct kp_jctx *cx, const struct jstmt *st, const char *path,
			 struct kp_buf *out)
{
	struct kp_buf text = KP_BUF_INIT, err = KP_BUF_INIT;
	struct jtemplate *t = NULL;
	kp_rc rc = KP_OK;
	if (kp_read_file(path, (size_t)64 << 20, &text, &err)) {
		rc = kp_jinja_err(cx, KP_ERR_IO, "cannot read '%s': %s", path, err.buf);
	} else if (!(rc = kp_jinja_charge(cx, text.len))) {
		/* Ansible's environment: trim_blocks on */
		struct jopts o = {.trim_blocks = true};
		size_t at = 0;
		kp_buf_reset(&err);
		if (kp_jparse_template(text.buf, text.len, &o, &t, &err, &at))
			rc = kp_jsyntax_error(cx, path, text.buf, text.len, at, err.buf);
	}
	if (!rc) {
		/* the included file's macros are its own */
		size_t macros = cx->nmacros, floor = cx->local_floor;
		bool no_context = cx->no_context;
		if (st->no_context) {
			cx->local_floor = cx->nlocals;
			cx->no_context = true;
		}
		rc = kp_jrender(cx, &t->body, out);
		cx->nmacros = macros;
		cx->local_floor = floor;
		cx->no_context = no_context;
	}
	kp_jtemplate_free(t);
	kp_buf_release(&text);
	kp_buf_release(&err);
	return rc;
}

/* {% include %}: a name, or a list of names of which the first found */
static kp_rc run_include(struct kp_jctx *cx, const struct jstmt *st, struct kp_buf *out)
{
	struct kp_value *v = NULL;
	kp_rc rc = kp_jeval(cx, st->expr, &v);
	if (rc)
		return rc;
	if (kp_jv_is_undef(v)) {
		rc = kp_jv_undef_error(cx, v);
		kp_value_unref(v);
		return rc;
	}
	size_t n = v->type == KP_V_LIST ? kp_list_len(v) : 1;
	char *path = NULL;
	for (size_t i = 0; i < n && !path && !rc; i++) {
		const struct kp_value *name = v->type == KP_V_LIST ? kp_list_at(v, i) : v;
		if (name->type != KP_V_STR)
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "Can only include a string, not '%s'",
					  kp_jinja_typename(name));
		else
			path = find_include(cx, name->u.str.s);
	}
	if (!rc && path)
		rc = include_one(cx, st, path, out);
	else if (!rc && !st->ignore_missing) {
		struct kp_buf names = KP_BUF_INIT;
		kp_jinja_str(v, &names);
		rc = kp_jinja_err(cx, KP_ERR_IO, "%s: %s",
				  v->type == KP_V_LIST ? "TemplatesNotFound" : "TemplateNotFound",
				  names.buf);
		kp_buf_release(&names);
	}
	free(path);
	kp_value_unref(v);
	return rc;
}

kp_rc kp_jrender(struct kp_jctx *cx, const struct jbody *b, struct kp_buf *out)
{
	size_t base = cx->nlocals;
	kp_rc rc = KP_OK;
	if (++cx->depth > KP_JINJA_MAX_DEPTH) {
		cx->depth--;
		return kp_jinja_err(cx, KP_ERR_LIMIT, "template nested too deeply");
	}
	for (size_t i = 0; i < b->n && !rc; i++) {
		const struct jstmt *st = &b->s[i];
		cx->offset = st->offset;
		switch (st->kind) {
		case JS_TEXT:
			kp_buf_add(out, st->text, st->len);
			rc = kp_jinja_charge(cx, st->len);
			break;
		case JS_OUT: {
			struct kp_value *v = NULL;
			rc = kp_jeval(cx, st->expr, &v);
			if (!rc)
				rc = output(cx, v, out);
			kp_value_unref(v);
			break;
		}
		case JS_IF:
			for (size_t k = 0; k < st->nconds; k++) {
				bool take = true;
				if (st->conds[k]) {
					struct kp_value *c = NULL;
					rc = kp_jeval(cx, st->conds[k], &c);
					if (!rc && kp_jv_is_undef(c))
						rc = kp_jv_undef_error(cx, c);
					take = !rc && kp_jinja_truthy(c);
					kp_value_unref(c);
				}
				if (rc)
					break;
				if (take) {
					rc = kp_jrender(cx, &st->bodies[k], out);
					break;
				}
			}
			break;
		case JS_FOR:
			rc = run_for(cx, st, out);
			break;
		case JS_SET:
		case JS_SETBLOCK:
			rc = run_set(cx, st, out);
			break;
		case JS_FILTER:
			rc = run_filter_block(cx, st, out);
			break;
		case JS_CALL:
			rc = run_call(cx, st, out);
			break;
		case JS_INCLUDE:
			rc = run_include(cx, st, out);
			break;
		case JS_WITH:
			rc = run_with(cx, st, out);
			break;
		case JS_MACRO:
			if (cx->nmacros >= KP_ARRAY_LEN(cx->macros))
				rc = kp_jinja_err(cx, KP_ERR_LIMIT, "too many macros");
			else
				cx->macros[cx->nmacros++] = st;
			break;
		}
	}
	/* sets stay until the loop iteration (run_for) or the render ends */
	(void)base;
	cx->depth--;
	return rc;
}
