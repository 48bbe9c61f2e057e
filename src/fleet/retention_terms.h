/*
 * retention_terms.h - how long each kind of record is kept: the
 * installation's figures (configuration, stated by the privacy policy) and
 * shorter terms agreed with one customer (docs/OPERATIONS.md "Retention").
 *
 * A customer's term can only shorten what the policy states: the effective
 * days are the shorter of the two, where 0 means "until the customer is
 * erased". The sweep (daemon/retention.h) deletes by the effective days.
 */
#ifndef CC_FLEET_RETENTION_TERMS_H
#define CC_FLEET_RETENTION_TERMS_H

#include <stdint.h>

#include <jansson.h>

#include "vault/vault.h"

/* RETAIN_TICKETS: service tickets, counted from when they were closed (an
 * open ticket is kept whatever its age). */
enum retention_kind { RETAIN_TELEMETRY, RETAIN_EVENTS, RETAIN_REPORTS, RETAIN_ROLLUPS, RETAIN_TICKETS, RETAIN_KINDS };

#define RETENTION_DAYS_MAX 36500

/* "telemetry", "events", "reports", "rollups", "tickets". */
const char *retention_kind_name(enum retention_kind k);
/* CC_OK and *out, or CC_ERR_INVALID for another name. */
int retention_kind_parse(const char *name, enum retention_kind *out);

/* The shorter of the installation's days and a customer's (0: none agreed). */
int64_t retention_effective(int64_t installation_days, int64_t agreed_days);

/* Agrees days (1..RETENTION_DAYS_MAX; 0 removes the term) of one kind with a
 * customer. CC_ERR_NOTFOUND: no such customer; CC_ERR_INVALID: bad kind or days. */
int retention_terms_set(struct vault *v, const char *customer, enum retention_kind k, int64_t days,
                        const char *set_by);

/* Each customer's agreed days, looked up by the sweep: org ids with a term,
 * days[kind] 0 where none is agreed. *out malloc'd (caller frees). */
struct retention_agreement {
	int64_t org_id;
	int64_t days[RETAIN_KINDS];
};
int retention_terms_load(struct vault *v, struct retention_agreement **out, size_t *n);

/* The installation's days as the running daemon last stated them in the
 * privacy policy's facts (access/policy.h), for tools without its
 * configuration (the CLI); 0 for a kind the facts do not name. */
int retention_installation_days(struct vault *v, int64_t days[RETAIN_KINDS]);

/* The document GET /api/v1/retention and `retention show` print:
 * {"installation": {kind: days}, "customers": [{"customer", "agreed": {kind: days}, "effective": {kind: days}}]}
 * for the customers with a term, and always for customer_id (0: none). Only
 * customers for which in_scope(ctx, org_id) answers 1 appear. */
int retention_terms_json(struct vault *v, const int64_t installation[RETAIN_KINDS], int64_t customer_id,
                         int (*in_scope)(void *ctx, int64_t org_id), void *ctx, json_t **out);

#endif
