/*
 * updates.h (store) - the rows behind software updates (src/update/,
 * docs/UPDATES.md): the release keys the platform trusts, the artifacts
 * uploaded (their signed metadata; the files live under DIR/artifacts/),
 * and which artifact each machine is offered now. Release keys are public
 * and artifacts the manufacturer's own: clear text. Reached as
 * s->ops->updates->x(s, ...); every op runs in the caller's transaction.
 */
#ifndef CC_STORE_UPDATES_H
#define CC_STORE_UPDATES_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct store;

#define STORE_RELEASE_PEM_MAX 256
#define STORE_RELEASE_LABEL_MAX 64
#define STORE_UPDATE_WHO_MAX (CC_NAME_MAX + 8) /* "user:LOGIN", "cli:USER" */

struct store_release_key {
	char key_id[65];
	char pem[STORE_RELEASE_PEM_MAX + 1];
	char label[STORE_RELEASE_LABEL_MAX + 1];
	int64_t added_ms;
	char added_by[STORE_UPDATE_WHO_MAX + 1];
	int64_t revoked_ms; /* 0: trusted */
	char revoked_by[STORE_UPDATE_WHO_MAX + 1];
};

struct store_artifact {
	char sha256[65];
	char version[CC_UPDATE_VERSION_MAX + 1];
	char models[CC_UPDATE_MODELS_MAX * (CC_NAME_MAX + 1)]; /* comma-separated */
	int64_t size;
	char key_id[65];
	int64_t expires_ms;
	int64_t added_ms;
	char added_by[STORE_UPDATE_WHO_MAX + 1];
};

/* A machine's current offer and what it last reported of it (any offer:
 * a rollout's or one made to the machine alone). */
#define STORE_OFFER_REASON_MAX 64
struct store_offer {
	char sha256[65];
	int64_t offered_ms;
	char offered_by[STORE_UPDATE_WHO_MAX + 1];
	char state[16];   /* update/rollout.h names; "offered" until the machine reports */
	int64_t percent;  /* downloading: 0-100 */
	char reason[STORE_OFFER_REASON_MAX + 1];
	int64_t updated_ms;
};

struct store_update_ops {
	/* CC_ERR_EXISTS for a key id already known (revoked or not). */
	int (*release_key_add)(struct store *s, const struct store_release_key *k);
	/* CC_ERR_NOTFOUND, or CC_ERR_STATE when revoked already. */
	int (*release_key_revoke)(struct store *s, const char *key_id, int64_t at_ms, const char *by);
	/* Oldest first. */
	int (*release_key_list)(struct store *s, int (*each)(void *ctx, const struct store_release_key *k), void *ctx);

	/* meta: the signed metadata document as uploaded. CC_ERR_EXISTS for a known sha256. */
	int (*artifact_add)(struct store *s, const struct store_artifact *a, const char *meta);
	/* *meta malloc'd (NULL: not wanted). */
	int (*artifact_get)(struct store *s, const char *sha256, struct store_artifact *out, char **meta);
	/* Newest first. */
	int (*artifact_list)(struct store *s, int (*each)(void *ctx, const struct store_artifact *a), void *ctx);

	/* The machine's current offer: one per machine, replaced by the next. */
	int (*offer_set)(struct store *s, int64_t machine_id, const char *sha256, int64_t at_ms, const char *by);
	/* CC_ERR_NOTFOUND when the machine is offered nothing. */
	int (*offer_get)(struct store *s, int64_t machine_id, char sha256[65], int64_t *at_ms);
	int (*offer_clear)(struct store *s, int64_t machine_id);
	/* The offer with its progress; CC_ERR_NOTFOUND when none. */
	int (*offer_status)(struct store *s, int64_t machine_id, struct store_offer *out);
	/* Records the machine's latest report on its offer of sha256 (state,
	 * percent, reason, at_ms); CC_ERR_NOTFOUND when it is offered another
	 * artifact or none. */
	int (*offer_progress)(struct store *s, int64_t machine_id, const char *sha256, const char *state,
	                      int64_t percent, const char *reason, int64_t at_ms);
};

#endif
