/*
 * module.c - finding modules by name and checking task arguments against a
 * module's declared spec, once at load time (on YAML nodes, with positions)
 * and once at run time (on rendered values, filling defaults).
 *
 * Both checks say the same things in the same words, so that an error found
 * only after templating reads like one found when the plan loaded.
 */
#include "modules/module.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A group spec "a|b|c" split into names; groups are short. */
#define MAX_GROUP 8
struct group {
	char names[MAX_GROUP][64];
	size_t n;
};

static void split_group(const char *spec, struct group *g)
{
	g->n = 0;
	while (*spec && g->n < MAX_GROUP) {
		const char *bar = strchr(spec, '|');
		size_t len = bar ? (size_t)(bar - spec) : strlen(spec);
		if (len >= sizeof(g->names[0]))
			len = sizeof(g->names[0]) - 1;
		memcpy(g->names[g->n], spec, len);
		g->names[g->n++][len] = '\0';
		if (!bar)
			break;
		spec = bar + 1;
	}
}

/* "'a' or 'b'", "'a', 'b' or 'c'" */
static void group_text(const struct group *g, struct kp_buf *out)
{
	for (size_t i = 0; i < g->n; i++) {
		if (i)
			kp_buf_addstr(out, i + 1 == g->n ? " or " : ", ");
		kp_buf_addf(out, "'%s'", g->names[i]);
	}
}

/* Collections whose modules kplan knows by their fully qualified names:
 * every module answers to ansible.builtin.X and ansible.legacy.X; other
 * collections only through kp_module_aliases. */
static const char *const builtin_prefixes[] = {"ansible.builtin.", "ansible.legacy."};

static const char *strip_prefix(const char *name)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(builtin_prefixes); i++) {
		size_t pl = strlen(builtin_prefixes[i]);
		if (!strncmp(name, builtin_prefixes[i], pl))
			return name + pl;
	}
	return name;
}

/* Names compare equal when they differ only in '_' versus '-'. */
static bool same_name(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char ca = *a == '_' ? '-' : *a, cb = *b == '_' ? '-' : *b;
		if (ca != cb)
			return false;
	}
	return !*a && !*b;
}

static const struct kp_module *find_registered(const char *name)
{
	for (size_t i = 0; i < kp_nmodules; i++)
		if (!strcmp(kp_modules[i]->name, name))
			return kp_modules[i];
	for (size_t i = 0; i < kp_nmodules; i++)
		if (same_name(kp_modules[i]->name, name))
			return kp_modules[i];
	return NULL;
}

static const struct kp_module *find_alias(const char *name)
{
	for (const struct kp_module_alias *a = kp_module_aliases; a->name; a++)
		if (same_name(a->name, name))
			return find_registered(a->module);
	return NULL;
}

/* The collection part of "ns.coll.module" ("ns.coll", into out), or false
 * when the name has no collection. */
static bool collection_of(const char *name, struct kp_buf *out)
{
	const char *d1 = strchr(name, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d2 || d1 == name || d2 == d1 + 1 || !d2[1])
		return false;
	kp_buf_add(out, name, (size_t)(d2 - name));
	return true;
}

bool kp_module_foreign(const char *name)
{
	struct kp_buf coll = KP_BUF_INIT;
	bool foreign = strip_prefix(name) == name && collection_of(name, &coll);
	for (const struct kp_module_alias *a = kp_module_aliases; foreign && a->name; a++)
		if (!strncmp(a->name, coll.buf, coll.len) && a->name[coll.len] == '.')
			foreign = false; /* kplan has some of it: a typo is likelier */
	kp_buf_release(&coll);
	return foreign;
}

const struct kp_module *kp_module_find(const char *name)
{
	const struct kp_module *m;
	if (!name)
		return NULL;
	if ((m = find_alias(name)))
		return m;
	const char *base = strip_prefix(name);
	if (base == name && strchr(name, '.'))
		return NULL; /* another collection: only its aliases are known */
	if ((m = find_registered(base)))
		return m;
	if ((m = find_alias(base)))
		return m;
	/* a short name ansible-core routes to a collection module kplan has
	 * (`k8s_drain`) */
	const char *to = kp_module_redirect(base);
	return to ? find_alias(to) : NULL;
}

const char *kp_module_suggest(const char *name)
{
	const char *names[128];
	char norm[128];
	size_t n = 0, i;

	for (i = 0; i < kp_nmodules && n < KP_ARRAY_LEN(names); i++)
		names[n++] = kp_modules[i]->name;
	for (const struct kp_module_alias *a = kp_module_aliases; a->name; a++)
		if (!strchr(a->name, '.') && n < KP_ARRAY_LEN(names))
			names[n++] = a->name;
	name = strip_prefix(name);
	for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '_' ? '-' : name[i];
	norm[i] = '\0';
	const char *s = kp_suggest(norm, names, n);
	if (s)
		return s;
	/* the Ansible spelling of an alias ("systemd_service") */
	for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '-' ? '_' : name[i];
	norm[i] = '\0';
	return kp_suggest(norm, names, n);
}

void kp_module_unknown_text(const char *name, struct kp_buf *out)
{
	struct kp_buf coll = KP_BUF_INIT;
	const char *prefix = "";
	if (strip_prefix(name) == name && collection_of(name, &coll)) {
		bool partly = false;
		size_t cl = coll.len;
		kp_buf_addf(out,
			    "module '%s' belongs to collection '%s', which kplan does not provide",
			    name, coll.buf);
		for (const struct kp_module_alias *a = kp_module_aliases; a->name; a++) {
			if (strncmp(a->name, coll.buf, cl) || a->name[cl] != '.')
				continue;
			kp_buf_addf(out, "%s'%s'", partly ? ", " : " (kplan has only ", a->name);
			partly = true;
		}
		if (partly)
			kp_buf_addch(out, ')');
		kp_buf_release(&coll);
		return;
	}
	kp_buf_release(&coll);
	if (strip_prefix(name) != name)
		prefix = name[strlen("ansible.")] == 'b' ? "ansible.builtin." : "ansible.legacy.";
	kp_buf_addf(out, "unknown module '%s'", name);
	const char *s = kp_module_suggest(name);
	if (s)
		kp_buf_addf(out, " (did you mean '%s%s'?)", prefix, s);
}

const struct kp_argspec *kp_module_arg(const struct kp_module *m, const char *name)
{
	for (const struct kp_argspec *a = m->args; a && a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

const char *kp_argtype_name(enum kp_argtype t)
{
	switch (t) {
	case KP_T_STR:
		return "str";
	case KP_T_INT:
		return "int";
	case KP_T_BOOL:
		return "bool";
	case KP_T_LIST:
		return "list";
	case KP_T_DICT:
		return "dict";
	case KP_T_DURATION:
		return "duration";
	case KP_T_PATH:
		return "path";
	case KP_T_STR_OR_LIST:
		return "str or list";
	case KP_T_ANY:
		return "any";
	}
	return "?";
}

/* What a value of the type is called in messages ("must be ..."). */
static const char *wanted(enum kp_argtype t)
{
	switch (t) {
	case KP_T_STR:
	case KP_T_PATH:
		return "a string";
	case KP_T_INT:
		return "an integer";
	case KP_T_BOOL:
		return "a boolean";
	case KP_T_LIST:
		return "a list";
	case KP_T_DICT:
		return "a mapping";
	case KP_T_DURATION:
		return "a duration like 30s, 5m or 1h";
	case KP_T_STR_OR_LIST:
		return "a string or a list of strings";
	case KP_T_ANY:
		break;
	}
	return "a value";
}

/* Argument names of a module, for suggestions. */
static size_t arg_names(const struct kp_module *m, const char **names, size_t max)
{
	size_t n = 0;
	for (const struct kp_argspec *a = m->args; a && a->name && n < max; a++)
		names[n++] = a->name;
	return n;
}

static void unknown_arg_text(const struct kp_module *m, const char *key, struct kp_buf *out)
{
	const char *names[64];
	size_t n = arg_names(m, names, KP_ARRAY_LEN(names));
	const char *sugg = kp_suggest(key, names, n);
	kp_buf_addf(out, "unknown argument '%s' for module '%s'", key, m->name);
	if (sugg)
		kp_buf_addf(out, " (did you mean '%s'?)", sugg);
}

/* The choice a mistyped value most likely meant: a close spelling, or the
 * one choice it abbreviates ('dir' for 'directory'). */
static const char *suggest_choice(const char *got, const char *const *choices)
{
	size_t n = 0, hits = 0, gl = strlen(got);
	const char *prefix = NULL;
	while (choices[n])
		n++;
	const char *s = kp_suggest(got, choices, n);
	if (s || !gl)
		return s;
	for (size_t i = 0; i < n; i++)
		if (!strncasecmp(choices[i], got, gl))
			prefix = choices[i], hits++;
	return hits == 1 ? prefix : NULL;
}

static bool in_choices(const char *s, const char *const *choices)
{
	for (; *choices; choices++)
		if (!strcmp(s, *choices))
			return true;
	return false;
}

static void choice_text(const struct kp_module *m, const struct kp_argspec *a, const char *got,
			struct kp_buf *out)
{
	kp_buf_addf(out, "argument '%s' of module '%s' must be one of: ", a->name, m->name);
	for (const char *const *c = a->choices; *c; c++)
		kp_buf_addf(out, "%s%s", c == a->choices ? "" : ", ", *c);
	kp_buf_addf(out, " (got '%s'", got);
	const char *s = suggest_choice(got, a->choices);
	if (s)
		kp_buf_addf(out, "; did you mean '%s'?", s);
	kp_buf_addch(out, ')');
}

/* Report a message built in `msg` at node n (or without position). */
static kp_rc fail_at(struct kp_buf *err, const struct kp_node *n, struct kp_buf *msg)
{
	kp_rc rc = n ? kp_node_errorf(err, KP_ERR_INVALID, n, "%s", msg->buf)
		     : kp_errorf(err, KP_ERR_INVALID, "%s", msg->buf);
	kp_buf_release(msg);
	return rc;
}

static bool parse_int_text(const char *s, int64_t *out)
{
	char *end;
	if (!*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* ---- load time ---------------------------------------------------------- */

static bool has_template(const struct kp_node *n)
{
	return n->type == KP_N_SCALAR && strstr(n->str, "{{");
}

static kp_rc type_error(const struct kp_module *m, const struct kp_argspec *a,
			const struct kp_node *n, struct kp_buf *err)
{
	return kp_node_errorf(err, KP_ERR_INVALID, n,
			      "argument '%s' of module '%s' must be %s, not %s", a->name, m->name,
			      wanted(a->type), kp_node_describe(n));
}

static kp_rc check_node(const struct kp_module *m, const struct kp_argspec *a,
			const struct kp_node *n, struct kp_buf *err)
{
	int64_t i;
	bool b;

	if (kp_node_is_null(n) || has_template(n))
		return KP_OK;
	switch (a->type) {
	case KP_T_STR:
	case KP_T_PATH:
		if (n->type != KP_N_SCALAR)
			return type_error(m, a, n, err);
		break;
	case KP_T_INT:
		if (n->type != KP_N_SCALAR || !parse_int_text(n->str, &i))
			return type_error(m, a, n, err);
		break;
	case KP_T_BOOL:
		if (!kp_node_get_bool(n, &b))
			return type_error(m, a, n, err);
		break;
	case KP_T_DURATION:
		if (n->type != KP_N_SCALAR)
			return type_error(m, a, n, err);
		if (kp_parse_duration(n->str, &i))
			return kp_node_errorf(err, KP_ERR_INVALID, n,
					      "argument '%s' of module '%s' must be %s (got '%s')",
					      a->name, m->name, wanted(a->type), n->str);
		break;
	case KP_T_LIST:
		if (n->type != KP_N_SEQ)
			return type_error(m, a, n, err);
		break;
	case KP_T_DICT:
		if (n->type != KP_N_MAP)
			return type_error(m, a, n, err);
		break;
	case KP_T_STR_OR_LIST:
		if (n->type == KP_N_MAP)
			return type_error(m, a, n, err);
		if (n->type == KP_N_SEQ)
			for (size_t k = 0; k < n->n; k++)
				if (n->items[k]->type != KP_N_SCALAR)
					return type_error(m, a, n->items[k], err);
		break;
	case KP_T_ANY:
		break;
	}
	if (a->choices && n->type == KP_N_SCALAR && !in_choices(n->str, a->choices)) {
		struct kp_buf msg = KP_BUF_INIT;
		choice_text(m, a, n->str, &msg);
		return fail_at(err, n, &msg);
	}
	return KP_OK;
}

/* The value node of argument `name`, or NULL when absent or null. */
static const struct kp_node *given(const struct kp_node *args, const char *name,
				   const struct kp_node **key)
{
	if (!args || args->type != KP_N_MAP)
		return NULL;
	for (size_t i = 0; i < args->n; i++) {
		const struct kp_node *k = args->items[2 * i];
		if (!strcmp(k->str, name)) {
			if (kp_node_is_null(args->items[2 * i + 1]))
				return NULL;
			if (key)
				*key = k;
			return args->items[2 * i + 1];
		}
	}
	return NULL;
}

static kp_rc check_groups(const struct kp_module *m, const struct kp_node *args,
			  const struct kp_node *where, struct kp_buf *err)
{
	struct group g;
	for (int excl = 0; excl < 2; excl++) {
		const char *const *groups = excl ? m->exclusive : m->one_of;
		for (; groups && *groups; groups++) {
			const struct kp_node *first = NULL, *second = NULL, *key;
			split_group(*groups, &g);
			for (size_t i = 0; i < g.n; i++)
				if (given(args, g.names[i], &key)) {
					if (!first)
						first = key;
					else if (!second)
						second = key;
				}
			struct kp_buf msg = KP_BUF_INIT;
			if (second) {
				if (g.n == 2) {
					kp_buf_addf(&msg, "module '%s' takes ", m->name);
					group_text(&g, &msg);
					kp_buf_addstr(&msg, ", not both");
				} else {
					kp_buf_addf(&msg, "module '%s' takes only one of ",
						    m->name);
					group_text(&g, &msg);
				}
				return fail_at(err, second, &msg);
			}
			if (!first && !excl) {
				kp_buf_addf(&msg, "module '%s' needs one of ", m->name);
				group_text(&g, &msg);
				return fail_at(err, where, &msg);
			}
		}
	}
	return KP_OK;
}

/* Whether an alias of argument NAME is given (file's dest for path). */
static bool alias_given(const struct kp_module *m, const struct kp_node *args, const char *name)
{
	for (const struct kp_argspec *a = m->args; a && a->name; a++)
		if (a->alias_of && !strcmp(a->alias_of, name) && given(args, a->name, NULL))
			return true;
	return false;
}

kp_rc kp_module_check_args(const struct kp_module *m, const struct kp_node *args,
			   const struct kp_node *task, struct kp_buf *err)
{
	const struct kp_node *where = task ? task : args;
	kp_rc rc;

	if (args && kp_node_is_null(args))
		args = NULL;
	if (args && args->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, args,
				      "arguments of module '%s' must be a mapping, not %s", m->name,
				      kp_node_describe(args));
	if (args && !(m->flags & KP_MOD_ANY_ARGS)) {
		for (size_t i = 0; i < args->n; i++) {
			const struct kp_node *k = args->items[2 * i];
			const struct kp_argspec *a = kp_module_arg(m, k->str);
			if (!a) {
				struct kp_buf msg = KP_BUF_INIT;
				unknown_arg_text(m, k->str, &msg);
				return fail_at(err, k, &msg);
			}
			rc = check_node(m, a, args->items[2 * i + 1], err);
			if (rc)
				return rc;
		}
	}
	for (const struct kp_argspec *a = m->args; a && a->name; a++)
		if (a->required && !given(args, a->name, NULL) && !alias_given(m, args, a->name))
			return kp_node_errorf(err, KP_ERR_INVALID, where,
					      "module '%s' requires argument '%s'", m->name,
					      a->name);
	return check_groups(m, args, where, err);
}

/* ---- run time ----------------------------------------------------------- */

static kp_rc vtype_error(const struct kp_module *m, const struct kp_argspec *a,
			 const struct kp_value *v, struct kp_buf *err)
{
	const char *tn = kp_value_typename(v->type);
	return kp_errorf(err, KP_ERR_INVALID, "argument '%s' of module '%s' must be %s, not %s %s",
			 a->name, m->name, wanted(a->type), strchr("aeiou", tn[0]) ? "an" : "a",
			 tn);
}

static bool text_bool(const char *s, bool *out)
{
	static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};
	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(s, t[i]))
			return *out = true, true;
		if (!strcasecmp(s, f[i]))
			return *out = false, true;
	}
	return false;
}

static struct kp_value *scalar_text(const struct kp_value *v)
{
	struct kp_buf b = KP_BUF_INIT;
	size_t len;
	kp_value_to_text(v, false, &b);
	char *s = kp_buf_detach(&b, &len);
	struct kp_value *r = kp_value_str_take(s, len);
	r->secret = v->secret;
	return r;
}

static bool is_scalar(const struct kp_value *v)
{
	return v->type == KP_V_BOOL || v->type == KP_V_INT || v->type == KP_V_FLOAT ||
	       v->type == KP_V_STR;
}

/* Convert a rendered value to what the argument's type wants. */
static kp_rc convert(const struct kp_module *m, const struct kp_argspec *a,
		     const struct kp_value *v, struct kp_value **out, struct kp_buf *err)
{
	int64_t i;
	bool b;

	switch (a->type) {
	case KP_T_STR:
	case KP_T_PATH:
		if (v->type == KP_V_STR)
			break;
		if (!is_scalar(v))
			return vtype_error(m, a, v, err);
		*out = scalar_text(v);
		return KP_OK;
	case KP_T_INT:
		if (v->type == KP_V_INT)
			break;
		if (v->type == KP_V_FLOAT && v->u.f == (double)(int64_t)v->u.f) {
			*out = kp_value_int((int64_t)v->u.f);
			return KP_OK;
		}
		if (v->type == KP_V_STR && parse_int_text(v->u.str.s, &i)) {
			*out = kp_value_int(i);
			return KP_OK;
		}
		return vtype_error(m, a, v, err);
	case KP_T_BOOL:
		if (v->type == KP_V_BOOL)
			break;
		if (v->type == KP_V_STR && text_bool(v->u.str.s, &b)) {
			*out = kp_value_bool(b);
			return KP_OK;
		}
		return vtype_error(m, a, v, err);
	case KP_T_DURATION:
		if (v->type == KP_V_INT && v->u.i >= 0 && v->u.i <= INT64_MAX / 1000) {
			*out = kp_value_int(v->u.i * 1000);
			return KP_OK;
		}
		if (v->type == KP_V_FLOAT && v->u.f >= 0 && v->u.f < 9e15) {
			*out = kp_value_int((int64_t)(v->u.f * 1000 + 0.5));
			return KP_OK;
		}
		if (v->type == KP_V_STR) {
			if (kp_parse_duration(v->u.str.s, &i))
				return kp_errorf(
				    err, KP_ERR_INVALID,
				    "argument '%s' of module '%s' must be %s (got '%s')", a->name,
				    m->name, wanted(a->type), v->u.str.s);
			*out = kp_value_int(i);
			return KP_OK;
		}
		return vtype_error(m, a, v, err);
	case KP_T_LIST:
		if (v->type != KP_V_LIST)
			return vtype_error(m, a, v, err);
		break;
	case KP_T_DICT:
		if (v->type != KP_V_MAP)
			return vtype_error(m, a, v, err);
		break;
	case KP_T_STR_OR_LIST:
		if (v->type == KP_V_LIST) {
			struct kp_value *l = kp_value_list();
			for (size_t k = 0; k < kp_list_len(v); k++) {
				const struct kp_value *it = kp_list_at(v, k);
				if (!is_scalar(it)) {
					kp_value_unref(l);
					return vtype_error(m, a, it, err);
				}
				kp_list_push_take(l, it->type == KP_V_STR ? kp_value_ref(it)
									  : scalar_text(it));
			}
			*out = l;
			return KP_OK;
		}
		if (!is_scalar(v))
			return vtype_error(m, a, v, err);
		*out = v->type == KP_V_STR ? kp_value_ref(v) : scalar_text(v);
		return KP_OK;
	case KP_T_ANY:
		break;
	}
	*out = kp_value_ref(v);
	return KP_OK;
}

/* A default, written in YAML spelling, as a value of the argument's type. */
static kp_rc default_value(const struct kp_module *m, const struct kp_argspec *a,
			   struct kp_value **out, struct kp_buf *err)
{
	struct kp_doc *doc = NULL;
	struct kp_value *raw;
	kp_rc rc;

	switch (a->type) {
	case KP_T_STR:
	case KP_T_PATH:
	case KP_T_STR_OR_LIST:
		*out = kp_value_str(a->def);
		return KP_OK;
	default:
		break;
	}
	rc = kp_yaml_load_string("<default>", a->def, strlen(a->def), &doc, err);
	if (rc)
		return rc;
	rc = kp_node_to_value(doc->root, &raw, err);
	kp_doc_free(doc);
	if (rc)
		return rc;
	rc = convert(m, a, raw, out, err);
	kp_value_unref(raw);
	return rc;
}

static bool vgiven(const struct kp_value *args, const char *name)
{
	const struct kp_value *v = args ? kp_map_get(args, name) : NULL;
	return v && v->type != KP_V_NULL;
}

static kp_rc check_vgroups(const struct kp_module *m, const struct kp_value *args,
			   struct kp_buf *err)
{
	struct group g;
	for (int excl = 0; excl < 2; excl++) {
		const char *const *groups = excl ? m->exclusive : m->one_of;
		for (; groups && *groups; groups++) {
			size_t count = 0;
			split_group(*groups, &g);
			for (size_t i = 0; i < g.n; i++)
				count += vgiven(args, g.names[i]);
			struct kp_buf msg = KP_BUF_INIT;
			if (count > 1) {
				if (g.n == 2) {
					kp_buf_addf(&msg, "module '%s' takes ", m->name);
					group_text(&g, &msg);
					kp_buf_addstr(&msg, ", not both");
				} else {
					kp_buf_addf(&msg, "module '%s' takes only one of ",
						    m->name);
					group_text(&g, &msg);
				}
				return fail_at(err, NULL, &msg);
			}
			if (!count && !excl) {
				kp_buf_addf(&msg, "module '%s' needs one of ", m->name);
				group_text(&g, &msg);
				return fail_at(err, NULL, &msg);
			}
		}
	}
	return KP_OK;
}

/* Whether ARGS holds an alias of argument NAME. */
static bool alias_in(const struct kp_module *m, const struct kp_value *args, const char *name)
{
	for (const struct kp_argspec *a = m->args; a && a->name; a++)
		if (a->alias_of && !strcmp(a->alias_of, name) && kp_map_get(args, a->name))
			return true;
	return false;
}

kp_rc kp_module_finish_args(const struct kp_module *m, const struct kp_value *args,
			    struct kp_value **out, struct kp_buf *err)
{
	struct kp_value *res;
	kp_rc rc;

	if (args && args->type == KP_V_NULL)
		args = NULL;
	if (args && args->type != KP_V_MAP)
		return kp_errorf(err, KP_ERR_INVALID,
				 "arguments of module '%s' must be a mapping, not a %s", m->name,
				 kp_value_typename(args->type));
	if (m->flags & KP_MOD_ANY_ARGS) {
		*out = args ? kp_value_copy(args) : kp_value_map();
		return KP_OK;
	}
	res = kp_value_map();
	for (size_t i = 0; args && i < kp_map_len(args); i++) {
		const char *key = kp_map_key(args, i);
		const struct kp_value *v = kp_map_val(args, i);
		const struct kp_argspec *a = kp_module_arg(m, key);
		struct kp_value *cv;
		if (!a) {
			struct kp_buf msg = KP_BUF_INIT;
			unknown_arg_text(m, key, &msg);
			kp_value_unref(res);
			return fail_at(err, NULL, &msg);
		}
		if (v->type == KP_V_NULL)
			continue;
		if (a->alias_of) {
			/* given both, the alias's value is taken, as in Ansible */
			key = a->alias_of;
			a = kp_module_arg(m, key);
		} else if (alias_in(m, args, key)) {
			continue;
		}
		rc = convert(m, a, v, &cv, err);
		if (!rc && a->choices && cv->type == KP_V_STR &&
		    !in_choices(cv->u.str.s, a->choices)) {
			struct kp_buf msg = KP_BUF_INIT;
			choice_text(m, a, cv->u.str.s, &msg);
			kp_value_unref(cv);
			rc = fail_at(err, NULL, &msg);
		}
		if (rc) {
			kp_value_unref(res);
			return rc;
		}
		kp_map_set_take(res, key, cv);
	}
	rc = check_vgroups(m, res, err);
	for (const struct kp_argspec *a = m->args; !rc && a && a->name; a++) {
		struct kp_value *dv;
		if (kp_map_get(res, a->name))
			continue;
		if (a->required)
			rc = kp_errorf(err, KP_ERR_INVALID, "module '%s' requires argument '%s'",
				       m->name, a->name);
		else if (a->def && !(rc = default_value(m, a, &dv, err)))
			kp_map_set_take(res, a->name, dv);
	}
	if (rc) {
		kp_value_unref(res);
		return rc;
	}
	*out = res;
	return KP_OK;
}
