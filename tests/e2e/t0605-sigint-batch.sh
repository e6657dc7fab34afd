#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Fault injection: Ctrl-C (SIGINT) during a batch of
# playbooks/upgrade-1.13.yml (Scenario 1), once k8s-worker-1's batch has
# started: the step in flight finishes, nothing new starts, kplan exits 130
# within the command timeout, the journal is complete (it ends with a
# run_end record), and `kplan run --resume` finishes the upgrade.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "SIGINT during a batch"
pb=playbooks/upgrade-1.13.yml
J=$E2E_TMP/journal
api() { on k8s-master "kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw '$1'"; }
nodes() {
	api /api/v1/nodes | /usr/bin/python3 -c 'import json,sys
for n in json.load(sys.stdin)["items"]:
    print("%s=%s:%s" % (n["metadata"]["name"], n["status"]["nodeInfo"]["kubeletVersion"],
                        bool(n["spec"].get("unschedulable"))))' | sort | paste -sd' ' -
}
timeout=30
"$KPLAN" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" --kubeconfig "$L/kubeconfig" --journal "$J" --timeout ${timeout}s \
	--no-color >"$E2E_TMP/run1" 2>&1 &
pid=$!
i=0
while [ $i -lt 1200 ] && kill -0 $pid 2>/dev/null; do
	cat "$J"/*.jsonl 2>/dev/null | grep -q '"type":"result".*"host":"k8s-worker-1"' && break
	sleep 0.05
	i=$((i + 1))
done
start=$(date +%s)
kill -INT $pid
wait $pid
rc=$?
took=$(($(date +%s) - start))
jf=$(ls "$J"/*.jsonl | head -n 1)
id=$(basename "$jf" .jsonl)
check "SIGINT: exit 130" 130 "$rc"
check "SIGINT: within the command timeout (${timeout}s)" yes \
	"$([ "$took" -le "$timeout" ] && echo yes || echo "no: ${took}s")"
check "SIGINT: the journal is complete: it ends with run_end, exit 130" 1 \
	"$(tail -n 1 "$jf" | grep -c '"type":"run_end".*"exit_code":130')"
check "SIGINT: k8s-worker-2 was never started" 0 "$(grep -c '"host":"k8s-worker-2"' "$jf")"
check "SIGINT: the message tells how to resume" 1 \
	"$(grep -c "^to finish this rollout: kplan run .* --resume $id$" "$E2E_TMP/run1")"
check "kplan runs: the run is listed as interrupted with 130" 1 \
	"$("$KPLAN" runs --journal "$J" | grep "^$id " | grep -c ' 130 *')"

run_kplan "$E2E_TMP/run2" run $pb -i "$inv" -e backup_dir="$E2E_TMP/backups" --kubeconfig "$L/kubeconfig" --journal "$J" \
	--resume "$id" --format json
check "resume: exit 0" 0 "$rc"
check "resume: every node Ready at v1.13.3, none cordoned" \
	"k8s-master=v1.13.3:False k8s-worker-1=v1.13.3:False k8s-worker-2=v1.13.3:False" "$(nodes)"
check "resume: the control plane was not upgraded again (its tasks skipped as done)" 0 \
	"$(grep '"host_result"' "$E2E_TMP/run2" | grep '"host":"k8s-master"' | grep -vc "\"status\":\"skipped\".*done in run $id")"
