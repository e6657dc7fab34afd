#!/bin/sh
# The folder-level dependency rule of runner/README.md holds for the tree,
# and tests/check-layers.sh really catches a break of it: a copy of the
# tree with one include pointing up the order, or an unqualified include,
# or a folder that is no layer, fails with the file, line and reason.
. "$(dirname "$0")/lib.sh"
root=$(cd "$(dirname "$0")/../.." && pwd)
check=$root/tests/check-layers.sh

expect_stderr "the tree keeps its layers" 0 "" "$check" "$root"

copy() { # a fresh copy of the tree's sources in $E2E_TMP/t
	rm -rf "$E2E_TMP/t" && mkdir -p "$E2E_TMP/t"
	cp -R "$root/runner" "$root/modules" "$E2E_TMP/t/"
}
# a line added after the first line of FILE (inside the copy)
inject() { sed -i "1a $2" "$E2E_TMP/t/$1"; }

copy
inject runner/core/buf.c '#include "engine/engine.h"'
expect_output "core/ including engine/ is refused" 1 check-layers-up.out "$check" "$E2E_TMP/t"

copy
inject runner/kube/kubeconfig.c '#include "kubeapi.h"'
expect_output "an include without its folder is refused" 1 check-layers-bare.out \
	"$check" "$E2E_TMP/t"

copy
mkdir "$E2E_TMP/t/runner/misc"
printf '#include "core/kp.h"\n' >"$E2E_TMP/t/runner/misc/x.c"
expect_output "a folder outside the order is refused" 1 check-layers-folder.out \
	"$check" "$E2E_TMP/t"

copy
inject modules/debug.c '#include "cli/cli.h"'
expect_grep "modules/ including cli/ is refused, and the circle it makes is named" 1 \
	"^the folders modules/, model/, output/, engine/, cli/ include each other in a circle$" \
	"$check" "$E2E_TMP/t"
