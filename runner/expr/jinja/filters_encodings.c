/*
 * filters_encodings.c - to_json, to_nice_json, from_json, b64encode,
 * b64decode, hash, checksum, as ansible-core 2.14 gives them.
 *
 * to_json must give the bytes Python's json.dumps gives (", " and ": "
 * separators, ensure_ascii, floats as repr, optional indent and
 * sort_keys), which no JSON library's printer does: cJSON escapes each
 * string, kp_jinja_str prints each number as Python does, and the layout
 * between them is written here. Parsing is cJSON's (kp_value_from_json);
 * base64 and the digests are OpenSSL's.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "expr/jinja/jlib.h"

struct jopt {
	int indent; /* <0: none */
	bool sort_keys;
	const char *item_sep, *key_sep;
	bool utf8; /* ensure_ascii=False: non-ASCII characters as they are */
};

/* A JSON string as json.dumps writes it with ensure_ascii: cJSON's
 * escaping, then every non-ASCII character as \uXXXX (surrogate pairs
 * beyond the BMP). */
static void add_jstring(struct kp_buf *b, const char *s, bool utf8)
{
	cJSON *j = cJSON_CreateString(s);
	char *p = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!p) {
		kp_buf_addstr(b, "\"\"");
		return;
	}
	for (const unsigned char *q = (const unsigned char *)p; *q;) {
		if (*q < 0x80 || utf8) {
			kp_buf_addch(b, *q++);
			continue;
		}
		uint32_t cp;
		int n;
		if ((*q >> 5) == 6)
			cp = *q & 0x1f, n = 1;
		else if ((*q >> 4) == 14)
			cp = *q & 0x0f, n = 2;
		else if ((*q >> 3) == 30)
			cp = *q & 0x07, n = 3;
		else
			cp = 0xfffd, n = 0;
		q++;
		for (int i = 0; i < n && (*q & 0xc0) == 0x80; i++)
			cp = cp << 6 | (*q++ & 0x3f);
		if (cp >= 0x10000) {
			cp -= 0x10000;
			kp_buf_addf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
				    0xdc00 + (cp & 0x3ff));
		} else {
			kp_buf_addf(b, "\\u%04x", cp);
		}
	}
	free(p);
}

static void newline(struct kp_buf *b, const struct jopt *o, int depth)
{
	if (o->indent < 0)
		return;
	kp_buf_addch(b, '\n');
	for (int i = 0; i < o->indent * depth; i++)
		kp_buf_addch(b, ' ');
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static kp_rc dump(struct kp_jctx *cx, const struct kp_value *v, const struct jopt *o, int depth,
		  struct kp_buf *b)
{
	kp_rc rc = kp_jinja_charge(cx, 1);
	if (rc)
		return rc;
	if (depth > 256)
		return kp_jinja_err(cx, KP_ERR_LIMIT, "value nested too deep for JSON");
	switch (v->type) {
	case KP_V_NULL:
		kp_buf_addstr(b, "null");
		return KP_OK;
	case KP_V_BOOL:
		kp_buf_addstr(b, v->u.b ? "true" : "false");
		return KP_OK;
	case KP_V_INT:
		kp_buf_addf(b, "%lld", (long long)v->u.i);
		return KP_OK;
	case KP_V_FLOAT:
		if (isnan(v->u.f))
			kp_buf_addstr(b, "NaN");
		else if (isinf(v->u.f))
			kp_buf_addstr(b, v->u.f > 0 ? "Infinity" : "-Infinity");
		else
			kp_jinja_str(v, b);
		return KP_OK;
	case KP_V_STR:
		/* charged as written, so that a huge output stops early */
		if ((rc = kp_jinja_charge(cx, v->u.str.len)))
			return rc;
		add_jstring(b, v->u.str.s, o->utf8);
		return KP_OK;
	case KP_V_LIST:
		if (!kp_list_len(v)) {
			kp_buf_addstr(b, "[]");
			return KP_OK;
		}
		kp_buf_addch(b, '[');
		for (size_t i = 0; i < kp_list_len(v) && !rc; i++) {
			if (i)
				kp_buf_addstr(b, o->item_sep);
			newline(b, o, depth + 1);
			rc = dump(cx, kp_list_at(v, i), o, depth + 1, b);
		}
		newline(b, o, depth);
		kp_buf_addch(b, ']');
		return rc;
	case KP_V_MAP: {
		size_t n = kp_map_len(v);
		if (!n) {
			kp_buf_addstr(b, "{}");
			return KP_OK;
		}
		const char **keys = kp_xmalloc(n * sizeof *keys);
		for (size_t i = 0; i < n; i++)
			keys[i] = kp_map_key(v, i);
		if (o->sort_keys)
			qsort(keys, n, sizeof *keys, cmp_keys);
		kp_buf_addch(b, '{');
		for (size_t i = 0; i < n && !rc; i++) {
			if (i)
				kp_buf_addstr(b, o->item_sep);
			newline(b, o, depth + 1);
			add_jstring(b, keys[i], o->utf8);
			kp_buf_addstr(b, o->key_sep);
			rc = dump(cx, kp_map_get(v, keys[i]), o, depth + 1, b);
		}
		free(keys);
		newline(b, o, depth);
		kp_buf_addch(b, '}');
		return rc;
	}
	}
	return KP_OK;
}

static kp_rc to_json(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *ind,
		     const struct kp_value *sort, const struct kp_value *kw, bool nice,
		     struct kp_value **out)
{
	struct jopt o = {-1, false, ", ", ": ", false};
	const struct kp_value *ea = kw ? kp_map_get(kw, "ensure_ascii") : NULL;
	o.utf8 = ea && !kp_jinja_truthy(ea);
	int64_t indent;
	kp_rc rc = jl_int(cx, ind && ind->type != KP_V_NULL ? ind : NULL, "indent", nice ? 4 : -1,
			  &indent);
	if (rc)
		return rc;
	o.indent = indent < 0 ? -1 : indent > 64 ? 64 : (int)indent;
	o.sort_keys = jl_bool(sort, nice);
	if (o.indent >= 0)
		o.item_sep = ",";
	struct kp_buf b = KP_BUF_INIT;
	/* the text costs its length too */
	if ((rc = dump(cx, in, &o, 0, &b)) || (rc = kp_jinja_charge(cx, b.len))) {
		kp_buf_release(&b);
		return rc;
	}
	size_t len;
	char *s = kp_buf_detach(&b, &len);
	*out = kp_value_str_take(s, len);
	return KP_OK;
}

/* to_json(indent=None, sort_keys=False, **kw): kw may set ensure_ascii */
JF(to_json)
{
	return to_json(cx, in, argv[0], argv[1], argv[2], false, out);
}

/* to_nice_json(indent=4, sort_keys=True, **kw) */
JF(to_nice_json)
{
	return to_json(cx, in, argv[0], argv[1], argv[2], true, out);
}

JF(from_json)
{
	if (in->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "the JSON object must be str, bytes or bytearray, not %s",
				    kp_jinja_typename(in));
	struct kp_buf err = KP_BUF_INIT;
	kp_rc rc = kp_value_from_json(in->u.str.s, in->u.str.len, out, &err);
	if (rc)
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "Expecting valid JSON: %s", err.buf);
	kp_buf_release(&err);
	return rc;
}

JF(b64encode)
{
	struct kp_value *s = jl_strval(in);
	size_t n = s->u.str.len;
	kp_rc rc = kp_jinja_charge(cx, n * 4 / 3 + 4);
	if (!rc) {
		unsigned char *o = kp_xmalloc(4 * ((n + 2) / 3) + 1);
		int len = EVP_EncodeBlock(o, (const unsigned char *)s->u.str.s, (int)n);
		*out = kp_value_str_take((char *)o, (size_t)len);
	}
	kp_value_unref(s);
	return rc;
}

/* base64.b64decode: characters outside the alphabet are dropped, the
 * padding must be right, the result must be UTF-8 text. */
JF(b64decode)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct kp_value *s = jl_strval(in);
	struct kp_buf clean = KP_BUF_INIT;
	size_t data = 0, pad = 0;
	for (size_t i = 0; i < s->u.str.len; i++) {
		char c = s->u.str.s[i];
		if (c == '=') {
			pad++;
			kp_buf_addch(&clean, c);
		} else if (c && strchr(alpha, c) && !pad) {
			data++;
			kp_buf_addch(&clean, c);
		}
	}
	kp_value_unref(s);
	kp_rc rc = KP_OK;
	if (data % 4 == 1)
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME,
				  "Invalid base64-encoded string: number of data characters (%zu) "
				  "cannot be 1 more than a multiple of 4",
				  data);
	else if ((data + pad) % 4 || (data % 4 && pad < 4 - data % 4))
		rc = kp_jinja_err(cx, KP_ERR_RUNTIME, "Incorrect padding (base64)");
	if (rc) {
		kp_buf_release(&clean);
		return rc;
	}
	/* keep only the padding that belongs (Python ignores what follows) */
	size_t want = data % 4 ? 4 - data % 4 : 0;
	kp_buf_setlen(&clean, data + want);
	unsigned char *o = kp_xmalloc(clean.len / 4 * 3 + 4);
	int len =
	    clean.len ? EVP_DecodeBlock(o, (const unsigned char *)clean.buf, (int)clean.len) : 0;
	kp_buf_release(&clean);
	if (len < 0) {
		free(o);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "invalid base64-encoded string");
	}
	len -= (int)want; /* EVP_DecodeBlock counts the padding as zero bytes */
	o[len] = 0;
	if (memchr(o, 0, (size_t)len)) {
		/* text with NUL bytes cannot be a kplan string */
		free(o);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "the decoded base64 data is not text");
	}
	*out = kp_value_str_take((char *)o, (size_t)len);
	return KP_OK;
}

static kp_rc digest(struct kp_jctx *cx, const struct kp_value *in, const char *name,
		    struct kp_value **out)
{
	char alt[64];
	const EVP_MD *md = EVP_get_digestbyname(name);
	if (!md && strlen(name) < sizeof alt) {
		/* Python's sha3_256 is OpenSSL's sha3-256 */
		strcpy(alt, name);
		for (char *p = alt; *p; p++)
			if (*p == '_')
				*p = '-';
		md = EVP_get_digestbyname(alt);
	}
	if (!md)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "unsupported hash type %s", name);
	struct kp_value *s = jl_strval(in);
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int ok = EVP_Digest(s->u.str.s, s->u.str.len, h, &n, md, NULL);
	kp_value_unref(s);
	if (!ok)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "hash %s failed", name);
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	*out = kp_value_strn(hex, 2 * n);
	return KP_OK;
}

/* hash(hashtype='sha1') */
JF(hash)
{
	const char *name;
	kp_rc rc = jl_str(cx, argv[0], "hashtype", "sha1", &name);
	if (rc)
		return rc;
	return digest(cx, in, name, out);
}

JF(checksum)
{
	return digest(cx, in, "sha1", out);
}

JF(md5)
{
	return digest(cx, in, "md5", out);
}
