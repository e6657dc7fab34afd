#!/bin/sh
# make install into a DESTDIR: the binary, the man page kplan(1) (groff
# renders it without a warning), bash completion that completes commands
# and module names, and the shipped plans under share/kplan/, byte for
# byte those of the repository.
. "$(dirname "$0")/lib.sh"
d=$E2E_TMP/dest
# `-o all`: install what is built, build nothing here
make -s -o all -o "$KPLAN" install DESTDIR="$d" PREFIX=/usr KPLAN="$KPLAN" >"$E2E_TMP/make.out" 2>&1
check "make install: exit 0" 0 "$?"
check "the binary, executable" "-rwxr-xr-x" "$(stat -c %A "$d/usr/bin/kplan" 2>&1)"
check "the installed binary runs" "kplan" "$("$d/usr/bin/kplan" --version | head -1 | cut -d' ' -f1)"
check "the man page" "-rw-r--r--" "$(stat -c %A "$d/usr/share/man/man1/kplan.1" 2>&1)"
if command -v groff >/dev/null 2>&1; then
	groff -man -Tutf8 -ww -z "$d/usr/share/man/man1/kplan.1" >"$E2E_TMP/groff.err" 2>&1
	check "groff renders kplan(1) without a warning" "" "$(cat "$E2E_TMP/groff.err")"
	check "kplan(1) names the command" yes \
		"$(groff -man -Tutf8 "$d/usr/share/man/man1/kplan.1" 2>/dev/null | grep -q 'kplan  *- declarative plans' && echo yes)"
fi
comp=$d/usr/share/bash-completion/completions/kplan
check "bash completion installed" "-rw-r--r--" "$(stat -c %A "$comp" 2>&1)"
complete_words() { # WORDS...: what _kplan offers for the last word
	PATH="$d/usr/bin:$PATH" bash --norc --noprofile -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _kplan
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd" "' sh "$comp" "$@"
}
check "completion: commands" "run runs" "$(complete_words kplan ru)"
check "completion: options" "--vault-id --vault-password-file" "$(complete_words kplan run --vault)"
check "completion: module names from kplan modules" \
	"$("$KPLAN" modules | awk '$1 ~ /^ap/ { print $1 }' | sort | paste -sd' ')" \
	"$(complete_words kplan modules ap)"
check "completion: --format values" "json" "$(complete_words kplan run --format j)"
missing=
for f in $(cd playbooks && find . -type f); do
	cmp -s "playbooks/$f" "$d/usr/share/kplan/playbooks/$f" || missing="$missing $f"
done
check "every shipped plan under share/kplan/playbooks, unchanged" "" "$missing"
check "the shipped plans validate from there" 0 \
	"$(cd "$d/usr/share/kplan/playbooks" && "$KPLAN" validate upgrade-1.13.yml >/dev/null 2>&1; echo $?)"
