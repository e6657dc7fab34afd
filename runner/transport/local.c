/*
 * local.c - the `local` transport: commands on this machine, and the
 * vtable.
 *
 * Commands start with posix_spawn (never fork: hosts run on threads) in a
 * process group of their own, so a timeout can kill everything they started.
 * One poll loop feeds stdin and drains stdout and stderr, so a child never
 * blocks on a full pipe. Files are local_files.c's.
 */
#include "transport/local_int.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

extern char **environ;

#define KILL_GRACE_MS 1000 /* SIGTERM, then this long before SIGKILL */
#define DRAIN_MS      200  /* after SIGKILL: how long to read what is left */
#define CHUNK	      65536

/* A NULL-terminated vector of borrowed strings, for argv and envp. */
struct strv {
	const char **v;
	size_t n, cap;
};

static void strv_push(struct strv *s, const char *p)
{
	KP_GROW(s->v, s->n + 1, s->cap);
	s->v[s->n++] = p;
}

static size_t env_name_len(const char *e)
{
	return strcspn(e, "=");
}

/* Whether an entry named like e appears in list (from index from on). */
static bool env_has(const char *const *list, const char *e)
{
	size_t n = env_name_len(e);
	for (; list && *list; list++)
		if (strncmp(*list, e, n) == 0 && (*list)[n] == '=')
			return true;
	return false;
}

static kp_rc check_env(const char *const *env, struct kp_buf *err)
{
	for (; env && *env; env++) {
		size_t n = env_name_len(*env);
		/* Only the name is shown: the value may be a secret. */
		if (n == 0 || (*env)[n] != '=')
			return kp_errorf(err, KP_ERR_INVALID,
					 "invalid environment entry '%.*s': expected NAME=value",
					 (int)n, *env);
	}
	return KP_OK;
}

/* environ plus extra; a later entry replaces an earlier one of the same name. */
static void build_envp(const char *const *extra, struct strv *envp)
{
	for (char **e = environ; e && *e; e++)
		if (!env_has(extra, *e))
			strv_push(envp, *e);
	for (const char *const *e = extra; e && *e; e++)
		if (!env_has(e + 1, *e))
			strv_push(envp, *e);
	strv_push(envp, NULL);
}

static void push_word(void *ctx, const char *w)
{
	strv_push(ctx, w);
}

/* Without become, extra environment entries go into the child's
 * environment (build_envp); with it, sudo's env_reset would drop them, so
 * they travel on stdin to the reader of kp_exec_words, never on argv. */
static void build_argv(const struct kp_become *b, const struct kp_exec_req *req,
		       const struct kp_become_tags *tags, struct strv *av)
{
	kp_exec_words(b, tags, b->user ? req->env : NULL, req, push_word, av);
	strv_push(av, NULL);
}

/* One output stream of the child: a pipe into a capped buffer. */
struct stream {
	int fd;
	struct kp_capbuf c;
};

static void stream_read(struct stream *s, char *chunk)
{
	ssize_t n = read(s->fd, chunk, CHUNK);
	if (n > 0) {
		kp_capbuf_add(&s->c, chunk, (size_t)n);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	close(s->fd);
	s->fd = -1;
}

/* The child's stdin: the shared feed (become.h) into a pipe. */
struct feed {
	int fd;
	struct kp_feed f;
	bool epipe;
};

static void feed_close(struct feed *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

/* Whether there is something that may be written now; closes stdin once
 * everything is written, so the command sees EOF. */
static bool feed_ready(struct feed *f)
{
	const char *p;
	if (kp_feed_done(&f->f))
		feed_close(f);
	return f->fd >= 0 && kp_feed_next(&f->f, &p) > 0;
}

static void feed_write(struct feed *f)
{
	const char *p;
	size_t len;
	if (f->fd < 0 || !(len = kp_feed_next(&f->f, &p)))
		return;
	ssize_t n = write(f->fd, p, len);
	if (n > 0) {
		kp_feed_advance(&f->f, (size_t)n);
	} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
		if (errno == EPIPE)
			f->epipe = true;
		feed_close(f);
		return;
	}
	if (kp_feed_done(&f->f))
		feed_close(f);
}

static void kill_group(pid_t pid, int sig)
{
	/* The pid too, in case the child left our group (setsid). */
	killpg(pid, sig);
	kill(pid, sig);
}

static void close_pair(int p[2])
{
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	p[0] = p[1] = -1;
}

static kp_rc make_pipe(int p[2], int parent_end, struct kp_buf *err)
{
	if (pipe2(p, O_CLOEXEC))
		return kp_errorf(err, KP_ERR_IO, "cannot create pipe: %s", strerror(errno));
	/* Only our end is nonblocking: the child gets ordinary blocking fds. */
	int fl = fcntl(p[parent_end], F_GETFL);
	if (fl < 0 || fcntl(p[parent_end], F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = errno;
		close_pair(p);
		return kp_errorf(err, KP_ERR_IO, "cannot create pipe: %s", strerror(e));
	}
	return KP_OK;
}

/* The status a shell reports for a program it could not start. */
static int spawn_failure_rc(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
		return 127;
	default:
		return 126;
	}
}

/* Wait for the child, polling its pidfd along with the pipes, applying the
 * timeout; fills res. */
static kp_rc run_loop(const struct kp_conn *c, pid_t pid, const struct kp_exec_req *req, int64_t t0,
		      struct stream *so, struct stream *se, struct feed *fd,
		      struct kp_exec_res *res, struct kp_buf *err)
{
	char *chunk = kp_xmalloc(CHUNK);
	int pidfd = pidfd_open(pid, 0);
	bool exited = false, exited_before_signal = false;
	int status = 0, sig_sent = 0;
	int64_t deadline = req->timeout_ms > 0 ? t0 + req->timeout_ms : -1;
	int64_t next_at = -1; /* SIGKILL time, then end of draining */
	kp_rc rc = KP_OK;

	while (!exited || so->fd >= 0 || se->fd >= 0) {
		struct pollfd p[4];
		int np = 0, iso = -1, ise = -1, ifd = -1, ipid = -1;
		int64_t now = kp_now_ms();
		int64_t wait = -1;

		bool aborted = c->interrupts && *c->interrupts >= 2;
		if (!sig_sent && (aborted || (deadline >= 0 && now >= deadline))) {
			kill_group(pid, SIGTERM);
			sig_sent = SIGTERM;
			res->timed_out = true;
			next_at = now + KILL_GRACE_MS;
		} else if (!sig_sent && deadline >= 0) {
			wait = deadline - now;
		}
		if (sig_sent == SIGTERM && now >= next_at) {
			kill_group(pid, SIGKILL);
			sig_sent = SIGKILL;
			next_at = now + DRAIN_MS;
		}
		/* Something outside the group may hold the pipes open: stop. */
		if (sig_sent == SIGKILL && now >= next_at)
			break;
		if (sig_sent)
			wait = next_at - now;
		if (!exited && pidfd < 0 && (wait < 0 || wait > 10))
			wait = 10; /* no pidfd (old kernel): look every 10 ms */
		/* a signal lands on any thread: look at the Ctrl-C count often */
		if (c->interrupts && !sig_sent && (wait < 0 || wait > 200))
			wait = 200;

		if (exited && fd->fd >= 0)
			feed_close(fd);
		if (so->fd >= 0) {
			iso = np;
			p[np++] = (struct pollfd){.fd = so->fd, .events = POLLIN};
		}
		if (se->fd >= 0) {
			ise = np;
			p[np++] = (struct pollfd){.fd = se->fd, .events = POLLIN};
		}
		if (feed_ready(fd)) {
			ifd = np;
			p[np++] = (struct pollfd){.fd = fd->fd, .events = POLLOUT};
		}
		if (!exited && pidfd >= 0) {
			ipid = np;
			p[np++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		}
		int n = poll(p, (nfds_t)np, wait > INT_MAX ? INT_MAX : (int)wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = kp_errorf(err, KP_ERR_IO, "cannot wait for command: %s",
				       strerror(errno));
			kill_group(pid, SIGKILL);
			break;
		}
		if (iso >= 0 && p[iso].revents)
			stream_read(so, chunk);
		if (ise >= 0 && p[ise].revents)
			stream_read(se, chunk);
		if (kp_feed_gate(&fd->f, so->c.buf, se->c.buf))
			feed_close(fd);
		if (ifd >= 0 && p[ifd].revents)
			feed_write(fd);
		if (!exited && (ipid < 0 || p[ipid].revents)) {
			pid_t w = waitpid(pid, &status, WNOHANG);
			if (w == pid || (w < 0 && errno == ECHILD)) {
				exited = true;
				exited_before_signal = !sig_sent;
			}
		}
	}
	if (!exited) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	if (pidfd >= 0)
		close(pidfd);
	free(chunk);

	if (WIFSIGNALED(status))
		res->rc = 128 + WTERMSIG(status);
	else if (res->timed_out && !exited_before_signal)
		res->rc = 128 + sig_sent;
	else
		res->rc = WEXITSTATUS(status);
	return rc;
}

static kp_rc local_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
			struct kp_buf *err)
{
	const char *dir = req->chdir ? req->chdir : c->workdir;
	const struct kp_become *b = kp_exec_become(c, req);
	int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
	struct strv av = {0}, envp = {0};
	struct kp_buf envb = KP_BUF_INIT;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t pipeset, oldmask, all;
	struct stat st;
	pid_t pid;
	kp_rc rc;
	int e;

	if (!req->cmd && (!req->argv || !req->argv[0]))
		return kp_errorf(err, KP_ERR_INVALID, "nothing to run: no command and no argv");
	if ((rc = check_env(req->env, err)) || (rc = kp_become_check(b, err)))
		return rc;
	/* posix_spawn reports a failed chdir like a missing program: look first. */
	if (dir && stat(dir, &st))
		return kp_errorf(err, KP_ERR_IO, "cannot change to directory '%s': %s", dir,
				 strerror(errno));
	if (dir && !S_ISDIR(st.st_mode))
		return kp_errorf(err, KP_ERR_IO, "cannot change to directory '%s': %s", dir,
				 strerror(ENOTDIR));

	kp_buf_reset(&res->out);
	kp_buf_reset(&res->err);
	res->rc = -1;
	res->timed_out = res->truncated = false;
	res->duration_ms = 0;

	if ((rc = make_pipe(in, 1, err)))
		return rc;
	if ((rc = make_pipe(out, 0, err)) || (rc = make_pipe(er, 0, err))) {
		close_pair(in);
		close_pair(out);
		return rc;
	}

	struct kp_become_tags tags;
	if (b->user && b->password && (rc = kp_become_tags_make(&tags, err))) {
		close_pair(in);
		close_pair(out);
		close_pair(er);
		return rc;
	}
	build_argv(b, req, &tags, &av);
	if (!b->user)
		build_envp(req->env, &envp); /* with become, sudo resets it anyway */

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, er[1], 2);
	/* Our pipes are O_CLOEXEC, but other threads' fds may not be. */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (dir)
		posix_spawn_file_actions_addchdir_np(&fa, dir);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					  POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&at, 0);
	sigemptyset(&all);
	posix_spawnattr_setsigmask(&at, &all);
	/* Dispositions the controller ignores (SIGPIPE) must not leak. */
	sigfillset(&all);
	posix_spawnattr_setsigdefault(&at, &all);

	/* A write to a closed stdin must give EPIPE, not kill the controller:
	 * block SIGPIPE in this thread only, and drop it afterwards. */
	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipeset, &oldmask);

	int64_t t0 = kp_now_ms();
	e = posix_spawnp(&pid, av.v[0], &fa, &at, (char *const *)av.v,
			 b->user ? environ : (char *const *)envp.v);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	close(er[1]);

	if (e) {
		close(in[1]);
		close(out[0]);
		close(er[0]);
		pthread_sigmask(SIG_SETMASK, &oldmask, NULL);
		if (e == EAGAIN || e == ENOMEM) {
			rc = kp_errorf(err, KP_ERR_IO, "cannot start '%s': %s", av.v[0],
				       strerror(e));
		} else {
			res->rc = spawn_failure_rc(e);
			kp_buf_addf(&res->err, "kplan: cannot run '%s': %s\n", av.v[0],
				    strerror(e));
			res->duration_ms = kp_now_ms() - t0;
		}
		free(av.v);
		free(envp.v);
		return rc;
	}

	size_t cap = req->max_output ? req->max_output : KP_OUTPUT_CAP_DEFAULT;
	struct stream so = {.fd = out[0], .c = {.buf = &res->out, .cap = cap}};
	struct stream se = {.fd = er[0], .c = {.buf = &res->err, .cap = cap}};
	struct feed fd = {.fd = in[1]};
	if (b->user)
		kp_env_block(req->env, &envb); /* without become: in envp */
	kp_feed_init(&fd.f, b, &tags, &envb, req->stdin_data, req->stdin_len);
	if (kp_feed_empty(&fd.f))
		feed_close(&fd); /* EOF at once: the child must not wait for input */

	rc = run_loop(c, pid, req, t0, &so, &se, &fd, res, err);
	res->duration_ms = kp_now_ms() - t0;
	feed_close(&fd);
	if (so.fd >= 0)
		close(so.fd);
	if (se.fd >= 0)
		close(se.fd);
	if (fd.epipe && !sigismember(&oldmask, SIGPIPE)) {
		struct timespec zero = {0, 0};
		sigtimedwait(&pipeset, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &oldmask, NULL);

	if (so.c.cut)
		kp_buf_addf(&res->out, KP_TRUNCATED_MARKER, cap);
	if (se.c.cut)
		kp_buf_addf(&res->err, KP_TRUNCATED_MARKER, cap);
	res->truncated = so.c.cut || se.c.cut;
	free(av.v);
	free(envp.v);
	kp_buf_release(&envb);
	return rc;
}

/* ---- open and close ---- */

static kp_rc local_open(struct kp_conn *c, struct kp_buf *err)
{
	struct stat st;
	if (c->workdir) {
		if (stat(c->workdir, &st))
			return kp_errorf(err, KP_ERR_UNREACHABLE, "cannot use workdir '%s': %s",
					 c->workdir, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return kp_errorf(err, KP_ERR_UNREACHABLE, "cannot use workdir '%s': %s",
					 c->workdir, strerror(ENOTDIR));
	}
	c->opened = true;
	return KP_OK;
}

static void local_close(struct kp_conn *c)
{
	free(c->priv);
	c->priv = NULL;
	c->opened = false;
}

const struct kp_transport_ops kp_transport_local = {
    .name = "local",
    .open = local_open,
    .exec = local_exec,
    .put = kp_local_put,
    .get = kp_local_get,
    .stat = kp_local_stat,
    .close = local_close,
};
