/*
 * runjournal.c - the run journal as the engine keeps it: where it lives,
 * the run's record (command, arguments, plan and inventory digests) at
 * the start, and how to resume a run that did not finish.
 */
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

/* The journal's directory: --journal, else .kplan/runs beside the plan. */
static void journal_dir(const struct kp_engine *e, struct kp_buf *out)
{
	if (e->o->journal)
		kp_buf_addstr(out, e->o->journal);
	else
		kp_buf_addf(out, "%s/.kplan/runs", e->ld->plan->dir);
}

/* What a resume must repeat so that the same tasks meet the same hosts. */
static struct kp_value *run_args(const struct kp_runconf *o)
{
	struct kp_value *a = kp_value_map();
	if (o->limit)
		kp_map_set_take(a, "limit", kp_value_str(o->limit));
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < o->extra_args.n; i++) {
		/* the journal is a file at rest: "x_password=VALUE" words are
		 * kept as "x_password=<hidden>" (@FILE and JSON forms as given) */
		struct kp_buf w = KP_BUF_INIT;
		const char *s = o->extra_args.v[i];
		char first = s[strspn(s, " \t")];
		if (first == '{' || first == '@') { /* JSON or a file: as given */
			kp_buf_addstr(&w, s);
			s += strlen(s);
		}
		while (*s) {
			size_t sp = strspn(s, " \t"), n = strcspn(s + sp, " \t");
			const char *eq = memchr(s + sp, '=', n);
			kp_buf_add(&w, s, sp);
			char *name = eq ? kp_xstrndup(s + sp, (size_t)(eq - (s + sp))) : NULL;
			bool hidden = name && kp_secret_name(name);
			free(name);
			if (hidden) {
				kp_buf_add(&w, s + sp, (size_t)(eq + 1 - (s + sp)));
				kp_buf_addstr(&w, "<hidden>");
			} else {
				kp_buf_add(&w, s + sp, n);
			}
			s += sp + n;
		}
		kp_list_push_take(l, kp_value_str(w.len ? w.buf : ""));
		kp_buf_release(&w);
	}
	kp_map_set_take(a, "extra_vars", l);
	l = kp_value_list();
	for (size_t i = 0; i < o->tags.n; i++)
		kp_list_push_take(l, kp_value_str(o->tags.v[i]));
	kp_map_set_take(a, "tags", l);
	l = kp_value_list();
	for (size_t i = 0; i < o->skip_tags.n; i++)
		kp_list_push_take(l, kp_value_str(o->skip_tags.v[i]));
	kp_map_set_take(a, "skip_tags", l);
	return a;
}

/* Open the run's journal and, with --resume, read the run it continues.
 * Returns an exit code when the run must not start, else -1. */
int kp_journal_start_run(struct kp_engine *e)
{
	const struct kp_runconf *o = e->o;
	struct kp_buf dir = KP_BUF_INIT, err = KP_BUF_INIT;
	struct kp_run_identity id = {.plan = e->ld->plan->path,
				     .inventories = (const char *const *)o->inventories.v,
				     .ninventories = o->inventories.n,
				     .command = "run"};
	int code = -1;

	if (o->check)
		return -1; /* a check changes nothing: nothing to resume */
	journal_dir(e, &dir);
	if (kp_files_sha256((const char *const *)e->ld->plan->files, e->ld->plan->nfiles,
			    id.plan_sha256, &err) ||
	    kp_files_sha256(id.inventories, id.ninventories, id.inventory_sha256, &err)) {
		kp_out_note(&e->out, "error: %s", err.buf);
		code = KP_EXIT_USAGE;
		goto out;
	}
	id.args = run_args(o);
	if (o->resume_given) {
		kp_rc lrc = kp_resume_load(dir.buf, o->resume, &e->resume, &err);
		if (lrc) {
			kp_out_note(&e->out, "error: --resume: %s", err.buf);
			code = lrc == KP_ERR_LOCKED ? KP_EXIT_LOCKED : KP_EXIT_USAGE;
			goto out;
		}
		e->resuming = true;
		const char *what = strcmp(e->resume.plan_sha256, id.plan_sha256) ? "plan"
				   : strcmp(e->resume.inventory_sha256, id.inventory_sha256)
				       ? "inventory"
				       : NULL;
		if (what && !o->force) {
			kp_out_note(&e->out,
				    "error: --resume: the %s changed since run %s: check the "
				    "difference, then resume with --force, or start a new run",
				    what, e->resume.run_id);
			code = KP_EXIT_USAGE;
			goto out;
		}
		struct kp_buf which = KP_BUF_INIT;
		if (kp_resume_args_differ(&e->resume, id.args, &which) && !o->force) {
			/* other hosts or other tasks: what was done is not what is left */
			kp_out_note(&e->out,
				    "error: --resume: run %s ran with other arguments (%s): resume "
				    "with the same -e, --limit, --tags and --skip-tags, or with "
				    "--force, or start a new run",
				    e->resume.run_id, which.buf);
			kp_buf_release(&which);
			code = KP_EXIT_USAGE;
			goto out;
		}
		kp_buf_release(&which);
		/* registered values of the tasks that will be skipped */
		for (size_t i = 0; i < kp_map_len(e->resume.facts); i++) {
			const struct kp_host *h =
			    kp_inventory_host(&e->ld->inv, kp_map_key(e->resume.facts, i));
			if (h)
				kp_map_update(e->hosts[h->index]->facts,
					      kp_map_val(e->resume.facts, i));
		}
	}
	kp_rc rc =
	    kp_journal_open(&e->journal, dir.buf, &id, e->resuming ? e->resume.run_id : NULL, &err);
	if (rc) {
		kp_out_note(&e->out, "error: %s", err.buf);
		code = KP_EXIT_USAGE;
		goto out;
	}
	e->journaling = true;
	e->journal.redact = o->redact;
	if (e->resuming)
		/* what the chain of runs did: a resume of this run skips it too */
		kp_journal_carry(&e->journal, &e->resume);
	if (e->resuming)
		/* nodes the earlier run left cordoned are still this run's to uncordon */
		for (size_t i = 0; i < kp_map_len(e->resume.cordoned); i++)
			kp_journal_cordon(&e->journal, kp_map_val(e->resume.cordoned, i)->u.str.s,
					  kp_map_key(e->resume.cordoned, i), true);
out:
	kp_value_unref((struct kp_value *)id.args);
	kp_buf_release(&dir);
	kp_buf_release(&err);
	return code;
}

void kp_engine_journal_check(struct kp_engine *e)
{
	struct kp_buf msg = KP_BUF_INIT;
	if (!e->journaling || !kp_journal_failed(&e->journal, &msg))
		return;
	pthread_mutex_lock(&e->lock);
	if (!e->journal_broken) {
		/* a resume reads the journal to know what is done: without it,
		 * every step taken now would be taken again */
		e->journal_broken = true;
		kp_out_note(&e->out, "error: %s: no new task starts", msg.buf);
		e->stop_run = true;
		free(e->stop_reason);
		struct kp_buf r = KP_BUF_INIT;
		kp_buf_addf(&r, "stopped: %s", msg.buf);
		e->stop_reason = kp_buf_detach(&r, NULL);
	}
	pthread_mutex_unlock(&e->lock);
	kp_buf_release(&msg);
}

static void add_word(struct kp_buf *b, const char *w)
{
	kp_buf_addch(b, ' ');
	if (w[strcspn(w, " \t'\"$`\\;&|<>*?()[]{}!#~")])
		kp_sh_quote(b, w);
	else
		kp_buf_addstr(b, w);
}

/* On every exit but success: the nodes left cordoned and the exact command
 * that finishes the rollout. */
void kp_tell_how_to_resume(struct kp_engine *e)
{
	const struct kp_runconf *o = e->o;
	const struct kp_value *c = e->journal.cordoned;
	if (kp_map_len(c)) {
		struct kp_buf b = KP_BUF_INIT;
		for (size_t i = 0; i < kp_map_len(c); i++)
			kp_buf_addf(&b, "%s%s", i ? ", " : "", kp_map_key(c, i));
		kp_out_note(&e->out, "nodes left cordoned by this run: %s", b.buf);
		kp_buf_release(&b);
	} else {
		kp_out_note(&e->out, "no node was left cordoned by this run");
	}
	struct kp_buf cmd = KP_BUF_INIT;
	kp_buf_addstr(&cmd, "kplan run");
	add_word(&cmd, e->ld->plan->path);
	for (size_t i = 0; i < o->inventories.n; i++) {
		kp_buf_addstr(&cmd, " -i");
		add_word(&cmd, o->inventories.v[i]);
	}
	for (size_t i = 0; i < o->extra_args.n; i++) {
		kp_buf_addstr(&cmd, " -e");
		add_word(&cmd, o->extra_args.v[i]);
	}
	if (o->limit) {
		kp_buf_addstr(&cmd, " -l");
		add_word(&cmd, o->limit);
	}
	for (size_t i = 0; i < o->tags.n; i++) {
		kp_buf_addstr(&cmd, " -t");
		add_word(&cmd, o->tags.v[i]);
	}
	for (size_t i = 0; i < o->skip_tags.n; i++) {
		kp_buf_addstr(&cmd, " --skip-tags");
		add_word(&cmd, o->skip_tags.v[i]);
	}
	if (o->kubeconfig) {
		kp_buf_addstr(&cmd, " --kubeconfig");
		add_word(&cmd, o->kubeconfig);
	}
	if (o->known_hosts) {
		kp_buf_addstr(&cmd, " --known-hosts");
		add_word(&cmd, o->known_hosts);
	}
	if (o->journal) {
		kp_buf_addstr(&cmd, " --journal");
		add_word(&cmd, o->journal);
	}
	kp_buf_addf(&cmd, " --resume %s", e->journal.run_id);
	kp_out_note(&e->out, "to finish this rollout: %s", cmd.buf);
	kp_buf_release(&cmd);
}
