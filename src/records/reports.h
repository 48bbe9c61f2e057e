/*
 * reports.h - installation and service reports that distributors and
 * merchants submit for their machines (DESIGN §5, troubleshooting and
 * support): service-class data from people, kept like machine records.
 *
 * A report is a small JSON document with a fixed set of fields; anything
 * else is refused, and so is personal or financial data anywhere in it (the
 * privacy filter of ingest, DESIGN §2.1: a report names parts and work, not
 * people or prices). It is stored as a record of kind RECORD_REPORT, sealed
 * under the customer's data key, numbered 1, 2, 3... per machine, with the
 * author and the time of submission added by the server.
 */
#ifndef CC_RECORDS_REPORTS_H
#define CC_RECORDS_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "vault/vault.h"

#define REPORT_SUMMARY_MAX 2000
#define REPORT_PARTS_MAX 32

/* Why a report was refused (for a clear answer that quotes nothing of it). */
enum report_refusal {
	REPORT_OK = 0,
	REPORT_SHAPE,   /* an unknown field, a missing or malformed one */
	REPORT_PRIVACY, /* personal or financial data */
};

/* Checks a submitted report: REPORT_OK or why not. */
enum report_refusal reports_check(const json_t *body);

/* Stores a checked report for machine m, by author (an audit actor such as
 * "user:anna"), and hands back its number. */
int reports_add(struct vault *v, const struct store_machine *m, const json_t *body, const char *author,
                int64_t *seq);

#endif
