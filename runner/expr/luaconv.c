/*
 * luaconv.c - kp_value to Lua and back.
 *
 * Lists become sequences 1..n and maps tables. Lua cannot tell an empty
 * list from an empty map, so converted tables carry a metatable saying which
 * they were; a map's metatable also remembers the kp_value it came from, so
 * an unchanged map keeps its key order on the way back, and (during an
 * evaluation) turns a missing key into an undefined sentinel named after the
 * path, e.g. `x.key`, so that `x.key + 1` names what is missing.
 *
 * Lua to kp_value runs outside protected mode, so it must not allocate Lua
 * memory: it walks tables with lua_next and formats number keys in C.
 */
#include "expr/luaint.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Registry keys (their addresses only). */
static const char list_mt_key;
static const char origin_key; /* in a map's metatable: lightuserdata origin, or false */

static bool is_ident(const char *s, size_t len)
{
	if (!len || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < len; i++) {
		char c = s[i];
		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

/* __index of a map converted during an evaluation: upvalue 1 is the map's
 * name. A missing key is an undefined sentinel ("name.key"). */
static int map_index(lua_State *L)
{
	struct kp_lua *kl = kp_lua_of(L);
	const char *name = lua_tostring(L, lua_upvalueindex(1));
	if (!kl || !kl->scope) {
		lua_pushnil(L);
		return 1;
	}
	if (lua_type(L, 2) == LUA_TSTRING) {
		size_t len;
		const char *k = lua_tolstring(L, 2, &len);
		if (is_ident(k, len))
			lua_pushfstring(L, "%s.%s", name, k);
		else
			lua_pushfstring(L, "%s['%s']", name, k);
	} else if (lua_type(L, 2) == LUA_TNUMBER) {
		lua_pushfstring(L, "%s[%s]", name, luaL_tolstring(L, 2, NULL));
	} else {
		lua_pushfstring(L, "%s[%s]", name, luaL_typename(L, 2));
	}
	/* stack: t k ... fullname */
	size_t len;
	const char *full = lua_tolstring(L, -1, &len);
	kp_lua_push_undef(L, full, len, false);
	return 1;
}

void kp_lua_conv_init(lua_State *L)
{
	lua_createtable(L, 0, 1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &list_mt_key);
}

/* Push v; name_idx is the stack index of its name (0: unnamed, then maps
 * give nil for missing keys); origin: remember v in map metatables (only
 * while the value is sure to outlive the table: during an evaluation). */
static void push_rec(lua_State *L, const struct kp_value *v, int name_idx, bool origin)
{
	luaL_checkstack(L, 6, "value nested too deeply");
	switch (v->type) {
	case KP_V_NULL:
		lua_pushnil(L);
		return;
	case KP_V_BOOL:
		lua_pushboolean(L, v->u.b);
		return;
	case KP_V_INT:
		lua_pushinteger(L, (lua_Integer)v->u.i);
		return;
	case KP_V_FLOAT:
		lua_pushnumber(L, v->u.f);
		return;
	case KP_V_STR:
		lua_pushlstring(L, v->u.str.s, v->u.str.len);
		return;
	case KP_V_LIST:
		lua_createtable(L, (int)kp_list_len(v), 0);
		for (size_t i = 0; i < kp_list_len(v); i++) {
			const struct kp_value *it = kp_list_at(v, i);
			int child = 0;
			if (name_idx && (it->type == KP_V_LIST || it->type == KP_V_MAP)) {
				lua_pushfstring(L, "%s[%d]", lua_tostring(L, name_idx), (int)i + 1);
				child = lua_gettop(L);
			}
			push_rec(L, it, child, origin);
			/* stack: list [childname] item */
			lua_rawseti(L, child ? -3 : -2, (lua_Integer)i + 1);
			if (child)
				lua_pop(L, 1);
		}
		lua_rawgetp(L, LUA_REGISTRYINDEX, &list_mt_key);
		lua_setmetatable(L, -2);
		return;
	case KP_V_MAP:
		lua_createtable(L, 0, (int)kp_map_len(v));
		for (size_t i = 0; i < kp_map_len(v); i++) {
			const struct kp_value *it = kp_map_val(v, i);
			const char *k = kp_map_key(v, i);
			int child = 0;
			if (name_idx && (it->type == KP_V_LIST || it->type == KP_V_MAP)) {
				if (is_ident(k, strlen(k)))
					lua_pushfstring(L, "%s.%s", lua_tostring(L, name_idx), k);
				else
					lua_pushfstring(L, "%s['%s']", lua_tostring(L, name_idx),
							k);
				child = lua_gettop(L);
			}
			lua_pushstring(L, k);
			push_rec(L, it, child, origin);
			/* stack: map [childname] key item */
			lua_rawset(L, child ? -4 : -3);
			if (child)
				lua_pop(L, 1);
		}
		lua_createtable(L, 0, 3); /* the map's own metatable */
		lua_pushboolean(L, 0);
		lua_setfield(L, -2, "__metatable");
		if (origin)
			lua_pushlightuserdata(L, (void *)v);
		else
			lua_pushboolean(L, 0);
		lua_rawsetp(L, -2, &origin_key);
		if (name_idx) {
			lua_pushvalue(L, name_idx);
			lua_pushcclosure(L, map_index, 1);
			lua_setfield(L, -2, "__index");
		}
		/* stack: map mt */
		lua_setmetatable(L, -2);
		return;
	}
}

void kp_lua_push_named(lua_State *L, const struct kp_value *v, const char *name)
{
	if (!name || (v->type != KP_V_LIST && v->type != KP_V_MAP)) {
		push_rec(L, v, 0, true);
		return;
	}
	lua_pushstring(L, name);
	push_rec(L, v, lua_gettop(L), true);
	lua_remove(L, -2); /* the name */
}

void kp_lua_push_value(lua_State *L, const struct kp_value *v)
{
	push_rec(L, v, 0, false);
}

/* Lua to kp_value */

struct conv {
	struct kp_buf *err;
	size_t items;
};

struct entry {
	char *key;
	struct kp_value *val;
	size_t pos; /* in the origin map, or SIZE_MAX */
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return strcmp(x->key, y->key);
}

struct okey {
	const char *key;
	size_t pos;
};

static int cmp_okey(const void *a, const void *b)
{
	return strcmp(((const struct okey *)a)->key, ((const struct okey *)b)->key);
}

static kp_rc to_rec(lua_State *L, int idx, int depth, struct conv *c, struct kp_value **out);

static kp_rc key_text(lua_State *L, int idx, struct conv *c, char **out)
{
	char tmp[64];
	switch (lua_type(L, idx)) {
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		*out = kp_xstrndup(s, len);
		return KP_OK;
	}
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			snprintf(tmp, sizeof(tmp), "%lld", (long long)lua_tointeger(L, idx));
		else
			snprintf(tmp, sizeof(tmp), "%.14g", (double)lua_tonumber(L, idx));
		*out = kp_xstrdup(tmp);
		return KP_OK;
	case LUA_TBOOLEAN:
		*out = kp_xstrdup(lua_toboolean(L, idx) ? "true" : "false");
		return KP_OK;
	default:
		return kp_errorf(c->err, KP_ERR_RUNTIME, "cannot use a %s as a map key",
				 lua_typename(L, lua_type(L, idx)));
	}
}

static kp_rc table_to_value(lua_State *L, int idx, int depth, struct conv *c, struct kp_value **out)
{
	const struct kp_value *origin = NULL;
	bool is_map = false;
	kp_rc rc = KP_OK;

	if (depth > KP_LUA_MAX_DEPTH)
		return kp_errorf(
		    c->err, KP_ERR_LIMIT,
		    "value nested more than %d levels deep (a table containing itself?)",
		    KP_LUA_MAX_DEPTH);
	if (!lua_checkstack(L, 4))
		return kp_errorf(c->err, KP_ERR_LIMIT, "value nested too deeply");
	/* An empty table is a list unless it was converted from a map. */
	if (lua_getmetatable(L, idx)) {
		if (lua_rawgetp(L, -1, &origin_key) != LUA_TNIL) {
			is_map = true;
			origin = lua_touserdata(L, -1); /* NULL when false */
		}
		lua_pop(L, 2);
	}

	/* A proper sequence 1..n (and not marked a map) is a list. */
	lua_Integer n = 0, maxk = 0;
	bool seq = !is_map;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n++;
		if (seq) {
			if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2) &&
			    lua_tointeger(L, -2) >= 1) {
				if (lua_tointeger(L, -2) > maxk)
					maxk = lua_tointeger(L, -2);
			} else {
				seq = false;
			}
		}
		lua_pop(L, 1);
	}
	/* Holes (a null item, `{1, nil, 3}`) are null items, within reason:
	 * {[1000000] = 1} is a map, not a million nulls. */
	if (seq && maxk != n && maxk > 2 * n)
		seq = false;
	if ((c->items += (size_t)(seq ? maxk : n)) > KP_LUA_MAX_ITEMS)
		return kp_errorf(c->err, KP_ERR_LIMIT, "value has more than %d elements",
				 KP_LUA_MAX_ITEMS);

	if (seq) {
		struct kp_value *l = kp_value_list();
		for (lua_Integer i = 1; i <= maxk; i++) {
			struct kp_value *item;
			lua_rawgeti(L, idx, i);
			rc = to_rec(L, lua_gettop(L), depth + 1, c, &item);
			lua_pop(L, 1);
			if (rc) {
				kp_value_unref(l);
				return rc;
			}
			kp_list_push_take(l, item);
		}
		*out = l;
		return KP_OK;
	}

	struct entry *e = kp_xcalloc((size_t)n, sizeof(*e));
	size_t ne = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		/* stack: key value */
		rc = key_text(L, -2, c, &e[ne].key);
		if (!rc) {
			rc = to_rec(L, lua_gettop(L), depth + 1, c, &e[ne].val);
			if (rc)
				free(e[ne].key);
		}
		if (rc) {
			lua_pop(L, 2);
			break;
		}
		e[ne++].pos = SIZE_MAX;
		lua_pop(L, 1);
	}
	if (!rc && origin && origin->type == KP_V_MAP && kp_map_len(origin)) {
		size_t on = kp_map_len(origin);
		struct okey *ok = kp_xmalloc(on * sizeof(*ok));
		for (size_t i = 0; i < on; i++) {
			ok[i].key = kp_map_key(origin, i);
			ok[i].pos = i;
		}
		qsort(ok, on, sizeof(*ok), cmp_okey);
		for (size_t i = 0; i < ne; i++) {
			struct okey probe = {e[i].key, 0};
			struct okey *hit = bsearch(&probe, ok, on, sizeof(*ok), cmp_okey);
			if (hit)
				e[i].pos = hit->pos;
		}
		free(ok);
	}
	if (!rc)
		qsort(e, ne, sizeof(*e), cmp_entry);
	struct kp_value *m = rc ? NULL : kp_value_map();
	for (size_t i = 0; i < ne; i++) {
		if (m)
			kp_map_set_take(m, e[i].key, e[i].val);
		else
			kp_value_unref(e[i].val);
		free(e[i].key);
	}
	free(e);
	if (rc)
		return rc;
	*out = m;
	return KP_OK;
}

static kp_rc to_rec(lua_State *L, int idx, int depth, struct conv *c, struct kp_value **out)
{
	switch (lua_type(L, idx)) {
	case LUA_TNIL:
	case LUA_TNONE:
		*out = kp_value_null();
		return KP_OK;
	case LUA_TBOOLEAN:
		*out = kp_value_bool(lua_toboolean(L, idx));
		return KP_OK;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			*out = kp_value_int((int64_t)lua_tointeger(L, idx));
		else
			*out = kp_value_float((double)lua_tonumber(L, idx));
		return KP_OK;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);
		*out = kp_value_strn(s, len);
		return KP_OK;
	}
	case LUA_TTABLE:
		return table_to_value(L, idx, depth, c, out);
	case LUA_TUSERDATA: {
		struct kp_undef *u = kp_lua_test_undef(L, idx);
		if (u && u->unknown)
			return kp_errorf(c->err, KP_ERR_UNKNOWN,
					 "'%s' is known only after the hosts are probed", u->name);
		if (u)
			return kp_errorf(c->err, KP_ERR_UNDEFINED, "undefined variable '%s'",
					 u->name);
		break;
	}
	default:
		break;
	}
	return kp_errorf(c->err, KP_ERR_RUNTIME, "cannot use a %s as a value",
			 lua_typename(L, lua_type(L, idx)));
}

kp_rc kp_lua_to_value(lua_State *L, int idx, struct kp_value **out, struct kp_buf *err)
{
	struct conv c = {err, 0};
	return to_rec(L, lua_absindex(L, idx), 0, &c, out);
}
