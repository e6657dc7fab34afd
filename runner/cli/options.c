/*
 * options.c - the command line's options into a struct kp_runopts: getopt
 * over every option of every command (each command's usage text says
 * which it takes), -e values and files, vault and become passwords,
 * ansible.cfg's defaults under them. Errors are usage errors (exit 2).
 */
#include <ctype.h>
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

void kp_cli_opts_release(struct kp_runopts *o)
{
	kp_strlist_release(&o->inventories);
	kp_strlist_release(&o->tags);
	kp_strlist_release(&o->skip_tags);
	kp_strlist_release(&o->extra_args);
	kp_strlist_release(&o->vault_ids);
	kp_strlist_release(&o->cfg_inventories);
	kp_strlist_release(&o->cfg_notes);
	kp_value_unref(o->conn_defaults);
	kp_ansible_cfg_free(o->cfg);
	kp_value_unref(o->extra);
	kp_vault_clear();
}

enum {
	OPT_SKIP_TAGS = 1000,
	OPT_START_AT,
	OPT_RESUME,
	OPT_FORMAT,
	OPT_DETAILED,
	OPT_YES,
	OPT_KNOWN_HOSTS,
	OPT_HKC,
	OPT_KUBECONFIG,
	OPT_JOURNAL,
	OPT_TIMEOUT,
	OPT_LIST_HOSTS,
	OPT_LIST_TASKS,
	OPT_NO_COLOR,
	OPT_FORCE,
	OPT_LIST,
	OPT_GRAPH,
	OPT_HOST,
	OPT_VAULT_FILE,
	OPT_VAULT_ID,
	OPT_ASK_VAULT,
	OPT_BECOME_PW_FILE,
	OPT_PRIVATE_KEY,
	OPT_LIST_TAGS,
	OPT_SYNTAX_CHECK,
	OPT_NO_FOLD,
};

static const struct option long_opts[] = {
    {"inventory", required_argument, NULL, 'i'},
    {"extra-vars", required_argument, NULL, 'e'},
    {"limit", required_argument, NULL, 'l'},
    {"forks", required_argument, NULL, 'f'},
    {"tags", required_argument, NULL, 't'},
    {"skip-tags", required_argument, NULL, OPT_SKIP_TAGS},
    {"start-at-task", required_argument, NULL, OPT_START_AT},
    {"resume", optional_argument, NULL, OPT_RESUME},
    {"check", no_argument, NULL, 'C'},
    {"diff", no_argument, NULL, 'D'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"detailed-exitcode", no_argument, NULL, OPT_DETAILED},
    {"no-fold", no_argument, NULL, OPT_NO_FOLD},
    {"yes", no_argument, NULL, OPT_YES},
    {"known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS},
    {"host-key-checking", required_argument, NULL, OPT_HKC},
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"journal", required_argument, NULL, OPT_JOURNAL},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"list-hosts", no_argument, NULL, OPT_LIST_HOSTS},
    {"list-tasks", no_argument, NULL, OPT_LIST_TASKS},
    {"verbose", no_argument, NULL, 'v'},
    {"no-color", no_argument, NULL, OPT_NO_COLOR},
    {"force", no_argument, NULL, OPT_FORCE},
    {"list", no_argument, NULL, OPT_LIST},
    {"graph", no_argument, NULL, OPT_GRAPH},
    {"host", required_argument, NULL, OPT_HOST},
    {"vault-password-file", required_argument, NULL, OPT_VAULT_FILE},
    {"vault-pass-file", required_argument, NULL, OPT_VAULT_FILE},
    {"vault-id", required_argument, NULL, OPT_VAULT_ID},
    {"ask-vault-pass", no_argument, NULL, OPT_ASK_VAULT},
    {"ask-vault-password", no_argument, NULL, OPT_ASK_VAULT},
    {"ask-become-pass", no_argument, NULL, 'K'},
    {"become-password-file", required_argument, NULL, OPT_BECOME_PW_FILE},
    {"become-pass-file", required_argument, NULL, OPT_BECOME_PW_FILE},
    {"user", required_argument, NULL, 'u'},
    {"private-key", required_argument, NULL, OPT_PRIVATE_KEY},
    {"key-file", required_argument, NULL, OPT_PRIVATE_KEY},
    {"list-tags", no_argument, NULL, OPT_LIST_TAGS},
    {"syntax-check", no_argument, NULL, OPT_SYNTAX_CHECK},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* 20261121T014800Z-ab12cd */
static bool is_run_id(const char *s)
{
	size_t n = strlen(s);
	if (n != 23 || s[8] != 'T' || s[15] != 'Z' || s[16] != '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (i != 8 && i != 15 && i != 16 && !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

static void set_conn_default(struct kp_runopts *o, const char *var, const char *val)
{
	if (!o->conn_defaults)
		o->conn_defaults = kp_value_map();
	kp_map_set_take(o->conn_defaults, var, kp_value_str(val));
}

/* -K (asked on the terminal) or --become-password-file: the become
 * password as the lowest-precedence ansible_become_password (a *_password
 * variable: hidden wherever kplan prints). */
static kp_rc become_password(struct kp_runopts *o, struct kp_buf *err)
{
	struct kp_buf pw = KP_BUF_INIT;
	kp_rc rc = KP_OK;
	if (o->become_password_file) {
		rc = kp_read_file(o->become_password_file, 1u << 16, &pw, err);
		while (!rc && pw.len && (pw.buf[pw.len - 1] == '\n' || pw.buf[pw.len - 1] == '\r'))
			pw.buf[--pw.len] = '\0';
	} else if (o->ask_become_pass) {
		rc = kp_cli_prompt_secret("BECOME password: ", "the become password", &pw, err);
	} else {
		return KP_OK;
	}
	if (!rc)
		set_conn_default(o, "ansible_become_password", pw.buf);
	kp_buf_release(&pw);
	return rc;
}

/* Parse the options after the command word. Returns -1 to go on, else an
 * exit code. Positional arguments land in pos[]. */
int kp_cli_parse_opts(int argc, char **argv, const char *usage, struct kp_runopts *o,
		      struct kp_invopts *io, char **pos, int *npos, int maxpos)
{
	struct kp_buf err = KP_BUF_INIT;
	int c;

	optind = 1;
	opterr = 0;
	/* ansible.cfg and ANSIBLE_* first: the options below win */
	if (strcmp(o->command, "modules") && strcmp(o->command, "runs") &&
	    kp_ansible_cfg_apply(o, &err)) {
		int rc = kp_cli_report(&err);
		kp_buf_release(&err);
		return rc;
	}
	for (;;) {
		c = getopt_long(argc, argv, "+:i:e:l:f:t:u:CDJKvh", long_opts, NULL);
		if (c == -1) {
			/* '+' stops at the first positional: take it and go on */
			if (optind >= argc)
				break;
			if (!strcmp(argv[optind - 1], "--") && optind > 1) {
				while (optind < argc) {
					if (*npos >= maxpos)
						return kp_cli_usage_error(
						    "unexpected argument '%s' (see "
						    "'kplan %s --help')",
						    argv[optind], o->command);
					pos[(*npos)++] = argv[optind++];
				}
				break;
			}
			/* `--resume RUN_ID`: the run id may follow as its own word */
			if (o->resume_given && !o->resume && argv[optind - 1] &&
			    !strcmp(argv[optind - 1], "--resume") && is_run_id(argv[optind])) {
				o->resume = argv[optind++];
				continue;
			}
			if (*npos >= maxpos)
				return kp_cli_usage_error(
				    "unexpected argument '%s' (see 'kplan %s --help')",
				    argv[optind], o->command);
			pos[(*npos)++] = argv[optind++];
			continue;
		}
		switch (c) {
		case 'i':
			kp_strlist_push(&o->inventories, optarg);
			break;
		case 'e':
			/* loaded once the vault passwords are known (below) */
			kp_strlist_push(&o->extra_args, optarg);
			break;
		case OPT_VAULT_FILE: {
			struct kp_buf b = KP_BUF_INIT;
			kp_buf_addf(&b, "default@%s", optarg);
			kp_strlist_push(&o->vault_ids, b.buf);
			kp_buf_release(&b);
			break;
		}
		case OPT_VAULT_ID:
			kp_strlist_push(&o->vault_ids, optarg);
			break;
		case 'J':
		case OPT_ASK_VAULT:
			o->ask_vault_pass = true;
			break;
		case 'K':
			o->ask_become_pass = true;
			break;
		case OPT_BECOME_PW_FILE:
			o->become_password_file = optarg;
			break;
		case 'u':
			o->default_remote_user = optarg;
			break;
		case OPT_PRIVATE_KEY:
			set_conn_default(o, "ansible_ssh_private_key_file", optarg);
			break;
		case OPT_LIST_TAGS:
			o->list_tags = true;
			break;
		case OPT_SYNTAX_CHECK:
			o->syntax_check = true;
			break;
		case 'l':
			o->limit = optarg;
			break;
		case 'f': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || n < 1 || n > 10000)
				return kp_cli_usage_error(
				    "--forks takes a number from 1 to 10000, not '%s'", optarg);
			o->forks = (int)n;
			break;
		}
		case 't':
			kp_strlist_push_csv(&o->tags, optarg);
			break;
		case OPT_SKIP_TAGS:
			kp_strlist_push_csv(&o->skip_tags, optarg);
			break;
		case OPT_START_AT:
			o->start_at_task = optarg;
			break;
		case OPT_RESUME:
			o->resume_given = true;
			o->resume = optarg;
			break;
		case 'C':
			o->check = true;
			break;
		case 'D':
			o->diff = true;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "text"))
				o->format = KP_FMT_TEXT;
			else if (!strcmp(optarg, "json"))
				o->format = KP_FMT_JSON;
			else if (!strcmp(optarg, "markdown"))
				o->format = KP_FMT_MARKDOWN;
			else
				return kp_cli_usage_error(
				    "--format takes text, json or markdown, not '%s'", optarg);
			break;
		case OPT_DETAILED:
			o->detailed_exitcode = true;
			break;
		case OPT_NO_FOLD:
			o->no_fold = true;
			break;
		case OPT_YES:
			o->yes = true;
			break;
		case OPT_KNOWN_HOSTS:
			o->known_hosts = optarg;
			break;
		case OPT_HKC:
			if (strcmp(optarg, "strict") && strcmp(optarg, "accept-new") &&
			    strcmp(optarg, "off"))
				return kp_cli_usage_error(
				    "--host-key-checking takes strict, accept-new or "
				    "off, not '%s'",
				    optarg);
			o->host_key_checking = optarg;
			break;
		case OPT_KUBECONFIG:
			o->kubeconfig = optarg;
			break;
		case OPT_JOURNAL:
			o->journal = optarg;
			break;
		case OPT_TIMEOUT:
			if (kp_parse_duration(optarg, &o->timeout_ms) || o->timeout_ms <= 0)
				return kp_cli_usage_error(
				    "--timeout takes a duration like 30s, 10m or 1h, "
				    "not '%s'",
				    optarg);
			break;
		case OPT_LIST_HOSTS:
			o->list_hosts = true;
			break;
		case OPT_LIST_TASKS:
			o->list_tasks = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case OPT_FORCE:
			o->force = true;
			break;
		case OPT_NO_COLOR:
			o->no_color = true;
			break;
		case OPT_LIST:
			if (!io)
				goto unknown;
			io->list = true;
			break;
		case OPT_GRAPH:
			if (!io)
				goto unknown;
			io->graph = true;
			break;
		case OPT_HOST:
			if (!io)
				goto unknown;
			io->host = optarg;
			break;
		case 'h':
			printf(usage, o->command);
			return KP_EXIT_OK;
		case ':':
			return kp_cli_usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
		unknown:
			if (optopt && optopt < 256)
				return kp_cli_usage_error(
				    "unknown option '-%c' (see 'kplan %s --help')", optopt,
				    o->command);
			return kp_cli_usage_error("unknown option '%s' (see 'kplan %s --help')",
						  argv[optind - 1], o->command);
		}
	}
	if (!o->inventories.n)
		for (size_t i = 0; i < o->cfg_inventories.n; i++)
			kp_strlist_push(&o->inventories, o->cfg_inventories.v[i]);
	if (o->verbose)
		for (size_t i = 0; i < o->cfg_notes.n; i++)
			fprintf(stderr, "kplan: note: %s\n", o->cfg_notes.v[i]);
	if (become_password(o, &err) ||
	    kp_cli_vault_setup(&o->vault_ids, o->ask_vault_pass, &err)) {
		int rc = kp_cli_report(&err);
		kp_buf_release(&err);
		return rc;
	}
	for (size_t i = 0; i < o->extra_args.n; i++)
		if (kp_extra_vars_add(o->extra, o->extra_args.v[i], &err)) {
			int rc = kp_cli_report(&err);
			kp_buf_release(&err);
			return rc;
		}
	return -1;
}

/* Every secret value the run knows of: *_password variables and !secret
 * values of the inventory, the plays, their vars_files and -e. */
