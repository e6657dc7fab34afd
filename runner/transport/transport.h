/*
 * transport.h - how kplan reaches a node: run commands, move files, stat.
 *
 * A transport is a vtable (curl's protocol handlers): the slots marked MUST
 * are always set, MAY slots may be NULL. `local` runs on this machine with
 * posix_spawn; `ssh` keeps one libssh session per node. Modules and
 * the engine talk only to this interface, never to libssh or fork directly.
 *
 * A connection belongs to one host and is used by one thread at a time.
 * become (sudo, become.h) is a field of the exec request; the task that
 * holds the connection leases it with its own become, which applies to
 * every operation without one: exec wraps the command in `sudo -n -u USER`
 * (or `sudo -S` with the password on stdin, never logged); file operations
 * then run through exec too, so they act with the become user's rights.
 *
 * Ownership: a kp_exec_res owns its buffers (kp_exec_res_release frees them);
 * a kp_conn owns its strings and priv, freed with kp_conn_free; the become
 * strings are borrowed from the task and never freed here. The
 * ssh-only strings (known_hosts, password, ssh_config) belong to the ssh
 * transport: its close frees them (kp_conn_free always calls close).
 */
#ifndef KP_TRANSPORT_H
#define KP_TRANSPORT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "transport/become.h"

#define KP_OUTPUT_CAP_DEFAULT (4u << 20) /* bytes kept per stream */
#define KP_TRUNCATED_MARKER   "\n[kplan: output truncated: more than %zu bytes]\n"

struct kp_exec_req {
	const char *cmd;	 /* run with /bin/sh -c; or NULL and argv */
	const char *const *argv; /* run without a shell (NULL-terminated) */
	const char *const *env;	 /* extra "NAME=value" entries (NULL-terminated), or NULL */
	const char *chdir;	 /* or NULL */
	const char *stdin_data;	 /* or NULL */
	size_t stdin_len;
	int64_t timeout_ms; /* 0: no limit. On expiry the whole process group is killed */
	size_t max_output;  /* per stream; 0: KP_OUTPUT_CAP_DEFAULT */
	/* who runs it (become.h); NULL: the connection's current task's */
	const struct kp_become *become;
};

struct kp_exec_res {
	int rc;		   /* exit status; 128+N when killed by signal N; -1 not started */
	struct kp_buf out; /* stdout (capped, with KP_TRUNCATED_MARKER when cut) */
	struct kp_buf err; /* stderr (same) */
	bool timed_out;
	bool truncated;
	int64_t duration_ms;
};
void kp_exec_res_init(struct kp_exec_res *r);
void kp_exec_res_release(struct kp_exec_res *r);

struct kp_stat {
	bool exists;
	char type;     /* 'f' regular, 'd' directory, 'l' symlink, 'o' other */
	unsigned mode; /* permission bits (07777) */
	char owner[64], group[64];
	int64_t size;
	int64_t mtime_ns;
	char sha256[65]; /* hex, regular files when asked for; "" otherwise */
	char link_target[4096];
};

struct kp_put_opts {
	int mode;	   /* -1: keep the existing file's mode, or 0644 for a new one */
	const char *owner; /* NULL: unchanged (new files: the connection's user) */
	const char *group; /* NULL: unchanged */
};

struct kp_conn;

struct kp_transport_ops {
	const char *name;
	/* MUST: open the connection (authenticate, check host keys). An error
	 * means the host is unreachable; the message says why. */
	kp_rc (*open)(struct kp_conn *c, struct kp_buf *err);
	/* MUST: run a command. KP_OK whenever the command ran (whatever its exit
	 * status); an error only when it could not be run or the connection broke. */
	kp_rc (*exec)(struct kp_conn *c, const struct kp_exec_req *req, struct kp_exec_res *res,
		      struct kp_buf *err);
	/* MUST: write a file atomically (a temporary file beside it, then rename). */
	kp_rc (*put)(struct kp_conn *c, const char *path, const void *data, size_t len,
		     const struct kp_put_opts *o, struct kp_buf *err);
	/* MUST: read a whole file, at most max bytes (KP_ERR_LIMIT beyond; 0: no
	 * limit). out is replaced only on success. */
	kp_rc (*get)(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		     struct kp_buf *err);
	/* MUST: stat a path (lstat: a link is reported as a link); a missing path
	 * is KP_OK with exists == false. */
	kp_rc (*stat)(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		      struct kp_buf *err);
	/* MAY: close and free what open() set up; also called on a connection
	 * that was never opened (priv NULL). */
	void (*close)(struct kp_conn *c);
	/* MAY: open the connection again after its peer went away (the
	 * `reboot` module): drop the current session, if any, and open a new
	 * one with the same settings, each connect bounded by timeout_ms (0:
	 * the connection's own). The same kp_conn stays the host's, usable by
	 * the tasks that follow. On error the connection is left closed (exec
	 * fails as unreachable) and reconnect may be tried again. NULL when
	 * there is nothing to reconnect to (local). */
	kp_rc (*reconnect)(struct kp_conn *c, int64_t timeout_ms, struct kp_buf *err);
};

/* --host-key-checking */
enum kp_hostkey_mode {
	KP_HOSTKEY_STRICT = 0, /* unknown or changed key: unreachable */
	KP_HOSTKEY_ACCEPT_NEW, /* record unknown keys, refuse changed ones */
	KP_HOSTKEY_OFF,	       /* accept anything (warned once per run) */
};

struct kp_conn {
	const struct kp_transport_ops *ops;
	char *host;    /* inventory name */
	char *address; /* ansible_host, or the name */
	int port;
	char *user;
	char *key_file;
	char *proxy_jump;
	char *workdir; /* local: kplan_workdir, a directory commands start in */
	/* ssh only; port 0 and NULL strings mean "not set": ~/.ssh/config, then defaults */
	char *known_hosts; /* NULL: ~/.ssh/known_hosts */
	enum kp_hostkey_mode hostkey_mode;
	char *password;	  /* ansible_password: tried last, never logged */
	char *ssh_config; /* NULL: ~/.ssh/config; "": read none */
	/* ServerAliveInterval and ServerAliveCountMax: a node that answers
	 * nothing for interval x count is unreachable. 0: not set (then
	 * ~/.ssh/config, else 30 s and 3); interval -1: no keepalives */
	int keepalive_s, keepalive_max;
	int64_t connect_timeout_ms; /* 0: 10 s */
	/* Ctrl-C count of the run (or NULL): from the second one on, a running
	 * command is killed at once, as on a timeout */
	const volatile sig_atomic_t *interrupts;
	/* the become of the task holding the connection (its user NULL: none);
	 * set only by the engine's kp_host_lease, for the task's whole time */
	struct kp_become become;
	bool opened;
	void *priv; /* the transport's own state */
};

extern const struct kp_transport_ops kp_transport_local;
extern const struct kp_transport_ops kp_transport_ssh;

/* libssh's global setup (ssh_init): call once from main before any thread
 * starts; kp_transport_ssh_global_release (ssh_finalize) once at exit. */
kp_rc kp_transport_ssh_global_init(struct kp_buf *err);
void kp_transport_ssh_global_release(void);

/* Run a shell command through c (become applied); the convenient form. */
kp_rc kp_conn_sh(struct kp_conn *c, const char *cmd, int64_t timeout_ms, struct kp_exec_res *res,
		 struct kp_buf *err);

/* Quote a word for /bin/sh: 'it'\''s'. */
void kp_sh_quote(struct kp_buf *out, const char *s);

/* SHA-256 of a buffer as 64 hex characters + NUL (OpenSSL EVP). */
void kp_sha256_hex(const void *data, size_t len, char out[65]);

/*
 * Helpers for transports. kp_exec_put/get/stat do the file operations
 * through c->ops->exec with small shell scripts (POSIX sh and GNU coreutils
 * on the node: mktemp, stat -c, sha256sum), so become applies; they keep the
 * contracts of the put/get/stat slots. local uses them under become; ssh can.
 */
kp_rc kp_exec_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		  const struct kp_put_opts *o, struct kp_buf *err);
kp_rc kp_exec_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		  struct kp_buf *err);
kp_rc kp_exec_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		   struct kp_buf *err);
/* Split a path to write into its directory ("." when none) and base name. */
void kp_path_split(const char *path, struct kp_buf *dir, const char **base);
/* Check put's arguments: a path naming a file, o->mode -1 or within 07777. */
kp_rc kp_put_check(const char *path, const struct kp_put_opts *o, struct kp_buf *err);
/* A whole file through rd (bytes read, 0 at the end, < 0 on an error; it
 * retries EINTR itself) into *out, refusing more than max bytes (0: no
 * limit); hint: the size expected, or 0. On a read error *read_failed is set and err left for the
 * caller to say why; *out is untouched unless all of it was read. */
kp_rc kp_read_whole(ssize_t (*rd)(void *src, char *buf, size_t n), void *src, const char *path,
		    size_t hint, size_t max, struct kp_buf *out, bool *read_failed,
		    struct kp_buf *err);

/* Close c (ops->close when set), free its strings and c itself (malloc'ed).
 * NULL is allowed. */
void kp_conn_free(struct kp_conn *c);

#endif
