/*
 * fuzz_template.c - templates and expressions: compile, then evaluate in
 * one sandboxed Lua state kept across inputs (as a worker thread keeps
 * its own), with a fixed scope: layered variables, hostvars, a secret, a
 * name known only after probing. The sandbox's instruction and memory
 * limits are the defaults, so an input that runs away must be stopped by
 * them well inside libFuzzer's -timeout.
 *
 * The first byte picks what the rest is:
 *   t  a template ("x {{ expr }} y"), rendered      (T: with placeholders)
 *   e  a bare expression, evaluated                 (E)
 *   b  a bare expression, tested as a condition     (B)
 *   y  a YAML value whose strings may be templates  (Y)
 * any other first byte: the whole input is a template.
 */
#include "expr/expr.h"
#include "fuzz.h"
#include "core/value.h"
#include "core/ytree.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char vars_yaml[] =
    "kube_version: \"1.13.3\"\n"
    "x: 1\nf: 1.5\nt: true\nno: false\nnothing: null\n"
    "shared: low\n"
    "group_names: [kube_control_plane, etcd]\n"
    "groups: {all: [n1, n2, w1], etcd: [n1, n2], kube_control_plane: [n1]}\n"
    "kubelet_version: {stdout: \"Kubernetes v1.13.1\", rc: 0, stdout_lines: [a, b]}\n"
    "become_password: !secret hunter2\n"
    "m: {a: {b: 5}, empty: {}, l: [1, 2, {c: d}], z: 1}\n"
    "template_var: \"{{ x + 1 }}\"\n";
static const char high_yaml[] = "shared: high\nitem: {name: kubeadm, version: 1.13.3-00}\n";
static const char hosts_yaml[] = "n1: {ip: 10.0.0.1, labels: {b: 1, a: 2}}\nw1: {ip: 10.0.0.3}\n";

static const char *const unknown[] = {"pin", "drained"};

static struct kp_lua *L;
static struct kp_value *layers[2], *hosts;
static char dir[64];

static struct kp_value *yaml_value(const char *text)
{
	struct kp_doc *doc = NULL;
	struct kp_value *v = NULL;
	struct kp_buf err = KP_BUF_INIT;
	if (kp_yaml_load_string("vars.yml", text, strlen(text), &doc, &err) ||
	    kp_node_to_value(doc->root, &v, &err)) {
		fprintf(stderr, "fuzz_template: %s\n", err.buf);
		abort();
	}
	kp_doc_free(doc);
	kp_buf_release(&err);
	return v;
}

static struct kp_value *hostvars(void *ctx, const char *host)
{
	const struct kp_value *v = kp_map_get(hosts, host);
	return v ? kp_value_ref(v) : NULL;
}

static void cleanup(void)
{
	char p[96];
	snprintf(p, sizeof(p), "%s/motd.txt", dir);
	unlink(p);
	rmdir(dir);
	kp_lua_free(L);
	kp_value_unref(layers[0]);
	kp_value_unref(layers[1]);
	kp_value_unref(hosts);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[96];
	kp_log_level = -1;
	L = kp_lua_new();
	/* A tenth of the default instruction limit: under the sanitizers a
	 * loop of undefined-variable lookups ("while nosuch do end") takes
	 * seconds to reach 10 million; the limit's code path is the same. */
	if (L)
		kp_lua_set_limits(L, 0, KP_LUA_STEPS_DEFAULT / 10);
	layers[0] = yaml_value(vars_yaml);
	layers[1] = yaml_value(high_yaml);
	hosts = yaml_value(hosts_yaml);
	strcpy(dir, "/tmp/kp-fuzz-tmpl.XXXXXX");
	if (!L || !mkdtemp(dir))
		abort();
	snprintf(p, sizeof(p), "%s/motd.txt", dir);
	FILE *f = fopen(p, "w");
	if (!f || fputs("hello\n", f) < 0 || fclose(f))
		abort();
	atexit(cleanup);
	return 0;
}

/* Turn a result into text the ways output does. */
static void show(const struct kp_value *v)
{
	struct kp_buf b = KP_BUF_INIT;
	kp_value_to_json(v, true, false, &b);
	kp_buf_reset(&b);
	kp_value_to_text(v, false, &b);
	kp_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct kp_pos pos = {"plan.yml", 3, 7};
	struct kp_scope s = {
	    .layers = {layers[0], layers[1]},
	    .nlayers = 2,
	    .hostvars = hostvars,
	    .unknown = unknown,
	    .nunknown = KP_ARRAY_LEN(unknown),
	    .base_dir = dir,
	};
	struct kp_buf err = KP_BUF_INIT;
	struct kp_value *v = NULL;
	char mode = size ? (char)data[0] : '\0';
	kp_rc rc;

	if (kp_fuzz_names_device(data, size))
		return -1;
	if (mode && strchr("tebyTEBY", mode)) {
		data++;
		size--;
		s.placeholder = mode >= 'A' && mode <= 'Z';
		mode = (char)(mode | 0x20);
	} else {
		mode = 't';
	}
	char *src = kp_fuzz_str(data, size);
	if (mode == 't') {
		struct kp_template *t = NULL;
		rc = kp_template_compile(src, size, pos, &t, &err);
		if (!rc && !(rc = kp_template_render(L, t, &s, &v, &err)))
			show(v);
		kp_template_free(t);
	} else if (mode == 'e' || mode == 'b') {
		struct kp_expr *e = NULL;
		bool yes;
		rc = kp_expr_compile(src, pos, &e, &err);
		if (!rc && mode == 'e' && !(rc = kp_expr_eval(L, e, &s, &v, &err)))
			show(v);
		if (!rc && mode == 'b')
			rc = kp_expr_test(L, e, &s, &yes, &err);
		kp_expr_free(e);
	} else {
		struct kp_doc *doc = NULL;
		struct kp_tvalue *tv = NULL;
		rc = kp_yaml_load_string("args.yml", src, size, &doc, &err);
		if (!rc && doc->root && !(rc = kp_tvalue_from_node(doc->root, &tv, &err)) &&
		    !(rc = kp_tvalue_render(L, tv, &s, &v, &err)))
			show(v);
		kp_tvalue_free(tv);
		kp_doc_free(doc);
	}
	if (rc && !err.len)
		abort(); /* every failure says why */
	kp_value_unref(v);
	kp_buf_release(&err);
	free(src);
	return 0;
}
