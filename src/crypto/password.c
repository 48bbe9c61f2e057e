#include "crypto/password.h"

#include <string.h>

#include <argon2.h>

#include "common/err.h"
#include "common/limits.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "password"
#define T_COST 3
#define M_COST_KIB (64 * 1024)
#define PARALLELISM 1
#define SALT_LEN 16
#define HASH_LEN 32

int password_hash(const char *password, char *out, size_t cap)
{
	uint8_t salt[SALT_LEN];
	size_t len = strlen(password);
	int rc;

	if (len < PASSWORD_MIN_LEN || len > PASSWORD_MAX_LEN) {
		log_error(MOD, "a password must be %d to %d characters long", PASSWORD_MIN_LEN,
		          PASSWORD_MAX_LEN);
		return CC_ERR_INVALID;
	}
	if (cap < CC_PASSWORD_HASH_MAX + 1)
		return CC_ERR_LIMIT;
	rc = crypto_random(salt, sizeof(salt));
	if (rc != CC_OK)
		return rc;
	rc = argon2id_hash_encoded(T_COST, M_COST_KIB, PARALLELISM, password, len, salt, sizeof(salt),
	                           HASH_LEN, out, cap);
	if (rc != ARGON2_OK) {
		log_error(MOD, "hashing failed: %s", argon2_error_message(rc));
		return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? CC_ERR_NOMEM : CC_ERR_CRYPTO;
	}
	return CC_OK;
}

int password_verify(const char *password, const char *encoded)
{
	size_t len = strlen(password);
	int rc;

	if (strncmp(encoded, "$argon2id$", 10) != 0)
		return CC_ERR_INVALID;
	if (len > PASSWORD_MAX_LEN)
		return CC_ERR_AUTH;
	rc = argon2id_verify(encoded, password, len);
	if (rc == ARGON2_OK)
		return CC_OK;
	if (rc == ARGON2_VERIFY_MISMATCH)
		return CC_ERR_AUTH;
	return rc == ARGON2_MEMORY_ALLOCATION_ERROR ? CC_ERR_NOMEM : CC_ERR_INVALID;
}

int password_generate(char *out, size_t cap, size_t len)
{
	/* No 0/O, 1/l/I: a printed password is read and typed by people. */
	static const char alphabet[] = "23456789abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
	const size_t n = sizeof(alphabet) - 1;
	uint8_t r;
	size_t i = 0;
	int rc;

	if (cap <= len)
		return CC_ERR_LIMIT;
	while (i < len) {
		rc = crypto_random(&r, 1);
		if (rc != CC_OK)
			return rc;
		/* Rejection sampling keeps every character equally likely. */
		if (r >= 256 - 256 % n)
			continue;
		out[i++] = alphabet[r % n];
	}
	out[len] = '\0';
	return CC_OK;
}
