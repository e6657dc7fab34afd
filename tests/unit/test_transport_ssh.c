/*
 * test_transport_ssh.c - the ssh transport against throwaway OpenSSH
 * servers: exec (status, streams, stdin, env, directories, signals,
 * timeouts killing the remote tree, output caps), SFTP put/get/stat of
 * 50 MB, host key checking (strict, accept-new, changed), authentication
 * and connection failures, a jump host, and 8 connections on 8 threads.
 *
 * Needs root (sshd must run as root to log in as root) and /usr/sbin/sshd;
 * skipped with a message otherwise. The servers listen on port 2222 of two
 * loopback addresses of this process's own (127.88.A.B, the node, and
 * 127.89.A.B, a jump host, A.B from the pid and moved on while taken), so
 * that copies of this test run side by side, not on the lab's addresses,
 * with keys and configuration in a mkdtemp directory; the group teardown
 * kills them by pid and removes the directory, also after a failure.
 * Every command runs through root's login shell; the servers set SHLVL so
 * that bash does not source the machine's (possibly slow) ~/.bashrc.
 */
#include "unit.h"
#include "transport/transport.h"

#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define PORT 2222
static char NODE[32], JUMP[32], DEAD[32]; /* addresses of this process's own */

struct fixture {
	bool skip;
	const char *why;
	char dir[64];
	pid_t sshd[2];
	char fp[128];  /* the node's SHA256:... fingerprint */
	char fp2[128]; /* the other host key's */
};

static struct fixture fx; /* the group's servers; only the test thread touches it */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *tpath(const char *name)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_buf_addf(&b, "%s/%s", fx.dir, name);
	return kp_buf_detach(&b, NULL);
}

/* Run a local shell command (setup only); its exit status. */
static int run_local(const char *cmd)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	pid_t pid;
	int st;
	if (posix_spawn(&pid, "/bin/sh", NULL, NULL, (char *const *)argv, environ))
		return -1;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_text(const char *name, const char *text)
{
	char *p = tpath(name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

/* "SHA256:..." of a public key file, as ssh-keygen -l prints it. */
static void fingerprint(const char *pub, char out[128])
{
	struct kp_buf cmd = KP_BUF_INIT, o = KP_BUF_INIT, err = KP_BUF_INIT;
	kp_buf_addf(&cmd, "ssh-keygen -l -E sha256 -f %s/%s | cut -d' ' -f2 > %s/fp.txt", fx.dir,
		    pub, fx.dir);
	assert_int_equal(run_local(cmd.buf), 0);
	char *p = tpath("fp.txt");
	assert_int_equal(kp_read_file(p, 4096, &o, &err), KP_OK);
	snprintf(out, 128, "%.*s", (int)strcspn(o.buf, "\n"), o.buf);
	free(p);
	kp_buf_release(&cmd);
	kp_buf_release(&o);
	kp_buf_release(&err);
}

static bool port_open(const char *addr)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	bool ok = connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(s);
	return ok;
}

/* Addresses no other copy of this test holds: 127.88.A.B (node), 127.89.A.B
 * (jump) and 127.90.A.B (nothing listens), A.B from the pid, moved on while
 * another server answers there. */
static void pick_addresses(void)
{
	unsigned n = (unsigned)getpid();
	for (int tries = 0; tries < 64; tries++, n += 7919) {
		unsigned a = (n >> 8) % 250 + 1, b = n % 250 + 1;
		snprintf(NODE, sizeof(NODE), "127.88.%u.%u", a, b);
		snprintf(JUMP, sizeof(JUMP), "127.89.%u.%u", a, b);
		snprintf(DEAD, sizeof(DEAD), "127.90.%u.%u", a, b);
		if (!port_open(NODE) && !port_open(JUMP) && !port_open(DEAD))
			return;
	}
}

static pid_t start_sshd(const char *addr, const char *name, const char *level)
{
	struct kp_buf cfg = KP_BUF_INIT;
	kp_buf_addf(&cfg,
		    "ListenAddress %s\nPort %d\nHostKey %s/hostkey\nPidFile %s/%s.pid\n"
		    "AuthorizedKeysFile %s/authorized_keys\nUsePAM no\nStrictModes no\n"
		    "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
		    "KbdInteractiveAuthentication no\nLogLevel %s\nAllowTcpForwarding yes\n"
		    "Subsystem sftp internal-sftp\nMaxStartups 100\n"
		    /* bash sources ~/.bashrc for a command from sshd only at
		     * the top level: the machine's profile stays out */
		    "SetEnv SHLVL=1\n",
		    addr, PORT, fx.dir, fx.dir, name, fx.dir, level);
	struct kp_buf f = KP_BUF_INIT, log = KP_BUF_INIT;
	kp_buf_addf(&f, "%s.conf", name);
	write_text(f.buf, cfg.buf);
	kp_buf_reset(&f);
	kp_buf_addf(&f, "%s/%s.conf", fx.dir, name);
	kp_buf_addf(&log, "%s/%s.log", fx.dir, name);
	const char *argv[] = {"/usr/sbin/sshd", "-D", "-e", "-f", f.buf, "-E", log.buf, NULL};
	pid_t pid = -1;
	if (posix_spawn(&pid, argv[0], NULL, NULL, (char *const *)argv, environ))
		pid = -1;
	for (int i = 0; pid > 0 && i < 100 && !port_open(addr); i++)
		usleep(50000);
	kp_buf_release(&cfg);
	kp_buf_release(&f);
	kp_buf_release(&log);
	return pid;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(p);
}

static int group_teardown(void **state)
{
	for (int i = 0; i < 2; i++)
		if (fx.sshd[i] > 0) {
			kill(fx.sshd[i], SIGTERM);
			waitpid(fx.sshd[i], NULL, 0);
		}
	if (fx.dir[0])
		nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	kp_transport_ssh_global_release();
	return 0;
}

static int group_setup(void **state)
{
	struct kp_buf err = KP_BUF_INIT;
	if (geteuid() != 0) {
		fx.skip = true;
		fx.why = "needs root (sshd logging in as root)";
		return 0;
	}
	if (access("/usr/sbin/sshd", X_OK)) {
		fx.skip = true;
		fx.why = "needs /usr/sbin/sshd (openssh-server)";
		return 0;
	}
	pick_addresses();
	if (kp_transport_ssh_global_init(&err))
		return -1;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/kplan-ssh-XXXXXX");
	if (!mkdtemp(fx.dir))
		return -1;
	mkdir("/run/sshd", 0755); /* sshd's privilege separation directory */
	struct kp_buf cmd = KP_BUF_INIT;
	kp_buf_addf(&cmd,
		    "cd %s && ssh-keygen -q -t ed25519 -N '' -C node -f hostkey && "
		    "ssh-keygen -q -t ed25519 -N '' -C other -f hostkey2 && "
		    "ssh-keygen -q -t ed25519 -N '' -C client -f client && "
		    "ssh-keygen -q -t ed25519 -N '' -C stranger -f stranger && "
		    "cp client.pub authorized_keys && "
		    "{ printf '[%s]:%d '; cat hostkey.pub; printf '[%s]:%d '; cat hostkey.pub; }"
		    " > known_hosts && "
		    "{ printf '[%s]:%d '; cat hostkey2.pub; } > known_hosts_changed",
		    fx.dir, NODE, PORT, JUMP, PORT, NODE, PORT);
	int r = run_local(cmd.buf);
	kp_buf_release(&cmd);
	if (r)
		return -1;
	fingerprint("hostkey.pub", fx.fp);
	fingerprint("hostkey2.pub", fx.fp2);
	fx.sshd[0] = start_sshd(NODE, "node", "VERBOSE");
	fx.sshd[1] = start_sshd(JUMP, "jump", "DEBUG1");
	if (fx.sshd[0] < 0 || fx.sshd[1] < 0 || !port_open(NODE) || !port_open(JUMP)) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

#define NEED_SSHD()                                                                                \
	do {                                                                                       \
		if (fx.skip) {                                                                     \
			fprintf(stderr, "SKIPPED: ssh transport tests: %s\n", fx.why);             \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static struct kp_conn *conn_make(const char *addr, const char *key, const char *known,
				 enum kp_hostkey_mode mode)
{
	struct kp_conn *c = kp_xcalloc(1, sizeof(*c));
	c->ops = &kp_transport_ssh;
	c->host = kp_xstrdup("node");
	c->address = kp_xstrdup(addr);
	c->port = PORT;
	c->user = kp_xstrdup("root");
	c->key_file = key ? tpath(key) : NULL;
	c->known_hosts = tpath(known);
	c->hostkey_mode = mode;
	c->ssh_config = kp_xstrdup(""); /* never the machine's ~/.ssh/config */
	c->connect_timeout_ms = 5000;
	c->keepalive_s = 30;
	return c;
}

static struct kp_conn *conn_open(void)
{
	struct kp_conn *c = conn_make(NODE, "client", "known_hosts", KP_HOSTKEY_STRICT);
	struct kp_buf err = KP_BUF_INIT;
	kp_rc rc = c->ops->open(c, &err);
	if (rc)
		fprintf(stderr, "open: %s\n", err.buf);
	assert_int_equal(rc, KP_OK);
	kp_buf_release(&err);
	return c;
}

/* Open expecting failure; the message. */
static char *open_fails(struct kp_conn *c)
{
	struct kp_buf err = KP_BUF_INIT;
	assert_int_equal(c->ops->open(c, &err), KP_ERR_UNREACHABLE);
	kp_conn_free(c);
	return kp_buf_detach(&err, NULL);
}

static void exec_ok(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res)
{
	struct kp_buf err = KP_BUF_INIT;
	kp_exec_res_init(res);
	kp_rc rc = c->ops->exec(c, req, res, &err);
	if (rc)
		fprintf(stderr, "exec: %s\n", err.buf);
	assert_int_equal(rc, KP_OK);
	kp_buf_release(&err);
}

static void test_exec(void **state)
{
	NEED_SSHD();
	struct kp_conn *c = conn_open();
	struct kp_exec_res res;
	const char *env[] = {"FOO=b a'r", NULL};
	struct kp_exec_req req = {
	    .cmd = "printf out; printf err >&2; cat; echo \" $FOO\"; pwd; exit 3",
	    .env = env,
	    .chdir = "/tmp",
	    .stdin_data = "in",
	    .stdin_len = 2,
	};
	exec_ok(c, &req, &res);
	assert_int_equal(res.rc, 3);
	assert_string_equal(res.out.buf, "outin b a'r\n/tmp\n");
	assert_string_equal(res.err.buf, "err");
	assert_false(res.timed_out);
	kp_exec_res_release(&res);

	/* no command line on the node holds an environment value while the
	 * command runs (any user there could read it with ps), under sudo
	 * either (which stays the command's parent); values with newlines and
	 * backslashes arrive whole */
	const char *senv[] = {"KP_S=kp-s3cr3t \\n\nline2\\", NULL};
	struct kp_become nobody = {.user = "nobody"};
	struct kp_exec_req sreq = {
	    .become = &nobody,
	    .cmd = "printf '%s\n' \"$KP_S\" > /tmp/kplan-envprobe.$$; grep -l -F -f "
		   "/tmp/kplan-envprobe.$$ /proc/[0-9]*/cmdline 2>/dev/null; rm -f "
		   "/tmp/kplan-envprobe.$$; printf '[%s]' \"$KP_S\"",
	    .env = senv};
	exec_ok(c, &sreq, &res);
	assert_int_equal(res.rc, 0);
	assert_string_equal(res.out.buf, "[kp-s3cr3t \\n\nline2\\]");
	kp_exec_res_release(&res);

	/* argv: no shell, words kept whole */
	const char *argv[] = {"printf", "%s|", "a b", "it's", "$HOME", NULL};
	struct kp_exec_req r2 = {.argv = argv};
	exec_ok(c, &r2, &res);
	assert_int_equal(res.rc, 0);
	assert_string_equal(res.out.buf, "a b|it's|$HOME|");
	kp_exec_res_release(&res);

	/* killed by a signal: 128+N, like local */
	struct kp_exec_req r3 = {.cmd = "kill -USR1 $$"};
	exec_ok(c, &r3, &res);
	assert_int_equal(res.rc, 128 + SIGUSR1);
	kp_exec_res_release(&res);

	/* a missing directory is an error, not a status */
	struct kp_buf err = KP_BUF_INIT;
	struct kp_exec_req r4 = {.cmd = "true", .chdir = "/nonexistent/dir"};
	kp_exec_res_init(&res);
	assert_int_equal(c->ops->exec(c, &r4, &res, &err), KP_ERR_IO);
	assert_string_equal(
	    err.buf, "cannot change to directory '/nonexistent/dir': No such file or directory");
	kp_exec_res_release(&res);
	kp_buf_release(&err);
	kp_conn_free(c);
}

static void test_timeout_kills_tree(void **state)
{
	NEED_SSHD();
	struct kp_conn *c = conn_open();
	struct kp_exec_res res;
	char *pidf = tpath("bg.pid");
	struct kp_buf cmd = KP_BUF_INIT;
	kp_buf_addf(&cmd, "sleep 300 & echo $! > %s; sleep 300", pidf);
	struct kp_exec_req req = {.cmd = cmd.buf, .timeout_ms = 1000};
	int64_t t0 = mono_ms();
	exec_ok(c, &req, &res);
	int64_t took = mono_ms() - t0;
	assert_true(res.timed_out);
	assert_int_equal(res.rc, 128 + SIGTERM);
	assert_true(took < 5000);
	kp_exec_res_release(&res);

	/* the background child is gone too (checked on the node; a zombie
	 * waiting for init to reap it counts as gone) */
	kp_buf_reset(&cmd);
	kp_buf_addf(&cmd,
		    "p=$(cat %s); for i in 1 2 3 4 5 6 7 8 9 10; do s=$(ps -o stat= -p $p); "
		    "case \"$s\" in ''|Z*) echo gone; exit;; esac; sleep 0.2; done; echo alive",
		    pidf);
	struct kp_exec_req r2 = {.cmd = cmd.buf};
	exec_ok(c, &r2, &res);
	assert_string_equal(res.out.buf, "gone\n");
	kp_exec_res_release(&res);
	kp_buf_release(&cmd);
	free(pidf);
	kp_conn_free(c);
}

static void test_output_cap(void **state)
{
	NEED_SSHD();
	struct kp_conn *c = conn_open();
	struct kp_exec_res res;
	struct kp_exec_req req = {.cmd = "head -c 300000 /dev/zero | tr '\\0' x; echo done >&2",
				  .max_output = 1000};
	exec_ok(c, &req, &res);
	assert_int_equal(res.rc, 0);
	assert_true(res.truncated);
	struct kp_buf want = KP_BUF_INIT;
	for (int i = 0; i < 1000; i++)
		kp_buf_addch(&want, 'x');
	kp_buf_addf(&want, KP_TRUNCATED_MARKER, (size_t)1000);
	assert_string_equal(res.out.buf, want.buf);
	assert_string_equal(res.err.buf, "done\n");
	kp_buf_release(&want);
	kp_exec_res_release(&res);
	kp_conn_free(c);
}

static void test_files(void **state)
{
	NEED_SSHD();
	struct kp_conn *c = conn_open();
	struct kp_buf err = KP_BUF_INIT, got = KP_BUF_INIT;
	size_t n = 50u << 20;
	unsigned char *data = kp_xmalloc(n);
	unsigned x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	char want[65];
	kp_sha256_hex(data, n, want);
	char *big = tpath("big.bin");

	int64_t t0 = mono_ms();
	assert_int_equal(c->ops->put(c, big, data, n, NULL, &err), KP_OK);
	int64_t t_put = mono_ms() - t0;
	struct kp_stat st;
	t0 = mono_ms();
	assert_int_equal(c->ops->stat(c, big, true, &st, &err), KP_OK);
	int64_t t_stat = mono_ms() - t0;
	assert_true(st.exists);
	assert_int_equal(st.type, 'f');
	assert_int_equal(st.mode, 0644);
	assert_string_equal(st.owner, "root");
	assert_int_equal(st.size, (int64_t)n);
	assert_string_equal(st.sha256, want);
	t0 = mono_ms();
	assert_int_equal(c->ops->get(c, big, 0, &got, &err), KP_OK);
	int64_t t_get = mono_ms() - t0;
	assert_int_equal(got.len, n);
	assert_memory_equal(got.buf, data, n);
	fprintf(stderr, "50 MB over ssh: put %lld ms, stat+sha256 %lld ms, get %lld ms\n",
		(long long)t_put, (long long)t_stat, (long long)t_get);

	/* replace an existing file: mode kept unless given, no temp left */
	struct kp_put_opts o = {.mode = 0600};
	assert_int_equal(c->ops->put(c, big, "new\n", 4, &o, &err), KP_OK);
	assert_int_equal(c->ops->stat(c, big, true, &st, &err), KP_OK);
	assert_int_equal(st.mode, 0600);
	assert_int_equal(st.size, 4);
	assert_int_equal(c->ops->get(c, big, 3, &got, &err), KP_ERR_LIMIT);
	struct kp_put_opts keep = {.mode = -1};
	assert_int_equal(c->ops->put(c, big, "newer\n", 6, &keep, &err), KP_OK);
	assert_int_equal(c->ops->get(c, big, 0, &got, &err), KP_OK);
	assert_string_equal(got.buf, "newer\n");
	assert_int_equal(c->ops->stat(c, big, false, &st, &err), KP_OK);
	assert_int_equal(st.mode, 0600);
	assert_string_equal(st.sha256, "");

	/* missing, directory, symlink */
	char *missing = tpath("nope"), *link = tpath("link");
	assert_int_equal(c->ops->stat(c, missing, true, &st, &err), KP_OK);
	assert_false(st.exists);
	assert_int_equal(c->ops->get(c, missing, 0, &got, &err), KP_ERR_IO);
	assert_non_null(strstr(err.buf, "No such file or directory"));
	assert_int_equal(c->ops->stat(c, fx.dir, false, &st, &err), KP_OK);
	assert_int_equal(st.type, 'd');
	assert_int_equal(symlink("big.bin", link), 0);
	assert_int_equal(c->ops->stat(c, link, true, &st, &err), KP_OK);
	assert_int_equal(st.type, 'l');
	assert_string_equal(st.link_target, "big.bin");
	/* only big.bin and the link: no .big.bin.kplan.* temp left over */
	struct kp_exec_res res;
	struct kp_buf cmd = KP_BUF_INIT;
	kp_buf_addf(&cmd, "ls -a %s | grep -c kplan", fx.dir);
	struct kp_exec_req req = {.cmd = cmd.buf};
	exec_ok(c, &req, &res);
	assert_string_equal(res.out.buf, "0\n");
	kp_exec_res_release(&res);
	kp_buf_release(&cmd);

	free(missing);
	free(link);
	free(big);
	free(data);
	kp_buf_release(&got);
	kp_buf_release(&err);
	kp_conn_free(c);
}

static void test_host_keys(void **state)
{
	NEED_SSHD();
	struct kp_buf want = KP_BUF_INIT;
	char *kh_new = tpath("known_hosts_new"), *kh_changed = tpath("known_hosts_changed");

	/* strict, unknown key: refused before anything is sent */
	write_text("known_hosts_new", "");
	char *m = open_fails(conn_make(NODE, "client", "known_hosts_new", KP_HOSTKEY_STRICT));
	kp_buf_addf(&want,
		    "host key for '%s' is not known (%s): add it to '%s' (ssh-keyscan) or "
		    "run with --host-key-checking accept-new",
		    NODE, fx.fp, kh_new);
	assert_string_equal(m, want.buf);
	free(m);

	/* accept-new records it, then strict accepts it */
	struct kp_conn *c = conn_make(NODE, "client", "known_hosts_new", KP_HOSTKEY_ACCEPT_NEW);
	struct kp_buf err = KP_BUF_INIT, text = KP_BUF_INIT;
	assert_int_equal(c->ops->open(c, &err), KP_OK);
	kp_conn_free(c);
	assert_int_equal(kp_read_file(kh_new, 1 << 20, &text, &err), KP_OK);
	kp_buf_reset(&want);
	kp_buf_addf(&want, "[%s]:2222 ssh-ed25519 ", NODE);
	assert_non_null(strstr(text.buf, want.buf));
	c = conn_make(NODE, "client", "known_hosts_new", KP_HOSTKEY_STRICT);
	assert_int_equal(c->ops->open(c, &err), KP_OK);
	kp_conn_free(c);

	/* a changed key is refused, even with accept-new */
	m = open_fails(conn_make(NODE, "client", "known_hosts_changed", KP_HOSTKEY_ACCEPT_NEW));
	kp_buf_reset(&want);
	kp_buf_addf(&want,
		    "host key for '%s' has CHANGED (now %s): if the node was reinstalled, "
		    "remove the old key from '%s' (ssh-keygen -R [%s]:2222)",
		    NODE, fx.fp, kh_changed, NODE);
	assert_string_equal(m, want.buf);
	free(m);

	kp_buf_release(&text);
	kp_buf_release(&err);
	kp_buf_release(&want);
	free(kh_new);
	free(kh_changed);
}

static void test_unreachable(void **state)
{
	NEED_SSHD();
	char *sock = getenv("SSH_AUTH_SOCK") ? kp_xstrdup(getenv("SSH_AUTH_SOCK")) : NULL;
	unsetenv("SSH_AUTH_SOCK");
	char *key = tpath("stranger");
	struct kp_buf want = KP_BUF_INIT;
	char *m = open_fails(conn_make(NODE, "stranger", "known_hosts", KP_HOSTKEY_STRICT));
	kp_buf_addf(&want, "authentication failed for root@%s (tried: key %s)", NODE, key);
	assert_string_equal(m, want.buf);
	free(m);
	if (sock)
		setenv("SSH_AUTH_SOCK", sock, 1);
	free(sock);

	m = open_fails(conn_make(DEAD, "client", "known_hosts", KP_HOSTKEY_STRICT));
	kp_buf_reset(&want);
	kp_buf_addf(&want, "cannot connect to %s:2222: Connection refused", DEAD);
	assert_string_equal(m, want.buf);
	free(m);
	kp_buf_release(&want);
	free(key);
}

static void test_proxy_jump(void **state)
{
	NEED_SSHD();
	struct kp_conn *c = conn_make(NODE, "client", "known_hosts", KP_HOSTKEY_STRICT);
	struct kp_buf jump = KP_BUF_INIT;
	kp_buf_addf(&jump, "root@%s:2222", JUMP);
	c->proxy_jump = kp_buf_detach(&jump, NULL);
	struct kp_buf err = KP_BUF_INIT, log = KP_BUF_INIT;
	kp_rc rc = c->ops->open(c, &err);
	if (rc)
		fprintf(stderr, "open: %s\n", err.buf);
	assert_int_equal(rc, KP_OK);
	struct kp_exec_res res;
	struct kp_exec_req req = {.cmd = "echo hi"};
	exec_ok(c, &req, &res);
	assert_int_equal(res.rc, 0);
	assert_string_equal(res.out.buf, "hi\n");
	kp_exec_res_release(&res);
	struct kp_stat st;
	assert_int_equal(c->ops->stat(c, "/etc/hostname", false, &st, &err), KP_OK);
	assert_true(st.exists);
	kp_conn_free(c);
	char *lp = tpath("jump.log");
	assert_int_equal(kp_read_file(lp, 1 << 22, &log, &err), KP_OK);
	/* and the jump host forwarded it (its log at DEBUG1) */
	assert_non_null(strstr(log.buf, "server_request_direct_tcpip"));
	struct kp_buf to = KP_BUF_INIT;
	kp_buf_addf(&to, "to %s port 2222", NODE);
	assert_non_null(strstr(log.buf, to.buf));
	kp_buf_release(&to);
	free(lp);
	kp_buf_release(&log);
	kp_buf_release(&err);
}

struct worker {
	int id;
	int ok;
	struct kp_conn *c;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (int i = 0; i < 20; i++) {
		char cmd[64], want[64];
		snprintf(cmd, sizeof(cmd), "echo %d-%d", w->id, i);
		snprintf(want, sizeof(want), "%d-%d\n", w->id, i);
		struct kp_exec_res res;
		struct kp_buf err = KP_BUF_INIT;
		kp_exec_res_init(&res);
		if (kp_conn_sh(w->c, cmd, 30000, &res, &err) == KP_OK && res.rc == 0 &&
		    !strcmp(res.out.buf, want))
			w->ok++;
		kp_exec_res_release(&res);
		kp_buf_release(&err);
	}
	return NULL;
}

static void test_threads(void **state)
{
	NEED_SSHD();
	struct worker w[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){.id = i, .c = conn_open()};
	}
	int64_t t0 = mono_ms();
	for (int i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	fprintf(stderr, "8 threads x 20 commands: %lld ms\n", (long long)(mono_ms() - t0));
	for (int i = 0; i < 8; i++) {
		assert_int_equal(w[i].ok, 20);
		kp_conn_free(w[i].c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exec),       cmocka_unit_test(test_timeout_kills_tree),
	    cmocka_unit_test(test_output_cap), cmocka_unit_test(test_files),
	    cmocka_unit_test(test_host_keys),  cmocka_unit_test(test_unreachable),
	    cmocka_unit_test(test_proxy_jump), cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
