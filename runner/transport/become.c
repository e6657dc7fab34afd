/* become.c - become, command words, capped output and the stdin feed that
 * every transport shares; see become.h. */
#include "transport/become.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "transport/transport.h"

const struct kp_become *kp_exec_become(const struct kp_conn *c, const struct kp_exec_req *req)
{
	return req->become ? req->become : &c->become;
}

kp_rc kp_become_check(const struct kp_become *b, struct kp_buf *err)
{
	if (b->user && b->method && strcmp(b->method, "sudo"))
		return kp_errorf(err, KP_ERR_INVALID,
				 "become method '%s' is not supported (kplan becomes with sudo)",
				 b->method);
	return KP_OK;
}

kp_rc kp_become_tags_make(struct kp_become_tags *t, struct kp_buf *err)
{
	char hex[17];
	kp_rc rc = kp_random_hex(hex, 8, err);
	if (rc)
		return rc;
	snprintf(t->prompt, sizeof(t->prompt), "[kplan-sudo-%s]", hex);
	snprintf(t->ok, sizeof(t->ok), "kplan-become-%s\n", hex);
	snprintf(t->wrapper, sizeof(t->wrapper), "echo kplan-become-%s && exec \"$@\"", hex);
	return KP_OK;
}

void kp_exec_words(const struct kp_become *b, const struct kp_become_tags *tags,
		   const char *const *env, const struct kp_exec_req *req,
		   void (*push)(void *ctx, const char *word), void *ctx)
{
	bool pw = b->user && b->password && tags;
	if (b->user) {
		push(ctx, "sudo");
		if (pw) {
			/* -k: ignore cached credentials, so sudo prompts
			 * whenever the rules ask for a password */
			push(ctx, "-k");
			push(ctx, "-S");
			push(ctx, "-p");
			push(ctx, tags->prompt);
		} else {
			push(ctx, "-n");
		}
		push(ctx, "-u");
		push(ctx, b->user);
		push(ctx, "--");
	}
	if (pw) {
		push(ctx, "/bin/sh");
		push(ctx, "-c");
		push(ctx, tags->wrapper);
		push(ctx, "sh");
	}
	if (env && env[0]) {
		/* read -r takes a line at a time without reading ahead on a
		 * pipe, so the command still gets all of its own stdin */
		push(ctx, "/bin/sh");
		push(ctx, "-c");
		push(ctx, "while IFS= read -r kp_e && [ -n \"$kp_e\" ]; do "
			  "kp_e=$(printf '%bx' \"$kp_e\") && export \"${kp_e%x}\"; done; "
			  "unset kp_e; exec \"$@\"");
		push(ctx, "sh");
	}
	if (req->cmd) {
		push(ctx, "/bin/sh");
		push(ctx, "-c");
		push(ctx, req->cmd);
	} else {
		for (const char *const *a = req->argv; *a; a++)
			push(ctx, *a);
	}
}

void kp_env_block(const char *const *env, struct kp_buf *out)
{
	if (!env || !env[0])
		return;
	for (const char *const *e = env; *e; e++) {
		for (const char *p = *e; *p; p++) {
			if (*p == '\\')
				kp_buf_addstr(out, "\\\\");
			else if (*p == '\n')
				kp_buf_addstr(out, "\\n");
			else
				kp_buf_addch(out, *p);
		}
		kp_buf_addch(out, '\n');
	}
	kp_buf_addch(out, '\n');
}

void kp_capbuf_add(struct kp_capbuf *s, const char *p, size_t n)
{
	size_t room = s->buf->len < s->cap ? s->cap - s->buf->len : 0;
	size_t keep = n < room ? n : room;
	if (keep)
		kp_buf_add(s->buf, p, keep);
	if (keep < n)
		s->cut = true;
}

void kp_feed_init(struct kp_feed *f, const struct kp_become *b, const struct kp_become_tags *tags,
		  const struct kp_buf *env_block, const char *data, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->limit = 4;
	if (b->user && b->password && tags) {
		/* the password is written straight from its owner, never copied */
		f->p[0] = b->password;
		f->len[0] = strlen(b->password);
		f->p[1] = "\n";
		f->len[1] = 1;
		f->limit = 0;
		f->prompt = tags->prompt;
		f->ok = tags->ok;
	}
	if (env_block && env_block->len) {
		f->p[2] = env_block->buf;
		f->len[2] = env_block->len;
	}
	if (data) {
		f->p[3] = data;
		f->len[3] = len;
	}
}

static void skip_empty(struct kp_feed *f)
{
	while (f->i < 4 && f->len[f->i] == 0)
		f->i++;
}

bool kp_feed_gate(struct kp_feed *f, struct kp_buf *out, struct kp_buf *err)
{
	if (!f->prompt || f->limit == 4)
		return false;
	while (kp_buf_cut(err, f->prompt)) {
		if (++f->prompts > 1) {
			f->limit = 0;
			f->len[0] = f->len[1] = f->len[2] = f->len[3] = 0;
			f->i = 4;
			return true;
		}
		f->limit = 2;
	}
	if (kp_buf_cut(out, f->ok)) {
		/* sudo asked for no password: it never sees it */
		if (!f->prompts)
			f->len[0] = f->len[1] = 0;
		f->limit = 4;
	}
	return false;
}

size_t kp_feed_next(struct kp_feed *f, const char **p)
{
	skip_empty(f);
	if (f->i >= 4 || f->i >= f->limit)
		return 0;
	*p = f->p[f->i];
	return f->len[f->i];
}

void kp_feed_advance(struct kp_feed *f, size_t n)
{
	f->p[f->i] += n;
	f->len[f->i] -= n;
	skip_empty(f);
}

bool kp_feed_done(struct kp_feed *f)
{
	skip_empty(f);
	return f->i >= 4;
}

bool kp_feed_empty(const struct kp_feed *f)
{
	return !f->len[0] && !f->len[2] && !f->len[3];
}
