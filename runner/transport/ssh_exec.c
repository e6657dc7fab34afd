/*
 * ssh_exec.c - the `ssh` transport's commands: a channel each, running
 * `exec /bin/sh -c SCRIPT` whatever the login shell. SCRIPT first prints a
 * marker with its process group (so a timeout can kill the whole tree
 * from a second channel), then changes directory, then runs the command,
 * under sudo with become (transport/become.h: the same words, feed and
 * output caps as the local transport). The session itself is ssh.c's.
 */
#include "transport/ssh_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h> /* ssh_send_keepalive, a client call too */

#define KILL_GRACE_MS 1000  /* TERM, then this long before KILL (as local) */
#define DRAIN_MS      200   /* after KILL: how long to read what is left */
#define MARK_SEARCH   65536 /* stderr that may precede the pgid marker */

static bool env_ok(const char *const *env, struct kp_buf *err)
{
	for (; env && *env; env++) {
		size_t n = strcspn(*env, "=");
		if (n == 0 || (*env)[n] != '=') {
			kp_errorf(err, KP_ERR_INVALID,
				  "invalid environment entry '%.*s': expected NAME=value", (int)n,
				  *env);
			return false;
		}
	}
	return true;
}

/*
 * The script given to `/bin/sh -c` on the node: the pgid marker, the
 * directory (a marker again when it is unusable: local reports that as an
 * error, not as a command status), then the command, under sudo with
 * become. Extra environment entries travel on stdin, never in the script
 * (which is a command line on the node), and a reader exports them
 * (kp_exec_words), under sudo too, whose env_reset would drop them.
 */
static void push_quoted(void *ctx, const char *w)
{
	kp_buf_addch(ctx, ' ');
	kp_sh_quote(ctx, w);
}

static void build_script(const struct kp_conn *c, const struct sshc *sc,
			 const struct kp_exec_req *req, const struct kp_become *b,
			 const struct kp_become_tags *tags, struct kp_buf *out)
{
	struct kp_buf s = KP_BUF_INIT;
	const char *dir = req->chdir ? req->chdir : c->workdir;

	kp_buf_addf(&s, "echo \"kplan-pgid-%s $$ $SHELL\" >&2\n", sc->tag);
	if (dir) {
		kp_buf_addstr(&s, "d=");
		kp_sh_quote(&s, dir);
		kp_buf_addf(&s,
			    "\ncd -- \"$d\" 2>/dev/null || { "
			    "if [ ! -e \"$d\" ]; then r=ENOENT; elif [ ! -d \"$d\" ]; then "
			    "r=ENOTDIR; else r=EACCES; fi; echo \"kplan-nodir-%s $r\" >&2; "
			    "exit 126; }\n",
			    sc->tag);
	}
	kp_buf_addstr(&s, "exec");
	kp_exec_words(b, tags, req->env, req, push_quoted, &s);
	kp_buf_addch(&s, '\n');
	if (sc->shell == SHELL_POSIX) {
		/* the login shell runs the script itself */
		kp_buf_addstr(out, s.buf);
	} else {
		/* any login shell can start /bin/sh */
		kp_buf_addstr(out, "exec /bin/sh -c ");
		kp_sh_quote(out, s.buf);
	}
	kp_buf_release(&s);
}

/* Write what the feed lets through now, within the channel's window; send
 * EOF once everything is out. Whether something was written. */
static bool feed_write(struct kp_feed *f, ssh_channel ch, bool *eof_sent, bool *failed)
{
	bool progress = false;
	const char *p;
	size_t len;
	while ((len = kp_feed_next(f, &p))) {
		uint32_t win = ssh_channel_window_size(ch);
		size_t n = len < win ? len : win;
		if (n > CHUNK)
			n = CHUNK;
		if (!n)
			break;
		int w = ssh_channel_write(ch, p, (uint32_t)n);
		if (w < 0) {
			*failed = true;
			return progress;
		}
		if (w == 0)
			break;
		progress = true;
		kp_feed_advance(f, (size_t)w);
	}
	if (kp_feed_done(f) && !*eof_sent) {
		ssh_channel_send_eof(ch);
		*eof_sent = true;
	}
	return progress;
}

/* One output stream: the shared capped buffer, and whether it ended. */
struct stream {
	struct kp_capbuf c;
	bool eof;
};

static void stream_add(struct stream *s, const char *p, size_t n)
{
	kp_capbuf_add(&s->c, p, n);
}

struct exec_state {
	int status;	   /* exit-status, -1 until received */
	int signal;	   /* exit-signal number, 0 until received */
	struct kp_buf pre; /* stderr until the pgid marker was seen */
	bool marked;
	long pgid;
	char shell[64]; /* $SHELL as the marker line reported it */
};

static int signal_number(const char *name)
{
	static const struct {
		const char *name;
		int n;
	} t[] = {{"HUP", 1},   {"INT", 2},   {"QUIT", 3},  {"ILL", 4},	 {"TRAP", 5},  {"ABRT", 6},
		 {"BUS", 7},   {"FPE", 8},   {"KILL", 9},  {"USR1", 10}, {"SEGV", 11}, {"USR2", 12},
		 {"PIPE", 13}, {"ALRM", 14}, {"TERM", 15}, {"XCPU", 24}, {"XFSZ", 25}, {"SYS", 31}};
	for (size_t i = 0; i < KP_ARRAY_LEN(t); i++)
		if (!strcmp(t[i].name, name))
			return t[i].n;
	return 127; /* a signal OpenSSH named but we do not know: still "killed" */
}

static void on_exit_status(ssh_session s, ssh_channel ch, int status, void *u)
{
	((struct exec_state *)u)->status = status;
}

static void on_exit_signal(ssh_session s, ssh_channel ch, const char *sig, int core,
			   const char *msg, const char *lang, void *u)
{
	((struct exec_state *)u)->signal = signal_number(sig);
}

/* Take stderr bytes: until the pgid marker line shows up they wait in
 * st->pre (anything a login script printed comes before it). */
static void take_stderr(const struct sshc *sc, struct exec_state *st, struct stream *se,
			const char *p, size_t n)
{
	if (st->marked) {
		stream_add(se, p, n);
		return;
	}
	kp_buf_add(&st->pre, p, n);
	char mark[48];
	int ml = snprintf(mark, sizeof(mark), "kplan-pgid-%s ", sc->tag);
	char *at = memmem(st->pre.buf, st->pre.len, mark, (size_t)ml);
	char *nl = at ? memchr(at, '\n', st->pre.len - (size_t)(at - st->pre.buf)) : NULL;
	if (nl) {
		char *end;
		st->pgid = strtol(at + ml, &end, 10);
		if (*end == ' ' && nl > end + 1) {
			size_t sl = (size_t)(nl - end - 1);
			if (sl >= sizeof(st->shell))
				sl = sizeof(st->shell) - 1;
			memcpy(st->shell, end + 1, sl);
			st->shell[sl] = '\0';
		}
		stream_add(se, st->pre.buf, (size_t)(at - st->pre.buf));
		stream_add(se, nl + 1, st->pre.len - (size_t)(nl + 1 - st->pre.buf));
	} else if (st->pre.len > MARK_SEARCH) {
		stream_add(se, st->pre.buf, st->pre.len);
	} else {
		return;
	}
	st->marked = true;
	kp_buf_release(&st->pre);
}

/* Signal the command's whole process group from a second channel; also as
 * root through sudo -n when the group belongs to the become user. Best
 * effort and bounded: the "signal" request on the command's own channel was
 * sent already. */
static void kill_group(struct sshc *sc, long pgid, const char *sig)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd),
		 "exec /bin/sh -c 'kill -s %s -- -%ld %ld 2>/dev/null || "
		 "sudo -n kill -s %s -- -%ld %ld 2>/dev/null'",
		 sig, pgid, pgid, sig, pgid, pgid);
	ssh_set_blocking(sc->s, 1);
	ssh_channel ch = ssh_channel_new(sc->s);
	if (ch && ssh_channel_open_session(ch) == SSH_OK) {
		if (ssh_channel_request_exec(ch, cmd) == SSH_OK) {
			char b[256];
			int64_t end = kp_now_ms() + 5000;
			ssh_channel_send_eof(ch);
			while (kp_now_ms() < end && !ssh_channel_is_eof(ch) &&
			       ssh_channel_read_timeout(ch, b, sizeof(b), 0, 500) >= 0)
				;
		}
		ssh_channel_close(ch);
	}
	if (ch)
		ssh_channel_free(ch);
	ssh_set_blocking(sc->s, 0);
}

kp_rc kp_ssh_lost(struct kp_conn *c, struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	return kp_errorf(err, KP_ERR_UNREACHABLE, "connection to %s lost: %s", sc->who,
			 ssh_get_error(sc->s));
}

static kp_rc run_channel(struct kp_conn *c, ssh_channel ch, const struct kp_exec_req *req,
			 struct kp_feed *fd, struct exec_state *st, struct kp_exec_res *res,
			 struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	size_t cap = req->max_output ? req->max_output : KP_OUTPUT_CAP_DEFAULT;
	struct stream so = {.c = {.buf = &res->out, .cap = cap}};
	struct stream se = {.c = {.buf = &res->err, .cap = cap}};
	bool eof_sent = false;
	char *chunk = kp_xmalloc(CHUNK);
	int64_t t0 = kp_now_ms();
	int64_t deadline = req->timeout_ms > 0 ? t0 + req->timeout_ms : -1;
	int64_t next_at = -1;
	int sig_sent = 0;
	bool status_before_signal = false, broke = false, dead = false;
	struct {
		uint64_t rx;
		int64_t next;
		int unanswered;
	} alive = {kp_ssh_rx_bytes(sc->s), t0 + (int64_t)c->keepalive_s * 1000, 0};
	ssh_event ev = ssh_event_new();
	kp_rc rc = KP_OK;

	ssh_event_add_session(ev, sc->s);
	for (;;) {
		bool progress = false;
		for (int e = 0; e < 2; e++) {
			struct stream *s = e ? &se : &so;
			while (!s->eof) {
				int n = ssh_channel_read_nonblocking(ch, chunk, CHUNK, e);
				if (n > 0) {
					progress = true;
					if (e)
						take_stderr(sc, st, s, chunk, (size_t)n);
					else
						stream_add(s, chunk, (size_t)n);
					continue;
				}
				if (n == SSH_EOF)
					s->eof = true;
				else if (n < 0)
					broke = true;
				break;
			}
		}
		if (broke)
			break;
		kp_feed_gate(fd, &res->out, &res->err);
		bool failed = false;
		if (!ssh_channel_is_closed(ch) && feed_write(fd, ch, &eof_sent, &failed))
			progress = true;
		if (failed && !ssh_is_connected(sc->s)) {
			broke = true;
			break;
		}
		bool have_status = st->status >= 0 || st->signal;
		if (have_status && sig_sent == 0)
			status_before_signal = true;
		if (ssh_channel_is_closed(ch) ||
		    (ssh_channel_is_eof(ch) && so.eof && se.eof && have_status))
			break;

		int64_t now = kp_now_ms(), wait = c->interrupts ? 200 : 1000;
		/* from the second Ctrl-C on, kill at once as on a timeout */
		bool aborted = c->interrupts && *c->interrupts >= 2;
		if (!sig_sent && (deadline >= 0 || aborted)) {
			if (aborted || now >= deadline) {
				res->timed_out = true;
				sig_sent = 15;
				ssh_channel_request_send_signal(ch, "TERM");
				if (st->pgid > 1)
					kill_group(sc, st->pgid, "TERM");
				next_at = kp_now_ms() + KILL_GRACE_MS;
			} else if (deadline - now < wait) {
				wait = deadline - now;
			}
		}
		if (sig_sent == 15 && kp_now_ms() >= next_at) {
			sig_sent = 9;
			ssh_channel_request_send_signal(ch, "KILL");
			if (st->pgid > 1)
				kill_group(sc, st->pgid, "KILL");
			next_at = kp_now_ms() + DRAIN_MS;
		}
		/* Something outside the group holds the channel open: stop. */
		if (sig_sent == 9 && kp_now_ms() >= next_at)
			break;
		if (sig_sent) {
			int64_t w = next_at - kp_now_ms();
			wait = w < 0 ? 0 : w < wait ? w : wait;
		}
		if (c->keepalive_s > 0) {
			/* ServerAliveInterval/CountMax: after interval seconds
			 * with nothing from the node, a keepalive@openssh.com
			 * request (sshd answers every one); count of them
			 * unanswered and the node is gone, even when its kernel
			 * still acknowledges (a frozen node) */
			int64_t now2 = kp_now_ms(), ivl = (int64_t)c->keepalive_s * 1000;
			uint64_t rx = kp_ssh_rx_bytes(sc->s);
			if (rx != alive.rx) {
				alive.rx = rx;
				alive.unanswered = 0;
				alive.next = now2 + ivl;
			} else if (now2 >= alive.next) {
				if (alive.unanswered >= c->keepalive_max) {
					dead = true;
					break;
				}
				ssh_send_keepalive(sc->s);
				alive.unanswered++;
				alive.next = now2 + ivl;
			}
			if (alive.next - now2 < wait)
				wait = alive.next - now2 < 0 ? 0 : alive.next - now2;
		}
		if (progress)
			continue;
		kp_ssh_quickack(sc->s);
		if (ssh_event_dopoll(ev, (int)wait) == SSH_ERROR && !ssh_is_connected(sc->s)) {
			broke = true;
			break;
		}
	}
	ssh_event_remove_session(ev, sc->s);
	ssh_event_free(ev);
	free(chunk);
	if (!st->marked && st->pre.len)
		stream_add(&se, st->pre.buf, st->pre.len);
	if (dead) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE,
			       "%s stopped answering: no reply to %d keepalives in %d s "
			       "(ServerAliveInterval %d, ServerAliveCountMax %d)",
			       sc->who, c->keepalive_max, c->keepalive_max * c->keepalive_s,
			       c->keepalive_s, c->keepalive_max);
		/* the session is of no more use: later operations fail at once
		 * (the socket is shut, libssh's objects stay valid to free) */
		if (ssh_get_fd(sc->s) >= 0)
			shutdown(ssh_get_fd(sc->s), SHUT_RDWR);
	} else if (broke || !ssh_is_connected(sc->s))
		rc = kp_ssh_lost(c, err);
	else if (st->signal)
		res->rc = 128 + st->signal;
	else if (res->timed_out && !status_before_signal)
		res->rc = 128 + sig_sent;
	else if (st->status >= 0)
		res->rc = st->status;
	else
		res->rc = 255; /* closed without a status, as ssh(1) reports it */
	if (so.c.cut)
		kp_buf_addf(&res->out, KP_TRUNCATED_MARKER, cap);
	if (se.c.cut)
		kp_buf_addf(&res->err, KP_TRUNCATED_MARKER, cap);
	res->truncated = so.c.cut || se.c.cut;
	return rc;
}

kp_rc kp_ssh_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		  struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	const struct kp_become *b = kp_exec_become(c, req);
	struct kp_become_tags tags;
	struct kp_buf cmd = KP_BUF_INIT, envb = KP_BUF_INIT;
	struct exec_state st = {.status = -1, .pre = KP_BUF_INIT};
	struct kp_feed fd;
	ssh_channel ch = NULL;
	kp_rc rc;

	kp_ssh_trace_bind(c);
	if (!sc || !sc->s)
		return kp_errorf(err, KP_ERR_UNREACHABLE, "not connected to '%s'", c->host);
	if (!req->cmd && (!req->argv || !req->argv[0]))
		return kp_errorf(err, KP_ERR_INVALID, "nothing to run: no command and no argv");
	if (!env_ok(req->env, err))
		return KP_ERR_INVALID;
	if ((rc = kp_become_check(b, err)))
		return rc;
	if (b->user && b->password && (rc = kp_become_tags_make(&tags, err)))
		return rc;
	kp_env_block(req->env, &envb);
	kp_feed_init(&fd, b, &tags, &envb, req->stdin_data, req->stdin_len);
	build_script(c, sc, req, b, &tags, &cmd);
	kp_buf_reset(&res->out);
	kp_buf_reset(&res->err);
	res->rc = -1;
	res->timed_out = res->truncated = false;
	res->duration_ms = 0;
	/* not the command itself: a no_log task's command (and what it
	 * carries) must not show in a trace; -v shows the others' commands */
	kp_log(KP_LOG_TRACE, "ssh %s: %s: exec a command of %zu bytes%s", c->host, sc->who, cmd.len,
	       b->user ? " (become)" : "");

	int64_t t0 = kp_now_ms();
	struct ssh_channel_callbacks_struct cb = {
	    .userdata = &st,
	    .channel_exit_status_function = on_exit_status,
	    .channel_exit_signal_function = on_exit_signal,
	};
	ssh_callbacks_init(&cb);
	/* Channel setup runs non-blocking with quick ACKs (see auth_quick),
	 * bounded by the connect timeout. */
	int64_t setup_deadline =
	    kp_now_ms() + (c->connect_timeout_ms > 0 ? c->connect_timeout_ms : CONNECT_TIMEOUT_MS);
	ssh_set_blocking(sc->s, 0);
	ch = ssh_channel_new(sc->s);
	int orc = SSH_ERROR, erc = SSH_ERROR;
	if (ch) {
		while ((orc = ssh_channel_open_session(ch)) == SSH_AGAIN &&
		       kp_ssh_quick_wait(sc->s, setup_deadline))
			;
	}
	if (orc == SSH_OK && ssh_set_channel_callbacks(ch, &cb) == SSH_OK) {
		while ((erc = ssh_channel_request_exec(ch, cmd.buf)) == SSH_AGAIN &&
		       kp_ssh_quick_wait(sc->s, setup_deadline))
			;
	}
	if (orc != SSH_OK || erc != SSH_OK) {
		rc = ssh_is_connected(sc->s)
			 ? kp_errorf(err, KP_ERR_UNREACHABLE, "cannot start a command on %s: %s",
				     sc->who, ssh_get_error(sc->s))
			 : kp_ssh_lost(c, err);
		goto out;
	}
	ssh_set_blocking(sc->s, 0);
	rc = run_channel(c, ch, req, &fd, &st, res, err);
	if (sc->shell == SHELL_UNKNOWN && st.marked && st.shell[0]) {
		static const char *const posix[] = {"sh", "bash", "dash", "ash", "ksh", "mksh"};
		const char *base = strrchr(st.shell, '/') ? strrchr(st.shell, '/') + 1 : st.shell;
		sc->shell = SHELL_OTHER;
		for (size_t i = 0; i < KP_ARRAY_LEN(posix); i++)
			if (!strcmp(base, posix[i]))
				sc->shell = SHELL_POSIX;
	}
	ssh_set_blocking(sc->s, 1);
	res->duration_ms = kp_now_ms() - t0;
	if (rc)
		goto out;
	/* A directory that cannot be entered is an error, as in local. */
	char nodir[48];
	snprintf(nodir, sizeof(nodir), "kplan-nodir-%s ", sc->tag);
	char *at = memmem(res->err.buf, res->err.len, nodir, strlen(nodir));
	if (at && res->rc == 126) {
		const char *r = at + strlen(nodir);
		int e = !strncmp(r, "ENOENT", 6)    ? ENOENT
			: !strncmp(r, "ENOTDIR", 7) ? ENOTDIR
						    : EACCES;
		rc = kp_errorf(err, KP_ERR_IO, "cannot change to directory '%s': %s",
			       req->chdir ? req->chdir : c->workdir, strerror(e));
		kp_buf_reset(&res->err);
		res->rc = -1;
	}
out:
	if (ch) {
		ssh_trace("closing the channel (exit status %d, %lld ms)", res->rc,
			  (long long)res->duration_ms);
		if (ssh_is_connected(sc->s))
			ssh_channel_close(ch); /* promptly: sshd allows 10 per connection */
		ssh_channel_free(ch);
	}
	ssh_set_blocking(sc->s, 1);
	kp_buf_release(&st.pre);
	kp_buf_release(&cmd);
	kp_buf_release(&envb);
	return rc;
}
