/*
 * plan_hooks.c - a play's Lua hooks: `hooks:` (a script file or inline
 * Lua per hook point, compiled now so that a syntax error is a load error
 * with its position) and `hook_limits:` (instructions, memory, time).
 */
#include "model/plan_load.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>
#include <lua.h>

/* ---- hooks -------------------------------------------------------------- */

static kp_rc hook_entry(struct kp_loader *ld, struct kp_play *p, int h, const char *dir,
			const struct kp_node *n)
{
	struct kp_hook hk = {.pos = kp_node_pos(n)};
	kp_rc rc;

	if (n->type == KP_N_MAP) {
		const struct kp_node *code = kp_node_map_get(n, "lua");
		for (size_t i = 0; i < n->n; i++)
			if (strcmp(n->items[2 * i]->str, "lua")) {
				static const char *const only[] = {"lua"};
				kp_unknown_key(n->items[2 * i], "hook", only, 1, ld->err);
				return KP_ERR_INVALID;
			}
		if (!code || code->type != KP_N_SCALAR || kp_node_is_null(code))
			return kp_node_errorf(ld->err, KP_ERR_INVALID, code ? code : n,
					      "inline hook 'lua' must be Lua code, not %s",
					      kp_node_describe(code));
		rc = kp_loader_lua_check(ld, code->str, code->len, "=inline Lua", code);
		if (rc)
			return rc;
		hk.code = kp_xstrndup(code->str, code->len);
		hk.pos = kp_node_pos(code);
	} else if (n->type == KP_N_SCALAR && !strcmp(kp_node_describe(n), "a string")) {
		hk.path = kp_path_join(dir, n->str);
		rc = kp_loader_lua_file(ld, hk.path, n->str, n, &hk.code);
		if (rc) {
			free(hk.path);
			return rc;
		}
	} else {
		return kp_node_errorf(
		    ld->err, KP_ERR_INVALID, n,
		    "hook '%s' must be a Lua file, {lua: code} or a list of them, "
		    "not %s",
		    kp_hook_names[h], kp_node_describe(n));
	}
	p->hooks[h] = kp_xrealloc(p->hooks[h], (p->nhooks[h] + 1) * sizeof(*p->hooks[h]));
	p->hooks[h][p->nhooks[h]++] = hk;
	return KP_OK;
}

kp_rc kp_plan_parse_hooks(struct kp_loader *ld, struct kp_play *p, const char *dir,
			  const struct kp_node *n)
{
	kp_rc rc;
	if (kp_node_is_null(n))
		return KP_OK;
	if (n->type != KP_N_MAP)
		return kp_node_errorf(ld->err, KP_ERR_INVALID, n,
				      "'hooks' must be a mapping of hook points to Lua, not %s",
				      kp_node_describe(n));
	for (size_t i = 0; i < n->n; i++) {
		const struct kp_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
		int h;
		for (h = 0; h < KP_HOOK_COUNT; h++)
			if (!strcmp(k->str, kp_hook_names[h]))
				break;
		if (h == KP_HOOK_COUNT) {
			const char *s = kp_suggest(k->str, kp_hook_names, KP_HOOK_COUNT);
			if (s)
				return kp_node_errorf(
				    ld->err, KP_ERR_INVALID, k,
				    "unknown hook point '%s' (did you mean '%s'?)", k->str, s);
			return kp_node_errorf(ld->err, KP_ERR_INVALID, k, "unknown hook point '%s'",
					      k->str);
		}
		if (v->type == KP_N_SEQ) {
			for (size_t j = 0; j < v->n; j++)
				if ((rc = hook_entry(ld, p, h, dir, v->items[j])))
					return rc;
		} else if ((rc = hook_entry(ld, p, h, dir, v))) {
			return rc;
		}
	}
	return KP_OK;
}

/* hook_limits: {instructions: N, memory: 64m} (kplan extension: per call
 * of a hook or `lua` step; see hooks.h for the defaults). */
static kp_rc parse_size(const struct kp_node *n, size_t *out, struct kp_buf *err)
{
	int64_t v;
	if (kp_node_get_int(n, &v)) {
		if (v < 1)
			goto bad;
		*out = (size_t)v;
		return KP_OK;
	}
	if (n->type != KP_N_SCALAR || kp_node_is_null(n))
		goto bad;
	char *end;
	unsigned long long num = strtoull(n->str, &end, 10);
	static const struct {
		const char *suffix;
		int shift;
	} units[] = {{"", 0},	 {"b", 0},    {"k", 10}, {"kb", 10}, {"kib", 10}, {"m", 20},
		     {"mb", 20}, {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}};
	if (end == n->str || num < 1)
		goto bad;
	for (size_t i = 0; i < KP_ARRAY_LEN(units); i++)
		if (!strcasecmp(end, units[i].suffix)) {
			if (num > (SIZE_MAX >> units[i].shift))
				goto bad;
			*out = (size_t)num << units[i].shift;
			return KP_OK;
		}
bad:
	return kp_node_errorf(err, KP_ERR_INVALID, n,
			      "'memory' must be a size in bytes such as 65536, \"512k\", \"64m\" "
			      "or \"1g\" (got %s)",
			      n->type == KP_N_SCALAR ? n->str : kp_node_describe(n));
}

kp_rc kp_plan_parse_hook_limits(struct kp_play *p, const struct kp_node *n, struct kp_buf *err)
{
	static const char *const keys[] = {"instructions", "memory"};
	kp_rc rc;
	if (kp_node_is_null(n))
		return KP_OK;
	if (n->type != KP_N_MAP)
		return kp_node_errorf(err, KP_ERR_INVALID, n,
				      "'hook_limits' must be a mapping with 'instructions' and/or "
				      "'memory', not %s",
				      kp_node_describe(n));
	for (size_t i = 0; i < n->n; i++) {
		const struct kp_node *k = n->items[2 * i], *v = n->items[2 * i + 1];
		if (!strcmp(k->str, "instructions")) {
			int64_t x;
			if ((rc = kp_get_int(v, "instructions", 1, INT64_MAX, &x, err)))
				return rc;
			p->hook_max_instructions = (uint64_t)x;
		} else if (!strcmp(k->str, "memory")) {
			if ((rc = parse_size(v, &p->hook_max_memory, err)))
				return rc;
		} else {
			kp_unknown_key(k, "hook_limits", keys, KP_ARRAY_LEN(keys), err);
			return KP_ERR_INVALID;
		}
	}
	return KP_OK;
}
