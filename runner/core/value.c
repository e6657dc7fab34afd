/* value.c - reference-counted dynamic values, see value.h. */
#include "core/value.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define INDEX_MIN 16 /* maps larger than this get a hash index */

static struct kp_value *alloc(enum kp_vtype t)
{
	struct kp_value *v = kp_xcalloc(1, sizeof(*v));
	v->type = t;
	v->refs = 1;
	return v;
}

struct kp_value *kp_value_null(void)
{
	return alloc(KP_V_NULL);
}

struct kp_value *kp_value_bool(bool b)
{
	struct kp_value *v = alloc(KP_V_BOOL);
	v->u.b = b;
	return v;
}

struct kp_value *kp_value_int(int64_t i)
{
	struct kp_value *v = alloc(KP_V_INT);
	v->u.i = i;
	return v;
}

struct kp_value *kp_value_float(double f)
{
	struct kp_value *v = alloc(KP_V_FLOAT);
	v->u.f = f;
	return v;
}

struct kp_value *kp_value_strn(const char *s, size_t len)
{
	return kp_value_str_take(kp_xstrndup(s, len), len);
}

struct kp_value *kp_value_str(const char *s)
{
	return kp_value_strn(s, strlen(s));
}

struct kp_value *kp_value_str_take(char *s, size_t len)
{
	struct kp_value *v = alloc(KP_V_STR);
	v->u.str.s = s;
	v->u.str.len = len;
	return v;
}

struct kp_value *kp_value_list(void)
{
	return alloc(KP_V_LIST);
}

struct kp_value *kp_value_map(void)
{
	return alloc(KP_V_MAP);
}

struct kp_value *kp_value_ref(const struct kp_value *cv)
{
	struct kp_value *v = (struct kp_value *)cv;
	if (v)
		__atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
	return v;
}

void kp_value_unref(struct kp_value *v)
{
	if (!v || __atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	switch (v->type) {
	case KP_V_STR:
		free(v->u.str.s);
		break;
	case KP_V_LIST:
		for (size_t i = 0; i < v->u.list.n; i++)
			kp_value_unref(v->u.list.items[i]);
		free(v->u.list.items);
		break;
	case KP_V_MAP:
		for (size_t i = 0; i < v->u.map.n; i++) {
			free(v->u.map.keys[i]);
			kp_value_unref(v->u.map.vals[i]);
		}
		free(v->u.map.keys);
		free(v->u.map.vals);
		free(v->u.map.index);
		break;
	default:
		break;
	}
	free(v);
}

const char *kp_value_typename(enum kp_vtype t)
{
	switch (t) {
	case KP_V_NULL:
		return "null";
	case KP_V_BOOL:
		return "boolean";
	case KP_V_INT:
		return "integer";
	case KP_V_FLOAT:
		return "number";
	case KP_V_STR:
		return "string";
	case KP_V_LIST:
		return "list";
	case KP_V_MAP:
		return "mapping";
	}
	return "value";
}

void kp_list_push_take(struct kp_value *l, struct kp_value *item)
{
	KP_GROW(l->u.list.items, l->u.list.n + 1, l->u.list.cap);
	l->u.list.items[l->u.list.n++] = item;
}

void kp_list_push(struct kp_value *l, const struct kp_value *item)
{
	kp_list_push_take(l, kp_value_ref(item));
}

static uint32_t hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

/* index slots hold position+1; 0 is empty */
static void index_insert(struct kp_value *m, size_t pos)
{
	const char *k = m->u.map.keys[pos];
	size_t mask = m->u.map.index_cap - 1;
	size_t i = hash(k, strlen(k)) & mask;
	while (m->u.map.index[i])
		i = (i + 1) & mask;
	m->u.map.index[i] = (uint32_t)(pos + 1);
}

static void index_rebuild(struct kp_value *m)
{
	size_t cap = 32;
	while (cap < m->u.map.n * 2)
		cap *= 2;
	free(m->u.map.index);
	m->u.map.index = kp_xcalloc(cap, sizeof(uint32_t));
	m->u.map.index_cap = cap;
	for (size_t i = 0; i < m->u.map.n; i++)
		index_insert(m, i);
}

/* Whether the map key k (a C string) is key[0..klen): a key given with a
 * NUL inside it matches no stored key, and k is never read past its end. */
static bool key_is(const char *k, const char *key, size_t klen)
{
	return strnlen(k, klen + 1) == klen && !memcmp(k, key, klen);
}

static ssize_t map_find(const struct kp_value *m, const char *key, size_t klen)
{
	if (m->type != KP_V_MAP)
		return -1;
	if (m->u.map.index) {
		size_t mask = m->u.map.index_cap - 1;
		size_t i = hash(key, klen) & mask;
		uint32_t slot;
		while ((slot = m->u.map.index[i])) {
			const char *k = m->u.map.keys[slot - 1];
			if (key_is(k, key, klen))
				return slot - 1;
			i = (i + 1) & mask;
		}
		return -1;
	}
	for (size_t i = 0; i < m->u.map.n; i++) {
		const char *k = m->u.map.keys[i];
		if (key_is(k, key, klen))
			return (ssize_t)i;
	}
	return -1;
}

const struct kp_value *kp_map_getn(const struct kp_value *m, const char *key, size_t klen)
{
	ssize_t i = map_find(m, key, klen);
	return i < 0 ? NULL : m->u.map.vals[i];
}

const struct kp_value *kp_map_get(const struct kp_value *m, const char *key)
{
	return kp_map_getn(m, key, strlen(key));
}

void kp_map_set_take(struct kp_value *m, const char *key, struct kp_value *val)
{
	ssize_t i = map_find(m, key, strlen(key));
	if (i >= 0) {
		kp_value_unref(m->u.map.vals[i]);
		m->u.map.vals[i] = val;
		return;
	}
	size_t cap = m->u.map.cap;
	KP_GROW(m->u.map.keys, m->u.map.n + 1, cap);
	KP_GROW(m->u.map.vals, m->u.map.n + 1, m->u.map.cap);
	m->u.map.keys[m->u.map.n] = kp_xstrdup(key);
	m->u.map.vals[m->u.map.n] = val;
	m->u.map.n++;
	if (m->u.map.index) {
		if (m->u.map.n * 2 > m->u.map.index_cap)
			index_rebuild(m);
		else
			index_insert(m, m->u.map.n - 1);
	} else if (m->u.map.n > INDEX_MIN) {
		index_rebuild(m);
	}
}

void kp_map_set(struct kp_value *m, const char *key, const struct kp_value *val)
{
	kp_map_set_take(m, key, kp_value_ref(val));
}

bool kp_map_del(struct kp_value *m, const char *key)
{
	ssize_t i = map_find(m, key, strlen(key));
	if (i < 0)
		return false;
	free(m->u.map.keys[i]);
	kp_value_unref(m->u.map.vals[i]);
	memmove(&m->u.map.keys[i], &m->u.map.keys[i + 1],
		(m->u.map.n - (size_t)i - 1) * sizeof(char *));
	memmove(&m->u.map.vals[i], &m->u.map.vals[i + 1],
		(m->u.map.n - (size_t)i - 1) * sizeof(struct kp_value *));
	m->u.map.n--;
	if (m->u.map.index)
		index_rebuild(m);
	return true;
}

void kp_map_update(struct kp_value *dst, const struct kp_value *src)
{
	if (!src || src->type != KP_V_MAP)
		return;
	for (size_t i = 0; i < src->u.map.n; i++)
		kp_map_set(dst, src->u.map.keys[i], src->u.map.vals[i]);
}

struct kp_value *kp_value_copy(const struct kp_value *v)
{
	struct kp_value *c;
	switch (v->type) {
	case KP_V_NULL:
		c = kp_value_null();
		break;
	case KP_V_BOOL:
		c = kp_value_bool(v->u.b);
		break;
	case KP_V_INT:
		c = kp_value_int(v->u.i);
		break;
	case KP_V_FLOAT:
		c = kp_value_float(v->u.f);
		break;
	case KP_V_STR:
		c = kp_value_strn(v->u.str.s, v->u.str.len);
		break;
	case KP_V_LIST:
		c = kp_value_list();
		for (size_t i = 0; i < v->u.list.n; i++)
			kp_list_push_take(c, kp_value_copy(v->u.list.items[i]));
		break;
	default:
		c = kp_value_map();
		for (size_t i = 0; i < v->u.map.n; i++)
			kp_map_set_take(c, v->u.map.keys[i], kp_value_copy(v->u.map.vals[i]));
		break;
	}
	c->secret = v->secret;
	c->no_log = v->no_log;
	c->unsafe = v->unsafe;
	c->tuple = v->tuple;
	c->undef = v->undef;
	return c;
}

/* What stays readable in a no_log result: the verdict, as Ansible keeps
 * `changed` and `attempts` (its event type shows failed and skipped), and
 * the exit status, which says why a hidden step failed and reveals nothing
 * of its output. */
static const char *const nolog_keep[] = {"changed",	"failed", "skipped",
					 "unreachable", "rc",	  "attempts"};

static bool nolog_kept(const char *k)
{
	for (size_t i = 0; i < KP_ARRAY_LEN(nolog_keep); i++)
		if (!strcmp(k, nolog_keep[i]))
			return true;
	return false;
}

static void mark_nolog(struct kp_value *v, int depth)
{
	v->no_log = 1;
	if (depth > 64)
		return;
	if (v->type == KP_V_LIST)
		for (size_t i = 0; i < v->u.list.n; i++)
			mark_nolog(v->u.list.items[i], depth + 1);
	else if (v->type == KP_V_MAP)
		for (size_t i = 0; i < v->u.map.n; i++)
			mark_nolog(v->u.map.vals[i], depth + 1);
}

struct kp_value *kp_value_nolog(const struct kp_value *v)
{
	struct kp_value *c = kp_value_copy(v); /* fresh: ours to mark */
	if (c->type != KP_V_MAP) {
		mark_nolog(c, 0);
		return c;
	}
	c->no_log = 1;
	for (size_t i = 0; i < c->u.map.n; i++)
		if (!nolog_kept(c->u.map.keys[i]))
			mark_nolog(c->u.map.vals[i], 1);
	return c;
}

bool kp_value_equal(const struct kp_value *a, const struct kp_value *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	if ((a->type == KP_V_INT || a->type == KP_V_FLOAT) &&
	    (b->type == KP_V_INT || b->type == KP_V_FLOAT)) {
		if (a->type == KP_V_INT && b->type == KP_V_INT)
			return a->u.i == b->u.i;
		double x = a->type == KP_V_INT ? (double)a->u.i : a->u.f;
		double y = b->type == KP_V_INT ? (double)b->u.i : b->u.f;
		return x == y;
	}
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case KP_V_NULL:
		return true;
	case KP_V_BOOL:
		return a->u.b == b->u.b;
	case KP_V_STR:
		return a->u.str.len == b->u.str.len &&
		       !memcmp(a->u.str.s, b->u.str.s, a->u.str.len);
	case KP_V_LIST:
		if (a->u.list.n != b->u.list.n)
			return false;
		for (size_t i = 0; i < a->u.list.n; i++)
			if (!kp_value_equal(a->u.list.items[i], b->u.list.items[i]))
				return false;
		return true;
	case KP_V_MAP:
		if (a->u.map.n != b->u.map.n)
			return false;
		for (size_t i = 0; i < a->u.map.n; i++) {
			const struct kp_value *o = kp_map_get(b, a->u.map.keys[i]);
			if (!o || !kp_value_equal(a->u.map.vals[i], o))
				return false;
		}
		return true;
	default:
		return false;
	}
}

bool kp_value_truthy(const struct kp_value *v)
{
	return v && v->type != KP_V_NULL && !(v->type == KP_V_BOOL && !v->u.b);
}

/* repr(float) as Python prints it: the shortest text that reads back the
 * same, fixed notation for exponents -4..15, else d.ddde+XX. */
void kp_float_repr(double f, struct kp_buf *out)
{
	if (isnan(f)) {
		kp_buf_addstr(out, "nan");
		return;
	}
	if (isinf(f)) {
		kp_buf_addstr(out, f < 0 ? "-inf" : "inf");
		return;
	}
	char tmp[64];
	int prec;
	for (prec = 0; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec, f);
	/* tmp: [-]d[.ddd]e[+-]XX */
	char digits[32];
	size_t nd = 0;
	const char *p = tmp;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (isdigit((unsigned char)*p))
			digits[nd++] = *p;
	int exp = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = 0;
	if (neg)
		kp_buf_addch(out, '-');
	if (exp >= -4 && exp < 16) {
		if (exp < 0) {
			kp_buf_addstr(out, "0.");
			for (int i = 0; i < -exp - 1; i++)
				kp_buf_addch(out, '0');
			kp_buf_addstr(out, digits);
		} else if ((int)nd <= exp + 1) {
			kp_buf_addstr(out, digits);
			for (int i = (int)nd; i < exp + 1; i++)
				kp_buf_addch(out, '0');
			kp_buf_addstr(out, ".0");
		} else {
			kp_buf_add(out, digits, (size_t)exp + 1);
			kp_buf_addch(out, '.');
			kp_buf_addstr(out, digits + exp + 1);
		}
		return;
	}
	kp_buf_addch(out, digits[0]);
	if (nd > 1) {
		kp_buf_addch(out, '.');
		kp_buf_addstr(out, digits + 1);
	}
	kp_buf_addf(out, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

void kp_value_to_text(const struct kp_value *v, bool hide, struct kp_buf *out)
{
	if (!v)
		return;
	if (hide && v->secret) {
		kp_buf_addstr(out, "<hidden>");
		return;
	}
	if (hide && v->no_log && v->type != KP_V_MAP) {
		kp_buf_addstr(out, "<hidden by no_log>");
		return;
	}
	switch (v->type) {
	case KP_V_NULL:
		break;
	case KP_V_BOOL:
		kp_buf_addstr(out, v->u.b ? "true" : "false");
		break;
	case KP_V_INT:
		kp_buf_addf(out, "%lld", (long long)v->u.i);
		break;
	case KP_V_FLOAT:
		kp_float_repr(v->u.f, out);
		break;
	case KP_V_STR:
		kp_buf_add(out, v->u.str.s, v->u.str.len);
		break;
	default:
		kp_value_to_json(v, hide, false, out);
		break;
	}
}

static bool ends_with(const char *s, size_t n, const char *tail)
{
	size_t t = strlen(tail);
	return n >= t && !strcasecmp(s + n - t, tail);
}

bool kp_secret_name(const char *name)
{
	size_t n = strlen(name);
	return ends_with(name, n, "_password") || ends_with(name, n, "_passwd") ||
	       ends_with(name, n, "_pass") || ends_with(name, n, "_key") ||
	       !strcasecmp(name, "key") || !strcasecmp(name, "password") ||
	       strcasestr(name, "token") || strcasestr(name, "secret");
}

struct cJSON *kp_value_to_cjson(const struct kp_value *v, bool hide)
{
	cJSON *j;
	if (hide && v->secret)
		return cJSON_CreateString("<hidden>");
	if (hide && v->no_log) {
		if (v->type != KP_V_MAP)
			return cJSON_CreateString("<hidden by no_log>");
		j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "censored", KP_NO_LOG_CENSORED);
		for (size_t i = 0; i < KP_ARRAY_LEN(nolog_keep); i++) {
			const struct kp_value *k = kp_map_get(v, nolog_keep[i]);
			if (k)
				cJSON_AddItemToObject(j, nolog_keep[i], kp_value_to_cjson(k, hide));
		}
		return j;
	}
	switch (v->type) {
	case KP_V_NULL:
		return cJSON_CreateNull();
	case KP_V_BOOL:
		return cJSON_CreateBool(v->u.b);
	case KP_V_INT: {
		/* every digit: a double would round integers past 2^53 */
		char num[32];
		snprintf(num, sizeof(num), "%lld", (long long)v->u.i);
		return cJSON_CreateRaw(num);
	}
	case KP_V_FLOAT:
		/* as Python's json writes a float: repr, the shortest text that
		 * reads back the same double ("1.0", "1796671613.2770798");
		 * cJSON's own check of its 15 digits is approximate */
		if (isfinite(v->u.f)) {
			struct kp_buf num;
			kp_buf_init(&num);
			kp_float_repr(v->u.f, &num);
			cJSON *c = cJSON_CreateRaw(num.buf);
			kp_buf_release(&num);
			return c;
		}
		return cJSON_CreateNumber(v->u.f);
	case KP_V_STR: {
		/* cJSON strings are NUL-terminated: an embedded NUL truncates */
		return cJSON_CreateString(v->u.str.s);
	}
	case KP_V_LIST:
		j = cJSON_CreateArray();
		for (size_t i = 0; i < v->u.list.n; i++)
			cJSON_AddItemToArray(j, kp_value_to_cjson(v->u.list.items[i], hide));
		return j;
	default:
		j = cJSON_CreateObject();
		for (size_t i = 0; i < v->u.map.n; i++) {
			const char *k = v->u.map.keys[i];
			cJSON *item = hide && kp_secret_name(k)
					  ? cJSON_CreateString("<hidden>")
					  : kp_value_to_cjson(v->u.map.vals[i], hide);
			cJSON_AddItemToObject(j, k, item);
		}
		return j;
	}
}

/* cJSON prints integral doubles beyond 2^53 imprecisely, and our ints are
 * exact: print ints ourselves by walking in parallel is overkill; values that
 * large are rare in plans, so cJSON's number printing is accepted. */
void kp_value_to_json(const struct kp_value *v, bool hide, bool indent, struct kp_buf *out)
{
	cJSON *j = kp_value_to_cjson(v, hide);
	char *s = indent ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
	if (s) {
		if (indent) {
			/* cJSON indents with tabs; operators expect two spaces */
			for (const char *p = s; *p; p++) {
				if (*p == '\t')
					kp_buf_addstr(out, "  ");
				else
					kp_buf_addch(out, *p);
			}
		} else {
			kp_buf_addstr(out, s);
		}
		cJSON_free(s);
	}
	cJSON_Delete(j);
}

/* The number tokens of a JSON text, in the order cJSON's tree holds them
 * depth first: cJSON reads every number as a double; Python's json makes
 * a number without fraction or exponent an int, exact however many digits
 * it has (kplan's: up to 2^63 - 1; beyond, a float). */
struct json_nums {
	const char *s, *end;
};

static const char *next_number(struct json_nums *n, size_t *len)
{
	const char *p = n->s;
	while (p < n->end) {
		if (*p == '"') {
			for (p++; p < n->end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			p++;
		} else if (*p == '-' || (*p >= '0' && *p <= '9')) {
			const char *start = p;
			while (p < n->end && strchr("+-0123456789.eE", *p))
				p++;
			n->s = p;
			*len = (size_t)(p - start);
			return start;
		} else {
			p++;
		}
	}
	n->s = p;
	return NULL;
}

static struct kp_value *from_cjson(const cJSON *j, struct json_nums *nums)
{
	if (cJSON_IsNull(j))
		return kp_value_null();
	if (cJSON_IsBool(j))
		return kp_value_bool(cJSON_IsTrue(j));
	if (cJSON_IsNumber(j)) {
		size_t len = 0;
		const char *tok = next_number(nums, &len);
		if (tok && len < 32 && !memchr(tok, '.', len) && !memchr(tok, 'e', len) &&
		    !memchr(tok, 'E', len)) {
			char num[32];
			memcpy(num, tok, len);
			num[len] = '\0';
			errno = 0;
			long long i = strtoll(num, NULL, 10);
			if (!errno)
				return kp_value_int(i);
		}
		return kp_value_float(j->valuedouble);
	}
	if (cJSON_IsString(j))
		return kp_value_str(j->valuestring);
	if (cJSON_IsArray(j)) {
		struct kp_value *l = kp_value_list();
		const cJSON *c;
		cJSON_ArrayForEach(c, j) kp_list_push_take(l, from_cjson(c, nums));
		return l;
	}
	struct kp_value *m = kp_value_map();
	const cJSON *c;
	cJSON_ArrayForEach(c, j)
	    kp_map_set_take(m, c->string ? c->string : "", from_cjson(c, nums));
	return m;
}

kp_rc kp_value_from_json(const char *text, size_t len, struct kp_value **out, struct kp_buf *err)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (!j) {
		size_t off = end && end >= text ? (size_t)(end - text) : 0;
		return kp_errorf(err, KP_ERR_PARSE, "invalid JSON at byte %zu", off);
	}
	struct json_nums nums = {text, text + len};
	*out = from_cjson(j, &nums);
	cJSON_Delete(j);
	return KP_OK;
}

bool kp_value_bool_word(const struct kp_value *v)
{
	static const char *const yes[] = {"y", "yes", "on", "1", "true", "t"};
	if (v->type != KP_V_STR)
		return kp_value_truthy(v);
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		if (!strcasecmp(v->u.str.s, yes[i]))
			return true;
	return false;
}
