/*
 * lookups_loops.c - the lookups behind Ansible's with_<name> loops: items,
 * list, dict, indexed_items, together, nested, sequence, subelements,
 * fileglob, first_found. Each is also callable as lookup()/query(). The
 * results and error messages are ansible-core's (plugins/lookup/).
 */
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "expr/jinja/jinja.h"
#include "expr/jinja/jlib.h"

/* LookupBase._flatten: one level of lists taken apart */
static struct kp_value *flatten1(const struct kp_value *terms)
{
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < kp_list_len(terms); i++) {
		const struct kp_value *t = kp_list_at(terms, i);
		if (t->type == KP_V_LIST)
			for (size_t k = 0; k < kp_list_len(t); k++)
				kp_list_push(l, kp_list_at(t, k));
		else
			kp_list_push(l, t);
	}
	return l;
}

/* _flatten of any iterable (a string gives its characters, as in Python) */
static kp_rc flatten_any(struct kp_jctx *cx, const struct kp_value *v, struct kp_value **out)
{
	struct kp_value *it = NULL;
	if (v->type == KP_V_LIST) {
		*out = flatten1(v);
		return KP_OK;
	}
	kp_rc rc = jl_iter(cx, v, &it);
	if (rc)
		return rc;
	*out = flatten1(it);
	kp_value_unref(it);
	return KP_OK;
}

/* listify_lookup_plugin_terms: a list as it is, anything else in one */
static struct kp_value *listify(const struct kp_value *v)
{
	if (v->type == KP_V_LIST)
		return kp_value_ref(v);
	struct kp_value *l = kp_value_list();
	kp_list_push(l, v);
	return l;
}

JL(items)
{
	*out = flatten1(argv[0]);
	return KP_OK;
}

JL(list)
{
	*out = kp_value_ref(argv[0]);
	return KP_OK;
}

JL(dict)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < kp_list_len(terms); i++) {
		const struct kp_value *m = kp_list_at(terms, i);
		if (m->type != KP_V_MAP) {
			kp_value_unref(l);
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "with_dict expects a dict");
		}
		for (size_t k = 0; k < kp_map_len(m); k++) {
			struct kp_value *e = kp_value_map();
			kp_map_set_take(e, "key", kp_value_str(kp_map_key(m, k)));
			kp_map_set(e, "value", kp_map_val(m, k));
			kp_list_push_take(l, e);
		}
	}
	*out = l;
	return KP_OK;
}

JL(indexed_items)
{
	struct kp_value *items = flatten1(argv[0]), *l = kp_value_list();
	for (size_t i = 0; i < kp_list_len(items); i++) {
		struct kp_value *pair = kp_value_list();
		pair->tuple = 1;
		kp_list_push_take(pair, kp_value_int((int64_t)i));
		kp_list_push(pair, kp_list_at(items, i));
		kp_list_push_take(l, pair);
	}
	kp_value_unref(items);
	*out = l;
	return KP_OK;
}

JL(together)
{
	const struct kp_value *terms = argv[0];
	size_t n = kp_list_len(terms), longest = 0;
	if (!n)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "with_together requires at least one element in each list");
	struct kp_value **lists = kp_xcalloc(n, sizeof(*lists));
	for (size_t i = 0; i < n; i++) {
		lists[i] = listify(kp_list_at(terms, i));
		if (kp_list_len(lists[i]) > longest)
			longest = kp_list_len(lists[i]);
	}
	struct kp_value *l = kp_value_list();
	kp_rc rc = kp_jinja_charge(cx, longest * n);
	for (size_t r = 0; r < longest && !rc; r++) {
		struct kp_value *row = kp_value_list();
		for (size_t i = 0; i < n; i++) {
			if (r < kp_list_len(lists[i]))
				kp_list_push(row, kp_list_at(lists[i], r));
			else
				kp_list_push_take(row, kp_value_null());
		}
		struct kp_value *flat = flatten1(row);
		kp_value_unref(row);
		kp_list_push_take(l, flat);
	}
	for (size_t i = 0; i < n; i++)
		kp_value_unref(lists[i]);
	free(lists);
	*out = l;
	return rc;
}

JL(nested)
{
	const struct kp_value *terms = argv[0];
	size_t n = kp_list_len(terms);
	if (!n)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "with_nested requires at least one element in the nested list");
	struct kp_value *result = listify(kp_list_at(terms, 0));
	kp_rc rc = KP_OK;
	for (size_t i = 1; i < n && !rc; i++) {
		struct kp_value *b = listify(kp_list_at(terms, i)), *next = kp_value_list();
		rc = kp_jinja_charge(cx, kp_list_len(result) * kp_list_len(b));
		for (size_t x = 0; x < kp_list_len(result) && !rc; x++)
			for (size_t y = 0; y < kp_list_len(b); y++) {
				struct kp_value *pair = kp_value_list();
				kp_list_push(pair, kp_list_at(result, x));
				kp_list_push(pair, kp_list_at(b, y));
				kp_list_push_take(next, flatten1(pair));
				kp_value_unref(pair);
			}
		kp_value_unref(b);
		kp_value_unref(result);
		result = next;
	}
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < kp_list_len(result) && !rc; i++) {
		struct kp_value *f = NULL;
		if (!(rc = flatten_any(cx, kp_list_at(result, i), &f)))
			kp_list_push_take(l, f);
	}
	kp_value_unref(result);
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}

/* ---- sequence ---------------------------------------------------------- */

/* Python's int(s, 0): 0x/0o/0b prefixes, no leading zeros on decimals */
static bool py_int0(const char *s, size_t len, int64_t *out)
{
	char buf[64];
	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = 0;
	char *p = buf;
	bool neg = false;
	while (*p == ' ')
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	int base = 10;
	if (p[0] == '0' && p[1] && strchr("xXoObB", p[1])) {
		base = strchr("xX", p[1]) ? 16 : strchr("oO", p[1]) ? 8 : 2;
		p += 2;
	} else if (p[0] == '0') {
		for (const char *q = p; *q && *q != ' '; q++)
			if (*q != '0')
				return false;
	}
	if (!*p)
		return false;
	char *end;
	long long v = strtoll(p, &end, base);
	while (*end == ' ')
		end++;
	if (*end || *p == '+' || *p == '-' || *p == ' ')
		return false;
	*out = neg ? -v : v;
	return true;
}

struct seq {
	int64_t start, end, count, stride;
	bool has_end, has_count;
	const char *fmt;
	size_t fmtlen;
};

/* [start-]end[/stride][:format], NUM being (0?x?[0-9a-f]+) */
static size_t seq_num(const char *s)
{
	size_t i = 0;
	if (s[i] == '0')
		i++;
	if (s[i] == 'x' || s[i] == 'X')
		i++;
	size_t d = i;
	while (strchr("0123456789abcdefABCDEF", s[i]) && s[i])
		i++;
	if (i == d) { /* the optional 0 and x may have been the digits */
		if (d == 1 && s[0] == '0')
			return 1;
		return 0;
	}
	return i;
}

static kp_rc seq_simple(struct kp_jctx *cx, const char *term, struct seq *q, bool *matched)
{
	const char *p = term, *n1 = NULL, *n2 = NULL, *n3 = NULL;
	size_t l1 = 0, l2 = 0, l3 = 0;
	*matched = false;
	size_t a = seq_num(p);
	if (!a)
		return KP_OK;
	if (p[a] == '-') {
		size_t b = seq_num(p + a + 1);
		if (!b)
			return KP_OK;
		n1 = p, l1 = a;
		n2 = p + a + 1, l2 = b;
		p = n2 + b;
	} else {
		n2 = p, l2 = a;
		p += a;
	}
	if (*p == '/') {
		size_t c = seq_num(p + 1);
		if (!c)
			return KP_OK;
		n3 = p + 1, l3 = c;
		p = n3 + c;
	}
	if (*p == ':' && p[1]) {
		q->fmt = p + 1;
		q->fmtlen = strlen(p + 1);
	} else if (*p) {
		return KP_OK;
	}
	*matched = true;
	const char *names[] = {"start", "end", "stride"};
	const char *nums[] = {n1, n2, n3};
	size_t lens[] = {l1, l2, l3};
	int64_t *dst[] = {&q->start, &q->end, &q->stride};
	for (int i = 0; i < 3; i++) {
		if (!nums[i])
			continue;
		if (!py_int0(nums[i], lens[i], dst[i]))
			return kp_jinja_err(cx, KP_ERR_RUNTIME, "can't parse %s=%.*s as integer",
					    names[i], (int)lens[i], nums[i]);
	}
	q->has_end = true;
	return KP_OK;
}

/* key=value words (Ansible's parse_kv, with quoted values) */
static kp_rc seq_kv(struct kp_jctx *cx, const char *term, struct seq *q)
{
	struct kp_buf unknown = KP_BUF_INIT;
	const char *p = term;
	kp_rc rc = KP_OK;
	while (*p && !rc) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		const char *k = p;
		while (*p && *p != '=' && *p != ' ')
			p++;
		if (*p != '=') {
			rc = kp_jinja_err(
			    cx, KP_ERR_RUNTIME,
			    "unrecognized arguments to with_sequence: ['_raw_params']");
			break;
		}
		size_t kl = (size_t)(p - k);
		p++;
		const char *v = p;
		size_t vl;
		if (*p == '"' || *p == '\'') {
			char qc = *p++;
			v = p;
			while (*p && *p != qc)
				p++;
			vl = (size_t)(p - v);
			if (*p)
				p++;
		} else {
			while (*p && *p != ' ' && *p != '\t')
				p++;
			vl = (size_t)(p - v);
		}
		static const char *const ints[] = {"start", "end", "count", "stride"};
		int which = -1;
		for (int i = 0; i < 4; i++)
			if (strlen(ints[i]) == kl && !memcmp(ints[i], k, kl))
				which = i;
		if (which >= 0) {
			int64_t x;
			if (!py_int0(v, vl, &x)) {
				rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
						  "can't parse %s=%.*s as integer", ints[which],
						  (int)vl, v);
				break;
			}
			if (which == 0)
				q->start = x;
			else if (which == 1)
				q->end = x, q->has_end = true;
			else if (which == 2)
				q->count = x, q->has_count = true;
			else
				q->stride = x;
		} else if (kl == 6 && !memcmp(k, "format", 6)) {
			q->fmt = v;
			q->fmtlen = vl;
		} else {
			kp_buf_addf(&unknown, "%s'%.*s'", unknown.len ? ", " : "", (int)kl, k);
		}
	}
	if (!rc && unknown.len)
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
				  "unrecognized arguments to with_sequence: [%s]", unknown.buf);
	kp_buf_release(&unknown);
	return rc;
}

static kp_rc seq_run(struct kp_jctx *cx, const char *term, struct kp_value *l)
{
	struct seq q = {.start = 1, .stride = 1, .fmt = "%d", .fmtlen = 2};
	bool simple;
	kp_rc rc = seq_simple(cx, term, &q, &simple);
	if (!rc && !simple)
		rc = seq_kv(cx, term, &q);
	if (rc)
		return rc;
	if (!q.has_count && !q.has_end)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "must specify count or end in with_sequence");
	if (q.has_count && q.has_end)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "can't specify both count and end in with_sequence");
	if (q.has_count) {
		if (q.count != 0) {
			q.end = q.start + q.count * q.stride - 1;
		} else {
			q.start = q.end = q.stride = 0;
		}
	}
	if (q.stride > 0 && q.end < q.start)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "to count backwards make stride negative");
	if (q.stride < 0 && q.end > q.start)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "to count forward don't make stride negative");
	size_t pct = 0;
	for (size_t i = 0; i < q.fmtlen; i++)
		pct += q.fmt[i] == '%';
	if (pct != 1)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "bad formatting string: %.*s",
				    (int)q.fmtlen, q.fmt);
	if (q.stride == 0)
		return KP_OK;
	struct kp_value *fmt = kp_value_strn(q.fmt, q.fmtlen);
	int64_t adjust = q.stride > 0 ? 1 : -1;
	for (int64_t i = q.start; q.stride > 0 ? i < q.end + adjust : i > q.end + adjust;
	     i += q.stride) {
		struct kp_value *n = kp_value_int(i), *s = NULL;
		if (!(rc = kp_jinja_charge(cx, 1)))
			rc = kp_jbinop(cx, JOP_MOD, fmt, n, &s);
		kp_value_unref(n);
		if (rc) {
			kp_buf_reset(cx->err);
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "problem formatting %lld with '%.*s'",
					  (long long)i, (int)q.fmtlen, q.fmt);
			break;
		}
		kp_list_push_take(l, s);
	}
	kp_value_unref(fmt);
	return rc;
}

JL(sequence)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(terms) && !rc; i++) {
		const struct kp_value *t = kp_list_at(terms, i);
		struct kp_value *s = jl_strval(t);
		rc = seq_run(cx, s->u.str.s, l);
		kp_value_unref(s);
	}
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}

/* ---- subelements ------------------------------------------------------- */

static kp_rc sub_terms_error(struct kp_jctx *cx, const char *msg)
{
	return kp_jinja_err(cx, KP_ERR_RUNTIME,
			    "subelements lookup expects a list of two or three items, %s", msg);
}

/* Python's truthiness of item.get('skipped', False) is not False */
static bool marked_skipped(const struct kp_value *m)
{
	const struct kp_value *s = kp_map_get(m, "skipped");
	return s && !(s->type == KP_V_BOOL && !s->u.b);
}

static kp_rc sub_one(struct kp_jctx *cx, const struct kp_value *item0, const char *path,
		     bool skip_missing, struct kp_value *l)
{
	if (item0->type != KP_V_MAP) {
		struct kp_buf b = KP_BUF_INIT;
		kp_jinja_str(item0, &b);
		kp_rc rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					"subelements lookup expects a dictionary, got '%s'", b.buf);
		kp_buf_release(&b);
		return rc;
	}
	if (marked_skipped(item0))
		return KP_OK;
	/* Ansible pops the list out of the item: item.0 comes without it */
	struct kp_value *copy = kp_value_copy(item0), *sub = copy, *sublist = NULL;
	kp_rc rc = KP_OK;
	char *keys = kp_xstrdup(path), *save = NULL;
	size_t nkeys = 1;
	for (const char *p = path; *p; p++)
		nkeys += *p == '.';
	size_t ki = 0;
	for (char *k = strtok_r(keys, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		bool last = ++ki == nkeys;
		const struct kp_value *v = kp_map_get(sub, k);
		struct kp_buf b = KP_BUF_INIT;
		if (!v) {
			if (skip_missing)
				continue;
			kp_jinja_str(sub, &b);
			rc =
			    kp_jinja_err(cx, KP_ERR_RUNTIME,
					 "could not find '%s' key in iterated item '%s'", k, b.buf);
		} else if (!last && v->type != KP_V_MAP) {
			if (skip_missing)
				continue;
			kp_jinja_str(v, &b);
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "the key %s should point to a dictionary, got '%s'", k,
					  b.buf);
		} else if (!last) {
			sub = (struct kp_value *)v;
		} else if (v->type != KP_V_LIST) {
			kp_jinja_str(v, &b);
			rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
					  "the key %s should point to a list, got '%s'", k, b.buf);
		} else {
			sublist = kp_value_ref(v);
			kp_map_del(sub, k);
		}
		kp_buf_release(&b);
		if (rc)
			break;
	}
	free(keys);
	for (size_t i = 0; !rc && sublist && i < kp_list_len(sublist); i++) {
		struct kp_value *pair = kp_value_list();
		pair->tuple = 1;
		kp_list_push(pair, copy);
		kp_list_push(pair, kp_list_at(sublist, i));
		kp_list_push_take(l, pair);
	}
	kp_value_unref(sublist);
	kp_value_unref(copy);
	return rc;
}

JL(subelements)
{
	const struct kp_value *terms = argv[0];
	size_t n = kp_list_len(terms);
	if (n < 2 || n > 3)
		return sub_terms_error(cx, "");
	struct kp_value *first = listify(kp_list_at(terms, 0));
	const struct kp_value *key = kp_list_at(terms, 1);
	if (key->type != KP_V_STR) {
		kp_value_unref(first);
		return sub_terms_error(
		    cx, "first a dict or a list, second a string pointing to the subkey");
	}
	bool skip_missing = false;
	if (n == 3) {
		const struct kp_value *f = kp_list_at(terms, 2), *s;
		if (f->type == KP_V_MAP && (s = kp_map_get(f, "skip_missing"))) {
			if (s->type == KP_V_STR)
				skip_missing = !strcasecmp(s->u.str.s, "yes") ||
					       !strcasecmp(s->u.str.s, "on") ||
					       !strcasecmp(s->u.str.s, "true") ||
					       !strcmp(s->u.str.s, "1") ||
					       !strcasecmp(s->u.str.s, "y");
			else
				skip_missing = kp_jinja_truthy(s) && s->type != KP_V_LIST;
		}
	}
	struct kp_value *l = kp_value_list();
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < kp_list_len(first) && !rc; i++)
		rc = sub_one(cx, kp_list_at(first, i), key->u.str.s, skip_missing, l);
	kp_value_unref(first);
	if (rc) {
		kp_value_unref(l);
		return rc;
	}
	*out = l;
	return KP_OK;
}

/* ---- files on the controller ------------------------------------------- */

static bool exists(const char *p, bool regular)
{
	struct stat st;
	return !stat(p, &st) && (!regular || S_ISREG(st.st_mode));
}

/* The plan's directory as an absolute path (what Ansible's basedir is) */
static void base_dir(struct kp_jctx *cx, struct kp_buf *out)
{
	const char *b = kp_jinja_base_dir(cx);
	char *r = realpath(b, NULL);
	kp_buf_reset(out);
	kp_buf_addstr(out, r ? r : b);
	free(r);
}

/* path_dwim_relative_stack for a plan: the name as it is when absolute,
 * else under files/ of the plan's directory, else in that directory. */
static bool find_in_search_path(struct kp_jctx *cx, const char *name, struct kp_buf *out)
{
	kp_buf_reset(out);
	if (name[0] == '/') {
		kp_buf_addstr(out, name);
		return exists(out->buf, false);
	}
	struct kp_buf b = KP_BUF_INIT;
	base_dir(cx, &b);
	kp_buf_addf(out, "%s/files/%s", b.buf, name);
	bool ok = exists(out->buf, false);
	if (!ok) {
		kp_buf_reset(out);
		kp_buf_addf(out, "%s/%s", b.buf, name);
		ok = exists(out->buf, false);
	}
	kp_buf_release(&b);
	return ok;
}

static void glob_into(const char *dir, const char *pat, struct kp_value *l, bool *found)
{
	struct kp_buf p = KP_BUF_INIT;
	glob_t g;
	kp_buf_addf(&p, "%s/%s", dir, pat);
	if (!glob(p.buf, 0, NULL, &g)) {
		for (size_t i = 0; i < g.gl_pathc; i++)
			if (exists(g.gl_pathv[i], true)) {
				kp_list_push_take(l, kp_value_str(g.gl_pathv[i]));
				*found = true;
			}
		globfree(&g);
	}
	kp_buf_release(&p);
}

JL(fileglob)
{
	const struct kp_value *terms = argv[0];
	struct kp_value *l = kp_value_list();
	struct kp_buf dir = KP_BUF_INIT;
	for (size_t i = 0; i < kp_list_len(terms); i++) {
		struct kp_value *s = jl_strval(kp_list_at(terms, i));
		const char *term = s->u.str.s, *slash = strrchr(term, '/');
		bool found = false;
		if (slash) {
			char *d = kp_xstrndup(term, (size_t)(slash - term));
			if (find_in_search_path(cx, slash == term ? "/" : d, &dir))
				glob_into(dir.buf, slash + 1, l, &found);
			free(d);
		} else {
			struct kp_buf b = KP_BUF_INIT;
			base_dir(cx, &b);
			kp_buf_reset(&dir);
			kp_buf_addf(&dir, "%s/files", b.buf);
			glob_into(dir.buf, term, l, &found);
			if (!found)
				glob_into(b.buf, term, l, &found);
			kp_buf_release(&b);
		}
		kp_value_unref(s);
	}
	kp_buf_release(&dir);
	*out = l;
	return KP_OK;
}

/* _split_on: a string split at any of chars, a list of them each split */
static void split_on(const struct kp_value *v, const char *chars, struct kp_value *out)
{
	if (!v || v->type == KP_V_NULL)
		return;
	if (v->type == KP_V_LIST) {
		for (size_t i = 0; i < kp_list_len(v); i++)
			split_on(kp_list_at(v, i), chars, out);
		return;
	}
	struct kp_value *s = jl_strval(v);
	const char *p = s->u.str.s;
	for (;;) {
		size_t n = strcspn(p, chars);
		kp_list_push_take(out, kp_value_strn(p, n));
		if (!p[n])
			break;
		p += n + 1;
	}
	kp_value_unref(s);
}

static kp_rc ff_terms(struct kp_jctx *cx, const struct kp_value *terms, const struct kp_value *kw,
		      struct kp_value **search, bool *skip)
{
	for (size_t i = 0; i < kp_list_len(terms); i++) {
		const struct kp_value *t = kp_list_at(terms, i), *opts;
		if (t->type == KP_V_MAP) {
			opts = t;
		} else if (t->type == KP_V_STR) {
			opts = kw;
		} else if (t->type == KP_V_LIST) {
			kp_rc rc = ff_terms(cx, t, kw, search, skip);
			if (rc)
				return rc;
			continue;
		} else {
			struct kp_buf b = KP_BUF_INIT;
			kp_jinja_str(t, &b);
			kp_rc rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
						"Invalid term supplied, can handle string, mapping "
						"or list of strings but got: %s for %s",
						kp_jinja_typename(t), b.buf);
			kp_buf_release(&b);
			return rc;
		}
		struct kp_value *files = kp_value_list(), *paths = kp_value_list();
		split_on(kp_map_get(opts, "files"), ",;", files);
		split_on(kp_map_get(opts, "paths"), ",:;", paths);
		const struct kp_value *sk = kp_map_get(opts, "skip");
		*skip = sk && kp_jinja_truthy(sk);
		if (kp_list_len(paths)) {
			for (size_t p = 0; p < kp_list_len(paths); p++)
				for (size_t f = 0; f < kp_list_len(files); f++) {
					struct kp_buf j = KP_BUF_INIT;
					const char *fn = kp_list_at(files, f)->u.str.s;
					if (fn[0] == '/')
						kp_buf_addstr(&j, fn);
					else
						kp_buf_addf(&j, "%s/%s",
							    kp_list_at(paths, p)->u.str.s, fn);
					kp_list_push_take(*search, kp_value_str(j.buf));
					kp_buf_release(&j);
				}
		} else if (kp_list_len(files)) {
			kp_value_unref(*search);
			*search = kp_value_ref(files);
		} else {
			kp_list_push(*search, t);
		}
		kp_value_unref(files);
		kp_value_unref(paths);
	}
	return KP_OK;
}

JL(first_found)
{
	struct kp_value *kw = kp_value_map(), *search = kp_value_list();
	if (argv[1])
		kp_map_set(kw, "files", argv[1]);
	if (argv[2])
		kp_map_set(kw, "paths", argv[2]);
	if (argv[3])
		kp_map_set(kw, "skip", argv[3]);
	bool skip = false;
	kp_rc rc = ff_terms(cx, argv[0], kw, &search, &skip);
	struct kp_buf path = KP_BUF_INIT;
	struct kp_value *l = NULL;
	for (size_t i = 0; i < kp_list_len(search) && !rc && !l; i++) {
		const struct kp_value *fn = kp_list_at(search, i);
		if (fn->type == KP_V_STR && find_in_search_path(cx, fn->u.str.s, &path)) {
			l = kp_value_list();
			kp_list_push_take(l, kp_value_str(path.buf));
		}
	}
	kp_buf_release(&path);
	kp_value_unref(kw);
	kp_value_unref(search);
	if (rc)
		return rc;
	if (!l && !skip)
		return kp_jinja_err(cx, KP_ERR_NOTFOUND,
				    "No file was found when using first_found.");
	*out = l ? l : kp_value_list();
	return KP_OK;
}
