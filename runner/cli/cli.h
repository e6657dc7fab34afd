/*
 * cli.h - the options of one kplan invocation and the commands that use them.
 *
 * main.c parses argv into a struct kp_runopts; each command gets it. Only
 * main and option parsing may exit.
 */
#ifndef KP_CLI_H
#define KP_CLI_H

#include <signal.h>
#include <stdio.h>

#include "core/value.h"
#include "engine/engine.h"
#include "model/load.h"
#include "model/tags.h"
#include "output/output.h"

struct kp_redact;

struct kp_runopts {
	const char *command; /* run, check, plan, validate */
	const char *plan_path;
	struct kp_strlist inventories;
	struct kp_value *extra;	      /* map of -e */
	struct kp_strlist extra_args; /* the -e arguments as given */
	const char *limit;
	int forks;
	struct kp_strlist tags, skip_tags;
	const char *start_at_task;
	bool check, diff, detailed_exitcode, yes, list_hosts, list_tasks, no_color;
	bool no_fold; /* previews list every host: no folding of hosts with the same tasks */
	bool list_tags, syntax_check;
	enum kp_format format;
	int verbose;
	const char *known_hosts, *host_key_checking, *kubeconfig, *journal, *resume;
	bool resume_given;
	bool force; /* --force: resume although the plan or inventory changed */
	int64_t timeout_ms;
	/* secret values to hide in everything printed and journaled (or NULL) */
	const struct kp_redact *redact;
	/* --vault-id [ID@]SOURCE and --vault-password-file FILE (as default@FILE) */
	struct kp_strlist vault_ids;
	bool ask_vault_pass;
	/* ansible.cfg (ansible_cfg.c) and the options of the same meaning */
	struct kp_ansible_cfg *cfg;	   /* owns the strings below */
	const char *cfg_path;		   /* the file read, or NULL */
	const char *roles_path;		   /* stored; kplan has no roles */
	struct kp_strlist cfg_inventories; /* used when no -i is given */
	struct kp_strlist cfg_notes;	   /* settings ignored, shown with -v */
	struct kp_value *conn_defaults;	   /* lowest-precedence host variables */
	/* play keywords' defaults: remote_user (-u), become, become_user */
	const char *default_remote_user, *default_become_user;
	int default_become;		  /* 0: not set, 1: become, 2: do not */
	bool ask_become_pass;		  /* -K, become_ask_pass */
	const char *become_password_file; /* --become-password-file */
	/* Ctrl-C / SIGTERM count, kept by main's signal handler (or NULL) */
	const volatile sig_atomic_t *interrupts;
};

/* kp_load_all for the options' plan, inventories and -e. */
kp_rc kp_cli_load(const struct kp_runopts *o, struct kp_loaded *ld, struct kp_buf *err);
/* The engine's view of the options (borrowed: valid while o is). */
void kp_cli_runconf(const struct kp_runopts *o, struct kp_runconf *rc);

/* The offline preview of `kplan plan`; also --list-hosts and --list-tasks. */
kp_rc kp_preview_plan(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out,
		      struct kp_buf *err);
/* The same walk, also filling rep (report.h; initialized here, released by
 * the caller) for --format markdown/json and --detailed-exitcode. */
struct kp_report;
kp_rc kp_preview_report(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out,
			struct kp_report *rep, struct kp_buf *err);
/* What a run or check is asked to do, checked before anything runs (exit 2
 * material): the --limit names hosts or groups of the inventory, the
 * --start-at-task names a task. *confirms: the first play with hosts that
 * asks for confirmation before its batches, or NULL. */
kp_rc kp_check_run_scope(const struct kp_runopts *o, struct kp_loaded *ld,
			 const struct kp_play **confirms, struct kp_buf *err);
kp_rc kp_list_hosts(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out,
		    struct kp_buf *err);
kp_rc kp_list_tasks(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out,
		    struct kp_buf *err);
/* `kplan --version`: kplan's and its libraries' versions (version.c). */
void kp_print_version(FILE *out, const char *kplan_version);
/* --list-tags, in ansible-playbook's words (list_tags.c). */
kp_rc kp_list_tags(const struct kp_runopts *o, struct kp_loaded *ld, FILE *out, struct kp_buf *err);

/* ansible.cfg and ANSIBLE_* settings as defaults of o (ansible_cfg.c):
 * called before the command line is parsed, which then wins. */
struct kp_ansible_cfg;
kp_rc kp_ansible_cfg_apply(struct kp_runopts *o, struct kp_buf *err);
void kp_ansible_cfg_free(struct kp_ansible_cfg *c);

/* The run's vault passwords (vault_opts.c): ANSIBLE_VAULT_PASSWORD_FILE,
 * then each of ids ("[ID@]FILE", "[ID@]prompt"), then a prompt when ask;
 * handed to kp_vault_set before anything loads. */
kp_rc kp_cli_vault_setup(const struct kp_strlist *ids, bool ask, struct kp_buf *err);
/* Ask on /dev/tty without echo ("what" names it in errors: "cannot ask
 * for WHAT: no terminal"). */
kp_rc kp_cli_prompt_secret(const char *prompt, const char *what, struct kp_buf *out,
			   struct kp_buf *err);

/* `key=value` rendering of arguments used by previews: strings bare when
 * they are simple words, everything else as JSON. */
void kp_format_args(const struct kp_value *args, bool hide, struct kp_buf *out);

/* options.c: the options of a command (usage: its --help text) into o;
 * positional words into pos (at most maxpos); io for `kplan inventory`'s
 * own options (or NULL). A usage error's exit code, or -1 to go on. */
struct kp_invopts {
	bool list, graph;
	const char *host;
};
int kp_cli_parse_opts(int argc, char **argv, const char *usage, struct kp_runopts *o,
		      struct kp_invopts *io, char **pos, int *npos, int maxpos);
void kp_cli_opts_release(struct kp_runopts *o);
/* main.c: print "error: MESSAGE" (one line) and give exit code 2; print a
 * kplan error and give exit code 2. */
int kp_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kp_cli_report(const struct kp_buf *err);

#endif
