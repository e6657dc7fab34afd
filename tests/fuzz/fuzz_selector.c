/*
 * fuzz_selector.c - label selectors of PodDisruptionBudgets against pod
 * labels (kp_kube_selector_matches), and the message of a Status answer
 * (kp_kube_status_message), on any JSON: {"selector": ..., "labels": ...}
 * and the whole document as a Status.
 */
#include "fuzz.h"
#include "kube/kubeapi.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	if (!j)
		return 0;
	const cJSON *sel = cJSON_GetObjectItemCaseSensitive(j, "selector");
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(j, "labels");
	bool a = kp_kube_selector_matches(sel, labels);
	/* the same answer twice: matching reads, never changes */
	if (kp_kube_selector_matches(sel, labels) != a)
		abort();
	kp_kube_selector_matches(j, labels);
	kp_kube_selector_matches(sel, j);
	const char *m = kp_kube_status_message(j);
	if (!m)
		abort();
	cJSON_Delete(j);
	return 0;
}
