/*
 * test_transport.c - the local transport: exec (status, streams, stdin, env,
 * directories, timeouts, output caps, threads), put/get/stat with and
 * without become, quoting and hashing.
 *
 * Everything happens in a private mkdtemp directory that the group teardown
 * removes; every process a test starts is ended and reaped.
 */
#include "unit.h"
#include "transport/transport.h"
#include "transport/ssh_config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

struct fixture {
	char dir[64];
};

static const char *tdir(void **state)
{
	return ((struct fixture *)*state)->dir;
}

static char *path_in(void **state, const char *name)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addf(&b, "%s/%s", tdir(state), name);
	return kp_buf_detach(&b, NULL);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct kp_conn *conn_new(void)
{
	struct kp_conn *c = kp_xcalloc(1, sizeof(*c));
	struct kp_buf err = KP_BUF_INIT;
	c->ops = &kp_transport_local;
	c->host = kp_xstrdup("localhost");
	assert_int_equal(c->ops->open(c, &err), KP_OK);
	kp_buf_release(&err);
	return c;
}

/* Run a shell command and return its result (asserting exec itself worked). */
static void sh(struct kp_conn *c, const char *cmd, struct kp_exec_res *res)
{
	struct kp_buf err = KP_BUF_INIT;
	kp_exec_res_init(res);
	assert_int_equal(kp_conn_sh(c, cmd, 0, res, &err), KP_OK);
	assert_int_equal(err.len, 0);
	kp_buf_release(&err);
}

static void exec_req(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res)
{
	struct kp_buf err = KP_BUF_INIT;
	kp_exec_res_init(res);
	assert_int_equal(c->ops->exec(c, req, res, &err), KP_OK);
	kp_buf_release(&err);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int group_setup(void **state)
{
	struct fixture *f = kp_xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/kplan-transport-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;
	int rc = nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return rc;
}

static void test_status_and_streams(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;

	sh(c, "true", &r);
	assert_int_equal(r.rc, 0);
	assert_false(r.timed_out);
	assert_false(r.truncated);
	kp_exec_res_release(&r);

	sh(c, "exit 3", &r);
	assert_int_equal(r.rc, 3);
	kp_exec_res_release(&r);

	sh(c, "kill -9 $$", &r);
	assert_int_equal(r.rc, 128 + 9);
	kp_exec_res_release(&r);

	sh(c, "echo out; echo err >&2; echo more", &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "out\nmore\n");
	assert_string_equal(r.err.buf, "err\n");
	assert_true(r.duration_ms >= 0 && r.duration_ms < 60000);
	kp_exec_res_release(&r);

	/* A command that reads stdin sees EOF when there is no data. */
	sh(c, "cat; echo end", &r);
	assert_string_equal(r.out.buf, "end\n");
	kp_exec_res_release(&r);
	kp_conn_free(c);
}

static void test_stdin(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	static const char bin[] = "hello\0world\n\377";
	struct kp_exec_req req = {.cmd = "cat", .stdin_data = bin, .stdin_len = sizeof(bin) - 1};

	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.out.len, sizeof(bin) - 1);
	assert_memory_equal(r.out.buf, bin, sizeof(bin) - 1);
	kp_exec_res_release(&r);

	/* 3 MB in and out at once: needs the poll loop to write and read together. */
	size_t n = 3u << 20;
	char *big = kp_xmalloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i * 7 + i / 251);
	req = (struct kp_exec_req){
	    .cmd = "cat; cat >&2 </dev/null", .stdin_data = big, .stdin_len = n};
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.out.len, n);
	assert_memory_equal(r.out.buf, big, n);
	kp_exec_res_release(&r);

	/* A command that does not read its stdin: no SIGPIPE kills us. */
	req = (struct kp_exec_req){.cmd = "exec 0<&-; echo ok", .stdin_data = big, .stdin_len = n};
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "ok\n");
	kp_exec_res_release(&r);
	free(big);
	kp_conn_free(c);
}

static void test_env(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	struct kp_buf err = KP_BUF_INIT;
	const char *env[] = {"KP_A=1", "KP_B=x y 'z'", "HOME=/kplan-home", "KP_A=2", NULL};
	struct kp_exec_req req = {.cmd = "printf '%s|%s|%s' \"$KP_A\" \"$KP_B\" \"$HOME\"",
				  .env = env};

	exec_req(c, &req, &r);
	assert_string_equal(r.out.buf, "2|x y 'z'|/kplan-home");
	kp_exec_res_release(&r);

	/* The controller's environment is there too. */
	req = (struct kp_exec_req){.cmd = "printf %s \"$PATH\"", .env = env};
	exec_req(c, &req, &r);
	assert_string_equal(r.out.buf, getenv("PATH"));
	kp_exec_res_release(&r);

	const char *bad[] = {"NOVALUE", NULL};
	req = (struct kp_exec_req){.cmd = "true", .env = bad};
	kp_exec_res_init(&r);
	assert_int_equal(c->ops->exec(c, &req, &r, &err), KP_ERR_INVALID);
	assert_string_equal(err.buf, "invalid environment entry 'NOVALUE': expected NAME=value");
	kp_exec_res_release(&r);
	kp_buf_release(&err);
	kp_conn_free(c);
}

static void test_chdir_and_workdir(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	struct kp_buf err = KP_BUF_INIT, want = KP_BUF_INIT;
	char *sub = path_in(state, "wd");
	char *missing = path_in(state, "nowhere");
	char real[4096];

	assert_int_equal(mkdir(sub, 0755), 0);
	assert_non_null(realpath(tdir(state), real));

	struct kp_exec_req req = {.cmd = "pwd -P", .chdir = tdir(state)};
	exec_req(c, &req, &r);
	kp_buf_addf(&want, "%s\n", real);
	assert_string_equal(r.out.buf, want.buf);
	kp_exec_res_release(&r);

	req.chdir = missing;
	kp_exec_res_init(&r);
	assert_int_equal(c->ops->exec(c, &req, &r, &err), KP_ERR_IO);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "cannot change to directory '%s': No such file or directory", missing);
	assert_string_equal(err.buf, want.buf);
	kp_exec_res_release(&r);
	kp_conn_free(c);

	/* workdir: checked by open, used when the request names no chdir. */
	c = kp_xcalloc(1, sizeof(*c));
	c->ops = &kp_transport_local;
	c->workdir = kp_xstrdup(missing);
	kp_buf_reset(&err);
	assert_int_equal(c->ops->open(c, &err), KP_ERR_UNREACHABLE);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "cannot use workdir '%s': No such file or directory", missing);
	assert_string_equal(err.buf, want.buf);
	free(c->workdir);
	c->workdir = kp_xstrdup(sub);
	kp_buf_reset(&err);
	assert_int_equal(c->ops->open(c, &err), KP_OK);
	sh(c, "pwd -P", &r);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "%s/wd\n", real);
	assert_string_equal(r.out.buf, want.buf);
	kp_exec_res_release(&r);
	kp_conn_free(c);

	free(sub);
	free(missing);
	kp_buf_release(&err);
	kp_buf_release(&want);
}

static void test_argv(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	const char *argv[] = {"printf", "%s|%s", "$HOME", "a b;c", NULL};
	struct kp_exec_req req = {.argv = argv};

	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "$HOME|a b;c");
	kp_exec_res_release(&r);

	const char *missing[] = {"nosuchprog", "x", NULL};
	req = (struct kp_exec_req){.argv = missing};
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 127);
	assert_string_equal(r.out.buf, "");
	if (!unit_valgrind())
		assert_string_equal(r.err.buf,
				    "kplan: cannot run 'nosuchprog': No such file or directory\n");
	kp_exec_res_release(&r);

	const char *notexec[] = {"/etc/passwd", NULL};
	req = (struct kp_exec_req){.argv = notexec};
	exec_req(c, &req, &r);
	if (!unit_valgrind()) { /* valgrind: exit 127, no message (see unit.h) */
		assert_int_equal(r.rc, 126);
		assert_string_equal(r.err.buf,
				    "kplan: cannot run '/etc/passwd': Permission denied\n");
	}
	kp_exec_res_release(&r);
	kp_conn_free(c);
}

static void test_no_inherited_fds(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	/* Deliberately without O_CLOEXEC, as another thread's library might. */
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 0);
	/* ls holds fd 3 itself for reading the directory. */
	sh(c, "ls /proc/self/fd", &r);
	assert_string_equal(r.out.buf, "0\n1\n2\n3\n");
	kp_exec_res_release(&r);
	close(leak);
	kp_conn_free(c);
}

static pid_t read_pid(const char *path)
{
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(path, "r");
		long pid = 0;
		if (f) {
			int n = fscanf(f, "%ld", &pid);
			fclose(f);
			if (n == 1 && pid > 0)
				return (pid_t)pid;
		}
		usleep(10000);
	}
	return -1;
}

/* Reap every orphan handed to us as subreaper; true when `pid` was among them
 * or is gone. */
static bool reaped_within(pid_t pid, int ms)
{
	bool seen = false;
	for (int i = 0; i < ms / 10; i++) {
		pid_t w;
		while ((w = waitpid(-1, NULL, WNOHANG)) > 0)
			if (w == pid)
				seen = true;
		if (seen || (kill(pid, 0) < 0 && errno == ESRCH))
			return true;
		usleep(10000);
	}
	return false;
}

static void reap_orphans(int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(10000);
	}
}

static void test_timeout_kills_group(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	struct kp_buf cmd = KP_BUF_INIT;
	char *pidfile = path_in(state, "bg.pid");

	/* As subreaper the orphaned background sleep becomes our child, so we can
	 * reap it and ESRCH is certain (whatever PID 1 does with zombies). */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
	kp_buf_addf(&cmd, "sleep 30 & echo $! > '%s'; sleep 30; wait", pidfile);
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = 300};
	int64_t t0 = mono_ms();
	exec_req(c, &req, &r);
	int64_t took = mono_ms() - t0;
	assert_true(r.timed_out);
	assert_int_equal(r.rc, 128 + SIGTERM);
	/* killed at the timeout, long before the 30 s sleep would end; the
	 * upper bound leaves a loaded machine room */
	assert_true(took >= 300 && took < 20000);
	assert_true(r.duration_ms >= 300 && r.duration_ms < 20000);
	kp_exec_res_release(&r);

	pid_t bg = read_pid(pidfile);
	assert_true(bg > 0);
	bool gone = reaped_within(bg, 2000);
	if (!gone) {
		kill(bg, SIGKILL);
		waitpid(bg, NULL, 0);
	}
	assert_true(gone);
	assert_int_equal(kill(bg, 0), -1);
	assert_int_equal(errno, ESRCH);

	/* A group that ignores SIGTERM gets SIGKILL a second later. */
	req = (struct kp_exec_req){.cmd = "trap '' TERM; sleep 30; echo never", .timeout_ms = 200};
	t0 = mono_ms();
	exec_req(c, &req, &r);
	took = mono_ms() - t0;
	assert_true(r.timed_out);
	assert_int_equal(r.rc, 128 + SIGKILL);
	assert_string_equal(r.out.buf, "");
	assert_true(took >= 1200 && took < 3000);
	kp_exec_res_release(&r);
	reap_orphans(200); /* the sleep, orphaned when sh died first */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);

	/* A command that finishes in time is not affected. */
	req = (struct kp_exec_req){.cmd = "echo quick", .timeout_ms = 5000};
	exec_req(c, &req, &r);
	assert_false(r.timed_out);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "quick\n");
	kp_exec_res_release(&r);

	free(pidfile);
	kp_buf_release(&cmd);
	kp_conn_free(c);
}

static void test_output_cap(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	size_t cap = 1u << 20;
	char marker[128];
	struct kp_exec_req req = {.cmd = "head -c 10485760 /dev/zero | tr '\\000' a; echo done >&2",
				  .max_output = cap};

	snprintf(marker, sizeof(marker), KP_TRUNCATED_MARKER, cap);
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_true(r.truncated);
	assert_int_equal(r.out.len, cap + strlen(marker));
	for (size_t i = 0; i < cap; i++)
		if (r.out.buf[i] != 'a')
			fail_msg("byte %zu is %d", i, r.out.buf[i]);
	assert_string_equal(r.out.buf + cap, marker);
	assert_string_equal(r.err.buf, "done\n");
	assert_true(r.out.alloc <= 4 * cap);
	kp_exec_res_release(&r);

	/* Exactly the cap is not truncated. */
	req = (struct kp_exec_req){.cmd = "printf 12345", .max_output = 5};
	exec_req(c, &req, &r);
	assert_false(r.truncated);
	assert_string_equal(r.out.buf, "12345");
	kp_exec_res_release(&r);
	kp_conn_free(c);
}

static void test_sh_quote(void **state)
{
	struct kp_conn *c = conn_new();
	static const char *nasty[] = {
	    "",
	    "plain",
	    "it's",
	    "'",
	    "''\\'",
	    "a b  c",
	    "line\nbreak",
	    "$(touch /tmp/kplan-pwned)",
	    "`id`",
	    "$HOME ${X:-y}",
	    "\"dq\" \\ ; & | < > * ?",
	    "-n",
	    "\t\r\x01\x7f\xff",
	};
	char all[256];
	for (int i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';

	for (size_t i = 0; i <= KP_ARRAY_LEN(nasty); i++) {
		const char *s = i < KP_ARRAY_LEN(nasty) ? nasty[i] : all;
		struct kp_buf cmd = KP_BUF_INIT;
		struct kp_exec_res r;
		kp_buf_addstr(&cmd, "printf %s ");
		kp_sh_quote(&cmd, s);
		sh(c, cmd.buf, &r);
		assert_int_equal(r.rc, 0);
		assert_int_equal(r.out.len, strlen(s));
		assert_memory_equal(r.out.buf, s, strlen(s));
		kp_exec_res_release(&r);
		kp_buf_release(&cmd);
	}
	struct kp_buf q = KP_BUF_INIT;
	kp_sh_quote(&q, "it's");
	assert_string_equal(q.buf, "'it'\\''s'");
	kp_buf_release(&q);
	assert_int_equal(access("/tmp/kplan-pwned", F_OK), -1);
	kp_conn_free(c);
}

static void test_sha256(void **state)
{
	char hex[65];
	kp_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, ABC_SHA256);
	kp_sha256_hex("", 0, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static bool temp_files_left(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".kplan."))
			found = true;
	closedir(d);
	return found;
}

static void fill_binary(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(i % 256); /* includes NULs */
}

static void test_put_get(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_buf err = KP_BUF_INIT, got = KP_BUF_INIT, want = KP_BUF_INIT;
	char *p = path_in(state, "data.bin");
	char *missing = path_in(state, "nodir/f");
	char data[1000];
	struct kp_put_opts o = {.mode = 0600};
	struct stat sb;

	fill_binary(data, sizeof(data));
	assert_int_equal(c->ops->put(c, p, data, sizeof(data), &o, &err), KP_OK);
	assert_int_equal(c->ops->get(c, p, 0, &got, &err), KP_OK);
	assert_int_equal(got.len, sizeof(data));
	assert_memory_equal(got.buf, data, sizeof(data));
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);

	assert_int_equal(c->ops->get(c, p, sizeof(data), &got, &err), KP_OK);
	assert_int_equal(got.len, sizeof(data));
	assert_int_equal(c->ops->get(c, p, 999, &got, &err), KP_ERR_LIMIT);
	kp_buf_addf(&want, "'%s' is larger than 999 bytes", p);
	assert_string_equal(err.buf, want.buf);
	assert_int_equal(got.len, sizeof(data)); /* untouched on error */

	assert_int_equal(c->ops->get(c, missing, 0, &got, &err), KP_ERR_IO);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "cannot read '%s': No such file or directory", missing);
	assert_string_equal(err.buf, want.buf);

	assert_int_equal(c->ops->put(c, missing, "x", 1, &o, &err), KP_ERR_IO);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "cannot write '%s': No such file or directory", missing);
	assert_string_equal(err.buf, want.buf);

	/* Empty content. */
	assert_int_equal(c->ops->put(c, p, "", 0, &o, &err), KP_OK);
	assert_int_equal(c->ops->get(c, p, 0, &got, &err), KP_OK);
	assert_int_equal(got.len, 0);

	assert_false(temp_files_left(tdir(state)));
	free(p);
	free(missing);
	kp_buf_release(&err);
	kp_buf_release(&got);
	kp_buf_release(&want);
	kp_conn_free(c);
}

static void test_put_modes_and_owner(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_buf err = KP_BUF_INIT;
	char *p = path_in(state, "modes.txt");
	struct passwd *nobody = getpwnam("nobody");
	struct group *nogroup = getgrnam("nogroup");
	struct kp_put_opts keep = {.mode = -1};
	struct stat sb;

	assert_non_null(nobody);
	assert_non_null(nogroup);
	uid_t nuid = nobody->pw_uid;
	gid_t ngid = nogroup->gr_gid;

	/* New file, mode -1: 0644 whatever the umask. */
	mode_t old_umask = umask(077);
	assert_int_equal(c->ops->put(c, p, "one", 3, &keep, &err), KP_OK);
	umask(old_umask);
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644);
	assert_int_equal(sb.st_uid, geteuid());

	/* Existing file: its mode and owner are kept. */
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(chown(p, nuid, ngid), 0);
	assert_int_equal(c->ops->put(c, p, "two", 3, &keep, &err), KP_OK);
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(sb.st_uid, nuid);
	assert_int_equal(sb.st_gid, ngid);
	assert_int_equal(sb.st_size, 3);

	/* Explicit mode and owner; NULL opts mean "keep". */
	struct kp_put_opts o = {.mode = 02755, .owner = "root", .group = "nogroup"};
	assert_int_equal(c->ops->put(c, p, "three", 5, &o, &err), KP_OK);
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 02755);
	assert_int_equal(sb.st_uid, 0);
	assert_int_equal(sb.st_gid, ngid);
	assert_int_equal(c->ops->put(c, p, "four", 4, NULL, &err), KP_OK);
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 02755);
	assert_int_equal(sb.st_gid, ngid);

	struct kp_put_opts bad = {.mode = 0644, .owner = "nosuchuser-kplan"};
	assert_int_equal(c->ops->put(c, p, "five", 4, &bad, &err), KP_ERR_NOTFOUND);
	assert_string_equal(err.buf, "unknown user 'nosuchuser-kplan'");
	struct kp_put_opts badmode = {.mode = 010000};
	assert_int_equal(c->ops->put(c, p, "five", 4, &badmode, &err), KP_ERR_INVALID);

	assert_false(temp_files_left(tdir(state)));
	struct kp_buf got = KP_BUF_INIT;
	assert_int_equal(c->ops->get(c, p, 0, &got, &err), KP_OK);
	assert_string_equal(got.buf, "four");
	kp_buf_release(&got);
	free(p);
	kp_buf_release(&err);
	kp_conn_free(c);
}

/* Atomicity: a reader never sees a mix of two versions or a short file. */
struct reader {
	const char *path;
	size_t size;
	atomic_int stop;
	int reads, bad;
};

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	char *b = kp_xmalloc(rd->size + 1);
	while (!rd->stop) {
		FILE *f = fopen(rd->path, "rb");
		if (!f)
			continue;
		size_t n = fread(b, 1, rd->size + 1, f);
		fclose(f);
		rd->reads++;
		if (n != rd->size) {
			rd->bad++;
			continue;
		}
		for (size_t i = 1; i < n; i++)
			if (b[i] != b[0]) {
				rd->bad++;
				break;
			}
	}
	free(b);
	return NULL;
}

static void test_put_atomic(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_buf err = KP_BUF_INIT;
	char *p = path_in(state, "atomic.bin");
	size_t size = 256 * 1024;
	char *data = kp_xmalloc(size);
	struct kp_put_opts o = {.mode = 0644};
	struct reader rd = {.path = p, .size = size};
	pthread_t t;

	memset(data, 'a', size);
	assert_int_equal(c->ops->put(c, p, data, size, &o, &err), KP_OK);
	assert_int_equal(pthread_create(&t, NULL, reader_main, &rd), 0);
	for (int i = 0; i < 30; i++) {
		memset(data, i % 2 ? 'a' : 'b', size);
		assert_int_equal(c->ops->put(c, p, data, size, &o, &err), KP_OK);
	}
	rd.stop = 1;
	pthread_join(t, NULL);
	assert_true(rd.reads > 0);
	assert_int_equal(rd.bad, 0);
	assert_false(temp_files_left(tdir(state)));
	free(data);
	free(p);
	kp_buf_release(&err);
	kp_conn_free(c);
}

static void expect_same_stat(const struct kp_stat *a, const struct kp_stat *b)
{
	assert_int_equal(a->exists, b->exists);
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->mode, b->mode);
	assert_string_equal(a->owner, b->owner);
	assert_string_equal(a->group, b->group);
	assert_int_equal(a->size, b->size);
	assert_int_equal(a->mtime_ns, b->mtime_ns);
	assert_string_equal(a->sha256, b->sha256);
	assert_string_equal(a->link_target, b->link_target);
}

/* Stat file/dir/link/missing with c, checking what we know about each. */
static void check_stats(void **state, struct kp_conn *c, struct kp_stat out[4])
{
	struct kp_buf err = KP_BUF_INIT;
	char *f = path_in(state, "st-file");
	char *d = path_in(state, "st-dir");
	char *l = path_in(state, "st-link");
	char *m = path_in(state, "st-missing/x");
	char owner[64];
	struct stat sb;

	snprintf(owner, sizeof(owner), "%s", getpwuid(geteuid())->pw_name);
	assert_int_equal(c->ops->stat(c, f, true, &out[0], &err), KP_OK);
	assert_true(out[0].exists);
	assert_int_equal(out[0].type, 'f');
	assert_int_equal(out[0].mode, 0640);
	assert_int_equal(out[0].size, 3);
	assert_string_equal(out[0].sha256, ABC_SHA256);
	assert_string_equal(out[0].owner, owner);
	assert_string_equal(out[0].link_target, "");
	assert_int_equal(lstat(f, &sb), 0);
	assert_int_equal(out[0].mtime_ns,
			 (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec);

	assert_int_equal(c->ops->stat(c, d, true, &out[1], &err), KP_OK);
	assert_int_equal(out[1].type, 'd');
	assert_int_equal(out[1].mode, 0750);
	assert_string_equal(out[1].sha256, "");

	assert_int_equal(c->ops->stat(c, l, true, &out[2], &err), KP_OK);
	assert_int_equal(out[2].type, 'l');
	assert_string_equal(out[2].link_target, "st-file");
	assert_string_equal(out[2].sha256, "");

	assert_int_equal(c->ops->stat(c, m, true, &out[3], &err), KP_OK);
	assert_false(out[3].exists);

	/* Without want_hash no hash. */
	struct kp_stat nh;
	assert_int_equal(c->ops->stat(c, f, false, &nh, &err), KP_OK);
	assert_string_equal(nh.sha256, "");
	free(f);
	free(d);
	free(l);
	free(m);
	kp_buf_release(&err);
}

static void make_stat_fixtures(void **state)
{
	char *f = path_in(state, "st-file");
	char *d = path_in(state, "st-dir");
	char *l = path_in(state, "st-link");
	struct stat sb;
	if (lstat(f, &sb) == 0) {
		free(f);
		free(d);
		free(l);
		return;
	}
	FILE *fp = fopen(f, "w");
	assert_non_null(fp);
	fputs("abc", fp);
	fclose(fp);
	assert_int_equal(chmod(f, 0640), 0);
	assert_int_equal(mkdir(d, 0750), 0);
	assert_int_equal(chmod(d, 0750), 0);
	assert_int_equal(symlink("st-file", l), 0);
	free(f);
	free(d);
	free(l);
}

static void test_stat(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_stat st[4];
	struct kp_buf err = KP_BUF_INIT;
	char *p = path_in(state, "hashme");
	char data[5000], hex[65];

	make_stat_fixtures(state);
	check_stats(state, c, st);

	/* The streamed hash of a written file equals the in-memory one. */
	fill_binary(data, sizeof(data));
	kp_sha256_hex(data, sizeof(data), hex);
	assert_int_equal(c->ops->put(c, p, data, sizeof(data), NULL, &err), KP_OK);
	assert_int_equal(c->ops->stat(c, p, true, &st[0], &err), KP_OK);
	assert_string_equal(st[0].sha256, hex);
	assert_int_equal(st[0].size, 5000);
	free(p);
	kp_buf_release(&err);
	kp_conn_free(c);
}

/* ServerAliveInterval/CountMax as ssh takes them: from -o in Ansible's
 * ssh arguments (the first one wins, either spelling), and from an
 * ssh_config block that matches the host. */
static void test_ssh_alive_options(void **state)
{
	char *v = kp_ssh_args_option("-C -o ServerAliveInterval=5 -o ServerAliveInterval=9",
				     "ServerAliveInterval");
	assert_string_equal(v, "5");
	free(v);
	v = kp_ssh_args_option("-o 'ServerAliveCountMax 4' -J bastion", "serveralivecountmax");
	assert_string_equal(v, "4");
	free(v);
	v = kp_ssh_args_option("-oServerAliveInterval=7", "ServerAliveInterval");
	assert_string_equal(v, "7");
	free(v);
	assert_null(kp_ssh_args_option("-o ServerAliveIntervalX=5", "ServerAliveInterval"));
	v = kp_ssh_args_proxyjump("-o ServerAliveInterval=5 -o ProxyJump=root@b:2222");
	assert_string_equal(v, "root@b:2222");
	free(v);

	char dir[] = "/tmp/kplan-sshcfg.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/config", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("Host other\n  ServerAliveInterval 99\nHost n*\n  ServerAliveInterval 15\n"
	      "  ServerAliveCountMax 2\nHost *\n  ServerAliveInterval 60\n",
	      f);
	fclose(f);
	struct kp_sshcfg cfg = {.alive_interval = -1, .alive_count = -1};
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(kp_sshcfg_lookup(path, "n1", &cfg, &err), KP_OK);
	assert_int_equal(cfg.alive_interval, 15);
	assert_int_equal(cfg.alive_count, 2);
	kp_sshcfg_release(&cfg);
	unlink(path);
	rmdir(dir);
	kp_buf_release(&err);
}

static void test_become_nobody(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	const char *argv[] = {"id", "-un", NULL};
	const char *env[] = {"KP_X=it's here", NULL};

	c->become.user = "nobody";
	sh(c, "id -un", &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "nobody\n");
	kp_exec_res_release(&r);

	struct kp_exec_req req = {.argv = argv};
	exec_req(c, &req, &r);
	assert_string_equal(r.out.buf, "nobody\n");
	kp_exec_res_release(&r);

	/* env survives sudo's env_reset; stdin reaches the command. */
	req = (struct kp_exec_req){
	    .cmd = "printf '%s|' \"$KP_X\"; cat", .env = env, .stdin_data = "in", .stdin_len = 2};
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "it's here|in");
	kp_exec_res_release(&r);

	/* ...and no command line on the machine holds an environment value
	 * while the command runs (any user could read it with ps); values
	 * with newlines and backslashes arrive whole */
	const char *senv[] = {"KP_S=kp-s3cr3t \\n\nline2\\", NULL};
	req = (struct kp_exec_req){.cmd = "%s", .env = senv};
	req.cmd = "printf '%s\n' \"$KP_S\" > /tmp/kplan-envprobe.$$; grep -l -F -f "
		  "/tmp/kplan-envprobe.$$ /proc/[0-9]*/cmdline 2>/dev/null; rm -f "
		  "/tmp/kplan-envprobe.$$; printf '[%s]' \"$KP_S\"";
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "[kp-s3cr3t \\n\nline2\\]");
	kp_exec_res_release(&r);

	c->become.user = NULL;
	sh(c, "id -un", &r);
	assert_string_equal(r.out.buf, "root\n");
	kp_exec_res_release(&r);
	kp_conn_free(c);
}

/* A stand-in for sudo -S that always asks, accepts "secret", and, like
 * sudo, prompts again after a wrong password. */
static const char fake_sudo[] =
    "#!/bin/sh\n"
    "while [ $# -gt 0 ]; do case $1 in -p|-u) [ $1 = -p ] && p=$2; shift 2;;\n"
    "  --) shift; break;; *) shift;; esac; done\n"
    "n=0\n"
    "while :; do printf '%s' \"$p\" >&2; IFS= read -r pw || exit 1\n"
    "  [ \"$pw\" = secret ] && exec \"$@\"\n"
    "  n=$((n+1)); echo 'Sorry, try again.' >&2; [ $n -lt 3 ] || exit 1; done\n";

static void test_become_password(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_exec_res r;
	struct kp_exec_req req = {.cmd = "cat", .stdin_data = "data", .stdin_len = 4};

	/* Real sudo does not ask root: the password must not reach cat. */
	c->become.user = "nobody";
	c->become.password = "secret";
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "data");
	assert_string_equal(r.err.buf, "");
	kp_exec_res_release(&r);
	sh(c, "id -un", &r);
	assert_string_equal(r.out.buf, "nobody\n");
	kp_exec_res_release(&r);

	/* A sudo that asks: the password first, then the data. */
	char *bin = path_in(state, "fakebin");
	char *fake = path_in(state, "fakebin/sudo");
	struct kp_buf path = KP_BUF_INIT;
	char *old_path = kp_xstrdup(getenv("PATH"));
	FILE *f;
	assert_int_equal(mkdir(bin, 0755), 0);
	assert_non_null(f = fopen(fake, "w"));
	fputs(fake_sudo, f);
	fclose(f);
	assert_int_equal(chmod(fake, 0755), 0);
	kp_buf_addf(&path, "%s:%s", bin, old_path);
	setenv("PATH", path.buf, 1);

	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "data");
	assert_string_equal(r.err.buf, "");
	kp_exec_res_release(&r);

	const char *argv[] = {"printf", "%s", "$HOME", NULL};
	struct kp_exec_req areq = {.argv = argv};
	exec_req(c, &areq, &r);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out.buf, "$HOME");
	kp_exec_res_release(&r);

	/* A wrong password is given once; sudo's second prompt ends it. */
	c->become.password = "wrong";
	exec_req(c, &req, &r);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out.buf, "");
	assert_string_equal(r.err.buf, "Sorry, try again.\n");
	kp_exec_res_release(&r);

	setenv("PATH", old_path, 1);
	free(old_path);
	free(bin);
	free(fake);
	kp_buf_release(&path);
	kp_conn_free(c);
}

static void test_become_root_files(void **state)
{
	struct kp_conn *c = conn_new();
	struct kp_buf err = KP_BUF_INIT, got = KP_BUF_INIT, want = KP_BUF_INIT;
	struct kp_stat plain[4], become[4];
	char *p = path_in(state, "become.bin");
	char *missing = path_in(state, "nodir/f");
	struct passwd *nobody = getpwnam("nobody");
	char data[3000];
	struct stat sb;

	/* Stat through sudo reports exactly what lstat does. */
	make_stat_fixtures(state);
	check_stats(state, c, plain);
	c->become.user = "root";
	check_stats(state, c, become);
	for (int i = 0; i < 4; i++)
		expect_same_stat(&plain[i], &become[i]);

	fill_binary(data, sizeof(data));
	struct kp_put_opts o = {.mode = 0640, .owner = "nobody", .group = "nogroup"};
	assert_int_equal(c->ops->put(c, p, data, sizeof(data), &o, &err), KP_OK);
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(sb.st_uid, nobody->pw_uid);
	assert_int_equal(sb.st_size, sizeof(data));
	assert_int_equal(c->ops->get(c, p, 0, &got, &err), KP_OK);
	assert_int_equal(got.len, sizeof(data));
	assert_memory_equal(got.buf, data, sizeof(data));

	/* Mode and owner of the existing file are kept. */
	struct kp_put_opts keep = {.mode = -1};
	assert_int_equal(c->ops->put(c, p, "new", 3, &keep, &err), KP_OK);
	assert_int_equal(lstat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(sb.st_uid, nobody->pw_uid);
	assert_int_equal(sb.st_size, 3);

	struct kp_stat st;
	assert_int_equal(c->ops->stat(c, p, true, &st, &err), KP_OK);
	assert_string_equal(st.owner, "nobody");
	assert_string_equal(st.group, "nogroup");
	char hex[65];
	kp_sha256_hex("new", 3, hex);
	assert_string_equal(st.sha256, hex);

	assert_int_equal(c->ops->get(c, p, 2, &got, &err), KP_ERR_LIMIT);
	kp_buf_addf(&want, "'%s' is larger than 2 bytes", p);
	assert_string_equal(err.buf, want.buf);
	assert_int_equal(c->ops->get(c, p, 3, &got, &err), KP_OK);
	assert_string_equal(got.buf, "new");
	assert_int_equal(c->ops->get(c, missing, 1, &got, &err), KP_ERR_IO);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "cannot read '%s': No such file or directory", missing);
	assert_string_equal(err.buf, want.buf);

	assert_int_equal(c->ops->put(c, missing, "x", 1, &o, &err), KP_ERR_IO);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "cannot write '%s': ", missing);
	assert_memory_equal(err.buf, want.buf, want.len);
	assert_non_null(strstr(err.buf, "No such file or directory"));

	assert_false(temp_files_left(tdir(state)));
	free(p);
	free(missing);
	kp_buf_release(&err);
	kp_buf_release(&got);
	kp_buf_release(&want);
	kp_conn_free(c);
}

struct worker {
	int id;
	int failures;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct kp_conn *c = kp_xcalloc(1, sizeof(*c));
	struct kp_buf err = KP_BUF_INIT;
	c->ops = &kp_transport_local;
	if (c->ops->open(c, &err))
		w->failures++;
	for (int i = 0; i < 20; i++) {
		char cmd[64], in[32], want[96], env0[32];
		const char *env[] = {env0, NULL};
		struct kp_exec_res r;
		snprintf(cmd, sizeof(cmd), "printf 'T%d-%d:%%s:' \"$KP_N\"; cat", w->id, i);
		snprintf(in, sizeof(in), "in%d-%d", w->id, i);
		snprintf(env0, sizeof(env0), "KP_N=%d", w->id * 100 + i);
		snprintf(want, sizeof(want), "T%d-%d:%d:in%d-%d", w->id, i, w->id * 100 + i, w->id,
			 i);
		struct kp_exec_req req = {
		    .cmd = cmd, .env = env, .stdin_data = in, .stdin_len = strlen(in)};
		kp_exec_res_init(&r);
		if (c->ops->exec(c, &req, &r, &err) || r.rc != 0 || strcmp(r.out.buf, want) != 0 ||
		    r.err.len != 0)
			w->failures++;
		kp_exec_res_release(&r);
	}
	kp_buf_release(&err);
	kp_conn_free(c);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[8];
	struct worker w[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.id = i};
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 8; i++)
		assert_int_equal(w[i].failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_and_streams),
	    cmocka_unit_test(test_stdin),
	    cmocka_unit_test(test_env),
	    cmocka_unit_test(test_ssh_alive_options),
	    cmocka_unit_test(test_chdir_and_workdir),
	    cmocka_unit_test(test_argv),
	    cmocka_unit_test(test_no_inherited_fds),
	    cmocka_unit_test(test_timeout_kills_group),
	    cmocka_unit_test(test_output_cap),
	    cmocka_unit_test(test_sh_quote),
	    cmocka_unit_test(test_sha256),
	    cmocka_unit_test(test_put_get),
	    cmocka_unit_test(test_put_modes_and_owner),
	    cmocka_unit_test(test_put_atomic),
	    cmocka_unit_test(test_stat),
	    cmocka_unit_test(test_become_nobody),
	    cmocka_unit_test(test_become_password),
	    cmocka_unit_test(test_become_root_files),
	    cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests_name("transport", tests, group_setup, group_teardown);
}
