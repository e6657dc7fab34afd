/*
 * filters_paths.c - path filters (Python's os.path on the controller):
 * basename, dirname, splitext, expanduser, expandvars, path_join; and urlsplit
 * (urllib.parse.urlsplit).
 */
#include <ctype.h>
#include <pwd.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "expr/jinja/jlib.h"

static kp_rc need_str(struct kp_jctx *cx, const struct kp_value *in)
{
	if (in->type == KP_V_STR)
		return KP_OK;
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "expected str, bytes or os.PathLike object, not %s",
			    kp_jinja_typename(in));
}

JF(basename)
{
	kp_rc rc = need_str(cx, in);
	if (rc)
		return rc;
	const char *s = in->u.str.s, *slash = strrchr(s, '/');
	*out = kp_value_str(slash ? slash + 1 : s);
	return KP_OK;
}

JF(dirname)
{
	kp_rc rc = need_str(cx, in);
	if (rc)
		return rc;
	const char *s = in->u.str.s, *slash = strrchr(s, '/');
	if (!slash) {
		*out = kp_value_str("");
		return KP_OK;
	}
	size_t n = (size_t)(slash - s) + 1;
	/* strip the trailing slashes, unless the head is only slashes */
	size_t k = n;
	while (k > 0 && s[k - 1] == '/')
		k--;
	*out = kp_value_strn(s, k ? k : n);
	return KP_OK;
}

JF(splitext)
{
	kp_rc rc = need_str(cx, in);
	if (rc)
		return rc;
	const char *s = in->u.str.s, *slash = strrchr(s, '/');
	const char *base = slash ? slash + 1 : s, *dot = strrchr(base, '.');
	/* leading dots of the file name do not start an extension */
	const char *p = base;
	while (*p == '.')
		p++;
	if (!dot || dot < p)
		dot = NULL;
	struct kp_value *l = kp_value_list();
	size_t cut = dot ? (size_t)(dot - s) : in->u.str.len;
	kp_list_push_take(l, kp_value_strn(s, cut));
	kp_list_push_take(l, kp_value_str(s + cut));
	l->tuple = 1; /* os.path.splitext gives a tuple */
	*out = l;
	return KP_OK;
}

JF(expanduser)
{
	kp_rc rc = need_str(cx, in);
	if (rc)
		return rc;
	const char *s = in->u.str.s;
	if (s[0] != '~') {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	const char *rest = strchr(s, '/');
	size_t ulen = rest ? (size_t)(rest - s - 1) : strlen(s + 1);
	const char *home = NULL;
	char *user = kp_xstrndup(s + 1, ulen);
	struct passwd pw, *res = NULL;
	char buf[4096];
	if (!ulen) {
		home = getenv("HOME");
		if (!home && !getpwuid_r(getuid(), &pw, buf, sizeof buf, &res) && res)
			home = res->pw_dir;
	} else if (!getpwnam_r(user, &pw, buf, sizeof buf, &res) && res) {
		home = res->pw_dir;
	}
	free(user);
	if (!home) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	struct kp_buf b = KP_BUF_INIT;
	size_t hl = strlen(home);
	while (hl > 1 && home[hl - 1] == '/')
		hl--;
	kp_buf_add(&b, home, hl);
	if (rest)
		kp_buf_addstr(&b, hl == 1 && home[0] == '/' ? rest + 1 : rest);
	size_t len;
	char *t = kp_buf_detach(&b, &len);
	*out = kp_value_str_take(t, len);
	return KP_OK;
}

/* expandvars: os.path.expandvars -- $NAME and ${NAME} of the environment;
 * unknown ones stay as written */
JF(expandvars)
{
	kp_rc rc = need_str(cx, in);
	if (rc)
		return rc;
	struct kp_buf b = KP_BUF_INIT;
	const char *s = in->u.str.s;
	while (*s) {
		if (*s != '$') {
			kp_buf_addch(&b, *s++);
			continue;
		}
		bool brace = s[1] == '{';
		const char *name = s + 1 + brace, *e = name;
		while (isalnum((unsigned char)*e) || *e == '_')
			e++;
		if (e == name || (brace && *e != '}')) {
			kp_buf_addch(&b, *s++);
			continue;
		}
		char *n = kp_xstrndup(name, (size_t)(e - name));
		const char *v = getenv(n);
		free(n);
		const char *after = e + brace;
		if (v)
			kp_buf_addstr(&b, v);
		else
			kp_buf_add(&b, s, (size_t)(after - s));
		s = after;
	}
	size_t len;
	char *t = kp_buf_detach(&b, &len);
	*out = kp_value_str_take(t, len);
	return KP_OK;
}

/* path_join: os.path.join of a list (an absolute part starts over) */
JF(path_join)
{
	if (in->type == KP_V_STR) {
		*out = kp_value_ref(in);
		return KP_OK;
	}
	if (in->type != KP_V_LIST)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "|path_join expects string or sequence, got %s instead.",
				    kp_jinja_typename(in));
	struct kp_buf b = KP_BUF_INIT;
	for (size_t i = 0; i < kp_list_len(in); i++) {
		const struct kp_value *p = kp_list_at(in, i);
		if (p->type != KP_V_STR) {
			kp_buf_release(&b);
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "join() argument must be str, bytes, or os.PathLike "
					    "object, not '%s'",
					    kp_jinja_typename(p));
		}
		if (p->u.str.s[0] == '/')
			kp_buf_reset(&b);
		else if (b.len && b.buf[b.len - 1] != '/')
			kp_buf_addch(&b, '/');
		kp_buf_add(&b, p->u.str.s, p->u.str.len);
	}
	size_t len;
	char *t = kp_buf_detach(&b, &len);
	*out = kp_value_str_take(t, len);
	return KP_OK;
}

/* The parts of a URL as Python's urllib.parse.urlsplit finds them. */
struct url {
	const char *scheme, *netloc, *path, *query, *fragment;
	size_t ls, ln, lp, lq, lf;
};

static void split_url(const char *s, struct url *u)
{
	memset(u, 0, sizeof *u);
	u->scheme = u->netloc = u->query = u->fragment = "";
	const char *colon = strchr(s, ':');
	if (colon && colon > s && isalpha((unsigned char)s[0])) {
		const char *p = s;
		while (p < colon && (isalnum((unsigned char)*p) || strchr("+-.", *p)))
			p++;
		if (p == colon) {
			u->scheme = s;
			u->ls = (size_t)(colon - s);
			s = colon + 1;
		}
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		size_t n = strcspn(s, "/?#");
		u->netloc = s;
		u->ln = n;
		s += n;
	}
	const char *hash = strchr(s, '#');
	size_t rest = hash ? (size_t)(hash - s) : strlen(s);
	if (hash) {
		u->fragment = hash + 1;
		u->lf = strlen(hash + 1);
	}
	const char *q = memchr(s, '?', rest);
	if (q) {
		u->query = q + 1;
		u->lq = rest - (size_t)(q + 1 - s);
		rest = (size_t)(q - s);
	}
	u->path = s;
	u->lp = rest;
}

static struct kp_value *lower_strn(const char *s, size_t n)
{
	char *p = kp_xstrndup(s, n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)tolower((unsigned char)p[i]);
	return kp_value_str_take(p, n);
}

/* urlsplit(query=''): the map of all parts, or the part asked for */
JF(urlsplit)
{
	const char *query;
	kp_rc rc = need_str(cx, in);
	if (!rc)
		rc = jl_str(cx, argv[0], "query", "", &query);
	if (rc)
		return rc;
	struct url u;
	split_url(in->u.str.s, &u);
	/* netloc: [user[:password]@]host[:port] */
	const char *at = NULL;
	for (size_t i = 0; i < u.ln; i++)
		if (u.netloc[i] == '@')
			at = u.netloc + i;
	const char *host = at ? at + 1 : u.netloc, *end = u.netloc + u.ln;
	struct kp_value *m = kp_value_map(), *user = NULL, *pass = NULL, *hostname = NULL,
			*port = NULL;
	if (at) {
		const char *c = memchr(u.netloc, ':', (size_t)(at - u.netloc));
		user = kp_value_strn(u.netloc, (size_t)((c ? c : at) - u.netloc));
		if (c)
			pass = kp_value_strn(c + 1, (size_t)(at - c - 1));
	}
	const char *hend = end, *pc = NULL;
	if (*host == '[') {
		const char *rb = memchr(host, ']', (size_t)(end - host));
		if (rb) {
			if (rb + 1 < end && rb[1] == ':')
				pc = rb + 1;
			hostname = lower_strn(host + 1, (size_t)(rb - host - 1));
		}
	} else {
		pc = memrchr(host, ':', (size_t)(end - host));
		hend = pc ? pc : end;
		if (hend > host)
			hostname = lower_strn(host, (size_t)(hend - host));
	}
	if (pc && pc + 1 < end) {
		char digits[32];
		size_t n = (size_t)(end - pc - 1);
		if (n < sizeof digits && strspn(pc + 1, "0123456789") >= n) {
			memcpy(digits, pc + 1, n);
			digits[n] = 0;
			long p = strtol(digits, NULL, 10);
			if (p > 65535)
				rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "Port out of range 0-65535");
			port = kp_value_int(p);
		} else {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "Port could not be cast to integer value as '%.*s'",
					  (int)n, pc + 1);
		}
	}
	/* the keys in the order Ansible lists them (sorted) */
	kp_map_set_take(m, "fragment", kp_value_strn(u.fragment, u.lf));
	kp_map_set_take(m, "hostname", hostname ? hostname : kp_value_null());
	kp_map_set_take(m, "netloc", kp_value_strn(u.netloc, u.ln));
	kp_map_set_take(m, "password", pass ? pass : kp_value_null());
	kp_map_set_take(m, "path", kp_value_strn(u.path, u.lp));
	kp_map_set_take(m, "port", port ? port : kp_value_null());
	kp_map_set_take(m, "query", kp_value_strn(u.query, u.lq));
	kp_map_set_take(m, "scheme", lower_strn(u.scheme, u.ls));
	kp_map_set_take(m, "username", user ? user : kp_value_null());
	if (!rc && *query) {
		const struct kp_value *v = kp_map_get(m, query);
		if (!v)
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "urlsplit: unknown URL component: %s",
					  query);
		else
			*out = kp_value_ref(v);
	} else if (!rc) {
		*out = kp_value_ref(m);
	}
	kp_value_unref(m);
	return rc;
}
