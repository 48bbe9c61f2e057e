/*
 * codec.h - hex, base64 and base32 for keys, fingerprints, blobs and secrets in
 * text files.
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

/* Base32 (RFC 4648 section 6) is what authenticator apps and people type TOTP
 * secrets in: one case, no digits that look like letters. */
#define B32_ENCODED_LEN(n) (((n) * 8 + 4) / 5 + 1)
/* RFC 4648 alphabet, upper case, without '=' padding (as otpauth:// URIs want).
 * cap >= B32_ENCODED_LEN(n); n <= 2^30, else CC_ERR_LIMIT. */
int b32_encode(const uint8_t *in, size_t n, char *out, size_t cap);
/* Accepts upper and lower case, ignores spaces (secrets are shown in groups),
 * and takes either no padding or exactly the right '=' padding at the end.
 * Everything else is CC_ERR_INVALID: a character outside the alphabet, '='
 * anywhere but the end, a length no encoding produces, non-zero unused bits
 * in the last character (a non-canonical encoding). CC_ERR_LIMIT when the
 * result exceeds cap; out is written only on success. */
int b32_decode(const char *in, uint8_t *out, size_t cap);

#endif
