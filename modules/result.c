/*
 * result.c - what a task did on one host, and the table `register` stores.
 *
 * The registered form always has stdout/stderr and their line lists, even
 * for modules that ran no command, so `x.stdout_lines` never needs a
 * default() guard in a plan.
 */
#include "modules/module.h"

#include <string.h>

void kp_result_init(struct kp_result *r)
{
	memset(r, 0, sizeof(*r));
	kp_buf_init(&r->out);
	kp_buf_init(&r->err);
	kp_buf_init(&r->msg);
	kp_buf_init(&r->diff);
	kp_buf_init(&r->cmds);
	r->facts = kp_value_map();
}

void kp_result_release(struct kp_result *r)
{
	kp_buf_release(&r->out);
	kp_buf_release(&r->err);
	kp_buf_release(&r->msg);
	kp_buf_release(&r->diff);
	kp_buf_release(&r->cmds);
	if (r->facts)
		kp_value_unref(r->facts);
	if (r->set_vars)
		kp_value_unref(r->set_vars);
	r->facts = r->set_vars = NULL;
}

/* Lines without their newline (a trailing "\r" goes too, as Python's
 * splitlines drops it); a final newline does not start an empty line. */
static struct kp_value *lines_of(const struct kp_buf *b)
{
	struct kp_value *l = kp_value_list();
	const char *p = b->buf, *end = b->buf + b->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *stop = nl ? nl : end;
		size_t len = (size_t)(stop - p);
		if (len && p[len - 1] == '\r')
			len--;
		kp_list_push_take(l, kp_value_strn(p, len));
		p = nl ? nl + 1 : end;
	}
	return l;
}

struct kp_value *kp_result_to_value(const struct kp_result *r)
{
	struct kp_value *v = kp_value_map();

	if (r->has_rc)
		kp_map_set_take(v, "rc", kp_value_int(r->rc));
	/* one trailing newline dropped, as Ansible does: "{{ r.stdout }}" reads
	 * as the command's answer, not as a line */
	size_t olen = r->out.len, elen = r->err.len;
	if (olen && r->out.buf[olen - 1] == '\n')
		olen--;
	if (elen && r->err.buf[elen - 1] == '\n')
		elen--;
	kp_map_set_take(v, "stdout", kp_value_strn(r->out.buf, olen));
	kp_map_set_take(v, "stderr", kp_value_strn(r->err.buf, elen));
	kp_map_set_take(v, "stdout_lines", lines_of(&r->out));
	kp_map_set_take(v, "stderr_lines", lines_of(&r->err));
	kp_map_set_take(v, "changed", kp_value_bool(r->changed));
	kp_map_set_take(v, "failed", kp_value_bool(r->failed));
	kp_map_set_take(v, "skipped", kp_value_bool(r->skipped));
	kp_map_set_take(v, "msg", kp_value_strn(r->msg.buf, r->msg.len));
	for (size_t i = 0; r->facts && i < kp_map_len(r->facts); i++)
		kp_map_set(v, kp_map_key(r->facts, i), kp_map_val(r->facts, i));
	return v;
}
