#include "crypto/totp.h"

#include <string.h>

#include <openssl/evp.h>

#include "common/codec.h"
#include "common/err.h"
#include "common/log.h"
#include "crypto/aead.h"

#define MOD "totp"
#define SHA1_LEN 20
#define CODE_MAX 8
#define STR_(x) #x
#define STR(x) STR_(x)

static int secret_ok(const uint8_t *secret, size_t secret_len)
{
	return secret != NULL && secret_len >= TOTP_SECRET_MIN && secret_len <= TOTP_SECRET_MAX;
}

/* HOTP into code[digits + 1]; the caller has checked its arguments. */
static int hotp_compute(const uint8_t *secret, size_t secret_len, uint64_t counter,
                        unsigned digits, char *code)
{
	uint8_t msg[8], mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	uint32_t bin;
	unsigned off, i;
	int rc = CC_ERR_CRYPTO;

	for (i = 0; i < 8; i++)
		msg[i] = (uint8_t)(counter >> (56 - 8 * i));
	/* EVP_Q_mac rather than HMAC(): one call, no deprecated HMAC_CTX. */
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, secret, secret_len, msg, sizeof(msg),
	              mac, sizeof(mac), &maclen) == NULL || maclen != SHA1_LEN) {
		log_error(MOD, "HMAC-SHA1 failed");
		goto out;
	}
	/* Dynamic truncation (RFC 4226 5.3): 31 bits from an offset the MAC picks. */
	off = mac[SHA1_LEN - 1] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	      (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
	for (i = digits; i > 0; i--) {
		code[i - 1] = (char)('0' + bin % 10);
		bin /= 10;
	}
	code[digits] = '\0';
	rc = CC_OK;
out:
	crypto_wipe(mac, sizeof(mac));
	return rc;
}

int totp_hotp(const uint8_t *secret, size_t secret_len, uint64_t counter, unsigned digits, char *out)
{
	char code[CODE_MAX + 1];
	int rc;

	if (!secret_ok(secret, secret_len) || digits < 6 || digits > CODE_MAX || out == NULL)
		return CC_ERR_INVALID;
	rc = hotp_compute(secret, secret_len, counter, digits, code);
	if (rc == CC_OK)
		memcpy(out, code, digits + 1);
	crypto_wipe(code, sizeof(code));
	return rc;
}

int64_t totp_step(int64_t now_ms)
{
	const int64_t period_ms = (int64_t)TOTP_PERIOD_S * 1000;
	int64_t q = now_ms / period_ms;

	/* C division truncates towards zero; a step is a floor. */
	if (now_ms % period_ms < 0)
		q--;
	return q;
}

static int code_ok(const char *code)
{
	int i;

	if (code == NULL)
		return 0;
	/* Stops at the NUL of a short code: '\0' is not a digit. */
	for (i = 0; i < TOTP_DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	return code[TOTP_DIGITS] == '\0';
}

int totp_verify(const uint8_t *secret, size_t secret_len, const char *code, int64_t now_ms,
                int64_t last_step, int64_t *matched_step)
{
	char cand[TOTP_DIGITS + 1];
	int64_t now, step;
	uint64_t best = 0, found = 0;
	int d, rc = CC_OK;

	if (!code_ok(code) || !secret_ok(secret, secret_len) || matched_step == NULL)
		return CC_ERR_INVALID;
	now = totp_step(now_ms);
	/* No branch depends on a comparison until every candidate is done, so
	 * the time taken says neither whether nor where the code matched. The
	 * latest matching step wins: reporting an earlier one would let the same
	 * code pass again through the later step. */
	for (d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) {
		uint64_t match, mask;

		step = now + d;
		if (hotp_compute(secret, secret_len, (uint64_t)step, TOTP_DIGITS, cand) != CC_OK) {
			rc = CC_ERR_CRYPTO;
			memset(cand, 0, sizeof(cand));
		}
		match = (uint64_t)crypto_equal(cand, code, TOTP_DIGITS) &
		        (uint64_t)(step > last_step) & (uint64_t)(step >= 0);
		mask = 0 - match;
		best = (best & ~mask) | ((uint64_t)step & mask);
		found |= match;
	}
	crypto_wipe(cand, sizeof(cand));
	if (rc != CC_OK)
		return rc;
	if (!found)
		return CC_ERR_AUTH;
	*matched_step = (int64_t)best;
	return CC_OK;
}

/* Appends s percent-encoded (RFC 3986: all but unreserved characters). */
static size_t put_encoded(char *buf, size_t pos, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0' && pos < cap; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		    *p == '-' || *p == '.' || *p == '_' || *p == '~') {
			buf[pos++] = (char)*p;
		} else if (cap - pos >= 3) {
			buf[pos++] = '%';
			buf[pos++] = hex[*p >> 4];
			buf[pos++] = hex[*p & 15];
		} else {
			pos = cap;
		}
	}
	/* pos == cap means it did not fit: the caller needs room for the NUL. */
	return *p != '\0' ? cap : pos;
}

static size_t put_text(char *buf, size_t pos, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (pos >= cap || n >= cap - pos)
		return cap;
	memcpy(buf + pos, s, n);
	return pos + n;
}

static int name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strchr(s, ':') == NULL;
}

int totp_uri(const char *issuer, const char *account, const uint8_t *secret, size_t secret_len,
             char *out, size_t cap)
{
	/* Built here, then copied, so out is untouched on failure. */
	char uri[TOTP_URI_MAX], b32[B32_ENCODED_LEN(TOTP_SECRET_MAX)];
	size_t pos = 0, lim = sizeof(uri) - 1;
	int rc;

	if (!name_ok(issuer) || !name_ok(account) || !secret_ok(secret, secret_len) || out == NULL)
		return CC_ERR_INVALID;
	rc = b32_encode(secret, secret_len, b32, sizeof(b32));
	if (rc != CC_OK)
		goto out;
	pos = put_text(uri, pos, lim, "otpauth://totp/");
	pos = put_encoded(uri, pos, lim, issuer);
	pos = put_text(uri, pos, lim, ":");
	pos = put_encoded(uri, pos, lim, account);
	pos = put_text(uri, pos, lim, "?secret=");
	pos = put_text(uri, pos, lim, b32);
	pos = put_text(uri, pos, lim, "&issuer=");
	pos = put_encoded(uri, pos, lim, issuer);
	pos = put_text(uri, pos, lim, "&algorithm=SHA1&digits=" STR(TOTP_DIGITS) "&period=" STR(TOTP_PERIOD_S));
	if (pos >= lim || pos + 1 > cap) {
		rc = CC_ERR_LIMIT;
		goto out;
	}
	uri[pos] = '\0';
	memcpy(out, uri, pos + 1);
	rc = CC_OK;
out:
	crypto_wipe(uri, sizeof(uri));
	crypto_wipe(b32, sizeof(b32));
	return rc;
}
