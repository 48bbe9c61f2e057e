/*
 * codec.h - hex and base64 for keys, fingerprints and blobs in text files.
 *
 * Encoders write a NUL-terminated string and need cap >= the documented size.
 * Decoders reject any character outside the alphabet; they return the decoded
 * length (>= 0) or a negative CC_ERR_* code.
 */
#ifndef CC_COMMON_CODEC_H
#define CC_COMMON_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* cap >= 2*n + 1. */
int hex_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Exactly strlen(in)/2 bytes; odd length or a non-hex digit is CC_ERR_INVALID. */
int hex_decode(const char *in, uint8_t *out, size_t cap);

#define B64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4 + 1)
/* Standard alphabet with padding. cap >= B64_ENCODED_LEN(n). */
int b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Padded standard base64; cap >= 3 * strlen(in) / 4. */
int b64_decode(const char *in, uint8_t *out, size_t cap);

#endif
