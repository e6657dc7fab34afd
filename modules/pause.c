/*
 * pause.c - wait a while, or until the operator presses enter.
 *
 * A prompt needs a terminal: without one (a CI job, output piped) there is
 * nobody to answer, and waiting forever would hang the run, so it fails
 * and says how to go on. The prompt is written to /dev/tty so that it
 * shows even when stdout is redirected to a log.
 */
#include "modules/module.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const struct kp_argspec args[] = {
    {.name = "seconds", .type = KP_T_INT, .help = "how long to wait"},
    {.name = "minutes", .type = KP_T_INT, .help = "how long to wait, in minutes"},
    {.name = "prompt", .type = KP_T_STR, .help = "ask the operator and wait for enter"},
    {.name = "echo",
     .type = KP_T_BOOL,
     .def = "true",
     .help = "show what the operator types (false: hidden, as for a password)"},
    {0},
};

static const char *const exclusive[] = {"seconds|minutes", NULL};

static kp_rc ask(struct kp_result *res, const char *prompt, bool echo)
{
	struct kp_buf in = KP_BUF_INIT;
	FILE *tty = fopen("/dev/tty", "w");
	char chunk[256];
	struct termios old, quiet;
	bool hide = !echo && tcgetattr(0, &old) == 0;

	if (tty) {
		fprintf(tty, "%s%s: ", prompt, echo ? "" : " (output is hidden)");
		fflush(tty);
		fclose(tty);
	}
	if (hide) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		char *nl = memchr(chunk, '\n', (size_t)n);
		kp_buf_add(&in, chunk, nl ? (size_t)(nl - chunk) : (size_t)n);
		if (nl)
			break;
	}
	if (hide)
		tcsetattr(0, TCSAFLUSH, &old);
	kp_map_set_take(res->facts, "user_input", kp_value_strn(in.buf, in.len));
	kp_buf_release(&in);
	return KP_OK;
}

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *prompt = kp_arg_str(ctx, "prompt");
	int64_t secs =
	    kp_arg(ctx, "minutes") ? kp_arg_int(ctx, "minutes") * 60 : kp_arg_int(ctx, "seconds");
	bool timed = kp_arg(ctx, "minutes") || kp_arg(ctx, "seconds");
	struct kp_buf d = KP_BUF_INIT;

	kp_buf_reset(&res->msg);
	kp_map_set_take(res->facts, "user_input", kp_value_str(""));
	if (secs < 0)
		return kp_mod_failf(res, "pause: a duration cannot be negative");
	kp_mod_duration_text(secs * 1000, &d);
	if (timed) {
		if (ctx->check_mode) {
			kp_buf_addf(&res->msg, "would pause for %s", d.buf);
		} else {
			if (prompt) {
				FILE *tty = fopen("/dev/tty", "w");
				if (tty) {
					fprintf(tty, "%s (%s)\n", prompt, d.buf);
					fclose(tty);
				}
			}
			if (kp_sleep_interruptible(secs * 1000, ctx->interrupts))
				kp_buf_addf(&res->msg, "pause interrupted");
			else
				kp_buf_addf(&res->msg, "paused for %s", d.buf);
		}
	} else if (ctx->check_mode) {
		kp_buf_addf(&res->msg, "would ask: %s",
			    prompt ? prompt : "press enter to continue");
	} else if (!isatty(0)) {
		kp_mod_failf(res, "pause: a prompt needs a terminal (use seconds: or --yes)");
	} else {
		ask(res, prompt ? prompt : "Press enter to continue", kp_arg_bool(ctx, "echo"));
		kp_buf_addstr(&res->msg, "continued by the operator");
	}
	kp_buf_release(&d);
	return KP_OK;
}

const struct kp_module kp_mod_pause = {
    .name = "pause",
    .summary = "wait or ask",
    .args = args,
    .flags = KP_MOD_READONLY | KP_MOD_LOCAL,
    .exclusive = exclusive,
    .probe = probe,
};
