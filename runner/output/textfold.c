/* textfold.c - a check's text, folded by host: see textfold.h. */
#include "output/textfold.h"

#include "core/buf.h"
#include "output/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct kp_foldres {
	char *host, *line, *short_text, *key;
	size_t label_at, order;
};

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

void kp_textfold_batch(struct kp_textfold *f, const char *const *hosts, size_t n)
{
	for (size_t i = 0; i < f->nhosts; i++)
		free(f->hosts[i]);
	free(f->slot);
	f->hosts = kp_xrealloc(f->hosts, (n ? n : 1) * sizeof(*f->hosts));
	f->nhosts = n;
	f->cap = 16;
	while (f->cap < 2 * n)
		f->cap *= 2;
	f->slot = kp_xcalloc(f->cap, sizeof(*f->slot));
	for (size_t i = 0; i < n; i++) {
		f->hosts[i] = kp_xstrdup(hosts[i]);
		size_t k = hash(hosts[i]) & (f->cap - 1);
		while (f->slot[k])
			k = (k + 1) & (f->cap - 1);
		f->slot[k] = i + 1;
	}
}

/* host's place in the batch; after every host of it when it is not there */
static size_t order_of(const struct kp_textfold *f, const char *host)
{
	if (!f->cap)
		return SIZE_MAX;
	for (size_t k = hash(host) & (f->cap - 1); f->slot[k]; k = (k + 1) & (f->cap - 1))
		if (!strcmp(f->hosts[f->slot[k] - 1], host))
			return f->slot[k] - 1;
	return SIZE_MAX;
}

void kp_textfold_add(struct kp_textfold *f, FILE *out, const char *task, const char *host,
		     const char *line, const char *short_text, size_t label_at)
{
	if (f->n && strcmp(f->task, task))
		kp_textfold_flush(f, out);
	if (!f->n) {
		free(f->task);
		f->task = kp_xstrdup(task);
	}
	if (f->n == f->capres) {
		f->capres = f->capres ? 2 * f->capres : 16;
		f->res = kp_xrealloc(f->res, f->capres * sizeof(*f->res));
	}
	struct kp_foldres *r = &f->res[f->n];
	r->host = kp_xstrdup(host);
	r->line = kp_xstrdup(line);
	r->short_text = kp_xstrdup(short_text);
	r->key = kp_report_marked(host, short_text);
	r->label_at = label_at;
	/* ties (hosts not in the batch) keep their arrival order */
	size_t o = order_of(f, host);
	r->order = o == SIZE_MAX ? f->nhosts + f->n : o;
	f->n++;
}

static int by_key(const void *a, const void *b)
{
	const struct kp_foldres *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->order > y->order) - (x->order < y->order);
}

struct group {
	size_t first, n; /* into the sorted results */
};

static int by_first(const void *a, const void *b, void *ctx)
{
	const struct kp_foldres *res = ctx;
	size_t x = res[((const struct group *)a)->first].order,
	       y = res[((const struct group *)b)->first].order;
	return (x > y) - (x < y);
}

void kp_textfold_flush(struct kp_textfold *f, FILE *out)
{
	if (!f->n)
		return;
	qsort(f->res, f->n, sizeof(*f->res), by_key);
	struct group *g = kp_xcalloc(f->n, sizeof(*g));
	size_t ng = 0;
	for (size_t i = 0; i < f->n; i++) {
		if (i && !strcmp(f->res[i].key, f->res[i - 1].key)) {
			g[ng - 1].n++;
		} else {
			g[ng].first = i;
			g[ng++].n = 1;
		}
	}
	qsort_r(g, ng, sizeof(*g), by_first, f->res);
	for (size_t k = 0; k < ng; k++) {
		const struct kp_foldres *a = &f->res[g[k].first];
		if (g[k].n == 1) {
			fputs(a->line, out);
			continue;
		}
		const struct kp_foldres *z = &f->res[g[k].first + g[k].n - 1];
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_add(&b, a->short_text, a->label_at);
		kp_buf_addf(&b, "%s … %s (", a->host, z->host);
		kp_report_count(g[k].n, &b);
		kp_buf_addstr(&b, " hosts)");
		kp_buf_addstr(&b, a->short_text + a->label_at + strlen(a->host));
		fputs(b.buf, out);
		fputs("    hosts: ", out);
		for (size_t i = 0; i < g[k].n; i++)
			fprintf(out, "%s%s", i ? ", " : "", f->res[g[k].first + i].host);
		fputc('\n', out);
		kp_buf_release(&b);
	}
	free(g);
	for (size_t i = 0; i < f->n; i++) {
		free(f->res[i].host);
		free(f->res[i].line);
		free(f->res[i].short_text);
		free(f->res[i].key);
	}
	f->n = 0;
}

void kp_textfold_release(struct kp_textfold *f)
{
	for (size_t i = 0; i < f->nhosts; i++)
		free(f->hosts[i]);
	free(f->hosts);
	free(f->slot);
	free(f->task);
	for (size_t i = 0; i < f->n; i++) {
		free(f->res[i].host);
		free(f->res[i].line);
		free(f->res[i].short_text);
		free(f->res[i].key);
	}
	free(f->res);
	memset(f, 0, sizeof(*f));
}
