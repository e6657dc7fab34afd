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

# local_inventory FILE N: N hosts h1..hN on the local connection, each with
# its own working directory under $E2E_TMP/nodes
local_inventory() {
	{
		echo "[nodes]"
		i=1
		while [ "$i" -le "$2" ]; do
			mkdir -p "$E2E_TMP/nodes/h$i"
			echo "h$i ansible_connection=local kplan_workdir=$E2E_TMP/nodes/h$i node_dir=$E2E_TMP/nodes/h$i"
			i=$((i + 1))
		done
	} >"$1"
}
