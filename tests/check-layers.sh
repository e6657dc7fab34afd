#!/bin/sh
# check-layers.sh - the folder-level dependency rule of runner/README.md.
#
# The layers, in order: core expr transport kube modules model output
# engine cli. A file may include headers of its own layer and of the layers
# before it, never of a layer after it; includes are path-qualified
# ("core/buf.h", "modules/module.h"). The rule is read from the #include
# lines, which is enough: a layer that never includes a later one cannot be
# part of a circle, and the circles between folders are reported too, in
# case the order itself is ever edited into one.
#
# usage: tests/check-layers.sh [ROOT]   (ROOT holds runner/ and modules/)
# Prints each violation as FILE:LINE: message and exits 1 if there is one.
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
LAYERS="core expr transport kube modules model output engine cli"

find runner modules -name '*.[ch]' | LC_ALL=C sort | while read -r f; do
	awk -v file="$f" '/^[ \t]*#[ \t]*include[ \t]*"/ {
		s = $0
		sub(/^[^"]*"/, "", s)
		sub(/".*$/, "", s)
		print file "\t" FNR "\t" s
	}' "$f"
done | awk -F '\t' -v layers="$LAYERS" '
function layer_of(path,    p) {
	if (path ~ /^modules\//)
		return "modules"
	p = path
	sub(/^runner\//, "", p)
	sub(/\/.*$/, "", p)
	return p
}
BEGIN {
	n = split(layers, order, " ")
	for (i = 1; i <= n; i++)
		rank[order[i]] = i
	bad = 0
}
{
	file = $1; line = $2; inc = $3
	from = layer_of(file)
	if (!(from in rank)) {
		printf "%s:%s: folder \x27%s\x27 is not a layer (%s)\n", file, line, from, layers
		bad = 1
		next
	}
	if (inc !~ /\//) {
		printf "%s:%s: include \x27%s\x27 is not path-qualified\n", file, line, inc
		bad = 1
		next
	}
	to = inc
	sub(/\/.*$/, "", to)
	if (!(to in rank)) {
		printf "%s:%s: include \x27%s\x27 names no layer (%s)\n", file, line, inc, layers
		bad = 1
		next
	}
	if (rank[to] > rank[from]) {
		printf "%s:%s: %s/ must not include %s/ (\x27%s\x27): %s comes later in the order\n",
		    file, line, from, to, inc, to
		bad = 1
	}
	if (to != from)
		edge[from, to] = file ":" line
}
END {
	# circles between folders: the transitive closure of the folder graph
	for (k = 1; k <= n; k++)
		for (i = 1; i <= n; i++)
			for (j = 1; j <= n; j++)
				if (((order[i], order[k]) in edge || (order[i], order[k]) in reach) &&
				    ((order[k], order[j]) in edge || (order[k], order[j]) in reach))
					reach[order[i], order[j]] = 1
	circle = ""
	for (i = 1; i <= n; i++)
		if ((order[i], order[i]) in reach)
			circle = circle (circle == "" ? "" : ", ") order[i] "/"
	if (circle != "") {
		printf "the folders %s include each other in a circle\n", circle
		bad = 1
	}
	exit bad
}'
