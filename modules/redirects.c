/*
 * redirects.c - the short module names ansible-core 2.14 routes to a
 * collection (lib/ansible/config/ansible_builtin_runtime.yml,
 * plugin_routing.modules.*.redirect): `ini_file` is
 * community.general.ini_file, `sysctl` ansible.posix.sysctl. A playbook
 * written for Ansible uses them bare; kplan resolves them the same way.
 *
 * Generated from Debian's ansible-core 2.14 (the entries whose target is
 * not ansible-core's own test collection); tests/e2e/t0863 checks every
 * entry against the installed file.
 */
#include "modules/module.h"

#include <stdlib.h>
#include <string.h>

struct redirect {
	const char *from, *to;
};

/* sorted by from, for bsearch */
static const struct redirect redirects[] = {
#include "modules/redirects_table.h"
};

static int by_from(const void *key, const void *r)
{
	return strcmp(key, ((const struct redirect *)r)->from);
}

const char *kp_module_redirect(const char *name)
{
	const struct redirect *r =
	    bsearch(name, redirects, KP_ARRAY_LEN(redirects), sizeof(*redirects), by_from);
	return r ? r->to : NULL;
}
