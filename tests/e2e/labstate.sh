# labstate.sh - what Scenario 1's lab is, byte for byte, so that a test can
# prove that a check changed nothing (t0400, t0401). Sourced after
# scenario_lab (lib.sh): uses L and on.
#
#   snapshot PREFIX   writes PREFIX.nodes (every node) and PREFIX.api

# What a node is: every path under /etc, /usr, /var/lib/dpkg,
# /var/lib/kubelet, /var/lib/apt and /root with its mode, size and mtime, the
# content hash of every file among them but /usr's (installed packages show in
# dpkg's status), and apt's holds.
node_state() {
	on "$1" 'find /etc /usr /var/lib/dpkg /var/lib/kubelet /var/lib/apt /root -xdev -printf "%p %y %m %s %T@\n" 2>/dev/null | sort
		find /etc /var/lib/dpkg /var/lib/kubelet /var/lib/apt /root -xdev -type f -print0 2>/dev/null | sort -z | xargs -0 sha256sum
		apt-mark showhold'
}
# What the node wrote anywhere, from outside: its overlay's upper directory
# (the lab's own agent state under /tmp aside)
node_upper() {
	(cd "$L/$1/upper" && find . -xdev -path ./tmp -prune -o -printf '%p %y %m %s %T@\n' | sort &&
		find . -xdev -path ./tmp -prune -o -type f -print0 | sort -z | xargs -0 sha256sum)
}
# The API server's whole state, without its heartbeats
api_state() {
	on k8s-master "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /lab/state" |
		/usr/bin/python3 -c 'import json, sys
VOLATILE = {"heartbeats", "lastHeartbeatTime", "resourceVersion"}
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
print(json.dumps(strip(json.load(sys.stdin)), sort_keys=True, indent=1))'
}
snapshot() {
	for n in k8s-master k8s-worker-1 k8s-worker-2; do
		echo "== $n"
		node_state $n
		echo "== $n upper"
		node_upper $n
	done >"$1.nodes"
	api_state >"$1.api"
}
