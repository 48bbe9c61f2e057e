/*
 * ruleset.h - a model's quality standard as the manufacturer's engineers
 * write it: a JSON document (docs/QUALITY.md), parsed and validated here.
 *
 *   products   per product (or "*" for every product not named): ranges of
 *              the brew event's temp_c, brew_time_s and volume_ml;
 *   telemetry  sustained limits of a metric: a breach when every reading
 *              is beyond the limit for longer than for_s;
 *   cleaning   programs due every_h hours (plus grace_h), or every_l
 *              litres of water brewed (descaling).
 *
 * Pure: no store, no globals, safe from any thread. A refused document gets
 * one clear reason naming the member ("products.espresso.temp_c: min above
 * max"); it never echoes the document's values beyond the member's path.
 * The store keeps every version (quality/compliance.h).
 */
#ifndef CC_QUALITY_RULESET_H
#define CC_QUALITY_RULESET_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define QUALITY_DOC_MAX (64 * 1024)
#define QUALITY_PRODUCTS_MAX 32
#define QUALITY_LIMITS_MAX 16
#define QUALITY_NAME_TEXT_MAX 80
#define QUALITY_WHY_MAX 160

/* The brew event fields a product's ranges judge (docs/METRICS.md "brew"):
 * pressure_bar is the brew's mean extraction pressure. */
enum quality_field { QF_TEMP, QF_TIME, QF_VOLUME, QF_PRESSURE, QF_COUNT };

/* The cleaning programs of the cleaning event. */
enum quality_program { QP_RINSE, QP_MILK_SYSTEM, QP_BREW_UNIT, QP_DESCALE, QP_COUNT };

struct quality_range {
	int has_min, has_max;
	double min, max; /* inclusive */
};

struct quality_product {
	char name[CC_NAME_MAX + 1]; /* a brew product, or "*" */
	struct quality_range r[QF_COUNT];
};

struct quality_limit {
	char metric[CC_NAME_MAX + 1];
	struct quality_range r;
	int64_t for_s; /* a breach when beyond for longer than this */
};

struct quality_cleaning {
	int due;          /* 0: the document sets no schedule for the program */
	int64_t every_h;  /* 0: not by time */
	int64_t grace_h;
	double every_l;   /* 0: not by water */
};

struct quality_ruleset {
	char model[CC_NAME_MAX + 1];
	char name[QUALITY_NAME_TEXT_MAX + 1];
	size_t nproducts, nlimits;
	struct quality_product products[QUALITY_PRODUCTS_MAX];
	struct quality_limit limits[QUALITY_LIMITS_MAX];
	struct quality_cleaning cleaning[QP_COUNT];
};

/* Parses and validates len bytes of JSON into *out. CC_ERR_INVALID with
 * why (cap >= 1) saying what is wrong. */
int quality_ruleset_parse(const char *json, size_t len, struct quality_ruleset *out, char *why, size_t cap);

/* The product's ranges: its own, else "*", else NULL (not judged). */
const struct quality_product *quality_ruleset_product(const struct quality_ruleset *rs, const char *product,
                                                      size_t len);

/* A bit per field out of range (1 << QF_x); a field not given (has[f] 0)
 * is not judged. 0: in spec. */
unsigned quality_brew_judge(const struct quality_product *p, const double v[QF_COUNT], const int has[QF_COUNT]);

/* "temp_c", "brew_time_s", "volume_ml"; "rinse", "milk_system", ... */
const char *quality_field_name(enum quality_field f);
const char *quality_program_name(enum quality_program p);
/* The program of that name, -1 when none. */
int quality_program_find(const char *name, size_t len);

/* The shipped standard of a model (docs/QUALITY.md): the document's text,
 * the generic espresso standard for a model without its own. */
const char *quality_default_text(const char *model);

#endif
