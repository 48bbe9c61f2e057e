#include "crypto/password.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <argon2.h>
#include <crack.h>

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

/* cracklib keeps static state and is not thread-safe. */
static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;

/* Has some unit of at most half the length repeated to make up text? */
static int repeats(const char *text, size_t len)
{
	size_t period, i;

	for (period = 1; period <= len / 2; period++) {
		for (i = period; i < len && text[i] == text[i - period]; i++)
			;
		if (i == len)
			return 1;
	}
	return 0;
}

/* Does text contain needle, ignoring ASCII case? */
static int contains_nocase(const char *text, const char *needle)
{
	size_t n = strlen(needle), t = strlen(text), i, j;

	for (i = 0; n > 0 && i + n <= t; i++) {
		for (j = 0; j < n && tolower((unsigned char)text[i + j]) == tolower((unsigned char)needle[j]); j++)
			;
		if (j == n)
			return 1;
	}
	return 0;
}

/* The word a password is built on: without the digits and symbols around
 * it, lower case, look-alikes swapped back ("P@ssw0rd2024!" -> "password"). */
static void core_word(const char *pw, char *out, size_t cap)
{
	static const char from[] = "@4310!$57", to[] = "aaeioisst";
	size_t start = 0, end = strlen(pw), n = 0;

	while (start < end && !isalpha((unsigned char)pw[start]))
		start++;
	while (end > start && !isalpha((unsigned char)pw[end - 1]))
		end--;
	for (; start < end && n + 1 < cap; start++) {
		const char *swap = strchr(from, pw[start]);

		out[n++] = swap != NULL && *swap != '\0' ? to[swap - from] : (char)tolower((unsigned char)pw[start]);
	}
	out[n] = '\0';
}

/* cracklib's verdict on one candidate, or NULL when it sees no weakness. */
static const char *crack_verdict(const char *candidate, const char *login)
{
	const char *dict = GetDefaultCracklibDict();

	/* The login as gecos too: cracklib then leaves the password file alone. */
	return FascistCheckUser(candidate, dict, login != NULL ? login : "", login != NULL ? login : "");
}

int password_quality(const char *password, const char *login, char *why, size_t cap)
{
	size_t len = strlen(password), i, distinct = 0, most = 0;
	unsigned counts[256] = { 0 };
	char core[PASSWORD_MAX_LEN + 1];
	const char *verdict = NULL, *problem = NULL;

	if (len < PASSWORD_MIN_LEN) {
		snprintf(why, cap, "a password needs at least %d characters", PASSWORD_MIN_LEN);
		return CC_ERR_INVALID;
	}
	if (len > PASSWORD_MAX_LEN) {
		snprintf(why, cap, "a password takes at most %d bytes", PASSWORD_MAX_LEN);
		return CC_ERR_INVALID;
	}
	for (i = 0; i < len; i++) {
		unsigned c = ++counts[(unsigned char)password[i]];

		distinct += c == 1;
		most = c > most ? c : most;
	}
	if (distinct < 5)
		problem = "it has too few different characters";
	else if (most * 2 > len)
		problem = "it is mostly one character";
	else if (repeats(password, len))
		problem = "it is a short sequence repeated";
	else if (login != NULL && strlen(login) >= 3 && contains_nocase(password, login))
		problem = "it contains the login";
	else if (contains_nocase(password, "coffeecloud"))
		problem = "it contains the name of this service";
	if (problem == NULL) {
		pthread_mutex_lock(&crack_lock);
		verdict = crack_verdict(password, login);
		core_word(password, core, sizeof(core));
		/* Shorter words than cracklib's minimum stand on the rest. */
		if (verdict == NULL && strlen(core) >= 6 && strcmp(core, password) != 0)
			verdict = crack_verdict(core, login);
		if (verdict != NULL && strstr(verdict, "error loading") != NULL)
			snprintf(why, cap, "the password dictionary (cracklib-runtime) cannot be read");
		else if (verdict != NULL && strstr(verdict, "dictionary word") != NULL)
			snprintf(why, cap, "it is a common password or built on a dictionary word");
		else if (verdict != NULL)
			snprintf(why, cap, "it is too weak (%s)", verdict);
		pthread_mutex_unlock(&crack_lock);
		crypto_wipe(core, sizeof(core));
		return verdict != NULL ? CC_ERR_INVALID : CC_OK;
	}
	snprintf(why, cap, "%s", problem);
	return CC_ERR_INVALID;
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
	char why[PASSWORD_WHY_MAX];
	uint8_t r;
	size_t i;
	int rc, tries;

	if (cap <= len)
		return CC_ERR_LIMIT;
	/* A random draw that the quality rules refuse (a dictionary word by
	 * chance, too few different characters when short) is drawn again. */
	for (tries = 0; tries < 16; tries++) {
		for (i = 0; i < len;) {
			rc = crypto_random(&r, 1);
			if (rc != CC_OK)
				return rc;
			/* Rejection sampling keeps every character equally likely. */
			if (r >= 256 - 256 % n)
				continue;
			out[i++] = alphabet[r % n];
		}
		out[len] = '\0';
		if (len < PASSWORD_MIN_LEN || password_quality(out, NULL, why, sizeof(why)) == CC_OK)
			return CC_OK;
	}
	crypto_wipe(out, cap);
	return CC_ERR_CRYPTO;
}
