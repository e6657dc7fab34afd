/*
 * vault_opts.c - the run's vault passwords from the command line, as
 * ansible-playbook takes them: --vault-password-file FILE, --vault-id
 * [ID@]FILE|prompt, --ask-vault-pass, and ANSIBLE_VAULT_PASSWORD_FILE.
 * A password file that is executable is run (vault.c). Prompts read
 * /dev/tty without echo.
 */
#include "cli/cli.h"
#include "core/vault.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

kp_rc kp_cli_prompt_secret(const char *prompt, const char *what, struct kp_buf *out,
			   struct kp_buf *err)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	struct termios old, quiet;
	char c;
	if (fd < 0)
		return kp_errorf(err, KP_ERR_INVALID, "cannot ask for %s: no terminal", what);
	if (write(fd, prompt, strlen(prompt)) < 0) {
		close(fd);
		return kp_errorf(err, KP_ERR_IO, "cannot ask for %s", what);
	}
	bool tty = tcgetattr(fd, &old) == 0;
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	kp_buf_reset(out);
	while (read(fd, &c, 1) == 1 && c != '\n' && out->len < 4096)
		kp_buf_addch(out, c);
	if (tty)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0) {
		/* the newline is cosmetic */
	}
	close(fd);
	if (!out->len)
		return kp_errorf(err, KP_ERR_INVALID, "cannot ask for %s: nothing was typed", what);
	return KP_OK;
}

kp_rc kp_cli_vault_setup(const struct kp_strlist *ids, bool ask, struct kp_buf *err)
{
	struct kp_strlist all = {0};
	struct kp_vault_secret *s = NULL;
	size_t n = 0;
	kp_rc rc = KP_OK;
	const char *env = getenv("ANSIBLE_VAULT_PASSWORD_FILE");

	if (env && *env) {
		struct kp_buf b = KP_BUF_INIT;
		kp_buf_addf(&b, "default@%s", env);
		kp_strlist_push(&all, b.buf);
		kp_buf_release(&b);
	}
	for (size_t i = 0; i < ids->n; i++)
		kp_strlist_push(&all, ids->v[i]);
	if (ask)
		kp_strlist_push(&all, "default@prompt");
	s = kp_xcalloc(all.n ? all.n : 1, sizeof(*s));
	for (size_t i = 0; i < all.n && !rc; i++) {
		const char *v = all.v[i], *at = strchr(v, '@');
		struct kp_buf id = KP_BUF_INIT, pw = KP_BUF_INIT;
		const char *src = at ? at + 1 : v;
		if (at && at > v)
			kp_buf_add(&id, v, (size_t)(at - v));
		else
			kp_buf_addstr(&id, "default");
		if (!*src) {
			rc = kp_errorf(err, KP_ERR_INVALID,
				       "--vault-id '%s' names no password source", v);
		} else if (!strcmp(src, "prompt")) {
			struct kp_buf q = KP_BUF_INIT;
			if (!strcmp(id.buf, "default"))
				kp_buf_addstr(&q, "Vault password: ");
			else
				kp_buf_addf(&q, "Vault password (%s): ", id.buf);
			rc = kp_cli_prompt_secret(q.buf, "the vault password", &pw, err);
			if (rc && strstr(err->buf, "no terminal"))
				kp_buf_addstr(err, " (use --vault-password-file)");
			kp_buf_release(&q);
		} else {
			rc = kp_vault_password_file(src, &pw, err);
		}
		if (!rc) {
			s[n].id = kp_buf_detach(&id, NULL);
			s[n++].password = kp_buf_detach(&pw, NULL);
		} else {
			kp_buf_release(&id);
			if (pw.len)
				OPENSSL_cleanse(pw.buf, pw.len);
			kp_buf_release(&pw);
		}
	}
	if (!rc)
		kp_vault_set(s, n);
	for (size_t i = 0; i < n; i++) {
		OPENSSL_cleanse(s[i].password, strlen(s[i].password));
		free(s[i].password);
		free(s[i].id);
	}
	free(s);
	kp_strlist_release(&all);
	return rc;
}
