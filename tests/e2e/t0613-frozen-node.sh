#!/bin/sh
# A frozen node (its processes stopped: TCP still open, the kernel still
# acknowledging, nothing answering) is found dead by ServerAliveInterval x
# ServerAliveCountMax, as ssh finds it, not after the command timeout:
# the host becomes unreachable with the reason, and the rest of the batch
# goes on (strategy linear, no max_fail_percentage: the other host runs
# its next task).
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
	echo "# SKIP frozen node: needs root and /usr/sbin/sshd"
	exit 0
fi
lab=tests/lab/lab
L=$E2E_TMP/lab
frozen=""
thaw() { [ -z "$frozen" ] || kill -CONT $frozen 2>/dev/null; }
trap 'thaw; $lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
$lab up --names n1,n2 --dir "$L" >/dev/null || {
	echo "not ok - lab up"
	exit 1
}
p=$E2E_TMP/plan.yml
cat >"$p" <<'PLAN'
- name: frozen
  hosts: nodes
  tasks:
    - name: wait
      shell: touch /tmp/kplan-started; case $(hostname) in n1) sleep 300;; *) sleep 3;; esac
    - name: after
      command: echo after
PLAN
"$KPLAN" run "$p" -i "$L/inventory.yml" --known-hosts "$L/known_hosts" --no-color \
	-e 'ansible_ssh_common_args="-o ServerAliveInterval=1 -o ServerAliveCountMax=2"' \
	>"$E2E_TMP/out" 2>&1 &
pid=$!
# once n1's command runs, stop every process of the node (its pid namespace)
init=$(awk '$2 == "n1" && $3 == "sshd" {print $1}' "$L/pids")
ns=$(readlink "/proc/$init/ns/pid")
i=0
while [ $i -lt 600 ] && ! $lab exec n1 --dir "$L" -- test -e /tmp/kplan-started 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
for d in /proc/[0-9]*; do
	[ "$(readlink "$d/ns/pid" 2>/dev/null)" = "$ns" ] && frozen="$frozen ${d#/proc/}"
done
kill -STOP $frozen
t0=$(date +%s)
# bounded: without keepalives the run would wait for n1 for 10 minutes
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
	sleep 0.1
	i=$((i + 1))
done
waited=$(($(date +%s) - t0))
kill -9 $pid 2>/dev/null
wait $pid
rc=$?
thaw
check "the run ends with a host unreachable (exit 3)" 3 "$rc"
check "n1 is unreachable because it stopped answering its keepalives" 1 \
	"$(grep -c 'n1.*stopped answering: no reply to 2 keepalives in 2 s (ServerAliveInterval 1, ServerAliveCountMax 2)' "$E2E_TMP/out")"
check "the rest of the batch goes on: n2 runs the next task" 1 \
	"$(grep -A3 'TASK \[after\]' "$E2E_TMP/out" | grep -c 'n2')"
check "found within seconds (2 keepalives of 1 s), not at the command's end or timeout" yes \
	"$([ "$waited" -lt 40 ] && echo yes || echo "no: $waited s")"
