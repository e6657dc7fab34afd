/*
 * absent.c - the modules ansible-core ships that kplan does not provide.
 *
 * A plan naming one (dnf on the RPM branch of a role written for several
 * distributions) still loads, with a warning naming the module: the task
 * may never be reached (`when` false on every host). A host that does reach
 * it fails with "kplan does not provide the module 'dnf'". A name that is
 * neither kplan's nor ansible-core's stays a load error.
 */
#include "modules/module.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	(void)err;
	return kp_mod_failf(res, "kplan does not provide the module '%s'", ctx->module->name);
}

#define ABSENT(n)                                                                                  \
	{                                                                                          \
		.name = n, .summary = "ansible-core's " n ": not provided by kplan",               \
		.flags = KP_MOD_ANY_ARGS | KP_MOD_LOCAL | KP_MOD_ABSENT,                           \
		.free_form = "_raw_params", .probe = probe,                                        \
	}

/* ansible-core's modules (ansible/modules/) less those kplan has, the
 * include and import keywords (kplan's import_tasks says what it takes
 * instead) and the internal ones */
static const struct kp_module absent[] = {

    ABSENT("apt_key"),

    ABSENT("assemble"),
    ABSENT("async_status"),
    ABSENT("blockinfile"),
    ABSENT("cron"),

    ABSENT("debconf"),
    ABSENT("dnf"),
    ABSENT("dnf5"),
    ABSENT("expect"),
    ABSENT("find"),
    ABSENT("gather_facts"),
    ABSENT("getent"),
    ABSENT("git"),
    ABSENT("group"),

    ABSENT("hostname"),

    ABSENT("iptables"),
    ABSENT("known_hosts"),

    ABSENT("mount_facts"),
    ABSENT("package"),
    ABSENT("package_facts"),
    ABSENT("ping"),
    ABSENT("pip"),
    ABSENT("raw"),
    ABSENT("replace"),
    ABSENT("rpm_key"),
    ABSENT("script"),
    ABSENT("service_facts"),
    ABSENT("set_stats"),
    ABSENT("setup"),
    ABSENT("slurp"),
    ABSENT("subversion"),
    ABSENT("sysvinit"),
    ABSENT("tempfile"),
    ABSENT("user"),
    ABSENT("validate_argument_spec"),
    ABSENT("wait_for_connection"),
    ABSENT("yum"),
    ABSENT("yum_repository"),
};

/* A module of a collection kplan provides nothing of (ansible.posix.sysctl,
 * community.general.*): the same, one entry per name, kept for the run. */
static const struct kp_module *foreign(const char *name)
{
	/* a list that only grows: entries stay where they are, since loaded
	 * tasks point at them */
	struct seen {
		struct kp_module m;
		struct seen *next;
	};
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct seen *seen;
	const struct kp_module *m = NULL;
	pthread_mutex_lock(&lock);
	for (const struct seen *s = seen; s && !m; s = s->next)
		if (!strcmp(s->m.name, name))
			m = &s->m;
	if (!m) {
		struct seen *n = kp_xcalloc(1, sizeof(*n));
		n->m = (struct kp_module)ABSENT("");
		n->m.name = kp_xstrdup(name);
		n->m.summary = "a module of a collection kplan does not provide";
		n->next = seen;
		seen = n;
		m = &n->m;
	}
	pthread_mutex_unlock(&lock);
	return m;
}

const struct kp_module *kp_module_absent(const char *name)
{
	static const char *const prefixes[] = {"ansible.builtin.", "ansible.legacy."};
	if (!name || kp_module_find(name))
		return NULL;
	for (size_t i = 0; i < KP_ARRAY_LEN(prefixes); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i]))) {
			name += strlen(prefixes[i]);
			break;
		}
	for (size_t i = 0; i < KP_ARRAY_LEN(absent); i++)
		if (!strcmp(absent[i].name, name))
			return &absent[i];
	/* a short name ansible-core routes to a collection (`ini_file`):
	 * that collection's module, which kplan does not provide */
	const char *to = kp_module_redirect(name);
	if (to)
		return foreign(to);
	return kp_module_foreign(name) ? foreign(name) : NULL;
}
