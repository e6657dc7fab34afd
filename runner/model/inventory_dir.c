/*
 * inventory_dir.c - group_vars/ and host_vars/ beside an inventory, the way
 * Ansible's host_group_vars plugin reads them.
 *
 * For a name N, these are read in this order: N (a file, or a directory
 * read recursively in sorted order), N.yml, N.yaml, N.json. Inside a
 * directory, files with no extension or one of those are read; hidden files
 * and backups ("~") are skipped. Every file must hold a mapping (or
 * nothing). Loading only notes the paths by name; kp_inventory_finalize()
 * reads them for the groups and hosts that exist by then. Names that match
 * nothing are ignored and their files never read, as in Ansible (so a
 * README in group_vars/ is harmless).
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/inventory.h"
#include "core/ytree.h"

static const char *const exts[] = {"", ".yml", ".yaml", ".json"};

struct entry {
	char *name; /* the group or host name */
	int rank;   /* index into exts */
	char *path;
	bool dir;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : x->rank - y->rank;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool skipped(const char *name)
{
	size_t n = strlen(name);
	return name[0] == '.' || (n && name[n - 1] == '~');
}

static kp_rc load_vars_file(const char *path, struct kp_value *into, struct kp_buf *err)
{
	struct kp_doc *doc = NULL;
	struct kp_value *v = NULL;
	kp_rc rc = kp_yaml_load_file(path, &doc, err);
	if (rc)
		return rc;
	if (!kp_node_is_null(doc->root)) {
		if (doc->root->type != KP_N_MAP)
			rc = kp_node_errorf(err, KP_ERR_INVALID, doc->root,
					    "a variables file must be a mapping, not %s",
					    kp_node_describe(doc->root));
		else if (!(rc = kp_node_to_value(doc->root, &v, err)))
			kp_map_update(into, v);
	}
	kp_value_unref(v);
	kp_doc_free(doc);
	return rc;
}

/* Every vars file under dir, recursively, in sorted order. */
static kp_rc load_vars_tree(const char *dir, struct kp_value *into, int depth, struct kp_buf *err)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	kp_rc rc = KP_OK;

	if (depth > 16)
		return kp_errorf(err, KP_ERR_LIMIT, "cannot read '%s': directories nested too deep",
				 dir);
	if (!(d = opendir(dir)))
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		if (skipped(de->d_name))
			continue;
		KP_GROW(names, n + 1, cap);
		names[n++] = kp_xstrdup(de->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), str_cmp);
	struct kp_buf path = KP_BUF_INIT;
	for (size_t i = 0; i < n && !rc; i++) {
		struct stat st;
		const char *dot = strrchr(names[i], '.');
		kp_buf_reset(&path);
		kp_buf_addf(&path, "%s/%s", dir, names[i]);
		if (stat(path.buf, &st))
			continue; /* a dangling link */
		if (S_ISDIR(st.st_mode)) {
			if (!dot)
				rc = load_vars_tree(path.buf, into, depth + 1, err);
			continue;
		}
		bool ok = !dot;
		for (size_t k = 1; k < KP_ARRAY_LEN(exts) && !ok; k++)
			ok = !strcmp(dot, exts[k]);
		if (ok && S_ISREG(st.st_mode))
			rc = load_vars_file(path.buf, into, err);
	}
	kp_buf_release(&path);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* dir/sub/ (group_vars or host_vars) into pending: name -> list of paths. */
static kp_rc load_kind(const char *dir, const char *sub, struct kp_value *pending,
		       struct kp_buf *err)
{
	struct kp_buf base = KP_BUF_INIT, path = KP_BUF_INIT;
	struct entry *ents = NULL;
	size_t n = 0, cap = 0;
	struct stat st;
	DIR *d;
	struct dirent *de;
	kp_rc rc = KP_OK;
	size_t dl = strlen(dir);

	kp_buf_addf(&base, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", sub);
	if (stat(base.buf, &st) || !S_ISDIR(st.st_mode) || !(d = opendir(base.buf))) {
		kp_buf_release(&base);
		return KP_OK; /* nothing there */
	}
	while ((de = readdir(d))) {
		if (skipped(de->d_name))
			continue;
		kp_buf_reset(&path);
		kp_buf_addf(&path, "%s/%s", base.buf, de->d_name);
		if (stat(path.buf, &st))
			continue;
		size_t len = strlen(de->d_name);
		int rank = 0;
		for (int k = 1; k < (int)KP_ARRAY_LEN(exts); k++) {
			size_t el = strlen(exts[k]);
			if (len > el && !strcmp(de->d_name + len - el, exts[k]))
				rank = k, len -= el;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		KP_GROW(ents, n + 1, cap);
		ents[n].name = kp_xstrndup(de->d_name, len);
		ents[n].rank = rank;
		ents[n].path = kp_xstrdup(path.buf);
		ents[n].dir = S_ISDIR(st.st_mode);
		n++;
	}
	closedir(d);
	if (n)
		qsort(ents, n, sizeof(*ents), entry_cmp);
	for (size_t i = 0; i < n; i++) {
		struct kp_value *paths = (struct kp_value *)kp_map_get(pending, ents[i].name);
		if (!paths) {
			paths = kp_value_list();
			kp_map_set_take(pending, ents[i].name, paths);
		}
		/* a directory is marked by its trailing '/' */
		if (ents[i].dir) {
			size_t pl = strlen(ents[i].path);
			ents[i].path = kp_xrealloc(ents[i].path, pl + 2);
			memcpy(ents[i].path + pl, "/", 2);
		}
		kp_list_push_take(paths, kp_value_str(ents[i].path));
	}
	for (size_t i = 0; i < n; i++) {
		free(ents[i].name);
		free(ents[i].path);
	}
	free(ents);
	kp_buf_release(&base);
	kp_buf_release(&path);
	return rc;
}

kp_rc kp_inventory_read_vars(const struct kp_value *paths, struct kp_value *into,
			     struct kp_buf *err)
{
	for (size_t i = 0; i < kp_list_len(paths); i++) {
		const struct kp_value *p = kp_list_at(paths, i);
		kp_rc rc;
		if (p->u.str.len && p->u.str.s[p->u.str.len - 1] == '/') {
			char *dir = kp_xstrndup(p->u.str.s, p->u.str.len - 1);
			rc = load_vars_tree(dir, into, 0, err);
			free(dir);
		} else {
			rc = load_vars_file(p->u.str.s, into, err);
		}
		if (rc)
			return rc;
	}
	return KP_OK;
}

kp_rc kp_inventory_load_vars_dirs(struct kp_inventory *inv, const char *dir, struct kp_buf *err)
{
	kp_rc rc = load_kind(dir, "group_vars", inv->pending_group_vars, err);
	if (!rc)
		rc = load_kind(dir, "host_vars", inv->pending_host_vars, err);
	return rc;
}
