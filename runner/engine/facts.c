/*
 * facts.c - a host's facts (modules/setup.c gathers them with one command).
 *
 * `gather_facts: true` gathers at the play's start, as Ansible does;
 * `false` never (a fact is then undefined and ansible_facts is {}). A play
 * that does not say gathers on first use: the first template that names
 * a fact (ansible_hostname, ansible_facts, ...) gathers that host's facts
 * through the scope's lazy hook, once for the run, so a play that uses
 * none pays no round trip. Facts sit in hs->gathered, a layer of the
 * host's scope between its inventory variables and the play's vars, both
 * as ansible_NAME and as ansible_facts.NAME (Ansible's
 * INJECT_FACTS_AS_VARS); a module's `ansible_facts` (the setup task) lands
 * there too.
 */
#include "engine/engine_int.h"
#include "modules/setup.h"

#include <stdlib.h>
#include <string.h>

/* How long a gather waits for its host's connection from a task that
 * holds another host's (delegate_to) */
#define GATHER_LOCK_WAIT_MS 30000

void kp_facts_store(struct kp_engine *e, struct kp_hoststate *hs, const struct kp_value *facts)
{
	if (!facts || facts->type != KP_V_MAP)
		return;
	pthread_mutex_lock(&e->lock); /* hostvars[] of other hosts reads it */
	const struct kp_value *old = kp_map_get(hs->gathered, "ansible_facts");
	struct kp_value *af = old ? kp_value_copy(old) : kp_value_map();
	for (size_t i = 0; i < kp_map_len(facts); i++) {
		const char *k = kp_map_key(facts, i);
		const char *bare = strncmp(k, "ansible_", 8) ? k : k + 8;
		struct kp_value *v = kp_value_ref(kp_map_val(facts, i));
		kp_map_set(af, bare, v);
		char *var = kp_xmalloc(strlen(bare) + 9);
		memcpy(var, "ansible_", 8);
		strcpy(var + 8, bare);
		kp_map_set_take(hs->gathered, var, v);
		free(var);
	}
	af->unsafe = 1; /* facts are data, never templates */
	kp_map_set_take(hs->gathered, "ansible_facts", af);
	hs->gathered_done = true;
	hs->facts_gen++;
	pthread_mutex_unlock(&e->lock);
}

void kp_facts_clear(struct kp_engine *e, struct kp_hoststate *hs)
{
	pthread_mutex_lock(&e->lock);
	/* in place: the host's scope holds this map */
	while (kp_map_len(hs->gathered)) {
		char *k = kp_xstrdup(kp_map_key(hs->gathered, 0));
		kp_map_del(hs->gathered, k);
		free(k);
	}
	kp_map_set_take(hs->gathered, "ansible_facts", kp_value_map());
	hs->facts_gen++;
	pthread_mutex_unlock(&e->lock);
}

kp_rc kp_facts_gather(struct kp_engine *e, struct kp_hoststate *hs, struct kp_lua *L,
		      const struct kp_scope *s, struct kp_buf *err)
{
	const struct kp_play *p = e->play;
	struct kp_value *subset = kp_value_list();
	for (size_t i = 0; p && i < p->ngather_subset; i++)
		kp_list_push_take(subset, kp_value_str(p->gather_subset[i]));
	struct kp_facts_want w;
	kp_facts_want_parse(subset, &w);
	kp_value_unref(subset);
	struct kp_taskbecome tb = {0};
	kp_rc rc =
	    kp_become_resolve(L, s, p ? p->become : KP_UNSET, p ? p->become_user : NULL, &tb, err);
	if (rc)
		return rc;
	char *cmd = kp_facts_command(&w);
	struct kp_become b = {.user = tb.user, .password = tb.password};
	struct kp_exec_req req = {.cmd = cmd, .timeout_ms = e->o->timeout_ms};
	struct kp_exec_res res;
	kp_exec_res_init(&res);
	bool held = kp_host_leased_here(hs), locked = false;
	if (kp_host_leased_other(hs)) {
		/* a task delegated to another host holds that host's connection:
		 * waiting for this one's without end could wait for a task
		 * delegated the other way round */
		int64_t until = kp_now_ms() + GATHER_LOCK_WAIT_MS;
		while (!(locked = !pthread_mutex_trylock(&hs->conn_lock)) && kp_now_ms() < until)
			kp_sleep_ms(20);
		if (!locked) {
			rc = kp_errorf(err, KP_ERR_RUNTIME,
				       "the connection of '%s' stayed busy while a task "
				       "delegated elsewhere named its facts (name one in an "
				       "earlier task, or say gather_facts: true)",
				       hs->host->name);
			goto out;
		}
		held = true;
	}
	kp_log(KP_LOG_DEBUG, "%s: gathering facts (one command)", hs->host->name);
	rc = kp_host_exec(e, hs, held, &b, &req, &res, "to gather facts", err);
	if (locked)
		pthread_mutex_unlock(&hs->conn_lock);
	if (!rc && (res.timed_out || !res.out.len))
		rc = kp_errorf(err, KP_ERR_RUNTIME, "gathering facts on '%s' failed%s%s",
			       hs->host->name, res.err.len ? ": " : "",
			       res.err.len ? res.err.buf : "");
	if (!rc) {
		struct kp_value *facts = kp_facts_parse(res.out.buf, res.out.len, &w, NULL);
		kp_facts_store(e, hs, facts);
		kp_value_unref(facts);
		kp_log(KP_LOG_DEBUG, "%s: facts gathered in %lld ms", hs->host->name,
		       (long long)res.duration_ms);
	}
out:
	kp_exec_res_release(&res);
	free(cmd);
	kp_become_release(&tb);
	return rc;
}

/* The scope's lazy hook (kp_scope.lazy): a fact's first use gathers. */
static const struct kp_value *lazy_fact(void *ctx, const char *name, size_t len)
{
	struct kp_hoststate *hs = ctx;
	struct kp_engine *e = hs->engine;
	if (!kp_fact_name(name, len))
		return NULL;
	if (!hs->gathered_done && !hs->gather_failed && e->play &&
	    e->play->gather_facts == KP_UNSET) {
		struct kp_buf err = KP_BUF_INIT;
		if (kp_facts_gather(e, hs, NULL, &hs->hv.scope, &err)) {
			/* the task that named the fact fails on it as undefined;
			 * why is said once */
			hs->gather_failed = true;
			kp_log(KP_LOG_WARN, "%s: could not gather facts: %s", hs->host->name,
			       err.buf);
		}
		kp_buf_release(&err);
	}
	const struct kp_value *v = kp_map_getn(hs->gathered, name, len);
	if (!v && len == 13 && !memcmp(name, "ansible_facts", 13))
		return hs->no_facts; /* {} as Ansible has it before any gather */
	return v;
}

void kp_facts_hook(struct kp_hoststate *hs)
{
	hs->hv.scope.lazy = lazy_fact;
	hs->hv.scope.lazy_ctx = hs;
}

struct kp_value *kp_facts_of(void *ctx, const struct kp_host *h)
{
	struct kp_engine *e = ctx;
	struct kp_hoststate *hs = h == &e->local_host		 ? &e->local
				  : h->index < e->ld->inv.nhosts ? e->hosts[h->index]
								 : NULL;
	if (!hs)
		return NULL;
	pthread_mutex_lock(&e->lock);
	if (hs->hv_snap && hs->hv_gen == hs->facts_gen) {
		/* unchanged since the last copy: that copy again (callers only
		 * read it), so a play reading many hosts' hostvars copies each
		 * host once per change, not once per reference */
		struct kp_value *snap = kp_value_ref(hs->hv_snap);
		pthread_mutex_unlock(&e->lock);
		return snap;
	}
	struct kp_value *v = hs->gathered_done ? kp_value_copy(hs->gathered) : NULL;
	/* and above them what it registered and set (set_fact), as Ansible's
	 * hostvars[h] has them: copied, the host's own thread goes on */
	if (hs->facts && kp_map_len(hs->facts)) {
		struct kp_value *own = kp_value_copy(hs->facts);
		if (!v)
			v = kp_value_map();
		kp_map_update(v, own);
		kp_value_unref(own);
	}
	kp_value_unref(hs->hv_snap);
	hs->hv_snap = v ? kp_value_ref(v) : NULL;
	hs->hv_gen = hs->facts_gen;
	pthread_mutex_unlock(&e->lock);
	return v;
}
