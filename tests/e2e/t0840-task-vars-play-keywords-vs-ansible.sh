#!/bin/sh
# What real playbooks use, run by ansible-playbook and by kplan, with the
# same results: task and block `vars:` (nested, templated, feeding
# `environment`), `environment` given as a template (and one that is not a
# mapping: left out with a warning), task keywords on the play (run_once,
# ignore_errors, no_log), fail with a list as its message, an include_tasks
# whose file is not there (a warning at load; only a host that reaches it
# fails), and a module of a collection kplan does not provide behind a
# false `when`; key=value arguments whose templates hold spaces.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP task vars and play keywords vs Ansible: no ansible-playbook"
	exit 0
fi
root=$(pwd)
cd "$E2E_TMP" || exit 1
printf 'h1 ansible_connection=local\nh2 ansible_connection=local\n' >inv.ini
cat >plan.yml <<'PLAN'
- name: vars
  hosts: h1
  gather_facts: false
  vars:
    x: play
    proxy_env: {PE: from-template}
    notmap: plain
  tasks:
    - name: task-vars
      debug: {msg: "{{ x }} {{ y }}"}
      vars:
        x: task
        y: "{{ x }}-y"
      register: r_task
    - block:
        - name: block-vars
          debug: {msg: "{{ x }}"}
          register: r_block
        - name: inner-vars
          debug: {msg: "{{ x }}"}
          vars: {x: inner}
          register: r_inner
      vars:
        x: block
    - name: after-vars
      debug: {msg: "{{ x }}"}
      register: r_after
    - name: env-template
      command: sh -c 'echo $PE'
      environment: "{{ proxy_env }}"
      register: r_env
    - name: env-from-task-vars
      command: sh -c 'echo $TV'
      environment: "{{ envs }}"
      vars:
        envs: {TV: task-vars}
      register: r_env2
    - name: env-not-a-mapping
      command: sh -c 'echo ${PE:-unset}'
      environment: "{{ notmap }}"
      register: r_env3
    - name: fail-list
      fail:
        msg: ["one {{ 1 + 1 }}", "two"]
      register: r_fail
      ignore_errors: true
    - name: not-provided
      ansible.posix.sysctl: {name: vm.swappiness, value: "10"}
      when: false
      register: r_sysctl
    - name: key-value-templates
      set_fact: kv1={{ x | upper }} kv2="{{ x }} and {{ x }}" kv3={{ [x, 'b c'] | join('-') }}/end kv4=plain
    - name: include-missing-skipped
      include_tasks: not-there.yml
      when: false
    - name: dump
      copy:
        dest: "{{ out }}.1"
        content: "{{ {'task': r_task.msg, 'block': r_block.msg, 'inner': r_inner.msg,
          'after': r_after.msg, 'env_template': r_env.stdout, 'env_task_vars': r_env2.stdout,
          'env_not_mapping': r_env3.stdout, 'fail_list': [r_fail.failed, r_fail.msg],
          'not_provided': r_sysctl.skipped, 'key_value': [kv1, kv2, kv3, kv4]} | to_json }}"

- name: play keywords
  hosts: all
  gather_facts: false
  run_once: true
  ignore_errors: true
  tasks:
    - name: once
      command: echo {{ inventory_hostname }}
      register: r_once
    - name: fails
      fail: {msg: boom}
      register: r_boom
    - name: dump
      copy:
        dest: "{{ out }}.2"
        content: "{{ {'once': r_once.stdout, 'on_h2': hostvars['h2'].r_once.stdout,
          'ignored': [r_boom.failed, r_boom.msg]} | to_json }}"
      run_once: false
      when: inventory_hostname == 'h1'

- name: hostvars follow a host's changes
  hosts: all
  gather_facts: false
  tasks:
    - set_fact: {v: "one-{{ inventory_hostname }}"}
    - set_fact: {seen1: "{{ hostvars['h2'].v }}"}
    - set_fact: {v: two}
      when: inventory_hostname == 'h2'
    - set_fact: {seen2: "{{ hostvars['h2'].v }}"}
    - command: echo three
      register: r_three
      when: inventory_hostname == 'h2'
    - set_fact: {seen3: "{{ hostvars['h2'].r_three.stdout }}"}
    - name: dump
      copy:
        dest: "{{ out }}.3"
        content: "{{ {'hostvars_before': seen1, 'hostvars_after_set_fact': seen2,
          'hostvars_after_register': seen3} | to_json }}"
      when: inventory_hostname == 'h1'

- name: a block's notify reaches its tasks
  hosts: h1
  gather_facts: false
  tasks:
    - notify: block-handler
      block:
        - command: "true"
  handlers:
    - name: block-handler
      copy:
        dest: "{{ out }}.4"
        content: "{{ {'block_notify': 'the handler ran'} | to_json }}"
PLAN
cp plan.yml ansible.yml
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml -e out="$E2E_TMP/a" \
	>a.log 2>a.err </dev/null || echo "not ok - ansible-playbook failed: $(tail -3 a.err)"
"$KPLAN" run plan.yml -i inv.ini -e out="$E2E_TMP/k" >k.log 2>k.err </dev/null ||
	echo "not ok - kplan run failed: $(tail -3 k.err)"
/usr/bin/python3 "$root/tests/e2e/vsansible.py" files "" a.1 k.1 a.2 k.2 a.3 k.3 a.4 k.4
check "the environment that is not a mapping: Ansible's warning" \
	"warning: could not parse environment value, skipping: plain" \
	"$(grep -o 'warning: could not parse environment value.*' k.log k.err | head -n 1 | sed 's/^[^:]*://')"
check "a module kplan does not provide: a warning at load, with the collection" \
	"warning: plan.yml:48:7: module 'ansible.posix.sysctl' belongs to collection 'ansible.posix', which kplan does not provide: a host that reaches this task fails" \
	"$(grep "ansible.posix.sysctl" k.err)"
check "an include whose file is not there: a warning at load" \
	"warning: plan.yml:54:22: include_tasks 'not-there.yml': cannot read 'not-there.yml': a host that reaches it fails" \
	"$(grep "not-there" k.err)"

# validate: the new file is checked first; a failing check leaves the old.
# Arguments by their Ansible aliases (file and lineinfile dest, stat name).
cat >val.yml <<'PLAN'
- name: validate
  hosts: h1
  gather_facts: false
  tasks:
    - name: copy-valid
      copy: {dest: "{{ out }}.c1", content: "hello\n", validate: "grep -q hello %s"}
      register: r_c1
    - name: copy-invalid
      copy: {dest: "{{ out }}.c1", content: "bye\n", validate: "grep -q hello %s"}
      register: r_c2
      ignore_errors: true
    - name: copy-no-placeholder
      copy: {dest: "{{ out }}.c1", content: "x\n", validate: "true"}
      register: r_c3
      ignore_errors: true
    - name: line-invalid
      lineinfile: {path: "{{ out }}.c1", line: "bye", validate: "sh -c '! grep -q bye %s'"}
      register: r_l1
      ignore_errors: true
    - name: line-valid
      lineinfile: {path: "{{ out }}.c1", line: "again", validate: "grep -q again %s"}
      register: r_l2
    - name: read
      command: cat "{{ out }}.c1"
      register: r_cat
    - name: alias-dest
      file: dest={{ out }}.c2 state=touch
    - name: alias-name
      stat: {name: "{{ out }}.c2"}
      register: r_alias
    - name: alias-both
      file: {path: "{{ out }}.c2", dest: /nonexistent/x, state: absent}
      register: r_both
    - name: dump
      copy:
        dest: "{{ out }}.3"
        content: "{{ {'copy_valid': [r_c1.changed, r_c1.failed | default(false)],
          'copy_invalid': [r_c2.failed, r_c2.msg, r_c2.rc | default(none), r_c2.exit_status],
          'copy_no_placeholder': [r_c3.failed, r_c3.msg],
          'line_invalid': [r_l1.failed, r_l1.msg], 'line_valid': r_l2.changed,
          'file': r_cat.stdout, 'alias': [r_alias.stat.exists, r_both.changed, r_both.path]} | to_json }}"
PLAN
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini val.yml -e out="$E2E_TMP/av" \
	>av.log 2>av.err </dev/null || echo "not ok - ansible-playbook validate failed: $(tail -3 av.err)"
"$KPLAN" run val.yml -i inv.ini -e out="$E2E_TMP/kv" >kv.log 2>kv.err </dev/null ||
	echo "not ok - kplan run validate failed: $(tail -3 kv.err)"
/usr/bin/python3 - av.3 kv.3 <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
try:
    k = json.load(open(sys.argv[2]))
except OSError:
    k = {}
for name in a:
    if a[name] == k.get(name):
        print(f"ok - validate {name}: {json.dumps(a[name])} as Ansible")
    else:
        print(f"not ok - validate {name}: ansible {json.dumps(a[name])} kplan {json.dumps(k.get(name))}")
PY
check "validate leaves no file behind" "" "$(ls -a | grep kplan-validate)"

# the include reached: only that host fails, with the include's line
cat >inc.yml <<'PLAN'
- name: inc
  hosts: all
  gather_facts: false
  tasks:
    - include_tasks: "inc-{{ inventory_hostname }}.yml"
      when: inventory_hostname == 'h2'
    - include_tasks: not-there.yml
      when: inventory_hostname == 'h1'
    - debug: {msg: after}
PLAN
echo '- debug: {msg: included}' >inc-h2.yml
"$KPLAN" run inc.yml -i inv.ini >inc.out 2>&1
check "a missing include reached: exit 1" 1 "$?"
check "a missing include reached: h1 fails at the include's line, h2 goes on" \
	"ok: [h2] included: inc-h2.yml|ok: [h2] included|failed: [h1] inc.yml:7:7: cannot read 'not-there.yml': No such file or directory|ok: [h2] after" \
	"$(sed -n 's/^ *\(failed: \[h1\]\) [0-9.]*s /\1 /p; s/^ *\(ok: \[h2\]\) [0-9.]*s /\1 /p' inc.out | paste -sd'|')"
