/*
 * config_doc.h - a machine's remote configuration as a document, and the
 * per-model schema it is judged by (docs/CONFIGURATION-REMOTE.md).
 *
 *   {"recipes":  {"espresso": {"water_ml": 30, "grounds_g": 8.5, "brew_temp_c": 93,
 *                              "preinfusion_s": 2, "size_scaling_pct": 100}, ...},
 *    "settings": {"standby_min": 30, "boiler_temp_c": 95, "rinse_every_h": 8,
 *                 "panel_language": "en", ...}}
 *
 * The schema is compiled in beside the metric catalogue (ingest/catalogue.h),
 * whose brew products are the recipe names: every field has a type, an
 * inclusive range (or a value list), a unit and a data class; a model names
 * the products it makes and whether it has a milk system. A document need not
 * set everything: what it leaves out stays the machine's own.
 *
 * Refused: anything the privacy filter of ingest refuses (privacy_scan_json:
 * prices, currencies, payment keys, card numbers...), unknown members, a
 * product the model does not make, a value out of range. The reason names
 * the member's path and never echoes a value. Pure: no store, no globals,
 * safe from any thread.
 */
#ifndef CC_FLEET_CONFIG_DOC_H
#define CC_FLEET_CONFIG_DOC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/limits.h"

#define CONFIG_DOC_MAX 8192    /* bytes of a document's JSON */
#define CONFIG_RECIPES_MAX 24
#define CONFIG_WHY_MAX 160
#define CONFIG_REASON_MAX 80   /* bytes of a machine's refusal reason */
#define CONFIG_REPORT_MAX (CONFIG_DOC_MAX + 256)

enum config_recipe_field {
	CR_WATER, CR_GROUNDS, CR_BREW_TEMP, CR_PREINFUSION, CR_MILK_FOAM, CR_SIZE_SCALING, CR_COUNT
};

enum config_setting {
	CS_STANDBY, CS_BOILER_TEMP, CS_STEAM_TEMP, CS_RINSE_EVERY, CS_MILK_CLEAN_EVERY, CS_DESCALE_EVERY,
	CS_LANGUAGE, CS_COUNT
};

enum config_field_type { CONFIG_INT = 1, CONFIG_REAL, CONFIG_ENUM };

struct config_field {
	const char *name;
	enum config_field_type type;
	double min, max;            /* INT, REAL: inclusive */
	const char *const *values;  /* ENUM: NULL-terminated */
	const char *unit;
	unsigned data_class;        /* exactly one enum data_class bit (access/roles.h) */
	int milk;                   /* 1: only on models with a milk system */
	const char *what;
};

struct config_recipe {
	char product[CC_NAME_MAX + 1];
	unsigned has;               /* a bit per enum config_recipe_field */
	double v[CR_COUNT];
};

struct config_doc {
	size_t nrecipes;
	struct config_recipe recipes[CONFIG_RECIPES_MAX]; /* in product-list order */
	unsigned has;               /* a bit per enum config_setting */
	double settings[CS_COUNT];  /* ENUM: the value's index */
};

/* The schema's fields; NULL past the end. */
const struct config_field *config_recipe_field(enum config_recipe_field f);
const struct config_field *config_setting_field(enum config_setting s);

/* The products model makes (NULL-terminated; an unknown model: the
 * espresso set), and whether it has a milk system. */
const char *const *config_model_products(const char *model);
int config_model_has_milk(const char *model);

/* Judges a parsed document for model. CC_ERR_INVALID with why (cap >= 1)
 * naming the member ("recipes.espresso.water_ml: out of range 5..500",
 * "refused by the privacy filter: financial"); *privacy (may be NULL) the
 * enum privacy_reason when the privacy filter refused it, else 0. */
int config_doc_check(const char *model, const json_t *doc, struct config_doc *out, int *privacy, char *why,
                     size_t cap);

/* The same over len bytes of JSON (at most CONFIG_DOC_MAX). */
int config_doc_parse(const char *model, const char *json, size_t len, struct config_doc *out, int *privacy,
                     char *why, size_t cap);

/* The document in one canonical form (sorted members, compact, numbers as
 * their type says), what is stored, sent and compared. */
json_t *config_doc_json(const struct config_doc *d);
char *config_doc_text(const struct config_doc *d); /* malloc'd; NULL on failure */

/* 1 when reported holds every value desired sets, equal; else 0 with the
 * first differing member's path in where (cap >= 1). */
int config_doc_satisfies(const struct config_doc *reported, const struct config_doc *desired, char *where,
                         size_t cap);

/* What a machine publishes on cc/v1/{serial}/config/reported (retained):
 *   {"version": N, "state": "applied" | "rejected", "reason": "...",
 *    "config": {document}}
 * version: the desired version it last handled (0: none); reason: only
 * with rejected (<= CONFIG_REASON_MAX printable bytes); config: what the
 * machine runs now (required when applied). */
struct config_report {
	int64_t version;
	int rejected;
	char reason[CONFIG_REASON_MAX + 1];
	int has_config;
	struct config_doc config;
};

/* CC_ERR_INVALID with why and *privacy as config_doc_check. */
int config_report_parse(const char *model, const uint8_t *payload, size_t len, struct config_report *out,
                        int *privacy, char *why, size_t cap);

/* The schema for people and the OpenAPI document: {"products": [...],
 * "milk": bool, "recipe": {field: {type, min, max, unit, class}}, "settings": {...}}. */
json_t *config_schema_json(const char *model);

#endif
