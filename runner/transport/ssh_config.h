/*
 * sshconfig.h - the few OpenSSH client settings kplan takes from
 * ~/.ssh/config (User, Port, HostName, IdentityFile, ProxyJump) and from
 * Ansible's ansible_ssh_common_args (-o ProxyJump=, -J), and ProxyJump specs.
 *
 * Ownership: a struct kp_sshcfg owns its strings (kp_sshcfg_release frees
 * them); returned char * are malloc'ed and freed by the caller.
 */
#ifndef KP_SSHCONFIG_H
#define KP_SSHCONFIG_H

#include "core/buf.h"

struct kp_sshcfg {
	char *hostname, *user, *identity, *proxy_jump; /* NULL: not set */
	int port;				       /* 0: not set */
	int alive_interval, alive_count;	       /* ServerAlive*: -1 not set */
};

/* Fill the fields of cfg still unset from the blocks of the file at path
 * that match host, the first value winning as in OpenSSH. A missing file is
 * not an error. Match blocks are skipped; Include is not followed. */
kp_rc kp_sshcfg_lookup(const char *path, const char *host, struct kp_sshcfg *cfg,
		       struct kp_buf *err);
void kp_sshcfg_release(struct kp_sshcfg *cfg);

/* The ProxyJump given in ssh arguments (`-o ProxyJump=X`, `-oProxyJump X`,
 * `-J X`), or NULL; other arguments are ignored. */
char *kp_ssh_args_proxyjump(const char *args);
/* The value of option `name` given in ssh arguments as `-o Name=X` or `-o
 * "Name X"` (the first one, as ssh takes it), or NULL. */
char *kp_ssh_args_option(const char *args, const char *name);

/* Split a ProxyJump spec `[user@]host[:port]` (also `[v6]:port` and
 * `ssh://user@host:port`); one hop only. user is NULL and port 0 when not
 * given. */
kp_rc kp_ssh_parse_jump(const char *spec, char **user, char **host, int *port, struct kp_buf *err);

/* The home directory of the user running kplan ($HOME, else the passwd
 * entry), malloc'ed. */
char *kp_home_dir(void);

#endif
