#!/bin/sh
# SSH speed benchmark: the same work - a plan of 10 `command: /bin/true`
# tasks - on N bench nodes, run side by side in one invocation by
#   kplan (one libssh session per node, a channel per command),
#   ansible-playbook with pipelining and ControlPersist (same forks),
#   ansible-playbook with the Mitogen strategy (Debian's ansible-mitogen),
#   a raw loop of multiplexed OpenSSH commands (ssh -o ControlMaster=auto),
#   the same loop with one channel per node running sh, which reads the 10
#   commands from stdin (what a persistent shell per host costs at best),
#   and, as the floors under all of them, the node-side work alone without
#   SSH, 8 hosts' worth in parallel on this machine: per command a fork,
#   root's login shell with -c and /bin/true, as sshd runs every command
#   (the login-shell floor); and per command a fork and an exec of
#   /bin/true alone (the exec floor: what any remote runner must pay).
# Prints wall time, CPU time and peak RSS of each and the ratios against
# kplan: the best of 5 runs for all but Ansible's (one run each).
#
# `--scale [N]` instead runs kplan alone, on 8 nodes and then on N (200
# unless given; up to 1000), in the same run, and reports for both the time
# per host-task (the 8 nodes' the best of 5 runs), the peak RSS, how many
# hosts were reached, the most files kplan held open and its limit, and
# the load average.
#
# A bench node is a real sshd listening on port 22 of its own loopback
# address (127.201.x.y), all of them in one private mount and PID namespace
# where /root is an empty home holding only the bench key (root's own
# ~/.ssh and ~/.bashrc stay out of it) and /run is a fresh tmpfs: lighter
# than tests/lab's nodes (no overlay, no namespace per node), so 1000 fit
# on a small machine. Every command still runs through root's login shell,
# as on any OpenSSH server.
#
# Run by hand, as root: bench/ssh-speed.sh [--nodes N] [--scale [N]]
# Not a test: it prints figures, it passes or fails nothing. The machine is
# shared and noisy: compare the ratios from one run, not absolute times.
set -eu
nodes=8
scale=0
while [ $# -gt 0 ]; do
	case $1 in
	--nodes) nodes=$2; shift 2 ;;
	--scale)
		scale=1 nodes=200
		shift
		case ${1:-x} in *[!0-9]*) ;; *) nodes=$1 && shift ;; esac
		;;
	*) echo "usage: $0 [--nodes N] [--scale [N]]" >&2; exit 2 ;;
	esac
done
if [ "$nodes" -lt 1 ] || [ "$nodes" -gt 1000 ]; then
	echo "1 to 1000 nodes" >&2
	exit 2
fi
[ "$(id -u)" = 0 ] || { echo "needs root (namespaces and port 22)" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
root=$(cd "$(dirname "$0")/.." && pwd)
kplan=${KPLAN:-$root/kplan}
sshd=$(command -v sshd || echo /usr/sbin/sshd)
out=$(mktemp -d /tmp/kplan-bench.XXXXXX)
nodesdir=$out/nodes
nspid=
# ssh ControlPersist masters (the raw loop, Ansible) are ours: their
# control sockets live under $out/cp. The nodes go with their namespace.
cleanup() {
	for pid in $(pgrep -f "$out/cp" || true); do kill "$pid" 2>/dev/null || true; done
	[ -z "$nspid" ] || { kill -KILL "$nspid" 2>/dev/null; wait "$nspid" 2>/dev/null; } || true
	rm -rf "$out"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# ---- bench nodes -------------------------------------------------------------

# addr I: node I's address, 250 to a /24 from 127.201.1.1
addr() {
	echo "127.201.$((1 + ($1 - 1) / 250)).$((($1 - 1) % 250 + 1))"
}

# listening: how many of the bench addresses (127.201.*) listen on port 22
listening() {
	awk 'FNR > 1 && $4 == "0A" && substr($2, 5) == "C97F:0016" { n++ }
		END { print n + 0 }' /proc/net/tcp
}

# nodes_up N: N sshds, inventory, known_hosts and an ssh_config in $nodesdir
nodes_up() {
	n=$1
	[ "$(listening)" = 0 ] || { echo "something already listens on 127.201.*:22" >&2; exit 1; }
	mkdir -p "$nodesdir/home/.ssh"
	chmod 0700 "$nodesdir/home" "$nodesdir/home/.ssh"
	ssh-keygen -q -t ed25519 -N '' -C kplan-bench -f "$nodesdir/id_ed25519"
	ssh-keygen -q -t ed25519 -N '' -C kplan-bench-host -f "$nodesdir/host_key"
	cp "$nodesdir/id_ed25519.pub" "$nodesdir/home/.ssh/authorized_keys"
	cat >"$nodesdir/sshd_config" <<CONF
HostKey $nodesdir/host_key
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
MaxSessions 64
MaxStartups 200
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel ERROR
CONF
	read -r kt kb _ <"$nodesdir/host_key.pub"
	{
		echo "all:"
		echo "  children:"
		echo "    nodes:"
		echo "      vars:"
		echo "        ansible_user: root"
		echo "        ansible_ssh_private_key_file: $nodesdir/id_ed25519"
		echo "      hosts:"
	} >"$nodesdir/inventory.yml"
	: >"$nodesdir/known_hosts"
	: >"$nodesdir/addrs"
	i=1
	while [ $i -le "$n" ]; do
		a=$(addr $i)
		echo "$a" >>"$nodesdir/addrs"
		echo "$a $kt $kb" >>"$nodesdir/known_hosts"
		printf '        node%d:\n          ansible_host: %s\n' $i "$a" >>"$nodesdir/inventory.yml"
		i=$((i + 1))
	done
	cat >"$nodesdir/ssh_config" <<CONF
Host *
    User root
    Port 22
    IdentityFile $nodesdir/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $nodesdir/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    LogLevel ERROR
CONF
	# PID 1 of the namespace starts every sshd and waits; SIGKILL to unshare
	# (which ignores TERM while it waits) ends PID 1 (--kill-child), and
	# with it every process of the namespace
	# shellcheck disable=SC2016 # expanded by the inner sh
	unshare --mount --pid --fork --kill-child --propagation private -- sh -c '
		mount --bind "$1/home" /root
		mount -t tmpfs -o mode=0755 tmpfs /run
		mkdir -m 0755 /run/sshd
		while read -r a; do
			"$2" -D -e -f "$1/sshd_config" -o "ListenAddress=$a:22" &
		done <"$1/addrs"
		wait' nodes "$nodesdir" "$sshd" >"$nodesdir/sshd.log" 2>&1 </dev/null &
	nspid=$!
	tries=0
	while [ "$(listening)" -lt "$n" ]; do
		kill -0 "$nspid" 2>/dev/null || { echo "bench nodes failed:" >&2; tail -5 "$nodesdir/sshd.log" >&2; exit 1; }
		tries=$((tries + 1))
		[ $tries -lt $((600 + n)) ] || { echo "bench nodes: only $(listening) of $n listen" >&2; exit 1; }
		sleep 0.1
	done
}

# inventory_first K FILE: the inventory of the first K nodes
inventory_first() {
	awk -v k="$1" '/^        node[0-9]+:$/ { n = substr($1, 5) + 0 }
		n <= k' "$nodesdir/inventory.yml" >"$2"
}

# ---- the plan and the measurements ---------------------------------------------

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

# measure NAME CMD...: wall, user+sys CPU and peak RSS of CMD and its
# children; while it runs, the most open files and threads of its process
measure() {
	name=$1
	shift
	/usr/bin/time -f "%e %U %S %M" -o "$out/time.$name" "$@" >"$out/log.$name" 2>&1 &
	tpid=$!
	fds=0 threads=0 nofile=
	while kill -0 $tpid 2>/dev/null; do
		p=$(pgrep -P $tpid | head -1) || p=
		if [ -n "$p" ]; then
			f=$(find /proc/"$p"/fd -mindepth 1 2>/dev/null | wc -l)
			t=$(awk '/^Threads:/ { print $2 }' /proc/"$p"/status 2>/dev/null) || t=0
			[ "$f" -le "$fds" ] || fds=$f
			[ "${t:-0}" -le "$threads" ] || threads=$t
			v=$(awk '/^Max open files/ { print $4 }' /proc/"$p"/limits 2>/dev/null) || v=
			[ -z "$v" ] || nofile=$v
		fi
		sleep 0.05
	done
	wait $tpid || {
		echo "$name failed:"
		{ grep -m 3 -iE 'unreachable:|error|fatal' "$out/log.$name" || tail -5 "$out/log.$name"; } | cut -c1-300
	} >&2
	read -r wall user sys rss <<T
$(tail -1 "$out/time.$name")
T
	cpu=$(echo "$user + $sys" | bc)
	printf '%-22s wall %7.2f s   cpu %7.2f s   peak rss %7d KiB\n' "$name" "$wall" "$cpu" "$rss"
	echo "$name $wall" >>"$out/walls"
}

# best NAME CMD...: measure, the run with the least wall time of 5
best() {
	name=$1
	shift
	b=
	for _ in 1 2 3 4 5; do
		measure "$name" "$@" >/dev/null
		t=$(tail -1 "$out/time.$name")
		if [ -z "$b" ] || [ "$(echo "${t%% *} < ${b%% *}" | bc)" = 1 ]; then b=$t; fi
		sed -i '$d' "$out/walls"
	done
	read -r wall user sys rss <<T
$b
T
	printf '%-22s wall %7.2f s   cpu %7.2f s   peak rss %7d KiB   (best of 5)\n' "$name" "$wall" \
		"$(echo "$user + $sys" | bc)" "$rss"
	echo "$name $wall" >>"$out/walls"
}

# kplan_run HOW NAME INVENTORY HOSTS (HOW: measure or best)
kplan_run() {
	how=$1
	shift
	forks=$3
	[ "$forks" -le 50 ] || forks=50
	$how "$1" "$kplan" run "$out/kplan-plan.yml" -i "$2" -f "$forks" \
		--known-hosts "$nodesdir/known_hosts" --no-color
}

# reached NAME: hosts whose recap shows all 10 tasks done, none unreachable
reached() {
	awk '$2 == ":" && / unreachable=0 / && / failed=0 / { split($0, a, "changed="); split(a[2], b, " "); if (b[1] == 10) n++ }
		END { print n + 0 }' "$out/log.$1"
}

if [ "$scale" = 1 ]; then
	echo "open files: $(awk '/^Max open files/ { print "soft limit " $4 ", hard " $5 }' /proc/self/limits);" \
		"load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "bringing up $nodes bench nodes..."
	s=$(date +%s)
	nodes_up "$nodes"
	echo "$nodes nodes listening after $(($(date +%s) - s)) s"
	small=8
	[ "$nodes" -ge 8 ] || small=$nodes
	inventory_first "$small" "$out/inv-small.yml"
	# the 8 nodes take a second: the best of 5, against noise
	for run in best:small:$small:"$out/inv-small.yml" measure:all:$nodes:"$nodesdir/inventory.yml"; do
		how=${run%%:*} run=${run#*:}
		name=${run%%:*} rest=${run#*:}
		k=${rest%%:*} inv=${rest#*:}
		kplan_run "$how" "kplan-$k" "$inv" "$k"
		read -r _ wall <<W
$(tail -1 "$out/walls")
W
		pht=$(echo "scale=3; $wall * 1000 / ($k * 10)" | bc)
		echo "$name $pht" >>"$out/pht"
		echo "    $k nodes x 10 tasks, forks $forks: $(reached "kplan-$k") of $k hosts reached (all 10 done)," \
			"time per host-task $pht ms; at most $fds files open (limit $nofile), $threads threads"
	done
	read -r _ p8 <"$out/pht"
	read -r _ pn <<W
$(tail -1 "$out/pht")
W
	echo "time per host-task, $nodes nodes against $small: $(echo "scale=2; $pn / $p8" | bc)x;" \
		"load average $(cut -d' ' -f1-3 /proc/loadavg)"
	exit 0
fi

echo "bringing up $nodes bench nodes..."
nodes_up "$nodes"
inv=$nodesdir/inventory.yml
forks=$nodes
[ "$forks" -gt 50 ] && forks=50
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
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$nodesdir/known_hosts
CFG
sed 's/^strategy.*//' "$out/ansible.cfg" >"$out/mitogen.cfg"
sed -i "s|^\[defaults\]|[defaults]\nstrategy_plugins = /usr/lib/python3/dist-packages/ansible_mitogen/plugins/strategy\nstrategy = mitogen_linear|" "$out/mitogen.cfg"

# the raw loop: every node in parallel, 10 commands each over one master
cat >"$out/raw.sh" <<RAW
for h in \$(awk '/ansible_host:/ {print \$2}' "$inv"); do
	(
		i=1
		while [ \$i -le 10 ]; do
			ssh -F "$nodesdir/ssh_config" -o ControlMaster=auto -o ControlPersist=60 \\
				-o "ControlPath=$out/cp/raw-%C" "\$h" /bin/true || exit 1
			i=\$((i + 1))
		done
	) &
done
wait
RAW

# what a persistent shell per host would cost at best: one channel per
# node running sh, which reads the 10 commands from stdin and runs each
# (a fork and an exec, no login shell, no channel per command)
cat >"$out/oneshell.sh" <<ONE
for h in \$(awk '/ansible_host:/ {print \$2}' "$inv"); do
	awk 'BEGIN { for (i = 0; i < 10; i++) print "/bin/true || exit 1" }' |
		ssh -F "$nodesdir/ssh_config" -o ControlMaster=auto -o ControlPersist=60 \\
			-o "ControlPath=$out/cp/raw-%C" "\$h" /bin/sh &
done
wait
ONE

# the floors: what the nodes must do for one command per process per task,
# whatever tool sends it (the nodes share this machine's cores). sshd runs
# a command as root's login shell -c COMMAND; with the shell the floor of
# any tool that sends commands to sshd, without it the floor of one that
# keeps a process on the node and only forks and execs there.
shell=$(awk -F: '$1 == "root" {print $7}' /etc/passwd)
floor() { # FILE COMMAND
	cat >"$1" <<FLOOR
n=0
while [ \$n -lt $nodes ]; do
	(
		i=1
		while [ \$i -le 10 ]; do
			$2 || exit 1
			i=\$((i + 1))
		done
	) &
	n=\$((n + 1))
done
wait
FLOOR
}
floor "$out/floor-shell.sh" "HOME=$nodesdir/home $shell -c 'echo marker >&2; exec /bin/true' 2>/dev/null"
floor "$out/floor-exec.sh" "/bin/true"

best kplan "$kplan" run "$out/kplan-plan.yml" -i "$inv" -f "$forks" \
	--known-hosts "$nodesdir/known_hosts" --no-color
ANSIBLE_CONFIG=$out/ansible.cfg measure ansible-pipelining ansible-playbook -i "$inv" "$out/plan.yml"
if [ -d /usr/lib/python3/dist-packages/ansible_mitogen ]; then
	ANSIBLE_CONFIG=$out/mitogen.cfg measure ansible-mitogen ansible-playbook -i "$inv" "$out/plan.yml"
else
	echo "ansible-mitogen        skipped: Debian's ansible-mitogen is not installed"
fi
# after the first, the raw loop's masters are up: the best of 5 leaves
# out their start, as kplan's connections are part of its time
best ssh-multiplexed sh "$out/raw.sh"
best ssh-one-shell sh "$out/oneshell.sh"
# the floors take a fraction of a second: the best of 5, against noise
best floor-login-shell sh "$out/floor-shell.sh"
best floor-exec sh "$out/floor-exec.sh"
# the masters of the raw loop and Ansible go away with the nodes' sshds
echo
read -r _ k <"$out/walls"
while read -r name wall; do
	[ "$name" = kplan ] && continue
	printf '%-22s %6.1fx the time kplan took\n' "$name" "$(echo "$wall / $k" | bc -l)"
done <"$out/walls"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
