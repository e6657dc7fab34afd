#!/bin/sh
# Task and play keywords run by ansible-playbook and by kplan give the same
# registered values: environment merged play < block < task, module_defaults
# from play, block and task (short names and FQCN, the task's own arguments
# winning), collections, check_mode and throttle per task, tags always and
# never, vars_prompt answered by -e and by its default, and async with poll
# (a timeout's message) and poll: 0 with async_status.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP task keywords vs Ansible: no ansible-playbook"
	exit 0
fi
cd "$E2E_TMP" || exit 1
echo "localhost ansible_connection=local" >inv.ini
cat >plan.yml <<'PLAN'
- name: p
  hosts: localhost
  environment: {KA: play, KB: play, KC: play}
  module_defaults:
    command: {chdir: /tmp}
    ansible.builtin.debug: {msg: from play defaults}
  collections: [community.general]
  vars_prompt:
    - name: answer
      prompt: the answer
      private: false
    - name: with_default
      default: dflt
  tasks:
    - name: env
      command: sh -c 'echo $KA $KB $KC'
      environment: {KC: task}
      register: r_env
    - block:
        - name: env-block
          command: sh -c 'echo $KA $KB $KC'
          environment: {KC: task}
          register: r_env2
      environment: {KB: block, KC: block}
    - name: defaults-cmd
      command: pwd
      register: r_pwd
    - name: defaults-debug
      debug:
      register: r_dbg
    - name: defaults-override
      debug: {msg: mine}
      register: r_dbg2
    - block:
        - name: defaults-block
          command: pwd
          register: r_pwd2
        - name: defaults-task
          command: pwd
          module_defaults: {ansible.builtin.command: {chdir: /usr}}
          register: r_pwd3
      module_defaults: {command: {chdir: /}}
    - name: check-task
      file: {path: "{{ out }}.check", state: touch}
      check_mode: true
      register: r_check
    - name: check-stat
      stat: {path: "{{ out }}.check"}
      register: r_check_stat
    - name: prompts
      debug: {msg: "{{ answer }} {{ with_default }}"}
      register: r_prompt
    - name: throttled
      command: echo hi
      throttle: 1
      register: r_thr
    - name: never-task
      debug: {msg: never}
      tags: [never]
      register: r_never
    - name: always-task
      debug: {msg: always}
      tags: [always]
      register: r_always
    - name: async-poll
      command: echo hi
      async: 10
      poll: 1
      register: r_async
    - name: async-timeout
      command: sleep 4
      async: 1
      poll: 1
      register: r_async_to
      ignore_errors: true
    - name: async-bg
      command: echo bg
      async: 10
      poll: 0
      register: r_bg
    - name: async-status
      async_status: {jid: "{{ r_bg.ansible_job_id }}"}
      register: r_bg_status
      until: r_bg_status.finished
      retries: 10
      delay: 1
    - name: async-status-unknown
      async_status: {jid: "j0.0"}
      register: r_bg_unknown
      ignore_errors: true
    - name: dump
      copy:
        dest: "{{ out }}"
        content: "{{ {'env': r_env.stdout, 'env_block': r_env2.stdout, 'defaults_cmd': r_pwd.stdout,
          'defaults_debug': r_dbg.msg, 'defaults_override': r_dbg2.msg, 'defaults_block': r_pwd2.stdout,
          'defaults_task': r_pwd3.stdout, 'check_changed': r_check.changed,
          'check_left_nothing': not r_check_stat.stat.exists, 'prompts': r_prompt.msg,
          'throttle': r_thr.stdout, 'never_ran': r_never is defined, 'always': r_always.msg,
          'async': [r_async.stdout, r_async.finished, r_async.started, r_async.ansible_job_id is string],
          'async_timeout': [r_async_to.failed, r_async_to.msg, r_async_to.async_result.finished],
          'async_bg': [r_bg.started, r_bg.finished, r_bg.changed],
          'async_status': [r_bg_status.stdout, r_bg_status.finished, r_bg_status.rc,
                           r_bg_status.ansible_job_id == r_bg.ansible_job_id],
          'async_unknown': [r_bg_unknown.failed, r_bg_unknown.msg] } | to_json }}"
PLAN
sed 's/^  hosts: localhost$/&\n  gather_facts: false/' plan.yml >ansible.yml
ANSIBLE_STDOUT_CALLBACK=json ansible-playbook -i inv.ini ansible.yml -e out="$E2E_TMP/a.json" \
	-e answer=42 >a.log 2>a.err </dev/null || echo "not ok - ansible-playbook failed: $(tail -3 a.err)"
# (the poll: 0 job's files, ~/.kplan_async, stay in the test's tree)
mkdir home
HOME="$E2E_TMP/home" "$KPLAN" run plan.yml -i inv.ini -e out="$E2E_TMP/k.json" -e answer=42 >k.log 2>k.err </dev/null ||
	echo "not ok - kplan run failed: $(tail -3 k.err)"
/usr/bin/python3 - a.json k.json <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
k = json.load(open(sys.argv[2]))
for name in a:
    if a[name] == k.get(name):
        print(f"ok - {name}: {json.dumps(a[name])} as Ansible")
    else:
        print(f"not ok - {name}: ansible {json.dumps(a[name])} kplan {json.dumps(k.get(name))}")
PY

# diff per task: the task that asks shows its diff without --diff, the
# other does not; diff: false hides it under --diff
echo old >d1
echo old >d2
cat >diff.yml <<PLAN
- name: p
  hosts: localhost
  tasks:
    - name: with-diff
      copy: {content: "new1\n", dest: "$E2E_TMP/d1"}
      diff: true
    - name: without-diff
      copy: {content: "new2\n", dest: "$E2E_TMP/d2"}
      diff: false
PLAN
"$KPLAN" run diff.yml -i inv.ini --diff >diff.out 2>&1
if grep -q '^ *+new1$' diff.out && ! grep -q '^ *+new2$' diff.out && grep -q new2 d2; then
	echo "ok - diff per task: shown where asked, hidden where refused"
else
	echo "not ok - diff per task:"
	sed 's/^/    /' diff.out | head -20
fi
