/*
 * fuzz_luapattern.c - the counted pattern functions of hooks and steps
 * (runner/engine/luapattern.c) against Lua's own, on any subject and
 * pattern: find, match, gsub and gmatch must give the same values and the
 * same errors. The input is "pattern\0subject"; short ones only (a pattern
 * of 24 bytes with at most 3 quantifiers, a subject of 48), so that Lua's
 * own matcher, which nothing counts, cannot backtrack for long.
 */
#include "fuzz.h"
#include "engine/luaapi_int.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>

static const char chunk[] =
    "local s, p = ...\n"
    "local out = {}\n"
    "local function put(...) local t = table.pack(...)\n"
    "  for i = 1, t.n do t[i] = tostring(t[i]) end out[#out + 1] = table.concat(t, '|') end\n"
    "put(pcall(string.find, s, p)) put(pcall(string.find, s, p, 2))\n"
    "put(pcall(string.match, s, p)) put(pcall(string.gsub, s, p, '[%0%1]', 3))\n"
    "put(pcall(string.gsub, s, p, function(a) return a and #a > 1 and a:upper() end))\n"
    "put(pcall(function() local r = {} for a, b in string.gmatch(s, p) do\n"
    "  r[#r + 1] = tostring(a) .. ',' .. tostring(b) if #r > 20 then break end end\n"
    "  return table.concat(r, ';') end))\n"
    "return table.concat(out, '\\n')\n";

static lua_State *ref;
static struct kp_lua *ours;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	ref = luaL_newstate();
	luaL_openlibs(ref);
	ours = kp_lua_new();
	kp_hookapi_patterns(kp_lua_state(ours));
	return 0;
}

static char *run(lua_State *L, const char *p, size_t lp, const char *s, size_t ls)
{
	if (luaL_loadstring(L, chunk) != LUA_OK)
		abort();
	lua_pushlstring(L, s, ls);
	lua_pushlstring(L, p, lp);
	char *r = kp_xstrdup(lua_pcall(L, 2, 1, 0) == LUA_OK ? lua_tostring(L, -1) : "error");
	lua_settop(L, 0);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nul = memchr(data, '\0', size);
	size_t lp = nul ? (size_t)(nul - p) : size;
	const char *s = nul ? nul + 1 : "";
	size_t ls = nul ? size - lp - 1 : 0;
	size_t quantifiers = 0;
	for (size_t i = 0; i < lp; i++)
		quantifiers += p[i] == '*' || p[i] == '+' || p[i] == '-' || p[i] == '?';
	if (lp > 24 || ls > 48 || quantifiers > 3)
		return -1;
	struct kp_lua *kl = ours;
	kl->steps = 0;
	kl->limit_hit = false;
	char *want = run(ref, p, lp, s, ls), *got = run(kp_lua_state(kl), p, lp, s, ls);
	/* a pattern that backtracks past the instruction limit is stopped:
	 * that is the limit working (Lua's own matcher, counting nothing, goes
	 * on); only answers both give are compared */
	if (strcmp(want, got) && !(kl->limit_hit && strstr(got, "instruction limit exceeded"))) {
		fprintf(stderr, "pattern functions differ:\nLua:   %s\nkplan: %s\n", want, got);
		abort();
	}
	free(want);
	free(got);
	return 0;
}
