#!/bin/sh
# suite: lab (lab nodes that reboot: run by make test, left out of make asan for time)
# The reboot module on a two-node lab: node1 reboots for real as the lab
# simulates it (every connection drops, sshd gone for a second, a new boot
# id, sshd back with the same host key); kplan reconnects, waits for the
# new boot id and test_command, and the play's next task runs on node1 over
# the reopened connection. node2 is left alone. A check predicts the reboot
# and changes nothing; a test_command that never succeeds fails within the
# timeout, saying what it saw; the local connection refuses honestly. The
# lab's stop-node/start-node still work after a reboot, and down leaves no
# process or mount behind.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP reboot: needs root and /usr/sbin/sshd"
	exit 0
fi
lab=$(cd "$(dirname "$0")/../lab" && pwd)/lab
d=$E2E_TMP/lab
trap '"$lab" down --dir "$d" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
PY=/usr/bin/python3

"$lab" up --nodes 2 --dir "$d" >"$E2E_TMP/up.out" 2>&1 || {
	echo "not ok - lab up --nodes 2"
	sed 's/^/    /' "$E2E_TMP/up.out"
	exit 1
}
inv=$d/inventory.yml
boot_id() { "$lab" exec "$1" --dir "$d" -- cat /proc/sys/kernel/random/boot_id; }
on() { ssh -F "$d/ssh_config" "$@" 2>&1; }
# field EVENTS TASK HOST EXPR: a Python expression over the host_result e
field() {
	$PY -c 'import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "host_result" and e["task"] == sys.argv[2] and e["host"] == sys.argv[3]:
        r = e.get("result") or {}
        print(eval(sys.argv[4]))' "$@"
}
pids=$(awk '{ print $1 }' "$d/pids")

cat >"$E2E_TMP/reboot.yml" <<'EOF'
- name: Reboot node1
  hosts: nodes
  tasks:
    - name: Reboot
      reboot:
      when: inventory_hostname == "node1"
    - name: After
      shell: echo "after-reboot $(cat /proc/sys/kernel/random/boot_id)"
EOF

# ---- a check: predicted, nothing done ----------------------------------------
b1=$(boot_id node1) b2=$(boot_id node2)
check "boot ids are random per node" yes "$([ -n "$b1" ] && [ "$b1" != "$b2" ] && echo yes)"
run_kplan "$E2E_TMP/check.out" check "$E2E_TMP/reboot.yml" -i "$inv" --no-color
check "check: exit 0" 0 "$rc"
check "check: node1 would reboot (changed, naming its boot id)" 1 \
	"$(grep -c "changed: \[node1\] .*would reboot (boot id $b1)" "$E2E_TMP/check.out")"
check "check: node1's boot id did not change" "$b1" "$(boot_id node1)"

# ---- the reboot ----------------------------------------------------------------------
run_kplan "$E2E_TMP/run.jsonl" run "$E2E_TMP/reboot.yml" -i "$inv" --format json
check "run: exit 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/    stderr: /' "$E2E_TMP/run.jsonl.err" | head -5
n1=$(boot_id node1)
check "node1 has a new boot id" new "$([ -n "$n1" ] && [ "$n1" != "$b1" ] && echo new)"
check "node2's boot id did not change" "$b2" "$(boot_id node2)"
check "the reboot is changed on node1, skipped on node2" "changed skipped" \
	"$(field "$E2E_TMP/run.jsonl" Reboot node1 'e["status"]') $(field "$E2E_TMP/run.jsonl" Reboot node2 'e["status"]')"
check "the result names the new boot id and the one before" "$n1 $b1" \
	"$(field "$E2E_TMP/run.jsonl" Reboot node1 'r.get("boot_id"), r.get("boot_id_before")' | tr -d "(),'")"
check "the result says how long it took, in whole seconds (the lab's reboot takes one)" yes \
	"$(field "$E2E_TMP/run.jsonl" Reboot node1 '"yes" if r.get("rebooted") is True and isinstance(r.get("elapsed"), int) and 1 <= r["elapsed"] < 60 else r')"
check "the next task ran on node1 after the reboot, over the reopened connection" \
	"after-reboot $n1" "$(field "$E2E_TMP/run.jsonl" After node1 'r["stdout"].strip()')"
check "node1's command log records the reboot" 1 \
	"$(on node1 'grep -c " shutdown -r now Reboot initiated by kplan$" /var/log/kubeadm-lab.log')"
check "node1's sshd log outside the node records it too" 1 \
	"$(grep -c "^# node1: rebooted .*(boot id $n1)" "$d/node1/sshd.log")"
check "the lab's recorded pids are the same: PID 1 of the node survived its reboot" \
	"$pids" "$(awk '{ print $1 }' "$d/pids")"
check "lab status: both nodes up" "lab: 2 of 2 up in $d" "$("$lab" status --dir "$d" | tail -n 1)"
check "node1 answers ssh with the same host key (strict checking)" node1 "$(on node1 hostname)"
check "root cannot write the boot id inside the node" "refused $n1" \
	"$(on node1 '{ echo x >/proc/sys/kernel/random/boot_id; } 2>/dev/null && echo written || echo refused
		cat /proc/sys/kernel/random/boot_id' | paste -sd' ' -)"

# ---- a test_command that never succeeds --------------------------------------------
cat >"$E2E_TMP/fail.yml" <<'EOF'
- hosts: node1
  tasks:
    - name: Reboot and test
      reboot:
        test_command: /bin/false
        timeout: 15s
EOF
t0=$(date +%s)
run_kplan "$E2E_TMP/fail.jsonl" run "$E2E_TMP/fail.yml" -i "$inv" --format json
t1=$(date +%s)
check "test_command /bin/false: exit 1 (the host failed)" 1 "$rc"
# 15s: time for the node's sshd to come back on a loaded machine, so that
# what was seen last is the node answering; the upper bound is a hang guard
check "it gave up at the timeout, not before (15s; hang guard 120s)" yes \
	"$([ $((t1 - t0)) -ge 15 ] && [ $((t1 - t0)) -lt 120 ] && echo yes)"
n2=$(boot_id node1)
check "the node did reboot (a new boot id)" new "$([ "$n2" != "$n1" ] && echo new)"
check "the message names the timeout and what was seen last" \
	"timed out after 15s waiting for 'node1' to come back from the reboot: a new boot id $n2, but 'test_command' '/bin/false' exited 1 (no stderr)" \
	"$(field "$E2E_TMP/fail.jsonl" 'Reboot and test' node1 'e["msg"]')"

# ---- the local connection: no node to come back ------------------------------------
printf '[nodes]\nh1 ansible_connection=local kplan_workdir=%s\n' "$E2E_TMP" >"$E2E_TMP/local.ini"
sed 's/inventory_hostname == "node1"/true/' "$E2E_TMP/reboot.yml" >"$E2E_TMP/local.yml"
run_kplan "$E2E_TMP/local.out" run "$E2E_TMP/local.yml" -i "$E2E_TMP/local.ini" --no-color
check "local: exit 1, with the reason" "1 1" \
	"$rc $(grep -c "failed: \[h1\] .*cannot reboot 'h1' over the 'local' connection: a reboot needs an ssh host to reconnect to" "$E2E_TMP/local.out")"
run_kplan "$E2E_TMP/localc.out" check "$E2E_TMP/local.yml" -i "$E2E_TMP/local.ini" --no-color
check "local: a check says the same, not 'would reboot'" "1 0" \
	"$(grep -c "cannot reboot 'h1' over the 'local' connection" "$E2E_TMP/localc.out") $(grep -c 'would reboot' "$E2E_TMP/localc.out")"

# ---- the lab after reboots: stop-node, start-node, down ------------------------------
"$lab" stop-node node1 --dir "$d" >/dev/null 2>&1
on node1 true >/dev/null
check "stop-node after a reboot: node1 refuses connections" 255 "$?"
"$lab" start-node node1 --dir "$d" >/dev/null 2>&1
check "start-node: node1 is back (a start is a boot: a new boot id)" "node1 new" \
	"$(on node1 hostname) $([ "$(boot_id node1)" != "$n2" ] && echo new)"
pids="$pids $(awk '{ print $1 }' "$d/pids")"
"$lab" down --dir "$d" >/dev/null 2>&1
check "lab down" 0 "$?"
alive=
for p in $pids; do
	if [ -e "/proc/$p" ] && [ "$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1)" != Z ]; then
		alive="$alive $p"
	fi
done
check "no recorded pid is alive after down" "" "$alive"
check "no mount of the lab remains" "" "$(grep -F "$d" /proc/self/mountinfo)"
check "the run directory is gone" absent "$(test -e "$d" && echo present || echo absent)"
