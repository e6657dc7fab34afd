/*
 * transport_ssh_int.h - what the files of the `ssh` transport share:
 * transport_ssh.c (sessions, authentication, host keys, commands, the
 * vtable), transport_sftp.c (files) and transport_jump.c (jump hosts).
 * Not for the rest of kplan: they use transport.h.
 *
 * Ownership: a struct sshc is its kp_conn's priv and is freed, with what it
 * holds, when the session is dropped (transport_ssh.c).
 */
#ifndef KP_TRANSPORT_SSH_INT_H
#define KP_TRANSPORT_SSH_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "transport/transport.h"

#define CHUNK		   65536 /* bytes per read or write: channels, SFTP, the jump pump */
#define CONNECT_TIMEOUT_MS 10000 /* connect and command setup, unless the host says */

/* ---- state ---- */

struct idname {
	unsigned id;
	char *name;
};

struct idtab {
	struct idname *v;
	size_t n, cap;
	bool loaded;
};

struct jump; /* transport_jump.c */

struct sshc {
	ssh_session s;
	sftp_session sftp;
	bool no_sftp; /* the node has no SFTP server: files go through exec */
	struct jump *jump;
	char tag[17]; /* random hex for the markers in command output */
	struct idtab users, groups;
	char *who; /* user@address:port, for messages */
	/* the login shell, learnt from the first command: when it is a POSIX
	 * shell, commands skip the `exec /bin/sh -c` hop (one exec fewer on
	 * the node for every command) */
	enum { SHELL_UNKNOWN, SHELL_POSIX, SHELL_OTHER } shell;
};

struct endpoint {
	const char *addr;
	int port;
	const char *user; /* NULL: libssh's default (the local user) */
	const char *key_file;
	const char *password;
	int fd; /* -1: connect to addr:port; else a socket already leading there */
};

/* transport_ssh.c */

/* Bind libssh's -vvv log to the host of c, for the calling thread. */
void kp_ssh_trace_bind(const struct kp_conn *c);
/* The error for a connection that went away under an operation. */
kp_rc kp_ssh_lost(struct kp_conn *c, struct kp_buf *err);
/* TCP_QUICKACK on the session's socket before a wait (see ssh.c). */
void kp_ssh_quickack(ssh_session s);
/* Wait for the session's socket, acknowledging at once; false past the
 * deadline (monotonic ms). */
bool kp_ssh_quick_wait(ssh_session s, int64_t deadline_ms);
/* Our own trace lines at -vvv (what libssh does not say at that level:
 * which authentication worked, a channel's end), for the bound host. */
__attribute__((format(printf, 1, 2))) void kp_ssh_trace_line(const char *fmt, ...);
#define ssh_trace(...)                                                                             \
	do {                                                                                       \
		if (kp_log_level >= KP_LOG_TRACE)                                                  \
			kp_ssh_trace_line(__VA_ARGS__);                                            \
	} while (0)

/* ssh_alive.c: bytes the kernel received on the session's socket so far
 * (anything from the node, a keepalive's answer included). */
uint64_t kp_ssh_rx_bytes(ssh_session s);

/* ssh_exec.c: the vtable's exec slot. */
kp_rc kp_ssh_exec(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		  struct kp_buf *err);
/* Connect, check the host key, authenticate. On error *out stays NULL. */
kp_rc kp_ssh_session_open(const struct kp_conn *c, const struct endpoint *ep,
			  const char *known_hosts, ssh_session *out, struct kp_buf *err);

/* transport_sftp.c */

/* Free a user or group table and zero it. */
void kp_ssh_idtab_release(struct idtab *t);
/* The vtable's put, get and stat slots. */
kp_rc kp_ssh_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		 const struct kp_put_opts *o, struct kp_buf *err);
kp_rc kp_ssh_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		 struct kp_buf *err);
kp_rc kp_ssh_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		  struct kp_buf *err);

/* transport_jump.c */

/* A session to the jump host spec and a channel through it to addr:port. */
kp_rc kp_ssh_jump_open(const struct kp_conn *c, const char *spec, const char *addr, int port,
		       const char *known_hosts, struct jump **out, int *fd, struct kp_buf *err);
/* Stop the pump, close the channel and the jump session; j may be NULL. */
void kp_ssh_jump_free(struct jump *j);

#endif
