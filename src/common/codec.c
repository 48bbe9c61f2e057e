#include "common/codec.h"

#include <string.h>

#include <openssl/evp.h>

#include "common/err.h"

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (cap < 2 * n + 1)
		return CC_ERR_LIMIT;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
	return CC_OK;
}

int hex_decode(const char *in, uint8_t *out, size_t cap)
{
	size_t len = strlen(in), i;

	if (len % 2 != 0)
		return CC_ERR_INVALID;
	if (len / 2 > cap)
		return CC_ERR_LIMIT;
	for (i = 0; i < len / 2; i++) {
		int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return CC_ERR_INVALID;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

int b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (n > (size_t)1 << 30 || cap < B64_ENCODED_LEN(n))
		return CC_ERR_LIMIT;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return CC_OK;
}

int b64_decode(const char *in, uint8_t *out, size_t cap)
{
	size_t len = strlen(in), pad = 0, i;
	int n;

	if (len == 0)
		return 0;
	if (len % 4 != 0 || len > (size_t)1 << 30)
		return CC_ERR_INVALID;
	if (3 * (len / 4) > cap)
		return CC_ERR_LIMIT;
	for (i = 0; i < len; i++) {
		char c = in[i];
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		         c == '+' || c == '/' || (c == '=' && i >= len - 2);
		if (!ok)
			return CC_ERR_INVALID;
	}
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	if (pad == 1 && in[len - 2] == '=')
		return CC_ERR_INVALID;
	/* EVP_DecodeBlock counts padding as zero bytes; take it back off. */
	n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
	if (n < 0)
		return CC_ERR_INVALID;
	return n - (int)pad;
}
