/* report_md.c - the markdown rendering of a preview, see report.h. */
#include "output/report_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/kp.h"
#include "core/value.h"
#include "expr/expr.h"

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
					if (!kp_report_row_blocking(ba->hosts[h].rows[i]))
						continue;
					struct kp_report_xrow xr;
					kp_report_expand(&ba->hosts[h], ba->hosts[h].rows[i], &xr);
					const struct kp_report_row *w = &xr.w;
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
					kp_report_xrow_release(&xr);
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

static void md_summary(const struct kp_report *r, struct kp_buf *o, FILE *f)
{
	struct kp_hostsum *s;
	size_t n = kp_report_summarize(r, &s), total = 0, hosts = 0;
	kp_buf_addstr(o, "## Summary\n\n");
	if (!n) {
		kp_buf_addstr(o, "No host matched any play.\n\n");
		kp_report_summary_free(s, n);
		return;
	}
	/* folded: hosts in the same batches with the same tasks share a line,
	 * in first-host order */
	size_t *first = kp_xcalloc(n, sizeof(*first)), *last = kp_xcalloc(n, sizeof(*last));
	size_t *size = kp_xcalloc(n, sizeof(*size)), *groups = kp_xcalloc(n, sizeof(*groups));
	size_t ng = 0;
	for (size_t i = 0; i < n; i++) {
		size_t g = r->fold ? 0 : ng;
		while (g < ng && !kp_report_same_host(&s[groups[g]], &s[i]))
			g++;
		if (g == ng)
			groups[ng++] = i;
		first[i] = groups[g];
		last[groups[g]] = i;
		size[groups[g]]++;
	}
	kp_buf_addf(o, "| host | %s | unknown until earlier steps ran | blocking | tasks |\n",
		    r->mode == KP_REPORT_PLAN ? "would change" : "would change");
	kp_buf_addstr(o, "|---|---:|---:|---:|---|\n");
	for (size_t i = 0; i < n; i++) {
		total += s[i].pending;
		hosts += s[i].pending > 0;
		if (first[i] != i)
			continue;
		kp_buf_addstr(o, "| ");
		md_text(o, s[i].host);
		if (size[i] > 1) {
			kp_buf_addstr(o, " … ");
			md_text(o, s[last[i]].host);
			kp_buf_addstr(o, " (");
			kp_report_count(size[i], o);
			kp_buf_addstr(o, " hosts, each)");
		}
		kp_buf_addf(o, " | %zu | %zu | %zu | ", s[i].pending, s[i].unknown, s[i].blocking);
		for (size_t k = 0; k < s[i].st.n; k++)
			kp_buf_addf(o, "%s%s %zu", k ? ", " : "", s[i].st.v[k], s[i].stn[k]);
		kp_buf_addstr(o, " |\n");
		if (o->len > 65536) {
			fwrite(o->buf, 1, o->len, f);
			kp_buf_reset(o);
		}
	}
	free(first);
	free(last);
	free(size);
	free(groups);
	if (total)
		kp_buf_addf(o, "\n**%zu change%s pending on %zu host%s.**\n\n", total,
			    total == 1 ? "" : "s", hosts, hosts == 1 ? "" : "s");
	else
		kp_buf_addstr(o, "\n**No changes pending.**\n\n");
	if (r->stopped)
		kp_buf_addstr(o, "The check stopped early (see the blocking problems): what comes "
				 "after was not probed.\n\n");
	kp_report_summary_free(s, n);
}

static void md_host(const struct kp_report *r, const struct kp_report_batch *ba,
		    const struct kp_report_fold *fold, size_t hi, struct kp_buf *o)
{
	const struct kp_report_host *h = &ba->hosts[hi];
	struct kp_buf label = KP_BUF_INIT;
	kp_report_fold_label(fold, ba, hi, &label);
	kp_buf_addstr(o, "#### ");
	md_text(o, label.buf);
	kp_buf_release(&label);
	if (fold->size[hi] > 1) {
		size_t nt = kp_report_task_count(h);
		kp_buf_addf(o, ": the same %zu task%s\n\nShown for ", nt, nt == 1 ? "" : "s");
		md_text(o, h->name);
		kp_buf_addstr(o, "; each host has its own name in place of ");
		md_text(o, h->name);
		kp_buf_addstr(o, ".\n\n<details><summary>the ");
		kp_report_count(fold->size[hi], o);
		kp_buf_addstr(o, " hosts</summary>\n\n");
		for (size_t k = hi, c = 0; k < ba->n; k++)
			if (fold->first[k] == hi) {
				if (c++)
					kp_buf_addstr(o, ", ");
				md_text(o, ba->hosts[k].name);
			}
		kp_buf_addstr(o, "\n\n</details>");
	}
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
		struct kp_report_xrow xr;
		kp_report_expand(h, h->rows[i], &xr);
		const struct kp_report_row *w = &xr.w;
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
		kp_report_xrow_release(&xr);
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
		struct kp_report_xrow xr;
		kp_report_expand(h, h->rows[i], &xr);
		const struct kp_report_row *w = &xr.w;
		if (is_long(w->outcome) && !w->no_log) {
			kp_buf_addf(o, "<details><summary>%s #%zu ", h->name, i + 1);
			html_text(o, w->task);
			kp_buf_addstr(o, ": in full</summary>\n\n");
			md_fence(o, "text", w->outcome, "");
			kp_buf_addstr(o, "\n</details>\n\n");
		}
		if (w->diff && !w->no_log) {
			kp_buf_addf(o, "<details><summary>%s #%zu ", h->name, i + 1);
			html_text(o, w->task);
			kp_buf_addstr(o, ": diff</summary>\n\n");
			md_fence(o, "diff", w->diff, "");
			kp_buf_addstr(o, "\n</details>\n\n");
		}
		kp_report_xrow_release(&xr);
	}
}

void kp_report_markdown(const struct kp_report *r, FILE *f)
{
	struct kp_buf doc = KP_BUF_INIT, *o = &doc;
	kp_buf_addf(o, "# kplan %s: ", r->mode == KP_REPORT_PLAN ? "plan" : "check");
	md_text(o, r->plan);
	kp_buf_addstr(o, "\n\n");
	md_scope(r, o);
	md_blocking(r, o);
	md_summary(r, o, f);
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
			struct kp_report_fold fold;
			kp_report_fold_init(&fold, ba, r->fold);
			for (size_t h = 0; h < ba->n; h++) {
				if (fold.first[h] != h)
					continue;
				md_host(r, ba, &fold, h, o);
				fwrite(o->buf, 1, o->len, f);
				kp_buf_reset(o);
			}
			kp_report_fold_release(&fold);
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
	fwrite(o->buf, 1, o->len, f);
	kp_buf_release(o);
}
