/*
 * filters_paths.c - path filters (Python's os.path on the controller):
 * basename, dirname, splitext, expanduser, path_join.
 */
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
