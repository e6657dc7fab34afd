/*
 * loops.c - the items a task loops over: `loop:` rendered, or a
 * with_<name> loop's terms handed to the lookup of that name, as
 * ansible-core's task executor (_get_loop_items) does. The engine runs
 * them; `kplan plan` previews them.
 */
#include <string.h>

#include "model/plan.h"

kp_rc kp_task_loop_items(struct kp_lua *L, const struct kp_task *t, const struct kp_scope *scope,
			 struct kp_value **out, struct kp_buf *err)
{
	struct kp_value *v = NULL;
	kp_rc rc;
	if (t->loop_with && !strcmp(t->loop_with, "first_found") && t->loop->kind == KP_TV_LIST) {
		/* first_found: a term that is undefined is passed over */
		v = kp_value_list();
		for (size_t i = 0; i < t->loop->n; i++) {
			struct kp_value *x = NULL;
			struct kp_buf e2 = KP_BUF_INIT;
			rc = kp_tvalue_render(L, t->loop->items[i], scope, &x, &e2);
			if (!rc)
				kp_list_push_take(v, x);
			else if (rc != KP_ERR_UNDEFINED)
				kp_buf_add(err, e2.buf, e2.len);
			kp_buf_release(&e2);
			if (rc && rc != KP_ERR_UNDEFINED) {
				kp_value_unref(v);
				return rc;
			}
		}
	} else if ((rc = kp_tvalue_render(L, t->loop, scope, &v, err))) {
		return rc;
	}
	if (!t->loop_with) {
		if (v->type == KP_V_LIST) {
			*out = v;
			return KP_OK;
		}
		struct kp_buf shown = KP_BUF_INIT;
		kp_value_to_text(v, true, &shown);
		kp_buf_addf(err,
			    "%s:%d:%d: Invalid data passed to 'loop', it requires a list, got this "
			    "instead: %s. Hint: If you passed a list/dict of just one element, try "
			    "adding wantlist=True to your lookup invocation or use q/query instead "
			    "of lookup.",
			    t->pos.file, t->pos.line, t->pos.col, shown.buf);
		kp_buf_release(&shown);
		kp_value_unref(v);
		return KP_ERR_RUNTIME;
	}
	/* listify_lookup_plugin_terms: a string or a scalar is one term; a
	 * mapping is one term to dict, its keys to the others */
	struct kp_value *terms = v;
	if (v->type == KP_V_MAP && strcmp(t->loop_with, "dict")) {
		terms = kp_value_list();
		for (size_t i = 0; i < kp_map_len(v); i++)
			kp_list_push_take(terms, kp_value_str(kp_map_key(v, i)));
		kp_value_unref(v);
	} else if (v->type != KP_V_LIST) {
		terms = kp_value_list();
		kp_list_push_take(terms, v);
	}
	rc = kp_lookup_run(L, t->loop_with, terms, scope, t->pos, out, err);
	kp_value_unref(terms);
	return rc;
}

/* loop_control.extended: ansible_loop for item i */
static struct kp_value *loop_extended(const struct kp_task *t, const struct kp_value *items,
				      size_t i)
{
	size_t n = kp_list_len(items);
	struct kp_value *m = kp_value_map();
	if (!t->loop_no_allitems)
		kp_map_set(m, "allitems", items);
	kp_map_set_take(m, "first", kp_value_bool(i == 0));
	kp_map_set_take(m, "index", kp_value_int((int64_t)i + 1));
	kp_map_set_take(m, "index0", kp_value_int((int64_t)i));
	kp_map_set_take(m, "last", kp_value_bool(i + 1 == n));
	kp_map_set_take(m, "length", kp_value_int((int64_t)n));
	if (i + 1 < n)
		kp_map_set(m, "nextitem", kp_list_at(items, i + 1));
	if (i > 0)
		kp_map_set(m, "previtem", kp_list_at(items, i - 1));
	kp_map_set_take(m, "revindex", kp_value_int((int64_t)(n - i)));
	kp_map_set_take(m, "revindex0", kp_value_int((int64_t)(n - i - 1)));
	return m;
}

struct kp_value *kp_loop_vars(const struct kp_task *t, const struct kp_value *items, size_t i)
{
	const char *loop_var = t->loop_var ? t->loop_var : "item";
	struct kp_value *m = kp_value_map();
	kp_map_set(m, loop_var, kp_list_at(items, i));
	kp_map_set_take(m, "ansible_loop_var", kp_value_str(loop_var));
	if (t->index_var) {
		kp_map_set_take(m, t->index_var, kp_value_int((int64_t)i));
		kp_map_set_take(m, "ansible_index_var", kp_value_str(t->index_var));
	}
	if (t->loop_extended)
		kp_map_set_take(m, "ansible_loop", loop_extended(t, items, i));
	return m;
}
