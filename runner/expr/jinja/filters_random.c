/*
 * filters_random.c - random and shuffle. Without a seed they draw from
 * OpenSSL's generator. With one they give exactly what ansible-core gives,
 * because playbooks rely on that (`59 | random(seed=inventory_hostname)`
 * spreads cron minutes, the same each run): Python's random.Random, i.e.
 * MT19937 seeded by init_by_array from the seed as an integer (a string
 * seed is its UTF-8 bytes followed by their SHA-512, read big-endian),
 * and Python's _randbelow, randrange, choice and shuffle on top of it.
 */
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "expr/jinja/jlib.h"

#define MT_N 624
#define MT_M 397

struct mt {
	uint32_t s[MT_N];
	int i;
	bool seeded; /* else OpenSSL */
};

static void mt_init(struct mt *m, uint32_t seed)
{
	m->s[0] = seed;
	for (int i = 1; i < MT_N; i++)
		m->s[i] = 1812433253u * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
	m->i = MT_N;
}

static void mt_init_by_array(struct mt *m, const uint32_t *key, size_t n)
{
	mt_init(m, 19650218u);
	size_t i = 1, j = 0;
	for (size_t k = MT_N > n ? MT_N : n; k; k--) {
		m->s[i] = (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1664525u)) + key[j] +
			  (uint32_t)j;
		i++;
		j++;
		if (i >= MT_N) {
			m->s[0] = m->s[MT_N - 1];
			i = 1;
		}
		if (j >= n)
			j = 0;
	}
	for (size_t k = MT_N - 1; k; k--) {
		m->s[i] =
		    (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
		i++;
		if (i >= MT_N) {
			m->s[0] = m->s[MT_N - 1];
			i = 1;
		}
	}
	m->s[0] = 0x80000000u;
	m->i = MT_N;
}

static uint32_t mt_next(struct mt *m)
{
	if (!m->seeded) {
		uint32_t x;
		if (RAND_bytes((unsigned char *)&x, sizeof x) != 1)
			x = (uint32_t)random();
		return x;
	}
	if (m->i >= MT_N) {
		for (int k = 0; k < MT_N; k++) {
			uint32_t y = (m->s[k] & 0x80000000u) | (m->s[(k + 1) % MT_N] & 0x7fffffffu);
			m->s[k] = m->s[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1) ? 0x9908b0dfu : 0);
		}
		m->i = 0;
	}
	uint32_t y = m->s[m->i++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	y ^= y >> 18;
	return y;
}

/* Python's getrandbits(k) for k <= 64: 32-bit words, least significant
 * first, the last one shifted down to what is left. */
static uint64_t getrandbits(struct mt *m, int k)
{
	if (k <= 32)
		return mt_next(m) >> (32 - k);
	uint64_t lo = mt_next(m), hi = mt_next(m) >> (64 - k);
	return hi << 32 | lo;
}

/* Python's _randbelow_with_getrandbits */
static uint64_t randbelow(struct mt *m, uint64_t n)
{
	int k = 0;
	while (k < 64 && (n >> k))
		k++;
	uint64_t r;
	do
		r = getrandbits(m, k);
	while (r >= n);
	return r;
}

/* Random(seed): a string (its UTF-8 and SHA-512, big-endian) or an
 * integer (its absolute value), as 32-bit words least significant first. */
static kp_rc mt_seed(struct kp_jctx *cx, struct mt *m, const struct kp_value *seed)
{
	memset(m, 0, sizeof *m);
	if (!seed || seed->type == KP_V_NULL)
		return KP_OK;
	m->seeded = true;
	if (seed->type == KP_V_INT || seed->type == KP_V_BOOL) {
		uint64_t a = seed->type == KP_V_BOOL ? (uint64_t)seed->u.b
			     : seed->u.i < 0	     ? (uint64_t)0 - (uint64_t)seed->u.i
						     : (uint64_t)seed->u.i;
		uint32_t key[2] = {(uint32_t)a, (uint32_t)(a >> 32)};
		mt_init_by_array(m, key, key[1] ? 2 : 1);
		return KP_OK;
	}
	if (seed->type != KP_V_STR)
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "a seed must be a string or an integer, not %s",
				    kp_jinja_typename(seed));
	/* bytes = text + sha512(text), as one big-endian integer */
	size_t n = seed->u.str.len + SHA512_DIGEST_LENGTH;
	unsigned char *b = kp_xmalloc(n);
	memcpy(b, seed->u.str.s, seed->u.str.len);
	SHA512((const unsigned char *)seed->u.str.s, seed->u.str.len, b + seed->u.str.len);
	/* leading zero bytes do not count; the words go from the end */
	size_t skip = 0;
	while (skip < n && !b[skip])
		skip++;
	size_t nb = n - skip, nw = (nb + 3) / 4;
	uint32_t *key = kp_xcalloc(nw ? nw : 1, sizeof *key);
	for (size_t i = 0; i < nb; i++) {
		size_t from_end = nb - 1 - i; /* byte index from the least significant */
		key[from_end / 4] |= (uint32_t)b[skip + i] << (8 * (from_end % 4));
	}
	mt_init_by_array(m, key, nw ? nw : 1);
	free(key);
	free(b);
	return KP_OK;
}

/* random(start=None, step=None, seed=None): randrange(start, end, step)
 * for a number, choice() for a sequence */
JF(random)
{
	struct mt m;
	kp_rc rc = mt_seed(cx, &m, argv[2]);
	if (rc)
		return rc;
	if (in->type == KP_V_INT) {
		int64_t start, step;
		/* `not start` / `not step`: 0 and None alike take the default */
		rc = jl_int(cx, argv[0] && kp_jinja_truthy(argv[0]) ? argv[0] : NULL, "start", 0,
			    &start);
		if (!rc)
			rc = jl_int(cx, argv[1] && kp_jinja_truthy(argv[1]) ? argv[1] : NULL,
				    "step", 1, &step);
		if (rc)
			return rc;
		int64_t width = in->u.i - start;
		if (step <= 0)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "zero or negative step for randrange()");
		if (width <= 0)
			return kp_jinja_err(cx, KP_ERR_RUNTIME,
					    "empty range for randrange() (%lld, %lld)",
					    (long long)start, (long long)in->u.i);
		if (step == 1) {
			*out = kp_value_int(start + (int64_t)randbelow(&m, (uint64_t)width));
			return KP_OK;
		}
		uint64_t n = (uint64_t)((width + step - 1) / step);
		*out = kp_value_int(start + step * (int64_t)randbelow(&m, n));
		return KP_OK;
	}
	if ((argv[0] && kp_jinja_truthy(argv[0])) || (argv[1] && kp_jinja_truthy(argv[1])))
		return kp_jinja_err(cx, KP_ERR_RUNTIME,
				    "start and step can only be used with integer values");
	struct kp_value *l;
	if ((rc = jl_iter(cx, in, &l)))
		return rc;
	if (!kp_list_len(l)) {
		kp_value_unref(l);
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "Cannot choose from an empty sequence");
	}
	*out = kp_value_ref(kp_list_at(l, randbelow(&m, kp_list_len(l))));
	kp_value_unref(l);
	return KP_OK;
}

/* shuffle(seed=None): Python's shuffle, from the last item down */
JF(shuffle)
{
	struct mt m;
	kp_rc rc = mt_seed(cx, &m, argv[0] && kp_jinja_truthy(argv[0]) ? argv[0] : NULL);
	if (rc)
		return rc;
	struct kp_value *l;
	if ((rc = jl_iter(cx, in, &l)))
		return rc;
	struct kp_value *r = kp_value_copy(l);
	kp_value_unref(l);
	for (size_t i = kp_list_len(r); i-- > 1;) {
		size_t j = randbelow(&m, i + 1);
		struct kp_value *t = r->u.list.items[i];
		r->u.list.items[i] = r->u.list.items[j];
		r->u.list.items[j] = t;
	}
	*out = r;
	return KP_OK;
}

kp_rc jl_seeded_choices(struct kp_jctx *cx, const struct kp_value *seed, const char *chars,
			size_t count, struct kp_buf *out)
{
	struct mt m;
	kp_rc rc = mt_seed(cx, &m, seed);
	size_t n = strlen(chars);
	if (rc)
		return rc;
	if (!n)
		return kp_jinja_err(cx, KP_ERR_RUNTIME, "Cannot choose from an empty sequence");
	for (size_t i = 0; i < count; i++)
		kp_buf_addch(out, chars[randbelow(&m, n)]);
	return KP_OK;
}
