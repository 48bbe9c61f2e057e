#include "daemon/tls.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"

#define MOD "tls"

/* TLS 1.2 for old firmware: forward secrecy, ECDSA (the fleet CA's keys), AEAD only. */
#define TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" \
                      "ECDHE-ECDSA-CHACHA20-POLY1305"

static int load_key(struct vault *v, SSL_CTX *ctx)
{
	char *pem = NULL;
	size_t len = 0;
	EVP_PKEY *key = NULL;
	BIO *bio;
	int rc = vault_secret_get(v, "server-key", &pem, &len);

	if (rc != CC_OK)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	vault_secret_free(pem, len);
	if (key == NULL || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
		log_error(MOD, "the server key in the keyring is unusable");
		EVP_PKEY_free(key);
		return CC_ERR_CRYPTO;
	}
	EVP_PKEY_free(key);
	return CC_OK;
}

/* People's listener: a machine's certificate is asked for but never
 * required, and a bad one does not end the handshake. The verdict is kept
 * (SSL_get_verify_result) for the routes machines call to judge. */
static int keep_verdict(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

int tls_server_ctx(struct vault *v, int allow_tls12, int machines, SSL_CTX **out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int rc = CC_ERR_CRYPTO;

	if (ctx == NULL)
		return CC_ERR_NOMEM;
	SSL_CTX_set_min_proto_version(ctx, allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                         SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Without a cache no ticket could ever be used: TLS 1.3 would still send
	 * two per handshake (a session copy and a key derivation each). */
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
		goto out;
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		goto out;
	if (SSL_CTX_use_certificate_chain_file(ctx, vault_path(v, VAULT_SERVER_CERT)) != 1) {
		log_error(MOD, "%s: not a usable certificate", vault_path(v, VAULT_SERVER_CERT));
		goto out;
	}
	rc = load_key(v, ctx);
	if (rc != CC_OK)
		goto out;
	rc = CC_ERR_CRYPTO;
	if (SSL_CTX_check_private_key(ctx) != 1) {
		log_error(MOD, "the server key does not match %s", vault_path(v, VAULT_SERVER_CERT));
		goto out;
	}
	if (machines) {
		if (SSL_CTX_load_verify_locations(ctx, vault_path(v, VAULT_CA_CERT), NULL) != 1) {
			log_error(MOD, "%s: not a usable CA certificate", vault_path(v, VAULT_CA_CERT));
			goto out;
		}
		if (machines == TLS_CLIENT_OPTIONAL)
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, keep_verdict);
		else
			SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		SSL_CTX_set_verify_depth(ctx, 1);
	}
	*out = ctx;
	ctx = NULL;
	rc = CC_OK;
out:
	if (rc != CC_OK)
		ERR_clear_error();
	SSL_CTX_free(ctx);
	return rc;
}

int tls_peer_identity(SSL *ssl, struct tls_identity *out)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	X509_NAME *subject;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n, rc = CC_ERR_AUTH;

	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		goto out;
	subject = X509_get_subject_name(cert);
	n = X509_NAME_get_text_by_NID(subject, NID_commonName, out->common_name, sizeof(out->common_name));
	if (n <= 0 || (size_t)n >= sizeof(out->common_name) || !inventory_serial_valid(out->common_name))
		goto out;
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		goto out;
	hex_encode(md, mdlen, out->fingerprint, sizeof(out->fingerprint));
	rc = CC_OK;
out:
	X509_free(cert);
	return rc;
}

json_t *tls_describe(SSL_CTX *ctx)
{
	STACK_OF(SSL_CIPHER) *ciphers = SSL_CTX_get_ciphers(ctx);
	int min = (int)SSL_CTX_get_min_proto_version(ctx), i;
	json_t *versions = json_array(), *names = json_array();

	if (versions == NULL || names == NULL) {
		json_decref(versions);
		json_decref(names);
		return NULL;
	}
	json_array_append_new(versions, json_string("TLSv1.3"));
	if (min != 0 && min <= TLS1_2_VERSION)
		json_array_append_new(versions, json_string("TLSv1.2"));
	for (i = 0; i < sk_SSL_CIPHER_num(ciphers); i++) {
		const SSL_CIPHER *c = sk_SSL_CIPHER_value(ciphers, i);
		int v13 = strcmp(SSL_CIPHER_get_version(c), "TLSv1.3") == 0;

		/* The TLS 1.2 list is set but unused while 1.2 is off. */
		if (v13 || (min != 0 && min <= TLS1_2_VERSION))
			json_array_append_new(names, json_string(SSL_CIPHER_get_name(c)));
	}
	return json_pack("{s:o, s:o}", "versions", versions, "ciphers", names);
}
