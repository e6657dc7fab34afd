/*
 * value.h - kplan's dynamic values: variables, module arguments, results.
 *
 * A value is null, bool, int, float, string, list or map (insertion-ordered
 * string keys). Values are reference counted; a function that returns a
 * `struct kp_value *` hands the caller one reference, released with
 * kp_value_unref(). Functions that take a value to store ("_take") consume
 * the caller's reference. A value may be mutated only while its creator
 * holds the only reference; once shared (between hosts or threads) it is
 * read-only, and only the atomic refcount changes.
 */
#ifndef KP_VALUE_H
#define KP_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum kp_vtype { KP_V_NULL, KP_V_BOOL, KP_V_INT, KP_V_FLOAT, KP_V_STR, KP_V_LIST, KP_V_MAP };

struct kp_value {
	enum kp_vtype type;
	unsigned secret : 1; /* tagged !secret, or a *_password: printed as <hidden> */
	unsigned no_log : 1; /* from a no_log task's result: printed censored */
	/* Node-supplied data (registered results, facts, lookup results, values
	 * computed by templates): never templated again when used, as
	 * Ansible's "unsafe" values. Survives kp_value_copy. */
	unsigned unsafe : 1;
	unsigned undef : 1; /* the Jinja engine's undefined (never leaves it) */
	unsigned tuple : 1; /* a list that Jinja made as a tuple: prints as (a, b) */
	int refs;
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			char *s;
			size_t len;
		} str;
		struct {
			struct kp_value **items;
			size_t n, cap;
		} list;
		struct {
			char **keys;
			struct kp_value **vals;
			size_t n, cap;
			uint32_t *index; /* open-addressing hash over keys, built when large */
			size_t index_cap;
		} map;
	} u;
};

struct kp_value *kp_value_null(void);
struct kp_value *kp_value_bool(bool b);
struct kp_value *kp_value_int(int64_t i);
struct kp_value *kp_value_float(double f);
struct kp_value *kp_value_str(const char *s);
struct kp_value *kp_value_strn(const char *s, size_t len);
struct kp_value *kp_value_str_take(char *s, size_t len); /* takes ownership of s */
struct kp_value *kp_value_list(void);
struct kp_value *kp_value_map(void);

struct kp_value *kp_value_ref(const struct kp_value *v);
void kp_value_unref(struct kp_value *v);

const char *kp_value_typename(enum kp_vtype t); /* "string", "list", ... */

/* Lists */
void kp_list_push_take(struct kp_value *list, struct kp_value *item);
void kp_list_push(struct kp_value *list, const struct kp_value *item);
static inline size_t kp_list_len(const struct kp_value *l)
{
	return l->u.list.n;
}
static inline const struct kp_value *kp_list_at(const struct kp_value *l, size_t i)
{
	return l->u.list.items[i];
}

/* Maps: set replaces an existing key in place (keeping its position). */
void kp_map_set_take(struct kp_value *map, const char *key, struct kp_value *val);
void kp_map_set(struct kp_value *map, const char *key, const struct kp_value *val);
const struct kp_value *kp_map_get(const struct kp_value *map, const char *key);
const struct kp_value *kp_map_getn(const struct kp_value *map, const char *key, size_t klen);
bool kp_map_del(struct kp_value *map, const char *key);
static inline size_t kp_map_len(const struct kp_value *m)
{
	return m->u.map.n;
}
static inline const char *kp_map_key(const struct kp_value *m, size_t i)
{
	return m->u.map.keys[i];
}
static inline const struct kp_value *kp_map_val(const struct kp_value *m, size_t i)
{
	return m->u.map.vals[i];
}
/* Copy every key of src into dst, replacing (Ansible's hash_behaviour=replace). */
void kp_map_update(struct kp_value *dst, const struct kp_value *src);

/* Deep copy (the result has one reference and may be mutated). */
struct kp_value *kp_value_copy(const struct kp_value *v);

/* The result of a no_log task as it is registered: a deep copy, usable in
 * expressions as is, but marked so that wherever it is printed with
 * hide_secrets it shows as Ansible shows it: {"censored": KP_NO_LOG_CENSORED}
 * plus the verdict keys (changed, failed, skipped, unreachable, rc,
 * attempts); any other part taken out of it (`sr.stdout`) prints as
 * "<hidden by no_log>". The mark survives copies and direct references
 * (`{{ sr }}`, `{{ sr.stdout }}` inside a string), not Lua computations. */
#define KP_NO_LOG_CENSORED                                                                         \
	"the output has been hidden due to the fact that 'no_log: true' was specified for this "   \
	"result"
struct kp_value *kp_value_nolog(const struct kp_value *v);
bool kp_value_equal(const struct kp_value *a, const struct kp_value *b);
/* Truthiness as in Lua: only null and false are false. */
bool kp_value_truthy(const struct kp_value *v);
/* A keyword's rendered value as Ansible's boolean() reads it: a string is
 * true only when it is y, yes, on, 1, true or t (any case). */
bool kp_value_bool_word(const struct kp_value *v);

/* Text form: strings as is, numbers and booleans as Lua prints them,
 * null as "", lists and maps as JSON. Secrets as "<hidden>" and no_log
 * values censored (see kp_value_nolog) when hide. */
/* repr(float) as Python prints it: the shortest text that reads back the
 * same double, fixed notation for exponents -4..15, else d.ddde+XX */
void kp_float_repr(double f, struct kp_buf *out);
void kp_value_to_text(const struct kp_value *v, bool hide_secrets, struct kp_buf *out);

/* JSON (cJSON): pretty with 2-space indent when indent, else compact. */
void kp_value_to_json(const struct kp_value *v, bool hide_secrets, bool indent, struct kp_buf *out);
kp_rc kp_value_from_json(const char *text, size_t len, struct kp_value **out, struct kp_buf *err);
/* The one rule for secret variable names: a variable whose name says it
 * holds a credential is hidden wherever it is printed, as a value tagged
 * !secret is. Case does not matter. Secret are names that end in
 * `_password`, `_passwd` or `_pass` (Ansible's ansible_password,
 * ansible_ssh_pass, ansible_become_pass, ...), that end in `_key` (private
 * key material; `*_key_file` is a path) or are `key`, and names that
 * contain `token` or `secret`. */
bool kp_secret_name(const char *name);

struct cJSON;
struct cJSON *kp_value_to_cjson(const struct kp_value *v, bool hide_secrets);

#endif
