/* Ed25519 and the installation's signing key: RFC 8032's known answers,
 * tampering refused, PEM round trip, and one key per installation that
 * survives reopening and never appears on disk in the clear. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "common/codec.h"
#include "common/err.h"
#include "common/file.h"
#include "crypto/ed25519.h"
#include "setup/setup.h"
#include "vault/signing.h"
#include "vault/vault.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte). */
static const struct {
	const char *seed, *pub, *msg, *sig;
} rfc[] = {
	{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
};

static void test_rfc8032_vectors(void)
{
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		uint8_t seed[32], pub[32], want_pub[32], sig[64], want_sig[64], msg[1];
		size_t mlen = strlen(rfc[i].msg) / 2;

		unhex(rfc[i].seed, seed, 32);
		unhex(rfc[i].pub, want_pub, 32);
		unhex(rfc[i].sig, want_sig, 64);
		unhex(rfc[i].msg, msg, mlen);
		CHECK_EQ(ed25519_public(seed, pub), CC_OK);
		CHECK(memcmp(pub, want_pub, 32) == 0);
		CHECK_EQ(ed25519_sign(seed, msg, mlen, sig), CC_OK);
		CHECK(memcmp(sig, want_sig, 64) == 0);
		CHECK_EQ(ed25519_verify(pub, msg, mlen, sig), CC_OK);
	}
}

static void test_tampering_refused(void)
{
	uint8_t seed[32], other[32], pub[32], other_pub[32], sig[64];
	const char doc[] = "{\"site\":\"cafe-a\",\"cleanings\":3}";

	CHECK_EQ(ed25519_generate(seed), CC_OK);
	CHECK_EQ(ed25519_generate(other), CC_OK);
	CHECK_EQ(ed25519_public(seed, pub), CC_OK);
	CHECK_EQ(ed25519_public(other, other_pub), CC_OK);
	CHECK_EQ(ed25519_sign(seed, doc, strlen(doc), sig), CC_OK);
	CHECK_EQ(ed25519_verify(pub, doc, strlen(doc), sig), CC_OK);
	/* One changed character, a shorter document, another key, a flipped signature bit. */
	CHECK_EQ(ed25519_verify(pub, "{\"site\":\"cafe-a\",\"cleanings\":4}", strlen(doc), sig), CC_ERR_AUTH);
	CHECK_EQ(ed25519_verify(pub, doc, strlen(doc) - 1, sig), CC_ERR_AUTH);
	CHECK_EQ(ed25519_verify(other_pub, doc, strlen(doc), sig), CC_ERR_AUTH);
	sig[10] ^= 1;
	CHECK_EQ(ed25519_verify(pub, doc, strlen(doc), sig), CC_ERR_AUTH);
}

static void test_pem_round_trip(void)
{
	uint8_t seed[32], pub[32], back[32];
	char *pem = NULL, id[65];
	static const char rsa_or_junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

	CHECK_EQ(ed25519_generate(seed), CC_OK);
	CHECK_EQ(ed25519_public(seed, pub), CC_OK);
	CHECK_EQ(ed25519_public_pem(pub, &pem), CC_OK);
	CHECK(pem != NULL && strncmp(pem, "-----BEGIN PUBLIC KEY-----\n", 27) == 0);
	CHECK_EQ(ed25519_public_from_pem(pem, strlen(pem), back), CC_OK);
	CHECK(memcmp(pub, back, 32) == 0);
	CHECK_EQ(ed25519_public_from_pem(rsa_or_junk, strlen(rsa_or_junk), back), CC_ERR_INVALID);
	CHECK_EQ(ed25519_key_id(pub, id), CC_OK);
	CHECK_EQ(strlen(id), 64);
	free(pem);
}

static void test_installation_key(void)
{
	struct setup_opts o = { 0 };
	struct setup_result r;
	struct vault *v = NULL;
	struct signing_key a, b;
	char dir[900], sig[SIGNING_SIG_B64_LEN], keyring[1200];
	uint8_t raw[66];
	unsigned char *file = NULL;
	size_t len = 0;

	check_tmpdir(dir, sizeof(dir), "signing");
	strncat(dir, "/data", sizeof(dir) - strlen(dir) - 1);
	o.dir = dir;
	o.manufacturer = "acme";
	o.admin_login = "admin";
	o.admin_password = "correct horse battery staple";
	CHECK_EQ(setup_init(&o, &r), CC_OK);
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(signing_key_load(v, &a), CC_OK);
	CHECK_EQ(signing_sign_b64(&a, "report", 6, sig), CC_OK);
	CHECK_EQ(b64_decode(sig, raw, sizeof(raw)), 64);
	CHECK_EQ(ed25519_verify(a.pub, "report", 6, raw), CC_OK);
	snprintf(keyring, sizeof(keyring), "%s", vault_path(v, VAULT_KEYRING));
	vault_close(v);

	/* Reopened: the same key, made once. */
	CHECK_EQ(vault_open(dir, NULL, &v), CC_OK);
	CHECK_EQ(signing_key_load(v, &b), CC_OK);
	CHECK(memcmp(a.pub, b.pub, 32) == 0);
	CHECK_STR(a.id, b.id);
	vault_close(v);

	/* Sealed in the keyring: the seed is not in the file. */
	CHECK_EQ(file_read_all(keyring, 1u << 20, &file, &len), CC_OK);
	CHECK(file != NULL && memmem(file, len, a.seed, 32) == NULL);
	free(file);
	signing_key_wipe(&a);
	signing_key_wipe(&b);
}

int main(void)
{
	RUN(test_rfc8032_vectors);
	RUN(test_tampering_refused);
	RUN(test_pem_round_trip);
	RUN(test_installation_key);
	return check_summary();
}
