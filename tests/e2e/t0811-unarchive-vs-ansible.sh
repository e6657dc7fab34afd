#!/bin/sh
# unarchive: the same steps run by ansible-playbook
# (ansible.builtin.unarchive, local connection) and by kplan, each in a
# clean directory, report the same changed/ok/failed (a first extraction,
# again, creates, remote_src, a missing dest with Ansible's message, a
# file changed since, mode and owner for every member, again) and leave
# the same files, contents, modes and owners.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP unarchive vs Ansible: no ansible-playbook"
	exit 0
fi
root=$(pwd)
cd "$E2E_TMP" || exit 1
mkdir -p src/sub
echo alpha >src/a.txt
echo beta >src/sub/b.txt
tar -czf arch.tar.gz -C src a.txt sub
d=$E2E_TMP/out
echo "localhost ansible_connection=local" >inv.ini
cat >plan.yml <<PLAN
- name: unarchive
  hosts: localhost
  tasks:
    - name: first
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/one"}
    - name: again
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/one"}
    - name: creates
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/one", creates: "$d/one/a.txt"}
    - name: remote-src
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/two", remote_src: true}
    - name: missing-dest
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/nope"}
      ignore_errors: true
    - name: touch-a-file
      shell: "echo changed > $d/one/a.txt"
    - name: after-a-change
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/one"}
    - name: mode-owner
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/three", mode: "0750", owner: nobody}
    - name: mode-owner-again
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/three", mode: "0750", owner: nobody}
    - name: mode-only-after-owner
      unarchive: {src: "$E2E_TMP/arch.tar.gz", dest: "$d/three", mode: "0750"}
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' plan.yml >ansible.yml
mkdir -p "$d/one" "$d/two" "$d/three"
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml >a.json 2>a.err
(cd "$d" && find . -type f -exec sha256sum {} \; | sort && find . -printf '%p %m %u\n' | sort) >a.files
rm -rf "$d" && mkdir -p "$d/one" "$d/two" "$d/three"
mkdir -p tmp
TMPDIR=$E2E_TMP/tmp "$KPLAN" run plan.yml -i inv.ini --format json >k.json 2>k.err
(cd "$d" && find . -type f -exec sha256sum {} \; | sort && find . -printf '%p %m %u\n' | sort) >k.files
/usr/bin/python3 "$root/tests/e2e/vsansible.py" status unarchive a.json k.json
check "the same files and contents as Ansible leaves" "$(cat a.files)" "$(cat k.files)"
check "no temporary archive left behind" "" "$(ls tmp)"
