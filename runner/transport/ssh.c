/*
 * transport_ssh.c - the `ssh` transport: one authenticated libssh session
 * per node, opened once and reused by every task.
 *
 * Commands run on a channel each. The remote side is always
 * `exec /bin/sh -c SCRIPT` whatever the login shell; SCRIPT first prints a
 * marker with its pid on stderr (sshd starts every no-pty session with
 * setsid(), so that pid is the process group of everything the command
 * starts), which is stripped from the output and lets a timeout kill the
 * whole tree from a second channel (`kill -- -PGID`), besides the "signal"
 * channel request that reaches only the leader. become runs sudo exactly as
 * the local transport does (the password goes to sudo's prompt only).
 *
 * Files go over SFTP, or through exec (transport_sftp.c); a jump host
 * (ProxyJump) gets a session of its own (transport_jump.c).
 *
 * Every network wait is bounded: connect and channel setup by the connect
 * timeout, commands by their own timeout, and a silent peer by TCP
 * keepalives plus TCP_USER_TIMEOUT on the socket, and while a command is
 * quiet OpenSSH's keepalive@openssh.com requests, counted as ssh's
 * ServerAliveInterval and ServerAliveCountMax count them (ssh_exec.c): a
 * frozen node, whose kernel still acknowledges, answers none of them. A connection is used
 * by one thread at a time; libssh sessions are independent, so hosts run on threads in parallel.
 */
#include "transport/ssh_config.h"
#include "transport/ssh_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>

#define KILL_GRACE_MS 1000  /* TERM, then this long before KILL (as local) */
#define DRAIN_MS      200   /* after KILL: how long to read what is left */
#define MARK_SEARCH   65536 /* stderr that may precede the pgid marker */

/*
 * -vvv: libssh's own protocol log (connect, banner, key exchange,
 * authentication, channels; SSH_LOG_PROTOCOL, not packet dumps) goes
 * through kp_log, which redacts the run's secrets and writes whole lines
 * to stderr, each naming the inventory host. libssh keeps its log
 * callback, level and user data per thread, and a host's connection is
 * used by whichever worker thread runs its task, so every entry point of
 * this transport binds them for the calling thread.
 */
static void trace_cb(int priority, const char *function, const char *buffer, void *userdata)
{
	(void)priority;
	(void)function; /* buffer already reads "function: message" */
	kp_log_raw(KP_LOG_TRACE, "ssh %s: %s", userdata ? (const char *)userdata : "?", buffer);
}

void kp_ssh_trace_bind(const struct kp_conn *c)
{
	if (kp_log_level < KP_LOG_TRACE)
		return;
	ssh_set_log_callback(trace_cb);
	ssh_set_log_userdata((void *)c->host);
	ssh_set_log_level(SSH_LOG_PROTOCOL);
}

__attribute__((format(printf, 1, 2))) void kp_ssh_trace_line(const char *fmt, ...)
{
	struct kp_buf b = KP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	kp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	const char *host = ssh_get_log_userdata();
	kp_log_raw(KP_LOG_TRACE, "ssh %s: kplan: %s", host ? host : "?", b.buf);
	kp_buf_release(&b);
}

/* ---- global setup ---- */

kp_rc kp_transport_ssh_global_init(struct kp_buf *err)
{
	if (ssh_init() != SSH_OK)
		return kp_errorf(err, KP_ERR_IO, "cannot initialize libssh");
	return KP_OK;
}

void kp_transport_ssh_global_release(void)
{
	ssh_finalize();
}

/* The one process-wide latch: the "checking is off" warning is printed once
 * per run, whichever host connects first. */
static pthread_once_t off_warning_once = PTHREAD_ONCE_INIT;

static void warn_off(void)
{
	fprintf(stderr, "warning: host key checking is off: connections are not authenticated\n");
}

/* ---- sockets ---- */

/* Detect a dead peer without traffic of our own: TCP keepalive probes when
 * idle, and TCP_USER_TIMEOUT when sent data stays unacknowledged. */
static void tune_socket(int fd, int keepalive_s)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (keepalive_s <= 0)
		return;
	int idle = keepalive_s, intvl = keepalive_s > 3 ? keepalive_s / 3 : 1, cnt = 3;
	unsigned user_ms = (unsigned)keepalive_s * 3000u;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms, sizeof(user_ms));
}

/* libssh's connect errors carry a prefix of its own; keep the reason. */
static const char *conn_reason(ssh_session s)
{
	const char *e = ssh_get_error(s);
	const char *p = strstr(e, ": ");
	if (!strncmp(e, "Failed to connect", 17) && p)
		return p + 2;
	if (strstr(e, "Timeout connecting") || strstr(e, "timeout"))
		return "Connection timed out";
	return e;
}

/* ---- host keys ---- */

static char *default_known_hosts(void)
{
	struct kp_buf b = KP_BUF_INIT;
	char *home = kp_home_dir();
	kp_buf_addf(&b, "%s/.ssh/known_hosts", home);
	free(home);
	return kp_buf_detach(&b, NULL);
}

/* How ssh-keygen -R names the host: [addr]:port unless the port is 22. */
static void keygen_name(struct kp_buf *b, const char *addr, int port)
{
	if (port == 22)
		kp_buf_addstr(b, addr);
	else
		kp_buf_addf(b, "[%s]:%d", addr, port);
}

/* Append the session's host key to file, under an exclusive flock (threads
 * each open the file, so flock serialises them as it does processes), unless
 * another thread recorded it meanwhile. */
static kp_rc record_key(ssh_session s, const char *addr, const char *file, struct kp_buf *err)
{
	char *dir = kp_xstrdup(file), *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700); /* ~/.ssh on a fresh machine; other errors show below */
	}
	free(dir);
	int fd = open(file, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return kp_errorf(err, KP_ERR_UNREACHABLE,
				 "cannot record host key for '%s' in '%s': %s", addr, file,
				 strerror(errno));
	kp_rc rc = KP_OK;
	char *line = NULL;
	while (flock(fd, LOCK_EX) && errno == EINTR)
		;
	enum ssh_known_hosts_e k = ssh_session_is_known_server(s);
	if (k == SSH_KNOWN_HOSTS_OK)
		goto out;
	if (k == SSH_KNOWN_HOSTS_CHANGED || k == SSH_KNOWN_HOSTS_OTHER) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "host key for '%s' has CHANGED", addr);
		goto out;
	}
	if (ssh_session_export_known_hosts_entry(s, &line) != SSH_OK) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot record host key for '%s': %s", addr,
			       ssh_get_error(s));
		goto out;
	}
	struct kp_buf b = KP_BUF_INIT;
	struct stat st;
	char last = '\n';
	/* A file without a final newline would glue our entry to its last. */
	if (!fstat(fd, &st) && st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		last = '\n';
	if (last != '\n')
		kp_buf_addch(&b, '\n');
	kp_buf_addstr(&b, line);
	if (!b.len || b.buf[b.len - 1] != '\n')
		kp_buf_addch(&b, '\n');
	if (write(fd, b.buf, b.len) != (ssize_t)b.len || fsync(fd))
		rc = kp_errorf(err, KP_ERR_UNREACHABLE,
			       "cannot record host key for '%s' in '%s': %s", addr, file,
			       strerror(errno));
	kp_buf_release(&b);
out:
	ssh_string_free_char(line);
	close(fd); /* also drops the lock */
	return rc;
}

static kp_rc check_host_key(ssh_session s, const struct kp_conn *c, const char *addr, int port,
			    const char *file, struct kp_buf *err)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;
	kp_rc rc = KP_OK;

	if (c->hostkey_mode == KP_HOSTKEY_OFF) {
		pthread_once(&off_warning_once, warn_off);
		return KP_OK;
	}
	if (ssh_get_server_publickey(s, &key) != SSH_OK ||
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hlen) != SSH_OK ||
	    !(fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hlen))) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot get the host key of '%s': %s", addr,
			       ssh_get_error(s));
		goto out;
	}
	struct kp_buf name = KP_BUF_INIT;
	keygen_name(&name, addr, port);
	switch (ssh_session_is_known_server(s)) {
	case SSH_KNOWN_HOSTS_OK:
		break;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		rc = kp_errorf(err, KP_ERR_UNREACHABLE,
			       "host key for '%s' has CHANGED (now %s): if the node was "
			       "reinstalled, remove the old key from '%s' (ssh-keygen -R %s)",
			       addr, fp, file, name.buf);
		break;
	case SSH_KNOWN_HOSTS_UNKNOWN:
	case SSH_KNOWN_HOSTS_NOT_FOUND:
		if (c->hostkey_mode == KP_HOSTKEY_ACCEPT_NEW) {
			struct kp_buf why = KP_BUF_INIT;
			if ((rc = record_key(s, addr, file, &why)))
				rc = kp_errorf(err, rc, "%s", why.buf);
			else
				kp_log(KP_LOG_INFO, "recorded host key for '%s' (%s) in '%s'", addr,
				       fp, file);
			kp_buf_release(&why);
			break;
		}
		rc = kp_errorf(err, KP_ERR_UNREACHABLE,
			       "host key for '%s' is not known (%s): add it to '%s' (ssh-keyscan) "
			       "or run with --host-key-checking accept-new",
			       addr, fp, file);
		break;
	default:
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot check the host key of '%s': %s",
			       addr, ssh_get_error(s));
	}
	kp_buf_release(&name);
out:
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return rc;
}

/* ---- authentication ---- */

/*
 * sshd leaves Nagle's algorithm on during authentication: when it answers
 * with two small packets, the second waits for our ACK of the first, and
 * delayed ACKs hold that back ~40 ms - once per connection, a third of
 * the time it takes to reach a host. So authentication runs non-blocking
 * and every wait first asks the kernel to acknowledge at once.
 */
enum auth_kind { AUTH_NONE, AUTH_KEY, AUTH_AGENT, AUTH_PASSWORD };

void kp_ssh_quickack(ssh_session s)
{
	int one = 1, fd = ssh_get_fd(s);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* Wait for the session's socket, acknowledging at once; false past the
 * deadline (monotonic ms). */
bool kp_ssh_quick_wait(ssh_session s, int64_t deadline_ms)
{
	struct timespec t;
	kp_ssh_quickack(s);
	struct pollfd pfd = {.fd = ssh_get_fd(s), .events = POLLIN};
	poll(&pfd, 1, 10);
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 < deadline_ms;
}

static int auth_call(ssh_session s, enum auth_kind kind, ssh_key key, const char *password)
{
	switch (kind) {
	case AUTH_NONE:
		return ssh_userauth_none(s, NULL);
	case AUTH_KEY:
		return ssh_userauth_publickey(s, NULL, key);
	case AUTH_AGENT:
		return ssh_userauth_agent(s, NULL);
	default:
		return ssh_userauth_password(s, NULL, password);
	}
}

static int auth_quick(ssh_session s, enum auth_kind kind, ssh_key key, const char *password,
		      int timeout_ms)
{
	struct timespec t0;
	int r;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int64_t deadline = (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000 + timeout_ms;
	ssh_set_blocking(s, 0);
	while ((r = auth_call(s, kind, key, password)) == SSH_AUTH_AGAIN) {
		if (!kp_ssh_quick_wait(s, deadline)) {
			r = SSH_AUTH_ERROR;
			break;
		}
	}
	ssh_set_blocking(s, 1);
	return r;
}

static kp_rc authenticate(ssh_session s, const char *user, const char *addr, const char *key_file,
			  const char *password, int timeout_ms, struct kp_buf *err)
{
	struct kp_buf tried = KP_BUF_INIT, how = KP_BUF_INIT; /* how: for the trace */
	const char *defaults[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
	kp_rc rc = KP_OK;
	int r = auth_quick(s, AUTH_NONE, NULL, NULL, timeout_ms);

	kp_buf_addstr(&how, "none");
	if (r == SSH_AUTH_SUCCESS)
		goto out;
	if (r == SSH_AUTH_ERROR)
		goto broken;
	/* OpenSSH's order: the given key (else the default ones), the agent,
	 * then a password, which is tried only when one was given. */
	for (size_t i = 0; i < (key_file ? 1 : KP_ARRAY_LEN(defaults)); i++) {
		struct kp_buf path = KP_BUF_INIT;
		if (key_file) {
			kp_buf_addstr(&path, key_file);
		} else {
			char *home = kp_home_dir();
			kp_buf_addf(&path, "%s/.ssh/%s", home, defaults[i]);
			free(home);
			if (access(path.buf, R_OK)) {
				kp_buf_release(&path);
				continue;
			}
		}
		ssh_key k = NULL;
		kp_buf_addf(&tried, "%skey %s", tried.len ? ", " : "", path.buf);
		if (ssh_pki_import_privkey_file(path.buf, NULL, NULL, NULL, &k) != SSH_OK) {
			kp_buf_addstr(&tried, access(path.buf, R_OK) ? " (cannot read it)"
								     : " (encrypted or invalid)");
			kp_buf_release(&path);
			continue;
		}
		kp_buf_reset(&how);
		kp_buf_addf(&how, "publickey (%s)", path.buf);
		kp_buf_release(&path);
		r = auth_quick(s, AUTH_KEY, k, NULL, timeout_ms);
		ssh_key_free(k);
		if (r == SSH_AUTH_SUCCESS)
			goto out;
		if (r == SSH_AUTH_ERROR)
			goto broken;
	}
	if (getenv("SSH_AUTH_SOCK")) {
		kp_buf_addf(&tried, "%sagent", tried.len ? ", " : "");
		kp_buf_reset(&how);
		kp_buf_addstr(&how, "publickey (agent)");
		r = auth_quick(s, AUTH_AGENT, NULL, NULL, timeout_ms);
		if (r == SSH_AUTH_SUCCESS)
			goto out;
		if (r == SSH_AUTH_ERROR && !ssh_is_connected(s))
			goto broken;
	}
	if (password) {
		kp_buf_addf(&tried, "%spassword", tried.len ? ", " : "");
		kp_buf_reset(&how);
		kp_buf_addstr(&how, "password");
		r = auth_quick(s, AUTH_PASSWORD, NULL, password, timeout_ms);
		if (r == SSH_AUTH_SUCCESS)
			goto out;
		if (r == SSH_AUTH_ERROR)
			goto broken;
	}
	rc = kp_errorf(err, KP_ERR_UNREACHABLE, "authentication failed for %s@%s (tried: %s)", user,
		       addr, tried.len ? tried.buf : "nothing: no key, no agent, no password");
	goto out;
broken:
	rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot authenticate to %s: %s", addr,
		       ssh_get_error(s));
out:
	if (!rc)
		ssh_trace("authenticated as %s to %s by %s", user, addr, how.buf);
	kp_buf_release(&tried);
	kp_buf_release(&how);
	return rc;
}

/* ---- sessions ---- */

/* Connect, check the host key, authenticate. On error *out stays NULL. */
kp_rc kp_ssh_session_open(const struct kp_conn *c, const struct endpoint *ep,
			  const char *known_hosts, ssh_session *out, struct kp_buf *err)
{
	int64_t tmo = c->connect_timeout_ms > 0 ? c->connect_timeout_ms : CONNECT_TIMEOUT_MS;
	long sec = (long)(tmo / 1000), usec = (long)(tmo % 1000) * 1000;
	unsigned port = (unsigned)ep->port;
	int yes = 1, no = 0;
	char *user = NULL;
	kp_rc rc = KP_OK;
	ssh_session s = ssh_new();

	if (!s)
		return kp_errorf(err, KP_ERR_NOMEM, "cannot create an ssh session");
	if (kp_log_level >= KP_LOG_TRACE) {
		int level = SSH_LOG_PROTOCOL; /* the session's own messages too */
		ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &level);
	}
	/* NODELAY: without it each small request waits for a delayed ACK
	 * (~40 ms per channel on loopback). No config processing: sshconfig.c
	 * did it, with inventory values winning. */
	if (ssh_options_set(s, SSH_OPTIONS_HOST, ep->addr) ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &port) ||
	    (ep->user && ssh_options_set(s, SSH_OPTIONS_USER, ep->user)) ||
	    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) ||
	    ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &sec) ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT_USEC, &usec) ||
	    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts) ||
	    (ep->fd >= 0 && ssh_options_set(s, SSH_OPTIONS_FD, &ep->fd))) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot set up ssh to %s: %s", ep->addr,
			       ssh_get_error(s));
		goto fail;
	}
	if (ssh_connect(s) != SSH_OK) {
		rc = kp_errorf(err, KP_ERR_UNREACHABLE, "cannot connect to %s:%d: %s", ep->addr,
			       ep->port, conn_reason(s));
		goto fail;
	}
	if (ep->fd < 0)
		tune_socket(ssh_get_fd(s), c->keepalive_s);
	if ((rc = check_host_key(s, c, ep->addr, ep->port, known_hosts, err)))
		goto fail;
	ssh_options_get(s, SSH_OPTIONS_USER, &user);
	if ((rc = authenticate(s, user ? user : "?", ep->addr, ep->key_file, ep->password, (int)tmo,
			       err)))
		goto fail;
	ssh_string_free_char(user);
	*out = s;
	return KP_OK;
fail:
	ssh_string_free_char(user);
	ssh_disconnect(s);
	ssh_free(s);
	return rc;
}

/* ---- open and close ---- */

/* The session only: the settings stay for a reconnect. */
static void drop_session(struct kp_conn *c)
{
	struct sshc *sc = c->priv;
	kp_ssh_trace_bind(c);
	if (sc) {
		if (sc->sftp)
			sftp_free(sc->sftp);
		if (sc->s) {
			ssh_disconnect(sc->s);
			ssh_free(sc->s);
		}
		kp_ssh_jump_free(sc->jump); /* after the target session, which used its socket */
		kp_ssh_idtab_release(&sc->users);
		kp_ssh_idtab_release(&sc->groups);
		free(sc->who);
		free(sc);
	}
	c->priv = NULL;
	c->opened = false;
}

static void ssh_close_conn(struct kp_conn *c)
{
	drop_session(c);
	free(c->known_hosts);
	if (c->password) /* a secret: leave nothing behind in freed memory */
		explicit_bzero(c->password, strlen(c->password));
	free(c->password);
	free(c->ssh_config);
	c->known_hosts = c->password = c->ssh_config = NULL;
}

static kp_rc ssh_open(struct kp_conn *c, struct kp_buf *err)
{
	struct kp_sshcfg cfg = {.alive_interval = -1, .alive_count = -1};
	char *cfgpath = NULL, *known = NULL;
	int fd = -1;
	kp_rc rc;
	struct sshc *sc = kp_xcalloc(1, sizeof(*sc));

	kp_ssh_trace_bind(c);
	if ((rc = kp_random_hex(sc->tag, 8, err)))
		goto fail;
	/* Inventory values first: lookup fills only what is still unset. */
	cfg.user = c->user ? kp_xstrdup(c->user) : NULL;
	cfg.port = c->port;
	cfg.identity = c->key_file ? kp_xstrdup(c->key_file) : NULL;
	cfg.proxy_jump = c->proxy_jump ? kp_xstrdup(c->proxy_jump) : NULL;
	if (!c->ssh_config) {
		char *home = kp_home_dir();
		struct kp_buf p = KP_BUF_INIT;
		kp_buf_addf(&p, "%s/.ssh/config", home);
		free(home);
		cfgpath = kp_buf_detach(&p, NULL);
	} else if (*c->ssh_config) {
		cfgpath = kp_xstrdup(c->ssh_config);
	}
	if (cfgpath && (rc = kp_sshcfg_lookup(cfgpath, c->address, &cfg, err))) {
		rc = KP_ERR_UNREACHABLE;
		goto fail;
	}
	/* ServerAlive*: the inventory's, else ~/.ssh/config's, else 30 s x 3 */
	if (!c->keepalive_s)
		c->keepalive_s = cfg.alive_interval > 0 ? cfg.alive_interval
				 : cfg.alive_interval	? 30
							: -1;
	if (c->keepalive_max <= 0)
		c->keepalive_max = cfg.alive_count > 0 ? cfg.alive_count : 3;
	const char *addr = cfg.hostname ? cfg.hostname : c->address;
	int port = cfg.port ? cfg.port : 22;
	known = c->known_hosts ? kp_xstrdup(c->known_hosts) : default_known_hosts();
	if (cfg.proxy_jump && strcmp(cfg.proxy_jump, "none") &&
	    (rc = kp_ssh_jump_open(c, cfg.proxy_jump, addr, port, known, &sc->jump, &fd, err)))
		goto fail;
	struct endpoint ep = {.addr = addr,
			      .port = port,
			      .user = cfg.user,
			      .key_file = cfg.identity,
			      .password = c->password,
			      .fd = fd};
	if ((rc = kp_ssh_session_open(c, &ep, known, &sc->s, err)))
		goto fail;
	char *user = NULL;
	ssh_options_get(sc->s, SSH_OPTIONS_USER, &user);
	struct kp_buf who = KP_BUF_INIT;
	kp_buf_addf(&who, "%s@%s:%d", user ? user : "?", addr, port);
	ssh_string_free_char(user);
	sc->who = kp_buf_detach(&who, NULL);
	c->priv = sc;
	c->opened = true;
	goto out;
fail:
	/* kp_ssh_session_open closed the fd it was given only when it got as far as
	 * ssh_free; libssh closes an SSH_OPTIONS_FD socket on disconnect. */
	kp_ssh_jump_free(sc->jump);
	free(sc);
out:
	kp_sshcfg_release(&cfg);
	free(cfgpath);
	free(known);
	return rc;
}

static kp_rc ssh_reconnect(struct kp_conn *c, int64_t timeout_ms, struct kp_buf *err)
{
	int64_t own = c->connect_timeout_ms;
	drop_session(c);
	if (timeout_ms > 0 && (own <= 0 || timeout_ms < own))
		c->connect_timeout_ms = timeout_ms;
	kp_rc rc = ssh_open(c, err);
	c->connect_timeout_ms = own;
	return rc;
}

const struct kp_transport_ops kp_transport_ssh = {
    .name = "ssh",
    .open = ssh_open,
    .exec = kp_ssh_exec,
    .put = kp_ssh_put,
    .get = kp_ssh_get,
    .stat = kp_ssh_stat,
    .close = ssh_close_conn,
    .reconnect = ssh_reconnect,
};
