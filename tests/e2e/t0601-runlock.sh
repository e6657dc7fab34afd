#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# run_lock: a Lease in kube-system while the API is reachable (renewed,
# deleted at the end), a lock directory on the first control-plane host
# without it; a lock held by someone else stops the run with exit 5.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "run lock"
kc="kubectl --kubeconfig /etc/kubernetes/admin.conf"
leases=/apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases
cat >"$E2E_TMP/locked.yml" <<'PLAN'
- name: locked work
  hosts: k8s-master
  run_lock: test
  tasks:
    - name: see the lease
      command: kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw /apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases/kplan-test
      register: lease
      failed_when: false
    - name: see the lock directory
      command: cat /var/lock/kplan-test/holder
      register: dirlock
      failed_when: false
    - name: show
      debug: {msg: "{{ lease.stdout }}|{{ dirlock.stdout }}"}
PLAN

run_kplan "$E2E_TMP/out" run "$E2E_TMP/locked.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --format json
check "Lease: the run works" 0 "$rc"
check "Lease: held by user@controller:pid while the run lives" 1 \
	"$(grep '"task":"show"' "$E2E_TMP/out" | grep -c '\\"holderIdentity\\": *\\"[a-z]*@[^:]*:[0-9]*\\"')"
check "Lease: deleted when the run ends" 1 \
	"$(on k8s-master "$kc get --raw $leases/kplan-test" 2>&1 | grep -c 'NotFound\|not found')"

now=$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)
printf '{"apiVersion":"coordination.k8s.io/v1beta1","kind":"Lease","metadata":{"name":"kplan-test","namespace":"kube-system"},"spec":{"holderIdentity":"ops@laptop:4242","leaseDurationSeconds":60,"acquireTime":"%s","renewTime":"%s"}}' "$now" "$now" |
	on k8s-master "$kc create --raw $leases -f -" >/dev/null
run_kplan "$E2E_TMP/out" run "$E2E_TMP/locked.yml" -i "$inv" --kubeconfig "$L/kubeconfig"
check "Lease held by someone else: exit 5" 5 "$rc"
check "Lease held by someone else: names the holder and since when, and runs nothing" 1 \
	"$(grep -c "stopped before play 'locked work': run lock 'test' is held by ops@laptop:4242 since $now (Lease kube-system/kplan-test" "$E2E_TMP/out")"
check "Lease held by someone else: no task ran" 0 "$(grep -c 'see the lease' "$E2E_TMP/out")"
on k8s-master "$kc delete --raw $leases/kplan-test" >/dev/null

# a Lease whose holder died (not renewed for longer than its duration) is taken over
old=$(date -u -d '-5 minutes' +%Y-%m-%dT%H:%M:%S.000000Z)
printf '{"apiVersion":"coordination.k8s.io/v1beta1","kind":"Lease","metadata":{"name":"kplan-test","namespace":"kube-system"},"spec":{"holderIdentity":"ops@crashed:1","leaseDurationSeconds":60,"acquireTime":"%s","renewTime":"%s"}}' "$old" "$old" |
	on k8s-master "$kc create --raw $leases -f -" >/dev/null
run_kplan "$E2E_TMP/out" run "$E2E_TMP/locked.yml" -i "$inv" --kubeconfig "$L/kubeconfig"
check "an expired Lease (its controller died) is taken over" 0 "$rc"

# no kubeconfig on the controller: a lock directory on the master
HOME=$E2E_TMP KUBECONFIG='' run_kplan "$E2E_TMP/out" run "$E2E_TMP/locked.yml" -i "$inv" --format json
check "lock directory: the run works" 0 "$rc"
check "lock directory: held while the run lives" 1 \
	"$(grep '"task":"show"' "$E2E_TMP/out" | grep -c '|[a-z]*@[^:]*:[0-9]* since ')"
check "lock directory: removed at the end" gone \
	"$(on k8s-master 'test -e /var/lock/kplan-test && echo present || echo gone')"
on k8s-master "mkdir -p /var/lock/kplan-test && echo 'ops@laptop:4242 since yesterday' > /var/lock/kplan-test/holder"
HOME=$E2E_TMP KUBECONFIG='' run_kplan "$E2E_TMP/out" run "$E2E_TMP/locked.yml" -i "$inv"
check "lock directory held: exit 5, naming the holder and the directory" "5 1" \
	"$rc $(grep -c "run lock 'test' is held by ops@laptop:4242 since yesterday (lock directory /var/lock/kplan-test on k8s-master" "$E2E_TMP/out")"
