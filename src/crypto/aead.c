#include "crypto/aead.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/log.h"

#define MOD "crypto"

/* Fetch the cipher once: OpenSSL 3's implicit fetch per call is measurably slow. */
static EVP_CIPHER *gcm_cipher;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void gcm_fetch(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

static const EVP_CIPHER *gcm(void)
{
	pthread_once(&gcm_once, gcm_fetch);
	return gcm_cipher;
}

int crypto_random(void *buf, size_t n)
{
	if (n > INT_MAX || RAND_bytes(buf, (int)n) != 1) {
		log_error(MOD, "the random number generator failed");
		return CC_ERR_CRYPTO;
	}
	return CC_OK;
}

void crypto_wipe(void *p, size_t n)
{
	if (p != NULL)
		OPENSSL_cleanse(p, n);
}

int crypto_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

static int gcm_run(int enc, const uint8_t *key, const uint8_t *iv, size_t ivlen,
                   const void *ad, size_t adlen, const void *in, size_t inlen,
                   uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx;
	const EVP_CIPHER *cipher = gcm();
	int n, rc = CC_ERR_CRYPTO;

	if (cipher == NULL || inlen > INT_MAX || adlen > INT_MAX || ivlen == 0 || ivlen > 128)
		return CC_ERR_CRYPTO;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return CC_ERR_NOMEM;
	if (EVP_CipherInit_ex(ctx, cipher, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)ivlen, NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1)
		goto out;
	if (adlen > 0 && EVP_CipherUpdate(ctx, NULL, &n, ad, (int)adlen) != 1)
		goto out;
	if (inlen > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)inlen) != 1)
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, AEAD_TAG_LEN, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + inlen, &n) != 1) {
		rc = enc ? CC_ERR_CRYPTO : CC_ERR_AUTH;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, AEAD_TAG_LEN, tag) != 1)
		goto out;
	rc = CC_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int aead_gcm_encrypt_raw(const uint8_t key[AEAD_KEY_LEN], const uint8_t *iv, size_t ivlen,
                         const void *ad, size_t adlen, const void *pt, size_t ptlen,
                         uint8_t *ct, uint8_t tag[AEAD_TAG_LEN])
{
	return gcm_run(1, key, iv, ivlen, ad, adlen, pt, ptlen, ct, tag);
}

int aead_gcm_decrypt_raw(const uint8_t key[AEAD_KEY_LEN], const uint8_t *iv, size_t ivlen,
                         const void *ad, size_t adlen, const void *ct, size_t ctlen,
                         const uint8_t tag[AEAD_TAG_LEN], uint8_t *pt)
{
	uint8_t tag_copy[AEAD_TAG_LEN];
	int rc;

	memcpy(tag_copy, tag, AEAD_TAG_LEN);
	rc = gcm_run(0, key, iv, ivlen, ad, adlen, ct, ctlen, pt, tag_copy);
	if (rc != CC_OK)
		crypto_wipe(pt, ctlen);
	return rc;
}

/*
 * Nonces. Each seal takes a fresh random 96-bit nonce, as before; only the
 * way the random bytes are fetched changed. RAND_bytes costs about as much
 * per call as sealing a telemetry message (docs/PERFORMANCE.md), so each
 * thread fetches 341 nonces' worth (4,092 bytes) of CSPRNG output in one
 * call and hands them out 12 bytes at a time:
 *   - every byte is used once: a nonce is wiped from the pool as it is taken,
 *     and the pool is refilled only when fewer than 12 bytes are left;
 *   - one pool per thread (thread-local), so two threads never share bytes;
 *   - a forked child discards the pool it inherited (pthread_atfork bumps a
 *     generation), or parent and child would seal with the same nonces;
 *   - the bytes are RAND_bytes output like before, so nonces under one key
 *     stay independent and uniform whatever the process, thread, restart or
 *     daemon (several daemons sharing an organisation key in a cluster
 *     included): a collision among random 96-bit nonces is the birthday
 *     bound, 2^-33 after 2^32 seals under one key (NIST SP 800-38D's limit
 *     for random nonces). A counter-based nonce would need state that
 *     survives restarts and is shared between daemons; random needs none.
 * Nonces are public (they are stored in the blob), so bytes left in a pool
 * when a thread ends disclose nothing that matters.
 */
#define NONCE_POOL (341 * AEAD_NONCE_LEN)

struct nonce_pool {
	uint8_t bytes[NONCE_POOL];
	size_t used;          /* bytes taken from the front; NONCE_POOL = empty */
	unsigned generation;  /* fork_generation when filled */
	int filled;
};

static _Thread_local struct nonce_pool nonces;
static unsigned fork_generation;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void nonce_forked(void)
{
	fork_generation++;
}

static void nonce_atfork(void)
{
	pthread_atfork(NULL, NULL, nonce_forked);
}

static int nonce_take(uint8_t nonce[AEAD_NONCE_LEN])
{
	struct nonce_pool *p = &nonces;
	int rc;

	pthread_once(&fork_once, nonce_atfork);
	if (!p->filled || p->generation != fork_generation || NONCE_POOL - p->used < AEAD_NONCE_LEN) {
		p->filled = 0;
		rc = crypto_random(p->bytes, NONCE_POOL);
		if (rc != CC_OK) {
			crypto_wipe(p->bytes, NONCE_POOL);
			return rc;
		}
		p->used = 0;
		p->generation = fork_generation;
		p->filled = 1;
	}
	memcpy(nonce, p->bytes + p->used, AEAD_NONCE_LEN);
	crypto_wipe(p->bytes + p->used, AEAD_NONCE_LEN);
	p->used += AEAD_NONCE_LEN;
	return CC_OK;
}

int aead_seal(const uint8_t key[AEAD_KEY_LEN], const void *ad, size_t adlen,
              const void *pt, size_t ptlen, uint8_t *out, size_t cap, size_t *outlen)
{
	uint8_t *nonce = out + 1;
	int rc;

	if (ptlen > SIZE_MAX - AEAD_OVERHEAD || cap < ptlen + AEAD_OVERHEAD)
		return CC_ERR_LIMIT;
	out[0] = AEAD_VERSION;
	rc = nonce_take(nonce);
	if (rc != CC_OK)
		return rc;
	rc = gcm_run(1, key, nonce, AEAD_NONCE_LEN, ad, adlen, pt, ptlen,
	             out + 1 + AEAD_NONCE_LEN, out + 1 + AEAD_NONCE_LEN + ptlen);
	if (rc != CC_OK)
		return rc;
	*outlen = ptlen + AEAD_OVERHEAD;
	return CC_OK;
}

int aead_open(const uint8_t key[AEAD_KEY_LEN], const void *ad, size_t adlen,
              const uint8_t *blob, size_t bloblen, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t ctlen;
	int rc;

	if (bloblen < AEAD_OVERHEAD || blob[0] != AEAD_VERSION)
		return CC_ERR_CORRUPT;
	ctlen = bloblen - AEAD_OVERHEAD;
	if (cap < ctlen)
		return CC_ERR_LIMIT;
	rc = aead_gcm_decrypt_raw(key, blob + 1, AEAD_NONCE_LEN, ad, adlen,
	                          blob + 1 + AEAD_NONCE_LEN, ctlen,
	                          blob + 1 + AEAD_NONCE_LEN + ctlen, out);
	if (rc != CC_OK)
		return rc;
	*outlen = ctlen;
	return CC_OK;
}
