/*
 * tls.h - the TLS context of the machine listener.
 *
 * TLS 1.3; optionally TLS 1.2 restricted to ECDHE-ECDSA with AES-GCM or
 * ChaCha20-Poly1305 (older machine firmware). A client certificate is
 * required and verified against the fleet CA; which machine it belongs to
 * is decided after the handshake (tls_peer_identity) against the registry.
 * Buffers of idle connections are released (SSL_MODE_RELEASE_BUFFERS).
 */
#ifndef CC_DAEMON_TLS_H
#define CC_DAEMON_TLS_H

#include <jansson.h>
#include <openssl/ssl.h>

#include "common/limits.h"
#include "vault/vault.h"

/* Builds the context from the data directory: server.crt, the server key
 * from the keyring; with machines TLS_CLIENT_REQUIRED a client certificate
 * is required and ca.crt is its only trust anchor; TLS_CLIENT_OPTIONAL
 * (people's HTTPS, where machines also download updates) asks for one,
 * lets the handshake through without or with a bad one, and leaves the
 * verdict to tls_peer_identity. */
#define TLS_CLIENT_NONE 0
#define TLS_CLIENT_REQUIRED 1
#define TLS_CLIENT_OPTIONAL 2
int tls_server_ctx(struct vault *v, int allow_tls12, int machines, SSL_CTX **out);

/* What a context accepts, for the privacy policy's facts:
 * {"versions": ["TLSv1.3", ...], "ciphers": [names the versions can use]}
 * (a new reference), or NULL. */
json_t *tls_describe(SSL_CTX *ctx);

struct tls_identity {
	char common_name[CC_SERIAL_MAX + 1];
	char fingerprint[65]; /* SHA-256 of the certificate DER, lowercase hex */
};

/* The verified peer certificate's CN and fingerprint. CC_ERR_AUTH when there
 * is none or its CN is not a valid serial. */
int tls_peer_identity(SSL *ssl, struct tls_identity *out);

#endif
