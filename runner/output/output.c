/* output.c - text and JSON-lines rendering of run events, see output.h. */
#include "output/output.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

const char *kp_status_name(enum kp_status s)
{
	static const char *const n[] = {"ok",	       "changed", "failed", "skipped",
					"unreachable", "rescued", "ignored"};
	return n[s];
}

static const char *status_color(enum kp_status s)
{
	switch (s) {
	case KP_ST_OK:
		return "\033[32m";
	case KP_ST_CHANGED:
		return "\033[33m";
	case KP_ST_FAILED:
	case KP_ST_UNREACHABLE:
		return "\033[31m";
	case KP_ST_SKIPPED:
		return "\033[36m";
	default:
		return "\033[35m";
	}
}

/* with the lock held: erase the status line before printing */
static void clear_status(struct kp_output *o)
{
	if (o->status_shown) {
		fputs("\r\033[K", o->f);
		o->status_shown = false;
	}
}

static void draw_status(struct kp_output *o)
{
	if (!o->color || o->format != KP_FMT_TEXT || (!o->ninflight && !o->waiting[0]))
		return;
	int64_t secs = (kp_now_ms() - o->t0_ms) / 1000;
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s running:", o->batch_label);
	for (int i = 0; i < o->ninflight && n < (int)sizeof(line) - 600; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %s", o->inflight[i]);
	if (o->waiting[0])
		n += snprintf(line + n, sizeof(line) - (size_t)n, "; waiting: %s", o->waiting);
	snprintf(line + n, sizeof(line) - (size_t)n, " (%llds)", (long long)secs);
	fprintf(o->f, "\r\033[K\033[2m%s\033[0m", line);
	fflush(o->f);
	o->status_shown = true;
}

static void *ticker(void *arg)
{
	struct kp_output *o = arg;
	pthread_mutex_lock(&o->lock);
	while (!o->stop_ticker) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&o->tick_cond, &o->lock, &ts);
		if (!o->stop_ticker)
			draw_status(o);
	}
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

void kp_output_init(struct kp_output *o, FILE *f, int format, int verbose, bool color, bool check)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->format = format;
	o->verbose = verbose;
	o->color = color;
	o->check = check;
	o->t0_ms = kp_now_ms();
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->tick_cond, NULL);
	if (color && format == KP_FMT_TEXT && !pthread_create(&o->ticker, NULL, ticker, o))
		o->ticker_running = true;
}

void kp_output_scope(struct kp_output *o, bool check, const struct kp_report_scope *sc)
{
	if (check && o->format == KP_FMT_TEXT)
		o->folding = !sc->no_fold;
	if (!check || o->format == KP_FMT_TEXT || o->report)
		return;
	o->report = kp_xcalloc(1, sizeof(*o->report));
	kp_report_init(o->report, KP_REPORT_CHECK, sc->plan, sc->inventories, sc->limit, sc->tags,
		       sc->skip_tags, sc->extra, sc->diff);
	o->report->fold = !sc->no_fold;
}

void kp_output_release(struct kp_output *o)
{
	if (o->ticker_running) {
		pthread_mutex_lock(&o->lock);
		o->stop_ticker = true;
		pthread_cond_signal(&o->tick_cond);
		pthread_mutex_unlock(&o->lock);
		pthread_join(o->ticker, NULL);
	}
	pthread_mutex_lock(&o->lock);
	clear_status(o);
	kp_textfold_flush(&o->fold, o->f);
	kp_textfold_release(&o->fold);
	fflush(o->f);
	pthread_mutex_unlock(&o->lock);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->tick_cond);
	if (o->report) {
		kp_report_release(o->report);
		free(o->report);
		o->report = NULL;
	}
}

/* JSON: one object per line */
static cJSON *event(const char *name)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "event", name);
	cJSON_AddNumberToObject(j, "ts", wall_s());
	return j;
}

static void emit(struct kp_output *o, cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	fprintf(o->f, "%s\n", s);
	fflush(o->f);
	cJSON_free(s);
	cJSON_Delete(j);
}

/* Every event but a host's result: what a check's text keeps of the task
 * before it is printed first. */
static void lock(struct kp_output *o)
{
	pthread_mutex_lock(&o->lock);
	clear_status(o);
	kp_textfold_flush(&o->fold, o->f);
}

static void unlock(struct kp_output *o)
{
	fflush(o->f);
	pthread_mutex_unlock(&o->lock);
}

void kp_out_run_start(struct kp_output *o, const char *plan, const char *run_id, bool check)
{
	lock(o);
	if (o->report) {
		/* collector: the document comes at the end */
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("run_start");
		cJSON_AddStringToObject(j, "plan", plan);
		if (run_id)
			cJSON_AddStringToObject(j, "run_id", run_id);
		cJSON_AddBoolToObject(j, "check", check);
		emit(o, j);
	} else if (check) {
		fprintf(o->f, "CHECK MODE: probing only, nothing will be changed\n");
	}
	unlock(o);
}

void kp_out_play_start(struct kp_output *o, const char *name, const char *pattern, size_t nhosts,
		       size_t index, size_t count)
{
	lock(o);
	if (o->report) {
		kp_report_play(o->report, index, count, name, pattern, NULL, nhosts);
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("play_start");
		cJSON_AddStringToObject(j, "play", name);
		cJSON_AddStringToObject(j, "hosts", pattern);
		cJSON_AddNumberToObject(j, "host_count", (double)nhosts);
		cJSON_AddNumberToObject(j, "index", (double)index);
		cJSON_AddNumberToObject(j, "count", (double)count);
		emit(o, j);
	} else {
		fprintf(o->f, "\nPLAY %zu/%zu [%s] hosts: %s (%zu host%s)\n", index, count, name,
			pattern, nhosts, nhosts == 1 ? "" : "s");
	}
	unlock(o);
}

void kp_out_play_confirm(struct kp_output *o)
{
	lock(o);
	if (o->report) {
		kp_report_play_confirm(o->report);
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("note");
		cJSON_AddStringToObject(j, "msg", KP_CONFIRM_NOTE);
		emit(o, j);
	} else {
		fprintf(o->f, "  %s\n", KP_CONFIRM_NOTE);
	}
	unlock(o);
}

void kp_out_batch_start(struct kp_output *o, size_t index, size_t count, const char *const *hosts,
			size_t nhosts, bool window)
{
	lock(o);
	snprintf(o->batch_label, sizeof(o->batch_label), window ? "[WINDOW]" : "[BATCH %zu/%zu]",
		 index, count);
	if (o->report) {
		kp_report_batch(o->report, index, count, window, hosts, nhosts);
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("batch_start");
		cJSON_AddNumberToObject(j, "index", (double)index);
		cJSON_AddNumberToObject(j, "count", (double)count);
		cJSON_AddBoolToObject(j, "window", window);
		cJSON *h = cJSON_AddArrayToObject(j, "hosts");
		for (size_t i = 0; i < nhosts; i++)
			cJSON_AddItemToArray(h, cJSON_CreateString(hosts[i]));
		emit(o, j);
	} else {
		if (o->folding)
			kp_textfold_batch(&o->fold, hosts, nhosts);
		fprintf(o->f, "\n%s %zu/%zu [", window ? "WINDOW" : "BATCH", index, count);
		for (size_t i = 0; i < nhosts; i++)
			fprintf(o->f, "%s%s", i ? ", " : "", hosts[i]);
		fprintf(o->f, "]\n");
	}
	unlock(o);
}

void kp_out_task_start(struct kp_output *o, const char *name, const char *module,
		       const char *section)
{
	lock(o);
	if (o->report) {
		/* rows carry their task */
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("task_start");
		cJSON_AddStringToObject(j, "task", name);
		cJSON_AddStringToObject(j, "module", module);
		cJSON_AddStringToObject(j, "section", section);
		emit(o, j);
	} else {
		fprintf(o->f, "TASK [%s] %s%s\n", name, module,
			strcmp(section, "handlers") ? "" : " (handler)");
	}
	unlock(o);
}

void kp_out_host_start(struct kp_output *o, const char *host)
{
	pthread_mutex_lock(&o->lock);
	if (o->ninflight < (int)KP_ARRAY_LEN(o->inflight))
		o->inflight[o->ninflight++] = host;
	pthread_mutex_unlock(&o->lock);
}

static void inflight_remove(struct kp_output *o, const char *host)
{
	for (int i = 0; i < o->ninflight; i++)
		if (o->inflight[i] == host || !strcmp(o->inflight[i], host)) {
			memmove(&o->inflight[i], &o->inflight[i + 1],
				(size_t)(o->ninflight - i - 1) * sizeof(o->inflight[0]));
			o->ninflight--;
			return;
		}
}

static void indent_lines(FILE *f, const char *prefix, const char *text)
{
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(f, "%s%.*s\n", prefix, (int)n, p);
		p = nl ? nl + 1 : NULL;
	}
}

/* A result as text, to f; without its duration when !duration, and then
 * *label_at is where the host's name starts. */
static void render_text(const struct kp_output *o, FILE *f, const struct kp_taskresult *r,
			bool duration, size_t *label_at)
{
	const char *st = kp_status_name(r->status);
	if (o->color)
		fprintf(f, "  %s%s\033[0m: [", status_color(r->status), st);
	else
		fprintf(f, "  %s: [", st);
	if (label_at) {
		long at = ftell(f);
		*label_at = at > 0 ? (size_t)at : 0;
	}
	fputs(r->host, f);
	if (r->delegated_to)
		fprintf(f, " -> %s", r->delegated_to);
	fprintf(f, "]");
	if (r->item)
		fprintf(f, " (item=%s)", r->no_log ? "<hidden by no_log>" : r->item);
	if (duration)
		fprintf(f, " %lld.%02llds", (long long)(r->duration_ms / 1000),
			(long long)(r->duration_ms % 1000 / 10));
	if (r->attempts > 1)
		fprintf(f, " after %d attempts", r->attempts);
	if (r->no_log) {
		fprintf(f, " <hidden by no_log>\n");
	} else {
		bool show_msg = r->msg && *r->msg &&
				(r->status != KP_ST_OK || r->show_msg || o->verbose || o->check);
		if (show_msg && !strchr(r->msg, '\n'))
			fprintf(f, " %s\n", r->msg);
		else {
			fputc('\n', f);
			if (show_msg)
				indent_lines(f, "    ", r->msg);
		}
		if (o->verbose >= 1 && r->cmds && *r->cmds)
			indent_lines(f, "    $ ", r->cmds);
		bool failed = r->status == KP_ST_FAILED || r->status == KP_ST_IGNORED;
		if ((o->verbose >= 2 || failed) && r->out && *r->out && o->verbose >= 2)
			indent_lines(f, "    stdout: ", r->out);
		if ((o->verbose >= 2 || failed) && r->err && *r->err)
			indent_lines(f, "    stderr: ", r->err);
		if (r->diff && *r->diff)
			indent_lines(f, "    ", r->diff);
	}
}

void kp_out_host_result(struct kp_output *o, const char *task, const struct kp_taskresult *r)
{
	pthread_mutex_lock(&o->lock);
	clear_status(o);
	inflight_remove(o, r->host);
	if (o->report) {
		struct kp_report_row w = {
		    .task = (char *)task,
		    .module = (char *)r->module,
		    .section = (char *)r->section,
		    .status = (char *)kp_status_name(r->status),
		    /* a read-only command's answer is its output */
		    .outcome = (char *)(r->msg && *r->msg ? r->msg
					: r->out	  ? r->out
							  : ""),
		    .item = (char *)r->item,
		    .delegated_to = (char *)r->delegated_to,
		    .diff = (char *)r->diff,
		    .pending = r->status == KP_ST_CHANGED,
		    .no_log = r->no_log,
		};
		kp_report_add(o->report, r->host, &w);
		unlock(o);
		return;
	}
	if (o->format == KP_FMT_JSON) {
		cJSON *j = event("host_result");
		cJSON_AddStringToObject(j, "task", task);
		cJSON_AddStringToObject(j, "host", r->host);
		cJSON_AddStringToObject(j, "status", kp_status_name(r->status));
		cJSON_AddNumberToObject(j, "duration_ms", (double)r->duration_ms);
		if (r->delegated_to)
			cJSON_AddStringToObject(j, "delegated_to", r->delegated_to);
		if (r->item)
			cJSON_AddStringToObject(j, "item", r->item);
		if (r->attempts)
			cJSON_AddNumberToObject(j, "attempts", r->attempts);
		if (r->no_log) {
			cJSON_AddStringToObject(j, "msg", "<hidden by no_log>");
		} else {
			cJSON_AddStringToObject(j, "msg", r->msg ? r->msg : "");
			if (r->result)
				cJSON_AddItemToObject(j, "result",
						      kp_value_to_cjson(r->result, true));
			if (r->diff && *r->diff)
				cJSON_AddStringToObject(j, "diff", r->diff);
			if (r->cmds && *r->cmds && o->verbose >= 1)
				cJSON_AddStringToObject(j, "commands", r->cmds);
		}
		emit(o, j);
		unlock(o);
		return;
	}
	if (!o->folding) {
		render_text(o, o->f, r, true, NULL);
		unlock(o);
		return;
	}
	char *line = NULL, *short_text = NULL;
	size_t nline = 0, nshort = 0, label_at = 0;
	FILE *m = open_memstream(&line, &nline);
	if (m) {
		render_text(o, m, r, true, NULL);
		fclose(m);
	}
	if (m && (m = open_memstream(&short_text, &nshort))) {
		render_text(o, m, r, false, &label_at);
		fclose(m);
	}
	if (line && short_text)
		kp_textfold_add(&o->fold, o->f, task, r->host, line, short_text, label_at);
	else
		render_text(o, o->f, r, true, NULL);
	free(line);
	free(short_text);
	unlock(o);
}

void kp_out_batch_end(struct kp_output *o, size_t index, size_t failed, size_t total)
{
	lock(o);
	o->ninflight = 0;
	if (!o->report && o->format == KP_FMT_JSON) {
		cJSON *j = event("batch_end");
		cJSON_AddNumberToObject(j, "index", (double)index);
		cJSON_AddNumberToObject(j, "failed", (double)failed);
		cJSON_AddNumberToObject(j, "hosts", (double)total);
		emit(o, j);
	}
	unlock(o);
}

void kp_out_window(struct kp_output *o, const char *host, const char *reason, int64_t waited_ms)
{
	char now[512];
	snprintf(now, sizeof(now), "%s%s%s", reason ? host : "", reason ? ": " : "",
		 reason ? reason : "");
	lock(o);
	bool changed = strcmp(now, o->waiting) != 0;
	snprintf(o->waiting, sizeof(o->waiting), "%s", now);
	if (!changed || o->report || (!reason && waited_ms < 0)) {
		/* the same wait goes on (the status line shows it), or ends
		 * without an admission */
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("window");
		cJSON_AddStringToObject(j, "host", host);
		if (reason)
			cJSON_AddStringToObject(j, "waiting", reason);
		else
			cJSON_AddNumberToObject(j, "waited_ms", (double)waited_ms);
		emit(o, j);
	} else {
		clear_status(o);
		if (reason)
			fprintf(o->f, "  waiting: [%s] %s\n", host, reason);
		else
			fprintf(o->f, "  admitted: [%s] after %.1f s\n", host, waited_ms / 1000.0);
		draw_status(o);
	}
	unlock(o);
}

void kp_out_note(struct kp_output *o, const char *fmt, ...)
{
	va_list ap;
	struct kp_buf b = KP_BUF_INIT;
	va_start(ap, fmt);
	kp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	lock(o);
	if (o->report) {
		/* the document on stdout stays one document */
		fprintf(stderr, "%s\n", b.buf);
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("note");
		cJSON_AddStringToObject(j, "msg", b.buf);
		emit(o, j);
	} else {
		fprintf(o->f, "%s\n", b.buf);
	}
	unlock(o);
	kp_buf_release(&b);
}

void kp_out_recap(struct kp_output *o, const struct kp_hostcounts *c, size_t n)
{
	lock(o);
	if (o->report) {
		/* the report's summary is the recap */
	} else if (o->format == KP_FMT_JSON) {
		/* one line, written a host at a time: thousands of hosts need no
		 * tree of them all */
		cJSON *j = event("recap");
		char *head = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
		fprintf(o->f, "%.*s,\"hosts\":{", (int)strlen(head) - 1, head);
		cJSON_free(head);
		for (size_t i = 0; i < n; i++) {
			cJSON *name = cJSON_CreateString(c[i].host), *h = cJSON_CreateObject();
			cJSON_AddNumberToObject(h, "ok", c[i].ok);
			cJSON_AddNumberToObject(h, "changed", c[i].changed);
			cJSON_AddNumberToObject(h, "unreachable", c[i].unreachable);
			cJSON_AddNumberToObject(h, "failed", c[i].failed);
			cJSON_AddNumberToObject(h, "skipped", c[i].skipped);
			cJSON_AddNumberToObject(h, "rescued", c[i].rescued);
			cJSON_AddNumberToObject(h, "ignored", c[i].ignored);
			char *ks = cJSON_PrintUnformatted(name), *hs = cJSON_PrintUnformatted(h);
			fprintf(o->f, "%s%s:%s", i ? "," : "", ks, hs);
			cJSON_free(ks);
			cJSON_free(hs);
			cJSON_Delete(name);
			cJSON_Delete(h);
		}
		fputs("}}\n", o->f);
		fflush(o->f);
	} else {
		size_t w = 0;
		for (size_t i = 0; i < n; i++)
			if (strlen(c[i].host) > w)
				w = strlen(c[i].host);
		fprintf(o->f, "\nRECAP\n");
		for (size_t i = 0; i < n; i++)
			fprintf(o->f,
				"%-*s : ok=%-3d changed=%-3d unreachable=%-3d failed=%-3d "
				"skipped=%-3d rescued=%-3d ignored=%d\n",
				(int)w, c[i].host, c[i].ok, c[i].changed, c[i].unreachable,
				c[i].failed, c[i].skipped, c[i].rescued, c[i].ignored);
	}
	unlock(o);
}

void kp_out_run_end(struct kp_output *o, int exit_code, const char *reason)
{
	lock(o);
	if (o->report) {
		kp_report_stopped(o->report, reason);
		if (o->format == KP_FMT_MARKDOWN)
			kp_report_markdown(o->report, o->f);
		else
			kp_report_json(o->report, o->f);
	} else if (o->format == KP_FMT_JSON) {
		cJSON *j = event("run_end");
		cJSON_AddNumberToObject(j, "exit_code", exit_code);
		cJSON_AddNumberToObject(j, "duration_ms", (double)(kp_now_ms() - o->t0_ms));
		if (reason)
			cJSON_AddStringToObject(j, "reason", reason);
		emit(o, j);
	} else if (reason) {
		fprintf(o->f, "%s\n", reason);
	}
	unlock(o);
}
