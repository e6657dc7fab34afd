/*
 * test_modules.c - the general modules' probe and apply, through a fake
 * transport that acts on a real temporary directory with plain POSIX calls
 * (so shell commands and file operations see the same files), counting
 * writes so that "the second run writes nothing" can be asserted.
 */
#include "unit.h"
#include "expr/expr.h"
#include "modules/module.h"
#include "transport/transport.h"
#include "core/value.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- the fake transport -------------------------------------------------- */

struct fake {
	struct kp_conn conn;
	char root[64];
	int puts, execs;
};

static kp_rc fake_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		       struct kp_buf *err)
{
	struct fake *f = c->priv;
	char in[128], out[128], errf[128];
	const char *envp[256];
	size_t n = 0;

	f->execs++;
	snprintf(in, sizeof(in), "%s/.stdin", f->root);
	snprintf(out, sizeof(out), "%s/.stdout", f->root);
	snprintf(errf, sizeof(errf), "%s/.stderr", f->root);
	FILE *fi = fopen(in, "wb");
	if (req->stdin_data)
		fwrite(req->stdin_data, 1, req->stdin_len, fi);
	fclose(fi);
	/* the task's entries replace the process's own of the same name */
	for (const char *const *e = req->env; e && *e && n < 128; e++)
		envp[n++] = *e;
	for (char **e = environ; *e && n < 255; e++) {
		size_t nl = strcspn(*e, "=");
		bool dup = false;
		for (const char *const *x = req->env; x && *x; x++)
			if (!strncmp(*x, *e, nl) && (*x)[nl] == '=')
				dup = true;
		if (!dup)
			envp[n++] = *e;
	}
	envp[n] = NULL;

	pid_t pid = fork();
	if (pid < 0)
		return kp_errorf(err, KP_ERR_IO, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		int i = open(in, O_RDONLY), o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600),
		    e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(i, 0);
		dup2(o, 1);
		dup2(e, 2);
		if (req->chdir && chdir(req->chdir))
			_exit(126);
		if (req->cmd) {
			const char *argv[] = {"/bin/sh", "-c", req->cmd, NULL};
			execve("/bin/sh", (char **)argv, (char **)envp);
		} else {
			environ = (char **)envp;
			execvp(req->argv[0], (char **)req->argv);
		}
		_exit(127);
	}
	int status = 0;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		int64_t ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (req->timeout_ms && ms > req->timeout_ms && !res->timed_out) {
			kill(-pid, SIGKILL);
			res->timed_out = true;
		}
		usleep(2000);
	}
	res->rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	kp_read_file(out, 0, &res->out, err);
	kp_read_file(errf, 0, &res->err, err);
	return KP_OK;
}

static kp_rc fake_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		      const struct kp_put_opts *o, struct kp_buf *err)
{
	struct fake *f = c->priv;
	char tmp[4200];
	struct stat st;
	int mode = o->mode >= 0 ? o->mode : !stat(path, &st) ? (int)(st.st_mode & 07777) : 0644;

	f->puts++;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	fchmod(fd, (mode_t)mode);
	if (o->owner || o->group) {
		struct passwd *pw = o->owner ? getpwnam(o->owner) : NULL;
		struct group *gr = o->group ? getgrnam(o->group) : NULL;
		assert_int_equal(
		    fchown(fd, pw ? pw->pw_uid : (uid_t)-1, gr ? gr->gr_gid : (gid_t)-1), 0);
	}
	close(fd);
	return rename(tmp, path) ? kp_errorf(err, KP_ERR_IO, "rename: %s", strerror(errno)) : KP_OK;
}

static kp_rc fake_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		      struct kp_buf *err)
{
	return kp_read_file(path, max, out, err);
}

static kp_rc fake_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		       struct kp_buf *err)
{
	struct stat s;
	memset(st, 0, sizeof(*st));
	if (lstat(path, &s))
		return errno == ENOENT ? KP_OK : kp_errorf(err, KP_ERR_IO, "%s", strerror(errno));
	st->exists = true;
	st->type = S_ISREG(s.st_mode)	? 'f'
		   : S_ISDIR(s.st_mode) ? 'd'
		   : S_ISLNK(s.st_mode) ? 'l'
					: 'o';
	st->mode = s.st_mode & 07777;
	st->size = s.st_size;
	st->mtime_ns = (int64_t)s.st_mtim.tv_sec * 1000000000 + s.st_mtim.tv_nsec;
	struct passwd *pw = getpwuid(s.st_uid);
	struct group *gr = getgrgid(s.st_gid);
	snprintf(st->owner, sizeof(st->owner), "%s", pw ? pw->pw_name : "?");
	snprintf(st->group, sizeof(st->group), "%s", gr ? gr->gr_name : "?");
	if (st->type == 'l') {
		ssize_t n = readlink(path, st->link_target, sizeof(st->link_target) - 1);
		st->link_target[n > 0 ? n : 0] = '\0';
	}
	if (want_hash && st->type == 'f') {
		struct kp_buf b = KP_BUF_INIT;
		kp_rc rc = kp_read_file(path, 0, &b, err);
		if (!rc)
			kp_sha256_hex(b.buf, b.len, st->sha256);
		kp_buf_release(&b);
		return rc;
	}
	return KP_OK;
}

static const struct kp_transport_ops fake_ops = {
    .name = "fake",
    .exec = fake_exec,
    .put = fake_put,
    .get = fake_get,
    .stat = fake_stat,
};

/* ---- a host to run modules on --------------------------------------------- */

struct t {
	struct fake f;
	struct kp_lua *L;
	struct kp_value *vars;
	struct kp_scope scope;
	char path_env[256];
	const char *env[2];
	bool check, diff;
	int64_t timeout_ms;
	struct kp_buf err;
};

static struct t *T; /* the fixture, set by setup (tests run one at a time) */

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));
	strcpy(t->f.root, "/tmp/kp-mod-XXXXXX");
	assert_non_null(mkdtemp(t->f.root));
	t->f.conn.ops = &fake_ops;
	t->f.conn.priv = &t->f;
	t->L = kp_lua_new();
	struct kp_buf e = KP_BUF_INIT;
	const char *vars = "{\"port\":6443,\"inventory_hostname\":\"node1\",\"x\":41,"
			   "\"l\":[1,2],\"name\":\"kube\"}";
	assert_int_equal(kp_value_from_json(vars, strlen(vars), &t->vars, &e), KP_OK);
	kp_buf_release(&e);
	t->scope.layers[0] = t->vars;
	t->scope.nlayers = 1;
	snprintf(t->path_env, sizeof(t->path_env), "PATH=%s/bin:/usr/bin:/bin", t->f.root);
	t->env[0] = t->path_env;
	t->timeout_ms = 10000;
	kp_buf_init(&t->err);
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/bin", t->f.root);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/etc", t->f.root);
	mkdir(dir, 0755);
	T = t;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", t->f.root);
	assert_int_equal(system(cmd), 0);
	kp_lua_free(t->L);
	kp_value_unref(t->vars);
	kp_buf_release(&t->err);
	free(t);
	return 0;
}

/* "@/x" -> "<root>/x", so that every path in a test lives in the sandbox. */
static char *rooted(const char *s)
{
	struct kp_buf b = KP_BUF_INIT;
	for (; *s; s++) {
		if (s[0] == '@' && s[1] == '/')
			kp_buf_addstr(&b, T->f.root);
		else
			kp_buf_addch(&b, *s);
	}
	return kp_buf_detach(&b, NULL);
}

static void put_file(const char *at, const char *content)
{
	char *p = rooted(at);
	FILE *f = fopen(p, "wb");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	free(p);
}

static char *file_text(const char *at)
{
	struct kp_buf b = KP_BUF_INIT, e = KP_BUF_INIT;
	char *p = rooted(at);
	if (kp_read_file(p, 0, &b, &e))
		fail_msg("%s", e.buf);
	free(p);
	kp_buf_release(&e);
	return kp_buf_detach(&b, NULL);
}

static bool exists(const char *at)
{
	struct stat st;
	char *p = rooted(at);
	bool r = !lstat(p, &st);
	free(p);
	return r;
}

static unsigned mode_of(const char *at)
{
	struct stat st;
	char *p = rooted(at);
	assert_int_equal(lstat(p, &st), 0);
	free(p);
	return st.st_mode & 07777;
}

/* Run a module as the engine does: finish the arguments, probe, and apply
 * when the probe found a change (never in check mode). Messages in the
 * result hold the sandbox's root; `msg` returns them with it as "@". */
static void run(const char *mod, const char *json_args, struct kp_result *res)
{
	const struct kp_module *m = kp_module_find(mod);
	struct kp_value *raw = NULL, *args = NULL;
	char *text = rooted(json_args);
	kp_rc rc;

	assert_non_null(m);
	kp_buf_reset(&T->err);
	assert_int_equal(kp_value_from_json(text, strlen(text), &raw, &T->err), KP_OK);
	free(text);
	if (kp_module_finish_args(m, raw, &args, &T->err))
		fail_msg("%s", T->err.buf);
	struct kp_modctx ctx = {
	    .module = m,
	    .host = "node1",
	    .conn = &T->f.conn,
	    .args = args,
	    .scope = &T->scope,
	    .L = T->L,
	    .check_mode = T->check,
	    .diff = T->diff,
	    .timeout_ms = T->timeout_ms,
	    .base_dir = T->f.root,
	    .env = T->env,
	};
	kp_result_init(res);
	rc = m->probe(&ctx, res, &T->err);
	if (!rc && res->changed && !res->failed && !T->check && m->apply)
		rc = m->apply(&ctx, res, &T->err);
	if (rc)
		fail_msg("%s: %s", mod, T->err.buf);
	if (ctx.free_state)
		ctx.free_state(ctx.state);
	kp_value_unref(args);
	kp_value_unref(raw);
}

/* A result text with the sandbox root replaced by "@" (static: one at a time). */
static const char *unroot(const struct kp_buf *b)
{
	static char out[8192];
	size_t rl = strlen(T->f.root), o = 0;
	for (const char *s = b->buf; *s && o < sizeof(out) - 1;) {
		if (!strncmp(s, T->f.root, rl)) {
			out[o++] = '@';
			s += rl;
		} else {
			out[o++] = *s++;
		}
	}
	out[o] = '\0';
	return out;
}

static const char *msg(const struct kp_result *r)
{
	return unroot(&r->msg);
}

static char *short_sha(const char *text)
{
	char sha[65];
	struct kp_buf b = KP_BUF_INIT;
	kp_sha256_hex(text, strlen(text), sha);
	kp_mod_short_sha(sha, &b);
	return kp_buf_detach(&b, NULL);
}

static const char *fact_str(const struct kp_result *r, const char *key)
{
	const struct kp_value *v = kp_map_get(r->facts, key);
	assert_non_null(v);
	assert_int_equal(v->type, KP_V_STR);
	return v->u.str.s;
}

/* ---- helpers ------------------------------------------------------------------ */

static void test_result_value(void **state)
{
	struct kp_result r;
	struct kp_buf j = KP_BUF_INIT;
	kp_result_init(&r);
	r.has_rc = true;
	r.rc = 2;
	r.changed = true;
	kp_buf_addstr(&r.out, "a\r\nb\n");
	kp_buf_addstr(&r.err, "x");
	kp_buf_addstr(&r.msg, "m");
	kp_map_set_take(r.facts, "dest", kp_value_str("/x"));
	struct kp_value *v = kp_result_to_value(&r);
	kp_value_to_json(v, true, false, &j);
	assert_string_equal(j.buf, "{\"rc\":2,\"stdout\":\"a\\r\\nb\",\"stderr\":\"x\","
				   "\"stdout_lines\":[\"a\",\"b\"],\"stderr_lines\":[\"x\"],"
				   "\"changed\":true,\"failed\":false,\"skipped\":false,"
				   "\"msg\":\"m\",\"dest\":\"/x\"}");
	kp_value_unref(v);
	kp_result_release(&r);

	kp_result_init(&r);
	kp_buf_reset(&j);
	v = kp_result_to_value(&r);
	kp_value_to_json(v, true, false, &j);
	assert_string_equal(j.buf, "{\"stdout\":\"\",\"stderr\":\"\",\"stdout_lines\":[],"
				   "\"stderr_lines\":[],\"changed\":false,\"failed\":false,"
				   "\"skipped\":false,\"msg\":\"\"}");
	kp_value_unref(v);
	kp_result_release(&r);
	kp_buf_release(&j);
}

static void test_split_words(void **state)
{
	char **w;
	struct kp_buf err = KP_BUF_INIT, j = KP_BUF_INIT;
	assert_int_equal(
	    kp_mod_split_words("echo  \"a b\" 'c \"d' e\\ f \"x\\\"y\" $HOME", &w, &err), KP_OK);
	assert_string_equal(w[0], "echo");
	assert_string_equal(w[1], "a b");
	assert_string_equal(w[2], "c \"d");
	assert_string_equal(w[3], "e f");
	assert_string_equal(w[4], "x\"y");
	assert_string_equal(w[5], "$HOME");
	assert_null(w[6]);
	kp_mod_join_words((const char *const *)w, &j);
	assert_string_equal(j.buf, "echo 'a b' 'c \"d' 'e f' 'x\"y' '$HOME'");
	kp_mod_free_words(w);
	assert_int_equal(kp_mod_split_words("echo 'a", &w, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "unterminated quote in command 'echo 'a'");
	assert_int_equal(kp_mod_split_words("  ", &w, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "empty command");
	kp_buf_release(&err);
	kp_buf_release(&j);
}

static void test_parse_mode(void **state)
{
	int m;
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_mod_parse_mode("0644", &m, &err), KP_OK);
	assert_int_equal(m, 0644);
	assert_int_equal(kp_mod_parse_mode("644", &m, &err), KP_OK);
	assert_int_equal(m, 0644);
	assert_int_equal(kp_mod_parse_mode("0o755", &m, &err), KP_OK);
	assert_int_equal(m, 0755);
	assert_int_equal(kp_mod_parse_mode("1777", &m, &err), KP_OK);
	assert_int_equal(m, 01777);
	assert_int_equal(kp_mod_parse_mode("0648", &m, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "mode '0648' is not octal (digits 0-7, like '0644')");
	assert_int_equal(kp_mod_parse_mode("u+rwx", &m, &err), KP_ERR_INVALID);
	assert_string_equal(
	    err.buf, "symbolic mode 'u+rwx' is not supported (use an octal mode like '0644')");
	assert_int_equal(kp_mod_parse_mode("77777", &m, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "mode '77777' is out of range (at most 07777)");
	kp_buf_release(&err);

	struct kp_buf d = KP_BUF_INIT;
	kp_mod_duration_text(300000, &d);
	kp_buf_addch(&d, ' ');
	kp_mod_duration_text(1500, &d);
	kp_buf_addch(&d, ' ');
	kp_mod_duration_text(250, &d);
	assert_string_equal(d.buf, "300s 1.5s 0.25s");
	kp_buf_release(&d);
}

/* ---- copy and template ----------------------------------------------------------- */

static void test_copy_twice(void **state)
{
	struct kp_result r;
	struct stat st1, st2;
	char *sha = short_sha("hello\n"), want[256];

	run("copy", "{\"content\":\"hello\\n\",\"dest\":\"@/etc/x\",\"mode\":\"0640\"}", &r);
	assert_false(r.failed);
	assert_true(r.changed);
	snprintf(want, sizeof(want), "created '@/etc/x' (sha256 %s), mode 0640", sha);
	assert_string_equal(msg(&r), want);
	assert_int_equal(T->f.puts, 1);
	assert_int_equal(mode_of("@/etc/x"), 0640);
	assert_string_equal(unroot(&r.cmds), "put '@/etc/x'\n");
	char hex[65];
	kp_sha256_hex("hello\n", 6, hex);
	assert_string_equal(fact_str(&r, "checksum"), hex);
	kp_result_release(&r);

	char *p = rooted("@/etc/x");
	assert_int_equal(stat(p, &st1), 0);
	run("copy", "{\"content\":\"hello\\n\",\"dest\":\"@/etc/x\",\"mode\":\"640\"}", &r);
	assert_false(r.changed);
	assert_false(r.failed);
	snprintf(want, sizeof(want), "'@/etc/x' is up to date (sha256 %s)", sha);
	assert_string_equal(msg(&r), want);
	assert_int_equal(T->f.puts, 1); /* no second write */
	assert_int_equal(stat(p, &st2), 0);
	assert_int_equal(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);
	assert_int_equal(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
	assert_int_equal(st1.st_ino, st2.st_ino);
	kp_result_release(&r);
	free(p);
	free(sha);
}

static void test_copy_check_mode_and_diff(void **state)
{
	struct kp_result r;
	char *a = short_sha("a\nb\nc\n"), *b = short_sha("a\nB\nc\n"), want[256];

	put_file("@/etc/x", "a\nb\nc\n");
	T->check = true;
	T->diff = true;
	run("copy", "{\"content\":\"a\\nB\\nc\\n\",\"dest\":\"@/etc/x\"}", &r);
	assert_true(r.changed);
	snprintf(want, sizeof(want), "would write '@/etc/x' (sha256 %s -> %s)", a, b);
	assert_string_equal(msg(&r), want);
	assert_string_equal(unroot(&r.diff), "--- before: @/etc/x\n+++ after: @/etc/x\n"
					     "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
	assert_int_equal(T->f.puts, 0);
	char *t = file_text("@/etc/x");
	assert_string_equal(t, "a\nb\nc\n");
	free(t);
	kp_result_release(&r);

	/* the real run does what check mode said */
	T->check = false;
	run("copy", "{\"content\":\"a\\nB\\nc\\n\",\"dest\":\"@/etc/x\"}", &r);
	assert_true(r.changed);
	snprintf(want, sizeof(want), "wrote '@/etc/x' (sha256 %s -> %s)", a, b);
	assert_string_equal(msg(&r), want);
	assert_int_equal(T->f.puts, 1);
	t = file_text("@/etc/x");
	assert_string_equal(t, "a\nB\nc\n");
	free(t);
	kp_result_release(&r);
	free(a);
	free(b);
}

static void test_copy_mode_only_and_backup(void **state)
{
	struct kp_result r;
	put_file("@/etc/x", "same\n");
	char *p = rooted("@/etc/x");
	chmod(p, 0600);
	free(p);
	run("copy", "{\"content\":\"same\\n\",\"dest\":\"@/etc/x\",\"mode\":644}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "changed '@/etc/x': mode 0600 -> 0644");
	assert_string_equal(unroot(&r.cmds), "chmod 0644 '@/etc/x'\n");
	assert_int_equal(T->f.puts, 0); /* content untouched */
	assert_int_equal(mode_of("@/etc/x"), 0644);
	kp_result_release(&r);

	run("copy", "{\"content\":\"new\\n\",\"dest\":\"@/etc/x\",\"backup\":true}", &r);
	assert_true(r.changed);
	const char *bf = fact_str(&r, "backup_file");
	assert_int_equal(strncmp(bf, T->f.root, strlen(T->f.root)), 0);
	assert_int_equal(strlen(bf), strlen(T->f.root) + strlen("/etc/x.20240101120000~"));
	struct kp_buf old = KP_BUF_INIT, e = KP_BUF_INIT;
	assert_int_equal(kp_read_file(bf, 0, &old, &e), KP_OK);
	assert_string_equal(old.buf, "same\n");
	kp_buf_release(&old);
	kp_buf_release(&e);
	kp_result_release(&r);

	run("copy", "{\"content\":\"x\",\"dest\":\"@/etc/x\",\"mode\":\"0648\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "mode '0648' is not octal (digits 0-7, like '0644')");
	kp_result_release(&r);
}

static void test_copy_src_into_directory(void **state)
{
	struct kp_result r;
	char *sha = short_sha("from controller\n"), want[256];
	put_file("@/files.conf", "from controller\n");
	run("copy", "{\"src\":\"files.conf\",\"dest\":\"@/etc\"}", &r);
	assert_true(r.changed);
	snprintf(want, sizeof(want), "created '@/etc/files.conf' (sha256 %s)", sha);
	assert_string_equal(msg(&r), want);
	char *t = file_text("@/etc/files.conf");
	assert_string_equal(t, "from controller\n");
	free(t);
	kp_result_release(&r);

	run("copy", "{\"src\":\"missing.conf\",\"dest\":\"@/etc\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "cannot read '@/missing.conf': No such file or directory");
	kp_result_release(&r);

	run("copy", "{\"content\":\"x\",\"dest\":\"@/etc/\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "dest '@/etc/' is a directory: give the file's path with "
				     "'content'");
	kp_result_release(&r);
	free(sha);
}

static void test_template(void **state)
{
	struct kp_result r;
	put_file("@/t.conf.j2", "port={{ port }}\nhost={{ inventory_hostname }}\nn={{ x + 1 }}\n");
	run("template", "{\"src\":\"t.conf.j2\",\"dest\":\"@/etc/t.conf\"}", &r);
	assert_true(r.changed);
	assert_false(r.failed);
	char *t = file_text("@/etc/t.conf");
	assert_string_equal(t, "port=6443\nhost=node1\nn=42\n");
	free(t);
	kp_result_release(&r);
	run("template", "{\"src\":\"t.conf.j2\",\"dest\":\"@/etc/t.conf\"}", &r);
	assert_false(r.changed);
	assert_int_equal(T->f.puts, 1);
	kp_result_release(&r);

	put_file("@/bad.j2", "a\nb={{ nope }}\n");
	run("template", "{\"src\":\"bad.j2\",\"dest\":\"@/etc/t.conf\"}", &r);
	assert_true(r.failed);
	assert_false(r.changed);
	assert_string_equal(msg(&r), "@/bad.j2:1:1: undefined variable 'nope'");
	kp_result_release(&r);

	/* {% include %} finds files beside the template and in its templates/ */
	char *dir = rooted("@/tpl");
	assert_int_equal(mkdir(dir, 0755), 0);
	free(dir);
	dir = rooted("@/tpl/templates");
	assert_int_equal(mkdir(dir, 0755), 0);
	free(dir);
	put_file("@/tpl/main.j2", "[{% include 'part.j2' %}|{% include 'sub.j2' %}]\n");
	put_file("@/tpl/part.j2", "p={{ port }}\n");
	put_file("@/tpl/templates/sub.j2", "s={{ x }}");
	run("template", "{\"src\":\"tpl/main.j2\",\"dest\":\"@/etc/main.conf\"}", &r);
	assert_false(r.failed);
	t = file_text("@/etc/main.conf");
	assert_string_equal(t, "[p=6443|s=41]\n");
	free(t);
	kp_result_release(&r);

	/* a syntax error in a template file points into the file */
	put_file("@/syn.j2", "a\nb {{ x +* 2 }}\n");
	run("template", "{\"src\":\"syn.j2\",\"dest\":\"@/etc/t.conf\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "@/syn.j2:2:9: invalid template: unexpected '*' (line 2, "
				     "column 9)\n    b {{ x +* 2 }}\n            ^");
	kp_result_release(&r);
}

/* ---- fetch ------------------------------------------------------------------------ */

static void test_fetch(void **state)
{
	struct kp_result r;
	put_file("@/etc/node.conf", "on the node\n");
	run("fetch", "{\"src\":\"@/etc/node.conf\",\"dest\":\"backups\"}", &r);
	assert_true(r.changed);
	assert_false(r.failed);
	char *want = rooted("@/backups/node1@/etc/node.conf");
	assert_string_equal(fact_str(&r, "dest"), want);
	struct kp_buf got = KP_BUF_INIT, e = KP_BUF_INIT;
	assert_int_equal(kp_read_file(want, 0, &got, &e), KP_OK);
	assert_string_equal(got.buf, "on the node\n");
	kp_buf_release(&got);
	kp_buf_release(&e);
	free(want);
	kp_result_release(&r);

	run("fetch", "{\"src\":\"@/etc/node.conf\",\"dest\":\"backups\"}", &r);
	assert_false(r.changed);
	kp_result_release(&r);

	run("fetch", "{\"src\":\"@/etc/node.conf\",\"dest\":\"flat/\",\"flat\":true}", &r);
	assert_true(r.changed);
	assert_string_equal(unroot(&(struct kp_buf){(char *)fact_str(&r, "dest"), 0, 0}),
			    "@/flat/node.conf");
	assert_true(exists("@/flat/node.conf"));
	kp_result_release(&r);

	run("fetch", "{\"src\":\"@/etc/none\",\"dest\":\"backups\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "file not found: '@/etc/none'");
	kp_result_release(&r);
}

/* ---- file ---------------------------------------------------------------------------- */

static void test_file_states(void **state)
{
	struct kp_result r;
	T->check = true;
	run("file", "{\"path\":\"@/d/e\",\"state\":\"directory\",\"mode\":\"0750\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "would create directory '@/d/e' mode 0750");
	assert_false(exists("@/d"));
	kp_result_release(&r);
	T->check = false;
	run("file", "{\"path\":\"@/d/e\",\"state\":\"directory\",\"mode\":\"0750\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "created directory '@/d/e' mode 0750");
	assert_string_equal(unroot(&r.cmds), "mkdir -p '@/d/e'\nchmod 0750 '@/d/e'\n");
	assert_int_equal(mode_of("@/d/e"), 0750);
	kp_result_release(&r);
	run("file", "{\"path\":\"@/d/e\",\"state\":\"directory\",\"mode\":\"0750\"}", &r);
	assert_false(r.changed);
	assert_string_equal(msg(&r), "'@/d/e' is a directory as wanted");
	assert_int_equal(r.cmds.len, 0);
	kp_result_release(&r);

	/* the default state: an existing path keeps its type */
	run("file", "{\"path\":\"@/d/e\",\"mode\":\"0700\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "changed '@/d/e': mode 0750 -> 0700");
	kp_result_release(&r);
	run("file", "{\"path\":\"@/nothing\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "file '@/nothing' does not exist (use state: touch or "
				     "directory to create it)");
	kp_result_release(&r);

	run("file", "{\"path\":\"@/d/f\",\"state\":\"touch\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "created '@/d/f'");
	assert_true(exists("@/d/f"));
	kp_result_release(&r);
	run("file", "{\"path\":\"@/d/f\",\"state\":\"touch\"}", &r);
	assert_true(r.changed); /* like Ansible: touch always updates the times */
	assert_string_equal(msg(&r), "updated the times of '@/d/f'");
	kp_result_release(&r);

	run("file", "{\"path\":\"@/d/l\",\"state\":\"link\",\"src\":\"f\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "linked '@/d/l' -> 'f'");
	kp_result_release(&r);
	run("file", "{\"path\":\"@/d/l\",\"state\":\"link\",\"src\":\"f\"}", &r);
	assert_false(r.changed);
	kp_result_release(&r);
	run("file", "{\"path\":\"@/d/l\",\"state\":\"link\",\"src\":\"g\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "linked '@/d/l' -> 'g' (was 'f')");
	kp_result_release(&r);
	run("file", "{\"path\":\"@/d/f\",\"state\":\"link\",\"src\":\"g\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "'@/d/f' exists and is a file; not replacing it with a link");
	kp_result_release(&r);

	run("file", "{\"path\":\"@/d\",\"state\":\"absent\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "removed directory '@/d'");
	assert_false(exists("@/d"));
	kp_result_release(&r);
	run("file", "{\"path\":\"@/d\",\"state\":\"absent\"}", &r);
	assert_false(r.changed);
	assert_string_equal(msg(&r), "'@/d' is absent");
	kp_result_release(&r);
}

/* ---- lineinfile ------------------------------------------------------------------------- */

static void lif(const char *initial, const char *args, bool changed, const char *message,
		const char *after)
{
	struct kp_result r;
	char a[512];
	if (initial)
		put_file("@/etc/l", initial);
	snprintf(a, sizeof(a), "{\"path\":\"@/etc/l\",%s}", args);
	run("lineinfile", a, &r);
	assert_false(r.failed);
	assert_int_equal(r.changed, changed);
	assert_string_equal(msg(&r), message);
	char *t = file_text("@/etc/l");
	assert_string_equal(t, after);
	free(t);
	kp_result_release(&r);
	/* and the second run finds nothing to do */
	run("lineinfile", a, &r);
	assert_false(r.changed);
	kp_result_release(&r);
}

static void test_lineinfile(void **state)
{
	struct kp_result r;
	/* replace the last line matching regexp */
	lif("a=1\nb=2\na=3\n", "\"regexp\":\"^a=\",\"line\":\"a=9\"", true,
	    "replaced line 3 in '@/etc/l'", "a=1\nb=2\na=9\n");
	/* insert after the last line matching insertafter */
	lif("[x]\nk=1\n[y]\nk=2\n", "\"line\":\"new=1\",\"insertafter\":\"^\\\\[x\\\\]\"", true,
	    "added a line to '@/etc/l' (line 2)", "[x]\nnew=1\nk=1\n[y]\nk=2\n");
	/* at the end, adding the missing newline first */
	lif("a\nb", "\"line\":\"c\"", true, "added a line to '@/etc/l' (line 3)", "a\nb\nc\n");
	/* before the first line */
	lif("a\n", "\"line\":\"z\",\"insertbefore\":\"BOF\"", true,
	    "added a line to '@/etc/l' (line 1)", "z\na\n");
	/* present already: nothing */
	lif("a\nz\n", "\"line\":\"z\"", false, "'@/etc/l' already has what is wanted", "a\nz\n");
	/* a regexp that misses a line already present adds nothing */
	lif("swap=off\n", "\"regexp\":\"^#?swap \",\"line\":\"swap=off\"", false,
	    "'@/etc/l' already has what is wanted", "swap=off\n");
	/* absent removes every match */
	lif("x=1\ny\nx=2\n", "\"regexp\":\"^x=\",\"state\":\"absent\"", true,
	    "removed 2 lines from '@/etc/l'", "y\n");

	/* missing file: an error unless create */
	run("lineinfile", "{\"path\":\"@/etc/new\",\"line\":\"x\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "file '@/etc/new' does not exist (use create: true to "
				     "create it)");
	kp_result_release(&r);
	run("lineinfile", "{\"path\":\"@/etc/new\",\"line\":\"x\",\"create\":true}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "added a line to '@/etc/new' (line 1)");
	char *t = file_text("@/etc/new");
	assert_string_equal(t, "x\n");
	free(t);
	kp_result_release(&r);

	/* check mode with diff, and a bad regexp */
	put_file("@/etc/l", "a\nb\n");
	T->f.puts = 0;
	T->check = T->diff = true;
	run("lineinfile", "{\"path\":\"@/etc/l\",\"regexp\":\"^b\",\"line\":\"B\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "would replace line 2 in '@/etc/l'");
	assert_string_equal(unroot(&r.diff), "--- before: @/etc/l\n+++ after: @/etc/l\n"
					     "@@ -1,2 +1,2 @@\n a\n-b\n+B\n");
	assert_int_equal(T->f.puts, 0);
	kp_result_release(&r);
	run("lineinfile", "{\"path\":\"@/etc/l\",\"regexp\":\"(\",\"line\":\"B\"}", &r);
	assert_true(r.failed);
	assert_int_equal(strncmp(msg(&r), "bad regexp '(': ", 16), 0);
	kp_result_release(&r);
}

/* ---- command and shell ----------------------------------------------------------------- */

static void test_command(void **state)
{
	struct kp_result r;
	run("command", "{\"cmd\":\"printf '%s|' \\\"a b\\\" 'c' $HOME\"}", &r);
	assert_true(r.changed);
	assert_false(r.failed);
	assert_true(r.has_rc);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "a b|c|$HOME|");
	assert_string_equal(r.cmds.buf, "printf '%s|' 'a b' c '$HOME'\n");
	kp_result_release(&r);

	put_file("@/etc/marker", "");
	T->f.execs = 0;
	run("command", "{\"cmd\":\"touch @/etc/ran\",\"creates\":\"@/etc/marker\"}", &r);
	assert_false(r.changed);
	assert_string_equal(msg(&r), "skipped: '@/etc/marker' exists");
	assert_false(exists("@/etc/ran"));
	assert_int_equal(T->f.execs, 0);
	kp_result_release(&r);
	run("command", "{\"cmd\":\"touch @/etc/ran\",\"removes\":\"@/etc/none\"}", &r);
	assert_false(r.changed);
	assert_string_equal(msg(&r), "skipped: '@/etc/none' does not exist");
	kp_result_release(&r);
	/* creates relative to chdir */
	run("command", "{\"argv\":[\"touch\",\"ran\"],\"chdir\":\"@/etc\",\"creates\":\"ran\"}",
	    &r);
	assert_true(r.changed);
	assert_true(exists("@/etc/ran"));
	assert_string_equal(unroot(&r.cmds), "cd '@/etc' && touch ran\n");
	kp_result_release(&r);

	T->check = true;
	run("command", "{\"cmd\":\"rm -rf @/etc\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "would run: rm -rf @/etc");
	assert_true(exists("@/etc"));
	kp_result_release(&r);
	T->check = false;

	run("command", "{\"cmd\":\"sh -c 'echo oops >&2; exit 3'\"}", &r);
	assert_true(r.failed);
	assert_int_equal(r.rc, 3);
	assert_string_equal(r.err.buf, "oops\n");
	assert_string_equal(msg(&r), "non-zero return code");
	kp_result_release(&r);

	run("command", "{\"cmd\":\"cat\",\"stdin\":\"secret input\"}", &r);
	assert_string_equal(r.out.buf, "secret input");
	assert_string_equal(r.cmds.buf, "cat\n"); /* never the stdin */
	kp_result_release(&r);

	T->timeout_ms = 300;
	run("command", "{\"cmd\":\"sleep 5\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "command timed out after 0.3s (killed with its children)");
	kp_result_release(&r);
}

static void test_shell(void **state)
{
	struct kp_result r;
	run("shell", "{\"cmd\":\"echo a b | tr a x; echo $0 >&2\",\"chdir\":\"@/etc\"}", &r);
	assert_true(r.changed);
	assert_string_equal(r.out.buf, "x b\n");
	assert_string_equal(r.err.buf, "/bin/sh\n");
	assert_string_equal(r.cmds.buf + strlen(r.cmds.buf) - strlen("echo $0 >&2\n"),
			    "echo $0 >&2\n");
	kp_result_release(&r);
	run("shell", "{\"cmd\":\"echo $BASH_VERSION | cut -c1\",\"executable\":\"/bin/bash\"}", &r);
	assert_false(r.failed);
	assert_int_not_equal(r.out.buf[0], '\n');
	kp_result_release(&r);
	/* the task's environment reaches the command */
	run("shell", "{\"cmd\":\"echo $PATH\"}", &r);
	assert_string_equal(unroot(&r.out), "@/bin:/usr/bin:/bin\n");
	kp_result_release(&r);
}

/* ---- systemd ---------------------------------------------------------------------------- */

/* A systemctl that records its arguments and answers from state files. */
static void fake_systemctl(const char *active, const char *enabled)
{
	char script[2048];
	snprintf(script, sizeof(script),
		 "#!/bin/sh\n"
		 "echo \"$*\" >> %s/calls\n"
		 "while case \"$1\" in --*) true;; *) false;; esac; do shift; done\n"
		 "case \"$1\" in\n"
		 "is-active) cat %s/active; [ \"$(cat %s/active)\" = active ];;\n"
		 "is-enabled) cat %s/enabled; [ \"$(cat %s/enabled)\" = enabled ];;\n"
		 "show) echo LoadState=loaded;;\n"
		 "start|restart) echo active > %s/active;;\n"
		 "stop) echo inactive > %s/active;;\n"
		 "enable) echo enabled > %s/enabled;;\n"
		 "disable|unmask) echo disabled > %s/enabled;;\n"
		 "mask) echo masked > %s/enabled;;\n"
		 "esac\n",
		 T->f.root, T->f.root, T->f.root, T->f.root, T->f.root, T->f.root, T->f.root,
		 T->f.root, T->f.root, T->f.root);
	put_file("@/bin/systemctl", script);
	char *p = rooted("@/bin/systemctl");
	chmod(p, 0755);
	free(p);
	char st[64];
	snprintf(st, sizeof(st), "%s\n", active);
	put_file("@/active", st);
	snprintf(st, sizeof(st), "%s\n", enabled);
	put_file("@/enabled", st);
	put_file("@/calls", "");
}

static void test_systemd(void **state)
{
	struct kp_result r;
	fake_systemctl("inactive", "disabled");
	T->check = true;
	run("systemd",
	    "{\"name\":\"kubelet\",\"state\":\"started\",\"enabled\":true,"
	    "\"daemon_reload\":true}",
	    &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "would run: systemctl daemon-reload; systemctl enable "
				     "'kubelet'; systemctl start 'kubelet'");
	assert_string_equal(fact_str(&r, "status"), "inactive");
	kp_result_release(&r);
	char *calls = file_text("@/calls");
	assert_string_equal(calls, "show -p LoadState kubelet\nis-active kubelet\n"
				   "is-enabled kubelet\n");
	free(calls);

	T->check = false;
	put_file("@/calls", "");
	run("systemd",
	    "{\"name\":\"kubelet\",\"state\":\"started\",\"enabled\":true,"
	    "\"daemon_reload\":true}",
	    &r);
	assert_true(r.changed);
	assert_false(r.failed);
	assert_string_equal(msg(&r), "reloaded systemd, enabled 'kubelet', started 'kubelet' (was "
				     "inactive)");
	kp_result_release(&r);
	calls = file_text("@/calls");
	assert_string_equal(calls, "show -p LoadState kubelet\nis-active kubelet\n"
				   "is-enabled kubelet\ndaemon-reload\nenable kubelet\n"
				   "start kubelet\n");
	free(calls);

	/* there already: nothing runs */
	put_file("@/calls", "");
	run("systemd", "{\"name\":\"kubelet\",\"state\":\"started\",\"enabled\":true}", &r);
	assert_false(r.changed);
	assert_string_equal(msg(&r), "'kubelet' is active, enabled");
	assert_true(kp_value_truthy(kp_map_get(r.facts, "enabled")));
	kp_result_release(&r);
	calls = file_text("@/calls");
	assert_string_equal(calls, "show -p LoadState kubelet\nis-active kubelet\n"
				   "is-enabled kubelet\n");
	free(calls);

	/* restarted always acts; stopped stops */
	run("systemd", "{\"name\":\"kubelet\",\"state\":\"restarted\"}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "restarted 'kubelet' (was active)");
	kp_result_release(&r);
	run("systemd", "{\"name\":\"kubelet\",\"state\":\"stopped\"}", &r);
	assert_true(r.changed);
	kp_result_release(&r);
	char *a = file_text("@/active");
	assert_string_equal(a, "inactive\n");
	free(a);

	run("systemd", "{\"state\":\"started\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "'name' is required with 'state', 'enabled' or 'masked'");
	kp_result_release(&r);

	/* masked, and every systemctl with scope, no_block and force */
	put_file("@/calls", "");
	run("systemd",
	    "{\"name\":\"kubelet\",\"masked\":true,\"scope\":\"user\",\"no_block\":true,"
	    "\"force\":true}",
	    &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "masked 'kubelet'");
	kp_result_release(&r);
	calls = file_text("@/calls");
	assert_string_equal(calls, "--user --no-block --force show -p LoadState kubelet\n"
				   "--user --no-block --force is-active kubelet\n"
				   "--user --no-block --force is-enabled kubelet\n"
				   "--user --no-block --force mask kubelet\n");
	free(calls);
	run("systemd", "{\"name\":\"kubelet\",\"masked\":true}", &r);
	assert_false(r.changed);
	kp_result_release(&r);
	run("systemd", "{\"name\":\"kubelet\",\"masked\":false,\"enabled\":true}", &r);
	assert_true(r.changed);
	assert_string_equal(msg(&r), "unmasked 'kubelet', enabled 'kubelet'");
	kp_result_release(&r);
}

/* service: systemd's work, init-script arguments ignored as Ansible's
 * service does on systemd, another service manager refused */
static void test_service(void **state)
{
	struct kp_result r;
	fake_systemctl("inactive", "disabled");
	run("service",
	    "{\"name\":\"kubelet\",\"state\":\"started\",\"enabled\":true,"
	    "\"sleep\":3,\"pattern\":\"kubelet\",\"arguments\":\"-v\"}",
	    &r);
	assert_true(r.changed);
	assert_false(r.failed);
	assert_string_equal(msg(&r), "enabled 'kubelet', started 'kubelet' (was inactive)");
	kp_result_release(&r);
	char *calls = file_text("@/calls");
	assert_string_equal(calls, "show -p LoadState kubelet\nis-active kubelet\n"
				   "is-enabled kubelet\nenable kubelet\nstart kubelet\n");
	free(calls);
	run("service", "{\"name\":\"kubelet\",\"state\":\"stopped\",\"use\":\"sysvinit\"}", &r);
	assert_true(r.failed);
	assert_string_equal(msg(&r), "kplan manages services with systemd only, not 'sysvinit'");
	kp_result_release(&r);
}

/* ---- wait-for ------------------------------------------------------------------------- */

static void test_wait_for(void **state)
{
	struct kp_result r;
	char a[256];

	put_file("@/etc/ready", "");
	run("wait-for", "{\"path\":\"@/etc/ready\"}", &r);
	assert_false(r.changed);
	assert_false(r.failed);
	assert_string_equal(msg(&r), "ready: path '@/etc/ready' (after 0s)");
	kp_result_release(&r);

	T->check = true;
	run("wait-for", "{\"path\":\"@/etc/later\"}", &r);
	assert_false(r.changed);
	assert_string_equal(msg(&r), "would wait for path '@/etc/later' (up to 300s)");
	kp_result_release(&r);
	T->check = false;

	/* a port this test listens on */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	int port = ntohs(sa.sin_port);
	snprintf(a, sizeof(a), "{\"port\":%d}", port);
	run("wait-for", a, &r);
	assert_false(r.failed);
	char want[128];
	snprintf(want, sizeof(want), "ready: port %d on 127.0.0.1 (after 0s)", port);
	assert_string_equal(msg(&r), want);
	kp_result_release(&r);
	close(s);

	/* closed now: times out */
	snprintf(a, sizeof(a), "{\"port\":%d,\"timeout\":1}", port);
	run("wait-for", a, &r);
	assert_true(r.failed);
	assert_false(r.changed);
	snprintf(want, sizeof(want), "timed out after 1s waiting for port %d on 127.0.0.1", port);
	assert_string_equal(msg(&r), want);
	kp_result_release(&r);

	run("wait-for", "{\"cmd\":\"test -e @/etc/ready\",\"timeout\":\"2s\"}", &r);
	assert_false(r.failed);
	kp_result_release(&r);
}

/* ---- local modules -------------------------------------------------------------------- */

static void test_debug(void **state)
{
	struct kp_result r;
	run("debug", "{\"msg\":\"hello\"}", &r);
	assert_string_equal(r.msg.buf, "hello");
	assert_false(r.changed);
	kp_result_release(&r);
	run("debug", "{\"msg\":{\"a\":[1,2]}}", &r);
	assert_string_equal(r.msg.buf, "{\"a\":[1,2]}");
	kp_result_release(&r);
	run("debug", "{\"var\":\"x + 1\"}", &r);
	assert_string_equal(r.msg.buf, "x + 1: 42");
	assert_int_equal(kp_map_get(r.facts, "msg")->u.i, 42);
	kp_result_release(&r);
	run("debug", "{\"var\":\"nope\"}", &r);
	assert_false(r.failed);
	assert_string_equal(r.msg.buf, "nope: not defined");
	kp_result_release(&r);
}

static void test_assert_fail_set_fact(void **state)
{
	struct kp_result r;
	run("assert", "{\"that\":[\"x == 41\",\"l | length == 2\"]}", &r);
	assert_false(r.failed);
	assert_string_equal(r.msg.buf, "all assertions passed");
	kp_result_release(&r);
	run("assert", "{\"that\":[\"x == 41\",\"port < 1024\"]}", &r);
	assert_true(r.failed);
	assert_string_equal(r.msg.buf, "assertion failed: port < 1024");
	assert_string_equal(fact_str(&r, "assertion"), "port < 1024");
	assert_false(kp_value_truthy(kp_map_get(r.facts, "evaluated_to")));
	kp_result_release(&r);
	run("assert", "{\"that\":\"x == 1\",\"fail_msg\":\"x is wrong\",\"success_msg\":\"ok\"}",
	    &r);
	assert_string_equal(r.msg.buf, "x is wrong");
	kp_result_release(&r);
	run("assert", "{\"that\":\"x ==\"}", &r);
	assert_true(r.failed);
	assert_int_equal(strncmp(r.msg.buf, "assertion 'x ==': ", 18), 0);
	kp_result_release(&r);

	run("fail", "{}", &r);
	assert_true(r.failed);
	assert_string_equal(r.msg.buf, "Failed as requested from task");
	kp_result_release(&r);
	run("fail", "{\"msg\":\"stop here\"}", &r);
	assert_string_equal(r.msg.buf, "stop here");
	kp_result_release(&r);

	struct kp_buf j = KP_BUF_INIT;
	run("set-fact", "{\"a\":1,\"b\":{\"c\":\"d\"},\"cacheable\":true}", &r);
	assert_false(r.changed);
	assert_non_null(r.set_vars);
	kp_value_to_json(r.set_vars, false, false, &j);
	assert_string_equal(j.buf, "{\"a\":1,\"b\":{\"c\":\"d\"}}");
	kp_buf_release(&j);
	kp_result_release(&r);
}

static void test_pause(void **state)
{
	struct kp_result r;
	run("pause", "{\"seconds\":0}", &r);
	assert_string_equal(r.msg.buf, "paused for 0s");
	kp_result_release(&r);
	T->check = true;
	run("pause", "{\"minutes\":1}", &r);
	assert_string_equal(r.msg.buf, "would pause for 60s");
	kp_result_release(&r);
	T->check = false;
	if (!isatty(0)) {
		run("pause", "{\"prompt\":\"go on?\"}", &r);
		assert_true(r.failed);
		assert_string_equal(r.msg.buf,
				    "pause: a prompt needs a terminal (use seconds: or --yes)");
		kp_result_release(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_result_value),
	    cmocka_unit_test(test_split_words),
	    cmocka_unit_test(test_parse_mode),
	    cmocka_unit_test_setup_teardown(test_copy_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_check_mode_and_diff, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_mode_only_and_backup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copy_src_into_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_template, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_states, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lineinfile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_command, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shell, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_systemd, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_service, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wait_for, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_debug, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_assert_fail_set_fact, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pause, setup, teardown),
	};
	return cmocka_run_group_tests_name("modules", tests, NULL, NULL);
}
