#!/bin/sh
# SSH speed benchmark: the same work - a plan of 10 `command: /bin/true`
# tasks - on N lab nodes, run side by side in one invocation by
#   kplan (one libssh session per node, a channel per command),
#   ansible-playbook with pipelining and ControlPersist (same forks),
#   ansible-playbook with the Mitogen strategy (Debian's ansible-mitogen),
#   a raw loop of multiplexed OpenSSH commands (ssh -o ControlMaster=auto),
#   and, as the floor under all of them, the node-side work alone without
#   SSH: per command a fork, root's login shell with -c and /bin/true, as
#   sshd runs every command, 8 hosts' worth in parallel on this machine.
# Prints wall time, CPU time and peak RSS of each and the ratios against
# kplan. `--scale` instead runs kplan alone on 200 nodes (or N) and reports
# the time per host-task and peak RSS.
#
# Run by hand, as root (the lab needs it): bench/ssh-speed.sh [--nodes N] [--scale]
# Not a test: it prints figures, it passes or fails nothing. The machine is
# shared and noisy: compare the ratios from one run, not absolute times.
set -eu
nodes=8
scale=0
while [ $# -gt 0 ]; do
	case $1 in
	--nodes) nodes=$2; shift 2 ;;
	--scale) scale=1; shift ;;
	*) echo "usage: $0 [--nodes N] [--scale]" >&2; exit 2 ;;
	esac
done
[ "$scale" = 1 ] && [ "$nodes" = 8 ] && nodes=200
root=$(cd "$(dirname "$0")/.." && pwd)
kplan=$root/kplan
lab=$root/tests/lab/lab
out=$(mktemp -d /tmp/kplan-bench.XXXXXX)
labdir=$out/lab
# ssh ControlPersist masters (the raw loop, Ansible) are ours: their
# control sockets live under $out/cp
cleanup() {
	for pid in $(pgrep -f "$out/cp" || true); do kill "$pid" 2>/dev/null || true; done
	"$lab" down --dir "$labdir" >/dev/null 2>&1 || true
	rm -rf "$out"
}
trap cleanup EXIT INT TERM
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

echo "bringing up $nodes lab nodes..."
"$lab" up --nodes "$nodes" --dir "$labdir" >/dev/null
inv=$labdir/inventory.yml
forks=$nodes
[ "$forks" -gt 50 ] && forks=50

cat >"$out/plan.yml" <<'PLAN'
- name: ten trivial commands
  hosts: nodes
  gather_facts: false
  tasks:
PLAN
i=1
while [ $i -le 10 ]; do
	printf '    - name: true %d\n      command: /bin/true\n' $i >>"$out/plan.yml"
	i=$((i + 1))
done
# kplan has no gather_facts (it never gathers): drop the Ansible-only key
grep -v gather_facts "$out/plan.yml" >"$out/kplan-plan.yml"

# measure NAME CMD...: wall, user+sys CPU and peak RSS of CMD and its children
measure() {
	name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$out/time.$name" "$@" >"$out/log.$name" 2>&1 ||
		{ echo "$name failed:"; tail -5 "$out/log.$name"; }
	read -r wall user sys rss <"$out/time.$name"
	cpu=$(echo "$user + $sys" | bc)
	printf '%-22s wall %7.2f s   cpu %7.2f s   peak rss %7d KiB\n' "$name" "$wall" "$cpu" "$rss"
	echo "$name $wall" >>"$out/walls"
}

kplan_run() {
	measure kplan "$kplan" run "$out/kplan-plan.yml" -i "$inv" -f "$forks" \
		--known-hosts "$labdir/known_hosts" --no-color
}

if [ "$scale" = 1 ]; then
	kplan_run
	read -r _ wall <"$out/walls"
	echo "time per host-task: $(echo "scale=3; $wall * 1000 / ($nodes * 10)" | bc) ms" \
		"($nodes nodes x 10 tasks, forks $forks)"
	grep -c '^  changed' "$out/log.kplan" | sed 's/^/host-task results: /'
	exit 0
fi

mkdir -p "$out/cp"
cat >"$out/ansible.cfg" <<CFG
[defaults]
forks = $forks
gathering = explicit
host_key_checking = True
interpreter_python = /usr/bin/python3
[ssh_connection]
pipelining = True
control_path_dir = $out/cp
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$labdir/known_hosts
CFG
sed 's/^strategy.*//' "$out/ansible.cfg" >"$out/mitogen.cfg"
sed -i "s|^\[defaults\]|[defaults]\nstrategy_plugins = /usr/lib/python3/dist-packages/ansible_mitogen/plugins/strategy\nstrategy = mitogen_linear|" "$out/mitogen.cfg"

# the raw loop: every node in parallel, 10 commands each over one master
cat >"$out/raw.sh" <<RAW
for h in \$(awk '/ansible_host:/ {print \$2}' "$inv"); do
	(
		i=1
		while [ \$i -le 10 ]; do
			ssh -F "$labdir/ssh_config" -o ControlMaster=auto -o ControlPersist=60 \\
				-o "ControlPath=$out/cp/raw-%C" "\$h" /bin/true || exit 1
			i=\$((i + 1))
		done
	) &
done
wait
RAW

# the floor: what the nodes must do for one command per process per task,
# whatever tool sends it (the lab's nodes share this machine's cores)
shell=$(awk -F: '$1 == "root" {print $7}' /etc/passwd)
cat >"$out/floor.sh" <<FLOOR
n=0
while [ \$n -lt $nodes ]; do
	(
		i=1
		while [ \$i -le 10 ]; do
			$shell -c 'echo marker >&2; exec /bin/true' 2>/dev/null || exit 1
			i=\$((i + 1))
		done
	) &
	n=\$((n + 1))
done
wait
FLOOR

kplan_run
ANSIBLE_CONFIG=$out/ansible.cfg measure ansible-pipelining ansible-playbook -i "$inv" "$out/plan.yml"
ANSIBLE_CONFIG=$out/mitogen.cfg measure ansible-mitogen ansible-playbook -i "$inv" "$out/plan.yml"
measure ssh-multiplexed sh "$out/raw.sh"
measure node-side-floor sh "$out/floor.sh"
# the masters of the raw loop and Ansible go away with the lab's sshd
echo
read -r _ k <"$out/walls"
while read -r name wall; do
	[ "$name" = kplan ] && continue
	printf '%-22s %6.1fx the time kplan took\n' "$name" "$(echo "$wall / $k" | bc -l)"
done <"$out/walls"
