/*
 * setup.h - a host's facts as Ansible's setup module gathers them, from
 * one shell command on the host (setup.c). The engine gathers with it for
 * `gather_facts` and on the first use of a fact; the `setup` module is the
 * same as a task.
 */
#ifndef KP_SETUP_H
#define KP_SETUP_H

#include "core/buf.h"
#include "core/value.h"

/* What to gather: Ansible's gather_subset ("all", "min", "hardware",
 * "network", each with "!" to leave it out); NULL or empty: "all". */
struct kp_facts_want {
	bool hardware, network;
};
void kp_facts_want_parse(const struct kp_value *subset, struct kp_facts_want *out);

/* The command (malloc'd, /bin/sh syntax) that prints what the facts are
 * made of. */
char *kp_facts_command(const struct kp_facts_want *w);

/* The command's stdout made into the facts, named as Ansible names them
 * (ansible_hostname, ansible_default_ipv4, ...): a new map. filter: NULL,
 * or a string or list of shell patterns (fnmatch) a fact's name must
 * match. */
struct kp_value *kp_facts_parse(const char *out, size_t len, const struct kp_facts_want *w,
				const struct kp_value *filter);

#endif
