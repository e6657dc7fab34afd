/*
 * include_vars.c - load variables from YAML or JSON files on the controller
 * into the host's variables (Ansible's include_vars).
 *
 * A file is looked for as Ansible's action plugin does: an absolute path
 * as it is; a relative one in the vars/ folder of the role the task file
 * belongs to (a task file in a folder named tasks/) and next to the role,
 * else in vars/ and next to the task's file, then in vars/ and next to the
 * plan. `dir` walks a folder (relative to the role's vars/ or to the task's
 * file) in Ansible's order: the folders sorted by path, at most `depth` of
 * them, the files of each sorted by name. Vault-encrypted files and !vault
 * values decrypt with the run's passwords. The variables land in the
 * registered result as `ansible_facts`, with `ansible_included_var_files`.
 */
#include "modules/module.h"

#include "core/strlist.h"
#include "core/ytree.h"

#include <dirent.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const hash_choices[] = {"replace", "merge", NULL};

static const struct kp_argspec args[] = {
    {.name = "file", .type = KP_T_STR, .help = "the file to load"},
    {.name = "dir", .type = KP_T_STR, .help = "load every file of this folder"},
    {.name = "name", .type = KP_T_STR, .help = "put the variables under this one name"},
    {.name = "depth",
     .type = KP_T_INT,
     .def = "0",
     .help = "dir: how many folders to read (0: all)"},
    {.name = "files_matching", .type = KP_T_STR, .help = "dir: only file names this regex finds"},
    {.name = "ignore_files",
     .type = KP_T_STR_OR_LIST,
     .help = "dir: skip file names these regexes match at the end"},
    {.name = "extensions",
     .type = KP_T_LIST,
     .def = "[yaml, yml, json]",
     .help = "dir: the file extensions to load"},
    {.name = "ignore_unknown_extensions",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "dir: skip files of other extensions instead of failing"},
    {.name = "hash_behaviour",
     .type = KP_T_STR,
     .choices = hash_choices,
     .help = "merge: merge mappings into the variables' current values"},
    {0},
};

static const char *const exclusive[] = {"file|dir", NULL};
static const char *const dir_args[] = {"dir",	       "depth",	     "files_matching",
				       "ignore_files", "extensions", "ignore_unknown_extensions"};

struct load {
	struct kp_modctx *ctx;
	struct kp_result *res;
	struct kp_value *vars, *files;
	regex_t match;
	bool has_match;
	regex_t *ignore;
	size_t nignore;
};

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* a/b made absolute and normal, as Ansible's unfrackpath without
 * following links: "." and ".." and doubled slashes resolved */
static char *join(const char *a, const char *b)
{
	struct kp_buf in = KP_BUF_INIT, out = KP_BUF_INIT;
	char cwd[4096];
	if (b[0] == '/')
		kp_buf_addstr(&in, b);
	else if (a[0] == '/')
		kp_buf_addf(&in, "%s/%s", a, b);
	else
		kp_buf_addf(&in, "%s/%s/%s", getcwd(cwd, sizeof(cwd)) ? cwd : "", a, b);
	for (char *save = NULL, *c = strtok_r(in.buf, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			char *s = out.len ? strrchr(out.buf, '/') : NULL;
			if (s)
				out.len = (size_t)(s - out.buf), out.buf[out.len] = '\0';
			continue;
		}
		kp_buf_addf(&out, "/%s", c);
	}
	if (!out.len)
		kp_buf_addch(&out, '/');
	kp_buf_release(&in);
	return kp_buf_detach(&out, NULL);
}

static void push_join(struct kp_strlist *l, const char *a, const char *b)
{
	char *p = join(a, b);
	kp_strlist_push(l, p);
	free(p);
}

static char *dir_of(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	if (!s)
		return kp_xstrdup(".");
	return s == path ? kp_xstrdup("/") : kp_xstrndup(path, (size_t)(s - path));
}

/* The role the task file belongs to ("roles/x" for roles/x/tasks/y.yml),
 * or NULL. */
static char *role_of(const struct kp_modctx *ctx)
{
	char *d = dir_of(ctx->task_file);
	const char *b = strrchr(d, '/');
	if (strcmp(b ? b + 1 : d, "tasks")) {
		free(d);
		return NULL;
	}
	char *role = dir_of(d);
	free(d);
	return role;
}

/* Ansible's path_dwim_relative_stack for 'vars': the first candidate that
 * exists (malloc'd), or NULL with the places searched in `searched`. */
static char *find_file(const struct kp_modctx *ctx, const char *src, struct kp_buf *searched)
{
	struct kp_strlist cand = {0};
	char *role = role_of(ctx), *taskdir = dir_of(ctx->task_file), *found = NULL;
	bool in_vars = !strncmp(src, "vars/", 5);
	const char *base = ctx->base_dir ? ctx->base_dir : ".";

	if (src[0] == '/' || src[0] == '~') {
		char *p = src[0] == '~' ? join(getenv("HOME") ? getenv("HOME") : "/", src + 1)
					: join("/", src);
		if (exists(p))
			found = p;
		else
			free(p);
		goto out;
	}
	if (role) {
		char *v = join(role, "vars");
		push_join(&cand, v, src);
		push_join(&cand, role, src);
		free(v);
	}
	const char *const dirs[] = {taskdir, base};
	for (size_t i = 0; i < KP_ARRAY_LEN(dirs); i++) {
		if (!in_vars) {
			char *v = join(dirs[i], "vars");
			push_join(&cand, v, src);
			free(v);
		}
		push_join(&cand, dirs[i], src);
	}
	for (size_t i = 0; i < cand.n && !found; i++)
		if (exists(cand.v[i]))
			found = kp_xstrdup(cand.v[i]);
	for (size_t i = 0; i < cand.n; i++)
		kp_buf_addf(searched, "\n\t%s", cand.v[i]);
out:
	kp_strlist_release(&cand);
	free(role);
	free(taskdir);
	return found;
}

/* Load one file's mapping into l->vars; false (the task failed) when it
 * cannot be read or is not a mapping. */
static bool load_file(struct load *l, const char *path)
{
	struct kp_doc *doc = NULL;
	struct kp_value *v = NULL;
	struct kp_buf err = KP_BUF_INIT;
	bool ok = false;

	if (kp_yaml_load_file(path, &doc, &err)) {
		kp_mod_failf(l->res, "%s", err.buf);
	} else if (doc->root && !kp_node_is_null(doc->root) && doc->root->type != KP_N_MAP) {
		kp_mod_failf(l->res, "%s must be stored as a dictionary/hash", path);
	} else if (doc->root && !kp_node_is_null(doc->root) &&
		   kp_node_to_value(doc->root, &v, &err)) {
		kp_mod_failf(l->res, "%s", err.buf);
	} else {
		if (v)
			kp_map_update(l->vars, v);
		kp_list_push_take(l->files, kp_value_str(path));
		ok = true;
	}
	kp_value_unref(v);
	kp_doc_free(doc);
	kp_buf_release(&err);
	return ok;
}

static bool valid_ext(const struct kp_modctx *ctx, const char *name)
{
	const char *dot = strrchr(name, '.');
	const struct kp_value *ext = kp_arg(ctx, "extensions");
	if (!dot || dot == name)
		return false;
	for (size_t i = 0; ext && i < kp_list_len(ext); i++) {
		const struct kp_value *e = kp_list_at(ext, i);
		if (e->type == KP_V_STR && !strcmp(e->u.str.s, dot + 1))
			return true;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* os.walk's folders below (and with) dir, not following links. */
static void walk_dirs(const char *dir, struct kp_strlist *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	kp_strlist_push(out, dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = join(dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			walk_dirs(p, out);
		free(p);
	}
	closedir(d);
}

/* The files of one folder (everything but folders), sorted. */
static void list_files(const char *dir, struct kp_strlist *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		char *p = join(dir, de->d_name);
		if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode))
			kp_strlist_push(out, de->d_name);
		free(p);
	}
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_str);
}

static bool ignored(const struct load *l, const char *name)
{
	for (size_t i = 0; i < l->nignore; i++)
		if (regexec(&l->ignore[i], name, 0, NULL, 0) == 0)
			return true;
	return false;
}

static bool load_dir(struct load *l, const char *dir)
{
	struct kp_strlist dirs = {0};
	int64_t depth = kp_arg_int(l->ctx, "depth");
	bool ok = true, unknown_ok = kp_arg_bool(l->ctx, "ignore_unknown_extensions");

	walk_dirs(dir, &dirs);
	qsort(dirs.v, dirs.n, sizeof(*dirs.v), cmp_str);
	for (size_t i = 0; i < dirs.n && ok && (depth <= 0 || (int64_t)i < depth); i++) {
		struct kp_strlist files = {0};
		list_files(dirs.v[i], &files);
		for (size_t j = 0; j < files.n && ok; j++) {
			const char *f = files.v[j];
			if (l->has_match && regexec(&l->match, f, 0, NULL, 0) != 0)
				continue;
			if (ignored(l, f) || (unknown_ok && !valid_ext(l->ctx, f)))
				continue;
			char *path = join(dirs.v[i], f);
			if (!valid_ext(l->ctx, f)) {
				struct kp_buf exts = KP_BUF_INIT;
				const struct kp_value *e = kp_arg(l->ctx, "extensions");
				for (size_t k = 0; e && k < kp_list_len(e); k++)
					if (kp_list_at(e, k)->type == KP_V_STR)
						kp_buf_addf(&exts, "%s%s", exts.len ? ", " : "",
							    kp_list_at(e, k)->u.str.s);
				kp_mod_failf(l->res, "%s does not have a valid extension: %s", path,
					     exts.buf ? exts.buf : "");
				kp_buf_release(&exts);
				ok = false;
			} else {
				ok = load_file(l, path);
			}
			free(path);
		}
		kp_strlist_release(&files);
	}
	kp_strlist_release(&dirs);
	return ok;
}

/* Ansible's `dir`: under the role's vars/ (as written when it starts with
 * vars/ and exists there), else relative to the task's file. */
static char *dir_path(const struct kp_modctx *ctx, const char *dir)
{
	char *role = role_of(ctx), *p;
	if (dir[0] == '/') {
		p = join("/", dir);
	} else if (role) {
		char *v = join(role, "vars");
		p = !strncmp(dir, "vars/", 5) || !strcmp(dir, "vars") ? join(role, dir)
								      : join(v, dir);
		if (!exists(p) && !strncmp(dir, "vars", 4)) {
			free(p);
			p = join(v, dir);
		}
		free(v);
	} else {
		char *t = dir_of(ctx->task_file);
		p = join(t, dir);
		free(t);
	}
	free(role);
	return p;
}

static bool compile_re(struct kp_result *res, regex_t *re, const char *pat, bool at_end)
{
	struct kp_buf p = KP_BUF_INIT;
	kp_buf_addf(&p, "%s%s", pat, at_end ? "$" : "");
	int e = regcomp(re, p.buf, REG_EXTENDED | REG_NOSUB);
	kp_buf_release(&p);
	if (e)
		kp_mod_failf(res, "Invalid regular expression: %s", pat);
	return e == 0;
}

/* hash_behaviour=merge: mappings merged recursively into the current ones */
static struct kp_value *merged(const struct kp_value *old, const struct kp_value *v)
{
	if (!old || old->type != KP_V_MAP || v->type != KP_V_MAP)
		return kp_value_ref(v);
	struct kp_value *m = kp_value_copy(old);
	for (size_t i = 0; i < kp_map_len(v); i++)
		kp_map_set_take(m, kp_map_key(v, i),
				merged(kp_map_get(m, kp_map_key(v, i)), kp_map_val(v, i)));
	return m;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *file = kp_arg_str(ctx, "file"), *dir = kp_arg_str(ctx, "dir"),
		   *name = kp_arg_str(ctx, "name"), *hb = kp_arg_str(ctx, "hash_behaviour");
	const struct kp_value *ign = kp_arg(ctx, "ignore_files");
	struct load l = {.ctx = ctx, .res = res, .vars = kp_value_map(), .files = kp_value_list()};
	bool ok = false;

	(void)err;
	res->changed = false;
	if (file) {
		for (size_t i = 0; i < KP_ARRAY_LEN(dir_args); i++)
			if (kp_map_get(ctx->args, dir_args[i]) &&
			    (strcmp(dir_args[i], "depth") || kp_arg_int(ctx, "depth")) &&
			    strcmp(dir_args[i], "extensions") &&
			    strcmp(dir_args[i], "ignore_unknown_extensions")) {
				kp_mod_failf(res, "You are mixing file only and dir only "
						  "arguments, these are incompatible");
				goto out;
			}
		struct kp_buf searched = KP_BUF_INIT;
		size_t n = strlen(file);
		while (n && file[n - 1] == '\n')
			n--;
		char *src = kp_xstrndup(file, n), *path = find_file(ctx, src, &searched);
		if (!path)
			kp_mod_failf(
			    res,
			    "Could not find or access '%s'\nSearched in:%s on the "
			    "Ansible Controller.\nIf you are using a module and expect the file "
			    "to exist on the remote, see the remote_src option",
			    src, searched.len ? searched.buf : "");
		else
			ok = load_file(&l, path);
		free(src);
		free(path);
		kp_buf_release(&searched);
	} else if (dir) {
		char *path = dir_path(ctx, dir);
		struct stat st;
		const char *fm = kp_arg_str(ctx, "files_matching");
		if (stat(path, &st) != 0) {
			kp_mod_failf(res, "%s directory does not exist", path);
		} else if (!S_ISDIR(st.st_mode)) {
			kp_mod_failf(res, "%s is not a directory", path);
		} else if (!fm || (l.has_match = compile_re(res, &l.match, fm, false))) {
			size_t n = !ign ? 0 : ign->type == KP_V_LIST ? kp_list_len(ign) : 1;
			l.ignore = kp_xcalloc(n ? n : 1, sizeof(*l.ignore));
			ok = true;
			for (size_t i = 0; i < n && ok; i++) {
				const struct kp_value *p =
				    ign->type == KP_V_LIST ? kp_list_at(ign, i) : ign;
				if ((ok = p->type == KP_V_STR &&
					  compile_re(res, &l.ignore[l.nignore], p->u.str.s, true)))
					l.nignore++;
			}
			ok = ok && load_dir(&l, path);
		}
		free(path);
	} else {
		kp_mod_failf(res, "one of 'file' or 'dir' is required");
	}
	if (ok && hb && !strcmp(hb, "merge"))
		for (size_t i = 0; i < kp_map_len(l.vars); i++)
			kp_map_set_take(
			    l.vars, kp_map_key(l.vars, i),
			    merged(kp_mod_var(ctx, kp_map_key(l.vars, i)), kp_map_val(l.vars, i)));
	if (ok && name) {
		struct kp_value *scoped = kp_value_map();
		kp_map_set_take(scoped, name, l.vars);
		l.vars = scoped;
	}
out:
	if (!ok) {
		kp_map_set_take(res->facts, "message",
				kp_value_str(res->msg.buf ? res->msg.buf : ""));
		kp_value_unref(l.vars);
		l.vars = kp_value_map();
	} else {
		if (res->set_vars)
			kp_value_unref(res->set_vars);
		res->set_vars = kp_value_ref(l.vars);
	}
	kp_map_set_take(res->facts, "ansible_facts", l.vars);
	kp_map_set_take(res->facts, "ansible_included_var_files", l.files);
	if (l.has_match)
		regfree(&l.match);
	for (size_t i = 0; i < l.nignore; i++)
		regfree(&l.ignore[i]);
	free(l.ignore);
	return KP_OK;
}

const struct kp_module kp_mod_include_vars = {
    .name = "include-vars",
    .summary = "load variables from YAML or JSON files on the controller (Ansible's include_vars)",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL | KP_MOD_SETS_SOME_VARS,
    .free_form = "file",
    .exclusive = exclusive,
    .probe = probe,
};
