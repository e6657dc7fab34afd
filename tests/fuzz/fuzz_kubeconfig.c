/*
 * fuzz_kubeconfig.c - kubeconfig files (kp_kubeconfig_load_string): the
 * current context, its cluster and user, base64 data decoded with OpenSSL,
 * certificate, key and token files found beside the kubeconfig (a scratch
 * directory holding ca.crt, client.crt, client.key and token).
 */
#include "fuzz.h"
#include "kube/kubeapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const files[] = {"ca.crt", "client.crt", "client.key", "token"};
static char dir[64], path[128];

static void cleanup(void)
{
	char p[128];
	for (size_t i = 0; i < KP_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[128];
	strcpy(dir, "/tmp/kp-fuzz-kcfg.XXXXXX");
	if (!mkdtemp(dir))
		abort();
	for (size_t i = 0; i < KP_ARRAY_LEN(files); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		FILE *f = fopen(p, "w");
		if (!f || fprintf(f, "-----BEGIN %s-----\nAAAA\n-----END-----\n\n", files[i]) < 0 ||
		    fclose(f))
			abort();
	}
	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	atexit(cleanup);
	if (kp_kube_global_init(NULL))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kp_kubeconfig *kc = NULL;
	struct kp_buf err = KP_BUF_INIT;

	if (kp_fuzz_names_device(data, size))
		return -1;
	if (!kp_kubeconfig_load_string(path, (const char *)data, size, &kc, &err)) {
		/* what a client is made from must be whole */
		if (!kc->server || !kc->context || !kc->cluster)
			abort();
		if ((kc->cert && strlen(kc->cert) > kc->cert_len) ||
		    (kc->key && strlen(kc->key) > kc->key_len) ||
		    (kc->ca && strlen(kc->ca) > kc->ca_len))
			abort();
		/* a direct client copies what it needs; nothing connects yet */
		struct kp_kube *k = NULL;
		if (!kp_kube_new(kc, &k, &err)) {
			kp_kube_describe(k);
			kp_kube_free(k);
		}
		kp_kubeconfig_free(kc);
	} else if (!err.len) {
		abort(); /* every failure says why */
	}
	kp_buf_release(&err);
	return 0;
}
