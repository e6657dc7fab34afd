/*
 * vault.h - Ansible Vault: `!vault` values and whole encrypted files.
 *
 * The format is ansible-core's VaultAES256 (format 1.1, and 1.2 with a
 * vault id in the header): PBKDF2-HMAC-SHA256 over the password and a
 * 32-byte salt, 10000 iterations, 80 bytes of key material (AES key, HMAC
 * key, CTR initial counter); the HMAC-SHA256 of the ciphertext is checked
 * before AES-256-CTR decrypts it; PKCS#7 padding. All of it is OpenSSL.
 *
 * The passwords are the run's: main sets them once (kp_vault_set) before
 * anything is loaded and before any thread starts; loading decrypts with
 * them. What a vault decrypts is secret: the YAML loader marks the nodes,
 * so their values are hidden wherever kplan prints or journals.
 *
 * Ownership: kp_vault_set copies the passwords; kp_vault_clear wipes and
 * frees them.
 */
#ifndef KP_VAULT_H
#define KP_VAULT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/kp.h"

#define KP_VAULT_HEADER "$ANSIBLE_VAULT;"

struct kp_vault_secret {
	char *id; /* "default" when none was given */
	char *password;
};

/* The run's vault passwords (copied). Called by main before loading. */
void kp_vault_set(const struct kp_vault_secret *s, size_t n);
void kp_vault_clear(void);

/* Whether data (a file's text or a !vault scalar) is vault ciphertext. */
bool kp_vault_is_encrypted(const char *data, size_t len);

/* Decrypt vault text with the run's passwords: the header's vault id
 * first, then every other password. The plaintext goes into out. Errors
 * (KP_ERR_INVALID): a malformed envelope, no password given, or none that
 * decrypts; the message says which, without position (the caller adds
 * where the text came from). */
kp_rc kp_vault_decrypt(const char *data, size_t len, struct kp_buf *out, struct kp_buf *err);

/* The same with explicit passwords (tests, `kplan vault`-style tools). */
kp_rc kp_vault_decrypt_with(const char *data, size_t len, const struct kp_vault_secret *s, size_t n,
			    struct kp_buf *out, struct kp_buf *err);

/* A password from a file, as Ansible reads --vault-password-file: an
 * executable file is run and its standard output is the password; a plain
 * file is read. Surrounding white space is stripped. An empty password
 * is an error. */
kp_rc kp_vault_password_file(const char *path, struct kp_buf *out, struct kp_buf *err);

/* The YAML loader's side (vault_yaml.c). */
struct kp_doc;
/* Load a whole vault-encrypted YAML file: decrypt, parse the plaintext,
 * and mark every node secret. Errors name the file ("name:1:1: ..."). */
kp_rc kp_vault_load_string(const char *name, const char *data, size_t len, struct kp_doc **out,
			   struct kp_buf *err);
/* Decrypt every scalar tagged !vault in place; it becomes a secret string
 * (tag !secret). Errors name the value's file:line:col. */
kp_rc kp_vault_resolve(struct kp_doc *doc, struct kp_buf *err);

#endif
