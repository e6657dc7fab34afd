/*
 * runopts.c - the command line's options as the layers below take them:
 * the loader's struct kp_loadopts and the engine's struct kp_runconf are
 * plain structs of their own, filled from struct kp_runopts here, so that
 * nothing below cli/ knows the command line.
 */
#include "cli/cli.h"

kp_rc kp_cli_load(const struct kp_runopts *o, struct kp_loaded *ld, struct kp_buf *err)
{
	struct kp_loadopts lo = {.plan_path = o->plan_path,
				 .inventories = &o->inventories,
				 .extra = o->extra,
				 .conn_defaults = o->conn_defaults,
				 .default_remote_user = o->default_remote_user,
				 .default_become_user = o->default_become_user,
				 .default_become = o->default_become};
	kp_rc rc = kp_load_all(&lo, ld, err);
	/* warnings go to stderr whatever --format says: stdout stays the
	 * command's document */
	for (size_t i = 0; !rc && ld->plan && i < ld->plan->warnings.n; i++)
		fprintf(stderr, "warning: %s\n", ld->plan->warnings.v[i]);
	return rc;
}

void kp_cli_runconf(const struct kp_runopts *o, struct kp_runconf *rc)
{
	*rc = (struct kp_runconf){
	    .plan_path = o->plan_path,
	    .inventories = o->inventories,
	    .extra = o->extra,
	    .extra_args = o->extra_args,
	    .limit = o->limit,
	    .tags = o->tags,
	    .skip_tags = o->skip_tags,
	    .start_at_task = o->start_at_task,
	    .check = o->check,
	    .diff = o->diff,
	    .detailed_exitcode = o->detailed_exitcode,
	    .no_fold = o->no_fold,
	    .yes = o->yes,
	    .no_color = o->no_color,
	    .format = o->format,
	    .forks = o->forks,
	    .verbose = o->verbose,
	    .known_hosts = o->known_hosts,
	    .host_key_checking = o->host_key_checking,
	    .kubeconfig = o->kubeconfig,
	    .journal = o->journal,
	    .resume = o->resume,
	    .resume_given = o->resume_given,
	    .force = o->force,
	    .timeout_ms = o->timeout_ms,
	    .redact = o->redact,
	    .interrupts = o->interrupts,
	};
}
