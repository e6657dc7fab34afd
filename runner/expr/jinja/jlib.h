/*
 * jlib.h - what the filter, test and lookup library shares inside itself
 * (not for the engine; the contract with the engine is jinja_fn.h): the
 * functions each table lists, argument helpers with Python's conversions,
 * and the regex helpers that filters and tests both use.
 *
 * Ownership as in jinja_fn.h: arguments are borrowed, results are new
 * references.
 */
#ifndef KP_JLIB_H
#define KP_JLIB_H

#include "expr/jinja/jinja_fn.h"

/* Ansible names kplan refuses when the plan loads (NULL-terminated), each
 * "kind:name" ("filter:json_query"). kp_jinja_unsupported_as("filter",
 * name) says whether that filter is one of them; kp_jinja_unsupported_kind
 * gives the kind of the first entry with that name ("filter", "test",
 * "lookup"), else NULL. */
extern const char *const kp_jinja_unsupported[];
bool kp_jinja_unsupported_as(const char *kind, const char *name);
const char *kp_jinja_unsupported_kind(const char *name);
/* The closest name of that kind kplan has (the library's table plus
 * `extra`, the engine's own names, NULL-terminated or NULL), within two
 * edits; NULL when none is close. */
const char *kp_jinja_did_you_mean(const char *kind, const char *name, const char *const *extra);
/* The message for a name kplan does not have, appended to msg:
 * "filter 'json_query' is not supported by kplan", or
 * "no filter named 'lowr' (did you mean 'lower'?)" (names.c). */
void kp_jinja_unknown_name(const char *kind, const char *name, const char *const *extra,
			   struct kp_buf *msg);

/* Declares `kp_rc jf_NAME(cx, in, argv, out)` for a filter and
 * `kp_rc jt_NAME(cx, in, argv, out)` for a test. */
#define JF(name)                                                                                   \
	kp_rc jf_##name(struct kp_jctx *cx, const struct kp_value *in,                             \
			const struct kp_value *const *argv, struct kp_value **out)
#define JT(name)                                                                                   \
	kp_rc jt_##name(struct kp_jctx *cx, const struct kp_value *in,                             \
			const struct kp_value *const *argv, bool *out)
#define JL(name)                                                                                   \
	kp_rc jl_##name(struct kp_jctx *cx, const struct kp_value *const *argv,                    \
			struct kp_value **out)

/* ---- helpers (jlib.c) ---- */

/* The argument as a C value, or `def` when it was not given (NULL).
 * jl_int accepts ints, bools and integral floats; anything else is the
 * error "'name' must be an integer". */
kp_rc jl_int(struct kp_jctx *cx, const struct kp_value *v, const char *name, int64_t def,
	     int64_t *out);
bool jl_bool(const struct kp_value *v, bool def); /* Python truthiness */
/* A string argument (def when not given or None); other types
 * are the error "'name' must be a string". */
kp_rc jl_str(struct kp_jctx *cx, const struct kp_value *v, const char *name, const char *def,
	     const char **out);
/* str(v) into a new string value. */
struct kp_value *jl_strval(const struct kp_value *v);
/* Iterate v as Python does: a list's items, a string's characters, a
 * map's keys. *out is a new list; other types are "'int' object is not
 * iterable". */
kp_rc jl_iter(struct kp_jctx *cx, const struct kp_value *v, struct kp_value **out);
/* Jinja's attribute getter: "a.b.0" walks maps by key and lists by index.
 * Returns NULL (undefined) when a step is missing. Borrowed. */
const struct kp_value *jl_attr(const struct kp_value *v, const char *path);
/* A new undefined value whose use fails with the message given (for
 * list items and results that Jinja leaves undefined). */
struct kp_value *jl_undef(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Case-folded copy for case-insensitive comparisons (ASCII). */
struct kp_value *jl_fold(const struct kp_value *v);
/* Membership as Python's `in`. */
bool jl_contains(const struct kp_value *container, const struct kp_value *item);
/* A list without repeats (Python ==), in order of first appearance. */
struct kp_value *jl_unique(const struct kp_value *list);
/* Stable merge sort of a list's items by key (or the item itself when
 * keys is NULL), Python ordering; errors from kp_jinja_compare. */
kp_rc jl_sort(struct kp_jctx *cx, struct kp_value **items, struct kp_value **keys, size_t n,
	      bool reverse);

/* `count` characters of `chars` (ASCII) drawn as Python's
 * random.Random(seed).choice draws them, or from OpenSSL when seed is NULL
 * (filters_random.c). */
kp_rc jl_seeded_choices(struct kp_jctx *cx, const struct kp_value *seed, const char *chars,
			size_t count, struct kp_buf *out);

/* ---- regexes (regex.c): PCRE2, with Python's syntax for named groups and
 * replacement templates (\1, \g<1>, \g<name>), and a match limit so that a
 * pathological pattern fails instead of running for hours. ---- */
struct jl_re;
kp_rc jl_re_compile(struct kp_jctx *cx, const char *pattern, bool icase, bool multiline,
		    struct jl_re **out);
void jl_re_free(struct jl_re *re);
/* 1 when found (re.search, or re.match when anchored), 0 when not, or
 * the negated kp_rc of the error (recorded). */
int jl_re_find(struct kp_jctx *cx, struct jl_re *re, const char *s, size_t len, bool anchored);

/* ---- filters ---- */
/* types */
JF(bool);
JF(int);
JF(float);
JF(string);
JF(list);
JF(dict);
JF(abs);
JF(round);
JF(ternary);
JF(type_debug);
/* strings */
JF(lower);
JF(upper);
JF(capitalize);
JF(title);
JF(trim);
JF(replace);
JF(split);
JF(join);
JF(wordcount);
JF(center);
JF(truncate);
JF(indent);
JF(format);
JF(quote);
/* regex */
JF(regex_replace);
JF(regex_search);
JF(regex_findall);
JF(regex_escape);
/* lists */
JF(first);
JF(last);
JF(length);
JF(min);
JF(max);
JF(sum);
JF(unique);
JF(union);
JF(intersect);
JF(difference);
JF(symmetric_difference);
JF(sort);
JF(reverse);
JF(flatten);
JF(zip);
JF(zip_longest);
JF(batch);
JF(slice);
JF(random);
JF(shuffle);
JF(product);
/* select / map */
JF(map);
JF(extract);
JF(select);
JF(reject);
JF(selectattr);
JF(rejectattr);
JF(groupby);
/* dicts */
JF(dict2items);
JF(items2dict);
JF(combine);
JF(dictsort);
JF(items);
/* encodings */
JF(to_json);
JF(to_nice_json);
JF(from_json);
JF(to_yaml);
JF(to_nice_yaml);
JF(from_yaml);
JF(from_yaml_all);
JF(b64encode);
JF(b64decode);
JF(hash);
JF(checksum);
JF(md5);
/* paths */
JF(basename);
JF(dirname);
JF(splitext);
JF(expanduser);
JF(expandvars);
JF(path_join);
JF(urlsplit);
/* ipaddr */
JF(ipaddr);
JF(ipwrap);
JF(ipv4);
JF(ipv6);

/* ---- lookups ---- */
JL(template);
/* lookups_loops.c */
JL(items);
JL(list);
JL(dict);
JL(indexed_items);
JL(together);
JL(nested);
JL(sequence);
JL(subelements);
JL(fileglob);
JL(first_found);
/* lookup_inventory.c */
JL(inventory_hostnames);

/* ---- tests (tests.c, regex.c for match/search/regex) ---- */
JT(match);
JT(search);
JT(regex);
kp_rc jl_version_test(struct kp_jctx *cx, const struct kp_value *in, const struct kp_value *ref,
		      const struct kp_value *op, const struct kp_value *type, bool *out);

#endif
