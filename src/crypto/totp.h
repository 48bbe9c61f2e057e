/*
 * totp.h - time-based one-time passwords (RFC 6238) for a second sign-in factor.
 *
 * HOTP (RFC 4226) is HMAC-SHA1 over a 64-bit big-endian counter, cut down to
 * decimal digits by dynamic truncation; TOTP uses the time step as counter.
 * The parameters are the ones every authenticator app defaults to: SHA-1,
 * 6 digits, 30-second steps. The module holds no state: the caller keeps the
 * secret (sealed, like any other personal secret) and the last accepted step,
 * which is what makes a code good only once. Nothing here allocates or logs
 * a secret or a code.
 */
#ifndef CC_CRYPTO_TOTP_H
#define CC_CRYPTO_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_BYTES 20      /* 160-bit secrets, as RFC 4226 recommends */
#define TOTP_SECRET_MIN 16        /* RFC 4226 R6: a shared secret MUST have >= 128 bits */
#define TOTP_SECRET_MAX 64        /* the HMAC-SHA1 block; longer keys are only hashed down */
#define TOTP_PERIOD_S 30
#define TOTP_DIGITS 6
#define TOTP_WINDOW 1             /* steps accepted either side of now (clock drift) */
#define TOTP_URI_MAX 512          /* the longest URI totp_uri writes, NUL included */

/* The HOTP value (RFC 4226, HMAC-SHA1, dynamic truncation) of counter, as
 * `digits` (6..8) decimal digits with leading zeros, NUL-terminated into out
 * (>= digits + 1 bytes). Returns CC_OK; CC_ERR_INVALID for digits outside
 * 6..8 or a secret_len outside TOTP_SECRET_MIN..TOTP_SECRET_MAX;
 * CC_ERR_CRYPTO when HMAC fails. out is written only on success. */
int totp_hotp(const uint8_t *secret, size_t secret_len, uint64_t counter, unsigned digits, char *out);

/* The time step of a moment (ms since the epoch): floor(unix_seconds /
 * TOTP_PERIOD_S), rounding towards minus infinity for moments before 1970. */
int64_t totp_step(int64_t now_ms);

/* Checks a TOTP_DIGITS-digit code against the steps now-TOTP_WINDOW ..
 * now+TOTP_WINDOW. Every candidate is computed and compared in constant time
 * (no early exit). A step <= last_step is refused, and so is a step below 0:
 * a code is good once (replay protection). Pass last_step = -1 when no code
 * has been accepted yet; after CC_OK store *matched_step as the new last_step
 * before acting on the sign-in. When the code matches more than one step the
 * latest is reported, so the same code cannot be accepted a second time
 * through a later step.
 * Returns CC_OK with *matched_step set; CC_ERR_AUTH for a wrong, expired or
 * replayed code; CC_ERR_INVALID for a code that is not exactly TOTP_DIGITS
 * ASCII digits, a secret_len outside TOTP_SECRET_MIN..TOTP_SECRET_MAX or a
 * NULL argument; CC_ERR_CRYPTO when HMAC fails. Treat anything but CC_OK as
 * a denial. *matched_step is written only on success. */
int totp_verify(const uint8_t *secret, size_t secret_len, const char *code, int64_t now_ms,
                int64_t last_step, int64_t *matched_step);

/* The otpauth:// URI authenticator apps read (usually from a QR code):
 *   otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER
 *     &algorithm=SHA1&digits=6&period=30
 * issuer and account are percent-encoded (all but RFC 3986 unreserved
 * characters); the secret is base32 without padding. Both names must be
 * non-empty and free of ':' (the label's separator, which apps split on
 * even when encoded). The URI holds the secret: wipe it after use.
 * Returns CC_OK; CC_ERR_INVALID for a bad name or secret length;
 * CC_ERR_LIMIT when the URI does not fit in cap (or TOTP_URI_MAX). out is
 * written only on success. */
int totp_uri(const char *issuer, const char *account, const uint8_t *secret, size_t secret_len,
             char *out, size_t cap);

#endif
