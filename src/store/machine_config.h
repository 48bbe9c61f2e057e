/*
 * machine_config.h (store) - the rows behind remote configuration
 * (fleet/machine_config.h): every desired version of a machine's
 * configuration with who, when and why, and the one report the machine
 * last made of what it runs (retained: a new one replaces it). Clear
 * columns are what lookups need (ids, version, times, who, the report's
 * state); the documents and people's reasons are sealed blobs under the
 * customer's data key (SEAL_MACHINE_CONFIG). Reached as
 * s->ops->machine_config->x(s, ...); every op runs in the caller's
 * transaction.
 */
#ifndef CC_STORE_MACHINE_CONFIG_H
#define CC_STORE_MACHINE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct store;

#define STORE_CONFIG_WHO_MAX (CC_NAME_MAX + 8) /* "user:LOGIN", "token:NAME", "cli:USER" */
#define STORE_CONFIG_BLOB_MAX 8448             /* a sealed document (8 KiB of text at most) */
#define STORE_CONFIG_WHY_BLOB_MAX 640          /* a sealed reason (512 bytes of text at most) */

struct store_config_version {
	int64_t machine_id, version;   /* version: 1, 2, 3... per machine */
	int64_t at_ms;
	int64_t job_id;            /* the job of the config command that carries it; 0: none */
	char who[STORE_CONFIG_WHO_MAX + 1];
	uint8_t doc[STORE_CONFIG_BLOB_MAX];
	size_t doc_len;
	uint8_t why[STORE_CONFIG_WHY_BLOB_MAX];
	size_t why_len;
};

struct store_config_reported {
	int64_t machine_id;
	int64_t at_ms;
	int64_t version;               /* the desired version the machine last handled (0: none) */
	int rejected;
	uint8_t body[STORE_CONFIG_BLOB_MAX]; /* sealed: {"reason": ..., "config": {...}} */
	size_t body_len;
};

/* A template (what "template": a configuration document) or the limits
 * (what "limits") an organisation holds for a model; text, as given
 * canonical by fleet/config_templates.h. */
#define STORE_CONFIG_TEMPLATE_MAX 8192
struct store_config_template {
	int64_t org_id;
	char model[CC_NAME_MAX + 1];
	char what[12];
	int64_t at_ms;
	char who[STORE_CONFIG_WHO_MAX + 1];
	char doc[STORE_CONFIG_TEMPLATE_MAX + 1];
	char why[STORE_CONFIG_WHY_BLOB_MAX + 1];
};

struct store_machine_config_ops {
	/* Adds a desired version; CC_ERR_EXISTS when that version exists (a race: try again). */
	int (*desired_add)(struct store *s, const struct store_config_version *v);
	/* The newest desired version; CC_ERR_NOTFOUND when none was ever set. */
	int (*desired_latest)(struct store *s, int64_t machine_id, struct store_config_version *out);
	int (*desired_get)(struct store *s, int64_t machine_id, int64_t version, struct store_config_version *out);
	/* Newest first, versions below before (0: from the newest); each returns non-zero to stop. */
	int (*desired_list)(struct store *s, int64_t machine_id, int64_t before,
	                    int (*each)(void *ctx, const struct store_config_version *v), void *ctx);
	/* Desired versions set within [from_ms, to_ms), oldest first (the machine's timeline). */
	int (*desired_between)(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
	                       int (*each)(void *ctx, const struct store_config_version *v), void *ctx);
	/* Replaces the machine's report. */
	int (*reported_put)(struct store *s, const struct store_config_reported *r);
	/* CC_ERR_NOTFOUND when the machine never reported. */
	int (*reported_get)(struct store *s, int64_t machine_id, struct store_config_reported *out);
	/* Templates and limits: put replaces; get CC_ERR_NOTFOUND when none;
	 * list an organisation's (org_id 0: every one), by model and what. */
	int (*template_put)(struct store *s, const struct store_config_template *t);
	int (*template_get)(struct store *s, int64_t org_id, const char *model, const char *what,
	                    struct store_config_template *out);
	int (*template_list)(struct store *s, int64_t org_id,
	                     int (*each)(void *ctx, const struct store_config_template *t), void *ctx);
};

#endif
