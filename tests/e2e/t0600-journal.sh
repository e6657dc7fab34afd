#!/bin/sh
# transports: local ssh
# The run journal: a failed rollout is finished with --resume without
# redoing what succeeded; a changed plan is refused; kplan runs; Ctrl-C
# stops new work (exit 130) and a second one kills what runs.
. "$(dirname "$0")/lib.sh"
inv=$E2E_TMP/inv.ini
setup_nodes "$inv" 3
p=$E2E_TMP/plan.yml
J=$E2E_TMP/journal
cat >"$p" <<'PLAN'
- name: rolling
  hosts: nodes
  serial: 1
  tasks:
    - name: first
      shell: "echo first >> count; echo {{ inventory_hostname }}-value"
      register: r
    - name: may fail
      shell: "echo second >> count; test ! -e fail-here"
    - name: uses the registered value
      shell: "echo {{ r.stdout }} > used"
PLAN
node_sh h2 "touch fail-here"
run_kplan "$E2E_TMP/run1" run "$p" -i "$inv" --journal "$J" --no-color
check "run 1: stopped after h2 failed (exit 4)" 4 "$rc"
resume=$(sed -n 's/^to finish this rollout: //p' "$E2E_TMP/run1")
id=$(echo "$resume" | sed 's/.*--resume //')
check "run 1: prints the exact resume command" \
	"kplan run $p -i $inv --journal $J --resume $id" "$resume"
check "run 1: says no node was left cordoned" 1 "$(grep -c '^no node was left cordoned by this run' "$E2E_TMP/run1")"
check "kplan runs lists the run as failed with exit 4" 1 \
	"$("$KPLAN" runs --journal "$J" | grep -c "^$id .* failed *4 ")"
check "kplan runs RUN_ID shows its records" 1 \
	"$("$KPLAN" runs "$id" --journal "$J" | grep -c 'failed    may fail  \[h2\]')"

# the same plan changed: refused, unless --force
cp "$p" "$E2E_TMP/plan.orig"
echo "# edited" >>"$p"
run_kplan "$E2E_TMP/run2" run "$p" -i "$inv" --journal "$J" --resume "$id"
check "resume of a changed plan is refused (exit 2)" 2 "$rc"
check "resume of a changed plan: the message says what changed and what to do" 1 \
	"$(grep -c "error: --resume: the plan changed since run $id: check the difference, then resume with --force" "$E2E_TMP/run2")"
cp "$E2E_TMP/plan.orig" "$p"

node_sh h2 "rm fail-here"
run_kplan "$E2E_TMP/run3" run "$p" -i "$inv" --journal "$J" --resume "$id" --format json
check "resume: exit 0" 0 "$rc"
check "resume: h1 was not redone" "first second" "$(node_cat h1 count | paste -sd' ')"
check "resume: h2 reran only what failed" "first second second" "$(node_cat h2 count | paste -sd' ')"
check "resume: h3, never started, ran everything" "first second" "$(node_cat h3 count | paste -sd' ')"
check "resume: a registered value from the first run is restored for h2" "h2-value" "$(node_cat h2 used)"
check "resume: skipped pairs say where they were done (h1's three, h2's first)" 4 \
	"$(grep -c "\"status\":\"skipped\",.*\"msg\":\"done in run $id\"" "$E2E_TMP/run3")"
check "kplan runs: the resumed run is ok" 1 "$("$KPLAN" runs --journal "$J" | grep -c ' ok  *0 ')"
check "the journal records resumed_from" 1 "$(grep -l "\"resumed_from\":\"$id\"" "$J"/*.jsonl | wc -l)"

# Ctrl-C: the first one lets the running step finish, starts nothing new
cat >"$E2E_TMP/slow.yml" <<'PLAN'
- name: slow
  hosts: nodes
  serial: 1
  tasks:
    - name: nap
      shell: "echo > napping; sleep 4; echo napped >> naps"
    - name: after
      shell: "echo after >> naps"
PLAN
"$KPLAN" run "$E2E_TMP/slow.yml" -i "$inv" --journal "$J" >"$E2E_TMP/int.out" 2>&1 &
pid=$!
# interrupted once the step runs on h1 (polled, not guessed: a loaded
# machine may take seconds to get there)
i=0
while [ $i -lt 300 ] && ! node_sh h1 'test -e napping'; do
	sleep 0.1
	i=$((i + 1))
done
kill -INT $pid
wait $pid
rc=$?
check "first Ctrl-C: exit 130" 130 "$rc"
check "first Ctrl-C: the step in flight finished, nothing new started" "napped|missing" \
	"$(node_cat h1 naps | paste -sd'|')|$(node_sh h2 'test -e naps && echo present || echo missing')"
check "first Ctrl-C: the journal ends with exit 130" 1 \
	"$(tail -n 1 "$(ls -t "$J"/*.jsonl | head -n 1)" | grep -c '"exit_code":130')"

cat >"$E2E_TMP/stuck.yml" <<'PLAN'
- name: stuck
  hosts: nodes[0]
  tasks:
    - name: hang
      shell: "sleep 60 & echo $! > stuckpid; wait"
PLAN
start=$(date +%s)
"$KPLAN" run "$E2E_TMP/stuck.yml" -i "$inv" --journal "$J" >"$E2E_TMP/int2.out" 2>&1 &
pid=$!
i=0
while [ $i -lt 300 ] && ! node_sh h1 'test -s stuckpid'; do
	sleep 0.1
	i=$((i + 1))
done
kill -INT $pid
sleep 0.3
kill -INT $pid
wait $pid
rc=$?
took=$(($(date +%s) - start))
check "second Ctrl-C: exit 130" 130 "$rc"
check "second Ctrl-C: kplan stops at once, not after the 60 s command" yes \
	"$([ "$took" -lt 40 ] && echo yes || echo "no: ${took}s")"
bg=$(node_cat h1 stuckpid)
i=0
while [ $i -lt 100 ] && node_sh h1 "grep -q '^State:.*[^Z] (' /proc/$bg/status 2>/dev/null"; do
	sleep 0.1
	i=$((i + 1))
done
check "second Ctrl-C: the running command and its children were killed" gone \
	"$(node_sh h1 "grep -q '^State:.*[^Z] (' /proc/$bg/status 2>/dev/null" && echo alive || echo gone)"
