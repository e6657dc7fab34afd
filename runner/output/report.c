/* report.c - the preview model of plan and check (see report.h); its
 * renderings are report_md.c's and report_json.c's. */
#include "output/report_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "core/kp.h"
#include "core/value.h"

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

static void row_release(struct kp_report_row *w)
{
	free(w->task);
	free(w->module);
	free(w->section);
	free(w->status);
	free(w->outcome);
	free(w->detail);
	free(w->item);
	free(w->delegated_to);
	free(w->diff);
}

void kp_report_release(struct kp_report *r)
{
	for (size_t p = 0; p < r->n; p++) {
		struct kp_report_play *pl = &r->plays[p];
		for (size_t b = 0; b < pl->n; b++) {
			struct kp_report_batch *ba = &pl->batches[b];
			for (size_t h = 0; h < ba->n; h++) {
				for (size_t i = 0; i < ba->hosts[h].n; i++)
					row_release(&ba->hosts[h].rows[i]);
				free(ba->hosts[h].rows);
				free(ba->hosts[h].name);
			}
			free(ba->hosts);
		}
		free(pl->batches);
		free(pl->name);
		free(pl->pattern);
		free(pl->settings);
		kp_strlist_release(&pl->handlers);
	}
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

static struct kp_report_host *batch_host(struct kp_report_batch *b, const char *name)
{
	for (size_t k = 0; k < b->n; k++) {
		size_t i = (b->hint + k) % b->n;
		if (!strcmp(b->hosts[i].name, name)) {
			b->hint = i + 1 < b->n ? i + 1 : 0;
			return &b->hosts[i];
		}
	}
	KP_GROW(b->hosts, b->n + 1, b->cap);
	struct kp_report_host *h = &b->hosts[b->n++];
	memset(h, 0, sizeof(*h));
	h->name = kp_xstrdup(name);
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
	for (size_t i = 0; i < nhosts; i++)
		batch_host(b, hosts[i]);
}

void kp_report_add(struct kp_report *r, const char *host, const struct kp_report_row *row)
{
	if (!r->n || !r->plays[r->n - 1].n)
		kp_report_batch(r, 1, 1, false, NULL, 0);
	struct kp_report_play *p = &r->plays[r->n - 1];
	struct kp_report_host *h = batch_host(&p->batches[p->n - 1], host);
	KP_GROW(h->rows, h->n + 1, h->cap);
	struct kp_report_row *w = &h->rows[h->n++];
	w->task = kp_xstrdup(row->task ? row->task : "");
	w->module = kp_xstrdup(row->module ? row->module : "");
	w->section = kp_xstrdup(row->section ? row->section : "tasks");
	w->status = kp_xstrdup(row->status ? row->status : "ok");
	w->no_log = row->no_log;
	w->outcome = kp_xstrdup(row->no_log    ? "<hidden by no_log>"
				: row->outcome ? row->outcome
					       : "");
	for (size_t n = strlen(w->outcome);
	     n && (w->outcome[n - 1] == '\n' || w->outcome[n - 1] == ' '); n--)
		w->outcome[n - 1] = 0; /* command output ends with a line break */
	w->detail = dup_or_null(row->detail);
	w->item =
	    row->no_log && row->item ? kp_xstrdup("<hidden by no_log>") : dup_or_null(row->item);
	w->delegated_to = dup_or_null(row->delegated_to);
	w->diff = row->no_log || !row->diff || !*row->diff ? NULL : kp_xstrdup(row->diff);
	w->pending = row->pending;
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
	size_t n = 0, cap = 0;
	for (size_t p = 0; p < r->n; p++)
		for (size_t b = 0; b < r->plays[p].n; b++) {
			const struct kp_report_batch *ba = &r->plays[p].batches[b];
			for (size_t h = 0; h < ba->n; h++) {
				size_t k;
				for (k = 0; k < n && strcmp(s[k].host, ba->hosts[h].name); k++)
					;
				if (k == n) {
					KP_GROW(s, n + 1, cap);
					memset(&s[n], 0, sizeof(s[n]));
					s[n++].host = ba->hosts[h].name;
				}
				for (size_t i = 0; i < ba->hosts[h].n; i++) {
					const struct kp_report_row *w = &ba->hosts[h].rows[i];
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
	*out = s;
	return n;
}

void kp_report_summary_free(struct kp_hostsum *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kp_strlist_release(&s[i].st);
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
