#!/bin/sh
# include_vars: the same plan run by ansible-playbook (local connection)
# and by kplan loads the same variables from the same files: a file found
# in vars/ or next to the plan, `name`, a folder walked with depth,
# files_matching, ignore_files and unknown extensions, hash_behaviour
# merge, a vault-encrypted file, and the failures (a missing file, a file
# of another extension, a file that is not a mapping). The registered
# ansible_facts, ansible_included_var_files, failed and message are
# Ansible's, and so are the variables later tasks see (a vaulted file's
# are secret: compared by an assert, not shown).
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP include_vars vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
mkdir -p vars cfg/sub cfg/sub2 more
printf 'a: 1\nshared: {x: 1, y: [1, 2]}\n' >vars/a.yml
printf 'shared: {w: 9, y: [3]}\n' >vars/m.yml
echo 'b: two' >b.yml
echo '{"j": [1, "x"], "shared": {"z": 3}}' >cfg/c.json
echo 'd: 4' >cfg/d.yml
echo 'e: 5' >cfg/sub/e.yml
echo 'f: 6' >cfg/sub2/f.yaml
echo 'not variables' >cfg/readme.txt
echo '- a list' >more/list.yml
: >more/empty.yml
echo 'secret_v: hush' >sec.yml
echo pw >pw.txt
ansible-vault encrypt --vault-password-file pw.txt sec.yml >/dev/null 2>&1 || {
	echo "not ok - ansible-vault encrypt"
	exit 1
}
echo "localhost ansible_connection=local" >inv.ini
cat >plan.yml <<'PLAN'
- name: include_vars
  hosts: localhost
  tasks:
    - name: from-vars-dir
      include_vars: a.yml
    - name: named
      include_vars: {file: b.yml, name: bb}
    - name: dir-all
      include_vars: {dir: cfg, ignore_unknown_extensions: true}
    - name: dir-depth-matching
      include_vars: {dir: cfg, depth: 1, files_matching: '^[cd]', name: dd}
    - name: dir-ignore
      include_vars: {dir: cfg, ignore_files: [readme.txt, e.yml]}
    - name: merge
      include_vars: {file: m.yml, hash_behaviour: merge}
    - name: empty
      include_vars: more/empty.yml
    - name: vaulted
      include_vars: sec.yml
    - name: missing
      include_vars: {file: missing.yml}
      ignore_errors: true
    - name: bad-extension
      include_vars: {dir: cfg}
      ignore_errors: true
    - name: not-a-mapping
      include_vars: more/list.yml
      ignore_errors: true
    - name: seen
      debug: {msg: "{{ [a, bb, j, d, e, f, dd, shared] }}"}
    - name: decrypted
      assert: {that: "secret_v == 'hush'"}
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' plan.yml >ansible.yml
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml --vault-password-file pw.txt >a.json 2>a.err
"$KPLAN" run plan.yml -i inv.ini --vault-password-file pw.txt --format json >k.json 2>k.err
/usr/bin/python3 - a.json k.json <<'PY'
import json, sys
keys = ["ansible_facts", "ansible_included_var_files", "failed", "message", "changed"]
a = json.load(open(sys.argv[1]))
want = {t["task"]["name"]: t["hosts"]["localhost"] for t in a["plays"][0]["tasks"]}
got = {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("event") == "host_result":
        got[e["task"]] = e["result"]
if len(want) != 13:
    print(f"not ok - ansible-playbook ran {len(want)} tasks, not 13")
for name, w in want.items():
    g = got.get(name, {})
    w = dict(w, failed=bool(w.get("failed")), changed=bool(w.get("changed")))
    # a vaulted file's variables are secret: Ansible censors the whole
    # result, kplan shows them as <hidden>
    ks = ["msg"] if name == "seen" else ["failed"] if name in ("vaulted", "decrypted") else keys
    diff = [k for k in ks if w.get(k, "<unset>") != g.get(k, "<unset>")]
    if not diff:
        print(f"ok - include_vars {name}: as Ansible")
    else:
        print(f"not ok - include_vars {name}")
        for k in diff:
            print(f"    {k}: ansible {w.get(k, '<unset>')!r} kplan {g.get(k, '<unset>')!r}")
PY
