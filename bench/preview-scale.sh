#!/bin/sh
# Preview-scale benchmark: `kplan plan` of a 30-task play on a 5,000-host
# inventory in every format (text, markdown, json, and text --no-fold), with
# wall time and peak RSS from /usr/bin/time -v.
#
# The inventory: hosts n0001..nHOSTS, every 50th with role=db (so folding
# leaves a large group and a small one); the play runs on all hosts at once
# (one batch: the most the preview holds at a time) and templates each
# host's name and variables into its tasks.
#
# Run by hand: bench/preview-scale.sh [HOSTS] [KPLAN]
# Not a test: nothing here passes or fails.
set -eu
hosts=${1:-5000}
kplan=${2:-./kplan}
out=${BENCH_OUT:-bench/out}
mkdir -p "$out"
inv="$out/preview-hosts-$hosts.yml"
plan="$out/preview-plan-30.yml"

awk -v n="$hosts" 'BEGIN {
	print "all:"
	print "  vars:"
	print "    kube_version: \"1.29.3\""
	print "    role: web"
	print "  children:"
	print "    nodes:"
	print "      hosts:"
	for (i = 1; i <= n; i++) {
		printf "        n%04d: {ansible_host: 10.%d.%d.%d", i, int(i / 65536), int(i / 256) % 256, i % 256
		if (i % 50 == 0)
			printf ", role: db"
		print "}"
	}
}' >"$inv"

awk -v q="'" 'BEGIN {
	print "- name: scale"
	print "  hosts: all"
	print "  tasks:"
	for (t = 1; t <= 30; t++) {
		if (t % 5 == 0)
			printf "    - name: step %d\n      apt-pin: {name: kubeadm, version: \"{{ kube_version }}\"}\n", t
		else if (t % 5 == 1)
			printf "    - name: step %d on {{ inventory_hostname }}\n      command: echo {{ inventory_hostname }} {{ role }}\n", t
		else if (t % 5 == 2)
			printf "    - name: step %d\n      copy:\n        dest: /etc/kplan/{{ inventory_hostname }}.conf\n        content: \"host={{ inventory_hostname }} version={{ kube_version }}\"\n", t
		else if (t % 5 == 3)
			printf "    - name: step %d\n      debug: {msg: \"database {{ inventory_hostname }}\"}\n      when: role == %sdb%s\n", t, q, q
		else
			printf "    - name: step %d\n      lineinfile: {path: /etc/hosts, line: \"{{ inventory_hostname }} {{ item }}\"}\n      loop: [a, b]\n", t
	}
}' >"$plan"

echo "inventory: $hosts hosts ($(grep -c 'role: db' "$inv") with role=db); plan: 30 tasks, one batch"
for fmt in text markdown json text-no-fold; do
	case $fmt in
	text-no-fold) args="--format text --no-fold" ;;
	*) args="--format $fmt" ;;
	esac
	/usr/bin/time -v "$kplan" plan "$plan" -i "$inv" $args >"$out/preview.$fmt" 2>"$out/time.$fmt"
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out/time.$fmt")
	user=$(sed -n 's/.*User time (seconds): //p' "$out/time.$fmt")
	sys=$(sed -n 's/.*System time (seconds): //p' "$out/time.$fmt")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/time.$fmt")
	printf '%-13s wall %s  cpu %s s  peak RSS %s MB  output %s bytes\n' "$fmt" "$wall" \
		"$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc)" "$(wc -c <"$out/preview.$fmt")"
done
