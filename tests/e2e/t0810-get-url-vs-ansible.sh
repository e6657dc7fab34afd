#!/bin/sh
# get_url: the same downloads made by ansible-playbook
# (ansible.builtin.get_url, local connection) and by kplan, each from a
# clean directory, report the same changed/failed per step (a first
# download, again, a matching checksum, a wrong one with Ansible's
# message, force with the same content, a directory dest, a new mode), and
# leave the same files with the same contents and modes.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP get_url vs Ansible: no ansible-playbook"
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
sha=$(/usr/bin/python3 -c 'import hashlib, sys, urllib.request; print(hashlib.sha256(urllib.request.urlopen(sys.argv[1]).read()).hexdigest())' "$u/file")
d=$E2E_TMP/dl
echo "localhost ansible_connection=local" >inv.ini
cat >plan.yml <<PLAN
- name: get_url
  hosts: localhost
  tasks:
    - name: first
      get_url: {url: "$u/file", dest: "$d/a.bin"}
    - name: again
      get_url: {url: "$u/file", dest: "$d/a.bin"}
    - name: checksum-matches
      get_url: {url: "$u/file", dest: "$d/a.bin", checksum: "sha256:$sha"}
    - name: checksum-wrong
      get_url: {url: "$u/file", dest: "$d/b.bin", checksum: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}
      ignore_errors: true
    - name: force-same
      get_url: {url: "$u/file", dest: "$d/a.bin", force: true}
    - name: into-dir
      get_url: {url: "$u/file", dest: "$d/"}
    - name: mode
      get_url: {url: "$u/file", dest: "$d/a.bin", mode: "0600", force: true}
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' plan.yml >ansible.yml
mkdir -p "$d"
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml >a.json 2>a.err
(cd "$d" && find . -type f -printf '%p %m ' -exec sha256sum {} \; | sort) >a.files
rm -rf "$d" && mkdir -p "$d"
"$KPLAN" run plan.yml -i inv.ini --format json >k.json 2>k.err
(cd "$d" && find . -type f -printf '%p %m ' -exec sha256sum {} \; | sort) >k.files
/usr/bin/python3 "$root/tests/e2e/vsansible.py" status get_url a.json k.json
check "the same files, contents and modes as Ansible leaves" "$(cat a.files)" "$(cat k.files)"
