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
 * keepalives plus TCP_USER_TIMEOUT on the socket and SSH_MSG_IGNORE packets
 * sent while a command is quiet (libssh 0.10 has no client keepalive option). A connection is used
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

#define KILL_GRACE_MS	   1000 /* TERM, then this long before KILL (as local) */
#define DRAIN_MS	   200	/* after KILL: how long to read what is left */
#define CONNECT_TIMEOUT_MS 10000
#define MARK_SEARCH	   65536 /* stderr that may precede the pgid marker */

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

/* Our own trace lines (what libssh does not say at that level: which
 * authentication worked, a channel's end), for the host bound above. */
#define ssh_trace(...)                                                                             \
	do {                                                                                       \
		if (kp_log_level >= KP_LOG_TRACE)                                                  \
			trace_line(__VA_ARGS__);                                                   \
	} while (0)
__attribute__((format(printf, 1, 2))) static void trace_line(const char *fmt, ...)
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

kp_rc kp_ssh_random_hex(char *out, size_t nbytes, struct kp_buf *err)
{
	unsigned char r[32];
	if (nbytes > sizeof(r) || getrandom(r, nbytes, 0) != (ssize_t)nbytes)
		return kp_errorf(err, KP_ERR_IO, "cannot get random bytes: %s", strerror(errno));
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return KP_OK;
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

static void quickack(ssh_session s)
{
	int one = 1, fd = ssh_get_fd(s);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* Wait for the session's socket, acknowledging at once; false past the
 * deadline (monotonic ms). */
static bool quick_wait(ssh_session s, int64_t deadline_ms)
{
	struct timespec t;
	quickack(s);
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
		if (!quick_wait(s, deadline)) {
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
	struct kp_sshcfg cfg = {0};
	char *cfgpath = NULL, *known = NULL;
	int fd = -1;
	kp_rc rc;
	struct sshc *sc = kp_xcalloc(1, sizeof(*sc));

	kp_ssh_trace_bind(c);
	if ((rc = kp_ssh_random_hex(sc->tag, 8, err)))
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

/* ---- exec ---- */

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
 * become. sudo's env_reset drops our environment, so extra entries travel
 * as `env NAME=value` after sudo's `--`, as local does.
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
	int64_t t0 = kp_now_ms(), last = t0;
	int64_t deadline = req->timeout_ms > 0 ? t0 + req->timeout_ms : -1;
	int64_t next_at = -1;
	int sig_sent = 0;
	bool status_before_signal = false, broke = false;
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
		if (progress)
			last = kp_now_ms();
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
			int64_t ka = last + (int64_t)c->keepalive_s * 1000 - kp_now_ms();
			if (ka <= 0) {
				/* SSH_MSG_IGNORE needs no reply: the TCP ACK is what
				 * counts; TCP_USER_TIMEOUT turns its absence into a
				 * socket error. */
				ssh_send_ignore(sc->s, "");
				last = kp_now_ms();
			} else if (ka < wait) {
				wait = ka;
			}
		}
		if (progress)
			continue;
		quickack(sc->s);
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
	if (broke || !ssh_is_connected(sc->s))
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

static kp_rc ssh_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		      struct kp_buf *err)
{
	struct sshc *sc = c->priv;
	const struct kp_become *b = kp_exec_become(c, req);
	struct kp_become_tags tags;
	struct kp_buf cmd = KP_BUF_INIT;
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
	kp_feed_init(&fd, b, &tags, req->stdin_data, req->stdin_len);
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
		       quick_wait(sc->s, setup_deadline))
			;
	}
	if (orc == SSH_OK && ssh_set_channel_callbacks(ch, &cb) == SSH_OK) {
		while ((erc = ssh_channel_request_exec(ch, cmd.buf)) == SSH_AGAIN &&
		       quick_wait(sc->s, setup_deadline))
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
	return rc;
}

const struct kp_transport_ops kp_transport_ssh = {
    .name = "ssh",
    .open = ssh_open,
    .exec = ssh_exec,
    .put = kp_ssh_put,
    .get = kp_ssh_get,
    .stat = kp_ssh_stat,
    .close = ssh_close_conn,
    .reconnect = ssh_reconnect,
};
