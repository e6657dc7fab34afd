#!/bin/sh
# uri over HTTPS with a client certificate (client_cert and client_key, as
# kubespray's etcd health checks use them): ansible-playbook and kplan make
# the same requests to a server that asks every client for a certificate,
# and report the same status, and the same failure without one.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP uri client certificates vs Ansible: no ansible-playbook"
	exit 0
fi
root=$(pwd)
cd "$E2E_TMP" || exit 1
# a CA, a server certificate for 127.0.0.1, a client certificate
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
	-subj /CN=kplan-test-ca 2>/dev/null
for n in server client; do
	openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null
	printf 'subjectAltName=IP:127.0.0.1\n' >$n.ext
	openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile $n.ext -out $n.crt 2>/dev/null
done
cat client.crt client.key >client.pem
/usr/bin/python3 "$root/tests/e2e/httpd.py" port server.crt server.key ca.crt &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$E2E_TMP"' EXIT INT TERM
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
u=https://127.0.0.1:$(cat port)
echo "localhost ansible_connection=local" >inv.ini
cat >plan.yml <<PLAN
- hosts: localhost
  gather_facts: false
  tasks:
    - name: cert-and-key
      uri: {url: "$u/json", ca_path: "$E2E_TMP/ca.crt", client_cert: "$E2E_TMP/client.crt", client_key: "$E2E_TMP/client.key"}
    - name: cert-with-key-in-it
      uri: {url: "$u/text", ca_path: "$E2E_TMP/ca.crt", client_cert: "$E2E_TMP/client.pem", return_content: true}
    - name: no-cert
      uri: {url: "$u/json", ca_path: "$E2E_TMP/ca.crt"}
      ignore_errors: true
PLAN
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini plan.yml >a.json 2>a.err
"$KPLAN" run plan.yml -i inv.ini --format json >k.json 2>k.err
PYTHONPATH="$root/tests/e2e" /usr/bin/python3 - a.json k.json <<'PY'
import sys
from vsansible import ansible_results, kplan_events
got = {n: e["result"] for n, e in kplan_events(sys.argv[2]).items()}
for name, w in ansible_results(sys.argv[1]).items():
    g = got.get(name, {})
    w = dict(w, failed=bool(w.get("failed")))
    # a refused handshake: the same status and failure, and the message up
    # to the reason, which is the TLS library's own (and, with TLS 1.3,
    # Python's words for it vary from run to run)
    keys = ["status", "content", "failed"]
    pre = lambda m: (m or "").split("]: ")[0]
    same = all(w.get(k, "<unset>") == g.get(k, "<unset>") for k in keys) and \
        pre(w.get("msg")) == pre(g.get("msg"))
    print(("ok - " if same else "not ok - ") + f"uri {name}: " +
          ("as Ansible" if same else f"ansible {[w.get(k) for k in keys + ['msg']]} kplan {[g.get(k) for k in keys + ['msg']]}"))
PY
