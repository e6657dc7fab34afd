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

/* The facts kp_facts_parse makes whatever the node (an interface's
 * ansible_eth0 is known only once gathered), and ansible_facts: NULL-ended.
 * Their first use gathers (engine/facts.c); the offline preview knows
 * them as values that exist only once the hosts are reached. */
extern const char *const kp_fact_names[];
bool kp_fact_name(const char *name, size_t len);

#endif
