/*
 * jobs.h - one command for many machines, and what became of it on each.
 *
 * A job is a command (commands.h: the allow-list, the sealed body) sent to
 * its targets, chosen at creation: one serial, a list of serials, a fleet
 * filter, or a group (by its id), always within what the creator may see.
 * Each target is a commands row with its own life, every step timestamped:
 *
 *   queued -> sent (the machine's PUBACK) -> acknowledged (it said
 *   "accepted") -> succeeded | failed (its reason), or at any open step
 *   timed out (the daemon, at the deadline) | cancelled (a person).
 *
 * Machines report on cc/v1/{serial}/cmd/{id}/result (docs/METRICS.md
 * "Commands and jobs"): jobs_result_parse judges such a report.
 */
#ifndef CC_FLEET_JOBS_H
#define CC_FLEET_JOBS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingest/privacy.h"
#include "store/store.h"
#include "vault/vault.h"

#define JOBS_TIMEOUT_DEFAULT_S 3600
#define JOBS_TIMEOUT_MAX_S (7 * 86400)
#define JOBS_TARGETS_MAX 10000
#define JOBS_REASON_MAX 80  /* bytes of a machine's reason or result text */
#define JOBS_RESULT_MAX 256 /* bytes of a whole result message */

enum job_target_kind { JOB_TARGET_SERIALS = 1, JOB_TARGET_FILTER, JOB_TARGET_GROUP };

/* May the creator see (command, cancel) this machine? */
typedef int (*jobs_visible_fn)(void *ctx, const struct store_machine *m);

struct job_request {
	const char *name;       /* the command (commands_name_allowed) */
	const char *body;       /* a JSON object's text; NULL: {} */
	const char *created_by; /* the audit log's actor */
	int64_t timeout_s;      /* 1..JOBS_TIMEOUT_MAX_S; 0: JOBS_TIMEOUT_DEFAULT_S */
	enum job_target_kind kind;
	const char *const *serials; /* JOB_TARGET_SERIALS */
	size_t nserials;
	struct store_machine_filter filter; /* JOB_TARGET_FILTER (after_serial unused) */
	const char *model;                  /* JOB_TARGET_FILTER: NULL, any */
	const char *group;                  /* JOB_TARGET_GROUP: a group's id, as text */
	char group_id[24];                  /* room for it, when it came as a number */
	jobs_visible_fn visible;            /* NULL: every machine */
	void *visible_ctx;
};

/* each(ctx, m) for the machines of the group whose id is the text group
 * (fleet/manage.h: listed or dynamic); the caller's scope is applied after. */
int jobs_group_members(struct vault *v, const char *group,
                       int (*each)(void *ctx, const struct store_machine *m), void *ctx);

/* Creates the job and queues its commands, in one transaction. Errors:
 * CC_ERR_INVALID (name, body, timeout), CC_ERR_NOTFOUND (a serial not
 * there or not visible: copied into bad; or no machine selected: bad ""),
 * CC_ERR_STATE (a named machine revoked: bad; groups), CC_ERR_LIMIT. */
int jobs_create(struct vault *v, const struct job_request *req, int64_t *id, char bad[CC_SERIAL_MAX + 1]);

/* Cancels the job's open targets the caller sees; *cancelled: how many.
 * CC_ERR_NOTFOUND when it has no target the caller sees. */
int jobs_cancel(struct vault *v, int64_t id, const char *by, jobs_visible_fn visible, void *ctx,
                int64_t *cancelled);

/* The state of one target: queued, sent, acknowledged, succeeded, failed, timed out, cancelled. */
const char *jobs_target_state(const struct store_command *c);

/* The job as JSON (counts per state; with_targets: each target's states
 * and times, ISO 8601 UTC) over the targets the caller sees; NULL with
 * *rc CC_ERR_NOTFOUND when it sees none. */
json_t *jobs_json(struct vault *v, const struct store_job *j, int with_targets, jobs_visible_fn visible, void *ctx,
                  int *rc);

/* A machine's report (the payload of cc/v1/{serial}/cmd/{id}/result): a
 * JSON object {"state": "accepted"|"succeeded"|"failed", "reason": "..."}
 * and nothing else, at most JOBS_RESULT_MAX bytes, reason at most
 * JOBS_REASON_MAX bytes of printable text, passing the privacy filter.
 * CC_OK, or CC_ERR_INVALID with *why (a fixed phrase, never the input) and
 * *privacy (else PRIVACY_NONE) when the privacy filter refused it. */
int jobs_result_parse(const uint8_t *p, size_t len, enum store_command_report *report,
                      char text[JOBS_REASON_MAX + 1], const char **why, enum privacy_reason *privacy);

/* The id in a result topic cc/v1/{serial}/cmd/{id}/result (the ACL has
 * checked its shape): > 0, or 0. */
int64_t jobs_result_topic_id(const uint8_t *topic, size_t len);

#endif
