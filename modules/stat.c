/*
 * stat.c - what a path on the node is, with the fields Ansible's stat
 * module returns (registered as `r.stat.exists`, `r.stat.mode`...).
 *
 * One shell command on the node gathers everything (stat -c, test -r/-w/-x,
 * readlink, the checksum program, file --mime): the node's own user and
 * group names and its own view of permissions, become applied. Times are
 * floats computed as Python computes st_mtime (sec + nsec * 1e-9), so they
 * compare equal to Ansible's. Read-only: never changes anything.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static const char *const algos[] = {"md5", "sha1", "sha224", "sha256", "sha384", "sha512", NULL};

static const struct kp_argspec args[] = {
    {.name = "path", .type = KP_T_PATH, .required = true, .help = "the path on the node"},
    {.name = "dest", .type = KP_T_PATH, .alias_of = "path", .help = "the same as path"},
    {.name = "name", .type = KP_T_PATH, .alias_of = "path", .help = "the same as path"},
    {.name = "follow", .type = KP_T_BOOL, .def = "false", .help = "follow a symbolic link"},
    {.name = "get_checksum",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "checksum regular files (checksum_algorithm)"},
    {.name = "checksum_algorithm",
     .type = KP_T_STR,
     .def = "sha1",
     .choices = algos,
     .help = "the checksum's algorithm, as Ansible's default: sha1"},
    {.name = "get_mime",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "mimetype and charset (the node's `file`)"},
    {.name = "get_attributes",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "accepted for Ansible; file attributes (lsattr) are not read"},
    {0},
};

/* The script's output, one item per line:
 *   stat -c fields | "missing", user, group, "rwx" access, link target,
 *   link source (realpath), checksum, mimetype, charset */
static void script(const struct kp_modctx *ctx, struct kp_buf *s)
{
	bool follow = kp_arg_bool(ctx, "follow");
	kp_buf_addstr(s, "p=");
	kp_sh_quote(s, kp_arg_str(ctx, "path"));
	kp_buf_addf(s, "; L=%s\n", follow ? "-L" : "");
	kp_buf_addstr(s,
		      "if [ ! -e \"$p\" ] && [ ! -L \"$p\" ]; then echo missing; exit 0; fi\n"
		      "stat $L -c '%f %u %g %s %i %d %h %.9X %.9Y %.9Z %b %o %t %T' -- \"$p\" "
		      "|| exit 1\n"
		      "stat $L -c %U -- \"$p\"; stat $L -c %G -- \"$p\"\n"
		      "a=; for t in r w x; do if test -$t \"$p\"; then a=${a}1; else a=${a}0; fi; "
		      "done; echo \"$a\"\n"
		      "if [ -L \"$p\" ]; then readlink -- \"$p\"; readlink -m -- \"$p\"; "
		      "else echo; echo; fi\n");
	if (kp_arg_bool(ctx, "get_checksum"))
		kp_buf_addf(s,
			    "if [ -f \"$p\" ] && { [ -n \"$L\" ] || [ ! -L \"$p\" ]; } && "
			    "[ -r \"$p\" ]; then %ssum -- \"$p\" | cut -d' ' -f1; else echo; fi\n",
			    kp_arg_str(ctx, "checksum_algorithm"));
	else
		kp_buf_addstr(s, "echo\n");
	/* as Ansible: `file --mime-type --mime-encoding` on the path itself */
	if (kp_arg_bool(ctx, "get_mime"))
		kp_buf_addstr(s, "if command -v file >/dev/null 2>&1; then "
				 "o=$(file --mime-type --mime-encoding -- \"$p\" 2>/dev/null); "
				 "echo $?; printf '%s\\n' \"$o\" | head -n 1; "
				 "else echo none; echo; fi\n");
	else
		kp_buf_addstr(s, "echo; echo\n");
	kp_buf_addstr(s, "exit 0\n");
}

/* the next line of *p (NUL-terminated in place) */
static char *next_line(char **p)
{
	char *l = *p, *nl;
	if (!l)
		return "";
	nl = strchr(l, '\n');
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = NULL;
	}
	return l;
}

static struct kp_value *time_value(const char *t)
{
	char *dot;
	long long sec = strtoll(t, &dot, 10), nsec = 0;
	if (*dot == '.')
		nsec = strtoll(dot + 1, NULL, 10);
	return kp_value_float((double)sec + (double)nsec * 1e-9);
}

static void set_bool(struct kp_value *m, const char *k, bool b)
{
	kp_map_set_take(m, k, kp_value_bool(b));
}

/* mimetype and charset from `file`'s exit status and "PATH: TYPE; charset=CS",
 * "unknown" where Ansible's parsing of it gives up */
static void mime_fields(struct kp_value *st, const char *rc, const char *out)
{
	char type[256] = "unknown", cs[256] = "unknown";
	const char *colon = strrchr(out, ':'), *semi = colon ? strchr(colon, ';') : NULL;
	if (!strcmp(rc, "0") && semi && !strchr(semi + 1, ';') && strchr(semi, '=')) {
		const char *a = colon + 1, *b = semi, *c = strchr(semi, '=') + 1;
		const char *c2 = strchr(c, '=') ? strchr(c, '=') : c + strlen(c);
		while (*a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		while (*c == ' ')
			c++;
		while (c2 > c && c2[-1] == ' ')
			c2--;
		snprintf(type, sizeof(type), "%.*s", (int)(b - a), a);
		snprintf(cs, sizeof(cs), "%.*s", (int)(c2 - c), c);
	}
	kp_map_set_take(st, "mimetype", kp_value_str(type));
	kp_map_set_take(st, "charset", kp_value_str(cs));
}

static kp_rc parse(const struct kp_modctx *ctx, char *out, struct kp_value *st, struct kp_buf *why)
{
	char *p = out;
	const char *first = next_line(&p);
	unsigned mode;
	long long uid, gid, size, ino, dev, nlink, blocks, bsize;
	unsigned maj, min;
	char at[40], mt[40], ct[40];

	if (!strcmp(first, "missing")) {
		set_bool(st, "exists", false);
		return KP_OK;
	}
	if (sscanf(first, "%x %lld %lld %lld %lld %lld %lld %39s %39s %39s %lld %lld %x %x", &mode,
		   &uid, &gid, &size, &ino, &dev, &nlink, at, mt, ct, &blocks, &bsize, &maj,
		   &min) != 14) {
		kp_buf_addf(why, "cannot read stat's output: '%s'", first);
		return KP_ERR_INVALID;
	}
	const char *user = next_line(&p), *group = next_line(&p), *acc = next_line(&p);
	const char *target = next_line(&p), *source = next_line(&p), *sum = next_line(&p);
	const char *mime = next_line(&p), *charset = next_line(&p); /* rc, output */
	char mode_text[8];
	snprintf(mode_text, sizeof(mode_text), "%04o", mode & 07777);

	set_bool(st, "exists", true);
	kp_map_set_take(st, "path", kp_value_str(kp_arg_str(ctx, "path")));
	kp_map_set_take(st, "mode", kp_value_str(mode_text));
	set_bool(st, "isdir", S_ISDIR(mode));
	set_bool(st, "ischr", S_ISCHR(mode));
	set_bool(st, "isblk", S_ISBLK(mode));
	set_bool(st, "isreg", S_ISREG(mode));
	set_bool(st, "isfifo", S_ISFIFO(mode));
	set_bool(st, "islnk", S_ISLNK(mode));
	set_bool(st, "issock", S_ISSOCK(mode));
	kp_map_set_take(st, "uid", kp_value_int(uid));
	kp_map_set_take(st, "gid", kp_value_int(gid));
	kp_map_set_take(st, "size", kp_value_int(size));
	kp_map_set_take(st, "inode", kp_value_int(ino));
	kp_map_set_take(st, "dev", kp_value_int(dev));
	kp_map_set_take(st, "nlink", kp_value_int(nlink));
	kp_map_set_take(st, "atime", time_value(at));
	kp_map_set_take(st, "mtime", time_value(mt));
	kp_map_set_take(st, "ctime", time_value(ct));
	static const struct {
		const char *name;
		unsigned bit;
	} bits[] = {{"wusr", S_IWUSR}, {"rusr", S_IRUSR},  {"xusr", S_IXUSR}, {"wgrp", S_IWGRP},
		    {"rgrp", S_IRGRP}, {"xgrp", S_IXGRP},  {"woth", S_IWOTH}, {"roth", S_IROTH},
		    {"xoth", S_IXOTH}, {"isuid", S_ISUID}, {"isgid", S_ISGID}};
	for (size_t i = 0; i < KP_ARRAY_LEN(bits); i++)
		set_bool(st, bits[i].name, (mode & bits[i].bit) != 0);
	kp_map_set_take(st, "blocks", kp_value_int(blocks));
	kp_map_set_take(st, "block_size", kp_value_int(bsize));
	kp_map_set_take(
	    st, "device_type",
	    kp_value_int(S_ISCHR(mode) || S_ISBLK(mode) ? (int64_t)makedev(maj, min) : 0));
	if (strcmp(user, "UNKNOWN"))
		kp_map_set_take(st, "pw_name", kp_value_str(user));
	if (strcmp(group, "UNKNOWN"))
		kp_map_set_take(st, "gr_name", kp_value_str(group));
	set_bool(st, "readable", acc[0] == '1');
	set_bool(st, "writeable", acc[0] && acc[1] == '1');
	set_bool(st, "executable", acc[0] && acc[1] && acc[2] == '1');
	if (S_ISLNK(mode)) {
		kp_map_set_take(st, "lnk_target", kp_value_str(target));
		kp_map_set_take(st, "lnk_source", kp_value_str(source));
	}
	if (*sum)
		kp_map_set_take(st, "checksum", kp_value_str(sum));
	if (*mime)
		mime_fields(st, mime, charset);
	return KP_OK;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	struct kp_buf s = KP_BUF_INIT, why = KP_BUF_INIT;
	struct kp_exec_res r;
	kp_rc rc;

	script(ctx, &s);
	kp_exec_res_init(&r);
	rc = kp_mod_sh(ctx, res, s.buf, &r, err);
	kp_buf_release(&s);
	if (rc)
		goto out;
	if (r.timed_out) {
		kp_mod_fail_timeout(ctx, NULL, res);
		goto out;
	}
	if (r.rc != 0) {
		kp_mod_failf(res, "cannot stat '%s': %.*s", kp_arg_str(ctx, "path"),
			     (int)strcspn(r.err.buf, "\n"), r.err.buf);
		goto out;
	}
	struct kp_value *st = kp_value_map();
	if (parse(ctx, r.out.buf, st, &why)) {
		kp_mod_failf(res, "%s", why.buf);
		kp_value_unref(st);
		goto out;
	}
	if (!res->facts)
		res->facts = kp_value_map();
	bool exists = kp_value_truthy(kp_map_get(st, "exists"));
	kp_map_set_take(res->facts, "stat", st);
	res->changed = false;
	kp_buf_reset(&res->msg);
	kp_buf_addf(&res->msg, "'%s' %s", kp_arg_str(ctx, "path"),
		    exists ? "exists" : "does not exist");
out:
	kp_buf_release(&why);
	kp_exec_res_release(&r);
	return rc;
}

const struct kp_module kp_mod_stat = {
    .name = "stat",
    .summary = "what a path on the node is (Ansible's stat fields)",
    .args = args,
    .flags = KP_MOD_READONLY,
    .free_form = "path",
    .probe = probe,
};
