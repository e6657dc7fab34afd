/* batch.c - play hosts, order and rolling batches, see batch.h. */
#include "model/batch.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

size_t kp_serial_sizes(const struct kp_serial_step *steps, size_t nsteps, size_t nhosts,
		       size_t *sizes, size_t max)
{
	size_t left = nhosts, nb = 0, i = 0;
	if (!nhosts)
		return 0;
	if (!nsteps) {
		if (max)
			sizes[0] = nhosts;
		return 1;
	}
	while (left) {
		const struct kp_serial_step *s = &steps[i < nsteps ? i : nsteps - 1];
		size_t n;
		if (s->percent)
			n = (size_t)((uint64_t)nhosts * (uint64_t)s->n / 100);
		else
			n = (size_t)s->n;
		if (n < 1)
			n = 1;
		if (n > left)
			n = left;
		if (nb < max)
			sizes[nb] = n;
		nb++;
		left -= n;
		i++;
	}
	return nb;
}

/* Fisher-Yates with the kernel's random numbers */
static void shuffle(size_t *v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		uint32_t r = 0;
		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = (uint32_t)i * 2654435761u;
		size_t j = r % i, t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

static void reverse(size_t *v, size_t n)
{
	for (size_t i = 0; i < n / 2; i++) {
		size_t t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
}

static int cmp_host_name(const void *a, const void *b, void *ctx)
{
	const struct kp_inventory *inv = ctx;
	return strcmp(inv->hosts[*(const size_t *)a]->name, inv->hosts[*(const size_t *)b]->name);
}

kp_rc kp_batches_compute(const struct kp_play *play, const char *pattern,
			 const struct kp_inventory *inv, const char *limit, struct kp_batches *out,
			 struct kp_buf *warn, struct kp_buf *err)
{
	struct kp_hostset sel = {0}, lim = {0};
	kp_rc rc;

	memset(out, 0, sizeof(*out));
	rc = kp_pattern_select(inv, pattern, 0, &sel, warn, err);
	if (rc) {
		/* the pattern was written at the play's `hosts:` */
		if (err && play->hosts_pos.file) {
			struct kp_buf why = KP_BUF_INIT;
			kp_buf_addstr(&why, err->buf);
			kp_errorf(err, rc, "%s:%d:%d: %s", play->hosts_pos.file,
				  play->hosts_pos.line, play->hosts_pos.col, why.buf);
			kp_buf_release(&why);
		}
		return rc;
	}
	if (limit) {
		rc = kp_pattern_select(inv, limit, KP_PATTERN_STRICT, &lim, warn, err);
		if (rc) {
			kp_hostset_release(&sel);
			return rc;
		}
		/* keep the play's order, drop what the limit excludes */
		char *in = kp_xcalloc(inv->nhosts ? inv->nhosts : 1, 1);
		for (size_t i = 0; i < lim.n; i++)
			in[lim.idx[i]] = 1;
		size_t k = 0;
		for (size_t i = 0; i < sel.n; i++)
			if (in[sel.idx[i]])
				sel.idx[k++] = sel.idx[i];
		sel.n = k;
		free(in);
		kp_hostset_release(&lim);
	}
	out->hosts = sel.idx;
	out->nhosts = sel.n;
	switch (play->order) {
	case KP_ORDER_INVENTORY:
		break;
	case KP_ORDER_REVERSE_INVENTORY:
		reverse(out->hosts, out->nhosts);
		break;
	case KP_ORDER_SORTED:
	case KP_ORDER_REVERSE_SORTED:
		qsort_r(out->hosts, out->nhosts, sizeof(size_t), cmp_host_name, (void *)inv);
		if (play->order == KP_ORDER_REVERSE_SORTED)
			reverse(out->hosts, out->nhosts);
		break;
	case KP_ORDER_SHUFFLE:
		shuffle(out->hosts, out->nhosts);
		break;
	}
	if (!out->nhosts)
		return KP_OK;
	if (play->window > 0) {
		out->window = play->window;
		out->b = kp_xcalloc(1, sizeof(*out->b));
		out->b[0].hosts = out->hosts;
		out->b[0].n = out->nhosts;
		out->n = 1;
		return KP_OK;
	}
	size_t nb = kp_serial_sizes(play->serial, play->nserial, out->nhosts, NULL, 0);
	size_t *sizes = kp_xmalloc(nb * sizeof(*sizes));
	kp_serial_sizes(play->serial, play->nserial, out->nhosts, sizes, nb);
	out->b = kp_xcalloc(nb, sizeof(*out->b));
	size_t off = 0;
	for (size_t i = 0; i < nb; i++) {
		out->b[i].hosts = out->hosts + off;
		out->b[i].n = sizes[i];
		off += sizes[i];
	}
	out->n = nb;
	free(sizes);
	return KP_OK;
}

void kp_batches_release(struct kp_batches *b)
{
	free(b->hosts);
	free(b->b);
	memset(b, 0, sizeof(*b));
}
