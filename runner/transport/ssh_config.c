/*
 * sshconfig.c - the part of OpenSSH's client configuration kplan honours.
 *
 * libssh can parse ~/.ssh/config itself, but in 0.10 it turns ProxyJump into
 * a ProxyCommand that runs the ssh binary, and it lets the file override
 * options already set; kplan wants inventory values to win and jump hosts
 * done in-process. So this reads just User, Port, HostName, IdentityFile and
 * ProxyJump, with OpenSSH's rules: Host patterns with * ? and !, keywords
 * case-insensitive, `Key value` or `Key=value`, the first value wins.
 */
#include "transport/ssh_config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG_MAX (1u << 20)

char *kp_home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && *h)
		return kp_xstrdup(h);
	size_t size = 4096;
	char *b = kp_xmalloc(size);
	struct passwd pw, *r = NULL;
	char *out = NULL;
	if (getpwuid_r(getuid(), &pw, b, size, &r) == 0 && r)
		out = kp_xstrdup(r->pw_dir);
	free(b);
	return out ? out : kp_xstrdup("/");
}

/* One word of a config line: quotes group, `=` may separate key and value. */
static char *next_word(char **p)
{
	char *s = *p;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return NULL;
	char *start = s, *o = s;
	if (*s == '"') {
		for (s++; *s && *s != '"'; s++)
			*o++ = *s;
		if (*s)
			s++;
	} else {
		while (*s && *s != ' ' && *s != '\t' && *s != '=')
			*o++ = *s++;
	}
	if (*s == '=')
		s++;
	else
		while (*s == ' ' || *s == '\t' || *s == '=')
			s++;
	if (o < s)
		*o = '\0';
	*p = s;
	return start;
}

/* Whether a Host line's patterns select host: any positive match and no
 * negated one. */
static bool host_matches(char *patterns, const char *host)
{
	bool yes = false;
	char *w;
	while ((w = next_word(&patterns))) {
		bool neg = *w == '!';
		if (fnmatch(neg ? w + 1 : w, host, FNM_CASEFOLD) == 0) {
			if (neg)
				return false;
			yes = true;
		}
	}
	return yes;
}

/* OpenSSH's tokens in IdentityFile: ~, %d %h %u %r %%. */
static char *expand(const char *v, const char *host, const char *user)
{
	struct kp_buf b = KP_BUF_INIT;
	char *home = kp_home_dir();
	if (v[0] == '~' && (v[1] == '/' || !v[1])) {
		kp_buf_addstr(&b, home);
		v++;
	}
	for (; *v; v++) {
		if (*v != '%' || !v[1]) {
			kp_buf_addch(&b, *v);
			continue;
		}
		v++;
		switch (*v) {
		case 'd':
			kp_buf_addstr(&b, home);
			break;
		case 'h':
			kp_buf_addstr(&b, host);
			break;
		case 'u':
		case 'r':
			kp_buf_addstr(&b, user ? user : "");
			break;
		default:
			kp_buf_addch(&b, *v);
		}
	}
	free(home);
	return kp_buf_detach(&b, NULL);
}

kp_rc kp_sshcfg_lookup(const char *path, const char *host, struct kp_sshcfg *cfg,
		       struct kp_buf *err)
{
	struct kp_buf text = KP_BUF_INIT, why = KP_BUF_INIT;
	if (access(path, F_OK) && errno == ENOENT)
		return KP_OK;
	kp_rc rc = kp_read_file(path, CONFIG_MAX, &text, &why);
	if (rc) {
		rc = kp_errorf(err, rc, "%s", why.buf);
		kp_buf_release(&why);
		return rc;
	}
	bool active = true; /* lines before the first Host apply to all */
	char *save = NULL;
	for (char *line = strtok_r(text.buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		char *p = line;
		char *key = next_word(&p);
		if (!key || *key == '#')
			continue;
		if (!strcasecmp(key, "Host")) {
			active = host_matches(p, host);
			continue;
		}
		if (!strcasecmp(key, "Match")) {
			active = false; /* not supported: never apply its block */
			continue;
		}
		char *val = next_word(&p);
		if (!active || !val)
			continue;
		if (!strcasecmp(key, "HostName") && !cfg->hostname)
			cfg->hostname = expand(val, host, cfg->user);
		else if (!strcasecmp(key, "User") && !cfg->user)
			cfg->user = kp_xstrdup(val);
		else if (!strcasecmp(key, "Port") && !cfg->port)
			cfg->port = atoi(val);
		else if (!strcasecmp(key, "IdentityFile") && !cfg->identity)
			cfg->identity = expand(val, host, cfg->user);
		else if (!strcasecmp(key, "ProxyJump") && !cfg->proxy_jump)
			cfg->proxy_jump = kp_xstrdup(val);
		else if (!strcasecmp(key, "ServerAliveInterval") && cfg->alive_interval < 0)
			cfg->alive_interval = atoi(val);
		else if (!strcasecmp(key, "ServerAliveCountMax") && cfg->alive_count < 0)
			cfg->alive_count = atoi(val);
	}
	kp_buf_release(&text);
	return KP_OK;
}

void kp_sshcfg_release(struct kp_sshcfg *cfg)
{
	free(cfg->hostname);
	free(cfg->user);
	free(cfg->identity);
	free(cfg->proxy_jump);
	memset(cfg, 0, sizeof(*cfg));
}

/* Split ssh arguments into words the way a shell would for simple cases:
 * whitespace separates, single and double quotes group. */
static char **split_args(const char *s, size_t *n)
{
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			break;
		struct kp_buf w = KP_BUF_INIT;
		char q = 0;
		for (; *s && (q || !isspace((unsigned char)*s)); s++) {
			if (q && *s == q)
				q = 0;
			else if (!q && (*s == '\'' || *s == '"'))
				q = *s;
			else
				kp_buf_addch(&w, *s);
		}
		KP_GROW(v, *n + 1, cap);
		v[(*n)++] = kp_buf_detach(&w, NULL);
	}
	return v;
}

/* `-o` option `name` in v[i] (or v[i+1] after a bare -o): its value, or NULL. */
static const char *opt_value(char **v, size_t n, size_t *i, const char *name)
{
	const char *opt = NULL;
	if (!strcmp(v[*i], "-o") && *i + 1 < n)
		opt = v[++*i];
	else if (!strncmp(v[*i], "-o", 2) && v[*i][2])
		opt = v[*i] + 2;
	size_t nl = strlen(name);
	if (!opt || strncasecmp(opt, name, nl) ||
	    (opt[nl] != '=' && opt[nl] != ' ' && opt[nl] != '\t'))
		return NULL;
	opt += nl + 1;
	while (*opt == ' ' || *opt == '\t' || *opt == '=')
		opt++;
	return *opt ? opt : NULL;
}

static void free_args(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char *kp_ssh_args_proxyjump(const char *args)
{
	size_t n;
	char **v = split_args(args, &n);
	char *out = NULL;
	for (size_t i = 0; i < n && !out; i++) {
		const char *val;
		if (!strcmp(v[i], "-J") && i + 1 < n)
			out = kp_xstrdup(v[++i]);
		else if (!strncmp(v[i], "-J", 2) && v[i][2])
			out = kp_xstrdup(v[i] + 2);
		else if ((val = opt_value(v, n, &i, "ProxyJump")))
			out = kp_xstrdup(val);
	}
	free_args(v, n);
	return out;
}

char *kp_ssh_args_option(const char *args, const char *name)
{
	size_t n;
	char **v = split_args(args, &n);
	char *out = NULL;
	for (size_t i = 0; i < n && !out; i++) {
		const char *val = opt_value(v, n, &i, name);
		if (val)
			out = kp_xstrdup(val);
	}
	free_args(v, n);
	return out;
}

kp_rc kp_ssh_parse_jump(const char *spec, char **user, char **host, int *port, struct kp_buf *err)
{
	const char *s = spec;
	*user = *host = NULL;
	*port = 0;
	if (!strncmp(s, "ssh://", 6))
		s += 6;
	if (strchr(s, ','))
		return kp_errorf(err, KP_ERR_INVALID,
				 "invalid ProxyJump '%s': only one jump host is supported", spec);
	const char *at = strrchr(s, '@');
	if (at) {
		*user = kp_xstrndup(s, (size_t)(at - s));
		s = at + 1;
	}
	const char *end;
	if (*s == '[') {
		end = strchr(s, ']');
		if (!end)
			goto bad;
		*host = kp_xstrndup(s + 1, (size_t)(end - s - 1));
		end++;
	} else {
		end = strchr(s, ':');
		if (!end)
			end = s + strlen(s);
		*host = kp_xstrndup(s, (size_t)(end - s));
	}
	if (*end == ':') {
		char *e;
		long p = strtol(end + 1, &e, 10);
		if (*e || p <= 0 || p > 65535)
			goto bad;
		*port = (int)p;
	} else if (*end) {
		goto bad;
	}
	if (!**host)
		goto bad;
	return KP_OK;
bad:
	free(*user);
	free(*host);
	*user = *host = NULL;
	return kp_errorf(err, KP_ERR_INVALID, "invalid ProxyJump '%s': expected [user@]host[:port]",
			 spec);
}
