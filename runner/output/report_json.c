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

/* Compact JSON re-indented with two spaces from depth on: easier to review
 * and diff than cJSON's tab layout. Empty arrays and objects stay "[]" and
 * "{}". */
static void indent(struct kp_buf *o, int depth)
{
	static const char spaces[] = "                                ";
	kp_buf_addch(o, '\n');
	for (size_t n = (size_t)depth * 2; n;) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		kp_buf_add(o, spaces, k);
		n -= k;
	}
}

static void pretty(const char *s, int depth, struct kp_buf *o)
{
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, "\"{}[],:");
		kp_buf_add(o, p, n); /* numbers, true, false, null */
		p += n;
		char ch = *p;
		if (!ch)
			break;
		p++;
		switch (ch) {
		case '"':
			/* a string, copied up to its closing quote */
			kp_buf_addch(o, '"');
			for (;;) {
				n = strcspn(p, "\\\"");
				kp_buf_add(o, p, n);
				p += n;
				if (!*p)
					return;
				if (*p == '"') {
					kp_buf_addch(o, *p++);
					break;
				}
				kp_buf_addch(o, *p++);
				if (*p)
					kp_buf_addch(o, *p++);
			}
			break;
		case '{':
		case '[':
			kp_buf_addch(o, ch);
			if (*p == (ch == '{' ? '}' : ']'))
				kp_buf_addch(o, *p++);
			else
				indent(o, ++depth);
			break;
		case '}':
		case ']':
			indent(o, --depth);
			kp_buf_addch(o, ch);
			break;
		case ',':
			kp_buf_addch(o, ',');
			indent(o, depth);
			break;
		default: /* ':' */
			kp_buf_add(o, ": ", 2);
		}
	}
}

/* The document written as it is made: containers opened and closed in
 * turn, each leaf value a small cJSON tree printed at its depth. */
struct jw {
	FILE *f;
	int depth;
	bool members[16]; /* per open container: a member was written */
	struct kp_buf b;
};

static void jw_member(struct jw *w, const char *key)
{
	if (w->depth > 0) {
		kp_buf_reset(&w->b);
		if (w->members[w->depth])
			kp_buf_addch(&w->b, ',');
		indent(&w->b, w->depth);
		fwrite(w->b.buf, 1, w->b.len, w->f);
		w->members[w->depth] = true;
	}
	if (key) {
		fputc('"', w->f);
		fputs(key, w->f); /* keys are kplan's own words */
		fputs("\": ", w->f);
	}
}

static void jw_open(struct jw *w, const char *key, char bracket)
{
	jw_member(w, key);
	fputc(bracket, w->f);
	w->depth++;
	w->members[w->depth] = false;
}

static void jw_close(struct jw *w, char bracket)
{
	bool any = w->members[w->depth];
	w->depth--;
	if (any) {
		kp_buf_reset(&w->b);
		indent(&w->b, w->depth);
		fwrite(w->b.buf, 1, w->b.len, w->f);
	}
	fputc(bracket, w->f);
}

/* A member (or an array's element, key NULL); v is freed. */
static void jw_value(struct jw *w, const char *key, cJSON *v)
{
	jw_member(w, key);
	char *text = cJSON_PrintUnformatted(v);
	kp_buf_reset(&w->b);
	pretty(text, w->depth, &w->b);
	fwrite(w->b.buf, 1, w->b.len, w->f);
	cJSON_free(text);
	cJSON_Delete(v);
}

/* A JSON string as cJSON prints it (the same escapes, the same bytes). */
static void json_str(struct kp_buf *o, const char *s)
{
	if (!s) {
		kp_buf_add(o, "null", 4);
		return;
	}
	kp_buf_addch(o, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		const unsigned char *q = p;
		while (*q >= 32 && *q != '"' && *q != '\\')
			q++;
		kp_buf_add(o, p, (size_t)(q - p));
		if (!*q)
			break;
		switch (*q) {
		case '"':
			kp_buf_add(o, "\\\"", 2);
			break;
		case '\\':
			kp_buf_add(o, "\\\\", 2);
			break;
		case '\b':
			kp_buf_add(o, "\\b", 2);
			break;
		case '\f':
			kp_buf_add(o, "\\f", 2);
			break;
		case '\n':
			kp_buf_add(o, "\\n", 2);
			break;
		case '\r':
			kp_buf_add(o, "\\r", 2);
			break;
		case '\t':
			kp_buf_add(o, "\\t", 2);
			break;
		default:
			kp_buf_addf(o, "\\u%04x", *q);
		}
		p = q + 1;
	}
	kp_buf_addch(o, '"');
}

/* One task row of a host, the hot loop of a large preview: written
 * directly, in row_json's layout. */
static void row_write(struct jw *w, const struct kp_report_row *r)
{
	jw_member(w, NULL);
	struct kp_buf *o = &w->b;
	const char *const keys[] = {"task",   "module", "section",	"status", "outcome",
				    "detail", "item",	"delegated_to", "diff"};
	const char *const vals[] = {r->task,   r->module, r->section,	   r->status, r->outcome,
				    r->detail, r->item,	  r->delegated_to, r->diff};
	const char *const bkeys[] = {"pending", "unknown", "blocking", "no_log"};
	const bool bvals[] = {r->pending, kp_report_row_unknown(r), kp_report_row_blocking(r),
			      r->no_log};
	kp_buf_reset(o);
	kp_buf_addch(o, '{');
	for (size_t i = 0; i < KP_ARRAY_LEN(keys); i++) {
		if (i)
			kp_buf_addch(o, ',');
		indent(o, w->depth + 1);
		kp_buf_addch(o, '"');
		kp_buf_addstr(o, keys[i]);
		kp_buf_add(o, "\": ", 3);
		json_str(o, vals[i]);
	}
	for (size_t i = 0; i < KP_ARRAY_LEN(bkeys); i++) {
		kp_buf_addch(o, ',');
		indent(o, w->depth + 1);
		kp_buf_addch(o, '"');
		kp_buf_addstr(o, bkeys[i]);
		kp_buf_add(o, "\": ", 3);
		kp_buf_addstr(o, bvals[i] ? "true" : "false");
	}
	indent(o, w->depth);
	kp_buf_addch(o, '}');
	fwrite(o->buf, 1, o->len, w->f);
}

void kp_report_json(const struct kp_report *r, FILE *out)
{
	struct jw w = {.f = out, .b = KP_BUF_INIT};
	jw_open(&w, NULL, '{');
	jw_value(&w, "format", cJSON_CreateString("kplan-preview"));
	jw_value(&w, "version", cJSON_CreateNumber(1));
	jw_value(&w, "mode", cJSON_CreateString(r->mode == KP_REPORT_PLAN ? "plan" : "check"));

	cJSON *scope = cJSON_CreateObject();
	cJSON_AddStringToObject(scope, "plan", r->plan);
	cJSON_AddItemToObject(scope, "inventories", strlist_json(&r->inventories));
	add_str_or_null(scope, "limit", r->limit);
	cJSON_AddItemToObject(scope, "tags", strlist_json(&r->tags));
	cJSON_AddItemToObject(scope, "skip_tags", strlist_json(&r->skip_tags));
	cJSON *ev = cJSON_AddObjectToObject(scope, "extra_vars");
	for (size_t i = 0; i < r->extra_keys.n; i++)
		cJSON_AddStringToObject(ev, r->extra_keys.v[i], r->extra_vals.v[i]);
	cJSON_AddBoolToObject(scope, "diff", r->diff);
	jw_value(&w, "scope", scope);

	jw_open(&w, "blocking", '[');
	for (size_t p = 0; p < r->n; p++)
		for (size_t b = 0; b < r->plays[p].n; b++) {
			const struct kp_report_batch *ba = &r->plays[p].batches[b];
			for (size_t h = 0; h < ba->n; h++)
				for (size_t i = 0; i < ba->hosts[h].n; i++) {
					if (!kp_report_row_blocking(ba->hosts[h].rows[i]))
						continue;
					struct kp_report_xrow xr;
					kp_report_expand(&ba->hosts[h], ba->hosts[h].rows[i], &xr);
					cJSON *x = cJSON_CreateObject();
					cJSON_AddNumberToObject(x, "play",
								(double)r->plays[p].index);
					cJSON_AddNumberToObject(x, "batch", (double)ba->index);
					cJSON_AddStringToObject(x, "host", ba->hosts[h].name);
					cJSON_AddStringToObject(x, "task", xr.w.task);
					cJSON_AddStringToObject(x, "module", xr.w.module);
					cJSON_AddStringToObject(x, "status", xr.w.status);
					cJSON_AddStringToObject(x, "message", xr.w.outcome);
					kp_report_xrow_release(&xr);
					jw_value(&w, NULL, x);
				}
		}
	jw_close(&w, ']');
	jw_value(&w, "stopped", r->stopped ? cJSON_CreateString(r->stopped) : cJSON_CreateNull());

	struct kp_hostsum *s;
	size_t n = kp_report_summarize(r, &s), total = 0, hosts = 0;
	for (size_t i = 0; i < n; i++) {
		total += s[i].pending;
		hosts += s[i].pending > 0;
	}
	jw_open(&w, "summary", '{');
	jw_value(&w, "changes_pending", cJSON_CreateBool(total > 0));
	jw_value(&w, "pending", cJSON_CreateNumber((double)total));
	jw_value(&w, "hosts_with_changes", cJSON_CreateNumber((double)hosts));
	jw_open(&w, "hosts", '[');
	for (size_t i = 0; i < n; i++) {
		cJSON *x = cJSON_CreateObject();
		cJSON_AddStringToObject(x, "host", s[i].host);
		cJSON_AddNumberToObject(x, "pending", (double)s[i].pending);
		cJSON_AddNumberToObject(x, "unknown", (double)s[i].unknown);
		cJSON_AddNumberToObject(x, "blocking", (double)s[i].blocking);
		cJSON *st = cJSON_AddObjectToObject(x, "statuses");
		for (size_t k = 0; k < s[i].st.n; k++)
			cJSON_AddNumberToObject(st, s[i].st.v[k], (double)s[i].stn[k]);
		jw_value(&w, NULL, x);
	}
	kp_report_summary_free(s, n);
	jw_close(&w, ']');
	jw_close(&w, '}');

	jw_open(&w, "plays", '[');
	for (size_t p = 0; p < r->n; p++) {
		const struct kp_report_play *pl = &r->plays[p];
		jw_open(&w, NULL, '{');
		jw_value(&w, "index", cJSON_CreateNumber((double)pl->index));
		jw_value(&w, "count", cJSON_CreateNumber((double)pl->count));
		jw_value(&w, "name", cJSON_CreateString(pl->name));
		jw_value(&w, "hosts", cJSON_CreateString(pl->pattern));
		jw_value(&w, "host_count", cJSON_CreateNumber((double)pl->nhosts));
		jw_value(&w, "settings",
			 pl->settings ? cJSON_CreateString(pl->settings) : cJSON_CreateNull());
		jw_value(&w, "confirm", cJSON_CreateBool(pl->confirm));
		jw_value(&w, "handlers", strlist_json(&pl->handlers));
		jw_open(&w, "batches", '[');
		for (size_t b = 0; b < pl->n; b++) {
			const struct kp_report_batch *ba = &pl->batches[b];
			jw_open(&w, NULL, '{');
			jw_value(&w, "index", cJSON_CreateNumber((double)ba->index));
			jw_value(&w, "count", cJSON_CreateNumber((double)ba->count));
			jw_value(&w, "window", cJSON_CreateBool(ba->window));
			jw_open(&w, "hosts", '[');
			for (size_t h = 0; h < ba->n; h++) {
				jw_open(&w, NULL, '{');
				jw_value(&w, "host", cJSON_CreateString(ba->hosts[h].name));
				jw_open(&w, "tasks", '[');
				for (size_t i = 0; i < ba->hosts[h].n; i++) {
					struct kp_report_xrow xr;
					kp_report_expand(&ba->hosts[h], ba->hosts[h].rows[i], &xr);
					row_write(&w, &xr.w);
					kp_report_xrow_release(&xr);
				}
				jw_close(&w, ']');
				jw_close(&w, '}');
			}
			jw_close(&w, ']');
			jw_close(&w, '}');
		}
		jw_close(&w, ']');
		jw_close(&w, '}');
	}
	jw_close(&w, ']');
	jw_close(&w, '}');
	fputc('\n', out);
	kp_buf_release(&w.b);
}
