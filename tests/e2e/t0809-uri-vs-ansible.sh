#!/bin/sh
# uri: the same requests made by ansible-playbook (ansible.builtin.uri, on
# the local connection) and by kplan against a small local HTTP server
# give the same status, url, redirected, json, content, content_type and
# outcome (a status outside status_code fails with Ansible's message).
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP uri vs Ansible: no ansible-playbook"
	exit 0
fi
root=$(pwd)
cd "$E2E_TMP" || exit 1
/usr/bin/python3 "$root/tests/e2e/httpd.py" port &
srv=$!
trap 'kill $srv 2>/dev/null; rm -rf "$E2E_TMP"' EXIT INT TERM
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
u=http://127.0.0.1:$(cat port)
echo "localhost ansible_connection=local" >inv.ini
cat >plan.yml <<PLAN
- name: uri
  hosts: localhost
  tasks:
    - name: get-json
      uri: {url: "$u/json"}
    - name: get-text-content
      uri: {url: "$u/text", return_content: true}
    - name: post-json
      uri: {url: "$u/echo", method: POST, body_format: json, body: {k: v, n: [1, 2]}, return_content: true}
    - name: put-form
      uri: {url: "$u/echo", method: PUT, body_format: form-urlencoded, body: {a: "x y", b: "&="}}
    - name: headers
      uri: {url: "$u/echo", headers: {X-Test: hello}}
    - name: not-found
      uri: {url: "$u/status/404"}
      ignore_errors: true
    - name: accepted-404
      uri: {url: "$u/status/404", status_code: [200, 404]}
    - name: redirect
      uri: {url: "$u/redirect"}
    - name: redirect-none
      uri: {url: "$u/redirect", follow_redirects: none, status_code: 302}
    - name: auth-forced
      uri: {url: "$u/auth", url_username: user, url_password: pw, force_basic_auth: true}
    - name: auth-asked
      uri: {url: "$u/auth", url_username: user, url_password: pw}
    - name: auth-wrong
      uri: {url: "$u/auth", url_username: user, url_password: nope, force_basic_auth: true}
      ignore_errors: true
    - name: head
      uri: {url: "$u/json", method: HEAD}
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' plan.yml >ansible.yml
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml >a.json 2>a.err
"$KPLAN" run plan.yml -i inv.ini --format json >k.json 2>k.err
/usr/bin/python3 "$root/tests/e2e/vsansible.py" keys uri a.json k.json \
	status,url,redirected,json,content,content_type,content_length,failed,changed
