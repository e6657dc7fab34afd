#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# The Scenario 1 cluster lab (tests/lab/cluster): 'lab up --scenario 1'
# gives three nodes with kubeadm, kubelet and kubectl 1.13.0-00 really
# installed from the lab's apt repository and held, kubelets Ready in the
# lab API server, and the API server answering like Kubernetes over HTTPS
# with client certificates: budgets (429), evictions and their replacement
# pods, cordons, leases; kubeadm refuses what kubeadm 1.13 refuses and
# upgrades the cluster's version; a restarted kubelet reports its new
# version. Where a real kubectl is installed it drains a lab node.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ]; then
	echo "# SKIP cluster lab tests: not root"
	exit 0
fi
lab=$(cd "$(dirname "$0")/../lab" && pwd)/lab
d=$E2E_TMP/lab
trap '"$lab" down --dir "$d" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
PY=/usr/bin/python3

# on NODE CMD: run CMD on NODE over real OpenSSH; stdout and stderr together
on() {
	ssh -F "$d/ssh_config" "$@" 2>&1
}

# dead PID: no such process, or a zombie
dead() {
	[ ! -e "/proc/$1" ] || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = Z ]
}

# the machine's apt and dpkg state, which the lab must not touch
machine_state() {
	ls -la /etc/apt /etc/apt/sources.list.d /usr/local/bin 2>&1
	cksum /var/lib/dpkg/status /etc/apt/sources.list 2>&1
	command -v systemctl kubeadm kubelet 2>&1
}
machine_state >"$E2E_TMP/machine.before"

start=$(date +%s)
"$lab" up --scenario 1 --dir "$d" >"$E2E_TMP/up.out" 2>&1
check "lab up --scenario 1" 0 "$?"
took=$(($(date +%s) - start))
[ -f "$d/kubeconfig" ] || {
	sed 's/^/    /' "$E2E_TMP/up.out"
	exit 0
}
echo "# lab up --scenario 1 took ${took}s"
# a hang guard: on a quiet machine the scenario is up in seconds
check "the scenario comes up by itself" yes "$([ "$took" -le 180 ] && echo yes || echo "no (${took}s)")"
pids=$(awk '{ print $1 }' "$d/pids")
check "the API server's pid is recorded" 1 "$(awk '$2 == "cluster" && $3 == "apiserver"' "$d/pids" | wc -l | tr -d ' ')"

# ---- the inventory -------------------------------------------------------------
groups=$(awk '/^    [a-z0-9_]+:$/ { sub(/:/, ""); printf "%s%s", s, $1; s = " " }' "$d/inventory.yml")
check "the inventory has kubespray's groups" "kube_control_plane kube_node etcd k8s_cluster" "$groups"
check "the inventory keeps the connection variables" 3 "$(grep -c 'ansible_ssh_private_key_file:' "$d/inventory.yml")"
check "the control plane is k8s-master" "k8s-master" \
	"$(awk '/^    kube_control_plane:/ { f = 1; next } f && /^        [a-z0-9-]+:$/ { sub(/:/, ""); print $1; exit }' "$d/inventory.yml")"

# ---- packages, holds, the apt repository, the programs ---------------------------
for n in k8s-master k8s-worker-1 k8s-worker-2; do
	check "$n: kubeadm, kubelet, kubectl 1.13.0-00 installed" "kubeadm 1.13.0-00 kubectl 1.13.0-00 kubelet 1.13.0-00" \
		"$(on "$n" 'dpkg-query -W kubeadm kubelet kubectl' | tr '\t\n' '  ' | sed 's/ $//')"
	check "$n: the three packages are held" "kubeadm kubectl kubelet" \
		"$(on "$n" 'apt-mark showhold' | sort | tr '\n' ' ' | sed 's/ $//')"
	check "$n: kubeadm version -o short" v1.13.0 "$(on "$n" 'kubeadm version -o short')"
	check "$n: kubelet --version" "Kubernetes v1.13.0" "$(on "$n" 'kubelet --version')"
	check "$n: systemctl is-active kubelet" "active 0" "$(on "$n" 'systemctl is-active kubelet; echo $?' | tr '\n' ' ' | sed 's/ $//')"
done
check "apt-cache madison kubeadm lists the lab repository's six versions" \
	"1.14.0-00 1.13.3-00 1.13.2-00 1.13.1-00 1.13.0-00 1.12.5-00" \
	"$(on k8s-worker-1 'apt-cache madison kubeadm' | awk -F' *[|] *' '{ printf "%s%s", s, $2; s = " " }')"
check "a node's apt sources are the lab repository only" "kplan-lab.list" \
	"$(on k8s-worker-2 'ls /etc/apt/sources.list.d; grep -v "^#" /etc/apt/sources.list | grep .')"
check "apt-get update in a node is offline and works" 0 "$(on k8s-worker-2 'apt-get update -qq >/dev/null 2>&1; echo $?')"
out=$(on k8s-master 'kubectl --kubeconfig /etc/kubernetes/admin.conf get nodes')
check "kubectl get nodes on the master: three Ready nodes at v1.13.0" \
	"k8s-master Ready master v1.13.0|k8s-worker-1 Ready <none> v1.13.0|k8s-worker-2 Ready <none> v1.13.0|" \
	"$(echo "$out" | awk 'NR > 1 { printf "%s %s %s %s|", $1, $2, $3, $5 }')"
check "kubectl get nodes prints kubectl's header" "NAME STATUS ROLES AGE VERSION" "$(echo "$out" | head -n 1 | tr -s ' ')"

# ---- the API over HTTPS from the machine ----------------------------------------------
kc=$E2E_TMP/kc
mkdir -p "$kc"
sed -n 's/^ *certificate-authority-data: //p' "$d/kubeconfig" | base64 -d >"$kc/ca.crt"
sed -n 's/^ *client-certificate-data: //p' "$d/kubeconfig" | base64 -d >"$kc/client.crt"
sed -n 's/^ *client-key-data: //p' "$d/kubeconfig" | base64 -d >"$kc/client.key"
server=$(sed -n 's/^ *server: //p' "$d/kubeconfig")
check "the admin certificate is kubernetes-admin in system:masters" "O=system:masters,CN=kubernetes-admin" \
	"$(openssl x509 -in "$kc/client.crt" -noout -subject | sed 's/^subject= *//' | tr -d ' ')"

# api METHOD PATH [BODY [CONTENT_TYPE]]: the body on stdout, "HTTP <code>" on the last line
api() {
	if [ -n "${3:-}" ]; then
		curl -sS --cacert "$kc/ca.crt" --cert "$kc/client.crt" --key "$kc/client.key" -X "$1" \
			-H "Content-Type: ${4:-application/json}" --data-binary "$3" -w '\nHTTP %{http_code}\n' "$server$2"
	else
		curl -sS --cacert "$kc/ca.crt" --cert "$kc/client.crt" --key "$kc/client.key" -X "$1" \
			-w '\nHTTP %{http_code}\n' "$server$2"
	fi
}
# js EXPR: evaluate a Python expression on the JSON body read from stdin (j)
js() {
	sed '$d' | "$PY" -c 'import json, sys
j = json.load(sys.stdin)
r = eval(sys.argv[1])
print(" ".join(map(str, r)) if isinstance(r, list) else r)' "$1"
}
code() { tail -n 1 | sed 's/^HTTP //'; }

check "/version" v1.13.0 "$(api GET /version | js 'j["gitVersion"]')"
if curl -sS --cacert "$kc/ca.crt" "$server/version" >/dev/null 2>&1; then r=answered; else r=refused; fi
check "a client without a certificate is refused" refused "$r"
check "the API server's certificate names its address" 0 \
	"$(curl -sS -o /dev/null --cacert "$kc/ca.crt" --cert "$kc/client.crt" --key "$kc/client.key" "$server/healthz"; echo $?)"
check "GET a missing node: 404 Status" "404 NotFound nodes \"nope\" not found" \
	"$(api GET /api/v1/nodes/nope | js '[j["code"], j["reason"], j["message"]]')"
check "the nodes' kubeletVersion and Ready" "k8s-master:v1.13.0:True k8s-worker-1:v1.13.0:True k8s-worker-2:v1.13.0:True" \
	"$(api GET /api/v1/nodes | js '["%s:%s:%s" % (n["metadata"]["name"], n["status"]["nodeInfo"]["kubeletVersion"], [c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready"][0]) for n in j["items"]]')"
pods_on() { # NODE: "namespace/name" of its pods, sorted
	api GET "/api/v1/pods?fieldSelector=spec.nodeName%3D$1" | js 'sorted(p["metadata"]["namespace"] + "/" + p["metadata"]["name"].rsplit("-", 1)[0] for p in j["items"])'
}
check "both CoreDNS pods run on k8s-master (started before the workers joined)" 2 \
	"$(pods_on k8s-master | tr ' ' '\n' | grep -c /coredns-)"
all=$(api GET /api/v1/pods | js 'sorted(set(p["metadata"]["namespace"] + "/" + ((lambda r: r["kind"] + ":" + (r["name"].rsplit("-", 1)[0] if r["kind"] == "ReplicaSet" else r["name"]))(p["metadata"]["ownerReferences"][0]) if p["metadata"].get("ownerReferences") else p["metadata"]["name"]) for p in j["items"]))')
check "the scenario's workloads (the control plane's static pods as mirror pods, owned by their Node)" "default/ReplicaSet:nginx default/no-annotation kube-system/DaemonSet:kube-flannel-ds-amd64 kube-system/DaemonSet:kube-proxy kube-system/Node:k8s-master kube-system/ReplicaSet:coredns kube-system/ReplicaSet:kube-state-metrics kube-system/ReplicaSet:metrics-server" "$all"
check "five nginx pods, two CoreDNS pods, a kube-proxy and a flannel pod per node" "5 2 3 3" \
	"$(api GET /api/v1/pods | js '[sum(1 for p in j["items"] if p["metadata"]["name"].startswith(x)) for x in ("nginx-", "coredns-", "kube-proxy-", "kube-flannel-")]')"
check "metrics-server has an emptyDir volume" "tmp-dir" \
	"$(api GET /api/v1/namespaces/kube-system/pods | js '[v["name"] for p in j["items"] for v in p["spec"].get("volumes", []) if "emptyDir" in v]')"
check "the CoreDNS budget allows one disruption" "1 2 1" \
	"$(api GET /apis/policy/v1beta1/namespaces/kube-system/poddisruptionbudgets/coredns | js '[j["status"]["disruptionsAllowed"], j["status"]["currentHealthy"], j["status"]["desiredHealthy"]]')"

# cordon every node (merge and strategic merge patches), so that an evicted
# CoreDNS pod cannot come back: then only one is available
api PATCH /api/v1/nodes/k8s-master '{"spec":{"unschedulable":true}}' application/merge-patch+json >/dev/null
for n in k8s-worker-1 k8s-worker-2; do
	api PATCH "/api/v1/nodes/$n" '{"spec":{"unschedulable":true}}' application/strategic-merge-patch+json >/dev/null
done
check "cordon via PATCH: spec.unschedulable is true" "True True True" \
	"$(api GET /api/v1/nodes | js '[n["spec"].get("unschedulable") for n in j["items"]]')"
# shellcheck disable=SC2046 # two pod names
set -- $(api GET '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns' | js '[p["metadata"]["name"] for p in j["items"]]')
ev() { # NAMESPACE POD VERSION
	api POST "/api/v1/namespaces/$1/pods/$2/eviction" \
		"{\"apiVersion\":\"policy/$3\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\"}}"
}
check "a 1.13 server has no policy/v1: its Eviction is the real server's 400" \
	'400|BadRequest|Eviction in version "v1" cannot be handled as a Eviction: no kind "Eviction" is registered for version "policy/v1"' \
	"$(ev kube-system "$1" v1 | js '"|".join([str(j["code"]), j["reason"], j["message"]])')"
check "nor policy/v1 budgets, nor coordination.k8s.io/v1 Leases: 404" "404 404" \
	"$(api GET /apis/policy/v1/namespaces/kube-system/poddisruptionbudgets | code) $(api GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases | code)"
check "evict the first CoreDNS pod (policy/v1beta1): 201" 201 "$(ev kube-system "$1" v1beta1 | code)"
out=$(ev kube-system "$2" v1beta1)
check "evict the last available CoreDNS pod (policy/v1beta1): 429" 429 "$(echo "$out" | code)"
check "the 429 Status says why and names the budget" \
	"TooManyRequests|Cannot evict pod as it would violate the pod's disruption budget.|The disruption budget coredns needs 1 healthy pods and has 1 currently" \
	"$(echo "$out" | js '"|".join([j["reason"], j["message"], j["details"]["causes"][0]["message"]])')"
check "the budget allows no disruption now" 0 \
	"$(api GET /apis/policy/v1beta1/namespaces/kube-system/poddisruptionbudgets | js 'j["items"][0]["status"]["disruptionsAllowed"]')"
check "with every node cordoned the replacement CoreDNS pod stays Pending" "Pending None" \
	"$(sleep 1.5; api GET '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkube-dns' | js '[p["status"]["phase"] + " " + str(p["spec"].get("nodeName")) for p in j["items"] if p["metadata"]["name"] not in ("'"$1"'", "'"$2"'")]')"
for n in k8s-master k8s-worker-1 k8s-worker-2; do
	api PATCH "/api/v1/nodes/$n" '{"spec":{"unschedulable":null}}' application/strategic-merge-patch+json >/dev/null
done
check "uncordon via PATCH" "None None None" "$(api GET /api/v1/nodes | js '[n["spec"].get("unschedulable") for n in j["items"]]')"

# drain's way: cordon k8s-worker-1, evict one of its nginx pods; a new pod
# (new name, new UID) runs on the other schedulable node
api PATCH /api/v1/nodes/k8s-worker-1 '{"spec":{"unschedulable":true}}' application/strategic-merge-patch+json >/dev/null
before=$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | js '[p["metadata"]["uid"] for p in j["items"]]')
victim=$(api GET '/api/v1/pods?fieldSelector=spec.nodeName=k8s-worker-1' | js '[p["metadata"]["name"] for p in j["items"] if p["metadata"]["name"].startswith("nginx-")][0]')
check "evict an nginx pod on k8s-worker-1: 201" 201 "$(ev default "$victim" v1beta1 | code)"
new=
i=0
while [ $i -lt 50 ]; do
	new=$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' |
		js '[p["spec"]["nodeName"] + ":" + p["status"]["phase"] for p in j["items"] if p["metadata"]["uid"] not in "'"$before"'".split()]')
	case $new in *:Running) break ;; esac
	sleep 0.1
	i=$((i + 1))
done
check "a new nginx pod runs on k8s-worker-2" "k8s-worker-2:Running" "$new"
check "the evicted pod is gone" 404 "$(api GET "/api/v1/namespaces/default/pods/$victim" | code)"
check "still five nginx pods" 5 "$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | js 'len(j["items"])')"
api PATCH /api/v1/nodes/k8s-worker-1 '{"spec":{"unschedulable":null}}' application/strategic-merge-patch+json >/dev/null
check "a deleted bare pod is gone for good" "200 404" \
	"$(api DELETE '/api/v1/namespaces/default/pods/no-annotation?gracePeriodSeconds=0' | code) $(sleep 1.5; api GET /api/v1/namespaces/default/pods/no-annotation | code)"

# leases with resourceVersion conflicts
L=/apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases
check "create a Lease: 201" 201 "$(api POST $L '{"apiVersion":"coordination.k8s.io/v1beta1","kind":"Lease","metadata":{"name":"kplan-test"},"spec":{"holderIdentity":"a","leaseDurationSeconds":15}}' | code)"
check "create it again: 409 AlreadyExists" "409 AlreadyExists" \
	"$(api POST $L '{"apiVersion":"coordination.k8s.io/v1beta1","kind":"Lease","metadata":{"name":"kplan-test"},"spec":{}}' | js '[j["code"], j["reason"]]')"
rv=$(api GET $L/kplan-test | js 'j["metadata"]["resourceVersion"]')
check "update with its resourceVersion: 200" 200 \
	"$(api PUT $L/kplan-test "{\"apiVersion\":\"coordination.k8s.io/v1beta1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"kplan-test\",\"resourceVersion\":\"$rv\"},\"spec\":{\"holderIdentity\":\"b\"}}" | code)"
check "update with a stale resourceVersion: 409 Conflict" "409 Conflict" \
	"$(api PUT $L/kplan-test "{\"apiVersion\":\"coordination.k8s.io/v1beta1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"kplan-test\",\"resourceVersion\":\"$rv\"},\"spec\":{\"holderIdentity\":\"c\"}}" | js '[j["code"], j["reason"]]')"
check "delete the Lease" "200 404" "$(api DELETE $L/kplan-test | code) $(api GET $L/kplan-test | code)"

# ---- kubeadm, apt, systemctl ------------------------------------------------------------
check "kubeadm 1.13.0 refuses 'upgrade apply v1.14.0'" 1 "$(on k8s-master 'kubeadm upgrade apply v1.14.0 --yes >/dev/null 2>&1; echo $?')"
check "... with kubeadm's message" \
	'- Specified version to upgrade to "v1.14.0" is at least one minor release higher than the kubeadm minor release (14 > 13). Such an upgrade is not supported' \
	"$(on k8s-master 'kubeadm upgrade apply v1.14.0 --yes 2>&1 >/dev/null' | sed -n 's/^\t//p')"
check "kubeadm 1.13.0 refuses 'upgrade apply v1.13.3': upgrade kubeadm first" \
	'[upgrade/version] FATAL: the --version argument is invalid due to these errors:||	- Specified version to upgrade to "v1.13.3" is higher than the kubeadm version "v1.13.0". Upgrade kubeadm first using the tool you used to install kubeadm||Can be bypassed if you pass the --force flag|' \
	"$(on k8s-master 'kubeadm upgrade apply v1.13.3 --yes 2>&1 >/dev/null' | tr '\n' '|')"
check "a worker refuses 'upgrade node config' before the control plane" 1 \
	"$(on k8s-worker-2 'kubeadm upgrade node config --kubelet-version v1.13.3 >/dev/null 2>&1; echo $?')"
check "apt-get install kubeadm=1.13.3-00 on the master" "v1.13.3" \
	"$(on k8s-master 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-change-held-packages kubeadm=1.13.3-00 >/dev/null 2>&1; kubeadm version -o short')"
check "kubeadm upgrade plan offers v1.13.3" "Cluster version: v1.13.0|API Server v1.13.0 v1.13.3|kubeadm upgrade apply v1.13.3|" \
	"$(on k8s-master 'kubeadm upgrade plan' | sed -n 's/^\[upgrade\/versions\] \(Cluster version: .*\)/\1/p; s/^\(API Server\) *\([^ ]*\) *\([^ ]*\)$/\1 \2 \3/p; s/^\t\(kubeadm upgrade apply .*\)/\1/p' | tr '\n' '|')"
out=$(on k8s-master 'kubeadm upgrade apply v1.13.3 --yes; echo "rc=$?"')
check "kubeadm upgrade apply v1.13.3 --yes succeeds" '[upgrade/successful] SUCCESS! Your cluster was upgraded to "v1.13.3". Enjoy!|rc=0' \
	"$(echo "$out" | grep -E '^\[upgrade/successful\]|^rc=' | tr '\n' '|' | sed 's/|$//')"
check "/version after the upgrade" v1.13.3 "$(api GET /version | js 'j["gitVersion"]')"
# shellcheck disable=SC2016 # expanded on the node
check "the worker's 'upgrade node config' now works" "0 # kubelet-config-1.13 for v1.13.3 (written by the kplan lab's kubeadm)" \
	"$(on k8s-worker-2 'kubeadm upgrade node config --kubelet-version v1.13.3 >/dev/null 2>&1; echo $? $(head -n 1 /var/lib/kubelet/config.yaml)')"
on k8s-worker-2 'DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-change-held-packages kubelet=1.13.3-00 >/dev/null 2>&1; apt-mark hold kubelet >/dev/null' >/dev/null
check "the running kubelet still reports v1.13.0 before its restart" v1.13.0 \
	"$(sleep 2.5; api GET /api/v1/nodes/k8s-worker-2 | js 'j["status"]["nodeInfo"]["kubeletVersion"]')"
on k8s-worker-2 'systemctl restart kubelet' >/dev/null
v=
i=0
while [ $i -lt 50 ]; do
	v=$(api GET /api/v1/nodes/k8s-worker-2 | js 'j["status"]["nodeInfo"]["kubeletVersion"]')
	[ "$v" != v1.13.3 ] || break
	sleep 0.1
	i=$((i + 1))
done
check "after 'systemctl restart kubelet' the node reports v1.13.3" v1.13.3 "$v"
check "systemctl stop kubelet: inactive, exit 3" "inactive 3" \
	"$(on k8s-worker-1 'systemctl stop kubelet; systemctl is-active kubelet; echo $?' | tr '\n' ' ' | sed 's/ $//')"
check "systemctl start kubelet: active" "active" "$(on k8s-worker-1 'systemctl start kubelet; systemctl is-active kubelet')"
check "systemctl show -p LoadState" "LoadState=loaded LoadState=not-found" \
	"$(on k8s-worker-1 'systemctl show -p LoadState kubelet; systemctl show -p LoadState nosuch' | tr '\n' ' ' | sed 's/ $//')"

# ---- a real kubectl against the lab API server ------------------------------------------
if command -v kubectl >/dev/null 2>&1 && ! kubectl version --client 2>/dev/null | grep -q 'kplan lab'; then
	# its HOME and discovery cache in the run directory, never the machine's
	mkdir -p "$d/kubectl-home"
	k() {
		HOME=$d/kubectl-home KUBECONFIG=$d/kubeconfig kubectl --cache-dir "$d/kubectl-home/cache" "$@" 2>&1
	}
	check "real kubectl get nodes: three Ready nodes" "Ready Ready Ready" \
		"$(k get nodes | awk 'NR > 1 { printf "%s%s", s, $2; s = " " }')"
	check "real kubectl cordon" "node/k8s-worker-1 cordoned" "$(k cordon k8s-worker-1)"
	check "the node shows SchedulingDisabled" "Ready,SchedulingDisabled" "$(k get node k8s-worker-1 | awk 'NR == 2 { print $2 }')"
	k drain k8s-worker-1 --ignore-daemonsets --delete-emptydir-data --force --timeout=60s >"$E2E_TMP/drain" 2>&1
	check "real kubectl drain --ignore-daemonsets --delete-emptydir-data --force" 0 "$?"
	check "... reports the node drained" "node/k8s-worker-1 drained" "$(tail -n 1 "$E2E_TMP/drain")"
	check "only DaemonSet pods are left on the drained node" "kube-flannel-ds-amd64 kube-proxy" \
		"$(pods_on k8s-worker-1 | tr ' ' '\n' | sed 's|^kube-system/||' | tr '\n' ' ' | sed 's/ $//')"
	check "the Deployments' pods run again elsewhere" "5 1" \
		"$(sleep 2.5; api GET /api/v1/pods | js '[sum(1 for p in j["items"] if p["metadata"]["name"].startswith(x) and p["status"]["phase"] == "Running" and p["spec"]["nodeName"] != "k8s-worker-1") for x in ("nginx-", "metrics-server-")]')"
	check "real kubectl uncordon" "node/k8s-worker-1 uncordoned" "$(k uncordon k8s-worker-1)"
	check "no node is cordoned" "Ready Ready Ready" "$(k get nodes | awk 'NR > 1 { printf "%s%s", s, $2; s = " " }')"
else
	echo "# SKIP real kubectl not installed"
fi

# ---- down ----------------------------------------------------------------------------
"$lab" down --dir "$d" >/dev/null 2>&1
check "lab down" 0 "$?"
alive=
for p in $pids; do
	dead "$p" || alive="$alive $p"
done
check "no recorded pid (nodes, kubelets' nodes, API server) is alive after down" "" "$alive"
check "the run directory is gone" absent "$(test -e "$d" && echo present || echo absent)"
machine_state >"$E2E_TMP/machine.after"
check "the machine's apt sources, dpkg database and programs are unchanged" "" \
	"$(diff "$E2E_TMP/machine.before" "$E2E_TMP/machine.after")"
