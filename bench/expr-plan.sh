#!/bin/sh
# Expression benchmark: `kplan plan` (the offline preview) of a 30-task
# plan on a 5,000-host inventory where every task has a `when:` and
# templated arguments, so every condition and template is evaluated for
# every host. Expressions are compiled once per file position, never per
# host: this shows what evaluation costs. The aim is well under a second.
#
# Run by hand: bench/expr-plan.sh [HOSTS] [KPLAN]
# Prints wall time (hyperfine when installed, else repeated `time`). Not a
# test: nothing here passes or fails.
set -eu
hosts=${1:-5000}
kplan=${2:-./kplan}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"

# inventory: 1% control plane, the rest workers in 50 racks (a host var)
awk -v n="$hosts" 'BEGIN {
	cp = int(n / 100); if (cp < 1) cp = 1
	print "[kube_control_plane]"
	for (i = 1; i <= cp; i++) printf "cp-%05d ansible_host=127.1.%d.%d\n", i, int(i / 250), i % 250 + 1
	print "\n[kube_node]"
	for (i = 1; i <= n - cp; i++) printf "node-%05d ansible_host=127.2.%d.%d rack=%d\n", i, int(i / 250), i % 250 + 1, i % 50
	print "\n[etcd:children]\nkube_control_plane"
	print "\n[k8s_cluster:children]\nkube_control_plane\nkube_node"
	print "\n[all:vars]\nansible_user=root\nkube_version=1.13.3\nrack=0"
}' >"$out/expr-hosts-$hosts.ini"

# 30 tasks, each with one of the kinds of condition Ansible users write
{
	echo "- name: expressions"
	echo "  hosts: all"
	echo "  serial: \"{{ batch | default('100%') }}\""
	echo "  vars:"
	echo "    conf_dir: /etc/kplan"
	echo "  tasks:"
	t=1
	while [ $t -le 30 ]; do
		case $((t % 6)) in
		1) cond="kube_version is version('1.13.0', '>=')" ;;
		2) cond="\"'kube_node' in group_names\"" ;;
		3) cond="inventory_hostname != groups['all'][0]" ;;
		4) cond="(rack | int) % 2 == 0 or inventory_hostname.startswith('cp-')" ;;
		5) cond="ansible_host is defined and ansible_host.split('.')[0] == '127'" ;;
		0) cond="skip_me | default(false) | bool == false" ;;
		esac
		echo "    - name: step $t on {{ inventory_hostname }}"
		echo "      copy:"
		echo "        dest: \"{{ conf_dir }}/{{ inventory_hostname | lower }}-$t.conf\""
		echo "        content: \"host={{ ansible_host }} rack={{ rack }} version={{ kube_version }}\""
		echo "      when: $cond"
		t=$((t + 1))
	done
} >"$out/expr-plan-30.yml"

echo "inventory: $hosts hosts; plan: 30 tasks, each with when: and templated arguments"
lines=$("$kplan" plan "$out/expr-plan-30.yml" -i "$out/expr-hosts-$hosts.ini" | wc -l)
echo "preview: $lines lines"
if command -v hyperfine >/dev/null 2>&1; then
	hyperfine -N --warmup 1 --runs 5 \
		"$kplan plan $out/expr-plan-30.yml -i $out/expr-hosts-$hosts.ini --no-color" 2>&1 |
		grep -E 'Benchmark|Time'
else
	start=$(date +%s.%N)
	for i in 1 2 3 4 5; do
		"$kplan" plan "$out/expr-plan-30.yml" -i "$out/expr-hosts-$hosts.ini" >/dev/null
	done
	end=$(date +%s.%N)
	echo "plan: $(echo "($end - $start) / 5" | bc -l | cut -c1-6) s per run"
fi
