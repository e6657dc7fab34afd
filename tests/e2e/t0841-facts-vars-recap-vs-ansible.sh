#!/bin/sh
# Run by ansible-playbook and by kplan, with the same results: task and
# block `vars:` rank below set_fact and registered results, an import's
# vars are task vars and an include's are above them; delegate_facts sends
# what a task sets (a module's ansible_facts, set_fact) to the delegated
# host, the implicit localhost included; the recap counts an ignored
# failure as ok, ignored and, when its result says so, changed.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP facts, vars and recap vs Ansible: no ansible-playbook"
	exit 0
fi
root=$(pwd)
cd "$E2E_TMP" || exit 1
printf 'h1 ansible_connection=local\nh2 ansible_connection=local\n' >inv.ini
cat >plan.yml <<'PLAN'
- name: precedence
  hosts: h1
  gather_facts: false
  vars: {x: play}
  tasks:
    - set_fact: {x: setfact}
    - name: task-vars
      debug: {msg: "{{ x }}"}
      vars: {x: task}
      register: r_task
    - block:
        - name: block-vars
          debug: {msg: "{{ x }}"}
          register: r_block
        - name: block-only
          debug: {msg: "{{ y }}"}
          register: r_block_only
        - set_fact: {y: setfact}
        - name: set-in-block
          debug: {msg: "{{ y }}"}
          register: r_set_in_block
          vars: {y: task}
      vars: {y: block}
    - name: reg
      command: echo registered
      register: rr
    - name: task-vars-named-like-register
      debug: {msg: "{{ rr.stdout }}"}
      vars: {rr: {stdout: vars}}
      register: r_reg
    - include_tasks: inc.yml
      vars: {x: include}
    - import_tasks: imp.yml
      vars: {x: import}

- name: delegate_facts
  hosts: h1
  gather_facts: false
  tasks:
    - name: gathered for h2
      setup: {gather_subset: ["!all", "!min", "env"], filter: "ansible_env"}
      delegate_to: h2
      delegate_facts: true
    - name: set for h2
      set_fact: {sf: from-h1}
      delegate_to: h2
      delegate_facts: true
    - name: delegated without delegate_facts
      set_fact: {sf2: from-h1}
      delegate_to: h2
    - name: set for localhost
      set_fact: {sf3: for-localhost}
      delegate_to: localhost
      delegate_facts: true
    - name: dump
      copy:
        dest: "{{ out }}.1"
        content: "{{ {'task': r_task.msg, 'block': r_block.msg, 'block_only': r_block_only.msg,
          'set_in_block': r_set_in_block.msg, 'registered': r_reg.msg, 'include': r_inc.msg,
          'import': r_imp.msg,
          'h2_env': 'ansible_env' in hostvars['h2'], 'h1_env': 'ansible_env' in hostvars['h1'],
          'h2_facts_env': 'env' in hostvars['h2'].ansible_facts,
          'h2_sf': hostvars['h2'].sf | default('undef'), 'h1_sf': sf | default('undef'),
          'h2_sf2': hostvars['h2'].sf2 | default('undef'), 'h1_sf2': sf2 | default('undef'),
          'localhost_sf3': hostvars['localhost'].sf3 | default('undef')} | to_json }}"

- name: the delegated host's own play
  hosts: h2
  gather_facts: false
  tasks:
    - copy:
        dest: "{{ out }}.2"
        content: "{{ {'sf': sf | default('undef'), 'env': ansible_env is defined} | to_json }}"

- name: ignored
  hosts: all
  gather_facts: false
  tasks:
    - fail: {msg: boom}
      ignore_errors: true
    - command: /bin/false
      ignore_errors: true
      when: inventory_hostname == 'h1'
    - debug: {msg: after}
PLAN
echo '- {name: inc, debug: {msg: "{{ x }}"}, register: r_inc}' >inc.yml
echo '- {name: imp, debug: {msg: "{{ x }}"}, register: r_imp}' >imp.yml
ansible-playbook -i inv.ini plan.yml -e out="$E2E_TMP/a" >a.log 2>a.err </dev/null ||
	echo "not ok - ansible-playbook failed: $(tail -3 a.log a.err)"
"$KPLAN" run plan.yml -i inv.ini -e out="$E2E_TMP/k" >k.log 2>k.err </dev/null ||
	echo "not ok - kplan run failed: $(tail -3 k.err)"
/usr/bin/python3 "$root/tests/e2e/vsansible.py" files 1. a.1 k.1
/usr/bin/python3 "$root/tests/e2e/vsansible.py" files 2. a.2 k.2
# the recap: every count of every host as ansible-playbook's
recap() { sed -n "$1"' s/^\(h[12]\) *: *\(.*\)$/\1 \2/p' | tr -s ' ' | sed 's/ *$//'; }
check "the recap as Ansible's" "$(recap '/^PLAY RECAP/,$' <a.log)" "$(recap '/^RECAP/,$' <k.log)"

# vars_prompt with encrypt: with no terminal the default, hashed as
# Ansible hashes it (a given salt: the same bytes; a random one of
# salt_size characters: a hash of the answer, checked with crypt(3))
cat >vp.yml <<'PLAN'
- hosts: h1
  gather_facts: false
  vars_prompt:
    - {name: p512, prompt: pw, default: secret, encrypt: sha512_crypt, salt: abcdefgh}
    - {name: p256, prompt: pw, default: secret, encrypt: sha256_crypt, salt: abcdefgh}
    - {name: pmd5, prompt: pw, default: secret, encrypt: md5_crypt, salt: abcdefgh, confirm: true}
    - {name: prand, prompt: pw, default: secret, encrypt: sha512_crypt, salt_size: 7}
    - {name: prand16, prompt: pw, default: secret, encrypt: sha512_crypt, private: false}
  tasks:
    - copy:
        dest: "{{ out }}.vp"
        content: "{{ {'p512': p512, 'p256': p256, 'pmd5': pmd5, 'prand': prand, 'prand16': prand16} | to_json }}"
PLAN
ansible-playbook -i inv.ini vp.yml -e out="$E2E_TMP/a" >avp.log 2>&1 </dev/null ||
	echo "not ok - ansible-playbook vars_prompt failed: $(tail -3 avp.log)"
"$KPLAN" run vp.yml -i inv.ini -e out="$E2E_TMP/k" >kvp.log 2>&1 </dev/null ||
	echo "not ok - kplan run vars_prompt failed: $(tail -3 kvp.log)"
/usr/bin/python3 -W ignore - a.vp k.vp <<'PY'
import crypt, json, sys
a = json.load(open(sys.argv[1]))
try:
    k = json.load(open(sys.argv[2]))
except OSError:
    k = {}
for name in ("p512", "p256", "pmd5"):
    if a[name] == k.get(name):
        print(f"ok - vars_prompt encrypt {name}: {a[name]} as Ansible")
    else:
        print(f"not ok - vars_prompt encrypt {name}: ansible {a[name]} kplan {k.get(name)}")
for name in ("prand", "prand16"):
    shape = lambda v: (v.split("$")[1], len(v.split("$")[2]), crypt.crypt("secret", v) == v)
    if shape(a[name]) == shape(k.get(name, "$$$")):
        print(f"ok - vars_prompt encrypt {name}: a random salt, as Ansible's {shape(a[name])}")
    else:
        print(f"not ok - vars_prompt encrypt {name}: ansible {a[name]} kplan {k.get(name)}")
PY

# module_defaults: an action group of ansible-core loads, an unknown one is
# Ansible's load error
cat >md.yml <<'PLAN'
- hosts: h1
  gather_facts: false
  module_defaults:
    group/aws: {region: x}
    group/nosuch: {a: b}
  tasks:
    - debug: {msg: hi}
PLAN
ansible-playbook -i inv.ini md.yml >amd.log 2>&1 </dev/null
"$KPLAN" run md.yml -i inv.ini >kmd.log 2>&1 </dev/null
check "module_defaults: an unknown group is Ansible's error" \
	"$(sed -n 's/^ERROR! //p' amd.log)" "$(sed -n 's/^error: md.yml:5:5: //p' kmd.log)"
sed -i '/nosuch/d' md.yml
ansible-playbook -i inv.ini md.yml >amd.log 2>&1 </dev/null
check "module_defaults: ansible-core's group/aws loads (Ansible's exit status)" 0 "$?"
"$KPLAN" run md.yml -i inv.ini >kmd.log 2>&1 </dev/null
check "module_defaults: group/aws loads, with a warning that no kplan module is in it" \
	"0 warning: md.yml:4:5: module_defaults: kplan provides no module of action group 'aws': its defaults apply to no task" \
	"$? $(grep warning: kmd.log)"
