/*
 * rollouts.h (store) - the rows behind staged rollouts (fleet/rollouts.h,
 * docs/UPDATES.md "Staged rollouts"): the rollouts, each machine's place
 * and progress in one, and the history of what the machines reported.
 * The manufacturer's own operations over its fleet: clear text. A machine
 * is in one active rollout at a time (a unique index, not a check in code).
 * Reached as s->ops->rollouts->x(s, ...); every op runs in the caller's
 * transaction.
 */
#ifndef CC_STORE_ROLLOUTS_H
#define CC_STORE_ROLLOUTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

struct store;

#define STORE_ROLLOUT_TARGET_MAX 16384 /* the target as given, JSON */
#define STORE_ROLLOUT_PHASES_MAX 40   /* "1,10,50,100" */
#define STORE_ROLLOUT_REASON_MAX 160
#define STORE_ROLLOUT_WHO_MAX (CC_NAME_MAX + 8)
#define STORE_ROLLOUT_CONFIG_MAX 8192 /* a configuration document, canonical (fleet/config_doc.h) */
#define STORE_ROLLOUT_WHY_MAX 800     /* the reason given for it: 200 characters of UTF-8 */

struct store_rollout {
	int64_t id;
	char kind[8];                       /* "update": an artifact; "config": a configuration document */
	char sha256[65];                    /* update: the artifact's; "" for config */
	char config[STORE_ROLLOUT_CONFIG_MAX + 1]; /* config: the document; "" for update */
	char why[STORE_ROLLOUT_WHY_MAX + 1];       /* config: the reason given; "" for update */
	char target[STORE_ROLLOUT_TARGET_MAX + 1];
	char phases[STORE_ROLLOUT_PHASES_MAX + 1];
	int64_t soak_ms;
	int64_t threshold_pct, min_reports;
	int64_t health_margin;              /* update/rollout.h rollout_plan */
	int64_t compliance_margin;          /* update/rollout.h rollout_plan */
	int64_t effective;                  /* config: 1 each machine gets its own effective document; config "" */
	int64_t take_back;                  /* config: 1 a halt or abort sets the previous desired versions again */
	char window[CC_SITE_HOURS_MAX + 1]; /* hours (fleet/hours.h) in each site's zone; "": any time */
	char state[16];                     /* update/rollout.h names */
	int64_t phase;                      /* 0-based */
	int64_t phase_done_ms;              /* 0: the phase runs */
	int64_t skipped;                    /* targets left out: in another active rollout */
	char halt_reason[STORE_ROLLOUT_REASON_MAX + 1];
	int64_t created_ms;
	char created_by[STORE_ROLLOUT_WHO_MAX + 1];
	int64_t updated_ms;
	char updated_by[STORE_ROLLOUT_WHO_MAX + 1]; /* who paused, resumed, aborted; "auto" */
	int64_t ended_ms;                   /* aborted or completed; 0: not yet */
};

struct store_rollout_machine {
	int64_t rollout_id, machine_id;
	char serial[CC_SERIAL_MAX + 1];   /* of the machine (joined) */
	int64_t site_id;                  /* of the machine (joined); 0 none */
	int64_t phase;                    /* -1: not offered yet */
	char state[16];                   /* update/rollout.h names */
	int64_t percent;                  /* downloading: 0-100 */
	char reason[STORE_ROLLOUT_REASON_MAX + 1];
	int64_t offered_ms, updated_ms;
	int64_t config_version;           /* config: the machine's desired version the rollout set; 0 not yet */
};

/* One report a machine made (the history behind its timeline), in a
 * rollout or on an offer made to it alone (rollout_id 0). */
struct store_rollout_report {
	int64_t rollout_id, machine_id, at_ms;
	char sha256[65];
	char state[16];
	int64_t percent;
	char reason[STORE_ROLLOUT_REASON_MAX + 1];
};

struct store_rollout_ops {
	int (*add)(struct store *s, const struct store_rollout *r, int64_t *id);
	int (*get)(struct store *s, int64_t id, struct store_rollout *out);
	/* Newest first; state NULL: all. */
	int (*list)(struct store *s, const char *state, int (*each)(void *ctx, const struct store_rollout *r),
	            void *ctx);
	/* Writes state, phase, phase_done_ms, halt_reason, updated_ms/by, ended_ms, skipped. */
	int (*update)(struct store *s, const struct store_rollout *r);

	/* The machine joins the rollout, pending. CC_ERR_EXISTS when it is in
	 * another active rollout. */
	int (*machine_add)(struct store *s, int64_t rollout_id, int64_t machine_id, int64_t at_ms);
	/* By serial. */
	int (*machines)(struct store *s, int64_t rollout_id,
	                int (*each)(void *ctx, const struct store_rollout_machine *m), void *ctx);
	/* Writes phase, state, percent, reason, offered_ms, updated_ms, config_version. */
	int (*machine_set)(struct store *s, const struct store_rollout_machine *m);
	/* The machines leave it (the rollout ended): free for another. */
	int (*release)(struct store *s, int64_t rollout_id);
	/* The machine's active rollout and its row there; CC_ERR_NOTFOUND when none. */
	int (*active_of)(struct store *s, int64_t machine_id, struct store_rollout_machine *out);

	int (*report_add)(struct store *s, const struct store_rollout_report *r);
	/* The machine's reports in [from_ms, to_ms), oldest first. */
	int (*reports)(struct store *s, int64_t machine_id, int64_t from_ms, int64_t to_ms,
	               int (*each)(void *ctx, const struct store_rollout_report *r), void *ctx);
};

#endif
