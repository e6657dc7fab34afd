/* report.c - the preview model of plan and check (see report.h); its
 * renderings are report_md.c's and report_json.c's. */
#include "output/report_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "core/kp.h"
#include "core/value.h"

struct kp_report_pool {
	char **str; /* open addressing, a power of two */
	size_t nstr, capstr;
	struct kp_report_row **row;
	size_t nrow, caprow;
};

static char *dup_or_null(const char *s)
{
	return s ? kp_xstrdup(s) : NULL;
}

void kp_report_init(struct kp_report *r, enum kp_report_mode mode, const char *plan,
		    const struct kp_strlist *inventories, const char *limit,
		    const struct kp_strlist *tags, const struct kp_strlist *skip_tags,
		    const struct kp_value *extra, bool diff)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->fold = true;
	r->pool = kp_xcalloc(1, sizeof(*r->pool));
	r->plan = kp_xstrdup(plan ? plan : "");
	for (size_t i = 0; inventories && i < inventories->n; i++)
		kp_strlist_push(&r->inventories, inventories->v[i]);
	r->limit = dup_or_null(limit);
	for (size_t i = 0; tags && i < tags->n; i++)
		kp_strlist_push(&r->tags, tags->v[i]);
	for (size_t i = 0; skip_tags && i < skip_tags->n; i++)
		kp_strlist_push(&r->skip_tags, skip_tags->v[i]);
	r->diff = diff;
	if (!extra || extra->type != KP_V_MAP)
		return;
	/* sorted by key: -e order is not part of what a review compares */
	size_t n = kp_map_len(extra);
	size_t *ord = kp_xcalloc(n ? n : 1, sizeof(*ord));
	for (size_t i = 0; i < n; i++) {
		size_t j = i;
		while (j && strcmp(kp_map_key(extra, ord[j - 1]), kp_map_key(extra, i)) > 0) {
			ord[j] = ord[j - 1];
			j--;
		}
		ord[j] = i;
	}
	for (size_t i = 0; i < n; i++) {
		const char *k = kp_map_key(extra, ord[i]);
		const struct kp_value *v = kp_map_val(extra, ord[i]);
		struct kp_buf b = KP_BUF_INIT;
		if (v->secret || kp_secret_name(k))
			kp_buf_addstr(&b, "<hidden>");
		else if (v->type == KP_V_STR)
			kp_buf_add(&b, v->u.str.s, v->u.str.len);
		else
			kp_value_to_json(v, true, false, &b);
		kp_strlist_push(&r->extra_keys, k);
		kp_strlist_push(&r->extra_vals, b.buf);
		kp_buf_release(&b);
	}
	free(ord);
}

/* The host's own name in a row's text, and a literal \x01. */
#define SELF_MARK "\x01\x02"
#define ESC_MARK  "\x01\x01"

static size_t hash_bytes(size_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211u;
	return h;
}

static size_t hash_str(const char *s)
{
	return hash_bytes(14695981039346656037u, s, strlen(s));
}

static void str_grow(struct kp_report_pool *p)
{
	size_t cap = p->capstr ? 2 * p->capstr : 1024;
	char **v = kp_xcalloc(cap, sizeof(*v));
	for (size_t i = 0; i < p->capstr; i++)
		if (p->str[i]) {
			size_t k = hash_str(p->str[i]) & (cap - 1);
			while (v[k])
				k = (k + 1) & (cap - 1);
			v[k] = p->str[i];
		}
	free(p->str);
	p->str = v;
	p->capstr = cap;
}

/* The pool's copy of s (NULL for NULL). */
static const char *intern(struct kp_report_pool *p, const char *s)
{
	if (!s)
		return NULL;
	if (2 * (p->nstr + 1) > p->capstr)
		str_grow(p);
	size_t k = hash_str(s) & (p->capstr - 1);
	for (; p->str[k]; k = (k + 1) & (p->capstr - 1))
		if (!strcmp(p->str[k], s))
			return p->str[k];
	p->nstr++;
	return p->str[k] = kp_xstrdup(s);
}

static size_t hash_row(const struct kp_report_row *w)
{
	const void *f[] = {w->task,   w->module, w->section,	  w->status, w->outcome,
			   w->detail, w->item,	 w->delegated_to, w->diff};
	size_t h = hash_bytes(14695981039346656037u, f, sizeof(f));
	return h ^ ((size_t)w->pending << 1) ^ (size_t)w->no_log;
}

static bool row_eq(const struct kp_report_row *a, const struct kp_report_row *b)
{
	return a->task == b->task && a->module == b->module && a->section == b->section &&
	       a->status == b->status && a->outcome == b->outcome && a->detail == b->detail &&
	       a->item == b->item && a->delegated_to == b->delegated_to && a->diff == b->diff &&
	       a->pending == b->pending && a->no_log == b->no_log;
}

/* The pool's row equal to w (whose strings are the pool's). */
static const struct kp_report_row *intern_row(struct kp_report_pool *p,
					      const struct kp_report_row *w)
{
	if (2 * (p->nrow + 1) > p->caprow) {
		size_t cap = p->caprow ? 2 * p->caprow : 1024;
		struct kp_report_row **v = kp_xcalloc(cap, sizeof(*v));
		for (size_t i = 0; i < p->caprow; i++)
			if (p->row[i]) {
				size_t k = hash_row(p->row[i]) & (cap - 1);
				while (v[k])
					k = (k + 1) & (cap - 1);
				v[k] = p->row[i];
			}
		free(p->row);
		p->row = v;
		p->caprow = cap;
	}
	size_t k = hash_row(w) & (p->caprow - 1);
	for (; p->row[k]; k = (k + 1) & (p->caprow - 1))
		if (row_eq(p->row[k], w))
			return p->row[k];
	p->nrow++;
	p->row[k] = kp_xmalloc(sizeof(*w));
	*p->row[k] = *w;
	return p->row[k];
}

static void pool_free(struct kp_report_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->capstr; i++)
		free(p->str[i]);
	for (size_t i = 0; i < p->caprow; i++)
		free(p->row[i]);
	free(p->str);
	free(p->row);
	free(p);
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

char *kp_report_marked(const char *host, const char *s)
{
	size_t hl = strlen(host);
	struct kp_buf b = KP_BUF_INIT;
	if (!hl)
		return kp_xstrdup(s);
	for (const char *c = s; *c;) {
		if (*c == '\x01') {
			kp_buf_addstr(&b, ESC_MARK);
			c++;
		} else if (!strncmp(c, host, hl) && (c == s || !name_char(c[-1])) &&
			   !name_char(c[hl])) {
			kp_buf_addstr(&b, SELF_MARK);
			c += hl;
		} else {
			kp_buf_addch(&b, *c++);
		}
	}
	return kp_buf_detach(&b, NULL);
}

/* s with host's name marked, interned. */
static const char *intern_marked(struct kp_report_pool *p, const char *host, const char *s)
{
	if (!s || !*host || (!strchr(s, '\x01') && !strstr(s, host)))
		return intern(p, s);
	char *m = kp_report_marked(host, s);
	const char *r = intern(p, m);
	free(m);
	return r;
}

/* s as host reads it: NULL when s has no marker (s itself is right). */
static char *expand(const char *host, const char *s)
{
	if (!s || !strchr(s, '\x01'))
		return NULL;
	struct kp_buf b = KP_BUF_INIT;
	for (const char *c = s; *c; c++) {
		if (*c != '\x01' || !c[1]) {
			kp_buf_addch(&b, *c);
			continue;
		}
		c++;
		if (*c == '\x02')
			kp_buf_addstr(&b, host);
		else
			kp_buf_addch(&b, *c);
	}
	return kp_buf_detach(&b, NULL);
}

void kp_report_expand(const struct kp_report_host *h, const struct kp_report_row *in,
		      struct kp_report_xrow *x)
{
	memset(x, 0, sizeof(*x));
	x->w = *in;
	char **f[] = {&x->w.task, &x->w.outcome,      &x->w.detail,
		      &x->w.item, &x->w.delegated_to, &x->w.diff};
	for (size_t i = 0; i < KP_ARRAY_LEN(f); i++)
		if ((x->own[i] = expand(h->name, *f[i])))
			*f[i] = x->own[i];
}

void kp_report_xrow_release(struct kp_report_xrow *x)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(x->own); i++)
		free(x->own[i]);
}

static size_t hash_host(const struct kp_report_host *h)
{
	return hash_bytes(14695981039346656037u, h->rows, h->n * sizeof(*h->rows));
}

void kp_report_fold_init(struct kp_report_fold *f, const struct kp_report_batch *b, bool fold)
{
	size_t n = b->n ? b->n : 1;
	f->first = kp_xcalloc(n, sizeof(*f->first));
	f->last = kp_xcalloc(n, sizeof(*f->last));
	f->size = kp_xcalloc(n, sizeof(*f->size));
	f->ngroups = 0;
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	size_t *slot = kp_xcalloc(cap, sizeof(*slot)); /* first host + 1, 0: empty */
	for (size_t h = 0; h < b->n; h++) {
		const struct kp_report_host *x = &b->hosts[h];
		size_t k = hash_host(x) & (cap - 1), g = h;
		for (; fold && slot[k]; k = (k + 1) & (cap - 1)) {
			const struct kp_report_host *y = &b->hosts[slot[k] - 1];
			if (y->n == x->n &&
			    (!x->n || !memcmp(y->rows, x->rows, x->n * sizeof(*x->rows)))) {
				g = slot[k] - 1;
				break;
			}
		}
		if (g == h) {
			if (fold)
				slot[k] = h + 1;
			f->ngroups++;
		}
		f->first[h] = g;
		f->last[g] = h;
		f->size[g]++;
	}
	free(slot);
}

void kp_report_fold_release(struct kp_report_fold *f)
{
	free(f->first);
	free(f->last);
	free(f->size);
	memset(f, 0, sizeof(*f));
}

void kp_report_count(size_t n, struct kp_buf *out)
{
	char d[32];
	int len = snprintf(d, sizeof(d), "%zu", n);
	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			kp_buf_addch(out, ',');
		kp_buf_addch(out, d[i]);
	}
}

void kp_report_fold_label(const struct kp_report_fold *f, const struct kp_report_batch *b,
			  size_t first, struct kp_buf *out)
{
	kp_buf_addstr(out, b->hosts[first].name);
	if (f->size[first] < 2)
		return;
	kp_buf_addf(out, " … %s (", b->hosts[f->last[first]].name);
	kp_report_count(f->size[first], out);
	kp_buf_addstr(out, " hosts)");
}

size_t kp_report_task_count(const struct kp_report_host *h)
{
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++)
		n += !i || h->rows[i]->task != h->rows[i - 1]->task ||
		     h->rows[i]->section != h->rows[i - 1]->section || !h->rows[i]->item;
	return n;
}

void kp_report_release(struct kp_report *r)
{
	for (size_t p = 0; p < r->n; p++) {
		struct kp_report_play *pl = &r->plays[p];
		for (size_t b = 0; b < pl->n; b++) {
			struct kp_report_batch *ba = &pl->batches[b];
			for (size_t h = 0; h < ba->n; h++)
				free(ba->hosts[h].rows);
			free(ba->hosts);
		}
		free(pl->batches);
		free(pl->name);
		free(pl->pattern);
		free(pl->settings);
		kp_strlist_release(&pl->handlers);
	}
	pool_free(r->pool);
	free(r->plays);
	free(r->plan);
	free(r->limit);
	free(r->stopped);
	kp_strlist_release(&r->inventories);
	kp_strlist_release(&r->tags);
	kp_strlist_release(&r->skip_tags);
	kp_strlist_release(&r->extra_keys);
	kp_strlist_release(&r->extra_vals);
	memset(r, 0, sizeof(*r));
}

void kp_report_play(struct kp_report *r, size_t index, size_t count, const char *name,
		    const char *pattern, const char *settings, size_t nhosts)
{
	KP_GROW(r->plays, r->n + 1, r->cap);
	struct kp_report_play *p = &r->plays[r->n++];
	memset(p, 0, sizeof(*p));
	p->index = index;
	p->count = count;
	p->name = kp_xstrdup(name ? name : "");
	p->pattern = kp_xstrdup(pattern ? pattern : "");
	p->settings = dup_or_null(settings);
	p->nhosts = nhosts;
}

void kp_report_play_confirm(struct kp_report *r)
{
	if (r->n)
		r->plays[r->n - 1].confirm = true;
}

void kp_report_play_handler(struct kp_report *r, const char *text)
{
	if (r->n)
		kp_strlist_push(&r->plays[r->n - 1].handlers, text);
}

static struct kp_report_host *batch_host(struct kp_report *r, struct kp_report_batch *b,
					 const char *name)
{
	/* the host of the last row, else the next one: one look each */
	for (size_t k = 0; k < b->n; k++) {
		size_t i = (b->hint + k) % b->n;
		if (!strcmp(b->hosts[i].name, name)) {
			b->hint = i;
			return &b->hosts[i];
		}
	}
	KP_GROW(b->hosts, b->n + 1, b->cap);
	struct kp_report_host *h = &b->hosts[b->n++];
	memset(h, 0, sizeof(*h));
	h->name = intern(r->pool, name);
	return h;
}

void kp_report_batch(struct kp_report *r, size_t index, size_t count, bool window,
		     const char *const *hosts, size_t nhosts)
{
	if (!r->n) /* results before any play: an anonymous one holds them */
		kp_report_play(r, 1, 1, "", "", NULL, nhosts);
	struct kp_report_play *p = &r->plays[r->n - 1];
	KP_GROW(p->batches, p->n + 1, p->cap);
	struct kp_report_batch *b = &p->batches[p->n++];
	memset(b, 0, sizeof(*b));
	b->index = index;
	b->count = count;
	b->window = window;
	/* a batch's hosts are distinct: no look-up */
	b->hosts = kp_xcalloc(nhosts ? nhosts : 1, sizeof(*b->hosts));
	b->cap = nhosts ? nhosts : 1;
	for (size_t i = 0; i < nhosts; i++)
		b->hosts[b->n++].name = intern(r->pool, hosts[i]);
}

void kp_report_add(struct kp_report *r, const char *host, const struct kp_report_row *row)
{
	if (!r->n || !r->plays[r->n - 1].n)
		kp_report_batch(r, 1, 1, false, NULL, 0);
	struct kp_report_play *p = &r->plays[r->n - 1];
	struct kp_report_host *h = batch_host(r, &p->batches[p->n - 1], host);
	struct kp_report_pool *pool = r->pool;
	struct kp_report_row w = {0};
	w.task = (char *)intern_marked(pool, h->name, row->task ? row->task : "");
	w.module = (char *)intern(pool, row->module ? row->module : "");
	w.section = (char *)intern(pool, row->section ? row->section : "tasks");
	w.status = (char *)intern(pool, row->status ? row->status : "ok");
	w.no_log = row->no_log;
	struct kp_buf o = KP_BUF_INIT;
	kp_buf_addstr(&o, row->no_log ? "<hidden by no_log>" : row->outcome ? row->outcome : "");
	while (o.len && (o.buf[o.len - 1] == '\n' || o.buf[o.len - 1] == ' '))
		kp_buf_setlen(&o, o.len - 1); /* command output ends with a line break */
	w.outcome = (char *)intern_marked(pool, h->name, o.buf);
	kp_buf_release(&o);
	w.detail = (char *)intern_marked(pool, h->name, row->detail);
	w.item = (char *)intern_marked(pool, h->name,
				       row->no_log && row->item ? "<hidden by no_log>" : row->item);
	w.delegated_to = (char *)intern_marked(pool, h->name, row->delegated_to);
	w.diff = row->no_log || !row->diff || !*row->diff
		     ? NULL
		     : (char *)intern_marked(pool, h->name, row->diff);
	w.pending = row->pending;
	KP_GROW(h->rows, h->n + 1, h->cap);
	h->rows[h->n++] = intern_row(pool, &w);
}

void kp_report_stopped(struct kp_report *r, const char *reason)
{
	free(r->stopped);
	r->stopped = dup_or_null(reason);
}

bool kp_report_row_blocking(const struct kp_report_row *row)
{
	return !strcmp(row->status, "failed") || !strcmp(row->status, "unreachable");
}

bool kp_report_row_unknown(const struct kp_report_row *w)
{
	return !strcmp(w->status, "conditional") || !strcmp(w->status, "unknown-loop") ||
	       strstr(w->outcome, "<unknown") || strstr(w->outcome, KP_UNKNOWN_TEXT);
}

size_t kp_report_summarize(const struct kp_report *r, struct kp_hostsum **out)
{
	struct kp_hostsum *s = NULL;
	size_t n = 0, cap = 0, tcap = 1024;
	size_t *slot = kp_xcalloc(tcap, sizeof(*slot)); /* index + 1, by interned name */
	for (size_t p = 0; p < r->n; p++)
		for (size_t b = 0; b < r->plays[p].n; b++) {
			const struct kp_report_batch *ba = &r->plays[p].batches[b];
			for (size_t h = 0; h < ba->n; h++) {
				const char *name = ba->hosts[h].name;
				size_t at = hash_bytes(14695981039346656037u, &name, sizeof(name));
				size_t at_i = at & (tcap - 1);
				while (slot[at_i] && s[slot[at_i] - 1].host != name)
					at_i = (at_i + 1) & (tcap - 1);
				size_t k = slot[at_i] ? slot[at_i] - 1 : n;
				if (k == n) {
					KP_GROW(s, n + 1, cap);
					memset(&s[n], 0, sizeof(s[n]));
					s[n++].host = name;
					slot[at_i] = n;
					if (2 * n > tcap) {
						free(slot);
						tcap *= 2;
						slot = kp_xcalloc(tcap, sizeof(*slot));
						for (size_t j = 0; j < n; j++) {
							const char *nm = s[j].host;
							size_t q = hash_bytes(14695981039346656037u,
									      &nm, sizeof(nm)) &
								   (tcap - 1);
							while (slot[q])
								q = (q + 1) & (tcap - 1);
							slot[q] = j + 1;
						}
					}
				}
				if (s[k].nent == s[k].capent) {
					s[k].capent = s[k].capent ? 2 * s[k].capent : 4;
					s[k].bat =
					    kp_xrealloc(s[k].bat, s[k].capent * sizeof(*s[k].bat));
					s[k].ent =
					    kp_xrealloc(s[k].ent, s[k].capent * sizeof(*s[k].ent));
				}
				s[k].bat[s[k].nent] = ba;
				s[k].ent[s[k].nent++] = &ba->hosts[h];
				for (size_t i = 0; i < ba->hosts[h].n; i++) {
					const struct kp_report_row *w = ba->hosts[h].rows[i];
					s[k].rows++;
					s[k].pending += w->pending;
					s[k].unknown += kp_report_row_unknown(w);
					s[k].blocking += kp_report_row_blocking(w);
					size_t j;
					for (j = 0;
					     j < s[k].st.n && strcmp(s[k].st.v[j], w->status); j++)
						;
					if (j == s[k].st.n) {
						if (j >= KP_ARRAY_LEN(s[k].stn))
							continue;
						kp_strlist_push(&s[k].st, w->status);
					}
					s[k].stn[j]++;
				}
			}
		}
	free(slot);
	*out = s;
	return n;
}

bool kp_report_same_host(const struct kp_hostsum *a, const struct kp_hostsum *b)
{
	if (a->nent != b->nent)
		return false;
	for (size_t i = 0; i < a->nent; i++)
		if (a->bat[i] != b->bat[i] || a->ent[i]->n != b->ent[i]->n ||
		    (a->ent[i]->n && memcmp(a->ent[i]->rows, b->ent[i]->rows,
					    a->ent[i]->n * sizeof(*a->ent[i]->rows))))
			return false;
	return true;
}

void kp_report_summary_free(struct kp_hostsum *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kp_strlist_release(&s[i].st);
		free(s[i].bat);
		free(s[i].ent);
	}
	free(s);
}

size_t kp_report_pending(const struct kp_report *r, size_t *nhosts)
{
	struct kp_hostsum *s;
	size_t n = kp_report_summarize(r, &s), total = 0, hosts = 0;
	for (size_t i = 0; i < n; i++) {
		total += s[i].pending;
		hosts += s[i].pending > 0;
	}
	kp_report_summary_free(s, n);
	if (nhosts)
		*nhosts = hosts;
	return total;
}
