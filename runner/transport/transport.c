/*
 * transport.c - what every transport shares: results, quoting, hashing,
 * freeing, and file operations done through exec (for become, where the
 * become user's rights must apply), which need only a POSIX shell and GNU
 * coreutils on the node.
 */
#include "transport/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

void kp_exec_res_init(struct kp_exec_res *r)
{
	r->rc = -1;
	kp_buf_init(&r->out);
	kp_buf_init(&r->err);
	r->timed_out = false;
	r->truncated = false;
	r->duration_ms = 0;
}

void kp_exec_res_release(struct kp_exec_res *r)
{
	kp_buf_release(&r->out);
	kp_buf_release(&r->err);
	kp_exec_res_init(r);
}

kp_rc kp_conn_sh(struct kp_conn *c, const char *cmd, int64_t timeout_ms, struct kp_exec_res *res,
		 struct kp_buf *err)
{
	struct kp_exec_req req = {.cmd = cmd, .timeout_ms = timeout_ms};
	return c->ops->exec(c, &req, res, err);
}

/* Inside single quotes every byte is literal except the quote itself, which
 * is closed, escaped and reopened; so this holds for any byte string. */
void kp_sh_quote(struct kp_buf *out, const char *s)
{
	kp_buf_addch(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			kp_buf_addstr(out, "'\\''");
		else
			kp_buf_addch(out, *s);
	}
	kp_buf_addch(out, '\'');
}

void kp_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	/* EVP_Digest fails only on allocation failure inside OpenSSL; leave an
	 * empty string rather than a wrong digest. */
	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) || n != 32) {
		out[0] = '\0';
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[64] = '\0';
}

void kp_conn_free(struct kp_conn *c)
{
	if (!c)
		return;
	if (c->ops && c->ops->close)
		c->ops->close(c);
	free(c->host);
	free(c->address);
	free(c->user);
	free(c->key_file);
	free(c->proxy_jump);
	free(c->workdir);
	free(c);
}

/* ---- file operations through exec ---- */

/* The last non-empty line of a command's stderr, for messages. */
static void last_line(const struct kp_exec_res *r, struct kp_buf *out)
{
	const char *s = r->err.buf;
	size_t end = r->err.len;
	while (end && (s[end - 1] == '\n' || s[end - 1] == '\r'))
		end--;
	size_t start = end;
	while (start && s[start - 1] != '\n')
		start--;
	if (start == end)
		kp_buf_addf(out, "exit status %d", r->rc);
	else
		kp_buf_add(out, s + start, end - start);
}

void kp_path_split(const char *path, struct kp_buf *dir, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		kp_buf_addstr(dir, ".");
		*base = path;
	} else if (slash == path) {
		kp_buf_addstr(dir, "/");
		*base = slash + 1;
	} else {
		kp_buf_add(dir, path, (size_t)(slash - path));
		*base = slash + 1;
	}
}

kp_rc kp_put_check(const char *path, const struct kp_put_opts *o, struct kp_buf *err)
{
	size_t n = strlen(path);
	if (!n || path[n - 1] == '/')
		return kp_errorf(err, KP_ERR_INVALID, "cannot write '%s': %s", path,
				 strerror(EISDIR));
	if (o && (o->mode < -1 || o->mode > 07777))
		return kp_errorf(err, KP_ERR_INVALID, "cannot write '%s': invalid mode %o", path,
				 (unsigned)o->mode);
	return KP_OK;
}

kp_rc kp_exec_put(struct kp_conn *c, const char *path, const void *data, size_t len,
		  const struct kp_put_opts *o, struct kp_buf *err)
{
	struct kp_buf dir = KP_BUF_INIT, tmpl = KP_BUF_INIT, s = KP_BUF_INIT;
	struct kp_exec_res res;
	const char *base;
	kp_rc rc;

	if ((rc = kp_put_check(path, o, err)))
		return rc;
	kp_path_split(path, &dir, &base);
	kp_buf_addf(&tmpl, "%s/.%.200s.kplan.XXXXXX", dir.buf, base);
	kp_buf_addstr(&s, "umask 077; n=");
	kp_sh_quote(&s, path);
	kp_buf_addstr(&s, "; t=$(mktemp -- ");
	kp_sh_quote(&s, tmpl.buf);
	kp_buf_addstr(&s, ") || exit 1\nif cat > \"$t\"");
	if (!o || !o->owner || !o->group)
		kp_buf_addstr(&s, " && { [ ! -e \"$n\" ] || chown --reference=\"$n\" -- \"$t\" "
				  "2>/dev/null || :; }");
	if (o && o->owner) {
		kp_buf_addstr(&s, " && chown -- ");
		kp_sh_quote(&s, o->owner);
		kp_buf_addstr(&s, " \"$t\"");
	}
	if (o && o->group) {
		kp_buf_addstr(&s, " && chgrp -- ");
		kp_sh_quote(&s, o->group);
		kp_buf_addstr(&s, " \"$t\"");
	}
	if (o && o->mode >= 0)
		kp_buf_addf(&s, " && chmod %o \"$t\"", (unsigned)o->mode);
	else
		kp_buf_addstr(&s,
			      " && m=644 && { [ ! -e \"$n\" ] || m=$(stat -L -c %a -- \"$n\"); }"
			      " && chmod \"$m\" \"$t\"");
	kp_buf_addstr(
	    &s,
	    " && { sync -- \"$t\" 2>/dev/null || :; } && mv -f -- \"$t\" \"$n\"; then exit 0; fi\n"
	    "rm -f -- \"$t\"; exit 1\n");

	struct kp_exec_req req = {.cmd = s.buf, .stdin_data = data, .stdin_len = len};
	kp_exec_res_init(&res);
	rc = c->ops->exec(c, &req, &res, err);
	if (!rc && res.rc != 0) {
		struct kp_buf why = KP_BUF_INIT;
		last_line(&res, &why);
		rc = kp_errorf(err, KP_ERR_IO, "cannot write '%s': %s", path, why.buf);
		kp_buf_release(&why);
	}
	kp_exec_res_release(&res);
	kp_buf_release(&dir);
	kp_buf_release(&tmpl);
	kp_buf_release(&s);
	return rc;
}

kp_rc kp_exec_get(struct kp_conn *c, const char *path, size_t max, struct kp_buf *out,
		  struct kp_buf *err)
{
	const char *argv[] = {"cat", "--", path, NULL};
	/* The cap also applies to cat's stderr, so never below 64 KiB (the
	 * size check below is exact anyway). */
	size_t cap = !max ? SIZE_MAX / 2 : max < 65536 ? 65536 : max;
	struct kp_exec_req req = {.argv = argv, .max_output = cap};
	struct kp_exec_res res;
	kp_rc rc;

	kp_exec_res_init(&res);
	rc = c->ops->exec(c, &req, &res, err);
	if (rc)
		goto out;
	if (res.rc != 0) {
		struct kp_buf why = KP_BUF_INIT, prefix = KP_BUF_INIT;
		last_line(&res, &why);
		kp_buf_addf(&prefix, "cat: %s: ", path);
		/* cat names the file itself; keep only its reason. */
		const char *w = why.buf;
		if (strncmp(w, prefix.buf, prefix.len) == 0)
			w += prefix.len;
		rc = kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, w);
		kp_buf_release(&why);
		kp_buf_release(&prefix);
		goto out;
	}
	if (res.truncated || (max && res.out.len > max)) {
		rc = kp_errorf(err, KP_ERR_LIMIT, "'%s' is larger than %zu bytes", path, max);
		goto out;
	}
	kp_buf_release(out);
	*out = res.out;
	kp_buf_init(&res.out);
out:
	kp_exec_res_release(&res);
	return rc;
}

static char type_of(mode_t m)
{
	return S_ISREG(m) ? 'f' : S_ISDIR(m) ? 'd' : S_ISLNK(m) ? 'l' : 'o';
}

/* Parse the output of the script in kp_exec_stat. */
static bool parse_stat(const char *s, struct kp_stat *st)
{
	unsigned raw, uid, gid;
	char user[64], group[64];
	long long size, sec;
	int used = 0;

	if (sscanf(s, "%x %u %u %63s %63s %lld %lld%n", &raw, &uid, &gid, user, group, &size, &sec,
		   &used) != 7)
		return false;
	s += used;
	long long ns = 0;
	if (*s == '.') {
		/* Fraction of a second, up to 9 digits. */
		int digits = 0;
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 9)
				ns = ns * 10 + (*s - '0');
		for (; digits < 9; digits++)
			ns *= 10;
	}
	if (*s != '\n')
		return false;
	s++;
	st->exists = true;
	st->type = type_of((mode_t)raw);
	st->mode = raw & 07777;
	/* GNU stat prints UNKNOWN for ids without a name. */
	if (strcmp(user, "UNKNOWN") == 0)
		snprintf(st->owner, sizeof(st->owner), "%u", uid);
	else
		snprintf(st->owner, sizeof(st->owner), "%s", user);
	if (strcmp(group, "UNKNOWN") == 0)
		snprintf(st->group, sizeof(st->group), "%u", gid);
	else
		snprintf(st->group, sizeof(st->group), "%s", group);
	st->size = size;
	st->mtime_ns = (int64_t)sec * 1000000000 + ns;
	if (s[0] == 'h' && s[1] == ' ') {
		if (strspn(s + 2, "0123456789abcdef") < 64)
			return false;
		memcpy(st->sha256, s + 2, 64);
		st->sha256[64] = '\0';
	} else if (s[0] == 'l' && s[1] == ' ') {
		size_t n = strlen(s + 2);
		if (n && s[2 + n - 1] == '\n')
			n--; /* readlink's newline */
		if (n >= sizeof(st->link_target))
			n = sizeof(st->link_target) - 1;
		memcpy(st->link_target, s + 2, n);
		st->link_target[n] = '\0';
	} else if (*s) {
		return false;
	}
	return true;
}

kp_rc kp_exec_stat(struct kp_conn *c, const char *path, bool want_hash, struct kp_stat *st,
		   struct kp_buf *err)
{
	struct kp_buf s = KP_BUF_INIT;
	struct kp_exec_res res;
	kp_rc rc;

	kp_buf_addstr(&s, "LC_ALL=C; export LC_ALL; p=");
	kp_sh_quote(&s, path);
	kp_buf_addstr(&s, "\nif [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then echo missing; exit 0; fi\n"
			  "stat -c '%f %u %g %U %G %s %.9Y' -- \"$p\" || exit 1\n"
			  "if [ -L \"$p\" ]; then printf 'l '; readlink -- \"$p\" || exit 1\n");
	if (want_hash)
		kp_buf_addstr(
		    &s, "elif [ -f \"$p\" ]; then printf 'h '; sha256sum < \"$p\" || exit 1\n");
	kp_buf_addstr(&s, "fi\n");

	struct kp_exec_req req = {.cmd = s.buf};
	kp_exec_res_init(&res);
	rc = c->ops->exec(c, &req, &res, err);
	kp_buf_release(&s);
	if (rc)
		goto out;
	if (res.rc != 0) {
		struct kp_buf why = KP_BUF_INIT;
		last_line(&res, &why);
		rc = kp_errorf(err, KP_ERR_IO, "cannot stat '%s': %s", path, why.buf);
		kp_buf_release(&why);
		goto out;
	}
	memset(st, 0, sizeof(*st));
	if (strcmp(res.out.buf, "missing\n") == 0)
		goto out;
	if (!parse_stat(res.out.buf, st)) {
		memset(st, 0, sizeof(*st));
		rc = kp_errorf(err, KP_ERR_IO, "cannot stat '%s': unexpected output from stat",
			       path);
	}
out:
	kp_exec_res_release(&res);
	return rc;
}

kp_rc kp_read_whole(ssize_t (*rd)(void *src, char *buf, size_t n), void *src, const char *path,
		    size_t hint, size_t max, struct kp_buf *out, bool *read_failed,
		    struct kp_buf *err)
{
	enum { READ_CHUNK = 65536 };
	struct kp_buf b = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	char *chunk = kp_xmalloc(READ_CHUNK);
	*read_failed = false;
	if (hint && hint < SIZE_MAX / 2 && (!max || hint <= max))
		kp_buf_grow(&b, hint);
	for (;;) {
		ssize_t n = rd(src, chunk, READ_CHUNK);
		if (n < 0) {
			*read_failed = true;
			rc = KP_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		if (max && b.len + (size_t)n > max) {
			rc = kp_errorf(err, KP_ERR_LIMIT, "'%s' is larger than %zu bytes", path,
				       max);
			break;
		}
		kp_buf_add(&b, chunk, (size_t)n);
	}
	free(chunk);
	if (rc) {
		kp_buf_release(&b);
		return rc;
	}
	kp_buf_release(out);
	*out = b;
	return KP_OK;
}
