/*
 * lookups.c - the lookup plugins kplan runs on the controller: env, file,
 * pipe, vars, varnames, password (template: lookup_template.c; the with_<name> loop
 * lookups: lookups_loops.c); the table the
 * engine's lookup()/query() use.
 * Each takes errors='strict'|'warn'|'ignore' as Ansible's templar does: a
 * failing lookup then gives an empty result instead of an error (an
 * undefined variable still fails).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expr/jinja/jlib.h"

extern char **environ;

/* Apply errors=: a failure of the plugin becomes an empty result. */
static kp_rc outcome(struct kp_jctx *cx, kp_rc rc, const struct kp_value *errors,
		     struct kp_value **list)
{
	const char *e;
	if (!rc)
		return KP_OK;
	if (jl_str(cx, errors, "errors", "strict", &e) == KP_OK && rc != KP_ERR_UNDEFINED &&
	    rc != KP_ERR_LIMIT && (!strcmp(e, "ignore") || !strcmp(e, "warn"))) {
		kp_value_unref(*list);
		*list = kp_value_list();
		return KP_OK;
	}
	kp_value_unref(*list);
	*list = NULL;
	return rc;
}

static kp_rc term_str(struct kp_jctx *cx, const struct kp_value *t, const char *lookup,
		      const char **out)
{
	if (t->type == KP_V_STR) {
		*out = t->u.str.s;
		return KP_OK;
	}
	return kp_jinja_err(cx, KP_ERR_RUNTIME, "lookup '%s' takes strings, not %s", lookup,
			    kp_jinja_typename(t));
}

/* A path as the loader's path_dwim makes it: ~ expanded, relative ones
 * under the plan's directory. */
static void dwim(struct kp_jctx *cx, const char *p, struct kp_buf *out)
{
	const char *home = getenv("HOME");
	if (p[0] == '~' && (p[1] == '/' || !p[1]) && home) {
		kp_buf_addstr(out, home);
		kp_buf_addstr(out, p + 1);
	} else if (p[0] == '/') {
		kp_buf_addstr(out, p);
	} else {
		kp_buf_addf(out, "%s/%s", kp_jinja_base_dir(cx), p);
	}
}

/* env(*terms, default='') */
static JL(env)
{
	const struct kp_value *terms = argv[0];
	const char *def;
	kp_rc rc = jl_str(cx, argv[1], "default", "", &def);
	if (rc)
		return rc;
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const char *name = NULL;
		if (!(rc = term_str(cx, kp_list_at(terms, i), "env", &name))) {
			const char *v = getenv(name);
			kp_list_push_take(l, kp_value_str(v ? v : def));
		}
	}
	return (*out = l, outcome(cx, rc, NULL, out));
}

/* file(*terms, rstrip=True, lstrip=False): files/ under the plan's
 * directory first, then the directory itself */
static JL(file)
{
	const struct kp_value *terms = argv[0];
	bool rs = jl_bool(argv[1], true), ls = jl_bool(argv[2], false);
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const char *name = NULL;
		if ((rc = term_str(cx, kp_list_at(terms, i), "file", &name)))
			break;
		struct kp_buf path = KP_BUF_INIT, text = KP_BUF_INIT, err = KP_BUF_INIT;
		struct stat st;
		if (name[0] != '/' && name[0] != '~') {
			kp_buf_addf(&path, "%s/files/%s", kp_jinja_base_dir(cx), name);
			if (stat(path.buf, &st) || !S_ISREG(st.st_mode))
				kp_buf_reset(&path);
		}
		if (!path.len)
			dwim(cx, name, &path);
		if (stat(path.buf, &st) || S_ISDIR(st.st_mode))
			rc = kp_jinja_err(cx, KP_ERR_IO, "could not locate file in lookup: %s",
					  name);
		else if ((rc = kp_jinja_charge(cx, (size_t)st.st_size)))
			;
		else if (kp_read_file(path.buf, 0, &text, &err))
			rc = kp_jinja_err(cx, KP_ERR_IO, "cannot read '%s': %s", name, err.buf);
		else {
			const char *s = text.buf, *e = text.buf + text.len;
			while (ls && s < e && strchr(" \t\n\r\v\f", *s))
				s++;
			while (rs && e > s && strchr(" \t\n\r\v\f", e[-1]))
				e--;
			kp_list_push_take(l, kp_value_strn(s, (size_t)(e - s)));
		}
		kp_buf_release(&path);
		kp_buf_release(&text);
		kp_buf_release(&err);
	}
	return (*out = l, outcome(cx, rc, argv[3], out));
}

/* Run `sh -c cmd` in dir; its standard output, trailing whitespace cut. */
static kp_rc run_pipe(struct kp_jctx *cx, const char *cmd, const char *dir, struct kp_value **out)
{
	int fds[2];
	if (pipe(fds))
		return kp_jinja_err(cx, KP_ERR_IO, "cannot run '%s': %s", cmd, strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	posix_spawn_file_actions_addclose(&fa, fds[1]);
	posix_spawn_file_actions_addchdir_np(&fa, dir);
	char *args[] = {"/bin/sh", "-c", (char *)cmd, NULL};
	pid_t pid;
	int e = posix_spawn(&pid, "/bin/sh", &fa, NULL, args, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	if (e) {
		close(fds[0]);
		return kp_jinja_err(cx, KP_ERR_IO, "cannot run '%s': %s", cmd, strerror(e));
	}
	struct kp_buf b = KP_BUF_INIT;
	char buf[4096];
	ssize_t n;
	kp_rc rc = KP_OK;
	while ((n = read(fds[0], buf, sizeof buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (!rc && !(rc = kp_jinja_charge(cx, (size_t)n)))
			kp_buf_add(&b, buf, (size_t)n);
	}
	close(fds[0]);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (!rc && code)
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "lookup_plugin.pipe(%s) returned %d", cmd,
				  code);
	if (rc) {
		kp_buf_release(&b);
		return rc;
	}
	while (b.len && strchr(" \t\n\r\v\f", b.buf[b.len - 1]))
		b.len--;
	*out = kp_value_strn(b.buf, b.len);
	kp_buf_release(&b);
	return KP_OK;
}

/* pipe(*terms) */
static JL(pipe)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const char *cmd = NULL;
		struct kp_value *v = NULL;
		if (!(rc = term_str(cx, kp_list_at(terms, i), "pipe", &cmd)) &&
		    !(rc = run_pipe(cx, cmd, kp_jinja_base_dir(cx), &v)))
			kp_list_push_take(l, v);
	}
	return (*out = l, outcome(cx, rc, argv[1], out));
}

/* vars(*terms, default=None) */
static JL(vars)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const char *name = NULL;
		struct kp_value *v = NULL;
		if ((rc = term_str(cx, kp_list_at(terms, i), "vars", &name)) ||
		    (rc = kp_jinja_var(cx, name, &v)))
			break;
		if (v)
			kp_list_push_take(l, v);
		else if (argv[1])
			kp_list_push(l, argv[1]);
		else
			rc = kp_jinja_err(cx, KP_ERR_UNDEFINED,
					  "No variable found with this name: %s", name);
	}
	return (*out = l, outcome(cx, rc, argv[2], out));
}

/* varnames(*terms): the names of the host's variables a regular
 * expression finds (re.search), each name once, in the order of the
 * scope's layers. */
static JL(varnames)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *names = kp_jinja_var_names(cx), *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const char *pat = NULL;
		struct jl_re *re = NULL;
		if ((rc = term_str(cx, kp_list_at(terms, i), "varnames", &pat)) ||
		    (rc = jl_re_compile(cx, pat, false, false, &re)))
			break;
		for (size_t j = 0; j < kp_list_len(names) && !rc; j++) {
			const struct kp_value *n = kp_list_at(names, j);
			int f = jl_re_find(cx, re, n->u.str.s, n->u.str.len, false);
			if (f < 0)
				rc = (kp_rc)-f;
			else if (f)
				kp_list_push(l, n);
		}
		jl_re_free(re);
	}
	kp_value_unref(names);
	return (*out = l, outcome(cx, rc, NULL, out));
}

/* The password lookup's character set: names of Python's string
 * constants or literal text, quotes dropped. */
static void password_chars(const struct kp_value *spec, struct kp_buf *out)
{
	static const char *const named[][2] = {
	    {"ascii_letters", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	    {"ascii_lowercase", "abcdefghijklmnopqrstuvwxyz"},
	    {"ascii_uppercase", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
	    {"digits", "0123456789"},
	    {"hexdigits", "0123456789abcdefABCDEF"},
	    {"octdigits", "01234567"},
	    {"punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
	    {"printable", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			  "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c"},
	    {"whitespace", " \t\n\r\x0b\x0c"},
	};
	for (size_t i = 0; i < kp_list_len(spec); i++) {
		const struct kp_value *s = kp_list_at(spec, i);
		if (s->type != KP_V_STR)
			continue;
		const char *add = s->u.str.s;
		for (size_t k = 0; k < sizeof named / sizeof *named; k++)
			if (!strcmp(add, named[k][0]))
				add = named[k][1];
		for (; *add; add++)
			if (*add != '"' && *add != '\'')
				kp_buf_addch(out, *add);
	}
}

/* "a,b,,c" as the password lookup splits it: ",," is a literal comma */
static struct kp_value *split_chars(const char *s)
{
	struct kp_value *l = kp_value_list();
	if (strstr(s, ",,"))
		kp_list_push_take(l, kp_value_str(","));
	struct kp_buf b = KP_BUF_INIT;
	for (const char *p = s;; p++) {
		if (p[0] == ',' && p[1] == ',') {
			kp_buf_addch(&b, ',');
			p++;
			continue;
		}
		if (*p == ',' || !*p) {
			/* ",," became ","; then split on "," */
			char *copy = kp_xstrdup(b.buf), *save, *tok;
			for (tok = strtok_r(copy, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				kp_list_push_take(l, kp_value_str(tok));
			free(copy);
			kp_buf_reset(&b);
			if (!*p)
				break;
			continue;
		}
		kp_buf_addch(&b, *p);
	}
	kp_buf_release(&b);
	return l;
}

/* One password term: "path [length=N] [chars=a,b]" */
static kp_rc password_one(struct kp_jctx *cx, const char *term, const struct kp_value *const *argv,
			  struct kp_value **out)
{
	int64_t length = 20;
	struct kp_value *chars = NULL, *seed = NULL;
	kp_rc rc = jl_int(cx, argv[1], "length", 20, &length);
	if (rc)
		return rc;
	if (argv[3] && kp_jinja_truthy(argv[3]))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "password lookup: 'encrypt' is not supported by kplan");
	if (argv[4] && argv[4]->type != KP_V_NULL)
		seed = kp_value_ref(argv[4]);
	if (argv[2])
		chars = argv[2]->type == KP_V_STR ? split_chars(argv[2]->u.str.s)
						  : kp_value_ref(argv[2]);
	/* the path, then key=value parameters */
	char *copy = kp_xstrdup(term), *save = NULL;
	char *path = strtok_r(copy, " ", &save), *kv;
	while (!rc && (kv = strtok_r(NULL, " ", &save))) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "Unrecognized value after key=value parameters given to "
					  "password lookup");
			break;
		}
		*eq = 0;
		if (!strcmp(kv, "length")) {
			char *end;
			length = strtoll(eq + 1, &end, 10);
			if (*end || end == eq + 1)
				rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
						  "invalid literal for int() with base 10: '%s'",
						  eq + 1);
		} else if (!strcmp(kv, "chars")) {
			if (chars)
				kp_value_unref(chars);
			chars = split_chars(eq + 1);
		} else if (!strcmp(kv, "seed")) {
			if (seed)
				kp_value_unref(seed);
			seed = kp_value_str(eq + 1);
		} else if (!strcmp(kv, "encrypt") || !strcmp(kv, "ident")) {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "password lookup: '%s' is not supported by kplan", kv);
		} else {
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "Unrecognized parameter(s) given to password lookup: %s",
					  kv);
		}
	}
	if (!rc && (length < 0 || length > 65536))
		rc =
		    kp_jinja_err(cx, KP_ERR_RUNTIME, "password lookup: length %lld is out of range",
				 (long long)length);
	struct kp_buf cs = KP_BUF_INIT, file = KP_BUF_INIT, pw = KP_BUF_INIT, err = KP_BUF_INIT;
	if (!rc) {
		if (chars) {
			password_chars(chars, &cs);
		} else {
			/* the default list: ascii_letters, digits, ".,:-_" */
			struct kp_value *def = kp_value_list();
			kp_list_push_take(def, kp_value_str("ascii_letters"));
			kp_list_push_take(def, kp_value_str("digits"));
			kp_list_push_take(def, kp_value_str(".,:-_"));
			password_chars(def, &cs);
			kp_value_unref(def);
		}
		dwim(cx, path ? path : "", &file);
	}
	bool devnull = !rc && !strcmp(file.buf, "/dev/null");
	if (!rc && !devnull && !access(file.buf, F_OK)) {
		/* an existing file: its password, without " salt=..." */
		if (kp_read_file(file.buf, 1 << 20, &pw, &err)) {
			rc = kp_jinja_err(cx, KP_ERR_IO, "%s", err.buf);
		} else {
			while (pw.len && (pw.buf[pw.len - 1] == '\n' || pw.buf[pw.len - 1] == '\r'))
				pw.len--;
			pw.buf[pw.len] = 0;
			char *salt = strstr(pw.buf, " salt=");
			if (salt)
				kp_buf_setlen(&pw, (size_t)(salt - pw.buf));
		}
	} else if (!rc) {
		rc = jl_seeded_choices(cx, seed, cs.buf, (size_t)length, &pw);
		if (!rc && !devnull) {
			char *dir = kp_xstrdup(file.buf), *slash = strrchr(dir, '/');
			if (slash && slash != dir) {
				*slash = 0;
				rc = kp_mkdirs(dir, 0700, &err);
			}
			free(dir);
			int fd = -1;
			if (rc)
				rc = kp_jinja_err(cx, KP_ERR_IO, "%s", err.buf);
			else if ((fd = open(file.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
					    0600)) < 0)
				rc = kp_jinja_err(cx, KP_ERR_IO, "cannot write '%s': %s", file.buf,
						  strerror(errno));
			if (fd >= 0) {
				fchmod(fd, 0600);
				struct kp_buf line = KP_BUF_INIT;
				kp_buf_add(&line, pw.buf, pw.len);
				kp_buf_addch(&line, '\n');
				if (write(fd, line.buf, line.len) != (ssize_t)line.len)
					rc = kp_jinja_err(cx, KP_ERR_IO, "cannot write '%s': %s",
							  file.buf, strerror(errno));
				kp_buf_release(&line);
				close(fd);
			}
		}
	}
	if (!rc) {
		struct kp_value *v = kp_value_strn(pw.buf, pw.len);
		v->secret = 1;
		*out = v;
	}
	if (chars)
		kp_value_unref(chars);
	if (seed)
		kp_value_unref(seed);
	free(copy);
	kp_buf_release(&cs);
	kp_buf_release(&file);
	kp_buf_release(&pw);
	kp_buf_release(&err);
	return rc;
}

/* password(*terms, length=20, chars=..., encrypt=None, errors, seed=None) */
static JL(password)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const char *t = NULL;
		struct kp_value *v = NULL;
		if (!(rc = term_str(cx, kp_list_at(terms, i), "password", &t)) &&
		    !(rc = password_one(cx, t, argv, &v)))
			kp_list_push_take(l, v);
	}
	return (*out = l, outcome(cx, rc, argv[5], out));
}

const struct kp_jlookup kp_jinja_lookups[] = {
    {"env", "*terms,default", 0, jl_env},
    {"file", "*terms,rstrip,lstrip,errors", 0, jl_file},
    {"pipe", "*terms,errors", 0, jl_pipe},
    {"vars", "*terms,default,errors", 0, jl_vars},
    {"varnames", "*terms", 0, jl_varnames},
    {"password", "*terms,length,chars,encrypt,seed,errors", 0, jl_password},
    {"template", "*terms,errors", 0, jl_template},
    {"items", "*terms", 0, jl_items},
    {"list", "*terms", 0, jl_list},
    {"dict", "*terms", 0, jl_dict},
    {"indexed_items", "*terms", 0, jl_indexed_items},
    {"together", "*terms", 0, jl_together},
    {"nested", "*terms", 0, jl_nested},
    {"sequence", "*terms", 0, jl_sequence},
    {"subelements", "*terms,skip_missing", 0, jl_subelements},
    {"fileglob", "*terms", 0, jl_fileglob},
    {"first_found", "*terms,files,paths,skip", 0, jl_first_found},
    {"inventory_hostnames", "*terms", 0, jl_inventory_hostnames},
    {NULL, NULL, 0, NULL},
};
