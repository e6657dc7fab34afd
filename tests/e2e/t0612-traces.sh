#!/bin/sh
# -vvv adds SSH and HTTP protocol traces (cli.md), on stderr, each line
# naming the host or the API server; -vv does not. The HTTP trace shows the
# request line and the status, never a bearer token or an Authorization
# header's value; the SSH trace shows the key exchange, the authentication
# method and the channels, never a command (a no_log task's would leak).
# The JSON event stream on stdout is the same.
. "$(dirname "$0")/lib.sh"

# ---- HTTP: kplan.kube against the fake API server, with a token kubeconfig --
K=$E2E_TMP/kube
mkdir -p "$K" "$E2E_TMP/h1"
tests/data/kube/mkcerts.sh "$K"
echo '{"nodes": {"n1": {"metadata": {"name": "n1"}}}}' >"$K/state.json"
python3 tests/data/kube/fake_apiserver.py "$K/state.json" "$K/requests.log" "$K/port" "$K" \
	>/dev/null 2>&1 &
api=$!
trap 'kill $api 2>/dev/null; rm -rf "$E2E_TMP"' EXIT INT TERM
i=0
while [ ! -s "$K/port" ] && [ $i -lt 300 ]; do
	sleep 0.05
	i=$((i + 1))
done
port=$(cat "$K/port")
token=TraceTok-7g9h.SecretBearerValue
cat >"$K/kubeconfig" <<EOF
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority-data: $(cat "$K/ca.crt.b64")
contexts:
- name: test
  context: {cluster: test, user: admin}
users:
- name: admin
  user:
    client-certificate-data: $(cat "$K/client.crt.b64")
    client-key-data: $(cat "$K/client.key.b64")
    token: $token
EOF
printf '[nodes]\nh1 ansible_connection=local kplan_workdir=%s\n' "$E2E_TMP/h1" >"$E2E_TMP/local.ini"
cat >"$E2E_TMP/api.yml" <<'PLAN'
- name: api
  hosts: nodes
  tasks:
    - name: read a node
      lua:
        code: |
          local status, node = kplan.kube("GET", "/api/v1/nodes/n1")
          if status ~= 200 then kplan.fail("status " .. tostring(status)) end
PLAN
for v in -vv -vvv; do
	"$KPLAN" run "$E2E_TMP/api.yml" -i "$E2E_TMP/local.ini" --kubeconfig "$K/kubeconfig" \
		--format json $v >"$E2E_TMP/api$v.out" 2>"$E2E_TMP/api$v.err"
	check "http $v: the run works" 0 $?
done
srv="http https://127.0.0.1:$port"
check "http -vvv: the request line, naming the server" 1 \
	"$(grep -c "^kplan: trace: $srv: > GET /api/v1/nodes/n1 HTTP/1.1$" "$E2E_TMP/api-vvv.err")"
check "http -vvv: the response status" 1 \
	"$(grep -c "^kplan: trace: $srv: < HTTP/1.[01] 200" "$E2E_TMP/api-vvv.err")"
check "http -vvv: the Authorization header is shown without its value" 1 \
	"$(grep -c "^kplan: trace: $srv: > Authorization: <hidden>$" "$E2E_TMP/api-vvv.err")"
check "http -vvv: no token, no 'Bearer', no body anywhere" 0 \
	"$(cat "$E2E_TMP"/api-vv*.out "$E2E_TMP"/api-vv*.err | grep -c -e "$token" -e Bearer -e '"metadata"')"
check "http: the server did get the token (the test means something)" 1 \
	"$(grep -c "Bearer $token" "$K/requests.log" | sed 's/^[1-9][0-9]*$/1/')"
check "http -vv: no trace" 0 "$(grep -c 'trace:' "$E2E_TMP/api-vv.err")"
check "http: traces stay out of the JSON events: the same events at -vv and -vvv" \
	"$(sed 's/"ts":[0-9.]*,//; s/"duration_ms":[0-9]*,\{0,1\}//; s/"run_id":"[^"]*",//' "$E2E_TMP/api-vv.out")" \
	"$(sed 's/"ts":[0-9.]*,//; s/"duration_ms":[0-9]*,\{0,1\}//; s/"run_id":"[^"]*",//' "$E2E_TMP/api-vvv.out")"

# ---- SSH: a lab node --------------------------------------------------------
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP ssh traces: need root and /usr/sbin/sshd"
	exit 0
fi
L=$E2E_TMP/lab
trap 'kill $api 2>/dev/null; tests/lab/lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
tests/lab/lab up --names n1 --dir "$L" >/dev/null || {
	echo "not ok - lab up"
	exit 1
}
cat >"$E2E_TMP/ssh.yml" <<'PLAN'
- name: ssh
  hosts: n1
  tasks:
    - name: use a password in a command
      command: "test -n '{{ db_password }}'"
PLAN
for v in -vv -vvv; do
	"$KPLAN" run "$E2E_TMP/ssh.yml" -i "$L/inventory.yml" --known-hosts "$L/known_hosts" \
		-e db_password=SshTracePw-5k $v >"$E2E_TMP/ssh$v.out" 2>"$E2E_TMP/ssh$v.err"
	check "ssh $v: the run works" 0 $?
done
check "ssh -vvv: the key exchange, for the host" 1 \
	"$(grep -c '^kplan: trace: ssh n1: ssh_kex_select_methods: Negotiated ' "$E2E_TMP/ssh-vvv.err")"
check "ssh -vvv: the authentication method" 1 \
	"$(grep -c "^kplan: trace: ssh n1: kplan: authenticated as root to .* by publickey ($L/id_ed25519)$" "$E2E_TMP/ssh-vvv.err")"
check "ssh -vvv: the channel opened and the command started" "1 1" \
	"$(grep -c '^kplan: trace: ssh n1: ssh_packet_channel_open_conf: Received a CHANNEL_OPEN_CONFIRMATION' "$E2E_TMP/ssh-vvv.err") $(grep -c '^kplan: trace: ssh n1: channel_request: Channel request exec success' "$E2E_TMP/ssh-vvv.err")"
check "ssh -vvv: the channel closed" 1 \
	"$(grep -c '^kplan: trace: ssh n1: kplan: closing the channel (exit status 0' "$E2E_TMP/ssh-vvv.err")"
check "ssh -vv: no trace" 0 "$(grep -c 'trace:' "$E2E_TMP/ssh-vv.err")"
check "ssh -vvv: commands show only their size in a trace (a no_log task's would leak)" "0 1" \
	"$(cat "$E2E_TMP"/ssh-vv*.out "$E2E_TMP"/ssh-vv*.err | grep -c SshTracePw-5k) $(grep -c "^kplan: trace: ssh n1: root@.*: exec a command of [0-9]* bytes$" "$E2E_TMP/ssh-vvv.err")"
