#include "fleet/erasure.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/clock.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "fleet/inventory.h"

#define MOD "erasure"

static int count_machine(void *arg, const struct store_machine *m)
{
	(void)m;
	(*(json_int_t *)arg)++;
	return 0;
}

/* ECDSA-SHA256 over data with the server key from the keyring. */
static int sign(struct vault *v, const char *data, size_t len, char **sig_b64)
{
	char *pem = NULL;
	size_t pem_len = 0, siglen = 0;
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char *sig = NULL;
	BIO *bio;
	int rc = vault_secret_get(v, "server-key", &pem, &pem_len);

	if (rc != CC_OK)
		return rc;
	bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (bio != NULL)
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	vault_secret_free(pem, pem_len);
	rc = CC_ERR_CRYPTO;
	md = EVP_MD_CTX_new();
	if (key == NULL || md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)data, len) != 1)
		goto out;
	sig = malloc(siglen);
	*sig_b64 = malloc(B64_ENCODED_LEN(siglen));
	if (sig == NULL || *sig_b64 == NULL ||
	    EVP_DigestSign(md, sig, &siglen, (const unsigned char *)data, len) != 1 ||
	    b64_encode(sig, siglen, *sig_b64, B64_ENCODED_LEN(siglen)) != CC_OK) {
		free(*sig_b64);
		*sig_b64 = NULL;
		goto out;
	}
	rc = CC_OK;
out:
	if (rc != CC_OK) {
		log_error(MOD, "the receipt could not be signed");
		ERR_clear_error();
	}
	free(sig);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	return rc;
}

int erasure_delete_customer(struct vault *v, const char *customer, const char *deleted_by, char **receipt)
{
	struct store *s = vault_store(v);
	struct store_org cust;
	json_int_t machines = 0;
	json_t *body = NULL, *doc = NULL;
	char *canonical = NULL, *sig = NULL, when[40];
	int rc = inventory_org_find(v, customer, &cust);

	if (rc == CC_OK && cust.kind != ORG_CUSTOMER) {
		log_error(MOD, "'%s' is not a customer", customer);
		rc = CC_ERR_INVALID;
	}
	if (rc == CC_OK)
		rc = s->ops->machine_list(s, cust.id, count_machine, &machines);
	if (rc == CC_OK)
		rc = inventory_customer_delete(v, customer);
	if (rc != CC_OK)
		return rc;
	/* Deleted: from here on a failure only costs the receipt, never the deletion. */
	clock_format_iso(clock_now_ms(), when, sizeof(when));
	body = json_pack("{s:s, s:I, s:s, s:s, s:I, s:b, s:b, s:b}", "customer", cust.name, "customer_id",
	                 (json_int_t)cust.id, "deleted_at", when, "deleted_by", deleted_by, "machines", machines,
	                 "rows_deleted", 1, "certificates_revoked", 1, "data_key_destroyed", 1);
	canonical = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	rc = canonical ? sign(v, canonical, strlen(canonical), &sig) : CC_ERR_NOMEM;
	if (rc == CC_OK) {
		doc = json_pack("{s:s, s:s, s:s, s:s}", "receipt", canonical, "signature", sig, "algorithm",
		                "ECDSA-P256-SHA256", "signed_by", "server.crt of this installation");
		*receipt = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
		rc = *receipt ? CC_OK : CC_ERR_NOMEM;
	}
	json_decref(doc);
	json_decref(body);
	free(canonical);
	free(sig);
	return rc;
}
