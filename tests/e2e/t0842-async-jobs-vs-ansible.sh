#!/bin/sh
# async with poll: 0, run by ansible-playbook and by kplan: the command
# starts on the node as a job and the play goes on (the job waits for a
# file the next task creates: the order it writes shows it ran in the
# background); async_status reports it running, then its rc, stdout and
# stderr; a job past its `async` seconds is killed and reported as
# Ansible's "Timeout exceeded"; cleanup erases a job.
. "$(dirname "$0")/lib.sh"
if ! command -v ansible-playbook >/dev/null 2>&1; then
	echo "# SKIP async jobs vs Ansible: no ansible-playbook"
	exit 0
fi
root=$(pwd)
cd "$E2E_TMP" || exit 1
printf 'h1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n' >inv.ini
cat >plan.yml <<'PLAN'
- hosts: h1
  gather_facts: false
  tasks:
    - file: {path: "{{ d }}", state: directory}
    - name: a job that waits for the next task
      shell: "while [ ! -f {{ d }}/go ]; do sleep 0.1; done; echo job >> {{ d }}/order; echo out; echo err >&2; exit 3"
      async: 120
      poll: 0
      register: job
    - name: the next task
      shell: "echo next >> {{ d }}/order; touch {{ d }}/go"
    - name: wait for the job
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: st
      until: st.finished
      retries: 1200
      delay: 0.1
      ignore_errors: true
    - name: a job past its time
      command: sleep {{ nap }}
      async: 1
      poll: 0
      register: tjob
    - name: wait for the timeout
      async_status: {jid: "{{ tjob.ansible_job_id }}"}
      register: tst
      until: tst.finished
      retries: 1200
      delay: 0.1
      ignore_errors: true
    - name: cleanup
      async_status: {jid: "{{ job.ansible_job_id }}", mode: cleanup}
      register: cl
    - name: after cleanup
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: gone
      ignore_errors: true
    - copy:
        dest: "{{ d }}/res.json"
        content: "{{ {'order': lookup('file', d ~ '/order'),
          'started': [job.started, job.finished, job.changed, job.ansible_job_id is string],
          'done': [st.rc, st.stdout, st.stderr, st.stdout_lines, st.failed, st.finished, st.changed, st.msg],
          'timeout': [tst.failed, tst.msg, tst.finished], 'erased': cl.erased is defined,
          'gone': [gone.failed, gone.msg]} | to_json }}"
PLAN
ansible-playbook -i inv.ini plan.yml -e d="$E2E_TMP/a" -e nap=300 >a.log 2>&1 </dev/null ||
	echo "not ok - ansible-playbook failed: $(tail -3 a.log)"
# kplan's job files (~/.kplan_async) stay in the test's tree
mkdir home
HOME="$E2E_TMP/home" "$KPLAN" run plan.yml -i inv.ini -e d="$E2E_TMP/k" -e nap=301 >k.log 2>&1 </dev/null ||
	echo "not ok - kplan run failed: $(tail -3 k.log)"
/usr/bin/python3 "$root/tests/e2e/vsansible.py" files "" a/res.json k/res.json
check "the job past its time was killed" "" "$(ps -eo args | grep -x 'sleep 301')"
check "the recap as Ansible's" "$(sed -n '/^PLAY RECAP/,$ s/^h1 *: *//p' a.log | tr -s ' ' | sed 's/ *$//')" \
	"$(sed -n '/^RECAP/,$ s/^h1 *: *//p' k.log | tr -s ' ' | sed 's/ *$//')"
check "kplan's job files were in its HOME, erased by cleanup" "1 0" \
	"$(ls home/.kplan_async | grep -c '\.to$') $(ls home/.kplan_async | grep -c '\.rc$')"

# async_status right after the start: the job is there, running (kplan
# writes its files before the task returns)
cat >run.yml <<'PLAN'
- hosts: h1
  gather_facts: false
  tasks:
    - shell: "while [ ! -f {{ d }}/go2 ]; do sleep 0.1; done"
      async: 120
      poll: 0
      register: job
    - async_status: {jid: "{{ job.ansible_job_id }}"}
      register: running
    - file: {path: "{{ d }}/go2", state: touch}
    - async_status: {jid: "{{ job.ansible_job_id }}"}
      register: st
      until: st.finished
      retries: 1200
      delay: 0.1
    - debug: {msg: "running {{ running.started }} {{ running.finished }} then {{ st.finished }} {{ st.rc }}"}
PLAN
HOME="$E2E_TMP/home" "$KPLAN" run run.yml -i inv.ini -e d="$E2E_TMP/k" >run.log 2>&1 </dev/null
check "async_status right after the start: running, then finished" \
	"0 running 1 0 then 1 0" "$? $(sed -n 's/^ *ok: \[h1\] [0-9.]*s //p' run.log | tail -1)"
