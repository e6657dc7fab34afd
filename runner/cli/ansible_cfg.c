/*
 * ansible_cfg.c - the settings of an existing ansible.cfg that kplan
 * honours, found where Ansible looks: $ANSIBLE_CONFIG, ./ansible.cfg,
 * ~/.ansible.cfg, /etc/ansible/ansible.cfg (the first that exists), with
 * the ANSIBLE_* environment variables over the file and the command line
 * over both (main applies this before parsing the options).
 *
 * [defaults] inventory, roles_path, remote_user, private_key_file,
 * host_key_checking, forks, timeout, vault_password_file;
 * [privilege_escalation] become, become_user, become_method (sudo only),
 * become_ask_pass; [ssh_connection] ssh_args: ProxyJump (and a ProxyCommand
 * of the form `ssh -W %h:%p host`), ServerAliveInterval,
 * UserKnownHostsFile, StrictHostKeyChecking and -F; the rest of ssh_args
 * (ControlMaster, ControlPersist, ...) is ignored with a note.
 *
 * remote_user, become and become_user are defaults of the play keywords
 * of the same names (a play's own keyword, and the host's ansible_user and
 * ansible_become, win over them); the SSH settings become host variables
 * of the lowest precedence (conn_defaults: ansible_ssh_private_key_file,
 * ansible_ssh_timeout, ...): every inventory variable wins over them. As
 * in Ansible. Paths are relative to the
 * file's directory, as Ansible resolves them.
 */
#include "cli/cli.h"
#include "modules/module.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct kp_ansible_cfg {
	char *path, *dir;
	struct kp_value *ini; /* section -> key -> value */
	struct kp_strlist owned;
};

static const char *ini_get(const struct kp_ansible_cfg *c, const char *sect, const char *key)
{
	const struct kp_value *s = c->ini ? kp_map_get(c->ini, sect) : NULL;
	const struct kp_value *v = s ? kp_map_get(s, key) : NULL;
	return v && v->type == KP_V_STR ? v->u.str.s : NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Python's configparser as Ansible sets it up: [section], key = value or
 * key: value, '#' and ';' comment lines, ';' inline comments after white
 * space, indented lines continue the value. Keys are lowercased. */
static kp_rc parse_ini(const char *path, const char *text, struct kp_value *ini, struct kp_buf *err)
{
	struct kp_value *sect = NULL;
	struct kp_buf key = KP_BUF_INIT, val = KP_BUF_INIT;
	int lineno = 0;
	kp_rc rc = KP_OK;
	char *copy = kp_xstrdup(text), *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line && !rc;
	     line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		char *t = trim(line);
		if (!*t || *t == '#' || *t == ';')
			continue;
		for (char *p = t + 1; *p; p++)
			if (*p == ';' && isspace((unsigned char)p[-1])) {
				*p = '\0';
				break;
			}
		t = trim(t);
		if (isspace((unsigned char)line[0]) && key.len && sect) {
			kp_buf_addch(&val, '\n');
			kp_buf_addstr(&val, t);
			kp_map_set_take(sect, key.buf, kp_value_str(val.buf));
			continue;
		}
		if (*t == '[') {
			char *end = strchr(t, ']');
			if (!end) {
				rc = kp_errorf(err, KP_ERR_PARSE,
					       "%s:%d:1: unclosed section header", path, lineno);
				break;
			}
			*end = '\0';
			const struct kp_value *have = kp_map_get(ini, t + 1);
			if (!have)
				kp_map_set_take(ini, t + 1, kp_value_map());
			sect = (struct kp_value *)kp_map_get(ini, t + 1);
			kp_buf_reset(&key);
			continue;
		}
		size_t klen = strcspn(t, "=:");
		if (!t[klen] || !sect) {
			rc = kp_errorf(err, KP_ERR_PARSE, "%s:%d:1: expected 'key = value'%s", path,
				       lineno, sect ? "" : " in a [section]");
			break;
		}
		kp_buf_reset(&key);
		kp_buf_add(&key, t, klen);
		char *k = trim(key.buf);
		for (char *p = k; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		memmove(key.buf, k, strlen(k) + 1);
		key.len = strlen(key.buf);
		kp_buf_reset(&val);
		kp_buf_addstr(&val, trim(t + klen + 1));
		kp_map_set_take(sect, key.buf, kp_value_str(val.buf));
	}
	free(copy);
	kp_buf_release(&key);
	kp_buf_release(&val);
	return rc;
}

static bool is_file(const char *p)
{
	struct stat st;
	return p && !stat(p, &st) && S_ISREG(st.st_mode);
}

/* The first ansible.cfg of Ansible's search order, or NULL. */
static char *find_cfg(void)
{
	const char *env = getenv("ANSIBLE_CONFIG");
	struct kp_buf b = KP_BUF_INIT;
	if (env && *env) {
		struct stat st;
		kp_buf_addstr(&b, env);
		if (!stat(env, &st) && S_ISDIR(st.st_mode))
			kp_buf_addstr(&b, "/ansible.cfg");
		if (is_file(b.buf))
			return kp_buf_detach(&b, NULL);
		kp_buf_reset(&b);
	}
	/* Ansible ignores a world-writable current directory's file */
	struct stat cwd;
	if (is_file("ansible.cfg") && !stat(".", &cwd) && !(cwd.st_mode & S_IWOTH)) {
		kp_buf_release(&b);
		return kp_xstrdup("ansible.cfg");
	}
	const char *home = getenv("HOME");
	if (home && *home) {
		kp_buf_addf(&b, "%s/.ansible.cfg", home);
		if (is_file(b.buf))
			return kp_buf_detach(&b, NULL);
	}
	kp_buf_release(&b);
	return is_file("/etc/ansible/ansible.cfg") ? kp_xstrdup("/etc/ansible/ansible.cfg") : NULL;
}

/* Ansible's booleans: yes/no, true/false, on/off, 1/0 (any case). */
static int cfg_bool(const char *s)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "y", "t"};
	static const char *const no[] = {"no", "false", "off", "0", "n", "f"};
	for (size_t i = 0; s && i < KP_ARRAY_LEN(yes); i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -1;
}

/* A setting: the environment variable over the file. */
static const char *setting(const struct kp_ansible_cfg *c, const char *env, const char *sect,
			   const char *key)
{
	const char *e = env ? getenv(env) : NULL;
	return e && *e ? e : ini_get(c, sect, key);
}

/* A path relative to the file's directory (~ expanded), kept in c. */
static const char *cfg_path(struct kp_ansible_cfg *c, const char *p)
{
	struct kp_buf b = KP_BUF_INIT;
	const char *home = getenv("HOME");
	if (p[0] == '~' && (p[1] == '/' || !p[1]) && home)
		kp_buf_addf(&b, "%s%s", home, p + 1);
	else if (p[0] == '/' || !c->dir || !strcmp(c->dir, "."))
		kp_buf_addstr(&b, p);
	else
		kp_buf_addf(&b, "%s/%s", c->dir, p);
	kp_strlist_push(&c->owned, b.buf);
	kp_buf_release(&b);
	return c->owned.v[c->owned.n - 1];
}

static void set_default(struct kp_runopts *o, const char *var, const char *val)
{
	if (!o->conn_defaults)
		o->conn_defaults = kp_value_map();
	kp_map_set_take(o->conn_defaults, var, kp_value_str(val));
}

static void note(struct kp_runopts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct kp_runopts *o, const char *fmt, ...)
{
	struct kp_buf b = KP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	kp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	kp_strlist_push(&o->cfg_notes, b.buf);
	kp_buf_release(&b);
}

/* "ssh -W %h:%p [-q] [-p PORT] [-l USER] [USER@]HOST" -> "[USER@]HOST[:PORT]" */
static char *proxycommand_jump(const char *cmd)
{
	char **w = NULL;
	struct kp_buf e = KP_BUF_INIT, out = KP_BUF_INIT;
	const char *host = NULL, *port = NULL, *user = NULL;
	bool forward = false;
	if (kp_mod_split_words(cmd, &w, &e) || !w[0] || strcmp(w[0], "ssh")) {
		kp_buf_release(&e);
		kp_mod_free_words(w);
		return NULL;
	}
	for (size_t i = 1; w[i]; i++) {
		if (!strcmp(w[i], "-W") && w[i + 1])
			forward = !strcmp(w[++i], "%h:%p");
		else if (!strcmp(w[i], "-p") && w[i + 1])
			port = w[++i];
		else if (!strcmp(w[i], "-l") && w[i + 1])
			user = w[++i];
		else if (w[i][0] == '-' && strchr("oiFJ", w[i][1]) && !w[i][2] && w[i + 1])
			i++;
		else if (w[i][0] != '-')
			host = w[i];
	}
	if (forward && host) {
		if (user && !strchr(host, '@'))
			kp_buf_addf(&out, "%s@", user);
		kp_buf_addstr(&out, host);
		if (port)
			kp_buf_addf(&out, ":%s", port);
	}
	kp_mod_free_words(w);
	kp_buf_release(&e);
	return out.len ? kp_buf_detach(&out, NULL) : (kp_buf_release(&out), NULL);
}

/* The -o options of ssh_args that map onto kplan's SSH. */
static void ssh_args(struct kp_ansible_cfg *c, struct kp_runopts *o, const char *args)
{
	char **w = NULL;
	struct kp_buf e = KP_BUF_INIT;
	if (kp_mod_split_words(args, &w, &e)) {
		note(o, "ansible.cfg: ssh_args: %s: ignored", e.buf);
		kp_buf_release(&e);
		return;
	}
	for (size_t i = 0; w[i]; i++) {
		const char *opt = NULL;
		if (!strcmp(w[i], "-o") && w[i + 1])
			opt = w[++i];
		else if (!strncmp(w[i], "-o", 2) && w[i][2])
			opt = w[i] + 2;
		else if (!strcmp(w[i], "-F") && w[i + 1]) {
			set_default(o, "ansible_ssh_config", cfg_path(c, w[++i]));
			continue;
		} else if (!strcmp(w[i], "-J") && w[i + 1]) {
			set_default(o, "ansible_ssh_proxy_jump", w[++i]);
			continue;
		} else {
			note(o, "ansible.cfg: ssh_args: '%s' is ignored", w[i]);
			continue;
		}
		char name[64];
		size_t nl = strcspn(opt, "= \t");
		snprintf(name, sizeof(name), "%.*s", (int)(nl < 63 ? nl : 63), opt);
		const char *val = opt + nl;
		while (*val == '=' || *val == ' ' || *val == '\t')
			val++;
		if (!strcasecmp(name, "ProxyJump")) {
			set_default(o, "ansible_ssh_proxy_jump", val);
		} else if (!strcasecmp(name, "ProxyCommand")) {
			char *j = proxycommand_jump(val);
			if (j)
				set_default(o, "ansible_ssh_proxy_jump", j);
			else
				note(o,
				     "ansible.cfg: ssh_args: ProxyCommand '%s' is ignored (kplan "
				     "jumps in-process: use ProxyJump)",
				     val);
			free(j);
		} else if (!strcasecmp(name, "ServerAliveInterval")) {
			set_default(o, "ansible_ssh_keepalive", val);
		} else if (!strcasecmp(name, "UserKnownHostsFile")) {
			o->known_hosts = cfg_path(c, val);
		} else if (!strcasecmp(name, "StrictHostKeyChecking")) {
			int b = cfg_bool(val);
			o->host_key_checking = !strcasecmp(val, "accept-new") ? "accept-new"
					       : b == 0			      ? "off"
									      : "strict";
		} else if (!strcasecmp(name, "ServerAliveCountMax")) {
			note(o,
			     "ansible.cfg: ssh_args: ServerAliveCountMax is ignored (kplan gives "
			     "up on a host after its keepalives go unanswered)");
		} else {
			note(o,
			     "ansible.cfg: ssh_args: %s is ignored (kplan keeps one SSH session "
			     "per host for the whole run)",
			     name);
		}
	}
	kp_mod_free_words(w);
}

kp_rc kp_ansible_cfg_apply(struct kp_runopts *o, struct kp_buf *err)
{
	struct kp_ansible_cfg *c = kp_xcalloc(1, sizeof(*c));
	const char *v;
	kp_rc rc = KP_OK;

	o->cfg = c;
	c->path = find_cfg();
	if (c->path) {
		struct kp_buf text = KP_BUF_INIT;
		const char *slash = strrchr(c->path, '/');
		c->dir = slash ? kp_xstrndup(c->path, (size_t)(slash - c->path)) : kp_xstrdup(".");
		c->ini = kp_value_map();
		rc = kp_read_file(c->path, 1u << 20, &text, err);
		if (!rc)
			rc = parse_ini(c->path, text.buf, c->ini, err);
		kp_buf_release(&text);
		if (rc)
			return rc;
		o->cfg_path = c->path;
	}
	if ((v = setting(c, "ANSIBLE_INVENTORY", "defaults", "inventory"))) {
		char *copy = kp_xstrdup(v), *save = NULL;
		for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
			char *t = trim(p);
			if (*t)
				kp_strlist_push(&o->cfg_inventories,
						getenv("ANSIBLE_INVENTORY") ? t : cfg_path(c, t));
		}
		free(copy);
	}
	if ((v = setting(c, "ANSIBLE_ROLES_PATH", "defaults", "roles_path"))) {
		/* ':'-separated; the file's relative entries are relative to it */
		struct kp_buf b = KP_BUF_INIT;
		char *copy = kp_xstrdup(v), *save = NULL;
		for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
			char *t = trim(p);
			if (*t)
				kp_buf_addf(&b, "%s%s", b.len ? ":" : "",
					    getenv("ANSIBLE_ROLES_PATH") ? t : cfg_path(c, t));
		}
		free(copy);
		kp_strlist_push(&c->owned, b.buf ? b.buf : "");
		kp_buf_release(&b);
		o->roles_path = c->owned.v[c->owned.n - 1];
	}
	if ((v = setting(c, "ANSIBLE_REMOTE_USER", "defaults", "remote_user")))
		o->default_remote_user = v;
	if ((v = setting(c, "ANSIBLE_PRIVATE_KEY_FILE", "defaults", "private_key_file")))
		set_default(o, "ansible_ssh_private_key_file", cfg_path(c, v));
	if ((v = setting(c, "ANSIBLE_TIMEOUT", "defaults", "timeout")))
		set_default(o, "ansible_ssh_timeout", v);
	if ((v = setting(c, "ANSIBLE_FORKS", "defaults", "forks"))) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end || n < 1 || n > 10000)
			return kp_errorf(err, KP_ERR_INVALID,
					 "%s: forks must be a number from 1 to 10000, not '%s'",
					 c->path ? c->path : "ANSIBLE_FORKS", v);
		o->forks = (int)n;
	}
	if ((v = setting(c, "ANSIBLE_SSH_ARGS", "ssh_connection", "ssh_args")))
		ssh_args(c, o, v);
	/* host_key_checking after ssh_args: the setting of its own wins */
	if ((v = setting(c, "ANSIBLE_HOST_KEY_CHECKING", "defaults", "host_key_checking"))) {
		int b = cfg_bool(v);
		if (b < 0)
			return kp_errorf(err, KP_ERR_INVALID,
					 "%s: host_key_checking must be a boolean, not '%s'",
					 c->path ? c->path : "ANSIBLE_HOST_KEY_CHECKING", v);
		o->host_key_checking = b ? "strict" : "off";
	}
	if ((v = ini_get(c, "defaults", "vault_password_file"))) {
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b, "default@%s", cfg_path(c, v));
		kp_strlist_push(&o->vault_ids, b.buf);
		kp_buf_release(&b);
	}
	if ((v = ini_get(c, "defaults", "vault_identity_list"))) {
		char *copy = kp_xstrdup(v), *save = NULL;
		for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
			if (*trim(p))
				kp_strlist_push(&o->vault_ids, trim(p));
		free(copy);
	}
	if ((v = setting(c, "ANSIBLE_BECOME", "privilege_escalation", "become"))) {
		int b = cfg_bool(v);
		if (b < 0)
			return kp_errorf(err, KP_ERR_INVALID,
					 "%s: become must be a boolean, not '%s'",
					 c->path ? c->path : "ANSIBLE_BECOME", v);
		o->default_become = b ? 1 : 2;
	}
	if ((v = setting(c, "ANSIBLE_BECOME_USER", "privilege_escalation", "become_user")))
		o->default_become_user = v;
	if ((v = setting(c, "ANSIBLE_BECOME_METHOD", "privilege_escalation", "become_method")) &&
	    strcmp(v, "sudo"))
		note(o, "ansible.cfg: become_method '%s' is ignored (kplan becomes with sudo)", v);
	if ((v = setting(c, "ANSIBLE_BECOME_ASK_PASS", "privilege_escalation",
			 "become_ask_pass")) &&
	    cfg_bool(v) == 1)
		o->ask_become_pass = true;
	return KP_OK;
}

void kp_ansible_cfg_free(struct kp_ansible_cfg *c)
{
	if (!c)
		return;
	free(c->path);
	free(c->dir);
	kp_value_unref(c->ini);
	kp_strlist_release(&c->owned);
	free(c);
}
