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

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static int b32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

int b32_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n > (size_t)1 << 30 || cap < B32_ENCODED_LEN(n))
		return CC_ERR_LIMIT;
	for (i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32_alphabet[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = b32_alphabet[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return CC_OK;
}

int b32_decode(const char *in, uint8_t *out, size_t cap)
{
	size_t len = strlen(in), i, data = 0, pad = 0, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0, unused;
	int last = 0;

	if (len > (size_t)1 << 30)
		return CC_ERR_INVALID;
	/* Validate everything before writing, so out is untouched on failure. */
	for (i = 0; i < len; i++) {
		if (in[i] == ' ')
			continue;
		if (in[i] == '=') {
			pad++;
			continue;
		}
		last = b32_value(in[i]);
		if (pad > 0 || last < 0)
			return CC_ERR_INVALID;
		data++;
	}
	/* A final quantum of 1, 3 or 6 characters cannot come from whole bytes. */
	switch (data % 8) {
	case 1: case 3: case 6:
		return CC_ERR_INVALID;
	default:
		break;
	}
	if (pad > 0 && (data % 8 == 0 || (data + pad) % 8 != 0))
		return CC_ERR_INVALID;
	/* The bits of the last character past the last byte must be zero, or
	 * two strings would decode to the same bytes. */
	unused = (unsigned)(data * 5 % 8);
	if (((unsigned)last & ((1u << unused) - 1)) != 0)
		return CC_ERR_INVALID;
	if (data * 5 / 8 > cap)
		return CC_ERR_LIMIT;
	for (i = 0; i < len && in[i] != '='; i++) {
		if (in[i] == ' ')
			continue;
		acc = (acc << 5 | (uint32_t)b32_value(in[i])) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}
