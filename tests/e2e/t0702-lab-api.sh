#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# The lab API server behaves as a real one of the version it claims
# (tests/lab/cluster/api-versions.json): at 1.13 it serves policy/v1beta1
# and coordination.k8s.io/v1beta1 only (a policy/v1 Eviction is the real
# server's 400, a v1 path its 404), and after PUT /lab/version the groups of
# 1.21, 1.22 and 1.25; kplan's client follows discovery (its run lock's
# Lease and its drain's Evictions). And what real servers do: dryRun=All
# changes nothing, watch=true streams events, limit/continue paginate, a
# missing field selects as its zero value, malformed selectors are 400s,
# chunked request bodies work, deleted pods stay Terminating for their
# grace period and while a finalizer holds them, static pods show as
# mirror pods owned by their Node (and come back when deleted), and
# evictions leave Killing events.
. "$(dirname "$0")/lib.sh"
scenario_lab 1 "lab API server"
K=$E2E_TMP/k
mkdir -p "$K"
kc=$L/kubeconfig
for f in certificate-authority-data:ca client-certificate-data:crt client-key-data:key; do
	sed -n "s/^ *${f%%:*}: *//p" "$kc" | base64 -d >"$K/${f#*:}"
done
server=$(sed -n 's/^ *server: *//p' "$kc")
# api METHOD PATH [BODY [CONTENT-TYPE]]: the body, then the status on its own line
api() {
	curl -sS --cacert "$K/ca" --cert "$K/crt" --key "$K/key" -X "$1" \
		${3:+-H "Content-Type: ${4:-application/json}"} ${3:+--data-binary "$3"} \
		-w '\n%{http_code}\n' "$server$2"
}
code() { tail -n 1; }
body() { sed '$d'; }
js() { body | /usr/bin/python3 -c 'import json,sys; j = json.load(sys.stdin); print('"$1"')'; }
settle() { api POST '/lab/settle?timeout=10' >/dev/null; }

# ---- the versions --------------------------------------------------------------------
check "1.13: /version" v1.13.0 "$(api GET /version | js 'j["gitVersion"]')"
check "1.13: the policy group has v1beta1 only" "policy/v1beta1" \
	"$(api GET /apis/policy | js '" ".join(v["groupVersion"] for v in j["versions"])')"
check "1.13: coordination.k8s.io has v1beta1 only" "coordination.k8s.io/v1beta1" \
	"$(api GET /apis/coordination.k8s.io | js '" ".join(v["groupVersion"] for v in j["versions"])')"
check "1.13: pods/eviction is policy/v1beta1 in discovery" "policy/v1beta1" \
	"$(api GET /api/v1 | js '[r["group"] + "/" + r["version"] for r in j["resources"] if r["name"] == "pods/eviction"][0]')"
check "1.13: a path under policy/v1 is the mux's 404" "404 page not found" \
	"$(api GET /apis/policy/v1/namespaces/kube-system/poddisruptionbudgets | body)"
check "1.13: so is a Lease under coordination.k8s.io/v1" 404 \
	"$(api POST /apis/coordination.k8s.io/v1/namespaces/kube-system/leases '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"x"}}' | code)"
nginx=$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | js 'j["items"][0]["metadata"]["name"]')
ev() { # NS POD API-VERSION [QUERY]
	api POST "/api/v1/namespaces/$1/pods/$2/eviction$4" "{\"apiVersion\":\"$3\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"$2\",\"namespace\":\"$1\"}}"
}
check "1.13: a policy/v1 Eviction is the real server's 400" \
	'400 Eviction in version "v1" cannot be handled as a Eviction: no kind "Eviction" is registered for version "policy/v1"' \
	"$(ev default "$nginx" policy/v1 | js 'str(j["code"]) + " " + j["message"]')"
check "1.13: a coordination.k8s.io/v1 Lease body sent to v1beta1 is a 400" 400 \
	"$(api POST /apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"x"}}' | code)"

# kplan at 1.13: its run lock takes a v1beta1 Lease, its drain evicts in v1beta1
for w in 1 2; do
	cat >"$E2E_TMP/lock$w.yml" <<PLAN
- name: locked drain
  hosts: k8s-worker-$w
  run_lock: t0702
  tasks:
    - name: Drain
      drain: {ignore_daemonsets: true, delete_emptydir_data: true, force: true, timeout: 1m}
    - name: Uncordon
      drain: {state: uncordoned}
PLAN
done
lab_log() { cat "$L/cluster/apiserver.log"; }
mark=$(lab_log | wc -l)
run_kplan "$E2E_TMP/run113" run "$E2E_TMP/lock2.yml" -i "$inv" --kubeconfig "$kc" --no-color
check "1.13: the locked drain succeeds" 0 "$rc"
new() { lab_log | tail -n +"$((mark + 1))"; }
check "1.13: its Lease is coordination.k8s.io/v1beta1 (created, then deleted)" "201 200" \
	"$(new | sed -n 's#.* \(POST\|DELETE\) /apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases[/a-z0-9-]* \([0-9]*\).*#\2#p' | paste -sd' ')"
check "1.13: no coordination.k8s.io/v1 request" 0 "$(new | grep -c 'coordination.k8s.io/v1/')"
check "1.13: every Eviction it sent was policy/v1beta1 (201)" "yes" \
	"$(n=$(new | grep -c '/eviction 201 {"apiVersion":"policy/v1beta1"'); [ "$n" -gt 0 ] && [ "$n" = "$(new | grep -c '/eviction ')" ] && echo yes || echo "no: $n")"
settle

# 1.21: PodDisruptionBudgets in policy/v1, Evictions still v1beta1
nginx=$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | js 'j["items"][0]["metadata"]["name"]')
api PUT /lab/version '{"gitVersion": "v1.21.0"}' >/dev/null
check "1.21: policy serves v1 (preferred) and v1beta1" "policy/v1 policy/v1beta1 policy/v1" \
	"$(api GET /apis/policy | js '" ".join([v["groupVersion"] for v in j["versions"]] + [j["preferredVersion"]["groupVersion"]])')"
check "1.21: pods/eviction is still policy/v1beta1" "policy/v1beta1" \
	"$(api GET /api/v1 | js '[r["group"] + "/" + r["version"] for r in j["resources"] if r["name"] == "pods/eviction"][0]')"
check "1.21: and a policy/v1 Eviction is still a 400" 400 "$(ev default "$nginx" policy/v1 '?dryRun=All' | code)"
# 1.22: Evictions in policy/v1 (v1beta1 bodies still taken), no v1beta1 Leases
api PUT /lab/version '{"gitVersion": "v1.22.0"}' >/dev/null
check "1.22: pods/eviction is policy/v1" "policy/v1" \
	"$(api GET /api/v1 | js '[r["group"] + "/" + r["version"] for r in j["resources"] if r["name"] == "pods/eviction"][0]')"
check "1.22: both Eviction versions are taken (dry run)" "201 201" \
	"$(ev default "$nginx" policy/v1 '?dryRun=All' | code) $(ev default "$nginx" policy/v1beta1 '?dryRun=All' | code)"
check "1.22: coordination.k8s.io/v1beta1 is gone" 404 "$(api GET /apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases | code)"
mark=$(lab_log | wc -l)
run_kplan "$E2E_TMP/run122" run "$E2E_TMP/lock1.yml" -i "$inv" --kubeconfig "$kc" --no-color
check "1.22: the locked drain succeeds" 0 "$rc"
check "1.22: its Lease is coordination.k8s.io/v1" "201 200" \
	"$(new | sed -n 's#.* \(POST\|DELETE\) /apis/coordination.k8s.io/v1/namespaces/kube-system/leases[/a-z0-9-]* \([0-9]*\).*#\2#p' | paste -sd' ')"
check "1.22: its Evictions are policy/v1" "yes" \
	"$(n=$(new | grep -c '/eviction 201 {"apiVersion":"policy/v1"'); [ "$n" -gt 0 ] && [ "$n" = "$(new | grep -c '/eviction ')" ] && echo yes || echo "no: $n")"
settle
# 1.25: no policy/v1beta1 at all
api PUT /lab/version '{"gitVersion": "v1.25.0"}' >/dev/null
check "1.25: policy has v1 only" "policy/v1" \
	"$(api GET /apis/policy | js '" ".join(v["groupVersion"] for v in j["versions"])')"
check "1.25: policy/v1beta1 budgets are gone" 404 "$(api GET /apis/policy/v1beta1/poddisruptionbudgets | code)"
check "1.25: meta.k8s.io/v1 Tables (1.15 and later)" "meta.k8s.io/v1" \
	"$(curl -sS --cacert "$K/ca" --cert "$K/crt" --key "$K/key" -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json' "$server/api/v1/nodes" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["apiVersion"])')"
api PUT /lab/version '{"gitVersion": "v1.13.0"}' >/dev/null
check "1.13: Tables are meta.k8s.io/v1beta1 (v1 not served: the plain list instead)" "meta.k8s.io/v1beta1 NodeList" \
	"$(for a in 'application/json;as=Table;v=v1beta1;g=meta.k8s.io' 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json'; do
		curl -sS --cacert "$K/ca" --cert "$K/crt" --key "$K/key" -H "Accept: $a" "$server/api/v1/nodes" | /usr/bin/python3 -c 'import json,sys; j = json.load(sys.stdin); print(j.get("apiVersion") if j["kind"] == "Table" else j["kind"])'
	done | paste -sd' ')"

# ---- dryRun=All -----------------------------------------------------------------------
api POST /lab/reset >/dev/null
sleep 2.5 # the kubelets report the nodes Ready again
pods() { api GET /api/v1/pods | js '" ".join(sorted(p["metadata"]["uid"] + ":" + str(bool(p["metadata"].get("deletionTimestamp"))) for p in j["items"]))'; }
before=$(pods)
nginx=$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | js 'j["items"][0]["metadata"]["name"]')
check "dry run: an Eviction answers 201" 201 "$(ev default "$nginx" policy/v1beta1 '?dryRun=All' | code)"
check "dry run: a DELETE answers the pod, Terminating as it would be" "200 True" \
	"$(api DELETE "/api/v1/namespaces/default/pods/$nginx?dryRun=All" | js 'str(200) + " " + str(bool(j["metadata"].get("deletionTimestamp")))')"
check "dry run: a cordon answers the node, unschedulable" True \
	"$(api PATCH '/api/v1/nodes/k8s-worker-1?dryRun=All' '{"spec":{"unschedulable":true}}' application/strategic-merge-patch+json | js 'j["spec"].get("unschedulable")')"
sleep 1.5
check "dry run: no pod and no node changed" "$before None" "$(pods) $(api GET /api/v1/nodes/k8s-worker-1 | js 'j["spec"].get("unschedulable")')"
check "dry run: any other value is a 400" 400 "$(api DELETE "/api/v1/namespaces/default/pods/$nginx?dryRun=yes" | code)"

# ---- field and label selectors ------------------------------------------------------------
api PATCH /api/v1/nodes/k8s-worker-1 '{"spec":{"unschedulable":true}}' application/merge-patch+json >/dev/null
check "spec.unschedulable=false selects the schedulable nodes (the field left out: false)" \
	"k8s-master k8s-worker-2" \
	"$(api GET '/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse' | js '" ".join(n["metadata"]["name"] for n in j["items"])')"
check "spec.unschedulable=true the cordoned one" "k8s-worker-1" \
	"$(api GET '/api/v1/nodes?fieldSelector=spec.unschedulable%3Dtrue' | js '" ".join(n["metadata"]["name"] for n in j["items"])')"
api PATCH /api/v1/nodes/k8s-worker-1 '{"spec":{"unschedulable":null}}' application/merge-patch+json >/dev/null
for sel in 'fieldSelector=spec.nodeName' 'fieldSelector=spec.nodeName%3Dx%2C' 'fieldSelector=spec.colour%3Dblue' \
	'labelSelector=app%20in%20(nginx' 'labelSelector=a%3Db%3Dc' 'labelSelector=-bad' 'labelSelector=app%3D%3D%3Dx'; do
	check "a malformed selector is a 400 BadRequest: $sel" "400 BadRequest" \
		"$(api GET "/api/v1/pods?$sel" | js 'str(j["code"]) + " " + j["reason"]')"
done

# ---- limit and continue ------------------------------------------------------------------
all=$(api GET /api/v1/pods | js '" ".join(p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in j["items"])')
paged='' cont='' n=0 pages=0
while :; do
	out=$(api GET "/api/v1/pods?limit=4${cont:+&continue=$cont}")
	n=$(echo "$out" | js 'len(j["items"])')
	[ "$n" -le 4 ] || break
	paged="$paged $(echo "$out" | js '" ".join(p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in j["items"])')"
	pages=$((pages + 1))
	cont=$(echo "$out" | js 'j["metadata"].get("continue", "")')
	[ -n "$cont" ] || break
done
check "limit=4: pages of at most 4 that add up to the whole list, in order" \
	"$all $(( ($(echo "$all" | wc -w) + 3) / 4 ))" "$(echo $paged) $pages"
check "a bad continue token is a 400" 400 "$(api GET '/api/v1/pods?limit=2&continue=garbage' | code)"

# ---- chunked request bodies ------------------------------------------------------------------
check "a chunked request body (Transfer-Encoding: chunked) is read" "201 chunky" \
	"$(printf '%s' '{"apiVersion":"coordination.k8s.io/v1beta1","kind":"Lease","metadata":{"name":"chunky"},"spec":{"holderIdentity":"x"}}' |
		curl -sS --cacert "$K/ca" --cert "$K/crt" --key "$K/key" -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
			--data-binary @- -w '\n%{http_code}\n' "$server/apis/coordination.k8s.io/v1beta1/namespaces/kube-system/leases" |
		{ out=$(cat); echo "$(echo "$out" | code) $(echo "$out" | js 'j["metadata"]["name"]')"; })"

# ---- watch ---------------------------------------------------------------------------------------
rv=$(api GET /api/v1/namespaces/default/pods | js 'j["metadata"]["resourceVersion"]')
curl -sS -N --cacert "$K/ca" --cert "$K/crt" --key "$K/key" \
	"$server/api/v1/namespaces/default/pods?watch=true&resourceVersion=$rv&timeoutSeconds=4" >"$E2E_TMP/watch" &
wpid=$!
sleep 0.5
victim=$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | js 'j["items"][0]["metadata"]["name"]')
api DELETE "/api/v1/namespaces/default/pods/$victim" >/dev/null
wait $wpid
check "watch: one JSON event a line, MODIFIED (Terminating) then DELETED for the deleted pod" \
	"MODIFIED:True DELETED:True" \
	"$(/usr/bin/python3 -c 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(" ".join("%s:%s" % (e["type"], bool(e["object"]["metadata"].get("deletionTimestamp"))) for e in ev if e["object"]["metadata"]["name"] == sys.argv[2]))' "$E2E_TMP/watch" "$victim")"
check "watch: ADDED for its replacement, resourceVersions increasing" "yes yes" \
	"$(/usr/bin/python3 -c 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in ev]
print("yes" if any(e["type"] == "ADDED" for e in ev) else "no", "yes" if rvs == sorted(rvs) and rvs else "no")' "$E2E_TMP/watch")"

# ---- graceful deletion and finalizers -------------------------------------------------------------
mkpod() { # NAME GRACE FINALIZERS-JSON
	api POST /api/v1/namespaces/default/pods "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"finalizers\":$3},\"spec\":{\"nodeName\":\"k8s-worker-2\",\"terminationGracePeriodSeconds\":$2,\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}" >/dev/null
}
phase() { api GET "/api/v1/namespaces/default/pods/$1" | { out=$(cat); c=$(echo "$out" | code); [ "$c" = 200 ] && echo "$out" | js '"Terminating" if j["metadata"].get("deletionTimestamp") else j["status"]["phase"]' || echo "$c"; }; }
# a grace period long enough that a loaded machine still reads the pod
# while it terminates; "not before" is a lower bound, which load cannot break
mkpod slow 10 '[]'
sleep 1.2
t0=$(date +%s)
api DELETE /api/v1/namespaces/default/pods/slow >/dev/null
check "grace 10 s: Terminating after the delete" Terminating "$(phase slow)"
while [ "$(phase slow)" != 404 ] && [ $(($(date +%s) - t0)) -lt 90 ]; do sleep 0.2; done
took=$(($(date +%s) - t0))
check "grace 10 s: gone after its grace period, not before" yes "$([ $took -ge 9 ] && [ $took -lt 90 ] && echo yes || echo "no: ${took}s")"
mkpod held 0 '["example.com/hold"]'
api DELETE '/api/v1/namespaces/default/pods/held?gracePeriodSeconds=0' >/dev/null
check "a finalizer holds a deleted pod (grace 0): Terminating after 1.5 s" Terminating "$(sleep 1.5; phase held)"
api PATCH /api/v1/namespaces/default/pods/held '{"metadata":{"finalizers":null}}' application/merge-patch+json >/dev/null
check "its finalizer removed: gone" 404 "$(phase held)"

# ---- mirror pods -------------------------------------------------------------------------------------
mirror() { api GET /api/v1/namespaces/kube-system/pods | js '" ".join(sorted("%s:%s/%s" % (p["metadata"]["name"], p["metadata"]["ownerReferences"][0]["kind"], p["metadata"]["ownerReferences"][0]["name"]) for p in j["items"] if "kubernetes.io/config.mirror" in p["metadata"].get("annotations", {})))'; }
check "the control plane's static pods are mirror pods owned by their Node" \
	"kube-apiserver-k8s-master:Node/k8s-master kube-controller-manager-k8s-master:Node/k8s-master kube-scheduler-k8s-master:Node/k8s-master" \
	"$(mirror)"
uid=$(api GET /api/v1/namespaces/kube-system/pods/kube-scheduler-k8s-master | js 'j["metadata"]["uid"]')
api DELETE '/api/v1/namespaces/kube-system/pods/kube-scheduler-k8s-master?gracePeriodSeconds=0' >/dev/null
settle
check "a deleted mirror pod comes back (the kubelet recreates it), with a new UID" "200 yes" \
	"$(api GET /api/v1/namespaces/kube-system/pods/kube-scheduler-k8s-master | { out=$(cat); echo "$(echo "$out" | code) $(echo "$out" | js '"yes" if j["metadata"]["uid"] != "'"$uid"'" else "no"')"; })"

# ---- events ---------------------------------------------------------------------------------------------
victim=$(api GET '/api/v1/namespaces/default/pods?labelSelector=app%3Dnginx' | js 'j["items"][0]["metadata"]["name"]')
check "evict an nginx pod" 201 "$(ev default "$victim" policy/v1beta1 | code)"
check "the eviction left a Killing event for the pod (its container stopped, by the kubelet)" \
	"Killing|Stopping container nginx|kubelet" \
	"$(api GET "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3D$victim" | js '" ".join("|".join([e["reason"], e["message"], e["source"]["component"]]) for e in j["items"])')"
