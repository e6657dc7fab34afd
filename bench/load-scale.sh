#!/bin/sh
# Load-scale benchmark: how long kplan takes to load a 5,000-host inventory
# (YAML and INI) and a 30-task plan, and to print the whole offline preview
# (`kplan plan`), which templates every task's arguments for every host.
#
# Run by hand: bench/load-scale.sh [HOSTS] [KPLAN]
# Prints wall time (hyperfine when installed, else repeated `time`) and the
# size of the preview. Not a test: nothing here passes or fails.
set -eu
hosts=${1:-5000}
kplan=${2:-./kplan}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"

# inventory: 1% control plane, the rest workers, 50 racks as groups
awk -v n="$hosts" 'BEGIN {
	cp = int(n / 100); if (cp < 1) cp = 1
	print "all:"
	print "  vars:"
	print "    ansible_user: root"
	print "    kube_version: \"1.13.3\""
	print "  children:"
	print "    kube_control_plane:"
	print "      hosts:"
	for (i = 1; i <= cp; i++) printf "        cp-%05d: {ansible_host: 127.1.%d.%d}\n", i, int(i / 250), i % 250 + 1
	print "    kube_node:"
	print "      hosts:"
	for (i = 1; i <= n - cp; i++) printf "        node-%05d: {ansible_host: 127.2.%d.%d, rack: r%02d}\n", i, int(i / 250), i % 250 + 1, i % 50
	print "    k8s_cluster:"
	print "      children: {kube_control_plane: {}, kube_node: {}}"
	for (r = 0; r < 50; r++) {
		printf "    rack_r%02d:\n      hosts:\n", r
		for (i = 1; i <= n - cp; i++) if (i % 50 == r) printf "        node-%05d:\n", i
	}
}' >"$out/hosts-$hosts.yml"

awk -v n="$hosts" 'BEGIN {
	cp = int(n / 100); if (cp < 1) cp = 1
	print "[kube_control_plane]"
	for (i = 1; i <= cp; i++) printf "cp-%05d ansible_host=127.1.%d.%d\n", i, int(i / 250), i % 250 + 1
	print "\n[kube_node]"
	for (i = 1; i <= n - cp; i++) printf "node-%05d ansible_host=127.2.%d.%d rack=r%02d\n", i, int(i / 250), i % 250 + 1, i % 50
	print "\n[k8s_cluster:children]\nkube_control_plane\nkube_node"
	print "\n[all:vars]\nansible_user=root\nkube_version=\"1.13.3\""
}' >"$out/hosts-$hosts.ini"

# a 30-task plan: 3 plays of 10 tasks with templated arguments
awk -v q="'" 'BEGIN {
	split("kube_control_plane kube_node all", hosts, " ")
	for (p = 1; p <= 3; p++) {
		printf "- name: play %d\n  hosts: %s\n  serial: \"10%%\"\n  vars:\n    marker: p%d\n  tasks:\n", p, hosts[p], p
		for (t = 1; t <= 10; t++) {
			if (t % 3 == 0)
				printf "    - name: step %d\n      apt-pin:\n        name: kubeadm\n        version: \"{{ kube_version }}\"\n", t
			else if (t % 3 == 1)
				printf "    - name: step %d\n      command: echo {{ inventory_hostname }} {{ marker }}\n", t
			else
				printf "    - name: step %d\n      copy:\n        dest: /etc/kplan/{{ inventory_hostname }}.conf\n        content: \"host={{ ansible_host }} version={{ kube_version }}\"\n      when: kube_version is version(%s1.13.0%s, %s>=%s)\n", t, q, q, q, q
		}
	}
}' >"$out/plan-30.yml"

echo "inventory: $hosts hosts; plan: 30 tasks in 3 plays"
for inv in "$out/hosts-$hosts.yml" "$out/hosts-$hosts.ini"; do
	lines=$("$kplan" plan "$out/plan-30.yml" -i "$inv" | wc -l)
	echo "preview of $(basename "$inv"): $lines lines"
	if command -v hyperfine >/dev/null 2>&1; then
		hyperfine -N --warmup 1 --runs 5 \
			"$kplan plan $out/plan-30.yml -i $inv --no-color" \
			"$kplan validate $out/plan-30.yml -i $inv" \
			"$kplan inventory -i $inv --list" 2>&1 | grep -E 'Benchmark|Time'
	else
		for cmd in plan validate; do
			start=$(date +%s.%N)
			for i in 1 2 3 4 5; do "$kplan" $cmd "$out/plan-30.yml" -i "$inv" >/dev/null; done
			end=$(date +%s.%N)
			echo "$cmd $(basename "$inv"): $(echo "($end - $start) / 5" | bc -l | cut -c1-6) s per run"
		done
	fi
done
