/*
 * plan_serial.c - a play's `serial`: a count, a percentage or a list of
 * them (the last one repeats), as written or rendered from a template.
 */
#include "model/plan_load.h"

#include <stdlib.h>
#include <string.h>

static kp_rc serial_error(const struct kp_node *n, const char *got, struct kp_buf *err)
{
	return kp_node_errorf(
	    err, KP_ERR_INVALID, n,
	    "serial must be a positive integer or a percentage like \"25%%\" (got %s)", got);
}

static kp_rc serial_step(const struct kp_node *n, struct kp_serial_step *st, struct kp_buf *err)
{
	struct kp_buf got = KP_BUF_INIT;
	kp_rc rc;
	if (n->type == KP_N_SCALAR && !kp_node_is_null(n)) {
		char *end;
		long long v = strtoll(n->str, &end, 10);
		bool digits = end != n->str && n->str[0] != ' ' && n->str[0] != '+';
		if (digits && !*end && v >= 1) {
			st->percent = false;
			st->n = v;
			return KP_OK;
		}
		if (digits && end[0] == '%' && !end[1] && v >= 1 && v <= 100) {
			st->percent = true;
			st->n = v;
			return KP_OK;
		}
		kp_buf_addf(&got, "'%s'", n->str);
	} else {
		kp_buf_addstr(&got, kp_node_describe(n));
	}
	rc = serial_error(n, got.buf, err);
	kp_buf_release(&got);
	return rc;
}

kp_rc kp_parse_serial(const struct kp_node *n, struct kp_serial_step **out, size_t *nout,
		      struct kp_buf *err)
{
	struct kp_serial_step *steps;
	size_t count = n->type == KP_N_SEQ ? n->n : 1;
	kp_rc rc;

	if (n->type == KP_N_SEQ && !n->n)
		return serial_error(n, "an empty list", err);
	steps = kp_xcalloc(count, sizeof(*steps));
	for (size_t i = 0; i < count; i++) {
		rc = serial_step(n->type == KP_N_SEQ ? n->items[i] : n, &steps[i], err);
		if (rc) {
			free(steps);
			return rc;
		}
	}
	*out = steps;
	*nout = count;
	return KP_OK;
}

static bool serial_value(const struct kp_value *v, struct kp_serial_step *st)
{
	char *end;
	if (v->type == KP_V_INT && v->u.i >= 1) {
		st->percent = false;
		st->n = v->u.i;
		return true;
	}
	if (v->type != KP_V_STR)
		return false;
	long long n = strtoll(v->u.str.s, &end, 10);
	if (end == v->u.str.s || v->u.str.s[0] == ' ' || v->u.str.s[0] == '+' || n < 1)
		return false;
	if (!*end) {
		st->percent = false;
		st->n = n;
		return true;
	}
	if (end[0] == '%' && !end[1] && n <= 100) {
		st->percent = true;
		st->n = n;
		return true;
	}
	return false;
}

kp_rc kp_serial_from_value(const struct kp_value *v, struct kp_pos pos, struct kp_serial_step **out,
			   size_t *nout, struct kp_buf *err)
{
	size_t count = v->type == KP_V_LIST ? v->u.list.n : 1;
	struct kp_serial_step *steps = kp_xcalloc(count ? count : 1, sizeof(*steps));
	for (size_t i = 0; i < count; i++) {
		const struct kp_value *x = v->type == KP_V_LIST ? v->u.list.items[i] : v;
		if (!serial_value(x, &steps[i])) {
			struct kp_buf got = KP_BUF_INIT;
			kp_value_to_json(x, false, false, &got);
			kp_errorf(
			    err, KP_ERR_INVALID,
			    "%s:%d:%d: serial must be a positive integer or a percentage like "
			    "\"25%%\" (got %s)",
			    pos.file, pos.line, pos.col, got.buf);
			kp_buf_release(&got);
			free(steps);
			return KP_ERR_INVALID;
		}
	}
	if (!count) {
		free(steps);
		return kp_errorf(err, KP_ERR_INVALID,
				 "%s:%d:%d: serial must be a positive integer or a percentage like "
				 "\"25%%\" (got an empty list)",
				 pos.file, pos.line, pos.col);
	}
	free(*out);
	*out = steps;
	*nout = count;
	return KP_OK;
}
