# lib.sh - helpers for the numbered end-to-end scripts (sourced, POSIX sh).
# Each check prints "ok - NAME" or "not ok - NAME" with the difference;
# tests/run-e2e.sh counts them.
#
#   expect_output NAME EXIT EXPECTED_FILE CMD...   stdout must equal the file
#   expect_stderr NAME EXIT 'MESSAGE' CMD...       stderr must equal MESSAGE
#   expect_grep NAME EXIT REGEX CMD...             stdout must match REGEX

: "${KPLAN:?KPLAN must point at the kplan binary}"
E2E_TMP=$(mktemp -d /tmp/kplan-e2e.XXXXXX)
trap 'rm -rf "$E2E_TMP"' EXIT INT TERM
E2E_EXPECTED=$(cd "$(dirname "$0")" && pwd)/expected
[ -n "${KPLAN_UPDATE_EXPECTED:-}" ] && echo "updating expected files in $E2E_EXPECTED" >&2

_run() {
	"$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	echo $? >"$E2E_TMP/rc"
}

_result() { # NAME WHY
	if [ -z "$2" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1: $2"
		sed 's/^/    stderr: /' "$E2E_TMP/err" | head -5
	fi
}

expect_output() {
	name=$1 want_rc=$2 file=$3
	shift 3
	_run "$@"
	why=""
	[ "$(cat "$E2E_TMP/rc")" = "$want_rc" ] || why="exit $(cat "$E2E_TMP/rc"), expected $want_rc"
	if [ -n "${KPLAN_UPDATE_EXPECTED:-}" ] && [ -z "$why" ]; then
		cp "$E2E_TMP/out" "$E2E_EXPECTED/$file"
	fi
	if [ -z "$why" ] && ! cmp -s "$E2E_EXPECTED/$file" "$E2E_TMP/out"; then
		why="output differs from expected/$file"
		diff -u "$E2E_EXPECTED/$file" "$E2E_TMP/out" | head -30 | sed 's/^/    /'
	fi
	_result "$name" "$why"
}

expect_stderr() {
	name=$1 want_rc=$2 msg=$3
	shift 3
	_run "$@"
	why=""
	[ "$(cat "$E2E_TMP/rc")" = "$want_rc" ] || why="exit $(cat "$E2E_TMP/rc"), expected $want_rc"
	[ -z "$why" ] && [ "$(cat "$E2E_TMP/err")" != "$msg" ] && why="stderr differs (wanted: $msg)"
	_result "$name" "$why"
}

expect_grep() {
	name=$1 want_rc=$2 re=$3
	shift 3
	_run "$@"
	why=""
	[ "$(cat "$E2E_TMP/rc")" = "$want_rc" ] || why="exit $(cat "$E2E_TMP/rc"), expected $want_rc"
	[ -z "$why" ] && ! grep -Eq -- "$re" "$E2E_TMP/out" && why="stdout does not match /$re/"
	_result "$name" "$why"
}

# check NAME WANT GOT: ok when the two strings are equal
check() {
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		echo "    want: $2"
		echo "    got:  $3"
	fi
}

# run_kplan OUTFILE ARGS...: run kplan, stdout to OUTFILE, exit code in $rc
run_kplan() {
	out=$1
	shift
	"$KPLAN" "$@" >"$out" 2>"$out.err"
	rc=$?
}

# The engine's end-to-end cases run on either transport, chosen by
# KPLAN_E2E_TRANSPORT: `local` (default; each host is a working directory
# on this machine) or `ssh` (each host is a lab node reached over SSH, its
# working directory /root/e2e inside the node). The cases only use these
# functions to reach the hosts, so they mean the same on both.
E2E_TRANSPORT=${KPLAN_E2E_TRANSPORT:-local}

# setup_nodes INVENTORY N: hosts h1..hN, group `nodes`, variable node_dir
setup_nodes() {
	case $E2E_TRANSPORT in
	local)
		{
			echo "[nodes]"
			i=1
			while [ "$i" -le "$2" ]; do
				mkdir -p "$E2E_TMP/nodes/h$i"
				echo "h$i ansible_connection=local kplan_workdir=$E2E_TMP/nodes/h$i node_dir=$E2E_TMP/nodes/h$i"
				i=$((i + 1))
			done
		} >"$1"
		;;
	ssh)
		names=$(i=1; while [ "$i" -le "$2" ]; do printf 'h%d,' "$i"; i=$((i + 1)); done)
		E2E_LAB=$E2E_TMP/lab
		trap 'tests/lab/lab down --dir "$E2E_LAB" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
		tests/lab/lab up --names "${names%,}" --dir "$E2E_LAB" >/dev/null || {
			echo "not ok - lab up failed"
			exit 1
		}
		{
			echo "[nodes]"
			i=1
			while [ "$i" -le "$2" ]; do
				addr=$(awk -v n="h$i" '$1 == n {print $2}' "$E2E_LAB/nodes")
				echo "h$i ansible_host=$addr ansible_user=root ansible_ssh_private_key_file=$E2E_LAB/id_ed25519 kplan_known_hosts=$E2E_LAB/known_hosts kplan_workdir=/root/e2e node_dir=/root/e2e"
				node_sh "h$i" "mkdir -p /root/e2e"
				i=$((i + 1))
			done
		} >"$1"
		;;
	esac
}

# node_sh HOST CMD: run CMD on the host, in its working directory
node_sh() {
	case $E2E_TRANSPORT in
	local) (cd "$E2E_TMP/nodes/$1" && sh -c "$2") ;;
	ssh) ssh -F "$E2E_LAB/ssh_config" "$1" "mkdir -p /root/e2e && cd /root/e2e && $2" ;;
	esac
}

# node_cat HOST PATH: a file in the host's working directory
node_cat() { node_sh "$1" "cat '$2'"; }

# node_dir_of HOST: the host's working directory as its commands see it
node_dir_of() {
	case $E2E_TRANSPORT in
	local) echo "$E2E_TMP/nodes/$1" ;;
	ssh) echo /root/e2e ;;
	esac
}

# local_inventory FILE N: kept for the cases that are local-only
local_inventory() { E2E_TRANSPORT=local setup_nodes "$@"; }

# scenario_lab N WHAT [LAB-UP-OPTIONS...]: the cluster lab of Scenario N in
# $E2E_TMP/lab, torn down when the script ends. Without root and sshd the
# script is skipped ("# SKIP WHAT: ..."); a lab that does not come up is a
# "not ok" and ends it. Sets L (the lab directory), inv (its inventory),
# kube (--kubeconfig for its API server) and on HOST CMD (ssh to a node).
scenario_lab() {
	_n=$1 _what=$2
	shift 2
	if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/sshd ]; then
		echo "# SKIP $_what: needs root and /usr/sbin/sshd"
		exit 0
	fi
	L=$E2E_TMP/lab
	trap 'tests/lab/lab down --dir "$L" >/dev/null 2>&1; rm -rf "$E2E_TMP"' EXIT INT TERM
	tests/lab/lab up --scenario "$_n" "$@" --dir "$L" >"$E2E_TMP/lab.out" 2>&1 || {
		echo "not ok - lab up --scenario $_n"
		tail -5 "$E2E_TMP/lab.out" | sed 's/^/    /'
		exit 1
	}
	inv=$L/inventory.yml
	kube="--kubeconfig $L/kubeconfig"
}
on() { ssh -F "$L/ssh_config" "$@"; }
