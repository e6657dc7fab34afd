#!/bin/sh
# Data-driven cases (tests/data/cases/*.case): each file is one kplan
# invocation with its input files and the exact outcome expected.
#
#   # what the case is about
#   args: validate plan.yml -i inv.yml      (arguments after 'kplan')
#   exit: 2                                 (expected exit code)
#   stderr: error: plan.yml:3:3: ...        (exact stderr, one line; a syntax
#                                            error's excerpt and caret: more
#                                            stderr: lines), or
#   stderr-match: ^error: huge\.yml:        (an extended regex stderr must match)
#   gen: NAME KIND SIZE                     (generated input: random, deep, biglist)
#   --- plan.yml                            (a file, up to the next '--- ' line)
#   ...
#   --- @stdout                             (optional: exact expected stdout)
#
# Every case runs in a fresh temporary directory with a time limit.
# usage: tests/run-data.sh KPLAN [CASE...]
set -u
kplan=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
root=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
	set -- "$root"/tests/data/cases/*.case
fi
passed=0
failed=0
tmp=$(mktemp -d /tmp/kplan-data.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

gen() { # NAME KIND SIZE
	case "$2" in
	random) head -c "$3" /dev/urandom >"$1" ;;
	deep) awk -v n="$3" 'BEGIN { s = ""; for (i = 0; i < n; i++) printf "["; for (i = 0; i < n; i++) printf "]"; print "" }' >"$1" ;;
	biglist) awk -v n="$3" 'BEGIN { print "- name: big"; print "  hosts: all"; print "  vars:"; print "    filler:"; for (i = 0; 40 * i < n; i++) printf "      - \"%036d\"\n", i }' >"$1" ;;
	*) echo "unknown gen kind '$2'" >&2; return 1 ;;
	esac
}

for case in "$@"; do
	name=$(basename "$case" .case)
	dir="$tmp/$name"
	mkdir -p "$dir"
	# split the case into its header and files
	awk -v dir="$dir" '
		/^--- / { file = dir "/" substr($0, 5); printf "" > file; next }
		file == "" { print > (dir "/.header"); next }
		{ print >> file }
	' "$case"
	args=$(sed -n 's/^args: //p' "$dir/.header")
	want_exit=$(sed -n 's/^exit: //p' "$dir/.header")
	want_err=$(sed -n 's/^stderr: //p' "$dir/.header")
	want_match=$(sed -n 's/^stderr-match: //p' "$dir/.header")
	sed -n 's/^gen: //p' "$dir/.header" | while read -r gname gkind gsize; do
		(cd "$dir" && gen "$gname" "$gkind" "$gsize")
	done
	(cd "$dir" && eval "timeout 30 \"$kplan\" $args" >"$dir/.out" 2>"$dir/.err")
	got_exit=$?
	why=""
	[ "$got_exit" = "$want_exit" ] || why="exit $got_exit, expected $want_exit"
	if [ -z "$why" ] && [ -n "$want_err" ] && [ "$(cat "$dir/.err")" != "$want_err" ]; then
		why="stderr differs"
	fi
	if [ -z "$why" ] && [ -n "$want_match" ] && ! grep -Eq -- "$want_match" "$dir/.err"; then
		why="stderr does not match /$want_match/"
	fi
	# one line, but for the excerpt under a syntax error (indented lines)
	if [ -z "$why" ] && [ "$(grep -cv '^    ' "$dir/.err")" -gt 1 ] && [ "$want_exit" != 0 ]; then
		why="more than one line on stderr"
	fi
	if [ -z "$why" ] && [ -f "$dir/@stdout" ] && ! cmp -s "$dir/@stdout" "$dir/.out"; then
		why="stdout differs"
	fi
	if [ -z "$why" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $name: $why"
		[ -n "$want_err" ] && echo "  expected stderr: $want_err"
		echo "  got stderr:      $(head -c 2000 "$dir/.err")"
		if [ -f "$dir/@stdout" ]; then diff "$dir/@stdout" "$dir/.out" | head -20; fi
	fi
	rm -rf "$dir"
done
echo "data cases: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
