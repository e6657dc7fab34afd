/*
 * luahelp.c - the helper functions expressions can call: default, defined,
 * version_compare, in_group, contains, join, basename, dirname,
 * regex_search, to_json, from_json, lookup_file, lookup_env.
 *
 * They run inside an evaluation (kp_lua_of(L)->scope is set). Anything they
 * allocate in C lives in the kp_lua (scratch buffers, held values), because
 * a Lua error longjmps past any local cleanup.
 */
#include "expr/luaint.h"

#include <lauxlib.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#define LOOKUP_FILE_MAX ((size_t)1 << 20)

/* default(v, d): d when v is nil or undefined. A value known only after
 * probe stays unknown: defaulting it would plan with a made-up value. */
static int h_default(lua_State *L)
{
	lua_settop(L, 2);
	struct kp_undef *u = kp_lua_test_undef(L, 1);
	if (u && u->unknown) {
		lua_pushvalue(L, 1);
		return 1;
	}
	if (u || lua_isnil(L, 1)) {
		if (u)
			u->consumed = true;
		lua_pushvalue(L, 2);
		return 1;
	}
	/* Like Jinja, an undefined default that is not used is no error. */
	struct kp_undef *d = kp_lua_test_undef(L, 2);
	if (d && !d->unknown)
		d->consumed = true;
	lua_pushvalue(L, 1);
	return 1;
}

static int h_defined(lua_State *L)
{
	lua_settop(L, 1);
	struct kp_undef *u = kp_lua_test_undef(L, 1);
	if (u && u->unknown)
		return lua_error(L); /* raises the sentinel: unknown */
	if (u)
		u->consumed = true;
	lua_pushboolean(L, !u && !lua_isnil(L, 1));
	return 1;
}

static const char *check_str(lua_State *L, int idx, size_t *len)
{
	kp_lua_check_defined(L, idx);
	return luaL_checklstring(L, idx, len);
}

static int h_version_compare(lua_State *L)
{
	const char *a = check_str(L, 1, NULL);
	const char *op = check_str(L, 2, NULL);
	const char *b = check_str(L, 3, NULL);
	int c;
	bool res;
	if (!kp_version_op_ok(op))
		return luaL_error(
		    L,
		    "version_compare: invalid operator '%s' (use <, <=, >, >=, ==, != "
		    "or lt, le, gt, ge, eq, ne)",
		    op);
	if (kp_version_cmp(a, a, &c))
		return luaL_error(L, "version_compare: invalid version '%s'", a);
	if (kp_version_cmp(b, b, &c))
		return luaL_error(L, "version_compare: invalid version '%s'", b);
	kp_version_compare(a, op, b, &res);
	lua_pushboolean(L, res);
	return 1;
}

static int h_in_group(lua_State *L)
{
	struct kp_lua *kl = kp_lua_of(L);
	const char *name = check_str(L, 1, NULL);
	const struct kp_scope *s = kl->scope;
	const struct kp_value *g = kp_scope_get(s, "group_names");
	bool in = false;
	if (g && g->type == KP_V_LIST)
		for (size_t i = 0; i < kp_list_len(g) && !in; i++) {
			const struct kp_value *it = kp_list_at(g, i);
			in = it->type == KP_V_STR && !strcmp(it->u.str.s, name);
		}
	lua_pushboolean(L, in);
	return 1;
}

/* contains(t, x): x is an item (or a key) of table t, or a substring of
 * string t; the Lua spelling of Jinja's `x in t`. */
static int h_contains(lua_State *L)
{
	lua_settop(L, 2);
	kp_lua_check_defined(L, 1);
	kp_lua_check_defined(L, 2);
	if (lua_type(L, 1) == LUA_TSTRING) {
		size_t hl, nl;
		const char *h = lua_tolstring(L, 1, &hl);
		const char *n = luaL_checklstring(L, 2, &nl);
		lua_pushboolean(L, memmem(h, hl, n, nl) != NULL);
		return 1;
	}
	luaL_checktype(L, 1, LUA_TTABLE);
	if (!lua_isnil(L, 2)) {
		lua_pushvalue(L, 2);
		if (lua_rawget(L, 1) != LUA_TNIL) {
			lua_pushboolean(L, 1);
			return 1;
		}
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	while (lua_next(L, 1)) {
		if (lua_rawequal(L, -1, 2)) {
			lua_pushboolean(L, 1);
			return 1;
		}
		lua_pop(L, 1);
	}
	lua_pushboolean(L, 0);
	return 1;
}

static int h_join(lua_State *L)
{
	luaL_Buffer b;
	size_t seplen = 0;
	kp_lua_check_defined(L, 1);
	luaL_checktype(L, 1, LUA_TTABLE);
	const char *sep = lua_isnoneornil(L, 2) ? "" : check_str(L, 2, &seplen);
	lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
	luaL_buffinit(L, &b);
	for (lua_Integer i = 1; i <= n; i++) {
		if (i > 1)
			luaL_addlstring(&b, sep, seplen);
		switch (lua_rawgeti(L, 1, i)) {
		case LUA_TSTRING:
		case LUA_TNUMBER:
			luaL_addvalue(&b);
			break;
		case LUA_TBOOLEAN:
			luaL_addstring(&b, lua_toboolean(L, -1) ? "true" : "false");
			lua_pop(L, 1);
			break;
		default:
			kp_lua_check_defined(L, -1);
			return luaL_error(L, "join: item %d is a %s", (int)i, luaL_typename(L, -1));
		}
	}
	luaL_pushresult(&b);
	return 1;
}

/* Python's os.path.basename/dirname, which Ansible's filters are. */
static int h_basename(lua_State *L)
{
	size_t len;
	const char *p = check_str(L, 1, &len);
	const char *slash = NULL;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '/')
			slash = p + i;
	if (!slash)
		lua_pushlstring(L, p, len);
	else
		lua_pushlstring(L, slash + 1, len - (size_t)(slash + 1 - p));
	return 1;
}

static int h_dirname(lua_State *L)
{
	size_t len;
	const char *p = check_str(L, 1, &len);
	size_t head = 0;
	for (size_t i = 0; i < len; i++)
		if (p[i] == '/')
			head = i + 1;
	size_t end = head;
	while (end > 0 && p[end - 1] == '/')
		end--;
	if (end == 0)
		end = head; /* all slashes: keep them */
	lua_pushlstring(L, p, end);
	return 1;
}

static int h_regex_search(lua_State *L)
{
	const char *s = check_str(L, 1, NULL);
	const char *pat = check_str(L, 2, NULL);
	regex_t re;
	regmatch_t m;
	/* a C call the instruction limit cannot stop: refuse what could run
	 * for hours, as host patterns do */
	if (kp_regex_too_repetitive(pat))
		return luaL_error(L,
				  "regex_search: invalid pattern '%s': too many or too large "
				  "repetitions ('*', '+', '?', '{}')",
				  pat);
	int e = regcomp(&re, pat, REG_EXTENDED);
	if (e) {
		char msg[256];
		regerror(e, &re, msg, sizeof(msg));
		regfree(&re);
		return luaL_error(L, "regex_search: invalid pattern '%s': %s", pat, msg);
	}
	e = regexec(&re, s, 1, &m, 0);
	regfree(&re);
	if (e || m.rm_so < 0)
		lua_pushnil(L);
	else
		lua_pushlstring(L, s + m.rm_so, (size_t)(m.rm_eo - m.rm_so));
	return 1;
}

static int h_to_json(lua_State *L)
{
	struct kp_lua *kl = kp_lua_of(L);
	struct kp_value *v;
	lua_settop(L, 1);
	kp_lua_check_defined(L, 1);
	if (kp_lua_to_value(L, 1, &v, &kl->scratch))
		return luaL_error(L, "to_json: %s", kl->scratch.buf);
	kp_buf_reset(&kl->scratch);
	kp_value_to_json(v, false, false, &kl->scratch);
	kp_value_unref(v);
	lua_pushlstring(L, kl->scratch.buf, kl->scratch.len);
	return 1;
}

static int h_from_json(lua_State *L)
{
	struct kp_lua *kl = kp_lua_of(L);
	struct kp_value *v;
	size_t len;
	const char *s = check_str(L, 1, &len);
	if (kp_value_from_json(s, len, &v, &kl->scratch))
		return luaL_error(L, "from_json: %s", kl->scratch.buf);
	kp_lua_hold(kl, v);
	kp_lua_push_named(L, v, NULL);
	return 1;
}

static int h_lookup_file(lua_State *L)
{
	struct kp_lua *kl = kp_lua_of(L);
	const char *path = check_str(L, 1, NULL);
	const char *base = kl->scope ? kl->scope->base_dir : NULL;
	kp_buf_reset(&kl->scratch2);
	if (path[0] != '/' && base && *base)
		kp_buf_addf(&kl->scratch2, "%s/", base);
	kp_buf_addstr(&kl->scratch2, path);
	path = lua_pushlstring(L, kl->scratch2.buf, kl->scratch2.len); /* scratch2 gets the error */
	if (kp_read_file(path, LOOKUP_FILE_MAX, &kl->scratch, &kl->scratch2))
		return luaL_error(L, "lookup_file: %s", kl->scratch2.buf);
	lua_pushlstring(L, kl->scratch.buf, kl->scratch.len);
	return 1;
}

static int h_lookup_env(lua_State *L)
{
	const char *v = getenv(check_str(L, 1, NULL));
	if (v)
		lua_pushstring(L, v);
	else
		lua_pushnil(L);
	return 1;
}

static const luaL_Reg helpers[] = {
    {"default", h_default},
    {"defined", h_defined},
    {"version_compare", h_version_compare},
    {"in_group", h_in_group},
    {"contains", h_contains},
    {"join", h_join},
    {"basename", h_basename},
    {"dirname", h_dirname},
    {"regex_search", h_regex_search},
    {"to_json", h_to_json},
    {"from_json", h_from_json},
    {"lookup_file", h_lookup_file},
    {"lookup_env", h_lookup_env},
    {NULL, NULL},
};

void kp_lua_open_helpers(lua_State *L, int idx)
{
	idx = lua_absindex(L, idx);
	for (const luaL_Reg *r = helpers; r->name; r++) {
		lua_pushcfunction(L, r->func);
		lua_setfield(L, idx, r->name);
	}
}
