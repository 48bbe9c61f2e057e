/*
 * config_templates.h - configuration templates inherited down the
 * organisation tree, and the limits the manufacturer sets on what a
 * customer's own people may change (docs/CONFIGURATION-REMOTE.md
 * "Templates" and "Customer limits").
 *
 * A template is a configuration document an organisation (manufacturer,
 * distributor, customer) holds for one model. A machine's effective
 * configuration is its model's templates from the root of the tree down to
 * its customer, each value overriding the one above, and the machine's own
 * desired version on top; every value says where it comes from
 * ("manufacturer:acme", "customer:cafe-a", "machine:3").
 *
 * Limits belong to a customer and a model: which products its people may
 * configure, and per field a range within the model's. A change made by
 * a person of a customer (a machine's desired configuration, the customer's
 * template) must keep within them, else it is refused naming the member
 * and the range allowed. Only the manufacturer sets limits.
 *
 * Templates and limits are stored as clear text (recipe values and a
 * notes-filtered reason); each function runs its own reads and writes.
 */
#ifndef CC_FLEET_CONFIG_TEMPLATES_H
#define CC_FLEET_CONFIG_TEMPLATES_H

#include <stddef.h>

#include <jansson.h>

#include "fleet/machine_config.h"
#include "store/store.h"
#include "vault/vault.h"

#define CONFIG_TEMPLATES_WHY_MAX 200

/* Sets org's template for model: judged as a machine's document of that
 * model (fleet/config_doc.h: privacy filter first), the reason through
 * the notes filter. CC_ERR_INVALID with ref filled. */
int config_template_set(struct vault *v, const struct store_org *org, const char *model, const json_t *config,
                        const char *reason, const char *who, struct machine_config_refusal *ref);

/* Sets customer's limits for model:
 *   {"products": ["espresso", ...],                  (optional) those it may configure
 *    "recipe":   {"water_ml": {"min": 20, "max": 40}, ...},   (optional) numeric fields
 *    "settings": {"standby_min": {"min": 0, "max": 60},     (optional) numeric settings,
 *                 "panel_language": {"values": ["en", "de"]}, ...}  and enumerated ones
 * each range within the model's, min <= max; values some of the field's,
 * each once; products the model makes.
 * CC_ERR_INVALID with why. */
int config_limits_set(struct vault *v, const struct store_org *customer, const char *model, const json_t *limits,
                      const char *who, char *why, size_t cap);

/* CC_OK when config keeps within customer's limits for model (or none
 * were set); CC_ERR_PERM with why ("recipes.espresso.water_ml: the
 * manufacturer allows 20..40 ml") otherwise. config was judged already. */
int config_limits_check(struct vault *v, int64_t customer_id, const char *model, const json_t *config, char *why,
                        size_t cap);

/* {serial, model, config: the effective document, sources: {"recipes.espresso.water_ml":
 * "customer:cafe-a", ...}, layers: [{source, at, by, why?}]}; NULL on failure. */
json_t *config_effective_json(struct vault *v, const struct store_machine *m);

/* {org, templates: [{model, at, by, why, config}], limits: [{model, at, by, limits}]}; NULL on failure. */
json_t *config_templates_json(struct vault *v, const struct store_org *org);

#endif
