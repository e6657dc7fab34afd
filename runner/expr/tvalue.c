/*
 * tvalue.c - value trees whose string leaves may be templates (module
 * arguments, loop lists, environment maps), built from YAML once and
 * rendered per host.
 *
 * A subtree without any template keeps its whole value in `lit`, so the
 * literal parts of a task cost one reference per render.
 */
#include "expr/luaint.h"

#include <stdlib.h>
#include <string.h>

static struct kp_tvalue *tv_new(enum kp_tvkind kind, struct kp_pos pos)
{
	struct kp_tvalue *tv = kp_xcalloc(1, sizeof(*tv));
	tv->kind = kind;
	tv->pos = pos;
	return tv;
}

void kp_tvalue_free(struct kp_tvalue *tv)
{
	if (!tv)
		return;
	for (size_t i = 0; i < tv->n; i++) {
		kp_tvalue_free(tv->items[i]);
		if (tv->keys)
			free(tv->keys[i]);
	}
	free(tv->items);
	free(tv->keys);
	kp_value_unref(tv->lit);
	kp_template_free(tv->tmpl);
	free(tv);
}

/* A LIST or MAP whose children are all literal gets its whole value. */
static void fold_literal(struct kp_tvalue *tv)
{
	for (size_t i = 0; i < tv->n; i++)
		if (!tv->items[i]->lit)
			return;
	struct kp_value *v = tv->kind == KP_TV_LIST ? kp_value_list() : kp_value_map();
	for (size_t i = 0; i < tv->n; i++) {
		if (tv->kind == KP_TV_LIST)
			kp_list_push(v, tv->items[i]->lit);
		else
			kp_map_set(v, tv->keys[i], tv->items[i]->lit);
	}
	tv->lit = v;
}

static bool has_template(const struct kp_node *n)
{
	return memmem(n->str, n->len, "{{", 2) || memmem(n->str, n->len, "{%", 2) ||
	       memmem(n->str, n->len, "{#", 2);
}

kp_rc kp_tvalue_from_node(const struct kp_node *n, struct kp_tvalue **out, struct kp_buf *err)
{
	struct kp_pos pos = {n->file, n->line, n->col};
	struct kp_tvalue *tv;
	kp_rc rc = KP_OK;

	switch (n->type) {
	case KP_N_SCALAR:
		if (has_template(n)) {
			tv = tv_new(KP_TV_TMPL, pos);
			rc = kp_template_compile(n->str, n->len, pos, &tv->tmpl, err);
			tv->secret = n->tag && !strcmp(n->tag, "!secret");
		} else {
			tv = tv_new(KP_TV_LIT, pos);
			rc = kp_node_to_value(n, &tv->lit, err);
		}
		break;
	case KP_N_SEQ:
		tv = tv_new(KP_TV_LIST, pos);
		tv->items = kp_xcalloc(n->n, sizeof(*tv->items));
		for (size_t i = 0; i < n->n && !rc; i++) {
			rc = kp_tvalue_from_node(n->items[i], &tv->items[i], err);
			if (!rc)
				tv->n++;
		}
		break;
	default:
		tv = tv_new(KP_TV_MAP, pos);
		tv->items = kp_xcalloc(n->n, sizeof(*tv->items));
		tv->keys = kp_xcalloc(n->n, sizeof(*tv->keys));
		for (size_t i = 0; i < n->n && !rc; i++) {
			const struct kp_node *k = kp_node_map_key(n, i);
			if (k->type != KP_N_SCALAR) {
				rc = kp_node_errorf(err, KP_ERR_PARSE, k,
						    "mapping keys must be plain values, not %s",
						    kp_node_describe(k));
				break;
			}
			rc = kp_tvalue_from_node(kp_node_map_val(n, i), &tv->items[i], err);
			if (!rc)
				tv->keys[tv->n++] = kp_xstrndup(k->str, k->len);
		}
		break;
	}
	if (rc) {
		kp_tvalue_free(tv);
		return rc;
	}
	if (tv->kind == KP_TV_LIST || tv->kind == KP_TV_MAP)
		fold_literal(tv);
	*out = tv;
	return KP_OK;
}

struct kp_tvalue *kp_tvalue_from_value(const struct kp_value *v)
{
	struct kp_pos pos = {NULL, 0, 0};
	struct kp_tvalue *tv;
	switch (v->type) {
	case KP_V_LIST:
		tv = tv_new(KP_TV_LIST, pos);
		tv->items = kp_xcalloc(kp_list_len(v), sizeof(*tv->items));
		for (size_t i = 0; i < kp_list_len(v); i++)
			tv->items[tv->n++] = kp_tvalue_from_value(kp_list_at(v, i));
		break;
	case KP_V_MAP:
		tv = tv_new(KP_TV_MAP, pos);
		tv->items = kp_xcalloc(kp_map_len(v), sizeof(*tv->items));
		tv->keys = kp_xcalloc(kp_map_len(v), sizeof(*tv->keys));
		for (size_t i = 0; i < kp_map_len(v); i++) {
			tv->keys[i] = kp_xstrdup(kp_map_key(v, i));
			tv->items[tv->n++] = kp_tvalue_from_value(kp_map_val(v, i));
		}
		break;
	default:
		tv = tv_new(KP_TV_LIT, pos);
		break;
	}
	tv->lit = kp_value_ref(v);
	return tv;
}

bool kp_tvalue_is_literal(const struct kp_tvalue *tv)
{
	return tv->lit != NULL;
}

const struct kp_tvalue *kp_tvalue_get(const struct kp_tvalue *map, const char *key)
{
	if (!map || map->kind != KP_TV_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (!strcmp(map->keys[i], key))
			return map->items[i];
	return NULL;
}

static bool is_omit(const struct kp_value *v)
{
	return v->type == KP_V_STR && !strcmp(v->u.str.s, KP_OMIT_TEXT);
}

kp_rc kp_tvalue_render(struct kp_lua *L, const struct kp_tvalue *tv, const struct kp_scope *s,
		       struct kp_value **out, struct kp_buf *err)
{
	struct kp_value *v, *item;
	kp_rc rc;

	if (tv->lit) {
		*out = kp_value_ref(tv->lit);
		return KP_OK;
	}
	switch (tv->kind) {
	case KP_TV_TMPL:
		if ((rc = kp_template_render(L, tv->tmpl, s, &v, err)))
			return rc;
		if (tv->secret && !v->secret) {
			item = v->refs == 1 ? v : kp_value_copy(v);
			if (item != v)
				kp_value_unref(v);
			item->secret = 1;
			v = item;
		}
		*out = v;
		return KP_OK;
	case KP_TV_LIST:
		v = kp_value_list();
		for (size_t i = 0; i < tv->n; i++) {
			if ((rc = kp_tvalue_render(L, tv->items[i], s, &item, err))) {
				kp_value_unref(v);
				return rc;
			}
			if (is_omit(item)) /* Ansible's omit: the item is left out */
				kp_value_unref(item);
			else
				kp_list_push_take(v, item);
		}
		*out = v;
		return KP_OK;
	default:
		v = kp_value_map();
		for (size_t i = 0; i < tv->n; i++) {
			if ((rc = kp_tvalue_render(L, tv->items[i], s, &item, err))) {
				kp_value_unref(v);
				return rc;
			}
			if (is_omit(item))
				kp_value_unref(item);
			else
				kp_map_set_take(v, tv->keys[i], item);
		}
		*out = v;
		return KP_OK;
	}
}
