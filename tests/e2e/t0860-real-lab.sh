#!/bin/sh
# suite: lab (a cluster scenario: started first)
# Real playbooks and roles from tests/data/real/, unchanged, run on one
# lab of scenario 1 (k8s-master, k8s-worker-1, k8s-worker-2 and the lab API
# server), each checked by its effect on the nodes:
#
#  - kubespray's roles upgrade/pre-upgrade and upgrade/post-upgrade on
#    k8s-worker-1, applied as kubespray's upgrade_cluster.yml applies them,
#    with kubespray's `kubectl` variable naming a real kubectl on the
#    control plane: the API server's log shows the node cordoned, every
#    pod kubectl drain evicts (the node's pods not owned by a DaemonSet,
#    read from the API before the run) evicted, then the node uncordoned;
#    it ends schedulable with those pods gone;
#  - a homelab's apt upgrade playbook (lukyluke-homelab/upgrade.yml:
#    dist-upgrade, reboot when /var/run/reboot-required exists) on
#    k8s-worker-2, whose kubectl package is released from its hold and
#    which a package asked to reboot: kubectl ends at apt's candidate, the
#    held kubeadm and kubelet where they were, the node rebooted (a new boot
#    id) and the marker gone;
#  - jgeusebroek's ca_certs role (tasks, vars, handlers) on k8s-worker-2:
#    the certificate lands in /usr/local/share/ca-certificates and the
#    handler's update-ca-certificates puts it into the node's bundle; a
#    second run changes nothing and runs no handler.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "real playbooks on the lab"
K=$(cd "$(dirname "$KPLAN")" && pwd)/$(basename "$KPLAN")
real=$(pwd)/tests/data/real
PY=/usr/bin/python3
KUBECONFIG=$L/kubeconfig
export KUBECONFIG
api() { "$kubectl" get --raw "$1"; }

# a real kubectl for the control plane (the node's own is the lab's, which
# has no drain): the newest single-version binary beside the machine's
kubectl=$(readlink -f /usr/bin/kubectl 2>/dev/null)
for k in "$(dirname "${kubectl:-/}")"/kubectl.1.*; do
	[ -x "$k" ] && kubectl=$k
done
if [ -z "$kubectl" ] || ! [ -x "$kubectl" ]; then
	echo "# SKIP kubespray's drain: no kubectl on this machine"
else
	scp -q -F "$L/ssh_config" "$kubectl" k8s-master:/usr/local/bin/kubectl-real
	# the pods kubectl drain evicts: on the node, not a DaemonSet's
	api "/api/v1/pods?fieldSelector=spec.nodeName%3Dk8s-worker-1" | $PY -c 'import json,sys
for p in json.load(sys.stdin)["items"]:
    if not any(o.get("kind") == "DaemonSet" for o in p["metadata"].get("ownerReferences", [])):
        print(p["metadata"]["namespace"] + "/" + p["metadata"]["name"])' | sort >"$E2E_TMP/evict.want"
	before=$(wc -l <"$L/cluster/apiserver.log")
	cat >"$E2E_TMP/upgrade-node.yml" <<-'EOF'
		- name: Handle upgrades to worker components (as kubespray's upgrade_cluster.yml)
		  hosts: k8s-worker-1
		  gather_facts: false
		  roles:
		    - { role: upgrade/pre-upgrade, tags: pre-upgrade }
		    - { role: upgrade/post-upgrade, tags: post-upgrade }
	EOF
	# from kubespray's directory: its ansible.cfg's roles_path finds the roles
	(cd "$real/kubespray" && ANSIBLE_CONFIG=ansible.cfg "$K" run "$E2E_TMP/upgrade-node.yml" -i "$inv" \
		-e 'kubectl="/usr/local/bin/kubectl-real --kubeconfig /etc/kubernetes/admin.conf"' \
		-e kube_network_plugin=calico >"$E2E_TMP/drain.out" 2>&1)
	check "kubespray pre-upgrade and post-upgrade: exit 0" 0 "$?"
	[ -z "$(grep -E '^  failed:' "$E2E_TMP/drain.out")" ] || grep -E '^  failed:' -A2 "$E2E_TMP/drain.out" | sed 's/^/    /'
	# what the API server was asked, in order: the cordon, the evictions, the uncordon
	tail -n +"$((before + 1))" "$L/cluster/apiserver.log" | $PY -c 'import sys, re
for l in sys.stdin:
    f = l.rstrip("\n").split(" ", 5) + [""]
    if len(f) < 6:
        continue
    meth, path, body = f[2], f[3], f[5]
    if meth == "PATCH" and path == "/api/v1/nodes/k8s-worker-1":
        print("cordon" if "\"unschedulable\":true" in body else "uncordon")
    m = re.match(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/eviction$", path)
    if meth == "POST" and m and f[4].startswith("2"):
        print("evict " + m.group(1) + "/" + m.group(2))' >"$E2E_TMP/calls"
	{
		echo cordon
		sed 's/^/evict /' "$E2E_TMP/evict.want"
		echo uncordon
	} >"$E2E_TMP/calls.want"
	check "API calls: cordon, evict each pod of the node, uncordon" "$(cat "$E2E_TMP/calls.want")" \
		"$(head -1 "$E2E_TMP/calls"; sed '1d;$d' "$E2E_TMP/calls" | sort; tail -1 "$E2E_TMP/calls")"
	check "k8s-worker-1 ends schedulable" "" \
		"$(api /api/v1/nodes/k8s-worker-1 | $PY -c 'import json,sys; print(json.load(sys.stdin)["spec"].get("unschedulable") or "")')"
	left=$(api /api/v1/pods | $PY -c 'import json,sys
print(" ".join(sorted(p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in json.load(sys.stdin)["items"])))')
	gone=yes
	for p in $(cat "$E2E_TMP/evict.want"); do
		case " $left " in *" $p "*) gone="no: $p" ;; esac
	done
	check "the drained pods are gone" yes "$gone"
fi

# the homelab's apt upgrade: apt's candidate, the holds kept, a reboot
on k8s-worker-2 'apt-mark unhold kubectl >/dev/null && touch /var/run/reboot-required'
cand=$(on k8s-worker-2 "apt-cache policy kubectl | sed -n 's/^ *Candidate: //p'")
held=$(on k8s-worker-2 "dpkg-query -W kubeadm kubelet")
boot0=$(on k8s-worker-2 'cat /proc/sys/kernel/random/boot_id')
(cd "$real/lukyluke-homelab" && "$K" run upgrade.yml -i "$inv" -l k8s-worker-2 >"$E2E_TMP/apt.out" 2>&1)
check "homelab upgrade.yml: exit 0" 0 "$?"
check "kubectl at apt's candidate" "$cand" "$(on k8s-worker-2 "dpkg-query -W -f '\${Version}' kubectl")"
check "held kubeadm and kubelet kept" "$held" "$(on k8s-worker-2 "dpkg-query -W kubeadm kubelet")"
boot1=$(on k8s-worker-2 'cat /proc/sys/kernel/random/boot_id')
[ -n "$boot1" ] && [ "$boot1" != "$boot0" ] && rebooted=yes || rebooted="no ($boot0 -> $boot1)"
check "the node rebooted" yes "$rebooted"
check "reboot-required is gone" absent "$(on k8s-worker-2 'test -e /var/run/reboot-required && echo present || echo absent')"

# a role with handlers: jgeusebroek's ca_certs
mkdir -p "$E2E_TMP/certs"
openssl req -x509 -newkey ed25519 -nodes -keyout "$E2E_TMP/ca.key" -out "$E2E_TMP/certs/kplan-lab-ca.crt" \
	-subj /CN=kplan-lab-ca -days 2 2>/dev/null
cat >"$E2E_TMP/ca.yml" <<EOF
- name: Trust the lab's CA
  hosts: k8s-worker-2
  vars:
    ca_certs_install: [kplan-lab-ca.crt]
    ca_certs_default_cert_location: $E2E_TMP/certs
  roles:
    - role: $real/jgeusebroek-ca_certs
EOF
"$K" run "$E2E_TMP/ca.yml" -i "$inv" >"$E2E_TMP/ca.out" 2>&1
check "ca_certs role: exit 0" 0 "$?"
check "the certificate on the node" "$(cat "$E2E_TMP/certs/kplan-lab-ca.crt")" \
	"$(on k8s-worker-2 cat /usr/local/share/ca-certificates/kplan-lab-ca.crt)"
pem=$(sed -n '2p' "$E2E_TMP/certs/kplan-lab-ca.crt")
check "the handler put it in the node's bundle" 1 \
	"$(on k8s-worker-2 "grep -c -- '$pem' /etc/ssl/certs/ca-certificates.crt")"
check "the handler ran once" 1 "$(grep -c 'Update trusted certificate authority list.*(handler)' "$E2E_TMP/ca.out")"
"$K" run "$E2E_TMP/ca.yml" -i "$inv" >"$E2E_TMP/ca2.out" 2>&1
check "second run: exit 0, nothing changed" "0 changed=0" "$? $(grep -o 'changed=[0-9]*' "$E2E_TMP/ca2.out")"
check "second run: no handler" 0 "$(grep -c '(handler)' "$E2E_TMP/ca2.out")"
