/*
 * update.h - software update artifacts: their signed metadata, the server's
 * signed offers, and the verdict a machine reaches on them (docs/UPDATES.md).
 *
 * Pure: OpenSSL, src/common and src/crypto only; no store, no daemon, no
 * state of its own, so the machine-side agent links it as it is.
 *
 * Both documents are canonical JSON: one object, keys sorted bytewise, no
 * whitespace, strings escaping only '"', '\\', '\n' and other control bytes
 * as \u00xx, integers without sign or leading zeros. A parsed document is
 * re-encoded and must give back the very bytes read, so one meaning has one
 * spelling and the signed bytes are the parsed ones. A signed document is
 *   {"signature":"<base64 Ed25519 signature of the signed bytes>","signed":{...}}
 * Metadata is signed by a release key (offline, never on the server); an
 * offer by the installation's key (vault/signing.h), for one machine and a
 * short while, so a replayed old offer is refused (a freeze).
 *
 * Versions are semantic versions (MAJOR.MINOR.PATCH[-PRERELEASE]) compared
 * by SemVer 2.0 precedence; build metadata ("+...") is refused, since two
 * versions differing only there would have equal precedence.
 */
#ifndef CC_UPDATE_UPDATE_H
#define CC_UPDATE_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "crypto/ed25519.h"

/* What a machine answers on an update, and why it refused. Stable names
 * (update_verdict_name) are what agents report and tests assert. */
enum update_verdict {
	UPDATE_ACCEPT = 0,
	UPDATE_MALFORMED,            /* the metadata is not a canonical signed document */
	UPDATE_UNKNOWN_KEY,          /* signed by a key the machine does not trust: arbitrary software */
	UPDATE_REVOKED_KEY,          /* signed by a revoked release key */
	UPDATE_BAD_SIGNATURE,        /* the signature does not match: arbitrary software */
	UPDATE_EXPIRED,              /* the metadata's expiry has passed: freeze */
	UPDATE_WRONG_MODEL,          /* not built for this machine's model */
	UPDATE_ROLLBACK,             /* not newer than the installed version */
	UPDATE_BELOW_MIN_FROM,       /* the installed version is too old to upgrade from */
	UPDATE_OFFER_MALFORMED,      /* the offer is not a canonical signed document */
	UPDATE_OFFER_BAD_SIGNATURE,  /* the offer is not the installation's */
	UPDATE_OFFER_EXPIRED,        /* a replayed old offer: freeze */
	UPDATE_OFFER_OTHER_MACHINE,  /* an offer made for another machine: mix-and-match */
	UPDATE_OFFER_OTHER_ARTIFACT, /* an offer of another artifact or version: mix-and-match */
	UPDATE_TOO_LARGE,            /* more bytes than the metadata's size: endless data */
	UPDATE_HASH_MISMATCH,        /* the bytes are not the signed ones (or too few) */
};

const char *update_verdict_name(enum update_verdict v);

struct update_meta {
	char key_id[65];  /* the release key's ed25519_key_id */
	char version[CC_UPDATE_VERSION_MAX + 1];
	char min_from[CC_UPDATE_VERSION_MAX + 1]; /* "min_from_version" */
	char models[CC_UPDATE_MODELS_MAX][CC_NAME_MAX + 1]; /* sorted, distinct */
	size_t nmodels;
	uint64_t size;    /* bytes, 1..CC_UPDATE_ARTIFACT_MAX */
	char sha256[65];  /* lowercase hex */
	char notes[CC_UPDATE_NOTES_MAX + 1];
	int64_t expires;  /* Unix seconds; written as "YYYY-MM-DDTHH:MM:SSZ" */
};

struct update_offer {
	char key_id[65];  /* the installation key's ed25519_key_id */
	char serial[CC_SERIAL_MAX + 1];
	char sha256[65];
	char version[CC_UPDATE_VERSION_MAX + 1];
	int64_t issued, expires; /* Unix seconds */
};

/* 1 for a valid semantic version (as above). */
int update_version_valid(const char *v);
/* <0, 0, >0 as a precedes, equals, follows b; both must be valid. */
int update_version_cmp(const char *a, const char *b);

/* The canonical signed bytes of m / o (malloc'd, NUL-terminated, *len
 * without the NUL). CC_ERR_INVALID when a field is out of its bounds. */
int update_meta_encode(const struct update_meta *m, char **out, size_t *len);
int update_offer_encode(const struct update_offer *o, char **out, size_t *len);

/* Signs canonical bytes with seed: the signed document (malloc'd, NUL-terminated). */
int update_envelope(const uint8_t seed[ED25519_SEED_LEN], const char *signed_doc, size_t len,
                    char **out, size_t *outlen);

/* Splits a signed document: *inner and *innerlen point into doc (the signed
 * bytes), sig is the signature. CC_ERR_INVALID unless doc is exactly the
 * envelope above. Then parse the inner bytes (canonical or CC_ERR_INVALID).
 * No signature is checked here. */
int update_envelope_split(const char *doc, size_t len, const char **inner, size_t *innerlen,
                          uint8_t sig[ED25519_SIG_LEN]);
int update_meta_parse(const char *doc, size_t len, struct update_meta *out);
int update_offer_parse(const char *doc, size_t len, struct update_offer *out);

/* A public key the machine trusts; a revoked one is kept so that what it
 * signed is refused by name rather than as unknown. */
struct update_key {
	uint8_t pub[ED25519_PUBLIC_LEN];
	int revoked;
};

struct update_trust {
	const struct update_key *release; /* release keys: sign metadata */
	size_t nrelease;
	const struct update_key *server;  /* installation keys: sign offers */
	size_t nserver;
};

/* What the machine knows of itself. installed is its version, kept on the
 * machine (anti-rollback); now in Unix seconds from its own clock. */
struct update_facts {
	const char *serial;
	const char *model;
	const char *installed;
	int64_t now;
};

/* Checks signed metadata on its own (what the server does at upload, with
 * facts == NULL: signature and key only, no expiry or machine checks). */
enum update_verdict update_check_meta(const char *meta, size_t len, const struct update_trust *t,
                                      const struct update_facts *f, struct update_meta *out);

/* The machine's whole decision before downloading: the metadata (as
 * update_check_meta), then the offer: the installation's signature, not
 * expired, for this serial, for this artifact (sha256 and version). On
 * UPDATE_ACCEPT *out holds the metadata the download is checked against. */
enum update_verdict update_check(const char *meta, size_t len, const char *offer, size_t olen,
                                 const struct update_trust *t, const struct update_facts *f,
                                 struct update_meta *out);

/* The download's check as bytes arrive (a resumed download feeds the part
 * it already has first): never more than size, and the SHA-256 at the end. */
struct update_download {
	struct evp_md_ctx_st *md;
	uint64_t size, got;
	uint8_t want[32];
};

int update_download_begin(struct update_download *d, const struct update_meta *m);
/* UPDATE_ACCEPT, or UPDATE_TOO_LARGE (stop reading: the rest is refused). */
enum update_verdict update_download_feed(struct update_download *d, const void *data, size_t n);
/* UPDATE_ACCEPT when exactly size bytes of the signed hash came. Frees d. */
enum update_verdict update_download_finish(struct update_download *d);
void update_download_free(struct update_download *d);

#endif
