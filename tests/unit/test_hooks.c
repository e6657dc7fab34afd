/* test_hooks.c - Lua hooks without an engine: kp_hook_call with fake ops.
 * Values both ways, the sandbox's refusals, the limits (exact messages
 * naming file:line, within a second), fail/skip that pcall cannot swallow,
 * check mode and kplan.readonly, ctx.vars, hook_limits and syntax errors
 * at load time. */
#include "unit.h"

#include <dirent.h>
#include <time.h>

#include "engine/hooks.h"
#include "engine/luaapi_int.h"

#include <lauxlib.h>
#include <lualib.h>
#include "model/plan.h"
#include "transport/transport.h"

/* What the fake ops saw. */
struct fake {
	struct kp_buf log;
	struct kp_buf calls; /* "run h1 cmd;" "set h1 x <json>;" ... */
	struct kp_value *vars;
};

static kp_rc f_run(void *ctx, const char *host, const char *cmd, const struct kp_hook_runopts *o,
		   struct kp_exec_res *res, struct kp_buf *err)
{
	struct fake *f = ctx;
	if (!strcmp(host, "down"))
		return kp_errorf(err, KP_ERR_UNREACHABLE, "cannot reach 'down': no route");
	kp_buf_addf(&f->calls, "run %s %s;", host, cmd);
	res->rc = 3;
	kp_buf_addf(&res->out, "out:%s", cmd);
	kp_buf_addstr(&res->err, "err");
	return KP_OK;
}

static void f_log(void *ctx, const char *msg)
{
	struct fake *f = ctx;
	kp_buf_addf(&f->log, "%s|", msg);
}

static kp_rc f_set_var(void *ctx, const char *host, const char *name, const struct kp_value *v,
		       struct kp_buf *err)
{
	struct fake *f = ctx;
	kp_buf_addf(&f->calls, "set %s %s ", host, name);
	if (v)
		kp_value_to_json(v, false, false, &f->calls);
	else
		kp_buf_addstr(&f->calls, "nil");
	kp_buf_addch(&f->calls, ';');
	if (v)
		kp_map_set(f->vars, name, v);
	else
		kp_map_del(f->vars, name);
	return KP_OK;
}

static kp_rc f_get_var(void *ctx, struct kp_lua *L, const char *host, const char *name,
		       struct kp_value **out, struct kp_buf *err)
{
	struct fake *f = ctx;
	const struct kp_value *v = kp_map_get(f->vars, name);
	*out = v ? kp_value_ref(v) : NULL;
	return KP_OK;
}

static kp_rc f_kube(void *ctx, const char *method, const char *path, const char *body, long *status,
		    struct kp_value **json, struct kp_buf *err)
{
	struct fake *f = ctx;
	kp_buf_addf(&f->calls, "kube %s %s %s;", method, path, body ? body : "-");
	*status = 200;
	static const char body_json[] = "{\"items\":[{\"a\":1},{\"b\":[true,2.5]}]}";
	return kp_value_from_json(body_json, strlen(body_json), json, err);
}

static struct kp_value *json(const char *text)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_value *v = NULL;
	if (kp_value_from_json(text, strlen(text), &v, &err))
		fail_msg("%s", err.buf);
	kp_buf_release(&err);
	return v;
}

static const struct kp_hook_ops ops = {f_run, f_log, f_set_var, f_get_var, f_kube};

struct t {
	struct kp_lua *L;
	struct fake f;
	struct kp_hookcall c;
};

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	t->L = kp_lua_new();
	t->f.vars = kp_value_map();
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	kp_hookcall_release(&t->c);
	kp_lua_free(t->L);
	kp_buf_release(&t->f.log);
	kp_buf_release(&t->f.calls);
	kp_value_unref(t->f.vars);
	free(t);
	return 0;
}

/* Run code as the hook file t.lua (ctx may be NULL). */
static enum kp_hook_outcome run(struct t *t, const char *code, const struct kp_value *ctx,
				bool check)
{
	kp_hookcall_release(&t->c);
	memset(&t->c, 0, sizeof(t->c));
	t->c.code = code;
	t->c.len = strlen(code);
	t->c.chunkname = "@t.lua";
	t->c.ctx = ctx;
	t->c.host = "h1";
	t->c.check_mode = check;
	t->c.max_instructions = 1000000;
	t->c.ops = &ops;
	t->c.ops_ctx = &t->f;
	kp_hook_call(t->L, &t->c);
	return t->c.outcome;
}

static void expect_fail(struct t *t, const char *code, const char *msg)
{
	enum kp_hook_outcome o = run(t, code, NULL, false);
	if (o != KP_HOOK_FAILED)
		fail_msg("'%s': outcome %d, msg '%s'", code, (int)o,
			 t->c.msg.buf ? t->c.msg.buf : "");
	assert_string_equal(t->c.msg.buf, msg);
}

static void ret_json(struct t *t, struct kp_buf *out)
{
	kp_buf_reset(out);
	assert_non_null(t->c.ret);
	kp_value_to_json(t->c.ret, false, false, out);
}

static void test_values(void **state)
{
	struct t *t = *state;
	struct kp_buf b = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_value *ctx = json("{\"s\":\"x\",\"i\":7,\"f\":1.5,\"b\":false,"
				    "\"l\":[1,\"two\",[3]],\"m\":{\"k\":{\"n\":null}},"
				    "\"e\":{}}");
	/* the context arrives as the first argument and as ctx, and goes back unchanged */
	assert_int_equal(run(t, "local c = ...\nassert(c == ctx)\nreturn c", ctx, false),
			 KP_HOOK_OK);
	ret_json(t, &b);
	/* (a map made in Lua has its keys sorted) */
	assert_string_equal(b.buf, "{\"b\":false,\"e\":{},\"f\":1.5,\"i\":7,\"l\":[1,\"two\",[3]],"
				   "\"m\":{\"k\":{}},\"s\":\"x\"}");
	/* types as Lua sees them */
	assert_int_equal(run(t,
			     "return {math.type(ctx.i), math.type(ctx.f), type(ctx.b), #ctx.l,"
			     " ctx.l[3][1], ctx.m.k.n == nil}",
			     ctx, false),
			 KP_HOOK_OK);
	ret_json(t, &b);
	assert_string_equal(b.buf, "[\"integer\",\"float\",\"boolean\",3,3,true]");
	/* set_var gets nested Lua tables as lists and maps; get_var gives them back */
	assert_int_equal(run(t,
			     "kplan.set_var(nil, 'v', {1, 'a', {x = {true, 2.5}}})\n"
			     "kplan.set_var('h2', 'gone', nil)\n"
			     "local v = kplan.get_var(nil, 'v')\n"
			     "return {v[3].x[2], kplan.get_var(nil, 'missing') == nil}",
			     NULL, false),
			 KP_HOOK_OK);
	assert_string_equal(t->f.calls.buf,
			    "set h1 v [1,\"a\",{\"x\":[true,2.5]}];set h2 gone nil;");
	ret_json(t, &b);
	assert_string_equal(b.buf, "[2.5,true]");
	/* a function is not a value */
	expect_fail(t, "kplan.set_var(nil, 'f', print)",
		    "t.lua:1: kplan.set_var: cannot use a function as a value");
	expect_fail(t, "return print",
		    "t.lua: cannot use the value it returned: cannot use a "
		    "function as a value");
	kp_value_unref(ctx);
	kp_buf_release(&b);
	kp_buf_release(&err);
}

static void test_api(void **state)
{
	struct t *t = *state;
	struct kp_buf b = KP_BUF_INIT;
	assert_int_equal(run(t,
			     "local rc, out, err = kplan.run('h2', 'uptime')\n"
			     "kplan.log('got', rc, out, err, nil)\nprint('printed')\n"
			     "local st, body = kplan.kube('get', '/api/v1/pods', {a = 1})\n"
			     "return {st, body.items[2].b[2], kplan.check_mode()}",
			     NULL, false),
			 KP_HOOK_OK);
	assert_string_equal(t->f.log.buf, "got 3 out:uptime err nil|printed|");
	assert_string_equal(t->f.calls.buf, "run h2 uptime;kube GET /api/v1/pods {\"a\":1};");
	ret_json(t, &b);
	assert_string_equal(b.buf, "[200,2.5,false]");
	expect_fail(t, "\nkplan.run('down', 'x')",
		    "t.lua:2: kplan.run: cannot reach 'down': no route");
	expect_fail(t, "kplan.kube('BREW', '/x')",
		    "t.lua:1: kplan.kube: unknown method 'BREW' (GET, POST, PUT, PATCH, DELETE)");
	expect_fail(t, "kplan.sleep(100000)",
		    "t.lua:1: kplan.sleep: seconds must be from 0 to 600 (got 100000.0)");
	expect_fail(t, "kplan.set_var(nil, 'not ok', 1)",
		    "t.lua:1: kplan.set_var: invalid variable name 'not ok'");
	expect_fail(t, "kplan.x = 1", "t.lua:1: cannot modify 'kplan'");
	expect_fail(t, "string.rep = nil", "t.lua:1: cannot modify 'string'");
	/* globals do not leak from one call into the next */
	assert_int_equal(run(t, "leak = 1", NULL, false), KP_HOOK_OK);
	assert_int_equal(run(t, "return leak == nil", NULL, false), KP_HOOK_OK);
	assert_true(t->c.ret->u.b);
	kp_buf_release(&b);
}

static void test_sandbox(void **state)
{
	struct t *t = *state;
	expect_fail(t, "local f = io.open('/etc/passwd')",
		    "t.lua:1: io.open is not available in kplan's Lua sandbox (hooks cannot reach "
		    "the controller's files or programs; use kplan.run on a host)");
	expect_fail(t, "\n\nos.execute('id')",
		    "t.lua:3: os.execute is not available in kplan's Lua sandbox (only os.time, "
		    "os.clock and os.date; run commands on a host with kplan.run)");
	expect_fail(t, "require('socket')",
		    "t.lua:1: require is not available in kplan's Lua sandbox (hooks are single "
		    "files)");
	expect_fail(t, "dofile('/etc/x.lua')",
		    "t.lua:1: dofile is not available in kplan's Lua sandbox (hooks cannot reach "
		    "the controller's files or programs; use kplan.run on a host)");
	expect_fail(t, "loadfile('/etc/x.lua')",
		    "t.lua:1: loadfile is not available in kplan's Lua sandbox (hooks cannot reach "
		    "the controller's files or programs; use kplan.run on a host)");
	expect_fail(t, "local x = package.path",
		    "t.lua:1: package.path is not available in kplan's Lua sandbox (hooks are "
		    "single files)");
	expect_fail(t, "load('\\27Lua\\84\\0')",
		    "t.lua:1: load: bytecode is not allowed in kplan's Lua sandbox (load Lua "
		    "source text)");
	assert_null(run(t, "return string.dump", NULL, false) == KP_HOOK_OK ? t->c.ret : NULL);
	/* load of source works, with the hook's globals */
	assert_int_equal(run(t, "x = 41\nreturn load('return x + 1')()", NULL, false), KP_HOOK_OK);
	assert_int_equal(t->c.ret->u.i, 42);
	assert_int_equal(
	    run(t, "return os.time() > 0 and type(os.date()) == 'string'", NULL, false),
	    KP_HOOK_OK);
	assert_true(t->c.ret->u.b);
	/* errors without a position get one; the traceback is kept */
	expect_fail(t, "local x = 1\nerror('plain', 0)", "t.lua:2: plain");
	assert_non_null(strstr(t->c.traceback.buf, "stack traceback:"));
	expect_fail(t, "local t = nil\nreturn t.x",
		    "t.lua:2: attempt to index a nil value (local 't')");
	expect_fail(t, "error({})", "t.lua:1: (error object is a table value)");
	expect_fail(t, "error('two\\nlines')", "t.lua:1: two\\nlines");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_limits(void **state)
{
	struct t *t = *state;
	double t0 = now();
	expect_fail(t, "local x = 0\nwhile true do x = x + 1 end",
		    "t.lua:2: instruction limit exceeded (1000000 instructions)");
	/* pcall cannot swallow the limit */
	expect_fail(t, "while true do\n  pcall(function() while true do end end)\nend",
		    "t.lua:2: instruction limit exceeded (1000000 instructions)");
	expect_fail(t, "local s = string.rep('x', 1 << 30)",
		    "t.lua:1: memory limit exceeded (64 MiB)");
	expect_fail(t, "local t = {}\nfor i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end",
		    "t.lua:2: memory limit exceeded (64 MiB)");
	/* a swallowed memory error still ends in the instruction limit */
	kp_hookcall_release(&t->c);
	expect_fail(t, "while true do pcall(string.rep, 'x', 1 << 30) end",
		    "t.lua:1: instruction limit exceeded (1000000 instructions)");
	/* a hang guard, not a speed test: a loaded machine may take seconds */
	assert_true(now() - t0 < (unit_valgrind() ? 300.0 : 60.0));
	/* the state is fine afterwards */
	assert_int_equal(run(t, "return #string.rep('x', 1000)", NULL, false), KP_HOOK_OK);
	assert_int_equal(t->c.ret->u.i, 1000);
	/* per-call limits */
	kp_hookcall_release(&t->c);
	memset(&t->c, 0, sizeof(t->c));
	t->c.code = "local s = string.rep('x', 2 << 20)";
	t->c.len = strlen(t->c.code);
	t->c.chunkname = "=[inline plan.yml:7]";
	t->c.max_memory = 1 << 20;
	t->c.ops = &ops;
	t->c.ops_ctx = &t->f;
	kp_hook_call(t->L, &t->c);
	assert_int_equal(t->c.outcome, KP_HOOK_FAILED);
	assert_string_equal(t->c.msg.buf, "[inline plan.yml:7]:1: memory limit exceeded (1 MiB)");
}

static void test_fail_skip(void **state)
{
	struct t *t = *state;
	expect_fail(t, "\nkplan.fail('budget web allows no disruptions')",
		    "t.lua:2: budget web allows no disruptions");
	expect_fail(t, "pcall(kplan.fail, 'caught?')\nkplan.log('went on')\nreturn 1",
		    "t.lua:1: caught?");
	assert_null(t->f.log.buf ? strstr(t->f.log.buf, "went on") : NULL);
	assert_int_equal(run(t, "kplan.skip('not today')", NULL, false), KP_HOOK_SKIPPED);
	assert_string_equal(t->c.msg.buf, "not today");
}

static void test_check_mode(void **state)
{
	struct t *t = *state;
	/* not read-only: the first acting call ends it */
	assert_int_equal(run(t,
			     "kplan.log('before')\nkplan.run(nil, 'touch x')\nkplan.log('after')",
			     NULL, true),
			 KP_HOOK_NOT_RUN);
	assert_string_equal(t->c.msg.buf, "t.lua:2: not run in check mode: it calls kplan.run "
					  "without declaring itself read-only (kplan.readonly() "
					  "at its top)");
	assert_string_equal(t->f.log.buf, "before|");
	assert_null(t->f.calls.buf);
	assert_int_equal(run(t, "kplan.set_var(nil, 'a', 1)", NULL, true), KP_HOOK_NOT_RUN);
	assert_int_equal(run(t, "kplan.kube('GET', '/version')", NULL, true), KP_HOOK_NOT_RUN);
	/* read-only: runs, reads */
	assert_int_equal(run(t,
			     "kplan.readonly()\nlocal rc = kplan.run(nil, 'cat x')\n"
			     "kplan.kube('GET', '/version')\nreturn kplan.check_mode()",
			     NULL, true),
			 KP_HOOK_OK);
	assert_true(t->c.readonly);
	assert_true(t->c.ret->u.b);
	assert_string_equal(t->f.calls.buf, "run h1 cat x;kube GET /version -;");
	/* and may not write through the API, in check mode or not */
	expect_fail(t, "kplan.readonly()\nkplan.kube('DELETE', '/api/v1/nodes/n1')",
		    "t.lua:2: kplan.kube: DELETE is not allowed in a read-only hook or step (only "
		    "GET)");
}

static void test_vars(void **state)
{
	struct t *t = *state;
	struct kp_buf err = KP_BUF_INIT, b = KP_BUF_INIT;
	struct kp_value *layer = json("{\"a\":\"x\",\"b\":\"{{ a }}-y\",\"n\":[1,{\"k\":2}]}");
	struct kp_scope s = {.layers = {layer}, .nlayers = 1};
	kp_hookcall_release(&t->c);
	memset(&t->c, 0, sizeof(t->c));
	t->c.code = "return {ctx.vars.a, ctx.vars.b, ctx.vars.n[2].k, ctx.vars.zz == nil}";
	t->c.len = strlen(t->c.code);
	t->c.chunkname = "@t.lua";
	t->c.vars = &s;
	t->c.ops = &ops;
	t->c.ops_ctx = &t->f;
	kp_hook_call(t->L, &t->c);
	assert_int_equal(t->c.outcome, KP_HOOK_OK);
	ret_json(t, &b);
	assert_string_equal(b.buf, "[\"x\",\"x-y\",2,true]");
	t->c.code = "ctx.vars.a = 1";
	t->c.len = strlen(t->c.code);
	kp_hook_call(t->L, &t->c);
	assert_int_equal(t->c.outcome, KP_HOOK_FAILED);
	assert_string_equal(t->c.msg.buf, "t.lua:1: ctx.vars is read-only (use kplan.set_var)");
	kp_value_unref(layer);
	kp_buf_release(&err);
	kp_buf_release(&b);
}

static void test_plan_load(void **state)
{
	struct kp_buf err = KP_BUF_INIT;
	struct kp_plan *p = NULL;
	assert_int_equal(kp_plan_load(KP_TEST_DATA "/hooks/syntax/plan.yml", &p, &err),
			 KP_ERR_PARSE);
	assert_string_equal(err.buf, "tests/data/hooks/syntax/plan.yml:4:18: "
				     "tests/data/hooks/syntax/bad.lua:4: ')' expected (to close "
				     "'(' at line 3) near 'end'");
	kp_buf_reset(&err);
	assert_int_equal(kp_plan_load(KP_TEST_DATA "/hooks/limits/plan.yml", &p, &err), KP_OK);
	assert_int_equal(p->plays[0]->hook_max_instructions, 5000);
	assert_int_equal(p->plays[0]->hook_max_memory, 1 << 20);
	kp_plan_free(p);
	p = NULL;
	assert_int_equal(kp_plan_load(KP_TEST_DATA "/hooks/limits/bad.yml", &p, &err),
			 KP_ERR_INVALID);
	assert_string_equal(err.buf,
			    "tests/data/hooks/limits/bad.yml:3:25: 'memory' must be a "
			    "size in bytes such as 65536, \"512k\", \"64m\" or \"1g\" (got "
			    "lots)");
	kp_buf_release(&err);
}

/* The counted pattern functions (luapattern.c) against Lua's own: every
 * subject x pattern through find (twice), match, gmatch and gsub (string,
 * function and table replacements), errors included, compared as text. */
static const char pattern_cases[] =
    "local S = {'', 'hello world', '  key = value  ', 'aaa', 'abcabc', 'a,b,,c',\n"
    "  'THE (quick) [fox]', 'x=1, y=22, z=333', 'f(a(b)c)d', '\\0ab\\0', 'caf\\195\\169',\n"
    "  'ab12cd34', 'line1\\nline2\\n', 'aaab', '%d'}\n"
    "local P = {'', '^', '$', '^$', 'a', 'a*', 'a+', 'a-', 'a?', 'a?b', '%a+', '%d+', '%s*',\n"
    "  '%w+', '(%w+)=(%w+)', '(%w+)%s*=%s*(%w+)', '^%s*(.-)%s*$', '()a()', '%b()', '%bxy',\n"
    "  '%f[%w]%w+', '%f[%W]', '[%a_][%w_]*', '[^,]*', '[a-c]+', '[]]', '[^]]+', '(a)(b)%1',\n"
    "  '(.)%1', '.-b', 'l(i)ne%d', '%.', '[%-]', 'x*$', '^(a*)', '%x+', '%u%l*', '%p', '%c',\n"
    "  '(h)(e)(l)(l)(o)', '[', '%', '(a', 'a)', '%1', '%b', '%f', '[a-]', '[%d-z]', '%%d',\n"
    "  '(()a)', 'a-$', '.', '..?', '[^%s]+', '%S+%s+%S+', '\\0', '[\\0-a]+', '^a-b'}\n"
    "local out = {}\n"
    "local function put(...) local t = table.pack(...)\n"
    "  for i = 1, t.n do t[i] = tostring(t[i]) end out[#out + 1] = table.concat(t, '|') end\n"
    "local up = function(...) local a = ... return a and a:upper() end\n"
    "local tbl = setmetatable({}, {__index = function(_, k) return k == 'a' and 'A' or nil end})\n"
    "for _, s in ipairs(S) do for _, p in ipairs(P) do\n"
    "  put(pcall(string.find, s, p)) put(pcall(string.find, s, p, 3))\n"
    "  put(pcall(string.find, s, p, -2, true)) put(pcall(string.match, s, p))\n"
    "  put(pcall(string.match, s, p, -3))\n"
    "  put(pcall(string.gsub, s, p, '<%0>')) put(pcall(string.gsub, s, p, '%1', 2))\n"
    "  put(pcall(string.gsub, s, p, up)) put(pcall(string.gsub, s, p, tbl))\n"
    "  put(pcall(function() local r = {} for a, b in string.gmatch(s, p) do\n"
    "    r[#r + 1] = tostring(a) .. ',' .. tostring(b) if #r > 40 then break end end\n"
    "    return table.concat(r, ';') end))\n"
    "  put(pcall(function() local r = {} for a in string.gmatch(s, p, 4) do\n"
    "    r[#r + 1] = tostring(a) if #r > 40 then break end end return table.concat(r, ';') end))\n"
    "end end\n"
    "return table.concat(out, '\\n')\n";

static char *run_cases(lua_State *L)
{
	assert_int_equal(luaL_loadstring(L, pattern_cases), LUA_OK);
	if (lua_pcall(L, 0, 1, 0) != LUA_OK)
		fail_msg("%s", lua_tostring(L, -1));
	char *r = kp_xstrdup(lua_tostring(L, -1));
	lua_pop(L, 1);
	return r;
}

static void test_patterns_as_lua(void **state)
{
	(void)state;
	lua_State *ref = luaL_newstate();
	luaL_openlibs(ref);
	char *want = run_cases(ref);
	lua_close(ref);

	struct kp_lua *kl = kp_lua_new();
	lua_State *L = kp_lua_state(kl);
	kp_hookapi_patterns(L);
	char *got = run_cases(L);
	kp_lua_free(kl);
	/* line by line, for a readable failure */
	char *w = want, *g = got;
	for (int line = 1; *w || *g; line++) {
		size_t wl = strcspn(w, "\n"), gl = strcspn(g, "\n");
		if (wl != gl || memcmp(w, g, wl))
			fail_msg("case %d: Lua gives '%.*s', kplan '%.*s'", line, (int)wl, w,
				 (int)gl, g);
		w += wl + (w[wl] == '\n');
		g += gl + (g[gl] == '\n');
	}
	free(want);
	free(got);
}

/* Inputs fuzz_luapattern found where the two differed
 * (tests/data/fuzz-regressions/luapattern/, "pattern\0subject"): the same
 * calls as there, compared again. */
static const char regression_chunk[] =
    "local s, p = ...\n"
    "local out = {}\n"
    "local function put(...) local t = table.pack(...)\n"
    "  for i = 1, t.n do t[i] = tostring(t[i]) end out[#out + 1] = table.concat(t, '|') end\n"
    "put(pcall(string.find, s, p)) put(pcall(string.find, s, p, 2))\n"
    "put(pcall(string.match, s, p)) put(pcall(string.gsub, s, p, '[%0%1]', 3))\n"
    "put(pcall(function() local r = {} for a, b in string.gmatch(s, p) do\n"
    "  r[#r + 1] = tostring(a) .. ',' .. tostring(b) if #r > 20 then break end end\n"
    "  return table.concat(r, ';') end))\n"
    "return table.concat(out, '\\n')\n";

static char *run_one(lua_State *L, const char *p, size_t lp, const char *subj, size_t ls)
{
	assert_int_equal(luaL_loadstring(L, regression_chunk), LUA_OK);
	lua_pushlstring(L, subj, ls);
	lua_pushlstring(L, p, lp);
	assert_int_equal(lua_pcall(L, 2, 1, 0), LUA_OK);
	char *r = kp_xstrdup(lua_tostring(L, -1));
	lua_pop(L, 1);
	return r;
}

static void test_pattern_regressions(void **state)
{
	(void)state;
	const char *dir = KP_TEST_DATA "/fuzz-regressions/luapattern";
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), seen = 0;
	assert_true(n > 0);
	lua_State *ref = luaL_newstate();
	luaL_openlibs(ref);
	struct kp_lua *kl = kp_lua_new();
	kp_hookapi_patterns(kp_lua_state(kl));
	for (int i = 0; i < n; i++) {
		struct kp_buf path = KP_BUF_INIT, data = KP_BUF_INIT, err = KP_BUF_INIT;
		kp_buf_addf(&path, "%s/%s", dir, names[i]->d_name);
		if (names[i]->d_name[0] != '.' && !kp_read_file(path.buf, 0, &data, &err)) {
			const char *nul = memchr(data.buf, '\0', data.len);
			size_t lp = nul ? (size_t)(nul - data.buf) : data.len;
			const char *subj = nul ? nul + 1 : "";
			size_t ls = nul ? data.len - lp - 1 : 0;
			char *want = run_one(ref, data.buf, lp, subj, ls);
			char *got = run_one(kp_lua_state(kl), data.buf, lp, subj, ls);
			if (strcmp(want, got))
				fail_msg("%s: Lua gives '%s', kplan '%s'", path.buf, want, got);
			free(want);
			free(got);
			seen++;
		}
		kp_buf_release(&path);
		kp_buf_release(&data);
		kp_buf_release(&err);
		free(names[i]);
	}
	free(names);
	assert_true(seen > 0);
	lua_close(ref);
	kp_lua_free(kl);
}

/* A backtracking pattern is counted: it ends at the instruction limit,
 * naming the line that called it, within a second. */
static void test_pattern_limit(void **state)
{
	struct fake *f = *state;
	(void)f;
	struct kp_lua *kl = kp_lua_new();
	struct kp_hookcall c = {
	    .code = "local s = string.rep('a', 40)\nreturn s:find(string.rep('a*', 40) .. 'b')\n",
	    .chunkname = "@bt.lua",
	    .max_instructions = 1000000,
	};
	c.len = strlen(c.code);
	time_t t0 = time(NULL);
	kp_hook_call(kl, &c);
	/* the instruction limit stops it (the message); the clock only guards
	 * against a hang, generously for a loaded machine */
	assert_true(time(NULL) - t0 <= 60);
	assert_int_equal(c.outcome, KP_HOOK_FAILED);
	assert_string_equal(c.msg.buf,
			    "bt.lua:2: instruction limit exceeded (1000000 instructions)");
	kp_hookcall_release(&c);
	kp_lua_free(kl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_api, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sandbox, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fail_skip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_check_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_vars, setup, teardown),
	    cmocka_unit_test(test_plan_load),
	    cmocka_unit_test(test_patterns_as_lua),
	    cmocka_unit_test(test_pattern_regressions),
	    cmocka_unit_test_setup_teardown(test_pattern_limit, setup, teardown),
	};
	return cmocka_run_group_tests_name("hooks", tests, NULL, NULL);
}
