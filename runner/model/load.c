/* load.c - everything a command works on, loaded and validated before
 * anything connects: the inventories (merged in order) and the plan, whose
 * templated `hosts:` are rendered here, so that plan, check, run and
 * --list-hosts all work on the same hosts; and literal delegate_to
 * names, checked against the inventory. */
#include <crypt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "model/load.h"
#include "model/vars.h"
#include "model/walk.h"

/* A literal delegate_to names its host now, as a play's `hosts` are
 * resolved now: a typo refuses the plan before anything connects rather
 * than failing the run halfway. A templated one is checked where it is
 * rendered (task.c). Names for the controller (localhost, 127.0.0.1, ::1)
 * are Ansible's implicit localhost when the inventory has no such host
 * (kp_delegate_host). A host that an add_host of the plan adds (any, when
 * one names its host with a template) is checked when the task runs. */
struct delegate_check {
	const struct kp_inventory *inv;
	struct kp_buf *err;
	struct kp_strlist added; /* the literal names of add_host */
	bool added_any;		 /* an add_host whose name is a template */
};

static kp_rc check_delegate(const struct kp_task *t, const struct delegate_check *c,
			    struct kp_buf *err)
{
	const struct kp_inventory *inv = c->inv;
	const char *name = kp_template_source(t->delegate_to), *implicit;
	if (!kp_template_is_literal(t->delegate_to) || kp_delegate_host(inv, name, &implicit) ||
	    implicit || c->added_any || kp_strlist_has(&c->added, name))
		return KP_OK;
	const char **names = kp_xmalloc((inv->nhosts + 1) * sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; i < inv->nhosts; i++)
		names[n++] = inv->hosts[i]->name;
	if (!kp_inventory_host(inv, "localhost"))
		names[n++] = "localhost"; /* the implicit one */
	const char *s = kp_suggest(name, names, n);
	struct kp_pos pos = kp_template_pos(t->delegate_to);
	struct kp_buf msg = KP_BUF_INIT;
	kp_buf_addf(&msg, "%s:%d:%d: delegate_to: no host '%s' in the inventory", pos.file,
		    pos.line, pos.col, name);
	if (s)
		kp_buf_addf(&msg, " (did you mean '%s'?)", s);
	kp_rc rc = kp_errorf(err, KP_ERR_INVALID, "%s", msg.buf);
	kp_buf_escape_newlines(err, 0);
	kp_buf_release(&msg);
	free(names);
	return rc;
}

static int check_delegate_task(struct kp_walk *w, const struct kp_task *t,
			       const struct kp_strlist *tags)
{
	struct delegate_check *c = w->ctx;
	return t->delegate_to ? check_delegate(t, c, c->err) : KP_OK;
}

static int added_host_task(struct kp_walk *w, const struct kp_task *t,
			   const struct kp_strlist *tags)
{
	struct delegate_check *c = w->ctx;
	if (!t->module || strcmp(t->module->name, "add-host"))
		return KP_OK;
	static const char *const keys[] = {"name", "hostname", "host"};
	for (size_t i = 0; i < KP_ARRAY_LEN(keys); i++) {
		const struct kp_tvalue *a = kp_tvalue_get(t->args, keys[i]);
		if (!a)
			continue;
		if (!a->lit || a->lit->type != KP_V_STR) {
			c->added_any = true;
			continue;
		}
		/* name:port */
		const char *s = a->lit->u.str.s, *colon = strrchr(s, ':');
		char *n = colon && !strchr(s, ']') && strchr(s, ':') == colon
			      ? kp_xstrndup(s, (size_t)(colon - s))
			      : kp_xstrdup(s);
		kp_strlist_push(&c->added, n);
		free(n);
	}
	return KP_OK;
}

static kp_rc check_plan_delegates(const struct kp_plan *plan, const struct kp_inventory *inv,
				  struct kp_buf *err)
{
	struct delegate_check c = {.inv = inv, .err = err};
	struct kp_walk w = {.task = added_host_task, .ctx = &c};
	kp_rc rc = kp_walk_plan(&w, plan, true);
	w.task = check_delegate_task;
	if (!rc)
		rc = kp_walk_plan(&w, plan, true);
	kp_strlist_release(&c.added);
	return rc;
}

/* ansible.cfg's and -u/--private-key/-K's settings (o->conn_defaults) under
 * every inventory variable: a host gets one only when it sets neither the
 * ansible_ nor the kplan_ spelling. The host's merged map is replaced, not
 * changed: other holders of it keep what they have. */
static void apply_conn_defaults(const struct kp_value *defs, struct kp_inventory *inv)
{
	for (size_t i = 0; i < inv->nhosts; i++) {
		struct kp_host *h = inv->hosts[i];
		struct kp_value *m = NULL;
		for (size_t k = 0; k < kp_map_len(defs); k++) {
			const char *key = kp_map_key(defs, k);
			char alt[128];
			snprintf(alt, sizeof(alt), "kplan_%s", key + strlen("ansible_"));
			if (kp_map_get(h->merged, key) || kp_map_get(h->merged, alt))
				continue;
			if (!m) {
				m = kp_value_map();
				kp_map_update(m, h->merged);
			}
			kp_map_set(m, key, kp_map_val(defs, k));
		}
		if (m) {
			kp_value_unref(h->merged);
			h->merged = m;
		}
	}
}

/* -u and ansible.cfg's remote_user, become, become_user: what a play
 * that does not say gets, as Ansible takes them. */
static void apply_play_defaults(const struct kp_loadopts *o, struct kp_plan *plan)
{
	for (size_t i = 0; i < plan->nplays; i++) {
		struct kp_play *p = plan->plays[i];
		if (!p->remote_user && o->default_remote_user)
			p->remote_user = kp_xstrdup(o->default_remote_user);
		if (p->become == KP_UNSET && o->default_become)
			p->become = o->default_become == 1 ? KP_YES : KP_NO;
		if (!p->become_user && o->default_become_user)
			p->become_user = kp_xstrdup(o->default_become_user);
	}
}

/* One line from the terminal, without echo when private. */
static char *read_answer(const char *msg, bool private)
{
	struct termios old, quiet;
	bool hidden = private && !tcgetattr(0, &old);
	fputs(msg, stderr);
	fflush(stderr);
	if (hidden) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, stdin);
	if (hidden) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = 0;
	return line;
}

/* vars_prompt's encrypt: the answer hashed as Ansible's CryptHash does
 * (crypt(3) with "$ID$SALT", the salt given or salt_size random
 * characters of [./0-9A-Za-z]); NULL when crypt refuses. */
static char *prompt_hash(const char *answer, const char *algo, const char *salt, int64_t salt_size)
{
	static const char chars[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./";
	const char *id = !strcmp(algo, "sha512_crypt")	 ? "6"
			 : !strcmp(algo, "sha256_crypt") ? "5"
			 : !strcmp(algo, "md5_crypt")	 ? "1"
							 : "2b";
	if (!salt_size)
		salt_size = id[0] == '1' ? 8 : id[0] == '2' ? 22 : 16;
	struct kp_buf setting = KP_BUF_INIT;
	kp_buf_addf(&setting, "$%s$", id);
	if (salt) {
		kp_buf_addstr(&setting, salt);
	} else {
		unsigned char r[256];
		if (RAND_bytes(r, (int)salt_size) != 1) {
			kp_buf_release(&setting);
			return NULL;
		}
		for (int64_t i = 0; i < salt_size; i++)
			kp_buf_addch(&setting, chars[r[i] % 64]);
	}
	struct crypt_data *cd = kp_xcalloc(1, sizeof(*cd));
	const char *h = crypt_r(answer, setting.buf, cd);
	/* (a failure token, "*0", is the value, as Ansible has it) */
	char *out = h ? kp_xstrdup(h) : NULL;
	kp_buf_release(&setting);
	free(cd);
	return out;
}

/* vars_prompt, answered before anything runs: a value given with -e
 * wins; on a terminal the question is asked (twice with confirm); with
 * no terminal the default is taken, and without one the plan cannot run. */
static kp_rc answer_prompts(const struct kp_loadopts *o, struct kp_plan *plan, struct kp_buf *err)
{
	for (size_t pi = 0; pi < plan->nplays; pi++) {
		struct kp_play *p = plan->plays[pi];
		for (size_t i = 0; p->vars_prompt && i < kp_list_len(p->vars_prompt); i++) {
			const struct kp_value *e = kp_list_at(p->vars_prompt, i), *x;
			const char *name = kp_map_get(e, "name")->u.str.s;
			const struct kp_value *pos = kp_map_get(e, "pos");
			const char *prompt = (x = kp_map_get(e, "prompt")) ? x->u.str.s : NULL;
			const char *def = (x = kp_map_get(e, "default")) ? x->u.str.s : NULL;
			bool private = !(x = kp_map_get(e, "private")) || x->u.b;
			bool confirm = (x = kp_map_get(e, "confirm")) && x->u.b;
			bool unsafe = (x = kp_map_get(e, "unsafe")) && x->u.b;
			if (o->extra && kp_map_get(o->extra, name))
				continue;
			char *answer = NULL;
			if (isatty(0)) {
				struct kp_buf msg = KP_BUF_INIT;
				if (prompt && def)
					kp_buf_addf(&msg, "%s [%s]: ", prompt, def);
				else if (prompt)
					kp_buf_addf(&msg, "%s: ", prompt);
				else
					kp_buf_addf(&msg, "input for %s: ", name);
				for (;;) {
					answer = read_answer(msg.buf, private);
					if (!confirm || !answer)
						break;
					struct kp_buf again = KP_BUF_INIT;
					kp_buf_addf(&again, "confirm %s", msg.buf);
					char *second = read_answer(again.buf, private);
					kp_buf_release(&again);
					bool same = second && !strcmp(second, answer);
					free(second);
					if (same)
						break;
					fputs("***** VALUES ENTERED DO NOT MATCH ****\n", stderr);
					free(answer);
				}
				kp_buf_release(&msg);
			}
			if ((!answer || !*answer) && def) {
				free(answer);
				answer = kp_xstrdup(def);
			}
			if (!answer)
				return kp_errorf(
				    err, KP_ERR_INVALID,
				    "%s:%lld:%lld: vars_prompt '%s' has no answer: there "
				    "is no terminal to ask on and no default (give it with "
				    "-e %s=...)",
				    kp_list_at(pos, 0)->u.str.s, (long long)kp_list_at(pos, 1)->u.i,
				    (long long)kp_list_at(pos, 2)->u.i, name, name);
			if ((x = kp_map_get(e, "encrypt"))) {
				const struct kp_value *salt = kp_map_get(e, "salt"),
						      *size = kp_map_get(e, "salt_size");
				char *h =
				    prompt_hash(answer, x->u.str.s, salt ? salt->u.str.s : NULL,
						size ? size->u.i : 0);
				free(answer);
				if (!h)
					return kp_errorf(err, KP_ERR_INVALID,
							 "vars_prompt '%s': crypt could not hash "
							 "with %s",
							 name, x->u.str.s);
				answer = h;
			}
			struct kp_value *v = kp_value_str(answer);
			free(answer);
			if (unsafe)
				v->unsafe = 1;
			if (!p->vars)
				p->vars = kp_value_map();
			kp_map_set_take(p->vars, name, v);
		}
	}
	return KP_OK;
}

kp_rc kp_load_all(const struct kp_loadopts *o, struct kp_loaded *ld, struct kp_buf *err)
{
	kp_rc rc;
	memset(ld, 0, sizeof(*ld));
	kp_inventory_init(&ld->inv);
	for (size_t i = 0; i < o->inventories->n; i++) {
		rc = kp_inventory_load(&ld->inv, o->inventories->v[i], err);
		if (rc)
			return rc;
	}
	rc = kp_inventory_finalize(&ld->inv, err);
	if (rc)
		return rc;
	if (!o->plan_path)
		return KP_OK;
	if (o->conn_defaults)
		apply_conn_defaults(o->conn_defaults, &ld->inv);
	rc = kp_plan_load_roles(o->plan_path, o->roles_path, &ld->plan, err);
	if (!rc)
		apply_play_defaults(o, ld->plan);
	if (!rc)
		rc = answer_prompts(o, ld->plan, err);
	/* hosts are resolved only against an inventory: `validate` without
	 * one checks the templates' syntax, as it does for tasks */
	if (!rc && o->inventories->n)
		rc = kp_plan_render_hosts(ld->plan, &ld->inv, o->extra, err);
	if (!rc && o->inventories->n) {
		bool added = false;
		for (size_t i = 0; i < ld->plan->nplays; i++)
			if (ld->plan->plays[i]->hosts)
				added |= kp_inventory_implicit_localhost(&ld->inv,
									 ld->plan->plays[i]->hosts);
		if (added)
			rc = kp_inventory_refresh(&ld->inv, err);
	}
	if (!rc && o->inventories->n)
		rc = check_plan_delegates(ld->plan, &ld->inv, err);
	return rc;
}

void kp_loaded_release(struct kp_loaded *ld)
{
	kp_plan_free(ld->plan);
	kp_inventory_release(&ld->inv);
}
