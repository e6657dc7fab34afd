#!/bin/sh
# The offline preview of the upgrade playbook: the control-plane play is one
# batch of one host, the workers come one per batch, every argument is
# templated per host, and registered results show as <known after probe>.
. "$(dirname "$0")/lib.sh"
pb=playbooks/upgrade-1.13.yml

expect_output "plan: upgrade on the YAML inventory" 0 plan-upgrade-hosts.yml.txt \
	"$KPLAN" plan $pb -i inventory-examples/hosts.yml
expect_output "plan: upgrade on the INI inventory (legacy kube-master)" 0 plan-upgrade-hosts.ini.txt \
	"$KPLAN" plan $pb -i inventory-examples/hosts.ini
expect_output "plan: upgrade on the kubespray directory, -e and --limit" 0 plan-upgrade-mycluster-limit.txt \
	"$KPLAN" plan $pb -i inventory-examples/mycluster -e kube_version=1.13.2 -l 'k8s-master,k8s-worker-2'
expect_output "plan: serial list, loops, skipped whens, run_once" 0 plan-batches.txt \
	"$KPLAN" plan tests/e2e/data/batches.yml -i tests/e2e/data/seven.ini
expect_output "list-hosts" 0 list-hosts-upgrade.txt \
	"$KPLAN" plan $pb -i inventory-examples/hosts.yml --list-hosts
expect_output "list-tasks with --tags" 0 list-tasks-tags.txt \
	"$KPLAN" plan tests/e2e/data/batches.yml -i tests/e2e/data/seven.ini --list-tasks -t report
expect_output "validate the upgrade playbook with its inventory" 0 validate-upgrade.txt \
	"$KPLAN" validate $pb -i inventory-examples/mycluster
expect_stderr "plan: undefined variable names variable, position and task" 2 \
	"error: tests/e2e/data/undefined.yml:6:18: undefined variable 'kube_versoin' (task 'Install kubeadm')" \
	"$KPLAN" plan tests/e2e/data/undefined.yml -i inventory-examples/hosts.yml
expect_stderr "plan: unknown group in --limit" 2 \
	"error: unknown host or group 'kube_nodes' in --limit (did you mean 'kube_node'?)" \
	"$KPLAN" plan $pb -i inventory-examples/hosts.yml -l kube_nodes
