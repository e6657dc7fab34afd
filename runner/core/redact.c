/* redact.c - hiding known secrets in everything kplan prints; see redact.h. */
#include "core/redact.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

void kp_redact_add(struct kp_redact *r, const char *secret)
{
	if (!secret || strlen(secret) < KP_REDACT_MIN)
		return;
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->s[i], secret))
			return;
	KP_GROW(r->s, r->n + 1, r->cap);
	r->s[r->n++] = kp_xstrdup(secret);
	/* the same value as it reads inside JSON output */
	cJSON *str = cJSON_CreateString(secret);
	char *esc = cJSON_PrintUnformatted(str);
	cJSON_Delete(str);
	if (esc) {
		size_t l = strlen(esc);
		if (l >= 2) {
			esc[l - 1] = '\0';
			if (strcmp(esc + 1, secret)) {
				KP_GROW(r->s, r->n + 1, r->cap);
				r->s[r->n++] = kp_xstrdup(esc + 1);
			}
		}
		cJSON_free(esc);
	}
}

static void collect(struct kp_redact *r, const struct kp_value *v, bool secret, int depth)
{
	if (!v || depth > 32)
		return;
	secret |= v->secret;
	switch (v->type) {
	case KP_V_STR:
		if (secret)
			kp_redact_add(r, v->u.str.s);
		break;
	case KP_V_INT:
	case KP_V_FLOAT:
		if (secret) {
			struct kp_buf b = KP_BUF_INIT;
			kp_value_to_text(v, false, &b);
			kp_redact_add(r, b.buf);
			kp_buf_release(&b);
		}
		break;
	case KP_V_LIST:
		for (size_t i = 0; i < kp_list_len(v); i++)
			collect(r, kp_list_at(v, i), secret, depth + 1);
		break;
	case KP_V_MAP:
		for (size_t i = 0; i < kp_map_len(v); i++) {
			const char *k = kp_map_key(v, i);
			bool s = secret || kp_secret_name(k);
			collect(r, kp_map_val(v, i), s, depth + 1);
		}
		break;
	default:
		break;
	}
}

void kp_redact_collect(struct kp_redact *r, const struct kp_value *vars)
{
	collect(r, vars, false, 0);
}

void kp_redact_apply(const struct kp_redact *r, struct kp_buf *b)
{
	for (size_t i = 0; r && i < r->n; i++) {
		const char *s = r->s[i];
		size_t sl = strlen(s);
		char *at;
		size_t from = 0;
		while (from < b->len && (at = memmem(b->buf + from, b->len - from, s, sl))) {
			size_t off = (size_t)(at - b->buf);
			struct kp_buf out = KP_BUF_INIT;
			kp_buf_add(&out, b->buf, off);
			kp_buf_addstr(&out, "<hidden>");
			kp_buf_add(&out, at + sl, b->len - off - sl);
			kp_buf_release(b);
			*b = out;
			from = off + 8;
		}
	}
}

struct stream {
	const struct kp_redact *r;
	FILE *under;
	struct kp_buf pending;
};

static void emit(struct stream *st, const char *p, size_t n)
{
	struct kp_buf line = KP_BUF_INIT;
	kp_buf_add(&line, p, n);
	kp_redact_apply(st->r, &line);
	fwrite(line.buf, 1, line.len, st->under);
	kp_buf_release(&line);
}

static ssize_t s_write(void *c, const char *buf, size_t size)
{
	struct stream *st = c;
	kp_buf_add(&st->pending, buf, size);
	/* whole lines go out; a partial one waits (a secret may be cut) */
	size_t last = 0;
	for (size_t i = 0; i < st->pending.len; i++)
		if (st->pending.buf[i] == '\n' || st->pending.buf[i] == '\r')
			last = i + 1;
	if (last) {
		emit(st, st->pending.buf, last);
		memmove(st->pending.buf, st->pending.buf + last, st->pending.len - last);
		kp_buf_setlen(&st->pending, st->pending.len - last);
		fflush(st->under);
	}
	return (ssize_t)size;
}

static int s_close(void *c)
{
	struct stream *st = c;
	if (st->pending.len)
		emit(st, st->pending.buf, st->pending.len);
	fflush(st->under);
	kp_buf_release(&st->pending);
	free(st);
	return 0;
}

FILE *kp_redact_stream(const struct kp_redact *r, FILE *under)
{
	struct stream *st = kp_xcalloc(1, sizeof(*st));
	cookie_io_functions_t io = {.write = s_write, .close = s_close};
	st->r = r;
	st->under = under;
	kp_buf_init(&st->pending);
	FILE *f = fopencookie(st, "w", io);
	if (!f) {
		free(st);
		return under;
	}
	return f;
}

void kp_redact_release(struct kp_redact *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->s[i]);
	free(r->s);
	memset(r, 0, sizeof(*r));
}
