/*
 * preview.c - `kplan plan`: the offline preview of a run, the
 * --list-hosts / --list-tasks listings, and the checks of --limit and
 * --start-at-task that run and check make before anything runs.
 *
 * Nothing here connects anywhere. Every play's batches are computed exactly
 * as a run computes them, and every task's arguments are templated for each
 * host with that host's variables; what only a probe could know (registered
 * results, set-fact values) prints as <known after probe>. Rendering every
 * host is also what lets `kplan validate -i` catch undefined variables.
 *
 * The same walk fills a struct kp_report (report.h) for --format markdown
 * and json and for --detailed-exitcode. A task counts as a pending change
 * when it would run (or might: a when only a probe can decide) unless its
 * module is read-only (debug, assert, fail, set-fact, pause, wait-for,
 * kube-node state=ready) or its changed_when is false for that host.
 *
 * Folding (the default; --no-fold turns it off): hosts of a batch whose
 * rows are equal once each host's own name is taken for a marker (report.h)
 * plan the same; the text shows such a group once, on the line of its first
 * host, named "first … last (N hosts)". While a batch is walked its text is
 * kept line by line (struct recline); once the report has the batch, which
 * finds the groups, the lines are printed with each group's first host's
 * lines under the group's name and the other hosts' lines left out.
 */
#include <stdlib.h>
#include <string.h>

#include "model/batch.h"
#include "cli/cli.h"
#include "modules/module.h"
#include "modules/setup.h"
#include "output/report.h"
#include "model/vars.h"
#include "model/walk.h"

struct pctx {
	const struct kp_runopts *o;
	struct kp_loaded *ld;
	FILE *out; /* NULL: render and check only */
	struct kp_lua *L;
	struct kp_playvars pv;
	struct kp_hostvars *hv;
	struct kp_batch *batch;
	struct kp_taskselect select; /* --start-at-task, --tags, --skip-tags */
	struct kp_strlist unknown;
	struct kp_buf *err;
	struct kp_report *rep; /* NULL: no report */
	const char *section;
	size_t row_hint; /* the batch index of the host a row is likely for */
	/* folded text: the batch's lines, kept until its groups are known */
	bool keep;
	struct kp_buf kept;
	struct recline {
		size_t off, indent, len; /* in kept: the indent, then the rest */
		size_t host;		 /* SIZE_MAX: not a host's line */
	} * lines;
	size_t nlines, caplines;
};

/* A line kept for the folded text: indent (may be empty), then the rest. */
static void keep_line(struct pctx *c, size_t host, const char *indent, const char *fmt, va_list ap)
{
	KP_GROW(c->lines, c->nlines + 1, c->caplines);
	struct recline *l = &c->lines[c->nlines++];
	l->off = c->kept.len;
	kp_buf_addstr(&c->kept, indent);
	l->indent = c->kept.len - l->off;
	kp_buf_vaddf(&c->kept, fmt, ap);
	l->len = c->kept.len - l->off;
	l->host = host;
}

static void outf(struct pctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	if (!c->out)
		return;
	va_start(ap, fmt);
	if (c->keep)
		keep_line(c, SIZE_MAX, "", fmt, ap);
	else
		vfprintf(c->out, fmt, ap);
	va_end(ap);
}

/* A host's line: indent, two spaces, the host's name, then the rest. */
static void host_line(struct pctx *c, size_t h, const char *indent, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void host_line(struct pctx *c, size_t h, const char *indent, const char *fmt, ...)
{
	va_list ap;
	if (!c->out)
		return;
	va_start(ap, fmt);
	if (c->keep) {
		keep_line(c, h, indent, fmt, ap);
	} else {
		fprintf(c->out, "%s  %s", indent, c->hv[h].host->name);
		vfprintf(c->out, fmt, ap);
	}
	va_end(ap);
}

static bool simple_word(const char *s, size_t n)
{
	if (!n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= ' ' || ch == '"' || ch == '\'' || ch == '=' || ch == '\\' || ch >= 0x7f)
			return false;
	}
	return true;
}

void kp_format_args(const struct kp_value *args, bool hide, struct kp_buf *out)
{
	if (!args || args->type != KP_V_MAP) {
		kp_value_to_text(args, hide, out);
		return;
	}
	for (size_t i = 0; i < kp_map_len(args); i++) {
		const struct kp_value *v = kp_map_val(args, i);
		if (i)
			kp_buf_addch(out, ' ');
		kp_buf_addf(out, "%s=", kp_map_key(args, i));
		if (hide && (v->secret || kp_secret_name(kp_map_key(args, i))))
			kp_buf_addstr(out, "<hidden>");
		else if (v->type == KP_V_STR && simple_word(v->u.str.s, v->u.str.len))
			kp_buf_add(out, v->u.str.s, v->u.str.len);
		else
			kp_value_to_json(v, hide, false, out);
	}
}

/* Names whose values exist only once hosts ran tasks. */
static int collect_unknown(struct kp_walk *w, const struct kp_task *t,
			   const struct kp_strlist *tags)
{
	struct kp_strlist *u = w->ctx;
	if (t->register_var && !kp_strlist_has(u, t->register_var))
		kp_strlist_push(u, t->register_var);
	if (t->module && (t->module->flags & KP_MOD_SETS_VARS) && t->args &&
	    t->args->kind == KP_TV_MAP)
		for (size_t k = 0; k < t->args->n; k++)
			if (!kp_strlist_has(u, t->args->keys[k]))
				kp_strlist_push(u, t->args->keys[k]);
	if (t->module && (t->module->flags & KP_MOD_SETS_SOME_VARS) && !kp_strlist_has(u, "*"))
		kp_strlist_push(u, "*");
	return 0;
}

static kp_rc task_error(struct pctx *c, const struct kp_task *t, kp_rc rc)
{
	kp_buf_addf(c->err, " (task '%s')", kp_task_display_name(t));
	return rc;
}

/* Evaluate the when-chain; *state: 1 true, 0 false (with *why), -1 unknown
 * (with *why the first condition only a probe can decide) */
static kp_rc eval_when(struct pctx *c, const struct kp_scope *s, struct kp_expr *const *when,
		       size_t n, int *state, const char **why)
{
	for (size_t i = 0; i < n; i++) {
		bool ok;
		kp_rc rc = kp_expr_test(c->L, when[i], s, &ok, c->err);
		if (rc == KP_ERR_UNKNOWN) {
			kp_buf_reset(c->err);
			if (*state > 0)
				*why = kp_expr_source(when[i]);
			*state = -1;
			continue;
		}
		if (rc)
			return rc;
		if (!ok) {
			*state = 0;
			*why = kp_expr_source(when[i]);
			return KP_OK;
		}
	}
	return KP_OK;
}

struct whens {
	struct kp_expr **v;
	size_t n, cap;
	const struct kp_template *delegate_to; /* the innermost block's */
};

/* A task's name as the operator reads it: templated with the variables of
 * the batch's first host (names are shared by every host of the batch). */
static void task_title(struct pctx *c, const struct kp_task *t, struct kp_buf *out)
{
	struct kp_value *v = NULL;
	struct kp_scope s = c->hv[0].scope;
	s.placeholder = true;
	if (t->name_tmpl && !kp_template_render(c->L, t->name_tmpl, &s, &v, NULL)) {
		kp_value_to_text(v, true, out);
		kp_value_unref(v);
		return;
	}
	kp_buf_addstr(out, kp_task_display_name(t));
}

/* "when: a and b" on one line, whatever the YAML style of the condition */
static void when_text(const char *src, struct kp_buf *out)
{
	kp_buf_addstr(out, "when: ");
	for (const char *w = src; w && *w; w++) {
		bool sp = *w == ' ' || *w == '\n' || *w == '\t';
		if (!sp)
			kp_buf_addch(out, *w);
		else if (out->buf[out->len - 1] != ' ')
			kp_buf_addch(out, ' ');
	}
}

/* Whether the task would change something on this host (see the top). */
static bool plan_pending(struct pctx *c, const struct kp_task *t, const struct kp_scope *s,
			 const struct kp_value *args)
{
	if (t->module->flags & KP_MOD_READONLY)
		return false;
	if (t->module->pending && !t->module->pending(args))
		return false;
	for (size_t i = 0; i < t->nchanged_when; i++) {
		bool v;
		kp_rc rc = kp_expr_test(c->L, t->changed_when[i], s, &v, c->err);
		kp_buf_reset(c->err);
		if (!rc && !v)
			return false;
	}
	return true;
}

static void report_row(struct pctx *c, const struct kp_task *t, const char *host,
		       const char *status, const char *outcome, const char *detail,
		       const char *item, const char *delegated, bool pending)
{
	if (!c->rep)
		return;
	struct kp_buf title = KP_BUF_INIT;
	struct kp_value *v = NULL;
	struct kp_scope s = c->hv[0].scope;
	/* rows come in host order: start where the last one was found */
	size_t n = c->batch->n, from = c->row_hint < n ? c->row_hint : 0;
	for (size_t k = 0; k < n; k++) {
		size_t h = (from + k) % n;
		if (!strcmp(c->hv[h].host->name, host)) {
			s = c->hv[h].scope;
			c->row_hint = h;
			break;
		}
	}
	s.placeholder = true;
	if (t->name_tmpl && !kp_template_render(c->L, t->name_tmpl, &s, &v, NULL))
		kp_value_to_text(v, true, &title);
	else
		kp_buf_addstr(&title, kp_task_display_name(t));
	kp_value_unref(v);
	struct kp_report_row w = {.task = title.buf,
				  .module = (char *)t->module->name,
				  .section = (char *)c->section,
				  .status = (char *)status,
				  .outcome = (char *)outcome,
				  .detail = (char *)detail,
				  .item = (char *)item,
				  .delegated_to = (char *)delegated,
				  .pending = pending,
				  .no_log = t->no_log || t->no_log_t};
	kp_report_add(c->rep, host, &w);
	kp_buf_release(&title);
}

static kp_rc show_module_task(struct pctx *c, const struct kp_task *t, struct whens *inherited,
			      const char *indent)
{
	struct kp_buf title = KP_BUF_INIT;
	task_title(c, t, &title);
	outf(c, "%sTASK [%s] %s%s%s\n", indent, title.buf, t->module->name,
	     t->run_once ? " (run_once)" : "", t->no_log || t->no_log_t ? " (no_log)" : "");
	kp_buf_release(&title);
	for (size_t h = 0; h < c->batch->n; h++) {
		struct kp_hostvars *hv = &c->hv[h];
		const char *host = hv->host->name;
		struct kp_buf line = KP_BUF_INIT;
		int state = 1;
		const char *why = NULL;
		kp_rc rc;

		if (t->run_once && h > 0) {
			host_line(c, h, indent, ": result of %s (run_once)\n", c->hv[0].host->name);
			struct kp_buf d = KP_BUF_INIT;
			kp_buf_addf(&d, "result of %s (run_once)", c->hv[0].host->name);
			report_row(c, t, host, "shared", "", d.buf, NULL, NULL, false);
			kp_buf_release(&d);
			continue;
		}
		rc = eval_when(c, &hv->scope, inherited->v, inherited->n, &state, &why);
		if (!rc && state)
			rc = eval_when(c, &hv->scope, t->when, t->nwhen, &state, &why);
		if (rc)
			return task_error(c, t, rc);
		if (!state) {
			host_line(c, h, indent, ": skipped (when: %s)\n", why);
			struct kp_buf d = KP_BUF_INIT;
			when_text(why, &d);
			report_row(c, t, host, "skipped", "", d.buf, NULL, NULL, false);
			kp_buf_release(&d);
			continue;
		}
		struct kp_scope s = hv->scope;
		s.placeholder = true;
		struct kp_buf deleg = KP_BUF_INIT, cond = KP_BUF_INIT;
		const struct kp_template *dt =
		    t->delegate_to ? t->delegate_to : inherited->delegate_to;
		if (dt) {
			struct kp_value *d = NULL;
			rc = kp_template_render(c->L, dt, &s, &d, c->err);
			if (rc)
				return task_error(c, t, rc);
			kp_buf_addf(&line, " (delegated to ");
			kp_value_to_text(d, true, &line);
			kp_value_to_text(d, true, &deleg);
			kp_buf_addch(&line, ')');
			kp_value_unref(d);
		}
		if (state < 0) {
			kp_buf_addstr(&line, " (when: " KP_UNKNOWN_TEXT ")");
			when_text(why, &cond);
			kp_buf_addstr(&cond, " (" KP_UNKNOWN_TEXT ")");
		}
		const char *rstatus = state < 0 ? "conditional" : "runs";
		const char *rdetail = state < 0 ? cond.buf : NULL;
		const char *rdeleg = dt ? deleg.buf : NULL;

		struct kp_value *items = NULL;
		if (t->loop) {
			rc = t->loop_with ? kp_task_loop_items(c->L, t, &s, &items, c->err)
					  : kp_tvalue_render(c->L, t->loop, &s, &items, c->err);
			if (rc) {
				kp_buf_release(&line);
				kp_buf_release(&deleg);
				kp_buf_release(&cond);
				return task_error(c, t, rc);
			}
		}
		if (items && items->type != KP_V_LIST) {
			/* a loop over something only a probe knows */
			host_line(c, h, indent, ": loop over %s%s\n",
				  items->type == KP_V_STR ? items->u.str.s : "a non-list value",
				  line.buf);
			struct kp_buf o = KP_BUF_INIT;
			kp_buf_addf(&o, "loop over %s",
				    items->type == KP_V_STR ? items->u.str.s : "a non-list value");
			report_row(c, t, host, "unknown-loop", o.buf, rdetail, NULL, rdeleg,
				   plan_pending(c, t, &s, NULL));
			kp_buf_release(&o);
			kp_value_unref(items);
			kp_buf_release(&line);
			kp_buf_release(&deleg);
			kp_buf_release(&cond);
			continue;
		}
		size_t nitems = items ? kp_list_len(items) : 1;
		if (items && !nitems) {
			host_line(c, h, indent, ": loop over an empty list: nothing to do\n");
			report_row(c, t, host, "skipped", "", "loop over an empty list", NULL,
				   rdeleg, false);
		}
		for (size_t i = 0; i < nitems; i++) {
			struct kp_value *loopmap = NULL, *args = NULL;
			struct kp_scope si = s;
			if (items) {
				loopmap = kp_loop_vars(t, items, i);
				/* the loop variable sits just below the magic variables */
				si.layers[si.nlayers] = si.layers[si.nlayers - 1];
				si.layers[si.nlayers - 1] = loopmap;
				si.nlayers++;
			}
			rc = t->args ? kp_tvalue_render(c->L, t->args, &si, &args, c->err) : KP_OK;
			if (rc) {
				kp_value_unref(loopmap);
				kp_value_unref(items);
				kp_buf_release(&line);
				kp_buf_release(&deleg);
				kp_buf_release(&cond);
				return task_error(c, t, rc);
			}
			struct kp_buf a = KP_BUF_INIT;
			if (t->no_log || t->no_log_t)
				kp_buf_addstr(&a, "<hidden by no_log>");
			else
				kp_format_args(args, true, &a);
			if (items)
				host_line(c, h, indent, " [item %zu]: %s%s\n", i + 1, a.buf,
					  line.buf);
			else
				host_line(c, h, indent, ": %s%s\n", a.buf, line.buf);
			if (c->rep) {
				struct kp_buf label = KP_BUF_INIT;
				if (items)
					kp_value_to_text(kp_list_at(items, i), true, &label);
				report_row(c, t, host, rstatus, a.buf, rdetail,
					   items ? label.buf : NULL, rdeleg,
					   plan_pending(c, t, &si, args));
				kp_buf_release(&label);
			}
			kp_buf_release(&a);
			kp_value_unref(args);
			kp_value_unref(loopmap);
		}
		kp_value_unref(items);
		kp_buf_release(&line);
		kp_buf_release(&deleg);
		kp_buf_release(&cond);
	}
	return KP_OK;
}

/* The walk of one section's tasks (kp_walk): the preview's context, the
 * conditions inherited from enclosing blocks, and the indent of the
 * section's level. */
struct showwalk {
	struct pctx *c;
	struct whens *when;
	const char *indent;
	size_t saved[64];			   /* when->n before each enclosing block */
	const struct kp_template *saved_deleg[64]; /* and its delegate_to */
	/* the role or import variables each enclosing block pushed, per host */
	struct kp_dyn_saved *dyn[64];
};

/* A block of a role, or an import or include with `vars`: its variables
 * over every host's while its tasks are shown. */
static void push_layers(struct showwalk *sw, int depth, const struct kp_task *t)
{
	struct pctx *c = sw->c;
	const struct kp_value *add[KP_DYN_COUNT];
	bool any = kp_task_layers(t, add);
	if (t->include && t->include_vars) {
		add[KP_DYN_PARAMS] = t->include_vars;
		any = true;
	}
	if (!any || (size_t)depth >= KP_ARRAY_LEN(sw->dyn))
		return;
	sw->dyn[depth] = kp_xcalloc(c->batch->n, sizeof(**sw->dyn));
	for (size_t h = 0; h < c->batch->n; h++)
		kp_hostvars_push(&c->hv[h], add, &sw->dyn[depth][h]);
}

static void pop_layers(struct showwalk *sw, int depth)
{
	struct pctx *c = sw->c;
	if ((size_t)depth >= KP_ARRAY_LEN(sw->dyn) || !sw->dyn[depth])
		return;
	for (size_t h = c->batch->n; h-- > 0;)
		kp_hostvars_pop(&c->hv[h], &sw->dyn[depth][h]);
	free(sw->dyn[depth]);
	sw->dyn[depth] = NULL;
}

static const char *walk_indent(const struct kp_walk *w, char *buf, size_t size)
{
	const struct showwalk *sw = w->ctx;
	snprintf(buf, size, "%s%*s", sw->indent, 2 * w->depth, "");
	return buf;
}

static int show_task(struct kp_walk *w, const struct kp_task *t, const struct kp_strlist *tags)
{
	struct showwalk *sw = w->ctx;
	char indent[160];
	walk_indent(w, indent, sizeof(indent));
	if (t->module)
		return show_module_task(sw->c, t, sw->when, indent);
	if (t->include && (t->loop || t->include_file)) {
		/* what it includes is known per host when it runs */
		struct kp_buf title = KP_BUF_INIT;
		task_title(sw->c, t, &title);
		outf(sw->c, "%sINCLUDE [%s] %s: %s\n", indent, title.buf,
		     t->include == KP_INC_ROLE ? "include_role" : "include_tasks",
		     t->include_file
			 ? "the file is named by a template, known only when it runs"
			 : "runs its tasks once per loop item, known only when it runs");
		kp_buf_release(&title);
		return KP_WALK_SKIP;
	}
	/* a block: its conditions apply to every task inside */
	struct whens *when = sw->when;
	if ((size_t)w->depth < KP_ARRAY_LEN(sw->saved)) {
		sw->saved[w->depth] = when->n;
		sw->saved_deleg[w->depth] = when->delegate_to;
	}
	if (t->delegate_to && !t->include)
		when->delegate_to = t->delegate_to;
	for (size_t i = 0; i < t->nwhen; i++) {
		KP_GROW(when->v, when->n + 1, when->cap);
		when->v[when->n++] = t->when[i];
	}
	struct kp_buf title = KP_BUF_INIT;
	task_title(sw->c, t, &title);
	if (t->include)
		outf(sw->c, "%sINCLUDE [%s] %s\n", indent, title.buf,
		     t->include == KP_INC_ROLE ? "include_role" : "include_tasks");
	else if (t->role && !t->name)
		outf(sw->c, "%sROLE [%s]\n", indent, t->role->role->name);
	else
		outf(sw->c, "%sBLOCK [%s]\n", indent, title.buf);
	kp_buf_release(&title);
	push_layers(sw, w->depth, t);
	return KP_OK;
}

static int show_part(struct kp_walk *w, const struct kp_task *b, enum kp_walk_part part, bool done)
{
	struct showwalk *sw = w->ctx;
	char indent[160];
	walk_indent(w, indent, sizeof(indent));
	if (done) {
		if ((size_t)w->depth < KP_ARRAY_LEN(sw->saved)) {
			sw->when->n = sw->saved[w->depth];
			sw->when->delegate_to = sw->saved_deleg[w->depth];
		}
		pop_layers(sw, w->depth);
	} else if (part == KP_PART_RESCUE) {
		outf(sw->c, "%sRESCUE (runs on a host where the block failed)\n", indent);
	} else if (part == KP_PART_ALWAYS) {
		outf(sw->c, "%sALWAYS\n", indent);
	}
	return KP_OK;
}

static kp_rc show_tasks(struct pctx *c, struct kp_task *const *tasks, size_t n,
			const struct kp_strlist *tags, struct whens *when, const char *indent)
{
	struct showwalk sw = {.c = c, .when = when, .indent = indent};
	struct kp_walk w = {.task = show_task, .part = show_part, .select = &c->select, .ctx = &sw};
	return kp_walk_tasks(&w, tasks, n, tags);
}

static void describe_serial(const struct kp_play *p, struct kp_buf *b)
{
	if (p->wrule.aware) {
		kp_buf_addstr(b, "window: disruption-aware");
		if (p->wrule.max_set)
			kp_buf_addf(b, ", max %d", p->window);
		if (p->wrule.budget)
			kp_buf_addstr(b, ", budget pdb");
		if (p->wrule.min_ready > 0)
			kp_buf_addf(b, ", min_ready %d%s", p->wrule.min_ready,
				    p->wrule.min_ready_pct ? "%" : "");
		return;
	}
	if (p->window > 0) {
		kp_buf_addf(b, "window: %d", p->window);
		return;
	}
	if (!p->nserial) {
		kp_buf_addstr(b, "serial: all hosts at once");
		return;
	}
	kp_buf_addstr(b, "serial: ");
	if (p->nserial > 1)
		kp_buf_addch(b, '[');
	for (size_t i = 0; i < p->nserial; i++)
		kp_buf_addf(b, "%s%lld%s", i ? ", " : "", (long long)p->serial[i].n,
			    p->serial[i].percent ? "%" : "");
	if (p->nserial > 1)
		kp_buf_addch(b, ']');
}

static void host_list(const struct kp_inventory *inv, const size_t *h, size_t n, struct kp_buf *b)
{
	for (size_t i = 0; i < n; i++)
		kp_buf_addf(b, "%s%s", i ? ", " : "", inv->hosts[h[i]]->name);
}

static kp_rc show_sections(struct pctx *c, const struct kp_play *p,
			   const struct kp_strlist *playtags)
{
	struct whens when = {0};
	static const char *const sect[] = {"pre_tasks", "tasks", "post_tasks"};
	struct kp_task **lists[] = {p->pre_tasks, p->tasks, p->post_tasks};
	size_t counts[] = {p->npre_tasks, p->ntasks, p->npost_tasks};
	kp_rc rc = KP_OK;
	for (size_t s = 0; s < 3 && !rc; s++) {
		if (!counts[s])
			continue;
		if (counts[0] + counts[2])
			outf(c, "    %s:\n", sect[s]);
		c->section = sect[s];
		rc = show_tasks(c, lists[s], counts[s], playtags, &when, "    ");
	}
	free(when.v);
	return rc;
}

/* The batch's kept text, its hosts folded by the report's last batch: the
 * groups of more than one host first, then every line of a host that is
 * first in its group, under the group's name. */
static void print_folded(struct pctx *c)
{
	struct kp_report_play *rp = &c->rep->plays[c->rep->n - 1];
	const struct kp_report_batch *rb = &rp->batches[rp->n - 1];
	struct kp_report_fold f;
	/* the report's batch is this one, host for host */
	kp_report_fold_init(&f, rb, rb->n == c->batch->n);
	char **labels = kp_xcalloc(rb->n ? rb->n : 1, sizeof(*labels));
	for (size_t h = 0; h < rb->n; h++) {
		if (f.first[h] != h)
			continue;
		struct kp_buf l = KP_BUF_INIT;
		kp_report_fold_label(&f, rb, h, &l);
		if (f.size[h] > 1) {
			size_t nt = kp_report_task_count(&rb->hosts[h]);
			fprintf(c->out, "    %s: the same %zu task%s, shown as for %s\n      ",
				l.buf, nt, nt == 1 ? "" : "s", rb->hosts[h].name);
			for (size_t k = h, n = 0; k < rb->n; k++)
				if (f.first[k] == h)
					fprintf(c->out, "%s%s", n++ ? ", " : "", rb->hosts[k].name);
			fputc('\n', c->out);
		}
		labels[h] = kp_buf_detach(&l, NULL);
	}
	for (size_t i = 0; i < c->nlines; i++) {
		const struct recline *l = &c->lines[i];
		const char *text = c->kept.buf + l->off;
		if (l->host == SIZE_MAX) {
			fwrite(text, 1, l->len, c->out);
			continue;
		}
		const char *name = l->host < rb->n ? labels[l->host] : c->hv[l->host].host->name;
		if (!name)
			continue; /* folded into its group's first host's line */
		fwrite(text, 1, l->indent, c->out);
		fprintf(c->out, "  %s", name);
		fwrite(text + l->indent, 1, l->len - l->indent, c->out);
	}
	for (size_t h = 0; h < rb->n; h++)
		free(labels[h]);
	free(labels);
	kp_report_fold_release(&f);
	kp_buf_reset(&c->kept);
	c->nlines = 0;
}

static kp_rc preview_play(struct pctx *c, size_t pi)
{
	const struct kp_play *p = c->ld->plan->plays[pi];
	struct kp_inventory *inv = &c->ld->inv;
	struct kp_batches bs;
	struct kp_buf warn = KP_BUF_INIT, b = KP_BUF_INIT;
	kp_rc rc;

	rc = kp_batches_compute(p, p->hosts, inv, c->o->limit, &bs, &warn, c->err);
	if (rc)
		return rc;
	if (warn.len)
		fprintf(stderr, "warning: %s", warn.buf);
	kp_buf_release(&warn);

	describe_serial(p, &b);
	outf(c, "\nPLAY %zu/%zu [%s] hosts: %s (%zu host%s)\n", pi + 1, c->ld->plan->nplays,
	     p->name ? p->name : p->hosts, p->hosts, bs.nhosts, bs.nhosts == 1 ? "" : "s");
	kp_buf_addf(&b, ", max_fail_percentage: %d, strategy: %s",
		    p->max_fail_percentage >= 0 ? p->max_fail_percentage : (p->nserial ? 0 : 100),
		    p->strategy == KP_STRATEGY_FREE ? "free" : "linear");
	if (p->become == KP_YES)
		kp_buf_addstr(&b, ", become: true");
	if (p->any_errors_fatal)
		kp_buf_addstr(&b, ", any_errors_fatal: true");
	if (p->run_lock)
		kp_buf_addf(&b, ", run_lock: %s", p->run_lock);
	outf(c, "  %s\n", b.buf);
	if (c->rep)
		kp_report_play(c->rep, pi + 1, c->ld->plan->nplays, p->name, p->hosts, b.buf,
			       bs.nhosts);
	if (p->confirm && bs.nhosts) {
		outf(c, "  %s\n", KP_CONFIRM_NOTE);
		if (c->rep)
			kp_report_play_confirm(c->rep);
	}
	kp_buf_release(&b);
	if (!bs.nhosts) {
		outf(c, "  no hosts matched: play skipped\n");
		kp_batches_release(&bs);
		return KP_OK;
	}

	kp_strlist_release(&c->unknown);
	struct kp_walk uw = {.task = collect_unknown, .ctx = &c->unknown};
	/* what this play and the plays before it register or set: a host
	 * keeps an earlier play's results */
	for (size_t i = 0; i <= pi; i++)
		kp_walk_play(&uw, c->ld->plan->plays[i], true);
	/* facts exist once a host is reached (an earlier play may have
	 * gathered them for a play that does not) */
	for (size_t i = 0; kp_fact_names[i]; i++)
		kp_strlist_push(&c->unknown, kp_fact_names[i]);
	kp_playvars_init(&c->pv, c->ld->plan, p, inv, c->o->extra, bs.hosts, bs.nhosts, c->o->check,
			 c->o->diff, NULL);
	kp_playvars_options(&c->pv,
			    c->o->inventories.n ? &c->o->inventories : &c->o->cfg_inventories,
			    c->o->forks, c->o->limit, &c->o->tags, &c->o->skip_tags);
	c->pv.unknown = (const char *const *)c->unknown.v;
	c->pv.nunknown = c->unknown.n;

	struct kp_strlist playtags = {0};
	kp_tags_effective(&playtags, NULL, p->tags, p->ntags);
	for (size_t bi = 0; bi < bs.n && !rc; bi++) {
		struct kp_batch *batch = &bs.b[bi];
		struct kp_buf hl = KP_BUF_INIT;
		host_list(inv, batch->hosts, batch->n, &hl);
		if (p->wrule.aware) {
			struct kp_buf wd = KP_BUF_INIT;
			kp_window_describe(p, batch->n, c->o->forks, &wd);
			outf(c, "\n  WINDOW over %zu hosts [%s]\n  %s\n", batch->n, hl.buf, wd.buf);
			kp_buf_release(&wd);
		} else if (bs.window)
			outf(c, "\n  SLIDING WINDOW of %d over %zu hosts [%s]\n", bs.window,
			     batch->n, hl.buf);
		else
			outf(c, "\n  BATCH %zu/%zu [%s]\n", bi + 1, bs.n, hl.buf);
		kp_buf_release(&hl);
		if (c->rep) {
			const char **names = kp_xcalloc(batch->n, sizeof(*names));
			for (size_t i = 0; i < batch->n; i++)
				names[i] = inv->hosts[batch->hosts[i]]->name;
			kp_report_batch(c->rep, bi + 1, bs.n, bs.window > 0, names, batch->n);
			free(names);
		}

		c->batch = batch;
		c->hv = kp_xcalloc(batch->n, sizeof(*c->hv));
		struct kp_batchvars bv;
		kp_batchvars_init(&bv, &c->pv, batch->hosts, batch->n, bi + 1, bs.n);
		size_t built = 0;
		for (; built < batch->n; built++) {
			rc = kp_hostvars_init(&c->hv[built], c->L, &c->pv, &bv,
					      inv->hosts[batch->hosts[built]], NULL, NULL, c->err);
			if (rc)
				break;
		}
		/* folded text: the batch's lines are kept until the report
		 * has found its groups */
		c->keep = c->out && c->rep && !c->o->no_fold;
		if (!rc)
			rc = show_sections(c, p, &playtags);
		if (c->keep && !rc)
			print_folded(c);
		c->keep = false;
		for (size_t i = 0; i < built; i++)
			kp_hostvars_release(&c->hv[i]);
		kp_batchvars_release(&bv);
		free(c->hv);
		c->hv = NULL;
	}
	if (!rc && p->nhandlers) {
		outf(
		    c,
		    "\n  HANDLERS (run at the end of each section on hosts that notified them):\n");
		for (size_t i = 0; i < p->nhandlers; i++) {
			const char *mod =
			    p->handlers[i]->module ? p->handlers[i]->module->name : "block";
			outf(c, "    %s (%s)\n", kp_task_display_name(p->handlers[i]), mod);
			if (c->rep) {
				struct kp_buf hb = KP_BUF_INIT;
				kp_buf_addf(&hb, "%s (%s)", kp_task_display_name(p->handlers[i]),
					    mod);
				kp_report_play_handler(c->rep, hb.buf);
				kp_buf_release(&hb);
			}
		}
	}
	kp_strlist_release(&playtags);
	kp_playvars_release(&c->pv);
	kp_batches_release(&bs);
	return rc;
}

kp_rc kp_preview_plan(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out,
		      struct kp_buf *err)
{
	return kp_preview_report(o, ld, out, NULL, err);
}

kp_rc kp_preview_report(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out,
			struct kp_report *rep, struct kp_buf *err)
{
	struct pctx c = {.o = o, .ld = ld, .out = out, .err = err, .rep = rep, .section = "tasks"};
	kp_taskselect_init(&c.select, o->start_at_task, &o->tags, &o->skip_tags);
	kp_rc rc = KP_OK;

	if (rep)
		kp_report_init(rep, KP_REPORT_PLAN, ld->plan->path, &o->inventories, o->limit,
			       &o->tags, &o->skip_tags, o->extra, o->diff);
	if (rep)
		rep->fold = !o->no_fold;

	c.L = kp_lua_new();
	if (out) {
		fprintf(out, "PLAN %s\n", ld->plan->path);
		for (size_t i = 0; i < o->inventories.n; i++)
			fprintf(out, "inventory: %s\n", o->inventories.v[i]);
		if (o->limit)
			fprintf(out, "limit: %s\n", o->limit);
		if (o->extra && kp_map_len(o->extra)) {
			struct kp_buf e = KP_BUF_INIT;
			kp_format_args(o->extra, true, &e);
			fprintf(out, "extra vars: %s\n", e.buf);
			kp_buf_release(&e);
		}
		fprintf(out, "offline preview: no host was contacted; values that only a probe "
			     "can tell show as " KP_UNKNOWN_TEXT "\n");
	}
	for (size_t i = 0; i < ld->plan->nplays && !rc; i++)
		rc = preview_play(&c, i);
	if (!rc && !c.select.started)
		rc = kp_errorf(err, KP_ERR_INVALID, "--start-at-task: no task named '%s'",
			       o->start_at_task);
	kp_strlist_release(&c.unknown);
	kp_buf_release(&c.kept);
	free(c.lines);
	kp_lua_free(c.L);
	return rc;
}

static int no_op(struct kp_walk *w, const struct kp_task *t, const struct kp_strlist *tags)
{
	return 0;
}

kp_rc kp_check_run_scope(const struct kp_runopts *o, struct kp_loaded *ld,
			 const struct kp_play **confirms, struct kp_buf *err)
{
	*confirms = NULL;
	for (size_t i = 0; i < ld->plan->nplays; i++) {
		const struct kp_play *p = ld->plan->plays[i];
		struct kp_batches bs;
		struct kp_buf warn = KP_BUF_INIT; /* the run prints them */
		kp_rc rc = kp_batches_compute(p, p->hosts, &ld->inv, o->limit, &bs, &warn, err);
		kp_buf_release(&warn);
		if (rc)
			return rc;
		if (p->confirm && bs.n && !*confirms)
			*confirms = p;
		kp_batches_release(&bs);
	}
	/* the same tasks a run or a preview can start at: module tasks of the
	 * sections, inside blocks too, not handlers */
	struct kp_taskselect sel;
	kp_taskselect_init(&sel, o->start_at_task, NULL, NULL);
	struct kp_walk w = {.task = no_op, .select = &sel};
	kp_walk_plan(&w, ld->plan, false);
	if (!sel.started)
		return kp_errorf(err, KP_ERR_INVALID, "--start-at-task: no task named '%s'",
				 o->start_at_task);
	return KP_OK;
}
