#!/bin/sh
# A short module name that ansible-core routes to a collection
# (ansible_builtin_runtime.yml: `ini_file` is community.general.ini_file)
# loads as Ansible resolves it: every such name of the installed
# ansible-core, in a plan whose tasks no host reaches, validates with one
# warning naming the collection's module; k8s_drain, kplan's
# kubernetes.core.k8s_drain, stays kplan's.
. "$(dirname "$0")/lib.sh"
rt=/usr/lib/python3/dist-packages/ansible/config/ansible_builtin_runtime.yml
if [ ! -r "$rt" ]; then
	echo "# SKIP module redirects: no ansible-core runtime.yml"
	exit 0
fi
cd "$E2E_TMP" || exit 1
/usr/bin/python3 - "$rt" <<'PY'
import sys, yaml
m = yaml.safe_load(open(sys.argv[1]))["plugin_routing"]["modules"]
red = {k: v["redirect"] for k, v in m.items()
       if "redirect" in v and "." not in k and not v["redirect"].startswith("testns.")}
with open("want.txt", "w") as w:
    for k in sorted(red):
        w.write(f"{k} {red[k]}\n")
with open("plan.yml", "w") as p:
    p.write("- hosts: localhost\n  gather_facts: false\n  tasks:\n")
    for k in sorted(red):
        p.write(f"    - {k}: {{}}\n      when: false\n")
PY
run_kplan out.txt validate plan.yml
check "validate: every redirected name loads" 0 "$rc"
# "'ini_file' stands for 'community.general.ini_file': ..." per warned name
sed -n "s/^warning: plan.yml:[0-9]*:[0-9]*: '\([^']*\)' stands for '\([^']*\)': .*/\1 \2/p" out.txt.err >got.txt
check "each warning names the module ansible-core routes the name to" "" \
	"$(grep -vxF -f want.txt got.txt | head -n 3)"
# a name with no warning would be one kplan provides itself: none is
cut -d' ' -f1 got.txt >warned.txt
silent=$(cut -d' ' -f1 want.txt | grep -vxF -f warned.txt | paste -sd' ' -)
check "every redirected name warned about (kplan provides none of them)" "" "$silent"
check "every redirected name accounted for" "$(wc -l <want.txt)" \
	"$(($(wc -l <got.txt) + $(echo "$silent" | wc -w)))"
echo "- hosts: localhost
  gather_facts: false
  tasks:
    - k8s_drain: {name: n1, state: cordon}" >drain.yml
run_kplan drain.txt validate drain.yml
check "k8s_drain runs on kplan's kubernetes.core.k8s_drain: valid, no warning" "0 " \
	"$rc $(cat drain.txt.err)"
