/*
 * haccp.h - the signed cleaning report of one site over a period, for food
 * safety (HACCP) inspectors (docs/QUALITY.md "HACCP cleaning reports").
 *
 * Every cleaning event of the site's machines (whatever its result), every
 * span a program was overdue by the rule set's cleaning schedule (missed),
 * and per machine and program what was due and done. The report is a CSV
 * text whose every row is signed on its own and whose whole text is signed
 * again, both by the installation's Ed25519 key (vault/signing.h), so that
 * `openssl pkeyutl -verify` and the published public key are all an
 * inspector needs: a row removed, added or edited breaks the report's
 * signature; an edited row breaks its own.
 *
 * The text is a function of the site, the period, the key and the records
 * only (no "generated at"): downloading it twice gives the same bytes, so a
 * signature fetched separately (format=sig) matches.
 */
#ifndef CC_QUALITY_HACCP_H
#define CC_QUALITY_HACCP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"
#include "vault/signing.h"
#include "vault/vault.h"

#define HACCP_FORMAT "coffeecloud-haccp-cleaning-report/1"

struct haccp_query {
	const char *customer, *site; /* names (inventory_name_valid) */
	const char *timezone;        /* the site's tz database zone; "" or NULL: UTC */
	int64_t from_ms, to_ms, now_ms;
	const struct store_machine *machines; /* the site's machines, by serial */
	size_t nmachines;
};

/*
 * The report as JSON: format, customer, site, timezone, from, to (epoch
 * ms), from_utc, to_utc, key_id, machines (serials), records (cleanings),
 * missed, schedule (each item with `signed`, the exact bytes its
 * `signature` covers), csv (the report's text) and signature (of csv,
 * base64). Machines' cleanings are read with their customer's key.
 */
int haccp_report(struct vault *v, const struct signing_key *k, const struct haccp_query *q, json_t **out);

/* The report of one of a customer's sites: its machines in service now,
 * signed with the installation's key (vault/signing.h). */
int haccp_site_report(struct vault *v, const struct store_org *customer, const struct store_site *site,
                      int64_t from_ms, int64_t to_ms, int64_t now_ms, json_t **out);

/* The printable page of a report (malloc'd HTML, NUL-terminated). Its one
 * inline style is haccp_page_style(), for the page's CSP hash. */
char *haccp_report_html(const json_t *report);
const char *haccp_page_style(void);

#endif
