/*
 * config_rollouts.h - configuration through staged rollouts
 * (docs/CONFIGURATION-REMOTE.md "Fleet-wide changes"): a rollout of kind
 * "config" carries a configuration document and the reason given for it
 * instead of an artifact, and runs on the same engine (update/rollout.h)
 * and rows (store/rollouts.h) as software. Offering it to a machine sets
 * the machine's desired configuration (fleet/machine_config.h, who
 * "rollout:ID"); the machine's report of that version counts as succeeded
 * (applied) or failed (rejected), so rejections halt the rollout as failed
 * installations do.
 *
 * The rounds run on the settler's thread (fleet/rollouts.h): a round marks
 * the machines it offers to in its transaction; config_rollout_deliver,
 * after the commit, sets their desired versions (each in its own
 * transactions, as a person's change) and records each version; the next
 * round settles the machines whose report names it (config_rollout_settle).
 * A machine marked and not yet given its version (a crash between) is
 * delivered at the next round. An effective rollout (store_rollout
 * effective) carries no document: each machine gets its own effective
 * one at its delivery.
 */
#ifndef CC_FLEET_CONFIG_ROLLOUTS_H
#define CC_FLEET_CONFIG_ROLLOUTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "vault/vault.h"

#define CONFIG_ROLLOUT_KIND "config"
#define CONFIG_ROLLOUT_WHY_MAX 200 /* the rollouts' why buffers (ROLLOUTS_WHY_MAX) */

/* Judges a request's document and reason before any machine is read:
 * an object of at most CONFIG_DOC_MAX bytes that the privacy filter of
 * ingest passes (no prices, currencies, payment or personal data), and a
 * reason of 1..200 characters through the notes filter. *text: the
 * document, compact with sorted keys (malloc'd). CC_ERR_INVALID with why. */
int config_rollout_request(const json_t *config, const char *reason, char **text, char why[CONFIG_ROLLOUT_WHY_MAX]);

/* The reason given with a configuration rollout: 1..200 characters
 * through the notes filter. CC_ERR_INVALID with why. */
int config_rollout_reason(const char *reason, char why[CONFIG_ROLLOUT_WHY_MAX]);

/* An effective rollout's document for m (fleet/config_templates.h: its
 * model's templates down the tree, its own desired version on top),
 * validated for its model: *config (a new reference) or CC_ERR_INVALID
 * with why naming the member (never a value). */
int config_rollout_effective(struct vault *v, const struct store_machine *m, json_t **config, char *why, size_t cap);

/* 1 when the document fits machines of model (fleet/config_doc.h); else 0
 * with why naming the member (never a value). */
int config_rollout_fits(const char *text, const char *model, char *why, size_t cap);

/* Settles the rollout's offered machines whose report names the version
 * the rollout set: applied -> succeeded, rejected -> failed (reason
 * "rejected"; the machine's own words stay sealed with its report), a
 * later version -> skipped (superseded by another change). Writes each
 * settled row and its history; in the caller's transaction. rows[i].state
 * is updated in place; *changed counts them. */
int config_rollout_settle(struct store *s, struct store_rollout_machine *rows, size_t n, int64_t now_ms,
                          size_t *changed);

/* Sets the desired configuration of every machine of running rollout id
 * that was offered and has no version yet; outside any transaction. */
int config_rollout_deliver(struct vault *v, int64_t id);

/* A halted or aborted rollout id whose take_back is set: every machine
 * it set a version on (offered, succeeded or failed) whose newest desired
 * version is still that one gets the version before it again, as its
 * next desired version by "rollout:ID" ("taken back: rollout ID halted"),
 * and its row turns rolled_back. A machine changed since, or with no
 * version before the rollout's, is left as it is. Outside any
 * transaction; again from where it stopped when called again. */
int config_rollout_take_back(struct vault *v, int64_t id);

#endif
