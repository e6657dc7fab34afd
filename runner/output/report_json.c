/* report_json.c - the JSON rendering of a preview (tests/schema/preview.schema.json),
 * see report.h. */
#include "output/report_int.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "core/kp.h"
#include "core/value.h"
#include "expr/expr.h"

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
	cJSON_AddBoolToObject(j, "unknown", kp_report_row_unknown(w));
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

	struct kp_hostsum *s;
	size_t n = kp_report_summarize(r, &s), total = 0, hosts = 0;
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
	kp_report_summary_free(s, n);
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
