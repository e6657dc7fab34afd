#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Real kubectl against the lab API server at 1.13, with every kubectl this
# machine has: /usr/bin/kubectl, and Debian's kubernetes-client (1.20)
# unpacked from the apt cache when its .deb is there (a variant that is
# absent is skipped, saying so). get nodes -o wide, get pods -A -o wide,
# get pdb, get lease, a bounded get pods -w, cordon, drain (server dry run
# first: nothing changes; kubectl before 1.21 reads the lab's OpenAPI
# document for it, and fails as on a real server; then for real), uncordon. What kubectl prints is
# compared with what the API's objects say by kubectl's own rules (its
# printers and its drain filters), not with typed lists; which pods the
# drain evicted is read from the API server's log.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "real kubectl against the lab"
KUBECONFIG=$L/kubeconfig
export KUBECONFIG
PY=/usr/bin/python3

# the kubectl variants: "LABEL PATH"
: >"$E2E_TMP/kubectls"
if [ -x /usr/bin/kubectl ]; then
	echo "$(/usr/bin/kubectl version --client -o json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])') /usr/bin/kubectl" >>"$E2E_TMP/kubectls"
else
	echo "# SKIP /usr/bin/kubectl: not installed"
fi
deb=$(ls /var/cache/apt/archives/kubernetes-client_*.deb 2>/dev/null | head -n 1)
if [ -n "$deb" ] && dpkg-deb -x "$deb" "$E2E_TMP/kc120" 2>/dev/null && [ -x "$E2E_TMP/kc120/usr/bin/kubectl" ]; then
	v=$("$E2E_TMP/kc120/usr/bin/kubectl" version --client -o json 2>/dev/null | $PY -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')
	# the same version already at /usr/bin/kubectl (kubernetes-client installed): once
	grep -q "^$v " "$E2E_TMP/kubectls" || echo "$v $E2E_TMP/kc120/usr/bin/kubectl" >>"$E2E_TMP/kubectls"
else
	echo "# SKIP kubectl from kubernetes-client: no kubernetes-client .deb in /var/cache/apt/archives"
fi
[ -s "$E2E_TMP/kubectls" ] || {
	echo "# SKIP no kubectl at all"
	exit 0
}

raw() { /usr/bin/kubectl get --raw "$1" 2>/dev/null || "$kubectl" get --raw "$1"; }
lab() { printf '%s' "${2:-}" | "$kubectl" create --raw "$1" -f - >/dev/null; }

# kubectl's printers over the API's JSON (k8s.io/kubernetes/pkg/printers/internalversion)
expect_nodes() {
	raw /api/v1/nodes | $PY -c 'import json,sys
for n in sorted(json.load(sys.stdin)["items"], key=lambda n: n["metadata"]["name"]):
    ready = [c for c in n["status"].get("conditions", []) if c["type"] == "Ready"]
    st = "Unknown" if not ready else ("Ready" if ready[0]["status"] == "True" else "NotReady")
    if n["spec"].get("unschedulable"):
        st += ",SchedulingDisabled"
    roles = sorted(k.split("/", 1)[1] for k in n["metadata"].get("labels", {}) if k.startswith("node-role.kubernetes.io/"))
    ip = [a["address"] for a in n["status"].get("addresses", []) if a["type"] == "InternalIP"]
    print(n["metadata"]["name"], st, ",".join(roles) or "<none>", n["status"]["nodeInfo"]["kubeletVersion"], ip[0] if ip else "<none>")'
}
expect_pods() {
	raw /api/v1/pods | $PY -c 'import json,sys
for p in sorted(json.load(sys.stdin)["items"], key=lambda p: (p["metadata"]["namespace"], p["metadata"]["name"])):
    cs = p["status"].get("containerStatuses", [])
    reason = p["status"].get("reason") or p["status"].get("phase", "")
    for c in cs:
        w = c.get("state", {}).get("waiting")
        t = c.get("state", {}).get("terminated")
        if w and w.get("reason"):
            reason = w["reason"]
        elif t and t.get("reason"):
            reason = t["reason"]
    if p["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    ready = sum(1 for c in cs if c.get("ready"))
    print(p["metadata"]["namespace"], p["metadata"]["name"], "%d/%d" % (ready, len(p["spec"]["containers"])),
          reason, p["status"].get("podIP") or "<none>", p["spec"].get("nodeName") or "<none>")'
}
# columns of kubectl's table by header name
cols() { # NAMES... (stdin: the table)
	$PY -c 'import re,sys
lines = sys.stdin.read().splitlines()
head = lines[0]
starts = [m.start() for m in re.finditer(r"\S+(?: \S+)*", head)]
names = [head[s:(starts[i + 1] if i + 1 < len(starts) else None)].strip() for i, s in enumerate(starts)]
for l in lines[1:]:
    cells = {n: l[s:(starts[i + 1] if i + 1 < len(starts) else None)].strip() for i, (n, s) in enumerate(zip(names, starts))}
    print(" ".join(cells[n] for n in sys.argv[1:]))' "$@"
}

while read -r ver kubectl; do
	echo "# kubectl $ver ($kubectl)"
	lab /lab/reset
	sleep 2.5 # the kubelets report their nodes again
	check "$ver: get nodes -o wide" "$(expect_nodes)" \
		"$("$kubectl" get nodes -o wide | cols NAME STATUS ROLES VERSION INTERNAL-IP)"
	check "$ver: get pods -A -o wide" "$(expect_pods)" \
		"$("$kubectl" get pods -A -o wide | cols NAMESPACE NAME READY STATUS IP NODE)"
	check "$ver: get pdb (policy/v1beta1 on 1.13)" \
		"$(raw /apis/policy/v1beta1/poddisruptionbudgets | $PY -c 'import json,sys
for b in json.load(sys.stdin)["items"]:
    print(b["metadata"]["namespace"], b["metadata"]["name"], b["spec"].get("minAvailable", "N/A"), b["spec"].get("maxUnavailable", "N/A"), b["status"]["disruptionsAllowed"])')" \
		"$("$kubectl" get pdb -A | cols NAMESPACE NAME "MIN AVAILABLE" "MAX UNAVAILABLE" "ALLOWED DISRUPTIONS")"
	lab /apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases \
		'{"apiVersion":"coordination.k8s.io/v1beta1","kind":"Lease","metadata":{"name":"kplan-t0700"},"spec":{"holderIdentity":"t0700"}}'
	check "$ver: get lease -n kube-system (coordination.k8s.io/v1beta1 on 1.13)" \
		"$(raw /apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases | $PY -c 'import json,sys
print("\n".join(sorted(l["metadata"]["name"] for l in json.load(sys.stdin)["items"])))')" \
		"$("$kubectl" get lease -n kube-system | cols NAME)"

	# a watch sees a pod go Terminating (bounded: 8 s)
	victim=$(raw '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | $PY -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["metadata"]["name"])')
	timeout 8 "$kubectl" get pods -n default -w >"$E2E_TMP/watch" 2>&1 &
	wpid=$!
	sleep 2
	"$kubectl" delete pod -n default "$victim" --wait=false >/dev/null
	wait $wpid
	check "$ver: get pods -w shows the deleted pod Terminating" yes \
		"$(grep -q "^$victim .* Terminating " "$E2E_TMP/watch" && echo yes || { echo no; cat "$E2E_TMP/watch"; })"
	lab '/lab/settle?timeout=10'
	sleep 1

	check "$ver: cordon" "node/k8s-worker-1 cordoned" "$("$kubectl" cordon k8s-worker-1 2>&1)"
	check "$ver: the node is unschedulable" True \
		"$(raw /api/v1/nodes/k8s-worker-1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["spec"].get("unschedulable"))')"
	check "$ver: uncordon" "node/k8s-worker-1 uncordoned" "$("$kubectl" uncordon k8s-worker-1 2>&1)"

	# what kubectl drain's filters let go on k8s-worker-1 (ignore DaemonSets,
	# skip mirror pods; emptyDir and bare pods allowed by the flags)
	want=$(raw '/api/v1/pods?fieldSelector=spec.nodeName%3Dk8s-worker-1' | $PY -c 'import json,sys
out = []
for p in json.load(sys.stdin)["items"]:
    md = p["metadata"]
    ctl = [o for o in md.get("ownerReferences", []) if o.get("controller")]
    if ctl and ctl[0]["kind"] == "DaemonSet" and p["status"].get("phase") not in ("Succeeded", "Failed"):
        continue
    if "kubernetes.io/config.mirror" in md.get("annotations", {}):
        continue
    out.append(md["namespace"] + "/" + md["name"])
print(" ".join(sorted(out)))')
	state() { raw /api/v1/pods | $PY -c 'import json,sys; print(" ".join(sorted(p["metadata"]["uid"] for p in json.load(sys.stdin)["items"] if not p["metadata"].get("deletionTimestamp"))))'; }
	before=$(state)
	"$kubectl" drain k8s-worker-1 --dry-run=server --ignore-daemonsets --delete-emptydir-data --force >"$E2E_TMP/dry" 2>&1
	dry_rc=$?
	minor=$(echo "$ver" | sed 's/^v1\.\([0-9]*\).*/\1/')
	if [ "$minor" -ge 21 ]; then
		check "$ver: drain --dry-run=server: exit 0" 0 "$dry_rc"
		check "$ver: drain --dry-run=server: would evict what the filters let go" "$want" \
			"$(sed -n 's|^evicting pod \([^ ]*\) (server dry run)$|\1|p' "$E2E_TMP/dry" | sort | paste -sd' ')"
	else
		# kubectl 1.18 to 1.20 check each eviction's dry-run support in the
		# OpenAPI document under the listed pod's kind, which a typed list
		# leaves empty: the eviction is refused on a real server as here
		# (kubernetes/kubernetes#100206, fixed in 1.21)
		check "$ver: drain --dry-run=server fails as on a real server (kubernetes#100206)" "1 yes" \
			"$dry_rc $(grep -q '^error when evicting pods/".*": /, Kind= doesn'"'"'t support dry-run$' "$E2E_TMP/dry" && echo yes || echo no)"
		check "$ver: ... after its server-side dry-run cordon" "node/k8s-worker-1 cordoned (server dry run)" \
			"$(grep '^node/' "$E2E_TMP/dry" | head -n 1)"
	fi
	check "$ver: drain --dry-run=server changes nothing (no pod, no cordon)" "$before None" \
		"$(state) $(raw /api/v1/nodes/k8s-worker-1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["spec"].get("unschedulable"))')"
	mark=$(wc -l <"$L/cluster/apiserver.log")
	"$kubectl" drain k8s-worker-1 --ignore-daemonsets --delete-emptydir-data --force --timeout=60s >"$E2E_TMP/drain" 2>&1
	check "$ver: drain: exit 0" 0 "$?"
	# kubectl 1.20 ends with "node/NAME evicted" (its own wording), later ones "drained"
	check "$ver: drain: the last line names the node" yes \
		"$(tail -n 1 "$E2E_TMP/drain" | grep -Eqx 'node/k8s-worker-1 (drained|evicted)' && echo yes || tail -n 1 "$E2E_TMP/drain")"
	check "$ver: drain evicted (201) exactly what the filters let go" "$want" \
		"$(tail -n +"$((mark + 1))" "$L/cluster/apiserver.log" | sed -n 's|.* POST /api/v1/namespaces/\([^/]*\)/pods/\([^/]*\)/eviction 201 .*|\1/\2|p' | sort | paste -sd' ')"
	check "$ver: drain: the node is cordoned, SchedulingDisabled" "Ready,SchedulingDisabled" \
		"$("$kubectl" get node k8s-worker-1 | cols STATUS)"
	check "$ver: uncordon after the drain" "node/k8s-worker-1 uncordoned" "$("$kubectl" uncordon k8s-worker-1 2>&1)"
done <"$E2E_TMP/kubectls"
