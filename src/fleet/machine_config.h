/*
 * machine_config.h - remote configuration, the server's side
 * (docs/CONFIGURATION-REMOTE.md): per machine a desired configuration set
 * by people (every version kept with who, when and why) and the one the
 * machine reports it runs, and the difference between them:
 *
 *   unset     nothing was ever set from here
 *   pending   the newest desired version is not yet reported handled
 *   in_sync   the machine reports the newest version applied, and runs
 *             every value it sets
 *   rejected  the machine refused the newest version (its reason kept)
 *   drifted   applied, but a value differs since: changed at the panel
 *
 * Setting one validates the document for the machine's model
 * (fleet/config_doc.h), the reason through the notes filter of people's
 * words, seals both under the customer's key (SEAL_MACHINE_CONFIG) and
 * sends the machine the "config" command (fleet/jobs.h) carrying the
 * version and the document, or, when that would not fit the command's
 * 2,048 bytes, the machine route to fetch it from with its certificate.
 */
#ifndef CC_FLEET_MACHINE_CONFIG_H
#define CC_FLEET_MACHINE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fleet/config_doc.h"
#include "store/store.h"
#include "vault/vault.h"

#define MACHINE_CONFIG_WHY_MAX 200          /* characters of a person's reason */
#define MACHINE_CONFIG_FETCH "/api/v1/machine/config"
#define MACHINE_CONFIG_TIMEOUT_S (7 * 86400) /* how long the command waits for an offline machine */

/* Why a desired configuration was refused: which part ("config" or
 * "reason"), the privacy reason when the filter refused it, and a
 * message naming the member (never its value). */
struct machine_config_refusal {
	const char *field;
	int privacy;
	char why[CONFIG_WHY_MAX];
};

/* Validates, stores the machine's next version and queues its command.
 * CC_ERR_INVALID (ref filled), CC_ERR_STATE (the machine is not in
 * service), else a store error. */
int machine_config_set(struct vault *v, const struct store_machine *m, const json_t *config, const char *reason,
                       const char *who, struct machine_config_refusal *ref, int64_t *version);

/* A machine's report (cc/v1/{serial}/config/reported): judged for its
 * model, sealed, replacing the last one. CC_ERR_INVALID with why and
 * *privacy (enum privacy_reason, 0: not the filter). */
int machine_config_report(struct vault *v, const struct store_machine *m, const uint8_t *payload, size_t len,
                          int *privacy, char *why, size_t cap);

/* The status of the newest desired version against the report, pure:
 * "unset", "pending", "in_sync", "rejected", "drifted" (where: the first
 * member that differs). */
const char *machine_config_status(int64_t desired_version, const struct config_doc *desired,
                                  const struct config_report *reported, char *where, size_t cap);

/* {serial, model, status, version, reason?, drift?, desired?: {version, at,
 * by, why, config}, reported?: {version, at, state, reason?, config?}}.
 * NULL on failure. */
json_t *machine_config_json(struct vault *v, const struct store_machine *m);

/* The desired versions, newest first, below before (0: all), at most limit. */
json_t *machine_config_history_json(struct vault *v, const struct store_machine *m, int64_t before, size_t limit);

/* For the machine itself (the fetch route): {"version", "config"} of the
 * newest desired version; CC_ERR_NOTFOUND when none. */
int machine_config_desired_doc(struct vault *v, const struct store_machine *m, json_t **out);

/* The timeline's lines within [from_ms, to_ms): each desired version set
 * (what "set", who the person) and the machine's last report (what
 * "applied" or "rejected", who "machine"). */
int machine_config_timeline(struct vault *v, const struct store_machine *m, int64_t from_ms, int64_t to_ms,
                            int (*each)(void *ctx, int64_t at_ms, const char *what, int64_t version, const char *who),
                            void *ctx);

#endif
