/* vars.c - variable precedence and per-host scopes, see vars.h. */
#include "model/vars.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* ansible_version: the ansible-core kplan runs playbooks as (its
 * behaviour is what the tests compare kplan with) */
#define KP_ANSIBLE_VERSION  "2.14.18"
#define KP_ANSIBLE_MAJOR    2
#define KP_ANSIBLE_MINOR    14
#define KP_ANSIBLE_REVISION 18

static struct kp_value *host_names(const struct kp_inventory *inv, const size_t *hosts, size_t n)
{
	struct kp_value *l = kp_value_list();
	for (size_t i = 0; i < n; i++)
		kp_list_push_take(l, kp_value_str(inv->hosts[hosts[i]]->name));
	return l;
}

void kp_playvars_init(struct kp_playvars *pv, const struct kp_plan *plan,
		      const struct kp_play *play, const struct kp_inventory *inv,
		      const struct kp_value *extra, const size_t *hosts, size_t nhosts,
		      bool check_mode, bool diff, const char *run_id)
{
	memset(pv, 0, sizeof(*pv));
	pv->plan = plan;
	pv->play = play;
	pv->inv = inv;
	pv->extra = extra;
	pv->play_hosts = host_names(inv, hosts, nhosts);
	pv->play_hosts->unsafe = 1; /* magic variables are never templated */
	pv->kplan = kp_value_map();
	/* Ansible's magic variables that are the same for every host of the
	 * play; the engine adds those of the run's options (kp_playvars.magic) */
	pv->magic = kp_value_map();
	pv->magic->unsafe = 1;
	kp_map_set(pv->magic, "ansible_play_hosts", pv->play_hosts);
	kp_map_set(pv->magic, "ansible_play_hosts_all", pv->play_hosts);
	char *abs = realpath(plan->dir, NULL);
	kp_map_set_take(pv->magic, "playbook_dir", kp_value_str(abs ? abs : plan->dir));
	free(abs);
	kp_map_set_take(pv->magic, "ansible_check_mode", kp_value_bool(check_mode));
	kp_map_set_take(pv->magic, "ansible_diff_mode", kp_value_bool(diff));
	/* the ansible-core whose playbooks kplan runs as it does */
	struct kp_value *ver = kp_value_map();
	kp_map_set_take(ver, "full", kp_value_str(KP_ANSIBLE_VERSION));
	kp_map_set_take(ver, "major", kp_value_int(KP_ANSIBLE_MAJOR));
	kp_map_set_take(ver, "minor", kp_value_int(KP_ANSIBLE_MINOR));
	kp_map_set_take(ver, "revision", kp_value_int(KP_ANSIBLE_REVISION));
	kp_map_set_take(ver, "string", kp_value_str(KP_ANSIBLE_VERSION));
	kp_map_set_take(pv->magic, "ansible_version", ver);
	kp_map_set_take(pv->kplan, "check_mode", kp_value_bool(check_mode));
	kp_map_set_take(pv->kplan, "diff", kp_value_bool(diff));
	kp_map_set_take(pv->kplan, "run_id", run_id ? kp_value_str(run_id) : kp_value_null());
	kp_map_set_take(pv->kplan, "plan_dir", kp_value_str(plan->dir));
	kp_map_set_take(pv->kplan, "version", kp_value_str(KP_VERSION));
}

void kp_playvars_options(struct kp_playvars *pv, const struct kp_strlist *inventories, int forks,
			 const char *limit, const struct kp_strlist *tags,
			 const struct kp_strlist *skip_tags)
{
	struct kp_value *m = pv->magic;
	if (inventories && inventories->n) {
		/* the inventory a host came from: the first given */
		char *abs = realpath(inventories->v[0], NULL);
		const char *file = abs ? abs : inventories->v[0];
		const char *slash = strrchr(file, '/');
		kp_map_set_take(m, "inventory_file", kp_value_str(file));
		kp_map_set_take(m, "inventory_dir",
				slash
				    ? kp_value_strn(file, slash > file ? (size_t)(slash - file) : 1)
				    : kp_value_str("."));
		free(abs);
	}
	kp_map_set_take(m, "ansible_forks", kp_value_int(forks));
	if (limit)
		kp_map_set_take(m, "ansible_limit", kp_value_str(limit));
	struct kp_value *run = kp_value_list(), *skip = kp_value_list();
	for (size_t i = 0; tags && i < tags->n; i++)
		kp_list_push_take(run, kp_value_str(tags->v[i]));
	if (!kp_list_len(run))
		kp_list_push_take(run, kp_value_str("all"));
	for (size_t i = 0; skip_tags && i < skip_tags->n; i++)
		kp_list_push_take(skip, kp_value_str(skip_tags->v[i]));
	kp_map_set_take(m, "ansible_run_tags", run);
	kp_map_set_take(m, "ansible_skip_tags", skip);
}

void kp_playvars_release(struct kp_playvars *pv)
{
	kp_value_unref(pv->play_hosts);
	kp_value_unref(pv->kplan);
	kp_value_unref(pv->magic);
	memset(pv, 0, sizeof(*pv));
}

/* Ansible's inventory_hostname_short: the name up to its first dot. */
static struct kp_value *short_name(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot ? kp_value_strn(name, (size_t)(dot - name)) : kp_value_str(name);
}

/* The magic variables that belong to a host, whoever looks at it: its own
 * scope and hostvars[host] both have them. */
static void host_magic(struct kp_value *m, const struct kp_host *host)
{
	kp_map_set_take(m, "inventory_hostname", kp_value_str(host->name));
	kp_map_set_take(m, "inventory_hostname_short", short_name(host->name));
	kp_map_set(m, "group_names", host->group_names);
}

/* hostvars[name]: the host's inventory variables and, above them as in
 * its own scope, its magic variables. Made on each use (an evaluation
 * converts each host once): the merged maps are shared between hosts, so a
 * copy per host kept for the run would cost what sharing saves. */
static struct kp_value *hostvars_cb(void *ctx, const char *name)
{
	const struct kp_playvars *pv = ctx;
	const char *implicit = NULL;
	const struct kp_host *h = kp_delegate_host(pv->inv, name, &implicit);
	if (!h && implicit)
		h = pv->local;
	if (!h)
		return NULL;
	struct kp_value *v = kp_value_map();
	kp_map_update(v, h->merged);
	struct kp_value *facts = pv->facts_of ? pv->facts_of(pv->facts_ctx, h) : NULL;
	if (facts)
		kp_map_update(v, facts);
	kp_value_unref(facts);
	host_magic(v, h);
	return v;
}

/* A play var's value holding a template was written in the plan: errors
 * inside it are reported there. v must be the play's own value (a higher
 * layer may hide it under the same name). */
static bool play_var_pos(void *ctx, const char *name, const struct kp_value *v, struct kp_pos *out)
{
	const struct kp_play *play = ((const struct kp_playvars *)ctx)->play;
	if (!play->vars || !play->vars_t || kp_map_get(play->vars, name) != v)
		return false;
	const struct kp_tvalue *tv = kp_tvalue_get(play->vars_t, name);
	if (!tv || !tv->pos.file)
		return false;
	*out = tv->pos;
	return true;
}

static char *join_path(const char *dir, const char *path)
{
	struct kp_buf b = KP_BUF_INIT;
	if (path[0] == '/' || !dir || !*dir)
		kp_buf_addstr(&b, path);
	else
		kp_buf_addf(&b, "%s/%s", dir, path);
	return kp_buf_detach(&b, NULL);
}

/* Load a templated vars_files entry for this host. */
static kp_rc load_vars_file(struct kp_hostvars *hv, struct kp_lua *L, const struct kp_playvars *pv,
			    size_t i, struct kp_buf *err)
{
	const struct kp_play *play = pv->play;
	struct kp_template *t = NULL;
	struct kp_value *path = NULL, *vars = NULL;
	struct kp_doc *doc = NULL;
	char *full = NULL;
	kp_rc rc;

	rc = kp_template_compile(play->vars_files[i], strlen(play->vars_files[i]),
				 play->vars_files_pos[i], &t, err);
	if (!rc)
		rc = kp_template_render(L, t, &hv->scope, &path, err);
	if (rc)
		goto out;
	if (path->type != KP_V_STR) {
		rc = kp_errorf(err, KP_ERR_INVALID,
			       "%s:%d:%d: vars_files entry must be a path, not a %s",
			       play->vars_files_pos[i].file, play->vars_files_pos[i].line,
			       play->vars_files_pos[i].col, kp_value_typename(path->type));
		goto out;
	}
	full = join_path(pv->plan->dir, path->u.str.s);
	rc = kp_yaml_load_file(full, &doc, err);
	if (rc) {
		if (rc == KP_ERR_IO) {
			struct kp_buf msg = KP_BUF_INIT;
			kp_buf_addf(&msg, "%s:%d:%d: %s", play->vars_files_pos[i].file,
				    play->vars_files_pos[i].line, play->vars_files_pos[i].col,
				    err->buf);
			kp_buf_release(err);
			*err = msg;
		}
		goto out;
	}
	if (doc->root && doc->root->type != KP_N_MAP) {
		rc = kp_node_errorf(err, KP_ERR_INVALID, doc->root,
				    "a vars file must be a mapping of variables, not %s",
				    kp_node_describe(doc->root));
		goto out;
	}
	if (doc->root) {
		rc = kp_node_to_value(doc->root, &vars, err);
		if (rc)
			goto out;
		kp_map_update(hv->vars_files, vars);
	}
out:
	kp_value_unref(vars);
	kp_value_unref(path);
	kp_template_free(t);
	kp_doc_free(doc);
	free(full);
	return rc;
}

void kp_batchvars_init(struct kp_batchvars *bv, const struct kp_playvars *pv, const size_t *batch,
		       size_t nbatch, size_t batch_index, size_t batch_count)
{
	bv->batch_hosts = host_names(pv->inv, batch, nbatch);
	bv->batch_hosts->unsafe = 1;
	bv->play_batch = host_names(pv->inv, batch, nbatch);
	bv->play_batch->unsafe = 1;
	bv->kplan = kp_value_copy(pv->kplan);
	kp_map_set_take(bv->kplan, "batch_index", kp_value_int((int64_t)batch_index));
	kp_map_set_take(bv->kplan, "batch_count", kp_value_int((int64_t)batch_count));
}

void kp_batchvars_release(struct kp_batchvars *bv)
{
	kp_value_unref(bv->batch_hosts);
	kp_value_unref(bv->play_batch);
	kp_value_unref(bv->kplan);
	memset(bv, 0, sizeof(*bv));
}

kp_rc kp_hostvars_init(struct kp_hostvars *hv, struct kp_lua *L, const struct kp_playvars *pv,
		       const struct kp_batchvars *bv, const struct kp_host *host,
		       struct kp_value *registered, const struct kp_value *facts,
		       struct kp_buf *err)
{
	const struct kp_play *play = pv->play;
	struct kp_scope *s = &hv->scope;

	memset(hv, 0, sizeof(*hv));
	hv->host = host;
	hv->vars_files = kp_value_map();
	hv->registered = registered ? kp_value_ref(registered) : kp_value_map();
	hv->magic = kp_value_map();
	hv->empty = kp_value_map();

	kp_map_update(hv->magic, pv->magic);
	kp_map_set(hv->magic, "ansible_play_batch", bv->play_batch);
	host_magic(hv->magic, host);
	/* ansible_host in the host's own scope (not in hostvars[]): the
	 * address Ansible connects to, its name when the inventory gives none
	 * (127.0.0.1 for the implicit localhost), as Ansible's connection
	 * variables reach a task */
	if (!kp_map_get(host->merged, "ansible_host")) {
		const struct kp_value *ssh = kp_map_get(host->merged, "ansible_ssh_host");
		kp_map_set_take(hv->magic, "ansible_host",
				ssh		 ? kp_value_ref(ssh)
				: host->implicit ? kp_value_str("127.0.0.1")
						 : kp_value_str(host->name));
	}
	if (play->role_names)
		kp_map_set(hv->magic, "role_names", play->role_names);
	else
		kp_map_set_take(hv->magic, "role_names", kp_value_list());
	kp_map_set(hv->magic, "groups", pv->inv->groups_var);
	kp_map_set(hv->magic, "play_hosts", pv->play_hosts);
	kp_map_set(hv->magic, "batch_hosts", bv->batch_hosts);
	kp_map_set(hv->magic, "kplan", bv->kplan);

	hv->pub_defaults = kp_value_map();
	hv->pub_vars = kp_value_map();
	if (play->role_defaults)
		s->layers[s->nlayers++] = play->role_defaults;
	s->layers[s->nlayers++] = hv->pub_defaults;
	hv->dyn_at[KP_DYN_DEFAULTS] = s->nlayers;
	s->layers[s->nlayers++] = hv->empty;
	s->layers[s->nlayers++] = host->merged;
	if (facts) /* Ansible: above the inventory, below the play */
		s->layers[s->nlayers++] = facts;
	if (play->vars)
		s->layers[s->nlayers++] = play->vars;
	s->layers[s->nlayers++] = hv->vars_files;
	if (play->role_vars)
		s->layers[s->nlayers++] = play->role_vars;
	s->layers[s->nlayers++] = hv->pub_vars;
	hv->dyn_at[KP_DYN_VARS] = s->nlayers;
	s->layers[s->nlayers++] = hv->empty;
	hv->dyn_at[KP_DYN_TASK] = s->nlayers;
	s->layers[s->nlayers++] = hv->empty;
	s->layers[s->nlayers++] = hv->registered;
	hv->dyn_at[KP_DYN_PARAMS] = s->nlayers;
	s->layers[s->nlayers++] = hv->empty;
	if (pv->extra)
		s->layers[s->nlayers++] = pv->extra;
	s->layers[s->nlayers++] = hv->magic;
	s->hostvars = hostvars_cb;
	s->var_pos = play_var_pos;
	s->ctx = (void *)pv;
	s->unknown = pv->unknown;
	s->nunknown = pv->nunknown;
	s->base_dir = pv->plan->dir;

	/* vars_files in order: each may use the variables loaded before it */
	for (size_t i = 0; i < play->nvars_files; i++) {
		kp_rc rc;
		if (play->vars_files_loaded && play->vars_files_loaded[i]) {
			kp_map_update(hv->vars_files, play->vars_files_loaded[i]);
			continue;
		}
		rc = load_vars_file(hv, L, pv, i, err);
		if (rc) {
			kp_hostvars_release(hv);
			return rc;
		}
	}
	return KP_OK;
}

void kp_hostvars_release(struct kp_hostvars *hv)
{
	kp_value_unref(hv->vars_files);
	kp_value_unref(hv->registered);
	kp_value_unref(hv->magic);
	kp_value_unref(hv->empty);
	kp_value_unref(hv->pub_defaults);
	kp_value_unref(hv->pub_vars);
	for (int w = 0; w < KP_DYN_COUNT; w++)
		kp_value_unref(hv->dyn[w]);
	memset(hv, 0, sizeof(*hv));
}

void kp_hostvars_push(struct kp_hostvars *hv, const struct kp_value *const add[KP_DYN_COUNT],
		      struct kp_dyn_saved *sv)
{
	for (int w = 0; w < KP_DYN_COUNT; w++) {
		sv->v[w] = hv->dyn[w];
		if (!add[w] || !hv->empty)
			continue;
		struct kp_value *m = kp_value_map();
		if (hv->dyn[w])
			kp_map_update(m, hv->dyn[w]);
		kp_map_update(m, add[w]);
		hv->dyn[w] = m;
		hv->scope.layers[hv->dyn_at[w]] = m;
	}
}

void kp_hostvars_pop(struct kp_hostvars *hv, const struct kp_dyn_saved *sv)
{
	for (int w = 0; w < KP_DYN_COUNT; w++) {
		if (hv->dyn[w] == sv->v[w])
			continue;
		kp_value_unref(hv->dyn[w]);
		hv->dyn[w] = sv->v[w];
		hv->scope.layers[hv->dyn_at[w]] = sv->v[w] ? sv->v[w] : hv->empty;
	}
}

void kp_hostvars_publish(struct kp_hostvars *hv, const struct kp_roleuse *u)
{
	/* the layers are maps this host alone reads: updated in place */
	if (hv->pub_defaults)
		kp_map_update(hv->pub_defaults, u->defaults);
	if (hv->pub_vars)
		kp_map_update(hv->pub_vars, u->vars);
}

bool kp_task_layers(const struct kp_task *t, const struct kp_value *add[KP_DYN_COUNT])
{
	memset(add, 0, KP_DYN_COUNT * sizeof(*add));
	if (t->role) {
		add[KP_DYN_DEFAULTS] = t->role->defaults;
		add[KP_DYN_VARS] = t->role->vars;
		add[KP_DYN_PARAMS] = t->role->params;
	}
	/* a block's, a task's or an import's `vars:` (a role's block with
	 * vars: its use's parameters) */
	if (t->include_vars && !t->include)
		add[t->role ? KP_DYN_PARAMS : KP_DYN_TASK] = t->include_vars;
	return add[KP_DYN_DEFAULTS] || add[KP_DYN_VARS] || add[KP_DYN_PARAMS] || add[KP_DYN_TASK];
}

/* A rendered `hosts:` as a pattern: a string as it is, a number as its
 * digits, a list of strings joined with ':' as a YAML list is. NULL, with
 * what was found in *what, when it is none of these. */
static char *hosts_text(const struct kp_value *v, const char **what)
{
	struct kp_buf b = KP_BUF_INIT;
	if (v->type == KP_V_STR || v->type == KP_V_INT) {
		kp_value_to_text(v, false, &b);
		return kp_buf_detach(&b, NULL);
	}
	*what = kp_value_typename(v->type);
	if (v->type != KP_V_LIST)
		return NULL;
	for (size_t i = 0; i < kp_list_len(v); i++) {
		const struct kp_value *item = kp_list_at(v, i);
		if (item->type != KP_V_STR) {
			*what = "list holding something other than strings";
			kp_buf_release(&b);
			return NULL;
		}
		if (i)
			kp_buf_addch(&b, ':');
		kp_buf_add(&b, item->u.str.s, item->u.str.len);
	}
	return kp_buf_detach(&b, NULL);
}

static kp_rc render_hosts(struct kp_lua *L, const struct kp_plan *plan, size_t index,
			  const struct kp_inventory *inv, const struct kp_value *extra,
			  struct kp_buf *err)
{
	struct kp_play *play = plan->plays[index];
	/* play_var_pos and hostvars_cb read only plan, play and inv */
	struct kp_playvars pv = {.plan = plan, .play = play, .inv = inv, .extra = extra};
	struct kp_value *files = kp_value_map(), *magic = kp_value_map(), *v = NULL;
	struct kp_scope s = {0};
	const struct kp_pos *pos = &play->hosts_pos;
	const char *what = NULL;
	char *text = NULL;
	kp_rc rc;

	for (size_t i = 0; play->vars_files_loaded && i < play->nvars_files; i++)
		if (play->vars_files_loaded[i])
			kp_map_update(files, play->vars_files_loaded[i]);
	if (inv)
		kp_map_set(magic, "groups", inv->groups_var);
	if (play->vars)
		s.layers[s.nlayers++] = play->vars;
	s.layers[s.nlayers++] = files;
	if (extra)
		s.layers[s.nlayers++] = extra;
	s.layers[s.nlayers++] = magic;
	s.hostvars = inv ? hostvars_cb : NULL;
	s.var_pos = play_var_pos;
	s.ctx = &pv;
	s.base_dir = plan->dir;

	if (play->any_errors_fatal_tv) {
		struct kp_value *fv = NULL;
		if ((rc = kp_tvalue_render(L, play->any_errors_fatal_tv, &s, &fv, err))) {
			kp_buf_addf(err, " (in 'any_errors_fatal' of play #%zu)", index + 1);
			goto out;
		}
		play->any_errors_fatal = kp_value_bool_word(fv);
		kp_value_unref(fv);
		if (!play->hosts_t && !play->serial_tv)
			goto out;
	}
	if (play->serial_tv) {
		struct kp_value *sv = NULL;
		rc = kp_tvalue_render(L, play->serial_tv, &s, &sv, err);
		if (!rc)
			rc = kp_serial_from_value(sv, play->serial_pos, &play->serial,
						  &play->nserial, err);
		kp_value_unref(sv);
		if (rc) {
			if (play->name)
				kp_buf_addf(err, " (in 'serial' of play '%s')", play->name);
			else
				kp_buf_addf(err, " (in 'serial' of play #%zu)", index + 1);
			goto out;
		}
		if (!play->hosts_t)
			goto out;
	}
	rc = kp_template_render(L, play->hosts_t, &s, &v, err);
	if (rc) {
		if (play->name)
			kp_buf_addf(err, " (in 'hosts' of play '%s')", play->name);
		else /* numbered as --list-hosts does */
			kp_buf_addf(err, " (in 'hosts' of play #%zu)", index + 1);
		goto out;
	}
	text = hosts_text(v, &what);
	if (!text) {
		rc = kp_errorf(err, KP_ERR_INVALID,
			       "%s:%d:%d: 'hosts' must render to a host pattern (a string or a "
			       "list of strings), not a %s",
			       pos->file, pos->line, pos->col, what);
		goto out;
	}
	if (!*text) {
		rc = kp_errorf(err, KP_ERR_INVALID, "%s:%d:%d: 'hosts' renders to nothing: '%s'",
			       pos->file, pos->line, pos->col, kp_template_source(play->hosts_t));
		goto out;
	}
	struct kp_buf why = KP_BUF_INIT;
	if ((rc = kp_pattern_check(text, &why)))
		kp_errorf(err, rc, "%s:%d:%d: %s", pos->file, pos->line, pos->col, why.buf);
	kp_buf_release(&why);
	if (!rc) {
		free(play->hosts);
		play->hosts = text;
		text = NULL;
	}
out:
	free(text);
	kp_value_unref(v);
	kp_value_unref(files);
	kp_value_unref(magic);
	return rc;
}

kp_rc kp_plan_render_hosts(struct kp_plan *plan, const struct kp_inventory *inv,
			   const struct kp_value *extra, struct kp_buf *err)
{
	struct kp_lua *L = NULL;
	kp_rc rc = KP_OK;
	for (size_t i = 0; i < plan->nplays && !rc; i++) {
		if (!plan->plays[i]->hosts_t && !plan->plays[i]->serial_tv &&
		    !plan->plays[i]->any_errors_fatal_tv)
			continue;
		if (!L)
			L = kp_lua_new();
		rc = render_hosts(L, plan, i, inv, extra, err);
	}
	kp_lua_free(L);
	return rc;
}

static bool valid_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return false;
	return true;
}

static kp_rc merge_doc(struct kp_value *extra, const char *name, const char *data, size_t len,
		       struct kp_buf *err)
{
	struct kp_doc *doc = NULL;
	struct kp_value *v = NULL;
	kp_rc rc = kp_yaml_load_string(name, data, len, &doc, err);
	if (rc)
		return rc;
	if (!doc->root) {
		kp_doc_free(doc);
		return KP_OK;
	}
	if (doc->root->type != KP_N_MAP) {
		rc = kp_node_errorf(err, KP_ERR_INVALID, doc->root,
				    "extra vars must be a mapping, not %s",
				    kp_node_describe(doc->root));
		kp_doc_free(doc);
		return rc;
	}
	rc = kp_node_to_value(doc->root, &v, err);
	if (!rc)
		kp_map_update(extra, v);
	kp_value_unref(v);
	kp_doc_free(doc);
	return rc;
}

/* "invalid extra var 'WORD'" and, when the argument holds more than that
 * word, " in 'ARG'": the user sees which of several words is wrong, and
 * a line break in either stays visible (escaped). */
static kp_rc kv_error(const char *arg, const char *word, size_t n, const char *why,
		      struct kp_buf *err)
{
	struct kp_buf msg = KP_BUF_INIT;
	kp_buf_addf(&msg, "invalid extra var '%.*s'", (int)n, word);
	if (strlen(arg) != n || memcmp(arg, word, n))
		kp_buf_addf(&msg, " in '%s'", arg);
	kp_buf_addf(&msg, ": %s", why);
	kp_buf_escape_newlines(&msg, 0);
	kp_rc rc = kp_errorf(err, KP_ERR_INVALID, "%s", msg.buf);
	kp_buf_release(&msg);
	return rc;
}

/* A single `key=value` word of arg: the value typed like a YAML plain
 * scalar. */
static kp_rc add_kv(struct kp_value *extra, const char *arg, const char *word, size_t n,
		    struct kp_buf *err)
{
	const char *eq = memchr(word, '=', n);
	if (!eq || eq == word)
		return kv_error(arg, word, n,
				"expected key=value, @file.yml or a YAML/JSON mapping", err);
	if (!valid_name(word, (size_t)(eq - word))) {
		struct kp_buf why = KP_BUF_INIT;
		kp_buf_addf(&why,
			    "invalid variable name '%.*s' (use letters, digits and underscores)",
			    (int)(eq - word), word);
		kp_rc rc = kv_error(arg, word, n, why.buf, err);
		kp_buf_release(&why);
		return rc;
	}
	char *key = kp_xstrndup(word, (size_t)(eq - word));
	const char *val = eq + 1;
	size_t vlen = n - (size_t)(eq + 1 - word);
	struct kp_value *v;
	/* type it through the YAML scalar rules: 3 -> int, true -> bool */
	struct kp_doc *doc = NULL;
	if (vlen && !memchr(val, '\n', vlen) && !memchr(val, ':', vlen) &&
	    !memchr(val, '#', vlen) && !strchr("[{'\"&*!|>%@`", val[0]) &&
	    !kp_yaml_load_string("-e", val, vlen, &doc, NULL) && doc->root &&
	    doc->root->type == KP_N_SCALAR) {
		if (kp_node_to_value(doc->root, &v, NULL))
			v = kp_value_strn(val, vlen);
	} else {
		v = kp_value_strn(val, vlen);
	}
	kp_doc_free(doc);
	kp_map_set_take(extra, key, v);
	free(key);
	return KP_OK;
}

kp_rc kp_extra_vars_add(struct kp_value *extra, const char *arg, struct kp_buf *err)
{
	kp_rc rc;
	if (arg[0] == '@') {
		struct kp_buf data = KP_BUF_INIT;
		rc = kp_read_file(arg + 1, KP_YAML_MAX_FILE, &data, err);
		if (!rc)
			rc = merge_doc(extra, arg + 1, data.buf, data.len, err);
		kp_buf_release(&data);
		return rc;
	}
	const char *p = arg;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '{' || *p == '[')
		return merge_doc(extra, "-e", arg, strlen(arg), err);
	/* whitespace-separated key=value words; values may be quoted */
	while (*p) {
		struct kp_buf word = KP_BUF_INIT;
		char q = 0;
		while (*p && (q || !isspace((unsigned char)*p))) {
			if (q && *p == q)
				q = 0;
			else if (!q && (*p == '"' || *p == '\''))
				q = *p;
			else
				kp_buf_addch(&word, *p);
			p++;
		}
		if (q) {
			kp_buf_release(&word);
			kp_errorf(err, KP_ERR_INVALID, "unterminated quote in extra vars '%s'",
				  arg);
			kp_buf_escape_newlines(err, 0);
			return KP_ERR_INVALID;
		}
		rc = add_kv(extra, arg, word.buf, word.len, err);
		kp_buf_release(&word);
		if (rc)
			return rc;
		while (isspace((unsigned char)*p))
			p++;
	}
	return KP_OK;
}
