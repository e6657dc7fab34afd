/*
 * plan_module.c - a task's module and its arguments: the module name as
 * the play's `collections:` resolve it, `module_defaults` (checked at load,
 * applied to the task's module), Ansible's one-line `key=value` form, and
 * the argument spec's checks, so that a wrong argument is a load error
 * with its YAML position.
 */
#include "model/plan_load.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* ---- module_defaults and collections ------------------------------------ */

/* Ansible's action groups (`group/NAME` in module_defaults): ansible-core's
 * own (its ansible_builtin_runtime.yml) and, by their collection's name,
 * those kplan provides a module of. kplan's members: the modules that
 * answer to these names. */
static const struct {
	const char *name, *fqcn;
	const char *members[2];
} action_groups[] = {
    {"k8s", "kubernetes.core.k8s", {"kubernetes.core.k8s_drain", NULL}},
    {"aws", NULL, {NULL}},
    {"acme", NULL, {NULL}},
    {"azure", NULL, {NULL}},
    {"cpm", NULL, {NULL}},
    {"docker", NULL, {NULL}},
    {"gcp", NULL, {NULL}},
    {"os", NULL, {NULL}},
    {"ovirt", NULL, {NULL}},
    {"vmware", NULL, {NULL}},
    {"testgroup", NULL, {NULL}},
    {"testlegacy", NULL, {NULL}},
};

/* The group `group/NAME` names (its index), or -1: a short name is
 * ansible.builtin's (ansible.builtin.NAME, ansible.legacy.NAME too). */
static int action_group(const char *name)
{
	if (!strncmp(name, "ansible.builtin.", 16))
		name += 16;
	else if (!strncmp(name, "ansible.legacy.", 15))
		name += 15;
	for (size_t i = 0; i < KP_ARRAY_LEN(action_groups); i++)
		if (!strcmp(name, action_groups[i].name) ||
		    (action_groups[i].fqcn && !strcmp(name, action_groups[i].fqcn)))
			return (int)i;
	return -1;
}

/* Does the module_defaults key `key` apply to module m? */
static bool mdefs_key_is(const char *key, const struct kp_module *m)
{
	if (strncmp(key, "group/", 6))
		return kp_module_find(key) == m;
	int g = action_group(key + 6);
	for (size_t i = 0; g >= 0 && i < KP_ARRAY_LEN(action_groups[g].members); i++)
		if (action_groups[g].members[i] && kp_module_find(action_groups[g].members[i]) == m)
			return true;
	return false;
}

static kp_rc check_mdefs_map(struct kp_loader *ld, const struct kp_node *m, struct kp_buf *err)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct kp_node *k = m->items[2 * i], *v = m->items[2 * i + 1];
		if (!strncmp(k->str, "group/", 6)) {
			const char *g = k->str + 6;
			bool short_name = !strchr(g, '.') || !strncmp(g, "ansible.builtin.", 16) ||
					  !strncmp(g, "ansible.legacy.", 15);
			int gi = action_group(g);
			if (gi < 0 && short_name)
				return kp_node_errorf(err, KP_ERR_INVALID, k,
						      "Error loading module_defaults: could not "
						      "resolve the module_defaults group "
						      "ansible.builtin.%s",
						      strchr(g, '.') ? strrchr(g, '.') + 1 : g);
			if (gi < 0 || !action_groups[gi].members[0]) {
				/* a collection's group: kplan provides none of its
				 * modules (Ansible applies the defaults to them) */
				struct kp_buf w = KP_BUF_INIT;
				kp_buf_addf(
				    &w,
				    "%s:%d:%d: module_defaults: kplan provides no module of "
				    "action group '%s': its defaults apply to no task",
				    k->file, k->line, k->col, g);
				kp_strlist_push(&ld->plan->warnings, w.buf);
				kp_buf_release(&w);
			}
		} else if (!kp_module_find(k->str) && kp_module_absent(k->str)) {
			/* ansible-core's (dnf), or a collection's: Ansible applies
			 * the defaults; no task kplan runs uses that module */
			struct kp_buf w = KP_BUF_INIT;
			kp_buf_addf(
			    &w,
			    "%s:%d:%d: module_defaults: kplan does not provide module '%s': "
			    "its defaults apply to no task",
			    k->file, k->line, k->col, k->str);
			kp_strlist_push(&ld->plan->warnings, w.buf);
			kp_buf_release(&w);
		} else if (!kp_module_find(k->str))
			return kp_node_errorf(err, KP_ERR_INVALID, k,
					      "Could not resolve action %s in module_defaults",
					      k->str);
		if (v->type != KP_N_MAP && !kp_node_is_null(v))
			return kp_node_errorf(err, KP_ERR_INVALID, v,
					      "module_defaults for '%s' must be a mapping of its "
					      "arguments, not %s",
					      k->str, kp_node_describe(v));
	}
	return KP_OK;
}

kp_rc kp_check_module_defaults(struct kp_loader *ld, const struct kp_node *v, struct kp_buf *err)
{
	kp_rc rc = KP_OK;
	if (v->type == KP_N_MAP)
		return check_mdefs_map(ld, v, err);
	if (v->type == KP_N_SEQ) {
		for (size_t i = 0; i < v->n && !rc; i++)
			rc = v->items[i]->type == KP_N_MAP ? check_mdefs_map(ld, v->items[i], err)
							   : KP_ERR_INVALID;
		if (!rc)
			return KP_OK;
		if (rc != KP_ERR_INVALID || err->len)
			return rc;
	}
	if (kp_node_is_null(v))
		return KP_OK;
	return kp_node_errorf(
	    err, KP_ERR_INVALID, v,
	    "The field 'module_defaults' is supposed to be a dictionary or list "
	    "of dictionaries, the keys of which must be static action, module, or "
	    "group names. Only the values may contain templates. For example: "
	    "{'ping': \"{{ ping_defaults }}\"}");
}

kp_rc kp_check_collections(const struct kp_node *v, struct kp_buf *err)
{
	if (kp_node_is_null(v))
		return KP_OK;
	if (v->type == KP_N_SCALAR && !kp_node_has_template(v))
		return KP_OK;
	if (v->type != KP_N_SEQ)
		return kp_node_errorf(err, KP_ERR_INVALID, v,
				      "'collections' must be a list of collection names, not %s",
				      kp_node_describe(v));
	for (size_t i = 0; i < v->n; i++) {
		const struct kp_node *c = v->items[i];
		if (c->type != KP_N_SCALAR || kp_node_is_null(c) || kp_node_has_template(c))
			return kp_node_errorf(err, KP_ERR_INVALID, c,
					      "'collections' entries must be collection names "
					      "like community.general, not %s",
					      kp_node_describe(c));
	}
	return KP_OK;
}

/* A module name as the listed collections resolve it: the name itself,
 * else <collection>.<name> for each collection, innermost first. */
const struct kp_module *kp_plan_find_module(const struct kp_task_ctx *ctx,
					    const struct kp_node *own_colls, const char *name)
{
	const struct kp_module *m = kp_module_find(name);
	char buf[256];
	for (size_t j = 0; !m && j <= ctx->ncolls; j++) {
		const struct kp_node *c = j == 0 ? own_colls : ctx->colls[ctx->ncolls - j];
		size_t n = c ? (c->type == KP_N_SEQ ? c->n : 1) : 0;
		for (size_t i = 0; i < n && !m; i++) {
			const struct kp_node *e = c->type == KP_N_SEQ ? c->items[i] : c;
			if (e->type == KP_N_SCALAR &&
			    snprintf(buf, sizeof(buf), "%s.%s", e->str, name) < (int)sizeof(buf))
				m = kp_module_find(buf);
		}
	}
	return m;
}

/* The entries of one module_defaults value that apply to module m, added
 * to map (a later entry replaces an earlier one). */
static void mdefs_add(struct kp_loader *ld, const struct kp_node *v, const struct kp_module *m,
		      struct kp_node **map, const struct kp_node *at)
{
	size_t n = v->type == KP_N_SEQ ? v->n : 1;
	for (size_t i = 0; i < n; i++) {
		const struct kp_node *d = v->type == KP_N_SEQ ? v->items[i] : v;
		for (size_t j = 0; d->type == KP_N_MAP && j < d->n; j++) {
			const struct kp_node *a = d->items[2 * j + 1];
			if (!mdefs_key_is(d->items[2 * j]->str, m) || a->type != KP_N_MAP)
				continue;
			if (!*map)
				*map = kp_synth_map(ld, at);
			for (size_t k = 0; k < a->n; k++)
				kp_synth_map_add(*map, a->items[2 * k], a->items[2 * k + 1]);
		}
	}
}

/* A mapping with later keys replacing earlier ones of the same name. */
static struct kp_node *dedup_map(struct kp_loader *ld, const struct kp_node *m)
{
	struct kp_node *out = kp_synth_map(ld, m);
	for (size_t i = 0; i < m->n; i++) {
		bool later = false;
		for (size_t j = i + 1; j < m->n && !later; j++)
			later = !strcmp(m->items[2 * i]->str, m->items[2 * j]->str);
		if (!later)
			kp_synth_map_add(out, m->items[2 * i], m->items[2 * i + 1]);
	}
	return out;
}

/* ---- module arguments ----------------------------------------------------- */

/* Ansible's one-line form: `path=/etc/x state=directory msg="a b"`. */
static kp_rc parse_kv(struct kp_loader *ld, const struct kp_module *m, const struct kp_node *v,
		      struct kp_node **out)
{
	struct kp_node *map = kp_synth_map(ld, v);
	const char *p = v->str;

	for (;;) {
		const char *ks, *vs;
		size_t kl, vl;
		bool quoted = false;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		ks = p;
		if (isalpha((unsigned char)*p) || *p == '_')
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
		kl = (size_t)(p - ks);
		if (!kl || *p != '=') {
			const char *e = ks;
			while (*e && !isspace((unsigned char)*e))
				e++;
			return kp_node_errorf(ld->err, KP_ERR_INVALID, v,
					      "arguments of module '%s' must be a mapping or "
					      "key=value pairs (cannot read '%.*s')",
					      m->name, (int)(e - ks), ks);
		}
		p++;
		if (*p == '"' || *p == '\'') {
			char q = *p++;
			vs = p;
			while (*p && *p != q)
				p++;
			if (!*p)
				return kp_node_errorf(ld->err, KP_ERR_INVALID, v,
						      "unterminated quote in the value of '%.*s'",
						      (int)kl, ks);
			vl = (size_t)(p - vs);
			p++;
			quoted = true;
		} else {
			/* up to a space outside {{ }}, {% %}, {# #} and quotes, as
			 * Ansible splits: dest={{ dir }}/a.conf mode="0644 " */
			int depth = 0;
			vs = p;
			while (*p && (depth || !isspace((unsigned char)*p))) {
				if (*p == '{' && (p[1] == '{' || p[1] == '%' || p[1] == '#')) {
					depth++;
					p += 2;
				} else if (depth && (*p == '}' || *p == '%' || *p == '#') &&
					   p[1] == '}') {
					depth--;
					p += 2;
				} else if (!depth && (*p == '"' || *p == '\'') &&
					   strchr(p + 1, *p)) {
					p = strchr(p + 1, *p) + 1;
				} else {
					p++;
				}
			}
			vl = (size_t)(p - vs);
		}
		kp_synth_map_add(map, kp_synth_scalar(ld, v, ks, kl, false),
				 kp_synth_scalar(ld, v, vs, vl, quoted));
	}
	*out = map;
	return KP_OK;
}

/* The checks a module's argument spec asks for beyond types (Lua syntax,
 * Lua files), on the arguments that hold no template. */
static kp_rc spec_checks(struct kp_task_ctx *ctx, const struct kp_module *m,
			 const struct kp_node *args)
{
	kp_rc rc = KP_OK;
	for (const struct kp_argspec *a = m->args; a && a->name && !rc; a++) {
		const struct kp_node *v = a->check ? kp_node_map_get(args, a->name) : NULL;
		if (!v || v->type != KP_N_SCALAR || kp_node_is_null(v) || kp_node_has_template(v))
			continue;
		if (a->check == KP_CHECK_LUA_FILE) {
			char *path = kp_path_join(ctx->play_dir, v->str), *text = NULL;
			rc = kp_loader_lua_file(ctx->ld, path, v->str, v, &text);
			free(text);
			free(path);
		} else if (a->check == KP_CHECK_LUA_CODE) {
			rc = kp_loader_lua_check(ctx->ld, v->str, v->len, "=inline Lua", v);
		}
	}
	return rc;
}

kp_rc kp_plan_parse_module(struct kp_task_ctx *ctx, struct kp_task *t, const struct kp_node *task,
			   const struct kp_node *key, const struct kp_node *val)
{
	struct kp_loader *ld = ctx->ld;
	const struct kp_module *m = t->module;
	const struct kp_node *extra = kp_node_map_get(task, "args");
	struct kp_node *args = NULL;
	kp_rc rc;

	t->module_pos = kp_node_pos(key);
	if (m->flags & KP_MOD_ABSENT) {
		struct kp_buf w = KP_BUF_INIT;
		kp_buf_addf(&w, "%s:%d:%d: ", key->file, key->line, key->col);
		if (strcmp(key->str, m->name) && strchr(m->name, '.'))
			/* a short name ansible-core routes to a collection */
			kp_buf_addf(&w, "'%s' stands for '%s': ", key->str, m->name);
		if (kp_module_foreign(m->name))
			kp_module_unknown_text(m->name, &w);
		else
			kp_buf_addf(&w, "kplan does not provide the module '%s'", m->name);
		kp_buf_addstr(&w, ": a host that reaches this task fails");
		kp_strlist_push(&ld->plan->warnings, w.buf);
		kp_buf_release(&w);
		struct kp_value *empty = kp_value_map();
		t->args = kp_tvalue_from_value(empty);
		kp_value_unref(empty);
		return KP_OK;
	}
	if (val && val->type == KP_N_SCALAR && !kp_node_is_null(val)) {
		if (m->free_form) {
			args = kp_synth_map(ld, val);
			kp_synth_map_add(
			    args,
			    kp_synth_scalar(ld, val, m->free_form, strlen(m->free_form), false),
			    (struct kp_node *)val);
		} else if ((rc = parse_kv(ld, m, val, &args))) {
			return rc;
		}
	} else if (val && !kp_node_is_null(val)) {
		args = (struct kp_node *)val;
	}
	if (extra && !kp_node_is_null(extra)) {
		struct kp_node *merged;
		if (extra->type != KP_N_MAP)
			return kp_node_errorf(ld->err, KP_ERR_INVALID, extra,
					      "'args' must be a mapping, not %s",
					      kp_node_describe(extra));
		if (args && args->type != KP_N_MAP)
			return kp_module_check_args(m, args, key, ld->err);
		/* Ansible: arguments written under the module win over `args` */
		merged = kp_synth_map(ld, extra);
		for (size_t i = 0; i < extra->n; i++)
			kp_synth_map_add(merged, extra->items[2 * i], extra->items[2 * i + 1]);
		for (size_t i = 0; args && i < args->n; i++)
			kp_synth_map_add(merged, args->items[2 * i], args->items[2 * i + 1]);
		args = merged;
	}
	/* module_defaults of the play, the blocks and the task: under what
	 * the task writes */
	struct kp_node *defs = NULL;
	const struct kp_node *own = kp_node_map_get(task, "module_defaults");
	for (size_t i = 0; i < ctx->nmdefs; i++)
		mdefs_add(ld, ctx->mdefs[i], m, &defs, key);
	if (own)
		mdefs_add(ld, own, m, &defs, key);
	if (defs && (!args || args->type == KP_N_MAP)) {
		for (size_t i = 0; args && i < args->n; i++)
			kp_synth_map_add(defs, args->items[2 * i], args->items[2 * i + 1]);
		args = dedup_map(ld, defs);
	}
	if ((rc = kp_module_check_args(m, args, key, ld->err)))
		return rc;
	if (args && (m->flags & KP_MOD_ANY_ARGS))
		for (size_t i = 0; i < args->n; i++)
			if ((rc = kp_check_var_name(args->items[2 * i], args->items[2 * i]->str,
						    ld->err)))
				return rc;
	if (args && (rc = spec_checks(ctx, m, args)))
		return rc;
	const struct kp_node *src =
	    args && args->type == KP_N_MAP ? kp_node_map_get(args, "src") : NULL;
	char *found =
	    src && src->type == KP_N_SCALAR ? kp_role_src(ctx->role, m->name, src->str) : NULL;
	if (found) {
		/* a role's own templates/ and files/ come first */
		struct kp_node *copy = kp_synth_map(ld, args);
		for (size_t i = 0; i < args->n; i++)
			kp_synth_map_add(copy, args->items[2 * i],
					 args->items[2 * i + 1] == src
					     ? kp_synth_scalar(ld, src, found, strlen(found), true)
					     : args->items[2 * i + 1]);
		args = copy;
		free(found);
	}
	if (!args) {
		struct kp_value *empty = kp_value_map();
		t->args = kp_tvalue_from_value(empty);
		kp_value_unref(empty);
		return KP_OK;
	}
	return kp_tvalue_from_node(args, &t->args, ld->err);
}
