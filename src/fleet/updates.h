/*
 * updates.h - the server's side of software updates (docs/UPDATES.md):
 * the release keys the platform trusts, artifacts checked against them on
 * the way in, which artifact a machine is offered, and the short-lived
 * offer the installation's key signs for it (vault/signing.h).
 *
 * What the server trusts decides only what it stores and offers: the
 * machine verifies the metadata again against its own release keys
 * (update/update.h), so a changed database cannot make it install anything.
 * Artifact files live in DIR/artifacts/<sha256>, written by a copy that
 * holds one 64 KiB slice at a time, checked against the signed size and
 * hash before the rename that publishes them.
 */
#ifndef CC_FLEET_UPDATES_H
#define CC_FLEET_UPDATES_H

#include <jansson.h>

#include "update/update.h"
#include "vault/vault.h"

#define UPDATES_WHY_MAX 160
/* How long a signed offer is good for: the freeze window of a machine
 * that is fed a replayed one. */
#define UPDATES_OFFER_TTL_S (24 * 3600)

/* Trusts the Ed25519 public key in pem (CC_ERR_INVALID unless one; a key
 * known already, revoked or not, is CC_ERR_EXISTS). Its id into id. */
int updates_key_add(struct vault *v, const char *pem, size_t len, const char *label, const char *by, char id[65]);
/* Revokes for good: its artifacts can no more be uploaded or offered. */
int updates_key_revoke(struct vault *v, const char *key_id, const char *by);
/* {"release_keys":[{key_id,label,public_key,added_ms,added_by,revoked_ms,revoked_by}]}. */
int updates_keys_json(struct vault *v, json_t **out);

/* Stores an artifact: meta (the signed metadata) verified against the
 * trusted keys, its expiry ahead, then the bytes read from fd (at most the
 * signed size plus one) into DIR/artifacts/ and checked. Refusals are
 * CC_ERR_AUTH (key, signature) or CC_ERR_INVALID (the rest), with why;
 * nothing is kept of a refused artifact. */
int updates_artifact_add(struct vault *v, int fd, const char *meta, size_t metalen, const char *by,
                         struct update_meta *out, char why[UPDATES_WHY_MAX]);
/* The API's upload, in slices no larger than a request body: begin checks
 * the metadata as above and starts (or starts over) DIR/artifacts/.SHA.part;
 * each append must come at the bytes received so far (CC_ERR_STATE with
 * *received otherwise, to resume from), never past the signed size (the
 * upload is dropped); the last one checks the SHA-256 and publishes the
 * artifact (*done). */
int updates_upload_begin(struct vault *v, const char *meta, size_t metalen, struct update_meta *out,
                         char why[UPDATES_WHY_MAX]);
int updates_upload_append(struct vault *v, const char *sha256, uint64_t offset, const void *data, size_t len,
                          const char *by, uint64_t *received, int *done, char why[UPDATES_WHY_MAX]);
/* {"artifacts":[...]} newest first; one artifact with its notes and metadata document. */
int updates_artifacts_json(struct vault *v, json_t **out);
int updates_artifact_json(struct vault *v, const char *sha256, json_t **out);
/* The file of a stored artifact and its size. */
int updates_artifact_file(struct vault *v, const char *sha256, char *path, size_t cap, int64_t *size);

/* Offers the artifact to the machine (replacing its offer): the machine in
 * service, its model among the artifact's, the artifact's key trusted and
 * its metadata unexpired; CC_ERR_INVALID/CC_ERR_STATE with why otherwise. */
int updates_offer(struct vault *v, const char *serial, const char *sha256, const char *by,
                  char why[UPDATES_WHY_MAX]);
/* The machine's current offer as a freshly signed document (good for
 * UPDATES_OFFER_TTL_S from now) and the artifact's metadata, both malloc'd;
 * CC_ERR_NOTFOUND when it is offered nothing (or its artifact's key was
 * revoked since). sha256 may be NULL; when set it receives the artifact's. */
int updates_offer_doc(struct vault *v, const struct store_machine *m, char **offer, char **meta, char sha256[65]);

/* The machine's update status: {"serial", "offer": null | {"sha256",
 * "version", "offered_ms", "offered_by", "rollout" (its id, or null for an
 * offer made to it alone), "state", "percent", "reason", "updated_ms"}},
 * read in one snapshot. */
int updates_status_json(struct vault *v, const struct store_machine *m, json_t **out);

#endif
