#!/bin/sh
# suite: lab (a cluster scenario: run by make test, left out of make asan for time)
# Previews for change reviews (issue 8): `kplan plan` and `kplan check` as
# markdown and as one JSON document (tests/schema/preview.schema.json),
# byte for byte against reviewed files and across two runs, rendered by a
# real Markdown renderer, --detailed-exitcode, and, on the scenario-1 lab,
# the proof that `kplan check` changes nothing on the nodes or in the API.
. "$(dirname "$0")/lib.sh"
pb=playbooks/upgrade-1.13.yml
inv=inventory-examples/hosts.yml
schema=tests/schema/preview.schema.json
# validate FILE: "valid" or the first error
validate() {
	/usr/bin/python3 -c 'import json, sys, jsonschema
try:
    jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
    print("valid")
except Exception as e:
    print(str(e).splitlines()[0])' "$schema" "$1"
}

# ---- plan: offline -------------------------------------------------------------
expect_output "plan --format markdown: the upgrade preview" 0 preview-plan-upgrade.md \
	"$KPLAN" plan $pb -i $inv --format markdown
expect_output "plan --format json: the upgrade preview" 0 preview-plan-upgrade.json \
	"$KPLAN" plan $pb -i $inv --format json
run_kplan "$E2E_TMP/p1.md" plan $pb -i $inv --format markdown
run_kplan "$E2E_TMP/p2.md" plan $pb -i $inv --format markdown
check "plan --format markdown: two runs, identical bytes" same \
	"$(cmp -s "$E2E_TMP/p1.md" "$E2E_TMP/p2.md" && echo same)"
run_kplan "$E2E_TMP/p1.json" plan $pb -i $inv --format json
run_kplan "$E2E_TMP/p2.json" plan $pb -i $inv --format json
check "plan --format json: two runs, identical bytes" same \
	"$(cmp -s "$E2E_TMP/p1.json" "$E2E_TMP/p2.json" && echo same)"
check "plan --format json: validates against preview.schema.json" valid "$(validate "$E2E_TMP/p1.json")"
run_kplan "$E2E_TMP/b.json" plan tests/e2e/data/batches.yml -i tests/e2e/data/seven.ini --format json
check "plan --format json: loops, skipped whens and run_once validate too" valid \
	"$(validate "$E2E_TMP/b.json")"
check "plan: <known after probe> where a registered result decides (7 tasks x 3 hosts, 3 backup tasks on the master)" 24 \
	"$(grep -c '"detail": "when: .*(<known after probe>)"' "$E2E_TMP/p1.json")"

# no network and no lab: every host at 127.0.0.1 port 1 (nothing listens), and
# kplan in a network namespace of its own (no interface but a down loopback)
# when unshare can make one
cat >"$E2E_TMP/port1.yml" <<'INV'
all:
  vars: {ansible_host: 127.0.0.1, ansible_port: 1}
  hosts: {k8s-master: , k8s-worker-1: , k8s-worker-2: }
  children:
    kube_control_plane: {hosts: {k8s-master: }}
    kube_node: {hosts: {k8s-worker-1: , k8s-worker-2: }}
INV
nonet=""
if unshare -n true 2>/dev/null; then nonet="unshare -n"; elif unshare -rn true 2>/dev/null; then nonet="unshare -rn"; fi
[ -n "$nonet" ] || echo "# SKIP plan in a namespace without network: unshare cannot make one here"
for pbn in upgrade-1.13 os-patch; do
	for fmt in text markdown json; do
		$nonet "$KPLAN" plan playbooks/$pbn.yml -i "$E2E_TMP/port1.yml" --format $fmt >"$E2E_TMP/nonet" 2>&1
		check "plan $pbn.yml --format $fmt: no network, hosts at port 1: exit 0, <known after probe> shown" \
			"0 yes" "$? $(grep -q '<known after probe>' "$E2E_TMP/nonet" && echo yes)"
	done
done

# secrets: -e values ending in _password and !secret never show
printf 'db_password: hunter2\ntoken: !secret s3cr3t-token\n' >"$E2E_TMP/secrets.yml"
run_kplan "$E2E_TMP/s.md" plan $pb -i $inv --format markdown -e "@$E2E_TMP/secrets.yml" -e admin_password=pa55
run_kplan "$E2E_TMP/s.json" plan $pb -i $inv --format json -e "@$E2E_TMP/secrets.yml" -e admin_password=pa55
check "plan: secrets in extra vars are hidden in markdown and JSON" "0 0 3" \
	"$(cat "$E2E_TMP/s.md" "$E2E_TMP/s.json" | grep -c 'hunter2\|s3cr3t\|pa55') $(grep -c 'hunter2\|s3cr3t\|pa55' "$E2E_TMP/s.json") $(grep -o '"[a-z_]*": "<hidden>"' "$E2E_TMP/s.json" | wc -l)"

# --detailed-exitcode: 10 when a task that changes something would run
run_kplan "$E2E_TMP/x" plan $pb -i $inv --detailed-exitcode
check "plan --detailed-exitcode: the upgrade has pending changes" 10 "$rc"
run_kplan "$E2E_TMP/x" plan $pb -i $inv --detailed-exitcode --format json
check "plan --detailed-exitcode --format json: 10 too" 10 "$rc"
run_kplan "$E2E_TMP/x" plan tests/e2e/data/preview-readonly.yml -i $inv --detailed-exitcode
check "plan --detailed-exitcode: a read-only plan exits 0" 0 "$rc"
run_kplan "$E2E_TMP/x" plan $pb -i $inv
check "plan without --detailed-exitcode exits 0" 0 "$rc"
expect_stderr "run --format markdown is refused" 2 \
	"error: 'kplan run --format markdown': markdown is a preview format, for check and plan; use text or json" \
	"$KPLAN" run $pb -i $inv --format markdown

# a real renderer: GFM tables, lists and <details> survive
if command -v cmark-gfm >/dev/null 2>&1; then
	cmark-gfm --unsafe -e table <"$E2E_TMP/p1.md" >"$E2E_TMP/p1.html"
	check "plan markdown renders: 5 tables (scope, summary, 3 hosts) and no stray pipes" "5 0" \
		"$(grep -c '<table>' "$E2E_TMP/p1.html") $(grep -c '^<p>|' "$E2E_TMP/p1.html")"
	check "plan markdown renders: <known after probe> stays visible" 1 \
		"$(grep -c '<code>when: .*(&lt;known after probe&gt;)</code>' "$E2E_TMP/p1.html" | sed 's/^[1-9][0-9]*$/1/')"
else
	echo "# SKIP markdown rendering: cmark-gfm not installed"
fi

# ---- check --diff on local hosts: diffs in ```diff fences, no_log hidden ---------
local_inventory "$E2E_TMP/local.ini" 1
printf 'old line\nsame\n' >"$E2E_TMP/nodes/h1/conf"
cat >"$E2E_TMP/files.yml" <<'PLAN'
- name: files
  hosts: nodes
  tasks:
    - name: Write the config
      copy: {dest: "{{ node_dir }}/conf", content: "new line\nsame\n"}
    - name: Write the secret
      copy: {dest: "{{ node_dir }}/secret", content: "token=abc123\n"}
      no_log: true
PLAN
run_kplan "$E2E_TMP/f.md" check "$E2E_TMP/files.yml" -i "$E2E_TMP/local.ini" --diff --format markdown
check "check --diff --format markdown: the diff in a diff fence" "0 1 1 1" \
	"$rc $(grep -c '^```diff$' "$E2E_TMP/f.md") $(grep -c '^-old line$' "$E2E_TMP/f.md") $(grep -c '^+new line$' "$E2E_TMP/f.md")"
run_kplan "$E2E_TMP/f.json" check "$E2E_TMP/files.yml" -i "$E2E_TMP/local.ini" --diff --format json --detailed-exitcode
check "check --diff --format json: the diff as data, exit 10, valid" "10 1 valid" \
	"$rc $(grep -c '"diff": "--- before: .*-old line\\n+new line' "$E2E_TMP/f.json") $(validate "$E2E_TMP/f.json")"
check "check --diff: no_log content never shows" "0 old line" \
	"$(cat "$E2E_TMP/f.md" "$E2E_TMP/f.json" | grep -c abc123) $(head -1 "$E2E_TMP/nodes/h1/conf")"

# ---- check: on the scenario-1 lab -----------------------------------------------
# an address block of fixed length (127.1XX.1YY): the preview cuts long
# outcomes at a fixed width, so the addresses' length must not vary from
# one lab to the next; the block is this run's own (from the pid, moved on
# while another lab holds it), so that copies of this test run side by side
free_net() { # 127.1XX.1YY whose first three node addresses nobody listens on
	/usr/bin/python3 - "$$" <<'PY'
import socket, sys
n = int(sys.argv[1])
for k in range(50):
    m = n + k * 7919
    net = "127.%d.%d" % (100 + m % 100, 100 + (m // 100) % 100)
    busy = False
    for i in (1, 2, 3):
        s = socket.socket()
        s.settimeout(0.5)
        busy = busy or s.connect_ex((net + ".%d" % i, 22)) == 0
        s.close()
    if not busy:
        print(net)
        break
PY
}
scenario_lab 1 "check previews on the lab" --net "$(free_net)"
linv=$inv
# a controller-side backup store of the test's own, absent at first: the
# check predicts what a first backup writes, whatever the tree holds
store="backup_dir=$L/backups"
# the lab's pods have random suffixes; everything else must match
normalize() {
	# the lab's addresses come from its directory's path: 127.X.Y.node
	sed -E "s#$L#LAB#g; s/-[a-z0-9]{10}-[a-z0-9]{5}\b/-RS-POD/g; s/(kube-flannel-ds-amd64|kube-proxy)-[a-z0-9]{5}\b/\1-POD/g; s/127\.[0-9]+\.[0-9]+\.([0-9]+)/127.LAB.\1/g"
}
. "$(dirname "$0")/labstate.sh"

snapshot "$E2E_TMP/before"
check "lab: the snapshot holds the nodes' dpkg status and kubelet files" 1 \
	"$(grep -c '/var/lib/dpkg/status$' "$E2E_TMP/before.nodes" | sed 's/^[1-9][0-9]*$/1/')"

run_kplan "$E2E_TMP/c1.md" check $pb -i "$linv" $kube -e "$store" --format markdown
check "check --format markdown: exit code" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/    stderr: /' "$E2E_TMP/c1.md.err" | head -20
run_kplan "$E2E_TMP/c2.md" check $pb -i "$linv" $kube -e "$store" --format markdown
check "check --format markdown: two runs, identical bytes" same \
	"$(cmp -s "$E2E_TMP/c1.md" "$E2E_TMP/c2.md" && echo same)"
normalize <"$E2E_TMP/c1.md" >"$E2E_TMP/c1n.md"
expect_output "check --format markdown: the scenario-1 preview" 0 preview-check-scenario1.md \
	cat "$E2E_TMP/c1n.md"
run_kplan "$E2E_TMP/c1.json" check $pb -i "$linv" $kube -e "$store" --format json --detailed-exitcode
check "check --format json --detailed-exitcode: changes pending" 10 "$rc"
check "check --format json: validates against preview.schema.json" valid "$(validate "$E2E_TMP/c1.json")"
run_kplan "$E2E_TMP/c2.json" check $pb -i "$linv" $kube -e "$store" --format json --detailed-exitcode
check "check --format json: two runs, identical bytes" same \
	"$(cmp -s "$E2E_TMP/c1.json" "$E2E_TMP/c2.json" && echo same)"
normalize <"$E2E_TMP/c1.json" >"$E2E_TMP/c1n.json"
expect_output "check --format json: the scenario-1 preview" 0 preview-check-scenario1.json \
	cat "$E2E_TMP/c1n.json"
check "check: every node would change apt-pin, kubeadm, drain, kubelet" "kubeadm 1.13.0-00 (held) -> 1.13.3-00 (held)" \
	"$(/usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
s = set(t["outcome"] for p in d["plays"] for b in p["batches"] for h in b["hosts"] for t in h["tasks"] if t["module"] == "apt-pin" and t["task"].startswith("Install kubeadm"))
print("|".join(sorted(s)))' "$E2E_TMP/c1.json")"

# a blocking problem: no kubeadm 1.13.9 in the repository
run_kplan "$E2E_TMP/b1.md" check $pb -i "$linv" $kube -e "$store" --format markdown -e kube_version=1.13.9 -e admin_password=pa55
check "check, blocked: exit 4 (max_fail_percentage stops the run)" 4 "$rc"
run_kplan "$E2E_TMP/b2.md" check $pb -i "$linv" $kube -e "$store" --format markdown -e kube_version=1.13.9 -e admin_password=pa55
check "check, blocked: two runs, identical bytes" same \
	"$(cmp -s "$E2E_TMP/b1.md" "$E2E_TMP/b2.md" && echo same)"
check "check, blocked: the problem is listed first, under the scope" \
	"- **k8s-master** (play 1, batch 1/1), Install kubeadm 1.13.9 \`apt-pin\`: failed: kubeadm: no version matching '1.13.9' in the repository" \
	"$(sed -n '/^## Blocking problems/,/^## /p' "$E2E_TMP/b1.md" | grep -m1 '^- ' | sed 's/ (it offers.*//')"
check "check, blocked: the password given with -e is hidden" 0 "$(grep -c pa55 "$E2E_TMP/b1.md")"
normalize <"$E2E_TMP/b1.md" >"$E2E_TMP/b1n.md"
expect_output "check, blocked: the preview" 0 preview-check-scenario1-blocked.md cat "$E2E_TMP/b1n.md"
if command -v cmark-gfm >/dev/null 2>&1; then
	cmark-gfm --unsafe -e table <"$E2E_TMP/c1.md" >"$E2E_TMP/c1.html"
	check "check markdown renders: tables, and a <details> per drain and kubeadm outcome and for the backups" "5 8 0" \
		"$(grep -c '<table>' "$E2E_TMP/c1.html") $(grep -c '<details>' "$E2E_TMP/c1.html") $(grep -c '^<p>|' "$E2E_TMP/c1.html")"
fi

# the proof: nothing on the nodes and nothing in the API changed
snapshot "$E2E_TMP/after"
check "check changed nothing on any node (files, hashes, mtimes, holds)" same \
	"$(cmp -s "$E2E_TMP/before.nodes" "$E2E_TMP/after.nodes" && echo same)"
check "check changed nothing in the API server's state" same \
	"$(cmp -s "$E2E_TMP/before.api" "$E2E_TMP/after.api" && echo same)"
if ! cmp -s "$E2E_TMP/before.nodes" "$E2E_TMP/after.nodes"; then
	diff "$E2E_TMP/before.nodes" "$E2E_TMP/after.nodes" | head -20 | sed 's/^/    /'
fi
