#!/bin/sh
# --resume carries every completed host x task pair down a chain of runs
# (a resume of a resume skips what the first run did, with its registered
# values); a run being resumed, or still going, is locked: a second
# --resume of it is refused naming the pid that holds it; a resume with
# other -e, --limit or --tags is refused unless --force; plain --resume
# takes the run that started last.
. "$(dirname "$0")/lib.sh"
T=$E2E_TMP
cd "$T" || exit 1
printf 'h1 ansible_connection=local\nh2 ansible_connection=local\n' >inv.ini
cat >plan.yml <<EOF2
- hosts: all
  tasks:
    - name: one
      shell: echo "one-{{ inventory_hostname }}" ; echo x >> $T/ran1
      register: r1
    - name: two
      shell: echo x >> $T/ran2 ; test -f $T/ok2
    - name: three
      shell: echo x >> $T/ran3 ; test -f $T/ok3 && test "{{ r1.stdout }}" = "one-{{ inventory_hostname }}"
EOF2
count() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
newest() { ls -t .kplan/runs/*.jsonl | head -1 | sed 's|.*/||; s|\.jsonl$||'; }

run_kplan out run plan.yml -i inv.ini
check "the first run fails at task two" 1 "$rc"
run1=$(newest)
touch ok2
run_kplan out run plan.yml -i inv.ini --resume "$run1"
check "the resume fails at task three" 1 "$rc"
run2=$(ls -t .kplan/runs/*.jsonl | head -1 | sed 's|.*/||; s|\.jsonl$||')
touch ok3
run_kplan out run plan.yml -i inv.ini --resume "$run2"
check "the resume of the resume finishes" 0 "$rc"
check "task one ran once per host over the three runs" 2 "$(count ran1)"
check "task two ran twice per host (failed, then resumed)" 4 "$(count ran2)"
check "task three ran twice per host" 4 "$(count ran3)"

# a run still going, and a run being resumed, are locked
rm -f ok2 ok3
cat >slow.yml <<EOF2
- hosts: h1
  tasks:
    - name: wait
      shell: touch $T/started.\$PPID ; while [ -d $T ] && [ ! -f $T/go ]; do sleep 0.1; done
    - name: fail
      shell: test -f $T/ok2
EOF2
wait_for() { i=0; while [ $i -lt 200 ] && ! ls $1 >/dev/null 2>&1; do sleep 0.1; i=$((i + 1)); done; }
rm -f started.* go
"$KPLAN" run slow.yml -i inv.ini >slow.out 2>&1 &
pid=$!
wait_for "$T/started.*"
live=$(newest)
# (bounded: a resume that is not refused would wait for the same file)
timeout -k 5 20 "$KPLAN" run slow.yml -i inv.ini --resume "$live" >out 2>out.err
check "resuming a run whose controller lives is refused" 5 "$?"
check "the message names its pid" \
	"error: --resume: run $live is in use by kplan process $pid (the run itself, still going, or another resume of it)" \
	"$(cat out out.err | grep -- '--resume')"
touch go
wait $pid
check "that run ends (task fail fails)" 1 "$?"

cat >slow2.yml <<EOF2
- hosts: h1
  tasks:
    - name: wait, then fail unless ok2
      shell: touch $T/started.\$PPID ; while [ -d $T ] && [ ! -f $T/go ]; do sleep 0.1; done ; test -f $T/ok2
EOF2
run_kplan out run slow2.yml -i inv.ini
live=$(newest)
rm -f go started.*
touch ok2
"$KPLAN" run slow2.yml -i inv.ini --resume "$live" >r1.out 2>&1 &
pid=$!
wait_for "$T/started.*"
timeout -k 5 20 "$KPLAN" run slow2.yml -i inv.ini --resume "$live" >out 2>out.err
check "a second resume of the same run is refused" 5 "$?"
check "the message names the first resume's pid" \
	"error: --resume: run $live is in use by kplan process $pid (the run itself, still going, or another resume of it)" \
	"$(cat out out.err | grep -- '--resume')"
touch go
wait $pid

# other arguments
run_kplan out run plan.yml -i inv.ini --resume "$run1" --limit h1
check "a resume with another --limit is refused" 2 "$rc"
check "the message names what differs" \
	"error: --resume: run $run1 ran with other arguments (limit): resume with the same -e, --limit, --tags and --skip-tags, or with --force, or start a new run" \
	"$(cat out out.err)"
run_kplan out run plan.yml -i inv.ini --resume "$run1" -e x=1 --tags a
check "a resume with other -e and --tags is refused" 2 "$rc"
grep -q "ran with other arguments (extra_vars, tags)" out
check "both are named" 0 $?
run_kplan out run plan.yml -i inv.ini --resume "$run1" --limit h1 --force
check "--force resumes anyway" 1 "$rc"

# plain --resume: the run that started last, whatever its name
mkdir -p pick/runs
start='{"type":"run_start","run_id":"%s","started":"%s","command":"run","plan":"plan.yml","plan_sha256":"%s","inventory_sha256":"%s","inventories":["inv.ini"],"args":{"extra_vars":[],"tags":[],"skip_tags":[]},"pid":1}\n'
first=$(head -1 ".kplan/runs/$run1.jsonl")
psha=$(printf '%s' "$first" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["plan_sha256"])')
isha=$(printf '%s' "$first" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["inventory_sha256"])')
# the same second: "…-ffffff" started first, "…-000000" later
printf "$start" 20261207T100000Z-ffffff 2026-12-07T10:00:00.100000000Z "$psha" "$isha" >pick/runs/20261207T100000Z-ffffff.jsonl
printf "$start" 20261207T100000Z-000000 2026-12-07T10:00:00.900000000Z "$psha" "$isha" >pick/runs/20261207T100000Z-000000.jsonl
run_kplan out run plan.yml -i inv.ini --journal pick/runs --resume
grep -q "resumed_from\":\"20261207T100000Z-000000\"" $(ls -t pick/runs/*.jsonl | head -1)
check "plain --resume takes the run that started last" 0 $?
