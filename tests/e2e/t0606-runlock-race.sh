#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Two concurrent `kplan run` with the same run_lock on the lab: exactly one
# proceeds, the other exits 5 at once naming the holder; after the first
# controller is SIGKILLed its Lease is not renewed, expires, and a new run
# proceeds. KPLAN_LEASE_SECONDS (tests and emergencies) makes the Lease 6 s.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "run lock race"
lease=/apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases/kplan-race
KPLAN_LEASE_SECONDS=6
export KPLAN_LEASE_SECONDS
cat >"$E2E_TMP/locked.yml" <<'PLAN'
- name: locked work
  hosts: k8s-master
  run_lock: race
  tasks:
    - name: work a while
      command: sleep 8
PLAN
go() { "$KPLAN" run "$E2E_TMP/locked.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color >"$E2E_TMP/$1" 2>&1; }

# both at once
t0=$(date +%s)
"$KPLAN" run "$E2E_TMP/locked.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color >"$E2E_TMP/a" 2>&1 &
pa=$!
"$KPLAN" run "$E2E_TMP/locked.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color >"$E2E_TMP/b" 2>&1 &
pb=$!
# the loser stops at once, the winner works 8 s
loser="" winner="" lpid="" wpid=""
i=0
while [ $i -lt 100 ] && [ -z "$loser" ]; do
	if ! kill -0 $pa 2>/dev/null; then loser=a lpid=$pa winner=b wpid=$pb; fi
	if ! kill -0 $pb 2>/dev/null; then loser=b lpid=$pb winner=a wpid=$pa; fi
	sleep 0.1
	i=$((i + 1))
done
wait $lpid
lrc=$?
took=$(($(date +%s) - t0))
check "race: one run stopped with exit 5" "5" "$lrc"
# "at once": it ended while the winner still works its 8 s, whatever the load
check "race: at once, the other one still runs" yes "$(kill -0 $wpid 2>/dev/null && echo yes || echo "no: ${took}s")"
check "race: the loser names the holder, the winner (pid $wpid), and runs nothing" "1 0" \
	"$(grep -c "run lock 'race' is held by [^ ]*@[^ ]*:$wpid since " "$E2E_TMP/$loser") $(grep -c 'work a while' "$E2E_TMP/$loser")"
check "race: the Lease lasts KPLAN_LEASE_SECONDS" 6 \
	"$(on k8s-master "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw $lease" | sed -n 's/.*"leaseDurationSeconds": *\([0-9]*\).*/\1/p')"

# the winner's controller dies: its Lease stays until it expires
kill -9 $wpid
wait $wpid 2>/dev/null
go c
check "after SIGKILL: the Lease is still held (exit 5)" 5 "$?"
sleep 7
t0=$(date +%s)
go d
rc=$?
check "after the Lease expired: a new run proceeds (exit 0)" 0 "$rc"
check "after the Lease expired: it says it took the lock" 1 \
	"$(grep -c "run lock 'race' taken: Lease kube-system/kplan-race" "$E2E_TMP/d")"
check "the Lease is deleted at the end" 1 \
	"$(on k8s-master "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw $lease" 2>&1 | grep -c 'NotFound\|not found')"
