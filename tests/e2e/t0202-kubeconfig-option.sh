#!/bin/sh
# --kubeconfig FILE reaches the modules (cli.md: "for the Kubernetes API"):
# drain and kube-node talk to the lab API server (tests/lab/cluster/
# apiserver.py, started here on its own on 127.0.0.1, no nodes needed: the
# hosts use the local connection) through the kubeconfig given on the
# command line, with $KUBECONFIG unset and an empty $HOME. The precedence
# is the module's own `kubeconfig` argument, then --kubeconfig, then
# $KUBECONFIG, then ~/.kube/config, then kubectl on the control plane.
. "$(dirname "$0")/lib.sh"
if ! command -v openssl >/dev/null || [ ! -x /usr/bin/python3 ]; then
	echo "# SKIP --kubeconfig: needs openssl and python3"
	exit 0
fi
A=$E2E_TMP/api
mkdir -p "$A" "$E2E_TMP/home"
tests/data/kube/mkcerts.sh "$A"
port=$(/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
/usr/bin/python3 tests/lab/cluster/apiserver.py --bind 127.0.0.1 --port "$port" \
	--cert "$A/server.crt" --key "$A/server.key" --ca "$A/ca.crt" --scenario 1 \
	--nodes k8s-master=127.0.0.1,k8s-worker-1=127.0.0.1,k8s-worker-2=127.0.0.1 \
	--log "$A/apiserver.log" --ready-file "$A/ready" >/dev/null 2>&1 &
api_pid=$!
trap 'kill "$api_pid" 2>/dev/null; wait "$api_pid" 2>/dev/null; rm -rf "$E2E_TMP"' EXIT INT TERM
i=0
while [ ! -s "$A/ready" ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s "$A/ready" ] || {
	echo "not ok - the lab API server did not start"
	exit 1
}
# kubeconfig SERVER_URL: a kubeconfig for the lab API server's CA and client
kubeconfig() {
	cat <<EOF
apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: lab
  cluster:
    server: $1
    certificate-authority-data: $(cat "$A/ca.crt.b64")
contexts:
- name: lab
  context: {cluster: lab, user: admin}
users:
- name: admin
  user:
    client-certificate-data: $(cat "$A/client.crt.b64")
    client-key-data: $(cat "$A/client.key.b64")
EOF
}
kubeconfig "https://127.0.0.1:$port" >"$A/good.kubeconfig"
# a kubeconfig whose server answers nothing: used only if picked wrongly
kubeconfig "https://127.0.0.1:1" >"$A/dead.kubeconfig"

api() {
	curl -s --cacert "$A/ca.crt" --cert "$A/client.crt" --key "$A/client.key" \
		"https://127.0.0.1:$port$1"
}
# NODE: whether the API server has it unschedulable ("absent" when deleted)
cordoned() {
	api "/api/v1/nodes/$1" | /usr/bin/python3 -c 'import json,sys
n = json.load(sys.stdin)
print("absent" if n.get("kind") == "Status" else bool(n["spec"].get("unschedulable")))'
}

inv=$E2E_TMP/inv.ini
cat >"$inv" <<'INV'
[kube_control_plane]
k8s-master ansible_connection=local
[kube_node]
k8s-worker-1 ansible_connection=local
k8s-worker-2 ansible_connection=local
INV
cat >"$E2E_TMP/drain.yml" <<'PLAN'
- name: drain
  hosts: kube_node
  tasks:
    - name: Drain the node
      drain: {ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 1m}
PLAN
cat >"$E2E_TMP/drain-arg.yml" <<PLAN
- name: drain with the module's own kubeconfig
  hosts: kube_node
  tasks:
    - name: Uncordon the node
      drain: {state: uncordoned, kubeconfig: "$A/good.kubeconfig"}
PLAN
cat >"$E2E_TMP/remove.yml" <<'PLAN'
- name: remove
  hosts: kube_node
  tasks:
    - name: Delete the Node object
      kube-node: {state: absent}
PLAN

# every run: no $KUBECONFIG, a $HOME without .kube/config
kp() { env -u KUBECONFIG HOME="$E2E_TMP/home" "$KPLAN" "$@"; }

# 1. a check with --kubeconfig probes through it and changes nothing
kp check "$E2E_TMP/drain.yml" -i "$inv" -l k8s-worker-1 --kubeconfig "$A/good.kubeconfig" \
	--no-color >"$E2E_TMP/check" 2>"$E2E_TMP/check.err"
rc=$?
check "check --kubeconfig: exit 0" 0 "$rc"
check "check --kubeconfig: the probe reached the API server" 1 \
	"$(grep -c "changed: \[k8s-worker-1\] .*would cordon node 'k8s-worker-1' and evict" "$E2E_TMP/check")"
check "check --kubeconfig: the node is still schedulable" False "$(cordoned k8s-worker-1)"

# 2. the run drains through --kubeconfig: the API server has the node cordoned
kp run "$E2E_TMP/drain.yml" -i "$inv" -l k8s-worker-1 --kubeconfig "$A/good.kubeconfig" \
	--no-color >"$E2E_TMP/run" 2>"$E2E_TMP/run.err"
rc=$?
check "run --kubeconfig: exit 0" 0 "$rc"
check "run --kubeconfig: the drain is reported done" 1 \
	"$(grep -c "changed: \[k8s-worker-1\] .*cordoned and drained node 'k8s-worker-1'" "$E2E_TMP/run")"
check "run --kubeconfig: the API server has the node cordoned" True "$(cordoned k8s-worker-1)"
check "run --kubeconfig: the cordon came from kplan, directly (not kubectl)" yes \
	"$(grep -q 'PATCH /api/v1/nodes/k8s-worker-1 200' "$A/apiserver.log" &&
		! grep -q kubectl "$E2E_TMP/run" && echo yes || echo no)"
check "run --kubeconfig: k8s-worker-2 was left alone" False "$(cordoned k8s-worker-2)"

# 3. a --kubeconfig that does not exist: the task fails naming the file,
# and kplan does not fall back to kubectl on the control plane
kp run "$E2E_TMP/drain.yml" -i "$inv" -l k8s-worker-2 --kubeconfig "$E2E_TMP/nope/kubeconfig" \
	--no-color >"$E2E_TMP/bogus" 2>"$E2E_TMP/bogus.err"
rc=$?
check "bogus --kubeconfig: the host failed (exit 1)" 1 "$rc"
check "bogus --kubeconfig: the message names the file" 1 \
	"$(grep -c "failed: \[k8s-worker-2\] .*cannot read kubeconfig '$E2E_TMP/nope/kubeconfig': No such file or directory" "$E2E_TMP/bogus")"
check "bogus --kubeconfig: no kubectl fallback" 0 "$(grep -c kubectl "$E2E_TMP/bogus")"
check "bogus --kubeconfig: k8s-worker-2 untouched" False "$(cordoned k8s-worker-2)"

# 4. --kubeconfig wins over $KUBECONFIG and ~/.kube/config (both point at
# a server that is not there)
mkdir -p "$E2E_TMP/home2/.kube"
cp "$A/dead.kubeconfig" "$E2E_TMP/home2/.kube/config"
KUBECONFIG=$A/dead.kubeconfig HOME=$E2E_TMP/home2 "$KPLAN" run "$E2E_TMP/remove.yml" -i "$inv" \
	-l k8s-worker-2 --kubeconfig "$A/good.kubeconfig" --no-color >"$E2E_TMP/remove" 2>&1
rc=$?
check "kube-node: --kubeconfig before \$KUBECONFIG and ~/.kube/config (exit 0)" 0 "$rc"
check "kube-node: the Node object is gone from the API server" absent "$(cordoned k8s-worker-2)"

# 5. the module's own kubeconfig argument wins over --kubeconfig
kp run "$E2E_TMP/drain-arg.yml" -i "$inv" -l k8s-worker-1 --kubeconfig "$A/dead.kubeconfig" \
	--no-color >"$E2E_TMP/arg" 2>"$E2E_TMP/arg.err"
rc=$?
check "kubeconfig argument before --kubeconfig: exit 0" 0 "$rc"
check "kubeconfig argument before --kubeconfig: the node is uncordoned" False "$(cordoned k8s-worker-1)"

# 6. nothing given anywhere: as before, kubectl on the first control-plane host
kp run "$E2E_TMP/drain.yml" -i "$inv" -l k8s-worker-1 -v --no-color >"$E2E_TMP/none" 2>&1
rc=$?
check "no kubeconfig at all: falls back to kubectl on k8s-master" yes \
	"$(grep -q '\[k8s-master\] kubectl --kubeconfig /etc/kubernetes/admin.conf' "$E2E_TMP/none" &&
		echo yes || { echo "exit $rc"; head -20 "$E2E_TMP/none"; })"
check "no kubeconfig at all: the node was not cordoned" False "$(cordoned k8s-worker-1)"
