#!/bin/sh
# A plan, an inventory, a vars file or an imported task file that is not a
# regular file (a FIFO nobody writes to, a directory) is refused at once,
# never waited on.
. "$(dirname "$0")/lib.sh"
T=$E2E_TMP
cd "$T" || exit 1
printf -- '- hosts: all\n  tasks:\n    - debug: {msg: hi}\n' >plan.yml
printf 'h1 ansible_connection=local\n' >inv.ini
mkfifo fifo.yml fifo.ini

expect_stderr "a FIFO plan is refused without blocking" 2 \
	"error: cannot read 'fifo.yml': not a regular file" \
	timeout 10 "$KPLAN" validate fifo.yml -i inv.ini
expect_stderr "a FIFO inventory is refused without blocking" 2 \
	"error: cannot read 'fifo.ini': not a regular file" \
	timeout 10 "$KPLAN" inventory -i fifo.ini --list
printf -- '- hosts: all\n  tasks:\n    - import_tasks: fifo.yml\n' >imports.yml
expect_stderr "a FIFO task file is refused without blocking" 2 \
	"error: imports.yml:3:21: cannot read 'fifo.yml': not a regular file" \
	timeout 10 "$KPLAN" validate imports.yml -i inv.ini
expect_stderr "a FIFO vars file is refused without blocking" 2 \
	"error: cannot read 'fifo.yml': not a regular file" \
	timeout 10 "$KPLAN" validate plan.yml -i inv.ini -e @fifo.yml
