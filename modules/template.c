/*
 * template.c - render a controller file with {{ }} and put it onto the node.
 *
 * The file is compiled at run time (it may itself come from a variable)
 * with its own name as position, so an error reads "web.conf.j2:3:9:
 * undefined variable 'port'"; the rendered text then goes through copy.
 * {% include %} inside it searches Ansible's template path: the role's
 * templates/ and directory, the plan's, then the template's own.
 */
#include "modules/module.h"
#include "transport/transport.h"

#include <stdlib.h>
#include <string.h>

static const struct kp_argspec args[] = {
    {.name = "src",
     .type = KP_T_PATH,
     .required = true,
     .help = "template file on the controller (relative to the plan)"},
    {.name = "dest", .type = KP_T_PATH, .required = true, .help = "path on the node"},
    {.name = "mode", .type = KP_T_STR, .help = "permissions, e.g. \"0644\""},
    {.name = "owner", .type = KP_T_STR, .help = "owning user"},
    {.name = "group", .type = KP_T_STR, .help = "owning group"},
    {.name = "backup",
     .type = KP_T_BOOL,
     .def = "false",
     .help = "keep a timestamped copy of the file it replaces"},
    {.name = "validate",
     .type = KP_T_STR,
     .help = "a command that checks the new file first, %s standing for it "
	     "(visudo -cf %s); the file is written only when it exits 0"},
    KP_ARGS_SELINUX,
    {0},
};

#define TEMPLATE_MAX ((size_t)64 << 20)

static kp_rc probe(struct kp_modctx *ctx, struct kp_result *res, struct kp_buf *err)
{
	const char *src = kp_arg_str(ctx, "src");
	char *path = kp_mod_local_path(ctx, src);
	struct kp_buf text = KP_BUF_INIT, e = KP_BUF_INIT, out = KP_BUF_INIT;
	struct kp_template *t = NULL;
	struct kp_value *v = NULL;
	struct kp_pos pos = {path, 1, 1};
	size_t len;

	/* {% include %} searches the template's own directory too */
	struct kp_scope scope = *ctx->scope;
	char *dir = kp_xstrdup(path), *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	scope.template_dir = slash ? dir : ".";
	if (kp_read_file(path, TEMPLATE_MAX, &text, &e) ||
	    /* Ansible's template module: trim_blocks on, lstrip_blocks off */
	    kp_template_compile_file(text.buf, text.len, pos, true, false, &t, &e) ||
	    kp_template_render(ctx->L, t, &scope, &v, &e)) {
		kp_mod_failf(res, "%s", e.buf);
		goto out;
	}
	kp_value_to_text(v, false, &out); /* a file template renders to text */
	char *d = kp_buf_detach(&out, &len);
	kp_rc rc = kp_mod_copy_probe(ctx, res, d, len, src, err);
	kp_template_free(t);
	kp_value_unref(v);
	kp_buf_release(&text);
	kp_buf_release(&e);
	free(dir);
	free(path);
	return rc;
out:
	if (t)
		kp_template_free(t);
	if (v)
		kp_value_unref(v);
	kp_buf_release(&text);
	kp_buf_release(&e);
	free(dir);
	free(path);
	return KP_OK;
}

const struct kp_module kp_mod_template = {
    .name = "template",
    .summary = "render a template on the controller and copy it to the node",
    .args = args,
    .probe = probe,
    .apply = kp_mod_copy_apply,
};
