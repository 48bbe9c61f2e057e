/* AES-256-GCM: known answers, sealing round trips, tampering, nonce freshness. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "common/codec.h"
#include "common/err.h"
#include "crypto/aead.h"

/* AES-256 cases 13-16 of the GCM specification submitted to NIST
 * (McGrew & Viega, "The Galois/Counter Mode of Operation"). */
struct kat {
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

static const struct kat kats[] = {
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "", "", "", "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "0000000000000000000000000000000000000000000000000000000000000000",
	  "000000000000000000000000", "00000000000000000000000000000000", "",
	  "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
	  "",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
	  "b094dac5d93471bdec1a502270e3cc6c" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

static int unhex(const char *s, uint8_t *out, size_t cap)
{
	return hex_decode(s, out, cap);
}

static void test_known_answers(void)
{
	size_t i;

	for (i = 0; i < sizeof(kats) / sizeof(kats[0]); i++) {
		uint8_t key[32], iv[12], pt[64], aad[32], ct[64], tag[16];
		uint8_t out[64], outtag[16], back[64];
		int klen = unhex(kats[i].key, key, sizeof(key));
		int ivlen = unhex(kats[i].iv, iv, sizeof(iv));
		int ptlen = unhex(kats[i].pt, pt, sizeof(pt));
		int aadlen = unhex(kats[i].aad, aad, sizeof(aad));
		int ctlen = unhex(kats[i].ct, ct, sizeof(ct));
		int taglen = unhex(kats[i].tag, tag, sizeof(tag));

		CHECK(klen == 32 && ivlen == 12 && ptlen == ctlen && taglen == 16 && aadlen >= 0);
		CHECK_EQ(aead_gcm_encrypt_raw(key, iv, 12, aad, (size_t)aadlen, pt, (size_t)ptlen, out, outtag), CC_OK);
		CHECK(memcmp(out, ct, (size_t)ctlen) == 0);
		CHECK(memcmp(outtag, tag, 16) == 0);
		CHECK_EQ(aead_gcm_decrypt_raw(key, iv, 12, aad, (size_t)aadlen, ct, (size_t)ctlen, tag, back), CC_OK);
		CHECK(memcmp(back, pt, (size_t)ptlen) == 0);
		tag[0] ^= 1;
		CHECK_EQ(aead_gcm_decrypt_raw(key, iv, 12, aad, (size_t)aadlen, ct, (size_t)ctlen, tag, back), CC_ERR_AUTH);
	}
}

static const char message[] = "{\"seq\":1,\"ts\":1700000000000,\"m\":{\"boiler_temp_c\":93.5}}";

static void test_round_trip(void)
{
	uint8_t key[32], blob[256], out[256];
	size_t bloblen, outlen;

	CHECK_EQ(crypto_random(key, sizeof(key)), CC_OK);
	CHECK_EQ(aead_seal(key, "row-1", 5, message, strlen(message), blob, sizeof(blob), &bloblen), CC_OK);
	CHECK_EQ(bloblen, strlen(message) + AEAD_OVERHEAD);
	CHECK(memmem(blob, bloblen, "boiler", 6) == NULL);
	CHECK_EQ(aead_open(key, "row-1", 5, blob, bloblen, out, sizeof(out), &outlen), CC_OK);
	CHECK_EQ(outlen, strlen(message));
	CHECK(memcmp(out, message, outlen) == 0);
	/* Too small an output buffer is refused, not overrun. */
	CHECK_EQ(aead_seal(key, "", 0, message, strlen(message), blob, 10, &bloblen), CC_ERR_LIMIT);
	/* An empty payload seals and opens. */
	CHECK_EQ(aead_seal(key, "", 0, "", 0, blob, sizeof(blob), &bloblen), CC_OK);
	CHECK_EQ(aead_open(key, "", 0, blob, bloblen, out, sizeof(out), &outlen), CC_OK);
	CHECK_EQ(outlen, 0);
}

static void test_every_bit_flip_fails(void)
{
	uint8_t key[32], blob[256], out[256];
	size_t bloblen, outlen, bit;
	int opened = 0;

	crypto_random(key, sizeof(key));
	aead_seal(key, "ad", 2, message, strlen(message), blob, sizeof(blob), &bloblen);
	for (bit = 0; bit < bloblen * 8; bit++) {
		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		if (aead_open(key, "ad", 2, blob, bloblen, out, sizeof(out), &outlen) == CC_OK)
			opened++;
		blob[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	CHECK_EQ(opened, 0);
	CHECK_EQ(aead_open(key, "ad", 2, blob, bloblen, out, sizeof(out), &outlen), CC_OK);
	/* Wrong associated data, wrong key, truncation: all refused. */
	CHECK_EQ(aead_open(key, "ae", 2, blob, bloblen, out, sizeof(out), &outlen), CC_ERR_AUTH);
	key[5] ^= 0x80;
	CHECK_EQ(aead_open(key, "ad", 2, blob, bloblen, out, sizeof(out), &outlen), CC_ERR_AUTH);
	key[5] ^= 0x80;
	CHECK_EQ(aead_open(key, "ad", 2, blob, bloblen - 1, out, sizeof(out), &outlen), CC_ERR_AUTH);
	CHECK_EQ(aead_open(key, "ad", 2, blob, AEAD_OVERHEAD - 1, out, sizeof(out), &outlen), CC_ERR_CORRUPT);
}

static int cmp_nonce(const void *a, const void *b) { return memcmp(a, b, AEAD_NONCE_LEN); }

static void test_million_nonces_unique(void)
{
	enum { N = 1000000 };
	uint8_t key[32], blob[64];
	uint8_t *nonces = malloc((size_t)N * AEAD_NONCE_LEN);
	size_t bloblen, i, repeats = 0, failures = 0;

	CHECK(nonces != NULL);
	if (nonces == NULL)
		return;
	crypto_random(key, sizeof(key));
	for (i = 0; i < N; i++) {
		if (aead_seal(key, NULL, 0, "x", 1, blob, sizeof(blob), &bloblen) != CC_OK)
			failures++;
		memcpy(nonces + i * AEAD_NONCE_LEN, blob + 1, AEAD_NONCE_LEN);
	}
	qsort(nonces, N, AEAD_NONCE_LEN, cmp_nonce);
	for (i = 1; i < N; i++)
		if (memcmp(nonces + (i - 1) * AEAD_NONCE_LEN, nonces + i * AEAD_NONCE_LEN, AEAD_NONCE_LEN) == 0)
			repeats++;
	CHECK_EQ(failures, 0);
	CHECK_EQ(repeats, 0);
	free(nonces);
}

/* Nonces come from a per-thread pool of CSPRNG output (aead.c): two threads
 * sealing at once never take the same bytes. */
enum { THREAD_SEALS = 2000 };

static void *seal_many(void *arg)
{
	uint8_t *nonces = arg, key[32] = { 0 }, blob[64];
	size_t bloblen, i;

	for (i = 0; i < THREAD_SEALS; i++) {
		if (aead_seal(key, NULL, 0, "x", 1, blob, sizeof(blob), &bloblen) != CC_OK)
			return NULL;
		memcpy(nonces + i * AEAD_NONCE_LEN, blob + 1, AEAD_NONCE_LEN);
	}
	return arg;
}

static void test_nonces_threads_unique(void)
{
	static uint8_t nonces[4 * THREAD_SEALS * AEAD_NONCE_LEN];
	pthread_t t[4];
	void *ret;
	size_t i, repeats = 0;

	for (i = 0; i < 4; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, seal_many, nonces + i * THREAD_SEALS * AEAD_NONCE_LEN), 0);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(pthread_join(t[i], &ret), 0);
		CHECK(ret != NULL);
	}
	qsort(nonces, 4 * THREAD_SEALS, AEAD_NONCE_LEN, cmp_nonce);
	for (i = 1; i < 4 * THREAD_SEALS; i++)
		if (memcmp(nonces + (i - 1) * AEAD_NONCE_LEN, nonces + i * AEAD_NONCE_LEN, AEAD_NONCE_LEN) == 0)
			repeats++;
	CHECK_EQ(repeats, 0);
}

/* A forked child must not take the nonces its parent's pool still holds:
 * after fork both seal once, and the two nonces differ. */
static void test_nonces_fork_differ(void)
{
	uint8_t key[32] = { 0 }, blob[64], child_nonce[AEAD_NONCE_LEN];
	size_t bloblen;
	int fds[2], status;
	pid_t pid;

	CHECK_EQ(aead_seal(key, NULL, 0, "x", 1, blob, sizeof(blob), &bloblen), CC_OK); /* pool filled */
	CHECK_EQ(pipe(fds), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		int ok = aead_seal(key, NULL, 0, "x", 1, blob, sizeof(blob), &bloblen) == CC_OK &&
		         write(fds[1], blob + 1, AEAD_NONCE_LEN) == AEAD_NONCE_LEN;

		_exit(ok ? 0 : 1);
	}
	close(fds[1]);
	CHECK_EQ(aead_seal(key, NULL, 0, "x", 1, blob, sizeof(blob), &bloblen), CC_OK);
	CHECK_EQ(read(fds[0], child_nonce, AEAD_NONCE_LEN), AEAD_NONCE_LEN);
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(memcmp(child_nonce, blob + 1, AEAD_NONCE_LEN) != 0);
}

static void test_codecs(void)
{
	uint8_t bytes[64], back[64];
	char text[128];
	int n;

	for (n = 0; n < 64; n++)
		bytes[n] = (uint8_t)(n * 37 + 11);
	for (n = 0; n <= 10; n++) {
		CHECK_EQ(b64_encode(bytes, (size_t)n, text, sizeof(text)), CC_OK);
		CHECK_EQ(b64_decode(text, back, sizeof(back)), n);
		CHECK(memcmp(back, bytes, (size_t)n) == 0);
		CHECK_EQ(hex_encode(bytes, (size_t)n, text, sizeof(text)), CC_OK);
		CHECK_EQ(hex_decode(text, back, sizeof(back)), n);
		CHECK(memcmp(back, bytes, (size_t)n) == 0);
	}
	CHECK_EQ(b64_decode("A=AA", back, sizeof(back)), CC_ERR_INVALID);
	CHECK_EQ(b64_decode("AAA", back, sizeof(back)), CC_ERR_INVALID);
	CHECK_EQ(b64_decode("AA*A", back, sizeof(back)), CC_ERR_INVALID);
	CHECK_EQ(hex_decode("abc", back, sizeof(back)), CC_ERR_INVALID);
	CHECK_EQ(hex_decode("zz", back, sizeof(back)), CC_ERR_INVALID);
	CHECK_EQ(hex_decode("0011", back, 1), CC_ERR_LIMIT);
}

int main(void)
{
	RUN(test_known_answers);
	RUN(test_round_trip);
	RUN(test_every_bit_flip_fails);
	RUN(test_million_nonces_unique);
	RUN(test_nonces_threads_unique);
	RUN(test_nonces_fork_differ);
	RUN(test_codecs);
	return check_summary();
}
