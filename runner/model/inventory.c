/*
 * inventory.c - the inventory model: hosts, groups, membership, lookups,
 * host ranges, and kp_inventory_load(), which tells files from directories
 * and YAML from INI before handing the text to a parser.
 *
 * Finalizing lives in inventory_final.c, the --list/--graph/--host outputs
 * in inventory_out.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/inventory.h"
#include "core/ytree.h"

/* More names than this from one range pattern is a typo, not a cluster
 * (a Kubernetes cluster tops out at about 5,000 nodes). */
#define MAX_RANGE_HOSTS 100000
/* Nor are names taking more memory than this: several ranges in one long
 * name multiply, and a 100-byte line could otherwise ask for gigabytes. */
#define MAX_RANGE_BYTES ((size_t)16 << 20)

void kp_inventory_init(struct kp_inventory *inv)
{
	memset(inv, 0, sizeof(*inv));
	inv->host_index = kp_value_map();
	inv->group_index = kp_value_map();
	inv->pending_group_vars = kp_value_map();
	inv->pending_host_vars = kp_value_map();
	/* Ansible creates these two first, ungrouped as all's first child, so
	 * they lead every listing */
	size_t all = kp_inventory_add_group(inv, "all");
	size_t ungrouped = kp_inventory_add_group(inv, "ungrouped");
	kp_inventory_add_child(inv, all, ungrouped, NULL);
}

void kp_inventory_release(struct kp_inventory *inv)
{
	for (size_t i = 0; i < inv->nhosts; i++) {
		struct kp_host *h = inv->hosts[i];
		free(h->name);
		kp_value_unref(h->vars);
		kp_value_unref(h->file_vars);
		kp_value_unref(h->merged);
		kp_value_unref(h->group_names);
		free(h->groups);
		free(h);
	}
	free(inv->hosts);
	for (size_t i = 0; i < inv->ngroups; i++) {
		struct kp_group *g = inv->groups[i];
		free(g->name);
		free(g->hosts);
		free(g->children);
		free(g->child_pos);
		free(g->parents);
		kp_value_unref(g->vars);
		kp_value_unref(g->file_vars);
		free(g);
	}
	free(inv->groups);
	for (size_t i = 0; i < inv->nsources; i++)
		free(inv->sources[i]);
	free(inv->sources);
	for (size_t i = 0; i < inv->npos_files; i++)
		free(inv->pos_files[i]);
	free(inv->pos_files);
	kp_value_unref(inv->host_index);
	kp_value_unref(inv->group_index);
	kp_value_unref(inv->groups_var);
	kp_value_unref(inv->pending_group_vars);
	kp_value_unref(inv->pending_host_vars);
	memset(inv, 0, sizeof(*inv));
}

struct kp_host *kp_inventory_host(const struct kp_inventory *inv, const char *name)
{
	const struct kp_value *v = kp_map_get(inv->host_index, name);
	return v ? inv->hosts[v->u.i] : NULL;
}

/* Ansible's names for the controller (C.LOCALHOST). */
static const char *const localhost_names[] = {"localhost", "127.0.0.1", "::1"};

bool kp_inventory_implicit_localhost(struct kp_inventory *inv, const char *pattern)
{
	bool added = false;
	char *copy = kp_xstrdup(pattern), *save = NULL;
	for (char *t = strtok_r(copy, ",:", &save); t; t = strtok_r(NULL, ",:", &save)) {
		while (*t == ' ')
			t++;
		size_t i = 0;
		while (i < KP_ARRAY_LEN(localhost_names) && strcmp(t, localhost_names[i]))
			i++;
		if (i == KP_ARRAY_LEN(localhost_names) || kp_inventory_host(inv, t))
			continue;
		size_t h = kp_inventory_add_host(inv, t);
		inv->hosts[h]->implicit = true;
		kp_map_set_take(inv->hosts[h]->vars, "ansible_connection", kp_value_str("local"));
		added = true;
	}
	free(copy);
	return added;
}

const struct kp_host *kp_delegate_host(const struct kp_inventory *inv, const char *name,
				       const char **implicit)
{
	const struct kp_host *h = kp_inventory_host(inv, name);
	*implicit = NULL;
	if (h)
		return h;
	for (size_t i = 0; i < KP_ARRAY_LEN(localhost_names); i++) {
		if (strcmp(name, localhost_names[i]))
			continue;
		/* one localhost, whichever of its names it is written with:
		 * the inventory's when it defines one (Ansible's
		 * inventory.localhost) */
		for (size_t j = 0; j < KP_ARRAY_LEN(localhost_names); j++)
			if ((h = kp_inventory_host(inv, localhost_names[j])))
				return h;
		*implicit = localhost_names[i];
		return NULL;
	}
	return NULL;
}

struct kp_group *kp_inventory_group(const struct kp_inventory *inv, const char *name)
{
	const struct kp_value *v = kp_map_get(inv->group_index, name);
	return v ? inv->groups[v->u.i] : NULL;
}

size_t kp_inventory_add_host(struct kp_inventory *inv, const char *name)
{
	const struct kp_value *v = kp_map_get(inv->host_index, name);
	if (v)
		return (size_t)v->u.i;
	struct kp_host *h = kp_xcalloc(1, sizeof(*h));
	h->name = kp_xstrdup(name);
	h->index = inv->nhosts;
	h->vars = kp_value_map();
	h->file_vars = kp_value_map();
	KP_GROW(inv->hosts, inv->nhosts + 1, inv->caphosts);
	inv->hosts[inv->nhosts] = h;
	kp_map_set_take(inv->host_index, name, kp_value_int((int64_t)inv->nhosts));
	return inv->nhosts++;
}

size_t kp_inventory_add_group(struct kp_inventory *inv, const char *name)
{
	const struct kp_value *v = kp_map_get(inv->group_index, name);
	if (v)
		return (size_t)v->u.i;
	struct kp_group *g = kp_xcalloc(1, sizeof(*g));
	g->name = kp_xstrdup(name);
	g->index = inv->ngroups;
	g->vars = kp_value_map();
	g->file_vars = kp_value_map();
	KP_GROW(inv->groups, inv->ngroups + 1, inv->capgroups);
	inv->groups[inv->ngroups] = g;
	kp_map_set_take(inv->group_index, name, kp_value_int((int64_t)inv->ngroups));
	return inv->ngroups++;
}

static bool has(const size_t *arr, size_t n, size_t x)
{
	for (size_t i = 0; i < n; i++)
		if (arr[i] == x)
			return true;
	return false;
}

void kp_inventory_add_member(struct kp_inventory *inv, size_t g, size_t h)
{
	struct kp_host *host = inv->hosts[h];
	struct kp_group *grp = inv->groups[g];
	/* a host is in few groups: check its side, not the group's thousands */
	if (has(host->groups, host->ngroups, g))
		return;
	KP_GROW(host->groups, host->ngroups + 1, host->capgroups);
	host->groups[host->ngroups++] = g;
	KP_GROW(grp->hosts, grp->nhosts + 1, grp->caphosts);
	grp->hosts[grp->nhosts++] = h;
}

/* A copy of file that lives as long as the inventory (files come one
 * after the other: the last one is the likely match). */
static const char *pos_file(struct kp_inventory *inv, const char *file)
{
	for (size_t i = inv->npos_files; i-- > 0;)
		if (!strcmp(inv->pos_files[i], file))
			return inv->pos_files[i];
	KP_GROW(inv->pos_files, inv->npos_files + 1, inv->cappos_files);
	inv->pos_files[inv->npos_files] = kp_xstrdup(file);
	return inv->pos_files[inv->npos_files++];
}

kp_rc kp_inventory_add_child(struct kp_inventory *inv, size_t parent, size_t child,
			     struct kp_buf *err)
{
	return kp_inventory_add_child_at(inv, parent, child, NULL, err);
}

kp_rc kp_inventory_add_child_at(struct kp_inventory *inv, size_t parent, size_t child,
				const struct kp_pos *pos, struct kp_buf *err)
{
	struct kp_group *p = inv->groups[parent], *c = inv->groups[child];
	if (child == parent)
		return kp_errorf(err, KP_ERR_INVALID, "group '%s' cannot be its own child",
				 p->name);
	if (!strcmp(c->name, "all"))
		return kp_errorf(err, KP_ERR_INVALID, "group 'all' cannot be a child of '%s'",
				 p->name);
	if (has(p->children, p->nchildren, child))
		return KP_OK;
	size_t cap = p->capchildren;
	KP_GROW(p->children, p->nchildren + 1, p->capchildren);
	if (p->capchildren != cap)
		p->child_pos = kp_xrealloc(p->child_pos, p->capchildren * sizeof(*p->child_pos));
	p->child_pos[p->nchildren] = (struct kp_pos){0};
	if (pos && pos->file)
		p->child_pos[p->nchildren] =
		    (struct kp_pos){pos_file(inv, pos->file), pos->line, pos->col};
	p->children[p->nchildren++] = child;
	KP_GROW(c->parents, c->nparents + 1, c->capparents);
	c->parents[c->nparents++] = parent;
	return KP_OK;
}

char *kp_inventory_split_port(const char *pattern, int *port)
{
	const char *colon = NULL;
	int depth = 0, ncolons = 0;
	*port = -1;
	for (const char *p = pattern; *p; p++) {
		if (*p == '[')
			depth++;
		else if (*p == ']' && depth)
			depth--;
		else if (*p == ':' && !depth) {
			colon = p;
			ncolons++;
		}
	}
	/* more than one ':' is an IPv6 address, not a port */
	if (ncolons == 1 && colon[1] && colon != pattern) {
		const char *d = colon + 1;
		long n = 0;
		while (*d >= '0' && *d <= '9' && n <= 65535)
			n = n * 10 + (*d++ - '0');
		if (!*d && n <= 65535) {
			*port = (int)n;
			return kp_xstrndup(pattern, (size_t)(colon - pattern));
		}
	}
	return kp_xstrdup(pattern);
}

/* Host ranges */

static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

static bool all_digits(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static kp_rc range_error(struct kp_buf *err, const char *pattern, const char *why)
{
	return kp_errorf(err, KP_ERR_INVALID, "invalid host range '%s': %s", pattern, why);
}

/* a * b, stopping just past the range limit instead of overflowing */
static size_t count_mul(size_t a, size_t b)
{
	return b && a > (size_t)MAX_RANGE_HOSTS / b ? (size_t)MAX_RANGE_HOSTS + 1 : a * b;
}

/* Expand the first [a:b(:s)] of name into out; recurses for later ones.
 * With out NULL only *count is set: how many names there would be. Every
 * value of a range leaves the same later ranges, so one value is enough to
 * count them, and a pattern asking for millions is refused before it
 * allocates anything. */
static kp_rc expand(const char *whole, const char *name, struct kp_value *out, size_t *count,
		    struct kp_buf *err)
{
	const char *open = strchr(name, '[');
	const char *close = open ? strchr(open, ']') : NULL;
	const char *colon = open ? memchr(open, ':', close ? (size_t)(close - open) : 0) : NULL;

	/* like Ansible, brackets without a ':' inside are part of the name */
	if (!open || !close || !colon) {
		if (!out) {
			*count = 1;
			return KP_OK;
		}
		if (kp_list_len(out) >= MAX_RANGE_HOSTS)
			return kp_errorf(err, KP_ERR_LIMIT,
					 "invalid host range '%s': more than %d hosts", whole,
					 MAX_RANGE_HOSTS);
		if ((kp_list_len(out) + 1) * (strlen(name) + 1) > MAX_RANGE_BYTES)
			return kp_errorf(err, KP_ERR_LIMIT,
					 "invalid host range '%s': the names would take more than "
					 "%zu MiB",
					 whole, MAX_RANGE_BYTES >> 20);
		kp_list_push_take(out, kp_value_str(name));
		return KP_OK;
	}
	const char *parts[3];
	size_t lens[3] = {0, 0, 0}, nparts = 0;
	const char *p = open + 1;
	for (;;) {
		const char *q = memchr(p, ':', (size_t)(close - p));
		if (nparts == 3)
			return range_error(err, whole,
					   "a range is [begin:end] or [begin:end:step]");
		parts[nparts] = p;
		lens[nparts++] = q ? (size_t)(q - p) : (size_t)(close - p);
		if (!q)
			break;
		p = q + 1;
	}
	if (!lens[1])
		return range_error(err, whole, "the range has no end");
	long step = 1;
	if (nparts == 3) {
		if (!all_digits(parts[2], lens[2]) || lens[2] > 9 ||
		    (step = strtol(parts[2], NULL, 10)) < 1)
			return range_error(err, whole, "the step must be a positive number");
	}
	size_t headlen = (size_t)(open - name);
	const char *tail = close + 1;
	struct kp_buf nb = KP_BUF_INIT;
	kp_rc rc = KP_OK;

	bool alpha = lens[0] == 1 && lens[1] == 1 && strchr(letters, parts[0][0]) &&
		     strchr(letters, parts[1][0]) && !all_digits(parts[0], 1);
	if (alpha) {
		long b = strchr(letters, parts[0][0]) - letters;
		long e = strchr(letters, parts[1][0]) - letters;
		if (b > e)
			return range_error(err, whole, "the range begins after its end");
		for (long i = b; i <= e && !rc; i += out ? step : e - b + 1) {
			kp_buf_reset(&nb);
			kp_buf_add(&nb, name, headlen);
			kp_buf_addch(&nb, letters[i]);
			kp_buf_addstr(&nb, tail);
			rc = expand(whole, nb.buf, out, count, err);
		}
		if (!out)
			*count = count_mul(*count, (size_t)((e - b) / step + 1));
		kp_buf_release(&nb);
		return rc;
	}
	/* an empty begin is 0, as in Ansible */
	if ((lens[0] && !all_digits(parts[0], lens[0])) || !all_digits(parts[1], lens[1]) ||
	    lens[0] > 9 || lens[1] > 9)
		return range_error(err, whole,
				   "a range is numbers like [01:20] or single letters like [a:c]");
	int width = 0;
	if (lens[0] > 1 && parts[0][0] == '0') {
		/* a leading zero asks for fixed width: node[01:20] */
		if (lens[0] != lens[1])
			return range_error(
			    err, whole, "begin and end of a zero-padded range need the same width");
		width = (int)lens[0];
	}
	long b = lens[0] ? strtol(parts[0], NULL, 10) : 0;
	long e = strtol(parts[1], NULL, 10);
	if (b > e)
		return range_error(err, whole, "the range begins after its end");
	if ((e - b) / step + 1 > MAX_RANGE_HOSTS)
		return kp_errorf(err, KP_ERR_LIMIT, "invalid host range '%s': more than %d hosts",
				 whole, MAX_RANGE_HOSTS);
	for (long i = b; i <= e && !rc; i += out ? step : e - b + 1) {
		kp_buf_reset(&nb);
		kp_buf_add(&nb, name, headlen);
		kp_buf_addf(&nb, "%0*ld", width, i);
		kp_buf_addstr(&nb, tail);
		rc = expand(whole, nb.buf, out, count, err);
	}
	if (!out)
		*count = count_mul(*count, (size_t)((e - b) / step + 1));
	kp_buf_release(&nb);
	return rc;
}

kp_rc kp_inventory_room(const struct kp_inventory *inv, size_t more, const char *pattern,
			struct kp_buf *err)
{
	if (inv->nhosts + more <= KP_MAX_INVENTORY_HOSTS)
		return KP_OK;
	return kp_errorf(err, KP_ERR_LIMIT,
			 "host range '%s': the inventory would have more than %d hosts", pattern,
			 KP_MAX_INVENTORY_HOSTS);
}

kp_rc kp_host_range_count(const char *pattern, size_t *n, struct kp_buf *err)
{
	*n = 0;
	return expand(pattern, pattern, NULL, n, err);
}

kp_rc kp_expand_host_range(const char *pattern, struct kp_value **out, struct kp_buf *err)
{
	size_t n = 0;
	kp_rc rc = kp_host_range_count(pattern, &n, err);
	if (rc)
		return rc;
	if (n > MAX_RANGE_HOSTS)
		return kp_errorf(err, KP_ERR_LIMIT, "invalid host range '%s': more than %d hosts",
				 pattern, MAX_RANGE_HOSTS);
	/* no name is longer than the pattern it comes from */
	if (n * (strlen(pattern) + 1) > MAX_RANGE_BYTES)
		return kp_errorf(err, KP_ERR_LIMIT,
				 "invalid host range '%s': the names would take more than %zu MiB",
				 pattern, MAX_RANGE_BYTES >> 20);
	struct kp_value *l = kp_value_list();
	rc = expand(pattern, pattern, l, NULL, err);
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}

/* Loading */

/* YAML or INI? Decided by the first line that is not blank or a comment:
 * an INI section header ("[name]", "[name:type]", no commas, quotes or
 * brackets inside: a YAML inventory cannot be a list anyway) means INI; "---", "%YAML", a "key:"
 * line, a "- item" line or a flow mapping means YAML; anything else (host lines such as "node1
 * ansible_host=10.0.0.1" before any section) means INI. An empty file is an empty YAML inventory.
 * Ansible instead tries its parsers in turn; this is deterministic and reports a YAML error as a
 * YAML error. */
static bool looks_ini(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *s = p, *e = eol;
		p = eol + 1;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (s == e || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			const char *c = memchr(s, ']', (size_t)(e - s));
			if (!c)
				return false; /* a multi-line YAML flow sequence */
			for (const char *q = s + 1; q < c; q++)
				if (*q == ',' || *q == '"' || *q == '\'' || *q == '[' || *q == '{')
					return false;
			/* "[group]  # comment" */
			const char *r = c + 1;
			while (r < e && (*r == ' ' || *r == '\t'))
				r++;
			return r == e || *r == '#';
		}
		if (*s == '-' || *s == '{' || *s == '%')
			return false;
		/* "key:" at the end or followed by a space: a YAML mapping */
		for (const char *q = s; q < e; q++) {
			if (*q == ' ' || *q == '\t' || *q == '=')
				return true;
			if (*q == ':' && (q + 1 == e || q[1] == ' ' || q[1] == '\t'))
				return false;
		}
		return true;
	}
	return false;
}

/* A name that says INI decides: sniffing the text would take a broken
 * section header ("[kube_node" without ']') for YAML, and the error would
 * be about a YAML flow sequence the user never meant. */
static bool ini_name(const char *path)
{
	size_t len = strlen(path);
	return len >= 4 && !strcmp(path + len - 4, ".ini");
}

static kp_rc load_file(struct kp_inventory *inv, const char *path, struct kp_buf *err)
{
	struct kp_buf text = KP_BUF_INIT;
	kp_rc rc = kp_read_file(path, KP_YAML_MAX_FILE, &text, err);
	if (rc)
		goto out;
	/* a UTF-8 byte order mark: libyaml skips it, the INI reader must too */
	size_t bom = text.len >= 3 && !memcmp(text.buf, "\xEF\xBB\xBF", 3) ? 3 : 0;
	if (ini_name(path) || looks_ini(text.buf + bom, text.len - bom)) {
		rc = kp_inventory_load_ini(inv, path, text.buf + bom, text.len - bom, err);
	} else {
		struct kp_doc *doc = NULL;
		rc = kp_yaml_load_string(path, text.buf, text.len, &doc, err);
		if (!rc)
			rc = kp_inventory_load_yaml(inv, doc, err);
		kp_doc_free(doc);
	}
out:
	kp_buf_release(&text);
	return rc;
}

static void add_source(struct kp_inventory *inv, const char *path)
{
	KP_GROW(inv->sources, inv->nsources + 1, inv->capsources);
	inv->sources[inv->nsources++] = kp_xstrdup(path);
}

kp_rc kp_inventory_load(struct kp_inventory *inv, const char *path, struct kp_buf *err)
{
	static const char *const names[] = {"hosts.yaml", "hosts.yml", "inventory.ini",
					    "hosts.ini"};
	struct stat st;
	kp_rc rc;

	if (inv->finalized)
		return kp_errorf(err, KP_ERR_INVALID,
				 "cannot load '%s': the inventory is already finalized", path);
	if (stat(path, &st))
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		size_t len = strlen(path);
		const char *slash = len && path[len - 1] == '/' ? "" : "/";
		struct kp_buf file = KP_BUF_INIT;
		bool found = false;
		for (size_t i = 0; i < KP_ARRAY_LEN(names) && !found; i++) {
			kp_buf_reset(&file);
			kp_buf_addf(&file, "%s%s%s", path, slash, names[i]);
			found = !stat(file.buf, &st) && S_ISREG(st.st_mode);
		}
		if (!found) {
			kp_buf_release(&file);
			return kp_errorf(err, KP_ERR_NOTFOUND,
					 "no inventory file in '%s%s' (looked for hosts.yaml, "
					 "hosts.yml, inventory.ini, hosts.ini)",
					 path, slash);
		}
		rc = load_file(inv, file.buf, err);
		kp_buf_release(&file);
		if (!rc)
			rc = kp_inventory_load_vars_dirs(inv, path, err);
	} else {
		rc = load_file(inv, path, err);
		if (!rc) {
			/* Ansible reads group_vars/ and host_vars/ beside a file too */
			const char *slash = strrchr(path, '/');
			char *dir =
			    slash ? kp_xstrndup(path, (size_t)(slash - path + 1)) : kp_xstrdup(".");
			rc = kp_inventory_load_vars_dirs(inv, dir, err);
			free(dir);
		}
	}
	if (!rc)
		add_source(inv, path);
	return rc;
}

size_t kp_group_all_hosts(const struct kp_inventory *inv, const struct kp_group *g, size_t **out)
{
	/* breadth first from g, as Ansible's get_hosts() walks descendants */
	size_t *queue = kp_xmalloc(inv->ngroups * sizeof(*queue));
	bool *gseen = kp_xcalloc(inv->ngroups, sizeof(*gseen));
	bool *hseen = kp_xcalloc(inv->nhosts ? inv->nhosts : 1, sizeof(*hseen));
	size_t *res = NULL, n = 0, cap = 0, qh = 0, qt = 0;

	queue[qt++] = g->index;
	gseen[g->index] = true;
	while (qh < qt) {
		const struct kp_group *c = inv->groups[queue[qh++]];
		for (size_t i = 0; i < c->nhosts; i++) {
			size_t h = c->hosts[i];
			if (hseen[h])
				continue;
			hseen[h] = true;
			KP_GROW(res, n + 1, cap);
			res[n++] = h;
		}
		for (size_t i = 0; i < c->nchildren; i++) {
			if (gseen[c->children[i]])
				continue;
			gseen[c->children[i]] = true;
			queue[qt++] = c->children[i];
		}
	}
	free(queue);
	free(gseen);
	free(hseen);
	*out = res;
	return n;
}
