/* TOTP and base32: the RFC known answers, the verification window, replay,
 * malformed codes, the otpauth:// URI, and base32's strictness. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "common/codec.h"
#include "common/err.h"
#include "crypto/totp.h"

/* The secret of RFC 4226 Appendix D and RFC 6238 Appendix B (SHA-1). */
static const uint8_t rfc_secret[] = "12345678901234567890";
#define RFC_SECRET_LEN 20

static void test_hotp_rfc4226(void)
{
	static const char *const want[] = { "755224", "287082", "359152", "969429", "338314",
		                            "254676", "287922", "162583", "399871", "520489" };
	char out[9];
	uint64_t c;

	for (c = 0; c < 10; c++) {
		memset(out, 'x', sizeof(out));
		CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, c, 6, out), CC_OK);
		CHECK_STR(out, want[c]);
	}
}

static void test_totp_rfc6238(void)
{
	static const struct {
		int64_t t;
		const char *code;
	} v[] = {
		{ 59, "94287082" },          { 1111111109, "07081804" }, { 1111111111, "14050471" },
		{ 1234567890, "89005924" },  { 2000000000, "69279037" }, { 20000000000, "65353130" },
	};
	char out[9];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int64_t step = totp_step(v[i].t * 1000);

		CHECK_EQ(step, v[i].t / 30);
		CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, (uint64_t)step, 8, out), CC_OK);
		CHECK_STR(out, v[i].code);
		/* The 6-digit code is the low 6 digits of the same truncation. */
		CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, (uint64_t)step, 6, out), CC_OK);
		CHECK_STR(out, v[i].code + 2);
	}
	/* 7 digits is allowed too; T=59 gives 94287082 -> 4287082. */
	CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, 1, 7, out), CC_OK);
	CHECK_STR(out, "4287082");
}

static void test_hotp_arguments(void)
{
	char out[10] = "untouched";

	CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, 0, 5, out), CC_ERR_INVALID);
	CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, 0, 9, out), CC_ERR_INVALID);
	CHECK_EQ(totp_hotp(rfc_secret, TOTP_SECRET_MIN - 1, 0, 6, out), CC_ERR_INVALID);
	CHECK_EQ(totp_hotp(rfc_secret, TOTP_SECRET_MAX + 1, 0, 6, out), CC_ERR_INVALID);
	CHECK_EQ(totp_hotp(NULL, RFC_SECRET_LEN, 0, 6, out), CC_ERR_INVALID);
	CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, 0, 6, NULL), CC_ERR_INVALID);
	CHECK_STR(out, "untouched");
}

static void test_step(void)
{
	CHECK_EQ(totp_step(0), 0);
	CHECK_EQ(totp_step(29999), 0);
	CHECK_EQ(totp_step(30000), 1);
	CHECK_EQ(totp_step(59999), 1);
	/* Before 1970 the step is a floor, not a truncation. */
	CHECK_EQ(totp_step(-1), -1);
	CHECK_EQ(totp_step(-30000), -1);
	CHECK_EQ(totp_step(-30001), -2);
	CHECK_EQ(totp_step(INT64_MAX), INT64_MAX / 30000);
}

/* The 6-digit code of step s under the RFC secret. */
static void code_at(int64_t s, char out[7])
{
	CHECK_EQ(totp_hotp(rfc_secret, RFC_SECRET_LEN, (uint64_t)s, 6, out), CC_OK);
}

static void test_verify_window(void)
{
	const int64_t now_ms = 1111111111000LL;
	const int64_t now = totp_step(now_ms);
	char code[7];
	int64_t matched;
	int d;

	for (d = -TOTP_WINDOW; d <= TOTP_WINDOW; d++) {
		code_at(now + d, code);
		matched = -42;
		CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, -1, &matched), CC_OK);
		CHECK_EQ(matched, now + d);
	}
	/* Two steps away either side is refused, and matched is left alone. */
	code_at(now - 2, code);
	matched = -42;
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, -1, &matched), CC_ERR_AUTH);
	CHECK_EQ(matched, -42);
	code_at(now + 2, code);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, -1, &matched), CC_ERR_AUTH);
	CHECK_EQ(matched, -42);
	/* The edges of a step: the first and last millisecond of it. */
	code_at(now, code);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now * 30000, -1, &matched), CC_OK);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now * 30000 + 29999, -1, &matched), CC_OK);
	code_at(now - 1, code);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, (now + 1) * 30000, -1, &matched), CC_ERR_AUTH);
	/* The RFC 6238 code, truncated to 6 digits, at its own moment. */
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, "050471", now_ms, -1, &matched), CC_OK);
	CHECK_EQ(matched, now);
}

static void test_verify_wrong_secret(void)
{
	uint8_t other[RFC_SECRET_LEN];
	char code[7];
	int64_t matched;
	const int64_t now_ms = 2000000000000LL;

	memcpy(other, rfc_secret, sizeof(other));
	other[19] ^= 1;
	code_at(totp_step(now_ms), code);
	CHECK_EQ(totp_verify(other, sizeof(other), code, now_ms, -1, &matched), CC_ERR_AUTH);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, -1, &matched), CC_OK);
}

static void test_verify_replay(void)
{
	const int64_t now_ms = 1234567890000LL;
	const int64_t now = totp_step(now_ms);
	char code[7];
	int64_t matched = -1, again = -42;

	code_at(now, code);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, -1, &matched), CC_OK);
	CHECK_EQ(matched, now);
	/* The stored step refuses the same code, now and for the rest of the window. */
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, matched, &again), CC_ERR_AUTH);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms + 30000, matched, &again), CC_ERR_AUTH);
	CHECK_EQ(again, -42);
	/* An older code after a newer one is refused too. */
	code_at(now - 1, code);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, matched, &again), CC_ERR_AUTH);
	/* The next step's code is still good. */
	code_at(now + 1, code);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, now_ms, matched, &again), CC_OK);
	CHECK_EQ(again, now + 1);
	/* Steps before the epoch never match: last_step = -1 must not let step -1 in. */
	code_at(-1, code);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, code, -1, -2, &again), CC_ERR_AUTH);
}

/* Under the RFC secret, steps 153567 and 153569 share the code 468457
 * (found offline). At step 153568 both are in the window; the later one must
 * be reported, or the same code would pass again through step 153569. */
static void test_verify_collision_reports_latest(void)
{
	const int64_t now_ms = 153568LL * 30000;
	char a[7], b[7];
	int64_t matched = -42, again = -42;

	code_at(153567, a);
	code_at(153569, b);
	CHECK_STR(a, "468457");
	CHECK_STR(b, "468457");
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, "468457", now_ms, -1, &matched), CC_OK);
	CHECK_EQ(matched, 153569);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, "468457", now_ms, matched, &again), CC_ERR_AUTH);
	CHECK_EQ(again, -42);
	/* With 153567 already used, the code is still good once through 153569. */
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, "468457", now_ms, 153567, &again), CC_OK);
	CHECK_EQ(again, 153569);
}

static void test_verify_malformed(void)
{
	static const char *const bad[] = { "12345", "1234567", "12a456", "", " 12345", "12345 ",
		                           "-12345", "+12345", "１２３４５６" };
	const int64_t now_ms = 1111111111000LL;
	int64_t matched = -42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, bad[i], now_ms, -1, &matched), CC_ERR_INVALID);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, NULL, now_ms, -1, &matched), CC_ERR_INVALID);
	CHECK_EQ(totp_verify(rfc_secret, RFC_SECRET_LEN, "050471", now_ms, -1, NULL), CC_ERR_INVALID);
	CHECK_EQ(totp_verify(rfc_secret, 10, "050471", now_ms, -1, &matched), CC_ERR_INVALID);
	CHECK_EQ(totp_verify(NULL, RFC_SECRET_LEN, "050471", now_ms, -1, &matched), CC_ERR_INVALID);
	CHECK_EQ(matched, -42);
}

static void test_uri(void)
{
	char uri[TOTP_URI_MAX], small[64] = "untouched", b32[B32_ENCODED_LEN(RFC_SECRET_LEN)];
	uint8_t back[RFC_SECRET_LEN];

	CHECK_EQ(totp_uri("CoffeeCloud", "anna@x", rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)), CC_OK);
	CHECK_STR(uri, "otpauth://totp/CoffeeCloud:anna%40x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	               "&issuer=CoffeeCloud&algorithm=SHA1&digits=6&period=30");
	CHECK(strstr(uri, "anna%40x") != NULL);
	CHECK_EQ(b32_encode(rfc_secret, RFC_SECRET_LEN, b32, sizeof(b32)), CC_OK);
	CHECK(strstr(uri, b32) != NULL);
	/* The secret in the URI decodes back to the secret. */
	CHECK_EQ(b32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", back, sizeof(back)), RFC_SECRET_LEN);
	CHECK(memcmp(back, rfc_secret, RFC_SECRET_LEN) == 0);

	/* Everything outside RFC 3986's unreserved set is encoded, UTF-8 byte by byte. */
	CHECK_EQ(totp_uri("Coffee Cloud&Co", "a+b/c?d=e#f~g.h_i-j\xc3\xa9", rfc_secret, RFC_SECRET_LEN,
	                  uri, sizeof(uri)), CC_OK);
	{
		static const char want[] = "otpauth://totp/Coffee%20Cloud%26Co:a%2Bb%2Fc%3Fd%3De%23f~g.h_i-j%C3%A9?secret=";

		CHECK(strncmp(uri, want, strlen(want)) == 0);
	}
	CHECK(strstr(uri, "&issuer=Coffee%20Cloud%26Co&") != NULL);

	/* Too small a buffer is refused and left alone. */
	CHECK_EQ(totp_uri("CoffeeCloud", "anna@x", rfc_secret, RFC_SECRET_LEN, small, sizeof(small)),
	         CC_ERR_LIMIT);
	CHECK_STR(small, "untouched");
	/* Exactly the right size fits. */
	CHECK_EQ(totp_uri("CoffeeCloud", "anna@x", rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)), CC_OK);
	{
		size_t need = strlen(uri) + 1;
		char exact[TOTP_URI_MAX];

		CHECK_EQ(totp_uri("CoffeeCloud", "anna@x", rfc_secret, RFC_SECRET_LEN, exact, need), CC_OK);
		CHECK_STR(exact, uri);
		CHECK_EQ(totp_uri("CoffeeCloud", "anna@x", rfc_secret, RFC_SECRET_LEN, exact, need - 1),
		         CC_ERR_LIMIT);
	}

	/* Names: non-empty, no ':'; a name too long for TOTP_URI_MAX is a limit. */
	CHECK_EQ(totp_uri("Coffee:Cloud", "anna", rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)), CC_ERR_INVALID);
	CHECK_EQ(totp_uri("CoffeeCloud", "an:na", rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)), CC_ERR_INVALID);
	CHECK_EQ(totp_uri("", "anna", rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)), CC_ERR_INVALID);
	CHECK_EQ(totp_uri("CoffeeCloud", "", rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)), CC_ERR_INVALID);
	CHECK_EQ(totp_uri(NULL, "anna", rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)), CC_ERR_INVALID);
	CHECK_EQ(totp_uri("CoffeeCloud", "anna", rfc_secret, 8, uri, sizeof(uri)), CC_ERR_INVALID);
	{
		char longname[400];

		memset(longname, '@', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		CHECK_EQ(totp_uri("CoffeeCloud", longname, rfc_secret, RFC_SECRET_LEN, uri, sizeof(uri)),
		         CC_ERR_LIMIT);
	}
}

static void test_base32_rfc4648(void)
{
	static const struct {
		const char *raw, *enc, *padded;
	} v[] = {
		{ "", "", "" },
		{ "f", "MY", "MY======" },
		{ "fo", "MZXQ", "MZXQ====" },
		{ "foo", "MZXW6", "MZXW6===" },
		{ "foob", "MZXW6YQ", "MZXW6YQ=" },
		{ "fooba", "MZXW6YTB", "MZXW6YTB" },
		{ "foobar", "MZXW6YTBOI", "MZXW6YTBOI======" },
	};
	char text[32];
	uint8_t back[16];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = strlen(v[i].raw);
		char lower[32];
		size_t j;

		CHECK_EQ(b32_encode((const uint8_t *)v[i].raw, n, text, sizeof(text)), CC_OK);
		CHECK_STR(text, v[i].enc);
		CHECK_EQ(strlen(text) + 1, B32_ENCODED_LEN(n));
		memset(back, 0, sizeof(back));
		CHECK_EQ(b32_decode(v[i].enc, back, sizeof(back)), n);
		CHECK(memcmp(back, v[i].raw, n) == 0);
		memset(back, 0, sizeof(back));
		CHECK_EQ(b32_decode(v[i].padded, back, sizeof(back)), n);
		CHECK(memcmp(back, v[i].raw, n) == 0);
		for (j = 0; v[i].enc[j] != '\0'; j++)
			lower[j] = (char)(v[i].enc[j] >= 'A' && v[i].enc[j] <= 'Z' ? v[i].enc[j] + 32 : v[i].enc[j]);
		lower[j] = '\0';
		CHECK_EQ(b32_decode(lower, back, sizeof(back)), n);
		CHECK(memcmp(back, v[i].raw, n) == 0);
	}
	/* Spaces are ignored wherever they are: secrets are shown in groups of four. */
	CHECK_EQ(b32_decode(" mzxw 6ytb oi ", back, sizeof(back)), 6);
	CHECK(memcmp(back, "foobar", 6) == 0);
	CHECK_EQ(b32_decode("MZXW 6YQ= ", back, sizeof(back)), 4);
	CHECK(memcmp(back, "foob", 4) == 0);
}

static void test_base32_round_trip(void)
{
	uint8_t bytes[64], back[64];
	char text[B32_ENCODED_LEN(64)];
	size_t n;

	for (n = 0; n < sizeof(bytes); n++)
		bytes[n] = (uint8_t)(n * 37 + 11);
	for (n = 0; n <= sizeof(bytes); n++) {
		CHECK_EQ(b32_encode(bytes, n, text, sizeof(text)), CC_OK);
		CHECK_EQ(strlen(text) + 1, B32_ENCODED_LEN(n));
		CHECK_EQ(b32_decode(text, back, sizeof(back)), n);
		CHECK(memcmp(back, bytes, n) == 0);
	}
}

static void test_base32_rejects(void)
{
	static const char *const bad[] = {
		"MZXW6YQ1", "MZXW6YQ0", "MZXW6YQ8", "MZ*W", "MZXW-6YQ", "MZXW\t6YQ", "MZ\nXW",
		"M",        "MZX",      "MZXW6Y",   /* lengths no encoding produces */
		"MZ",       "MZXR",     "MZXW6YR",  /* non-zero unused bits */
		"MY=",      "MY=======", "MZXW6YQ==", "MZXW6YTB========", "=", "========",
		"M=Y=====", "MY======MY", "MZXW6YTB=",
	};
	uint8_t back[16] = { 0 }, zero[16] = { 0 };
	char text[16] = "untouched";
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (b32_decode(bad[i], back, sizeof(back)) != CC_ERR_INVALID)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		CHECK_EQ(b32_decode(bad[i], back, sizeof(back)), CC_ERR_INVALID);
	}
	CHECK(memcmp(back, zero, sizeof(back)) == 0);
	/* Too small an output buffer, both ways: refused and not written. */
	CHECK_EQ(b32_decode("MZXW6YTBOI", back, 5), CC_ERR_LIMIT);
	CHECK_EQ(b32_decode("MZXW6YQ", back, 3), CC_ERR_LIMIT);
	CHECK(memcmp(back, zero, sizeof(back)) == 0);
	CHECK_EQ(b32_decode("MZXW6YQ", back, 4), 4);
	CHECK_EQ(b32_encode((const uint8_t *)"foobar", 6, text, 10), CC_ERR_LIMIT);
	CHECK_STR(text, "untouched");
	CHECK_EQ(b32_encode((const uint8_t *)"foobar", 6, text, 11), CC_OK);
	CHECK_STR(text, "MZXW6YTBOI");
}

int main(void)
{
	RUN(test_hotp_rfc4226);
	RUN(test_totp_rfc6238);
	RUN(test_hotp_arguments);
	RUN(test_step);
	RUN(test_verify_window);
	RUN(test_verify_wrong_secret);
	RUN(test_verify_replay);
	RUN(test_verify_collision_reports_latest);
	RUN(test_verify_malformed);
	RUN(test_uri);
	RUN(test_base32_rfc4648);
	RUN(test_base32_round_trip);
	RUN(test_base32_rejects);
	return check_summary();
}
