/*
 * main.c - the kplan command line: parse options, dispatch to a command,
 * turn the outcome into an exit code (cli.md). Only this file exits.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/vault.h"
#include "engine/engine.h"
#include "output/journal.h"
#include "core/redact.h"
#include "kube/kubeapi.h"
#include "transport/transport.h"
#include "model/vars.h"
#include "model/walk.h"
#include "expr/expr.h"
#include "modules/module.h"
#include "output/report.h"

static const char usage_main[] =
    "usage: kplan <command> [options]\n"
    "\n"
    "  run PLAN -i INVENTORY [options]        execute\n"
    "  check PLAN -i INVENTORY [options]      dry run: connect, probe, change nothing\n"
    "  plan PLAN -i INVENTORY [options]       offline preview: no connection at all\n"
    "  validate PLAN [-i INVENTORY]           load and check everything, run nothing\n"
    "  inventory -i INVENTORY --list|--graph [GROUP]|--host NAME\n"
    "  modules [NAME]                         built-in modules and their arguments\n"
    "  runs [RUN_ID]                          past runs from the journal\n"
    "  version\n"
    "\n"
    "'kplan <command> --help' shows a command's options.\n";

static const char usage_run[] =
    "usage: kplan %s PLAN -i INVENTORY [options]\n"
    "\n"
    "  -i, --inventory PATH        inventory file or directory; repeatable\n"
    "  -e, --extra-vars K=V|@FILE  highest-precedence variables; repeatable\n"
    "  -l, --limit PATTERN         restrict hosts (host pattern)\n"
    "  -f, --forks N               hosts worked on at once (default 10)\n"
    "  -t, --tags TAGS             only tasks with these tags\n"
    "      --skip-tags TAGS        skip tasks with these tags\n"
    "      --start-at-task NAME    skip tasks before the first one with that name\n"
    "      --resume [RUN_ID]       continue a failed or interrupted run (default: the\n"
    "                              run that started last)\n"
    "      --force                 with --resume: resume although the plan, the\n"
    "                              inventory, -e, --limit or --tags changed\n"
    "  -C, --check                 same as 'kplan check'\n"
    "  -D, --diff                  show file diffs\n"
    "      --format FMT            text, json or markdown\n"
    "      --detailed-exitcode     check/plan: exit 0 when nothing would change, 10 when\n"
    "                              changes are pending\n"
    "      --no-fold               check/plan previews: list every host, not hosts with\n"
    "                              the same tasks once\n"
    "      --yes                   answer confirmations\n"
    "      --known-hosts FILE      default ~/.ssh/known_hosts\n"
    "      --host-key-checking M   strict (default), accept-new or off\n"
    "      --kubeconfig FILE       for the Kubernetes API\n"
    "      --journal DIR           where run journals live\n"
    "      --timeout DURATION      default per-command timeout (default 10m)\n"
    "      --list-hosts            print the hosts of each play and exit\n"
    "      --list-tasks            print the tasks of each play and exit\n"
    "      --list-tags             print the tags of each play and exit\n"
    "      --syntax-check          check the plan only, as validate does\n"
    "  -u, --user USER             remote user of plays that set none\n"
    "      --private-key FILE      SSH key of hosts that set none\n"
    "  -K, --ask-become-pass       ask for the become password\n"
    "      --become-password-file FILE\n"
    "      --vault-password-file FILE  Ansible Vault password (a script is run)\n"
    "      --vault-id [ID@]FILE|prompt  a vault password for a vault id\n"
    "  -J, --ask-vault-pass        ask for the vault password\n"
    "  -v, -vv, -vvv               more detail\n"
    "      --no-color              no colours\n"
    "\n"
    "ansible.cfg ($ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg,\n"
    "/etc/ansible/ansible.cfg) and ANSIBLE_* variables give defaults.\n";

static const char usage_validate[] =
    "usage: kplan validate PLAN [-i INVENTORY]... [-e VARS]... [-l PATTERN]\n"
    "\n"
    "Loads the plan, every file it imports, its hook files and the inventory, and\n"
    "checks keys, module arguments, expressions, host patterns and variables.\n"
    "Runs nothing. Exit 0 when valid, 2 otherwise.\n";

static const char usage_inventory[] =
    "usage: kplan inventory -i INVENTORY... (--list | --graph [GROUP] | --host NAME)\n"
    "\n"
    "  --list         the resolved inventory as JSON (ansible-inventory's shape)\n"
    "  --graph        the group tree\n"
    "  --host NAME    one host's merged variables as JSON\n"
    "Secrets (*_password, !secret values) print as <hidden>.\n";

static const char usage_modules[] = "usage: kplan modules [NAME]\n"
				    "\n"
				    "Lists the built-in modules, or one module's arguments.\n";

/* Ctrl-C and SIGTERM: the first stops new work (in-flight steps finish up
 * to their timeout, the journal is written, exit 130); the second kills
 * running commands at once. The engine and transports read the count. */
static volatile sig_atomic_t interrupts;

static void on_signal(int sig)
{
	(void)sig;
	if (interrupts < 100)
		interrupts++;
	if (interrupts == 1) {
		static const char msg[] =
		    "\nkplan: interrupted: finishing the steps in flight (again to "
		    "kill them)\n";
		ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
		(void)w;
	}
}

static void install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* a node that closes a pipe must not kill the controller */
	signal(SIGPIPE, SIG_IGN);
}

int kp_cli_usage_error(const char *fmt, ...)
{
	struct kp_buf b = KP_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	kp_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	/* words from the command line may hold line breaks: one line per error */
	kp_buf_escape_newlines(&b, 0);
	fprintf(stderr, "error: %s\n", b.buf);
	kp_buf_release(&b);
	return KP_EXIT_USAGE;
}

int kp_cli_report(const struct kp_buf *err)
{
	fprintf(stderr, "error: %s\n", err->len ? err->buf : "unknown error");
	return KP_EXIT_USAGE;
}

static void collect_secrets(const struct kp_runopts *o, const struct kp_loaded *ld,
			    struct kp_redact *r)
{
	for (size_t i = 0; i < ld->inv.nhosts; i++)
		kp_redact_collect(r, ld->inv.hosts[i]->merged);
	kp_redact_collect(r, o->extra);
	for (size_t i = 0; ld->plan && i < ld->plan->nplays; i++) {
		const struct kp_play *p = ld->plan->plays[i];
		kp_redact_collect(r, p->vars);
		for (size_t k = 0; k < p->nvars_files; k++)
			if (p->vars_files_loaded && p->vars_files_loaded[k])
				kp_redact_collect(r, p->vars_files_loaded[k]);
	}
}

static int count_task(struct kp_walk *w, const struct kp_task *t, const struct kp_strlist *tags)
{
	if (t->module)
		++*(size_t *)w->ctx;
	return 0;
}

/* Whether `confirm: true` can ask anyone (engine.c asks on /dev/tty). */
static bool have_terminal(void)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int cmd_plan_like(struct kp_runopts *o, int argc, char **argv)
{
	const char *usage = !strcmp(o->command, "validate") ? usage_validate : usage_run;
	char *pos[1];
	int npos = 0, rc;
	struct kp_loaded ld;
	struct kp_redact secrets = {0};
	struct kp_buf err = KP_BUF_INIT;

	rc = kp_cli_parse_opts(argc, argv, usage, o, NULL, pos, &npos, 1);
	if (rc >= 0)
		return rc;
	if (npos < 1)
		return kp_cli_usage_error("'kplan %s' needs a plan file (see 'kplan %s --help')",
					  o->command, o->command);
	o->plan_path = pos[0];
	/* --syntax-check: load and check the plan only, as validate does */
	bool validate = !strcmp(o->command, "validate") || o->syntax_check;
	if (!validate && !o->list_tags && !o->inventories.n)
		return kp_cli_usage_error("'kplan %s' needs an inventory: -i FILE or DIRECTORY",
					  o->command);

	if (kp_cli_load(o, &ld, &err)) {
		rc = kp_cli_report(&err);
		goto out;
	}
	collect_secrets(o, &ld, &secrets);
	o->redact = &secrets;
	kp_log_redact = &secrets;
	/* -vvv: SSH and HTTP protocol traces (transport_ssh.c, kubeapi.c).
	 * They are diagnostics for a person: kp_log lines on stderr, in text
	 * whatever --format says, so that the JSON event stream and the
	 * preview documents on stdout stay the same at every -v. */
	if (o->verbose >= 3)
		kp_log_level = KP_LOG_TRACE;
	if (o->list_tags) {
		rc = kp_list_tags(o, &ld, stdout, &err) ? kp_cli_report(&err) : KP_EXIT_OK;
		goto out;
	}
	if (o->syntax_check) {
		printf("\nplaybook: %s\n", o->plan_path);
		rc = KP_EXIT_OK;
		goto out;
	}
	if (o->list_hosts || o->list_tasks) {
		if (o->list_hosts && kp_list_hosts(o, &ld, stdout, &err)) {
			rc = kp_cli_report(&err);
			goto out;
		}
		if (o->list_tasks && kp_list_tasks(o, &ld, stdout, &err)) {
			rc = kp_cli_report(&err);
			goto out;
		}
		rc = KP_EXIT_OK;
		goto out;
	}
	if (validate) {
		/* with an inventory, render every task for every host: this finds
		 * undefined variables and bad host patterns too */
		if (o->inventories.n && kp_preview_plan(o, &ld, NULL, &err)) {
			rc = kp_cli_report(&err);
			goto out;
		}
		size_t ntasks = 0;
		struct kp_walk w = {.task = count_task, .ctx = &ntasks};
		kp_walk_plan(&w, ld.plan, true);
		printf("%s: valid (%zu play%s, %zu task%s", ld.plan->path, ld.plan->nplays,
		       ld.plan->nplays == 1 ? "" : "s", ntasks, ntasks == 1 ? "" : "s");
		if (o->inventories.n)
			printf("; inventory: %zu host%s in %zu groups", ld.inv.nhosts,
			       ld.inv.nhosts == 1 ? "" : "s", ld.inv.ngroups);
		printf(")\n");
		rc = KP_EXIT_OK;
		goto out;
	}
	if (!strcmp(o->command, "plan")) {
		/* the preview is printed only when complete: a review never gets
		 * half a plan. The text is written as the walk makes it, to an
		 * unlinked temporary file (thousands of hosts make megabytes),
		 * copied out once the walk succeeded; markdown and JSON are
		 * rendered from the finished report straight to the output. All
		 * of it goes out through the redactor. */
		struct kp_report rep;
		FILE *tmp = NULL;
		if (o->format == KP_FMT_TEXT && !(tmp = tmpfile())) {
			rc = kp_cli_usage_error("cannot create the preview's temporary file: %s",
						strerror(errno));
			goto out;
		}
		kp_rc prc = kp_preview_report(o, &ld, tmp, &rep, &err);
		/* --detailed-exitcode: a task that would run, or might, and is not
		 * read-only is a pending change (preview.c) */
		bool pending = !prc && kp_report_pending(&rep, NULL) > 0;
		if (!prc && tmp && (fflush(tmp) || ferror(tmp)))
			prc = kp_errorf(&err, KP_ERR_IO, "cannot write the preview: %s",
					strerror(errno));
		if (prc) {
			kp_report_release(&rep);
			if (tmp)
				fclose(tmp);
			rc = kp_cli_report(&err);
			goto out;
		}
		FILE *shown = secrets.n ? kp_redact_stream(&secrets, stdout) : stdout;
		if (tmp) {
			char chunk[65536];
			size_t got;
			rewind(tmp);
			while ((got = fread(chunk, 1, sizeof(chunk), tmp)) > 0)
				fwrite(chunk, 1, got, shown);
			fclose(tmp);
		} else if (o->format == KP_FMT_MARKDOWN) {
			kp_report_markdown(&rep, shown);
		} else {
			kp_report_json(&rep, shown);
		}
		if (shown != stdout)
			fclose(shown);
		kp_report_release(&rep);
		rc = o->detailed_exitcode && pending ? KP_EXIT_CHANGES : KP_EXIT_OK;
		goto out;
	}
	/* run and check: everything was validated above, nothing has connected yet */
	if (o->format == KP_FMT_MARKDOWN && !o->check) {
		rc = kp_cli_usage_error(
		    "'kplan run --format markdown': markdown is a preview format, for "
		    "check and plan; use text or json");
		goto out;
	}
	if (o->resume_given && o->check) {
		rc = kp_cli_usage_error("--resume goes with 'kplan run', not with a check");
		goto out;
	}
	/* cli.md: the option is for check and plan; a run's changes are its job */
	if (o->detailed_exitcode && !o->check) {
		rc = kp_cli_usage_error(
		    "--detailed-exitcode goes with 'kplan check' and 'kplan plan', "
		    "not with 'kplan run'");
		goto out;
	}
	/* bad usage found now still runs nothing: no journal, no run events */
	const struct kp_play *confirms;
	if (kp_check_run_scope(o, &ld, &confirms, &err)) {
		rc = kp_cli_report(&err);
		goto out;
	}
	/* a check never asks (engine.c): it needs no terminal */
	if (confirms && !o->yes && !o->check && !have_terminal()) {
		rc = kp_cli_usage_error(
		    "%s:%d:%d: play '%s' asks for confirmation before each batch and "
		    "there is no terminal (use --yes)",
		    confirms->pos.file, confirms->pos.line, confirms->pos.col,
		    confirms->name ? confirms->name : confirms->hosts);
		goto out;
	}
	fflush(stdout);
	install_signal_handlers();
	o->interrupts = &interrupts;
	/* libraries that keep global state are set up before any worker thread */
	if (kp_transport_ssh_global_init(&err) || kp_kube_global_init(&err)) {
		rc = kp_cli_report(&err);
		goto out;
	}
	/* every line of the run passes the redactor on its way out */
	FILE *shown = secrets.n ? kp_redact_stream(&secrets, stdout) : stdout;
	struct kp_runconf conf;
	kp_cli_runconf(o, &conf);
	rc = kp_run(&conf, &ld, shown);
	if (shown != stdout)
		fclose(shown);
	kp_kube_global_release();
	kp_transport_ssh_global_release();
out:
	kp_loaded_release(&ld);
	kp_log_redact = NULL;
	kp_redact_release(&secrets);
	o->redact = NULL;
	kp_buf_release(&err);
	return rc;
}

static int cmd_inventory(struct kp_runopts *o, int argc, char **argv)
{
	struct kp_invopts io = {0};
	char *pos[1];
	int npos = 0, rc;
	struct kp_loaded ld;
	struct kp_buf err = KP_BUF_INIT, out = KP_BUF_INIT;

	rc = kp_cli_parse_opts(argc, argv, usage_inventory, o, &io, pos, &npos, 1);
	if (rc >= 0)
		return rc;
	if (!o->inventories.n)
		return kp_cli_usage_error("'kplan inventory' needs -i INVENTORY");
	if ((int)io.list + (int)io.graph + (io.host != NULL) != 1)
		return kp_cli_usage_error(
		    "'kplan inventory' needs exactly one of --list, --graph or "
		    "--host NAME");
	if (npos && !io.graph)
		return kp_cli_usage_error("unexpected argument '%s'", pos[0]);
	if (kp_cli_load(o, &ld, &err)) {
		rc = kp_cli_report(&err);
		goto out;
	}
	if (io.list) {
		kp_inventory_list_json(&ld.inv, &out);
	} else if (io.graph) {
		if (npos && !kp_inventory_group(&ld.inv, pos[0])) {
			rc = kp_cli_usage_error("unknown group '%s'", pos[0]);
			goto out;
		}
		kp_inventory_graph(&ld.inv, npos ? pos[0] : NULL, &out);
	} else if (kp_inventory_host_json(&ld.inv, io.host, &out, &err)) {
		rc = kp_cli_report(&err);
		goto out;
	}
	fwrite(out.buf, 1, out.len, stdout);
	if (out.len && out.buf[out.len - 1] != '\n')
		putchar('\n');
	rc = KP_EXIT_OK;
out:
	kp_loaded_release(&ld);
	kp_buf_release(&err);
	kp_buf_release(&out);
	return rc;
}

static const char usage_runs[] =
    "usage: kplan runs [RUN_ID] [--journal DIR]\n"
    "\n"
    "Lists past runs from the journal (default .kplan/runs in the current\n"
    "directory: run it beside the plan, or give --journal), or shows one run.\n";

static int cmd_runs(struct kp_runopts *o, int argc, char **argv)
{
	char *pos[1];
	int npos = 0, rc = kp_cli_parse_opts(argc, argv, usage_runs, o, NULL, pos, &npos, 1);
	struct kp_buf err = KP_BUF_INIT;
	if (rc >= 0)
		return rc;
	const char *dir = o->journal ? o->journal : ".kplan/runs";
	kp_rc r = npos ? kp_runs_show(dir, pos[0], stdout, &err) : kp_runs_list(dir, stdout, &err);
	rc = r ? kp_cli_report(&err) : KP_EXIT_OK;
	kp_buf_release(&err);
	return rc;
}

static void print_module(const struct kp_module *m)
{
	printf("%s - %s\n\n", m->name, m->summary);
	if (m->flags & KP_MOD_ANY_ARGS)
		printf("  takes any key: value pairs\n");
	for (const struct kp_argspec *a = m->args; a && a->name; a++) {
		printf("  %-24s %-12s%s", a->name, kp_argtype_name(a->type),
		       a->required ? " required" : "");
		if (a->def)
			printf(" default: %s", a->def);
		if (a->choices) {
			printf(" one of:");
			for (const char *const *c = a->choices; *c; c++)
				printf(" %s", *c);
		}
		printf("\n");
		if (a->help)
			printf("  %-24s %s\n", "", a->help);
	}
	if (m->free_form)
		printf("\n  a string instead of arguments fills '%s'\n", m->free_form);
	for (const char *const *g = m->one_of; g && *g; g++)
		printf("  exactly one of: %s\n", *g);
	for (const char *const *g = m->exclusive; g && *g; g++)
		printf("  at most one of: %s\n", *g);
}

static int cmd_modules(struct kp_runopts *o, int argc, char **argv)
{
	char *pos[1];
	int npos = 0, rc = kp_cli_parse_opts(argc, argv, usage_modules, o, NULL, pos, &npos, 1);
	if (rc >= 0)
		return rc;
	if (npos) {
		const struct kp_module *m = kp_module_find(pos[0]);
		if (!m) {
			struct kp_buf msg = KP_BUF_INIT;
			kp_module_unknown_text(pos[0], &msg);
			if (!strchr(msg.buf, '('))
				kp_buf_addstr(&msg, " (see 'kplan modules')");
			rc = kp_cli_usage_error("%s", msg.buf);
			kp_buf_release(&msg);
			return rc;
		}
		print_module(m);
		return KP_EXIT_OK;
	}
	for (size_t i = 0; i < kp_nmodules; i++)
		printf("%-16s %s\n", kp_modules[i]->name, kp_modules[i]->summary);
	return KP_EXIT_OK;
}

/* The commands, as git's commands[]: each one's function gets the options
 * with its defaults and the arguments after the command's name. */
struct command {
	const char *name;
	int (*fn)(struct kp_runopts *o, int argc, char **argv);
	bool check; /* the command is a check (`kplan check`) */
};

static const struct command commands[] = {
    {"run", cmd_plan_like, false},	 {"check", cmd_plan_like, true},
    {"plan", cmd_plan_like, false},	 {"validate", cmd_plan_like, false},
    {"inventory", cmd_inventory, false}, {"modules", cmd_modules, false},
    {"runs", cmd_runs, false},
};

int main(int argc, char **argv)
{
	struct kp_runopts o = {0};
	int rc;

	if (argc < 2) {
		fputs(usage_main, stderr);
		return KP_EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
		fputs(usage_main, stdout);
		return KP_EXIT_OK;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		kp_print_version(stdout, KP_VERSION);
		return KP_EXIT_OK;
	}
	o.command = cmd;
	o.extra = kp_value_map();
	o.forks = 10;
	o.timeout_ms = 600000;
	o.host_key_checking = "strict";
	if (getenv("NO_COLOR") || !isatty(STDOUT_FILENO))
		o.no_color = true;

	const struct command *c = NULL;
	for (size_t i = 0; i < KP_ARRAY_LEN(commands) && !c; i++)
		if (!strcmp(cmd, commands[i].name))
			c = &commands[i];
	if (c) {
		o.check = c->check;
		rc = c->fn(&o, argc - 1, argv + 1);
	} else {
		const char *names[KP_ARRAY_LEN(commands) + 1];
		for (size_t i = 0; i < KP_ARRAY_LEN(commands); i++)
			names[i] = commands[i].name;
		names[KP_ARRAY_LEN(commands)] = "version";
		const char *sg = kp_suggest(cmd, names, KP_ARRAY_LEN(names));
		if (sg)
			rc = kp_cli_usage_error("unknown command '%s' (did you mean '%s'?)", cmd,
						sg);
		else
			rc = kp_cli_usage_error("unknown command '%s' (see 'kplan --help')", cmd);
	}
	kp_cli_opts_release(&o);
	return rc;
}
