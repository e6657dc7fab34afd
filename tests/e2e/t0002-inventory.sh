#!/bin/sh
# `kplan inventory` on the three example inventories: the full --list JSON
# (ansible-inventory's shape, precedence resolved), --graph and --host.
. "$(dirname "$0")/lib.sh"
d=tests/data/inventory

expect_output "inventory --list of hosts.yml" 0 ../../data/inventory/hosts.yml.list.json \
	"$KPLAN" inventory -i inventory-examples/hosts.yml --list
expect_output "inventory --list of hosts.ini" 0 ../../data/inventory/hosts.ini.list.json \
	"$KPLAN" inventory -i inventory-examples/hosts.ini --list
expect_output "inventory --list of the kubespray directory" 0 ../../data/inventory/mycluster.list.json \
	"$KPLAN" inventory -i inventory-examples/mycluster --list
expect_output "inventory --host shows merged variables" 0 ../../data/inventory/mycluster.k8s-master.json \
	"$KPLAN" inventory -i inventory-examples/mycluster/ --host k8s-master
expect_output "inventory --graph" 0 graph-hosts.ini.txt \
	"$KPLAN" inventory -i inventory-examples/hosts.ini --graph
expect_stderr "inventory --host of an unknown host" 2 \
	"error: unknown host 'k8s-mastr' (did you mean 'k8s-master'?)" \
	"$KPLAN" inventory -i inventory-examples/hosts.yml --host k8s-mastr
