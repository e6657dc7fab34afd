/*
 * pki.c - reading certificates and keys with OpenSSL for cert-copy: what a
 * file holds (certificate, private key, public key), a certificate's
 * subject, issuer, SANs and validity, and whether a private key belongs to
 * a certificate (X509_check_private_key) or a public key.
 *
 * Key material only ever passes through OpenSSL's memory BIOs here; no
 * function puts any of it into a message. Encrypted keys are never
 * prompted for: the password callback refuses.
 */
#include "modules/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

unsigned kp_pki_classify(const char *data, size_t len)
{
	unsigned k = 0;
	/* the PEM labels openssl and kubeadm write (memmem: data may hold NULs) */
	static const struct {
		const char *label;
		unsigned kind;
	} labels[] = {
	    {"-----BEGIN CERTIFICATE-----", KP_PKI_CERT},
	    {"-----BEGIN TRUSTED CERTIFICATE-----", KP_PKI_CERT},
	    {"-----BEGIN PRIVATE KEY-----", KP_PKI_KEY},
	    {"-----BEGIN RSA PRIVATE KEY-----", KP_PKI_KEY},
	    {"-----BEGIN EC PRIVATE KEY-----", KP_PKI_KEY},
	    {"-----BEGIN ENCRYPTED PRIVATE KEY-----", KP_PKI_KEY},
	    {"-----BEGIN OPENSSH PRIVATE KEY-----", KP_PKI_KEY},
	    {"-----BEGIN PUBLIC KEY-----", KP_PKI_PUBKEY},
	    {"-----BEGIN RSA PUBLIC KEY-----", KP_PKI_PUBKEY},
	};
	for (size_t i = 0; i < KP_ARRAY_LEN(labels); i++)
		if (memmem(data, len, labels[i].label, strlen(labels[i].label)))
			k |= labels[i].kind;
	/* kubeconfigs embed keys base64-encoded: treat them as key material too */
	if (memmem(data, len, "client-key-data:", 16))
		k |= KP_PKI_KEY;
	return k;
}

static int no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;
}

void kp_cert_info_release(struct kp_cert_info *ci)
{
	free(ci->subject);
	free(ci->issuer);
	for (size_t i = 0; i < ci->nsans; i++)
		free(ci->sans[i]);
	free(ci->sans);
	memset(ci, 0, sizeof(*ci));
}

static char *name_text(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char *p;
	long len = BIO_get_mem_data(b, &p);
	char *s = kp_xstrndup(p, len > 0 ? (size_t)len : 0);
	BIO_free(b);
	return s;
}

static int64_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static void add_san(struct kp_cert_info *ci, size_t *cap, char *s)
{
	KP_GROW(ci->sans, ci->nsans + 1, *cap);
	ci->sans[ci->nsans++] = s;
}

static void read_sans(X509 *x, struct kp_cert_info *ci)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t cap = 0;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		struct kp_buf b = KP_BUF_INIT;
		switch (g->type) {
		case GEN_DNS:
			kp_buf_addf(&b, "DNS:%.*s", ASN1_STRING_length(g->d.dNSName),
				    (const char *)ASN1_STRING_get0_data(g->d.dNSName));
			break;
		case GEN_EMAIL:
			kp_buf_addf(&b, "email:%.*s", ASN1_STRING_length(g->d.rfc822Name),
				    (const char *)ASN1_STRING_get0_data(g->d.rfc822Name));
			break;
		case GEN_URI:
			kp_buf_addf(
			    &b, "URI:%.*s", ASN1_STRING_length(g->d.uniformResourceIdentifier),
			    (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier));
			break;
		case GEN_IPADD: {
			const unsigned char *ip = ASN1_STRING_get0_data(g->d.iPAddress);
			int n = ASN1_STRING_length(g->d.iPAddress);
			if (n == 4) {
				kp_buf_addf(&b, "IP:%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
			} else if (n == 16) {
				kp_buf_addstr(&b, "IP:");
				for (int j = 0; j < 16; j += 2)
					kp_buf_addf(&b, "%s%x", j ? ":" : "",
						    (unsigned)(ip[j] << 8 | ip[j + 1]));
			}
			break;
		}
		default:
			break;
		}
		if (b.len)
			add_san(ci, &cap, kp_buf_detach(&b, NULL));
		kp_buf_release(&b);
	}
	GENERAL_NAMES_free(gens);
}

static X509 *read_cert(const void *data, size_t len)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	X509 *x = PEM_read_bio_X509(b, NULL, no_password, NULL);
	if (!x) {
		/* DER */
		const unsigned char *p = data;
		x = d2i_X509(NULL, &p, (long)len);
	}
	BIO_free(b);
	ERR_clear_error();
	return x;
}

kp_rc kp_pki_cert_info(const void *data, size_t len, struct kp_cert_info *ci, struct kp_buf *err)
{
	memset(ci, 0, sizeof(*ci));
	X509 *x = read_cert(data, len);
	if (!x)
		return kp_errorf(err, KP_ERR_PARSE, "not a certificate OpenSSL can read");
	ci->subject = name_text(X509_get_subject_name(x));
	ci->issuer = name_text(X509_get_issuer_name(x));
	ci->not_before = asn1_time(X509_get0_notBefore(x));
	ci->not_after = asn1_time(X509_get0_notAfter(x));
	ci->ca = X509_check_ca(x) > 0;
	read_sans(x, ci);
	X509_free(x);
	return KP_OK;
}

static EVP_PKEY *read_key(const void *data, size_t len)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, no_password, NULL);
	BIO_free(b);
	ERR_clear_error();
	return k;
}

kp_rc kp_pki_key_matches_cert(const void *cert, size_t clen, const void *key, size_t klen,
			      bool *match, struct kp_buf *err)
{
	X509 *x = read_cert(cert, clen);
	if (!x)
		return kp_errorf(err, KP_ERR_PARSE, "not a certificate OpenSSL can read");
	EVP_PKEY *k = read_key(key, klen);
	if (!k) {
		X509_free(x);
		return kp_errorf(err, KP_ERR_PARSE,
				 "not a private key OpenSSL can read (encrypted keys are not "
				 "supported)");
	}
	*match = X509_check_private_key(x, k) == 1;
	ERR_clear_error();
	EVP_PKEY_free(k);
	X509_free(x);
	return KP_OK;
}

kp_rc kp_pki_key_matches_pub(const void *pub, size_t plen, const void *key, size_t klen,
			     bool *match, struct kp_buf *err)
{
	BIO *b = BIO_new_mem_buf(pub, (int)plen);
	EVP_PKEY *p = PEM_read_bio_PUBKEY(b, NULL, no_password, NULL);
	BIO_free(b);
	ERR_clear_error();
	if (!p)
		return kp_errorf(err, KP_ERR_PARSE, "not a public key OpenSSL can read");
	EVP_PKEY *k = read_key(key, klen);
	if (!k) {
		EVP_PKEY_free(p);
		return kp_errorf(err, KP_ERR_PARSE, "not a private key OpenSSL can read");
	}
	*match = EVP_PKEY_eq(p, k) == 1;
	ERR_clear_error();
	EVP_PKEY_free(k);
	EVP_PKEY_free(p);
	return KP_OK;
}

int64_t kp_pki_days_left(int64_t not_after, int64_t now)
{
	int64_t s = not_after - now;
	/* whole days, rounded down (-0.5 days is -1: expired) */
	return s >= 0 ? s / 86400 : -((-s + 86399) / 86400);
}

void kp_pki_time_text(int64_t t, struct kp_buf *out)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char s[32];
	gmtime_r(&tt, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	kp_buf_addstr(out, s);
}
