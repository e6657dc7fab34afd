/*
 * vault_yaml.c - Ansible Vault in YAML files: `!vault |` scalars and whole
 * encrypted files, decrypted as they load (the YAML loader's two hooks).
 */
#include "core/vault.h"
#include "core/ytree.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

kp_rc kp_vault_load_string(const char *name, const char *data, size_t len, struct kp_doc **out,
			   struct kp_buf *err)
{
	struct kp_buf plain = KP_BUF_INIT, why = KP_BUF_INIT;
	kp_rc rc = kp_vault_decrypt(data, len, &plain, &why);
	if (rc) {
		rc = kp_errorf(err, rc, "%s:1:1: cannot decrypt the vault-encrypted file: %s", name,
			       why.buf);
		goto out;
	}
	if (kp_vault_is_encrypted(plain.buf, plain.len)) {
		rc = kp_errorf(err, KP_ERR_INVALID,
			       "%s:1:1: the vault-encrypted file holds another vault", name);
		goto out;
	}
	if ((rc = kp_yaml_load_string(name, plain.buf, plain.len, out, err)))
		goto out;
	for (size_t i = 0; i < (*out)->nall; i++)
		(*out)->all[i]->secret = true;
out:
	if (plain.buf && plain.len)
		OPENSSL_cleanse(plain.buf, plain.len);
	kp_buf_release(&plain);
	kp_buf_release(&why);
	return rc;
}

kp_rc kp_vault_resolve(struct kp_doc *doc, struct kp_buf *err)
{
	for (size_t i = 0; i < doc->nall; i++) {
		struct kp_node *n = doc->all[i];
		struct kp_buf plain = KP_BUF_INIT, why = KP_BUF_INIT;
		if (!n->tag || strcmp(n->tag, "!vault"))
			continue;
		if (n->type != KP_N_SCALAR)
			return kp_node_errorf(err, KP_ERR_INVALID, n,
					      "a !vault value must be a string of vault text");
		kp_rc rc = kp_vault_decrypt(n->str, n->len, &plain, &why);
		if (rc) {
			rc = kp_node_errorf(err, rc, n, "cannot decrypt the !vault value: %s",
					    why.buf);
			kp_buf_release(&why);
			kp_buf_release(&plain);
			return rc;
		}
		OPENSSL_cleanse(n->str, n->len);
		free(n->str);
		free(n->tag);
		n->len = plain.len;
		n->str = kp_buf_detach(&plain, NULL);
		n->tag = kp_xstrdup("!secret");
		n->secret = true;
		kp_buf_release(&why);
	}
	return KP_OK;
}
