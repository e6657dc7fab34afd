/*
 * luapattern.c - string.find, match, gmatch and gsub for hooks and steps,
 * with every step of the matcher counted.
 *
 * Lua's own pattern functions run a whole backtracking match inside one C
 * call, where the count hook never fires: ("a"):rep(40):find(("a*"):rep(40)
 * .. "b") would run for ages. These implement the same patterns (Lua 5.4
 * manual, section 6.4.1: classes, sets, the quantifiers * + - ?, anchors,
 * captures and position captures, %b, %f and back-references) and charge
 * their steps to the call's instruction budget (kp_hookapi_charge), so a
 * backtracking pattern ends like a loop does: "file:line: instruction
 * limit exceeded". tests/unit/test_hooks.c compares them with Lua's own
 * on many subjects and patterns.
 */
#include "engine/luaapi_int.h"

#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#define MAX_DEPTH    200  /* nested match() calls: Lua's "pattern too complex" */
#define MAX_CAPTURES 32	  /* as Lua: "too many captures" past it */
#define CHARGE_EACH  1024 /* steps between two charges */
#define CAP_OPEN     (-1) /* a capture still open */
#define CAP_POS	     (-2) /* a position capture "()" */

struct pm {
	lua_State *L;
	const char *src, *end; /* the subject */
	const char *pat, *pend;
	int depth, level;
	unsigned steps; /* not charged yet */
	struct {
		const char *at;
		ptrdiff_t len;
	} cap[MAX_CAPTURES];
};

static void tick(struct pm *m)
{
	if (++m->steps >= CHARGE_EACH) {
		m->steps = 0;
		kp_hookapi_charge(m->L, CHARGE_EACH);
	}
}

/* %a, %d, ... for byte c; an escaped non-letter is itself */
static bool in_class(int cl, int c)
{
	bool r;
	switch (tolower(cl)) {
	case 'a':
		r = isalpha(c);
		break;
	case 'c':
		r = iscntrl(c);
		break;
	case 'd':
		r = isdigit(c);
		break;
	case 'g':
		r = isgraph(c);
		break;
	case 'l':
		r = islower(c);
		break;
	case 'p':
		r = ispunct(c);
		break;
	case 's':
		r = isspace(c);
		break;
	case 'u':
		r = isupper(c);
		break;
	case 'w':
		r = isalnum(c);
		break;
	case 'x':
		r = isxdigit(c);
		break;
	case 'z': /* NUL: deprecated in Lua, still there */
		r = c == 0;
		break;
	default:
		return cl == c;
	}
	return isupper(cl) ? !r : r;
}

/* Past the single-character class at p. */
static const char *class_end(struct pm *m, const char *p)
{
	if (*p == '%') {
		if (p + 1 >= m->pend)
			luaL_error(m->L, "malformed pattern (ends with '%%')");
		return p + 2;
	}
	if (*p == '[') {
		p++;
		if (*p == '^')
			p++;
		do {
			if (p >= m->pend)
				luaL_error(m->L, "malformed pattern (missing ']')");
			if (*p++ == '%' && p < m->pend)
				p++;
		} while (*p != ']');
		return p + 1;
	}
	return p + 1;
}

/* c against the set [..] from p ('[') to close (its ']') */
static bool in_set(int c, const char *p, const char *close)
{
	bool yes = true;
	if (*++p == '^') {
		yes = false;
		p++;
	}
	for (; p < close; p++) {
		if (*p == '%') {
			p++;
			if (in_class((unsigned char)*p, c))
				return yes;
		} else if (p[1] == '-' && p + 2 < close) {
			if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2])
				return yes;
			p += 2;
		} else if ((unsigned char)*p == c) {
			return yes;
		}
	}
	return !yes;
}

static bool single(struct pm *m, const char *s, const char *p, const char *ep)
{
	if (s >= m->end)
		return false;
	int c = (unsigned char)*s;
	switch (*p) {
	case '.':
		return true;
	case '%':
		return in_class((unsigned char)p[1], c);
	case '[':
		return in_set(c, p, ep - 1);
	default:
		return (unsigned char)*p == c;
	}
}

static const char *match(struct pm *m, const char *s, const char *p);

static const char *max_expand(struct pm *m, const char *s, const char *p, const char *ep)
{
	ptrdiff_t i = 0;
	while (single(m, s + i, p, ep)) {
		tick(m);
		i++;
	}
	for (; i >= 0; i--) {
		const char *r = match(m, s + i, ep + 1);
		if (r)
			return r;
	}
	return NULL;
}

static const char *min_expand(struct pm *m, const char *s, const char *p, const char *ep)
{
	for (;;) {
		const char *r = match(m, s, ep + 1);
		if (r)
			return r;
		if (!single(m, s, p, ep))
			return NULL;
		tick(m);
		s++;
	}
}

static const char *open_capture(struct pm *m, const char *s, const char *p, ptrdiff_t what)
{
	if (m->level >= MAX_CAPTURES)
		luaL_error(m->L, "too many captures");
	m->cap[m->level].at = s;
	m->cap[m->level].len = what;
	m->level++;
	const char *r = match(m, s, p);
	if (!r)
		m->level--;
	return r;
}

static const char *close_capture(struct pm *m, const char *s, const char *p)
{
	int l = m->level - 1;
	while (l >= 0 && m->cap[l].len != CAP_OPEN)
		l--;
	if (l < 0)
		luaL_error(m->L, "invalid pattern capture");
	m->cap[l].len = s - m->cap[l].at;
	const char *r = match(m, s, p);
	if (!r)
		m->cap[l].len = CAP_OPEN;
	return r;
}

static const char *balance(struct pm *m, const char *s, const char *p)
{
	if (p + 1 >= m->pend)
		luaL_error(m->L, "malformed pattern (missing arguments to '%%b')");
	if (s >= m->end || *s != *p)
		return NULL;
	int open = 1;
	while (++s < m->end) {
		tick(m);
		if (*s == p[1]) {
			if (--open == 0)
				return s + 1;
		} else if (*s == *p) {
			open++;
		}
	}
	return NULL;
}

static const char *backref(struct pm *m, const char *s, int digit)
{
	int l = digit - '1';
	if (l < 0 || l >= m->level || m->cap[l].len == CAP_OPEN)
		luaL_error(m->L, "invalid capture index %%%d", l + 1);
	size_t len = (size_t)m->cap[l].len;
	if ((size_t)(m->end - s) >= len && !memcmp(m->cap[l].at, s, len))
		return s + len;
	return NULL;
}

/* The end of a match of p at s, or NULL. */
static const char *match(struct pm *m, const char *s, const char *p)
{
	if (m->depth-- == 0)
		luaL_error(m->L, "pattern too complex");
	tick(m);
	while (p < m->pend) {
		const char *ep;
		switch (*p) {
		case '(':
			s = p + 1 < m->pend && p[1] == ')' ? open_capture(m, s, p + 2, CAP_POS)
							   : open_capture(m, s, p + 1, CAP_OPEN);
			goto out;
		case ')':
			s = close_capture(m, s, p + 1);
			goto out;
		case '$':
			if (p + 1 == m->pend) {
				s = s == m->end ? s : NULL;
				goto out;
			}
			break;
		case '%':
			if (p[1] == 'b') {
				s = balance(m, s, p + 2);
				if (!s)
					goto out;
				p += 4;
				continue;
			}
			if (p[1] == 'f') {
				p += 2;
				if (*p != '[')
					luaL_error(m->L, "missing '[' after '%%f' in pattern");
				ep = class_end(m, p);
				int prev = s == m->src ? 0 : (unsigned char)s[-1];
				int cur = s < m->end ? (unsigned char)*s : 0;
				if (in_set(prev, p, ep - 1) || !in_set(cur, p, ep - 1)) {
					s = NULL;
					goto out;
				}
				p = ep;
				continue;
			}
			if (isdigit((unsigned char)p[1])) {
				s = backref(m, s, (unsigned char)p[1]);
				if (!s)
					goto out;
				p += 2;
				continue;
			}
			break;
		default:
			break;
		}
		ep = class_end(m, p);
		if (!single(m, s, p, ep)) {
			if (*ep == '*' || *ep == '?' || *ep == '-') {
				p = ep + 1; /* zero of them */
				continue;
			}
			s = NULL;
			goto out;
		}
		switch (*ep) {
		case '?': {
			const char *r = match(m, s + 1, ep + 1);
			if (r) {
				s = r;
				goto out;
			}
			p = ep + 1;
			continue;
		}
		case '+':
			s = max_expand(m, s + 1, p, ep);
			goto out;
		case '*':
			s = max_expand(m, s, p, ep);
			goto out;
		case '-':
			s = min_expand(m, s, p, ep);
			goto out;
		default:
			s++;
			p = ep;
			continue;
		}
	}
out:
	m->depth++;
	return s;
}

static void start(struct pm *m, lua_State *L, const char *s, size_t ls, const char *p, size_t lp)
{
	m->L = L;
	m->src = s;
	m->end = s + ls;
	m->pat = p;
	m->pend = p + lp;
	m->level = 0;
	m->depth = MAX_DEPTH;
}

static void push_capture(struct pm *m, int i, const char *s, const char *e)
{
	if (i >= m->level) {
		if (i != 0)
			luaL_error(m->L, "invalid capture index %%%d", i + 1);
		lua_pushlstring(m->L, s, (size_t)(e - s));
		return;
	}
	if (m->cap[i].len == CAP_OPEN)
		luaL_error(m->L, "unfinished capture");
	if (m->cap[i].len == CAP_POS)
		lua_pushinteger(m->L, m->cap[i].at - m->src + 1);
	else
		lua_pushlstring(m->L, m->cap[i].at, (size_t)m->cap[i].len);
}

/* The captures (the whole match when there are none and s is given). */
static int push_captures(struct pm *m, const char *s, const char *e)
{
	int n = m->level == 0 && s ? 1 : m->level;
	luaL_checkstack(m->L, n, "too many captures");
	for (int i = 0; i < n; i++)
		push_capture(m, i, s, e);
	return n;
}

/* Lua's 1-based, negative-from-the-end position, as a 0-based offset. */
static size_t offset(lua_Integer pos, size_t len)
{
	if (pos > 0)
		return (size_t)pos - 1;
	if (pos == 0 || pos < -(lua_Integer)len)
		return 0;
	return len + (size_t)pos;
}

static bool plain(const char *p, size_t lp)
{
	for (size_t i = 0; i < lp; i++)
		if (p[i] && strchr("^$*+?.([%-", p[i]))
			return false;
	return true;
}

static int find_or_match(lua_State *L, bool find)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls), *p = luaL_checklstring(L, 2, &lp);
	size_t init = offset(luaL_optinteger(L, 3, 1), ls);
	struct pm m;
	if (init > ls) {
		luaL_pushfail(L);
		return 1;
	}
	if (find && (lua_toboolean(L, 4) || plain(p, lp))) {
		const char *at = lp ? memmem(s + init, ls - init, p, lp) : s + init;
		kp_hookapi_charge(L, (ls - init) / 8 + 1);
		if (!at) {
			luaL_pushfail(L);
			return 1;
		}
		lua_pushinteger(L, at - s + 1);
		lua_pushinteger(L, (lua_Integer)(at - s + lp));
		return 2;
	}
	bool anchor = lp && *p == '^';
	if (anchor)
		p++, lp--;
	start(&m, L, s, ls, p, lp);
	const char *from = s + init;
	do {
		m.level = 0;
		m.depth = MAX_DEPTH;
		const char *e = match(&m, from, p);
		if (e) {
			if (!find)
				return push_captures(&m, from, e);
			lua_pushinteger(L, from - s + 1);
			lua_pushinteger(L, e - s);
			return push_captures(&m, NULL, NULL) + 2;
		}
	} while (from++ < m.end && !anchor);
	luaL_pushfail(L);
	return 1;
}

static int str_find(lua_State *L)
{
	return find_or_match(L, true);
}

static int str_match(lua_State *L)
{
	return find_or_match(L, false);
}

/* gmatch's iterator; upvalues: subject, pattern, next offset, end of the
 * last match (-1: none) */
static int gmatch_next(lua_State *L)
{
	size_t ls, lp;
	const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
	const char *p = lua_tolstring(L, lua_upvalueindex(2), &lp);
	lua_Integer at = lua_tointeger(L, lua_upvalueindex(3));
	lua_Integer last = lua_tointeger(L, lua_upvalueindex(4));
	struct pm m;
	start(&m, L, s, ls, p, lp);
	for (const char *from = s + at; from <= m.end; from++) {
		m.level = 0;
		m.depth = MAX_DEPTH;
		const char *e = match(&m, from, p);
		if (e && e - s != last) {
			lua_pushinteger(L, e - s);
			lua_copy(L, -1, lua_upvalueindex(3));
			lua_replace(L, lua_upvalueindex(4));
			return push_captures(&m, from, e);
		}
	}
	return 0;
}

static int str_gmatch(lua_State *L)
{
	size_t ls;
	luaL_checklstring(L, 1, &ls);
	luaL_checkstring(L, 2);
	size_t init = offset(luaL_optinteger(L, 3, 1), ls);
	if (init > ls)
		init = ls + 1; /* past the end: no match */
	lua_settop(L, 2);
	lua_pushinteger(L, (lua_Integer)init);
	lua_pushinteger(L, -1);
	lua_pushcclosure(L, gmatch_next, 4);
	return 1;
}

/* One replacement into b; whether the match was replaced. */
static bool replace(struct pm *m, luaL_Buffer *b, const char *s, const char *e, int tr)
{
	lua_State *L = m->L;
	if (tr == LUA_TFUNCTION) {
		lua_pushvalue(L, 3);
		int n = push_captures(m, s, e);
		lua_call(L, n, 1);
	} else if (tr == LUA_TTABLE) {
		push_capture(m, 0, s, e);
		lua_gettable(L, 3);
	} else {
		size_t l;
		const char *r = lua_tolstring(L, 3, &l), *end = r + l;
		for (; r < end; r++) {
			if (*r != '%') {
				luaL_addchar(b, *r);
			} else if (++r < end && *r == '%') {
				luaL_addchar(b, '%');
			} else if (r < end && isdigit((unsigned char)*r)) {
				if (*r == '0') {
					luaL_addlstring(b, s, (size_t)(e - s));
				} else {
					push_capture(m, *r - '1', s, e);
					luaL_tolstring(L, -1, NULL);
					lua_remove(L, -2);
					luaL_addvalue(b);
				}
			} else {
				luaL_error(L, "invalid use of '%%' in replacement string");
			}
		}
		return true;
	}
	if (!lua_toboolean(L, -1)) { /* nil or false: keep the match */
		lua_pop(L, 1);
		luaL_addlstring(b, s, (size_t)(e - s));
		return false;
	}
	if (!lua_isstring(L, -1))
		luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
	luaL_addvalue(b);
	return true;
}

static int str_gsub(lua_State *L)
{
	size_t ls, lp;
	const char *s = luaL_checklstring(L, 1, &ls), *p = luaL_checklstring(L, 2, &lp);
	int tr = lua_type(L, 3);
	lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
	luaL_argexpected(
	    L, tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
	    "string/function/table");
	bool anchor = lp && *p == '^', changed = false;
	if (anchor)
		p++, lp--;
	struct pm m;
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	start(&m, L, s, ls, p, lp);
	const char *from = s, *last = NULL;
	while (n < max) {
		m.level = 0;
		m.depth = MAX_DEPTH;
		const char *e = match(&m, from, p);
		if (e && e != last) {
			n++;
			changed = replace(&m, &b, from, e, tr) || changed;
			from = last = e;
		} else if (from < m.end) {
			luaL_addchar(&b, *from++);
		} else {
			break;
		}
		if (anchor)
			break;
	}
	if (!changed) {
		lua_pushvalue(L, 1);
	} else {
		luaL_addlstring(&b, from, (size_t)(m.end - from));
		luaL_pushresult(&b);
	}
	lua_pushinteger(L, n);
	return 2;
}

void kp_hookapi_patterns(lua_State *L)
{
	static const luaL_Reg fns[] = {{"find", str_find},
				       {"match", str_match},
				       {"gmatch", str_gmatch},
				       {"gsub", str_gsub},
				       {NULL, NULL}};
	lua_getglobal(L, "string"); /* the table itself: ("x"):find uses it too */
	luaL_setfuncs(L, fns, 0);
	lua_pop(L, 1);
}
