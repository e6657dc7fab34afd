/*
 * vault.c - decrypting Ansible Vault text (see vault.h), with OpenSSL's
 * PBKDF2, HMAC and AES-256-CTR.
 */
#include "core/vault.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define KEYLEN	 32
#define IVLEN	 16
#define ITER	 10000
#define SALT_MAX 256

/* The run's passwords: set once by main before anything loads. */
static struct kp_vault_secret *run_secrets;
static size_t run_nsecrets;

void kp_vault_set(const struct kp_vault_secret *s, size_t n)
{
	kp_vault_clear();
	run_secrets = kp_xcalloc(n ? n : 1, sizeof(*run_secrets));
	for (size_t i = 0; i < n; i++) {
		run_secrets[i].id = kp_xstrdup(s[i].id ? s[i].id : "default");
		run_secrets[i].password = kp_xstrdup(s[i].password);
	}
	run_nsecrets = n;
}

void kp_vault_clear(void)
{
	for (size_t i = 0; i < run_nsecrets; i++) {
		OPENSSL_cleanse(run_secrets[i].password, strlen(run_secrets[i].password));
		free(run_secrets[i].password);
		free(run_secrets[i].id);
	}
	free(run_secrets);
	run_secrets = NULL;
	run_nsecrets = 0;
}

bool kp_vault_is_encrypted(const char *data, size_t len)
{
	size_t hl = strlen(KP_VAULT_HEADER);
	while (len && isspace((unsigned char)*data))
		data++, len--;
	return len >= hl && !memcmp(data, KP_VAULT_HEADER, hl);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* hex text (white space ignored) to bytes; false when it is not hex */
static bool unhex(const char *s, size_t len, struct kp_buf *out, bool skip_space)
{
	int hi = -1;
	for (size_t i = 0; i < len; i++) {
		if (skip_space && isspace((unsigned char)s[i]))
			continue;
		int v = hexval((unsigned char)s[i]);
		if (v < 0)
			return false;
		if (hi < 0) {
			hi = v;
		} else {
			kp_buf_addch(out, (char)(hi << 4 | v));
			hi = -1;
		}
	}
	return hi < 0;
}

/* The parts of an envelope: header fields, salt, HMAC, ciphertext. */
struct envelope {
	char version[8], cipher[16], id[128];
	struct kp_buf salt, mac, ct;
};

static void envelope_release(struct envelope *e)
{
	kp_buf_release(&e->salt);
	kp_buf_release(&e->mac);
	kp_buf_release(&e->ct);
}

static kp_rc parse(const char *data, size_t len, struct envelope *e, struct kp_buf *err)
{
	struct kp_buf body = KP_BUF_INIT;
	while (len && isspace((unsigned char)*data))
		data++, len--;
	const char *nl = memchr(data, '\n', len);
	size_t hl = nl ? (size_t)(nl - data) : len;
	char header[256];
	if (hl >= sizeof(header))
		return kp_errorf(err, KP_ERR_INVALID, "malformed vault header");
	memcpy(header, data, hl);
	header[hl] = '\0';
	if (hl && header[hl - 1] == '\r')
		header[--hl] = '\0';
	/* $ANSIBLE_VAULT;1.1;AES256 or $ANSIBLE_VAULT;1.2;AES256;ID */
	char *f[5] = {0};
	size_t nf = 0;
	for (char *p = header, *save = NULL; nf < 5 && (p = strtok_r(p, ";", &save)); p = NULL)
		f[nf++] = p;
	if (nf < 3 || strcmp(f[0], "$ANSIBLE_VAULT"))
		return kp_errorf(err, KP_ERR_INVALID, "malformed vault header '%s'", header);
	snprintf(e->version, sizeof(e->version), "%s", f[1]);
	snprintf(e->cipher, sizeof(e->cipher), "%s", f[2]);
	snprintf(e->id, sizeof(e->id), "%s", nf >= 4 ? f[3] : "");
	if (strcmp(e->version, "1.1") && strcmp(e->version, "1.2"))
		return kp_errorf(err, KP_ERR_INVALID, "unsupported vault format version '%s'",
				 e->version);
	if (strcmp(e->cipher, "AES256"))
		return kp_errorf(err, KP_ERR_INVALID, "unsupported vault cipher '%s'", e->cipher);
	if (!nl || !unhex(nl + 1, len - hl - 1, &body, true))
		return kp_errorf(err, KP_ERR_INVALID, "malformed vault data: not hexadecimal");
	/* the body: hex(salt) \n hex(hmac) \n hex(ciphertext) */
	const char *p = body.buf, *end = body.buf + body.len;
	const char *n1 = memchr(p, '\n', body.len);
	const char *n2 = n1 ? memchr(n1 + 1, '\n', (size_t)(end - n1 - 1)) : NULL;
	bool ok = n1 && n2 && unhex(p, (size_t)(n1 - p), &e->salt, false) &&
		  unhex(n1 + 1, (size_t)(n2 - n1 - 1), &e->mac, false) &&
		  unhex(n2 + 1, (size_t)(end - n2 - 1), &e->ct, false);
	kp_buf_release(&body);
	if (!ok || e->mac.len != 32 || !e->salt.len || e->salt.len > SALT_MAX || !e->ct.len ||
	    e->ct.len % 16)
		return kp_errorf(err, KP_ERR_INVALID, "malformed vault data");
	return KP_OK;
}

/* One password: true and the plaintext in out when it decrypts. */
static bool try_password(const struct envelope *e, const char *pw, struct kp_buf *out)
{
	unsigned char km[2 * KEYLEN + IVLEN], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	bool ok = false;

	if (!PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), (const unsigned char *)e->salt.buf,
			       (int)e->salt.len, ITER, EVP_sha256(), sizeof(km), km))
		return false;
	if (!HMAC(EVP_sha256(), km + KEYLEN, KEYLEN, (const unsigned char *)e->ct.buf, e->ct.len,
		  mac, &maclen) ||
	    maclen != 32 || CRYPTO_memcmp(mac, e->mac.buf, 32))
		goto out;
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	unsigned char *pt = kp_xmalloc(e->ct.len + 16);
	int l1 = 0, l2 = 0;
	if (c && EVP_DecryptInit_ex(c, EVP_aes_256_ctr(), NULL, km, km + 2 * KEYLEN) &&
	    EVP_DecryptUpdate(c, pt, &l1, (const unsigned char *)e->ct.buf, (int)e->ct.len) &&
	    EVP_DecryptFinal_ex(c, pt + l1, &l2)) {
		size_t n = (size_t)(l1 + l2);
		unsigned pad = n ? pt[n - 1] : 0;
		/* PKCS#7 over 128-bit blocks, as Ansible pads */
		if (pad >= 1 && pad <= 16 && pad <= n) {
			bool good = true;
			for (size_t i = n - pad; i < n; i++)
				good = good && pt[i] == pad;
			if (good) {
				kp_buf_reset(out);
				kp_buf_add(out, pt, n - pad);
				ok = true;
			}
		}
	}
	OPENSSL_cleanse(pt, e->ct.len + 16);
	free(pt);
	EVP_CIPHER_CTX_free(c);
out:
	OPENSSL_cleanse(km, sizeof(km));
	return ok;
}

kp_rc kp_vault_decrypt_with(const char *data, size_t len, const struct kp_vault_secret *s, size_t n,
			    struct kp_buf *out, struct kp_buf *err)
{
	struct envelope e = {.salt = KP_BUF_INIT, .mac = KP_BUF_INIT, .ct = KP_BUF_INIT};
	kp_rc rc = parse(data, len, &e, err);
	if (rc)
		goto done;
	if (!n) {
		rc = kp_errorf(err, KP_ERR_INVALID,
			       "no vault password given (--vault-password-file, --vault-id or "
			       "--ask-vault-pass)");
		goto done;
	}
	/* the header's vault id first, then the others, as Ansible tries them */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			bool match = *e.id && !strcmp(s[i].id ? s[i].id : "default", e.id);
			if ((pass == 0) != match)
				continue;
			if (try_password(&e, s[i].password, out))
				goto done;
		}
	rc = kp_errorf(err, KP_ERR_INVALID, "wrong vault password%s%s%s",
		       *e.id ? " (vault id '" : "", e.id, *e.id ? "')" : "");
done:
	envelope_release(&e);
	return rc;
}

kp_rc kp_vault_decrypt(const char *data, size_t len, struct kp_buf *out, struct kp_buf *err)
{
	return kp_vault_decrypt_with(data, len, run_secrets, run_nsecrets, out, err);
}

static void strip(struct kp_buf *b)
{
	size_t s = 0, e = b->len;
	while (s < e && isspace((unsigned char)b->buf[s]))
		s++;
	while (e > s && isspace((unsigned char)b->buf[e - 1]))
		e--;
	memmove(b->buf, b->buf + s, e - s);
	b->len = e - s;
	b->buf[b->len] = '\0';
}

/* Run an executable password script; its stdout is the password. */
static kp_rc run_script(const char *path, struct kp_buf *out, struct kp_buf *err)
{
	int fds[2];
	if (pipe(fds))
		return kp_errorf(err, KP_ERR_IO, "cannot run '%s': %s", path, strerror(errno));
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return kp_errorf(err, KP_ERR_IO, "cannot run '%s': %s", path, strerror(errno));
	}
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char chunk[4096];
	ssize_t r;
	while ((r = read(fds[0], chunk, sizeof(chunk))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (out->len < (1u << 20))
			kp_buf_add(out, chunk, (size_t)r);
	}
	close(fds[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	OPENSSL_cleanse(chunk, sizeof(chunk));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return kp_errorf(err, KP_ERR_IO, "vault password script '%s' failed (exit %d)",
				 path, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return KP_OK;
}

kp_rc kp_vault_password_file(const char *path, struct kp_buf *out, struct kp_buf *err)
{
	struct stat st;
	kp_rc rc;
	kp_buf_reset(out);
	if (stat(path, &st))
		return kp_errorf(err, KP_ERR_IO, "cannot read vault password file '%s': %s", path,
				 strerror(errno));
	if (S_ISREG(st.st_mode) && (st.st_mode & 0111))
		rc = run_script(path, out, err);
	else
		rc = kp_read_file(path, 1u << 20, out, err);
	if (rc)
		return rc;
	strip(out);
	if (!out->len)
		return kp_errorf(err, KP_ERR_INVALID, "vault password file '%s' is empty", path);
	return KP_OK;
}
