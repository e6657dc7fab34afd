#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# kplan's drain evicts as kubectl's does (Debian's kubectl 1.20, against the
# same lab state): every pod's eviction at once, a pod its budget holds
# tried again every 5 s while the others are already waited for. Proved by
# the API server's log, not by the clock:
#   - the lab's hold (POST /lab/hold) lets the drain's evictions through only
#     when all N of them are in flight together; a client that sent them
#     one after another would have its first wait out the hold alone, and
#     the log would say "(held: 1 of N, timed out)";
#   - the budget is lifted only once every other pod is gone from the node
#     while the guarded pod is still there (its eviction answered 429): the
#     drain waited for the others while the budget held the one, so it
#     takes as long as the slowest pod, not the sum;
#   - then the guarded pod is evicted (201) and the drain succeeds.
# kubectl's lines (evicting pod, pod/NAME evicted, the 429 retry message)
# are in kplan's result (stdout and stderr, shown with -vv) as kubectl
# prints them.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "drain: evictions in parallel"
KUBECONFIG=$L/kubeconfig
export KUBECONFIG
PY=/usr/bin/python3
deb=$(ls /var/cache/apt/archives/kubernetes-client_*.deb 2>/dev/null | head -n 1)
if [ -n "$deb" ] && dpkg-deb -x "$deb" "$E2E_TMP/kc" 2>/dev/null && [ -x "$E2E_TMP/kc/usr/bin/kubectl" ]; then
	kubectl=$E2E_TMP/kc/usr/bin/kubectl
else
	echo "# SKIP no kubernetes-client .deb (Debian's kubectl) in /var/cache/apt/archives"
	exit 0
fi
N=k8s-worker-1
OPTS_KUBECTL="--ignore-daemonsets --delete-emptydir-data --force --timeout=120s --skip-wait-for-delete-timeout=1"
OPTS_KPLAN="ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 120s, skip_wait_for_delete_timeout: 1s"
cat >"$E2E_TMP/drain.yml" <<PLAN
- name: drain
  hosts: $N
  tasks:
    - name: Drain
      drain: {$OPTS_KPLAN}
PLAN

pods_on_node() {
	$kubectl get --raw "/api/v1/pods?fieldSelector=spec.nodeName%3D$N" | $PY -c 'import json,sys
print(" ".join(sorted(p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in json.load(sys.stdin)["items"])))'
}
reset() {
	printf '{"fixture": "drain", "node": "%s"}' $N | $kubectl create --raw /lab/reset -f - >/dev/null
	sleep 2.5 # the kubelets report their nodes Ready again
	mark=$(wc -l <"$L/cluster/apiserver.log")
}
since() { tail -n +"$((mark + 1))" "$L/cluster/apiserver.log"; }

# what the drain removes (kplan's check mode names them; kubectl's run
# below must agree, or its hold times out and the checks say so)
reset
"$KPLAN" run "$E2E_TMP/drain.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color --check >"$E2E_TMP/check.out" 2>&1
evict=$(sed -n 's/.* evict [0-9]* pods: \([^;]*\).*/\1/p' "$E2E_TMP/check.out" | sed 's/, /\n/g' | sort)
n=$(printf '%s\n' "$evict" | grep -c .)
guarded=$(printf '%s\n' "$evict" | grep '^default/guarded-')
others=$(printf '%s\n' "$evict" | grep -v '^default/guarded-' | paste -sd' ')
check "the fixture: several pods to evict, one of them held by its budget" "yes 1" \
	"$([ "$n" -ge 5 ] && echo yes || echo "no ($n)") $(printf '%s\n' "$guarded" | grep -c .)"

# drain WHO COMMAND...: the drain in the background; the budget is lifted
# once the others are gone
drain() {
	who=$1
	shift
	reset
	printf '{"path": "/eviction$", "methods": ["POST"], "together": %d, "timeout": 60}' "$n" |
		$kubectl create --raw /lab/hold -f - >/dev/null
	"$@" >"$E2E_TMP/$who.out" 2>"$E2E_TMP/$who.err" &
	pid=$!
	# until the others are gone and the budget has answered 429 (or 300 looks:
	# then the checks below fail)
	i=0
	while [ $i -lt 300 ]; do
		left=$(pods_on_node)
		gone=yes
		for p in $others; do
			case " $left " in *" $p "*) gone=no ;; esac
		done
		if [ $gone = yes ] && since | grep -q "POST /api/v1/namespaces/default/pods/${guarded#default/}/eviction 429"; then
			break
		fi
		sleep 0.2
		i=$((i + 1))
	done
	case " $(pods_on_node) " in
	*" $guarded "*) still=yes ;;
	*) still=no ;;
	esac
	check "$who: every other pod went while the budget held $guarded" "yes yes" "$gone $still"
	$kubectl delete pdb guarded >/dev/null
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	kill "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	since >"$E2E_TMP/$who.log"
	check "$who: succeeds once the budget is gone" 0 "$rc"
	check "$who: all $n evictions were in flight together (the lab's hold)" "$n" \
		"$(grep -c "/eviction [0-9]* (held: $n of $n together)" "$E2E_TMP/$who.log")"
	check "$who: $guarded answered 429, then was evicted after the budget went" "yes 1" \
		"$(grep -q "pods/${guarded#default/}/eviction 429" "$E2E_TMP/$who.log" && echo yes || echo no) $(grep -c "pods/${guarded#default/}/eviction 201" "$E2E_TMP/$who.log")"
	check "$who: every pod evicted once" "$(printf '%s\n' "$evict" | paste -sd' ')" \
		"$(sed -n 's|.* POST /api/v1/namespaces/\([^/]*\)/pods/\([^/]*\)/eviction 201 .*|\1/\2|p' "$E2E_TMP/$who.log" | sort | paste -sd' ')"
}

drain kubectl "$kubectl" drain $N $OPTS_KUBECTL
drain kplan "$KPLAN" run "$E2E_TMP/drain.yml" -i "$inv" --kubeconfig "$L/kubeconfig" --no-color -vv
sed -n 's/^    stdout: //p' "$E2E_TMP/kplan.out" >"$E2E_TMP/kplan.stdout"
sed -n 's/^    stderr: //p' "$E2E_TMP/kplan.out" >"$E2E_TMP/kplan.stderr"

# kubectl's lines: the same pods evicting and evicted, the same retry message
lines() { grep "$1" "$2" | sort -u; }
check "kubectl's 'evicting pod' lines" "$(lines '^evicting pod ' "$E2E_TMP/kubectl.out")" \
	"$(lines '^evicting pod ' "$E2E_TMP/kplan.stdout")"
check "kubectl's 'pod/NAME evicted' lines" "$(lines '^pod/.* evicted$' "$E2E_TMP/kubectl.out")" \
	"$(lines '^pod/.* evicted$' "$E2E_TMP/kplan.stdout")"
retry="error when evicting pods/\"${guarded#default/}\" -n \"default\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget."
check "kubectl's retry message for the budget" "yes yes" \
	"$(grep -qxF "$retry" "$E2E_TMP/kubectl.err" && echo yes || echo no) $(grep -qxF "$retry" "$E2E_TMP/kplan.stderr" && echo yes || echo no)"
check "kubectl's node lines" "node/$N cordoned node/$N drained" \
	"$(grep "^node/$N " "$E2E_TMP/kplan.stdout" | paste -sd' ')"
check "kplan's result names what it evicted" 1 \
	"$(grep -c "changed: \[$N\] .*cordoned and drained node '$N': evicted $n pods" "$E2E_TMP/kplan.out")"
