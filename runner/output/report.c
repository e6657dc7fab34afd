/* report.c - the preview model of plan and check, and its markdown and JSON
 * renderings; see report.h. */
#include "output/report.h"

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

static bool secret_key(const char *k)
{
	size_t n = strlen(k);
	return n >= 9 && !strcmp(k + n - 9, "_password");
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
		if (v->secret || secret_key(k))
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

static bool row_unknown(const struct kp_report_row *w)
{
	return !strcmp(w->status, "conditional") || !strcmp(w->status, "unknown-loop") ||
	       strstr(w->outcome, "<unknown") || strstr(w->outcome, KP_UNKNOWN_TEXT);
}

/* Per host over the whole report, in order of first appearance. */
struct hostsum {
	const char *host;
	size_t pending, unknown, blocking, rows;
	struct kp_strlist st; /* status names, in first-seen order */
	size_t stn[16];
};

static size_t summarize(const struct kp_report *r, struct hostsum **out)
{
	struct hostsum *s = NULL;
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
					s[k].unknown += row_unknown(w);
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

static void summary_free(struct hostsum *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kp_strlist_release(&s[i].st);
	free(s);
}

size_t kp_report_pending(const struct kp_report *r, size_t *nhosts)
{
	struct hostsum *s;
	size_t n = summarize(r, &s), total = 0, hosts = 0;
	for (size_t i = 0; i < n; i++) {
		total += s[i].pending;
		hosts += s[i].pending > 0;
	}
	summary_free(s, n);
	if (nhosts)
		*nhosts = hosts;
	return total;
}

/* ---- markdown -------------------------------------------------------------------- */

/* Text in a paragraph or table cell: markdown punctuation escaped, HTML
 * special characters as entities (so <known after probe> stays visible),
 * line breaks as spaces. */
static void md_text(struct kp_buf *o, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			kp_buf_addstr(o, "&lt;");
			break;
		case '>':
			kp_buf_addstr(o, "&gt;");
			break;
		case '&':
			kp_buf_addstr(o, "&amp;");
			break;
		case '\n':
		case '\r':
		case '\t':
			kp_buf_addch(o, ' ');
			break;
		case '\\':
		case '`':
		case '*':
		case '_':
		case '[':
		case ']':
		case '|':
		case '#':
		case '~':
			kp_buf_addch(o, '\\');
			kp_buf_addch(o, *s);
			break;
		default:
			kp_buf_addch(o, *s);
		}
	}
}

/* Raw HTML text (a <summary>): only the HTML specials. */
static void html_text(struct kp_buf *o, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '<')
			kp_buf_addstr(o, "&lt;");
		else if (*s == '>')
			kp_buf_addstr(o, "&gt;");
		else if (*s == '&')
			kp_buf_addstr(o, "&amp;");
		else if (*s == '\n')
			kp_buf_addch(o, ' ');
		else
			kp_buf_addch(o, *s);
	}
}

static size_t longest_run(const char *s, char c)
{
	size_t best = 0, cur = 0;
	for (; s && *s; s++) {
		cur = *s == c ? cur + 1 : 0;
		if (cur > best)
			best = cur;
	}
	return best;
}

/* A code span that survives a table cell (GFM: pipes escaped even here). */
static void md_code(struct kp_buf *o, const char *s)
{
	size_t n = longest_run(s, '`') + 1;
	for (size_t i = 0; i < n; i++)
		kp_buf_addch(o, '`');
	bool pad = n > 1 || (s && (*s == ' ' || *s == '`'));
	if (pad)
		kp_buf_addch(o, ' ');
	for (const char *p = s; p && *p; p++) {
		if (*p == '|')
			kp_buf_addstr(o, "\\|");
		else if (*p == '\n' || *p == '\r')
			kp_buf_addch(o, ' ');
		else
			kp_buf_addch(o, *p);
	}
	if (pad)
		kp_buf_addch(o, ' ');
	for (size_t i = 0; i < n; i++)
		kp_buf_addch(o, '`');
}

static void md_fence(struct kp_buf *o, const char *lang, const char *text, const char *indent)
{
	size_t n = longest_run(text, '`') + 1;
	if (n < 3)
		n = 3;
	kp_buf_addstr(o, indent);
	for (size_t i = 0; i < n; i++)
		kp_buf_addch(o, '`');
	kp_buf_addf(o, "%s\n", lang);
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		kp_buf_addstr(o, indent);
		kp_buf_add(o, p, len);
		kp_buf_addch(o, '\n');
		p = nl ? nl + 1 : p + len;
	}
	kp_buf_addstr(o, indent);
	for (size_t i = 0; i < n; i++)
		kp_buf_addch(o, '`');
	kp_buf_addch(o, '\n');
}

enum { SHORT_MAX = 100 };

static bool is_long(const char *s)
{
	return strchr(s, '\n') || strlen(s) > SHORT_MAX;
}

/* The head of a long text for a table cell: its first line, cut at the
 * first ": " (a drain's "would evict 5 pods: a, b, ...") or before
 * SHORT_MAX bytes on a character boundary. */
static void short_form(const char *s, struct kp_buf *o)
{
	size_t n = strcspn(s, "\n");
	const char *colon = strstr(s, ": ");
	if (colon && (size_t)(colon - s) < n && colon - s >= 10 && colon - s <= SHORT_MAX)
		n = (size_t)(colon - s);
	if (n > SHORT_MAX) {
		n = SHORT_MAX;
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	kp_buf_add(o, s, n);
	kp_buf_addstr(o, " …");
}

static const char *status_word(const struct kp_report *r, const struct kp_report_row *w)
{
	if (r->mode == KP_REPORT_CHECK) {
		if (!strcmp(w->status, "changed"))
			return "**would change**";
		if (!strcmp(w->status, "ok"))
			return "no change";
		if (!strcmp(w->status, "failed"))
			return "**BLOCKED**";
		if (!strcmp(w->status, "unreachable"))
			return "**UNREACHABLE**";
		return w->status;
	}
	if (!strcmp(w->status, "runs"))
		return w->pending ? "**runs**" : "runs (read-only)";
	if (!strcmp(w->status, "conditional"))
		return w->pending ? "**runs if**" : "runs if (read-only)";
	if (!strcmp(w->status, "shared"))
		return "run_once";
	if (!strcmp(w->status, "unknown-loop"))
		return "loop";
	return w->status;
}

static void md_scope(const struct kp_report *r, struct kp_buf *o)
{
	kp_buf_addstr(o, "| scope | |\n|---|---|\n| plan | ");
	md_code(o, r->plan);
	kp_buf_addstr(o, " |\n| inventory | ");
	for (size_t i = 0; i < r->inventories.n; i++) {
		if (i)
			kp_buf_addstr(o, ", ");
		md_code(o, r->inventories.v[i]);
	}
	kp_buf_addstr(o, " |\n| limit | ");
	if (r->limit)
		md_code(o, r->limit);
	else
		kp_buf_addstr(o, "none (every host of each play)");
	kp_buf_addstr(o, " |\n");
	if (r->tags.n || r->skip_tags.n) {
		kp_buf_addstr(o, "| tags | ");
		for (size_t i = 0; i < r->tags.n; i++) {
			kp_buf_addstr(o, i ? ", " : "only ");
			md_code(o, r->tags.v[i]);
		}
		for (size_t i = 0; i < r->skip_tags.n; i++) {
			kp_buf_addstr(o, i ? ", " : r->tags.n ? "; skip " : "skip ");
			md_code(o, r->skip_tags.v[i]);
		}
		kp_buf_addstr(o, " |\n");
	}
	kp_buf_addstr(o, "| extra vars | ");
	for (size_t i = 0; i < r->extra_keys.n; i++) {
		struct kp_buf kv = KP_BUF_INIT;
		kp_buf_addf(&kv, "%s=%s", r->extra_keys.v[i], r->extra_vals.v[i]);
		if (i)
			kp_buf_addstr(o, ", ");
		md_code(o, kv.buf);
		kp_buf_release(&kv);
	}
	if (!r->extra_keys.n)
		kp_buf_addstr(o, "none");
	kp_buf_addstr(o, " |\n| mode | ");
	if (r->mode == KP_REPORT_PLAN)
		kp_buf_addstr(o, "offline plan: no host was contacted; what only a probe can tell "
				 "shows as `<known after probe>`");
	else
		kp_buf_addstr(o, "check: every module's read-only probe ran; nothing was changed");
	kp_buf_addstr(o, " |\n\n");
}

static void md_blocking(const struct kp_report *r, struct kp_buf *o)
{
	size_t n = 0;
	kp_buf_addstr(o, "## Blocking problems\n\n");
	for (size_t p = 0; p < r->n; p++)
		for (size_t b = 0; b < r->plays[p].n; b++) {
			const struct kp_report_batch *ba = &r->plays[p].batches[b];
			for (size_t h = 0; h < ba->n; h++)
				for (size_t i = 0; i < ba->hosts[h].n; i++) {
					const struct kp_report_row *w = &ba->hosts[h].rows[i];
					if (!kp_report_row_blocking(w))
						continue;
					n++;
					kp_buf_addstr(o, "- **");
					md_text(o, ba->hosts[h].name);
					kp_buf_addf(o, "** (play %zu, batch %zu/%zu), ",
						    r->plays[p].index, ba->index, ba->count);
					md_text(o, w->task);
					kp_buf_addstr(o, " ");
					md_code(o, w->module);
					kp_buf_addf(o, ": %s", w->status);
					if (!strchr(w->outcome, '\n')) {
						kp_buf_addstr(o, ": ");
						md_text(o, w->outcome);
						kp_buf_addstr(o, "\n");
					} else {
						kp_buf_addstr(o, ":\n\n");
						md_fence(o, "text", w->outcome, "  ");
						kp_buf_addstr(o, "\n");
					}
				}
		}
	if (r->stopped) {
		kp_buf_addstr(o, "- **the run would stop here**: ");
		md_text(o, strncmp(r->stopped, "stopped: ", 9) ? r->stopped : r->stopped + 9);
		kp_buf_addstr(o, "; later tasks and batches were not probed\n");
		n++;
	}
	if (!n)
		kp_buf_addstr(
		    o, r->mode == KP_REPORT_PLAN
			   ? "None can be known offline: version skews, PodDisruptionBudgets "
			     "and unreachable nodes are found by `kplan check`.\n"
			   : "None found.\n");
	kp_buf_addstr(o, "\n");
}

static void md_summary(const struct kp_report *r, struct kp_buf *o)
{
	struct hostsum *s;
	size_t n = summarize(r, &s), total = 0, hosts = 0;
	kp_buf_addstr(o, "## Summary\n\n");
	if (!n) {
		kp_buf_addstr(o, "No host matched any play.\n\n");
		summary_free(s, n);
		return;
	}
	kp_buf_addf(o, "| host | %s | unknown until earlier steps ran | blocking | tasks |\n",
		    r->mode == KP_REPORT_PLAN ? "would change" : "would change");
	kp_buf_addstr(o, "|---|---:|---:|---:|---|\n");
	for (size_t i = 0; i < n; i++) {
		total += s[i].pending;
		hosts += s[i].pending > 0;
		kp_buf_addstr(o, "| ");
		md_text(o, s[i].host);
		kp_buf_addf(o, " | %zu | %zu | %zu | ", s[i].pending, s[i].unknown, s[i].blocking);
		for (size_t k = 0; k < s[i].st.n; k++)
			kp_buf_addf(o, "%s%s %zu", k ? ", " : "", s[i].st.v[k], s[i].stn[k]);
		kp_buf_addstr(o, " |\n");
	}
	if (total)
		kp_buf_addf(o, "\n**%zu change%s pending on %zu host%s.**\n\n", total,
			    total == 1 ? "" : "s", hosts, hosts == 1 ? "" : "s");
	else
		kp_buf_addstr(o, "\n**No changes pending.**\n\n");
	if (r->stopped)
		kp_buf_addstr(o, "The check stopped early (see the blocking problems): what comes "
				 "after was not probed.\n\n");
	summary_free(s, n);
}

static void md_host(const struct kp_report *r, const struct kp_report_host *h, struct kp_buf *o)
{
	kp_buf_addstr(o, "#### ");
	md_text(o, h->name);
	kp_buf_addstr(o, "\n\n");
	if (!h->n) {
		kp_buf_addstr(
		    o, r->mode == KP_REPORT_CHECK
			   ? "No task ran on this host (it failed or the run stopped before)."
			   : "No task selected for this host.");
		kp_buf_addstr(o, "\n\n");
		return;
	}
	bool plan = r->mode == KP_REPORT_PLAN;
	kp_buf_addf(o, "| # | task | module | %s | %s |\n|---:|---|---|---|---|\n",
		    plan ? "runs" : "prediction", plan ? "arguments" : "before → after");
	size_t ndetails = 0;
	/* conditions only a probe can decide are long and shared by a block's
	 * tasks: each is listed once under the table and referred to by number */
	struct kp_strlist conds = {0};
	for (size_t i = 0; i < h->n; i++) {
		const struct kp_report_row *w = &h->rows[i];
		kp_buf_addf(o, "| %zu | ", i + 1);
		md_text(o, w->task);
		if (w->item) {
			kp_buf_addstr(o, " (item ");
			md_text(o, w->item);
			kp_buf_addstr(o, ")");
		}
		if (w->delegated_to) {
			kp_buf_addstr(o, " (on ");
			md_text(o, w->delegated_to);
			kp_buf_addstr(o, ")");
		}
		if (strcmp(w->section, "tasks")) {
			kp_buf_addstr(o, " *(");
			md_text(o, w->section);
			kp_buf_addstr(o, ")*");
		}
		kp_buf_addstr(o, " | ");
		md_code(o, w->module);
		kp_buf_addf(o, " | %s", status_word(r, w));
		if (w->detail && !strcmp(w->status, "conditional")) {
			size_t k;
			for (k = 0; k < conds.n && strcmp(conds.v[k], w->detail); k++)
				;
			if (k == conds.n)
				kp_strlist_push(&conds, w->detail);
			kp_buf_addf(o, " condition %zu", k + 1);
		} else if (w->detail) {
			kp_buf_addstr(o, " ");
			md_code(o, w->detail);
		}
		kp_buf_addstr(o, " | ");
		bool details = (is_long(w->outcome) && !w->no_log) || w->diff;
		if (is_long(w->outcome)) {
			struct kp_buf sf = KP_BUF_INIT;
			short_form(w->outcome, &sf);
			plan ? md_code(o, sf.buf) : md_text(o, sf.buf);
			kp_buf_release(&sf);
		} else if (*w->outcome) {
			plan ? md_code(o, w->outcome) : md_text(o, w->outcome);
		}
		if (w->diff)
			kp_buf_addstr(o, " (diff below)");
		else if (details)
			kp_buf_addstr(o, " (in full below)");
		kp_buf_addstr(o, " |\n");
		ndetails += details;
	}
	kp_buf_addstr(o, "\n");
	if (conds.n) {
		kp_buf_addstr(o, "Conditions only a probe can decide:\n\n");
		for (size_t k = 0; k < conds.n; k++) {
			kp_buf_addf(o, "%zu. ", k + 1);
			md_code(o, conds.v[k]);
			kp_buf_addstr(o, "\n");
		}
		kp_buf_addstr(o, "\n");
	}
	kp_strlist_release(&conds);
	if (!ndetails)
		return;
	for (size_t i = 0; i < h->n; i++) {
		const struct kp_report_row *w = &h->rows[i];
		if (w->no_log)
			continue;
		if (is_long(w->outcome)) {
			kp_buf_addf(o, "<details><summary>%s #%zu ", h->name, i + 1);
			html_text(o, w->task);
			kp_buf_addstr(o, ": in full</summary>\n\n");
			md_fence(o, "text", w->outcome, "");
			kp_buf_addstr(o, "\n</details>\n\n");
		}
		if (w->diff) {
			kp_buf_addf(o, "<details><summary>%s #%zu ", h->name, i + 1);
			html_text(o, w->task);
			kp_buf_addstr(o, ": diff</summary>\n\n");
			md_fence(o, "diff", w->diff, "");
			kp_buf_addstr(o, "\n</details>\n\n");
		}
	}
}

void kp_report_markdown(const struct kp_report *r, struct kp_buf *o)
{
	kp_buf_addf(o, "# kplan %s: ", r->mode == KP_REPORT_PLAN ? "plan" : "check");
	md_text(o, r->plan);
	kp_buf_addstr(o, "\n\n");
	md_scope(r, o);
	md_blocking(r, o);
	md_summary(r, o);
	for (size_t p = 0; p < r->n; p++) {
		const struct kp_report_play *pl = &r->plays[p];
		kp_buf_addf(o, "## Play %zu/%zu: ", pl->index, pl->count);
		md_text(o, *pl->name ? pl->name : pl->pattern);
		kp_buf_addstr(o, "\n\nhosts: ");
		md_code(o, pl->pattern);
		kp_buf_addf(o, " (%zu host%s)", pl->nhosts, pl->nhosts == 1 ? "" : "s");
		if (pl->settings) {
			kp_buf_addstr(o, "; ");
			md_text(o, pl->settings);
		}
		kp_buf_addstr(o, "\n\n");
		if (pl->confirm)
			kp_buf_addstr(o, "The run asks for confirmation before each batch "
					 "(`confirm: true`); this preview did not ask.\n\n");
		if (!pl->n) {
			kp_buf_addstr(o, r->mode == KP_REPORT_CHECK && !pl->nhosts
					     ? "No hosts matched: play skipped.\n\n"
					 : pl->nhosts ? "Not reached.\n\n"
						      : "No hosts matched: play skipped.\n\n");
			continue;
		}
		kp_buf_addstr(o, "Batches in order:\n\n");
		for (size_t b = 0; b < pl->n; b++) {
			const struct kp_report_batch *ba = &pl->batches[b];
			kp_buf_addf(o, "%zu. ", b + 1);
			for (size_t h = 0; h < ba->n; h++) {
				if (h)
					kp_buf_addstr(o, ", ");
				md_text(o, ba->hosts[h].name);
			}
			kp_buf_addstr(o, "\n");
		}
		kp_buf_addstr(o, "\n");
		for (size_t b = 0; b < pl->n; b++) {
			const struct kp_report_batch *ba = &pl->batches[b];
			if (ba->window)
				kp_buf_addf(o, "### Sliding window over %zu hosts\n\n", ba->n);
			else
				kp_buf_addf(o, "### Batch %zu/%zu\n\n", ba->index, ba->count);
			for (size_t h = 0; h < ba->n; h++)
				md_host(r, &ba->hosts[h], o);
		}
		if (pl->handlers.n) {
			kp_buf_addstr(o, "Handlers (run at the end of each section on hosts that "
					 "notified them):\n\n");
			for (size_t i = 0; i < pl->handlers.n; i++) {
				kp_buf_addstr(o, "- ");
				md_text(o, pl->handlers.v[i]);
				kp_buf_addstr(o, "\n");
			}
			kp_buf_addstr(o, "\n");
		}
	}
}

/* ---- JSON -------------------------------------------------------------------------- */

static void add_str_or_null(cJSON *j, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(j, k, v);
	else
		cJSON_AddNullToObject(j, k);
}

static cJSON *strlist_json(const struct kp_strlist *l)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
	return a;
}

static cJSON *row_json(const struct kp_report_row *w)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "task", w->task);
	cJSON_AddStringToObject(j, "module", w->module);
	cJSON_AddStringToObject(j, "section", w->section);
	cJSON_AddStringToObject(j, "status", w->status);
	cJSON_AddStringToObject(j, "outcome", w->outcome);
	add_str_or_null(j, "detail", w->detail);
	add_str_or_null(j, "item", w->item);
	add_str_or_null(j, "delegated_to", w->delegated_to);
	add_str_or_null(j, "diff", w->diff);
	cJSON_AddBoolToObject(j, "pending", w->pending);
	cJSON_AddBoolToObject(j, "unknown", row_unknown(w));
	cJSON_AddBoolToObject(j, "blocking", kp_report_row_blocking(w));
	cJSON_AddBoolToObject(j, "no_log", w->no_log);
	return j;
}

/* Compact JSON re-indented with two spaces: easier to review and diff than
 * cJSON's tab layout. Empty arrays and objects stay "[]" and "{}". */
static void pretty(const char *s, struct kp_buf *o)
{
	int depth = 0;
	bool str = false;
	for (const char *p = s; *p; p++) {
		char ch = *p;
		if (str) {
			kp_buf_addch(o, ch);
			if (ch == '\\' && p[1])
				kp_buf_addch(o, *++p);
			else if (ch == '"')
				str = false;
			continue;
		}
		switch (ch) {
		case '"':
			str = true;
			kp_buf_addch(o, ch);
			break;
		case '{':
		case '[':
			if (p[1] == (ch == '{' ? '}' : ']')) {
				kp_buf_addch(o, ch);
				kp_buf_addch(o, *++p);
				break;
			}
			kp_buf_addch(o, ch);
			depth++;
			kp_buf_addf(o, "\n%*s", depth * 2, "");
			break;
		case '}':
		case ']':
			depth--;
			kp_buf_addf(o, "\n%*s%c", depth * 2, "", ch);
			break;
		case ',':
			kp_buf_addf(o, ",\n%*s", depth * 2, "");
			break;
		case ':':
			kp_buf_addstr(o, ": ");
			break;
		default:
			kp_buf_addch(o, ch);
		}
	}
}

void kp_report_json(const struct kp_report *r, struct kp_buf *out)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "format", "kplan-preview");
	cJSON_AddNumberToObject(j, "version", 1);
	cJSON_AddStringToObject(j, "mode", r->mode == KP_REPORT_PLAN ? "plan" : "check");

	cJSON *scope = cJSON_AddObjectToObject(j, "scope");
	cJSON_AddStringToObject(scope, "plan", r->plan);
	cJSON_AddItemToObject(scope, "inventories", strlist_json(&r->inventories));
	add_str_or_null(scope, "limit", r->limit);
	cJSON_AddItemToObject(scope, "tags", strlist_json(&r->tags));
	cJSON_AddItemToObject(scope, "skip_tags", strlist_json(&r->skip_tags));
	cJSON *ev = cJSON_AddObjectToObject(scope, "extra_vars");
	for (size_t i = 0; i < r->extra_keys.n; i++)
		cJSON_AddStringToObject(ev, r->extra_keys.v[i], r->extra_vals.v[i]);
	cJSON_AddBoolToObject(scope, "diff", r->diff);

	cJSON *blocking = cJSON_AddArrayToObject(j, "blocking");
	for (size_t p = 0; p < r->n; p++)
		for (size_t b = 0; b < r->plays[p].n; b++) {
			const struct kp_report_batch *ba = &r->plays[p].batches[b];
			for (size_t h = 0; h < ba->n; h++)
				for (size_t i = 0; i < ba->hosts[h].n; i++) {
					const struct kp_report_row *w = &ba->hosts[h].rows[i];
					if (!kp_report_row_blocking(w))
						continue;
					cJSON *x = cJSON_CreateObject();
					cJSON_AddNumberToObject(x, "play",
								(double)r->plays[p].index);
					cJSON_AddNumberToObject(x, "batch", (double)ba->index);
					cJSON_AddStringToObject(x, "host", ba->hosts[h].name);
					cJSON_AddStringToObject(x, "task", w->task);
					cJSON_AddStringToObject(x, "module", w->module);
					cJSON_AddStringToObject(x, "status", w->status);
					cJSON_AddStringToObject(x, "message", w->outcome);
					cJSON_AddItemToArray(blocking, x);
				}
		}
	add_str_or_null(j, "stopped", r->stopped);

	struct hostsum *s;
	size_t n = summarize(r, &s), total = 0, hosts = 0;
	cJSON *sum = cJSON_AddObjectToObject(j, "summary");
	cJSON *sh = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		total += s[i].pending;
		hosts += s[i].pending > 0;
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "host", s[i].host);
		cJSON_AddNumberToObject(x, "pending", (double)s[i].pending);
		cJSON_AddNumberToObject(x, "unknown", (double)s[i].unknown);
		cJSON_AddNumberToObject(x, "blocking", (double)s[i].blocking);
		cJSON *st = cJSON_AddObjectToObject(x, "statuses");
		for (size_t k = 0; k < s[i].st.n; k++)
			cJSON_AddNumberToObject(st, s[i].st.v[k], (double)s[i].stn[k]);
		cJSON_AddItemToArray(sh, x);
	}
	summary_free(s, n);
	cJSON_AddBoolToObject(sum, "changes_pending", total > 0);
	cJSON_AddNumberToObject(sum, "pending", (double)total);
	cJSON_AddNumberToObject(sum, "hosts_with_changes", (double)hosts);
	cJSON_AddItemToObject(sum, "hosts", sh);

	cJSON *plays = cJSON_AddArrayToObject(j, "plays");
	for (size_t p = 0; p < r->n; p++) {
		const struct kp_report_play *pl = &r->plays[p];
		cJSON *x = cJSON_CreateObject();
		cJSON_AddNumberToObject(x, "index", (double)pl->index);
		cJSON_AddNumberToObject(x, "count", (double)pl->count);
		cJSON_AddStringToObject(x, "name", pl->name);
		cJSON_AddStringToObject(x, "hosts", pl->pattern);
		cJSON_AddNumberToObject(x, "host_count", (double)pl->nhosts);
		add_str_or_null(x, "settings", pl->settings);
		cJSON_AddBoolToObject(x, "confirm", pl->confirm);
		cJSON_AddItemToObject(x, "handlers", strlist_json(&pl->handlers));
		cJSON *bs = cJSON_AddArrayToObject(x, "batches");
		for (size_t b = 0; b < pl->n; b++) {
			const struct kp_report_batch *ba = &pl->batches[b];
			cJSON *bj = cJSON_CreateObject();
			cJSON_AddNumberToObject(bj, "index", (double)ba->index);
			cJSON_AddNumberToObject(bj, "count", (double)ba->count);
			cJSON_AddBoolToObject(bj, "window", ba->window);
			cJSON *hs = cJSON_AddArrayToObject(bj, "hosts");
			for (size_t h = 0; h < ba->n; h++) {
				cJSON *hj = cJSON_CreateObject();
				cJSON_AddStringToObject(hj, "host", ba->hosts[h].name);
				cJSON *ts = cJSON_AddArrayToObject(hj, "tasks");
				for (size_t i = 0; i < ba->hosts[h].n; i++)
					cJSON_AddItemToArray(ts, row_json(&ba->hosts[h].rows[i]));
				cJSON_AddItemToArray(hs, hj);
			}
			cJSON_AddItemToArray(bs, bj);
		}
		cJSON_AddItemToArray(plays, x);
	}

	char *text = cJSON_PrintUnformatted(j);
	pretty(text, out);
	kp_buf_addch(out, '\n');
	cJSON_free(text);
	cJSON_Delete(j);
}
