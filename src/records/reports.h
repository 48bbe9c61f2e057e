/*
 * reports.h - installation and service reports that distributors and
 * merchants submit for their machines (docs/PRODUCT.md §3, support and troubleshooting and
 * support): service-class data from people, kept like machine records.
 *
 * A report is structured, so that it has no room for people: what was done
 * is a list of codes from the work catalogue below, parts are part numbers
 * of a strict shape, the outcome is one of a few words, durations are
 * minutes. The only text is an optional short note (REPORT_NOTE_MAX
 * characters) that must pass the stricter text filter for notes
 * (privacy_scan_note: card numbers with any separators, obfuscated e-mail,
 * spaced phone digits, dates of birth, street addresses, titled names).
 * Every other string of the report passes the same note filter. Anything
 * else is refused, and so is personal or financial data anywhere
 * (docs/PRODUCT.md §2.1: a report names parts and work, not people or prices).
 *
 *   {"type": "service",                       installation|service|maintenance|repair
 *    "work": ["descaling", "gasket_replacement"],  1..REPORT_WORK_MAX codes, no repeats
 *    "parts": ["GSK-58", "DSC-1"],            0..REPORT_PARTS_MAX part numbers
 *    "outcome": "fixed",                      fixed|not_fixed|follow_up|no_fault_found|replaced
 *    "duration_min": 45,                      optional, 0..REPORT_DURATION_MAX
 *    "travel_min": 30,                        optional, 0..REPORT_DURATION_MAX
 *    "performed": 1795860000000,              optional epoch ms, 2020-01-01 .. now + 1 day
 *    "note": "Boiler scale heavy; ..."}       optional, 1..REPORT_NOTE_MAX characters
 *
 * Part numbers: 2..4 capital letters, '-', 1..6 digits, optionally '-' and
 * 1..4 capital letters or digits ("GSK-58", "BUR-6402-64", "VLV-12-B").
 *
 * It is stored as a record of kind RECORD_REPORT, sealed under the
 * customer's data key, numbered 1, 2, 3... per machine, with the author and
 * the time of submission added by the server. docs/METRICS.md documents the
 * catalogue and what the note filter catches and misses.
 */
#ifndef CC_RECORDS_REPORTS_H
#define CC_RECORDS_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingest/privacy.h"
#include "store/store.h"
#include "vault/vault.h"

#define REPORT_NOTE_MAX 280   /* characters (UTF-8 code points) */
#define REPORT_WORK_MAX 16
#define REPORT_PARTS_MAX 32
#define REPORT_DURATION_MAX 1440 /* minutes: one day */

/* Why a report was refused (for a clear answer that quotes nothing of it). */
enum report_refusal {
	REPORT_OK = 0,
	REPORT_SHAPE,   /* an unknown field, a missing or malformed one */
	REPORT_PRIVACY, /* personal or financial data */
};

/* One work code of the catalogue: code and what it means. */
struct report_work {
	const char *code, *what;
};

/* The work catalogue, index 0.. until NULL; the outcomes likewise. */
const struct report_work *reports_work_at(size_t i);
const char *reports_outcome_at(size_t i);

/* 1 if s is a part number of the documented shape. */
int reports_part_valid(const char *s);

/* Checks a submitted report: REPORT_OK or why not. On REPORT_PRIVACY,
 * *why (if not NULL) says which detector fired. now_ms bounds `performed`. */
enum report_refusal reports_check_at(const json_t *body, int64_t now_ms, enum privacy_reason *why);
enum report_refusal reports_check(const json_t *body);

/* Stores a checked report for machine m, by author (an audit actor such as
 * "user:anna"), and hands back its number. */
int reports_add(struct vault *v, const struct store_machine *m, const json_t *body, const char *author,
                int64_t *seq);

#endif
